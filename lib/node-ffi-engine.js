"use strict";
// The node-ffi engine (docs/engines.md): on a Node that has node:ffi, a
// symbol from dlopen() whose signature node:ffi calls through V8's fast API
// (integers, floats, bool, void) is called through node:ffi, from a guard
// that sends node:ffi only the values it converts exactly as the addon
// does. Every other value (a fraction, a BigInt for an int, -0, a missing
// argument, a closed library...) goes to the addon's function, which gives
// today's results and error messages. Only the shaping is here: the addon
// (src/calls/node_ffi.c) shares the FFI state the guards update, and the
// JS thread's errno, so that a JSCallback C calls meanwhile, close() and
// errno() behave as in any call.
//
// JS, not C, because the point is V8 inlining node:ffi's fast call into
// the caller's optimised code, which only a JS function in between allows.
const native = require("./native.js");
const { setImmediate } = require("node:timers");
const { compileFunction } = require("node:vm");
const { standInFor } = require("./batch.js");

const ENGINE = process.env.CFFI_BUN_ENGINE;
// As src/base/debug_log.c reads them, once.
const flagSet = (value) => !!value && value !== "0" && value !== "false";
const DEBUG = flagSet(process.env.BUN_DEBUG_FFI) || flagSet(process.env.CFFI_BUN_DEBUG);
const debug = (line) => process.stderr.write(`[cffi-bun] ${line}\n`);
// The addon's own engines, when asked for by name, turn this one off
// ("addon": the addon's default, tiered, engine).
const ADDON_ENGINES = new Set(["ffi", "registers", "jit", "precompiled", "addon"]);

// FFIType number -> how a guard takes an argument of that type: the node:ffi
// type, the test a value must pass to go to node:ffi (as a JS expression of
// the argument `a`), and what is passed (node:ffi refuses -0 for integers:
// `a | 0` is the same integer without the sign).
const T = native.FFIType;
const int = (node, test, pass = "a | 0") => ({ node, test: `typeof a === "number" && ${test}`, pass });
// A BigInt out of range node:ffi refuses (it checks before calling C, and the
// guard then gives the value to the addon, which wraps it): a range test
// here would cost more than the rest of the guard.
const big = (node) => ({ node, test: `typeof a === "bigint"`, pass: "a" });
const ARGUMENTS = {
  [T.char]: int("int8", "(a << 24 >> 24) === a"), // char is signed, as in Bun, on every platform
  [T.i8]: int("int8", "(a << 24 >> 24) === a"),
  [T.u8]: int("uint8", "(a & 255) === a"),
  [T.i16]: int("int16", "(a << 16 >> 16) === a"),
  [T.u16]: int("uint16", "(a & 65535) === a"),
  [T.i32]: int("int32", "(a | 0) === a"),
  [T.u32]: int("uint32", "(a >>> 0) === a", "a >>> 0"),
  [T.i64]: big("int64"),
  [T.i64_fast]: big("int64"),
  [T.u64]: big("uint64"),
  [T.u64_fast]: big("uint64"),
  [T.f64]: { node: "double", test: `typeof a === "number"`, pass: "a" },
  [T.f32]: { node: "float", test: `typeof a === "number"`, pass: "a" },
  // Any value, by truthiness (ToBoolean runs no user code).
  [T.bool]: { node: "bool", test: "", pass: "a ? 1 : 0" },
};
// FFIType number -> the node:ffi return type and how its result becomes ours
// (an expression of `r`).
const SAFE = "9007199254740991n";
const RETURNS = {
  [T.char]: { node: "int8", result: "r" },
  [T.i8]: { node: "int8", result: "r" },
  [T.u8]: { node: "uint8", result: "r" },
  [T.i16]: { node: "int16", result: "r" },
  [T.u16]: { node: "uint16", result: "r" },
  [T.i32]: { node: "int32", result: "r" },
  [T.u32]: { node: "uint32", result: "r" },
  [T.i64]: { node: "int64", result: "r" },
  [T.u64]: { node: "uint64", result: "r" },
  [T.i64_fast]: { node: "int64", result: `r >= -${SAFE} && r <= ${SAFE} ? Number(r) : r` },
  [T.u64_fast]: { node: "uint64", result: `r <= ${SAFE} ? Number(r) : r` },
  [T.f64]: { node: "double", result: "r" },
  [T.f32]: { node: "float", result: "r" },
  [T.bool]: { node: "bool", result: "r !== 0" },
  [T.void]: { node: "void", result: "undefined" },
};

