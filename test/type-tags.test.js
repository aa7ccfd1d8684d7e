"use strict";
// Objects the addon wraps are recognised by their Node-API type tag, not by
// napi_unwrap alone: Node-API wraps share one private key per isolate, so a
// function or object another addon wrapped unwraps to that addon's memory.
// Each place that accepts a bound function, a struct type or a struct view is
// handed (a) functions and objects wrapped by "another addon" (a cc() function
// calling napi_wrap with memory that is no cffi-bun struct), and (b) cffi-bun
// objects of the wrong kind; each must answer with a TypeError, not a crash.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const ffi = require("..");
const { dlopen, cc, batch, executor, JSCallback, struct } = ffi;
const { fixturePath, buildFixture } = require("./helpers/fixture");

const isWindows = process.platform === "win32";
const { ccUnavailable } = require("./helpers/platform.js");
const FIX = fixturePath();
const lib = dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
const { add_i32 } = lib.symbols;
const boundPrototype = Object.getPrototypeOf(add_i32);

// "Another addon" (its napi_env takes an argument position): wraps its argument with a pointer to bytes that are all
// 0xff (read as a cffi_function, a layout or a view: wild pointers).
// (Made with cc(): null on Windows and in builds without TinyCC, whose
// cases are then left out.)
const foreign = isWindows || ccUnavailable()
  ? null
  : cc({
      source: `
        #include <node_api.h>
        #include <string.h>
        static unsigned char junk[4096];
        napi_value wrap_foreign(napi_env env, napi_value value) {
          memset(junk, 0xff, sizeof junk);
          napi_wrap(env, value, junk, NULL, NULL, NULL);
          return value;
        }
      `,
      symbols: { wrap_foreign: { args: ["napi_env", "napi_value"], returns: "napi_value" } },
    }).symbols;

function foreignFunction() {
  const fn = foreign.wrap_foreign(undefined, function notBound() {});
  // What a bound function looks like to JS, too: its prototype, .ptr, .length.
  Object.setPrototypeOf(fn, boundPrototype);
  return fn;
}

const Point = struct({ x: "i32", y: "i32" });
const callback = new JSCallback(() => 0, { args: [], returns: "i32" });
const ex = executor({ threads: 1 });

// Values of the wrong kind for a bound-function argument.
function wrongFunctions() {
  const wrong = {
    "a plain function": () => 1,
    "a JSCallback": callback,
    "a library": lib,
    "a struct type": Point,
    "a struct view": Point.view(),
    "an executor": ex,
    "sym.async": add_i32.async,
    "a library's close": lib.close,
    "a function with the bound prototype": Object.setPrototypeOf(function impostor() {}, boundPrototype),
  };
  if (foreign) {
    wrong["a function another addon wrapped"] = foreignFunction();
    wrong["an object another addon wrapped"] = foreign.wrap_foreign(undefined, {});
  }
  return Object.entries(wrong);
}

test("batch run and runAsync refuse every wrong kind of function with a TypeError", async () => {
  for (const [what, value] of wrongFunctions()) {
    const b = batch();
    b.add(add_i32, 1, 2);
    // Arguments are converted by add() (docs/batch.md): it refuses, and the batch stays usable.
    assert.throws(() => b.add(value, 1, 2), TypeError, what);
    assert.deepEqual(b.run(), [3], what);
    assert.deepEqual(await b.runAsync(), [3], what);
  }
  // The real one still works beside them.
  const b = batch();
  b.add(add_i32, 1, 2);
  assert.deepEqual(b.run(), [3]);
});

test("sym.map and sym.async on a function that is not bound: TypeError or undefined, never a crash", () => {
  const { get: mapGetter } = Object.getOwnPropertyDescriptor(boundPrototype, "map");
  const { get: asyncGetter } = Object.getOwnPropertyDescriptor(boundPrototype, "async");
  for (const [what, value] of wrongFunctions()) {
    if (typeof value !== "function" && (typeof value !== "object" || value === null)) continue;
    assert.throws(() => Reflect.apply(mapGetter, value, [])(2, new Int32Array(2), new Int32Array(2)), TypeError, what);
    assert.equal(Reflect.apply(asyncGetter, value, []), undefined, what);
  }
  assert.deepEqual([...add_i32.map(2, new Int32Array([1, 2]), new Int32Array([3, 4]))], [4, 6]);
});

