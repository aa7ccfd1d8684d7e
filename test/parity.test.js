"use strict";
// Bun parity in real programs (issue 14) and the address guards of the
// memory helpers (issue 22, item 3): what works on Bun works here. Bun
// 1.4.5's answers, where a test compares with them, were recorded by
// running Bun on this machine.
const { test, describe } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { CFunction, CString, JSCallback, dlopen, linkSymbols, ptr, read, toArrayBuffer, toBuffer, viewSource } = require("..");
const { buildFixture, fixturePath } = require("./helpers/fixture");
const { LIBC, timeScale } = require("./helpers/platform.js");

const root = path.join(__dirname, "..");
const isGlibcLinux = process.platform === "linux" && !!process.report?.getReport().header.glibcVersionRuntime;
// Deep binding is off under a sanitizer runtime (it aborts on RTLD_DEEPBIND)
// and when a preloaded object replaces malloc: npm run test:asan preloads both.
const deepBindSkip = !isGlibcLinux ? "glibc only"
  : process.env.LD_PRELOAD ? "LD_PRELOAD is set (deep binding is off by default then)" : false;

function runNode(args, options = {}) {
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: timeScale(120_000), ...options });
  if (result.error) throw result.error;
  return result;
}

function thrown(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected an exception");
}

describe("libraries bind to their own dependencies (RTLD_DEEPBIND)", { skip: deepBindSkip }, () => {
  const roundTrip = path.join(__dirname, "helpers", "zlib-roundtrip.js");

  test("a 1 MB streaming deflate/inflate round trip through the system libz", () => {
    const result = runNode([roundTrip]);
    assert.equal(result.status, 0, `the round trip failed (signal ${result.signal}): ${result.stderr}`);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.originalLength, 1 << 20);
    assert.ok(summary.compressedLength > 1000 && summary.compressedLength < summary.originalLength / 4,
      `compressed to ${summary.compressedLength} bytes`);
    assert.equal(summary.same, true, "inflate gives back the original");
    assert.equal(summary.nodeSays, true, "Node's zlib reads the stream too");
  });

  let opensslFixture;
  try {
    opensslFixture = buildFixture("openssl-version.c", ["-Wl,--no-as-needed", "-l:libcrypto.so.3"]);
  } catch {
    opensslFixture = null;
  }
  const versionDefinition = { library_openssl_version: { args: ["i32"], returns: "cstring" } };
  // OPENSSL_VERSION, OPENSSL_CFLAGS, OPENSSL_BUILT_ON, OPENSSL_PLATFORM, OPENSSL_DIR
  const versionKinds = [0, 1, 2, 3, 4];

  test("a library linking the system OpenSSL reports the system's OpenSSL, not Node's", { skip: !opensslFixture && "no libcrypto.so.3" }, () => {
    const system = dlopen("libcrypto.so.3", { OpenSSL_version: { args: ["i32"], returns: "cstring" } });
    const lib = dlopen(opensslFixture, versionDefinition);
    for (const kind of versionKinds) {
      assert.equal(lib.symbols.library_openssl_version(kind), system.symbols.OpenSSL_version(kind), `OpenSSL_version(${kind})`);
    }
    // Node's copy describes another build (same version number here, so the
    // build details tell them apart).
    const nodeBuild = versionKinds.map((kind) => runNode(["-e", `
      const lib = require(${JSON.stringify(root)}).dlopen(${JSON.stringify(opensslFixture)}, ${JSON.stringify(versionDefinition)}, { deepBind: false });
      process.stdout.write(lib.symbols.library_openssl_version(${kind}));`]).stdout);
    assert.notDeepEqual(nodeBuild, versionKinds.map((kind) => system.symbols.OpenSSL_version(kind)),
      "with deepBind: false the library reaches Node's OpenSSL (this test can see the difference)");
    assert.match(nodeBuild[0], new RegExp(process.versions.openssl.replace(/[.+]/g, "\\$&")));
    lib.close();
    system.close();
  });

  test("opting out: dlopen's third argument and CFFI_BUN_DEEPBIND=0", { skip: !opensslFixture && "no libcrypto.so.3" }, () => {
    const script = (options) => `
      const lib = require(${JSON.stringify(root)}).dlopen(${JSON.stringify(opensslFixture)}, ${JSON.stringify(versionDefinition)}${options});
      process.stdout.write(lib.symbols.library_openssl_version(2));`;
    const system = dlopen("libcrypto.so.3", { OpenSSL_version: { args: ["i32"], returns: "cstring" } });
    const systemBuild = system.symbols.OpenSSL_version(2);
    const env = (value) => ({ ...process.env, CFFI_BUN_DEEPBIND: value });
    assert.equal(runNode(["-e", script("")]).stdout, systemBuild, "the default binds to the system's");
    const optedOut = runNode(["-e", script(", { deepBind: false }")]).stdout;
    assert.notEqual(optedOut, systemBuild);
    assert.equal(runNode(["-e", script("")], { env: env("0") }).stdout, optedOut, "CFFI_BUN_DEEPBIND=0");
    assert.equal(runNode(["-e", script(", { deepBind: true }")], { env: env("0") }).stdout, systemBuild,
      "the argument wins over the environment");
    assert.equal(runNode(["-e", script(", {}")], { env: env("1") }).stdout, systemBuild);
    system.close();
  });

  test("off by default when an LD_PRELOADed object replaces malloc", { skip: !opensslFixture && "no libcrypto.so.3" }, () => {
    const preload = buildFixture("malloc-preload.c");
    const script = (options) => `
      const lib = require(${JSON.stringify(root)}).dlopen(${JSON.stringify(opensslFixture)}, ${JSON.stringify(versionDefinition)}${options});
      process.stdout.write(lib.symbols.library_openssl_version(2));`;
    const system = dlopen("libcrypto.so.3", { OpenSSL_version: { args: ["i32"], returns: "cstring" } });
    const systemBuild = system.symbols.OpenSSL_version(2);
    const env = { ...process.env, LD_PRELOAD: preload };
    const byDefault = runNode(["-e", script("")], { env });
    assert.equal(byDefault.status, 0, byDefault.stderr);
    assert.notEqual(byDefault.stdout, systemBuild, "no deep binding under a malloc replacement");
    assert.equal(runNode(["-e", script(", { deepBind: true }")], { env }).stdout, systemBuild, "unless asked for");
    assert.equal(runNode(["-e", script("")], { env: { ...env, LD_PRELOAD: "/nonexistent-cffi-bun.so" } }).stdout, systemBuild,
      "a preload that replaces nothing changes nothing");
    system.close();
  });

  describe("bad input", () => {
    test("malformed options are TypeErrors naming what was received", () => {
      const defs = { strlen: { args: ["cstring"], returns: "u64" } };
      assert.throws(() => dlopen(LIBC, defs, 5), { name: "TypeError", message: /dlopen\(path, symbols, options\?\): options must be an object, received a number/ });
      assert.throws(() => dlopen(LIBC, defs, { deepBind: "no" }), { name: "TypeError", message: /options.deepBind must be a boolean, received a string/ });
      assert.throws(() => dlopen(LIBC, defs, { get deepBind() { throw new Error("getter"); } }), /getter/);
      for (const ok of [undefined, null, {}, { deepBind: true }, { deepBind: false }]) {
        const lib = dlopen(LIBC, defs, ok);
        assert.equal(lib.symbols.strlen("abc"), 3n);
        lib.close();
      }
    });
  });
});

