"use strict";
// The async round trip (docs/benchmark.md, "Async calls"): cffi-bun's
// sym.async and executor().call against koffi's fn.async, on the same C
// function (benchmark/fixture.c's add). Two rows per contender:
//   - latency: one call at a time, each awaited before the next (the cost of
//     one hop to a pool thread and back, what a single awaited call pays);
//   - throughput: 200 calls in flight at once, total time / calls;
//   - 1000 in flight: the same with 1000 calls, beyond koffi's limit on calls
//     in flight (koffi throws "Too many asynchronous calls are running";
//     cffi-bun queues them), reported as such.
// koffi is optional (npm install --no-save koffi). Each contender runs in a
// child process of its own; each row is the median of 5 timed runs after a
// warm-up. `--quick` (a few calls, for smoke tests) prints without timing
// claims. Usage: node benchmark/async.js [--quick]
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const QUICK = process.argv.includes("--quick");
const ROOT = path.join(__dirname, "..");

function buildFixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-bench-async-"));
  const out = path.join(dir, `libbenchfixture.${process.platform === "darwin" ? "dylib" : "so"}`);
  execFileSync(process.env.CC || "cc", ["-O2", "-shared", "-fPIC", "-o", out, path.join(__dirname, "fixture.c")], { stdio: "inherit" });
  return { dir, out };
}

// ---- the child: one contender -------------------------------------------------

async function child(contender, fixture, quick) {
  let call; // (a, b) => Promise<number>
  let close = () => {};
  if (contender === "koffi") {
    const koffi = require("koffi");
    const add = koffi.load(fixture).func("int add(int, int)");
    call = (a, b) => new Promise((resolve, reject) => add.async(a, b, (err, r) => (err ? reject(err) : resolve(r))));
  } else {
    const { dlopen, executor } = require(ROOT);
    const lib = dlopen(fixture, { add: { args: ["i32", "i32"], returns: "i32" } });
    if (contender === "cffi-executor") {
      const ex = executor({ threads: 1 });
      call = (a, b) => ex.call(lib.symbols.add, a, b);
      close = () => ex.close();
    } else {
      const add = lib.symbols.add.async;
      call = (a, b) => add(a, b);
    }
  }
  const latency = async (n) => {
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sum += await call(i, 1);
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (sum !== (n * (n - 1)) / 2 + n) throw new Error("wrong results");
    return ns;
  };
  const throughput = async (n) => {
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => call(i, 1)));
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (results.some((r, i) => r !== i + 1)) throw new Error("wrong results");
    return ns;
  };
  const runs = quick ? 1 : 5;
  const median = async (fn, n) => {
    await fn(n); // warm-up
    const times = [];
    for (let i = 0; i < runs; i++) times.push(await fn(n));
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  };
  const result = {
    latency: await median(latency, quick ? 50 : 5000),
    throughput: await median(throughput, quick ? 100 : 200),
  };
  try {
    result.flood = await median(throughput, 1000);
  } catch (error) {
    result.flood = error.message;
  }
  close();
  return result;
}

// ---- the parent ----------------------------------------------------------------

function koffiInstalled() {
  try {
    require.resolve("koffi", { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

function main() {
  const { dir, out } = buildFixture();
  const contenders = ["cffi", "cffi-executor", ...(koffiInstalled() ? ["koffi"] : [])];
  if (!koffiInstalled()) console.log("koffi is not installed (npm install --no-save koffi): its rows are left out");
  const results = {};
  try {
    for (const c of contenders) {
      const r = spawnSync(process.execPath, [__filename, "--child", c, out, QUICK ? "quick" : "full"], { encoding: "utf8", cwd: ROOT });
      if (r.status !== 0) throw new Error(`${c} failed: ${r.stderr}`);
      results[c] = JSON.parse(r.stdout.trim().split("\n").pop());
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(1)} us` : `${ns.toFixed(0)} ns`);
  const names = { cffi: "cffi-bun sym.async", "cffi-executor": "cffi-bun executor({ threads: 1 }).call", koffi: "koffi fn.async" };
  console.log(`Node ${process.version}, ${os.cpus().length} CPUs${QUICK ? " (--quick: not a measurement)" : ""}`);
  console.log("| contender | latency (1 in flight) | throughput (200 in flight, per call) | 1000 in flight, per call | latency / koffi | throughput / koffi |");
  console.log("|---|---|---|---|---|---|");
  for (const c of contenders) {
    const r = results[c];
    const k = results.koffi;
    const ratio = (a, b) => (b ? (a / b).toFixed(2) : "-");
    const flood = typeof r.flood === "number" ? fmt(r.flood) : `throws "${r.flood}"`;
    console.log(`| ${names[c]} | ${fmt(r.latency)} | ${fmt(r.throughput)} | ${flood} | ${ratio(r.latency, k?.latency)} | ${ratio(r.throughput, k?.throughput)} |`);
  }
}

if (process.argv[2] === "--child") {
  child(process.argv[3], process.argv[4], process.argv[5] === "quick").then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  main();
}
