"use strict";
// The audit of the addon's raw exports (src/addon.c and each subsystem's
// exports): what each takes and what it could break if user code calls it
// with odd arguments, out of order, from a worker, or from a callback. Any
// JS can reach them: lib/native.js re-exports the addon's object, and
// `process.dlopen` or `require()` of build/Release/cffi_bun.node (or of
// lib/native.js by path) gives it too; package.json's "exports" only keeps
// `require("cffi-bun/...")` of those files out. So every export must hold
// up on its own (docs/safety.md, "Raw exports").
//
// export                    takes                         what odd use could break; status
// ------------------------  ----------------------------  -------------------------------------------
// (load) process.dlopen     the .node file again           a second state in the same thread: Node aborted
//                           (same thread)                   (cleanup hook added twice) and the map loops /
//                                                           batch stage of the first load were freed.
//                                                           FIXED: each load has a state of its own
//                                                           (test/addon-reload.test.js).
// markProcessExiting        nothing                        flips every thread's threadsafe callbacks to
//                                                           "answer 0". Refused unless process._exiting
//                                                           (session 8); a worker's 'exit' listener still
//                                                           broke the main thread's callbacks: FIXED,
//                                                           main thread only (asked of the OS).
//                                                           Left: a program that sets Node's private
//                                                           process._exiting itself (docs/safety.md).
// useSetImmediate           a function (first one kept)    a synchronous fake given before the shim loads
//                                                           unmapped a library under its own call (close()
//                                                           from a callback): FIXED, the deferred unload
//                                                           checks again that no FFI call is running.
// isDataSymbol              any value                      reads a type tag only; safe.
// asyncUseUntransferable    a function (first one kept)    a no-op given before the shim loads lets a
//                                                           buffer in use by an async call be transferred.
//                                                           Left: documented (docs/safety.md).
// nodeFfiState              nothing -> writable views      writing call_depth from a callback broke the
//                           of call_depth..cleanup_depth    kept handle scope's bookkeeping (Node aborted:
//                                                           open_handle_scopes mismatch) and let close()
//                                                           unmap a library under its call (SIGSEGV). FIXED:
//                                                           a callback puts back what JS left there, and
//                                                           close() asks the callbacks' own depth too.
// nodeFfiStateFields        nothing                        reads only: safe.
// finalizerEnv              nothing                        loads the .node again once per env (its
//                                                           finalizers' env, src/base/finalizer_env.c);
//                                                           later calls only answer: safe.
// nodeFfiAfterCall          nothing                        runs cffi_callbacks_cleanup: closes only what a
//                                                           callback kept deeper than call_depth; safe.
// setStructConverter        a function                     replaced at will; its results are validated like
//                                                           user definitions (TypeError): safe.
// callbackSignature/Create  definitions, a function        validated like JSCallback's: safe.
// callbackClose             an address                     looked up in the env's table of open callbacks;
//                                                           unknown addresses do nothing: as cb.close().
// asyncExecutor/Shared/     thread counts, targets         targets are type-tagged (test/type-tags.test.js);
//  WithErrno/Sync/Close/                                   counts validated; the shared pool cannot close.
//  Threads, asyncOf
// batchNew/Add/AddChained/  a handle (this), entries       handles type-tagged; staging area re-read each run
//  Flush/Clear/Run/Stage/                                  (session 8, test/raw-exports.test.js); results
//  StageKinds/RunStaged/                                   refused during a run.
//  Results/RunAsync/
//  Prototype, mapCall
// dlopen, linkSymbols, cc,  the public API                 bun:ffi's own contract: raw addresses (read.*,
//  ptr, read.*, write.*,                                    toArrayBuffer, cstringAt without a length) are
//  toArrayBuffer, toBuffer,                                 trusted past the first page (docs/safety.md,
//  cstringAt, struct, ...                                   "the caller's responsibility").
//
// Probed: every export above with ~26 argument lists (none, undefined,
// null, numbers, BigInts, {}, [], strings, functions, typed arrays, a
// detached one, Symbols, throwing Proxies) and, for the `this`-taking batch
// exports, 7 receivers, each in a child process: only raw addresses into
// unmapped memory crashed (the public API's contract).
//
// Each case runs in a child process: before its fix it crashed or aborted.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const { addonCandidates } = require("../lib/addon-path.js");

