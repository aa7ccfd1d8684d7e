/*
 * js_helpers.c - the bottom layer every other file uses: throwing formatted
 * errors, describing a received value for a message, copying JS strings,
 * listing an object's keys, attaching functions, unwrapping our own tagged objects,
 * refusing addresses no helper may dereference.
 *
 * It depends on Node-API and libc only, so no subsystem has to include
 * another one (or addon.c, the top) to report an error.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* "a string", "a TypedArray", "an object whose .ptr is null ...": what an
 * error message says it received. */
const char *cffi_value_kind(napi_env env, napi_value value) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok) return "an unknown value";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a Symbol";
    case napi_bigint: return "a BigInt";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_object: {
      bool is = false;
      if (napi_is_typedarray(env, value, &is) == napi_ok && is) return "a TypedArray";
      if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) return "an ArrayBuffer";
      if (napi_is_dataview(env, value, &is) == napi_ok && is) return "a DataView";
      if (napi_is_array(env, value, &is) == napi_ok && is) return "an array";
      /* A closed JSCallback keeps its object but its .ptr is null. The probe
       * may throw (a revoked Proxy): that exception is not the message. */
      napi_value inner;
      napi_valuetype inner_type = napi_undefined;
      bool was_pending = false, pending = false;
      napi_is_exception_pending(env, &was_pending);
      if (!was_pending && napi_has_named_property(env, value, "ptr", &is) == napi_ok && is &&
          napi_get_named_property(env, value, "ptr", &inner) == napi_ok)
        napi_typeof(env, inner, &inner_type);
      if (!was_pending && napi_is_exception_pending(env, &pending) == napi_ok && pending)
        napi_get_and_clear_last_exception(env, &inner);
      if (inner_type == napi_null) return "an object whose .ptr is null (a closed JSCallback?)";
      return "an object";
    }
  }
  return "an unknown value";
}

static napi_value throw_formatted(napi_env env, const char *kind, const char *code, const char *fmt,
                                  va_list ap) {
  char message[1024];
  vsnprintf(message, sizeof message, fmt, ap);
  napi_value text, code_text = NULL, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  if (code) napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_text);
  if (kind[0] == 'T') napi_create_type_error(env, code_text, text, &error);
  else if (kind[0] == 'R') napi_create_range_error(env, code_text, text, &error);
  else napi_create_error(env, code_text, text, &error);
  napi_throw(env, error);
  return NULL;
}

napi_value cffi_throw(napi_env env, const char *kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_formatted(env, kind, NULL, fmt, ap);
  va_end(ap);
  return NULL;
}

napi_value cffi_throw_code(napi_env env, const char *kind, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_formatted(env, kind, code, fmt, ap);
  va_end(ap);
  return NULL;
}

char *cffi_string_dup(napi_env env, napi_value value, const char *what) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    cffi_throw(env, "TypeError", "%s must be a string, received %s", what, cffi_value_kind(env, value));
    return NULL;
  }
  char *copy = malloc(length + 1);
  if (!copy) {
    cffi_throw(env, "RangeError", "out of memory copying %s", what);
    return NULL;
  }
  napi_get_value_string_utf8(env, value, copy, length + 1, &length);
  /* C would stop at an embedded NUL: "libc.so.6\0x" would open libc.so.6. */
  if (strlen(copy) != length) {
    free(copy);
    cffi_throw(env, "TypeError", "%s must not contain a NUL character (\\0)", what);
    return NULL;
  }
  return copy;
}

/* The own enumerable string keys of a plain (non-array) object; a TypeError
 * "<what> must be <expected>, received ..." for anything else. */
bool cffi_object_keys(napi_env env, napi_value value, const char *what, napi_value *names,
                      uint32_t *count) {
  napi_valuetype t;
  bool is_array = false;
  napi_typeof(env, value, &t);
  napi_is_array(env, value, &is_array);
  if (t != napi_object || is_array) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "%s, received %s", what, cffi_value_kind(env, value));
    return false;
  }
  if (napi_get_all_property_names(env, value, napi_key_own_only,
                                  napi_key_enumerable | napi_key_skip_symbols,
                                  napi_key_numbers_to_strings, names) != napi_ok)
    return false;
  return napi_get_array_length(env, *names, count) == napi_ok;
}

bool cffi_set_function(napi_env env, napi_value target, const char *name, napi_callback cb,
                       void *data) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &fn) == napi_ok &&
         napi_set_named_property(env, target, name, fn) == napi_ok;
}

void *cffi_unwrap_tagged(napi_env env, napi_value value, napi_valuetype kind, const napi_type_tag *tag) {
  napi_valuetype t;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &t) != napi_ok || t != kind) return NULL;
  if (napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_unwrap(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* Every place that dereferences an address the program gave (read.*,
 * write.*, toArrayBuffer, CString, struct types' read/write/view, batch's
 * b.deref()) refuses the same ones: the first page, where a NULL result plus
 * an offset lands (`null + 8` is 8 in JS), and anything at or above the
 * user-space limit or wrapping through the offset. */
bool cffi_dereferenceable(napi_env env, uint64_t address, int64_t offset, const char *fn, uint64_t *at) {
  const uint64_t target = address + (uint64_t)offset;
  if (address < CFFI_NULL_PAGE_LIMIT || target < CFFI_NULL_PAGE_LIMIT) {
    cffi_throw(env, "TypeError", "%s: refusing to access address 0x%llx (a NULL pointer%s)", fn,
               (unsigned long long)target, offset ? " plus an offset" : "");
    return false;
  }
  if (target >= CFFI_USER_ADDRESS_LIMIT || (offset < 0 && target > address) || (offset > 0 && target < address)) {
    cffi_throw(env, "TypeError", "%s: refusing to access address 0x%llx (0x%llx %+lld is not a valid address)", fn,
               (unsigned long long)target, (unsigned long long)address, (long long)offset);
    return false;
  }
  *at = target;
  return true;
}
