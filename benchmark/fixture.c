/*
 * fixture.c - the C functions every benchmark contender calls.
 *
 * Built by benchmark/run.js into a shared library in a temporary folder
 * (cc -O2 -shared -fPIC). Each function is as cheap as it can be so that a
 * row measures the cost of crossing from JS to C and back, not the work.
 */
#include <stdint.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default"), noinline))

EXPORT void noop(void) {}

/* Called only by benchmark/callgrind.js's runs (through the floor addon):
 * callgrind dumps its counters each time this function is entered. */
EXPORT void bench_mark(void) {}

/* Our own abs: libc's is a compiler builtin that a hand-written addon would
 * inline, which would make it a different workload. */
EXPORT int bench_abs(int x) { return x < 0 ? -x : x; }

EXPORT int add(int a, int b) { return a + b; }

EXPORT double addf64(double a, double b) { return a + b; }

EXPORT uint64_t id_u64(uint64_t x) { return x; }

/* Reads a few bytes: the pointer must be the caller's memory, not a copy. */
EXPORT int sum_first(const void *p, int n) {
  const uint8_t *b = p;
  int sum = 0;
  for (int i = 0; i < n && i < 4; i++) sum += b[i];
  return sum;
}

EXPORT const char *get_string(void) { return "hello from C"; }

/* Six arguments of mixed register classes: 3 integer (one 64-bit, passed
 * from JS as a number), 3 floating point (one float). */
EXPORT double mixed6(int32_t a, double b, int64_t c, float d, uint32_t e, double f) {
  return a + b + (double)c + d + e + f;
}

/* Sorts count ints with a comparator that takes the two ints by value, so
 * that the callback rows measure C -> JS calls rather than reading memory
 * from JS. A plain merge sort (portable, and the same comparisons on every
 * platform); returns how many times the comparator was called. */
typedef int (*int_cmp)(int32_t, int32_t);

static uint64_t merge_sort(int32_t *a, int32_t *tmp, size_t n, int_cmp cmp) {
  if (n < 2) return 0;
  size_t half = n / 2, i = 0, j = half, k = 0;
  uint64_t calls = merge_sort(a, tmp, half, cmp) + merge_sort(a + half, tmp, n - half, cmp);
  while (i < half && j < n) {
    calls++;
    tmp[k++] = cmp(a[i], a[j]) <= 0 ? a[i++] : a[j++];
  }
  while (i < half) tmp[k++] = a[i++];
  while (j < n) tmp[k++] = a[j++];
  for (k = 0; k < n; k++) a[k] = tmp[k];
  return calls;
}

EXPORT int32_t sort_ints(int32_t *values, int32_t count, int_cmp cmp) {
  if (count < 2) return 0;
  int32_t *tmp = malloc((size_t)count * sizeof *tmp);
  if (!tmp) return -1;
  uint64_t calls = merge_sort(values, tmp, (size_t)count, cmp);
  free(tmp);
  return (int32_t)calls;
}
