"use strict";
// Loads the compiled addon from whichever build directory exists.
const path = require("node:path");

const root = path.join(__dirname, "..");
const candidates = ["build/Release/cffi_bun.node", "build/Debug/cffi_bun.node"];
let lastError;
for (const candidate of candidates) {
  try {
    module.exports = require(path.join(root, candidate));
    return;
  } catch (error) {
    if (error.code !== "MODULE_NOT_FOUND") throw error;
    lastError = error;
  }
}
throw new Error(
  "cffi-bun: the native addon is not built. Run `npm install` (or `npx node-gyp rebuild`) in " +
    root + "; see README.md for the system packages it needs.",
  { cause: lastError },
);