describe("ptr() of a temporary stays valid for the calls that use it", () => {
  // In a child with --expose-gc: a minor GC and allocation churn between
  // ptr() and the call collect the temporary unless ptr() keeps it.
  const script = `
    const { dlopen, ptr } = require(${JSON.stringify(root)});
    const libc = dlopen("libc.so.6", { memcmp: { args: ["ptr", "ptr", "u64"], returns: "i32" } });
    const encoder = new TextEncoder();
    let wrong = 0;
    for (let i = 0; i < 500; i++) {
      const text = "hello " + i + " " + "x".repeat(i % 40) + "\\0";
      const expected = encoder.encode(text);
      const p = ptr(encoder.encode(text));
      const churn = [];
      for (let j = 0; j < 200; j++) churn.push(new Uint8Array(32).fill(0x41));
      gc({ type: "minor" });
      for (let j = 0; j < 200; j++) churn.push(new Uint8Array(24).fill(0x42));
      if (libc.symbols.memcmp(p, expected, expected.length) !== 0) wrong++;
      // The same inline in the call's arguments.
      if (libc.symbols.memcmp(ptr(encoder.encode(text)), (gc({ type: "minor" }), expected), expected.length) !== 0) wrong++;
    }
    console.log(wrong);`;

  test("with forced minor GCs and churn, C reads what ptr() pointed at", { skip: process.platform !== "linux" && "uses libc.so.6" }, () => {
    const result = runNode(["--expose-gc", "-e", script]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "0", "calls that read freed memory");
  });

  // Bytes held by ArrayBuffers after a full GC, in MB, in a child: 200
  // temporaries of 1 MB each, given to ptr() in one synchronous run.
  const holding = `
    const { ptr } = require(${JSON.stringify(root)});
    const mb = () => Math.round(process.memoryUsage().arrayBuffers / 2 ** 20);
    const base = mb();
    (() => {
      for (let i = 0; i < 200; i++) {
        const temporary = new Uint8Array(2 ** 20);
        if (i % 3 === 0) ptr(temporary);
        else if (i % 3 === 1) ptr(temporary.buffer, 16);
        else ptr(new DataView(temporary.buffer));
      }
    })();
    // (A second full GC: the first leaves some backing stores to free.)
    gc();
    gc();
    const held = mb() - base;
    setImmediate(() => {
      gc();
      gc();
      console.log(JSON.stringify({ held, afterTurn: mb() - base }));
    });`;

  test("at most the 64 most recent targets are held, and only until the event loop turns", () => {
    const result = runNode(["--expose-gc", "-e", holding]);
    assert.equal(result.status, 0, result.stderr);
    const { held, afterTurn } = JSON.parse(result.stdout);
    assert.ok(held >= 63 && held <= 66, `${held} MB held before the loop turned (64 expected)`);
    assert.ok(afterTurn <= 2, `${afterTurn} MB still held after the loop turned`);
  });

  // ptr() of the view it was just given skips the ring (it is held
  // already): the view must still be held until the loop turns, and let go
  // then, however many times it was given.
  const repeated = `
    const { ptr } = require(${JSON.stringify(root)});
    let ref;
    (() => {
      const view = new Uint8Array(2 ** 20);
      ref = new WeakRef(view);
      for (let i = 0; i < 1000; i++) ptr(view);
    })();
    gc();
    gc();
    const heldBeforeTurn = ref.deref() !== undefined;
    setImmediate(() => {
      gc();
      gc();
      console.log(JSON.stringify({ heldBeforeTurn, heldAfterTurn: ref.deref() !== undefined }));
    });`;

  test("a view given to ptr() again and again is held until the loop turns, then let go", () => {
    const result = runNode(["--expose-gc", "-e", repeated]);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { heldBeforeTurn: true, heldAfterTurn: false });
  });

  test("the release does not keep the process alive", () => {
    const result = runNode(["-e", `require(${JSON.stringify(root)}).ptr(new Uint8Array(4)); setTimeout(() => console.log("timer"), 50);`]);
    assert.equal(result.stdout, "timer\n");
    assert.equal(runNode(["-e", `require(${JSON.stringify(root)}).ptr(new Uint8Array(4))`]).status, 0);
  });
});

