/*
 * callback.c - JSCallback: C function pointers that call JavaScript.
 *
 * Owns: libffi closures, running the JS function for a call from C on the
 * JS thread (synchronously, re-entrantly) or from any other thread (through
 * a Node-API threadsafe function), exceptions thrown by the JS function, and
 * the callback's lifetime.
 *
 * Lifetime: the closure holds a strong reference to the JS function, so a
 * callback lives until close(), whatever JS drops. close() of an ordinary
 * callback drops the JS function at once; C that kept its pointer gets 0
 * from then on for a while: an entry stub is free at once, and answers 0
 * until it is reused (src/platform/stubs.c), and a libffi closure (Windows,
 * macOS, signatures the register closures do not take) is kept, answering
 * 0, until CLOSED_CALLBACK_QUARANTINE newer ordinary ones have been closed.
 * Calling it after that is the caller's use-after-free, as in C. A threadsafe
 * callback may still be called by threads that raced with close(): after
 * close() it answers every new call with the zero value without touching
 * JS. Calls a foreign thread queued before close() still run (as in Bun
 * 1.4.5): close() keeps the JS function until the last of them has run.
 * Its memory is then kept in a per-env quarantine until no foreign thread
 * is inside it and CLOSED_CALLBACK_QUARANTINE newer threadsafe ones have
 * been closed.
 * A thread that calls a closed pointer long after that is the caller's
 * use-after-free.
 *
 * Calls from foreign threads travel through one Node-API threadsafe
 * function per env, made with the env's first threadsafe callback: a
 * threadsafe function per callback would cost each callback a libuv
 * handle that Node frees only when the event loop next turns (a loop that
 * creates and closes callbacks grew by ~3 KB each).
 *
 * The env's end: its cleanup hook marks every open callback closed, so C
 * that keeps one (atexit/on_exit, a worker's callback called after the
 * worker exited, by a later thread with the same id) gets the zero value
 * without touching JS. Those stay allocated (C may still call them); the
 * quarantine's callbacks that no thread is inside are freed, with the
 * registry and the state, once Node deletes the env.
 *
 * Exceptions never unwind through C: C gets the return type's zero, and the
 * first exception is kept and rethrown by the FFI call that returns to JS
 * (src/calls/call.c). Until then no JSCallback of the env runs JS: C gets
 * the zero value (as in Bun, where JavaScriptCore runs no JS while an
 * exception is pending; qsort calls a throwing comparator's JS once). With
 * no FFI call on the stack, or for a call that came from another thread,
 * it is reported like any uncaught exception.
 *
 * Not guarded: C calling a JSCallback from a signal handler. Nothing cheap
 * tells a handler's frame from C's own, and neither V8 nor the threadsafe
 * queue (a mutex) may be entered there; docs/callbacks.md says so.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"
#include "../platform/thread_pool.h"
#include "../platform/signal_frame.h"
#if CFFI_HAVE_REGISTER_CLOSURES
#include <unistd.h> /* write(), for refuse_signal_handler */
#endif

/* How many closed threadsafe callbacks (and, apart, closed ordinary ones
 * with a libffi closure) an env keeps before freeing the oldest. */
#define CLOSED_CALLBACK_QUARANTINE 256

struct cffi_callback {
  cffi_env_state *state;
  napi_ref function;          /* strong until close() */
  ffi_closure *closure;       /* a libffi closure, or NULL ... */
  cffi_stub_slot *stub;       /* ... an entry stub to a register closure entry */
  cffi_stub_kind stub_kind;   /* the stub's pool (which entry it leads to) */
  void *code;                 /* the C-callable address */
  bool threadsafe;
  atomic_bool closed;
  atomic_int enqueuing;       /* foreign threads inside napi_call_threadsafe_function */
  atomic_int foreign_inside;  /* foreign threads anywhere inside closure_entry */
  atomic_int queued;          /* calls from foreign threads queued and not yet run */
  bool close_deferred;        /* closed with calls queued: the last one finishes close() */
  bool left_quarantine;       /* closed, and CLOSED_CALLBACK_QUARANTINE newer ones too */
  napi_threadsafe_function tsfn; /* the env's (see foreign_calls) */
  cffi_thread_id js_thread;
  cffi_thread_tag js_thread_tag; /* the same thread, as cffi_thread_tag_now gives it */
  char *returned_string;      /* keeps a cstring result alive until the next call */
  uint8_t *struct_result;     /* a struct result's bytes, from JS until closure_entry copies them */
  uint32_t running;           /* calls of it in progress on the JS thread */
  bool free_when_idle;        /* closed while running: freed once they return */
  cffi_callback *next_dead;   /* in the graveyard (see bury) */
  /* The function and `undefined` as handles in the kept scope whose serial
   * is scoped_serial (see run_js), so that the calls of one FFI call reuse
   * them; 0: none. */
  uint32_t scoped_serial;
  napi_value scoped_function, scoped_receiver;
  cffi_signature sig;         /* last: its libffi part is filled only when used */
};

/* A call from a foreign thread, handed to the JS thread, on the heap. Void
 * calls are copied (the caller goes on, and its arguments with it) and
 * freed by the dispatcher. A call that returns a value is also in the
 * waiting list while its thread waits; it is answered once, by the JS
 * thread or by the exit (see answer_waiting_at_exit), and freed by the
 * last of its thread and the queue to let go. */
typedef struct foreign_call {
  cffi_callback *cb;
  uint64_t args[CFFI_MAX_ARGS];
  char *strings[CFFI_MAX_ARGS];  /* owned copies of cstring args and struct args' bytes (void calls) */
  uint64_t result;
  uint8_t *struct_result;        /* a struct result's bytes, on the waiting caller's stack (or NULL) */
  char *result_string;           /* a cstring result, owned by the calling thread */
  bool waits;
  cffi_event done;
  atomic_int claim;              /* waits: a waiting_claim, see answer_waiting_at_exit */
  atomic_int refs;               /* waits: the waiting thread's and the queue's */
  struct foreign_call *prev, *next; /* waits: in the waiting list */
} foreign_call;

/* ---- calls waiting for the JS thread, and the main thread's exit ------
 *
 * Once the exit has begun (src/base/process_exit.c) the JS thread never
 * runs the queue again: every waiting call is answered with the zero value
 * so its thread goes on (a library's exit handler may join it), and later
 * calls get the zero value at once. Process-wide: only the main thread's
 * exit sets the flag, and a worker's calls are answered by its env's end.
 *
 * A waiting call's arguments are not copied: a cstring or struct argument
 * is the calling thread's memory, live only while it waits. The exit's
 * sweep runs on the main thread (or on the thread that called exit()) while
 * a worker's JS thread may be converting that call's arguments; answered
 * then, the caller would return and free or reuse that memory under the
 * conversion (torn strings, or a read of a dead thread's stack). So each
 * waiting call has a claim: the JS thread that runs it takes it
 * (WAITING_CONVERTING) for the conversion only, and the sweep answers only
 * a call it finds WAITING_OPEN; one it finds being converted it leaves to
 * that JS thread, which, its conversion done, sees the exit and answers it
 * 0 itself without running JS. Both read the flag and the claim in
 * sequentially consistent order, so one of them always answers. The JS
 * that runs afterwards reads only its own copies (a "ptr" argument it
 * dereferences is the caller's memory, as in any callback). */
enum waiting_claim { WAITING_OPEN, WAITING_CONVERTING, WAITING_ANSWERED };

static cffi_mutex waiting_lock = CFFI_MUTEX_INIT;
static struct foreign_call *waiting_calls;

