"use strict";
// Builds the C fixtures in test/fixture/ into shared libraries, once per
// process each, with the system C compiler (`cc`, or $CC) and no shell.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const FIXTURE_DIR = path.join(__dirname, "..", "fixture");
const SOURCE = path.join(FIXTURE_DIR, "fixture.c");
const built = new Map();

const SUFFIX = process.platform === "win32" ? "dll" : process.platform === "darwin" ? "dylib" : "so";
// Where a platform that cannot start a compiler during the run (node.exe
// under wine) finds the fixtures built beforehand, as lib<name>.<suffix>
// (scripts/ci-windows.sh builds them).
const PREBUILT = process.env.CFFI_BUN_PREBUILT_FIXTURES;

// buildFixture("abi.c") -> path of libabi.so, removed when the process exits.
function buildFixture(sourceName, extraFlags = []) {
  const cached = built.get(sourceName);
  if (cached && fs.existsSync(cached)) return cached;
  const base = path.basename(sourceName, ".c");
  if (PREBUILT) {
    const prebuilt = path.join(PREBUILT, `lib${base}.${SUFFIX}`);
    if (!fs.existsSync(prebuilt)) throw new Error(`CFFI_BUN_PREBUILT_FIXTURES has no ${prebuilt}`);
    return prebuilt;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cffi-bun-${base}-`));
  const out = path.join(dir, `lib${base}.${SUFFIX}`);
  execFileSync(
    process.env.CC || "cc",
    ["-shared", "-fPIC", "-O1", "-Wall", "-Wextra", ...extraFlags, "-o", out, path.join(FIXTURE_DIR, sourceName)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  built.set(sourceName, out);
  process.on("exit", () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  });
  return out;
}

function fixturePath() {
  return buildFixture("fixture.c");
}

module.exports = { buildFixture, fixturePath, FIXTURE_SOURCE: SOURCE };
