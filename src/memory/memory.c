/*
 * memory.c - raw memory: ptr(), read.*, write.*, toArrayBuffer(),
 * toBuffer() and the C-string reader behind CString.
 *
 * Targets given as JS views are bounds-checked. Raw addresses cannot be, but
 * the first page (NULL and small offsets from it) is refused, so the common
 * mistake of using a NULL result throws instead of crashing, and so is
 * anything that is not a user-space address (a negative number or BigInt,
 * a value above the user range): C may take -1 as a sentinel, but these
 * helpers would dereference it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* "No byteLength given": read up to the first NUL. */
#define LENGTH_UNTIL_NUL INT64_MIN

typedef struct {
  const char *name;
  uint8_t type;  /* cffi_type_id used to convert */
  uint8_t size;
  const char *read_name, *write_name; /* for messages */
} accessor;

#define ACCESSOR(name, type, size) {name, type, size, "read." name, "write." name}
/* read.X / write.X, in Bun's order; intptr reads a signed pointer-sized value. */
static const accessor accessors[] = {
    ACCESSOR("u8", CFFI_U8, 1),   ACCESSOR("u16", CFFI_U16, 2), ACCESSOR("u32", CFFI_U32, 4),
    ACCESSOR("ptr", CFFI_PTR, 8), ACCESSOR("i8", CFFI_I8, 1),   ACCESSOR("i16", CFFI_I16, 2),
    ACCESSOR("i32", CFFI_I32, 4), ACCESSOR("i64", CFFI_I64, 8), ACCESSOR("u64", CFFI_U64, 8),
    ACCESSOR("intptr", CFFI_I64_FAST, 8), ACCESSOR("f32", CFFI_F32, 4), ACCESSOR("f64", CFFI_F64, 8),
};

static bool is_missing(napi_env env, size_t argc, size_t index, napi_value value) {
  napi_valuetype t;
  return index >= argc || (napi_typeof(env, value, &t) == napi_ok && t == napi_undefined);
}

typedef enum { FRACTIONS_TRUNCATE, FRACTIONS_REFUSED } fraction_rule;

/* d as JS prints it, for error messages. */
static void format_number(char *out, size_t size, double d) {
  if (isnan(d)) snprintf(out, size, "NaN");
  else if (isinf(d)) snprintf(out, size, d > 0 ? "Infinity" : "-Infinity");
  else {
    /* The shortest digits that read back as d, as JS prints it. */
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(out, size, "%.*g", digits, d);
      if (strtod(out, NULL) == d) break;
    }
  }
}

/* An optional integer argument (byte offset or length). A fraction
 * truncates toward zero, as in Bun (read.u8(p, 2.9) reads offset 2,
 * toArrayBuffer(p, 0, 2.5) is 2 bytes), where `fractions` is TRUNCATE;
 * ptr()'s offset and CString's length refuse one (docs/differences.md).
 * NaN, the infinities and values beyond 2^53 are refused everywhere (Bun
 * crashes on read.u8(p, 1e300)). */
