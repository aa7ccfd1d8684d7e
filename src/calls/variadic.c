/*
 * variadic.c - variadic C functions (printf, open, fcntl, ioctl).
 *
 * Owns: the "..." marker at the end of a definition's args, C's default
 * argument promotions for the variadic tail, the register engine's call of
 * a variadic function, and .with(...types): the callable for one list of
 * tail types, made once and kept in a small per-symbol cache.
 *
 * Why per call site: C passes a variadic argument by its type (an int and
 * a pointer differ on every 64-bit ABI, a double goes in another register
 * file), and a JS value does not say which C type it stands for (a pointer
 * is a number). So the types are declared, never guessed: the variadic
 * symbol itself takes its fixed arguments only, and refuses more.
 *
 * Promotions: a tail declared f32 is converted to float (rounded as C
 * would) and passed as double; i8/u8/i16/u16/char/bool are wrapped to
 * their type and passed as int. That is what a C caller passing such a
 * value does, and what va_arg(ap, double) / va_arg(ap, int) read. libffi's
 * ffi_prep_cif_var refuses the unpromoted types, so its descriptors are the
 * promoted ones; the jit wrappers get the promotions from the compiler,
 * since they call through the real `...` prototype (src/calls/jit.c).
 *
 * Engines: libffi (ffi_prep_cif_var) everywhere; the jit wrappers where the
 * jit exists; the register engine only where variadic arguments travel as
 * named ones do (CFFI_VARIADIC_REGISTER_CALLS, src/platform/platform.h),
 * with %al set on x86-64 System V. Every variadic call takes the general
 * path of src/calls/call.c, which checks the argument count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

/* Tail type lists kept per symbol; the least recently used one goes when a
 * new one comes. A callable dropped from the cache keeps working. The cache
 * holds its callables weakly: one JS no longer holds is collected in the
 * same GC as any other function (a strong reference would keep it, and all
 * it holds, for a GC cycle after the symbol's own), and asking again makes
 * a new one. */
#define VARIADIC_CACHE_SIZE 16

bool cffi_variadic_mark(napi_env env, napi_value args, uint32_t *count, const char *symbol,
                        cffi_signature *sig) {
  napi_value last;
  napi_valuetype t;
  char text[4];
  size_t len;
  if (*count == 0 || napi_get_element(env, args, *count - 1, &last) != napi_ok) return *count == 0;
  if (napi_typeof(env, last, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, last, text, sizeof text, &len) != napi_ok || len != 3 ||
      strcmp(text, "...") != 0)
    return true;
  if (*count == 1) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_VALUE,
                    "Symbol \"%s\": \"...\" needs at least one fixed argument before it (C has no variadic "
                    "function without a named parameter)", symbol);
    return false;
  }
  *count -= 1;
  sig->variadic = true;
  sig->fixed = (uint8_t)*count;
  return true;
}

/* The C type a tail argument travels as: int for the narrower integers,
 * double for float, itself otherwise. */
static ffi_type *promoted_ffi(uint8_t type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_BOOL:
      return &ffi_type_sint32;
    case CFFI_F32: return &ffi_type_double;
    default: return cffi_types[type].ffi;
  }
}

void cffi_variadic_promote_types(cffi_signature *sig) {
  for (unsigned i = sig->fixed; i < sig->nargs; i++) sig->ffi_args[i] = promoted_ffi(sig->args[i]);
}

/* Integer images are already sign- or zero-extended to 64 bits, which is
 * the promoted int's image too; only float needs widening. */
void cffi_variadic_promote_values(const cffi_signature *sig, uint64_t *slots) {
  for (unsigned i = sig->fixed; i < sig->nargs; i++) {
    if (sig->args[i] != CFFI_F32) continue;
    uint64_t *slot = &slots[sig->dest[i]];
    uint32_t bits = (uint32_t)*slot;
    float f;
    memcpy(&f, &bits, sizeof f);
    double d = f;
    memcpy(slot, &d, sizeof d);
  }
}

#if CFFI_VARIADIC_SETS_AL
/* Called through a `...` prototype, the compiler sets %al: 0 when only
 * integer registers are loaded, 8 (an upper bound, as the ABI allows) when
 * the vector registers are. The arguments land where a named call puts
 * them, as the register engine laid them out. */
typedef uint64_t (*variadic_int_result)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, ...);
typedef double (*variadic_float_result)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, ...);
#define INTS(r) r[0], r[1], r[2], r[3], r[4], r[5]
#define FLOATS(f) f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]

