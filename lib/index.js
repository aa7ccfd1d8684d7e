"use strict";
// cffi-bun: the bun:ffi API over the native addon. This file only shapes
// the API (classes, argument normalisation); the work happens in src/.
const { fileURLToPath } = require("node:url");
const native = require("./native.js");

const FFIType = native.FFIType;
const suffix = process.platform === "win32" ? "dll" : process.platform === "darwin" ? "dylib" : "so";

// Bun accepts file: URLs (strings or URL objects) wherever it takes a path.
function normalizePath(path) {
  if (typeof path === "string" && path.startsWith("file:")) return fileURLToPath(path);
  if (path instanceof URL) return fileURLToPath(path);
  return path;
}

function dlopen(path, symbols) {
  return native.dlopen(normalizePath(path), symbols);
}

function linkSymbols(symbols) {
  return native.linkSymbols(symbols);
}

let cFunctionCount = 0;
// CFunction({ ptr, args, returns }) calls a function pointer (Bun's meaning).
function CFunction(definition) {
  if (definition === null || typeof definition !== "object") {
    throw new TypeError("CFunction expects a definition object like { ptr, args, returns }");
  }
  const name = `CFunction${cFunctionCount++}`;
  const linked = native.linkSymbols({ [name]: definition });
  const fn = linked.symbols[name];
  fn.close = linked.close;
  return fn;
}

// A copy of the NUL-terminated (or byteLength-long) string at ptr. A NULL
// pointer gives "", as in Bun.
class CString extends String {
  constructor(ptr, byteOffset, byteLength) {
    super(
      ptr
        ? typeof byteLength === "number" && Number.isSafeInteger(byteLength)
          ? native.cstringAt(ptr, byteOffset || 0, byteLength)
          : native.cstringAt(ptr, byteOffset || 0)
        : "",
    );
    this.ptr = typeof ptr === "number" || typeof ptr === "bigint" ? ptr : 0;
    if (byteOffset !== undefined) this.byteOffset = byteOffset;
    if (byteLength !== undefined) this.byteLength = byteLength;
  }

  get arrayBuffer() {
    if (!this.ptr) return new ArrayBuffer(0);
    return native.toArrayBuffer(this.ptr, this.byteOffset || 0, this.byteLength);
  }
}

class JSCallback {
  constructor() {
    throw new Error("cffi-bun: JSCallback is not implemented yet");
  }
}

function cc() {
  throw new Error("cffi-bun: cc() is not implemented yet");
}

module.exports = {
  CFunction,
  CString,
  FFIType,
  JSCallback,
  cc,
  dlopen,
  linkSymbols,
  ptr: native.ptr,
  read: native.read,
  suffix,
  toArrayBuffer: native.toArrayBuffer,
  toBuffer: native.toBuffer,
  viewSource: native.viewSource,
  write: native.write,
};
