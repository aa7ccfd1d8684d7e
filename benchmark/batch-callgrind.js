"use strict";
// Instructions per call of batch() and sym.map against single calls,
// counted by callgrind (docs/benchmark.md, "Batch calls"): wall-clock rows
// (benchmark/batch.js) on a loaded or virtual machine mostly measure page
// faults and scheduling; these counts repeat. Method as benchmark/callgrind.js:
// each row runs k1 then k2 rounds between bench_mark() calls, and
// (Ir(k2) - Ir(k1)) / (calls in k2 - calls in k1) cancels start-up,
// warm-up and compilation. Needs valgrind. Usage:
//   node benchmark/batch-callgrind.js [--rows=singles64,run64,built64,refilled64,add64,loop,map,mapInto,runN,batchN,refilledN,
//     addN,batchTypedN,refilledTypedN,runTypedN]
// addN is add() alone (a cleared batch refilled, not run): refilledTypedN - addN is run({ into: Int32Array });
// add64 the same for the 64 mixed entries of built64 and refilled64.
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const arg = process.argv.find((a) => a.startsWith("--rows="));
const ROWS = arg ? arg.slice(7).split(",") : ["singles64", "run64", "built64", "refilled64", "add64", "loop", "map", "mapInto", "runN", "batchN", "refilledN",
  "addN", "batchTypedN", "refilledTypedN", "runTypedN"];
// Per row: calls per round, and the two round counts.
const PLAN = {
  singles64: [64, 3000, 13000], run64: [64, 3000, 13000], add64: [64, 3000, 13000], built64: [64, 3000, 13000], refilled64: [64, 3000, 13000],
  loop: [4096, 20, 120], map: [4096, 20, 120], mapInto: [4096, 20, 120], runN: [4096, 20, 120], batchN: [4096, 20, 120], refilledN: [4096, 20, 120],
  addN: [4096, 20, 120], batchTypedN: [4096, 20, 120], refilledTypedN: [4096, 20, 120], runTypedN: [4096, 20, 120],
};

const CHILD = String.raw`
const [root, fixture, mode, k1, k2] = process.argv.slice(-5);
const { dlopen, batch } = require(root);
const S = dlopen(fixture, {
  bench_mark: { args: [], returns: "void" }, bench_abs: { args: ["i32"], returns: "i32" },
  add: { args: ["i32", "i32"], returns: "i32" }, addf64: { args: ["f64", "f64"], returns: "f64" },
  id_u64: { args: ["u64"], returns: "u64" },
}).symbols;
const fill = (b) => { for (let k = 0; k < 16; k++) { b.add(S.bench_abs, -k); b.add(S.add, k, 2); b.add(S.addf64, k, 0.5); b.add(S.id_u64, 7n); } };
let sink = 0;
const N = 4096;
const values = Int32Array.from({ length: N }, (_, i) => (i % 2 ? -i : i));
const into = new Int32Array(N);
const results = [];
const recorded = batch(); fill(recorded);
const refilled = batch();
const big = batch(); for (let i = 0; i < N; i++) big.add(S.bench_abs, values[i]);
const rows = {
  singles64: (k) => { for (let r = 0; r < k; r++) for (let j = 0; j < 16; j++) { sink += S.bench_abs(-j); sink += S.add(j, 2); sink += S.addf64(j, 0.5); sink += Number(S.id_u64(7n)); } },
  run64: (k) => { for (let r = 0; r < k; r++) sink += recorded.run().length; },
  built64: (k) => { for (let r = 0; r < k; r++) { const b = batch(); fill(b); sink += b.run().length; } },
  refilled64: (k) => { for (let r = 0; r < k; r++) { refilled.clear(); fill(refilled); sink += refilled.run().length; } },
  add64: (k) => { for (let r = 0; r < k; r++) { refilled.clear(); fill(refilled); sink += refilled.length; } },
  loop: (k) => { for (let r = 0; r < k; r++) for (let i = 0; i < N; i++) sink += S.bench_abs(values[i]); },
  map: (k) => { for (let r = 0; r < k; r++) sink += S.bench_abs.map(N, values)[N - 1]; },
  mapInto: (k) => { for (let r = 0; r < k; r++) sink += S.bench_abs.map(N, values, { into })[N - 1]; },
  runN: (k) => { for (let r = 0; r < k; r++) sink += big.run()[N - 1]; },
  batchN: (k) => { for (let r = 0; r < k; r++) { const b = batch(); for (let i = 0; i < N; i++) b.add(S.bench_abs, values[i]); sink += b.run()[N - 1]; } },
  refilledN: (k) => { for (let r = 0; r < k; r++) { refilled.clear(); for (let i = 0; i < N; i++) refilled.add(S.bench_abs, values[i]); sink += refilled.run({ into: results })[N - 1]; } },
  addN: (k) => { for (let r = 0; r < k; r++) { refilled.clear(); for (let i = 0; i < N; i++) refilled.add(S.bench_abs, values[i]); sink += refilled.length; } },
  batchTypedN: (k) => { for (let r = 0; r < k; r++) { const b = batch(); for (let i = 0; i < N; i++) b.add(S.bench_abs, values[i]); sink += b.run({ results: "typed" })[N - 1]; } },
  refilledTypedN: (k) => { for (let r = 0; r < k; r++) { refilled.clear(); for (let i = 0; i < N; i++) refilled.add(S.bench_abs, values[i]); sink += refilled.run({ into })[N - 1]; } },
  runTypedN: (k) => { for (let r = 0; r < k; r++) sink += big.run({ into })[N - 1]; },
};
const f = rows[mode];
f(Number(k1)); f(Number(k1));
S.bench_mark(); f(Number(k1)); S.bench_mark(); f(Number(k2)); S.bench_mark();
if (sink === 0.5) console.log(sink);
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-batch-callgrind-"));
try {
  const fixture = path.join(dir, "libbenchfixture.so");
  execFileSync("cc", ["-O2", "-shared", "-fPIC", "-o", fixture, path.join(__dirname, "fixture.c")]);
  const childFile = path.join(dir, "child.js");
  fs.writeFileSync(childFile, CHILD);
  const results = {};
  for (const row of ROWS) {
    const [calls, k1, k2] = PLAN[row];
    const out = path.join(dir, `cg.${row}`);
    const run = spawnSync("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}`, "--dump-before=bench_mark",
      process.execPath, "--single-threaded", childFile, ROOT, fixture, row, String(k1), String(k2)], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`${row}: ${run.stderr.slice(-2000)}`);
    const total = (file) => Number(/^summary: (\d+)/m.exec(fs.readFileSync(file, "utf8"))[1]);
    results[row] = (total(`${out}.3`) - total(`${out}.2`)) / ((k2 - k1) * calls);
  }
  for (const [row, ir] of Object.entries(results)) console.log(`${row.padEnd(12)} ${ir.toFixed(1)} instructions per call`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
