"use strict";
// The same type battery as types.test.js, with CFFI_BUN_ENGINE=precompiled
// (set before the addon loads): every signature that has a wrapper compiled
// with the addon (src/calls/precompiled.c) runs it from its first call, so
// each of those wrappers meets every type at its limits and every bad value.
// (On a Node with node:ffi that engine stays on here and may take exact
// scalar signatures after 500 calls: the results must be the same anyway.)
process.env.CFFI_BUN_ENGINE = "precompiled";
require("./helpers/type-battery.js")("precompiled wrappers");
