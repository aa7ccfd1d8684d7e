"use strict";
// Module customization hooks, written once for both ways Node runs them:
// - in-thread and synchronous through module.registerHooks (Node 22.15+ /
//   23.5+; lib/register.cjs uses it where it exists), where nextResolve and
//   nextLoad return their results;
// - on the loader thread through module.register (lib/hooks.mjs re-exports
//   these), where they return promises.
// `thenDo` continues with a result of either kind, so one body serves both.
//
// - `import ... from "bun:ffi"` loads cffi-bun (and, in-thread, where these
//   hooks also see require(), `require("bun:ffi")` gets the CommonJS entry);
// - `import path from "./hello.c" with { type: "file" }` gives the file's
//   absolute path as the default export, whatever its extension (Bun's
//   meaning; its cc() documentation passes sources this way).
// Every other specifier goes to the next resolver and loader untouched.
const path = require("node:path");
const { fileURLToPath, pathToFileURL } = require("node:url");

const BUN_FFI = "bun:ffi";
const esmTarget = pathToFileURL(path.join(__dirname, "index.mjs")).href;
const cjsTarget = pathToFileURL(path.join(__dirname, "index.js")).href;
// Marks a URL resolved for `type: "file"`, so the loader answers it and the
// same file imported as code stays a separate module.
const FILE_MARK = "cffi-bun-file";

const thenDo = (result, next) => (result && typeof result.then === "function" ? result.then(next) : next(result));

function resolve(specifier, context, nextResolve) {
  if (specifier === BUN_FFI) {
    // A require() (only registerHooks shows these) gets the same object
    // require("cffi-bun") gives.
    const required = context.conditions && context.conditions.includes("require") && !context.conditions.includes("import");
    return required
      ? { url: cjsTarget, format: "commonjs", shortCircuit: true }
      : { url: esmTarget, format: "module", shortCircuit: true };
  }
  if (!context.importAttributes || context.importAttributes.type !== "file") return nextResolve(specifier, context);
  const { type, ...others } = context.importAttributes;
  return thenDo(nextResolve(specifier, { ...context, importAttributes: others }), (resolved) => {
    const url = new URL(resolved.url);
    if (url.protocol !== "file:") return resolved;
    url.searchParams.set(FILE_MARK, "");
    // Node checks attributes against the format: the module made here is
    // plain JavaScript, which takes no `type`.
    return { url: url.href, format: "module", importAttributes: others, shortCircuit: true };
  });
}

function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !new URL(url).searchParams.has(FILE_MARK)) return nextLoad(url, context);
  const file = new URL(url);
  file.search = "";
  const source = `export default ${JSON.stringify(fileURLToPath(file))};\n`;
  return { format: "module", source, shortCircuit: true };
}

module.exports = { resolve, load };
