/*
 * tcc_glue.h - see tcc_glue.c: observing which files TinyCC reads.
 */
#ifndef CFFI_TCC_GLUE_H
#define CFFI_TCC_GLUE_H

/* Called with each path opened read-only (and its fresh descriptor) on the
 * watching thread. */
typedef void (*cffi_open_watcher)(void *data, const char *path, int fd);

/* Sets (or with NULL clears) this thread's watcher. */
void cffi_tcc_watch_opens(cffi_open_watcher fn, void *data);

#endif /* CFFI_TCC_GLUE_H */
