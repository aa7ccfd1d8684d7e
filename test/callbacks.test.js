"use strict";
// JSCallback (issue 3): C calling JS on the JS thread. Types in both
// directions, wrong-kind results, lifetime, re-entrancy, exceptions, the
// seed's CFunction spelling, and create/close without memory growth.
// Threads are in threads.test.js.
const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const v8 = require("node:v8");
const vm = require("node:vm");
const { spawnSync } = require("node:child_process");
const { dlopen, JSCallback, CFunction, read, ptr } = require("..");
const { callbacksFixturePath, openCallbacksFixture, CALLBACK_TYPES } = require("./helpers/callbacks-fixture");
const { LIBC, timeScale } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const FIX = callbacksFixturePath();
const C = openCallbacksFixture(dlopen);

const I32 = { args: ["i32"], returns: "i32" };

// Runs `code` in a fresh node; `code` sees ROOT and FIX as constants.
function runChild(code, { flags = [], timeout = timeScale(20000), env } = {}) {
  const prelude = `const ROOT = ${JSON.stringify(ROOT)}; const FIX = ${JSON.stringify(FIX)};\n`;
  const started = Date.now();
  const r = spawnSync(process.execPath, [...flags, "-e", prelude + code], {
    encoding: "utf8",
    timeout,
    env: { ...process.env, ...env },
  });
  r.elapsed = Date.now() - started;
  return r;
}

