/*
 * node_ffi.c - the addon's side of the node-ffi engine (lib/node-ffi-engine.js,
 * docs/engines.md), where Node's own node:ffi makes the call for signatures it
 * takes at V8's fast-API speed.
 *
 * Owns: the view of the env's FFI state that the engine's JS guards update
 * around each node:ffi call (call_depth and env_calls, so callbacks C calls
 * meanwhile, close() and exceptions behave as inside any FFI call;
 * foreign_latest, so errno() and the next call see that call's errno), and
 * the cleanup a guard asks for when a callback left something for the call
 * returning (cffi_callbacks_cleanup: a kept scope, a callback's exception).
 * The view is a Uint32Array over the state itself: the guards' updates are
 * plain typed-array stores, with no Node-API call on the hot path.
 */
#include <stddef.h>

#include "../cffi.h"

#define FIELD_INDEX(field) (offsetof(cffi_env_state, field) / sizeof(uint32_t))

_Static_assert(offsetof(cffi_env_state, call_depth) % sizeof(uint32_t) == 0, "call_depth is 4-byte aligned");
_Static_assert(offsetof(cffi_env_state, env_calls) % sizeof(uint32_t) == 0, "env_calls is 4-byte aligned");
_Static_assert(offsetof(cffi_env_state, cleanup_depth) % sizeof(uint32_t) == 0, "cleanup_depth is 4-byte aligned");
_Static_assert(offsetof(cffi_env_state, foreign_latest) % sizeof(uint32_t) == 0, "foreign_latest is 4-byte aligned");

static bool set_index(napi_env env, napi_value target, const char *name, size_t index) {
  napi_value value;
  return napi_create_uint32(env, (uint32_t)index, &value) == napi_ok &&
         napi_set_named_property(env, target, name, value) == napi_ok;
}

/* nodeFfiState(): { memory: Uint32Array over the env's state, callDepth,
 * envCalls, cleanupDepth, foreignLatest: indexes into it }, or null where
 * this Node refuses external ArrayBuffers (the engine then stays off). The
 * state outlives every JS object of the env (src/addon.c), so the buffer
 * needs no finaliser. */
static napi_value state_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value buffer, memory, result;
  napi_get_instance_data(env, (void **)&state);
  const size_t fields = FIELD_INDEX(foreign_latest) + 1;
  if (!state ||
      napi_create_external_arraybuffer(env, state, fields * sizeof(uint32_t), NULL, NULL, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, fields, buffer, 0, &memory) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    napi_get_null(env, &result);
    return result;
  }
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "memory", memory);
  if (!set_index(env, result, "callDepth", FIELD_INDEX(call_depth)) ||
      !set_index(env, result, "envCalls", FIELD_INDEX(env_calls)) ||
      !set_index(env, result, "cleanupDepth", FIELD_INDEX(cleanup_depth)) ||
      !set_index(env, result, "foreignLatest", FIELD_INDEX(foreign_latest)))
    return NULL;
  return result;
}

/* nodeFfiAfterCall(): a guard's node:ffi call has returned (call_depth back
 * down) and cleanup_depth is above call_depth: what src/calls/call.c does
 * then, rethrowing a callback's exception. */
static napi_value after_call_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  if (state) cffi_callbacks_cleanup(env, state);
  return NULL;
}

void cffi_make_node_ffi_exports(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "nodeFfiState", state_entry, NULL);
  cffi_set_function(env, exports, "nodeFfiAfterCall", after_call_entry, NULL);
}
