"use strict";
// cc() never kills the host and says what went wrong (issue 15 items 1, 5-8;
// issue 22 item 9): every TinyCC error, including the ones libtcc answers
// with exit(1), is a JS Error; deep nesting is compiled on a big stack or
// refused; diagnostics keep their lines, Bun's first line and the warnings;
// sources, abi and run-time files behave as documented in docs/cc.md.
const test = require("node:test");
// Where cc() is unavailable (Windows, macOS, a build without TinyCC), this
// file is one skipped test giving cc()'s own reason.
const { ccUnavailable } = require("./helpers/platform.js");
if (ccUnavailable()) return void test("cc() is unavailable here", { skip: ccUnavailable() }, () => {});
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync, execFileSync } = require("node:child_process");

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-cc-errors-"));
process.env.XDG_CACHE_HOME = path.join(scratch, "cache");
delete process.env.CFFI_BUN_CACHE;
delete process.env.CFFI_BUN_TCC_DIR;
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const root = path.join(__dirname, "..");
const { cc } = require("..");
const { timeScale } = require("./helpers/platform.js");

// Runs script in a fresh node; its last stdout line is JSON.
function child(script, env = {}) {
  const r = spawnSync(process.execPath, ["-e", script], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: timeScale(60000),
  });
  assert.equal(r.signal, null, `child killed by ${r.signal}:\n${r.stderr}`);
  assert.equal(r.status, 0, `child exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const ONE = { f: { returns: "int" } };

test("options TinyCC rejects become JS Errors and the process goes on (exit(1) trapped)", () => {
  // In a child: without the trap each of these ends the process with status 1.
  const results = child(`
    const { cc } = require(".");
    const out = [];
    for (const flags of ["-Wl,-z,now", "-Wl,--no-as-needed", "-Wl,-O1", "-o", "-I"]) {
      for (const cache of [false, true]) {
        try { cc({ source: "int f(void) { return 1; }", flags, cache, symbols: { f: { returns: "int" } } }); out.push("compiled"); }
        catch (e) { out.push(e.constructor.name + ": " + e.message.split("\\n").slice(0, 3).join(" | ")); }
      }
    }
    out.push(cc({ source: "int f(void) { return 7; }", symbols: { f: { returns: "int" } } }).symbols.f());
    console.log(JSON.stringify(out));
  `);
  const last = results.pop();
  assert.equal(last, 7);
  const expected = [
    /unsupported linker option '-z,now'/,
    /unsupported linker option '--no-as-needed'/,
    /unsupported linker option '-O1'/,
    /argument to '-o' is missing/,
    /argument to '-I' is missing/,
  ];
  expected.forEach((pattern, i) => {
    for (const r of [results[2 * i], results[2 * i + 1]]) {
      assert.match(r, /^Error: 1 errors while compiling source \| cc\(\) failed to compile: \| tcc: error: /);
      assert.match(r, pattern);
    }
  });
});

test("flags: an @file list file is read in its place (TinyCC's own expansion double-frees: SIGSEGV)", () => {
  const lists = path.join(scratch, "lists");
  fs.mkdirSync(lists, { recursive: true });
  fs.writeFileSync(path.join(lists, "outer.rsp"), `-DX=3 "-DY=4"\n@${path.join(lists, "inner.rsp")}\n`);
  fs.writeFileSync(path.join(lists, "inner.rsp"), "-DZ=5");
  fs.writeFileSync(path.join(lists, "self.rsp"), `@${path.join(lists, "self.rsp")}`);
  // In a child: before, each list file that exists killed the process.
  const results = child(`
    const { cc } = require(".");
    const source = "#ifndef Y\\n#define Y 0\\n#endif\\n#ifndef Z\\n#define Z 0\\n#endif\\nint f(void) { return X * 100 + Y * 10 + Z; }";
    const out = [];
    const lists = ${JSON.stringify(lists)};
    for (const flags of [["@" + lists + "/outer.rsp"], "-DQ=1 @" + lists + "/outer.rsp", ["-DX=7", "-o", "@" + lists + "/outer.rsp"],
                         ["@" + lists + "/missing.rsp"], ["@" + lists + "/self.rsp"]]) {
      for (const cache of [false, true]) {
        try { out.push(cc({ source, flags, cache, symbols: { f: { returns: "int" } } }).symbols.f()); }
        catch (e) { out.push(e.constructor.name + ": " + e.message); }
      }
    }
    console.log(JSON.stringify(out));
  `);
  assert.deepEqual(results.slice(0, 6), [345, 345, 345, 345, 700, 700]); // "@x" after -o is -o's argument
  for (const r of results.slice(6, 8)) assert.match(r, /^Error: cc\(\): flags: cannot read list file '.*missing\.rsp': No such file or directory$/);
  for (const r of results.slice(8, 10)) assert.match(r, /^Error: cc\(\): flags: list file '.*self\.rsp' is nested more than 16 deep/);
  // The file's words reach the cache key: a changed list file is compiled again.
  fs.writeFileSync(path.join(lists, "inner.rsp"), "-DZ=9");
  const again = child(`
    const { cc } = require(".");
    console.log(JSON.stringify(cc({ source: "int f(void) { return X * 100 + Y * 10 + Z; }", flags: ["@" + ${JSON.stringify(lists)} + "/outer.rsp"],
      cache: true, symbols: { f: { returns: "int" } } }).symbols.f()));
  `);
  assert.equal(again, 349);
});

test("a link-time error in tcc_relocate (thread-local storage in a gcc-built .a) is a JS Error; no temporary file is left", () => {
  const dir = path.join(scratch, "tls");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "tls.c"), "__thread int counter;\nint bump(void) { return ++counter; }\n");
  execFileSync(process.env.CC || "cc", ["-c", "-O1", "-o", path.join(dir, "tls.o"), path.join(dir, "tls.c")]);
  execFileSync("ar", ["rcs", path.join(dir, "libtlsfixture.a"), path.join(dir, "tls.o")]);
  const cacheHome = path.join(scratch, "tls-cache");
  const results = child(
    `
    const { cc } = require(".");
    const out = [];
    for (const cache of [false, true]) {
      try { cc({ cache, source: "int bump(void); int f(void) { return bump(); }", library: "tlsfixture", flags: ["-L", ${JSON.stringify(dir)}], symbols: { f: { returns: "int" } } }); out.push("compiled"); }
      catch (e) { out.push(e.message); }
    }
    out.push(cc({ source: "int f(void) { return 3; }", symbols: { f: { returns: "int" } } }).symbols.f());
    console.log(JSON.stringify(out));
  `,
    { XDG_CACHE_HOME: cacheHome },
  );
  assert.equal(results.pop(), 3);
  for (const message of results) assert.match(message, /^1 errors while compiling source\ncc\(\) failed to compile:\ntcc: error: .*relocation/);
  const left = fs.readdirSync(path.join(cacheHome, "cffi-bun")).filter((name) => name.startsWith(".tmp"));
  assert.deepEqual(left, []);
});

test("deep nesting: 20,000 parentheses compile on the main thread, 10,000 in a worker; beyond the limit an error", () => {
  const results = child(`
    const { cc } = require(".");
    const { Worker } = require("node:worker_threads");
    const nested = (n) => "int f(void) { return " + "(".repeat(n) + "1" + ")".repeat(n) + "; }";
    const out = [cc({ source: nested(20000), cache: false, symbols: { f: { returns: "int" } } }).symbols.f()];
    out.push(cc({ source: "int f(void) {" + "{".repeat(20000) + "}".repeat(20000) + " return 2; }", cache: false, symbols: { f: { returns: "int" } } }).symbols.f());
    try { cc({ source: nested(200000), symbols: { f: { returns: "int" } } }); out.push("compiled"); }
    catch (e) { out.push(e.message.split("\\n")[2]); }
    const w = new Worker(\`
      const { cc } = require(\${JSON.stringify(process.cwd())});
      const n = 10000;
      const src = "int f(void) { return " + "(".repeat(n) + "3" + ")".repeat(n) + "; }";
      require("node:worker_threads").parentPort.postMessage(cc({ source: src, cache: false, symbols: { f: { returns: "int" } } }).symbols.f());
    \`, { eval: true });
    w.on("message", (v) => { out.push(v); console.log(JSON.stringify(out)); });
  `);
  assert.deepEqual(results, [1, 2, "source: error: brackets nested 200001 deep; cc() accepts at most 100000 levels", 3]);
});

