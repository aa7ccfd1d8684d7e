"use strict";
// Prebuilt binaries: which addon lib/native.js loads (lib/addon-path.js),
// how the libc is told apart, what scripts/install.js does when a prebuild
// loads or a source build is asked for, and what scripts/prebuild-check.js
// refuses. Fast: the "prebuild" here is a copy of the local build placed
// where a prebuild goes, in a throwaway copy of the package. The real
// prebuild, built in a Debian 11 root and installed into a minimal root
// without a compiler, is tested by scripts/prebuild-test.sh (.ci/run).
const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { elfInterpreter, detectLibc, prebuildFor, addonCandidates } = require("../lib/addon-path.js");

const ROOT = path.join(__dirname, "..");
const LOCAL_BUILD = path.join(ROOT, "build", "Release", "cffi_bun.node");
const linux = process.platform === "linux";

// A minimal ELF header with one PT_INTERP program header naming `interp`.
function fakeElf(interp, { is64 = true, littleEndian = true } = {}) {
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const name = Buffer.from(interp + "\0", "latin1");
  const buf = Buffer.alloc(ehsize + phentsize + name.length);
  const u16 = (v, o) => (littleEndian ? buf.writeUInt16LE(v, o) : buf.writeUInt16BE(v, o));
  const u32 = (v, o) => (littleEndian ? buf.writeUInt32LE(v, o) : buf.writeUInt32BE(v, o));
  const word = (v, o) => (is64 ? (littleEndian ? buf.writeBigUInt64LE(BigInt(v), o) : buf.writeBigUInt64BE(BigInt(v), o)) : u32(v, o));
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = is64 ? 2 : 1;
  buf[5] = littleEndian ? 1 : 2;
  buf[6] = 1;
  word(ehsize, is64 ? 0x20 : 0x1c); // e_phoff
  u16(phentsize, is64 ? 0x36 : 0x2a);
  u16(1, is64 ? 0x38 : 0x2c); // e_phnum
  u32(3, ehsize); // p_type = PT_INTERP
  word(ehsize + phentsize, ehsize + (is64 ? 8 : 4)); // p_offset
  word(name.length, ehsize + (is64 ? 32 : 16)); // p_filesz
  name.copy(buf, ehsize + phentsize);
  return buf;
}

let scratch;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-prebuild-"));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function writeScratch(name, bytes) {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe("libc detection", () => {
  test("this Node's own program interpreter is read", { skip: !linux }, () => {
    assert.match(elfInterpreter(process.execPath), /\/ld-(linux|musl)[^/]*\.so/);
    assert.equal(detectLibc(), /musl/.test(elfInterpreter(process.execPath)) ? "musl" : "glibc");
  });

  test("a musl interpreter means musl; 64- and 32-bit, both byte orders", () => {
    const musl = writeScratch("musl-node", fakeElf("/lib/ld-musl-x86_64.so.1"));
    assert.equal(elfInterpreter(musl), "/lib/ld-musl-x86_64.so.1");
    assert.equal(detectLibc({ platform: "linux", execPath: musl }), "musl");
    const be32 = writeScratch("be32-node", fakeElf("/lib/ld-musl-mips.so.1", { is64: false, littleEndian: false }));
    assert.equal(detectLibc({ platform: "linux", execPath: be32 }), "musl");
    const glibc32 = writeScratch("glibc32-node", fakeElf("/lib/ld-linux-armhf.so.3", { is64: false }));
    assert.equal(detectLibc({ platform: "linux", execPath: glibc32 }), "glibc");
  });

  test("no interpreter (static, unreadable, not ELF): the report header decides", () => {
    const notElf = writeScratch("script-node", "#!/bin/sh\n");
    const noInterp = writeScratch("static-node", fakeElf("x").subarray(0, 64)); // program header cut off
    const glibcReport = { getReport: () => ({ header: { glibcVersionRuntime: "2.36" } }) };
    const otherReport = { getReport: () => ({ header: {} }) };
    for (const execPath of [notElf, noInterp, path.join(scratch, "missing")]) {
      assert.equal(elfInterpreter(execPath), null);
      assert.equal(detectLibc({ platform: "linux", execPath, report: glibcReport }), "glibc");
      assert.equal(detectLibc({ platform: "linux", execPath, report: otherReport }), "musl");
    }
  });

  test("not Linux: no libc tag", () => {
    assert.equal(detectLibc({ platform: "darwin" }), null);
    assert.equal(detectLibc({ platform: "win32" }), null);
  });
});

