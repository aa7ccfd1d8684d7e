/*
 * types.c - the type table and every conversion between JS and C.
 *
 * Owns: the FFIType names and aliases (Bun's exact numbering), one table row
 * per type (size and libffi descriptor, register class, which directions it
 * may be used in, and the functions converting each way), parsing of
 * { args, returns } definitions, and the argument error messages.
 * Adding a kind of type means adding a row here; the call engine only walks
 * the table.
 *
 * Every argument travels as a 64-bit "register image": integers sign- or
 * zero-extended, a double's bits, a float's bits in the low half, a pointer.
 * The register engine passes images straight to registers; libffi reads the
 * first sizeof(type) bytes of the same slot.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

#define MAX_SAFE_INTEGER 9007199254740991.0
#define TWO_POW_64 18446744073709551616.0
#define TWO_POW_63 9223372036854775808.0

/* ---- messages --------------------------------------------------------- */

/* "abs: args[0] expects i32 (a number or BigInt), received a string" */
void cffi_throw_arg_error(cffi_call *call, napi_value value, const char *problem) {
  bool pending = false;
  napi_is_exception_pending(call->env, &pending);
  if (pending) return;
  const cffi_type_info *t = &cffi_types[call->type];
  if (problem) {
    cffi_throw(call->env, "TypeError", "%s: args[%u] expects %s (%s): %s", call->symbol,
               call->index, t->name, t->accepts, problem);
  } else {
    cffi_throw(call->env, "TypeError", "%s: args[%u] expects %s (%s), received %s", call->symbol,
               call->index, t->name, t->accepts, cffi_value_kind(call->env, value));
  }
}

/* ---- numbers ---------------------------------------------------------- */

/* ToInt64 for doubles: truncate, then wrap modulo 2^64; NaN and infinities
 * are 0. Bun does the same for numbers passed as 64-bit arguments. */
static uint64_t wrap_double_to_u64(double d) {
  if (!isfinite(d)) return 0;
  if (d >= -TWO_POW_63 && d < TWO_POW_63) return (uint64_t)(int64_t)d;
  /* fmod is exact. Below -2^63, m + 2^64 lies in (0, 2^63) and is exact
   * too; adding 2^64 to an m in [-2^63, 0) would round (the sum needs a
   * bit more than a double has), hence the int64 cast for that range. */
  double m = fmod(trunc(d), TWO_POW_64);
  if (m >= TWO_POW_63) return (uint64_t)m;
  if (m >= -TWO_POW_63) return (uint64_t)(int64_t)m;
  return (uint64_t)(m + TWO_POW_64);
}

/* For batch() (src/calls/batch_buffer.c), whose staged numbers must wrap as these do. */
uint64_t cffi_number_to_u64(double d) { return wrap_double_to_u64(d); }

/* The slow path for integer-typed arguments: BigInt (wrapped) and booleans
 * (Bun's `val|0` makes them 0 and 1). Everything else is refused. */
static bool integer_slow(cffi_call *call, napi_value value, uint64_t *out) {
  napi_env env = call->env;
  int64_t big;
  bool lossless, flag;
  if (napi_get_value_bigint_int64(env, value, &big, &lossless) == napi_ok) {
    *out = (uint64_t)big;
    return true;
  }
  if (napi_get_value_bool(env, value, &flag) == napi_ok) {
    *out = flag;
    return true;
  }
  cffi_throw_arg_error(call, value, NULL);
  return false;
}

static inline bool get_int32(cffi_call *call, napi_value value, uint64_t *out) {
  int32_t v;
  if (CFFI_LIKELY(napi_get_value_int32(call->env, value, &v) == napi_ok)) {
    *out = (uint64_t)(int64_t)v;
    return true;
  }
  return integer_slow(call, value, out);
}

#define SMALL_INT_TO_C(fn_name, ctype)                                       \
  static bool fn_name(cffi_call *call, napi_value value, uint64_t *out) {   \
    uint64_t wide;                                                           \
    if (CFFI_UNLIKELY(!get_int32(call, value, &wide))) return false;         \
    *out = (uint64_t)(int64_t)(ctype)wide;                                   \
    return true;                                                             \
  }
SMALL_INT_TO_C(to_c_i8, int8_t)
SMALL_INT_TO_C(to_c_u8, uint8_t)
SMALL_INT_TO_C(to_c_i16, int16_t)
SMALL_INT_TO_C(to_c_u16, uint16_t)
SMALL_INT_TO_C(to_c_i32, int32_t)
SMALL_INT_TO_C(to_c_u32, uint32_t)

/* i64/u64 values usually arrive as BigInt (that is what they return). */
static bool to_c_int64(cffi_call *call, napi_value value, uint64_t *out) {
  int64_t big;
  bool lossless;
  if (CFFI_LIKELY(napi_get_value_bigint_int64(call->env, value, &big, &lossless) == napi_ok)) {
    *out = (uint64_t)big;
    return true;
  }
  double d;
  if (napi_get_value_double(call->env, value, &d) == napi_ok) {
    *out = wrap_double_to_u64(d);
    return true;
  }
  return integer_slow(call, value, out);
}

/* i64_fast/u64_fast values usually arrive as numbers. */
static bool to_c_int64_fast(cffi_call *call, napi_value value, uint64_t *out) {
  double d;
  if (CFFI_LIKELY(napi_get_value_double(call->env, value, &d) == napi_ok)) {
    *out = wrap_double_to_u64(d);
    return true;
  }
  return integer_slow(call, value, out);
}

/* Number(x) for a BigInt outside the int64 range: the nearest double
 * (ties to even), Infinity beyond DBL_MAX. The top 64 significant bits are
 * converted by the hardware, with the lowest one set when anything below
 * them is non-zero, so that a tie cut off there still rounds up. */
