"use strict";
// Variadic calls (issue 20) compared with the same calls compiled by gcc
// (test/fixture/variadic.c), for whichever engine CFFI_BUN_ENGINE selects:
// test/variadic.test.js runs it in-process (the default engine) and as a
// child process per engine. Run directly, it runs its own tests.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { buildFixture } = require("./fixture.js");
const { LIBC, SNPRINTF, isWindows } = require("./platform.js");

function battery(label) {
  const { dlopen } = require("../..");
  const lib = dlopen(buildFixture("variadic.c"), {
    va_describe: { args: ["ptr", "usize", "ptr", "..."], returns: "i32" },
    va_weighted: { args: ["i32", "..."], returns: "f64" },
    va_after_float: { args: ["f32", "i32", "..."], returns: "f64" },
    va_report_al: { args: ["i32", "..."], returns: "i32" },
    ref_every_type: { args: ["ptr", "usize"], returns: "i32" },
    ref_wrapping: { args: ["ptr", "usize"], returns: "i32" },
    ref_many: { args: ["ptr", "usize"], returns: "i32" },
    ref_mixed: { args: ["ptr", "usize"], returns: "i32" },
    ref_weighted: { returns: "f64" },
    ref_after_float: { returns: "f64" },
  });
  const libc = dlopen(LIBC, { [SNPRINTF]: { args: ["ptr", "usize", "cstring", "..."], returns: "i32" } });
  // The same C function with its type codes as a JS string (cstring).
  const withString = dlopen(buildFixture("variadic.c"), {
    va_describe: { args: ["ptr", "usize", "cstring", "..."], returns: "i32" },
  }).symbols.va_describe;
  const { symbols: c } = lib;
  const snprintf = libc.symbols[SNPRINTF];
  // msvcrt's printf family lacks some C99 conversions (%hhd, %zu): the
  // libc rows compare the fixture's own callee there instead.
  const noC99Printf = isWindows && "msvcrt's _snprintf lacks C99 conversions (its own rows follow)";
  const text = (buf) => buf.toString("utf8", 0, buf.indexOf(0));
  const cstr = (s) => Buffer.from(`${s}\0`);
  // What gcc's call wrote, and its return value.
  const reference = (fn) => {
    const buf = Buffer.alloc(1024);
    return [fn(buf, buf.length), text(buf)];
  };

  test(`${label}: snprintf with every type at its limits, as gcc calls it`, { skip: noC99Printf }, () => {
    const format = "%hhd %hhu %hd %hu %d %u %lld %llu %lld %llu %.9g %.17g %g %p %s %c %d %d %zu";
    const call = snprintf.with("i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "i64_fast", "u64_fast",
      "f32", "f64", "f64", "ptr", "cstring", "char", "bool", "i8", "usize");
    const buf = Buffer.alloc(1024);
    const n = call(buf, buf.length, format, -128, 255, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n),
      2n ** 64n - 1n, -42, 9007199254740993n, 0.1, 1.7976931348623157e308, -0, 0x12345678, "text", 65, true, -1n, 4096);
    assert.deepEqual([n, text(buf)], reference(c.ref_every_type));
    assert.match(text(buf), /^-128 255 -32768 65535 -2147483648 4294967295 -9223372036854775808 18446744073709551615 /);
  });

  test(`${label}: tail values wrap to their declared type, then C's promotions apply (f32 rounds, then double)`, { skip: noC99Printf }, () => {
    const buf = Buffer.alloc(256);
    const n = snprintf.with("i8", "u16", "u32", "i64", "f32", "f32")(buf, 256, "%hhd %hu %u %lld %.9g %g",
      300, 70000, -1, 2n ** 64n - 1n, 3.4e38, 1e39);
    assert.deepEqual([n, text(buf)], reference(c.ref_wrapping));
    assert.equal(text(buf), "44 4464 4294967295 -1 3.39999995e+38 inf");
  });

  // Windows: msvcrt's own _snprintf, with its conversions, against gcc's call of it (test/fixture/variadic.c).
  const msvcrt = isWindows && dlopen(buildFixture("variadic.c"), {
    ref_msvcrt_every_type: { args: ["ptr", "usize"], returns: "i32" },
    ref_msvcrt_wrapping: { args: ["ptr", "usize"], returns: "i32" },
  }).symbols;
  const onlyWindows = !isWindows && "msvcrt's _snprintf: Windows only";

  test(`${label}: msvcrt's _snprintf with every type and 20 arguments (more than the registers), as gcc calls it`, { skip: onlyWindows }, () => {
    const format = "%hd %hu %hd %hu %d %u %I64d %I64u %I64d %I64u %.9g %.17g %g %p %s %c %d %d %Iu %hd %x %e";
    const call = snprintf.with("i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "i64_fast", "u64_fast",
      "f32", "f64", "f64", "ptr", "cstring", "char", "bool", "i8", "usize", "i16", "u32", "f64");
    const buf = Buffer.alloc(1024);
    const n = call(buf, buf.length, format, -128, 255, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n),
      2n ** 64n - 1n, -42, 9007199254740993n, 0.1, 1.7976931348623157e308, -0, 0x12345678, "text", 65, true, -1n, 4096,
      -2, 0xdeadbeef, 6.02214076e23);
    assert.deepEqual([n, text(buf)], reference(msvcrt.ref_msvcrt_every_type));
    assert.match(text(buf), /^-128 255 -32768 65535 -2147483648 4294967295 -9223372036854775808 18446744073709551615 -42 9007199254740993 0\.100000001 1\.7976931348623157e\+0?308 -0 0*12345678 text A 1 -1 4096 -2 deadbeef 6\.022141e\+0?23$/);
  });

  test(`${label}: msvcrt's _snprintf: tail values wrap to their declared type, then C's promotions apply`, { skip: onlyWindows }, () => {
    const buf = Buffer.alloc(256);
    const n = snprintf.with("i8", "u16", "u32", "i64", "f32", "f32")(buf, 256, "%d %hu %u %I64d %.9g %g",
      300, 70000, -1, 2n ** 64n - 1n, 3.4e38, 1e39);
    assert.deepEqual([n, text(buf)], reference(msvcrt.ref_msvcrt_wrapping));
    assert.match(text(buf), /^44 4464 4294967295 -1 3\.39999995e\+0?38 /);
  });

  test(`${label}: 20 doubles and 20 ints interleaved (more than the registers) arrive as va_arg reads them`, () => {
    const types = [], values = [];
    for (let i = 0; i < 20; i++) {
      types.push("f64", "i32");
      values.push(i + 0.5, i % 2 ? i * 1000 : -(i * 1000) - 1);
    }
    const buf = Buffer.alloc(1024);
    const n = c.va_describe.with(types)(buf, buf.length, cstr("di".repeat(20)), ...values);
    assert.deepEqual([n, text(buf)], reference(c.ref_many));
    assert.equal(n, 40);
  });

  test(`${label}: mixed integers, a BigInt beyond 2^53, pointers, strings and bool`, () => {
    const buf = Buffer.alloc(1024);
    const call = withString.with("i32", "i64", "u64", "f64", "ptr", "cstring", "u32", "bool", "i64");
    const n = call(buf, buf.length, "ilLdpsuil", -7, -9007199254740993n, 2n ** 64n - 1n, 1e-300, 0xdeadbeef,
      "mixed", 4000000000, false, -1n);
    assert.deepEqual([n, text(buf)], reference(c.ref_mixed));
  });

  test(`${label}: a double result, and a float fixed argument (not promoted) before the tail`, () => {
    const weights = [1.25, 2.5, 3.75, 5.0, 6.25, 7.5, 8.75, 10.0, 11.25, 12.5, 13.75, 15.0];
    assert.equal(c.va_weighted.with(...weights.map(() => "f64"))(12, ...weights), c.ref_weighted());
    assert.equal(c.va_after_float.with("i32", "i32", "i32")(0.5, 3, 10, 20, 30), c.ref_after_float());
    assert.equal(c.va_after_float(2, 0), 0); // an empty tail is a valid call
  });

  test(`${label}: x86-64 System V: %al bounds the vector registers used (0-8, at least as many as loaded)`, {
    skip: !(process.arch === "x64" && process.platform === "linux") && "the fixture's %al probe is ELF x86-64 assembly",
  }, () => {
    for (let doubles = 0; doubles <= 8; doubles++) {
      const values = Array.from({ length: doubles }, (_, i) => i + 0.25);
      const al = c.va_report_al.with(...values.map(() => "f64"), "i32")(doubles, ...values, 7);
      assert.ok(al >= doubles && al <= 8, `${doubles} doubles: %al = ${al}`);
    }
    assert.ok(c.va_report_al(0) <= 8);
  });

  test(`${label}: sym.async() of a with() callable: promotions, %al, and the argument count checked`, async () => {
    assert.equal(await c.va_weighted.with("f64", "f64", "f32").async(3, 1, 2, 0.1), 1 + 4 + 3 * Math.fround(0.1));
    if (process.arch === "x64" && process.platform === "linux") {
      const al = await c.va_report_al.with("f64", "f64", "i32").async(2, 1.5, 2.5, 7);
      assert.ok(al >= 2 && al <= 8, `%al = ${al}`);
    }
    await assert.rejects(async () => c.va_weighted.async(1, 2), { name: "TypeError", message: /^va_weighted is variadic: it takes 1 fixed argument, received 2/ });
  });

  test(`${label}: with() is cached per list of types (aliases and numbers included)`, () => {
    const a = snprintf.with("i32", "f64");
    assert.equal(snprintf.with("int", "double"), a);
    assert.equal(snprintf.with(["c_int", 9]), a);
    assert.notEqual(snprintf.with("f64", "i32"), a);
    assert.equal(a.length, 5);
    assert.equal(a.name, SNPRINTF);
  });

  test(`${label}: wrong counts and values name the symbol and the position counting fixed + tail`, () => {
    const buf = Buffer.alloc(64);
    assert.throws(() => snprintf(buf, 64, "%d", 1), {
      name: "TypeError",
      message: new RegExp(`^${SNPRINTF} is variadic: it takes 3 fixed arguments, received 4; declare the types of the variadic arguments with ${SNPRINTF}\\.with`),
    });
    const call = c.va_describe.with("i32");
    assert.throws(() => call(buf, 64, cstr("i"), 1, 2), {
      name: "TypeError",
      message: "va_describe.with(1 type): expected 4 arguments (3 fixed + 1 variadic), received 5; declare the types of every variadic argument in va_describe.with(...)",
    });
    assert.throws(() => call(buf, 64, cstr("i")), { name: "TypeError", message: /^va_describe: args\[3\] \(i32\) is missing/ });
    assert.throws(() => c.va_describe.with("i32", "f64")(buf, 64, cstr("id"), 1, "x"), {
      name: "TypeError",
      message: /^va_describe: args\[4\] expects f64 \(a number\), received a string/,
    });
    assert.throws(() => snprintf.with("i32", "foo"), { name: "TypeError", message: `Unknown type "foo" in args[4] of symbol "${SNPRINTF}" (see FFIType for the names)` });
  });

  test(`${label}: close() makes the with() callables and with() itself throw`, () => {
    const own = dlopen(buildFixture("variadic.c"), { va_weighted: { args: ["i32", "..."], returns: "f64" } });
    const call = own.symbols.va_weighted.with("f64");
    assert.equal(call(1, 2.5), 2.5);
    own.close();
    assert.throws(() => call(1, 2.5), { message: /^Cannot call "va_weighted": its library ".*" is closed/ });
    assert.throws(() => own.symbols.va_weighted.with("f64"), { message: /^Cannot call "va_weighted\.with": its library/ });
    assert.throws(() => own.symbols.va_weighted(0), { message: /^Cannot call "va_weighted"/ });
  });

  test(`${label}: a hot variadic callable keeps its results (the default engine's wrapper takes over)`, () => {
    const call = c.va_weighted.with("f64", "f64", "f64");
    for (let i = 0; i < 1500; i++) assert.equal(call(3, i, 0.5, -1), i + 1 - 3);
  });
}

module.exports = battery;
if (require.main === module) battery(`CFFI_BUN_ENGINE=${process.env.CFFI_BUN_ENGINE || "(default)"}`);
