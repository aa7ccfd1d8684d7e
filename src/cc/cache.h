/*
 * cache.h - see cache.c: cc()'s per-user cache of compiled shared objects.
 */
#ifndef CFFI_CACHE_H
#define CFFI_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The files one compilation read, each with what identifies its version
 * (inode, size, modification time), serialised as stored in an entry. */
typedef struct {
  uint8_t *data;
  size_t len, cap;
  uint64_t count;
  bool failed; /* out of memory or an unreadable file: do not cache */
} cffi_deps;

/* Appends the file open on fd as path (fd < 0: a path that was not found). */
void cffi_deps_record(cffi_deps *deps, const char *path, int fd);
/* Appends path as it is now, present or absent (a cffi_include_path
 * recorder, fixups.h). */
void cffi_deps_note(void *deps, const char *path);
void cffi_deps_free(cffi_deps *deps);

/* The cache directory (created, private to this user), or false when the
 * cache is off (CFFI_BUN_CACHE=0) or unusable. */
bool cffi_cache_dir(char *out, size_t len);

typedef enum {
  CFFI_CACHE_HIT,
  CFFI_CACHE_MISS,    /* no entry, or a corrupt or stale one: compile and store */
  CFFI_CACHE_IN_USE,  /* this process already has the entry loaded: compile in memory */
  CFFI_CACHE_MEMORY_ONLY, /* the code cannot be cached (see cache.c): compile in memory */
} cffi_cache_status;

/* Loads entry `key` (64 hex digits) after checking it is complete and that
 * every file it was built from is unchanged. *handle is set on a hit. */
cffi_cache_status cffi_cache_load(const char *dir, const char *key, void **handle);

/* A fresh private file name in dir for the compiler to write. */
bool cffi_cache_temp(const char *dir, char *out, size_t len);

/* Appends the checksum trailer to the object at tmp, loads it into *handle
 * and renames it to entry `key`. An empty tmp, or an object that would not
 * behave as the same code compiled in memory (see cache.c), is published as
 * a memory-only entry and *handle stays NULL. The temporary file is removed whatever
 * happens. */
bool cffi_cache_publish(const char *tmp, const char *dir, const char *key, const cffi_deps *deps, void **handle);

#endif /* CFFI_CACHE_H */