#define BIGINT_FINITE_WORDS 16 /* 1024 bits: anything longer is beyond DBL_MAX */
static bool bigint_to_double(napi_env env, napi_value value, double *out) {
  uint64_t words[BIGINT_FINITE_WORDS];
  size_t count = BIGINT_FINITE_WORDS;
  int sign;
  if (napi_get_value_bigint_words(env, value, &sign, &count, words) != napi_ok) return false;
  if (count > BIGINT_FINITE_WORDS) {
    *out = sign ? -INFINITY : INFINITY;
    return true;
  }
  while (count > 0 && words[count - 1] == 0) count--;
  if (count <= 1) {
    double d = count ? (double)words[0] : 0;
    *out = sign ? -d : d;
    return true;
  }
  const uint64_t top = words[count - 1], next = words[count - 2];
  int lead = 0; /* 0..63: the top 64 bits straddle two words when > 0 */
  while (!(top << lead >> 63)) lead++;
  uint64_t kept = lead ? (top << lead) | (next >> (64 - lead)) : top;
  bool sticky = lead ? (next << lead) != 0 : next != 0;
  for (size_t i = 0; !sticky && i < count - 2; i++) sticky = words[i] != 0;
  double d = ldexp((double)(kept | (uint64_t)sticky), (int)(count - 1) * 64 - lead);
  *out = sign ? -d : d;
  return true;
}

static bool get_double(cffi_call *call, napi_value value, double *out) {
  if (CFFI_LIKELY(napi_get_value_double(call->env, value, out) == napi_ok)) return true;
  int64_t big;
  bool lossless, flag;
  if (napi_get_value_bigint_int64(call->env, value, &big, &lossless) == napi_ok) {
    if (lossless) *out = (double)big;
    else bigint_to_double(call->env, value, out);
    return true;
  }
  if (napi_get_value_bool(call->env, value, &flag) == napi_ok) {
    *out = flag;
    return true;
  }
  cffi_throw_arg_error(call, value, NULL);
  return false;
}

static bool to_c_f64(cffi_call *call, napi_value value, uint64_t *out) {
  double d;
  if (CFFI_UNLIKELY(!get_double(call, value, &d))) return false;
  memcpy(out, &d, sizeof d);
  return true;
}

static bool to_c_f32(cffi_call *call, napi_value value, uint64_t *out) {
  double d;
  if (CFFI_UNLIKELY(!get_double(call, value, &d))) return false;
  float f = (float)d;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  *out = bits;
  return true;
}

/* Bun converts with `!!val`; so do we. */
static bool to_c_bool(cffi_call *call, napi_value value, uint64_t *out) {
  bool b;
  if (CFFI_LIKELY(napi_get_value_bool(call->env, value, &b) == napi_ok)) {
    *out = b;
    return true;
  }
  napi_value coerced;
  if (napi_coerce_to_bool(call->env, value, &coerced) != napi_ok ||
      napi_get_value_bool(call->env, coerced, &b) != napi_ok) {
    cffi_throw_arg_error(call, value, NULL);
    return false;
  }
  *out = b;
  return true;
}

/* ---- pointers --------------------------------------------------------- */

/* How a number or BigInt reads as an address. C receives negative values
 * as two's complement (SQLITE_TRANSIENT is (void *)-1, SIG_IGN is 1): Bun
 * passes them, so pointer arguments take them. The memory helpers, which
 * dereference what they get, take only ADDRESS_PLAIN in the user range. */
typedef enum {
  ADDRESS_PLAIN,    /* an integer in [0, 2^64) */
  ADDRESS_NEGATIVE, /* an integer in [-2^63, 0), *out is its two's complement */
  ADDRESS_INVALID,  /* a fraction, NaN, an infinity or outside [-2^63, 2^64) */
} address_form;

static address_form double_to_address(double d, uint64_t *out) {
  if (CFFI_LIKELY(d >= 0 && d < TWO_POW_64 && d == trunc(d))) {
    *out = (uint64_t)d;
    return ADDRESS_PLAIN;
  }
  if (d < 0 && d >= -TWO_POW_63 && d == trunc(d)) {
    *out = (uint64_t)(int64_t)d;
    return ADDRESS_NEGATIVE;
  }
  return ADDRESS_INVALID;
}

static address_form bigint_to_address(napi_env env, napi_value value, uint64_t *out) {
  bool lossless;
  int64_t signed_value;
  if (napi_get_value_bigint_uint64(env, value, out, &lossless) == napi_ok && lossless) return ADDRESS_PLAIN;
  if (napi_get_value_bigint_int64(env, value, &signed_value, &lossless) == napi_ok && lossless &&
      signed_value < 0) {
    *out = (uint64_t)signed_value;
    return ADDRESS_NEGATIVE;
  }
  return ADDRESS_INVALID;
}

/* Data pointer and byte length of a TypedArray, DataView or ArrayBuffer
 * (false if the value is none of those). Views include their byte offset.
 * Runs no user JS. */
bool cffi_plain_view_info(napi_env env, napi_value value, void **data, size_t *length) {
  napi_typedarray_type type;
  size_t count;
  if (napi_get_typedarray_info(env, value, &type, &count, data, NULL, NULL) == napi_ok) {
    static const size_t element_size[] = {
        [napi_int8_array] = 1,    [napi_uint8_array] = 1,     [napi_uint8_clamped_array] = 1,
        [napi_int16_array] = 2,   [napi_uint16_array] = 2,    [napi_int32_array] = 4,
        [napi_uint32_array] = 4,  [napi_float32_array] = 4,   [napi_float64_array] = 8,
        [napi_bigint64_array] = 8, [napi_biguint64_array] = 8,
    };
    size_t size = (size_t)type < sizeof element_size / sizeof element_size[0] ? element_size[type] : 1;
    *length = count * (size ? size : 1);
    return true;
  }
  if (napi_get_dataview_info(env, value, length, data, NULL, NULL) == napi_ok) return true;
  if (napi_get_arraybuffer_info(env, value, data, length) == napi_ok) return true;
  return false;
}