const typeIds = Object.assign(Object.create(null), T);
const typeIdOf = (type) => (typeof type === "string" ? typeIds[type] : typeof type === "number" ? type : undefined);

// The value of a plain data property, or undefined for a getter: the addon
// read the definition once already, and a getter could answer differently
// now. Such definitions simply stay on the addon.
const UNUSABLE = Symbol("unusable");
function plainValue(object, key) {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (descriptor === undefined) return Object.getPrototypeOf(object) === Object.prototype || Object.getPrototypeOf(object) === null ? undefined : UNUSABLE;
  return "value" in descriptor ? descriptor.value : UNUSABLE;
}

// The signature of a definition the engine can take, as type numbers, or
// null. Only plain objects and arrays, the default ABI, at most 64 arguments
// (as the addon).
const { isProxy } = require("node:util").types;
function eligibleSignature(definition) {
  if (definition === null || typeof definition !== "object" || isProxy(definition)) return null;
  const args = plainValue(definition, "args");
  const returns = plainValue(definition, "returns");
  const abi = plainValue(definition, "abi");
  // nonblocking: a Promise from a pool thread (src/calls/async_call.c), the addon's.
  const nonblocking = plainValue(definition, "nonblocking");
  if (args === UNUSABLE || returns === UNUSABLE || (abi !== undefined && abi !== "default")) return null;
  if (nonblocking !== undefined && nonblocking !== false) return null;
  let argTypes = [];
  if (args !== undefined) {
    if (!Array.isArray(args) || isProxy(args) || args.length > 64) return null;
    for (let i = 0; i < args.length; i++) {
      const own = Object.getOwnPropertyDescriptor(args, i);
      if (!own || !("value" in own)) return null;
      const id = typeIdOf(own.value);
      if (ARGUMENTS[id] === undefined) return null;
      argTypes.push(id);
    }
  }
  const returnType = returns === undefined ? T.void : typeIdOf(returns);
  if (RETURNS[returnType] === undefined) return null;
  return { args: argTypes, returns: returnType };
}

// ---- node:ffi itself: found, loaded and checked once --------------------

// The addon's FFI state as the guards see it (src/calls/node_ffi.c): a
// Uint32Array over the state's run of 32-bit fields, the index of each
// field used here, an Int32Array over the JS thread's errno, and the bit a
// node:ffi call sets in call_depth. The layout number is the contract's
// version: an addon whose run differs from what this file was written for
// leaves the engine off rather than having the guards write the wrong fields.
const STATE_LAYOUT = 4;
const STATE_FIELDS = ["callDepth", "lastErrno", "cleanupDepth", "callbacksRun"];
const CALL_BIT = 0x20000000;
function sharedState() {
  const state = native.nodeFfiState();
  if (state === null) return null;
  const { memory, layout } = state;
  const indexes = STATE_FIELDS.map((field) => state[field]);
  const fits = memory instanceof Uint32Array && indexes.every((i) => Number.isInteger(i) && i >= 0 && i < memory.length) && new Set(indexes).size === indexes.length &&
    state.errno instanceof Int32Array && state.errno.length === 1 && state.callBit === CALL_BIT;
  if (layout !== STATE_LAYOUT || !fits) {
    if (DEBUG) debug(`node-ffi engine: the addon's shared state (layout ${layout}, fields at ${indexes.join(", ")}) is not layout ${STATE_LAYOUT}; the engine stays off`);
    return null;
  }
  return state;
}


