// Type definitions for cffi-bun: Bun's `bun:ffi` API for Node.js.
//
// `dlopen()`, `cc()`, `linkSymbols()` and `CFunction()` read each symbol's
// `args` and `returns` (FFIType numbers, any of Bun's type names, or the
// numbers' strings) and type the resulting JS functions from them.
/// <reference types="node" />

// ---------------------------------------------------------------------------
// FFIType

/**
 * The C types, with Bun's numbering. Aliases share a number
 * (`FFIType.int === FFIType.i32 === 5`). At run time this is a frozen object
 * that also maps the numbers' strings to themselves (`FFIType["5"] === 5`).
 *
 * `FFIType.x` is also a type, e.g. in a hand-written
 * `interface Symbols { abs: { args: [FFIType.i32]; returns: FFIType.i32 } }`.
 */
export declare enum FFIType {
  /** `char`: a signed 8-bit integer. */
  char = 0,
  /** 8-bit signed integer (`int8_t`, `signed char`). */
  int8_t = 1,
  i8 = 1,
  /** 8-bit unsigned integer (`uint8_t`, `unsigned char`). */
  uint8_t = 2,
  u8 = 2,
  /** 16-bit signed integer (`int16_t`, `short`). */
  int16_t = 3,
  i16 = 3,
  /** 16-bit unsigned integer (`uint16_t`, `unsigned short`). */
  uint16_t = 4,
  u16 = 4,
  /** 32-bit signed integer (`int32_t`, `int`). */
  int32_t = 5,
  i32 = 5,
  int = 5,
  c_int = 5,
  /** 32-bit unsigned integer (`uint32_t`, `unsigned int`). */
  uint32_t = 6,
  u32 = 6,
  c_uint = 6,
  /** 64-bit signed integer; returned as a BigInt. */
  int64_t = 7,
  i64 = 7,
  /** `ssize_t`/`intptr_t`-sized signed integer (64-bit); returned as a BigInt. */
  isize = 7,
  /** 64-bit unsigned integer; returned as a BigInt. */
  uint64_t = 8,
  u64 = 8,
  /** `size_t`-sized unsigned integer (64-bit); returned as a BigInt. */
  usize = 8,
  /** `double`. */
  double = 9,
  f64 = 9,
  /** `float` (values round-trip through single precision). */
  float = 10,
  f32 = 10,
  /** `bool` / `_Bool`. */
  bool = 11,
  /** A pointer (`void*`): returned as a number, or `null` for NULL. */
  ptr = 12,
  pointer = 12,
  "void*" = 12,
  "char*" = 12,
  /** No value: only valid as a return type. */
  void = 13,
  /** A NUL-terminated UTF-8 string: returned as a JS string (or `null`); JS strings are accepted as arguments. */
  cstring = 14,
  /** 64-bit signed integer returned as a number when it is a safe integer, else a BigInt. */
  i64_fast = 15,
  /** 64-bit unsigned integer returned as a number when it is a safe integer, else a BigInt. */
  u64_fast = 16,
  /** A function pointer (a pointer or a {@link JSCallback}). */
  function = 17,
  callback = 17,
  fn = 17,
  /** The current `napi_env` (passed for you; it takes an ignored JS argument position). */
  napi_env = 18,
  /** A JS value passed to / returned from C as a `napi_value`. */
  napi_value = 19,
  /** A TypedArray or DataView, passed as its data pointer. */
  buffer = 20,
  /** A TypedArray, DataView, ArrayBuffer or SharedArrayBuffer, passed as its byte length (`size_t`). */
  buffer_length = 21,
  buffer_bytelength = 21,
  /** Not in Bun: a NUL-terminated UTF-16 string (`char16_t*`, Windows' W APIs): a JS string (or `null`) each way. */
  cstring16 = 22,
  /** Not in Bun: a NUL-terminated `wchar_t*` string (UTF-32 on Linux/macOS, UTF-16 on Windows): a JS string (or `null`) each way. */
  wstring = 23,
}

/** Every type name `dlopen` accepts, and the FFIType number it stands for. */
export interface FFITypeNames {
  char: 0;
  int8_t: 1;
  i8: 1;
  uint8_t: 2;
  u8: 2;
  int16_t: 3;
  i16: 3;
  uint16_t: 4;
  u16: 4;
  int32_t: 5;
  i32: 5;
  int: 5;
  c_int: 5;
  uint32_t: 6;
  u32: 6;
  c_uint: 6;
  int64_t: 7;
  i64: 7;
  isize: 7;
  uint64_t: 8;
  u64: 8;
  usize: 8;
  double: 9;
  f64: 9;
  float: 10;
  f32: 10;
  bool: 11;
  ptr: 12;
  pointer: 12;
  "void*": 12;
  "char*": 12;
  void: 13;
  cstring: 14;
  i64_fast: 15;
  u64_fast: 16;
  function: 17;
  callback: 17;
  fn: 17;
  napi_env: 18;
  napi_value: 19;
  buffer: 20;
  buffer_length: 21;
  buffer_bytelength: 21;
  cstring16: 22;
  wstring: 23;
}

/** A type as written in a definition: an FFIType number, a name, or a number's string ("5"). */
export type FFITypeOrString = FFIType | keyof FFITypeNames | `${FFIType}`;

/** The FFIType numbers, as plain number literal types. */
export type FFITypeId = FFITypeNames[keyof FFITypeNames];