const ROOT = require.resolve("..");
const NATIVE = require.resolve("../lib/native.js");
const CALLBACKS = require.resolve("./helpers/callbacks-fixture");
const ADDON = addonCandidates().find((c) => fs.existsSync(c.file)).file;

// Runs `body` in a child; `prelude` runs before the package loads.
function child(body, prelude = "") {
  const script = `
    const say = (line) => console.log("> " + line);
    const attempt = (f) => { try { say(String(f())); } catch (e) { say(e.message.replace(/"(?:[/]|[A-Za-z]:\\\\)[^"]*"/g, "PATH")); } };
    const ADDON = ${JSON.stringify(ADDON)};
    ${prelude}
    const ffi = require(${JSON.stringify(ROOT)});
    const native = require(${JSON.stringify(NATIVE)});
    const { callbacksFixturePath, callbacksSymbols } = require(${JSON.stringify(CALLBACKS)});
    const openCallbacks = () => ffi.dlopen(callbacksFixturePath(), callbacksSymbols());
    ${body}
  `;
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the child is no test of node:test's: plain stdout
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env, timeout: 60000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((line) => line.startsWith("> ")).map((line) => line.slice(2));
}

// A callback that closes the library whose function is calling it.
const CLOSE_FROM_CALLBACK = `
  const lib = openCallbacks();
  const cb = new ffi.JSCallback((x) => { lib.close(); return x + 1; }, { args: ["i32"], returns: "i32" });
  attempt(() => lib.symbols.apply(cb, 41));
  attempt(() => lib.symbols.apply(cb, 1));
  say("survived");
`;

describe("raw markProcessExiting from a worker's 'exit' listener", () => {
  // It flipped the process-wide flag: the main thread's threadsafe
  // callbacks then answered 0 without running, for the rest of the process.
  test("refused there, and the main thread's threadsafe callbacks still run", () => {
    const out = child(`
      const { Worker } = require("node:worker_threads");
      const w = new Worker(\`
        const native = require(\${JSON.stringify(${JSON.stringify(NATIVE)})});
        process.on("exit", () => { try { native.markProcessExiting(); console.log("> worker: accepted"); }
          catch (e) { console.log("> worker: " + e.message); } });
        process.exit(0);
      \`, { eval: true, stdout: false });
      w.on("exit", () => {
        const C = openCallbacks().symbols;
        let total = 0;
        const cb = new ffi.JSCallback((thread, seq) => (total++, (thread + 1) * 1000000 + seq),
          { args: ["i32", "i32"], returns: "i32", threadsafe: true });
        C.start_threads_ret(2, 50, cb);
        const wait = () => C.threads_done() === 2
          ? (say("main: " + total + " ran, " + C.thread_mismatches() + " wrong"), cb.close())
          : setTimeout(wait, 5);
        wait();
      });
    `);
    assert.deepEqual(out, [
      "worker: markProcessExiting: only for the main thread's 'exit' event (called from a worker)",
      "main: 100 ran, 0 wrong",
    ]);
  });

  test("still accepted from the main thread's 'exit' listener", () => {
    const out = child(`process.on("exit", () => attempt(() => native.markProcessExiting()));`);
    assert.deepEqual(out, ["undefined"]);
  });
});

