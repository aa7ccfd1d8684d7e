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
 * The view is a Uint32Array over a run of the state's 32-bit fields: the
 * guards' updates are plain typed-array stores, with no Node-API call on the
 * hot path.
 */
#include <stddef.h>

#include "../cffi.h"

/* The contract with lib/node-ffi-engine.js: JS gets a Uint32Array over the
 * run of fields from call_depth to foreign_latest (and nothing else of the
 * state: no pointer is visible to JS), the index in it of each field it
 * uses, and CFFI_NODE_FFI_LAYOUT, which the engine compares with its own
 * and stays off when they differ. The asserts below make a reordering of
 * cffi_env_state that breaks the run (a field moved out of it, a pointer or
 * a wider field put into it) fail the build; changing which fields JS uses
 * or what they mean is a new layout number here and in the engine. */
#define CFFI_NODE_FFI_LAYOUT 2

#define SHARED_FIRST offsetof(cffi_env_state, call_depth)
#define SHARED_END (offsetof(cffi_env_state, foreign_latest) + sizeof(uint32_t))
#define FIELD_INDEX(field) ((offsetof(cffi_env_state, field) - SHARED_FIRST) / sizeof(uint32_t))
#define FIELD_SIZE(field) sizeof(((cffi_env_state *)0)->field)
#define SHARED_FIELD(field)                                                                       \
  _Static_assert(FIELD_SIZE(field) == sizeof(uint32_t), #field " is a 32-bit integer");          \
  _Static_assert(offsetof(cffi_env_state, field) % sizeof(uint32_t) == 0, #field " is aligned"); \
  _Static_assert(offsetof(cffi_env_state, field) >= SHARED_FIRST &&                               \
                     offsetof(cffi_env_state, field) + sizeof(uint32_t) <= SHARED_END,            \
                 #field " lies in the run shared with JS")

SHARED_FIELD(call_depth);
SHARED_FIELD(env_calls);
SHARED_FIELD(cleanup_depth);
SHARED_FIELD(foreign_latest);
/* Everything else in the run, so that its size proves it holds nothing but
 * these 32-bit fields. */
SHARED_FIELD(last_errno);
SHARED_FIELD(closes);
#ifdef _WIN32
SHARED_FIELD(last_error);
#define SHARED_FIELDS 7
#else
#define SHARED_FIELDS 6
#endif
_Static_assert(SHARED_END - SHARED_FIRST == SHARED_FIELDS * sizeof(uint32_t),
               "the run of cffi_env_state shared with JS holds only its 32-bit fields");

static bool set_index(napi_env env, napi_value target, const char *name, size_t index) {
  napi_value value;
  return napi_create_uint32(env, (uint32_t)index, &value) == napi_ok &&
         napi_set_named_property(env, target, name, value) == napi_ok;
}

/* nodeFfiState(): { memory: Uint32Array over the shared run of the env's
 * state, layout: CFFI_NODE_FFI_LAYOUT, callDepth, envCalls, cleanupDepth,
 * foreignLatest: indexes into memory }, or null where this Node refuses
 * external ArrayBuffers (the engine then stays off). The state outlives
 * every JS object of the env (src/addon.c), so the buffer needs no
 * finaliser. */
static napi_value state_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value buffer, memory, result;
  napi_get_instance_data(env, (void **)&state);
  if (!state ||
      napi_create_external_arraybuffer(env, &state->call_depth, SHARED_END - SHARED_FIRST, NULL, NULL, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, SHARED_FIELDS, buffer, 0, &memory) != napi_ok) {
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
  if (!set_index(env, result, "layout", CFFI_NODE_FFI_LAYOUT) ||
      !set_index(env, result, "callDepth", FIELD_INDEX(call_depth)) ||
      !set_index(env, result, "envCalls", FIELD_INDEX(env_calls)) ||
      !set_index(env, result, "cleanupDepth", FIELD_INDEX(cleanup_depth)) ||
      !set_index(env, result, "foreignLatest", FIELD_INDEX(foreign_latest)))
    return NULL;
  return result;
}

/* nodeFfiStateFields(): the shared fields as C reads them, for the test that
 * JS's view and C's struct agree (test/node-ffi-engine.test.js). */
static napi_value state_fields_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value result;
  napi_get_instance_data(env, (void **)&state);
  napi_create_object(env, &result);
  if (!state) return result;
  if (!set_index(env, result, "callDepth", state->call_depth) ||
      !set_index(env, result, "envCalls", state->env_calls) ||
      !set_index(env, result, "cleanupDepth", state->cleanup_depth) ||
      !set_index(env, result, "foreignLatest", state->foreign_latest))
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
  cffi_set_function(env, exports, "nodeFfiStateFields", state_fields_entry, NULL);
}