static bool waiting_add(foreign_call *call) {
  cffi_mutex_lock(&waiting_lock);
  /* Read under the lock the exit takes after setting the flag: a call
   * added after the exit's sweep sees the flag. */
  const bool exiting = cffi_process_exit_begun();
  if (!exiting) {
    call->next = waiting_calls;
    if (waiting_calls) waiting_calls->prev = call;
    waiting_calls = call;
  }
  cffi_mutex_unlock(&waiting_lock);
  return !exiting;
}

static void waiting_remove(foreign_call *call) {
  cffi_mutex_lock(&waiting_lock);
  if (call->prev) call->prev->next = call->next;
  else waiting_calls = call->next;
  if (call->next) call->next->prev = call->prev;
  cffi_mutex_unlock(&waiting_lock);
}

static void waiting_release(foreign_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) != 1) return;
  cffi_event_destroy(&call->done);
  free(call);
}

static void answer_waiting_at_exit(bool from_atexit) {
#ifdef _WIN32
  /* At DLL_PROCESS_DETACH: the waiting threads are gone, and one of them
   * may have held the lock. */
  if (from_atexit) return;
#else
  (void)from_atexit;
#endif
  cffi_mutex_lock(&waiting_lock);
  for (foreign_call *call = waiting_calls; call; call = call->next) {
    int open = WAITING_OPEN;
    if (!atomic_compare_exchange_strong(&call->claim, &open, WAITING_ANSWERED)) continue;
    call->result = 0;
    call->result_string = NULL;
    cffi_event_signal(&call->done);
  }
  cffi_mutex_unlock(&waiting_lock);
}

/* The JS thread, its conversion of a waiting call's arguments done: false
 * when the exit has begun meanwhile (then the call answers 0 without JS). */
static bool waiting_conversion_done(foreign_call *call) {
  atomic_store(&call->claim, WAITING_OPEN);
  return !cffi_process_exit_begun();
}

/* Constant-size copies, so the compiler inlines each (a call to memcpy per
 * argument showed up in the comparator benchmark). */
static uint64_t read_arg_image(uint8_t type, const void *arg) {
  uint64_t raw = 0;
  /* A struct's image is the address of its bytes (libffi's, live for the call). */
  if (CFFI_UNLIKELY(type == CFFI_STRUCT_VALUE)) return (uintptr_t)arg;
  switch (cffi_types[type].ffi->size) {
    case 1: memcpy(&raw, arg, 1); break;
    case 2: memcpy(&raw, arg, 2); break;
    case 4: memcpy(&raw, arg, 4); break;
    default: memcpy(&raw, arg, 8); break;
  }
  return raw;
}

/* A cstring result must outlive the JS call that produced it. On the JS
 * thread it lives in the callback until its next call; for a call from
 * another thread (or from a callback that closed itself), in the calling
 * thread's slot until that thread's next such result, or its exit (a
 * thread-specific key's destructor; Windows keeps the last one). */
#ifdef _WIN32
static CFFI_THREAD_LOCAL char *thread_result_string;

static void keep_for_this_thread(char *string) {
  free(thread_result_string);
  thread_result_string = string;
}
#else
static pthread_key_t result_string_key;
static pthread_once_t result_string_once = PTHREAD_ONCE_INIT;
static bool result_string_key_made;

static void make_result_string_key(void) {
  result_string_key_made = pthread_key_create(&result_string_key, free) == 0;
}

static void keep_for_this_thread(char *string) {
  pthread_once(&result_string_once, make_result_string_key);
  if (!result_string_key_made) return; /* no key: C gets the string, which is leaked */
  free(pthread_getspecific(result_string_key));
  pthread_setspecific(result_string_key, string);
}
#endif

/* A number or BigInt returned for a cstring is not an address to copy a
 * string from: a TypeError, pending, reported like the function's own. */
static bool cstring_result_kind_ok(napi_env env, napi_value result) {
  napi_valuetype kind = napi_undefined;
  napi_typeof(env, result, &kind);
  if (kind != napi_number && kind != napi_bigint) return true;
  cffi_throw(env, "TypeError",
             "JSCallback returning cstring expects a string or null as its result, received %s",
             cffi_value_kind(env, result));
  return false;
}

/* A struct result: its bytes in cb->struct_result, whose address is the
 * image (closure_entry copies them into libffi's return slot). A value the
 * struct does not take gives C zeros, as a wrong kind of result does. */
static uint64_t struct_result_to_c(napi_env env, cffi_callback *cb, napi_value result) {
  const cffi_layout *layout = cb->sig.layouts->returns;
  cffi_call call;
  cffi_call_init(&call, env, "JSCallback result");
  memset(cb->struct_result, 0, layout->size);
  bool ok = cffi_layout_from_js(&call, layout, result, cb->struct_result, "returns");
  /* A cstring field set from a JS string would not outlive this call. */
  if (ok && (call.scratch_used || call.heap)) ok = false;
  cffi_call_release(&call);
  if (!ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return 0;
  }
  return (uintptr_t)cb->struct_result;
}

/* One argument that is not an i32, through the commonest types' one
 * Node-API call or the type table. Out of line: run_js's loop then keeps
 * what it needs in registers. */
static __attribute__((noinline)) napi_value argument_to_js(napi_env env, const cffi_signature *sig, unsigned i,
                                                           uint64_t image) {
  napi_value value = NULL;
  switch (sig->args[i]) {
    case CFFI_U32: napi_create_uint32(env, (uint32_t)image, &value); break;
    case CFFI_F64: {
      double d;
      memcpy(&d, &image, sizeof d);
      napi_create_double(env, d, &value);
      break;
    }
    case CFFI_STRUCT_VALUE: value = cffi_layout_to_js(env, sig->layouts->args[i], (const uint8_t *)(uintptr_t)image); break;
    default: value = cffi_types[sig->args[i]].to_js(env, image); break;
  }
  return value;
}

/* The result as C takes it, for every case but an i32 that is one (run_js
 * tests that first): see run_js. Out of line, as argument_to_js. */
static __attribute__((noinline)) uint64_t result_to_c(napi_env env, cffi_callback *cb, napi_value result, bool *threw,
                                                      char **string_copy) {
  const cffi_signature *sig = &cb->sig;
  int32_t small;
  if (sig->returns == CFFI_VOID) return 0;
  if (sig->returns == CFFI_STRUCT_VALUE) return struct_result_to_c(env, cb, result);
  if (sig->returns == CFFI_CSTRING && !cstring_result_kind_ok(env, result)) {
    *threw = true;
    return 0;
  }
  /* The commonest results with the one Node-API call they need; every
   * other case through the type table (same images). */
  double d;
  switch (sig->returns) {
    case CFFI_U32:
      if (napi_get_value_int32(env, result, &small) == napi_ok) return (uint32_t)small;
      break;
    case CFFI_F64:
      if (napi_get_value_double(env, result, &d) == napi_ok) {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return bits;
      }
      break;
    default: break;
  }

  cffi_call call;
  cffi_call_init(&call, env, "JSCallback result");
  call.type = sig->returns;
  uint64_t raw = 0;
  if (!cffi_types[sig->returns].to_c(&call, result, &raw)) {
    /* A wrong kind of result gives C the zero value, not an exception. */
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    cffi_call_release(&call);
    return 0;
  }
  if (sig->returns == CFFI_CSTRING && raw) {
    char *copy = strdup((const char *)(uintptr_t)raw);
    if (string_copy) {
      *string_copy = copy;
    } else {
      free(cb->returned_string);
      cb->returned_string = copy;
    }
    raw = (uintptr_t)copy;
  }
  cffi_call_release(&call);
  return raw;
}

