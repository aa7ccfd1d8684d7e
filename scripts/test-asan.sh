#!/usr/bin/env bash
# npm run test:asan: the whole test suite against an addon built with
# AddressSanitizer + UndefinedBehaviorSanitizer (gcc's libasan/libubsan).
#
#   1. builds the addon with -fsanitize=address,undefined into build-asan/
#      (a copy of binding.gyp + src/ is built there, so build/ is untouched);
#      lib/native.js loads build-asan/ instead of build/ when CFFI_BUN_ASAN=1;
#   2. runs `node --test test/*.test.js` with the sanitizer runtimes preloaded
#      (Node itself is not instrumented) and leak detection off, because Node
#      and V8 do not free everything at exit;
#      then the self-check (a deliberate use-after-free must be reported) and
#      a 20k-call fuzz run under the same runtimes;
#   3. a LeakSanitizer pass over test/bad-input.test.js, test/addon-reload.test.js
#      (the addon loaded again and again in one thread) and a short soak: every
#      leak report whose allocation stack passes through cffi_bun.node is ours
#      and fails the run; leaks with no frame of ours belong to Node/V8.
# Any sanitizer report fails the run (halt_on_error / exitcode), and the logs
# are scanned afterwards as well, so a report in a child process counts too.
#
# CFFI_BUN_ASAN_TESTS="test/x.test.js test/y.test.js" runs steps 1, 2a and 2b
# for those files only (no fuzz, no leak pass): the check for a change.
#
# UBSan: -fsanitize=function (calls through a mismatched prototype) would flag
# the register-call fast path, which calls every C function through one
# prototype that loads all argument registers on purpose (src/platform/platform.h,
# src/calls/call.c register_call). gcc has no -fsanitize=function for C, so nothing
# needs excluding with gcc; with clang (CC=clang) it is turned off below, and
# only it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The sanitizers slow every call two to three times, and this step runs
# beside others: timing limits in the tests (timeScale) get a margin, as in
# the other heavy steps (a 5 s limit once took 5.46 s here at load 12).
export CFFI_BUN_TIME_SCALE="${CFFI_BUN_TIME_SCALE:-3}"
OUT="$ROOT/build-asan"
CC="${CC:-gcc}"
NODE_GYP="${NODE_GYP:-}"
if [[ -z "$NODE_GYP" ]]; then
  for candidate in "$ROOT/node_modules/node-gyp/bin/node-gyp.js" \
                   "$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" \
                   /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
                   /usr/share/nodejs/node-gyp/bin/node-gyp.js; do
    if [[ -f "$candidate" ]]; then NODE_GYP="$candidate"; break; fi
  done
fi
[[ -n "$NODE_GYP" ]] || { echo "test-asan: node-gyp not found (set NODE_GYP)"; exit 1; }

log() { printf 'test-asan: %s\n' "$*"; }

if [[ "$CC" == *clang* ]]; then
  runtime_asan="$("$CC" -print-file-name=libclang_rt.asan-x86_64.so)"
  runtime_ubsan=""   # part of clang's asan runtime
  san_flags="-fsanitize=address,undefined -fno-sanitize=function"
else
  runtime_asan="$("$CC" -print-file-name=libasan.so)"
  runtime_ubsan="$("$CC" -print-file-name=libubsan.so)"
  san_flags="-fsanitize=address,undefined"
fi
for rt in $runtime_asan $runtime_ubsan; do
  [[ -f "$rt" ]] || { log "sanitizer runtime $rt not found (install gcc's libasan8/libubsan1, or clang + libclang-rt-14-dev)"; exit 1; }
done
san_flags="$san_flags -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"

# 1. build
log "building the addon with $san_flags ($CC) into build-asan/"
stage="$OUT/tree"
rm -rf "$stage"
mkdir -p "$stage"
mkdir -p "$stage/scripts"
cp -R "$ROOT/binding.gyp" "$ROOT/src" "$ROOT/package.json" "$stage/"
cp "$ROOT/scripts/find-tcc.js" "$stage/scripts/"  # binding.gyp runs it
(
  cd "$stage"
  CC="$CC" CFLAGS="$san_flags" LDFLAGS="$san_flags" \
    node "$NODE_GYP" rebuild --nodedir="${CFFI_BUN_NODEDIR:-/usr}" >"$OUT/build.log" 2>&1
) || { cat "$OUT/build.log"; log "build failed"; exit 1; }
mkdir -p "$OUT/Release"
cp "$stage/build/Release/cffi_bun.node" "$OUT/Release/cffi_bun.node"
[[ "$(nm -u "$OUT/Release/cffi_bun.node")" == *__asan_init* ]] || { log "the built addon is not instrumented"; exit 1; }

