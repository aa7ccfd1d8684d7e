// ptr, read.*, toArrayBuffer, toBuffer over memory owned by JS.
import { ptr, read, toArrayBuffer, toBuffer } from "bun:ffi";

const bytes = new Uint8Array(32);
const view = new DataView(bytes.buffer);
view.setUint8(0, 200);
view.setInt8(1, -3);
view.setUint16(2, 65000, true);
view.setInt16(4, -1234, true);
view.setUint32(8, 4000000000, true);
view.setInt32(12, -123456789, true);
view.setBigUint64(16, 2n ** 63n + 5n, true);
view.setFloat64(24, Math.PI, true);

const p = ptr(bytes);
console.log("typeof ptr", typeof p, p > 0);
console.log("ptr offset", ptr(bytes, 8) - p);
console.log("ptr of subarray", ptr(bytes.subarray(4)) - p);
console.log("u8", read.u8(p, 0), "i8", read.i8(p, 1));
console.log("u16", read.u16(p, 2), "i16", read.i16(p, 4));
console.log("u32", read.u32(p, 8), "i32", read.i32(p, 12));
console.log("u64", String(read.u64(p, 16)), "i64", String(read.i64(p, 16)));
console.log("f64", read.f64(p, 24), "f32", read.f32(ptr(new Float32Array([1.5, 0.1])), 4));

const ab = toArrayBuffer(p, 8, 8);
console.log("toArrayBuffer", ab instanceof ArrayBuffer, ab.byteLength, Array.from(new Uint8Array(ab)).join(","));
new Uint8Array(ab)[0] = 7; // same memory, no copy
console.log("shared memory", bytes[8]);

const text = Buffer.from("nul-terminated\0rest");
const untilNul = toArrayBuffer(ptr(text));
console.log("toArrayBuffer to NUL", untilNul.byteLength, Buffer.from(untilNul).toString());
const b = toBuffer(ptr(text), 4, 10);
console.log("toBuffer", Buffer.isBuffer(b), b.length, b.toString());

const u64s = new BigUint64Array([1n, 2n ** 64n - 1n]);
console.log("BigUint64Array", String(read.u64(ptr(u64s), 8)), String(read.i64(ptr(u64s), 8)));
