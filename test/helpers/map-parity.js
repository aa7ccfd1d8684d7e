"use strict";
// Run as a child by test/batch.test.js under each CFFI_BUN_ENGINE: sym.map
// over every numeric type (columns, broadcasts, both) with n large enough
// for the generated loop (src/calls/map_jit.c) where the engine has one,
// against single calls (and again into an array given as options.into);
// prints the mismatches and which loops compiled.
const ffi = require("../..");
const { fixturePath } = require("./fixture");

const N = 300;
const TYPES = {
  i8: [Int8Array, [-128, 127, 0, -1]], u8: [Uint8Array, [0, 255, 1, 128]], i16: [Int16Array, [-32768, 32767, 0, -1]],
  u16: [Uint16Array, [0, 65535, 9, 1]], i32: [Int32Array, [-2147483648, 2147483647, 0, -1]],
  u32: [Uint32Array, [0, 4294967295, 5, 1]], i64: [BigInt64Array, [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]],
  u64: [BigUint64Array, [0n, 2n ** 64n - 1n, 3n, 2n ** 63n]], f32: [Float32Array, [-3.4028234663852886e38, 0.5, -0, 1e-40]],
  f64: [Float64Array, [Number.MAX_VALUE, -Infinity, NaN, -0]], char: [Int8Array, [-128, 127, 65, 0]],
  bool: [Uint8Array, [0, 1, 2, 255]], i64_fast: [BigInt64Array, [1n, -(2n ** 60n), 2n ** 62n, 0n]],
  u64_fast: [BigUint64Array, [7n, 2n ** 64n - 1n, 0n, 2n ** 53n]],
};
const defs = {};
for (const t of Object.keys(TYPES)) {
  const fixtureType = t.endsWith("_fast") ? t.slice(0, 3) : t;
  defs[`identity_${t}`] = { args: [t], returns: t, ptr: null, name: `identity_${fixtureType}` };
  if (t !== "bool") defs[`add_${t}`] = { args: [t, t], returns: t, name: `add_${fixtureType}` };
}
// dlopen by the fixture's names, then give each definition its own type.
const lib = ffi.dlopen(fixturePath(), Object.fromEntries(Object.entries(defs).filter(([k]) => !k.includes("_fast")).map(([k, d]) => [k, { args: d.args, returns: d.returns }])));
const S = { ...lib.symbols };
for (const t of ["i64_fast", "u64_fast"]) {
  const base = t.slice(0, 3);
  S[`identity_${t}`] = ffi.CFunction({ ptr: lib.symbols[`identity_${base}`].ptr, args: [t], returns: t });
  S[`add_${t}`] = ffi.CFunction({ ptr: lib.symbols[`add_${base}`].ptr, args: [t, t], returns: t });
}
const show = (v) => (typeof v === "bigint" ? `${v}n` : Object.is(v, -0) ? "-0" : String(v));
const diffs = [];
let checked = 0;
let intoChecked = 0;
for (const [t, [Store, seeds]] of Object.entries(TYPES)) {
  const column = Store.from({ length: N }, (_, i) => seeds[i % seeds.length]);
  const other = Store.from({ length: N }, (_, i) => seeds[(i + 1) % seeds.length]);
  const scalar = seeds[1];
  const cases = [[`identity_${t}`, [column]]];
  if (t !== "bool") cases.push([`add_${t}`, [column, other]], [`add_${t}`, [column, scalar]], [`add_${t}`, [scalar, other]]);
  for (const [name, args] of cases) {
    const mapped = S[name].map(N, ...args);
    // options.into: the same results in the array given, which is returned.
    const into = new mapped.constructor(N).fill(typeof mapped[0] === "bigint" ? 5n : 5);
    const again = S[name].map(N, ...args, { into });
    intoChecked++;
    if (again !== into || [...into].map(show).join() !== [...mapped].map(show).join()) diffs.push({ name, into: true });
    for (let i = 0; i < N; i++) {
      const single = S[name](...args.map((a) => (ArrayBuffer.isView(a) ? a[i] : a)));
      // bool results come back as 0/1 in a Uint8Array; everything else as the single call's value.
      const want = typeof single === "boolean" ? Number(single) : typeof mapped[i] === "bigint" ? BigInt(single) : single;
      checked++;
      if (show(want) !== show(mapped[i])) {
        diffs.push({ name, i, args: args.map((a) => show(ArrayBuffer.isView(a) ? a[i] : a)), single: show(single), map: show(mapped[i]) });
        break;
      }
    }
  }
}
process.stdout.write(JSON.stringify({ checked, intoChecked, diffs }));
