"use strict";
// batch(): consecutive entries of one function run through sym.map's
// precompiled loop (src/calls/batch_buffer.c, run_segment): results, order
// and every rule of a single entry's run kept across segment boundaries,
// staged and from a native buffer, with callbacks that run JS, throw,
// close the library or add to the batch in the middle of a segment.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const { dlopen, batch, JSCallback } = require("..");
const { fixturePath } = require("./helpers/fixture");

const DEFS = {
  identity_i32: { args: ["i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  add_f64: { args: ["f64", "f64"], returns: "f64" },
  identity_i64: { args: ["i64"], returns: "i64" },
  identity_u32: { args: ["u32"], returns: "u32" },
  void_fn: { args: [], returns: "void" },
  void_fn_calls: { args: [], returns: "i32" },
  // The callback's address as a plain integer: an entry map's loop takes.
  call_i32_fn: { args: ["u64", "i32"], returns: "i32" },
};
const S = dlopen(fixturePath(), DEFS).symbols;

// Runs b staged (its first run) and again from its native buffer.
function bothWays(fill) {
  const b = batch();
  fill(b);
  return [b.run(), b.run()];
}

describe("batch(): runs of one function", () => {
  test("long runs, interleaved functions and segment boundaries give the single calls' results", () => {
    const fill = (b) => {
      for (let i = 0; i < 600; i++) b.add(S.identity_i32, i % 3 ? -i : i);
      b.add(S.add_i32, 2147483647, 1);
      for (let i = 0; i < 257; i++) b.add(S.add_f64, i, 0.5);
      b.add(S.identity_i32, 5);
      for (let i = 0; i < 300; i++) b.add(S.identity_i64, i % 2 ? -(2n ** 63n) + BigInt(i) : i * 4294967296);
      for (let i = 0; i < 10; i++) b.add(S.identity_u32, -i);
      for (let i = 0; i < 3; i++) b.add(S.void_fn);
      b.add(S.void_fn_calls);
      b.add(S.void_fn_calls);
    };
    const expected = [];
    for (let i = 0; i < 600; i++) expected.push(S.identity_i32(i % 3 ? -i : i));
    expected.push(S.add_i32(2147483647, 1));
    for (let i = 0; i < 257; i++) expected.push(S.add_f64(i, 0.5));
    expected.push(5);
    for (let i = 0; i < 300; i++) expected.push(S.identity_i64(i % 2 ? -(2n ** 63n) + BigInt(i) : i * 4294967296));
    for (let i = 0; i < 10; i++) expected.push(S.identity_u32(-i));
    expected.push(undefined, undefined, undefined);
    const calls = S.void_fn_calls();
    expected.push(calls + 3, calls + 3);
    const [staged, native] = bothWays(fill);
    assert.deepEqual(staged, expected);
    expected[expected.length - 1] = expected[expected.length - 2] = calls + 6; // void_fn ran three times more
    assert.deepEqual(native, expected);
  });

  test("a callback that runs JS in the middle of a run: every result kept, in order", () => {
    const seen = [];
    const cb = new JSCallback((x) => (seen.push(x), x * 10), { args: ["i32"], returns: "i32" });
    try {
      const [staged, native] = bothWays((b) => {
        for (let i = 0; i < 300; i++) b.add(S.call_i32_fn, i % 50 === 7 ? cb.ptr : 0, i);
      });
      const expected = Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? i * 10 : -1));
      assert.deepEqual(staged, expected);
      assert.deepEqual(native, expected);
      assert.deepEqual(seen.length, 12);
    } finally {
      cb.close();
    }
  });

  test("a callback that throws stops the run with its exception, naming the entry; earlier calls ran", () => {
    let calls = 0;
    const cb = new JSCallback((x) => {
      calls++;
      if (x === 130) throw new Error("boom at 130");
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      for (let i = 0; i < 200; i++) b.add(S.call_i32_fn, cb.ptr, i);
      assert.throws(() => b.run(), { message: "batch entry 130: boom at 130" }); // staged
      assert.equal(calls, 131);
      calls = 0;
      assert.throws(() => b.run(), { message: "batch entry 130: boom at 130" }); // from its native buffer
      assert.equal(calls, 131);
    } finally {
      cb.close();
    }
  });

  test("a callback that closes the library: the next entry throws naming its index, and is not called", () => {
    for (const runs of [1, 2]) {
      const L = dlopen(fixturePath(), DEFS);
      let closeAt = -1;
      const cb = new JSCallback((x) => {
        if (x === closeAt) L.close();
        return x;
      }, { args: ["i32"], returns: "i32" });
      try {
        const b = batch();
        for (let i = 0; i < 100; i++) b.add(L.symbols.call_i32_fn, cb.ptr, i);
        if (runs === 2) b.run(); // the second run is from the native buffer
        closeAt = 40;
        assert.throws(() => b.run(), { message: /^batch entry 41: Cannot call "call_i32_fn": its library ".*" is closed/ });
      } finally {
        cb.close();
      }
    }
  });

  test("a callback that adds to the running batch: the entry runs next time", () => {
    const b = batch();
    const cb = new JSCallback((x) => {
      if (x === 3) b.add(S.identity_i32, 99);
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      for (let i = 0; i < 8; i++) b.add(S.call_i32_fn, cb.ptr, i);
      assert.deepEqual(b.run(), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(b.length, 9);
      assert.deepEqual(b.run(), [0, 1, 2, 3, 4, 5, 6, 7, 99]);
    } finally {
      cb.close();
    }
  });

  test("stopOn and errno still see each entry (no runs through the loop)", () => {
    const b = batch({ stopOn: "negative" });
    for (let i = 0; i < 50; i++) b.add(S.identity_i32, i === 20 ? -1 : i);
    const r = b.run();
    assert.equal(r.stoppedAt, 20);
    assert.equal(r[21], undefined);
    const again = b.run();
    assert.equal(again.stoppedAt, 20);
  });
});
