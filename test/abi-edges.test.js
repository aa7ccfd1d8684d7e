"use strict";
// Calling-convention corners (test/fixture/abi-edges.c): arguments on the
// stack, narrow ones among them, both directions; on AArch64, narrow values
// whose registers carry garbage above them (the AArch64 register closure and
// the register engine must ignore it). .ci/run runs this file on every engine
// (CFFI_BUN_ENGINE) on x86-64 and, under qemu, on arm64.
const test = require("node:test");
const assert = require("node:assert/strict");
const { dlopen, JSCallback } = require("..");
const { buildFixture } = require("./helpers/fixture.js");

const onAArch64 = process.arch === "arm64";
const i64s = (n) => Array(n).fill("i64");
const f64s = (n) => Array(n).fill("f64");

function open(symbols) {
  return dlopen(buildFixture("abi-edges.c"), symbols);
}

test("ten integer arguments: the ones past the registers arrive from the stack", () => {
  const lib = open({ stack_ints: { args: i64s(10), returns: "i64" } });
  assert.equal(lib.symbols.stack_ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 385n);
  assert.equal(lib.symbols.stack_ints(0, 0, 0, 0, 0, 0, 0, 0, 0, -1), -10n);
  lib.close();
});

test("registers full, then int8, int16, float, uint8 and double on the stack", () => {
  const lib = open({
    stack_narrow: { args: [...i64s(8), ...f64s(8), "i8", "i16", "f32", "u8", "f64"], returns: "f64" },
  });
  const f = lib.symbols.stack_narrow;
  assert.equal(f(1, 2, 3, 4, 5, 6, 7, 8, ...Array(8).fill(0.5), -2, 300, 0.25, 200, 0.125), 1140.375);
  // values that wrap: 254 as int8 is -2, 65836 as int16 is 300, 456 as uint8 is 200
  assert.equal(f(1, 2, 3, 4, 5, 6, 7, 8, ...Array(8).fill(0.5), 254, 65836, 0.25, 456, 0.125), 1140.375);
  lib.close();
});

test("C calls a JSCallback with integer, narrow and floating arguments on the stack", () => {
  const lib = open({ call_stack_callback: { args: ["function"], returns: "f64" } });
  let seen;
  const cb = new JSCallback((...args) => {
    seen = args;
    return 2.5;
  }, { args: [...i64s(8), "i8", "i16", "f64", "f32"], returns: "f64" });
  assert.equal(lib.symbols.call_stack_callback(cb.ptr), 2.5);
  assert.deepEqual(seen, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, -9, -1000, 0.25, 1.5]);
  cb.close();
  lib.close();
});

test("narrow callback results reach C truncated and extended as their type says", () => {
  const lib = open({
    call_i8_callback: { args: ["function", "i8"], returns: "i32" },
    call_u16_callback: { args: ["function", "u16"], returns: "u32" },
    call_bool_callback: { args: ["function", "i32"], returns: "i32" },
  });
  const seen = [];
  const i8 = new JSCallback((x) => (seen.push(x), 200), { args: ["i8"], returns: "i8" });
  const u16 = new JSCallback((x) => (seen.push(x), 70000), { args: ["u16"], returns: "u16" });
  const bool = new JSCallback((x) => x > 0, { args: ["i32"], returns: "bool" });
  assert.equal(lib.symbols.call_i8_callback(i8.ptr, -5), -56);
  assert.equal(lib.symbols.call_u16_callback(u16.ptr, 65535), 4464);
  assert.equal(lib.symbols.call_bool_callback(bool.ptr, 3), 1);
  assert.equal(lib.symbols.call_bool_callback(bool.ptr, -3), 0);
  assert.deepEqual(seen, [-5, 65535]);
  for (const cb of [i8, u16, bool]) cb.close();
  lib.close();
});

