"use strict";
// Memory soak (issue 22 item 5): create/close loops run synchronously, in a
// fresh process each, with no explicit gc(), as a user would write them.
//
//   node test/soak/memory-loops.js [--only=cfunction,dlopen,...] [--scale=1]
//
// Each loop runs a warm-up, then its measured iterations, sampling RSS every
// SAMPLE iterations. RSS saws up and down with V8's collections, so growth is
// the highest sample of the last third of the run minus the highest of the
// warm-up's second half: a leak raises it, the phase of the saw does not. It
// must stay under LIMIT_MB. Before issue 22 the first three loops grew
// ~460 MB over 300k iterations: Node-API ran finalizers at the event loop's
// next turn, which a synchronous loop never reaches (see NAPI_EXPERIMENTAL in
// src/cffi.h).
//
// toArrayBuffer is the exception: Node itself keeps ~220 bytes of
// bookkeeping per external ArrayBuffer until the event loop turns, whatever
// the addon does (Node-API finalizes external buffers from setImmediate). So
// its loop yields to the event loop every 10k iterations (still no gc()),
// and a synchronous loop is held to the Node-API floor: the same loop over a
// minimal hand-written addon that only calls napi_create_external_arraybuffer
// (test/soak/fixture/external-buffer-floor.c, built here, run first), plus
// LIMIT_MB. Not run by `npm test`; `.ci/run` runs it (1-2 min here).
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");
const { execFileSync, spawnSync } = require("node:child_process");

const LIMIT_MB = 20;
const SAMPLE = 10_000;

const scaleArg = process.argv.find((a) => a.startsWith("--scale="));
const SCALE = scaleArg ? Number(scaleArg.slice(8)) : 1;
const onlyArg = process.argv.find((a) => a.startsWith("--only="));
const childArg = process.argv.find((a) => a.startsWith("--child="));

// name -> [warm-up iterations, measured iterations, engine, what it checks]
const LOOPS = {
  cfunction: [100_000, 300_000, "", "300k CFunction({ ptr, args, returns }), one call, close()"],
  dlopen: [100_000, 300_000, "", "300k dlopen(fixture) + one call + close()"],
  "dlopen-jit": [10_000, 30_000, "jit", "30k dlopen + close() with every wrapper compiled at bind (CFFI_BUN_ENGINE=jit)"],
  linkSymbols: [100_000, 300_000, "", "300k linkSymbols({ ptr }) + one call + close()"],
  variadic: [50_000, 150_000, "", "150k variadic CFunction + one call + with() of 3 tails (one cached) + close()"],
  toArrayBuffer: [200_000, 1_000_000, "", "1M toArrayBuffer(ptr, 0, 4), yielding every 10k iterations"],
  "napi-floor-sync": [200_000, 1_000_000, "", "1M napi_create_external_arraybuffer in a bare addon, never yielding: Node's own cost"],
  "napi-floor-finalizer-sync": [200_000, 1_000_000, "", "the same with a (no-op) finalizer"],
  "toArrayBuffer-sync": [200_000, 1_000_000, "", "1M toArrayBuffer(ptr, 0, 4), never yielding: at most the floor + 20 MB"],
  "toArrayBuffer-dealloc-sync": [200_000, 1_000_000, "", "1M toArrayBuffer(ptr, 0, 4, ctx, free-like deallocator), never yielding"],
};

// Loops measured against another one's growth instead of against 0.
const FLOOR_OF = { "toArrayBuffer-sync": "napi-floor-sync", "toArrayBuffer-dealloc-sync": "napi-floor-finalizer-sync" };

