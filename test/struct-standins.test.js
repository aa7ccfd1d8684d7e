"use strict";
// The libffi stand-ins of unions and packed structs by value
// (src/types/layout_abi.c) must have the C type's size, not only its
// classification: libffi copies a memory-class aggregate by its own idea of
// the size, so a stand-in rounded up (a 297-byte packed struct described as
// 8-byte integers is 304 bytes to libffi) made a JSCallback that returns one
// write past the C caller's buffer, and made calls read past the argument's.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { struct, union, array, cc, JSCallback } = require("..");
const { ccUnavailable } = require("./helpers/platform.js");

// Memory-class results come back through a hidden pointer that is the first
// argument on System V x86-64 and Win64 (AArch64 uses x8, and refuses these
// types by value).
const skip = ccUnavailable() || (process.arch !== "x64" && "x86-64 only: the probe calls with the hidden result pointer as the first argument");

test("a JSCallback returning a packed or union aggregate in memory writes exactly its size into the caller's buffer", { skip }, () => {
  const cases = [
    ["packed struct, 297 bytes", struct({ tag: "u8", v: array("u64", 37) }, { pack: 1 }), { tag: 7, v: Array(37).fill(0x0101010101010101n) }],
    ["packed struct, 21 bytes", struct({ tag: "u8", a: "u64", b: "u64", c: "u32" }, { pack: 1 }), { tag: 7, a: 1n, b: 2n, c: 3 }],
    ["union, 20 bytes", union({ tag: "u8", bytes: array("u8", 20) }), { tag: 7 }],
    ["packed struct of 300 bytes, aligned 4", struct({ tag: "u8", v: array("u32", 74), w: "u8" }, { pack: 4 }), { tag: 7 }],
  ];
  for (const [what, T, value] of cases) {
    const lib = cc({
      source: `
        #include <string.h>
        int probe(void *cbp) {
          unsigned char buf[${T.size} + 32];
          memset(buf, 0xAB, sizeof buf);
          void *(*f)(void *) = cbp;
          f(buf);
          for (int i = ${T.size}; i < (int)sizeof buf; i++) if (buf[i] != 0xAB) return -i;
          return buf[0];
        }`,
      symbols: { probe: { args: ["ptr"], returns: "i32" } },
    });
    const cb = new JSCallback(() => value, { args: [], returns: T });
    try {
      const got = lib.symbols.probe(cb.ptr);
      assert.equal(got, 7, got < 0 ? `${what}: byte ${-got} past the ${T.size}-byte result was written` : what);
    } finally {
      cb.close();
      lib.close();
    }
  }
});

test("the same aggregates as arguments and results of C calls keep every byte", { skip }, () => {
  const P = struct({ tag: "u8", v: array("u64", 37) }, { pack: 1 });
  const lib = cc({
    source: `
      struct __attribute__((packed)) P { unsigned char tag; unsigned long long v[37]; };
      unsigned long long sum(struct P p) { unsigned long long s = p.tag; for (int i = 0; i < 37; i++) s += p.v[i]; return s; }
      struct P make(int tag) { struct P p; p.tag = tag; for (int i = 0; i < 37; i++) p.v[i] = i + 1; return p; }`,
    symbols: { sum: { args: [P], returns: "u64" }, make: { args: ["i32"], returns: P } },
  });
  const v = Array.from({ length: 37 }, (_, i) => BigInt(i + 1));
  assert.equal(lib.symbols.sum({ tag: 5, v }), 5n + 703n);
  const made = lib.symbols.make(9);
  assert.equal(made.tag, 9);
  assert.deepEqual([...made.v], v);
  lib.close();
});
