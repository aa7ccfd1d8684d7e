"use strict";
// cc() compile-and-load time: cffi-bun cold (in memory, and writing the
// cache) and cached, beside Bun's cc() on the same file when a bun binary
// is available (BUN_BINARY, or the @oven/bun-linux-x64 npm package).
//
//   node benchmark/cc.js [iterations]
//
// Each figure is the median time of one cc() call plus close(). "first call
// in a new process" figures run separate node processes, so they include
// what a real program pays once (loading TinyCC's headers from disk, the
// cache directory lookup) but not node's own start-up.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const N = Number(process.argv[2]) || 30;
const PROCESSES = 7;
const root = path.join(__dirname, "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-cc-bench-"));
process.env.XDG_CACHE_HOME = path.join(scratch, "cache");
const { cc } = require(root);

const source = `#include <stdio.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

int add(int a, int b) { return a + b; }
double hypotenuse(double a, double b) { return sqrt(a * a + b * b); }
const char *get_version(void) { return "1.0.0"; }
`;
const file = path.join(scratch, "bench.c");
fs.writeFileSync(file, source);
const symbols = {
  add: { args: ["int", "int"], returns: "int" },
  hypotenuse: { args: ["f64", "f64"], returns: "f64" },
  get_version: { args: [], returns: "cstring" },
};

function median(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function timeIt(fn) {
  const times = [];
  for (let i = 0; i < N; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

function check(lib) {
  if (lib.symbols.add(2, 3) !== 5) throw new Error("wrong result");
  lib.close();
}

const results = {};
check(cc({ source: file, symbols, cache: false })); // warm the page cache
results["cold, in memory (cache: false)"] = timeIt(() => check(cc({ source: file, symbols, cache: false })));
let salt = 0;
results["cold, compiling into the cache"] = timeIt(() =>
  check(cc({ source: file, symbols, define: { BENCH_SALT: salt++ } })),
);
check(cc({ source: file, symbols }));
results["cached"] = timeIt(() => check(cc({ source: file, symbols })));

// One cc() in a fresh node process, timed inside it.
function firstCall(env) {
  const script = `const { cc } = require(${JSON.stringify(root)});
    const start = process.hrtime.bigint();
    const lib = cc({ source: ${JSON.stringify(file)}, symbols: ${JSON.stringify(symbols)} });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    lib.close();
    process.stdout.write(String(ms));`;
  const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout);
}
const cold = [];
const warm = [];
for (let i = 0; i < PROCESSES; i++) {
  const home = path.join(scratch, `process-${i}`);
  cold.push(firstCall({ XDG_CACHE_HOME: home }));
  warm.push(firstCall({ XDG_CACHE_HOME: home }));
}
results["first call in a new process, cold"] = median(cold);
results["first call in a new process, cached"] = median(warm);

function findBun() {
  if (process.env.BUN_BINARY) return process.env.BUN_BINARY;
  const bases = [root, process.cwd(), path.join(root, "..", "scratch")];
  for (const base of bases) {
    try {
      const pkg = require.resolve("@oven/bun-linux-x64/package.json", { paths: [base] });
      const bin = path.join(path.dirname(pkg), "bin", "bun");
      if (fs.existsSync(bin)) return bin;
    } catch {}
  }
  return null;
}

const bun = findBun();
if (bun) {
  const script = path.join(scratch, "bun-cc.mjs");
  fs.writeFileSync(
    script,
    `import { cc } from "bun:ffi";
     const symbols = ${JSON.stringify(symbols)};
     const times = [];
     for (let i = 0; i < ${N}; i++) {
       const start = Bun.nanoseconds();
       const lib = cc({ source: ${JSON.stringify(file)}, symbols });
       times.push((Bun.nanoseconds() - start) / 1e6);
       if (lib.symbols.add(2, 3) !== 5) throw new Error("wrong result");
       lib.close();
     }
     times.sort((a, b) => a - b);
     process.stdout.write(JSON.stringify(times[times.length >> 1]));`,
  );
  const r = spawnSync(bun, [script], { encoding: "utf8" });
  if (r.status === 0) results[`Bun ${spawnSync(bun, ["--version"], { encoding: "utf8" }).stdout.trim()} cc()`] = Number(r.stdout);
  else console.error("bun failed:", r.stderr);
} else {
  console.log("(no bun binary: set BUN_BINARY or npm install --no-save @oven/bun-linux-x64)");
}

console.log(`cc() compile-and-load of a small file (stdio, math, string, stdlib), median of ${N} (processes: ${PROCESSES})`);
for (const [name, ms] of Object.entries(results)) console.log(`  ${name.padEnd(42)} ${ms.toFixed(3)} ms`);
fs.rmSync(scratch, { recursive: true, force: true });
