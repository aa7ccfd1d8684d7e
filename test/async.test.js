"use strict";
// Asynchronous calls (issue 20, item 2): sym.async(), nonblocking
// definitions, executor(), errno per call, buffers kept alive, callbacks
// into JS from the pool, worker_threads, exit with calls in flight, every
// engine, bad input. The C side: test/fixture/async.c.
const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync, spawn } = require("node:child_process");
const ffi = require("..");
const { dlopen, linkSymbols, JSCallback, executor, cc } = ffi;
const { buildFixture } = require("./helpers/fixture");
const { timeScale, ccUnavailable, isWindows } = require("./helpers/platform");

const ROOT = path.join(__dirname, "..");
const FIX = buildFixture("async.c");
const DEFS = {
  async_add_after: { args: ["i32", "i32", "i32"], returns: "i32" },
  async_sleep: { args: ["i32"], returns: "void" },
  async_thread_id: { returns: "i64_fast" },
  async_set_errno: { args: ["i32", "i32"], returns: "i32" },
  async_fill_check: { args: ["ptr", "i32", "i32", "i32"], returns: "i32" },
  async_sum_after: { args: ["buffer", "i32", "i32"], returns: "i64_fast" },
  async_strlen_after: { args: ["cstring", "i32"], returns: "i32" },
  async_call_back: { args: ["function", "i32"], returns: "i32" },
};
const lib = dlopen(FIX, DEFS);
const S = lib.symbols;

// Runs `code` (async body) in a fresh node that sees ROOT, FIX, DEFS and S.
function runChild(code, { args = [], env, timeout = timeScale(20000) } = {}) {
  const prelude = `
    const ROOT = ${JSON.stringify(ROOT)}, FIX = ${JSON.stringify(FIX)}, DEFS = ${JSON.stringify(DEFS)};
    const ffi = require(ROOT);
    const lib = ffi.dlopen(FIX, DEFS), S = lib.symbols;
  `;
  return spawnSync(process.execPath, [...args, "-e", `${prelude}(async () => { ${code} })().catch((e) => { console.error(e); process.exit(1); });`], {
    encoding: "utf8",
    timeout,
    env: { ...process.env, ...env },
  });
}

