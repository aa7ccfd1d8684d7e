/*
 * precompiled.c - wrappers compiled with the addon (by gcc or clang) for the
 * commonest signatures, which a hot symbol takes instead of a TinyCC
 * wrapper (src/calls/jit.c) when its signature is one of them.
 *
 * Owns: the shapes (up to two arguments, each i32/u32, f64, ptr or
 * i64/u64; a void, integer-class or f64 result), one wrapper per shape;
 * composed wrappers for 3 to 6 arguments (those kinds and f32, 8/16-bit
 * integers: per-argument readers and a call per register pattern, see
 * "composed wrappers"); how a wrapper finds its function, and each owner's
 * list of functions on precompiled wrappers, which close() stops.
 *
 * Why: TinyCC allocates no registers. Every local lives on the stack, every
 * address it is given is loaded from its GOT at each use and every call
 * goes through its PLT, so a TinyCC wrapper for `int abs(int)` runs ~88
 * instructions where a hand-written addon's runs 27 (callgrind). These
 * wrappers do what a TinyCC wrapper does (the same fast conversions, the
 * same errno and call-depth bookkeeping), as an optimising compiler writes
 * it, except in two ways, both below: closed libraries are the stub's
 * business, and any call outside the fast cases (an argument missing or of
 * another kind) runs again on the generic entry. Each shape calls its C function through the real prototype
 * of its register classes (an i32 is passed in a 64-bit integer register,
 * a double in a vector register), which is what the register engine does.
 *
 * Finding the function: a wrapper needs its cffi_function without asking
 * Node-API for it (napi_get_cb_info's data costs more than the whole
 * wrapper for a `void f(void)`). The symbol's entry stub
 * (src/platform/stubs.c) is what Node calls as the napi_callback
 * (env, info); it loads its slot's data into rdx, the third argument
 * register, and jumps to its target. Here the data is the function and
 * the target its wrapper, which declares the function as its third
 * parameter (stub_wrapper): plain C, whatever its prologue does.
 *
 * Closed libraries: a wrapper does not test its owner's open flag. close()
 * repoints the entry stubs of the owner's functions on precompiled wrappers
 * (a list kept in the owner) at closed_wrapper, which throws what the
 * generic entry throws.
 *
 * x86-64 System V (ELF) only for now; elsewhere nothing is precompiled and
 * hot symbols get TinyCC wrappers as before.
 */
#include <errno.h>
#include <string.h>

#include "../cffi.h"

/* The generic path (src/calls/call.c): its entry point for calls the
 * wrappers do not take, and its slow paths, as TinyCC wrappers call them. */
napi_value cffi_call_generic(napi_env env, napi_callback_info info, unsigned nargs);
napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw);

#if defined(__x86_64__) && defined(__ELF__) && !defined(_WIN32) && CFFI_HAVE_REGISTER_CALLS
#define CFFI_HAVE_PRECOMPILED 1
#else
#define CFFI_HAVE_PRECOMPILED 0
#endif

#if CFFI_HAVE_PRECOMPILED

/* How an argument is read from JS (the TinyCC wrapper's read kinds). */
enum { K_NONE, K_I32, K_U32, K_F64, K_PTR, K_I64, K_U64 };
/* How the result goes back; R_TABLE: any other integer-class type, through
 * the type table (as a TinyCC wrapper's cffi_jit_result). */
enum { R_VOID, R_I32, R_U32, R_I64, R_U64, R_F64, R_CSTRING, R_TABLE };

/* A wrapper, as its entry stub reaches it: Node's napi_callback arguments
 * and the stub's data, the function. */
typedef napi_value (*stub_wrapper)(napi_env env, napi_callback_info info, cffi_function *fn);

/* Where an argument's value waits for the call: Node-API writes it here,
 * and it is read into its register only for the call, as a hand-written
 * addon does. Kept in memory, the values need no callee-saved registers
 * (each costs a push and a pop) while the other arguments are read. */
