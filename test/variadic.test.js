"use strict";
// Variadic functions (issue 20, item 1; docs/variadic.md): "..." ending a
// definition's args, sym.with(...types) per call site, C's promotions, every
// engine, and the errors. The calls themselves are compared with gcc's in
// test/helpers/variadic-battery.js, run here for the default engine and in a
// child process for each CFFI_BUN_ENGINE.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const v8 = require("node:v8");
const vm = require("node:vm");
const { dlopen, linkSymbols, JSCallback, viewSource } = require("..");
const { buildFixture } = require("./helpers/fixture.js");
const { LIBC, SNPRINTF, isWindows, timeScale, ccUnavailable } = require("./helpers/platform.js");

require("./helpers/variadic-battery.js")("default engine");

const BATTERY = path.join(__dirname, "helpers", "variadic-battery.js");
for (const engine of ["ffi", "registers", "jit"]) {
  test(`CFFI_BUN_ENGINE=${engine}: the same calls, compared with gcc's`, { timeout: timeScale(60000), skip: engine === "jit" && ccUnavailable() }, () => {
    buildFixture("variadic.c"); // built once here; the child builds its own copy
    // Without node --test's NODE_TEST_CONTEXT, the child reports by itself (TAP on Node 20, spec on 26).
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const run = spawnSync(process.execPath, [BATTERY], {
      env: { ...env, CFFI_BUN_ENGINE: engine, CFFI_BUN_DEBUG: "1" },
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^(?:# |ℹ )fail 0$/m); // TAP (Node 20) or spec (Node 26)
    // The engine asked for is the one that ran the short tails (on Windows every call is libffi's:
    // Win64 assigns registers by position, and there is no TinyCC for wrappers; docs/platforms.md).
    const via = isWindows ? "via libffi" : { ffi: "via libffi", registers: "via registers", jit: "via a jit wrapper" }[engine];
    assert.match(run.stderr, new RegExp(`bound va_weighted at \\S+: \\(i32, \\.\\.\\.: f64\\) -> f64 ${via}`));
    assert.match(run.stderr, /bound va_weighted at \S+: \(i32, \.\.\.\) -> f64/);
  });
}

const libc = dlopen(LIBC, {
  printf: { args: ["cstring", "..."], returns: "i32" },
  [SNPRINTF]: { args: ["ptr", "usize", "cstring", "..."], returns: "i32" },
  abs: { args: ["i32"], returns: "i32" },
  ...(isWindows
    ? {
        // msvcrt: int _open(const char *path, int flags, ...), the mode read only with _O_CREAT.
        _open: { args: ["cstring", "i32", "..."], returns: "i32" },
        _close: { args: ["i32"], returns: "i32" },
        _errno: { returns: "ptr" },
      }
    : {
        open: { args: ["cstring", "i32", "..."], returns: "i32" },
        fcntl: { args: ["i32", "i32", "..."], returns: "i32" },
        close: { args: ["i32"], returns: "i32" },
      }),
});

test("printf to stdout prints what gcc's printf call prints", () => {
  const script = `
    const { dlopen } = require(${JSON.stringify(path.join(__dirname, ".."))});
    const libc = dlopen(${JSON.stringify(LIBC)}, {
      printf: { args: ["cstring", "..."], returns: "i32" },
      fflush: { args: ["ptr"], returns: "i32" },
    });
    const fixture = dlopen(${JSON.stringify(buildFixture("variadic.c"))}, { ref_printf: { returns: "i32" } });
    const n = libc.symbols.printf.with("i32", "cstring", "f64", "u64", "char")(
      ${JSON.stringify(isWindows ? "printf: %d %s %.3f %I64u %c\n" : "printf: %d %s %.3f %llu %c\n")}, -12, "from C", 2 / 3, 2n ** 64n - 1n, 122);
    libc.symbols.fflush(null);
    const m = fixture.symbols.ref_printf();
    libc.symbols.printf("done\\n");
    libc.symbols.fflush(null);
    process.stderr.write(n + " " + m);
  `;
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split(/\r?\n/); // msvcrt's stdout is in text mode: \r\n
  assert.equal(lines[0], "printf: -12 from C 0.667 18446744073709551615 z");
  assert.equal(lines[1], lines[0]);
  assert.equal(lines[2], "done");
  assert.equal(run.stderr, `${lines[0].length + 1} ${lines[0].length + 1}`);
});

test("open(path, flags, mode) creates the file with that mode; fcntl reads and sets flags", { skip: isWindows && "POSIX open and fcntl: Windows has _open (the next test)" }, () => {
  const { O_CREAT, O_WRONLY, O_EXCL, O_NONBLOCK } = fs.constants;
  const F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-variadic-"));
  const file = path.join(dir, "made-by-open");
  const umask = process.umask();
  try {
    const fd = libc.symbols.open.with("u32")(file, O_CREAT | O_WRONLY | O_EXCL, 0o640);
    assert.ok(fd >= 0, `open failed: ${fd}`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640 & ~umask);
    // Without a tail, the variadic symbol itself: fcntl(fd, F_GETFD).
    const fcntl = libc.symbols.fcntl;
    assert.equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    assert.equal(fcntl.with("i32")(fd, F_SETFD, FD_CLOEXEC), 0);
    assert.equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    const flags = fcntl(fd, F_GETFL);
    assert.equal(fcntl.with("i32")(fd, F_SETFL, flags | O_NONBLOCK), 0);
    assert.equal(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    assert.equal(libc.symbols.close(fd), 0);
    // O_EXCL on an existing file: -1, with errno EEXIST.
    assert.equal(libc.symbols.open.with("u32")(file, O_CREAT | O_WRONLY | O_EXCL, 0o600), -1);
    assert.equal(require("..").errno(), os.constants.errno.EEXIST);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Windows: _open(path, flags, mode) creates the file with that mode; the mode is read only with _O_CREAT", { skip: !isWindows && "msvcrt's _open" }, () => {
  // msvcrt's <fcntl.h> and <sys/stat.h> values.
  const _O_WRONLY = 0x1, _O_CREAT = 0x100, _O_EXCL = 0x400, _O_BINARY = 0x8000, _S_IREAD = 0x100, _S_IWRITE = 0x80;
  const { _open, _close, _errno } = libc.symbols;
  const msvcrtErrno = () => require("..").read.i32(_errno()); // msvcrt's own errno, whichever CRT the addon uses
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-variadic-"));
  const readOnly = path.join(dir, "read-only"), writable = path.join(dir, "writable");
  try {
    const open = _open.with("i32");
    const fd = open(readOnly, _O_CREAT | _O_WRONLY | _O_EXCL | _O_BINARY, _S_IREAD);
    assert.ok(fd >= 0, `_open failed: ${fd}`);
    assert.equal(_close(fd), 0);
    assert.equal(fs.statSync(readOnly).mode & 0o222, 0, "_S_IREAD alone: a read-only file");
    const fd2 = open(writable, _O_CREAT | _O_WRONLY | _O_EXCL, _S_IREAD | _S_IWRITE);
    assert.ok(fd2 >= 0, `_open failed: ${fd2}`);
    assert.equal(_close(fd2), 0);
    assert.notEqual(fs.statSync(writable).mode & 0o200, 0, "_S_IREAD | _S_IWRITE: writable");
    // Without a tail (the variadic symbol itself): an existing file opened for reading.
    const fd3 = _open(writable, 0 /* _O_RDONLY */);
    assert.ok(fd3 >= 0);
    assert.equal(_close(fd3), 0);
    // _O_EXCL on an existing file: -1, errno EEXIST (17).
    assert.equal(open(writable, _O_CREAT | _O_WRONLY | _O_EXCL, _S_IWRITE), -1);
    assert.equal(msvcrtErrno(), 17);
  } finally {
    fs.chmodSync(readOnly, 0o666);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("definition errors: \"...\" not last, alone, in returns; in JSCallback definitions", () => {
  assert.throws(() => dlopen(LIBC, { printf: { args: ["...", "cstring"], returns: "i32" } }), {
    name: "TypeError",
    message: '"..." (variadic arguments) may only be the last element of args, found at args[0] of symbol "printf"',
  });
  assert.throws(() => dlopen(LIBC, { printf: { args: ["cstring", "...", "..."], returns: "i32" } }), {
    message: /found at args\[1\] of symbol "printf"/,
  });
  assert.throws(() => dlopen(LIBC, { printf: { args: ["..."], returns: "i32" } }), {
    name: "TypeError",
    message: /^Symbol "printf": "\.\.\." needs at least one fixed argument before it/,
  });
  assert.throws(() => dlopen(LIBC, { printf: { args: ["cstring"], returns: "..." } }), {
    message: /"\.\.\." \(variadic arguments\) may only be the last element of args, found at returns of symbol "printf"/,
  });
  for (const args of [["i32", "..."], ["..."]]) {
    assert.throws(() => new JSCallback(() => 0, { args, returns: "i32" }), {
      name: "TypeError",
      message: args.length === 1 ? /needs at least one fixed argument/ : /^JSCallback: a callback cannot be variadic/,
    });
  }
});

test("with(): bad tail types, with() of a non-variadic symbol or of a with() callable", () => {
  const { [SNPRINTF]: snprintf, abs } = libc.symbols;
  assert.throws(() => snprintf.with("i32", "nope"), {
    name: "TypeError",
    message: `Unknown type "nope" in args[4] of symbol "${SNPRINTF}" (see FFIType for the names)`,
  });
  for (const type of ["void", "napi_env", 13, 18]) {
    assert.throws(() => snprintf.with(type), { name: "TypeError", message: new RegExp(`^${SNPRINTF}\\.with: (void|napi_env) is not a valid variadic argument type \\(args\\[3\\]\\)$`) });
  }
  assert.throws(() => snprintf.with("..."), { message: `${SNPRINTF}.with: args[3] is "...": with() takes the types of the variadic arguments` });
  assert.throws(() => snprintf.with({}), { message: `Type in args[3] of symbol "${SNPRINTF}" must be an FFIType number or name, received an object` });
  assert.throws(() => snprintf.with(...new Array(62).fill("i32")), { name: "RangeError", message: /3 fixed \+ 62 variadic arguments; at most 64/ });
  assert.throws(() => abs.with("i32"), { name: "TypeError", message: /^abs\.with\(\.\.\.types\) is only for variadic functions: end the definition's args with "\.\.\."/ });
  assert.throws(() => snprintf.with("i32").with("i32"), { name: "TypeError", message: /is only for variadic functions/ });
  assert.equal(abs(-3), 3); // unchanged
  assert.deepEqual(Object.keys(abs), ["ptr"]); // with is not enumerable
});

test("the variadic symbol itself refuses extra arguments (their types are unknown)", () => {
  assert.throws(() => libc.symbols.printf("%d\n", 5), {
    name: "TypeError",
    message: 'printf is variadic: it takes 1 fixed argument, received 2; declare the types of the variadic arguments with printf.with(...types), e.g. printf.with("i32", "cstring")(...)',
  });
  assert.equal(libc.symbols.printf.length, 1);
});

test("the cache of with() callables is bounded; an evicted callable keeps working", () => {
  const fixture = dlopen(buildFixture("variadic.c"), { va_weighted: { args: ["i32", "..."], returns: "f64" } });
  const w = fixture.symbols.va_weighted;
  const first = w.with("f64");
  assert.equal(w.with("f64"), first);
  const made = [];
  for (let n = 2; n <= 40; n++) made.push(w.with(...new Array(n).fill("f64")));
  assert.notEqual(w.with("f64"), first); // evicted, made again
  assert.equal(first(1, 4.5), 4.5);
  assert.equal(made[38](40, ...new Array(40).fill(1)), (40 * 41) / 2);
  fixture.close();
});

test("with() holds its callables weakly: a referenced one stays the same across GCs, a dropped one is made again", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const fixture = dlopen(buildFixture("variadic.c"), { va_weighted: { args: ["i32", "..."], returns: "f64" } });
  const w = fixture.symbols.va_weighted;
  const held = w.with("f64", "f64");
  gc();
  assert.equal(w.with("f64", "f64"), held);
  const weak = new WeakRef(w.with("f64"));
  await new Promise((resolve) => setImmediate(resolve)); // a WeakRef keeps its target for the current job
  gc();
  assert.equal(weak.deref(), undefined, "the cache alone does not keep a callable");
  assert.equal(w.with("f64")(1, 3), 3);
  fixture.close();
});

test("linkSymbols and CFunction definitions may be variadic too", () => {
  const { [SNPRINTF]: snprintf } = libc.symbols;
  const linked = linkSymbols({ fmt: { ptr: snprintf.ptr, args: ["ptr", "usize", "cstring", "..."], returns: "i32" } });
  const buf = Buffer.alloc(32);
  assert.equal(linked.symbols.fmt.with("u64")(buf, 32, "%llu", 2n ** 63n), 19);
  assert.equal(buf.toString("utf8", 0, 19), "9223372036854775808");
  linked.close();
});

test("viewSource shows the real variadic prototype of a wrapper", () => {
  const [source] = viewSource({ fcntl: { args: ["i32", "i32", "..."], returns: "i32" } });
  if (/jit wrapper|TARGET/.test(source)) assert.match(source, /\(int32_t, int32_t, \.\.\.\)/);
  else assert.match(source, /fcntl/);
});
