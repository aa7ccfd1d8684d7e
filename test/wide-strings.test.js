"use strict";
// cstring16 and wstring (issue 19, the strings part; docs/api.md#wide-strings):
// arguments encoded from JS strings, results decoded, read.cstring16 /
// read.wstring, each checked by C (test/fixture/wide_strings.c), including
// lone surrogates, characters beyond the BMP, empty strings and NULL. Run
// here with the default engine and, in child processes, with the others.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { dlopen, FFIType, JSCallback, ptr, read, write, viewSource } = require("..");
const { buildFixture } = require("./helpers/fixture.js");
const { LIBC, isWindows, timeScale } = require("./helpers/platform.js");

const ENGINE = process.env.CFFI_BUN_ENGINE || "default";
const SAMPLE = "h\u00e9llo \u2713 \u{1F600}!"; // 11 UTF-16 units, 10 code points

const lib = dlopen(buildFixture("wide_strings.c"), {
  w_sizeof_wchar: { returns: "usize" },
  w_len: { args: ["wstring"], returns: "i64_fast" },
  w_copy: { args: ["ptr", "wstring"], returns: "wstring" },
  w_cmp: { args: ["wstring", "wstring"], returns: "i32" },
  w_unit: { args: ["wstring", "usize"], returns: "u32" },
  w_hello: { returns: "wstring" },
  w_empty: { returns: "wstring" },
  w_null: { returns: "wstring" },
  w_from_units: { args: ["u32", "u32", "u32", "u32"], returns: "wstring" },
  w_is_hello: { args: ["wstring"], returns: "i32" },
  u16_len: { args: ["cstring16"], returns: "i64_fast" },
  u16_unit: { args: ["cstring16", "usize"], returns: "u32" },
  u16_copy: { args: ["ptr", "cstring16"], returns: "cstring16" },
  u16_hello: { returns: "cstring16" },
  u16_empty: { returns: "cstring16" },
  u16_null: { returns: "cstring16" },
  u16_from_units: { args: ["u32", "u32", "u32"], returns: "cstring16" },
  u16_is_hello: { args: ["cstring16"], returns: "i32" },
});
const c = lib.symbols;
const WCHAR = Number(c.w_sizeof_wchar());
// JS string -> the code units wchar_t holds here.
const wideUnits = (s) => (WCHAR === 2 ? [...s].flatMap((ch) => [...Array(ch.length)].map((_, i) => ch.charCodeAt(i))) : [...s].map((ch) => ch.codePointAt(0)));

test(`${ENGINE}: FFIType has the new names beyond Bun's numbers, which stay Bun's`, () => {
  assert.equal(FFIType.cstring16, 22);
  assert.equal(FFIType.wstring, 23);
  assert.equal(FFIType.cstring, 14);
  assert.equal(FFIType.buffer_length, 21);
  assert.equal(FFIType["17"], 17);
  assert.equal(FFIType["22"], undefined); // Bun's numeric keys end at 17
  assert.equal(WCHAR, isWindows ? 2 : 4);
});

test(`${ENGINE}: wstring arguments reach wcslen/wcscmp as wchar_t strings`, () => {
  assert.equal(c.w_len(SAMPLE), WCHAR === 4 ? 10 : 11);
  assert.equal(c.w_is_hello(SAMPLE), 1);
  assert.equal(c.w_len(""), 0);
  assert.equal(c.w_len(null), -1);
  assert.ok(c.w_cmp("abc", "abd") < 0);
  assert.equal(c.w_cmp(SAMPLE, SAMPLE), 0);
  const units = wideUnits(SAMPLE);
  units.forEach((unit, i) => assert.equal(c.w_unit(SAMPLE, i), unit, `unit ${i}`));
  assert.equal(c.w_unit(SAMPLE, units.length), 0); // the terminator
});

test(`${ENGINE}: cstring16 arguments are the JS string's UTF-16 units, NUL-terminated`, () => {
  assert.equal(c.u16_len(SAMPLE), 11);
  assert.equal(c.u16_is_hello(SAMPLE), 1);
  assert.equal(c.u16_len(""), 0);
  assert.equal(c.u16_len(null), -1);
  for (let i = 0; i <= SAMPLE.length; i++) assert.equal(c.u16_unit(SAMPLE, i), i < SAMPLE.length ? SAMPLE.charCodeAt(i) : 0);
});

test(`${ENGINE}: results decode to JS strings; NULL is null; empty is ""`, () => {
  assert.equal(c.w_hello(), SAMPLE);
  assert.equal(c.u16_hello(), SAMPLE);
  assert.equal(c.w_empty(), "");
  assert.equal(c.u16_empty(), "");
  assert.equal(c.w_null(), null);
  assert.equal(c.u16_null(), null);
});

