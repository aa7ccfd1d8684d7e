/*
 * layout_c.c - the C declarations of a signature's struct, union and out
 * types, for viewSource: what the layout code reproduces, written as C
 * would declare it (typedefs, nested types first, #pragma pack and aligned
 * attributes as they were asked for), so a reader can compare it with the
 * library's header.
 */
#include <stdio.h>

#include "../cffi.h"

#define MAX_TYPES 64

typedef struct {
  const cffi_layout *seen[MAX_TYPES];
  unsigned count;
} type_names;

static int type_index(const type_names *names, const cffi_layout *layout) {
  for (unsigned i = 0; i < names->count; i++)
    if (names->seen[i] == layout) return (int)i;
  return -1;
}

static const char *scalar_c(uint8_t id) {
  return id == CFFI_CHAR ? "char" : id == CFFI_BOOL ? "bool" : cffi_types[id].c_name;
}

static const cffi_field *element_of(const cffi_field *f) {
  while (f->layout && f->layout->kind == CFFI_LAYOUT_ARRAY) f = &f->layout->fields[0];
  return f;
}

static void render_type(cffi_text *b, type_names *names, const cffi_layout *layout) {
  if (type_index(names, layout) >= 0 || names->count == MAX_TYPES) return;
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = element_of(&layout->fields[i]);
    if (f->layout) render_type(b, names, f->layout);
  }
  const unsigned n = names->count;
  names->seen[names->count++] = layout;
  if (layout->pack) cffi_text_append(b, "#pragma pack(push, %u)\n", layout->pack);
  cffi_text_append(b, "typedef %s", layout->kind == CFFI_LAYOUT_UNION ? "union" : "struct");
  if (layout->declared_align) cffi_text_append(b, " __attribute__((aligned(%u)))", layout->declared_align);
  cffi_text_append(b, " {\n");
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i], *e = element_of(f);
    if (e->layout) cffi_text_append(b, "  cffi_t%d %s", type_index(names, e->layout), f->name);
    else cffi_text_append(b, "  %s %s", scalar_c(e->scalar), f->name);
    for (const cffi_field *at = f; at->layout && at->layout->kind == CFFI_LAYOUT_ARRAY; at = &at->layout->fields[0])
      cffi_text_append(b, "[%u]", at->layout->count);
    if (f->align) cffi_text_append(b, " __attribute__((aligned(%u)))", f->align);
    cffi_text_append(b, "; /* offset %u */\n", f->offset);
  }
  cffi_text_append(b, "} cffi_t%u; /* size %u, align %u%s */\n", n, layout->size, layout->align,
                   layout->by_value ? "" : "; not passed by value here");
  if (layout->pack) cffi_text_append(b, "#pragma pack(pop)\n");
}

static void note_use(cffi_text *b, type_names *names, const cffi_layout *layout, const char *where, int index) {
  const cffi_layout *target = layout->kind >= CFFI_LAYOUT_OUT ? element_of(&layout->fields[0])->layout : layout;
  if (target) render_type(b, names, target);
  const char *pointer = layout->kind >= CFFI_LAYOUT_OUT ? " *" : "";
  if (index >= 0) cffi_text_append(b, "/* %s[%d]: ", where, index);
  else cffi_text_append(b, "/* %s: ", where);
  if (target) cffi_text_append(b, "cffi_t%d%s", type_index(names, target), pointer);
  else cffi_text_append(b, "%s%s", scalar_c(layout->fields[0].scalar), pointer);
  cffi_text_append(b, "%s */\n", layout->kind == CFFI_LAYOUT_INOUT ? " (inout)" : layout->kind == CFFI_LAYOUT_OUT ? " (out)" : "");
}

void cffi_layout_render_declarations(cffi_text *b, const cffi_signature *sig) {
  if (!sig->layouts) return;
  type_names names = {.count = 0};
  cffi_text_append(b, "/* Struct types of this signature, as C declares them (passed through libffi): */\n");
  for (unsigned i = 0; i < sig->nargs; i++)
    if (sig->layouts->args[i]) note_use(b, &names, sig->layouts->args[i], "args", (int)i);
  if (sig->layouts->returns) note_use(b, &names, sig->layouts->returns, "returns", -1);
  cffi_text_append(b, "\n");
}
