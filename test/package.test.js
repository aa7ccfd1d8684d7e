"use strict";
// The package entry points: require() and import() of the package root
// (package.json "exports") expose the same API.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const ROOT = path.join(__dirname, "..");
const EXPECTED = [
  "dlopen", "FFIType", "suffix", "ptr", "read", "write", "toArrayBuffer", "toBuffer",
  "CString", "JSCallback", "CFunction", "linkSymbols", "cc", "viewSource",
];

test("require() of the package root exposes the API", () => {
  const cjs = require(ROOT);
  for (const name of EXPECTED) assert.ok(name in cjs, `missing export ${name}`);
  for (const name of EXPECTED.filter((n) => !["FFIType", "suffix", "read", "write"].includes(n))) {
    assert.equal(typeof cjs[name], "function", `${name} is a function`);
  }
  assert.equal(typeof cjs.read, "object");
  assert.equal(typeof cjs.write, "object");
  assert.equal(typeof cjs.FFIType, "object");
  assert.equal(cjs.suffix, { win32: "dll", darwin: "dylib" }[process.platform] ?? "so");
});

test("GetLastError: a function on Windows, undefined elsewhere, the same in ESM and CommonJS", async () => {
  const cjs = require(ROOT);
  const esm = await import(pathToFileURL(path.join(ROOT, "lib", "index.mjs")).href);
  assert.ok("GetLastError" in cjs && "GetLastError" in esm);
  assert.equal(esm.GetLastError, cjs.GetLastError);
  if (process.platform === "win32") {
    assert.equal(typeof cjs.GetLastError, "function");
    assert.equal(typeof cjs.GetLastError(), "number");
  } else {
    assert.equal(cjs.GetLastError, undefined);
  }
});

test("require resolves through package.json main to lib/index.js", () => {
  const pkg = require(path.join(ROOT, "package.json"));
  assert.equal(pkg.name, "cffi-bun");
  assert.equal(require.resolve(ROOT), path.join(ROOT, "lib", "index.js"));
});

test("import() via package exports has the same exports as require()", async () => {
  const cjs = require(ROOT);
  const esm = await import(pathToFileURL(path.join(ROOT, "lib", "index.mjs")).href);
  const esmNames = Object.keys(esm).filter((k) => k !== "default").sort();
  for (const name of EXPECTED) assert.ok(esmNames.includes(name), `ESM is missing ${name}`);
  const cjsNames = Object.keys(cjs).filter((k) => !k.startsWith("_")).sort();
  assert.deepEqual(esmNames, cjsNames.filter((k) => k !== "default"));
  // same objects, not a second copy of the addon
  for (const name of EXPECTED) assert.equal(esm[name], cjs[name], `${name} is the same object`);
});

test('import "cffi-bun" by package name resolves through "exports"', async () => {
  // Resolve the bare specifier from a module inside node_modules-like layout:
  // a self-reference works when the package has "exports" and a "name".
  const { execFileSync } = require("node:child_process");
  const out = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import * as m from "cffi-bun"; import { createRequire } from "node:module";
       const r = createRequire(import.meta.url)("cffi-bun");
       const names = ${JSON.stringify(EXPECTED)};
       const bad = names.filter((n) => !(n in m) || m[n] !== r[n]);
       console.log(JSON.stringify({ bad, esm: Object.keys(m).sort() }));`,
    ],
    { cwd: ROOT, encoding: "utf8" }
  );
  const { bad } = JSON.parse(out);
  assert.deepEqual(bad, [], `exports missing or different between import and require: ${bad}`);
});
