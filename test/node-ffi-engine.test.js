"use strict";
// The node-ffi engine (docs/engines.md, lib/node-ffi-engine.js) against the
// addon: for every type it takes, at the type battery's limits and with every
// wrong kind of value, the same results and the same errors, also once V8
// has optimised the guards; what happens around the C call (a JSCallback C
// calls, its exception, close() from it, errno()); the bound functions'
// properties; and, in child processes, when the engine is on, when it is
// off, and which ExperimentalWarning the program sees.
// Symbols move to node:ffi at their first call here (by default, after 500).
if (!process.env.CFFI_BUN_ENGINE) process.env.CFFI_BUN_ENGINE = "node-ffi";
const { test, describe } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { isBuiltin } = require("node:module");
const { batch, dlopen, errno, JSCallback } = require("..");
const native = require("../lib/native.js");
const { callsThroughNodeFfi } = require("../lib/node-ffi-engine.js");
const { fixturePath, buildFixture } = require("./helpers/fixture");
const { INPUTS } = require("./helpers/type-battery.js");
const { timeScale } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const engineOff = ["ffi", "registers", "jit", "addon"].includes(process.env.CFFI_BUN_ENGINE);
const HAS_NODE_FFI = isBuiltin("node:ffi") && process.platform !== "win32";
const ON = HAS_NODE_FFI && !engineOff;
const needsNodeFfi = { skip: !ON && "node:ffi is not available here (Node < 26, or the engine is turned off)" };

const { NUMBER_INPUTS, BIG_INPUTS, NUMBER_INPUTS_64, FLOAT_INPUTS } = INPUTS;
const WRONG_KINDS = ["5", "", {}, [], null, undefined, true, false, Symbol("s"), () => 1, new Number(3), 5n];

// What a call gives: its value or its error, comparable with deepEqual.
function outcome(fn, args) {
  try {
    const value = fn(...args);
    return { value: typeof value === "number" && Object.is(value, -0) ? "-0" : value };
  } catch (error) {
    return { error: error && error.constructor && error.constructor.name, message: error && error.message, code: error && error.code };
  }
}

function label(args) {
  return args.map((v) => (typeof v === "bigint" ? `${v}n` : typeof v === "symbol" ? "Symbol" : Object.is(v, -0) ? "-0" : typeof v === "string" ? JSON.stringify(v) : String(v))).join(", ");
}

// [name, definition, values]: identity functions of the fixture for each
// type the engine takes, and the values to compare them on.
const SMALL = ["char", "i8", "u8", "i16", "u16", "i32", "u32"];
const CASES = [
  ...SMALL.map((t) => [`identity_${t}`, { args: [t], returns: t }, [...NUMBER_INPUTS, ...BIG_INPUTS, ...FLOAT_INPUTS, ...WRONG_KINDS]]),
  ...["i64", "u64"].map((t) => [`identity_${t}`, { args: [t], returns: t }, [...BIG_INPUTS, ...NUMBER_INPUTS_64, ...WRONG_KINDS]]),
  ["identity_i64", { args: ["i64_fast"], returns: "i64_fast" }, [...BIG_INPUTS, ...NUMBER_INPUTS_64, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), ...WRONG_KINDS]],
  ["identity_u64", { args: ["u64_fast"], returns: "u64_fast" }, [...BIG_INPUTS, ...NUMBER_INPUTS_64, 2n ** 53n - 1n, 2n ** 53n, ...WRONG_KINDS]],
  ...["f32", "f64"].map((t) => [`identity_${t}`, { args: [t], returns: t }, [...FLOAT_INPUTS, ...NUMBER_INPUTS, ...BIG_INPUTS, ...WRONG_KINDS]]),
  ["identity_bool", { args: ["bool"], returns: "bool" }, [...NUMBER_INPUTS, ...BIG_INPUTS, ...WRONG_KINDS, 0n, "0"]],
  ["bool_to_int", { args: ["bool"], returns: "i32" }, [0, 1, 2, -0, NaN, "", "x", null, {}, 0n, 7n]],
  ["f32_to_f64", { args: ["f32"], returns: "f64" }, FLOAT_INPUTS],
  ["u64_low", { args: ["u64"], returns: "u32" }, [...BIG_INPUTS, ...NUMBER_INPUTS_64]],
  ["no_args", { args: [], returns: "i32" }, []],
  ["void_fn", { returns: "void" }, []],
];