static bool optional_integer(napi_env env, const char *fn, const char *what, size_t argc, size_t index,
                             napi_value value, int64_t fallback, fraction_rule fractions, int64_t *out) {
  if (is_missing(env, argc, index, value)) {
    *out = fallback;
    return true;
  }
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    int64_t big;
    bool lossless;
    if (napi_get_value_bigint_int64(env, value, &big, &lossless) == napi_ok && lossless) {
      *out = big;
      return true;
    }
    cffi_throw(env, "TypeError", "%s: %s must be an integer, received %s", fn, what,
               cffi_value_kind(env, value));
    return false;
  }
  if (fractions == FRACTIONS_TRUNCATE && isfinite(d)) d = trunc(d);
  if (d != trunc(d) || fabs(d) > 9007199254740991.0) {
    char number[32];
    format_number(number, sizeof number, d);
    cffi_throw(env, "RangeError", "%s: %s must be an integer, received %s", fn, what, number);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* Where an access of `size` bytes at `offset` into `target` lands: a view
 * (bounds-checked) or a raw address (NULL page refused). */
static bool resolve_target(napi_env env, const char *fn, napi_value target, int64_t offset,
                           size_t size, bool allow_views, uint8_t **out) {
  void *data;
  size_t length;
  if (allow_views && cffi_view_info(env, target, &data, &length)) {
    if (!data && cffi_view_detached(env, target)) {
      cffi_throw(env, "TypeError", "%s: the view's ArrayBuffer is detached (transferred); it has no memory", fn);
      return false;
    }
    if (offset < 0 || (uint64_t)offset > length || length - (size_t)offset < size) {
      cffi_throw(env, "RangeError", "%s: %zu byte%s at offset %lld is outside the %zu-byte view", fn,
                 size, size == 1 ? "" : "s", (long long)offset, length);
      return false;
    }
    *out = (uint8_t *)data + offset;
    return true;
  }
  uint64_t address;
  if (!cffi_value_to_address(env, target, fn, &address)) return false;
  uint64_t at;
  if (!cffi_dereferenceable(env, address, offset, fn, &at)) return false;
  *out = (uint8_t *)(uintptr_t)at;
  return true;
}

/* Below both 2^53 (exact in a double) and the user-space limit. */
#define QUICK_ADDRESS_LIMIT \
  ((double)(CFFI_USER_ADDRESS_LIMIT < (UINT64_C(1) << 53) ? CFFI_USER_ADDRESS_LIMIT : (UINT64_C(1) << 53)))

/* The common read: a numeric address and an optional integer offset, with
 * no formatting and no type probing. Anything else takes the general path. */
static inline bool quick_read_address(napi_env env, size_t argc, napi_value *argv, uint8_t **at) {
  double address, offset = 0;
  if (napi_get_value_double(env, argv[0], &address) != napi_ok) return false;
  /* No offset: the same tests on the address alone, and an int64 round
   * trip (exact below 2^53) where the sum needs a uint64 one. */
  if (CFFI_LIKELY(argc == 1)) {
    if (!(address >= CFFI_NULL_PAGE_LIMIT && address < QUICK_ADDRESS_LIMIT && address == (double)(int64_t)address))
      return false;
    *at = (uint8_t *)(uintptr_t)(uint64_t)address;
    return true;
  }
  if (napi_get_value_double(env, argv[1], &offset) != napi_ok) return false;
  double sum = address + offset;
  if (!(address >= CFFI_NULL_PAGE_LIMIT && sum >= CFFI_NULL_PAGE_LIMIT && sum < QUICK_ADDRESS_LIMIT &&
        sum == (double)(uint64_t)sum && offset == (double)(int64_t)offset))
    return false;
  *at = (uint8_t *)(uintptr_t)(uint64_t)sum;
  return true;
}

/* read.X for one accessor: specialised per accessor (read_entries), so the
 * size and the conversion are constants and no function data is fetched. */
static inline __attribute__((always_inline)) napi_value read_as(napi_env env, napi_callback_info info,
                                                                const accessor *acc) {
  size_t argc = 2;
  napi_value argv[2], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *at;
  if (CFFI_UNLIKELY(argc < 1 || !quick_read_address(env, argc, argv, &at))) {
    const char *fn = acc->read_name;
    if (argc < 1) return cffi_throw(env, "TypeError", "%s(ptr, byteOffset?) expects a pointer", fn);
    int64_t offset;
    if (!optional_integer(env, fn, "byteOffset", argc, 1, argv[1], 0, FRACTIONS_TRUNCATE, &offset) ||
        !resolve_target(env, fn, argv[0], offset, acc->size, true, &at))
      return NULL;
  }
  uint64_t raw = 0;
  memcpy(&raw, at, acc->size);
  switch (acc->type) {
    case CFFI_I8: napi_create_int32(env, (int8_t)raw, &result); break;
    case CFFI_U8: napi_create_int32(env, (uint8_t)raw, &result); break;
    case CFFI_I16: napi_create_int32(env, (int16_t)raw, &result); break;
    case CFFI_U16: napi_create_int32(env, (uint16_t)raw, &result); break;
    case CFFI_I32: napi_create_int32(env, (int32_t)raw, &result); break;
    case CFFI_U32: napi_create_uint32(env, (uint32_t)raw, &result); break;
    case CFFI_I64: napi_create_bigint_int64(env, (int64_t)raw, &result); break;
    case CFFI_U64: napi_create_bigint_uint64(env, raw, &result); break;
    case CFFI_F32: {
      float f;
      memcpy(&f, &raw, sizeof f);
      napi_create_double(env, f, &result);
      break;
    }
    case CFFI_F64: {
      double d;
      memcpy(&d, &raw, sizeof d);
      napi_create_double(env, d, &result);
      break;
    }
    /* As in Bun, read.ptr and read.intptr give plain numbers, even above 2^53. */
    case CFFI_PTR: napi_create_double(env, (double)raw, &result); break;
    default: napi_create_double(env, (double)(int64_t)raw, &result); break; /* intptr */
  }
  return result;
}

#define READ_ENTRY(index) \
  static napi_value read_entry_##index(napi_env env, napi_callback_info info) { return read_as(env, info, &accessors[index]); }
READ_ENTRY(0)
READ_ENTRY(1)
READ_ENTRY(2)
READ_ENTRY(3)
READ_ENTRY(4)
READ_ENTRY(5)
READ_ENTRY(6)
READ_ENTRY(7)
READ_ENTRY(8)
READ_ENTRY(9)
READ_ENTRY(10)
READ_ENTRY(11)
static const napi_callback read_entries[] = {read_entry_0, read_entry_1, read_entry_2, read_entry_3,
                                             read_entry_4, read_entry_5, read_entry_6, read_entry_7,
                                             read_entry_8, read_entry_9, read_entry_10, read_entry_11};
_Static_assert(sizeof read_entries / sizeof read_entries[0] == sizeof accessors / sizeof accessors[0],
               "one read entry per accessor");

static napi_value write_entry(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  const accessor *acc = data;
  const char *fn = acc->write_name;
  if (argc < 2) return cffi_throw(env, "TypeError", "%s(target, value, byteOffset?) expects 2 arguments, received %zu", fn, argc);
  /* The value first: converting it may run user JS (write.ptr of an object
   * whose .ptr is a getter) that detaches the target view. */
  cffi_call call;
  cffi_call_init(&call, env, fn);
  call.index = 1;
  call.type = acc->type;
  uint64_t raw;
  if (!cffi_types[acc->type].to_c(&call, argv[1], &raw)) return NULL;
  int64_t offset;
  uint8_t *at;
  if (!optional_integer(env, fn, "byteOffset", argc, 2, argv[2], 0, FRACTIONS_TRUNCATE, &offset) ||
      !resolve_target(env, fn, argv[0], offset, acc->size, true, &at))
    return NULL;
  memcpy(at, &raw, acc->size);
  return NULL;
}

/* ptr() of anything but one TypedArray with memory: an offset, another
 * kind of view, an error. */
static __attribute__((noinline)) napi_value ptr_general(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t length;
  if (argc < 1 || !cffi_view_info(env, argv[0], &data, &length)) {
    return cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "ptr() expects a TypedArray, ArrayBuffer, SharedArrayBuffer or DataView, received %s",
                      argc < 1 ? "nothing" : cffi_value_kind(env, argv[0]));
  }
  if (!data && cffi_view_detached(env, argv[0]))
    return cffi_throw(env, "TypeError", "ptr(): the ArrayBuffer is detached (transferred); it has no address");
  int64_t offset;
  if (!optional_integer(env, "ptr()", "byteOffset", argc, 1, argv[1], 0, FRACTIONS_REFUSED, &offset)) return NULL;
  if (offset < 0 || (uint64_t)offset > length) {
    return cffi_throw(env, "RangeError", "ptr(): byteOffset %lld is outside the %zu-byte view",
                      (long long)offset, length);
  }
  return cffi_address_to_js(env, (uintptr_t)data + (uint64_t)offset);
}