test("a JSCallback with floats and integers interleaved, filling x0-x7 and d0-d7: each argument from its own register file", () => {
  const lib = open({ call_interleaved_callback: { args: ["function"], returns: "f32" } });
  let seen;
  const args = ["i8", "f32", "i64", "f64", "u16", "f32", "u64", "f64", "i32", "f32", "bool", "f64", "i16", "f32", "u32", "f64"];
  const cb = new JSCallback((...xs) => {
    seen = xs;
    return 0.1; // rounded to float on the way back
  }, { args, returns: "f32" });
  assert.equal(lib.symbols.call_interleaved_callback(cb.ptr), Math.fround(0.1));
  assert.deepEqual(seen, [-7, 0.5, -1234567890123n, -2.25, 65535, 1.25, 2n ** 64n - 1n, 1e100, -(2 ** 31), -0.75, true, 3.5,
    -32768, 2.5, 4000000000, -1e-300]);
  cb.close();
  lib.close();
});

const garbage = { skip: !onAArch64 && "the garbage-bits fixtures are AArch64 assembly" };

test("AArch64: narrow results with garbage in the register's upper bits", garbage, () => {
  const lib = open({
    garbage_i8: { returns: "i8" }, garbage_u8: { returns: "u8" },
    garbage_i16: { returns: "i16" }, garbage_u16: { returns: "u16" },
    garbage_i32: { returns: "i32" }, garbage_u32: { returns: "u32" },
    garbage_false: { returns: "bool" }, garbage_true: { returns: "bool" },
    garbage_f32: { returns: "f32" },
  });
  const s = lib.symbols;
  assert.equal(s.garbage_i8(), -1);
  assert.equal(s.garbage_u8(), 255);
  assert.equal(s.garbage_i16(), -16641);
  assert.equal(s.garbage_u16(), 48895);
  assert.equal(s.garbage_i32(), -559038721);
  assert.equal(s.garbage_u32(), 3735928575);
  assert.equal(s.garbage_false(), false);
  assert.equal(s.garbage_true(), true);
  assert.equal(s.garbage_f32(), 1.5);
  lib.close();
});

test("AArch64: a JSCallback's narrow arguments with garbage in the registers' upper bits", garbage, () => {
  const lib = open({ call_with_garbage: { args: ["function"], returns: "f64" } });
  let seen;
  const cb = new JSCallback((...args) => {
    seen = args;
    return args[0] + args[1] + args[2];
  }, { args: ["i8", "u16", "f32"], returns: "f64" });
  assert.equal(lib.symbols.call_with_garbage(cb.ptr), 48895.5);
  assert.deepEqual(seen, [-1, 48895, 1.5]);
  cb.close();
  lib.close();
});

// Stubs are entered with an indirect branch (C's blr to a callback's
// address; the stub's br x16 to its target): on a BTI-guarded page each must
// land on `bti c` (src/platform/stubs.c, src/callbacks/register_closure.c).
const BTI_C = 0xd503245f;
const registerClosures = onAArch64 && process.platform === "linux" && process.env.CFFI_BUN_ENGINE !== "ffi";
test("AArch64: a register closure's stub and the routines it jumps to begin with bti c", {
  skip: !registerClosures && "register closures (AArch64 Linux, CFFI_BUN_ENGINE not ffi) only",
}, () => {
  const { read } = require("..");
  // The stub: bti c; ldr x17, [pc + page + 4]; ldr x16, [pc + page - 8]; br x16.
  // The second load's literal offset locates the stub's slot (target, data).
  const slotTarget = (stub) => {
    const ldrTarget = read.u32(stub, 8);
    assert.equal((ldrTarget & 0xff00001f) >>> 0, 0x58000010, "ldr x16, literal");
    return stub + 8 + ((ldrTarget >>> 5) & 0x7ffff) * 4;
  };
  const cb = new JSCallback((a, b) => a + b, { args: ["i32", "f64"], returns: "f64" });
  const stub = Number(cb.ptr);
  assert.equal(read.u32(stub, 0), BTI_C, "the stub");
  assert.equal(read.u32(stub, 12), 0xd61f0200, "br x16");
  const slot = slotTarget(stub);
  const entry = Number(read.ptr(slot));
  assert.equal(read.u32(entry, 0), BTI_C, "the shared register-closure entry");
  assert.equal(read.u32(stub, 4) & 0x1f, 17, "the callback is loaded into x17");
  cb.close();
  // A released stub jumps to the routine that answers 0.
  const vacant = Number(read.ptr(slot));
  assert.notEqual(vacant, entry);
  assert.equal(read.u32(vacant, 0), BTI_C, "the vacant-stub routine");
});