/** The FFIType number a type spelling stands for (`"int"`, `FFIType.int`, `5` and `"5"` -> 5). */
export type ToFFIType<T> = T extends FFIType | keyof FFITypeNames | `${FFIType}`
  ? T extends keyof FFITypeNames
    ? FFITypeNames[T]
    : `${T & (string | number)}` extends `${infer N extends FFITypeId}`
      ? N
      : never
  : never;

// ---------------------------------------------------------------------------
// Values

/**
 * A memory address. At run time it is a plain number (addresses at or above
 * 2^53 come back as a BigInt); the brand only keeps arbitrary numbers from
 * being passed where a pointer is expected.
 */
export type Pointer = number & { __pointer__: null };

/** Any TypedArray (Uint8Array, Float64Array, Buffer, ...). */
export type TypedArray = NodeJS.TypedArray;

/** An address given as a raw value: what `read.*`, `toArrayBuffer`, `CString`... accept. */
export type Address = Pointer | number | bigint;

/** What a pointer-typed argument (`ptr`, `pointer`, `void*`, `char*`) accepts. */
export type PointerArg =
  | TypedArray
  | ArrayBuffer
  | SharedArrayBuffer
  | DataView
  | Pointer
  | bigint
  | null
  | { readonly ptr: Pointer | bigint };

/** What a function-pointer argument (`function`, `callback`, `fn`) accepts. */
export type FunctionPointerArg = Pointer | bigint | null | JSCallback | { readonly ptr: Pointer | bigint };

/** JS argument type for each FFIType number. */
export interface FFITypeToArgsType {
  0: number | bigint | boolean;
  1: number | bigint | boolean;
  2: number | bigint | boolean;
  3: number | bigint | boolean;
  4: number | bigint | boolean;
  5: number | bigint | boolean;
  6: number | bigint | boolean;
  7: number | bigint;
  8: number | bigint;
  9: number | bigint;
  10: number | bigint;
  /** Tested for truthiness. */
  11: boolean | number | bigint | null | undefined;
  12: PointerArg;
  13: never;
  14: PointerArg | string;
  15: number | bigint;
  16: number | bigint;
  17: FunctionPointerArg;
  /** Ignored: the current env is passed. */
  18: unknown;
  19: unknown;
  20: TypedArray | DataView;
  21: TypedArray | DataView | ArrayBuffer | SharedArrayBuffer;
  22: PointerArg | string;
  23: PointerArg | string;
}

/** JS return type for each FFIType number. */
export interface FFITypeToReturnsType {
  0: number;
  1: number;
  2: number;
  3: number;
  4: number;
  5: number;
  6: number;
  7: bigint;
  8: bigint;
  9: number;
  10: number;
  11: boolean;
  12: Pointer | null;
  13: undefined;
  14: string | null;
  15: number | bigint;
  16: number | bigint;
  17: Pointer | null;
  18: never;
  19: unknown;
  20: Pointer | null;
  21: number | bigint;
  22: string | null;
  23: string | null;
}

/** The JS type an argument of type `T` (any spelling, or a struct/union/out type) accepts. */
export type FFIArgType<T> = T extends LayoutType ? LayoutArgType<T> : FFITypeToArgsType[ToFFIType<T>];
/** The JS type a function returning `T` (any spelling, or a struct/union type) gives back. */
export type FFIReturnType<T> = T extends StructType<infer F> ? StructValue<F> : T extends ForeignStructDefinition ? Record<string, unknown> : FFITypeToReturnsType[ToFFIType<T>];

// ---------------------------------------------------------------------------
// Definitions and libraries

/** How one C function is described: `{ args, returns }` (both optional). */
export interface FFIFunction {
  /** Argument types; default: no arguments. A last element `"..."` makes the function variadic (see `VariadicWith`). */
  readonly args?: readonly (FFITypeOrString | StructType<any> | OutType<any> | ForeignStructDefinition | "...")[];
  /** Return type; default: `void`. */
  readonly returns?: FFITypeOrString | StructType<any> | ForeignStructDefinition;
  /** Not in Bun: how a struct result reaches JS (docs/structs.md); default `"object"`. */
  readonly returnsAs?: "object" | "view" | "bytes";
  /** The function's address (required by `linkSymbols` and `CFunction`; with `dlopen` it replaces the lookup by name). */
  readonly ptr?: Pointer | bigint | number;
  /** For JSCallback: may C call it from other threads? */
  readonly threadsafe?: boolean;
  /** Not in Bun (Deno's spelling): the plain call runs on the shared pool and returns a Promise (docs/async.md). */
  readonly nonblocking?: boolean;
  /**
   * Not in Bun: the calling convention (libffi's names); default `"default"`. Each platform
   * accepts its own (docs/api.md); on Windows x64 `stdcall`, `fastcall` and `thiscall` mean
   * the one x64 convention.
   */
  readonly abi?: "default" | "sysv" | "unix64" | "win64" | "stdcall" | "fastcall" | "thiscall" | "cdecl";
}

/** A map of symbol names to definitions. */
export type Symbols = Readonly<Record<string, FFIFunction>>;

type AnyFunction = (...args: any[]) => any;

/**
 * What `dlopen<Fns>` accepts as `Fns`: an object type (an interface works as
 * well as a type alias) whose members are definitions or, written by hand,
 * the JS function types themselves.
 */
export type SymbolsShape<Fns> = { readonly [K in keyof Fns]: FFIFunction | AnyFunction };