typedef union cffi_argument_slot {
  int32_t i32; /* K_I32, K_U32 */
  double f64;  /* K_F64 */
  float f32;   /* f32, on composed wrappers: passed in a vector register's low half */
  uint64_t u;  /* K_PTR, K_I64, K_U64; 8- and 16-bit integers, extended, on composed wrappers */
} argument_slot;

/* JS -> C for one argument: the one Node-API call of the fast case, as in
 * render_wrapper (src/calls/jit.c). False for any other value: the wrapper
 * then hands the whole call to the generic entry (cffi_call_generic),
 * which gives the same values and every error message. Nothing here has
 * side effects (no Node-API call that can run JS), so running the call
 * again from the start there is unobservable. */
static inline __attribute__((always_inline)) bool take_argument(napi_env env, napi_value value, int kind,
                                                                argument_slot *slot) {
  double d;
  switch (kind) {
    case K_I32:
    case K_U32: return CFFI_LIKELY(napi_get_value_int32(env, value, &slot->i32) == napi_ok);
    case K_F64: return CFFI_LIKELY(napi_get_value_double(env, value, &slot->f64) == napi_ok);
    case K_PTR: {
      void *data;
      if (napi_get_typedarray_info(env, value, NULL, NULL, &data, NULL, NULL) != napi_ok || !data) return false;
      slot->u = (uintptr_t)data;
      return true;
    }
    /* A BigInt (wrapped), or a number whose truncation fits int64 (the
     * TinyCC wrapper's test: what wrap_double_to_u64 gives there). Each
     * type's usual kind first, as the TinyCC wrapper's READ_NUMBER64 and
     * READ_BIGINT do: a failed read costs ~40 instructions. A value is one
     * kind or the other, so the order changes no result. */
    case K_I64:
    case K_U64: {
      int64_t big;
      bool lossless;
      if (kind == K_I64 && napi_get_value_double(env, value, &d) == napi_ok) {
        if (CFFI_UNLIKELY(!(d > -9.2e18 && d < 9.2e18))) return false;
        slot->u = (uint64_t)(int64_t)d;
        return true;
      }
      if (CFFI_LIKELY(napi_get_value_bigint_int64(env, value, &big, &lossless) == napi_ok)) {
        slot->u = (uint64_t)big;
        return true;
      }
      if (kind == K_U64 && napi_get_value_double(env, value, &d) == napi_ok && d > -9.2e18 && d < 9.2e18) {
        slot->u = (uint64_t)(int64_t)d;
        return true;
      }
      return false;
    }
    default: return false;
  }
}

static inline __attribute__((always_inline)) uint64_t register_image(const argument_slot *slot, int kind) {
  uint64_t bits;
  switch (kind) {
    case K_I32: return (uint64_t)(int64_t)slot->i32;
    case K_U32: return (uint32_t)slot->i32;
    case K_F64: memcpy(&bits, &slot->f64, sizeof bits); return bits;
    case K_NONE: return 0;
    default: return slot->u;
  }
}

