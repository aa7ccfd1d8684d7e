"use strict";
// batch() results as a TypedArray (docs/batch.md, "Typed results"):
// run({ results: "typed" }) and run({ into: TypedArray }) for a batch whose
// entries all return one type; every type against the single calls is in
// test/helpers/batch-parity.js (run on every engine by test/batch.test.js).
// Here: staged and native runs, run again, stopOn, errno, chained entries,
// and every error, each before any call.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const { dlopen, batch, JSCallback } = require("..");
const { fixturePath } = require("./helpers/fixture");
const { errnoLibcName, isWindows } = require("./helpers/platform");

const S = dlopen(fixturePath(), {
  identity_i32: { args: ["i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  add_f64: { args: ["f64", "f64"], returns: "f64" },
  identity_u8: { args: ["u8"], returns: "u8" },
  identity_ptr: { args: ["ptr"], returns: "ptr" },
  my_strlen: { args: ["cstring"], returns: "u64" },
  identity_u64: { args: ["u64"], returns: "u64" },
  call_i32_fn: { args: ["function", "i32"], returns: "i32" },
  void_fn: { args: [], returns: "void" },
}).symbols;

describe("batch(): typed results", () => {
  test("results: \"typed\" gives a new TypedArray of the return type, staged and from a native buffer", () => {
    const b = batch();
    for (let i = 0; i < 1000; i++) b.add(S.add_i32, i, -2 * i);
    const first = b.run({ results: "typed" }); // from the stage
    assert.ok(first instanceof Int32Array);
    assert.equal(first.length, 1000);
    assert.equal(first[999], -999);
    const again = b.run({ results: "typed" }); // moved into a native buffer
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
    assert.deepEqual(b.run(), [...first]); // the Array form is unchanged
  });

  test("into: a TypedArray of the right kind and length is filled and returned; Uint8ClampedArray for u8", () => {
    const b = batch();
    b.add(S.add_f64, 0.5, 0.25);
    b.add(S.add_f64, -1e308, -1e308);
    const into = new Float64Array(2);
    assert.equal(b.run({ into }), into);
    assert.deepEqual([...into], [0.75, -Infinity]);
    into.fill(7);
    assert.equal(b.run({ into, results: "typed" }), into);
    assert.deepEqual([...into], [0.75, -Infinity]);
    const u8 = batch();
    u8.add(S.identity_u8, 300);
    u8.add(S.identity_u8, -1);
    assert.deepEqual([...u8.run({ into: new Uint8ClampedArray(2) })], [44, 255]);
  });

  test("pointers come as their addresses in a BigUint64Array (null as 0n); strings were encoded at add()", () => {
    const p = batch();
    p.add(S.identity_ptr, 4096);
    p.add(S.identity_ptr, null);
    p.add(S.identity_ptr, 2 ** 52);
    assert.deepEqual([...p.run({ results: "typed" })], [4096n, 0n, 2n ** 52n]);
    assert.deepEqual(p.run(), [4096, null, 2 ** 52]);
    const s = batch();
    s.add(S.my_strlen, "h\u00e9llo");
    s.add(S.my_strlen, "");
    s.add(S.identity_u64, 2n ** 64n - 1n);
    assert.deepEqual([...s.run({ results: "typed" })], [6n, 0n, 2n ** 64n - 1n]);
  });

  test("chained entries: b.result() reads the run's own results", () => {
    const b = batch();
    const first = b.add(S.identity_ptr, 8192);
    b.add(S.identity_ptr, b.result(first));
    assert.deepEqual([...b.run({ results: "typed" })], [8192n, 8192n]);
  });

  test("stopOn: entries not run are 0 and stoppedAt is set; errno is an Int32Array on the array", () => {
    const b = batch({ stopOn: "negative", errno: true });
    b.add(S.identity_i32, 3);
    b.add(S.identity_i32, -4);
    b.add(S.identity_i32, 5);
    const into = new Int32Array([9, 9, 9]);
    assert.equal(b.run({ into }), into);
    assert.deepEqual([...into], [3, -4, 0]);
    assert.equal(into.stoppedAt, 1);
    assert.ok(into.errno instanceof Int32Array);
    assert.equal(into.errno.length, 3);
    const none = batch({ stopOn: "nonzero" });
    none.add(S.identity_i32, 0);
    const r = none.run({ results: "typed" });
    assert.equal(r.stoppedAt, -1);
    assert.throws(() => b.run({ into: Object.preventExtensions(new Int32Array(3)) }),
      { name: "TypeError", message: /into must be extensible to receive stoppedAt or errno, received a non-extensible Int32Array/ });
  });

  test("errno per entry", { skip: isWindows && "POSIX close() by its C runtime name" }, () => {
    const io = dlopen(errnoLibcName(), { close: { args: ["i32"], returns: "i32" } }).symbols;
    const b = batch({ errno: true });
    b.add(io.close, -1);
    b.add(io.close, -1);
    const r = b.run({ results: "typed" });
    assert.deepEqual([...r], [-1, -1]);
    assert.deepEqual([...r.errno], [9, 9]); // EBADF
  });

  test("an empty batch: an empty Float64Array, or into of length 0", () => {
    assert.deepEqual(batch().run({ results: "typed" }), new Float64Array(0));
    const into = new Int8Array(0);
    assert.equal(batch().run({ into }), into);
  });

  test("errors, each before any call: mixed types, void, wrong kind or length, bad options", () => {
    let calls = 0;
    const cb = new JSCallback((x) => (calls++, x), { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 1);
      b.add(S.identity_i32, 2);
      assert.throws(() => b.run({ into: new Float64Array(2) }),
        { name: "TypeError", message: "batch.run(): into must be an Int32Array for call_i32_fn's i32 results, received a Float64Array" });
      assert.throws(() => b.run({ into: new Int32Array(3) }),
        { name: "RangeError", message: "batch.run(): into must have exactly 2 elements (the batch's entries), received 3" });
      assert.throws(() => b.run({ into: new Int32Array(2), results: "array" }), { name: "TypeError", message: /results is "array" but into is a TypedArray \(Int32Array\)/ });
      assert.throws(() => b.run({ into: [], results: "typed" }), { name: "TypeError", message: /results "typed" needs into to be a TypedArray or absent, received an Array/ });
      assert.throws(() => b.run({ results: "typedarray" }), { name: "TypeError", message: /results must be "array" or "typed", received "typedarray"/ });
      assert.throws(() => b.run({ into: new DataView(new ArrayBuffer(8)) }), { name: "TypeError", message: /into must be an Array or a TypedArray, received DataView/ });
      const mixed = batch();
      mixed.add(S.identity_i32, 1);
      mixed.add(S.call_i32_fn, cb, 1);
      mixed.add(S.add_f64, 1, 2);
      assert.throws(() => mixed.run({ results: "typed" }),
        { name: "TypeError", message: "batch.run(): typed results need every entry to return one type: identity_i32 returns i32, add_f64 returns f64" });
      const staged = batch();
      staged.add(S.identity_i32, 1);
      staged.add(S.add_f64, 1, 2);
      assert.throws(() => staged.run({ results: "typed" }), { name: "TypeError", message: /identity_i32 returns i32, add_f64 returns f64/ });
      assert.deepEqual(staged.run(), [1, 3]); // still runs as an Array
      const empty = batch();
      empty.add(S.void_fn);
      assert.throws(() => empty.run({ results: "typed" }), { name: "TypeError", message: "batch.run(): typed results: void_fn returns void, which no TypedArray holds" });
      assert.equal(calls, 0);
      assert.deepEqual([...b.run({ into: new Int32Array(2) })], [1, 2]);
      assert.equal(calls, 1);
    } finally {
      cb.close();
    }
  });

  test("a callback that detaches into during the run: TypeError after the run, no write to the freed memory", () => {
    const into = new Int32Array(new ArrayBuffer(8));
    const cb = new JSCallback((x) => {
      structuredClone(into.buffer, { transfer: [into.buffer] });
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 1);
      b.add(S.identity_i32, 2);
      assert.throws(() => b.run({ into }), { name: "TypeError", message: /into was detached or resized by JavaScript during the run/ });
      assert.equal(into.length, 0);
    } finally {
      cb.close();
    }
  });

  test("a large batch into a reused array makes no JS array", () => {
    const N = 200000;
    const b = batch();
    const into = new Int32Array(N);
    for (let round = 0; round < 2; round++) {
      b.clear();
      for (let i = 0; i < N; i++) b.add(S.identity_i32, i % 2 ? -i : i);
      assert.equal(b.run({ into }), into);
      assert.equal(into[N - 1], -(N - 1));
      assert.equal(into[N - 2], N - 2);
    }
  });
});
