/*
 * async_call.c - bound functions run on a pool thread, returning Promises.
 *
 * Owns: sym.async and the entry of { nonblocking: true } functions,
 * prepared calls (the arguments converted on the JS thread into memory the
 * call owns; see async_call.h), executors (a pool of their own: executor({
 * threads: 1 }) for thread-affine libraries), and the per-env hub that
 * carries finished calls back to the JS thread.
 *
 * The hub: each env that makes an async call gets one Node-API threadsafe
 * function, kept referenced (so the event loop stays alive) only while
 * calls are pending. A pool thread hands a finished job to it under the
 * hub's lock; the threadsafe function's finaliser (the env's end) takes the
 * same lock and marks the hub dead, so no thread reaches a threadsafe
 * function that Node has freed. Jobs that finish after that are freed on
 * their pool thread without any Node-API call: the worker's Promises are
 * dropped, the native calls themselves completed. The hub is refcounted
 * (the env and every job in flight) and freed by whichever lets go last.
 *
 * After the main thread's exit has begun (src/base/process_exit.c), finished
 * jobs are dropped: Node no longer runs the JS thread's queue and its
 * teardown may be under way. Pool threads are never joined, so a thread still in C ends
 * with the process.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "async_call.h"

struct cffi_async_hub {
  cffi_mutex lock;
  bool alive;                       /* tsfn still exists */
  napi_threadsafe_function tsfn;
  uint32_t refs;                    /* the env's, plus one per job in flight */
};

typedef struct cffi_async_env {
  cffi_async_hub *hub;              /* made with the first async call */
  uint32_t pending;                 /* begun, not yet completed */
  napi_ref keep_key;                /* a Symbol: async function -> its bound function */
  napi_ref resizable_getter;        /* ArrayBuffer.prototype.resizable's getter, or NULL */
  /* worker_threads.markAsUntransferable, handed over by lib/native.js (NULL
   * before): an ArrayBuffer C uses on a pool thread must not be transferred
   * away (structuredClone/postMessage with transfer), since its new owner
   * could be collected and free the memory while C still writes it. */
  napi_ref untransferable;
} cffi_async_env;

/* ---- the hub ---------------------------------------------------------- */

static void hub_release(cffi_async_hub *hub) {
  cffi_mutex_lock(&hub->lock);
  const bool last = --hub->refs == 0;
  cffi_mutex_unlock(&hub->lock);
  if (last) free(hub);
}

/* The threadsafe function's dispatcher: on the JS thread with env set, or
 * with env NULL for jobs still queued when the env ends. */
static void dispatch_finished(napi_env env, napi_value js_fn, void *context, void *data) {
  (void)js_fn;
  cffi_async_hub *hub = context;
  cffi_async_job *job = data;
  if (env) {
    cffi_env_state *state;
    napi_get_instance_data(env, (void **)&state);
    cffi_async_env *async = state->async;
    if (--async->pending == 0) napi_unref_threadsafe_function(env, hub->tsfn);
  }
  job->complete(env, job);
  hub_release(hub);
}

static void hub_finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_async_hub *hub = data;
  cffi_mutex_lock(&hub->lock);
  hub->alive = false;
  hub->tsfn = NULL;
  cffi_mutex_unlock(&hub->lock);
  hub_release(hub); /* the env's */
}

static cffi_async_hub *env_hub(napi_env env, cffi_async_env *async) {
  if (async->hub) return async->hub;
  cffi_async_hub *hub = calloc(1, sizeof *hub);
  if (!hub) return NULL;
  cffi_mutex_init(&hub->lock);
  hub->alive = true;
  hub->refs = 1;
  napi_value name;
  napi_create_string_utf8(env, "cffi-bun async call", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, hub, hub_finalize, hub, dispatch_finished,
                                      &hub->tsfn) != napi_ok) {
    free(hub);
    return NULL;
  }
  napi_unref_threadsafe_function(env, hub->tsfn);
  async->hub = hub;
  return hub;
}

bool cffi_async_begin(napi_env env, cffi_async_job *job, void (*complete)(napi_env env, cffi_async_job *job)) {
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  cffi_async_env *async = state->async;
  cffi_async_hub *hub = env_hub(env, async);
  if (!hub) {
    cffi_throw(env, "Error", "cffi-bun: could not create the threadsafe function async calls return through");
    return false;
  }
  cffi_mutex_lock(&hub->lock);
  hub->refs++;
  cffi_mutex_unlock(&hub->lock);
  if (async->pending++ == 0) napi_ref_threadsafe_function(env, hub->tsfn);
  job->hub = hub;
  job->complete = complete;
  return true;
}

