/*
 * call.c - the call engine: a JS call into a bound C function.
 *
 * Owns: preparing a signature once (choosing the register engine or libffi,
 * placing each argument, ffi_prep_cif), creating the JS function for a
 * bound symbol, and the hot path itself.
 *
 * The hot path allocates nothing (strings that do not fit the stack scratch
 * are the one exception), takes no locks, and makes the same Node-API calls a
 * hand-written addon would: napi_get_cb_info, one conversion per argument,
 * one to build the result. Callbacks are specialised by arity so that
 * napi_get_cb_info fills only as many slots as the signature has.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"
#include "batch.h"

cffi_engine_preference cffi_engine_preferred = CFFI_PREFER_TIERED;

void cffi_set_forced_engine(const char *name) {
  if (name && strcmp(name, "ffi") == 0) cffi_engine_preferred = CFFI_PREFER_LIBFFI;
  else if (name && strcmp(name, "registers") == 0) cffi_engine_preferred = CFFI_PREFER_REGISTERS;
  else if (name && strcmp(name, "jit") == 0) cffi_engine_preferred = CFFI_PREFER_JIT;
  else if (name && strcmp(name, "precompiled") == 0) cffi_engine_preferred = CFFI_PREFER_PRECOMPILED;
  else cffi_engine_preferred = CFFI_PREFER_TIERED;
}

bool cffi_prepare_libffi(napi_env env, cffi_signature *sig, const char *symbol) {
  sig->engine = CFFI_ENGINE_LIBFFI;
  sig->general_path = true;
  for (unsigned i = 0; i < sig->nargs; i++) {
    sig->dest[i] = (uint8_t)i;
    sig->ffi_args[i] = cffi_types[sig->args[i]].ffi;
  }
  ffi_type *returns = cffi_types[sig->returns].ffi;
  cffi_sig_ffi_types(sig, &returns); /* struct arguments and result: their layouts' */
  if (sig->variadic) cffi_variadic_promote_types(sig);
  ffi_status status = sig->variadic ? ffi_prep_cif_var(&sig->cif, sig->abi, sig->fixed, sig->nargs, returns, sig->ffi_args)
                                    : ffi_prep_cif(&sig->cif, sig->abi, sig->nargs, returns, sig->ffi_args);
  if (status != FFI_OK) {
    cffi_throw(env, "Error", "libffi could not prepare the signature of \"%s\" (status %d)", symbol,
               (int)status);
    return false;
  }
  return true;
}

bool cffi_prepare_signature(napi_env env, cffi_signature *sig, const char *symbol) {
  unsigned ints = 0, floats = 0;
  for (unsigned i = 0; i < sig->nargs; i++) {
    if (cffi_types[sig->args[i]].reg == CFFI_CLASS_FLOAT) floats++;
    else ints++;
  }
  sig->general_path = sig->has_strings || sig->takes_env || sig->variadic;
  /* Struct, union and out/inout types: libffi's, with invoke_general's hooks. */
  if (sig->layouts) return cffi_prepare_libffi(env, sig, symbol);
  bool registers = CFFI_HAVE_REGISTER_CALLS && cffi_engine_preferred != CFFI_PREFER_LIBFFI && sig->abi == FFI_DEFAULT_ABI &&
                   ints <= CFFI_INT_REGS && floats <= CFFI_FLOAT_REGS &&
                   (!sig->variadic || CFFI_VARIADIC_REGISTER_CALLS);
  if (registers) {
    unsigned next_int = 0, next_float = 0;
    sig->engine = CFFI_ENGINE_REGISTERS;
    sig->float_regs = floats > 0;
    for (unsigned i = 0; i < sig->nargs; i++) {
      sig->dest[i] = cffi_types[sig->args[i]].reg == CFFI_CLASS_FLOAT
                         ? (uint8_t)(CFFI_INT_REGS + next_float++)
                         : (uint8_t)next_int++;
    }
    return true;
  }
  return cffi_prepare_libffi(env, sig, symbol);
}

/* Memory that lives until cffi_call_release: a header links the blocks. */
typedef struct heap_block {
  struct heap_block *next;
  max_align_t data[];
} heap_block;