/* The function and `undefined` as handles in the scope whose serial is
 * kept_serial (0: a scope of the call's own), for run_js. */
static __attribute__((noinline)) void take_function(napi_env env, cffi_callback *cb, uint32_t kept_serial) {
  napi_get_reference_value(env, cb->function, &cb->scoped_function);
  napi_get_undefined(env, &cb->scoped_receiver);
  cb->scoped_serial = kept_serial;
}

/* napi_call_function failed: whether an exception is pending (*threw). */
static __attribute__((noinline)) uint64_t call_failed(napi_env env, bool *threw) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  *threw = pending;
  return 0;
}

/* Runs the JS function with C arguments (register images); returns the
 * result's image, or 0 when the function threw (*threw set, exception
 * pending) or returned a value the return type does not accept. A cstring
 * result is a fresh copy handed to *string_copy when that is given.
 * kept_serial: the serial of the kept scope this runs in (the innermost
 * open scope), or 0; the function's handle made in that scope stays valid
 * until it closes, so later calls in it skip napi_get_reference_value.
 * nargs: sig->nargs, a constant where the caller knows it (the loop is
 * then unrolled). */
/* Inlined into its callers, as call_on_js_thread is: a callback from C
 * otherwise pays two more frames' register saves (~23 instructions of a
 * comparator call). */
static inline __attribute__((always_inline)) uint64_t run_js(napi_env env, cffi_callback *cb, const uint64_t *args,
                                                             unsigned nargs, bool *threw, char **string_copy,
                                                             uint32_t kept_serial, foreign_call *claimed) {
  const cffi_signature *sig = &cb->sig;
  napi_value argv[CFFI_MAX_ARGS], result;
  *threw = false;
  /* An i32 with its one Node-API call here, the rest out of line (same
   * values). */
  for (unsigned i = 0; i < nargs; i++) {
    if (CFFI_LIKELY(sig->args[i] == CFFI_I32)) napi_create_int32(env, (int32_t)args[i], &argv[i]);
    else argv[i] = argument_to_js(env, sig, i, args[i]);
  }
  /* A waiting foreign call: its caller's memory is read no more. */
  if (claimed && !waiting_conversion_done(claimed)) return 0;
  if (CFFI_UNLIKELY(kept_serial == 0 || cb->scoped_serial != kept_serial)) take_function(env, cb, kept_serial);
  if (CFFI_UNLIKELY(napi_call_function(env, cb->scoped_receiver, cb->scoped_function, nargs, argv, &result) != napi_ok))
    return call_failed(env, threw);
  int32_t small;
  /* The commonest result first (a comparator's). */
  if (CFFI_LIKELY(sig->returns == CFFI_I32) && napi_get_value_int32(env, result, &small) == napi_ok)
    return (uint64_t)(int64_t)small;
  return result_to_c(env, cb, result, threw, string_copy);
}

static void report_uncaught(napi_env env) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
}

/* Handle scopes. A callback's handles (its arguments, its result) must not
 * pile up in the scope of the FFI call it runs in: C may call it millions
 * of times in one call (qsort). But a scope of its own per call costs Node
 * a malloc and a free each time, about a sixth of a whole callback call.
 * So a callback called straight from an FFI call's C keeps its scope open
 * for the next CALLBACK_SCOPE_REUSES calls (by any callback) from that C,
 * and the FFI call closes it when its C returns (cffi_callbacks_cleanup).
 * That is sound only while the kept scope is the innermost open scope
 * whenever it is reused or closed, so a callback opens and closes a scope
 * of its own when:
 *  - no FFI call is on the stack (no one would close a kept scope);
 *  - it runs inside the JS of another callback called from the same FFI
 *    call (something there, another addon say, may have opened a scope
 *    around this call);
 *  - a function that takes the napi_env is running (its C may have opened
 *    a scope around this call);
 *  - a node:ffi call is on the stack (CFFI_NODE_FFI_CALL_BIT in call_depth:
 *    V8 opens a scope around node:ffi's native function, which returns
 *    before the engine's guard could close a kept scope);
 *  - the kept scope belongs to an outer FFI call.
 * C that keeps a napi_env from an earlier call and opens handle scopes with
 * it around calls of a JSCallback defeats these checks; that is documented
 * in the README. */
#define CALLBACK_SCOPE_REUSES 128

static void close_kept_scope(cffi_env_state *state) {
  napi_close_handle_scope(state->env, state->kept_scope);
  state->kept_scope = NULL;
  state->kept_scope_depth = 0;
  if (!state->pending_exception) state->cleanup_depth = 0;
}

bool cffi_callbacks_cleanup(napi_env env, cffi_env_state *state) {
  /* A kept scope deeper than call_depth is the returning call's own. */
  if (state->kept_scope && state->kept_scope_depth > state->call_depth) close_kept_scope(state);
  state->cleanup_depth = state->kept_scope_depth;
  napi_ref ref = state->pending_exception;
  if (!ref) return false;
  /* A JSCallback threw while C ran: C got the zero value; JS gets the
   * error, boxed in an array because Node-API 8 cannot reference a
   * primitive, and `throw 42` is allowed. */
  napi_value box, error;
  state->pending_exception = NULL;
  napi_get_reference_value(env, ref, &box);
  napi_delete_reference(env, ref);
  napi_get_element(env, box, 0, &error);
  napi_throw(env, error);
  return true;
}

/* A JSCallback installed as a signal handler (signal(SIGUSR1, cb)) for a
 * signal that interrupted JS or V8, which cannot be entered then: C gets 0
 * and stderr says why, once per process. Only what is async-signal-safe
 * here: a lock-free flag and write(), no allocation. Whether a call
 * interrupted V8 rather than C: on the JS thread, with no FFI call's C code
 * running (call_depth == js_callback_depth: at the top level, or in a
 * callback's JS), for an open callback, from code that returns into the
 * kernel's signal return (return_address; NULL: not known, a libffi
 * closure's call). A signal raised inside an FFI call (raise(), or one that
 * interrupts a blocking C call) finds the JS thread in C, as any callback
 * from C does: its JS runs, as in Bun. Other threads take the usual path.
 * call_on_js_thread asks only when the kept scope's conditions fail, one of
 * which is that C is running. */
static bool returns_into_signal_return(const void *return_address) {
#if CFFI_HAVE_REGISTER_CLOSURES
  return return_address && cffi_returns_into_sigreturn(return_address);
#else
  (void)return_address;
  return false;
#endif
}

static void refuse_signal_handler(void) {
#if CFFI_HAVE_REGISTER_CLOSURES
  static atomic_bool reported;
  if (atomic_exchange_explicit(&reported, true, memory_order_relaxed)) return;
  static const char message[] =
      "cffi-bun: a JSCallback was called as a signal handler while JavaScript was running; V8 "
      "cannot be entered then (it would abort), so it did not run and C got 0. Use process.on(\"SIGUSR1\", ...) for "
      "signals (see docs/callbacks.md).\n";
  ssize_t ignored = write(2, message, sizeof message - 1);
  (void)ignored;
#endif
}

/* A call that does not reuse the kept scope it finds (see above): false if
 * it must not run JS (C gets 0): a signal handler's that interrupted V8, or
 * an exception from a callback is pending. Else opens the scope it runs in,
 * a kept one or, in *own_scope, its own, and sets *serial to the kept
 * scope's serial, or to 0 for a scope of its own. Out of line: of the calls
 * a callback gets from one FFI call's C, all but one in
 * CALLBACK_SCOPE_REUSES reuse the scope. */
