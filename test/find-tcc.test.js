"use strict";
// scripts/find-tcc.js (binding.gyp's TinyCC lookup): in a cross build the
// target's multiarch libtcc.a is linked, never the build machine's (issue
// 17: a linux-arm64 addon cross-built on x86-64 must get arm64's TinyCC).
// Each case lays out a fake prefix, read first through CFFI_BUN_TCC_PREFIX.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const SCRIPT = path.join(__dirname, "..", "scripts", "find-tcc.js");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-find-tcc-"));
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

// A GNU ar archive holding only a symbol table of these names, then text.
const INTERNALS = ["table_ident", "tcc_state", "tcc_enter_state", "tcc_exit_state"];
function fakeArchive(symbols, text) {
  const names = Buffer.from(symbols.map((n) => n + "\0").join(""), "latin1");
  const table = Buffer.alloc(4 + 4 * symbols.length);
  table.writeUInt32BE(symbols.length, 0);
  const body = Buffer.concat([table, names]);
  const header = Buffer.from("/".padEnd(16) + "0".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "0".padEnd(8) + String(body.length).padEnd(10) + "`\n", "latin1");
  return Buffer.concat([Buffer.from("!<arch>\n"), header, body, Buffer.from(body.length % 2 ? "\n" : ""), Buffer.from(text)]);
}

// A prefix with include/libtcc.h and a libtcc.a in each of libDirs (each
// archive's bytes name its folder, so the cflags' identity differs too).
function prefix(name, libDirs, symbols = INTERNALS) {
  const root = path.join(scratch, name);
  fs.mkdirSync(path.join(root, "include"), { recursive: true });
  fs.writeFileSync(path.join(root, "include", "libtcc.h"), "/* fake */\n");
  for (const dir of libDirs) {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.writeFileSync(path.join(root, dir, "libtcc.a"), fakeArchive(symbols, `${dir}\n`));
  }
  return root;
}

function findTcc(root, want, ...arch) {
  return execFileSync(process.execPath, [SCRIPT, want, ...arch], {
    env: { ...process.env, CFFI_BUN_TCC_PREFIX: root, CFFI_BUN_TCC: "" },
    encoding: "utf8",
  }).trim();
}

const linux = process.platform === "linux";
const otherArch = process.arch === "arm64" ? "x64" : "arm64";
const multiarch = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

test("a cross build links the target's multiarch archive, not the build machine's", { skip: !linux && "find-tcc.js links TinyCC on Linux only" }, () => {
  const root = prefix("both", ["lib", multiarch.x64, multiarch.arm64].map((d) => (d === "lib" ? d : path.join("lib", d))));
  for (const arch of ["x64", "arm64"]) {
    const libs = findTcc(root, "libs", arch);
    assert.equal(libs.split(/\s+/)[0], path.join(root, "lib", multiarch[arch], "libtcc.a"), arch);
    assert.match(libs, /-Wl,--exclude-libs,ALL -Wl,--wrap=open -Wl,--wrap=exit -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=free$/);
  }
  // Different archives, different identities in cc()'s cache key.
  const id = (arch) => findTcc(root, "cflags", arch).match(/-DCFFI_TCC_ID=(\S+)/)[1];
  assert.notEqual(id("x64"), id("arm64"));
  assert.match(findTcc(root, "cflags", "arm64"), new RegExp(`-DCFFI_HAVE_TCC=1 .*-I${path.join(root, "include")}`));
});

test("lib/ and lib64/ hold the build machine's archive: used for a native build only", { skip: !linux && "Linux only" }, () => {
  const root = prefix("plain", ["lib"]);
  assert.equal(findTcc(root, "libs", process.arch).split(/\s+/)[0], path.join(root, "lib", "libtcc.a"));
  // Without an architecture: this Node's.
  assert.equal(findTcc(root, "libs").split(/\s+/)[0], path.join(root, "lib", "libtcc.a"));
  // A cross build does not take it: the target's archive comes from a later
  // prefix (the system's multiarch folder) or, with none, nothing is linked.
  const cross = findTcc(root, "libs", otherArch);
  assert.ok(!cross.includes(root), cross);
  if (cross) assert.equal(cross.split(/\s+/)[0], path.join("/usr", "lib", multiarch[otherArch], "libtcc.a"));
});

test("CFFI_BUN_TCC=0 builds without TinyCC", () => {
  const root = prefix("off", [path.join("lib", multiarch.arm64)]);
  const out = execFileSync(process.execPath, [SCRIPT, "libs", "arm64"], {
    env: { ...process.env, CFFI_BUN_TCC_PREFIX: root, CFFI_BUN_TCC: "0" },
    encoding: "utf8",
  });
  assert.equal(out, "\n");
  assert.doesNotMatch(
    execFileSync(process.execPath, [SCRIPT, "cflags", "arm64"], { env: { ...process.env, CFFI_BUN_TCC: "0" }, encoding: "utf8" }),
    /CFFI_HAVE_TCC/,
  );
});

test("an archive without the TinyCC internals cc()'s limits use (built as one source) is skipped, with a note", { skip: !linux && "Linux only" }, () => {
  const root = prefix("one-source", ["lib"], ["tcc_new", "tcc_compile_string"]);
  const r = require("node:child_process").spawnSync(process.execPath, [SCRIPT, "libs", process.arch], {
    env: { ...process.env, CFFI_BUN_TCC_PREFIX: root, CFFI_BUN_TCC: "" },
    encoding: "utf8",
  });
  assert.notEqual(r.stdout.split(/\s+/)[0], path.join(root, "lib", "libtcc.a"));
  assert.match(r.stderr, new RegExp(`libtcc.a lacks table_ident, tcc_state, tcc_enter_state, tcc_exit_state \\(a TinyCC built as one source\\?\\): building without cc\\(\\)`));
  assert.doesNotMatch(findTcc(root, "cflags", process.arch), new RegExp(root));
});