static inline __attribute__((always_inline)) double as_double(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* The C call through the prototype of the shape's register classes. */
static inline __attribute__((always_inline)) uint64_t call_shape(void *target, unsigned n, int k0, int k1,
                                                                 bool float_result, uint64_t a0, uint64_t a1) {
  const bool f0 = k0 == K_F64, f1 = k1 == K_F64;
#define CALL(result_type, params, ...) (((result_type(*) params)target)(__VA_ARGS__))
#define CALL_AS(params, ...)                                                        \
  do {                                                                              \
    if (!float_result) return CALL(uint64_t, params, __VA_ARGS__);                  \
    double d = CALL(double, params, __VA_ARGS__);                                   \
    uint64_t bits;                                                                  \
    memcpy(&bits, &d, sizeof bits);                                                 \
    return bits;                                                                    \
  } while (0)
  if (n == 0) CALL_AS((void));
  if (n == 1) {
    if (f0) CALL_AS((double), as_double(a0));
    CALL_AS((uint64_t), a0);
  }
  if (f0 && f1) CALL_AS((double, double), as_double(a0), as_double(a1));
  if (f0) CALL_AS((double, uint64_t), as_double(a0), a1);
  if (f1) CALL_AS((uint64_t, double), a0, as_double(a1));
  CALL_AS((uint64_t, uint64_t), a0, a1);
#undef CALL_AS
#undef CALL
}

/* Around the C call, as in render_wrapper: the call depth and errno. */
static inline __attribute__((always_inline)) void enter_call(cffi_env_state *state) {
  ++state->call_depth;
  *state->errno_at = state->last_errno;
}

/* cleanup_depth > call_depth, the test every engine makes after its call,
 * split: leave_call tests cleanup_depth != 0 (which it implies, call_depth
 * being unsigned) and this the rest, out of line so that gcc cannot merge
 * the two back into one comparison that loads call_depth again (two
 * instructions a call where the merged test took four). */
__attribute__((noipa)) static bool cleanup_after_call(cffi_env_state *state) {
  return state->cleanup_depth > state->call_depth && cffi_callbacks_cleanup(state->env, state);
}

/* After the C call: errno saved, the depth back, what callbacks left, the
 * result made in *result. */
static inline __attribute__((always_inline)) napi_value leave_call(cffi_env_state *state, cffi_function *fn,
                                                                   uint64_t raw, int result_kind, napi_value *result) {
  state->last_errno = *state->errno_at;
  --state->call_depth;
  if (CFFI_UNLIKELY(state->cleanup_depth != 0) && cleanup_after_call(state)) return NULL;
  /* The same env as the call's: a function is called on its own env's thread only. */
  napi_env env = state->env;
  switch (result_kind) {
    case R_VOID: return NULL;
    case R_I32: napi_create_int32(env, (int32_t)raw, result); break;
    case R_U32: napi_create_uint32(env, (uint32_t)raw, result); break;
    case R_I64: napi_create_bigint_int64(env, (int64_t)raw, result); break;
    case R_U64: napi_create_bigint_uint64(env, raw, result); break;
    case R_F64: napi_create_double(env, as_double(raw), result); break;
    case R_CSTRING:
      if (!raw) napi_get_null(env, result);
      else napi_create_string_utf8(env, (const char *)(uintptr_t)raw, NAPI_AUTO_LENGTH, result);
      break;
    default: return cffi_jit_result(env, fn, raw);
  }
  return *result;
}

/* One wrapper's body, with its shape as constants: the statements of
 * render_wrapper (src/calls/jit.c) in the same order. */
static inline __attribute__((always_inline)) napi_value shaped(napi_env env, napi_callback_info info,
                                                               cffi_function *fn, unsigned n, int k0, int k1,
                                                               int result_kind) {
  /* One struct, so that argc and the result get slots of their own: gcc
   * gives two locals whose lives do not overlap one slot, and then keeps
   * its address in a callee-saved register across the C call. */
  struct {
    size_t argc;
    napi_value argv[2], result;
  } frame;
  argument_slot slots[2];
  if (n) {
    /* In memory, not in a callee-saved register: only the way out reads it. */
    volatile napi_callback_info info_for_fallback = info;
    frame.argc = n;
    napi_get_cb_info(env, info, &frame.argc, frame.argv, NULL, NULL);
    if (CFFI_UNLIKELY(frame.argc < n) || CFFI_UNLIKELY(!take_argument(env, frame.argv[0], k0, &slots[0])) ||
        (n > 1 && CFFI_UNLIKELY(!take_argument(env, frame.argv[1], k1, &slots[1]))))
      return cffi_call_generic(env, info_for_fallback, n);
  }
  /* The state kept across the call, not fn (only R_TABLE's result needs
   * fn then), and env read back from it: fewer registers to save. */
  cffi_env_state *const state = fn->state;
  enter_call(state);
  const uint64_t raw = call_shape(fn->address, n, k0, k1, result_kind == R_F64, n > 0 ? register_image(&slots[0], k0) : 0,
                                  n > 1 ? register_image(&slots[1], k1) : 0);
  return leave_call(state, fn, raw, result_kind, &frame.result);
}

/* Every shape's wrapper, and the table that finds it. */
#define RETURNS(X, n, a, b)                                                                                      \
  X(n, a, b, R_VOID) X(n, a, b, R_I32) X(n, a, b, R_U32) X(n, a, b, R_I64) X(n, a, b, R_U64) X(n, a, b, R_F64) \
  X(n, a, b, R_CSTRING) X(n, a, b, R_TABLE)
#define SECOND(X, a) \
  RETURNS(X, 2, a, K_I32) RETURNS(X, 2, a, K_U32) RETURNS(X, 2, a, K_F64) RETURNS(X, 2, a, K_PTR) RETURNS(X, 2, a, K_I64) \
  RETURNS(X, 2, a, K_U64)
#define EVERY_SHAPE(X)                                                                                          \
  RETURNS(X, 0, K_NONE, K_NONE)                                                                                  \
  RETURNS(X, 1, K_I32, K_NONE) RETURNS(X, 1, K_U32, K_NONE) RETURNS(X, 1, K_F64, K_NONE)                         \
  RETURNS(X, 1, K_PTR, K_NONE) RETURNS(X, 1, K_I64, K_NONE) RETURNS(X, 1, K_U64, K_NONE)                         \
  SECOND(X, K_I32) SECOND(X, K_U32) SECOND(X, K_F64) SECOND(X, K_PTR) SECOND(X, K_I64) SECOND(X, K_U64)

/* No frame pointer: three instructions of a `void f(void)` wrapper's ~30. */
#define DEFINE_WRAPPER(n, a, b, r)                                                                     \
  __attribute__((optimize("omit-frame-pointer"))) static napi_value wrapper_##n##_##a##_##b##_##r(           \
      napi_env env, napi_callback_info info, cffi_function *fn) {                                       \
    return shaped(env, info, fn, n, a, b, r);                                                           \
  }
