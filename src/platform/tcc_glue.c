/*
 * tcc_glue.c - what Debian's static libtcc.a needs to live inside this
 * shared object, and a window on the files it reads.
 *
 * Owns: the hidden stdout/stderr/environ the archive refers to, the
 * linker-level wrapper of open() that shows a watcher every file TinyCC
 * tries to open while cffi_tcc_watch_opens() is active (and lets it hand
 * back a replacement), and the thread every compilation runs on, where
 * libtcc's exit() is turned back into an ordinary failure.
 *
 * Why a thread and an exit trap: TinyCC parses recursively on the caller's
 * stack (20,000 nested parentheses overflow a main thread's 8 MB, 10,000 a
 * worker's 4 MB), and libtcc calls exit(1) for errors it raises outside a
 * compilation's own error jump (an option tcc_set_options() rejects, a
 * relocation tcc_relocate() cannot apply). --wrap=exit sends the archive's
 * exit() here; on the compile thread it jumps back to cffi_tcc_run(), which
 * reports the failure. By then libtcc has released its global lock and
 * handed its message to the error callback, so the state only needs
 * tcc_delete(). The thread is joined at once: cc() stays synchronous.
 *
 * Why stdout/stderr/environ: Debian builds libtcc.a as position-independent
 * *executable* code, whose references to those three libc data symbols are
 * PC-relative and expect the executable to hold copies of them (copy
 * relocations). A shared object cannot satisfy that from libc, so the link
 * fails. Defining the three here as hidden pointers makes the references
 * local to the addon; the constructor fills them from the process's real
 * ones. (binding.gyp also keeps every archive symbol local with
 * --exclude-libs, so its generic names never clash with the process's.)
 * environ is a snapshot taken at load: TinyCC reads it only in tcc_run(),
 * which this addon never calls.
 *
 * Why a process-wide lock: libtcc keeps its compiler state in globals and
 * guards them with a semaphore it initialises on first use without any
 * synchronisation (`if (!init) { sem_init(); init = 1; }`). Two threads
 * compiling for the first time at once (workers tiering up, or calling
 * cc(), together) can both initialise it and then both compile: a SIGSEGV
 * inside TinyCC, 3 runs in 2000 of a bare 8-thread C program here (issue 22
 * item 10). Every TCC state is created, compiled, relocated and deleted
 * under this lock (tcc_get_symbol() on a finished state only reads that
 * state), so libtcc's globals only ever see one thread at a time. Compiles were serialised by
 * TinyCC's semaphore already, so it costs nothing.
 */
#ifdef CFFI_HAVE_TCC
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#include "tcc_glue.h"

/* libtcc.h's declaration (the header itself would clash with tcc_run below). */
struct TCCState;
void tcc_delete(struct TCCState *s);

/* Recursive: a run started inside another on the same thread keeps working. */
static pthread_mutex_t tcc_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* Deliberately not <stdio.h>'s declarations: these are our own definitions
 * of the names, and only their pointer values matter. */
__attribute__((visibility("hidden"))) void *stdout;
__attribute__((visibility("hidden"))) void *stderr;
__attribute__((visibility("hidden"))) char **environ;

__attribute__((constructor)) static void fill_libc_data(void) {
  /* RTLD_DEFAULT finds the executable's copy when it has one (that is the
   * object libc itself uses); our hidden definitions are not visible to
   * dlsym, so there is no risk of finding ourselves. */
  void **out = dlsym(RTLD_DEFAULT, "stdout");
  void **err = dlsym(RTLD_DEFAULT, "stderr");
  char ***env = dlsym(RTLD_DEFAULT, "environ");
  if (out) stdout = *out;
  if (err) stderr = *err;
  if (env) environ = *env;
}

/* --wrap=open sends every call to open() in the addon (TinyCC's and ours)
 * here. While a watcher is set on this thread, every read-only open is
 * reported to it, failed ones too (a header looked for and not found is a
 * dependency as well): that is the exact list of sources, headers and
 * libraries a compilation depended on. TinyCC holds a global lock while
 * compiling, and the watcher is per thread, so concurrent compilations on
 * other threads never report into each other's lists. */
int __real_open(const char *path, int flags, ...);

static _Thread_local cffi_open_watcher watcher;
static _Thread_local void *watcher_data;

void cffi_tcc_watch_opens(cffi_open_watcher fn, void *data) {
  watcher = fn;
  watcher_data = data;
}

int __wrap_open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  int fd = __real_open(path, flags, mode);
  if (watcher && (flags & O_ACCMODE) == O_RDONLY) fd = watcher(watcher_data, path, fd);
  return fd;
}

void __real_exit(int status) __attribute__((noreturn));

static _Thread_local jmp_buf *exit_trap;

void __wrap_exit(int status) {
  if (exit_trap) longjmp(*exit_trap, 1);
  __real_exit(status);
}

typedef struct {
  void (*fn)(void *);
  void *arg;
  bool exited;
} tcc_run;

static void *run_trapped(void *p) {
  tcc_run *run = p;
  jmp_buf trap, *outer = exit_trap; /* run on this thread inside another run: kept */
  if (setjmp(trap) == 0) {
    exit_trap = &trap;
    run->fn(run->arg);
  } else {
    run->exited = true;
  }
  exit_trap = outer;
  if (!outer) cffi_tcc_watch_opens(NULL, NULL);
  return NULL;
}

bool cffi_tcc_run(void (*fn)(void *), void *arg, size_t stack_size) {
  tcc_run run = {fn, arg, false};
  pthread_mutex_lock(&tcc_lock);
  pthread_attr_t attr;
  pthread_t thread;
  bool started = stack_size > 0 && pthread_attr_init(&attr) == 0;
  if (started) {
    started = pthread_attr_setstacksize(&attr, stack_size) == 0 &&
              pthread_create(&thread, &attr, run_trapped, &run) == 0;
    pthread_attr_destroy(&attr);
  }
  /* No thread (stack_size 0, or address space or thread limits): here,
   * still with the exit trap, on whatever stack this thread has. */
  if (started) pthread_join(thread, NULL);
  else run_trapped(&run);
  pthread_mutex_unlock(&tcc_lock);
  return !run.exited;
}

void cffi_tcc_delete(void *state) {
  pthread_mutex_lock(&tcc_lock);
  tcc_delete(state);
  pthread_mutex_unlock(&tcc_lock);
}
#else
/* Built without TinyCC: nothing to glue (ISO C wants a declaration). */
typedef int cffi_tcc_glue_unused;
#endif