describe("negative numbers as pointer arguments (two's complement, as in Bun)", () => {
  const lib = dlopen(buildFixture("parity.c"), {
    pointer_bits: { args: ["ptr"], returns: "u64" },
    is_transient: { args: ["ptr"], returns: "i32" },
  });
  const fixture = dlopen(fixturePath(), { identity_ptr: { args: ["ptr"], returns: "ptr" } });
  const { pointer_bits, is_transient } = lib.symbols;

  test("integral numbers and BigInts in [-2^63, 0) arrive as two's complement", () => {
    for (let round = 0; round < 2; round++) {
      // The second round runs after the jit wrappers took over.
      for (let i = 0; i < 2000; i++) pointer_bits(-1);
      assert.equal(is_transient(-1), 1, "SQLITE_TRANSIENT");
      assert.equal(is_transient(-1n), 1);
      assert.equal(pointer_bits(-1), 2n ** 64n - 1n);
      assert.equal(pointer_bits(-2), 2n ** 64n - 2n);
      assert.equal(pointer_bits(-4096), 2n ** 64n - 4096n);
      assert.equal(pointer_bits(-(2 ** 63)), 2n ** 63n);
      assert.equal(pointer_bits(-(2n ** 63n)), 2n ** 63n);
      assert.equal(pointer_bits(-0), 0n);
      assert.equal(pointer_bits(2 ** 64 - 2048), 2n ** 64n - 2048n);
      assert.equal(pointer_bits(2n ** 64n - 1n), 2n ** 64n - 1n);
      assert.equal(fixture.symbols.identity_ptr(-1), 2n ** 64n - 1n, "a pointer result at or above 2^53 is a BigInt");
    }
  });

  test("bad input: fractions, NaN and values outside [-2^63, 2^64) stay TypeErrors", () => {
    for (const value of [-1.5, -0.5, NaN, -Infinity, Infinity, -(2 ** 64), 2 ** 64, -(2n ** 63n) - 1n, 2n ** 64n]) {
      assert.throws(() => pointer_bits(value), { name: "TypeError", message: /pointer_bits: args\[0\] expects ptr .*not a valid address/ }, String(value));
    }
  });
});