uint64_t cffi_variadic_register_call(void *address, const uint64_t *regs, bool float_args, bool float_result) {
  double f[CFFI_FLOAT_REGS], d;
  uint64_t raw;
  if (!float_args) {
    if (!float_result) return ((variadic_int_result)address)(INTS(regs));
    d = ((variadic_float_result)address)(INTS(regs));
  } else {
    memcpy(f, regs + CFFI_INT_REGS, sizeof f);
    if (!float_result) return ((variadic_int_result)address)(INTS(regs), FLOATS(f));
    d = ((variadic_float_result)address)(INTS(regs), FLOATS(f));
  }
  memcpy(&raw, &d, sizeof raw);
  return raw;
}
#else
uint64_t cffi_variadic_register_call(void *address, const uint64_t *regs, bool float_args, bool float_result) {
  (void)address, (void)regs, (void)float_args, (void)float_result;
  abort(); /* never chosen: src/calls/call.c calls it only where CFFI_VARIADIC_SETS_AL */
}
#endif

napi_value cffi_variadic_too_many(napi_env env, const cffi_function *fn, size_t argc) {
  const cffi_signature *sig = &fn->sig;
  if (!sig->tail_declared)
    return cffi_throw(env, "TypeError",
                      "%s is variadic: it takes %u fixed argument%s, received %zu; declare the types of the "
                      "variadic arguments with %s.with(...types), e.g. %s.with(\"i32\", \"cstring\")(...)",
                      fn->name, sig->fixed, sig->fixed == 1 ? "" : "s", argc, fn->name, fn->name);
  return cffi_throw(env, "TypeError",
                    "%s.with(%u type%s): expected %u arguments (%u fixed + %u variadic), received %zu; declare "
                    "the types of every variadic argument in %s.with(...)",
                    fn->name, sig->nargs - sig->fixed, sig->nargs - sig->fixed == 1 ? "" : "s", sig->nargs,
                    sig->fixed, sig->nargs - sig->fixed, argc, fn->name);
}

/* ---- .with(...types) -------------------------------------------------- */

typedef struct {
  uint8_t count;              /* tail types; entry unused when callable is NULL */
  uint8_t types[CFFI_MAX_ARGS];
  uint32_t used;              /* the base's clock at its latest use */
  napi_ref callable;          /* weak (see VARIADIC_CACHE_SIZE) */
} cache_entry;

/* What .with needs of the variadic symbol, its own copy: the symbol's JS
 * function may be collected while .with is still held. */
typedef struct variadic_base {
  cffi_owner *owner;
  cffi_env_state *state;
  struct variadic_base *next_dead; /* in state->variadic_graveyard */
  void *address;
  char *name;
  cffi_signature fixed_sig;   /* the parsed part only (up to the cif) */
  uint32_t clock;
  uint32_t native_bytes;
  cache_entry cache[VARIADIC_CACHE_SIZE];
} variadic_base;

static void empty_graveyard(napi_env env, cffi_env_state *state);

/* Types a variadic argument may have: the scalars (strings, pointers,
 * numbers). napi_env and void mean nothing there, and other kinds of type
 * are refused until they are taught how they travel. */
static bool valid_tail_type(uint8_t type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32:
    case CFFI_I64: case CFFI_U64: case CFFI_F64: case CFFI_F32: case CFFI_BOOL: case CFFI_PTR: case CFFI_CSTRING:
    case CFFI_I64_FAST: case CFFI_U64_FAST: case CFFI_FUNCTION: case CFFI_NAPI_VALUE: case CFFI_BUFFER:
    case CFFI_BUFFER_LENGTH: case CFFI_CSTRING16: case CFFI_WSTRING:
      return true;
    default: return false;
  }
}

