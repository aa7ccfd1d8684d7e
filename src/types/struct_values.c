/*
 * struct_values.c - JS values <-> the bytes of a struct, union or array
 * (src/types/layout.c lays them out), and the conversions the call engine
 * needs for them: by-value struct arguments and results, out/inout
 * arguments copied back after the call, and zero-copy views.
 *
 * Scalars inside a layout go through the type table's own conversions
 * (cffi_types[id].to_c / to_js), so a field converts exactly as an
 * argument of its type does; only the messages differ: they name the field
 * ("args[0].pos.x expects f32 ...").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* Tags view objects (their memory is where .ptr says). */
static const napi_type_tag view_tag = {0x6366666962756e5fULL, 0x7669657730303031ULL};

typedef struct {
  cffi_layout *layout;
  uint8_t *address;
} view_data;

/* Where a value sits, for messages: "args[0]" then ".pos", "[2]", ...
 * Kept as a chain on the stack and formatted only when something is thrown. */
typedef struct where_t {
  const struct where_t *parent;
  const char *name; /* a field, or the root's text */
  int64_t index;    /* an array element when >= 0 */
} where_t;

static size_t where_format(const where_t *w, char *out, size_t len) {
  size_t used = w->parent ? where_format(w->parent, out, len) : 0;
  if (used >= len) return used;
  if (w->name) used += (size_t)snprintf(out + used, len - used, "%s%s", w->parent ? "." : "", w->name);
  if (w->index >= 0 && used < len) used += (size_t)snprintf(out + used, len - used, "[%lld]", (long long)w->index);
  return used;
}
static const char *where_text(const where_t *w, char *out, size_t len) {
  out[0] = 0;
  where_format(w, out, len);
  return out;
}
#define WHERE(w) where_text((w), (char[512]){0}, 512)

static uint32_t element_size(const cffi_field *f) {
  return f->layout ? f->layout->size : (uint32_t)cffi_types[f->scalar].ffi->size;
}

static bool view_of(napi_env env, napi_value value, view_data **out) {
  return (*out = cffi_unwrap_tagged(env, value, napi_object, &view_tag)) != NULL;
}

/* ---- JS -> bytes -------------------------------------------------------- */

static bool field_from_js(cffi_call *call, const cffi_field *f, napi_value value, uint8_t *dest, const where_t *w);

static bool scalar_from_js(cffi_call *call, uint8_t id, napi_value value, uint8_t *dest, const where_t *w) {
  uint64_t raw = 0;
  call->type = id;
  if (!cffi_types[id].to_c(call, value, &raw)) {
    napi_value ignored;
    napi_get_and_clear_last_exception(call->env, &ignored);
    cffi_throw(call->env, "TypeError", "%s: %s expects %s (%s), received %s", call->symbol, WHERE(w), cffi_types[id].name,
               cffi_types[id].accepts, cffi_value_kind(call->env, value));
    return false;
  }
  memcpy(dest, &raw, cffi_types[id].ffi->size); /* the image's low bytes: every target is little-endian */
  return true;
}

static bool typed_array_matches(napi_typedarray_type type, uint8_t scalar) {
  switch (scalar) {
    case CFFI_CHAR:
    case CFFI_I8: return type == napi_int8_array;
    case CFFI_U8: return type == napi_uint8_array || type == napi_uint8_clamped_array;
    case CFFI_I16: return type == napi_int16_array;
    case CFFI_U16: return type == napi_uint16_array;
    case CFFI_I32: return type == napi_int32_array;
    case CFFI_U32: return type == napi_uint32_array;
    case CFFI_F32: return type == napi_float32_array;
    case CFFI_F64: return type == napi_float64_array;
    case CFFI_I64: case CFFI_I64_FAST: return type == napi_bigint64_array;
    case CFFI_U64: case CFFI_U64_FAST: return type == napi_biguint64_array;
    default: return false;
  }
}

/* An array, TypedArray or (for char arrays) a string; shorter ones leave the rest zero. */
static bool array_from_js(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest,
                          const where_t *w) {
  napi_env env = call->env;
  const cffi_field *element = &layout->fields[0];
  const uint32_t size = element_size(element);
  napi_valuetype t;
  napi_typeof(env, value, &t);
  if (t == napi_string && !element->layout &&
      (element->scalar == CFFI_CHAR || element->scalar == CFFI_I8 || element->scalar == CFFI_U8)) {
    size_t full = 0;
    napi_get_value_string_utf8(env, value, NULL, 0, &full);
    if (full >= layout->count) {
      cffi_throw(env, "TypeError", "%s: %s is a char[%u]: the string's %zu UTF-8 bytes and its NUL do not fit",
                 call->symbol, WHERE(w), layout->count, full);
      return false;
    }
    napi_get_value_string_utf8(env, value, (char *)dest, layout->count, NULL);
    return true;
  }
  napi_typedarray_type type;
  size_t length = 0, received = 0;
  void *data;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) == napi_ok && !element->layout &&
      typed_array_matches(type, element->scalar)) {
    received = length;
    if (length > layout->count) goto too_long;
    if (length) memcpy(dest, data, length * size);
    return true;
  }
  bool is_array = false, is_typed = false;
  napi_is_array(env, value, &is_array);
  napi_is_typedarray(env, value, &is_typed);
  if (!is_array && !is_typed) {
    cffi_throw(env, "TypeError", "%s: %s expects an array of %u elements (an Array or TypedArray), received %s",
               call->symbol, WHERE(w), layout->count, cffi_value_kind(env, value));
    return false;
  }
  uint32_t count = 0;
  if (is_array) napi_get_array_length(env, value, &count);
  else count = (uint32_t)length;
  received = count;
  if (count > layout->count) goto too_long;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    const where_t inner = {w, NULL, i};
    if (napi_get_element(env, value, i, &item) != napi_ok) return false;
    napi_valuetype it;
    napi_typeof(env, item, &it);
    if (it == napi_undefined) continue;
    if (!field_from_js(call, element, item, dest + (size_t)i * size, &inner)) return false;
  }
  return true;
too_long:
  cffi_throw(env, "TypeError", "%s: %s holds %u elements, received %zu", call->symbol, WHERE(w), layout->count,
             received);
  return false;
}

/* ---- field names as JS strings ----------------------------------------
 *
 * Converting a struct reads each field by its name. Made into a JS string
 * once per layout (and held by references), a name costs a reference read
 * per use instead of a string's creation and internalisation. The keys
 * belong to the env that made them; a layout used in another env (none is
 * today: type objects do not cross workers) takes the general path. A
 * layout that lets go in a GC finalizer cannot delete references there:
 * its block goes to the env's dead list, emptied on the JS thread when the
 * next block is made and when the env ends. */
