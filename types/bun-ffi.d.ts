// Opt-in typings for code that imports "bun:ffi" and runs on Node through
// cffi-bun/register: `/// <reference types="cffi-bun/bun-ffi" />` or
// `"types": ["cffi-bun/bun-ffi"]` in tsconfig.json. Do not combine with
// bun-types (@types/bun), which declares the same module.
declare module "bun:ffi" {
  export * from "cffi-bun";
}
