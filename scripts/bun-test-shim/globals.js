"use strict";
// Preloaded (--require) into every process scripts/run-bun-ffi-tests.js
// starts: "bun:ffi" is cffi-bun, "bun:test" and "harness" are this shim's,
// and a global `Bun` carries what Bun's FFI tests use of it (Bun.FFI,
// Bun.gc, Bun.spawn, Bun.spawnSync, Bun.version).
const Module = require("node:module");
const path = require("node:path");
const { spawn, spawnSync } = require("node:child_process");

require("../../lib/register.cjs");
if (typeof Module.register === "function") Module.register(require("node:url").pathToFileURL(path.join(__dirname, "import-meta.mjs")));
const aliases = { "bun:test": path.join(__dirname, "bun-test.js"), harness: path.join(__dirname, "harness.js") };
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function shimResolve(request, ...rest) {
  if (Object.hasOwn(aliases, request)) return aliases[request];
  return resolveFilename.call(this, request, ...rest);
};

// A command naming bunExe() runs this node with this file preloaded.
function command(cmd) {
  const [file, ...args] = cmd;
  if (file === process.execPath) return [file, ["--expose-gc", "--require", __filename, ...args]];
  return [file, args];
}

function collect(stream) {
  if (!stream) return { text: async () => "" };
  const chunks = [];
  const done = new Promise((resolve) => {
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", resolve);
    stream.on("error", resolve);
  });
  return { text: async () => (await done, Buffer.concat(chunks).toString()), stream };
}

function bunSpawn(options, more) {
  const opts = Array.isArray(options) ? { ...more, cmd: options } : options;
  const [file, args] = command(opts.cmd);
  const io = (value, fallback) => (value === "inherit" ? "inherit" : value === "ignore" ? "ignore" : value ? "pipe" : fallback);
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: [io(opts.stdin, "ignore"), io(opts.stdout, "pipe"), io(opts.stderr, "inherit")],
  });
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  const proc = {
    pid: child.pid,
    stdout: collect(child.stdout),
    stderr: collect(child.stderr),
    exited,
    exitCode: null,
    kill: (signal) => child.kill(signal),
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
    [Symbol.dispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
  exited.then((code) => (proc.exitCode = code));
  return proc;
}

function bunSpawnSync(options, more) {
  const opts = Array.isArray(options) ? { ...more, cmd: options } : options;
  const [file, args] = command(opts.cmd);
  const stdio = Array.isArray(opts.stdio) ? opts.stdio : ["ignore", opts.stdout === "inherit" ? "inherit" : "pipe", opts.stderr === "inherit" ? "inherit" : "pipe"];
  const result = spawnSync(file, args, { cwd: opts.cwd, env: opts.env, stdio });
  return { exitCode: result.status ?? 1, success: result.status === 0, stdout: result.stdout || Buffer.alloc(0), stderr: result.stderr || Buffer.alloc(0) };
}

// Bun.which(name): the first executable of that name on PATH, or null.
function which(name) {
  const fs = require("node:fs");
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

// Node 20 has no Promise.withResolvers (Node 22 has); Bun's tests use it.
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((yes, no) => ((resolve = yes), (reject = no)));
    return { promise, resolve, reject };
  };
}

// Bun's Buffer also reads and writes little-endian without the LE suffix
// (readInt32, writeUInt16, readDouble, ...).
for (const name of Object.getOwnPropertyNames(Buffer.prototype)) {
  const plain = name.match(/^((?:read|write)\w+)LE$/)?.[1];
  if (plain && !(plain in Buffer.prototype)) Buffer.prototype[plain] = Buffer.prototype[name];
}

// Bun.file(path): the part of a BunFile the FFI tests touch (its path as
// `name`, its contents).
function file(target) {
  const fs = require("node:fs");
  const name = target instanceof URL ? require("node:url").fileURLToPath(target) : String(target);
  return { name, text: async () => fs.readFileSync(name, "utf8"), exists: async () => fs.existsSync(name), get size() { return fs.statSync(name).size; } };
}

async function write(target, data) {
  const name = typeof target === "object" && target && "name" in target ? target.name : String(target);
  const bytes = typeof data === "string" ? data : Buffer.from(data.buffer ?? data);
  require("node:fs").writeFileSync(name, bytes);
  return Buffer.byteLength(bytes);
}

globalThis.Bun = {
  which,
  file,
  write,
  pathToFileURL: require("node:url").pathToFileURL,
  fileURLToPath: require("node:url").fileURLToPath,
  password: { hash: async () => "", verify: async () => false },
  version: `cffi-bun on Node ${process.version}`,
  FFI: require("../.."),
  gc: () => global.gc?.(),
  spawn: bunSpawn,
  spawnSync: bunSpawnSync,
  env: process.env,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
