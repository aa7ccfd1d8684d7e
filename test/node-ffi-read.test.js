"use strict";
// read.u8 ... read.f64 through node:ffi (lib/node-ffi-engine.js, adoptReads;
// src/memory/node_ffi_read.c): the values the guard sends to the addon's
// readers bound in node:ffi, at every type's limits, unaligned and with
// offsets, against a DataView of the same memory; every value the guard
// does not send (errors included) against the addon's own read.* in a
// process where the engine is off; and the guards dressed as the addon's
// functions. With CFFI_BUN_ENGINE=node-ffi each type moves at its first call.
if (!process.env.CFFI_BUN_ENGINE) process.env.CFFI_BUN_ENGINE = "node-ffi";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { isBuiltin } = require("node:module");
const { ptr, read } = require("..");
const { callsThroughNodeFfi } = require("../lib/node-ffi-engine.js");
const { timeScale } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const ON = isBuiltin("node:ffi") && process.platform !== "win32" && process.env.CFFI_BUN_ENGINE === "node-ffi";
const needsNodeFfi = { skip: !ON && "node:ffi is not available here, or CFFI_BUN_ENGINE is not node-ffi" };

const TYPES = {
  u8: [1, "getUint8", [0, 1, 127, 128, 255]],
  i8: [1, "getInt8", [0, 1, -1, 127, -128]],
  u16: [2, "getUint16", [0, 1, 0x7fff, 0x8000, 0xffff]],
  i16: [2, "getInt16", [0, -1, 0x7fff, -0x8000, 1]],
  u32: [4, "getUint32", [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]],
  i32: [4, "getInt32", [0, -1, 0x7fffffff, -0x80000000, 1]],
  f32: [4, "getFloat32", [0, -0, 1.5, 3.4028234663852886e38, -1.401298464324817e-45, Infinity, -Infinity, NaN]],
  f64: [8, "getFloat64", [0, -0, Number.MAX_VALUE, Number.MIN_VALUE, -1e-300, Infinity, NaN, 0.1]],
};
const SETTERS = { getUint8: "setUint8", getInt8: "setInt8", getUint16: "setUint16", getInt16: "setInt16",
  getUint32: "setUint32", getInt32: "setInt32", getFloat32: "setFloat32", getFloat64: "setFloat64" };

test("every scalar read.* type at its limits, aligned and not, with and without an offset", needsNodeFfi, () => {
  const bytes = new Uint8Array(256);
  const view = new DataView(bytes.buffer);
  const base = ptr(bytes);
  for (const [type, [size, getter, values]] of Object.entries(TYPES)) {
    for (const shift of [0, 1, 3]) {
      values.forEach((value, i) => {
        const at = shift + i * 8;
        view[SETTERS[getter]](at, value, true);
        const expected = view[getter](at, true);
        assert.equal(read[type](base + at), expected, `read.${type}(base + ${at})`);
        assert.equal(read[type](base, at), expected, `read.${type}(base, ${at})`);
        assert.equal(read[type](base + at + 8, -8), expected, `read.${type}(base + ${at + 8}, -8)`);
        assert.equal(read[type](base + at, 0, "more"), expected, "more arguments are ignored");
        assert.equal(read[type](base + at, -0), expected, "-0 as the offset");
      });
    }
    assert.equal(callsThroughNodeFfi(read[type]), true, `read.${type} reads through node:ffi`);
    assert.equal(size > 0, true);
  }
});

test("memory changed by others is read as it is now (nothing cached)", needsNodeFfi, () => {
  const words = new Uint32Array(4);
  const at = ptr(words);
  for (let i = 0; i < 1000; i++) {
    words[1] = i * 7919;
    assert.equal(read.u32(at, 4), (i * 7919) >>> 0);
  }
});

test("the guards look like the addon's functions", needsNodeFfi, () => {
  for (const type of Object.keys(TYPES)) {
    assert.equal(read[type].name, type);
    assert.equal(read[type].length, 0);
    assert.equal(String(read[type]), `function ${type}() { [native code] }`);
  }
});

// Values the guard leaves to the addon, and what the addon answers for each
// (a value or an error's name and message), in this process and in one where
// the engine is off. No address here is readable: each one must be refused.
const REFUSED = `
  const { read } = require(${JSON.stringify(ROOT)});
  const inputs = [[], [0], [1], [4095], [4095.5], [-1], [-4096], [2 ** 47], [2 ** 47 + 4], [2 ** 53], [2 ** 64],
    [1.5], [NaN], [Infinity], [-Infinity], [-0], ["8192"], [null], [undefined], [{}], [true], [0n], [4095n], [-1n], [2n ** 64n],
    [0, 0.5], [8192, -4097], [8192, -8192], [8192, NaN], [8192, "1"], [0, 4096n], [8192, 2 ** 47], [4000, 95.5], [0, 4095.9], [8191.5, 0.5], [8192.5, -0.5],
    [2 ** 47 - 2, 4], [8192, -Infinity]];
  const out = [];
  for (const type of ${JSON.stringify(Object.keys(TYPES))}) {
    for (const args of inputs) {
      for (let round = 0; round < 2; round++) {
        try {
          out.push([type, String(read[type](...args))]);
        } catch (error) {
          out.push([type, error.name, error.message, error.code]);
        }
      }
    }
  }
  console.log(JSON.stringify(out));
`;

function refusedIn(engine) {
  const result = spawnSync(process.execPath, ["-e", REFUSED], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CFFI_BUN_ENGINE: engine, NODE_OPTIONS: "" },
    timeout: timeScale(60000),
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test("every value the guard does not take: the addon's answer, the same as with the engine off", needsNodeFfi, () => {
  const through = refusedIn("node-ffi");
  const addon = refusedIn("addon");
  assert.deepEqual(through, addon);
  assert.equal(through.every((entry) => entry.length === 4), true, "each one an error");
});

test("by default a type moves after its 500th call, and the program sees no ExperimentalWarning", needsNodeFfi, () => {
  const source = `
    const { ptr, read } = require(${JSON.stringify(ROOT)});
    const { callsThroughNodeFfi } = require(${JSON.stringify(path.join(ROOT, "lib/node-ffi-engine.js"))});
    const words = new Int32Array([5, -6]);
    const at = ptr(words);
    const seen = [];
    for (let i = 1; i <= 600; i++) {
      if (read.i32(at, 4) !== -6) throw new Error("wrong value at call " + i);
      if (i === 499 || i === 501) seen.push(callsThroughNodeFfi(read.i32));
    }
    seen.push(callsThroughNodeFfi(read.u32));
    console.log(JSON.stringify(seen));
  `;
  const env = { ...process.env, NODE_OPTIONS: "" };
  delete env.CFFI_BUN_ENGINE;
  const result = spawnSync(process.execPath, ["-e", source], { cwd: ROOT, encoding: "utf8", env, timeout: timeScale(30000) });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), [false, true, false]);
  assert.doesNotMatch(result.stderr, /ExperimentalWarning/);
});

test("CFFI_BUN_ENGINE=addon leaves read.* alone", { skip: !isBuiltin("node:ffi") && "no node:ffi here" }, () => {
  const source = `
    const { read } = require(${JSON.stringify(ROOT)});
    const native = require(${JSON.stringify(path.join(ROOT, "lib/native.js"))});
    console.log(read.u32 === native.read.u32 && !Object.hasOwn(read.u32, "toString"));
  `;
  const result = spawnSync(process.execPath, ["-e", source], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, CFFI_BUN_ENGINE: "addon", NODE_OPTIONS: "" }, timeout: timeScale(30000),
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), "true");
});
