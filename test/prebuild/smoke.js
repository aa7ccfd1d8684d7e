"use strict";
// Smoke program for an installed cffi-bun package on a machine without a
// compiler, libffi or tcc (scripts/prebuild-test.sh runs it inside a minimal
// Debian root). Run from a folder whose node_modules holds cffi-bun:
//   node smoke.js            dlopen, a JSCallback through qsort, cc() without headers
//   node smoke.js --stdio    also cc() of code that includes <stdio.h> (needs libc6-dev)
// Prints one line per check and a closing "N passed, N failed" line; exits 1
// on a failure.
const fs = require("node:fs");
const { dlopen, JSCallback, read, cc } = require("cffi-bun");

const checks = [];
function check(name, fn) {
  try {
    fn();
    checks.push(true);
    console.log(`ok - ${name}`);
  } catch (error) {
    checks.push(false);
    console.log(`not ok - ${name}: ${error && error.stack ? error.stack : error}`);
  }
}
function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const addonPath = require.resolve("cffi-bun/package.json").replace(/package\.json$/, "");
check("the prebuilt binary is what loaded (no local build in the package)", () => {
  const loaded = fs.readFileSync("/proc/self/maps", "utf8").split("\n").map((l) => l.split(/\s+/)[5]).filter(Boolean);
  const addon = loaded.find((file) => file.endsWith(".node") && file.startsWith(addonPath));
  if (!addon || !addon.includes("/prebuilds/")) throw new Error(`addon mapped from ${addon}`);
  const foreign = [...new Set(loaded.filter((f) => /libffi|libtcc/.test(f)))];
  if (foreign.length) throw new Error(`a shared libffi/libtcc was loaded: ${foreign.join(", ")}`);
});

check("dlopen of libc: getpid", () => {
  const libc = dlopen("libc.so.6", { getpid: { args: [], returns: "i32" } });
  expectEqual(libc.symbols.getpid(), process.pid, "getpid()");
  libc.close();
});

check("a JSCallback as qsort's comparator", () => {
  const libc = dlopen("libc.so.6", { qsort: { args: ["ptr", "u64", "u64", "function"], returns: "void" } });
  const data = Int32Array.from([5, -3, 9, 1, 0, 7]);
  const compare = new JSCallback((a, b) => Math.sign(read.i32(a) - read.i32(b)), { args: ["ptr", "ptr"], returns: "i32" });
  libc.symbols.qsort(data, data.length, 4, compare);
  compare.close();
  libc.close();
  expectEqual([...data], [-3, 0, 1, 5, 7, 9], "sorted");
});

check("cc() of code without headers", () => {
  const lib = cc({
    source: "int add(int a, int b) { return a + b; }\nlong long mul(long long a, long long b) { return a * b; }\n",
    symbols: { add: { args: ["i32", "i32"], returns: "i32" }, mul: { args: ["i64", "i64"], returns: "i64" } },
  });
  expectEqual(lib.symbols.add(40, 2), 42, "add(40, 2)");
  expectEqual(String(lib.symbols.mul(1n << 40n, 3n)), String(3n << 40n), "mul");
  lib.close();
});

if (!process.argv.includes("--stdio")) {
  check("cc() of code including <stdio.h> without libc6-dev names the package to install", () => {
    let message = "";
    try {
      cc({ source: "#include <stdio.h>\nint f(void) { return 1; }\n", symbols: { f: { args: [], returns: "i32" } } });
    } catch (error) {
      message = String(error && error.message);
    }
    if (!/stdio\.h/.test(message) || !/libc6-dev/.test(message)) throw new Error(`got: ${message || "no error"}`);
  });
} else {
  check("cc() of code including <stdio.h> (libc6-dev only)", () => {
    const lib = cc({
      source: '#include <stdio.h>\n#include <string.h>\nstatic char out[32];\n' +
        'const char *fmt(int n) { snprintf(out, sizeof out, "n=%d len=%zu", n, strlen("abc")); return out; }\n',
      symbols: { fmt: { args: ["i32"], returns: "cstring" } },
    });
    expectEqual(lib.symbols.fmt(7), "n=7 len=3", "fmt(7)");
    lib.close();
  });
}

const passed = checks.filter(Boolean).length;
console.log(`smoke: ${passed} passed, ${checks.length - passed} failed`);
process.exitCode = passed === checks.length ? 0 : 1;
