"use strict";
// batch() and sym.map (docs/batch.md): the JS side only stages and shapes.
// add() converts an entry into the native command buffer (one crossing, or
// none for plain numeric arguments, which it stages in a Float64Array);
// run() is one crossing that only calls (src/calls/batch_buffer.c). sym.map (and sym.async) are accessors on one prototype
// shared by every bound function, so binding creates nothing per function:
// each is created on first access and cached on the function.
const native = require("./native.js");

const STOP_NONZERO = 1;
const STOP_NEGATIVE = 2;
const WITH_ERRNO = 4;
const REF_RESULT = 1;
const REF_DEREF = 2;

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
// How an argument may be staged (src/calls/batch_buffer.c's STAGE_*).
const STAGE_INT = 1;
const STAGE_FLOAT = 2;
const STAGE_WIDE = 3;
const STAGE_BOOL = 4;
const STAGE_WORDS = 8192; // 64 KiB, one per thread: moved into the native buffer when full

// Up to this many results, the array is made at its length (no growing);
// beyond, V8's new Array(n) would be a slow dictionary: push.
const PREALLOCATED_RESULTS = 65536;

// Entry i's result as the single call returns it, from the word the addon
// wrote; `values` holds the results the addon made as JS values (KIND_VALUE).
function resultAt(i, raw, bits, ubits, kinds, values) {
  const kind = kinds[i];
  if (kind === KIND_NUMBER) return raw[i];
  if (kind === KIND_I64) return bits[i];
  if (kind === KIND_U64) return ubits[i];
  if (kind === KIND_BOOL) return raw[i] !== 0;
  return kind === KIND_VALUE ? values[i] : undefined; // void
}

function shapeResults(count, ran, raw, bits, ubits, kinds, values, flags, stoppedAt, errnos) {
  let results;
  if (count <= PREALLOCATED_RESULTS) {
    results = new Array(count);
    for (let i = 0; i < ran; i++) results[i] = resultAt(i, raw, bits, ubits, kinds, values);
    for (let i = ran; i < count; i++) results[i] = undefined; // not run
  } else {
    results = [];
    for (let i = 0; i < ran; i++) results.push(resultAt(i, raw, bits, ubits, kinds, values));
    for (let i = ran; i < count; i++) results.push(undefined);
  }
  if (flags & (STOP_NONZERO | STOP_NEGATIVE)) results.stoppedAt = stoppedAt;
  if (flags & WITH_ERRNO) results.errno = errnos ?? new Int32Array(0);
  return results;
}

// The staging area, one per thread (the addon is told of it once): entries
// of one batch at a time, moved into that batch's buffer before any native
// call on it, or when another batch starts staging.
const stage = new Float64Array(STAGE_WORDS);
const stageBigs = new BigInt64Array(stage.buffer);
let stagePos = 1; // word 0: how many words are staged (written before each native call)
let stageOwner = null; // the Batch whose entries are staged
native.batchStage(stage);
// Bound function -> its parameters' stage kinds (null: not stageable), from the addon once.
const stageKinds = new WeakMap();

class Batch {
  // The native command buffer (src/calls/batch_buffer.c) wraps #handle, an
  // array in which it keeps every function and object argument alive.
  // Entries whose arguments are plain numbers, booleans or bigints are
  // staged (no crossing into C); any other entry is converted by one native call.
  #handle = [];
  #indexes = new Map(); // bound function -> its index in the buffer (for staged entries)
  // The last four functions added (a mixed batch alternates a few): no map lookup for them.
  #recentSyms = [undefined, undefined, undefined, undefined];
  #recentIndexes = [-1, -1, -1, -1];
  #recentKinds = [null, null, null, null];
  #recentNext = 0;
  #raw = new Float64Array(0); // per entry, reused across runs: result words
  #bits = new BigInt64Array(0); // the same words, as bigints
  #ubits = new BigUint64Array(0);
  #kinds = new Uint8Array(0);
  #count = 0;
  #flags = 0;

  constructor(options) {
    if (options !== undefined) {
      if (options === null || typeof options !== "object")
        throw typeError(`batch() expects an options object like { stopOn: "nonzero", errno: true }, received ${options === null ? "null" : typeof options}`);
      const { stopOn, errno } = options;
      if (stopOn === "nonzero") this.#flags |= STOP_NONZERO;
      else if (stopOn === "negative") this.#flags |= STOP_NEGATIVE;
      else if (stopOn !== undefined && stopOn !== null)
        throw typeError(`batch(): stopOn must be "nonzero" or "negative", received ${JSON.stringify(stopOn)}`);
      if (errno) this.#flags |= WITH_ERRNO;
    }
    native.batchNew(this.#handle, this.#flags);
  }

  get length() {
    return this.#count;
  }

  // Before a native call on this batch: the stage holds its entries (then
  // word 0 says how many) or nothing.
  #sync() {
    if (stageOwner === this) {
      stage[0] = stagePos;
      stagePos = 1;
      stageOwner = null;
    } else stage[0] = 1;
  }

  // Makes the stage this batch's: another batch's entries go to its buffer first.
  #own() {
    if (stageOwner !== null && stageOwner !== this) {
      stage[0] = stagePos;
      native.batchFlush.call(stageOwner.#handle);
    }
    if (stageOwner !== this) {
      stageOwner = this;
      stagePos = 1;
    }
  }

