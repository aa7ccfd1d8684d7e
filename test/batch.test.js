"use strict";
// batch() and sym.map (issue 21): results identical to single calls for
// every type and engine, errors naming the entry, stop-on-error, errno per
// entry, chaining (b.result, b.deref), callbacks inside batched calls,
// re-entrancy, closed libraries, worker_threads, reuse after clear,
// runAsync, and map over every numeric type.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { Worker } = require("node:worker_threads");
const ffi = require("..");
const { dlopen, batch, JSCallback, ptr, linkSymbols } = ffi;
const { fixturePath } = require("./helpers/fixture");
const { LIBC, isWindows, errnoLibcName, ccUnavailable } = require("./helpers/platform");
const FIX = fixturePath();
const DEFS = {
  identity_i32: { args: ["i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  add_f64: { args: ["f64", "f64"], returns: "f64" },
  identity_ptr: { args: ["ptr"], returns: "ptr" },
  my_strlen: { args: ["cstring"], returns: "u64" },
  call_i32_fn: { args: ["function", "i32"], returns: "i32" },
  sum_bytes: { args: ["ptr", "i32"], returns: "i32" },
  void_fn: { args: [], returns: "void" },
  void_fn_calls: { args: [], returns: "i32" },
};
const S = dlopen(FIX, DEFS).symbols;
// The POSIX descriptor calls, by the C runtime's names on Windows (there _pipe
// also takes a buffer size and a mode, and _read/_write take and return int),
// from the runtime whose errno errno() reports.
const POSIX = isWindows
  ? { pipe: "_pipe", write: "_write", read: "_read", close: "_close" }
  : { pipe: "pipe", write: "write", read: "read", close: "close" };
const LLABS = isWindows ? "_abs64" : "llabs"; // msvcrt.dll exports no llabs
const IO_SIZE = isWindows ? "u32" : "u64";
const IO_RESULT = isWindows ? "i32" : "i64";
const C = dlopen(LIBC, {
  abs: { args: ["i32"], returns: "i32" },
  malloc: { args: ["u64"], returns: "ptr" },
  memset: { args: ["ptr", "i32", "u64"], returns: "ptr" },
  free: { args: ["ptr"], returns: "void" },
}).symbols;
const io = dlopen(errnoLibcName(), {
  [POSIX.pipe]: { args: isWindows ? ["ptr", "u32", "i32"] : ["ptr"], returns: "i32" },
  [POSIX.write]: { args: ["i32", "ptr", IO_SIZE], returns: IO_RESULT },
  [POSIX.read]: { args: ["i32", "ptr", IO_SIZE], returns: IO_RESULT },
  [POSIX.close]: { args: ["i32"], returns: "i32" },
}).symbols;
for (const [name, cName] of Object.entries(POSIX)) C[name] = io[cName];

describe("batch(): results", () => {
  for (const engine of ["", "jit", "registers", "ffi", "precompiled"]) {
    test(`every type gives what the single call gives (CFFI_BUN_ENGINE=${engine || "unset"}), run() and runAsync()`, () => {
      const env = { ...process.env };
      if (engine) env.CFFI_BUN_ENGINE = engine;
      else delete env.CFFI_BUN_ENGINE;
      const child = spawnSync(process.execPath, [path.join(__dirname, "helpers", "batch-parity.js")], { env, encoding: "utf8" });
      assert.equal(child.status, 0, child.stderr);
      const { entries, diffs } = JSON.parse(child.stdout);
      assert.ok(entries > 150);
      assert.deepEqual(diffs, []);
    });
  }

  test("every class of the run's invokers (W, L, D, void; none, one and two arguments, mixed) gives the single call's result", () => {
    const L = dlopen(LIBC, {
      ldexp: { args: ["f64", "i32"], returns: "f64" }, strchr: { args: ["cstring", "i32"], returns: "ptr" },
      labs: { args: ["i64"], returns: "i64" }, toupper: { args: ["i32"], returns: "i32" },
      [LLABS]: { args: ["i64"], returns: "u64" }, srand: { args: ["u32"], returns: "void" },
    }).symbols;
    const F = dlopen(FIX, { string_byte_at: { args: ["cstring", "i32"], returns: "i32" }, identity_i8: { args: ["i8"], returns: "i8" },
      identity_bool: { args: ["bool"], returns: "bool" }, add_u64: { args: ["u64", "u64"], returns: "u64" } }).symbols;
    const text = Buffer.from("hello\0");
    const calls = [[L.ldexp, 1.5, 4], [L.strchr, text, 0x6c], [L.labs, -(2n ** 62n)], [L.toupper, 0x61],
      [L[LLABS], -5n], [S.void_fn], [L.srand, 7], [F.string_byte_at, "abc", 2], [F.identity_i8, -128], [F.identity_i8, 255],
      [F.identity_bool, 2], [F.add_u64, 2n ** 64n - 1n, 2n], [S.add_f64, 0.25, -0.5], [S.identity_ptr, 12345]];
    const b = batch();
    for (const [fn, ...args] of calls) b.add(fn, ...args);
    const show = (v) => (typeof v === "bigint" ? `${v}n` : String(v));
    assert.deepEqual(b.run().map(show), calls.map(([fn, ...args]) => show(fn(...args))));
  });

  test("add() returns the entry index; results are indexed by it; void entries are undefined", () => {
    const b = batch();
    assert.equal(b.add(S.add_i32, 2, 3), 0);
    assert.equal(b.add(S.void_fn), 1);
    assert.equal(b.add(S.my_strlen, "h\u00e9llo"), 2);
    assert.equal(b.add(S.add_f64, 0.5, 0.25), 3);
    assert.equal(b.length, 4);
    assert.deepEqual(b.run(), [5, undefined, 6n, 0.75]);
  });

  test("an empty batch returns []", () => {
    assert.deepEqual(batch().run(), []);
  });

  test("reuse: run twice gives the same results; clear() empties it", () => {
    const b = batch();
    b.add(S.add_i32, 1, 1);
    assert.deepEqual(b.run(), [2]);
    assert.deepEqual(b.run(), [2]);
    b.clear();
    assert.equal(b.length, 0);
    assert.deepEqual(b.run(), []);
    assert.equal(b.add(S.identity_i32, 9), 0);
    assert.deepEqual(b.run(), [9]);
  });

  test("a batch larger than one crossing's arguments (200000 entries) runs in order", () => {
    const b = batch();
    for (let i = 0; i < 200000; i++) b.add(S.add_i32, i, 1);
    const r = b.run();
    assert.equal(r.length, 200000);
    assert.equal(r[0], 1);
    assert.equal(r[131071], 131072);
    assert.equal(r[199999], 200000);
  });

  test("void calls all run (each entry calls once)", () => {
    const before = S.void_fn_calls();
    const b = batch();
    for (let i = 0; i < 10; i++) b.add(S.void_fn);
    b.run();
    assert.equal(S.void_fn_calls(), before + 10);
  });

  test("a buffer is passed as the single call passes it", () => {
    const bytes = new Uint8Array([1, 2, 3, 250]);
    const b = batch();
    b.add(S.sum_bytes, bytes, 4);
    b.add(S.sum_bytes, bytes.buffer, 2);
    assert.deepEqual(b.run(), [256, 3]);
  });
});

describe("batch(): errors name the entry", () => {
  test("a bad argument throws at add(): the entry's index, symbol, position, expected type and received value; the batch stays usable", () => {
    const before = S.void_fn_calls();
    const b = batch();
    b.add(S.void_fn);
    assert.throws(() => b.add(S.add_i32, 1, "two"), (e) => {
      assert.equal(e.name, "TypeError");
      assert.match(e.message, /^batch entry 1: add_i32: args\[1\] expects i32 .*received a string/);
      assert.equal(e.entry, 1);
      return true;
    });
    assert.equal(S.void_fn_calls(), before, "nothing ran");
    assert.equal(b.length, 1, "the bad entry was not added");
    assert.equal(b.add(S.add_i32, 1, 2), 1);
    assert.deepEqual(b.run(), [undefined, 3]);
    assert.equal(S.void_fn_calls(), before + 1);
  });

  test("a bad argument after staged entries: the index counts them (every kind of argument)", () => {
    const b = batch();
    b.add(S.add_i32, 1, 2); // staged (plain numbers)
    b.add(S.add_f64, 1, true); // staged (a boolean)
    b.add(S.my_strlen, "x"); // converted by the addon
    assert.throws(() => b.add(S.add_i32, 1n << 70n, {}), { name: "TypeError", message: /^batch entry 3: add_i32: args\[1\]/ });
    assert.equal(b.add(S.add_f64, 1, 2n), 3); // a bigint for f64: converted by the addon, as the single call does
    assert.deepEqual(b.run(), [3, 2, 1n, 3]);
  });

  test("a missing argument names the entry (at add())", () => {
    const b = batch();
    assert.throws(() => b.add(S.add_i32, 1), /^TypeError: batch entry 0: add_i32: args\[1\] \(i32\) is missing/);
  });

  test("add() refuses what is not a bound function, naming the entry", () => {
    assert.throws(() => batch().add(42), { name: "TypeError", message: /entry 0: expected a function bound/ });
    const b = batch();
    b.add(S.void_fn);
    assert.throws(() => b.add(() => 1), { message: /entry 1: expected a function bound/ });
    assert.deepEqual(b.run(), [undefined]);
  });

  test("options are checked", () => {
    assert.throws(() => batch(1), TypeError);
    assert.throws(() => batch({ stopOn: "zero" }), /stopOn must be "nonzero" or "negative"/);
  });

  test("an entry whose library was closed throws naming the entry", () => {
    const lib = dlopen(FIX, { add_i32: DEFS.add_i32 });
    const b = batch();
    b.add(S.add_i32, 1, 2);
    b.add(lib.symbols.add_i32, 1, 2);
    lib.close();
    assert.throws(() => b.run(), /^Error: batch entry 1: Cannot call "add_i32": its library .* is closed/);
  });

  test("a .ptr getter that closes the library during conversion is caught as the single call catches it", () => {
    const lib = dlopen(FIX, { identity_ptr: DEFS.identity_ptr, sum_bytes: DEFS.sum_bytes });
    const bytes = new Uint8Array(8);
    const b = batch();
    b.add(S.identity_i32, 1);
    assert.throws(() => b.add(lib.symbols.sum_bytes, { get ptr() { lib.close(); return ptr(bytes); } }, 8),
      /^Error: batch entry 1: Cannot call "sum_bytes": .*closed by JavaScript that ran while args\[0\] was converted/);
    assert.deepEqual(b.run(), [1]);
  });

  test("a buffer detached or shrunk between add() and run() is caught naming the entry; nothing reads freed memory", () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const b = batch();
    b.add(S.identity_i32, 5);
    b.add(S.sum_bytes, bytes, 4);
    assert.deepEqual(b.run(), [5, 10]);
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    assert.throws(() => b.run(), { name: "TypeError", message: /^batch entry 1: sum_bytes: args\[0\] \(ptr\): its ArrayBuffer was detached after add\(\)/ });
    const resizable = new ArrayBuffer(8, { maxByteLength: 16 });
    const r = batch();
    r.add(S.sum_bytes, resizable, 8);
    resizable.resize(2);
    assert.throws(() => r.run(), { name: "TypeError", message: /^batch entry 0: sum_bytes: args\[0\] \(ptr\): its memory changed after add\(\)/ });
  });

  test("a callback that detaches a later entry's buffer during run() is caught before that entry runs", () => {
    const bytes = new Uint8Array([9, 9]);
    const cb = new JSCallback((x) => {
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 1);
      b.add(S.sum_bytes, bytes, 2);
      assert.throws(() => b.run(), /^TypeError: batch entry 1: sum_bytes: args\[0\] \(ptr\): its ArrayBuffer was detached/);
    } finally {
      cb.close();
    }
  });

  test("a JSCallback closed between add() and run() is refused naming the entry, never called", () => {
    const cb = new JSCallback((x) => x + 1, { args: ["i32"], returns: "i32" });
    const b = batch();
    b.add(S.call_i32_fn, cb, 1);
    assert.deepEqual(b.run(), [2]);
    cb.close();
    assert.throws(() => b.run(), /^TypeError: batch entry 0: call_i32_fn: args\[0\] expects function .*\.ptr is null \(a closed JSCallback\?\)/);
  });

  test("structs and napi_value arguments are refused at add() with the reason", () => {
    const b = batch();
    const Point = ffi.struct ? ffi.struct({ x: "i32", y: "i32" }) : null;
    if (Point) {
      const L = dlopen(FIX, { identity_i32: { args: [Point], returns: "i32" } }).symbols;
      assert.throws(() => b.add(L.identity_i32, { x: 1, y: 2 }), /batch entry 0: identity_i32 cannot be batched: it has struct/);
    }
    assert.equal(b.length, 0);
  });

  test("b.result() must name an earlier entry", () => {
    const b = batch();
    assert.throws(() => b.result(0), RangeError);
    b.add(S.identity_i32, 1);
    assert.throws(() => b.result(1), RangeError);
    assert.throws(() => b.result(-1), RangeError);
    assert.throws(() => b.deref("x"), TypeError);
  });
});

describe("batch(): options", () => {
  test("stopOn: 'nonzero' stops after the first non-zero result and reports it; later entries do not run", () => {
    const before = S.void_fn_calls();
    const b = batch({ stopOn: "nonzero" });
    b.add(S.identity_i32, 0);
    b.add(S.identity_i32, 7);
    b.add(S.void_fn);
    const r = b.run();
    assert.equal(r.stoppedAt, 1);
    assert.deepEqual([...r], [0, 7, undefined]);
    assert.equal(S.void_fn_calls(), before);
  });

  test("stopOn: 'negative' stops on a negative result only; stoppedAt is -1 when nothing stopped", () => {
    const b = batch({ stopOn: "negative" });
    b.add(S.identity_i32, 5);
    b.add(S.identity_i32, 0);
    assert.equal(b.run().stoppedAt, -1);
    b.add(S.identity_i32, -1);
    b.add(S.identity_i32, 3);
    const r = b.run();
    assert.equal(r.stoppedAt, 2);
    assert.equal(r[3], undefined);
  });

  test("stopOn across chunks of a very large batch", () => {
    const b = batch({ stopOn: "nonzero" });
    for (let i = 0; i < 100000; i++) b.add(S.identity_i32, i === 77777 ? 1 : 0);
    assert.equal(b.run().stoppedAt, 77777);
  });

  test("errno: true records errno per entry", () => {
    const b = batch({ errno: true });
    b.add(C.close, -1);
    b.add(C.abs, -3);
    b.add(C.close, 1 << 20);
    const r = b.run();
    assert.deepEqual([...r], [-1, 3, -1]);
    assert.ok(r.errno instanceof Int32Array);
    assert.equal(r.errno[0], 9 /* EBADF */);
    assert.equal(r.errno[2], 9);
  });
});

describe("batch(): chaining", () => {
  test("b.result(i): malloc -> memset -> sum -> free in one run", () => {
    const b = batch();
    const block = b.add(C.malloc, 16);
    b.add(C.memset, b.result(block), 3, 16);
    const sum = b.add(S.sum_bytes, b.result(block), 16);
    b.add(C.free, b.result(block));
    const r = b.run();
    assert.equal(typeof r[0], "number");
    assert.equal(r[1], r[0]);
    assert.equal(r[sum], 48);
  });

  test("b.deref(address, type): pipe -> write -> read -> close, the descriptors read after pipe() wrote them", () => {
    const fds = new Int32Array(2);
    const message = new Uint8Array([104, 105]);
    const out = new Uint8Array(2);
    const b = batch({ stopOn: "negative" });
    b.add(C.pipe, fds, ...(isWindows ? [64, 0x8000 /* _O_BINARY */] : []));
    b.add(C.write, b.deref(ptr(fds) + 4, "i32"), message, 2);
    b.add(C.read, b.deref(fds, "i32"), out, 2);
    b.add(C.close, b.deref(fds, "i32"));
    b.add(C.close, b.deref(ptr(fds) + 4, "i32"));
    const r = b.run();
    assert.equal(r.stoppedAt, -1);
    const two = IO_RESULT === "i64" ? 2n : 2;
    assert.deepEqual([...r], [0, two, two, 0, 0]);
    assert.deepEqual([...out], [104, 105]);
  });

  test("deref of a type that cannot be read, and of null, throw at add() naming the entry", () => {
    const b = batch();
    assert.throws(() => b.add(S.my_strlen, b.deref(ptr(new Uint8Array(8)), "cstring")), /batch entry 0: deref: cannot read a cstring/);
    const n = batch();
    assert.throws(() => n.add(S.identity_i32, n.deref(0, "i32")), /batch entry 0: args\[0\]: batch\.deref\(\): refusing to access address 0x0 \(a NULL pointer\)/);
  });

  test("runAsync refuses chained entries", async () => {
    const b = batch();
    b.add(S.identity_i32, 1);
    b.add(S.identity_i32, b.result(0));
    await assert.rejects(b.runAsync(), /batch entry 1: .*run only in run\(\)/);
  });
});

describe("batch(): callbacks", () => {
  test("JSCallbacks run inside batched calls, in order", () => {
    const seen = [];
    const cb = new JSCallback((x) => (seen.push(x), x * 2), { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      for (let i = 0; i < 5; i++) b.add(S.call_i32_fn, cb, i);
      assert.deepEqual(b.run(), [0, 2, 4, 6, 8]);
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    } finally {
      cb.close();
    }
  });

  test("run() called from a callback inside a run throws; the outer run reports it", () => {
    const inner = batch();
    inner.add(S.identity_i32, 1);
    let message;
    const cb = new JSCallback((x) => {
      try {
        inner.run();
      } catch (e) {
        message = e.message;
      }
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 4);
      assert.deepEqual(b.run(), [4]);
      assert.match(message, /batches do not nest/);
      assert.deepEqual(inner.run(), [1]); // fine once the outer run is over
    } finally {
      cb.close();
    }
  });

  test("a callback that throws stops the run with its exception", () => {
    const cb = new JSCallback(() => {
      throw new Error("from the callback");
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 1);
      b.add(S.void_fn);
      assert.throws(() => b.run(), /from the callback/);
    } finally {
      cb.close();
    }
  });
});

describe("batch(): threads", () => {
  test("batches and map in worker_threads", async () => {
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      const ffi = require(workerData.root);
      const S = ffi.dlopen(workerData.fix, { add_i32: { args: ["i32", "i32"], returns: "i32" } }).symbols;
      const b = ffi.batch();
      for (let i = 0; i < 1000; i++) b.add(S.add_i32, i, workerData.k);
      const r = b.run();
      const m = S.add_i32.map(3, new Int32Array([1, 2, 3]), workerData.k);
      b.runAsync().then((a) => parentPort.postMessage({ last: r[999], m: [...m], a: a[999] }));
    `;
    const results = await Promise.all([1, 2, 3].map((k) => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { root: path.join(__dirname, ".."), fix: FIX, k } });
      w.once("message", resolve);
      w.once("error", reject);
    })));
    assert.deepEqual(results, [1, 2, 3].map((k) => ({ last: 999 + k, m: [1 + k, 2 + k, 3 + k], a: 999 + k })));
  });

  test("runAsync: results, errno, stopOn; strings copied and buffers kept", async () => {
    const bytes = new Uint8Array([5, 6, 7]);
    const b = batch({ errno: true, stopOn: "negative" });
    b.add(S.my_strlen, "h\u00e9llo");
    b.add(S.sum_bytes, bytes, 3);
    b.add(C.close, -1);
    b.add(S.void_fn);
    const promise = b.runAsync();
    b.clear(); // the run is already converted
    const r = await promise;
    assert.deepEqual([...r], [6n, 18, -1, undefined]);
    assert.equal(r.stoppedAt, 2);
    assert.equal(r.errno[2], 9);
  });

  test("runAsync rejects what the async rules refuse, naming the entry", async () => {
    const b = batch();
    b.add(S.identity_i32, 1);
    b.add(S.sum_bytes, new Uint8Array(new ArrayBuffer(4, { maxByteLength: 8 })), 4);
    await assert.rejects(b.runAsync(), /^TypeError: batch entry 1: sum_bytes: args\[0\] \(ptr\): a resizable ArrayBuffer/);
    const d = batch();
    const bytes = new Uint8Array(4);
    d.add(S.sum_bytes, bytes, 4);
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    await assert.rejects(d.runAsync(), /^TypeError: batch entry 0: sum_bytes: args\[0\] \(ptr\): its ArrayBuffer was detached/);
  });

  test("runAsync of 1M entries: no spread of arguments, every result", async () => {
    const b = batch();
    const n = 1_000_000;
    for (let i = 0; i < n; i++) b.add(S.add_i32, i, 1);
    const r = await b.runAsync();
    assert.equal(r.length, n);
    assert.equal(r[0], 1);
    assert.equal(r[n - 1], n);
    assert.equal(r[654321], 654322);
  });

  test("a batch changed while runAsync() runs: the run keeps what it was given, the batch goes on", async () => {
    const b = batch();
    b.add(S.my_strlen, "abc");
    b.add(S.add_i32, 1, 2);
    const first = b.runAsync();
    b.add(S.my_strlen, "hello");
    const second = b.runAsync();
    b.clear();
    b.add(S.identity_i32, 7);
    assert.deepEqual(b.run(), [7]);
    assert.deepEqual(await first, [3n, 3]);
    assert.deepEqual(await second, [3n, 3, 5n]);
  });

  test("a library closed while runAsync() runs: later entries are refused, naming the entry", async () => {
    const lib = dlopen(FIX, { void_fn: DEFS.void_fn, add_i32: DEFS.add_i32 });
    const b = batch();
    for (let i = 0; i < 3; i++) b.add(lib.symbols.add_i32, i, 1);
    const promise = b.runAsync();
    lib.close(); // before the pool thread can have started, usually; either outcome is sound
    await promise.then((r) => assert.deepEqual(r, [1, 2, 3]), (e) => assert.match(e.message, /^batch entry \d: Cannot call "add_i32": its library .* is closed/));
  });
});

describe("sym.map", () => {
  const TYPES = [
    ["i8", Int8Array, [-128, 127, 0]], ["u8", Uint8Array, [0, 255, 1]], ["i16", Int16Array, [-32768, 32767, 0]],
    ["u16", Uint16Array, [0, 65535, 9]], ["i32", Int32Array, [-2147483648, 2147483647, 0]],
    ["u32", Uint32Array, [0, 4294967295, 5]], ["i64", BigInt64Array, [-(2n ** 63n), 2n ** 63n - 1n, 0n]],
    ["u64", BigUint64Array, [0n, 2n ** 64n - 1n, 3n]], ["f32", Float32Array, [-3.4028234663852886e38, 0.5, -0]],
    ["f64", Float64Array, [Number.MAX_VALUE, -Infinity, NaN]], ["char", Int8Array, [-128, 127, 65]],
  ];
  const M = {};
  for (const [t] of TYPES) {
    M[`identity_${t}`] = { args: [t], returns: t };
    M[`add_${t}`] = { args: [t, t], returns: t };
  }
  const MS = dlopen(FIX, M).symbols;

  for (const [t, Store, values] of TYPES) {
    test(`${t}: ${Store.name} in, ${Store.name} out, element by element and broadcast, same as single calls`, () => {
      const input = Store.from(values);
      const out = MS[`identity_${t}`].map(values.length, input);
      assert.ok(out instanceof Store);
      assert.deepEqual([...out], values.map((v) => MS[`identity_${t}`](v)));
      const one = typeof values[0] === "bigint" ? 1n : 1;
      const added = MS[`add_${t}`].map(values.length, input, one);
      assert.deepEqual([...added], values.map((v) => MS[`add_${t}`](v, one)));
      const broadcast = MS[`add_${t}`].map(2, one, one);
      assert.deepEqual([...broadcast], [MS[`add_${t}`](one, one), MS[`add_${t}`](one, one)]);
    });
  }

  // The generated loop is TinyCC's: where cc() is unavailable (Windows) every
  // engine takes the C loop, or the precompiled one (src/calls/map_precompiled.c),
  // which the default and precompiled engines take for the common shapes.
  const loopFor = (engine) => (engine === "" || engine === "jit") && !ccUnavailable();
  const precompiledFor = (engine) => engine === "" || engine === "precompiled";
  for (const engine of ["", "jit", "registers", "ffi", "precompiled"]) {
    test(`every numeric type, columns and broadcasts, n=300: the same as single calls (CFFI_BUN_ENGINE=${engine || "unset"}; generated loop: ${loopFor(engine) ? "yes" : "no"}; precompiled loops: ${precompiledFor(engine) ? "yes" : "no"})`, () => {
      const env = { ...process.env, CFFI_BUN_DEBUG: "1" };
      if (engine) env.CFFI_BUN_ENGINE = engine;
      else delete env.CFFI_BUN_ENGINE;
      const child = spawnSync(process.execPath, [path.join(__dirname, "helpers", "map-parity.js")], { env, encoding: "utf8" });
      assert.equal(child.status, 0, child.stderr);
      const { checked, intoChecked, diffs } = JSON.parse(child.stdout);
      assert.equal(checked, 15900);
      assert.equal(intoChecked, 53);
      assert.deepEqual(diffs, []);
      const compiled = (child.stderr.match(/map jit: \S+ loop compiled/g) || []).length;
      const precompiled = new Set(child.stderr.match(/map: \S+ runs the precompiled loop/g) || []);
      // The precompiled shapes: i32, u32, i64, u64, f64, i64_fast, u64_fast; identity and add of each.
      if (precompiledFor(engine)) assert.equal(precompiled.size, 14, [...precompiled].join("\n"));
      else assert.equal(precompiled.size, 0);
      if (loopFor(engine)) {
        if (/map jit: no loop/.test(child.stderr)) assert.fail(child.stderr);
        // Under the default engine only the shapes not precompiled are compiled.
        assert.ok(compiled >= (engine === "" ? 20 : 50), `${compiled} loops compiled`);
      } else assert.equal(compiled, 0);
    });
  }

  test("the generated loop is compiled once per (function, columns) and reused; a map under 256 calls uses the C loop", { skip: ccUnavailable() }, () => {
    // i16 is not one of the precompiled shapes: TinyCC's loop under the default engine.
    const child = spawnSync(process.execPath, ["-e", `
      const ffi = require(${JSON.stringify(path.join(__dirname, ".."))});
      const S = ffi.dlopen(${JSON.stringify(FIX)}, { identity_i16: { args: ["i16"], returns: "i16" } }).symbols;
      const v = Int16Array.from({ length: 1000 }, (_, i) => -i);
      S.identity_i16.map(10, v.subarray(0, 10));
      for (let r = 0; r < 5; r++) if (S.identity_i16.map(1000, v)[999] !== -999) process.exit(1);
      S.identity_i16.map(300, -5);
    `], { env: { ...process.env, CFFI_BUN_DEBUG: "1", CFFI_BUN_ENGINE: "" }, encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(child.stderr.match(/map jit: identity_i16's loop compiled \(columns 0x[01]\)/g), ["map jit: identity_i16's loop compiled (columns 0x1)", "map jit: identity_i16's loop compiled (columns 0x0)"]);
  });

  test("bool returns a Uint8Array of 0/1; ptr a BigUint64Array of addresses; void undefined", () => {
    const L = dlopen(FIX, { identity_bool: { args: ["bool"], returns: "bool" }, identity_ptr: DEFS.identity_ptr }).symbols;
    assert.deepEqual([...L.identity_bool.map(3, new Uint8Array([0, 1, 2]))], [0, 1, 1]);
    const bytes = new Uint8Array(4);
    assert.deepEqual([...L.identity_ptr.map(2, bytes)], [BigInt(ptr(bytes)), BigInt(ptr(bytes))]);
    const before = S.void_fn_calls();
    assert.equal(S.void_fn.map(4), undefined);
    assert.equal(S.void_fn_calls(), before + 4);
    assert.equal(S.add_i32.map(0, new Int32Array(0), 1).length, 0);
  });

  test("abs over many values (the register engine and libffi loop give the same)", () => {
    const values = Int32Array.from({ length: 10000 }, (_, i) => i * (i % 2 ? -1 : 1));
    const out = C.abs.map(values.length, values);
    assert.equal(out[9999], 9999);
    assert.equal(out[4], 4);
  });

  test("strings are broadcast, encoded once", () => {
    assert.deepEqual([...S.my_strlen.map(3, "h\u00e9llo")], [6n, 6n, 6n]);
  });

  test("callbacks inside mapped calls", () => {
    const cb = new JSCallback((x) => x + 100, { args: ["i32"], returns: "i32" });
    try {
      assert.deepEqual([...S.call_i32_fn.map(3, cb, new Int32Array([1, 2, 3]))], [101, 102, 103]);
    } finally {
      cb.close();
    }
  });

  test("callbacks inside a generated loop's calls (n=300): every call, in order; a throwing callback stops the map with its exception", () => {
    const seen = [];
    const cb = new JSCallback((x) => (seen.push(x), x * 3), { args: ["i32"], returns: "i32" });
    const bad = new JSCallback((x) => {
      if (x === 150) throw new Error("callback at 150");
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const values = Int32Array.from({ length: 300 }, (_, i) => i);
      const out = S.call_i32_fn.map(300, cb, values);
      assert.equal(out[299], 897);
      assert.deepEqual(seen, [...values]);
      assert.throws(() => S.call_i32_fn.map(300, bad, values), /callback at 150/);
      assert.equal(S.call_i32_fn.map(300, cb, values)[1], 3); // the loop is usable after
    } finally {
      cb.close();
      bad.close();
    }
  });

  test("a callback or getter that detaches a column mid-map stops it with a TypeError, never a read of freed memory", () => {
    const values = new Int32Array(4096).fill(7);
    const cb = new JSCallback((x) => {
      if (values.length) structuredClone(values.buffer, { transfer: [values.buffer] });
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      assert.throws(() => S.call_i32_fn.map(4096, cb, values), { name: "TypeError", message: /call_i32_fn\.map: args\[1\] \(i32\) was detached or resized by JavaScript during the map/ });
    } finally {
      cb.close();
    }
    // write(fd, buf, n) on fd -1: EBADF, harmless; the getter runs after the fd column was read.
    const libc = dlopen(errnoLibcName(), { [POSIX.write]: { args: ["i32", "ptr", IO_SIZE], returns: IO_RESULT } });
    try {
      const fds = new Int32Array(16).fill(-1);
      const detaching = { get ptr() { structuredClone(fds.buffer, { transfer: [fds.buffer] }); return 0; } };
      assert.throws(() => libc.symbols[POSIX.write].map(16, fds, detaching, 0), /write\.map: args\[0\] \(i32\) was detached or resized/);
    } finally {
      libc.close();
    }
  });

  test("errors: length mismatch, wrong array type, bad n, missing argument, closed library", () => {
    assert.throws(() => S.add_i32.map(3, new Int32Array(2), 1), { name: "RangeError", message: /add_i32.map: args\[0\] \(i32\) has 2 elements for 3 calls/ });
    assert.throws(() => S.add_i32.map(2, new Float64Array(2), 1), { name: "TypeError", message: /args\[0\] \(i32\) must be a Int32Array .* received a Float64Array/ });
    assert.throws(() => S.add_i32.map(-1, 1, 1), /n \(the call count\) must be a non-negative integer/);
    assert.throws(() => S.add_i32.map(1.5, 1, 1), TypeError);
    assert.throws(() => S.add_i32.map(2, 1), /args\[1\] \(i32\) is missing/);
    assert.throws(() => S.add_i32.map(2, "x", 1), /add_i32: args\[0\] expects i32/);
    const lib = dlopen(FIX, { add_i32: DEFS.add_i32 });
    const fn = lib.symbols.add_i32;
    lib.close();
    assert.throws(() => fn.map(1, 1, 1), /Cannot call "add_i32": its library .* is closed/);
  });

  test("map and async are created on first access, cached, not enumerable; binding adds no own property", () => {
    const linked = linkSymbols({ f: { args: ["i32"], returns: "i32", ptr: C.abs.ptr } }).symbols.f;
    assert.equal(Object.getOwnPropertyDescriptor(linked, "map"), undefined);
    assert.equal(Object.getOwnPropertyDescriptor(linked, "async"), undefined);
    const map = linked.map;
    assert.equal(linked.map, map);
    assert.ok(!Object.keys(linked).includes("map"));
    const detached = linked.map;
    assert.deepEqual([...detached(2, new Int32Array([-4, 4]))], [4, 4]);
    assert.equal(typeof linked.async, "function");
    assert.equal(linked.async, linked.async);
    assert.ok(linked instanceof Function);
    assert.equal(typeof (() => 0).map, "undefined"); // other functions untouched
  });
});

describe("sym.map(n, ...args, { into })", () => {
  const values = Int32Array.from({ length: 1000 }, (_, i) => (i % 3 ? -i : i));

  test("the results go into the array given, which is returned; on every loop (C, precompiled, generated)", () => {
    const into = new Int32Array(1000).fill(-7);
    assert.equal(C.abs.map(1000, values, { into }), into);
    assert.deepEqual([...into], [...values].map((v) => Math.abs(v)));
    const small = new Int32Array(3);
    assert.equal(S.add_i32.map(3, values.subarray(0, 3), 10, { into: small }), small); // the C loop (n < 256)
    assert.deepEqual([...small], [10, 9, 8]);
    const f = new Float64Array(2);
    assert.equal(S.add_f64.map(2, 0.5, Float64Array.of(1, 2), { into: f }), f);
    assert.deepEqual([...f], [1.5, 2.5]);
    const L = dlopen(FIX, { identity_i16: { args: ["i16"], returns: "i16" }, identity_bool: { args: ["bool"], returns: "bool" } }).symbols;
    const shorts = Int16Array.from({ length: 300 }, (_, i) => -i);
    const outShorts = new Int16Array(300);
    assert.equal(L.identity_i16.map(300, shorts, { into: outShorts }), outShorts);
    assert.deepEqual([...outShorts], [...shorts]);
    const clamped = new Uint8ClampedArray(4);
    assert.equal(L.identity_bool.map(4, Uint8Array.of(0, 1, 2, 0), { into: clamped }), clamped);
    assert.deepEqual([...clamped], [0, 1, 1, 0]);
  });

  test("an array reused across maps; an in-place map (into is the column itself)", () => {
    const into = new Int32Array(1000);
    for (let r = 0; r < 3; r++) C.abs.map(1000, values, { into });
    assert.equal(into[999], 999);
    const column = values.slice();
    assert.equal(C.abs.map(1000, column, { into: column }), column);
    assert.deepEqual([...column], [...values].map((v) => Math.abs(v)));
  });

  test("{ into: undefined } is no array: a new one; an argument count without the options object is unchanged", () => {
    const out = C.abs.map(3, values.subarray(0, 3), { into: undefined });
    assert.ok(out instanceof Int32Array);
    assert.deepEqual([...out], [0, 1, 2]);
    // An object without `into` in that place is an argument (here: refused as an i32), not options.
    assert.throws(() => C.abs.map(1, { other: 1 }), /abs: args\[0\] expects i32/);
  });

  test("errors: wrong kind, length, detached, not a TypedArray, a void function, a partial overlap; nothing is called", () => {
    let calls = 0;
    const counting = new JSCallback((x) => (calls++, x), { args: ["i32"], returns: "i32" });
    try {
      const ten = new Int32Array(10);
      assert.throws(() => S.call_i32_fn.map(10, counting, ten, { into: new Float64Array(10) }),
        { name: "TypeError", message: "call_i32_fn.map: options.into must be a Int32Array (the results of a i32 function), received a Float64Array" });
      assert.throws(() => S.call_i32_fn.map(10, counting, ten, { into: new Int32Array(11) }),
        { name: "RangeError", message: "call_i32_fn.map: options.into has 11 elements for 10 calls" });
      assert.throws(() => S.call_i32_fn.map(10, counting, ten, { into: [] }),
        { name: "TypeError", message: /call_i32_fn\.map: options\.into must be a Int32Array of 10 elements \(the results of a i32 function\), received/ });
      const detached = new Int32Array(10);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      // A detached view has 0 elements: refused for 10 calls, harmless for none.
      assert.throws(() => S.call_i32_fn.map(10, counting, ten, { into: detached }),
        { name: "RangeError", message: "call_i32_fn.map: options.into has 0 elements for 10 calls" });
      assert.equal(S.call_i32_fn.map(0, counting, new Int32Array(0), { into: detached }), detached);
      const shared = new Int32Array(20);
      assert.throws(() => S.call_i32_fn.map(10, counting, shared.subarray(0, 10), { into: shared.subarray(5, 15) }),
        { name: "RangeError", message: /call_i32_fn\.map: options\.into overlaps args\[1\]'s memory/ });
      assert.throws(() => S.void_fn.map(3, { into: new Int32Array(3) }),
        { name: "TypeError", message: "void_fn.map: options.into: a void function has no results to store" });
      assert.equal(calls, 0);
    } finally {
      counting.close();
    }
  });

  test("a callback that detaches into mid-map stops it with a TypeError, never a write into freed memory (every loop)", () => {
    for (const n of [10, 4096]) { // the C loop and the precompiled (or generated) loop
      const into = new Int32Array(n);
      let seen = 0;
      const cb = new JSCallback((x) => {
        if (++seen === 3) structuredClone(into.buffer, { transfer: [into.buffer] });
        return x;
      }, { args: ["i32"], returns: "i32" });
      try {
        assert.throws(() => S.call_i32_fn.map(n, cb, new Int32Array(n).fill(1), { into }),
          { name: "TypeError", message: "call_i32_fn.map: options.into was detached or resized by JavaScript during the map" });
        assert.equal(seen, 3);
      } finally {
        cb.close();
      }
    }
  });

  for (const engine of ["", "jit", "registers", "precompiled"]) {
    test(`a callback on every call: each result stored once the output is checked again, none after a detach (CFFI_BUN_ENGINE=${engine || "unset"})`, () => {
      // Each loop used to store the result of the call during which JS ran
      // before checking options.into: a callback that detached it had that
      // result written into memory the ArrayBuffer had handed on.
      const env = { ...process.env };
      if (engine) env.CFFI_BUN_ENGINE = engine;
      else delete env.CFFI_BUN_ENGINE;
      const child = spawnSync(process.execPath, [path.join(__dirname, "helpers", "map-held.js")], { env, encoding: "utf8" });
      assert.equal(child.status, 0, child.stderr);
      const { checked, diffs } = JSON.parse(child.stdout);
      assert.deepEqual(diffs, []);
      assert.equal(checked, ccUnavailable() ? 930 : 5580);
    });
  }

  test("a getter on the options object that closes the library: the closed-library error, nothing called", () => {
    const lib = dlopen(FIX, { identity_i32: DEFS.identity_i32 });
    const fn = lib.symbols.identity_i32;
    const options = { get into() { lib.close(); return new Int32Array(1); } };
    assert.throws(() => fn.map(1, Int32Array.of(1), options), /Cannot call "identity_i32": its library .* is closed/);
  });
});

describe("batch(): staged entries (plain numeric arguments, no crossing at add())", () => {
  const W = dlopen(FIX, {
    identity_i64: { args: ["i64"], returns: "i64" },
    identity_u64: { args: ["u64"], returns: "u64" },
    identity_u8: { args: ["u8"], returns: "u8" },
    identity_bool: { args: ["bool"], returns: "bool" },
    identity_f32: { args: ["f32"], returns: "f32" },
    add_i32: DEFS.add_i32,
  }).symbols;

  test("staged and converted entries keep their order across many flushes of the staging area", () => {
    const b = batch();
    const expected = [];
    for (let i = 0; i < 20000; i++) {
      if (i % 997 === 0) {
        b.add(S.my_strlen, "x".repeat(i % 7));
        expected.push(BigInt(i % 7));
      } else {
        b.add(W.add_i32, i, -1);
        expected.push(i - 1);
      }
    }
    assert.equal(b.length, 20000);
    assert.deepEqual(b.run(), expected);
  });

  test("bigints, booleans, NaN, fractions and out-of-range numbers stage as the single call converts them", () => {
    const cases = [
      [W.identity_i64, [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n + 5n, 5, -1, 1e20, NaN, true]],
      [W.identity_u64, [2n ** 64n - 1n, -1n, 7, -1, 2 ** 53 + 2, Infinity, false]],
      [W.identity_u8, [255, 256, -1, 1.9, NaN, 1n, 2n ** 64n + 3n, true]],
      [W.identity_bool, [0, 1, 2, NaN, -0, "", "x", {}, null, undefined, 0n, 3n]],
      [W.identity_f32, [0.1, 1e39, -0, NaN, true]],
      [W.add_i32, [2 ** 31, -(2 ** 31) - 1, 4294967296 + 7, -0.5]],
    ];
    const b = batch();
    const single = [];
    for (const [fn, values] of cases) {
      for (const v of values) {
        const args = fn === W.add_i32 ? [v, 1] : [v];
        single.push(fn(...args));
        b.add(fn, ...args);
      }
    }
    const show = (v) => (typeof v === "bigint" ? `${v}n` : Object.is(v, -0) ? "-0" : String(v));
    assert.deepEqual(b.run().map(show), single.map(show));
  });

  test("clear() from a callback during that batch's run() throws; add() is allowed and runs next time", () => {
    let b;
    let message;
    const cb = new JSCallback((x) => {
      try {
        b.clear();
      } catch (e) {
        message = e.message;
      }
      b.add(W.add_i32, 40, 2);
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      b = batch();
      b.add(S.call_i32_fn, cb, 1);
      assert.deepEqual(b.run(), [1]);
      assert.match(message, /clear\(\) was called while this batch runs/);
      assert.equal(b.length, 2);
      b.clear();
      b.add(W.add_i32, 40, 2);
      assert.deepEqual(b.run(), [42]);
    } finally {
      cb.close();
    }
  });

  test("a batch that is collected frees its buffer; a run after clear() reuses nothing stale", () => {
    for (let round = 0; round < 50; round++) {
      const b = batch();
      for (let i = 0; i < 1000; i++) b.add(S.my_strlen, "abc");
      assert.equal(b.run()[999], 3n);
      b.clear();
      b.add(W.add_i32, round, 0);
      assert.deepEqual(b.run(), [round]);
    }
  });
});

describe("batch(): native memory", () => {
  // ASan's quarantine keeps freed memory mapped, so RSS says nothing there.
  const rssUnusable = process.env.CFFI_BUN_ASAN === "1" && "RSS is meaningless under ASan's quarantine";
  test("batches dropped without clear() give their buffers and strings back (RSS stays bounded)", { skip: rssUnusable }, () => {
    const child = spawnSync(process.execPath, ["-e", `
      const ffi = require(${JSON.stringify(path.join(__dirname, ".."))});
      const S = ffi.dlopen(${JSON.stringify(FIX)}, { my_strlen: { args: ["cstring"], returns: "u64" } }).symbols;
      const s = "x".repeat(100);
      let first = 0;
      for (let round = 0; round < 40; round++) {
        const b = ffi.batch();
        for (let i = 0; i < 50000; i++) b.add(S.my_strlen, s); // ~10 MB of native buffer and strings
        if (b.run()[49999] !== 100n) process.exit(2);
        if (round === 4) first = process.memoryUsage().rss;
      }
      console.log(JSON.stringify({ growth: process.memoryUsage().rss - first }));
    `], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const { growth } = JSON.parse(child.stdout);
    assert.ok(growth < 200 * 1024 * 1024, `RSS grew ${growth} bytes over 35 dropped batches of ~10 MB`);
  });
});

// JS that runs inside the addon (a .ptr getter) may change the batch, its
// library or its views; each case runs in a child, since the defects crashed.
describe("batch(): index setters on Array.prototype and Object.prototype", () => {
  test("run no user JS inside add() or run(), and cannot make the batch drop what it keeps alive (was: a view collected)", () => {
    const child = spawnSync(process.execPath, ["--expose-gc", "-e", `
      const { dlopen, batch, JSCallback } = require(${JSON.stringify(path.join(__dirname, ".."))});
      const S = dlopen(${JSON.stringify(FIX)}, ${JSON.stringify({ sum_bytes: DEFS.sum_bytes, call_i32_fn: DEFS.call_i32_fn, my_strlen: DEFS.my_strlen })}).symbols;
      const doubled = new JSCallback((x) => x * 2, { args: ["i32"], returns: "i32" });
      let ran = 0;
      for (const proto of [Array.prototype, Object.prototype])
        for (let i = 0; i < 8; i++) Object.defineProperty(proto, i, { set() { ran++; }, get() { return undefined; }, configurable: true });
      const b = batch();
      b.add(S.sum_bytes, Uint8Array.of(1, 2, 3), 3);
      b.add(S.call_i32_fn, doubled, 21);
      b.add(S.my_strlen, "abc");
      b.add(S.my_strlen, "abcd"); // staged and converted entries; u64 results are made in C
      for (let r = 0; r < 3; r++) { gc(); gc({ type: "minor" }); }
      b.run();
      const addRan = ran;
      for (const proto of [Array.prototype, Object.prototype]) for (let i = 0; i < 8; i++) delete proto[i];
      const again = b.run();
      console.log(JSON.stringify({ ran: addRan, results: [...again].map(String) }));
    `], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const { ran, results } = JSON.parse(child.stdout);
    assert.deepEqual(results, ["6", "42", "3", "4"]);
    // The results array too is filled only through own elements (lib/batch.js's templates).
    assert.equal(ran, 0, "an index setter ran during add() or inside run()");
  });
});

describe("batch(): JavaScript run by a .ptr getter inside add() and run()", () => {
  function runChild(body) {
    const child = spawnSync(process.execPath, ["-e", `
      const ffi = require(${JSON.stringify(path.join(__dirname, ".."))});
      const FIX = ${JSON.stringify(FIX)};
      const LIBC = ${JSON.stringify(LIBC)};
      ${body}
    `], { encoding: "utf8" });
    assert.equal(child.status, 0, `exit ${child.status} signal ${child.signal}\n${child.stderr}`);
    return child.stdout.trim();
  }

  test("a getter that clear()s the batch inside add(): the entry goes to the cleared batch (was a use-after-free)", () => {
    const out = runChild(`
      const S = ffi.dlopen(FIX, { identity_ptr: { args: ["ptr"], returns: "ptr" } }).symbols;
      (async () => {
        const b = ffi.batch();
        b.add(S.identity_ptr, 1);
        const p = b.runAsync();
        b.add(S.identity_ptr, 2); // continues on a copy of the buffer the pool runs
        await p;
        b.add(S.identity_ptr, { get ptr() { b.clear(); return 1234; } });
        b.add(S.identity_ptr, 5678);
        const inPlace = ffi.batch();
        inPlace.add(S.identity_ptr, 3);
        inPlace.add(S.identity_ptr, { get ptr() { inPlace.clear(); return 99; } });
        console.log(JSON.stringify([b.length, b.run(), inPlace.length, inPlace.run()]));
      })();
    `);
    assert.deepEqual(JSON.parse(out), [2, [1234, 5678], 1, [99]]);
  });

  test("a getter that starts runAsync() inside add(): the pool's run and the new entry do not share memory", () => {
    const out = runChild(`
      const S = ffi.dlopen(FIX, { identity_ptr: { args: ["ptr"], returns: "ptr" } }).symbols;
      (async () => {
        const b = ffi.batch();
        for (let i = 0; i < 1000; i++) b.add(S.identity_ptr, { ptr: i + 1 });
        let pending;
        b.add(S.identity_ptr, { get ptr() { pending ??= b.runAsync(); return 7; } });
        for (let i = 0; i < 5000; i++) b.add(S.identity_ptr, { ptr: 8 }); // grows the buffer while the pool reads
        const early = await pending;
        const all = b.run();
        console.log(JSON.stringify([early.length, early[999], all.length, all[1000], all[6000]]));
      })();
    `);
    assert.deepEqual(JSON.parse(out), [1000, 1000, 6001, 7, 8]);
  });

  test("a getter runAsync() checks that add()s to or clear()s the batch: the run keeps the entries it was started with", () => {
    const out = runChild(`
      const S = ffi.dlopen(FIX, { identity_ptr: { args: ["ptr"], returns: "ptr" } }).symbols;
      (async () => {
        const b = ffi.batch();
        let mode = "";
        for (let i = 0; i < 3; i++) b.add(S.identity_ptr, { get ptr() {
          if (mode === "grow") { mode = ""; for (let k = 0; k < 5000; k++) b.add(S.identity_ptr, 9); }
          if (mode === "clear") { mode = ""; b.clear(); }
          return i + 1;
        } });
        ffi.dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } }).close(); // objects are rechecked after any close()
        mode = "grow";
        const grown = await b.runAsync(); // its checks run the getters
        const after = b.length;
        ffi.dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } }).close();
        mode = "clear";
        const cleared = await b.runAsync();
        console.log(JSON.stringify([grown, after, cleared, b.length]));
      })();
    `);
    assert.deepEqual(JSON.parse(out), [[1, 2, 3], 5003, [1, 2, 3, ...Array(5000).fill(9)], 0]);
  });

  test("a getter checked at run() that closes the entry's library: a TypeError, not a call into unmapped code", () => {
    const out = runChild(`
      const lib = ffi.dlopen(FIX, { identity_ptr: { args: ["ptr"], returns: "ptr" } });
      let armed = false;
      const b = ffi.batch();
      b.add(lib.symbols.identity_ptr, { get ptr() { if (armed) lib.close(); return 8; } });
      ffi.dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } }).close(); // objects are rechecked after any close()
      armed = true;
      try { b.run(); console.log("called"); } catch (e) { console.log(e.message); }
    `);
    assert.match(out, /^batch entry 0: Cannot call "identity_ptr": its library .* is closed$/);
  });

  test("a getter checked at run() that detaches a view argument of the same entry: a TypeError, nothing written", () => {
    const out = runChild(`
      const C = ffi.dlopen(LIBC, { memcpy: { args: ["ptr", "ptr", "u64"], returns: "ptr" } }).symbols;
      const dst = new Uint8Array(1 << 20);
      const src = new Uint8Array(1 << 20).fill(7);
      let armed = false;
      const b = ffi.batch();
      b.add(C.memcpy, dst, { get ptr() { if (armed) structuredClone(dst.buffer, { transfer: [dst.buffer] }); return ffi.ptr(src); } }, 1 << 20);
      ffi.dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } }).close();
      armed = true;
      try { b.run(); console.log("called"); } catch (e) { console.log(e.message); }
    `);
    assert.equal(out, "batch entry 0: memcpy: args[0] (ptr): its ArrayBuffer was detached after add(); nothing was called");
  });
});

describe("batch: the raw exports' result arrays (lib/native.js takes them from any caller)", () => {
  // batchResults kept the arrays' memory and batchRun wrote each result
  // there, so a detached array had its memory written after it was handed
  // on (or freed).
  const native = require("../lib/native.js");
  const fresh = (count) => {
    const handle = [];
    native.batchNew(handle, 0);
    const raw = new Float64Array(count), kinds = new Uint8Array(count);
    native.batchResults.call(handle, raw, kinds);
    return { handle, raw, kinds };
  };
  const malformed = { name: "Error", message: /batchRun: internal arguments malformed \(result arrays detached or too short\)/ };

  test("a result array detached before run(): an error, nothing written into the memory it handed on", () => {
    // The raw batchAdd takes the addon's own bound function only: on Node 26
    // an (i32) -> i32 symbol is a node:ffi engine guard, a function-pointer
    // signature is not.
    const identity = new JSCallback((x) => x, { args: ["i32"], returns: "i32" });
    for (const which of ["raw", "kinds"]) {
      const { handle, raw, kinds } = fresh(4);
      for (let i = 0; i < 4; i++) native.batchAdd.call(handle, S.call_i32_fn, identity, -1234);
      const moved = structuredClone((which === "raw" ? raw : kinds).buffer, { transfer: [(which === "raw" ? raw : kinds).buffer] });
      assert.throws(() => native.batchRun.call(handle, [], undefined), malformed);
      assert.deepEqual([...new Uint8Array(moved)], new Array(moved.byteLength).fill(0), which);
    }
    identity.close();
  });

  test("a result array detached by a callback during run(): the run stops there, nothing written after", () => {
    const { handle, raw } = fresh(4);
    let moved;
    const cb = new JSCallback((x) => {
      if (x === 2) moved = structuredClone(raw.buffer, { transfer: [raw.buffer] });
      return x * 10;
    }, { args: ["i32"], returns: "i32" });
    try {
      for (let i = 1; i <= 4; i++) native.batchAdd.call(handle, S.call_i32_fn, cb, i);
      assert.throws(() => native.batchRun.call(handle, [], undefined), malformed);
      assert.deepEqual([...new Float64Array(moved)], [10, 0, 0, 0]); // entry 0's result only, stored before the detach
    } finally {
      cb.close();
    }
  });
});
