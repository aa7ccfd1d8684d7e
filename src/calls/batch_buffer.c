/*
 * batch_buffer.c - batch()'s native command buffer: calls converted when
 * they are added, run later in C with one crossing (docs/batch.md).
 *
 * Owns: the command buffer (per entry its bound function, its arguments'
 * register images and what must be checked before it runs), add() (the
 * synchronous call's conversions, once), run() (a loop over entries that
 * only calls), runAsync() (the same buffer handed to the shared pool),
 * the staging area lib/batch.js fills without crossing into C, and the
 * slots by which a run from it finds the functions it names (batch_slot).
 *
 * Why convert at add() time: converting at run() made each entry cost a
 * single call's Node-API work plus the batch's own, so a batch was slower
 * than the calls it replaced. Now run() makes no Node-API call per entry
 * whose arguments are plain values, and runAsync() needs no copy of the
 * arguments: strings are already encoded in memory the buffer owns.
 *
 * The staging area: lib/batch.js writes an entry whose arguments are all
 * numbers, booleans or bigints for numeric parameters straight into a
 * Float64Array (word 0: words staged; then per entry a header, the
 * function's slot * 256 + which arguments are bigints, and one word per
 * argument: the number as it is, a boolean as 0 or 1, a bigint's bits),
 * and every native method first moves what is staged into the buffer
 * (flush_stage). Those values convert here (staged_image) the same way
 * the single call converts them, without Node-API. A batch whose entries
 * are all staged has no command buffer at all: run() calls straight from
 * the stage (batch_run_staged), so building and running it crosses into C
 * once.
 *
 * What the batch keeps alive: its JS handle is an array (lib/batch.js) that
 * this file wraps and fills with every bound function and every object
 * argument it was given, so nothing an entry points at is collected; a view
 * passed is checked before each run (detached or resized: a TypeError
 * naming the entry, never a read of freed memory).
 *
 * Sharing with runAsync(): the buffer is reference counted; a run on the
 * pool holds it, and a batch changed meanwhile (add, clear) continues on a
 * copy whose strings stay in the original (`parent`).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "async_call.h"
#include "batch.h"
#include "register_call.h"

#define STOP_NONZERO 1u
#define STOP_NEGATIVE 2u
#define WITH_ERRNO 4u
#define REF_RESULT 1
#define REF_DEREF 2

napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc);
napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw);

/* Per env (cffi_env_state): state->running_batches, runs in progress (a run
 * started while one runs is a callback's, re-entrant, run); state->batch_stage,
 * lib/batch.js's staging area, held by a reference and found again from it
 * once per run (stage_found): the raw exports take it from any caller, who
 * may detach it at any time JS runs; state->batch_result_raw and _kinds,
 * lib/batch.js's per-entry result words and kinds (runs do not nest), given
 * by batchResults when they grow and kept alive by that module: a batch
 * built and run once allocates none of its own. */
static cffi_env_state *state_of(napi_env env) {
  cffi_env_state *state = NULL;
  napi_get_instance_data(env, (void **)&state);
  return state;
}

typedef struct {
  uint32_t fn_index; /* its function, in the buffer's fns (and plans) */
  uint32_t word_at;  /* its arguments' images, in declaration order */
  uint32_t extra;    /* 0, or 1 + its index in extras */
} batch_entry;

/* How run() calls a function's entries (one per distinct function): its C
 * function through the prototype of its argument classes, or NULL for the
 * general path (libffi, variadic, napi_env, f32 or more than two arguments). */
typedef uint64_t (*batch_invoke_fn)(void *address, const uint64_t *words);
/* A staged run's call of a function straight from its staged words (see staged_invokers). */
typedef uint64_t (*staged_invoke_fn)(void *address, const double *w, unsigned bigints);
typedef struct {
  batch_invoke_fn invoke;
  uint8_t kind; /* KIND_* of its result */
  /* sym.map's precompiled loop for its shape (src/calls/map_precompiled.c),
   * which runs of its consecutive entries take (run_segment), or NULL; and
   * its result class there (0 void, 1 32-bit, 2 64-bit, 3 f64). */
  cffi_map_compiled_fn loop;
  uint8_t loop_result;
  /* How its result word is made (a KIND_VALUE result aside): WORD_RAW, the
   * raw result as it is (f64, 64-bit integers, void), WORD_I32 (an i32 as a
   * double), or WORD_OTHER (result_word's switch). */
  uint8_t word;
} batch_plan;
enum { WORD_RAW, WORD_I32, WORD_OTHER };

/* What an entry needs beyond its images: views to check, chained arguments. */
typedef struct {
  uint32_t pin_at, pin_count;
  uint32_t ref_at, ref_count;
} batch_extra;

enum { PIN_VIEW = 1, PIN_OBJECT = 2 };
typedef struct {
  uint32_t handle_index; /* the value's index in the batch's JS handle */
  uint8_t arg;
  uint8_t kind;
  void *data; /* PIN_VIEW: the memory converted; PIN_OBJECT: unused */
  size_t length;
} batch_pin;

typedef struct {
  uint8_t arg, kind, type;
  uint64_t operand; /* REF_RESULT: the entry; REF_DEREF: the address */
  /* REF_DEREF of a view or ArrayBuffer (b.deref(view)): 1 + its index in
   * the handle (0: a plain address), and its memory at add(), checked again
   * before each read (a callback during the run may detach or shrink it). */
  uint32_t view_index;
  void *view_data;
  size_t view_length;
} batch_ref;

#define GROWABLE(T, name) \
  T *name;                \
  uint32_t name##_count, name##_capacity

typedef struct batch_commands {
  uint32_t refs;                 /* the batch's, plus one per async run using it */
  struct batch_commands *parent; /* holds the strings of entries copied from it */
  GROWABLE(batch_entry, entries);
  GROWABLE(uint64_t, words);
  GROWABLE(batch_extra, extras);
  GROWABLE(batch_pin, pins);
  GROWABLE(batch_ref, chain);
  GROWABLE(void *, strings);     /* heap lists of cffi_call (string memory), to free */
  GROWABLE(cffi_function *, fns); /* distinct functions, by index (the staging area's) */
  batch_plan *plans;             /* per function, as many as fns_capacity */
  uint32_t first_chained;        /* UINT32_MAX: no entry uses b.result()/b.deref() */
  uint32_t closes_seen;          /* env's close count when PIN_OBJECT pins were last checked */
  uint32_t handle_length;        /* values in the JS handle (element 0: lib/batch.js's staged-function list) */
} batch_commands;

/* The JS handle's native side. */
typedef struct {
  batch_commands *commands;
  cffi_env_state *state;
  unsigned flags;
  uint32_t running; /* run() of this batch in progress (a callback may call clear()) */
  int64_t reported; /* bytes of its buffer told to V8 as external memory */
  /* Staged entries name their function by its slot (see batch_slot);
   * lib/batch.js's list of them (the handle's element 0) keeps them alive.
   * When the stage moves into the buffer, a slot's function index there is
   * remembered here (1 + index; 0: not yet), so add() needs no crossing to
   * register a function. Emptied by clear(). */
  uint32_t *staged_fns_map; /* slot -> 1 + index in commands->fns */
  uint32_t staged_fns_capacity;
} batch_handle;

