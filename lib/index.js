"use strict";
// cffi-bun: the bun:ffi API over the native addon. This file only shapes
// the API (classes, argument normalisation); the work happens in src/.
const { fileURLToPath } = require("node:url");
// Node's own, taken at load: ptr() must keep working under fake timers.
const { setImmediate } = require("node:timers");
const native = require("./native.js");
// batch() and sym.map (lib/batch.js), loaded before anything is bound.
const { batch } = require("./batch.js");
// Calls through node:ffi where Node has it and it gives the same results (docs/engines.md).
const nodeFfiEngine = require("./node-ffi-engine.js");

const FFIType = native.FFIType;
// bun-ffi-structs definitions where struct types go (lib/foreign-structs.js).
const { convertForeignStruct } = require("./foreign-structs.js");
native.setStructConverter((definition) => convertForeignStruct(native, definition));
const suffix = process.platform === "win32" ? "dll" : process.platform === "darwin" ? "dylib" : "so";

// Bun accepts file: URLs (strings or URL objects) wherever it takes a path.
function normalizePath(path) {
  if (typeof path === "string" && path.startsWith("file:")) return fileURLToPath(path);
  if (path instanceof URL) return fileURLToPath(path);
  return path;
}

// `using lib = dlopen(...)` closes the library at the end of the scope.
function disposable(result) {
  if (Symbol.dispose) result[Symbol.dispose] = result.close;
  return result;
}

// options (not in Bun): { deepBind: false } lets the library bind to the
// process's symbols (interposition) instead of its own dependencies.
function dlopen(path, symbols, options) {
  const file = normalizePath(path);
  return disposable(nodeFfiEngine.adopt(native.dlopen(file, symbols, options), file, symbols));
}

function linkSymbols(symbols) {
  return disposable(native.linkSymbols(symbols));
}

// Type names as their FFIType numbers, looked up here where it is cheap
// (reading a string through Node-API and matching it costs hundreds of
// instructions per type). Anything that is not exactly a known name goes
// through unchanged, so the addon gives the same results and messages.
const typeIds = Object.assign(Object.create(null), FFIType);
const typeId = (type) => (typeof type === "string" ? (typeIds[type] ?? type) : type);
function typeIdsOf(args) {
  try {
    return Array.isArray(args) ? args.map(typeId) : args;
  } catch {
    return args; // a revoked Proxy, a throwing getter: the addon reports it
  }
}

// ptr() keeps its most recent targets alive until the event loop turns:
// `f(ptr(new TextEncoder().encode(s)))` and `const p = ptr(tmp); ...; f(p)`
// are everyday bun:ffi code, and under V8 a minor GC can collect the
// temporary (and free the memory ptr() answered) before C reads it. The last
// PTR_KEPT targets are held here until a setImmediate, scheduled by the first
// ptr() after each release, lets them go (docs/api.md, "ptr() of a
// temporary"). Held in JS because it is a plain array store here and two
// Node-API calls per ptr() in the addon.
const PTR_KEPT = 64; // a power of two
const keptTargets = new Array(PTR_KEPT).fill(undefined);
let keptCount = 0;
let releaseScheduled = false;
// The newest kept target, or undefined after a release: ptr() of the view
// it was just given (a loop over one buffer) is already held, so it skips
// the ring's store and the scheduling check (~20 instructions per ptr()).
let newestKept;

function releaseKeptTargets() {
  releaseScheduled = false;
  keptCount = 0;
  newestKept = undefined;
  keptTargets.fill(undefined);
}

function keepTarget(view) {
  keptTargets[keptCount++ & (PTR_KEPT - 1)] = view;
  newestKept = view;
  if (!releaseScheduled) {
    releaseScheduled = true;
    setImmediate(releaseKeptTargets).unref();
  }
}

// Read once: the addon's exports object has too many properties for V8 to
// cache a load from it, so `native.ptr` cost ~100 instructions per ptr().
const nativePtr = native.ptr;
function ptr(view, byteOffset) {
  // One argument takes the addon's fast path; other counts go through as given.
  const address = arguments.length === 1 ? nativePtr(view) : nativePtr(...arguments);
  if (view !== newestKept) keepTarget(view);
  return address;
}

