/*
 * tcc_glue.h - see tcc_glue.c: observing which files TinyCC reads, the
 * thread compilations run on, and the lock every use of libtcc takes.
 * Used by src/cc/ (cc()) and src/calls/jit.c (wrappers), so it lives below
 * both.
 */
#ifndef CFFI_TCC_GLUE_H
#define CFFI_TCC_GLUE_H

#include <stdbool.h>
#include <stddef.h>

/* Called with each path opened read-only on the watching thread and the
 * descriptor open() returned (-1 when it failed, errno set). Returns the
 * descriptor TinyCC gets: fd itself, or a replacement (fd then closed). */
typedef int (*cffi_open_watcher)(void *data, const char *path, int fd);

/* Runs fn(arg), holding the process-wide TinyCC lock, on a fresh thread with stack_size bytes of stack and waits
 * for it (stack_size 0: on this thread, for code that nests no deeper than
 * this thread's stack allows, such as src/calls/jit.c's wrappers). Returns false when TinyCC called exit() inside fn: fn stopped
 * there, so whatever it allocated must be reachable from arg. */
bool cffi_tcc_run(void (*fn)(void *), void *arg, size_t stack_size);

/* tcc_delete() under the same lock; every TCC state is created inside a
 * cffi_tcc_run() and deleted here. */
void cffi_tcc_delete(void *state);

/* Sets (or with NULL clears) this thread's watcher. */
void cffi_tcc_watch_opens(cffi_open_watcher fn, void *data);

#endif /* CFFI_TCC_GLUE_H */
