"use strict";
// Handle scopes around JSCallback calls (src/callbacks/callback.c). A callback called
// straight from an FFI call's C keeps one handle scope open across calls,
// closed by that FFI call when its C returns. These tests call callbacks
// from C that has opened handle scopes of its own, where keeping a scope
// would break Node-API's nesting (and crash or corrupt handles).
const { test } = require("node:test");
// Where cc() is unavailable (Windows, macOS, a build without TinyCC), this
// file is one skipped test giving cc()'s own reason.
const { ccUnavailable } = require("./helpers/platform.js");
if (ccUnavailable()) return void test("cc() is unavailable here", { skip: ccUnavailable() }, () => {});
const assert = require("node:assert/strict");
const { cc, JSCallback } = require("..");

const SOURCE = `
#include <node_api.h>
typedef int (*int_fn)(int);

/* f(x) through a pointer given as a number. */
int call_ptr(int_fn f, int x) { return f(x); }

/* n calls of f from plain C. */
int call_n(int_fn f, int n) {
  int sum = 0;
  for (int i = 0; i < n; i++) sum += f(i);
  return sum;
}

/* n calls of f inside a scope of its own; a handle made before the calls
 * must still be good after them. -1 if it is not. */
static int call_n_in_own_scope(napi_env env, int_fn f, int n) {
  napi_handle_scope scope;
  napi_value marker;
  int sum = 0, check = 0;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -2;
  /* Enough handles to reach a second block of V8's handle stack, which
   * closing this scope frees. */
  for (int i = 0; i < 3000; i++) napi_create_int32(env, i, &marker);
  napi_create_int32(env, 12345, &marker);
  for (int i = 0; i < n; i++) sum += f(i);
  napi_get_value_int32(env, marker, &check);
  if (napi_close_handle_scope(env, scope) != napi_ok) return -3;
  return check == 12345 ? sum : -1;
}

/* The same through FFI: a function that takes the napi_env. */
int env_call_n(napi_env env, int_fn f, int n) { return call_n_in_own_scope(env, f, n); }

/* The same as a native JS function, as another addon would make it: it is
 * called by Node, not through an FFI call. */
static int_fn saved;
static napi_value native_call_n(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, result;
  int n = 0;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  napi_get_value_int32(env, arg, &n);
  napi_create_int32(env, call_n_in_own_scope(env, saved, n), &result);
  return result;
}
napi_value make_native(napi_env env, int_fn f) {
  napi_value fn;
  saved = f;
  napi_create_function(env, "nativeCallN", NAPI_AUTO_LENGTH, native_call_n, NULL, &fn);
  return fn;
}
`;

const lib = cc({
  source: SOURCE,
  symbols: {
    call_n: { args: ["function", "i32"], returns: "i32" },
    call_ptr: { args: ["ptr", "i32"], returns: "i32" },
    env_call_n: { args: ["napi_env", "function", "i32"], returns: "i32" },
    make_native: { args: ["napi_env", "function"], returns: "napi_value" },
  },
});
const { call_n, call_ptr, env_call_n, make_native } = lib.symbols;
const sumTo = (n) => (n * (n - 1)) / 2;

test("many calls from one FFI call: handles do not pile up, results are right", () => {
  const twice = new JSCallback((i) => i * 2, { args: ["i32"], returns: "i32" });
  for (const n of [0, 1, 127, 128, 129, 1000, 100000]) assert.equal(call_n(twice, n), 2 * sumTo(n) | 0);
  twice.close();
});

test("C that opened a handle scope of its own (a napi_env function) around the calls", () => {
  const identity = new JSCallback((i) => i, { args: ["i32"], returns: "i32" });
  for (let round = 0; round < 20; round++) {
    for (const n of [1, 128, 300, 1000]) assert.equal(env_call_n(undefined, identity, n), sumTo(n));
  }
  identity.close();
});

test("another addon's native function calls the callback inside its own scope, from a callback's JS", () => {
  const identity = new JSCallback((i) => i, { args: ["i32"], returns: "i32" });
  const nativeCallN = make_native(undefined, identity);
  assert.equal(typeof nativeCallN, "function");
  // Not inside an FFI call.
  assert.equal(nativeCallN(1000), sumTo(1000));
  // Inside a callback's JS, itself called from an FFI call whose other
  // callbacks keep a scope open.
  const outer = new JSCallback((i) => (i % 100 === 0 ? nativeCallN(300) : 1), { args: ["i32"], returns: "i32" });
  for (let round = 0; round < 5; round++) {
    const n = 1000;
    assert.equal(call_n(outer, n), (n / 100) * sumTo(300) + (n - n / 100));
  }
  // And an FFI call inside that, inside that.
  const deep = new JSCallback((i) => env_call_n(undefined, identity, 200) + call_n(identity, i % 300), { args: ["i32"], returns: "i32" });
  let expected = 0;
  for (let i = 0; i < 400; i++) expected += sumTo(200) + sumTo(i % 300);
  assert.equal(call_n(deep, 400), expected | 0);
  outer.close();
  deep.close();
  identity.close();
});

test("an exception thrown after many kept-scope calls is rethrown, and the next call is clean", () => {
  const throwsAt = new JSCallback((i) => {
    if (i === 500) throw new RangeError("at 500");
    return 1;
  }, { args: ["i32"], returns: "i32" });
  assert.throws(() => call_n(throwsAt, 1000), /at 500/);
  assert.equal(call_n(throwsAt, 400), 400);
  throwsAt.close();
});

test("a callback that closes itself is answered with 0 by later calls from the same C, also after other callbacks were made", () => {
  const once = new JSCallback(() => {
    once.close();
    return 1;
  }, { args: ["i32"], returns: "i32" });
  assert.equal(call_n(once, 3), 1);
  // Closed by its own call, then C calls it again after another callback
  // made (and closed) a new one: it must still be there, answering 0.
  let made = 0;
  const selfClosing = new JSCallback((i) => {
    if (i === 0) selfClosing.close();
    return 10;
  }, { args: ["i32"], returns: "i32" });
  const maker = new JSCallback((i) => {
    if (i === 1) {
      const extra = new JSCallback(() => 5, { args: ["i32"], returns: "i32" });
      made += call_n(extra, 2);
      extra.close();
    }
    return selfClosing_ptr_call(i);
  }, { args: ["i32"], returns: "i32" });
  const selfClosing_ptr = selfClosing.ptr;
  function selfClosing_ptr_call(i) {
    return call_ptr(selfClosing_ptr, i);
  }
  assert.equal(call_n(maker, 4), 10);
  assert.equal(made, 10);
  maker.close();
});

test("a callback that closes itself after many calls", () => {
  let calls = 0;
  const once = new JSCallback(() => {
    if (++calls === 200) once.close();
    return 1;
  }, { args: ["i32"], returns: "i32" });
  assert.equal(call_n(once, 200), 200);
});
