// ESM consumers (NodeNext): named and default imports.
import cffi, { dlopen, FFIType, suffix } from "cffi-bun";
import * as all from "cffi-bun";

const lib = dlopen(`libc.${suffix}.6`, { abs: { args: [FFIType.i32], returns: FFIType.i32 } });
const x: number = lib.symbols.abs(-1);
const y: number = cffi.dlopen("libc.so.6", { abs: { args: ["int"], returns: "int" } }).symbols.abs(-2);
all.read.u8(all.ptr(new Uint8Array(1)));
// @ts-expect-error a string is not an i32
lib.symbols.abs("x");
void x, y;
