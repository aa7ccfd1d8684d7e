/*
 * fixups.c - what cc() changes in the C text TinyCC reads, so that code
 * written for gcc/clang (and for Bun's newer TinyCC) means the same here.
 *
 * Owns: answering __has_include / __has_include_next against the real
 * include path, and the sys/cdefs.h patch. compiler.c applies these to
 * inline sources before compiling them and, through the open() hook in
 * tcc_glue.c, to every file TinyCC opens (sources given by path, headers).
 *
 * Why rewrite text: TinyCC 0.9.27 has no __has_include, and its preprocessor
 * cannot be extended from outside. Inside #if and #elif lines only, each
 * `__has_include(<x>)`, `__has_include("x")` (and the _next forms) becomes
 * `1` or `0` padded with blanks to the same length, so every line and column
 * TinyCC reports stays where the user wrote it.
 *
 * Why sys/cdefs.h: for a compiler that does not say it is GCC, glibc's
 * sys/cdefs.h defines __attribute__(x) to nothing. TinyCC understands
 * packed, aligned, cleanup and the rest, so that macro silently changes
 * struct layouts after any libc header (an ABI mismatch with the library
 * being called). Appending `#undef __attribute__` to that header undoes it.
 */
#ifdef CFFI_HAVE_TCC
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixups.h"

static bool regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Looks name up as the preprocessor would and tells the recorder each path
 * it tried. Quote form: the including file's directory first. _next: the
 * directories after the one the including file was found in. */
static bool header_exists(const cffi_include_path *inc, const char *including, const char *name,
                          bool quoted, bool next) {
  char candidate[4096];
  if (name[0] == '/') {
    if (inc->record) inc->record(inc->record_data, name);
    return regular_file(name);
  }
  uint32_t first = 0;
  if (next && including) {
    for (uint32_t i = 0; i < inc->count; i++) {
      size_t n = strlen(inc->dirs[i]);
      if (strncmp(including, inc->dirs[i], n) == 0 && including[n] == '/') {
        first = i + 1;
        break;
      }
    }
  }
  if (quoted && !next) {
    const char *slash = including ? strrchr(including, '/') : NULL;
    int n = slash ? snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(slash - including), including, name)
                  : snprintf(candidate, sizeof candidate, "%s", name);
    if (n > 0 && (size_t)n < sizeof candidate) {
      if (inc->record) inc->record(inc->record_data, candidate);
      if (regular_file(candidate)) return true;
    }
  }
  for (uint32_t i = first; i < inc->count; i++) {
    int n = snprintf(candidate, sizeof candidate, "%s/%s", inc->dirs[i], name);
    if (n <= 0 || (size_t)n >= sizeof candidate) continue;
    if (inc->record) inc->record(inc->record_data, candidate);
    if (regular_file(candidate)) return true;
  }
  return false;
}

static bool ident_char(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

/* Rewrites the __has_include calls in one directive line [p, end). */
static bool rewrite_line(char *p, char *end, const cffi_include_path *inc, const char *including) {
  bool changed = false;
  for (char *q = p; q < end; q++) {
    if (*q != '_' || (q > p && ident_char(q[-1]))) continue;
    bool next;
    size_t word;
    if ((size_t)(end - q) >= 18 && memcmp(q, "__has_include_next", 18) == 0 && !(q + 18 < end && ident_char(q[18]))) {
      next = true;
      word = 18;
    } else if ((size_t)(end - q) >= 13 && memcmp(q, "__has_include", 13) == 0 &&
               !(q + 13 < end && ident_char(q[13]))) {
      next = false;
      word = 13;
    } else {
      continue;
    }
    const char *r = skip_blanks(q + word, end);
    if (r >= end || *r != '(') continue;
    r = skip_blanks(r + 1, end);
    if (r >= end || (*r != '<' && *r != '"')) continue;
    char close = *r == '<' ? '>' : '"';
    const char *name_start = r + 1, *name_end = memchr(name_start, close, (size_t)(end - name_start));
    if (!name_end || name_end == name_start || name_end - name_start >= 1024) continue;
    r = skip_blanks(name_end + 1, end);
    if (r >= end || *r != ')') continue;
    char name[1024];
    memcpy(name, name_start, (size_t)(name_end - name_start));
    name[name_end - name_start] = 0;
    bool found = header_exists(inc, including, name, close == '"', next);
    char *span_end = (char *)r + 1;
    *q = found ? '1' : '0';
    memset(q + 1, ' ', (size_t)(span_end - q - 1));
    q = span_end - 1;
    changed = true;
  }
  return changed;
}

bool cffi_fixup_has_include(char *text, size_t len, const cffi_include_path *inc, const char *including) {
  if (!memmem(text, len, "__has_include", 13)) return false;
  bool changed = false, in_comment = false, line_start = true;
  char *end = text + len;
  for (char *p = text; p < end; p++) {
    if (in_comment) {
      if (p[0] == '*' && p + 1 < end && p[1] == '/') {
        in_comment = false;
        p++;
      }
      if (*p == '\n') line_start = true;
      continue;
    }
    if (*p == '\n') {
      line_start = true;
      continue;
    }
    if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') continue;
    if (line_start && *p == '#') {
      /* The directive runs to the first newline not escaped by a backslash. */
      char *line_end = p;
      while (line_end < end && !(*line_end == '\n' && line_end[-1] != '\\')) line_end++;
      char *name = (char *)skip_blanks(p + 1, line_end);
      bool is_if = (line_end - name >= 2 && memcmp(name, "if", 2) == 0 && !ident_char(name[2])) ||
                   (line_end - name >= 4 && memcmp(name, "elif", 4) == 0 && !ident_char(name[4]));
      if (is_if && rewrite_line(name, line_end, inc, including)) changed = true;
      p = line_end - 1;
      line_start = false;
      continue;
    }
    line_start = false;
    if (p[0] == '/' && p + 1 < end && p[1] == '*') {
      in_comment = true;
      p++;
    } else if (p[0] == '/' && p + 1 < end && p[1] == '/') {
      while (p + 1 < end && p[1] != '\n') p++;
    } else if (*p == '"' || *p == '\'') {
      char quote = *p;
      for (p++; p < end && *p != quote && *p != '\n'; p++)
        if (*p == '\\' && p + 1 < end) p++;
      if (p < end && *p == '\n') line_start = true;
    }
  }
  return changed;
}

bool cffi_is_sys_cdefs(const char *path) {
  size_t n = strlen(path);
  return n >= 12 && strcmp(path + n - 12, "/sys/cdefs.h") == 0;
}
#else
typedef int cffi_fixups_unused; /* ISO C wants a declaration */
#endif /* CFFI_HAVE_TCC */