static bool grow(void **items, uint32_t *capacity, uint32_t needed, size_t size) {
  if (needed <= *capacity) return true;
  uint32_t next = *capacity ? *capacity : 16;
  while (next < needed) {
    if (next > UINT32_MAX / 2) return false;
    next *= 2;
  }
  void *grown = realloc(*items, (size_t)next * size);
  if (!grown) return false;
  *items = grown;
  *capacity = next;
  return true;
}
#define GROW(c, name, extra) \
  grow((void **)&(c)->name, &(c)->name##_capacity, (c)->name##_count + (extra), sizeof *(c)->name)

static void free_strings(void *list) {
  cffi_call owner;
  cffi_call_init(&owner, NULL, "batch");
  owner.heap = list;
  cffi_call_release(&owner);
}

/* Memory only: callable from the GC (the values it kept are the handle's). */
static void commands_release(batch_commands *c) {
  while (c && --c->refs == 0) {
    batch_commands *parent = c->parent;
    for (uint32_t i = 0; i < c->strings_count; i++) free_strings(c->strings[i]);
    free(c->entries), free(c->words), free(c->extras), free(c->pins), free(c->chain), free(c->strings), free(c->fns);
    free(c->plans);
    free(c);
    c = parent;
  }
}

static batch_commands *commands_new(void) {
  batch_commands *c = calloc(1, sizeof *c);
  if (c) {
    c->refs = 1;
    c->first_chained = UINT32_MAX;
    c->handle_length = 1;
  }
  return c;
}

/* The buffer's bytes, told to V8 as they change, so that a batch dropped
 * without clear() is collected in time (its memory is freed only then). */
static void report_memory(napi_env env, batch_handle *h) {
  const batch_commands *c = h->commands;
  const int64_t bytes = (int64_t)sizeof *c + (int64_t)c->entries_capacity * sizeof *c->entries +
                        (int64_t)c->words_capacity * sizeof *c->words + (int64_t)c->extras_capacity * sizeof *c->extras +
                        (int64_t)c->pins_capacity * sizeof *c->pins + (int64_t)c->chain_capacity * sizeof *c->chain +
                        (int64_t)c->fns_capacity * sizeof *c->fns;
  int64_t ignored;
  if (bytes != h->reported && napi_adjust_external_memory(env, bytes - h->reported, &ignored) == napi_ok) h->reported = bytes;
}

#define COPY_ARRAY(to, from, name)                                                         \
  do {                                                                                     \
    if ((from)->name##_count) {                                                            \
      if (!((to)->name = malloc((size_t)(from)->name##_count * sizeof *(from)->name))) goto fail; \
      memcpy((to)->name, (from)->name, (size_t)(from)->name##_count * sizeof *(from)->name);   \
    }                                                                                      \
    (to)->name##_count = (to)->name##_capacity = (from)->name##_count;                     \
  } while (0)

/* The buffer the batch may change: its own, or a copy when a run on the
 * pool still uses it. NULL when out of memory. */
static batch_commands *writable_commands(batch_handle *h) {
  batch_commands *c = h->commands;
  if (c->refs == 1) return c;
  batch_commands *copy = commands_new();
  if (!copy) return NULL;
  COPY_ARRAY(copy, c, entries);
  COPY_ARRAY(copy, c, words);
  COPY_ARRAY(copy, c, extras);
  COPY_ARRAY(copy, c, pins);
  COPY_ARRAY(copy, c, chain);
  COPY_ARRAY(copy, c, fns);
  if (c->fns_count) {
    if (!(copy->plans = malloc((size_t)c->fns_count * sizeof *c->plans))) goto fail;
    memcpy(copy->plans, c->plans, (size_t)c->fns_count * sizeof *c->plans);
  }
  copy->first_chained = c->first_chained;
  copy->closes_seen = c->closes_seen;
  copy->handle_length = c->handle_length;
  copy->parent = c; /* takes over the batch's reference */
  h->commands = copy;
  return copy;
fail:
  copy->refs = 1;
  copy->parent = NULL;
  commands_release(copy);
  return NULL;
}

/* Marks a batch's handle (src/base/js_helpers.c's cffi_unwrap_tagged). */
static const napi_type_tag BATCH_TAG = {0x6366666962756e42ULL, 0x6174636842756666ULL};

static batch_handle *handle_of(napi_env env, napi_value value) {
  void *data = cffi_unwrap_tagged(env, value, napi_object, &BATCH_TAG);
  if (!data) {
    cffi_throw(env, "TypeError", "batch: not a batch (internal)");
    return NULL;
  }
  return data;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)hint;
  batch_handle *h = data;
  int64_t ignored;
  if (h->reported) napi_adjust_external_memory(env, -h->reported, &ignored);
  commands_release(h->commands);
  free(h->staged_fns_map);
  free(h);
}

static bool throw_oom(napi_env env) {
  cffi_throw(env, "RangeError", "batch: out of memory");
  return false;
}

/* The pending exception's message gets "batch entry N: " in front, and
 * the error `.entry = N`. */
static void name_entry_in_error(napi_env env, uint32_t entry) {
  bool pending = false;
  napi_value error, message;
  napi_is_exception_pending(env, &pending);
  if (!pending || napi_get_and_clear_last_exception(env, &error) != napi_ok) return;
  char text[1024];
  size_t length = 0;
  if (napi_get_named_property(env, error, "message", &message) == napi_ok &&
      napi_get_value_string_utf8(env, message, text, sizeof text, &length) == napi_ok) {
    char prefixed[1100];
    snprintf(prefixed, sizeof prefixed, "batch entry %u: %s", entry, text);
    napi_value value, index;
    napi_create_string_utf8(env, prefixed, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, error, "message", value);
    napi_create_uint32(env, entry, &index);
    napi_set_named_property(env, error, "entry", index);
  }
  napi_throw(env, error);
}

/* array[index] = value as an own data property: napi_set_element is a JS
 * assignment, which runs an index setter a program put on Array.prototype
 * or Object.prototype (user JS in the middle of add() or run()) and then
 * stores nothing, so a value the batch keeps alive would not be kept. */
static bool define_element(napi_env env, napi_value array, uint32_t index, napi_value value) {
  char digits[16];
  napi_value key; /* a name (napi_define_properties takes no number): "7" is index 7 */
  const int length = snprintf(digits, sizeof digits, "%u", index);
  if (napi_create_string_latin1(env, digits, (size_t)length, &key) != napi_ok) return false;
  const napi_property_descriptor property = {NULL, key, NULL, NULL, NULL, value,
                                             napi_writable | napi_enumerable | napi_configurable, NULL};
  return napi_define_properties(env, array, 1, &property) == napi_ok;
}

/* Keeps `value` alive with the batch: appended to its JS handle. */
static bool keep_in_handle(napi_env env, napi_value handle, batch_commands *c, napi_value value, uint32_t *index) {
  *index = c->handle_length;
  if (!define_element(env, handle, c->handle_length, value)) return false;
  c->handle_length++;
  return true;
}

static inline cffi_function *entry_fn(const batch_commands *c, const batch_entry *e) { return c->fns[e->fn_index]; }

/* How a result reaches JS: numbers and bigints as raw words lib/batch.js
 * reads from a typed array (no Node-API call per result), the rest as the
 * type table makes them. */
enum { KIND_NONE, KIND_NUMBER, KIND_I64, KIND_U64, KIND_BOOL, KIND_VALUE };

static inline uint8_t result_kind_of(cffi_type_id type) {
  switch (type) {
    case CFFI_VOID: return KIND_NONE;
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32:
    case CFFI_F32: case CFFI_F64:
      return KIND_NUMBER;
    case CFFI_I64: return KIND_I64;
    case CFFI_U64: return KIND_U64;
    case CFFI_BOOL: return KIND_BOOL;
    default: return KIND_VALUE;
  }
}

/* The invokers: a function of up to two arguments, each a 32-bit or
 * narrower integer (W: passed sign- or zero-extended to 32 bits, as its
 * image already is), a 64-bit integer or pointer (L) or an f64 (D), with a
 * void, W, L or f64 result, called through that prototype (plain C for
 * every default ABI), the result as the register image. */
typedef int32_t W;
typedef int64_t L;
typedef double D;
#define IMAGE_W(r) ((uint64_t)(uint32_t)(r))
#define IMAGE_L(r) ((uint64_t)(r))
static inline uint64_t image_d(double d) {
  uint64_t raw;
  memcpy(&raw, &d, sizeof raw);
  return raw;
}
#define IMAGE_D(r) image_d(r)
static inline double arg_d(uint64_t word) {
  double d;
  memcpy(&d, &word, sizeof d);
  return d;
}
#define ARG_W(w) ((W)(w))
#define ARG_L(w) ((L)(w))
#define ARG_D(w) arg_d(w)
/* Both families of invokers (these and the staged invokers below), for
 * every shape of up to two arguments of classes a, b, c (cffi_two_arg_shape's
 * order) and result R: `pre` names them, PARAMS is their parameter list,
 * PT_x a class's C type and AX_x(k) argument k of class x from PARAMS. */
#define EACH_SHAPE(pre, PARAMS, R, a, b, c) \
  DEF0_##R(pre, PARAMS, R) DEF1_##R(pre, PARAMS, R, a) DEF1_##R(pre, PARAMS, R, b) DEF1_##R(pre, PARAMS, R, c) \
  DEF2_##R(pre, PARAMS, R, a, a) DEF2_##R(pre, PARAMS, R, a, b) DEF2_##R(pre, PARAMS, R, a, c) \
  DEF2_##R(pre, PARAMS, R, b, a) DEF2_##R(pre, PARAMS, R, b, b) DEF2_##R(pre, PARAMS, R, b, c) \
  DEF2_##R(pre, PARAMS, R, c, a) DEF2_##R(pre, PARAMS, R, c, b) DEF2_##R(pre, PARAMS, R, c, c)
#define SHAPE_NAMES(pre, R, a, b, c) \
  pre##0_##R, pre##1_##R##a, pre##1_##R##b, pre##1_##R##c, pre##2_##R##a##a, pre##2_##R##a##b, pre##2_##R##a##c, \
  pre##2_##R##b##a, pre##2_##R##b##b, pre##2_##R##b##c, pre##2_##R##c##a, pre##2_##R##c##b, pre##2_##R##c##c
#define DEF0_V(pre, PARAMS, R) static uint64_t pre##0_V PARAMS { ((void (*)(void))f)(); return 0; }
#define DEF1_V(pre, PARAMS, R, P) static uint64_t pre##1_V##P PARAMS { ((void (*)(PT_##P))f)(AX_##P(0)); return 0; }
#define DEF2_V(pre, PARAMS, R, P, Q) \
  static uint64_t pre##2_V##P##Q PARAMS { ((void (*)(PT_##P, PT_##Q))f)(AX_##P(0), AX_##Q(1)); return 0; }
#define DEF0_R(pre, PARAMS, R) static uint64_t pre##0_##R PARAMS { return IMAGE_##R(((R(*)(void))f)()); }
#define DEF1_R(pre, PARAMS, R, P) static uint64_t pre##1_##R##P PARAMS { return IMAGE_##R(((R(*)(PT_##P))f)(AX_##P(0))); }
#define DEF2_R(pre, PARAMS, R, P, Q) \
  static uint64_t pre##2_##R##P##Q PARAMS { return IMAGE_##R(((R(*)(PT_##P, PT_##Q))f)(AX_##P(0), AX_##Q(1))); }
#define DEF0_W DEF0_R
#define DEF1_W DEF1_R
#define DEF2_W DEF2_R
#define DEF0_L DEF0_R
#define DEF1_L DEF1_R
#define DEF2_L DEF2_R
#define DEF0_D DEF0_R
#define DEF1_D DEF1_R
#define DEF2_D DEF2_R
/* A family: its invokers for every result class (void, W, L, D) and shape,
 * and `table` of them, [result class][shape] as cffi_two_arg_shape places them. */
#define INVOKER_FAMILY(T, table, pre, PARAMS, a, b, c)                                                     \
  EACH_SHAPE(pre, PARAMS, V, a, b, c) EACH_SHAPE(pre, PARAMS, W, a, b, c) EACH_SHAPE(pre, PARAMS, L, a, b, c) \
  EACH_SHAPE(pre, PARAMS, D, a, b, c)                                                                      \
  static const T table[4][13] = {{SHAPE_NAMES(pre, V, a, b, c)}, {SHAPE_NAMES(pre, W, a, b, c)},           \
                                 {SHAPE_NAMES(pre, L, a, b, c)}, {SHAPE_NAMES(pre, D, a, b, c)}};
#define PT_W W
#define PT_L L
#define PT_D D
#define AX_W(k) ARG_W(a[k])
#define AX_L(k) ARG_L(a[k])
#define AX_D(k) ARG_D(a[k])
#define INVOKER_PARAMS (void *f, const uint64_t *a __attribute__((unused)))
INVOKER_FAMILY(batch_invoke_fn, invokers, invoke, INVOKER_PARAMS, W, L, D)

/* A type's class for the invokers, or -1. */
static int invoke_class(cffi_type_id type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32: case CFFI_BOOL:
      return 0;
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: case CFFI_PTR: case CFFI_CSTRING:
    case CFFI_FUNCTION: case CFFI_BUFFER:
      return 1;
    case CFFI_F64: return 2;
    default: return -1;
  }
}

/* A result's class in map's precompiled loops (as cffi_two_arg_shape numbers them). */
static uint8_t loop_result_of(cffi_type_id type) {
  switch (type) {
    case CFFI_I32: case CFFI_U32: return 1;
    case CFFI_F64: return 3;
    case CFFI_VOID: return 0;
    default: return 2;
  }
}

static batch_plan plan_for(const cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  batch_plan plan = {NULL, result_kind_of(sig->returns), NULL, 0, WORD_OTHER};
  if (plan.kind == KIND_I64 || plan.kind == KIND_U64 || plan.kind == KIND_NONE || sig->returns == CFFI_F64) plan.word = WORD_RAW;
  else if (sig->returns == CFFI_I32) plan.word = WORD_I32;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* The loops read a 32-bit argument from the low half of its 8-byte image. */
  if (plan.kind != KIND_VALUE && plan.kind != KIND_BOOL) {
    plan.loop = cffi_map_precompiled_for(fn);
    plan.loop_result = loop_result_of(sig->returns);
  }
#endif
  int result, shape;
  if (sig->engine == CFFI_ENGINE_REGISTERS && !sig->variadic && !sig->takes_env && sig->abi == FFI_DEFAULT_ABI &&
      !sig->layouts && cffi_two_arg_shape(sig, invoke_class, &result, &shape))
    plan.invoke = invokers[result][shape];
  return plan;
}

/* ---- staged functions' slots ------------------------------------------ */

/* A function lib/batch.js stages entries of (state->batch_slots), found by
 * a staged run from its slot number: no Node-API call (an element read and
 * two private-symbol lookups on a dictionary-mode function, ~1.5K
 * instructions) per function per run. */
struct batch_slot {
  cffi_function *fn; /* NULL: free */
  batch_plan plan;
  staged_invoke_fn staged; /* its staged invoker (staged_invoker_for), or NULL */
};
static staged_invoke_fn staged_invoker_for(const cffi_function *fn);

/* fn's slot, taken on first use; -1 when out of memory. */
static int64_t batch_slot_of(cffi_function *fn) {
  cffi_env_state *state = fn->state;
  if (fn->batch_slot) return fn->batch_slot - 1;
  uint32_t slot = 0;
  while (slot < state->batch_slot_count && state->batch_slots[slot].fn) slot++;
  if (slot == state->batch_slot_count) {
    if (!grow((void **)&state->batch_slots, &state->batch_slot_capacity, slot + 1, sizeof *state->batch_slots)) return -1;
    state->batch_slot_count++;
  }
  state->batch_slots[slot].fn = fn;
  state->batch_slots[slot].plan = plan_for(fn);
  state->batch_slots[slot].staged = staged_invoker_for(fn);
  fn->batch_slot = slot + 1;
  return slot;
}

void cffi_batch_forget(cffi_function *fn) {
  if (!fn->batch_slot) return;
  fn->state->batch_slots[fn->batch_slot - 1].fn = NULL;
  fn->batch_slot = 0;
}

/* The index of fn among the buffer's functions, added (and its JS function
 * kept) on first use. */
static bool function_index(napi_env env, napi_value handle, batch_commands *c, cffi_function *fn, napi_value sym,
                           bool keep, uint32_t *index) {
  for (uint32_t i = c->fns_count; i-- > 0;)
    if (c->fns[i] == fn) return *index = i, true;
  uint32_t ignored;
  const uint32_t capacity = c->fns_capacity;
  if (!GROW(c, fns, 1)) return throw_oom(env);
  if (c->fns_capacity != capacity || !c->plans) {
    batch_plan *plans = realloc(c->plans, (size_t)c->fns_capacity * sizeof *plans);
    if (!plans) return throw_oom(env);
    c->plans = plans;
  }
  if (keep && !keep_in_handle(env, handle, c, sym, &ignored)) return false;
  *index = c->fns_count;
  c->plans[c->fns_count] = plan_for(fn);
  c->fns[c->fns_count++] = fn;
  return true;
}

/* ---- the staging area --------------------------------------------------- */

static const char *unbatchable(const cffi_function *fn);

/* How lib/batch.js may stage an argument of each type (0: it may not). */
enum { STAGE_INT = 1, STAGE_FLOAT = 2, STAGE_WIDE = 3, STAGE_BOOL = 4 };

static uint8_t stage_kind_of(uint8_t type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32:
      return STAGE_INT;
    case CFFI_F32: case CFFI_F64: return STAGE_FLOAT;
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: return STAGE_WIDE;
    case CFFI_BOOL: return STAGE_BOOL;
    default: return 0;
  }
}

/* A staged number as ToInt64 wraps it (what every integer type's to_c
 * makes of a number, truncated to its width): the common in-range case
 * inline, the rest (NaN, infinities, |d| >= 2^63) in types.c. */
static inline __attribute__((always_inline)) uint64_t staged_wrapped(double d) {
  if (CFFI_LIKELY(d > -9.2e18 && d < 9.2e18)) return (uint64_t)(int64_t)d;
  return cffi_number_to_u64(d);
}

/* A staged word as the register image the type's to_c makes of the same
 * JS value (src/types/types.c). lib/batch.js stages numbers as they are
 * (booleans as 0 or 1) and bigints as their 64 bits (is_bigint): integers
 * of every width take the number's ToInt64 wrap (or the bigint's bits)
 * truncated to their width, floats the number, bool the value's truth. */
static inline __attribute__((always_inline)) uint64_t staged_image(uint8_t type, double d, uint64_t bits, bool is_bigint) {
  float f;
  uint32_t f_bits;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: return (uint64_t)(int64_t)(int8_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_U8: return (uint8_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_I16: return (uint64_t)(int64_t)(int16_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_U16: return (uint16_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_I32: return (uint64_t)(int64_t)(int32_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_U32: return (uint32_t)(is_bigint ? bits : staged_wrapped(d));
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST:
      return is_bigint ? bits : staged_wrapped(d);
    case CFFI_F64: memcpy(&bits, &d, sizeof bits); return bits;
    case CFFI_F32:
      f = (float)d;
      memcpy(&f_bits, &f, sizeof f_bits);
      return f_bits;
    case CFFI_BOOL: return is_bigint ? bits != 0 : (d != 0 && d == d); /* NaN is false */
    default: return 0;
  }
}

/* Whether fn's entries may be staged: every argument a number-class type
 * (stage_kind_of), none of the things that need the call's Node-API work. */
static bool stageable(const cffi_function *fn) {
  bool ok = !unbatchable(fn) && !fn->sig.variadic && !fn->sig.takes_env && fn->sig.nargs <= 8;
  for (unsigned k = 0; ok && k < fn->sig.nargs; k++) ok = stage_kind_of(fn->sig.args[k]) != 0;
  return ok;
}

/* A staged header word (slot * 256 + which arguments are bigints) as an
 * integer; UINT64_MAX for anything else (a raw caller's stage). */
static inline uint64_t staged_header(double d) {
  return d >= 0 && d < 1099511627776.0 ? (uint64_t)(int64_t)d : UINT64_MAX;
}

/* The staged invokers: a staged run's call of a function of up to two
 * arguments, each an i32/u32 (S: the staged number's ToInt64 wrap or the
 * bigint's bits, passed as its low 32 bits, as staged_image makes it), a
 * 64-bit integer (Q: the same, all 64 bits) or an f64 (F), straight from
 * the staged words (w: the entry's first argument word): no images and no
 * per-argument type dispatch. Results as the invokers above return them. */
static inline __attribute__((always_inline)) uint64_t staged_bits(const double *w, unsigned k, unsigned bigints) {
  uint64_t bits;
  if ((bigints >> k) & 1) {
    memcpy(&bits, &w[k], sizeof bits);
    return bits;
  }
  return staged_wrapped(w[k]);
}
#define PT_S W
#define PT_Q L
#define PT_F D
#define AX_S(k) ((W)staged_bits(w, k, bigints))
#define AX_Q(k) ((L)staged_bits(w, k, bigints))
#define AX_F(k) (w[k])
#define STAGED_PARAMS (void *f, const double *w __attribute__((unused)), unsigned bigints __attribute__((unused)))
INVOKER_FAMILY(staged_invoke_fn, staged_invokers, sinvoke, STAGED_PARAMS, S, Q, F)

/* An argument type's class for the staged invokers (S = 0, Q = 1, F = 2), or -1. */
static int staged_class(cffi_type_id type) {
  switch (type) {
    case CFFI_I32: case CFFI_U32: return 0;
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: return 1;
    case CFFI_F64: return 2;
    default: return -1;
  }
}

/* fn's staged invoker (its result's class as for the invokers), or NULL. */
static staged_invoke_fn staged_invoker_for(const cffi_function *fn) {
  const cffi_signature *sig = &fn->sig;
  int result, shape, ignored;
  if (sig->engine != CFFI_ENGINE_REGISTERS || sig->variadic || sig->takes_env || sig->abi != FFI_DEFAULT_ABI ||
      sig->layouts || !cffi_two_arg_shape(sig, staged_class, &ignored, &shape))
    return NULL;
  if (sig->returns != CFFI_VOID && (result = invoke_class(sig->returns)) < 0) return NULL;
  return staged_invokers[sig->returns == CFFI_VOID ? 0 : result + 1][shape];
}

/* The slot a staged header names, holding a function, or NULL. */
static inline const struct batch_slot *staged_slot(const cffi_env_state *state, uint64_t header) {
  const uint64_t slot = header >> 8;
  if (CFFI_UNLIKELY(slot >= state->batch_slot_count)) return NULL;
  const struct batch_slot *s = &state->batch_slots[slot];
  return CFFI_LIKELY(s->fn != NULL) ? s : NULL;
}

static bool append_entry(napi_env env, batch_commands *c, uint32_t fn_index, uint32_t extra, uint64_t **words) {
  const unsigned n = c->fns[fn_index]->sig.nargs;
  if (!GROW(c, entries, 1) || !GROW(c, words, n)) return throw_oom(env);
  batch_entry *e = &c->entries[c->entries_count++];
  e->fn_index = fn_index;
  e->word_at = c->words_count;
  e->extra = extra;
  *words = &c->words[c->words_count];
  c->words_count += n;
  return true;
}

/* The memory of a staging-area-shaped Float64Array now: NULL (none, or
 * detached) or at least 1 word. */
static double *stage_memory(napi_env env, napi_value array, size_t *words) {
  void *data = NULL;
  napi_typedarray_type kind;
  *words = 0;
  if (!array || napi_get_typedarray_info(env, array, &kind, words, &data, NULL, NULL) != napi_ok ||
      kind != napi_float64_array || !data || *words < 1)
    return *words = 0, NULL;
  return data;
}

/* The env's staging area now (see state_of). */
static double *stage_found(napi_env env, const cffi_env_state *state, size_t *words) {
  napi_value array = NULL;
  if (state->batch_stage) napi_get_reference_value(env, state->batch_stage, &array);
  return stage_memory(env, array, words);
}

/* Moves what lib/batch.js staged (in `array`: the thread's stage, or a
 * batch's entries saved from it) into the buffer (see the file's header).
 * Its memory is found again after anything that may run JS (the handle's
 * elements: a raw caller's getters), and every read is bounded by it. */
static bool flush_staged(napi_env env, napi_value handle, batch_handle *h, napi_value array) {
  size_t stage_words;
  double *stage = stage_memory(env, array, &stage_words);
  if (!stage) return true;
  const size_t used = (size_t)stage[0];
  if (used <= 1) return true;
  stage[0] = 1;
  batch_commands *c = writable_commands(h);
  if (!c) return throw_oom(env);
  const cffi_env_state *state = h->state;
  const uint32_t mapped = h->staged_fns_capacity;
  if (!grow((void **)&h->staged_fns_map, &h->staged_fns_capacity, state->batch_slot_count, sizeof *h->staged_fns_map))
    return throw_oom(env);
  if (h->staged_fns_capacity > mapped)
    memset(h->staged_fns_map + mapped, 0, (size_t)(h->staged_fns_capacity - mapped) * sizeof *h->staged_fns_map);
  for (size_t at = 1; at < used && at < stage_words;) {
    const uint64_t header = staged_header(stage[at]);
    const struct batch_slot *s = staged_slot(state, header);
    if (!s) return cffi_throw(env, "Error", "batch: staged entry malformed (internal)"), false;
    cffi_function *fn = s->fn;
    const uint32_t slot = (uint32_t)(header >> 8);
    const unsigned bigints = (unsigned)(header & 0xff);
    if (at + 1 + fn->sig.nargs > stage_words) return cffi_throw(env, "Error", "batch: staged entry malformed (internal)"), false;
    /* The function is kept alive by lib/batch.js's list (the handle's element 0). */
    uint32_t index = h->staged_fns_map[slot] - 1;
    if (h->staged_fns_map[slot] == 0 || index >= c->fns_count || c->fns[index] != fn) {
      if (!function_index(env, handle, c, fn, NULL, false, &index)) return false;
      h->staged_fns_map[slot] = index + 1;
    }
    const uint64_t *bits = (const uint64_t *)stage;
    uint64_t *words;
    if (!append_entry(env, c, index, 0, &words)) return false;
    for (unsigned k = 0; k < fn->sig.nargs; k++)
      words[k] = staged_image(fn->sig.args[k], stage[at + 1 + k], bits[at + 1 + k], (bigints >> k) & 1);
    at += 1 + fn->sig.nargs;
  }
  return true;
}

static bool flush_stage(napi_env env, napi_value handle, batch_handle *h) {
  napi_value array = NULL;
  if (h->state->batch_stage) napi_get_reference_value(env, h->state->batch_stage, &array);
  return flush_staged(env, handle, h, array);
}

/* ---- add ---------------------------------------------------------------- */

/* A reason fn cannot be batched, or NULL. */
static const char *unbatchable(const cffi_function *fn) {
  if (fn->sig.layouts) return "it has struct, union or out()/inout() types (not yet batched; docs/batch.md)";
  if (fn->sig.returns == CFFI_NAPI_VALUE) return NULL;
  for (unsigned i = 0; i < fn->sig.nargs; i++)
    if (fn->sig.args[i] == CFFI_NAPI_VALUE) return "a napi_value argument belongs to the call it is made in";
  return NULL;
}

static bool is_object(napi_env env, napi_value value) {
  napi_valuetype t;
  return napi_typeof(env, value, &t) == napi_ok && (t == napi_object || t == napi_function);
}

/* Converts argv as the single call does into a new entry; `refs` (may be
 * NULL) marks the positions b.result()/b.deref() fill at run time. */
static bool add_entry(napi_env env, napi_value handle, batch_handle *h, napi_value sym, size_t argc,
                      const napi_value *argv, const batch_ref *chain, uint32_t chain_count) {
  /* The buffer is taken only after the conversions: a getter they run may
   * clear() this batch (freeing the buffer) or start a runAsync() on it. */
  const uint32_t entry = h->commands->entries_count;
  cffi_function *fn = cffi_bound_function_of(env, sym);
  if (!fn) {
    cffi_throw(env, "TypeError", "batch.add(): entry %u: expected a function bound by dlopen, linkSymbols, CFunction or cc(), received %s",
               entry, cffi_value_kind(env, sym));
    return false;
  }
  const cffi_signature *sig = &fn->sig;
  const char *why = unbatchable(fn);
  bool ok;
  if (why) ok = (cffi_throw(env, "TypeError", "%s cannot be batched: %s", fn->name, why), false);
  else if (!fn->owner->open) ok = (cffi_jit_closed(env, fn), false);
  else if (argc < sig->required) ok = (cffi_jit_missing(env, fn, argc), false);
  else if (sig->variadic && argc > sig->nargs) ok = (cffi_variadic_too_many(env, fn, argc), false);
  else if (sig->variadic && chain_count)
    ok = (cffi_throw(env, "TypeError", "%s: b.result() and b.deref() cannot fill a variadic function's arguments", fn->name), false);
  else ok = true;
  if (!ok) {
    name_entry_in_error(env, entry);
    return false;
  }
  uint64_t slots[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1];
  memset(slots, 0, cffi_call_slot_count(sig) * sizeof slots[0]);
  cffi_call call;
  cffi_call_init(&call, env, fn->name);
  call.scratch_used = CFFI_STRING_SCRATCH; /* strings to the heap: the buffer keeps them */
  if (sig->engine == CFFI_ENGINE_REGISTERS && !sig->general_path) ok = cffi_convert_register_arguments(env, fn, argv, slots);
  else ok = cffi_convert_call_arguments(&call, fn, argv, slots);
  /* A getter may have closed the library meanwhile. */
  if (ok && !fn->owner->open) ok = (cffi_jit_closed(env, fn), false);
  batch_commands *c = ok ? writable_commands(h) : NULL;
  if (ok && !c) ok = throw_oom(env);
  uint32_t fn_index;
  if (ok) ok = function_index(env, handle, c, fn, sym, true, &fn_index);
  if (ok && call.heap && !GROW(c, strings, 1)) ok = throw_oom(env);
  if (!ok) {
    cffi_call_release(&call);
    name_entry_in_error(env, entry);
    return false;
  }
  if (call.heap) c->strings[c->strings_count++] = call.heap;
  /* Pins: every object argument is kept; views are checked before each run. */
  uint32_t pins_before = c->pins_count;
  for (unsigned k = 0; k < sig->nargs && k < argc; k++) {
    bool chained = false;
    for (uint32_t q = 0; q < chain_count; q++) chained |= chain[q].arg == k;
    if (chained || !is_object(env, argv[k])) continue;
    batch_pin pin = {0};
    pin.arg = (uint8_t)k;
    pin.kind = cffi_plain_view_info(env, argv[k], &pin.data, &pin.length) ? PIN_VIEW : PIN_OBJECT;
    if (!GROW(c, pins, 1) || !keep_in_handle(env, handle, c, argv[k], &pin.handle_index)) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (!pending) throw_oom(env);
      c->pins_count = pins_before;
      name_entry_in_error(env, entry);
      return false;
    }
    c->pins[c->pins_count++] = pin;
  }
  uint32_t extra = 0;
  if (c->pins_count > pins_before || chain_count) {
    if (!GROW(c, extras, 1) || !GROW(c, chain, chain_count)) {
      c->pins_count = pins_before;
      return throw_oom(env);
    }
    batch_extra *x = &c->extras[c->extras_count];
    x->pin_at = pins_before;
    x->pin_count = c->pins_count - pins_before;
    x->ref_at = c->chain_count;
    x->ref_count = chain_count;
    if (chain_count) memcpy(&c->chain[c->chain_count], chain, chain_count * sizeof *chain); /* chain: NULL from add() */
    c->chain_count += chain_count;
    extra = ++c->extras_count;
    if (chain_count && c->first_chained == UINT32_MAX) c->first_chained = entry;
  }
  uint64_t *words;
  if (!append_entry(env, c, fn_index, extra, &words)) return false;
  for (unsigned k = 0; k < sig->nargs; k++) words[k] = slots[sig->dest[k]];
  return true;
}

#define MAX_ADD_ARGS (CFFI_MAX_ARGS + 1)

/* batchAdd.call(handle, sym, ...args) */
static napi_value batch_add(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ADD_ARGS + 1], handle;
  size_t argc = MAX_ADD_ARGS + 1;
  napi_get_cb_info(env, info, &argc, argv, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h || !flush_stage(env, handle, h)) return NULL;
  if (argc < 1) return cffi_throw(env, "TypeError", "batch.add() expects a bound function and its arguments");
  if (argc > MAX_ADD_ARGS) argc = MAX_ADD_ARGS;
  add_entry(env, handle, h, argv[0], argc - 1, argv + 1, NULL, 0);
  report_memory(env, h);
  return NULL;
}

/* batchAddChained.call(handle, refs, sym, ...args): refs, five values per
 * b.result()/b.deref() argument (argument, kind, operand, type, and the
 * view or ArrayBuffer b.deref() was given, or null), whose places in args
 * hold placeholders. */
static napi_value batch_add_chained(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ADD_ARGS + 2], handle;
  size_t argc = MAX_ADD_ARGS + 2;
  napi_get_cb_info(env, info, &argc, argv, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h || !flush_stage(env, handle, h)) return NULL;
  if (argc < 2) return cffi_throw(env, "TypeError", "batch.add() expects a bound function and its arguments");
  if (argc > MAX_ADD_ARGS + 1) argc = MAX_ADD_ARGS + 1;
  uint32_t length = 0;
  napi_get_array_length(env, argv[0], &length);
  batch_ref chain[CFFI_MAX_ARGS];
  uint32_t count = 0;
  const uint32_t entry = h->commands->entries_count;
  for (uint32_t q = 0; q + 4 < length && count < CFFI_MAX_ARGS; q += 5) {
    napi_value v[5];
    double position = 0, kind = 0, operand_number = 0;
    for (int j = 0; j < 5; j++) napi_get_element(env, argv[0], q + j, &v[j]);
    napi_get_value_double(env, v[0], &position);
    napi_get_value_double(env, v[1], &kind);
    batch_ref *r = &chain[count++];
    r->arg = (uint8_t)position;
    r->kind = (uint8_t)kind;
    r->type = CFFI_PTR;
    r->view_index = 0;
    if (kind == REF_RESULT) {
      napi_get_value_double(env, v[2], &operand_number);
      r->operand = (uint64_t)operand_number;
    } else {
      const cffi_function *fn = cffi_bound_function_of(env, argv[1]);
      cffi_type_id type;
      if (!cffi_value_to_address(env, v[2], "batch.deref()", &r->operand) ||
          !cffi_type_from_value(env, v[3], "deref", (int)position, &type)) {
        name_entry_in_error(env, entry);
        return NULL;
      }
      uint64_t checked;
      char what[48];
      snprintf(what, sizeof what, "args[%u]: batch.deref()", (unsigned)position);
      if (!cffi_dereferenceable(env, r->operand, 0, what, &checked)) {
        name_entry_in_error(env, entry);
        return NULL;
      }
      switch (type) {
        case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_BOOL: case CFFI_I16: case CFFI_U16: case CFFI_I32:
        case CFFI_U32: case CFFI_F32: case CFFI_PTR: case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST:
        case CFFI_U64_FAST: case CFFI_F64:
          break;
        default:
          cffi_throw(env, "TypeError", "deref: cannot read a %s from memory (expected a number, bigint or ptr type)",
                     cffi_types[type].name);
          name_entry_in_error(env, entry);
          return NULL;
      }
      (void)fn;
      r->type = (uint8_t)type;
      /* Kept with the batch (lib/batch.js keeps it too) and checked before each read. */
      uint32_t kept;
      if (cffi_plain_view_info(env, v[4], &r->view_data, &r->view_length)) {
        if (!keep_in_handle(env, handle, h->commands, v[4], &kept)) {
          name_entry_in_error(env, entry);
          return NULL;
        }
        r->view_index = kept + 1;
      }
    }
  }
  add_entry(env, handle, h, argv[1], argc - 2, argv + 2, chain, count);
  report_memory(env, h);
  return NULL;
}

/* batchStageKinds(sym): per parameter how lib/batch.js may stage it, or
 * null when fn's entries cannot be staged (some argument needs Node-API,
 * or fn cannot be batched at all). */
static napi_value batch_stage_kinds(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cffi_function *fn = argc ? cffi_bound_function_of(env, argv[0]) : NULL;
  napi_get_null(env, &result);
  if (!fn || !stageable(fn)) return result;
  napi_value value;
  napi_create_array_with_length(env, fn->sig.nargs, &result);
  for (unsigned k = 0; k < fn->sig.nargs; k++) {
    napi_create_uint32(env, stage_kind_of(fn->sig.args[k]), &value);
    define_element(env, result, k, value);
  }
  return result;
}

/* batchSlot(sym): the slot number of a bound function whose entries are
 * staged (see batch_slot), which lib/batch.js hands a staged run. */
static napi_value batch_slot_export(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cffi_function *fn = argc ? cffi_bound_function_of(env, argv[0]) : NULL;
  /* Only stageable functions get a slot: a staged run calls whatever a slot holds with number images. */
  if (!fn || !stageable(fn)) return cffi_throw(env, "Error", "batchSlot: internal arguments malformed");
  const int64_t slot = batch_slot_of(fn);
  if (slot < 0) return throw_oom(env), NULL;
  napi_create_int64(env, slot, &result);
  return result;
}

/* batchFlush.call(handle[, saved: Float64Array]): moves the stage, or the
 * batch's entries lib/batch.js saved from it (the same layout), into the buffer. */
static napi_value batch_flush(napi_env env, napi_callback_info info) {
  napi_value handle, argv[1];
  size_t argc = 1, words = 0;
  napi_get_cb_info(env, info, &argc, argv, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h) return NULL;
  bool ok;
  if (argc >= 1) {
    if (!stage_memory(env, argv[0], &words)) return cffi_throw(env, "TypeError", "batchFlush: internal arguments malformed");
    ok = flush_staged(env, handle, h, argv[0]);
  } else {
    ok = flush_stage(env, handle, h);
  }
  if (ok) report_memory(env, h);
  return NULL;
}

/* batchClear.call(handle): forgets every entry (the handle's values too). */
static napi_value batch_clear(napi_env env, napi_callback_info info) {
  napi_value handle, zero;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, NULL, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h) return NULL;
  /* The run holds its functions through the handle's values. */
  if (h->running)
    return cffi_throw(env, "Error", "batch.clear() was called while this batch runs (from a callback); clear it after run() returns");
  batch_commands *c = h->commands;
  if (c->refs == 1 && !c->parent) {
    /* Kept for the next entries: a batch refilled in a loop allocates nothing. */
    for (uint32_t i = 0; i < c->strings_count; i++) free_strings(c->strings[i]);
    c->entries_count = c->words_count = c->extras_count = c->pins_count = c->chain_count = 0;
    c->strings_count = c->fns_count = 0;
    c->handle_length = 1;
    c->first_chained = UINT32_MAX;
  } else {
    batch_commands *fresh = commands_new();
    if (!fresh) return throw_oom(env), NULL;
    commands_release(c);
    h->commands = fresh;
  }
  if (h->staged_fns_capacity) /* lib/batch.js empties its list too */
    memset(h->staged_fns_map, 0, (size_t)h->staged_fns_capacity * sizeof *h->staged_fns_map);
  napi_create_uint32(env, 1, &zero); /* element 0 stays: the staged-function list */
  napi_set_named_property(env, handle, "length", zero);
  report_memory(env, h);
  return NULL;
}

/* batchStage(stage: Float64Array): once per thread, from lib/batch.js. */
static napi_value batch_stage(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1, words = 0;
  void *data = NULL;
  napi_typedarray_type kind;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &kind, &words, &data, NULL, NULL) != napi_ok ||
      kind != napi_float64_array || words < 2 || !data)
    return cffi_throw(env, "TypeError", "batchStage: internal arguments malformed");
  /* A staged run going on reads the stage it found (run_arrays_attached finds it again after JS ran). */
  cffi_env_state *state = state_of(env);
  napi_ref ref;
  if (napi_create_reference(env, argv[0], 1, &ref) != napi_ok) return NULL;
  if (state->batch_stage) napi_delete_reference(env, state->batch_stage);
  state->batch_stage = ref;
  ((double *)data)[0] = 1;
  return NULL;
}