function same(actual, expected, message) {
  if (typeof expected === "number" && Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${message}: expected NaN, got ${String(actual)}`);
  } else {
    assert.ok(Object.is(actual, expected), `${message}: expected ${String(expected)} (${typeof expected}), got ${String(actual)} (${typeof actual})`);
  }
}

describe("JSCallback: the object", () => {
  test(".ptr is a number, .threadsafe reports the option", () => {
    const plain = new JSCallback(() => 0, I32);
    const safe = new JSCallback(() => 0, { ...I32, threadsafe: true });
    try {
      assert.equal(typeof plain.ptr, "number");
      assert.ok(plain.ptr > 0 && Number.isInteger(plain.ptr));
      assert.equal(typeof safe.ptr, "number");
      assert.notEqual(plain.ptr, safe.ptr);
      assert.equal(plain.threadsafe, false);
      assert.equal(safe.threadsafe, true);
    } finally {
      plain.close();
      safe.close();
    }
  });

  test(".close() sets ptr to null; close() twice is harmless", () => {
    for (const threadsafe of [false, true]) {
      const cb = new JSCallback((x) => x, { ...I32, threadsafe });
      assert.equal(C.call_i32(cb.ptr, 9), 9);
      cb.close();
      assert.equal(cb.ptr, null);
      cb.close();
      assert.equal(cb.ptr, null);
    }
  });

  test("a non-function or a bad signature throws a TypeError", () => {
    assert.throws(() => new JSCallback(42, I32), TypeError);
    assert.throws(() => new JSCallback(() => 0, { args: ["nope"], returns: "i32" }), TypeError);
  });

  // A definition object's parsed signature is reused while its properties
  // are the same ones (lib/index.js); any change must be seen.
  test("a definition reused after a change gives the changed signature", () => {
    const { CFunction } = require("..");
    const callAs = (cb, args, returns, ...values) => CFunction({ ptr: cb.ptr, args, returns })(...values);
    const def = { args: ["i32"], returns: "i32" };
    const made = [];
    const make = () => {
      const cb = new JSCallback((x) => x * 2, def);
      made.push(cb);
      return cb;
    };
    assert.equal(callAs(make(), ["i32"], "i32", 21), 42);
    assert.equal(callAs(make(), ["i32"], "i32", 4), 8);
    def.args[0] = "f64"; // the same array, changed in place
    assert.equal(callAs(make(), ["f64"], "i32", 1.25), 2);
    def.returns = "f64";
    assert.equal(callAs(make(), ["f64"], "f64", 1.25), 2.5);
    def.args = ["f32"]; // a new array
    assert.equal(callAs(make(), ["f32"], "f64", 0.75), 1.5);
    def.args.push("i32");
    const two = new JSCallback((x, y) => x + y, def);
    made.push(two);
    assert.equal(callAs(two, ["f32", "i32"], "f64", 0.5, 2), 2.5);
    // An element whose getter answers differently on each read: each
    // callback gets what its own read of the definition said.
    let reads = 0;
    const tricky = { returns: "f64", args: [] };
    Object.defineProperty(tricky.args, 0, { get: () => (reads++ === 0 ? "i32" : "f64"), enumerable: true });
    const first = new JSCallback((x) => x, tricky);
    const second = new JSCallback((x) => x, tricky);
    made.push(first, second);
    assert.equal(callAs(first, ["i32"], "f64", 7), 7);
    assert.equal(callAs(second, ["f64"], "f64", 2.5), 2.5);
    def.args = ["nope"];
    assert.throws(() => make(), /Unknown type "nope"/);
    def.args = [];
    def.returns = "napi_env";
    assert.throws(() => make(), /napi_env is not a valid return type/);
    for (const cb of made) cb.close();
  });
});

describe("JSCallback: qsort from libc", () => {
  let libc;
  before(() => {
    libc = dlopen(LIBC, { qsort: { args: ["ptr", "u64", "u64", "function"], returns: "void" } });
  });
  after(() => libc.close());

  function randomInts(n, seed) {
    const a = new Int32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = s ^ (s << 7);
    }
    a[0] = -2147483648;
    a[1] = 2147483647;
    a[2] = 0;
    a[3] = -1;
    a[4] = a[5];
    return a;
  }

  test("sorting 100k Int32 numbers with a JS comparator equals JS sort", () => {
    const data = randomInts(100_000, 12345);
    const expected = Int32Array.from(data).sort();
    let calls = 0;
    const cmp = new JSCallback(
      (a, b) => {
        calls++;
        const x = read.i32(a);
        const y = read.i32(b);
        return x < y ? -1 : x > y ? 1 : 0;
      },
      { args: ["ptr", "ptr"], returns: "i32" }
    );
    try {
      libc.symbols.qsort(data, data.length, 4, cmp);
    } finally {
      cmp.close();
    }
    assert.ok(calls > 100_000, `comparator ran ${calls} times`);
    assert.deepEqual(data, expected);
  });

  test("a comparator that itself calls an FFI function (re-entrancy)", () => {
    const data = randomInts(2000, 7);
    const expected = Int32Array.from(data).sort().reverse();
    const cmp = new JSCallback((a, b) => C.compare_i32_ptrs(b, a), { args: ["ptr", "ptr"], returns: "i32" });
    try {
      libc.symbols.qsort(ptr(data), data.length, 4, cmp.ptr);
    } finally {
      cmp.close();
    }
    assert.deepEqual(data, expected);
  });
});

// For every type: [value passed to call_T, what the callback receives (and
// returns unchanged), what call_T gives back to JS].
const ROUND_TRIPS = {
  i8: [[-128, -128, -128], [127, 127, 127], [0, 0, 0], [-1, -1, -1], [128, -128, -128]],
  u8: [[0, 0, 0], [255, 255, 255], [-1, 255, 255], [1, 1, 1]],
  i16: [[-32768, -32768, -32768], [32767, 32767, 32767], [0, 0, 0], [-1, -1, -1]],
  u16: [[0, 0, 0], [65535, 65535, 65535], [-1, 65535, 65535]],
  i32: [[-2147483648, -2147483648, -2147483648], [2147483647, 2147483647, 2147483647], [0, 0, 0], [-1, -1, -1]],
  u32: [[0, 0, 0], [4294967295, 4294967295, 4294967295], [-1, 4294967295, 4294967295]],
  char: [[-128, -128, -128], [127, 127, 127], [0, 0, 0], [-1, -1, -1], [65, 65, 65]],
  i64: [
    [-(2n ** 63n), -(2n ** 63n), -(2n ** 63n)],
    [2n ** 63n - 1n, 2n ** 63n - 1n, 2n ** 63n - 1n],
    [0n, 0n, 0n],
    [-1n, -1n, -1n],
    [5, 5n, 5n],
  ],
  u64: [
    [0n, 0n, 0n],
    [2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n],
    [-1n, 2n ** 64n - 1n, 2n ** 64n - 1n],
    [2n ** 63n, 2n ** 63n, 2n ** 63n],
  ],
  i64_fast: [
    [0, 0, 0],
    [-1, -1, -1],
    [2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1],
    [-(2 ** 53 - 1), -(2 ** 53 - 1), -(2 ** 53 - 1)],
    [2n ** 53n, 2n ** 53n, 2n ** 53n],
    [-(2n ** 63n), -(2n ** 63n), -(2n ** 63n)],
    [2n ** 63n - 1n, 2n ** 63n - 1n, 2n ** 63n - 1n],
  ],
  u64_fast: [
    [0, 0, 0],
    [2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1],
    [2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n],
    [-1, 2n ** 64n - 1n, 2n ** 64n - 1n],
  ],
  f32: [
    [3.4028234663852886e38, 3.4028234663852886e38, 3.4028234663852886e38],
    [-3.4028234663852886e38, -3.4028234663852886e38, -3.4028234663852886e38],
    [1.1754943508222875e-38, 1.1754943508222875e-38, 1.1754943508222875e-38],
    [1.401298464324817e-45, 1.401298464324817e-45, 1.401298464324817e-45],
    [0, 0, 0],
    [-0, -0, -0],
    [-1, -1, -1],
    [0.1, Math.fround(0.1), Math.fround(0.1)],
    [1e39, Infinity, Infinity],
    [Infinity, Infinity, Infinity],
    [-Infinity, -Infinity, -Infinity],
    [NaN, NaN, NaN],
  ],
  f64: [
    [Number.MAX_VALUE, Number.MAX_VALUE, Number.MAX_VALUE],
    [-Number.MAX_VALUE, -Number.MAX_VALUE, -Number.MAX_VALUE],
    [Number.MIN_VALUE, Number.MIN_VALUE, Number.MIN_VALUE],
    [0, 0, 0],
    [-0, -0, -0],
    [-1, -1, -1],
    [0.1, 0.1, 0.1],
    [Infinity, Infinity, Infinity],
    [NaN, NaN, NaN],
  ],
  bool: [[true, true, true], [false, false, false]],
  ptr: [
    [null, null, null],
    [0, null, null],
    [1, 1, 1],
    [0xdeadbeef, 0xdeadbeef, 0xdeadbeef],
    [2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1],
    [2n ** 60n, 2n ** 60n, 2n ** 60n],
    [2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n],
  ],
  cstring: [
    ["", "", ""],
    ["hello", "hello", "hello"],
    ["héllo ✓ 𝄞", "héllo ✓ 𝄞", "héllo ✓ 𝄞"],
    [null, null, null],
  ],
};

describe("JSCallback: every type as argument and result", () => {
  test("the table covers every type the fixture has", () => {
    assert.deepEqual(Object.keys(ROUND_TRIPS).sort(), [...CALLBACK_TYPES].sort());
  });

  for (const type of CALLBACK_TYPES) {
    test(`${type}: round trip at the limits`, () => {
      const seen = [];
      const cb = new JSCallback(
        (v) => {
          seen.push(v);
          return v;
        },
        { args: [type], returns: type }
      );
      try {
        for (const [input, received, result] of ROUND_TRIPS[type]) {
          seen.length = 0;
          const out = C[`call_${type}`](cb, input);
          assert.equal(seen.length, 1, `${type}(${String(input)}): callback ran once`);
          same(seen[0], received, `${type}(${String(input)}) as the callback's argument`);
          same(out, result, `${type}(${String(input)}) back from C`);
        }
      } finally {
        cb.close();
      }
    });
  }

  test("results use the same conversions as arguments (wrapping, BigInt/number, f32 rounding)", () => {
    const cases = [
      ["i8", 200, -56],
      ["u8", -2, 254],
      ["i16", 40000, -25536],
      ["u32", 2 ** 32 + 3, 3],
      ["i32", 2 ** 31, -(2 ** 31)],
      ["i32", 7.9, 7],
      ["i64", 2n ** 64n + 5n, 5n],
      ["i64", 12, 12n],
      ["u64", -2n, 2n ** 64n - 2n],
      ["i64_fast", 2n ** 60n, 2n ** 60n],
      ["i64_fast", 12n, 12],
      ["u64_fast", 1e20, 7766279631452241920n],
      ["f32", 0.1, Math.fround(0.1)],
      ["f32", 16777217, 16777216],
      ["f64", 5n, 5],
      ["bool", "yes", true],
      ["bool", 0, false],
      ["bool", {}, true],
      ["ptr", 4096n, 4096],
      ["char", 300, 44],
    ];
    for (const [type, returned, expected] of cases) {
      const cb = new JSCallback(() => returned, { args: [type], returns: type });
      try {
        const input = type.includes("64") && !type.endsWith("fast") ? 0n : type === "bool" ? false : type === "ptr" ? null : 0;
        same(C[`call_${type}`](cb, input), expected, `${type} callback returning ${String(returned)}`);
      } finally {
        cb.close();
      }
    }
  });

  test("bool results reach C as exactly 0 or 1", () => {
    for (const [value, bit] of [[true, 1], [{}, 1], ["x", 1], [2, 1], [false, 0], [0, 0], ["", 0], [null, 0]]) {
      const cb = new JSCallback(() => value, { returns: "bool" });
      try {
        assert.equal(C.bool_result_is_one(cb), bit, `bool callback returning ${String(value)}`);
      } finally {
        cb.close();
      }
    }
  });

  test("a cstring result outlives the callback (long strings included)", () => {
    const cb = new JSCallback((n) => "x".repeat(n) + "é", { args: ["i32"], returns: "cstring" });
    try {
      for (const n of [0, 1, 100, 10_000, 1_000_000]) assert.equal(C.cstring_result_length(cb, n), n + 2);
    } finally {
      cb.close();
    }
  });

  test("void callbacks run; their return value is ignored", () => {
    const seen = [];
    const cb = new JSCallback((x) => {
      seen.push(x);
      return "ignored";
    }, { args: ["i32"], returns: "void" });
    try {
      assert.equal(C.call_void(cb, 5), undefined);
      assert.equal(C.call_void(cb, -6), undefined);
      assert.deepEqual(seen, [5, -6]);
    } finally {
      cb.close();
    }
    // "returns" defaults to void, "args" to none.
    let ran = 0;
    const bare = new JSCallback(() => ran++, {});
    try {
      C.call_void(bare, 1);
      assert.equal(ran, 1);
    } finally {
      bare.close();
    }
  });

  test("many arguments (8 ints + 10 doubles: some on the stack)", () => {
    const args = [...Array(8).fill("i32"), ...Array(10).fill("f64")];
    let seen;
    const cb = new JSCallback((...xs) => {
      seen = xs;
      return xs.reduce((s, x, i) => s + x * (i + 1), 0);
    }, { args, returns: "f64" });
    try {
      const out = C.call_many(cb, 10);
      const expected = [10, 11, 12, 13, 14, 15, 16, 17, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5, 18.5, 19.5];
      assert.deepEqual(seen, expected);
      assert.equal(out, expected.reduce((s, x, i) => s + x * (i + 1), 0));
    } finally {
      cb.close();
    }
  });

  test("mixed small types, floats and 64-bit values on the stack", () => {
    const args = ["i8", "u16", "f32", "i64", "u8", "f64", "i16", "f32", "u32", "bool", "char", "f64", "i8", "u64", "f32", "i32"];
    let seen;
    const cb = new JSCallback((...xs) => {
      seen = xs;
      return -(2n ** 53n) - 1n;
    }, { args, returns: "i64" });
    try {
      assert.equal(C.call_mixed(cb), -(2n ** 53n) - 1n);
      assert.deepEqual(seen, [-5, 65535, 1.5, -1234567890123n, 250, -2.25, -32768, -0.5, 4000000000, true, 65, 1e100, 127, 2n ** 64n - 1n, 3.25, -7]);
    } finally {
      cb.close();
    }
  });
});

