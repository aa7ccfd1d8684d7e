/*
 * thread_pool.h - threads of the package's own that run native work off the
 * JS thread: the shared pool behind sym.async() and one pool per executor().
 *
 * Why not libuv's pool: its 4 threads also serve fs, dns and crypto, and a
 * few long FFI calls (a blocking read, a sleep) would starve them.
 *
 * A pool starts its threads lazily, one per job that finds no idle thread,
 * up to its limit; beyond the limit jobs wait in a FIFO queue (back-pressure
 * by queueing, never by refusing). Threads are never joined: a thread still
 * inside C when the process exits is simply ended with it, so exit cannot
 * hang. Jobs are intrusive (cffi_pool_job first in the caller's struct), so
 * submitting allocates nothing.
 *
 * Also the lock the async layer's per-env hubs use (cffi_mutex), so that no
 * other file needs <pthread.h> or <windows.h> for it.
 */
#ifndef CFFI_THREAD_POOL_H
#define CFFI_THREAD_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"

#ifdef _WIN32
typedef SRWLOCK cffi_mutex;
#define CFFI_MUTEX_INIT SRWLOCK_INIT
static inline void cffi_mutex_init(cffi_mutex *m) { InitializeSRWLock(m); }
static inline void cffi_mutex_lock(cffi_mutex *m) { AcquireSRWLockExclusive(m); }
static inline void cffi_mutex_unlock(cffi_mutex *m) { ReleaseSRWLockExclusive(m); }
#else
#include <pthread.h>
typedef pthread_mutex_t cffi_mutex;
#define CFFI_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static inline void cffi_mutex_init(cffi_mutex *m) { pthread_mutex_init(m, NULL); }
static inline void cffi_mutex_lock(cffi_mutex *m) { pthread_mutex_lock(m); }
static inline void cffi_mutex_unlock(cffi_mutex *m) { pthread_mutex_unlock(m); }
#endif

typedef struct cffi_pool cffi_pool;

/* One unit of work; embed it first in a struct of your own. */
typedef struct cffi_pool_job {
  struct cffi_pool_job *next;             /* the queue's, while queued */
  void (*run)(struct cffi_pool_job *job); /* on a pool thread; may free the job */
} cffi_pool_job;

/* The process-wide pool, made on first use. Its limit: CFFI_BUN_THREADS if
 * that is a positive integer, else the CPU count (at least 4). */
cffi_pool *cffi_pool_shared(void);
/* A pool of its own (an executor's); NULL when out of memory. */
cffi_pool *cffi_pool_create(unsigned threads);
/* Queues the job; false when the pool is closed or no thread at all could be
 * started (the job was not queued). */
bool cffi_pool_submit(cffi_pool *pool, cffi_pool_job *job);
/* No new jobs; queued ones still run, then the threads end and the pool is
 * freed by the last of them. Not for the shared pool. */
void cffi_pool_close(cffi_pool *pool);
/* Most threads the pool runs at once; a lower limit takes effect as threads
 * become idle. */
void cffi_pool_set_limit(cffi_pool *pool, unsigned threads);
unsigned cffi_pool_limit(cffi_pool *pool);
/* The pool whose thread this is, or NULL (the JS thread, a library's own). */
cffi_pool *cffi_pool_current(void);

/* Deadlock bookkeeping, for executor().callSync (src/calls/async_call.c):
 * a pool thread that waits for a JS thread to run a callback says so
 * (src/callbacks/callback.c; a no-op on other threads). */
void cffi_pool_begin_js_wait(void);
void cffi_pool_end_js_wait(void);
/* Every thread the pool may run is waiting for a JS thread. */
bool cffi_pool_all_wait_for_js(cffi_pool *pool);

#endif /* CFFI_THREAD_POOL_H */
