/*
 * layout.c - struct, union, array and out/inout types: their layouts and
 * the JS type objects that stand for them.
 *
 * Owns: parsing a field list (object, or [name, type, { align }] tuples),
 * laying it out by the C rules gcc follows on the target (natural alignment,
 * per-field `align` raising it, `pack` capping both, the type's `align`, unions
 * overlapping at 0, sizes rounded to the alignment), the libffi descriptor
 * (FFI_TYPE_STRUCT, arrays as repeated elements) and whether libffi lays the
 * type out the same way (only then can it pass it by value), the names
 * registered with struct("Name", ...), the type objects' methods (offsetof,
 * read, write, view), and the signature hooks that let a definition name a
 * layout. Values are converted in src/types/struct_values.c.
 *
 * The type system stays data: a layout is one more kind of row. A signature
 * argument of type CFFI_STRUCT_VALUE or CFFI_OUT_POINTER finds its layout in
 * sig->layouts; the engines that cannot carry one (register engine, jit)
 * refuse such signatures at prepare time and libffi takes them.
 */
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* Tags type objects, so that an object merely shaped like one is not taken for one. */
static const napi_type_tag layout_tag = {0x6366666962756e5fULL, 0x6c61796f75743031ULL};

struct cffi_named_layout {
  struct cffi_named_layout *next;
  cffi_layout *layout;
};

static const char *const kind_names[] = {
    [CFFI_LAYOUT_STRUCT] = "struct", [CFFI_LAYOUT_UNION] = "union", [CFFI_LAYOUT_ARRAY] = "array",
    [CFFI_LAYOUT_OUT] = "out", [CFFI_LAYOUT_INOUT] = "inout",
};

/* ---- lifetime ----------------------------------------------------------- */

void cffi_layout_retain(cffi_layout *layout) { layout->refs++; }

/* Also run by the GC (type objects' finalizers): frees only. */
void cffi_layout_release(cffi_layout *layout) {
  if (!layout || --layout->refs > 0) return;
  if (layout->keys) cffi_layout_keys_forget(layout);
  for (uint32_t i = 0; i < (layout->kind <= CFFI_LAYOUT_UNION ? layout->count : 1); i++) {
    free(layout->fields[i].name);
    cffi_layout_release(layout->fields[i].layout);
  }
  free(layout->elements);
  free(layout->name);
  free(layout);
}

static cffi_layout *layout_new(napi_env env, cffi_layout_kind kind, uint32_t fields) {
  cffi_layout *layout = calloc(1, sizeof *layout + (fields ? fields : 1) * sizeof(cffi_field));
  if (!layout) cffi_throw(env, "RangeError", "%s: out of memory", kind_names[kind]);
  else {
    layout->refs = 1;
    layout->kind = kind;
  }
  return layout;
}

/* A field's size and alignment, whatever it holds. */
static uint32_t field_size(const cffi_field *f) {
  return f->layout ? f->layout->size : (uint32_t)cffi_types[f->scalar].ffi->size;
}
static uint32_t field_align(const cffi_field *f) {
  return f->layout ? f->layout->align : (uint32_t)cffi_types[f->scalar].ffi->alignment;
}

/* ---- descriptive names for messages ------------------------------------- */

/* "struct Point", "struct { x, y }", "union", "array(u8, 4)" */
void cffi_layout_describe(const cffi_layout *layout, char *out, size_t len) {
  if (layout->name) {
    snprintf(out, len, "%s %s", kind_names[layout->kind], layout->name);
    return;
  }
  if (layout->kind == CFFI_LAYOUT_ARRAY || layout->kind >= CFFI_LAYOUT_OUT) {
    char inner[96];
    const cffi_field *f = &layout->fields[0];
    if (f->layout) cffi_layout_describe(f->layout, inner, sizeof inner);
    else snprintf(inner, sizeof inner, "%s", cffi_types[f->scalar].name);
    if (layout->kind == CFFI_LAYOUT_ARRAY) snprintf(out, len, "array(%s, %u)", inner, layout->count);
    else snprintf(out, len, "%s(%s)", kind_names[layout->kind], inner);
    return;
  }
  size_t used = (size_t)snprintf(out, len, "%s {", kind_names[layout->kind]);
  for (uint32_t i = 0; i < layout->count && used < len; i++) {
    if (i == 3) {
      used += (size_t)snprintf(out + used, len - used, ", ...");
      break;
    }
    used += (size_t)snprintf(out + used, len - used, "%s %s", i ? "," : "", layout->fields[i].name);
  }
  if (used < len) snprintf(out + used, len - used, " }");
}

/* ---- field types ---------------------------------------------------------- */

/* Scalars a field may hold: the numbers, bool, pointers and cstring. */
static bool scalar_field_ok(uint8_t id) {
  return id != CFFI_VOID && id != CFFI_NAPI_ENV && id != CFFI_NAPI_VALUE && id != CFFI_BUFFER &&
         id != CFFI_BUFFER_LENGTH;
}

