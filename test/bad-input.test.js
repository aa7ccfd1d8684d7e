"use strict";
// Issue 8: the wrong things a user will do, for every export. Each must give
// a clear exception (TypeError / RangeError / Error) whose message names the
// problem, and the process must stay usable afterwards: every case is
// followed by a real FFI call that must still return the right answer.
const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const v8 = require("node:v8");
const vm = require("node:vm");
const ffi = require("..");
const {
  dlopen, ptr, read, write, toArrayBuffer, toBuffer, CString, CFunction, JSCallback, linkSymbols,
  viewSource, cc, FFIType, errno,
} = ffi;
const { fixturePath } = require("./helpers/fixture");
const { LIBC, isLinux, isWindows, libraryMapped, timeScale } = require("./helpers/platform.js");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

const FIX = fixturePath();
let lib;
let S;

before(() => {
  lib = dlopen(FIX, {
    add_i32: { args: ["i32", "i32"], returns: "i32" },
    identity_ptr: { args: ["ptr"], returns: "ptr" },
    is_null: { args: ["ptr"], returns: "i32" },
    sum_bytes: { args: ["ptr", "i32"], returns: "i32" },
    my_strlen: { args: ["cstring"], returns: "i64_fast" },
    call_i32_fn: { args: ["function", "i32"], returns: "i32" },
    identity_u64: { args: ["u64"], returns: "u64" },
    identity_f64: { args: ["f64"], returns: "f64" },
    identity_f32: { args: ["f32"], returns: "f32" },
    hello_string: { returns: "ptr" },
    count_dealloc: { args: ["ptr", "ptr"] },
  });
  S = { ...lib.symbols };
  // sum_bytes again, with its pointer typed as `buffer`.
  S.sum_buffer = linkSymbols({ sum_buffer: { ptr: S.sum_bytes.ptr, args: ["buffer", "i32"], returns: "i32" } }).symbols.sum_buffer;
});
after(() => lib.close());

// The process is still usable: a real call still gives the right answer.
function usable() {
  assert.equal(S.add_i32(40, 2), 42);
  assert.equal(S.my_strlen("four"), 4);
}

