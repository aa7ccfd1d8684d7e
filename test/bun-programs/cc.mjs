// cc(): compile C with TinyCC and call it (Bun takes a path to the source).
import { cc, ptr } from "bun:ffi";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("./cc-add.c", import.meta.url));
const { symbols, close } = cc({
  source,
  define: { VERSION: '"1.2.3"' },
  library: ["m"],
  symbols: {
    add: { args: ["int", "int"], returns: "int" },
    hypotenuse: { args: ["double", "double"], returns: "double" },
    version: { returns: "cstring" },
    sum_bytes: { args: ["ptr", "usize"], returns: "u64" },
    count_char: { args: ["ptr", "int"], returns: "int" },
  },
});
console.log("add", symbols.add(40, 2), symbols.add(-1, -1));
console.log("hypotenuse", symbols.hypotenuse(3, 4));
console.log("version", symbols.version());
const bytes = new Uint8Array([1, 2, 3, 250]);
console.log("sum_bytes", String(symbols.sum_bytes(ptr(bytes), bytes.length)));
console.log("count_char", symbols.count_char(Buffer.from("banana\0"), "a".charCodeAt(0)));
close();