describe("sym.async", () => {
  test("every bound function has .async; it returns a Promise of the synchronous result", async () => {
    assert.equal(typeof S.async_add_after.async, "function");
    assert.equal(S.async_add_after.async.length, 3);
    const promise = S.async_add_after.async(2, 3, 0);
    assert.ok(promise instanceof Promise);
    assert.equal(await promise, 5);
    assert.equal(await S.async_sleep.async(1), undefined);
    assert.equal(await S.async_strlen_after.async("h\u00e9llo", 1), 6);
  });

  test("the call runs on another thread, not the JS thread", async () => {
    const js = S.async_thread_id();
    const pool = await S.async_thread_id.async();
    assert.equal(typeof pool, "number");
    assert.notEqual(pool, js);
  });

  test("1000 concurrent calls: every result right, queued beyond the pool (no throw)", async () => {
    const calls = Array.from({ length: 1000 }, (_, i) => S.async_add_after.async(i, 1000 * i, i % 3));
    const results = await Promise.all(calls);
    for (let i = 0; i < 1000; i++) assert.equal(results[i], i + 1000 * i, `call ${i}`);
  });

  test("calls overlap: 8 sleeps of 200 ms on the shared pool take far less than 1.6 s", async () => {
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, () => S.async_sleep.async(200)));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < timeScale(1200), `took ${elapsed} ms`);
  });

  test("the JS thread stays free while calls run", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await S.async_sleep.async(200);
    clearInterval(timer);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks during a 200 ms async call`);
  });

  test("Promises settle in order of completion, not of submission", async () => {
    const order = [];
    await Promise.all([
      S.async_add_after.async(1, 0, 300).then(() => order.push("slow")),
      S.async_add_after.async(2, 0, 10).then(() => order.push("fast")),
    ]);
    assert.deepEqual(order, ["fast", "slow"]);
  });

  test("nonblocking: true makes the plain call return a Promise; false and absent do not", async () => {
    const nb = dlopen(FIX, {
      async_add_after: { ...DEFS.async_add_after, nonblocking: true },
      async_thread_id: { ...DEFS.async_thread_id, nonblocking: false },
    });
    try {
      const promise = nb.symbols.async_add_after(40, 2, 1);
      assert.ok(promise instanceof Promise);
      assert.equal(await promise, 42);
      assert.equal(await nb.symbols.async_add_after.async(1, 2, 0), 3);
      assert.equal(typeof nb.symbols.async_thread_id(), "number");
    } finally {
      nb.close();
    }
  });

  test("linkSymbols, CFunction and cc() symbols have .async too", async (t) => {
    const linked = linkSymbols({ add: { ...DEFS.async_add_after, ptr: S.async_add_after.ptr } });
    assert.equal(await linked.symbols.add.async(1, 2, 0), 3);
    const direct = ffi.CFunction({ ...DEFS.async_add_after, ptr: S.async_add_after.ptr });
    assert.equal(await direct.async(3, 4, 0), 7);
    const nb = ffi.CFunction({ ...DEFS.async_add_after, ptr: S.async_add_after.ptr, nonblocking: true });
    assert.equal(await nb(5, 6, 0), 11);
    linked.close();
    direct.close();
    nb.close();
    const reason = ccUnavailable();
    if (reason) return t.skip(reason);
    const compiled = cc({ source: "int twice(int x) { return 2 * x; }", symbols: { twice: { args: ["i32"], returns: "i32" } } });
    assert.equal(await compiled.symbols.twice.async(21), 42);
    compiled.close();
  });

  test("the async function keeps its bound function alive", async () => {
    const r = runChild(`
      let f = ffi.dlopen(FIX, { async_add_after: DEFS.async_add_after }).symbols.async_add_after.async;
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 1)); }
      console.log(await f(20, 22, 0));
    `, { args: ["--expose-gc"] });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "42");
  });
});

describe("errno", () => {
  test("captured on the worker, per call: callWithErrno resolves to { value, errno }", async () => {
    const shared = executor.shared;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => shared.callWithErrno(S.async_set_errno, i % 5 === 0 ? 0 : 100 + i, i % 4)),
    );
    results.forEach((r, i) => {
      assert.deepEqual(Object.keys(r).sort(), isWindows ? ["errno", "lastError", "value"] : ["errno", "value"]);
      if (i % 5 === 0) assert.deepEqual([r.value, r.errno], [0, 0], `call ${i}: errno starts at 0`);
      else assert.deepEqual([r.value, r.errno], [-1, 100 + i], `call ${i}`);
    });
  });

  test("an executor's callWithErrno too; errno() of synchronous calls is not disturbed", async () => {
    S.async_set_errno(7, 0);
    const ex = executor();
    try {
      assert.deepEqual(await ex.callWithErrno(S.async_set_errno, 33, 0), isWindows ? { value: -1, errno: 33, lastError: 0 } : { value: -1, errno: 33 });
      assert.equal(await ex.call(S.async_set_errno, 34, 0), -1);
    } finally {
      ex.close();
    }
    assert.equal(ffi.errno(), 7);
  });
});

describe("buffers", () => {
  test("a view passed is kept alive and in place under GC pressure (C checks the bytes after a sleep)", () => {
    const r = runChild(`
      const calls = [];
      for (let i = 0; i < 40; i++) {
        // Temporaries only the pending call references, some small (on-heap) ones.
        calls.push(S.async_fill_check.async(new Uint8Array(i % 2 ? 16 : 4096), i % 2 ? 16 : 4096, i, 60));
        calls.push(S.async_sum_after.async(new Uint8Array(64).fill(i % 7), 64, 40).then((s) => s === 64 * (i % 7) ? 0 : 1));
      }
      for (let i = 0; i < 20; i++) {
        globalThis.gc({ type: i % 2 ? "minor" : "major" });
        const junk = []; for (let j = 0; j < 2000; j++) junk.push(new Uint8Array(32));
        await new Promise((r) => setTimeout(r, 3));
      }
      const bad = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
      console.log("bad=" + bad);
    `, { args: ["--expose-gc"] });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "bad=0");
  });

  test("an ArrayBuffer in use by an async call cannot be transferred away (its new owner could free it under C)", () => {
    // Before: SIGSEGV (C wrote into memory the transferred-to buffer's GC had freed).
    const r = runChild(`
      const calls = [];
      let refused = 0;
      for (let i = 0; i < 8; i++) {
        const view = new Uint8Array(1 << 20);
        calls.push(S.async_fill_check.async(view, view.length, i, 150));
        try {
          structuredClone(view.buffer, { transfer: [view.buffer] }); // Node 20: a copy, the original stays
        } catch (error) {
          if (error.name !== "DataCloneError") throw error; // Node 22+: refused
          refused++;
        }
        if (view.length !== 1 << 20) throw new Error("the view was detached");
      }
      for (let i = 0; i < 10; i++) { globalThis.gc(); new Uint8Array(1 << 20).fill(0xee); }
      const bad = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
      console.log("bad=" + bad + " refused=" + (refused === 0 || refused === 8));
    `, { args: ["--expose-gc"] });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "bad=0 refused=true");
  });

  test("a JS string is copied: long and non-ASCII strings arrive whole", async () => {
    const long = "\u00e9".repeat(5000);
    const results = await Promise.all([S.async_strlen_after.async(long, 20), S.async_strlen_after.async("", 0), S.async_strlen_after.async(null, 0)]);
    assert.deepEqual(results, [10000, 0, -1]);
  });

  test("SharedArrayBuffer memory is passed", async () => {
    const shared = new SharedArrayBuffer(8);
    assert.equal(await S.async_fill_check.async(shared, 8, 3, 1), 0);
    assert.deepEqual([...new Uint8Array(shared)], [3, 4, 5, 6, 7, 8, 9, 10]);
    const view = new Uint8Array(new SharedArrayBuffer(4, { maxByteLength: 64 }));
    assert.equal(await S.async_fill_check.async(view, 4, 1, 1), 0);
  });

  test("detached and resizable buffers are refused before C runs", async () => {
    const detached = new ArrayBuffer(8);
    const overDetached = new Uint8Array(detached);
    structuredClone(detached, { transfer: [detached] });
    await assert.rejects(S.async_fill_check.async(detached, 8, 0, 0), { name: "TypeError", message: /^async_fill_check: args\[0\] .*detached/ });
    await assert.rejects(S.async_sum_after.async(overDetached, 0, 0), { name: "TypeError", message: /detached/ });
    const resizable = new ArrayBuffer(8, { maxByteLength: 64 });
    for (const value of [resizable, new Uint8Array(resizable), new DataView(resizable)]) {
      await assert.rejects(S.async_fill_check.async(value, 8, 0, 0), {
        name: "TypeError",
        message: /^async_fill_check: args\[0\] \(ptr\): a resizable ArrayBuffer \(or a view on one\) cannot be passed to an async call/,
      });
    }
    await assert.rejects(S.async_sum_after.async(new Uint8Array(resizable), 8, 0), { message: /args\[0\] \(buffer\): a resizable/ });
    // The synchronous call still takes them (it returns before anything can resize them).
    assert.equal(S.async_fill_check(new Uint8Array(resizable), 8, 0, 0), 0);
  });
});

describe("callbacks during async calls", () => {
  test("a threadsafe JSCallback called from the pool runs on the JS thread while C waits", async () => {
    const js = S.async_thread_id();
    const seen = [];
    const cb = new JSCallback((i) => {
      seen.push(S.async_thread_id());
      return i * 10;
    }, { args: ["i32"], returns: "i32", threadsafe: true });
    try {
      assert.equal(await S.async_call_back.async(cb, 5), 100);
      assert.deepEqual(seen, [js, js, js, js, js]);
      // Many at once, each blocking its own pool thread.
      const sums = await Promise.all(Array.from({ length: 20 }, (_, n) => S.async_call_back.async(cb, n)));
      sums.forEach((sum, n) => assert.equal(sum, 5 * n * (n - 1) || 0, `n=${n}`));
    } finally {
      cb.close();
    }
  });

  test("a callback without threadsafe gives C 0 from the pool (the rule for foreign threads), with a message", () => {
    const r = runChild(`
      const cb = new ffi.JSCallback(() => 7, { args: ["i32"], returns: "i32" });
      console.log(await S.async_call_back.async(cb, 3), S.async_call_back(cb, 3));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "0 21");
    assert.match(r.stderr, /created without \{ threadsafe: true \} was called from a thread other than the JS thread/);
  });
});