// fn() must throw an instance of `type` whose message matches every pattern.
function rejects(fn, type, ...patterns) {
  let error;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected a ${type.name}, but nothing was thrown`);
  assert.ok(error instanceof type, `expected a ${type.name}, got ${error && error.constructor && error.constructor.name}: ${error && error.message}`);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0, "the message is not empty");
  for (const pattern of patterns) assert.match(error.message, pattern);
  usable();
  return error;
}

function revokedProxy(target = {}) {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

function detachedBuffer(size = 16) {
  const ab = new ArrayBuffer(size);
  structuredClone(ab, { transfer: [ab] });
  assert.equal(ab.byteLength, 0, "the ArrayBuffer is detached");
  return ab;
}

// A view whose ArrayBuffer has been transferred away.
function detachedView(size = 16) {
  const ab = new ArrayBuffer(size);
  const view = new Uint8Array(ab);
  structuredClone(ab, { transfer: [ab] });
  return view;
}

const REVOKED = /revoked/;

describe("dlopen: arguments", () => {
  test("wrong argument counts", () => {
    rejects(() => dlopen(), TypeError, /dlopen path must be a string, received undefined/);
    rejects(() => dlopen(FIX), TypeError, /Expected an options object with symbol names \(an object of symbol definitions\), received undefined/);
  });

  test("the path of the wrong kind", () => {
    const defs = { add_i32: { args: ["i32", "i32"], returns: "i32" } };
    rejects(() => dlopen(42, defs), TypeError, /path must be a string, received a number/);
    rejects(() => dlopen(undefined, defs), TypeError, /path must be a string, received undefined/);
    rejects(() => dlopen(null, defs), TypeError, /path must be a string, received null/);
    rejects(() => dlopen(Symbol("x"), defs), TypeError, /path must be a string, received a Symbol/);
    rejects(() => dlopen({}, defs), TypeError, /path must be a string, received an object/);
    rejects(() => dlopen(revokedProxy(), defs), TypeError, REVOKED);
  });

  test("paths that are not libraries", () => {
    const defs = { f: { returns: "i32" } };
    rejects(() => dlopen("/nonexistent/libnope.so", defs), Error, /Failed to open library "\/nonexistent\/libnope.so"/, /No such file/);
    rejects(() => dlopen("libnope-cffi-bun.so", defs), Error, /Failed to open library "libnope-cffi-bun.so"/);
    // A file that is not a library, and a directory: Windows's words, with its error number.
    const text = isWindows ? __filename : "/etc/passwd";
    const escape = (s) => s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
    rejects(() => dlopen(text, defs), Error, new RegExp(`Failed to open library "${escape(text)}"`),
      ...(isWindows ? [/not a valid Win32 application|Windows error \d+/] : []));
    const dir = isWindows ? require("node:os").tmpdir() : "/tmp";
    rejects(() => dlopen(dir, defs), Error, new RegExp(`Failed to open library "${escape(dir)}"`), ...(isWindows ? [/Is a directory/] : []));
  });

  test("definitions of the wrong kind", () => {
    rejects(() => dlopen(FIX, undefined), TypeError, /Expected an options object with symbol names \(an object of symbol definitions\), received undefined/);
    rejects(() => dlopen(FIX, null), TypeError, /Expected an options object with symbol names \(an object of symbol definitions\), received null/);
    rejects(() => dlopen(FIX, "add_i32"), TypeError, /received a string/);
    rejects(() => dlopen(FIX, ["add_i32"]), TypeError, /received an array/);
    rejects(() => dlopen(FIX, 7), TypeError, /received a number/);
    rejects(() => dlopen(FIX, {}), TypeError, /Expected at least one symbol/);
    rejects(() => dlopen(FIX, revokedProxy()), TypeError, REVOKED);
  });

  test("embedded NUL characters do not truncate names", () => {
    // C stops at a NUL: these used to open libc / bind "add_i32" / accept "i32".
    rejects(() => dlopen(`${LIBC}\0junk`, { abs: { args: ["i32"], returns: "i32" } }), TypeError, /dlopen path must not contain a NUL character/);
    rejects(() => dlopen(FIX, { "add_i32\0junk": { args: ["i32", "i32"], returns: "i32" } }), TypeError, /symbol name must not contain a NUL character/);
    rejects(() => dlopen(FIX, { add_i32: { args: ["i32\0junk", "i32"], returns: "i32" } }), TypeError, /Unknown type "i32" in args\[0\]/);
  });

  test("a symbol the library does not have", () => {
    rejects(() => dlopen(FIX, { no_such_symbol: { returns: "i32" } }), Error, /Symbol "no_such_symbol" not found/);
  });
});

// Shared by dlopen, linkSymbols, CFunction, JSCallback and viewSource.
const MALFORMED = [
  ["a string", "i32", /Expected an object for key "f": the definition of symbol "f" must be an object/, /received a string/],
  ["an array", ["i32"], /must be an object/, /received an array/],
  ["null", null, /must be an object/, /received null/],
  ["a number", 5, /must be an object/, /received a number/],
  ["args not an array (string)", { args: "i32" }, /"args" of symbol "f" must be an array of types, received a string/],
  ["args not an array (object)", { args: { 0: "i32", length: 1 } }, /"args" of symbol "f" must be an array/, /received an object/],
  ["args not an array (number)", { args: 1 }, /"args" of symbol "f" must be an array/],
  ["returns an object", { returns: {} }, /Type in returns of symbol "f" must be an FFIType number or name, received an object/],
  ["returns an array", { returns: ["i32"] }, /Type in returns of symbol "f"/, /received an array/],
  ["returns a boolean", { returns: true }, /Type in returns/, /received a boolean/],
  ["an unknown type name", { args: ["i33"] }, /Unknown type "i33" in args\[0\] of symbol "f"/],
  ["an unknown return name", { returns: "integer" }, /Unknown type "integer" in returns of symbol "f"/],
  ["an empty type name", { args: [""] }, /Unknown type "" in args\[0\]/],
  ["a very long type name", { args: ["x".repeat(10000)] }, /Unknown type/, /args\[0\]/],
  ["a numeric type above the enum", { args: [24] }, /Unknown type 24 in args\[0\] of symbol "f" \(FFIType values are 0 to 23\)/],
  ["a numeric type far above the enum", { returns: 1e9 }, /Unknown type 1e\+09 in returns/],
  ["a negative numeric type", { args: [-1] }, /Unknown type -1 in args\[0\]/],
  ["a fractional numeric type", { args: [1.5] }, /Unknown type 1.5 in args\[0\]/],
  ["NaN as a type", { args: [NaN] }, /Unknown type nan in args\[0\]/i],
  ["a numeric string above the enum", { args: ["24"] }, /Unknown type "24" in args\[0\]/],
  ["a Symbol as a type", { args: [Symbol("i32")] }, /Type in args\[0\] of symbol "f" must be an FFIType number or name, received a Symbol/],
  ["undefined in args (a hole)", { args: ["i32", , "i32"] }, /Type in args\[1\] of symbol "f"/, /received undefined/], // eslint-disable-line no-sparse-arrays
  ["null in args", { args: [null] }, /Type in args\[0\]/, /received null/],
  ["void as an argument", { args: ["void"] }, /void is not a valid argument type \(args\[0\] of symbol "f"\)/],
  ["napi_env as a return", { returns: "napi_env" }, /napi_env is not a valid return type/],
  ["65 arguments", { args: new Array(65).fill("i32") }, /has 65 arguments; at most 64/],
  ["an unknown abi", { abi: "pascal" }, /Unknown ABI "pascal"/],
  ["an abi of the wrong kind", { abi: 1 }, /"abi" of symbol "f" must be a string/],
  ["a revoked Proxy as the definition", revokedProxy(), REVOKED],
  ["a revoked Proxy as args", { args: revokedProxy([]) }, /"args" of symbol "f" must be an array/],
  ["a revoked Proxy as returns", { returns: revokedProxy() }, /Type in returns/],
];

describe("malformed definitions", () => {
  for (const [what, definition, ...patterns] of MALFORMED) {
    const type = patterns.some((p) => p.source.includes("at most")) ? RangeError : TypeError;
    test(`dlopen: ${what}`, () => {
      rejects(() => dlopen(FIX, { f: definition }), type, ...patterns);
    });
    test(`linkSymbols: ${what}`, () => {
      rejects(() => linkSymbols({ f: definition }), type, ...patterns);
    });
    test(`viewSource: ${what}`, () => {
      rejects(() => viewSource({ f: definition }), type, ...patterns);
    });
    test(`JSCallback: ${what}`, () => {
      // JSCallback names its definition "JSCallback" in messages.
      // A definition that is not an object at all is refused in Bun's words.
      const adjusted = patterns.map((p) => new RegExp(p.source
        .replace('Expected an object for key "f": the definition of symbol "f"', "Expected object: the JSCallback definition")
        .replaceAll('symbol "f"', 'symbol "JSCallback"'), p.flags));
      rejects(() => new JSCallback(() => 0, definition), type, ...adjusted);
    });
  }

  test("a definition with a throwing getter", () => {
    const definition = {
      get args() {
        throw new Error("getter says no");
      },
    };
    rejects(() => dlopen(FIX, { add_i32: definition }), Error, /getter says no/);
    rejects(() => new JSCallback(() => 0, definition), Error, /getter says no/);
  });

  test("Symbol-keyed definitions are ignored; only they: no symbols", () => {
    rejects(() => dlopen(FIX, { [Symbol("add_i32")]: { returns: "i32" } }), TypeError, /Expected at least one symbol/);
  });
});

describe("calls: wrong argument counts and kinds", () => {
  test("missing arguments", () => {
    rejects(() => S.add_i32(), TypeError, /add_i32: args\[0\] \(i32\) is missing: expected 2 arguments, received 0/);
    rejects(() => S.add_i32(1), TypeError, /add_i32: args\[1\] \(i32\) is missing: expected 2 arguments, received 1/);
    rejects(() => S.identity_ptr(), TypeError, /identity_ptr: args\[0\] \(ptr\) is missing/);
  });

  test("extra arguments are ignored, as in Bun", () => {
    assert.equal(S.add_i32(1, 2, 3, 4), 3);
  });

  const numbers = [
    ["a string", "5", /received a string/],
    ["a Symbol", Symbol("n"), /received a Symbol/],
    ["undefined", undefined, /received undefined/],
    ["null", null, /received null/],
    ["an object", {}, /received an object/],
    ["an array", [1], /received an array/],
    ["a function", () => 1, /received a function/],
    ["a revoked Proxy", revokedProxy(), /received an object/],
  ];
  for (const [what, value, pattern] of numbers) {
    test(`${what} for a number`, () => {
      rejects(() => S.add_i32(value, 1), TypeError, /add_i32: args\[0\] expects i32/, pattern);
      rejects(() => S.add_i32(1, value), TypeError, /add_i32: args\[1\] expects i32/, pattern);
      rejects(() => S.identity_f64(value), TypeError, /identity_f64: args\[0\] expects f64/, pattern);
      if (what !== "undefined" && what !== "null") {
        rejects(() => S.identity_u64(value), TypeError, /identity_u64: args\[0\] expects u64/, pattern);
      }
    });
  }

  const pointers = [
    ["a string", "0x1000", /received a string/],
    ["a Symbol", Symbol("p"), /received a Symbol/],
    ["a boolean", true, /received a boolean/],
    ["an empty object", {}, /received an object/],
    ["an object with a string .ptr", { ptr: "123" }, /received an object/],
    ["a negative fraction", -1.5, /not a valid address/],
    ["a number below -2^63", -(2 ** 64), /not a valid address/],
    ["a BigInt below -2^63", -(2n ** 63n) - 1n, /not a valid address/],
    ["a BigInt of 2^64", 2n ** 64n, /not a valid address/],
    ["a fractional number", 1.5, /not a valid address/],
    ["NaN", NaN, /not a valid address/],
    ["Infinity", Infinity, /not a valid address/],
    ["2^64", 2 ** 64, /not a valid address/],
    ["a function", () => 1, /received a function/],
  ];
  for (const [what, value, pattern] of pointers) {
    test(`${what} for a pointer`, () => {
      rejects(() => S.identity_ptr(value), TypeError, /identity_ptr: args\[0\] expects ptr/, pattern);
      rejects(() => S.sum_bytes(value, 0), TypeError, /sum_bytes: args\[0\] expects ptr/, pattern);
      rejects(() => S.call_i32_fn(value, 0), TypeError, /call_i32_fn: args\[0\] expects function/, pattern);
    });
  }

  test("a revoked Proxy for a pointer or a cstring", () => {
    rejects(() => S.identity_ptr(revokedProxy()), TypeError, REVOKED);
    rejects(() => S.my_strlen(revokedProxy()), TypeError, REVOKED);
  });

  test("wrong kinds for a cstring", () => {
    rejects(() => S.my_strlen(Symbol("s")), TypeError, /my_strlen: args\[0\] expects cstring/, /received a Symbol/);
    rejects(() => S.my_strlen({}), TypeError, /my_strlen: args\[0\] expects cstring/, /received an object/);
    rejects(() => S.my_strlen(-5.5), TypeError, /my_strlen: args\[0\] expects cstring/, /not a valid address/);
  });

  test("wrong kinds for a buffer", () => {
    rejects(() => S.sum_buffer(0, 0), TypeError, /sum_buffer: args\[0\] expects buffer/, /received a number/);
    rejects(() => S.sum_buffer(new ArrayBuffer(4), 0), TypeError, /sum_buffer: args\[0\] expects buffer/, /received an ArrayBuffer/);
    rejects(() => S.sum_buffer("abc", 0), TypeError, /received a string/);
  });

  test("NULL passed where C accepts it is passed through", () => {
    assert.equal(S.is_null(0), 1);
    assert.equal(S.is_null(0n), 1);
    assert.equal(S.is_null(null), 1);
    assert.equal(S.my_strlen(null), -1);
    assert.equal(S.call_i32_fn(null, 5), -1, "a NULL function pointer is a legitimate value for C");
  });

  test("a huge string argument is copied, not truncated", () => {
    assert.equal(S.my_strlen("x".repeat(5_000_000)), 5_000_000);
  });
});

describe("detached ArrayBuffers", () => {
  // A transferred buffer has no memory: its data pointer is NULL. Passing it
  // used to hand C a NULL pointer (and C crashed writing through it).
  const DETACHED = /detached \(transferred\)/;

  test("as a pointer, buffer or cstring argument", () => {
    rejects(() => S.sum_bytes(detachedView(), 16), TypeError, /sum_bytes: args\[0\] expects ptr/, DETACHED);
    rejects(() => S.sum_bytes(detachedBuffer(), 16), TypeError, /sum_bytes: args\[0\] expects ptr/, DETACHED);
    const ab = new ArrayBuffer(8);
    const dv = new DataView(ab);
    structuredClone(ab, { transfer: [ab] });
    rejects(() => S.sum_bytes(dv, 16), TypeError, DETACHED);
    rejects(() => S.sum_buffer(dv, 16), TypeError, DETACHED);
    rejects(() => S.sum_buffer(detachedView(), 16), TypeError, /sum_buffer: args\[0\] expects buffer/, DETACHED);
    rejects(() => S.my_strlen(detachedView()), TypeError, /my_strlen: args\[0\] expects cstring/, DETACHED);
    rejects(() => S.identity_ptr(detachedBuffer(64)), TypeError, DETACHED);
  });

  test("to ptr(), read.*, write.*", () => {
    rejects(() => ptr(detachedBuffer()), TypeError, /ptr\(\): the ArrayBuffer is detached \(transferred\); it has no address/);
    rejects(() => ptr(detachedView()), TypeError, /ptr\(\): the ArrayBuffer is detached/);
    rejects(() => read.u8(detachedView()), TypeError, /read\.u8: the view's ArrayBuffer is detached/);
    rejects(() => write.u32(detachedView(), 1), TypeError, /write\.u32: the view's ArrayBuffer is detached/);
  });

  test("empty but attached views are still fine", () => {
    assert.equal(S.sum_bytes(new Uint8Array(0), 0), 0);
    assert.equal(S.sum_bytes(new ArrayBuffer(0), 0), 0);
    assert.equal(typeof (ptr(new Uint8Array(16)) ?? 0), "number");
  });
});

describe("a closed library", () => {
  test("calling its functions throws and names the library", () => {
    const closing = dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    const { add_i32 } = closing.symbols;
    assert.equal(add_i32(1, 2), 3);
    closing.close();
    closing.close();
    rejects(() => add_i32(1, 2), Error, /Cannot call "add_i32": its library ".*fixture.*" is closed/);
    rejects(() => add_i32(), Error, /is closed/);
  });

  test("closing the library from a callback while its C code is on the stack", async () => {
    // close() used to unmap the library at once, so call_i32_fn returned
    // into unmapped memory (SIGSEGV). Now the unload waits for the stack.
    const fs = require("node:fs");
    const os = require("node:os");
    const path = require("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-closing-"));
    const copy = path.join(dir, "libclosing.so");
    fs.copyFileSync(FIX, copy);
    const mine = dlopen(copy, {
      call_i32_fn: { args: ["function", "i32"], returns: "i32" },
      add_i32: { args: ["i32", "i32"], returns: "i32" },
    });
    const cb = new JSCallback((x) => {
      mine.close();
      return x * 3;
    }, { args: ["i32"], returns: "i32" });
    assert.equal(mine.symbols.call_i32_fn(cb, 14), 42);
    rejects(() => mine.symbols.add_i32(1, 2), Error, /Cannot call "add_i32": its library ".*libclosing.so" is closed/);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    if (libraryMapped(copy) !== null) assert.equal(libraryMapped(copy), false, "unloaded once the call returned");
    cb.close();
    fs.rmSync(dir, { recursive: true, force: true });
    usable();
  });

  // A synchronous global setImmediate used to unmap the library while
  // call_i32_fn was still on the stack (SIGSEGV): installed after load,
  // until the addon captured Node's at load; installed before the first
  // require, until the shim handed over node:timers' own.
  for (const when of ["after", "before"]) {
    test(`closing from a callback waits for Node's setImmediate, not a replacement installed ${when} load that runs at once`, () => {
      const { spawnSync } = require("node:child_process");
      const fake = "globalThis.setImmediate = (fn, ...args) => { fn(...args); return { unref() {} }; };";
      const script = `
        const fs = require("node:fs"), os = require("node:os"), path = require("node:path");
        const real = globalThis.setImmediate;
        ${when === "before" ? fake : ""}
        const { dlopen, JSCallback } = require(${JSON.stringify(require.resolve(".."))});
        const { libraryMapped } = require(${JSON.stringify(require.resolve("./helpers/platform.js"))});
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-sync-immediate-"));
        const copy = path.join(dir, "libclosing.so");
        fs.copyFileSync(${JSON.stringify(FIX)}, copy);
        const mine = dlopen(copy, { call_i32_fn: { args: ["function", "i32"], returns: "i32" } });
        const cb = new JSCallback((x) => { mine.close(); return x * 3; }, { args: ["i32"], returns: "i32" });
        ${when === "after" ? fake : ""}
        const result = mine.symbols.call_i32_fn(cb, 14);
        globalThis.setImmediate = real;
        const mappedAfterCall = libraryMapped(copy);
        real(() => {
          const mappedLater = libraryMapped(copy);
          fs.rmSync(dir, { recursive: true, force: true });
          console.log(JSON.stringify({ result, mappedAfterCall, mappedLater }));
        });`;
      const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: timeScale(60_000) });
      assert.equal(run.status, 0, `the script failed (signal ${run.signal}): ${run.stderr}`);
      const mapped = libraryMapped(FIX) === null ? { mappedAfterCall: null, mappedLater: null } : { mappedAfterCall: true, mappedLater: false };
      assert.deepEqual(JSON.parse(run.stdout), { result: 42, ...mapped });
    });
  }

  test("closing a linkSymbols result or a CFunction disables it", () => {
    const linked = linkSymbols({ add: { ptr: S.add_i32.ptr, args: ["i32", "i32"], returns: "i32" } });
    assert.equal(linked.symbols.add(2, 3), 5);
    linked.close();
    rejects(() => linked.symbols.add(2, 3), Error, /Cannot call "add": its linkSymbols result/, /closed/);
    const fn = CFunction({ ptr: S.add_i32.ptr, args: ["i32", "i32"], returns: "i32" });
    assert.equal(fn(3, 4), 7);
    fn.close();
    rejects(() => fn(3, 4), Error, /is closed/);
  });
});

