"use strict";
// The first-page guard (NULL and small offsets from it) of read.*/write.*
// applies to every other place that dereferences an address the program
// gives: a struct type's read/write/view and batch's b.deref(). A C function
// that returned NULL comes back as null, and `null + 8` is 8 in JS, so
// `T.read(p + 8)` after a failed call is a plain mistake, not a raw address
// the program computed on purpose. Each case runs in a child process: before
// the guard, each one was a SIGSEGV.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { LIBC, timeScale } = require("./helpers/platform.js");

const root = path.join(__dirname, "..");

// Runs `body` (with ffi, T, abs in scope) in a fresh process; returns what it printed.
function inChild(body) {
  const source = `
    const ffi = require(${JSON.stringify(root)});
    const T = ffi.struct({ a: "i32", b: "i32" });
    const { abs } = ffi.dlopen(${JSON.stringify(LIBC)}, { abs: { args: ["i32"], returns: "i32" } }).symbols;
    const out = [];
    const expectThrow = (label, f) => {
      try { f(); out.push(label + ": no error"); }
      catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
    };
    ${body}
    out.push("still alive: " + abs(-3));
    console.log(JSON.stringify(out));`;
  const result = spawnSync(process.execPath, ["-e", source], { encoding: "utf8", timeout: timeScale(60_000) });
  assert.equal(result.signal, null, `the child was killed by ${result.signal}:\n${result.stderr}`);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

test("struct types refuse the first page for read, write and view (NULL plus an offset)", () => {
  const out = inChild(`
    const p = null; // what a C function returning NULL gives
    for (const address of [p + 8, 4095, 1n, 8]) {
      expectThrow("read " + address, () => T.read(address));
      expectThrow("write " + address, () => T.write(address, { a: 1, b: 2 }));
      expectThrow("view " + address, () => T.view(address).a);
    }
    expectThrow("read 0 + byteOffset 16", () => T.read(0, 16));
    // Past the limit (2^47 on x86-64, 2^48 on AArch64): on AArch64 2^47 is
    // an ordinary user address, unmapped, which the guard rightly lets through.
    expectThrow("read near the user-space limit + byteOffset", () => T.read((process.arch === "arm64" ? 2 ** 48 : 2 ** 47) - 8, 2 ** 31));
  `);
  assert.equal(out.length, 15);
  for (const line of out.slice(0, 12)) assert.match(line, /^(read|write|view) \d+: TypeError: (read|write|view): refusing to access address 0x[0-9a-f]+ \(a NULL pointer\)$/);
  assert.match(out[12], /^read 0 \+ byteOffset 16: TypeError: read: refusing to access address 0x10 \(a NULL pointer plus an offset\)$/);
  assert.match(out[13], /^read near the user-space limit \+ byteOffset: TypeError: read: refusing to access address 0x(8000|10000).* is not a valid address/);
  assert.equal(out[14], "still alive: 3");
});

test("batch's b.deref() refuses the first page, as read.* does", () => {
  const out = inChild(`
    for (const address of [8, 4095, 1n, null + 16]) {
      const b = ffi.batch();
      expectThrow("deref " + address, () => { b.add(abs, b.deref(address, "i32")); b.run(); });
      b.add(abs, -5);
      out.push("usable: " + b.run());
    }
  `);
  assert.equal(out.length, 9);
  for (let i = 0; i < 8; i += 2) {
    assert.match(out[i], /^deref \d+: TypeError: batch entry 0: args\[0\]: batch\.deref\(\): refusing to access address 0x[0-9a-f]+ \(a NULL pointer\)$/);
    assert.equal(out[i + 1], "usable: 5");
  }
  assert.equal(out[8], "still alive: 3");
});
