"use strict";
// Tiering (src/calls/jit.c): by default a symbol starts on the generic engine and
// gets its TinyCC wrapper after 1000 calls, through an entry stub that is
// retargeted. The type battery runs the wrappers themselves
// (types.test.js, CFFI_BUN_ENGINE=jit); these tests cover the switch: the
// same results and errors on both sides of it, closing, reuse of stubs, and
// tier-up in the middle of a callback. Each runs in a fresh node, because
// the engine is chosen when the addon loads.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { fixturePath } = require("./helpers/fixture");
const { callbacksFixturePath } = require("./helpers/callbacks-fixture");
const { timeScale, ccUnavailable } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const HOT = 1000;
const linux = { skip: (process.platform !== "linux" && "the jit engine needs TinyCC (Linux builds)") || ccUnavailable() };

function runChild(code, env = {}) {
  const prelude = `const ffi = require(${JSON.stringify(ROOT)}); const FIX = ${JSON.stringify(fixturePath())};
    const CB_FIX = ${JSON.stringify(callbacksFixturePath())}; const assert = require("node:assert/strict");\n`;
  const r = spawnSync(process.execPath, ["--expose-gc", "-e", prelude + code], {
    encoding: "utf8",
    timeout: timeScale(60000),
    maxBuffer: 256 * 1024 * 1024,
    // The addon's default (tiered) engine: the node-ffi engine would take these symbols on Node 26.
    env: { ...process.env, CFFI_BUN_ENGINE: "addon", CFFI_BUN_DEBUG: "1", ...env },
  });
  assert.equal(r.status, 0, `child failed (${r.status} ${r.signal}):\n${r.stderr}`);
  return r;
}

const hotLines = (stderr) => stderr.split("\n").filter((l) => /jit: .* is hot/.test(l));

test("a symbol tiers up once, after 1000 calls, with the same results before and after", linux, () => {
  const { stderr } = runChild(`
    const { symbols } = ffi.dlopen(FIX, {
      identity_i8: { args: ["i8"], returns: "i8" },
      identity_u32: { args: ["u32"], returns: "u32" },
      identity_u64: { args: ["u64"], returns: "u64" },
      identity_f32: { args: ["f32"], returns: "f32" },
      identity_ptr: { args: ["ptr"], returns: "ptr" },
      identity_bool: { args: ["bool"], returns: "bool" },
      sum16_i32: { args: Array(16).fill("i32"), returns: "i64_fast" },
      no_args: { returns: "i32" },
    });
    const sixteen = Array.from({ length: 16 }, (_, k) => k - 3);
    const weighted = sixteen.reduce((sum, v, k) => sum + (k + 1) * v, 0);
    const view = new Uint8Array(4);
    for (let i = 0; i < ${HOT * 3}; i++) {
      if (i === ${HOT - 1} || i === ${HOT} || i === ${HOT + 1}) console.error("call " + i);
      assert.equal(symbols.identity_i8(i), (i << 24) >> 24);
      assert.equal(symbols.identity_u32(-i), (-i) >>> 0);
      assert.equal(symbols.identity_u64(BigInt(i) << 40n), BigInt(i) << 40n);
      assert.equal(symbols.identity_u64(i), BigInt(i));
      assert.equal(symbols.identity_f32(i + 0.1), Math.fround(i + 0.1));
      assert.equal(symbols.identity_ptr(view), ffi.ptr(view));
      assert.equal(symbols.identity_ptr(i + 4096), i + 4096);
      assert.equal(symbols.identity_bool(i % 3 === 0), i % 3 === 0);
      assert.equal(symbols.sum16_i32(...sixteen), weighted);
      assert.equal(symbols.no_args(), symbols.no_args());
    }
  `);
  const hot = hotLines(stderr);
  assert.deepEqual(hot.map((l) => l.match(/jit: (\w+) is hot/)[1]).sort(),
    ["identity_bool", "identity_f32", "identity_i8", "identity_ptr", "identity_u32", "identity_u64", "no_args", "sum16_i32"]);
  // The tier-up happens on the 1000th call, and only once.
  const lines = stderr.split("\n");
  const at = lines.findIndex((l) => /identity_i8 is hot/.test(l));
  assert.ok(at > lines.indexOf(`call ${HOT - 1}`) && at < lines.indexOf(`call ${HOT}`), stderr);
});

