"use strict";
// Every FFIType through the jit engine: a wrapper generated per signature
// and compiled by TinyCC, here for every symbol when it is bound
// (CFFI_BUN_ENGINE=jit; by default only hot symbols get one, see
// jit.test.js). types-registers.test.js runs the same battery through the
// register engine, types-libffi.test.js through libffi.
process.env.CFFI_BUN_ENGINE = "jit";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { FFIType } = require("..");

// FFIType as measured in real Bun 1.4.5.
const BUN_FFITYPE = {
  0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 10: 10, 11: 11, 12: 12,
  13: 13, 14: 14, 15: 15, 16: 16, 17: 17,
  bool: 11, c_int: 5, c_uint: 6, char: 0, "char*": 12, double: 9, f32: 10, f64: 9,
  float: 10, i16: 3, i32: 5, i64: 7, i8: 1, int: 5, int16_t: 3, int32_t: 5, int64_t: 7,
  int8_t: 1, isize: 7, u16: 4, u32: 6, u64: 8, u8: 2, uint16_t: 4, uint32_t: 6,
  uint64_t: 8, uint8_t: 2, usize: 8, "void*": 12, ptr: 12, pointer: 12, void: 13,
  cstring: 14, i64_fast: 15, u64_fast: 16, function: 17, callback: 17, fn: 17,
  napi_env: 18, napi_value: 19, buffer: 20, buffer_length: 21, buffer_bytelength: 21,
};

test("FFIType has Bun 1.4.5's exact names and values", () => {
  for (const [k, v] of Object.entries(BUN_FFITYPE)) {
    assert.equal(FFIType[k], v, `FFIType[${JSON.stringify(k)}]`);
  }
  assert.equal(FFIType["3"], 3);
  assert.equal(FFIType.char, 0);
  assert.equal(FFIType.buffer_length, 21);
});

test("FFIType has no names beyond Bun's; the wide string types are there, not enumerable", () => {
  assert.deepEqual(Object.keys(FFIType).sort(), Object.keys(BUN_FFITYPE).sort());
  // Beyond Bun (docs/api.md#wide-strings), numbered after Bun's.
  for (const [k, v] of Object.entries({ cstring16: 22, wstring: 23 })) {
    assert.equal(FFIType[k], v);
    assert.equal(Object.getOwnPropertyDescriptor(FFIType, k).enumerable, false);
  }
});

test("a signature gets a jit wrapper (Linux builds include TinyCC)", { skip: process.platform !== "linux" || require("./helpers/platform.js").ccUnavailable() }, () => {
  const { viewSource } = require("..");
  const [src] = viewSource({ f: { args: ["i32", "f64"], returns: "i32" } });
  assert.match(src, /TinyCC compiles this wrapper/);
  assert.match(src, /#define TARGET \(\(uint64_t \(\*\)\(int32_t, double\)\)f\)/);
  // cstring arguments need per-call memory: the generic engines take them.
  const [strings] = viewSource({ g: { args: ["cstring"], returns: "i32" } });
  assert.match(strings, /register engine/);
});

require("./helpers/type-battery.js")("default engine");