void *cffi_call_alloc(cffi_call *call, size_t size) {
  heap_block *block = malloc(sizeof *block + size);
  if (!block) return NULL;
  block->next = call->heap;
  call->heap = block;
  return block->data;
}

void cffi_call_release(cffi_call *call) {
  heap_block *block = call->heap;
  while (block) {
    heap_block *next = block->next;
    free(block);
    block = next;
  }
  call->heap = NULL;
}

#include "register_call.h"

static napi_value throw_closed(napi_env env, const cffi_function *fn) {
  return cffi_throw(env, "Error", "Cannot call \"%s\": its %s \"%s\" is closed", fn->name,
                    fn->owner->kind, fn->owner->path);
}

static napi_value throw_missing(napi_env env, const cffi_function *fn, size_t argc) {
  size_t i = argc;
  while (i < fn->sig.nargs && fn->sig.args[i] == CFFI_NAPI_ENV) i++;
  return cffi_throw(env, "TypeError", "%s: args[%zu] (%s) is missing: expected %u argument%s, received %zu",
                    fn->name, i, cffi_types[fn->sig.args[i]].name, fn->sig.required,
                    fn->sig.required == 1 ? "" : "s", argc);
}

/* Types whose argument may be the memory of a JS view. */
static bool takes_views(uint8_t type) {
  return type == CFFI_PTR || type == CFFI_CSTRING || type == CFFI_CSTRING16 || type == CFFI_WSTRING || type == CFFI_FUNCTION || type == CFFI_BUFFER ||
         type == CFFI_BUFFER_LENGTH;
}

/* What an argument converted before user JS ran pointed at, noted just
 * before that JS (cffi_call_before_js). */
struct cffi_view_memory {
  void *data;
  size_t length;
  bool is_view;
};

/* Only conversions that may run user JS call this, so only their calls pay
 * for it. Every earlier JS of the same call was checked after it ran, so
 * what is noted here is still what those arguments were converted from. */
void cffi_call_before_js(cffi_call *call) {
  call->ran_js = true;
  const cffi_function *fn = call->fn;
  if (!fn) return; /* not an FFI call's arguments (memory helpers, callback results) */
  call->closes_before = fn->state->closes;
  for (unsigned j = 0; j < call->index; j++) {
    struct cffi_view_memory *before = &call->views_before[j];
    before->is_view = takes_views(fn->sig.args[j]) &&
                      cffi_plain_view_info(call->env, call->argv[j], &before->data, &before->length);
  }
}

/* User JS ran while args[index] was converted (a .ptr getter, a Proxy
 * trap; call.ran_js). Before C runs, what that JS could have invalidated
 * among what was converted before it is checked again: the library is still
 * open; nothing was closed (a library or JSCallback an earlier
 * function-pointer argument may point into); and every earlier view
 * argument's memory is where and as long as it was (not detached, not a
 * resizable ArrayBuffer shrunk: C would write unmapped pages). Arguments
 * after index are converted after the JS ran; a later getter checks again. */
static bool still_valid_after_js(napi_env env, const cffi_function *fn, const cffi_call *call) {
  const unsigned index = call->index;
  if (!fn->owner->open) {
    cffi_throw(env, "Error",
               "Cannot call \"%s\": its %s \"%s\" was closed by JavaScript that ran while args[%u] was "
               "converted (a .ptr getter or a Proxy); nothing was called",
               fn->name, fn->owner->kind, fn->owner->path, index);
    return false;
  }
  if (fn->state->closes != call->closes_before) {
    cffi_throw(env, "Error",
               "Cannot call \"%s\": JavaScript that ran while args[%u] was converted (a .ptr getter or a "
               "Proxy) closed a library, cc() result, linkSymbols/CFunction result or JSCallback, which a "
               "function-pointer argument may point into; nothing was called",
               fn->name, index);
    return false;
  }
  for (unsigned j = 0; j < index; j++) {
    const struct cffi_view_memory *before = &call->views_before[j];
    void *data = NULL;
    size_t length = 0;
    if (!before->is_view) continue;
    cffi_plain_view_info(env, call->argv[j], &data, &length);
    if (data == before->data && length == before->length) continue;
    if (!data && cffi_view_detached(env, call->argv[j]))
      cffi_throw(env, "TypeError",
                 "%s: args[%u] (%s): its ArrayBuffer was detached by JavaScript that ran while args[%u] was "
                 "converted (a .ptr getter or a Proxy); nothing was called",
                 fn->name, j, cffi_types[fn->sig.args[j]].name, index);
    else
      cffi_throw(env, "TypeError",
                 "%s: args[%u] (%s): its memory changed (%zu bytes at 0x%llx when converted, %zu bytes at 0x%llx "
                 "now: a resizable ArrayBuffer resized?) by JavaScript that ran while args[%u] was converted (a "
                 ".ptr getter or a Proxy); nothing was called",
                 fn->name, j, cffi_types[fn->sig.args[j]].name, before->length,
                 (unsigned long long)(uintptr_t)before->data, length, (unsigned long long)(uintptr_t)data, index);
    return false;
  }
  return true;
}

