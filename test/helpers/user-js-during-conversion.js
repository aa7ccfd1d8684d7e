"use strict";
// Issue 22 item 4, run by test/bad-input.test.js once per engine
// (CFFI_BUN_ENGINE is read when the addon loads, so each engine needs its own
// process): user JS that runs while a call's arguments are converted (a .ptr
// getter, a Proxy trap) closes the library or detaches a view converted
// before it, shrinks a resizable ArrayBuffer under an earlier view or
// buffer_length, or closes another library's function or a JSCallback passed
// before it. Prints one JSON object: case name -> the error's constructor
// and message, or { result } when the call went through.
const { dlopen, linkSymbols, write, JSCallback } = require("../..");
const { fixturePath } = require("./fixture");

const FIX = fixturePath();
const DEFS = {
  add_ptr: { args: ["ptr", "ptr"], returns: "u64" },
  sum_bytes: { args: ["ptr", "i32"], returns: "i32" },
};
const outcomes = {};

function attempt(name, fn) {
  try {
    outcomes[name] = { result: String(fn()) };
  } catch (error) {
    outcomes[name] = { error: error.constructor.name, message: error.message };
  }
}

function transfer(view) {
  structuredClone(view.buffer, { transfer: [view.buffer] });
}

// A getter that closes the library whose function is being called.
function closingGetter(close) {
  return {
    get ptr() {
      close();
      return 0;
    },
  };
}

// A getter that resizes `buffer` (a resizable ArrayBuffer) to `length`.
function resizingGetter(buffer, length) {
  return {
    get ptr() {
      buffer.resize(length);
      return 8;
    },
  };
}

// A getter that detaches `view`, converted before it.
function detachingGetter(view) {
  return {
    get ptr() {
      transfer(view);
      return 8;
    },
  };
}

const HOT = 1500; // more than src/calls/jit.c's JIT_HOT_CALLS

function cases(label, warm) {
  {
    const lib = dlopen(FIX, DEFS);
    warm(() => lib.symbols.add_ptr(8, 8));
    attempt(`${label}: getter closes the library`, () => lib.symbols.add_ptr(8, closingGetter(lib.close)));
    lib.close();
  }
  {
    const lib = dlopen(FIX, DEFS);
    warm(() => lib.symbols.add_ptr(8, 8));
    const view = new Uint8Array(64);
    attempt(`${label}: getter detaches an earlier view`, () => lib.symbols.add_ptr(view, detachingGetter(view)));
    // A Proxy's trap runs user JS too.
    const view2 = new Uint8Array(64);
    const proxy = new Proxy({ ptr: 8 }, {
      has(target, key) {
        transfer(view2);
        return key in target;
      },
    });
    attempt(`${label}: Proxy trap detaches an earlier view`, () => lib.symbols.add_ptr(view2, proxy));
    // A harmless getter, and one that calls the same function: the call goes through.
    attempt(`${label}: harmless getter`, () => lib.symbols.add_ptr(8, { get ptr() { return 8; } }));
    attempt(`${label}: re-entrant getter`, () =>
      lib.symbols.add_ptr(8, { get ptr() { return Number(lib.symbols.add_ptr(4, 4)); } }));
    lib.close();
  }
  {
    // cstring arguments take the general path.
    const lib = dlopen(FIX, DEFS);
    const general = linkSymbols({ f: { ptr: lib.symbols.add_ptr.ptr, args: ["cstring", "ptr"], returns: "u64" } });
    const view = new Uint8Array(64);
    attempt(`${label}: cstring signature, getter detaches an earlier view`, () =>
      general.symbols.f(view, detachingGetter(view)));
    attempt(`${label}: cstring signature, getter closes the library`, () =>
      general.symbols.f("x", closingGetter(general.close)));
    lib.close();
  }
  {
    // A resizable ArrayBuffer shrunk under an earlier view, the buffer itself,
    // a DataView, a length-tracking view, or an earlier buffer_length.
    const lib = dlopen(FIX, DEFS);
    const lengths = linkSymbols({ f: { ptr: lib.symbols.add_ptr.ptr, args: ["buffer_length", "ptr"], returns: "u64" } });
    warm(() => lib.symbols.add_ptr(8, 8));
    warm(() => lengths.symbols.f(new Uint8Array(8), 8));
    const resizable = () => new ArrayBuffer(1 << 20, { maxByteLength: 4 << 20 });
    const views = {
      "fixed Uint8Array": (b) => new Uint8Array(b, 0, 1 << 20),
      "length-tracking Uint8Array": (b) => new Uint8Array(b),
      "ArrayBuffer": (b) => b,
      "DataView": (b) => new DataView(b),
    };
    for (const [kind, make] of Object.entries(views)) {
      const buffer = resizable();
      attempt(`${label}: getter shrinks the resizable ArrayBuffer of an earlier ${kind}`, () =>
        lib.symbols.add_ptr(make(buffer), resizingGetter(buffer, 0)));
    }
    const grown = resizable();
    attempt(`${label}: getter grows the resizable ArrayBuffer of an earlier ArrayBuffer`, () =>
      lib.symbols.add_ptr(grown, resizingGetter(grown, 2 << 20)));
    const counted = resizable();
    attempt(`${label}: getter shrinks the memory an earlier buffer_length measured`, () =>
      lengths.symbols.f(new Uint8Array(counted), resizingGetter(counted, 16)));
    const kept = resizable();
    attempt(`${label}: getter resizes the buffer to its own length`, () =>
      lengths.symbols.f(kept, resizingGetter(kept, 1 << 20)));
    lengths.close();
    lib.close();
  }
  {
    // What an earlier function-pointer argument points into, closed by a getter.
    const lib = dlopen(FIX, DEFS);
    const takes = linkSymbols({ f: { ptr: lib.symbols.add_ptr.ptr, args: ["function", "ptr"], returns: "u64" } });
    warm(() => takes.symbols.f(8, 8));
    const other = dlopen(FIX, DEFS);
    attempt(`${label}: getter closes the library of an earlier function argument`, () =>
      takes.symbols.f(other.symbols.add_ptr, closingGetter(other.close)));
    const cb = new JSCallback(() => 0, { args: [], returns: "i32" });
    attempt(`${label}: getter closes an earlier JSCallback`, () => takes.symbols.f(cb, closingGetter(() => cb.close())));
    const unrelated = dlopen(FIX, DEFS);
    unrelated.close();
    attempt(`${label}: a close before the call`, () => takes.symbols.f(8, { get ptr() { return 8; } }));
    takes.close();
    lib.close();
  }
}

cases("cold", () => {});
cases("hot", (call) => {
  for (let i = 0; i < HOT; i++) call();
});

// write.ptr: the value's getter detaches the target view.
{
  const target = new BigUint64Array(2);
  attempt("write.ptr: value's getter detaches the target", () => write.ptr(target, detachingGetter(target)));
  const alive = new BigUint64Array(2);
  write.ptr(alive, { get ptr() { return 0x1234; } });
  outcomes["write.ptr: harmless getter"] = { result: String(alive[0]) };
}

process.stdout.write(JSON.stringify(outcomes));