/* No frame pointer: three instructions of the ~40 (as src/calls/precompiled.c's wrappers). */
__attribute__((optimize("omit-frame-pointer"))) static napi_value ptr_entry(napi_env env, napi_callback_info info) {
  /* The common case first: one argument, a TypedArray with memory (no
   * length needed). Room for one argument only: Node-API fills every slot
   * asked for beyond those given. */
  size_t argc = 1;
  napi_value view;
  void *data;
  napi_get_cb_info(env, info, &argc, &view, NULL, NULL);
  if (CFFI_LIKELY(argc == 1) && napi_get_typedarray_info(env, view, NULL, NULL, &data, NULL, NULL) == napi_ok &&
      data) {
    /* cffi_address_to_js's common case in line (a call of its own costs
     * ~15 instructions of a ~500-instruction ptr()). */
    napi_value address;
    if (CFFI_LIKELY((uint64_t)(uintptr_t)data <= (1ULL << 53) - 1)) {
      napi_create_int64(env, (int64_t)(uintptr_t)data, &address);
      return address;
    }
    return cffi_address_to_js(env, (uintptr_t)data);
  }
  return ptr_general(env, info);
}

/* Called when an ArrayBuffer/Buffer over foreign memory is collected. */
typedef struct {
  void (*deallocate)(void *bytes, void *context);
  void *context;
} deallocator;