let nodeFfi; // undefined: not looked for yet; null: unusable
let shared = null; // the addon's FFI state (src/calls/node_ffi.c)

function disabledByEnvironment() {
  if (ADDON_ENGINES.has(ENGINE)) return true;
  // GetLastError() is not captured around node:ffi's calls.
  if (process.platform === "win32") return true;
  return false;
}

function load() {
  if (nodeFfi !== undefined) return nodeFfi;
  nodeFfi = null;
  if (disabledByEnvironment()) return null;
  const { isBuiltin } = require("node:module");
  // Absent before Node 26, and under --no-experimental-ffi.
  if (!isBuiltin("node:ffi")) return null;
  // The permission model without --allow-ffi (audit mode included).
  if (process.permission && !process.permission.has("ffi")) return null;
  if (shared === null) shared = sharedState();
  if (shared === null) return null;
  const loaded = requireQuietly();
  if (loaded === null || !looksUsable(loaded)) return null;
  nodeFfi = loaded;
  return nodeFfi;
}

// The API this engine was written against (Node 26.12): dlopen(path, { sym:
// { arguments, return } }) -> { lib, functions }, functions with a BigInt
// .pointer. Anything else leaves the engine off.
function looksUsable(ffi) {
  return typeof ffi.dlopen === "function" && ffi.types !== null && typeof ffi.types === "object" && ffi.types.INT_32 === "int32" && ffi.types.DOUBLE === "double";
}

// Loading node:ffi prints an ExperimentalWarning the first time. The user's
// code did not ask for node:ffi, so that warning is held while this module
// loads it, and given when the user's own code first resolves node:ffi
// (require or import, through an in-thread module.registerHooks resolve
// hook), where Node itself would have printed it. A warning already printed
// (node:ffi loaded before) is not printed again, as in Node.
function requireQuietly() {
  const original = process.emitWarning;
  let held = null;
  const holding = function emitWarning(warning, type) {
    if (held === null && type === "ExperimentalWarning" && typeof warning === "string" && warning.startsWith("FFI ")) {
      held = Array.from(arguments);
      return undefined;
    }
    return Reflect.apply(original, this, arguments);
  };
  process.emitWarning = holding;
  let ffi = null;
  try {
    ffi = require("node:ffi");
  } catch {
    ffi = null;
  } finally {
    if (process.emitWarning === holding) process.emitWarning = original;
  }
  if (held !== null) giveWarningOnUsersLoad(held);
  return ffi;
}

function giveWarningOnUsersLoad(warning) {
  const { registerHooks } = require("node:module");
  if (typeof registerHooks !== "function") return;
  let hooks = null;
  let given = false;
  hooks = registerHooks({
    resolve(specifier, context, nextResolve) {
      if (!given && specifier === "node:ffi") {
        given = true;
        process.emitWarning(...warning);
        // Deregistered after this resolution, not during it.
        setImmediate(() => hooks.deregister()).unref();
      }
      return nextResolve(specifier, context);
    },
  });
}

// ---- guards --------------------------------------------------------------

// A symbol moves to node:ffi after this many calls: binding a function in
// node:ffi costs it about a millisecond here (libffi, a V8 function template
// with its fast-call information), far more than the addon's binding, so a
// library of hundreds of symbols is not made to pay it for all of them at
// dlopen(). CFFI_BUN_ENGINE=node-ffi moves each at its first call.
const CALLS_BEFORE_NODE_FFI = ENGINE === "node-ffi" ? 1 : 500;

