"use strict";
const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const v8 = require("node:v8");
const vm = require("node:vm");
const ffi = require("..");
const {
  dlopen, ptr, read, write, toArrayBuffer, toBuffer, CString, CFunction, linkSymbols,
  viewSource, suffix, FFIType,
} = ffi;
const { fixturePath } = require("./helpers/fixture");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

const FIX = fixturePath();
let lib;
let S;

before(() => {
  lib = dlopen(FIX, {
    identity_ptr: { args: ["ptr"], returns: "ptr" },
    ptr_to_u64: { args: ["ptr"], returns: "u64" },
    is_null: { args: ["ptr"], returns: "i32" },
    return_null: { returns: "ptr" },
    static_int_42: { returns: "ptr" },
    hello_string: { returns: "ptr" },
    make_buffer: { args: ["usize"], returns: "ptr" },
    free_buffer: { args: ["ptr"] },
    sum_bytes: { args: ["ptr", "i32"], returns: "i32" },
    fill_bytes: { args: ["ptr", "i32", "u8"], returns: "void" },
    dealloc_count: { returns: "i32" },
    last_dealloc_ctx: { returns: "ptr" },
    last_dealloc_bytes: { returns: "ptr" },
    count_dealloc: { args: ["ptr", "ptr"] },
    add_i32: { args: ["i32", "i32"], returns: "i32" },
  });
  S = lib.symbols;
});
after(() => lib.close());