void cffi_async_abandon(napi_env env, cffi_async_job *job) {
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  cffi_async_env *async = state->async;
  if (--async->pending == 0) napi_unref_threadsafe_function(env, job->hub->tsfn);
  hub_release(job->hub);
  job->hub = NULL;
}

void cffi_async_finish(cffi_async_job *job) {
  cffi_async_hub *hub = job->hub;
  if (cffi_process_exit_begun()) return; /* see the file's header */
  cffi_mutex_lock(&hub->lock);
  napi_status status = napi_closing;
  if (hub->alive) status = napi_call_threadsafe_function(hub->tsfn, job, napi_tsfn_nonblocking);
  cffi_mutex_unlock(&hub->lock);
  if (status == napi_ok) return;
  job->complete(NULL, job); /* the env has ended */
  hub_release(hub);
}

/* ---- prepared calls --------------------------------------------------- */

static bool is_object(napi_env env, napi_value value) {
  napi_valuetype t;
  return napi_typeof(env, value, &t) == napi_ok && (t == napi_object || t == napi_function);
}

/* The ArrayBuffer under a view, or the value itself if it is one. */
static bool buffer_under(napi_env env, napi_value value, napi_value *buffer) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is)
    return napi_get_typedarray_info(env, value, NULL, NULL, NULL, buffer, NULL) == napi_ok;
  if (napi_is_dataview(env, value, &is) == napi_ok && is)
    return napi_get_dataview_info(env, value, NULL, NULL, buffer, NULL) == napi_ok;
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    *buffer = value;
    return true;
  }
  return false;
}

/* Through the built-in getter captured at load, which runs no user JS and
 * throws (cleared here) for a SharedArrayBuffer: those only grow. */
static bool is_resizable(napi_env env, cffi_async_env *async, napi_value buffer) {
  napi_value getter, answer;
  bool resizable = false;
  if (!async->resizable_getter || napi_get_reference_value(env, async->resizable_getter, &getter) != napi_ok)
    return false;
  if (napi_call_function(env, buffer, getter, 0, NULL, &answer) != napi_ok) {
    napi_get_and_clear_last_exception(env, &answer);
    return false;
  }
  napi_get_value_bool(env, answer, &resizable);
  return resizable;
}

/* From now on a transfer of this ArrayBuffer copies it (Node 20) or throws
 * (Node 22+) instead of moving its memory away from the C call using it. */
static bool mark_untransferable(napi_env env, cffi_async_env *async, napi_value buffer) {
  napi_value mark, undefined, ignored;
  if (!async->untransferable || napi_get_reference_value(env, async->untransferable, &mark) != napi_ok) return true;
  napi_get_undefined(env, &undefined);
  return napi_call_function(env, undefined, mark, 1, &buffer, &ignored) == napi_ok;
}

/* asyncUseUntransferable(markAsUntransferable): once per env, from lib/native.js. */
static napi_value use_untransferable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_valuetype t = napi_undefined;
  cffi_env_state *state = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_instance_data(env, (void **)&state);
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function)
    return cffi_throw(env, "TypeError", "asyncUseUntransferable(fn) expects worker_threads.markAsUntransferable");
  if (state && state->async && !state->async->untransferable)
    napi_create_reference(env, argv[0], 1, &state->async->untransferable);
  return NULL;
}

static napi_value throw_refused(napi_env env, const cffi_function *fn, const char *fmt_what, unsigned index) {
  if (index == UINT32_MAX)
    return cffi_throw(env, "TypeError", "%s cannot be called asynchronously: it returns %s, which belongs to the JS thread",
                      fn->name, fmt_what);
  return cffi_throw(env, "TypeError", "%s cannot be called asynchronously: args[%u] is %s, which belongs to the JS thread",
                    fn->name, index, fmt_what);
}

/* Declared by src/calls/jit.c too: the synchronous path's own messages. */
napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc);

