"use strict";
// The addon loaded more than once in one thread: `delete require.cache[...]`
// then require again, or process.dlopen into another module object. Node
// makes a new napi_env for each load, so each copy has its own state
// (cffi_env_state) and its own lib/batch.js. Before, the batch and map state
// lived in thread-locals that each load reset: the second load aborted the
// process (map_jit.c added the same cleanup hook twice: Node's
// "CleanupQueue::Add ... Assertion failed"), and once past that, a copy's
// batches ran from another copy's stage and wrote into its result words
// (measured with only the hook fixed: copy 0's batch gave [undefined x3]).
// Each case is a child process.
const { test } = require("node:test");
const assert = require("node:assert");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { buildFixture } = require("./helpers/fixture");
const { addonCandidates } = require("../lib/addon-path.js");

const ROOT = path.join(__dirname, "..");
const TIME_SCALE = Number(process.env.CFFI_BUN_TIME_SCALE) || 1;
const ADDON = addonCandidates().find((c) => require("node:fs").existsSync(c.file)).file;

function runChild(source, ...args) {
  const child = spawnSync(process.execPath, ["--expose-gc", "-e", source, ROOT, ADDON, buildFixture("fixture.c"), ...args], {
    encoding: "utf8",
    timeout: 60000 * TIME_SCALE,
  });
  assert.strictEqual(child.signal, null, `killed by ${child.signal}\n${child.stderr}`);
  assert.strictEqual(child.status, 0, `exit ${child.status}\n${child.stderr}`);
  return child.stdout;
}

// Requires the whole package afresh: lib/*.js and the .node file.
const PRELUDE = `
const [root, addonFile, fixture] = process.argv.slice(1);
const assert = require("node:assert");
function freshPackage() {
  for (const key of Object.keys(require.cache)) if (key.startsWith(root)) delete require.cache[key];
  return require(root);
}
const SYMBOLS = {
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  identity_f64: { args: ["f64"], returns: "f64" },
};
`;

test("the package required afresh five times in one thread: every copy calls, batches and maps on its own", () => {
  const out = runChild(`${PRELUDE}
const copies = [];
for (let i = 0; i < 5; i++) {
  const ffi = freshPackage();
  copies.push({ ffi, lib: ffi.dlopen(fixture, SYMBOLS) });
}
assert.notStrictEqual(copies[0].ffi, copies[1].ffi);
// Interleaved: each copy stages a batch while the others stage theirs.
const batches = copies.map(({ ffi, lib }, i) => {
  const b = ffi.batch();
  for (let k = 0; k < 3 + i; k++) b.add(lib.symbols.add_i32, 100 * i, k);
  return b;
});
batches.forEach((b, i) => {
  const expected = Array.from({ length: 3 + i }, (_, k) => 100 * i + k);
  assert.deepStrictEqual(b.run(), expected, "copy " + i + "'s staged batch");
  assert.deepStrictEqual(b.run(), expected, "copy " + i + "'s batch run again");
});
// A batch of the first copy built while the last one runs its own.
const first = copies[0], last = copies[4];
const outer = first.ffi.batch();
outer.add(first.lib.symbols.add_i32, 1, 2);
const inner = last.ffi.batch();
inner.add(last.lib.symbols.identity_f64, 2.5);
inner.add(last.lib.symbols.add_i32, 7, 8);
assert.deepStrictEqual(inner.run(), [2.5, 15]);
assert.deepStrictEqual(outer.run(), [3]);
// map on every copy, past the size that compiles a loop (TinyCC's, where there is one).
for (const [i, { lib }] of copies.entries()) {
  const column = Int32Array.from({ length: 300 }, (_, k) => k);
  const mapped = lib.symbols.add_i32.map(column.length, column, i);
  assert.strictEqual(mapped[299], 299 + i);
}
// Every copy's functions have sym.async (the prototype each copy's lib/batch.js gave).
for (const { lib } of copies) assert.strictEqual(typeof lib.symbols.add_i32.async, "function");
console.log("copies ok");
`);
  assert.match(out, /copies ok/);
});