describe("JSCallback: a cstring callback returning a number or BigInt", () => {
  // It is not an address to copy a string from: C gets NULL and the
  // TypeError reaches JS like the callback's own exception would.
  for (const value of [42, 1, 5n, -1, 0, 2 ** 40]) {
    test(`${typeof value} ${value}: C gets NULL, the FFI call throws a TypeError`, () => {
      let ran = 0;
      const cb = new JSCallback(() => {
        ran++;
        return value;
      }, { args: ["cstring"], returns: "cstring" });
      try {
        assert.throws(() => C.call_cstring(cb, "in"), {
          name: "TypeError",
          message: `JSCallback returning cstring expects a string or null as its result, received ${typeof value === "bigint" ? "a BigInt" : "a number"}`,
        });
        assert.equal(ran, 1);
        assert.equal(C.last_result_bits(), 0n);
        // Nothing is left pending.
        const ok = new JSCallback((s) => s + "!", { args: ["cstring"], returns: "cstring" });
        try {
          assert.equal(C.call_cstring(ok, "in"), "in!");
        } finally {
          ok.close();
        }
      } finally {
        cb.close();
      }
    });
  }
});

test("callbackCreate checks the parsed signature it is given (the raw exports are reachable)", () => {
  const native = require("../lib/native.js");
  const good = native.callbackSignature({}, [5], 5, undefined);
  assert.ok(good instanceof ArrayBuffer);
  const forged = (edit) => {
    const copy = good.slice(0);
    edit(new Uint8Array(copy));
    return copy;
  };
  for (const bad of [
    forged((b) => (b[0] = 200)),              // nargs beyond the limit
    forged((b) => (b[1] = 99)),               // no such return type
    forged((b) => (b[2] = 13)),               // void as an argument
    good.slice(0, 8),                          // wrong size
    new Uint8Array(good.byteLength),           // not an ArrayBuffer
  ]) {
    assert.throws(() => native.callbackCreate(() => 0, bad, false), {
      name: "TypeError",
      message: "JSCallback: not a signature from callbackSignature",
    });
  }
  const address = native.callbackCreate(() => 0, good, false);
  native.callbackClose(address);
});