/* Wraps lib/batch.js's handle array: made when a batch first needs it (an
 * entry the addon converts, a stage too full, runAsync()), not by batch(). */
static batch_handle *create_handle(napi_env env, napi_value handle, napi_value flags_value) {
  double flags = 0;
  if (napi_get_value_double(env, flags_value, &flags) != napi_ok)
    return cffi_throw(env, "TypeError", "batchNew: internal arguments malformed"), NULL;
  batch_handle *h = calloc(1, sizeof *h);
  if (!h || !(h->commands = commands_new())) {
    free(h);
    return throw_oom(env), NULL;
  }
  napi_get_instance_data(env, (void **)&h->state);
  h->flags = (unsigned)flags;
  if (napi_wrap(cffi_finalizer_env(env), handle, h, finalize_handle, NULL, NULL) != napi_ok) {
    cffi_throw(env, "Error", "batch: its native side could not be made (internal)");
    commands_release(h->commands);
    free(h);
    return NULL;
  }
  napi_type_tag_object(env, handle, &BATCH_TAG);
  return h;
}

/* batchNew(handle, flags) */
static napi_value batch_new(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return cffi_throw(env, "TypeError", "batchNew: internal arguments malformed");
  create_handle(env, argv[0], argv[1]);
  return NULL;
}

