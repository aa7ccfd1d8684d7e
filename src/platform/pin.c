/*
 * pin.c - keeping the addon's own code mapped for the life of the process,
 * and finding the addon's own file (what src/base/finalizer_env.c loads
 * again: Node knows it only when the loader gave a module.filename).
 *
 * Node closes an addon (dlclose / FreeLibrary) when the last env that
 * loaded it ends, e.g. a worker that was the only thread to require the
 * package. A library's C threads may still be calling that worker's
 * threadsafe JSCallbacks through their stubs, which jump into this
 * module's code: once it is unmapped they crash. Stubs and their chunks
 * already outlive every env (src/platform/stubs.c); this keeps the code
 * they jump to, so such a call finds its callback closed and gets 0.
 *
 * Pinning is done at run time, from the module itself, so it holds
 * whatever flags built it: on Windows the loader's pin flag (the module is
 * never freed, whatever FreeLibrary calls follow); elsewhere a second
 * reference from dlopen with RTLD_NODELETE (glibc, macOS dyld and the
 * BSDs honour it on an already-loaded object: RTLD_NOLOAD finds it without
 * loading anything). Linux builds are also linked with -z nodelete
 * (binding.gyp), which makes the same promise from the ELF header.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* Whether this process has pinned the module already: the first env's
 * init does it, later ones (workers, a re-require) find it done. */
static atomic_int addon_pinned;

int cffi_platform_pin_addon(void) {
  if (atomic_load(&addon_pinned)) return 1;
  int pinned = 0;
#ifdef _WIN32
  HMODULE self;
  pinned = GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
                              (LPCWSTR)(void *)&cffi_platform_pin_addon, &self) != 0;
#else
  Dl_info self;
  if (dladdr((void *)&cffi_platform_pin_addon, &self) && self.dli_fname) {
    /* The reference this takes is never dropped: that is the pin. */
    pinned = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
  }
  dlerror();
#endif
  if (pinned) atomic_store(&addon_pinned, 1);
  return pinned;
}

char *cffi_platform_addon_path(void) {
#ifdef _WIN32
  HMODULE self;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
                          (LPCWSTR)(void *)&cffi_platform_addon_path, &self))
    return NULL;
  /* On the heap: a raw load can get here at any stack depth. */
  const DWORD capacity = 32768;
  wchar_t *wide = malloc(capacity * sizeof *wide);
  if (!wide) return NULL;
  DWORD length = GetModuleFileNameW(self, wide, capacity);
  int bytes = length > 0 && length < capacity ? WideCharToMultiByte(CP_UTF8, 0, wide, (int)length, NULL, 0, NULL, NULL) : 0;
  char *path = bytes > 0 ? malloc((size_t)bytes + 1) : NULL;
  if (path) {
    WideCharToMultiByte(CP_UTF8, 0, wide, (int)length, path, bytes, NULL, NULL);
    path[bytes] = 0;
  }
  free(wide);
  return path;
#else
  Dl_info self;
  if (!dladdr((void *)&cffi_platform_addon_path, &self) || !self.dli_fname) return NULL;
  return strdup(self.dli_fname);
#endif
}
