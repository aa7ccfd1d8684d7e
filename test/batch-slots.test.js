"use strict";
// The addon's slots for functions whose entries are staged (issue 21,
// src/calls/batch_buffer.c's batch_slot): a staged run finds its functions
// by slot number, a function's slot is emptied when V8 collects it and is
// then given to another function. A batch must keep calling the functions
// it was given, whatever was freed or bound since.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const v8 = require("node:v8");
const vm = require("node:vm");
const { dlopen, batch } = require("..");
const { fixturePath } = require("./helpers/fixture");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
const FIX = fixturePath();

// A fresh binding of the fixture with the two functions in `order`.
function bind(order) {
  const defs = {};
  for (const name of order) {
    defs[name] = name === "add_i32" ? { args: ["i32", "i32"], returns: "i32" } : { args: ["f64", "f64"], returns: "f64" };
  }
  return dlopen(FIX, defs);
}

test("staged runs call their own functions while other functions' slots are freed and reused", () => {
  const keptLib = bind(["add_f64", "add_i32"]);
  const kept = batch();
  kept.add(keptLib.symbols.add_i32, 2, 3);
  kept.add(keptLib.symbols.add_f64, 0.25, 0.5);
  assert.deepEqual(kept.run(), [5, 0.75]);
  for (let round = 0; round < 20; round++) {
    // Bound in the other order each round, so a reused slot would hold the other function.
    const lib = bind(round % 2 ? ["add_i32", "add_f64"] : ["add_f64", "add_i32"]);
    const b = batch();
    b.add(lib.symbols.add_i32, round, 1);
    b.add(lib.symbols.add_f64, round, 0.5);
    assert.deepEqual(b.run(), [round + 1, round + 0.5]);
    b.clear();
    if (round % 4 === 3) gc();
    // kept lost the stage to b: its entries were saved, and run again from them.
    assert.deepEqual(kept.run(), [5, 0.75], `round ${round}`);
  }
  keptLib.close();
});

test("a batch built after many bindings were collected runs every function it lists", () => {
  for (let k = 0; k < 10; k++) bind(["add_i32", "add_f64"]).symbols.add_i32(1, 1);
  gc();
  const lib = bind(["add_i32", "add_f64"]);
  const b = batch();
  for (let i = 0; i < 8; i++) {
    b.add(lib.symbols.add_f64, i, 0.5);
    b.add(lib.symbols.add_i32, i, -1);
  }
  const expected = [];
  for (let i = 0; i < 8; i++) expected.push(i + 0.5, i - 1);
  assert.deepEqual(b.run(), expected);
  assert.deepEqual(b.run(), expected); // the second run moves it into a native buffer
  lib.close();
});