describe("the addon loaded again in the same thread", () => {
  // Node makes a fresh napi_env per load: a second state for the thread
  // added a thread-wide cleanup hook twice (Node aborts) after freeing the
  // first load's map loops. Each load now has a state of its own.
  test("process.dlopen of the same file: a load of its own, and calls go on", () => {
    const out = child(`
      const again = { exports: {} };
      process.dlopen(again, ADDON);
      say(again.exports !== native && typeof again.exports.dlopen === "function");
      say(openCallbacks().symbols.add_i32(2, 3));
      ${CLOSE_FROM_CALLBACK}
    `);
    assert.equal(out[0], "true");
    assert.equal(out[1], "5");
    assert.deepEqual(out.slice(2), ["42", 'Cannot call "apply": its library PATH is closed', "survived"]);
  });

  test("require() after deleting it from require.cache: the same", () => {
    const out = child(`
      delete require.cache[ADDON];
      say(require(ADDON) !== native);
      const b = ffi.batch();
      b.add(openCallbacks().symbols.add_i32, 1, 2);
      say(JSON.stringify(b.run()));
    `);
    assert.deepEqual(out, ["true", "[3]"]);
  });

  test("in a worker too, and the worker ends cleanly", () => {
    const out = child(`
      const { Worker } = require("node:worker_threads");
      const w = new Worker(\`
        const native = require(\${JSON.stringify(${JSON.stringify(NATIVE)})});
        const again = { exports: {} };
        process.dlopen(again, \${JSON.stringify(ADDON)});
        require("node:worker_threads").parentPort.postMessage(again.exports !== native);
      \`, { eval: true });
      w.on("message", (same) => say("worker: " + same));
      w.on("exit", (code) => say("exit " + code));
    `);
    assert.deepEqual(out, ["worker: true", "exit 0"]);
  });
});

describe("raw useSetImmediate given a synchronous fake before the shim loads", () => {
  // The first function given is kept; one that runs its function at once
  // unloaded the library while its C code was still on the stack (SIGSEGV).
  test("close() from a callback: the library stays mapped until the call returns", () => {
    const out = child(
      CLOSE_FROM_CALLBACK,
      `const raw = { exports: {} }; process.dlopen(raw, ADDON); raw.exports.useSetImmediate((fn) => fn());`,
    );
    assert.deepEqual(out, ["42", 'Cannot call "apply": its library PATH is closed', "survived"]);
  });
});

describe("raw nodeFfiState: the view of call_depth", () => {
  test("call_depth written to 0 from a callback, then close(): the library is not unmapped under its call", () => {
    // close() asks the callbacks' own depth too, which JS cannot write.
    const out = child(`
      const lib = openCallbacks();
      const st = native.nodeFfiState(); // null where Node refuses external ArrayBuffers
      const cb = new ffi.JSCallback((x) => {
        const depth = st ? st.memory[st.callDepth] : 0;
        if (st) st.memory[st.callDepth] = 0;
        lib.close();
        if (st) st.memory[st.callDepth] = depth; // put back: see the todo test below
        return x + 1;
      }, { args: ["i32"], returns: "i32" });
      attempt(() => lib.symbols.apply(cb, 41));
      say("survived");
    `);
    assert.deepEqual(out, ["42", "survived"]);
  });

  test("call_depth, env_calls and cleanup_depth left at odd values by a callback: the call returns cleanly, the state is whole", () => {
    // The callback's kept handle scope was left open when the call
    // returned: Node aborted (open_handle_scopes mismatch).
    const out = child(`
      const lib = openCallbacks();
      const st = native.nodeFfiState();
      const cb = new ffi.JSCallback((x) => {
        if (st) { st.memory.fill(0); st.memory[st.callDepth] = x; }
        return x + 1;
      }, { args: ["i32"], returns: "i32" });
      for (let i = 0; i < 3; i++) attempt(() => lib.symbols.apply(cb, 41 + i));
      const thrower = new ffi.JSCallback(() => { if (st) st.memory.fill(0); throw new Error("from the callback"); },
        { args: ["i32"], returns: "i32" });
      attempt(() => lib.symbols.apply(thrower, 1));
      attempt(() => lib.symbols.apply(cb, 1));
      say(native.nodeFfiStateFields().callDepth);
    `);
    assert.deepEqual(out, ["42", "43", "44", "from the callback", "2", "0"]);
  });
});
