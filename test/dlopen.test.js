"use strict";
const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const { dlopen } = require("..");
const { fixturePath } = require("./helpers/fixture");
const { LIBC, isLinux, libraryMapped: mapped } = require("./helpers/platform.js");

const FIX = fixturePath();
const DEF = {
  identity_i32: { args: ["i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  no_args: { returns: "i32" },
};


function copyFixture(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-dlopen-"));
  const p = path.join(dir, name);
  fs.copyFileSync(FIX, p);
  return p;
}

describe("dlopen: where the library comes from", () => {
  test(`a system library name (${LIBC})`, () => {
    const lib = dlopen(LIBC, { abs: { args: ["i32"], returns: "i32" } });
    try {
      assert.equal(lib.symbols.abs(-42), 42);
    } finally {
      lib.close();
    }
  });

  test("an absolute path; returns { symbols, close }", () => {
    const lib = dlopen(FIX, DEF);
    try {
      assert.equal(typeof lib, "object");
      assert.equal(typeof lib.close, "function");
      assert.equal(typeof lib.symbols, "object");
      assert.deepEqual(Object.keys(lib.symbols).sort(), Object.keys(DEF).sort());
      for (const k of Object.keys(DEF)) assert.equal(typeof lib.symbols[k], "function", k);
      assert.equal(lib.symbols.identity_i32(-7), -7);
      assert.equal(lib.symbols.add_i32(40, 2), 42);
    } finally {
      lib.close();
    }
  });

  test("each bound function has a numeric .ptr (the symbol's address)", () => {
    const lib = dlopen(FIX, DEF);
    const other = dlopen(FIX, { identity_i32: { args: ["i32"], returns: "i32" } });
    try {
      const p = lib.symbols.identity_i32.ptr;
      assert.equal(typeof p, "number");
      assert.ok(p > 0);
      assert.equal(other.symbols.identity_i32.ptr, p, "same symbol, same address");
      assert.notEqual(lib.symbols.add_i32.ptr, p);
    } finally {
      lib.close();
      other.close();
    }
  });

  test("a path relative to process.cwd()", () => {
    const rel = path.relative(process.cwd(), FIX);
    assert.ok(!path.isAbsolute(rel));
    const lib = dlopen(rel, DEF);
    try {
      assert.equal(lib.symbols.no_args(), 12345);
    } finally {
      lib.close();
    }
    const cwd = process.cwd();
    process.chdir(path.dirname(FIX));
    try {
      const lib2 = dlopen("./" + path.basename(FIX), DEF);
      assert.equal(lib2.symbols.add_i32(1, 2), 3);
      lib2.close();
    } finally {
      process.chdir(cwd);
    }
  });

  test("a bare name not on the loader path is also tried in the current directory", () => {
    const cwd = process.cwd();
    process.chdir(path.dirname(FIX));
    try {
      const lib = dlopen(path.basename(FIX), DEF);
      assert.equal(lib.symbols.add_i32(2, 3), 5);
      lib.close();
    } finally {
      process.chdir(cwd);
    }
  });

  test("a file: URL string and a URL object", () => {
    const url = pathToFileURL(FIX);
    const a = dlopen(url.href, DEF);
    const b = dlopen(url, DEF);
    try {
      assert.equal(a.symbols.identity_i32(11), 11);
      assert.equal(b.symbols.identity_i32(12), 12);
    } finally {
      a.close();
      b.close();
    }
  });

  test("definitions may omit args and returns (no args, void)", () => {
    const lib = dlopen(FIX, {
      void_fn: {},
      void_fn_calls: { returns: "i32" },
      no_args: { args: [] },
    });
    try {
      const n = lib.symbols.void_fn_calls();
      assert.equal(lib.symbols.void_fn(), undefined);
      assert.equal(lib.symbols.void_fn_calls(), n + 1);
      assert.equal(lib.symbols.no_args(), undefined, "returns omitted means void");
    } finally {
      lib.close();
    }
  });
});

describe("dlopen: errors are exceptions, not crashes", () => {
  let lib;
  before(() => {
    lib = dlopen(FIX, DEF);
  });
  after(() => lib.close());
  const stillWorks = () => assert.equal(lib.symbols.add_i32(20, 22), 42);

  test("library not found names the path and the loader's reason", () => {
    const missing = "/nonexistent-dir/libcffi-bun-nope.so";
    assert.throws(() => dlopen(missing, DEF), (e) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /\/nonexistent-dir\/libcffi-bun-nope\.so/);
      if (isLinux) assert.match(e.message, /No such file or directory|cannot open shared object/); // the loader's own words
      return true;
    });
    assert.throws(() => dlopen("libcffi-bun-no-such-lib.so", DEF), {
      message: /libcffi-bun-no-such-lib\.so/,
    });
    stillWorks();
  });

  test("a file that is not a shared library gives the loader's reason", { skip: !isLinux && "the reason is the Linux loader's wording" }, () => {
    const notLib = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-bad-")), "bad.so");
    fs.writeFileSync(notLib, "this is not an ELF file\n");
    assert.throws(() => dlopen(notLib, DEF), { message: /bad\.so.*(invalid ELF header|file too short)/s });
    stillWorks();
  });

  test("symbol not found names the symbol and the library", () => {
    assert.throws(
      () => dlopen(FIX, { identity_i32: DEF.identity_i32, no_such_symbol_xyz: { returns: "i32" } }),
      (e) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, /no_such_symbol_xyz/);
        assert.match(e.message, /libfixture/);
        return true;
      }
    );
    stillWorks();
  });

  test("unknown type name names the type and the symbol", () => {
    assert.throws(() => dlopen(FIX, { identity_i32: { args: ["int33"], returns: "i32" } }), {
      message: /(?=[\s\S]*int33)(?=[\s\S]*identity_i32)/,
    });
    assert.throws(() => dlopen(FIX, { identity_i32: { args: ["i32"], returns: "float128" } }), {
      message: /(?=[\s\S]*float128)(?=[\s\S]*identity_i32)/,
    });
    assert.throws(() => dlopen(FIX, { identity_i32: { args: [99], returns: "i32" } }), {
      message: /(?=[\s\S]*99)(?=[\s\S]*identity_i32)/,
    });
    stillWorks();
  });

  test("void as an argument type is refused", () => {
    assert.throws(() => dlopen(FIX, { identity_i32: { args: ["void"], returns: "i32" } }), {
      message: /(?=[\s\S]*void)(?=[\s\S]*identity_i32)/,
    });
    assert.throws(() => dlopen(FIX, { identity_i32: { args: [13], returns: "i32" } }), {
      message: /identity_i32/,
    });
    stillWorks();
  });

  test("a definition that is not an object is refused", () => {
    for (const bad of [5, "i32", true, null]) {
      assert.throws(() => dlopen(FIX, { identity_i32: bad }), { message: /identity_i32/ }, String(bad));
    }
    stillWorks();
  });

  test('dlopen(path, {}) throws "Expected at least one symbol"', () => {
    assert.throws(() => dlopen(FIX, {}), { message: /Expected at least one symbol/ });
    stillWorks();
  });

  test("a path that is not a string or URL throws", () => {
    assert.throws(() => dlopen(42, DEF));
    assert.throws(() => dlopen(undefined, DEF));
    stillWorks();
  });
});

