"use strict";
// Differential test: programs written for Bun (they import "bun:ffi") run
// unmodified under Node with cffi-bun/register, and print exactly what they
// print under Bun.
//
// Each program in test/bun-programs/ (*.mjs run with `--import
// cffi-bun/register`, *.cjs with `--require cffi-bun/register`):
//   1. must run under Node and exit 0;
//   2. must print the same stdout as under a real `bun` when one is found:
//      $BUN_BINARY, the npm package @oven/bun-<os>-<arch> (`npm install
//      --no-save @oven/bun-linux-x64`), or `bun` on PATH. Without one, the
//      output is compared with the Bun output recorded in
//      test/bun-programs/<program>.bun.out (recorded with Bun 1.4.5 on
//      Linux x64; used on Linux only), and when there is
//      no recording either the comparison is skipped, saying so.
// With a live Bun, the recordings are checked too, so they cannot go stale.
// Programs for JSCallback and cc() are skipped while those APIs still throw
// "not implemented yet".
const { test, describe } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const { timeScale, ccUnavailable, isLinux } = require("./helpers/platform.js");

const root = path.join(__dirname, "..");
const programsDir = path.join(__dirname, "bun-programs");

// Fixed environment so that both runtimes see the same inputs.
const env = { ...process.env, CFFI_BUN_COMPAT_VALUE: "xyz", LC_ALL: "C", NO_COLOR: "1", FORCE_COLOR: "0" };

function run(file, args) {
  const result = spawnSync(file, args, { cwd: programsDir, env, encoding: "utf8", timeout: timeScale(60_000) });
  if (result.error) throw result.error;
  return result;
}

function findBun() {
  if (process.env.BUN_BINARY) {
    if (fs.existsSync(process.env.BUN_BINARY)) return { bun: process.env.BUN_BINARY };
    return { why: `BUN_BINARY=${process.env.BUN_BINARY} does not exist` };
  }
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  const exe = process.platform === "win32" ? "bun.exe" : "bun";
  for (const pkg of [`@oven/bun-${os}-${arch}`, `@oven/bun-${os}-${arch}-baseline`]) {
    try {
      return { bun: require.resolve(`${pkg}/bin/${exe}`, { paths: [root] }) };
    } catch {}
  }
  const onPath = spawnSync("bun", ["--version"], { encoding: "utf8" });
  if (!onPath.error && onPath.status === 0) return { bun: "bun" };
  return {
    why:
      `no bun binary found (set BUN_BINARY, or \`npm install --no-save @oven/bun-${os}-${arch}\`, ` +
      `or put bun on PATH)`,
  };
}

// `cffi-bun/register` as a user would write it: a self-reference through the
// package's exports (resolved from inside the package); else the file itself.
function registerFlag(kind) {
  const flag = kind === "cjs" ? "--require" : "--import";
  const probe = spawnSync(process.execPath, [flag, "cffi-bun/register", "-e", "0"], {
    cwd: programsDir,
    encoding: "utf8",
  });
  if (probe.status === 0) return [flag, "cffi-bun/register"];
  const file = path.join(root, "lib", kind === "cjs" ? "register.cjs" : "register.mjs");
  return [flag, kind === "cjs" ? file : pathToFileURL(file).href];
}

// Which APIs still throw "not implemented yet" in this build.
function notImplemented(probe) {
  try {
    probe(require(".."));
    return null;
  } catch (error) {
    return /not implemented yet/i.test(String(error && error.message)) ? error.message : null;
  }
}
const pending = {
  JSCallback: notImplemented(({ JSCallback }) => new JSCallback(() => 0, { args: [], returns: "i32" }).close()),
  cc: ccUnavailable(),
};
const needs = { "callback.mjs": "JSCallback", "cc.mjs": "cc" };

const found = findBun();
const programs = fs
  .readdirSync(programsDir)
  .filter((name) => /\.(mjs|cjs)$/.test(name))
  .sort();

describe("bun:ffi programs under Node (cffi-bun/register) and Bun", () => {
  test("there are programs to compare", () => {
    assert.ok(programs.length >= 5, `only ${programs.length} programs in ${programsDir}`);
  });

  for (const name of programs) {
    const api = needs[name];
    // The programs and their recorded Bun outputs are written for Linux (libc.so.6).
    const skip = !isLinux ? "the programs open libc.so.6 (Linux)" : api && pending[api] ? `${api}: ${pending[api]}` : false;
    const recording = path.join(programsDir, name.replace(/\.(mjs|cjs)$/, ".bun.out"));

    describe(name, () => {
      let nodeOut;
      test("runs under Node with cffi-bun/register", { skip }, () => {
        const flag = registerFlag(name.endsWith(".cjs") ? "cjs" : "esm");
        const result = run(process.execPath, [...flag, name]);
        assert.equal(result.status, 0, `node ${flag.join(" ")} ${name} failed:\n${result.stderr}`);
        nodeOut = result.stdout;
        assert.notEqual(nodeOut, "");
      });

      if (found.bun) {
        test(`prints the same as Bun (${found.bun})`, { skip }, () => {
          const result = run(found.bun, [name]);
          assert.equal(result.status, 0, `bun ${name} failed:\n${result.stderr}`);
          assert.equal(nodeOut, result.stdout);
          if (fs.existsSync(recording) && process.platform === "linux") {
            assert.equal(
              fs.readFileSync(recording, "utf8"),
              result.stdout,
              `${path.basename(recording)} is stale: re-record it with \`bun ${name} > ${path.basename(recording)}\``,
            );
          }
        });
      } else if (fs.existsSync(recording) && process.platform === "linux") {
        test(`prints what Bun printed, as recorded in ${path.basename(recording)} (no live bun)`, { skip }, (t) => {
          t.diagnostic(`live Bun comparison not possible: ${found.why}`);
          assert.equal(nodeOut, fs.readFileSync(recording, "utf8"));
        });
      } else {
        test("prints the same as Bun", { skip: skip || found.why }, () => {});
      }
    });
  }
});
