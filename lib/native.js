"use strict";
// Loads the compiled addon from whichever build directory exists. With
// CFFI_BUN_ASAN=1 it loads the sanitizer build made by scripts/test-asan.sh
// (build-asan/) and nothing else, so a test run cannot silently fall back to
// the uninstrumented addon.
const path = require("node:path");

const root = path.join(__dirname, "..");
const candidates =
  process.env.CFFI_BUN_ASAN === "1"
    ? ["build-asan/Release/cffi_bun.node"]
    : ["build/Release/cffi_bun.node", "build/Debug/cffi_bun.node"];
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
  process.env.CFFI_BUN_ASAN === "1"
    ? "cffi-bun: CFFI_BUN_ASAN=1 but build-asan/Release/cffi_bun.node is not built; run `npm run test:asan`."
    : "cffi-bun: the native addon is not built. Run `npm install` (or `npx node-gyp rebuild`) in " +
      root + "; see README.md for the system packages it needs.",
  { cause: lastError },
);
