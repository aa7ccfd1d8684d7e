"use strict";
// Type tests: `tsc --noEmit -p test/typescript` must pass. The .ts files
// there use the typings positively and carry `@ts-expect-error` negatives,
// so a typing that became too loose fails too (an unused directive is an
// error).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");

function findTsc() {
  try {
    const pkg = require.resolve("typescript/package.json", { paths: [root] });
    const tsc = path.join(path.dirname(pkg), "bin", "tsc");
    if (fs.existsSync(tsc)) return tsc;
  } catch {}
  return null;
}

test("TypeScript declarations type-check (tsc --noEmit -p test/typescript)", () => {
  const tsc = findTsc();
  assert.ok(
    tsc,
    "typescript is not installed: it is a devDependency of cffi-bun; run `npm install` " +
      "(or `npm install --no-save --ignore-scripts typescript@5`) in " + root,
  );
  const result = spawnSync(process.execPath, [tsc, "--noEmit", "-p", path.join("test", "typescript")], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(result.error, undefined, String(result.error));
  assert.equal(result.status, 0, `tsc reported errors:\n${result.stdout}${result.stderr}`);
});

test("every runtime export is declared in types/index.d.ts", (t) => {
  let runtime;
  try {
    runtime = require("..");
  } catch (error) {
    t.skip(`the addon is not built (${error.message.split("\n")[0]})`);
    return;
  }
  const dts = fs.readFileSync(path.join(root, "types", "index.d.ts"), "utf8");
  const declared = new Set(
    [...dts.matchAll(/^export declare (?:function|const|class|enum) (\w+)/gm)].map((m) => m[1]),
  );
  const missing = Object.keys(runtime).filter((name) => !declared.has(name));
  assert.deepEqual(missing, [], `exports without a declaration: ${missing.join(", ")}`);
});
