"use strict";
// Finds TinyCC's library and header for binding.gyp, which runs
// `node scripts/find-tcc.js cflags` and `node scripts/find-tcc.js libs` and
// splits what is printed on whitespace. Printing nothing builds the addon
// without cc() (it then throws a message saying what to install), so a
// machine without TinyCC still gets dlopen and everything else.
//
// Only files are looked at: no compiler or shell is run. Paths containing
// whitespace cannot be passed through gyp's word splitting and are skipped.
//
// The second argument is the target architecture (binding.gyp passes gyp's
// target_arch): in a cross build (node-gyp --arch=arm64 on x86-64) the
// target's multiarch archive is the one to link, not the build machine's.
// Without it, this Node's architecture.
//
// Environment:
//   CFFI_BUN_TCC=0        build without TinyCC even if it is installed
//   CFFI_BUN_TCC_PREFIX   look in PREFIX/include and PREFIX/lib first
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");

const want = process.argv[2];
const targetArch = process.argv[3] || process.arch;

function exists(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function find() {
  if (process.env.CFFI_BUN_TCC === "0") return null;
  // The glue that lets the static archive live in a shared object
  // (src/platform/tcc_glue.c) is written for ELF and glibc; other systems are not
  // supported yet.
  if (process.platform !== "linux") return null;
  const multiarch = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[targetArch];
  const prefixes = [process.env.CFFI_BUN_TCC_PREFIX, "/usr", "/usr/local"].filter(Boolean);
  for (const prefix of prefixes) {
    const header = path.join(prefix, "include", "libtcc.h");
    if (!exists(header)) continue;
    // lib64 and lib hold the build machine's own archive: only for a native build.
    const native = targetArch === process.arch;
    const libDirs = [multiarch && path.join(prefix, "lib", multiarch), native && path.join(prefix, "lib64"), native && path.join(prefix, "lib")];
    for (const dir of libDirs.filter(Boolean)) {
      const archive = path.join(dir, "libtcc.a");
      if (exists(archive) && !/\s/.test(archive + header) && hasInternals(archive)) return { header, archive };
    }
  }
  return null;
}

// The globals src/platform/tcc_limits.c relies on (TinyCC's token table and
// error state) are in the archive's symbol table: libtcc.a built from
// separate objects, as Debian's is. Built as one source they are static, and
// linking would fail; such an archive is skipped with a note.
const INTERNALS = ["table_ident", "tcc_state", "tcc_enter_state", "tcc_exit_state"];
function archiveSymbols(file) {
  // GNU ar: "!<arch>\n", then members with 60-byte headers; the first, named
  // "/" (or "/SYM64/"), holds a big-endian count, that many offsets, then the
  // names, each ended by a NUL.
  const bytes = fs.readFileSync(file);
  if (bytes.toString("latin1", 0, 8) !== "!<arch>\n") return new Set();
  const name = bytes.toString("latin1", 8, 24).trim();
  const wide = name === "/SYM64/";
  if (name !== "/" && !wide) return new Set();
  const size = Number(bytes.toString("latin1", 56, 66).trim());
  const start = 68, width = wide ? 8 : 4;
  const count = wide ? Number(bytes.readBigUInt64BE(start)) : bytes.readUInt32BE(start);
  const names = bytes.toString("latin1", start + width + count * width, start + size).split("\0");
  return new Set(names.slice(0, count));
}
function hasInternals(archive) {
  const symbols = archiveSymbols(archive);
  const missing = INTERNALS.filter((symbol) => !symbols.has(symbol));
  if (missing.length && want === "libs")
    process.stderr.write(`cffi-bun: ${archive} lacks ${missing.join(", ")} (a TinyCC built as one source?): building without cc()\n`);
  return missing.length === 0;
}

// A short digest of the archive: cc()'s cache key includes it so that a
// different TinyCC never reuses objects another one produced.
function identity(file) {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, 16);
}

const found = find();
const version = require("../package.json").version.replace(/[^0-9A-Za-z.]/g, "_");
if (want === "cflags") {
  const flags = [`-DCFFI_VERSION=${version}`];
  if (found) {
    flags.push("-DCFFI_HAVE_TCC=1", `-DCFFI_TCC_ID=tcc_${identity(found.archive)}`);
    if (path.dirname(found.header) !== "/usr/include") flags.push(`-I${path.dirname(found.header)}`);
  }
  process.stdout.write(flags.join(" ") + "\n");
} else if (want === "libs") {
  // --exclude-libs keeps the archive's many generic global names (next,
  // tok, file, ...) local to the addon; --wrap=open lets src/platform/tcc_glue.c see
  // which files TinyCC reads, for the cache's dependency list; --wrap=exit
  // turns libtcc's exit(1) on some errors into a JS exception (same file).
  if (found) process.stdout.write(`${found.archive} -Wl,--exclude-libs,ALL -Wl,--wrap=open -Wl,--wrap=exit -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=free\n`);
  else process.stdout.write("\n");
} else {
  process.stderr.write("usage: node scripts/find-tcc.js cflags|libs\n");
  process.exitCode = 1;
}
