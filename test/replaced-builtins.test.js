"use strict";
// Built-ins the addon takes from JS when it loads (worker_threads.markAsUntransferable,
// ArrayBuffer.prototype.resizable's getter) may be a program's own replacements, installed
// before require. Their JS runs when an async call or batch().runAsync() checks its buffers;
// it must run before any argument's memory is taken, so that a buffer it detaches is refused
// rather than handed to C on a pool thread (which would write memory the buffer's new owner
// frees). Each case runs in a fresh node, since the replacement must precede the first require.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { buildFixture } = require("./helpers/fixture");
const { timeScale } = require("./helpers/platform");

const ROOT = path.join(__dirname, "..");
const FIX = buildFixture("async.c");

// `before` runs ahead of the first require; `body` (async) sees ffi, S and report(result).
function runChild(before, body) {
  const code = `
    ${before}
    const ffi = require(${JSON.stringify(ROOT)});
    const S = ffi.dlopen(${JSON.stringify(FIX)}, { async_fill_check: { args: ["ptr", "i32", "i32", "i32"], returns: "i32" } }).symbols;
    (async () => { ${body} })().then(
      (value) => console.log(JSON.stringify({ value })),
      (error) => console.log(JSON.stringify({ error: error.message })));
  `;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", timeout: timeScale(20000) });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// The replacement moves the buffer it is given to a new ArrayBuffer (kept in `moved`), then
// marks it as the real one would. Without the fix C filled `moved`'s memory.
const TRANSFERS_ITS_BUFFER = `
  const wt = require("node:worker_threads");
  const real = wt.markAsUntransferable;
  let moved;
  wt.markAsUntransferable = (b) => { if (!moved) moved = structuredClone(b, { transfer: [b] }); real(b); };
`;
const detachedRefused = /args\[0\].*detached/;

test("sym.async: a replaced markAsUntransferable that detaches the buffer: the call is refused, C never writes the moved memory", () => {
  const r = runChild(TRANSFERS_ITS_BUFFER, `
    const buf = new Uint8Array(64);
    try { return await S.async_fill_check.async(buf, 64, 7, 20); }
    finally { if (new Uint8Array(moved).some((v) => v !== 0)) throw new Error("C wrote the moved buffer"); }
  `);
  assert.match(r.error ?? `resolved ${r.value}`, detachedRefused);
  assert.match(r.error, /^async_fill_check: args\[0\] expects ptr .*its ArrayBuffer is detached/);
});

test("batch().runAsync(): a replaced markAsUntransferable that detaches an entry's buffer: the run is refused naming the entry", () => {
  const r = runChild(TRANSFERS_ITS_BUFFER, `
    const b = ffi.batch();
    b.add(S.async_fill_check, new Uint8Array(64), 64, 7, 20);
    try { return await b.runAsync(); }
    finally { if (new Uint8Array(moved).some((v) => v !== 0)) throw new Error("C wrote the moved buffer"); }
  `);
  assert.match(r.error ?? `resolved ${r.value}`, /^batch entry 0: async_fill_check: args\[0\] \(ptr\): its ArrayBuffer was detached/);
});

test("sym.async: a replaced ArrayBuffer.prototype.resizable getter that detaches the buffer: refused", () => {
  const r = runChild(`
    let moved;
    Object.defineProperty(ArrayBuffer.prototype, "resizable", {
      configurable: true,
      get() { if (!moved) moved = structuredClone(this, { transfer: [this] }); return false; },
    });
  `, `
    const buf = new Uint8Array(64);
    try { return await S.async_fill_check.async(buf, 64, 7, 20); }
    finally { if (moved && new Uint8Array(moved).some((v) => v !== 0)) throw new Error("C wrote the moved buffer"); }
  `);
  assert.match(r.error ?? `resolved ${r.value}`, /^async_fill_check: args\[0\] expects ptr .*its ArrayBuffer is detached/);
});

test("with the real built-ins the same calls run", () => {
  const r = runChild("", `
    const b = ffi.batch();
    b.add(S.async_fill_check, new Uint8Array(64), 64, 7, 0);
    return [await S.async_fill_check.async(new Uint8Array(64), 64, 7, 0), ...(await b.runAsync())];
  `);
  assert.deepEqual(r, { value: [0, 0] });
});
