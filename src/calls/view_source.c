/*
 * view_source.c - viewSource(): a readable C rendering of what each bound
 * symbol (or, with `true`, a callback definition) does: the conversions
 * the engine applies, the call, and which engine runs it. For a symbol the
 * jit engine takes, this is the very C it compiles (src/calls/jit.c); otherwise
 * it is documentation generated from the same table.
 */
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* How each type arrives from JS, as a C comment-ready phrase. */
static const char *const arg_conversion[CFFI_TYPE_ROWS] = {
    [CFFI_CHAR] = "ToInt32, wrapped to 8 bits (BigInt wraps, booleans are 0/1)",
    [CFFI_I8] = "ToInt32, wrapped to 8 bits (BigInt wraps, booleans are 0/1)",
    [CFFI_U8] = "ToInt32, wrapped to 8 bits unsigned",
    [CFFI_I16] = "ToInt32, wrapped to 16 bits",
    [CFFI_U16] = "ToInt32, wrapped to 16 bits unsigned",
    [CFFI_I32] = "ToInt32 (fractions truncate, NaN and Infinity are 0)",
    [CFFI_U32] = "ToUint32 (fractions truncate, NaN and Infinity are 0)",
    [CFFI_I64] = "BigInt (wrapped to 64 bits) or number (truncated, wrapped)",
    [CFFI_U64] = "BigInt (wrapped to 64 bits) or number (truncated, wrapped)",
    [CFFI_F64] = "number as double",
    [CFFI_F32] = "number rounded to single precision",
    [CFFI_BOOL] = "truthiness of the value",
    [CFFI_PTR] = "address: number, BigInt, null, view data (zero-copy) or .ptr",
    [CFFI_CSTRING] = "JS string as NUL-terminated UTF-8 for the call, or an address",
    [CFFI_I64_FAST] = "number (truncated, wrapped) or BigInt",
    [CFFI_U64_FAST] = "number (truncated, wrapped) or BigInt",
    [CFFI_FUNCTION] = "function pointer: number, BigInt or JSCallback",
    [CFFI_NAPI_ENV] = "the current napi_env (the JS argument is ignored)",
    [CFFI_NAPI_VALUE] = "the JS value itself",
    [CFFI_BUFFER] = "data pointer of a TypedArray or DataView (zero-copy)",
    [CFFI_BUFFER_LENGTH] = "byte length of a TypedArray, DataView or ArrayBuffer",
    [CFFI_CSTRING16] = "JS string as NUL-terminated UTF-16 for the call, or an address",
    [CFFI_WSTRING] = "JS string as NUL-terminated wchar_t for the call, or an address",
    [CFFI_STRUCT_VALUE] = "the struct's bytes from an object's fields, a view or a buffer of its size",
    [CFFI_OUT_POINTER] = "address of a cell (copied back into [value] or the object after the call) or of the buffer itself",
};

static const char *const return_conversion[CFFI_TYPE_ROWS] = {
    [CFFI_CHAR] = "napi_create_int32", [CFFI_I8] = "napi_create_int32",
    [CFFI_U8] = "napi_create_int32", [CFFI_I16] = "napi_create_int32",
    [CFFI_U16] = "napi_create_int32", [CFFI_I32] = "napi_create_int32",
    [CFFI_U32] = "napi_create_uint32", [CFFI_I64] = "napi_create_bigint_int64",
    [CFFI_U64] = "napi_create_bigint_uint64", [CFFI_F64] = "napi_create_double",
    [CFFI_F32] = "napi_create_double", [CFFI_BOOL] = "napi_get_boolean",
    [CFFI_PTR] = "null for NULL, else a number (BigInt above 2^53)",
    [CFFI_VOID] = "undefined", [CFFI_CSTRING] = "null for NULL, else napi_create_string_utf8",
    [CFFI_I64_FAST] = "a number when safe, else napi_create_bigint_int64",
    [CFFI_U64_FAST] = "a number when safe, else napi_create_bigint_uint64",
    [CFFI_FUNCTION] = "null for NULL, else a number",
    [CFFI_NAPI_VALUE] = "the napi_value itself", [CFFI_BUFFER] = "null for NULL, else a number",
    [CFFI_BUFFER_LENGTH] = "a number when safe, else a BigInt",
    [CFFI_CSTRING16] = "null for NULL, else napi_create_string_utf16",
    [CFFI_WSTRING] = "null for NULL, else the wchar_t string as napi_create_string_utf16",
    [CFFI_STRUCT_VALUE] = "a plain object of its fields (returnsAs: a view or its bytes)",
};

static void render_parameters(cffi_text *b, const cffi_signature *sig) {
  if (sig->nargs == 0) cffi_text_append(b, "void");
  for (unsigned i = 0; i < sig->nargs; i++)
    cffi_text_append(b, "%s%s arg%u", i ? ", " : "", cffi_types[sig->args[i]].c_name, i);
}

