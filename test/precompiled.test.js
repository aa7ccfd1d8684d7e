"use strict";
// Precompiled wrappers (src/calls/precompiled.c): a hot symbol whose
// signature is one of the common shapes takes a wrapper compiled with the
// addon instead of a TinyCC one. The type battery runs them at every limit
// (types-precompiled.test.js); these tests cover the switch under the
// default engine: the same results, errors, errno and callback behaviour on
// both sides of it, and the shapes that still go to TinyCC.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { timeScale, ccUnavailable } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const HOT = 1000;
const x64Linux = {
  // The tests bind their C with cc().
  skip: (!(process.platform === "linux" && process.arch === "x64") && "precompiled wrappers are x86-64 Linux only") || ccUnavailable(),
};

function runChild(code, nodeFlags = []) {
  const prelude = `const ffi = require(${JSON.stringify(ROOT)}); const assert = require("node:assert/strict");\n`;
  const r = spawnSync(process.execPath, [...nodeFlags, "-e", prelude + code], {
    encoding: "utf8",
    timeout: timeScale(60000),
    // The addon's default (tiered) engine: the node-ffi engine would take these symbols on Node 26.
    env: { ...process.env, CFFI_BUN_ENGINE: "addon", CFFI_BUN_DEBUG: "1" },
  });
  assert.equal(r.status, 0, `child failed (${r.status} ${r.signal}):\n${r.stderr}`);
  return r;
}

const SOURCE = `
  #include <errno.h>
  int set_errno_i32(int v) { if (v) errno = v; return v; }
  double scale(double x, int k) { return x * k; }
  unsigned long long add_u64_f64(unsigned long long a, double b) { return a + (unsigned long long)b; }
  long long negate_i64(long long a) { return -a; }
  const char *name_of(int k) { return k ? "hot" : 0; }
  int first_byte(const unsigned char *p, unsigned n) { return n ? p[0] : -1; }
  void *same_ptr(void *p) { return p; }
  unsigned add_u32(unsigned x, unsigned y) { return x + y; }
  static int nothing_calls;
  void nothing(void) { nothing_calls++; }
  int nothing_count(void) { return nothing_calls; }
  float half_f32(float x) { return x / 2; }
  int call_twice(int (*cb)(int), int x) { return cb(x) + cb(x + 1); }
`;
const SYMBOLS = `{
  set_errno_i32: { args: ["i32"], returns: "i32" },
  scale: { args: ["f64", "i32"], returns: "f64" },
  add_u64_f64: { args: ["u64", "f64"], returns: "u64" },
  negate_i64: { args: ["i64"], returns: "i64" },
  name_of: { args: ["i32"], returns: "cstring" },
  first_byte: { args: ["ptr", "u32"], returns: "i32" },
  same_ptr: { args: ["ptr"], returns: "ptr" },
  add_u32: { args: ["u32", "u32"], returns: "u32" },
  nothing: { returns: "void" },
  nothing_count: { returns: "i32" },
  half_f32: { args: ["f32"], returns: "f32" },
  call_twice: { args: ["ptr", "i32"], returns: "i32" },
}`;
const PRECOMPILED = ["add_u32", "add_u64_f64", "call_twice", "first_byte", "name_of", "negate_i64", "nothing",
  "same_ptr", "scale", "set_errno_i32"];

const hotLines = (stderr) => stderr.split("\n").filter((l) => /jit: .* is hot/.test(l));

