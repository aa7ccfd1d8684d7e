"use strict";
// A `bun:test` stand-in for scripts/run-bun-ffi-tests.js: enough of
// describe/it/test/expect and the hooks to run Bun's FFI test files under
// Node against cffi-bun. Tests are collected while the file loads and run
// one after another once it has loaded (as bun test does); each result goes
// to $CFFI_BUN_TEST_RESULTS as one JSON line { name, status, error }.
// Names are "describe > ... > test", as the runner builds them from Bun's
// JUnit report, so both sides compare by name.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const util = require("node:util");

const resultsFile = process.env.CFFI_BUN_TEST_RESULTS;

function makeScope(name, parent, mode) {
  return { name, parent, mode, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
}
const rootScope = makeScope("", null, "run");
let current = rootScope;

function fullName(scope, name) {
  const parts = [name];
  for (let s = scope; s && s !== rootScope; s = s.parent) parts.unshift(s.name);
  return parts.join(" > ");
}

// %p %s %d %i %j %o %# as bun test formats each() titles.
function formatTitle(title, row, index) {
  const values = Array.isArray(row) ? [...row] : [row];
  let used = 0;
  const text = String(title).replace(/%[psdifjo#%]/g, (spec) => {
    if (spec === "%%") return "%";
    if (spec === "%#") return String(index);
    const value = values[used++];
    if (spec === "%p") return typeof value === "string" ? JSON.stringify(value) : util.inspect(value, { depth: 2 });
    if (spec === "%d" || spec === "%i") return String(Math.trunc(Number(value)));
    if (spec === "%f") return String(Number(value));
    if (spec === "%j") return JSON.stringify(value);
    if (spec === "%o") return util.inspect(value);
    return String(value);
  });
  return text.replace(/\$(\w+)/g, (m, key) => (row && typeof row === "object" && key in row ? util.inspect(row[key]) : m));
}

function addTest(name, fn, mode) {
  current.children.push({ kind: "test", name: String(name), fn, mode, scope: current });
}

function addSuite(name, fn, mode) {
  const scope = makeScope(String(name), current, mode);
  current.children.push({ kind: "suite", scope });
  const previous = current;
  current = scope;
  try {
    if (typeof fn === "function") fn();
  } finally {
    current = previous;
  }
}

// test / it / describe with their modifiers (.skip .todo .only .if .skipIf
// .todoIf .each .concurrent .serial .failing).
function withModifiers(add) {
  const base = (name, fn) => add(name, fn, "run");
  base.skip = (name, fn) => add(name, fn, "skip");
  base.todo = (name, fn) => add(name, fn, "todo");
  base.only = (name, fn) => add(name, fn, "run");
  base.if = (condition) => (condition ? base : base.skip);
  base.skipIf = (condition) => (condition ? base.skip : base);
  base.todoIf = (condition) => (condition ? base.todo : base);
  base.concurrent = base;
  base.serial = base;
  base.failing = (name, fn) => add(name, fn, "failing");
  const each = (mode) => (table) => (title, fn) =>
    table.forEach((row, index) => add(formatTitle(title, row, index), () => (Array.isArray(row) ? fn(...row) : fn(row)), mode));
  base.each = each("run");
  base.skip.each = each("skip");
  base.todo.each = each("todo");
  base.concurrent.each = base.each;
  return base;
}

const test = withModifiers(addTest);
const describe = withModifiers(addSuite);

const hook = (kind) => (fn) => current[kind].push(fn);

// A test function: sync, async, or taking a done callback.
function callTest(fn) {
  if (fn.length > 0) {
    return new Promise((resolve, reject) => {
      fn((error) => (error ? reject(error) : resolve()));
    });
  }
  return fn();
}

function report(name, status, error) {
  const line = JSON.stringify({ name, status, error: error ? String(error && error.stack ? error.message : error).slice(0, 2000) : undefined });
  if (resultsFile) fs.appendFileSync(resultsFile, line + "\n");
  else console.log(line);
}

function ancestors(scope) {
  const list = [];
  for (let s = scope; s; s = s.parent) list.unshift(s);
  return list;
}

async function runScope(scope, inheritedMode) {
  const mode = inheritedMode !== "run" ? inheritedMode : scope.mode;
  const runnable = mode === "run";
  let setupError = null;
  if (runnable) {
    for (const fn of scope.beforeAll) {
      try {
        await callTest(fn);
      } catch (error) {
        setupError = error;
        break;
      }
    }
  }
  for (const child of scope.children) {
    if (child.kind === "suite") {
      await runScope(child.scope, setupError ? "fail" : mode);
      continue;
    }
    const name = fullName(scope, child.name);
    const childMode = mode !== "run" ? mode : child.mode;
    if (childMode === "skip") { report(name, "skip"); continue; }
    if (childMode === "todo" || !child.fn) { report(name, "todo"); continue; }
    if (childMode === "fail" || setupError) { report(name, "fail", setupError || "beforeAll failed"); continue; }
    let error = null;
    try {
      for (const s of ancestors(scope)) for (const fn of s.beforeEach) await callTest(fn);
      await callTest(child.fn);
    } catch (e) {
      error = e || new Error(String(e));
    }
    for (const s of ancestors(scope).reverse()) {
      for (const fn of s.afterEach) {
        try {
          await callTest(fn);
        } catch (e) {
          error = error || e;
        }
      }
    }
    if (childMode === "failing") report(name, error ? "pass" : "fail", error ? undefined : "expected to fail");
    else report(name, error ? "fail" : "pass", error);
  }
  if (runnable) {
    for (const fn of scope.afterAll) {
      try {
        await callTest(fn);
      } catch {}
    }
  }
}

// ---- expect -----------------------------------------------------------

function matchesThrown(error, expected) {
  if (expected === undefined) return true;
  const message = error && typeof error === "object" && "message" in error ? String(error.message) : String(error);
  if (typeof expected === "string") return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (typeof expected === "function") return error instanceof expected;
  if (expected && typeof expected === "object") return message === String(expected.message);
  return false;
}

function isSubset(actual, expected) {
  if (expected === actual) return true;
  if (expected instanceof RegExp) return typeof actual === "string" && expected.test(actual);
  if (expected && typeof expected === "object" && typeof expected.asymmetricMatch === "function") return expected.asymmetricMatch(actual);
  if (!expected || typeof expected !== "object" || !actual || typeof actual !== "object") return Object.is(actual, expected);
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => isSubset(actual[i], v));
  return Object.keys(expected).every((key) => isSubset(actual[key], expected[key]));
}