test(`${ENGINE}: lone surrogates go to C and back unchanged; wchar_t beyond U+10FFFF reads as U+FFFD`, () => {
  for (const s of ["\uD800", "\uDC00", "a\uD83D", "\uDE00b", "\uDE00\uD83D", "x\uD800\uD800y", `${SAMPLE}\uDFFF`]) {
    const dst = new Uint8Array((s.length + 1) * 4);
    assert.equal(c.w_copy(dst, s), s, JSON.stringify(s));
    assert.equal(c.u16_copy(dst, s), s, JSON.stringify(s));
    wideUnits(s).forEach((unit, i) => assert.equal(c.w_unit(s, i), unit));
  }
  assert.equal(c.w_unit("\uD800x", 0), 0xd800);
  assert.equal(c.u16_unit("\u{1F600}", 0), 0xd83d);
  assert.equal(c.u16_unit("\u{1F600}", 1), 0xde00);
  assert.equal(c.u16_from_units(0xd83d, 0xde00, 0xdc00), "\u{1F600}\uDC00");
  if (WCHAR === 4) {
    assert.equal(c.w_unit("\u{1F600}", 0), 0x1f600);
    assert.equal(c.w_unit("\u{10FFFF}", 0), 0x10ffff);
    assert.equal(c.w_from_units(0x1f600, 0xd800, 0x110000, 0xffffffff), "\u{1F600}\uD800\uFFFD\uFFFD");
  }
});

test(`${ENGINE}: long strings (beyond the call's stack scratch) and several in one call`, () => {
  const long = `${"\u00e9".repeat(3000)}\u{1F600}`;
  assert.equal(c.w_len(long), WCHAR === 4 ? 3001 : 3002);
  assert.equal(c.u16_len(long), 3002);
  const dst = new Uint8Array((long.length + 1) * 4);
  assert.equal(c.w_copy(dst, long), long);
  assert.equal(c.u16_copy(dst, long), long);
  assert.ok(c.w_cmp(long, `${long}x`) < 0);
  assert.ok(c.w_cmp("short", long) !== 0);
  for (let n = 0; n < 200; n += 7) assert.equal(c.w_cmp("a".repeat(n), "a".repeat(n)), 0); // scratch packing
});

test(`${ENGINE}: addresses and views are passed as they are (as for cstring)`, () => {
  const units = new (WCHAR === 4 ? Uint32Array : Uint16Array)([0x41, 0x42, 0]);
  assert.equal(c.w_len(units), 2);
  assert.equal(c.w_len(ptr(units)), 2);
  assert.equal(c.u16_len(new Uint16Array([0x41, 0])), 1);
  const dst = new Uint8Array(64);
  const result = c.w_copy(dst, "copied");
  assert.equal(result, "copied");
  assert.equal(read.wstring(ptr(dst)), "copied");
});

// Like read.u32 / write.u32 (and Bun's read.*), the wide strings take any address: write stores
// at an odd one, and read copies what is there to aligned memory before decoding it.
test(`${ENGINE}: read/write.cstring16 and read/write.wstring at unaligned addresses, in views and by address`, () => {
  for (const [name, unit] of [["cstring16", 2], ["wstring", WCHAR]]) {
    for (const offset of [1, 3, unit - 1 || 1]) {
      const bytes = new Uint8Array(64 + 600 * unit).fill(0xee);
      const units = name === "cstring16" ? SAMPLE.length : wideUnits(SAMPLE).length;
      assert.equal(write[name](bytes, SAMPLE, offset), (units + 1) * unit, "bytes written");
      assert.equal(read[name](bytes, offset), SAMPLE, `${name} in a view at +${offset}`);
      assert.equal(read[name](ptr(bytes) + offset), SAMPLE, `${name} by address at +${offset}`);
      assert.equal(read[name](ptr(bytes), offset, unit), "h", `${name} with byteLength at +${offset}`);
      // Longer than the stack copy: the heap one.
      const long = "\u00e9\u{1F600}".repeat(200);
      write[name](ptr(bytes) + offset, long);
      assert.equal(read[name](bytes, offset), long, `${name} (long) at +${offset}`);
      // The NUL must still be inside the view.
      const noNul = new Uint8Array(1 + 4 * unit).fill(0x41);
      assert.throws(() => read[name](noNul, 1), { name: "RangeError", message: new RegExp(`^read\\.${name}: no NUL terminator`) });
    }
  }
});