/* The async rules for the call's buffers: none resizable, each made
 * untransferable. Before any argument is converted: the getter and
 * markAsUntransferable were taken from JS at load and may be a user's
 * replacements, whose JS could detach a buffer. Run first, what it does is
 * what the conversion sees (a detached view converts to an error). */
static bool keep_buffers(napi_env env, cffi_function *fn, const napi_value *argv) {
  const cffi_signature *sig = &fn->sig;
  for (unsigned i = 0; i < sig->nargs; i++) {
    /* A struct argument is copied: its value is not C's to use. */
    if (sig->args[i] == CFFI_STRUCT_VALUE || !is_object(env, argv[i])) continue;
    if (!cffi_async_keep_buffer(env, argv[i], fn->name, i, cffi_types[sig->args[i]].name)) return false;
  }
  return true;
}

cffi_prepared_call *cffi_prepared_call_new(napi_env env, cffi_function *fn, size_t argc, const napi_value *argv) {
  const cffi_signature *sig = &fn->sig;
  if (!keep_buffers(env, fn, argv)) return NULL;
  if (!fn->owner->open) {
    cffi_jit_closed(env, fn);
    return NULL;
  }
  for (unsigned i = 0; i < sig->nargs; i++)
    if (sig->args[i] == CFFI_NAPI_ENV || sig->args[i] == CFFI_NAPI_VALUE) {
      throw_refused(env, fn, cffi_types[sig->args[i]].name, i);
      return NULL;
    }
  if (sig->returns == CFFI_NAPI_VALUE) {
    throw_refused(env, fn, "napi_value", UINT32_MAX);
    return NULL;
  }
  if (argc < sig->required) {
    cffi_jit_missing(env, fn, argc);
    return NULL;
  }
  /* A variadic function's every argument has a declared type (src/calls/variadic.c). */
  if (sig->variadic && argc > sig->nargs) {
    cffi_variadic_too_many(env, fn, argc);
    return NULL;
  }
  /* Only libffi reads the signature's cif and argument types. */
  const size_t sig_bytes = sig->engine == CFFI_ENGINE_LIBFFI ? sizeof *sig : offsetof(cffi_signature, cif);
  const size_t slot_count = cffi_call_slot_count(sig);
  const size_t head = offsetof(cffi_prepared_call, sig) + sig_bytes;
  const size_t slots_at = (head + 7) & ~(size_t)7;
  const size_t kept_at = slots_at + slot_count * sizeof(uint64_t);
  cffi_prepared_call *pc = calloc(1, kept_at + sig->nargs * sizeof(napi_ref));
  if (!pc) {
    cffi_throw(env, "RangeError", "%s: out of memory preparing an async call", fn->name);
    return NULL;
  }
  memcpy(&pc->sig, sig, sig_bytes);
  if (pc->sig.engine == CFFI_ENGINE_LIBFFI) pc->sig.cif.arg_types = pc->sig.ffi_args;
  /* Struct, union and out() types: the call's own references to their
   * layouts (the function may be collected meanwhile), and room for a
   * struct result (libffi writes its descriptor's size, which may round
   * the type's up: src/types/layout_abi.c). */
  if (sig->layouts) {
    const cffi_sig_layouts *layouts = sig->layouts;
    pc->sig.layouts = NULL;
    if (!cffi_sig_copy_layouts(&pc->sig, sig) ||
        (sig->returns == CFFI_STRUCT_VALUE && !(pc->struct_result = calloc(1, layouts->returns->size + 32)))) {
      cffi_prepared_call_free(env, pc);
      cffi_throw(env, "RangeError", "%s: out of memory preparing an async call", fn->name);
      return NULL;
    }
  }
  pc->slots = (uint64_t *)((char *)pc + slots_at);
  pc->kept = (napi_ref *)((char *)pc + kept_at);
  pc->address = fn->address;
  cffi_call_init(&pc->call, env, fn->name);
  if (!cffi_convert_call_arguments(&pc->call, fn, argv, pc->slots)) {
    cffi_prepared_call_free(env, pc);
    return NULL;
  }
  pc->kept_count = sig->nargs;
  for (unsigned i = 0; i < sig->nargs; i++) {
    /* A struct argument was copied: its value is not C's to use. */
    if (!is_object(env, argv[i]) || sig->args[i] == CFFI_STRUCT_VALUE) continue;
    napi_create_reference(env, argv[i], 1, &pc->kept[i]);
  }
  pc->owner = fn->owner;
  fn->owner->refs++;
  fn->owner->async_calls++;
  return pc;
}

