"use strict";
// Packed structs of 16 bytes or less with an unaligned member, a packed
// { u64, u32 }, and 16-aligned structs by value (src/types/layout_abi.c),
// compared with gcc (test/fixture/packed.c): x86-64 System V passes the
// unaligned ones in memory, which libffi is told by a stand-in carrying the
// type's own size and alignment. As arguments among register and stack
// ones, results, JSCallback arguments and results, async calls; the file
// runs itself again on each engine (CFFI_BUN_ENGINE).
const test = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const { buildFixture } = require("./helpers/fixture.js");
const { struct, dlopen, JSCallback, viewSource } = require("..");

const P5 = struct({ tag: "char", f: "f32" }, { pack: 1 });
const P9 = struct({ a: "u8", b: "u64" }, { pack: 1 });
const P16 = struct({ a: "u8", b: "u64", c: "u32", d: "u16", e: "i8" }, { pack: 1 });
const P12 = struct({ a: "u64", b: "u32" }, { pack: 1 });
const P3 = struct({ a: "i8", b: "i16" }, { pack: 1 });
const PD = struct({ d: "f64", f: "f32" }, { pack: 1 });
const A16M = struct({ a: "char", b: "f64" }, { pack: 4, align: 16 });
const A16R = struct({ a: "i64", b: "i64" }, { align: 16 });
const Outer = struct({ p: P5, n: "i32" });
const types = { P5, P9, P16, P12, P3, PD, A16M, A16R, Outer };

const file = buildFixture("packed.c");
// AArch64 refuses a 16-aligned aggregate of 16 bytes or less by value (an even register pair).
const aligned16 = process.arch !== "arm64";
const i64s = (n) => Array(n).fill("i64");
const definitions = {
  layouts: { returns: "cstring" },
  p5_make: { args: ["char", "f32"], returns: P5 },
  p5_sum: { args: ["f32", P5, "f32"], returns: "f64" },
  p9_make: { args: ["u8", "u64"], returns: P9 },
  p9_sum: { args: [P9, "u32"], returns: "u64" },
  p16_make: { args: ["u8", "u64", "u32", "u16", "i8"], returns: P16 },
  p16_twice: { args: [P16], returns: P16 },
  p3_make: { args: ["i8", "i16"], returns: P3 },
  p3_sum: { args: [P3], returns: "i32" },
  p12_make: { args: ["u64", "u32"], returns: P12 },
  p12_sum: { args: [P12], returns: "u64" },
  pd_make: { args: ["f64", "f32"], returns: PD },
  pd_sum: { args: [PD, "f32"], returns: "f64" },
  outer_make: { args: ["char", "f32", "i32"], returns: Outer },
  outer_sum: { args: ["i32", Outer], returns: "f64" },
  mixed_small: { args: [...i64s(5), P5, P9, "i64", P16, "i32", P3, PD], returns: "f64" },
  call_p16_small: { args: ["function", "i32"], returns: "f64" },
  call_p5: { args: ["function"], returns: "f64" },
  call_p12: { args: ["function"], returns: "u64" },
};
const definitions16 = {
  a16m_make: { args: ["char", "f64"], returns: A16M },
  a16r_make: { args: ["i64", "i64"], returns: A16R },
  mixed: { args: [...i64s(5), P5, P9, "i64", A16M, P16, "i32", A16R, P3, "f64"], returns: "f64" },
  call_p16: { args: ["function", "i32"], returns: "f64" },
};
if (aligned16) Object.assign(definitions, definitions16);
const p16 = { a: 200, b: 0xfedcba9876543210n, c: 0xdeadbeef, d: 0xfffe, e: -100 };

test("every layout's size, alignment and offsets equal gcc's", () => {
  const lib = dlopen(file, { layouts: definitions.layouts });
  const rows = lib.symbols.layouts().trim().split("\n");
  assert.equal(rows.length, Object.keys(types).length);
  for (const row of rows) {
    const [, name, size, align, ...fields] = row.split(" ");
    const T = types[name];
    assert.deepEqual([T.size, T.align], [+size, +align], name);
    for (const [field, offset] of fields.map((f) => f.split("="))) assert.equal(T.offsetof(field), +offset, `${name}.${field}`);
  }
  lib.close();
});