EVERY_SHAPE(DEFINE_WRAPPER)
#undef DEFINE_WRAPPER

/* [first argument's kind][second's][result's]; arity is implied by K_NONE. */
static const stub_wrapper wrappers[K_U64 + 1][K_U64 + 1][R_TABLE + 1] = {
#define LIST_WRAPPER(n, a, b, r) [a][b][r] = wrapper_##n##_##a##_##b##_##r,
    EVERY_SHAPE(LIST_WRAPPER)
#undef LIST_WRAPPER
};

/* ---- composed wrappers: 3 to 6 arguments ----------------------------
 *
 * Up to two arguments, every combination of kinds has a wrapper of its own
 * above. Beyond that the combinations are too many to compile each (7^6
 * for six), so a wrapper for n arguments is put together from parts, each
 * compiled for its own types: the entry for n and the result kind reads
 * argument i with fn->composed.read[i], the one Node-API call of that
 * argument's fast case (napi_get_value_int32 or _double itself where it
 * writes the slot as the C call takes it; a small reader below where the
 * value needs converting), and calls C through fn->composed.call, which
 * passes the slots in the registers of one pattern of register classes
 * (an integer or a vector register per argument: 2^n patterns) and jumps
 * to the C function. No type is tested at run time: an argument costs one
 * load of its reader more than in a wrapper written for its signature
 * (a data-driven wrapper with a switch on each argument's type cost more
 * than TinyCC's code: session 10). A value a reader does not take sends
 * the whole call to the generic entry, as on the shaped wrappers. */

/* The readers: no frame pointer (two instructions each). */
#define READER __attribute__((optimize("omit-frame-pointer"))) static napi_status
typedef napi_status (*argument_reader)(napi_env env, napi_value value, argument_slot *slot);

