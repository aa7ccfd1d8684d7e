"use strict";
// Instructions per call, counted by valgrind's callgrind: repeatable where
// wall-clock timings are not, so this is the guide for optimising the hot path.
//
//   node benchmark/callgrind.js [--rows=abs,add] [--contenders=cffi,floor,koffi]
//                               [--warmup=200000] [--chunk=50000] [--chunks=5]
//
// For each contender and row, runs the benchmark worker once under
//   valgrind --tool=callgrind --dump-before=bench_mark node --single-threaded worker.js
// which, after a warm-up, runs the row's loop `chunks` times for `chunk`
// iterations each, calling the fixture's bench_mark() before and after each
// (callgrind writes its counters out at each). Instructions per call = the
// median over the chunks of Ir(chunk) / calls in it; the spread (largest
// minus smallest, over the median) is printed too. Why chunks and a long
// warm-up: with --single-threaded V8 compiles on the counted thread, and
// Node 26 was still tiering up 120,000 calls in (the old two-count
// difference read abs at 441.7 with 20,000/120,000 calls and 393.0 with
// 120,000/720,000); a compile now lands in one chunk, which the median
// leaves out, and the warm-up (in four rounds: V8 also optimises the row's
// run() itself after a few calls of it) lets the tiers settle first.
// The callback rows count in sorts of ~1M comparator calls and in callbacks
// made, so they have their own default counts (ROW_COUNTS).
// CFFI_BUN_CALLGRIND_CHUNKS=1 prints every chunk's count on stderr.
// Needs valgrind (apt-get install valgrind). About a minute per measurement
// here on Node 26 (most of it Node's start-up under valgrind).

const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");

function option(name, fallback) {
  const arg = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3).split(",").filter(Boolean) : fallback;
}

const rows = option("rows", ["abs"]);
const contenders = option("contenders", ["cffi", "floor", "koffi"]);
const ROW_COUNTS = {
  callback: { warmup: 2, chunk: 1, chunks: 5 },
  jscallback_new: { warmup: 10000, chunk: 5000, chunks: 5 },
};
if (option("iterations", null)) throw new Error("--iterations is gone: use --warmup, --chunk and --chunks (see the header)");
const given = { warmup: option("warmup", null), chunk: option("chunk", null), chunks: option("chunks", null) };
function countsFor(row) {
  const own = ROW_COUNTS[row] || { warmup: 200000, chunk: 50000, chunks: 5 };
  const counts = {};
  for (const key of ["warmup", "chunk", "chunks"]) counts[key] = given[key] ? Number(given[key][0]) : own[key];
  return counts;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-callgrind-"));
const fixture = path.join(dir, "libbenchfixture.so");
const floor = path.join(dir, "floor.node");
const include = [path.join(path.dirname(process.execPath), "..", "include", "node"), "/usr/include/node"]
  .find((d) => fs.existsSync(path.join(d, "node_api.h")));
execFileSync("cc", ["-O2", "-shared", "-fPIC", "-o", fixture, path.join(__dirname, "fixture.c")]);
execFileSync("cc", ["-O2", "-shared", "-fPIC", `-I${include}`, "-o", floor, path.join(__dirname, "floor", "floor.c"),
  `-L${dir}`, "-lbenchfixture", `-Wl,-rpath,${dir}`]);

function perCall(contender, row) {
  const out = path.join(dir, `callgrind.${contender}.${row}`);
  const config = { contender, rows: [row], fixture, floor, root: ROOT, callgrind: { row, ...countsFor(row) } };
  const child = spawnSync("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}`, "--dump-before=bench_mark",
    process.execPath, "--single-threaded", path.join(__dirname, "worker.js"), JSON.stringify(config)], { encoding: "utf8" });
  if (child.status !== 0) {
    throw new Error(`valgrind failed for ${contender}/${row}: ${(child.error && child.error.message) || child.stderr.slice(-500)}`);
  }
  // Parts: out.1 = start-up and warm-up, out.(k + 2) = chunk k.
  const ir = (part) => Number(fs.readFileSync(`${out}.${part}`, "utf8").match(/^(?:summary|totals):\s*(\d+)/m)[1]);
  const result = JSON.parse(child.stdout.trim().split("\n").pop()).rows[row];
  if (result.na) return result.na;
  const perChunk = result.calls.map((calls, k) => ir(k + 2) / calls).sort((a, b) => a - b);
  const median = perChunk[Math.floor(perChunk.length / 2)];
  if (process.env.CFFI_BUN_CALLGRIND_CHUNKS) process.stderr.write(`${contender}/${row} chunks: ${result.calls.map((calls, k) => (ir(k + 2) / calls).toFixed(1)).join(" ")}\n`);
  return { median, spread: (perChunk[perChunk.length - 1] - perChunk[0]) / median };
}

// The table goes to stdout a line at a time, as each count is made (a
// minute each): once, whether stdout is a terminal or a file.
try {
  console.log("| row | contender | instructions per call | spread over chunks |\n|---|---|---:|---:|");
  for (const row of rows) {
    for (const contender of contenders) {
      let text;
      try {
        const count = perCall(contender, row);
        text = typeof count === "object" ? `${count.median.toFixed(1)} | ${(100 * count.spread).toFixed(2)}%` : `n/a (${count}) | `;
      } catch (error) {
        text = `n/a (${error.message.split("\n")[0]}) | `;
      }
      console.log(`| ${row} | ${contender} | ${text} |`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
