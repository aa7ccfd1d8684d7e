/*
 * windows.c - the Windows half of the loader seam declared in platform.h.
 *
 * Owns: opening DLLs and finding their symbols on Windows, and saying why
 * that failed in words a user can act on. Paths arrive as UTF-8 (what JS
 * strings become), so they go through the wide (UTF-16) functions: the
 * ANSI ones would misread any name outside the system code page. The
 * loader's text comes back in UTF-8 too (localised systems), with its
 * "%1" filled in and the error number kept for searching. Error 126 means
 * both "no such file" and "a DLL it imports is missing"; the file's
 * existence tells them apart, which is the question a user has. A library
 * opened by path finds the DLLs it imports beside it (load_module).
 * Compiles to nothing off Windows.
 */
#ifdef _WIN32
#include <stdlib.h>
#include <wchar.h>

#include "platform.h"

/* UTF-8 to a fresh UTF-16 string with '/' as '\\' (LoadLibrary's paths
 * want backslashes); NULL when out of memory. */
static wchar_t *wide_path(const char *path) {
  int n = MultiByteToWideChar(CP_UTF8, 0, path, -1, NULL, 0);
  if (n <= 0) return NULL;
  wchar_t *wide = malloc((size_t)n * sizeof *wide);
  if (!wide) return NULL;
  MultiByteToWideChar(CP_UTF8, 0, path, -1, wide, n);
  for (wchar_t *c = wide; *c; c++) {
    if (*c == L'/') *c = L'\\';
  }
  return wide;
}

/* The system's text for `code`, in UTF-8, its "%1" replaced by `subject`,
 * trailing newline and full stop dropped. */
static void system_text(DWORD code, const char *subject, char *out, size_t len) {
  wchar_t wide[512];
  char text[1024];
  DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, wide,
                           (DWORD)(sizeof wide / sizeof wide[0]), NULL);
  while (n > 0 && (wide[n - 1] == L'\n' || wide[n - 1] == L'\r' || wide[n - 1] == L' ' || wide[n - 1] == L'.'))
    wide[--n] = 0;
  if (n == 0 || WideCharToMultiByte(CP_UTF8, 0, wide, -1, text, (int)sizeof text, NULL, NULL) <= 0) {
    snprintf(out, len, "error %lu", (unsigned long)code);
    return;
  }
  const char *insert = strstr(text, "%1");
  if (insert && subject)
    snprintf(out, len, "%.*s%s%s", (int)(insert - text), text, subject, insert + 2);
  else
    snprintf(out, len, "%s", text);
}

/* A path with a folder in it is made absolute and loaded with
 * LOAD_WITH_ALTERED_SEARCH_PATH, so the DLLs it imports are looked for in its
 * own folder first, as Node's process.dlopen (libuv's uv_dlopen) and Bun's
 * process.dlopen do (Bun's bun:ffi dlopen does not: docs/differences.md).
 * The flag is undefined for a relative path, hence GetFullPathNameW. A bare
 * name keeps the standard search order. */
static HMODULE load_module(const char *path, const wchar_t *wide) {
  if (!cffi_path_has_directory(path)) return LoadLibraryW(wide);
  DWORD n = GetFullPathNameW(wide, 0, NULL, NULL);
  wchar_t *full = n ? malloc((size_t)n * sizeof *full) : NULL;
  /* A second answer of n or more means the current folder changed between
   * the two calls and nothing was written: fall back rather than load an
   * unterminated buffer. */
  DWORD written = full ? GetFullPathNameW(wide, n, full, NULL) : 0;
  if (written == 0 || written >= n) {
    free(full);
    return LoadLibraryW(wide);
  }
  HMODULE handle = LoadLibraryExW(full, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
  DWORD code = handle ? 0 : GetLastError();
  free(full);
  if (!handle) SetLastError(code);
  return handle;
}

void *cffi_lib_open(const char *path, int deep_bind, char *err, size_t errlen) {
  (void)deep_bind;
  wchar_t *wide = wide_path(path);
  if (!wide) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  /* No dialog box for a DLL that cannot be loaded: the caller gets the error. */
  UINT previous_mode = SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX);
  HMODULE handle = load_module(path, wide);
  DWORD code = handle ? 0 : GetLastError();
  SetErrorMode(previous_mode);
  if (!handle) {
    char text[600];
    system_text(code, path, text, sizeof text);
    DWORD attributes = cffi_path_has_directory(path) ? GetFileAttributesW(wide) : INVALID_FILE_ATTRIBUTES;
    if (cffi_path_has_directory(path) && attributes == INVALID_FILE_ATTRIBUTES)
      snprintf(err, errlen, "No such file or directory (Windows error %lu: %s)", (unsigned long)code, text);
    else if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY))
      snprintf(err, errlen, "Is a directory (Windows error %lu: %s)", (unsigned long)code, text);
    else if (code == ERROR_MOD_NOT_FOUND && attributes != INVALID_FILE_ATTRIBUTES)
      snprintf(err, errlen, "%s (Windows error %lu): the file exists, so a DLL it imports was not found", text,
               (unsigned long)code);
    else
      snprintf(err, errlen, "%s (Windows error %lu)", text, (unsigned long)code);
  }
  free(wide);
  return (void *)handle;
}

void *cffi_lib_symbol(void *handle, const char *name, char *err, size_t errlen) {
  void *address = (void *)GetProcAddress((HMODULE)handle, name);
  if (!address) {
    DWORD code = GetLastError();
    char text[512];
    system_text(code, name, text, sizeof text);
    snprintf(err, errlen, "%s (Windows error %lu)", text, (unsigned long)code);
  }
  return address;
}

void cffi_lib_resolved_path(void *handle, const char *given, char *out, size_t len) {
  wchar_t wide[MAX_PATH * 2];
  DWORD n = GetModuleFileNameW((HMODULE)handle, wide, (DWORD)(sizeof wide / sizeof wide[0]));
  if (n == 0 || n >= sizeof wide / sizeof wide[0] ||
      WideCharToMultiByte(CP_UTF8, 0, wide, -1, out, (int)len, NULL, NULL) <= 0)
    snprintf(out, len, "%s", given);
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int cffi_windows_loader_unused;
#endif
