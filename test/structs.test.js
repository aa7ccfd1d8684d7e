"use strict";
// Structs, unions, arrays and out-parameters (docs/structs.md): layouts
// cross-checked with gcc (test/fixture/structs.c prints sizeof, _Alignof and
// offsetof for each), memory helpers and views, by-value calls compared with
// what C computed, out/inout arguments, and every bad input's TypeError.
const test = require("node:test");
const assert = require("node:assert/strict");
const { buildFixture } = require("./helpers/fixture.js");
const ffi = require("../lib/index.js");
const { struct, union, array, out, inout, dlopen, ptr, toArrayBuffer, viewSource, JSCallback } = ffi;

const lib = dlopen(buildFixture("structs.c"), { layouts: { returns: "cstring" } });
const gcc = new Map(
  lib.symbols
    .layouts()
    .trim()
    .split("\n")
    .map((line) => {
      const [kind, name, size, align, ...fields] = line.split(" ");
      return [name, { kind, size: +size, align: +align, offsets: Object.fromEntries(fields.map((f) => f.split("=")).map(([k, v]) => [k, +v])) }];
    }),
);

// The same declarations as test/fixture/structs.c.
const L1 = struct({ a: "char", b: "i32", c: "i16" });
const L2 = struct({ d: "f64", c: "char" });
const L10 = struct([["x", "f32"], ["y", "f32"], ["z", "f32"]]);
const U1 = union({ i: "i64", d: "f64", c: array("char", 13) });
const U2 = union({ b: "u8", s: L1, f: "f32" });
const layouts = {
  L1,
  L2,
  L3: struct({ a: "char", b: "f64", c: "char" }, { pack: 1 }),
  L4: struct({ a: "char", b: "i32", c: "f64" }, { pack: 2 }),
  L5: struct([["a", "char"], ["b", "i32", { align: 16 }], ["c", "char"]]),
  L6: struct({ a: "i32", b: "char" }, { align: 32 }),
  L7: struct({ in: L1, tail: "char", in2: L2 }),
  L8: struct({ bytes: array("u8", 5), n: "u32", arr: array("u16", 3) }),
  U1,
  L9: struct({ a: "char", u: U1, b: "char" }),
  L10,
  L11: struct({ a: "i8", b: "i64", c: "u8" }),
  L12: struct({ flag: "bool", p: "ptr", s: "u16" }),
  L13: struct({ a: "char", b: { type: "i32", align: 8 }, c: "char" }, { pack: 2 }),
  L14: struct({ a: "char", b: "f64" }, { pack: 4, align: 16 }),
  L15: struct({ pts: array(L10, 3), n: "char" }),
  U2,
  L16: struct({ big: "u64", f: "f32", s: array("i16", 2), u: U2 }),
};

test("every layout's size, alignment and offsets equal gcc's", () => {
  assert.equal(gcc.size, Object.keys(layouts).length);
  for (const [name, T] of Object.entries(layouts)) {
    const c = gcc.get(name);
    assert.ok(c, name);
    assert.equal(T.kind, c.kind, name);
    assert.equal(T.size, c.size, `${name} size`);
    assert.equal(T.align, c.align, `${name} align`);
    for (const [field, offset] of Object.entries(c.offsets)) assert.equal(T.offsetof(field), offset, `${name}.${field}`);
    assert.deepEqual(T.fields, Object.keys(c.offsets), name);
  }
});

test("offsetof follows dotted paths and array indexes", () => {
  assert.equal(layouts.L7.offsetof("in2.c"), 16 + 8);
  assert.equal(layouts.L15.offsetof("pts.2.y"), 2 * 12 + 4);
  assert.equal(layouts.L16.offsetof("u.s.c"), 16 + 8);
  assert.throws(() => layouts.L7.offsetof("in.nope"), { name: "TypeError", message: /no field "nope"/ });
  assert.throws(() => L1.offsetof("zz"), { name: "TypeError", message: /struct \{ a, b, c \} has no field "zz"/ });
  assert.throws(() => layouts.L15.offsetof("pts.3"), /no field "3"/);
  assert.throws(() => L1.offsetof(1), /expects a field name/);
});

test("named structs are type strings; names are checked", () => {
  const Color = struct("StructsTestColor", { r: "u8", g: "u8", b: "u8", a: "u8" });
  assert.equal(Color.name, "StructsTestColor");
  assert.equal(Color.size, 4);
  const Pair = struct({ fg: "StructsTestColor", bg: Color });
  assert.equal(Pair.size, 8);
  assert.equal(Pair.offsetof("bg"), 4);
  assert.throws(() => struct("StructsTestColor", { x: "u8" }), { name: "TypeError", message: /already defined/ });
  assert.throws(() => struct("i32", { x: "u8" }), { name: "TypeError", message: /already an FFIType name/ });
  assert.throws(() => struct("", { x: "u8" }), TypeError);
});

test("array types, their sizes and their values", () => {
  const A = array("i16", 4);
  assert.equal(A.size, 8);
  assert.equal(A.align, 2);
  assert.equal(A.length, 4);
  const buf = new ArrayBuffer(8);
  A.write(buf, [1, -2, 3]);
  assert.deepEqual([...A.read(buf)], [1, -2, 3, 0]);
  assert.ok(A.read(buf) instanceof Int16Array);
  const B = array("u64", 2);
  assert.ok(B.read(new ArrayBuffer(16)) instanceof BigUint64Array);
  const Ps = array(L10, 2);
  assert.equal(Ps.size, 24);
  const b2 = new ArrayBuffer(24);
  Ps.write(b2, [{ x: 1 }, { z: 2.5 }]);
  assert.deepEqual(Ps.read(b2), [{ x: 1, y: 0, z: 0 }, { x: 0, y: 0, z: 2.5 }]);
  assert.throws(() => array("i16", 0), /from 1 to 2\^30/);
  assert.throws(() => array("i16", 1.5), TypeError);
  assert.throws(() => array("void", 2), /cannot be of type void/);
  assert.throws(() => A.write(buf, [1, 2, 3, 4, 5]), { name: "TypeError", message: /holds 4 elements, received 5/ });
});

test("read and write: every scalar type at its limits", () => {
  const All = struct({
    c: "char", i8: "i8", u8: "u8", i16: "i16", u16: "u16", i32: "i32", u32: "u32", i64: "i64", u64: "u64",
    f32: "f32", f64: "f64", b: "bool", p: "ptr", f64fast: "i64_fast", u64fast: "u64_fast",
  });
  const buf = new Uint8Array(All.size);
  const value = {
    c: -128, i8: 127, u8: 255, i16: -32768, u16: 65535, i32: -2147483648, u32: 4294967295,
    i64: -(2n ** 63n), u64: 2n ** 64n - 1n, f32: 3.4028234663852886e38, f64: -Number.MAX_VALUE, b: true,
    p: 0xdeadbeef, f64fast: 2 ** 53 - 1, u64fast: 2n ** 64n - 1n,
  };
  All.write(buf, value);
  assert.deepEqual(All.read(buf), value);
  // Wrapping is the argument conversions': 8-32-bit integers wrap like typed-array stores.
  All.write(buf, { u8: 256 + 7, i8: 200, u32: -1, p: null });
  const back = All.read(buf);
  assert.equal(back.u8, 7);
  assert.equal(back.i8, -56);
  assert.equal(back.u32, 4294967295);
  assert.equal(back.p, null);
  assert.equal(back.i64, 0n); // missing fields are zero
});

test("read/write take a byteOffset and check the buffer's room", () => {
  const buf = new ArrayBuffer(L1.size * 2);
  L1.write(buf, { a: 1, b: 2, c: 3 }, L1.size);
  assert.deepEqual(L1.read(buf, L1.size), { a: 1, b: 2, c: 3 });
  assert.deepEqual(L1.read(new DataView(buf), L1.size), { a: 1, b: 2, c: 3 });
  assert.throws(() => L1.read(buf, L1.size + 1), { name: "TypeError", message: /too small: struct \{ a, b, c \} needs 12 bytes at byteOffset 13, the buffer has 24/ });
  assert.throws(() => L1.write(new Uint8Array(11), {}), { name: "TypeError", message: /too small/ });
  assert.throws(() => L1.read(buf, -1), { name: "TypeError", message: /byteOffset/ });
  assert.throws(() => L1.read(0), { name: "TypeError", message: /NULL/ });
  assert.throws(() => L1.read("x"), { name: "TypeError", message: /expects a pointer/ });
  // Through a pointer: the same memory.
  assert.deepEqual(L1.read(ptr(new Uint8Array(buf)), L1.size), { a: 1, b: 2, c: 3 });
});

