"use strict";
// A JSCallback installed as a signal handler (issue 22 item 8). V8 cannot
// be entered while a signal interrupts it: a signal arriving while JS runs
// (ualarm during a loop) aborted the process. Now such a call is refused:
// C gets 0, the JS does not run, stderr says why once
// (src/platform/signal_frame.h: a handler's return address is the
// kernel's sigreturn trampoline; src/callbacks/callback.c: the JS thread
// was not in an FFI call's C code). A signal raised inside an FFI call
// (raise(), or one interrupting a blocking C call) finds the thread in C,
// as any callback from C does: its JS runs there, as in Bun 1.4.5
// (recorded: `raise 0 ran 1`). Ordinary callbacks are unaffected.
// Register closures only: Linux on x86-64 and AArch64.
const test = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { timeScale } = require("./helpers/platform");

const ROOT = path.join(__dirname, "..");
const supported = process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64");
const MESSAGE = /cffi-bun: a JSCallback was called as a signal handler while JavaScript was running/g;

function run(body, threadsafe = false) {
  const script = `
    const { dlopen, JSCallback, read } = require(${JSON.stringify(ROOT)});
    const libc = dlopen("libc.so.6", {
      signal: { args: ["i32", "function"], returns: "ptr" },
      raise: { args: ["i32"], returns: "i32" },
      ualarm: { args: ["u32", "u32"], returns: "u32" },
      usleep: { args: ["u32"], returns: "i32" },
      qsort: { args: ["ptr", "u64", "u64", "function"], returns: "void" },
    });
    let ran = 0;
    const handler = new JSCallback(() => { ran++; }, { args: ["i32"], returns: "void", threadsafe: ${threadsafe} });
    ${body}
    // An ordinary callback still runs: qsort's comparator.
    const values = new Int32Array([3, 1, 2]);
    const compare = new JSCallback((a, b) => read.i32(a) - read.i32(b), { args: ["ptr", "ptr"], returns: "i32" });
    libc.symbols.qsort(values, 3, 4, compare);
    console.log(JSON.stringify({ ran, sorted: [...values] }));`;
  return spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: timeScale(60_000) });
}

function check(result, ran, refused) {
  assert.equal(result.signal, null, `no crash (stderr: ${result.stderr.slice(-2000)})`);
  assert.equal(result.status, 0, result.stderr.slice(-2000));
  const out = JSON.parse(result.stdout);
  assert.deepEqual(out.sorted, [1, 2, 3]);
  // null: SIGALRM is process-directed, and a threadsafe callback whose
  // signal landed on one of Node's other threads is queued and runs later.
  if (ran !== null) assert.equal(out.ran, ran);
  assert.equal((result.stderr.match(MESSAGE) || []).length, refused ? 1 : 0, `stderr: ${result.stderr}`);
}

const skip = !supported && "register closures: Linux x64/arm64";

test("a signal arriving while JS runs (ualarm every ms during a loop): refused, C gets 0, stderr says why once", { skip }, () => {
  check(run(`
    libc.symbols.signal(14, handler);
    libc.symbols.ualarm(1000, 1000);
    const started = Date.now();
    let work = 0;
    while (Date.now() - started < 300) work += [1, 2, 3].map((v) => v * 2).length;
    libc.symbols.ualarm(0, 0);`), 0, true);
});

test("the same for a threadsafe JSCallback", { skip }, () => {
  check(run(`
    libc.symbols.signal(14, handler);
    libc.symbols.ualarm(1000, 1000);
    const started = Date.now();
    while (Date.now() - started < 100);
    libc.symbols.ualarm(0, 0);`, true), null, true);
});

test("signal(SIGUSR1, cb) + raise(SIGUSR1) from an FFI call: the JS runs, as in Bun", { skip }, () => {
  check(run(`
    libc.symbols.signal(10, handler);
    if (libc.symbols.raise(10) !== 0) throw new Error("raise failed");
    libc.symbols.raise(10);`), 2, false);
});

test("a signal interrupting a blocking FFI call (usleep): the JS runs", { skip }, () => {
  check(run(`
    libc.symbols.signal(14, handler);
    libc.symbols.ualarm(20000, 0);
    libc.symbols.usleep(2000000);`), 1, false);
});