static bool is_layout_object(napi_env env, napi_value value, cffi_layout **out) {
  return (*out = cffi_unwrap_tagged(env, value, napi_object, &layout_tag)) != NULL;
}

static cffi_layout *find_named(cffi_env_state *state, const char *name) {
  for (struct cffi_named_layout *n = state->named_layouts; n; n = n->next)
    if (strcmp(n->layout->name, name) == 0) return n->layout;
  return NULL;
}

/* An object of another struct library (bun-ffi-structs: __type "struct")
 * converted by the shim's converter into a type object. */
static int foreign_struct(napi_env env, napi_value value, cffi_layout **out, napi_value *type_object) {
  cffi_env_state *state;
  napi_value kind, converter, converted;
  char name[8] = "";
  bool has = false;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || !state || !state->struct_converter) return 0;
  /* An object that cannot even be asked (a revoked Proxy) is simply not
   * one: the caller's own message about the value is the one to give. */
  if (napi_has_named_property(env, value, "__type", &has) != napi_ok ||
      (has && napi_get_named_property(env, value, "__type", &kind) != napi_ok)) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return 0;
  }
  if (!has) return 0;
  if (napi_get_value_string_utf8(env, kind, name, sizeof name, NULL) != napi_ok || strcmp(name, "struct") != 0) return 0;
  if (napi_get_reference_value(env, state->struct_converter, &converter) != napi_ok ||
      napi_call_function(env, value, converter, 1, &value, &converted) != napi_ok)
    return -1;
  if (!is_layout_object(env, converted, out)) return 0;
  cffi_layout_retain(*out);
  if (type_object) *type_object = converted;
  return 1;
}

int cffi_layout_lookup(napi_env env, napi_value value, cffi_layout **out, napi_value *type_object) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok) return -1;
  if (t == napi_object) {
    if (!is_layout_object(env, value, out)) return foreign_struct(env, value, out, type_object);
    cffi_layout_retain(*out);
    if (type_object) *type_object = value;
    return 1;
  }
  if (t != napi_string) return 0;
  cffi_env_state *state;
  char name[128];
  size_t len;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || !state || !state->named_layouts) return 0;
  if (napi_get_value_string_utf8(env, value, name, sizeof name, &len) != napi_ok || len >= sizeof name - 1) return 0;
  cffi_layout *found = find_named(state, name);
  if (!found) return 0;
  cffi_layout_retain(found);
  *out = found;
  if (type_object) *type_object = NULL;
  return 1;
}

/* One field's type: a type object, a registered name, or a scalar FFIType
 * (name or number). Fills f->scalar or f->layout (a new reference). */
static bool field_type(napi_env env, napi_value type, const char *owner, const char *field, cffi_field *f) {
  int found = cffi_layout_lookup(env, type, &f->layout, NULL);
  if (found < 0) return false;
  if (found) {
    if (f->layout->kind >= CFFI_LAYOUT_OUT) {
      cffi_layout_release(f->layout);
      f->layout = NULL;
      cffi_throw(env, "TypeError", "%s: field \"%s\": out()/inout() are argument types, not field types (use \"ptr\")",
                 owner, field);
      return false;
    }
    return true;
  }
  cffi_type_id id;
  if (!cffi_type_from_value(env, type, owner, 0, &id)) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    char name[64] = "";
    napi_valuetype t;
    napi_typeof(env, type, &t);
    if (t == napi_string) napi_get_value_string_utf8(env, type, name, sizeof name, NULL);
    cffi_throw(env, "TypeError",
               "%s: field \"%s\" has an unknown type %s%s%s (expected an FFIType name or number, a struct/union/array "
               "type or a registered struct name), received %s",
               owner, field, t == napi_string ? "\"" : "", name, t == napi_string ? "\"" : "", cffi_value_kind(env, type));
    return false;
  }
  if (!scalar_field_ok(id)) {
    cffi_throw(env, "TypeError", "%s: field \"%s\" cannot be of type %s (not a value stored in memory)", owner, field,
               cffi_types[id].name);
    return false;
  }
  f->scalar = (uint8_t)id;
  return true;
}

/* A power of two from 1 to 2^16, or undefined (0). */
static bool read_alignment(napi_env env, napi_value options, const char *key, const char *owner, uint32_t *out) {
  napi_value value;
  napi_valuetype t;
  *out = 0;
  if (!options) return true;
  if (napi_get_named_property(env, options, key, &value) != napi_ok || napi_typeof(env, value, &t) != napi_ok)
    return false;
  if (t == napi_undefined) return true;
  double d = 0;
  if (t == napi_number) napi_get_value_double(env, value, &d);
  uint32_t n = (uint32_t)d;
  if (t != napi_number || d != (double)n || n == 0 || n > 65536 || (n & (n - 1))) {
    cffi_throw(env, "TypeError", "%s: option \"%s\" must be a power of two from 1 to 65536, received %s", owner, key,
               t == napi_number ? "another number" : cffi_value_kind(env, value));
    return false;
  }
  *out = n;
  return true;
}

/* ---- layout ------------------------------------------------------------- */

