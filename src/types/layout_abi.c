/*
 * layout_abi.c - by-value unions and packed or over-aligned structs through
 * libffi, which lays a struct out from its elements and so cannot describe
 * them. What decides how C passes an aggregate is its classification, not
 * its members: on x86-64 System V, each of its (at most two) eightbytes is
 * INTEGER or SSE by the merge of the scalars overlapping it, and anything
 * larger than 16 bytes or with an unaligned member goes in memory. So the
 * layout gets elements that libffi classifies the same way (per eightbyte
 * a uint64 / smaller integers for INTEGER, a double or float for SSE; for
 * memory, one element libffi always classifies MEMORY), and libffi's own
 * call and closure code then do the rest. There the stand-in carries the
 * type's own size and alignment, set before libffi sees it (libffi computes
 * them only for a descriptor whose size is 0): libffi copies an argument,
 * a result and a callback's result by that size, and places a stack
 * argument by that alignment. Only the bytes' meaning stays ours
 * (src/types/struct_values.c).
 *
 * Why not TinyCC-generated C with the real declaration: TinyCC 0.9.27
 * (Debian's 2020 snapshot) passes a packed struct with an unaligned member
 * in registers and merges a struct's members into one class ({ double,
 * int } arrives wrong), measured against gcc; libffi told the
 * classification is right on every engine.
 *
 * Win64 decides by size alone, AArch64 by homogeneity and size (below).
 * Elsewhere no rule is written: those layouts stay refused by value, with
 * a message.
 */
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

uint32_t cffi_ffi_append_run(cffi_ffi_run *run, uint32_t at, ffi_type *element, uint32_t copies) {
  ffi_type *chunk = element;
  ffi_type *by_bit[32];
  for (uint32_t k = 0; k < 32 && copies >> k; k++) {
    if (k > 0) {
      run->chunk_elements[k][0] = run->chunk_elements[k][1] = chunk;
      run->chunks[k].type = FFI_TYPE_STRUCT;
      run->chunks[k].elements = run->chunk_elements[k];
      chunk = &run->chunks[k];
    }
    by_bit[k] = chunk;
  }
  for (int k = 31; k >= 0; k--)
    if (copies >> k & 1) run->list[at++] = by_bit[k];
  return at;
}

#if (defined(__x86_64__) && !defined(_WIN32)) || defined(_WIN64) || defined(__aarch64__) || defined(_M_ARM64)
static void forget_elements(cffi_layout *layout) {
  free(layout->elements);
  layout->elements = NULL;
  layout->ffi.elements = NULL;
  layout->by_value = false;
}

static void use_elements(cffi_layout *layout, ffi_type **elements, bool by_value) {
  layout->elements = elements;
  layout->ffi.elements = elements;
  /* libffi fills size and alignment when it first meets the type (ffi_prep_cif). */
  layout->ffi.size = 0;
  layout->ffi.alignment = 0;
  layout->by_value = by_value;
}
#endif

#if defined(__x86_64__) && !defined(_WIN32)
typedef enum { CLASS_NONE, CLASS_INTEGER, CLASS_SSE, CLASS_MEMORY } sysv_class;

static sysv_class merge(sysv_class a, sysv_class b) {
  if (a == b) return a;
  if (a == CLASS_NONE) return b;
  if (b == CLASS_NONE) return a;
  if (a == CLASS_MEMORY || b == CLASS_MEMORY) return CLASS_MEMORY;
  if (a == CLASS_INTEGER || b == CLASS_INTEGER) return CLASS_INTEGER;
  return CLASS_SSE;
}

/* Classifies every scalar of a field placed at `offset` into classes[]. */
static void classify(const cffi_field *f, uint64_t offset, sysv_class classes[2], bool *unaligned) {
  if (!f->layout) {
    const ffi_type *t = cffi_types[f->scalar].ffi;
    if (offset % t->alignment) *unaligned = true;
    sysv_class c = (f->scalar == CFFI_F32 || f->scalar == CFFI_F64) ? CLASS_SSE : CLASS_INTEGER;
    for (uint64_t byte = offset; byte < offset + t->size && byte < 16; byte += 8 - byte % 8)
      classes[byte / 8] = merge(classes[byte / 8], c);
    return;
  }
  const cffi_layout *l = f->layout;
  if (l->kind == CFFI_LAYOUT_ARRAY) {
    const cffi_field *element = &l->fields[0];
    const uint32_t size = element->layout ? element->layout->size : (uint32_t)cffi_types[element->scalar].ffi->size;
    for (uint32_t i = 0; i < l->count && offset + (uint64_t)i * size < 16; i++)
      classify(element, offset + (uint64_t)i * size, classes, unaligned);
    return;
  }
  if (offset % l->align) *unaligned = true;
  for (uint32_t i = 0; i < l->count; i++) classify(&l->fields[i], offset + l->fields[i].offset, classes, unaligned);
}