// Signatures of two or more 8-32-bit integer arguments stay on the addon
// by default: node:ffi range-checks each in a JS wrapper of its own, and
// with two of them the guard and that wrapper no longer fit V8's inlining
// budget, so `add(i32, i32)` counted 590 instructions through node:ffi
// against the addon's 414 (Node 26.12.1, callgrind; 1.4x by time). One
// such argument still moves (`abs(i32)`: faster by time through node:ffi).
// CFFI_BUN_ENGINE=node-ffi moves them all (the tests' way to reach node:ffi
// with any signature it takes).
const SMALL_INTEGER_NODE_TYPES = new Set(["int8", "uint8", "int16", "uint16", "int32", "uint32"]);
function staysOnAddon(signature) {
  if (ENGINE === "node-ffi") return false;
  return signature.args.filter((type) => SMALL_INTEGER_NODE_TYPES.has(ARGUMENTS[type].node)).length >= 2;
}

let libraryCount = 0;
// Every guard made -> its switch, for tests and diagnosis (callsThroughNodeFfi).
const guards = new WeakMap();

// A switch off: the guard calls the addon from now on (close()).
function turnOff(on) {
  on.calls = false;
  on.left = -1;
  on.setNode(null);
}

// The addon's function given fewer arguments than declared (its TypeError),
// out of the guards so that they need `arguments.length` only.
function fewer(fn, count, ...values) {
  return Reflect.apply(fn, undefined, values.slice(0, count));
}

// An error the addon's function threw for a call that went to `slow`: if no
// JSCallback ran JS meanwhile (the count is the addon's js_callbacks_run),
// the addon made it (a bad argument, a closed library), and its stack is
// taken again from the guard's caller, as when the addon's function is
// called directly: otherwise `slow` and the guard head the stack and push
// two of the caller's frames out of Error.stackTraceLimit. A callback's
// exception, rethrown by the call, keeps the stack it was thrown with.
const captureStackTrace = Error.captureStackTrace;
function ownStack(error, ran, guard) {
  if (shared.memory[shared.callbacksRun] === ran && error instanceof Error) captureStackTrace(error, guard);
  return error;
}

// After a guard's node:ffi call threw: the state as it was, and then the
// addon's call only if node:ffi refused an argument, which it does before C
// runs and only for a BigInt out of its 64-bit type's range (the guard's
// tests pass every other value it sends in node:ffi's range). Any other
// exception came from node:ffi or V8 with C possibly run: it is thrown on,
// and C is never called twice. Out of the guards, whose size decides
// whether V8 inlines node:ffi's own checks.
function refused(error, { on, addonFn }, depth, count, ...values) {
  const { memory } = shared;
  memory[shared.lastErrno] = shared.errno[0];
  memory[shared.callDepth] = depth;
  if (!on.bigArgs.some(([i, signed]) => (signed ? BigInt.asIntN : BigInt.asUintN)(64, values[i]) !== values[i])) {
    // What a callback C called left for this call (its exception first).
    if (memory[shared.cleanupDepth] > depth) native.nodeFfiAfterCall();
    throw error;
  }
  return count >= values.length ? Reflect.apply(addonFn, undefined, values) : fewer(addonFn, count, ...values);
}

