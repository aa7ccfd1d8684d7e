/*
 * platform.h - the OS and ABI seam.
 *
 * Everything that differs between Linux, macOS and Windows, or between
 * calling conventions, lives behind the names defined here:
 *   - loading libraries and symbols (cffi_lib_open / cffi_lib_symbol /
 *     cffi_lib_close), with the loader's own error text, and whether a
 *     library may be made to bind to its own dependencies (deep binding);
 *   - whether the register-call fast path exists on this ABI, and how many
 *     integer and floating-point argument registers it may use;
 *   - thread-local storage, and telling the running thread from others
 *     (a thread id, and a tag read without a call for hot paths).
 * No other file includes <dlfcn.h> or <windows.h>.
 */
#ifndef CFFI_PLATFORM_H
#define CFFI_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <dlfcn.h> /* dlinfo needs _GNU_SOURCE, defined for Linux in binding.gyp */
#endif

#if defined(_MSC_VER)
#define CFFI_THREAD_LOCAL __declspec(thread)
#else
#define CFFI_THREAD_LOCAL _Thread_local
#endif

#if defined(__GNUC__)
#define CFFI_LIKELY(x) __builtin_expect(!!(x), 1)
#define CFFI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CFFI_LIKELY(x) (x)
#define CFFI_UNLIKELY(x) (x)
#endif

/*
 * Register-call fast path.
 *
 * On x86-64 System V and on AArch64 (AAPCS64, including Apple's variant for
 * non-variadic functions) integer-class and floating-point arguments are
 * assigned to two independent register files, in order. So any non-variadic
 * function whose integer-class arguments fit the integer registers and whose
 * floating-point arguments fit the vector registers can be called through one
 * pointer type that passes every register: the callee reads the registers its
 * real prototype names and ignores the rest. A float travels in the low 32
 * bits of its vector register, so it is passed as a double whose low half
 * holds the float's bits. Windows x64 assigns registers by position, not by
 * class, so it (and every other ABI) uses libffi for every call.
 */
#if (defined(__x86_64__) && !defined(_WIN32)) || defined(__aarch64__)
#define CFFI_HAVE_REGISTER_CALLS 1
#if defined(__x86_64__)
#define CFFI_INT_REGS 6
#else
#define CFFI_INT_REGS 8
#endif
#define CFFI_FLOAT_REGS 8
#else
#define CFFI_HAVE_REGISTER_CALLS 0
#define CFFI_INT_REGS 0
#define CFFI_FLOAT_REGS 0
#endif

/* Register closures (src/callbacks/register_closure.c): the same register files the
 * other way round, for JSCallbacks. Written for x86-64 System V and AArch64
 * on ELF; elsewhere (Windows, macOS) callbacks are libffi closures. */
#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__ELF__) && !defined(_WIN32)
#define CFFI_HAVE_REGISTER_CLOSURES 1
#else
#define CFFI_HAVE_REGISTER_CLOSURES 0
#endif

/* Variadic functions on the register engine (src/calls/variadic.c). On
 * x86-64 System V a variadic argument travels like a named one, but the
 * caller must also set %al to an upper bound of the vector registers used;
 * on AArch64 (AAPCS64) variadic arguments travel exactly like named ones.
 * Apple's arm64 passes every variadic argument on the stack, and Windows
 * has no register engine: there variadic calls go through libffi. */
#if CFFI_HAVE_REGISTER_CALLS && !(defined(__aarch64__) && defined(__APPLE__))
#define CFFI_VARIADIC_REGISTER_CALLS 1
#if defined(__x86_64__)
#define CFFI_VARIADIC_SETS_AL 1
#else
#define CFFI_VARIADIC_SETS_AL 0
#endif
#else
#define CFFI_VARIADIC_REGISTER_CALLS 0
#define CFFI_VARIADIC_SETS_AL 0
#endif

