// ES module entry: the same objects as the CommonJS entry (GetLastError is
// Windows only there, so here it is undefined elsewhere).
import cffi from "./index.js";

export const {
  batch,
  CFunction,
  CString,
  FFIType,
  GetLastError,
  JSCallback,
  cc,
  dlopen,
  errno,
  executor,
  linkSymbols,
  ptr,
  read,
  suffix,
  toArrayBuffer,
  toBuffer,
  viewSource,
  write,
  struct,
  union,
  array,
  out,
  inout,
} = cffi;
export default cffi;
