#!/usr/bin/env node
'use strict';

// Install step of cffi-bun (package.json: "install": "node scripts/install.js").
//
// 0. Prebuilt binary: when the package ships one for this platform, architecture and libc
//    (prebuilds/, see lib/addon-path.js) and it loads, there is nothing to build: exit 0 at
//    once. Loading never depends on this script (lib/native.js finds the prebuild itself), so
//    --ignore-scripts installs work too. A git checkout always builds from source: its
//    developers want the addon of the code in front of them, not a stale prebuild.
// 1. Preflight: checks that what the native build needs is there (a C compiler, libffi and
//    its headers, Python 3 for node-gyp). If something is missing it prints a short message
//    naming what to install on each OS and exits 1, instead of a wall of compiler output.
// 2. Build: runs `node-gyp rebuild` in the package root, streaming its output; if that fails,
//    prints a one-paragraph hint after it.
//
// Environment:
//   CFFI_BUN_SKIP_BUILD=1    skip the preflight and the build entirely (exit 0).
//   CFFI_BUN_BUILD_FROM_SOURCE=1, or `npm install --build-from-source` (npm_config_build_from_source)
//                            build from source even when a prebuilt binary would load.
//   CFFI_BUN_PREFLIGHT_PRETEND_MISSING=libffi[,compiler,python]
//                            FOR TESTING THIS SCRIPT ONLY: treat the listed requirements as
//                            missing, to see the message a user without them would get.
//   CC                       the C compiler to check; when unset: cc, gcc, clang in turn.
//   PYTHON / npm_config_python   the Python node-gyp will use (checked first if set).
//   npm_config_nodedir       where node-gyp takes Node's headers from. When unset and this
//                            Node's own prefix has headers of the same version (Debian's nodejs,
//                            official tarballs), --nodedir=<prefix> is passed: no download.
//
// No shell is involved anywhere: every command is run with execFileSync/spawnSync.

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const IS_WIN = process.platform === 'win32';
const IS_MAC = process.platform === 'darwin';

if (process.env.CFFI_BUN_SKIP_BUILD === '1') {
  console.log('cffi-bun: CFFI_BUN_SKIP_BUILD=1, skipping the native build.');
  process.exit(0);
}

// True when the user asked for a source build: CFFI_BUN_BUILD_FROM_SOURCE=1, or npm's
// --build-from-source (npm_config_build_from_source: "true", or a list of package names as
// node-pre-gyp users write it, --build-from-source=cffi-bun).
function sourceBuildForced(env) {
  if (env.CFFI_BUN_BUILD_FROM_SOURCE === '1') return true;
  const flag = (env.npm_config_build_from_source || '').trim().toLowerCase();
  return flag === 'true' || flag === '1' || flag.split(',').map((s) => s.trim()).includes('cffi-bun');
}

// The reason not to use the prebuilt binary, or null when it loads.
function prebuildProblem() {
  if (sourceBuildForced(process.env)) return 'a source build was asked for';
  if (fs.existsSync(path.join(ROOT, '.git'))) return 'this is a git checkout';
  const { prebuildFor } = require('../lib/addon-path.js');
  const prebuild = prebuildFor({ root: ROOT });
  if (!fs.existsSync(prebuild.file)) return `no prebuilt binary ships for ${prebuild.target}`;
  try {
    require(prebuild.file);
  } catch (error) {
    return `the prebuilt binary ${path.relative(ROOT, prebuild.file)} does not load here (${error.message.split('\n')[0]})`;
  }
  console.log(
    `cffi-bun: using the prebuilt binary ${path.relative(ROOT, prebuild.file)}; nothing to compile. ` +
      '(CFFI_BUN_BUILD_FROM_SOURCE=1 or npm install --build-from-source compiles it instead.)'
  );
  return null;
}

const whyBuild = prebuildProblem();
if (whyBuild === null) process.exit(0);
console.log(`cffi-bun: building from source: ${whyBuild}.`);

const pretend = new Set(
  (process.env.CFFI_BUN_PREFLIGHT_PRETEND_MISSING || '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
);

// Runs a command quietly; true when it starts and exits 0.
function runs(cmd, args, opts = {}) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 60000, windowsHide: true, ...opts });
    return true;
  } catch {
    return false;
  }
}

// Child environment: on macOS, Homebrew's libffi is keg-only, so pkg-config only sees it
// when its folder is on PKG_CONFIG_PATH. Add it (if present) for the check and for node-gyp.
const childEnv = { ...process.env };
if (IS_MAC) {
  const kegs = ['/opt/homebrew/opt/libffi/lib/pkgconfig', '/usr/local/opt/libffi/lib/pkgconfig']
    .filter((d) => fs.existsSync(d));
  if (kegs.length) {
    const cur = (childEnv.PKG_CONFIG_PATH || '').split(path.delimiter).filter(Boolean);
    childEnv.PKG_CONFIG_PATH = [...cur, ...kegs.filter((k) => !cur.includes(k))].join(path.delimiter);
  }
}

