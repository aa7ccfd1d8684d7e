"use strict";
// A program's setters on Array.prototype's indexes never run inside the
// package, and never take what it stores: JSCallback's definition cache
// (lib/index.js) and a batch's function list and results (lib/batch.js)
// store only into own elements. Each case runs in a child process: the
// setters would disturb node:test itself.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const { fixturePath } = require("./helpers/fixture");

const FIX = fixturePath();
const ROOT = require.resolve("..");

function child(body) {
  const script = `
    const ffi = require(${JSON.stringify(ROOT)});
    const S = ffi.dlopen(${JSON.stringify(FIX)}, { add_i32: { args: ["i32", "i32"], returns: "i32" },
      add_f64: { args: ["f64", "f64"], returns: "f64" }, add_i64: { args: ["i64", "i64"], returns: "i64" } }).symbols;
    let ran = ""; // a string: recording into an array would run the setters again
    // (Node's own async_hooks stores into an array when a promise job runs: not ours, not counted.)
    const arm = () => { for (const owner of [Array.prototype, Object.prototype]) for (let i = 0; i < 8; i++)
      Object.defineProperty(owner, i, { set(v) { if (!new Error().stack.includes("node:internal/async_hooks")) ran += (owner === Array.prototype ? "A" : "O") + i + " "; }, configurable: true }); };
    const disarm = () => { for (const owner of [Array.prototype, Object.prototype]) for (let i = 0; i < 8; i++) delete owner[i]; };
    const report = (label, value) => { const seen = ran.trim(); ran = ""; disarm(); console.log(label + " " + JSON.stringify(value) + " setters:" + seen); arm(); };
    arm();
    ${body}
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split("\n");
}

test("new JSCallback: no Array.prototype index setter runs, the callback works", () => {
  const out = child(`
    const defs = Array.from({ length: 10 }, () => ({ args: ["i32", "i32"], returns: "i32" })); // more than the cache holds
    const cbs = defs.map((d) => new ffi.JSCallback((a, b) => a + b, d));
    report("made", cbs.every((cb) => typeof cb.ptr === "number" && cb.ptr !== 0));
    const call = ffi.CFunction({ ptr: cbs[9].ptr, args: ["i32", "i32"], returns: "i32" });
    report("called", call(20, 22));
    for (const cb of cbs) cb.close();
  `);
  assert.deepEqual(out, ["made true setters:", "called 42 setters:"]);
});

test("batch add/run: no Array.prototype index setter runs, results are the calls'", () => {
  const out = child(`
    const b = ffi.batch();
    b.add(S.add_i32, 1, 2); b.add(S.add_i32, 3, 4);
    report("run", b.run());
    report("again", b.run());
    const mixed = ffi.batch(); // more functions than the list's first slots, results of every kind
    for (let k = 0; k < 6; k++) { mixed.add(S.add_i32, k, 1); mixed.add(S.add_f64, k, 0.5); mixed.add(S.add_i64, BigInt(k), 1n); }
    report("mixed", mixed.run().map(String).join(","));
    mixed.clear(); mixed.add(S.add_f64, 1, 1); report("cleared", mixed.run());
    const n = ffi.batch(); for (let k = 0; k < 70000; k++) n.add(S.add_i32, k, 1);
    const big = n.run(); report("large", [big.length, big[0], big[69999], Object.hasOwn(big, 5)]);
    const mid = ffi.batch(); for (let k = 0; k < 2000; k++) mid.add(S.add_i32, k, 1); // setters at high indexes, and on a swapped-in prototype
    let high = 0; Object.defineProperty(Array.prototype, 1500, { set(v) { high++; }, configurable: true });
    const other = { __proto__: Object.prototype }; Object.defineProperty(other, 1600, { set(v) { high++; }, configurable: true });
    const midRun = mid.run(); const swapped = Object.setPrototypeOf(Array.prototype, other) && mid.run();
    Object.setPrototypeOf(Array.prototype, Object.prototype); delete Array.prototype[1500];
    report("mid", [midRun[1500], swapped[1600], Object.hasOwn(swapped, 1600), high]);
    const staged = ffi.batch(); staged.add(S.add_i32, 5, 5); // moved into a native buffer by a chained entry
    staged.add(S.add_i32, staged.result(0), 1); staged.add(S.add_i32, 1, 2);
    report("native", staged.run());
  `);
  const mixed = [];
  for (let k = 0; k < 6; k++) mixed.push(k + 1, k + 0.5, k + 1);
  assert.deepEqual(out, ["run [3,7] setters:", "again [3,7] setters:", `mixed ${JSON.stringify(mixed.join(","))} setters:`,
    "cleared [2] setters:", "large [70000,1,70000,true] setters:", "mid [1501,1601,true,0] setters:", "native [10,11,3] setters:"]);
});

test("batch run({ into }) and stopOn: no setter runs, into receives the results", () => {
  const out = child(`
    const b = ffi.batch(); b.add(S.add_i32, 1, 2); b.add(S.add_i32, 3, 4); b.add(S.add_i32, 5, 6);
    const into = [];
    report("into", b.run({ into }) === into && into);
    report("shorter", b.run({ into: [9] }));
    const holes = new Array(3); // holes inside its length: each store would be a setter's
    report("holes", b.run({ into: holes }) === holes && [holes, [0, 1, 2].every((i) => Object.hasOwn(holes, i))]);
    const sparse = [9, , 9, , 9]; // longer than the batch, a hole kept by the cut
    report("sparse", b.run({ into: sparse }) === sparse && [sparse, Object.hasOwn(sparse, 1)]);
    const stop = ffi.batch({ stopOn: "nonzero" }); stop.add(S.add_i32, 0, 0); stop.add(S.add_i32, 1, 0); stop.add(S.add_i32, 2, 0);
    const r = stop.run(); report("stopped", [r.stoppedAt, r.length, r[0], r[1], r[2] === undefined, Object.hasOwn(r, 2)]);
  `);
  assert.deepEqual(out, ["into [3,7,11] setters:", "shorter [3,7,11] setters:", "holes [[3,7,11],true] setters:",
    "sparse [[3,7,11],true] setters:", "stopped [1,3,0,1,true,true] setters:"]);
});

test("sym.map and batch.runAsync: no setter runs", () => {
  const out = child(`
    report("map", Array.from(S.add_i32.map(3, new Int32Array([1, 2, 3]), 10)));
    const b = ffi.batch(); b.add(S.add_i32, 1, 2); b.add(S.add_i32, 3, 4);
    b.runAsync().then((r) => report("async", r));
  `);
  assert.deepEqual(out, ["map [11,12,13] setters:", "async [3,7] setters:"]);
});
