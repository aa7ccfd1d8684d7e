/*
 * addon.c - module initialisation and the small helpers every file uses:
 * throwing formatted errors, copying JS strings, attaching functions.
 *
 * The exports here are the native layer; lib/index.js shapes them into
 * bun:ffi's API (CString, JSCallback, file: URLs, CFunction).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cffi.h"

napi_value cffi_throw(napi_env env, const char *kind, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  napi_value text, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  if (kind[0] == 'T') napi_create_type_error(env, NULL, text, &error);
  else if (kind[0] == 'R') napi_create_range_error(env, NULL, text, &error);
  else napi_create_error(env, NULL, text, &error);
  napi_throw(env, error);
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
    cffi_throw(env, "TypeError", "%s, received %s", what, cffi_value_kind(env, value));
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

/* errno() as it was right after the latest FFI call on this thread. */
static napi_value errno_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value result;
  napi_get_instance_data(env, (void **)&state);
  napi_create_int32(env, state->last_errno, &result);
  return result;
}

#ifdef _WIN32
static napi_value last_error_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value result;
  napi_get_instance_data(env, (void **)&state);
  napi_create_uint32(env, (uint32_t)state->last_error, &result);
  return result;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  cffi_env_state *state = calloc(1, sizeof *state);
  if (!state) return cffi_throw(env, "RangeError", "cffi-bun: out of memory");
  state->env = env;
  /* No finalizer: see cffi_env_state. */
  napi_set_instance_data(env, state, NULL, NULL);
  cffi_stubs_attach(env, state);
  cffi_set_forced_engine(getenv("CFFI_BUN_ENGINE"));
  cffi_debug_init();
  napi_set_named_property(env, exports, "FFIType", cffi_make_ffitype_object(env));
  cffi_set_function(env, exports, "dlopen", cffi_dlopen, NULL);
  cffi_set_function(env, exports, "linkSymbols", cffi_link_symbols, NULL);
  cffi_set_function(env, exports, "viewSource", cffi_view_source, NULL);
  cffi_set_function(env, exports, "errno", errno_entry, NULL);
#ifdef _WIN32
  cffi_set_function(env, exports, "GetLastError", last_error_entry, NULL);
#endif
  cffi_set_function(env, exports, "cc", cffi_cc, NULL);
  cffi_make_memory_exports(env, exports);
  cffi_make_callback_exports(env, exports);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
