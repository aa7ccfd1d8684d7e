"use strict";
// One contender's side of the benchmark, run in a child process of its own
// (fresh JIT) by benchmark/run.js, under Node or Bun:
//   <runtime> worker.js '<json config>'
// config: { contender: "cffi"|"floor"|"koffi"|"nodeffi"|"bun", rows: [...], fixture, floor, root,
//           targetMs, runs, ccSource?, callgrind?: { row, warmup, chunk, chunks } }
// Prints one JSON line: { rows: { <row>: { ns, runs: [...], calls } | { na } } }.
//
// Call sites: every row's loop is its own function literal, created once, so
// each call site stays monomorphic; and every contender runs in a process of
// its own, so no call site ever sees two contenders' functions. (V8 shares
// type feedback between closures made from one source location, and even
// between functions compiled from identical `new Function` source: timing
// several contenders through one shared loop makes it megamorphic, which
// hides node:ffi's fast API path entirely.)

const path = require("node:path");

const config = JSON.parse(process.argv[2]);

const SIGNATURES = {
  noop: { args: [], returns: "void" },
  bench_abs: { args: ["i32"], returns: "i32" },
  add: { args: ["i32", "i32"], returns: "i32" },
  addf64: { args: ["f64", "f64"], returns: "f64" },
  id_u64: { args: ["u64"], returns: "u64" },
  sum_first: { args: ["ptr", "i32"], returns: "i32" },
  get_string: { args: [], returns: "cstring" },
  mixed6: { args: ["i32", "f64", "i64", "f32", "u32", "f64"], returns: "f64" },
  sort_ints: { args: ["ptr", "i32", "function"], returns: "i32" },
};
const COMPARATOR = { args: ["i32", "i32"], returns: "i32" };

// The same API for every contender: the fixture's functions plus ptr,
// read_u32, sort (with a JS comparator) and makeCallback (create + close).
function bunStyle(ffi) {
  const { symbols } = ffi.dlopen(config.fixture, SIGNATURES);
  return {
    cc: ffi.cc,
    linkSymbols: ffi.linkSymbols,
    symbols,
    noop: symbols.noop,
    abs: symbols.bench_abs,
    add: symbols.add,
    addf64: symbols.addf64,
    id_u64: symbols.id_u64,
    sum_first: symbols.sum_first,
    get_string: symbols.get_string,
    mixed6: symbols.mixed6,
    ptr: ffi.ptr,
    read_u32: ffi.read.u32,
    prepareSort(compare) {
      const callback = new ffi.JSCallback(compare, COMPARATOR);
      const sort = symbols.sort_ints;
      return { sort: (values) => sort(values, values.length, callback), close: () => callback.close() };
    },
    newCallback(compare) {
      new ffi.JSCallback(compare, COMPARATOR).close();
    },
  };
}

function koffiApi() {
  const koffi = require(require.resolve("koffi", { paths: [config.root] }));
  const lib = koffi.load(config.fixture);
  const proto = koffi.proto("int bench_cmp(int32_t, int32_t)");
  const pointerType = koffi.pointer(proto);
  const sort = lib.func("int32_t sort_ints(int32_t *values, int32_t count, bench_cmp *cmp)");
  return {
    noop: lib.func("void noop(void)"),
    abs: lib.func("int bench_abs(int)"),
    add: lib.func("int add(int, int)"),
    addf64: lib.func("double addf64(double, double)"),
    id_u64: lib.func("uint64_t id_u64(uint64_t)"),
    sum_first: lib.func("int sum_first(const void *p, int n)"),
    get_string: lib.func("const char *get_string(void)"),
    mixed6: lib.func("double mixed6(int32_t, double, int64_t, float, uint32_t, double)"),
    ptr: koffi.address,
    read_u32: koffi.decode.uint32,
    prepareSort(compare) {
      const callback = koffi.register(compare, pointerType);
      return { sort: (values) => sort(values, values.length, callback), close: () => koffi.unregister(callback) };
    },
    newCallback(compare) {
      koffi.unregister(koffi.register(compare, pointerType));
    },
  };
}