function equals(a, b, strict) {
  try {
    (strict ? assert.deepStrictEqual : assert.deepEqual)(a, b);
    return true;
  } catch {
    return false;
  }
}

function makeMatchers(actual, negated, promiseMode) {
  const check = (pass, message) => {
    if (pass === negated) throw new assert.AssertionError({ message: `expect(received)${negated ? ".not" : ""}: ${message()}`, actual, stackStartFn: check });
  };
  const show = (v) => util.inspect(v, { depth: 3 });
  const matchers = {
    toBe: (expected) => check(Object.is(actual, expected), () => `toBe(${show(expected)}), received ${show(actual)}`),
    toEqual: (expected) => check(equals(actual, expected, false) || isSubset(actual, expected) && isSubset(expected, actual), () => `toEqual(${show(expected)}), received ${show(actual)}`),
    toStrictEqual: (expected) => check(equals(actual, expected, true), () => `toStrictEqual(${show(expected)}), received ${show(actual)}`),
    toMatchObject: (expected) => check(isSubset(actual, expected), () => `toMatchObject(${show(expected)}), received ${show(actual)}`),
    toBeDefined: () => check(actual !== undefined, () => `toBeDefined(), received ${show(actual)}`),
    toBeUndefined: () => check(actual === undefined, () => `toBeUndefined(), received ${show(actual)}`),
    toBeNull: () => check(actual === null, () => `toBeNull(), received ${show(actual)}`),
    toBeNil: () => check(actual == null, () => `toBeNil(), received ${show(actual)}`),
    toBeTruthy: () => check(!!actual, () => `toBeTruthy(), received ${show(actual)}`),
    toBeFalsy: () => check(!actual, () => `toBeFalsy(), received ${show(actual)}`),
    toBeTrue: () => check(actual === true, () => `toBeTrue(), received ${show(actual)}`),
    toBeFalse: () => check(actual === false, () => `toBeFalse(), received ${show(actual)}`),
    toBeNaN: () => check(Number.isNaN(actual), () => `toBeNaN(), received ${show(actual)}`),
    toBeArray: () => check(Array.isArray(actual), () => `toBeArray(), received ${show(actual)}`),
    toBeString: () => check(typeof actual === "string", () => `toBeString(), received ${show(actual)}`),
    toBeNumber: () => check(typeof actual === "number", () => `toBeNumber(), received ${show(actual)}`),
    toBeFunction: () => check(typeof actual === "function", () => `toBeFunction(), received ${show(actual)}`),
    toBeTypeOf: (type) => check(typeof actual === type, () => `toBeTypeOf(${type}), received ${typeof actual}`),
    toBeInstanceOf: (cls) => check(actual instanceof cls, () => `toBeInstanceOf(${cls && cls.name}), received ${show(actual)}`),
    toBeGreaterThan: (n) => check(actual > n, () => `toBeGreaterThan(${n}), received ${show(actual)}`),
    toBeGreaterThanOrEqual: (n) => check(actual >= n, () => `toBeGreaterThanOrEqual(${n}), received ${show(actual)}`),
    toBeLessThan: (n) => check(actual < n, () => `toBeLessThan(${n}), received ${show(actual)}`),
    toBeLessThanOrEqual: (n) => check(actual <= n, () => `toBeLessThanOrEqual(${n}), received ${show(actual)}`),
    toBeCloseTo: (n, digits = 2) => check(Math.abs(actual - n) < 10 ** -digits / 2, () => `toBeCloseTo(${n}), received ${show(actual)}`),
    toHaveLength: (n) => check(actual != null && actual.length === n, () => `toHaveLength(${n}), received length ${actual && actual.length}`),
    toHaveProperty: (key, ...value) => check(actual != null && (value.length ? equals(key.split(".").reduce((o, k) => o?.[k], actual), value[0]) : key.split(".").reduce((o, k) => (o != null && k in Object(o) ? o[k] : undefined), actual) !== undefined), () => `toHaveProperty(${key})`),
    toContain: (item) => check(actual != null && (typeof actual === "string" ? actual.includes(item) : Array.from(actual).includes(item)), () => `toContain(${show(item)}), received ${show(actual)}`),
    toInclude: (item) => matchers.toContain(item),
    toMatch: (pattern) => check(typeof actual === "string" && (typeof pattern === "string" ? actual.includes(pattern) : pattern.test(actual)), () => `toMatch(${pattern}), received ${show(actual)}`),
    toThrow: (expected) => {
      if (promiseMode === "rejects") return check(matchesThrown(actual, expected), () => `rejects.toThrow(${show(expected)}), rejected with ${show(actual)}`);
      let threw = false, error;
      try {
        actual();
      } catch (e) {
        threw = true;
        error = e;
      }
      check(threw && matchesThrown(error, expected), () => threw ? `toThrow(${show(expected)}), threw ${show(error)}` : `toThrow(${show(expected)}), but it did not throw`);
    },
    toThrowError: (expected) => matchers.toThrow(expected),
    toMatchSnapshot: () => {},
    toMatchInlineSnapshot: (snapshot) => snapshot === undefined || check(String(actual).trim() === String(snapshot).trim(), () => `toMatchInlineSnapshot, received ${show(actual)}`),
    toHaveBeenCalled: () => check(false, () => "mock matchers are not supported by this shim"),
  };
  return matchers;
}