// ---------------------------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------------------------

// The compiler node-gyp's make will use: $CC when set (and only it), else cc, gcc, clang.
function findCompiler() {
  if (pretend.has('compiler')) return null;
  const cc = (process.env.CC || '').trim();
  const candidates = cc ? [cc] : ['cc', 'gcc', 'clang'];
  for (const c of candidates) {
    const parts = c.split(/\s+/);
    const found = { cmd: parts[0], pre: parts.slice(1), name: c };
    if (runs(found.cmd, [...found.pre, '--version'])) return found;
  }
  return null;
}

function haveLibffi(cc) {
  if (pretend.has('libffi')) return false;
  if (IS_WIN) {
    // No system compiler to ask on Windows: look where binding.gyp looks, vcpkg's x64-windows
    // tree under %VCPKG_ROOT% (default C:\vcpkg, where GitHub's runners have it).
    const root = process.env.VCPKG_ROOT || 'C:\\vcpkg';
    if (fs.existsSync(path.join(root, 'installed', 'x64-windows', 'include', 'ffi.h'))) return true;
    return false;
  }
  if (runs('pkg-config', ['--exists', 'libffi'], { env: childEnv })) return true;
  if (!cc) return false; // cannot test-compile; the compiler is reported missing anyway
  // No pkg-config (or no libffi.pc): try to compile and link a tiny program against -lffi.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cffi-bun-preflight-'));
  try {
    const src = path.join(dir, 'ffi_check.c');
    fs.writeFileSync(
      src,
      '#include <ffi.h>\n' +
        'int main(void) { ffi_cif cif;\n' +
        '  return ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_void, 0) == FFI_OK ? 0 : 1; }\n'
    );
    // Homebrew's keg-only libffi, which binding.gyp also falls back to without pkg-config.
    const kegFlags = IS_MAC
      ? ['/opt/homebrew/opt/libffi', '/usr/local/opt/libffi']
          .filter((d) => fs.existsSync(d))
          .flatMap((d) => [`-I${d}/include`, `-L${d}/lib`])
      : [];
    const out = path.join(dir, 'ffi_check');
    return runs(cc.cmd, [...cc.pre, ...kegFlags, src, '-o', out, '-lffi'], { cwd: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function findPython() {
  if (pretend.has('python')) return null;
  const check = ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)'];
  const candidates = [];
  for (const v of [process.env.npm_config_python, process.env.NODE_GYP_FORCE_PYTHON, process.env.PYTHON]) {
    if (v) candidates.push({ cmd: v, pre: [] });
  }
  candidates.push({ cmd: 'python3', pre: [] }, { cmd: 'python', pre: [] });
  if (IS_WIN) candidates.push({ cmd: 'py', pre: ['-3'] });
  for (const c of candidates) {
    if (runs(c.cmd, [...c.pre, ...check])) return c;
  }
  return null;
}

function preflight() {
  const missing = [];
  // On Windows node-gyp finds MSVC (Visual Studio Build Tools) itself and explains when it can't.
  const cc = IS_WIN ? null : findCompiler();
  if (!IS_WIN && !cc) {
    const named = (process.env.CC || '').trim();
    missing.push(named ? `a working C compiler (CC is set to "${named}", which does not run)` : 'a C compiler (cc, gcc or clang)');
  }
  if (!haveLibffi(cc)) missing.push('libffi and its development headers');
  if (!findPython()) missing.push('Python 3 (node-gyp needs it)');
  return missing;
}

// Which of the four recipes applies here, to point at it.
function thisSystem() {
  if (IS_WIN) return 'win';
  if (IS_MAC) return 'mac';
  try {
    const rel = fs.readFileSync('/etc/os-release', 'utf8');
    const ids = (rel.match(/^(ID|ID_LIKE)=(.*)$/gm) || []).join(' ').toLowerCase();
    if (/debian|ubuntu/.test(ids)) return 'debian';
    if (/fedora|rhel|centos/.test(ids)) return 'fedora';
  } catch {
    /* unknown */
  }
  return '';
}

function printMissing(missing) {
  const here = thisSystem();
  const mark = (k) => (k === here ? '   <- this machine' : '');
  const lines = [
    '',
    'cffi-bun cannot be built yet: this machine is missing',
    ...missing.map((m) => `  - ${m}`),
    '',
    'cffi-bun is a native addon: installing it compiles a little C against libffi. To get what it needs:',
    '',
    `  Debian / Ubuntu:${mark('debian')}`,
    '    sudo apt-get install -y build-essential libffi-dev pkg-config python3',
    `  Fedora:${mark('fedora')}`,
    '    sudo dnf install gcc make libffi-devel pkgconf-pkg-config python3',
    `  macOS (Homebrew):${mark('mac')}`,
    '    xcode-select --install',
    '    brew install libffi pkg-config',
    `  Windows:${mark('win')}`,
    '    Visual Studio Build Tools with the "Desktop development with C++" workload, Python 3,',
    '    and libffi from vcpkg:  vcpkg install libffi:x64-windows   (with VCPKG_ROOT set)',
    '',
    'Then run the install again. (Set CFFI_BUN_SKIP_BUILD=1 to install without building.)',
    '',
  ];
  console.error(lines.join('\n'));
}

const missing = preflight();
if (missing.length) {
  printMissing(missing);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Build with node-gyp
// ---------------------------------------------------------------------------------------------

function onPath(name) {
  const exts = IS_WIN ? ['.cmd', '.exe', ''] : [''];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, name + ext);
      try {
        if (fs.statSync(p).isFile()) return p;
      } catch {
        /* not here */
      }
    }
  }
  return null;
}

// Returns [command, argsBefore] to run node-gyp with, or null.
function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, [fromNpm]];

  const global = onPath('node-gyp');
  if (global) {
    if (IS_WIN) {
      // npm's global shim node-gyp.cmd sits beside node_modules\node-gyp; run the script with
      // node directly (a .cmd can't be spawned without a shell).
      const js = path.join(path.dirname(global), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
      if (fs.existsSync(js)) return [process.execPath, [js]];
      if (global.toLowerCase().endsWith('.exe')) return [global, []];
    } else {
      let real = global;
      try {
        real = fs.realpathSync(global);
      } catch {
        /* keep the link */
      }
      return real.endsWith('.js') ? [process.execPath, [real]] : [global, []];
    }
  }

  const bundled = [
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  for (const b of bundled) if (fs.existsSync(b)) return [process.execPath, [path.normalize(b)]];
  return null;
}

// node-gyp downloads Node's headers unless told where they are. When this Node's prefix has
// its own headers for exactly this version (as Debian's nodejs and the official tarballs do),
// point node-gyp at them: no download, works offline. Skipped on Windows (node.lib is not
// installed there) and when the user already chose a nodedir.
function localNodedirArgs() {
  if (IS_WIN || process.env.npm_config_nodedir || process.env.NODEDIR) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const inc = path.join(prefix, 'include', 'node');
  try {
    if (!fs.existsSync(path.join(inc, 'common.gypi'))) return [];
    const h = fs.readFileSync(path.join(inc, 'node_version.h'), 'utf8');
    const num = (k) => (h.match(new RegExp(`#define\\s+${k}\\s+(\\d+)`)) || [])[1];
    const v = `${num('NODE_MAJOR_VERSION')}.${num('NODE_MINOR_VERSION')}.${num('NODE_PATCH_VERSION')}`;
    return v === process.versions.node ? [`--nodedir=${prefix}`] : [];
  } catch {
    return [];
  }
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error(
    '\ncffi-bun: could not find node-gyp (it normally comes with npm). Install it with\n' +
      '  npm install -g node-gyp\nand run the install again.\n'
  );
  process.exit(1);
}

const [cmd, pre] = gyp;
const args = [...pre, 'rebuild', ...localNodedirArgs()];
const started = Date.now();
const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: childEnv, windowsHide: true });

if (res.error || res.status !== 0) {
  const why = res.error ? res.error.message : res.signal ? `signal ${res.signal}` : `exit code ${res.status}`;
  console.error(
    `\ncffi-bun: building the native addon with node-gyp failed (${why}). ` +
      'The first error above is usually the one that matters. Common causes: libffi headers ' +
      'that pkg-config cannot find (on macOS with Homebrew, set PKG_CONFIG_PATH to ' +
      '"$(brew --prefix libffi)/lib/pkgconfig"; on Windows, set VCPKG_ROOT), a compiler too old ' +
      'for C11, or node-gyp being unable to download Node\'s headers while offline (set ' +
      'npm_config_nodedir to a Node source or install tree). ' +
      'Run "npm install --foreground-scripts" to see the whole log, and please include it ' +
      'if you report a bug.\n'
  );
  process.exit(typeof res.status === 'number' && res.status !== 0 ? res.status : 1);
}

console.log(`cffi-bun: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
