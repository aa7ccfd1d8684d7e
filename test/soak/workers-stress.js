"use strict";
// Stress test (issue 22 item 10): many worker threads at once, each loading
// the addon, binding symbols (jit wrappers included), creating ordinary and
// threadsafe JSCallbacks, calling them from C and from native threads, then
// ending: normally, through process.exit() inside the worker, or by
// terminate() from outside while it is busy. Races at worker start and exit
// show up as a crash of the process running the rounds.
//
//   node test/soak/workers-stress.js [--runs=100] [--workers=8] [--procs=2] [--per-child=10]
//
// Runs `runs` rounds in all, spread over child processes of 10 rounds each
// (`procs` of them at a time), each round starting `workers` workers at
// once. Exits 1 if any child dies by a signal or fails.
const path = require("node:path");
const { spawn } = require("node:child_process");
const { Worker, isMainThread, workerData, parentPort } = require("node:worker_threads");

// The package the workers load: this checkout, or (scripts/test-tsan.sh)
// one laid out around a sanitizer build.
const ROOT = process.env.CFFI_BUN_STRESS_ROOT || path.join(__dirname, "..", "..");
const opt = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
};

function workerBody() {
  const { dlopen, JSCallback, CFunction } = require(ROOT);
  const lib = dlopen(workerData.fixture, {
    call_i32: { args: ["function", "i32"], returns: "i32" },
    apply: { args: ["function", "i32"], returns: "i32" },
    add_i32: { args: ["i32", "i32"], returns: "i32" },
    call_void_from_detached_thread: { args: ["function", "i32"], returns: "void" },
    start_threads_slow: { args: ["i32", "i32", "i32", "function"], returns: "i32" },
  });
  const C = lib.symbols;
  const { mode, seed } = workerData;
  let sum = 0;
  for (let i = 0; i < 300; i++) sum += C.add_i32(i, seed); // tier up to the jit wrapper
  const plain = new JSCallback((x) => x + 1, { args: ["i32"], returns: "i32" });
  const safe = new JSCallback((x) => x + 2, { args: ["i32"], returns: "i32", threadsafe: true });
  const voidSafe = new JSCallback(() => {}, { args: ["i32", "i32"], threadsafe: true });
  for (let i = 0; i < 200; i++) sum += C.call_i32(plain, i) + C.apply(safe, i);
  C.call_void_from_detached_thread(voidSafe, 1);
  // Native threads still calling when the worker ends.
  C.start_threads_slow(2, 300, 200, voidSafe);
  const linked = CFunction({ ptr: plain.ptr, args: ["i32"], returns: "i32" });
  sum += linked(1);
  if (seed % 3 === 0) plain.close();
  if (seed % 5 === 0) safe.close();
  parentPort.postMessage(sum);
  if (mode === "exit") process.exit(0);
  if (mode === "close") lib.close();
  if (mode === "busy") for (;;) C.add_i32(1, 2);
}

let fixture;

async function round(workers, index) {
  const modes = ["end", "exit", "close", "busy", "terminate"];
  const runs = [];
  for (let w = 0; w < workers; w++) {
    const mode = modes[(index + w) % modes.length];
    runs.push(
      new Promise((resolve, reject) => {
        const worker = new Worker(__filename, { workerData: { mode, seed: index * workers + w, fixture } });
        worker.on("error", reject);
        worker.on("exit", resolve);
        worker.on("message", () => {
          if (mode === "busy" || mode === "terminate") setTimeout(() => worker.terminate(), (w % 3) * 2);
        });
        if (mode === "terminate") setTimeout(() => worker.terminate(), w % 4);
      }),
    );
  }
  await Promise.all(runs);
}

async function child(rounds, workers) {
  // The workers' native threads run the fixture's code after their worker
  // has gone: this handle keeps it mapped (unmapping code that threads
  // still run is C's own crash, not a race here).
  const { dlopen } = require(ROOT);
  const { callbacksFixturePath } = require(path.join(__dirname, "..", "helpers", "callbacks-fixture.js"));
  fixture = callbacksFixturePath();
  dlopen(fixture, { threads_done: { returns: "i32" } });
  for (let i = 0; i < rounds; i++) await round(workers, i);
}

function runChild(rounds, workers) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [__filename, "--child", `--rounds=${rounds}`, `--workers=${workers}`], {
      stdio: ["ignore", "inherit", "pipe"],
    });
    let stderr = "";
    // A hang is a failure too: a child gets far longer than its rounds need.
    const timer = setTimeout(() => {
      stderr += "\n(hung: killed after 120 s)";
      p.kill("SIGKILL");
    }, 120_000);
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

async function main() {
  const runs = opt("runs", 100), workers = opt("workers", 8), procs = opt("procs", 2);
  const PER_CHILD = opt("per-child", 10); // rounds per child process (scripts/test-tsan.sh: fewer, as TSan is slow)
  let left = Math.ceil(runs / PER_CHILD), failed = 0, done = 0;
  const started = Date.now();
  const lane = async () => {
    while (left-- > 0) {
      const r = await runChild(PER_CHILD, workers);
      done++;
      if (r.code !== 0 || r.signal) {
        failed++;
        console.error(`workers stress: a child died (code ${r.code}, signal ${r.signal})\n${r.stderr.slice(-2000)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: procs }, lane));
  console.log(`workers stress: ${done * PER_CHILD} rounds of ${workers} workers, ${failed} failed children, ${Date.now() - started} ms`);
  if (failed) process.exit(1);
}

if (!isMainThread) workerBody();
else if (process.argv.includes("--child")) child(opt("rounds", 10), opt("workers", 8)).catch((e) => {
  console.error(e);
  process.exit(1);
});
else main();