/* n bytes of one eightbyte: the scalar libffi gives that class and size. */
static bool eightbyte_elements(sysv_class c, uint32_t n, ffi_type **out, uint32_t *count) {
  if (c == CLASS_SSE) {
    if (n != 4 && n != 8) return false;
    out[(*count)++] = n == 8 ? &ffi_type_double : &ffi_type_float;
    return true;
  }
  if (n == 8 || n == 4 || n == 2 || n == 1) {
    out[(*count)++] = n == 8 ? &ffi_type_uint64 : n == 4 ? &ffi_type_uint32 : n == 2 ? &ffi_type_uint16 : &ffi_type_uint8;
    return true;
  }
  for (uint32_t i = 0; i < n; i++) out[(*count)++] = &ffi_type_uint8;
  return true;
}

/* What libffi passes in memory by its classification alone: an aggregate
 * over 32 bytes is MEMORY before its elements are looked at, and so is
 * any aggregate holding one. Its size is set, so libffi never lays it out. */
static ffi_type *in_memory_elements[] = {&ffi_type_uint8, NULL};
static ffi_type in_memory = {.size = 64, .alignment = 1, .type = FFI_TYPE_STRUCT, .elements = in_memory_elements};

bool cffi_layout_equivalent_ffi(napi_env env, cffi_layout *layout) {
  forget_elements(layout);
  const uint32_t size = layout->size;
  sysv_class classes[2] = {CLASS_NONE, CLASS_NONE};
  bool unaligned = false;
  const cffi_field whole = {.layout = layout};
  classify(&whole, 0, classes, &unaligned);
  const bool memory = size > 16 || unaligned || classes[0] == CLASS_MEMORY || classes[1] == CLASS_MEMORY;
  /* Above 16, gcc's placement of a stack argument is not libffi's. */
  if (layout->align > 16) return true;
  cffi_ffi_run *run = calloc(1, sizeof *run);
  if (!run) {
    cffi_throw(env, "RangeError", "out of memory laying out a type");
    return false;
  }
  ffi_type **elements = run->list;
  uint32_t count = 0;
  bool ok = true;
  if (memory) {
    /* Memory, whatever the size (an unaligned member in 5 bytes, or 297
     * packed ones): the caller's copy on the stack (8-aligned, or 16 for a
     * 16-aligned type) or the hidden result pointer; libffi copies exactly
     * the size set below. */
    elements[count++] = &in_memory;
  } else {
    ok = eightbyte_elements(classes[0] == CLASS_NONE ? CLASS_INTEGER : classes[0], size < 8 ? size : 8, elements, &count);
    if (ok && size > 8)
      ok = eightbyte_elements(classes[1] == CLASS_NONE ? CLASS_INTEGER : classes[1], size - 8, elements, &count);
  }
  use_elements(layout, elements, ok);
  /* The elements' own layout may be larger: a packed { u64, u32 } as a
   * uint64 and a uint32 is 16 bytes to libffi, whose register copies then
   * read and write 4 bytes past a 12-byte value. */
  layout->ffi.size = size;
  layout->ffi.alignment = (unsigned short)layout->align;
  return true;
}
/* TinyCC 0.9.27 compiles cc() code, so there both sides of a by-value
 * aggregate must be passed as gcc (and libffi, told gcc's rule) passes it.
 * Measured against gcc: it passes an unaligned member's struct of 16 bytes
 * or less in registers (gcc: in memory), and gets a struct whose eightbytes
 * are of different classes wrong ({ double, int } as an argument, { int,
 * double } as a result); same-class ones, and anything over 16 bytes, agree. */
const char *cffi_layout_tinycc_mismatch(const cffi_layout *layout) {
  if (layout->size > 16) return NULL;
  sysv_class classes[2] = {CLASS_NONE, CLASS_NONE};
  bool unaligned = false;
  const cffi_field whole = {.layout = (cffi_layout *)layout};
  classify(&whole, 0, classes, &unaligned);
  if (unaligned) return "gcc passes it in memory (a member is not aligned), TinyCC in registers";
  if (classes[0] != CLASS_NONE && classes[1] != CLASS_NONE && classes[0] != classes[1])
    return "its two eightbytes are of different classes (INTEGER and SSE), which TinyCC passes differently from gcc";
  return NULL;
}
#elif defined(_WIN64)
/* Win64 looks at an aggregate's size only: 1, 2, 4 or 8 bytes travel as
 * that integer (in a register or a stack slot, floats or not; RAX for a
 * result), any other size as a pointer to a caller-made copy (a hidden
 * pointer for a result). libffi's win64 code follows the same rule from the
 * size it computes, so the stand-in is one integer of that size, or bytes
 * of the same size. The copy it makes sits in a 16-aligned slot: an
 * alignment above 16 stays refused, as the callee may rely on it. */
