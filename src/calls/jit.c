/*
 * jit.c - the jit engine: a C wrapper generated for each bound symbol's
 * exact signature and compiled in memory by the in-process TinyCC, as Bun
 * does with its own TinyCC.
 *
 * Owns: deciding which signatures get a wrapper, rendering the wrapper's C
 * (also what viewSource shows), compiling wrappers in a TinyCC state, the
 * executable memory they live in, and tiering: the entry stubs that let a
 * symbol start on the generic engine and switch to its wrapper once hot
 * (see "tiering" below).
 *
 * Why: a generic entry point must find its function (napi_get_cb_info's
 * data), then dispatch on the signature at every call. A wrapper has the
 * function, its address and its state compiled in as constants, converts
 * each argument with the one Node-API call the type needs, and calls the C
 * function through its real prototype: what a hand-written addon does. The
 * slow paths (other value kinds, errors) call back into src/calls/call.c, so
 * every result and every message is the generic path's.
 *
 * The generated code has no data of its own: every address it needs is a
 * symbol given with tcc_add_symbol (see render_batch). So once TinyCC
 * has relocated it into memory we allocated, the TinyCC state is deleted
 * and the memory is sealed read+execute (TinyCC leaves it writable and
 * executable while relocating; nothing runs there before the seal).
 *
 * Without TinyCC (CFFI_HAVE_TCC unset) nothing is eligible and every
 * function uses the generic entry points of src/calls/call.c.
 */
#include <errno.h>
#include <stdlib.h>

#include "../cffi.h"

/* The generic path's slow paths, called by generated code (src/calls/call.c). */
napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc);
int cffi_jit_argument(napi_env env, cffi_function *fn, unsigned index, const napi_value *argv, uint64_t *out);
napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw);
int cffi_jit_after_callbacks(napi_env env, cffi_function *fn);

#if defined(CFFI_HAVE_TCC) && !defined(_WIN32)
#include <libtcc.h>
#include <string.h>

#include "../platform/tcc_glue.h"
#include <sys/mman.h>
#include <unistd.h>
#define CFFI_HAVE_JIT 1
#else
#define CFFI_HAVE_JIT 0
#endif

bool cffi_jit_eligible(const cffi_signature *sig) {
  /* cstring arguments need memory for the call (the generic path's
   * cffi_call); other conventions go through libffi. */
  return CFFI_HAVE_JIT &&
         (cffi_engine_preferred == CFFI_PREFER_TIERED || cffi_engine_preferred == CFFI_PREFER_JIT ||
          cffi_engine_preferred == CFFI_PREFER_PRECOMPILED) &&
         sig->abi == FFI_DEFAULT_ABI && !sig->has_strings && !sig->layouts;
}

/* ---- rendering -------------------------------------------------------- */

/* The C type each FFIType has in generated code: the type table's C name
 * (the prelude typedefs the <stdint.h> names), except that char is spelled
 * int8_t because Bun's char is signed everywhere. Integer-class results are
 * read as the whole register and narrowed by the wrapper, as the register
 * engine does. */
static const char *c_type_of(uint8_t type) {
  return type == CFFI_CHAR ? "int8_t" : cffi_types[type].c_name;
}

static const char *return_c_type(uint8_t type) {
  switch (cffi_types[type].reg) {
    case CFFI_CLASS_FLOAT: return c_type_of(type);
    case CFFI_CLASS_NONE: return "void";
    default: return "uint64_t";
  }
}

/* How an argument is read from JS: the one Node-API call of the fast case. */
typedef enum { READ_INT32, READ_DOUBLE, READ_FLOAT, READ_BIGINT, READ_NUMBER64, READ_VIEW, READ_ENV, READ_VALUE, READ_TABLE } read_kind;

static read_kind read_kind_of(uint8_t type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32:
    case CFFI_U32: return READ_INT32;
    case CFFI_F64: return READ_DOUBLE;
    case CFFI_F32: return READ_FLOAT;
    case CFFI_U64: return READ_BIGINT;
    /* i64 takes a number first: signed 64-bit arguments (offsets, sizes,
     * counts) come as numbers far more often, and a failed BigInt read
     * costs ~40 instructions (mix6 in benchmark/). Same values either way. */
    case CFFI_I64: case CFFI_I64_FAST: case CFFI_U64_FAST: return READ_NUMBER64;
    case CFFI_PTR: return READ_VIEW;
    case CFFI_NAPI_ENV: return READ_ENV;
    case CFFI_NAPI_VALUE: return READ_VALUE;
    default: return READ_TABLE;
  }
}

