"use strict";
// A stand-in for Bun's test `harness` module: the few helpers Bun's FFI
// tests import (scripts/run-bun-ffi-tests.js). bunExe() is this node; the
// shim's Bun.spawn runs it with the shim's globals preloaded.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function tempDirWithFiles(prefix, files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const write = (base, tree) => {
    for (const [name, content] of Object.entries(tree)) {
      const target = path.join(base, name);
      if (content && typeof content === "object" && !Buffer.isBuffer(content) && !(content instanceof Uint8Array)) {
        fs.mkdirSync(target, { recursive: true });
        write(target, content);
      } else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, content);
      }
    }
  };
  write(dir, files || {});
  return dir;
}

// `using dir = tempDir(...)`: a string-like path removed at scope end.
function tempDir(prefix, files) {
  const dir = tempDirWithFiles(prefix, files);
  const handle = new String(dir);
  handle[Symbol.dispose] = () => fs.rmSync(dir, { recursive: true, force: true });
  return handle;
}

const report = process.report?.getReport();
module.exports = {
  bunEnv: { ...process.env, NODE_NO_WARNINGS: "1" },
  bunExe: () => process.execPath,
  isWindows: process.platform === "win32",
  isMacOS: process.platform === "darwin",
  isLinux: process.platform === "linux",
  isPosix: process.platform !== "win32",
  isArm64: process.arch === "arm64",
  isMusl: process.platform === "linux" && !report?.header?.glibcVersionRuntime,
  isASAN: false,
  isCI: false,
  isDebug: false,
  tempDirWithFiles,
  tempDir,
  tmpdirSync: (prefix = "bun-test") => fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`)),
  normalizeBunSnapshot: (text) => String(text).replace(/\r\n/g, "\n").trim(),
  gc: () => global.gc?.(),
};