test("bad values are TypeErrors naming the field, and leave memory as it was", () => {
  const Rect = struct({ pos: L10, n: "i32" });
  const buf = new Uint8Array(Rect.size).fill(0xaa);
  assert.throws(() => Rect.write(buf, { pos: { x: "one" } }), { name: "TypeError", message: /value\.pos\.x expects f32 \(a number\), received a string/ });
  assert.throws(() => Rect.write(buf, { pos: { w: 1 } }), { name: "TypeError", message: /value\.pos has an unknown field "w"/ });
  assert.throws(() => Rect.write(buf, { size: 1 }), { name: "TypeError", message: /value has an unknown field "size"/ });
  assert.throws(() => Rect.write(buf, { pos: 3 }), { name: "TypeError", message: /value\.pos expects struct \{ x, y, z \}.*received a number/ });
  assert.throws(() => Rect.write(buf, [1, 2]), { name: "TypeError", message: /received an array/ });
  assert.throws(() => Rect.write(buf, { n: 1n << 70n, pos: null }), TypeError);
  assert.ok(buf.every((b) => b === 0xaa));
  assert.throws(() => U1.write(new ArrayBuffer(16), { i: 1n, d: 2 }), { name: "TypeError", message: /union: set one member, received "i" and "d"/ });
  assert.throws(() => struct({}), { name: "TypeError", message: /no fields/ });
  assert.throws(() => struct({ x: "nope" }), { name: "TypeError", message: /field "x" has an unknown type "nope"/ });
  assert.throws(() => struct({ x: "napi_env" }), { name: "TypeError", message: /field "x" cannot be of type napi_env/ });
  assert.throws(() => struct({ x: {} }), { name: "TypeError", message: /field "x"/ });
  assert.throws(() => struct({ x: out("i32") }), { name: "TypeError", message: /field "x": out\(\)/ });
  assert.throws(() => struct([["x", "i32"], ["x", "u8"]]), { name: "TypeError", message: /"x" is named twice/ });
  assert.throws(() => struct([["x"]]), { name: "TypeError", message: /fields\[0\] must be \[name, type\]/ });
  assert.throws(() => struct({ x: "i32" }, { pack: 3 }), { name: "TypeError", message: /"pack" must be a power of two/ });
  assert.throws(() => struct({ x: "i32" }, { align: 0 }), { name: "TypeError", message: /"align" must be a power of two/ });
  assert.throws(() => struct("x"), { name: "TypeError", message: /fields as an object/ });
  assert.throws(() => struct({ x: "i32" }, 5), { name: "TypeError", message: /options must be an object/ });
});

test("unions read every member from the same bytes; char arrays take strings", () => {
  const buf = new ArrayBuffer(U1.size);
  U1.write(buf, { d: 1.5 });
  const v = U1.read(buf);
  assert.equal(v.d, 1.5);
  assert.equal(v.i, 0x3ff8000000000000n);
  const Name = struct({ name: array("char", 8), id: "u32" });
  const nb = new ArrayBuffer(Name.size);
  Name.write(nb, { name: "abc", id: 7 });
  assert.deepEqual([...Name.read(nb).name], [97, 98, 99, 0, 0, 0, 0, 0]);
  assert.throws(() => Name.write(nb, { name: "12345678" }), { name: "TypeError", message: /value\.name is a char\[8\]/ });
});

test("views read and write the memory itself", () => {
  const Rect = struct({ pos: L10, n: "i32", tags: array("u16", 2) });
  const v = Rect.view();
  assert.equal(typeof v.ptr, "number");
  assert.ok(v.buffer instanceof ArrayBuffer);
  v.n = 42;
  v.pos.y = 2.5;
  v.tags[1] = 9; // a Uint16Array over the same memory
  assert.deepEqual(Rect.read(v.buffer), { pos: { x: 0, y: 2.5, z: 0 }, n: 42, tags: new Uint16Array([0, 9]) });
  v.pos = { x: 1 };
  assert.equal(v.pos.x, 1);
  assert.equal(v.pos.y, 0);
  assert.throws(() => (v.n = "x"), { name: "TypeError", message: /\.n expects i32/ });
  assert.deepEqual(Object.keys(v), ["pos", "n", "tags"]);
  assert.deepEqual({ ...v.pos }, { x: 1, y: 0, z: 0 });
  // A view over a buffer at an offset, and over a pointer.
  const bytes = new Uint8Array(Rect.size + 8);
  const at = Rect.view(bytes, 8);
  at.n = -5;
  assert.equal(Rect.read(bytes, 8).n, -5);
  const raw = Rect.view(ptr(bytes), 8);
  assert.equal(raw.n, -5);
  raw.n = 6;
  assert.equal(at.n, 6);
  assert.throws(() => Rect.view(new Uint8Array(4)), { name: "TypeError", message: /too small/ });
});

test("arrays of structs in C memory: views and reads through a pointer", () => {
  const F2 = struct({ x: "f32", y: "f32" });
  const Rect = struct({ pos: F2, size: F2 });
  const sym = dlopen(buildFixture("structs.c"), {
    rect_array: { returns: "ptr" },
    rect_array_sum: { args: ["ptr", "i32"], returns: "f32" },
  }).symbols;
  const Rects = array(Rect, 4);
  const p = sym.rect_array();
  assert.deepEqual(Rects.read(p)[3], { pos: { x: 12, y: 13 }, size: { x: 14, y: 15 } });
  const views = Rects.view(p);
  assert.equal(views.length, 4);
  assert.equal(views[1].size.y, 7);
  views[1].size.y = 100;
  assert.equal(sym.rect_array_sum(p, 4), 120 - 7 + 100);
  views[1].size.y = 7;
  assert.equal(Rect.read(p, Rect.size * 2).pos.x, 8);
});

const F2 = struct({ x: "f32", y: "f32" });
const F3 = struct({ x: "f32", y: "f32", z: "f32" });
const D2 = struct({ x: "f64", y: "f64" });
const S1 = struct({ a: "u8" });
const S3 = struct({ a: "i16", b: "i8" });
const S8 = struct({ a: "i32", b: "i32" });
const S12 = struct({ a: "i64", b: "i32" });
const S16 = struct({ a: "i64", b: "i64" });
const Mix = struct({ x: "f64", n: "i32" });
const Mix2 = struct({ f: "f32", i: "i32", d: "f64" });
const Big = struct({ a: "i64", b: "i64", c: "i64", d: "f64" });
const Rect = struct({ pos: F2, size: F2 });
const Arr = struct({ tag: "u8", v: array("i16", 3) });
const Named = struct({ name: array("char", 12), id: "u32" });

function byValue(extra = {}) {
  return dlopen(buildFixture("structs.c"), {
    s1_make: { args: ["u8"], returns: S1 },
    s1_sum: { args: [S1], returns: "u32" },
    s3_make: { args: ["i16", "i8"], returns: S3 },
    s3_sum: { args: [S3], returns: "i32" },
    s8_swap: { args: [S8], returns: S8 },
    s12_make: { args: ["i64", "i32"], returns: S12 },
    s12_sum: { args: [S12], returns: "i64" },
    s16_add: { args: [S16, S16], returns: S16 },
    f2_scale: { args: [F2, "f32"], returns: F2 },
    f3_cross: { args: [F3, F3], returns: F3 },
    d2_add: { args: [D2, D2], returns: D2 },
    mix_make: { args: ["f64", "i32"], returns: Mix },
    mix_sum: { args: [Mix], returns: "f64" },
    mix2_twice: { args: [Mix2], returns: Mix2 },
    big_make: { args: ["i64", "i64", "i64", "f64"], returns: Big },
    big_sum: { args: [Big], returns: "f64" },
    big_between: { args: ["i32", Big, "i32"], returns: Big },
    rect_area: { args: [Rect], returns: "f32" },
    rect_move: { args: [Rect, F2], returns: Rect },
    arr_make: { args: ["u8", "i16", "i16", "i16"], returns: Arr },
    arr_sum: { args: [Arr], returns: "i32" },
    named_make: { args: ["cstring", "u32"], returns: Named },
    named_len: { args: [Named], returns: "u32" },
    many: { args: [D2, D2, D2, D2, D2, Mix, S16, S16, S16], returns: "f64" },
    ...extra,
  }).symbols;
}