let cFunctionCount = 0;
// CFunction({ ptr, args, returns }) calls a function pointer (Bun's meaning).
// The seed's spelling CFunction({ args, returns }, fn) makes a callback, the
// same as new JSCallback(fn, { args, returns }).
function CFunction(definition, fn) {
  if (definition === null || typeof definition !== "object") {
    throw new TypeError("CFunction expects a definition object like { ptr, args, returns }");
  }
  if (typeof fn === "function" && definition.ptr === undefined) return new JSCallback(fn, definition);
  const name = `CFunction${cFunctionCount++}`;
  const linked = native.linkSymbols({ [name]: definition });
  const bound = linked.symbols[name];
  bound.close = linked.close;
  if (Symbol.dispose) bound[Symbol.dispose] = linked.close;
  return bound;
}

// A copy of the NUL-terminated (or byteLength-long) string at ptr. A NULL
// pointer gives "", as in Bun. A byteLength other than undefined is checked
// by the addon as toArrayBuffer checks it (Bun ignores one that is not a
// safe integer and reads up to the NUL).
class CString extends String {
  ptr;
  byteOffset;
  byteLength;

  constructor(ptr, byteOffset, byteLength) {
    super(
      ptr
        ? byteLength === undefined
          ? native.cstringAt(ptr, byteOffset || 0)
          : native.cstringAt(ptr, byteOffset || 0, byteLength)
        : "",
    );
    this.ptr = typeof ptr === "number" ? ptr : 0;
    if (byteOffset !== undefined) this.byteOffset = byteOffset;
    if (byteLength !== undefined) this.byteLength = byteLength;
  }

  get arrayBuffer() {
    if (!this.ptr) return new ArrayBuffer(0);
    return native.toArrayBuffer(this.ptr, this.byteOffset || 0, this.byteLength);
  }
}

// Parsed callback signatures of the RECENT_DEFINITIONS definition objects
// used last, while their properties are the ones parsed: a definition reused
// for many callbacks is read once through Node-API. The properties are read
// here, where it is far cheaper than through Node-API. A few strong entries,
// not a WeakMap: a WeakMap's entries outlive their dead keys until a full GC,
// so a loop making a fresh definition per callback grew the heap by ~30 MB
// per 200k before V8 collected them.
const RECENT_DEFINITIONS = 8;
// Every slot an own element from the start (a literal): storing into it
// never reaches a setter a program put on Array.prototype.
const parsedSignatures = [null, null, null, null, null, null, null, null];
let nextParsed = 0;

function parsedFor(def) {
  for (let i = 0; i < RECENT_DEFINITIONS; i++) if (parsedSignatures[i] !== null && parsedSignatures[i].def === def) return parsedSignatures[i];
  return undefined;
}

function sameElements(copy, args) {
  if (copy === null) return !Array.isArray(args);
  if (!Array.isArray(args) || args.length !== copy.length) return false;
  for (let i = 0; i < copy.length; i++) if (args[i] !== copy[i]) return false;
  return true;
}

function signatureOf(def) {
  if (def === null || (typeof def !== "object" && typeof def !== "function")) return native.callbackSignature(def);
  const { args, returns, abi } = def;
  const parsed = parsedFor(def);
  if (parsed && parsed.args === args && parsed.returns === returns && parsed.abi === abi) {
    try {
      if (sameElements(parsed.copy, args)) return parsed.signature;
    } catch {
      // a revoked Proxy: parse again, and let the addon report it
    }
  }
  // Parse the very copy that later calls compare against (a getter may
  // answer differently each time it is read).
  let copy = null;
  let cacheable = true;
  try {
    if (Array.isArray(args)) copy = Array.from(args);
  } catch {
    cacheable = false; // a revoked Proxy, a throwing getter: the addon reports it
  }
  const signature = native.callbackSignature(def, typeIdsOf(copy ?? args), typeId(returns), abi);
  if (cacheable) {
    const entry = { def, args, copy, returns, abi, signature };
    const old = parsedFor(def);
    if (old) parsedSignatures[parsedSignatures.indexOf(old)] = entry;
    else {
      parsedSignatures[nextParsed] = entry;
      nextParsed = (nextParsed + 1) % RECENT_DEFINITIONS;
    }
  }
  return signature;
}

// A C function pointer that calls fn. It lives until close(), even when JS
// drops every reference to this object (C may still hold the pointer).
class JSCallback {
  #handle;
  #threadsafe;

