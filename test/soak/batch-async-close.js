"use strict";
// batch().runAsync() racing close() of its library (run under ThreadSanitizer
// by scripts/test-tsan.sh): the pool thread reads the library's open flag
// before each entry while the JS thread clears it. Each round starts a run of
// many entries and closes the library at once; the run either finished or
// rejects naming the first entry refused. Exits 1 on any other outcome.
//
//   node test/soak/batch-async-close.js [--rounds=N]
const path = require("node:path");

const ROOT = process.env.CFFI_BUN_STRESS_ROOT || path.join(__dirname, "..", "..");
const arg = process.argv.find((a) => a.startsWith("--rounds="));
const ROUNDS = arg ? Number(arg.slice(9)) : 40;
const ENTRIES = 20000;

async function main() {
  const { dlopen, batch } = require(ROOT);
  const { fixturePath } = require(path.join(__dirname, "..", "helpers", "fixture.js"));
  const fixture = fixturePath();
  let refused = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const lib = dlopen(fixture, { add_i32: { args: ["i32", "i32"], returns: "i32" } });
    const b = batch();
    for (let i = 0; i < ENTRIES; i++) b.add(lib.symbols.add_i32, i, round);
    const run = b.runAsync();
    lib.close();
    try {
      const results = await run;
      if (results.length !== ENTRIES || results[ENTRIES - 1] !== ENTRIES - 1 + round) throw new Error(`round ${round}: wrong results`);
    } catch (error) {
      if (!/^batch entry \d+: Cannot call "add_i32": its library .* is closed/.test(error.message)) throw error;
      refused++;
    }
  }
  console.log(`batch-async-close: ${ROUNDS} rounds, ${refused} refused part-way`);
}

main().catch((error) => {
  console.error(`batch-async-close: ${error.stack}`);
  process.exit(1);
});
