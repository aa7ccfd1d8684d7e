"use strict";
// Fuzz (issue 8): random signatures from the type table, random argument
// values (boundary values and wrong kinds), against C whose answer is known.
//
//   node test/fuzz/fuzz.js [--seed=N] [--calls=100000] [--functions=300] [--batches=1500] [--maps=1500]
//
// It generates C with many functions of random signatures, each returning a
// hash of its arguments as C received them (integers widened to 64 bits the
// way their type says, a float's or double's bits, a pointer's address, a
// string's bytes), converted to its return type. The same hash is computed
// here from the JS values through the conversion rules the README documents,
// so every call's result is either exactly what C must return, or the call
// must throw a TypeError (a wrong kind or a missing argument). Anything else
// (a wrong result, another exception, a crash) fails. Seeded; prints the seed.
// CFFI_BUN_ENGINE=ffi runs every call through libffi, CFFI_BUN_ENGINE=registers
// through the register engine (no jit wrappers) where the signature allows,
// CFFI_BUN_ENGINE=jit through jit wrappers from the first call, and on
// Node 26 CFFI_BUN_ENGINE=node-ffi through node:ffi from the first call for
// the signatures the node-ffi engine takes (lib/node-ffi-engine.js).
//
// Then the same kind of calls through batch(): random batches of 1-64
// entries, each result checked against the model (add() stages numbers,
// booleans and bigints and C converts them at run(), a path of its own),
// wrong kinds refused by add() naming the entry, and runs repeated.
//
// Then sym.map over TypedArrays and broadcast values, each call's result
// checked against the model too.
//
// Then callbacks the other way round: for random signatures, a C driver
// calls a JSCallback with literal values known here, the JS function checks
// what it received, and returns a random value (or a wrong kind) whose image
// the driver hands back. Register closures take the signatures whose
// arguments fit in registers, libffi closures the rest (all of them with
// CFFI_BUN_ENGINE=ffi).
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { dlopen, ptr, JSCallback, batch } = require("../..");

const opt = (name, fallback) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const SEED = opt("seed", Math.floor(Math.random() * 2 ** 32)) >>> 0;
const CALLS = opt("calls", 100_000);
const FUNCTIONS = opt("functions", 300);
const CALLBACKS = opt("callbacks", 200); // callback signatures, each called from C with known values
const BATCHES = opt("batches", 1500); // batch() runs of 1-64 random entries, each result checked as a single call's
const MAPS = opt("maps", 1500); // sym.map runs of 1-48 (now and then 256-555) calls over TypedArrays and broadcast values, each result checked
const TRACE = process.argv.includes("--trace"); // print each call before making it (to find a crash)
console.log(`fuzz: seed ${SEED} (rerun with --seed=${SEED}); ${CALLS} calls over ${FUNCTIONS} functions; engine ${process.env.CFFI_BUN_ENGINE || "default"}`);

// mulberry32
let state = SEED;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(rand() * list.length)];
const chance = (p) => rand() < p;

// ---- the types ---------------------------------------------------------
const INT = { i8: [8, true], u8: [8, false], char: [8, true], i16: [16, true], u16: [16, false], i32: [32, true], u32: [32, false],
  i64: [64, true], u64: [64, false], i64_fast: [64, true], u64_fast: [64, false] };
const C_TYPE = { i8: "int8_t", u8: "uint8_t", char: "signed char", i16: "int16_t", u16: "uint16_t", i32: "int32_t", u32: "uint32_t",
  i64: "int64_t", u64: "uint64_t", i64_fast: "int64_t", u64_fast: "uint64_t", f32: "float", f64: "double", bool: "bool",
  ptr: "void *", cstring: "const char *", void: "void" };
const ARG_TYPES = [...Object.keys(INT), "f32", "f64", "bool", "ptr", "cstring"];
const RETURN_TYPES = [...ARG_TYPES, "void"];
const STRINGS = ["", "a", "héllo ✓", "zero\u0000cut", "x".repeat(300), "🙂".repeat(100)];
const C_STRINGS = ["alpha", "", "gamma ✓", "delta"];

