"use strict";
// Issue 7: calling conventions (abi), debug logging, errno(), Symbol.dispose.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { dlopen, JSCallback, CFunction, linkSymbols, errno } = require("..");
const { buildFixture, fixturePath } = require("./helpers/fixture.js");
const { LIBC, isWindows, timeScale, ccUnavailable, errnoLibcName } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const onLinuxX64 = process.platform === "linux" && process.arch === "x64";
const expectedMixed = (a, b, c, d, e, f) => a + b * 10 + c * 100 + d * 1000 + e * 10000 + f * 100000;

test("abi: win64 calls an ms_abi function with mixed integer/double arguments", { skip: !onLinuxX64 && "ms_abi fixture is x86-64 System V only" }, () => {
  const lib = dlopen(buildFixture("abi.c"), {
    ms_mixed: { args: ["i32", "f64", "i64", "f64", "i32", "f64"], returns: "f64", abi: "win64" },
  });
  assert.equal(lib.symbols.ms_mixed(1, 2.5, 3n, 4.5, 5, 6.5), expectedMixed(1, 2.5, 3, 4.5, 5, 6.5));
  lib.close();
});

test("abi: without win64 the same function gets its arguments wrong (the option matters)", { skip: !onLinuxX64 && "x86-64 only" }, () => {
  const lib = dlopen(buildFixture("abi.c"), { ms_mixed: { args: ["i32", "f64", "i64", "f64", "i32", "f64"], returns: "f64" } });
  assert.notEqual(lib.symbols.ms_mixed(1, 2.5, 3n, 4.5, 5, 6.5), expectedMixed(1, 2.5, 3, 4.5, 5, 6.5));
  lib.close();
});

test("abi: a JSCallback with win64 is called correctly from ms_abi C code", { skip: !onLinuxX64 && "x86-64 only" }, () => {
  const lib = dlopen(buildFixture("abi.c"), { call_ms_callback: { args: ["function"], returns: "f64" } });
  const seen = [];
  const cb = new JSCallback((...args) => {
    seen.push(args);
    return 42.25;
  }, { args: ["i32", "f64", "i64", "f64", "i32", "f64"], returns: "f64", abi: "win64" });
  assert.equal(lib.symbols.call_ms_callback(cb), 42.25);
  assert.deepEqual(seen, [[1, 2.5, 3n, 4.5, 5, 6.5]]);
  cb.close();
  lib.close();
});

test("abi: CFunction and linkSymbols take abi too", { skip: !onLinuxX64 && "x86-64 only" }, () => {
  const lib = dlopen(buildFixture("abi.c"), { ms_mixed: { args: ["i32"], returns: "f64", abi: "win64" } });
  const address = lib.symbols.ms_mixed.ptr;
  const def = { ptr: address, args: ["i32", "f64", "i64", "f64", "i32", "f64"], returns: "f64", abi: "win64" };
  assert.equal(CFunction(def)(1, 2, 3, 4, 5, 6), expectedMixed(1, 2, 3, 4, 5, 6));
  assert.equal(linkSymbols({ f: def }).symbols.f(6, 5, 4, 3, 2, 1), expectedMixed(6, 5, 4, 3, 2, 1));
  lib.close();
});

test("abi: default, sysv, unix64 and cdecl are the native convention here", { skip: !onLinuxX64 && "x86-64 only" }, () => {
  for (const abi of ["default", "sysv", "unix64", "cdecl"]) {
    const lib = dlopen(LIBC, { abs: { args: ["i32"], returns: "i32", abi } });
    assert.equal(lib.symbols.abs(-7), 7, abi);
    lib.close();
  }
});

test("abi: a convention this platform cannot call throws naming the ABI and platform", { skip: !onLinuxX64 && "x86-64 only" }, () => {
  for (const abi of ["stdcall", "fastcall", "thiscall"]) {
    assert.throws(() => dlopen(LIBC, { abs: { args: ["i32"], returns: "i32", abi } }),
      (e) => e.message.includes(`"${abi}"`) && /linux x64/.test(e.message));
    assert.throws(() => new JSCallback(() => 0, { returns: "i32", abi }), new RegExp(abi));
  }
  assert.throws(() => dlopen(LIBC, { abs: { abi: "nonsense" } }), { name: "TypeError", message: /Unknown ABI "nonsense".*abs/ });
  assert.throws(() => dlopen(LIBC, { abs: { abi: 3 } }), { name: "TypeError", message: /abi/ });
});

const onWindowsX64 = isWindows && process.arch === "x64";

test("abi on Windows x64: default, win64, cdecl and the 32-bit names (as MSVC ignores them) call msvcrt; System V names throw naming the platform", { skip: !onWindowsX64 && "Windows x64 only" }, () => {
  for (const abi of ["default", "win64", "cdecl", "stdcall", "fastcall", "thiscall"]) {
    const lib = dlopen(LIBC, { abs: { args: ["i32"], returns: "i32", abi } });
    assert.equal(lib.symbols.abs(-7), 7, abi);
    lib.close();
  }
  for (const abi of ["sysv", "unix64"]) {
    assert.throws(() => dlopen(LIBC, { abs: { args: ["i32"], returns: "i32", abi } }),
      (e) => e.message.includes(`"${abi}"`) && /windows x64/.test(e.message) && /supported here: default, win64, cdecl; stdcall, fastcall and thiscall are accepted and mean the x64 convention, as in MSVC/.test(e.message));
  }
});