test("hot symbols of the common shapes take precompiled wrappers, with the same results before and after", x64Linux, () => {
  const { stderr } = runChild(`
    const lib = ffi.cc({ source: ${JSON.stringify(SOURCE)}, symbols: ${SYMBOLS} });
    const S = lib.symbols;
    const view = new Uint8Array([201, 2, 3]);
    const double = new ffi.JSCallback((x) => 2 * x, { args: ["i32"], returns: "i32" });
    const messages = (i) => {
      const caught = [];
      for (const f of [() => S.scale("1", 2), () => S.scale(1), () => S.add_u64_f64({}, 1), () => S.first_byte(true, 1),
                       () => S.negate_i64("1"), () => S.negate_i64(undefined), () => S.add_u64_f64("1", 0), () => S.add_u32(1)]) {
        try { f(); caught.push("no throw"); } catch (e) { caught.push(e.constructor.name + ": " + e.message); }
      }
      return caught;
    };
    const before = messages();
    for (let i = 0; i < ${HOT * 3}; i++) {
      if (i === ${HOT - 1} || i === ${HOT}) console.error("call " + i);
      assert.equal(S.set_errno_i32(i), i);
      assert.equal(S.set_errno_i32(-2147483648), -2147483648);
      assert.equal(S.set_errno_i32(2 ** 32 + 5), 5);
      assert.equal(S.scale(i + 0.5, -3), (i + 0.5) * -3);
      assert.equal(S.scale(1.5, 2 ** 31), 1.5 * -(2 ** 31));
      assert.equal(S.add_u64_f64(2n ** 64n - 1n, 1), 0n);
      assert.equal(S.add_u64_f64(i, 2.9), BigInt(i + 2));
      assert.equal(S.add_u64_f64(-1n, 0), 2n ** 64n - 1n);
      assert.equal(S.negate_i64(-(2n ** 63n)), -(2n ** 63n));
      assert.equal(S.negate_i64(i), -BigInt(i));
      assert.equal(S.negate_i64(1e20), -BigInt.asIntN(64, 100000000000000000000n));
      // i64 reads a number first, u64 a BigInt first (the TinyCC wrapper's
      // order); both kinds at their limits give the generic engine's values.
      const i64s = [-0, 1.9, -1.9, 2 ** 53, -(2 ** 63), 9.1e18, 9.2e18, -9.2e18, NaN, Infinity, 2 ** 64, 2n ** 64n + 1n, -1];
      assert.deepEqual(i64s.map((v) => S.negate_i64(v)), [0n, -1n, 1n, -(2n ** 53n), -(2n ** 63n), -9100000000000000000n,
        -9200000000000000000n, 9200000000000000000n, 0n, 0n, 0n, -1n, 1n]);
      assert.deepEqual(i64s.map((v) => S.add_u64_f64(v, 0)), [0n, 1n, 2n ** 64n - 1n, 2n ** 53n, 2n ** 63n,
        9100000000000000000n, 9200000000000000000n, 9246744073709551616n, 0n, 0n, 0n, 1n, 2n ** 64n - 1n]);
      assert.equal(S.name_of(i + 1), "hot");
      assert.equal(S.name_of(0), null);
      assert.equal(S.first_byte(view, 3), 201);
      assert.equal(S.first_byte(null, 0), -1);
      assert.equal(S.same_ptr(view), ffi.ptr(view));
      assert.equal(S.same_ptr(0), null);
      assert.equal(S.same_ptr(2 ** 53), 2n ** 53n);
      assert.equal(S.add_u32(2 ** 32 - 1, 1), 0);
      assert.equal(S.add_u32(-1, 0), 2 ** 32 - 1);
      assert.equal(S.nothing(), undefined);
      assert.equal(S.half_f32(i), i / 2);
      assert.equal(S.call_twice(double, i), 4 * i + 2);
    }
    assert.equal(S.nothing_count(), ${HOT * 3});
    assert.deepEqual(messages(), before);
    assert.ok(!before.includes("no throw"), before.join("\\n"));

    // errno: a call that leaves errno alone leaves errno() as it was, whatever Node did in between.
    S.set_errno_i32(34);
    assert.equal(ffi.errno(), 34);
    try { require("node:fs").readFileSync("/nonexistent/precompiled"); } catch {}
    S.set_errno_i32(0);
    assert.equal(ffi.errno(), 34);

    // A callback's exception is rethrown by the call its C returns to; the next calls work.
    const thrower = new ffi.JSCallback((x) => { if (x > 10) throw new Error("boom " + x); return x; }, { args: ["i32"], returns: "i32" });
    assert.throws(() => S.call_twice(thrower, 20), /boom 20/);
    assert.equal(S.call_twice(thrower, 1), 3);

    // Closed: the precompiled wrappers throw as the generic entry does.
    lib.close();
    assert.throws(() => S.nothing(), /Cannot call "nothing": its .* is closed/);
    assert.throws(() => S.scale(1, 2), /Cannot call "scale": its .* is closed/);
    console.error("done");
  `);
  assert.match(stderr, /done/);
  const hot = hotLines(stderr);
  const precompiled = hot.filter((l) => /takes its precompiled wrapper/.test(l)).map((l) => l.match(/jit: (\w+) is hot/)[1]);
  assert.deepEqual(precompiled.sort(), PRECOMPILED);
  // A shape with no precompiled wrapper still gets its TinyCC one.
  assert.ok(hot.some((l) => /half_f32 is hot .*its wrapper is compiled/.test(l)), hot.join("\n"));
  // The switch happens on the 1000th call (nothing() is called once per round).
  const lines = stderr.split("\n");
  const at = lines.findIndex((l) => / nothing is hot/.test(l));
  assert.ok(at > lines.indexOf(`call ${HOT - 1}`) && at < lines.indexOf(`call ${HOT}`), stderr);
});