test("errors are the same before and after tier-up, and a throwing call counts too", linux, () => {
  const { stderr } = runChild(`
    const { symbols } = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    const messages = new Set();
    for (let i = 0; i < ${HOT * 2}; i++) {
      if (i % 2) {
        assert.equal(symbols.add_i32(i, 1), i + 1);
      } else {
        assert.throws(() => (i % 4 ? symbols.add_i32(1) : symbols.add_i32("x", 1)), (e) => { messages.add(e.message); return e instanceof TypeError; });
      }
    }
    assert.equal(messages.size, 2, [...messages].join(" | "));
  `);
  assert.equal(hotLines(stderr).length, 1);
});

test("a closed library's symbols keep throwing after tier-up; tier-up after close is harmless", linux, () => {
  runChild(`
    const lib = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" }, no_args: { returns: "i32" } });
    for (let i = 0; i < ${HOT / 2}; i++) lib.symbols.add_i32(i, 1);
    for (let i = 0; i < ${HOT * 2}; i++) lib.symbols.no_args();
    lib.close();
    for (let i = 0; i < ${HOT * 2}; i++) {
      assert.throws(() => lib.symbols.add_i32(1, 2), /closed/);
      assert.throws(() => lib.symbols.no_args(), /closed/);
    }
  `);
});

test("entry stubs of collected functions are reused: many short-lived CFunctions", linux, () => {
  const { stderr } = runChild(`
    const { symbols } = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    const address = symbols.add_i32.ptr;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 1000; i++) {
        const f = ffi.CFunction({ ptr: address, args: ["i32", "i32"], returns: "i32" });
        assert.equal(f(i, round), i + round);
      }
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A few of them get hot: compiled, collected, their memory freed.
    const hot = ffi.CFunction({ ptr: address, args: ["i32", "i32"], returns: "i32" });
    for (let i = 0; i < ${HOT * 2}; i++) assert.equal(hot(i, 1), i + 1);
  `.replace(/^/, "(async () => {").concat("})().catch((e) => { console.error(e); process.exit(1); });"));
  assert.equal(hotLines(stderr).length, 1);
  // 40,001 functions, at most ~1,000 alive at a time: a few chunks of stubs, not 40,001 stubs' worth.
  const chunks = stderr.split("\n").filter((l) => /\d+ new entry stubs/.test(l));
  const perChunk = Number(chunks[0].match(/(\d+) new entry stubs/)[1]);
  assert.ok(chunks.length * perChunk < 8000, `${chunks.length} chunks of ${perChunk}`);
});

test("tier-up in the middle of a callback, from a nested FFI call", linux, () => {
  runChild(`
    const cb = ffi.dlopen(CB_FIX, { apply: { args: ["function", "i32"], returns: "i32" } });
    const { symbols } = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    let inner = 0;
    const js = new ffi.JSCallback((x) => { inner++; return symbols.add_i32(x, 1); }, { args: ["i32"], returns: "i32" });
    for (let i = 0; i < ${HOT * 2}; i++) assert.equal(cb.symbols.apply(js, i), i + 1);
    assert.equal(inner, ${HOT * 2});
    js.close();
  `);
});

test("CFFI_BUN_ENGINE=jit compiles at bind time; =registers never tiers up", linux, () => {
  const eager = runChild(`
    const { symbols } = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    for (let i = 0; i < ${HOT * 2}; i++) symbols.add_i32(i, 1);
  `, { CFFI_BUN_ENGINE: "jit" });
  assert.match(eager.stderr, /bound add_i32 at 0x[0-9a-f]+: \(i32, i32\) -> i32 via a jit wrapper$/m);
  assert.equal(hotLines(eager.stderr).length, 0);
  const registers = runChild(`
    const { symbols } = ffi.dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    for (let i = 0; i < ${HOT * 2}; i++) symbols.add_i32(i, 1);
  `, { CFFI_BUN_ENGINE: "registers" });
  assert.match(registers.stderr, /via registers$/m);
  assert.equal(hotLines(registers.stderr).length, 0);
});

test("a wrapper converts cstring results itself: strings, UTF-8 and NULL as null", linux, () => {
  for (const engine of ["jit", ""]) {
    runChild(`
      const { symbols } = ffi.dlopen(FIX, {
        hello_string: { returns: "cstring" }, utf8_string: { returns: "cstring" }, null_string: { returns: "cstring" },
      });
      for (let i = 0; i < ${HOT * 2}; i++) {
        assert.equal(symbols.hello_string(), "hello, world");
        assert.equal(symbols.utf8_string(), "héllo ✓");
        assert.equal(symbols.null_string(), null);
      }
      assert.match(ffi.viewSource({ f: { returns: "cstring" } })[0], /napi_create_string_utf8/);
    `, { CFFI_BUN_ENGINE: engine });
  }
});

