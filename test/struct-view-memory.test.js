"use strict";
// A struct view over JS memory (T.view(buffer)) checks on every field read
// and write that its buffer still holds the field: once the ArrayBuffer is
// transferred (postMessage, structuredClone, buffer.transfer() to grow it)
// or a resizable one shrinks below the field, the access is a TypeError, as
// a TypedArray on it would read nothing. The view kept only the address, so
// it read and wrote the memory the transfer handed to the new owner (freed
// when that owner is collected: a use-after-free).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { struct, array } = require("..");

const Inner = struct({ x: "i32", y: "i32" });
const T = struct({ a: "i32", b: "f64", s: array("u8", 8), inner: Inner, pair: array(Inner, 2) });
const GONE = /^view: .*: the view's memory is no longer in its buffer \(detached, transferred or shrunk\)$/;

function gone(f, label) {
  assert.throws(f, (error) => {
    assert.equal(error.name, "TypeError", label);
    assert.match(error.message, GONE, label);
    return true;
  }, label);
}

test("every field of a view over a transferred buffer throws instead of reaching its old memory", () => {
  // ArrayBuffer.prototype.transfer: Node 21 and later.
  for (const how of typeof ArrayBuffer.prototype.transfer === "function" ? ["structuredClone", "transfer()"] : ["structuredClone"]) {
    for (const over of ["ArrayBuffer", "Uint8Array at an offset", "fresh (T.view())"]) {
      const u8 = new Uint8Array(T.size + 16);
      const v = over === "ArrayBuffer" ? T.view(u8.buffer) : over === "fresh (T.view())" ? T.view() : T.view(u8, 8);
      const inner = v.inner;
      const pairOne = v.pair[1];
      v.a = 5;
      inner.y = 6;
      pairOne.x = 7;
      assert.deepEqual([v.a, v.inner.y, v.pair[1].x], [5, 6, 7]);
      const buffer = over === "fresh (T.view())" ? v.buffer : u8.buffer;
      if (how === "structuredClone") structuredClone(buffer, { transfer: [buffer] });
      else buffer.transfer(buffer.byteLength * 2);
      const label = `${how}, ${over}`;
      gone(() => v.a, label);
      gone(() => { v.a = 1; }, label);
      gone(() => v.b, label);
      gone(() => v.s, label);
      gone(() => v.inner, label);
      gone(() => inner.y, label); // a nested view taken before
      gone(() => { inner.x = 1; }, label);
      gone(() => pairOne.x, label); // an element of an array of structs
      gone(() => v.pair, label);
    }
  }
});

test("a resizable buffer: fields past its new length throw, fields inside it still work, and work again after it grows", () => {
  const rab = new ArrayBuffer(64, { maxByteLength: 128 });
  const v = T.view(rab, 8);
  v.a = 3;
  v.pair[1].y = 9;
  rab.resize(8 + T.offsetof("b")); // a still inside, b onwards outside
  assert.equal(v.a, 3);
  v.a = 4;
  assert.equal(v.a, 4);
  gone(() => v.b, "b");
  gone(() => { v.b = 1; }, "b =");
  gone(() => v.pair, "pair");
  rab.resize(128);
  assert.equal(v.b, 0); // the grown bytes are zeroed
  assert.equal(v.pair[1].y, 0);
});

test("a getter that detaches the buffer while a struct field is converted: refused before the write", () => {
  const u8 = new Uint8Array(T.size);
  const v = T.view(u8);
  gone(() => { v.inner = { x: 1, get y() { structuredClone(u8.buffer, { transfer: [u8.buffer] }); return 2; } }; }, "getter");
});

test("views over addresses (not JS memory) are unchanged: no buffer to check", () => {
  const { ptr } = require("..");
  const u8 = new Uint8Array(T.size);
  const v = T.view(ptr(u8));
  v.a = 11;
  assert.equal(v.buffer, undefined);
  assert.equal(new Int32Array(u8.buffer)[0], 11);
});

test("a view over a transferred buffer given for an out() argument is refused before C writes it", (t) => {
  const { ccUnavailable } = require("./helpers/platform.js");
  if (ccUnavailable()) return t.skip(ccUnavailable());
  const { cc, out } = require("..");
  const { symbols: S } = cc({
    source: "typedef struct { int x, y; } P; void fill(P *p) { p->x = 0x41414141; p->y = 0x42424242; }",
    symbols: { fill: { args: [out(Inner)], returns: "void" } },
  });
  const u8 = new Uint8Array(Inner.size + 8);
  const v = Inner.view(u8, 8);
  S.fill(v);
  assert.deepEqual([v.x, v.y], [0x41414141, 0x42424242]);
  structuredClone(u8.buffer, { transfer: [u8.buffer] });
  assert.throws(() => S.fill(v), {
    name: "TypeError",
    message: /^fill: args\[0\]: the view's memory is no longer in its buffer \(detached, transferred or shrunk\)$/,
  });
});
