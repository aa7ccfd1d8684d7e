#!/usr/bin/env node
"use strict";
// run-tests.js - `npm test`: node's test runner over test/*.test.js.
//
// Why not `node --test test/*.test.js` in package.json: npm runs scripts
// through cmd.exe on Windows, which leaves the glob unexpanded, and Node 20's
// --test does not expand globs itself (Node 21+ does). Listing the files here
// works on every OS and Node 18+. Arguments ending in .js replace the list
// (`npm test -- test/memory.test.js`); the others go to node before --test's
// files (`npm test -- --test-name-pattern=ptr`).
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.join(__dirname, "..");
const given = process.argv.slice(2);
const named = given.filter((a) => a.endsWith(".js"));
const flags = given.filter((a) => !a.endsWith(".js"));
const files = named.length
  ? named
  : fs.readdirSync(path.join(root, "test")).filter((f) => f.endsWith(".test.js")).sort().map((f) => path.join("test", f));

const run = spawnSync(process.execPath, ["--test", ...flags, ...files], { cwd: root, stdio: "inherit" });
if (run.error) throw run.error;
process.exitCode = run.status ?? 1;
if (run.signal) process.kill(process.pid, run.signal);
