"use strict";
// bun-ffi-structs (0.3.x) definitions as cffi-bun struct types (docs/structs.md,
// "bun-ffi-structs"). The addon asks for a conversion when a definition or a
// field names an object it does not know whose __type is "struct"; this maps
// the library's own description (describe(): name, offset, size, align, type
// per field) onto struct() and refuses what it cannot reproduce exactly. Only
// the mapping of names lives here; the layout is the addon's.
const converted = new WeakMap();

const PRIMITIVES = {
  u8: "u8", u16: "u16", u32: "u32", u64: "u64", i16: "i16", i32: "i32", i64: "i64",
  f32: "f32", f64: "f64", pointer: "ptr", bool_u8: "bool", bool_u32: "u32",
  cstring: "cstring", "char*": "cstring",
};

function fieldType(native, description, owner) {
  const { type, size } = description;
  if (typeof type === "string" && PRIMITIVES[type]) return PRIMITIVES[type];
  if (Array.isArray(type)) return "ptr"; // a pointer to the elements (the length is another field)
  if (type && type.__type === "enum" && PRIMITIVES[type.type]) return PRIMITIVES[type.type];
  if (type && type.__type === "objectPointer") return "ptr";
  if (type && type.__type === "struct") return size === type.size ? convert(native, type) : "ptr"; // asPointer
  throw new TypeError(`${owner}: field "${description.name}" has a type cffi-bun cannot map (${String(type && (type.__type ?? type))})`);
}

function convert(native, definition) {
  const known = converted.get(definition);
  if (known) return known;
  const owner = "bun-ffi-structs definition";
  if (typeof definition.describe !== "function") throw new TypeError(`${owner}: it has no describe() (bun-ffi-structs 0.3.x has one)`);
  const fields = definition.describe();
  if (!Array.isArray(fields) || fields.length === 0) throw new TypeError(`${owner}: describe() listed no fields`);
  const type = native.struct(fields.map((f) => [f.name, fieldType(native, f, owner)]));
  for (const f of fields) {
    const offset = type.offsetof(f.name);
    if (offset !== f.offset)
      throw new TypeError(`${owner}: field "${f.name}" is at offset ${f.offset} there and would be at ${offset} by C's rules: the layout cannot be reproduced`);
  }
  if (type.size !== definition.size || type.align !== definition.align)
    throw new TypeError(`${owner}: its size/align ${definition.size}/${definition.align} differ from C's ${type.size}/${type.align}`);
  converted.set(definition, type);
  return type;
}

module.exports = { convertForeignStruct: convert };
