/*
 * map_jit.c - sym.map's loop generated in C for the function's real
 * prototype and compiled in memory by the in-process TinyCC.
 *
 * Owns: rendering the loop (column pointers of the TypedArrays' element
 * types, broadcast arguments as constants of the parameter types, the
 * result stored as the result array's element type), compiling it, and a
 * per-env cache keyed by (address, prototype, which arguments are columns):
 * a loop embeds no bound function, so it stays right for any function of
 * that address and prototype, and an env's loops are freed when it ends.
 *
 * Why: the C loop in src/calls/batch.c calls through the register engine's
 * generic prototype (every argument register loaded, each element widened
 * through a switch); the generated loop passes each element straight to
 * the real prototype, as a hand-written C loop would. It keeps the
 * synchronous call's bookkeeping (call depth, errno), and returns
 * to its caller after any call during which a callback ran JS (only those
 * leave work: an exception, a kept handle scope), so that the caller can check
 * its columns again and resume (the same checks as the C loop).
 *
 * Without TinyCC (or on Windows, as for jit wrappers) cffi_map_loop_for
 * answers NULL and map uses its C loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#if defined(CFFI_HAVE_TCC) && !defined(_WIN32)
#include <libtcc.h>
#include <sys/mman.h>

#include "../platform/tcc_glue.h"
#define MAP_JIT 1
#else
#define MAP_JIT 0
#endif

/* A small map is not worth a compile (~0.3-4 ms) unless the engine is "jit". */
#define MAP_JIT_MIN_CALLS 256
/* Loops an env keeps; past it, maps of new shapes use the C loop. */
#define MAP_JIT_MAX_LOOPS 256

#if MAP_JIT
typedef struct map_loop {
  struct map_loop *next;
  void *address;
  uint64_t columns; /* bit k: argument k is a column */
  uint8_t nargs, returns;
  uint8_t args[CFFI_MAX_ARGS];
  cffi_map_loop_fn entry; /* NULL: the compile failed (not tried again) */
  void *memory;
  size_t size;
} map_loop;

/* The env's loops are state->map_loops (state->map_loop_count of them). */

/* A parameter's C type in the loop: the numeric types as themselves (char
 * is signed, as in Bun), every other type as the integer register it
 * travels in. */
static const char *param_type(uint8_t type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: return "int8_t";
    case CFFI_U8: return "uint8_t";
    case CFFI_I16: return "int16_t";
    case CFFI_U16: return "uint16_t";
    case CFFI_I32: return "int32_t";
    case CFFI_U32: return "uint32_t";
    case CFFI_I64: case CFFI_I64_FAST: return "int64_t";
    case CFFI_F32: return "float";
    case CFFI_F64: return "double";
    case CFFI_BOOL: return "bool";
    default: return "uint64_t";
  }
}

/* A column's element type (its TypedArray's; bool columns are Uint8Arrays). */
static const char *element_type(uint8_t type) { return type == CFFI_BOOL ? "uint8_t" : param_type(type); }

/* The result array's element type. */
static const char *store_type(uint8_t type) {
  switch (type) {
    case CFFI_BOOL: return "uint8_t";
    case CFFI_F32: return "float";
    case CFFI_F64: return "double";
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32:
      return param_type(type);
    default: return "uint64_t";
  }
}

/* Integer-class results are read as the whole register and narrowed, as the
 * register engine and the jit wrappers do. */
static const char *return_type(uint8_t type) {
  if (type == CFFI_VOID) return "void";
  if (cffi_types[type].reg == CFFI_CLASS_FLOAT) return type == CFFI_F32 ? "float" : "double";
  return "uint64_t";
}

