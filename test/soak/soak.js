"use strict";
// Soak test (issue 8): long runs of the operations most likely to leak.
//
//   node --expose-gc test/soak/soak.js [--scale=1]
//
// Phases, at scale 1: 10M calls returning `cstring`; 1M JSCallbacks created,
// called now and then, and closed; 100k dlopen/close cycles of the fixture;
// 1M toArrayBuffer() over C memory with a C deallocator (the fixture's
// count_dealloc). After a warm-up at 10% scale and a forced GC, RSS is the
// baseline; after the phases and a forced GC it must be within 20 MB of it,
// and every deallocator must have run (polled with gc + setImmediate, with a
// timeout). Prints a summary; exits 1 on failure. Not run by `npm test`
// (it is not test/*.test.js); `.ci/run` runs it.
const assert = require("node:assert/strict");
const { dlopen, JSCallback, toArrayBuffer } = require("../..");
const { fixturePath } = require("../helpers/fixture");

if (typeof gc !== "function") {
  console.error("soak: run with --expose-gc (node --expose-gc test/soak/soak.js)");
  process.exit(2);
}
const scaleArg = process.argv.find((a) => a.startsWith("--scale="));
const SCALE = scaleArg ? Number(scaleArg.slice(8)) : 1;
// Under AddressSanitizer (npm run test:asan) freed memory sits in quarantine,
// so RSS says nothing; LeakSanitizer checks for leaks there instead.
const CHECK_RSS = !process.argv.includes("--no-rss-check");
const RSS_LIMIT_MB = 20;
const DEALLOC_TIMEOUT_MS = 60_000;
// The native memory behind a callback, a bound function or a wrapped buffer
// is invisible to V8, so nothing makes V8 collect their JS objects (and run
// the finalizers that free it) until the JS heap itself fills: between GCs the
// working set can reach 100+ MB, and glibc keeps that high-water mark as RSS.
// The soak looks for leaks, not peaks, so it collects every GC_EVERY
// iterations (dlopen: every GC_EVERY / 10), and yields to the event loop,
// where Node runs the finalizers that a GC queued.
const GC_EVERY = 20_000;

const FIX = fixturePath();
const DEFS = {
  hello_string: { returns: "cstring" },
  call_i32_fn: { args: ["function", "i32"], returns: "i32" },
  add_i32: { args: ["i32", "i32"], returns: "i32" },
  static_int_42: { returns: "ptr" },
  count_dealloc: { args: ["ptr", "ptr"] },
  dealloc_count: { returns: "i32" },
  reset_dealloc: {},
};
const lib = dlopen(FIX, DEFS);
const S = lib.symbols;

const mb = (bytes) => (bytes / 1048576).toFixed(1);
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function collect() {
  gc();
  await tick();
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    gc();
    await tick();
  }
}

function cstringCalls(n) {
  let chars = 0;
  for (let i = 0; i < n; i++) chars += S.hello_string().length;
  assert.equal(chars, n * 12);
}

async function callbacks(n) {
  const def = { args: ["i32"], returns: "i32" };
  const fn = (x) => x + 1;
  for (let i = 0; i < n; i++) {
    const cb = new JSCallback(fn, def);
    if (i % 64 === 0) assert.equal(S.call_i32_fn(cb, i), i + 1);
    cb.close();
    if (i % GC_EVERY === GC_EVERY - 1) await collect();
  }
}

async function dlopenCycles(n) {
  const def = { add_i32: DEFS.add_i32 };
  for (let i = 0; i < n; i++) {
    const l = dlopen(FIX, def);
    if (i % 16 === 0) assert.equal(l.symbols.add_i32(i, 1), i + 1);
    l.close();
    if (i % (GC_EVERY / 10) === GC_EVERY / 10 - 1) await collect();
  }
}

// Runs n toArrayBuffer()s with deallocators, in batches so GC can keep up.
async function wrapped(n) {
  const p = S.static_int_42();
  const dealloc = S.count_dealloc.ptr;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += new Int32Array(toArrayBuffer(p, 0, 4, i + 1, dealloc))[0];
    if (i % GC_EVERY === GC_EVERY - 1) await collect();
  }
  assert.equal(sum, 42 * n);
}

async function deallocatorsRan(expected) {
  const t0 = Date.now();
  while (S.dealloc_count() < expected) {
    if (Date.now() - t0 > DEALLOC_TIMEOUT_MS) return false;
    gc();
    await tick();
  }
  return S.dealloc_count() === expected;
}

async function main() {
  const phases = [
    ["cstring calls", Math.round(10_000_000 * SCALE), cstringCalls],
    ["callbacks created+closed", Math.round(1_000_000 * SCALE), callbacks],
    ["dlopen/close cycles", Math.round(100_000 * SCALE), dlopenCycles],
    ["toArrayBuffer with deallocator", Math.round(1_000_000 * SCALE), wrapped],
  ];
  console.log(`soak: scale ${SCALE}; node ${process.version}; pid ${process.pid}`);

  // Warm-up: 10% of each phase, so lazily built structures exist and V8's heap
  // (its young generation grows under this load) has reached its working size.
  S.reset_dealloc();
  let warmDeallocs = 0;
  for (const [, n, run] of phases) {
    const w = Math.max(1, Math.round(n / 10));
    await run(w);
    if (run === wrapped) warmDeallocs = w;
  }
  await settle();
  if (!(await deallocatorsRan(warmDeallocs))) throw new Error("warm-up deallocators did not all run");
  S.reset_dealloc();
  await settle();
  const baseline = process.memoryUsage.rss();
  console.log(`soak: baseline RSS after warm-up and GC: ${mb(baseline)} MB`);

  const t0 = Date.now();
  const results = [];
  let expectedDeallocs = 0;
  for (const [name, n, run] of phases) {
    const start = process.hrtime.bigint();
    await run(n);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (run === wrapped) expectedDeallocs = n;
    const rss = process.memoryUsage.rss();
    results.push({ name, n, ms, rss });
    console.log(`soak: ${name}: ${n.toLocaleString("en")} in ${(ms / 1000).toFixed(2)} s ` +
      `(${((ms * 1e6) / n).toFixed(0)} ns each); RSS ${mb(rss)} MB`);
  }

  const allRan = await deallocatorsRan(expectedDeallocs);
  await settle();
  const final = process.memoryUsage.rss();
  const growth = final - baseline;
  const count = S.dealloc_count();
  console.log(`soak: deallocators run: ${count.toLocaleString("en")} of ${expectedDeallocs.toLocaleString("en")}`);
  console.log(`soak: RSS after GC: ${mb(final)} MB (${growth >= 0 ? "+" : ""}${mb(growth)} MB from the baseline; limit ${RSS_LIMIT_MB} MB)`);
  console.log(`soak: total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  lib.close();

  const failures = [];
  if (!allRan) failures.push(`only ${count} of ${expectedDeallocs} deallocators ran within ${DEALLOC_TIMEOUT_MS / 1000} s`);
  if (CHECK_RSS && growth > RSS_LIMIT_MB * 1048576) failures.push(`RSS grew by ${mb(growth)} MB (limit ${RSS_LIMIT_MB} MB)`);
  if (failures.length) {
    for (const f of failures) console.log(`soak: FAIL: ${f}`);
    process.exit(1);
  }
  console.log("soak: ok");
}

main().catch((error) => {
  console.error("soak: FAIL:", error);
  process.exit(1);
});