test("inline arrays of up to 2^30 elements lay out at once; a >64-element array in a by-value struct matches gcc", () => {
  // One libffi descriptor pointer per element made array("u8", 2**30) allocate and walk 16 GiB.
  const started = Date.now();
  const rss = process.memoryUsage().rss;
  const A = array("u8", 2 ** 30);
  assert.equal(A.size, 2 ** 30);
  const S = struct({ a: A, b: array("u8", 2 ** 30 - 1) });
  assert.equal(S.size, 2 ** 31 - 1);
  const W = struct({ x: "u32", big: array("u64", 2 ** 27 + 3) });
  assert.equal(W.offsetof("big"), 8);
  assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, "laying out big arrays allocated per element");
  assert.ok(Date.now() - started < 10000);
  const Long = struct({ tag: "i32", v: array("i16", 101), after: "i32" });
  assert.equal(Long.size, 212);
  assert.equal(Long.offsetof("after"), 208);
  const { long_make, long_sum } = dlopen(buildFixture("structs.c"), {
    long_make: { args: ["i32", "i16", "i32"], returns: Long },
    long_sum: { args: ["i32", Long, "i32"], returns: "i64" },
  }).symbols;
  const made = long_make(-7, 3, 123456);
  assert.equal(made.tag, -7);
  assert.equal(made.after, 123456);
  assert.deepEqual([...made.v], Array.from({ length: 101 }, (_, i) => i * 3));
  const v = Array.from({ length: 101 }, (_, i) => (i % 2 ? -i : i * 7));
  const expected = 5 * 1000000 + 11 + 99 * 1000 + 42 + v.reduce((x, y) => x + y, 0);
  assert.equal(Number(long_sum(5, { tag: 11, v, after: 99 }, 42)), expected);
});

test("by value: 1 to 16+ bytes, integer, float and mixed, nested and with arrays, as C computes them", () => {
  const s = byValue();
  assert.deepEqual(s.s1_make(255), { a: 255 });
  assert.equal(s.s1_sum({ a: 200 }), 200);
  assert.deepEqual(s.s3_make(-300, -7), { a: -300, b: -7 });
  assert.equal(s.s3_sum({ a: 32767, b: -128 }), 32767 - 128);
  assert.deepEqual(s.s8_swap({ a: -1, b: 2147483647 }), { a: 2147483647, b: -1 });
  assert.deepEqual(s.s12_make(-(2n ** 63n), -5), { a: -(2n ** 63n), b: -5 });
  assert.equal(s.s12_sum({ a: 10n, b: -3 }), 7n);
  assert.deepEqual(s.s16_add({ a: 1n, b: 2n ** 62n }, { a: -2n, b: 2n ** 62n - 1n }), { a: -1n, b: 2n ** 63n - 1n });
  assert.deepEqual(s.f2_scale({ x: 1.5, y: -2 }, 4), { x: 6, y: -8 });
  assert.deepEqual(s.f3_cross({ x: 1 }, { y: 1 }), { x: 0, y: 0, z: 1 });
  assert.deepEqual(s.d2_add({ x: 0.1, y: 1e300 }, { x: 0.2, y: 1e300 }), { x: 0.1 + 0.2, y: 2e300 });
  assert.deepEqual(s.mix_make(0.5, -9), { x: 0.5, n: -9 });
  assert.equal(s.mix_sum({ x: 0.25, n: 3 }), 3.25);
  assert.deepEqual(s.mix2_twice({ f: 1.25, i: -4, d: 1e-300 }), { f: 2.5, i: -8, d: 2e-300 });
  assert.deepEqual(s.big_make(1n, 2n, 3n, 4.5), { a: 1n, b: 2n, c: 3n, d: 4.5 });
  assert.equal(s.big_sum({ a: 1n, b: 2n, c: 3n, d: 0.5 }), 6.5);
  assert.deepEqual(s.big_between(10, { a: 1n, b: 2n, c: 3n, d: 4 }, 20), { a: 11n, b: 22n, c: 3n, d: 4 });
  assert.equal(s.rect_area({ pos: { x: 9 }, size: { x: 3, y: 2.5 } }), 7.5);
  assert.deepEqual(s.rect_move({ pos: { x: 1, y: 2 }, size: { x: 3, y: 4 } }, { x: 10, y: 20 }), { pos: { x: 11, y: 22 }, size: { x: 3, y: 4 } });
  const a = s.arr_make(7, -1, 2, -32768);
  assert.equal(a.tag, 7);
  assert.deepEqual([...a.v], [-1, 2, -32768]);
  assert.ok(a.v instanceof Int16Array);
  assert.equal(s.arr_sum({ tag: 1, v: [10, 20, 30] }), 61);
  assert.equal(s.arr_sum({ tag: 1, v: new Int16Array([10, 20]) }), 31);
  assert.equal(Buffer.from(s.named_make("hello", 5).name).toString("latin1").replace(/\0+$/, ""), "hello");
  assert.equal(s.named_len({ name: "four", id: 2 }), 4002);
  const m = { x: 1, n: 2 };
  const d = { x: 0.5, y: 0.25 };
  assert.equal(s.many(d, d, d, d, d, m, { a: 1n, b: 2n }, { a: 3n }, { b: 4n }), 5 * 0.75 + 3 + 10);
});

test("by value: buffers and views of exactly the size are the bytes", () => {
  const s = byValue();
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setInt32(0, 5, true);
  new DataView(bytes.buffer).setInt32(4, 6, true);
  assert.deepEqual(s.s8_swap(bytes), { a: 6, b: 5 });
  const v = S8.view();
  v.a = 1;
  v.b = 2;
  assert.deepEqual(s.s8_swap(v), { a: 2, b: 1 });
  assert.throws(() => s.s8_swap(new Uint8Array(7)), { name: "TypeError", message: /s8_swap: args\[0\] expects struct \{ a, b \}: a buffer must hold exactly its 8 bytes, received 7/ });
  assert.throws(() => s.s8_swap(D2.view()), { name: "TypeError", message: /s8_swap: args\[0\] has an unknown field "x"/ });
});

test("by value: bad arguments name the symbol, argument and field", () => {
  const s = byValue();
  assert.throws(() => s.rect_area({ pos: { x: "1" } }), { name: "TypeError", message: /^rect_area: args\[0\]\.pos\.x expects f32 \(a number\), received a string$/ });
  assert.throws(() => s.rect_area({ pos: {}, sise: {} }), { name: "TypeError", message: /rect_area: args\[0\] has an unknown field "sise"/ });
  assert.throws(() => s.rect_area(5), { name: "TypeError", message: /rect_area: args\[0\] expects struct \{ pos, size \}/ });
  assert.throws(() => s.rect_area(), { name: "TypeError", message: /args\[0\] \(struct\) is missing/ });
  assert.throws(() => s.arr_sum({ v: [1, 2, 3, 4] }), { name: "TypeError", message: /args\[0\]\.v holds 3 elements, received 4/ });
  assert.throws(() => s.arr_sum({ v: [1, "x"] }), { name: "TypeError", message: /args\[0\]\.v\[1\] expects i16/ });
  assert.deepEqual(s.rect_move({}, {}), { pos: { x: 0, y: 0 }, size: { x: 0, y: 0 } });
});

test("by value: a struct argument's fields are its own enumerable string keys, however Object.keys is patched", () => {
  const s = byValue();
  // Inherited, non-enumerable and symbol-keyed properties are not fields: not read, not unknown.
  const inherited = Object.create({ x: 100, bogus: 1 });
  inherited.y = 2;
  Object.defineProperty(inherited, "hidden", { value: 5, enumerable: false });
  inherited[Symbol("tag")] = 7;
  assert.deepEqual(s.d2_add(inherited, { x: 1, y: 1 }), { x: 1, y: 3 });
  // Keys in any order, and a Proxy's ownKeys trap is what lists them.
  assert.deepEqual(s.d2_add({ y: 4, x: 3 }, { x: 0.5, y: 0 }), { x: 3.5, y: 4 });
  const proxy = new Proxy({ x: 1, y: 2 }, { ownKeys: () => ["x", "zz"], getOwnPropertyDescriptor: () => ({ value: 1, enumerable: true, configurable: true }) });
  assert.throws(() => s.d2_add(proxy, {}), { name: "TypeError", message: /d2_add: args\[0\] has an unknown field "zz"/ });
  // Object.keys is captured when the addon loads: a program replacing it later changes nothing here.
  const keys = Object.keys;
  Object.keys = () => ["nope"];
  try {
    assert.deepEqual(s.d2_add({ x: 1, y: 2 }, { x: 3, y: 4 }), { x: 4, y: 6 });
    assert.throws(() => s.d2_add({ x: 1, q: 2 }, {}), { name: "TypeError", message: /unknown field "q"/ });
  } finally {
    Object.keys = keys;
  }
});

test("by value: returnsAs gives a view or the bytes", () => {
  const lib2 = dlopen(buildFixture("structs.c"), {
    d2_add: { args: [D2, D2], returns: D2, returnsAs: "view" },
    s8_swap: { args: [S8], returns: S8, returnsAs: "bytes" },
    mix_make: { args: ["f64", "i32"], returns: Mix, returnsAs: "object" },
  }).symbols;
  const view = lib2.d2_add({ x: 1, y: 2 }, { x: 3, y: 4 });
  assert.equal(view.y, 6);
  assert.equal(D2.read(view.buffer).x, 4);
  view.x = 9;
  assert.equal(view.x, 9);
  const bytes = lib2.s8_swap({ a: 1, b: 2 });
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...bytes], [2, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(lib2.mix_make(1, 2), { x: 1, n: 2 });
  assert.throws(() => dlopen(buildFixture("structs.c"), { d2_add: { args: [D2, D2], returns: D2, returnsAs: "copy" } }), {
    name: "TypeError",
    message: /"returnsAs" of symbol "d2_add" must be "object", "view" or "bytes"/,
  });
});

