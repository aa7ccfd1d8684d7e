"use strict";
// Bun's own FFI test files, as recorded: test/bun-ffi-results.json is what
// scripts/run-bun-ffi-tests.js wrote after running oven-sh/bun's
// test/js/bun/ffi files (ffi.test.js with its compiled ffi-test.c, cc.test.ts
// and the small ones) under Bun 1.4.5 and here. This suite runs without Bun
// and without those files: it checks the record says every test that passes
// on Bun passes here or is a known difference with its reason, and it holds
// this project's own tests for what those files caught.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { cc, viewSource } = require("..");
const { ccUnavailable } = require("./helpers/platform.js");

const record = JSON.parse(fs.readFileSync(path.join(__dirname, "bun-ffi-results.json"), "utf8"));
const rows = Object.entries(record.files).flatMap(([file, { tests }]) =>
  Object.entries(tests).map(([name, result]) => ({ key: `${file}: ${name}`, ...result })));

test("the record covers Bun's two big FFI files as well as the small ones", () => {
  assert.equal(record.bun, "1.4.5");
  const count = (file) => Object.keys(record.files[file]?.tests ?? {}).length;
  assert.ok(count("ffi.test.js") >= 100, `ffi.test.js: ${count("ffi.test.js")} tests`);
  assert.ok(count("cc.test.ts") >= 35, `cc.test.ts: ${count("cc.test.ts")} tests`);
  assert.ok(Object.keys(record.files).length >= 12);
  for (const [file, entry] of Object.entries(record.files)) assert.equal(entry.error, undefined, `${file} ran to its end here`);
});

test("every test that passes on Bun 1.4.5 passes here, or is a known difference with a reason", () => {
  const missing = rows.filter((r) => r.bun === "pass" && r.node !== "pass" && !record.knownDifferences[r.key]);
  assert.deepEqual(missing.map((r) => r.key), []);
  assert.equal(record.summary.passOnBunNotHere, 0);
});

test("each known difference is still one (passes on Bun, not here) and says why", () => {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  for (const [key, reason] of Object.entries(record.knownDifferences)) {
    const row = byKey.get(key);
    assert.ok(row, `${key} is in the record`);
    assert.equal(row.bun, "pass", key);
    assert.notEqual(row.node, "pass", `${key} passes here now: drop it from knownDifferences`);
    assert.ok(reason.length > 40, `${key} has a reason`);
  }
  const docs = fs.readFileSync(path.join(__dirname, "..", "docs", "differences.md"), "utf8");
  assert.match(docs, /knownDifferences/);
});

test("the record's summary counts what its files hold", () => {
  assert.equal(record.summary.tests, rows.length);
  assert.equal(record.summary.passHere, rows.filter((r) => r.node === "pass").length);
  assert.equal(record.summary.passBun, rows.filter((r) => r.bun === "pass").length);
  assert.equal(record.summary.knownDifferences, Object.keys(record.knownDifferences).length);
});

// cc.test.ts: an empty symbols object gives Bun's message, word for word
// (its test compares the whole message).
test("cc() with an empty symbols object throws exactly Bun's message", { skip: ccUnavailable() }, () => {
  assert.throws(() => cc({ source: "int f(void) { return 1; }", symbols: {} }), (error) => {
    assert.equal(error.name, "TypeError");
    assert.equal(error.message, "Expected at least one exported symbol");
    return true;
  });
});

// cc.test.ts: thread-local storage is refused with Bun's phrase, for a file
// and for inline source, with and without an initializer.
test("cc() says thread-local storage is not supported when a source uses it", { skip: ccUnavailable() }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cffi-bun-tls-"));
  try {
    const cases = [
      ["_Thread_local", " = 3"],
      ["__thread", ""],
    ];
    for (const [keyword, init] of cases) {
      const source = `${keyword} int counter${init};\nint bump(void) { return ++counter; }\n`;
      const file = path.join(dir, `${keyword}.c`);
      fs.writeFileSync(file, source);
      for (const given of [file, source]) {
        assert.throws(() => cc({ source: given, symbols: { bump: { args: [], returns: "int" } } }),
          (error) => {
            assert.match(error.message, /errors while compiling/);
            assert.match(error.message, /thread-local storage is not supported/);
            return true;
          }, `${keyword}${init} (${given === file ? "file" : "inline"})`);
      }
    }
    // Other syntax errors, and names that merely contain the keyword, get no such line.
    const other = "int __threads_total;\nint bump(void) { return __threads_total +; }\n";
    assert.throws(() => cc({ source: other, symbols: { bump: { args: [], returns: "int" } } }), (error) => {
      assert.match(error.message, /errors while compiling/);
      assert.doesNotMatch(error.message, /thread-local/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ffi-viewSource-non-object.test.ts and ffi.test.js read viewSource's text
// for Bun's words; they are there (as statements of what Bun does), after
// which the C is this project's own.
test("viewSource names Bun's JSFunctionCall and says Bun's callbacks are compiled by JavaScriptCore", () => {
  const [symbolSource] = viewSource({ add: { args: ["i32", "i32"], returns: "i32" } });
  assert.match(symbolSource, /JSFunctionCall/);
  assert.match(symbolSource, /add \(i32, i32\) -> i32/);
  const [registerSource] = viewSource({ put: { args: ["cstring"], returns: "void" } });
  assert.match(registerSource, /JSFunctionCall/);
  const callbackSource = viewSource({ args: ["ptr"], returns: "bool" }, true);
  assert.equal(typeof callbackSource, "string");
  assert.match(callbackSource, /compiled by JavaScriptCore/);
  assert.match(callbackSource, /bool callback\(void\* arg0\)/);
});