typedef struct cffi_layout_keys {
  struct cffi_layout_keys *next, *prev; /* the env's live list, or (next) its dead list */
  cffi_env_state *state;
  cffi_layout *layout;                  /* NULL once dead */
  uint32_t count;
  bool inherited;                       /* a field name Object.prototype has: reads must check own-ness */
  /* The literal reader (see literal_reader), or leaf_count 0: */
  uint32_t leaf_count;
  bool reading;                         /* its values are in use (a getter re-entering takes another path) */
  struct literal_leaf *leaves;
  double *values;                       /* the reader's Float64Array, and after it a Uint8Array of presence */
  uint8_t *present;
  napi_ref reader, maker;                /* read(object) -> 1 or 0; make() -> an object literal of the values */
  napi_ref refs[];                      /* count names, then an object with each name set to true */
} cffi_layout_keys;

static void delete_keys(napi_env env, cffi_layout_keys *keys) {
  for (uint32_t i = 0; i <= keys->count; i++)
    if (keys->refs[i]) napi_delete_reference(env, keys->refs[i]);
  if (keys->reader) napi_delete_reference(env, keys->reader);
  if (keys->maker) napi_delete_reference(env, keys->maker);
  free(keys->leaves);
  free(keys);
}

/* ---- the literal reader ------------------------------------------------
 *
 * A struct argument of number fields (nested structs included), given as
 * object literals, is the common case and the one worth making fast: for
 * such a layout a JS function is generated once per env that reads every
 * field by its name (JIT-compiled property reads, where Node-API pays a
 * lookup per field), checks each object (Object.prototype its prototype,
 * every own enumerable key a field, as many keys as fields found) and
 * stores the numbers into a Float64Array the layout owns, with a presence
 * byte per field. It converts nothing: C then reads the numbers and stores
 * them by the type table's rules. Any other value (a BigInt, a string, a
 * buffer or view where a nested struct goes, a getter's surprise) makes it
 * answer 0, and the general path below decides, with its messages. */
typedef struct literal_leaf {
  uint32_t offset;
  uint8_t scalar;
} literal_leaf;

#define READER_LEAVES_MAX 64
#define READER_OBJECTS_MAX 16

/* Number types whose conversion from a JS number is a plain C cast or
 * ToInt32, and the 64-bit integers, which also take a BigInt (its low 64
 * bits, as a BigInt64Array store keeps them and the general path wraps). */
static bool wide_leaf(uint8_t id) {
  return id == CFFI_I64 || id == CFFI_U64 || id == CFFI_I64_FAST || id == CFFI_U64_FAST;
}
static bool number_leaf(uint8_t id) {
  switch (id) {
    case CFFI_F32: case CFFI_F64: case CFFI_CHAR: case CFFI_I8: case CFFI_U8:
    case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32: return true;
    default: return wide_leaf(id);
  }
}

static bool reader_leaves(const cffi_layout *layout, uint32_t base, literal_leaf *leaves, uint32_t *count,
                          uint32_t *objects) {
  if (layout->kind != CFFI_LAYOUT_STRUCT || ++*objects > READER_OBJECTS_MAX) return false;
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i];
    if (f->layout) {
      if (!reader_leaves(f->layout, base + f->offset, leaves, count, objects)) return false;
    } else {
      if (!number_leaf(f->scalar) || *count == READER_LEAVES_MAX) return false;
      leaves[(*count)++] = (literal_leaf){base + f->offset, f->scalar};
    }
  }
  return true;
}

static void js_string(cffi_text *b, const char *s) {
  cffi_text_append(b, "\"");
  for (; *s; s++) {
    const unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') cffi_text_append(b, "\\%c", c);
    else if (c < 0x20) cffi_text_append(b, "\\u%04x", c);
    else cffi_text_append(b, "%c", c);
  }
  cffi_text_append(b, "\"");
}

/* The statements reading object o<depth> of `layout`; leaf numbering
 * follows reader_leaves. Clears the presence of every leaf under an absent field. */
static void emit_reader(cffi_text *b, const cffi_layout *layout, unsigned depth, uint32_t *leaf) {
  cffi_text_append(b, "{ if (P(o%u) !== OP) return 0; let n%u = 0, v;\n", depth, depth);
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i];
    cffi_text_append(b, "v = o%u[", depth);
    js_string(b, f->name);
    cffi_text_append(b, "];\n");
    if (!f->layout && wide_leaf(f->scalar)) {
      /* h: 1 a number in x, 2 a BigInt's low 64 bits in the same 8 bytes (b). */
      cffi_text_append(b, "if (v === undefined) h[%u] = 0; else if (typeof v === \"bigint\") { b[%u] = v; h[%u] = 2; n%u++; } "
                          "else if (typeof v === \"number\") { x[%u] = v; h[%u] = 1; n%u++; } else return 0;\n",
                       *leaf, *leaf, *leaf, depth, *leaf, *leaf, depth);
      ++*leaf;
      continue;
    }
    if (!f->layout) {
      cffi_text_append(b, "if (v === undefined) h[%u] = 0; else if (typeof v === \"number\") { x[%u] = v; h[%u] = 1; n%u++; } else return 0;\n",
                       *leaf, *leaf, *leaf, depth);
      ++*leaf;
      continue;
    }
    const uint32_t first = *leaf;
    cffi_text_append(b, "if (v !== undefined) { if (typeof v !== \"object\" || v === null) return 0; n%u++; const o%u = v;\n", depth,
                     depth + 1);
    emit_reader(b, f->layout, depth + 1, leaf);
    cffi_text_append(b, "} else { h.fill(0, %u, %u); }\n", first, *leaf);
  }
  cffi_text_append(b, "const k%u = K(o%u); if (k%u.length !== n%u) return 0;\nfor (let i = 0; i < k%u.length; i++) { const k = k%u[i]; if (",
                   depth, depth, depth, depth, depth, depth);
  for (uint32_t i = 0; i < layout->count; i++) {
    cffi_text_append(b, "%sk !== ", i ? " && " : "");
    js_string(b, layout->fields[i].name);
  }
  cffi_text_append(b, ") return 0; } }\n");
}

/* An object literal of the layout's fields from x[] (results: see aggregate_to_js). */
static void emit_maker(cffi_text *b, const cffi_layout *layout, uint32_t *leaf) {
  cffi_text_append(b, "{");
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i];
    cffi_text_append(b, "%s", i ? ", " : " ");
    /* A literal's "__proto__": sets the prototype; a computed key defines the field. */
    const bool proto = strcmp(f->name, "__proto__") == 0;
    cffi_text_append(b, proto ? "[" : "");
    js_string(b, f->name);
    cffi_text_append(b, proto ? "]: " : ": ");
    if (f->layout) emit_maker(b, f->layout, leaf);
    /* i64/u64 are BigInts (b, u: the 8 bytes as signed or unsigned); the
     * _fast ones a number when C found them safe (h 1), else a BigInt. */
    else if (f->scalar == CFFI_I64) cffi_text_append(b, "b[%u]", (*leaf)++);
    else if (f->scalar == CFFI_U64) cffi_text_append(b, "u[%u]", (*leaf)++);
    else if (wide_leaf(f->scalar)) {
      cffi_text_append(b, "(h[%u] === 1 ? x[%u] : %s[%u])", *leaf, *leaf, f->scalar == CFFI_I64_FAST ? "b" : "u", *leaf);
      ++*leaf;
    }
    else cffi_text_append(b, "x[%u]", (*leaf)++);
  }
  cffi_text_append(b, " }");
}