/* SharedArrayBuffer: Node-API has no call for its memory (Node 20's
 * napi_get_arraybuffer_info refuses it), but a Uint8Array over one is an
 * ordinary TypedArray. A value is taken for one when its prototype is
 * SharedArrayBuffer.prototype and the built-in byteLength getter accepts it
 * (that getter throws for anything else without running user code; the
 * prototype test spares that exception to every other object). The
 * built-ins are the ones captured at load, before user code could replace
 * them. For a Proxy, asking for the prototype runs its trap: callers treat
 * any object as possibly having run user JS. */
void cffi_types_init(napi_env env, cffi_env_state *state) {
  static const char source[] =
      "(() => { if (typeof SharedArrayBuffer !== 'function') return undefined;"
      " const p = SharedArrayBuffer.prototype;"
      " return [p, Object.getOwnPropertyDescriptor(p, 'byteLength').get, Uint8Array]; })()";
  napi_value script, found, items[3];
  bool is_array = false;
  if (napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &script) != napi_ok ||
      napi_run_script(env, script, &found) != napi_ok || napi_is_array(env, found, &is_array) != napi_ok ||
      !is_array) {
    napi_get_and_clear_last_exception(env, &found);
    return;
  }
  for (uint32_t i = 0; i < 3; i++)
    if (napi_get_element(env, found, i, &items[i]) != napi_ok) return;
  napi_create_reference(env, items[0], 1, &state->shared_buffer_prototype);
  napi_create_reference(env, items[1], 1, &state->shared_buffer_length_getter);
  napi_create_reference(env, items[2], 1, &state->uint8array_constructor);
}

static bool shared_buffer_info(napi_env env, napi_value value, void **data, size_t *length) {
  napi_valuetype t;
  cffi_env_state *state;
  napi_value prototype, expected, getter, ignored, constructor, view;
  bool same = false;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_object) return false;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || !state || !state->uint8array_constructor) return false;
  if (napi_get_prototype(env, value, &prototype) != napi_ok ||
      napi_get_reference_value(env, state->shared_buffer_prototype, &expected) != napi_ok ||
      napi_strict_equals(env, prototype, expected, &same) != napi_ok || !same)
    return false;
  if (napi_get_reference_value(env, state->shared_buffer_length_getter, &getter) != napi_ok) return false;
  if (napi_call_function(env, value, getter, 0, NULL, &ignored) != napi_ok) {
    napi_get_and_clear_last_exception(env, &ignored); /* an impostor: not ours to report */
    return false;
  }
  if (napi_get_reference_value(env, state->uint8array_constructor, &constructor) != napi_ok ||
      napi_new_instance(env, constructor, 1, &value, &view) != napi_ok ||
      napi_get_typedarray_info(env, view, NULL, length, data, NULL, NULL) != napi_ok) {
    napi_get_and_clear_last_exception(env, &ignored);
    return false;
  }
  return true;
}

/* Data pointer and byte length of a TypedArray, DataView, ArrayBuffer or
 * SharedArrayBuffer (false if the value is none of those). */
bool cffi_view_info(napi_env env, napi_value value, void **data, size_t *length) {
  return cffi_plain_view_info(env, value, data, length) || shared_buffer_info(env, value, data, length);
}

/* Whether a view (or ArrayBuffer) is over a detached ArrayBuffer: one that
 * was transferred away and has no memory. Asked only when the data pointer
 * is NULL, so ordinary calls pay nothing for it. */
bool cffi_view_detached(napi_env env, napi_value value) {
  napi_value buffer = value;
  bool is = false, detached = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    if (napi_get_typedarray_info(env, value, NULL, NULL, NULL, &buffer, NULL) != napi_ok) return false;
  } else if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, value, NULL, NULL, &buffer, NULL) != napi_ok) return false;
  }
  return napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached;
}

#define DETACHED_PROBLEM "its ArrayBuffer is detached (transferred), so it has no memory to pass"

/* Number, BigInt, or an object whose `ptr` property is one (a JSCallback,
 * a bound FFI function). `null`/`undefined` are NULL. False when the value
 * is none of those (or an exception is pending); else *form says how the
 * number read. */
static bool address_from_scalar(napi_env env, napi_value value, uint64_t *out, address_form *form) {
  napi_valuetype t;
  *form = ADDRESS_PLAIN;
  if (napi_typeof(env, value, &t) != napi_ok) return false;
  switch (t) {
    case napi_null:
    case napi_undefined: *out = 0; return true;
    case napi_number: {
      double d;
      napi_get_value_double(env, value, &d);
      *form = double_to_address(d, out);
      return true;
    }
    case napi_bigint: *form = bigint_to_address(env, value, out); return true;
    case napi_object:
    case napi_function: {
      bool has = false;
      napi_value inner;
      napi_valuetype inner_type;
      if (napi_has_named_property(env, value, "ptr", &has) != napi_ok || !has) return false;
      if (napi_get_named_property(env, value, "ptr", &inner) != napi_ok) return false;
      if (napi_typeof(env, inner, &inner_type) != napi_ok) return false;
      if (inner_type != napi_number && inner_type != napi_bigint) return false;
      return address_from_scalar(env, inner, out, form);
    }
    default: return false;
  }
}

/* For memory helpers and function pointers given to linkSymbols/CFunction:
 * an address they may dereference, so only a non-negative integer below
 * the user-space limit (number, BigInt, object with .ptr). */
bool cffi_value_to_address(napi_env env, napi_value value, const char *what, uint64_t *out) {
  address_form form;
  if (address_from_scalar(env, value, out, &form)) {
    if (CFFI_LIKELY(form == ADDRESS_PLAIN && *out < CFFI_USER_ADDRESS_LIMIT)) return true;
    const char *problem = form == ADDRESS_NEGATIVE ? "a negative value, which is not a valid address"
                          : form == ADDRESS_INVALID ? "a value that is not a valid address (fractional, NaN, infinite or beyond 64 bits)"
                                                    : NULL;
    if (problem)
      cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE,
                      "%s expects a pointer (a non-negative integer number or BigInt), received %s", what, problem);
    else
      cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE,
                      "%s expects a pointer, received 0x%llx, which is not a valid address (above the user-space range)",
                      what, (unsigned long long)*out);
    return false;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending)
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE,
                    "%s expects a pointer (a non-negative integer number or BigInt), received %s", what,
                    cffi_value_kind(env, value));
  return false;
}