describe("executor", () => {
  test("every call of executor({ threads: 1 }) runs on its one thread, in submission order", async () => {
    const ex = executor({ threads: 1 });
    try {
      assert.equal(ex.threads, 1);
      const js = S.async_thread_id();
      const ids = await Promise.all(Array.from({ length: 50 }, () => ex.call(S.async_thread_id)));
      assert.equal(new Set(ids).size, 1, `threads seen: ${[...new Set(ids)]}`);
      assert.notEqual(ids[0], js);
      const order = [];
      await Promise.all([ex.call(S.async_add_after, 1, 0, 100).then(() => order.push(1)), ex.call(S.async_add_after, 2, 0, 0).then(() => order.push(2))]);
      assert.deepEqual(order, [1, 2], "one thread: the quick call waits behind the slow one");
      const later = await ex.call(S.async_thread_id);
      assert.equal(later, ids[0], "still the same thread later");
    } finally {
      ex.close();
    }
  });

  test("executor() defaults to one thread; two executors have different threads; threads: 3 uses up to 3", async () => {
    const a = executor();
    const b = executor({ threads: 3 });
    try {
      assert.equal(a.threads, 1);
      const [ida, idb] = await Promise.all([a.call(S.async_thread_id), b.call(S.async_thread_id)]);
      assert.notEqual(ida, idb);
      const ids = await Promise.all(Array.from({ length: 9 }, () => b.call(S.async_thread_id).then((id) => b.call(S.async_sleep, 30).then(() => id))));
      assert.ok(new Set(ids).size <= 3, `${new Set(ids).size} threads`);
    } finally {
      a.close();
      b.close();
    }
  });

  test("close(): queued calls still finish, new ones reject; closing twice is harmless", async () => {
    const ex = executor();
    const queued = [ex.call(S.async_add_after, 1, 1, 50), ex.call(S.async_add_after, 2, 2, 0)];
    ex.close();
    ex.close();
    assert.deepEqual(await Promise.all(queued), [2, 4]);
    await assert.rejects(ex.call(S.async_add_after, 1, 1, 0), { name: "Error", message: 'Cannot call "async_add_after": its executor is closed' });
    assert.throws(() => ex.threads, /executor is closed/);
  });

  test("executor.shared: the pool behind sym.async; its size can change, it cannot be closed", async () => {
    const shared = executor.shared;
    assert.equal(shared, executor.shared);
    const before = shared.threads;
    assert.ok(before >= 1);
    shared.setThreads(before + 2);
    assert.equal(shared.threads, before + 2);
    shared.setThreads(before);
    assert.equal(await shared.call(S.async_add_after, 1, 2, 0), 3);
    assert.throws(() => shared.close(), /The shared pool cannot be closed/);
  });

  test("CFFI_BUN_THREADS sizes the shared pool; 1 thread serialises the calls", () => {
    const r = runChild(`
      const ids = await Promise.all(Array.from({ length: 6 }, () => S.async_thread_id.async()));
      console.log(ffi.executor.shared.threads, new Set(ids).size);
    `, { env: { CFFI_BUN_THREADS: "1" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "1 1");
  });
});

describe("executor.callSync and the deadlock rule", () => {
  test("callSync runs on the executor's thread, blocks until it returns, sets errno()", async () => {
    const ex = executor();
    try {
      const thread = await ex.call(S.async_thread_id);
      assert.equal(ex.callSync(S.async_thread_id), thread);
      assert.notEqual(thread, S.async_thread_id());
      assert.equal(ex.callSync(S.async_add_after, 20, 22, 20), 42);
      assert.equal(ex.callSync(S.async_set_errno, 61, 0), -1);
      assert.equal(ffi.errno(), 61);
      assert.throws(() => ex.callSync(S.async_add_after, 1), { name: "TypeError", message: /args\[1\] \(i32\) is missing/ });
      assert.throws(() => ex.callSync(Math.max), { name: "TypeError", message: /^executor\.callSync\(\) expects a function bound by/ });
    } finally {
      ex.close();
    }
    assert.throws(() => ex.callSync(S.async_thread_id), { message: 'Cannot call "async_thread_id": its executor is closed' });
  });

  test("a JSCallback called from the executor's thread during callSync cannot run: C gets 0 and callSync throws", () => {
    const ex = executor();
    let ran = 0;
    const cb = new JSCallback((i) => ++ran + i, { args: ["i32"], returns: "i32", threadsafe: true });
    try {
      assert.throws(() => ex.callSync(S.async_call_back, cb, 3), {
        name: "Error",
        message: "executor.callSync(async_call_back): C called a JSCallback from the executor's thread, which cannot run while callSync blocks the JS thread (C got 0); use executor.call()",
      });
      assert.equal(ran, 0);
      assert.equal(ex.callSync(S.async_add_after, 1, 1, 0), 2, "the executor still works");
    } finally {
      cb.close();
      ex.close();
    }
  });

  test("callSync while the executor's one thread waits for a callback on this JS thread throws instead of hanging", async () => {
    const ex = executor({ threads: 1 });
    const seen = [];
    const cb = new JSCallback((i) => {
      try {
        ex.callSync(S.async_add_after, 1, 1, 0);
        seen.push("ran");
      } catch (error) {
        seen.push(error.message);
      }
      return i;
    }, { args: ["i32"], returns: "i32", threadsafe: true });
    try {
      assert.equal(await ex.call(S.async_call_back, cb, 2), 1);
      assert.deepEqual(seen, Array(2).fill("executor.callSync(async_add_after) would deadlock: the executor's threads are waiting for this JS thread to run a JSCallback; use executor.call()"));
      // With a thread to spare the same callSync simply runs.
      const two = executor({ threads: 2 });
      const spare = new JSCallback((i) => two.callSync(S.async_add_after, i, 10, 0), { args: ["i32"], returns: "i32", threadsafe: true });
      assert.equal(await two.call(S.async_call_back, spare, 3), 33);
      spare.close();
      two.close();
    } finally {
      cb.close();
      ex.close();
    }
  });
  // Found in review (session 6): C under callSync that waits for a thread of
  // its own which calls a threadsafe callback hung the process, as the
  // callback waited for the JS thread that callSync blocks. The blocked JS
  // thread now runs the callbacks other threads hand it while it waits.
  test("callSync whose C waits for its own thread calling a threadsafe callback: the callback runs, callSync returns", {
    skip: ccUnavailable() || (isWindows && "pthreads"),
  }, () => {
    const r = runChild(`
      const lib = ffi.cc({ source: \`
        #include <pthread.h>
        typedef int (*cb_t)(int);
        static cb_t g; static int r;
        static void *body(void *a) { (void)a; r = g(20); return 0; }
        int via_thread(cb_t cb) { pthread_t t; g = cb; pthread_create(&t, 0, body, 0); pthread_join(t, 0); return r + 1; }
      \`, library: ["pthread"], symbols: { via_thread: { args: ["function"], returns: "i32" } } });
      const cb = new ffi.JSCallback((x) => x * 2, { args: ["i32"], returns: "i32", threadsafe: true });
      const ex = ffi.executor({ threads: 1 });
      if (await ex.call(lib.symbols.via_thread, cb) !== 41) throw new Error("call");
      if (ex.callSync(lib.symbols.via_thread, cb) !== 41) throw new Error("callSync");
      // On the shared pool too, and a callback whose JS itself calls callSync.
      const nested = new ffi.JSCallback((x) => ex.callSync(S.async_add_after, x, 1, 0), { args: ["i32"], returns: "i32", threadsafe: true });
      if (ffi.executor.shared.callSync(lib.symbols.via_thread, nested) !== 22) throw new Error("nested callSync");
      console.log("done");
      nested.close(); ex.close(); cb.close(); lib.close();
    `, { timeout: timeScale(5000) });
    assert.equal(r.signal, null, "callSync hung (killed after 5 s)");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "done");
  });
});

describe("library lifetime", () => {
  test("close() with calls in flight: they finish, new calls reject, the library unloads afterwards", async () => {
    const own = dlopen(FIX, { async_add_after: DEFS.async_add_after });
    const inFlight = own.symbols.async_add_after.async(1, 2, 100);
    own.close();
    await assert.rejects(own.symbols.async_add_after.async(1, 2, 0), { message: /Cannot call "async_add_after": its library .* is closed/ });
    assert.throws(() => own.symbols.async_add_after(1, 2, 0), /is closed/);
    assert.equal(await inFlight, 3);
  });
});

describe("threads and exit", () => {
  test("async calls inside worker_threads; a worker that exits with calls in flight drops them, nothing crashes", () => {
    const r = runChild(`
      const { Worker } = require("node:worker_threads");
      const body = \`
        const { parentPort, workerData } = require("node:worker_threads");
        const ffi = require(workerData.ROOT);
        const S = ffi.dlopen(workerData.FIX, workerData.DEFS).symbols;
        (async () => {
          const r = await Promise.all(Array.from({ length: 200 }, (_, i) => S.async_add_after.async(i, 1, i % 2)));
          parentPort.postMessage(r.every((v, i) => v === i + 1));
          // Calls still in flight when the worker ends:
          for (let i = 0; i < 8; i++) S.async_add_after.async(i, 0, 300);
          if (workerData.exit) process.exit(0);
        })();
      \`;
      const run = (exit) => new Promise((resolve, reject) => {
        const w = new Worker(body, { eval: true, workerData: { ROOT, FIX, DEFS, exit } });
        let ok;
        w.on("message", (m) => { ok = m; if (exit === "terminate") w.terminate(); });
        w.on("error", reject);
        w.on("exit", () => resolve(ok));
      });
      const results = [];
      for (const mode of [false, true, "terminate", true]) results.push(await run(mode));
      // The pool threads finish those calls after the workers are gone.
      await new Promise((r) => setTimeout(r, 500));
      console.log(JSON.stringify(results), await S.async_add_after.async(2, 2, 0));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "[true,true,true,true] 4");
  });

  test("pool threads outlive the addon's last env: workers alone load it, exit with calls in flight, no crash", () => {
    // Node unloads an addon when the last env that loaded it ends; the pool's
    // threads (its code) must stay mapped. Here the main thread never loads it.
    const r = spawnSync(process.execPath, ["-e", `
      const { Worker } = require("node:worker_threads");
      const body = \`
        const { workerData } = require("node:worker_threads");
        const S = require(workerData.ROOT).dlopen(workerData.FIX, workerData.DEFS).symbols;
        for (let i = 0; i < 8; i++) S.async_add_after.async(i, 0, 150);
        setTimeout(() => process.exit(0), 20);
      \`;
      let left = 3;
      for (let i = 0; i < 3; i++) new Worker(body, { eval: true, workerData: ${JSON.stringify({ ROOT, FIX, DEFS })} })
        .on("exit", () => { if (--left === 0) setTimeout(() => console.log("main done"), 600); });
    `], { encoding: "utf8", timeout: timeScale(20000) });
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "main done");
  });

  test("a worker's pending calls keep it alive until they settle", () => {
    const r = runChild(`
      const { Worker } = require("node:worker_threads");
      const w = new Worker(\`
        const { parentPort, workerData } = require("node:worker_threads");
        const S = require(workerData.ROOT).dlopen(workerData.FIX, workerData.DEFS).symbols;
        S.async_add_after.async(40, 2, 200).then((v) => parentPort.postMessage(v));
      \`, { eval: true, workerData: { ROOT, FIX, DEFS } });
      w.on("message", (v) => console.log("got", v));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "got 42");
  });

  // The time from process.exit() to the child's end, stamped by the child itself: the start-up
  // of a Node (seconds under wine or qemu, more under load) is not counted. The calls sleep for
  // 60 s, so an exit that waited for them could not pass even with scaled limits. Windows'
  // ExitProcess (wine's RtlExitUserProcess alike) ends the other threads before the DLLs are
  // detached, so a pool thread inside C there does not hold the exit up either.
  test("process.exit() with calls in flight exits at once with its code, no crash", () => {
    const r = runChild(`
      for (let i = 0; i < 16; i++) S.async_sleep.async(60000);
      const ex = ffi.executor(); ex.call(S.async_sleep, 60000);
      await new Promise((r) => setTimeout(r, 100));
      require("node:fs").writeSync(2, "exiting at " + Date.now() + "\\n");
      process.exit(7);
    `, { timeout: timeScale(30000) });
    const ended = Date.now();
    assert.equal(r.signal, null, `the child was killed: exit waited for the calls\n${r.stderr}`);
    assert.equal(r.status, 7, r.stderr);
    const exiting = Number(/^exiting at (\d+)$/m.exec(r.stderr)?.[1]);
    assert.ok(exiting > 0, r.stderr);
    assert.ok(ended - exiting < timeScale(2000), `process.exit() took ${ended - exiting} ms`);
  });

  test("the end of the script waits for pending calls (they keep the event loop alive); an idle pool does not", () => {
    const r = runChild(`
      S.async_add_after.async(1, 2, 200).then((v) => console.log("settled", v));
      ffi.executor();
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "settled 3");
  });

  test("calls whose results land while the process is exiting do not crash it", () => {
    for (let i = 0; i < 3; i++) {
      const r = runChild(`
        for (let i = 0; i < 200; i++) S.async_add_after.async(i, 1, i % 3);
        setTimeout(() => process.exit(0), ${i});
      `);
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.status, 0, r.stderr);
    }
  });
});