// Node 26's node:ffi. Its pointers are BigInts and its string returns are
// addresses, so ptr/read_u32/cstring do what a node:ffi user has to do to get
// the same result (the address, the value, a JS string).
function nodeFfiApi() {
  const ffi = require("node:ffi");
  const t = { i32: "int32", u32: "uint32", i64: "int64", u64: "uint64", f32: "float", f64: "double",
    u8: "uint8", ptr: "buffer", void: "void", cstring: "pointer", function: "pointer" };
  const definitions = {};
  for (const [name, { args, returns }] of Object.entries(SIGNATURES)) {
    definitions[name] = { arguments: args.map((a) => t[a]), return: t[returns] };
  }
  const { lib, functions } = ffi.dlopen(config.fixture, definitions);
  const comparator = { arguments: ["int32", "int32"], return: "int32" };
  const getString = functions.get_string;
  return {
    noop: functions.noop,
    abs: functions.bench_abs,
    add: functions.add,
    addf64: functions.addf64,
    id_u64: functions.id_u64,
    sum_first: functions.sum_first,
    get_string: () => ffi.toString(getString()),
    mixed6: functions.mixed6,
    ptr: (view) => Number(ffi.getRawPointer(view)),
    read_u32: (address) => ffi.getUint32(BigInt(address)),
    prepareSort(compare) {
      const callback = lib.registerCallback(comparator, compare);
      const sort = functions.sort_ints;
      return { sort: (values) => sort(values, values.length, callback), close: () => lib.unregisterCallback(callback) };
    },
    newCallback(compare) {
      lib.unregisterCallback(lib.registerCallback(comparator, compare));
    },
    library: lib,
  };
}

function floorApi() {
  const floor = require(config.floor);
  return {
    ...floor,
    prepareSort(compare) {
      return { sort: (values) => floor.sort_ints(values, compare), close() {} };
    },
    newCallback: null,
  };
}

function loadApi() {
  switch (config.contender) {
    case "cffi": return bunStyle(require(path.join(config.root, "lib", "index.js")));
    case "bun": return bunStyle(require("bun:ffi"));
    case "koffi": return koffiApi();
    case "nodeffi": return nodeFfiApi();
    case "floor": return floorApi();
    default: throw new Error(`unknown contender ${config.contender}`);
  }
}

const SMALL = new Uint8Array(16).fill(3);
const U32 = new Uint32Array([0xdeadbeef, 1, 2, 3]);
const BIG_U64 = 0xffff_ffff_ffff_ff00n;
// Values sorted by the callback rows: 65536 ints take ~1M comparator calls.
const SORT_COUNT = 65536;

// Each factory checks the function once, then returns run(n): n iterations
// of one call, returning a value that depends on every result (so nothing is
// optimised away) and nothing else, so that the loop compiles to straight
// calls with no deoptimisation. For the sort, run.callsOf(n, result) says how
// many comparator calls n sorts made.
function expect(what, actual, expected) {
  if (actual !== expected) throw new Error(`${what} returned ${actual}, expected ${expected}`);
}