describe("close()", () => {
  test("calling a function after close() throws a clear Error", () => {
    const lib = dlopen(FIX, DEF);
    const { identity_i32 } = lib.symbols;
    assert.equal(identity_i32(1), 1);
    lib.close();
    assert.throws(() => identity_i32(1), (e) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /closed/i);
      return true;
    });
    assert.throws(() => lib.symbols.no_args(), { message: /closed/i });
  });

  test("close() twice is harmless", () => {
    const lib = dlopen(FIX, DEF);
    lib.close();
    lib.close();
    assert.throws(() => lib.symbols.add_i32(1, 2), { message: /closed/i });
  });

  test("close is bound: const { close } = lib; close() works", () => {
    const lib = dlopen(FIX, DEF);
    const { close, symbols } = lib;
    close();
    assert.throws(() => symbols.add_i32(1, 2), { message: /closed/i });
  });

  test("closing one handle leaves another handle to the same library working", () => {
    const a = dlopen(FIX, DEF);
    const b = dlopen(FIX, DEF);
    a.close();
    assert.equal(b.symbols.add_i32(5, 6), 11);
    b.close();
  });

  test("close() unmaps the library (/proc/self/maps, or the Windows loader)", { skip: mapped(FIX) === null && "no way to ask what is mapped on this OS" }, () => {
    const p = copyFixture("libcffi-unmap-check.so");
    assert.equal(mapped(p), false);
    const lib = dlopen(p, DEF);
    assert.equal(lib.symbols.no_args(), 12345);
    assert.equal(mapped(p), true, "mapped while open");
    lib.close();
    assert.equal(mapped(p), false, "unmapped after close()");
  });
});

describe("lifetime", () => {
  test("bound functions keep working after the library object is collected", async () => {
    const v8 = require("node:v8");
    const vm = require("node:vm");
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    const add = (() => dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } }).symbols.add_i32)();
    const { symbols } = dlopen(FIX, { no_args: { returns: "i32" } });
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(add(2, 3), 5);
    assert.equal(symbols.no_args(), 12345);
  });
});