static bool convert_arguments(cffi_call *call, const cffi_function *fn, napi_value *argv,
                              uint64_t *slots) {
  const cffi_signature *sig = &fn->sig;
  struct cffi_view_memory views_before[sig->nargs ? sig->nargs : 1];
  call->fn = fn;
  call->argv = argv;
  call->views_before = views_before;
  for (unsigned i = 0; i < sig->nargs; i++) {
    const uint8_t type = sig->args[i];
    call->index = i;
    call->type = type;
    if (CFFI_UNLIKELY(!cffi_types[type].to_c(call, argv[i], &slots[sig->dest[i]])) ||
        (CFFI_UNLIKELY(call->ran_js) && !still_valid_after_js(call->env, fn, call))) {
      cffi_call_release(call);
      return false;
    }
    call->ran_js = false;
  }
  call->views_before = NULL;
  if (CFFI_UNLIKELY(sig->variadic)) cffi_variadic_promote_values(sig, slots);
  return true;
}

/* C -> JS for the result: the commonest types inline, the rest through the
 * type table (same results). What callbacks left comes first: their kept
 * handle scope must close before the result's handle is made, and their
 * exception takes precedence. */
static inline __attribute__((always_inline)) napi_value result_to_js(napi_env env, const cffi_function *fn,
                                                                     uint64_t raw) {
  cffi_env_state *state = fn->state;
  if (CFFI_UNLIKELY(state->cleanup_depth > state->call_depth) && cffi_callbacks_cleanup(env, state))
    return NULL;
  napi_value result;
  switch (fn->sig.returns) {
    case CFFI_VOID: return NULL;
    case CFFI_I32:
      napi_create_int32(env, (int32_t)raw, &result);
      return result;
    case CFFI_F64: {
      double d;
      memcpy(&d, &raw, sizeof d);
      napi_create_double(env, d, &result);
      return result;
    }
    case CFFI_U64:
      napi_create_bigint_uint64(env, raw, &result);
      return result;
    default: return cffi_types[fn->sig.returns].to_js(env, raw);
  }
}

/* libffi with struct, union or out/inout types (src/types/layout.c): a
 * struct argument's slot holds the address of its bytes, which libffi
 * takes as the value; a struct result gets room of its size; out cells go
 * back to JS after the call. */
static __attribute__((noinline)) napi_value invoke_with_layouts(napi_env env, cffi_function *fn, napi_value *argv,
                                                                cffi_call *call) {
  const cffi_signature *sig = &fn->sig;
  uint64_t slots[sig->nargs ? sig->nargs : 1];
  void *values[sig->nargs ? sig->nargs : 1];
  const size_t result_size = sig->returns == CFFI_STRUCT_VALUE ? sig->layouts->returns->size : 0;
  max_align_t result[result_size / sizeof(max_align_t) + 1];
  if (!convert_arguments(call, fn, argv, slots)) return NULL;
  for (unsigned i = 0; i < sig->nargs; i++)
    values[i] = sig->args[i] == CFFI_STRUCT_VALUE ? (void *)(uintptr_t)slots[i] : &slots[i];
  start_call(fn->state, sig->takes_env);
  ffi_call((ffi_cif *)&sig->cif, FFI_FN(fn->address), result, values);
  end_call(fn->state, sig->takes_env);
  cffi_env_state *state = fn->state;
  napi_value js_result = NULL;
  if (CFFI_UNLIKELY(state->cleanup_depth > state->call_depth) && cffi_callbacks_cleanup(env, state)) {
    cffi_call_release(call);
    return NULL;
  }
  if (cffi_out_arguments_back(env, sig, argv, slots)) {
    uint64_t raw = 0;
    if (sig->returns == CFFI_STRUCT_VALUE) js_result = cffi_struct_result(env, sig, (const uint8_t *)result);
    else {
      memcpy(&raw, result, sizeof raw);
      js_result = result_to_js(env, fn, raw);
    }
  }
  cffi_call_release(call);
  return js_result;
}