test("struct types in definitions: what C cannot pass by value is refused clearly", () => {
  assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { args: [array("u8", 4)] } }), /C passes no arrays by value/);
  assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { returns: out("i32") } }), /out\(\)\/inout\(\) are argument types/);
  assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { returns: array("u8", 2) } }), /C passes no arrays by value/);
  // A pack that changes nothing keeps the natural layout, which libffi passes itself.
  const Same = struct({ a: "u8" }, { pack: 1 });
  assert.equal(dlopen(buildFixture("structs.c"), { s1_sum: { args: [Same], returns: "u32" } }).symbols.s1_sum({ a: 3 }), 3);
});

test("unions and packed structs by value: libffi told their classification, values as C computes them", (t) => {
  if (process.arch !== "x64" && process.arch !== "arm64") return t.skip("classification written for x86-64 (System V and Win64) and AArch64 only");
  const FI = union({ f: "f32", i: "i32" }); // one INTEGER eightbyte
  const DD = union({ d: "f64", f: array("f32", 2) }); // one SSE eightbyte
  const P17 = struct({ a: "char", b: "f64", c: "f64" }, { pack: 1 }); // over 16 bytes: in memory
  const { L3, L5, L6, L13, L9 } = layouts;
  const sym = dlopen(buildFixture("structs.c"), {
    fi_from_float: { args: ["f32"], returns: FI },
    fi_float: { args: [FI, "f32"], returns: "f32" },
    dd_make: { args: ["f64"], returns: DD },
    dd_sum: { args: [DD, DD], returns: "f64" },
    u1_from_double: { args: ["f64"], returns: U1 },
    u1_bits: { args: [U1, "i32"], returns: "i64" },
    l5_make: { args: ["char", "i32", "char"], returns: L5 },
    u2_f: { args: [U2, "f32"], returns: "f32" },
    l9_make: { args: ["char", "f64", "char"], returns: L9 },
    p17_make: { args: ["char", "f64", "f64"], returns: P17 },
    p17_sum: { args: ["i32", P17], returns: "f64" },
    cb_union: { args: ["function", "f64", "f32"], returns: "f64" },
  }).symbols;
  const fi = sym.fi_from_float(1.5);
  assert.equal(fi.f, 1.5);
  assert.equal(fi.i, 0x3fc00000);
  assert.equal(sym.fi_float({ f: 2.25 }, 1), 3.25);
  assert.equal(sym.fi_float({ i: 0x40000000 }, 0), 2);
  assert.equal(sym.dd_make(-0.5).d, -0.5);
  assert.equal(sym.dd_sum({ d: 1.25 }, { f: [0, 2] }), 1.25 + 2);
  assert.equal(sym.u1_from_double(2).i, 0x4000000000000000n);
  assert.equal(sym.u1_bits({ i: 41n }, 1), 42n);
  assert.equal(sym.u1_bits({ c: "AB" }, 0), 0x4241n);
  assert.deepEqual(sym.l5_make(1, -2, 3), { a: 1, b: -2, c: 3 });
  assert.equal(sym.u2_f({ f: 1.5 }, 0.25), 1.75);
  const l9 = sym.l9_make(9, 0.125, -9);
  assert.deepEqual([l9.a, l9.u.d, l9.b], [9, 0.125, -9]);
  assert.deepEqual(sym.p17_make(-3, 0.5, 1e10), { a: -3, b: 0.5, c: 1e10 });
  assert.equal(sym.p17_sum(1, { a: 2, b: 0.25, c: 4 }), 7.25);
  const cb = new JSCallback((dd, fiv) => dd.d * 10 + fiv.f, { args: [DD, FI], returns: "f64" });
  assert.equal(sym.cb_union(cb, 1.5, 0.25), 15.25);
  cb.close();
  // An unaligned member in 16 bytes or less: System V passes it in memory (libffi told so by a
  // stand-in of the type's own size), Win64 by size alone (L3's 10 bytes by reference, L13's 8 in a
  // register), AArch64 as its bytes in x registers. All: an alignment above 16 is refused.
  const packed = dlopen(buildFixture("structs.c"), { l3_sum: { args: [L3], returns: "f64" }, l13_twice: { args: [L13], returns: L13 } }).symbols;
  assert.equal(packed.l3_sum({ a: 1, b: 0.5, c: 2 }), 3.5);
  assert.deepEqual(packed.l13_twice({ a: 1, b: -2, c: 3 }), { a: 2, b: -4, c: 6 });
  assert.throws(() => dlopen(buildFixture("structs.c"), { l6_sum: { args: [L6] } }), {
    name: "TypeError",
    message: /in args\[0\] of symbol "l6_sum": it cannot be passed by value here .*pass a pointer to it instead/,
  });
  assert.throws(() => new JSCallback(() => {}, { args: [L6] }), /cannot be passed by value here/);
  // AArch64: an alignment above 8 moves a small aggregate to an even register pair, which libffi cannot be told.
  if (process.arch === "arm64") assert.throws(() => dlopen(buildFixture("structs.c"), { l6_sum: { args: [layouts.L14] } }), /cannot be passed by value here/);
});

// The declarations of test/fixture/structs.c's HFA section.
const UF2 = union({ a: array("f32", 2), b: "f32" });
const UD = union({ d: "f64", e: array("f64", 2) });
const UF4 = union({ v: array("f32", 4), p: struct({ x: "f32", y: "f32" }) });
const UMix = union({ f: "f32", d: "f64" });
const PF3 = struct({ x: "f32", y: "f32", z: "f32" }, { pack: 1 });
const PMix = struct({ tag: "char", f: "f32" }, { pack: 1 });
const FA3 = struct({ v: array("f32", 3) });
const DA = struct({ a: "f64", b: array("f64", 2) });
const FA5 = struct({ v: array("f32", 5) });
const WithU = struct({ u: UF2, c: "f32" });
const PadF = struct([["a", "f32"], ["b", "f32", { align: 8 }]]);

