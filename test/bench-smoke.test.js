"use strict";
// The benchmark is not a test: this only checks that `npm run bench` still
// runs end to end (one row, few iterations) and prints its table. No timing
// is asserted.
const { test } = require("node:test");
const assert = require("node:assert");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { timeScale, noCompiler } = require("./helpers/platform.js");

// The benchmark compiles its fixture and floor addon with the platform's compiler.
test("benchmark/run.js --quick --only=abs prints a table", { skip: noCompiler }, () => {
  const run = spawnSync(process.execPath, [path.join(__dirname, "..", "benchmark", "run.js"), "--quick", "--only=abs"], {
    encoding: "utf8",
    timeout: timeScale(120_000),
    env: { ...process.env, BENCH_INSTALL: "" },
  });
  assert.strictEqual(run.error, undefined, String(run.error));
  assert.strictEqual(run.status, 0, run.stderr);
  assert.match(run.stdout, /^\| workload \| cffi-bun \| floor \|/m);
  assert.match(run.stdout, /^\| `int abs\(int\)` \| \d+(\.\d+)? \| \d+(\.\d+)? \|/m);
  assert.match(run.stdout, /Node v\d+/);
});