describe("prebuild names and the loading order", () => {
  test("prebuildify's layout, tags node-gyp-build understands", () => {
    const root = "/pkg";
    assert.deepEqual(prebuildFor({ root, platform: "linux", arch: "x64", libc: "glibc" }), {
      dir: path.join(root, "prebuilds", "linux-x64"),
      file: path.join(root, "prebuilds", "linux-x64", "cffi_bun.napi.glibc.node"),
      tcc: path.join(root, "prebuilds", "linux-x64", "tcc"),
      target: "linux-x64 (glibc)",
    });
    assert.equal(
      prebuildFor({ root, platform: "linux", arch: "arm64", libc: "musl" }).file,
      path.join(root, "prebuilds", "linux-arm64", "cffi_bun.napi.musl.node"),
    );
    const win = prebuildFor({ root, platform: "win32", arch: "x64" });
    assert.equal(win.file, path.join(root, "prebuilds", "win32-x64", "cffi_bun.napi.node"));
    assert.equal(win.target, "win32-x64");
  });

  test("local build first (Release, then Debug), then the prebuild; ASan mode alone", () => {
    const root = "/pkg";
    const target = { platform: "linux", arch: "x64", libc: "glibc" };
    assert.deepEqual(addonCandidates({ root, env: {}, ...target }), [
      { file: path.join(root, "build", "Release", "cffi_bun.node"), kind: "local" },
      { file: path.join(root, "build", "Debug", "cffi_bun.node"), kind: "local" },
      { file: path.join(root, "prebuilds", "linux-x64", "cffi_bun.napi.glibc.node"), kind: "prebuild" },
    ]);
    assert.deepEqual(addonCandidates({ root, env: { CFFI_BUN_ASAN: "1" }, ...target }), [
      { file: path.join(root, "build-asan", "Release", "cffi_bun.node"), kind: "asan" },
    ]);
  });
});

// A throwaway copy of the package (lib/, scripts/install.js, package.json,
// no .git), with the local build optionally placed as its prebuild and/or
// its local build.
function packageCopy(name, { prebuild, local } = {}) {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, "scripts"), { recursive: true });
  fs.cpSync(path.join(ROOT, "lib"), path.join(dir, "lib"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "scripts", "install.js"), path.join(dir, "scripts", "install.js"));
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  const { file } = prebuildFor({ root: dir });
  if (prebuild) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (prebuild === "broken") fs.writeFileSync(file, "not a shared object");
    else fs.copyFileSync(LOCAL_BUILD, file);
  }
  if (local) {
    fs.mkdirSync(path.join(dir, "build", "Release"), { recursive: true });
    fs.copyFileSync(LOCAL_BUILD, path.join(dir, "build", "Release", "cffi_bun.node"));
  }
  return { dir, prebuild: file };
}

// Which .node file a fresh process maps after require(dir), and whether
// dlopen works through it.
function loadIn(dir) {
  const program = `
    const { dlopen } = require(${JSON.stringify(dir)});
    const libc = dlopen("libc.so.6", { getpid: { args: [], returns: "i32" } });
    const same = libc.symbols.getpid() === process.pid;
    const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
    const file = maps.split("\\n").map((l) => l.split(/\\s+/)[5]).find((f) => f && f.endsWith(".node"));
    console.log(JSON.stringify({ same, file }));`;
  const env = { ...process.env };
  delete env.CFFI_BUN_ASAN;
  return spawnSync(process.execPath, ["-e", program], { encoding: "utf8", env });
}

describe("lib/native.js in an installed copy", { skip: !linux || !fs.existsSync(LOCAL_BUILD) }, () => {
  test("with only a prebuild, the prebuild loads and works", () => {
    const pkg = packageCopy("only-prebuild", { prebuild: "good" });
    const run = loadIn(pkg.dir);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { same: true, file: pkg.prebuild });
  });

  test("a local build wins over the prebuild", () => {
    const pkg = packageCopy("both", { prebuild: "good", local: true });
    const run = loadIn(pkg.dir);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).file, path.join(pkg.dir, "build", "Release", "cffi_bun.node"));
  });

  test("a prebuild that does not load is reported with its path and the way out", () => {
    const pkg = packageCopy("broken-prebuild", { prebuild: "broken" });
    const run = loadIn(pkg.dir);
    assert.notEqual(run.status, 0);
    assert.ok(run.stderr.includes(`cannot load the native addon ${pkg.prebuild}`), run.stderr);
    assert.match(run.stderr, /glibc 2\.17 or newer[\s\S]*--build-from-source/);
  });

  test("nothing to load: every place looked in is named", () => {
    const pkg = packageCopy("nothing");
    const run = loadIn(pkg.dir);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /no native addon for linux-x64 \((glibc|musl)\)/);
    assert.ok(run.stderr.includes(path.join(pkg.dir, "build", "Release", "cffi_bun.node")), run.stderr);
    assert.ok(run.stderr.includes(pkg.prebuild), run.stderr);
    assert.match(run.stderr, /--build-from-source/);
  });
});