describe("argument errors", () => {
  let lib;
  before(() => {
    lib = dlopen(FIX, {
      add_i32: { args: ["i32", "i32"], returns: "i32" },
      add_i64: { args: ["i64", "i64"], returns: "i64" },
      add_f64: { args: ["f64", "f64"], returns: "f64" },
      add_f32: { args: ["f32", "f32"], returns: "f32" },
      identity_ptr: { args: ["ptr"], returns: "ptr" },
      add_u8: { args: ["u8", "u8"], returns: "u8" },
      my_strlen: { args: ["cstring"], returns: "usize" },
      mixed12: {
        args: ["i8", "f64", "i32", "f32", "i64", "f64", "u16", "f32", "u64", "f64", "i32", "f64"],
        returns: "f64",
      },
    });
  });
  after(() => lib.close());
  const stillWorks = () => assert.equal(lib.symbols.add_i32(20, 22), 42);

  test("too few arguments: TypeError naming symbol, args[N] and the type", () => {
    const S = lib.symbols;
    assert.throws(() => S.add_i32(1), {
      name: "TypeError",
      message: /(?=[\s\S]*add_i32)(?=[\s\S]*args\[1\])(?=[\s\S]*(i32|int32_t))/,
    });
    assert.throws(() => S.add_i32(), {
      name: "TypeError",
      message: /(?=[\s\S]*add_i32)(?=[\s\S]*args\[0\])/,
    });
    assert.throws(() => S.add_i64(1n), {
      name: "TypeError",
      message: /(?=[\s\S]*add_i64)(?=[\s\S]*args\[1\])(?=[\s\S]*(i64|int64_t))/,
    });
    assert.throws(() => S.add_f64(1), {
      name: "TypeError",
      message: /(?=[\s\S]*add_f64)(?=[\s\S]*args\[1\])(?=[\s\S]*(f64|double))/,
    });
    assert.throws(() => S.identity_ptr(), {
      name: "TypeError",
      message: /(?=[\s\S]*identity_ptr)(?=[\s\S]*args\[0\])(?=[\s\S]*(ptr|pointer|void\*))/,
    });
    assert.throws(() => S.mixed12(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), {
      name: "TypeError",
      message: /(?=[\s\S]*mixed12)(?=[\s\S]*args\[11\])(?=[\s\S]*(f64|double))/,
    });
    stillWorks();
  });

  test("a string for i32 is a TypeError naming symbol, position and type", () => {
    assert.throws(() => lib.symbols.add_i32(1, "2"), {
      name: "TypeError",
      message: /(?=[\s\S]*add_i32)(?=[\s\S]*args\[1\])(?=[\s\S]*(i32|int32_t))/,
    });
    stillWorks();
  });

  test("an object for ptr is a TypeError", () => {
    assert.throws(() => lib.symbols.identity_ptr({}), {
      name: "TypeError",
      message: /(?=[\s\S]*identity_ptr)(?=[\s\S]*args\[0\])(?=[\s\S]*(ptr|pointer))/,
    });
    assert.throws(() => lib.symbols.identity_ptr({ ptr: "nope" }), { name: "TypeError", message: /identity_ptr/ });
    assert.throws(() => lib.symbols.identity_ptr(() => 1), { name: "TypeError", message: /identity_ptr/ });
    stillWorks();
  });

  test("Symbol, null, undefined, {} and a boolean for integer/float types are TypeErrors", () => {
    const S = lib.symbols;
    for (const bad of [Symbol("s"), null, undefined, {}, [], "1"]) {
      const what = typeof bad === "symbol" ? "Symbol" : JSON.stringify(bad) ?? String(bad);
      assert.throws(() => S.add_i32(bad, 1), { name: "TypeError", message: /(?=[\s\S]*add_i32)(?=[\s\S]*args\[0\])/ }, `i32 ${what}`);
      assert.throws(() => S.add_u8(1, bad), { name: "TypeError", message: /(?=[\s\S]*add_u8)(?=[\s\S]*args\[1\])/ }, `u8 ${what}`);
      assert.throws(() => S.add_i64(bad, 1n), { name: "TypeError", message: /add_i64/ }, `i64 ${what}`);
      assert.throws(() => S.add_f64(1, bad), { name: "TypeError", message: /add_f64/ }, `f64 ${what}`);
      assert.throws(() => S.add_f32(bad, 1), { name: "TypeError", message: /add_f32/ }, `f32 ${what}`);
      stillWorks();
    }
  });

  test("cstring rejects numbers that are not pointers-like kinds (Symbol, {}, boolean)", () => {
    for (const bad of [Symbol("s"), {}, true]) {
      assert.throws(() => lib.symbols.my_strlen(bad), { name: "TypeError", message: /my_strlen/ });
    }
    assert.throws(() => lib.symbols.my_strlen(), { name: "TypeError", message: /my_strlen/ });
    stillWorks();
  });

  test("extra arguments are ignored", () => {
    assert.equal(lib.symbols.add_i32(1, 2, 3, "x", {}), 3);
    assert.equal(lib.symbols.add_i64(1n, 2, Symbol("extra")), 3n);
  });

  test("error position is counted from 0 in a long signature", () => {
    const args = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    args[7] = "bad";
    assert.throws(() => lib.symbols.mixed12(...args), {
      name: "TypeError",
      message: /(?=[\s\S]*mixed12)(?=[\s\S]*args\[7\])(?=[\s\S]*(f32|float))/,
    });
    stillWorks();
  });
});
