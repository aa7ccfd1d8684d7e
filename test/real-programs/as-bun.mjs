// Preloaded before a real program that picks its bun:ffi code by runtime
// (@opentui/core tests `typeof process.versions.bun === "string"`), so that
// under Node it takes the same path as on Bun, with cffi-bun as bun:ffi.
Object.defineProperty(process.versions, "bun", { value: "1.4.5", enumerable: true });
