"use strict";
// Callback soak loops (issue 22 items 5 and 6), one per fresh process and
// without explicit gc(): native memory must not wait for a GC that nothing
// asks for, and nothing may stay behind per worker or per thread.
//
//   node test/soak/callbacks.js <loop> [--scale=1]
//
// Loops, at scale 1 (each after a warm-up of a tenth of its count):
//   threadsafe    200k threadsafe JSCallbacks created and closed
//   definitions   200k JSCallbacks, each with a fresh definition object
//   workers       200 worker threads, each creating, calling from a native
//                 thread and closing 300 threadsafe callbacks (filling its
//                 env's quarantine), 4 at a time
//   threads       10k native threads, each getting one 4 KB cstring result
//                 from a threadsafe callback, 50 at a time
// Each prints its RSS growth after the warm-up and exits 1 above 20 MB.
// `.ci/run` runs each loop as its own step.
const path = require("node:path");
const { Worker } = require("node:worker_threads");
const { dlopen, JSCallback } = require("../..");
const { callbacksFixturePath } = require("../helpers/callbacks-fixture");

const LIMIT_MB = 20;
const loop = process.argv[2];
const scaleArg = process.argv.find((a) => a.startsWith("--scale="));
const SCALE = scaleArg ? Number(scaleArg.slice(8)) : 1;
const FIX = callbacksFixturePath();
const mb = (bytes) => (bytes / 1048576).toFixed(1);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function openFixture() {
  return dlopen(FIX, {
    call_i32: { args: ["function", "i32"], returns: "i32" },
    call_void_from_thread_and_join: { args: ["function", "i32"], returns: "void" },
    start_threads_str: { args: ["i32", "i32", "function"], returns: "i32" },
    threads_done: { returns: "i32" },
  }).symbols;
}

async function measure(name, count, step) {
  const warm = Math.max(1, Math.floor(count / 10));
  for (let i = 0; i < warm; i++) await step(i);
  const base = process.memoryUsage.rss();
  const started = Date.now();
  for (let i = warm; i < count; i++) await step(i);
  const grown = process.memoryUsage.rss() - base;
  console.log(`callbacks soak ${name}: ${count} iterations, RSS ${mb(base)} -> +${mb(grown)} MB in ${Date.now() - started} ms`);
  if (grown > LIMIT_MB * 1048576) {
    console.error(`callbacks soak ${name}: RSS grew by ${mb(grown)} MB (limit ${LIMIT_MB} MB)`);
    process.exitCode = 1;
  }
}

const loops = {
  // Synchronous: the event loop does not turn, so nothing Node frees on a
  // later turn may be what keeps this flat.
  async threadsafe() {
    const def = { args: ["i32"], returns: "i32", threadsafe: true };
    const fn = (x) => x;
    await measure("threadsafe", 200_000 * SCALE, (i) => {
      new JSCallback(fn, def).close();
      return i;
    });
  },

  async definitions() {
    const fn = (x) => x + 1;
    await measure("definitions", 200_000 * SCALE, () => {
      new JSCallback(fn, { args: ["i32"], returns: "i32" }).close();
    });
  },

  async workers() {
    const code = `
      const { workerData } = require("node:worker_threads");
      const { dlopen, JSCallback } = require(workerData.root);
      const C = dlopen(workerData.fix, {
        call_void_from_thread_and_join: { args: ["function", "i32"], returns: "void" },
      }).symbols;
      let ran = 0;
      for (let i = 0; i < 300; i++) {
        const cb = new JSCallback(() => { ran++; }, { args: ["i32"], threadsafe: true });
        if (i % 50 === 0) C.call_void_from_thread_and_join(cb, i);
        cb.close();
      }
    `;
    const root = path.join(__dirname, "..", "..");
    const one = () =>
      new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { root, fix: FIX } });
        w.on("error", reject);
        w.on("exit", resolve);
      });
    await measure("workers", Math.ceil((200 * SCALE) / 4), () => Promise.all([one(), one(), one(), one()]));
  },

  async threads() {
    const C = openFixture();
    const big = "x".repeat(4096);
    const cb = new JSCallback(() => big, { args: ["i32", "i32"], returns: "cstring", threadsafe: true });
    await measure("threads", Math.ceil((10_000 * SCALE) / 50), async () => {
      C.start_threads_str(50, 1, cb);
      while (C.threads_done() !== 50) await sleep(1);
    });
    cb.close();
  },
};

if (!loops[loop]) {
  console.error(`usage: node test/soak/callbacks.js <${Object.keys(loops).join("|")}> [--scale=N]`);
  process.exit(2);
}
loops[loop]().catch((error) => {
  console.error(error);
  process.exit(1);
});