describe("ptr()", () => {
  test("wrong argument counts and kinds", () => {
    rejects(() => ptr(), TypeError, /ptr\(\) expects a TypedArray, ArrayBuffer, SharedArrayBuffer or DataView, received nothing/);
    for (const [value, kind] of [
      [0, "a number"], ["abc", "a string"], [Symbol(), "a Symbol"], [undefined, "undefined"], [null, "null"],
      [{}, "an object"], [[1, 2], "an array"], [123n, "a BigInt"],
    ]) {
      rejects(() => ptr(value), TypeError, new RegExp(`ptr\\(\\) expects a TypedArray, ArrayBuffer, SharedArrayBuffer or DataView, received ${kind}`));
    }
    rejects(() => ptr(revokedProxy()), TypeError, /received an object/);
  });

  test("out-of-range and malformed byte offsets", () => {
    const u8 = new Uint8Array(16);
    rejects(() => ptr(u8, -1), RangeError, /ptr\(\): byteOffset -1 is outside the 16-byte view/);
    rejects(() => ptr(u8, 17), RangeError, /byteOffset 17 is outside the 16-byte view/);
    rejects(() => ptr(u8, 2 ** 53), RangeError, /byteOffset must be an integer/);
    rejects(() => ptr(u8, 1.5), RangeError, /byteOffset must be an integer, received 1.5/);
    rejects(() => ptr(u8, NaN), RangeError, /byteOffset must be an integer/);
    rejects(() => ptr(u8, Infinity), RangeError, /byteOffset must be an integer/);
    rejects(() => ptr(u8, "1"), TypeError, /byteOffset must be an integer, received a string/);
    rejects(() => ptr(u8, Symbol()), TypeError, /received a Symbol/);
    rejects(() => ptr(u8, {}), TypeError, /received an object/);
    assert.equal(ptr(u8, 16), ptr(u8) + 16, "one past the end is a valid pointer");
  });
});

