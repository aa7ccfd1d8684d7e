"use strict";
// The main thread's exit racing a worker's conversion of a waiting call's
// arguments (src/callbacks/callback.c, "calls waiting for the JS thread"):
// C threads call a worker's threadsafe JSCallback with a 1 MB cstring of
// their own, then wipe it as soon as the call returns; the main thread calls
// process.exit() at a varying moment and lingers in its own 'exit' listener
// so the worker can report. Answering a call while the worker still
// converted its string let the caller wipe (or free) it under the
// conversion: the worker read 'X's (reported on stderr as "torn"). Each round is a fresh process, which must exit 0 with nothing on
// stderr. scripts/test-tsan.sh runs it under ThreadSanitizer too.
//
//   node test/soak/exit-race.js [--rounds=N]
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync, spawnSync } = require("node:child_process");

const ROOT = process.env.CFFI_BUN_STRESS_ROOT || path.join(__dirname, "..", "..");
const arg = process.argv.find((a) => a.startsWith("--rounds="));
const ROUNDS = arg ? Number(arg.slice(9)) : 20;
const TEXT_LENGTH = 1 << 20;

function buildLibrary() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-exit-race-"));
  const out = path.join(dir, "libexit-race.so");
  execFileSync(process.env.CC || "cc", ["-O2", "-shared", "-fPIC", "-pthread", "-Wl,-z,nodelete", "-o", out,
    path.join(__dirname, "fixture", "exit-race.c")], { stdio: "inherit" });
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return out;
}

// One round: a worker whose callback checks every string it gets; the main
// thread exits `delay` ms after the first calls were answered.
const CHILD = `
const { Worker } = require("node:worker_threads");
const [root, library, delay] = process.argv.slice(1);
// Loaded here too: Node unloads an addon that only a worker loaded when that
// worker ends, under C threads still calling its callbacks.
require(root);
const worker = new Worker(\`
  const fs = require("node:fs");
  const { dlopen, JSCallback } = require(\${JSON.stringify(root)});
  const lib = dlopen(\${JSON.stringify(library)}, {
    exit_race_start: { args: ["function", "i32"], returns: "i32" },
    exit_race_calls: { returns: "i32" },
  });
  const check = new JSCallback((text) => {
    if (text.length !== ${TEXT_LENGTH} || text.includes("X")) fs.writeSync(2, "torn: " + text.length + "\\\\n");
    return 1;
  }, { args: ["cstring"], returns: "i32", threadsafe: true });
  if (lib.symbols.exit_race_start(check, 2) !== 0) throw new Error("no threads");
  const poll = setInterval(() => {
    if (lib.symbols.exit_race_calls() > 4) { clearInterval(poll); require("node:worker_threads").parentPort.postMessage("calling"); }
  }, 1);
  setInterval(() => {}, 1000); // the worker lives until the exit

\`, { eval: true });
worker.once("message", () => setTimeout(() => process.exit(0), Number(delay)));
process.on("exit", () => { const until = Date.now() + 30; while (Date.now() < until); });
worker.once("error", (error) => { console.error(error); process.exit(2); });
`;

const library = buildLibrary();
let failures = 0;
for (let round = 0; round < ROUNDS; round++) {
  const delay = String(round % 7);
  const r = spawnSync(process.execPath, ["-e", CHILD, ROOT, library, delay], { encoding: "utf8", timeout: 120000 * Number(process.env.CFFI_BUN_TIME_SCALE || 1) });
  if (r.status !== 0 || r.signal || r.stderr !== "") {
    failures++;
    console.error(`exit-race: round ${round}: exit ${r.status}, signal ${r.signal}, stderr: ${r.stderr.slice(0, 400)}`);
  }
}
console.log(`exit-race: ${ROUNDS} rounds, ${failures} failed`);
process.exit(failures ? 1 : 0);
