"use strict";
// What is Windows's own (issue 17, item 3), checked where it runs (under wine
// in .ci/run, scripts/ci-windows.sh): the loader's paths and messages
// (src/platform/windows.c), the 32-bit calling-convention names on x64
// (src/platform/abi.c), GetLastError() after a call that fails, and cc()'s
// run-time message. Elsewhere each test is one skip.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { dlopen, cc, JSCallback, GetLastError } = require("..");
const { buildFixture, fixturePath } = require("./helpers/fixture.js");
const { isWindows, LIBC } = require("./helpers/platform.js");

const onlyWindows = { skip: !isWindows && "Windows only" };
const ERROR_FILE_NOT_FOUND = 2;
const wide = (s) => Buffer.from(`${s}\0`, "utf16le");

test("cc() on Windows throws saying it is not supported on this OS and that dlopen() works, for any options", onlyWindows, () => {
  const message = /^cc\(\) is not supported on this operating system yet \(cffi-bun links TinyCC into the addon on Linux only\); dlopen\(\) and the rest of bun:ffi work\.$/;
  for (const options of [
    { source: "int f(void) { return 1; }", symbols: { f: { returns: "i32" } } },
    { source: "C:\\no\\such\\file.c", symbols: { f: { returns: "i32" } } },
    { source: "int f(void) { return 1; }", symbols: {} },
  ]) {
    assert.throws(() => cc(options), (error) => error.name === "Error" && message.test(error.message));
  }
  // The process goes on: dlopen still works after.
  const libc = dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } });
  assert.equal(libc.symbols.abs(-3), 3);
  libc.close();
});

test("dlopen on Windows: UTF-8 paths outside the ANSI code page, and forward slashes", onlyWindows, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-ünïcødé-日本-"));
  try {
    const copy = path.join(dir, "libfixture-ß.dll");
    fs.copyFileSync(fixturePath(), copy);
    for (const given of [copy, copy.replace(/\\/g, "/")]) {
      const lib = dlopen(given, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
      assert.equal(lib.symbols.add_i32(40, 2), 42, given);
      lib.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("dlopen on Windows: the loader's failures in words a user can act on, with the error number", onlyWindows, () => {
  const defs = { f: { returns: "i32" } };
  const missing = path.join(os.tmpdir(), "cffi-bun-no-such-dir", "nope.dll");
  assert.throws(() => dlopen(missing, defs), (error) => error.name === "Error" && error.code === "ERR_DLOPEN_FAILED" &&
    error.message.startsWith(`Failed to open library "${missing}": No such file or directory (Windows error `) && /: .+\)$/.test(error.message));
  // Not a DLL: the system's sentence with the file name put in for its %1.
  assert.throws(() => dlopen(__filename, defs), (error) =>
    error.message.startsWith(`Failed to open library "${__filename}": `) && /\(Windows error \d+\)$/.test(error.message) &&
    !error.message.includes("%1"));
  assert.throws(() => dlopen(os.tmpdir(), defs), { message: /^Failed to open library ".*": Is a directory \(Windows error \d+/ });
  assert.throws(() => dlopen("cffi-bun-nope-bare.dll", defs), { message: /^Failed to open library "cffi-bun-nope-bare.dll": .* \(Windows error 126\)$/ });
  assert.throws(() => dlopen(LIBC, { cffi_bun_nope: { returns: "i32" } }), {
    name: "TypeError", message: /^Symbol "cffi_bun_nope" not found in "msvcrt.dll": .* \(Windows error 127\)$/,
  });
});

// A DLL whose import sits beside it, in a folder that is not on PATH, not
// node.exe's and not the current one: found because dlopen loads a path with
// LOAD_WITH_ALTERED_SEARCH_PATH (src/platform/windows.c), as Node's
// process.dlopen does. The pair is linked together (scripts/ci-windows.sh).
function dependencyPair() {
  const leaf = buildFixture("windows-dep-leaf.c");
  return { leaf, user: buildFixture("windows-dep-user.c", [leaf]) };
}

test("dlopen on Windows: a DLL imported by the library is found in the library's own folder", onlyWindows, () => {
  const { leaf, user } = dependencyPair();
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-deps-"));
  const dir = path.join(parent, "beside");
  fs.mkdirSync(dir);
  const cwd = process.cwd();
  try {
    fs.copyFileSync(leaf, path.join(dir, path.basename(leaf)));
    const copy = path.join(dir, path.basename(user));
    fs.copyFileSync(user, copy);
    const defs = { cffi_dep_user_value: { args: ["i32"], returns: "i32" } };
    for (const given of [copy, copy.replace(/\\/g, "/")]) {
      const lib = dlopen(given, defs);
      assert.equal(lib.symbols.cffi_dep_user_value(5), 116, given);
      lib.close();
    }
    // A relative path is made absolute first (the flag's meaning is undefined
    // for one), from a current folder that is not the library's.
    process.chdir(parent);
    for (const given of [`beside\\${path.basename(user)}`, `./beside/${path.basename(user)}`]) {
      const lib = dlopen(given, defs);
      assert.equal(lib.symbols.cffi_dep_user_value(-1), 98, given);
      lib.close();
    }
    process.chdir(cwd);
    // Without its import beside it, the message still says what is missing.
    fs.rmSync(path.join(dir, path.basename(leaf)));
    assert.throws(() => dlopen(copy, defs), (error) => error.code === "ERR_DLOPEN_FAILED" &&
      error.message.startsWith(`Failed to open library "${copy}": `) &&
      error.message.endsWith("(Windows error 126): the file exists, so a DLL it imports was not found"));
  } finally {
    process.chdir(cwd);
    // Best effort: wine keeps a DLL whose imports failed mapped, so it cannot be deleted.
    try {
      fs.rmSync(parent, { recursive: true, force: true });
    } catch {}
  }
});

test("GetLastError() after a Windows API call that fails, and after one that succeeds", onlyWindows, () => {
  const k32 = dlopen("kernel32.dll", {
    GetFileAttributesW: { args: ["ptr"], returns: "u32" },
    SetLastError: { args: ["u32"], returns: "void" },
  });
  assert.equal(k32.symbols.GetFileAttributesW(wide(path.join(os.tmpdir(), "cffi-bun-no-such-file"))), 0xffffffff);
  assert.equal(GetLastError(), ERROR_FILE_NOT_FOUND);
  // Node's own work between calls (this allocation, a string) leaves it alone.
  const unrelated = fs.existsSync(__filename) && "x".repeat(1000);
  assert.ok(unrelated);
  assert.equal(GetLastError(), ERROR_FILE_NOT_FOUND);
  k32.symbols.SetLastError(0);
  assert.equal(GetLastError(), 0);
  k32.close();
});

test("the 32-bit names on Windows x64 mean the x64 convention, for callbacks too", { skip: !(isWindows && process.arch === "x64") && "Windows x64 only" }, () => {
  const lib = dlopen(fixturePath(), { call_i32_fn: { args: ["function", "i32"], returns: "i32" } });
  for (const abi of ["stdcall", "fastcall", "thiscall", "win64", "cdecl"]) {
    const cb = new JSCallback((x) => x * 2, { args: ["i32"], returns: "i32", abi });
    assert.equal(lib.symbols.call_i32_fn(cb, 21), 42, abi);
    cb.close();
  }
  lib.close();
});
