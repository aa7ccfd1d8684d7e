// cffi-bun demo, ES module flavour:  node examples/demo.mjs
// In your own project: import { dlopen, FFIType, suffix } from "cffi-bun";
import { dlopen, FFIType, suffix } from "../lib/index.mjs";

const libcName =
  process.platform === "win32" ? "msvcrt.dll" : process.platform === "darwin" ? "libc.dylib" : "libc.so.6";
const sqliteName =
  process.platform === "win32" ? "winsqlite3.dll" : `libsqlite3.${suffix}`;

const libc = dlopen(libcName, {
  abs: { args: [FFIType.i32], returns: FFIType.i32 },
  strlen: { args: ["cstring"], returns: "u64_fast" },
});
console.log(`abs(-7)               = ${libc.symbols.abs(-7)}`);
console.log(`strlen("from ESM")    = ${libc.symbols.strlen("from ESM")}`);
libc.close();

const sqlite = dlopen(sqliteName, {
  sqlite3_libversion: { returns: FFIType.cstring },
});
console.log(`sqlite3_libversion()  = ${sqlite.symbols.sqlite3_libversion()}`);
sqlite.close();