describe("JSCallback: a result of the wrong kind gives C the type's zero", () => {
  const BAD = {
    i8: ["abc", {}, undefined, [], () => 1],
    u8: ["abc", {}, undefined],
    i16: ["abc", {}, undefined],
    u16: ["abc", {}, undefined],
    i32: ["abc", "123", {}, undefined, [], Symbol("s")],
    u32: ["abc", {}, undefined],
    char: ["abc", {}, undefined],
    i64: ["abc", {}, undefined],
    u64: ["abc", {}, undefined],
    i64_fast: ["abc", {}, undefined],
    u64_fast: ["abc", {}, undefined],
    f32: [{}, "1.5", undefined, Symbol("s")],
    f64: [{}, "1.5", undefined, [], () => 1],
    ptr: [{}, "abc", true, -1.5, 1.5, NaN, -(2 ** 64)], // -1 is a pointer value (test/parity.test.js)
    cstring: [{}, true], // numbers: see "a cstring callback returning a number"
  };
  const ZERO = { i64: 0n, u64: 0n, ptr: null, cstring: null };

  for (const [type, values] of Object.entries(BAD)) {
    test(type, () => {
      for (const value of values) {
        let ran = 0;
        const cb = new JSCallback(() => {
          ran++;
          return value;
        }, { args: [type], returns: type });
        try {
          const input = type === "i64" || type === "u64" ? 1n : type === "ptr" ? 8 : type === "cstring" ? "in" : 1;
          const out = C[`call_${type}`](cb, input);
          assert.equal(ran, 1);
          same(out, type in ZERO ? ZERO[type] : 0, `${type} callback returning ${String(value)}`);
          assert.equal(C.last_result_bits(), 0n, `${type} callback returning ${String(value)}: the bits C got`);
        } finally {
          cb.close();
        }
      }
      // And nothing is left pending: the next call is normal.
      const ok = new JSCallback((v) => v, { args: [type], returns: type });
      try {
        const [input, , result] = ROUND_TRIPS[type][1];
        same(C[`call_${type}`](ok, input), result, `${type} after wrong kinds`);
      } finally {
        ok.close();
      }
    });
  }
});

