"use strict";
// cc(): TinyCC in process (issue 4). Every cc() here uses a private cache
// directory (XDG_CACHE_HOME points into the OS temp dir) so the user's own
// cache is never touched; the cache tests run separate node processes.
const test = require("node:test");
// Where cc() is unavailable (Windows, macOS, a build without TinyCC), this
// file is one skipped test giving cc()'s own reason.
const { ccUnavailable } = require("./helpers/platform.js");
if (ccUnavailable()) return void test("cc() is unavailable here", { skip: ccUnavailable() }, () => {});
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { pathToFileURL } = require("node:url");

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-cc-"));
process.env.XDG_CACHE_HOME = path.join(scratch, "cache");
delete process.env.CFFI_BUN_CACHE;
delete process.env.CFFI_BUN_CC_UNAVAILABLE;
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const root = path.join(__dirname, "..");
const { cc, dlopen, suffix } = require("..");
const fixtures = path.join(__dirname, "fixture", "cc");

test("add and get_version from inline source", () => {
  const lib = cc({
    source: `
      int add(int a, int b) { return a + b; }
      const char *get_version(void) { return "1.2.3"; }
    `,
    symbols: {
      add: { args: ["int", "int"], returns: "int" },
      get_version: { args: [], returns: "cstring" },
    },
  });
  assert.equal(lib.symbols.add(2, 40), 42);
  assert.equal(lib.symbols.add(-5, 3), -2);
  assert.equal(lib.symbols.get_version(), "1.2.3");
  lib.close();
  assert.throws(() => lib.symbols.add(1, 2), /closed/);
});

test("stdio.h, math.h, string.h, stdlib.h, stdint.h and stdbool.h; sqrt", () => {
  const lib = cc({
    source: `
      #include <stdio.h>
      #include <math.h>
      #include <string.h>
      #include <stdlib.h>
      #include <stdint.h>
      #include <stdbool.h>
      static char buffer[64];
      double root(double x) { return sqrt(x); }
      const char *describe(int32_t n) {
        snprintf(buffer, sizeof buffer, "n=%d len=%zu", n, strlen("abc"));
        return buffer;
      }
      bool is_even(uint64_t n) { return n % 2 == 0; }
      int parse(const char *s) { return atoi(s); }
    `,
    library: ["m"],
    symbols: {
      root: { args: ["f64"], returns: "f64" },
      describe: { args: ["i32"], returns: "cstring" },
      is_even: { args: ["u64"], returns: "bool" },
      parse: { args: ["cstring"], returns: "i32" },
    },
  });
  assert.equal(lib.symbols.root(2), Math.SQRT2);
  assert.equal(lib.symbols.describe(7), "n=7 len=3");
  assert.equal(lib.symbols.is_even(10n), true);
  assert.equal(lib.symbols.parse("1234"), 1234);
  lib.close();
});

test("links sqlite3 and returns sqlite3_libversion() as a cstring", () => {
  const lib = cc({
    source: `
      #include <sqlite3.h>
      const char *version(void) { return sqlite3_libversion(); }
      int version_number(void) { return sqlite3_libversion_number(); }
    `,
    library: ["sqlite3"],
    symbols: { version: { returns: "cstring" }, version_number: { returns: "int" } },
  });
  const version = lib.symbols.version();
  assert.match(version, /^3\.\d+\.\d+/);
  const [major, minor, patch] = version.split(".").map(Number);
  assert.equal(lib.symbols.version_number(), major * 1000000 + minor * 1000 + patch);
  lib.close();
});

test("two source files (paths relative to cwd, a file: URL, a URL object)", () => {
  const a = path.join(fixtures, "unit-a.c");
  const b = path.join(fixtures, "unit-b.c");
  const symbols = { quadruple: { args: ["int"], returns: "int" } };
  const variants = [
    [path.relative(process.cwd(), a), path.relative(process.cwd(), b)],
    [pathToFileURL(a).href, pathToFileURL(b)],
    [a, "int twice(int x) { return 3 * x; }"],
  ];
  const expected = [20, 20, 45];
  variants.forEach((source, i) => {
    const lib = cc({ source, symbols });
    assert.equal(lib.symbols.quadruple(5), expected[i]);
    lib.close();
  });
});

test("a single path source, relative to the current directory", () => {
  const cwd = process.cwd();
  process.chdir(fixtures);
  try {
    const lib = cc({ source: "add.c", symbols: { add: { args: ["i32", "i32"], returns: "i32" } } });
    assert.equal(lib.symbols.add(20, 22), 42);
    lib.close();
  } finally {
    process.chdir(cwd);
  }
  assert.throws(() => cc({ source: "no-such-file.c", symbols: { f: {} } }), /source file "no-such-file\.c" not found/);
});