describe("memory helpers refuse what is not a user-space address", () => {
  const p = ptr(new Uint8Array(16));
  const helpers = {
    "read.u8": (address) => read.u8(address),
    "read.ptr": (address) => read.ptr(address, 0),
    "new CString": (address) => new CString(address),
    toArrayBuffer: (address) => toArrayBuffer(address, 0, 4),
    toBuffer: (address) => toBuffer(address, 0, 4),
    "CFunction({ ptr })": (address) => CFunction({ ptr: address, args: [], returns: "void" }),
    "linkSymbols ptr": (address) => linkSymbols({ f: { ptr: address, args: [], returns: "void" } }),
  };

  test("BigInts get the first-page and user-range guards numbers get", () => {
    for (const [name, helper] of Object.entries(helpers)) {
      for (const value of [-1n, -5n, -4096n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 2n ** 63n, 2n ** 60n]) {
        const error = thrown(() => helper(value));
        assert.equal(error.name, "TypeError", `${name}(${value})`);
        assert.match(error.message, /not a valid address/, `${name}(${value}): ${error.message}`);
        assert.equal(error.code, "ERR_INVALID_ARG_TYPE");
      }
      for (const value of [-1, -4096, 2 ** 60, 2 ** 63]) {
        assert.throws(() => helper(value), { name: "TypeError", message: /not a valid address/ }, `${name}(${value})`);
      }
    }
    assert.throws(() => read.u8(5n), /refusing to access address 0x5 \(a NULL pointer/);
    assert.throws(() => toArrayBuffer(4095n, 0, 1), /refusing to wrap address 0xfff/);
    assert.throws(() => CFunction({ ptr: 100n, args: [], returns: "void" }), /is 0x64, in the NULL page/);
  });

  test("an offset may not carry an address out of the user range", () => {
    assert.throws(() => read.u8(p, 2 ** 52), { name: "TypeError", message: /not a valid address/ });
    assert.throws(() => toArrayBuffer(p, 2 ** 52, 1), RangeError);
  });

  test("valid addresses as numbers and BigInts still work", () => {
    const bytes = new Uint8Array([7, 8, 9, 0]);
    const at = ptr(bytes);
    assert.equal(read.u8(BigInt(at)), 7);
    assert.equal(read.u8(BigInt(at), 2), 9);
    assert.equal(new CString(BigInt(at)).toString(), "\x07\x08\x09");
    assert.deepEqual([...new Uint8Array(toArrayBuffer(BigInt(at), 1, 2))], [8, 9]);
  });
});

describe("error codes, as Bun sets them", () => {
  const FIX = fixturePath();
  const cases = [
    ["a library that cannot be opened", () => dlopen("libnonexistent12345.so", { f: { returns: "i32" } }), "Error", "ERR_DLOPEN_FAILED", /Failed to open library "libnonexistent12345.so"/],
    ["a missing symbol", () => dlopen(LIBC, { nope_cffi_bun: { returns: "i32" } }), "TypeError", "ERR_INVALID_ARG_TYPE", new RegExp(`Symbol "nope_cffi_bun" not found in "${LIBC.replace(/\./g, "\\.")}"`)],
    ["no symbols", () => dlopen(FIX, {}), "TypeError", "ERR_INVALID_ARG_TYPE", /Expected at least one symbol/],
    ["symbols that are not an object", () => dlopen(FIX, 5), "TypeError", "ERR_INVALID_ARG_TYPE", /Expected an options object with symbol names/],
    ["an unknown argument type", () => dlopen(FIX, { f: { args: ["nope"] } }), "TypeError", "ERR_INVALID_ARG_VALUE", /Unknown type "nope"/],
    ["an unknown return type", () => dlopen(FIX, { f: { returns: "nope" } }), "TypeError", "ERR_INVALID_ARG_VALUE", /Unknown type "nope" in returns of symbol "f"/],
    ["a definition that is not an object", () => dlopen(FIX, { f: 5 }), "TypeError", "ERR_INVALID_ARG_VALUE", /Expected an object for key "f"/],
    ["linkSymbols without ptr", () => linkSymbols({ f: { returns: "i32" } }), "TypeError", "ERR_INVALID_ARG_TYPE", /missing a "ptr" field/],
    ["a pointer of the wrong kind for read", () => read.u8("x"), "TypeError", "ERR_INVALID_ARG_TYPE", /read.u8 expects a pointer/],
    ["a pointer of the wrong kind for toArrayBuffer", () => toArrayBuffer("x"), "TypeError", "ERR_INVALID_ARG_TYPE", /toArrayBuffer expects a pointer/],
    ["a pointer of the wrong kind for CString", () => new CString("x"), "TypeError", "ERR_INVALID_ARG_TYPE", /CString expects a pointer/],
    ["ptr() of something that is not a view", () => ptr("x"), "TypeError", "ERR_INVALID_ARG_TYPE", /ptr\(\) expects a TypedArray/],
    ["a JSCallback without a function", () => new JSCallback(5, {}), "TypeError", "ERR_INVALID_ARG_TYPE", /^Expected callback function/],
    ["an unknown callback type", () => new JSCallback(() => {}, { args: ["nope"] }), "TypeError", "ERR_INVALID_ARG_VALUE", /Unknown type "nope"/],
  ];
  for (const [what, fn, name, code, message] of cases) {
    test(what, () => {
      const error = thrown(fn);
      assert.equal(error.name, name, error.message);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
    });
  }
});

describe("messages Bun's tests match on", () => {
  test("buffer is not a return type, in Bun's words", () => {
    for (const returns of ["buffer", 20]) {
      assert.throws(() => dlopen(LIBC, { abs: { args: ["ptr"], returns } }),
        { name: "TypeError", message: /^Cannot return a buffer to JavaScript \(since byteLength and byteOffset are unknown\): symbol "abs"/ });
      assert.throws(() => new JSCallback(() => {}, { returns }), /byteLength and byteOffset are unknown/);
    }
  });

  test("a symbol definition that is not an object says Expected an object", () => {
    for (const definition of [5, "i32", true, null]) {
      for (const fn of [() => dlopen(LIBC, { abs: definition }), () => linkSymbols({ abs: definition }), () => viewSource({ abs: definition })]) {
        assert.throws(fn, { name: "TypeError", message: /^Expected an object for key "abs": the definition of symbol "abs" must be an object/ });
      }
    }
  });

  test("linkSymbols without ptr names the symbol, ptr and linkSymbols/CFunction", () => {
    assert.throws(() => linkSymbols({ myFunction: { args: [], returns: "int" } }), /myFunction.*ptr.*(linkSymbols|CFunction)/);
    assert.throws(() => CFunction({ args: [], returns: "int" }), /Symbol "CFunction\d+" is missing a "ptr" field\. When using linkSymbols\(\) or CFunction\(\)/);
  });

  test("a non-number ptr gives Bun's sentence, then what was received", () => {
    const bun = 'you must provide a "ptr" field with the memory address of the native function.';
    for (const [value, received] of [["not a number", /received a string/], [{}, /received an object/], [true, /received a boolean/], [-1, /negative/]]) {
      const error = thrown(() => linkSymbols({ fn: { ptr: value } }));
      assert.ok(error.message.includes(bun), error.message);
      assert.ok(error.message.indexOf(bun) < error.message.search(received), error.message);
      assert.match(error.message, /"ptr" of symbol "fn" expects a pointer/);
    }
  });
});

describe("bound functions' .length is the declared argument count", () => {
  test("dlopen, linkSymbols and CFunction, before and after the jit takes over", () => {
    const lib = dlopen(LIBC, {
      rand: { returns: "i32" },
      abs: { args: ["i32"], returns: "i32" },
      strncmp: { args: ["cstring", "cstring", "u64"], returns: "i32" },
    });
    assert.equal(lib.symbols.rand.length, 0);
    assert.equal(lib.symbols.abs.length, 1);
    assert.equal(lib.symbols.strncmp.length, 3);
    for (let i = 0; i < 3000; i++) lib.symbols.abs(-i);
    assert.equal(lib.symbols.abs.length, 1);
    assert.deepEqual(Object.getOwnPropertyDescriptor(lib.symbols.abs, "length"), { value: 1, writable: false, enumerable: false, configurable: true });
    assert.equal(CFunction({ ptr: lib.symbols.abs.ptr, args: ["i32"], returns: "i32" }).length, 1);
    assert.equal(linkSymbols({ f: { ptr: lib.symbols.strncmp.ptr, args: ["ptr", "ptr", "u64"], returns: "i32" } }).symbols.f.length, 3);
    assert.equal(lib.symbols.abs.name, "abs");
    lib.close();
  });
});

describe('import x from "./f.c" with { type: "file" } under cffi-bun/register', () => {
  test("gives the file's absolute path, whatever its extension", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-import-file-"));
    try {
      fs.writeFileSync(path.join(dir, "hello.c"), "int x;\n");
      fs.writeFileSync(path.join(dir, "data file.bin"), "\x01");
      fs.writeFileSync(path.join(dir, "plain.mjs"), "export default 42;\n");
      fs.writeFileSync(path.join(dir, "code.mjs"), 'export { default } from "./plain.mjs";\n');
      fs.mkdirSync(path.join(dir, "sub"));
      fs.writeFileSync(path.join(dir, "sub", "noext"), "");
      fs.writeFileSync(path.join(dir, "main.mjs"), [
        'import c from "./hello.c" with { type: "file" };',
        'import bin from "./data file.bin" with { type: "file" };',
        'import noext from "./sub/noext" with { type: "file" };',
        'import asFile from "./plain.mjs" with { type: "file" };',
        // (Node links one module per specifier within a module, so the code
        // import of the same file is made from another one.)
        'import asCode from "./code.mjs";',
        'import { dlopen } from "bun:ffi";',
        "console.log(JSON.stringify({ c, bin, noext, asFile, asCode, dlopen: typeof dlopen }));",
      ].join("\n"));
      const result = runNode(["--import", "cffi-bun/register", path.join(dir, "main.mjs")], { cwd: root });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), {
        c: path.join(dir, "hello.c"),
        bin: path.join(dir, "data file.bin"),
        noext: path.join(dir, "sub", "noext"),
        asFile: path.join(dir, "plain.mjs"),
        asCode: 42,
        dlopen: "function",
      });
      fs.writeFileSync(path.join(dir, "missing.mjs"), 'import x from "./nope.c" with { type: "file" };\n');
      const missing = runNode(["--import", "cffi-bun/register", path.join(dir, "missing.mjs")], { cwd: root });
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /ERR_MODULE_NOT_FOUND|Cannot find module/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