// A tuple type with napi_env elements at the end made optional (their JS
// argument positions are ignored; the runtime does not require them).
type TrailingEnvOptional<A extends readonly unknown[]> = A extends readonly [...infer Head, infer Last]
  ? // (a struct or out type has no FFIType number: never, which would pass for 18)
    Last extends FFITypeOrString
    ? ToFFIType<Last> extends 18
      ? [...TrailingEnvOptional<Head>, env?: unknown]
      : { -readonly [I in keyof A]: FFIArgType<A[I]> }
    : { -readonly [I in keyof A]: FFIArgType<A[I]> }
  : { -readonly [I in keyof A]: FFIArgType<A[I]> };

/** The JS parameter list for an `args` array (a tuple gives exact arity; a variadic one, its fixed part). */
export type ArgsOf<A> = A extends readonly [...infer Fixed, "..."]
  ? ArgsOf<Fixed>
  : A extends readonly unknown[]
  ? number extends A["length"]
    ? FFIArgType<A[number]>[]
    : TrailingEnvOptional<A>
  : [];

/** The JS return type for a `returns` type (none or `undefined` means void). */
export type ReturnsOf<R> = [unknown] extends [R] ? undefined : [R] extends [undefined] ? undefined : FFIReturnType<Exclude<R, undefined>>;

/** The synchronous JS function for one definition. */
export type SyncConvertFn<D> = D extends AnyFunction
  ? D
  : D extends { readonly args?: infer A; readonly returns?: infer R }
    ? (...args: ArgsOf<Exclude<A, undefined>>) => StructResultAs<D, R>
    : (...args: unknown[]) => unknown;

/** The same parameters, giving a Promise of the result (docs/async.md). */
export type AsyncFn<F> = F extends (...args: infer P) => infer R ? (...args: P) => Promise<Awaited<R>> : never;

/** The JS function for one definition (a Promise-returning one for `nonblocking: true`). */
export type ConvertFn<D> = D extends { readonly nonblocking: true } ? AsyncFn<SyncConvertFn<D>> : SyncConvertFn<D>;

// returnsAs: a struct result as a view or its bytes instead of a plain object.
type StructResultAs<D, R> = D extends { readonly returnsAs: "view" }
  ? R extends StructType<infer F> ? StructView<F> : ReturnsOf<R>
  : D extends { readonly returnsAs: "bytes" }
    ? R extends StructType<any> ? Uint8Array : ReturnsOf<R>
    : ReturnsOf<R>;

/** A bound C function: callable, with the C function's address as `ptr`. */
export type BoundFunction<D> = ConvertFn<D> & {
  /** The C function's address (it can be passed where a `function` or `ptr` argument is expected). */
  readonly ptr: Pointer;
  /** Not in Bun: the call on the shared pool, as a Promise of its result (docs/async.md). */
  readonly async: AsyncFn<SyncConvertFn<D>>;
  /**
   * Not in Bun: `n` calls for one crossing (docs/batch.md). Each argument is a
   * TypedArray of exactly `n` elements of the argument's type (one per call)
   * or a single value for every call; the results come in a TypedArray of
   * the return type (undefined for void). A last argument `{ into }`
   * ({@link MapOptions}) gives the array to store them in, and map returns it.
   */
  readonly map: (n: number, ...args: unknown[]) => MapResult<D>;
} & VariadicWith<D>;

/**
 * For a definition whose `args` end in `"..."`: `with(...types)` gives the
 * callable for one list of variadic argument types (cached per list), taking
 * the fixed arguments and then those (docs/variadic.md).
 */
export type VariadicWith<D> = D extends { readonly args?: infer A; readonly returns?: infer R }
  ? Exclude<A, undefined> extends readonly [...infer Fixed, "..."]
    ? {
        with<const T extends readonly FFITypeOrString[]>(...types: T): BoundFunction<{ args: [...Fixed, ...T]; returns: R }>;
        with<const T extends readonly FFITypeOrString[]>(types: T): BoundFunction<{ args: [...Fixed, ...T]; returns: R }>;
      }
    : unknown
  : unknown;

type MapResultOf<R> = R extends "i8" | "int8_t" | "char" | 1 | 0
  ? Int8Array
  : R extends "u8" | "uint8_t" | "bool" | 2 | 11
    ? Uint8Array
    : R extends "i16" | "int16_t" | 3
      ? Int16Array
      : R extends "u16" | "uint16_t" | 4
        ? Uint16Array
        : R extends "i32" | "int" | "int32_t" | 5
          ? Int32Array
          : R extends "u32" | "uint32_t" | 6
            ? Uint32Array
            : R extends "i64" | "int64_t" | "i64_fast" | 7 | 15
              ? BigInt64Array
              : R extends "u64" | "uint64_t" | "u64_fast" | "ptr" | "pointer" | 8 | 16 | 12
                ? BigUint64Array
                : R extends "f32" | "float" | 10
                  ? Float32Array
                  : R extends "f64" | "double" | 9
                    ? Float64Array
                    : R extends "void" | 13
                      ? undefined
                      : Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array | undefined;
/** `sym.map(n, ...args, { into })`: the results go into `into` (exactly `n` elements of the result's TypedArray kind), which is returned. */
export interface MapOptions<D = unknown> {
  into?: MapResult<D>;
}
/** What `sym.map` returns for a definition. */
export type MapResult<D> = D extends { readonly returns: infer R } ? MapResultOf<R> : D extends { readonly returns?: undefined } ? undefined : ReturnType<Extract<D, AnyFunction>> extends void ? undefined : MapResultOf<unknown>;

