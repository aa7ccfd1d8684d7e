'use strict';
// cffi-bun demo: Bun's `bun:ffi` API, under Node.js.
//
//   npm run demo            (or: node examples/demo.js)
//
// In your own project this would be `require("cffi-bun")`; inside this repo the package is
// required by its root path.
const {
  dlopen,
  FFIType,
  suffix,
  ptr,
  read,
  toArrayBuffer,
  CString,
} = require('..');

const platform = process.platform;
let failures = 0;

function section(title) {
  console.log(`\n== ${title}`);
}
// Prints one result; strings are quoted (to show they are JS strings), except addresses.
function show(label, value) {
  const v =
    typeof value === 'bigint'
      ? `${value}n`
      : typeof value === 'string' && /^0x[0-9a-f]+$/.test(value)
        ? value
        : JSON.stringify(value);
  console.log(`  ${label.padEnd(48)} ${v}`);
}
function attempt(label, fn) {
  try {
    fn();
  } catch (err) {
    failures++;
    console.log(`  ${label}: FAILED: ${err && err.message ? err.message : err}`);
  }
}
// Opens the first library name that loads; returns null (and reports) if none does.
function openFirst(names, symbols) {
  const errors = [];
  for (const name of names) {
    try {
      return { name, lib: dlopen(name, symbols) };
    } catch (err) {
      errors.push(`${name}: ${err.message}`);
    }
  }
  failures++;
  console.log(`  could not open any of ${names.join(', ')}:\n    ${errors.join('\n    ')}`);
  return null;
}

console.log(`cffi-bun demo on Node ${process.version} (${platform}-${process.arch}), suffix = "${suffix}"`);

// ---------------------------------------------------------------------------------------------
section('libc: abs, strlen, getpid');
const libcNames =
  platform === 'win32' ? ['msvcrt.dll'] : platform === 'darwin' ? ['libc.dylib', '/usr/lib/libSystem.B.dylib'] : ['libc.so.6'];
const libc = openFirst(libcNames, {
  abs: { args: [FFIType.i32], returns: FFIType.i32 },
  // u64_fast: a plain number when it is a safe integer (u64 would always give a BigInt)
  strlen: { args: [FFIType.cstring], returns: FFIType.u64_fast },
  [platform === 'win32' ? '_getpid' : 'getpid']: { args: [], returns: 'i32' },
});
if (libc) {
  const { symbols } = libc.lib;
  console.log(`  opened ${libc.name}`);
  attempt('abs', () => show('abs(-42)', symbols.abs(-42)));
  attempt('strlen', () => show('strlen("hello, world")  (a JS string)', symbols.strlen('hello, world')));
  attempt('strlen utf8', () => show('strlen("héllo ✓")  (UTF-8 bytes)', symbols.strlen('héllo ✓')));
  attempt('getpid', () => {
    const pid = (symbols.getpid || symbols._getpid)();
    show('getpid()', pid);
    show('  same as process.pid?', pid === process.pid);
  });

  // -------------------------------------------------------------------------------------------
  section('pointers: ptr, read, toArrayBuffer');
  attempt('ptr/read', () => {
    const bytes = new Uint8Array([0x63, 0x66, 0x66, 0x69, 0x00, 0x2a]); // "cffi\0" then 42
    const p = ptr(bytes);
    show('ptr(new Uint8Array([...]))', `0x${p.toString(16)}`);
    show('strlen(that pointer)', symbols.strlen(p));
    show('read.u8(p, 5)', read.u8(p, 5));
    show('new CString(p)', String(new CString(p)));
    const view = new Uint8Array(toArrayBuffer(p, 0, bytes.length));
    show('toArrayBuffer(p, 0, 6) bytes', Array.from(view));
    view[5] = 99; // same memory, no copy
    show('write through it, bytes[5] is now', bytes[5]);
    const ints = new Int32Array([-7, 123456789]);
    show('read.i32(ptr(ints), 4)', read.i32(ptr(ints), 4));
  });
  libc.lib.close();
  console.log('  libc closed');
}

// ---------------------------------------------------------------------------------------------
section('the system SQLite');
const sqliteNames =
  platform === 'win32'
    ? ['sqlite3.dll', 'winsqlite3.dll']
    : platform === 'darwin'
      ? ['libsqlite3.dylib', '/usr/lib/libsqlite3.dylib']
      : [`libsqlite3.${suffix}`, 'libsqlite3.so.0'];
const sqlite = openFirst(sqliteNames, {
  sqlite3_libversion: { args: [], returns: FFIType.cstring },
  sqlite3_open: { args: [FFIType.cstring, FFIType.ptr], returns: FFIType.i32 },
  sqlite3_exec: {
    args: [FFIType.ptr, FFIType.cstring, FFIType.ptr, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
  sqlite3_errmsg: { args: [FFIType.ptr], returns: FFIType.cstring },
  sqlite3_close: { args: [FFIType.ptr], returns: FFIType.i32 },
});
if (sqlite) {
  const { symbols } = sqlite.lib;
  console.log(`  opened ${sqlite.name}`);
  attempt('sqlite3', () => {
    show('sqlite3_libversion()', symbols.sqlite3_libversion());

    const handleOut = new BigUint64Array(1); // sqlite3 **ppDb
    const rcOpen = symbols.sqlite3_open(':memory:', ptr(handleOut));
    const handle = handleOut[0];
    show('sqlite3_open(":memory:", ptr(handleOut))', rcOpen);
    show('  handle read back from handleOut[0]', `0x${handle.toString(16)}`);
    show('  read.ptr(ptr(handleOut)) agrees', BigInt(read.ptr(ptr(handleOut))) === handle);

    const sql = 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)';
    show(`sqlite3_exec(handle, "CREATE TABLE users ...")`, symbols.sqlite3_exec(handle, sql, null, null, null));
    show('sqlite3_errmsg(handle)', symbols.sqlite3_errmsg(handle));

    const rcBad = symbols.sqlite3_exec(handle, 'CREATE TABLE users (x)', null, null, null);
    show('sqlite3_exec(...same table again...)', rcBad);
    show('sqlite3_errmsg(handle)', symbols.sqlite3_errmsg(handle));

    show('sqlite3_close(handle)', symbols.sqlite3_close(handle));
  });
  sqlite.lib.close();
}

// ---------------------------------------------------------------------------------------------
console.log(failures ? `\ndemo finished with ${failures} failure(s)` : '\ndemo finished: all OK');
process.exitCode = failures ? 1 : 0;
