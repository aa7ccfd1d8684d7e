/*
 * debug_log.c - opt-in diagnostics on stderr. BUN_DEBUG_FFI=1 (Bun's name)
 * or CFFI_BUN_DEBUG=1 turns it on; the environment is read once when the
 * addon loads, and every log site tests one global flag, so logging costs
 * nothing when off.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

bool cffi_debug_enabled = false;

static bool flag_set(const char *name) {
  const char *value = getenv(name);
  return value && *value && strcmp(value, "0") != 0 && strcmp(value, "false") != 0;
}

void cffi_debug_init(void) { cffi_debug_enabled = flag_set("BUN_DEBUG_FFI") || flag_set("CFFI_BUN_DEBUG"); }

void cffi_debug_log(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "[cffi-bun] %s\n", line);
}