static uint32_t round_up(uint32_t n, uint32_t align) { return (n + align - 1) / align * align; }

/* The libffi descriptor: a struct's or array's scalars in order (arrays as
 * repeated elements, as libffi classifies them). Then libffi's own offsets
 * are compared with ours: where they differ (packing, over-alignment,
 * unions inside), and for unions, src/types/layout_abi.c describes the type
 * to libffi by its classification instead, where it can. */
static bool build_ffi(napi_env env, cffi_layout *layout) {
  layout->ffi.type = FFI_TYPE_STRUCT;
  if (layout->kind == CFFI_LAYOUT_UNION) return cffi_layout_equivalent_ffi(env, layout);
  const uint32_t n = layout->count;
  /* Over 64 elements is over 64 bytes: in memory on every ABI (see cffi_ffi_run). */
  if (layout->kind == CFFI_LAYOUT_ARRAY && n > 64) {
    const cffi_field *f = &layout->fields[0];
    cffi_ffi_run *run = calloc(1, sizeof *run);
    if (!run) {
      cffi_throw(env, "RangeError", "out of memory laying out a %s", kind_names[layout->kind]);
      return false;
    }
    cffi_ffi_append_run(run, 0, f->layout ? &f->layout->ffi : cffi_types[f->scalar].ffi, n);
    layout->elements = run->list;
    layout->ffi.elements = run->list;
    size_t offsets[33];
    if ((f->layout && !f->layout->by_value) || ffi_get_struct_offsets(FFI_DEFAULT_ABI, &layout->ffi, offsets) != FFI_OK ||
        layout->ffi.size != layout->size || layout->ffi.alignment != layout->align)
      return cffi_layout_equivalent_ffi(env, layout);
    layout->by_value = true;
    return true;
  }
  layout->elements = calloc(n + 1, sizeof(ffi_type *));
  if (!layout->elements) {
    cffi_throw(env, "RangeError", "out of memory laying out a %s", kind_names[layout->kind]);
    return false;
  }
  bool ok = true;
  for (uint32_t i = 0; i < n; i++) {
    const cffi_field *f = &layout->fields[layout->kind == CFFI_LAYOUT_ARRAY ? 0 : i];
    if (f->layout && !f->layout->by_value) ok = false;
    layout->elements[i] = f->layout ? &f->layout->ffi : cffi_types[f->scalar].ffi;
  }
  layout->ffi.elements = layout->elements;
  if (!ok) return cffi_layout_equivalent_ffi(env, layout);
  size_t *offsets = calloc(n, sizeof *offsets);
  if (!offsets) {
    cffi_throw(env, "RangeError", "out of memory laying out a %s", kind_names[layout->kind]);
    return false;
  }
  ok = ffi_get_struct_offsets(FFI_DEFAULT_ABI, &layout->ffi, offsets) == FFI_OK &&
       layout->ffi.size == layout->size && layout->ffi.alignment == layout->align;
  for (uint32_t i = 0; ok && i < n; i++) {
    uint32_t expected = layout->kind == CFFI_LAYOUT_ARRAY ? i * field_size(&layout->fields[0])
                                                          : layout->fields[i].offset;
    ok = offsets[i] == expected;
  }
  free(offsets);
  if (!ok) return cffi_layout_equivalent_ffi(env, layout);
  layout->by_value = true;
  return true;
}

/* Offsets, size and alignment by gcc's rules: each member at the next
 * multiple of its alignment (natural, raised by its own `align`, then
 * capped by `pack` as #pragma pack(n) does), a union's at 0; the whole rounded up to the largest alignment
 * (raised by the type's `align`). */
static bool lay_out(napi_env env, cffi_layout *layout, const uint32_t *field_aligns, uint32_t pack,
                    uint32_t type_align) {
  uint64_t offset = 0, size = 0;
  uint32_t align = 1;
  for (uint32_t i = 0; i < layout->count; i++) {
    cffi_field *f = &layout->fields[i];
    uint32_t a = field_align(f);
    if (field_aligns[i] > a) a = field_aligns[i];
    if (pack && a > pack) a = pack; /* #pragma pack(n) caps even an explicit member alignment */
    if (a > align) align = a;
    if (layout->kind == CFFI_LAYOUT_UNION) {
      f->offset = 0;
      if (field_size(f) > size) size = field_size(f);
    } else {
      offset = (offset + a - 1) / a * a;
      f->offset = (uint32_t)offset;
      offset += field_size(f);
      size = offset;
    }
    if (size > UINT32_MAX / 2) {
      cffi_throw(env, "RangeError", "%s: larger than 2 GiB", kind_names[layout->kind]);
      return false;
    }
  }
  if (type_align > align) align = type_align;
  layout->align = align;
  layout->size = round_up((uint32_t)size, align);
  return build_ffi(env, layout);
}

/* struct(fields, options?), struct(name, fields, options?), the same for
 * union. fields: { name: type } in property order, or [[name, type,
 * { align }?], ...]; a type may also be { type, align }. */
