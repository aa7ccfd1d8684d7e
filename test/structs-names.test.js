"use strict";
// Field names JS treats specially or that a generated reader/maker must
// quote (src/types/struct_values.c): __proto__ is an own property of every
// result (plain objects, the generated maker's, T.read, views, callback
// arguments, out objects), never the prototype; constructor, numeric-like,
// quoted, backslashed and non-ASCII names convert both ways and inject
// nothing. C (test/fixture/packed.c) knows the fields by position.
const test = require("node:test");
const assert = require("node:assert/strict");
const { buildFixture } = require("./helpers/fixture.js");
const { struct, dlopen, out, JSCallback } = require("..");

const names = [
  "__proto__", "constructor", "toString", "hasOwnProperty", "0", "1e3", "-1", 'q"uote', "back\\slash", "new\nline",
  "tab\t", "\u2028", "ünïcode", "日本", "😀", '"]; throw new Error("injected"); //', "` + x + `", "${x}", "a.b", "</script>",
];
const file = buildFixture("packed.c");

function ownEntries(object) {
  return Object.getOwnPropertyNames(object).map((k) => [k, object[k]]).sort(([a], [b]) => (a < b ? -1 : 1));
}
function expectPlain(got, expected, what) {
  assert.equal(Object.getPrototypeOf(got), Object.prototype, `${what}: the prototype is Object.prototype`);
  assert.deepEqual(ownEntries(got), ownEntries(expected), what);
}
// An object with exactly these own properties (JSON.parse defines __proto__ as an own key).
const plain = (entries) => JSON.parse(JSON.stringify(Object.fromEntries(entries)));

for (const name of names) {
  test(`a field named ${JSON.stringify(name)}: calls, results, read/write, views, callbacks, out`, () => {
    const NI = struct([[name, "i32"], ["b", "f64"]]);
    const NO = struct([["in", NI], [name === "c" ? "d" : "c", "i32"]]);
    const other = NO.fields[1];
    // Before and after the layout's generated reader and maker exist (both paths).
    const lib = dlopen(file, {
      ni_twice: { args: [NI], returns: NI },
      no_twice: { args: [NO], returns: NO },
      call_ni: { args: ["function", "i32", "f64"], returns: "f64" },
      out_no: { args: [out(NO)] },
    });
    for (let round = 0; round < 3; round++) {
      const r = lib.symbols.ni_twice(plain([[name, 21], ["b", 0.5]]));
      expectPlain(r, plain([[name, 42], ["b", 1]]), `ni_twice round ${round}`);
      const n = lib.symbols.no_twice(plain([["in", plain([[name, -3], ["b", 2]])], [other, 4]]));
      expectPlain(n, plain([["in", plain([[name, -6], ["b", 4]])], [other, 8]]), `no_twice round ${round}`);
      expectPlain(n.in, plain([[name, -6], ["b", 4]]), `no_twice.in round ${round}`);
    }
    // The field missing is zero, a field of another name a TypeError naming it.
    expectPlain(lib.symbols.ni_twice({ b: 1 }), plain([[name, 0], ["b", 2]]), "missing");
    assert.throws(() => lib.symbols.ni_twice({ zz: 1 }), { name: "TypeError", message: /unknown field "zz"/ });
    // T.read / T.write and views.
    const buffer = new Uint8Array(NI.size);
    NI.write(buffer, plain([[name, 7], ["b", 1.5]]));
    expectPlain(NI.read(buffer), plain([[name, 7], ["b", 1.5]]), "read");
    const view = NI.view(buffer);
    assert.equal(view[name], 7);
    assert.ok(Object.prototype.hasOwnProperty.call(view, name), "a view's field is its own property");
    view[name] = 9;
    assert.equal(NI.read(buffer)[name], 9);
    // A callback's argument and result.
    let seen;
    const cb = new JSCallback((s) => ((seen = s), plain([[name, s[name] + 1], ["b", s.b]])), { args: [NI], returns: NI });
    assert.equal(lib.symbols.call_ni(cb, 5, 0.25), 6 + 2.5);
    expectPlain(seen, plain([[name, 5], ["b", 0.25]]), "callback argument");
    cb.close();
    // out(T) into an object fills its fields in as own properties; the prototype stays.
    const target = {};
    lib.symbols.out_no(target);
    assert.equal(Object.getPrototypeOf(target), Object.prototype);
    expectPlain(target.in, plain([[name, 1], ["b", 2]]), "out object");
    assert.equal(target[other], 3);
    const cell = [undefined];
    lib.symbols.out_no(cell);
    expectPlain(cell[0].in, plain([[name, 1], ["b", 2]]), "out [value]");
    lib.close();
  });
}