describe("the node-ffi engine gives the addon's results and errors", needsNodeFfi, () => {
  const FIX = fixturePath();
  for (const [symbol, definition, values] of CASES) {
    const typeName = `${symbol}(${(definition.args || []).join(", ")}): ${definition.returns}`;
    test(typeName, () => {
      const viaEngine = dlopen(FIX, { [symbol]: definition });
      const viaAddon = native.dlopen(FIX, { [symbol]: definition });
      const guarded = viaEngine.symbols[symbol];
      const plain = viaAddon.symbols[symbol];
      const n = (definition.args || []).length;
      const argLists = n === 0 ? [[], [1], [1, 2]] : [...values.map((v) => [v]), [], [1, 2]];
      // Enough rounds for V8 to optimise the guard, and to deoptimise it on
      // the values sent to the addon.
      for (let round = 0; round < 40; round++) {
        for (const args of argLists) {
          const want = outcome(plain, args);
          const got = outcome(guarded, args);
          assert.deepEqual(got, want, `${symbol}(${label(args)}), round ${round}`);
        }
      }
      assert.equal(callsThroughNodeFfi(guarded), true, `${symbol} calls through node:ffi`);
      viaEngine.close();
      viaAddon.close();
    });
  }

  test("two arguments: add_i32, add_f64, add_u64 at the limits", () => {
    const defs = {
      add_i32: { args: ["i32", "i32"], returns: "i32" },
      add_f64: { args: ["f64", "f64"], returns: "f64" },
      add_u64: { args: ["u64", "u64"], returns: "u64" },
      add_u8: { args: ["u8", "u8"], returns: "u8" },
    };
    const viaEngine = dlopen(FIX, defs);
    const viaAddon = native.dlopen(FIX, defs);
    const pairs = [[1, 2], [2 ** 31 - 1, 1], [2 ** 31, 1], [1.5, 2], [-0, -0], [NaN, 1], [1, "2"], [1], [1n, 2n], [2n ** 64n - 1n, 1n], [-1n, 1n], [255, 1], [256, 0], [1, 2, 3]];
    for (let round = 0; round < 40; round++) {
      for (const name of Object.keys(defs)) {
        for (const args of pairs) {
          assert.deepEqual(outcome(viaEngine.symbols[name], args), outcome(viaAddon.symbols[name], args), `${name}(${label(args)})`);
        }
      }
    }
    viaEngine.close();
    viaAddon.close();
  });

  test("signatures it does not take stay on the addon", () => {
    const lib = dlopen(FIX, {
      identity_ptr: { args: ["ptr"], returns: "ptr" },
      ptr_to_u64: { args: ["ptr"], returns: "u64" },
      ptr_2_52: { returns: "ptr" },
      identity_i32: { args: ["i32"], returns: "i32", abi: "sysv" },
      identity_u32: { args: ["u32"], returns: "u32", nonblocking: true },
      add_i32: { get args() { return ["i32", "i32"]; }, returns: "i32" },
    });
    for (const name of Object.keys(lib.symbols)) assert.equal(callsThroughNodeFfi(lib.symbols[name]), false, name);
    assert.equal(lib.symbols.add_i32(1, 2), 3);
    lib.close();
  });

  test("linkSymbols, CFunction and cc() results stay on the addon", () => {
    const { linkSymbols, CFunction, cc } = require("..");
    const lib = dlopen(FIX, { identity_i32: { args: ["i32"], returns: "i32" } });
    lib.symbols.identity_i32(1);
    const ptr = lib.symbols.identity_i32.ptr;
    const linked = linkSymbols({ f: { ptr, args: ["i32"], returns: "i32" } });
    const fn = CFunction({ ptr, args: ["i32"], returns: "i32" });
    for (let i = 0; i < 600; i++) {
      assert.equal(linked.symbols.f(i), i);
      assert.equal(fn(i), i);
    }
    assert.equal(callsThroughNodeFfi(linked.symbols.f), false);
    assert.equal(callsThroughNodeFfi(fn), false);
    let compiled = null;
    try {
      compiled = cc({ source: "int twice(int x) { return 2 * x; }", symbols: { twice: { args: ["i32"], returns: "i32" } } });
    } catch {
      compiled = null; // cc() unavailable in this build
    }
    if (compiled) {
      for (let i = 0; i < 600; i++) assert.equal(compiled.symbols.twice(i), 2 * i);
      assert.equal(callsThroughNodeFfi(compiled.symbols.twice), false);
      compiled.close();
    }
    linked.close();
    fn.close();
    lib.close();
  });

  test("the bound function looks as the addon's: name, length, ptr, native, async, toString", async () => {
    const defs = { add_i32: { args: ["i32", "i32"], returns: "i32" } };
    const viaEngine = dlopen(FIX, defs);
    const viaAddon = native.dlopen(FIX, defs);
    const g = viaEngine.symbols.add_i32;
    const a = viaAddon.symbols.add_i32;
    assert.equal(g.name, "add_i32");
    assert.equal(g.length, 2);
    assert.equal(g.ptr, a.ptr);
    assert.equal(g.native, g);
    assert.equal(typeof g.async, typeof a.async, "sym.async, where the addon has it");
    assert.equal(String(g), String(a));
    assert.equal(g.toString(), "function add_i32() { [native code] }");
    const ownKeys = (f) => Reflect.ownKeys(f).filter((k) => k !== "toString" && k !== "prototype" && k !== "arguments" && k !== "caller");
    assert.deepEqual(ownKeys(g), ownKeys(a), "own properties");
    for (const key of ownKeys(a)) {
      const { value: gv, ...gAttributes } = Object.getOwnPropertyDescriptor(g, key);
      const { value: av, ...aAttributes } = Object.getOwnPropertyDescriptor(a, key);
      assert.deepEqual(gAttributes, aAttributes, `attributes of .${key}`);
      void gv, void av;
    }
    assert.deepEqual(Object.keys(g), Object.keys(a), "enumerable own keys");
    assert.deepEqual(Object.keys(viaEngine.symbols), Object.keys(viaAddon.symbols));
    assert.deepEqual(Object.keys(viaEngine), ["symbols", "close"]);
    if (typeof g.async === "function") assert.equal(await g.async(20, 22), 42);
    // The guard stands in for the addon's function in batches and map too.
    assert.equal(Object.getPrototypeOf(g), Object.getPrototypeOf(a), "the bound functions' prototype");
    assert.deepEqual(g.map(2, new Int32Array([1, 2]), 40), new Int32Array([41, 42]));
    const b = batch();
    b.add(g, 1, 2);
    b.add(a, 3, 4);
    assert.deepEqual(b.run(), [3, 7]);
    viaEngine.close();
    viaAddon.close();
  });

  test("close() makes calls throw as today, is idempotent, and unmaps the library", { skip: process.platform !== "linux" && "/proc/self/maps is Linux only" }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-nodeffi-"));
    const copy = path.join(dir, "libcffi-nodeffi-unmap.so");
    fs.copyFileSync(FIX, copy);
    const mapped = () => fs.readFileSync("/proc/self/maps", "utf8").includes(copy);
    const lib = dlopen(copy, { identity_i32: { args: ["i32"], returns: "i32" } });
    const reference = native.dlopen(FIX, { identity_i32: { args: ["i32"], returns: "i32" } });
    const f = lib.symbols.identity_i32;
    for (let i = 0; i < 2000; i++) assert.equal(f(i), i);
    assert.equal(mapped(), true);
    const { close } = lib;
    close();
    close();
    assert.equal(mapped(), false, "unmapped after close()");
    assert.throws(() => f(1), { name: "Error", message: `Cannot call "identity_i32": its library "${copy}" is closed` });
    reference.close();
    assert.throws(() => reference.symbols.identity_i32(1), /is closed/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("around the C call: callbacks, exceptions, close() from a callback, errno()", needsNodeFfi, () => {
  const LIB = buildFixture("node-ffi.c");
  const DEFS = {
    store_callback: { args: ["function"], returns: "void" },
    fire: { args: ["i32"], returns: "i32" },
    fail_with: { args: ["i32"], returns: "i32" },
    leaves_errno: { returns: "i32" },
    twice: { args: ["i32"], returns: "i32" },
  };

  test("C calling a JSCallback during a node:ffi call: values, and the callback's exception rethrown there", () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    let mode = "value";
    const cb = new JSCallback((x) => {
      if (mode === "throw") throw new RangeError(`from the callback ${x}`);
      return x * 10;
    }, { args: ["i32"], returns: "i32" });
    s.store_callback(cb);
    for (let i = 0; i < 3000; i++) assert.equal(s.fire(i), i * 10 + 1);
    assert.equal(callsThroughNodeFfi(s.fire), true);
    mode = "throw";
    assert.throws(() => s.fire(4), { name: "RangeError", message: "from the callback 4" });
    mode = "value";
    assert.equal(s.fire(5), 51, "the next call is clean");
    cb.close();
    lib.close();
  });

  // The guard's `slow` and the guard itself used to head the stack of every
  // error the addon threw for a call (two frames the caller never wrote,
  // pushing two of its own out of Error.stackTraceLimit).
  test("error stacks start at the caller's frame, as on the addon; a callback's exception keeps its own frames", () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    const frames = (fn) => {
      try {
        fn();
      } catch (error) {
        return error.stack.split("\n").filter((line) => /^\s+at /.test(line)).map((line) => line.trim().split(" ")[1]);
      }
      assert.fail("no exception");
    };
    let mode = "value";
    const cb = new JSCallback(function throwingCallback(x) {
      if (mode === "throw") throw new RangeError(`from the callback ${x}`);
      return x;
    }, { args: ["i32"], returns: "i32" });
    s.store_callback(cb);
    function callsWithBadArgument() { return s.fire("x"); }
    function callsWithTooFew() { return s.fire(); }
    function callsAThrowingCallback() { return s.fire(1); }
    const check = (when) => {
      assert.equal(frames(callsWithBadArgument)[0], "callsWithBadArgument", when);
      assert.equal(frames(callsWithTooFew)[0], "callsWithTooFew", when);
      mode = "throw";
      const fromCallback = frames(callsAThrowingCallback);
      mode = "value";
      assert.equal(fromCallback[0], "throwingCallback", when);
      assert.ok(fromCallback.includes("callsAThrowingCallback"), when);
    };
    check("before the move (the addon's calls)");
    for (let i = 0; i < 3000; i++) assert.equal(s.fire(i), i + 1);
    assert.equal(callsThroughNodeFfi(s.fire), true);
    check("after the move");
    lib.close();
    function callsAfterClose() { return s.fire(1); }
    assert.equal(frames(callsAfterClose)[0], "callsAfterClose");
    cb.close();
  });

  test("close() from a callback C calls during a node:ffi call: the call returns, later calls throw", async () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    const cb = new JSCallback((x) => {
      if (x === -99) lib.close();
      return x;
    }, { args: ["i32"], returns: "i32" });
    s.store_callback(cb);
    for (let i = 0; i < 2000; i++) assert.equal(s.fire(i), i + 1);
    assert.equal(callsThroughNodeFfi(s.fire), true);
    assert.equal(s.fire(-99), -98, "C returned into its still-mapped code");
    assert.throws(() => s.fire(1), /Cannot call "fire": its library ".*" is closed/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.throws(() => s.twice(1), /is closed/);
    cb.close();
  });

  // A guard's call at the top level (call_depth 0) and one made inside an FFI
  // call (from a JSCallback C called) take different paths in the guard;
  // each must leave call_depth as it found it, with the node:ffi bit inside.
  test("node:ffi calls nested in a callback of a node:ffi call: call_depth, errno and an inner exception", () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    const seen = [];
    const depth = () => native.nodeFfiStateFields().callDepth;
    const cb = new JSCallback((x) => {
      if (x < 100) return x;
      seen.push(["in", x, depth()]);
      if (x === 1000) throw new RangeError("from the inner callback");
      let caught = null;
      try {
        s.fire(1000);
      } catch (error) {
        caught = error.message;
      }
      seen.push(["after inner fire", caught, depth()]);
      const doubled = s.twice(x);
      seen.push(["after twice", doubled, depth()]);
      assert.equal(s.fail_with(23), -1);
      seen.push(["after fail_with", errno(), depth()]);
      return doubled;
    }, { args: ["i32"], returns: "i32" });
    s.store_callback(cb);
    for (let i = 0; i < 600; i++) {
      assert.equal(s.fire(i % 100), (i % 100) + 1);
      assert.equal(s.twice(i), 2 * i);
      assert.equal(s.fail_with(0), -1);
    }
    assert.equal(callsThroughNodeFfi(s.fire) && callsThroughNodeFfi(s.twice) && callsThroughNodeFfi(s.fail_with), true);
    assert.equal(s.fire(100), 201);
    assert.deepEqual(seen, [
      ["in", 100, 0x20000001],
      ["in", 1000, 0x20000002],
      ["after inner fire", "from the inner callback", 0x20000001],
      ["after twice", 200, 0x20000001],
      ["after fail_with", 23, 0x20000001],
    ]);
    assert.equal(depth(), 0, "call_depth back to 0 at the top level");
    assert.equal(errno(), 23, "the outer call saved the errno its C returned with");
    assert.equal(s.twice(4), 8, "the top-level path again");
    assert.equal(depth(), 0);
    cb.close();
    lib.close();
  });

  test("errno() after a node:ffi call is the errno saved right after its C call, as on the addon", () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    // The first call moves each to node:ffi, the next goes through it.
    for (const name of ["twice", "fail_with", "leaves_errno"]) s[name](0);
    assert.equal(s.fail_with(5), -1);
    assert.equal(callsThroughNodeFfi(s.fail_with), true);
    assert.equal(errno(), 5);
    assert.equal(errno(), 5, "read twice, the same");
    assert.equal(callsThroughNodeFfi(s.fail_with), true, "reading errno() moves nothing: it stays on node:ffi");
    assert.equal(s.fail_with(6), -1);
    assert.equal(errno(), 6);
    // A node:ffi call that leaves errno alone leaves errno() as it was.
    assert.equal(s.leaves_errno(), 7);
    assert.equal(callsThroughNodeFfi(s.leaves_errno), true);
    assert.equal(errno(), 6);
    // An addon call after a node:ffi call starts from that call's errno.
    assert.equal(s.twice(3), 6);
    assert.equal(callsThroughNodeFfi(s.twice), true);
    s.fail_with(8);
    assert.equal(s.leaves_errno(), 7);
    assert.equal(errno(), 8);
    lib.close();
  });

  test("errno() is the call's even when Node's own work sets errno before it is read", () => {
    const lib = dlopen(LIB, DEFS);
    const s = lib.symbols;
    s.fail_with(0);
    s.leaves_errno();
    // Optimised too: the guards' saves are in the inlined code then.
    for (let round = 0; round < 3000; round++) {
      assert.equal(s.fail_with(round % 100 + 1), -1);
      assert.equal(callsThroughNodeFfi(s.fail_with), true);
      // A failing system call in Node itself: errno is now ENOENT.
      assert.throws(() => fs.readdirSync("/no/such/dir/cffi-bun"), { code: "ENOENT" });
      assert.equal(errno(), round % 100 + 1, `round ${round}`);
      // And a node:ffi call that leaves errno alone sees, and leaves, the saved one.
      assert.throws(() => fs.readdirSync("/no/such/dir/cffi-bun"), { code: "ENOENT" });
      assert.equal(s.leaves_errno(), 7);
      assert.equal(errno(), round % 100 + 1, `round ${round}, after leaves_errno`);
    }
    lib.close();
  });

  test("in a worker thread too: its errno, not the main thread's", async () => {
    const { Worker } = require("node:worker_threads");
    const source = `
      const { parentPort } = require("node:worker_threads");
      const { dlopen, errno } = require(${JSON.stringify(ROOT)});
      const { callsThroughNodeFfi } = require(${JSON.stringify(path.join(ROOT, "lib", "node-ffi-engine.js"))});
      const s = dlopen(${JSON.stringify(LIB)}, { fail_with: { args: ["i32"], returns: "i32" }, read_errno: { returns: "i32" } }).symbols;
      s.fail_with(0); s.read_errno();
      const seen = [];
      for (let i = 1; i <= 600; i++) {
        s.fail_with(i);
        try { require("node:fs").readdirSync("/no/such/dir/cffi-bun"); } catch {}
        seen.push(errno() === i && s.read_errno() === i);
      }
      parentPort.postMessage({ all: seen.every(Boolean), through: callsThroughNodeFfi(s.fail_with) });
    `;
    const worker = new Worker(source, { eval: true, env: { ...process.env, CFFI_BUN_ENGINE: "node-ffi" } });
    const message = await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    assert.deepEqual(message, { all: true, through: true });
    const lib = dlopen(LIB, DEFS);
    lib.symbols.fail_with(41);
    assert.equal(errno(), 41, "the main thread's own errno() is untouched by the worker");
    lib.close();
  });

  test("C sees errno as the last FFI call left it, not as Node's work left it", () => {
    const lib = dlopen(LIB, { ...DEFS, read_errno: { returns: "i32" } });
    const s = lib.symbols;
    s.read_errno();
    s.fail_with(0);
    for (let round = 0; round < 2000; round++) {
      s.fail_with(33);
      assert.throws(() => fs.readdirSync("/no/such/dir/cffi-bun"), { code: "ENOENT" });
      assert.equal(s.read_errno(), 33, `round ${round}`);
    }
    assert.equal(callsThroughNodeFfi(s.read_errno), true);
    lib.close();
  });

  test("an exception from node:ffi after C may have run is thrown on: C is never called twice", () => {
    const lib = dlopen(LIB, { ...DEFS, count_calls: { args: ["i32"], returns: "i32" }, calls_so_far: { returns: "i32" } });
    const s = lib.symbols;
    s.count_calls(0);
    assert.equal(callsThroughNodeFfi(s.count_calls), true);
    const before = s.calls_so_far();
    // node:ffi's function made to throw after C ran, as a failing result
    // conversion would: its function is swapped for one that calls C then
    // throws (the guard cannot tell the difference).
    const { setNodeForTest } = require("../lib/node-ffi-engine.js");
    const restore = setNodeForTest(s.count_calls, (real) => (x) => {
      real(x);
      throw new Error("after C");
    });
    try {
      assert.throws(() => s.count_calls(1), { message: "after C" });
      assert.equal(s.calls_so_far() - before, 1, "C ran once");
      assert.equal(native.nodeFfiStateFields().callDepth, 0, "call_depth restored");
    } finally {
      restore();
    }
    assert.equal(s.count_calls(2), 2, "node:ffi's own function again");
    assert.equal(s.calls_so_far() - before, 2);
    assert.equal(s.count_calls(2.5), 2, "a fraction: the addon's call, once");
    assert.equal(s.calls_so_far() - before, 3);
    lib.close();
  });
});