describe("ptr()", () => {
  test("TypedArray, ArrayBuffer and DataView give the data pointer", () => {
    const u8 = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const p = ptr(u8);
    assert.equal(typeof p, "number");
    assert.ok(p > 0);
    assert.equal(ptr(u8.buffer), p);
    assert.equal(ptr(new DataView(u8.buffer)), p);
    assert.equal(ptr(new Uint32Array(u8.buffer)), p);
    assert.equal(S.sum_bytes(p, 8), 36, "C reads the view's bytes through the pointer");
  });

  test("ptr(view, byteOffset) is base + byteOffset", () => {
    const u8 = new Uint8Array(64);
    const base = ptr(u8);
    assert.equal(ptr(u8, 0), base);
    assert.equal(ptr(u8, 5), base + 5);
    assert.equal(ptr(u8.buffer, 17), base + 17);
    assert.equal(ptr(new DataView(u8.buffer), 3), base + 3);
  });

  test("a subarray / offset view includes its byte offset", () => {
    const buf = new ArrayBuffer(64);
    const base = ptr(buf);
    const sub = new Uint8Array(buf).subarray(10, 20);
    assert.equal(ptr(sub), base + 10);
    assert.equal(ptr(sub, 2), base + 12);
    assert.equal(ptr(new Int32Array(buf, 8, 4)), base + 8);
    assert.equal(ptr(new DataView(buf, 24)), base + 24);
    const u8 = new Uint8Array(buf);
    u8.set([1, 2, 3, 4, 100], 10);
    assert.equal(S.sum_bytes(ptr(sub), 5), 110);
  });

  test("the pointer stays put (small on-heap arrays do not move after ptr())", async () => {
    const small = Uint8Array.of(9, 8, 7);
    const p = ptr(small);
    for (let i = 0; i < 3; i++) {
      // allocate and collect to give the GC a chance to move things
      let junk = [];
      for (let j = 0; j < 20000; j++) junk.push({ j, a: new Uint8Array(8) });
      junk = null;
      gc();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(ptr(small), p);
    assert.equal(S.sum_bytes(small, 3), 24);
    small[0] = 100;
    assert.equal(read.u8(p), 100);
  });

  test("ptr() keeps working when setImmediate is replaced after load (fake timers)", async () => {
    const real = globalThis.setImmediate;
    globalThis.setImmediate = () => {
      throw new Error("fake timers: setImmediate is mocked");
    };
    let address;
    try {
      address = ptr(Uint8Array.of(1, 2, 3));
    } finally {
      globalThis.setImmediate = real;
    }
    assert.equal(typeof address, "number");
    // Node's own setImmediate was scheduled: the keep-alive is let go once the loop turns.
    await new Promise((resolve) => real(resolve));
    assert.equal(S.sum_bytes(ptr(Uint8Array.of(4, 5)), 2), 9);
  });

  test("ptr() of something that is not a view throws", () => {
    for (const bad of [{}, "abc", 5, null, undefined]) {
      assert.throws(() => ptr(bad), undefined, String(bad));
    }
  });
});

describe("pointer arguments and returns", () => {
  test("accept number, BigInt, null, TypedArray, ArrayBuffer, DataView, {ptr}", () => {
    const u8 = new Uint8Array(16);
    const p = ptr(u8);
    const P = BigInt(p);
    assert.equal(S.ptr_to_u64(p), P);
    assert.equal(S.ptr_to_u64(P), P);
    assert.equal(S.ptr_to_u64(null), 0n);
    assert.equal(S.ptr_to_u64(u8), P);
    assert.equal(S.ptr_to_u64(u8.buffer), P);
    assert.equal(S.ptr_to_u64(new DataView(u8.buffer)), P);
    assert.equal(S.ptr_to_u64(u8.subarray(4)), P + 4n);
    assert.equal(S.ptr_to_u64({ ptr: p }), P);
    assert.equal(S.ptr_to_u64({ ptr: 1234 }), 1234n);
    assert.equal(S.is_null(null), 1);
    assert.equal(S.is_null(0), 1);
    assert.equal(S.is_null(0n), 1);
    assert.equal(S.is_null(u8), 0);
  });

  test("pointer returns: number, or null for NULL", () => {
    assert.equal(S.return_null(), null);
    const p = S.static_int_42();
    assert.equal(typeof p, "number");
    assert.equal(read.i32(p), 42);
    assert.equal(read.i32(p, 0), 42);
    assert.equal(S.identity_ptr(p), p);
  });

  test("objects with a non-numeric .ptr, booleans and strings are refused", () => {
    for (const bad of [{}, { ptr: "12" }, true, "0"]) {
      assert.throws(() => S.ptr_to_u64(bad), { name: "TypeError", message: /ptr_to_u64/ });
    }
  });
});

describe("read.*", () => {
  function sample() {
    const buf = new ArrayBuffer(64);
    const dv = new DataView(buf);
    dv.setUint8(0, 200);
    dv.setInt8(1, -3);
    dv.setUint16(2, 65000, true);
    dv.setInt16(4, -12345, true);
    dv.setUint32(8, 4000000000, true);
    dv.setInt32(12, -123456789, true);
    dv.setFloat32(16, 1.5, true);
    dv.setFloat64(24, -2.25e100, true);
    dv.setBigUint64(32, 2n ** 64n - 2n, true);
    dv.setBigInt64(40, -(2n ** 62n) - 7n, true);
    dv.setBigUint64(48, 0x123456789abcn, true);
    dv.setBigInt64(56, -5n, true);
    return { buf, p: ptr(buf) };
  }

  test("each reader matches what a DataView wrote", () => {
    const { buf, p } = sample();
    assert.equal(read.u8(p, 0), 200);
    assert.equal(read.u8(p), 200);
    assert.equal(read.i8(p, 1), -3);
    assert.equal(read.u16(p, 2), 65000);
    assert.equal(read.i16(p, 4), -12345);
    assert.equal(read.u32(p, 8), 4000000000);
    assert.equal(read.i32(p, 12), -123456789);
    assert.equal(read.f32(p, 16), 1.5);
    assert.equal(read.f64(p, 24), -2.25e100);
    assert.equal(read.u64(p, 32), 2n ** 64n - 2n);
    assert.equal(read.i64(p, 40), -(2n ** 62n) - 7n);
    assert.equal(read.ptr(p, 48), 0x123456789abc);
    assert.equal(read.intptr(p, 56), -5);
    assert.equal(read.intptr(p, 48), 0x123456789abc);
    assert.equal(read.ptr(p, 48), 0x123456789abc);
    // without an offset = offset 0; pointer arithmetic done by the caller
    assert.equal(read.i32(p + 12), -123456789);
    assert.equal(read.u8(p + 1), 253);
    void buf;
  });

  test("read.ptr returns a plain number (as in Bun), 0 for a NULL slot", () => {
    const cell = new BigUint64Array(2);
    cell[0] = 0x7fff_1234_5678n;
    const p = ptr(cell);
    assert.equal(read.ptr(p), 0x7fff12345678);
    assert.equal(read.ptr(p, 8), 0);
    assert.equal(read.intptr(p, 8), 0);
  });

  test("read.u64/i64 return BigInt; the others numbers", () => {
    const { p } = sample();
    assert.equal(typeof read.u64(p, 48), "bigint");
    assert.equal(typeof read.i64(p, 48), "bigint");
    for (const k of ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "ptr", "intptr"]) {
      assert.equal(typeof read[k](p, 0), "number", k);
    }
  });

  test("reading through NULL throws instead of crashing", () => {
    for (const k of ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "u64", "i64", "ptr", "intptr"]) {
      assert.throws(() => read[k](0), undefined, `read.${k}(0)`);
      assert.throws(() => read[k](0, 8), undefined, `read.${k}(0, 8)`);
      assert.throws(() => read[k](null), undefined, `read.${k}(null)`);
      assert.throws(() => read[k](0n), undefined, `read.${k}(0n)`);
    }
    assert.equal(S.add_i32(1, 1), 2, "still usable");
  });
});

