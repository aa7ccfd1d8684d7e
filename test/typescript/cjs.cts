// CommonJS consumers (NodeNext): import = require.
import cffi = require("cffi-bun");

const lib = cffi.dlopen("libc.so.6", { strlen: { args: ["cstring"], returns: "usize" } });
const len: bigint = lib.symbols.strlen("abc");
// @ts-expect-error usize returns a bigint
const wrong: number = lib.symbols.strlen("abc");
void len, wrong;