/* libffi with struct types: a struct argument's slot holds the address of
 * its bytes, a struct result goes to the call's own room. */
static uint64_t call_with_layouts(cffi_prepared_call *pc) {
  const cffi_signature *sig = &pc->sig;
  void *values[sig->nargs ? sig->nargs : 1];
  uint64_t raw[2] = {0, 0};
  for (unsigned i = 0; i < sig->nargs; i++)
    values[i] = sig->args[i] == CFFI_STRUCT_VALUE ? (void *)(uintptr_t)pc->slots[i] : (void *)&pc->slots[i];
  ffi_call((ffi_cif *)&sig->cif, FFI_FN(pc->address), pc->struct_result ? (void *)pc->struct_result : (void *)raw, values);
  return raw[0];
}

void cffi_prepared_call_run(cffi_prepared_call *pc) {
#ifdef _WIN32
  SetLastError(0);
#endif
  errno = 0;
  pc->result = pc->sig.layouts ? call_with_layouts(pc) : cffi_call_slots(&pc->sig, pc->address, pc->slots);
  pc->error_number = errno;
#ifdef _WIN32
  pc->last_error = GetLastError();
#endif
}

/* out()/inout() cells into the [value] arrays and objects they came from. */
static bool out_values_back(napi_env env, const cffi_prepared_call *pc) {
  const cffi_signature *sig = &pc->sig;
  napi_value argv[CFFI_MAX_ARGS], undefined;
  bool any = false;
  napi_get_undefined(env, &undefined);
  for (unsigned i = 0; i < sig->nargs; i++) {
    argv[i] = undefined;
    if (sig->args[i] != CFFI_OUT_POINTER || !pc->kept[i]) continue;
    if (napi_get_reference_value(env, pc->kept[i], &argv[i]) != napi_ok) return false;
    any = true;
  }
  return !any || cffi_out_arguments_back(env, sig, argv, pc->slots);
}

napi_value cffi_prepared_call_result(napi_env env, const cffi_prepared_call *pc, bool with_errno) {
  if (pc->sig.layouts && !out_values_back(env, pc)) return NULL;
  napi_value value = pc->sig.returns == CFFI_STRUCT_VALUE ? cffi_struct_result(env, &pc->sig, pc->struct_result)
                                                          : cffi_types[pc->sig.returns].to_js(env, pc->result);
  if (!value) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) return NULL;
  }
  if (!value) napi_get_undefined(env, &value);
  if (!with_errno) return value;
  napi_value object, number;
  napi_create_object(env, &object);
  napi_set_named_property(env, object, "value", value);
  napi_create_int32(env, pc->error_number, &number);
  napi_set_named_property(env, object, "errno", number);
#ifdef _WIN32
  napi_create_uint32(env, (uint32_t)pc->last_error, &number);
  napi_set_named_property(env, object, "lastError", number);
#endif
  return object;
}

void cffi_prepared_call_free(napi_env env, cffi_prepared_call *pc) {
  if (env) {
    for (uint32_t i = 0; i < pc->kept_count; i++)
      if (pc->kept[i]) napi_delete_reference(env, pc->kept[i]);
    if (pc->owner) cffi_owner_async_done(pc->owner);
    cffi_sig_release_layouts(&pc->sig);
  }
  /* With the env gone its references went with it, the owner stays pinned
   * (a library stays loaded until close(), which can no longer come), and
   * so do the layouts: their counts belong to the env's thread, which may
   * still be ending while this runs on a pool thread. */
  cffi_call_release(&pc->call);
  free(pc->struct_result);
  free(pc);
}

/* ---- executors and the shared pool ------------------------------------ */

/* What `this` of an async entry may be: a target, naming a pool and whether
 * results come as { value, errno }. Executors' targets share it. */
typedef struct cffi_executor {
  cffi_pool *pool;
  bool shared;    /* the process-wide pool: never closed */
  bool closed;
  uint32_t refs;  /* targets (JS thread only) */
} cffi_executor;

typedef struct {
  cffi_executor *executor;
  bool with_errno;
  bool sync;      /* executor().callSync: the JS thread waits for the result */
} cffi_async_target;

