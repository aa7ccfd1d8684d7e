"use strict";
// batch() without crossings before run() (issue 21, docs/batch.md "Cost"):
// a batch whose entries are all staged runs from the stage in run()'s one
// crossing (no native object); one that loses the stage to another keeps its
// entries bit for bit (or in a native buffer when large); functions
// shared by interleaved batches keep their own indexes per batch; the
// result words are shared by a thread's batches (large ones too); and
// run({ into }) fills a given array.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
// The addon as lib/batch.js sees it, with its batch methods counted: put in
// require's cache before the package loads (each test file is a process).
const NATIVE = require.resolve("../lib/native.js");
const addon = require(NATIVE);
const counted = Object.create(addon);
let calls = null; // the batch methods called while counting
for (const name of Object.getOwnPropertyNames(addon).filter((k) => k.startsWith("batch"))) {
  const method = addon[name];
  const value = function (...args) {
    if (calls !== null) calls.push(name);
    return Reflect.apply(method, this, args);
  };
  Object.defineProperty(counted, name, { value }); // the addon's own are read-only
}
require.cache[NATIVE].exports = counted;
const { dlopen, batch, JSCallback } = require("..");
const { fixturePath } = require("./helpers/fixture");
const FIX = fixturePath();
const DEFS = {
  identity_i32: { args: ["i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  add_f64: { args: ["f64", "f64"], returns: "f64" },
  identity_u64: { args: ["u64"], returns: "u64" },
  call_i32_fn: { args: ["function", "i32"], returns: "i32" },
  void_fn: { args: [], returns: "void" },
  void_fn_calls: { args: [], returns: "i32" },
};
const S = dlopen(FIX, DEFS).symbols;

// The addon's batch methods called while f runs.
function nativeCalls(f) {
  calls = [];
  try {
    f();
    return calls;
  } finally {
    calls = null;
  }
}

function fillMixed(b) {
  for (let k = 0; k < 4; k++) {
    b.add(S.identity_i32, 0 - k);
    b.add(S.add_i32, k, 2);
    b.add(S.add_f64, k, 0.5);
    b.add(S.identity_u64, 7n);
  }
}
const MIXED = [];
for (let k = 0; k < 4; k++) MIXED.push(0 - k, k + 2, k + 0.5, 7n);

describe("batch(): staged entries cross once", () => {
  test("a new batch of staged entries makes one native call in all: run(), from the stage (no native object)", () => {
    const warm = batch(); // each function's stage kinds are asked once per thread
    fillMixed(warm);
    warm.run();
    let results;
    const calls = nativeCalls(() => {
      const b = batch();
      fillMixed(b);
      results = b.run();
    });
    assert.deepEqual(calls, ["batchRunStaged"]);
    assert.deepEqual(results, MIXED);
  });

  test("run() again moves the entries to a native buffer once, then crosses once per run; clear() + refill too", () => {
    const b = batch();
    fillMixed(b);
    b.run();
    assert.deepEqual(nativeCalls(() => assert.deepEqual(b.run(), MIXED)), ["batchNew", "batchRun"]);
    assert.deepEqual(nativeCalls(() => assert.deepEqual(b.run(), MIXED)), ["batchRun"]);
    const calls = nativeCalls(() => {
      b.clear();
      fillMixed(b);
      assert.deepEqual(b.run(), MIXED);
    });
    assert.deepEqual(calls, ["batchClear", "batchRun"]);
    const fresh = batch();
    fillMixed(fresh);
    fresh.run();
    const refilled = nativeCalls(() => {
      fresh.clear(); // no native side yet: nothing crosses
      fillMixed(fresh);
      assert.deepEqual(fresh.run(), MIXED);
    });
    assert.deepEqual(refilled, ["batchRunStaged"]);
    // With a native side (an entry the addon converts): clear() and run() cross.
    const cb = new JSCallback((x) => x, { args: ["i32"], returns: "i32" });
    try {
      const withNative = batch();
      withNative.add(S.call_i32_fn, cb, 6);
      fillMixed(withNative);
      assert.deepEqual(withNative.run(), [6, ...MIXED]);
      assert.deepEqual(nativeCalls(() => withNative.run()), ["batchRun"]);
      assert.deepEqual(nativeCalls(() => withNative.clear()), ["batchClear"]);
    } finally {
      cb.close();
    }
  });

  test("a batch that lost the stage keeps its entries bit for bit (a bigint whose bits are a NaN) and runs them again", () => {
    const NAN_BITS = 0xfff8000000000001n;
    const a = batch();
    a.add(S.identity_u64, NAN_BITS);
    a.add(S.identity_u64, 0x7ff0000000000001n);
    a.add(S.identity_i32, -7);
    assert.deepEqual(a.run(), [NAN_BITS, 0x7ff0000000000001n, -7]);
    const b = batch();
    b.add(S.identity_i32, 1); // takes the stage: a's entries are saved
    assert.deepEqual(a.run(), [NAN_BITS, 0x7ff0000000000001n, -7]); // its saved words, moved into a native buffer
    const c = batch();
    c.add(S.identity_u64, NAN_BITS);
    c.add(S.identity_i32, 8);
    const d = batch();
    d.add(S.identity_i32, 1); // takes the stage: c's entries are saved
    assert.deepEqual(nativeCalls(() => assert.deepEqual(c.run(), [NAN_BITS, 8])), ["batchRunStaged"]); // back in the stage
    a.add(S.add_i32, 1, 1); // a has the stage again, with its entries back
    assert.deepEqual(b.run(), [1]); // b's were saved in turn
    assert.deepEqual(a.run(), [NAN_BITS, 0x7ff0000000000001n, -7, 2]);
  });

  test("a large batch that loses the stage moves into a native buffer; runAsync() of a saved batch", async () => {
    const big = batch();
    for (let i = 0; i < 20000; i++) big.add(S.identity_i32, i);
    const small = batch();
    small.add(S.add_i32, 4, 5);
    const other = batch();
    other.add(S.identity_i32, 3); // both lose the stage: big moves to a native buffer, small is saved
    const results = big.run();
    assert.equal(results.length, 20000);
    assert.equal(results[19999], 19999);
    assert.deepEqual(await small.runAsync(), [9]);
    assert.deepEqual(small.run(), [9]);
    assert.deepEqual(other.run(), [3]);
  });

  test("a callback during a run from the stage: clear() throws, run() does not nest, add() runs next time", () => {
    // call_i32_fn bound with the callback's address as a u64: its entries are staged.
    const call_by_address = dlopen(FIX, { call_i32_fn: { args: ["u64", "i32"], returns: "i32" } }).symbols.call_i32_fn;
    const messages = [];
    let b;
    let adds = 0;
    const other = batch();
    other.add(S.identity_i32, 2);
    const cb = new JSCallback((x) => {
      for (const f of [() => b.clear(), () => b.run(), () => other.run()])
        try {
          f();
        } catch (e) {
          messages.push(e.message);
        }
      if (adds++ === 0) {
        b.add(S.identity_i32, 77); // appended to the stage being run: runs next time
        other.add(S.identity_i32, 3); // cannot take the stage now: converted by the addon
      }
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      b = batch();
      b.add(S.identity_i32, 1);
      b.add(call_by_address, cb.ptr, 9);
      assert.deepEqual(nativeCalls(() => assert.deepEqual(b.run(), [1, 9])).slice(0, 1), ["batchRunStaged"]);
      assert.equal(messages.length, 3);
      assert.match(messages[0], /clear\(\) was called while this batch runs/);
      assert.match(messages[1], /batches do not nest/);
      assert.match(messages[2], /batches do not nest/);
      assert.deepEqual(b.run(), [1, 9, 77]);
      assert.deepEqual(other.run(), [2, 3]);
      b.clear();
      assert.equal(b.length, 0);
    } finally {
      cb.close();
    }
  });
});

describe("batch(): run({ into })", () => {
  test("fills and returns the given array, its length set to the batch's", () => {
    const b = batch();
    fillMixed(b);
    const into = [];
    assert.equal(b.run({ into }), into);
    assert.deepEqual(into, MIXED);
    const longer = new Array(100).fill("old");
    assert.equal(b.run({ into: longer }), longer);
    assert.deepEqual(longer, MIXED);
    const again = b.run({ into });
    assert.equal(again, into);
    assert.deepEqual(into, MIXED);
    assert.deepEqual(b.run({ into: undefined }), MIXED);
    assert.deepEqual(b.run({}), MIXED);
  });

  test("stopOn and errno are set on the given array; entries not run are undefined", () => {
    const b = batch({ stopOn: "nonzero", errno: true });
    b.add(S.identity_i32, 0);
    b.add(S.identity_i32, 4);
    b.add(S.identity_i32, 5);
    const into = ["x", "y", "z", "w"];
    assert.equal(b.run({ into }), into);
    assert.deepEqual([...into], [0, 4, undefined]);
    assert.equal(into.stoppedAt, 1);
    assert.ok(into.errno instanceof Int32Array);
    assert.equal(into.errno.length, 3);
  });

  test("a large batch into a reused array", () => {
    const N = 100000;
    const b = batch();
    for (let i = 0; i < N; i++) b.add(S.identity_i32, i % 2 ? -i : i);
    const into = [];
    for (let run = 0; run < 2; run++) {
      assert.equal(b.run({ into }), into);
      assert.equal(into.length, N);
      assert.equal(into[N - 1], -(N - 1));
      assert.equal(into[12], 12);
    }
  });

  test("a setter on the given array that runs another batch does not change this batch's results", () => {
    // The result words are shared by the thread's batches: the setter's run
    // must not overwrite them while into is being filled.
    const other = batch();
    for (let k = 0; k < 4; k++) other.add(S.identity_i32, 1000 + k);
    for (const shape of ["accessor", "proxy"]) {
      const b = batch();
      for (let k = 0; k < 4; k++) b.add(S.identity_i32, k + 1);
      b.add(S.identity_u64, 0xffffffffffffffffn);
      let seen = null;
      let into = [];
      if (shape === "accessor") {
        let kept;
        Object.defineProperty(into, 0, { set(v) { kept = v; seen = other.run(); }, get: () => kept, configurable: true });
      } else {
        into = new Proxy([], { set(target, key, v) { if (key === "0") seen = other.run(); target[key] = v; return true; } });
      }
      assert.equal(b.run({ into }), into);
      assert.deepEqual([...into], [1, 2, 3, 4, 0xffffffffffffffffn], shape);
      assert.deepEqual(seen, [1000, 1001, 1002, 1003], shape);
    }
  });

  test("a frozen, sealed or non-extensible array, or one whose length is read-only: TypeError before anything runs", () => {
    let calls = 0;
    const cb = new JSCallback((x) => (calls++, x), { args: ["i32"], returns: "i32" });
    try {
      const readOnlyLength = [];
      Object.defineProperty(readOnlyLength, "length", { writable: false });
      const cases = [
        ["frozen", Object.freeze([1, 2])],
        ["sealed", Object.seal([1, 2, 3, 4])],
        ["non-extensible", Object.preventExtensions([1])],
        ["read-only length", readOnlyLength],
      ];
      for (const [what, into] of cases) {
        const b = batch();
        b.add(S.call_i32_fn, cb, 1);
        b.add(S.identity_i32, 2);
        assert.throws(() => b.run({ into }), { name: "TypeError", message: new RegExp(`into must be an extensible Array with a writable length, received a ${what} array`) }, what);
        assert.equal(calls, 0, what);
        assert.deepEqual(b.run(), [1, 2]);
        calls = 0;
      }
    } finally {
      cb.close();
    }
  });

  test("an element it cannot write (read-only, getter-only), one it cannot delete past the batch's length, a read-only stoppedAt: TypeError before anything runs", () => {
    // Filling into once the calls were made threw there (a strict-mode store), after every call had run.
    let calls = 0;
    const cb = new JSCallback((x) => (calls++, x), { args: ["i32"], returns: "i32" });
    try {
      const readOnly = [0, 0];
      Object.defineProperty(readOnly, 0, { value: 1, writable: false });
      const getterOnly = [0, 0];
      Object.defineProperty(getterOnly, 1, { get: () => 1, configurable: true });
      const readOnlyPast = [0];
      Object.defineProperty(readOnlyPast, 1, { value: 1, writable: false, configurable: false });
      const undeletable = [0, 0, 0, 0];
      Object.defineProperty(undeletable, 3, { value: 1, configurable: false });
      const stoppedAt = [];
      Object.defineProperty(stoppedAt, "stoppedAt", { value: 5, writable: false });
      const typedStoppedAt = new Int32Array(2);
      Object.defineProperty(typedStoppedAt, "stoppedAt", { value: 5, writable: false });
      const cases = [
        ["read-only element", readOnly, undefined, /Cannot assign to read only property '0'/],
        ["getter-only element", getterOnly, undefined, /only a getter/],
        ["read-only element past its length", readOnlyPast, undefined, /read only property '1'/],
        ["undeletable element past the batch's length", undeletable, undefined, /Cannot delete property '3'/],
        ["read-only stoppedAt", stoppedAt, { stopOn: "negative" }, /read only property 'stoppedAt'/],
        ["a TypedArray's read-only stoppedAt", typedStoppedAt, { stopOn: "negative" }, /read only property 'stoppedAt'/],
      ];
      for (const [what, into, options, reason] of cases) {
        for (const staged of [true, false]) {
          const b = batch(options);
          if (staged) b.add(S.identity_i32, 1); // staged: no native side
          else b.add(S.call_i32_fn, cb, 1);
          b.add(S.identity_i32, 2);
          b.add(S.void_fn); // counted by the fixture
          const voidCalls = S.void_fn_calls();
          assert.throws(() => b.run({ into }), (e) => e instanceof TypeError && /^batch\.run\(\): into cannot take the results \(/.test(e.message) &&
            reason.test(e.message) && /nothing was called$/.test(e.message), what);
          assert.equal(calls, 0, what);
          assert.equal(S.void_fn_calls(), voidCalls, what);
          assert.deepEqual([...b.run()], [1, 2, undefined], what);
          calls = 0;
        }
      }
    } finally {
      cb.close();
    }
  });

  test("a setter of into's that adds an entry while into is made ready: the entry runs in this run", () => {
    // into is made ready before any call, so its setters run before the run starts.
    const b = batch();
    b.add(S.identity_i32, 1);
    b.add(S.identity_i32, 2);
    const into = [0, 0];
    let added = false;
    let kept;
    Object.defineProperty(into, 0, {
      set(v) { kept = v; if (!added) { added = true; b.add(S.identity_i32, 3); } },
      get: () => kept, configurable: true,
    });
    assert.equal(b.run({ into }), into);
    assert.deepEqual([...into], [1, 2, 3]);
    assert.deepEqual(b.run(), [1, 2, 3]);
  });

  test("bad options: TypeError naming what was received, nothing run", () => {
    let calls = 0;
    const cb = new JSCallback((x) => (calls++, x), { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(S.call_i32_fn, cb, 1);
      assert.throws(() => b.run(null), { name: "TypeError", message: /batch\.run\(\) expects an options object .*received null/ });
      assert.throws(() => b.run(3), { name: "TypeError", message: /received number/ });
      // A TypedArray is taken (typed results: test/batch-typed.test.js); a DataView is not.
      assert.throws(() => b.run({ into: new DataView(new ArrayBuffer(4)) }), { name: "TypeError", message: /into must be an Array or a TypedArray, received DataView/ });
      assert.throws(() => b.run({ into: {} }), { name: "TypeError", message: /into must be an Array or a TypedArray, received object/ });
      assert.throws(() => b.run({ into: null }), { name: "TypeError", message: /into must be an Array or a TypedArray, received null/ });
      assert.equal(calls, 0);
      assert.deepEqual(b.run(), [1]);
    } finally {
      cb.close();
    }
  });
});

describe("batch(): add()'s shortest path (the same one-argument function again)", () => {
  test("numbers, then a bigint, a boolean, another function, clear() and another batch between: the single calls' results", () => {
    const D = dlopen(FIX, { identity_i64: { args: ["i64"], returns: "i64" }, identity_bool: { args: ["bool"], returns: "bool" } }).symbols;
    const a = batch();
    const b = batch();
    a.add(S.identity_i32, 1.9);
    a.add(S.identity_i32, -(2 ** 31) - 1); // ToInt32 on the shortest path too
    a.add(S.identity_i32, true);
    a.add(D.identity_i64, 2 ** 53);
    a.add(D.identity_i64, -(2n ** 63n));
    a.add(D.identity_i64, -5);
    b.add(S.identity_i32, 7); // b takes the stage: a's entries are saved
    a.add(D.identity_i64, 6); // a takes it back
    a.add(D.identity_bool, 2);
    a.add(D.identity_bool, 0);
    a.add(S.identity_i32, 3);
    assert.deepEqual(a.run(), [1, 2147483647, 1, 2n ** 53n, -(2n ** 63n), -5n, 6n, true, false, 3]);
    assert.deepEqual(b.run(), [7]);
    a.clear();
    a.add(D.identity_i64, 8); // after clear(): its index in the new list
    a.add(S.identity_i32, 9);
    a.add(S.identity_i32, 10);
    assert.deepEqual(a.run(), [8n, 9, 10]);
    assert.deepEqual(a.run({ results: "array" }), [8n, 9, 10]);
  });
});

describe("batch(): a bool argument takes a bigint by its truth", () => {
  // 2n ** 64n is true for the single call (and Bun 1.4.5), though its low
  // 64 bits are 0: staging it as its bits made the batch's entry false.
  test("on add()'s shortest path, its wide path and its general one: the single calls' results", () => {
    const D = dlopen(FIX, { identity_bool: { args: ["bool"], returns: "bool" }, add_bool: { args: ["bool", "bool"], returns: "bool" },
      bool_to_int: { args: ["bool"], returns: "i32" } }).symbols;
    const values = [2n ** 64n, -(2n ** 64n), 2n ** 100n, 0n, 1n, 2n ** 63n];
    const singles = values.map((v) => D.identity_bool(v));
    assert.deepEqual(singles, [true, true, true, false, true, true]);
    const b = batch();
    for (const v of values) b.add(D.identity_bool, v); // the shortest path
    for (const v of values) b.add(D.add_bool, v, 0n); // the wide path (two arguments)
    for (const v of values) b.add(D.bool_to_int, v);
    assert.deepEqual(b.run(), [...singles, ...singles, ...singles.map(Number)]);
    const c = batch();
    c.add(D.add_bool, 0, 2n ** 64n);
    c.add(D.add_bool, false, -(2n ** 64n));
    assert.deepEqual(c.run(), [true, true]);
  });
});

describe("batch({ size })", () => {
  test("the stage grows once to the size asked for instead of doubling as entries come", () => {
    const N = 150000; // more than the stage holds after any earlier test here (3 words an entry below)
    const count = (options) => {
      for (let k = 0; k < 70; k++) { // 64 small batches in a row shrink the stage back
        const small = batch();
        small.add(S.add_i32, 1, 2);
        small.run();
      }
      const b = batch(options);
      const stages = nativeCalls(() => {
        for (let i = 0; i < N; i++) b.add(S.add_i32, i, 1);
      }).filter((name) => name === "batchStage").length;
      assert.equal(b.run()[N - 1], N);
      b.clear();
      return stages;
    };
    assert.equal(count({ size: N }), 1);
    assert.ok(count(undefined) >= 5); // 64 KiB doubled to 3.6 MB
    assert.equal(count({ size: 0 }), count(undefined));
  });

  test("size must be a non-negative integer", () => {
    for (const [size, received] of [[-1, "-1"], [1.5, "1.5"], ["9", "string"], [null, "null"], [NaN, "NaN"]])
      assert.throws(() => batch({ size }), { name: "TypeError", message: `batch(): size must be a non-negative integer (the entries expected), received ${received}` });
    assert.equal(batch({ size: undefined }).length, 0);
  });
});
