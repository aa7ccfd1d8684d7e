/*
 * wide_strings.c - the wide string types: cstring16 (NUL-terminated
 * UTF-16LE, what Windows' W functions and char16_t code take) and wstring
 * (the platform's wchar_t: UTF-32 on Linux and macOS, UTF-16 on Windows),
 * as arguments, results, read.cstring16 / read.wstring and write.cstring16 /
 * write.wstring.
 *
 * Their conversions are the type table's to_c / to_js for the two rows
 * (src/types/types.c); they live here because they are one subsystem:
 * UTF-16 <-> code units of 2 or 4 bytes.
 *
 * JS strings are sequences of UTF-16 code units, possibly with lone
 * surrogates. cstring16 passes the units as they are. wstring, where
 * wchar_t is 32 bits, joins each surrogate pair into one code point and
 * passes a lone surrogate as its own value, so that every JS string goes
 * to C and back unchanged; reading, a value above U+10FFFF (not Unicode)
 * becomes U+FFFD. An argument's encoding lives until the call returns: in
 * the call's stack scratch when it fits, else on the heap, as for cstring.
 */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "../cffi.h"

#define WCHAR_IS_UTF32 (WCHAR_MAX > 0xFFFF)
/* Code units of a string read from memory converted on the stack; longer
 * ones use the heap. */
#define STACK_UNITS 256

/* Room for `bytes` that lives until the call returns, aligned to 4. */
static void *call_memory(cffi_call *call, size_t bytes) {
  const uintptr_t base = (uintptr_t)call->scratch;
  const size_t start = ((base + call->scratch_used + 3) & ~(uintptr_t)3) - base;
  if (start <= CFFI_STRING_SCRATCH && CFFI_STRING_SCRATCH - start >= bytes) {
    call->scratch_used = (uint32_t)(start + bytes);
    return call->scratch + start;
  }
  return cffi_call_alloc(call, bytes);
}

/* JS string -> NUL-terminated code units of `unit` bytes (2 or 4), *count
 * of them before the NUL. False for a value that is not a string, with no
 * exception pending; with one, for out of memory. */