describe("write.*", () => {
  test("write through a pointer number", () => {
    const buf = new ArrayBuffer(64);
    const dv = new DataView(buf);
    const p = ptr(buf);
    write.u8(p, 250, 0);
    write.i8(p, -2, 1);
    write.u16(p, 65001, 2);
    write.i16(p, -1234, 4);
    write.u32(p, 4000000001, 8);
    write.i32(p, -7654321, 12);
    write.f32(p, 0.1, 16);
    write.f64(p, Math.PI, 24);
    write.u64(p, 2n ** 64n - 3n, 32);
    write.i64(p, -(2n ** 63n), 40);
    write.ptr(p, 0xdeadbeef, 48);
    write.intptr(p, -9, 56);
    assert.equal(dv.getUint8(0), 250);
    assert.equal(dv.getInt8(1), -2);
    assert.equal(dv.getUint16(2, true), 65001);
    assert.equal(dv.getInt16(4, true), -1234);
    assert.equal(dv.getUint32(8, true), 4000000001);
    assert.equal(dv.getInt32(12, true), -7654321);
    assert.equal(dv.getFloat32(16, true), Math.fround(0.1));
    assert.equal(dv.getFloat64(24, true), Math.PI);
    assert.equal(dv.getBigUint64(32, true), 2n ** 64n - 3n);
    assert.equal(dv.getBigInt64(40, true), -(2n ** 63n));
    assert.equal(dv.getBigUint64(48, true), 0xdeadbeefn);
    assert.equal(dv.getBigInt64(56, true), -9n);
    write.u32(p + 8, 7);
    assert.equal(dv.getUint32(8, true), 7, "offset defaults to 0");
  });

  test("write into a TypedArray, ArrayBuffer or DataView (relative to its offset)", () => {
    const buf = new ArrayBuffer(32);
    const dv = new DataView(buf);
    write.i32(new Int32Array(buf), -5, 4);
    assert.equal(dv.getInt32(4, true), -5);
    write.u16(buf, 513, 10);
    assert.equal(dv.getUint16(10, true), 513);
    write.f64(new DataView(buf, 16), 6.5);
    assert.equal(dv.getFloat64(16, true), 6.5);
    const sub = new Uint8Array(buf).subarray(8, 12);
    write.u8(sub, 77, 1);
    assert.equal(dv.getUint8(9), 77);
    write.u64(new BigUint64Array(buf, 24, 1), 2n ** 63n + 1n);
    assert.equal(dv.getBigUint64(24, true), 2n ** 63n + 1n);
    write.i8(new Uint8Array(buf), -1, 0);
    assert.equal(dv.getUint8(0), 255);
  });

  test("writes into views are bounds-checked (RangeError)", () => {
    const u8 = new Uint8Array(8);
    assert.throws(() => write.u8(u8, 1, 8), RangeError);
    assert.throws(() => write.u32(u8, 1, 5), RangeError);
    assert.throws(() => write.u64(u8, 1n, 1), RangeError);
    assert.throws(() => write.f64(new ArrayBuffer(7), 1), RangeError);
    assert.throws(() => write.u8(u8, 1, -1), RangeError);
    const sub = new Uint8Array(16).subarray(4, 6);
    assert.throws(() => write.u16(sub, 1, 1), RangeError, "bounds are the view's, not the buffer's");
    assert.throws(() => write.u32(new DataView(new ArrayBuffer(16), 12), 1, 2), RangeError);
    // in-bounds edge works
    write.u32(u8, 0xffffffff, 4);
    assert.deepEqual([...u8], [0, 0, 0, 0, 255, 255, 255, 255]);
  });

  test("writing through NULL throws instead of crashing", () => {
    for (const [k, v] of [["u8", 1], ["i32", 1], ["f64", 1], ["u64", 1n], ["ptr", 1]]) {
      assert.throws(() => write[k](0, v), undefined, `write.${k}(0)`);
      assert.throws(() => write[k](null, v), undefined, `write.${k}(null)`);
      assert.throws(() => write[k](0n, v, 4), undefined, `write.${k}(0n)`);
    }
    assert.equal(S.add_i32(1, 1), 2, "still usable");
  });
});