test("homogeneous float aggregates (unions, packed, inline arrays) and their neighbours by value, as gcc passes them", (t) => {
  if (process.arch !== "x64" && process.arch !== "arm64") return t.skip("union classification written for x86-64 and AArch64 only");
  const hfa = { UF2, UD, UF4, UMix, PF3, PMix, FA3, DA, FA5, WithU, PadF };
  const sym = dlopen(buildFixture("structs.c"), {
    hfa_layouts: { returns: "cstring" },
    uf2_make: { args: ["f32", "f32"], returns: UF2 },
    uf2_sum: { args: ["f32", UF2, "f32"], returns: "f32" },
    ud_make: { args: ["f64", "f64"], returns: UD },
    ud_sum: { args: [UD, "f64"], returns: "f64" },
    ud_spill: { args: ["f64", "f64", "f64", "f64", "f64", "f64", "f64", UD, "f64"], returns: "f64" },
    uf4_make: { args: ["f32", "f32", "f32", "f32"], returns: UF4 },
    uf4_sum: { args: [UF4, "f32"], returns: "f32" },
    umix_make: { args: ["f64"], returns: UMix },
    umix_sum: { args: ["f32", UMix, "f64"], returns: "f64" },
    pf3_make: { args: ["f32", "f32", "f32"], returns: PF3 },
    pf3_sum: { args: [PF3, "f32"], returns: "f32" },
    fa3_scale: { args: [FA3, "f32"], returns: FA3 },
    da_make: { args: ["f64", "f64", "f64"], returns: DA },
    da_sum: { args: ["f32", DA], returns: "f64" },
    fa5_make: { args: ["f32"], returns: FA5 },
    fa5_sum: { args: [FA5, "f32"], returns: "f32" },
    withu_make: { args: ["f32", "f32", "f32"], returns: WithU },
    withu_sum: { args: ["f32", WithU], returns: "f32" },
    padf_make: { args: ["f32", "f32"], returns: PadF },
    padf_sum: { args: ["f32", PadF], returns: "f32" },
    cb_hfa: { args: ["function", "f32"], returns: "f32" },
  }).symbols;
  const rows = sym.hfa_layouts().trim().split("\n").map((line) => line.split(" "));
  assert.equal(rows.length, Object.keys(hfa).length);
  for (const [kind, name, size, align, ...fields] of rows) {
    const T = hfa[name];
    assert.equal(T.kind, kind, name);
    assert.deepEqual([T.size, T.align], [+size, +align], name);
    for (const [field, offset] of fields.map((f) => f.split("="))) assert.equal(T.offsetof(field), +offset, `${name}.${field}`);
  }
  assert.deepEqual([...sym.uf2_make(1.5, -2).a], [1.5, -2]);
  assert.equal(sym.uf2_make(0.25, 8).b, 0.25);
  assert.equal(sym.uf2_sum(1, { a: [2, 3] }, 4), 1 + 20 + 300 + 4000);
  assert.deepEqual([...sym.ud_make(0.5, 1e300).e], [0.5, 1e300]);
  assert.equal(sym.ud_sum({ e: [1, 2] }, 3), 1 + 20 + 300);
  assert.equal(sym.ud_sum({ d: 7 }, 0), 7);
  assert.equal(sym.ud_spill(1, 2, 3, 4, 5, 6, 7, { e: [1, 2] }, 3), 28 + 1000 + 20000 + 300000);
  assert.deepEqual([...sym.uf4_make(1, 2, 3, 4).v], [1, 2, 3, 4]);
  assert.deepEqual(sym.uf4_make(5, 6, 0, 0).p, { x: 5, y: 6 });
  assert.equal(sym.uf4_sum({ v: [1, 2, 3, 4] }, 0.5), 1 + 4 + 12 + 32 + 8);
  assert.equal(sym.uf4_sum({ p: { x: 1, y: 1 } }, 0), 3);
  assert.equal(sym.umix_make(-2.5).d, -2.5);
  assert.equal(sym.umix_sum(1, { d: 2 }, 3), 1 + 20 + 300);
  assert.deepEqual(sym.pf3_make(1, 2, 3), { x: 1, y: 2, z: 3 });
  assert.equal(sym.pf3_sum({ x: 1, y: 2, z: 3 }, 4), 1 + 4 + 12 + 32);
  // An unaligned member: System V passes it in memory, AArch64 and Win64 as its bytes in an integer register.
  const p = dlopen(buildFixture("structs.c"), { pmix_make: { args: ["char", "f32"], returns: PMix }, pmix_sum: { args: ["f32", PMix, "f32"], returns: "f32" } }).symbols;
  assert.deepEqual(p.pmix_make(-7, 2.5), { tag: -7, f: 2.5 });
  assert.equal(p.pmix_sum(1, { tag: 2, f: 3 }, 4), 1 + 20 + 300 + 4000);
  assert.deepEqual([...sym.fa3_scale({ v: [1, -2, 3] }, 2).v], [2, -4, 6]);
  assert.deepEqual(sym.da_make(1, 2, 3), { a: 1, b: new Float64Array([2, 3]) });
  assert.equal(sym.da_sum(0.5, { a: 1, b: [2, 3] }), 0.5 + 1 + 20 + 300);
  assert.deepEqual([...sym.fa5_make(1).v], [1, 2, 3, 4, 5]);
  assert.equal(sym.fa5_sum({ v: [1, 2, 3, 4, 5] }, 2), 10 + 50 + 200);
  const w = sym.withu_make(1, 2, 3);
  assert.deepEqual([[...w.u.a], w.c], [[1, 2], 3]);
  assert.equal(sym.withu_sum(0.5, { u: { a: [1, 2] }, c: 3 }), 0.5 + 10 + 200 + 3000);
  assert.deepEqual(sym.padf_make(1.5, 2.5), { a: 1.5, b: 2.5 });
  assert.equal(sym.padf_sum(1, { a: 2, b: 3 }), 1 + 20 + 300);
  let seen;
  const cb = new JSCallback(
    (p, m, k) => {
      seen = [p, m.d, k];
      return { a: [p.x + k, p.z] };
    },
    { args: [PF3, UMix, "f32"], returns: UF2 },
  );
  assert.equal(sym.cb_hfa(cb, 2), 2.5 + 10 * 6);
  assert.deepEqual(seen, [{ x: 2, y: 4, z: 6 }, -2, 0.5]);
  cb.close();
});

