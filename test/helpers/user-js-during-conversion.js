"use strict";
// Issue 22 item 4, run by test/bad-input.test.js once per engine
// (CFFI_BUN_ENGINE is read when the addon loads, so each engine needs its own
// process): user JS that runs while a call's arguments are converted (a .ptr
// getter, a Proxy trap) closes the library or detaches a view converted
// before it. Prints one JSON object: case name -> the error's constructor
// and message, or { result } when the call went through.
const { dlopen, linkSymbols, write } = require("../..");
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