static napi_value make_type_object(napi_env env, cffi_layout *layout);

static bool field_entry(napi_env env, napi_value entry_name, napi_value type, const char *owner, cffi_field *f,
                        uint32_t *field_alignment, napi_value field_options) {
  size_t len;
  char name[256];
  napi_valuetype t;
  napi_typeof(env, entry_name, &t);
  if (t != napi_string || napi_get_value_string_utf8(env, entry_name, name, sizeof name, &len) != napi_ok ||
      len == 0 || len >= sizeof name - 1) {
    cffi_throw(env, "TypeError", "%s: a field name must be a non-empty string (under 255 bytes), received %s", owner,
               cffi_value_kind(env, entry_name));
    return false;
  }
  if (!(f->name = strdup(name))) {
    cffi_throw(env, "RangeError", "out of memory");
    return false;
  }
  /* { type, align } */
  cffi_layout *probe;
  napi_typeof(env, type, &t);
  bool is_array = false;
  napi_is_array(env, type, &is_array);
  if (t == napi_object && !is_array && !is_layout_object(env, type, &probe)) {
    bool has = false;
    napi_has_named_property(env, type, "type", &has);
    if (has) { /* else another library's struct definition, or unknown: field_type says */
      field_options = type;
      napi_get_named_property(env, type, "type", &type);
    }
  }
  if (!field_type(env, type, owner, name, f)) return false;
  return read_alignment(env, field_options, "align", owner, field_alignment);
}

static napi_value define_aggregate(napi_env env, napi_callback_info info, cffi_layout_kind kind) {
  size_t argc = 3;
  napi_value argv[3], names = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *what = kind_names[kind];
  char owner[160], type_name[128] = "";
  size_t first = 0, len = 0;
  napi_valuetype t = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    if (napi_get_value_string_utf8(env, argv[0], type_name, sizeof type_name, &len) != napi_ok || len == 0 ||
        len >= sizeof type_name - 1)
      return cffi_throw(env, "TypeError", "%s(name, fields): the name must be 1 to 126 bytes", what);
    first = 1;
  }
  snprintf(owner, sizeof owner, "%s%s%s", what, type_name[0] ? " " : "", type_name);
  napi_value fields = first < argc ? argv[first] : NULL, options = first + 1 < argc ? argv[first + 1] : NULL;
  napi_valuetype ft = napi_undefined, ot = napi_undefined;
  bool tuples = false;
  if (fields) napi_typeof(env, fields, &ft);
  if (fields) napi_is_array(env, fields, &tuples);
  if (ft != napi_object)
    return cffi_throw(env, "TypeError", "%s expects its fields as an object { name: type } or [[name, type], ...], received %s",
                      owner, fields ? cffi_value_kind(env, fields) : "nothing");
  if (options) napi_typeof(env, options, &ot);
  if (options && ot != napi_object && ot != napi_undefined)
    return cffi_throw(env, "TypeError", "%s: options must be an object like { pack, align }, received %s", owner,
                      cffi_value_kind(env, options));
  if (ot != napi_object) options = NULL;
  uint32_t count = 0;
  if (tuples) napi_get_array_length(env, fields, &count);
  else if (!cffi_object_keys(env, fields, "fields", &names, &count)) return NULL;
  if (count == 0) return cffi_throw(env, "TypeError", "%s has no fields (C has no empty %ss)", owner, what);
  if (count > 4096) return cffi_throw(env, "RangeError", "%s has %u fields; at most 4096 are supported", owner, count);
  uint32_t pack = 0, type_align = 0;
  if (!read_alignment(env, options, "pack", owner, &pack) || !read_alignment(env, options, "align", owner, &type_align))
    return NULL;
  cffi_layout *layout = layout_new(env, kind, count);
  uint32_t *aligns = calloc(count, sizeof *aligns);
  if (!layout || !aligns) {
    free(aligns);
    cffi_layout_release(layout);
    return layout ? cffi_throw(env, "RangeError", "out of memory") : NULL;
  }
  layout->count = count;
  bool ok = true;
  for (uint32_t i = 0; ok && i < count; i++) {
    napi_value entry_name, type, entry, field_options = NULL;
    if (tuples) {
      bool entry_is_array = false;
      uint32_t entry_len = 0;
      ok = napi_get_element(env, fields, i, &entry) == napi_ok;
      if (ok) napi_is_array(env, entry, &entry_is_array);
      if (ok && entry_is_array) napi_get_array_length(env, entry, &entry_len);
      if (ok && (!entry_is_array || entry_len < 2 || entry_len > 3)) {
        cffi_throw(env, "TypeError", "%s: fields[%u] must be [name, type] or [name, type, { align }], received %s", owner,
                   i, cffi_value_kind(env, entry));
        ok = false;
      }
      ok = ok && napi_get_element(env, entry, 0, &entry_name) == napi_ok &&
           napi_get_element(env, entry, 1, &type) == napi_ok;
      if (ok && entry_len == 3) {
        napi_valuetype fot;
        ok = napi_get_element(env, entry, 2, &field_options) == napi_ok;
        napi_typeof(env, field_options, &fot);
        if (fot != napi_object) field_options = NULL;
      }
    } else {
      ok = napi_get_element(env, names, i, &entry_name) == napi_ok &&
           napi_get_property(env, fields, entry_name, &type) == napi_ok;
    }
    ok = ok && field_entry(env, entry_name, type, owner, &layout->fields[i], &aligns[i], field_options);
    for (uint32_t j = 0; ok && j < i; j++) {
      if (strcmp(layout->fields[j].name, layout->fields[i].name) == 0) {
        cffi_throw(env, "TypeError", "%s: field \"%s\" is named twice", owner, layout->fields[i].name);
        ok = false;
      }
    }
  }
  for (uint32_t i = 0; ok && i < count; i++) layout->fields[i].align = aligns[i];
  layout->pack = pack;
  layout->declared_align = type_align;
  ok = ok && lay_out(env, layout, aligns, pack, type_align);
  free(aligns);
  if (ok && type_name[0]) {
    cffi_env_state *state;
    napi_get_instance_data(env, (void **)&state);
    cffi_type_id ignored;
    napi_value name_value = argv[0];
    if (cffi_type_from_value(env, name_value, owner, 0, &ignored)) {
      cffi_throw(env, "TypeError", "%s: \"%s\" is already an FFIType name", owner, type_name);
      ok = false;
    } else {
      napi_value pending;
      napi_get_and_clear_last_exception(env, &pending);
      if (find_named(state, type_name)) {
        cffi_throw(env, "TypeError", "%s: a type named \"%s\" is already defined", owner, type_name);
        ok = false;
      }
    }
    struct cffi_named_layout *entry = ok ? malloc(sizeof *entry) : NULL;
    if (ok && (!entry || !(layout->name = strdup(type_name)))) {
      free(entry);
      cffi_throw(env, "RangeError", "out of memory");
      ok = false;
    }
    if (ok) {
      entry->layout = layout;
      cffi_layout_retain(layout);
      entry->next = state->named_layouts;
      state->named_layouts = entry;
    }
  }
  if (!ok) {
    cffi_layout_release(layout);
    return NULL;
  }
  return make_type_object(env, layout);
}