static const napi_type_tag TARGET_TAG = {0x6366666962756e41ULL, 0x73796e6354617267ULL};

static void executor_release(cffi_executor *ex) {
  if (--ex->refs > 0) return;
  if (!ex->shared && !ex->closed) cffi_pool_close(ex->pool);
  free(ex);
}

static void finalize_target(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_async_target *target = data;
  executor_release(target->executor);
  free(target);
}

static napi_value make_target(napi_env env, cffi_executor *ex, bool with_errno, bool sync) {
  cffi_async_target *target = malloc(sizeof *target);
  napi_value object;
  if (!target || napi_create_object(env, &object) != napi_ok) {
    free(target);
    return cffi_throw(env, "RangeError", "cffi-bun: out of memory");
  }
  target->executor = ex;
  target->with_errno = with_errno;
  target->sync = sync;
  if (napi_wrap(cffi_finalizer_env(env), object, target, finalize_target, NULL, NULL) != napi_ok) {
    free(target);
    return NULL;
  }
  ex->refs++;
  napi_type_tag_object(env, object, &TARGET_TAG);
  return object;
}

static cffi_async_target *target_of(napi_env env, napi_value value) {
  return cffi_unwrap_tagged(env, value, napi_object, &TARGET_TAG);
}

/* ---- the entry -------------------------------------------------------- */

static void run_on_pool(cffi_pool_job *job) {
  cffi_prepared_call *pc = (cffi_prepared_call *)job;
  cffi_prepared_call_run(pc);
  cffi_async_finish(&pc->job);
}

void cffi_settle_deferred(napi_env env, napi_deferred deferred, napi_value value) {
  bool pending = false;
  napi_value error;
  napi_is_exception_pending(env, &pending);
  if (pending && napi_get_and_clear_last_exception(env, &error) == napi_ok)
    napi_reject_deferred(env, deferred, error);
  else
    napi_resolve_deferred(env, deferred, value);
}

static void settle(napi_env env, cffi_async_job *job) {
  cffi_prepared_call *pc = (cffi_prepared_call *)job;
  if (env) cffi_settle_deferred(env, pc->deferred, cffi_prepared_call_result(env, pc, pc->with_errno));
  cffi_prepared_call_free(env, pc);
}

/* The Promise of a call that fails before C runs: rejected with the
 * exception (bad input rejects, as fs.promises does, so `.catch` sees it). */
static napi_value rejected(napi_env env, napi_deferred deferred, napi_value promise) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) napi_get_undefined(env, &error);
  napi_reject_deferred(env, deferred, error);
  return promise;
}

/* executor().callSync: the call runs on the executor's thread while the JS
 * thread waits, and returns like a synchronous call (errno() included).
 * What would deadlock is refused: the executor's thread already waiting for
 * this JS thread (a callback's result), or, during the call, asking it to
 * run a callback (C gets 0; callSync then throws). */
typedef struct sync_job {
  cffi_pool_job job;
  cffi_prepared_call *pc;
  cffi_event done;  /* a counter: +1 per hand-over, +SYNC_FINISHED when the call returns */
  cffi_thread_id js_thread;
  bool deadlocked;  /* C asked for a callback meanwhile (read after done) */
  /* Under blocked_lock: callbacks other threads handed over, and the list of
   * JS threads blocked in callSync that a hand-over looks for its own in. */
  cffi_sync_handover *handovers;
  struct sync_job *next_blocked;
} sync_job;

#define SYNC_FINISHED (1 << 30)

static CFFI_THREAD_LOCAL sync_job *running_sync;
static sync_job *blocked_in_sync;
static cffi_mutex blocked_lock = CFFI_MUTEX_INIT;

/* The wake-up is bumped under blocked_lock: once callSync has left the list
 * (under the same lock) no thread touches its event again. */
bool cffi_async_sync_hand_over(cffi_thread_id js_thread, cffi_sync_handover *handover) {
  bool handed = false;
  cffi_mutex_lock(&blocked_lock);
  for (sync_job *sync = blocked_in_sync; sync; sync = sync->next_blocked) {
    if (!cffi_same_thread(sync->js_thread, js_thread)) continue;
    handover->next = sync->handovers;
    sync->handovers = handover;
    cffi_event_bump(&sync->done, 1);
    handed = true;
    break;
  }
  cffi_mutex_unlock(&blocked_lock);
  return handed;
}

