"use strict";
// Instructions per call, counted by valgrind's callgrind: repeatable where
// wall-clock timings are not, so this is the guide for optimising the hot path.
//
//   node benchmark/callgrind.js [--rows=abs,add] [--contenders=cffi,floor,koffi]
//                               [--iterations=20000,120000] [--warmup=20000]
//
// For each contender and row, runs the benchmark worker once under
//   valgrind --tool=callgrind --dump-before=bench_mark node --single-threaded worker.js
// which, after a warm-up, runs the row's loop for the first iteration count
// and then the second, calling the fixture's bench_mark() before, between and
// after (callgrind writes its counters out at each). Instructions per call =
// (Ir(second part) - Ir(first part)) / (calls in second - calls in first):
// start-up, warm-up, JIT compilation and the marks themselves cancel out.
// The callback rows count in sorts of ~1M comparator calls and in callbacks
// made, so they have their own default counts (ROW_COUNTS).
// Needs valgrind (apt-get install valgrind). Takes ~10 s per measurement.

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
  callback: { warmup: 2, iterations: [1, 2] },
  jscallback_new: { warmup: 2000, iterations: [2000, 12000] },
};
const givenIterations = option("iterations", null);
const givenWarmup = option("warmup", null);
function countsFor(row) {
  const own = ROW_COUNTS[row] || { warmup: 20000, iterations: [20000, 120000] };
  return {
    warmup: givenWarmup ? Number(givenWarmup[0]) : own.warmup,
    iterations: givenIterations ? givenIterations.map(Number) : own.iterations,
  };
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
  // Parts: out.1 = start-up and warm-up, out.2 = first count, out.3 = second count.
  const ir = (part) => Number(fs.readFileSync(`${out}.${part}`, "utf8").match(/^(?:summary|totals):\s*(\d+)/m)[1]);
  const result = JSON.parse(child.stdout.trim().split("\n").pop()).rows[row];
  if (result.na) return result.na;
  const [first, second] = result.calls;
  return (ir(3) - ir(2)) / (second - first);
}

try {
  const lines = ["| row | contender | instructions per call |", "|---|---|---:|"];
  for (const row of rows) {
    for (const contender of contenders) {
      let text;
      try {
        const count = perCall(contender, row);
        text = typeof count === "number" ? count.toFixed(1) : `n/a (${count})`;
      } catch (error) {
        text = `n/a (${error.message.split("\n")[0]})`;
      }
      lines.push(`| ${row} | ${contender} | ${text} |`);
      process.stderr.write(`${lines[lines.length - 1]}\n`);
    }
  }
  console.log(lines.join("\n"));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
