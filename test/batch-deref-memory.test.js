"use strict";
// b.deref(view): the batch keeps the view it reads alive, as it keeps every
// view passed as an argument (docs/batch.md), and refuses to run once that
// memory was detached or shrunk. It kept only the address: a view held by
// nothing else was collected and its memory reused, so a batch built once
// and run again read freed memory (wrong values, a use-after-free under ASan).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const v8 = require("node:v8");
const vm = require("node:vm");
const { dlopen, batch } = require("..");
const { LIBC } = require("./helpers/platform.js");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
const S = dlopen(LIBC, {
  abs: { args: ["i32"], returns: "i32" },
  labs: { args: ["i64"], returns: "i64" },
}).symbols;

const turn = () => new Promise((resolve) => setImmediate(resolve));

test("a view given only to b.deref() lives as long as the batch", async () => {
  const b = batch();
  b.add(S.abs, b.deref(new Int32Array([-7]), "i32"));
  b.add(S.labs, b.deref(new BigInt64Array([-123456789n]), "i64"));
  b.add(S.abs, b.deref(new Int32Array([-11]).buffer, "i32"));
  assert.deepEqual(b.run(), [7, 123456789n, 11]);
  for (let round = 0; round < 4; round++) {
    await turn(); // past ptr()'s own keep-alive of recent views
    gc({ type: "minor" });
    gc();
    const churn = [];
    for (let i = 0; i < 20000; i++) churn.push(new Int32Array([0x5a5a5a5a, i]));
    assert.deepEqual(b.run(), [7, 123456789n, 11], `round ${round}`);
  }
});

test("b.deref() of memory detached or shrunk after add() refuses the run, naming the entry", () => {
  for (const shape of ["ArrayBuffer", "view", "resizable"]) {
    const buffer = shape === "resizable" ? new ArrayBuffer(8, { maxByteLength: 16 }) : new ArrayBuffer(8);
    new Int32Array(buffer)[0] = -3;
    const b = batch();
    b.add(S.abs, -1);
    b.add(S.abs, b.deref(shape === "view" ? new Int32Array(buffer) : buffer, "i32"));
    assert.deepEqual(b.run(), [1, 3]);
    if (shape === "resizable") buffer.resize(0);
    else structuredClone(buffer, { transfer: [buffer] });
    assert.throws(() => b.run(), (error) => {
      assert.equal(error.name, "TypeError");
      assert.equal(error.entry, 1);
      assert.match(error.message, /^batch entry 1: args\[0\]: the memory b\.deref\(\) reads was detached or shrunk after add\(\); nothing was called$/);
      return true;
    }, shape);
    b.clear(); // forgets the view with its entry
    b.add(S.abs, -2);
    assert.deepEqual(b.run(), [2]);
  }
});

test("a view that grows, or a plain address, still runs", () => {
  const buffer = new ArrayBuffer(4, { maxByteLength: 64 });
  new Int32Array(buffer)[0] = -9;
  const b = batch();
  b.add(S.abs, b.deref(buffer, "i32"));
  buffer.resize(64);
  assert.deepEqual(b.run(), [9]);
});

test("b.deref() of memory a callback detaches or shrinks during the run: the entry that reads it throws, naming it", () => {
  // The memory was checked before the run only: a callback of an earlier
  // entry could detach it, and the entry then read the freed memory.
  const { JSCallback } = require("..");
  const { fixturePath } = require("./helpers/fixture");
  const F = dlopen(fixturePath(), { call_i32_fn: { args: ["function", "i32"], returns: "i32" } }).symbols;
  for (const shape of ["ArrayBuffer", "view", "resizable"]) {
    const buffer = shape === "resizable" ? new ArrayBuffer(8, { maxByteLength: 16 }) : new ArrayBuffer(8);
    new Int32Array(buffer)[0] = -3;
    let detach = false;
    const cb = new JSCallback((x) => {
      if (detach) {
        if (shape === "resizable") buffer.resize(0);
        else structuredClone(buffer, { transfer: [buffer] });
      }
      return x;
    }, { args: ["i32"], returns: "i32" });
    try {
      const b = batch();
      b.add(F.call_i32_fn, cb, 5);
      b.add(S.abs, b.deref(shape === "view" ? new Int32Array(buffer) : buffer, "i32"));
      b.add(S.abs, -4);
      assert.deepEqual(b.run(), [5, 3, 4], shape);
      detach = true;
      assert.throws(() => b.run(), (error) => {
        assert.equal(error.name, "TypeError");
        assert.equal(error.entry, 1);
        assert.match(error.message, /^batch entry 1: args\[0\]: the memory b\.deref\(\) reads was detached or shrunk during the run \(by a callback\?\); this entry was not called$/);
        return true;
      }, shape);
    } finally {
      cb.close();
    }
  }
});
