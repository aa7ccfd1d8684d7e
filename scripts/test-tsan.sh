#!/usr/bin/env bash
# ThreadSanitizer pass over the workers stress test (issue 22 item 10):
#
#   1. builds the addon with gcc's -fsanitize=thread into build-tsan/ (a copy
#      of binding.gyp + src/, so build/ is untouched) and lays it out as a
#      package there (build-tsan/pkg: lib/, package.json, build/Release), so
#      the shim loads it as a local build;
#   2. runs test/soak/workers-stress.js, then test/soak/batch-async-close.js
#      (a batch on the pool racing close() of its library) and
#      test/soak/exit-race.js (the exit's sweep racing a worker's argument
#      conversion), against that
#      package with libtsan preloaded into an uninstrumented Node (its
#      children inherit it).
#
# Node and V8 are not instrumented, so TSan cannot see their own locking and
# reports races between their threads (V8's job workers, MessagePort, libuv
# rwlocks): noise. A report with a frame in cffi_bun.node is ours and fails
# the run, unless its other side is glibc freeing a dead thread's dynamic TLS. Before issue 22 this found the per-env rewrite of
# cffi_engine_preferred and cffi_debug_enabled (src/addon.c). About 2-3 min.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build-tsan"
CC="${CC:-gcc}"
NODE_GYP="${NODE_GYP:-$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js}"
RUNS="${CFFI_BUN_TSAN_RUNS:-4}"
log() { printf 'test-tsan: %s\n' "$*"; }

runtime="$("$CC" -print-file-name=libtsan.so)"
[[ -f "$runtime" ]] || { log "libtsan not found (install gcc's libtsan2)"; exit 1; }
[[ -f "$NODE_GYP" ]] || { log "node-gyp not found at $NODE_GYP (set NODE_GYP)"; exit 1; }

log "building the addon with -fsanitize=thread into build-tsan/"
rm -rf "$OUT"
mkdir -p "$OUT/tree/scripts" "$OUT/pkg/build/Release" "$OUT/logs"
cp -R "$ROOT/binding.gyp" "$ROOT/src" "$ROOT/package.json" "$OUT/tree/"
cp "$ROOT/scripts/find-tcc.js" "$OUT/tree/scripts/"
(
  cd "$OUT/tree"
  CC="$CC" CFLAGS="-fsanitize=thread -g -O1" LDFLAGS="-fsanitize=thread" \
    node "$NODE_GYP" rebuild --nodedir="${CFFI_BUN_NODEDIR:-/usr}" >"$OUT/build.log" 2>&1
) || { cat "$OUT/build.log"; log "build failed"; exit 1; }
cp "$OUT/tree/build/Release/cffi_bun.node" "$OUT/pkg/build/Release/"
cp -R "$ROOT/lib" "$ROOT/package.json" "$OUT/pkg/"
[[ "$(nm -u "$OUT/pkg/build/Release/cffi_bun.node")" == *__tsan_init* ]] || { log "the built addon is not instrumented"; exit 1; }

log "workers stress ($RUNS rounds of 8 workers, 2 per process) with $runtime preloaded"
# setarch -R: TSan needs the address layout it expects (no ASLR surprises).
rc=0
CFFI_BUN_STRESS_ROOT="$OUT/pkg" TSAN_OPTIONS="report_signal_unsafe=0 exitcode=0 log_path=$OUT/logs/tsan" \
  LD_PRELOAD="$runtime" setarch -R node "$ROOT/test/soak/workers-stress.js" --runs="$RUNS" --per-child=2 --procs=1 || rc=$?
[[ $rc -eq 0 ]] || { log "FAILED: the stress test failed under TSan (exit $rc)"; exit "$rc"; }
log "batch().runAsync() racing close() of its library"
CFFI_BUN_STRESS_ROOT="$OUT/pkg" TSAN_OPTIONS="report_signal_unsafe=0 exitcode=0 log_path=$OUT/logs/tsan" \
  LD_PRELOAD="$runtime" setarch -R node "$ROOT/test/soak/batch-async-close.js" --rounds=20 || rc=$?
[[ $rc -eq 0 ]] || { log "FAILED: batch-async-close failed under TSan (exit $rc)"; exit "$rc"; }
log "process.exit() while a worker converts a waiting callback call's arguments"
CFFI_BUN_STRESS_ROOT="$OUT/pkg" TSAN_OPTIONS="report_signal_unsafe=0 exitcode=0 log_path=$OUT/logs/tsan" \
  LD_PRELOAD="$runtime" setarch -R node "$ROOT/test/soak/exit-race.js" --rounds=2 || rc=$?
[[ $rc -eq 0 ]] || { log "FAILED: exit-race failed under TSan (exit $rc)"; exit "$rc"; }

ours=0 total=0
for f in "$OUT"/logs/tsan*; do
  [[ -e "$f" ]] || continue
  # One line per report (a report ends with its SUMMARY line).
  while IFS= read -r report; do
    total=$((total + 1))
    # glibc frees an ended thread's dynamic TLS (the addon's __thread caches)
    # from whichever thread next reuses its cached stack, and TSan does not
    # see that lifetime: such a free "races" with the ended thread's last
    # access. Noise, not ours.
    # V8's job state (its mutex destroyed by one platform thread while another
    # joins the job: a GC that our string creation started) is V8's own
    # locking, which TSan cannot see: noise too.
    if [[ "$report" == *cffi_bun.node* && "$report" != *_dl_deallocate_tls* && "$report" != *DefaultJobState* ]]; then
      ours=$((ours + 1))
      log "report of ours in $f:"; printf '%s\n' "${report// | /$'\n'}" | head -60
    fi
  done < <(awk 'BEGIN { RS = "SUMMARY: ThreadSanitizer" } /WARNING: ThreadSanitizer/ { gsub(/\n/, " | "); print }' "$f")
done
log "$total TSan reports in all, $ours with a frame in cffi_bun.node"
[[ $ours -eq 0 ]] || { log "FAILED: ThreadSanitizer reports of ours (above)"; exit 1; }
log "ok: no ThreadSanitizer reports of ours"