static napi_value struct_entry(napi_env env, napi_callback_info info) {
  return define_aggregate(env, info, CFFI_LAYOUT_STRUCT);
}
static napi_value union_entry(napi_env env, napi_callback_info info) {
  return define_aggregate(env, info, CFFI_LAYOUT_UNION);
}

/* array(type, length): an inline C array (a member, or memory to read). */
static napi_value array_entry(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return cffi_throw(env, "TypeError", "array(type, length) expects a type and a length");
  double d = -1;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_number) napi_get_value_double(env, argv[1], &d);
  if (t != napi_number || d < 1 || d > (1u << 30) || d != (double)(uint32_t)d)
    return cffi_throw(env, "TypeError", "array(type, length): the length must be an integer from 1 to 2^30, received %s",
                      t == napi_number ? "another number" : cffi_value_kind(env, argv[1]));
  cffi_layout *layout = layout_new(env, CFFI_LAYOUT_ARRAY, 1);
  if (!layout) return NULL;
  if (!field_type(env, argv[0], "array", "element", &layout->fields[0])) {
    cffi_layout_release(layout);
    return NULL;
  }
  const uint64_t size = (uint64_t)field_size(&layout->fields[0]) * (uint32_t)d;
  if (size > UINT32_MAX / 2) {
    cffi_layout_release(layout);
    return cffi_throw(env, "RangeError", "array(type, %u): larger than 2 GiB", (uint32_t)d);
  }
  layout->count = (uint32_t)d;
  layout->size = (uint32_t)size;
  layout->align = field_align(&layout->fields[0]);
  if (!build_ffi(env, layout)) {
    cffi_layout_release(layout);
    return NULL;
  }
  return make_type_object(env, layout);
}

/* out(type), inout(type): a pointer argument to one value of `type`. */
static napi_value pointer_type(napi_env env, napi_callback_info info, cffi_layout_kind kind) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return cffi_throw(env, "TypeError", "%s(type) expects a type", kind_names[kind]);
  cffi_layout *layout = layout_new(env, kind, 1);
  if (!layout) return NULL;
  if (!field_type(env, argv[0], kind_names[kind], "target", &layout->fields[0])) {
    cffi_layout_release(layout);
    return NULL;
  }
  const cffi_field *f = &layout->fields[0];
  if (!f->layout && (f->scalar == CFFI_CSTRING)) {
    cffi_layout_release(layout);
    return cffi_throw(env, "TypeError", "%s(cstring) is not supported: use %s(\"ptr\") and read the string with CString",
                      kind_names[kind], kind_names[kind]);
  }
  layout->count = 1;
  layout->size = sizeof(void *);
  layout->align = sizeof(void *);
  return make_type_object(env, layout);
}
static napi_value out_entry(napi_env env, napi_callback_info info) { return pointer_type(env, info, CFFI_LAYOUT_OUT); }
static napi_value inout_entry(napi_env env, napi_callback_info info) { return pointer_type(env, info, CFFI_LAYOUT_INOUT); }

