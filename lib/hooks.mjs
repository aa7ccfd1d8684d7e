// Module customization hooks (registered by lib/register.mjs / register.cjs
// through module.register):
// - `import ... from "bun:ffi"` loads cffi-bun;
// - `import path from "./hello.c" with { type: "file" }` gives the file's
//   absolute path as the default export, whatever its extension (Bun's
//   meaning; its cc() documentation passes sources this way).
// Every other specifier goes to the next resolver and loader untouched.
import { fileURLToPath } from "node:url";

const BUN_FFI = "bun:ffi";
const target = new URL("./index.mjs", import.meta.url).href;
// Marks a URL resolved for `type: "file"`, so the loader answers it and the
// same file imported as code stays a separate module.
const FILE_MARK = "cffi-bun-file";

export async function resolve(specifier, context, nextResolve) {
  if (specifier === BUN_FFI) return { url: target, format: "module", shortCircuit: true };
  if (context.importAttributes?.type !== "file") return nextResolve(specifier, context);
  const { type, ...others } = context.importAttributes;
  const resolved = await nextResolve(specifier, { ...context, importAttributes: others });
  const url = new URL(resolved.url);
  if (url.protocol !== "file:") return resolved;
  url.searchParams.set(FILE_MARK, "");
  // Node checks attributes against the format: the module made here is
  // plain JavaScript, which takes no `type`.
  return { url: url.href, format: "module", importAttributes: others, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !new URL(url).searchParams.has(FILE_MARK)) return nextLoad(url, context);
  const file = new URL(url);
  file.search = "";
  const source = `export default ${JSON.stringify(fileURLToPath(file))};\n`;
  return { format: "module", source, shortCircuit: true };
}