function expect(actual) {
  const matchers = makeMatchers(actual, false);
  matchers.not = makeMatchers(actual, true);
  const settle = (mode) => new Proxy({}, {
    get(_, key) {
      return async (...args) => {
        let value, rejected = false;
        try {
          value = await actual;
        } catch (e) {
          rejected = true;
          value = e;
        }
        if ((mode === "rejects") !== rejected) throw new assert.AssertionError({ message: `expected the promise to ${mode === "rejects" ? "reject" : "resolve"}` });
        return makeMatchers(value, false, mode)[key](...args);
      };
    },
  });
  matchers.resolves = settle("resolves");
  matchers.rejects = settle("rejects");
  return matchers;
}
expect.unreachable = (message) => {
  throw new assert.AssertionError({ message: message || "expect.unreachable() was reached" });
};
expect.assertions = () => {};
expect.hasAssertions = () => {};
expect.any = (cls) => ({ asymmetricMatch: (v) => v != null && (Object(v) instanceof cls || typeof v === cls.name.toLowerCase()) });
expect.anything = () => ({ asymmetricMatch: (v) => v != null });
expect.stringContaining = (s) => ({ asymmetricMatch: (v) => typeof v === "string" && v.includes(s) });
expect.stringMatching = (p) => ({ asymmetricMatch: (v) => typeof v === "string" && new RegExp(p).test(v) });

// Run once the test file (and everything it imports) has loaded.
let started = false;
function start() {
  if (started) return;
  started = true;
  setImmediate(() => {
    runScope(rootScope, "run").then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
start();

module.exports = {
  describe,
  test,
  it: test,
  expect,
  beforeAll: hook("beforeAll"),
  afterAll: hook("afterAll"),
  beforeEach: hook("beforeEach"),
  afterEach: hook("afterEach"),
  jest: { fn: () => () => {} },
  mock: () => () => {},
  spyOn: () => ({ mockRestore() {} }),
  setDefaultTimeout: () => {},
};