// ---- C generation ------------------------------------------------------
function cArgImage(type, name) {
  if (type === "f32") return `f32bits(${name})`;
  if (type === "f64") return `f64bits(${name})`;
  if (type === "bool") return `(uint64_t)(${name} ? 1 : 0)`;
  if (type === "ptr") return `(uint64_t)(uintptr_t)${name}`;
  if (type === "cstring") return `strhash(${name})`;
  const [, signed] = INT[type];
  return signed ? `(uint64_t)(int64_t)${name}` : `(uint64_t)${name}`;
}

function cReturn(type) {
  switch (type) {
    case "void": return "(void)h; sink = h;";
    case "f64": return "return (double)(h >> 11);";
    case "f32": return "return (float)(h >> 40);";
    case "bool": return "return (h & 1) != 0;";
    case "ptr": return "return (void *)(uintptr_t)h;";
    case "cstring": return "return (h % 5) == 4 ? NULL : strs[h % 4];";
    default: return `return (${C_TYPE[type]})h;`;
  }
}

const functions = [];
for (let f = 0; f < FUNCTIONS; f++) {
  const nargs = chance(0.1) ? 0 : Math.floor(rand() * (chance(0.2) ? 17 : 7));
  const args = Array.from({ length: nargs }, () => pick(ARG_TYPES));
  functions.push({ name: `fz${f}`, args, returns: pick(RETURN_TYPES) });
}

let source = `#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#define EXPORT __attribute__((visibility("default")))
static volatile uint64_t sink;
static const char *strs[] = {${C_STRINGS.map((s) => JSON.stringify(s)).join(", ")}};
static uint64_t mix(uint64_t h, uint64_t v) { h ^= v; h *= 0x100000001b3ULL; h ^= h >> 29; return h; }
static uint64_t f32bits(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
static uint64_t f64bits(double x) { uint64_t b; memcpy(&b, &x, 8); return b; }
static uint64_t strhash(const char *s) {
  if (!s) return 0x5a5a5a5aULL;
  uint64_t h = 0xcbf29ce484222325ULL;
  while (*s) { h ^= (unsigned char)*s++; h *= 0x100000001b3ULL; }
  return h;
}
`;
for (const fn of functions) {
  const params = fn.args.map((t, i) => `${C_TYPE[t]} a${i}`).join(", ") || "void";
  const body = fn.args.map((t, i) => `  h = mix(h, ${cArgImage(t, `a${i}`)});`).join("\n");
  source += `EXPORT ${C_TYPE[fn.returns]} ${fn.name}(${params}) {\n  uint64_t h = ${fn.args.length}ULL;\n${body}\n  ${cReturn(fn.returns)}\n}\n`;
}

// ---- callback drivers ----------------------------------------------------
const FLOATS = [0, -0, 1, -1, 0.5, -2.5, 3.14159, 1e-45, 1e-300, 65504, 3.4028234663852886e38, 1e300, -1e-7,
  Infinity, -Infinity, NaN];
const cBytes = (text) => `"${[...Buffer.from(text)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}"`;
function randomBigIntIn(lo, hi) {
  const span = hi - lo + 1n;
  let r = 0n;
  for (let i = 0; i < 3; i++) r = (r << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
  return lo + (r % span);
}
// A C literal of `type` and what JS must receive for it.
function knownValue(type) {
  if (INT[type]) {
    const [bits, signed] = INT[type];
    const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
    const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
    const v = pick([lo, hi, 0n, 1n, signed ? -1n : hi - 1n, randomBigIntIn(lo, hi), randomBigIntIn(lo, hi)]);
    const literal = v === -(1n << 63n) ? "(-9223372036854775807LL - 1)" : `${v}${signed ? "LL" : "ULL"}`;
    let js = Number(v);
    if (type === "i64" || type === "u64") js = v;
    if ((type === "i64_fast" || type === "u64_fast") && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))) js = v;
    return { c: `(${C_TYPE[type]})(${literal})`, js };
  }
  if (type === "f64" || type === "f32") {
    const d = pick(FLOATS);
    const literal = Number.isNaN(d) ? '__builtin_nan("")' : d === Infinity ? "__builtin_inf()" : d === -Infinity ? "(-__builtin_inf())"
      : Object.is(d, -0) ? "-0.0" : String(d);
    return { c: `(${C_TYPE[type]})(${literal})`, js: type === "f32" ? Math.fround(d) : d };
  }
  if (type === "bool") {
    const b = chance(0.5);
    return { c: b ? "true" : "false", js: b };
  }
  if (type === "ptr") {
    const v = pick([0n, 1n, 4096n, 0x7fff12345678n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, randomBigIntIn(1n, 2n ** 47n)]);
    const js = v === 0n ? null : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    return { c: `(void *)(uintptr_t)${v}ULL`, js };
  }
  if (type === "cstring") {
    if (chance(0.1)) return { c: "NULL", js: null };
    const text = pick(STRINGS).split("\u0000")[0];
    return { c: cBytes(text), js: text };
  }
  throw new Error(`no known value for ${type}`);
}