static __attribute__((noinline)) bool enter_scope(cffi_env_state *state, uint32_t depth, const void *return_address,
                                                  uint32_t *serial, napi_handle_scope *own_scope) {
  if (depth == state->js_callback_depth && CFFI_UNLIKELY(returns_into_signal_return(return_address))) {
    refuse_signal_handler();
    return false;
  }
  /* A callback threw and its FFI call has not returned to JS yet. */
  if (state->pending_exception) return false;
  const bool kept = depth != 0 && state->js_callback_depth != depth && state->env_calls == 0 &&
                    !(depth & CFFI_NODE_FFI_CALL_BIT) &&
                    (state->kept_scope_depth == depth || !state->kept_scope);
  if (!kept) {
    napi_open_handle_scope(state->env, own_scope);
    *serial = 0;
    return true;
  }
  if (!state->kept_scope) {
    napi_open_handle_scope(state->env, &state->kept_scope);
    state->kept_scope_depth = depth;
    state->kept_scope_uses = 0;
    if (++state->kept_scope_serial == 0) state->kept_scope_serial = 1;
    if (state->cleanup_depth < depth) state->cleanup_depth = depth;
  }
  *serial = state->kept_scope_serial;
  return true;
}

/* The callback threw: reported, or kept for the FFI call that returns to
 * JS next. */
static __attribute__((noinline)) void callback_threw(napi_env env, cffi_env_state *state, uint32_t depth) {
  if (depth == 0) {
    report_uncaught(env);
    return;
  }
  napi_value error, box;
  napi_get_and_clear_last_exception(env, &error);
  if (!state->pending_exception && napi_create_array_with_length(env, 1, &box) == napi_ok &&
      napi_set_element(env, box, 0, error) == napi_ok &&
      napi_create_reference(env, box, 1, &state->pending_exception) == napi_ok)
    state->cleanup_depth = UINT32_MAX;
}

/* On the JS thread, inside an FFI call or not, for an open callback. */
static inline __attribute__((always_inline)) uint64_t call_on_js_thread(cffi_callback *cb, const uint64_t *args,
                                                                        unsigned nargs, const void *return_address) {
  cffi_env_state *state = cb->state;
  napi_env env = state->env;
  const uint32_t depth = state->call_depth, env_calls = state->env_calls;
  const uint32_t outer_js_callback = state->js_callback_depth;
  /* The kept scope, open for this FFI call's C, reused: enter_scope's
   * conditions, of which the others held when it was opened at this depth
   * (a nonzero depth without CFFI_NODE_FFI_CALL_BIT). */
  napi_handle_scope own_scope = NULL;
  uint32_t serial;
  if (CFFI_LIKELY(state->kept_scope != NULL && state->kept_scope_depth == depth && outer_js_callback != depth &&
                  env_calls == 0 && state->pending_exception == NULL))
    serial = state->kept_scope_serial;
  else if (!enter_scope(state, depth, return_address, &serial, &own_scope))
    return 0;

  state->js_callback_depth = depth;
  state->js_callbacks_run++;
  bool threw;
  uint64_t raw = run_js(env, cb, args, nargs, &threw, NULL, serial, NULL);
  state->js_callback_depth = outer_js_callback;
  /* JS can write these (the node-ffi engine's view, src/calls/node_ffi.c),
   * and every FFI call it makes meanwhile leaves them as they were: what a
   * raw nodeFfiState() write left must not reach the scope bookkeeping of
   * the call returning (Node aborts on a scope left open). */
  state->call_depth = depth;
  state->env_calls = env_calls;
  if (state->pending_exception) state->cleanup_depth = UINT32_MAX;
  else if (state->kept_scope && state->cleanup_depth < state->kept_scope_depth) state->cleanup_depth = state->kept_scope_depth;

  if (CFFI_UNLIKELY(threw)) callback_threw(env, state, depth);
  if (serial == 0) napi_close_handle_scope(env, own_scope);
  else if (++state->kept_scope_uses == CALLBACK_SCOPE_REUSES) close_kept_scope(state);
  return raw;
}

/* The env's callbacks: open ones by address, closed threadsafe ones and
 * closed libffi closures in quarantine (two rings, so that a program that
 * makes and closes a callback per call does not cut the threadsafe ones'
 * time short), self-closed ones in the graveyard, and the threadsafe
 * function every foreign thread's call travels through. Touched only on
 * the env's JS thread. */
typedef struct callback_table {
  cffi_callback **slots;
  uint32_t capacity; /* a power of two, or 0 */
  uint32_t count;
} callback_table;

typedef struct closed_ring {
  cffi_callback *slots[CLOSED_CALLBACK_QUARANTINE];
  uint32_t next;
} closed_ring;

typedef struct cffi_callbacks {
  callback_table open;
  closed_ring threadsafe_closed;
  closed_ring closures_closed;
  cffi_callback *graveyard;                /* see bury */
  napi_threadsafe_function foreign_calls;  /* made with the first threadsafe callback */
} cffi_callbacks;

static void free_foreign_call(foreign_call *call) {
  for (unsigned i = 0; i < call->cb->sig.nargs; i++) free(call->strings[i]);
  free(call);
}

static void finish_close(napi_env env, cffi_callback *cb);

/* The threadsafe function's dispatcher: runs on the JS thread (env set), or
 * with env NULL when the env ends with this call still queued. A call
 * queued before close() runs: close() left the function referenced. */
static void dispatch_foreign_call(napi_env env, napi_value js_fn, void *context, void *data) {
  (void)js_fn, (void)context;
  foreign_call *call = data;
  cffi_callback *cb = call->cb;
  uint64_t result = 0;
  char *result_string = NULL;
  int open = WAITING_OPEN;
  if (env && cb->function &&
      (!call->waits || atomic_compare_exchange_strong(&call->claim, &open, WAITING_CONVERTING))) {
    bool threw;
    result = run_js(env, cb, call->args, cb->sig.nargs, &threw, &result_string, 0, call->waits ? call : NULL);
    if (threw) report_uncaught(env);
  }
  const bool last = atomic_fetch_sub(&cb->queued, 1) == 1;
  if (!call->waits) {
    free_foreign_call(call);
  } else if (atomic_exchange(&call->claim, WAITING_ANSWERED) != WAITING_ANSWERED) {
    /* The callback's own room is for its JS thread's calls: this one's copy is
     * the caller's, on its stack, which lives until the signal below. */
    if (call->struct_result && result) {
      memcpy(call->struct_result, (const void *)(uintptr_t)result, cb->sig.layouts->returns->size);
      result = (uintptr_t)call->struct_result;
    }
    call->result = result;
    call->result_string = result_string;
    cffi_event_signal(&call->done);
    waiting_release(call);
  } else {
    free(result_string); /* answered by the exit meanwhile */
    waiting_release(call);
  }
  if (last && cb->close_deferred) finish_close(env, cb);
}

/* A call handed to the JS thread blocked in callSync (src/calls/async_call.c). */
static void serve_handed_over(napi_env env, void *data) { dispatch_foreign_call(env, NULL, NULL, data); }

