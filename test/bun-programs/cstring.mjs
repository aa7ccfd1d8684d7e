// CString over JS memory and C memory; cstring returns.
import { CString, dlopen, ptr } from "bun:ffi";

const data = Buffer.from("hello, world\0tail\0");
const p = ptr(data);

// Only what Bun 1.4.5 and cffi-bun share is printed: there, `new CString()`
// gives a primitive string (no .ptr, .byteOffset, .byteLength, .arrayBuffer);
// cffi-bun gives the String object with those properties that Bun's own
// typings describe.
const whole = new CString(p);
console.log(JSON.stringify(String(whole)), whole.length);
const offset = new CString(p, 7);
console.log(JSON.stringify(offset.toString()));
const sliced = new CString(p, 7, 3);
console.log(JSON.stringify(`${sliced}`), sliced.length);
console.log("after NUL", String(new CString(p, 13)));
console.log("utf-8", String(new CString(ptr(Buffer.from("h\u00e9llo \u20ac\0")))));
console.log("string ops", whole.toUpperCase(), whole.split(", ").length, whole + "!");

const { symbols, close } = dlopen(process.platform === "darwin" ? "libSystem.dylib" : "libc.so.6", {
  strerror: { args: ["int"], returns: "cstring" },
  getenv: { args: ["cstring"], returns: "cstring" },
  strchr: { args: ["cstring", "int"], returns: "ptr" },
  strstr: { args: ["ptr", "cstring"], returns: "cstring" },
});
const err = symbols.strerror(2);
console.log("strerror(2)", typeof err, err);
console.log("getenv(unset)", symbols.getenv("CFFI_BUN_SURELY_UNSET_VARIABLE"));
console.log("getenv(set)", symbols.getenv("CFFI_BUN_COMPAT_VALUE"));
const comma = symbols.strchr(data, ",".charCodeAt(0));
console.log("strchr offset", comma - p, String(new CString(comma)));
console.log("strchr missing", symbols.strchr(data, "Z".charCodeAt(0)));
console.log("strstr", symbols.strstr(data, "wor"));
close();
