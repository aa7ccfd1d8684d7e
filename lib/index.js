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

// Directories holding Node's own headers, so compiled code can include
// <node_api.h> or <node/node_api.h>: next to the running node binary
// (official tarballs and distro packages: <prefix>/include/node), else the
// copy node-gyp downloaded for this version. Each hit gives the directory
// itself and its parent (for the "node/" spelling). Found once.
let nodeIncludeDirs;
function findNodeIncludeDirs() {
  if (nodeIncludeDirs) return nodeIncludeDirs;
  const fs = require("node:fs");
  const path = require("node:path");
  const os = require("node:os");
  const version = process.version.slice(1);
  const candidates = [
    path.resolve(process.execPath, "..", "..", "include", "node"),
    process.env.npm_config_devdir && path.join(process.env.npm_config_devdir, version, "include", "node"),
    path.join(os.homedir(), ".cache", "node-gyp", version, "include", "node"),
    path.join(os.homedir(), "Library", "Caches", "node-gyp", version, "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ];
  nodeIncludeDirs = [];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, "node_api.h"))) {
      nodeIncludeDirs.push(dir, path.dirname(dir));
      break;
    }
  }
  return nodeIncludeDirs;
}

// cc({ source, symbols, include, library, define, flags, cache }): compiles C
// with TinyCC inside the process; see docs/cc.md. Only file: URLs are
// turned into paths here; the addon does the rest.
function cc(options) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("cc() expects an options object like { source, symbols }");
  }
  let source = options.source;
  if (Array.isArray(source)) source = source.map(normalizePath);
  else source = normalizePath(source);
  return native.cc({ ...options, source }, findNodeIncludeDirs());
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