/* ---- run ---------------------------------------------------------------- */

/* The raw result, as its return type reads it, stops the run? (either thread) */
static bool raw_stops(cffi_type_id type, uint64_t raw, unsigned flags) {
  int64_t value = 0;
  double d;
  float f;
  bool is_signed = true;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: value = (int8_t)raw; break;
    case CFFI_I16: value = (int16_t)raw; break;
    case CFFI_I32: value = (int32_t)raw; break;
    case CFFI_I64: case CFFI_I64_FAST: value = (int64_t)raw; break;
    case CFFI_U8: case CFFI_BOOL: value = (uint8_t)raw, is_signed = false; break;
    case CFFI_U16: value = (uint16_t)raw, is_signed = false; break;
    case CFFI_U32: value = (uint32_t)raw, is_signed = false; break;
    case CFFI_F32:
      memcpy(&f, &raw, sizeof f);
      return ((flags & STOP_NONZERO) && f != 0) || ((flags & STOP_NEGATIVE) && f < 0);
    case CFFI_F64:
      memcpy(&d, &raw, sizeof d);
      return ((flags & STOP_NONZERO) && d != 0) || ((flags & STOP_NEGATIVE) && d < 0);
    case CFFI_VOID: return false;
    default: return (flags & STOP_NONZERO) && raw != 0; /* u64, pointers */
  }
  return ((flags & STOP_NONZERO) && value != 0) || ((flags & STOP_NEGATIVE) && is_signed && value < 0);
}

