// dlopen of the C library: integer, 64-bit, string and pointer arguments.
import { dlopen, FFIType, ptr, suffix } from "bun:ffi";

const path = process.platform === "darwin" ? `libSystem.${suffix}` : "libc.so.6";
const { symbols: libc, close } = dlopen(path, {
  abs: { args: ["int"], returns: "int" },
  labs: { args: [FFIType.i64], returns: FFIType.i64 },
  llabs: { args: ["int64_t"], returns: "i64_fast" },
  strlen: { args: ["cstring"], returns: "usize" },
  strnlen: { args: [FFIType.ptr, "usize"], returns: "u64_fast" },
  toupper: { args: ["int"], returns: "int" },
  atoi: { args: ["cstring"], returns: "i32" },
  strtoul: { args: ["cstring", "ptr", "int"], returns: "u64" },
  isdigit: { args: ["int"], returns: "bool" },
  atof: { args: ["cstring"], returns: "f64" },
  memcmp: { args: ["ptr", "ptr", "usize"], returns: "int" },
});

const show = (label, value) => console.log(label, typeof value, String(value));

show("abs(-12345)", libc.abs(-12345));
show("abs(7)", libc.abs(7));
show("labs(-5n)", libc.labs(-5n));
show("labs(-(2n**40n))", libc.labs(-(2n ** 40n)));
show("llabs(-42)", libc.llabs(-42));
show("llabs(-(2n**60n))", libc.llabs(-(2n ** 60n)));
show("strlen(js string)", libc.strlen("hello"));
show("strlen(utf-8 js string)", libc.strlen("héllo"));
const buf = Buffer.from("buffer text\0");
show("strlen(Buffer)", libc.strlen(buf));
show("strlen(ptr(Buffer))", libc.strlen(ptr(buf)));
show("strlen(ptr(Buffer, 7))", libc.strlen(ptr(buf, 7)));
show("strnlen(Uint8Array, 4)", libc.strnlen(new Uint8Array([65, 66, 67, 68, 69, 0]), 4));
show("toupper('a')", String.fromCharCode(libc.toupper("a".charCodeAt(0))));
show("atoi('  -77xyz')", libc.atoi("  -77xyz"));
show("strtoul('ffffffff', 16)", libc.strtoul("ffffffff", null, 16));
show("isdigit('7')", libc.isdigit(55));
show("isdigit('x')", libc.isdigit(120));
show("atof('2.5e3')", libc.atof("2.5e3"));
show("memcmp(same)", libc.memcmp(Buffer.from("abc"), new Uint8Array([97, 98, 99]), 3));
show("memcmp(less) < 0", libc.memcmp(Buffer.from("abb"), Buffer.from("abc"), 3) < 0);
close();
console.log("closed");
