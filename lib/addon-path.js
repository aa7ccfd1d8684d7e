"use strict";
// Which compiled addon to load, and why: a local build first, then the
// prebuilt binary shipped in the package for this platform, architecture and
// C library. Owns the prebuild layout (prebuildify's conventions, so
// node-gyp-build would read it too):
//
//   prebuilds/<platform>-<arch>/cffi_bun.napi.<libc>.node   (linux: glibc, musl)
//   prebuilds/<platform>-<arch>/cffi_bun.napi.node          (other systems)
//   prebuilds/<platform>-<arch>/tcc/                         TinyCC's run-time files
//
// Nothing here spawns a process or loads anything: lib/native.js loads what
// this returns, and scripts/install.js asks it whether a prebuild applies.
// The libc is read from the running Node's own ELF header (its program
// interpreter: ld-linux-* for glibc, ld-musl-* for musl), which names the C
// library this very process uses, unlike guesses from /etc files.
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const ADDON = "cffi_bun";
const PT_INTERP = 3;

// The program interpreter named in an ELF file's PT_INTERP header, or null
// (not ELF, statically linked, unreadable).
function elfInterpreter(file) {
  let fd;
  try {
    fd = fs.openSync(file, "r");
    const header = Buffer.alloc(64);
    if (fs.readSync(fd, header, 0, 64, 0) < 52) return null;
    if (header.readUInt32BE(0) !== 0x7f454c46) return null; // "\x7fELF"
    const is64 = header[4] === 2;
    const le = header[5] === 1;
    const u16 = (b, o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const word = (b, o) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const phoff = word(header, is64 ? 0x20 : 0x1c);
    const phentsize = u16(header, is64 ? 0x36 : 0x2a);
    const phnum = u16(header, is64 ? 0x38 : 0x2c);
    if (phentsize < (is64 ? 56 : 32) || phnum > 4096) return null;
    const table = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const entry = table.subarray(i * phentsize);
      if (u32(entry, 0) !== PT_INTERP) continue;
      const offset = word(entry, is64 ? 8 : 4);
      const size = Math.min(word(entry, is64 ? 32 : 16), 4096);
      const name = Buffer.alloc(size);
      fs.readSync(fd, name, 0, size, offset);
      return name.toString("latin1").replace(/\0.*$/s, "");
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// "glibc" or "musl" for Linux, null elsewhere. A Node with no interpreter is
// statically linked: only then is Node's diagnostic report asked (slower),
// whose header names glibc's version when glibc is what runs.
function detectLibc({ platform = process.platform, execPath = process.execPath, report = process.report } = {}) {
  if (platform !== "linux") return null;
  const interpreter = elfInterpreter(execPath);
  if (interpreter) return /musl/i.test(path.basename(interpreter)) ? "musl" : "glibc";
  const header = report && typeof report.getReport === "function" ? report.getReport().header : null;
  return header && header.glibcVersionRuntime ? "glibc" : "musl";
}

// The prebuild's directory and file for a platform, architecture and libc.
function prebuildFor({ root = ROOT, platform = process.platform, arch = process.arch, libc = detectLibc({ platform }) } = {}) {
  const dir = path.join(root, "prebuilds", `${platform}-${arch}`);
  const file = libc ? `${ADDON}.napi.${libc}.node` : `${ADDON}.napi.node`;
  return { dir, file: path.join(dir, file), tcc: path.join(dir, "tcc"), target: `${platform}-${arch}${libc ? ` (${libc})` : ""}` };
}

// The files to try, in order, each with the reason it is there. With
// CFFI_BUN_ASAN=1 only the sanitizer build (scripts/test-asan.sh): a test run
// must not fall back silently to an uninstrumented addon.
function addonCandidates({ root = ROOT, env = process.env, ...target } = {}) {
  if (env.CFFI_BUN_ASAN === "1") {
    return [{ file: path.join(root, "build-asan", "Release", `${ADDON}.node`), kind: "asan" }];
  }
  return [
    { file: path.join(root, "build", "Release", `${ADDON}.node`), kind: "local" },
    { file: path.join(root, "build", "Debug", `${ADDON}.node`), kind: "local" },
    { file: prebuildFor({ root, ...target }).file, kind: "prebuild" },
  ];
}

module.exports = { ROOT, elfInterpreter, detectLibc, prebuildFor, addonCandidates };