describe("every engine gives the synchronous call's results and errors", () => {
  for (const engine of ["", "jit", "registers", "ffi"]) {
    test(`CFFI_BUN_ENGINE=${engine || "(default)"}: every type, at its limits, async vs sync`, () => {
      const r = spawnSync(process.execPath, [path.join(__dirname, "helpers", "async-parity.js")], {
        encoding: "utf8",
        timeout: timeScale(60000),
        env: { ...process.env, CFFI_BUN_ENGINE: engine },
      });
      assert.equal(r.status, 0, r.stderr);
      const summary = JSON.parse(r.stdout.trim().split("\n").pop());
      assert.ok(summary.checked > 1000, `only ${summary.checked} cases`);
      assert.deepEqual(summary.mismatches, []);
    });
  }
});

describe("bad input", () => {
  test("argument errors reject the Promise with the synchronous call's message", async () => {
    await assert.rejects(S.async_add_after.async(1), { name: "TypeError", message: "async_add_after: args[1] (i32) is missing: expected 3 arguments, received 1" });
    for (const bad of ["x", {}, null, Symbol("s")]) {
      let syncError;
      try {
        S.async_add_after(1, bad, 0);
      } catch (error) {
        syncError = error;
      }
      assert.ok(syncError, `sync call took ${String(bad)}`);
      await assert.rejects(S.async_add_after.async(1, bad, 0), { name: syncError.name, message: syncError.message });
    }
  });

  test("napi_env and napi_value cannot go to another thread", async () => {
    const napi = linkSymbols({
      takes_env: { args: ["napi_env", "i32"], returns: "i32", ptr: S.async_add_after.ptr },
      takes_value: { args: ["napi_value"], returns: "i32", ptr: S.async_add_after.ptr },
      gives_value: { args: [], returns: "napi_value", ptr: S.async_thread_id.ptr },
    });
    try {
      await assert.rejects(napi.symbols.takes_env.async(1), { name: "TypeError", message: "takes_env cannot be called asynchronously: args[0] is napi_env, which belongs to the JS thread" });
      await assert.rejects(napi.symbols.takes_value.async({}), { message: "takes_value cannot be called asynchronously: args[0] is napi_value, which belongs to the JS thread" });
      await assert.rejects(napi.symbols.gives_value.async(), { message: "gives_value cannot be called asynchronously: it returns napi_value, which belongs to the JS thread" });
    } finally {
      napi.close();
    }
  });

  test("executor.call with something other than a bound function rejects; executor() options are checked", async () => {
    const ex = executor();
    try {
      for (const bad of [undefined, null, 1, () => 1, {}, Math.max]) {
        await assert.rejects(ex.call(bad), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE", message: /^executor\.call\(\) expects a function bound by dlopen, linkSymbols, CFunction or cc\(\), received / });
      }
      await assert.rejects(ex.callWithErrno("x"), { message: /^executor\.callWithErrno\(\) expects a function bound by/ });
    } finally {
      ex.close();
    }
    for (const threads of [0, -1, 1.5, 1025, "2", NaN, true]) {
      assert.throws(() => executor({ threads }), { name: "TypeError", message: /^executor\(\): threads must be an integer from 1 to 1024, received / }, String(threads));
    }
    assert.throws(() => executor(5), { name: "TypeError", message: /^executor\(\) expects an options object like \{ threads: 1 \}, received a number/ });
    assert.throws(() => executor.shared.setThreads(0), /setThreads\(\): threads must be an integer from 1 to 1024/);
  });

  test("nonblocking must be a boolean", () => {
    assert.throws(() => dlopen(FIX, { async_sleep: { args: ["i32"], nonblocking: 1 } }), {
      name: "TypeError",
      message: "async_sleep: nonblocking must be a boolean, received a number",
    });
  });

  test("the async entry called with an unrelated `this` uses the shared pool", async () => {
    assert.equal(await S.async_add_after.async.call({ not: "an executor" }, 1, 1, 0), 2);
    assert.equal(await Reflect.apply(S.async_add_after.async, undefined, [2, 2, 0]), 4);
  });
});