// A macro that doubles at each level: A<n> expands to 2^n tokens.
function doubling(levels, body) {
  let text = "#define A0 1\n";
  for (let i = 1; i <= levels; i++) text += `#define A${i} (A${i - 1}+A${i - 1})\n`;
  return text + body;
}
const limitError = (line, what) =>
  `1 errors while compiling source\ncc() failed to compile:\n${line}error: cc() stopped the compile ${what}, or Infinity, to allow more)`;

test("limits: a doubling macro stops at memoryLimit or timeLimit with an Error naming its line; cc() works after", () => {
  const cacheDir = path.join(scratch, "cache", "cffi-bun");
  const bomb = doubling(26, "int f(void) { return A26; }\n");
  const cached = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).sort() : []);
  const before = cached();
  for (const cache of [false, true]) {
    assert.throws(
      () => cc({ source: bomb, cache, memoryLimit: 50e6, symbols: { f: { returns: "int" } } }),
      { message: limitError("source:28: ", "at its memoryLimit of 50000000 bytes: TinyCC needed more (pass a larger memoryLimit") },
    );
    // No allocation is left to check the clock: the preprocessor expands
    // #if's 2^40 tokens without keeping them.
    assert.throws(
      () => cc({ source: doubling(40, "#if A40\n#endif\nint f(void) { return 1; }\n"), cache, timeLimit: 300, symbols: { f: { returns: "int" } } }),
      { message: limitError("source:42: ", "after its timeLimit of 300 ms (pass a larger timeLimit") },
    );
  }
  // A compile stopped at a limit is not remembered (a larger limit may compile it).
  assert.deepEqual(cached(), before);
  // Infinity lifts a limit; a small macro fits in the default ones.
  const small = doubling(12, "int f(void) { return A12; }\n");
  assert.equal(cc({ source: small, cache: false, memoryLimit: Infinity, timeLimit: Infinity, symbols: { f: { returns: "int" } } }).symbols.f(), 4096);
  assert.equal(cc({ source: small, cache: false, symbols: { f: { returns: "int" } } }).symbols.f(), 4096);
});