test("by value as arguments and results, as gcc passes them", () => {
  const lib = dlopen(file, definitions);
  const s = lib.symbols;
  assert.deepEqual(s.p5_make(-7, 2.5), { tag: -7, f: 2.5 });
  assert.equal(s.p5_sum(1, { tag: 2, f: 3 }, 4), 1 + 20 + 300 + 4000);
  assert.deepEqual(s.p9_make(255, 0xffffffffffffffffn), { a: 255, b: 0xffffffffffffffffn });
  assert.equal(s.p9_sum({ a: 3, b: 1n << 62n }, 5), 3n + (1n << 63n) + 5n);
  assert.deepEqual(s.p16_make(p16.a, p16.b, p16.c, p16.d, p16.e), p16);
  assert.deepEqual(s.p16_twice({ a: 100, b: 1n << 62n, c: 0x7fffffff, d: 0x7fff, e: -64 }), {
    a: 200, b: 1n << 63n, c: 0xfffffffe, d: 0xfffe, e: -128,
  });
  assert.deepEqual(s.p3_make(-128, -32768), { a: -128, b: -32768 });
  assert.equal(s.p3_sum({ a: 127, b: 32767 }), 127 + 32767000);
  assert.deepEqual(s.p12_make(0xffffffffffffffffn, 0xffffffff), { a: 0xffffffffffffffffn, b: 0xffffffff });
  assert.equal(s.p12_sum({ a: 1n << 40n, b: 7 }), (1n << 40n) + 7n);
  assert.deepEqual(s.pd_make(-1.5, 0.25), { d: -1.5, f: 0.25 });
  assert.equal(s.pd_sum({ d: 1, f: 2 }, 3), 1 + 20 + 300);
  assert.deepEqual(s.outer_make(5, -0.5, -9), { p: { tag: 5, f: -0.5 }, n: -9 });
  assert.equal(s.outer_sum(1, { p: { tag: 2, f: 3 }, n: 4 }), 1 + 20 + 300 + 4000);
  // Buffers of exactly the size are the bytes.
  const bytes = new Uint8Array(P5.size);
  P5.write(bytes, { tag: 1, f: 1 });
  assert.equal(s.p5_sum(0, bytes, 0), 10 + 100);
  assert.equal(
    s.mixed_small(1, 2, 3, 4, 5, { tag: 1, f: 1 }, { a: 3, b: 4n }, 0, { a: 1, b: 2n, c: 3, d: 4, e: 5 }, 6, { a: -1, b: 2 }, { d: 1, f: 2 }),
    15 + 1 + 10 + 700 + 15e5 + 6e6 + 1e8 + 3e9,
  );
  lib.close();
});