/** The `symbols` object of a library: one JS function per definition. */
export type ConvertFns<Fns> = { [K in keyof Fns]: BoundFunction<Fns[K]> };

/** What `dlopen()`, `cc()` and `linkSymbols()` return. */
export interface Library<Fns> {
  /** The bound functions, by name. */
  symbols: ConvertFns<Fns>;
  /**
   * Unloads the library. Its functions throw afterwards; calling `close()`
   * twice is harmless. It is bound, so `const { close } = lib` works.
   */
  close(): void;
}

// Defer inference to the other parameters (a TypeScript < 5.4 `NoInfer`).
type NoInference<T> = [T][T extends any ? 0 : never];

// For `dlopen<Hand written>(...)`: each definition may spell its types in any
// of the accepted ways; members written as function types take any definition.
type AnySpelling<N> = N extends FFITypeId ? SpellingsOf<N> : never;
type SpellingsOf<N> =
  | { [S in keyof FFITypeNames]: FFITypeNames[S] extends N ? S : never }[keyof FFITypeNames]
  | Extract<FFIType, N>
  | `${N & number}`;
type ArgSpellings<A> = A extends readonly unknown[] ? { readonly [I in keyof A]: AnySpelling<ToFFIType<A[I]>> } : A;
type LooseDefinition<D> = D extends AnyFunction
  ? FFIFunction
  : {
      readonly [P in keyof D]: P extends "args"
        ? ArgSpellings<D[P]> | D[P]
        : P extends "returns"
          ? AnySpelling<ToFFIType<D[P]>> | D[P]
          : D[P];
    };
type LooseDefinitions<Fns> = { readonly [K in keyof Fns]: LooseDefinition<Fns[K]> };

/**
 * Opens a shared library and binds the listed symbols.
 *
 * @param path a library name found by the system loader (`"libc.so.6"`),
 *   a relative or absolute path, or a `file:` URL.
 * @param symbols symbol name to `{ args, returns }`.
 *
 * @example
 * ```ts
 * const { symbols, close } = dlopen(`libc.${suffix}.6`, {
 *   abs: { args: ["int"], returns: "int" },
 *   strlen: { args: [FFIType.cstring], returns: FFIType.usize },
 * });
 * symbols.abs(-5);       // number
 * symbols.strlen("hi");  // bigint
 * ```
 */
export declare function dlopen<const Fns extends SymbolsShape<Fns>>(path: string | URL, symbols: Fns, options?: DlopenOptions | null): Library<Fns>;
/**
 * The explicit form, `dlopen<LibSymbols>(path, {...})`, with a hand-written
 * type: its members are definitions (types spelled any way) or JS function
 * types.
 */
export declare function dlopen<Fns extends SymbolsShape<Fns> = never>(
  path: string | URL,
  symbols: NoInference<LooseDefinitions<Fns>>,
  options?: DlopenOptions | null,
): Library<Fns>;

/** dlopen's third argument (not in Bun). */
export interface DlopenOptions {
  /**
   * glibc: whether the library binds to its own dependencies before the
   * process's symbols (RTLD_DEEPBIND). The node binary exports its own zlib,
   * OpenSSL, libuv...; without it, a system library would call those. Default:
   * on, unless CFFI_BUN_DEEPBIND=0, a sanitizer runtime is loaded, or an
   * LD_PRELOADed object replaces malloc. Ignored elsewhere.
   */
  readonly deepBind?: boolean;
}

/** Options of {@link cc}. */
export interface CCOptions<Fns> {
  /** C source: inline code or a path/`file:` URL to a `.c` file, or several of them. */
  source: string | URL | ReadonlyArray<string | URL>;
  /** Symbol name to `{ args, returns }`, as for `dlopen`. */
  symbols: Fns;
  /** Include directories (`-I`). */
  include?: string | readonly string[];
  /** Libraries to link against (`-l`), e.g. `["m"]` or `"sqlite3"`. */
  library?: string | readonly string[];
  /** Macros to define (`-D`): name to value. Numbers as written, `true` is 1,
   * `false` 0, `""` defined empty, `null`/`undefined` 1 (Bun: strings only). */
  define?: Readonly<Record<string, string | number | boolean | null | undefined>>;
  /** Extra compiler flags. */
  flags?: string | readonly string[];
  /** `false` skips the compile cache for this call (not in Bun). */
  cache?: boolean;
  /** Bytes TinyCC may hold at once for this compile: default 2 GiB, `Infinity`
   * for no limit (not in Bun; docs/cc.md, Limits). */
  memoryLimit?: number;
  /** Milliseconds the compile may run: default 60000, `Infinity` for no limit
   * (not in Bun; docs/cc.md, Limits). */
  timeLimit?: number;
}

/**
 * Compiles C with TinyCC and binds the listed symbols, like {@link dlopen}.
 */
/** What `cc()` returns: a library whose `warnings` lists TinyCC's warnings
 * (empty when there were none, and on a cache hit, which runs no compiler). */
export interface CompiledLibrary<Fns> extends Library<Fns> {
  warnings: string[];
}

export declare function cc<const Fns extends SymbolsShape<Fns>>(options: CCOptions<Fns>): CompiledLibrary<Fns>;

