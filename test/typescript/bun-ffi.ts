// Bun code as written for Bun, type-checked against cffi-bun's declarations.
// (Users write `/// <reference types="cffi-bun/bun-ffi" />`; the package cannot name itself here.)
/// <reference path="../../types/bun-ffi.d.ts" />
import { dlopen, FFIType, CString, ptr } from "bun:ffi";
import type { Pointer } from "bun:ffi";

const { symbols } = dlopen("libc.so.6", {
  strlen: { args: [FFIType.ptr], returns: FFIType.u64 },
  getenv: { args: ["cstring"], returns: "cstring" },
});
const len: bigint = symbols.strlen(ptr(Buffer.from("abc\0")));
const home: string | null = symbols.getenv("HOME");
const p: Pointer = ptr(new Uint8Array(1));
new CString(p).toString();
// @ts-expect-error a string is not a pointer here
symbols.strlen("abc");
void len, home;