static uint64_t call_from_foreign_thread(cffi_callback *cb, const uint64_t *args) {
  const cffi_signature *sig = &cb->sig;
  if (!cb->threadsafe) {
    fprintf(stderr,
            "cffi-bun: a JSCallback created without { threadsafe: true } was called from a thread "
            "other than the JS thread; C gets 0 and the JS function does not run. "
            "Create it with threadsafe: true.\n");
    return 0;
  }
  if (cffi_process_exit_begun()) return 0; /* see answer_waiting_at_exit */
  bool waits = sig->returns != CFFI_VOID;
  /* The thread runs executor().callSync's call, whose JS thread blocks
   * until it returns: waiting for JS would never end (callSync then throws;
   * src/calls/async_call.c). */
  if (waits && cffi_async_sync_blocks(cb->js_thread)) return 0;
  foreign_call *call = calloc(1, sizeof *call);
  if (!call) return 0;
  call->cb = cb;
  call->waits = waits;
  /* Room for a struct result, as large as libffi's copy of it (closure_entry). */
  const size_t result_room = sig->returns == CFFI_STRUCT_VALUE ? sig->layouts->returns->size + 16 : 1;
  uint8_t struct_result[result_room];
  call->struct_result = sig->returns == CFFI_STRUCT_VALUE ? struct_result : NULL;
  for (unsigned i = 0; i < sig->nargs; i++) {
    call->args[i] = args[i];
    /* A caller that goes on takes its argument memory with it: copies. */
    if (!waits && sig->args[i] == CFFI_CSTRING && call->args[i]) {
      call->strings[i] = strdup((const char *)(uintptr_t)call->args[i]);
      call->args[i] = (uintptr_t)call->strings[i];
    } else if (!waits && sig->args[i] == CFFI_STRUCT_VALUE) {
      const uint32_t size = sig->layouts->args[i]->size;
      if ((call->strings[i] = malloc(size ? size : 1))) memcpy(call->strings[i], (const void *)(uintptr_t)args[i], size);
      else {
        free_foreign_call(call);
        return 0;
      }
      call->args[i] = (uintptr_t)call->strings[i];
    }
  }
  if (waits) {
    cffi_event_init(&call->done);
    atomic_init(&call->refs, 2);
    if (!waiting_add(call)) {
      cffi_event_destroy(&call->done);
      free(call);
      return 0;
    }
  }

  /* `enqueuing` lets close() (and the env's end) wait until no thread is
   * between here and the end of the call below: after that, `queued`
   * only goes down, on the JS thread. */
  atomic_fetch_add(&cb->enqueuing, 1);
  napi_status status = napi_closing;
  /* Its JS thread blocked in callSync runs it there (C under callSync may
   * be waiting for this thread: through the queue it would wait forever). */
  cffi_sync_handover handover = {serve_handed_over, call, NULL};
  if (!atomic_load(&cb->closed)) {
    atomic_fetch_add(&cb->queued, 1);
    status = waits && cffi_async_sync_hand_over(cb->js_thread, &handover)
                 ? napi_ok
                 : napi_call_threadsafe_function(cb->tsfn, call, napi_tsfn_blocking);
    if (status != napi_ok) atomic_fetch_sub(&cb->queued, 1);
  }
  atomic_fetch_sub(&cb->enqueuing, 1);

  if (status != napi_ok) {
    if (waits) {
      waiting_remove(call);
      cffi_event_destroy(&call->done);
    }
    free_foreign_call(call);
    return 0;
  }
  if (!waits) return 0;
  cffi_pool_begin_js_wait(); /* see cffi_pool_waits_for_js */
  cffi_event_wait(&call->done);
  cffi_pool_end_js_wait();
  waiting_remove(call);
  const uint64_t result = call->result;
  if (call->result_string) keep_for_this_thread(call->result_string);
  waiting_release(call);
  return result;
}

/* Callbacks closed from inside their own call (a one-shot callback that
 * closes itself) cannot be freed there: their frame, their cif (which libffi
 * still reads on the way out) and their result string are in use, and the
 * C that called them may call them again before it returns (each such call
 * answers 0). When the last running call returns the callback goes to its
 * env's graveyard, and it is freed, with its entry stub, at the env's next
 * create or close (or its end), on the env's JS thread, when no C frame of
 * that FFI call can be live any more. */
static void bury(cffi_callback *cb) {
  cb->free_when_idle = false;
  /* Its result string must outlive it: C has not read it yet. */
  if (cb->returned_string) keep_for_this_thread(cb->returned_string);
  cb->returned_string = NULL;
  cb->next_dead = cb->state->callbacks->graveyard;
  cb->state->callbacks->graveyard = cb;
}

/* On the callback's JS thread only. Its stub may be reused as soon as no
 * new call can enter it: the stub is never on a running call's stack. */
static void release_stub(cffi_callback *cb) {
  if (cb->stub) cffi_stub_release(cb->state, cb->stub_kind, cb->stub);
  cb->stub = NULL;
}

static void free_callback(cffi_callback *cb) {
  if (cb->closure) ffi_closure_free(cb->closure);
  cffi_sig_release_layouts(&cb->sig);
  free(cb->struct_result);
  free(cb->returned_string);
  free(cb);
}

/* Every kind of closure ends here, with the arguments as register images,
 * nargs of them (cb->sig.nargs, a constant where the entry knows it), and
 * the address C returns to (NULL where not known: see
 * refuse_signal_handler). */
static inline __attribute__((always_inline)) uint64_t run_callback(cffi_callback *cb, const uint64_t *images,
                                                                   unsigned nargs, const void *return_address) {
  uint64_t raw = 0;
  if (CFFI_LIKELY(cffi_thread_tag_now() == cb->js_thread_tag)) {
    if (CFFI_LIKELY(!atomic_load_explicit(&cb->closed, memory_order_relaxed))) {
      cb->running++;
      raw = call_on_js_thread(cb, images, nargs, return_address);
      cb->running--;
    }
    /* The JS function closed this very callback: its caller may still read
     * it on the way out (libffi reads its cif), so it is freed later (see
     * the graveyard). */
    if (CFFI_UNLIKELY(cb->free_when_idle) && cb->running == 0) bury(cb);
  } else {
    atomic_fetch_add(&cb->foreign_inside, 1);
    if (!atomic_load(&cb->closed)) raw = call_from_foreign_thread(cb, images);
    atomic_fetch_sub(&cb->foreign_inside, 1);
    /* From here on cb may be freed by its JS thread. */
  }
  return raw;
}

#if CFFI_HAVE_REGISTER_CLOSURES
uint64_t cffi_callback_from_registers(cffi_callback *cb, const uint64_t *registers, const void *return_address) {
  const unsigned n = cb->sig.nargs;
  uint64_t images[CFFI_INT_REGS + CFFI_FLOAT_REGS];
  for (unsigned i = 0; i < n; i++) images[i] = registers[cb->sig.dest[i]];
  return run_callback(cb, images, n, return_address);
}

/* One per argument count, each with run_callback's loop unrolled for it. */
#define FROM_IMAGES(n)                                                                                              \
  uint64_t cffi_callback_from_images_##n(cffi_callback *cb, const uint64_t *images, const void *return_address) { \
    return run_callback(cb, images, n, return_address);                                                            \
  }
FROM_IMAGES(0)
FROM_IMAGES(1)
FROM_IMAGES(2)
FROM_IMAGES(3)
#undef FROM_IMAGES
#endif

/* A libffi closure's call, which tells no return address (one copy of
 * run_callback for both of closure_entry's calls). */
static __attribute__((noinline)) uint64_t run_closure_call(cffi_callback *cb, const uint64_t *images, unsigned n) {
  return run_callback(cb, images, n, NULL);
}