/* The declarations every wrapper uses; their addresses are given to
 * TinyCC with tcc_add_symbol. */
static const char prelude[] =
    "typedef __SIZE_TYPE__ size_t;\n"
    "typedef struct napi_env__ *napi_env;\n"
    "typedef struct napi_value__ *napi_value;\n"
    "typedef struct napi_callback_info__ *napi_callback_info;\n"
    "typedef int napi_status;\n"
    "typedef signed char int8_t;\ntypedef unsigned char uint8_t;\n"
    "typedef short int16_t;\ntypedef unsigned short uint16_t;\n"
    "typedef int int32_t;\ntypedef unsigned uint32_t;\n"
    "typedef long long int64_t;\ntypedef unsigned long long uint64_t;\n"
    "typedef _Bool bool;\n"
    "napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);\n"
    "napi_status napi_get_value_int32(napi_env, napi_value, int *);\n"
    "napi_status napi_get_value_double(napi_env, napi_value, double *);\n"
    "napi_status napi_get_value_bigint_int64(napi_env, napi_value, int64_t *, bool *);\n"
    "napi_status napi_get_typedarray_info(napi_env, napi_value, int *, size_t *, void **, napi_value *, size_t *);\n"
    "napi_status napi_create_int32(napi_env, int, napi_value *);\n"
    "napi_status napi_create_uint32(napi_env, unsigned, napi_value *);\n"
    "napi_status napi_create_double(napi_env, double, napi_value *);\n"
    "napi_status napi_create_bigint_int64(napi_env, int64_t, napi_value *);\n"
    "napi_status napi_create_bigint_uint64(napi_env, uint64_t, napi_value *);\n"
    "napi_status napi_create_string_utf8(napi_env, const char *, size_t, napi_value *);\n"
    "napi_status napi_get_null(napi_env, napi_value *);\n"
    "napi_value cffi_jit_closed(napi_env, void *fn);\n"
    "napi_value cffi_jit_missing(napi_env, void *fn, size_t argc);\n"
    "int cffi_jit_argument(napi_env, void *fn, unsigned index, const napi_value *argv, uint64_t *out);\n"
    "napi_value cffi_jit_result(napi_env, void *fn, uint64_t raw);\n"
    "int cffi_jit_after_callbacks(napi_env, void *fn);\n"
    "napi_value cffi_variadic_too_many(napi_env, void *fn, size_t argc);\n"
    "union cffi_raw { uint64_t u; double d; float f; };\n";

/* The wrapper's body. It names its constants: FN (the cffi_function), OPEN
 * (false once the library is closed), TARGET (the C function, through its
 * prototype), CALL_DEPTH, LAST_ERRNO, ERRNO, CLEANUP_DEPTH and ENV_CALLS
 * (the env's state and the thread's errno). The statements mirror invoke() in
 * src/calls/call.c, in the same order. */
