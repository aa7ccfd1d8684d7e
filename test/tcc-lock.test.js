"use strict";
// libtcc's first-use race (issue 22 item 10, src/platform/tcc_glue.c):
// libtcc initialises its global semaphore without synchronisation, so
// threads entering TinyCC for the first time at once could all compile at
// the same time and crash (the rare SIGSEGV with many workers). An
// LD_PRELOADed sem_init() that sleeps 100 ms (test/fixture/slow-sem-init.c)
// makes the window certain: workers released together each compile jit
// wrappers at bind time and call them; only one may initialise TinyCC.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { buildFixture, fixturePath } = require("./helpers/fixture");
const { ccUnavailable } = require("./helpers/platform");

const ROOT = path.join(__dirname, "..");

const program = `
const { Worker } = require("node:worker_threads");
const gate = new Int32Array(new SharedArrayBuffer(8));
const body = \`
  const { workerData: { gate, root, fixture } } = require("node:worker_threads");
  Atomics.add(gate, 1, 1);
  Atomics.wait(gate, 0, 0);
  const { dlopen } = require(root);
  const lib = dlopen(fixture, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
  if (lib.symbols.add_i32(40, 2) !== 42) throw new Error("wrong result");
\`;
const workers = [];
for (let i = 0; i < 4; i++)
  workers.push(new Worker(body, { eval: true, workerData: { gate, root: ${JSON.stringify(ROOT)}, fixture: ${JSON.stringify(fixturePath())} } }));
(function release() {
  if (Atomics.load(gate, 1) < workers.length) return setTimeout(release, 5);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
})();
let ended = 0;
for (const w of workers) w.on("error", (e) => { console.error(e); process.exitCode = 1; }).on("exit", () => ++ended);
process.on("exit", () => { if (ended !== workers.length) process.exitCode = 1; });
`;

test("workers compiling jit wrappers for the first time at once never initialise TinyCC together", {
  skip: process.platform !== "linux" ? "LD_PRELOAD shim: Linux only" : ccUnavailable(),
}, () => {
  const preload = buildFixture("slow-sem-init.c", ["-ldl", "-lpthread"]);
  const run = spawnSync(process.execPath, ["-e", program], {
    // After any preload already there (npm run test:asan's sanitizer runtimes must stay first).
    env: { ...process.env, LD_PRELOAD: [process.env.LD_PRELOAD, preload].filter(Boolean).join(" "), CFFI_BUN_ENGINE: "jit" },
    encoding: "utf8",
    timeout: 60_000,
  });
  const lines = run.stderr.split("\n").filter((l) => l.startsWith("slow-sem-init:"));
  assert.ok(lines.length >= 1, `the shim saw TinyCC's sem_init (stderr: ${run.stderr})`);
  assert.deepEqual(lines.filter((l) => l.includes("RACE")), [], "no second thread inside sem_init at once");
  assert.equal(run.signal, null, `no crash (stderr: ${run.stderr})`);
  assert.equal(run.status, 0, run.stderr);
});
