"use strict";
// The seed examples from issue 2: libc and the system SQLite.
const { test, describe } = require("node:test");
const assert = require("node:assert/strict");
const { dlopen, ptr, FFIType, suffix } = require("..");
const { LIBC, isWindows } = require("./helpers/platform.js");

describe("libc", () => {
  test("abs, strlen on a JS string, getpid", () => {
    const { symbols, close } = dlopen(LIBC, {
      abs: { args: ["int"], returns: "int" },
      strlen: { args: ["cstring"], returns: "usize" },
      // msvcrt spells it _getpid
      [isWindows ? "_getpid" : "getpid"]: { args: [], returns: FFIType.i32 },
      strcmp: { args: ["cstring", "cstring"], returns: "i32" },
    });
    try {
      assert.equal(symbols.abs(-12345), 12345);
      assert.equal(symbols.abs(7), 7);
      assert.equal(symbols.strlen("hello"), 5n);
      assert.equal(symbols.strlen("héllo"), 6n);
      assert.equal(symbols[isWindows ? "_getpid" : "getpid"](), process.pid);
      assert.equal(symbols.strcmp("same", "same"), 0);
      assert.ok(symbols.strcmp("abc", "abd") < 0, "two string arguments in one call");
    } finally {
      close();
    }
  });
});

function openSqlite(defs) {
  const errors = [];
  for (const name of [`libsqlite3.${suffix}`, `libsqlite3.${suffix}.0`]) {
    try {
      return { lib: dlopen(name, defs) };
    } catch (e) {
      errors.push(`${name}: ${e.message}`);
    }
  }
  return { skip: `system SQLite not available (${errors.join("; ")})` };
}

describe("system SQLite", () => {
  const defs = {
    sqlite3_libversion: { args: [], returns: "cstring" },
    sqlite3_libversion_number: { returns: "i32" },
    sqlite3_open: { args: ["cstring", "ptr"], returns: "i32" },
    sqlite3_exec: { args: ["ptr", "cstring", "ptr", "ptr", "ptr"], returns: "i32" },
    sqlite3_changes: { args: ["ptr"], returns: "i32" },
    sqlite3_last_insert_rowid: { args: ["ptr"], returns: "i64" },
    sqlite3_errmsg: { args: ["ptr"], returns: "cstring" },
    sqlite3_close: { args: ["ptr"], returns: "i32" },
  };
  const opened = openSqlite(defs);

  test("sqlite3_libversion as cstring", { skip: opened.skip }, () => {
    const v = opened.lib.symbols.sqlite3_libversion();
    assert.equal(typeof v, "string");
    assert.match(v, /^3\.\d+\.\d+$/);
    const [maj, min, patch] = v.split(".").map(Number);
    assert.equal(opened.lib.symbols.sqlite3_libversion_number(), maj * 1000000 + min * 1000 + patch);
  });

  test("open :memory:, CREATE TABLE, INSERT, close (handle via BigUint64Array)", { skip: opened.skip }, () => {
    const S = opened.lib.symbols;
    const handleOut = new BigUint64Array(1);
    assert.equal(S.sqlite3_open(":memory:", ptr(handleOut)), 0);
    const handle = handleOut[0];
    assert.equal(typeof handle, "bigint");
    assert.notEqual(handle, 0n);
    assert.equal(S.sqlite3_exec(handle, "CREATE TABLE t(x INTEGER)", null, null, null), 0);
    assert.equal(S.sqlite3_exec(handle, "INSERT INTO t(x) VALUES (1), (2), (3)", null, null, null), 0);
    assert.equal(S.sqlite3_changes(handle), 3);
    assert.equal(S.sqlite3_last_insert_rowid(handle), 3n);
    // An error is reported by SQLite, with its message as a cstring return.
    assert.notEqual(S.sqlite3_exec(handle, "INSERT INTO nope VALUES (1)", null, null, null), 0);
    assert.match(S.sqlite3_errmsg(handle), /no such table: nope/);
    assert.equal(S.sqlite3_close(handle), 0);
  });

  test("close() of the SQLite library", { skip: opened.skip }, () => {
    opened.lib.close();
    assert.throws(() => opened.lib.symbols.sqlite3_libversion(), { message: /closed/i });
  });
});
