/*
 * finalizer_env.c - the second napi_env every env of the addon registers its
 * finalizers on, and how that env is made (a second load of the same file).
 *
 * Why: the addon is built with NAPI_EXPERIMENTAL (src/cffi.h), so Node runs
 * its finalizers from inside the GC. Node then calls each one through the
 * env's CallIntoModule, which afterwards checks the env's last_exception
 * and, if one is set, reports it as uncaught from inside the GC, which V8
 * refuses ("Check failed: AllowJavascriptExecution::IsAllowed"): the
 * process aborts. And last_exception is set whenever the addon throws:
 * napi_throw keeps the error there until the callback returns, when Node
 * throws it into V8, and that throw allocates its message, which can start
 * a GC. So any bad argument (a TypeError from the addon) thrown while V8
 * happened to collect one of the addon's objects killed Node 20 and 26
 * (a loop of `try { batch().add(fn, "x") } catch {}` did within seconds).
 *
 * The cure: finalizers are registered on an env that never throws. Each
 * load of the .node file gets an env of its own from Node, so the addon
 * loads its own file a second time (process.dlopen, as require does) on the
 * same thread; that load's init sees it is the second (adopting, below)
 * and only records its env as the first one's finalizer_env. The first env
 * keeps every call, value and throw; the second only ever takes napi_wrap,
 * napi_add_finalizer and napi_create_external, and no throw of ours fills its
 * last_exception (a worker's termination may, which Node does not report). Node deletes the second env first at teardown (its cleanup hook
 * is newer), running the finalizers of objects still alive while the
 * state is whole, as a GC would have.
 *
 * It cannot happen inside the first load's init (Node holds its dlopen lock
 * through it: a nested load deadlocks), so lib/native.js asks for it right
 * after loading, and a load made some other way (process.dlopen by hand)
 * gets it at its first finalizer. If it cannot be made, the finalizers go
 * on the first env as before (and lib/native.js warns).
 *
 * Node's own check that a finalizer makes no GC-unsafe Node-API call now
 * watches the second env only: a finalizer must not use its state's env
 * for anything but napi_adjust_external_memory.
 */
#include <stdlib.h>

#include "../cffi.h"

/* The state whose finalizer env the load in progress on this thread is. */
static CFFI_THREAD_LOCAL cffi_env_state *adopting;

bool cffi_finalizer_env_adopt(napi_env env) {
  cffi_env_state *state = adopting;
  if (!state) return false;
  adopting = NULL;
  state->finalizer_env = env;
  /* The finalizers get this env: the same state, which the first env owns. */
  napi_set_instance_data(env, state, NULL, NULL);
  return true;
}

/* process.dlopen({ exports: {} }, this file) with adopting set; any
 * exception it throws is cleared (the first env then keeps its finalizers). */
static void load_again(napi_env env, cffi_env_state *state) {
  char *path = cffi_platform_addon_path();
  if (!path) return;
  napi_value global, process, dlopen_fn, module, exports, argv[2], ignored;
  bool ok = napi_get_global(env, &global) == napi_ok &&
            napi_get_named_property(env, global, "process", &process) == napi_ok &&
            napi_get_named_property(env, process, "dlopen", &dlopen_fn) == napi_ok &&
            napi_create_object(env, &module) == napi_ok && napi_create_object(env, &exports) == napi_ok &&
            napi_set_named_property(env, module, "exports", exports) == napi_ok &&
            napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok;
  free(path);
  if (!ok) return;
  argv[0] = module;
  adopting = state;
  napi_status status = napi_call_function(env, process, dlopen_fn, 2, argv, &ignored);
  adopting = NULL;
  if (status != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
  }
  if (state->finalizer_env != env) CFFI_DEBUG("finalizers: on a second env of the addon's own (loaded again)");
  else CFFI_DEBUG("finalizers: a second env could not be loaded; they stay on the first");
}

napi_env cffi_finalizer_env(napi_env env) {
  cffi_env_state *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || !state) return env;
  if (CFFI_LIKELY(state->finalizer_env_tried)) return state->finalizer_env;
  /* Not with an exception pending: it would be lost (and the load fail). */
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return env;
  state->finalizer_env_tried = true;
  load_again(env, state);
  return state->finalizer_env;
}

/* finalizerEnv(): makes the finalizer env now (lib/native.js, at load);
 * true when it is a second env. */
static napi_value finalizer_env_entry(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, cffi_finalizer_env(env) != env, &result);
  return result;
}

void cffi_make_finalizer_env_exports(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "finalizerEnv", finalizer_env_entry, NULL);
}
