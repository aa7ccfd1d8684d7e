/*
 * tcc_limits.h - see tcc_limits.c: a memory and time budget for one
 * compilation, enforced where TinyCC allocates.
 */
#ifndef CFFI_TCC_LIMITS_H
#define CFFI_TCC_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CFFI_TCC_WITHIN_LIMITS, CFFI_TCC_OVER_MEMORY, CFFI_TCC_OVER_TIME, CFFI_TCC_REFUSED_FOR_TEST } cffi_tcc_limit_hit;

typedef struct {
  /* Set by the caller: bytes TinyCC may hold at once, and how long the
   * compilation may run (0: no limit). */
  uint64_t memory_bytes;
  uint64_t time_ns;
  /* For tests: refuse the refusable allocation with this index (counted
   * from 0 for each compile, see tcc_limits.c), as a limit would; -1: none. */
  int64_t refuse_at;
  /* The compile's TCCState, from cffi_tcc_limits_linking on. */
  void *state;
  /* Kept by tcc_limits.c. */
  int64_t held;         /* bytes allocated minus bytes freed on the compiling thread */
  uint64_t deadline_ns; /* CLOCK_MONOTONIC */
  uint32_t allocations;
  int64_t refusable_seen;
  uint32_t paused;
  bool in_force;
  bool linking;       /* past the last unit: see cffi_tcc_limits_linking */
  bool entered_state; /* a refusal while linking entered TinyCC's state */
  cffi_tcc_limit_hit hit; /* which limit stopped the compile (the budget is then lifted) */
} cffi_tcc_limits;

/* Applies limits to the allocations of the calling thread from now on:
 * called on the compile thread as a run starts. */
void cffi_tcc_limits_begin(cffi_tcc_limits *limits);

/* Called on the compile thread after the last unit, before libraries,
 * relocation and output: allocations there are refusable too (state is
 * the TCCState, which TinyCC's error routine needs to report the refusal
 * through the error callback instead of stderr). */
void cffi_tcc_limits_linking(cffi_tcc_limits *limits, void *state);

/* Called on the compile thread when linking returned (TinyCC did not exit). */
void cffi_tcc_limits_linked(cffi_tcc_limits *limits);

/* Lifts them again: called by whoever started the run, after it, from any
 * thread (the compile thread may be gone, or have jumped out through
 * TinyCC's exit()). limits->hit stays readable. */
void cffi_tcc_limits_end(cffi_tcc_limits *limits);

/* Lets this thread's own allocations go past the limits (they are still
 * counted), for code that would treat a NULL as something other than the
 * end of the compile; calls nest. */
void cffi_tcc_limits_pause(bool pause);

#endif /* CFFI_TCC_LIMITS_H */
