"use strict";
// cc() compiles C as Bun does and as gcc lays it out (issue 15 items 3 and 4):
// C11 by default, GCC attributes kept after libc headers (struct layouts
// compared with a gcc-built copy of the same file), __has_include and
// __has_include_next answered from the real include path, the builtins
// TinyCC 0.9.27 lacks, and `flags` split exactly as Bun 1.4.5 splits them.
const test = require("node:test");
// Where cc() is unavailable (Windows, macOS, a build without TinyCC), this
// file is one skipped test giving cc()'s own reason.
const { ccUnavailable } = require("./helpers/platform.js");
if (ccUnavailable()) return void test("cc() is unavailable here", { skip: ccUnavailable() }, () => {});
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-cc-dialect-"));
process.env.XDG_CACHE_HOME = path.join(scratch, "cache");
delete process.env.CFFI_BUN_CACHE;
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const { cc, dlopen, toArrayBuffer, CString } = require("..");
const { buildFixture } = require("./helpers/fixture");
const fixtures = path.join(__dirname, "fixture", "cc");

// Every check runs on both ways of producing code.
const CACHE = [false, true];

test("C11 by default: __STDC_VERSION__, static_assert from <assert.h>, _Generic, _Alignof", () => {
  for (const cache of CACHE) {
    const lib = cc({
      cache,
      source: `
        #include <assert.h>
        #include <stdalign.h>
        static_assert(sizeof(int) == 4, "int is 32 bits");
        #define kind(x) _Generic((x), int: 1, double: 2, default: 3)
        int version(void) { return __STDC_VERSION__; }
        int kinds(void) { return kind(1) * 100 + kind(1.0) * 10 + kind('c' + 0L); }
        int align(void) { return alignof(double) + _Alignof(char); }
      `,
      symbols: { version: { returns: "int" }, kinds: { returns: "int" }, align: { returns: "int" } },
    });
    assert.equal(lib.symbols.version(), 201112);
    assert.equal(lib.symbols.kinds(), 123);
    assert.equal(lib.symbols.align(), 9);
    lib.close();
  }
  // A -std= of the user's own wins.
  const c99 = cc({ source: "int version(void) { return __STDC_VERSION__; }", flags: "-std=c99", symbols: { version: { returns: "int" } } });
  assert.equal(c99.symbols.version(), 199901);
  c99.close();
});

test("struct layouts with attributes after libc headers match gcc's (sizeof, _Alignof, offsetof)", () => {
  const symbols = { layout_table: { returns: "ptr" }, layout_count: { returns: "int" } };
  const table = (lib) =>
    Array.from(new BigInt64Array(toArrayBuffer(lib.symbols.layout_table(), 0, 8 * lib.symbols.layout_count())), Number);
  const gcc = dlopen(buildFixture("cc/layout.c"), symbols);
  const expected = table(gcc);
  gcc.close();
  // The fixture's first struct is packed: gcc gives 13, an erased attribute 16.
  assert.equal(expected[0], 13);
  for (const cache of CACHE) {
    const lib = cc({ cache, source: path.join(fixtures, "layout.c"), symbols });
    assert.deepEqual(table(lib), expected, `cache: ${cache}`);
    lib.close();
  }
});

test("a packed struct filled in by JS is read at gcc's offsets", () => {
  const lib = cc({ source: path.join(fixtures, "layout.c"), symbols: { packed_weight: { args: ["ptr"], returns: "f64" } } });
  const bytes = new DataView(new ArrayBuffer(13));
  bytes.setInt8(0, 7);
  bytes.setInt32(1, 40, true);
  bytes.setFloat64(5, 2.5, true);
  assert.equal(lib.symbols.packed_weight(bytes), 42.5);
  lib.close();
});

test("__attribute__((cleanup)) after a libc header runs its cleanup", () => {
  const lib = cc({
    source: `
      #include <stdlib.h>
      static int cleaned;
      static void done(int *p) { cleaned += *p; }
      int scope(void) {
        { __attribute__((cleanup(done))) int x = 5; }
        return cleaned;
      }
    `,
    symbols: { scope: { returns: "int" } },
  });
  assert.equal(lib.symbols.scope(), 5);
  lib.close();
});

test("__has_include in a source: system headers, Node's headers, missing ones", () => {
  for (const cache of CACHE) {
    const lib = cc({
      cache,
      source: `
        #if __has_include(<stdio.h>) && __has_include(<node/node_api.h>)
        #define FOUND 1
        #else
        #define FOUND 0
        #endif
        #if __has_include(<no/such/header.h>) || __has_include("no-such-header.h")
        #define MISSING 1
        #else
        #define MISSING 0
        #endif
        /* Not a directive: left alone (and a comment: __has_include(<x>)) */
        const char *text(void) { return "__has_include(<stdio.h>)"; }
        int found(void) { return FOUND * 10 + MISSING; }
      `,
      symbols: { found: { returns: "int" }, text: { returns: "cstring" } },
    });
    assert.equal(lib.symbols.found(), 10);
    assert.equal(lib.symbols.text(), "__has_include(<stdio.h>)");
    lib.close();
  }
});

test("__has_include and __has_include_next inside headers follow the include path", () => {
  const dirs = path.join(fixtures, "has-include");
  for (const cache of CACHE) {
    const lib = cc({
      cache,
      source: `
        #include <probe.h>
        int probe(void) { return PROBE_FIRST * 1000 + PROBE_SECOND * 100 + PROBE_THIRD * 10 + PROBE_QUOTED; }
      `,
      include: [path.join(dirs, "first"), path.join(dirs, "second")],
      symbols: { probe: { returns: "int" } },
    });
    assert.equal(lib.symbols.probe(), 1101);
    lib.close();
  }
});