/* Builds keys->reader for a layout it suits (else leaves leaf_count 0). */
static void make_reader(napi_env env, cffi_env_state *state, const cffi_layout *layout, cffi_layout_keys *keys) {
  literal_leaf leaves[READER_LEAVES_MAX];
  uint32_t count = 0, objects = 0, leaf = 0;
  if (keys->inherited || !state->object_keys || !reader_leaves(layout, 0, leaves, &count, &objects) || count == 0) return;
  cffi_text b = {0};
  cffi_text_append(&b, "((K, P, OP, x, h, b, u) => [function read(o0) {\n");
  emit_reader(&b, layout, 0, &leaf);
  cffi_text_append(&b, "return 1; },\nfunction make() { return ");
  leaf = 0;
  emit_maker(&b, layout, &leaf);
  cffi_text_append(&b, "; }])");
  napi_value script, factory, args[7], global, object_ctor, buffer, pair, reader, maker;
  void *data;
  bool ok = !b.failed && (keys->leaves = malloc(count * sizeof *keys->leaves)) &&
            napi_create_string_utf8(env, b.text, b.length, &script) == napi_ok && napi_run_script(env, script, &factory) == napi_ok &&
            napi_get_reference_value(env, state->object_keys, &args[0]) == napi_ok && napi_get_global(env, &global) == napi_ok &&
            napi_get_named_property(env, global, "Object", &object_ctor) == napi_ok &&
            napi_get_named_property(env, object_ctor, "getPrototypeOf", &args[1]) == napi_ok &&
            napi_get_reference_value(env, state->object_prototype, &args[2]) == napi_ok &&
            napi_create_arraybuffer(env, count * 9, &data, &buffer) == napi_ok &&
            napi_create_typedarray(env, napi_float64_array, count, buffer, 0, &args[3]) == napi_ok &&
            napi_create_typedarray(env, napi_uint8_array, count, buffer, count * 8, &args[4]) == napi_ok &&
            napi_create_typedarray(env, napi_bigint64_array, count, buffer, 0, &args[5]) == napi_ok &&
            napi_create_typedarray(env, napi_biguint64_array, count, buffer, 0, &args[6]) == napi_ok &&
            napi_call_function(env, global, factory, 7, args, &pair) == napi_ok &&
            napi_get_element(env, pair, 0, &reader) == napi_ok && napi_get_element(env, pair, 1, &maker) == napi_ok &&
            napi_create_reference(env, reader, 1, &keys->reader) == napi_ok &&
            napi_create_reference(env, maker, 1, &keys->maker) == napi_ok;
  free(b.text);
  if (!ok) {
    napi_get_and_clear_last_exception(env, &script);
    free(keys->leaves);
    keys->leaves = NULL;
    return;
  }
  memcpy(keys->leaves, leaves, count * sizeof *leaves);
  keys->values = data;
  keys->present = (uint8_t *)data + count * 8;
  keys->leaf_count = count;
}

/* JS's ToInt32, as napi_get_value_int32 gives it (the general path's). */
static uint32_t number_to_int32(double d) {
  if (!(d == d) || d - d != 0) return 0; /* NaN, infinities */
  double m = fmod(trunc(d), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (uint32_t)m;
}

/* 1: converted; 0: an exception is pending; -1: not for the reader. */
static int read_by_reader(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest) {
  cffi_layout_keys *keys = layout->keys;
  if (!keys->leaf_count || keys->reading) return -1;
  napi_env env = call->env;
  napi_value reader, undefined, answer;
  int32_t fits = 0;
  if (napi_get_reference_value(env, keys->reader, &reader) != napi_ok) return -1;
  napi_get_undefined(env, &undefined);
  keys->reading = true;
  const napi_status status = napi_call_function(env, undefined, reader, 1, &value, &answer);
  keys->reading = false;
  if (status != napi_ok) return 0;
  if (napi_get_value_int32(env, answer, &fits) != napi_ok || !fits) return -1;
  for (uint32_t i = 0; i < keys->leaf_count; i++) {
    if (!keys->present[i]) continue;
    const double d = keys->values[i];
    uint8_t *at = dest + keys->leaves[i].offset;
    uint32_t word;
    switch (keys->leaves[i].scalar) {
      case CFFI_F64: memcpy(at, &d, 8); break;
      case CFFI_F32: {
        const float f = (float)d;
        memcpy(at, &f, 4);
        break;
      }
      case CFFI_I32: case CFFI_U32: word = number_to_int32(d); memcpy(at, &word, 4); break;
      case CFFI_I16: case CFFI_U16: word = number_to_int32(d); memcpy(at, &word, 2); break;
      case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: {
        /* A BigInt's bits as they are; a number wrapped as the general path wraps it. */
        uint64_t bits;
        if (keys->present[i] == 2) memcpy(&bits, &keys->values[i], 8);
        else bits = cffi_number_to_u64(d);
        memcpy(at, &bits, 8);
        break;
      }
      default: *at = (uint8_t)number_to_int32(d); break;
    }
  }
  return 1;
}

static void empty_dead_keys(napi_env env, cffi_env_state *state) {
  cffi_layout_keys *keys = state->dead_layout_keys;
  state->dead_layout_keys = NULL;
  while (keys) {
    cffi_layout_keys *next = keys->next;
    delete_keys(env, keys);
    keys = next;
  }
}

void cffi_layout_keys_forget(cffi_layout *layout) {
  cffi_layout_keys *keys = layout->keys;
  cffi_env_state *state = keys->state;
  layout->keys = NULL;
  if (keys->prev) keys->prev->next = keys->next;
  else state->layout_keys = keys->next;
  if (keys->next) keys->next->prev = keys->prev;
  keys->layout = NULL;
  keys->prev = NULL;
  keys->next = state->dead_layout_keys;
  state->dead_layout_keys = keys;
}

/* The env's end (a cleanup hook, while its references can still be deleted):
 * layouts that outlive it (kept by callbacks C may still call) lose their keys. */
static void forget_all_keys(void *data) {
  cffi_env_state *state = data;
  state->keys_closed = true;
  while (state->layout_keys) {
    cffi_layout_keys *keys = state->layout_keys;
    state->layout_keys = keys->next;
    keys->layout->keys = NULL;
    delete_keys(state->env, keys);
  }
  empty_dead_keys(state->env, state);
}

static const cffi_layout_keys *make_keys(napi_env env, cffi_layout *layout) {
  cffi_env_state *state = NULL;
  napi_value proto = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || !state || state->keys_closed || !state->object_prototype ||
      napi_get_reference_value(env, state->object_prototype, &proto) != napi_ok)
    return NULL;
  empty_dead_keys(env, state);
  cffi_layout_keys *keys = calloc(1, sizeof *keys + (layout->count + 1) * sizeof(napi_ref));
  napi_value names, yes;
  if (!keys) return NULL;
  keys->state = state;
  keys->layout = layout;
  keys->count = layout->count;
  if (napi_create_object(env, &names) != napi_ok || napi_get_boolean(env, true, &yes) != napi_ok ||
      napi_create_reference(env, names, 1, &keys->refs[layout->count]) != napi_ok) {
    delete_keys(env, keys);
    return NULL;
  }
  for (uint32_t i = 0; i < layout->count; i++) {
    napi_value key;
    bool has = false;
    if (napi_create_string_utf8(env, layout->fields[i].name, NAPI_AUTO_LENGTH, &key) != napi_ok ||
        napi_has_property(env, proto, key, &has) != napi_ok || napi_set_property(env, names, key, yes) != napi_ok ||
        napi_create_reference(env, key, 1, &keys->refs[i]) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      delete_keys(env, keys);
      return NULL;
    }
    if (has) keys->inherited = true; /* "constructor", "toString", ... */
  }
  make_reader(env, state, layout, keys);
  keys->next = state->layout_keys;
  if (keys->next) keys->next->prev = keys;
  state->layout_keys = keys;
  layout->keys = keys;
  return keys;
}