/* The general path: libffi, or arguments (cstring) whose conversion needs
 * memory that lives until the call returns. Out of line, so the hot path's
 * frame stays small (JS -> C -> JS recursion stacks one per level). */
static __attribute__((noinline)) napi_value invoke_general(napi_env env, cffi_function *fn,
                                                           napi_value *argv) {
  const cffi_signature *sig = &fn->sig;
  cffi_call call;
  cffi_call_init(&call, env, fn->name);
  uint64_t raw;
  if (sig->engine == CFFI_ENGINE_REGISTERS) {
    uint64_t regs[REGISTER_SLOTS] = {0};
    if (!convert_arguments(&call, fn, argv, regs)) return NULL;
    start_call(fn->state, sig->takes_env);
    const bool float_result = cffi_types[sig->returns].reg == CFFI_CLASS_FLOAT;
    raw = CFFI_VARIADIC_SETS_AL && sig->variadic
              ? cffi_variadic_register_call(fn->address, regs, sig->float_regs, float_result)
              : register_call(fn->address, regs, sig->float_regs, float_result);
  } else if (CFFI_UNLIKELY(sig->layouts != NULL)) {
    return invoke_with_layouts(env, fn, argv, &call);
  } else {
    uint64_t slots[sig->nargs ? sig->nargs : 1];
    void *values[sig->nargs ? sig->nargs : 1];
    if (!convert_arguments(&call, fn, argv, slots)) return NULL;
    for (unsigned i = 0; i < sig->nargs; i++) values[i] = &slots[i];
    start_call(fn->state, sig->takes_env);
    ffi_call((ffi_cif *)&sig->cif, FFI_FN(fn->address), &raw, values);
  }
  end_call(fn->state, sig->takes_env);
  if (CFFI_UNLIKELY(call.heap != NULL)) cffi_call_release(&call);
  return result_to_js(env, fn, raw);
}

/* JS -> C for one argument through the type table, with a per-call context
 * of its own: for types needing no memory kept until the call returns
 * (every type but cstring, which takes invoke_general). Out of line so the
 * hot path carries no context. */
static __attribute__((noinline)) bool table_to_c(napi_env env, const cffi_function *fn, unsigned index,
                                                 const napi_value *argv, uint64_t *out) {
  cffi_call call;
  struct cffi_view_memory views_before[index ? index : 1];
  cffi_call_init(&call, env, fn->name);
  call.index = index;
  call.type = fn->sig.args[index];
  call.fn = fn;
  call.argv = argv;
  call.views_before = views_before;
  return cffi_types[call.type].to_c(&call, argv[index], out) &&
         (CFFI_LIKELY(!call.ran_js) || still_valid_after_js(env, fn, &call));
}

/* JS -> C for one argument: the commonest types inline, with the one
 * Node-API call a hand-written addon would make; any other type, or any
 * value the inline case does not take (including a detached view's NULL),
 * goes through the type table, which gives the same results and the error
 * messages. */
