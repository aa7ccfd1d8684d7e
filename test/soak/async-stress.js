"use strict";
// Async-call stress (issue 20 item 2), heavier than test/async.test.js:
//   calls    200k async calls in waves of 2000 (results checked), buffers of
//            every size as temporaries with gc() in between (C checks the
//            bytes after sleeping), threadsafe callbacks from the pool;
//   workers  rounds of workers that make async calls and end in every way
//            (normally, process.exit() inside, terminate() from outside)
//            with calls in flight;
//   executors 2000 executors created, used and closed (or dropped for the
//            GC): the process's thread count and RSS stay bounded;
//   exit     processes that exit mid-flight, none may crash or hang.
// Each part runs in a fresh process; exits 1 on any failure.
//
//   node test/soak/async-stress.js [part]
const path = require("node:path");
const fs = require("node:fs");
const { spawnSync } = require("node:child_process");
const { Worker, isMainThread, workerData, parentPort } = require("node:worker_threads");

const ROOT = path.join(__dirname, "..", "..");
const DEFS = {
  async_add_after: { args: ["i32", "i32", "i32"], returns: "i32" },
  async_sleep: { args: ["i32"], returns: "void" },
  async_fill_check: { args: ["ptr", "i32", "i32", "i32"], returns: "i32" },
  async_call_back: { args: ["function", "i32"], returns: "i32" },
};

function fail(message) {
  console.error(`async-stress: ${message}`);
  process.exit(1);
}

const threadCount = () => (process.platform === "linux" ? fs.readdirSync("/proc/self/task").length : 0);
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

async function calls(fixture) {
  const { dlopen, JSCallback } = require(ROOT);
  const S = dlopen(fixture, DEFS).symbols;
  const cb = new JSCallback((i) => i + 1, { args: ["i32"], returns: "i32", threadsafe: true });
  let done = 0;
  for (let wave = 0; wave < 100; wave++) {
    const batch = [];
    for (let i = 0; i < 2000; i++) {
      const k = wave * 2000 + i;
      if (k % 50 === 0) batch.push(S.async_fill_check.async(new Uint8Array(1 + (k % 5000)), 1 + (k % 5000), k, 1).then((bad) => (bad === 0 ? 0 : fail(`call ${k}: ${bad} bytes changed`))));
      else if (k % 97 === 0) batch.push(S.async_call_back.async(cb, 4).then((v) => (v === 10 ? 0 : fail(`callback sum ${v}`))));
      else batch.push(S.async_add_after.async(k, -k + 7, 0).then((v) => (v === 7 ? 0 : fail(`call ${k} gave ${v}`))));
    }
    if (wave % 10 === 0) globalThis.gc();
    await Promise.all(batch);
    done += batch.length;
  }
  cb.close();
  console.log(`calls: ${done} async calls checked`);
}

function workerBody() {
  const { dlopen } = require(ROOT);
  const S = dlopen(workerData.fixture, DEFS).symbols;
  (async () => {
    await Promise.all(Array.from({ length: 100 }, (_, i) => S.async_add_after.async(i, 1, 0)));
    for (let i = 0; i < 20; i++) S.async_add_after.async(i, 1, i % 5);
    parentPort.postMessage("ready");
    if (workerData.mode === "exit") process.exit(0);
  })();
}

async function workers(fixture) {
  const modes = ["end", "exit", "terminate"];
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 6 }, (_, i) => new Promise((resolve, reject) => {
      const mode = modes[(round + i) % 3];
      const w = new Worker(__filename, { workerData: { fixture, mode, worker: true } });
      w.on("message", () => mode === "terminate" && w.terminate());
      w.on("error", reject);
      w.on("exit", resolve);
    })));
  }
  console.log("workers: 120 workers ended with calls in flight");
}

async function executors(fixture) {
  const { dlopen, executor } = require(ROOT);
  const S = dlopen(fixture, DEFS).symbols;
  const threadsBefore = threadCount();
  let rssAfterWarmup = 0;
  for (let i = 0; i < 2000; i++) {
    const ex = executor({ threads: 1 + (i % 3) });
    const r = await Promise.all([ex.call(S.async_add_after, i, 1, 0), ex.call(S.async_add_after, i, 2, 0)]);
    if (r[0] !== i + 1 || r[1] !== i + 2) fail(`executor ${i}: ${r}`);
    if (i % 2 === 0) ex.close(); // the others are left to the GC
    if (i % 100 === 0) globalThis.gc();
    if (i === 200) rssAfterWarmup = rssMb();
  }
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 300));
  const extraThreads = threadCount() - threadsBefore;
  const growth = rssMb() - rssAfterWarmup;
  if (process.platform === "linux" && extraThreads > 32) fail(`${extraThreads} threads left after closing 2000 executors`);
  if (growth > 30) fail(`RSS grew ${growth.toFixed(1)} MB over 1800 executors`);
  console.log(`executors: 2000 made and closed, ${extraThreads} threads left, RSS +${growth.toFixed(1)} MB`);
}

function exits(fixture) {
  for (let i = 0; i < 20; i++) {
    const code = `
      const S = require(${JSON.stringify(ROOT)}).dlopen(${JSON.stringify(fixture)}, ${JSON.stringify(DEFS)}).symbols;
      for (let i = 0; i < 500; i++) S.async_add_after.async(i, 1, i % 4);
      setTimeout(() => process.exit(3), ${i % 7});
    `;
    const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", timeout: 20000 });
    if (r.signal || r.status !== 3) fail(`exit ${i}: status ${r.status}, signal ${r.signal}: ${r.stderr}`);
  }
  console.log("exit: 20 processes exited mid-flight with their own code");
}

const PARTS = { calls, workers, executors, exit: exits };

if (!isMainThread && workerData && workerData.worker) {
  workerBody();
} else if (process.argv[2] === "--part") {
  Promise.resolve().then(() => PARTS[process.argv[3]](process.argv[4])).catch((e) => fail(e.stack));
} else {
  const { buildFixture } = require("../helpers/fixture");
  const fixture = buildFixture("async.c");
  const only = process.argv[2];
  for (const part of Object.keys(PARTS)) {
    if (only && part !== only) continue;
    const started = Date.now();
    const r = spawnSync(process.execPath, ["--expose-gc", __filename, "--part", part, fixture], { stdio: "inherit", timeout: 240000 });
    if (r.signal || r.status !== 0) fail(`${part}: status ${r.status}, signal ${r.signal}`);
    console.log(`async-stress: ${part} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