bool cffi_layout_equivalent_ffi(napi_env env, cffi_layout *layout) {
  forget_elements(layout);
  const uint32_t size = layout->size;
  if (layout->align > 16 || size == 0) return true;
  const bool in_register = size == 1 || size == 2 || size == 4 || size == 8;
  /* By reference, size alone matters: the bytes as one run (a huge union
   * would otherwise take a pointer per byte). */
  cffi_ffi_run *run = calloc(1, sizeof *run);
  if (!run) {
    cffi_throw(env, "RangeError", "out of memory laying out a type");
    return false;
  }
  ffi_type **elements = run->list;
  if (in_register)
    elements[0] = size == 8 ? &ffi_type_uint64 : size == 4 ? &ffi_type_uint32 : size == 2 ? &ffi_type_uint16 : &ffi_type_uint8;
  else
    cffi_ffi_append_run(run, 0, &ffi_type_uint8, size);
  use_elements(layout, elements, true);
  return true;
}
#elif defined(__aarch64__) || defined(_M_ARM64)
/* AAPCS64 looks at an aggregate after layout, whatever its members' names
 * or packing: a homogeneous float aggregate (HFA: one to four members, all
 * float or all double, counted through nested structs and arrays, a union
 * counting as its largest member, with no padding: the size is the count
 * times the member's) travels in s/d registers (s0-s3 / d0-d3 for a
 * result); any other aggregate of 16 bytes or less as its bytes in x
 * registers (x0/x1 for a result); a larger one by reference to a copy
 * (through x8 for a result). libffi decides from its descriptor the same
 * way (size, then the scalars' type), so the stand-in is that many floats
 * or doubles for an HFA, else integers as wide as the type's alignment
 * (the same size and alignment), or for a large type its bytes as one run.
 * An alignment above 8 (an aligned() attribute) also moves a small
 * aggregate to an even register pair or slot, which libffi's descriptor
 * cannot say: refused then, and above 16 always, as on x86-64. */

/* Members of an HFA candidate: the count and the one float type (CFFI_F32
 * or CFFI_F64), or -1 when it is not homogeneous or has padding. */
static int hfa_count(const cffi_field *f, uint8_t *base) {
  if (!f->layout) {
    if (f->scalar != CFFI_F32 && f->scalar != CFFI_F64) return -1;
    if (*base != CFFI_VOID && *base != f->scalar) return -1;
    *base = f->scalar;
    return 1;
  }
  const cffi_layout *l = f->layout;
  int count = 0;
  if (l->kind == CFFI_LAYOUT_ARRAY) {
    const int one = hfa_count(&l->fields[0], base);
    if (one < 0 || (uint64_t)one * l->count > 4) return -1;
    count = one * (int)l->count;
  } else {
    for (uint32_t i = 0; i < l->count; i++) {
      const int one = hfa_count(&l->fields[i], base);
      if (one < 0) return -1;
      if (l->kind == CFFI_LAYOUT_UNION) count = one > count ? one : count;
      else count += one;
      if (count > 4) return -1;
    }
  }
  /* Padding (an aligned member, a pack that leaves holes) breaks homogeneity. */
  if (count == 0 || l->size != (uint32_t)count * (uint32_t)cffi_types[*base].ffi->size) return -1;
  return count;
}

bool cffi_layout_equivalent_ffi(napi_env env, cffi_layout *layout) {
  forget_elements(layout);
  const uint32_t size = layout->size;
  if (size == 0 || layout->align > 16 || (size <= 16 && layout->align > 8)) return true;
  uint8_t base = CFFI_VOID;
  const cffi_field whole = {.layout = layout};
  const int hfa = hfa_count(&whole, &base);
  cffi_ffi_run *run = calloc(1, sizeof *run);
  if (!run) {
    cffi_throw(env, "RangeError", "out of memory laying out a type");
    return false;
  }
  ffi_type **elements = run->list;
  if (hfa > 0) {
    for (int i = 0; i < hfa; i++) elements[i] = cffi_types[base].ffi;
  } else if (size <= 16) {
    const uint32_t align = layout->align;
    ffi_type *word = align == 8 ? &ffi_type_uint64 : align == 4 ? &ffi_type_uint32 : align == 2 ? &ffi_type_uint16 : &ffi_type_uint8;
    for (uint32_t i = 0; i < size / align; i++) elements[i] = word;
  } else {
    cffi_ffi_append_run(run, 0, &ffi_type_uint8, size);
  }
  use_elements(layout, elements, true);
  return true;
}
#else
bool cffi_layout_equivalent_ffi(napi_env env, cffi_layout *layout) {
  (void)env;
  layout->by_value = false;
  return true;
}
#endif

#if !(defined(__x86_64__) && !defined(_WIN32))
/* Not measured elsewhere (cc() has no TinyCC on Windows; AArch64's tests pass). */
const char *cffi_layout_tinycc_mismatch(const cffi_layout *layout) {
  (void)layout;
  return NULL;
}
#endif