logs="$OUT/logs"
rm -rf "$logs"
mkdir -p "$logs"
preload="$runtime_asan${runtime_ubsan:+ $runtime_ubsan}"
export CFFI_BUN_ASAN=1
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
# Node reserves large address ranges and uses its own signal handlers.
base_asan="abort_on_error=0:exitcode=86:handle_segv=1:allow_user_segv_handler=1:detect_odr_violation=0:log_path=$logs/asan"

scan_reports() {
  local found=0 f
  for f in "$logs"/*; do
    [[ -e "$f" ]] || continue
    case "$f" in *.leaks.*) continue ;; esac
    if grep -qE "ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:" "$f"; then
      log "sanitizer report in $f:"; sed -n 1,60p "$f"; found=1
    fi
  done
  return $found
}

# 2a. the sanitizer is live: a read of freed memory through read.u8 must be
# reported (and must not count as a failure of the real run below).
log "self-check: a use-after-free through read.u8 must be reported"
live_rc=0
(cd "$ROOT" && LD_PRELOAD="$preload" ASAN_OPTIONS="abort_on_error=0:exitcode=86:detect_leaks=0:log_path=$OUT/selfcheck" \
  node -e '
    const { dlopen, read } = require(".");
    const { fixturePath } = require("./test/helpers/fixture");
    const { symbols: s } = dlopen(fixturePath(), { make_buffer: { args: ["usize"], returns: "ptr" }, free_buffer: { args: ["ptr"] } });
    const p = s.make_buffer(64); s.free_buffer(p); read.u8(p, 8);' >/dev/null 2>&1) || live_rc=$?
if [[ $live_rc -ne 86 ]] || ! grep -q "heap-use-after-free" "$OUT"/selfcheck.* 2>/dev/null; then
  log "FAILED: the sanitizer did not report a deliberate use-after-free (exit $live_rc); the build or preload is wrong"; exit 1
fi
rm -f "$OUT"/selfcheck.*
log "self-check ok: heap-use-after-free reported"

# 2b. the suite
log "node --test test/*.test.js with $preload preloaded"
rc=0
(cd "$ROOT" && CFFI_BUN_ENGINE=jit LD_PRELOAD="$preload" ASAN_OPTIONS="$base_asan:detect_leaks=0" \
  node --test ${CFFI_BUN_ASAN_TESTS:-test/*.test.js} >"$OUT/test.log" 2>&1) || rc=$?
tail -n 9 "$OUT/test.log"
scan_reports || { log "FAILED: sanitizer reports (above)"; exit 1; }
if [[ $rc -ne 0 ]]; then grep -E "^not ok|error:" "$OUT/test.log" | head -40; log "FAILED: the suite failed under the sanitizers (exit $rc)"; exit "$rc"; fi
if [[ -n "${CFFI_BUN_ASAN_TESTS:-}" ]]; then log "passed: $CFFI_BUN_ASAN_TESTS (a subset: no fuzz or leak pass)"; exit 0; fi

# 2c. a shorter fuzz run (test/fuzz/fuzz.js) under the sanitizers, with jit
#     wrappers from the first call (the suite runs mostly the generic engine)
log "fuzz (20k calls, CFFI_BUN_ENGINE=jit) under the sanitizers"
(cd "$ROOT" && CFFI_BUN_ENGINE=jit LD_PRELOAD="$preload" ASAN_OPTIONS="$base_asan:detect_leaks=0" \
  node test/fuzz/fuzz.js --calls=20000 >"$OUT/fuzz.log" 2>&1) || { tail -n 20 "$OUT/fuzz.log"; scan_reports || true; log "FAILED: fuzz under the sanitizers"; exit 1; }
grep -E "^fuzz: (seed|[0-9]+ calls)" "$OUT/fuzz.log" | cut -c1-160
scan_reports || { log "FAILED: sanitizer reports (above)"; exit 1; }

# 3. leaks of our own
log "LeakSanitizer pass (reports that pass through cffi_bun.node are ours)"
leak_run() {
  local name="$1"; shift
  local lrc=0
  (cd "$ROOT" && LD_PRELOAD="$preload" \
    ASAN_OPTIONS="abort_on_error=0:exitcode=0:handle_segv=1:allow_user_segv_handler=1:detect_odr_violation=0:detect_leaks=1:log_path=$logs/$name.leaks" \
    LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0" \
    "$@" >"$OUT/$name.log" 2>&1) || lrc=$?
  if [[ $lrc -ne 0 ]]; then tail -n 20 "$OUT/$name.log"; log "FAILED: $name exited $lrc"; return 1; fi
  node "$ROOT/scripts/lsan-filter.js" "$logs"/"$name".leaks.*
}
leak_run bad-input node --test test/bad-input.test.js
leak_run addon-reload node --test test/addon-reload.test.js
leak_run soak node --expose-gc test/soak/soak.js --scale=0.01 --no-rss-check
scan_reports || { log "FAILED: sanitizer reports (above)"; exit 1; }
log "ok: no AddressSanitizer, UndefinedBehaviorSanitizer or LeakSanitizer reports of ours"