static void run_deallocator(napi_env env, void *bytes, void *hint) {
  (void)env;
  deallocator *d = hint;
  d->deallocate(bytes, d->context);
  free(d);
}

/* Shared by toArrayBuffer and toBuffer:
 * (ptr, byteOffset?, byteLength?, deallocator?) or
 * (ptr, byteOffset?, byteLength?, context, deallocator) as in Bun. */
static napi_value wrap_foreign_memory(napi_env env, napi_callback_info info, const char *fn,
                                      bool as_buffer) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return cffi_throw(env, "TypeError", "%s(ptr, byteOffset?, byteLength?) expects a pointer", fn);
  uint64_t address;
  int64_t offset, length;
  if (!cffi_value_to_address(env, argv[0], fn, &address)) return NULL;
  if (address < CFFI_NULL_PAGE_LIMIT)
    return cffi_throw(env, "TypeError", "%s: refusing to wrap address 0x%llx (a NULL pointer)", fn,
                      (unsigned long long)address);
  if (!optional_integer(env, fn, "byteOffset", argc, 1, argv[1], 0, FRACTIONS_TRUNCATE, &offset)) return NULL;
  /* The offset must not carry the address into the NULL page or wrap it. */
  uint64_t at = address + (uint64_t)offset;
  if (at < CFFI_NULL_PAGE_LIMIT || at >= CFFI_USER_ADDRESS_LIMIT || (offset < 0 && at > address) ||
      (offset > 0 && at < address))
    return cffi_throw(env, "RangeError",
                      "%s: byteOffset %lld moves address 0x%llx to 0x%llx, which is not valid memory", fn,
                      (long long)offset, (unsigned long long)address, (unsigned long long)at);
  uint8_t *start = (uint8_t *)(uintptr_t)at;
  if (!optional_integer(env, fn, "byteLength", argc, 2, argv[2], LENGTH_UNTIL_NUL, FRACTIONS_TRUNCATE, &length))
    return NULL;
  if (length == LENGTH_UNTIL_NUL) length = (int64_t)strlen((const char *)start);
  if (length < 0) return cffi_throw(env, "RangeError", "%s: byteLength must not be negative, received %lld", fn, (long long)length);

  deallocator *dealloc = NULL;
  /* Node 20 refuses huge external buffers but newer V8 does not: refuse
   * ranges that cannot exist rather than rely on either. */
  if ((uint64_t)length > CFFI_USER_ADDRESS_LIMIT - (uint64_t)(uintptr_t)start)
    return cffi_throw(env, "RangeError", "%s: byteLength %lld from 0x%llx is larger than any valid memory range", fn,
                      (long long)length, (unsigned long long)(uintptr_t)start);
  size_t dealloc_index = argc >= 5 ? 4 : 3;
  if (!is_missing(env, argc, dealloc_index, argv[dealloc_index])) {
    uint64_t fn_address, context = 0;
    char what[64];
    snprintf(what, sizeof what, "%s: the deallocator", fn);
    if (!cffi_value_to_address(env, argv[dealloc_index], what, &fn_address)) return NULL;
    /* Called at some later GC, far from this line: refuse what cannot be code. */
    if (fn_address && fn_address < CFFI_NULL_PAGE_LIMIT)
      return cffi_throw(env, "TypeError", "%s 0x%llx is not a function pointer (it is in the NULL page)", what,
                        (unsigned long long)fn_address);
    snprintf(what, sizeof what, "%s: the deallocator's context", fn);
    if (argc >= 5 && !cffi_value_to_address(env, argv[3], what, &context)) return NULL;
    if (fn_address) {
      dealloc = malloc(sizeof *dealloc);
      if (!dealloc) return cffi_throw(env, "RangeError", "%s: out of memory", fn);
      dealloc->deallocate = (void (*)(void *, void *))(uintptr_t)fn_address;
      dealloc->context = (void *)(uintptr_t)context;
    }
  }
  napi_value result;
  napi_status status =
      as_buffer ? napi_create_external_buffer(env, (size_t)length, start,
                                              dealloc ? run_deallocator : NULL, dealloc, &result)
                : napi_create_external_arraybuffer(env, start, (size_t)length,
                                                   dealloc ? run_deallocator : NULL, dealloc, &result);
  if (status != napi_ok) {
    free(dealloc);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) cffi_throw(env, "Error", "%s: Node refused to wrap external memory (status %d)", fn, (int)status);
    return NULL;
  }
  return result;
}