test("named struct strings work in definitions, and viewSource shows the struct", () => {
  const V = struct("StructsTestVec2d", { x: "f64", y: "f64" });
  const sym = dlopen(buildFixture("structs.c"), { d2_add: { args: ["StructsTestVec2d", V], returns: "StructsTestVec2d" } }).symbols;
  assert.deepEqual(sym.d2_add({ x: 1 }, { y: 2 }), { x: 1, y: 2 });
  const [source] = viewSource({ d2_add: { args: [V, V], returns: V } });
  assert.match(source, /libffi/);
  assert.match(source, /typedef struct \{\n  double x; \/\* offset 0 \*\/\n  double y; \/\* offset 8 \*\/\n\} cffi_t0; \/\* size 16, align 8 \*\/\n\/\* args\[0\]: cffi_t0 \*\/\n\/\* args\[1\]: cffi_t0 \*\/\n\/\* returns: cffi_t0 \*\//);
  const [packed] = viewSource({ f: { args: [out(layouts.L13), out(layouts.L16), inout("i32")] } });
  assert.match(packed, /#pragma pack\(push, 2\)\ntypedef struct \{\n  char a; \/\* offset 0 \*\/\n  int32_t b __attribute__\(\(aligned\(8\)\)\); \/\* offset 2 \*\//);
  // Passed by value on x86-64 (System V in memory, Win64 by size) and AArch64 (as its bytes).
  if (process.arch === "x64" || process.arch === "arm64") assert.doesNotMatch(packed, /not passed by value here/);
  assert.match(packed, /typedef union \{\n  uint8_t b; \/\* offset 0 \*\/\n  cffi_t\d+ s;/);
  assert.match(packed, /int16_t s\[2\]; \/\* offset 12 \*\//);
  assert.match(packed, /args\[1\]: cffi_t\d+ \* \(out\)/);
  assert.match(packed, /args\[2\]: int32_t \* \(inout\)/);
  assert.match(viewSource({ args: [V], returns: S3 }, true), /typedef struct \{\n  int16_t a;/);
});

test("out and inout: [value] arrays, TypedArrays, objects and null", () => {
  const sym = dlopen(buildFixture("structs.c"), {
    out_i32: { args: [out("i32")] },
    out_f64: { args: [out("f64")] },
    inout_i64: { args: [inout("i64")] },
    divmod: { args: ["i32", "i32", out("i32"), out("i32")], returns: "i32" },
    out_rect: { args: [out(Rect)] },
    grow_rect: { args: [inout(Rect)] },
    out_is_null: { args: [out("i32")], returns: "i32" },
  }).symbols;
  const cell = [0];
  sym.out_i32(cell);
  assert.deepEqual(cell, [-123456]);
  const typed = new Float64Array(1);
  sym.out_f64(typed);
  assert.equal(typed[0], 2.5);
  const big = [7n];
  sym.inout_i64(big);
  assert.deepEqual(big, [21n]);
  const q = [0];
  const r = new Int32Array(1);
  assert.equal(sym.divmod(17, 5, q, r), 1);
  assert.deepEqual([q[0], r[0]], [3, 2]);
  const rect = {};
  sym.out_rect(rect);
  assert.deepEqual(rect, { pos: { x: 1.5, y: -2 }, size: { x: 3, y: 4 } });
  const grown = { pos: { x: 1, y: 1 }, size: { x: 2, y: 3 } };
  sym.grow_rect(grown);
  assert.deepEqual(grown.size, { x: 4, y: 6 });
  const asArray = [{ size: { x: 1, y: 1 } }];
  sym.grow_rect(asArray);
  assert.deepEqual(asArray[0], { pos: { x: 0, y: 0 }, size: { x: 2, y: 2 } });
  const view = Rect.view();
  sym.out_rect(view);
  assert.equal(view.size.y, 4);
  assert.equal(sym.out_is_null(null), 1);
  assert.equal(sym.out_is_null([0]), 0);
  assert.throws(() => sym.out_i32(5), { name: "TypeError", message: /out_i32: args\[0\] \(out\(i32\)\) expects a \[value\] array, a 1-element TypedArray or null, received a number/ });
  assert.throws(() => sym.out_i32([]), TypeError);
  assert.throws(() => sym.out_f64(new Float32Array(1)), { name: "TypeError", message: /needs room for 8 bytes, received a buffer of 4/ });
  assert.throws(() => sym.grow_rect([{ pos: 1 }]), { name: "TypeError", message: /grow_rect: args\[0\]\[0\]\.pos expects struct/ });
  assert.throws(() => out("cstring"), /out\(cstring\) is not supported/);
  assert.throws(() => out("nope"), TypeError);
});

test("C memory through pointers: read, write and views of a global struct", () => {
  const L16 = layouts.L16;
  const sym = dlopen(buildFixture("structs.c"), { l16_ptr: { returns: "ptr" }, l16_check: { args: ["ptr"], returns: "u64" } }).symbols;
  const p = sym.l16_ptr();
  const v = L16.read(p);
  assert.equal(v.big, 2n ** 64n - 1n);
  assert.equal(v.f, -1.25);
  assert.deepEqual([...v.s], [-32768, 32767]);
  assert.equal(v.u.f, 3.5);
  const view = L16.view(p);
  view.big = 5n;
  view.f = 2;
  assert.equal(sym.l16_check(p), 5n ^ (2n ** 64n - 1n) ^ 8n);
  L16.write(p, { big: 1n, s: [1, 2] });
  assert.equal(sym.l16_check(p), 1n ^ 3n);
  assert.equal(view.u.b, 0); // write zeroes what it is not given
});

test("the ESM entry exports the same struct helpers", async () => {
  const esm = await import("../lib/index.mjs");
  for (const name of ["struct", "union", "array", "out", "inout"]) assert.equal(esm[name], ffi[name], name);
});

test("JSCallback: struct arguments and results both ways, compared with C", () => {
  const sym = dlopen(buildFixture("structs.c"), {
    cb_d2: { args: ["function", D2, "i32"], returns: D2 },
    cb_mixed: { args: ["function", "i32"], returns: "f64" },
    cb_big: { args: ["function", "i32"], returns: "i64" },
    cb_s3: { args: ["function"], returns: "i32" },
  }).symbols;
  const scale = new JSCallback((v, k) => ({ x: v.x * k, y: v.y * k }), { args: [D2, "i32"], returns: D2 });
  assert.deepEqual(sym.cb_d2(scale, { x: 1.5, y: -2 }, 4), { x: 7, y: -8 });
  let seen;
  const mixed = new JSCallback(
    (a, b, c, d, e) => {
      seen = { a, b, c, d, e };
      return 42.5;
    },
    { args: [S1, S12, Big, F3, Mix], returns: "f64" },
  );
  assert.equal(sym.cb_mixed(mixed, 3), 42.5);
  assert.deepEqual(seen, {
    a: { a: 203 },
    b: { a: -15000000000n, b: -7 },
    c: { a: 1n, b: 2n, c: 3n, d: 1.5 },
    d: { x: 1.5, y: -2.5, z: 3.5 },
    e: { x: 0.25, n: 3 },
  });
  const big = new JSCallback((n) => ({ a: BigInt(n), b: 10n, c: 100n, d: 1000.75 }), { args: ["i32"], returns: Big });
  assert.equal(sym.cb_big(big, 5), 1115n);
  // A value the struct does not take, or a throw, gives C zeros (as a wrong kind of result does).
  const bad = new JSCallback(() => ({ a: "x" }), { returns: S3 });
  assert.equal(sym.cb_s3(bad), 0);
  const small = new JSCallback(() => ({ a: -3, b: 9 }), { returns: S3 });
  assert.equal(sym.cb_s3(small), -3000 + 9);
  const bytes = new JSCallback(() => new Uint8Array([1, 0, 2, 0]), { returns: S3 });
  assert.equal(sym.cb_s3(bytes), 1002);
  for (const cb of [scale, mixed, big, bad, small, bytes]) cb.close();
  assert.throws(() => new JSCallback(() => {}, { args: [out("i32")] }), { name: "TypeError", message: /out\(\)\/inout\(\) are not callback argument types \(args\[0\]\)/ });
  assert.match(viewSource({ args: [D2], returns: S3 }, true), /struct/);
});

test("linkSymbols, CFunction and cc() symbols take struct types too", (t) => {
  const { linkSymbols, CFunction, cc } = ffi;
  const { ccUnavailable } = require("./helpers/platform.js");
  const addresses = dlopen(buildFixture("structs.c"), { d2_add: {}, mix_make: {} }).symbols;
  const linked = linkSymbols({ d2_add: { ptr: addresses.d2_add.ptr, args: [D2, D2], returns: D2 } });
  assert.deepEqual(linked.symbols.d2_add({ x: 1, y: 2 }, { x: 3, y: 4 }), { x: 4, y: 6 });
  const make = CFunction({ ptr: addresses.mix_make.ptr, args: ["f64", "i32"], returns: Mix, returnsAs: "bytes" });
  assert.equal(make(1, 2).length, 16);
  linked.close();
  make.close();
  if (ccUnavailable()) return t.skip(ccUnavailable());
  // TinyCC compiles the C; the struct still crosses through libffi, which both compilers' ABIs agree with.
  const compiled = cc({
    source: `
      typedef struct { float x, y; } V;
      typedef struct { V pos; int n; long long big; } Item;
      Item bump(Item it, V by) { it.pos.x += by.x; it.pos.y += by.y; it.n++; it.big *= 2; return it; }
    `,
    symbols: { bump: { args: [struct({ pos: F2, n: "i32", big: "i64" }), F2], returns: struct({ pos: F2, n: "i32", big: "i64" }) } },
  });
  assert.deepEqual(compiled.symbols.bump({ pos: { x: 1, y: 2 }, n: 41, big: 2n ** 40n }, { x: 0.5, y: -1 }), {
    pos: { x: 1.5, y: 1 },
    n: 42,
    big: 2n ** 41n,
  });
  compiled.close();
});

test("struct types keep Bun's surface as it was: FFIType and type parsing unchanged", () => {
  assert.equal(ffi.FFIType.struct, undefined);
  // The struct and out rows sit past every FFIType number: no number or name reaches them.
  const past = Math.max(...Object.getOwnPropertyNames(ffi.FFIType).map((k) => ffi.FFIType[k]).filter(Number.isInteger)) + 1;
  for (const n of [past, past + 1]) {
    assert.equal(ffi.FFIType[String(n)], undefined);
    assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { args: [n] } }), new RegExp(`Unknown type ${n}`));
  }
  assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { args: ["struct"] } }), /Unknown type "struct"/);
  assert.throws(() => dlopen(buildFixture("structs.c"), { s1_sum: { args: [{ size: 1, align: 1 }] } }), /must be an FFIType number or name/);
});

// Shapes recorded from bun-ffi-structs 0.3.1 (defineStruct/defineEnum under Node 26
// with --experimental-ffi): what its definitions expose that the layout needs.
function bunFfiStruct(size, align, fields) {
  return { __type: "struct", size, align, hasMapValue: false, describe: () => fields, pack() {}, unpack() {} };
}
const BfsPos = bunFfiStruct(12, 4, [
  { name: "x", offset: 0, size: 4, align: 4, optional: false, type: "f32" },
  { name: "y", offset: 4, size: 4, align: 4, optional: false, type: "f32" },
  { name: "z", offset: 8, size: 4, align: 4, optional: false, type: "f32" },
]);
const BfsColor = { __type: "enum", type: "u16", enum: { RED: 0, GREEN: 1 }, to() {}, from() {} };
const BfsObj = bunFfiStruct(48, 8, [
  { name: "id", offset: 0, size: 4, align: 4, optional: false, type: "u32" },
  { name: "pos", offset: 4, size: 12, align: 4, optional: false, type: BfsPos },
  { name: "color", offset: 16, size: 2, align: 2, optional: false, type: BfsColor },
  { name: "flag", offset: 18, size: 1, align: 1, optional: false, type: "bool_u8" },
  { name: "big", offset: 24, size: 8, align: 8, optional: false, type: "u64" },
  { name: "p", offset: 32, size: 8, align: 8, optional: false, type: "pointer" },
  { name: "name", offset: 40, size: 8, align: 8, optional: false, type: "cstring" },
]);