static inline const cffi_layout_keys *layout_keys(napi_env env, const cffi_layout *layout) {
  const cffi_layout_keys *keys = layout->keys;
  if (CFFI_LIKELY(keys != NULL)) return keys->state->env == env ? keys : NULL;
  return make_keys(env, (cffi_layout *)layout);
}

/* Object.keys and Object.prototype as they were when the addon loaded (a
 * program that replaces them later does not change what a struct
 * argument's fields are). */
void cffi_struct_values_init(napi_env env, cffi_env_state *state) {
  napi_value global, object_ctor, keys_fn, proto;
  if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "Object", &object_ctor) != napi_ok ||
      napi_get_named_property(env, object_ctor, "keys", &keys_fn) != napi_ok ||
      napi_create_reference(env, keys_fn, 1, &state->object_keys) != napi_ok) {
    napi_get_and_clear_last_exception(env, &global);
    state->object_keys = NULL;
  }
  if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "Object", &object_ctor) != napi_ok ||
      napi_get_named_property(env, object_ctor, "prototype", &proto) != napi_ok ||
      napi_create_reference(env, proto, 1, &state->object_prototype) != napi_ok) {
    napi_get_and_clear_last_exception(env, &global);
    state->object_prototype = NULL;
  }
  static const char counter_source[] =
      "((keys, prototypeOf, objectPrototype) => function ownFieldCount() {\n"
      "  let total = 0;\n"
      "  for (let i = 0; i < arguments.length; i += 2) {\n"
      "    const names = arguments[i], object = arguments[i + 1];\n"
      "    if (prototypeOf(object) !== objectPrototype) return -1;\n"
      "    const own = keys(object);\n"
      "    for (let k = 0; k < own.length; k++) if (names[own[k]] !== true) return -1;\n"
      "    total += own.length;\n"
      "  }\n"
      "  return total;\n"
      "})";
  napi_value script, factory, args[3], counter;
  state->own_field_count = NULL;
  if (state->object_keys && state->object_prototype &&
      napi_create_string_utf8(env, counter_source, NAPI_AUTO_LENGTH, &script) == napi_ok &&
      napi_run_script(env, script, &factory) == napi_ok &&
      napi_get_reference_value(env, state->object_keys, &args[0]) == napi_ok &&
      napi_get_named_property(env, object_ctor, "getPrototypeOf", &args[1]) == napi_ok &&
      napi_get_reference_value(env, state->object_prototype, &args[2]) == napi_ok &&
      napi_call_function(env, global, factory, 3, args, &counter) == napi_ok)
    napi_create_reference(env, counter, 1, &state->own_field_count);
  else
    napi_get_and_clear_last_exception(env, &script);
  napi_add_env_cleanup_hook(env, forget_all_keys, state);
}

/* An object's own enumerable string keys, numbers as strings (getters and
 * Proxy traps run alike either way), through Object.keys: V8 answers that
 * from the object's enum cache, where napi_get_all_property_names collects
 * them afresh into a hash set each time (a third of a small struct's cost). */
static bool own_keys(napi_env env, napi_value object, napi_value *keys) {
  cffi_env_state *state = NULL;
  napi_value keys_fn = NULL;
  if (napi_get_instance_data(env, (void **)&state) == napi_ok && state && state->object_keys &&
      napi_get_reference_value(env, state->object_keys, &keys_fn) == napi_ok && keys_fn)
    return napi_call_function(env, object, keys_fn, 1, &object, keys) == napi_ok;
  return napi_get_all_property_names(env, object, napi_key_own_only, napi_key_enumerable | napi_key_skip_symbols,
                                     napi_key_numbers_to_strings, keys) == napi_ok;
}

static const cffi_field *find_field(const cffi_layout *layout, const char *name) {
  for (uint32_t i = 0; i < layout->count; i++)
    if (strcmp(layout->fields[i].name, name) == 0) return &layout->fields[i];
  return NULL;
}

/* Most struct values are object literals: their fields, nested ones
 * included, are read by their cached names (one lookup each), then one JS
 * call checks every object read at once: own_field_count(names, object,
 * ...) is the sum of their own enumerable key counts (Object.keys, as at
 * load), or -1 when one's prototype is not Object.prototype or one of its
 * keys is not a field. Every key a field and the sum equal to the fields
 * found: the fields found are the own keys, read as the general path
 * below reads them (Object.prototype has none of the names: make_keys
 * checked), and only then are the values converted. Anything
 * else (another prototype, an unknown or undefined-valued key, two union
 * members, a value that does not convert) goes to the general path, which
 * decides again and names what is wrong. 1: converted; 0: an exception is
 * pending; -1: the general path's turn. */
#define LITERAL_OBJECTS_MAX 16
#define LITERAL_LEAVES_MAX 64

typedef struct {
  napi_value objects[2 * LITERAL_OBJECTS_MAX]; /* (field names, object) pairs */
  uint32_t object_count, present, leaf_count;
  struct {
    const cffi_field *field;
    napi_value value;
    uint8_t *dest;
  } leaves[LITERAL_LEAVES_MAX];
} literal_reads;

static bool is_plain_object(napi_env env, napi_value value) {
  napi_valuetype t;
  bool is_array = false;
  void *data;
  size_t length;
  return napi_typeof(env, value, &t) == napi_ok && t == napi_object && napi_is_array(env, value, &is_array) == napi_ok &&
         !is_array && !cffi_plain_view_info(env, value, &data, &length);
}

