#!/usr/bin/env node
"use strict";
// Runs Bun's own FFI test files (oven-sh/bun test/js/bun/ffi/*.test.ts)
// against cffi-bun, and optionally against a real Bun, and compares them
// test by test:
//
//   node scripts/run-bun-ffi-tests.js <dir> [--bun <bun binary>] [--record <file.json>] [--only <name>]
//
// <dir> holds the test files and their fixtures as in Bun's repository (they
// are not part of this project: fetch them). Each file is transpiled to
// CommonJS with the `typescript` dev dependency (import.meta.dir/path become
// __dirname/__filename) next to the original, so relative fixtures resolve,
// and run in its own node with scripts/bun-test-shim/globals.js preloaded:
// "bun:ffi" is this package, "bun:test" and "harness" are the shim's, and a
// global Bun carries Bun.FFI, Bun.gc, Bun.spawn (bunExe() is this node).
// With --bun, each file also runs under `bun test` (JUnit report). --record
// writes the comparison as JSON (the project keeps one in
// test/bun-ffi-results.json). The exit code is 1 when a test that passes
// on Bun does not pass here, or (without --bun) when one listed as passing
// on Bun in an existing record does not, unless the record lists it under
// knownDifferences (with the reason).
//
// A tool for sessions with network access: CI cannot fetch GitHub, and the
// project's own tests cover each behaviour these files check.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const ROOT = path.join(__dirname, "..");
const SHIM = path.join(__dirname, "bun-test-shim", "globals.js");
const TRANSPILED_SUFFIX = ".cffi-bun-node.cjs";

function parseArgs(argv) {
  const options = { dir: null, bun: null, record: null, only: null, timeout: 120_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--bun") options.bun = argv[++i];
    else if (arg === "--record") options.record = argv[++i];
    else if (arg === "--only") options.only = argv[++i];
    else if (arg === "--timeout") options.timeout = Number(argv[++i]) * 1000;
    else if (!options.dir) options.dir = arg;
    else throw new Error(`unexpected argument ${arg}`);
  }
  if (!options.dir) {
    console.error("usage: node scripts/run-bun-ffi-tests.js <dir> [--bun <bun>] [--record <file.json>] [--only <file>]");
    process.exit(2);
  }
  options.dir = path.resolve(options.dir);
  return options;
}

// import.meta.dir/path (Bun's names) become __dirname/__filename in the
// CommonJS output. Only real import.meta expressions are rewritten: the
// fixtures the tests write out as template strings keep theirs, which the
// shim's module hook answers when those files run as ES modules.
function importMetaToCommonJS(ts) {
  const names = { dir: "__dirname", dirname: "__dirname", path: "__filename", filename: "__filename" };
  return (context) => (root) => {
    const visit = (node) => {
      if (ts.isPropertyAccessExpression(node) && ts.isMetaProperty(node.expression) &&
          node.expression.keywordToken === ts.SyntaxKind.ImportKeyword) {
        const name = node.name.text;
        if (names[name]) return ts.factory.createIdentifier(names[name]);
        if (name === "url") return ts.factory.createIdentifier('require("node:url").pathToFileURL(__filename).href');
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(root, visit);
  };
}

function transpile(file) {
  const ts = require("typescript");
  const source = fs.readFileSync(file, "utf8");
  const output = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      allowJs: true,
    },
    transformers: { before: [importMetaToCommonJS(ts)] },
  });
  const out = file.replace(/\.(ts|js|mjs|mts)$/, TRANSPILED_SUFFIX);
  fs.writeFileSync(out, output.outputText);
  return out;
}

function runHere(file, timeout) {
  const results = path.join(os.tmpdir(), `cffi-bun-bun-tests-${process.pid}-${path.basename(file)}.jsonl`);
  fs.rmSync(results, { force: true });
  let compiled;
  try {
    compiled = transpile(file);
  } catch (error) {
    return { error: `transpile failed: ${error.message}`, tests: {} };
  }
  const run = spawnSync(process.execPath, ["--expose-gc", "--require", SHIM, compiled], {
    cwd: path.dirname(file),
    env: { ...process.env, CFFI_BUN_TEST_RESULTS: results, NODE_NO_WARNINGS: "1" },
    encoding: "utf8",
    timeout,
  });
  fs.rmSync(compiled, { force: true });
  const tests = {};
  if (fs.existsSync(results)) {
    for (const line of fs.readFileSync(results, "utf8").split("\n")) {
      if (!line) continue;
      const { name, status, error } = JSON.parse(line);
      tests[name] = error ? { status, error } : { status };
    }
    fs.rmSync(results, { force: true });
  }
  const problem = run.error ? run.error.message : run.signal ? `killed by ${run.signal}` : run.status ? `exit code ${run.status}` : null;
  return { error: problem ? `${problem}: ${(run.stderr || "").slice(-1500)}` : undefined, tests };
}

const decode = (s) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#10;/g, "\n").replace(/&amp;/g, "&");

// Bun's JUnit report: <testcase name classname="inner > outer"> with a
// <failure> or <skipped> child. classname lists the describes innermost first.
function parseJUnit(xml) {
  const tests = {};
  const re = /<testcase name="([^"]*)" classname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m; (m = re.exec(xml)); ) {
    const describes = decode(m[2]) ? decode(m[2]).split(" > ").reverse() : [];
    const name = [...describes, decode(m[1])].join(" > ");
    const body = m[4] || "";
    const status = /<failure/.test(body) ? "fail" : /<skipped message="TODO"/.test(body) ? "todo" : /<skipped/.test(body) ? "skip" : "pass";
    tests[name] = { status };
  }
  return tests;
}