static void render_wrapper(cffi_text *b, const char *wrapper, const cffi_signature *sig) {
  const unsigned n = sig->nargs;
  bool uses[READ_TABLE + 1] = {false};
  for (unsigned i = 0; i < n; i++) uses[read_kind_of(sig->args[i])] = true;

  cffi_text_append(b, "napi_value %s(napi_env env, napi_callback_info info) {\n", wrapper);
  if (n) cffi_text_append(b, "  size_t argc = %u;\n  napi_value argv[%u];\n", n, n);
  cffi_text_append(b, "  napi_value result;\n  union cffi_raw raw;\n");
  if (uses[READ_INT32]) cffi_text_append(b, "  int32_t i32;\n");
  if (uses[READ_FLOAT] || uses[READ_BIGINT] || uses[READ_NUMBER64]) cffi_text_append(b, "  double f64;\n");
  if (uses[READ_BIGINT] || uses[READ_NUMBER64]) cffi_text_append(b, "  int64_t i64;\n  bool lossless;\n");
  for (unsigned i = 0; i < n; i++) cffi_text_append(b, "  %s a%u;\n", c_type_of(sig->args[i]), i);
  if (sig->returns != CFFI_VOID) cffi_text_append(b, "  %s r;\n", return_c_type(sig->returns));

  cffi_text_append(b, "  if (!OPEN) return cffi_jit_closed(env, FN);\n");
  if (n) cffi_text_append(b, "  napi_get_cb_info(env, info, &argc, argv, 0, 0);\n");
  if (sig->required)
    cffi_text_append(b, "  if (argc < %u) return cffi_jit_missing(env, FN, argc);\n", sig->required);
  /* A variadic function's every argument has a declared type (src/calls/variadic.c). */
  if (sig->variadic) cffi_text_append(b, "  if (argc > %u) return cffi_variadic_too_many(env, FN, argc);\n", n);

  for (unsigned i = 0; i < n; i++) {
    const char *t = c_type_of(sig->args[i]);
    /* The generic conversion, for every value the fast case does not take. */
    char slow[160];
    snprintf(slow, sizeof slow, "if (!cffi_jit_argument(env, FN, %u, argv, &raw.u)) return 0;", i);
    switch (read_kind_of(sig->args[i])) {
      case READ_INT32:
        cffi_text_append(b, "  if (napi_get_value_int32(env, argv[%u], &i32) == 0) a%u = (%s)i32;\n"
                            "  else { %s a%u = (%s)raw.u; }\n", i, i, t, slow, i, t);
        break;
      case READ_DOUBLE:
        cffi_text_append(b, "  if (napi_get_value_double(env, argv[%u], &a%u) != 0) { %s a%u = raw.d; }\n",
                         i, i, slow, i);
        break;
      case READ_FLOAT:
        cffi_text_append(b, "  if (napi_get_value_double(env, argv[%u], &f64) == 0) a%u = (float)f64;\n"
                            "  else { %s a%u = raw.f; }\n", i, i, slow, i);
        break;
      /* 64-bit integers: a BigInt (wrapped), or a number whose truncation
       * fits int64 without the wrapping of src/types/types.c's
       * wrap_double_to_u64 (NaN fails both tests): the same value that
       * function gives. The type's usual kind is tried first. */
      case READ_BIGINT:
        cffi_text_append(b, "  if (napi_get_value_bigint_int64(env, argv[%u], &i64, &lossless) == 0) a%u = (%s)i64;\n"
                            "  else if (napi_get_value_double(env, argv[%u], &f64) == 0 && f64 > -9.2e18 && f64 < 9.2e18)"
                            " a%u = (%s)(int64_t)f64;\n"
                            "  else { %s a%u = (%s)raw.u; }\n", i, i, t, i, i, t, slow, i, t);
        break;
      case READ_NUMBER64:
        cffi_text_append(b, "  if (napi_get_value_double(env, argv[%u], &f64) == 0 && f64 > -9.2e18 && f64 < 9.2e18)"
                            " a%u = (%s)(int64_t)f64;\n"
                            "  else if (napi_get_value_bigint_int64(env, argv[%u], &i64, &lossless) == 0) a%u = (%s)i64;\n"
                            "  else { %s a%u = (%s)raw.u; }\n", i, i, t, i, i, t, slow, i, t);
        break;
      case READ_VIEW:
        cffi_text_append(b, "  if (napi_get_typedarray_info(env, argv[%u], 0, 0, &a%u, 0, 0) != 0 || !a%u) { %s a%u = (void *)raw.u; }\n",
                         i, i, i, slow, i);
        break;
      case READ_ENV: cffi_text_append(b, "  a%u = env;\n", i); break;
      case READ_VALUE: cffi_text_append(b, "  a%u = argv[%u];\n", i, i); break;
      case READ_TABLE:
        if (sig->args[i] == CFFI_BOOL) cffi_text_append(b, "  %s a%u = raw.u != 0;\n", slow, i);
        else cffi_text_append(b, "  %s a%u = (%s)raw.u;\n", slow, i, t);
        break;
    }
  }

  cffi_text_append(b, "  ++CALL_DEPTH;\n%s  ERRNO = LAST_ERRNO;\n  ",
                   sig->takes_env ? "  ++ENV_CALLS;\n" : "");
  if (sig->returns != CFFI_VOID) cffi_text_append(b, "r = ");
  cffi_text_append(b, "TARGET(");
  for (unsigned i = 0; i < n; i++) cffi_text_append(b, "%sa%u", i ? ", " : "", i);
  cffi_text_append(b, ");\n  LAST_ERRNO = ERRNO;\n%s  --CALL_DEPTH;\n", sig->takes_env ? "  --ENV_CALLS;\n" : "");
  cffi_text_append(b, "  if (CLEANUP_DEPTH > CALL_DEPTH && cffi_jit_after_callbacks(env, FN)) return 0;\n");

  switch (sig->returns) {
    case CFFI_VOID: cffi_text_append(b, "  return 0;\n}\n"); return;
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32:
      cffi_text_append(b, "  napi_create_int32(env, (%s)r, &result);\n", c_type_of(sig->returns));
      break;
    case CFFI_U32: cffi_text_append(b, "  napi_create_uint32(env, (uint32_t)r, &result);\n"); break;
    case CFFI_I64: cffi_text_append(b, "  napi_create_bigint_int64(env, (int64_t)r, &result);\n"); break;
    case CFFI_U64: cffi_text_append(b, "  napi_create_bigint_uint64(env, r, &result);\n"); break;
    case CFFI_F64: case CFFI_F32: cffi_text_append(b, "  napi_create_double(env, r, &result);\n"); break;
    case CFFI_CSTRING:
      cffi_text_append(b, "  if (!r) napi_get_null(env, &result);\n"
                          "  else napi_create_string_utf8(env, (const char *)r, (size_t)-1, &result);\n");
      break;
    default: cffi_text_append(b, "  return cffi_jit_result(env, FN, r);\n}\n"); return;
  }
  cffi_text_append(b, "  return result;\n}\n");
}

