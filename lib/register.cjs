"use strict";
// `node --require cffi-bun/register app.js` (or `--import cffi-bun/register`,
// which loads this file too): makes "bun:ffi" an alias of cffi-bun, so code
// written for Bun runs unmodified.
//
// - require("bun:ffi") / require.resolve("bun:ffi"): Module._resolveFilename
//   is wrapped for that one specifier; every other request is passed through.
// - import ... from "bun:ffi": the resolve and load hooks of lib/hooks.cjs,
//   registered in-thread with module.registerHooks where Node has it
//   (22.15+ / 23.5+), else with module.register (Node >= 18.19 / 20.6),
//   which runs them on a loader thread of its own: that thread's start-up
//   about doubles the CPU time of a small program's start.
const Module = require("node:module");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const BUN_FFI = "bun:ffi";
const installed = Symbol.for("cffi-bun.register");

if (!Module[installed]) {
  Module[installed] = true;

  const target = path.join(__dirname, "index.js");
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function cffiBunResolveFilename(request, ...rest) {
    if (request === BUN_FFI) return target;
    return resolveFilename.call(this, request, ...rest);
  };

  if (typeof Module.registerHooks === "function") {
    Module.registerHooks(require("./hooks.cjs"));
  } else if (typeof Module.register === "function") {
    Module.register(pathToFileURL(path.join(__dirname, "hooks.mjs")));
  } else {
    process.emitWarning(
      `cffi-bun/register: this Node.js (${process.version}) has no module.register, so only ` +
        `require("bun:ffi") is redirected; import from "bun:ffi" needs Node >= 18.19 or >= 20.6.`,
      { code: "CFFI_BUN_NO_MODULE_REGISTER" },
    );
  }
}
