"use strict";
// The same type battery as types.test.js, with every call forced through
// libffi (CFFI_BUN_ENGINE=ffi must be set before the addon loads).
process.env.CFFI_BUN_ENGINE = "ffi";
require("./helpers/type-battery.js")("libffi engine");

const { test } = require("node:test");
const assert = require("node:assert/strict");

test("CFFI_BUN_ENGINE=ffi really selects libffi (as viewSource reports it)", () => {
  const { viewSource } = require("..");
  const [src] = viewSource({ f: { args: ["i32", "f64"], returns: "i32" } });
  assert.match(src, /libffi/);
});
