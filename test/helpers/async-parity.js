"use strict";
// Every argument and return type through sym.async compared with the
// synchronous call: same value (or the same error message) for each input.
// Run as a script by test/async.test.js once per CFFI_BUN_ENGINE; prints
// one JSON line { checked, mismatches }.
const path = require("node:path");
const { fixturePath } = require("./fixture");
const { buildDefinitions } = require("./type-battery");

const ROOT = path.join(__dirname, "..", "..");

const NUMBERS = [0, 1, -1, 127, 128, -129, 255, 256, 65535, 65536, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 1e20,
  -1e20, 1.5, -2.5, NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE];
const BIGINTS = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n + 5n, 2n ** 100n];
const OTHERS = ["12", "x", null, undefined, true, {}, [], Symbol("s")];

// The type battery's definitions (every type, the many-argument calls),
// plus the types it does not cover.
function definitions() {
  const defs = buildDefinitions();
  Object.assign(defs, {
    identity_i64_fast: { args: ["i64_fast"], returns: "i64_fast", name: "identity_i64" },
    identity_u64_fast: { args: ["u64_fast"], returns: "u64_fast", name: "identity_u64" },
    hello_string: { returns: "cstring" },
    null_string: { returns: "cstring" },
    utf8_string: { returns: "cstring" },
    my_strlen: { args: ["cstring"], returns: "u64" },
    string_byte_sum: { args: ["cstring"], returns: "u32" },
  });
  return defs;
}

function outcome(run) {
  try {
    const value = run();
    return { value };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

async function asyncOutcome(run) {
  try {
    return { value: await run() };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

async function main() {
  const { dlopen, linkSymbols } = require(ROOT);
  const defs = definitions();
  const named = {};
  for (const [key, def] of Object.entries(defs)) if (!def.name) named[key] = def;
  const lib = dlopen(fixturePath(), named);
  // The *_fast variants: the same C functions under other types.
  const fast = linkSymbols({
    identity_i64_fast: { ...defs.identity_i64_fast, ptr: lib.symbols.identity_i64.ptr },
    identity_u64_fast: { ...defs.identity_u64_fast, ptr: lib.symbols.identity_u64.ptr },
  });
  const S = { ...lib.symbols, ...fast.symbols };
  const buffer = new Uint8Array([1, 2, 3, 250]);
  const inputsFor = (type) => {
    if (type === "cstring") return ["", "abc", "h\u00e9llo \u2713", "x".repeat(1000), null, new Uint8Array([65, 66, 0]), 0, -1, 1.5, {}, true];
    if (type === "ptr") return [0, 4096, 2 ** 52, -1, 2n ** 64n - 1n, null, buffer, buffer.buffer, new DataView(buffer.buffer), 1.5, "x", {}];
    if (type.startsWith("i64") || type.startsWith("u64")) return [...NUMBERS, ...BIGINTS, ...OTHERS];
    return [...NUMBERS, ...BIGINTS.slice(0, 3), ...OTHERS];
  };
  let checked = 0;
  const mismatches = [];
  const compare = async (name, args) => {
    const sym = S[name];
    const sync = outcome(() => sym(...args));
    const viaAsync = await asyncOutcome(() => sym.async(...args));
    checked++;
    const same = "error" in sync
      ? viaAsync.error === sync.error
      : "value" in viaAsync && (Object.is(viaAsync.value, sync.value) ||
        (typeof sync.value === "bigint" && viaAsync.value === sync.value));
    if (!same) mismatches.push({ name, args: args.map(String), sync: String(sync.error ?? sync.value), async: String(viaAsync.error ?? viaAsync.value) });
  };
  for (const [name, def] of Object.entries(defs)) {
    const types = def.args ?? [];
    if (types.length === 0) await compare(name, []);
    else if (types.length <= 2) {
      for (const v of inputsFor(types[0])) await compare(name, types.map(() => v));
    } else {
      const base = types.map((t, i) => (t.startsWith("i64") || t.startsWith("u64") ? BigInt(i + 1) : i + 1.25));
      await compare(name, base);
      await compare(name, base.slice(0, -1)); // one missing
      for (let i = 0; i < types.length; i++) {
        const args = base.slice();
        args[i] = types[i].startsWith("i64") || types[i].startsWith("u64") ? 2n ** 63n : -1e9;
        await compare(name, args);
      }
    }
  }
  lib.close();
  fast.close();
  console.log(JSON.stringify({ checked, mismatches: mismatches.slice(0, 20), mismatchCount: mismatches.length }));
}

if (require.main === module) main().catch((error) => {
  console.error(error);
  process.exit(1);
});