/* The tail's types from with()'s arguments (spread, or one array). */
static bool read_tail(napi_env env, const variadic_base *base, size_t argc, napi_value *argv, uint8_t *types,
                      uint32_t *count) {
  napi_value list = NULL;
  bool is_array = false;
  uint32_t n = (uint32_t)argc;
  if (argc == 1 && napi_is_array(env, argv[0], &is_array) == napi_ok && is_array) {
    list = argv[0];
    napi_get_array_length(env, list, &n);
  }
  if (base->fixed_sig.fixed + (size_t)n > CFFI_MAX_ARGS) {
    cffi_throw(env, "RangeError", "%s.with: %u fixed + %u variadic arguments; at most %d are supported", base->name,
               base->fixed_sig.fixed, n, CFFI_MAX_ARGS);
    return false;
  }
  for (uint32_t k = 0; k < n; k++) {
    const unsigned position = base->fixed_sig.fixed + k;
    napi_value value = list ? NULL : argv[k];
    cffi_type_id id;
    napi_valuetype t;
    char text[4];
    size_t len = 0;
    if (list && napi_get_element(env, list, k, &value) != napi_ok) return false;
    if (napi_typeof(env, value, &t) == napi_ok && t == napi_string &&
        napi_get_value_string_utf8(env, value, text, sizeof text, &len) == napi_ok && len == 3 &&
        strcmp(text, "...") == 0) {
      cffi_throw(env, "TypeError", "%s.with: args[%u] is \"...\": with() takes the types of the variadic arguments",
                 base->name, position);
      return false;
    }
    if (!cffi_type_from_value(env, value, base->name, (int)position, &id)) return false;
    if (!valid_tail_type(id)) {
      cffi_throw(env, "TypeError", "%s.with: %s is not a valid variadic argument type (args[%u])", base->name,
                 cffi_types[id].name, position);
      return false;
    }
    types[k] = (uint8_t)id;
  }
  *count = n;
  return true;
}

/* A bound function for the fixed arguments plus this tail. */
static napi_value make_callable(napi_env env, const variadic_base *base, const uint8_t *types, uint32_t count) {
  cffi_signature sig;
  memcpy(&sig, &base->fixed_sig, offsetof(cffi_signature, cif));
  for (uint32_t k = 0; k < count; k++) {
    sig.args[sig.fixed + k] = types[k];
    if (types[k] == CFFI_CSTRING || types[k] == CFFI_CSTRING16 || types[k] == CFFI_WSTRING) sig.has_strings = true;
  }
  sig.nargs = (uint8_t)(sig.fixed + count);
  sig.required = sig.nargs;
  sig.tail_declared = true;
  if (!cffi_prepare_signature(env, &sig, base->name)) return NULL;
  cffi_function *fn = cffi_function_new(env, base->owner, base->name, base->address, &sig);
  if (!fn) return NULL;
  cffi_jit_prepare(&fn, 1);
  return cffi_function_publish(env, fn);
}

static napi_value with_entry(napi_env env, napi_callback_info info) {
  size_t argc = CFFI_MAX_ARGS;
  napi_value argv[CFFI_MAX_ARGS], callable;
  variadic_base *base;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&base);
  empty_graveyard(env, base->state);
  if (!base->owner->open)
    return cffi_throw(env, "Error", "Cannot call \"%s.with\": its %s \"%s\" is closed", base->name,
                      base->owner->kind, base->owner->path);
  if (argc > CFFI_MAX_ARGS)
    return cffi_throw(env, "RangeError", "%s.with: %zu variadic arguments; at most %d are supported", base->name,
                      argc, CFFI_MAX_ARGS - base->fixed_sig.fixed);
  uint8_t types[CFFI_MAX_ARGS];
  uint32_t count;
  if (!read_tail(env, base, argc, argv, types, &count)) return NULL;
  base->clock++;
  cache_entry *victim = &base->cache[0];
  for (unsigned i = 0; i < VARIADIC_CACHE_SIZE; i++) {
    cache_entry *entry = &base->cache[i];
    if (entry->callable && entry->count == count && memcmp(entry->types, types, count) == 0) {
      callable = NULL;
      if (napi_get_reference_value(env, entry->callable, &callable) == napi_ok && callable) {
        entry->used = base->clock;
        return callable;
      }
      victim = entry; /* collected: made again in its place */
      break;
    }
    if (!entry->callable || (victim->callable && entry->used < victim->used)) victim = entry;
  }
  if (!(callable = make_callable(env, base, types, count))) return NULL;
  if (victim->callable) napi_delete_reference(env, victim->callable);
  victim->callable = NULL;
  if (napi_create_reference(env, callable, 0, &victim->callable) == napi_ok) {
    victim->count = (uint8_t)count;
    memcpy(victim->types, types, count);
    victim->used = base->clock;
  }
  return callable;
}

/* Deletes the cache's references and frees the base. Not from the GC: V8
 * must not destroy weak handles while it runs weak callbacks, and the
 * callables die in the same GC as their symbol. */
