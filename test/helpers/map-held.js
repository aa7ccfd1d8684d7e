"use strict";
// Run as a child by test/batch.test.js under each CFFI_BUN_ENGINE: sym.map
// over functions that call a JSCallback on every call, so that every loop
// (the C loop, the precompiled loops, the generated loop) ends after each
// call and leaves that call's result for map_call to store once it has
// checked options.into again. Prints the mismatches with single calls, and
// whether a map ever wrote into memory options.into no longer owned.
const ffi = require("../..");
const { fixturePath } = require("./fixture");
const { ccUnavailable } = require("./platform");

const diffs = [];
let checked = 0;
const same = (a, b) => Object.is(a, b);

function check(name, fn, cbType, Store, values) {
  const cb = new ffi.JSCallback((x) => x, { args: [cbType], returns: cbType });
  try {
    for (const n of [10, 300]) { // under 256 the C loop; from 256 the precompiled or generated one
      const input = Store.from({ length: n }, (_, i) => values[i % values.length]);
      const expected = [...input].map((v) => fn(cb, v));
      for (const into of [undefined, new Store(n)]) {
        const out = into ? fn.map(n, cb, input, { into }) : fn.map(n, cb, input);
        for (let i = 0; i < n; i++, checked++)
          if (!same(out[i], expected[i])) diffs.push(`${name} n=${n}${into ? " into" : ""} [${i}]: ${out[i]} != ${expected[i]}`);
      }
      // A callback detaching options.into at the third call: the map throws
      // and stores nothing into the memory the buffer handed on.
      const into = new Store(n);
      let seen = 0, moved;
      const detacher = new ffi.JSCallback((x) => {
        if (++seen === 3) moved = structuredClone(into.buffer, { transfer: [into.buffer] });
        return x;
      }, { args: [cbType], returns: cbType });
      try {
        fn.map(n, detacher, input, { into });
        diffs.push(`${name} n=${n}: no error after options.into was detached`);
      } catch (e) {
        if (!/options\.into was detached/.test(e.message)) diffs.push(`${name} n=${n}: ${e.message}`);
      } finally {
        detacher.close();
      }
      const after = new Store(moved);
      const zero = Store === BigInt64Array || Store === BigUint64Array ? 0n : 0;
      for (let i = 0; i < n; i++, checked++) // the first two calls' results were stored before the detach
        if (!same(after[i], i < 2 ? expected[i] : zero))
          diffs.push(`${name} n=${n}: element ${i} is ${after[i]} after options.into was detached at the third call`);
    }
  } finally {
    cb.close();
  }
}

const F = ffi.dlopen(fixturePath(), { call_i32_fn: { args: ["function", "i32"], returns: "i32" } }).symbols;
check("call_i32_fn", F.call_i32_fn, "i32", Int32Array, [-2147483648, 2147483647, 7, 0, -1]);
if (!ccUnavailable()) {
  const C = ffi.cc({
    source: `
      double call_f64(double (*f)(double), double x) { return f(x); }
      float call_f32(float (*f)(float), float x) { return f(x); }
      long long call_i64(long long (*f)(long long), long long x) { return f(x); }
      unsigned long long call_u64(unsigned long long (*f)(unsigned long long), unsigned long long x) { return f(x); }
      unsigned call_u32(unsigned (*f)(unsigned), unsigned x) { return f(x); }
    `,
    symbols: {
      call_f64: { args: ["function", "f64"], returns: "f64" },
      call_f32: { args: ["function", "f32"], returns: "f32" },
      call_i64: { args: ["function", "i64"], returns: "i64" },
      call_u64: { args: ["function", "u64"], returns: "u64" },
      call_u32: { args: ["function", "u32"], returns: "u32" },
    },
  }).symbols;
  check("call_f64", C.call_f64, "f64", Float64Array, [Number.MAX_VALUE, -Infinity, NaN, -0, 0.5]);
  check("call_f32", C.call_f32, "f32", Float32Array, [-3.4028234663852886e38, 0.5, -0, 1e-40]);
  check("call_i64", C.call_i64, "i64", BigInt64Array, [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
  check("call_u64", C.call_u64, "u64", BigUint64Array, [0n, 2n ** 64n - 1n, 2n ** 63n]);
  check("call_u32", C.call_u32, "u32", Uint32Array, [0, 4294967295, 5]);
}
process.stdout.write(JSON.stringify({ checked, diffs }));