/* ---- type objects ------------------------------------------------------- */

static void release_finalizer(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  cffi_layout_release(data);
}

static bool offset_argument(napi_env env, napi_value value, const char *method, uint32_t *out) {
  napi_valuetype t = napi_undefined;
  *out = 0;
  if (value) napi_typeof(env, value, &t);
  if (t == napi_undefined) return true;
  double d = -1;
  if (t == napi_number) napi_get_value_double(env, value, &d);
  if (t != napi_number || d < 0 || d > UINT32_MAX || d != (double)(uint32_t)d) {
    cffi_throw(env, "TypeError", "%s: byteOffset must be a non-negative integer, received %s", method,
               t == napi_number ? "another number" : cffi_value_kind(env, value));
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

/* The memory `target` + byteOffset names for one value of the layout: a
 * TypedArray, DataView or ArrayBuffer (its length checked) or a pointer
 * (number, BigInt, object with .ptr: not checkable; the first page and
 * non-user addresses refused). */
bool cffi_layout_memory(napi_env env, const cffi_layout *layout, napi_value target, napi_value offset_value,
                        const char *method, uint8_t **out, bool *is_js_memory) {
  uint32_t offset;
  void *data;
  size_t length;
  if (!offset_argument(env, offset_value, method, &offset)) return false;
  if (cffi_view_info(env, target, &data, &length)) {
    if (!data && cffi_view_detached(env, target)) {
      cffi_throw(env, "TypeError", "%s: the buffer's ArrayBuffer is detached", method);
      return false;
    }
    if ((uint64_t)offset + layout->size > length) {
      char what[128];
      cffi_layout_describe(layout, what, sizeof what);
      cffi_throw(env, "TypeError", "%s: the buffer is too small: %s needs %u bytes at byteOffset %u, the buffer has %zu",
                 method, what, layout->size, offset, length);
      return false;
    }
    *out = (uint8_t *)data + offset;
    if (is_js_memory) *is_js_memory = true;
    return true;
  }
  uint64_t address, at;
  if (!cffi_value_to_address(env, target, method, &address) ||
      !cffi_dereferenceable(env, address, (int64_t)offset, method, &at))
    return false;
  *out = (uint8_t *)(uintptr_t)at;
  if (is_js_memory) *is_js_memory = false;
  return true;
}

/* T.offsetof("field") or a dotted path through nested types ("pos.x"). */
static napi_value offsetof_entry(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  cffi_layout *layout;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&layout);
  char path[512], what[128];
  size_t len = 0;
  cffi_layout_describe(layout, what, sizeof what);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok)
    return cffi_throw(env, "TypeError", "%s.offsetof(field) expects a field name, received %s", what,
                      argc ? cffi_value_kind(env, argv[0]) : "nothing");
  uint64_t offset = 0;
  const cffi_layout *at = layout;
  for (char *part = path, *next; part; part = next) {
    next = strchr(part, '.');
    if (next) *next++ = 0;
    const cffi_field *found = NULL;
    if (at && at->kind == CFFI_LAYOUT_ARRAY) {
      char *end;
      unsigned long index = strtoul(part, &end, 10);
      if (*part && !*end && index < at->count) {
        offset += index * (uint64_t)field_size(&at->fields[0]);
        at = at->fields[0].layout;
        continue;
      }
    } else if (at) {
      for (uint32_t i = 0; i < at->count && !found; i++)
        if (strcmp(at->fields[i].name, part) == 0) found = &at->fields[i];
    }
    if (!found) return cffi_throw(env, "TypeError", "%s has no field \"%s\"", what, part);
    offset += found->offset;
    at = found->layout;
  }
  napi_create_uint32(env, (uint32_t)offset, &result);
  return result;
}

/* T.read(target, byteOffset?) -> a plain object (or array) copied from memory. */
static napi_value read_entry(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  cffi_layout *layout;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&layout);
  uint8_t *address;
  if (argc < 1) return cffi_throw(env, "TypeError", "read(target, byteOffset?) expects a buffer or pointer");
  if (!cffi_layout_memory(env, layout, argv[0], argv[1], "read", &address, NULL)) return NULL;
  return cffi_layout_to_js(env, layout, address);
}

/* T.write(target, value, byteOffset?): the value's bytes into memory. */
static napi_value write_entry(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  cffi_layout *layout;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&layout);
  uint8_t *address;
  if (argc < 2) return cffi_throw(env, "TypeError", "write(target, value, byteOffset?) expects a buffer or pointer and a value");
  if (!cffi_layout_memory(env, layout, argv[0], argv[2], "write", &address, NULL)) return NULL;
  /* Converted into a copy first: a bad field leaves the memory as it was. */
  uint8_t small[256];
  uint8_t *bytes = layout->size <= sizeof small ? small : malloc(layout->size);
  if (!bytes) return cffi_throw(env, "RangeError", "write: out of memory");
  cffi_call call;
  cffi_call_init(&call, env, "write");
  bool ok = cffi_layout_from_js(&call, layout, argv[1], bytes, "value");
  /* A JS string in a cstring field would dangle once write returns. */
  if (ok && call.scratch_used) {
    cffi_throw(env, "TypeError", "write: a cstring field needs a pointer here (a JS string lives only for a call)");
    ok = false;
  }
  cffi_call_release(&call);
  if (ok) memcpy(address, bytes, layout->size);
  if (bytes != small) free(bytes);
  return NULL;
}

