// Module customization hooks (registered by lib/register.mjs / register.cjs
// through module.register): `import ... from "bun:ffi"` loads cffi-bun.
// Every other specifier goes to the next resolver untouched.
const BUN_FFI = "bun:ffi";
const target = new URL("./index.mjs", import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === BUN_FFI) return { url: target, format: "module", shortCircuit: true };
  return nextResolve(specifier, context);
}