/* The raw result as the word lib/batch.js reads for its kind. */
static inline __attribute__((always_inline)) uint64_t result_word(cffi_type_id type, uint8_t kind, uint64_t raw) {
  float f;
  double d;
  uint64_t word = raw;
  if (kind == KIND_BOOL) return (raw & 0xff) != 0;
  if (kind != KIND_NUMBER) return raw;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: d = (int8_t)raw; break;
    case CFFI_U8: d = (uint8_t)raw; break;
    case CFFI_I16: d = (int16_t)raw; break;
    case CFFI_U16: d = (uint16_t)raw; break;
    case CFFI_I32: d = (int32_t)raw; break;
    case CFFI_U32: d = (uint32_t)raw; break;
    case CFFI_F32: memcpy(&f, &raw, sizeof f); d = f; break;
    default: memcpy(&d, &raw, sizeof d); break;
  }
  memcpy(&word, &d, sizeof word);
  return word;
}

static void *typed_data(napi_env env, napi_value value, size_t *length) {
  void *data = NULL;
  bool is_array = false;
  *length = 0;
  if (napi_is_typedarray(env, value, &is_array) != napi_ok || !is_array) return NULL;
  napi_get_typedarray_info(env, value, NULL, length, &data, NULL, NULL);
  return data;
}

/* A view an entry was given is still where and as long as at add(). */
static bool pins_still_valid(napi_env env, napi_value handle, batch_commands *c, const batch_entry *e,
                             const batch_extra *x, bool recheck_objects) {
  const cffi_function *fn = entry_fn(c, e);
  /* Objects first: their .ptr getters run JS, which may detach a view
   * already checked. */
  for (uint32_t p = 0; p < 2 * x->pin_count; p++) {
    const batch_pin *pin = &c->pins[x->pin_at + p % x->pin_count];
    napi_value value;
    if ((pin->kind == PIN_OBJECT) != (p < x->pin_count)) continue;
    if (pin->kind == PIN_OBJECT && !recheck_objects) continue;
    if (napi_get_element(env, handle, pin->handle_index, &value) != napi_ok) return false;
    const char *type = cffi_types[fn->sig.args[pin->arg]].name;
    if (pin->kind == PIN_VIEW) {
      void *data = NULL;
      size_t length = 0;
      cffi_plain_view_info(env, value, &data, &length);
      if (data == pin->data && length == pin->length) continue;
      if (!data && cffi_view_detached(env, value))
        cffi_throw(env, "TypeError", "%s: args[%u] (%s): its ArrayBuffer was detached after add(); nothing was called",
                   fn->name, pin->arg, type);
      else
        cffi_throw(env, "TypeError", "%s: args[%u] (%s): its memory changed after add() (%zu bytes then, %zu now: a "
                   "resizable ArrayBuffer resized?); nothing was called", fn->name, pin->arg, type, pin->length, length);
      return false;
    }
    /* An object with .ptr (a JSCallback): after a close() anywhere, its
     * address must still be the one converted (a closed JSCallback's is null). */
    uint64_t now = 0;
    cffi_call call;
    cffi_call_init(&call, env, fn->name);
    call.index = pin->arg;
    call.type = fn->sig.args[pin->arg];
    call.scratch_used = CFFI_STRING_SCRATCH;
    bool same = cffi_types[call.type].to_c(&call, value, &now) && now == c->words[e->word_at + pin->arg];
    bool failed = !same;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    cffi_call_release(&call);
    if (failed) {
      if (!pending)
        cffi_throw(env, "TypeError", "%s: args[%u] (%s): it no longer gives the address it gave at add() (a JSCallback "
                   "or library closed since?); nothing was called", fn->name, pin->arg, type);
      return false;
    }
  }
  return true;
}

/* ---- results as a typed array ------------------------------------------ */

/* run({ into: TypedArray }) and run({ results: "typed" }) (docs/batch.md):
 * every entry's function returns one type that a TypedArray holds (the
 * kind sym.map returns), checked before any call; the results are copied
 * from the run's result words into that array as the run returns, so a
 * large batch makes no JS array of results (nor the GC of one). */
typedef struct {
  napi_value array; /* NULL: results as a JS array (the default) */
  int kind;
  cffi_type_id type;
} typed_results;

/* `wanted` is undefined (no typed results), true (a new array, given to
 * lib/batch.js as values[0]) or the caller's TypedArray. */
static bool typed_results_begin(napi_env env, napi_value wanted, cffi_function *const *fns, uint32_t fn_count,
                                uint32_t count, napi_value values, typed_results *t) {
  napi_valuetype what = napi_undefined;
  t->array = NULL;
  if (!wanted || napi_typeof(env, wanted, &what) != napi_ok || what == napi_undefined) return true;
  const cffi_function *first = NULL;
  for (uint32_t i = 0; i < fn_count; i++) {
    const cffi_function *fn = fns[i];
    if (!first) first = fn;
    else if (fn->sig.returns != first->sig.returns)
      return cffi_throw(env, "TypeError", "batch.run(): typed results need every entry to return one type: %s returns %s, %s returns %s",
                        first->name, cffi_types[first->sig.returns].name, fn->name, cffi_types[fn->sig.returns].name), false;
  }
  t->type = first ? first->sig.returns : CFFI_F64; /* an empty batch: a Float64Array of none */
  t->kind = cffi_array_type_of(t->type);
  if (t->kind < 0)
    return cffi_throw(env, "TypeError", "batch.run(): typed results: %s returns %s, which no TypedArray holds", first->name,
                      cffi_types[t->type].name), false;
  if (what == napi_boolean) {
    void *data;
    napi_value buffer;
    if (napi_create_arraybuffer(env, (size_t)count * cffi_array_element_size(t->kind), &data, &buffer) != napi_ok ||
        napi_create_typedarray(env, (napi_typedarray_type)t->kind, count, buffer, 0, &t->array) != napi_ok ||
        !define_element(env, values, 0, t->array))
      return false;
    return true;
  }
  napi_typedarray_type kind;
  size_t length = 0;
  bool is_typed = false;
  if (napi_is_typedarray(env, wanted, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, wanted, &kind, &length, NULL, NULL, NULL) != napi_ok)
    return cffi_throw(env, "TypeError", "batch.run(): into must be an Array or a TypedArray (internal)"), false;
  const bool same = !first || (int)kind == t->kind || (t->kind == napi_uint8_array && kind == napi_uint8_clamped_array);
  if (!same)
    return cffi_throw(env, "TypeError", "batch.run(): into must be %s %s for %s's %s results, received a %s",
                      cffi_array_name(t->kind)[0] == 'I' || cffi_array_name(t->kind)[0] == 'U' ? "an" : "a",
                      cffi_array_name(t->kind), first ? first->name : "an empty batch", cffi_types[t->type].name,
                      cffi_array_name(kind)), false;
  if (length != count)
    return cffi_throw(env, "RangeError", "batch.run(): into must have exactly %u elements (the batch's entries), received %zu",
                      count, length), false;
  t->array = wanted;
  return true;
}

/* The first `ran` results into the array (the rest 0: not run). The array
 * is found again: a callback during the run may have detached it. */
static bool typed_results_finish(napi_env env, const typed_results *t, const uint64_t *raw, uint32_t ran, uint32_t count) {
  void *data = NULL;
  size_t length = 0;
  if (napi_get_typedarray_info(env, t->array, NULL, &length, &data, NULL, NULL) != napi_ok || length != count ||
      (!data && count))
    return cffi_throw(env, "TypeError", "batch.run(): into was detached or resized by JavaScript during the run; its results are lost"),
           false;
  double d;
#define COPY_NUMBERS(T)                                 \
  for (uint32_t i = 0; i < ran; i++) {                  \
    memcpy(&d, &raw[i], sizeof d);                      \
    ((T *)data)[i] = (T)d;                              \
  }                                                     \
  break;
  switch (t->type) {
    case CFFI_CHAR: case CFFI_I8: COPY_NUMBERS(int8_t)
    case CFFI_U8: COPY_NUMBERS(uint8_t)
    case CFFI_I16: COPY_NUMBERS(int16_t)
    case CFFI_U16: COPY_NUMBERS(uint16_t)
    case CFFI_I32: COPY_NUMBERS(int32_t)
    case CFFI_U32: COPY_NUMBERS(uint32_t)
    case CFFI_F32: COPY_NUMBERS(float)
    case CFFI_F64: if (ran) memcpy(data, raw, (size_t)ran * sizeof *raw); break;
    case CFFI_BOOL: for (uint32_t i = 0; i < ran; i++) ((uint8_t *)data)[i] = raw[i] != 0; break;
    default: if (ran) memcpy(data, raw, (size_t)ran * sizeof *raw); break; /* 64-bit integers, pointers: the words */
  }
#undef COPY_NUMBERS
  const size_t size = cffi_array_element_size(t->kind);
  if (ran < count) memset((char *)data + (size_t)ran * size, 0, (size_t)(count - ran) * size);
  return true;
}

/* What one run works with. */
typedef struct {
  napi_value results; /* JS array: KIND_VALUE results */
  uint64_t *raw;      /* per entry: result words */
  uint8_t *kinds;     /* per entry: KIND_* */
  int32_t *errnos;    /* per entry, or NULL */
  int *errno_at;      /* this thread's errno */
  cffi_call call;     /* chained arguments' strings, until the run ends */
  /* Where the words, kinds and errnos were found (see run_arrays_attached),
   * and js_callbacks_run then. */
  cffi_env_state *state;
  unsigned flags;
  uint32_t count; /* entries the arrays must hold */
  napi_value errnos_value;
  uint32_t callbacks_seen;
  /* A staged run's stage, found again with the arrays (from_stage set). */
  bool from_stage;
  const double *stage;
  size_t stage_words;
  /* Typed results (run({ into: TypedArray })): pointer results kept as
   * their raw words (KIND_U64) instead of made JS values. */
  bool raw_values;
} run_state;

/* The run's result words, kinds and errnos found again from their arrays:
 * still attached and long enough. The raw exports take those arrays from
 * any caller (lib/native.js), who may detach one at any time JS runs:
 * before run(), or from a callback or getter during it. */
static bool run_arrays_attached(napi_env env, run_state *run) {
  const uint32_t count = run->count;
  napi_value raw_array, kinds_array;
  size_t raw_length = 0, kinds_length = 0, errno_length = 0;
  run->callbacks_seen = run->state->js_callbacks_run;
  run->raw = NULL;
  run->kinds = NULL;
  /* Typed arrays: batchResults checked their kinds, and a reference keeps them. */
  if (run->state->batch_result_raw &&
      napi_get_reference_value(env, run->state->batch_result_raw, &raw_array) == napi_ok && raw_array &&
      napi_get_reference_value(env, run->state->batch_result_kinds, &kinds_array) == napi_ok && kinds_array &&
      napi_get_typedarray_info(env, raw_array, NULL, &raw_length, (void **)&run->raw, NULL, NULL) == napi_ok)
    napi_get_typedarray_info(env, kinds_array, NULL, &kinds_length, (void **)&run->kinds, NULL, NULL);
  run->errnos = (run->flags & WITH_ERRNO) ? typed_data(env, run->errnos_value, &errno_length) : NULL;
  if (count && (!run->raw || !run->kinds || raw_length < count || kinds_length < count ||
                ((run->flags & WITH_ERRNO) && (!run->errnos || errno_length < count)))) {
    cffi_throw(env, "Error", "batchRun: internal arguments malformed (result arrays detached or too short)");
    return false;
  }
  if (run->from_stage && !(run->stage = stage_found(env, run->state, &run->stage_words))) {
    cffi_throw(env, "Error", "batchRunStaged: internal arguments malformed (staging area detached)");
    return false;
  }
  return true;
}