test("define: strings, numbers, booleans and empty values", () => {
  const lib = cc({
    source: `
      #ifndef EMPTY
      #error EMPTY is not defined
      #endif
      int answer(void) { return ANSWER + FLAG + OFF EMPTY; }
      const char *name(void) { return NAME; }
    `,
    define: { ANSWER: 40, FLAG: true, OFF: false, EMPTY: "", NAME: '"from define"' },
    symbols: { answer: { returns: "int" }, name: { returns: "cstring" } },
  });
  assert.equal(lib.symbols.answer(), 41);
  assert.equal(lib.symbols.name(), "from define");
  lib.close();
  assert.throws(() => cc({ source: "int x;", define: { "A\n#define B": 1 }, symbols: { x: {} } }), /invalid macro name/);
});

test("flags: a string split on whitespace, or an array of arguments", () => {
  const symbols = { sum: { returns: "int" } };
  const source = "int sum(void) { return A + B; }";
  let lib = cc({ source, flags: "-DA=1   -DB=2", symbols });
  assert.equal(lib.symbols.sum(), 3);
  lib.close();
  lib = cc({ source, flags: ["-DA=10", "-DB=20"], symbols });
  assert.equal(lib.symbols.sum(), 30);
  lib.close();
});

test("include: a directory with the test's own header", () => {
  const lib = cc({
    source: '#include "answer.h"\nint scaled(int x) { return fixture_scale(x) + FIXTURE_ANSWER; }',
    include: path.join(fixtures, "include"),
    symbols: { scaled: { args: ["int"], returns: "int" } },
  });
  assert.equal(lib.symbols.scaled(2), 126);
  lib.close();
});

test("napi_env and napi_value: building a JS object in compiled code", () => {
  for (const header of ["node_api.h", "node/node_api.h"]) {
    const lib = cc({
      source: `
        #include <${header}>
        napi_value make(napi_env env, int n, napi_value label) {
          napi_value object, number;
          napi_create_object(env, &object);
          napi_create_int32(env, n * 2, &number);
          napi_set_named_property(env, object, "doubled", number);
          napi_set_named_property(env, object, "label", label);
          return object;
        }
        napi_value greet(napi_env env) {
          napi_value s;
          napi_create_string_utf8(env, "Hello, Napi!", NAPI_AUTO_LENGTH, &s);
          return s;
        }
      `,
      symbols: {
        make: { args: ["napi_env", "int", "napi_value"], returns: "napi_value" },
        greet: { args: ["napi_env"], returns: "napi_value" },
      },
    });
    // The napi_env parameter takes up one JS argument position (as in Bun).
    assert.deepEqual(lib.symbols.make(undefined, 21, "x"), { doubled: 42, label: "x" });
    assert.equal(lib.symbols.greet(), "Hello, Napi!");
    lib.close();
  }
});

test("a compile error throws with TinyCC's file, line and message", () => {
  assert.throws(
    () => cc({ source: "int ok(void) { return 1; }\n\nint broken(void) { return nope; }\n", symbols: { ok: { returns: "int" } } }),
    (error) => {
      assert.match(error.message, /cc\(\) failed to compile/);
      assert.match(error.message, /source:3: error: 'nope' undeclared/);
      return true;
    },
  );
  assert.throws(
    () => cc({ source: ["int a(void) { return 1; }", "int b(void) { return 2 }"], symbols: { a: { returns: "int" } } }),
    /source\[1\]:1: error/,
  );
  assert.throws(
    () => cc({ source: path.join(fixtures, "add.c"), library: "no_such_library_cffi", symbols: { add: {} } }),
    /library 'no_such_library_cffi' not found/,
  );
});

test("a symbol that the source does not define throws naming it", () => {
  for (const cache of [true, false]) {
    assert.throws(
      () => cc({ source: "int here(void) { return 1; }", cache, symbols: { here: { returns: "int" }, missing_fn: { returns: "int" } } }),
      /^Error: "missing_fn" is missing from inline source: symbol "missing_fn" is not defined by the cc\(\) source$/,
    );
    // A libc function the code calls is not a definition of the code.
    assert.throws(
      () => cc({ source: "#include <stdlib.h>\nint f(void) { return abs(-1); }", cache, symbols: { abs: { args: ["int"], returns: "int" } } }),
      /"abs" is missing from inline source: symbol "abs" is not defined/,
    );
  }
});

test("each cc() call gets its own copy of the code and its statics", () => {
  const source = "static int count; int next(void) { return ++count; }";
  const symbols = { next: { returns: "int" } };
  const a = cc({ source, symbols });
  const b = cc({ source, symbols });
  assert.equal(a.symbols.next(), 1);
  assert.equal(a.symbols.next(), 2);
  assert.equal(b.symbols.next(), 1);
  a.close();
  b.close();
});

test("bad options throw TypeErrors", () => {
  assert.throws(() => cc(), TypeError);
  assert.throws(() => cc({ symbols: { f: {} } }), /needs "source"/);
  assert.throws(() => cc({ source: "int f(void) { return 0; }" }), /needs "symbols"/);
  assert.throws(() => cc({ source: "int f;", include: 5, symbols: { f: {} } }), /"include" must be a string or an array/);
  assert.throws(() => cc({ source: "int f(void) { return 0; }", symbols: {} }), /^TypeError: Expected at least one exported symbol/);
});

