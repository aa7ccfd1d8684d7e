"use strict";
// Child process for test/parity.test.js: a streaming deflate/inflate round
// trip of 1 MB through the system libz (libz.so.1), driven from JS through
// a z_stream laid out by hand (x86-64/arm64 LP64). Node's own zlib is
// exported by the node binary: a libz that binds its internal calls to it
// crashes or stops compressing, so this runs in a child. Prints a JSON
// summary; argv[2] is the dlopen options as JSON (or nothing).
const { dlopen, ptr } = require("../..");

const options = process.argv[2] ? JSON.parse(process.argv[2]) : undefined;
const z = dlopen(
  "libz.so.1",
  {
    zlibVersion: { args: [], returns: "cstring" },
    deflateInit_: { args: ["ptr", "i32", "cstring", "i32"], returns: "i32" },
    deflate: { args: ["ptr", "i32"], returns: "i32" },
    deflateEnd: { args: ["ptr"], returns: "i32" },
    inflateInit_: { args: ["ptr", "cstring", "i32"], returns: "i32" },
    inflate: { args: ["ptr", "i32"], returns: "i32" },
    inflateEnd: { args: ["ptr"], returns: "i32" },
  },
  options,
);
const Z_OK = 0, Z_STREAM_END = 1, Z_NO_FLUSH = 0, Z_FINISH = 4;
const STREAM_SIZE = 112; // sizeof(z_stream) on LP64
const NEXT_IN = 0, AVAIL_IN = 8, NEXT_OUT = 24, AVAIL_OUT = 32;

function stream() {
  const bytes = new Uint8Array(STREAM_SIZE);
  const view = new DataView(bytes.buffer);
  return {
    bytes,
    input(buffer, at, length) {
      view.setBigUint64(NEXT_IN, BigInt(ptr(buffer, at)), true);
      view.setUint32(AVAIL_IN, length, true);
    },
    output(buffer) {
      view.setBigUint64(NEXT_OUT, BigInt(ptr(buffer)), true);
      view.setUint32(AVAIL_OUT, buffer.length, true);
    },
    availIn: () => view.getUint32(AVAIL_IN, true),
    availOut: () => view.getUint32(AVAIL_OUT, true),
  };
}

// Pipes `input` through step() in 64 KB pieces with a 16 KB output window.
function pump(input, step, finishFlag) {
  const s = stream();
  const chunks = [];
  const out = new Uint8Array(16384);
  return {
    s,
    run(init, end) {
      const rc = init(s.bytes);
      if (rc !== Z_OK) throw new Error(`init returned ${rc}`);
      let offset = 0, code = Z_OK;
      while (code !== Z_STREAM_END) {
        const piece = Math.min(65536, input.length - offset);
        s.input(input, offset, piece);
        const flag = offset + piece >= input.length ? finishFlag : Z_NO_FLUSH;
        do {
          s.output(out);
          code = step(s.bytes, flag);
          if (code !== Z_OK && code !== Z_STREAM_END) throw new Error(`step returned ${code}`);
          chunks.push(out.slice(0, out.length - s.availOut()));
        } while (s.availOut() === 0 && code !== Z_STREAM_END);
        offset += piece - s.availIn();
        if (flag === finishFlag && code !== Z_STREAM_END && piece === 0 && s.availOut() !== 0) break;
      }
      end(s.bytes);
      return Buffer.concat(chunks);
    },
  };
}

const version = z.symbols.zlibVersion();
const original = Buffer.alloc(1 << 20);
for (let i = 0; i < original.length; i++) original[i] = (i * 7 + (i >> 10)) % 251 < 200 ? 65 + (i % 13) : i & 255;
const compressed = pump(original, z.symbols.deflate, Z_FINISH).run(
  (s) => z.symbols.deflateInit_(s, 6, version, STREAM_SIZE),
  (s) => z.symbols.deflateEnd(s),
);
const restored = pump(compressed, z.symbols.inflate, Z_NO_FLUSH).run(
  (s) => z.symbols.inflateInit_(s, version, STREAM_SIZE),
  (s) => z.symbols.inflateEnd(s),
);
console.log(JSON.stringify({
  version,
  originalLength: original.length,
  compressedLength: compressed.length,
  same: restored.equals(original),
  nodeSays: require("node:zlib").inflateSync(compressed).equals(original),
}));