/* The C function's prototype as the wrapper calls it, around `declarator`:
 * "(*)" for a cast, a name for a declaration. */
static void render_prototype(cffi_text *b, const cffi_signature *sig, const char *declarator) {
  cffi_text_append(b, "%s %s(", return_c_type(sig->returns), declarator);
  /* A variadic function's real prototype, `...` after its named parameters:
   * the compiler then passes the tail as the ABI says for variadic calls
   * (%al on x86-64, the stack on Apple arm64) and applies C's promotions. */
  const unsigned named = sig->variadic ? sig->fixed : sig->nargs;
  if (named == 0) cffi_text_append(b, "void");
  for (unsigned i = 0; i < named; i++) cffi_text_append(b, "%s%s", i ? ", " : "", c_type_of(sig->args[i]));
  if (sig->variadic) cffi_text_append(b, ", ...");
  cffi_text_append(b, ")");
}

void cffi_jit_render_symbol(cffi_text *b, const char *name, const cffi_signature *sig) {
  char signature[256], wrapper[300];
  cffi_describe_signature(sig, signature, sizeof signature);
  snprintf(wrapper, sizeof wrapper, "cffi_bun_%s", name);
  cffi_text_append(b, "/* %s %s\n"
                      " * TinyCC compiles this wrapper in memory once the symbol is hot (or when it\n"
                      " * is bound, with CFFI_BUN_ENGINE=jit); until then the generic engine runs it.\n"
                      " * Constants: FN and OPEN (the bound function, its library's open flag),\n"
                      " * CALL_DEPTH, LAST_ERRNO, CLEANUP_DEPTH, ENV_CALLS (this thread's FFI state), ERRNO. */\n",
                   name, signature);
  cffi_text_append(b, "#define TARGET ((");
  render_prototype(b, sig, "(*)");
  cffi_text_append(b, ")%s)\n", name);
  render_wrapper(b, wrapper, sig);
}

/* ---- compiling -------------------------------------------------------- */

#if CFFI_HAVE_JIT
struct cffi_jit_block {
  void *memory;
  size_t size;
  uint32_t refs; /* functions using a wrapper in it */
};

/* The bytes a block takes: mmap hands out whole pages. */
static size_t block_pages(const cffi_jit_block *block) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (block->size + page - 1) / page * page + sizeof *block;
}