#define ADDRESS_PROBLEM "a number that is not a valid address (fractional, NaN, infinite or outside [-2^63, 2^64))"

/* A pointer argument. `sentinels`: negative values pass as two's complement
 * (for ptr/function, where C may compare them with (void *)-1); a cstring
 * is read as text (by C, or by us for a callback's result), so it takes
 * only non-negative addresses. */
static inline bool address_to_c(cffi_call *call, napi_value value, uint64_t *out, bool sentinels) {
  napi_env env = call->env;
  void *data;
  if (napi_get_typedarray_info(env, value, NULL, NULL, &data, NULL, NULL) == napi_ok) {
    if (CFFI_UNLIKELY(!data) && cffi_view_detached(env, value)) {
      cffi_throw_arg_error(call, value, DETACHED_PROBLEM);
      return false;
    }
    *out = (uintptr_t)data;
    return true;
  }
  double d;
  if (napi_get_value_double(env, value, &d) == napi_ok) {
    address_form form = double_to_address(d, out);
    if (CFFI_LIKELY(form == ADDRESS_PLAIN || (sentinels && form == ADDRESS_NEGATIVE))) return true;
    cffi_throw_arg_error(call, value, sentinels ? ADDRESS_PROBLEM : "a number that is not a valid address (negative, fractional, NaN or infinite)");
    return false;
  }
  size_t length;
  if (cffi_plain_view_info(env, value, &data, &length)) {
    if (!data && cffi_view_detached(env, value)) {
      cffi_throw_arg_error(call, value, DETACHED_PROBLEM);
      return false;
    }
    *out = (uintptr_t)data;
    return true;
  }
  /* Any other object: its .ptr may be a getter, it may be a Proxy. */
  napi_valuetype t;
  if (napi_typeof(env, value, &t) == napi_ok && (t == napi_object || t == napi_function)) cffi_call_before_js(call);
  address_form form;
  if (address_from_scalar(env, value, out, &form)) {
    if (form == ADDRESS_PLAIN || (sentinels && form == ADDRESS_NEGATIVE)) return true;
    cffi_throw_arg_error(call, value, sentinels ? "a BigInt or .ptr outside [-2^63, 2^64), which is not a valid address"
                                                : "a negative or out-of-range BigInt or .ptr, which is not a valid address");
    return false;
  }
  if (shared_buffer_info(env, value, &data, &length)) {
    *out = (uintptr_t)data;
    return true;
  }
  cffi_throw_arg_error(call, value, NULL);
  return false;
}

static bool to_c_pointer(cffi_call *call, napi_value value, uint64_t *out) {
  return address_to_c(call, value, out, true);
}

/* A JS string is encoded as NUL-terminated UTF-8 that lives until the call
 * returns: in the call's stack scratch when it fits, else on the heap. */
static bool to_c_cstring(cffi_call *call, napi_value value, uint64_t *out) {
  napi_env env = call->env;
  size_t avail = CFFI_STRING_SCRATCH - call->scratch_used;
  char *buf = call->scratch + call->scratch_used;
  size_t written = 0, full = 0;
  napi_status status = napi_string_expected;
  if (avail >= 8) status = napi_get_value_string_utf8(env, value, buf, avail, &written);
  /* Room for one more 4-byte sequence proves nothing was cut off. */
  if (status == napi_ok && written + 5 <= avail) {
    call->scratch_used += (uint32_t)written + 1;
    *out = (uintptr_t)buf;
    return true;
  }
  /* Not a string: an address. Else its exact length decides where it goes. */
  if (napi_get_value_string_utf8(env, value, NULL, 0, &full) != napi_ok) return address_to_c(call, value, out, false);
  if (status == napi_ok && full == written) {
    call->scratch_used += (uint32_t)written + 1;
    *out = (uintptr_t)buf;
    return true;
  }
  char *heap = cffi_call_alloc(call, full + 1);
  if (!heap) {
    cffi_throw(env, "RangeError", "%s: args[%u]: out of memory encoding a %zu-byte string",
               call->symbol, call->index, full);
    return false;
  }
  napi_get_value_string_utf8(env, value, heap, full + 1, &written);
  *out = (uintptr_t)heap;
  return true;
}

bool cffi_string_address_to_c(cffi_call *call, napi_value value, uint64_t *out) {
  return address_to_c(call, value, out, false);
}

static bool to_c_buffer(cffi_call *call, napi_value value, uint64_t *out) {
  void *data;
  if (CFFI_LIKELY(napi_get_typedarray_info(call->env, value, NULL, NULL, &data, NULL, NULL) ==
                  napi_ok)) {
    if (CFFI_UNLIKELY(!data) && cffi_view_detached(call->env, value)) {
      cffi_throw_arg_error(call, value, DETACHED_PROBLEM);
      return false;
    }
    *out = (uintptr_t)data;
    return true;
  }
  size_t length;
  if (napi_get_dataview_info(call->env, value, &length, &data, NULL, NULL) == napi_ok) {
    if (!data && cffi_view_detached(call->env, value)) {
      cffi_throw_arg_error(call, value, DETACHED_PROBLEM);
      return false;
    }
    *out = (uintptr_t)data;
    return true;
  }
  cffi_throw_arg_error(call, value, NULL);
  return false;
}

static bool to_c_buffer_length(cffi_call *call, napi_value value, uint64_t *out) {
  void *data;
  size_t length;
  if (CFFI_LIKELY(cffi_view_info(call->env, value, &data, &length))) {
    *out = length;
    return true;
  }
  cffi_throw_arg_error(call, value, NULL);
  return false;
}