// Entry stubs (src/platform/stubs.c) of an env that ended go to later envs: workers
// that each bind a hot symbol and make a callback must not leave a stub
// chunk (two mappings) behind each.
test("workers that end hand their entry stubs to later workers (no mapping per worker)", linux, () => {
  // Exact, whatever the load: the addon logs each chunk of stubs it maps
  // (CFFI_BUN_DEBUG), and workers run one after another, each ending (its
  // env's cleanup hooks done) before the next starts. Each worker takes three
  // stubs (a symbol, a JSCallback, a CFunction); without the orphan list each
  // would map a chunk of its own. /proc/self/maps says the same with slack
  // for Node's own mappings (malloc arenas, V8 pages).
  const WORKERS = 12;
  const { stdout, stderr } = runChild(`
    const { Worker } = require("node:worker_threads");
    const fs = require("node:fs");
    const maps = () => fs.readFileSync("/proc/self/maps", "utf8").split("\\n").length;
    const code = \`
      const ffi = require(\${JSON.stringify(${JSON.stringify(ROOT)})});
      const { symbols } = ffi.dlopen(\${JSON.stringify(FIX)}, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
      const cb = new ffi.JSCallback((a) => a + 1, { args: ["i32"], returns: "i32" });
      const f = ffi.CFunction({ ptr: cb.ptr, args: ["i32"], returns: "i32" });
      for (let i = 0; i < 10; i++) if (f(i) !== i + 1 || symbols.add_i32(i, 1) !== i + 1) throw new Error("bad");
    \`;
    const run = () => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.on("exit", resolve);
      w.on("error", reject);
    });
    (async () => {
      for (let i = 0; i < 3; i++) await run();
      const before = maps();
      for (let i = 0; i < ${WORKERS}; i++) await run();
      console.log(JSON.stringify({ before, after: maps() }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `);
  // One chunk for each pool the workers take from: tiering stubs, and the
  // JSCallback stubs of precompiled callback entries ((i32) -> i32 is one),
  // which exist on x86-64 only; on AArch64 every register closure takes the
  // assembly entry's pool (src/callbacks/precompiled_callback.c).
  const callbackPool = process.arch === "x64" ? "shaped JSCallbacks" : "JSCallbacks";
  const chunks = stderr.split("\n").filter((l) => /new entry stubs at/.test(l));
  assert.deepEqual(chunks.map((l) => l.match(/\(([\w ]+)\)$/)?.[1]).sort(), [callbackPool, "tiering"].sort(),
    `${3 + WORKERS} workers mapped ${chunks.length} chunks of stubs:\n${chunks.join("\n")}`);
  const { before, after } = JSON.parse(stdout.trim().split("\n").pop());
  // ASan maps allocator regions per thread, so there the chunk count above is
  // the whole proof.
  if (process.env.CFFI_BUN_ASAN !== "1") {
    assert.ok(after - before < WORKERS / 2, `mappings went from ${before} to ${after} over ${WORKERS} workers`);
  }
});

test("an exit() inside libtcc during a tier-up is trapped: the symbol stays on the generic engine, the process goes on", linux, () => {
  // CFFI_BUN_JIT_TCC_OPTIONS="-o" makes tcc_set_options() reach tcc_error with
  // no error jump set, where libtcc calls exit(1): without the trap the child
  // ends with status 1 at the 1000th call. (f32: a shape with no precompiled
  // wrapper, src/calls/precompiled.c, so its tier-up compiles with TinyCC.)
  const { stdout, stderr } = runChild(`
    const defs = { identity_f32: { args: ["f32"], returns: "f32" } };
    process.env.CFFI_BUN_JIT_TCC_OPTIONS = "-o";
    const failing = ffi.dlopen(FIX, defs).symbols;
    for (let i = 0; i < ${HOT * 2}; i++) assert.equal(failing.identity_f32(i + 1), i + 1);
    delete process.env.CFFI_BUN_JIT_TCC_OPTIONS;
    const later = ffi.dlopen(FIX, defs).symbols;
    for (let i = 0; i < ${HOT * 2}; i++) assert.equal(later.identity_f32(i + 2), i + 2);
    console.log("done");
  `);
  assert.equal(stdout.trim(), "done");
  assert.match(stderr, /jit: TinyCC: tcc: error: argument to '-o' is missing/);
  assert.match(stderr, /jit: TinyCC called exit\(\) while compiling wrappers; trapped/);
  assert.match(stderr, /jit: no wrapper for identity_f32; it stays on the generic entry point/);
  assert.equal(hotLines(stderr).length, 1, "the later library's identity_f32 tiers up");
});