// Precompiled wrappers do not test the open flag: close() repoints the entry
// stubs of its functions, kept in a list per owner that the GC's finalizers
// leave. These cases reach that list at its edges.
test("close() stops every precompiled function of its owner, with some collected first and one closed from inside a call", x64Linux, () => {
  const { stderr } = runChild(`
    const lib = ffi.cc({ source: ${JSON.stringify(SOURCE)}, symbols: ${SYMBOLS} });
    const S = lib.symbols;
    const addresses = Object.fromEntries(Object.keys(S).map((k) => [k, S[k].ptr]));
    // linkSymbols owners whose functions are collected before and after being listed.
    const linked = () => ffi.linkSymbols({
      add_u32: { ptr: addresses.add_u32, args: ["u32", "u32"], returns: "u32" },
      nothing: { ptr: addresses.nothing, returns: "void" },
      scale: { ptr: addresses.scale, args: ["f64", "i32"], returns: "f64" },
    });
    const kept = linked();
    for (let round = 0; round < 20; round++) {
      const dropped = linked();
      for (let i = 0; i < ${HOT + 1}; i++) dropped.symbols.add_u32(i, 1), dropped.symbols.scale(i, 2);
      if (round % 2) dropped.close();
    }
    for (let i = 0; i < ${HOT + 1}; i++) {
      assert.equal(kept.symbols.add_u32(i, 1), i + 1);
      kept.symbols.nothing();
      assert.equal(kept.symbols.scale(i, 2), 2 * i);
    }
    global.gc();
    // Hot, then one left unlisted (never hot): both throw after close().
    for (let i = 0; i < ${HOT + 1}; i++) S.add_u32(i, i), S.nothing();
    // close() from a callback inside a precompiled call: the call returns, the next one throws.
    let closedInside = false;
    const closer = new ffi.JSCallback((x) => { if (x === 7) { kept.close(); closedInside = true; } return x; }, { args: ["i32"], returns: "i32" });
    const callTwice = ffi.linkSymbols({ call_twice: { ptr: addresses.call_twice, args: ["ptr", "i32"], returns: "i32" } });
    for (let i = 0; i < ${HOT + 1}; i++) assert.equal(callTwice.symbols.call_twice(closer, 100), 201);
    assert.equal(callTwice.symbols.call_twice(closer, 6), 13);
    assert.ok(closedInside);
    for (const name of ["add_u32", "nothing", "scale"])
      assert.throws(() => kept.symbols[name](1, 2), new RegExp('Cannot call "' + name + '": its .* is closed'));
    assert.equal(callTwice.symbols.call_twice(closer, 1), 3);
    lib.close();
    assert.throws(() => S.add_u32(1, 2), /Cannot call "add_u32": its .* is closed/);
    assert.throws(() => S.nothing(), /Cannot call "nothing": its .* is closed/);
    assert.throws(() => S.negate_i64(1n), /Cannot call "negate_i64": its .* is closed/);
    global.gc();
    console.error("done");
  `, ["--expose-gc"]);
  assert.match(stderr, /done/);
  assert.ok(hotLines(stderr).filter((l) => /add_u32 is hot .*precompiled/.test(l)).length >= 20, stderr);
});

// Composed wrappers (3 to 6 arguments): each argument read by its type's
// reader, C called through its register pattern. Every type they take, in
// every result kind, gives the generic engine's values and messages: each
// round's results are compared with the first round's, made before any
// symbol was hot.
const COMPOSED_SOURCE = `
  #include <stdbool.h>
  double mix6(int a, double b, long long c, float d, unsigned e, double f) { return a + b + (double)c + d + e + f; }
  long long narrow5(signed char a, unsigned char b, short c, unsigned short d, char e) {
    return (long long)a * 1000000000000LL + (long long)b * 100000000LL + (long long)c * 10000LL + d + e * 7LL;
  }
  unsigned long long u64_3(unsigned long long a, long long b, const unsigned char *p) { return a + (unsigned long long)b + p[0]; }
  const char *pick4(int k, double x, float y, unsigned z) { return k < 0 ? 0 : (x + y + z > 10 ? "big" : "small"); }
  void store3(int *out, int a, int b) { out[0] = a - b; }
  unsigned u32_6(unsigned a, int b, unsigned c, int d, unsigned e, int f) { return a * 3 + b * 5 + c * 7 + d * 11 + e * 13 + f * 17; }
  long long fast4(long long a, unsigned long long b, double c, float d) { return a - (long long)b + (long long)c + (long long)(d * 4); }
  bool gt3(int a, int b, int c) { return a > b + c; }
  unsigned short sum_u16(unsigned short a, unsigned short b, unsigned short c) { return a + b + c; }
  float f32_3(float a, float b, int c) { return a * b + c; }
`;
const COMPOSED_SYMBOLS = `{
  mix6: { args: ["i32", "f64", "i64", "f32", "u32", "f64"], returns: "f64" },
  narrow5: { args: ["i8", "u8", "i16", "u16", "char"], returns: "i64" },
  u64_3: { args: ["u64", "i64", "ptr"], returns: "u64" },
  pick4: { args: ["i32", "f64", "f32", "u32"], returns: "cstring" },
  store3: { args: ["ptr", "i32", "i32"], returns: "void" },
  u32_6: { args: ["u32", "i32", "u32", "i32", "u32", "i32"], returns: "u32" },
  fast4: { args: ["i64_fast", "u64_fast", "f64", "f32"], returns: "i64_fast" },
  gt3: { args: ["i32", "i32", "i32"], returns: "bool" },
  sum_u16: { args: ["u16", "u16", "u16"], returns: "u16" },
  f32_3: { args: ["f32", "f32", "i32"], returns: "f32" },
}`;