describe("JSCallback: where a callback can be passed", () => {
  for (const kind of ["function", "callback", "fn", "ptr"]) {
    test(`a JSCallback object or its .ptr, for an argument declared "${kind}"`, () => {
      const call = CFunction({ ptr: C.call_i32.ptr, args: [kind, "i32"], returns: "i32" });
      const cb = new JSCallback((x) => x * 3, I32);
      try {
        assert.equal(call(cb, 7), 21);
        assert.equal(call(cb.ptr, 8), 24);
        assert.equal(call(BigInt(cb.ptr), 9), 27);
      } finally {
        cb.close();
        call.close();
      }
    });
  }

  test("CFunction({ ptr, args, returns }) still calls a pointer (here, a JSCallback's)", () => {
    const cb = new JSCallback((a, b) => a - b, { args: ["i32", "i32"], returns: "i32" });
    const fn = CFunction({ ptr: cb.ptr, args: ["i32", "i32"], returns: "i32" });
    const add = CFunction({ ptr: C.add_i32.ptr, args: ["i32", "i32"], returns: "i32" });
    try {
      assert.equal(typeof fn, "function");
      assert.equal(fn(10, 3), 7);
      assert.equal(add(10, 3), 13);
    } finally {
      fn.close();
      add.close();
      cb.close();
    }
  });

  test("new CFunction({ args, returns }, fn) makes a callback with .ptr and .close()", () => {
    const cb = new CFunction({ args: ["i32"], returns: "i32" }, (x) => x + 100);
    assert.ok(cb instanceof JSCallback);
    assert.equal(typeof cb.ptr, "number");
    assert.equal(typeof cb.close, "function");
    assert.equal(C.call_i32(cb, 1), 101);
    assert.equal(C.apply(cb.ptr, 2), 102);
    cb.close();
    assert.equal(cb.ptr, null);
    cb.close();
    // Without `new` as well.
    const cb2 = CFunction({ args: ["f64"], returns: "f64" }, (x) => x / 2);
    try {
      assert.equal(C.call_f64(cb2, 5), 2.5);
    } finally {
      cb2.close();
    }
  });
});

describe("JSCallback: re-entrancy", () => {
  test("three levels: JS -> C -> JS -> C -> JS -> C -> JS", () => {
    const trace = [];
    const cb3 = new JSCallback((x) => {
      trace.push(`cb3(${x})`);
      return x * 2;
    }, I32);
    const cb2 = new JSCallback((x) => {
      trace.push(`cb2(${x})`);
      const r = C.apply(cb3, x + 1);
      trace.push(`cb2 got ${r}`);
      return r + 1;
    }, I32);
    const cb1 = new JSCallback((x) => {
      trace.push(`cb1(${x})`);
      const r = C.apply(cb2, x + 10);
      trace.push(`cb1 got ${r}`);
      return r + 100;
    }, I32);
    try {
      assert.equal(C.apply(cb1, 1), 125);
      assert.deepEqual(trace, ["cb1(1)", "cb2(11)", "cb3(12)", "cb2 got 24", "cb1 got 25"]);
    } finally {
      cb1.close();
      cb2.close();
      cb3.close();
    }
  });

  test("one callback recursing through C 100 levels deep", () => {
    let cb;
    cb = new JSCallback((n) => (n === 0 ? 0 : C.apply(cb, n - 1) + 1), I32);
    try {
      assert.equal(C.apply(cb, 100), 100);
    } finally {
      cb.close();
    }
  });

  test("unbounded recursion through C ends in a RangeError for the outermost caller", () => {
    let depth = 0;
    let cb;
    cb = new JSCallback((n) => {
      depth = Math.max(depth, n);
      return C.apply(cb, n + 1) + 1;
    }, I32);
    try {
      assert.throws(() => C.apply(cb, 0), RangeError);
      assert.ok(depth > 50, `reached ${depth} levels`);
      assert.equal(C.add_i32(2, 3), 5);
    } finally {
      cb.close();
    }
  });

  test("C calls the callback twice in one call", () => {
    const cb = new JSCallback((x) => x * 10, I32);
    try {
      assert.equal(C.call_twice_add(cb, 2), 50);
    } finally {
      cb.close();
    }
  });
});

