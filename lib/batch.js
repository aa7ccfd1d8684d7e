"use strict";
// batch() and sym.map (docs/batch.md): the JS side only stages and shapes.
// add() converts an entry into the native command buffer (one crossing, or
// none for plain numeric arguments, which it stages in a Float64Array);
// run() is one crossing that only calls (src/calls/batch_buffer.c). A batch
// whose entries are all staged has no native side: run() calls straight
// from the stage (each entry naming its function by the addon's slot number
// for it, the result words shared by the thread's batches), so building and
// running it crosses once. sym.map (and sym.async) are accessors on one
// prototype shared by every bound function, so binding creates nothing per
// function: each is created on first access and cached on the function.
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
  constructor(kind, operand, type, memory = null) {
    this.kind = kind;
    this.operand = operand;
    this.type = type;
    this.memory = memory; // b.deref()'s view or ArrayBuffer, which the batch keeps (its address is operand)
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
const STAGE_WORDS = 8192; // 64 KiB to start with, one per thread
// It doubles as entries are staged, up to STAGE_MAX_WORDS (32 MiB); past
// that the entries move into the native buffer. After SHRINK_AFTER batches
// in a row that used less than an eighth of a grown stage, it goes back to
// STAGE_WORDS.
const STAGE_MAX_WORDS = 1 << 22;
const SHRINK_AFTER = 64;
// A batch with no native side that loses the stage to another keeps its
// entries in a copy of their words, up to this many (beyond, they move into
// a native buffer made for it): a batch built, run and dropped in a loop
// then never makes one.
const SAVED_WORDS = 16384;
// Copies of up to SLAB_COPY words are views into a shared slab of
// SLAB_WORDS (a new slab when one is full; each lives while a view on it
// does) instead of a slice each: a slice of more than 64 bytes allocates
// its memory outside V8's heap (malloc, and the ArrayBuffer's bookkeeping
// and later free), once per batch built and dropped in a loop.
const SLAB_WORDS = 4096;
const SLAB_COPY = 1024;
let savedSlab = null;
let savedSlabPos = 0;

// The first `words` words of the stage, copied out for a batch that loses it.
function savedCopy(words) {
  if (words > SLAB_COPY) return hot.stage.slice(0, words);
  if (savedSlab === null || savedSlabPos + words > SLAB_WORDS) {
    savedSlab = new Float64Array(SLAB_WORDS);
    savedSlabPos = 0;
  }
  const copy = savedSlab.subarray(savedSlabPos, savedSlabPos + words);
  savedSlabPos += words;
  copy.set(hot.stage.subarray(0, words)); // bit for bit (a loop through doubles might not keep a NaN's payload)
  return copy;
}

// A results array is a copy of a template whose every index is an own
// element (made by concat, which defines them), so storing a result never
// runs a setter a program put on Array.prototype's indexes (storing into a
// hole of new Array(n), or push, would, and store nothing). Numbers copy
// a template of doubles (stored unboxed), other results one of undefined.
// Templates up to this many elements are kept; longer ones are made per run.
const KEPT_TEMPLATE = 65536;
let doublesTemplate = [0.5];
let valuesTemplate = [undefined];

function filledArray(template, count) {
  let t = template;
  while (t.length < count) t = t.concat(t);
  if (count <= KEPT_TEMPLATE) {
    if (template === doublesTemplate) doublesTemplate = t;
    else valuesTemplate = t;
  }
  return t.slice(0, count); // never the template itself: the program owns what run() returns
}

// into's elements from its length up to count, defined (an assignment to a
// hole would run an index setter on Array.prototype instead).
function extendInto(into, count) {
  for (let i = into.length; i < count; i++)
    Object.defineProperty(into, i, { value: undefined, writable: true, enumerable: true, configurable: true });
}

// into's holes below count (new Array(n), [1, , 3]), defined as extendInto
// defines new elements: a hole is not an own element, so storing there
// would run an index setter too. Only a hole under an index the prototype
// chain has can reach one, and `in` on the prototype is the cheap test
// (Object.hasOwn per element doubled the cost of filling a 4096-entry into).
function fillIntoHoles(into, count) {
  const proto = Object.getPrototypeOf(into);
  if (proto === null) return;
  const end = Math.min(into.length, count);
  for (let i = 0; i < end; i++)
    if (i in proto && !Object.hasOwn(into, i))
      Object.defineProperty(into, i, { value: undefined, writable: true, enumerable: true, configurable: true });
}

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

// What makes an array run({ into }) cannot fill.
function unfillable(array) {
  if (Object.isFrozen(array)) return "frozen";
  if (Object.isSealed(array)) return "sealed";
  return Object.isExtensible(array) ? "read-only length" : "non-extensible";
}

// Before a run: no view a b.deref() entry reads was detached or shrunk since add().
function checkDerefMemory(kept) {
  for (let q = 0; q < kept.length; q += 4) {
    if (kept[q + 2].byteLength >= kept[q + 3]) continue;
    const error = typeError(`batch entry ${kept[q]}: args[${kept[q + 1]}]: the memory b.deref() reads was detached or shrunk after add(); nothing was called`);
    error.entry = kept[q];
    throw error;
  }
}

// Before any call: into made ready to take every result, so that filling
// it once the calls were made cannot fail. An Array into (count given): its
// length, own elements where it had holes or was short, each element
// written once; a TypedArray into (count undefined: the addon checks its
// elements, refusing another kind or length): nothing of those. Both: a
// stoppedAt / errno when they will be set. A read-only or getter-only
// element, one that cannot be deleted past the batch's length, a read-only
// stoppedAt, or a Proxy that refuses, throws here, before anything ran.
function prepareInto(into, count, flags) {
  try {
    if (count !== undefined) {
      if (into.length > count) into.length = count;
      fillIntoHoles(into, count);
      if (into.length < count) extendInto(into, count);
      for (let i = 0; i < count; i++) into[i] = undefined;
    }
    if (flags & (STOP_NONZERO | STOP_NEGATIVE)) into.stoppedAt = -1;
    if (flags & WITH_ERRNO) into.errno = undefined;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // a setter's or a Proxy trap's own
    throw typeError(`batch.run(): into cannot take the results (${error.message}); nothing was called`);
  }
}

function shapeResults(count, ran, raw, bits, ubits, kinds, values, flags, stoppedAt, errnos, into) {
  let results;
  if (into !== undefined) {
    results = into;
    if (into.length > count) into.length = count;
    fillIntoHoles(into, count);
    if (into.length < count) extendInto(into, count);
    for (let i = 0; i < ran; i++) into[i] = resultAt(i, raw, bits, ubits, kinds, values);
    for (let i = ran; i < count; i++) into[i] = undefined; // not run
  } else {
    // The first and last results' kinds choose the template (a guess: a mixed batch only converts once).
    const numbers = count !== 0 && kinds[0] === KIND_NUMBER && kinds[count - 1] === KIND_NUMBER && ran === count;
    results = filledArray(numbers ? doublesTemplate : valuesTemplate, count);
    for (let i = 0; i < ran; i++) results[i] = resultAt(i, raw, bits, ubits, kinds, values);
    for (let i = ran; i < count; i++) results[i] = undefined; // not run
  }
  if (flags & (STOP_NONZERO | STOP_NEGATIVE)) results.stoppedAt = stoppedAt;
  if (flags & WITH_ERRNO) results.errno = errnos ?? new Int32Array(0);
  return results;
}

// Stages v for a parameter of stage kind `kind` at word `at`: 0 (as a
// number), 1 (as a bigint's bits) or -1 (not stageable: the addon converts it).
// Numbers are staged as they are: the addon converts them as the single
// call does (ToInt32 and the like, src/calls/batch_buffer.c's staged_image).
function stageValue(at, v, kind) {
  if (typeof v === "number") hot.stage[at] = v;
  else if (typeof v === "boolean" || kind === STAGE_BOOL) hot.stage[at] = v ? 1 : 0; // a bool takes any value, by its truth (the single call's rule)
  else if (typeof v === "bigint" && kind !== STAGE_FLOAT) {
    hot.bigs[at] = v;
    return 1;
  } else return -1;
  return 0;
}

// The staging area, one per thread (the addon is told of it once): entries
// of one batch at a time, moved into that batch's buffer before any native
// call on it, or when another batch starts staging.
// The staging area and add()'s cache, one per thread, in one object held by
// a const: V8's optimized add() then reads each field with one load (a
// module-level let costs a load, a hole check and a branch per use; a
// const object's fields keep their map, so no check either).
const hot = {
  stage: new Float64Array(STAGE_WORDS), // the addon is told of it (registerStage)
  bigs: null, // a BigInt64Array over stage's buffer
  room: STAGE_WORDS - 3, // add()'s shortest path stages at pos <= room (an entry of up to two arguments fits)
  pos: 1, // word 0: how many words are staged (written before each native call)
  owner: null, // the Batch whose entries are staged
  // The last four functions added, by any batch (a mixed batch alternates
  // a few): one compare each, no WeakMap lookup, no element loads.
  sym0: undefined, sym1: undefined, sym2: undefined, sym3: undefined,
  fn0: null, fn1: null, fn2: null, fn3: null,
  next: 0,
};
hot.bigs = new BigInt64Array(hot.stage.buffer);
let stageBusy = 0; // a run from the stage is in progress: no batch may take it
let stageSmallUses = 0; // batches in a row that used little of a grown stage
// The addon keeps one stage and one set of result words per load, but two
// copies of this file can share a load (the package's JS deleted from
// require.cache and the .node kept, as Jest's resetModules does): each would
// read the other's. The copy that registered last is noted on the addon's
// object, and a copy about to hand the addon work registers its own again
// when another one was last (a property read on each native call, none on add()).
const STAGE_OWNER = Symbol.for("cffi-bun.batchStageOwner");
const THIS_COPY = Object.freeze({});
function registerStage(array) {
  native.batchStage(array);
  if (native[STAGE_OWNER] !== THIS_COPY) {
    native[STAGE_OWNER] = THIS_COPY;
    registeredResults = null; // the other copy's may be the addon's now
  }
}
function claimStage() {
  if (native[STAGE_OWNER] !== THIS_COPY) registerStage(hot.stage);
}

// The stage as a new array of `words` words, holding what is staged.
function resizeStage(words) {
  const grown = new Float64Array(words);
  grown.set(hot.stage.subarray(0, Math.min(hot.pos, words)));
  registerStage(grown); // a run from the old one keeps it alive (run()'s frame)
  hot.stage = grown;
  hot.bigs = new BigInt64Array(grown.buffer);
  hot.room = words - 3;
}
// What add() needs to know of a function it stages entries of, made once
// per function (or stand-in) and shared by every batch: its parameters'
// stage kinds (null: not stageable), and its staged header (its slot, the
// addon's number for it, * 256: a staged run finds the function by it).
class StagedFn {
  constructor(bound, kinds, slot) {
    this.bound = bound;
    this.kinds = kinds;
    // add()'s shortest path: entries of up to two arguments (-1: never).
    this.fast = kinds !== null && kinds.length <= 2 ? kinds.length : -1;
    this.header = slot * 256;
    // 1 when a bigint may be staged as its bits for argument 0 / 1, else 0
    // (a float converts it; a bool takes its truth, which 2n ** 64n has and
    // its 64 bits do not): small integers, which V8's optimized add() tests
    // with one compare (a boolean field takes a general truth test).
    const bits = (k) => kinds !== null && kinds.length > k && kinds[k] !== STAGE_FLOAT && kinds[k] !== STAGE_BOOL ? 1 : 0;
    this.big0 = bits(0);
    this.big1 = bits(1);
    this.id = 0; // the batch (#id) that last listed bound among the functions it keeps alive
  }
}
const NOT_STAGED = new StagedFn(null, null, 0);
hot.fn0 = hot.fn1 = hot.fn2 = hot.fn3 = NOT_STAGED;
// Bound function (or stand-in) -> its StagedFn.
const plans = new WeakMap();
let batchIds = 0;

// sym's StagedFn, made on first use, and now one of the recent four.
function stagedFnOf(sym) {
  let fn = plans.get(sym);
  if (fn === undefined) {
    const bound = standIns.get(sym) ?? sym;
    const kinds = typeof bound === "function" ? native.batchStageKinds(bound) : null;
    if (kinds === null) fn = NOT_STAGED;
    else fn = new StagedFn(bound, kinds, native.batchSlot(bound));
    if (typeof sym === "function") plans.set(sym, fn);
  }
  switch (hot.next) {
    case 0: hot.sym0 = sym; hot.fn0 = fn; break;
    case 1: hot.sym1 = sym; hot.fn1 = fn; break;
    case 2: hot.sym2 = sym; hot.fn2 = fn; break;
    default: hot.sym3 = sym; hot.fn3 = fn; break;
  }
  hot.next = (hot.next + 1) & 3;
  return fn;
}

// The result words and kinds of a run, shared by this thread's batches
// (runs do not nest; each run's results are copied out as it returns), so a
// batch built and run once makes no typed arrays. Up to SHARED_RESULTS
// entries they stay; larger ones are held by the batch that last used them
// (and weakly here, for the next batch while they live).
const SHARED_RESULTS = 65536;
let results = null; // { raw, bits, ubits, kinds }
let largeResults = null; // WeakRef of the same, above SHARED_RESULTS
let registeredResults = null; // the ones the addon writes into
registerStage(hot.stage);
// Results being copied out of the shared words (into an Array whose
// setters, or a Proxy's traps, may run JS): a batch run meanwhile gets
// words of its own, so it cannot overwrite those being read.
let shaping = 0;

function resultsFor(count) {
  claimStage();
  let r = results;
  if (count > SHARED_RESULTS) {
    r = largeResults?.deref();
    if (r === undefined || r.raw.length < count) r = undefined;
  } else if (r !== null && r.raw.length < count) r = undefined;
  if (shaping !== 0) r = undefined;
  if (r === null || r === undefined) {
    const capacity = count > SHARED_RESULTS ? count : Math.min(SHARED_RESULTS, Math.max(64, count, (results?.raw.length ?? 0) * 2));
    const raw = new Float64Array(capacity);
    r = { raw, bits: new BigInt64Array(raw.buffer), ubits: new BigUint64Array(raw.buffer), kinds: new Uint8Array(capacity) };
  }
  if (r !== registeredResults) {
    native.batchResults(r.raw, r.kinds); // refused during a run (a callback's): nothing changes then
    registeredResults = r;
  }
  if (shaping !== 0) return r;
  if (count > SHARED_RESULTS) largeResults = new WeakRef(r);
  else results = r;
  return r;
}

class Batch {
  // The native command buffer (src/calls/batch_buffer.c) wraps #handle, an
  // array in which it keeps every function and object argument alive; it is
  // made by the first native call on the batch (often run()). Entries whose
  // arguments are plain numbers, booleans or bigints are staged (no crossing
  // into C); any other entry is converted by one native call.
  // The functions staged entries name (their headers hold the function's
  // slot), kept alive here: its first #fnCount elements (a function may be
  // listed twice, when two batches take turns adding it). Its slots are own
  // elements from the start (a literal; more come by concat, which defines
  // them), so listing a function stores into one and never runs a setter a
  // program put on Array.prototype's indexes (push would, and store nothing).
  #fns = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
  #fnCount = 0;
  #handle = [this.#fns]; // element 0: #fns, which keeps them alive with the handle
  #created = false;
  #id = ++batchIds;
  #count = 0;
  #flags = 0;
  #largeResults = null; // the results above SHARED_RESULTS this batch last used
  #runningStaged = 0; // runs of this batch from the stage in progress
  #ranStaged = false; // run once from the stage: the next run() moves it to a native buffer (faster to run again)
  #saved = null; // its staged words (word 0: their end) while another batch has the stage
  // The views b.deref() entries read, kept alive with them (their addresses
  // were taken at add()) and checked before each run: flat [entry, arg, view, byteLength, ...].
  #derefMemory = null;
  #sizeWords = 0; // batch({ size }): the stage words it asks for when it takes the stage

  constructor(options) {
    if (options !== undefined) {
      if (options === null || typeof options !== "object")
        throw typeError(`batch() expects an options object like { stopOn: "nonzero", errno: true }, received ${options === null ? "null" : typeof options}`);
      const { stopOn, errno, size } = options;
      if (size !== undefined) {
        if (typeof size !== "number" || !Number.isInteger(size) || size < 0)
          throw typeError(`batch(): size must be a non-negative integer (the entries expected), received ${typeof size === "number" ? size : size === null ? "null" : typeof size}`);
        // Words for entries of up to two arguments (a header and two words each).
        this.#sizeWords = Math.min(STAGE_MAX_WORDS, 1 + 3 * size);
      }
      if (stopOn === "nonzero") this.#flags |= STOP_NONZERO;
      else if (stopOn === "negative") this.#flags |= STOP_NEGATIVE;
      else if (stopOn !== undefined && stopOn !== null)
        throw typeError(`batch(): stopOn must be "nonzero" or "negative", received ${JSON.stringify(stopOn)}`);
      if (errno) this.#flags |= WITH_ERRNO;
    }
  }

  get length() {
    return this.#count;
  }

  // The native side, made on first need. Every native call that reads the
  // stage goes through here first (a staged run through resultsFor).
  #native() {
    claimStage();
    if (!this.#created) {
      this.#created = true;
      native.batchNew(this.#handle, this.#flags);
    }
    if (this.#saved !== null) {
      const saved = this.#saved;
      this.#saved = null;
      native.batchFlush.call(this.#handle, saved);
    }
    return this.#handle;
  }

  // Before a native call on this batch: the stage holds its entries (then
  // word 0 says how many) or nothing.
  #sync() {
    if (hot.owner === this) {
      hot.stage[0] = hot.pos;
      hot.pos = 1;
      hot.owner = null;
    } else hot.stage[0] = 1;
  }

  // Makes the stage this batch's (false while a run from it is in
  // progress): another batch's entries go to its buffer first.
  #own() {
    if (stageBusy !== 0) return false;
    if (hot.owner !== null && hot.owner !== this) {
      const owner = hot.owner;
      hot.stage[0] = hot.pos;
      if (!owner.#created && hot.pos <= SAVED_WORDS) owner.#saved = savedCopy(hot.pos);
      else native.batchFlush.call(owner.#native());
      hot.owner = null;
    }
    if (hot.owner !== this) {
      if (hot.stage.length > STAGE_WORDS) {
        stageSmallUses = hot.pos < hot.stage.length / 8 ? stageSmallUses + 1 : 0;
        if (stageSmallUses >= SHRINK_AFTER) {
          hot.pos = 1;
          resizeStage(STAGE_WORDS);
          stageSmallUses = 0;
        }
      }
      hot.owner = this;
      hot.pos = 1;
      // Grown once to the size asked for, not doubled (and copied) again and again.
      if (this.#sizeWords > hot.stage.length) resizeStage(this.#sizeWords);
      if (this.#saved !== null) {
        // Its entries come back (bit for bit: bigints are staged as bits).
        const saved = this.#saved;
        this.#saved = null;
        const end = saved[0];
        if (end > hot.stage.length) resizeStage(Math.min(STAGE_MAX_WORDS, Math.max(end, hot.stage.length * 2)));
        hot.stage.set(saved.subarray(1, end), 1);
        hot.pos = end;
      }
    }
    return true;
  }

  // Room for `words` more staged words (false: none, the entry is converted by the addon).
  #room(words) {
    if (hot.pos + words <= hot.stage.length) return true;
    if (hot.stage.length < STAGE_MAX_WORDS) {
      resizeStage(Math.min(STAGE_MAX_WORDS, hot.stage.length * 2));
      return true;
    }
    if (stageBusy !== 0) return false; // the run reads it: it must stay as it is
    hot.stage[0] = hot.pos;
    native.batchFlush.call(this.#native());
    hot.pos = 1;
    return true;
  }

  // Lists fn's function among those this batch keeps alive (its staged entries name it).
  #list(fn) {
    fn.id = this.#id;
    let fns = this.#fns;
    const index = this.#fnCount++;
    if (index === fns.length) this.#fns = this.#handle[0] = fns = fns.concat(Array.from({ length: fns.length }));
    fns[index] = fn.bound;
  }

  // An entry of up to two number arguments, the stage this batch's with
  // room: the function found by one compare against the recent four, the
  // values stored as they are (the addon converts them at run()), the
  // header. Small, so that V8 inlines it into the caller's loop (its
  // bytecode budget: each extra line here costs that; inlined, the
  // argument count is a constant and the branches on it fold away);
  // a bigint for a one-argument function is staged here too (its bits, the
  // header marking it), other booleans and bigints take #addWide, anything
  // else #addAny.
  add(sym, a0, a1) {
    const h = hot;
    const fn = sym === h.sym0 ? h.fn0 : sym === h.sym1 ? h.fn1 : sym === h.sym2 ? h.fn2 : sym === h.sym3 ? h.fn3 : stagedFnOf(sym);
    const argc = arguments.length - 1;
    const pos = h.pos;
    if (argc === fn.fast && h.owner === this && pos <= h.room) {
      let big = 0;
      if (argc === 0 || (typeof a0 === "number" && (argc === 1 || typeof a1 === "number")) ||
          (argc === 1 && typeof a0 === "bigint" && fn.big0 === 1 && (big = 1) === 1)) {
        const words = h.stage;
        words[pos] = fn.header + big;
        if (argc !== 0) {
          if (big === 0) words[pos + 1] = a0;
          else h.bigs[pos + 1] = a0;
          if (argc === 2) words[pos + 2] = a1;
        }
        h.pos = pos + 1 + argc;
        if (fn.id !== this.#id) this.#list(fn);
        return this.#count++;
      }
      return this.#addWide(sym, fn, argc, a0, a1, pos);
    }
    return this.#addAny.apply(this, arguments);
  }

  // add()'s entry with a boolean, or a bigint of a two-argument function, among its arguments.
  #addWide(sym, fn, argc, a0, a1, pos) {
    let header = fn.header;
    if (typeof a0 === "number") hot.stage[pos + 1] = a0;
    else if (typeof a0 === "bigint" && fn.big0 === 1) {
      hot.bigs[pos + 1] = a0;
      header += 1;
    } else if (typeof a0 === "boolean") hot.stage[pos + 1] = a0 ? 1 : 0;
    else return argc === 1 ? this.#addAny(sym, a0) : this.#addAny(sym, a0, a1);
    if (argc === 2) {
      if (typeof a1 === "number") hot.stage[pos + 2] = a1;
      else if (typeof a1 === "bigint" && fn.big1 === 1) {
        hot.bigs[pos + 2] = a1;
        header += 2;
      } else if (typeof a1 === "boolean") hot.stage[pos + 2] = a1 ? 1 : 0;
      else return this.#addAny(sym, a0, a1);
    }
    hot.stage[pos] = header;
    hot.pos = pos + 1 + argc;
    if (fn.id !== this.#id) this.#list(fn);
    return this.#count++;
  }

  #addAny(sym) {
    const argc = arguments.length - 1;
    const fn = stagedFnOf(sym);
    const kinds = fn.kinds;
    if (kinds !== null && argc === kinds.length && (hot.owner === this || this.#own()) && this.#room(argc + 1)) {
      const pos = hot.pos;
      let bigints = 0;
      let k = 0;
      for (; k < argc; k++) {
        const staged = stageValue(pos + 1 + k, arguments[k + 1], kinds[k]);
        if (staged < 0) break;
        bigints |= staged << k;
      }
      if (k === argc) {
        hot.stage[pos] = fn.header + bigints;
        hot.pos = pos + argc + 1;
        if (fn.id !== this.#id) this.#list(fn);
        return this.#count++;
      }
    }
    // One crossing: the addon converts (and first moves what is staged).
    const handle = this.#native();
    this.#sync();
    let refs = null;
    for (let k = 1; k <= argc; k++) {
      const arg = arguments[k];
      if (arg instanceof BatchReference) {
        const ref = [k - 1, arg.kind, arg.operand, arg.type, arg.memory]; // a literal and concat define (push would run an index setter)
        refs = refs === null ? ref : refs.concat(ref);
      }
    }
    const bound = standIns.get(sym); // a node-ffi engine guard (lib/node-ffi-engine.js): its bound function
    if (refs === null && bound === undefined) Reflect.apply(native.batchAdd, handle, arguments);
    else {
      const args = Array.prototype.slice.call(arguments, 1);
      if (refs === null) native.batchAdd.call(handle, bound, ...args);
      else {
        for (let q = 0; q < refs.length; q += 5) args[refs[q]] = 0; // placeholders
        native.batchAddChained.call(handle, refs, bound ?? sym, ...args);
        for (let q = 0; q < refs.length; q += 5) {
          const memory = refs[q + 4];
          if (memory === null) continue;
          const kept = [this.#count, refs[q], memory, memory.byteLength];
          this.#derefMemory = this.#derefMemory === null ? kept : this.#derefMemory.concat(kept);
        }
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
    let memory = null;
    if (ArrayBuffer.isView(address) || address instanceof ArrayBuffer) {
      memory = address;
      address = require("./index.js").ptr(address);
    }
    if (typeof address !== "number" && typeof address !== "bigint")
      throw typeError(`batch.deref(): expected an address (a number, bigint, TypedArray or ArrayBuffer), received ${address === null ? "null" : typeof address}`);
    return new BatchReference(REF_DEREF, address, type, memory);
  }

  clear() {
    // Refused (throws) from a callback during this batch's run: nothing changes then.
    if (this.#runningStaged !== 0)
      throw new Error("batch.clear() was called while this batch runs (from a callback); clear it after run() returns");
    if (this.#created) native.batchClear.call(this.#handle);
    if (hot.owner === this) {
      hot.owner = null; // its staged entries are dropped
      hot.pos = 1;
    }
    hot.stage[0] = 1;
    this.#saved = null;
    this.#derefMemory = null;
    this.#ranStaged = false;
    // A loop, not fill() (a call into V8's builtins, per clear); the elements are own, so no setter runs.
    const fns = this.#fns;
    for (let k = 0; k < this.#fnCount; k++) fns[k] = undefined; // the addon forgot its map of them too
    this.#fnCount = 0;
    this.#id = ++batchIds;
    this.#count = 0;
  }

  // run() or run({ into }): into, an Array, receives the results (its
  // length set to the batch's) and is returned, instead of a new array.
  run(options) {
    let into;
    let typed; // undefined: results in a JS array; true: in a new TypedArray; or the TypedArray given as into
    if (options !== undefined) {
      if (options === null || typeof options !== "object")
        throw typeError(`batch.run() expects an options object like { into: array }, received ${options === null ? "null" : typeof options}`);
      into = options.into;
      const shape = options.results;
      if (shape !== undefined && shape !== "array" && shape !== "typed")
        throw typeError(`batch.run(): results must be "array" or "typed", received ${typeof shape === "string" ? JSON.stringify(shape) : shape === null ? "null" : typeof shape}`);
      if (ArrayBuffer.isView(into) && !(into instanceof DataView)) {
        if (shape === "array") throw typeError(`batch.run(): results is "array" but into is a TypedArray (${into.constructor.name})`);
        if (this.#flags & (STOP_NONZERO | STOP_NEGATIVE | WITH_ERRNO) && !Object.isExtensible(into))
          throw typeError(`batch.run(): into must be extensible to receive stoppedAt or errno, received a non-extensible ${into.constructor.name}`);
        typed = into;
        into = undefined;
      } else if (shape === "typed") {
        if (into !== undefined) throw typeError(`batch.run(): results "typed" needs into to be a TypedArray or absent, received ${Array.isArray(into) ? "an Array" : into === null ? "null" : typeof into}`);
        typed = true;
      }
      if (into !== undefined && !Array.isArray(into))
        throw typeError(`batch.run(): into must be an Array or a TypedArray, received ${into === null ? "null" : ArrayBuffer.isView(into) ? into.constructor.name : typeof into}`);
      // Checked before anything runs: filling it must not fail after the calls were made.
      if (into !== undefined && (!Object.isExtensible(into) || !Object.getOwnPropertyDescriptor(into, "length").writable))
        throw typeError(`batch.run(): into must be an extensible Array with a writable length, received a ${unfillable(into)} array`);
    }
    const flags = this.#flags;
    // First: a setter of into's may add() to this batch (the entry runs now) or clear() it.
    if (into !== undefined) prepareInto(into, this.#count, flags);
    else if (typed !== undefined && typed !== true && flags & (STOP_NONZERO | STOP_NEGATIVE | WITH_ERRNO)) prepareInto(typed, undefined, flags);
    if (this.#derefMemory !== null) checkDerefMemory(this.#derefMemory);
    const count = this.#count;
    const r = resultsFor(count);
    if (count > SHARED_RESULTS) this.#largeResults = r;
    const errnos = flags & WITH_ERRNO ? new Int32Array(count) : undefined;
    const values = [];
    let done;
    if (this.#created) {
      const handle = this.#native();
      this.#sync();
      done = native.batchRun.call(handle, values, errnos, typed);
    } else if (!this.#ranStaged && (hot.owner === this || (this.#saved !== null && this.#own()))) {
      // Every entry is staged: run from the stage, which this batch keeps.
      this.#ranStaged = true;
      const reading = hot.stage; // alive while the addon reads it, even if the stage grows meanwhile
      reading[0] = hot.pos;
      stageBusy++;
      this.#runningStaged++;
      try {
        // Typed results: the listed functions, checked to return one type (not read otherwise).
        done = typed === undefined ? native.batchRunStaged(values, errnos, flags, count)
          : native.batchRunStaged(values, errnos, flags, count, typed, this.#fns, this.#fnCount);
      } finally {
        stageBusy--;
        this.#runningStaged--;
      }
    } else {
      const handle = this.#native(); // an empty batch, or one whose saved entries cannot take the stage now
      this.#sync();
      done = native.batchRun.call(handle, values, errnos, typed);
    }
    const ran = done < 0 ? -done : done;
    if (typed !== undefined) {
      // The addon filled the TypedArray (a new one comes as values[0]).
      const results = typed === true ? values[0] : typed;
      if (flags & (STOP_NONZERO | STOP_NEGATIVE)) results.stoppedAt = done < 0 ? ran - 1 : -1;
      if (flags & WITH_ERRNO) results.errno = errnos;
      return results;
    }
    shaping++;
    try {
      return shapeResults(count, ran, r.raw, r.bits, r.ubits, r.kinds, values, flags, done < 0 ? ran - 1 : -1, errnos, into);
    } finally {
      shaping--;
    }
  }

  // The whole batch on the shared pool's thread, from the same native
  // buffer (docs/async.md's rules: buffers kept and untransferable, strings
  // already copied). Bad input rejects, as sym.async does.
  runAsync() {
    const count = this.#count;
    const flags = this.#flags;
    let promise;
    try {
      const handle = this.#native();
      this.#sync();
      // The run keeps a copy of what the batch keeps alive (its functions too: clear() empties #fns).
      promise = native.batchRunAsync.call(handle, handle.concat(this.#fns));
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
