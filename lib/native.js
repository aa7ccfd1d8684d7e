"use strict";
// Loads the compiled addon: a local build (build/Release, build/Debug) when
// there is one, else the prebuilt binary shipped in the package for this
// platform, architecture and libc (lib/addon-path.js decides the order and
// the names). No install script is needed for the prebuild, so installs with
// --ignore-scripts, pnpm or Bun work. With CFFI_BUN_ASAN=1 it loads the
// sanitizer build made by scripts/test-asan.sh (build-asan/) and nothing else.
//
// A file that exists but fails to load is reported as it is, never skipped:
// falling through to another binary would hide a broken build.
const fs = require("node:fs");
const { ROOT, addonCandidates, prebuildFor } = require("./addon-path.js");

function load() {
  const candidates = addonCandidates();
  for (const { file, kind } of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      return require(file);
    } catch (error) {
      const hint =
        kind === "prebuild"
          ? "The prebuilt binary needs Linux with glibc 2.17 or newer (or the platform it was built for). " +
            "Build from source instead: `npm rebuild cffi-bun --build-from-source` (needs a C compiler, " +
            "python3 and libffi-dev; see docs/install.md)."
          : "Rebuild it: `npm rebuild cffi-bun --build-from-source` or `npx node-gyp rebuild` in " + ROOT + ".";
      throw new Error(`cffi-bun: cannot load the native addon ${file}: ${error.message}\n${hint}`, { cause: error });
    }
  }
  if (process.env.CFFI_BUN_ASAN === "1") {
    throw new Error("cffi-bun: CFFI_BUN_ASAN=1 but build-asan/Release/cffi_bun.node is not built; run `npm run test:asan`.");
  }
  throw new Error(
    `cffi-bun: no native addon for ${prebuildFor().target}. Looked for:\n${candidates.map((c) => `  ${c.file}`).join("\n")}\n` +
      "No prebuilt binary ships for this platform: build from source with `npm rebuild cffi-bun --build-from-source` " +
      "(needs a C compiler, python3 and libffi-dev; see docs/install.md).",
  );
}

const addon = load();
// The env the addon's finalizers go on: a second load of the same file, made
// now, on this thread (src/base/finalizer_env.c says why). Without it (a
// process.dlopen replaced by one that loads a file once, the file deleted
// since it was loaded) the addon still works, but Node may abort when the
// addon throws while the GC collects one of its objects: say so, once.
if (!addon.finalizerEnv()) {
  process.emitWarning(
    "cffi-bun could not load its addon a second time for its finalizers (process.dlopen refused it, or the file is gone); " +
      "an error thrown by cffi-bun while the GC collects one of its objects may then abort Node. See docs/safety.md.",
    { code: "CFFI_BUN_FINALIZER_ENV" },
  );
}
// close() during an FFI call defers the unload to Node's own setImmediate
// (src/library/library.c), taken from node:timers here rather than from the
// global, which fake timers may have replaced before this first require.
addon.useSetImmediate(require("node:timers").setImmediate);
// Async calls make the ArrayBuffers they hand to C untransferable (docs/async.md).
addon.asyncUseUntransferable(require("node:worker_threads").markAsUntransferable);
// The main thread's exit has begun: its JS thread will not run again, so
// threads must stop waiting for it (src/base/process_exit.c). Prepended, so
// it runs before 'exit' listeners that may block in C. A worker's end is
// handled per env by its cleanup hooks. The flag is process-wide, so one
// listener serves every load of the addon: the package required afresh
// (cache deleted) must not add one per load (Node warns past ten).
const EXIT_LISTENED = Symbol.for("cffi-bun.markProcessExiting");
if (require("node:worker_threads").isMainThread && !process[EXIT_LISTENED]) {
  Object.defineProperty(process, EXIT_LISTENED, { value: true });
  process.prependListener("exit", addon.markProcessExiting);
}
module.exports = addon;