test(`${ENGINE}: read.cstring16 / read.wstring (ptr, byteOffset?, byteLength?)`, () => {
  const u16 = new Uint16Array([0x68, 0xd83d, 0xde00, 0xd800, 0x21, 0]);
  assert.equal(read.cstring16(ptr(u16)), "h\u{1F600}\uD800!");
  assert.equal(read.cstring16(ptr(u16), 2), "\u{1F600}\uD800!");
  assert.equal(read.cstring16(ptr(u16), 0, 6), "h\u{1F600}");
  assert.equal(read.cstring16(ptr(u16), 0, 0), "");
  assert.equal(read.cstring16(ptr(u16), 10), "");
  assert.throws(() => read.cstring16(ptr(u16), 0, 3), { name: "RangeError", message: /read\.cstring16: byteLength must be a multiple of 2/ });
  assert.throws(() => read.cstring16(0), { name: "TypeError", message: /read\.cstring16: refusing to access address 0x0 \(a NULL pointer\)/ });
  assert.throws(() => read.cstring16(), { name: "TypeError", message: /read\.cstring16\(ptr, byteOffset\?, byteLength\?\) expects a pointer/ });
  assert.throws(() => read.cstring16(ptr(u16), 0, -2), { name: "RangeError", message: /must not be negative/ });
  const wide = new (WCHAR === 4 ? Uint32Array : Uint16Array)([...wideUnits(SAMPLE), 0]);
  assert.equal(read.wstring(ptr(wide)), SAMPLE);
  assert.equal(read.wstring(ptr(wide), WCHAR, 2 * WCHAR), "\u00e9l");
  if (WCHAR === 4) assert.throws(() => read.wstring(ptr(wide), 0, 6), { name: "RangeError", message: /multiple of 4/ });
  if (WCHAR === 2) {
    // Windows: wchar_t is UTF-16, so wstring and cstring16 read the same units the same way.
    assert.equal(read.wstring(ptr(u16)), read.cstring16(ptr(u16)));
    assert.equal(read.wstring(ptr(u16), 2, 6), "\u{1F600}\uD800");
    assert.throws(() => read.wstring(ptr(u16), 0, 3), { name: "RangeError", message: /^read\.wstring: byteLength must be a multiple of 2/ });
  }
});

test(`${ENGINE}: read.* of a view is bounds-checked: the NUL must be inside it`, () => {
  const u16 = new Uint16Array([0x61, 0x62, 0, 0x63]);
  assert.equal(read.cstring16(u16), "ab");
  assert.equal(read.cstring16(u16, 2), "b");
  assert.equal(read.cstring16(u16, 4), "");
  assert.equal(read.cstring16(u16, 0, 8), "ab\0c");
  assert.throws(() => read.cstring16(u16, 6), { name: "RangeError", message: /read\.cstring16: no NUL terminator in the 2 bytes left in the view/ });
  assert.throws(() => read.cstring16(u16, 8), { name: "RangeError", message: /read\.cstring16: 2 bytes at offset 8 is outside the 8-byte view/ });
  assert.throws(() => read.cstring16(u16, 0, 10), { name: "RangeError", message: /10 bytes at offset 0 is outside the 8-byte view/ });
  // A view shorter than one wchar_t (3 bytes on Linux, 1 on Windows).
  assert.throws(() => read.wstring(new Uint8Array(WCHAR - 1)), {
    name: "RangeError",
    message: new RegExp(`^read\\.wstring: ${WCHAR} bytes at offset 0 is outside the ${WCHAR - 1}-byte view`),
  });
  assert.throws(() => read.wstring(new Uint8Array(WCHAR).fill(0x61)), {
    name: "RangeError",
    message: `read.wstring: no NUL terminator in the ${WCHAR} bytes left in the view`,
  });
  assert.throws(() => read.wstring("0x1000"), { name: "TypeError", message: /read\.wstring expects a pointer/ });
});

