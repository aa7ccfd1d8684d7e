// `node --import cffi-bun/register app.mjs`: makes both `import ... from
// "bun:ffi"` and `require("bun:ffi")` load cffi-bun. The work is done in
// register.cjs (shared with `--require cffi-bun/register`).
import { createRequire } from "node:module";

createRequire(import.meta.url)("./register.cjs");