// ---- child processes: on, off, warnings ------------------------------------

const SCRIPT_LIB = fixturePath();
function run(args, source, env = {}) {
  const result = spawnSync(process.execPath, [...args, "-e", source], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CFFI_BUN_ENGINE: "", NODE_OPTIONS: "", NODE_NO_WARNINGS: "", ...env },
    timeout: timeScale(30000),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
// Prints whether identity_i32 calls through node:ffi, and checks it works.
const PROBE = `
  const { dlopen } = require("./");
  const { callsThroughNodeFfi } = require("./lib/node-ffi-engine.js");
  const lib = dlopen(${JSON.stringify(SCRIPT_LIB)}, { identity_i32: { args: ["i32"], returns: "i32" } });
  for (let i = 0; i < 600; i++) if (lib.symbols.identity_i32(2 ** 31 + i) !== -2147483648 + i) throw new Error("wrong result");
  for (let i = 0; i < 600; i++) if (lib.symbols.identity_i32(i) !== i) throw new Error("wrong result");
  console.log(callsThroughNodeFfi(lib.symbols.identity_i32) ? "node-ffi" : "addon");
`;
const WARNING = /ExperimentalWarning: FFI is an experimental feature/g;
const warnings = (stderr) => (stderr.match(WARNING) || []).length;

describe("when the engine is on, and the warnings a program sees (child processes)", { skip: !HAS_NODE_FFI && "this Node has no node:ffi" }, () => {
  test("on by default, and no ExperimentalWarning the program did not cause", () => {
    const r = run([], PROBE);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "node-ffi");
    assert.equal(warnings(r.stderr), 0, r.stderr);
  });

  test("by default a symbol moves to node:ffi after 500 calls; node:ffi is loaded only then", () => {
    const r = run([], `
      const { dlopen } = require("./");
      const { callsThroughNodeFfi } = require("./lib/node-ffi-engine.js");
      const loaded = () => process.moduleLoadList.some((m) => /^NativeModule ffi$/.test(m));
      const lib = dlopen(${JSON.stringify(SCRIPT_LIB)}, { identity_i32: { args: ["i32"], returns: "i32" }, add_i32: { args: ["i32", "i32"], returns: "i32" } });
      const f = lib.symbols.identity_i32;
      const seen = [];
      for (let i = 1; i <= 501; i++) { f(i); if (i === 499 || i === 500 || i === 501) seen.push(callsThroughNodeFfi(f)); }
      console.log(JSON.stringify({ seen, other: callsThroughNodeFfi(lib.symbols.add_i32), loaded: loaded() }));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { seen: [false, true, true], other: false, loaded: true });
  });

  test("by default two or more 8-32-bit integer arguments stay on the addon (faster there); CFFI_BUN_ENGINE=node-ffi moves them", () => {
    const script = `
      const { dlopen } = require("./");
      const { callsThroughNodeFfi } = require("./lib/node-ffi-engine.js");
      const lib = dlopen(${JSON.stringify(SCRIPT_LIB)}, {
        add_i32: { args: ["i32", "i32"], returns: "i32" },
        add_u8: { args: ["u8", "u8"], returns: "u8" },
        add_f64: { args: ["f64", "f64"], returns: "f64" },
        identity_i32: { args: ["i32"], returns: "i32" },
      });
      const s = lib.symbols;
      const results = [];
      for (let i = 1; i <= 600; i++) results.push(s.add_i32(i, 2 ** 31 - 1), s.add_u8(i, 255), s.add_f64(i, 0.5), s.identity_i32(-i));
      const through = Object.fromEntries(Object.keys(s).map((name) => [name, callsThroughNodeFfi(s[name])]));
      console.log(JSON.stringify({ through, last: results.slice(-4) }));
    `;
    const last = [600 + 2 ** 31 - 1 - 2 ** 32, (600 + 255) & 255, 600.5, -600];
    const byDefault = run([], script);
    assert.equal(byDefault.status, 0, byDefault.stderr);
    assert.deepEqual(JSON.parse(byDefault.stdout), { through: { add_i32: false, add_u8: false, add_f64: true, identity_i32: true }, last });
    const forced = run([], script, { CFFI_BUN_ENGINE: "node-ffi" });
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(JSON.parse(forced.stdout), { through: { add_i32: true, add_u8: true, add_f64: true, identity_i32: true }, last });
  });

  test("the program's own require('node:ffi') later still prints Node's warning, once", () => {
    const r = run([], `${PROBE}; require("node:ffi"); require("node:ffi"); setTimeout(() => {}, 10);`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "node-ffi");
    assert.equal(warnings(r.stderr), 1, r.stderr);
  });

  test("... and its own import('node:ffi') too", () => {
    const r = run([], `${PROBE}; import("node:ffi").then(() => {});`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(warnings(r.stderr), 1, r.stderr);
  });

  test("node:ffi loaded by the program first: one warning, the engine on", () => {
    const r = run([], `require("node:ffi"); ${PROBE}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "node-ffi");
    assert.equal(warnings(r.stderr), 1, r.stderr);
  });

  test("process.on('warning') listeners do not see the held warning", () => {
    const r = run([], `let seen = 0; process.on("warning", (w) => { if (/FFI/.test(w.message)) seen++; }); ${PROBE}; setTimeout(() => console.log("seen", seen), 10);`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /seen 0/);
  });

  test("--no-warnings: nothing printed, the engine on", () => {
    const r = run(["--no-warnings"], `${PROBE}; require("node:ffi");`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "node-ffi");
    assert.equal(warnings(r.stderr), 0, r.stderr);
  });

  test("--no-experimental-ffi turns it off", () => {
    const r = run(["--no-experimental-ffi"], PROBE);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "addon");
    assert.equal(warnings(r.stderr), 0, r.stderr);
  });

  test("the permission model without --allow-ffi turns it off; with --allow-ffi it is on", () => {
    const allow = ["--permission", "--allow-addons", "--allow-fs-read=*"];
    const off = run(allow, PROBE);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(off.stdout.trim(), "addon");
    assert.equal(warnings(off.stderr), 0, off.stderr);
    const on = run([...allow, "--allow-ffi"], PROBE);
    assert.equal(on.status, 0, on.stderr);
    assert.equal(on.stdout.trim(), "node-ffi");
    assert.equal(warnings(on.stderr), 0, on.stderr);
  });

  test("CFFI_BUN_ENGINE: node-ffi forces it on; addon, ffi, registers and jit turn it off", () => {
    assert.equal(run([], PROBE, { CFFI_BUN_ENGINE: "node-ffi" }).stdout.trim(), "node-ffi");
    for (const engine of ["addon", "ffi", "registers", "jit"]) {
      const r = run([], PROBE, { CFFI_BUN_ENGINE: engine });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), "addon", engine);
      assert.equal(warnings(r.stderr), 0, r.stderr);
    }
  });

  test("a program with no eligible symbol never loads node:ffi", () => {
    const r = run([], `
      const { dlopen } = require("./");
      const lib = dlopen(${JSON.stringify(SCRIPT_LIB)}, { identity_ptr: { args: ["ptr"], returns: "ptr" } });
      lib.symbols.identity_ptr(null);
      console.log(process.moduleLoadList ? process.moduleLoadList.some((m) => /\\bffi\\b/.test(m)) : "unknown");
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /false|unknown/);
  });
});

test("where node:ffi is absent (Node 20/22) the engine is off and nothing changes", { skip: HAS_NODE_FFI && "this Node has node:ffi" }, () => {
  const lib = dlopen(fixturePath(), { identity_i32: { args: ["i32"], returns: "i32" } });
  assert.equal(callsThroughNodeFfi(lib.symbols.identity_i32), false);
  assert.equal(lib.symbols.identity_i32(2 ** 31), -(2 ** 31));
  lib.close();
});
