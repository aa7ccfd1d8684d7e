#!/usr/bin/env node
"use strict";
// Checks a prebuilt linux .node before it ships (scripts/prebuild.sh runs it):
//   - it needs no shared library but libc, libm, libdl, libpthread (and the
//     dynamic loader): libffi and libtcc are inside;
//   - it exports only Node-API's module entry points: the static archives'
//     symbols stay local, so they never clash with the process's own copies;
//   - no text relocations;
//   - the newest GLIBC_ symbol version it asks for is at most MAX_GLIBC
//     (printed, since it is the floor users need).
// Reads the file with binutils' readelf; exits 1 naming each failed check.
const { execFileSync } = require("node:child_process");

const MAX_GLIBC = [2, 28];
const ALLOWED_NEEDED = new Set(["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"]);
const ALLOWED_EXPORTS = new Set(["napi_register_module_v1", "node_api_module_get_api_version_v1"]);
// The readers node:ffi binds from the addon's own file for read.* (src/memory/node_ffi_read.c).
const NODE_FFI_READERS = /^cffi_bun_node_ffi_read_(u8|i8|u16|i16|u32|i32|f32|f64)$/;

function readelf(args, file) {
  return execFileSync("readelf", ["-W", ...args, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function check(file) {
  const failures = [];
  const dynamic = readelf(["-d"], file);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const extra = needed.filter((n) => !ALLOWED_NEEDED.has(n));
  if (extra.length) failures.push(`needs shared libraries beyond libc/libm/libdl/libpthread: ${extra.join(", ")}`);
  if (/\(TEXTREL\)/.test(dynamic) || /\bTEXTREL\b/.test(dynamic.match(/\(FLAGS\).*$/m)?.[0] ?? "")) {
    failures.push("has text relocations");
  }

  // Defined, non-local dynamic symbols: Num: Value Size Type Bind Vis Ndx Name
  const exported = readelf(["--dyn-syms"], file)
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]) && f[6] !== "UND" && f[4] !== "LOCAL" && f[3] !== "SECTION" && f[3] !== "FILE")
    .map((f) => f[7].replace(/@.*$/, ""));
  const unexpected = exported.filter((name) => !ALLOWED_EXPORTS.has(name) && !NODE_FFI_READERS.test(name));
  if (unexpected.length) failures.push(`exports more than the module entry points and the node:ffi readers: ${unexpected.slice(0, 20).join(", ")}`);
  if (!exported.includes("napi_register_module_v1")) failures.push("does not export napi_register_module_v1");

  const versions = [...readelf(["-V"], file).matchAll(/Name: GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [
    Number(m[1]), Number(m[2]), Number(m[3] || 0),
  ]);
  const newest = versions.reduce((a, b) => (a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) >= 0 ? a : b, [0, 0, 0]);
  const newestName = `GLIBC_${newest[0]}.${newest[1]}${newest[2] ? `.${newest[2]}` : ""}`;
  if (newest[0] > MAX_GLIBC[0] || (newest[0] === MAX_GLIBC[0] && newest[1] > MAX_GLIBC[1])) {
    failures.push(`needs ${newestName}, newer than GLIBC_${MAX_GLIBC.join(".")}`);
  }
  return { needed, exported, newestName, failures };
}

function main() {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node scripts/prebuild-check.js FILE.node");
    process.exit(2);
  }
  const result = check(file);
  console.log(`prebuild-check: ${file}`);
  console.log(`  needs:   ${result.needed.join(", ")}`);
  console.log(`  exports: ${result.exported.join(", ")}`);
  console.log(`  newest glibc symbol: ${result.newestName} (glibc ${result.newestName.slice(6)} or newer needed)`);
  for (const failure of result.failures) console.error(`prebuild-check: FAIL: ${failure}`);
  process.exit(result.failures.length ? 1 : 0);
}

if (require.main === module) main();
module.exports = { check };