static int read_literal(napi_env env, const cffi_layout *layout, napi_value value, uint8_t *dest, literal_reads *reads) {
  const cffi_layout_keys *keys = layout_keys(env, layout);
  if (!keys || keys->inherited || reads->object_count == 2 * LITERAL_OBJECTS_MAX) return -1;
  if (napi_get_reference_value(env, keys->refs[layout->count], &reads->objects[reads->object_count]) != napi_ok) return -1;
  reads->objects[reads->object_count + 1] = value;
  reads->object_count += 2;
  uint32_t found = 0;
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i];
    napi_value key, item;
    napi_valuetype t;
    if (napi_get_reference_value(env, keys->refs[i], &key) != napi_ok || napi_get_property(env, value, key, &item) != napi_ok ||
        napi_typeof(env, item, &t) != napi_ok)
      return 0;
    if (t == napi_undefined) continue;
    found++;
    if (f->layout && f->layout->kind <= CFFI_LAYOUT_UNION && t == napi_object && is_plain_object(env, item)) {
      const int nested = read_literal(env, f->layout, item, dest + f->offset, reads);
      if (nested <= 0) return nested;
      continue;
    }
    if (reads->leaf_count == LITERAL_LEAVES_MAX) return -1;
    reads->leaves[reads->leaf_count].field = f;
    reads->leaves[reads->leaf_count].value = item;
    reads->leaves[reads->leaf_count++].dest = dest + f->offset;
  }
  if (layout->kind == CFFI_LAYOUT_UNION && found > 1) return -1;
  reads->present += found;
  return 1;
}

static int literal_from_js(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest) {
  napi_env env = call->env;
  if (!layout_keys(env, layout)) return -1;
  const int by_reader = read_by_reader(call, layout, value, dest);
  if (by_reader >= 0) return by_reader;
  cffi_env_state *state = layout->keys->state;
  literal_reads reads;
  napi_value counter, undefined, answer;
  int32_t own = -1;
  reads.object_count = reads.present = reads.leaf_count = 0;
  const int read = read_literal(env, layout, value, dest, &reads);
  if (read <= 0) return read;
  if (!state) napi_get_instance_data(env, (void **)&state);
  if (!state || !state->own_field_count || napi_get_reference_value(env, state->own_field_count, &counter) != napi_ok)
    return -1;
  napi_get_undefined(env, &undefined);
  if (napi_call_function(env, undefined, counter, reads.object_count, reads.objects, &answer) != napi_ok) return 0;
  if (napi_get_value_int32(env, answer, &own) != napi_ok || own < 0 || (uint32_t)own != reads.present) return -1;
  static const where_t nowhere = {NULL, "value", -1};
  for (uint32_t i = 0; i < reads.leaf_count; i++) {
    if (!field_from_js(call, reads.leaves[i].field, reads.leaves[i].value, reads.leaves[i].dest, &nowhere)) {
      /* The general path converts it again, with the message that names it. */
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      memset(dest, 0, layout->size);
      return -1;
    }
  }
  return 1;
}

/* A plain object's own enumerable properties, each a field; a missing field
 * stays zero, an unknown one is a TypeError. A union takes one member. A
 * buffer of exactly the type's size is copied as bytes. A view is an object
 * whose fields are its own accessors, so it converts like any other (not
 * told apart first: that check cost more than a small struct's fields). */
static bool aggregate_from_js(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest,
                              const where_t *w) {
  napi_env env = call->env;
  char what[128];
  void *data;
  size_t length;
  if (cffi_plain_view_info(env, value, &data, &length)) {
    if (length != layout->size || (!data && length)) {
      cffi_layout_describe(layout, what, sizeof what);
      cffi_throw(env, "TypeError", "%s: %s expects %s: a buffer must hold exactly its %u bytes, received %zu%s",
                 call->symbol, WHERE(w), what, layout->size, length, data || !length ? "" : " (detached)");
      return false;
    }
    memcpy(dest, data, length);
    return true;
  }
  napi_valuetype t;
  bool is_array = false;
  napi_typeof(env, value, &t);
  napi_is_array(env, value, &is_array);
  if (t != napi_object || is_array) {
    cffi_layout_describe(layout, what, sizeof what);
    cffi_throw(env, "TypeError", "%s: %s expects %s (an object with its fields, a view or a %u-byte buffer), received %s",
               call->symbol, WHERE(w), what, layout->size, cffi_value_kind(env, value));
    return false;
  }
  /* Getters and Proxy traps are user JS (see cffi_call_before_js). */
  cffi_call_before_js(call);
  const int literal = literal_from_js(call, layout, value, dest);
  if (literal >= 0) return literal;
  napi_value keys;
  uint32_t count;
  if (!own_keys(env, value, &keys) || napi_get_array_length(env, keys, &count) != napi_ok)
    return false;
  const cffi_field *chosen = NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value key, item;
    char name[256];
    size_t len;
    if (napi_get_element(env, keys, i, &key) != napi_ok ||
        napi_get_value_string_utf8(env, key, name, sizeof name, &len) != napi_ok)
      return false;
    const cffi_field *f = len < sizeof name - 1 ? find_field(layout, name) : NULL;
    if (!f) {
      cffi_layout_describe(layout, what, sizeof what);
      cffi_throw(env, "TypeError", "%s: %s has an unknown field \"%s\" (%s has: %s%s)", call->symbol, WHERE(w), name, what,
                 layout->fields[0].name, layout->count > 1 ? ", ..." : "");
      return false;
    }
    if (napi_get_property(env, value, key, &item) != napi_ok) return false;
    napi_valuetype it;
    napi_typeof(env, item, &it);
    if (it == napi_undefined) continue;
    if (layout->kind == CFFI_LAYOUT_UNION) {
      if (chosen) {
        cffi_layout_describe(layout, what, sizeof what);
        cffi_throw(env, "TypeError", "%s: %s is a union: set one member, received \"%s\" and \"%s\"", call->symbol,
                   WHERE(w), chosen->name, f->name);
        return false;
      }
      chosen = f;
    }
    const where_t inner = {w, f->name, -1};
    if (!field_from_js(call, f, item, dest + f->offset, &inner)) return false;
  }
  return true;
}

static bool field_from_js(cffi_call *call, const cffi_field *f, napi_value value, uint8_t *dest, const where_t *w) {
  if (!f->layout) return scalar_from_js(call, f->scalar, value, dest, w);
  if (f->layout->kind == CFFI_LAYOUT_ARRAY) {
    memset(dest, 0, f->layout->size);
    return array_from_js(call, f->layout, value, dest, w);
  }
  memset(dest, 0, f->layout->size);
  return aggregate_from_js(call, f->layout, value, dest, w);
}

bool cffi_layout_from_js(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest,
                         const char *where) {
  cffi_field whole = {.layout = (cffi_layout *)layout};
  const where_t root = {NULL, where, -1};
  return field_from_js(call, &whole, value, dest, &root);
}

/* ---- bytes -> JS -------------------------------------------------------- */

static napi_value scalar_to_js(napi_env env, uint8_t id, const uint8_t *src) {
  uint64_t raw = 0;
  memcpy(&raw, src, cffi_types[id].ffi->size);
  /* Images of signed types are sign-extended, as C would pass them. */
  switch (id) {
    case CFFI_CHAR: case CFFI_I8: raw = (uint64_t)(int64_t)(int8_t)raw; break;
    case CFFI_I16: raw = (uint64_t)(int64_t)(int16_t)raw; break;
    case CFFI_I32: raw = (uint64_t)(int64_t)(int32_t)raw; break;
    default: break;
  }
  return cffi_types[id].to_js(env, raw);
}