// Bun resolves "harness" from <dir>/node_modules: the shim's, which under
// Bun gives bunExe() = bun.
function provideHarnessForBun(dir) {
  const target = path.join(dir, "node_modules", "harness");
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(path.join(target, "package.json"), JSON.stringify({ name: "harness", main: "index.js" }) + "\n");
  fs.writeFileSync(path.join(target, "index.js"), `module.exports = require(${JSON.stringify(path.join(__dirname, "bun-test-shim", "harness.js"))});\n`);
}

function runBun(bun, file, timeout) {
  const report = path.join(os.tmpdir(), `cffi-bun-bun-junit-${process.pid}.xml`);
  fs.rmSync(report, { force: true });
  const run = spawnSync(bun, ["test", "--reporter=junit", `--reporter-outfile=${report}`, `./${path.basename(file)}`], {
    cwd: path.dirname(file),
    encoding: "utf8",
    timeout,
  });
  const tests = fs.existsSync(report) ? parseJUnit(fs.readFileSync(report, "utf8")) : {};
  fs.rmSync(report, { force: true });
  const crashed = /panic\(|Bun has crashed/.test(run.stderr || "") ? "bun crashed" : null;
  return { error: run.error ? run.error.message : crashed || (Object.keys(tests).length ? undefined : `no report (exit ${run.status})`), tests };
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const files = fs
    .readdirSync(options.dir)
    .filter((name) => /\.test\.(ts|js)$/.test(name) && !name.endsWith(TRANSPILED_SUFFIX))
    .filter((name) => !options.only || name.includes(options.only))
    .sort();
  const previous = options.record && fs.existsSync(options.record) ? JSON.parse(fs.readFileSync(options.record, "utf8")) : null;
  let bunVersion = previous?.bun ?? null;
  if (options.bun) {
    bunVersion = spawnSync(options.bun, ["--version"], { encoding: "utf8" }).stdout.trim();
    provideHarnessForBun(options.dir);
  }

  // A record keeps the files this run did not cover (--only, a folder with
  // fewer files) and its knownDifferences: "<file>: <test>" -> why that test
  // passes on Bun and cannot pass here (docs/differences.md has each one).
  const known = previous?.knownDifferences ?? {};
  const record = { bun: bunVersion, node: process.version, files: { ...(previous?.files ?? {}) }, knownDifferences: known };
  const regressions = [];
  for (const name of files) {
    const file = path.join(options.dir, name);
    const here = runHere(file, options.timeout);
    const bun = options.bun ? runBun(options.bun, file, options.timeout) : null;
    const recordedBun = previous?.files?.[name]?.tests;
    const names = new Set([...Object.keys(here.tests), ...Object.keys(bun ? bun.tests : recordedBun || {})]);
    const tests = {};
    for (const test of [...names].sort()) {
      const onBun = bun ? bun.tests[test]?.status : recordedBun?.[test]?.bun;
      const mine = here.tests[test];
      tests[test] = { bun: onBun ?? "absent", node: mine?.status ?? "absent" };
      if (mine?.error && mine.status === "fail") tests[test].error = mine.error.split("\n")[0].slice(0, 300);
      if (onBun === "pass" && tests[test].node !== "pass" && !known[`${name}: ${test}`]) regressions.push(`${name}: ${test}`);
    }
    record.files[name] = { tests };
    if (here.error) record.files[name].error = here.error.split("\n")[0].slice(0, 300);
    const bunError = bun ? bun.error : previous?.files?.[name]?.bunError;
    if (bunError) record.files[name].bunError = bunError;
    const summary = Object.values(tests);
    console.log(`${name}: ${summary.filter((t) => t.node === "pass").length}/${summary.length} pass here` +
      (bun || recordedBun ? `, ${summary.filter((t) => t.bun === "pass").length} on Bun` : "") + (here.error ? ` (${here.error.split("\n")[0]})` : ""));
  }
  record.files = Object.fromEntries(Object.entries(record.files).sort(([a], [b]) => a.localeCompare(b)));
  const all = Object.values(record.files).flatMap((f) => Object.entries(f.tests));
  record.summary = {
    tests: all.length,
    passHere: all.filter(([, t]) => t.node === "pass").length,
    passBun: all.filter(([, t]) => t.bun === "pass").length,
    passOnBunNotHere: Object.entries(record.files).flatMap(([file, f]) =>
      Object.entries(f.tests).filter(([test, t]) => t.bun === "pass" && t.node !== "pass" && !known[`${file}: ${test}`])).length,
    knownDifferences: Object.keys(known).length,
  };
  if (regressions.length) {
    console.log(`\nPass on Bun ${bunVersion ?? ""} but not here (${regressions.length}):`);
    for (const r of regressions) console.log(`  ${r}`);
  }
  if (options.record) {
    fs.writeFileSync(options.record, JSON.stringify(record, null, 2) + "\n");
    console.log(`\nrecorded in ${path.relative(process.cwd(), options.record)}`);
  }
  process.exitCode = regressions.length ? 1 : 0;
}

main();