const callbackCases = [];
for (let k = 0; k < CALLBACKS; k++) {
  const nargs = chance(0.1) ? 0 : Math.floor(rand() * (chance(0.2) ? 17 : 9));
  const args = Array.from({ length: nargs }, () => pick(ARG_TYPES));
  const returns = pick(RETURN_TYPES);
  const values = args.map(knownValue);
  const name = `drive${k}`;
  callbackCases.push({ name, args, returns, received: values.map((v) => v.js) });
  const params = args.map((t) => C_TYPE[t]).join(", ") || "void";
  const call = `cb(${values.map((v) => v.c).join(", ")})`;
  source += `EXPORT uint64_t ${name}(${C_TYPE[returns]} (*cb)(${params})) {\n` +
    (returns === "void" ? `  ${call};\n  return 0;\n}\n` : `  ${C_TYPE[returns]} r = ${call};\n  return ${cArgImage(returns, "r")};\n}\n`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-fuzz-"));
process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, "fuzz.c"), source);
const libPath = path.join(dir, "libfuzz.so");
execFileSync(process.env.CC || "cc", ["-shared", "-fPIC", "-O1", "-w", "-o", libPath, path.join(dir, "fuzz.c")], { stdio: "inherit" });
const definitions = {};
for (const fn of functions) definitions[fn.name] = { args: fn.args, returns: fn.returns };
for (const cb of callbackCases) definitions[cb.name] = { args: ["function"], returns: "u64" };
const lib = dlopen(libPath, definitions);

// ---- the model ---------------------------------------------------------
const u64 = (x) => BigInt.asUintN(64, x);
function mix(h, v) {
  h = u64(h ^ v);
  h = u64(h * 0x100000001b3n);
  return h ^ (h >> 29n);
}
function strhash(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    if (b === 0) break;
    h = u64((h ^ BigInt(b)) * 0x100000001b3n);
  }
  return h;
}
const f64view = new Float64Array(1);
const f64bits = new BigUint64Array(f64view.buffer);
const f32view = new Float32Array(1);
const f32bits = new Uint32Array(f32view.buffer);

class Refused extends Error {}

// ToInt64-style wrap of a double, as the README says (NaN/Infinity -> 0).
function doubleToU64(d) {
  if (!Number.isFinite(d)) return 0n;
  return u64(BigInt(Math.trunc(d)));
}

