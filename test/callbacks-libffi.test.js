"use strict";
// The callback suites again with every JSCallback a libffi closure
// (CFFI_BUN_ENGINE=ffi, set before the addon loads). By default callbacks
// whose arguments all travel in registers are register closures
// (src/callbacks/register_closure.c); libffi closures take the rest.
process.env.CFFI_BUN_ENGINE = "ffi";
require("./callbacks.test.js");
require("./threads.test.js");

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const path = require("node:path");

function closureKinds(engine) {
  const child = spawnSync(process.execPath, ["-e", `
    const { JSCallback } = require(${JSON.stringify(path.join(__dirname, ".."))});
    new JSCallback((a, b) => a + b, { args: ["i32", "f64"], returns: "f64" });
    new JSCallback(() => 0, { args: Array(9).fill("i32"), returns: "i32" });
    new JSCallback(() => {}, { args: ["f32", "ptr"], returns: "void", threadsafe: true }).close();
  `], { env: { ...process.env, CFFI_BUN_ENGINE: engine, CFFI_BUN_DEBUG: "1" }, encoding: "utf8" });
  assert.equal(child.status, 0, child.stderr);
  return child.stderr.split("\n").filter((l) => l.includes("created JSCallback")).map((l) => l.match(/(\w+) closure$/)[1]);
}

test("which closure each callback gets: register closures where all arguments are in registers", () => {
  const registers = process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64");
  assert.deepEqual(closureKinds(""), registers ? ["register", "libffi", "register"] : ["libffi", "libffi", "libffi"]);
  assert.deepEqual(closureKinds("ffi"), ["libffi", "libffi", "libffi"]);
});

// A closed ordinary callback's libffi closure was freed by close(), and
// libffi hands freed closure memory to the next closure at once: a function
// bound before the close, or C that kept the pointer, then ran a different
// callback or freed memory. Now it stays, answering 0 without running JS,
// until 256 newer ordinary callbacks with libffi closures have been closed.
test("a closed libffi closure answers 0 to a function bound before close(), until 256 newer ones are closed", () => {
  const child = spawnSync(process.execPath, ["-e", `
    const ffi = require(${JSON.stringify(path.join(__dirname, ".."))});
    let ran = 0;
    const i32 = new ffi.JSCallback(() => { ran++; return 7; }, { args: [], returns: "i32" });
    const f64 = new ffi.JSCallback(() => { ran++; return 1.5; }, { args: [], returns: "f64" });
    let self;
    self = new ffi.JSCallback(() => { ran++; self.close(); return 3; }, { args: [], returns: "i32" });
    const calls = [i32, f64, self].map((cb, k) => new ffi.CFunction({ ptr: cb.ptr, args: [], returns: k === 1 ? "f64" : "i32" }));
    const values = () => calls.map((f) => f()).join(" ");
    console.log("live " + values() + " ran " + ran);
    i32.close();
    f64.close();
    console.log("closed " + values() + " ran " + ran);
    for (let i = 0; i < 250; i++) new ffi.JSCallback(() => 8, { args: [], returns: "i32" }).close();
    console.log("after 250 " + values() + " ran " + ran);
    console.error("the end of the script");
  `], { env: { ...process.env, CFFI_BUN_ENGINE: "ffi", CFFI_BUN_DEBUG: "1" }, encoding: "utf8" });
  assert.equal(child.signal, null, child.stderr);
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(child.stdout.trim().split("\n"), ["live 7 1.5 3 ran 3", "closed 0 0 0 ran 3", "after 250 0 0 0 ran 3"]);
  // (At the env's end the quarantine is freed.)
  const script = child.stderr.slice(0, child.stderr.indexOf("the end of the script"));
  assert.match(script, /closed JSCallback/);
  assert.doesNotMatch(script, /freed closed JSCallback/, "none left the quarantine");
});
