// JSCallback: qsort with a JS comparator; a callback passed back as a pointer.
import { dlopen, JSCallback, ptr, read, CFunction } from "bun:ffi";

const { symbols, close } = dlopen(process.platform === "darwin" ? "libSystem.dylib" : "libc.so.6", {
  qsort: { args: ["ptr", "usize", "usize", "function"], returns: "void" },
});

const calls = { n: 0 };
const compare = new JSCallback(
  (a, b) => {
    calls.n++;
    return read.i32(a) - read.i32(b);
  },
  { args: ["ptr", "ptr"], returns: "i32" },
);
console.log("ptr type", typeof compare.ptr, compare.ptr > 0, "threadsafe", compare.threadsafe);

const values = new Int32Array([5, -3, 99, 0, 42, -100, 7]);
symbols.qsort(ptr(values), values.length, 4, compare);
console.log("sorted", values.join(","), "called", calls.n > 0);

const descending = new JSCallback((a, b) => read.f64(b) - read.f64(a), { args: ["ptr", "ptr"], returns: "int" });
const doubles = new Float64Array([0.5, 2.25, -1, 10]);
symbols.qsort(doubles, doubles.length, 8, descending.ptr);
console.log("descending", doubles.join(","));

// A callback called through a function pointer.
const twice = new JSCallback((x) => x * 2, { args: ["i32"], returns: "i32" });
const callTwice = CFunction({ ptr: twice.ptr, args: ["i32"], returns: "i32" });
console.log("via CFunction", callTwice(21));

const wide = new JSCallback((big, f) => big * 2n + BigInt(Math.round(f)), { args: ["i64", "f64"], returns: "i64" });
const callWide = CFunction({ ptr: wide.ptr, args: ["i64", "f64"], returns: "i64" });
console.log("i64 round trip", String(callWide(2n ** 40n, 2.6)));

const str = new JSCallback((s) => s.length, { args: ["cstring"], returns: "i32" });
console.log("cstring argument", CFunction({ ptr: str.ptr, args: ["cstring"], returns: "i32" })(Buffer.from("four\0")));

for (const cb of [compare, descending, twice, wide, str]) cb.close();
console.log("closed ptr", compare.ptr);
close();
