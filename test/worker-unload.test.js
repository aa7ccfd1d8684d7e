"use strict";
// The addon loaded only by a worker: when that worker ends, Node closes the
// addon with the worker's env, while C threads of a library may still call
// the worker's threadsafe callbacks through their stubs. The addon's code
// must stay mapped (it pins itself at load: cffi_platform_pin_addon in
// src/platform/pin.c; on Linux binding.gyp also links it with -z nodelete)
// so those calls find their callback closed and are answered 0; before,
// they jumped into unmapped code (SIGSEGV in cffi_register_closure_entry;
// under wine, before the pin, an access violation). Each case is a child
// process whose main thread never loads the package.
const { test } = require("node:test");
const assert = require("node:assert");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { buildFixture } = require("./helpers/fixture");

const ROOT = path.join(__dirname, "..");
const TIME_SCALE = Number(process.env.CFFI_BUN_TIME_SCALE) || 1;

const CHILD = `
const { Worker } = require("node:worker_threads");
const [root, library, lingerMs] = process.argv.slice(1);
const worker = new Worker(\`
  const { dlopen, JSCallback } = require(\${JSON.stringify(root)});
  const lib = dlopen(\${JSON.stringify(library)}, {
    unload_callers_start: { args: ["ptr", "i32"], returns: "i32" },
    unload_calls_made: { args: [], returns: "i32" },
  });
  const callback = new JSCallback((n) => n + 1, { args: ["i32"], returns: "i32", threadsafe: true });
  if (lib.symbols.unload_callers_start(callback.ptr, 2) !== 0) throw new Error("no threads");
  const poll = setInterval(() => {
    if (lib.symbols.unload_calls_made() > 8) {
      clearInterval(poll);
      require("node:worker_threads").parentPort.postMessage("calling");
    }
  }, 1);
\`, { eval: true });
worker.on("message", () => worker.terminate());
worker.on("exit", () => setTimeout(() => { console.log("main thread outlived the worker"); process.exit(0); }, Number(lingerMs)));
`;

test("C threads calling a worker's threadsafe callback after the worker ended do not crash the process", () => {
  // The fixture pins itself (its header): its own code must outlive the worker too.
  const library = buildFixture("worker-unload.c", process.platform === "win32" ? [] : ["-pthread"]);
  for (let round = 0; round < 3; round++) {
    const child = spawnSync(process.execPath, ["-e", CHILD, ROOT, library, String(300 * TIME_SCALE)], {
      encoding: "utf8",
      timeout: 30000 * TIME_SCALE,
    });
    assert.strictEqual(child.signal, null, `round ${round}: killed by ${child.signal}\n${child.stderr}`);
    assert.strictEqual(child.status, 0, `round ${round}: exit ${child.status}\n${child.stderr}`);
    assert.match(child.stdout, /main thread outlived the worker/);
  }
});