test("3 to 6 arguments: composed wrappers give the generic engine's results and errors", x64Linux, () => {
  const { stderr } = runChild(`
    const lib = ffi.cc({ source: ${JSON.stringify(COMPOSED_SOURCE)}, symbols: ${COMPOSED_SYMBOLS} });
    const S = lib.symbols;
    const view = new Uint8Array([7, 1]);
    const out = new Int32Array(1);
    const attempt = (f) => { try { return f(); } catch (e) { return e.constructor.name + ": " + e.message; } };
    const round = (i) => [
      S.mix6(1, 0.5, 3, 0.25, 5, 1.5), S.mix6(-1, i, 2 ** 53, 0.1, 2 ** 32 + 7, -0), S.mix6(2 ** 31, NaN, 3n, 1e40, -1, 2),
      S.mix6(1, 2, 1e20, 3, 4, 5), S.mix6(1, 2, -(2n ** 63n), 3, 4, 5), S.mix6(1, 2, 2n ** 64n + 5n, 3, 4, 5),
      S.mix6(1, 2, 9.2e18, 3, 4, 5), S.mix6(1, 2, NaN, 3, 4, 5), S.mix6(1, 2, -Infinity, 3, 4, 5),
      S.narrow5(-129, 256 + 77, 40000, -1, 200), S.narrow5(i, i, i, i, i), S.narrow5(-5, -5, -5, -5, -i),
      S.u64_3(2n ** 64n - 1n, 2, view), S.u64_3(i, -1n, view), S.u64_3(-1, 1e20, view),
      S.pick4(1, 2, 3, 4), S.pick4(1, 2, 3, 2 ** 32 + 9), S.pick4(-1, 0, 0, 0),
      (S.store3(out, i, 3), out[0]), (S.store3(ffi.ptr(out), 10, i), out[0]),
      S.u32_6(-1, -1, 2 ** 32 + 1, 2 ** 31, i, 1.9), S.u32_6(1, 2, 3, 4, 5, 6),
      S.fast4(2 ** 53, 1, 2.5, 0.25), S.fast4(-5n, 2n ** 64n - 1n, -1.5, 1e-9), S.fast4(i, i, i, i),
      S.gt3(5, 2, 2), S.gt3(1, 2, 3), S.sum_u16(65535, 2, i), S.f32_3(1.5, 2.25, -(2 ** 31)),
      // Values the fast readers do not take, then ones nothing takes: the generic engine's messages.
      S.mix6(true, 2, 3, 4, 5, 6), S.mix6(1, 2, 3, 4, 5, 6, 7),
      attempt(() => S.mix6(1, 2, "3", 4, 5, 6)), attempt(() => S.mix6(1, 2, 3, 4, 5)), attempt(() => S.u64_3({}, 1, view)),
      attempt(() => S.store3(true, 1, 2)), attempt(() => S.gt3(1, 2, undefined)), attempt(() => S.f32_3(1, 2n, 3)),
      attempt(() => S.narrow5(1, 2, 3, 4, "5")),
    ].map(String);
    const first = round(0);
    for (let i = 1; i < ${HOT * 3}; i++) {
      const now = round(0);
      if (i % 500 === 0) assert.deepEqual(now, first);
      round(i);
    }
    assert.deepEqual(round(0), first);
    // f32_3(1, 2n, 3) converts its BigInt (5): the other six throw.
    assert.equal(first.filter((r) => /Error/.test(r)).length, 6, first.join("\\n"));
    lib.close();
    assert.throws(() => S.mix6(1, 2, 3, 4, 5, 6), /Cannot call "mix6": its .* is closed/);
    assert.throws(() => S.gt3(1, 2, 3), /Cannot call "gt3": its .* is closed/);
    console.error("done");
  `);
  assert.match(stderr, /done/);
  const precompiled = hotLines(stderr).filter((l) => /takes its precompiled wrapper/.test(l)).map((l) => l.match(/jit: (\w+) is hot/)[1]);
  // Every one but f32_3 (an f32 result has no precompiled wrapper: it keeps its TinyCC one).
  assert.deepEqual(precompiled.sort(), ["fast4", "gt3", "mix6", "narrow5", "pick4", "store3", "sum_u16", "u32_6", "u64_3"]);
});