// The guards of one dlopen(), compiled from one source in which each is a
// function literal of its own: V8 keeps type feedback per literal, and a
// call site inside a guard shared by many symbols could not inline any
// node:ffi function. Guard k holds `node`, node:ffi's function, once it has
// moved (null before, and after close() turned it off); it then calls node
// for the values the tests accept, updating the addon's FFI state around the
// call as the addon's own calls do: call_depth up, with the node:ffi bit
// (no kept handle scope in callbacks meanwhile, src/callbacks/callback.c),
// errno set from the last call's before and saved right after. Everything else goes
// to `slow`, a function of its own, which counts down to the move
// (moveToNodeFfi(k)) and calls the addon's function.
//
// A call from the top level (call_depth 0, nearly every call) stores
// constants: the bit and 1 before, 0 after, and compares cleanup_depth with
// 0. Storing back a call_depth loaded before the call made a chain through
// memory from each call to the next that cost a large part of the guard's
// time (docs/engines.md has the probe's numbers). A call made
// inside another FFI call (from a JSCallback C called) goes to `nested`,
// out of line, which saves call_depth and stores it back.
//
// Each guard is kept small for V8: it is inlined into the caller, and
// node:ffi's own JS wrapper (integer arguments are range-checked there) into
// it, within one inlining budget; the guard's tests then let V8 drop
// node:ffi's repeated checks. So the slow and nested paths are out of line,
// and `arguments.length` is read only where a typeof test does not already
// prove the last argument was given.
function compileGuards(entries) {
  const { callDepth, lastErrno, cleanupDepth, callbacksRun } = shared;
  let source = `"use strict";\n// cffi-bun node-ffi guards, library #${++libraryCount}\nconst guards = [], setters = [];\n`;
  entries.forEach(({ name, signature }, k) => {
    const n = signature.args.length;
    const params = signature.args.map((_, i) => `a${i}`);
    const tests = ["node !== null"];
    const passes = [];
    // The 64-bit arguments' tests first: the ones a call fails most, when
    // it gives a number for an i64 (bun:ffi allows it; node:ffi takes
    // BigInts only), and then it goes to `slow` after one test. The tests
    // have no side effects, so their order is unobservable.
    const bigTests = [];
    signature.args.forEach((type, i) => {
      const { node, test, pass } = ARGUMENTS[type];
      if (test) (node === "int64" || node === "uint64" ? bigTests : tests).push(`(${test.replace(/\ba\b/g, params[i])})`);
      passes.push(pass.replace(/\ba\b/g, params[i]));
    });
    tests.splice(1, 0, ...bigTests);
    if (n > 0 && !ARGUMENTS[signature.args[n - 1]].test) tests.splice(1, 0, `arguments.length >= ${n}`);
    const given = params.map((p) => `, ${p}`).join("");
    source +=
      `// ${JSON.stringify(name).replace(/[\r\n\u2028\u2029]/g, "")}\n` +
      `guards[${k}] = (function (on, addon) {\n  var node = null;\n` +
      `  setters[${k}] = (fn) => { node = fn; };\n` +
      `  const guard = function (${params.join(", ")}) {\n` +
      `    if (${tests.join(" && ")}) {\n` +
      `      if (S[${callDepth}] !== 0) return nested(arguments.length${given});\n` +
      `      S[${callDepth}] = ${CALL_BIT + 1};\n      E[0] = S[${lastErrno}];\n      let r;\n` +
      `      try {\n        r = node(${passes.join(", ")});\n      } catch (error) {\n` +
      `        return refused(error, 0, ${k}, arguments.length${given});\n      }\n` +
      `      S[${lastErrno}] = E[0];\n      S[${callDepth}] = 0;\n` +
      `      if (S[${cleanupDepth}] !== 0) afterCall();\n` +
      `      return ${RETURNS[signature.returns].result};\n    }\n` +
      `    return slow(arguments.length${given});\n  };\n  return guard;\n` +
      `  function nested(count${given}) {\n` +
      `    const depth = S[${callDepth}];\n` +
      `    S[${callDepth}] = (depth | ${CALL_BIT}) + 1;\n    E[0] = S[${lastErrno}];\n    let r;\n` +
      `    try {\n      r = node(${passes.join(", ")});\n    } catch (error) {\n` +
      `      return refused(error, depth, ${k}, count${given});\n    }\n` +
      `    S[${lastErrno}] = E[0];\n    S[${callDepth}] = depth;\n` +
      `    if (S[${cleanupDepth}] > depth) afterCall();\n` +
      `    return ${RETURNS[signature.returns].result};\n  }\n` +
      `  function slow(count${given}) {\n` +
      `    if (on.left > 0 && --on.left === 0) moveToNodeFfi(${k});\n` +
      `    const ran = S[${callbacksRun}];\n    try {\n` +
      `      return count >= ${n} ? addon(${params.join(", ")}) : fewer(addon, count${given});\n` +
      `    } catch (error) {\n      throw ownStack(error, ran, guard);\n    }\n  }\n` +
      `})(switches[${k}], addons[${k}]);\n`;
  });
  source += "return { guards, setters };\n";
  // vm.compileFunction: new Function took 15-20 times as long for the same
  // source (about 250 us a guard here, against 15).
  return compileFunction(source, ["switches", "addons", "S", "E", "afterCall", "fewer", "moveToNodeFfi", "refused", "ownStack"]);
}