static napi_value earlier_result(napi_env env, const run_state *run, uint32_t entry) {
  napi_value value = NULL;
  double d;
  switch (run->kinds[entry]) {
    case KIND_NUMBER: memcpy(&d, &run->raw[entry], sizeof d); napi_create_double(env, d, &value); break;
    case KIND_I64: napi_create_bigint_int64(env, (int64_t)run->raw[entry], &value); break;
    case KIND_U64: napi_create_bigint_uint64(env, run->raw[entry], &value); break;
    case KIND_BOOL: napi_get_boolean(env, run->raw[entry] != 0, &value); break;
    case KIND_VALUE: napi_get_element(env, run->results, entry, &value); break;
    default: napi_get_undefined(env, &value); break;
  }
  return value;
}

/* The value of `type` at `address` now, as a JS value (chaining through memory). */
static napi_value read_at(napi_env env, uint64_t address, cffi_type_id type) {
  const void *p = (const void *)(uintptr_t)address;
  uint64_t raw = 0;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: raw = (uint64_t)(int64_t) * (const int8_t *)p; break;
    case CFFI_U8: case CFFI_BOOL: raw = *(const uint8_t *)p; break;
    case CFFI_I16: raw = (uint64_t)(int64_t) * (const int16_t *)p; break;
    case CFFI_U16: raw = *(const uint16_t *)p; break;
    case CFFI_I32: raw = (uint64_t)(int64_t) * (const int32_t *)p; break;
    case CFFI_U32: case CFFI_F32: raw = *(const uint32_t *)p; break;
    case CFFI_PTR: raw = (uintptr_t) * (void *const *)p; break;
    default: memcpy(&raw, p, sizeof raw); break; /* 64-bit types (checked at add()) */
  }
  return cffi_types[type].to_js(env, raw);
}

/* A chained entry's b.result()/b.deref() arguments, converted now. */
static bool resolve_chain(napi_env env, napi_value handle, run_state *run, batch_commands *c, const batch_entry *e,
                          const batch_extra *x, uint32_t entry, uint64_t *words) {
  const cffi_function *fn = entry_fn(c, e);
  for (uint32_t q = 0; q < x->ref_count; q++) {
    const batch_ref *r = &c->chain[x->ref_at + q];
    if (r->arg >= fn->sig.nargs) continue;
    napi_value value;
    if (r->kind == REF_RESULT) {
      if (r->operand >= entry) {
        cffi_throw(env, "RangeError", "args[%u]: b.result(%llu) is not an earlier entry", r->arg,
                   (unsigned long long)r->operand);
        return false;
      }
      value = earlier_result(env, run, (uint32_t)r->operand);
    } else {
      if (r->view_index) {
        /* The view b.deref() was given: still where and at least as long as at add() (JS may have run since). */
        napi_value view;
        void *data = NULL;
        size_t length = 0;
        if (napi_get_element(env, handle, r->view_index - 1, &view) != napi_ok ||
            !cffi_plain_view_info(env, view, &data, &length) || data != r->view_data || length < r->view_length) {
          cffi_throw(env, "TypeError", "args[%u]: the memory b.deref() reads was detached or shrunk during the run (by a "
                     "callback?); this entry was not called", r->arg);
          return false;
        }
      }
      value = read_at(env, r->operand, r->type);
    }
    if (!value) return false;
    run->call.index = r->arg;
    run->call.type = fn->sig.args[r->arg];
    run->call.symbol = fn->name;
    if (!cffi_types[run->call.type].to_c(&run->call, value, &words[r->arg])) return false;
  }
  return true;
}

/* What follows an entry's call: the work a callback left, the arrays found
 * again when JS ran, the entry's errno, and its result stored for
 * lib/batch.js. False with an exception pending. */
static inline __attribute__((always_inline)) bool store_result(napi_env env, cffi_function *fn, const batch_plan *plan,
                                                               uint64_t raw, run_state *run, uint32_t entry, unsigned flags,
                                                               bool *stopped) {
  cffi_env_state *state = run->state;
  const cffi_signature *sig = &fn->sig;
  if (CFFI_UNLIKELY(state->cleanup_depth > state->call_depth) && cffi_callbacks_cleanup(env, state)) return false;
  /* A callback ran JS: the arrays may be detached. */
  if (CFFI_UNLIKELY(state->js_callbacks_run != run->callbacks_seen) && !run_arrays_attached(env, run)) return false;
  if (run->errnos) run->errnos[entry] = state->last_errno;
  const uint8_t kind = plan->kind;
  run->kinds[entry] = kind;
  if (CFFI_UNLIKELY(kind == KIND_VALUE) && run->raw_values) {
    run->kinds[entry] = KIND_U64;
    run->raw[entry] = raw;
  } else if (CFFI_UNLIKELY(kind == KIND_VALUE)) {
    napi_value result = cffi_jit_result(env, fn, raw);
    if (!result) return false;
    define_element(env, run->results, entry, result);
  } else if (CFFI_LIKELY(plan->word == WORD_RAW)) {
    run->raw[entry] = raw;
  } else if (plan->word == WORD_I32) {
    const double d = (int32_t)raw;
    memcpy(&run->raw[entry], &d, sizeof d);
  } else {
    run->raw[entry] = result_word(sig->returns, kind, raw);
  }
  if ((flags & (STOP_NONZERO | STOP_NEGATIVE)) && raw_stops(sig->returns, raw, flags)) *stopped = true;
  return true;
}

/* One entry's call (the synchronous call's bookkeeping and register call,
 * inlined here) and its result stored for lib/batch.js. False with an
 * exception pending. */
static inline __attribute__((always_inline)) bool call_and_store(napi_env env, cffi_function *fn, const batch_plan *plan,
                                                                 const uint64_t *words, uint64_t *regs, run_state *run,
                                                                 uint32_t entry, unsigned flags, bool *stopped) {
  int *errno_at = run->errno_at;
  const cffi_signature *sig = &fn->sig;
  cffi_env_state *state = fn->state;
  uint64_t raw;
  start_call_at(state, sig->takes_env, errno_at);
  if (CFFI_LIKELY(plan->invoke != NULL)) {
    raw = plan->invoke(fn->address, words);
  } else if (sig->engine == CFFI_ENGINE_REGISTERS && !sig->variadic) {
    for (unsigned k = 0; k < sig->nargs; k++) regs[sig->dest[k]] = words[k];
    raw = register_call(fn->address, regs, sig->float_regs, cffi_types[sig->returns].reg == CFFI_CLASS_FLOAT);
  } else if (sig->engine == CFFI_ENGINE_REGISTERS) {
    for (unsigned k = 0; k < sig->nargs; k++) regs[sig->dest[k]] = words[k];
    raw = cffi_call_slots(sig, fn->address, regs);
  } else {
    raw = cffi_call_slots(sig, fn->address, words);
  }
  end_call_at(state, sig->takes_env, errno_at);
  return store_result(env, fn, plan, raw, run, entry, flags, stopped);
}

/* ---- runs of one function ------------------------------------------------ */

/* Consecutive entries of one function whose plan has a loop (up to two
 * i32/u32, i64/u64 or f64 arguments) run through sym.map's precompiled
 * loop over their argument images, SEGMENT at a time: the call's
 * bookkeeping (call depth, errno) once per segment instead of per entry,
 * and no indirect call per entry. Not with stopOn or errno: true (they
 * need each entry's result and errno as it returns). The loop returns after
 * a call during which a callback ran JS (its result held), so the arrays
 * are found again before anything is stored, as call_and_store does. */
#define SEGMENT 256
static bool run_segment(napi_env env, cffi_function *fn, const batch_plan *plan, const uint64_t *images,
                        unsigned stride_words, uint32_t n, run_state *run, uint32_t entry, uint32_t *ran) {
  union {
    int32_t w[SEGMENT];
    int64_t l[SEGMENT];
    double d[SEGMENT];
  } out;
  uint64_t held = 0;
  cffi_env_state *state = fn->state;
  cffi_map_frame frame = {fn->address, state, {NULL, NULL}, {0, 0}, &out, &held};
  for (unsigned k = 0; k < fn->sig.nargs; k++) {
    frame.arg[k] = (const char *)(images + k);
    frame.stride[k] = (size_t)stride_words * sizeof *images;
  }
  const uint32_t done = (uint32_t)plan->loop(&frame, 0, n);
  *ran = done;
  const bool js_ran = state->js_callbacks_run != run->callbacks_seen;
  if (CFFI_UNLIKELY(state->cleanup_depth > state->call_depth) && cffi_callbacks_cleanup(env, state)) return false;
  if (CFFI_UNLIKELY(js_ran) && !run_arrays_attached(env, run)) return false;
  const cffi_type_id returns = fn->sig.returns;
  const uint8_t kind = plan->kind;
  uint64_t *raw = run->raw + entry;
  uint8_t *kinds = run->kinds + entry;
  const uint32_t from_out = js_ran ? done - 1 : done;
  switch (plan->loop_result) {
    case 1: for (uint32_t i = 0; i < from_out; i++) raw[i] = result_word(returns, kind, (uint32_t)out.w[i]); break;
    case 2: for (uint32_t i = 0; i < from_out; i++) raw[i] = (uint64_t)out.l[i]; break; /* I64, U64: the bits */
    case 3: for (uint32_t i = 0; i < from_out; i++) raw[i] = image_d(out.d[i]); break;
    default: for (uint32_t i = 0; i < from_out; i++) raw[i] = 0; break;
  }
  if (js_ran) raw[done - 1] = plan->loop_result == 0 ? 0 : result_word(returns, kind, held);
  memset(kinds, kind, done);
  return true;
}

/* One entry: checks, call, result. False with an exception pending. */
static inline bool run_entry(napi_env env, napi_value handle, run_state *run, batch_commands *c, uint32_t entry,
                             uint64_t *regs, bool *recheck_objects, unsigned flags, bool *stopped) {
  const batch_entry *e = &c->entries[entry];
  cffi_function *fn = entry_fn(c, e);
  const batch_plan *plan = &c->plans[e->fn_index];
  const cffi_signature *sig = &fn->sig;
  if (CFFI_UNLIKELY(!fn->owner->open)) return cffi_jit_closed(env, fn), false;
  const uint64_t *words = &c->words[e->word_at];
  uint64_t chained[CFFI_MAX_ARGS];
  if (CFFI_UNLIKELY(e->extra != 0)) {
    const batch_extra *x = &c->extras[e->extra - 1];
    if (*recheck_objects == false && fn->state->closes != c->closes_seen) *recheck_objects = true;
    if (!pins_still_valid(env, handle, c, e, x, *recheck_objects)) return false;
    if (x->ref_count) {
      memcpy(chained, words, sig->nargs * sizeof *words);
      if (!resolve_chain(env, handle, run, c, e, x, entry, chained)) return false;
      words = chained;
    }
    /* A .ptr getter the checks ran may have closed the library, or detached the result arrays. */
    if (CFFI_UNLIKELY(!fn->owner->open)) return cffi_jit_closed(env, fn), false;
    if (!run_arrays_attached(env, run)) return false;
  }
  return call_and_store(env, fn, plan, words, regs, run, entry, flags, stopped);
}

#define NESTED_RUN_MESSAGE "batch.run() was called while a batch runs on this thread (from a callback); batches do not nest"

/* batchResults(raw: Float64Array, kinds: Uint8Array): where run() writes
 * each entry's result word and kind (as long as each other), for every
 * batch of this thread; lib/batch.js keeps both alive. */
