"use strict";
// The type battery: every FFIType through the fixture library's identity/add/
// min/max functions, conversions at the limits, and the many-argument calls.
// Run three times: by types.test.js (default engine: jit wrappers), by
// types-registers.test.js (CFFI_BUN_ENGINE=registers) and by
// types-libffi.test.js (CFFI_BUN_ENGINE=ffi, which forces libffi for every call).
const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { fixturePath } = require("./fixture");

const ROOT = path.join(__dirname, "..", "..");

// 8-32-bit integer types with a TypedArray that stores exactly like them.
const SMALL_INTS = [
  { name: "i8", Store: Int8Array, min: -128, max: 127 },
  { name: "u8", Store: Uint8Array, min: 0, max: 255 },
  { name: "i16", Store: Int16Array, min: -32768, max: 32767 },
  { name: "u16", Store: Uint16Array, min: 0, max: 65535 },
  { name: "i32", Store: Int32Array, min: -2147483648, max: 2147483647 },
  { name: "u32", Store: Uint32Array, min: 0, max: 4294967295 },
  { name: "char", Store: Int8Array, min: -128, max: 127 },
];

// Values that exercise modular wrapping, truncation and the NaN/Infinity rule.
const NUMBER_INPUTS = [
  0, 1, -1, 2, 44, 127, 128, -128, -129, 255, 256, 300, -300, 32767, 32768, -32769,
  65535, 65536, 2147483647, 2147483648, -2147483648, -2147483649, 4294967295,
  4294967296, 4294967296 + 5, -4294967296 - 5, 1.9, -1.9, 2.5, -2.5, 0.5, -0.5,
  255.99, 1e10 + 0.5, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 1e20, -1e20, 2 ** 64, 2 ** 80 + 2 ** 40,
  Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, -0,
];

function expected64(v, signed) {
  if (typeof v === "bigint") return signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
  if (!Number.isFinite(v)) return 0n;
  const b = BigInt(Math.trunc(v));
  return signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
}

const BIG_INPUTS = [
  0n, 1n, -1n, 5n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n,
  -(2n ** 63n), -(2n ** 63n) - 1n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 5n,
  -(2n ** 64n) - 1n, 2n ** 100n + 7n, -(2n ** 100n) - 7n,
];
const NUMBER_INPUTS_64 = [
  0, 1, -1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 2 ** 62, 2 ** 63, -(2 ** 63), 2 ** 64, 2 ** 64 + 2 ** 12, 1e20, -1e20, 1e30,
  1.9, -1.9, 0.5, -0.5, NaN, Infinity, -Infinity, -0,
  // Past the inline range (|d| < 9.2e18) and odd multiples of 1024, so adding
  // 2^64 to them rounds: Bun 1.4.5 gives each one's exact ToInt64 (the
  // fuzz found -9201306384056806400 coming back 1024 lower).
  -9201306384056806400, -(2 ** 63) + 1024, -9.21e18, 9.21e18, -1.5 * 2 ** 63, -(2 ** 64) + 2048,
];

const FLOAT_INPUTS = [
  0, -0, 1, -1, 0.1, 1 / 3, -2.75, 1e-45, 1e-40, 3.4028234663852886e38, 3.4028235e38,
  1e39, -1e39, 16777217, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity,
  -Infinity,
];