/** A definition with the function's address: what `linkSymbols` and `CFunction` need. */
export type FFIFunctionWithPtr = FFIFunction & { readonly ptr: Pointer | bigint | number };

/** Binds functions that are already loaded, by address (`{ name: { ptr, args, returns } }`). */
export declare function linkSymbols<const Fns extends { readonly [K in keyof Fns]: FFIFunctionWithPtr }>(
  symbols: Fns,
): Library<Fns>;

/** A function made by `CFunction({ ptr, args, returns })`. */
export type CFunctionResult<D> = ConvertFn<D> & {
  /** Releases the wrapper; calling it afterwards throws. */
  close(): void;
};

/**
 * `CFunction({ ptr, args, returns })` turns a function pointer into a JS
 * function (with `close()`); `new` is optional. With a JS function as the
 * second argument it makes a callback instead, like {@link JSCallback}.
 */
export declare const CFunction: {
  <const D extends FFIFunctionWithPtr>(definition: D): CFunctionResult<D>;
  new <const D extends FFIFunctionWithPtr>(definition: D): CFunctionResult<D>;
  <const D extends FFIFunction>(definition: D, callback: CallbackFunction<D>): JSCallback<D>;
  new <const D extends FFIFunction>(definition: D, callback: CallbackFunction<D>): JSCallback<D>;
};

// ---------------------------------------------------------------------------
// Callbacks

// C calls the JS function: its arguments arrive converted like return values,
// and what it returns is converted like an argument.
type CallbackArgsOf<A> = A extends readonly unknown[]
  ? number extends A["length"]
    ? FFIReturnType<A[number]>[]
    : { -readonly [I in keyof A]: FFIReturnType<A[I]> }
  : [];
type CallbackReturnOf<R> = [unknown] extends [R]
  ? unknown
  : [R] extends [undefined]
  ? unknown
  : ToFFIType<Exclude<R, undefined>> extends 13
    ? unknown
    : FFIArgType<Exclude<R, undefined>>;

/** The JS function type a callback with definition `D` expects. */
export type CallbackFunction<D> = D extends { readonly args?: infer A; readonly returns?: infer R }
  ? {
      // A method, so its parameters are checked bivariantly: a callback may
      // declare a narrower parameter (e.g. `Pointer` for `Pointer | null`).
      bivarianceHack(...args: CallbackArgsOf<Exclude<A, undefined>>): CallbackReturnOf<R>;
    }["bivarianceHack"]
  : (...args: any[]) => any;

/**
 * A C function pointer that calls a JS function.
 *
 * @example
 * ```ts
 * const compare = new JSCallback((a: Pointer, b: Pointer) => read.i32(a) - read.i32(b), {
 *   args: ["ptr", "ptr"],
 *   returns: "i32",
 * });
 * qsort(buf, n, 4, compare);
 * compare.close();
 * ```
 */
export declare class JSCallback<const D extends FFIFunction = FFIFunction> {
  constructor(callback: CallbackFunction<D>, definition: D & { readonly threadsafe?: boolean });
  /** The C function pointer; `null` after `close()`. */
  readonly ptr: Pointer | null;
  /** Whether C may call it from any thread. */
  readonly threadsafe: boolean;
  /** Frees the callback (its `ptr` becomes `null`); calling it twice is harmless. */
  close(): void;
  [Symbol.dispose](): void;
}

// ---------------------------------------------------------------------------
// Memory

/** Where `read.*` loads from: an address (number, BigInt, `Pointer`, an object's `ptr`), or a view (bounds-checked). */
export type MemorySource = Address | TypedArray | ArrayBuffer | SharedArrayBuffer | DataView | { readonly ptr: Pointer | bigint };

/** Reads a value at `ptr + byteOffset` (like DataView, little-endian host order). */
export declare const read: {
  readonly u8: (source: MemorySource, byteOffset?: number) => number;
  readonly i8: (source: MemorySource, byteOffset?: number) => number;
  readonly u16: (source: MemorySource, byteOffset?: number) => number;
  readonly i16: (source: MemorySource, byteOffset?: number) => number;
  readonly u32: (source: MemorySource, byteOffset?: number) => number;
  readonly i32: (source: MemorySource, byteOffset?: number) => number;
  readonly f32: (source: MemorySource, byteOffset?: number) => number;
  readonly f64: (source: MemorySource, byteOffset?: number) => number;
  readonly u64: (source: MemorySource, byteOffset?: number) => bigint;
  readonly i64: (source: MemorySource, byteOffset?: number) => bigint;
  /** A pointer-sized unsigned value (an address). */
  readonly ptr: (source: MemorySource, byteOffset?: number) => number;
  /** A pointer-sized signed value. */
  readonly intptr: (source: MemorySource, byteOffset?: number) => number;
  /** Not in Bun: a copy of the NUL-terminated UTF-16 string at `ptr + byteOffset`, or of `byteLength` bytes. */
  readonly cstring16: (ptr: Address | TypedArray | ArrayBuffer | DataView, byteOffset?: number, byteLength?: number) => string;
  /** Not in Bun: the same for a `wchar_t` string (4-byte units on Linux/macOS, 2 on Windows). */
  readonly wstring: (ptr: Address | TypedArray | ArrayBuffer | DataView, byteOffset?: number, byteLength?: number) => string;
};

/** Where `write.*` stores: the same as `read.*` takes. */
export type WriteTarget = MemorySource;

