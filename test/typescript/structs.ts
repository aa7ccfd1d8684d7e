// Type tests for structs, unions, arrays and out-parameters (docs/structs.md).
import { array, dlopen, inout, out, struct, union } from "cffi-bun";
import type { Pointer } from "cffi-bun";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<A, B>(_proof: Equal<A, B>): void {}

const Vec2 = struct({ x: "f32", y: "f64" });
const Rect = struct([["pos", Vec2], ["size", Vec2], ["tags", array("u16", 4)]]);
const U = union({ i: "i64", d: "f64" });
const Names = struct("TsNamed", { id: "u32", p: "ptr", flags: { type: "u8", align: 4 } }, { pack: 4 });

const r = Rect.read(new ArrayBuffer(Rect.size));
assertType<typeof r.pos.x, number>(true);
assertType<typeof r.tags, Uint16Array>(true);
assertType<typeof Names.fields, readonly ("id" | "p" | "flags")[]>(true);
const n = Names.read(0 as Pointer);
assertType<typeof n.p, Pointer | null>(true);
assertType<typeof n.flags, number>(true);
assertType<ReturnType<typeof U.read>["i"], bigint>(true);
Rect.write(new Uint8Array(Rect.size), { pos: { x: 1 }, tags: [1, 2] });
// @ts-expect-error: no such field
Rect.write(new Uint8Array(Rect.size), { nope: 1 });
// @ts-expect-error: wrong field type
Rect.write(new Uint8Array(Rect.size), { pos: { x: "1" } });
const v = Rect.view();
assertType<typeof v.ptr, Pointer>(true);
v.size.y = 2;
Rect.offsetof("pos.x");

const lib = dlopen("libx.so", {
  area: { args: [Rect], returns: "f32" },
  make: { args: ["f32"], returns: Vec2 },
  makeView: { args: [], returns: Vec2, returnsAs: "view" },
  makeBytes: { args: [], returns: Vec2, returnsAs: "bytes" },
  divmod: { args: ["i32", "i32", out("i32"), inout(Vec2)], returns: "void" },
});
lib.symbols.area({ pos: { x: 1, y: 2 } });
// @ts-expect-error: a string is not a struct
lib.symbols.area("5");
type AreaArg = Parameters<typeof lib.symbols.area>[0];
assertType<Extract<AreaArg, number>, never>(true);
assertType<ReturnType<typeof lib.symbols.make>, { x: number; y: number }>(true);
const made = lib.symbols.makeView();
assertType<typeof made.ptr, Pointer>(true);
assertType<typeof made.y, number>(true);
assertType<ReturnType<typeof lib.symbols.makeBytes>, Uint8Array>(true);
lib.symbols.divmod(1, 2, [0], { pos: undefined } as never);
lib.symbols.divmod(1, 2, new Int32Array(1), null);