describe("scripts/install.js and prebuilds", { skip: !linux || !fs.existsSync(LOCAL_BUILD) }, () => {
  // The source build is never run here: a pretended missing compiler stops
  // it at the preflight, which is enough to see which way install.js went.
  function install(dir, env = {}) {
    const clean = { ...process.env };
    for (const key of ["CFFI_BUN_BUILD_FROM_SOURCE", "npm_config_build_from_source", "CFFI_BUN_SKIP_BUILD"]) delete clean[key];
    return spawnSync(process.execPath, [path.join(dir, "scripts", "install.js")], {
      cwd: dir,
      encoding: "utf8",
      env: { ...clean, CFFI_BUN_PREFLIGHT_PRETEND_MISSING: "compiler", ...env },
    });
  }

  test("a prebuild that loads: exits 0 at once, compiles nothing", () => {
    const pkg = packageCopy("install-prebuild", { prebuild: "good" });
    const run = install(pkg.dir);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /using the prebuilt binary prebuilds\/linux-x64\/cffi_bun\.napi\.(glibc|musl)\.node/);
    assert.equal(fs.existsSync(path.join(pkg.dir, "build")), false);
    assert.equal(run.stderr, "");
  });

  for (const [what, env] of [
    ["CFFI_BUN_BUILD_FROM_SOURCE=1", { CFFI_BUN_BUILD_FROM_SOURCE: "1" }],
    ["npm install --build-from-source", { npm_config_build_from_source: "true" }],
    ["--build-from-source=cffi-bun", { npm_config_build_from_source: "sqlite3,cffi-bun" }],
  ]) {
    test(`${what} forces the source build (and its preflight)`, () => {
      const pkg = packageCopy(`install-forced-${what.replace(/\W+/g, "-")}`, { prebuild: "good" });
      const run = install(pkg.dir, env);
      assert.equal(run.status, 1);
      assert.match(run.stdout, /building from source: a source build was asked for/);
      assert.match(run.stderr, /cannot be built yet: this machine is missing\n {2}- a C compiler/);
    });
  }

  test("--build-from-source naming another package leaves the prebuild in use", () => {
    const pkg = packageCopy("install-other-package", { prebuild: "good" });
    const run = install(pkg.dir, { npm_config_build_from_source: "sqlite3" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /using the prebuilt binary/);
  });

  test("a prebuild that does not load falls back to the source build, saying why", () => {
    const pkg = packageCopy("install-broken", { prebuild: "broken" });
    const run = install(pkg.dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /building from source: the prebuilt binary prebuilds\/linux-x64\/\S+ does not load here \(/);
    assert.match(run.stderr, /- a C compiler/);
  });

  test("no prebuild for this platform, and a git checkout, build from source", () => {
    const none = packageCopy("install-none");
    let run = install(none.dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /building from source: no prebuilt binary ships for linux-x64/);
    const checkout = packageCopy("install-checkout", { prebuild: "good" });
    fs.mkdirSync(path.join(checkout.dir, ".git"));
    run = install(checkout.dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /building from source: this is a git checkout/);
  });
});

const haveReadelf = spawnSync("readelf", ["--version"]).status === 0;
test("scripts/prebuild-check.js refuses a build that needs a shared libffi", { skip: !linux || !haveReadelf || !fs.existsSync(LOCAL_BUILD) }, () => {
  const { check } = require("../scripts/prebuild-check.js");
  const result = check(LOCAL_BUILD);
  assert.ok(result.exported.includes("napi_register_module_v1"));
  const readers = result.exported.filter((n) => /^cffi_bun_node_ffi_read_/.test(n));
  assert.deepEqual(readers.sort(), ["f32", "f64", "i16", "i32", "i8", "u16", "u32", "u8"].map((t) => `cffi_bun_node_ffi_read_${t}`));
  assert.deepEqual(result.exported.filter((n) => !/^(napi_register_module_v1|node_api_module_get_api_version_v1|cffi_bun_node_ffi_read_\w+)$/.test(n)), []);
  if (result.needed.some((n) => n.startsWith("libffi"))) {
    assert.ok(result.failures.some((f) => /beyond libc\/libm\/libdl\/libpthread: libffi/.test(f)), result.failures.join("; "));
  }
  assert.match(result.newestName, /^GLIBC_2\.\d+/);
});