/* i32/u32 and f64 are read by napi_get_value_int32 and _double themselves,
 * called through argument_reader: their third parameter is a pointer to
 * the slot's own member, passed like any pointer on x86-64 System V (the
 * only ABI this file is built for), so a reader of our own around them
 * would only add its jump and the PLT's (two instructions an argument).
 * The slot's other bytes are left as they were: a 32-bit argument's upper
 * half of its register is undefined in the ABI, and the callee ignores it.
 * The cast goes through void (*)(void) (-Wcast-function-type's way to say
 * it is meant). */
#define NODE_API_READER(fn) ((argument_reader)(void (*)(void))(fn))

READER read_float(napi_env env, napi_value value, argument_slot *slot) {
  const napi_status status = napi_get_value_double(env, value, &slot->f64);
  if (CFFI_LIKELY(status == napi_ok)) slot->f32 = (float)slot->f64;
  return status;
}

/* 8- and 16-bit integers: the int32 read truncated to the type, as the
 * TinyCC wrapper's (int8_t)i32 does, and extended to the whole register
 * (what compilers expect of a caller for types narrower than int). */
#define NARROW_READER(name, type)                                                      \
  READER name(napi_env env, napi_value value, argument_slot *slot) {                   \
    const napi_status status = napi_get_value_int32(env, value, &slot->i32);          \
    if (CFFI_LIKELY(status == napi_ok)) slot->u = (uint64_t)(int64_t)(type)slot->i32; \
    return status;                                                                     \
  }
NARROW_READER(read_i8, int8_t)
NARROW_READER(read_u8, uint8_t)
NARROW_READER(read_i16, int16_t)
NARROW_READER(read_u16, uint16_t)
#undef NARROW_READER

/* 64-bit integers in two chances, the type's usual kind first (as the
 * TinyCC wrapper's READ_NUMBER64 and READ_BIGINT do): a number whose
 * truncation fits int64 (take_argument's test), or a BigInt, wrapped. The
 * entry tries the second only when the first fails, so the first keeps
 * only the slot across its Node-API call. */
READER read_int64_number(napi_env env, napi_value value, argument_slot *slot) {
  const napi_status status = napi_get_value_double(env, value, &slot->f64);
  if (CFFI_UNLIKELY(status != napi_ok)) return status;
  const double d = slot->f64;
  /* |d| < 9.2e18, NaN failing: take_argument's range in fewer instructions. */
  if (CFFI_UNLIKELY(!(__builtin_fabs(d) < 9.2e18))) return napi_number_expected;
  slot->u = (uint64_t)(int64_t)d;
  return napi_ok;
}

READER read_int64_bigint(napi_env env, napi_value value, argument_slot *slot) {
  bool lossless;
  return napi_get_value_bigint_int64(env, value, (int64_t *)&slot->u, &lossless);
}

READER read_pointer(napi_env env, napi_value value, argument_slot *slot) {
  return take_argument(env, value, K_PTR, slot) ? napi_ok : napi_generic_failure;
}
#undef READER

/* The readers of a type (the second tried when the first fails, or NULL),
 * and whether it travels in a vector register; false for a type composed
 * wrappers do not take. */
static bool readers_of(uint8_t type, argument_reader *first, argument_reader *second, bool *in_vector) {
  *in_vector = type == CFFI_F64 || type == CFFI_F32;
  *second = NULL;
  switch (type) {
    case CFFI_I32: case CFFI_U32: *first = NODE_API_READER(napi_get_value_int32); return true;
    case CFFI_F64: *first = NODE_API_READER(napi_get_value_double); return true;
    case CFFI_F32: *first = read_float; return true;
    case CFFI_CHAR: case CFFI_I8: *first = read_i8; return true;
    case CFFI_U8: *first = read_u8; return true;
    case CFFI_I16: *first = read_i16; return true;
    case CFFI_U16: *first = read_u16; return true;
    case CFFI_I64: case CFFI_I64_FAST: case CFFI_U64_FAST:
      *first = read_int64_number, *second = read_int64_bigint;
      return true;
    case CFFI_U64: *first = read_int64_bigint, *second = read_int64_number; return true;
    case CFFI_PTR: *first = read_pointer; return true;
    default: return false;
  }
}