/* The JS thread in callSync: runs what other threads hand over until the
 * call has returned and nothing is left, then leaves the list. */
static void serve_until_finished(napi_env env, sync_job *sync) {
  int seen = 0;
  for (;;) {
    cffi_mutex_lock(&blocked_lock);
    cffi_sync_handover *handover = sync->handovers;
    if (handover) sync->handovers = handover->next;
    else if (seen & SYNC_FINISHED) {
      sync_job **link = &blocked_in_sync;
      while (*link != sync) link = &(*link)->next_blocked;
      *link = sync->next_blocked;
    }
    cffi_mutex_unlock(&blocked_lock);
    if (handover) handover->serve(env, handover->data);
    else if (seen & SYNC_FINISHED) return;
    else seen = cffi_event_wait_past(&sync->done, seen);
  }
}

bool cffi_async_sync_blocks(cffi_thread_id js_thread) {
  sync_job *sync = running_sync;
  if (!sync || !cffi_same_thread(sync->js_thread, js_thread)) return false;
  sync->deadlocked = true;
  return true;
}

static void run_sync(cffi_pool_job *job) {
  sync_job *sync = (sync_job *)job;
  running_sync = sync;
  cffi_prepared_call_run(sync->pc);
  running_sync = NULL;
  cffi_event_bump(&sync->done, SYNC_FINISHED);
}

static napi_value call_sync(napi_env env, cffi_function *fn, cffi_pool *pool, size_t argc, const napi_value *argv) {
  if (cffi_pool_all_wait_for_js(pool))
    return cffi_throw(env, "Error",
                      "executor.callSync(%s) would deadlock: the executor's threads are waiting for this JS thread "
                      "to run a JSCallback; use executor.call()",
                      fn->name);
  cffi_prepared_call *pc = cffi_prepared_call_new(env, fn, argc, argv);
  if (!pc) return NULL;
  sync_job sync = {.pc = pc, .js_thread = cffi_current_thread()};
  sync.job.run = run_sync;
  cffi_event_init(&sync.done);
  cffi_mutex_lock(&blocked_lock);
  sync.next_blocked = blocked_in_sync;
  blocked_in_sync = &sync;
  cffi_mutex_unlock(&blocked_lock);
  const bool submitted = cffi_pool_submit(pool, &sync.job);
  /* Not submitted: nothing runs, so the call counts as returned. */
  if (!submitted) cffi_event_bump(&sync.done, SYNC_FINISHED);
  serve_until_finished(env, &sync);
  cffi_event_destroy(&sync.done);
  napi_value result = NULL;
  if (!submitted) {
    cffi_throw(env, "Error", "Cannot call \"%s\": its executor is closed", fn->name);
  } else if (sync.deadlocked) {
    cffi_throw(env, "Error",
               "executor.callSync(%s): C called a JSCallback from the executor's thread, which cannot run while "
               "callSync blocks the JS thread (C got 0); use executor.call()",
               fn->name);
  } else {
    fn->state->last_errno = pc->error_number;
#ifdef _WIN32
    fn->state->last_error = pc->last_error;
#endif
    result = cffi_prepared_call_result(env, pc, false);
  }
  cffi_prepared_call_free(env, pc);
  return result;
}

napi_value cffi_async_entry(napi_env env, napi_callback_info info) {
  napi_value argv[CFFI_MAX_ARGS], this_arg, promise;
  size_t argc = CFFI_MAX_ARGS;
  void *data;
  napi_deferred deferred;
  napi_get_cb_info(env, info, &argc, argv, &this_arg, &data);
  cffi_function *fn = data;
  const cffi_async_target *target = target_of(env, this_arg);
  if (target && target->sync) {
    if (target->executor->closed) return cffi_throw(env, "Error", "Cannot call \"%s\": its executor is closed", fn->name);
    return call_sync(env, fn, target->executor->pool, argc, argv);
  }
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return NULL;
  cffi_pool *pool = target ? target->executor->pool : NULL;
  if (target && target->executor->closed) {
    cffi_throw(env, "Error", "Cannot call \"%s\": its executor is closed", fn->name);
    return rejected(env, deferred, promise);
  }
  if (!pool && !(pool = cffi_pool_shared())) {
    cffi_throw(env, "RangeError", "cffi-bun: out of memory starting the thread pool");
    return rejected(env, deferred, promise);
  }
  cffi_prepared_call *pc = cffi_prepared_call_new(env, fn, argc, argv);
  if (!pc) return rejected(env, deferred, promise);
  pc->deferred = deferred;
  pc->with_errno = target && target->with_errno;
  pc->job.pool_job.run = run_on_pool;
  if (!cffi_async_begin(env, &pc->job, settle)) {
    cffi_prepared_call_free(env, pc);
    return rejected(env, deferred, promise);
  }
  if (!cffi_pool_submit(pool, &pc->job.pool_job)) {
    cffi_async_abandon(env, &pc->job);
    cffi_prepared_call_free(env, pc);
    cffi_throw(env, "Error", "Cannot call \"%s\": %s", fn->name,
               target && !target->executor->shared ? "its executor is closed" : "no thread could be started");
    return rejected(env, deferred, promise);
  }
  return promise;
}