/* T.view(target?, byteOffset?) -> an object whose properties read and
 * write the memory itself; without a target, over fresh zeroed memory. */
static napi_value view_entry(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL}, type_object;
  cffi_layout *layout;
  napi_get_cb_info(env, info, &argc, argv, &type_object, (void **)&layout);
  napi_valuetype t = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &t);
  uint8_t *address;
  napi_value keep = argc > 0 ? argv[0] : NULL;
  bool js_memory = true;
  if (t == napi_undefined) {
    void *data;
    if (napi_create_arraybuffer(env, layout->size, &data, &keep) != napi_ok) return NULL;
    memset(data, 0, layout->size);
    address = data;
  } else if (!cffi_layout_memory(env, layout, argv[0], argv[1], "view", &address, &js_memory)) {
    return NULL;
  }
  return cffi_layout_view(env, layout, address, js_memory ? keep : NULL);
}

static bool set_method(napi_env env, napi_value object, const char *name, napi_callback cb, cffi_layout *layout) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, layout, &fn) != napi_ok) return false;
  cffi_layout_retain(layout);
  if (napi_add_finalizer(cffi_finalizer_env(env), fn, layout, release_finalizer, NULL, NULL) != napi_ok) {
    cffi_layout_release(layout);
    return false;
  }
  return napi_set_named_property(env, object, name, fn) == napi_ok;
}

/* Takes over the caller's reference. */
static napi_value make_type_object(napi_env env, cffi_layout *layout) {
  napi_value object, value;
  if (napi_create_object(env, &object) != napi_ok) {
    cffi_layout_release(layout);
    return NULL;
  }
  if (napi_wrap(cffi_finalizer_env(env), object, layout, release_finalizer, NULL, NULL) != napi_ok) {
    cffi_layout_release(layout);
    return NULL;
  }
  napi_type_tag_object(env, object, &layout_tag);
  napi_create_string_utf8(env, kind_names[layout->kind], NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, object, "kind", value);
  if (layout->name) {
    napi_create_string_utf8(env, layout->name, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, object, "name", value);
  }
  napi_create_uint32(env, layout->size, &value);
  napi_set_named_property(env, object, "size", value);
  napi_create_uint32(env, layout->align, &value);
  napi_set_named_property(env, object, "align", value);
  if (layout->kind == CFFI_LAYOUT_ARRAY) {
    napi_create_uint32(env, layout->count, &value);
    napi_set_named_property(env, object, "length", value);
  }
  if (layout->kind <= CFFI_LAYOUT_UNION) {
    napi_create_array_with_length(env, layout->count, &value);
    for (uint32_t i = 0; i < layout->count; i++) {
      napi_value name;
      napi_create_string_utf8(env, layout->fields[i].name, NAPI_AUTO_LENGTH, &name);
      napi_set_element(env, value, i, name);
    }
    napi_object_freeze(env, value);
    napi_set_named_property(env, object, "fields", value);
  }
  if (layout->kind <= CFFI_LAYOUT_ARRAY &&
      (!set_method(env, object, "offsetof", offsetof_entry, layout) || !set_method(env, object, "read", read_entry, layout) ||
       !set_method(env, object, "write", write_entry, layout) || !set_method(env, object, "view", view_entry, layout)))
    return NULL;
  napi_object_freeze(env, object);
  return object;
}

/* ---- signatures --------------------------------------------------------- */

bool cffi_sig_add_layout(napi_env env, cffi_signature *sig, int arg, cffi_layout *layout, napi_value type_object,
                         const char *symbol, uint8_t *id) {
  char where[32], what[128];
  if (arg < 0) snprintf(where, sizeof where, "returns");
  else snprintf(where, sizeof where, "args[%d]", arg);
  cffi_layout_describe(layout, what, sizeof what);
  const char *problem = NULL;
  if (layout->kind == CFFI_LAYOUT_ARRAY)
    problem = "C passes no arrays by value: use \"ptr\" (or an array inside a struct)";
  else if (layout->kind >= CFFI_LAYOUT_OUT && arg < 0)
    problem = "out()/inout() are argument types; a function returning a pointer returns \"ptr\"";
  else if (layout->kind <= CFFI_LAYOUT_UNION && !layout->by_value)
    problem = "it cannot be passed by value here (on AArch64, an alignment above 8 in 16 bytes or less; anywhere, an "
              "alignment above 16; or a union or packed struct on a platform other than x86-64 and AArch64): pass a "
              "pointer to it instead (\"ptr\" with T.view() or a buffer written with T.write())";
  if (problem) {
    cffi_layout_release(layout);
    cffi_throw(env, "TypeError", "%s in %s of symbol \"%s\": %s", what, where, symbol, problem);
    return false;
  }
  if (!sig->layouts && !(sig->layouts = calloc(1, sizeof *sig->layouts))) {
    cffi_layout_release(layout);
    cffi_throw(env, "RangeError", "out of memory parsing \"%s\"", symbol);
    return false;
  }
  (void)type_object;
  if (arg < 0) sig->layouts->returns = layout;
  else sig->layouts->args[arg] = layout;
  *id = layout->kind >= CFFI_LAYOUT_OUT ? CFFI_OUT_POINTER : CFFI_STRUCT_VALUE;
  return true;
}

