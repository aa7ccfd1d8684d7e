/*
 * thread_pool.c - the package's own worker threads (see thread_pool.h for
 * why and for the contract): the queue, lazy thread start, and the two
 * thread APIs (POSIX threads, Win32) behind one small seam.
 */
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"

#ifdef _WIN32
typedef CONDITION_VARIABLE cffi_cond;
static void cond_init(cffi_cond *c) { InitializeConditionVariable(c); }
static void cond_wait(cffi_cond *c, cffi_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void cond_signal(cffi_cond *c) { WakeConditionVariable(c); }
static void cond_broadcast(cffi_cond *c) { WakeAllConditionVariable(c); }
static unsigned cpu_count(void) {
  SYSTEM_INFO info;
  GetSystemInfo(&info);
  return info.dwNumberOfProcessors;
}
#else
#include <unistd.h>
typedef pthread_cond_t cffi_cond;
static void cond_init(cffi_cond *c) { pthread_cond_init(c, NULL); }
static void cond_wait(cffi_cond *c, cffi_mutex *m) { pthread_cond_wait(c, m); }
static void cond_signal(cffi_cond *c) { pthread_cond_signal(c); }
static void cond_broadcast(cffi_cond *c) { pthread_cond_broadcast(c); }
static unsigned cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}
#endif

struct cffi_pool {
  cffi_mutex lock;
  cffi_cond wake;
  cffi_pool_job *head, *tail;
  unsigned limit;   /* most threads at once */
  unsigned threads; /* started and not ended */
  unsigned idle;    /* of those, waiting for a job */
  bool closed;
  /* Deadlock bookkeeping (thread_pool.h), under lock. */
  unsigned waiting_for_js;
};

static CFFI_THREAD_LOCAL cffi_pool *current_pool;

cffi_pool *cffi_pool_current(void) { return current_pool; }

/* Pool threads run this module's code, and they outlive envs: the module
 * pinned itself when it loaded (src/platform/pin.c), so Node unloading it
 * with the last env that loaded it cannot leave them on unmapped pages. */
static void pool_thread_main(cffi_pool *pool) {
  current_pool = pool;
  cffi_mutex_lock(&pool->lock);
  for (;;) {
    while (!pool->head && !pool->closed && pool->threads <= pool->limit) {
      pool->idle++;
      cond_wait(&pool->wake, &pool->lock);
      pool->idle--;
    }
    cffi_pool_job *job = pool->head;
    if (!job) break; /* closed and drained, or above a lowered limit */
    pool->head = job->next;
    if (!pool->head) pool->tail = NULL;
    cffi_mutex_unlock(&pool->lock);
    job->run(job);
    cffi_mutex_lock(&pool->lock);
  }
  const bool last = --pool->threads == 0 && pool->closed;
  cffi_mutex_unlock(&pool->lock);
  current_pool = NULL;
  if (last) free(pool);
}

#ifdef _WIN32
static DWORD WINAPI thread_entry(LPVOID arg) {
  pool_thread_main(arg);
  return 0;
}
static bool start_thread(cffi_pool *pool) {
  HANDLE h = CreateThread(NULL, 0, thread_entry, pool, 0, NULL);
  if (!h) return false;
  CloseHandle(h);
  return true;
}
#else
static void *thread_entry(void *arg) {
  pool_thread_main(arg);
  return NULL;
}
static bool start_thread(cffi_pool *pool) {
  pthread_t thread;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* C called from here gets what the main thread's C would (8 MB on Linux). */
  pthread_attr_setstacksize(&attr, 8u << 20);
  const bool ok = pthread_create(&thread, &attr, thread_entry, pool) == 0;
  pthread_attr_destroy(&attr);
  return ok;
}
#endif

cffi_pool *cffi_pool_create(unsigned threads) {
  cffi_pool *pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  cffi_mutex_init(&pool->lock);
  cond_init(&pool->wake);
  pool->limit = threads ? threads : 1;
  return pool;
}

static unsigned default_limit(void) {
  const char *text = getenv("CFFI_BUN_THREADS");
  if (text && *text) {
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (*end == 0 && n > 0 && n <= 1024) return (unsigned)n;
  }
  unsigned n = cpu_count();
  return n < 4 ? 4 : n;
}

static cffi_mutex shared_lock = CFFI_MUTEX_INIT;
static cffi_pool *shared_pool;

cffi_pool *cffi_pool_shared(void) {
  cffi_mutex_lock(&shared_lock);
  if (!shared_pool) shared_pool = cffi_pool_create(default_limit());
  cffi_pool *pool = shared_pool;
  cffi_mutex_unlock(&shared_lock);
  return pool;
}

bool cffi_pool_submit(cffi_pool *pool, cffi_pool_job *job) {
  cffi_mutex_lock(&pool->lock);
  if (pool->closed) {
    cffi_mutex_unlock(&pool->lock);
    return false;
  }
  job->next = NULL;
  if (pool->tail) pool->tail->next = job;
  else pool->head = job;
  pool->tail = job;
  bool queued = true;
  if (pool->idle > 0) {
    cond_signal(&pool->wake);
  } else if (pool->threads < pool->limit) {
    pool->threads++;
    if (!start_thread(pool)) {
      pool->threads--;
      /* With no thread at all nothing would ever run it: take it back. */
      if (pool->threads == 0) {
        pool->head = pool->tail = NULL;
        queued = false;
      }
    }
  }
  cffi_mutex_unlock(&pool->lock);
  return queued;
}

void cffi_pool_close(cffi_pool *pool) {
  cffi_mutex_lock(&pool->lock);
  pool->closed = true;
  const bool unused = pool->threads == 0;
  cond_broadcast(&pool->wake);
  cffi_mutex_unlock(&pool->lock);
  if (unused) free(pool);
}

void cffi_pool_set_limit(cffi_pool *pool, unsigned threads) {
  cffi_mutex_lock(&pool->lock);
  pool->limit = threads ? threads : 1;
  cond_broadcast(&pool->wake); /* idle threads above the limit end */
  /* Queued jobs that a higher limit lets run now get threads. */
  for (cffi_pool_job *job = pool->head; job && pool->threads < pool->limit && pool->idle == 0; job = job->next) {
    pool->threads++;
    if (!start_thread(pool)) {
      pool->threads--;
      break;
    }
  }
  cffi_mutex_unlock(&pool->lock);
}

unsigned cffi_pool_limit(cffi_pool *pool) {
  cffi_mutex_lock(&pool->lock);
  unsigned n = pool->limit;
  cffi_mutex_unlock(&pool->lock);
  return n;
}

void cffi_pool_begin_js_wait(void) {
  cffi_pool *pool = current_pool;
  if (!pool) return;
  cffi_mutex_lock(&pool->lock);
  pool->waiting_for_js++;
  cffi_mutex_unlock(&pool->lock);
}

void cffi_pool_end_js_wait(void) {
  cffi_pool *pool = current_pool;
  if (!pool) return;
  cffi_mutex_lock(&pool->lock);
  pool->waiting_for_js--;
  cffi_mutex_unlock(&pool->lock);
}

bool cffi_pool_all_wait_for_js(cffi_pool *pool) {
  cffi_mutex_lock(&pool->lock);
  const bool all = pool->waiting_for_js >= pool->limit;
  cffi_mutex_unlock(&pool->lock);
  return all;
}