const ROWS = {
  noop: (api) => {
    const f = api.noop;
    expect("noop", f(), undefined);
    return (n) => {
      for (let i = 0; i < n; i++) f();
      return n;
    };
  },
  abs: (api) => {
    const f = api.abs;
    expect("abs", f(-5), 5);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f(7 - i)) | 0;
      return s;
    };
  },
  add: (api) => {
    const f = api.add;
    expect("add", f(2, 3), 5);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f(i, 7)) | 0;
      return s;
    };
  },
  addf64: (api) => {
    const f = api.addf64;
    expect("addf64", f(2, 0.5), 2.5);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += f(i, 0.5);
      return s;
    };
  },
  id_u64: (api) => {
    const f = api.id_u64;
    expect("id_u64", f(BIG_U64), BIG_U64);
    return (n) => {
      let last;
      for (let i = 0; i < n; i++) last = f(BIG_U64);
      return last;
    };
  },
  sum_first: (api) => {
    const f = api.sum_first;
    expect("sum_first", f(SMALL, 4), 12);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f(SMALL, 4)) | 0;
      return s;
    };
  },
  sum_first_100mb: (api) => {
    const f = api.sum_first;
    const big = new Uint8Array(100 * 1024 * 1024).fill(3);
    expect("sum_first", f(big, 4), 12);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f(big, 4)) | 0;
      return s;
    };
  },
  cstring: (api) => {
    const f = api.get_string;
    expect("get_string", f(), "hello from C");
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f().length) | 0;
      return s;
    };
  },
  mixed6: (api) => {
    const f = api.mixed6;
    expect("mixed6", f(1, 0.5, 3, 0.25, 5, 1.5), 11.25);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += f(i, 0.5, 3, 0.25, 5, 1.5);
      return s;
    };
  },
  ptr: (api) => {
    const f = api.ptr;
    if (!f(SMALL)) throw new Error("ptr returned 0");
    return (n) => {
      let last;
      for (let i = 0; i < n; i++) last = f(SMALL);
      return last;
    };
  },
  read_u32: (api) => {
    const f = api.read_u32;
    const address = Number(api.ptr(U32));
    expect("read.u32", f(address), 0xdeadbeef);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + f(address)) | 0;
      return s;
    };
  },
  callback: (api) => {
    const source = new Int32Array(SORT_COUNT);
    let seed = 12345;
    for (let i = 0; i < source.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      source[i] = seed >> 1;
    }
    const values = new Int32Array(SORT_COUNT);
    const { sort } = api.prepareSort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const run = (n) => {
      let calls = 0;
      for (let i = 0; i < n; i++) {
        values.set(source);
        calls += sort(values);
      }
      for (let i = 1; i < values.length; i++) {
        if (values[i - 1] > values[i]) throw new Error("sort_ints did not sort");
      }
      return calls;
    };
    run.callsOf = (n, calls) => calls;
    return run;
  },
  jscallback_new: (api) => {
    const make = api.newCallback;
    if (!make) return null;
    const compare = (a, b) => a - b;
    return (n) => {
      for (let i = 0; i < n; i++) make(compare);
      return n;
    };
  },
};

// Set-up rows (cffi-bun and Bun only: the others have no cc(), and no
// linkSymbols over raw addresses). cc() compiles config.ccSource; a cache
// miss is forced with a `define` no earlier run used (the pid keeps runs of
// other processes sharing the cache folder apart).
const CC_SYMBOLS = {
  add: { args: ["int", "int"], returns: "int" },
  hypotenuse: { args: ["f64", "f64"], returns: "f64" },
  get_version: { args: [], returns: "cstring" },
};
let salt = 0;
function compileOnce(api, options) {
  const lib = api.cc({ source: config.ccSource, symbols: CC_SYMBOLS, ...options });
  const sum = lib.symbols.add(2, 3);
  lib.close();
  return sum;
}
const SETUP_ROWS = {
  // The first cc() of a process whose cache folder is empty: loading TinyCC's
  // headers, creating the cache, compiling. run.js runs this row alone in
  // fresh processes and takes the median.
  cc_cold: (api) => {
    if (!api.cc) return null;
    const run = () => compileOnce(api, {});
    run.once = true;
    return run;
  },
  cc_miss: (api) => {
    if (!api.cc) return null;
    expect("cc add", compileOnce(api, {}), 5);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += compileOnce(api, { define: { BENCH_SALT: `${process.pid}_${salt++}` } });
      return s;
    };
  },
  cc_cached: (api) => {
    if (!api.cc) return null;
    expect("cc add", compileOnce(api, {}), 5);
    return (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += compileOnce(api, {});
      return s;
    };
  },
  // linkSymbols of 100 function pointers (the fixture's, signatures in turn),
  // then close().
  link100: (api) => {
    if (!api.linkSymbols) return null;
    const names = Object.keys(SIGNATURES).filter((name) => name !== "sort_ints");
    const definitions = {};
    for (let i = 0; i < 100; i++) {
      const name = names[i % names.length];
      definitions[`f${i}`] = { ...SIGNATURES[name], ptr: api.symbols[name].ptr };
    }
    const check = api.linkSymbols(definitions);
    expect("linked add", check.symbols.f2(2, 3), 5);
    check.close();
    return (n) => {
      for (let i = 0; i < n; i++) api.linkSymbols(definitions).close();
      return n;
    };
  },
};
Object.assign(ROWS, SETUP_ROWS);