/** Stores a value at `target + byteOffset` (not in Bun). */
export declare const write: {
  readonly u8: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly i8: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly u16: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly i16: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly u32: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly i32: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly f32: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly f64: (target: WriteTarget, value: number, byteOffset?: number) => void;
  readonly u64: (target: WriteTarget, value: bigint | number, byteOffset?: number) => void;
  readonly i64: (target: WriteTarget, value: bigint | number, byteOffset?: number) => void;
  readonly ptr: (target: WriteTarget, value: Address | null, byteOffset?: number) => void;
  readonly intptr: (target: WriteTarget, value: number | bigint, byteOffset?: number) => void;
  /** Not in Bun: stores the string's UTF-16 units and a NUL; returns the bytes written. */
  readonly cstring16: (target: WriteTarget, value: string, byteOffset?: number) => number;
  /** Not in Bun: the same as `wchar_t` units (4 bytes on Linux/macOS, 2 on Windows). */
  readonly wstring: (target: WriteTarget, value: string, byteOffset?: number) => number;
};

/**
 * The address of a view's data (plus `byteOffset`). The view is kept alive
 * until the event loop turns (the 64 most recent), so
 * `f(ptr(new TextEncoder().encode(s)))` is safe; keep a reference to it for
 * anything longer.
 */
export declare function ptr(view: TypedArray | ArrayBufferLike | DataView, byteOffset?: number): Pointer;

/**
 * An ArrayBuffer over foreign memory (no copy). Without `byteLength`, it runs
 * to the first NUL byte. With a deallocator (a C function pointer), it is
 * called as `deallocator(bytes, context)` when the buffer is collected.
 */
export declare function toArrayBuffer(
  ptr: Address,
  byteOffset?: number,
  byteLength?: number,
  deallocator?: Address | JSCallback | null,
): ArrayBuffer;
export declare function toArrayBuffer(
  ptr: Address,
  byteOffset: number | undefined,
  byteLength: number | undefined,
  deallocatorContext: Address | null,
  deallocator: Address | JSCallback | null,
): ArrayBuffer;

/** Like {@link toArrayBuffer}, as a Node Buffer. */
export declare function toBuffer(
  ptr: Address,
  byteOffset?: number,
  byteLength?: number,
  deallocator?: Address | JSCallback | null,
): Buffer;
export declare function toBuffer(
  ptr: Address,
  byteOffset: number | undefined,
  byteLength: number | undefined,
  deallocatorContext: Address | null,
  deallocator: Address | JSCallback | null,
): Buffer;

/**
 * A copy of the UTF-8 C string at `ptr + byteOffset` (up to the NUL byte, or
 * `byteLength` bytes). A NULL pointer gives `""`.
 */
export declare class CString extends String {
  constructor(ptr: Address | null, byteOffset?: number, byteLength?: number);
  /** The address it was read from (0 for NULL). */
  readonly ptr: Pointer;
  readonly byteOffset?: number;
  readonly byteLength?: number;
  /** The bytes at `ptr` as an ArrayBuffer over that memory (empty for NULL). */
  readonly arrayBuffer: ArrayBuffer;
}

// ---------------------------------------------------------------------------
// Misc

/** C source of the wrappers for some definitions (one string per symbol). */
export declare function viewSource(symbols: Symbols, isCallback?: false): string[];
/** C source of the wrapper for one callback definition. */
export declare function viewSource(definition: FFIFunction, isCallback: true): string;

/** The shared-library file extension here, without the dot. */
export declare const suffix: "so" | "dylib" | "dll";

/** The C `errno` of the calling thread, as left by the last FFI call. */
export declare function errno(): number;

// ---------------------------------------------------------------------------
// Asynchronous calls (not in Bun; docs/async.md)

/** A bound function, as the executors take it. */
type AsyncCallable = AnyFunction & { readonly async: AnyFunction };

/** A pool of threads that runs bound functions: `executor()` or `executor.shared`. */
export interface Executor {
  /** Most threads it runs at once. Throws once closed. */
  readonly threads: number;
  /** Changes that limit (1 to 1024). */
  setThreads(threads: number): void;
  /** The call on one of its threads: a Promise of its result. */
  call<F extends AsyncCallable>(sym: F, ...args: Parameters<F["async"]>): ReturnType<F["async"]>;
  /** The same, resolving to the result with errno as C left it (and GetLastError() on Windows). */
  callWithErrno<F extends AsyncCallable>(
    sym: F,
    ...args: Parameters<F["async"]>
  ): Promise<{ value: Awaited<ReturnType<F["async"]>>; errno: number; lastError?: number }>;
  /** The call on one of its threads while the JS thread waits: its result. */
  callSync<F extends AsyncCallable>(sym: F, ...args: Parameters<F["async"]>): Awaited<ReturnType<F["async"]>>;
  /** No new calls; queued ones finish. Throws for `executor.shared`. */
  close(): void;
  [Symbol.dispose](): void;
}

export interface ExecutorOptions {
  /** How many threads (1 to 1024); default 1: every call on one thread. */
  readonly threads?: number;
}

/** A pool of its own (`executor({ threads: 1 })` for thread-affine libraries); `executor.shared` is the pool behind `sym.async`. */
export declare const executor: {
  (options?: ExecutorOptions): Executor;
  readonly shared: Executor;
};

// ---------------------------------------------------------------------------
// Batch calls (not in Bun; docs/batch.md)