static bool typed_array_type(uint8_t scalar, napi_typedarray_type *out) {
  static const int8_t types[CFFI_TYPE_COUNT] = {
      [CFFI_CHAR] = napi_int8_array + 1,     [CFFI_I8] = napi_int8_array + 1,      [CFFI_U8] = napi_uint8_array + 1,
      [CFFI_I16] = napi_int16_array + 1,     [CFFI_U16] = napi_uint16_array + 1,   [CFFI_I32] = napi_int32_array + 1,
      [CFFI_U32] = napi_uint32_array + 1,    [CFFI_F32] = napi_float32_array + 1,  [CFFI_F64] = napi_float64_array + 1,
      [CFFI_I64] = napi_bigint64_array + 1,  [CFFI_U64] = napi_biguint64_array + 1,
      [CFFI_I64_FAST] = napi_bigint64_array + 1, [CFFI_U64_FAST] = napi_biguint64_array + 1,
  };
  if (scalar >= CFFI_TYPE_COUNT || !types[scalar]) return false;
  *out = (napi_typedarray_type)(types[scalar] - 1);
  return true;
}

static napi_value field_to_js(napi_env env, const cffi_field *f, const uint8_t *src);

/* Numeric elements as a TypedArray holding a copy; others as an Array. */
static napi_value array_to_js(napi_env env, const cffi_layout *layout, const uint8_t *src) {
  const cffi_field *element = &layout->fields[0];
  napi_typedarray_type type;
  napi_value result, buffer;
  if (!element->layout && typed_array_type(element->scalar, &type)) {
    void *data;
    if (napi_create_arraybuffer(env, layout->size, &data, &buffer) != napi_ok ||
        napi_create_typedarray(env, type, layout->count, buffer, 0, &result) != napi_ok)
      return NULL;
    memcpy(data, src, layout->size);
    return result;
  }
  const uint32_t size = element_size(element);
  if (napi_create_array_with_length(env, layout->count, &result) != napi_ok) return NULL;
  for (uint32_t i = 0; i < layout->count; i++) {
    napi_value item = field_to_js(env, element, src + (size_t)i * size);
    if (!item || napi_set_element(env, result, i, item) != napi_ok) return NULL;
  }
  return result;
}

/* Every field; for a union, every member read from the same bytes. */
/* A struct of number fields: its numbers into the reader's array, and the
 * generated make() builds the objects as a literal does (V8 does that in a
 * fraction of the per-property Node-API calls). */
static napi_value made_by_maker(napi_env env, cffi_layout_keys *keys, const uint8_t *src) {
  napi_value maker, undefined, result;
  for (uint32_t i = 0; i < keys->leaf_count; i++) {
    const uint8_t *at = src + keys->leaves[i].offset;
    double d;
    switch (keys->leaves[i].scalar) {
      case CFFI_F64: memcpy(&d, at, 8); break;
      case CFFI_F32: { float f; memcpy(&f, at, 4); d = f; break; }
      case CFFI_I32: { int32_t v; memcpy(&v, at, 4); d = v; break; }
      case CFFI_U32: { uint32_t v; memcpy(&v, at, 4); d = v; break; }
      case CFFI_I16: { int16_t v; memcpy(&v, at, 2); d = v; break; }
      case CFFI_U16: { uint16_t v; memcpy(&v, at, 2); d = v; break; }
      case CFFI_U8: d = *at; break;
      case CFFI_I64: case CFFI_U64: memcpy(&keys->values[i], at, 8); continue; /* read as BigInts by make() */
      case CFFI_I64_FAST: case CFFI_U64_FAST: {
        /* A number when it is a safe integer (as to_js_*_fast decide), else the bits for a BigInt. */
        uint64_t bits;
        memcpy(&bits, at, 8);
        const bool safe = keys->leaves[i].scalar == CFFI_I64_FAST
                              ? (int64_t)bits >= -(int64_t)9007199254740991 && (int64_t)bits <= (int64_t)9007199254740991
                              : bits <= 9007199254740991u;
        keys->present[i] = safe ? 1 : 2;
        if (safe) keys->values[i] = keys->leaves[i].scalar == CFFI_I64_FAST ? (double)(int64_t)bits : (double)bits;
        else memcpy(&keys->values[i], &bits, 8);
        continue;
      }
      default: d = (int8_t)*at; break; /* i8, char */
    }
    keys->values[i] = d;
  }
  if (napi_get_reference_value(env, keys->maker, &maker) != napi_ok || napi_get_undefined(env, &undefined) != napi_ok ||
      napi_call_function(env, undefined, maker, 0, NULL, &result) != napi_ok)
    return NULL;
  return result;
}

/* A field named __proto__ is an own property like any other: assigning it
 * would set the object's prototype instead (and drop a number). */
static bool is_proto_name(const char *name) { return name[0] == '_' && strcmp(name, "__proto__") == 0; }

static bool define_own(napi_env env, napi_value object, const char *name, napi_value value) {
  const napi_property_descriptor own = {name, NULL, NULL, NULL, NULL, value, napi_default_jsproperty, NULL};
  return napi_define_properties(env, object, 1, &own) == napi_ok;
}

static napi_value aggregate_to_js(napi_env env, const cffi_layout *layout, const uint8_t *src) {
  cffi_layout_keys *keys = (cffi_layout_keys *)layout_keys(env, layout);
  /* Not while a reader's values are in use (a getter that gets a struct of this type). */
  if (keys && keys->leaf_count && !keys->reading) return made_by_maker(env, keys, src);
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  for (uint32_t i = 0; i < layout->count; i++) {
    const cffi_field *f = &layout->fields[i];
    napi_value item = field_to_js(env, f, src + f->offset), key;
    if (!item) return NULL;
    if (CFFI_UNLIKELY(is_proto_name(f->name))) {
      if (!define_own(env, result, f->name, item)) return NULL;
    } else if (keys && napi_get_reference_value(env, keys->refs[i], &key) == napi_ok) {
      if (napi_set_property(env, result, key, item) != napi_ok) return NULL;
    } else if (napi_set_named_property(env, result, f->name, item) != napi_ok) {
      return NULL;
    }
  }
  return result;
}

static napi_value field_to_js(napi_env env, const cffi_field *f, const uint8_t *src) {
  if (!f->layout) return scalar_to_js(env, f->scalar, src);
  if (f->layout->kind == CFFI_LAYOUT_ARRAY) return array_to_js(env, f->layout, src);
  return aggregate_to_js(env, f->layout, src);
}

napi_value cffi_layout_to_js(napi_env env, const cffi_layout *layout, const uint8_t *src) {
  cffi_field whole = {.layout = (cffi_layout *)layout};
  return field_to_js(env, &whole, src);
}

/* ---- views -------------------------------------------------------------- */

static void free_view(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  view_data *view = data;
  cffi_layout_release(view->layout);
  free(view);
}

/* The view a getter or setter was called on, and the field it stands for. */
static bool accessor_target(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                            napi_value *self, view_data **view, const cffi_field **field) {
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, self, &data) != napi_ok) return false;
  *field = data;
  if (!view_of(env, *self, view)) {
    cffi_throw(env, "TypeError", "a struct view's accessor was called on something that is not a view");
    return false;
  }
  return true;
}