test("limits: linking is limited too (relocating a 1.5 GB .bss in memory stops at memoryLimit)", () => {
  assert.throws(
    () => cc({ source: "static char big[1500000000];\nint f(void) { return big[7]; }\n", cache: false, memoryLimit: 50e6, symbols: { f: { returns: "int" } } }),
    { message: limitError("", "at its memoryLimit of 50000000 bytes: TinyCC needed more (pass a larger memoryLimit") },
  );
});

test("limits: every memoryLimit either compiles or throws the limit's Error, and nothing reaches stderr", () => {
  // In a child, so that TinyCC writing to stderr (its habit for errors
  // outside a compilation) would be seen.
  const r = spawnSync(process.execPath, ["-e", `
    const { cc } = require(".");
    const out = new Set();
    for (let limit = 1; limit < 4e6; limit = Math.ceil(limit * 1.3)) for (const cache of [false, true]) {
      try { out.add("f() = " + cc({ source: "#include <stdio.h>\\nint f(void) { return 1; }", cache, memoryLimit: limit, symbols: { f: { returns: "int" } } }).symbols.f()); }
      catch (e) { // the place it stopped is wherever TinyCC was (a header, or none)
        const lines = e.message.split("\\n");
        out.add([lines[0], lines[1], lines.pop().replace(/^.*?error: /, "error: ").replace(/of \\d+ bytes/, "of N bytes")].join("\\n"));
      }
    }
    out.add("after: " + cc({ source: "int g(void) { return 7; }", symbols: { g: { returns: "int" } } }).symbols.g());
    console.log(JSON.stringify([...out]));
  `], { cwd: root, env: process.env, encoding: "utf8", timeout: timeScale(120000) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.deepEqual(JSON.parse(r.stdout).sort(), [
    limitError("", "at its memoryLimit of N bytes: TinyCC needed more (pass a larger memoryLimit"),
    "after: 7",
    "f() = 1",
  ]);
});

test("limits: a refusal at every allocation a limit can stop (CFFI_BUN_TEST_CC_REFUSE_AT) throws, and cc() works after", () => {
  // A limit refuses whichever allocation crosses it: walking the refusal
  // over each one of a compile reaches every place it can land. Refusals
  // while TinyCC's preprocessor started up crashed its cleanup (tccpp_delete).
  const r = spawnSync(process.execPath, ["-e", `
    const { cc } = require(".");
    const out = new Set();
    let n = 0;
    for (;; n++) {
      process.env.CFFI_BUN_TEST_CC_REFUSE_AT = String(n);
      try { out.add("f() = " + cc({ source: "#include <stdio.h>\\nint f(void) { return 1; }", cache: false, symbols: { f: { returns: "int" } } }).symbols.f()); break; }
      catch (e) { out.add(e.message.split("\\n").pop().replace(/^.*?error: /, "error: ").replace(/allocation \\d+/, "allocation N")); }
    }
    delete process.env.CFFI_BUN_TEST_CC_REFUSE_AT;
    out.add("after: " + cc({ source: "int g(void) { return 7; }", cache: false, symbols: { g: { returns: "int" } } }).symbols.g());
    console.log(JSON.stringify({ n, out: [...out] }));
  `], { cwd: root, env: process.env, encoding: "utf8", timeout: timeScale(120000) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  const { n, out } = JSON.parse(r.stdout);
  assert.ok(n > 100, `only ${n} allocations could be refused`);
  assert.deepEqual(out.sort(), ["after: 7", "error: cc() stopped the compile at allocation N (CFFI_BUN_TEST_CC_REFUSE_AT)", "f() = 1"]);
});

test("limits: memoryLimit and timeLimit take a positive number or Infinity; anything else is a TypeError", () => {
  const symbols = { f: { returns: "int" } };
  for (const [name, unit] of [["memoryLimit", "bytes"], ["timeLimit", "milliseconds"]]) {
    for (const [value, received] of [[0, "0"], [-1, "-1"], [-1234567, "-1234567"], [-1.5e308, "-1.5e+308"], [NaN, "NaN"], [-Infinity, "-Infinity"], ["1GB", "a string"], [{}, "an object"], [1n, "a BigInt"], [true, "a boolean"]]) {
      assert.throws(() => cc({ source: "int f(void) { return 1; }", symbols, [name]: value }), {
        name: "TypeError",
        message: `cc() option "${name}" must be a positive number of ${unit}, or Infinity for no limit, received ${received}`,
      });
    }
    // Past 2^62 bytes or 10^12 ms: no limit (the budget's arithmetic would overflow).
    for (const value of [undefined, null, name === "memoryLimit" ? 1e9 + 0.5 : 60000.5, 2 ** 63, 1e19, 18446744073709, 1e300, Infinity])
      assert.equal(cc({ source: "int f(void) { return 1; }", cache: false, symbols, [name]: value }).symbols.f(), 1);
  }
});

test("diagnostics: the right line, Bun's first line, no 'In file included from' for the source itself", () => {
  const file = path.join(scratch, "bad.c");
  fs.writeFileSync(file, "int add(int a, int b) {\n  return a  b;\n}\n");
  for (const cache of [false, true]) {
    assert.throws(
      () => cc({ source: file, cache, symbols: { add: { args: ["int", "int"], returns: "int" } } }),
      (e) => {
        assert.equal(e.message, `1 errors while compiling ${file}\ncc() failed to compile:\n${file}:2: error: ';' expected (got "b")`);
        return true;
      },
    );
  }
  // A missing ';' is reported where it is missing (TinyCC names the next line).
  const semi = path.join(scratch, "semi.c");
  fs.writeFileSync(semi, "int f(void) {\n  int x = 2\n\n  return x;\n}\n");
  for (const source of [semi, "int f(void) {\n  int x = 2\n\n  return x;\n}\n"]) {
    assert.throws(() => cc({ source, symbols: ONE }), (e) => e.message.endsWith(`${source === semi ? semi : "source"}:2: error: ';' expected (got "return")`));
  }
  assert.throws(() => cc({ source: ["int g;", "int f(void) {\n  return 1\n}"], symbols: ONE }), /\nsource\[1\]:2: error: ';' expected \(got "}"\)$/);
  // Inline code: line 1 is the first line of the string.
  assert.throws(() => cc({ source: "int f(void) {\n  return x;\n}", symbols: ONE }), /\nsource:2: error: 'x' undeclared/);
  // An error inside a header names the chain (that line is useful there).
  const header = path.join(scratch, "broken.h");
  fs.writeFileSync(header, "int broken(void) { return nope; }\n");
  assert.throws(
    () => cc({ source: `#include "${header}"\nint f(void) { return 0; }`, symbols: ONE }),
    (e) => /In file included from source:1:/.test(e.message) && e.message.includes(`${header}:1: error: 'nope' undeclared`),
  );
});

test("warnings are kept: on the result's warnings array (Bun turns them into errors)", () => {
  for (const cache of [false, true]) {
    const lib = cc({ source: "int f(void) { int *p = 5; return p != 0; }", cache, symbols: ONE });
    assert.equal(lib.symbols.f(), 1);
    assert.deepEqual(lib.warnings, ["source:1: warning: assignment makes pointer from integer without a cast"]);
    lib.close();
  }
  const clean = cc({ source: "int f(void) { return 0; }", symbols: ONE });
  assert.deepEqual(clean.warnings, []);
  clean.close();
});

test("a string naming an existing file is a path, even with ';', '{' or a newline in it", () => {
  for (const name of ["semi;colon.c", "brace{.c", "new\nline.c"]) {
    const file = path.join(scratch, name);
    fs.writeFileSync(file, "int f(void) { return 11; }\n");
    const lib = cc({ source: file, symbols: ONE });
    assert.equal(lib.symbols.f(), 11, JSON.stringify(name));
    lib.close();
  }
  // Code is still code.
  const lib = cc({ source: "int f(void) { return 12; }", symbols: ONE });
  assert.equal(lib.symbols.f(), 12);
  lib.close();
});

test("abi: values TinyCC cannot honour are refused; the default ones work", () => {
  const source = "int sub(int a, int b) { return a - b; }";
  // x86-64 has a second convention (win64) that TinyCC cannot compile for;
  // on AArch64 every name dlopen accepts there is the default one, so
  // win64 is refused as for dlopen. The names for the default compile.
  const arm64 = process.arch === "arm64";
  const refused = arm64
    ? /^Error: ABI "win64" \(symbol "sub"\) is not supported on linux arm64; supported here: default, sysv, cdecl$/
    : /^Error: cc\(\) symbol "sub": abi "win64" cannot be honoured; TinyCC compiles every function with this platform's default calling convention/;
  for (const cache of [false, true]) {
    assert.throws(() => cc({ source, cache, symbols: { sub: { args: ["int", "int"], returns: "int", abi: "win64" } } }), refused);
    for (const abi of ["default", undefined, "sysv", "cdecl", ...(arm64 ? [] : ["unix64"])]) {
      const lib = cc({ source, cache, symbols: { sub: { args: ["int", "int"], returns: "int", abi } } });
      assert.equal(lib.symbols.sub(10, 3), 7);
      lib.close();
    }
  }
  assert.throws(() => cc({ source, symbols: { sub: { args: ["int"], returns: "int", abi: "bogus" } } }), /Unknown ABI "bogus"/);
});

test("run-time files: missing TinyCC files name the tcc package, a missing <stdio.h> names libc6-dev", () => {
  const empty = path.join(scratch, "no-tcc");
  fs.mkdirSync(empty);
  const results = child(
    `
    const { cc } = require(".");
    const out = [];
    for (const source of ["#include <stdarg.h>\\nint f(void) { return 0; }", "#include <float.h>\\nint f(void) { return 0; }", "int f(void) { return 0; }"]) {
      try { cc({ source, cache: false, symbols: { f: { returns: "int" } } }); out.push("compiled"); } catch (e) { out.push(e.message); }
    }
    console.log(JSON.stringify(out));
  `,
    { CFFI_BUN_TCC_DIR: empty },
  );
  assert.match(results[0], /include file 'stdarg\.h' not found/);
  assert.match(results[1], /include file 'float\.h' not found/);
  assert.match(results[2], /file '.*\/libtcc1\.a' not found/);
  for (const message of results) {
    assert.ok(message.includes(`TinyCC's run-time files (libtcc1.a, include/) were not found in ${empty}: install the \`tcc\` package`), message);
  }
  // Without the C library's headers (-nostdinc; only TinyCC's own directory
  // and Node's header directories stay on the path).
  assert.throws(
    () => cc({ source: "#include <stdio.h>\nint f(void) { return 0; }", flags: "-nostdinc", symbols: ONE }),
    /' not found\nThe C library's development files are missing: install `libc6-dev` \(Debian\/Ubuntu: `apt-get install libc6-dev`\)$/,
  );
});

test("run-time files beside the addon (tcc/ next to cffi_bun.node) are used first", () => {
  const system = ["/usr/lib/x86_64-linux-gnu/tcc", "/usr/lib/aarch64-linux-gnu/tcc"].find((d) => fs.existsSync(path.join(d, "libtcc1.a")));
  if (!system) return;
  // A copy of the package whose tcc/include has a marker header.
  const pkg = path.join(scratch, "pkg");
  fs.cpSync(path.join(root, "lib"), path.join(pkg, "lib"), { recursive: true });
  fs.copyFileSync(path.join(root, "package.json"), path.join(pkg, "package.json"));
  // The addon this process runs (the sanitizer build under npm run test:asan).
  const build = process.env.CFFI_BUN_ASAN === "1" ? "build-asan" : "build";
  const release = path.join(pkg, build, "Release");
  fs.mkdirSync(release, { recursive: true });
  fs.copyFileSync(path.join(root, build, "Release", "cffi_bun.node"), path.join(release, "cffi_bun.node"));
  fs.cpSync(system, path.join(release, "tcc"), { recursive: true });
  fs.writeFileSync(path.join(release, "tcc", "include", "beside-the-addon.h"), "#define BESIDE 42\n");
  // A linker script there is found too (how a package can stand in for libc6-dev's).
  fs.writeFileSync(path.join(release, "tcc", "libbesidefixture.so"), "GROUP ( libm.so.6 )\n");
  const results = child(
    `
    const { cc } = require(${JSON.stringify(pkg)});
    const out = [];
    for (const cache of [false, true]) {
      const lib = cc({ source: "#include <beside-the-addon.h>\\n#include <stdarg.h>\\ndouble sqrt(double);\\nint f(void) { return BESIDE + (int)sqrt(16.0); }",
        library: "besidefixture", cache, symbols: { f: { returns: "int" } } });
      out.push(lib.symbols.f());
    }
    console.log(JSON.stringify(out));
  `,
    { XDG_CACHE_HOME: path.join(scratch, "beside-cache") },
  );
  assert.deepEqual(results, [46, 46]);
});