static bool to_c_napi_env(cffi_call *call, napi_value value, uint64_t *out) {
  (void)value;
  *out = (uintptr_t)call->env;
  return true;
}

static bool to_c_napi_value(cffi_call *call, napi_value value, uint64_t *out) {
  (void)call;
  *out = (uintptr_t)value;
  return true;
}

/* ---- C -> JS ---------------------------------------------------------- */

#define SMALL_INT_TO_JS(fn_name, ctype)                          \
  static napi_value fn_name(napi_env env, uint64_t raw) {       \
    napi_value result;                                           \
    napi_create_int32(env, (int32_t)(ctype)raw, &result);        \
    return result;                                               \
  }
SMALL_INT_TO_JS(to_js_i8, int8_t)
SMALL_INT_TO_JS(to_js_u8, uint8_t)
SMALL_INT_TO_JS(to_js_i16, int16_t)
SMALL_INT_TO_JS(to_js_u16, uint16_t)
SMALL_INT_TO_JS(to_js_i32, int32_t)

static napi_value to_js_u32(napi_env env, uint64_t raw) {
  napi_value result;
  napi_create_uint32(env, (uint32_t)raw, &result);
  return result;
}

static napi_value to_js_i64(napi_env env, uint64_t raw) {
  napi_value result;
  napi_create_bigint_int64(env, (int64_t)raw, &result);
  return result;
}

static napi_value to_js_u64(napi_env env, uint64_t raw) {
  napi_value result;
  napi_create_bigint_uint64(env, raw, &result);
  return result;
}

static napi_value to_js_i64_fast(napi_env env, uint64_t raw) {
  int64_t v = (int64_t)raw;
  napi_value result;
  if (v >= -(int64_t)MAX_SAFE_INTEGER && v <= (int64_t)MAX_SAFE_INTEGER) {
    napi_create_int64(env, v, &result);
  } else {
    napi_create_bigint_int64(env, v, &result);
  }
  return result;
}

static napi_value to_js_u64_fast(napi_env env, uint64_t raw) {
  napi_value result;
  if (raw <= (uint64_t)MAX_SAFE_INTEGER) {
    napi_create_int64(env, (int64_t)raw, &result);
  } else {
    napi_create_bigint_uint64(env, raw, &result);
  }
  return result;
}

static napi_value to_js_f64(napi_env env, uint64_t raw) {
  double d;
  memcpy(&d, &raw, sizeof d);
  napi_value result;
  napi_create_double(env, d, &result);
  return result;
}

static napi_value to_js_f32(napi_env env, uint64_t raw) {
  uint32_t bits = (uint32_t)raw;
  float f;
  memcpy(&f, &bits, sizeof f);
  napi_value result;
  napi_create_double(env, (double)f, &result);
  return result;
}

static napi_value to_js_bool(napi_env env, uint64_t raw) {
  napi_value result;
  napi_get_boolean(env, (uint8_t)raw != 0, &result);
  return result;
}

/* NULL is null; addresses beyond 2^53 become BigInt so none is rounded. */
napi_value cffi_address_to_js(napi_env env, uint64_t address) {
  napi_value result;
  if (address == 0) {
    napi_get_null(env, &result);
  } else if (address <= (uint64_t)MAX_SAFE_INTEGER) {
    napi_create_int64(env, (int64_t)address, &result);
  } else {
    napi_create_bigint_uint64(env, address, &result);
  }
  return result;
}

static napi_value to_js_cstring(napi_env env, uint64_t raw) {
  napi_value result;
  if (raw == 0) {
    napi_get_null(env, &result);
  } else {
    napi_create_string_utf8(env, (const char *)(uintptr_t)raw, NAPI_AUTO_LENGTH, &result);
  }
  return result;
}

static napi_value to_js_napi_value(napi_env env, uint64_t raw) {
  (void)env;
  return (napi_value)(uintptr_t)raw;
}

static napi_value to_js_void(napi_env env, uint64_t raw) {
  (void)env;
  (void)raw;
  return NULL;
}

/* "(i32, ptr) -> f64" for logs. */
void cffi_describe_signature(const cffi_signature *sig, char *out, size_t len) {
  size_t used = (size_t)snprintf(out, len, "(");
  for (unsigned i = 0; i < sig->nargs && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s%s", i ? ", " : "",
                             sig->variadic && i == sig->fixed ? "...: " : "", cffi_types[sig->args[i]].name);
  /* A variadic symbol's own (undeclared) tail (src/calls/variadic.c). */
  if (sig->variadic && sig->nargs == sig->fixed && !sig->tail_declared && used < len)
    used += (size_t)snprintf(out + used, len - used, ", ...");
  if (used < len) snprintf(out + used, len - used, ") -> %s", cffi_types[sig->returns].name);
}

/* ---- the table -------------------------------------------------------- */

#define NUMBER_OR_BIGINT "a number or BigInt"
#define POINTER_LIKE "a number, BigInt, null, TypedArray, ArrayBuffer, SharedArrayBuffer, DataView or object with .ptr"

