"use strict";
// Errors the addon throws while V8 collects the addon's objects. Node runs
// the addon's finalizers from inside the GC (NAPI_EXPERIMENTAL, src/cffi.h),
// through a check of the env's pending exception; a throw of the addon's
// keeps its error there until the call returns, and Node's throw of it then
// allocates, which can start a GC. Node 20.20 and 26.12 aborted ("Check
// failed: AllowJavascriptExecution::IsAllowed") within seconds of a loop
// that makes objects with finalizers and catches the addon's TypeErrors.
// The finalizers now go on a second env of the addon's own
// (src/base/finalizer_env.c), whose exception slot a throw never fills.
// Each case runs in a child (an abort must fail the test, not end it).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const fs = require("node:fs");
const { fixturePath } = require("./helpers/fixture");
const { addonCandidates } = require("../lib/addon-path.js");

const ROOT = path.join(__dirname, "..");
const FIX = fixturePath();
const ADDON = addonCandidates().find((c) => fs.existsSync(c.file)).file;

// Runs body (which may use ffi, S, churn) for `ms` per kind of object,
// and prints "ok" and the throws counted.
function run(body, { worker = false } = {}) {
  const script = `
    const ffi = require(${JSON.stringify(ROOT)});
    const S = ffi.dlopen(${JSON.stringify(FIX)}, { identity_i32: { args: ["i32"], returns: "i32" } }).symbols;
    let throws = 0;
    // Makes garbage with finalizers via make() and a TypeError of the addon's each round, for ms.
    function churn(ms, make) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let i = 0; i < 500; i++) {
          make();
          try { S.identity_i32("not a number"); } catch (error) { if (!(error instanceof TypeError)) throw error; throws++; }
        }
      }
    }
    ${body}
    console.log("ok " + throws);
  `;
  const source = worker
    ? `const { Worker } = require("node:worker_threads");
       const w = new Worker(${JSON.stringify(script)}, { eval: true, stdout: false });
       w.on("error", (e) => { console.error(e); process.exitCode = 1; });`
    : script;
  const child = spawnSync(process.execPath, ["-e", source], { encoding: "utf8", timeout: 120000 });
  assert.equal(child.status, 0, `the child ended with ${child.status ?? child.signal}:\n${child.stderr.slice(-1500)}`);
  assert.match(child.stdout, /^ok \d+/m, child.stdout + child.stderr);
  // At least one round ran (qemu runs far fewer than the ~600k a second here).
  assert.ok(Number(/ok (\d+)/.exec(child.stdout)[1]) >= 500, child.stdout);
}

test("batches, struct views, bound functions and callbacks collected while the addon throws: no abort", () => {
  run(`
    const Point = ffi.struct({ x: "i32", y: "f64" });
    const point = new Uint8Array(Point.size);
    churn(2500, () => { try { ffi.batch().add(S.identity_i32, "x"); } catch {} }); // a batch's native side
    churn(800, () => Point.view(point)); // a struct view
    churn(800, () => new ffi.CFunction({ ptr: S.identity_i32.ptr, args: ["i32"], returns: "i32" }));
    churn(800, () => new ffi.JSCallback(() => 0, { args: ["i32"], returns: "i32" }).close());
  `);
});

test("struct types, struct-signature callbacks, libraries' close, variadic tails and executors the same", () => {
  run(`
    const libc = process.platform === "win32" ? "msvcrt.dll" : process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";
    const { printf } = ffi.dlopen(libc, { printf: { args: ["cstring", "..."], returns: "i32" } }).symbols;
    const Point = ffi.struct({ x: "i32", y: "f64" });
    churn(600, () => ffi.struct({ a: "i32", b: "f64" })); // a type object and its methods
    churn(600, () => new ffi.JSCallback(() => 0, { args: [Point], returns: "i32" }).close());
    churn(600, () => ffi.dlopen(${JSON.stringify(FIX)}, { identity_i32: { args: ["i32"], returns: "i32" } }).close());
    churn(600, () => printf.with("i32", "f64"));
    churn(600, () => ffi.executor({ threads: 1 }).close());
  `);
});

test("a process.dlopen that loads each file once: cffi-bun warns, and works", () => {
  const out = spawnSync(process.execPath, ["-e", `
    // Keyed by the file's name: the second load's path may be spelled
    // otherwise (Windows: the loader's own spelling of the same file).
    const original = process.dlopen, loaded = new Set();
    process.dlopen = function (module, file, ...rest) {
      const key = require("node:path").basename(String(file)).toLowerCase();
      if (loaded.has(key)) throw new Error("loaded already");
      loaded.add(key);
      return original.call(this, module, file, ...rest);
    };
    process.on("warning", (w) => console.log("warning " + w.code));
    const ffi = require(${JSON.stringify(ROOT)});
    const S = ffi.dlopen(${JSON.stringify(FIX)}, { identity_i32: { args: ["i32"], returns: "i32" } }).symbols;
    console.log(S.identity_i32(7));
  `], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(out.stdout.trim().split("\n").sort(), ["7", "warning CFFI_BUN_FINALIZER_ENV"]);
});

test("the same in a worker", () => {
  run(`churn(2500, () => { try { ffi.batch().add(S.identity_i32, "x"); } catch {} });`, { worker: true });
});

test("the finalizers are on a second env, for the package's load and for a load by hand", () => {
  const out = spawnSync(process.execPath, ["-e", `
    const native = require(${JSON.stringify(path.join(ROOT, "lib", "native.js"))});
    console.log(native.finalizerEnv());
    const again = { exports: {} };
    process.dlopen(again, ${JSON.stringify(ADDON)});
    console.log(again.exports.finalizerEnv(), typeof again.exports.dlopen);
  `], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(out.stdout.trim().split("\n"), ["true", "true function"]);
});
