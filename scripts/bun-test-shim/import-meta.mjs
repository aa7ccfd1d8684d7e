// Module hook for the shim (registered by globals.js): Bun's ES modules
// read their folder and path as import.meta.dir / import.meta.path, which
// Node spells import.meta.dirname / import.meta.filename. The fixtures
// Bun's tests write and spawn use them; rewriting the names is all this does.
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.startsWith("file:") || url.includes("/node_modules/") || result.source == null) return result;
  const text = typeof result.source === "string" ? result.source : Buffer.from(result.source).toString("utf8");
  if (!/\bimport\.meta\.(dir|path)\b/.test(text)) return result;
  return { ...result, source: text.replace(/\bimport\.meta\.dir\b/g, "import.meta.dirname").replace(/\bimport\.meta\.path\b/g, "import.meta.filename") };
}
