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

// The compiler's arguments for a fixture, by platform. The fixtures are GNU C
// (attributes, asm): any gcc or clang driver builds them, MSVC's cl cannot.
// On Windows (mingw-w64's gcc, as the wine run and the workflow use) a DLL exports
// every function when none is marked dllexport, needs no -fPIC, and takes
// libgcc and winpthreads statically so it loads with no compiler DLLs on
// PATH; scripts/ci-windows.sh builds the wine run's fixtures with these.
function fixtureCompilerArgs(platform = process.platform) {
  if (platform === "win32") {
    return {
      flags: ["-shared", "-O1", "-Wall", "-Wextra", "-D__USE_MINGW_ANSI_STDIO=1"],
      // After the source, for linkers that read in order.
      libraries: ["-static-libgcc", "-Wl,-Bstatic", "-lpthread", "-Wl,-Bdynamic"],
    };
  }
  return { flags: ["-shared", "-fPIC", "-O1", "-Wall", "-Wextra"], libraries: [] };
}

function fixtureCompiler() {
  const compiler = process.env.CC || (process.platform === "win32" ? "gcc" : "cc");
  if (/(^|[\\/])cl(\.exe)?$/i.test(compiler)) {
    throw new Error(`the test fixtures are GNU C: CC=${compiler} is MSVC's cl; set CC to a gcc or clang (mingw-w64's gcc on Windows)`);
  }
  return compiler;
}

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
  const { flags, libraries } = fixtureCompilerArgs();
  execFileSync(
    fixtureCompiler(),
    [...flags, ...extraFlags, "-o", out, path.join(FIXTURE_DIR, sourceName), ...libraries],
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

module.exports = { buildFixture, fixturePath, fixtureCompilerArgs, FIXTURE_SOURCE: SOURCE };
