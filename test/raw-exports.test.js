"use strict";
// The addon's raw exports (lib/native.js) are reachable by any JS that
// requires that file, not only by the shim: they must not crash or corrupt
// the process when called out of order or with memory that goes away.
// Each case runs in a child process, since the defect it guards was a read
// of freed memory.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const { fixturePath, buildFixture } = require("./helpers/fixture");

const FIX = fixturePath();
const FIRE = buildFixture("node-ffi.c"); // fire(i32): calls a stored callback, from a stageable entry
const ROOT = require.resolve("..");
const NATIVE = require.resolve("../lib/native.js");

// Runs `body` in a child with `native`, `ffi` and `S` (a few fixture functions); returns its stdout lines.
function child(body) {
  const prelude = `
    const native = require(${JSON.stringify(NATIVE)});
    const ffi = require(${JSON.stringify(ROOT)});
    const S = ffi.dlopen(${JSON.stringify(FIX)}, {
      add_i32: { args: ["i32", "i32"], returns: "i32" },
    }).symbols;
    const F = ffi.dlopen(${JSON.stringify(FIRE)}, {
      store_callback: { args: ["function"], returns: "void" },
      fire: { args: ["i32"], returns: "i32" },
    }).symbols;
    const say = (line) => console.log("> " + line); // the lines returned (a helper may load node:test, which prints too)
    const detach = (view) => structuredClone(view.buffer, { transfer: [view.buffer] });
    const attempt = (f) => { try { say(String(f())); } catch (e) { say(e.message); } };
  `;
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the child is no test of node:test's: plain stdout
  const r = spawnSync(process.execPath, ["-e", prelude + body], { encoding: "utf8", env });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((line) => line.startsWith("> ")).map((line) => line.slice(2));
}

describe("raw batchStage: the staging area it is given is found again each run", () => {
  // batchStage kept the array's data pointer: once that array was detached
  // (its memory freed), the next staged run or flush read freed memory.
  const DETACHED = "batchRunStaged: internal arguments malformed (staging area detached)";

  test("detached before a staged run: an error, nothing read from the freed memory", () => {
    const out = child(`
      const mine = new Float64Array(64);
      native.batchStage(mine);
      detach(mine);
      const b = ffi.batch();
      b.add(S.add_i32, 1, 2);
      attempt(() => b.run());
    `);
    assert.deepEqual(out, [DETACHED]);
  });

  test("detached by a callback during a staged run: the run stops after that entry", () => {
    const out = child(`
      const mine = new Float64Array(64);
      const cb = new ffi.JSCallback((x) => {
        if (x === 2) { native.batchStage(mine); detach(mine); }
        return x * 10;
      }, { args: ["i32"], returns: "i32" });
      F.store_callback(cb);
      const b = ffi.batch();
      for (let i = 1; i <= 4; i++) b.add(F.fire, i);
      attempt(() => b.run());
    `);
    assert.equal(out.length, 1);
    assert.match(out[0], /staging area detached/);
  });

  test("detached before a batch's entries move to its buffer: they are not read", () => {
    // Another batch taking the stage makes the first one's entries move (batchFlush).
    const out = child(`
      const mine = new Float64Array(64);
      const a = ffi.batch();
      a.add(S.add_i32, 1, 2);
      native.batchStage(mine);
      detach(mine);
      attempt(() => JSON.stringify(a.run()));
    `);
    assert.equal(out.length, 1);
    assert.match(out[0], /staging area detached|^\\[3\\]$/);
  });

  test("a staging area given again (grown) during a run: the run goes on with the same entries", () => {
    const out = child(`
      const cb = new ffi.JSCallback((x) => {
        if (x === 2) { const b2 = ffi.batch(); for (let i = 0; i < 5000; i++) b2.add(S.add_i32, i, 1); }
        return x * 10;
      }, { args: ["i32"], returns: "i32" });
      F.store_callback(cb);
      const b = ffi.batch();
      for (let i = 1; i <= 4; i++) b.add(F.fire, i);
      attempt(() => JSON.stringify(b.run()));
    `);
    assert.deepEqual(out, ["[11,21,31,41]"]);
  });

  test("a malformed staging area is refused", () => {
    const out = child(`
      attempt(() => native.batchStage(new Float64Array(1)));
      attempt(() => native.batchStage(new Int32Array(8)));
      attempt(() => native.batchStage());
    `);
    assert.deepEqual(out, new Array(3).fill("batchStage: internal arguments malformed"));
  });
});

describe("raw markProcessExiting: only once Node's exit has begun", () => {
  // Called early, it made every later threadsafe callback with a result
  // answer 0 without running, for the rest of the process.
  test("called before the exit: refused, and threadsafe callbacks still answer", () => {
    const out = child(`
      attempt(() => native.markProcessExiting());
      const { callbacksFixturePath, openCallbacksFixture } = require(${JSON.stringify(require.resolve("./helpers/callbacks-fixture"))});
      const C = openCallbacksFixture(ffi.dlopen);
      let total = 0;
      const cb = new ffi.JSCallback((thread, seq) => (total++, (thread + 1) * 1000000 + seq),
        { args: ["i32", "i32"], returns: "i32", threadsafe: true });
      C.start_threads_ret(2, 50, cb);
      const wait = () => C.threads_done() === 2
        ? (say(total + " " + C.thread_mismatches()), cb.close())
        : setTimeout(wait, 5);
      wait();
    `);
    assert.deepEqual(out, ["markProcessExiting: only for the main thread's 'exit' event (process._exiting is not set)", "100 0"]);
  });

  test("from an 'exit' listener: accepted (what lib/native.js does)", () => {
    const out = child(`process.on("exit", () => attempt(() => native.markProcessExiting()));`);
    assert.deepEqual(out, ["undefined"]);
  });
});
