// Type tests for the rest of the API: cc, linkSymbols, CFunction,
// JSCallback, memory helpers, CString, viewSource, suffix, errno, FFIType.
import {
  cc,
  CFunction,
  CString,
  dlopen,
  errno,
  FFIType,
  GetLastError,
  JSCallback,
  linkSymbols,
  ptr,
  read,
  suffix,
  toArrayBuffer,
  toBuffer,
  viewSource,
  write,
} from "cffi-bun";
import type { MapOptions, Pointer } from "cffi-bun";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<A, B>(_proof: Equal<A, B>): void {}
function expectType<T>(_value: T): void {}

// FFIType: Bun's numbers, usable as values and as types.
expectType<5>(FFIType.i32);
expectType<number>(FFIType.int);
const t: FFIType = FFIType.cstring;
const n12: FFIType.ptr = FFIType.pointer;
expectType<FFIType>(FFIType.buffer_bytelength);
void t, n12;
// @ts-expect-error no such FFIType
FFIType.i128;

// cc(): the same inference as dlopen.
const compiled = cc({
  source: "int add(int a, int b) { return a + b; } const char *version(void) { return \"1\"; }",
  symbols: {
    add: { args: ["int", "int"], returns: "int" },
    version: { returns: "cstring" },
    hello: { args: [FFIType.napi_env], returns: FFIType.napi_value },
  },
  include: ["/usr/include"],
  library: "m",
  define: { NDEBUG: "1" },
  flags: ["-O2"],
});
assertType<ReturnType<typeof compiled.symbols.add>, number>(true);
assertType<ReturnType<typeof compiled.symbols.version>, string | null>(true);
assertType<typeof compiled.warnings, string[]>(true);
compiled.symbols.hello();
compiled.symbols.add(1, 2);
// @ts-expect-error too few arguments
compiled.symbols.add(1);
cc({ source: new URL("file:///tmp/a.c"), symbols: { f: {} } });
cc({ source: "int f(void) { return N; }", symbols: { f: {} }, define: { N: 3, DEBUG: true, EMPTY: "", ON: null }, cache: false, memoryLimit: 64e6, timeLimit: Infinity });
// @ts-expect-error a limit is a number of bytes, not a string
cc({ source: "int f(void) { return 1; }", symbols: { f: {} }, memoryLimit: "1GB" });
cc({ source: ["/tmp/a.c", new URL("file:///tmp/b.c")], symbols: { f: { returns: "void" } } });
// @ts-expect-error source is required
cc({ symbols: { f: {} } });
compiled.close();

// linkSymbols(): ptr is required.
const addr = compiled.symbols.add as unknown as Pointer;
const linked = linkSymbols({ add: { ptr: addr, args: ["i32", "i32"], returns: "i32" } });
assertType<ReturnType<typeof linked.symbols.add>, number>(true);
// @ts-expect-error a definition without ptr
linkSymbols({ add: { args: ["i32", "i32"], returns: "i32" } });

// CFunction(): a callable with close(), with or without `new`.
const add = CFunction({ ptr: addr, args: ["i32", "i32"], returns: "i32" });
assertType<ReturnType<typeof add>, number>(true);
add(1, 2);
add.close();
const add2 = new CFunction({ ptr: 123n, args: [FFIType.f64], returns: FFIType.f64 });
expectType<number>(add2(1.5));
// @ts-expect-error a string is not an f64
add2("1.5");

// JSCallback: arguments arrive as return values do; the result goes back as an argument.
const compare = new JSCallback(
  (a, b) => {
    assertType<typeof a, Pointer | null>(true);
    return read.i32(a!) - read.i32(b!);
  },
  { args: ["ptr", "ptr"], returns: "i32" },
);
expectType<Pointer | null>(compare.ptr);
expectType<boolean>(compare.threadsafe);
compare.close();
new JSCallback((s: string | null, big: bigint) => s?.length ?? Number(big), { args: ["cstring", "i64"], returns: "u32" });
// A callback may declare a narrower parameter (Pointer rather than Pointer | null).
new JSCallback((p: Pointer) => read.u8(p), { args: ["ptr"], returns: "u8", threadsafe: true });
// Loose callbacks are fine too.
new JSCallback((...args: any[]) => args.length, { args: ["i32", "i32"], returns: "i32" });
new JSCallback(() => {}, { returns: "void" });
{
  using scoped = new JSCallback(() => 1, { returns: "int" });
  expectType<Pointer | null>(scoped.ptr);
}
// @ts-expect-error the callback must return something an i32 accepts
new JSCallback(() => "no", { args: [], returns: "i32" });
// @ts-expect-error a cstring argument arrives as a string, not a number
new JSCallback((x: number) => x, { args: ["cstring"], returns: "i32" });
// The seed's spelling: CFunction(definition, fn) makes a callback.
const viaCFunction = new CFunction({ args: ["i32"], returns: "i32" }, (x) => x * 2);
expectType<Pointer | null>(viaCFunction.ptr);
viaCFunction.close();

