"use strict";
// Addresses that linkSymbols/CFunction (and dlopen's symbols) must refuse or
// guard when they are bound, because calling them would crash the process:
//  - a closed JSCallback's saved .ptr: its entry stub is free, and the next
//    stub taken (the new function's own tiering stub among them) reuses it,
//    so the call jumped into a Node-API entry with C's registers (SIGSEGV);
//  - other addresses inside the entry stubs that are not a live
//    JSCallback's (mid-stub);
//  - a data symbol (environ): calling it jumped into non-executable memory
//    (a SIGSEGV, as in Bun); now the call throws and .ptr stays.
// Each case runs in a child process, so a crash fails its test instead of
// ending the suite.
const { test } = require("node:test");
const assert = require("node:assert");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const ROOT = path.join(__dirname, "..");
const TIME_SCALE = Number(process.env.CFFI_BUN_TIME_SCALE) || 1;
// The stub area exists on x86-64 and AArch64 ELF (Linux); elsewhere a
// JSCallback is a libffi closure and these addresses are not recognised.
// CFFI_BUN_ENGINE=ffi makes every JSCallback a libffi closure too (a closed
// one answers 0 from quarantine: test/callbacks-libffi.test.js).
const stubsOnly = process.env.CFFI_BUN_ENGINE === "ffi" ? "CFFI_BUN_ENGINE=ffi: JSCallbacks are libffi closures, not entry stubs"
  : process.platform === "linux" && ["x64", "arm64"].includes(process.arch) ? false
  : "entry stubs are Linux x86-64/AArch64 only (src/platform/stubs.c)";

// Runs `body` in a child with the package as `ffi`; returns its stdout lines
// after checking it exited normally.
function runChild(body) {
  const source = `const ffi = require(${JSON.stringify(ROOT)});\n${body}`;
  const child = spawnSync(process.execPath, ["-e", source], { encoding: "utf8", timeout: 30000 * TIME_SCALE });
  assert.strictEqual(child.signal, null, `killed by ${child.signal}\n${child.stdout}${child.stderr}`);
  assert.strictEqual(child.status, 0, `exit ${child.status}\n${child.stdout}${child.stderr}`);
  return child.stdout.trim().split("\n");
}

const REPORT = `
function attempt(bind) {
  try {
    const f = bind();
    console.log("called: " + f());
  } catch (e) {
    console.log(e.constructor.name + " " + e.code + " " + e.message);
  }
}
`;