static bool encode_string(cffi_call *call, napi_value value, size_t unit, uint64_t *out, size_t *count) {
  size_t length;
  if (napi_get_value_string_utf16(call->env, value, NULL, 0, &length) != napi_ok) return false;
  void *memory = call_memory(call, (length + 1) * unit);
  if (!memory) {
    cffi_throw(call->env, "RangeError", "%s: args[%u]: out of memory encoding a %zu-unit string", call->symbol,
               call->index, length);
    return false;
  }
  if (unit == 2) {
    size_t copied;
    napi_get_value_string_utf16(call->env, value, memory, length + 1, &copied);
    ((char16_t *)memory)[copied] = 0;
    *out = (uintptr_t)memory;
    *count = copied;
    return true;
  }
  /* UTF-32: the UTF-16 units are read into the upper half of the memory
   * and widened in place from the front; output unit k ends at byte
   * 4k + 4, never past an input unit not yet read (at 2(length+1) + 2j,
   * j >= k). */
  uint32_t *wide = memory;
  char16_t *units = (char16_t *)((char *)memory + 2 * (length + 1));
  size_t copied, k = 0;
  napi_get_value_string_utf16(call->env, value, units, length + 1, &copied);
  for (size_t j = 0; j < copied; j++) {
    uint32_t c = units[j];
    if (c >= 0xD800 && c <= 0xDBFF && j + 1 < copied && units[j + 1] >= 0xDC00 && units[j + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (units[j + 1] - 0xDC00u);
      j++;
    }
    wide[k++] = c;
  }
  wide[k] = 0;
  *out = (uintptr_t)memory;
  *count = k;
  return true;
}

/* An argument: a JS string encoded for the call, anything else an address. */
static bool encode(cffi_call *call, napi_value value, size_t unit, uint64_t *out) {
  size_t count;
  bool pending = false;
  if (encode_string(call, value, unit, out, &count)) return true;
  napi_is_exception_pending(call->env, &pending);
  return !pending && cffi_string_address_to_c(call, value, out);
}

bool cffi_to_c_cstring16(cffi_call *call, napi_value value, uint64_t *out) { return encode(call, value, 2, out); }

bool cffi_to_c_wstring(cffi_call *call, napi_value value, uint64_t *out) {
  return encode(call, value, sizeof(wchar_t), out);
}

/* NUL-terminated (or `limit` units long, limit >= 0) units -> JS string. */
static napi_value decode(napi_env env, const void *at, size_t unit, int64_t limit) {
  napi_value result;
  size_t length = 0;
  if (unit == 2) {
    const char16_t *units = at;
    if (limit >= 0) length = (size_t)limit;
    else while (units[length]) length++;
    if (napi_create_string_utf16(env, units, length, &result) != napi_ok) return NULL;
    return result;
  }
  const uint32_t *wide = at;
  if (limit >= 0) length = (size_t)limit;
  else while (wide[length]) length++;
  char16_t stack[STACK_UNITS * 2];
  char16_t *units = length <= STACK_UNITS ? stack : malloc(length * 2 * sizeof *units);
  if (!units) {
    cffi_throw(env, "RangeError", "out of memory decoding a %zu-character wstring", length);
    return NULL;
  }
  size_t n = 0;
  for (size_t i = 0; i < length; i++) {
    uint32_t c = wide[i];
    if (c > 0x10FFFF) c = 0xFFFD;
    if (c >= 0x10000) {
      units[n++] = (char16_t)(0xD800 + ((c - 0x10000) >> 10));
      units[n++] = (char16_t)(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      units[n++] = (char16_t)c;
    }
  }
  static const char16_t none = 0;
  napi_status status = napi_create_string_utf16(env, n ? units : &none, n, &result);
  if (units != stack) free(units);
  return status == napi_ok ? result : NULL;
}

/* NULL is null, as for cstring. */
napi_value cffi_to_js_cstring16(napi_env env, uint64_t raw) {
  napi_value result;
  if (!raw) {
    napi_get_null(env, &result);
    return result;
  }
  return decode(env, (const void *)(uintptr_t)raw, 2, -1);
}

napi_value cffi_to_js_wstring(napi_env env, uint64_t raw) {
  napi_value result;
  if (!raw) {
    napi_get_null(env, &result);
    return result;
  }
  return decode(env, (const void *)(uintptr_t)raw, sizeof(wchar_t), -1);
}

/* Each read.* / write.* function's own name and unit: on Windows wstring and
 * cstring16 have the same 2-byte unit, and an error still names the one called. */
typedef struct {
  const char *name;
  size_t unit;
} wide_accessor;
static const wide_accessor read_cstring16 = {"read.cstring16", 2}, read_wstring = {"read.wstring", sizeof(wchar_t)},
                           write_cstring16 = {"write.cstring16", 2}, write_wstring = {"write.wstring", sizeof(wchar_t)};

/* Unit i of memory that may be unaligned (memcpy: a plain load where the
 * CPU allows it, and defined C everywhere). */
static inline uint32_t unit_at(const uint8_t *at, size_t unit, size_t i) {
  if (unit == 2) {
    char16_t u;
    memcpy(&u, at + i * 2, 2);
    return u;
  }
  uint32_t u;
  memcpy(&u, at + i * 4, 4);
  return u;
}

/* read.cstring16(ptr, byteOffset?, byteLength?) / read.wstring(...): a copy
 * of the string at ptr (an address, or a view: bounds-checked), up to the
 * first NUL unit, or of byteLength bytes (whole units). `data` is the unit
 * size. Any address is accepted, as read.u16 / read.u32 (and Bun's read.*)
 * accept one and write.cstring16 / write.wstring store at one: an unaligned
 * string is copied to aligned memory before it is decoded. */
static napi_value read_wide(napi_env env, napi_callback_info info) {
  size_t argc = 3, available;
  napi_value argv[3];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  const wide_accessor *accessor = data;
  const size_t unit = accessor->unit;
  const char *fn = accessor->name;
  uint8_t *at;
  int64_t length;
  if (!cffi_memory_string_args(env, fn, argc, argv, unit, &at, &length, &available)) return NULL;
  if (length >= 0 && length % (int64_t)unit != 0)
    return cffi_throw(env, "RangeError", "%s: byteLength must be a multiple of %zu (whole code units), received %lld",
                      fn, unit, (long long)length);
  if (length < 0) {
    /* In a view the NUL must be inside it. */
    const size_t units = available == SIZE_MAX ? SIZE_MAX : available / unit;
    size_t n = 0;
    while (n < units && unit_at(at, unit, n)) n++;
    if (n == units)
      return cffi_throw(env, "RangeError", "%s: no NUL terminator in the %zu bytes left in the view", fn, available);
    length = (int64_t)(n * unit);
  }
  if ((uintptr_t)at % unit == 0) return decode(env, at, unit, length / (int64_t)unit);
  uint32_t stack[STACK_UNITS];
  void *aligned = (size_t)length <= sizeof stack ? stack : malloc((size_t)length);
  if (!aligned) return cffi_throw(env, "RangeError", "%s: out of memory copying a %lld-byte string", fn, (long long)length);
  memcpy(aligned, at, (size_t)length);
  napi_value result = decode(env, aligned, unit, length / (int64_t)unit);
  if (aligned != stack) free(aligned);
  return result;
}

/* write.cstring16(target, string, byteOffset?) / write.wstring(...): the
 * string's code units and a NUL at target (an address, or a view:
 * bounds-checked); returns the bytes written, the NUL included. */
static napi_value write_wide(napi_env env, napi_callback_info info) {
  size_t argc = 3, count;
  napi_value argv[3], result;
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  const wide_accessor *accessor = data;
  const size_t unit = accessor->unit;
  const char *fn = accessor->name;
  if (argc < 2) return cffi_throw(env, "TypeError", "%s(target, value, byteOffset?) expects 2 arguments, received %zu", fn, argc);
  cffi_call call;
  uint64_t encoded;
  uint8_t *at;
  cffi_call_init(&call, env, fn);
  call.index = 1;
  if (!encode_string(&call, argv[1], unit, &encoded, &count)) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) cffi_throw(env, "TypeError", "%s: args[1] expects a string, received %s", fn, cffi_value_kind(env, argv[1]));
    return NULL;
  }
  const size_t bytes = (count + 1) * unit;
  if (cffi_memory_write_target(env, fn, argc, argv, bytes, &at)) {
    memcpy(at, (const void *)(uintptr_t)encoded, bytes);
    napi_create_double(env, (double)bytes, &result);
  } else {
    result = NULL;
  }
  cffi_call_release(&call);
  return result;
}

void cffi_wide_strings_read_exports(napi_env env, napi_value read) {
  cffi_set_function(env, read, "cstring16", read_wide, (void *)&read_cstring16);
  cffi_set_function(env, read, "wstring", read_wide, (void *)&read_wstring);
}

void cffi_wide_strings_write_exports(napi_env env, napi_value write) {
  cffi_set_function(env, write, "cstring16", write_wide, (void *)&write_cstring16);
  cffi_set_function(env, write, "wstring", write_wide, (void *)&write_wstring);
}
