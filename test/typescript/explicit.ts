// The explicit form: dlopen<LibSymbols>(path, {...}) with a hand-written type.
import { dlopen, FFIType } from "cffi-bun";
import type { Pointer, FFIFunction, BoundFunction } from "cffi-bun";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<A, B>(_proof: Equal<A, B>): void {}

// 1. An interface of definitions, with FFIType members (Bun's style).
interface LibSymbols {
  abs: { args: [FFIType.i32]; returns: FFIType.i32 };
  strlen: { args: [FFIType.cstring]; returns: FFIType.u64 };
  getenv: { args: [FFIType.cstring]; returns: FFIType.cstring };
  free: { args: [FFIType.ptr]; returns: FFIType.void };
}
const a = dlopen<LibSymbols>("libc.so.6", {
  abs: { args: [FFIType.i32], returns: FFIType.i32 },
  strlen: { args: [FFIType.cstring], returns: FFIType.u64 },
  getenv: { args: [FFIType.cstring], returns: FFIType.cstring },
  free: { args: [FFIType.ptr], returns: FFIType.void },
});
assertType<ReturnType<typeof a.symbols.abs>, number>(true);
assertType<ReturnType<typeof a.symbols.strlen>, bigint>(true);
assertType<ReturnType<typeof a.symbols.getenv>, string | null>(true);
assertType<ReturnType<typeof a.symbols.free>, undefined>(true);
// @ts-expect-error a string is not an i32
a.symbols.abs("1");

// 1b. The same interface, with the object spelling types by name or alias.
const a2 = dlopen<LibSymbols>("libc.so.6", {
  abs: { args: ["int"], returns: "i32" },
  strlen: { args: ["cstring"], returns: "usize" },
  getenv: { args: [14], returns: "cstring" },
  free: { args: ["void*"], returns: "void" },
});
a2.symbols.abs(-1);
a2.symbols.free(null);

dlopen<LibSymbols>("libc.so.6", {
  // @ts-expect-error the object disagrees with the interface (i64 is not i32)
  abs: { args: ["i64"], returns: "i32" },
  strlen: { args: ["cstring"], returns: "usize" },
  getenv: { args: [14], returns: "cstring" },
  free: { args: ["void*"], returns: "void" },
});

// @ts-expect-error a symbol of the interface is missing from the object
dlopen<LibSymbols>("libc.so.6", { abs: { args: ["int"], returns: "int" } });

// 2. A type alias with string names, readonly tuples.
type Strs = {
  readonly abs: { readonly args: readonly ["int"]; readonly returns: "int" };
  readonly puts: { args: ["cstring"]; returns: "int" };
};
const b = dlopen<Strs>("libc.so.6", { abs: { args: ["int"], returns: "int" }, puts: { args: ["cstring"], returns: "int" } });
assertType<Parameters<typeof b.symbols.abs>, [number | bigint | boolean]>(true);
b.symbols.puts("hi");

// 3. An interface of the JS function types themselves.
interface LibFunctions {
  abs(x: number): number;
  getenv(name: string): string | null;
  malloc(size: number): Pointer | null;
}
const c = dlopen<LibFunctions>("libc.so.6", {
  abs: { args: ["int"], returns: "int" },
  getenv: { args: ["cstring"], returns: "cstring" },
  malloc: { args: ["usize"], returns: "ptr" },
});
assertType<typeof c.symbols.abs, BoundFunction<(x: number) => number>>(true);
const absFn: (x: number) => number = c.symbols.abs;
void absFn;
c.symbols.getenv("HOME");
// @ts-expect-error the declared signature takes a string
c.symbols.getenv(1);

// 4. Loose definitions (FFIFunction members): still callable, loosely typed.
interface Loose {
  abs: FFIFunction;
}
const d = dlopen<Loose>("libc.so.6", { abs: { args: ["int"], returns: "int" } });
d.symbols.abs(1);

// 5. A definitions object built ahead of time, then inferred.
const defs = {
  abs: { args: ["int"], returns: "int" },
  labs: { args: [FFIType.i64], returns: FFIType.i64 },
} as const;
const e = dlopen("libc.so.6", defs);
assertType<ReturnType<typeof e.symbols.abs>, number>(true);
assertType<ReturnType<typeof e.symbols.labs>, bigint>(true);
// @ts-expect-error too few arguments
e.symbols.labs();

a.close();