static void closure_entry(ffi_cif *cif, void *ret, void **args, void *user_data) {
  cffi_callback *cb = user_data;
  /* cif lives in cb: read what is needed of it before cb may be freed. */
  const bool has_result = cif->rtype != &ffi_type_void;
  const unsigned n = cb->sig.nargs;
  uint64_t images[n ? n : 1];
  for (unsigned i = 0; i < n; i++) images[i] = read_arg_image(cb->sig.args[i], args[i]);
  if (CFFI_UNLIKELY(cif->rtype->type == FFI_TYPE_STRUCT)) {
    const size_t size = cif->rtype->size;
    uint64_t bytes = run_closure_call(cb, images, n);
    /* 0: the function threw or gave a value the struct does not take. */
    if (bytes) memcpy(ret, (const void *)(uintptr_t)bytes, size);
    else memset(ret, 0, size);
    return;
  }
  uint64_t raw = run_closure_call(cb, images, n);
  /* libffi's return slot is at least a full register wide; images are
   * already widened the way the ABI wants small integers. */
  if (has_result) memcpy(ret, &raw, sizeof raw);
}

/* Frees a closed callback that left the quarantine, unless a thread is
 * still inside it (then it stays allocated for good). */
static bool free_if_unreachable(cffi_callback *cb) {
  if (!cb->left_quarantine || cb->running || atomic_load(&cb->queued) != 0 ||
      atomic_load(&cb->foreign_inside) != 0)
    return false;
  CFFI_DEBUG("freed closed %sJSCallback at %p", cb->threadsafe ? "threadsafe " : "", cb->code);
  release_stub(cb);
  free_callback(cb);
  return true;
}

static void quarantine(cffi_callback *cb) {
  cffi_callbacks *registry = cb->state->callbacks;
  closed_ring *ring = cb->threadsafe ? &registry->threadsafe_closed : &registry->closures_closed;
  cffi_callback *oldest = ring->slots[ring->next];
  ring->slots[ring->next] = cb;
  ring->next = (ring->next + 1) % CLOSED_CALLBACK_QUARANTINE;
  if (oldest) {
    oldest->left_quarantine = true;
    free_if_unreachable(oldest);
  }
}

/* Every callback of the ring leaves the quarantine (the env has ended). */
static void end_quarantine(closed_ring *ring) {
  for (uint32_t i = 0; i < CLOSED_CALLBACK_QUARANTINE; i++) {
    cffi_callback *cb = ring->slots[i];
    if (!cb) continue;
    cb->left_quarantine = true;
    free_if_unreachable(cb);
  }
}

/* A closed ordinary callback no call is running: an entry stub is freed
 * (it answers 0 until reused), a libffi closure, whose memory libffi would
 * hand to the next closure at once, is kept a while in quarantine, where
 * it answers 0 (closed is set). */
static void forget_closed(cffi_callback *cb) {
  if (cb->closure) {
    quarantine(cb);
  } else {
    release_stub(cb);
    free_callback(cb);
  }
}

/* Frees every callback buried in this env, once no FFI call is on the
 * stack (C that called a buried callback may still be running otherwise). */
static void empty_graveyard(cffi_env_state *state) {
  if (state->call_depth != 0) return;
  cffi_callbacks *registry = state->callbacks;
  cffi_callback *cb = registry->graveyard;
  registry->graveyard = NULL;
  while (cb) {
    cffi_callback *next = cb->next_dead;
    forget_closed(cb);
    cb = next;
  }
}

/* Stops calls from reaching JS once no foreign thread is mid-enqueue. */
static void stop_foreign_calls(cffi_callback *cb) {
  atomic_store(&cb->closed, true);
  while (atomic_load(&cb->enqueuing) > 0) cffi_yield_thread();
}

/* A threadsafe callback's close, once no queued call is left (env NULL:
 * the env has ended, and Node deletes its references itself). */
static void finish_close(napi_env env, cffi_callback *cb) {
  cb->close_deferred = false;
  if (env && cb->function) napi_delete_reference(env, cb->function);
  cb->function = NULL;
  quarantine(cb);
}

static void close_callback(napi_env env, cffi_callback *cb) {
  if (atomic_load(&cb->closed)) return;
  CFFI_DEBUG("closed JSCallback at %p", cb->code);
  if (!cb->threadsafe) {
    napi_delete_reference(env, cb->function);
    cb->function = NULL;
    atomic_store(&cb->closed, true);
    if (cb->running > 0) cb->free_when_idle = true; /* closed by its own call: see the graveyard */
    else forget_closed(cb);
    return;
  }
  stop_foreign_calls(cb);
  if (atomic_load(&cb->queued) > 0) cb->close_deferred = true; /* see dispatch_foreign_call */
  else finish_close(env, cb);
}

/* ---- open callbacks by address ---------------------------------------
 *
 * JS knows a callback by its C address (its .ptr): callbackCreate returns
 * it and callbackClose takes it back. A per-env hash table (open
 * addressing, linear probing) maps addresses to open callbacks. An
 * address is in it from creation to close(), so a stale or foreign
 * address finds nothing. */