function buildFloor() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-floor-"));
  const out = path.join(dir, "floor.node");
  const include = [path.join(path.dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"]
    .find((d) => fs.existsSync(path.join(d, "node_api.h")));
  execFileSync(process.env.CC || "cc", ["-O2", "-shared", "-fPIC", `-I${include}`, "-o", out,
    path.join(__dirname, "fixture", "external-buffer-floor.c")], { stdio: "inherit" });
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return out;
}

function child(name) {
  const { dlopen, linkSymbols, CFunction, toArrayBuffer } = require("../..");
  const { fixturePath } = require("../helpers/fixture");
  const FIX = fixturePath();
  const lib = dlopen(FIX, {
    add_i32: { args: ["i32", "i32"], returns: "i32" },
    static_int_42: { returns: "ptr" },
    count_dealloc: { args: ["ptr", "ptr"], returns: "void" },
  });
  const address = lib.symbols.add_i32.ptr;
  const memory = lib.symbols.static_int_42();
  const ops = {
    cfunction() {
      const f = CFunction({ ptr: address, args: ["i32", "i32"], returns: "i32" });
      if (f(40, 2) !== 42) throw new Error("CFunction gave a wrong result");
      f.close();
    },
    dlopen() {
      const l = dlopen(FIX, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
      if (l.symbols.add_i32(40, 2) !== 42) throw new Error("dlopen gave a wrong result");
      l.close();
    },
    linkSymbols() {
      const l = linkSymbols({ add: { ptr: address, args: ["i32", "i32"], returns: "i32" } });
      if (l.symbols.add(40, 2) !== 42) throw new Error("linkSymbols gave a wrong result");
      l.close();
    },
    variadic() {
      const f = CFunction({ ptr: address, args: ["i32", "i32", "..."], returns: "i32" });
      if (f(40, 2) !== 42) throw new Error("a variadic CFunction gave a wrong result");
      const tail = f.with("i32");
      if (f.with("int") !== tail) throw new Error("with() did not give its cached callable");
      f.with("u32");
      f.with("f64", "cstring");
      f.close();
    },
    toArrayBuffer() {
      if (toArrayBuffer(memory, 0, 4).byteLength !== 4) throw new Error("toArrayBuffer gave a wrong length");
    },
  };
  if (name.startsWith("napi-floor")) {
    const { wrap } = require(process.env.CFFI_BUN_FLOOR_ADDON);
    const withFinalizer = name.includes("finalizer");
    ops[name] = () => {
      if (wrap(memory, 4, withFinalizer).byteLength !== 4) throw new Error("the floor addon gave a wrong length");
    };
  }
  // A deallocator that frees nothing (it counts calls), so only the bookkeeping counts.
  const noop = lib.symbols.count_dealloc;
  ops["toArrayBuffer-dealloc-sync"] = () => {
    if (toArrayBuffer(memory, 0, 4, 0, noop.ptr).byteLength !== 4) throw new Error("toArrayBuffer gave a wrong length");
  };
  ops["dlopen-jit"] = ops.dlopen;
  ops["toArrayBuffer-sync"] = ops.toArrayBuffer;
  const op = ops[name];
  const [warm, measured] = LOOPS[name].map((n, i) => (i < 2 ? Math.round(n * SCALE) : n));
  const yields = name === "toArrayBuffer";
  const rssMB = () => process.memoryUsage().rss / 1048576;
  const samples = [];
  const t0 = Date.now();
  (async () => {
    for (let i = 1; i <= warm + measured; i++) {
      op();
      if (yields && i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (i % SAMPLE === 0) samples.push({ i, rss: rssMB() });
    }
    const max = (from, to) => Math.max(...samples.filter((s) => s.i > from && s.i <= to).map((s) => s.rss));
    const base = max(warm / 2, warm);
    const end = max(warm + (measured * 2) / 3, warm + measured);
    process.stdout.write(JSON.stringify({ base, end, growth: end - base, measured, ms: Date.now() - t0 }));
  })();
}

function main() {
  const names = onlyArg ? onlyArg.slice(7).split(",") : Object.keys(LOOPS);
  for (const name of names) assert.ok(LOOPS[name], `unknown loop ${name}; known: ${Object.keys(LOOPS).join(", ")}`);
  // A floor runs before the loop measured against it.
  for (const name of [...names]) if (FLOOR_OF[name] && !names.includes(FLOOR_OF[name])) names.unshift(FLOOR_OF[name]);
  const floorAddon = names.some((n) => n.startsWith("napi-floor")) ? buildFloor() : "";
  const growth = {};
  let failed = 0;
  for (const name of names) {
    const [, , engine, what] = LOOPS[name];
    const env = { ...process.env, CFFI_BUN_ENGINE: engine, CFFI_BUN_FLOOR_ADDON: floorAddon };
    const run = spawnSync(process.execPath, [__filename, `--child=${name}`, `--scale=${SCALE}`], {
      env, encoding: "utf8", timeout: 240_000,
    });
    if (run.status !== 0) {
      console.log(`memory soak: ${name}: FAILED (exit ${run.status}, signal ${run.signal})\n${run.stderr}`);
      failed++;
      continue;
    }
    const r = JSON.parse(run.stdout);
    growth[name] = r.growth;
    let limit = LIMIT_MB;
    let limitText = `${LIMIT_MB} MB`;
    if (name.startsWith("napi-floor")) {
      limit = Infinity;
      limitText = "none: this is Node's own cost";
    } else if (FLOOR_OF[name]) {
      const floor = growth[FLOOR_OF[name]];
      limit = (floor ?? Infinity) + LIMIT_MB;
      limitText = `${FLOOR_OF[name]}'s ${floor?.toFixed(1)} MB + ${LIMIT_MB} MB`;
    }
    const ok = r.growth < limit;
    console.log(`memory soak: ${name}: ${what}: RSS ${r.base.toFixed(1)} -> ${r.end.toFixed(1)} MB, ` +
      `growth ${r.growth.toFixed(1)} MB (limit ${limitText}) in ${(r.ms / 1000).toFixed(1)} s: ${ok ? "ok" : "FAILED"}`);
    if (!ok) failed++;
  }
  if (failed) {
    console.log(`memory soak: ${failed} loop(s) failed`);
    process.exit(1);
  }
}

if (childArg) child(childArg.slice(8));
else main();

