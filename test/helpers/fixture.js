"use strict";
// Builds test/fixture/fixture.c into a shared library once per process and
// returns its path.  Uses the system C compiler (`cc`, or $CC) without a shell.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const SOURCE = path.join(__dirname, "..", "fixture", "fixture.c");
let cached = null;

function fixturePath() {
  if (cached && fs.existsSync(cached)) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-fixture-"));
  const out = path.join(dir, "libfixture.so");
  const compiler = process.env.CC || "cc";
  execFileSync(
    compiler,
    ["-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-o", out, SOURCE],
    { stdio: ["ignore", "pipe", "pipe"] }
  );
  cached = out;
  process.on("exit", () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  });
  return out;
}

module.exports = { fixturePath, FIXTURE_SOURCE: SOURCE };
