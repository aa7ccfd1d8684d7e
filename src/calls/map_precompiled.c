/*
 * map_precompiled.c - sym.map's loops for the commonest shapes, compiled
 * with the addon (gcc or clang) instead of by TinyCC at run time.
 *
 * Owns: one loop per shape (no, one or two arguments, each 32-bit integer
 * (i32/u32), 64-bit integer (i64/u64/ptr) or f64; a void, 32-bit integer,
 * 64-bit integer or f64 result) and picking the loop for a function.
 *
 * Why: TinyCC keeps every local in memory, so its generated loop
 * (src/calls/map_jit.c) made a map of abs cost 42.4 instructions per value
 * (callgrind); an optimising compiler keeps the loop's pointers in
 * registers: 17.9 per value, abs itself included. And these need no
 * compile (~1 ms a shape), so a map of any size takes them, and they exist
 * where TinyCC does not (Windows).
 *
 * Each loop calls the function through the prototype of its argument
 * classes (an i32 and a u32 travel the same way, so do i64, u64 and ptr),
 * which is plain portable C for every ABI whose C calls use the default
 * convention. A broadcast argument is read from a one-element "column"
 * with a stride of 0. The bookkeeping is the generated loop's: one call in
 * progress for the whole loop, errno handed from call to call, and a
 * return after any call during which a callback ran JS, so that the caller
 * checks its arrays again and resumes (src/calls/batch.c).
 */
#include <errno.h>
#include <string.h>

#include "batch.h"

typedef int32_t W;  /* i32, u32: 32 bits */
typedef int64_t L;  /* i64, u64, ptr and the _fast kinds: 64 bits */
typedef double D;   /* f64 */

/* The loop's start and end: the synchronous call's bookkeeping, once. */
#define LOOP_BEGIN                                          \
  cffi_env_state *state = frame->state;                     \
  const uint32_t seen = state->js_callbacks_run;            \
  state->call_depth++;                                      \
  errno = state->last_errno;
#define LOOP_END            \
  state->last_errno = errno; \
  state->call_depth--;      \
  return i;
/* After each call: a callback that ran JS ends the loop (one load), before
 * the result is stored: that JS may have detached options.into, so the
 * result waits in *frame->held (its register image) for the caller, which
 * stores it once it has checked the output again. */
#define AFTER_CALL(hold)                                   \
  if (CFFI_UNLIKELY(state->js_callbacks_run != seen)) {    \
    hold;                                                  \
    i++;                                                   \
    break;                                                 \
  }

#define ARG(k)                               \
  const char *a##k = frame->arg[k] + i * frame->stride[k]; \
  const size_t s##k = frame->stride[k];
#define NEXT(k, T, x) \
  T x;                \
  memcpy(&x, a##k, sizeof x); \
  a##k += s##k;

#define LOOP0(R)                                                                              \
  static size_t loop0_##R(const cffi_map_frame *frame, size_t i, size_t n) {                  \
    R##_TYPE (*target)(void) = (R##_TYPE(*)(void))frame->address;                             \
    R##_OUTPTR                                                                                \
    LOOP_BEGIN                                                                                \
    for (; i < n; i++) {                                                                      \
      R##_CALL(target());                                                                     \
    }                                                                                         \
    LOOP_END                                                                                  \
  }
#define LOOP1(R, P)                                                                           \
  static size_t loop1_##R##P(const cffi_map_frame *frame, size_t i, size_t n) {               \
    R##_TYPE (*target)(P) = (R##_TYPE(*)(P))frame->address;                                   \
    R##_OUTPTR                                                                                \
    ARG(0)                                                                                 \
    LOOP_BEGIN                                                                                \
    for (; i < n; i++) {                                                                      \
      NEXT(0, P, x0)                                                                          \
      R##_CALL(target(x0));                                                                   \
    }                                                                                         \
    LOOP_END                                                                                  \
  }
#define LOOP2(R, P, Q)                                                                        \
  static size_t loop2_##R##P##Q(const cffi_map_frame *frame, size_t i, size_t n) {            \
    R##_TYPE (*target)(P, Q) = (R##_TYPE(*)(P, Q))frame->address;                             \
    R##_OUTPTR                                                                                \
    ARG(0)                                                                                 \
    ARG(1)                                                                                 \
    LOOP_BEGIN                                                                                \
    for (; i < n; i++) {                                                                      \
      NEXT(0, P, x0)                                                                          \
      NEXT(1, Q, x1)                                                                          \
      R##_CALL(target(x0, x1));                                                               \
    }                                                                                         \
    LOOP_END                                                                                  \
  }

/* Per result class: the prototype's return type, the output pointer, the
 * call with its check and store. */
#define V_TYPE void
#define V_OUTPTR
#define V_CALL(expr) expr; AFTER_CALL((void)0)
#define W_TYPE W
#define W_OUTPTR W *out = frame->out;
#define W_CALL(expr) const W r_ = expr; AFTER_CALL(*frame->held = (uint32_t)r_) out[i] = r_;
#define L_TYPE L
#define L_OUTPTR L *out = frame->out;
#define L_CALL(expr) const L r_ = expr; AFTER_CALL(*frame->held = (uint64_t)r_) out[i] = r_;
#define D_TYPE D
#define D_OUTPTR D *out = frame->out;
#define D_CALL(expr) const D r_ = expr; AFTER_CALL(memcpy(frame->held, &r_, sizeof r_)) out[i] = r_;

#define FOR_ARGS1(R) LOOP1(R, W) LOOP1(R, L) LOOP1(R, D)
#define FOR_ARGS2(R, P) LOOP2(R, P, W) LOOP2(R, P, L) LOOP2(R, P, D)
#define FOR_RESULT(R) LOOP0(R) FOR_ARGS1(R) FOR_ARGS2(R, W) FOR_ARGS2(R, L) FOR_ARGS2(R, D)
FOR_RESULT(V)
FOR_RESULT(W)
FOR_RESULT(L)
FOR_RESULT(D)

/* [result class][shape], as cffi_two_arg_shape places them (W = 0, L = 1, D = 2). */
#define ROW1(R) loop1_##R##W, loop1_##R##L, loop1_##R##D
#define ROW2(R, P) loop2_##R##P##W, loop2_##R##P##L, loop2_##R##P##D
#define ROW(R) {loop0_##R, ROW1(R), ROW2(R, W), ROW2(R, L), ROW2(R, D)}
static const cffi_map_compiled_fn loops[4][13] = {ROW(V), ROW(W), ROW(L), ROW(D)};

/* A type's class in these loops, or -1 (narrow integers, f32, bool, strings...). */
static int arg_class(cffi_type_id type) {
  switch (type) {
    case CFFI_I32: case CFFI_U32: return 0;
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: case CFFI_PTR: return 1;
    case CFFI_F64: return 2;
    default: return -1;
  }
}

cffi_map_compiled_fn cffi_map_precompiled_for(const cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  int result, shape;
  if ((cffi_engine_preferred != CFFI_PREFER_TIERED && cffi_engine_preferred != CFFI_PREFER_PRECOMPILED) ||
      sig->abi != FFI_DEFAULT_ABI || sig->layouts || sig->variadic || sig->takes_env ||
      !cffi_two_arg_shape(sig, arg_class, &result, &shape))
    return NULL;
  return loops[result][shape];
}
