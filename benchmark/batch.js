"use strict";
// batch() and sym.map against single calls (docs/benchmark.md, "Batch calls"):
// abs over 1M values through sym.map, through one batch of 1M entries
// (add() + run()) and through a per-call loop, with node:ffi's fast path on
// Node 26 and Bun's per-call loop as context; and a batch of 64 mixed calls
// against the same 64 single calls. The cffi-bun rows run under this Node
// and again under Node 26 when it is found. Each contender runs in a child process
// of its own (Node 26: CFFI_BUN_NODE26 or /tmp/node26/node_modules/.bin/node;
// Bun: CFFI_BUN_BUN or a bun on PATH; absent ones are skipped and said so).
// Each row is the median of 5 timed runs after a warm-up; ns per call.
// `--quick` (few calls, for smoke tests) prints without timing claims.
// Usage: node benchmark/batch.js [--quick]
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const QUICK = process.argv.includes("--quick");
const ROOT = path.join(__dirname, "..");
const N = QUICK ? 2000 : 1_000_000;
const MIXED_ROUNDS = QUICK ? 50 : 20000;

// The child: `kind` is cffi, nodeffi or bun; prints one JSON line of rows.
const CHILD = String.raw`
const [kind, fixture, root, n, rounds] = process.argv.slice(-5);
const N = Number(n), ROUNDS = Number(rounds);
const values = Int32Array.from({ length: N }, (_, i) => (i % 2 ? -i : i));
function median(f) {
  f();
  const times = [];
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t));
  }
  return times.sort((a, b) => a - b)[2];
}
const rows = {};
let sink = 0;
if (kind === "nodeffi") {
  const ffi = require("node:ffi");
  const { functions: F } = ffi.dlopen(fixture, { bench_abs: { arguments: ["int32"], return: "int32" } });
  const abs = F.bench_abs;
  rows.loop = median(() => { for (let i = 0; i < N; i++) sink += abs(values[i]); }) / N;
} else if (kind === "bun") {
  const { dlopen } = require("bun:ffi");
  const abs = dlopen(fixture, { bench_abs: { args: ["i32"], returns: "i32" } }).symbols.bench_abs;
  rows.loop = median(() => { for (let i = 0; i < N; i++) sink += abs(values[i]); }) / N;
} else {
  const { dlopen, batch } = require(root);
  const S = dlopen(fixture, {
    bench_abs: { args: ["i32"], returns: "i32" },
    add: { args: ["i32", "i32"], returns: "i32" },
    addf64: { args: ["f64", "f64"], returns: "f64" },
    id_u64: { args: ["u64"], returns: "u64" },
    noop: { args: [], returns: "void" },
  }).symbols;
  const abs = S.bench_abs;
  rows.loop = median(() => { for (let i = 0; i < N; i++) sink += abs(values[i]); }) / N;
  rows.map = median(() => { sink += abs.map(N, values)[N - 1]; }) / N;
  const into = new Int32Array(N);
  rows.mapInto = median(() => { sink += abs.map(N, values, { into })[N - 1]; }) / N;
  const CHUNK = Math.min(4096, N);
  const chunks = [];
  for (let at = 0; at + CHUNK <= N; at += CHUNK) chunks.push(values.subarray(at, at + CHUNK));
  rows.mapChunks = median(() => { for (const c of chunks) sink += abs.map(CHUNK, c)[CHUNK - 1]; }) / (chunks.length * CHUNK);
  rows.allocate = median(() => { const a = new Int32Array(N); for (let i = 0; i < N; i += 1024) a[i] = 1; sink += a[0]; }) / N;
  rows.batchEntries = median(() => {
    const b = batch();
    for (let i = 0; i < N; i++) b.add(abs, values[i]);
    sink += b.run()[N - 1];
  }) / N;
  const reused = batch();
  rows.batchReused = median(() => {
    reused.clear();
    for (let i = 0; i < N; i++) reused.add(abs, values[i]);
    sink += reused.run()[N - 1];
  }) / N;
  const resultsInto = [];
  rows.batchReusedInto = median(() => {
    reused.clear();
    for (let i = 0; i < N; i++) reused.add(abs, values[i]);
    sink += reused.run({ into: resultsInto })[N - 1];
  }) / N;
  rows.batchTyped = median(() => {
    const b = batch();
    for (let i = 0; i < N; i++) b.add(abs, values[i]);
    sink += b.run({ results: "typed" })[N - 1];
  }) / N;
  rows.batchReusedTypedInto = median(() => {
    reused.clear();
    for (let i = 0; i < N; i++) reused.add(abs, values[i]);
    sink += reused.run({ into })[N - 1];
  }) / N;
  rows.batchAddOnly = median(() => {
    reused.clear();
    for (let i = 0; i < N; i++) reused.add(abs, values[i]);
    sink += reused.length;
  }) / N;
  // Written out as a program would write them: direct calls, direct add()s.
  const singles = () => {
    for (let k = 0; k < 16; k++) {
      sink += S.bench_abs(-k); sink += S.add(k, 2); sink += S.addf64(k, 0.5); sink += Number(S.id_u64(7n));
    }
  };
  const fill = (into) => {
    for (let k = 0; k < 16; k++) {
      into.add(S.bench_abs, -k); into.add(S.add, k, 2); into.add(S.addf64, k, 0.5); into.add(S.id_u64, 7n);
    }
  };
  rows.mixedSingles = median(() => { for (let r = 0; r < ROUNDS; r++) singles(); }) / ROUNDS;
  const b = batch();
  fill(b);
  rows.mixedBatchRun = median(() => { for (let r = 0; r < ROUNDS; r++) sink += b.run().length; }) / ROUNDS;
  rows.mixedBatchBuilt = median(() => {
    for (let r = 0; r < ROUNDS; r++) {
      const fresh = batch();
      fill(fresh);
      sink += fresh.run().length;
    }
  }) / ROUNDS;
  const again = batch();
  rows.mixedBatchRefilled = median(() => {
    for (let r = 0; r < ROUNDS; r++) {
      again.clear();
      fill(again);
      sink += again.run().length;
    }
  }) / ROUNDS;
}
console.log(JSON.stringify({ rows, sink: sink > 0 }));
`;