test("GetLastError() on Windows: the thread's last error right after an FFI call", { skip: !isWindows && "Windows only" }, () => {
  const { GetLastError } = require("..");
  const kernel32 = dlopen("kernel32.dll", {
    SetLastError: { args: ["u32"], returns: "void" },
    GetCurrentProcessId: { returns: "u32" },
  });
  kernel32.symbols.SetLastError(1234);
  assert.equal(GetLastError(), 1234);
  kernel32.symbols.SetLastError(0);
  assert.equal(GetLastError(), 0);
  kernel32.close();
});

function runChild(code, env) {
  return spawnSync(process.execPath, ["-e", code], {
    cwd: ROOT, encoding: "utf8", timeout: timeScale(30000), env: { ...process.env, ...env },
  });
}

const loggingProgram = `
  const { dlopen, JSCallback } = require(".");
  const lib = dlopen(${JSON.stringify(LIBC)}, { abs: { args: ["i32"], returns: "i32" } });
  const cb = new JSCallback(() => 1, { args: ["ptr", "ptr"], returns: "i32" });
  cb.close();
  lib.close();
`;
const libcPattern = LIBC.replace(/[.\\]/g, "\\$&");

for (const variable of ["BUN_DEBUG_FFI", "CFFI_BUN_DEBUG"]) {
  test(`debug logging: ${variable}=1 logs libraries, symbols and callbacks to stderr`, () => {
    const child = runChild(loggingProgram, { [variable]: "1", BUN_DEBUG_FFI: variable === "BUN_DEBUG_FFI" ? "1" : "" });
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stderr.split("\n");
    assert.ok(lines.some((l) => new RegExp(`^\\[cffi-bun\\] opened library "${libcPattern}" \\(.*${libcPattern}\\)( with RTLD_DEEPBIND)?$`, "i").test(l)), child.stderr);
    assert.ok(lines.some((l) => /^\[cffi-bun\] bound abs at (0x)?[0-9a-fA-F]+: \(i32\) -> i32 via (a jit wrapper|registers|libffi)( \(a jit wrapper once hot\))?$/.test(l)), child.stderr);
    assert.ok(lines.some((l) => /^\[cffi-bun\] created JSCallback at (0x)?[0-9a-fA-F]+: \(ptr, ptr\) -> i32, (register|libffi) closure$/.test(l)), child.stderr);
    assert.ok(lines.some((l) => /^\[cffi-bun\] closed JSCallback at (0x)?[0-9a-fA-F]+$/.test(l)), child.stderr);
    assert.ok(lines.some((l) => new RegExp(`^\\[cffi-bun\\] closed library "${libcPattern}"$`).test(l)), child.stderr);
  });
}

test("debug logging: each cc() compile logs its time and whether the cache was hit", { skip: ccUnavailable() }, () => {
  const program = `
    const { cc } = require(".");
    cc({ source: "int seven(void) { return 7; }", cache: false, symbols: { seven: { returns: "i32" } } });
  `;
  const child = runChild(program, { BUN_DEBUG_FFI: "1" });
  if (/TinyCC|tcc/.test(child.stderr) && child.status !== 0) return; // built without TinyCC
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stderr, /^\[cffi-bun\] cc\(\) in \d+\.\d\d ms \(compiled in memory, cache off\)$/m);
});

test("debug logging is off by default (and with BUN_DEBUG_FFI=0)", () => {
  for (const value of [undefined, "0"]) {
    const env = { BUN_DEBUG_FFI: value ?? "", CFFI_BUN_DEBUG: "" };
    const child = runChild(loggingProgram, env);
    assert.equal(child.status, 0, child.stderr);
    assert.doesNotMatch(child.stderr, /\[cffi-bun\]/);
  }
});

test("errno(): ENOENT after open() of a missing file; a later call that leaves errno alone keeps it", () => {
  // On Windows: _open and _getpid of the C runtime whose errno errno() reports.
  const [open, getpid] = isWindows ? ["_open", "_getpid"] : ["open", "getpid"];
  const libc = dlopen(errnoLibcName(), {
    [open]: { args: ["cstring", "i32"], returns: "i32" },
    [getpid]: { returns: "i32" },
    abs: { args: ["i32"], returns: "i32" },
  });
  assert.equal(libc.symbols[open]("/nonexistent/cffi-bun/file", 0), -1);
  assert.equal(errno(), 2); // ENOENT
  libc.symbols[getpid]();
  libc.symbols.abs(-1);
  assert.equal(errno(), 2);
  libc.close();
});

test("errno(): a C function that sets errno changes it; the value is captured right after the call", () => {
  const lib = dlopen(fixturePath(), { set_errno: { args: ["i32"] } });
  lib.symbols.set_errno(13);
  assert.equal(errno(), 13);
  lib.symbols.set_errno(0);
  assert.equal(errno(), 0);
  lib.close();
});

test("Symbol.dispose closes libraries, linkSymbols results, CFunctions and JSCallbacks", { skip: !Symbol.dispose && "no Symbol.dispose in this Node" }, () => {
  const lib = dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } });
  const { abs } = lib.symbols;
  const linked = linkSymbols({ f: { ptr: abs.ptr, args: ["i32"], returns: "i32" } });
  const cfn = CFunction({ ptr: abs.ptr, args: ["i32"], returns: "i32" });
  const cb = new JSCallback(() => 0, { returns: "i32" });
  assert.equal(cfn(-2), 2);
  linked[Symbol.dispose]();
  cfn[Symbol.dispose]();
  cb[Symbol.dispose]();
  lib[Symbol.dispose]();
  assert.throws(() => abs(1), /closed/);
  assert.throws(() => linked.symbols.f(1), /closed/);
  assert.throws(() => cfn(1), /closed/);
  assert.equal(cb.ptr, null);
});
