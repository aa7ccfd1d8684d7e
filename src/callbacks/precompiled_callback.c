/*
 * precompiled_callback.c - C entries compiled with the addon (by gcc or
 * clang) for the commonest JSCallback shapes, which a register closure's
 * entry stub jumps to instead of the assembly entry in register_closure.c.
 *
 * Owns: the shapes (up to three arguments, each passed in an integer or a
 * vector register; a void, integer-class or float-class result), one entry
 * per shape with the real prototype of its register classes, and the
 * choice of entry for a signature.
 *
 * Why: the assembly entry serves every register signature, so it spills
 * all fourteen argument registers and cffi_callback_from_registers copies
 * each argument out of that array through sig->dest[] (about 60
 * instructions of a comparator call). An entry with the shape's prototype
 * receives its arguments where the compiler wants them and hands them on
 * in order: the same images, so everything after (thread, closed, scopes,
 * exceptions, errno, close during a call: src/callbacks/callback.c) is the
 * one path all callbacks take.
 *
 * Finding the callback: the entry stub (src/platform/stubs.c, the
 * CFFI_STUB_CALLBACK_SHAPED pool) loads its slot's data, the callback,
 * into rcx, the fourth integer argument register, and jumps. A shape has
 * at most three arguments, so rcx is never one of C's; the entry declares
 * three integer parameters before the callback (a shape's own, and unused
 * ones for the rest), so that the callback is a parameter like any other:
 * plain C, whatever its prologue does. Its return address is the one C
 * called the stub with (what the signal-handler check reads).
 *
 * x86-64 System V (ELF) only; elsewhere every register closure keeps the
 * assembly entry.
 */
#include <string.h>

#include "../cffi.h"

#if CFFI_HAVE_REGISTER_CLOSURES && defined(__x86_64__) && defined(__ELF__) && !defined(_WIN32)
/* Register classes: N none, I integer register, F vector register. */
enum { N, I, F };

static inline __attribute__((always_inline)) uint64_t bits_of(double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  return bits;
}

static inline __attribute__((always_inline)) double double_of(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* A parameter of class c, and its 64-bit image (a vector register's low
 * 64 bits, as the assembly entry's movq stores them; an f32 is the low 32). */
#define PARAM_N(name)
#define PARAM_I(name) , uint64_t name
#define PARAM_F(name) , double name
/* After the shape's own parameters, an unused integer one for each
 * position that took no integer register, so that the callback after them
 * is always the fourth integer parameter (rcx). Integer registers go to
 * integer parameters in order, so these must follow all of the shape's. */
#define UNUSED_N(name) , __attribute__((unused)) uint64_t name##_unused
#define UNUSED_I(name)
#define UNUSED_F(name) UNUSED_N(name)
#define IMAGE_N(name, i)
#define IMAGE_I(name, i) images[i] = name;
#define IMAGE_F(name, i) images[i] = bits_of(name);
/* The first position: a shape without arguments writes one 0, so that no
 * image handed on is uninitialised memory as far as the compiler knows. */
#define FIRST_IMAGE_N(name, i) images[i] = 0;
#define FIRST_IMAGE_I(name, i) IMAGE_I(name, i)
#define FIRST_IMAGE_F(name, i) IMAGE_F(name, i)
/* The result: void, an integer register, or the image in a vector register. */
#define RESULT_TYPE_N void
#define RESULT_TYPE_I uint64_t
#define RESULT_TYPE_F double
#define RETURN_N(raw) (void)(raw)
#define RETURN_I(raw) return (raw)
#define RETURN_F(raw) return double_of(raw)

/* How many arguments a position adds, and the run for that many (one
 * function per count: the constant count lets it unroll its loop). */
#define COUNT_N 0
#define COUNT_I 1
#define COUNT_F 1
static inline __attribute__((always_inline)) uint64_t run_images(unsigned n, cffi_callback *cb, const uint64_t *images,
                                                                 const void *return_address) {
  switch (n) {
    case 0: return cffi_callback_from_images_0(cb, images, return_address);
    case 1: return cffi_callback_from_images_1(cb, images, return_address);
    case 2: return cffi_callback_from_images_2(cb, images, return_address);
    default: return cffi_callback_from_images_3(cb, images, return_address);
  }
}

/* A leading dummy parameter would shift the registers: the parameter list
 * is spliced without it (FIRST drops the first PARAM's comma, once the
 * PARAMs have expanded). */
#define FIRST_(dummy, ...) __VA_ARGS__
#define FIRST(...) FIRST_(__VA_ARGS__)
#define PARAMS(a, b, c) \
  FIRST(0 PARAM_##a(a0) PARAM_##b(a1) PARAM_##c(a2) UNUSED_##a(a0) UNUSED_##b(a1) UNUSED_##c(a2))

/* No frame pointer (three instructions of the ~15), and only the images
 * of the shape's arguments written (run_callback reads nargs of them). */
#define DEFINE_ENTRY(a, b, c, r)                                                               \
  __attribute__((optimize("omit-frame-pointer"))) static RESULT_TYPE_##r entry_##a##b##c##_##r( \
      PARAMS(a, b, c), cffi_callback *cb) {                                                    \
    uint64_t images[3];                                                                        \
    FIRST_IMAGE_##a(a0, 0) IMAGE_##b(a1, 1) IMAGE_##c(a2, 2)                                   \
    RETURN_##r(run_images(COUNT_##a + COUNT_##b + COUNT_##c, cb, images,                      \
                          __builtin_return_address(0)));                                         \
  }
#define RESULTS(X, a, b, c) X(a, b, c, N) X(a, b, c, I) X(a, b, c, F)
#define EVERY_SHAPE(X)                                                                        \
  RESULTS(X, N, N, N)                                                                         \
  RESULTS(X, I, N, N) RESULTS(X, F, N, N)                                                     \
  RESULTS(X, I, I, N) RESULTS(X, I, F, N) RESULTS(X, F, I, N) RESULTS(X, F, F, N)             \
  RESULTS(X, I, I, I) RESULTS(X, I, I, F) RESULTS(X, I, F, I) RESULTS(X, I, F, F)             \
  RESULTS(X, F, I, I) RESULTS(X, F, I, F) RESULTS(X, F, F, I) RESULTS(X, F, F, F)

EVERY_SHAPE(DEFINE_ENTRY)
#undef DEFINE_ENTRY

/* [first][second][third][result] */
static void *const entries[F + 1][F + 1][F + 1][F + 1] = {
#define LIST_ENTRY(a, b, c, r) [a][b][c][r] = (void *)entry_##a##b##c##_##r,
    EVERY_SHAPE(LIST_ENTRY)
#undef LIST_ENTRY
};

static int register_class(uint8_t type) {
  switch (cffi_types[type].reg) {
    case CFFI_CLASS_FLOAT: return F;
    case CFFI_CLASS_INT: return I;
    default: return -1;
  }
}

void *cffi_precompiled_callback_entry(const cffi_signature *sig) {
  if (sig->engine != CFFI_ENGINE_REGISTERS || sig->layouts || sig->variadic || sig->takes_env || sig->nargs > 3)
    return NULL;
  int classes[3] = {N, N, N};
  for (unsigned i = 0; i < sig->nargs; i++)
    if ((classes[i] = register_class(sig->args[i])) < 0) return NULL;
  int result = N;
  if (sig->returns != CFFI_VOID && (result = register_class(sig->returns)) < 0) return NULL;
  return entries[classes[0]][classes[1]][classes[2]][result];
}
#else
void *cffi_precompiled_callback_entry(const cffi_signature *sig) {
  (void)sig;
  return NULL;
}
#endif
