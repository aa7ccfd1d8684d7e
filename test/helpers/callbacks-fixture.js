"use strict";
// Builds test/fixture/callbacks.c (the JSCallback fixture) into a shared
// library once per process and returns its path. Uses the system C compiler
// (`cc`, or $CC) without a shell.
const path = require("node:path");
const { before, after } = require("node:test");
const { buildFixture } = require("./fixture.js");

const SOURCE = path.join(__dirname, "..", "fixture", "callbacks.c");

function callbacksFixturePath() {
  return buildFixture("callbacks.c", ["-pthread"]);
}

// The symbol table for dlopen(); every fixture function with its signature.
const TYPES = [
  "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64",
  "bool", "char", "ptr", "cstring", "i64_fast", "u64_fast",
];

function callbacksSymbols() {
  const symbols = {
    last_result_bits: { args: [], returns: "u64" },
    calls_made: { args: [], returns: "i32" },
    bool_result_is_one: { args: ["function"], returns: "i32" },
    cstring_result_length: { args: ["function", "i32"], returns: "i32" },
    call_void: { args: ["function", "i32"], returns: "void" },
    call_many: { args: ["function", "i32"], returns: "f64" },
    call_mixed: { args: ["function"], returns: "i64" },
    call_twice_add: { args: ["function", "i32"], returns: "i32" },
    apply: { args: ["function", "i32"], returns: "i32" },
    compare_i32_ptrs: { args: ["ptr", "ptr"], returns: "i32" },
    add_i32: { args: ["i32", "i32"], returns: "i32" },
    threads_done: { args: [], returns: "i32" },
    thread_mismatches: { args: [], returns: "i32" },
    thread_zero_results: { args: [], returns: "i64_fast" },
    thread_calls_started: { args: [], returns: "i64_fast" },
    start_threads: { args: ["i32", "i32", "function"], returns: "i32" },
    start_threads_slow: { args: ["i32", "i32", "i32", "function"], returns: "i32" },
    start_threads_ret: { args: ["i32", "i32", "function"], returns: "i32" },
    start_threads_cstr: { args: ["i32", "i32", "function"], returns: "i32" },
    start_threads_str: { args: ["i32", "i32", "function"], returns: "i32" },
    start_threads_ret_slow: { args: ["i32", "i32", "i32", "function"], returns: "i32" },
    call_from_thread_and_join: { args: ["function", "i32"], returns: "i32" },
    exit_worker_start: { args: ["function"], returns: "i32" },
    exit_worker_calls_made: { returns: "i32" },
    call_void_from_thread_and_join: { args: ["function", "i32"], returns: "void" },
    call_void_from_detached_thread: { args: ["function", "i32"], returns: "void" },
  };
  for (const t of TYPES) symbols[`call_${t}`] = { args: ["function", t], returns: t };
  return symbols;
}

// Opens the fixture for a test file: C.symbols is filled before the tests run
// and the library is closed after them.
function openCallbacksFixture(dlopen) {
  const C = {};
  let lib;
  before(() => {
    lib = dlopen(callbacksFixturePath(), callbacksSymbols());
    Object.assign(C, lib.symbols);
  });
  after(() => lib.close());
  return C;
}

module.exports = {
  callbacksFixturePath,
  callbacksSymbols,
  openCallbacksFixture,
  CALLBACK_TYPES: TYPES,
  CALLBACKS_SOURCE: SOURCE,
};
