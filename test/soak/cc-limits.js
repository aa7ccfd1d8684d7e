"use strict";
// cc()'s default limits against sources that would take the host down
// (src/platform/tcc_limits.c): a macro that doubles 28 times, compiled with
// no limit options at all, must stop at the default memoryLimit (2 GiB held
// by TinyCC) with its Error, in a fresh process whose peak RSS stays under
// 3 GiB and which writes nothing to stderr; one compiling a #if over 2^40
// tokens must stop at a timeLimit. cc() must work after both. The unit tests
// (test/cc-errors.test.js) use small limits; this is the default, at full size
// (~10 s here). Then a refusal is walked over every allocation a limit can
// refuse (CFFI_BUN_TEST_CC_REFUSE_AT, src/platform/tcc_limits.c) of two
// larger compiles, linking included: four libc headers, a struct and libm in
// memory, and three units
// (one including node_api.h) compiled into the cache; each refusal must throw
// the limit's Error with nothing on stderr, until the compile succeeds
// (~1-2 min). The unit test walks a one-header compile.
//
//   node test/soak/cc-limits.js
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const ROOT = process.env.CFFI_BUN_STRESS_ROOT || path.join(__dirname, "..", "..");

const child = `
  const { cc } = require(${JSON.stringify(ROOT)});
  const doubling = (n, body) => { let s = "#define A0 1\\n"; for (let i = 1; i <= n; i++) s += "#define A" + i + " (A" + (i - 1) + "+A" + (i - 1) + ")\\n"; return s + body; };
  const symbols = { f: { returns: "int" } };
  const messages = [];
  for (const [source, options] of [[doubling(28, "int f(void) { return A28; }\\n"), {}],
                                   [doubling(40, "#if A40\\n#endif\\nint f(void) { return 1; }\\n"), { timeLimit: 2000 }]]) {
    const started = Date.now();
    try { cc({ source, symbols, cache: false, ...options }); messages.push("compiled"); }
    catch (e) { messages.push(e.message.split("\\n").pop()); }
    messages.push("ms " + (Date.now() - started));
  }
  messages.push("after " + cc({ source: "int f(void) { return 7; }", symbols, cache: false }).symbols.f());
  messages.push("maxRSS " + process.resourceUsage().maxRSS * 1024);
  console.log(JSON.stringify(messages));
`;

const r = spawnSync(process.execPath, ["-e", child], { encoding: "utf8", timeout: 300000 });
if (r.status !== 0 || r.stderr !== "") {
  console.error(`cc-limits: the child exited with ${r.status} (${r.signal || "no signal"}); stderr:\n${r.stderr}`);
  process.exit(1);
}
const [memory, memoryMs, time, timeMs, after, rss] = JSON.parse(r.stdout);
const failures = [];
if (memory !== "source:30: error: cc() stopped the compile at its memoryLimit of 2147483648 bytes: TinyCC needed more (pass a larger memoryLimit, or Infinity, to allow more)")
  failures.push(`the doubling macro: ${memory}`);
if (time !== "source:42: error: cc() stopped the compile after its timeLimit of 2000 ms (pass a larger timeLimit, or Infinity, to allow more)")
  failures.push(`the #if over 2^40 tokens: ${time}`);
if (after !== "after 7") failures.push(`cc() afterwards: ${after}`);
const maxRss = Number(rss.slice(7));
if (!(maxRss < 3 * 2 ** 30)) failures.push(`peak RSS ${maxRss} bytes, over 3 GiB`);
console.log(`cc-limits: memoryLimit stop (${memoryMs}), timeLimit stop (${timeMs}), peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
if (failures.length) {
  console.error("cc-limits: FAIL\n  " + failures.join("\n  "));
  process.exit(1);
}

// Every refusal point of larger compiles, one fresh process per program.
const walker = `
  const { cc } = require(${JSON.stringify(ROOT)});
  const big = "#include <stdio.h>\\n#include <stdlib.h>\\n#include <string.h>\\n#include <math.h>\\n" +
    "struct s { int a; double b; char c[40]; };\\nstatic int g(struct s *p) { return p->a + (int)p->b + (int)strlen(p->c); }\\n" +
    "int f(void) { struct s x = {1, 2.0, \\"abc\\"}; char buf[64]; snprintf(buf, sizeof buf, \\"%d\\", g(&x)); return atoi(buf) + (int)sqrt(16.0); }\\n";
  const programs = {
    "four headers and libm, in memory": { source: big, cache: false, library: ["m"] },
    "three units, into the cache": { source: [big.replace("int f(", "int f2("), "int f2(void);\\nint f(void) { return f2(); }\\n", "#include <node_api.h>\\nint h(void) { return 3; }\\n"], cache: true },
  };
  const { source, cache, library } = programs[process.argv[1]];
  const expected = /^error: cc\\(\\) stopped the compile at allocation \\d+ \\(CFFI_BUN_TEST_CC_REFUSE_AT\\)$/;
  let n = 0;
  for (;; n++) {
    process.env.CFFI_BUN_TEST_CC_REFUSE_AT = String(n);
    try { const r = cc({ source, cache, library, symbols: { f: { returns: "int" } } }); if (r.symbols.f() !== 10) throw new Error("f() = " + r.symbols.f()); break; }
    catch (e) { const last = e.message.split("\\n").pop().replace(/^.*?error: /, "error: "); if (!expected.test(last)) { console.log(JSON.stringify({ n, unexpected: e.message })); process.exit(1); } }
  }
  console.log(JSON.stringify({ n }));
`;
const os = require("node:os");
const fs = require("node:fs");
const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-cc-limits-"));
process.on("exit", () => fs.rmSync(cacheHome, { recursive: true, force: true }));
for (const program of ["four headers and libm, in memory", "three units, into the cache"]) {
  const started = Date.now();
  const w = spawnSync(process.execPath, ["-e", walker, program], { encoding: "utf8", timeout: 600000, env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
  if (w.status !== 0 || w.stderr !== "") failures.push(`${program}: exit ${w.status} (${w.signal || "no signal"}) ${w.stdout.trim()} ${w.stderr}`);
  else console.log(`cc-limits: ${program}: a refusal at each of ${JSON.parse(w.stdout).n} allocations threw the limit's Error (${Date.now() - started} ms)`);
}
if (failures.length) {
  console.error("cc-limits: FAIL\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("cc-limits: ok");