bool cffi_async_publish(napi_env env, cffi_function *fn, napi_value function) {
  cffi_env_state *state = fn->state;
  napi_value async_fn, key, length;
  if (napi_create_function(env, "async", NAPI_AUTO_LENGTH, cffi_async_entry, fn, &async_fn) != napi_ok ||
      napi_get_reference_value(env, state->async->keep_key, &key) != napi_ok)
    return false;
  napi_create_uint32(env, fn->sig.nargs, &length);
  /* The async function keeps the bound one (and so fn) alive. */
  napi_property_descriptor on_async[] = {
      {NULL, key, NULL, NULL, NULL, function, napi_default, NULL},
      {"length", NULL, NULL, NULL, NULL, length, napi_configurable, NULL},
  };
  napi_property_descriptor on_function[] = {
      {"async", NULL, NULL, NULL, NULL, async_fn, napi_default, NULL},
  };
  if (napi_define_properties(env, async_fn, 2, on_async) != napi_ok ||
      napi_define_properties(env, function, 1, on_function) != napi_ok)
    return false;
  /* Node-API's own memory for the second function, freed with the first. */
  int64_t ignored;
  fn->native_bytes += CFFI_NODE_API_BYTES_PER_FUNCTION;
  napi_adjust_external_memory(env, CFFI_NODE_API_BYTES_PER_FUNCTION, &ignored);
  return true;
}

/* ---- exports ------------------------------------------------------------ */

static cffi_executor *new_executor(napi_env env, cffi_pool *pool, bool shared) {
  cffi_executor *ex = calloc(1, sizeof *ex);
  if (!ex) {
    cffi_throw(env, "RangeError", "cffi-bun: out of memory");
    return NULL;
  }
  ex->pool = pool;
  ex->shared = shared;
  return ex;
}

static bool thread_count_arg(napi_env env, napi_value value, const char *what, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || d != (double)(uint32_t)d || d < 1 || d > 1024) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                    "%s: threads must be an integer from 1 to 1024, received %s", what, cffi_value_kind(env, value));
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

/* asyncExecutor(threads) -> a target for a pool of its own. */
static napi_value executor_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t threads;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!thread_count_arg(env, argc ? argv[0] : NULL, "executor()", &threads)) return NULL;
  cffi_pool *pool = cffi_pool_create(threads);
  if (!pool) return cffi_throw(env, "RangeError", "cffi-bun: out of memory");
  cffi_executor *ex = new_executor(env, pool, false);
  if (!ex) {
    cffi_pool_close(pool);
    return NULL;
  }
  napi_value target = make_target(env, ex, false, false);
  if (!target) {
    cffi_pool_close(pool);
    free(ex);
  }
  return target;
}

/* asyncShared() -> a target for the shared pool. */
static napi_value shared_target(napi_env env, napi_callback_info info) {
  (void)info;
  cffi_pool *pool = cffi_pool_shared();
  if (!pool) return cffi_throw(env, "RangeError", "cffi-bun: out of memory starting the thread pool");
  cffi_executor *ex = new_executor(env, pool, true);
  if (!ex) return NULL;
  napi_value target = make_target(env, ex, false, false);
  if (!target) free(ex);
  return target;
}

