"use strict";
// Every JSCallback shape with a precompiled entry (src/callbacks/precompiled_callback.c):
// up to three arguments, each in an integer or a vector register, and a
// void, integer or float result. C calls each callback through its real
// prototype; the JS function must see the arguments C passed and C must get
// the value JS returned, with narrow types (u32, f32) at their edges.
const { test } = require("node:test");
const { ccUnavailable } = require("./helpers/platform.js");
if (ccUnavailable()) return void test("cc() is unavailable here", { skip: ccUnavailable() }, () => {});
const assert = require("node:assert/strict");
const { cc, JSCallback } = require("..");

const CLASSES = ["I", "F"];
const shapes = [[]];
for (let n = 1; n <= 3; n++) {
  const previous = shapes.filter((s) => s.length === n - 1);
  for (const s of previous) for (const c of CLASSES) shapes.push([...s, c]);
}
// Two type variants per shape: i32/f64, and u32/f32 (edges that a wrong
// widening or a wrong register would change).
const VARIANTS = [
  { I: { type: "i32", c: "int32_t", values: [-7, 2147483647, -2147483648] }, F: { type: "f64", c: "double", values: [0.1, -1e300, 2.5] } },
  { I: { type: "u32", c: "uint32_t", values: [4294967295, 1, 2147483648] }, F: { type: "f32", c: "float", values: [1.5, -0.25, 3.40282346638528859812e38] } },
];
const RESULTS = ["N", "I", "F"];

let source = "#include <stdint.h>\n";
const symbols = {};
const cases = [];
for (const shape of shapes) {
  for (const [v, variant] of VARIANTS.entries()) {
    for (const result of RESULTS) {
      const name = `call_${shape.join("") || "none"}_${result}_${v}`;
      const args = shape.map((c, i) => ({ ...variant[c], value: variant[c].values[i] }));
      const ret = result === "N" ? { type: "void", c: "void" } : { ...variant[result], value: variant[result].values[2 - (shape.length % 3)] };
      const params = args.map((a, i) => `${a.c} a${i}`).join(", ");
      source += `${ret.c} ${name}(${ret.c} (*f)(${args.map((a) => a.c).join(", ") || "void"})${params ? ", " + params : ""}) {\n`;
      source += `  ${ret.type === "void" ? "" : "return "}f(${args.map((_, i) => `a${i}`).join(", ")});\n}\n`;
      symbols[name] = { args: ["ptr", ...args.map((a) => a.type)], returns: ret.type };
      cases.push({ name, args, ret });
    }
  }
}

const lib = cc({ source, symbols });

test("every precompiled callback shape passes its arguments and result through", () => {
  try {
    for (const { name, args, ret } of cases) {
      let seen;
      const callback = new JSCallback((...received) => {
        seen = received;
        return ret.type === "void" ? undefined : ret.value;
      }, { args: args.map((a) => a.type), returns: ret.type });
      try {
        const got = lib.symbols[name](callback.ptr, ...args.map((a) => a.value));
        assert.deepEqual(seen, args.map((a) => a.value), `${name}: arguments`);
        if (ret.type === "void") assert.equal(got, undefined, name);
        else assert.equal(got, ret.value, `${name}: result`);
      } finally {
        callback.close();
      }
    }
  } finally {
    lib.close();
  }
});
