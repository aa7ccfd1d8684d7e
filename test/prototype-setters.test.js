"use strict";
// A program's setters on Array.prototype's indexes never run inside the
// package, and never take what it stores: JSCallback's definition cache
// (lib/index.js) stores only into own elements. (A batch's function list
// and results, lib/batch.js, still store into holes: not yet covered.) Each case runs in a child process: the
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
    const S = ffi.dlopen(${JSON.stringify(FIX)}, { add_i32: { args: ["i32", "i32"], returns: "i32" } }).symbols;
    let ran = ""; // a string: recording into an array would run the setters again
    const arm = () => { for (const owner of [Array.prototype, Object.prototype]) for (let i = 0; i < 8; i++)
      Object.defineProperty(owner, i, { set(v) { ran += (owner === Array.prototype ? "A" : "O") + i + " "; }, configurable: true }); };
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