/* One past the highest user-space address: no foreign memory range can end
 * beyond it. (x86-64 with 5-level paging hands out higher addresses only to
 * programs that ask for them explicitly.) */
#if defined(__x86_64__) || defined(_M_X64)
#define CFFI_USER_ADDRESS_LIMIT (UINT64_C(1) << 47)
#elif defined(__aarch64__) || defined(_M_ARM64)
#define CFFI_USER_ADDRESS_LIMIT (UINT64_C(1) << 48)
#else
#define CFFI_USER_ADDRESS_LIMIT UINT64_MAX
#endif

/* Values travel as 64-bit register images; libffi reads narrower ones from
 * the first bytes of the slot, which is only right on little-endian targets. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cffi-bun assumes a little-endian target"
#endif

#ifdef _WIN32
/* The Windows loader (src/platform/windows.c): UTF-8 paths through the wide
 * functions, and the system's error text in UTF-8, told apart for the
 * commonest failures (no such file, a missing dependency, not a DLL). */
void *cffi_lib_open(const char *path, int deep_bind, char *err, size_t errlen);
void *cffi_lib_symbol(void *handle, const char *name, char *err, size_t errlen);
static inline void cffi_lib_close(void *handle) { FreeLibrary((HMODULE)handle); }

/* Windows resolves each import against the DLL it names: nothing to do. */
#define CFFI_HAS_DEEP_BIND 0
static inline int cffi_deep_bind_hazard(void) { return 0; }

/* The file the loader actually mapped, for debug logs (UTF-8). */
void cffi_lib_resolved_path(void *handle, const char *given, char *out, size_t len);

static inline int cffi_path_has_directory(const char *path) {
  return strchr(path, '/') != NULL || strchr(path, '\\') != NULL;
}
#else
/* RTLD_DEEPBIND (glibc): the library's references resolve in its own
 * dependency tree before the global scope. The node binary exports its own
 * zlib, OpenSSL, libuv...: without it, a system libz opened here binds its
 * internal calls to Node's zlib. macOS's two-level namespaces already bind
 * each import to the library it came from. */
#ifdef RTLD_DEEPBIND
#define CFFI_HAS_DEEP_BIND 1
#else
#define CFFI_HAS_DEEP_BIND 0
#define RTLD_DEEPBIND 0
#endif

#ifdef __GLIBC__
#include <stdlib.h>
/* Whether an object named in LD_PRELOAD defines malloc or free itself: its
 * own lookup scope (the object, then its dependencies) then finds another
 * definition than libc's. (RTLD_DEFAULT cannot tell: in a non-PIE node it
 * answers the executable's PLT slot.) */
static inline int cffi_preload_replaces_malloc(void) {
  const char *preload = getenv("LD_PRELOAD");
  if (!preload || !*preload) return 0;
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (!libc) return 1;
  void *libc_malloc = dlsym(libc, "malloc"), *libc_free = dlsym(libc, "free");
  int replaced = 0;
  char name[4096];
  for (const char *at = preload; *at && !replaced;) {
    size_t len = strcspn(at, " :");
    if (len > 0 && len < sizeof name) {
      memcpy(name, at, len);
      name[len] = 0;
      void *object = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
      if (object) {
        replaced = dlsym(object, "malloc") != libc_malloc || dlsym(object, "free") != libc_free;
        dlclose(object);
      }
    }
    at += len;
    at += strspn(at, " :");
  }
  dlclose(libc);
  return replaced;
}
#endif

/* What deep binding would break, found once: 2 when a sanitizer runtime is
 * loaded (ASan and its kin abort on RTLD_DEEPBIND), 1 when a preloaded
 * object replaces malloc (jemalloc, tcmalloc: a deep-bound library would
 * allocate with libc's malloc what the process frees with the other), else
 * 0. A racing first call computes the same answer. */