// Memory helpers.
const bytes = new Uint8Array(16);
const p: Pointer = ptr(bytes);
ptr(bytes, 4);
ptr(new ArrayBuffer(8));
ptr(new DataView(new ArrayBuffer(8)));
// @ts-expect-error ptr() takes a view, not a number
ptr(123);
expectType<number>(read.u8(p));
expectType<number>(read.i32(p, 4));
expectType<number>(read.f64(p));
expectType<bigint>(read.u64(p));
expectType<bigint>(read.i64(p, 8));
expectType<number>(read.ptr(p));
expectType<number>(read.intptr(p));
expectType<string>(read.cstring16(p, 0, 4));
expectType<string>(read.wstring(p));
expectType<number>(write.cstring16(bytes, "x"));
// @ts-expect-error write.wstring stores a string
write.wstring(bytes, 1);
read.u8(123n);
// Views (bounds-checked) and BigInt addresses, as the runtime takes them.
expectType<number>(read.u8(bytes, 1));
expectType<number>(read.u16(new ArrayBuffer(4), 2));
expectType<number>(read.f32(new DataView(new ArrayBuffer(8)), 4));
expectType<bigint>(read.u64(new SharedArrayBuffer(8)));
expectType<number>(read.i32(new Int32Array(2), 4));
expectType<number>(read.ptr(BigInt(p), 8));
// @ts-expect-error read.u8 takes an address or a view, not a string
read.u8("0x1000");
expectType<number>(read.u8({ ptr: p }));
// @ts-expect-error nor an object without ptr
read.u8({ address: p });
write.u8(BigInt(p), 1, 2);
write.i16(new SharedArrayBuffer(4), -1, 2);
// @ts-expect-error read.i64 gives a bigint
const notNumber: number = read.i64(p);
void notNumber;
write.u8(p, 1);
write.i32(bytes, -1, 4);
write.f64(new Float64Array(2), 1.5, 8);
write.u64(new ArrayBuffer(8), 1n);
write.i64(new DataView(new ArrayBuffer(8)), -1n);
write.ptr(bytes, p, 8);
// @ts-expect-error write.u8 takes a number
write.u8(p, "1");

const ab: ArrayBuffer = toArrayBuffer(p, 0, 16);
toArrayBuffer(p);
toArrayBuffer(p, 0, 4, 0x1234n);
toArrayBuffer(p, 0, 4, null, p);
const buf: Buffer = toBuffer(p, 0, 4);
expectType<string>(buf.toString("hex"));
void ab;

const s = new CString(p);
expectType<string>(s.toString());
expectType<Pointer>(s.ptr);
expectType<number | undefined>(s.byteLength);
expectType<number | undefined>(new CString(p, 1, 2).byteOffset);
expectType<ArrayBuffer>(s.arrayBuffer);
const asString: string = s + "";
void asString;
// @ts-expect-error a CString is a String object, not a primitive string
const prim: string = s;
void prim;

// viewSource
expectType<string[]>(viewSource({ abs: { args: ["int"], returns: "int" } }));
expectType<string>(viewSource({ args: ["i32"], returns: "i32" }, true));

// suffix and errno
expectType<"so" | "dylib" | "dll">(suffix);
expectType<number>(errno());
expectType<(() => number) | undefined>(GetLastError);
if (GetLastError) expectType<number>(GetLastError());

// dlopen with the result of another call: a ptr return passes to a ptr argument.
const libc = dlopen(`libc.${suffix}.6`, {
  malloc: { args: ["usize"], returns: "ptr" },
  free: { args: ["ptr"], returns: "void" },
  memcpy: { args: ["ptr", "ptr", "usize"], returns: "ptr" },
});
const mem = libc.symbols.malloc(8);
libc.symbols.memcpy(mem, bytes, 8);
if (mem !== null) expectType<number>(read.u32(mem));
libc.symbols.free(mem);
libc.close();