/** An argument resolved when its entry runs: an earlier entry's result or a value read from memory. */
export interface BatchReference {
  readonly kind: number;
}

export interface BatchOptions {
  /** Stop after the first entry whose result is non-zero, or negative; `results.stoppedAt` names it (-1: none). */
  readonly stopOn?: "nonzero" | "negative";
  /** Record errno per entry in `results.errno` (an Int32Array). */
  readonly errno?: boolean;
  /** The entries expected: the staging area grows once to hold them instead of doubling as they come. */
  readonly size?: number;
}

/** b.run({ into }): the Array the results go in (docs/batch.md). */
export interface BatchRunOptions<A extends unknown[] | undefined> {
  readonly into?: A;
  readonly results?: "array";
}

/** The TypedArray kinds typed results come in (the kind `sym.map` returns for the entries' return type). */
export type BatchTypedArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array |
  Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** Typed results: entry i's result at index i (0 for entries not run), `stoppedAt` and `errno` as for an Array. */
export type BatchTypedResults<T extends BatchTypedArray = BatchTypedArray> = T & { stoppedAt?: number; errno?: Int32Array };

/** The results of a run: index i for the entry added as i (undefined for void entries and entries not run). */
export type BatchResults = unknown[] & { stoppedAt?: number; errno?: Int32Array };

/** A native command buffer of calls: converted by add(), run in C with one crossing. */
export interface Batch {
  /** Entries recorded. */
  readonly length: number;
  /**
   * Converts a call into the buffer and returns its entry index; nothing is called until run().
   * A bad argument throws here, with "batch entry N: " in front and `.entry` set.
   */
  add<F extends AnyFunction>(sym: F, ...args: unknown[]): number;
  /** An argument that is entry `i`'s result (an earlier entry) when the batch runs (run() only). */
  result(i: number): BatchReference;
  /** An argument read from `address` as `type` (default "ptr") when its entry runs (run() only). */
  deref(address: number | bigint | ArrayBufferView | ArrayBuffer, type?: string | number): BatchReference;
  /** Runs every entry in order (again on each call); throws the first error with "batch entry N: " in front and `.entry` set. */
  run(): BatchResults;
  /** The same into `into` (its length set to the batch's), which is returned: no new result array. */
  run<A extends unknown[]>(options: BatchRunOptions<A>): A & BatchResults;
  run(options?: BatchRunOptions<undefined>): BatchResults;
  /**
   * Typed results, for a batch whose entries all return one type: into the TypedArray `into` (its kind, exactly
   * as many elements as entries), or a new one with `results: "typed"`; no JS array of results is made.
   */
  run<T extends BatchTypedArray>(options: { readonly into: T; readonly results?: "typed" }): BatchTypedResults<T>;
  run(options: { readonly results: "typed" }): BatchTypedResults;
  /** Runs the whole batch on the shared pool from the same buffer (docs/async.md's rules). */
  runAsync(): Promise<BatchResults>;
  /** Forgets every entry (keeping the memory); the batch can be reused. */
  clear(): void;
}

/** Not in Bun: a new batch (docs/batch.md). */
export declare function batch(options?: BatchOptions): Batch;

/**
 * Windows only: `GetLastError()` as it was right after the calling thread's
 * latest FFI call. `undefined` on every other platform.
 */
export declare const GetLastError: (() => number) | undefined;

// ---------------------------------------------------------------------------
// Structs, unions, arrays and out-parameters (not in Bun; docs/structs.md)

/** A field's type: an FFIType spelling, a struct/union/array type, a registered struct name, or `{ type, align }`. */
export type FieldType = FFITypeOrString | StructType<any> | ArrayType<any, number> | ForeignStructDefinition | string | { readonly type: FieldType; readonly align?: number };

/** A bun-ffi-structs (0.3.x) definition: converted from its describe() (docs/structs.md). */
export interface ForeignStructDefinition {
  readonly __type: "struct";
  readonly size: number;
  readonly align: number;
  describe(): readonly { name: string; offset: number; size: number; align: number; type: unknown }[];
}
/** Fields as `{ name: type }` (property order) or `[[name, type, { align }?], ...]`. */
export type FieldsShape = { readonly [name: string]: FieldType } | readonly (readonly [string, FieldType] | readonly [string, FieldType, { readonly align?: number }])[];

type TupleFields<L> = L extends readonly (readonly [string, unknown, ...unknown[]])[] ? { [E in L[number] as E[0]]: E[1] } : never;
/** The `{ name: type }` form of either way of listing fields. */
export type FieldsOf<L> = L extends readonly unknown[] ? TupleFields<L> : L;

type TypedArrayFor<Id> = Id extends 0 | 1 ? Int8Array : Id extends 2 ? Uint8Array : Id extends 3 ? Int16Array : Id extends 4 ? Uint16Array
  : Id extends 5 ? Int32Array : Id extends 6 ? Uint32Array : Id extends 7 | 15 ? BigInt64Array : Id extends 8 | 16 ? BigUint64Array
  : Id extends 9 ? Float64Array : Id extends 10 ? Float32Array : never;

/** What reading a field of type `T` gives. */
export type FieldValue<T> = T extends StructType<infer F>
  ? StructValue<F>
  : T extends ArrayType<infer E, number>
    ? [TypedArrayFor<ToFFIType<E>>] extends [never] ? FieldValue<E>[] : TypedArrayFor<ToFFIType<E>>
    : T extends { readonly type: infer U }
      ? FieldValue<U>
      : [ToFFIType<T>] extends [never] ? unknown : FFITypeToReturnsType[ToFFIType<T>];