static void release_base(napi_env env, variadic_base *base) {
  int64_t ignored;
  for (unsigned i = 0; i < VARIADIC_CACHE_SIZE; i++)
    if (base->cache[i].callable) napi_delete_reference(env, base->cache[i].callable);
  napi_adjust_external_memory(env, -(int64_t)base->native_bytes, &ignored);
  cffi_owner_release(base->owner);
  free(base->name);
  free(base);
}

/* The bases the GC has finalized since: released by the next bind or
 * with() on the JS thread (a loop that makes variadic symbols keeps it
 * short; node_api_post_finalizer would wait for the event loop, which a
 * synchronous loop never reaches). */
static void empty_graveyard(napi_env env, cffi_env_state *state) {
  while (state->variadic_graveyard) {
    variadic_base *base = state->variadic_graveyard;
    state->variadic_graveyard = base->next_dead;
    release_base(env, base);
  }
}

/* Run by the GC (see NAPI_EXPERIMENTAL in cffi.h): only links the base. */
static void finalize_base(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  variadic_base *base = data;
  base->next_dead = base->state->variadic_graveyard;
  base->state->variadic_graveyard = base;
}

void cffi_variadic_detach(cffi_env_state *state) {
  /* The env has ended: Node has freed every reference; only our memory is left. */
  while (state->variadic_graveyard) {
    variadic_base *base = state->variadic_graveyard;
    state->variadic_graveyard = base->next_dead;
    cffi_owner_release(base->owner);
    free(base->name);
    free(base);
  }
}

/* this.with(...) of a function that is not variadic, or of a with() callable. */
static napi_value not_variadic_with(napi_env env, napi_callback_info info) {
  napi_value self, name_value;
  char name[256] = "this function";
  size_t len;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  if (napi_get_named_property(env, self, "name", &name_value) != napi_ok ||
      napi_get_value_string_utf8(env, name_value, name, sizeof name, &len) != napi_ok || len == 0)
    snprintf(name, sizeof name, "this function");
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) napi_get_and_clear_last_exception(env, &name_value);
  return cffi_throw(env, "TypeError",
                    "%s.with(...types) is only for variadic functions: end the definition's args with \"...\" "
                    "(a callable made by with() has its variadic types already)", name);
}

static bool attach_refusal(napi_env env, napi_value function, cffi_env_state *state) {
  napi_value with;
  if (!state->not_variadic_with) {
    if (napi_create_function(env, "with", NAPI_AUTO_LENGTH, not_variadic_with, NULL, &with) != napi_ok ||
        napi_create_reference(env, with, 1, &state->not_variadic_with) != napi_ok)
      return false;
  } else if (napi_get_reference_value(env, state->not_variadic_with, &with) != napi_ok) {
    return false;
  }
  napi_property_descriptor prop = {"with", NULL, NULL, NULL, NULL, with, napi_default, NULL};
  return napi_define_properties(env, function, 1, &prop) == napi_ok;
}

bool cffi_variadic_attach(napi_env env, napi_value function, const cffi_function *fn) {
  if (!fn->sig.variadic || fn->sig.tail_declared) return attach_refusal(env, function, fn->state);
  empty_graveyard(env, fn->state);
  variadic_base *base = calloc(1, sizeof *base);
  char *name = strdup(fn->name);
  napi_value with;
  if (!base || !name) {
    free(base);
    free(name);
    cffi_throw(env, "RangeError", "out of memory binding \"%s\"", fn->name);
    return false;
  }
  base->owner = fn->owner;
  base->state = fn->state;
  base->address = fn->address;
  base->name = name;
  memcpy(&base->fixed_sig, &fn->sig, offsetof(cffi_signature, cif));
  if (napi_create_function(env, "with", NAPI_AUTO_LENGTH, with_entry, base, &with) != napi_ok ||
      napi_add_finalizer(cffi_finalizer_env(env), with, base, finalize_base, NULL, NULL) != napi_ok) {
    free(name);
    free(base);
    return false;
  }
  fn->owner->refs++;
  base->native_bytes = (uint32_t)(sizeof *base + strlen(name) + 1 + CFFI_NODE_API_BYTES_PER_FUNCTION);
  int64_t ignored;
  napi_adjust_external_memory(env, base->native_bytes, &ignored);
  napi_property_descriptor prop = {"with", NULL, NULL, NULL, NULL, with, napi_default, NULL};
  return napi_define_properties(env, function, 1, &prop) == napi_ok;
}
