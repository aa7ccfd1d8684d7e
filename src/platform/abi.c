/*
 * abi.c - calling conventions by name: which of libffi's ABIs a definition's
 * `abi` selects on this platform. The names are libffi's; each platform
 * accepts only the conventions its libffi can call, and the message for any
 * other says which ones it has. Only "default" (and names that mean the
 * same thing here) may use the register engine; the rest go through libffi.
 */
#include <string.h>

#include "../cffi.h"

typedef struct {
  const char *name;
  ffi_abi abi;
} abi_name;

static const abi_name platform_abis[] = {
    {"default", FFI_DEFAULT_ABI},
#if defined(X86_WIN64)
    {"win64", FFI_WIN64},
    {"cdecl", FFI_DEFAULT_ABI},
#elif defined(X86_64) || (defined(__x86_64__) && defined(X86_DARWIN))
    {"sysv", FFI_UNIX64},
    {"unix64", FFI_UNIX64},
    {"cdecl", FFI_UNIX64},
    {"win64", FFI_WIN64},
#elif defined(X86_WIN32) || defined(X86) || defined(__i386__)
    {"sysv", FFI_SYSV},
    {"cdecl", FFI_DEFAULT_ABI},
    {"stdcall", FFI_STDCALL},
    {"thiscall", FFI_THISCALL},
    {"fastcall", FFI_FASTCALL},
#elif defined(__aarch64__) && defined(_WIN32)
    {"win64", FFI_WIN64},
    {"cdecl", FFI_DEFAULT_ABI},
#elif defined(__aarch64__)
    {"sysv", FFI_SYSV},
    {"cdecl", FFI_SYSV},
#endif
};

/* Windows x64 has one convention: MSVC, clang and gcc accept the 32-bit
 * names there and ignore them, so a binding written for 32-bit Windows (the
 * Win32 API is stdcall) works unchanged. Accepted, not listed as choices. */
#if defined(X86_WIN64)
static const char *const one_convention_aliases[] = {"stdcall", "fastcall", "thiscall"};
#define ABI_ALIAS_NOTE "; stdcall, fastcall and thiscall are accepted and mean the x64 convention, as in MSVC"
#endif

/* Every name any platform accepts, to tell "unknown" from "not here". */
static const char *const known_abis[] = {"default", "sysv",     "unix64",   "win64",
                                         "stdcall", "fastcall", "thiscall", "cdecl"};

#if defined(_WIN32)
#define PLATFORM_OS "windows"
#elif defined(__APPLE__)
#define PLATFORM_OS "macos"
#else
#define PLATFORM_OS "linux"
#endif
#if defined(__x86_64__) || defined(_M_X64)
#define PLATFORM_CPU "x64"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define PLATFORM_CPU "arm64"
#elif defined(__i386__) || defined(_M_IX86)
#define PLATFORM_CPU "ia32"
#else
#define PLATFORM_CPU "this CPU"
#endif

bool cffi_abi_from_name(napi_env env, const char *name, const char *symbol, ffi_abi *out) {
  for (size_t i = 0; i < sizeof platform_abis / sizeof platform_abis[0]; i++) {
    if (strcmp(platform_abis[i].name, name) == 0) {
      *out = platform_abis[i].abi;
      return true;
    }
  }
#ifdef ABI_ALIAS_NOTE
  for (size_t i = 0; i < sizeof one_convention_aliases / sizeof one_convention_aliases[0]; i++) {
    if (strcmp(one_convention_aliases[i], name) == 0) {
      *out = FFI_DEFAULT_ABI;
      return true;
    }
  }
#endif
  char supported[256] = "";
  for (size_t i = 0; i < sizeof platform_abis / sizeof platform_abis[0]; i++) {
    strncat(supported, i ? ", " : "", sizeof supported - strlen(supported) - 1);
    strncat(supported, platform_abis[i].name, sizeof supported - strlen(supported) - 1);
  }
#ifdef ABI_ALIAS_NOTE
  strncat(supported, ABI_ALIAS_NOTE, sizeof supported - strlen(supported) - 1);
#endif
  for (size_t i = 0; i < sizeof known_abis / sizeof known_abis[0]; i++) {
    if (strcmp(known_abis[i], name) == 0) {
      cffi_throw(env, "Error", "ABI \"%s\" (symbol \"%s\") is not supported on %s %s; supported here: %s",
                 name, symbol, PLATFORM_OS, PLATFORM_CPU, supported);
      return false;
    }
  }
  cffi_throw(env, "TypeError", "Unknown ABI \"%s\" for symbol \"%s\"; supported on %s %s: %s", name, symbol,
             PLATFORM_OS, PLATFORM_CPU, supported);
  return false;
}