// What C receives for (type, value), as the 64-bit image C's hash sees, or throws Refused.
function image(type, value) {
  const kind = typeof value;
  if (INT[type]) {
    const [bits, signed] = INT[type];
    let wide;
    if (kind === "bigint") wide = u64(value);
    else if (kind === "boolean") wide = value ? 1n : 0n;
    else if (kind === "number") {
      if (bits === 64) wide = doubleToU64(value);
      else wide = u64(BigInt(value | 0)); // ToInt32
    } else throw new Refused();
    const narrow = signed ? BigInt.asIntN(bits, wide) : BigInt.asUintN(bits, wide);
    return u64(narrow);
  }
  if (type === "f64" || type === "f32") {
    let d;
    if (kind === "number") d = value;
    else if (kind === "boolean") d = value ? 1 : 0;
    else if (kind === "bigint") d = Number(value); // at any size (issue 22)
    else throw new Refused();
    if (type === "f64") {
      f64view[0] = d;
      return f64bits[0];
    }
    f32view[0] = d;
    return BigInt(f32bits[0]);
  }
  if (type === "bool") return value ? 1n : 0n;
  if (type === "ptr" || type === "cstring") {
    if (type === "cstring" && kind === "string") return strhash(Buffer.from(value, "utf8"));
    if (value === null || value === undefined) return type === "cstring" ? 0x5a5a5a5an : 0n;
    if (type === "cstring") {
      if (ArrayBuffer.isView(value)) return strhash(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      throw new Refused(); // numbers would be dereferenced by C: never generated
    }
    if (ArrayBuffer.isView(value)) return BigInt(ptr(value) ?? 0); // an empty view may have no memory: NULL
    // Integers in [-2^63, 2^64); negative ones as two's complement, as in Bun.
    if (kind === "bigint") {
      if (value >= -(2n ** 63n) && value < 2n ** 64n) return BigInt.asUintN(64, value);
      throw new Refused();
    }
    if (kind === "number") {
      if (value >= -(2 ** 63) && value < 2 ** 64 && Number.isInteger(value)) return BigInt.asUintN(64, BigInt(value));
      throw new Refused();
    }
    throw new Refused();
  }
  throw new Error(`no model for ${type}`);
}

function expected(fn, args) {
  let h = BigInt(fn.args.length);
  for (let i = 0; i < fn.args.length; i++) {
    if (i >= args.length) throw new Refused();
    h = mix(h, image(fn.args[i], args[i]));
  }
  const r = fn.returns;
  if (r === "void") return undefined;
  if (r === "f64") return Number(h >> 11n);
  if (r === "f32") return Number(h >> 40n);
  if (r === "bool") return (h & 1n) === 1n;
  if (r === "ptr") return h === 0n ? null : h <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(h) : h;
  if (r === "cstring") return h % 5n === 4n ? null : C_STRINGS[Number(h % 4n)];
  const [bits, signed] = INT[r];
  const v = signed ? BigInt.asIntN(bits, h) : BigInt.asUintN(bits, h);
  if (r === "i64" || r === "u64") return v;
  if (r === "i64_fast" || r === "u64_fast") return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  return Number(v);
}

// The model's result for a call, or refused: it must throw a TypeError.
function modelled(fn, args) {
  try {
    return { want: expected(fn, args), refused: false };
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return { want: undefined, refused: true };
  }
}

// ---- values ------------------------------------------------------------
const NUMBERS = [0, -0, 1, -1, 127, 128, -128, 255, 256, 32767, 32768, -32769, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31),
  -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 2 ** 64, 1e20, -1e20, 0.5, -0.5, 1.5, -2.5,
  3.14159, Number.EPSILON, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, NaN, Infinity, -Infinity, 3.4028235e38, 1e-45];
const BIGINTS = [0n, 1n, -1n, 127n, -128n, 255n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n,
  2n ** 64n - 1n, 2n ** 64n, 2n ** 70n + 5n, -(2n ** 70n)];
const WRONG = [undefined, null, "12", "", Symbol("s"), {}, [], [1], () => 1, { valueOf: () => 3 }, new Date(0)];
const buffers = [new Uint8Array([104, 105, 0]), new Uint8Array(0), new Float64Array(4), new DataView(new ArrayBuffer(8))];

function randomInt53() {
  return Math.floor((rand() * 2 - 1) * 2 ** (1 + Math.floor(rand() * 53)));
}