/* The calls, one per arity and pattern (bit i set: argument i in a vector
 * register) and per result register. Each is a load of every argument
 * and a jump to the C function (a sibling call), which returns to the
 * entry. __builtin_choose_expr picks each parameter's type from the
 * pattern at compile time. */
#define PARAM(mask, i) __typeof__(__builtin_choose_expr(((mask) >> (i)) & 1, 0.0, (uint64_t)0))
#define VALUE(mask, i) __builtin_choose_expr(((mask) >> (i)) & 1, slots[i].f64, slots[i].u)
#define PARAMS_3(m) PARAM(m, 0), PARAM(m, 1), PARAM(m, 2)
#define PARAMS_4(m) PARAMS_3(m), PARAM(m, 3)
#define PARAMS_5(m) PARAMS_4(m), PARAM(m, 4)
#define PARAMS_6(m) PARAMS_5(m), PARAM(m, 5)
#define VALUES_3(m) VALUE(m, 0), VALUE(m, 1), VALUE(m, 2)
#define VALUES_4(m) VALUES_3(m), VALUE(m, 3)
#define VALUES_5(m) VALUES_4(m), VALUE(m, 4)
#define VALUES_6(m) VALUES_5(m), VALUE(m, 5)
#define DEFINE_CALLS(n, mask)                                                                   \
  static uint64_t call_integer_##n##_##mask(void *target, const argument_slot *slots) {        \
    return ((uint64_t(*)(PARAMS_##n(mask)))target)(VALUES_##n(mask));                          \
  }                                                                                             \
  static double call_real_##n##_##mask(void *target, const argument_slot *slots) {             \
    return ((double (*)(PARAMS_##n(mask)))target)(VALUES_##n(mask));                           \
  }
/* Every mask of n bits, spelled as a binary literal (0b...), so that it is
 * both a number and part of a name. */
#define MASKS_1(X, n, p) X(n, p##0) X(n, p##1)
#define MASKS_2(X, n, p) MASKS_1(X, n, p##0) MASKS_1(X, n, p##1)
#define MASKS_3(X, n, p) MASKS_2(X, n, p##0) MASKS_2(X, n, p##1)
#define MASKS_4(X, n, p) MASKS_3(X, n, p##0) MASKS_3(X, n, p##1)
#define MASKS_5(X, n, p) MASKS_4(X, n, p##0) MASKS_4(X, n, p##1)
#define MASKS_6(X, n, p) MASKS_5(X, n, p##0) MASKS_5(X, n, p##1)
#define EVERY_PATTERN(X) MASKS_3(X, 3, 0b) MASKS_4(X, 4, 0b) MASKS_5(X, 5, 0b) MASKS_6(X, 6, 0b)
EVERY_PATTERN(DEFINE_CALLS)

static const struct {
  uint64_t (*integer)(void *target, const argument_slot *slots);
  double (*real)(void *target, const argument_slot *slots);
} composed_calls[7][64] = {
#define LIST_CALLS(n, mask) [n][mask] = {call_integer_##n##_##mask, call_real_##n##_##mask},
    EVERY_PATTERN(LIST_CALLS)
#undef LIST_CALLS
};
#undef DEFINE_CALLS
#undef EVERY_PATTERN
#undef MASKS_1
#undef MASKS_2
#undef MASKS_3
#undef MASKS_4
#undef MASKS_5
#undef MASKS_6
#undef PARAMS_3
#undef PARAMS_4
#undef PARAMS_5
#undef PARAMS_6
#undef VALUES_3
#undef VALUES_4
#undef VALUES_5
#undef VALUES_6
#undef PARAM
#undef VALUE

/* The second chance, out of line: the entry then keeps no slot address
 * across its reads for it. */
__attribute__((noinline)) static bool read_second(napi_env env, const cffi_function *fn, unsigned i,
                                                  const napi_value *argv, argument_slot *slots) {
  return fn->composed.second[i] && fn->composed.second[i](env, argv[i], &slots[i]) == napi_ok;
}

/* Argument i into its slot: false if neither reader takes the value. */
static inline __attribute__((always_inline)) bool read_composed(napi_env env, const cffi_function *fn, unsigned i,
                                                                const napi_value *argv, argument_slot *slots) {
  if (CFFI_LIKELY(fn->composed.read[i](env, argv[i], &slots[i]) == napi_ok)) return true;
  return read_second(env, fn, i, argv, slots);
}

/* A composed wrapper's body: shaped()'s, with the parts in fn. The reads'
 * loop is unrolled (GCC unroll): as a loop it costs three instructions an
 * argument, and two more callee-saved registers. */
static inline __attribute__((always_inline)) napi_value composed(napi_env env, napi_callback_info info,
                                                                 cffi_function *fn, unsigned n, int result_kind) {
  struct {
    size_t argc;
    napi_value argv[6], result;
  } frame;
  argument_slot slots[6];
  volatile napi_callback_info info_for_fallback = info;
  frame.argc = n;
  napi_get_cb_info(env, info, &frame.argc, frame.argv, NULL, NULL);
  if (CFFI_UNLIKELY(frame.argc < n)) goto generic;
#pragma GCC unroll 6
  for (unsigned i = 0; i < 6; i++)
    if (i < n && CFFI_UNLIKELY(!read_composed(env, fn, i, frame.argv, slots))) goto generic;
  cffi_env_state *const state = fn->state;
  enter_call(state);
  uint64_t raw;
  if (result_kind == R_F64) {
    const double d = fn->composed.call.real(fn->address, slots);
    memcpy(&raw, &d, sizeof raw);
  } else {
    raw = fn->composed.call.integer(fn->address, slots);
  }
  return leave_call(state, fn, raw, result_kind, &frame.result);
generic:
  return cffi_call_generic(env, info_for_fallback, n);
}

#define COMPOSED_RETURNS(X, n)                                                                 \
  X(n, R_VOID) X(n, R_I32) X(n, R_U32) X(n, R_I64) X(n, R_U64) X(n, R_F64) X(n, R_CSTRING) X(n, R_TABLE)
#define EVERY_ARITY(X) COMPOSED_RETURNS(X, 3) COMPOSED_RETURNS(X, 4) COMPOSED_RETURNS(X, 5) COMPOSED_RETURNS(X, 6)
#define DEFINE_COMPOSED(n, r)                                                                               \
  __attribute__((optimize("omit-frame-pointer"))) static napi_value composed_##n##_##r(                   \
      napi_env env, napi_callback_info info, cffi_function *fn) {                                           \
    return composed(env, info, fn, n, r);                                                                   \
  }
EVERY_ARITY(DEFINE_COMPOSED)
#undef DEFINE_COMPOSED

static const stub_wrapper composed_wrappers[7][R_TABLE + 1] = {
#define LIST_COMPOSED(n, r) [n][r] = composed_##n##_##r,
    EVERY_ARITY(LIST_COMPOSED)
#undef LIST_COMPOSED
};
#undef EVERY_ARITY
#undef COMPOSED_RETURNS

static int argument_kind(uint8_t type) {
  switch (type) {
    case CFFI_I32: return K_I32;
    case CFFI_U32: return K_U32;
    case CFFI_F64: return K_F64;
    case CFFI_PTR: return K_PTR;
    case CFFI_I64: return K_I64;
    case CFFI_U64: return K_U64;
    default: return -1;
  }
}

static int result_kind(uint8_t type) {
  switch (type) {
    case CFFI_VOID: return R_VOID;
    case CFFI_I32: return R_I32;
    case CFFI_U32: return R_U32;
    case CFFI_I64: return R_I64;
    case CFFI_U64: return R_U64;
    case CFFI_F64: return R_F64;
    case CFFI_CSTRING: return R_CSTRING;
    case CFFI_NAPI_ENV: case CFFI_NAPI_VALUE: return -1;
    default: return cffi_types[type].reg == CFFI_CLASS_INT ? R_TABLE : -1;
  }
}

/* A composed wrapper for fn's signature, its parts written into fn; NULL
 * if the signature has none. */
static stub_wrapper composed_for(cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  const int r = result_kind(sig->returns);
  if (r < 0) return NULL;
  unsigned pattern = 0;
  argument_reader first[6], second[6];
  for (unsigned i = 0; i < sig->nargs; i++) {
    bool in_vector;
    if (!readers_of(sig->args[i], &first[i], &second[i], &in_vector)) return NULL;
    pattern |= (unsigned)in_vector << i;
  }
  memcpy(fn->composed.read, first, sig->nargs * sizeof first[0]);
  memcpy(fn->composed.second, second, sig->nargs * sizeof second[0]);
  if (r == R_F64) fn->composed.call.real = composed_calls[sig->nargs][pattern].real;
  else fn->composed.call.integer = composed_calls[sig->nargs][pattern].integer;
  return composed_wrappers[sig->nargs][r];
}

static stub_wrapper wrapper_for(cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  if (!cffi_jit_eligible(sig) || sig->variadic || sig->takes_env || sig->nargs > 6 || sig->required != sig->nargs)
    return NULL;
  if (sig->nargs > 2) return composed_for(fn);
  int kinds[2] = {K_NONE, K_NONE};
  for (unsigned i = 0; i < sig->nargs; i++)
    if ((kinds[i] = argument_kind(sig->args[i])) < 0) return NULL;
  const int r = result_kind(sig->returns);
  return r < 0 ? NULL : wrappers[kinds[0]][kinds[1]][r];
}

/* Where close() points the entry stubs of a closed owner's functions. */
__attribute__((optimize("omit-frame-pointer"))) static napi_value closed_wrapper(napi_env env, napi_callback_info info,
                                                                                   cffi_function *fn) {
  (void)info;
  return cffi_jit_closed(env, fn);
}

bool cffi_precompiled_take(cffi_function *fn) {
  const stub_wrapper wrapper = fn->jit_stub ? wrapper_for(fn) : NULL;
  if (!wrapper) return false;
  /* Wrappers run on the env's thread only, whose errno this is. */
  fn->state->errno_at = &errno;
  cffi_owner *owner = fn->owner;
  fn->precompiled_link.next = owner->precompiled;
  fn->precompiled_link.prev = &owner->precompiled;
  if (owner->precompiled) owner->precompiled->precompiled_link.prev = &fn->precompiled_link.next;
  owner->precompiled = fn;
  fn->jit_stub->data = fn;
  fn->jit_stub->target = (void *)(owner->open ? wrapper : closed_wrapper);
  return true;
}

void cffi_precompiled_owner_closed(cffi_owner *owner) {
  for (cffi_function *fn = owner->precompiled; fn; fn = fn->precompiled_link.next)
    fn->jit_stub->target = (void *)closed_wrapper;
}

void cffi_precompiled_forget(cffi_function *fn) {
  if (!fn->precompiled_link.prev) return;
  *fn->precompiled_link.prev = fn->precompiled_link.next;
  if (fn->precompiled_link.next) fn->precompiled_link.next->precompiled_link.prev = fn->precompiled_link.prev;
  fn->precompiled_link.prev = NULL;
}
#else
bool cffi_precompiled_take(cffi_function *fn) {
  (void)fn;
  return false;
}

void cffi_precompiled_owner_closed(cffi_owner *owner) { (void)owner; }

void cffi_precompiled_forget(cffi_function *fn) { (void)fn; }
#endif