// The clock: this process's CPU time (user + system) by default, so that
// other processes sharing the cores (a busy CI machine) do not count against
// whoever runs while they do; BENCH_CLOCK=wall for elapsed time. Node's own
// helper threads are idle after the warm-up run.
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
};
const wallNow = typeof Bun !== "undefined" ? () => Bun.nanoseconds() : () => Number(process.hrtime.bigint());
const now = process.env.BENCH_CLOCK === "wall" ? wallNow : cpuNow;

let sink = 0;
function timeRun(run, n) {
  const start = now();
  const result = run(n);
  const ns = now() - start;
  sink ^= typeof result === "number" ? result : 1;
  return { ns, calls: run.callsOf ? run.callsOf(n, result) : n };
}

function measure(run) {
  if (run.once) {
    const start = now();
    run();
    const ns = now() - start;
    return { ns, runs: [ns], calls: 1, iterations: 1 };
  }
  const targetNs = config.targetMs * 1e6;
  // Calibrate (this also warms up): grow n until a run takes a quarter of
  // the target, then scale to the target.
  let n = 1;
  let t = timeRun(run, n);
  while (t.ns < targetNs / 4 && n < 2 ** 30) {
    n *= t.ns < targetNs / 64 ? 8 : 2;
    t = timeRun(run, n);
  }
  n = Math.max(1, Math.round((n * targetNs) / Math.max(t.ns, 1)));
  timeRun(run, n); // one more full-size warm-up run
  const perCall = [];
  let calls = 0;
  for (let r = 0; r < config.runs; r++) {
    t = timeRun(run, n);
    calls = t.calls;
    perCall.push(t.ns / t.calls);
  }
  const sorted = [...perCall].sort((a, b) => a - b);
  return { ns: sorted[Math.floor(sorted.length / 2)], runs: perCall, calls, iterations: n };
}

function main() {
  const api = loadApi();
  const out = { rows: {} };
  if (config.callgrind) {
    // Fixed counts, no timing: callgrind.js runs this under
    // valgrind --dump-before=bench_mark and reads the equal chunks between
    // the marks.
    const { row, warmup, chunk, chunks } = config.callgrind;
    const { mark } = require(config.floor);
    const run = ROWS[row](api);
    if (!run) {
      process.stdout.write(`${JSON.stringify({ rows: { [row]: { na: "no equivalent" } } })}\n`);
      return;
    }
    const callsOf = (n, result) => (run.callsOf ? run.callsOf(n, result) : n);
    // The warm-up in rounds: V8 optimises run() itself (not only its loop,
    // by on-stack replacement) after a few calls of it, which otherwise
    // landed in the first two chunks on Node 26.
    const rounds = Math.min(warmup, 4);
    for (let k = 0; k < rounds; k++) run(Math.ceil(warmup / rounds));
    mark();
    const calls = [];
    for (let k = 0; k < chunks; k++) {
      calls.push(callsOf(chunk, run(chunk)));
      mark();
    }
    out.rows[row] = { chunk, calls };
  } else {
    for (const row of config.rows) {
      try {
        const run = ROWS[row](api);
        out.rows[row] = run ? measure(run) : { na: "no equivalent" };
      } catch (error) {
        out.rows[row] = { na: String(error && error.message ? error.message : error).split("\n")[0] };
      }
    }
  }
  out.sink = sink;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main();