/* definition.returnsAs: "object" (the default), "view" or "bytes". */
bool cffi_sig_read_result_mode(napi_env env, cffi_signature *sig, napi_value definition, const char *symbol) {
  if (!sig->layouts || !sig->layouts->returns) return true;
  napi_value value;
  napi_valuetype t;
  if (napi_get_named_property(env, definition, "returnsAs", &value) != napi_ok || napi_typeof(env, value, &t) != napi_ok)
    return false;
  if (t == napi_undefined) return true;
  char mode[16] = "";
  if (t == napi_string) napi_get_value_string_utf8(env, value, mode, sizeof mode, NULL);
  if (strcmp(mode, "object") == 0) sig->layouts->result_mode = CFFI_RESULT_OBJECT;
  else if (strcmp(mode, "view") == 0) sig->layouts->result_mode = CFFI_RESULT_VIEW;
  else if (strcmp(mode, "bytes") == 0) sig->layouts->result_mode = CFFI_RESULT_BYTES;
  else {
    cffi_throw(env, "TypeError", "\"returnsAs\" of symbol \"%s\" must be \"object\", \"view\" or \"bytes\", received %s",
               symbol, t == napi_string ? "another string" : cffi_value_kind(env, value));
    return false;
  }
  return true;
}

/* Frees only (run from GC finalizers through cffi_function_discard). */
void cffi_sig_release_layouts(cffi_signature *sig) {
  if (!sig->layouts) return;
  cffi_layout_release(sig->layouts->returns);
  for (unsigned i = 0; i < CFFI_MAX_ARGS; i++) cffi_layout_release(sig->layouts->args[i]);
  free(sig->layouts);
  sig->layouts = NULL;
}

bool cffi_sig_copy_layouts(cffi_signature *to, const cffi_signature *from) {
  to->layouts = NULL;
  if (!from->layouts) return true;
  if (!(to->layouts = malloc(sizeof *to->layouts))) return false;
  *to->layouts = *from->layouts;
  if (to->layouts->returns) cffi_layout_retain(to->layouts->returns);
  for (unsigned i = 0; i < CFFI_MAX_ARGS; i++)
    if (to->layouts->args[i]) cffi_layout_retain(to->layouts->args[i]);
  return true;
}

void cffi_sig_ffi_types(cffi_signature *sig, ffi_type **returns) {
  if (!sig->layouts) return;
  for (unsigned i = 0; i < sig->nargs; i++)
    if (sig->args[i] == CFFI_STRUCT_VALUE) sig->ffi_args[i] = &sig->layouts->args[i]->ffi;
  if (sig->returns == CFFI_STRUCT_VALUE) *returns = &sig->layouts->returns->ffi;
}

/* ---- exports ------------------------------------------------------------ */

/* setStructConverter(fn): called once by lib/index.js. */
static napi_value set_converter_entry(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn;
  cffi_env_state *state;
  napi_valuetype t = napi_undefined;
  napi_get_cb_info(env, info, &argc, &fn, NULL, (void **)&state);
  if (argc) napi_typeof(env, fn, &t);
  if (t != napi_function) return cffi_throw(env, "TypeError", "setStructConverter expects a function");
  if (state->struct_converter) napi_delete_reference(env, state->struct_converter);
  napi_create_reference(env, fn, 1, &state->struct_converter);
  return NULL;
}

static void forget_names(void *data) {
  cffi_env_state *state = data;
  while (state->named_layouts) {
    struct cffi_named_layout *next = state->named_layouts->next;
    cffi_layout_release(state->named_layouts->layout);
    free(state->named_layouts);
    state->named_layouts = next;
  }
}

napi_value cffi_make_layout_exports(napi_env env, napi_value exports) {
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  napi_add_env_cleanup_hook(env, forget_names, state);
  cffi_set_function(env, exports, "struct", struct_entry, NULL);
  cffi_set_function(env, exports, "union", union_entry, NULL);
  cffi_set_function(env, exports, "array", array_entry, NULL);
  cffi_set_function(env, exports, "out", out_entry, NULL);
  cffi_set_function(env, exports, "inout", inout_entry, NULL);
  cffi_set_function(env, exports, "setStructConverter", set_converter_entry, state);
  return exports;
}
