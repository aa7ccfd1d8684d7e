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