describe("toArrayBuffer / toBuffer", () => {
  test("with offset and length: a view of the same memory", () => {
    const p = S.make_buffer(32);
    const ab = toArrayBuffer(p, 0, 32);
    assert.ok(ab instanceof ArrayBuffer);
    assert.equal(ab.byteLength, 32);
    assert.deepEqual([...new Uint8Array(ab)], Array.from({ length: 32 }, (_, i) => i));
    const part = toArrayBuffer(p, 4, 8);
    assert.equal(part.byteLength, 8);
    assert.deepEqual([...new Uint8Array(part)], [4, 5, 6, 7, 8, 9, 10, 11]);
    new Uint8Array(part)[0] = 200;
    assert.equal(read.u8(p, 4), 200, "same memory, no copy");
    S.fill_bytes(p, 32, 9);
    assert.equal(new Uint8Array(ab)[31], 9);
    S.free_buffer(p);
  });

  test("without a length: up to the first NUL", () => {
    const p = S.hello_string();
    const ab = toArrayBuffer(p);
    assert.equal(ab.byteLength, 12);
    assert.equal(Buffer.from(ab).toString("latin1"), "hello, world");
    const tail = toArrayBuffer(p, 7);
    assert.equal(Buffer.from(tail).toString("latin1"), "world");
  });

  test("toBuffer returns a Node Buffer over the same memory", () => {
    const p = S.make_buffer(16);
    const b = toBuffer(p, 0, 16);
    assert.ok(Buffer.isBuffer(b));
    assert.equal(b.length, 16);
    assert.equal(b[15], 15);
    b[3] = 99;
    assert.equal(read.u8(p, 3), 99);
    const part = toBuffer(p, 8, 4);
    assert.ok(Buffer.isBuffer(part));
    assert.deepEqual([...part], [8, 9, 10, 11]);
    assert.equal(toBuffer(S.hello_string()).toString(), "hello, world");
    S.free_buffer(p);
  });

  test("toArrayBuffer/read on NULL throw", () => {
    assert.throws(() => toArrayBuffer(0, 0, 4));
    assert.throws(() => toArrayBuffer(null));
    assert.throws(() => toBuffer(0, 0, 4));
  });

  async function collectUntil(pred) {
    for (let i = 0; i < 50; i++) {
      gc();
      await new Promise((r) => setTimeout(r, i < 10 ? 0 : 10));
      if (pred()) return true;
    }
    return false;
  }

  test("4 arguments: the 4th is a deallocator, called when the buffer is collected", async () => {
    const before = S.dealloc_count();
    const p = S.make_buffer(64);
    (() => {
      const ab = toArrayBuffer(p, 0, 64, S.count_dealloc.ptr);
      assert.equal(ab.byteLength, 64);
      assert.equal(new Uint8Array(ab)[63], 63);
    })();
    const ok = await collectUntil(() => S.dealloc_count() > before);
    assert.ok(ok, "deallocator was called after GC");
    assert.equal(S.dealloc_count(), before + 1, "called exactly once");
    assert.equal(S.last_dealloc_bytes(), p, "called with the bytes");
    assert.equal(S.last_dealloc_ctx(), null, "no context");
    S.free_buffer(p);
  });

  test("5 arguments: context before deallocator (as in Bun)", async () => {
    const before = S.dealloc_count();
    const p = S.make_buffer(64);
    const ctx = 0xbeef0;
    (() => {
      const ab = toArrayBuffer(p, 0, 64, ctx, S.count_dealloc.ptr);
      assert.equal(ab.byteLength, 64);
    })();
    const ok = await collectUntil(() => S.dealloc_count() > before);
    assert.ok(ok, "deallocator was called after GC");
    assert.equal(S.last_dealloc_ctx(), ctx, "called with the context");
    S.free_buffer(p);
  });

  test("the deallocator gets the bytes pointer (ptr + byteOffset)", async () => {
    const before = S.dealloc_count();
    const p = S.make_buffer(32);
    (() => {
      const ab = toArrayBuffer(p, 8, 8, 0x55, S.count_dealloc.ptr);
      assert.equal(new Uint8Array(ab)[0], 8);
    })();
    const ok = await collectUntil(() => S.dealloc_count() > before);
    assert.ok(ok, "deallocator was called after GC");
    assert.equal(S.last_dealloc_bytes(), p + 8);
    assert.equal(S.last_dealloc_ctx(), 0x55);
    S.free_buffer(p);
  });

  test("toBuffer with a deallocator also calls it after collection", async () => {
    const before = S.dealloc_count();
    const p = S.make_buffer(8);
    (() => {
      const b = toBuffer(p, 0, 8, 0x1230, S.count_dealloc.ptr);
      assert.equal(b[7], 7);
    })();
    const ok = await collectUntil(() => S.dealloc_count() > before);
    assert.ok(ok, "deallocator was called after GC");
    assert.equal(S.last_dealloc_ctx(), 0x1230);
    S.free_buffer(p);
  });
});

