/*
 * text.c - a growable string for generated text: viewSource's renderings
 * and the C the jit engine compiles (src/calls/jit.c).
 *
 * Owns: cffi_text and cffi_text_append. Running out of memory is sticky
 * (`failed`), so a renderer appends freely and checks once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../cffi.h"

void cffi_text_append(cffi_text *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->text + b->length, b->capacity - b->length, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return; }
    if ((size_t)n < b->capacity - b->length) { b->length += (size_t)n; return; }
    size_t capacity = (b->capacity + (size_t)n + 1) * 2;
    char *text = realloc(b->text, capacity);
    if (!text) { b->failed = true; return; }
    b->text = text;
    b->capacity = capacity;
  }
}