function label(v) {
  if (typeof v === "bigint") return `${v}n`;
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

function buildDefinitions() {
  const defs = {};
  const intTypes = SMALL_INTS.map((t) => t.name).concat(["i64", "u64", "f32", "f64", "bool", "ptr"]);
  for (const t of intTypes) {
    defs[`identity_${t}`] = { args: [t], returns: t };
    defs[`add_${t}`] = { args: [t, t], returns: t };
    defs[`min_${t}`] = { args: [], returns: t };
    defs[`max_${t}`] = { returns: t };
  }
  Object.assign(defs, {
    bool_to_int: { args: ["bool"], returns: "i32" },
    ptr_2_52: { returns: "ptr" },
    ptr_2_53_plus_1: { returns: "ptr" },
    ptr_to_u64: { args: ["ptr"], returns: "u64" },
    u64_low: { args: ["u64"], returns: "u32" },
    u64_high: { args: ["u64"], returns: "u32" },
    f32_to_f64: { args: ["f32"], returns: "f64" },
    void_fn: { args: [], returns: "void" },
    void_fn_calls: { returns: "i32" },
    no_args: { returns: "i32" },
    mixed12: {
      args: ["i8", "f64", "i32", "f32", "i64", "f64", "u16", "f32", "u64", "f64", "i32", "f64"],
      returns: "f64",
    },
    sum16_i32: { args: Array(16).fill("i32"), returns: "i64" },
    last_of16_i32: { args: Array(16).fill("i32"), returns: "i32" },
    sum10_f64: { args: Array(10).fill("f64"), returns: "f64" },
    mixed_floats: {
      args: ["f32", "i32", "f32", "i32", "f32", "f32", "i32", "f32", "f32", "i32", "f32", "f32"],
      returns: "f64",
    },
    sum9_f32: { args: Array(9).fill("f32"), returns: "f32" },
    ints6_doubles9: { args: [...Array(6).fill("i32"), ...Array(9).fill("f64")], returns: "f64" },
    stack_u64: { args: Array(8).fill("u64"), returns: "u64" },
    stack_small: {
      args: ["i32", "i32", "i32", "i32", "i32", "i32", "i8", "u8", "i16", "u16", "bool", "char"],
      returns: "i32",
    },
  });
  return defs;
}

// FFIType value -> how to check a definition that uses that type (by any alias).
// cstring16 and wstring: a JS string to C and back through identity_ptr.
const wideStringCase = {
  sym: "identity_ptr",
  def: (a) => ({ args: [a], returns: a }),
  check: (f) => {
    assert.equal(f("h\u00e9 \u{1F600}"), "h\u00e9 \u{1F600}");
    assert.equal(f(null), null);
  },
};

function aliasCases(S) {
  const f32 = Math.fround;
  return {
    0: { sym: "identity_char", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-5), -5) },
    1: { sym: "identity_i8", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(300), 44) },
    2: { sym: "identity_u8", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-1), 255) },
    3: { sym: "identity_i16", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(40000), -25536) },
    4: { sym: "identity_u16", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-1), 65535) },
    5: { sym: "identity_i32", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(2 ** 31), -(2 ** 31)) },
    6: { sym: "identity_u32", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-1), 4294967295) },
    7: { sym: "identity_i64", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-5), -5n) },
    8: { sym: "identity_u64", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(-1n), 2n ** 64n - 1n) },
    9: { sym: "identity_f64", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(0.1), 0.1) },
    10: { sym: "identity_f32", def: (a) => ({ args: [a], returns: a }), check: (f) => assert.equal(f(0.1), f32(0.1)) },
    11: { sym: "identity_bool", def: (a) => ({ args: [a], returns: a }), check: (f) => { assert.equal(f(true), true); assert.equal(f(false), false); } },
    12: { sym: "identity_ptr", def: (a) => ({ args: [a], returns: a }), check: (f) => { assert.equal(f(4096), 4096); assert.equal(f(null), null); } },
    13: {
      sym: "void_fn",
      def: (a) => ({ args: [], returns: a }),
      check: (f) => {
        const before = S.void_fn_calls();
        assert.equal(f(), undefined);
        assert.equal(S.void_fn_calls(), before + 1);
      },
    },
    14: {
      sym: "identity_ptr",
      def: (a) => ({ args: [a], returns: a }),
      check: (f) => {
        const bytes = Buffer.from("abc é\0", "utf8");
        assert.equal(f(bytes), "abc é");
        assert.equal(f(null), null);
      },
    },
    15: { sym: "identity_i64", def: (a) => ({ args: ["i64"], returns: a }), check: (f) => { assert.equal(f(-5n), -5); assert.equal(f(2n ** 60n), 2n ** 60n); } },
    16: { sym: "identity_u64", def: (a) => ({ args: ["u64"], returns: a }), check: (f) => { assert.equal(f(5n), 5); assert.equal(f(-1n), 2n ** 64n - 1n); } },
    17: {
      sym: "call_i32_fn",
      def: (a) => ({ args: [a, "i32"], returns: "i32" }),
      check: (f) => assert.equal(f(S.identity_i32.ptr, 77), 77),
    },
    18: {
      sym: "napi_type_of",
      def: (a) => ({ args: [a, "napi_value"], returns: "i32" }),
      // Passing the value twice works whether or not napi_env takes a JS
      // argument position. napi_valuetype: napi_string = 4.
      check: (f) => assert.equal(f("s", "s"), 4),
    },
    19: {
      sym: "napi_value_identity",
      def: (a) => ({ args: [a], returns: a }),
      check: (f) => {
        const o = { x: 1 };
        assert.equal(f(o), o);
      },
    },
    20: {
      sym: "sum_bytes",
      def: (a) => ({ args: [a, "i32"], returns: "i32" }),
      check: (f) => assert.equal(f(Uint8Array.of(1, 2, 3, 250), 4), 256),
    },
    21: {
      sym: "identity_u64",
      def: (a) => ({ args: [a], returns: "u64" }),
      check: (f) => {
        assert.equal(f(new Uint8Array(7)), 7n);
        assert.equal(f(new Float64Array(3)), 24n);
      },
    },
    // Beyond Bun: wide strings (test/wide-strings.test.js has the rest).
    22: wideStringCase,
    23: wideStringCase,
  };
}

