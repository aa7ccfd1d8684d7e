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
const RUN_PREFIX = 9; // results, raw, kinds, errnos, functions, first entry, flags, headers, entries

// Functions standing in for a bound function (the node-ffi engine's guards,
// lib/node-ffi-engine.js) -> that function: batches, map and async use it.
const standIns = new WeakMap();

// The stand-in gets bound's callable as bound has it (an own property, cached).
function copyFromBound(standIn, bound, key) {
  const value = bound[key];
  const descriptor = Object.getOwnPropertyDescriptor(bound, key);
  if (descriptor !== undefined) Object.defineProperty(standIn, key, descriptor);
  return value;
}

const boundPrototype = Object.create(Function.prototype, {
  // sym.async (docs/async.md): created by the addon on first access, then an own property.
  async: {
    configurable: true,
    enumerable: false,
    get() {
      const bound = standIns.get(this);
      return bound !== undefined ? copyFromBound(this, bound, "async") : native.asyncOf(this);
    },
  },
  map: {
    configurable: true,
    enumerable: false,
    get() {
      const bound = standIns.get(this);
      if (bound !== undefined) return copyFromBound(this, bound, "map");
      const sym = this;
      const map = (n, ...args) => native.mapCall(sym, n, ...args);
      Object.defineProperty(sym, "map", { value: map, writable: true, configurable: true });
      return map;
    },
  },
});
native.batchPrototype(boundPrototype, Object.setPrototypeOf);

// standIn takes bound's place in symbols: it gets bound's .async, .map and
// batch entries, and the prototype every bound function has.
function standInFor(standIn, bound) {
  standIns.set(standIn, bound);
  Object.setPrototypeOf(standIn, boundPrototype);
  return standIn;
}

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

const KIND_NUMBER = 1;
const KIND_I64 = 2;
const KIND_U64 = 3;
const KIND_BOOL = 4;
const KIND_VALUE = 5;
const FUNCTION_SHIFT = 0x20000; // header: the function's index from bit 17

class Batch {
  // Entries: their arguments, then for chained entries the reference quads;
  // each entry's header is in #headers.
  // The first RUN_PREFIX slots are the run's own arguments (filled by run()),
  // so the array is handed to the addon as it is, without a copy.
  #flat = [undefined, undefined, undefined, undefined, undefined, 0, 0, undefined, 0];
  #headers = new Float64Array(16); // per entry: argument count | CHAINED | function index << 17
  #raw = new Float64Array(0); // per entry, reused across runs: results as numbers or bigint bits
  #bits = new BigInt64Array(0);
  #ubits = new BigUint64Array(0);
  #kinds = new Uint8Array(0);
  #syms = []; // the distinct functions, each unwrapped once per run in C
  #ids = new Map();
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
    sym = standIns.get(sym) ?? sym;
    let id = this.#ids.get(sym);
    if (id === undefined) {
      id = this.#syms.length;
      this.#syms.push(sym);
      this.#ids.set(sym, id);
    }
    const flat = this.#flat;
    const count = this.#count;
    if (count === this.#headers.length) {
      const grown = new Float64Array(count * 2);
      grown.set(this.#headers);
      this.#headers = grown;
    }
    this.#headers[count] = args.length + id * FUNCTION_SHIFT;
    for (let k = 0; k < args.length; k++) flat.push(args[k]);
    let refs;
    for (let k = 0; k < args.length; k++) {
      const arg = args[k];
      if (arg instanceof BatchReference) (refs ??= []).push(k, arg.kind, arg.operand, arg.type);
    }
    if (refs) {
      this.#headers[count] += HEADER_CHAINED;
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
    this.#flat.length = RUN_PREFIX;
    this.#syms.length = 0;
    this.#ids.clear();
    this.#count = 0;
  }

  run() {
    const flat = this.#flat;
    const count = this.#count;
    const flags = this.#flags;
    const results = new Array(count); // every element is set below
    if (count === 0) return this.#shape(results, flags, -1, undefined);
    if (this.#raw.length < count) {
      const capacity = Math.max(count, this.#raw.length * 2);
      this.#raw = new Float64Array(capacity);
      this.#bits = new BigInt64Array(this.#raw.buffer);
      this.#ubits = new BigUint64Array(this.#raw.buffer);
      this.#kinds = new Uint8Array(capacity);
    }
    const raw = this.#raw;
    const kinds = this.#kinds;
    const errnos = flags & WITH_ERRNO ? new Int32Array(count) : undefined;
    let stoppedAt = -1;
    let ran = 0;
    if (flat.length <= CHUNK_VALUES) {
      flat[0] = results;
      flat[1] = raw;
      flat[2] = kinds;
      flat[3] = errnos;
      flat[4] = this.#syms;
      flat[5] = 0;
      flat[6] = flags;
      flat[7] = this.#headers;
      flat[8] = count;
      let done;
      try {
        done = Reflect.apply(native.batchRun, undefined, flat);
      } finally {
        flat[0] = flat[3] = undefined; // the batch keeps no results alive
      }
      ran = done < 0 ? -done : done;
      if (done < 0) stoppedAt = ran - 1;
    } else {
      const headers = this.#headers;
      const prefix = [results, raw, kinds, errnos, this.#syms, 0, flags, headers, 0];
      for (let at = RUN_PREFIX; ran < count; ) {
        let end = at;
        let entries = 0;
        while (ran + entries < count && (end - at < CHUNK_VALUES || entries === 0)) {
          const header = headers[ran + entries];
          end += header & 0xffff;
          if (header & HEADER_CHAINED) end += 1 + 4 * flat[end];
          entries++;
        }
        prefix[5] = ran;
        prefix[8] = entries;
        const done = Reflect.apply(native.batchRun, undefined, prefix.concat(flat.slice(at, end)));
        ran += done < 0 ? -done : done;
        if (done < 0) {
          stoppedAt = ran - 1;
          break;
        }
        at = end;
      }
    }
    // Numbers and bigints came back raw: one typed read each, no crossing.
    const bits = this.#bits;
    const ubits = this.#ubits;
    for (let i = 0; i < count; i++) {
      const kind = i < ran ? kinds[i] : 0;
      if (kind === KIND_NUMBER) results[i] = raw[i];
      else if (kind === KIND_I64) results[i] = bits[i];
      else if (kind === KIND_U64) results[i] = ubits[i];
      else if (kind === KIND_BOOL) results[i] = raw[i] !== 0;
      else if (kind !== KIND_VALUE) results[i] = undefined; // void, or not run
    }
    return this.#shape(results, flags, stoppedAt, errnos);
  }

  #shape(results, flags, stoppedAt, errnos) {
    if (flags & (STOP_NONZERO | STOP_NEGATIVE)) results.stoppedAt = stoppedAt;
    if (flags & WITH_ERRNO) results.errno = errnos ?? new Int32Array(0);
    return results;
  }

  // The whole batch on the shared pool's thread (docs/async.md's rules:
  // arguments converted now, objects kept alive, strings copied). Bad input
  // rejects, as sym.async does.
  runAsync() {
    try {
      return Reflect.apply(native.batchRunAsync, undefined, [this.#count, this.#flags, this.#syms, this.#headers, ...this.#flat.slice(RUN_PREFIX)]);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function batch(options) {
  return new Batch(options);
}

module.exports = { batch, Batch, standInFor };
