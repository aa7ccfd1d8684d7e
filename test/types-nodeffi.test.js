"use strict";
// The type battery of types.test.js through the node-ffi engine
// (CFFI_BUN_ENGINE=node-ffi, docs/engines.md): on a Node with node:ffi, every
// symbol whose signature it takes calls through node:ffi for the values it
// converts exactly as the addon does, and through the addon for the rest;
// both must give the battery's results. Elsewhere (Node 20/22) the engine is
// off and this is one more run of the default engine.
process.env.CFFI_BUN_ENGINE = "node-ffi";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { isBuiltin } = require("node:module");

require("./helpers/type-battery.js")("node-ffi engine");

const HAS_NODE_FFI = isBuiltin("node:ffi") && process.platform !== "win32";

test("CFFI_BUN_ENGINE=node-ffi really calls through node:ffi where Node has it", () => {
  const { dlopen } = require("..");
  const { callsThroughNodeFfi } = require("../lib/node-ffi-engine.js");
  const { fixturePath } = require("./helpers/fixture");
  const lib = dlopen(fixturePath(), {
    identity_i32: { args: ["i32"], returns: "i32" },
    identity_ptr: { args: ["ptr"], returns: "ptr" },
  });
  assert.equal(lib.symbols.identity_i32(5), 5, "CFFI_BUN_ENGINE=node-ffi: moved at the first call");
  assert.equal(callsThroughNodeFfi(lib.symbols.identity_i32), HAS_NODE_FFI);
  assert.equal(lib.symbols.identity_ptr(null), null);
  assert.equal(callsThroughNodeFfi(lib.symbols.identity_ptr), false, "pointers stay on the addon");
  lib.close();
  assert.equal(callsThroughNodeFfi(lib.symbols.identity_i32), false, "closed");
});