test("executor call, callWithErrno and callSync refuse every wrong kind of function with a TypeError", async () => {
  for (const [what, value] of wrongFunctions()) {
    await assert.rejects(ex.call(value, 1, 2), TypeError, what);
    await assert.rejects(ex.callWithErrno(value, 1, 2), TypeError, what);
    assert.throws(() => ex.callSync(value, 1, 2), TypeError, what);
  }
  assert.equal(await ex.call(add_i32, 1, 2), 3);
  assert.equal(ex.callSync(add_i32, 2, 2), 4);
});

test("an async entry called with a foreign-wrapped this runs on the shared pool, as with any other this", async () => {
  if (!foreign) return;
  const target = foreign.wrap_foreign(undefined, {});
  assert.equal(await Reflect.apply(add_i32.async, target, [5, 6]), 11);
});

test("struct types and views: foreign-wrapped objects and other cffi-bun objects are not taken for them", () => {
  const wrongTypes = wrongFunctions().filter(([what]) => what !== "a struct type");
  for (const [what, value] of wrongTypes) {
    // As a type in a definition, a field, a variadic argument type.
    assert.throws(() => dlopen(FIX, { add_i32: { args: [value, "i32"], returns: "i32" } }), TypeError, what);
    assert.throws(() => struct({ p: value }), TypeError, what);
  }
  const libc = isWindows ? "msvcrt.dll" : process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";
  const { printf } = dlopen(libc, { printf: { args: ["cstring", "..."], returns: "i32" } }).symbols;
  for (const [what, value] of wrongTypes) assert.throws(() => printf.with(value), TypeError, what);
  // A struct argument given a view of another layout, or a foreign-wrapped object.
  const Other = struct({ a: "f64" });
  // s8_swap takes and returns a struct of two int32 (Point's layout); a fixture, not cc(), which
  // Windows and macOS builds lack.
  const swap = dlopen(buildFixture("structs.c"), { s8_swap: { args: [Point], returns: Point } }).symbols.s8_swap;
  const takesPoint = (p) => { const r = swap(p); return r.x * 10 + r.y; };
  assert.equal(takesPoint(Point.view(new Int32Array([2, 3]))), 32);
  assert.throws(() => takesPoint(Other.view()), TypeError);
  // A foreign-wrapped object is a plain object here (its fields), not a view.
  if (foreign) assert.equal(takesPoint(foreign.wrap_foreign(undefined, { x: 4, y: 5 })), 54);
  assert.throws(() => Point.read(foreign ? foreign.wrap_foreign(undefined, {}) : {}), TypeError);
});

// callbackSignature's result is an ArrayBuffer holding a parsed signature (cheaper than an
// external), and the raw exports hand it back to callbackCreate; its bytes are the caller's.
// Only the type ids and the ABI are read from it, checked; a forged pointer in it (the layouts
// field, read as a struct signature's layouts) crashed the process. Each forgery runs in a child.
test("callbackCreate: a forged signature buffer (every byte past the type ids sprayed) is refused or harmless, never a crash", () => {
  const { spawnSync } = require("node:child_process");
  const path = require("node:path");
  const native = path.join(__dirname, "..", "lib", "native.js");
  const script = (fill, from) => `
    const native = require(${JSON.stringify(native)});
    const real = new Uint8Array(native.callbackSignature({}, ["i32"], "i32", undefined));
    const forged = new Uint8Array(real);
    forged.fill(${fill}, real.length - ${from});
    let out;
    try {
      const address = native.callbackCreate((x) => x + 1, forged.buffer, false);
      native.callbackClose(address);
      out = "created";
    } catch (error) {
      out = error.message;
    }
    console.log(out);
  `;
  for (const fill of [0x41, 0xff, 0x01]) {
    for (const from of [8, 16, 64, 90]) {
      const r = spawnSync(process.execPath, ["-e", script(fill, from)], { encoding: "utf8" });
      assert.equal(r.signal, null, `fill 0x${fill.toString(16)} over the last ${from} bytes: killed by ${r.signal}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^(created|JSCallback: not a signature from callbackSignature)\n$/);
    }
  }
});
