/*
 * batch.h - batch() (src/calls/batch_buffer.c) and sym.map()
 * (src/calls/batch.c, src/calls/map_jit.c): many calls of bound functions
 * for one JS -> C crossing. The hooks src/calls/call.c and src/addon.c
 * call, and the helpers of call.c and types.c these files use.
 */
#ifndef CFFI_BATCH_H
#define CFFI_BATCH_H

#include "../cffi.h"

/* call.c: the C call of already converted slots with the env's call
 * bookkeeping (errno in and out, call depth for callbacks), as the
 * synchronous call does it. */
uint64_t cffi_call_slots_in_env(const cffi_function *fn, const uint64_t *slots);

/* call.c: the synchronous hot path's argument conversions, for a
 * register-engine signature that is not general_path (no strings, no env). */
bool cffi_convert_register_arguments(napi_env env, const cffi_function *fn, const napi_value *argv,
                                     uint64_t *regs);

/* call.c, at publish: gives the new bound function the shared prototype
 * whose accessors create sym.map and sym.async on first use (nothing per
 * function); without lib/batch.js loaded, sym.async at once. */
bool cffi_batch_publish(napi_env env, cffi_function *fn, napi_value function);

/* batch.c: the bound function behind a JS value, or NULL (no exception). */
cffi_function *cffi_bound_function_of(napi_env env, napi_value value);

/* batch.c: the TypedArray kind (napi_typedarray_type) holding a numeric
 * type's values as sym.map returns them (-1: none), a kind's name and its
 * element size; batch_buffer.c's typed results use the same. */
int cffi_array_type_of(cffi_type_id type);
const char *cffi_array_name(int kind);
size_t cffi_array_element_size(int kind);

/* batch_buffer.c: empties fn's slot among the staged functions (as fn is freed). */
void cffi_batch_forget(cffi_function *fn);

/* batch_buffer.c: batch()'s exports, from cffi_make_batch_exports. */
void cffi_make_batch_buffer_exports(napi_env env, napi_value exports);

/* map_jit.c: sym.map's loop compiled for fn's prototype with the arguments
 * in `columns` (bit k) read from columns[k][i] and the others from
 * scalars[k] (register images, declaration order); it runs calls i..n-1,
 * storing results in out, and returns where it stopped: n, or one past a
 * call during which a callback ran JS or left work. NULL where there is no
 * such loop (no TinyCC, CFFI_BUN_ENGINE=registers|ffi, a signature it does
 * not take, or a small n not worth a compile): the caller's C loop runs. */
/* A call during which a callback ran JS ends the loop before its result is
 * stored: JS may have detached the output (options.into). That result is
 * left in *held as its register image, and the caller stores it at the
 * returned index - 1 once the output has been checked again. */
typedef size_t (*cffi_map_loop_fn)(size_t i, size_t n, const void *const *columns, const uint64_t *scalars, void *out,
                                   uint64_t *held);
cffi_map_loop_fn cffi_map_loop_for(const cffi_function *fn, uint64_t columns, size_t n);
/* At module init: the env's loops are freed when it ends. */
void cffi_map_jit_attach(napi_env env);

/* map_precompiled.c: sym.map's loop compiled with the addon for fn's shape
 * (up to two i32/u32, i64/u64/ptr or f64 arguments; a void, 32-bit, 64-bit
 * or f64 result) under the default and precompiled engines, or NULL. It
 * runs calls i..n-1 as cffi_map_loop_fn does: argument k is read from
 * arg[k] + i * stride[k] (stride 0: a broadcast value of the parameter's
 * class), results stored in out. */
typedef struct {
  void *address;
  cffi_env_state *state;
  const char *arg[2];
  size_t stride[2];
  void *out;
  uint64_t *held; /* the result of a call during which JS ran, as for cffi_map_loop_fn */
} cffi_map_frame;
typedef size_t (*cffi_map_compiled_fn)(const cffi_map_frame *frame, size_t i, size_t n);
/* Where a signature of up to two arguments sits in a table of precompiled
 * loops (map_precompiled.c) or invokers (batch_buffer.c), [result][shape]:
 * result 0 for void, else 1 + its class; shape 0 for no argument, 1 + c for
 * one of class c, 4 + 3 * c + d for two. False when there are more
 * arguments or a type has no class (class_of gives -1). */
static inline bool cffi_two_arg_shape(const cffi_signature *sig, int (*class_of)(cffi_type_id), int *result, int *shape) {
  if (sig->nargs > 2) return false;
  *result = sig->returns == CFFI_VOID ? 0 : class_of(sig->returns) + 1;
  if (*result <= 0 && sig->returns != CFFI_VOID) return false;
  const int first = sig->nargs >= 1 ? class_of(sig->args[0]) : 0;
  const int second = sig->nargs == 2 ? class_of(sig->args[1]) : 0;
  if (first < 0 || second < 0) return false;
  *shape = sig->nargs == 0 ? 0 : sig->nargs == 1 ? 1 + first : 4 + 3 * first + second;
  return true;
}
cffi_map_compiled_fn cffi_map_precompiled_for(const cffi_function *fn);

/* types.c: a number as a 64-bit integer argument's image (ToInt64's wrap). */
uint64_t cffi_number_to_u64(double d);

/* addon.c */
void cffi_make_batch_exports(napi_env env, napi_value exports);

#endif /* CFFI_BATCH_H */