static napi_value batch_results(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2, raw_length = 0, kinds_length = 0;
  napi_typedarray_type raw_type, kinds_type;
  void *raw = NULL, *kinds = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool raw_is_array = false, kinds_is_array = false;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &raw_is_array) != napi_ok || !raw_is_array ||
      napi_is_typedarray(env, argv[1], &kinds_is_array) != napi_ok || !kinds_is_array)
    return cffi_throw(env, "Error", "batchResults: internal arguments malformed");
  napi_get_typedarray_info(env, argv[0], &raw_type, &raw_length, &raw, NULL, NULL);
  napi_get_typedarray_info(env, argv[1], &kinds_type, &kinds_length, &kinds, NULL, NULL);
  if (raw_type != napi_float64_array || kinds_type != napi_uint8_array || raw_length != kinds_length || !raw || !kinds)
    return cffi_throw(env, "Error", "batchResults: internal arguments malformed");
  /* A callback's run() that needs more: the outer run writes into the current ones. */
  cffi_env_state *state = state_of(env);
  if (state->running_batches) return cffi_throw(env, "Error", NESTED_RUN_MESSAGE);
  napi_ref raw_ref, kinds_ref;
  if (napi_create_reference(env, argv[0], 1, &raw_ref) != napi_ok) return NULL;
  if (napi_create_reference(env, argv[1], 1, &kinds_ref) != napi_ok) {
    napi_delete_reference(env, raw_ref);
    return NULL;
  }
  if (state->batch_result_raw) napi_delete_reference(env, state->batch_result_raw);
  if (state->batch_result_kinds) napi_delete_reference(env, state->batch_result_kinds);
  state->batch_result_raw = raw_ref;
  state->batch_result_kinds = kinds_ref;
  return NULL;
}

/* batchRun.call(handle, results, errnos: Int32Array | undefined): runs every entry in order into the words and kinds
 * batchResults gave; returns how many ran, negated when a result stopped
 * the run. */
static napi_value batch_run(napi_env env, napi_callback_info info) {
  napi_value argv[3] = {NULL, NULL, NULL}, handle;
  size_t argc = 3;
  napi_get_cb_info(env, info, &argc, argv, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h || !flush_stage(env, handle, h)) return NULL;
  report_memory(env, h);
  if (h->state->running_batches) return cffi_throw(env, "Error", NESTED_RUN_MESSAGE);
  batch_commands *c = h->commands;
  const uint32_t count = c->entries_count;
  run_state run = {.results = argv[0], .errno_at = &errno, .state = h->state, .flags = h->flags, .count = count,
                   .errnos_value = argv[1]};
  typed_results typed;
  if (!typed_results_begin(env, argv[2], c->fns, c->fns_count, count, argv[0], &typed)) return NULL;
  run.raw_values = typed.array != NULL;
  if (!run_arrays_attached(env, &run)) return NULL;
  cffi_call_init(&run.call, env, "batch");
  run.call.scratch_used = CFFI_STRING_SCRATCH;
  c->refs++; /* a callback may add() meanwhile: it copies */
  h->state->running_batches++;
  h->running++;
  uint64_t regs[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1] = {0};
  bool stopped = false, ok = true, recheck_objects = false;
  uint32_t entry = 0;
  const bool segments = !(h->flags & (STOP_NONZERO | STOP_NEGATIVE | WITH_ERRNO));
  for (; entry < count && !stopped; entry++) {
    const batch_entry *e = &c->entries[entry];
    /* The next entry's function first: in a mixed batch it differs, and nothing else is read. */
    if (entry + 1 < count && e[1].fn_index == e->fn_index && segments && c->plans[e->fn_index].loop && !e->extra && !e[1].extra) {
      cffi_function *fn = entry_fn(c, e);
      uint32_t n = 2, ran = 0;
      while (n < SEGMENT && entry + n < count && e[n].fn_index == e->fn_index && !e[n].extra) n++;
      if (CFFI_UNLIKELY(!fn->owner->open)) ok = (cffi_jit_closed(env, fn), false);
      else ok = run_segment(env, fn, &c->plans[e->fn_index], &c->words[e->word_at], fn->sig.nargs, n, &run, entry, &ran);
      if (ran) entry += ran - 1;
      if (!ok) {
        name_entry_in_error(env, entry);
        break;
      }
      continue;
    }
    if (CFFI_UNLIKELY(!run_entry(env, handle, &run, c, entry, regs, &recheck_objects, h->flags, &stopped))) {
      name_entry_in_error(env, entry);
      ok = false;
      break;
    }
  }
  if (ok && recheck_objects) c->closes_seen = h->state->closes;
  h->state->running_batches--;
  h->running--;
  cffi_call_release(&run.call);
  commands_release(c);
  if (ok && typed.array) ok = run_arrays_attached(env, &run) && typed_results_finish(env, &typed, run.raw, entry, count);
  if (!ok) return NULL;
  napi_value ran;
  napi_create_int64(env, stopped ? -(int64_t)entry : (int64_t)entry, &ran);
  return ran;
}

/* ---- run straight from the stage --------------------------------------- */

/* batchRunStaged(results, errnos, flags, count, typed, list, listed): a batch with no
 * native side yet, all of whose entries are in the stage (lib/batch.js),
 * runs them from there: no native object, no copy of the entries (a batch
 * built and run once writes them only to the thread's warm stage). Each
 * staged header names its function by slot (batch_slot), whose plan was
 * made once, so the run reads nothing else of the batch (typed results
 * read `list`, the functions it lists, to check they return one type). lib/batch.js
 * keeps the stage as it is while this runs: a callback may append entries
 * to it (they run next time) but another batch cannot take it. Same
 * results and errors as batchRun. */
static napi_value batch_run_staged(napi_env env, napi_callback_info info) {
  napi_value argv[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  size_t argc = 7;
  double flags_number = 0;
  uint32_t count = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4 || napi_get_value_double(env, argv[2], &flags_number) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok)
    return cffi_throw(env, "Error", "batchRunStaged: internal arguments malformed");
  cffi_env_state *state = state_of(env);
  if (state->running_batches) return cffi_throw(env, "Error", NESTED_RUN_MESSAGE);
  const unsigned flags = (unsigned)flags_number;
  run_state run = {.results = argv[0], .errno_at = &errno, .state = state, .flags = flags, .count = count,
                   .errnos_value = argv[1], .from_stage = true};
  if (!run_arrays_attached(env, &run)) return NULL;
  typed_results typed = {NULL, 0, CFFI_VOID};
  napi_valuetype wanted = napi_undefined;
  if (argc >= 5 && napi_typeof(env, argv[4], &wanted) == napi_ok && wanted != napi_undefined) {
    /* Typed results: the functions the batch lists (argv[5], its first argv[6] elements) return one type. */
    napi_value list = argc >= 7 ? argv[5] : NULL, sym;
    uint32_t listed = 0;
    if (!list || napi_get_value_uint32(env, argv[6], &listed) != napi_ok)
      return cffi_throw(env, "Error", "batchRunStaged: internal arguments malformed");
    cffi_function *few[16];
    cffi_function **fns = listed <= 16 ? few : malloc((size_t)listed * sizeof *fns);
    if (!fns) return throw_oom(env), NULL;
    bool found = true;
    for (uint32_t i = 0; found && i < listed; i++)
      found = napi_get_element(env, list, i, &sym) == napi_ok && (fns[i] = cffi_bound_function_of(env, sym)) != NULL;
    if (!found) cffi_throw(env, "Error", "batch: staged function malformed (internal)");
    run.raw_values = true;
    found = found && typed_results_begin(env, argv[4], fns, listed, count, argv[0], &typed);
    if (fns != few) free(fns);
    /* Found again after the list's elements were read (a raw caller's getter may detach them). */
    if (!found || !run_arrays_attached(env, &run)) return NULL;
  }
  const double *stage = run.stage;
  const size_t used = (size_t)stage[0]; /* entries a callback stages meanwhile run next time */
  size_t end = used < run.stage_words ? used : run.stage_words;
  uint64_t regs[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1] = {0};
  uint32_t entry = 0;
  bool ok = true, stopped = false;
  bool named = false; /* internal errors are not an entry's */
  const bool segments = !(flags & (STOP_NONZERO | STOP_NEGATIVE | WITH_ERRNO));
  state->running_batches++;
  for (size_t at = 1; !stopped && at < end; entry++) {
    const uint64_t header = staged_header(stage[at]);
    const struct batch_slot *s = staged_slot(state, header);
    if (CFFI_UNLIKELY(!s || entry >= count || at + 1 + s->fn->sig.nargs > end)) {
      ok = (cffi_throw(env, "Error", "batch: staged entry malformed (internal)"), false);
      break;
    }
    cffi_function *fn = s->fn;
    const unsigned nargs = fn->sig.nargs;
    const unsigned bigints = (unsigned)(header & 0xff);
    const size_t second = at + 1 + nargs;
    const uint64_t *bits = (const uint64_t *)stage;
    /* The next entry of the same function (its header word equal: the same bigints too, the commonest case) starts a segment. */
    if (s->plan.loop && second < end && stage[second] == stage[at] && segments) {
      /* A run of entries of fn: their images, then its loop (see run_segment). */
      uint64_t images[SEGMENT * 2];
      const batch_plan plan = s->plan; /* a callback's add() of a new function may move the slots */
      uint32_t n = 0, ran = 0;
      /* Entries whose header word is this one's (the same function, the same bigints): loop plans take
       * i32/u32, i64/u64 and f64 arguments only, so each image is its class's (see staged_invokers). */
      const int first = nargs >= 1 ? staged_class(fn->sig.args[0]) : 0, last = nargs == 2 ? staged_class(fn->sig.args[1]) : 0;
      for (size_t next = at; n < SEGMENT && entry + n < count && next + 1 + nargs <= end && stage[next] == stage[at];
           next += 1 + nargs, n++) {
        const double *w = stage + next + 1;
        if (nargs >= 1) images[n * nargs] = first == 2 ? bits[next + 1] : first == 1 ? staged_bits(w, 0, bigints)
                                                                            : (uint64_t)(int64_t)(int32_t)staged_bits(w, 0, bigints);
        if (nargs == 2) images[n * 2 + 1] = last == 2 ? bits[next + 2] : last == 1 ? staged_bits(w, 1, bigints)
                                                                          : (uint64_t)(int64_t)(int32_t)staged_bits(w, 1, bigints);
      }
      if (CFFI_UNLIKELY(!fn->owner->open)) ok = (cffi_jit_closed(env, fn), false);
      else ok = run_segment(env, fn, &plan, images, nargs, n, &run, entry, &ran);
      at += (size_t)ran * (1 + nargs);
      if (ran) entry += ran - 1;
    } else if (CFFI_LIKELY(s->staged != NULL)) {
      /* The call straight from the staged words (see staged_invokers), with the synchronous call's bookkeeping. */
      const batch_plan plan = s->plan; /* a callback's add() of a new function may move the slots */
      const staged_invoke_fn invoke = s->staged;
      const double *w = stage + at + 1;
      at = second;
      if (CFFI_UNLIKELY(!fn->owner->open)) ok = (cffi_jit_closed(env, fn), false);
      else {
        start_call_at(state, false, run.errno_at);
        const uint64_t raw = invoke(fn->address, w, bigints);
        end_call_at(state, false, run.errno_at);
        ok = store_result(env, fn, &plan, raw, &run, entry, flags, &stopped);
      }
    } else {
      uint64_t words[8];
      for (unsigned k = 0; k < nargs; k++)
        words[k] = staged_image(fn->sig.args[k], stage[at + 1 + k], bits[at + 1 + k], (bigints >> k) & 1);
      at = second;
      const batch_plan plan = s->plan;
      if (CFFI_UNLIKELY(!fn->owner->open)) ok = (cffi_jit_closed(env, fn), false);
      else ok = call_and_store(env, fn, &plan, words, regs, &run, entry, flags, &stopped);
    }
    if (!ok) {
      named = true;
      break;
    }
    /* A callback ran JS: the stage was found again (a grown one holds the same words). */
    if (CFFI_UNLIKELY(stage != run.stage || end != (used < run.stage_words ? used : run.stage_words))) {
      stage = run.stage;
      end = used < run.stage_words ? used : run.stage_words;
    }
  }
  state->running_batches--;
  if (!ok) {
    if (named) name_entry_in_error(env, entry);
    return NULL;
  }
  if (typed.array && !(run_arrays_attached(env, &run) && typed_results_finish(env, &typed, run.raw, entry, count))) return NULL;
  napi_value ran;
  napi_create_int64(env, stopped ? -(int64_t)entry : (int64_t)entry, &ran);
  return ran;
}