static uint32_t table_home(uint32_t capacity, const void *code) {
  /* Closures are at least 8-byte aligned: drop the low bits, then mix. */
  return (uint32_t)((((uintptr_t)code >> 3) * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (capacity - 1);
}

/* Puts cb in the first free slot of its run (there is one: load <= 1/2). */
static void table_place(cffi_callback **slots, uint32_t capacity, cffi_callback *cb) {
  uint32_t at = table_home(capacity, cb->code);
  while (slots[at]) at = (at + 1) & (capacity - 1);
  slots[at] = cb;
}

static bool table_grow(callback_table *t) {
  const uint32_t capacity = t->capacity ? t->capacity * 2 : 64;
  cffi_callback **slots = calloc(capacity, sizeof *slots);
  if (!slots) return false;
  for (uint32_t i = 0; i < t->capacity; i++) {
    if (t->slots[i]) table_place(slots, capacity, t->slots[i]);
  }
  free(t->slots);
  t->slots = slots;
  t->capacity = capacity;
  return true;
}

static bool table_add(callback_table *t, cffi_callback *cb) {
  if ((t->count + 1) * 2 > t->capacity && !table_grow(t)) return false;
  table_place(t->slots, t->capacity, cb);
  t->count++;
  return true;
}

/* Removes and returns the open callback at `code`, or NULL. */
static cffi_callback *table_take(callback_table *t, uint64_t code) {
  if (!t->count) return NULL;
  const uint32_t mask = t->capacity - 1;
  uint32_t at = table_home(t->capacity, (const void *)(uintptr_t)code);
  while (t->slots[at] && (uintptr_t)t->slots[at]->code != code) at = (at + 1) & mask;
  cffi_callback *found = t->slots[at];
  if (!found) return NULL;
  /* Backward-shift deletion: pull later entries of the run into the gap
   * when their home does not lie cyclically in (gap, their slot]. */
  uint32_t gap = at, next = (at + 1) & mask;
  while (t->slots[next]) {
    uint32_t home = table_home(t->capacity, t->slots[next]->code);
    if (((next - home) & mask) >= ((next - gap) & mask)) {
      t->slots[gap] = t->slots[next];
      gap = next;
    }
    next = (next + 1) & mask;
  }
  t->slots[gap] = NULL;
  t->count--;
  return found;
}

/* ---- the env's end ---------------------------------------------------- */

/* A cleanup hook: every open callback answers 0 from now on, and no
 * foreign thread is left inside the threadsafe function's call when Node
 * tears it down (this hook is registered after it, so it runs first). */
static void env_ending(void *data) {
  cffi_env_state *state = data;
  callback_table *open = &state->callbacks->open;
  for (uint32_t i = 0; i < open->capacity; i++) {
    cffi_callback *cb = open->slots[i];
    if (cb && cb->threadsafe) stop_foreign_calls(cb);
    else if (cb) atomic_store(&cb->closed, true);
  }
}

bool cffi_callbacks_attach(napi_env env, cffi_env_state *state) {
  state->callbacks = calloc(1, sizeof *state->callbacks);
  if (!state->callbacks) {
    cffi_throw(env, "RangeError", "cffi-bun: out of memory");
    return false;
  }
  napi_add_env_cleanup_hook(env, env_ending, state);
  cffi_process_exit_notify(answer_waiting_at_exit);
  return true;
}

void cffi_callbacks_detach(cffi_env_state *state) {
  cffi_callbacks *registry = state->callbacks;
  if (!registry) return;
  empty_graveyard(state);
  /* Its threads have stopped and so has the threadsafe function: the
   * quarantine ends early. (Keeping it for later envs cost RSS: the
   * memory of 256 callbacks per worker, freed by other threads later,
   * grew the process by ~70 KB per worker.) */
  end_quarantine(&registry->threadsafe_closed);
  end_quarantine(&registry->closures_closed);
  /* Open callbacks stay: C may still call them (they answer 0). */
  CFFI_DEBUG("env ended: %u open JSCallbacks stay, the quarantine is freed", registry->open.count);
  free(registry->open.slots);
  free(registry);
  state->callbacks = NULL;
}

/* The env's threadsafe function, made on first use. */
static napi_threadsafe_function foreign_calls(napi_env env, cffi_env_state *state) {
  cffi_callbacks *registry = state->callbacks;
  if (registry->foreign_calls) return registry->foreign_calls;
  napi_value name;
  napi_create_string_utf8(env, "cffi-bun JSCallback", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, dispatch_foreign_call,
                                      &registry->foreign_calls) != napi_ok) {
    registry->foreign_calls = NULL;
    return NULL;
  }
  /* Callbacks must not keep the process alive. */
  napi_unref_threadsafe_function(env, registry->foreign_calls);
  /* Cleanup hooks run last-added first: env_ending must run before Node's
   * own teardown of the threadsafe function. */
  napi_remove_env_cleanup_hook(env, env_ending, state);
  napi_add_env_cleanup_hook(env, env_ending, state);
  return registry->foreign_calls;
}

/* callbackClose(address): closes the open callback there, if any. */
static napi_value callback_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value value;
  cffi_env_state *state;
  uint64_t address;
  napi_get_cb_info(env, info, &argc, &value, NULL, (void **)&state);
  if (argc < 1 || !cffi_value_to_address(env, value, "JSCallback address", &address)) return NULL;
  cffi_callback *cb = table_take(&state->callbacks->open, address);
  if (cb) {
    state->closes++; /* see cffi_env_state */
    close_callback(env, cb);
  }
  empty_graveyard(state);
  return NULL;
}
/* The C-callable address: a register closure where the signature and the
 * platform allow (and CFFI_BUN_ENGINE is not "ffi"), else a libffi one. */
static bool make_closure(napi_env env, cffi_callback *cb) {
  cffi_signature *sig = &cb->sig;
  if (!cffi_prepare_signature(env, sig, "JSCallback")) return false;
#if CFFI_HAVE_REGISTER_CLOSURES
  void *precompiled = sig->engine == CFFI_ENGINE_REGISTERS ? cffi_precompiled_callback_entry(sig) : NULL;
  /* The two entries find the callback in different registers: each has
   * stubs of its own (src/platform/stubs.c). */
  cb->stub_kind = precompiled ? CFFI_STUB_CALLBACK_SHAPED : CFFI_STUB_CALLBACK;
  if (sig->engine == CFFI_ENGINE_REGISTERS && (cb->stub = cffi_stub_take(cb->state, cb->stub_kind))) {
    cb->stub->data = cb;
    cb->stub->target = precompiled ? precompiled : (void *)cffi_register_closure_entry;
    cb->code = cffi_stub_code(cb->stub);
    return true;
  }
#endif
  /* A register-engine signature without a stub still needs its cif. */
  if (sig->engine != CFFI_ENGINE_LIBFFI && !cffi_prepare_libffi(env, sig, "JSCallback")) return false;
  cb->closure = ffi_closure_alloc(sizeof(ffi_closure), &cb->code);
  if (!cb->closure) {
    cffi_throw(env, "Error", "JSCallback: could not allocate an executable closure");
    return false;
  }
  if (ffi_prep_closure_loc(cb->closure, &sig->cif, closure_entry, cb, cb->code) != FFI_OK) {
    cffi_throw(env, "Error", "JSCallback: libffi could not prepare the closure");
    return false;
  }
  return true;
}

/* The parsed part of a signature: what parsing fills and creation copies. */
#define PARSED_SIGNATURE_SIZE offsetof(cffi_signature, cif)

/* A signature naming struct types holds references to their layouts, which
 * only a finalizer can drop: it is an external (tagged, so that no other
 * external passes for one), freed with its layouts when V8 collects it. The
 * register closures do not carry structs: such signatures use libffi
 * closures (threadsafe ones too: see call_from_foreign_thread). */
static const napi_type_tag layout_signature_tag = {0x6366666962756e5fULL, 0x63627369676e3031ULL};

static void free_layout_signature(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_sig_release_layouts(data);
  free(data);
}

static napi_value layout_signature(napi_env env, cffi_signature *sig) {
  for (unsigned i = 0; i < sig->nargs; i++) {
    if (sig->args[i] == CFFI_OUT_POINTER) {
      cffi_sig_release_layouts(sig);
      return cffi_throw(env, "TypeError",
                        "JSCallback: out()/inout() are not callback argument types (args[%u]): take a \"ptr\" and "
                        "fill it in with T.write(ptr, value)", i);
    }
  }
  cffi_signature *copy = malloc(PARSED_SIGNATURE_SIZE);
  napi_value external;
  if (!copy) {
    cffi_sig_release_layouts(sig);
    return cffi_throw(env, "RangeError", "JSCallback: out of memory");
  }
  memcpy(copy, sig, PARSED_SIGNATURE_SIZE);
  if (napi_create_external(cffi_finalizer_env(env), copy, free_layout_signature, NULL, &external) != napi_ok) {
    free_layout_signature(env, copy, NULL);
    return NULL;
  }
  napi_type_tag_object(env, external, &layout_signature_tag);
  return external;
}

/* callbackSignature(definition, args, returns, abi) -> an ArrayBuffer
 * holding the parsed signature. The shim reads the definition's properties
 * (cheap in JS, about a thousand instructions each through Node-API) and
 * keeps the result for as long as the definition lives and its properties
 * are the same, so a definition reused for many callbacks is parsed once.
 * An ArrayBuffer, not an external: V8 frees it with the buffer and counts
 * it towards its heap, where an external's malloc waits for a finaliser
 * that a synchronous loop never lets run (200k fresh definitions grew RSS
 * by 185 MB). The definition itself is passed for its type check. */
