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

// benchmark/callgrind.js printed each row on stderr as it was counted and the
// whole table again on stdout: twice on a terminal. A valgrind that fails at
// once (first on PATH) makes every row "n/a" in a second.
test("benchmark/callgrind.js prints its table once", { skip: noCompiler || process.platform === "win32" }, () => {
  const fs = require("node:fs");
  const os = require("node:os");
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-fake-valgrind-"));
  try {
    fs.writeFileSync(path.join(bin, "valgrind"), "#!/bin/sh\necho 'fake valgrind' >&2\nexit 1\n", { mode: 0o755 });
    const run = spawnSync(process.execPath, [path.join(__dirname, "..", "benchmark", "callgrind.js"), "--rows=abs,add",
      "--contenders=cffi,floor"], {
      encoding: "utf8",
      timeout: timeScale(60_000),
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
    });
    assert.strictEqual(run.status, 0, run.stderr);
    const all = run.stdout + run.stderr;
    assert.strictEqual(all.match(/^\| row \| contender \|/gm).length, 1, all);
    for (const row of ["| abs | cffi |", "| abs | floor |", "| add | cffi |", "| add | floor |"])
      assert.strictEqual(all.split("\n").filter((line) => line.startsWith(row)).length, 1, `${row}\n${all}`);
    assert.match(run.stdout, /^\| abs \| cffi \| n\/a \(valgrind failed/m);
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
});
