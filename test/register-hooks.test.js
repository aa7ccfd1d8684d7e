"use strict";
// How cffi-bun/register installs its module hooks (lib/register.cjs,
// lib/hooks.cjs): in-thread with module.registerHooks where Node has it
// (22.15+ / 23.5+), else module.register's loader thread (Node 20). The
// behaviour of the hooks themselves is covered by bun-compat.test.js; these
// check the choice and what it changes. CI runs this file under Node 20 and 26.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { pathToFileURL } = require("node:url");
const { timeScale, noCompiler } = require("./helpers/platform.js");

const ROOT = path.join(__dirname, "..");
const REGISTER_CJS = path.join(ROOT, "lib", "register.cjs");
// --import and import take URLs: an absolute Windows path (Z:\\...) reads as
// the URL scheme "z:", so files are named by their file: URL.
const REGISTER_MJS = pathToFileURL(path.join(ROOT, "lib", "register.mjs")).href;
const Module = require("node:module");
const inThread = typeof Module.registerHooks === "function";
const [major] = process.versions.node.split(".").map(Number);

function run(args, cwd = ROOT) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: timeScale(60_000) });
  assert.equal(r.error, undefined, String(r.error));
  return r;
}

function scratch(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-hooks-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("--import cffi-bun/register prints no warning of its own (module.register is deprecated on Node 26)", (t) => {
  const dir = scratch(t);
  const app = path.join(dir, "app.mjs");
  fs.writeFileSync(app, `import { dlopen } from "bun:ffi";\nconsole.log(typeof dlopen);\n`);
  for (const flag of [["--import", REGISTER_MJS], ["--require", REGISTER_CJS]]) {
    const r = run([...flag, app]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "function");
    assert.equal(r.stderr, "", `${flag[0]}: nothing on stderr`);
  }
});

test("require() and import of \"bun:ffi\" give cffi-bun's own objects with either kind of hook", (t) => {
  const dir = scratch(t);
  const app = path.join(dir, "app.mjs");
  fs.writeFileSync(app, `import * as bun from "bun:ffi";
import * as own from ${JSON.stringify(pathToFileURL(path.join(ROOT, "lib", "index.mjs")).href)};
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const cjs = require("bun:ffi");
console.log(bun.dlopen === own.dlopen, cjs === require(${JSON.stringify(ROOT)}), require.resolve("bun:ffi"));
`);
  const r = run(["--import", REGISTER_MJS, app]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `true true ${path.join(ROOT, "lib", "index.js")}`);
});

// Bun's cc-relative-path "when bundled" case: a CommonJS require() of an ES
// module that imports "bun:ffi". Node 20 (module.register) fails an internal
// assertion there, and so does Node 22.23 under any registerHooks hook; Node 26 runs it
// (the versions between are not checked).
const requireEsmRuns = inThread && major >= 26;
test("require() of an ES module that imports \"bun:ffi\" and compiles with cc()", {
  skip: noCompiler || (!requireEsmRuns && `Node ${process.version} cannot require() such a module while hooks are active`),
}, (t) => {
  const dir = scratch(t);
  fs.writeFileSync(path.join(dir, "math.c"), "int multiply(int a, int b) { return a * b; }\n");
  fs.writeFileSync(path.join(dir, "math.js"), `import { cc } from "bun:ffi";
import { fileURLToPath } from "node:url";
export const lib = cc({ source: fileURLToPath(new URL("./math.c", import.meta.url)),
  symbols: { multiply: { args: ["int", "int"], returns: "int" } } });
`);
  fs.writeFileSync(path.join(dir, "main.cjs"), `const { lib } = require("./math.js");
console.log(lib.symbols.multiply(7, 6), lib.symbols.multiply(-3, 4));
lib.close();
`);
  const r = run(["--require", REGISTER_CJS, path.join(dir, "main.cjs")], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "42 -12");
  assert.equal(r.stderr, "");
});
