/*
 * data_symbol.c - the JS function bound to a data symbol (`environ`,
 * `stdout`), which the loader told us is not code (src/platform/symbol_kind.c).
 *
 * Why a function at all: Bun binds every declared symbol as a function and
 * programs read a data symbol through its `.ptr` (read.ptr(symbols.environ.ptr)),
 * so the symbol stays, with `.ptr`, `.native` and `.length` as any bound
 * function has; only calling it, which would jump into non-executable
 * memory, throws a TypeError instead. It is not a bound function for
 * batch(), .map or .async (they refuse it as not bound by dlopen), so no
 * call path, hot or not, needs a check of its own.
 */
#include <stdlib.h>

#include "../cffi.h"

/* Marks the functions published here, so the node-ffi engine
 * (lib/node-ffi-engine.js), which takes any function of a definition it can
 * call, leaves them alone: bound in node:ffi, a data symbol would be called. */
static const napi_type_tag DATA_SYMBOL_TAG = {0x6366666962756e44ULL, 0x61746153796d626fULL};

static napi_value call_data_symbol(napi_env env, napi_callback_info info) {
  const char *message;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&message);
  cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "%s", message);
  return NULL;
}

static void free_message(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

napi_value cffi_data_symbol_publish(napi_env env, cffi_function *fn) {
  napi_value function = NULL, ptr_value, length;
  const char *holder = fn->owner->path ? fn->owner->path : fn->owner->kind;
  const char *format = "Cannot call \"%s\": it is a data symbol (an object in \"%s\"), not a function; "
                       "read it through its .ptr (e.g. read.ptr(symbols.%s.ptr))";
  size_t size = strlen(format) + 2 * strlen(fn->name) + strlen(holder) + 1;
  char *message = malloc(size);
  if (!message) {
    cffi_throw(env, "RangeError", "out of memory binding \"%s\"", fn->name);
    goto done;
  }
  snprintf(message, size, format, fn->name, holder, fn->name);
  if (napi_create_function(env, fn->name, NAPI_AUTO_LENGTH, call_data_symbol, message, &function) != napi_ok ||
      napi_add_finalizer(cffi_finalizer_env(env), function, message, free_message, NULL, NULL) != napi_ok) {
    free(message);
    function = NULL;
    goto done;
  }
  ptr_value = cffi_address_to_js(env, (uintptr_t)fn->address);
  napi_create_uint32(env, fn->sig.nargs, &length);
  napi_property_descriptor props[] = {
      {"ptr", NULL, NULL, NULL, NULL, ptr_value, napi_enumerable, NULL},
      {"native", NULL, NULL, NULL, NULL, function, napi_default, NULL},
      {"length", NULL, NULL, NULL, NULL, length, napi_configurable, NULL},
  };
  napi_define_properties(env, function, 3, props);
  napi_type_tag_object(env, function, &DATA_SYMBOL_TAG);
  CFFI_DEBUG("bound %s at %p as a data symbol: calling it throws", fn->name, fn->address);
done:
  cffi_function_discard(fn);
  return function;
}

/* isDataSymbol(fn): true for a function published here. */
static napi_value is_data_symbol(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = NULL, result;
  bool tagged = false;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1 && napi_typeof(env, arg, &t) == napi_ok && t == napi_function)
    napi_check_object_type_tag(env, arg, &DATA_SYMBOL_TAG, &tagged);
  napi_get_boolean(env, tagged, &result);
  return result;
}

void cffi_make_data_symbol_exports(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "isDataSymbol", is_data_symbol, NULL);
}