describe("read.* and write.*", () => {
  // The wide string readers and writers have tests of their own (test/wide-strings.test.js).
  const names = Object.keys(read).filter((name) => name !== "cstring16" && name !== "wstring");

  test("every accessor exists on both", () => {
    assert.deepEqual(Object.keys(write).sort(), Object.keys(read).sort());
    assert.ok(names.length >= 12);
  });

  for (const name of names) {
    test(`read.${name}: arguments`, () => {
      rejects(() => read[name](), TypeError, new RegExp(`read\\.${name}\\(ptr, byteOffset\\?\\) expects a pointer`));
      for (const nil of [0, 0n, null, undefined]) {
        rejects(() => read[name](nil), TypeError, new RegExp(`read\\.${name}: refusing to access address 0x0 \\(a NULL pointer\\)`));
      }
      rejects(() => read[name](0, 8), TypeError, /refusing to access address 0x8 \(a NULL pointer plus an offset\)/);
      rejects(() => read[name]("0x1000"), TypeError, new RegExp(`read\\.${name} expects a pointer`), /received a string/);
      rejects(() => read[name](Symbol()), TypeError, /received a Symbol/);
      rejects(() => read[name]({}), TypeError, /received an object/);
      rejects(() => read[name](-4096), TypeError, /not a valid address/);
      rejects(() => read[name](1.5), TypeError, /not a valid address/);
      rejects(() => read[name](revokedProxy()), TypeError, REVOKED);
      const view = new Uint8Array(16);
      rejects(() => read[name](view, 16), RangeError, /at offset 16 is outside the 16-byte view/);
      rejects(() => read[name](view, -1), RangeError, /at offset -1 is outside the 16-byte view/);
      rejects(() => read[name](view, 2 ** 40), RangeError, /outside the 16-byte view/);
      // A fraction truncates toward zero, as in Bun 1.4.5 (read.u8(p, 2.9999)
      // read offset 2, read.u8(p + 4, -1.5) offset -1); NaN, the infinities
      // and values past 2^53 are refused (Bun: "byteOffset must be a finite
      // number"; read.u8(p, 1e300) was a segmentation fault in Bun).
      view.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
      assert.deepEqual([read[name](view, 0.5), read[name](view, 8.99)], [read[name](view, 0), read[name](view, 8)]);
      rejects(() => read[name](view, 16.5), RangeError, /at offset 16 is outside the 16-byte view/);
      rejects(() => read[name](view, NaN), RangeError, /byteOffset must be an integer, received NaN/);
      rejects(() => read[name](view, -Infinity), RangeError, /byteOffset must be an integer, received -Infinity/);
      rejects(() => read[name](view, 1e300), RangeError, /byteOffset must be an integer, received 1e\+300/);
      rejects(() => read[name](view, "1"), TypeError, /byteOffset must be an integer, received a string/);
      rejects(() => read[name](ptr(view), Symbol()), TypeError, /byteOffset must be an integer, received a Symbol/);
    });

    test(`write.${name}: arguments`, () => {
      const view = new Uint8Array(16);
      const value = name.endsWith("64") ? 1n : 1;
      rejects(() => write[name](), TypeError, new RegExp(`write\\.${name}\\(target, value, byteOffset\\?\\) expects 2 arguments, received 0`));
      rejects(() => write[name](view), TypeError, /expects 2 arguments, received 1/);
      for (const nil of [0, 0n, null, undefined]) {
        rejects(() => write[name](nil, value), TypeError, new RegExp(`write\\.${name}: refusing to access address 0x0 \\(a NULL pointer\\)`));
      }
      rejects(() => write[name]("0x1000", value), TypeError, /received a string/);
      rejects(() => write[name](revokedProxy(), value), TypeError, REVOKED);
      rejects(() => write[name](view, Symbol()), TypeError, new RegExp(`write\\.${name}: args\\[1\\] expects`), /received a Symbol/);
      rejects(() => write[name](view, "1"), TypeError, /received a string/);
      rejects(() => write[name](view, value, 16), RangeError, /at offset 16 is outside the 16-byte view/);
      rejects(() => write[name](view, value, -1), RangeError, /outside the 16-byte view/);
      rejects(() => write[name](view, value, 2 ** 53), RangeError, /byteOffset must be an integer/);
      rejects(() => write[name](view, value, "2"), TypeError, /byteOffset must be an integer, received a string/);
      assert.deepEqual([...view], new Array(16).fill(0), "nothing was written by a failed write");
    });
  }
});