const cffi_type_info cffi_types[CFFI_TYPE_ROWS] = {
    [CFFI_CHAR] = {"char", "char", NUMBER_OR_BIGINT, &ffi_type_sint8, CFFI_CLASS_INT, true, true, to_c_i8, to_js_i8},
    [CFFI_I8] = {"i8", "int8_t", NUMBER_OR_BIGINT, &ffi_type_sint8, CFFI_CLASS_INT, true, true, to_c_i8, to_js_i8},
    [CFFI_U8] = {"u8", "uint8_t", NUMBER_OR_BIGINT, &ffi_type_uint8, CFFI_CLASS_INT, true, true, to_c_u8, to_js_u8},
    [CFFI_I16] = {"i16", "int16_t", NUMBER_OR_BIGINT, &ffi_type_sint16, CFFI_CLASS_INT, true, true, to_c_i16, to_js_i16},
    [CFFI_U16] = {"u16", "uint16_t", NUMBER_OR_BIGINT, &ffi_type_uint16, CFFI_CLASS_INT, true, true, to_c_u16, to_js_u16},
    [CFFI_I32] = {"i32", "int32_t", NUMBER_OR_BIGINT, &ffi_type_sint32, CFFI_CLASS_INT, true, true, to_c_i32, to_js_i32},
    [CFFI_U32] = {"u32", "uint32_t", NUMBER_OR_BIGINT, &ffi_type_uint32, CFFI_CLASS_INT, true, true, to_c_u32, to_js_u32},
    [CFFI_I64] = {"i64", "int64_t", NUMBER_OR_BIGINT, &ffi_type_sint64, CFFI_CLASS_INT, true, true, to_c_int64, to_js_i64},
    [CFFI_U64] = {"u64", "uint64_t", NUMBER_OR_BIGINT, &ffi_type_uint64, CFFI_CLASS_INT, true, true, to_c_int64, to_js_u64},
    [CFFI_F64] = {"f64", "double", "a number", &ffi_type_double, CFFI_CLASS_FLOAT, true, true, to_c_f64, to_js_f64},
    [CFFI_F32] = {"f32", "float", "a number", &ffi_type_float, CFFI_CLASS_FLOAT, true, true, to_c_f32, to_js_f32},
    [CFFI_BOOL] = {"bool", "bool", "any value, tested for truthiness", &ffi_type_uint8, CFFI_CLASS_INT, true, true, to_c_bool, to_js_bool},
    [CFFI_PTR] = {"ptr", "void*", POINTER_LIKE, &ffi_type_pointer, CFFI_CLASS_INT, true, true, to_c_pointer, cffi_address_to_js},
    [CFFI_VOID] = {"void", "void", "nothing", &ffi_type_void, CFFI_CLASS_NONE, false, true, NULL, to_js_void},
    [CFFI_CSTRING] = {"cstring", "char*", "a string or " POINTER_LIKE, &ffi_type_pointer, CFFI_CLASS_INT, true, true, to_c_cstring, to_js_cstring},
    [CFFI_I64_FAST] = {"i64_fast", "int64_t", NUMBER_OR_BIGINT, &ffi_type_sint64, CFFI_CLASS_INT, true, true, to_c_int64_fast, to_js_i64_fast},
    [CFFI_U64_FAST] = {"u64_fast", "uint64_t", NUMBER_OR_BIGINT, &ffi_type_uint64, CFFI_CLASS_INT, true, true, to_c_int64_fast, to_js_u64_fast},
    [CFFI_FUNCTION] = {"function", "void*", "a function pointer: a number, BigInt, null or JSCallback", &ffi_type_pointer, CFFI_CLASS_INT, true, true, to_c_pointer, cffi_address_to_js},
    [CFFI_NAPI_ENV] = {"napi_env", "napi_env", "nothing (the current env is passed)", &ffi_type_pointer, CFFI_CLASS_INT, true, false, to_c_napi_env, NULL},
    [CFFI_NAPI_VALUE] = {"napi_value", "napi_value", "any value", &ffi_type_pointer, CFFI_CLASS_INT, true, true, to_c_napi_value, to_js_napi_value},
    /* Not a return type, as in Bun: a returned pointer has no length. */
    [CFFI_BUFFER] = {"buffer", "void*", "a TypedArray or DataView", &ffi_type_pointer, CFFI_CLASS_INT, true, false, to_c_buffer, cffi_address_to_js},
    [CFFI_BUFFER_LENGTH] = {"buffer_length", "size_t", "a TypedArray, DataView, ArrayBuffer or SharedArrayBuffer", &ffi_type_uint64, CFFI_CLASS_INT, true, true, to_c_buffer_length, to_js_u64_fast},
    /* Wide strings, beyond Bun (src/types/wide_strings.c). */
    [CFFI_CSTRING16] = {"cstring16", "char16_t*", "a string or " POINTER_LIKE, &ffi_type_pointer, CFFI_CLASS_INT, true, true, cffi_to_c_cstring16, cffi_to_js_cstring16},
    [CFFI_WSTRING] = {"wstring", "wchar_t*", "a string or " POINTER_LIKE, &ffi_type_pointer, CFFI_CLASS_INT, true, true, cffi_to_c_wstring, cffi_to_js_wstring},
    /* Layout rows (src/types/layout.c): the signature holds which layout;
     * the ffi_type is the layout's (NULL here), results go through cffi_struct_result. */
    [CFFI_STRUCT_VALUE] = {"struct", "struct", "an object with its fields, a view, or a buffer of its size", NULL, CFFI_CLASS_NONE, true, true, cffi_struct_arg_to_c, NULL},
    [CFFI_OUT_POINTER] = {"out", "void*", "a [value] array, a TypedArray, an object to fill in, or null", &ffi_type_pointer, CFFI_CLASS_INT, true, false, cffi_out_arg_to_c, NULL},
};

/* Every name Bun's FFIType has, in Bun's order. */
static const struct {
  const char *name;
  uint8_t id;
} type_aliases[] = {
    {"bool", CFFI_BOOL},        {"c_int", CFFI_I32},        {"c_uint", CFFI_U32},
    {"char", CFFI_CHAR},        {"char*", CFFI_PTR},        {"double", CFFI_F64},
    {"f32", CFFI_F32},          {"f64", CFFI_F64},          {"float", CFFI_F32},
    {"i16", CFFI_I16},          {"i32", CFFI_I32},          {"i64", CFFI_I64},
    {"i8", CFFI_I8},            {"int", CFFI_I32},          {"int16_t", CFFI_I16},
    {"int32_t", CFFI_I32},      {"int64_t", CFFI_I64},      {"int8_t", CFFI_I8},
    {"isize", CFFI_I64},        {"u16", CFFI_U16},          {"u32", CFFI_U32},
    {"u64", CFFI_U64},          {"u8", CFFI_U8},            {"uint16_t", CFFI_U16},
    {"uint32_t", CFFI_U32},     {"uint64_t", CFFI_U64},     {"uint8_t", CFFI_U8},
    {"usize", CFFI_U64},        {"void*", CFFI_PTR},        {"ptr", CFFI_PTR},
    {"pointer", CFFI_PTR},      {"void", CFFI_VOID},        {"cstring", CFFI_CSTRING},
    {"i64_fast", CFFI_I64_FAST}, {"u64_fast", CFFI_U64_FAST}, {"function", CFFI_FUNCTION},
    {"callback", CFFI_FUNCTION}, {"fn", CFFI_FUNCTION},      {"napi_env", CFFI_NAPI_ENV},
    {"napi_value", CFFI_NAPI_VALUE}, {"buffer", CFFI_BUFFER}, {"buffer_length", CFFI_BUFFER_LENGTH},
    {"buffer_bytelength", CFFI_BUFFER_LENGTH},
    /* Not in Bun: wide strings. */
    {"cstring16", CFFI_CSTRING16}, {"wstring", CFFI_WSTRING},
};