function value(type) {
  const r = rand();
  if (r < 0.04) return pick(WRONG);
  if (r < 0.06) return chance(0.5);
  if (type === "cstring") {
    const s = rand();
    if (s < 0.6) return pick(STRINGS);
    if (s < 0.7) return null;
    if (s < 0.8) return new Uint8Array([...Buffer.from(pick(STRINGS)), 0]);
    return pick(WRONG.filter((w) => w !== null && w !== undefined));
  }
  if (type === "ptr") {
    const s = rand();
    if (s < 0.3) return pick(buffers);
    if (s < 0.5) return pick(BIGINTS);
    if (s < 0.6) return null;
    return chance(0.5) ? pick(NUMBERS) : Math.abs(randomInt53());
  }
  if (type === "bool") return chance(0.5) ? pick([...NUMBERS, ...BIGINTS, "", "x", 0, 1]) : chance(0.5);
  const s = rand();
  if (s < 0.45) return pick(NUMBERS);
  if (s < 0.7) return pick(BIGINTS);
  if (s < 0.85) return randomInt53();
  return (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 10);
}

// ---- the run -----------------------------------------------------------
const describeValue = (v) => (typeof v === "bigint" ? `${v}n` : typeof v === "symbol" ? v.toString() : typeof v === "string" ? JSON.stringify(v.slice(0, 20)) : ArrayBuffer.isView(v) ? v.constructor.name : typeof v === "function" ? "function" : Object.is(v, -0) ? "-0" : String(v));
const same = (a, b) => (typeof a === "number" && typeof b === "number" ? Object.is(a, b) || (a === b) : a === b);

