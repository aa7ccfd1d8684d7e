// FFIType's numbers and names, and suffix.
import { FFIType, suffix } from "bun:ffi";

const names = Object.keys(FFIType).filter((k) => !/^\d+$/.test(k)).sort();
for (const name of names) console.log(`${name}=${FFIType[name]}`);
const numeric = Object.keys(FFIType).filter((k) => /^\d+$/.test(k));
console.log("numeric keys", numeric.length, numeric.every((k) => FFIType[k] === Number(k)));
console.log("i32 === int === int32_t", FFIType.i32 === FFIType.int && FFIType.int === FFIType.int32_t);
console.log("suffix", suffix);