/* Bun's FFIType also maps the strings "0".."17" to themselves. */
#define FFITYPE_NUMERIC_KEYS 18

napi_value cffi_make_ffitype_object(napi_env env) {
  napi_value object, value;
  if (napi_create_object(env, &object) != napi_ok) return NULL;
  for (int i = 0; i < FFITYPE_NUMERIC_KEYS; i++) {
    char key[4];
    snprintf(key, sizeof key, "%d", i);
    napi_create_int32(env, i, &value);
    napi_set_named_property(env, object, key, value);
  }
  for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++) {
    napi_create_int32(env, type_aliases[i].id, &value);
    /* Names beyond Bun's are not enumerable: a Bun program listing
     * FFIType's keys sees Bun's. */
    if (type_aliases[i].id == CFFI_CSTRING16 || type_aliases[i].id == CFFI_WSTRING) {
      napi_property_descriptor hidden = {type_aliases[i].name, NULL, NULL, NULL, NULL, value, napi_default, NULL};
      napi_define_properties(env, object, 1, &hidden);
      continue;
    }
    napi_set_named_property(env, object, type_aliases[i].name, value);
  }
  napi_object_freeze(env, object);
  return object;
}

static void format_where(char *where, size_t len, int arg) {
  if (arg < 0) snprintf(where, len, "returns");
  else snprintf(where, len, "args[%d]", arg);
}

static bool lookup_type_name(const char *name, cffi_type_id *out) {
  /* First characters compared inline: most names are rejected without a call. */
  for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++) {
    if (type_aliases[i].name[0] == name[0] && strcmp(type_aliases[i].name, name) == 0) {
      *out = (cffi_type_id)type_aliases[i].id;
      return true;
    }
  }
  char *end;
  long n = strtol(name, &end, 10);
  if (*name && *end == 0 && n >= 0 && n < CFFI_TYPE_COUNT) {
    *out = (cffi_type_id)n;
    return true;
  }
  return false;
}

/* A type given as a number (FFIType.i32) or any of Bun's names ("int32_t"). */
/* `arg` is the argument's index, or -1 for the return type: the "where" of
 * messages, formatted only when there is one to give. */
bool cffi_type_from_value(napi_env env, napi_value value, const char *symbol, int arg,
                          cffi_type_id *out) {
  char where[32];
  napi_valuetype t;
  napi_typeof(env, value, &t);
  if (t == napi_string) {
    char name[64];
    size_t len;
    napi_get_value_string_utf8(env, value, name, sizeof name, &len);
    if (len < sizeof name - 1 && strlen(name) == len && lookup_type_name(name, out)) return true;
    format_where(where, sizeof where, arg);
    if (strcmp(name, "...") == 0) {
      cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                      "\"...\" (variadic arguments) may only be the last element of args, found at %s of symbol \"%s\"",
                      where, symbol);
      return false;
    }
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                    "Unknown type \"%s\" in %s of symbol \"%s\" (see FFIType for the names)", name, where, symbol);
    return false;
  }
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, value, &d);
    if (d >= 0 && d < CFFI_TYPE_COUNT && d == trunc(d)) {
      *out = (cffi_type_id)(int)d;
      return true;
    }
    format_where(where, sizeof where, arg);
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                    "Unknown type %g in %s of symbol \"%s\" (FFIType values are 0 to %d)", d, where, symbol,
                    CFFI_TYPE_COUNT - 1);
    return false;
  }
  format_where(where, sizeof where, arg);
  cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                  "Type in %s of symbol \"%s\" must be an FFIType number or name, received %s", where, symbol,
                  cffi_value_kind(env, value));
  return false;
}

static bool is_nullish(napi_env env, napi_value value) {
  napi_valuetype t;
  return napi_typeof(env, value, &t) == napi_ok && (t == napi_undefined || t == napi_null);
}

/* A definition must be a plain object (or function); arrays and primitives
 * are refused with a message naming the symbol. */
bool cffi_check_definition(napi_env env, napi_value definition, const char *symbol) {
  napi_valuetype t;
  bool is_array = false;
  napi_typeof(env, definition, &t);
  napi_is_array(env, definition, &is_array);
  if ((t != napi_object && t != napi_function) || is_array) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                    "Expected an object for key \"%s\": the definition of symbol \"%s\" must be an object like "
                    "{ args: [...], returns: ... }, received %s",
                    symbol, symbol, cffi_value_kind(env, definition));
    return false;
  }
  return true;
}

static bool cffi_parse_result_mode(napi_env env, napi_value definition, const char *symbol, cffi_signature *sig);
/* A struct/union/out type object or registered struct name as args[arg]
 * (or the result, arg -1): 1 with *id set, 0 when value is none, -1 on an
 * exception (the signature's layouts then freed). */
static int layout_type(napi_env env, napi_value value, const char *symbol, int arg, cffi_signature *sig, uint8_t *id) {
  cffi_layout *layout;
  napi_value type_object;
  int found = cffi_layout_lookup(env, value, &layout, &type_object);
  if (found > 0 && !cffi_sig_add_layout(env, sig, arg, layout, type_object, symbol, id)) found = -1;
  if (found < 0) cffi_sig_release_layouts(sig);
  return found;
}