describe("CString", () => {
  test("is a String subclass that copies the C string", () => {
    const p = S.hello_string();
    const cs = new CString(p);
    assert.ok(cs instanceof String);
    assert.ok(cs instanceof CString);
    assert.equal(String(cs), "hello, world");
    assert.equal(cs.toString(), "hello, world");
    assert.equal(`${cs}`, "hello, world");
    assert.equal(cs.length, 12);
    assert.equal(cs.ptr, p);
    assert.ok("byteOffset" in cs);
    assert.ok("byteLength" in cs);
  });

  test("byteOffset and byteLength", () => {
    const p = S.hello_string();
    const a = new CString(p, 7);
    assert.equal(String(a), "world");
    assert.equal(a.byteOffset, 7);
    const b = new CString(p, 0, 5);
    assert.equal(String(b), "hello");
    assert.equal(b.byteOffset, 0);
    assert.equal(b.byteLength, 5);
    const c = new CString(p, 7, 3);
    assert.equal(String(c), "wor");
    assert.equal(c.ptr, p);
    assert.equal(c.byteLength, 3);
  });

  test("copies: later changes to the memory do not change it", () => {
    const bytes = Buffer.from("abc\0");
    const cs = new CString(ptr(bytes));
    bytes[0] = 0x7a;
    assert.equal(String(cs), "abc");
  });

  test("decodes UTF-8", () => {
    const bytes = Buffer.from("héllo ✓\0", "utf8");
    assert.equal(String(new CString(ptr(bytes))), "héllo ✓");
  });

  test("new CString(0) and new CString(null) are empty", () => {
    assert.equal(String(new CString(0)), "");
    assert.equal(String(new CString(null)), "");
    assert.ok(new CString(0) instanceof String);
  });
});