/* ---- runAsync: the same buffer on the shared pool ---------------------- */

typedef struct {
  cffi_async_job job; /* first */
  napi_deferred deferred;
  batch_commands *commands; /* a reference of its own */
  napi_ref kept;            /* a copy of the handle's values: functions and objects */
  cffi_owner **owners;      /* distinct, each pinned as a prepared call pins it */
  uint32_t owner_count;
  unsigned flags;
  uint32_t count, ran;
  int64_t stopped_at;
  int64_t closed_at;        /* an entry whose library was closed meanwhile, or -1 */
  uint64_t *raw;
  int32_t *errnos;
} async_batch;

static void free_async_batch(napi_env env, async_batch *ab) {
  if (env) {
    for (uint32_t i = 0; i < ab->owner_count; i++) cffi_owner_async_done(ab->owners[i]);
    if (ab->kept) napi_delete_reference(env, ab->kept);
    commands_release(ab->commands);
  }
  /* With the env gone, its references and the handle went with it; the
   * owners stay pinned (a library stays loaded until a close() that can no
   * longer come). The buffer is the handle's too: its finalizer may already
   * have run, or never will. */
  free(ab->owners);
  free(ab->raw);
  free(ab->errnos);
  free(ab);
}

static void run_async_batch(cffi_pool_job *job) {
  async_batch *ab = (async_batch *)job;
  const batch_commands *c = ab->commands;
  uint64_t regs[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1] = {0};
  for (uint32_t i = 0; i < ab->count; i++) {
    const batch_entry *e = &c->entries[i];
    const cffi_function *fn = entry_fn(c, e);
    const cffi_signature *sig = &fn->sig;
    /* close() on the JS thread meanwhile refuses later entries (the code stays loaded). */
    if (!__atomic_load_n(&fn->owner->open, __ATOMIC_RELAXED)) {
      ab->closed_at = i;
      break;
    }
    const uint64_t *words = &c->words[e->word_at];
    errno = 0;
#ifdef _WIN32
    SetLastError(0);
#endif
    uint64_t raw;
    if (sig->engine == CFFI_ENGINE_REGISTERS) {
      for (unsigned k = 0; k < sig->nargs; k++) regs[sig->dest[k]] = words[k];
      raw = cffi_call_slots(sig, fn->address, regs);
    } else {
      raw = cffi_call_slots(sig, fn->address, words);
    }
    if (ab->errnos) ab->errnos[i] = errno;
    ab->raw[i] = raw;
    ab->ran = i + 1;
    if ((ab->flags & (STOP_NONZERO | STOP_NEGATIVE)) && raw_stops(sig->returns, raw, ab->flags)) {
      ab->stopped_at = i;
      break;
    }
  }
  cffi_async_finish(&ab->job);
}

static napi_value new_typed(napi_env env, napi_typedarray_type type, size_t count, size_t size, void **data) {
  napi_value buffer, array = NULL;
  if (napi_create_arraybuffer(env, count * size, data, &buffer) != napi_ok ||
      napi_create_typedarray(env, type, count, buffer, 0, &array) != napi_ok)
    return NULL;
  return array;
}

/* Resolves with { ran, stoppedAt, raw, kinds, values, errno }, which
 * lib/batch.js shapes as run() does. */
static void settle_async_batch(napi_env env, cffi_async_job *job) {
  async_batch *ab = (async_batch *)job;
  if (env) {
    napi_value out, value, values, raw_array, kinds_array, errnos = NULL;
    void *raw_data = NULL, *kinds_data = NULL, *errno_data = NULL;
    const batch_commands *c = ab->commands;
    bool ok = napi_create_object(env, &out) == napi_ok && napi_create_array(env, &values) == napi_ok &&
              (raw_array = new_typed(env, napi_float64_array, ab->count, 8, &raw_data)) != NULL &&
              (kinds_array = new_typed(env, napi_uint8_array, ab->count, 1, &kinds_data)) != NULL;
    if (ok && ab->errnos) {
      ok = (errnos = new_typed(env, napi_int32_array, ab->count, 4, &errno_data)) != NULL;
      if (ok) memcpy(errno_data, ab->errnos, ab->count * sizeof(int32_t));
    }
    for (uint32_t i = 0; ok && i < ab->ran; i++) {
      cffi_function *fn = entry_fn(c, &c->entries[i]);
      const uint8_t kind = result_kind_of(fn->sig.returns);
      ((uint8_t *)kinds_data)[i] = kind;
      if (kind == KIND_VALUE) {
        napi_value result = cffi_jit_result(env, fn, ab->raw[i]);
        if (!result) ok = false;
        else define_element(env, values, i, result);
      } else {
        ((uint64_t *)raw_data)[i] = result_word(fn->sig.returns, kind, ab->raw[i]);
      }
    }
    if (ok && ab->closed_at >= 0) {
      cffi_jit_closed(env, entry_fn(c, &c->entries[ab->closed_at]));
      name_entry_in_error(env, (uint32_t)ab->closed_at);
      ok = false;
    }
    if (ok) {
      napi_create_uint32(env, ab->ran, &value);
      napi_set_named_property(env, out, "ran", value);
      napi_create_int64(env, ab->stopped_at, &value);
      napi_set_named_property(env, out, "stoppedAt", value);
      napi_set_named_property(env, out, "raw", raw_array);
      napi_set_named_property(env, out, "kinds", kinds_array);
      napi_set_named_property(env, out, "values", values);
      if (errnos) napi_set_named_property(env, out, "errno", errnos);
    }
    cffi_settle_deferred(env, ab->deferred, out);
  }
  free_async_batch(env, ab);
}

/* batchRunAsync.call(handle, keptCopy): a Promise; bad input throws before
 * anything is queued (lib/batch.js turns that into a rejection). */
static napi_value batch_run_async(napi_env env, napi_callback_info info) {
  napi_value argv[1], handle;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, &handle, NULL);
  batch_handle *h = handle_of(env, handle);
  if (!h || !flush_stage(env, handle, h)) return NULL;
  if (argc < 1) return cffi_throw(env, "TypeError", "batchRunAsync: internal arguments missing");
  batch_commands *c = h->commands;
  if (c->first_chained != UINT32_MAX) {
    const cffi_function *fn = entry_fn(c, &c->entries[c->first_chained]);
    cffi_throw(env, "TypeError", "%s: b.result() and b.deref() arguments run only in run(), not runAsync()", fn->name);
    name_entry_in_error(env, c->first_chained);
    return NULL;
  }
  /* The async rules, checked now (docs/async.md): no napi_env, no detached
   * or resizable buffer, buffers untransferable until the run ends. */
  const bool recheck_objects = h->state->closes != c->closes_seen;
  /* The run's reference, taken now: a .ptr getter the checks run may add()
   * (growing the buffer) or clear() (freeing it); either goes to a copy. */
  c->refs++;
  /* Buffers made untransferable (and resizable ones refused) first: the
   * markAsUntransferable and getter taken at load may be a user's, whose
   * JS could detach a view; the checks below then see that. */
  for (uint32_t i = 0; i < c->entries_count; i++) {
    const batch_entry *e = &c->entries[i];
    if (!e->extra) continue;
    const batch_extra *x = &c->extras[e->extra - 1];
    for (uint32_t p = 0; p < x->pin_count; p++) {
      const batch_pin *pin = &c->pins[x->pin_at + p];
      napi_value value;
      if (pin->kind != PIN_VIEW || napi_get_element(env, argv[0], pin->handle_index, &value) != napi_ok) continue;
      cffi_function *fn = entry_fn(c, e);
      if (cffi_async_keep_buffer(env, value, fn->name, pin->arg, cffi_types[fn->sig.args[pin->arg]].name)) continue;
      commands_release(c);
      name_entry_in_error(env, i);
      return NULL;
    }
  }
  for (uint32_t i = 0; i < c->entries_count; i++) {
    const batch_entry *e = &c->entries[i];
    cffi_function *fn = entry_fn(c, e);
    bool ok = fn->owner->open || (cffi_jit_closed(env, fn), false);
    if (ok && fn->sig.takes_env)
      ok = (cffi_throw(env, "TypeError", "%s cannot be called asynchronously: it takes a napi_env, which belongs to the JS thread",
                       fn->name), false);
    if (ok && fn->sig.returns == CFFI_NAPI_VALUE)
      ok = (cffi_throw(env, "TypeError", "%s cannot be called asynchronously: it returns napi_value, which belongs to the JS thread",
                       fn->name), false);
    if (ok && e->extra) {
      const batch_extra *x = &c->extras[e->extra - 1];
      /* From the copy of the handle's values: a getter's clear() empties the handle. */
      ok = pins_still_valid(env, argv[0], c, e, x, recheck_objects);
    }
    if (!ok) {
      commands_release(c);
      name_entry_in_error(env, i);
      return NULL;
    }
  }
  if (recheck_objects) c->closes_seen = h->state->closes;
  async_batch *ab = calloc(1, sizeof *ab);
  const uint32_t count = c->entries_count;
  if (!ab || !(ab->raw = malloc((count ? count : 1) * sizeof *ab->raw)) ||
      ((h->flags & WITH_ERRNO) && !(ab->errnos = calloc(count ? count : 1, sizeof *ab->errnos))) ||
      !(ab->owners = malloc((c->fns_count ? c->fns_count : 1) * sizeof *ab->owners))) {
    if (ab) free(ab->raw), free(ab->errnos), free(ab->owners);
    free(ab);
    commands_release(c);
    return throw_oom(env), NULL;
  }
  ab->count = count;
  ab->flags = h->flags;
  ab->stopped_at = -1;
  ab->closed_at = -1;
  ab->commands = c; /* the reference taken before the checks */
  for (uint32_t i = 0; i < c->fns_count; i++) {
    cffi_owner *owner = c->fns[i]->owner;
    bool seen = false;
    for (uint32_t j = 0; j < ab->owner_count && !seen; j++) seen = ab->owners[j] == owner;
    if (seen) continue;
    owner->refs++;
    owner->async_calls++;
    ab->owners[ab->owner_count++] = owner;
  }
  cffi_pool *pool = cffi_pool_shared();
  napi_value promise;
  if (!pool) {
    free_async_batch(env, ab);
    return cffi_throw(env, "RangeError", "cffi-bun: out of memory starting the thread pool");
  }
  if (napi_create_reference(env, argv[0], 1, &ab->kept) != napi_ok ||
      napi_create_promise(env, &ab->deferred, &promise) != napi_ok) {
    free_async_batch(env, ab);
    return NULL;
  }
  ab->job.pool_job.run = run_async_batch;
  if (!cffi_async_begin(env, &ab->job, settle_async_batch)) {
    free_async_batch(env, ab);
    return NULL; /* the Promise is never returned: the exception is */
  }
  if (!cffi_pool_submit(pool, &ab->job.pool_job)) {
    cffi_async_abandon(env, &ab->job);
    free_async_batch(env, ab);
    return cffi_throw(env, "Error", "batch.runAsync(): no thread could be started");
  }
  return promise;
}

void cffi_make_batch_buffer_exports(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"batchNew", NULL, batch_new, NULL, NULL, NULL, napi_default, NULL},
      {"batchStage", NULL, batch_stage, NULL, NULL, NULL, napi_default, NULL},
      {"batchStageKinds", NULL, batch_stage_kinds, NULL, NULL, NULL, napi_default, NULL},
      {"batchSlot", NULL, batch_slot_export, NULL, NULL, NULL, napi_default, NULL},
      {"batchAdd", NULL, batch_add, NULL, NULL, NULL, napi_default, NULL},
      {"batchAddChained", NULL, batch_add_chained, NULL, NULL, NULL, napi_default, NULL},
      {"batchFlush", NULL, batch_flush, NULL, NULL, NULL, napi_default, NULL},
      {"batchClear", NULL, batch_clear, NULL, NULL, NULL, napi_default, NULL},
      {"batchRun", NULL, batch_run, NULL, NULL, NULL, napi_default, NULL},
      {"batchRunStaged", NULL, batch_run_staged, NULL, NULL, NULL, napi_default, NULL},
      {"batchResults", NULL, batch_results, NULL, NULL, NULL, napi_default, NULL},
      {"batchRunAsync", NULL, batch_run_async, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