  constructor(fn, definition) {
    if (typeof fn !== "function") {
      throw withCode(new TypeError(`Expected callback function: JSCallback expects a function as its first argument, received ${describe(fn)}`), "ERR_INVALID_ARG_TYPE");
    }
    // As in Bun, the definition is required ({} is a void() callback).
    if (definition === null || (typeof definition !== "object" && typeof definition !== "function")) {
      throw withCode(new TypeError(`Expected object: the JSCallback definition must be an object like { args: [...], returns: ... }, received ${describe(definition)}`), "ERR_INVALID_ARG_TYPE");
    }
    const def = definition;
    const threadsafe = !!def.threadsafe;
    const handle = native.callbackCreate(fn, signatureOf(def), threadsafe);
    this.#handle = handle;
    this.#threadsafe = threadsafe;
    this.ptr = handle; // the C address is also how the addon finds it again
  }

  get threadsafe() {
    return this.#threadsafe;
  }

  [Symbol.toPrimitive]() {
    return typeof this.ptr === "number" ? this.ptr : 0;
  }

  close() {
    const handle = this.#handle;
    this.#handle = null;
    this.ptr = null;
    if (handle) native.callbackClose(handle);
  }
}
if (Symbol.dispose) {
  JSCallback.prototype[Symbol.dispose] = function dispose() {
    this.close();
  };
}

// Bun's code on the same mistake (docs/errors.md).
function withCode(error, code) {
  error.code = code;
  return error;
}

function describe(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "symbol") return "a Symbol";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

// Asynchronous calls (docs/async.md). sym.async(...args) and nonblocking
// functions run on the shared pool; an executor has threads of its own. The
// addon's async entry reads its pool from `this`: a target handle made here.
function asyncEntryOf(sym, what) {
  const entry = typeof sym === "function" ? sym.async : undefined;
  if (typeof entry === "function") return entry;
  throw withCode(new TypeError(`${what} expects a function bound by dlopen, linkSymbols, CFunction or cc(), received ${describe(sym)}`), "ERR_INVALID_ARG_TYPE");
}

function callOn(target, sym, args, what) {
  let entry;
  try {
    entry = asyncEntryOf(sym, what);
  } catch (error) {
    return Promise.reject(error); // async calls report bad input by rejecting
  }
  return Reflect.apply(entry, target, args);
}

class Executor {
  #target;
  #errnoTarget;
  #syncTarget;

  constructor(target) {
    this.#target = target;
    this.#errnoTarget = native.asyncWithErrno(target);
    this.#syncTarget = native.asyncSync(target);
  }

  get threads() {
    return native.asyncThreads(this.#target);
  }

  setThreads(threads) {
    native.asyncThreads(this.#target, threads);
  }

  call(sym, ...args) {
    return callOn(this.#target, sym, args, "executor.call()");
  }

  callWithErrno(sym, ...args) {
    return callOn(this.#errnoTarget, sym, args, "executor.callWithErrno()");
  }

  // Blocks the JS thread until the call returns on the executor's thread.
  callSync(sym, ...args) {
    return Reflect.apply(asyncEntryOf(sym, "executor.callSync()"), this.#syncTarget, args);
  }

  close() {
    native.asyncClose(this.#target);
  }
}
if (Symbol.dispose) {
  Executor.prototype[Symbol.dispose] = function dispose() {
    this.close();
  };
}

// executor({ threads: 1 }): every call on this executor's own threads (one
// by default: for libraries whose calls must all come from one thread).
function executor(options) {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw withCode(new TypeError(`executor() expects an options object like { threads: 1 }, received ${describe(options)}`), "ERR_INVALID_ARG_TYPE");
  }
  const threads = options?.threads ?? 1;
  return new Executor(native.asyncExecutor(threads));
}
let sharedExecutor;
Object.defineProperty(executor, "shared", {
  enumerable: true,
  get() {
    sharedExecutor ??= new Executor(native.asyncShared());
    return sharedExecutor;
  },
});

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
  batch,
  CFunction,
  errno: native.errno,
  CString,
  executor,
  FFIType,
  JSCallback,
  cc,
  dlopen,
  linkSymbols,
  ptr,
  read: nodeFfiEngine.adoptReads(native.read),
  suffix,
  toArrayBuffer: native.toArrayBuffer,
  toBuffer: native.toBuffer,
  viewSource: native.viewSource,
  write: native.write,
  // Not in Bun (docs/structs.md): struct, union and array types, out-parameters.
  struct: native.struct,
  union: native.union,
  array: native.array,
  out: native.out,
  inout: native.inout,
};
// Windows only; the name is there everywhere so that the ESM entry, whose
// names are fixed, and this one list the same exports.
module.exports.GetLastError = process.platform === "win32" ? native.GetLastError : undefined;