describe("JSCallback: exceptions", () => {
  test("C gets zero; the same error is rethrown to the JS caller; later calls are fine", () => {
    const error = new Error("boom from a callback");
    const cb = new JSCallback(() => {
      throw error;
    }, I32);
    const ok = new JSCallback((x) => x + 1, I32);
    try {
      assert.throws(() => C.call_i32(cb, 5), (e) => e === error);
      assert.equal(C.last_result_bits(), 0n);
      assert.equal(C.call_i32(ok, 5), 6);
      assert.throws(() => C.call_i32(cb, 5), /boom from a callback/);
      assert.equal(C.call_i32(ok, 7), 8);
    } finally {
      cb.close();
      ok.close();
    }
  });

  for (const type of ["f64", "f32", "i64", "u64_fast", "ptr", "cstring", "bool", "i8"]) {
    test(`${type}: C gets the zero value when the callback throws`, () => {
      const error = new TypeError(`thrown in a ${type} callback`);
      const cb = new JSCallback(() => {
        throw error;
      }, { args: [type], returns: type });
      try {
        const [input] = ROUND_TRIPS[type][1];
        assert.throws(() => C[`call_${type}`](cb, input), (e) => e === error);
        assert.equal(C.last_result_bits(), 0n);
      } finally {
        cb.close();
      }
    });
  }

  test("calling a throwing JSCallback's pointer from JS (CFunction) rethrows the error", () => {
    const error = new Error("direct call");
    const cb = new JSCallback(() => {
      throw error;
    }, I32);
    const direct = CFunction({ ptr: cb.ptr, args: ["i32"], returns: "i32" });
    try {
      assert.throws(() => direct(1), (e) => e === error);
    } finally {
      direct.close();
      cb.close();
    }
  });

  test("C carries on after the throw; JS does not run again until the FFI call returns (Bun)", () => {
    const first = new Error("first");
    let calls = 0;
    const cb = new JSCallback((x) => {
      calls++;
      if (calls === 1) throw first;
      if (calls === 2) throw new Error("second");
      return x;
    }, I32);
    try {
      // call_twice_add calls cb twice: the second call gives C 0 without JS.
      assert.throws(() => C.call_twice_add(cb, 1), (e) => e === first);
      assert.equal(calls, 1);
      assert.throws(() => C.call_twice_add(cb, 1), /second/);
      assert.equal(calls, 2);
      assert.equal(C.call_twice_add(cb, 1), 3);
      assert.equal(calls, 4);
    } finally {
      cb.close();
    }
  });

  test("an error three levels deep propagates through every level", () => {
    const error = new RangeError("deep");
    const trace = [];
    const cb3 = new JSCallback(() => {
      trace.push("cb3");
      throw error;
    }, I32);
    const cb2 = new JSCallback((x) => {
      trace.push("cb2");
      const r = C.apply(cb3, x);
      trace.push("cb2 after");
      return r;
    }, I32);
    const cb1 = new JSCallback((x) => {
      trace.push("cb1");
      const r = C.apply(cb2, x);
      trace.push("cb1 after");
      return r;
    }, I32);
    try {
      assert.throws(() => C.apply(cb1, 1), (e) => e === error);
      assert.deepEqual(trace, ["cb1", "cb2", "cb3"]);
    } finally {
      cb1.close();
      cb2.close();
      cb3.close();
    }
  });

  test("an error caught by an outer callback does not reach the outer caller", () => {
    const error = new Error("caught in the middle");
    let caught;
    const inner = new JSCallback(() => {
      throw error;
    }, I32);
    const middle = new JSCallback((x) => {
      try {
        return C.apply(inner, x);
      } catch (e) {
        caught = e;
        return 77;
      }
    }, I32);
    try {
      assert.equal(C.apply(middle, 1), 77);
      assert.equal(caught, error);
    } finally {
      inner.close();
      middle.close();
    }
  });

  test("a qsort comparator that throws: qsort finishes, its JS runs no more, the error reaches JS (Bun: 1 call)", () => {
    const libc = dlopen(LIBC, { qsort: { args: ["ptr", "u64", "u64", "function"], returns: "void" } });
    const data = Int32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    let calls = 0;
    const error = new Error("comparator failed");
    const cmp = new JSCallback((a, b) => {
      if (++calls === 10) throw error;
      return read.i32(a) - read.i32(b);
    }, { args: ["ptr", "ptr"], returns: "i32" });
    try {
      assert.throws(() => libc.symbols.qsort(data, data.length, 4, cmp), (e) => e === error);
      assert.equal(calls, 10);
      // The next native call runs the comparator again.
      calls = 100;
      libc.symbols.qsort(data, data.length, 4, cmp);
      assert.ok(calls > 1000);
      for (let i = 1; i < data.length; i++) assert.ok(data[i - 1] <= data[i]);
    } finally {
      cmp.close();
      libc.close();
    }
  });

  for (const [label, value] of [["a number", 42], ["a string", "a thrown string"], ["undefined", undefined], ["null", null]]) {
    // Node 20's napi_create_reference refuses primitives: keeping the error
    // that way once lost these exceptions.
    test(`throwing ${label} (not an object) is rethrown too`, () => {
      const cb = new JSCallback(() => {
        throw value;
      }, I32);
      try {
        let threw = false;
        let got;
        try {
          C.call_i32(cb, 1);
        } catch (e) {
          threw = true;
          got = e;
        }
        assert.ok(threw, `throwing ${label} in a callback: the FFI call returned normally, the exception was lost`);
        assert.equal(got, value);
      } finally {
        cb.close();
      }
    });
  }

  test("an exception with no FFI call on the stack goes to 'uncaughtException'", () => {
    // A threadsafe void callback run for a foreign thread: the JS thread is
    // in the event loop, not in an FFI call.
    const r = runChild(`
      const { dlopen, JSCallback } = require(ROOT);
      const lib = dlopen(FIX, {
        call_void_from_detached_thread: { args: ["function", "i32"], returns: "void" },
      });
      const cb = new JSCallback((x) => { throw new Error("thrown for thread call " + x); },
                                { args: ["i32"], returns: "void", threadsafe: true });
      process.on("uncaughtException", (e) => {
        console.log("uncaught:", e.message);
        cb.close();
        process.exitCode = 0;
      });
      lib.symbols.call_void_from_detached_thread(cb, 31);
      setTimeout(() => console.log("still alive"), 300);
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /uncaught: thrown for thread call 31\n/);
    assert.match(r.stdout, /still alive/);
  });

  test("...and without a handler it ends the process like any uncaught exception", () => {
    const r = runChild(`
      const { dlopen, JSCallback } = require(ROOT);
      const lib = dlopen(FIX, {
        call_void_from_detached_thread: { args: ["function", "i32"], returns: "void" },
      });
      const cb = new JSCallback((x) => { throw new Error("unhandled from thread " + x); },
                                { args: ["i32"], returns: "void", threadsafe: true });
      lib.symbols.call_void_from_detached_thread(cb, 5);
      setTimeout(() => console.log("should not get here"), 2000);
    `);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /unhandled from thread 5/);
    assert.doesNotMatch(r.stdout, /should not get here/);
  });
});

describe("JSCallback: lifetime", () => {
  test("a callback with no JS reference left survives GC and still runs", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    let weak;
    function make() {
      const captured = { offset: 1000 };
      const cb = new JSCallback((x) => x + captured.offset, I32);
      weak = new WeakRef(cb);
      return cb.ptr;
    }
    const address = make();
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    gc();
    assert.equal(weak.deref(), undefined, "the JSCallback object itself was collected");
    assert.equal(C.call_i32(address, 5), 1005);
    assert.equal(C.apply(address, -1000), 0);
  });

  // The addon finds a callback again by its address (a per-env hash table):
  // closing must find exactly the right one, whatever the order.
  test("thousands of open callbacks closed in a shuffled order: each runs its own function until closed", () => {
    const count = 3000;
    const callbacks = [];
    for (let i = 0; i < count; i++) {
      callbacks.push(new JSCallback((x) => x + i, i % 3 === 0 ? { args: Array(9).fill("i32"), returns: "i32" } : I32));
    }
    assert.equal(new Set(callbacks.map((cb) => cb.ptr)).size, count);
    let seed = 7;
    const order = callbacks.map((cb, i) => i).sort(() => ((seed = (seed * 1103515245 + 12345) >>> 0) & 1) - 0.5);
    const open = new Set(callbacks.keys());
    for (let k = 0; k < order.length; k++) {
      callbacks[order[k]].close();
      open.delete(order[k]);
      if (k % 500 === 0) {
        for (const i of open) if (i % 3 !== 0) assert.equal(C.apply(callbacks[i].ptr, 10), 10 + i);
      }
    }
    // Closing an address twice, or one never handed out, does nothing.
    for (const cb of callbacks) cb.close();
  });

  test("a closed JSCallback is refused as an argument (no NULL call into C)", () => {
    const cb = new JSCallback((x) => x, I32);
    cb.close();
    assert.equal(cb.ptr, null);
    assert.equal(Number(cb), 0);
    assert.throws(() => C.call_i32(cb, 1), TypeError);
  });

  test("a closed threadsafe callback called through its old pointer answers 0 without running JS", () => {
    let ran = 0;
    const cb = new JSCallback((x) => ++ran + x, { ...I32, threadsafe: true });
    const address = cb.ptr;
    assert.equal(C.call_i32(address, 5), 6);
    cb.close();
    assert.equal(C.call_i32(address, 5), 0);
    assert.equal(ran, 1);
  });

  // close() inside the callback's own run must not free what the running
  // frame still reads; MALLOC_PERTURB_ turns such a use-after-free into a
  // crash.
  test("a one-shot callback that closes itself while it runs", () => {
    const r = runChild(`
      const { dlopen, JSCallback } = require(ROOT);
      const lib = dlopen(FIX, {
        call_i32: { args: ["function", "i32"], returns: "i32" },
        call_cstring: { args: ["function", "cstring"], returns: "cstring" },
      });
      const out = [];
      for (let i = 0; i < 200; i++) {
        const a = new JSCallback((x) => { a.close(); return x + 1; }, { args: ["i32"], returns: "i32" });
        out.push(lib.symbols.call_i32(a, i) === i + 1);
        const b = new JSCallback((s) => { b.close(); return s + "!"; }, { args: ["cstring"], returns: "cstring" });
        out.push(lib.symbols.call_cstring(b, "x" + i) === "x" + i + "!");
      }
      console.log(out.every(Boolean));
    `, { env: { MALLOC_PERTURB_: "165" } });
    assert.equal(r.signal, null, `the child died of ${r.signal}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "true\n");
  });

  // The loop lets the event loop turn every 1,000 callbacks, as a program
  // would: Node-API runs the finalizers of collected handles from the loop.
  function createCloseRss(count, threadsafe) {
    const r = runChild(`
      const { dlopen, JSCallback } = require(ROOT);
      const lib = dlopen(FIX, { call_i32: { args: ["function", "i32"], returns: "i32" } });
      const sig = { args: ["i32"], returns: "i32", threadsafe: ${threadsafe} };
      const tick = () => new Promise((resolve) => setImmediate(resolve));
      async function loop(n) {
        for (let i = 0; i < n; i++) {
          const cb = new JSCallback((x) => x + i, sig);
          if (lib.symbols.call_i32(cb, 1) !== i + 1) throw new Error("wrong callback ran at " + i);
          cb.close();
          if (i % 1000 === 999) await tick();
        }
      }
      async function settle() {
        for (let i = 0; i < 4; i++) { gc(); await tick(); }
        return process.memoryUsage().rss;
      }
      (async () => {
        await loop(20000);
        const before = await settle();
        await loop(${count});
        const after = await settle();
        console.log(JSON.stringify({ before, after }));
      })();
    `, { flags: ["--expose-gc"], timeout: timeScale(30000) });
    assert.equal(r.status, 0, r.stderr);
    const { before, after } = JSON.parse(r.stdout);
    return (after - before) / 2 ** 20;
  }

  // ASan keeps freed memory in its quarantine, so RSS says nothing there;
  // the LeakSanitizer pass of npm run test:asan covers leaks instead.
  // Under qemu-user (the arm64 CI step) RSS reads 0: a 100,000-round loop
  // there would assert nothing.
  const rssUnusable = (process.env.CFFI_BUN_ASAN === "1" && "RSS is meaningless under ASan's quarantine") ||
    (process.memoryUsage().rss === 0 && "RSS reads 0 here (qemu-user): growth cannot be measured");

  test("close-then-create 100,000 times does not grow RSS", { skip: rssUnusable }, () => {
    const growthMB = createCloseRss(100_000, false);
    process.stdout.write(`# RSS growth over 100,000 create/call/close: ${growthMB.toFixed(2)} MB\n`);
    assert.ok(growthMB < 20, `RSS grew ${growthMB.toFixed(1)} MB over 100,000 create/close`);
  });

  // Closed threadsafe callbacks are freed once Node has finalised them and
  // CFFI_CLOSED_CALLBACK_QUARANTINE newer ones have closed (src/callbacks/callback.c).
  test("threadsafe: close-then-create 100,000 times does not grow RSS", { skip: rssUnusable }, () => {
    const growthMB = createCloseRss(100_000, true);
    process.stdout.write(`# RSS growth over 100,000 threadsafe create/call/close: ${growthMB.toFixed(2)} MB\n`);
    assert.ok(growthMB < 20, `RSS grew ${growthMB.toFixed(1)} MB over 100,000 threadsafe create/close`);
  });
});
