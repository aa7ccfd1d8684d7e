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

// buildFixture("abi.c") -> path of libabi.so, removed when the process exits.
function buildFixture(sourceName, extraFlags = []) {
  const cached = built.get(sourceName);
  if (cached && fs.existsSync(cached)) return cached;
  const base = path.basename(sourceName, ".c");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cffi-bun-${base}-`));
  const out = path.join(dir, `lib${base}.so`);
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