test("16-aligned ones (a packed member inside, and in registers) among stack arguments", (t) => {
  if (!aligned16) {
    assert.throws(() => dlopen(file, { a16m_make: definitions16.a16m_make }), /cannot be passed by value here \(on AArch64, an alignment above 8/);
    return t.skip("AArch64 refuses them by value");
  }
  const lib = dlopen(file, definitions);
  const s = lib.symbols;
  assert.deepEqual(s.a16m_make(-3, 1e300), { a: -3, b: 1e300 });
  assert.deepEqual(s.a16r_make(-1n, 1n << 62n), { a: -1n, b: 1n << 62n });
  const expected = 15 + 1 + 10 + (3 + 4) * 100 + 5e3 + 0.5e4 + (1 + 2 + 3 + 4 + 5) * 1e5 + 6e6 + (1 + 2) * 1e7 + (-1 + 2) * 1e8 + 2e9;
  assert.equal(
    s.mixed(1, 2, 3, 4, 5, { tag: 1, f: 1 }, { a: 3, b: 4n }, 0, { a: 5, b: 0.5 }, { a: 1, b: 2n, c: 3, d: 4, e: 5 }, 6, { a: 1n, b: 2n }, { a: -1, b: 2 }, 2),
    expected,
  );
  lib.close();
});

test("JSCallbacks take and return them, called by C", () => {
  const lib = dlopen(file, definitions);
  let seen;
  const cbSmall = new JSCallback(
    (a, k, b, c) => {
      seen = [a, k, b, c];
      return { a: 1, b: 2n, c: 3, d: 4, e: -5 };
    },
    { args: [P5, "i32", P9, PD], returns: P16 },
  );
  assert.equal(lib.symbols.call_p16_small(cbSmall, 42), 1 + 2 + 6 + 16 - 40);
  assert.deepEqual(seen, [{ tag: 3, f: 0.5 }, 42, { a: 7, b: 0x0102030405060708n }, { d: -2, f: 0.25 }]);
  cbSmall.close();
  if (aligned16) {
    const cb16 = new JSCallback(
      (a, k, b, c) => {
        seen = [a, k, b, c];
        return { a: 1, b: 2n, c: 3, d: 4, e: -5 };
      },
      { args: [P5, "i32", P9, A16M], returns: P16 },
    );
    assert.equal(lib.symbols.call_p16(cb16, 42), 1 + 2 + 6 + 16 - 40);
    assert.deepEqual(seen, [{ tag: 3, f: 0.5 }, 42, { a: 7, b: 0x0102030405060708n }, { a: -2, b: 0.25 }]);
    cb16.close();
  }
  const cb5 = new JSCallback(
    (a, b) => {
      seen = [a, b];
      return { tag: a.a, f: b.b };
    },
    { args: [P3, P12], returns: P5 },
  );
  assert.equal(lib.symbols.call_p5(cb5), -5 + 90);
  assert.deepEqual(seen, [{ a: -5, b: 300 }, { a: 1n << 40n, b: 9 }]);
  const cb12 = new JSCallback((a) => ({ a: a.a + 1n, b: a.b * 2 }), { args: [P12], returns: P12 });
  assert.equal(lib.symbols.call_p12(cb12), 101n * 1000n + 14n);
  for (const cb of [cb5, cb12]) cb.close();
  lib.close();
});

test("async calls and threadsafe callbacks carry them too", async () => {
  const lib = dlopen(file, definitions);
  const s = lib.symbols;
  assert.deepEqual(await s.p16_twice.async({ a: 1, b: 2n, c: 3, d: 4, e: 5 }), { a: 2, b: 4n, c: 6, d: 8, e: 10 });
  assert.deepEqual(await s.p5_make.async(9, 1.5), { tag: 9, f: 1.5 });
  assert.equal(await s.p12_sum.async({ a: 5n, b: 6 }), 11n);
  const cb = new JSCallback((a, b) => ({ tag: a.b % 100, f: Number(b.a) }), { args: [P3, P12], returns: P5, threadsafe: true });
  assert.equal(await s.call_p5.async(cb), 0 + 1099511627776 * 10);
  cb.close();
  lib.close();
});

test("a packed { u64, u32 } is 12 bytes to libffi too: nothing past the value reaches the callee", (t) => {
  if (process.arch !== "x64" || process.platform === "win32") return t.skip("reads System V x86-64's rsi");
  const lib = dlopen(file, { p12_upper_half: { args: [P12], returns: "u32" } });
  // A string argument of another call leaves its bytes in the call's scratch memory, where the
  // P12 goes next; a 16-byte descriptor copied the 4 bytes after the value into rsi's upper half.
  const dirty = dlopen(file, { p3_sum: { args: ["cstring"], returns: "i32" } });
  for (let i = 0; i < 50; i++) {
    dirty.symbols.p3_sum("\x7f".repeat(i));
    assert.equal(lib.symbols.p12_upper_half({ a: 1n, b: 2 }), 0, `after a string of ${i}`);
  }
  dirty.close();
  lib.close();
});

test("viewSource shows their C declarations, passed by value", () => {
  const [source] = viewSource({ f: { args: [P5, PD], returns: P16 } });
  assert.match(source, /#pragma pack\(push, 1\)\ntypedef struct \{\n  char tag; \/\* offset 0 \*\/\n  float f; \/\* offset 1 \*\//);
  assert.doesNotMatch(source, /not passed by value here/);
});

test("cc() symbols: what TinyCC passes otherwise than gcc is refused, naming why; the rest works", (t) => {
  const { cc, union } = require("..");
  const { ccUnavailable } = require("./helpers/platform.js");
  if (ccUnavailable()) return t.skip(ccUnavailable());
  const source = `
    #include <string.h>
    struct FF { float a, b, c; };
    struct FF ff_make(float x) { struct FF s = {x, x + 1, x + 2}; return s; }
    double ff_sum(struct FF s) { return s.a + s.b * 10 + s.c * 100; }
    struct IL { int a; long long b; };
    long long il_sum(struct IL s) { return s.a + s.b * 10; }
    union UI { float f; int i; };
    int ui_bits(union UI u) { return u.i; }
    int any(void) { return 0; }`;
  const FF = struct({ a: "f32", b: "f32", c: "f32" });
  const IL = struct({ a: "i32", b: "i64" });
  const lib = cc({
    source,
    symbols: {
      ff_make: { args: ["f32"], returns: FF },
      ff_sum: { args: [FF], returns: "f64" },
      il_sum: { args: [IL], returns: "i64" },
      ui_bits: { args: [union({ f: "f32", i: "i32" })], returns: "i32" },
    },
  });
  assert.deepEqual(lib.symbols.ff_make(1), { a: 1, b: 2, c: 3 });
  assert.equal(lib.symbols.ff_sum({ a: 1, b: 2, c: 3 }), 321);
  assert.equal(lib.symbols.il_sum({ a: 1, b: 2n }), 21n);
  assert.equal(lib.symbols.ui_bits({ f: 1 }), 0x3f800000);
  lib.close();
  if (process.arch !== "x64") return;
  // Measured: TinyCC 0.9.27 passes these as gcc does not (src/types/layout_abi.c).
  const DI = struct({ d: "f64", i: "i32" });
  const ID = struct({ i: "i32", d: "f64" });
  for (const [T, where, why] of [
    [DI, { args: [DI] }, /eightbytes are of different classes/],
    [ID, { args: ["i32"], returns: ID }, /eightbytes are of different classes/],
    [P5, { args: ["f32", P5] }, /gcc passes it in memory \(a member is not aligned\), TinyCC in registers/],
  ]) {
    const at = where.returns ? "returns" : `args\\[${where.args.indexOf(T)}\\]`;
    assert.throws(() => cc({ source, symbols: { any: where } }), {
      name: "TypeError",
      message: new RegExp(`struct \\{ .* \\} in ${at} of cc\\(\\) symbol "any" cannot be passed by value to TinyCC-compiled code: .*${why.source}.*pass a pointer`),
    });
  }
});

const engines = ["jit", "registers", "ffi"];
if (!process.env.CFFI_BUN_ENGINE) {
  for (const engine of engines) {
    test(`the same on CFFI_BUN_ENGINE=${engine}`, () => {
      execFileSync(process.execPath, [__filename], { env: { ...process.env, CFFI_BUN_ENGINE: engine }, stdio: "pipe" });
    });
  }
}
