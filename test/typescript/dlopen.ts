// Type tests for dlopen(): inference from args/returns in every spelling.
// Checked by `tsc --noEmit -p test/typescript` (test/typescript.test.js).
import { dlopen, FFIType, ptr, suffix, JSCallback, CString } from "cffi-bun";
import type { Pointer, Library } from "cffi-bun";

// Exact type equality, for asserting inferred types.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T>(_value: T): void {}
function assertType<A, B>(_proof: Equal<A, B>): void {}

const { symbols, close } = dlopen(`libc.${suffix}.6`, {
  abs: { args: ["int"], returns: "int" },
  labs: { args: [FFIType.i64], returns: FFIType.i64 },
  strlen: { args: ["cstring"], returns: "usize" },
  getpid: { args: [], returns: FFIType.i32 },
  getenv: { args: ["cstring"], returns: "cstring" },
  malloc: { args: ["usize"], returns: "ptr" },
  free: { args: ["void*"], returns: "void" },
  memset: { args: [FFIType.pointer, "c_int", "usize"], returns: "pointer" },
  strtol: { args: ["char*", "ptr", "int32_t"], returns: "i64_fast" },
  rand: {},
  srand: { args: ["u32"] },
  atof: { args: ["cstring"], returns: "double" },
  isalpha: { args: ["i32"], returns: "bool" },
  qsort: { args: ["ptr", "usize", "usize", "callback"], returns: "void" },
  toupper: { args: [5], returns: 5 },
  tolower: { args: ["5"], returns: "5" },
  llabs: { args: ["int64_t"], returns: "int64_t" },
  strtoull: { args: ["cstring", "ptr", "int"], returns: "u64_fast" },
  signal: { args: ["int", "fn"], returns: "function" },
  htons: { args: ["uint16_t"], returns: "uint16_t" },
  toascii: { args: ["c_uint"], returns: "uint32_t" },
  sqrtf: { args: ["float"], returns: "f32" },
  fabs: { args: ["f64"], returns: "f64" },
  isize_fn: { args: ["isize"], returns: "isize" },
  bytes: { args: ["buffer", "buffer_length"], returns: "buffer_bytelength" },
  bytes2: { args: ["buffer", "buffer_bytelength"], returns: "u8" },
  chars: { args: ["char", "i8", "uint8_t", "int8_t", "i16", "int16_t", "u16"], returns: "char" },
  withEnv: { args: ["napi_env", "napi_value"], returns: "napi_value" },
  trailingEnv: { args: ["i32", "napi_env"], returns: "i32" },
});

// Return types
expectType<number>(symbols.abs(-5));
assertType<ReturnType<typeof symbols.abs>, number>(true);
assertType<ReturnType<typeof symbols.labs>, bigint>(true);
assertType<ReturnType<typeof symbols.strlen>, bigint>(true);
assertType<ReturnType<typeof symbols.getpid>, number>(true);
assertType<ReturnType<typeof symbols.getenv>, string | null>(true);
assertType<ReturnType<typeof symbols.malloc>, Pointer | null>(true);
assertType<ReturnType<typeof symbols.free>, undefined>(true);
assertType<ReturnType<typeof symbols.memset>, Pointer | null>(true);
assertType<ReturnType<typeof symbols.strtol>, number | bigint>(true);
assertType<ReturnType<typeof symbols.rand>, undefined>(true);
assertType<ReturnType<typeof symbols.srand>, undefined>(true);
assertType<ReturnType<typeof symbols.atof>, number>(true);
assertType<ReturnType<typeof symbols.isalpha>, boolean>(true);
assertType<ReturnType<typeof symbols.toupper>, number>(true);
assertType<ReturnType<typeof symbols.tolower>, number>(true);
assertType<ReturnType<typeof symbols.llabs>, bigint>(true);
assertType<ReturnType<typeof symbols.strtoull>, number | bigint>(true);
assertType<ReturnType<typeof symbols.signal>, Pointer | null>(true);
assertType<ReturnType<typeof symbols.sqrtf>, number>(true);
assertType<ReturnType<typeof symbols.isize_fn>, bigint>(true);
assertType<ReturnType<typeof symbols.bytes>, number | bigint>(true);
assertType<ReturnType<typeof symbols.chars>, number>(true);
assertType<ReturnType<typeof symbols.withEnv>, unknown>(true);

// Parameter lists
assertType<Parameters<typeof symbols.getpid>, []>(true);
assertType<Parameters<typeof symbols.rand>, []>(true);
assertType<Parameters<typeof symbols.abs>, [number | bigint | boolean]>(true);
assertType<Parameters<typeof symbols.labs>, [number | bigint]>(true);