static inline int cffi_deep_bind_hazard(void) {
  static int hazard = -1;
  if (hazard >= 0) return hazard;
  int found = 0;
  if (dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init") ||
      dlsym(RTLD_DEFAULT, "__msan_init") || dlsym(RTLD_DEFAULT, "__lsan_do_leak_check") ||
      dlsym(RTLD_DEFAULT, "__hwasan_init")) {
    found = 2;
  } else {
#ifdef __GLIBC__
    found = cffi_preload_replaces_malloc();
#endif
  }
  dlerror();
  hazard = found;
  return hazard;
}

static inline void *cffi_lib_open(const char *path, int deep_bind, char *err, size_t errlen) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | (deep_bind ? RTLD_DEEPBIND : 0));
  if (!h) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "unknown loader error");
  }
  return h;
}

static inline void *cffi_lib_symbol(void *handle, const char *name, char *err, size_t errlen) {
  dlerror();
  void *p = dlsym(handle, name);
  if (!p) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "symbol resolves to NULL");
  }
  return p;
}

static inline void cffi_lib_close(void *handle) { dlclose(handle); }

#if defined(__GLIBC__) && defined(RTLD_DI_LINKMAP)
#include <link.h>
#endif
/* The file the loader actually mapped, for debug logs. */
static inline void cffi_lib_resolved_path(void *handle, const char *given, char *out, size_t len) {
#if defined(__GLIBC__) && defined(RTLD_DI_LINKMAP)
  struct link_map *map = NULL;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0]) {
    snprintf(out, len, "%s", map->l_name);
    return;
  }
#else
  (void)handle;
#endif
  snprintf(out, len, "%s", given);
}

static inline int cffi_path_has_directory(const char *path) { return strchr(path, '/') != NULL; }
#endif

/* Threads: identity of the JS thread, and a one-shot event a foreign thread
 * waits on while JS computes a callback's result. */
#ifdef _WIN32
typedef DWORD cffi_thread_id;
static inline cffi_thread_id cffi_current_thread(void) { return GetCurrentThreadId(); }
static inline int cffi_same_thread(cffi_thread_id a, cffi_thread_id b) { return a == b; }
typedef struct {
  SRWLOCK lock;
  CONDITION_VARIABLE cond;
  int done;
} cffi_event;
static inline void cffi_event_init(cffi_event *e) {
  InitializeSRWLock(&e->lock);
  InitializeConditionVariable(&e->cond);
  e->done = 0;
}
static inline void cffi_event_signal(cffi_event *e) {
  AcquireSRWLockExclusive(&e->lock);
  e->done = 1;
  /* Woken under the lock: the waiter's event lives on its stack, and once
   * the lock is released it may see done, return and end that frame. */
  WakeAllConditionVariable(&e->cond);
  ReleaseSRWLockExclusive(&e->lock);
}
static inline void cffi_event_wait(cffi_event *e) {
  AcquireSRWLockExclusive(&e->lock);
  while (!e->done) SleepConditionVariableSRW(&e->cond, &e->lock, INFINITE, 0);
  ReleaseSRWLockExclusive(&e->lock);
}
static inline void cffi_event_destroy(cffi_event *e) { (void)e; }
/* The same event as a counter that many signals bump (done counts them) and
 * one thread waits on for a value other than the one it last saw. */
static inline int cffi_event_bump(cffi_event *e, int add) {
  AcquireSRWLockExclusive(&e->lock);
  const int value = e->done += add;
  WakeAllConditionVariable(&e->cond);
  ReleaseSRWLockExclusive(&e->lock);
  return value;
}
static inline int cffi_event_wait_past(cffi_event *e, int seen) {
  AcquireSRWLockExclusive(&e->lock);
  while (e->done == seen) SleepConditionVariableSRW(&e->cond, &e->lock, INFINITE, 0);
  const int value = e->done;
  ReleaseSRWLockExclusive(&e->lock);
  return value;
}
static inline void cffi_yield_thread(void) { SwitchToThread(); }
#else
#include <pthread.h>
#include <sched.h>
typedef pthread_t cffi_thread_id;
static inline cffi_thread_id cffi_current_thread(void) { return pthread_self(); }
static inline int cffi_same_thread(cffi_thread_id a, cffi_thread_id b) { return pthread_equal(a, b); }
#endif