test("CFunction of a closed JSCallback's saved .ptr is a TypeError at bind time, not a crash", { skip: stubsOnly }, () => {
  const lines = runChild(`${REPORT}
    const cb = new ffi.JSCallback(() => 7, { args: [], returns: "i32" });
    const p = cb.ptr;
    const before = new ffi.CFunction({ ptr: p, args: [], returns: "i32" });
    console.log("live: " + before());
    cb.close();
    console.log("made before close: " + before());
    attempt(() => new ffi.CFunction({ ptr: p, args: [], returns: "i32" }));
    attempt(() => new ffi.CFunction({ ptr: BigInt(p), args: [], returns: "i32" }));
    // The next callback does not take the stub again (it waits for 256
    // newer releases); its own address is live and binds.
    const again = new ffi.JSCallback(() => 9, { args: [], returns: "i32" });
    console.log("reused: " + (again.ptr === p));
    attempt(() => new ffi.CFunction({ ptr: again.ptr, args: [], returns: "i32" }));
  `);
  assert.strictEqual(lines[0], "live: 7");
  assert.strictEqual(lines[1], "made before close: 0");
  for (const line of lines.slice(2, 4)) {
    assert.match(line, /^TypeError ERR_INVALID_ARG_TYPE Symbol "CFunction\d+" has an unusable "ptr" field\. .* is 0x[0-9a-f]+, the address of a closed JSCallback \(its entry stub is free/);
  }
  assert.strictEqual(lines[4], "reused: false");
  assert.strictEqual(lines[5], "called: 9");
});

// A function bound to a JSCallback that is closed later keeps its address.
// The stub was once reused by the next function's tiering stub, whose
// Node-API entry then read C's registers as its own: a SIGSEGV. Now such a
// call gets 0 until 256 newer callbacks are closed, and after that at worst
// runs another JSCallback (the stubs are two pools: src/platform/stubs.c).
test("a CFunction bound before its JSCallback closed: 0 after close, never a crash as stubs are reused", { skip: stubsOnly }, () => {
  const lines = runChild(`
    const cb = new ffi.JSCallback(() => 7, { args: [], returns: "i32" });
    const before = new ffi.CFunction({ ptr: cb.ptr, args: [], returns: "i32" });
    const viaLink = ffi.linkSymbols({ f: { ptr: cb.ptr, args: [], returns: "i32" } }).symbols.f;
    console.log("live: " + before() + " " + viaLink());
    cb.close();
    // New functions, each with its own tiering stub, then calls hot enough
    // to tier both up.
    const libc = ffi.dlopen("libc.so.6", { getpid: { args: [], returns: "i32" }, abs: { args: ["i32"], returns: "i32" } });
    let sum = 0;
    for (let i = 0; i < 2000; i++) sum += libc.symbols.abs(-1) + before() + viaLink();
    console.log("after new functions: " + before() + " " + viaLink() + " " + sum);
    // 100 callbacks made and closed: still fewer than the reuse delay.
    for (let i = 0; i < 100; i++) new ffi.JSCallback(() => 8, { args: [], returns: "i32" }).close();
    console.log("after 100 closed: " + before());
    // 400 more closed, then 400 live ones returning 9: one of those may
    // take the old stub, and the stale function then runs it.
    for (let i = 0; i < 400; i++) new ffi.JSCallback(() => 8, { args: [], returns: "i32" }).close();
    const live = [];
    for (let i = 0; i < 400; i++) live.push(new ffi.JSCallback(() => 9, { args: [], returns: "i32" }));
    const r = before();
    console.log("after reuse: " + (r === 0 || r === 9));
  `);
  assert.deepStrictEqual(lines, [
    "live: 7 7",
    "after new functions: 0 0 2000",
    "after 100 closed: 0",
    "after reuse: true",
  ]);
});

test("linkSymbols with a closed JSCallback's saved .ptr is a TypeError naming the symbol", { skip: stubsOnly }, () => {
  const lines = runChild(`${REPORT}
    const cb = new ffi.JSCallback((a, b) => a + b, { args: ["i32", "i32"], returns: "i32" });
    const p = cb.ptr;
    cb.close();
    attempt(() => { const lib = ffi.linkSymbols({ add_closed: { ptr: p, args: ["i32", "i32"], returns: "i32" } }); return () => lib.symbols.add_closed(1, 2); });
    // Nothing of the refused set is bound: the other symbol is not published either.
    attempt(() => ffi.linkSymbols({ fine: { ptr: ffi.ptr(new Uint8Array(8)), args: [], returns: "void" }, add_closed: { ptr: p, args: [], returns: "i32" } }));
  `);
  assert.match(lines[0], /^TypeError ERR_INVALID_ARG_TYPE Symbol "add_closed" has an unusable "ptr" field\. .*"ptr" of symbol "add_closed" is 0x[0-9a-f]+, the address of a closed JSCallback/);
  assert.match(lines[1], /^TypeError ERR_INVALID_ARG_TYPE Symbol "add_closed"/);
});

test("addresses inside the entry stubs that are not a live JSCallback's are refused", { skip: stubsOnly }, () => {
  const lines = runChild(`${REPORT}
    const cb = new ffi.JSCallback(() => 7, { args: [], returns: "i32" });
    const p = cb.ptr;
    attempt(() => new ffi.CFunction({ ptr: p + 1, args: [], returns: "i32" }));
    attempt(() => new ffi.CFunction({ ptr: p + 17, args: [], returns: "i32" }));
    // The closed threadsafe callback stays in quarantine with its stub
    // pointed at the closure entry, which answers 0: binding it is safe.
    const ts = new ffi.JSCallback(() => 5, { args: [], returns: "i32", threadsafe: true });
    const q = ts.ptr;
    ts.close();
    attempt(() => new ffi.CFunction({ ptr: q, args: [], returns: "i32" }));
    attempt(() => new ffi.CFunction({ ptr: p, args: [], returns: "i32" }));
  `);
  assert.match(lines[0], /^TypeError ERR_INVALID_ARG_TYPE .* is 0x[0-9a-f]+, inside cffi-bun's entry stubs, not the start of one/);
  assert.match(lines[1], /^TypeError ERR_INVALID_ARG_TYPE .* inside cffi-bun's entry stubs, not the start of one/);
  assert.strictEqual(lines[2], "called: 0");
  assert.strictEqual(lines[3], "called: 7");
});

// The loaded object's segment (ELF, Mach-O) or section (PE) holding the
// address says code or data: src/platform/symbol_kind.c.
const knowsDataSymbols = ["linux", "win32", "darwin"].includes(process.platform) ? false
  : "data symbols are recognised on Linux, Windows and macOS only (src/platform/symbol_kind.c)";
const linuxOnly = process.platform === "linux" ? false : "libc.so.6 is Linux's";

test("calling a fixture's exported variables (writable and read-only) is a TypeError; their .ptr reads them", { skip: knowsDataSymbols }, () => {
  const { buildFixture } = require("./helpers/fixture");
  const library = buildFixture("fixture.c");
  const lines = runChild(`${REPORT}
    const lib = ffi.dlopen(${JSON.stringify(library)}, {
      exported_counter: { args: [], returns: "i32" },
      exported_text: { args: ["ptr"], returns: "ptr" },
      identity_i32: { args: ["i32"], returns: "i32" },
    });
    const { exported_counter, exported_text, identity_i32 } = lib.symbols;
    attempt(() => exported_counter);
    attempt(() => exported_text);
    console.log("reads: " + ffi.read.i32(exported_counter.ptr) + " " + new ffi.CString(exported_text.ptr));
    console.log("code: " + identity_i32(-5));
    attempt(() => ffi.linkSymbols({ copy: { ptr: exported_counter.ptr, returns: "i32" } }).symbols.copy);
    lib.close();
  `);
  assert.strictEqual(lines[0], `TypeError ERR_INVALID_ARG_TYPE Cannot call "exported_counter": it is a data symbol (an object in "${library}"), not a function; read it through its .ptr (e.g. read.ptr(symbols.exported_counter.ptr))`);
  // Read-only data sits in a non-executable piece where the linker gives
  // it one (x86-64 ELF, PE's .rdata); AArch64 ELF (binutils without
  // -z separate-code) and Mach-O (__TEXT,__const) put it in the code's
  // segment, where it is not recognised: declared with an argument, the
  // call without one then throws before C runs.
  if ((process.platform === "linux" && process.arch === "x64") || process.platform === "win32")
    assert.match(lines[1], /^TypeError ERR_INVALID_ARG_TYPE Cannot call "exported_text": it is a data symbol/);
  else
    assert.match(lines[1], /^TypeError \S+ (Cannot call "exported_text": it is a data symbol|exported_text: args\[0\] \(ptr\) is missing)/);
  assert.strictEqual(lines[2], "reads: 7 fixture data");
  assert.strictEqual(lines[3], "code: -5");
  assert.match(lines[4], /^TypeError ERR_INVALID_ARG_TYPE Cannot call "copy": it is a data symbol \(an object in "linkSymbols"\)/);
});

test("calling a data symbol (environ, stdout) is a TypeError naming it; its .ptr still reads", { skip: linuxOnly }, () => {
  const lines = runChild(`${REPORT}
    const lib = ffi.dlopen("libc.so.6", {
      environ: { args: [], returns: "ptr" },
      stdout: { args: ["i32"], returns: "void" },
      getpid: { args: [], returns: "i32" },
    });
    const { environ, stdout, getpid } = lib.symbols;
    attempt(() => environ);
    attempt(() => stdout.native);
    console.log("ptr: " + (typeof environ.ptr) + " " + (environ.ptr > 4096) + " length: " + stdout.length);
    // Its .ptr reads (libc's own copy: the node binary may hold the one in use).
    console.log("reads: " + (typeof ffi.read.u64(environ.ptr) === "bigint"));
    console.log("getpid: " + (getpid() === process.pid));
    // The saved address given to linkSymbols is the same data symbol.
    attempt(() => ffi.linkSymbols({ env_copy: { ptr: environ.ptr, args: [], returns: "ptr" } }).symbols.env_copy);
    // Not a bound function for the other call paths either.
    attempt(() => () => ffi.batch().add(environ).run());
    lib.close();
    console.log("closed");
  `);
  assert.strictEqual(lines[0], 'TypeError ERR_INVALID_ARG_TYPE Cannot call "environ": it is a data symbol (an object in "libc.so.6"), not a function; read it through its .ptr (e.g. read.ptr(symbols.environ.ptr))');
  assert.match(lines[1], /^TypeError ERR_INVALID_ARG_TYPE Cannot call "stdout": it is a data symbol/);
  assert.strictEqual(lines[2], "ptr: number true length: 1");
  assert.strictEqual(lines[3], "reads: true");
  assert.strictEqual(lines[4], "getpid: true");
  assert.match(lines[5], /^TypeError ERR_INVALID_ARG_TYPE Cannot call "env_copy": it is a data symbol \(an object in "linkSymbols"\), not a function/);
  assert.match(lines[6], /^TypeError \S+ batch\.add\(\): entry 0: expected a function bound by dlopen/);
  assert.strictEqual(lines[7], "closed");
});

test("a closed JSCallback's saved .ptr stays refused once a later bind took its stub for tiering", { skip: stubsOnly }, () => {
  // Free stubs are reused last in, first out, and any new bound function
  // takes one for its tiering: the slot was then no longer vacant and the
  // CFunction bound to it jumped into that tiering entry (SIGSEGV).
  const lines = runChild(`${REPORT}
    const cb = new ffi.JSCallback(() => 1, { args: [], returns: "i32" });
    const p = cb.ptr;
    cb.close();
    ffi.dlopen("libc.so.6", { abs: { args: ["i32"], returns: "i32" } });
    attempt(() => new ffi.CFunction({ ptr: p, args: [], returns: "i32" }));
    console.log("survived");
  `);
  assert.match(lines[0], /^TypeError ERR_INVALID_ARG_TYPE .* the address of a closed JSCallback/);
  assert.strictEqual(lines[1], "survived");
});

test("a data symbol called past the node:ffi engine's tiering count still throws (the engine leaves it alone)", { skip: linuxOnly }, () => {
  // On Node 26 the node-ffi engine took any function of an eligible
  // definition; after 500 refused calls it bound environ in node:ffi and
  // the next call jumped into the data (SIGSEGV). Elsewhere this runs as a
  // plain loop of refusals.
  const lines = runChild(`
    const lib = ffi.dlopen("libc.so.6", { environ: { args: [], returns: "i32" }, stdout: { args: [], returns: "void" } });
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      try { lib.symbols.environ(); } catch (e) { if (e instanceof TypeError) refused++; }
      try { lib.symbols.stdout(); } catch (e) { if (e instanceof TypeError) refused++; }
    }
    console.log("refused " + refused);
  `);
  assert.deepStrictEqual(lines, ["refused 4000"]);
});