function findNode26() {
  for (const p of [process.env.CFFI_BUN_NODE26, "/tmp/node26/node_modules/.bin/node"]) if (p && fs.existsSync(p)) return p;
  return null;
}
function findBun() {
  if (process.env.CFFI_BUN_BUN && fs.existsSync(process.env.CFFI_BUN_BUN)) return process.env.CFFI_BUN_BUN;
  const which = spawnSync("sh", ["-c", "command -v bun"], { encoding: "utf8" });
  return which.status === 0 ? which.stdout.trim() : null;
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-bench-batch-"));
  const fixture = path.join(dir, `libbenchfixture.${process.platform === "darwin" ? "dylib" : "so"}`);
  execFileSync(process.env.CC || "cc", ["-O2", "-shared", "-fPIC", "-o", fixture, path.join(__dirname, "fixture.c")], { stdio: "inherit" });
  const childFile = path.join(dir, "child.js");
  fs.writeFileSync(childFile, CHILD);
  const run = (exe, kind, flags = []) => {
    const out = spawnSync(exe, [...flags, childFile, kind, fixture, ROOT, String(N), String(MIXED_ROUNDS)], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`${kind} (${exe}) failed: ${out.stderr}`);
    return JSON.parse(out.stdout.trim().split("\n").pop()).rows;
  };
  try {
    const cffi = run(process.execPath, "cffi");
    const node26 = findNode26();
    const bun = findBun();
    const nodeffi = node26 ? run(node26, "nodeffi", ["--no-warnings"]) : null;
    const bunRows = bun ? run(bun, "bun") : null;
    const cffi26 = node26 ? run(node26, "cffi", ["--no-warnings"]) : null;
    const ns = (v) => (v == null ? "skipped" : v.toFixed(2));
    // One column per Node the addon ran under (Node 26 when found).
    const both = (key, digits = ns) => `${digits(cffi[key]).padStart(9)}${cffi26 ? digits(cffi26[key]).padStart(11) : ""}`;
    const ratio = (key) => (r) => (r ? `${(r.mixedSingles / r[key]).toFixed(2)}x` : "");
    const times = (key) => `${ratio(key)(cffi).padStart(9)}${cffi26 ? ratio(key)(cffi26).padStart(11) : ""}`;
    const lines = [
      `abs over ${N} values, ns per call${QUICK ? " (--quick: no timing claims)" : ""}   ${process.version.padStart(9)}${cffi26 ? "   Node 26" : ""}`,
      `  cffi-bun per-call loop                ${both("loop")}`,
      `  cffi-bun abs.map(n, values)           ${both("map")}`,
      `  cffi-bun abs.map(n, values, { into }) ${both("mapInto")}`,
      `  cffi-bun abs.map, 4096 a time         ${both("mapChunks")}`,
      `  new Int32Array(n), touched (alone)    ${both("allocate")}`,
      `  cffi-bun batch, add() x n + run()     ${both("batchEntries")}`,
      `  cffi-bun batch reused (clear, refill) ${both("batchReused")}`,
      `  the same, run({ into }) reused        ${both("batchReusedInto")}`,
      `  batch, run({ results: "typed" })      ${both("batchTyped")}`,
      `  reused, run({ into: Int32Array })     ${both("batchReusedTypedInto")}`,
      `    of which add() x n (clear, refill)  ${both("batchAddOnly")}`,
      `  node:ffi per-call (Node 26)           ${nodeffi ? ns(nodeffi.loop).padStart(9) : "skipped (no Node 26)"}`,
      `  Bun per-call loop                     ${bunRows ? ns(bunRows.loop).padStart(9) : "skipped (no bun)"}`,
      `64 mixed calls (abs, add, addf64, id_u64), ns per 64`,
      `  64 single calls                       ${both("mixedSingles")}`,
      `  one batch, run() again                ${both("mixedBatchRun")}`,
      `    less than the singles by            ${times("mixedBatchRun")}`,
      `  one batch, built and run              ${both("mixedBatchBuilt")}`,
      `    less than the singles by            ${times("mixedBatchBuilt")}`,
      `  one batch, cleared and refilled       ${both("mixedBatchRefilled")}`,
      `    less than the singles by            ${times("mixedBatchRefilled")}`,
    ];
    console.log(lines.join("\n"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