static void render_loop(cffi_text *b, const cffi_signature *sig, uint64_t columns) {
  const unsigned n = sig->nargs;
  cffi_text_append(b, "typedef __SIZE_TYPE__ size_t;\n"
                      "typedef signed char int8_t;\ntypedef unsigned char uint8_t;\n"
                      "typedef short int16_t;\ntypedef unsigned short uint16_t;\n"
                      "typedef int int32_t;\ntypedef unsigned uint32_t;\n"
                      "typedef long long int64_t;\ntypedef unsigned long long uint64_t;\n"
                      "typedef _Bool bool;\n"
                      "union cffi_f32 { uint32_t u; float f; };\nunion cffi_f64 { uint64_t u; double d; };\n"
                      "extern unsigned cffi_call_depth, cffi_js_callbacks_run;\n"
                      "extern int cffi_last_errno, cffi_errno;\n");
  cffi_text_append(b, "extern %s cffi_target(", return_type(sig->returns));
  if (n == 0) cffi_text_append(b, "void");
  for (unsigned k = 0; k < n; k++) cffi_text_append(b, "%s%s", k ? ", " : "", param_type(sig->args[k]));
  cffi_text_append(b, ");\n");
  cffi_text_append(b, "size_t cffi_map_loop(size_t i, size_t n, void *const *columns, const uint64_t *scalars, void *out, uint64_t *held) {\n");
  for (unsigned k = 0; k < n; k++) {
    const uint8_t type = sig->args[k];
    if (columns >> k & 1) {
      cffi_text_append(b, "  const %s *c%u = (const %s *)columns[%u];\n", element_type(type), k, element_type(type), k);
    } else if (type == CFFI_F64) {
      cffi_text_append(b, "  union cffi_f64 u%u;\n  u%u.u = scalars[%u];\n  const double s%u = u%u.d;\n", k, k, k, k, k);
    } else if (type == CFFI_F32) {
      cffi_text_append(b, "  union cffi_f32 u%u;\n  u%u.u = (uint32_t)scalars[%u];\n  const float s%u = u%u.f;\n", k, k, k, k, k);
    } else if (type == CFFI_BOOL) {
      cffi_text_append(b, "  const bool s%u = scalars[%u] != 0;\n", k, k);
    } else {
      cffi_text_append(b, "  const %s s%u = (%s)scalars[%u];\n", param_type(type), k, param_type(type), k);
    }
  }
  if (sig->returns != CFFI_VOID)
    cffi_text_append(b, "  %s *o = (%s *)out;\n  %s r;\n", store_type(sig->returns), store_type(sig->returns),
                     return_type(sig->returns));
  /* One call in progress for the whole loop, errno handed from call to
   * call: between two calls nothing but this loop runs (a callback that ran
   * JS, or left work, ends the loop), so each call starts as the
   * synchronous call would start it. */
  cffi_text_append(b, "  const unsigned seen = cffi_js_callbacks_run;\n  ++cffi_call_depth;\n"
                      "  cffi_errno = cffi_last_errno;\n"
                      "  for (; i < n; i++) {\n    ");
  if (sig->returns != CFFI_VOID) cffi_text_append(b, "r = ");
  cffi_text_append(b, "cffi_target(");
  for (unsigned k = 0; k < n; k++) {
    const char *sep = k ? ", " : "";
    if (!(columns >> k & 1)) cffi_text_append(b, "%ss%u", sep, k);
    else if (sig->args[k] == CFFI_BOOL) cffi_text_append(b, "%sc%u[i] != 0", sep, k);
    else cffi_text_append(b, "%sc%u[i]", sep, k);
  }
  cffi_text_append(b, ");\n");
  /* Only a callback that ran JS leaves work (cleanup_depth): one test,
   * before the store (that JS may have detached options.into): the result
   * waits in *held, as its register image, for the caller to store. */
  cffi_text_append(b, "    if (cffi_js_callbacks_run != seen) {\n");
  if (sig->returns == CFFI_F64) cffi_text_append(b, "      union cffi_f64 h;\n      h.d = r;\n      *held = h.u;\n");
  else if (sig->returns == CFFI_F32) cffi_text_append(b, "      union cffi_f32 h;\n      h.f = r;\n      *held = h.u;\n");
  else if (sig->returns != CFFI_VOID) cffi_text_append(b, "      *held = r;\n");
  cffi_text_append(b, "      cffi_last_errno = cffi_errno;\n      --cffi_call_depth;\n      return i + 1;\n    }\n");
  if (sig->returns == CFFI_BOOL) cffi_text_append(b, "    o[i] = (r & 0xff) != 0;\n");
  else if (sig->returns != CFFI_VOID) cffi_text_append(b, "    o[i] = (%s)r;\n", store_type(sig->returns));
  cffi_text_append(b, "  }\n  cffi_last_errno = cffi_errno;\n  --cffi_call_depth;\n  return n;\n}\n");
}

typedef struct {
  const char *source;
  const cffi_function *fn;
  TCCState *state;
  void *memory;
  int size;
  cffi_map_loop_fn entry;
} loop_compile;

static void on_tcc_error(void *opaque, const char *message) {
  (void)opaque;
  CFFI_DEBUG("map jit: TinyCC: %s", message);
}

/* As src/calls/jit.c compiles wrappers: no C library, every address a
 * symbol, relocated into pages of ours and sealed read+execute. */