/* What generated code calls, by name. */
static const struct {
  const char *name;
  void *address;
} jit_symbols[] = {
#define JIT_SYMBOL(fn) {#fn, (void *)fn}
    JIT_SYMBOL(napi_get_cb_info),
    JIT_SYMBOL(napi_get_value_int32),
    JIT_SYMBOL(napi_get_value_double),
    JIT_SYMBOL(napi_get_value_bigint_int64),
    JIT_SYMBOL(napi_get_typedarray_info),
    JIT_SYMBOL(napi_create_int32),
    JIT_SYMBOL(napi_create_uint32),
    JIT_SYMBOL(napi_create_double),
    JIT_SYMBOL(napi_create_bigint_int64),
    JIT_SYMBOL(napi_create_bigint_uint64),
    JIT_SYMBOL(napi_create_string_utf8),
    JIT_SYMBOL(napi_get_null),
    JIT_SYMBOL(cffi_jit_closed),
    JIT_SYMBOL(cffi_jit_missing),
    JIT_SYMBOL(cffi_jit_argument),
    JIT_SYMBOL(cffi_jit_result),
    JIT_SYMBOL(cffi_jit_after_callbacks),
    JIT_SYMBOL(cffi_variadic_too_many),
#undef JIT_SYMBOL
};

static void on_tcc_error(void *opaque, const char *message) {
  (void)opaque;
  CFFI_DEBUG("jit: TinyCC: %s", message);
}

/* The source of a batch: the prelude, the env's state, then one wrapper per
 * function with its own constants. Every address is an extern symbol given
 * to TinyCC (add_batch_symbols): TinyCC reaches those through its GOT and
 * PLT, where a constant address cast to a pointer would be truncated to 32
 * bits by its x86-64 code generator. */
static void render_batch(cffi_text *b, cffi_function **fns, const uint32_t *which, uint32_t n) {
  cffi_text_append(b, "%s", prelude);
  cffi_text_append(b, "extern unsigned cffi_call_depth;\nextern int cffi_last_errno, cffi_errno;\n"
                      "extern unsigned cffi_cleanup_depth, cffi_env_calls;\n"
                      "#define CALL_DEPTH cffi_call_depth\n#define LAST_ERRNO cffi_last_errno\n"
                      "#define ERRNO cffi_errno\n#define CLEANUP_DEPTH cffi_cleanup_depth\n#define ENV_CALLS cffi_env_calls\n");
  for (uint32_t k = 0; k < n; k++) {
    const cffi_signature *sig = &fns[which[k]]->sig;
    char wrapper[32];
    snprintf(wrapper, sizeof wrapper, "cffi_bun_w%u", k);
    cffi_text_append(b, "extern char cffi_fn_%u[];\nextern volatile bool cffi_open_%u;\n", k, k);
    char target[32];
    snprintf(target, sizeof target, "cffi_target_%u", k);
    cffi_text_append(b, "extern ");
    render_prototype(b, sig, target);
    cffi_text_append(b, ";\n#define FN ((void *)cffi_fn_%u)\n#define OPEN cffi_open_%u\n"
                        "#define TARGET cffi_target_%u\n", k, k, k);
    render_wrapper(b, wrapper, sig);
    cffi_text_append(b, "#undef FN\n#undef OPEN\n#undef TARGET\n");
  }
}

/* The addresses render_batch's extern names stand for. */
static void add_batch_symbols(TCCState *s, cffi_function **fns, const uint32_t *which, uint32_t n) {
  for (size_t i = 0; i < sizeof jit_symbols / sizeof jit_symbols[0]; i++)
    tcc_add_symbol(s, jit_symbols[i].name, jit_symbols[i].address);
  cffi_env_state *state = fns[which[0]]->state;
  tcc_add_symbol(s, "cffi_call_depth", &state->call_depth);
  tcc_add_symbol(s, "cffi_last_errno", &state->last_errno);
  tcc_add_symbol(s, "cffi_cleanup_depth", &state->cleanup_depth);
  tcc_add_symbol(s, "cffi_env_calls", &state->env_calls);
  /* Compiled on the env's thread, the only one that calls these wrappers. */
  tcc_add_symbol(s, "cffi_errno", &errno);
  for (uint32_t k = 0; k < n; k++) {
    cffi_function *fn = fns[which[k]];
    char name[32];
    snprintf(name, sizeof name, "cffi_fn_%u", k);
    tcc_add_symbol(s, name, fn);
    snprintf(name, sizeof name, "cffi_open_%u", k);
    tcc_add_symbol(s, name, &fn->owner->open);
    snprintf(name, sizeof name, "cffi_target_%u", k);
    tcc_add_symbol(s, name, fn->address);
  }
}