test("bun-ffi-structs definitions are accepted where struct types are", () => {
  const Wrap = struct({ inner: BfsObj });
  assert.equal(Wrap.size, 48);
  assert.equal(Wrap.offsetof("inner.big"), 24);
  assert.equal(Wrap.offsetof("inner.name"), 40);
  const buf = new ArrayBuffer(48);
  Wrap.write(buf, { inner: { id: 7, pos: { z: 3 }, color: 1, flag: true, big: 5n } });
  assert.deepEqual(Wrap.read(buf).inner, { id: 7, pos: { x: 0, y: 0, z: 3 }, color: 1, flag: true, big: 5n, p: null, name: null });
  const sym = dlopen(buildFixture("structs.c"), { f3_cross: { args: [BfsPos, BfsPos], returns: BfsPos } }).symbols;
  assert.deepEqual(sym.f3_cross({ x: 1 }, { y: 1 }), { x: 0, y: 0, z: 1 });
  // What cannot be reproduced is refused, naming the field.
  const Odd = bunFfiStruct(8, 4, [
    { name: "a", offset: 0, size: 1, align: 1, type: "u8" },
    { name: "b", offset: 2, size: 4, align: 4, type: "u32" },
  ]);
  assert.throws(() => struct({ o: Odd }), { name: "TypeError", message: /field "b" is at offset 2 there and would be at 4 by C's rules/ });
  assert.throws(() => struct({ o: bunFfiStruct(4, 4, [{ name: "w", offset: 0, size: 4, align: 4, type: "wat" }]) }), /field "w" has a type cffi-bun cannot map/);
  assert.throws(() => struct({ o: { __type: "struct" } }), /has no describe\(\)/);
});

test("async calls: struct arguments and results, out and inout, copied on the JS thread", async () => {
  const file = buildFixture("structs.c");
  const { symbols } = dlopen(file, {
    s8_swap: { args: [S8], returns: S8 },
    big_between: { args: ["i32", Big, "i32"], returns: Big },
    rect_move: { args: [Rect, F2], returns: Rect },
    out_i32: { args: [out("i32")] },
    divmod: { args: ["i32", "i32", out("i32"), out("i32")], returns: "i32" },
    inout_i64: { args: [inout("i64")] },
    grow_rect: { args: [inout(Rect)] },
    out_rect: { args: [out(Rect)] },
    u1_bits: { args: [U1, "i32"], returns: "i64" },
    d2_add: { args: [D2, D2], returns: D2, returnsAs: "view" },
  });
  const arg = { a: 1, b: 2 };
  const pending = symbols.s8_swap.async(arg);
  arg.a = 99; // copied when the call began
  assert.deepEqual(await pending, { a: 2, b: 1 });
  const sync = symbols.big_between(7, { a: 1n, b: 2n, c: 3n, d: 0.5 }, 9);
  assert.deepEqual(await symbols.big_between.async(7, { a: 1n, b: 2n, c: 3n, d: 0.5 }, 9), sync);
  assert.deepEqual(await symbols.rect_move.async({ pos: { x: 1, y: 2 }, size: { x: 3, y: 4 } }, { x: 10, y: 20 }), symbols.rect_move({ pos: { x: 1, y: 2 }, size: { x: 3, y: 4 } }, { x: 10, y: 20 }));
  assert.equal(await symbols.u1_bits.async({ i: 41n }, 1), 42n);
  const view = await symbols.d2_add.async({ x: 1, y: 2 }, { x: 3, y: 4 });
  assert.deepEqual([view.x, view.y], [4, 6]);
  // A buffer of the struct's size is copied too: the call never writes it, and it stays transferable.
  const bytes = new Uint8Array(S8.size);
  S8.write(bytes, { a: 5, b: 6 });
  assert.deepEqual(await symbols.s8_swap.async(bytes), { a: 6, b: 5 });
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  // Out cells are filled in on the JS thread when the Promise settles.
  const cell = [0];
  await symbols.out_i32.async(cell);
  assert.deepEqual(cell, [-123456]);
  const q = [0], r = new Int32Array(1);
  assert.equal(await symbols.divmod.async(17, 5, q, r), 1);
  assert.deepEqual([q[0], r[0]], [3, 2]);
  const big = [5n];
  await symbols.inout_i64.async(big);
  assert.deepEqual(big, [15n]);
  const rect = { pos: { x: 1, y: 1 }, size: { x: 2, y: 3 } };
  const expected = structuredClone(rect);
  symbols.grow_rect(expected);
  await symbols.grow_rect.async(rect);
  assert.deepEqual(rect, expected);
  const filled = {};
  await symbols.out_rect.async(filled);
  const direct = {};
  symbols.out_rect(direct);
  assert.deepEqual(filled, direct);
  // Bad input rejects with the synchronous call's message.
  await assert.rejects(symbols.s8_swap.async({ a: 1, c: 2 }), { name: "TypeError", message: /s8_swap: args\[0\] has an unknown field "c"/ });
  await assert.rejects(symbols.out_i32.async(5), { name: "TypeError", message: /out_i32: args\[0\] \(out\(i32\)\) expects a \[value\] array/ });
  // nonblocking definitions, executors and callSync take them alike.
  const nonblocking = dlopen(file, { s8_swap: { args: [S8], returns: S8, nonblocking: true } }).symbols;
  assert.deepEqual(await nonblocking.s8_swap({ a: 3, b: 4 }), { a: 4, b: 3 });
  const ex = ffi.executor({ threads: 1 });
  try {
    assert.deepEqual(await ex.call(symbols.s8_swap, { a: 8, b: 9 }), { a: 9, b: 8 });
    const c2 = [0];
    ex.callSync(symbols.out_i32, c2);
    assert.deepEqual(c2, [-123456]);
  } finally {
    ex.close();
  }
  // Many in flight, each with its own bytes.
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => symbols.s8_swap.async({ a: i, b: 100 + i })));
  all.forEach((v, i) => assert.deepEqual(v, { a: 100 + i, b: i }));
  assert.deepEqual(symbols.s8_swap({ a: 1, b: 2 }), { a: 2, b: 1 }); // the synchronous call is unchanged
});

test("threadsafe JSCallbacks take and return structs by value from other threads", async () => {
  const file = buildFixture("structs.c");
  const sym = dlopen(file, {
    cb_d2_here: { args: ["function", D2, "i32"], returns: D2 },
    notify_from_thread: { args: ["function", "i32"], returns: "i32" },
    big_from_thread: { args: ["function"], returns: "i32" },
    thread_result: { returns: Big },
  }).symbols;
  // An async call's pool thread calls the callback: struct in, struct out, the thread waiting for JS.
  const scale = new JSCallback((v, k) => ({ x: v.x * k, y: v.y * k }), { args: [D2, "i32"], returns: D2, threadsafe: true });
  assert.deepEqual(await sym.cb_d2_here.async(scale, { x: 1.5, y: -2 }, 4), { x: 6.5, y: -8 });
  // And on the JS thread itself it runs at once.
  assert.deepEqual(sym.cb_d2_here(scale, { x: 1, y: 1 }, 2), { x: 2.5, y: 2 });
  // Concurrent callers each get their own result.
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => sym.cb_d2_here.async(scale, { x: i, y: -i }, 3)));
  results.forEach((v, i) => assert.deepEqual(v, { x: i * 3 + 0.5, y: -i * 3 }));
  // A thread that does not wait (a void callback): its struct arguments, one in memory, were copied.
  const seen = [];
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const note = new JSCallback(
    (b, s) => {
      seen.push([b, s]);
      if (seen.length === 20) done();
    },
    { args: [Big, S8], threadsafe: true },
  );
  // Threadsafe callbacks do not keep the process alive (docs/callbacks.md): a timer does, meanwhile.
  const alive = setInterval(() => {}, 1000);
  assert.equal(sym.notify_from_thread(note, 20), 0);
  await all;
  clearInterval(alive);
  seen.forEach(([b, s], i) => {
    assert.deepEqual(b, { a: BigInt(i), b: BigInt(-i), c: BigInt(i) << 40n, d: i + 0.25 });
    assert.deepEqual(s, { a: i * 3, b: -7 });
  });
  // A thread of its own getting a 32-byte struct result (returned in memory) from JS.
  const make = new JSCallback((s, v) => ({ a: BigInt(s.a), b: BigInt(s.b), c: -1n, d: v.x + v.y + v.z }), { args: [S8, F3], returns: Big, threadsafe: true });
  assert.equal(sym.big_from_thread(make), 0);
  assert.deepEqual(await sym.thread_result.async(), { a: 5n, b: 6n, c: -1n, d: 3 });
  // A value the struct does not take gives C zeros there too.
  const bad = new JSCallback(() => ({ nope: 1 }), { args: [D2, "i32"], returns: D2, threadsafe: true });
  assert.deepEqual(await sym.cb_d2_here.async(bad, { x: 1, y: 1 }, 1), { x: 0.5, y: 0 });
  for (const cb of [scale, note, make, bad]) cb.close();
});
test("field names are cached per layout: many short-lived types, a worker's own types, Object.prototype names", async () => {
  const { Worker } = require("node:worker_threads");
  const file = buildFixture("structs.c");
  // Types that die (their keys go to the env's dead list in GC finalizers, deleted later) while new ones convert.
  for (let i = 0; i < 300; i++) {
    const T = struct({ x: "f64", y: "f64" });
    assert.deepEqual(dlopen(file, { d2_add: { args: [T, T], returns: T } }).symbols.d2_add({ x: i }, { y: 1 }), { x: i, y: 1 });
  }
  // A field named like an Object.prototype property is read only as an own property.
  const C = struct({ constructor: "f64", y: "f64" });
  const c = dlopen(file, { d2_add: { args: [C, C], returns: C } }).symbols;
  assert.deepEqual(c.d2_add({ y: 1 }, { constructor: 2 }), { constructor: 2, y: 1 });
  assert.throws(() => c.d2_add({ y: 1, z: 2 }, {}), { name: "TypeError", message: /unknown field "z"/ });
  // Another prototype, a getter, an undefined-valued field: the general path, same answers.
  class P { constructor() { this.x = 1; } get y() { return 5; } }
  const s = dlopen(file, { d2_add: { args: [D2, D2], returns: D2 } }).symbols;
  assert.deepEqual(s.d2_add(new P(), { get x() { return 2; }, y: undefined }), { x: 3, y: 0 });
  // A worker converts with its own types and ends; this env's keys are untouched.
  const source = `const { parentPort } = require("node:worker_threads");
    const ffi = require(${JSON.stringify(require.resolve("../lib/index.js"))});
    const T = ffi.struct({ x: "f64", y: "f64" });
    const f = ffi.dlopen(${JSON.stringify(file)}, { d2_add: { args: [T, T], returns: T } }).symbols.d2_add;
    parentPort.postMessage(f({ x: 1, y: 2 }, { x: 3, y: 4 }));`;
  for (let i = 0; i < 2; i++) {
    const worker = new Worker(source, { eval: true });
    const [message] = await Promise.all([new Promise((resolve) => worker.once("message", resolve)), new Promise((resolve) => worker.once("exit", resolve))]);
    assert.deepEqual(message, { x: 4, y: 6 });
  }
  assert.deepEqual(s.d2_add({ x: 1, y: 2 }, { x: 3, y: 4 }), { x: 4, y: 6 });
});