  // Returns sym's slot in the recent cache.
  #remember(sym) {
    const bound = standIns.get(sym) ?? sym;
    let kinds = stageKinds.get(bound);
    if (kinds === undefined) {
      kinds = typeof bound === "function" ? native.batchStageKinds(bound) : null;
      if (typeof bound === "function") stageKinds.set(bound, kinds);
    }
    let index = -1;
    if (kinds !== null) {
      index = this.#indexes.get(bound);
      if (index === undefined) {
        this.#sync();
        index = native.batchFunction.call(this.#handle, bound);
        this.#indexes.set(bound, index);
      }
    }
    const slot = this.#recentNext;
    this.#recentNext = (slot + 1) & 3;
    this.#recentSyms[slot] = sym;
    this.#recentIndexes[slot] = index;
    this.#recentKinds[slot] = kinds;
    return slot;
  }

  add(sym) {
    const argc = arguments.length - 1;
    const recent = this.#recentSyms;
    const slot = recent[0] === sym ? 0 : recent[1] === sym ? 1 : recent[2] === sym ? 2 : recent[3] === sym ? 3 : this.#remember(sym);
    const kinds = this.#recentKinds[slot];
    if (kinds !== null && argc === kinds.length) {
      if (stageOwner !== this) this.#own();
      let pos = stagePos;
      if (pos + argc + 1 > STAGE_WORDS) {
        stage[0] = pos;
        native.batchFlush.call(this.#handle);
        pos = 1;
      }
      let bigints = 0;
      let k = 0;
      for (; k < argc; k++) {
        const v = arguments[k + 1];
        const kind = kinds[k];
        const at = pos + 1 + k;
        if (kind === STAGE_BOOL) stage[at] = v ? 1 : 0;
        else if (typeof v === "number") stage[at] = kind === STAGE_INT ? v | 0 : v;
        else if (typeof v === "boolean") stage[at] = v ? 1 : 0;
        else if (typeof v === "bigint" && kind !== STAGE_FLOAT) {
          stageBigs[at] = v;
          bigints |= 1 << k;
        } else break;
      }
      if (k === argc) {
        stage[pos] = this.#recentIndexes[slot] * 256 + bigints;
        stagePos = pos + argc + 1;
        return this.#count++;
      }
    }
    // One crossing: the addon converts (and first moves what is staged).
    this.#sync();
    let refs = null;
    for (let k = 1; k <= argc; k++) {
      const arg = arguments[k];
      if (arg instanceof BatchReference) (refs ??= []).push(k - 1, arg.kind, arg.operand, arg.type);
    }
    const bound = standIns.get(sym); // a node-ffi engine guard (lib/node-ffi-engine.js): its bound function
    if (refs === null && bound === undefined) Reflect.apply(native.batchAdd, this.#handle, arguments);
    else {
      const args = Array.prototype.slice.call(arguments, 1);
      if (refs === null) native.batchAdd.call(this.#handle, bound, ...args);
      else {
        for (let q = 0; q < refs.length; q += 4) args[refs[q]] = 0; // placeholders
        native.batchAddChained.call(this.#handle, refs, bound ?? sym, ...args);
      }
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
    if (stageOwner === this) stageOwner = null; // its staged entries are dropped
    stage[0] = 1;
    native.batchClear.call(this.#handle);
    this.#indexes.clear();
    this.#recentSyms.fill(undefined);
    this.#recentKinds.fill(null);
    this.#count = 0;
  }

  run() {
    const count = this.#count;
    const flags = this.#flags;
    if (this.#raw.length < count) {
      // Given to the addon first (it refuses during another run): the old ones stay until it takes them.
      const capacity = Math.max(count, this.#raw.length * 2);
      const raw = new Float64Array(capacity);
      const kinds = new Uint8Array(capacity);
      native.batchResults.call(this.#handle, raw, kinds);
      this.#raw = raw;
      this.#bits = new BigInt64Array(raw.buffer);
      this.#ubits = new BigUint64Array(raw.buffer);
      this.#kinds = kinds;
    }
    const errnos = flags & WITH_ERRNO ? new Int32Array(count) : undefined;
    const values = [];
    this.#sync();
    const done = native.batchRun.call(this.#handle, values, errnos);
    const ran = done < 0 ? -done : done;
    return shapeResults(count, ran, this.#raw, this.#bits, this.#ubits, this.#kinds, values, flags, done < 0 ? ran - 1 : -1, errnos);
  }

  // The whole batch on the shared pool's thread, from the same native
  // buffer (docs/async.md's rules: buffers kept and untransferable, strings
  // already copied). Bad input rejects, as sym.async does.
  runAsync() {
    const count = this.#count;
    const flags = this.#flags;
    let promise;
    try {
      this.#sync();
      promise = native.batchRunAsync.call(this.#handle, this.#handle.slice());
    } catch (error) {
      return Promise.reject(error);
    }
    return promise.then((r) => shapeResults(count, r.ran, r.raw, new BigInt64Array(r.raw.buffer), new BigUint64Array(r.raw.buffer),
      r.kinds, r.values, flags, r.stoppedAt, r.errno));
  }
}

function batch(options) {
  return new Batch(options);
}

module.exports = { batch, Batch, standInFor };