const stats = { calls: 0, correct: 0, refused: 0, missing: 0, byReturn: {} };
const t0 = Date.now();
for (let i = 0; i < CALLS; i++) {
  const fn = pick(functions);
  const args = fn.args.map((t) => value(t));
  if (fn.args.length && chance(0.01)) args.length = Math.floor(rand() * fn.args.length); // too few
  else if (chance(0.01)) args.push(1, 2); // too many: ignored
  const { want, refused } = modelled(fn, args);
  let got, threw;
  if (TRACE) fs.writeSync(2, `${i} ${fn.name}(${fn.args.join(", ")}) -> ${fn.returns} with (${args.map(describeValue).join(", ")})\n`);
  try {
    got = lib.symbols[fn.name](...args);
  } catch (e) {
    threw = e;
  }
  stats.calls++;
  const where = () => `call ${i} ${fn.name}(${fn.args.join(", ")}) -> ${fn.returns} with (${args.map(describeValue).join(", ")})`;
  if (refused) {
    if (!(threw instanceof TypeError)) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: expected a TypeError, got ${threw ? threw : `the value ${describeValue(got)}`}`);
      process.exit(1);
    }
    if (/is missing/.test(threw.message)) stats.missing++;
    else stats.refused++;
    assert.match(threw.message, new RegExp(`^${fn.name}: args\\[\\d+\\]`), where());
    continue;
  }
  if (threw) {
    console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: expected ${describeValue(want)}, threw ${threw.stack}`);
    process.exit(1);
  }
  if (!same(got, want)) {
    console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: expected ${describeValue(want)}, got ${describeValue(got)}`);
    process.exit(1);
  }
  stats.correct++;
  stats.byReturn[fn.returns] = (stats.byReturn[fn.returns] || 0) + 1;
}
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
console.log(`fuzz: ${stats.calls} calls in ${seconds} s: ${stats.correct} correct results, ${stats.refused} clean TypeErrors for wrong kinds, ` +
  `${stats.missing} for missing arguments; 0 crashes, 0 wrong results`);
console.log(`fuzz: correct results by return type: ${Object.entries(stats.byReturn).sort().map(([k, v]) => `${k} ${v}`).join(", ")}`);

// ---- callbacks -----------------------------------------------------------
const ZERO_IMAGE = { cstring: 0x5a5a5a5an }; // what C gets for a result of the wrong kind (NULL hashes to this)
const CALLS_PER_CALLBACK = 25;
let callbackCalls = 0, wrongKindResults = 0;
for (const cb of callbackCases) {
  let result, problem = null;
  const where = () => `${cb.name}: callback (${cb.args.join(", ")}) -> ${cb.returns}`;
  const jsCallback = new JSCallback((...got) => {
    if (got.length !== cb.args.length) problem = `received ${got.length} arguments`;
    for (let i = 0; i < cb.args.length && !problem; i++) {
      if (!same(got[i], cb.received[i])) problem = `args[${i}] (${cb.args[i]}): expected ${describeValue(cb.received[i])}, got ${describeValue(got[i])}`;
    }
    return result;
  }, { args: cb.args, returns: cb.returns });
  for (let k = 0; k < CALLS_PER_CALLBACK; k++) {
    result = value(cb.returns === "void" ? "i32" : cb.returns);
    let want = 0n;
    if (cb.returns !== "void") {
      try {
        want = image(cb.returns, result);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        want = ZERO_IMAGE[cb.returns] ?? 0n;
        wrongKindResults++;
      }
    }
    if (TRACE) fs.writeSync(2, `${where()} returning ${describeValue(result)}\n`);
    const got = lib.symbols[cb.name](jsCallback);
    callbackCalls++;
    if (problem) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: ${problem}`);
      process.exit(1);
    }
    if (got !== want) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()} returned ${describeValue(result)}: C got image ${got}, expected ${want}`);
      process.exit(1);
    }
  }
  jsCallback.close();
}

// ---- batches ---------------------------------------------------------------
// The same calls made through batch() (docs/batch.md): each entry's result
// must be the single call's, a wrong kind or a missing argument must make
// add() throw a TypeError naming the entry's index (and add nothing), and a
// batch run again (from its native buffer after a first run from the stage,
// or cleared and refilled) must give the same results again. add() stages
// numbers, booleans and bigints and converts them in C at run(), a path of
// its own (src/calls/batch_buffer.c), so this checks it against the model too.
let batchEntries = 0, batchRefusals = 0;
const reused = batch();
for (let k = 0; k < BATCHES; k++) {
  const b = chance(0.2) ? (reused.clear(), reused) : batch();
  const count = 1 + Math.floor(rand() * 64);
  const wants = [];
  const calls = [];
  for (let e = 0; e < count; e++) {
    const fn = pick(functions);
    const args = fn.args.map((t) => value(t));
    if (fn.args.length && chance(0.01)) args.length = Math.floor(rand() * fn.args.length);
    const { want, refused } = modelled(fn, args);
    const where = () => `batch ${k} entry ${wants.length}: ${fn.name}(${fn.args.join(", ")}) -> ${fn.returns} with (${args.map(describeValue).join(", ")})`;
    let index, threw;
    try {
      index = b.add(lib.symbols[fn.name], ...args);
    } catch (error) {
      threw = error;
    }
    if (refused) {
      if (!(threw instanceof TypeError) || !threw.message.startsWith(`batch entry ${wants.length}: ${fn.name}: args[`)) {
        console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: expected add() to throw a TypeError naming the entry, got ${threw ? threw.stack : `index ${index}`}`);
        process.exit(1);
      }
      batchRefusals++;
      continue;
    }
    if (threw || index !== wants.length) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: add() ${threw ? `threw ${threw.stack}` : `returned ${index}`}`);
      process.exit(1);
    }
    wants.push(want);
    calls.push(where);
  }
  const runs = chance(0.3) ? 2 : 1;
  for (let r = 0; r < runs; r++) {
    const got = chance(0.2) ? b.run({ into: [] }) : b.run();
    if (got.length !== wants.length) {
      console.error(`fuzz: FAIL (seed ${SEED}): batch ${k} run ${r}: ${got.length} results for ${wants.length} entries`);
      process.exit(1);
    }
    for (let e = 0; e < wants.length; e++) {
      if (!same(got[e], wants[e])) {
        console.error(`fuzz: FAIL (seed ${SEED}): ${calls[e]()}, run ${r}: expected ${describeValue(wants[e])}, got ${describeValue(got[e])}`);
        process.exit(1);
      }
    }
  }
  batchEntries += wants.length;
}
console.log(`fuzz: ${BATCHES} batches: ${batchEntries} entries gave the single call's result, ${batchRefusals} wrong kinds or missing arguments refused by add()`);

