"use strict";
// Instructions per call, counted by valgrind's callgrind: repeatable where
// wall-clock timings are not, so this is the guide for optimising the hot path.
//
//   node benchmark/callgrind.js [--rows=abs,add] [--contenders=cffi,floor,koffi]
//                               [--iterations=20000,120000]
//
// For each contender and row, runs the benchmark worker once under
//   valgrind --tool=callgrind --dump-before=bench_mark node --single-threaded worker.js
// which, after a warm-up, runs the row's loop for the first iteration count
// and then the second, calling the fixture's bench_mark() before, between and
// after (callgrind writes its counters out at each). Instructions per call =
// (Ir(second part) - Ir(first part)) / (second - first): start-up, warm-up,
// JIT compilation and the marks themselves cancel out.
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
const [small, large] = option("iterations", ["20000", "120000"]).map(Number);
const WARMUP = 20000;

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
  const config = { contender, rows: [row], fixture, floor, root: ROOT,
    callgrind: { row, warmup: WARMUP, iterations: [small, large] } };
  const child = spawnSync("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}`, "--dump-before=bench_mark",
    process.execPath, "--single-threaded", path.join(__dirname, "worker.js"), JSON.stringify(config)], { encoding: "utf8" });
  if (child.status !== 0) {
    throw new Error(`valgrind failed for ${contender}/${row}: ${(child.error && child.error.message) || child.stderr.slice(-500)}`);
  }
  // Parts: out.1 = start-up and warm-up, out.2 = first count, out.3 = second count.
  const ir = (part) => Number(fs.readFileSync(`${out}.${part}`, "utf8").match(/^(?:summary|totals):\s*(\d+)/m)[1]);
  return (ir(3) - ir(2)) / (large - small);
}

try {
  const lines = ["| row | contender | instructions per call |", "|---|---|---:|"];
  for (const row of rows) {
    for (const contender of contenders) {
      let text;
      try {
        text = perCall(contender, row).toFixed(1);
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