describe("cstring, buffer, napi_value types", () => {
  let L;
  before(() => {
    L = dlopen(FIX, {
      hello_string: { returns: "cstring" },
      null_string: { returns: "cstring" },
      utf8_string: { returns: FFIType.cstring },
      my_strlen: { args: ["cstring"], returns: "usize" },
      string_byte_sum: { args: ["cstring"], returns: "u32" },
      string_byte_at: { args: ["cstring", "i32"], returns: "i32" },
      sum_bytes: { args: ["buffer", "i32"], returns: "i32" },
      fill_bytes: { args: ["buffer", "buffer_length", "u8"], returns: "void" },
      napi_value_identity: { args: ["napi_value"], returns: "napi_value" },
    });
  });
  after(() => L.close());

  test("cstring returns are plain JS strings; NULL gives null", () => {
    const s = L.symbols.hello_string();
    assert.equal(typeof s, "string");
    assert.equal(s, "hello, world");
    assert.ok(!(s instanceof CString));
    assert.equal(L.symbols.null_string(), null);
    assert.equal(L.symbols.utf8_string(), "héllo ✓");
  });

  test("cstring arguments take JS strings as NUL-terminated UTF-8", () => {
    const { my_strlen, string_byte_sum, string_byte_at } = L.symbols;
    assert.equal(my_strlen("hello"), 5n);
    assert.equal(my_strlen(""), 0n);
    assert.equal(my_strlen("é✓"), 5n, "UTF-8 byte length");
    assert.equal(string_byte_sum("é"), 0xc3 + 0xa9);
    assert.equal(string_byte_at("😀", 0), 0xf0);
    assert.equal(string_byte_at("😀", 3), 0x80);
    assert.equal(string_byte_at("😀", 4), 0, "NUL-terminated");
    assert.equal(my_strlen("ab\0cd"), 2n, "stops at an embedded NUL");
  });

  test("long strings (> 4 KB) are passed whole", () => {
    const { my_strlen, string_byte_at } = L.symbols;
    assert.equal(my_strlen("x".repeat(5000)), 5000n);
    assert.equal(my_strlen("y".repeat(100000)), 100000n);
    assert.equal(my_strlen("é".repeat(3000)), 6000n);
    const long = "a".repeat(9999) + "Z";
    assert.equal(string_byte_at(long, 9999), 0x5a);
    assert.equal(string_byte_at(long, 10000), 0);
  });

  test("cstring arguments also take pointers", () => {
    const { my_strlen } = L.symbols;
    const bytes = Buffer.from("abcd\0");
    assert.equal(my_strlen(ptr(bytes)), 4n);
    assert.equal(my_strlen(bytes), 4n);
    assert.equal(my_strlen(BigInt(ptr(bytes))), 4n);
    assert.equal(my_strlen(S.hello_string()), 12n);
    assert.equal(my_strlen(null), 2n ** 64n - 1n, "NULL reaches C as NULL");
  });

  test("buffer takes a TypedArray/DataView; buffer_length its byte length", () => {
    const { sum_bytes, fill_bytes } = L.symbols;
    const u8 = Uint8Array.of(1, 2, 3, 4);
    assert.equal(sum_bytes(u8, 4), 10);
    assert.equal(sum_bytes(new DataView(u8.buffer, 1, 2), 2), 5);
    assert.equal(sum_bytes(u8.subarray(2), 2), 7);
    const target = new Uint8Array(10);
    fill_bytes(target.subarray(3, 7), target.subarray(3, 7), 5);
    assert.deepEqual([...target], [0, 0, 0, 5, 5, 5, 5, 0, 0, 0]);
    const u16 = new Uint16Array(3);
    fill_bytes(u16, u16, 1);
    assert.deepEqual([...u16], [257, 257, 257], "byte length, not element count");
    for (const bad of [5, null, "abc", {}]) {
      assert.throws(() => sum_bytes(bad, 0), { name: "TypeError", message: /(?=[\s\S]*sum_bytes)(?=[\s\S]*args\[0\])/ });
    }
  });

  test("napi_value passes the JS value itself and returns it", () => {
    const f = L.symbols.napi_value_identity;
    const o = { a: 1 };
    assert.equal(f(o), o);
    const sym = Symbol("s");
    for (const v of ["str", 42, 1.5, undefined, null, true, sym, 10n, f]) {
      assert.equal(f(v), v);
    }
  });
});

