// ES module entry: the same objects as the CommonJS entry.
import cffi from "./index.js";

export const {
  CFunction,
  CString,
  FFIType,
  JSCallback,
  cc,
  dlopen,
  errno,
  linkSymbols,
  ptr,
  read,
  suffix,
  toArrayBuffer,
  toBuffer,
  viewSource,
  write,
} = cffi;
export default cffi;
