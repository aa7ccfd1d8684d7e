"use strict";
// The contract between the node-ffi engine's guards (lib/node-ffi-engine.js)
// and the addon's FFI state (src/calls/node_ffi.c): the Uint32Array the
// guards write covers exactly the run of 32-bit fields C says, each index
// names the field C reads, the layout number is the one the engine was
// written for (a different one leaves the engine off), the errno view is
// this thread's errno, and a guard's node:ffi call leaves the state as it
// found it, also when node:ffi throws.
if (!process.env.CFFI_BUN_ENGINE) process.env.CFFI_BUN_ENGINE = "node-ffi";
const { test, describe } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { isBuiltin } = require("node:module");
const { dlopen } = require("..");
const native = require("../lib/native.js");
const { callsThroughNodeFfi } = require("../lib/node-ffi-engine.js");
const { fixturePath } = require("./helpers/fixture");
const { timeScale } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const FIELDS = ["callDepth", "lastErrno", "cleanupDepth", "callbacksRun"];
const engineOff = ["ffi", "registers", "jit", "addon"].includes(process.env.CFFI_BUN_ENGINE);
const ON = isBuiltin("node:ffi") && process.platform !== "win32" && !engineOff;
const needsNodeFfi = { skip: !ON && "node:ffi is not available here (Node < 26, or the engine is turned off)" };

describe("the state the guards share with C", () => {
  const state = native.nodeFfiState();
  const noState = { skip: state === null && "this Node refuses external ArrayBuffers" };

  test("a view of the 32-bit run only, layout 4, four distinct indexes inside it, errno, the call bit", noState, () => {
    assert.ok(state.memory instanceof Uint32Array);
    // call_depth, last_errno, env_calls, closes, js_callbacks_run,
    // cleanup_depth (and last_error on Windows): no pointer of the state is
    // in view.
    assert.equal(state.memory.length, process.platform === "win32" ? 7 : 6);
    assert.equal(state.memory.byteLength, state.memory.length * 4);
    assert.equal(state.layout, 4);
    assert.ok(state.errno instanceof Int32Array);
    assert.equal(state.errno.length, 1);
    assert.equal(state.callBit, 0x20000000);
    const indexes = FIELDS.map((field) => state[field]);
    for (const [k, index] of indexes.entries()) {
      assert.ok(Number.isInteger(index) && index >= 0 && index < state.memory.length, `${FIELDS[k]} = ${index}`);
    }
    assert.equal(new Set(indexes).size, FIELDS.length);
    assert.equal(state.callDepth, 0, "the run starts at call_depth");
  });

  test("each index is the field C reads: values written through the view are C's", noState, () => {
    const { memory } = state;
    const saved = Array.from(memory);
    try {
      FIELDS.forEach((field, k) => (memory[state[field]] = 0x1000 + k));
      const seen = native.nodeFfiStateFields();
      FIELDS.forEach((field, k) => assert.equal(seen[field], 0x1000 + k, field));
    } finally {
      saved.forEach((value, i) => (memory[i] = value));
    }
    const after = native.nodeFfiStateFields();
    assert.equal(after.callDepth, 0);
    assert.equal(after.cleanupDepth, 0);
    assert.equal(after.lastErrno, saved[state.lastErrno]);
  });

  test("the errno view is this thread's errno, both ways", noState, () => {
    const saved = state.errno[0];
    try {
      state.errno[0] = 1234;
      assert.equal(native.nodeFfiStateFields().errno, 1234, "C reads what the view wrote");
      // A failing system call sets errno in C; the view sees it. (On Windows
      // libuv reports Win32 errors and leaves the C runtime's errno alone.)
      if (process.platform !== "win32") {
        try {
          require("node:fs").readdirSync("/no/such/dir/cffi-bun");
        } catch {}
        assert.equal(state.errno[0], native.nodeFfiStateFields().errno);
        assert.notEqual(state.errno[0], 1234);
      }
    } finally {
      state.errno[0] = saved;
    }
  });
});

describe("the guards keep the state", needsNodeFfi, () => {
  const FIX = fixturePath();

  test("balanced after node:ffi calls, after values node:ffi refuses, and after errors", () => {
    const lib = dlopen(FIX, {
      identity_u64: { args: ["u64"], returns: "u64" },
      identity_i64: { args: ["i64"], returns: "i64" },
      identity_i32: { args: ["i32"], returns: "i32" },
    });
    const { identity_u64: u64, identity_i64: i64, identity_i32: i32 } = lib.symbols;
    for (let round = 0; round < 200; round++) {
      assert.equal(u64(5n), 5n);
      // node:ffi throws for BigInts out of its range; the addon wraps them.
      assert.equal(u64(-1n), 2n ** 64n - 1n);
      assert.equal(u64(2n ** 64n + 3n), 3n);
      assert.equal(i64(2n ** 63n), -(2n ** 63n));
      assert.equal(i32(7), 7);
      assert.throws(() => i32("7"), TypeError);
      assert.throws(() => i32(), TypeError);
    }
    assert.equal(callsThroughNodeFfi(u64), true);
    assert.equal(callsThroughNodeFfi(i32), true);
    const fields = native.nodeFfiStateFields();
    assert.equal(fields.callDepth, 0, "call_depth");
    assert.equal(fields.envCalls, 0, "env_calls");
    lib.close();
  });

  test("during a node:ffi call: call_depth has the node:ffi bit, and nested calls keep it", () => {
    const lib = dlopen(FIX, { identity_i32: { args: ["i32"], returns: "i32" } });
    const f = lib.symbols.identity_i32;
    f(1);
    assert.equal(callsThroughNodeFfi(f), true);
    // The view as the guard sees it, read from C by an addon call made where
    // a callback's JS would run: nothing JS can do inside node:ffi's call
    // without a callback, so the state is set by hand as the guard sets it.
    const { memory } = native.nodeFfiState();
    const i = native.nodeFfiState().callDepth;
    memory[i] = (0 | 0x20000000) + 1;
    try {
      assert.equal(native.nodeFfiStateFields().callDepth, 0x20000001);
      assert.equal(f(1.5), 1, "an addon call nested there (a fraction: the addon's)");
      assert.equal(memory[i], 0x20000001, "and call_depth is back to the guard's");
    } finally {
      memory[i] = 0;
    }
    assert.equal(f(3), 3);
    assert.equal(native.nodeFfiStateFields().callDepth, 0);
    lib.close();
  });
});

test("an addon whose shared state has another layout leaves the engine off", needsNodeFfi, () => {
  const source = `
    const native = require("./lib/native.js");
    const real = native.nodeFfiState;
    native.nodeFfiState = () => ({ ...real(), layout: 99 });
    const { dlopen } = require("./");
    const { callsThroughNodeFfi } = require("./lib/node-ffi-engine.js");
    const lib = dlopen(${JSON.stringify(fixturePath())}, { identity_i32: { args: ["i32"], returns: "i32" } });
    for (let i = 0; i < 600; i++) if (lib.symbols.identity_i32(i) !== i) throw new Error("wrong result");
    console.log(callsThroughNodeFfi(lib.symbols.identity_i32));
  `;
  const result = spawnSync(process.execPath, ["-e", source], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CFFI_BUN_ENGINE: "node-ffi", CFFI_BUN_DEBUG: "1", NODE_OPTIONS: "" },
    timeout: timeScale(30000),
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), "false");
  assert.match(result.stderr, /is not layout 4; the engine stays off/);
});