/* The ArrayBuffer under a view's memory and the offset of `address` in it,
 * when that memory is JS memory (so a TypedArray can share it). */
static bool shared_buffer_of(napi_env env, napi_value keep, const uint8_t *address, napi_value *buffer,
                             size_t *offset) {
  void *data;
  size_t length;
  bool is = false;
  if (!keep) return false;
  *buffer = keep;
  if (napi_is_typedarray(env, keep, &is) == napi_ok && is) {
    size_t byte_offset;
    if (napi_get_typedarray_info(env, keep, NULL, NULL, NULL, buffer, &byte_offset) != napi_ok) return false;
  } else if (napi_is_dataview(env, keep, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, keep, NULL, NULL, buffer, NULL) != napi_ok) return false;
  }
  if (napi_get_arraybuffer_info(env, *buffer, &data, &length) != napi_ok) return false;
  if (address < (uint8_t *)data || address > (uint8_t *)data + length) return false;
  *offset = (size_t)(address - (uint8_t *)data);
  return true;
}

static napi_value field_view(napi_env env, const cffi_field *f, uint8_t *address, napi_value keep);

/* A numeric array over JS memory: a TypedArray sharing it. An array of
 * structs: an Array of their views. Anything else: a copy. */
static napi_value array_view(napi_env env, cffi_layout *layout, uint8_t *address, napi_value keep) {
  const cffi_field *element = &layout->fields[0];
  napi_typedarray_type type;
  napi_value buffer, result;
  size_t offset;
  if (!element->layout && typed_array_type(element->scalar, &type)) {
    if (shared_buffer_of(env, keep, address, &buffer, &offset) && offset % element_size(element) == 0 &&
        napi_create_typedarray(env, type, layout->count, buffer, offset, &result) == napi_ok)
      return result;
    return array_to_js(env, layout, address);
  }
  if (!element->layout) return array_to_js(env, layout, address);
  if (napi_create_array_with_length(env, layout->count, &result) != napi_ok) return NULL;
  for (uint32_t i = 0; i < layout->count; i++) {
    napi_value item = field_view(env, element, address + (size_t)i * element->layout->size, keep);
    if (!item || napi_set_element(env, result, i, item) != napi_ok) return NULL;
  }
  return result;
}

static napi_value field_view(napi_env env, const cffi_field *f, uint8_t *address, napi_value keep) {
  if (!f->layout) return scalar_to_js(env, f->scalar, address);
  if (f->layout->kind == CFFI_LAYOUT_ARRAY) return array_view(env, f->layout, address, keep);
  return cffi_layout_view(env, f->layout, address, keep);
}

/* A view over JS memory keeps only the address it was made on: a transfer
 * of its ArrayBuffer (postMessage, structuredClone, buffer.transfer()) hands
 * that memory to the new owner, and a resizable buffer may shrink below the
 * field. So each access first checks that the buffer (the view's .buffer,
 * read-only on a sealed view) still holds the field; *keep is that buffer,
 * or NULL for a view over an address, which has none to check. */
static bool view_memory_held(napi_env env, napi_value self, const uint8_t *start, size_t size, napi_value *keep) {
  napi_valuetype t = napi_undefined;
  if (napi_get_named_property(env, self, "buffer", keep) == napi_ok) napi_typeof(env, *keep, &t);
  if (t == napi_undefined) {
    *keep = NULL;
    return true;
  }
  void *data;
  size_t length;
  return cffi_view_info(env, *keep, &data, &length) && data && start >= (const uint8_t *)data &&
         (size_t)(start - (const uint8_t *)data) + size <= length;
}

#define VIEW_MEMORY_GONE "the view's memory is no longer in its buffer (detached, transferred or shrunk)"

static bool field_in_buffer(napi_env env, napi_value self, const view_data *view, const cffi_field *f,
                            napi_value *keep) {
  if (view_memory_held(env, self, view->address + f->offset, element_size(f), keep)) return true;
  char what[128];
  cffi_layout_describe(view->layout, what, sizeof what);
  cffi_throw(env, "TypeError", "view: %s.%s: " VIEW_MEMORY_GONE, what, f->name);
  return false;
}

static napi_value view_get(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self, keep;
  view_data *view;
  const cffi_field *f;
  if (!accessor_target(env, info, &argc, NULL, &self, &view, &f)) return NULL;
  if (!field_in_buffer(env, self, view, f, &keep)) return NULL;
  return field_view(env, f, view->address + f->offset, keep);
}

static napi_value view_set(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  view_data *view;
  const cffi_field *f;
  if (!accessor_target(env, info, &argc, argv, &self, &view, &f)) return NULL;
  char where[300], what[128];
  cffi_layout_describe(view->layout, what, sizeof what);
  snprintf(where, sizeof where, "%s.%s", what, f->name);
  const uint32_t size = element_size(f);
  uint8_t small[256];
  uint8_t *bytes = size <= sizeof small ? small : malloc(size);
  if (!bytes) return cffi_throw(env, "RangeError", "out of memory");
  cffi_call call;
  cffi_call_init(&call, env, "view");
  const where_t root = {NULL, where, -1};
  bool ok = field_from_js(&call, f, argc ? argv[0] : NULL, bytes, &root);
  if (ok && (call.scratch_used || call.heap)) {
    cffi_throw(env, "TypeError", "view: %s is a cstring: it needs a pointer here (a JS string lives only for a call)", where);
    ok = false;
  }
  cffi_call_release(&call);
  napi_value keep; /* checked after the conversion, whose valueOf or getters may have detached it */
  if (ok) ok = field_in_buffer(env, self, view, f, &keep);
  if (ok) memcpy(view->address + f->offset, bytes, size);
  if (bytes != small) free(bytes);
  return NULL;
}

napi_value cffi_layout_view(napi_env env, cffi_layout *layout, uint8_t *address, napi_value keep) {
  if (layout->kind == CFFI_LAYOUT_ARRAY) return array_view(env, layout, address, keep);
  napi_value object, undefined;
  view_data *view = malloc(sizeof *view);
  napi_property_descriptor *props = calloc(layout->count + 2, sizeof *props);
  if (!view || !props || napi_create_object(env, &object) != napi_ok) {
    free(view);
    free(props);
    return cffi_throw(env, "RangeError", "out of memory making a view");
  }
  view->layout = layout;
  view->address = address;
  cffi_layout_retain(layout);
  if (napi_wrap(cffi_finalizer_env(env), object, view, free_view, NULL, NULL) != napi_ok) {
    free_view(env, view, NULL);
    free(props);
    return NULL;
  }
  napi_type_tag_object(env, object, &view_tag);
  napi_get_undefined(env, &undefined);
  props[0] = (napi_property_descriptor){"ptr", NULL, NULL, NULL, NULL, cffi_address_to_js(env, (uintptr_t)address),
                                        napi_default, NULL};
  props[1] = (napi_property_descriptor){"buffer", NULL, NULL, NULL, NULL, keep ? keep : undefined, napi_default, NULL};
  for (uint32_t i = 0; i < layout->count; i++)
    props[i + 2] = (napi_property_descriptor){layout->fields[i].name, NULL, NULL, view_get, view_set, NULL,
                                              napi_enumerable, &layout->fields[i]};
  napi_status status = napi_define_properties(env, object, layout->count + 2, props);
  free(props);
  if (status != napi_ok) return NULL;
  napi_object_seal(env, object);
  return object;
}