test("the package's JS required afresh over one load of the .node (Jest's resetModules): each copy's batches run its own entries", () => {
  // Both copies' lib/batch.js register a stage and result words with the one
  // addon load; before, the copy registered last won and the other's staged
  // batch gave [undefined x3].
  const out = runChild(`${PRELUDE}
function freshScripts() {
  for (const key of Object.keys(require.cache)) if (key.startsWith(root) && !key.endsWith(".node")) delete require.cache[key];
  return require(root);
}
const a = freshScripts(), b = freshScripts();
assert.notStrictEqual(a, b);
const la = a.dlopen(fixture, SYMBOLS), lb = b.dlopen(fixture, SYMBOLS);
const staged = a.batch();
for (let k = 0; k < 3; k++) staged.add(la.symbols.add_i32, 10, k);
const other = b.batch();
other.add(lb.symbols.identity_f64, 2.5);
staged.add(la.symbols.add_i32, 10, 3);
assert.deepStrictEqual(other.run(), [2.5], "copy b's batch");
assert.deepStrictEqual(staged.run(), [10, 11, 12, 13], "copy a's staged batch, after copy b's ran");
assert.deepStrictEqual(other.run(), [2.5], "copy b's batch run again");
assert.deepStrictEqual(staged.run(), [10, 11, 12, 13], "copy a's batch run again");
// Built on the native side (past the stage), typed results, and run async.
const big = a.batch();
for (let k = 0; k < 5000; k++) big.add(la.symbols.add_i32, k, 1);
const small = b.batch();
small.add(lb.symbols.add_i32, 1, 1);
assert.deepStrictEqual(small.run({ results: "typed" }), Int32Array.of(2));
const got = big.run({ results: "typed" });
assert.strictEqual(got.length, 5000);
assert.strictEqual(got[4999], 5000);
Promise.all([big.runAsync(), small.runAsync()]).then(([x, y]) => {
  assert.strictEqual(x[0], 1);
  assert.deepStrictEqual(y, [2]);
  console.log("js copies ok");
});
`);
  assert.match(out, /js copies ok/);
});

test("the package required afresh twelve times adds one 'exit' listener, not one per load (no MaxListenersExceededWarning)", () => {
  const child = spawnSync(process.execPath, ["-e", `${PRELUDE}
for (let i = 0; i < 12; i++) freshPackage();
console.log("exit listeners " + process.listenerCount("exit"));
`, ROOT, ADDON, buildFixture("fixture.c")], { encoding: "utf8", timeout: 60000 * TIME_SCALE });
  assert.strictEqual(child.status, 0, child.stderr);
  assert.match(child.stdout, /exit listeners 1\n/);
  assert.doesNotMatch(child.stderr, /MaxListenersExceeded/);
});

test("the .node loaded 300 times with process.dlopen in one thread: no crash, and bounded native growth per load", () => {
  const out = runChild(`${PRELUDE}
const os = require("node:os");
function load() {
  const module = { exports: {} };
  process.dlopen(module, addonFile, os.constants.dlopen.RTLD_NOW);
  const addon = module.exports;
  const lib = addon.dlopen(fixture, SYMBOLS);
  assert.strictEqual(lib.symbols.add_i32(2, 3), 5);
  lib.close();
}
function rss() { gc(); gc(); return process.memoryUsage().rss; }
for (let i = 0; i < 50; i++) load();
const before = rss();
for (let i = 0; i < 250; i++) load();
console.log("per load " + Math.round((rss() - before) / 250));
`);
  const perLoad = Number(/per load (-?\d+)/.exec(out)[1]);
  // Node keeps each load's napi_env, and so our per-env state, until the
  // thread's env ends: about 52 KB a load measured here on Node 20, 107 KB
  // on Node 26, with the second env each load makes for its finalizers
  // (src/base/finalizer_env.c; 48 and 95 KB without it; a bare Node-API
  // addon: ~2 KB on Node 20; most of ours is the hundreds of exported
  // functions each load makes, held with the env). A
  // bound against a leak of real size, not zero (RSS reads 0 under qemu:
  // then 0 passes); the
  // sanitizers' allocator keeps freed memory (160 KB a load), and their
  // leak pass (scripts/test-asan.sh) runs this file instead.
  if (process.env.CFFI_BUN_ASAN !== "1") assert.ok(perLoad < 192 * 1024, `each load grew RSS by ${perLoad} bytes`);
});