static napi_value callback_signature(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], buffer;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !cffi_check_definition(env, argv[0], "JSCallback")) return NULL;
  if (argc < 4) return cffi_throw(env, "TypeError", "JSCallback expects a definition");
  cffi_signature sig;
  if (!cffi_parse_signature_parts(env, argv[1], argv[2], argv[3], "JSCallback", &sig)) return NULL;
  if (sig.variadic) {
    cffi_sig_release_layouts(&sig);
    return cffi_throw(env, "TypeError",
                      "JSCallback: a callback cannot be variadic (\"...\" in args): JavaScript cannot read C's "
                      "va_list; declare the arguments C passes, or take a pointer to them");
  }
  for (unsigned i = 0; i <= sig.nargs; i++) {
    /* Wide strings need a lifetime for what a callback returns and for the
     * arguments a foreign thread queues: not given them (yet). */
    const uint8_t type = i < sig.nargs ? sig.args[i] : sig.returns;
    char where[16] = "returns";
    if (i < sig.nargs) snprintf(where, sizeof where, "args[%u]", i);
    if (type == CFFI_CSTRING16 || type == CFFI_WSTRING) {
      cffi_sig_release_layouts(&sig);
      return cffi_throw(env, "TypeError",
                        "JSCallback: %s is not supported in callbacks (%s): declare \"ptr\" and read it with "
                        "read.%s(ptr)", cffi_types[type].name, where, cffi_types[type].name);
    }
  }
  for (unsigned i = 0; i < sig.nargs; i++) {
    if (sig.args[i] == CFFI_NAPI_ENV) {
      cffi_sig_release_layouts(&sig);
      return cffi_throw(env, "TypeError", "JSCallback: napi_env is not a valid callback argument type (args[%u])", i);
    }
  }
  if (sig.layouts) return layout_signature(env, &sig);
  void *data;
  if (napi_create_arraybuffer(env, PARSED_SIGNATURE_SIZE, &data, &buffer) != napi_ok)
    return cffi_throw(env, "RangeError", "JSCallback: out of memory");
  memcpy(data, &sig, PARSED_SIGNATURE_SIZE);
  return buffer;
}

/* A buffer from callbackSignature, checked: the raw exports are reachable
 * (require of the .node file), so its bytes are not trusted. Only the
 * type ids and the ABI are read from it, each checked, into *own; every
 * other field is what parsing gives a signature without struct types,
 * variadic arguments or wide strings (callbackSignature refuses those or
 * makes an external). A signature with struct types is a tagged external
 * (see layout_signature). */
static const cffi_signature *signature_in(napi_env env, napi_value value, cffi_signature *own) {
  void *data;
  size_t length;
  bool tagged = false;
  napi_valuetype t;
  if (napi_typeof(env, value, &t) == napi_ok && t == napi_external &&
      napi_check_object_type_tag(env, value, &layout_signature_tag, &tagged) == napi_ok && tagged &&
      napi_get_value_external(env, value, &data) == napi_ok)
    return data;
  if (napi_get_arraybuffer_info(env, value, &data, &length) != napi_ok || length != PARSED_SIGNATURE_SIZE)
    return NULL;
  const uint8_t *bytes = data;
  int abi;
  memset(own, 0, PARSED_SIGNATURE_SIZE);
  own->nargs = bytes[offsetof(cffi_signature, nargs)];
  own->returns = bytes[offsetof(cffi_signature, returns)];
  own->required = bytes[offsetof(cffi_signature, required)];
  memcpy(own->args, bytes + offsetof(cffi_signature, args), sizeof own->args);
  memcpy(&abi, bytes + offsetof(cffi_signature, abi), sizeof abi);
  if (own->nargs > CFFI_MAX_ARGS || own->required > own->nargs || own->returns >= CFFI_TYPE_COUNT ||
      !cffi_types[own->returns].valid_return || own->returns == CFFI_CSTRING16 || own->returns == CFFI_WSTRING ||
      abi <= FFI_FIRST_ABI || abi >= FFI_LAST_ABI)
    return NULL;
  own->abi = (ffi_abi)abi;
  for (unsigned i = 0; i < own->nargs; i++) {
    const uint8_t id = own->args[i];
    if (id >= CFFI_TYPE_COUNT || !cffi_types[id].valid_arg || id == CFFI_NAPI_ENV || id == CFFI_CSTRING16 ||
        id == CFFI_WSTRING)
      return NULL;
    own->has_strings |= id == CFFI_CSTRING;
  }
  return own;
}

/* callbackCreate(fn, signature, threadsafe) -> the callback's C address,
 * which callbackClose takes back. `signature` comes from callbackSignature. */
static napi_value callback_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  const cffi_signature *sig;
  cffi_signature checked;
  cffi_env_state *state;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&state);
  empty_graveyard(state);
  napi_valuetype fn_type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &fn_type);
  if (fn_type != napi_function)
    return cffi_throw(env, "TypeError", "JSCallback expects a function, received %s",
                      argc >= 1 ? cffi_value_kind(env, argv[0]) : "nothing");
  if (argc < 3 || !(sig = signature_in(env, argv[1], &checked)))
    return cffi_throw(env, "TypeError", "JSCallback: not a signature from callbackSignature");

  /* malloc and memset: glibc's calloc skips its per-thread cache. Only the
   * parsed part of the signature is copied; make_closure prepares the rest. */
  cffi_callback *cb = malloc(sizeof *cb);
  if (!cb) return cffi_throw(env, "RangeError", "JSCallback: out of memory");
  memset(cb, 0, offsetof(cffi_callback, sig));
  memcpy(&cb->sig, sig, PARSED_SIGNATURE_SIZE);
  /* Its own references to the layouts (an ArrayBuffer's pointer is never trusted). */
  cb->sig.layouts = NULL;
  if (sig->layouts && !cffi_sig_copy_layouts(&cb->sig, sig)) {
    free(cb);
    return cffi_throw(env, "RangeError", "JSCallback: out of memory");
  }
  if (cb->sig.returns == CFFI_STRUCT_VALUE &&
      /* libffi copies its descriptor's size, which may round ours up (src/types/layout_abi.c). */
      !(cb->struct_result = malloc(cb->sig.layouts->returns->size + 16))) {
    free_callback(cb);
    return cffi_throw(env, "RangeError", "JSCallback: out of memory");
  }
  bool threadsafe = false;
  napi_get_value_bool(env, argv[2], &threadsafe);
  cb->threadsafe = threadsafe;
  cb->js_thread = cffi_current_thread();
  cb->js_thread_tag = cffi_thread_tag_now();
  cb->state = state;
  atomic_init(&cb->closed, false);
  atomic_init(&cb->enqueuing, 0);
  atomic_init(&cb->foreign_inside, 0);
  atomic_init(&cb->queued, 0);

  if (threadsafe && !(cb->tsfn = foreign_calls(env, state))) {
    cffi_throw(env, "Error", "JSCallback: could not create the threadsafe function");
    goto fail;
  }
  if (!make_closure(env, cb)) goto fail;
  napi_value address = cffi_address_to_js(env, (uintptr_t)cb->code);
  if (!address || !table_add(&state->callbacks->open, cb)) {
    cffi_throw(env, "RangeError", "JSCallback: out of memory");
    goto fail;
  }
  napi_create_reference(env, argv[0], 1, &cb->function);
  if (CFFI_UNLIKELY(cffi_debug_enabled)) {
    char signature[256];
    cffi_describe_signature(&cb->sig, signature, sizeof signature);
    cffi_debug_log("created JSCallback at %p: %s%s, %s closure", cb->code, signature,
                   threadsafe ? ", threadsafe" : "", cb->stub ? "register" : "libffi");
  }
  return address;

fail:
  release_stub(cb);
  free_callback(cb);
  return NULL;
}

void cffi_make_callback_exports(napi_env env, napi_value exports) {
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  cffi_set_function(env, exports, "callbackSignature", callback_signature, NULL);
  cffi_set_function(env, exports, "callbackCreate", callback_create, state);
  cffi_set_function(env, exports, "callbackClose", callback_close, state);
}