test("object literals of number fields (the fast reader) convert exactly as any other object does", () => {
  const Inner = struct({ c: "char", f: "f32" });
  const T = struct({ a: "i8", b: "u8", c: "i16", d: "u16", e: "i32", f: "u32", g: "f32", h: "f64", in: Inner });
  class Holder {}
  // The same fields on an object whose prototype is not Object.prototype take the general path.
  const general = (fields) => {
    const o = Object.assign(new Holder(), fields);
    if (fields.in) o.in = Object.assign(new Holder(), fields.in);
    return o;
  };
  const values = [0, -0, 1, -1, 1.9, -1.9, 127, 128, 255, 256, -129, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5,
    -(2 ** 32) - 7, 2 ** 53, -(2 ** 53), 1e300, -1e300, 3.4e38, 3.5e38, 1e-46, Number.MIN_VALUE, NaN, Infinity, -Infinity, 0.1];
  for (const v of values) {
    const fields = { a: v, b: v, c: v, d: v, e: v, f: v, g: v, h: v, in: { c: v, f: v } };
    const fast = new Uint8Array(T.size), slow = new Uint8Array(T.size);
    T.write(fast, fields);
    T.write(slow, general(fields));
    assert.deepEqual(fast, slow, `value ${v}`);
  }
  // Results (read, struct returns) are built by the generated maker: each number as a view reads it.
  for (let seed = 1; seed < 40; seed++) {
    const bytes = new Uint8Array(T.size).map((_, i) => (seed * 97 + i * 31 + (seed * i) * 13) & 0xff);
    const object = T.read(bytes), view = T.view(bytes);
    for (const k of ["a", "b", "c", "d", "e", "f", "g", "h"]) assert.ok(Object.is(object[k], view[k]), `${k} ${seed}`);
    assert.ok(Object.is(object.in.c, view.in.c) && Object.is(object.in.f, view.in.f));
    assert.deepEqual(Object.keys(object), ["a", "b", "c", "d", "e", "f", "g", "h", "in"]);
  }
  // Missing fields, a missing nested struct and an empty nested one are zero either way.
  for (const fields of [{}, { a: 5 }, { in: {} }, { in: { f: 2.5 } }, { h: 1.5, in: undefined }]) {
    const fast = new Uint8Array(T.size).fill(7), slow = new Uint8Array(T.size).fill(7);
    T.write(fast, fields);
    T.write(slow, general(fields));
    assert.deepEqual(fast, slow, JSON.stringify(fields));
  }
  // What the reader does not take goes to the general path: BigInts, booleans, views, getters, errors.
  const s = dlopen(buildFixture("structs.c"), { rect_area: { args: [Rect], returns: "f32" }, s8_swap: { args: [S8], returns: S8 } }).symbols;
  assert.deepEqual(s.s8_swap({ a: 5n, b: true }), { a: 1, b: 5 });
  const v = F2.view();
  v.x = 3;
  v.y = 4;
  assert.equal(s.rect_area({ size: v }), 12);
  assert.equal(s.rect_area({ size: { get x() { return 2; }, y: 3 } }), 6);
  assert.throws(() => s.rect_area({ size: { x: 1, w: 2 } }), { name: "TypeError", message: /args\[0\]\.size has an unknown field "w"/ });
  assert.throws(() => s.rect_area({ pos: 1 }), { name: "TypeError", message: /args\[0\]\.pos expects struct/ });
  assert.throws(() => s.rect_area({ pos: { x: {} } }), { name: "TypeError", message: /args\[0\]\.pos\.x expects f32/ });
  // A getter that converts the same type meanwhile (re-entry) gets its own answer.
  const nested = { x: 1, get y() { return s.rect_area({ size: { x: 2, y: 5 } }); } };
  assert.equal(s.rect_area({ size: nested }), 10);
  // A field name that needs escaping in generated code.
  const Odd = struct({ 'a"b\\c\n': "i32", "ünï": "f64" });
  const buf = new Uint8Array(Odd.size);
  Odd.write(buf, { 'a"b\\c\n': 7, "ünï": 1.5 });
  assert.deepEqual(Odd.read(buf), { 'a"b\\c\n': 7, "ünï": 1.5 });
  assert.throws(() => Odd.write(buf, { "a": 1 }), { name: "TypeError", message: /unknown field "a"/ });
});

test("64-bit integer fields (i64, u64, i64_fast, u64_fast) through the generated reader and maker convert as the general path does", () => {
  const Inner = struct({ q: "i64", r: "u64_fast" });
  const T = struct({ a: "i64", b: "u64", c: "i64_fast", d: "u64_fast", e: "i32", in: Inner });
  class Holder {}
  const general = (fields) => {
    const o = Object.assign(new Holder(), fields);
    if (fields.in) o.in = Object.assign(new Holder(), fields.in);
    return o;
  };
  const values = [0, -0, 1, -1, 1.9, -1.9, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 2 ** 64, 2 ** 64 + 2 ** 12, -(2 ** 63), 1e20, -1e20,
    1e300, NaN, Infinity, -Infinity, 0n, 1n, -1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 5n, -(2n ** 64n) - 3n, 2n ** 200n + 9n];
  for (const v of values) {
    const fields = { a: v, b: v, c: v, d: v, e: 3, in: { q: v, r: v } };
    const fast = new Uint8Array(T.size), slow = new Uint8Array(T.size);
    T.write(fast, fields);
    T.write(slow, general(fields));
    assert.deepEqual(fast, slow, `value ${v}`);
  }
  // Mixed kinds in one object, and booleans (the general path's) next to BigInts.
  const mixed = { a: 5n, b: -1, c: 7n, d: true, in: { q: false, r: 2n ** 64n - 1n } };
  const fast = new Uint8Array(T.size), slow = new Uint8Array(T.size);
  T.write(fast, mixed);
  T.write(slow, general(mixed));
  assert.deepEqual(fast, slow);
  assert.deepEqual(T.read(fast), { a: 5n, b: 2n ** 64n - 1n, c: 7, d: 1, e: 0, in: { q: 0n, r: 2n ** 64n - 1n } });
  assert.throws(() => T.write(fast, { a: "1" }), { name: "TypeError", message: /value\.a expects i64/ });
  // Results: i64/u64 are BigInts, the _fast ones numbers while safe, as a view reads them.
  const edges = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)];
  for (const e of edges) {
    const bytes = new Uint8Array(T.size);
    const dv = new DataView(bytes.buffer);
    for (const at of [0, 16, T.offsetof("in.q")]) dv.setBigInt64(at, e, true);
    for (const at of [8, 24, T.offsetof("in.r")]) dv.setBigUint64(at, BigInt.asUintN(64, e), true);
    const object = T.read(bytes), view = T.view(bytes);
    for (const k of ["a", "b", "c", "d"]) assert.ok(Object.is(object[k], view[k]), `${k} ${e}: ${object[k]} vs ${view[k]}`);
    assert.ok(Object.is(object.in.q, view.in.q) && Object.is(object.in.r, view.in.r), `in ${e}`);
    assert.equal(typeof object.c, e >= -(2n ** 53n) + 1n && e <= 2n ** 53n - 1n ? "number" : "bigint", `c ${e}`);
  }
  // By value through C: the fixture's Big { i64 a, b, c; f64 d } both ways.
  const Big = struct({ a: "i64", b: "i64", c: "i64", d: "f64" });
  const s = dlopen(buildFixture("structs.c"), {
    big_make: { args: ["i64", "i64", "i64", "f64"], returns: Big },
    big_between: { args: ["i32", Big, "i32"], returns: Big },
  }).symbols;
  assert.deepEqual(s.big_make(-(2n ** 63n), 2n ** 63n - 1n, -1n, 0.5), { a: -(2n ** 63n), b: 2n ** 63n - 1n, c: -1n, d: 0.5 });
  assert.deepEqual(s.big_between(1, { a: 1, b: 2n, c: -3 }, 2), s.big_between(1, general({ a: 1, b: 2n, c: -3 }), 2));
});
