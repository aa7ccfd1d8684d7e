/*
 * register_call.h - the register engine's C call: one prototype that loads
 * every argument register (see platform.h), shared by the synchronous call
 * (src/calls/call.c) and batch()'s run loop (src/calls/batch_buffer.c), so
 * that each inlines it into its own loop; and the env's bookkeeping around
 * every FFI call (start_call, end_call).
 */
#ifndef CFFI_REGISTER_CALL_H
#define CFFI_REGISTER_CALL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

#if CFFI_HAVE_REGISTER_CALLS
/* See platform.h: one prototype that loads every argument register. When no
 * argument is float-class, a prototype with the integer registers only is
 * enough (and saves loading eight vector registers). */
#if CFFI_INT_REGS == 6
#define INT_PARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define INT_ARGS(r) r[0], r[1], r[2], r[3], r[4], r[5]
#else
#define INT_PARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define INT_ARGS(r) r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
#endif
#define FLOAT_PARAMS double, double, double, double, double, double, double, double
#define FLOAT_ARGS(f) f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
typedef uint64_t (*int_result_fn)(INT_PARAMS, FLOAT_PARAMS);
typedef double (*float_result_fn)(INT_PARAMS, FLOAT_PARAMS);
typedef uint64_t (*int_only_int_result_fn)(INT_PARAMS);
typedef double (*int_only_float_result_fn)(INT_PARAMS);

static inline __attribute__((always_inline)) uint64_t register_call(void *address, const uint64_t *regs,
                                                                    bool float_args, bool float_result) {
  double d;
  uint64_t raw;
  if (!float_args) {
    if (!float_result) return ((int_only_int_result_fn)address)(INT_ARGS(regs));
    d = ((int_only_float_result_fn)address)(INT_ARGS(regs));
  } else {
    double f[CFFI_FLOAT_REGS];
    memcpy(f, regs + CFFI_INT_REGS, sizeof f);
    if (!float_result) return ((int_result_fn)address)(INT_ARGS(regs), FLOAT_ARGS(f));
    d = ((float_result_fn)address)(INT_ARGS(regs), FLOAT_ARGS(f));
  }
  memcpy(&raw, &d, sizeof raw);
  return raw;
}
#define REGISTER_SLOTS (CFFI_INT_REGS + CFFI_FLOAT_REGS)
#else
static inline uint64_t register_call(void *address, const uint64_t *regs, bool float_args,
                                     bool float_result) {
  (void)address, (void)regs, (void)float_args, (void)float_result;
  abort(); /* never chosen: cffi_prepare_signature picks libffi here */
}
#define REGISTER_SLOTS 1
#endif

/* FFI calls share one errno that Node's own work in between cannot
 * disturb: a call that leaves errno alone leaves errno() as it was.
 * ERRNO: the thread's errno as an lvalue, `errno` itself or what a loop of
 * calls found once (the _at forms); a macro so that `errno` is evaluated
 * only where it is used, as the synchronous call always compiled it. */
#define CFFI_START_CALL(state, takes_env, ERRNO)                                \
  do {                                                                          \
    (state)->call_depth++;                                                      \
    /* Callbacks it calls keep no handle scope open across calls while it      \
     * may have opened one of its own (src/callbacks/callback.c). */           \
    if (takes_env) (state)->env_calls++;                                        \
    ERRNO = (state)->last_errno;                                                \
  } while (0)
static inline void start_call(cffi_env_state *state, bool takes_env) { CFFI_START_CALL(state, takes_env, errno); }
static inline void start_call_at(cffi_env_state *state, bool takes_env, int *errno_at) {
  CFFI_START_CALL(state, takes_env, *errno_at);
}

/* Right after the C call: errno captured before anything can change it. */
#ifdef _WIN32
#define CFFI_LAST_ERROR(state) ((state)->last_error = GetLastError())
#else
#define CFFI_LAST_ERROR(state) ((void)0)
#endif
#define CFFI_END_CALL(state, takes_env, ERRNO) \
  do {                                         \
    (state)->last_errno = ERRNO;               \
    if (takes_env) (state)->env_calls--;       \
    CFFI_LAST_ERROR(state);                    \
    (state)->call_depth--;                     \
  } while (0)
static inline void end_call(cffi_env_state *state, bool takes_env) { CFFI_END_CALL(state, takes_env, errno); }
static inline void end_call_at(cffi_env_state *state, bool takes_env, const int *errno_at) {
  CFFI_END_CALL(state, takes_env, *errno_at);
}

#endif /* CFFI_REGISTER_CALL_H */
