"use strict";
// batch() and sym.map (docs/batch.md): the JS side only records and shapes.
// add() records an entry in a flat array (no crossing into C); run() hands
// the whole array to the addon, which converts and calls every entry with
// one crossing (src/calls/batch.c). sym.map (and sym.async) are accessors on one prototype
// shared by every bound function, so binding creates nothing per function:
// each is created on first access and cached on the function.
const native = require("./native.js");

const HEADER_CHAINED = 0x10000;
const STOP_NONZERO = 1;
const STOP_NEGATIVE = 2;
const WITH_ERRNO = 4;
const REF_RESULT = 1;
const REF_DEREF = 2;
// Values per crossing for very large batches (a call's argument count is
// bounded by the stack); a batch under this runs in exactly one crossing.
const CHUNK_VALUES = 32768;
const PREFIX = 4; // results, errnos, first entry, flags

const boundPrototype = Object.create(Function.prototype, {
  // sym.async (docs/async.md): created by the addon on first access, then an own property.
  async: {
    configurable: true,
    enumerable: false,
    get() {
      return native.asyncOf(this);
    },
  },
  map: {
    configurable: true,
    enumerable: false,
    get() {
      const sym = this;
      const map = (n, ...args) => native.mapCall(sym, n, ...args);
      Object.defineProperty(sym, "map", { value: map, writable: true, configurable: true });
      return map;
    },
  },
});
native.batchPrototype(boundPrototype, Object.setPrototypeOf);

function typeError(message) {
  const error = new TypeError(message);
  error.code = "ERR_INVALID_ARG_TYPE";
  return error;
}

class BatchReference {
  constructor(kind, operand, type) {
    this.kind = kind;
    this.operand = operand;
    this.type = type;
  }
}

class Batch {
  #flat = [undefined, undefined, 0, 0];
  #count = 0;
  #flags = 0;

  constructor(options) {
    if (options === undefined) return;
    if (options === null || typeof options !== "object")
      throw typeError(`batch() expects an options object like { stopOn: "nonzero", errno: true }, received ${options === null ? "null" : typeof options}`);
    const { stopOn, errno } = options;
    if (stopOn === "nonzero") this.#flags |= STOP_NONZERO;
    else if (stopOn === "negative") this.#flags |= STOP_NEGATIVE;
    else if (stopOn !== undefined && stopOn !== null)
      throw typeError(`batch(): stopOn must be "nonzero" or "negative", received ${JSON.stringify(stopOn)}`);
    if (errno) this.#flags |= WITH_ERRNO;
  }

  get length() {
    return this.#count;
  }

  add(sym, ...args) {
    if (typeof sym !== "function")
      throw typeError(`batch.add(): entry ${this.#count}: expected a function bound by dlopen, linkSymbols, CFunction or cc(), received ${sym === null ? "null" : typeof sym}`);
    const flat = this.#flat;
    const header = flat.length + 1;
    flat.push(sym, args.length, ...args);
    let refs;
    for (let k = 0; k < args.length; k++) {
      const arg = args[k];
      if (arg instanceof BatchReference) (refs ??= []).push(k, arg.kind, arg.operand, arg.type);
    }
    if (refs) {
      flat[header] |= HEADER_CHAINED;
      flat.push(refs.length / 4, ...refs);
    }
    return this.#count++;
  }

  // An argument that is entry i's result, when this batch runs.
  result(i) {
    if (!Number.isInteger(i) || i < 0 || i >= this.#count)
      throw new RangeError(`batch.result(${String(i)}): expected the index of an entry already added (0..${this.#count - 1})`);
    return new BatchReference(REF_RESULT, i, null);
  }

  // An argument read from memory (a value of `type` at `address`) when its entry runs.
  deref(address, type = "ptr") {
    if (ArrayBuffer.isView(address) || address instanceof ArrayBuffer) address = require("./index.js").ptr(address);
    if (typeof address !== "number" && typeof address !== "bigint")
      throw typeError(`batch.deref(): expected an address (a number, bigint, TypedArray or ArrayBuffer), received ${address === null ? "null" : typeof address}`);
    return new BatchReference(REF_DEREF, address, type);
  }

  clear() {
    this.#flat.length = PREFIX;
    this.#count = 0;
  }

  run() {
    const flat = this.#flat;
    const count = this.#count;
    const flags = this.#flags;
    const results = new Array(count).fill(undefined);
    const errnos = flags & WITH_ERRNO ? new Int32Array(count) : undefined;
    let stoppedAt = -1;
    if (flat.length <= CHUNK_VALUES) {
      flat[0] = results;
      flat[1] = errnos;
      flat[2] = 0;
      flat[3] = flags;
      let ran;
      try {
        ran = Reflect.apply(native.batchRun, undefined, flat);
      } finally {
        flat[0] = flat[1] = undefined; // the batch keeps no results alive
      }
      if (ran < 0) stoppedAt = -ran - 1;
    } else {
      let entry = 0;
      for (let at = PREFIX; at < flat.length; ) {
        let end = at;
        let entries = 0;
        while (end < flat.length && (end - at < CHUNK_VALUES || entries === 0)) {
          const header = flat[end + 1];
          end += 2 + (header & 0xffff);
          if (header & HEADER_CHAINED) end += 1 + 4 * flat[end];
          entries++;
        }
        const ran = Reflect.apply(native.batchRun, undefined, [results, errnos, entry, flags, ...flat.slice(at, end)]);
        if (ran < 0) {
          stoppedAt = entry - ran - 1;
          break;
        }
        entry += ran;
        at = end;
      }
    }
    if (flags & (STOP_NONZERO | STOP_NEGATIVE)) results.stoppedAt = stoppedAt;
    if (errnos) results.errno = errnos;
    return results;
  }

  // The whole batch on the shared pool's thread (docs/async.md's rules:
  // arguments converted now, objects kept alive, strings copied). Bad input
  // rejects, as sym.async does.
  runAsync() {
    try {
      return Reflect.apply(native.batchRunAsync, undefined, [this.#count, this.#flags, ...this.#flat.slice(PREFIX)]);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function batch(options) {
  return new Batch(options);
}

module.exports = { batch, Batch };
