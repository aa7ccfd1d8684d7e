/*
 * fixups.h - see fixups.c: the C text cc() adjusts before TinyCC reads it.
 */
#ifndef CFFI_FIXUPS_H
#define CFFI_FIXUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The directories TinyCC searches, in its order (-I ones, then the
 * system's). record, when set, is told every path a lookup tried, found or
 * not: the answer depends on those files existing (the cache's
 * dependencies). */
typedef struct {
  const char *const *dirs;
  uint32_t count;
  void (*record)(void *data, const char *path);
  void *record_data;
} cffi_include_path;

/* Replaces, in place and keeping the length, every __has_include(...) and
 * __has_include_next(...) in #if/#elif lines of text with 1 or 0.
 * including is the file's own path (NULL for inline code). True when
 * something changed. */
bool cffi_fixup_has_include(char *text, size_t len, const cffi_include_path *inc, const char *including);

/* glibc's sys/cdefs.h, which gets cffi_cdefs_suffix appended. */
bool cffi_is_sys_cdefs(const char *path);
#define CFFI_CDEFS_SUFFIX                                                                   \
  "\n/* cffi-bun: TinyCC understands GCC attributes; keep them (see src/cc/fixups.c) */\n" \
  "#undef __attribute__\n"

#endif /* CFFI_FIXUPS_H */