/* One batch's compile, as cffi_tcc_run() runs it: what it allocates is kept
 * here, so that an exit() trapped in the middle leaves nothing unreachable. */
typedef struct {
  const char *source;
  cffi_function **fns;
  const uint32_t *which;
  uint32_t n;
  napi_callback *entries;
  TCCState *state;
  void *memory;
  int size;
  bool compiled; /* entries filled, memory sealed read+execute */
} batch_compile;

static void compile_batch_trapped(void *arg) {
  batch_compile *job = arg;
  TCCState *s = job->state = tcc_new();
  if (!s) return;
  tcc_set_error_func(s, NULL, on_tcc_error);
  /* No C library, no libtcc1: the wrappers need neither, and so TinyCC's
   * own files need not exist at run time. */
  tcc_set_options(s, "-nostdlib");
  /* For diagnosis and tests: more options (one TinyCC rejects is an exit()
   * inside libtcc, trapped). Read per compile, which costs nothing next to it. */
  const char *extra = getenv("CFFI_BUN_JIT_TCC_OPTIONS");
  if (extra && *extra) tcc_set_options(s, extra);
  tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
  add_batch_symbols(s, job->fns, job->which, job->n);
  if (tcc_compile_string(s, job->source) == -1 || (job->size = tcc_relocate(s, NULL)) <= 0) return;
  void *memory = mmap(NULL, (size_t)job->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return;
  job->memory = memory;
  if (tcc_relocate(s, memory) < 0) return;
  for (uint32_t k = 0; k < job->n; k++) {
    char wrapper[32];
    snprintf(wrapper, sizeof wrapper, "cffi_bun_w%u", k);
    if (!(job->entries[k] = (napi_callback)tcc_get_symbol(s, wrapper))) return;
  }
  __builtin___clear_cache((char *)memory, (char *)memory + job->size);
  job->compiled = mprotect(memory, (size_t)job->size, PROT_READ | PROT_EXEC) == 0;
}

/* Compiles and relocates into fresh pages, then seals them read+execute.
 * Fills entries[k] for each wrapper; returns the block or NULL. libtcc
 * calls exit(1) for some errors (src/platform/tcc_glue.c), so the compile runs
 * under cffi_tcc_run's exit trap; on this thread, since the wrappers nest
 * no deeper than a few levels and a thread per tier-up would cost
 * 30-100 us next to the compile's ~250 us (measured here). */
static cffi_jit_block *compile_batch(const char *source, cffi_function **fns, const uint32_t *which,
                                     uint32_t n, napi_callback *entries) {
  batch_compile job = {source, fns, which, n, entries, NULL, NULL, -1, false};
  if (!cffi_tcc_run(compile_batch_trapped, &job, 0))
    CFFI_DEBUG("jit: TinyCC called exit() while compiling wrappers; trapped");
  cffi_jit_block *block = NULL;
  if (job.compiled && (block = malloc(sizeof *block))) {
    block->memory = job.memory;
    block->size = (size_t)job.size;
    block->refs = 0;
    job.memory = NULL;
  }
  if (job.memory) munmap(job.memory, (size_t)job.size);
  if (job.state) cffi_tcc_delete(job.state);
  return block;
}

/* Compiles wrappers for fns[which[0..n)]; false if TinyCC could not. */
static bool compile_wrappers(cffi_function **fns, const uint32_t *which, uint32_t n) {
  napi_callback *entries = malloc(n * sizeof *entries);
  if (!entries) return false;
  cffi_text source = {0};
  render_batch(&source, fns, which, n);
  cffi_jit_block *block = source.failed ? NULL : compile_batch(source.text, fns, which, n, entries);
  free(source.text);
  if (block) {
    for (uint32_t k = 0; k < n; k++) {
      fns[which[k]]->jit_entry = entries[k];
      fns[which[k]]->jit_block = block;
    }
    block->refs = n;
    /* Whole pages, freed only once V8 has collected every function using them. */
    int64_t ignored;
    napi_adjust_external_memory(fns[which[0]]->state->env, (int64_t)block_pages(block), &ignored);
  }
  free(entries);
  return block != NULL;
}

/* ---- tiering ----------------------------------------------------------
 *
 * Compiling costs ~250 us per TinyCC state, which binding many symbols, or
 * CFunction in a loop, should not pay for functions that are called a few
 * times. So by default a function starts on the generic entry points, and
 * its wrapper is compiled after JIT_HOT_CALLS calls. Node-API fixes a JS
 * function's callback when it is created, so the callback is an entry stub
 * (src/platform/stubs.c), retargeted from the generic entry to the wrapper at
 * tier-up.
 */
#define JIT_HOT_CALLS 1000

napi_callback cffi_jit_callback(cffi_function *fn, napi_callback entry) {
  if (!fn->jit_stub) return entry;
  fn->jit_stub->target = (void *)entry;
  return (napi_callback)cffi_stub_code(fn->jit_stub);
}

void cffi_jit_prepare(cffi_function **fns, uint32_t count) {
  uint32_t *which = malloc(count * sizeof *which);
  uint32_t n = 0;
  if (!which) return;
  for (uint32_t i = 0; i < count; i++)
    if (cffi_jit_eligible(&fns[i]->sig)) which[n++] = i;
  if (n > 0 && cffi_engine_preferred == CFFI_PREFER_JIT) {
    if (!compile_wrappers(fns, which, n))
      CFFI_DEBUG("jit: no wrappers for %u symbol%s; they use the generic entry points", n, n == 1 ? "" : "s");
  } else {
    for (uint32_t k = 0; k < n; k++) {
      cffi_function *fn = fns[which[k]];
      if ((fn->jit_stub = cffi_stub_take(fn->state, CFFI_STUB_TIERING))) fn->jit_countdown = JIT_HOT_CALLS;
      /* CFFI_BUN_ENGINE=precompiled: such wrappers from the first call. */
      if (fn->jit_stub && cffi_engine_preferred == CFFI_PREFER_PRECOMPILED && cffi_precompiled_take(fn))
        fn->jit_countdown = 0;
    }
  }
  free(which);
}

void cffi_jit_tier_up(cffi_function *fn) {
  const uint32_t only = 0;
  /* A signature with a wrapper compiled with the addon needs no TinyCC. */
  if (cffi_precompiled_take(fn)) {
    CFFI_DEBUG("jit: %s is hot (%d calls): it takes its precompiled wrapper", fn->name, JIT_HOT_CALLS);
  } else if (compile_wrappers(&fn, &only, 1)) {
    fn->jit_stub->target = (void *)fn->jit_entry;
    CFFI_DEBUG("jit: %s is hot (%d calls): its wrapper is compiled", fn->name, JIT_HOT_CALLS);
  } else {
    CFFI_DEBUG("jit: no wrapper for %s; it stays on the generic entry point", fn->name);
  }
}

void cffi_jit_forget(cffi_function *fn) {
  cffi_jit_block *block = fn->jit_block;
  if (block && --block->refs == 0) {
    int64_t ignored;
    napi_adjust_external_memory(fn->state->env, -(int64_t)block_pages(block), &ignored);
    munmap(block->memory, block->size);
    free(block);
  }
  cffi_precompiled_forget(fn);
  if (fn->jit_stub) cffi_stub_release(fn->state, CFFI_STUB_TIERING, fn->jit_stub);
}
#else
void cffi_jit_prepare(cffi_function **fns, uint32_t count) {
  (void)fns, (void)count;
}

napi_callback cffi_jit_callback(cffi_function *fn, napi_callback entry) {
  (void)fn;
  return entry;
}

void cffi_jit_tier_up(cffi_function *fn) { (void)fn; }

void cffi_jit_forget(cffi_function *fn) { (void)fn; }
#endif
