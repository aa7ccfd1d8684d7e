"use strict";
// Run as a child by test/batch.test.js under each CFFI_BUN_ENGINE: every
// type's identity and add functions through single calls, one batch and
// runAsync, printing the entries whose results differ (as JSON).
const ffi = require("../..");
const { fixturePath } = require("./fixture");

const INTS = { i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535], i32: [-2147483648, 2147483647],
  u32: [0, 4294967295], char: [-128, 127] };
const defs = {};
const inputs = [];
// Numbers are staged as they are and converted by the addon (ToInt32 and the
// like): past 2^31, 2^53 and 2^63 they wrap as the single call wraps them.
const WRAPS = [2 ** 32 + 5, -(2 ** 31) - 1, 2 ** 53 + 2, 1e20, -1e20, Infinity, -0, true, false, 2n ** 40n + 3n, -5n];
for (const [t, [lo, hi]] of Object.entries(INTS)) inputs.push([t, [lo, hi, 0, 1, -1, 300, 1.9, NaN, ...WRAPS]]);
inputs.push(["i64", [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 5, 2n ** 64n + 3n, -7.9, 2 ** 63, 1e20, -1e20, NaN, true]]);
inputs.push(["u64", [0n, 2n ** 64n - 1n, 2n ** 63n, -1n, 7, 2 ** 64 + 4096, -1e20, NaN, false]]);
inputs.push(["f32", [0, -0, 0.1, 3.4028234663852886e38, 1e39, NaN, -Infinity]]);
inputs.push(["f64", [0, -0, 0.1, Number.MAX_VALUE, Number.MIN_VALUE, NaN, -Infinity]]);
inputs.push(["bool", [true, false, 0, 1, NaN, -0, 0.5, 0n, 5n, "", "x", null]]);
inputs.push(["ptr", [0, 4096, 2 ** 52, null]]);
for (const [t] of inputs) {
  defs[`identity_${t}`] = { args: [t], returns: t };
  defs[`add_${t}`] = { args: [t, t], returns: t };
}
defs.my_strlen = { args: ["cstring"], returns: "u64" };
defs.sum16_i32 = { args: Array(16).fill("i32"), returns: "i64" };
defs.sum10_f64 = { args: Array(10).fill("f64"), returns: "f64" };
const S = ffi.dlopen(fixturePath(), defs).symbols;

const calls = [];
for (const [t, values] of inputs) {
  for (const v of values) {
    calls.push([`identity_${t}`, v]);
    calls.push([`add_${t}`, v, values[1]]);
  }
}
for (const s of ["", "hello", "h\u00e9llo \u2713", "x".repeat(5000)]) calls.push(["my_strlen", s]);
calls.push(["sum16_i32", ...Array.from({ length: 16 }, (_, i) => i * 1000 - 7)]);
calls.push(["sum10_f64", ...Array.from({ length: 10 }, (_, i) => i / 3)]);

const show = (v) => (typeof v === "bigint" ? `${v}n` : Object.is(v, -0) ? "-0" : String(v));
const single = calls.map(([name, ...args]) => S[name](...args));
const b = ffi.batch();
for (const [name, ...args] of calls) b.add(S[name], ...args);
const batched = b.run();
// Typed results (run({ results: "typed" }), run({ into })): one batch per
// function, staged (plain values) or in a native buffer (a ptr argument, or
// run again), against the single calls' results in the kind map returns.
const ARRAYS = { i8: Int8Array, char: Int8Array, u8: Uint8Array, bool: Uint8Array, i16: Int16Array, u16: Uint16Array,
  i32: Int32Array, u32: Uint32Array, i64: BigInt64Array, u64: BigUint64Array, ptr: BigUint64Array, f32: Float32Array,
  f64: Float64Array };
const typedDiffs = [];
for (const [t] of inputs) {
  for (const name of [`identity_${t}`, `add_${t}`]) {
    const own = calls.filter(([n]) => n === name);
    const expected = ARRAYS[t].from(calls.flatMap(([n], i) => (n === name ? [single[i]] : []))
      .map((v) => (t === "ptr" ? BigInt(v ?? 0) : t === "bool" ? Number(v) : v)));
    const tb = ffi.batch();
    for (const [, ...args] of own) tb.add(S[name], ...args);
    const runs = [tb.run({ results: "typed" }), tb.run({ results: "typed" }), tb.run({ into: new ARRAYS[t](own.length) })];
    // The same consecutive entries as an Array (runs of one function take map's loop).
    const fresh = ffi.batch();
    for (const [, ...args] of own) fresh.add(S[name], ...args);
    const singles = calls.flatMap(([n], i) => (n === name ? [show(single[i])] : [])).join();
    for (const [run, got] of [["array, staged", fresh.run()], ["array, native", tb.run()]])
      if (got.map(show).join() !== singles) typedDiffs.push({ name, run, got: got.map(show).join(), expected: singles });
    runs.forEach((got, run) => {
      if (got.constructor !== ARRAYS[t] || [...got].map(show).join() !== [...expected].map(show).join())
        typedDiffs.push({ name, run, got: [...got].map(show), expected: [...expected].map(show) });
    });
  }
}
// Per type, identity and add in turn, all staged: no two consecutive entries
// share a function, so each is called from the staged words (no segment).
for (const [t, values] of inputs) {
  if (t === "ptr") continue;
  const own = calls.flatMap(([name, ...args], i) => (name === `identity_${t}` || name === `add_${t}` ? [[name, args, i]] : []));
  const mixed = ffi.batch();
  for (const [name, args] of own) mixed.add(S[name], ...args);
  const got = mixed.run().map(show).join();
  const expected = own.map(([, , i]) => show(single[i])).join();
  if (got !== expected) typedDiffs.push({ name: `identity_${t} and add_${t} in turn`, run: "staged", got, expected });
}
b.runAsync().then((asyncResults) => {
  const diffs = typedDiffs;
  calls.forEach(([name, ...args], i) => {
    if (show(single[i]) !== show(batched[i]) || show(single[i]) !== show(asyncResults[i]))
      diffs.push({ i, name, args: args.map(show), single: show(single[i]), batch: show(batched[i]), async: show(asyncResults[i]) });
  });
  process.stdout.write(JSON.stringify({ entries: calls.length, diffs }));
});