test(`${ENGINE}: write.cstring16 / write.wstring (target, string, byteOffset?) write the units and a NUL`, () => {
  const buf = new Uint8Array(64).fill(0xff);
  assert.equal(write.cstring16(buf, "h\u{1F600}"), 8);
  assert.deepEqual([...new Uint16Array(buf.buffer, 0, 4)], [0x68, 0xd83d, 0xde00, 0]);
  assert.equal(c.u16_len(buf), 3);
  assert.equal(write.wstring(buf, SAMPLE, 4), (wideUnits(SAMPLE).length + 1) * WCHAR);
  assert.equal(read.wstring(buf, 4), SAMPLE);
  assert.equal(c.w_is_hello(ptr(buf) + 4), 1);
  assert.equal(write.wstring(ptr(buf), ""), WCHAR);
  assert.equal(read.wstring(buf), "");
  assert.equal(write.cstring16(buf, "\uD800"), 4);
  assert.equal(read.cstring16(buf), "\uD800");
  assert.throws(() => write.cstring16(new Uint8Array(4), "ab"), { name: "RangeError", message: /write\.cstring16: 6 bytes at offset 0 is outside the 4-byte view/ });
  assert.throws(() => write.wstring(buf, 42), { name: "TypeError", message: "write.wstring: args[1] expects a string, received a number" });
  assert.throws(() => write.wstring(buf), { name: "TypeError", message: /write\.wstring\(target, value, byteOffset\?\) expects 2 arguments, received 1/ });
  assert.throws(() => write.cstring16(0, "x"), { name: "TypeError", message: /write\.cstring16: refusing to access address 0x0/ });
  assert.throws(() => write.cstring16(buf, "x", 63), { name: "RangeError", message: /at offset 63 is outside the 64-byte view/ });
  assert.throws(() => write.wstring(new Uint8Array(WCHAR), "a"), {
    name: "RangeError",
    message: new RegExp(`^write\\.wstring: ${2 * WCHAR} bytes at offset 0 is outside the ${WCHAR}-byte view`),
  });
  if (WCHAR === 2) {
    // Windows: write.wstring writes UTF-16, exactly what write.cstring16 writes.
    const a = new Uint8Array(16), b = new Uint8Array(16);
    assert.equal(write.wstring(a, "h\u{1F600}\uDC00"), write.cstring16(b, "h\u{1F600}\uDC00"));
    assert.deepEqual(a, b);
    assert.equal(c.w_len(a), 4);
  }
});

test(`${ENGINE}: wrong kinds name the symbol, the position and the type`, () => {
  assert.throws(() => c.w_len({}), { name: "TypeError", message: /^w_len: args\[0\] expects wstring \(a string or a number, BigInt, null, TypedArray/ });
  assert.throws(() => c.u16_len(true), { name: "TypeError", message: /^u16_len: args\[0\] expects cstring16 \(a string or .*\), received a boolean/ });
  assert.throws(() => c.u16_len(-1), { name: "TypeError", message: /^u16_len: args\[0\] expects cstring16/ });
  assert.throws(() => c.w_len(), { name: "TypeError", message: /^w_len: args\[0\] \(wstring\) is missing/ });
});

test(`${ENGINE}: JSCallback definitions refuse the wide string types, pointing at read.*`, () => {
  assert.throws(() => new JSCallback(() => {}, { args: ["wstring"] }), {
    name: "TypeError",
    message: 'JSCallback: wstring is not supported in callbacks (args[0]): declare "ptr" and read it with read.wstring(ptr)',
  });
  assert.throws(() => new JSCallback(() => "", { args: ["i32"], returns: "cstring16" }), {
    message: /^JSCallback: cstring16 is not supported in callbacks \(returns\)/,
  });
});

test(`${ENGINE}: a variadic wide call: swprintf with a wstring and an int`, () => {
  // msvcrt's swprintf has no count (pre-C99); _snwprintf is its C99-shaped one.
  const name = isWindows ? "_snwprintf" : "swprintf";
  const { symbols, close } = dlopen(LIBC, { [name]: { args: ["ptr", "usize", "wstring", "..."], returns: "i32" } });
  const buf = new Uint8Array(256);
  assert.equal(symbols[name].with("wstring", "i32")(buf, 64, "%ls=%d", "\u2713\u{1F600}", 42), WCHAR === 4 ? 5 : 6);
  assert.equal(read.wstring(ptr(buf)), "\u2713\u{1F600}=42");
  close();
});

test(`${ENGINE}: async calls encode on the JS thread and decode the result`, async () => {
  const long = "\u{1F600}".repeat(500);
  assert.deepEqual(await Promise.all([c.u16_len.async(SAMPLE), c.w_len.async(long), c.w_hello.async(), c.u16_null.async()]),
    [11, WCHAR === 4 ? 500 : 1000, SAMPLE, null]);
});

test(`${ENGINE}: viewSource names the conversions`, () => {
  const [source] = viewSource({ f: { args: ["cstring16", "wstring"], returns: "wstring" } });
  assert.match(source, /char16_t\*/);
  assert.match(source, /wchar_t\*/);
});

if (!process.env.CFFI_BUN_ENGINE) {
  for (const engine of ["ffi", "registers", "jit"]) {
    test(`CFFI_BUN_ENGINE=${engine}: the same tests`, { timeout: timeScale(60000) }, () => {
      const { NODE_TEST_CONTEXT, ...env } = process.env;
      const run = spawnSync(process.execPath, [path.join(__filename)], {
        env: { ...env, CFFI_BUN_ENGINE: engine },
        encoding: "utf8",
      });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^(?:# |ℹ )fail 0$/m); // TAP (Node 20) or spec (Node 26)
    });
  }
}