module.exports = function typeBattery(engineLabel) {
  const ffi = require(ROOT);
  const { dlopen, FFIType } = ffi;
  let lib;
  let S;
  const libPath = fixturePath();
  const opened = [];

  before(() => {
    lib = dlopen(libPath, buildDefinitions());
    S = lib.symbols;
  });
  after(() => {
    for (const l of opened) l.close();
    if (lib) lib.close();
  });

  describe(`[${engineLabel}] 8-32-bit integers wrap like typed-array stores`, () => {
    for (const t of SMALL_INTS) {
      test(`${t.name}: identity at the limits and wrapping`, () => {
        const id = S[`identity_${t.name}`];
        for (const v of NUMBER_INPUTS) {
          const want = new t.Store([v])[0];
          const got = id(v);
          assert.equal(typeof got, "number", `${t.name}(${label(v)}) type`);
          assert.ok(Object.is(got, want), `identity_${t.name}(${label(v)}): expected ${want}, got ${label(got)}`);
        }
      });
      test(`${t.name}: min, max, add`, () => {
        assert.equal(S[`min_${t.name}`](), t.min);
        assert.equal(S[`max_${t.name}`](), t.max);
        const add = S[`add_${t.name}`];
        assert.equal(add(t.max, 1), t.min, "max + 1 wraps to min");
        assert.equal(add(t.min, -1), t.max, "min - 1 wraps to max");
        assert.equal(add(0, 0), 0);
        assert.equal(add(-1, 0), new t.Store([-1])[0]);
        assert.equal(add(20, 22), 42);
        assert.equal(add(t.max, t.max), new t.Store([t.max * 2])[0]);
      });
    }
    test("i8(300) is 44, u32(-1) is 4294967295, char is signed", () => {
      assert.equal(S.identity_i8(300), 44);
      assert.equal(S.identity_u32(-1), 4294967295);
      assert.equal(S.identity_char(200), -56);
      assert.equal(S.identity_char(-1), -1);
      assert.equal(S.min_char(), -128);
    });
    test("fractions truncate toward zero; NaN and +-Infinity become 0", () => {
      assert.equal(S.identity_i32(2.9), 2);
      assert.equal(S.identity_i32(-2.9), -2);
      assert.equal(S.identity_u8(255.9), 255);
      for (const v of [NaN, Infinity, -Infinity]) {
        for (const t of SMALL_INTS) assert.equal(S[`identity_${t.name}`](v), 0, `${t.name}(${v})`);
        assert.equal(S.identity_i64(v), 0n, `i64(${v})`);
        assert.equal(S.identity_u64(v), 0n, `u64(${v})`);
      }
    });
  });

  describe(`[${engineLabel}] 64-bit integers`, () => {
    for (const [name, signed] of [["i64", true], ["u64", false]]) {
      test(`${name}: identity of BigInts wraps modulo 2^64 and returns BigInt`, () => {
        const id = S[`identity_${name}`];
        for (const v of BIG_INPUTS) {
          const got = id(v);
          assert.equal(typeof got, "bigint", `${name}(${label(v)}) returns a BigInt`);
          assert.equal(got, expected64(v, signed), `${name}(${label(v)})`);
        }
      });
      test(`${name}: identity of numbers wraps modulo 2^64, truncates, NaN/Inf -> 0`, () => {
        const id = S[`identity_${name}`];
        for (const v of NUMBER_INPUTS_64) {
          const got = id(v);
          assert.equal(typeof got, "bigint", `${name}(${label(v)}) returns a BigInt`);
          assert.equal(got, expected64(v, signed), `${name}(${label(v)})`);
        }
      });
    }
    test("1e20 as u64 is 7766279631452241920n (as seen by C too)", () => {
      assert.equal(S.identity_u64(1e20), 7766279631452241920n);
      const want = 7766279631452241920n;
      assert.equal(S.u64_low(1e20), Number(want & 0xffffffffn));
      assert.equal(S.u64_high(1e20), Number(want >> 32n));
    });
    test("C sees the wrapped 64-bit value (low/high halves)", () => {
      assert.equal(S.u64_low(2n ** 64n + 5n), 5);
      assert.equal(S.u64_high(2n ** 64n + 5n), 0);
      assert.equal(S.u64_high(2n ** 63n), 2 ** 31);
      assert.equal(S.u64_low(-1n), 4294967295);
      assert.equal(S.u64_high(-1), 4294967295);
      assert.equal(S.u64_low(2 ** 32 + 7), 7);
      assert.equal(S.u64_high(2 ** 32 + 7), 1);
    });
    test("i64/u64 min, max, add", () => {
      assert.equal(S.min_i64(), -(2n ** 63n));
      assert.equal(S.max_i64(), 2n ** 63n - 1n);
      assert.equal(S.min_u64(), 0n);
      assert.equal(S.max_u64(), 2n ** 64n - 1n);
      assert.equal(S.add_i64(2n ** 63n - 1n, 1n), -(2n ** 63n));
      assert.equal(S.add_i64(-1, -1), -2n);
      assert.equal(S.add_i64(0, 0n), 0n);
      assert.equal(S.add_u64(2n ** 64n - 1n, 1n), 0n);
      assert.equal(S.add_u64(2 ** 53, 2 ** 53), 2n ** 54n);
      assert.equal(S.add_u64(-1, 0), 2n ** 64n - 1n);
    });
    test("i64_fast / u64_fast return a number when safe, else a BigInt", () => {
      const fast = dlopen(libPath, {
        identity_i64: { args: ["i64"], returns: "i64_fast" },
        identity_u64: { args: ["u64"], returns: "u64_fast" },
        min_i64: { returns: "i64_fast" },
        max_u64: { returns: FFIType.u64_fast },
        min_u64: { returns: FFIType.u64_fast },
        add_i64: { args: ["i64_fast", "i64_fast"], returns: "i64_fast" },
      });
      opened.push(fast);
      const { identity_i64: i, identity_u64: u } = fast.symbols;
      const safe = 2 ** 53 - 1;
      for (const [v, want] of [
        [0, 0], [-1, -1], [1n, 1], [safe, safe], [-safe, -safe], [BigInt(safe), safe],
        [2 ** 53, 2n ** 53n], [-(2 ** 53), -(2n ** 53n)], [2n ** 53n + 1n, 2n ** 53n + 1n],
        [2n ** 63n, -(2n ** 63n)],
      ]) {
        const got = i(v);
        assert.equal(typeof got, typeof want, `i64_fast(${label(v)}) type`);
        assert.equal(got, want, `i64_fast(${label(v)})`);
      }
      for (const [v, want] of [
        [0, 0], [7n, 7], [safe, safe], [2 ** 53, 2n ** 53n], [-1, 2n ** 64n - 1n],
        [-1n, 2n ** 64n - 1n],
      ]) {
        const got = u(v);
        assert.equal(typeof got, typeof want, `u64_fast(${label(v)}) type`);
        assert.equal(got, want, `u64_fast(${label(v)})`);
      }
      assert.equal(fast.symbols.min_i64(), -(2n ** 63n));
      assert.equal(fast.symbols.max_u64(), 2n ** 64n - 1n);
      assert.equal(fast.symbols.min_u64(), 0);
      assert.equal(fast.symbols.add_i64(40, 2n), 42);
      assert.equal(fast.symbols.add_i64(2n ** 62n, 2n ** 62n), -(2n ** 63n));
    });
  });

  describe(`[${engineLabel}] floating point`, () => {
    test("f32 round-trips through single precision", () => {
      for (const v of FLOAT_INPUTS) {
        const got = S.identity_f32(v);
        assert.ok(Object.is(got, Math.fround(v)), `identity_f32(${label(v)}): expected ${Math.fround(v)}, got ${got}`);
        const widened = S.f32_to_f64(v);
        assert.ok(Object.is(widened, Math.fround(v)), `f32_to_f64(${label(v)}): expected ${Math.fround(v)}, got ${widened}`);
      }
      assert.notEqual(S.identity_f32(0.1), 0.1);
    });
    test("f32 min, max, add", () => {
      const FLT_MAX = 3.4028234663852886e38;
      assert.equal(S.max_f32(), FLT_MAX);
      assert.equal(S.min_f32(), -FLT_MAX);
      const f = Math.fround;
      assert.equal(S.add_f32(0.1, 0.2), f(f(0.1) + f(0.2)));
      assert.equal(S.add_f32(FLT_MAX, FLT_MAX), Infinity);
      assert.equal(S.add_f32(-1, 0), -1);
      assert.equal(S.add_f32(0, 0), 0);
    });
    test("f64 identity is exact (including -0, NaN, extremes)", () => {
      for (const v of FLOAT_INPUTS) {
        const got = S.identity_f64(v);
        assert.ok(Object.is(got, v), `identity_f64(${label(v)}) gave ${got}`);
      }
    });
    test("f64 min, max, add", () => {
      assert.equal(S.max_f64(), Number.MAX_VALUE);
      assert.equal(S.min_f64(), -Number.MAX_VALUE);
      assert.equal(S.add_f64(0.1, 0.2), 0.1 + 0.2);
      assert.equal(S.add_f64(-1, 0), -1);
      assert.equal(S.add_f64(0, 0), 0);
      assert.equal(S.add_f64(Number.MAX_VALUE, Number.MAX_VALUE), Infinity);
    });
  });

  describe(`[${engineLabel}] bool`, () => {
    test("bool returns true/false and passes booleans", () => {
      assert.equal(S.identity_bool(true), true);
      assert.equal(S.identity_bool(false), false);
      assert.equal(S.min_bool(), false);
      assert.equal(S.max_bool(), true);
      assert.equal(S.add_bool(false, false), false);
      assert.equal(S.add_bool(false, true), true);
      assert.equal(S.add_bool(true, true), true);
      assert.equal(S.bool_to_int(true), 1);
      assert.equal(S.bool_to_int(false), 0);
    });
  });

  describe(`[${engineLabel}] pointers`, () => {
    test("ptr identity, NULL as null, number/BigInt arguments", () => {
      assert.equal(S.identity_ptr(0), null);
      assert.equal(S.identity_ptr(0n), null);
      assert.equal(S.identity_ptr(null), null);
      assert.equal(S.identity_ptr(4096), 4096);
      assert.equal(S.identity_ptr(4096n), 4096);
      assert.equal(S.identity_ptr(0x7fff12345678), 0x7fff12345678);
      assert.equal(S.min_ptr(), null);
      assert.equal(S.add_ptr(4096, 16), 4112);
      assert.equal(S.ptr_to_u64(12345), 12345n);
      assert.equal(S.ptr_to_u64(2n ** 60n + 3n), 2n ** 60n + 3n);
      assert.equal(S.ptr_to_u64(null), 0n);
    });
    test("pointer returns at or above 2^53 are BigInt", () => {
      assert.equal(S.ptr_2_52(), 2 ** 52);
      assert.equal(S.ptr_2_53_plus_1(), 2n ** 53n + 1n);
      assert.equal(S.max_ptr(), 2n ** 64n - 1n);
      assert.equal(S.identity_ptr(2n ** 60n), 2n ** 60n);
      assert.equal(S.identity_ptr(2 ** 53), 2n ** 53n);
      assert.equal(S.identity_ptr(2n ** 53n - 1n), 2 ** 53 - 1);
    });
  });

  describe(`[${engineLabel}] void and no arguments`, () => {
    test("void return gives undefined; no-args function", () => {
      const before = S.void_fn_calls();
      assert.equal(S.void_fn(), undefined);
      assert.equal(S.void_fn(), undefined);
      assert.equal(S.void_fn_calls(), before + 2);
      assert.equal(S.no_args(), 12345);
      assert.equal(S.no_args(1, 2, 3), 12345, "extra arguments are ignored");
    });
  });

  describe(`[${engineLabel}] many arguments (some on the stack)`, () => {
    test("mixed12: 12 mixed int/float/double arguments", () => {
      const a = [-5, 2.5, -300000, 1.25, 123456789012, 0.5, 65535, -2.75, 2n ** 40n, 1e10, -7, 3.125];
      const n = a.map(Number);
      const want =
        1 * n[0] + 2 * n[1] + 3 * n[2] + 4 * n[3] + 5 * n[4] + 6 * n[5] + 7 * n[6] + 8 * n[7] +
        9 * n[8] + 10 * n[9] + 11 * n[10] + 12 * n[11];
      assert.equal(S.mixed12(...a), want);
      // wrapping applies per argument: i8(300)=44, u16(-1)=65535, i32(2^32+1)=1
      const b = [300, 0, 0, 0, 0, 0, -1, 0, 0, 0, 2 ** 32 + 1, 0];
      assert.equal(S.mixed12(...b), 44 + 7 * 65535 + 11 * 1);
      // float positions round to single precision
      const c = [0, 0, 0, 0.1, 0, 0, 0, 0.2, 0, 0, 0, 0];
      assert.equal(S.mixed12(...c), 4 * Math.fround(0.1) + 8 * Math.fround(0.2));
    });
    test("sum16_i32 and last_of16_i32: 16 int arguments", () => {
      const a = Array.from({ length: 16 }, (_, i) => (i % 2 ? -(i + 1) * 1000 : (i + 1) * 1000));
      let want = 0n;
      a.forEach((v, i) => (want += BigInt(i + 1) * BigInt(v)));
      assert.equal(S.sum16_i32(...a), want);
      const b = Array.from({ length: 16 }, (_, i) => i + 100);
      b[15] = -16;
      assert.equal(S.last_of16_i32(...b), -16);
      b[15] = 2 ** 32 + 3;
      assert.equal(S.last_of16_i32(...b), 3);
      b[15] = 2147483647;
      assert.equal(S.last_of16_i32(...b), 2147483647);
    });
    test("sum10_f64: 10 double arguments", () => {
      const a = [0.5, -1.5, 2.25, 3, 1e-3, 1e6, -7.125, 8, 9.5, -10.75];
      let want = 0;
      a.forEach((v, i) => (want += (i + 1) * v));
      assert.equal(S.sum10_f64(...a), want);
      const z = Array(10).fill(0);
      z[9] = 1.5;
      assert.equal(S.sum10_f64(...z), 15);
    });
    test("mixed_floats: 8 floats mixed with 4 ints", () => {
      const a = [1.5, -2, 0.25, 4, -5.5, 6.75, 7, 0.125, -9.5, 10, 11.25, 0.1];
      const n = a.map((v, i) => ([1, 3, 6, 9].includes(i) ? v : Math.fround(v)));
      let want = 0;
      n.forEach((v, i) => (want += (i + 1) * v));
      assert.equal(S.mixed_floats(...a), want);
    });
    test("sum9_f32: 9 float arguments returning float", () => {
      const a = [1, 0.5, -2, 0.25, 3, -0.125, 4, 0.0625, 100];
      let want = 0;
      a.forEach((v, i) => (want = Math.fround(want + Math.fround((i + 1) * v))));
      assert.equal(S.sum9_f32(...a), want);
      const z = Array(9).fill(0);
      z[8] = 2;
      assert.equal(S.sum9_f32(...z), 18);
    });
    test("ints6_doubles9: 6 ints and 9 doubles", () => {
      const a = [1, -2, 3, -4, 5, -6, 0.5, 1.5, -2.5, 3.5, 4.5, -5.5, 6.5, 7.5, 8.5];
      let want = 0;
      a.forEach((v, i) => (want += (i + 1) * v));
      assert.equal(S.ints6_doubles9(...a), want);
      const z = Array(15).fill(0);
      z[14] = 2;
      assert.equal(S.ints6_doubles9(...z), 30);
    });
    test("stack_u64: eight 64-bit arguments", () => {
      const a = [1n, 2n ** 63n, 3n, 2n ** 40n, 5, -1n, 7n, 2n ** 56n + 9n];
      let want = 0n;
      a.forEach((v, i) => (want ^= BigInt.asUintN(64, BigInt.asUintN(64, BigInt(v)) << BigInt(i))));
      assert.equal(S.stack_u64(...a), want);
    });
    test("stack_small: narrow types on the stack are wrapped", () => {
      const got = S.stack_small(1, 2, 3, 4, 5, 6, 255, 256 + 7, -32769, -1, true, 130);
      assert.equal(got, 21 + -1 + 7 + 32767 + 65535 + 1000000 + -126);
    });
  });

  describe(`[${engineLabel}] x86-64 ABI edges (assembly fixtures)`, { skip: (process.arch !== "x64" || process.platform === "win32") && "x86-64 System V only" }, () => {
    let A;
    before(() => {
      const defs = {};
      for (const t of ["i8", "u8", "i16", "u16", "bool", "char"]) defs[`raw_arg_${t}`] = { args: [t], returns: "u64" };
      for (const t of ["i8", "u8", "i16", "u16", "i32", "u32", "bool", "char"]) defs[`dirty_${t}`] = { args: ["u64"], returns: t };
      const l = dlopen(libPath, defs);
      opened.push(l);
      A = l.symbols;
    });
    const low32 = (v) => Number(BigInt.asUintN(32, v));
    test("narrow arguments arrive extended to 32 bits (what clang-built callees assume)", () => {
      for (const [t, v, want] of [
        ["i8", -1, 0xffffffff], ["i8", 300, 44], ["i8", 200, (-56) >>> 0], ["u8", -1, 0xff],
        ["u8", 300, 44], ["i16", -2, 0xfffffffe], ["i16", 40000, (-25536) >>> 0],
        ["u16", -1, 0xffff], ["char", -128, 0xffffff80], ["char", 255, 0xffffffff],
        ["bool", true, 1], ["bool", false, 0],
      ]) {
        assert.equal(low32(A[`raw_arg_${t}`](v)), want, `raw_arg_${t}(${v})`);
      }
    });
    test("narrow returns ignore the register's upper bits", () => {
      const junk = 0x12345678_9abc0000n;
      assert.equal(A.dirty_i8(junk | 0xffn), -1);
      assert.equal(A.dirty_i8(junk | 0x7fn), 127);
      assert.equal(A.dirty_char(junk | 0x80n), -128);
      assert.equal(A.dirty_u8(junk | 0xffn), 255);
      assert.equal(A.dirty_u8(0x100n), 0);
      assert.equal(A.dirty_i16(junk | 0xfffen), -2);
      assert.equal(A.dirty_u16(junk | 0xfffen), 65534);
      assert.equal(A.dirty_i32(0xffffffff_fffffff0n & 0x00000001_fffffff0n), -16);
      assert.equal(A.dirty_i32(0x7_80000000n), -2147483648);
      assert.equal(A.dirty_u32(0x7_ffffffffn), 4294967295);
      assert.equal(A.dirty_bool(0x100n), false, "bool is only the low byte");
      assert.equal(A.dirty_bool(0xff00n), false, "bool is only the low byte");
      assert.equal(A.dirty_bool(junk | 1n), true);
    });
  });

  describe(`[${engineLabel}] every FFIType alias is accepted in definitions`, () => {
    test("each name and number of FFIType works in args/returns", () => {
      const cases = aliasCases(S);
      const aliases = [...Object.getOwnPropertyNames(FFIType), ...new Set(Object.values(FFIType))];
      assert.ok(aliases.length > 40, "FFIType has its aliases");
      const seen = new Set();
      for (const alias of aliases) {
        const value = FFIType[alias] ?? alias;
        const c = cases[value];
        assert.ok(c, `no case for FFIType value ${value} (alias ${label(alias)})`);
        let l;
        try {
          l = dlopen(libPath, { [c.sym]: c.def(alias) });
        } catch (e) {
          assert.fail(`definition with type ${JSON.stringify(alias)} (${typeof alias}) refused: ${e.message}`);
        }
        try {
          c.check(l.symbols[c.sym]);
        } catch (e) {
          e.message = `type ${JSON.stringify(alias)}: ${e.message}`;
          throw e;
        } finally {
          l.close();
        }
        seen.add(value);
      }
      for (let v = 0; v <= 21; v++) assert.ok(seen.has(v), `type ${v} was covered`);
    });
    test("buffer + buffer_length pass a view and its byte length", () => {
      const l = dlopen(libPath, { sum_bytes: { args: ["buffer", "buffer_length"], returns: "i32" } });
      try {
        const u8 = Uint8Array.of(10, 20, 30, 40, 50);
        assert.equal(l.symbols.sum_bytes(u8, u8), 150);
        const sub = u8.subarray(1, 3);
        assert.equal(l.symbols.sum_bytes(sub, sub), 50);
        const dv = new DataView(u8.buffer, 2, 3);
        assert.equal(l.symbols.sum_bytes(dv, dv), 120);
      } finally {
        l.close();
      }
    });
  });

  describe(`[${engineLabel}] wrong argument kinds throw TypeError`, () => {
    const numeric = [...SMALL_INTS.map((t) => t.name), "i64", "u64", "f32", "f64"];
    for (const t of numeric) {
      test(`${t}: string, object, Symbol, missing`, () => {
        const id = S[`identity_${t}`];
        for (const bad of ["1", {}, Symbol("x")]) {
          assert.throws(() => id(bad), { name: "TypeError", message: new RegExp(`identity_${t}`) });
        }
        assert.throws(() => id(), { name: "TypeError", message: new RegExp(`identity_${t}`) });
        // still usable afterwards
        assert.equal(id(1), t === "i64" || t === "u64" ? 1n : 1);
      });
    }
    test("ptr: string, {}, boolean, missing", () => {
      for (const bad of ["0x1000", {}, true, Symbol("p")]) {
        assert.throws(() => S.identity_ptr(bad), { name: "TypeError", message: /identity_ptr/ });
      }
      assert.throws(() => S.identity_ptr(), { name: "TypeError", message: /identity_ptr/ });
      assert.equal(S.identity_ptr(8), 8);
    });
  });
};

module.exports.SMALL_INTS = SMALL_INTS;
module.exports.buildDefinitions = buildDefinitions;

// The battery's values, for test/node-ffi-engine.test.js (the same limits,
// compared between engines).
module.exports.INPUTS = { SMALL_INTS, NUMBER_INPUTS, BIG_INPUTS, NUMBER_INPUTS_64, FLOAT_INPUTS };
