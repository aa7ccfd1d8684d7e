"use strict";
// The same type battery as types.test.js, with the jit engine turned off so
// that every call the register engine can make goes through it
// (CFFI_BUN_ENGINE=registers must be set before the addon loads).
process.env.CFFI_BUN_ENGINE = "registers";
require("./helpers/type-battery.js")("register engine");

const { test } = require("node:test");
const assert = require("node:assert/strict");

// Windows x64 assigns registers by position: no register engine there (src/platform/platform.h).
test("CFFI_BUN_ENGINE=registers really selects the register engine (as viewSource reports it)", { skip: process.platform === "win32" && "no register engine on Windows" }, () => {
  const { viewSource } = require("..");
  const [src] = viewSource({ f: { args: ["i32", "f64"], returns: "i32" } });
  assert.match(src, /register engine/);
  assert.doesNotMatch(src, /TinyCC/);
});