describe("suffix, CFunction, linkSymbols, viewSource", () => {
  test('suffix is "so", "dylib" or "dll", as the platform names shared libraries', () => {
    assert.equal(suffix, { win32: "dll", darwin: "dylib" }[process.platform] ?? "so");
  });

  test("CFunction({ ptr, args, returns }) is callable and has close()", () => {
    const add = CFunction({ ptr: S.add_i32.ptr, args: ["i32", "i32"], returns: "i32" });
    assert.equal(typeof add, "function");
    assert.equal(add(40, 2), 42);
    assert.equal(add(2147483647, 1), -2147483648);
    assert.equal(typeof add.close, "function");
    add.close();
    assert.throws(() => add(1, 2), { message: /closed/i });
    add.close();
  });

  test("CFunction with a pointer read from memory (read.ptr) and BigInt ptr", () => {
    const slot = new BigUint64Array(1);
    slot[0] = BigInt(S.add_i32.ptr);
    const fp = read.ptr(ptr(slot));
    assert.equal(fp, S.add_i32.ptr);
    const add = CFunction({ ptr: fp, args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 });
    assert.equal(add(3, 4), 7);
    const add2 = CFunction({ ptr: slot[0], args: ["int", "int"], returns: "int" });
    assert.equal(add2(5, 6), 11);
    const v = CFunction({ ptr: S.static_int_42.ptr, returns: "ptr" });
    assert.equal(read.i32(v()), 42);
  });

  test("CFunction errors name the problem", () => {
    assert.throws(() => CFunction({ args: ["i32"], returns: "i32" }));
    assert.throws(() => CFunction({ ptr: S.add_i32.ptr, args: ["nope"], returns: "i32" }), { message: /nope/ });
  });

  test("linkSymbols({ name: { ptr, args, returns } }) gives { symbols, close }", () => {
    const linked = linkSymbols({
      add: { ptr: S.add_i32.ptr, args: ["i32", "i32"], returns: "i32" },
      answer: { ptr: S.static_int_42.ptr, returns: "ptr" },
    });
    assert.equal(typeof linked.close, "function");
    assert.equal(linked.symbols.add(1, 2), 3);
    assert.equal(read.i32(linked.symbols.answer()), 42);
    assert.throws(() => linked.symbols.add(1), { name: "TypeError", message: /add/ });
    linked.close();
    assert.throws(() => linked.symbols.add(1, 2), { message: /closed/i });
    linked.close();
  });

  test("viewSource renders readable C", () => {
    const src = viewSource({ f: { args: ["i32"], returns: "i32" } });
    assert.ok(Array.isArray(src));
    assert.equal(src.length, 1);
    assert.equal(typeof src[0], "string");
    assert.match(src[0], /int32_t/);
    const two = viewSource({
      a: { args: ["f64", "ptr"], returns: "u64" },
      b: { args: [], returns: "void" },
    });
    assert.equal(two.length, 2);
    assert.match(two[0], /double/);
    assert.match(two[0], /uint64_t/);
    const cb = viewSource({ args: ["i32"], returns: "i32" }, true);
    assert.equal(typeof cb, "string");
    assert.ok(cb.length > 0);
  });
});