/* ---- calls -------------------------------------------------------------- */

/* Call-lifetime memory: the stack scratch when it fits, else the heap.
 * Rounded up to 16 bytes: libffi reads its descriptor's size, which may
 * round the type's up (src/types/layout_abi.c). */
static uint8_t *call_memory(cffi_call *call, uint32_t size) {
  size = (size + 15u) & ~15u;
  uint32_t start = (call->scratch_used + 15u) & ~15u;
  if (start + size <= CFFI_STRING_SCRATCH) {
    call->scratch_used = start + size;
    return (uint8_t *)call->scratch + start;
  }
  return cffi_call_alloc(call, size ? size : 1);
}


/* A by-value struct argument: its bytes in call-lifetime memory, their
 * address in the slot (invoke_general passes it to libffi as the value). */
bool cffi_struct_arg_to_c(cffi_call *call, napi_value value, uint64_t *out) {
  const cffi_layout *layout = call->fn->sig.layouts->args[call->index];
  uint8_t *bytes = call_memory(call, layout->size);
  if (!bytes) {
    cffi_throw(call->env, "RangeError", "%s: out of memory", call->symbol);
    return false;
  }
  memset(bytes, 0, layout->size);
  const where_t root = {NULL, "args", call->index};
  if (!aggregate_from_js(call, layout, value, bytes, &root)) return false;
  *out = (uintptr_t)bytes;
  return true;
}

/* An out/inout argument: null is NULL; a TypedArray, DataView or
 * ArrayBuffer (or a view) with room for the value is passed as itself (C
 * writes it in place); a [value] array, or for a struct target a plain
 * object, gets a cell that is copied back after the call. */
bool cffi_out_arg_to_c(cffi_call *call, napi_value value, uint64_t *out) {
  napi_env env = call->env;
  const cffi_layout *layout = call->fn->sig.layouts->args[call->index];
  const cffi_field *target = &layout->fields[0];
  const uint32_t size = element_size(target);
  const where_t root = {NULL, "args", call->index}, first = {&root, NULL, 0};
  char what[128];
  napi_valuetype t;
  napi_typeof(env, value, &t);
  if (t == napi_null) {
    *out = 0;
    return true;
  }
  view_data *view;
  void *data;
  size_t length;
  napi_value keep;
  if (view_of(env, value, &view)) {
    data = view->address;
    length = view->layout->size;
    if (!view_memory_held(env, value, view->address, length, &keep)) {
      cffi_throw(env, "TypeError", "%s: %s: " VIEW_MEMORY_GONE, call->symbol, WHERE(&root));
      return false;
    }
  } else if (!cffi_plain_view_info(env, value, &data, &length)) {
    data = NULL;
    length = SIZE_MAX;
  }
  if (length != SIZE_MAX) {
    if (length < size || !data) {
      cffi_layout_describe(layout, what, sizeof what);
      cffi_throw(env, "TypeError", "%s: %s (%s) needs room for %u bytes, received a buffer of %zu%s", call->symbol, WHERE(&root),
                 what, size, length, data ? "" : " (detached)");
      return false;
    }
    *out = (uintptr_t)data;
    return true;
  }
  bool is_array = false;
  napi_is_array(env, value, &is_array);
  bool object_ok = t == napi_object && !is_array && target->layout && target->layout->kind != CFFI_LAYOUT_ARRAY;
  uint32_t count = 0;
  if (is_array) napi_get_array_length(env, value, &count);
  if (!object_ok && !(is_array && count >= 1)) {
    cffi_layout_describe(layout, what, sizeof what);
    cffi_throw(env, "TypeError",
               "%s: %s (%s) expects a [value] array, a 1-element TypedArray%s or null, received %s", call->symbol,
               WHERE(&root), what, target->layout ? ", an object to fill in, a view" : "", cffi_value_kind(env, value));
    return false;
  }
  uint8_t *cell = call_memory(call, size);
  if (!cell) {
    cffi_throw(env, "RangeError", "%s: out of memory", call->symbol);
    return false;
  }
  memset(cell, 0, size);
  if (layout->kind == CFFI_LAYOUT_INOUT) {
    napi_value initial = value;
    if (is_array && napi_get_element(env, value, 0, &initial) != napi_ok) return false;
    cffi_call_before_js(call);
    if (!field_from_js(call, target, initial, cell, is_array ? &first : &root)) return false;
  }
  *out = (uintptr_t)cell;
  return true;
}

/* After the call: each cell copied back into its [value] array or object. */
bool cffi_out_arguments_back(napi_env env, const cffi_signature *sig, const napi_value *argv, const uint64_t *slots) {
  for (unsigned i = 0; i < sig->nargs; i++) {
    if (sig->args[i] != CFFI_OUT_POINTER || !slots[i]) continue;
    const cffi_field *target = &sig->layouts->args[i]->fields[0];
    const uint8_t *cell = (const uint8_t *)(uintptr_t)slots[i];
    bool is_array = false;
    napi_valuetype t;
    view_data *view;
    void *data;
    size_t length;
    napi_typeof(env, argv[i], &t);
    if (t != napi_object || view_of(env, argv[i], &view) || cffi_plain_view_info(env, argv[i], &data, &length))
      continue; /* written in place */
    napi_is_array(env, argv[i], &is_array);
    napi_value result = field_to_js(env, target, cell);
    if (!result) return false;
    if (is_array) {
      if (napi_set_element(env, argv[i], 0, result) != napi_ok) return false;
      continue;
    }
    /* An object: its fields assigned from the result, so the caller's object is filled in. */
    const cffi_layout *fields = target->layout;
    for (uint32_t k = 0; k < fields->count; k++) {
      const char *name = fields->fields[k].name;
      napi_value item;
      if (napi_get_named_property(env, result, name, &item) != napi_ok) return false;
      if (is_proto_name(name) ? !define_own(env, argv[i], name, item)
                              : napi_set_named_property(env, argv[i], name, item) != napi_ok)
        return false;
    }
  }
  return true;
}

/* A struct result: a plain object, a view over a copy, or the bytes (Uint8Array). */
napi_value cffi_struct_result(napi_env env, const cffi_signature *sig, const uint8_t *bytes) {
  cffi_layout *layout = sig->layouts->returns;
  if (sig->layouts->result_mode == CFFI_RESULT_OBJECT) return cffi_layout_to_js(env, layout, bytes);
  void *data;
  napi_value buffer, result;
  if (napi_create_arraybuffer(env, layout->size, &data, &buffer) != napi_ok) return NULL;
  memcpy(data, bytes, layout->size);
  if (sig->layouts->result_mode == CFFI_RESULT_VIEW) return cffi_layout_view(env, layout, data, buffer);
  if (napi_create_typedarray(env, napi_uint8_array, layout->size, buffer, 0, &result) != napi_ok) return NULL;
  return result;
}