static napi_value to_array_buffer_entry(napi_env env, napi_callback_info info) {
  return wrap_foreign_memory(env, info, "toArrayBuffer", false);
}

static napi_value to_buffer_entry(napi_env env, napi_callback_info info) {
  return wrap_foreign_memory(env, info, "toBuffer", true);
}

/* cstringAt(ptr, byteOffset?, byteLength?): a copy of the bytes as a JS
 * string (UTF-8), up to the first NUL when no length is given. */
bool cffi_memory_string_args(napi_env env, const char *fn, size_t argc, napi_value *argv, size_t unit,
                             uint8_t **at, int64_t *length, size_t *available) {
  int64_t offset;
  void *data;
  size_t view_length = 0;
  if (argc < 1) {
    cffi_throw(env, "TypeError", "%s(ptr, byteOffset?, byteLength?) expects a pointer", fn);
    return false;
  }
  if (!optional_integer(env, fn, "byteOffset", argc, 1, argv[1], 0, FRACTIONS_TRUNCATE, &offset) ||
      !optional_integer(env, fn, "byteLength", argc, 2, argv[2], LENGTH_UNTIL_NUL, FRACTIONS_REFUSED, length) ||
      !resolve_target(env, fn, argv[0], offset, unit, unit > 0, at))
    return false;
  if (*length < 0 && *length != LENGTH_UNTIL_NUL) {
    cffi_throw(env, "RangeError", "%s: byteLength must not be negative, received %lld", fn, (long long)*length);
    return false;
  }
  if (*length == LENGTH_UNTIL_NUL) *length = -1;
  /* resolve_target took a view only if it is one, so its length is known. */
  *available = unit > 0 && cffi_view_info(env, argv[0], &data, &view_length) ? view_length - (size_t)offset : SIZE_MAX;
  if (*length >= 0 && (uint64_t)*length > *available) {
    cffi_throw(env, "RangeError", "%s: %lld bytes at offset %lld is outside the %zu-byte view", fn, (long long)*length,
               (long long)offset, view_length);
    return false;
  }
  return true;
}

bool cffi_memory_write_target(napi_env env, const char *fn, size_t argc, napi_value *argv, size_t size,
                              uint8_t **at) {
  int64_t offset;
  return optional_integer(env, fn, "byteOffset", argc, 2, argv[2], 0, FRACTIONS_TRUNCATE, &offset) &&
         resolve_target(env, fn, argv[0], offset, size, true, at);
}

static napi_value cstring_at_entry(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t length;
  size_t available;
  uint8_t *at;
  if (!cffi_memory_string_args(env, "CString", argc, argv, 0, &at, &length, &available)) return NULL;
  napi_value result;
  if (napi_create_string_utf8(env, (const char *)at, length < 0 ? NAPI_AUTO_LENGTH : (size_t)length,
                              &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending)
      cffi_throw(env, "RangeError", "CString: %lld bytes is more than a JS string can hold (byteLength %s)",
                 (long long)length, length < 0 ? "up to the first NUL" : "given");
    return NULL;
  }
  return result;
}

/* { u8, u16, ... }: entries[i] for accessor i, or `shared` (with the
 * accessor as its data) when entries is NULL. */
static napi_value accessor_object(napi_env env, const napi_callback *entries, napi_callback shared) {
  napi_value object;
  napi_create_object(env, &object);
  for (size_t i = 0; i < sizeof accessors / sizeof accessors[0]; i++) {
    cffi_set_function(env, object, accessors[i].name, entries ? entries[i] : shared, (void *)&accessors[i]);
  }
  return object;
}

napi_value cffi_make_memory_exports(napi_env env, napi_value exports) {
  napi_value read = accessor_object(env, read_entries, NULL);
  cffi_wide_strings_read_exports(env, read);
  napi_set_named_property(env, exports, "read", read);
  napi_value write = accessor_object(env, NULL, write_entry);
  cffi_wide_strings_write_exports(env, write);
  napi_set_named_property(env, exports, "write", write);
  cffi_set_function(env, exports, "ptr", ptr_entry, NULL);
  cffi_set_function(env, exports, "toArrayBuffer", to_array_buffer_entry, NULL);
  cffi_set_function(env, exports, "toBuffer", to_buffer_entry, NULL);
  cffi_set_function(env, exports, "cstringAt", cstring_at_entry, NULL);
  return exports;
}