// The guard dressed as the addon's function: its own properties (name,
// length, ptr, async, ...) with the same attributes, native the guard
// itself, and the same toString().
const FUNCTIONS_OWN = new Set(["prototype", "arguments", "caller"]);
function dress(guard, addonFn) {
  const text = Function.prototype.toString.call(addonFn);
  for (const key of Reflect.ownKeys(addonFn)) {
    if (FUNCTIONS_OWN.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(addonFn, key);
    if (key === "native") descriptor.value = guard;
    Object.defineProperty(guard, key, descriptor);
  }
  Object.defineProperty(guard, "toString", { value: { toString() { return text; } }.toString, writable: true, configurable: true });
  return standInFor(guard, addonFn);
}

// ---- dlopen --------------------------------------------------------------

// lib: the addon's { symbols, close } for dlopen(path, definitions). Returns
// it with the eligible symbols' functions replaced by guards and close()
// closing node:ffi's handle too, or unchanged. node:ffi is loaded, and the
// library opened in it, only when a first guard moves.
function adopt(lib, path, definitions) {
  if (disabledByEnvironment() || nodeFfi === null || typeof path !== "string" || definitions === null || typeof definitions !== "object") return lib;
  if (nodeFfi === undefined && !mayLoad()) return lib;
  const entries = [];
  for (const name of Object.keys(lib.symbols)) {
    let signature = null;
    try {
      signature = eligibleSignature(definitions[name]);
    } catch {
      signature = null;
    }
    const addonFn = lib.symbols[name];
    // A data symbol (environ) throws when called; node:ffi would call it.
    if (signature !== null && !staysOnAddon(signature) && typeof addonFn === "function" && signature.args.length === addonFn.length && !native.isDataSymbol(addonFn))
      entries.push({ name, signature, addonFn, on: { calls: false, left: CALLS_BEFORE_NODE_FFI, name, setNode: null, bigArgs: bigArguments(signature) } });
  }
  if (entries.length === 0) return lib;

  const library = { path, closed: false, node: undefined };
  const moveToNodeFfi = (k) => move(library, entries[k]);
  const refusedIn = (error, depth, k, count, ...values) => refused(error, entries[k], depth, count, ...values);
  const { guards: made, setters } = compileGuards(entries)(entries.map((e) => e.on), entries.map((e) => e.addonFn), shared.memory, shared.errno, native.nodeFfiAfterCall, fewer, moveToNodeFfi, refusedIn, ownStack);
  entries.forEach((entry, k) => {
    entry.on.setNode = setters[k];
    const guard = dress(made[k], entry.addonFn);
    guards.set(guard, entry.on);
    lib.symbols[entry.name] = guard;
  });

  const addonClose = lib.close;
  lib.close = {
    close() {
      addonClose();
      if (library.closed) return;
      library.closed = true;
      for (const { on } of entries) turnOff(on);
      const nodeLib = library.node;
      if (!nodeLib) return;
      // Inside an FFI call (a callback closing its library), node:ffi's
      // frames may still be below: its handle goes when the loop turns, as
      // the addon's own unload does.
      if (shared.memory[shared.callDepth] > 0) setImmediate(() => nodeLib.close());
      else nodeLib.close();
    },
  }.close;
  return lib;
}

// Without node:ffi loaded yet: whether it could be (cheap checks only;
// load() does the rest at the first move). The guards need the shared
// state from the start.
function mayLoad() {
  const { isBuiltin } = require("node:module");
  if (!isBuiltin("node:ffi")) return false; // before Node 26, and under --no-experimental-ffi
  if (process.permission && !process.permission.has("ffi")) return false;
  if (shared === null) shared = sharedState();
  return shared !== null;
}

// [index, signed] of each 64-bit argument: the values node:ffi may refuse.
function bigArguments(signature) {
  const list = [];
  signature.args.forEach((type, i) => {
    if (ARGUMENTS[type].node === "int64" || ARGUMENTS[type].node === "uint64") list.push([i, ARGUMENTS[type].node === "int64"]);
  });
  return list;
}

// Guard entry's first move: binds its symbol in node:ffi (the library opened
// there once), checks it is the addon's code, and turns the guard on. Tried
// once; on any failure the symbol stays on the addon.
function move(library, entry) {
  entry.on.left = -1;
  if (library.closed || load() === null) return;
  if (library.node === undefined) {
    try {
      library.node = nodeFfi.dlopen(library.path).lib;
    } catch (error) {
      library.node = null;
      // a name only the addon finds (./name), or anything node:ffi refuses
      if (DEBUG) debug(`node-ffi engine: node:ffi cannot open "${library.path}" (${error && error.message}); its symbols stay on the addon`);
    }
  }
  if (library.node === null) return;
  const { name, signature, addonFn } = entry;
  let nodeFn;
  try {
    nodeFn = library.node.getFunction(name, {
      arguments: signature.args.map((type) => ARGUMENTS[type].node),
      return: RETURNS[signature.returns].node,
    });
  } catch (error) {
    if (DEBUG) debug(`node-ffi engine: node:ffi refuses ${name} (${error && error.message}); it stays on the addon`);
    return;
  }
  // The same code, or nothing: node:ffi may have opened another file.
  if (typeof nodeFn !== "function" || typeof nodeFn.pointer !== "bigint" || nodeFn.pointer !== BigInt(addonFn.ptr) || nodeFn.length !== signature.args.length) {
    if (DEBUG) debug(`node-ffi engine: node:ffi's ${name} in "${library.path}" is not the addon's; it stays on the addon`);
    return;
  }
  entry.on.setNode(nodeFn);
  entry.on.node = nodeFn;
  entry.on.calls = true;
  if (DEBUG) debug(`node-ffi engine: ${name} calls through node:ffi from now on (the addon for values node:ffi converts differently)`);
}

// ---- read.* -------------------------------------------------------------

// read.u8 ... read.f64 through node:ffi: node:ffi binds the addon's own
// readers (src/memory/node_ffi_read.c) and V8 calls them through its fast
// API. A guard per type sends them what the addon's quick path takes (a
// number that is an integer address at or above the first page and below
// the quick limit, plus an optional integer offset, summed here) and
// everything else to the addon's read.*, for its results and errors. As
// for symbols, a type moves after CALLS_BEFORE_NODE_FFI calls, so that a
// program reading memory a few times never loads node:ffi.
// read.ptr/intptr (a number above 2^53 too) and the 64-bit reads (BigInt)
// stay on the addon.
const READS = { u8: "uint8", i8: "int8", u16: "uint16", i16: "int16", u32: "uint32", i32: "int32", f32: "float", f64: "double" };

function compileReads(types, first, limit) {
  let source = `"use strict";\nconst guards = {}, setters = {};\n`;
  for (const type of types) {
    source +=
      `guards.${type} = (function (on, addon) {\n  var node = null;\n  setters.${type} = (fn) => { node = fn; };\n` +
      `  return function (a, o) {\n` +
      `    if (node !== null && typeof a === "number" && a >= ${first}) {\n` +
      `      if (arguments.length === 1) {\n        if (a < ${limit} && Math.floor(a) === a) return node(a);\n` +
      `      } else if (arguments.length === 2 && typeof o === "number") {\n        const at = a + o;\n` +
      `        if (at >= ${first} && at < ${limit} && Math.floor(at) === at && Math.floor(o) === o) return node(at);\n      }\n    }\n` +
      `    return slow(arguments.length, a, o);\n  };\n` +
      `  function slow(count, a, o) {\n    if (--on.left === 0) move("${type}");\n` +
      `    return count >= 2 ? addon(a, o) : count === 1 ? addon(a) : addon();\n  }\n` +
      `})(switches.${type}, addons.${type});\n`;
  }
  source += "return { guards, setters };\n";
  return compileFunction(source, ["switches", "addons", "move"]);
}

// The file the addon was loaded from, for node:ffi to open (already loaded:
// the same handle, and so the same readers).
function addonFile() {
  for (const loaded of Object.values(require.cache))
    if (loaded && loaded.exports === native && loaded.filename.endsWith(".node")) return loaded.filename;
  return null;
}

// read: the addon's read object. Its scalar types are replaced, in place, by
// guards dressed as the addon's functions (name, length, toString()), where
// the engine may be used; otherwise it is left alone.
function adoptReads(read) {
  if (disabledByEnvironment() || nodeFfi === null || typeof native.nodeFfiReadInfo !== "function") return read;
  if (nodeFfi === undefined && !mayLoad()) return read;
  const { first, limit, prefix } = native.nodeFfiReadInfo();
  const types = Object.keys(READS).filter((type) => typeof read[type] === "function");
  const switches = {}, addons = {};
  for (const type of types) {
    switches[type] = { left: CALLS_BEFORE_NODE_FFI, calls: false };
    addons[type] = read[type];
  }
  let library; // node:ffi's handle on the addon's file: undefined, or null when unusable
  const move = (type) => {
    switches[type].left = -1;
    if (load() === null) return;
    if (library === undefined) {
      const file = addonFile();
      try {
        library = file === null ? null : nodeFfi.dlopen(file).lib;
      } catch (error) {
        library = null;
        if (DEBUG) debug(`node-ffi engine: node:ffi cannot open the addon "${file}" (${error && error.message}); read.* stays on the addon`);
      }
    }
    if (library === null) return;
    let nodeFn;
    try {
      nodeFn = library.getFunction(prefix + type, { arguments: ["double"], return: READS[type] });
    } catch (error) {
      if (DEBUG) debug(`node-ffi engine: node:ffi refuses read.${type}'s reader (${error && error.message}); it stays on the addon`);
      return;
    }
    if (typeof nodeFn !== "function" || typeof nodeFn.pointer !== "bigint" || nodeFn.pointer === 0n) return;
    setters[type](nodeFn);
    switches[type].calls = true;
    if (DEBUG) debug(`node-ffi engine: read.${type} reads through node:ffi from now on (the addon for values its quick path does not take)`);
  };
  const { guards: made, setters } = compileReads(types, first, limit)(switches, addons, move);
  for (const type of types) {
    const guard = made[type];
    const addonFn = addons[type];
    const text = Function.prototype.toString.call(addonFn);
    for (const key of ["length", "name"]) Object.defineProperty(guard, key, Object.getOwnPropertyDescriptor(addonFn, key));
    Object.defineProperty(guard, "toString", { value: { toString() { return text; } }.toString, writable: true, configurable: true });
    guards.set(guard, switches[type]);
    read[type] = guard;
  }
  return read;
}

// Whether fn, a bound function, would call through node:ffi now (for
// values node:ffi takes): false once its library is closed.
function callsThroughNodeFfi(fn) {
  const on = guards.get(fn);
  return on !== undefined && on.calls;
}

// For tests only: has fn's guard call wrap(node:ffi's function) instead,
// until the returned function is called (an exception node:ffi could throw
// after C ran is not reachable otherwise with today's types).
function setNodeForTest(fn, wrap) {
  const on = guards.get(fn);
  if (on === undefined || !on.calls) throw new Error("not a guard calling through node:ffi");
  on.setNode(wrap(on.node));
  return () => on.calls && on.setNode(on.node);
}

module.exports = { adopt, adoptReads, eligibleSignature, callsThroughNodeFfi, setNodeForTest };