describe("toArrayBuffer and toBuffer", () => {
  for (const [name, fn] of [["toArrayBuffer", toArrayBuffer], ["toBuffer", toBuffer]]) {
    test(`${name}: NULL and wrong kinds`, () => {
      rejects(() => fn(), TypeError, new RegExp(`${name}\\(ptr, byteOffset\\?, byteLength\\?\\) expects a pointer`));
      for (const nil of [0, 0n, null, undefined]) {
        rejects(() => fn(nil), TypeError, new RegExp(`${name}: refusing to wrap address 0x0 \\(a NULL pointer\\)`));
        rejects(() => fn(nil, 0, 8), TypeError, /refusing to wrap address 0x0/);
      }
      rejects(() => fn("12345"), TypeError, new RegExp(`${name} expects a pointer`), /received a string/);
      rejects(() => fn(Symbol()), TypeError, /received a Symbol/);
      rejects(() => fn({}), TypeError, /received an object/);
      rejects(() => fn(new Uint8Array(4)), TypeError, /received a TypedArray/);
      rejects(() => fn(-1), TypeError, /not a valid address/);
      rejects(() => fn(revokedProxy()), TypeError, REVOKED);
    });

    test(`${name}: out-of-range offsets and lengths`, () => {
      const p = S.hello_string();
      rejects(() => fn(p, 0, -1), RangeError, new RegExp(`${name}: byteLength must not be negative, received -1`));
      // Fractions truncate toward zero, as in Bun 1.4.5 (toBuffer(p, 1.5, 3) and
      // toArrayBuffer(p, 0, 2.5) gave 3 and 2 bytes).
      assert.equal(fn(p, 0, 1.5).byteLength, 1);
      assert.equal(Buffer.from(fn(p, 1.9, 4)).toString(), "ello");
      rejects(() => fn(p, 0, NaN), RangeError, /byteLength must be an integer, received NaN/);
      rejects(() => fn(p, 0, "4"), TypeError, /byteLength must be an integer, received a string/);
      rejects(() => fn(p, Infinity, 4), RangeError, /byteOffset must be an integer, received Infinity/);
      rejects(() => fn(p, Symbol(), 4), TypeError, /byteOffset must be an integer, received a Symbol/);
      rejects(() => fn(p, 0, 2 ** 53 - 1), Error, /larger than/);
      // An offset that lands in the NULL page (this used to read or wrap address 0).
      rejects(() => fn(p, -p), RangeError, new RegExp(`${name}: byteOffset -${p} moves address 0x${p.toString(16)} to 0x0, which is not valid memory`));
      rejects(() => fn(p, -p + 16, 4), RangeError, /to 0x10, which is not valid memory/);
      rejects(() => fn(p, -(2 ** 52)), RangeError, /which is not valid memory/);
      assert.equal(Buffer.from(fn(p, 7, 5)).toString(), "world");
    });

    test(`${name}: a deallocator of the wrong kind`, () => {
      const p = S.hello_string();
      rejects(() => fn(p, 0, 4, "free"), TypeError, new RegExp(`${name}: the deallocator expects a pointer`), /received a string/);
      rejects(() => fn(p, 0, 4, {}), TypeError, /the deallocator expects a pointer/, /received an object/);
      rejects(() => fn(p, 0, 4, () => {}), TypeError, /the deallocator expects a pointer/, /received a function/);
      rejects(() => fn(p, 0, 4, -1), TypeError, /the deallocator expects a pointer/, /not a valid address/);
      rejects(() => fn(p, 0, 4, Symbol(), S.count_dealloc.ptr), TypeError, /the deallocator's context expects a pointer/, /received a Symbol/);
      // Not code: it would only fault later, inside some garbage collection.
      rejects(() => fn(p, 0, 4, 5), TypeError, new RegExp(`${name}: the deallocator 0x5 is not a function pointer \\(it is in the NULL page\\)`));
      rejects(() => fn(p, 0, 4, 0, 4095n), TypeError, /the deallocator 0xfff is not a function pointer/);
      gc();
    });
  }
});

describe("CString", () => {
  test("NULL gives an empty string, as in Bun", () => {
    for (const nil of [0, 0n, null, undefined]) {
      const s = new CString(nil);
      assert.equal(String(s), "");
      assert.equal(s.length, 0);
    }
    usable();
  });

  test("wrong kinds", () => {
    rejects(() => new CString("hello"), TypeError, /CString expects a pointer/, /received a string/);
    rejects(() => new CString(Symbol()), TypeError, /received a Symbol/);
    rejects(() => new CString({}), TypeError, /received an object/);
    rejects(() => new CString(-1), TypeError, /not a valid address/);
    rejects(() => new CString(8), TypeError, /CString: refusing to access address 0x8/);
    rejects(() => new CString(revokedProxy()), TypeError, REVOKED);
  });

  test("out-of-range offsets and lengths", () => {
    const p = S.hello_string();
    rejects(() => new CString(p, -p), TypeError, /refusing to access address 0x0/);
    rejects(() => new CString(p, 0, -1), RangeError, /CString: byteLength must not be negative, received -1/);
    // The offset truncates toward zero, as in Bun 1.4.5; the length does not
    // (docs/differences.md).
    assert.equal(String(new CString(p, 1.5)), "ello, world");
    assert.equal(String(new CString(p, NaN)), "hello, world", "NaN || 0, as in Bun");
    rejects(() => new CString(p, Infinity), RangeError, /byteOffset must be an integer, received Infinity/);
    rejects(() => new CString(p, "1"), TypeError, /byteOffset must be an integer, received a string/);
    // Longer than any JS string: refused before a byte is read (it used to give "undefined").
    rejects(() => new CString(p, 0, 2 ** 31), RangeError, /CString: 2147483648 bytes is more than a JS string can hold/);
    rejects(() => new CString(p, 0, 2 ** 40), RangeError, /more than a JS string can hold/);
    assert.equal(String(new CString(p, 7)), "world");
    assert.equal(String(new CString(p, 0, 5)), "hello");
  });
});

describe("JSCallback", () => {
  test("wrong kinds for the function", () => {
    for (const [value, kind] of [[undefined, "undefined"], [null, "null"], [1, "a number"], ["f", "a string"], [{}, "an object"], [Symbol(), "a Symbol"]]) {
      rejects(() => new JSCallback(value, { returns: "i32" }), TypeError, new RegExp(`JSCallback expects a function as its first argument, received ${kind}`));
    }
    rejects(() => new JSCallback(), TypeError, /JSCallback expects a function/);
    rejects(() => JSCallback(() => 0, {}), TypeError, /without 'new'/);
  });

  test("napi_env is refused as a callback argument", () => {
    rejects(() => new JSCallback(() => 0, { args: ["napi_env"] }), TypeError, /napi_env is not a valid callback argument type/);
  });

  test("a closed JSCallback where a function pointer is expected is a TypeError, not NULL", () => {
    // Decision: C would get NULL (or worse, freed code) from a closed callback.
    // A NULL function pointer must be asked for explicitly (null / 0).
    const cb = new JSCallback((x) => x + 1, { args: ["i32"], returns: "i32" });
    assert.equal(S.call_i32_fn(cb, 1), 2);
    cb.close();
    const CLOSED = /received an object whose \.ptr is null \(a closed JSCallback\?\)/;
    rejects(() => S.call_i32_fn(cb, 1), TypeError, /call_i32_fn: args\[0\] expects function/, CLOSED);
    rejects(() => S.identity_ptr(cb), TypeError, /identity_ptr: args\[0\] expects ptr/, CLOSED);
    rejects(() => toArrayBuffer(S.hello_string(), 0, 4, cb), TypeError, /toArrayBuffer: the deallocator expects a pointer/, CLOSED);
    rejects(() => CFunction({ ptr: cb, args: ["i32"], returns: "i32" }), TypeError, /"ptr" of symbol "CFunction\d+" expects a pointer/, CLOSED);
    rejects(() => linkSymbols({ f: { ptr: cb, returns: "i32" } }), TypeError, CLOSED);
  });

  test("a callback that closes itself while C is calling it (a one-shot callback)", () => {
    // close() used to free the closure under its own running frame: a
    // use-after-free that crashed once the memory was reused.
    for (let i = 0; i < 2000; i++) {
      const cb = new JSCallback((x) => {
        cb.close();
        return x + 1;
      }, { args: ["i32"], returns: "i32" });
      assert.equal(S.call_i32_fn(cb, i), i + 1);
      assert.equal(cb.ptr, null);
      new Array(50).fill(0).map(() => Buffer.alloc(300, 0xa5)); // reuse freed memory
    }
    // Closed in a nested call of itself: the outer call still completes.
    let depth = 0;
    const nested = new JSCallback((x) => {
      depth++;
      if (x > 0) return S.call_i32_fn(nested, x - 1) + 1;
      nested.close();
      return 100;
    }, { args: ["i32"], returns: "i32" });
    assert.equal(S.call_i32_fn(nested, 3), 103);
    assert.equal(depth, 4);
    usable();
  });

  test("close() is idempotent and leaves .ptr null", () => {
    const cb = new JSCallback((x) => x * 2, { args: ["i32"], returns: "i32" });
    assert.equal(S.call_i32_fn(cb, 21), 42);
    cb.close();
    cb.close();
    assert.equal(cb.ptr, null);
    usable();
  });
});

describe("CFunction and linkSymbols", () => {
  test("wrong argument counts and kinds", () => {
    rejects(() => CFunction(), TypeError, /CFunction expects a definition object like \{ ptr, args, returns \}/);
    rejects(() => CFunction(null), TypeError, /CFunction expects a definition object/);
    rejects(() => CFunction("add_i32"), TypeError, /CFunction expects a definition object/);
    rejects(() => CFunction({ ptr: "0x1000", returns: "i32" }), TypeError, /"ptr" of symbol "CFunction\d+" expects a pointer/, /received a string/);
    rejects(() => CFunction({ ptr: {}, returns: "i32" }), TypeError, /"ptr" of symbol/, /received an object/);
    rejects(() => CFunction({ ptr: Symbol(), returns: "i32" }), TypeError, /received a Symbol/);
    rejects(() => CFunction({ ptr: S.add_i32.ptr, args: "i32" }), TypeError, /"args" of symbol "CFunction\d+" must be an array/);
    rejects(() => CFunction(revokedProxy()), TypeError, REVOKED);
    rejects(() => linkSymbols(), TypeError, /Expected an options object with symbol names \(an object of symbol definitions\), received undefined/);
    rejects(() => linkSymbols(null), TypeError, /Expected an options object with symbol names \(an object of symbol definitions\), received null/);
    rejects(() => linkSymbols({}), TypeError, /Expected at least one symbol/);
    rejects(() => linkSymbols(revokedProxy()), TypeError, REVOKED);
  });

  test("function pointers in the NULL page", () => {
    rejects(() => CFunction({ ptr: 5, returns: "i32" }), TypeError, /"ptr" of symbol "CFunction\d+" is 0x5, in the NULL page: not a function pointer/);
    rejects(() => linkSymbols({ f: { ptr: 4095n, returns: "i32" } }), TypeError, /"ptr" of symbol "f" is 0xfff, in the NULL page/);
  });

  test("NULL function pointers", () => {
    for (const nil of [0, 0n, null]) {
      rejects(() => CFunction({ ptr: nil, args: ["i32"], returns: "i32" }), TypeError, /"ptr" of symbol "CFunction\d+" is NULL: a function pointer is required/);
      rejects(() => linkSymbols({ f: { ptr: nil, returns: "i32" } }), TypeError, /"ptr" of symbol "f" is NULL/);
    }
    rejects(() => CFunction({ ptr: undefined, args: ["i32"], returns: "i32" }), TypeError, /Symbol "CFunction\d+" is missing a "ptr" field/);
    rejects(() => linkSymbols({ f: { returns: "i32" } }), TypeError, /Symbol "f" is missing a "ptr" field/);
  });
});

describe("viewSource, FFIType, errno", () => {
  test("viewSource: wrong argument counts and kinds", () => {
    rejects(() => viewSource(), TypeError, /viewSource\(symbols, isCallback\?\) expects a definition/);
    rejects(() => viewSource("f"), TypeError, /viewSource expects an object of symbol definitions, received a string/);
    rejects(() => viewSource(7), TypeError, /received a number/);
    rejects(() => viewSource(null, true), TypeError, /Expected an object for key "callback": the definition of symbol "callback" must be an object/, /received null/);
    rejects(() => viewSource(revokedProxy()), TypeError, REVOKED);
    rejects(() => viewSource(revokedProxy(), true), TypeError, REVOKED);
  });

  test("viewSource of a revoked Proxy, many times (it once used an unset array length)", () => {
    for (let i = 0; i < 200; i++) rejects(() => viewSource(revokedProxy()), TypeError, REVOKED);
  });

  test("FFIType is frozen", () => {
    assert.ok(Object.isFrozen(FFIType));
    assert.throws(() => {
      "use strict";
      FFIType.i32 = 99;
    }, TypeError);
    assert.equal(FFIType.i32, 5);
    usable();
  });

  test("errno() ignores arguments", () => {
    assert.equal(typeof errno("x", {}, Symbol()), "number");
    usable();
  });
});

// Where cc() is unavailable (Windows, macOS, no TinyCC) these cases are skipped with its reason.
const ccPending = require("./helpers/platform.js").ccUnavailable();

describe("cc()", { skip: ccPending }, () => {
  const symbols = { f: { returns: "i32" } };

  test("no arguments, or a definition of the wrong kind", () => {
    rejects(() => cc(), TypeError, /cc/);
    rejects(() => cc("int f(void){return 1;}"), TypeError, /cc/);
    rejects(() => cc(null), TypeError, /cc/);
    rejects(() => cc(revokedProxy()), TypeError, REVOKED);
  });

  test("an empty source", () => {
    rejects(() => cc({ source: "", symbols }), Error, /source|empty/i);
  });

  test("a nonexistent file", () => {
    rejects(() => cc({ source: "/nonexistent/dir/nope.c", symbols }), Error, /nope\.c/);
  });

  test("a source that does not compile names the compiler's complaint", () => {
    rejects(() => cc({ source: "int f(void) { return }", symbols }), Error, /error/i);
  });

  test("a symbol the source does not define", () => {
    rejects(() => cc({ source: "int g(void) { return 1; }", symbols }), Error, /"f"/);
  });

  test("a huge source either compiles or fails cleanly", () => {
    // 200k functions, about 8 MB of C.
    const parts = [];
    for (let i = 0; i < 200_000; i++) parts.push(`int h${i}(void) { return ${i}; }`);
    parts.push("int f(void) { return 7; }");
    let result;
    try {
      result = cc({ source: parts.join("\n"), symbols });
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.ok(e.message.length > 0);
    }
    if (result) {
      assert.equal(result.symbols.f(), 7);
      result.close();
    }
    usable();
  });

  test("flags that try shell syntax are not run by a shell", () => {
    const fs = require("node:fs");
    const os = require("node:os");
    const path = require("node:path");
    const marker = path.join(os.tmpdir(), `cffi-bun-cc-pwned-${process.pid}`);
    for (const flags of [`; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``, `-DX=1 && touch ${marker}`, `| touch ${marker}`]) {
      try {
        const r = cc({ source: "int f(void) { return 1; }", symbols, flags });
        r.close();
      } catch (e) {
        assert.ok(e instanceof Error, String(e));
      }
      assert.equal(fs.existsSync(marker), false, `flags ${JSON.stringify(flags)} ran a shell command`);
      usable();
    }
    rejects(() => cc({ source: "int f(void) { return 1; }", symbols, flags: Symbol() }), TypeError, /flags/);
  });
});

// Issue 22, items 4 and 7 (the conversion half of "Safety").
describe("issue 22: user JS during argument conversion", () => {
  const { spawnSync } = require("node:child_process");
  const path = require("node:path");
  const script = path.join(__dirname, "helpers", "user-js-during-conversion.js");
  const CLOSED = /^Cannot call "(add_ptr|f)": its (library ".*"|linkSymbols result "linkSymbols") was closed by JavaScript that ran while args\[1\] was converted \(a \.ptr getter or a Proxy\); nothing was called$/;
  const RESIZED = /^(add_ptr|f): args\[0\] \((ptr|buffer_length)\): its memory changed \(\d+ bytes at 0x[0-9a-f]+ when converted, \d+ bytes at (0x[0-9a-f]+|\(nil\)) now: a resizable ArrayBuffer resized\?\) by JavaScript that ran while args\[1\] was converted \(a \.ptr getter or a Proxy\); nothing was called$/;
  const CLOSED_OTHER = /^Cannot call "f": JavaScript that ran while args\[1\] was converted \(a \.ptr getter or a Proxy\) closed a library, cc\(\) result, linkSymbols\/CFunction result or JSCallback, which a function-pointer argument may point into; nothing was called$/;
  const DETACHED = /^(add_ptr|f): args\[0\] \((ptr|cstring)\): its ArrayBuffer was detached by JavaScript that ran while args\[1\] was converted \(a \.ptr getter or a Proxy\); nothing was called$/;

  // Each engine in its own process: CFFI_BUN_ENGINE is read at load.
  for (const engine of ["default", "jit", "registers", "ffi"]) {
    test(`engine ${engine}: a getter or trap that closes the library or detaches an earlier view is caught before C runs`, () => {
      const env = { ...process.env, CFFI_BUN_ENGINE: engine === "default" ? "" : engine };
      const run = spawnSync(process.execPath, [script], { env, encoding: "utf8", timeout: timeScale(60_000) });
      assert.equal(run.status, 0, `the script failed (signal ${run.signal}): ${run.stderr}`);
      const outcomes = JSON.parse(run.stdout);
      for (const phase of ["cold", "hot"]) {
        for (const kind of ["fixed Uint8Array", "length-tracking Uint8Array", "ArrayBuffer", "DataView"]) {
          const o = outcomes[`${phase}: getter shrinks the resizable ArrayBuffer of an earlier ${kind}`];
          assert.equal(o.error, "TypeError", `${phase}: ${kind}: ${JSON.stringify(o)}`);
          assert.match(o.message, RESIZED);
        }
        for (const name of ["getter grows the resizable ArrayBuffer of an earlier ArrayBuffer",
          "getter shrinks the memory an earlier buffer_length measured"]) {
          const o = outcomes[`${phase}: ${name}`];
          assert.equal(o.error, "TypeError", `${phase}: ${name}: ${JSON.stringify(o)}`);
          assert.match(o.message, RESIZED);
        }
        assert.deepEqual(outcomes[`${phase}: getter resizes the buffer to its own length`], { result: String((1 << 20) + 8) });
        for (const name of ["getter closes the library of an earlier function argument", "getter closes an earlier JSCallback"]) {
          const o = outcomes[`${phase}: ${name}`];
          assert.equal(o.error, "Error", `${phase}: ${name}: ${JSON.stringify(o)}`);
          assert.match(o.message, CLOSED_OTHER);
        }
        assert.deepEqual(outcomes[`${phase}: a close before the call`], { result: "16" });
        for (const name of ["getter closes the library", "cstring signature, getter closes the library"]) {
          const o = outcomes[`${phase}: ${name}`];
          assert.equal(o.error, "Error", `${phase}: ${name}: ${JSON.stringify(o)}`);
          assert.match(o.message, CLOSED);
        }
        for (const name of ["getter detaches an earlier view", "Proxy trap detaches an earlier view",
          "cstring signature, getter detaches an earlier view"]) {
          const o = outcomes[`${phase}: ${name}`];
          assert.equal(o.error, "TypeError", `${phase}: ${name}: ${JSON.stringify(o)}`);
          assert.match(o.message, DETACHED);
        }
        assert.deepEqual(outcomes[`${phase}: harmless getter`], { result: "16" });
        assert.deepEqual(outcomes[`${phase}: re-entrant getter`], { result: "16" });
      }
      assert.equal(outcomes["write.ptr: value's getter detaches the target"].error, "TypeError");
      assert.match(outcomes["write.ptr: value's getter detaches the target"].message, /write\.ptr: the view's ArrayBuffer is detached/);
      assert.deepEqual(outcomes["write.ptr: harmless getter"], { result: "4660" });
    });
  }

  test("the issue's reproduction: crc32 with a .ptr getter that closes libz", { skip: process.platform !== "linux" }, () => {
    let z;
    try {
      z = dlopen("libz.so.1", { crc32: { args: ["u64", "ptr", "u32"], returns: "u64" } });
    } catch {
      return; // no libz here
    }
    rejects(() => z.symbols.crc32(0, { get ptr() { z.close(); return 0; } }, 0), Error, /Cannot call "crc32": its library "libz\.so\.1" was closed by JavaScript/);
  });
});

describe("issue 22: BigInts as f64/f32, CString lengths, SharedArrayBuffer", () => {
  const F = {
    f64: (x) => S.identity_f64(x),
    f32: (x) => S.identity_f32(x),
  };

  // Beyond int64 (and uint64), ties to even, sticky bits far below the top
  // word, overflow to Infinity, both signs.
  const BIG = [
    2n ** 64n, 2n ** 64n + 1n, -(2n ** 64n), -(2n ** 64n) - 1n, 2n ** 63n, -(2n ** 63n) - 1n,
    2n ** 70n + 2n ** 17n, 2n ** 70n + 2n ** 17n + 1n, 2n ** 70n + 3n * 2n ** 17n,
    2n ** 128n + 2n ** 75n, 2n ** 128n + 2n ** 75n + 1n, 2n ** 200n - 1n, (2n ** 53n - 1n) << 900n,
    2n ** 1023n, 2n ** 1024n - 2n ** 970n, 2n ** 1024n - 2n ** 971n, 2n ** 1024n, 2n ** 5000n, -(2n ** 1100n),
  ];

  test("a BigInt outside int64 passed as f64 or f32 converts as Number(x) does", () => {
    for (const x of BIG) {
      assert.equal(F.f64(x), Number(x), `f64 ${x}`);
      assert.equal(F.f32(x), Math.fround(Number(x)), `f32 ${x}`);
    }
    // The example: fabs(2n ** 64n) used to give 0.
    assert.equal(S.identity_f64(2n ** 64n), 18446744073709551616);
    usable();
  });

  test("an f64/f32 JSCallback returning such a BigInt gives C Number(x)", { skip: ccPending }, () => {
    const r = cc({
      source: "double call_d(double (*f)(void)) { return f(); } float call_f(float (*f)(void)) { return f(); }",
      symbols: { call_d: { args: ["function"], returns: "f64" }, call_f: { args: ["function"], returns: "f32" } },
    });
    for (const x of BIG) {
      const d = new JSCallback(() => x, { returns: "f64" });
      const f = new JSCallback(() => x, { returns: "f32" });
      assert.equal(r.symbols.call_d(d), Number(x), `f64 callback ${x}`);
      assert.equal(r.symbols.call_f(f), Math.fround(Number(x)), `f32 callback ${x}`);
      d.close();
      f.close();
    }
    r.close();
    usable();
  });

  test("write.f64 and write.f32 convert such BigInts the same way", () => {
    const d = new Float64Array(1);
    const f = new Float32Array(1);
    for (const x of BIG) {
      write.f64(d, x);
      assert.equal(d[0], Number(x), `write.f64 ${x}`);
      write.f32(f, x);
      assert.equal(f[0], Math.fround(Number(x)), `write.f32 ${x}`);
    }
  });

  test("new CString(p, offset, length) validates length; toArrayBuffer's truncates a fraction, as in Bun", () => {
    const p = S.hello_string();
    rejects(() => new CString(p, 0, 1.5), RangeError, /CString: byteLength must be an integer, received 1\.5/);
    rejects(() => new CString(p, 0, "3"), TypeError, /CString: byteLength must be an integer, received a string/);
    rejects(() => new CString(p, 0, {}), TypeError, /CString: byteLength must be an integer, received an object/);
    rejects(() => new CString(p, 0, NaN), RangeError, /CString: byteLength must be an integer/);
    assert.equal(toArrayBuffer(p, 0, 2.5).byteLength, 2);
    rejects(() => toArrayBuffer(p, 0, "3"), TypeError, /toArrayBuffer: byteLength must be an integer, received a string/);
    assert.equal(String(new CString(p, 0, 3)), "hel");
    assert.equal(String(new CString(p, 0, 3n)), "hel");
    assert.equal(String(new CString(p, 7, undefined)), "world");
  });

  test("a SharedArrayBuffer is accepted by ptr(), pointer arguments and read.*/write.* as an ArrayBuffer is", () => {
    const sab = new SharedArrayBuffer(16);
    const bytes = new Uint8Array(sab);
    bytes.set([1, 2, 3, 4]);
    assert.equal(ptr(sab), ptr(bytes));
    assert.equal(ptr(sab, 4), ptr(bytes) + 4);
    assert.equal(S.sum_bytes(sab, 4), 10);
    assert.equal(S.identity_ptr(sab), ptr(bytes));
    assert.equal(S.my_strlen(new SharedArrayBuffer(8)), 0);
    assert.equal(read.u8(sab, 3), 4);
    write.u16(sab, 0x0909, 8);
    assert.equal(bytes[8], 9);
    rejects(() => read.u32(sab, 14), RangeError, /outside the 16-byte view/);
    // Something that only looks like one is still refused.
    const impostor = Object.create(SharedArrayBuffer.prototype);
    rejects(() => ptr(impostor), TypeError, /ptr\(\) expects a TypedArray, ArrayBuffer, SharedArrayBuffer or DataView, received an object/);
    rejects(() => S.sum_bytes(impostor, 4), TypeError, /sum_bytes: args\[0\] expects ptr .*received an object/);
    rejects(() => read.u8(impostor), TypeError, /read\.u8 expects a pointer/);
  });
});

// Recorded from Bun 1.4.5 (@oven/bun-linux-x64) over the
// bytes 65..79 then a NUL: fractional offsets and lengths truncate toward
// zero in read.*, toArrayBuffer, toBuffer and CString's offset.
test("fractional offsets and lengths give Bun's results", () => {
  const bytes = new Uint8Array(16).map((_, i) => i + 65);
  bytes[15] = 0;
  const p = ptr(bytes);
  assert.equal(read.u8(p, 1.5), 66);
  assert.equal(read.u8(p + 4, -1.5), 68);
  assert.equal(read.u8(p + 4, -0.5), 69);
  assert.equal(read.u8(p, 2.9999), 67);
  assert.equal(read.u8(bytes, 1.5), 66);
  assert.equal(toBuffer(p, 1.5, 3).byteLength, 3);
  assert.equal(toArrayBuffer(p, 0, 2.5).byteLength, 2);
  assert.equal(toArrayBuffer(p + 4, -1.5, 2).byteLength, 2);
  assert.equal(String(new CString(p, 1.5)), "BCDEFGHIJKLMNO");
  assert.equal(toArrayBuffer(p, 0).byteLength, 15);
});
