"use strict";
// Struct-by-value calls: cffi-bun against koffi (when installed: npm install --no-save koffi)
// on the same gcc-compiled functions of test/fixture/structs.c.
//
//   node benchmark/structs.js [--quick] [--json]
//
// Each row is the median ns/call of several timed runs in this process, after a warm-up.
// A separate script, not a row of benchmark/run.js: --json prints rows that script can take in.
const { buildFixture } = require("../test/helpers/fixture.js");

const quick = process.argv.includes("--quick");
const CALLS = quick ? 20_000 : 300_000;
const RUNS = quick ? 3 : 7;

function measure(fn) {
  for (let i = 0; i < CALLS / 10; i++) fn(i);
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) fn(i);
    times.push(Number(process.hrtime.bigint() - start) / CALLS);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const library = buildFixture("structs.c");
const ROWS = [
  { id: "struct_arg_f32x4", label: "`float rect_area(Rect)` (16-byte struct of 2 nested float pairs)" },
  { id: "struct_result_f32x4", label: "`Rect rect_move(Rect, Vec2)` (struct in, struct out)" },
  { id: "struct_result_big", label: "`Big big_make(i64, i64, i64, f64)` (32 bytes, returned in memory)" },
  { id: "out_i32", label: "`void out_i32(int *)` (out-parameter)" },
];

function cffiCases() {
  const { dlopen, struct, out } = require("..");
  const F2 = struct({ x: "f32", y: "f32" });
  const Rect = struct({ pos: F2, size: F2 });
  const Big = struct({ a: "i64", b: "i64", c: "i64", d: "f64" });
  const s = dlopen(library, {
    rect_area: { args: [Rect], returns: "f32" },
    rect_move: { args: [Rect, F2], returns: Rect },
    big_make: { args: ["i64", "i64", "i64", "f64"], returns: Big },
    out_i32: { args: [out("i32")] },
  }).symbols;
  const r = { pos: { x: 1, y: 2 }, size: { x: 3, y: 4 } };
  const by = { x: 1, y: 1 };
  const cell = [0];
  return {
    struct_arg_f32x4: () => s.rect_area(r),
    struct_result_f32x4: () => s.rect_move(r, by),
    struct_result_big: () => s.big_make(1n, 2n, 3n, 4),
    out_i32: () => s.out_i32(cell),
  };
}

function koffiCases() {
  let koffi;
  try {
    koffi = require("koffi");
  } catch {
    return null;
  }
  const lib = koffi.load(library);
  const F2 = koffi.struct({ x: "float", y: "float" });
  const Rect = koffi.struct({ pos: F2, size: F2 });
  const Big = koffi.struct({ a: "int64_t", b: "int64_t", c: "int64_t", d: "double" });
  const rectArea = lib.func("rect_area", "float", [Rect]);
  const rectMove = lib.func("rect_move", Rect, [Rect, F2]);
  const bigMake = lib.func("big_make", Big, ["int64_t", "int64_t", "int64_t", "double"]);
  const outI32 = lib.func("out_i32", "void", [koffi.out(koffi.pointer("int32_t"))]);
  const r = { pos: { x: 1, y: 2 }, size: { x: 3, y: 4 } };
  const by = { x: 1, y: 1 };
  const cell = [0];
  return {
    struct_arg_f32x4: () => rectArea(r),
    struct_result_f32x4: () => rectMove(r, by),
    struct_result_big: () => bigMake(1n, 2n, 3n, 4),
    out_i32: () => outI32(cell),
  };
}

const contenders = { "cffi-bun": cffiCases(), koffi: koffiCases() };
const results = ROWS.map((row) => {
  const entry = { id: row.id, label: row.label };
  for (const [name, cases] of Object.entries(contenders)) if (cases) entry[name] = measure(cases[row.id]);
  return entry;
});

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const names = Object.keys(contenders).filter((n) => contenders[n]);
  console.log(`| call | ${names.map((n) => `${n} ns/call`).join(" | ")} |`);
  console.log(`|---|${names.map(() => "---:").join("|")}|`);
  for (const r of results) console.log(`| ${r.label} | ${names.map((n) => r[n].toFixed(1)).join(" | ")} |`);
  if (!contenders.koffi) console.log("\nkoffi is not installed (npm install --no-save koffi): cffi-bun only.");
}