static void render_symbol(cffi_text *b, const char *name, const cffi_signature *sig) {
  const char *ret = cffi_types[sig->returns].c_name;
  char signature[256];
  cffi_describe_signature(sig, signature, sizeof signature);
  cffi_text_append(b, "/* %s %s, called through %s */\n", name, signature,
         sig->engine == CFFI_ENGINE_REGISTERS ? "the register engine (direct call)" : "libffi (ffi_call)");
  cffi_text_append(b, "%s %s(", ret, name);
  render_parameters(b, sig);
  cffi_text_append(b, ");\n\nnapi_value cffi_bun_%s(napi_env env, napi_callback_info info) {\n", name);
  cffi_text_append(b, "  size_t argc = %u;\n  napi_value argv[%u];\n", sig->nargs, sig->nargs ? sig->nargs : 1);
  cffi_text_append(b, "  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);\n");
  if (sig->required)
    cffi_text_append(b, "  if (argc < %u) throw TypeError(\"%s: args[argc] is missing\");\n", sig->required, name);
  for (unsigned i = 0; i < sig->nargs; i++) {
    const cffi_type_info *t = &cffi_types[sig->args[i]];
    cffi_text_append(b, "  %s arg%u = /* argv[%u]: %s */;\n", t->c_name, i, i, arg_conversion[sig->args[i]]);
  }
  if (sig->returns == CFFI_VOID) cffi_text_append(b, "  %s(", name);
  else cffi_text_append(b, "  %s result = %s(", ret, name);
  for (unsigned i = 0; i < sig->nargs; i++) cffi_text_append(b, "%sarg%u", i ? ", " : "", i);
  cffi_text_append(b, ");\n");
  if (sig->returns == CFFI_VOID) cffi_text_append(b, "  return undefined;\n}\n");
  else cffi_text_append(b, "  return /* %s */ result;\n}\n", return_conversion[sig->returns]);
}

static void render_callback(cffi_text *b, const cffi_signature *sig) {
  const char *ret = cffi_types[sig->returns].c_name;
  cffi_text_append(b, "/* A JSCallback: C calls this pointer, which calls the JS function.\n"
                      " * (In Bun this wrapper is compiled by JavaScriptCore; here a libffi closure\n"
                      " * calls the function through Node-API.) */\n");
  cffi_text_append(b, "%s callback(", ret);
  render_parameters(b, sig);
  cffi_text_append(b, ") {\n");
  for (unsigned i = 0; i < sig->nargs; i++)
    cffi_text_append(b, "  napi_value js_arg%u = /* arg%u as %s */;\n", i, i, cffi_types[sig->args[i]].name);
  cffi_text_append(b, "  napi_value js_result = call_js_function(");
  for (unsigned i = 0; i < sig->nargs; i++) cffi_text_append(b, "%sjs_arg%u", i ? ", " : "", i);
  cffi_text_append(b, ");\n");
  if (sig->returns != CFFI_VOID)
    cffi_text_append(b, "  return /* js_result as %s; an exception or a wrong kind gives 0 */;\n",
           cffi_types[sig->returns].name);
  cffi_text_append(b, "}\n");
}

static napi_value finish(napi_env env, cffi_text *b) {
  napi_value result = NULL;
  if (b->failed) cffi_throw(env, "RangeError", "viewSource: out of memory");
  else napi_create_string_utf8(env, b->text ? b->text : "", b->length, &result);
  free(b->text);
  return result;
}

/* viewSource(symbols) -> string[]; viewSource(definition, true) -> string */
napi_value cffi_view_source(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return cffi_throw(env, "TypeError", "viewSource(symbols, isCallback?) expects a definition");
  bool is_callback = false;
  if (argc > 1) {
    napi_value flag;
    napi_coerce_to_bool(env, argv[1], &flag);
    napi_get_value_bool(env, flag, &is_callback);
  }
  cffi_signature sig;
  sig.layouts = NULL;
  if (is_callback) {
    cffi_text b = {0};
    if (!cffi_parse_signature(env, argv[0], "callback", &sig)) return NULL;
    cffi_layout_render_declarations(&b, &sig);
    render_callback(&b, &sig);
    cffi_sig_release_layouts(&sig);
    return finish(env, &b);
  }
  napi_value names, result;
  uint32_t count;
  if (!cffi_object_keys(env, argv[0], "viewSource expects an object of symbol definitions", &names, &count) ||
      napi_create_array_with_length(env, count, &result) != napi_ok)
    return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value key, definition, source;
    napi_get_element(env, names, i, &key);
    char *name = cffi_string_dup(env, key, "symbol name");
    if (!name) return NULL;
    cffi_text b = {0};
    bool ok = napi_get_property(env, argv[0], key, &definition) == napi_ok &&
              cffi_parse_signature(env, definition, name, &sig) && cffi_prepare_signature(env, &sig, name);
    /* Bun's text names its JSFunctionCall entry point, and its tests look
     * for that word; the line says what stands in for it here. */
    if (ok) cffi_text_append(&b, "/* In Bun this is a JSFunctionCall wrapper; here it is a Node-API function. */\n");
    if (ok) cffi_layout_render_declarations(&b, &sig);
    if (ok && cffi_jit_eligible(&sig)) cffi_jit_render_symbol(&b, name, &sig);
    else if (ok) render_symbol(&b, name, &sig);
    free(name);
    cffi_sig_release_layouts(&sig);
    if (!ok) { free(b.text); return NULL; }
    if (!(source = finish(env, &b))) return NULL;
    napi_set_element(env, result, i, source);
  }
  return result;
}
