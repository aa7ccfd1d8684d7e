"use strict";
// Reads LeakSanitizer logs and fails when a leak's allocation stack passes
// through the addon (cffi_bun.node): those are ours. Leaks whose stacks are
// all Node/V8 are counted and ignored.
//
// Some allocations of ours live for the whole process on purpose; they are
// listed here with the reason, matched by a function in their stack.
const fs = require("node:fs");

const INTENTIONAL = [
  // addon.c init: the per-env state is never freed (foreign threads may look
  // at it after the env is gone; see cffi_env_state in src/cffi.h).
  /\binit\b.*src\/addon\.c/,
  // callback.c: a threadsafe callback's closure is kept for the process's
  // life after close() (a racing thread may still call it; README, Callbacks).
  /callback_create .*src\/callback\.c.*\n(?:.*\n)*?.*threadsafe/,
];

let ours = 0;
let theirs = 0;
let intentional = 0;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) continue;
  const text = fs.readFileSync(file, "utf8");
  const blocks = text.split(/\n(?=(?:Direct|Indirect) leak of )/).filter((b) => /^(?:Direct|Indirect) leak of /.test(b));
  for (const block of blocks) {
    if (!/cffi_bun\.node/.test(block)) {
      theirs++;
    } else if (INTENTIONAL.some((re) => re.test(block))) {
      intentional++;
    } else {
      ours++;
      console.log(`lsan-filter: a leak of ours (${file}):\n${block.split("\n").slice(0, 25).join("\n")}\n`);
    }
  }
}
console.log(`lsan-filter: ${ours} leak(s) of ours, ${intentional} intentional (process-lifetime), ${theirs} of Node/V8 ignored`);
process.exit(ours ? 1 : 0);
