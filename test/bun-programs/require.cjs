// The same through require("bun:ffi") in CommonJS (run with --require cffi-bun/register).
const { dlopen, FFIType, ptr, read, toArrayBuffer } = require("bun:ffi");

const { symbols, close } = dlopen(process.platform === "darwin" ? "libSystem.dylib" : "libc.so.6", {
  abs: { args: [FFIType.int], returns: FFIType.int },
  strlen: { args: [FFIType.ptr], returns: FFIType.u64_fast },
});
console.log("abs", symbols.abs(-2147483647));
console.log("strlen", symbols.strlen(Buffer.from("required\0")));
const words = new Uint16Array([1, 2, 65535]);
console.log("read.u16", read.u16(ptr(words), 4), new Uint16Array(toArrayBuffer(ptr(words), 0, 6))[1]);
close();