static void compile_loop_trapped(void *arg) {
  loop_compile *job = arg;
  TCCState *s = job->state = tcc_new();
  if (!s) return;
  tcc_set_error_func(s, NULL, on_tcc_error);
  tcc_set_options(s, "-nostdlib");
  tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
  cffi_env_state *state = job->fn->state;
  tcc_add_symbol(s, "cffi_call_depth", &state->call_depth);
  tcc_add_symbol(s, "cffi_js_callbacks_run", &state->js_callbacks_run);
  tcc_add_symbol(s, "cffi_last_errno", &state->last_errno);
  tcc_add_symbol(s, "cffi_errno", &errno); /* compiled on the env's thread, the only one running it */
  tcc_add_symbol(s, "cffi_target", job->fn->address);
  if (tcc_compile_string(s, job->source) == -1 || (job->size = tcc_relocate(s, NULL)) <= 0) return;
  void *memory = mmap(NULL, (size_t)job->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return;
  job->memory = memory;
  if (tcc_relocate(s, memory) < 0) return;
  cffi_map_loop_fn entry = (cffi_map_loop_fn)tcc_get_symbol(s, "cffi_map_loop");
  if (!entry) return;
  __builtin___clear_cache((char *)memory, (char *)memory + job->size);
  if (mprotect(memory, (size_t)job->size, PROT_READ | PROT_EXEC) == 0) job->entry = entry;
}

static void compile_loop(map_loop *loop, const cffi_function *fn) {
  cffi_text source = {0};
  render_loop(&source, &fn->sig, loop->columns);
  loop_compile job = {source.text, fn, NULL, NULL, -1, NULL};
  if (!source.failed && !cffi_tcc_run(compile_loop_trapped, &job, 0))
    CFFI_DEBUG("map jit: TinyCC called exit() while compiling %s's loop; trapped", fn->name);
  free(source.text);
  if (job.state) cffi_tcc_delete(job.state);
  if (job.entry) {
    loop->entry = job.entry;
    loop->memory = job.memory;
    loop->size = (size_t)job.size;
    CFFI_DEBUG("map jit: %s's loop compiled (columns 0x%llx)", fn->name, (unsigned long long)loop->columns);
  } else {
    if (job.memory) munmap(job.memory, (size_t)job.size);
    CFFI_DEBUG("map jit: no loop for %s; it maps with the C loop", fn->name);
  }
}

static bool loop_eligible(const cffi_signature *sig) {
  return (cffi_engine_preferred == CFFI_PREFER_TIERED || cffi_engine_preferred == CFFI_PREFER_JIT) &&
         sig->abi == FFI_DEFAULT_ABI && !sig->layouts && !sig->variadic && !sig->takes_env;
}

cffi_map_loop_fn cffi_map_loop_for(const cffi_function *fn, uint64_t columns, size_t n) {
  const cffi_signature *sig = &fn->sig;
  if (!loop_eligible(sig)) return NULL;
  cffi_env_state *state = fn->state;
  for (map_loop *loop = state->map_loops; loop; loop = loop->next)
    if (loop->address == fn->address && loop->columns == columns && loop->nargs == sig->nargs &&
        loop->returns == sig->returns && memcmp(loop->args, sig->args, sig->nargs) == 0)
      return loop->entry;
  if ((n < MAP_JIT_MIN_CALLS && cffi_engine_preferred != CFFI_PREFER_JIT) || state->map_loop_count >= MAP_JIT_MAX_LOOPS) return NULL;
  map_loop *loop = calloc(1, sizeof *loop);
  if (!loop) return NULL;
  loop->address = fn->address;
  loop->columns = columns;
  loop->nargs = sig->nargs;
  loop->returns = sig->returns;
  memcpy(loop->args, sig->args, sig->nargs);
  compile_loop(loop, fn);
  loop->next = state->map_loops;
  state->map_loops = loop;
  state->map_loop_count++;
  return loop->entry;
}

/* The env's end: its loops go (no map can run any more). */
static void free_loops(void *data) {
  cffi_env_state *state = data;
  while (state->map_loops) {
    map_loop *next = state->map_loops->next;
    if (state->map_loops->memory) munmap(state->map_loops->memory, state->map_loops->size);
    free(state->map_loops);
    state->map_loops = next;
  }
  state->map_loop_count = 0;
}

void cffi_map_jit_attach(napi_env env) {
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  napi_add_env_cleanup_hook(env, free_loops, state);
}
#else
cffi_map_loop_fn cffi_map_loop_for(const cffi_function *fn, uint64_t columns, size_t n) {
  (void)fn, (void)columns, (void)n;
  return NULL;
}

void cffi_map_jit_attach(napi_env env) { (void)env; }
#endif