/** What writing a field of type `T` accepts. */
export type FieldInput<T> = T extends StructType<infer F>
  ? StructInput<F>
  : T extends ArrayType<infer E, number>
    ? readonly (FieldInput<E> | undefined)[] | TypedArray | string
    : T extends { readonly type: infer U }
      ? FieldInput<U>
      : [ToFFIType<T>] extends [never] ? unknown : FFITypeToArgsType[ToFFIType<T>];

/** A struct (or union) read into a plain object. */
export type StructValue<F> = { -readonly [K in keyof F]: FieldValue<F[K]> };
/** A struct argument: an object of its fields (missing ones are zero), a view, or a buffer of exactly its size. */
export type StructInput<F> = { readonly [K in keyof F]?: FieldInput<F[K]> } | StructView<F> | TypedArray | ArrayBuffer | DataView;
/** A zero-copy view: its properties read and write the memory at `ptr`. */
export type StructView<F> = { -readonly [K in keyof F]: FieldValue<F[K]> } & {
  /** The address of the viewed memory. */
  readonly ptr: Pointer;
  /** The JS memory it views (`undefined` over a raw pointer). */
  readonly buffer: ArrayBuffer | TypedArray | DataView | SharedArrayBuffer | undefined;
};

/** Where read/write/view find memory: a buffer (its length checked) or an address. */
export type LayoutTarget = Address | TypedArray | ArrayBuffer | SharedArrayBuffer | DataView | { readonly ptr: Pointer | bigint };

/** A struct or union type. */
export interface StructType<F = Record<string, unknown>> {
  readonly kind: "struct" | "union";
  /** Set for `struct("Name", ...)`: the name is then usable as a type string. */
  readonly name?: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly (keyof F & string)[];
  /** Byte offset of a field, or of a dotted path such as `"pos.x"` or `"items.2"`. */
  offsetof(field: (keyof F & string) | `${keyof F & string}.${string}`): number;
  read(target: LayoutTarget, byteOffset?: number): StructValue<F>;
  write(target: LayoutTarget, value: StructInput<F>, byteOffset?: number): void;
  /** A view over `target` (or over fresh zeroed memory when there is none). */
  view(target?: LayoutTarget, byteOffset?: number): StructView<F>;
  /** Type-level only: the field types. */
  readonly __fields?: F;
}

/** An inline array type (`array("u8", 32)`). */
export interface ArrayType<E, N extends number = number> {
  readonly kind: "array";
  readonly size: number;
  readonly align: number;
  readonly length: N;
  offsetof(path: `${number}` | `${number}.${string}`): number;
  read(target: LayoutTarget, byteOffset?: number): FieldValue<ArrayType<E, N>>;
  write(target: LayoutTarget, value: FieldInput<ArrayType<E, N>>, byteOffset?: number): void;
  /** Numeric elements over JS memory: a TypedArray sharing it; struct elements: their views. */
  view(target?: LayoutTarget, byteOffset?: number): E extends StructType<infer F> ? StructView<F>[] : FieldValue<ArrayType<E, N>>;
  /** Type-level only. */
  readonly __element?: E;
}

/** `out(T)` / `inout(T)`: a pointer argument C fills in. */
export interface OutType<T> {
  readonly kind: "out" | "inout";
  readonly size: number;
  readonly align: number;
  /** Type-level only. */
  readonly __target?: T;
}

type LayoutType = StructType<any> | OutType<any> | ForeignStructDefinition;
type LayoutArgType<T> = T extends StructType<infer F>
  ? StructInput<F>
  : T extends ForeignStructDefinition
    ? Record<string, unknown> | TypedArray | ArrayBuffer | DataView
  : T extends OutType<infer U>
    ? [FieldInput<U>] | TypedArray | DataView | ArrayBuffer | null | (U extends StructType<infer F> ? Partial<StructValue<F>> | StructView<F> : never)
    : never;

export interface StructOptions {
  /** As `#pragma pack(n)`: caps every member's alignment (even an explicit one) at n. */
  readonly pack?: number;
  /** Raises the whole type's alignment to at least n (as `__attribute__((aligned(n)))`). */
  readonly align?: number;
}

/** A struct type: `struct({ x: "f32", y: "f32" })`, `struct("Name", fields, { pack, align })`. */
export declare function struct<const L extends FieldsShape>(fields: L, options?: StructOptions): StructType<FieldsOf<L>>;
export declare function struct<const L extends FieldsShape>(name: string, fields: L, options?: StructOptions): StructType<FieldsOf<L>>;
/** A union type: every member at offset 0; a value sets one member. */
export declare function union<const L extends FieldsShape>(fields: L, options?: StructOptions): StructType<FieldsOf<L>>;
export declare function union<const L extends FieldsShape>(name: string, fields: L, options?: StructOptions): StructType<FieldsOf<L>>;
/** An inline C array of `length` elements (a struct member, or memory to read). */
export declare function array<const E extends FieldType, const N extends number>(type: E, length: N): ArrayType<E, N>;
/** A pointer argument to one value C writes: pass `[value]`, a 1-element TypedArray, an object (structs) or null. */
export declare function out<const T extends FieldType>(type: T): OutType<T>;
/** The same, with the JS value's contents passed in. */
export declare function inout<const T extends FieldType>(type: T): OutType<T>;
