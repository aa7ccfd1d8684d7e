/*
 * async_call.h - running bound functions off the JS thread: the API that
 * sym.async(), nonblocking definitions and executor() are built on
 * (src/calls/async_call.c), for any later feature that runs native work on
 * the package's pools (a batch run asynchronously, for one).
 *
 * Two layers:
 *
 * 1. Async jobs (cffi_async_job) carry work from an env's JS thread to a pool
 *    thread and back. On the JS thread: fill the job's pool_job.run, call
 *    cffi_async_begin (the job now counts as pending: the event loop stays
 *    alive until it completes) and cffi_pool_submit. On the pool thread, when
 *    the work is done: cffi_async_finish. `complete` then runs on the JS
 *    thread, jobs in order of finishing, with env set; it converts results,
 *    settles Promises and frees the job. If the env has ended meanwhile (a
 *    worker that exited with calls in flight), `complete` runs with env NULL,
 *    on whichever thread noticed: it must only free native memory (no
 *    Node-API call, nothing of the env's state). After process.exit() has
 *    begun, finished jobs are dropped unfreed (the process is going away).
 *    A job that cffi_pool_submit refused is handed to cffi_async_abandon.
 *
 * 2. Prepared calls (cffi_prepared_call): one call of a bound function with
 *    its arguments converted on the JS thread into memory the call owns
 *    (register images or libffi values, JS strings copied as UTF-8), its
 *    signature and address copied (the function may be collected, its env may
 *    end), the objects passed (views, buffers, objects with .ptr) held by
 *    references until it is freed, and its library or cc() result kept
 *    loaded (a close() meanwhile disables calls at once and unloads when the
 *    last prepared call is freed). Detached buffers, resizable ArrayBuffers
 *    and views on them are refused (the length C gets could change under
 *    it); SharedArrayBuffer memory is passed (only growable). napi_env and
 *    napi_value arguments or results are refused (they belong to the JS
 *    thread).
 */
#ifndef CFFI_ASYNC_CALL_H
#define CFFI_ASYNC_CALL_H

#include "../cffi.h"
#include "../platform/thread_pool.h"

typedef struct cffi_async_hub cffi_async_hub;

typedef struct cffi_async_job {
  cffi_pool_job pool_job; /* first; its run is yours */
  cffi_async_hub *hub;    /* set by cffi_async_begin */
  void (*complete)(napi_env env, struct cffi_async_job *job);
} cffi_async_job;

/* JS thread. False with an exception pending (out of memory). */
bool cffi_async_begin(napi_env env, cffi_async_job *job,
                      void (*complete)(napi_env env, cffi_async_job *job));
/* Pool thread, once the job's work is done; the job belongs to complete after. */
void cffi_async_finish(cffi_async_job *job);
/* JS thread, for a begun job that never ran: no longer pending; the job is the caller's again. */
void cffi_async_abandon(napi_env env, cffi_async_job *job);

typedef struct cffi_prepared_call {
  cffi_async_job job;     /* first: usable as a job of its own */
  void *address;
  cffi_owner *owner;      /* pinned: owner->async_calls counts it */
  uint64_t result;        /* the return register's image, after run */
  int error_number;       /* errno right after the C call (0 before it) */
  unsigned long last_error; /* GetLastError() likewise; 0 off Windows */
  uint32_t kept_count;
  napi_ref *kept;         /* per argument: an object kept alive (and an out() value filled in after), or NULL */
  uint8_t *struct_result; /* a by-value struct result's bytes, or NULL */
  uint64_t *slots;        /* register images (register engine) or libffi values */
  napi_deferred deferred; /* the Promise sym.async settles (other users: theirs to use) */
  bool with_errno;        /* sym.async: resolve to { value, errno } */
  cffi_call call;         /* string scratch and heap blocks of the conversions */
  cffi_signature sig;     /* last: the libffi part only for libffi signatures */
} cffi_prepared_call;

/* JS thread: converts argv (argc of them) for fn. NULL with an exception
 * pending (the same messages as the synchronous call, plus the refusals
 * above). */
cffi_prepared_call *cffi_prepared_call_new(napi_env env, cffi_function *fn, size_t argc, const napi_value *argv);
/* Any thread: the C call itself, errno captured right after it. */
void cffi_prepared_call_run(cffi_prepared_call *pc);
/* JS thread, after run: the result as the synchronous call returns it, or
 * { value, errno } (and lastError on Windows) with with_errno. */
napi_value cffi_prepared_call_result(napi_env env, const cffi_prepared_call *pc, bool with_errno);
/* Releases everything; env NULL when the env has ended (memory only). */
void cffi_prepared_call_free(napi_env env, cffi_prepared_call *pc);

/* JS thread, in a job's complete: rejects with the pending exception if
 * there is one (a result that failed to convert), else resolves with value. */
void cffi_settle_deferred(napi_env env, napi_deferred deferred, napi_value value);

/* JS thread, for other users of the pool (batch().runAsync()): the async
 * rules for one buffer argument: a resizable one is refused (false, an
 * exception pending), any other made untransferable. */
bool cffi_async_keep_buffer(napi_env env, napi_value value, const char *symbol, unsigned index, const char *type);

#endif /* CFFI_ASYNC_CALL_H */
