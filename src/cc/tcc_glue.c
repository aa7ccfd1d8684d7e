/*
 * tcc_glue.c - what Debian's static libtcc.a needs to live inside this
 * shared object, and a window on the files it reads.
 *
 * Owns: the hidden stdout/stderr/environ the archive refers to, and the
 * linker-level wrapper of open() that reports files TinyCC reads while
 * cffi_tcc_watch_opens() is active.
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
 */
#ifdef CFFI_HAVE_TCC
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/types.h>

#include "tcc_glue.h"

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
 * here. While a watcher is set on this thread, successful read-only opens
 * of regular files are reported to it: that is the exact list of sources,
 * headers and libraries a compilation depended on. TinyCC holds a global
 * lock while compiling, and the watcher is per thread, so concurrent
 * compilations on other threads never report into each other's lists. */
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
  if (fd >= 0 && watcher && (flags & O_ACCMODE) == O_RDONLY) watcher(watcher_data, path, fd);
  return fd;
}
#else
/* Built without TinyCC: nothing to glue (ISO C wants a declaration). */
typedef int cffi_tcc_glue_unused;
#endif
