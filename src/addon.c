/*
 * addon.c - module initialisation: the per-env state and the exports table.
 * It is the top layer; the helpers every file uses live in base/js_helpers.c.
 *
 * The exports here are the native layer; lib/index.js shapes them into
 * bun:ffi's API (CString, JSCallback, file: URLs, CFunction).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cffi.h"
#include "calls/batch.h"

/* The process-wide settings from the environment (CFFI_BUN_ENGINE,
 * BUN_DEBUG_FFI), read by the first env to load: workers share the
 * process's environment, and an env loading later must not rewrite what
 * other threads' calls are reading (a data race ThreadSanitizer reported
 * with workers starting together). 0: unread, 1: being read, 2: read. */
static atomic_int settings_read;

static void read_process_settings(void) {
  int unread = 0;
  if (atomic_compare_exchange_strong(&settings_read, &unread, 1)) {
    cffi_set_forced_engine(getenv("CFFI_BUN_ENGINE"));
    cffi_debug_init();
    atomic_store(&settings_read, 2);
  }
  while (atomic_load(&settings_read) != 2) {
    /* Another env is reading them: two getenv() calls. */
  }
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

/* Node deletes an env (a worker's, or the main one at a normal exit) after
 * its cleanup hooks and every finaliser of its objects and threadsafe
 * functions have run, so nothing of this env reads the state any more. */
static void env_deleted(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_env_state *state = data;
  cffi_callbacks_detach(state);
  cffi_async_detach(state);
  cffi_variadic_detach(state);
  free(state->batch_slots); /* every function, and so every slot's, was freed before */
  free(state);
}

static napi_value init(napi_env env, napi_value exports) {
  /* The second load of this file, made by an env for its finalizers. */
  if (cffi_finalizer_env_adopt(env)) return exports;
  cffi_env_state *state = calloc(1, sizeof *state);
  if (!state) return cffi_throw(env, "RangeError", "cffi-bun: out of memory");
  state->env = env;
  state->finalizer_env = env;
  if (napi_set_instance_data(env, state, env_deleted, NULL) != napi_ok) {
    free(state);
    return cffi_throw(env, "Error", "cffi-bun: could not attach the addon's state to this env");
  }
  cffi_stubs_attach(env, state);
  if (!cffi_callbacks_attach(env, state)) return NULL;
  if (!cffi_async_attach(env, state)) return NULL;
  cffi_types_init(env, state);
  cffi_struct_values_init(env, state);
  read_process_settings();
  /* C threads may call into this module after the env that made their
   * callbacks ended: it must not unload with that env. */
  if (!cffi_platform_pin_addon()) CFFI_DEBUG("could not pin the addon: it may unload with the last env that loaded it");
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
  cffi_make_async_exports(env, exports);
  cffi_make_layout_exports(env, exports);
  cffi_library_init(env, exports);
  cffi_make_batch_exports(env, exports);
  cffi_make_node_ffi_exports(env, exports);
  cffi_make_node_ffi_read_exports(env, exports);
  cffi_make_process_exit_exports(env, exports);
  cffi_make_finalizer_env_exports(env, exports);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