/* A word that tells the running thread from every other live thread, read
 * without a call, for a test made on every call of a hot path (is this a
 * JSCallback's JS thread?): compared only with what this function gave on
 * the other thread. On Linux the thread pointer itself: on x86-64 the word
 * at %fs:0 (the TLS ABI's thread control block starts with a pointer to
 * itself), on AArch64 TPIDR_EL0; one load instead of pthread_self's PLT
 * call. Elsewhere the thread id. Like a thread id, a thread that has ended
 * may leave its value to a later one. */
typedef uintptr_t cffi_thread_tag;
static inline cffi_thread_tag cffi_thread_tag_now(void) {
#if defined(__linux__) && defined(__x86_64__)
  cffi_thread_tag tag;
  __asm__("movq %%fs:0, %0" : "=r"(tag));
  return tag;
#elif defined(__linux__) && defined(__aarch64__)
  cffi_thread_tag tag;
  __asm__("mrs %0, tpidr_el0" : "=r"(tag));
  return tag;
#elif defined(_WIN32)
  return (cffi_thread_tag)GetCurrentThreadId();
#else
  return (cffi_thread_tag)pthread_self();
#endif
}
#ifndef _WIN32
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
} cffi_event;
static inline void cffi_event_init(cffi_event *e) {
  pthread_mutex_init(&e->lock, NULL);
  pthread_cond_init(&e->cond, NULL);
  e->done = 0;
}
static inline void cffi_event_signal(cffi_event *e) {
  pthread_mutex_lock(&e->lock);
  e->done = 1;
  pthread_cond_signal(&e->cond);
  pthread_mutex_unlock(&e->lock);
}
static inline void cffi_event_wait(cffi_event *e) {
  pthread_mutex_lock(&e->lock);
  while (!e->done) pthread_cond_wait(&e->cond, &e->lock);
  pthread_mutex_unlock(&e->lock);
}
static inline void cffi_event_destroy(cffi_event *e) {
  pthread_mutex_destroy(&e->lock);
  pthread_cond_destroy(&e->cond);
}
/* The same event as a counter that many signals bump (done counts them) and
 * one thread waits on for a value other than the one it last saw. */
static inline int cffi_event_bump(cffi_event *e, int add) {
  pthread_mutex_lock(&e->lock);
  const int value = e->done += add;
  pthread_cond_signal(&e->cond);
  pthread_mutex_unlock(&e->lock);
  return value;
}
static inline int cffi_event_wait_past(cffi_event *e, int seen) {
  pthread_mutex_lock(&e->lock);
  while (e->done == seen) pthread_cond_wait(&e->cond, &e->lock);
  const int value = e->done;
  pthread_mutex_unlock(&e->lock);
  return value;
}
static inline void cffi_yield_thread(void) { sched_yield(); }
#endif

/* Keeps this module mapped until the process ends, whatever unloads Node
 * does when envs end (src/platform/pin.c); 1 when pinned. */
int cffi_platform_pin_addon(void);
/* The addon's own file as a UTF-8 path (malloc'd), or NULL (pin.c). */
char *cffi_platform_addon_path(void);

/* src/platform/symbol_kind.c: what lies at a bound address, from the
 * loaded object's piece that holds it (Linux, Windows, macOS; elsewhere unknown). */
typedef enum { CFFI_SYMBOL_UNKNOWN, CFFI_SYMBOL_FUNCTION, CFFI_SYMBOL_DATA } cffi_symbol_kind;
cffi_symbol_kind cffi_lib_symbol_kind(const void *address);

#endif /* CFFI_PLATFORM_H */