// Arguments: what the runtime accepts
symbols.abs(-5);
symbols.abs(5n);
symbols.abs(true);
symbols.labs(5);
symbols.labs(-5n);
symbols.strlen("hello");
symbols.strlen(Buffer.from("hello\0"));
symbols.strlen(ptr(new Uint8Array(4)));
symbols.strlen(null);
const p = symbols.malloc(16);
symbols.free(p);
symbols.free(new Uint8Array(8));
symbols.free(new ArrayBuffer(8));
symbols.free(new DataView(new ArrayBuffer(8)));
symbols.free(123n);
symbols.free({ ptr: ptr(new Uint8Array(1)) });
symbols.free(new CString(ptr(Buffer.from("x\0"))));
symbols.strtol(Buffer.from("42\0"), null, 10);
symbols.atof("1.5");
symbols.isalpha(65);
symbols.sqrtf(2);
symbols.bytes(new Uint8Array(4), new Uint8Array(4));
symbols.bytes2(new Float64Array(2), new ArrayBuffer(16));
symbols.chars(1, 2, 3, 4, 5, 6, 7);
symbols.withEnv(undefined, { any: "value" });
symbols.trailingEnv(1);
symbols.trailingEnv(1, undefined);
const cb = new JSCallback((a: Pointer, b: Pointer) => 0, { args: ["ptr", "ptr"], returns: "i32" });
symbols.qsort(new Int32Array(4), 4, 4, cb);
symbols.qsort(new Int32Array(4), 4, 4, cb.ptr);
symbols.signal(2, cb);

// A cstring return is a string (or null).
const home = symbols.getenv("HOME");
if (home !== null) expectType<string>(home.toUpperCase());

// --- negatives ---------------------------------------------------------------

// @ts-expect-error a string is not an i32
symbols.abs("5");
// @ts-expect-error too few arguments
symbols.abs();
// @ts-expect-error too many arguments (the runtime ignores extras; the types refuse them)
symbols.abs(1, 2);
// @ts-expect-error a cstring return is string | null, not a number
const n: number = symbols.getenv("HOME");
// @ts-expect-error no arithmetic on a cstring return
symbols.getenv("HOME") * 2;
// @ts-expect-error an i64 return is a bigint, not a number
const m: number = symbols.labs(5);
// @ts-expect-error an object is not a pointer
symbols.free({});
// @ts-expect-error a plain string is not a pointer (only cstring takes strings)
symbols.free("text");
// @ts-expect-error a boolean is not an i64
symbols.labs(true);
// @ts-expect-error a plain array is not a buffer
symbols.bytes([1, 2, 3], new Uint8Array(3));
// @ts-expect-error no such symbol
symbols.nope();
// @ts-expect-error void returns undefined, not a value
const v: number = symbols.free(null);
// @ts-expect-error getpid takes no arguments
symbols.getpid(1);

// @ts-expect-error an unknown type name
dlopen("libc.so.6", { abs: { args: ["i33"], returns: "int" } });
// @ts-expect-error an unknown FFIType number
dlopen("libc.so.6", { abs: { args: [42], returns: "int" } });

// URLs are accepted as paths.
dlopen(new URL("file:///lib/x86_64-linux-gnu/libc.so.6"), { abs: { args: ["int"], returns: "int" } }).close();

close();

// Library<Fns> is usable as a type.
const lib2: Library<{ abs: { args: ["int"]; returns: "int" } }> = dlopen("libc.so.6", {
  abs: { args: ["int"], returns: "int" },
});
lib2.symbols.abs(1);
void n, m, v;

// Bound functions carry their C address as .ptr, and pass as pointers.
const lib3 = dlopen("libc.so.6", {
  abs: { args: ["int"], returns: "int" },
  qsort: { args: ["ptr", "usize", "usize", "fn"], returns: "void" },
});
expectType<Pointer>(lib3.symbols.abs.ptr);
lib3.symbols.qsort(new Int32Array(2), 2, 4, lib3.symbols.abs);

// Variadic definitions: the symbol takes its fixed arguments; with() adds the tail.
const variadic = dlopen(`libc.${suffix}.6`, {
  printf: { args: ["cstring", "..."], returns: "i32" },
  snprintf: { args: ["ptr", "usize", "cstring", "..."], returns: "i32" },
});
expectType<number>(variadic.symbols.printf("plain\n"));
const printInt = variadic.symbols.printf.with("i32", "f64", "u64");
assertType<Parameters<typeof printInt>["length"], 4>(true);
// @ts-expect-error a string for an f64 tail argument
printInt("%d %g %llu\n", 1, "2.5", 3n);
expectType<number>(printInt("%d %g %llu\n", 1, 2.5, 3n));
expectType<number>(variadic.symbols.snprintf.with(["f64"])(null, 0, "%g", 1.5));
// @ts-expect-error the tail's arguments are required
printInt("%d\n", 1);
// @ts-expect-error a symbol that is not variadic has no with()
symbols.abs.with("i32");

// Wide strings (not in Bun): strings in, strings (or null) out.
const wide = dlopen(`libc.${suffix}.6`, {
  wcslen: { args: ["wstring"], returns: "usize" },
  wide_name: { args: [FFIType.cstring16], returns: "cstring16" },
});
expectType<bigint>(wide.symbols.wcslen("h\u00e9llo"));
expectType<string | null>(wide.symbols.wide_name("x"));
// @ts-expect-error a number is not a wide string
wide.symbols.wide_name(1.5 as unknown as boolean);
