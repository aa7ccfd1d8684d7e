/*
 * tcc_limits.c - a memory and time budget for a cc() compilation.
 *
 * Owns: the linker-level wrappers of malloc, calloc, realloc and free
 * (binding.gyp's --wrap flags, from scripts/find-tcc.js) and the per-thread
 * budget they enforce.
 *
 * Why: TinyCC has no limit of its own. A macro that doubles at each level
 * (`#define A1 A0+A0` ... `A30`) makes it allocate until the OOM killer
 * takes the whole host, Node with it (Bun too), and cc() is synchronous, so
 * the event loop waits meanwhile. libtcc 0.9.27 has no allocator hook, but
 * every byte it takes goes through these four functions, and it treats a
 * NULL as "memory full": an error raised through its own error jump (or
 * its exit(), which tcc_glue.c traps), after which the state is deleted as
 * after any failed compile. So the budget fails allocations once TinyCC
 * holds more than the limit, or once the deadline has passed (looked at
 * every 256 allocations: compiling allocates constantly, and reading the
 * clock on each would cost more than the check is worth). Only the first
 * allocation past a limit fails: TinyCC's cleanup after the error needs
 * memory too (refused, it calls its error routine again, outside the error
 * jump, which prints to stderr and exits). A caller that would survive a
 * NULL and let the compile go on (compiler.c's header reader, its message
 * buffer) pauses the budget, so the failure always lands in TinyCC.
 *
 * Tests reach every place a refusal can land through the environment
 * variable CFFI_BUN_TEST_CC_REFUSE_AT=N (compiler.c): the Nth refusable
 * allocation of each compile is refused as a limit would refuse it
 * (test/soak/cc-limits.js walks N over whole compiles).
 *
 * The wrappers cover every allocation in the addon (the link flag cannot
 * name an archive), so the path without a budget is one load of a global
 * count of budgets in force: no thread-local read, no call.
 */
#ifdef CFFI_HAVE_TCC
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <libtcc.h>

#include "tcc_limits.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

static atomic_uint budgets_in_force;
static _Thread_local cffi_tcc_limits *budget;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void cffi_tcc_limits_begin(cffi_tcc_limits *limits) {
  limits->held = 0;
  limits->allocations = 0;
  limits->refusable_seen = 0;
  limits->linking = false;
  limits->entered_state = false;
  limits->paused = 0;
  limits->hit = CFFI_TCC_WITHIN_LIMITS;
  limits->deadline_ns = limits->time_ns ? now_ns() + limits->time_ns : 0;
  if (!limits->in_force) atomic_fetch_add_explicit(&budgets_in_force, 1, memory_order_relaxed);
  limits->in_force = true;
  budget = limits;
}

void cffi_tcc_limits_end(cffi_tcc_limits *limits) {
  if (budget == limits) budget = NULL; /* the run had no thread of its own */
  if (limits->in_force) atomic_fetch_sub_explicit(&budgets_in_force, 1, memory_order_relaxed);
  limits->in_force = false;
}

void cffi_tcc_limits_pause(bool pause) {
  if (!budget) return;
  if (pause) budget->paused++;
  else if (budget->paused) budget->paused--;
}

static cffi_tcc_limits *this_threads_budget(void) {
  if (__builtin_expect(atomic_load_explicit(&budgets_in_force, memory_order_relaxed) == 0, 1)) return NULL;
  return budget;
}

/* TinyCC's internals this file relies on, all globals of libtcc.a's separate
 * objects (scripts/find-tcc.js refuses an archive without them, such as one
 * built as a single source, where they are static).
 *
 * table_ident, TinyCC's token table, is NULL from the end of one unit's
 * preprocessing to the point in the next unit's start (tccpp_new) where its
 * tokens and buffers are consistent again. An error raised in between is
 * cleaned up with the previous unit's stale token count and buffer
 * (tccpp_delete reads a NULL table or frees a buffer twice: a crash, found by
 * failing each allocation of a compile in turn), so nothing is refused there
 * before linking; the next allocation is, and the gap is bounded (the
 * preprocessor's start, about 1.6 MB; objects and archives given as sources).
 *
 * tcc_state is the state TinyCC's error routine reports through; it is set
 * only while a unit compiles. A refusal while linking sets it, so that the
 * "memory full" goes to the error callback (then TinyCC leaves the state
 * and calls exit(), which tcc_glue.c traps) rather than to stderr. */
extern void *table_ident;
extern TCCState *tcc_state;
void tcc_enter_state(TCCState *state);
void tcc_exit_state(void);

void cffi_tcc_limits_linking(cffi_tcc_limits *limits, void *state) {
  limits->state = state;
  limits->linking = true;
}

void cffi_tcc_limits_linked(cffi_tcc_limits *limits) {
  if (limits->entered_state && tcc_state == limits->state) tcc_exit_state();
  limits->entered_state = false;
  limits->linking = false;
}

/* Whether a request for n more bytes may go ahead. */
static bool allowed(cffi_tcc_limits *b, size_t n) {
  if (b->paused || b->hit || !(b->linking || table_ident)) return true;
  if (b->refuse_at >= 0 && b->refusable_seen++ == b->refuse_at) b->hit = CFFI_TCC_REFUSED_FOR_TEST;
  else if (b->memory_bytes && (int64_t)n > (int64_t)b->memory_bytes - b->held) b->hit = CFFI_TCC_OVER_MEMORY;
  else if (b->deadline_ns && ((++b->allocations & 255) == 0 || n >= 65536) && now_ns() > b->deadline_ns)
    b->hit = CFFI_TCC_OVER_TIME;
  if (b->hit && b->linking && !tcc_state) {
    tcc_enter_state(b->state);
    b->entered_state = true;
  }
  return !b->hit;
}

static void *counted(cffi_tcc_limits *b, void *p) {
  if (p) b->held += (int64_t)malloc_usable_size(p);
  return p;
}

void *__wrap_malloc(size_t n) {
  cffi_tcc_limits *b = this_threads_budget();
  if (!b) return __real_malloc(n);
  return allowed(b, n) ? counted(b, __real_malloc(n)) : NULL;
}

void *__wrap_calloc(size_t count, size_t size) {
  cffi_tcc_limits *b = this_threads_budget();
  if (!b) return __real_calloc(count, size);
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return NULL;
  return allowed(b, n) ? counted(b, __real_calloc(count, size)) : NULL;
}

void *__wrap_realloc(void *p, size_t n) {
  cffi_tcc_limits *b = this_threads_budget();
  if (!b) return __real_realloc(p, n);
  size_t before = p ? malloc_usable_size(p) : 0;
  if (n > before && !allowed(b, n - before)) return NULL;
  void *grown = __real_realloc(p, n);
  if (grown || n == 0) b->held -= (int64_t)before;
  return counted(b, grown);
}

void __wrap_free(void *p) {
  cffi_tcc_limits *b = this_threads_budget();
  if (b && p) b->held -= (int64_t)malloc_usable_size(p);
  __real_free(p);
}
#else
/* Built without TinyCC: no compilations to limit (ISO C wants a declaration). */
typedef int cffi_tcc_limits_unused;
#endif
