/*
 * node_ffi.c - the addon's side of the node-ffi engine (lib/node-ffi-engine.js,
 * docs/engines.md), where Node's own node:ffi makes the call for signatures it
 * takes at V8's fast-API speed.
 *
 * Owns: the view of the env's FFI state that the engine's JS guards update
 * around each node:ffi call (call_depth, with CFFI_NODE_FFI_CALL_BIT, so
 * callbacks C calls meanwhile, close() and exceptions behave as inside any
 * FFI call; last_errno, which a guard puts into errno before the call and
 * takes from it right after, as every engine does), a view of the JS
 * thread's errno itself, and the cleanup a guard asks for when a callback
 * left something for the call returning (cffi_callbacks_cleanup: a kept
 * scope, a callback's exception); js_callbacks_run, read so that an error
 * thrown by the addon's call can be told from a callback's. The views are typed arrays over the
 * state's run of 32-bit fields and over errno: the guards' updates are plain
 * typed-array loads and stores, with no Node-API call on the hot path.
 */
#include <errno.h>
#include <stddef.h>

#include "../cffi.h"

/* The contract with lib/node-ffi-engine.js: JS gets a Uint32Array over the
 * run of fields from call_depth to cleanup_depth (and nothing else of the
 * state: no pointer is visible to JS), an Int32Array over this thread's
 * errno, the index in the run of each field it uses, the bit it sets in
 * call_depth, and CFFI_NODE_FFI_LAYOUT, which the engine compares with its own
 * and stays off when they differ. The asserts below make a reordering of
 * cffi_env_state that breaks the run (a field moved out of it, a pointer or
 * a wider field put into it) fail the build; changing which fields JS uses
 * or what they mean is a new layout number here and in the engine. The
 * run's length is not part of it (the engine checks that its indexes lie
 * inside the view): dropping foreign_latest from its end kept layout 3. */
#define CFFI_NODE_FFI_LAYOUT 4

#define SHARED_FIRST offsetof(cffi_env_state, call_depth)
#define SHARED_END (offsetof(cffi_env_state, cleanup_depth) + sizeof(uint32_t))
#define FIELD_INDEX(field) ((offsetof(cffi_env_state, field) - SHARED_FIRST) / sizeof(uint32_t))
#define FIELD_SIZE(field) sizeof(((cffi_env_state *)0)->field)
#define SHARED_FIELD(field)                                                                       \
  _Static_assert(FIELD_SIZE(field) == sizeof(uint32_t), #field " is a 32-bit integer");          \
  _Static_assert(offsetof(cffi_env_state, field) % sizeof(uint32_t) == 0, #field " is aligned"); \
  _Static_assert(offsetof(cffi_env_state, field) >= SHARED_FIRST &&                               \
                     offsetof(cffi_env_state, field) + sizeof(uint32_t) <= SHARED_END,            \
                 #field " lies in the run shared with JS")

SHARED_FIELD(call_depth);
SHARED_FIELD(last_errno);
SHARED_FIELD(cleanup_depth);
SHARED_FIELD(js_callbacks_run);
/* Everything else in the run, so that its size proves it holds nothing but
 * these 32-bit fields. */
SHARED_FIELD(env_calls);
SHARED_FIELD(closes);
#ifdef _WIN32
SHARED_FIELD(last_error);
#define SHARED_FIELDS 7
#else
#define SHARED_FIELDS 6
#endif
_Static_assert(SHARED_END - SHARED_FIRST == SHARED_FIELDS * sizeof(uint32_t),
               "the run of cffi_env_state shared with JS holds only its 32-bit fields");
_Static_assert(sizeof errno == sizeof(int32_t), "errno is seen from JS as one Int32Array element");

static bool set_index(napi_env env, napi_value target, const char *name, size_t index) {
  napi_value value;
  return napi_create_uint32(env, (uint32_t)index, &value) == napi_ok &&
         napi_set_named_property(env, target, name, value) == napi_ok;
}

/* nodeFfiState(): { memory: Uint32Array over the shared run of the env's
 * state, errno: Int32Array over errno, layout: CFFI_NODE_FFI_LAYOUT,
 * callDepth, lastErrno, cleanupDepth, callbacksRun: indexes into memory, callBit:
 * CFFI_NODE_FFI_CALL_BIT }, or null where this Node refuses external
 * ArrayBuffers (the engine then stays off). The state outlives every JS
 * object of the env (src/addon.c), and errno is the env's thread's, which
 * runs as long as the env: neither buffer needs a finaliser. Called on the
 * env's JS thread, so &errno is that thread's (errno is thread-local). */
static napi_value state_entry(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_env_state *state;
  napi_value buffer, memory, errno_buffer, errno_memory, result;
  napi_get_instance_data(env, (void **)&state);
  if (!state ||
      napi_create_external_arraybuffer(env, &state->call_depth, SHARED_END - SHARED_FIRST, NULL, NULL, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, SHARED_FIELDS, buffer, 0, &memory) != napi_ok ||
      napi_create_external_arraybuffer(env, &errno, sizeof errno, NULL, NULL, &errno_buffer) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, 1, errno_buffer, 0, &errno_memory) != napi_ok) {
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
  napi_set_named_property(env, result, "errno", errno_memory);
  if (!set_index(env, result, "layout", CFFI_NODE_FFI_LAYOUT) ||
      !set_index(env, result, "callDepth", FIELD_INDEX(call_depth)) ||
      !set_index(env, result, "lastErrno", FIELD_INDEX(last_errno)) ||
      !set_index(env, result, "cleanupDepth", FIELD_INDEX(cleanup_depth)) ||
      !set_index(env, result, "callbacksRun", FIELD_INDEX(js_callbacks_run)) ||
      !set_index(env, result, "callBit", CFFI_NODE_FFI_CALL_BIT))
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
      !set_index(env, result, "lastErrno", (uint32_t)state->last_errno) ||
      !set_index(env, result, "envCalls", state->env_calls) ||
      !set_index(env, result, "cleanupDepth", state->cleanup_depth) ||
      !set_index(env, result, "callbacksRun", state->js_callbacks_run) ||
      !set_index(env, result, "errno", (uint32_t)errno))
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