static const cffi_async_target *target_arg(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_get_cb_info(env, info, argc, argv, NULL, NULL);
  const cffi_async_target *target = *argc ? target_of(env, argv[0]) : NULL;
  if (!target) cffi_throw(env, "TypeError", "cffi-bun: expected an executor handle");
  return target;
}

/* asyncWithErrno(target) -> a target for the same pool, results as { value, errno }. */
static napi_value with_errno_target(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  const cffi_async_target *target = target_arg(env, info, &argc, argv);
  return target ? make_target(env, target->executor, true, false) : NULL;
}

/* asyncSync(target) -> a target for callSync on the same pool. */
static napi_value sync_target(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  const cffi_async_target *target = target_arg(env, info, &argc, argv);
  return target ? make_target(env, target->executor, false, true) : NULL;
}

/* asyncClose(target): no new calls; queued ones still run. */
static napi_value executor_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  const cffi_async_target *target = target_arg(env, info, &argc, argv);
  if (!target) return NULL;
  cffi_executor *ex = target->executor;
  if (ex->shared) return cffi_throw(env, "Error", "The shared pool cannot be closed");
  if (!ex->closed) {
    ex->closed = true;
    cffi_pool_close(ex->pool);
  }
  return NULL;
}

/* asyncThreads(target, n?) -> the pool's thread limit (after setting it to n). */
static napi_value pool_threads(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  const cffi_async_target *target = target_arg(env, info, &argc, argv);
  if (!target) return NULL;
  if (target->executor->closed) return cffi_throw(env, "Error", "The executor is closed");
  napi_valuetype t = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &t);
  if (t != napi_undefined) {
    uint32_t threads;
    if (!thread_count_arg(env, argv[1], "setThreads()", &threads)) return NULL;
    cffi_pool_set_limit(target->executor->pool, threads);
  }
  napi_create_uint32(env, cffi_pool_limit(target->executor->pool), &result);
  return result;
}

void cffi_make_async_exports(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "asyncExecutor", executor_create, NULL);
  cffi_set_function(env, exports, "asyncShared", shared_target, NULL);
  cffi_set_function(env, exports, "asyncWithErrno", with_errno_target, NULL);
  cffi_set_function(env, exports, "asyncSync", sync_target, NULL);
  cffi_set_function(env, exports, "asyncClose", executor_close, NULL);
  cffi_set_function(env, exports, "asyncThreads", pool_threads, NULL);
  cffi_set_function(env, exports, "asyncUseUntransferable", use_untransferable, NULL);
}

/* ---- the env ------------------------------------------------------------ */

bool cffi_async_attach(napi_env env, cffi_env_state *state) {
  cffi_async_env *async = calloc(1, sizeof *async);
  if (!async) {
    cffi_throw(env, "RangeError", "cffi-bun: out of memory");
    return false;
  }
  state->async = async;
  napi_value key, script, getter;
  napi_create_symbol(env, NULL, &key);
  napi_create_reference(env, key, 1, &async->keep_key);
  static const char source[] =
      "(() => { const d = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable');"
      " return d && d.get; })()";
  napi_valuetype t;
  if (napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &script) == napi_ok &&
      napi_run_script(env, script, &getter) == napi_ok && napi_typeof(env, getter, &t) == napi_ok &&
      t == napi_function)
    napi_create_reference(env, getter, 1, &async->resizable_getter);
  else
    napi_get_and_clear_last_exception(env, &getter);
  return true;
}

/* The env's deletion: its hub (if any) was let go by the threadsafe
 * function's finaliser; jobs still in flight hold their own reference. */
void cffi_async_detach(cffi_env_state *state) {
  free(state->async);
  state->async = NULL;
}

/* ---- for batch().runAsync() (src/calls/batch_buffer.c) ----------------- */

bool cffi_async_keep_buffer(napi_env env, napi_value value, const char *symbol, unsigned index, const char *type) {
  cffi_env_state *state;
  napi_value buffer;
  napi_get_instance_data(env, (void **)&state);
  if (!buffer_under(env, value, &buffer)) return true;
  if (is_resizable(env, state->async, buffer)) {
    cffi_throw(env, "TypeError",
               "%s: args[%u] (%s): a resizable ArrayBuffer (or a view on one) cannot be passed to an async call: "
               "its length could change while C runs on another thread; copy it into a fixed-length buffer",
               symbol, index, type);
    return false;
  }
  return mark_untransferable(env, state->async, buffer);
}