static inline __attribute__((always_inline)) bool argument_to_c(napi_env env, const cffi_function *fn,
                                                                unsigned index, const napi_value *argv,
                                                                uint64_t *out) {
  const napi_value value = argv[index];
  int32_t i;
  double d;
  switch (fn->sig.args[index]) {
    case CFFI_I32:
      if (CFFI_LIKELY(napi_get_value_int32(env, value, &i) == napi_ok)) {
        *out = (uint64_t)(int64_t)i;
        return true;
      }
      break;
    case CFFI_U32:
      if (CFFI_LIKELY(napi_get_value_int32(env, value, &i) == napi_ok)) {
        *out = (uint32_t)i;
        return true;
      }
      break;
    case CFFI_F64:
      if (CFFI_LIKELY(napi_get_value_double(env, value, &d) == napi_ok)) {
        memcpy(out, &d, sizeof d);
        return true;
      }
      break;
    case CFFI_I64:
    case CFFI_U64: {
      int64_t big;
      bool lossless;
      if (CFFI_LIKELY(napi_get_value_bigint_int64(env, value, &big, &lossless) == napi_ok)) {
        *out = (uint64_t)big;
        return true;
      }
      break;
    }
    case CFFI_PTR: {
      void *data;
      if (napi_get_typedarray_info(env, value, NULL, NULL, &data, NULL, NULL) == napi_ok && data) {
        *out = (uintptr_t)data;
        return true;
      }
      break;
    }
    default: break;
  }
  return table_to_c(env, fn, index, argv, out);
}

/* The hot path: register engine, no argument needing call-lifetime memory.
 * No per-call context, no allocation, one Node-API call per conversion.
 * `arity` is the entry point's compile-time argument count, so the loop
 * unrolls; 0 for the general entry (read from the signature). */
static inline __attribute__((always_inline)) napi_value invoke(napi_env env, cffi_function *fn,
                                                               size_t argc, napi_value *argv,
                                                               unsigned arity) {
  const cffi_signature *sig = &fn->sig;
  const unsigned nargs = arity ? arity : sig->nargs;
  if (CFFI_UNLIKELY(fn->jit_countdown != 0) && --fn->jit_countdown == 0) cffi_jit_tier_up(fn);
  if (CFFI_UNLIKELY(!fn->owner->open)) return throw_closed(env, fn);
  if (CFFI_UNLIKELY(argc < sig->required)) return throw_missing(env, fn, argc);
  if (CFFI_UNLIKELY(sig->general_path)) {
    if (sig->variadic && argc > sig->nargs) return cffi_variadic_too_many(env, fn, argc);
    return invoke_general(env, fn, argv);
  }

  /* Registers no argument uses are passed as 0. */
  uint64_t regs[REGISTER_SLOTS];
  memset(regs, 0, CFFI_INT_REGS * sizeof regs[0]);
  if (sig->float_regs) memset(regs + CFFI_INT_REGS, 0, CFFI_FLOAT_REGS * sizeof regs[0]);
  for (unsigned i = 0; i < nargs; i++) {
    if (CFFI_UNLIKELY(!argument_to_c(env, fn, i, argv, &regs[sig->dest[i]]))) return NULL;
  }
  start_call(fn->state, false); /* the hot path has no napi_env argument (general_path) */
  uint64_t raw = register_call(fn->address, regs, sig->float_regs, cffi_types[sig->returns].reg == CFFI_CLASS_FLOAT);
  end_call(fn->state, false);
  return result_to_js(env, fn, raw);
}

/* One entry point per arity up to 8, then a general one (arity 0: nargs
 * read from the signature). */
#define DEFINE_ENTRY_AS(entry_name, slots, arity)                            \
  static napi_value entry_name(napi_env env, napi_callback_info info) {     \
    napi_value argv[slots];                                                  \
    size_t argc = (slots);                                                   \
    void *data;                                                              \
    napi_get_cb_info(env, info, &argc, argv, NULL, &data);                   \
    return invoke(env, (cffi_function *)data, argc, argv, (arity));          \
  }
#define DEFINE_ENTRY(n) DEFINE_ENTRY_AS(entry_##n, n, n)
/* No arguments: ask Node-API for the function's data only. */
static napi_value entry_0(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  return invoke(env, (cffi_function *)data, 0, NULL, 0);
}
DEFINE_ENTRY(1)
DEFINE_ENTRY(2)
DEFINE_ENTRY(3)
DEFINE_ENTRY(4)
DEFINE_ENTRY(5)
DEFINE_ENTRY(6)
DEFINE_ENTRY(7)
DEFINE_ENTRY(8)
DEFINE_ENTRY_AS(entry_general, CFFI_MAX_ARGS, 0)

static const napi_callback entries_by_arity[] = {entry_0, entry_1, entry_2, entry_3, entry_4,
                                                 entry_5, entry_6, entry_7, entry_8};

/* src/calls/precompiled.c's way out: a call its wrapper does not take (an
 * argument missing or of another kind) runs again from the start here. */