test("a file source using __has_include keeps its line numbers in errors", () => {
  const file = path.join(scratch, "lines.c");
  fs.writeFileSync(file, "#if __has_include(<stdio.h>)\n#include <stdio.h>\n#endif\nint f(void) { return nope; }\n");
  assert.throws(() => cc({ source: file, symbols: { f: { returns: "int" } } }), new RegExp(`${file.replace(/[.]/g, "\\.")}:4: error: 'nope' undeclared`));
});

test("builtins TinyCC lacks: popcount, clz, ctz, bswap families and __builtin_unreachable", () => {
  for (const cache of CACHE) {
    const lib = cc({
      cache,
      source: `
        #include <stdint.h>
        int pop(uint32_t x) { return __builtin_popcount(x); }
        int popll(uint64_t x) { return __builtin_popcountll(x); }
        int popl(uint64_t x) { return __builtin_popcountl(x); }
        int clz(uint32_t x) { return __builtin_clz(x); }
        int clzll(uint64_t x) { return __builtin_clzll(x); }
        int ctz(uint32_t x) { return __builtin_ctz(x); }
        int ctzl(uint64_t x) { return __builtin_ctzl(x); }
        uint32_t bswap32(uint32_t x) { return __builtin_bswap32(x); }
        uint64_t bswap64(uint64_t x) { return __builtin_bswap64(x); }
        uint16_t bswap16(uint16_t x) { return __builtin_bswap16(x); }
        int sign(int x) { if (x > 0) return 1; if (x <= 0) return 0; __builtin_unreachable(); }
      `,
      symbols: {
        pop: { args: ["u32"], returns: "int" },
        popll: { args: ["u64"], returns: "int" },
        popl: { args: ["u64"], returns: "int" },
        clz: { args: ["u32"], returns: "int" },
        clzll: { args: ["u64"], returns: "int" },
        ctz: { args: ["u32"], returns: "int" },
        ctzl: { args: ["u64"], returns: "int" },
        bswap32: { args: ["u32"], returns: "u32" },
        bswap64: { args: ["u64"], returns: "u64" },
        bswap16: { args: ["u16"], returns: "u16" },
        sign: { args: ["int"], returns: "int" },
      },
    });
    const s = lib.symbols;
    assert.deepEqual([s.pop(0), s.pop(0xff), s.pop(0xffffffff)], [0, 8, 32]);
    assert.equal(s.popll(0xffffffffffffffffn), 64);
    assert.equal(s.popl(0x8000000000000001n), 2);
    assert.deepEqual([s.clz(1), s.clz(0x80000000), s.clz(0x00010000)], [31, 0, 15]);
    assert.deepEqual([s.clzll(1n), s.clzll(1n << 63n)], [63, 0]);
    assert.deepEqual([s.ctz(1), s.ctz(0x80000000), s.ctz(12)], [0, 31, 2]);
    assert.equal(s.ctzl(1n << 40n), 40);
    assert.equal(s.bswap32(0x01020304), 0x04030201);
    assert.equal(s.bswap64(0x0102030405060708n), 0x0807060504030201n);
    assert.equal(s.bswap16(0x0102), 0x0201);
    assert.deepEqual([s.sign(5), s.sign(-5)], [1, 0]);
    lib.close();
  }
});

// Bun 1.4.5 run on this machine with the same n.c and each flags string
// (bun:ffi cc({ source: "./n.c", flags })): what n() and m() returned.
// Bun hands the string to TinyCC's option parser: blanks split words, "..."
// groups and is removed, \" and \\ are escapes, single quotes are ordinary
// characters (so '-DN="plain"' is not an option at all and N stays unset).
const BUN_FLAGS_TABLE = [
  [`-DN="plain"`, "plain", "(unset)"],
  [`'-DN="plain"'`, "N", "(unset)"],
  [`'-DN=\\"e\\"'`, "N", "(unset)"],
  [`-DN=\\"e\\"`, '"e"', "(unset)"],
  [`"-DN=a b"`, "a b", "(unset)"],
  [`-DN=1 -DM=2`, "1", "2"],
  [`  -DN=x   -DM=y  `, "x", "y"],
  [`'-DN=\\n'`, "N", "(unset)"],
  [`-DN='a"b'`, "'ab'", "(unset)"],
  [`-DN=a"b c"d`, "ab cd", "(unset)"],
];

test("flags: a string is split as Bun 1.4.5 splits it (table recorded from Bun)", () => {
  const source = path.join(scratch, "n.c");
  fs.writeFileSync(
    source,
    '#define S_(x) #x\n#define S(x) S_(x)\nconst char *n(void) { return S(N); }\n' +
      'const char *m(void) {\n#ifdef M\n  return S(M);\n#else\n  return "(unset)";\n#endif\n}\n',
  );
  for (const [flags, n, m] of BUN_FLAGS_TABLE) {
    const lib = cc({ source, flags, cache: false, symbols: { n: { returns: "cstring" }, m: { returns: "cstring" } } });
    assert.deepEqual([lib.symbols.n(), lib.symbols.m()], [n, m], flags);
    lib.close();
  }
  // Where Bun fails to compile, so does cc().
  assert.throws(() => cc({ source, flags: `-DN='a b'`, symbols: { n: { returns: "cstring" } } }), /^Error: 1 errors while compiling/);
  // An array is taken as is: one argument per element, quotes and blanks kept.
  const lib = cc({ source, flags: ['-DN="a b"', "-DM='q'"], symbols: { n: { returns: "cstring" }, m: { returns: "cstring" } } });
  assert.deepEqual([lib.symbols.n(), lib.symbols.m()], ['"a b"', "'q'"]);
  lib.close();
});