/* { args?: type[], returns?: type, abi?: string } -> sig (types only;
 * call.c prepares it). */
bool cffi_parse_signature(napi_env env, napi_value definition, const char *symbol,
                          cffi_signature *sig) {
  napi_value args, returns, abi;
  if (!cffi_check_definition(env, definition, symbol) ||
      napi_get_named_property(env, definition, "args", &args) != napi_ok ||
      napi_get_named_property(env, definition, "returns", &returns) != napi_ok ||
      napi_get_named_property(env, definition, "abi", &abi) != napi_ok)
    return false;
  if (!cffi_parse_signature_parts(env, args, returns, abi, symbol, sig) ||
      !cffi_parse_result_mode(env, definition, symbol, sig))
    return false;
  /* Deno's spelling: the plain call returns a Promise (src/calls/async_call.c). */
  napi_value nonblocking;
  napi_valuetype t;
  if (napi_get_named_property(env, definition, "nonblocking", &nonblocking) != napi_ok ||
      napi_typeof(env, nonblocking, &t) != napi_ok) {
    cffi_sig_release_layouts(sig);
    return false;
  }
  if (t == napi_boolean) napi_get_value_bool(env, nonblocking, &sig->nonblocking);
  else if (t != napi_undefined) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE,
                    "%s: nonblocking must be a boolean, received %s", symbol, cffi_value_kind(env, nonblocking));
    cffi_sig_release_layouts(sig);
    return false;
  }
  return true;
}

/* A struct result's returnsAs (src/types/layout.c); frees the signature's layouts on failure. */
static bool cffi_parse_result_mode(napi_env env, napi_value definition, const char *symbol, cffi_signature *sig) {
  if (cffi_sig_read_result_mode(env, sig, definition, symbol)) return true;
  cffi_sig_release_layouts(sig);
  return false;
}

/* The same from the three values, for callers that already read them. */
bool cffi_parse_signature_parts(napi_env env, napi_value args, napi_value returns, napi_value abi,
                                const char *symbol, cffi_signature *sig) {
  bool is_array = false;
  memset(sig, 0, offsetof(cffi_signature, cif));
  sig->returns = CFFI_VOID;
  sig->abi = FFI_DEFAULT_ABI;

  if (!is_nullish(env, abi)) {
    char name[32];
    size_t len;
    if (napi_get_value_string_utf8(env, abi, name, sizeof name, &len) != napi_ok) {
      cffi_throw(env, "TypeError", "\"abi\" of symbol \"%s\" must be a string such as \"default\" or \"win64\", received %s",
                 symbol, cffi_value_kind(env, abi));
      return false;
    }
    if (!cffi_abi_from_name(env, name, symbol, &sig->abi)) return false;
  }
  if (!is_nullish(env, args)) {
    uint32_t count;
    napi_is_array(env, args, &is_array);
    if (!is_array) {
      cffi_throw(env, "TypeError", "\"args\" of symbol \"%s\" must be an array of types, received %s",
                 symbol, cffi_value_kind(env, args));
      return false;
    }
    napi_get_array_length(env, args, &count);
    if (count > CFFI_MAX_ARGS) {
      cffi_throw(env, "RangeError", "Symbol \"%s\" has %u arguments; at most %d are supported", symbol,
                 count, CFFI_MAX_ARGS);
      return false;
    }
    if (!cffi_variadic_mark(env, args, &count, symbol, sig)) return false;
    for (uint32_t i = 0; i < count; i++) {
      napi_value element;
      cffi_type_id id;
      uint8_t layout_id;
      if (napi_get_element(env, args, i, &element) != napi_ok) return cffi_sig_release_layouts(sig), false;
      int is_layout = layout_type(env, element, symbol, (int)i, sig, &layout_id);
      if (is_layout < 0) return false;
      if (is_layout) {
        sig->args[i] = layout_id;
        sig->required = (uint8_t)(i + 1);
        continue;
      }
      if (!cffi_type_from_value(env, element, symbol, (int)i, &id)) return cffi_sig_release_layouts(sig), false;
      if (!cffi_types[id].valid_arg) {
        cffi_throw(env, "TypeError", "%s is not a valid argument type (args[%u] of symbol \"%s\")",
                   cffi_types[id].name, i, symbol);
        cffi_sig_release_layouts(sig);
        return false;
      }
      sig->args[i] = (uint8_t)id;
      if (id != CFFI_NAPI_ENV) sig->required = (uint8_t)(i + 1);
      if (id == CFFI_CSTRING || id == CFFI_CSTRING16 || id == CFFI_WSTRING) sig->has_strings = true;
      if (id == CFFI_NAPI_ENV) sig->takes_env = true;
    }
    sig->nargs = (uint8_t)count;
  }

  if (!is_nullish(env, returns)) {
    cffi_type_id id;
    uint8_t layout_id;
    int is_layout = layout_type(env, returns, symbol, -1, sig, &layout_id);
    if (is_layout < 0) return false;
    if (is_layout) {
      sig->returns = layout_id;
      return true;
    }
    if (!cffi_type_from_value(env, returns, symbol, -1, &id)) return cffi_sig_release_layouts(sig), false;
    if (id == CFFI_BUFFER) {
      cffi_throw(env, "TypeError",
                 "Cannot return a buffer to JavaScript (since byteLength and byteOffset are unknown): symbol \"%s\" "
                 "may return \"ptr\" and wrap it with toArrayBuffer(ptr, 0, length)", symbol);
      cffi_sig_release_layouts(sig);
      return false;
    }
    if (!cffi_types[id].valid_return) {
      cffi_throw(env, "TypeError", "%s is not a valid return type (symbol \"%s\")", cffi_types[id].name,
                 symbol);
      cffi_sig_release_layouts(sig);
      return false;
    }
    sig->returns = (uint8_t)id;
  }
  return true;
}