napi_value cffi_call_generic(napi_env env, napi_callback_info info, unsigned nargs) {
  return (nargs < sizeof entries_by_arity / sizeof entries_by_arity[0] ? entries_by_arity[nargs] : entry_general)(env, info);
}

/* The slow paths of src/calls/jit.c's generated wrappers: the generic path's own,
 * so both engines give the same results and messages. */
napi_value cffi_jit_closed(napi_env env, cffi_function *fn) { return throw_closed(env, fn); }

napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc) {
  return throw_missing(env, fn, argc);
}

int cffi_jit_argument(napi_env env, cffi_function *fn, unsigned index, const napi_value *argv, uint64_t *out) {
  return table_to_c(env, fn, index, argv, out);
}

napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw) {
  return cffi_types[fn->sig.returns].to_js(env, raw);
}

int cffi_jit_after_callbacks(napi_env env, cffi_function *fn) {
  return cffi_callbacks_cleanup(env, fn->state);
}

/* ---- for src/calls/async_call.c: calls converted now and run later ----
 * The same conversions and checks as the synchronous path, into slots the
 * caller owns, and the C call alone (no env state: it may run on another
 * thread). */
size_t cffi_call_slot_count(const cffi_signature *sig) {
  return sig->engine == CFFI_ENGINE_REGISTERS ? REGISTER_SLOTS : (sig->nargs ? sig->nargs : 1);
}

bool cffi_convert_call_arguments(cffi_call *call, const cffi_function *fn, const napi_value *argv,
                                 uint64_t *slots) {
  return convert_arguments(call, fn, (napi_value *)argv, slots);
}

uint64_t cffi_call_slots(const cffi_signature *sig, void *address, const uint64_t *slots) {
  if (sig->engine == CFFI_ENGINE_REGISTERS) {
    const bool float_result = cffi_types[sig->returns].reg == CFFI_CLASS_FLOAT;
    return CFFI_VARIADIC_SETS_AL && sig->variadic ? cffi_variadic_register_call(address, slots, sig->float_regs, float_result)
                                                  : register_call(address, slots, sig->float_regs, float_result);
  }
  uint64_t raw = 0;
  void *values[sig->nargs ? sig->nargs : 1];
  for (unsigned i = 0; i < sig->nargs; i++) values[i] = (void *)&slots[i];
  ffi_call((ffi_cif *)&sig->cif, FFI_FN(address), &raw, values);
  return raw;
}

/* ---- for src/calls/batch.c ---- */
/* The hot path's conversions (inline cases, the table for the rest) into
 * register images: for a register-engine signature without general_path. */
bool cffi_convert_register_arguments(napi_env env, const cffi_function *fn, const napi_value *argv,
                                     uint64_t *regs) {
  for (unsigned i = 0; i < fn->sig.nargs; i++)
    if (CFFI_UNLIKELY(!argument_to_c(env, fn, i, argv, &regs[fn->sig.dest[i]]))) return false;
  return true;
}

uint64_t cffi_call_slots_in_env(const cffi_function *fn, const uint64_t *slots) {
  start_call(fn->state, fn->sig.takes_env);
  uint64_t raw = cffi_call_slots(&fn->sig, fn->address, slots);
  end_call(fn->state, fn->sig.takes_env);
  return raw;
}

void cffi_function_discard(cffi_function *fn) {
  /* Also run by the GC (see NAPI_EXPERIMENTAL in cffi.h): frees and counts only. */
  int64_t ignored;
  napi_adjust_external_memory(fn->state->env, -(int64_t)fn->native_bytes, &ignored);
  /* Before the owner goes: a precompiled wrapper's function is on its owner's list. */
  cffi_jit_forget(fn);
  cffi_batch_forget(fn);
  cffi_owner_release(fn->owner);
  cffi_sig_release_layouts(&fn->sig);
  free(fn->name);
  free(fn);
}

static void finalize_function(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_function_discard(data);
}