// ---- the cache, across processes ----------------------------------------

function runChild(script, env) {
  const result = spawnSync(process.execPath, ["-e", script], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`child failed (${result.status}):\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

// A child that compiles the header-using source and reports the result.
function compileInChild(cacheHome, extraEnv = {}, includeDir = path.join(fixtures, "include")) {
  return runChild(
    `const { cc } = require(${JSON.stringify(root)});
     const lib = cc({
       source: '#include "answer.h"\\nint scaled(int x) { return fixture_scale(x); }',
       include: ${JSON.stringify(includeDir)},
       symbols: { scaled: { args: ["int"], returns: "int" } },
     });
     process.stdout.write(JSON.stringify({ value: lib.symbols.scaled(1) }));`,
    { XDG_CACHE_HOME: cacheHome, ...extraEnv },
  );
}

function entries(cacheHome) {
  const dir = path.join(cacheHome, "cffi-bun");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).map((name) => {
    const file = path.join(dir, name);
    const st = fs.statSync(file);
    return { name, file, ino: st.ino, size: st.size };
  });
}

test("cache: a second process loads the stored object without compiling", () => {
  const home = path.join(scratch, "cache-hit");
  assert.deepEqual(compileInChild(home), { value: 42 });
  const first = entries(home);
  assert.equal(first.length, 1, "one entry, no temporary files left");
  assert.match(first[0].name, /^[0-9a-f]{64}\.so$/);
  assert.equal(fs.statSync(path.dirname(first[0].file)).mode & 0o777, 0o700);
  assert.deepEqual(compileInChild(home), { value: 42 });
  // A recompilation would have renamed a new file into place.
  assert.deepEqual(entries(home), first);
});

test("cache: editing an included header invalidates the entry", () => {
  const home = path.join(scratch, "cache-header");
  const include = path.join(scratch, "header-include");
  fs.mkdirSync(include);
  const header = path.join(include, "answer.h");
  fs.writeFileSync(header, "static inline int fixture_scale(int x) { return x * 5; }\n");
  assert.deepEqual(compileInChild(home, {}, include), { value: 5 });
  // Same length, different content: the mtime/inode check still catches it.
  fs.writeFileSync(header, "static inline int fixture_scale(int x) { return x * 7; }\n");
  assert.deepEqual(compileInChild(home, {}, include), { value: 7 });
});

test("cache: a truncated or damaged entry is recompiled, never loaded", () => {
  const home = path.join(scratch, "cache-corrupt");
  compileInChild(home);
  const [entry] = entries(home);
  const bytes = fs.readFileSync(entry.file);
  // Truncated: the dynamic loader alone might still accept the ELF part.
  fs.writeFileSync(entry.file, bytes.subarray(0, bytes.length - 10));
  assert.deepEqual(compileInChild(home), { value: 42 });
  let [now] = entries(home);
  assert.equal(now.size, entry.size);
  // One flipped byte inside the code.
  const damaged = fs.readFileSync(now.file);
  damaged[damaged.length >> 1] ^= 0xff;
  fs.writeFileSync(now.file, damaged);
  assert.deepEqual(compileInChild(home), { value: 42 });
  [now] = entries(home);
  assert.deepEqual(fs.readFileSync(now.file), bytes);
});

test("cache: CFFI_BUN_CACHE=0 and cache: false store nothing", () => {
  const home = path.join(scratch, "cache-off");
  assert.deepEqual(compileInChild(home, { CFFI_BUN_CACHE: "0" }), { value: 42 });
  assert.deepEqual(entries(home), []);
  const value = runChild(
    `const { cc } = require(${JSON.stringify(root)});
     const lib = cc({ source: "int one(void) { return 1; }", cache: false, symbols: { one: { returns: "int" } } });
     process.stdout.write(JSON.stringify(lib.symbols.one()));`,
    { XDG_CACHE_HOME: home },
  );
  assert.equal(value, 1);
  assert.deepEqual(entries(home), []);
});

test("without TinyCC, cc() says what to install and dlopen still works", () => {
  const libc = process.platform === "linux" ? "libc.so.6" : `libc.${suffix}`;
  const result = runChild(
    `const { cc, dlopen } = require(${JSON.stringify(root)});
     let message = null;
     try { cc({ source: "int f(void) { return 1; }", symbols: { f: { returns: "int" } } }); }
     catch (error) { message = error.message; }
     const lib = dlopen(${JSON.stringify(libc)}, { abs: { args: ["int"], returns: "int" } });
     process.stdout.write(JSON.stringify({ message, abs: lib.symbols.abs(-3) }));`,
    { CFFI_BUN_CC_UNAVAILABLE: "1" },
  );
  assert.match(result.message, /TinyCC/);
  assert.match(result.message, /apt-get install tcc libtcc-dev/);
  assert.equal(result.abs, 3);
  void dlopen;
});