// ---- map ---------------------------------------------------------------------
// sym.map(n, ...args) (docs/batch.md): each argument a TypedArray of its
// type's kind (values drawn as for single calls, stored by the array's own
// conversion, and modelled as read back from it) or a value broadcast to
// every call; each result, read from the returned TypedArray, must be the
// model's for that call's arguments, a wrong kind must throw a TypeError
// naming the symbol, and a cstring function cannot be mapped.
const ARRAY_OF = { i8: Int8Array, char: Int8Array, u8: Uint8Array, bool: Uint8Array, i16: Int16Array, u16: Uint16Array,
  i32: Int32Array, u32: Uint32Array, i64: BigInt64Array, u64: BigUint64Array, f32: Float32Array, f64: Float64Array };
// A model result as the map's TypedArray holds it.
function asElement(type, v) {
  if (type === "bool") return v ? 1 : 0;
  if (type === "ptr") return v === null ? 0n : BigInt(v);
  if (INT[type] && INT[type][0] === 64) return BigInt(v);
  return v;
}
let mapCalls = 0, mapRefusals = 0;
for (let k = 0; k < MAPS; k++) {
  const fn = pick(functions);
  // Now and then past 256 calls, where the default and jit engines map through a compiled loop.
  const n = chance(0.05) ? 256 + Math.floor(rand() * 300) : 1 + Math.floor(rand() * 48);
  const isColumn = [];
  const columns = fn.args.map((t, j) => {
    const Kind = ARRAY_OF[t];
    isColumn[j] = Kind !== undefined && chance(0.7);
    if (isColumn[j]) {
      const array = new Kind(n);
      for (let i = 0; i < n; i++) {
        let v = value(t);
        if (Kind === BigInt64Array || Kind === BigUint64Array) v = typeof v === "bigint" ? v : BigInt(Math.trunc(Number.isFinite(v) ? v : 0) || 0);
        else if (typeof v !== "number") v = typeof v === "bigint" ? Number(v) : v ? 1 : 0;
        array[i] = v;
      }
      return array;
    }
    return value(t);
  });
  const rows = Array.from({ length: n }, (_, i) => columns.map((c, j) => (isColumn[j] ? c[i] : c)));
  const models = rows.map((args) => modelled(fn, args));
  const where = () => `map ${k}: ${fn.name}(${fn.args.join(", ")}) -> ${fn.returns}, n ${n}, with (${columns.map((c, j) => (isColumn[j] ? c.constructor.name : describeValue(c))).join(", ")})`;
  let got, threw;
  try {
    got = lib.symbols[fn.name].map(n, ...columns);
  } catch (error) {
    threw = error;
  }
  if (fn.returns === "cstring" || models.some((m) => m.refused)) {
    if (!(threw instanceof TypeError) || !threw.message.includes(fn.name)) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: expected a TypeError naming the symbol, got ${threw ? threw.stack : "results"}`);
      process.exit(1);
    }
    mapRefusals++;
    continue;
  }
  if (threw) {
    console.error(`fuzz: FAIL (seed ${SEED}): ${where()}: threw ${threw.stack}`);
    process.exit(1);
  }
  for (let i = 0; i < n; i++) {
    const want = fn.returns === "void" ? undefined : asElement(fn.returns, models[i].want);
    const have = fn.returns === "void" ? got : got[i];
    if (!same(have, want)) {
      console.error(`fuzz: FAIL (seed ${SEED}): ${where()}, call ${i} with (${rows[i].map(describeValue).join(", ")}): expected ${describeValue(want)}, got ${describeValue(have)}`);
      process.exit(1);
    }
  }
  mapCalls += n;
}
console.log(`fuzz: ${MAPS} maps: ${mapCalls} calls gave the single call's result, ${mapRefusals} maps refused (a wrong kind, a missing argument or a cstring result)`);

lib.close();
console.log(`fuzz: ${callbackCalls} callback calls over ${callbackCases.length} signatures: every argument as expected, every result's ` +
  `image right (${wrongKindResults} wrong kinds gave C the zero value)`);
console.log("fuzz: ok");