cffi_function *cffi_function_new(napi_env env, cffi_owner *owner, const char *name, void *address,
                                 const cffi_signature *sig) {
  /* Only libffi reads the signature's cif and ffi_args, the bulk of it. */
  const size_t size = sig->engine == CFFI_ENGINE_LIBFFI ? sizeof(cffi_function)
                                                        : offsetof(cffi_function, sig) + offsetof(cffi_signature, cif);
  cffi_function *fn = calloc(1, size);
  char *name_copy = strdup(name);
  if (!fn || !name_copy) {
    free(fn);
    free(name_copy);
    cffi_throw(env, "RangeError", "out of memory binding \"%s\"", name);
    return NULL;
  }
  fn->address = address;
  fn->name = name_copy;
  napi_get_instance_data(env, (void **)&fn->state);
  memcpy(&fn->sig, sig, size - offsetof(cffi_function, sig));
  /* The copied cif must point at the copy's own argument array. */
  if (fn->sig.engine == CFFI_ENGINE_LIBFFI) fn->sig.cif.arg_types = fn->sig.ffi_args;
  fn->owner = owner;
  owner->refs++;
  /* Freed only when V8 collects the function: tell V8, so that it does in time. */
  fn->native_bytes = (uint32_t)(size + strlen(name) + 1 + CFFI_NODE_API_BYTES_PER_FUNCTION);
  int64_t ignored;
  napi_adjust_external_memory(env, fn->native_bytes, &ignored);
  return fn;
}

/* Marks the functions wrapped above: another addon may wrap functions of its
 * own (Node-API wraps share one private key per isolate), and unwrapping one
 * of those as a cffi_function would read foreign memory. */
static const napi_type_tag bound_function_tag = {0x6366666962756e5fULL, 0x626f756e64666e31ULL};

cffi_function *cffi_function_of(napi_env env, napi_value value) {
  return cffi_unwrap_tagged(env, value, napi_function, &bound_function_tag);
}

napi_value cffi_function_publish(napi_env env, cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  napi_callback entry = fn->jit_entry                                              ? fn->jit_entry
                        : sig->nargs < sizeof entries_by_arity / sizeof entries_by_arity[0] ? entries_by_arity[sig->nargs]
                                                                                           : entry_general;
  napi_value function;
  /* A nonblocking definition's plain call returns a Promise (src/calls/async_call.c). */
  napi_callback callback = sig->nonblocking ? cffi_async_entry : cffi_jit_callback(fn, entry);
  if (napi_create_function(env, fn->name, NAPI_AUTO_LENGTH, callback, fn, &function) != napi_ok) {
    cffi_function_discard(fn);
    return NULL;
  }
  /* A wrap rather than a bare finalizer (the same cost): batch() and
   * sym.map find fn from the function (src/calls/batch.c). */
  if (napi_wrap(cffi_finalizer_env(env), function, fn, finalize_function, NULL, NULL) != napi_ok) {
    /* Nothing would free fn: the function is dropped before JS sees it. */
    cffi_function_discard(fn);
    return NULL;
  }
  napi_type_tag_object(env, function, &bound_function_tag);
  napi_value ptr_value = cffi_address_to_js(env, (uintptr_t)fn->address), length;
  /* As in Bun, .length is the declared argument count (a native function's is 0). */
  napi_create_uint32(env, sig->nargs, &length);
  napi_property_descriptor props[] = {
      {"ptr", NULL, NULL, NULL, NULL, ptr_value, napi_enumerable, NULL},
      {"native", NULL, NULL, NULL, NULL, function, napi_default, NULL},
      {"length", NULL, NULL, NULL, NULL, length, napi_configurable, NULL},
  };
  napi_define_properties(env, function, 3, props);
  /* sym.async (src/calls/async_call.c) and sym.map, created on first use
   * through a shared prototype (src/calls/batch.c). */
  if (!cffi_batch_publish(env, fn, function)) return NULL;
  if (!cffi_variadic_attach(env, function, fn)) return NULL;
  if (CFFI_UNLIKELY(cffi_debug_enabled)) {
    char signature[256];
    cffi_describe_signature(sig, signature, sizeof signature);
    cffi_debug_log("bound %s at %p: %s via %s%s", fn->name, fn->address, signature,
                   fn->jit_entry ? "a jit wrapper" : sig->engine == CFFI_ENGINE_REGISTERS ? "registers" : "libffi",
                   fn->jit_stub ? " (a jit wrapper once hot)" : "");
  }
  return function;
}
