"use strict";
// What the tests need to know about the platform they run on, said once:
// the C library's name, the shared-library suffix, whether cc() works in
// this build, whether a C compiler can be started for fixtures, and how much
// slower than a native run this one is allowed to be.
//
// CFFI_BUN_TIME_SCALE multiplies every timing limit (timeScale(ms)): the
// emulated CI targets set it (scripts/ci-arm64.sh: qemu-user starts a Node
// in 1-9 s; scripts/ci-windows.sh: wine), so their runs pass without
// editing the tests.
const { dlopen, cc } = require("../..");

const platform = process.platform;
const isLinux = platform === "linux";
const isWindows = platform === "win32";
const isMac = platform === "darwin";
const SUFFIX = isWindows ? "dll" : isMac ? "dylib" : "so";

// A library every process of the platform has loaded, exporting the C
// library's functions (strlen, malloc, abs, qsort, ...).
const LIBC = isLinux ? "libc.so.6" : isWindows ? "msvcrt.dll" : isMac ? "libc.dylib" : `libc.${SUFFIX}.7`;

// The C library's snprintf by its exported name: msvcrt.dll has no
// "snprintf", only "_snprintf" (the same arguments; it returns -1 instead of
// the full length when the output is cut). Its printf family takes %I64d and
// %Iu rather than C99's %lld and %zu on every Windows.
const SNPRINTF = isWindows ? "_snprintf" : "snprintf";

const TIME_SCALE = Math.max(1, Number(process.env.CFFI_BUN_TIME_SCALE) || 1);
function timeScale(ms) {
  return ms * TIME_SCALE;
}

// cc() needs TinyCC linked into the addon (Linux builds that found it); the
// reason is cc()'s own error message, so a skip says what a user would see.
let ccProbe;
function ccUnavailable() {
  if (ccProbe === undefined) {
    try {
      cc({ source: "int cffi_probe(void) { return 1; }", symbols: { cffi_probe: { returns: "i32" } } }).close();
      ccProbe = false;
    } catch (error) {
      ccProbe = `cc() is unavailable here: ${error && error.message}`;
    }
  }
  return ccProbe;
}

// Fixtures are compiled during the run unless CFFI_BUN_PREBUILT_FIXTURES
// names a directory they were built into beforehand (test/helpers/fixture.js):
// under wine the Linux compiler cannot be started from node.exe.
const prebuiltFixtures = process.env.CFFI_BUN_PREBUILT_FIXTURES || null;
const noCompiler = prebuiltFixtures ? "no C compiler can be started here (prebuilt fixtures only)" : false;

// Whether the library file at `file` is mapped into this process, or null
// where that cannot be asked: Linux reads /proc/self/maps, Windows asks
// GetModuleHandleW (through this package: the question is the loader's).
let kernel32;
function libraryMapped(file) {
  if (isLinux) return require("node:fs").readFileSync("/proc/self/maps", "utf8").includes(file);
  if (!isWindows) return null;
  kernel32 ??= dlopen("kernel32.dll", { GetModuleHandleW: { args: ["ptr"], returns: "ptr" } });
  return kernel32.symbols.GetModuleHandleW(Buffer.from(`${file}\0`, "utf16le")) !== null;
}

// The C library whose errno errno() reports. On Windows that is the C runtime
// the addon was built against (docs/platforms.md): msvcrt.dll for a mingw-w64
// build (the wine run), the UCRT (ucrtbase.dll) for a Visual Studio or
// clang-cl one (the workflow); a call that sets errno in the other runtime is
// not seen. Told apart by msvcrt's strtol overflowing (ERANGE in its errno).
let errnoLibc;
function errnoLibcName() {
  if (!isWindows) return LIBC;
  if (errnoLibc === undefined) {
    const { errno } = require("../..");
    const msvcrt = dlopen("msvcrt.dll", { strtol: { args: ["cstring", "ptr", "i32"], returns: "i32" } });
    msvcrt.symbols.strtol("99999999999999999999", null, 10);
    errnoLibc = errno() === 34 /* ERANGE */ ? "msvcrt.dll" : "ucrtbase.dll";
    msvcrt.close();
  }
  return errnoLibc;
}

// Assert that dlopen(LIBC) works once: a wrong LIBC fails here, by name.
function openLibc(symbols) {
  return dlopen(LIBC, symbols);
}

module.exports = {
  SUFFIX, LIBC, SNPRINTF, errnoLibcName, isLinux, isWindows, isMac, TIME_SCALE, timeScale, ccUnavailable, noCompiler, prebuiltFixtures, openLibc, libraryMapped,
};