// Callback arity and types come from the definition's tuple.
new JSCallback(
  (a, b, c) => {
    assertType<[typeof a, typeof b, typeof c], [number, bigint, string | null]>(true);
    return true;
  },
  { args: ["i32", "u64", "cstring"], returns: "bool" },
);

// Asynchronous calls (docs/async.md).
import { executor } from "cffi-bun";
import type { Executor } from "cffi-bun";
{
  const lib = dlopen("libasync.so", {
    add: { args: ["i32", "i32"], returns: "i32" },
    name: { returns: "cstring", nonblocking: true },
    nothing: {},
  });
  expectType<number>(lib.symbols.add(1, 2));
  expectType<Promise<number>>(lib.symbols.add.async(1, 2));
  expectType<Promise<string | null>>(lib.symbols.name());
  expectType<Promise<string | null>>(lib.symbols.name.async());
  expectType<Promise<undefined>>(lib.symbols.nothing.async());
  // @ts-expect-error async takes the same arguments
  void lib.symbols.add.async("x", 2);
  const ex: Executor = executor({ threads: 1 });
  expectType<Promise<number>>(ex.call(lib.symbols.add, 1, 2));
  expectType<number>(ex.callSync(lib.symbols.add, 1, 2));
  expectType<Promise<{ value: number; errno: number; lastError?: number }>>(ex.callWithErrno(lib.symbols.add, 1, 2));
  // @ts-expect-error an executor checks the arguments too
  void ex.call(lib.symbols.add, 1);
  // @ts-expect-error only bound functions
  void ex.call(Math.max, 1);
  expectType<number>(executor.shared.threads);
  executor.shared.setThreads(4);
  ex.close();
}

// abi (not in Bun): libffi's convention names, checked by name.
dlopen("user32.dll", { MessageBeep: { args: ["u32"], returns: "i32", abi: "stdcall" } });
// @ts-expect-error no such calling convention
dlopen("user32.dll", { MessageBeep: { args: ["u32"], returns: "i32", abi: "pascal" } });
// Batch calls (docs/batch.md).
import { batch } from "cffi-bun";
import type { Batch, BatchResults, BatchTypedResults } from "cffi-bun";
{
  const lib = dlopen("libm.so.6", {
    abs: { args: ["i32"], returns: "i32" },
    fabs: { args: ["f64"], returns: "f64" },
    big: { args: ["i64"], returns: "i64" },
    none: { args: [] },
  });
  const b: Batch = batch({ stopOn: "negative", errno: true });
  expectType<number>(b.add(lib.symbols.abs, -1));
  b.add(lib.symbols.abs, b.result(0));
  b.add(lib.symbols.abs, b.deref(new Int32Array(1), "i32"));
  const r: BatchResults = b.run();
  expectType<number | undefined>(r.stoppedAt);
  expectType<Promise<BatchResults>>(b.runAsync());
  const reused: unknown[] = [];
  expectType<unknown[] & BatchResults>(b.run({ into: reused }));
  expectType<BatchResults>(b.run({}));
  expectType<Int32Array & BatchTypedResults<Int32Array>>(b.run({ into: new Int32Array(3) }));
  expectType<BatchTypedResults>(b.run({ results: "typed" }));
  // @ts-expect-error an Array into takes no typed results
  b.run({ into: reused, results: "typed" });
  // @ts-expect-error a DataView is not a TypedArray
  b.run({ into: new DataView(new ArrayBuffer(8)) });
  b.clear();
  expectType<Int32Array>(lib.symbols.abs.map(2, new Int32Array(2)));
  expectType<Float64Array>(lib.symbols.fabs.map(2, 1.5));
  expectType<BigInt64Array>(lib.symbols.big.map(1, 1n));
  expectType<undefined>(lib.symbols.none.map(3));
  const into: MapOptions<{ args: ["i32"]; returns: "i32" }> = { into: new Int32Array(2) };
  expectType<Int32Array>(lib.symbols.abs.map(2, new Int32Array(2), into));
  expectType<Batch>(batch({ size: 1_000_000 }));
  // @ts-expect-error size is a number
  batch({ size: "1M" });
  // @ts-expect-error stopOn takes two words
  batch({ stopOn: "zero" });
}
