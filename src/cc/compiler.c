/*
 * compiler.c - cc(): compiling C at run time with TinyCC, inside the process.
 *
 * Owns: reading cc()'s options, deciding whether a source string is code or
 * a file, driving libtcc, turning its diagnostics into JS errors, the cache
 * key, and binding the compiled symbols through cffi_bind_symbols (so they
 * behave exactly like dlopen's).
 *
 * Two ways to produce code:
 *   - in memory (TCC_OUTPUT_MEMORY + tcc_relocate): the TCC state owns the
 *     code and close() deletes it. Used when the cache is off or unusable.
 *   - as a shared object written into the cache (cache.c) and dlopen'ed:
 *     a later process with the same key loads it without compiling.
 * Either way nothing is left behind on failure, and no shell or external
 * program is involved: flags reach TinyCC's own option parser quoted, one
 * argument each.
 */
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cffi.h"

#ifdef CFFI_HAVE_TCC
#include <dlfcn.h>
#include <fcntl.h>
#include <libtcc.h>
#include <link.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cache.h"
#include "fixups.h"
#include "sha256.h"
#include "../platform/tcc_glue.h"
#include "../platform/tcc_limits.h"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)

/* What to tell someone whose build has no TinyCC. */
#if defined(__APPLE__) || defined(_WIN32)
#define TCC_MISSING_HINT                                                                        \
  "cc() is not supported on this operating system yet (cffi-bun links TinyCC into the addon " \
  "on Linux only); dlopen() and the rest of bun:ffi work."
#else
#define TCC_MISSING_HINT                                                                     \
  "cc() needs TinyCC, which was not found when cffi-bun was built. Install it (Debian/Ubuntu: " \
  "`apt-get install tcc libtcc-dev`) and rebuild cffi-bun (`npm rebuild cffi-bun`)."
#endif

#ifndef CFFI_HAVE_TCC

napi_value cffi_cc(napi_env env, napi_callback_info info) {
  (void)info;
  return cffi_throw(env, "Error", "%s", TCC_MISSING_HINT);
}

#else

/* A growable list of owned strings. */
typedef struct {
  char **items;
  uint32_t count;
} strlist;

typedef struct {
  char *text;   /* code, or a path */
  bool is_path;
} source_unit;

typedef struct cc_options {
  source_unit *sources;
  uint32_t nsources;
  bool source_is_array;
  strlist includes, libraries, node_includes;
  strlist flag_includes;               /* -I/-isystem given in flags */
  strlist define_names, define_values; /* value NULL: TinyCC's default "1" */
  char *flags;                         /* quoted for tcc_set_options, or NULL */
  bool has_std;                        /* flags chose a -std= (else C11, as Bun) */
  bool cache;
  uint64_t memory_limit;  /* bytes TinyCC may hold at once; 0: no limit */
  uint64_t time_limit_ms; /* 0: no limit */
} cc_options;

/* Generous for real code (an 8.7 MB source compiles here in 0.4 s holding
 * about 50 MB) and far below what takes a host down: see tcc_limits.c. */
#define DEFAULT_MEMORY_LIMIT (2ull << 30)
#define DEFAULT_TIME_LIMIT_MS 60000u

static void strlist_free(strlist *l) {
  for (uint32_t i = 0; i < l->count; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->count = 0;
}

static bool strlist_push(napi_env env, strlist *l, char *s) {
  char **grown = s ? realloc(l->items, (l->count + 1) * sizeof *grown) : NULL;
  if (!grown) {
    free(s);
    cffi_throw(env, "RangeError", "cc(): out of memory");
    return false;
  }
  l->items = grown;
  l->items[l->count++] = s;
  return true;
}

static void options_free(cc_options *o) {
  for (uint32_t i = 0; i < o->nsources; i++) free(o->sources[i].text);
  free(o->sources);
  strlist_free(&o->includes);
  strlist_free(&o->libraries);
  strlist_free(&o->node_includes);
  strlist_free(&o->flag_includes);
  strlist_free(&o->define_names);
  strlist_free(&o->define_values);
  free(o->flags);
}

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

static bool is_string(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_string;
}

/* options[name], or NULL when absent, undefined or null. */
static napi_value option(napi_env env, napi_value options, const char *name) {
  napi_value v;
  if (napi_get_named_property(env, options, name, &v) != napi_ok || is_nullish(env, v)) return NULL;
  return v;
}

/* A string or an array of strings, appended to out. */
static bool read_string_list(napi_env env, napi_value v, const char *name, strlist *out) {
  bool is_array = false;
  char what[64];
  snprintf(what, sizeof what, "cc() option \"%s\"", name);
  if (is_string(env, v)) return strlist_push(env, out, cffi_string_dup(env, v, what));
  napi_is_array(env, v, &is_array);
  if (!is_array) {
    cffi_throw(env, "TypeError", "%s must be a string or an array of strings, received %s", what,
               cffi_value_kind(env, v));
    return false;
  }
  uint32_t n;
  napi_get_array_length(env, v, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, v, i, &item);
    char *s = cffi_string_dup(env, item, what);
    if (!s || !strlist_push(env, out, s)) return false;
  }
  return true;
}

static bool regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Code or a file? A string that names an existing file is a path (relative
 * to the current working directory, as in Bun), whatever characters it
 * holds. Otherwise a string containing a newline, `{` or `;` is code (every
 * function definition has one). A string ending in ".c" or ".h" that names
 * no file is a missing source file, reported as such rather than compiled
 * as code. Anything else is code.
 */
static bool classify_source(napi_env env, char *text, source_unit *unit) {
  unit->text = text;
  unit->is_path = regular_file(text);
  if (unit->is_path || strpbrk(text, "\n{;")) return true;
  if (ends_with(text, ".c") || ends_with(text, ".h")) {
    cffi_throw(env, "Error", "cc(): source file \"%s\" not found (relative paths resolve against the current directory)", text);
    return false;
  }
  return true;
}

static bool read_sources(napi_env env, napi_value v, cc_options *o) {
  strlist raw = {0};
  if (!v) {
    cffi_throw(env, "TypeError", "cc() needs \"source\": C code, a path to a .c file, or an array of them");
    return false;
  }
  o->source_is_array = !is_string(env, v);
  if (!read_string_list(env, v, "source", &raw)) {
    strlist_free(&raw);
    return false;
  }
  if (raw.count == 0) {
    cffi_throw(env, "TypeError", "cc() option \"source\" is an empty array");
    return false;
  }
  o->sources = calloc(raw.count, sizeof *o->sources);
  if (!o->sources) {
    strlist_free(&raw);
    cffi_throw(env, "RangeError", "cc(): out of memory");
    return false;
  }
  bool ok = true;
  for (uint32_t i = 0; i < raw.count; i++) {
    if (ok) {
      ok = classify_source(env, raw.items[i], &o->sources[i]);
      o->nsources = i + 1; /* the unit owns its text now */
    } else {
      free(raw.items[i]);
    }
  }
  free(raw.items);
  return ok;
}

/* define: { NAME: value }. A value of true/undefined defines NAME as 1,
 * false as 0, "" as empty; numbers and strings are used as written. */
static bool read_defines(napi_env env, napi_value v, cc_options *o) {
  napi_value names;
  uint32_t n;
  if (!cffi_object_keys(env, v, "cc() option \"define\" must be an object of macro names to values", &names, &n))
    return false;
  napi_valuetype t;
  for (uint32_t i = 0; i < n; i++) {
    napi_value key, value;
    napi_get_element(env, names, i, &key);
    napi_get_property(env, v, key, &value);
    char *name = cffi_string_dup(env, key, "define name");
    if (!name || !strlist_push(env, &o->define_names, name)) return false;
    /* TinyCC turns each define into a "#define NAME VALUE" line: a newline
     * or '=' would change what gets defined. */
    if (!name[0] || strpbrk(name, "=\n\r \t")) {
      cffi_throw(env, "TypeError", "cc(): invalid macro name \"%s\" in \"define\"", name);
      return false;
    }
    char *text = NULL;
    napi_typeof(env, value, &t);
    if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, value, &b);
      text = strdup(b ? "1" : "0");
    } else if (t == napi_string || t == napi_number || t == napi_bigint) {
      napi_value s;
      if (napi_coerce_to_string(env, value, &s) != napi_ok) return false;
      text = cffi_string_dup(env, s, "define value");
      if (!text) return false;
    } else if (t != napi_undefined && t != napi_null) {
      cffi_throw(env, "TypeError", "cc(): define \"%s\" must be a string, number or boolean, received %s", name,
                 cffi_value_kind(env, value));
      return false;
    }
    if (text && strpbrk(text, "\n\r")) {
      free(text);
      cffi_throw(env, "TypeError", "cc(): define \"%s\" has a line break in its value", name);
      return false;
    }
    /* strlist_push refuses NULL, so the default is stored as a NULL slot. */
    char **grown = realloc(o->define_values.items, (o->define_values.count + 1) * sizeof *grown);
    if (!grown) {
      free(text);
      cffi_throw(env, "RangeError", "cc(): out of memory");
      return false;
    }
    o->define_values.items = grown;
    o->define_values.items[o->define_values.count++] = text;
  }
  return true;
}

/* One argument for tcc_set_options, which splits on blanks and honours
 * "..." quoting with \" and \\ escapes: quoting every argument keeps its
 * boundaries exactly, whatever characters it holds. */
static bool append_quoted(char **buf, size_t *len, const char *arg) {
  size_t need = *len + 2 * strlen(arg) + 4;
  char *grown = realloc(*buf, need);
  if (!grown) return false;
  *buf = grown;
  char *p = grown + *len;
  if (*len) *p++ = ' ';
  *p++ = '"';
  for (const char *s = arg; *s; s++) {
    if (*s == '"' || *s == '\\') *p++ = '\\';
    *p++ = *s;
  }
  *p++ = '"';
  *p = 0;
  *len = (size_t)(p - grown);
  return true;
}

/* Splits a flags string into words exactly as Bun 1.4.5 does (it hands the
 * string to TinyCC's own option parser; measured, see test/cc-flags):
 * blanks separate words, a double quote toggles quoting and is dropped,
 * a backslash before `"` or `\` takes that character literally, and
 * everything else (single quotes, other backslashes) is an ordinary
 * character. Each word is handed to add(). */
static bool split_flag_words(const char *text, bool (*add)(void *, const char *), void *data) {
  char *word = malloc(strlen(text) + 1);
  if (!word) return false;
  bool ok = true;
  const char *p = text;
  while (ok) {
    while (*p && (unsigned char)*p <= ' ') p++;
    if (!*p) break;
    size_t len = 0;
    bool quoted = false;
    for (; *p; p++) {
      if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
      else if (*p == '"') {
        quoted = !quoted;
        continue;
      } else if (!quoted && (unsigned char)*p <= ' ') {
        break;
      }
      word[len++] = *p;
    }
    word[len] = 0;
    ok = add(data, word);
  }
  free(word);
  return ok;
}

typedef struct {
  napi_env env;
  cc_options *o;
  size_t len;
  bool include_next; /* the previous word was a lone -I or -isystem */
  bool takes_next;   /* the previous word was an option whose argument is the next word */
  unsigned list_depth; /* @file list files being read, one inside another */
} flag_sink;

/* TinyCC 0.9.27's options whose argument may be the next word (HAS_ARG
 * without NOSEP in its table): "@x" there is that argument, not a list file. */
static bool takes_separate_argument(const char *arg) {
  static const char *const names[] = {"-I", "-D", "-U", "-L", "-B", "-l", "-soname", "-o", "--param",
                                      "-mfloat-abi", "-isystem", "-include", "-MF", "-x"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(arg, names[i]) == 0) return true;
  return false;
}

#define MAX_LIST_DEPTH 16

static bool add_flag(void *data, const char *arg);

/* "@file" in flags, as TinyCC means it: the file's words in its place, split
 * by the flags string's rules (TinyCC splits list files with the same
 * parser). Done here because TinyCC 0.9.27's tcc_set_options frees the
 * argument list its list-file expansion has just handed to the state (a
 * double free: SIGSEGV or an abort in the host, as in Bun 1.4.5); expanded
 * here, the file's contents also reach the cache key. */
static bool add_list_file(flag_sink *sink, const char *path) {
  if (sink->list_depth >= MAX_LIST_DEPTH) {
    cffi_throw(sink->env, "Error", "cc(): flags: list file '%s' is nested more than %d deep (does it name itself?)", path,
               MAX_LIST_DEPTH);
    return false;
  }
  FILE *file = fopen(path, "rb");
  if (!file) {
    cffi_throw(sink->env, "Error", "cc(): flags: cannot read list file '%s': %s", path, strerror(errno));
    return false;
  }
  char *text = NULL;
  size_t size = 0, room = 0;
  for (;;) {
    if (size + 1 >= room) {
      char *grown = realloc(text, room = room ? room * 2 : 4096);
      if (!grown) break;
      text = grown;
    }
    size_t got = fread(text + size, 1, room - size - 1, file);
    if (got == 0) break;
    size += got;
  }
  fclose(file);
  if (!text || size + 1 >= room) { /* out of memory: read_flags says so */
    free(text);
    return false;
  }
  text[size] = 0;
  sink->list_depth++;
  bool ok = split_flag_words(text, add_flag, sink);
  sink->list_depth--;
  free(text);
  return ok;
}

/* Keeps a copy of include directories for __has_include (fixups.c). */
static bool add_flag(void *data, const char *arg) {
  flag_sink *sink = data;
  const bool option_argument = sink->takes_next;
  sink->takes_next = takes_separate_argument(arg);
  if (arg[0] == '@' && arg[1] && !option_argument) return add_list_file(sink, arg + 1);
  const char *dir = NULL;
  if (sink->include_next) dir = arg;
  else if (strncmp(arg, "-I", 2) == 0 && arg[2]) dir = arg + 2;
  else if (strncmp(arg, "-isystem", 8) == 0 && arg[8]) dir = arg + 8;
  sink->include_next = strcmp(arg, "-I") == 0 || strcmp(arg, "-isystem") == 0;
  if (strncmp(arg, "-std=", 5) == 0) sink->o->has_std = true;
  if (dir && !strlist_push(sink->env, &sink->o->flag_includes, strdup(dir))) return false;
  return append_quoted(&sink->o->flags, &sink->len, arg);
}

/* flags: a string split as Bun splits it, or an array, one argument per
 * element. */
static bool read_flags(napi_env env, napi_value v, cc_options *o) {
  strlist args = {0};
  bool ok = read_string_list(env, v, "flags", &args);
  flag_sink sink = {env, o, 0, false, false, 0};
  for (uint32_t i = 0; ok && i < args.count; i++) {
    if (is_string(env, v)) {
      ok = split_flag_words(args.items[i], add_flag, &sink);
    } else if (args.items[i][0]) {
      ok = add_flag(&sink, args.items[i]);
    }
    bool pending = false;
    if (!ok && napi_is_exception_pending(env, &pending) == napi_ok && !pending)
      cffi_throw(env, "RangeError", "cc(): out of memory");
  }
  strlist_free(&args);
  return ok;
}

/* memoryLimit/timeLimit: a positive number, or Infinity for none. */
static bool read_limit(napi_env env, napi_value options, const char *name, const char *unit, double max,
                       uint64_t *out) {
  napi_value v = option(env, options, name);
  if (!v || is_nullish(env, v)) return true;
  napi_valuetype t;
  double x = 0;
  napi_typeof(env, v, &t);
  if (t == napi_number) napi_get_value_double(env, v, &x);
  if (t != napi_number || !(x > 0)) {
    char received[64] = "";
    napi_value text;
    size_t len;
    if (t == napi_number && napi_coerce_to_string(env, v, &text) == napi_ok) /* as JS prints it */
      napi_get_value_string_utf8(env, text, received, sizeof received, &len);
    cffi_throw(env, "TypeError", "cc() option \"%s\" must be a positive number of %s, or Infinity for no limit, "
               "received %s", name, unit, t == napi_number ? received : cffi_value_kind(env, v));
    return false;
  }
  *out = x >= max ? 0 : x < 1 ? 1 : (uint64_t)x; /* past max: no limit in practice */
  return true;
}

static bool read_options(napi_env env, napi_value options, napi_value node_includes, cc_options *o) {
  napi_valuetype t;
  napi_typeof(env, options, &t);
  if (t != napi_object) {
    cffi_throw(env, "TypeError", "cc() expects an options object like { source, symbols }, received %s",
               cffi_value_kind(env, options));
    return false;
  }
  napi_value v;
  o->cache = true;
  if (!read_sources(env, option(env, options, "source"), o)) return false;
  if ((v = option(env, options, "include")) && !read_string_list(env, v, "include", &o->includes)) return false;
  if ((v = option(env, options, "library")) && !read_string_list(env, v, "library", &o->libraries)) return false;
  if ((v = option(env, options, "define")) && !read_defines(env, v, o)) return false;
  if ((v = option(env, options, "flags")) && !read_flags(env, v, o)) return false;
  if ((v = option(env, options, "cache"))) {
    bool b = true;
    napi_get_value_bool(env, v, &b);
    o->cache = b;
  }
  o->memory_limit = DEFAULT_MEMORY_LIMIT;
  o->time_limit_ms = DEFAULT_TIME_LIMIT_MS;
  /* 2^62 bytes and 10^12 ms (31 years): beyond them, no limit, so the
   * budget's arithmetic cannot overflow. */
  if (!read_limit(env, options, "memoryLimit", "bytes", 0x1p62, &o->memory_limit) ||
      !read_limit(env, options, "timeLimit", "milliseconds", 1e12, &o->time_limit_ms))
    return false;
  if (node_includes && !is_nullish(env, node_includes) &&
      !read_string_list(env, node_includes, "node include dirs", &o->node_includes))
    return false;
  return true;
}

/* ---- where TinyCC's files are ------------------------------------------ */

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#else
#define MULTIARCH ""
#endif

/* TinyCC's run-time directory: libtcc1.a and include/ (stddef.h, stdarg.h,
 * float.h, ...). A prebuilt package ships it beside the addon as tcc/ (so
 * cc() needs no tcc package); otherwise the system's, where Debian's tcc
 * package puts it. Decided once per process. */
static char runtime_dir[4096];
static pthread_once_t runtime_once = PTHREAD_ONCE_INIT;

static bool dir_has(const char *dir, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static void find_runtime_dir(void) {
  Dl_info info;
  if (dladdr((void *)cffi_cc, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash) {
      snprintf(runtime_dir, sizeof runtime_dir, "%.*s/tcc", (int)(slash - info.dli_fname), info.dli_fname);
      if (dir_has(runtime_dir, "libtcc1.a") || dir_has(runtime_dir, "include/stddef.h")) return;
    }
  }
  static const char *const system_dirs[] = {"/usr/lib/" MULTIARCH "/tcc", "/usr/local/lib/tcc", "/usr/lib/tcc",
                                            "/usr/lib64/tcc"};
  for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++) {
    if (dir_has(system_dirs[i], "libtcc1.a") || dir_has(system_dirs[i], "include/stddef.h")) {
      snprintf(runtime_dir, sizeof runtime_dir, "%s", system_dirs[i]);
      return;
    }
  }
  /* Nothing anywhere: keep Debian's place, so the errors name it. */
  snprintf(runtime_dir, sizeof runtime_dir, "%s", system_dirs[0]);
}

static const char *tcc_runtime_dir(void) {
  const char *forced = getenv("CFFI_BUN_TCC_DIR"); /* for tests and unusual installs */
  if (forced && forced[0]) return forced;
  pthread_once(&runtime_once, find_runtime_dir);
  return runtime_dir;
}

/* ---- compiling ---------------------------------------------------------- */

/* TinyCC's messages for one compilation, one per line. */
typedef struct {
  char *text;
  size_t len, cap;
  uint32_t errors, warnings;
  const struct cc_options *o; /* for the sources' text (see expected_line) */
  const cffi_tcc_limits *limits; /* the running compile's, or NULL */
  bool over_limit;               /* a compile stopped at one of cc()'s limits */
} diagnostics;

static void diag_append(diagnostics *d, const char *msg) {
  size_t n = strlen(msg);
  /* Enough to show every error of a sane compilation; a runaway stream of
   * warnings is cut rather than grown without bound. */
  if (d->len + n + 2 > 16384) return;
  if (d->len + n + 2 > d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 512;
    while (cap < d->len + n + 2) cap *= 2;
    char *grown = realloc(d->text, cap);
    if (!grown) return;
    d->text = grown;
    d->cap = cap;
  }
  memcpy(d->text + d->len, msg, n);
  d->len += n;
  d->text[d->len++] = '\n';
  d->text[d->len] = 0;
}

/* The text of a file a message names: an inline source by its label, or
 * the file itself (fopen: not seen by the open() hook). Caller frees. */
static char *message_file_text(const diagnostics *d, const char *name, size_t name_len) {
  for (uint32_t i = 0; d->o && i < d->o->nsources; i++) {
    char label[32];
    if (d->o->sources[i].is_path) continue;
    if (d->o->source_is_array) snprintf(label, sizeof label, "source[%u]", i);
    else snprintf(label, sizeof label, "source");
    if (strlen(label) == name_len && memcmp(label, name, name_len) == 0) return strdup(d->o->sources[i].text);
  }
  char path[4096];
  if (name_len >= sizeof path) return NULL;
  memcpy(path, name, name_len);
  path[name_len] = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size >= 0 && size < (64 << 20) && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
      size_t got = fread(text, 1, (size_t)size, f);
      text[got] = 0;
    }
  }
  fclose(f);
  return text;
}

/* TinyCC reports "';' expected (got "}")" at the token it got, so a
 * semicolon missing at the end of line 2 is reported on line 3. gcc (and
 * users) put it where it is missing: when the unexpected token is the first
 * thing on its line, the message moves to the last line before it that has
 * code. Returns the corrected line, or `line` itself. */
static long expected_line(const diagnostics *d, const char *name, size_t name_len, long line, const char *got) {
  char *text = message_file_text(d, name, name_len);
  if (!text) return line;
  long result = line, n = 1, last_code = 0;
  const char *p = text;
  for (; *p && n < line; p++) {
    if (*p == '\n') n++;
    else if (*p != ' ' && *p != '\t' && *p != '\r') last_code = n;
  }
  while (*p == ' ' || *p == '\t') p++;
  if (n == line && last_code > 0 && strncmp(p, got, strlen(got)) == 0) result = last_code;
  free(text);
  return result;
}

/* The message for a compile stopped at a limit, where TinyCC said
 * "memory full" (the budget's refusal reaches it as a failed malloc). */
static void limit_message(const diagnostics *d, char *out, size_t size) {
  const cc_options *o = d->o;
  if (d->limits->hit == CFFI_TCC_REFUSED_FOR_TEST)
    snprintf(out, size, "cc() stopped the compile at allocation %lld (CFFI_BUN_TEST_CC_REFUSE_AT)",
             (long long)d->limits->refuse_at);
  else if (d->limits->hit == CFFI_TCC_OVER_TIME)
    snprintf(out, size, "cc() stopped the compile after its timeLimit of %llu ms (pass a larger timeLimit, or "
             "Infinity, to allow more)", (unsigned long long)o->time_limit_ms);
  else
    snprintf(out, size, "cc() stopped the compile at its memoryLimit of %llu bytes: TinyCC needed more (pass a "
             "larger memoryLimit, or Infinity, to allow more)", (unsigned long long)o->memory_limit);
}

/* Counts msg as a warning or an error; returns its last line (after any
 * "In file included from" lines). */
static const char *count_diagnostic(diagnostics *d, const char *msg) {
  const char *last = msg;
  for (const char *nl; (nl = strchr(last, '\n'));) last = nl + 1;
  if (strstr(last, ": warning: ")) d->warnings++;
  else d->errors++;
  return last;
}

/* Keeps a diagnostic, its line fixed where TinyCC names the wrong one. */
static void record_diagnostic(diagnostics *d, const char *msg, const char *last) {
  /* "<file>:<line>: error: X expected (got "Y")" */
  const char *err = strstr(last, ": error: ");
  const char *got = err ? strstr(err, " expected (got \"") : NULL;
  size_t msg_len = strlen(msg);
  if (got && msg_len > 2 && msg[msg_len - 1] == ')' && msg[msg_len - 2] == '"' && msg_len < 4000) {
    const char *colon = err;
    while (colon > last && colon[-1] != ':') colon--;
    char *end;
    long line = colon > last ? strtol(colon, &end, 10) : 0;
    if (line > 0 && end == err) {
      char token[64];
      const char *token_start = got + 16;
      size_t token_len = (size_t)(msg + msg_len - 2 - token_start);
      if (token_len > 0 && token_len < sizeof token) {
        memcpy(token, token_start, token_len);
        token[token_len] = 0;
        long fixed = expected_line(d, last, (size_t)(colon - 1 - last), line, token);
        if (fixed != line) {
          char rewritten[4100];
          snprintf(rewritten, sizeof rewritten, "%.*s%ld%s", (int)(colon - msg), msg, fixed, err);
          diag_append(d, rewritten);
          return;
        }
      }
    }
  }
  diag_append(d, msg);
}

/* After a limit stopped the compile, TinyCC's "memory full" becomes what
 * happened, at the place it happened; what it says while unwinding is kept. */
static void on_limit_diagnostic(diagnostics *d, const char *msg) {
  const char *full = strstr(msg, "memory full");
  if (!full || d->over_limit) {
    diag_append(d, msg);
    return;
  }
  d->over_limit = true;
  char text[4400], why[400];
  limit_message(d, why, sizeof why);
  /* Where it happened (with any "In file included from" lines), unless
   * that is text compiled before the user's (va_arg_runtime or TinyCC's
   * predefined macros, "<string>:", "<command line>:") or nowhere in
   * particular ("tcc:"). */
  const char *line = full;
  while (line > msg && line[-1] != '\n') line--;
  bool nowhere = strncmp(line, "<string>:", 9) == 0 || strncmp(line, "<command line>:", 15) == 0 ||
                 strncmp(line, "tcc: ", 5) == 0;
  size_t where = nowhere || (size_t)(full - msg) >= 4000 ? 0 : (size_t)(full - msg);
  snprintf(text, sizeof text, "%.*s%s%s", (int)where, msg, where ? "" : "error: ", why);
  diag_append(d, text);
}

/* TinyCC's error callback. Keeping the message is outside cc()'s limits:
 * refused, it would be lost while the compile went on (tcc_limits.c). */
static void on_diagnostic(void *opaque, const char *msg) {
  diagnostics *d = opaque;
  cffi_tcc_limits_pause(true);
  const char *last = count_diagnostic(d, msg);
  if (d->limits && d->limits->hit) on_limit_diagnostic(d, msg);
  else record_diagnostic(d, msg, last);
  cffi_tcc_limits_pause(false);
}

/* The search order TinyCC uses, for __has_include: -I directories, then its
 * own include directory and the system's, then Node's headers. */
typedef struct {
  const char **dirs;
  uint32_t count;
  char runtime_include[4200];
} search_path;

static bool search_path_build(const cc_options *o, const char *runtime, search_path *sp) {
  static const char *const system[] = {"/usr/local/include/" MULTIARCH, "/usr/local/include",
                                       "/usr/include/" MULTIARCH, "/usr/include"};
  uint32_t n = o->includes.count + o->flag_includes.count + 1 + 4 + o->node_includes.count;
  sp->dirs = calloc(n, sizeof *sp->dirs);
  if (!sp->dirs) return false;
  snprintf(sp->runtime_include, sizeof sp->runtime_include, "%s/include", runtime);
  for (uint32_t i = 0; i < o->flag_includes.count; i++) sp->dirs[sp->count++] = o->flag_includes.items[i];
  for (uint32_t i = 0; i < o->includes.count; i++) sp->dirs[sp->count++] = o->includes.items[i];
  sp->dirs[sp->count++] = sp->runtime_include;
  for (uint32_t i = 0; i < 4; i++) sp->dirs[sp->count++] = system[i];
  for (uint32_t i = 0; i < o->node_includes.count; i++) sp->dirs[sp->count++] = o->node_includes.items[i];
  return true;
}

/* Builtins real code uses that TinyCC 0.9.27 lacks, as macros over GNU
 * statement expressions (self-contained: nothing to link, and the same in
 * memory and in a cached shared object). clz/ctz of 0 are undefined in gcc;
 * here they give the width. */
static const char *const builtin_macros[][2] = {
    {"__builtin_unreachable()", "((void)0)"},
    {"__cffi_popcount(T, x)", "({ T __v = (x); int __n = 0; while (__v) { __v &= __v - 1; __n++; } __n; })"},
    {"__cffi_clz(T, x)",
     "({ T __v = (x); int __n = 0, __w = (int)sizeof(T) * 8; "
     "while (__n < __w && !(__v & ((T)1 << (__w - 1)))) { __v <<= 1; __n++; } __n; })"},
    {"__cffi_ctz(T, x)",
     "({ T __v = (x); int __n = 0, __w = (int)sizeof(T) * 8; while (__n < __w && !(__v & 1)) { __v >>= 1; __n++; } __n; })"},
    {"__builtin_popcount(x)", "__cffi_popcount(unsigned int, x)"},
    {"__builtin_popcountl(x)", "__cffi_popcount(unsigned long, x)"},
    {"__builtin_popcountll(x)", "__cffi_popcount(unsigned long long, x)"},
    {"__builtin_clz(x)", "__cffi_clz(unsigned int, x)"},
    {"__builtin_clzl(x)", "__cffi_clz(unsigned long, x)"},
    {"__builtin_clzll(x)", "__cffi_clz(unsigned long long, x)"},
    {"__builtin_ctz(x)", "__cffi_ctz(unsigned int, x)"},
    {"__builtin_ctzl(x)", "__cffi_ctz(unsigned long, x)"},
    {"__builtin_ctzll(x)", "__cffi_ctz(unsigned long long, x)"},
    {"__builtin_bswap16(x)", "({ unsigned short __v16 = (x); (unsigned short)((__v16 >> 8) | (__v16 << 8)); })"},
    {"__builtin_bswap32(x)",
     "({ unsigned int __v32 = (x); "
     "(__v32 >> 24) | ((__v32 >> 8) & 0xff00u) | ((__v32 << 8) & 0xff0000u) | (__v32 << 24); })"},
    {"__builtin_bswap64(x)",
     "({ unsigned long long __v64 = (x); ((unsigned long long)__builtin_bswap32((unsigned int)__v64) << 32) | "
     "__builtin_bswap32((unsigned int)(__v64 >> 32)); })"},
};

#if defined(__x86_64__)
/* TinyCC lowers va_arg to a call to __va_arg, which its libtcc1.a defines.
 * Debian's 0.9.27 copy gets two cases wrong: a struct passed in two SSE
 * registers (struct { double a, b; }) is read as if its halves were
 * adjacent, and an over-aligned value on the stack (long double) is taken
 * from before the alignment. This definition, compiled into every cc()
 * unit, is found before the archive's. The register save area is the
 * callee's own copy, so gathering the two halves into one slot is safe. */
static const char va_arg_runtime[] =
    "#line 1 \"<cffi-bun va_arg>\"\n"
    "void *__va_arg(__builtin_va_list ap, int type, int size, int align) {\n"
    "  size = (size + 7) & ~7;\n"
    "  align = (align + 7) & ~7;\n"
    "  if (type == 0 && ap->gp_offset + size <= 48) {\n"
    "    ap->gp_offset += size;\n"
    "    return ap->reg_save_area + ap->gp_offset - size;\n"
    "  }\n"
    "  if (type == 1 && ap->fp_offset + 2 * size <= 176) {\n"
    "    char *slot = ap->reg_save_area + ap->fp_offset;\n"
    "    ap->fp_offset += 2 * size;\n"
    "    if (size == 16) *(double *)(slot + 8) = *(double *)(slot + 16);\n"
    "    return slot;\n"
    "  }\n"
    "  char *at = (char *)(((unsigned long)ap->overflow_arg_area + align - 1) & -(unsigned long)align);\n"
    "  ap->overflow_arg_area = at + size;\n"
    "  return at;\n"
    "}\n";
#endif

/* One compilation, run on the compile thread (tcc_glue.c): everything it
 * makes is reachable from here, so a compilation that TinyCC abandons with
 * exit() is still cleaned up. */
typedef struct {
  const cc_options *o;
  int output;
  const char *out_path;
  diagnostics *d;
  cffi_deps *deps; /* NULL: not caching */
  search_path sp;
  cffi_include_path inc;
  TCCState *state;
  char *inline_text;
  cffi_tcc_limits limits;
  bool ok;
} compile_job;

/* Whole contents of fd, or NULL (too big, unreadable, or not text). */
static char *read_text(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) return NULL;
  size_t size = (size_t)st.st_size, done = 0;
  char *buf = malloc(size + sizeof CFFI_CDEFS_SUFFIX);
  if (!buf) return NULL;
  while (done < size) {
    ssize_t got = pread(fd, buf + done, size - done, (off_t)done);
    if (got <= 0) break;
    done += (size_t)got;
  }
  if (done != size || memchr(buf, 0, size < 4096 ? size : 4096)) {
    free(buf);
    return NULL;
  }
  *len = size;
  return buf;
}

/* A descriptor reading back text (memfd; an unlinked temporary file where
 * memfd_create is missing). -1 on failure. */
static int text_fd(const char *text, size_t len) {
  int fd = -1;
#ifdef SYS_memfd_create
  fd = (int)syscall(SYS_memfd_create, "cffi-bun-cc", 1u /* MFD_CLOEXEC */);
#endif
  if (fd < 0) {
    char name[] = "/tmp/cffi-bun-cc-XXXXXX";
    fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0) unlink(name);
  }
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < len) {
    ssize_t put = write(fd, text + done, len - done);
    if (put <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)put;
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static bool binary_name(const char *path) {
  return ends_with(path, ".a") || ends_with(path, ".o") || ends_with(path, ".so") || strstr(path, ".so.");
}

/* The open() hook: records what TinyCC looked at and hands it fixed text
 * (fixups.c) where that is needed. */
static int read_opened(compile_job *job, const char *path, int fd) {
  if (job->deps) cffi_deps_record(job->deps, path, fd);
  if (fd < 0 || binary_name(path)) return fd;
  size_t len;
  char *text = read_text(fd, &len);
  if (!text) return fd;
  bool changed = cffi_fixup_has_include(text, len, &job->inc, path);
  if (cffi_is_sys_cdefs(path)) {
    memcpy(text + len, CFFI_CDEFS_SUFFIX, sizeof CFFI_CDEFS_SUFFIX - 1);
    len += sizeof CFFI_CDEFS_SUFFIX - 1;
    changed = true;
  }
  int replacement = changed ? text_fd(text, len) : -1;
  free(text);
  if (replacement < 0) return fd;
  close(fd);
  return replacement;
}

/* A file TinyCC opened: its dependency noted, its text fixed. Allocations
 * here are outside cc()'s limits, since a refused one would quietly lose a
 * dependency or a fix rather than stop the compile (tcc_limits.c). */
static int on_open(void *data, const char *path, int fd) {
  cffi_tcc_limits_pause(true);
  fd = read_opened(data, path, fd);
  cffi_tcc_limits_pause(false);
  return fd;
}

/* Inline code gets a #line naming it after its place in the options, so
 * errors read "source:3: error: ..." or "source[1]:3: ..." instead of
 * TinyCC's generic "<string>". */
static int compile_inline(compile_job *job, uint32_t i) {
  const cc_options *o = job->o;
  const char *code = o->sources[i].text;
  size_t n = strlen(code) + 64;
  free(job->inline_text);
  char *text = job->inline_text = malloc(n);
  if (!text) return -1;
  if (o->source_is_array) snprintf(text, n, "#line 1 \"source[%u]\"\n%s", i, code);
  else snprintf(text, n, "#line 1 \"source\"\n%s", code);
  cffi_tcc_limits_pause(true); /* as in on_open */
  cffi_fixup_has_include(text, strlen(text), &job->inc, NULL);
  cffi_tcc_limits_pause(false);
  return tcc_compile_string(job->state, text);
}

static void compile_run(void *data) {
  compile_job *job = data;
  const cc_options *o = job->o;
  diagnostics *d = job->d;
  TCCState *s = job->state = tcc_new();
  if (!s) {
    diag_append(d, "error: out of memory creating the TinyCC state");
    return;
  }
  cffi_tcc_watch_opens(on_open, job);
  tcc_set_error_func(s, d, on_diagnostic);
  tcc_set_lib_path(s, tcc_runtime_dir());
  /* Options first: some (-nostdlib, -std=) decide what tcc_set_output_type
   * sets up. C11 unless the user chose, as Bun compiles. */
  if (!o->has_std) tcc_set_options(s, "-std=c11");
  if (o->flags) tcc_set_options(s, o->flags);
  if (d->errors) return;
  tcc_set_output_type(s, job->output);
  /* Searched after the system's library directories: a prebuilt package
   * may ship one-line linker scripts there (libc.so: GROUP ( libc.so.6 ))
   * for systems without libc6-dev. */
  tcc_add_library_path(s, tcc_runtime_dir());
  for (uint32_t i = 0; i < o->includes.count; i++) tcc_add_include_path(s, o->includes.items[i]);
  /* Node's headers come after the user's and the system's own directories,
   * so <node_api.h> and <node/node_api.h> both resolve. */
  for (uint32_t i = 0; i < o->node_includes.count; i++) tcc_add_sysinclude_path(s, o->node_includes.items[i]);
  for (size_t i = 0; i < sizeof builtin_macros / sizeof builtin_macros[0]; i++)
    tcc_define_symbol(s, builtin_macros[i][0], builtin_macros[i][1]);
  for (uint32_t i = 0; i < o->define_names.count; i++)
    tcc_define_symbol(s, o->define_names.items[i], o->define_values.items[i]);
  /* The limits apply from the first unit on: what comes before is sized by
   * the options, and TinyCC reports an error there (outside a compilation)
   * on stderr as well as to on_diagnostic. */
  cffi_tcc_limits_begin(&job->limits);
  bool ok = true;
#if defined(__x86_64__)
  ok = tcc_compile_string(s, va_arg_runtime) != -1;
#endif
  for (uint32_t i = 0; ok && i < o->nsources; i++) {
    ok = (o->sources[i].is_path ? tcc_add_file(s, o->sources[i].text) : compile_inline(job, i)) != -1;
  }
  cffi_tcc_limits_linking(&job->limits, s);
  for (uint32_t i = 0; ok && i < o->libraries.count; i++) {
    if (tcc_add_library(s, o->libraries.items[i]) == -1) {
      char msg[600];
      snprintf(msg, sizeof msg, "error: library '%s' not found (looked for lib%s.so and lib%s.a)",
               o->libraries.items[i], o->libraries.items[i], o->libraries.items[i]);
      on_diagnostic(d, msg);
      ok = false;
    }
  }
  if (ok && job->output == TCC_OUTPUT_MEMORY) ok = tcc_relocate(s, TCC_RELOCATE_AUTO) >= 0;
  if (ok && job->output == TCC_OUTPUT_DLL) ok = tcc_output_file(s, job->out_path) >= 0;
  cffi_tcc_limits_linked(&job->limits);
  job->ok = ok && d->errors == 0;
}

/* TinyCC recurses once per nesting level of the code it parses, ~600 bytes
 * each; this stack takes the deepest nesting cc() accepts with a wide
 * margin. Untouched stack pages cost nothing. */
#define COMPILE_STACK (256u << 20)
#define MAX_NESTING 100000u

/* The deepest nesting of (), [] and {} in text, ignoring comments, string
 * and character literals: checked before TinyCC recurses into it. */
static uint32_t nesting_depth(const char *p, size_t len) {
  const char *end = p + len;
  uint32_t depth = 0, deepest = 0;
  for (; p < end; p++) {
    char c = *p;
    if (c == '(' || c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ')' || c == ']' || c == '}') && depth) {
      depth--;
    } else if (c == '/' && p + 1 < end && p[1] == '*') {
      const char *close = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);
      p = close ? close + 1 : end;
    } else if (c == '/' && p + 1 < end && p[1] == '/') {
      while (p + 1 < end && p[1] != '\n') p++;
    } else if (c == '"' || c == '\'') {
      for (p++; p < end && *p != c && *p != '\n'; p++)
        if (*p == '\\' && p + 1 < end) p++;
    }
  }
  return deepest;
}

/* A unit's code: its own text, or its file read (the caller frees that
 * copy when it differs from u->text); NULL when the file cannot be read. */
static char *source_text(const source_unit *u, size_t *len) {
  *len = strlen(u->text);
  if (!u->is_path) return u->text;
  int fd = open(u->text, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *text = read_text(fd, len);
  close(fd);
  return text;
}

static bool check_nesting(const cc_options *o, diagnostics *d) {
  for (uint32_t i = 0; i < o->nsources; i++) {
    const source_unit *u = &o->sources[i];
    size_t len;
    char *text = source_text(u, &len);
    if (!text) continue; /* TinyCC reports what is wrong with the file */
    uint32_t depth = nesting_depth(text, len);
    if (text != u->text) free(text);
    if (depth > MAX_NESTING) {
      char msg[600];
      snprintf(msg, sizeof msg, "%s: error: brackets nested %u deep; cc() accepts at most %u levels",
               u->is_path ? u->text : "source", depth, MAX_NESTING);
      on_diagnostic(d, msg);
      return false;
    }
  }
  return true;
}

/* Runs TinyCC over everything in o. Returns the state, or NULL when
 * compilation failed (the reasons are in d). For TCC_OUTPUT_MEMORY the code
 * is relocated and ready; for TCC_OUTPUT_DLL it is written to out_path.
 * deps, when given, receives every file looked at. */
static TCCState *compile(const cc_options *o, int output, const char *out_path, diagnostics *d, cffi_deps *deps) {
  compile_job job = {.o = o, .output = output, .out_path = out_path, .d = d, .deps = deps};
  job.limits.memory_bytes = o->memory_limit;
  job.limits.time_ns = o->time_limit_ms * 1000000u;
  const char *refuse_at = getenv("CFFI_BUN_TEST_CC_REFUSE_AT"); /* tcc_limits.c */
  job.limits.refuse_at = refuse_at && *refuse_at ? strtoll(refuse_at, NULL, 10) : -1;
  d->o = o;
  if (!check_nesting(o, d)) return NULL;
  if (!search_path_build(o, tcc_runtime_dir(), &job.sp)) {
    diag_append(d, "error: out of memory");
    return NULL;
  }
  job.inc = (cffi_include_path){job.sp.dirs, job.sp.count, deps ? cffi_deps_note : NULL, deps};
  d->limits = &job.limits;
  bool returned = cffi_tcc_run(compile_run, &job, COMPILE_STACK);
  cffi_tcc_limits_end(&job.limits);
  if (job.limits.hit && !d->over_limit) { /* TinyCC stopped without saying "memory full" */
    char text[420] = "error: ";
    limit_message(d, text + 7, sizeof text - 7);
    d->over_limit = true;
    d->errors++;
    diag_append(d, text);
    job.ok = false;
  }
  d->limits = NULL;
  if (!returned) {
    /* TinyCC gave up with exit(): its message is already in d. */
    job.ok = false;
    if (!d->errors) on_diagnostic(d, "error: TinyCC stopped without a message");
  }
  free(job.sp.dirs);
  free(job.inline_text);
  if (!job.ok) {
    if (job.state) cffi_tcc_delete(job.state);
    return NULL;
  }
  return job.state;
}

/* What to install when the failure is a missing file rather than the code. */
static const char *missing_file_hint(const char *text) {
  static const char *const tcc_headers[] = {"stddef.h", "stdarg.h", "float.h", "stdbool.h", "stdalign.h",
                                            "stdnoreturn.h", "varargs.h", "tcclib.h", "stdatomic.h"};
  if (strstr(text, "libtcc1.a' not found")) return "tcc";
  for (size_t i = 0; i < sizeof tcc_headers / sizeof tcc_headers[0]; i++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "include file '%s' not found", tcc_headers[i]);
    if (strstr(text, quoted)) return "tcc";
  }
  static const char *const libc_files[] = {"'crt1.o'", "'crti.o'", "'crtn.o'", "library 'c' not found",
                                           "include file 'stdio.h'", "include file 'stdlib.h'",
                                           "include file 'string.h'", "include file 'stdint.h'",
                                           "include file 'math.h'", "include file 'unistd.h'",
                                           "include file 'errno.h'", "include file 'assert.h'",
                                           "include file 'limits.h'", "include file 'sys/", "include file 'bits/"};
  for (size_t i = 0; i < sizeof libc_files / sizeof libc_files[0]; i++)
    if (strstr(text, libc_files[i])) return "libc6-dev";
  return NULL;
}

/* Whether a source spells a thread-local storage keyword. TinyCC 0.9.27
 * does not parse _Thread_local or __thread (it reports "';' expected"); Bun
 * refuses them with "thread-local storage is not supported", so a failed
 * compile that uses one says that instead of leaving the reader with a
 * misleading syntax error. Read only on the error path. */
static bool word_in(const char *text, size_t len, const char *word) {
  size_t w = strlen(word);
  for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), word, w)); p += w) {
    bool before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    bool after = (size_t)(p - text) + w >= len || !(isalnum((unsigned char)p[w]) || p[w] == '_');
    if (before && after) return true;
  }
  return false;
}

static bool uses_thread_local(const cc_options *o) {
  for (uint32_t i = 0; i < o->nsources; i++) {
    const source_unit *u = &o->sources[i];
    size_t len;
    char *text = source_text(u, &len);
    if (!text) continue;
    bool found = word_in(text, len, "_Thread_local") || word_in(text, len, "__thread") ||
                 word_in(text, len, "thread_local");
    if (text != u->text) free(text);
    if (found) return true;
  }
  return false;
}

/* Bun's first line ("N errors while compiling <file>"), then TinyCC's
 * messages, then what to install when a run-time file is missing. */
static napi_value throw_compile_error(napi_env env, const cc_options *o, const diagnostics *d) {
  const char *text = d->text ? d->text : "error: TinyCC reported no diagnostics\n";
  const char *file = o->sources[0].is_path ? o->sources[0].text : "source";
  const char *package = missing_file_hint(text);
  char hint[4600] = "";
  if (package && strcmp(package, "tcc") == 0)
    snprintf(hint, sizeof hint,
             "\nTinyCC's run-time files (libtcc1.a, include/) were not found in %s: install the `tcc` "
             "package (Debian/Ubuntu: `apt-get install tcc`) or ship them beside the addon as tcc/",
             tcc_runtime_dir());
  else if (package)
    snprintf(hint, sizeof hint, "\nThe C library's development files are missing: install `%s` "
                                "(Debian/Ubuntu: `apt-get install %s`)", package, package);
  else if (uses_thread_local(o))
    snprintf(hint, sizeof hint, "\nthread-local storage is not supported in cc() (as in Bun): TinyCC "
                                "cannot compile _Thread_local or __thread; keep per-thread state in "
                                "the caller or in a gcc-built library");
  uint32_t errors = d->errors ? d->errors : 1;
  napi_value message, error;
  size_t n = strlen(text) + strlen(hint) + strlen(file) + 128;
  char *full = malloc(n);
  if (!full) return cffi_throw(env, "Error", "cc() failed to compile");
  /* Bun's wording exactly, "1 errors" included: code written for Bun may
   * match on it. */
  snprintf(full, n, "%u errors while compiling %s\ncc() failed to compile:\n%.*s%s", errors, file,
           (int)(strlen(text) - 1), text, hint);
  napi_create_string_utf8(env, full, NAPI_AUTO_LENGTH, &message);
  free(full);
  napi_create_error(env, NULL, message, &error);
  napi_throw(env, error);
  return NULL;
}

/* ---- the cache key ------------------------------------------------------ */

/* Version of what this file feeds TinyCC; bump when that changes. */
#define KEY_FORMAT "cffi-bun cc key 2"

static void key_field(cffi_sha256 *h, char tag, const void *data, size_t len) {
  uint64_t n = len;
  cffi_sha256_update(h, &tag, 1);
  cffi_sha256_update(h, &n, sizeof n);
  cffi_sha256_update(h, data, len);
}

static void key_string(cffi_sha256 *h, char tag, const char *s) {
  if (s) key_field(h, tag, s, strlen(s));
  else key_field(h, (char)(tag | 0x80), "", 0);
}

/* Adds a file's bytes to the key; false if it cannot be read. */
static bool key_file(cffi_sha256 *h, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  uint64_t size = ok ? (uint64_t)st.st_size : 0;
  cffi_sha256_update(h, "f", 1);
  cffi_sha256_update(h, &size, sizeof size);
  char buf[16384];
  uint64_t total = 0;
  ssize_t got;
  while (ok && (got = read(fd, buf, sizeof buf)) > 0) {
    cffi_sha256_update(h, buf, (size_t)got);
    total += (uint64_t)got;
  }
  close(fd);
  return ok && total == size;
}

/* Everything that decides the compiled code: the compiler (libtcc's
 * identity is fixed at build time), this addon's version, the working
 * directory (relative paths), every source's bytes and every option. Files
 * that the sources include are checked separately (cache.c). */
static bool cache_key(const cc_options *o, char hex[65]) {
  cffi_sha256 h;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return false;
  cffi_sha256_init(&h);
  key_string(&h, 'K', KEY_FORMAT);
  key_string(&h, 'T', STR(CFFI_TCC_ID));
  key_string(&h, 'V', STR(CFFI_VERSION));
  key_string(&h, 'W', cwd);
  for (uint32_t i = 0; i < o->nsources; i++) {
    key_string(&h, o->sources[i].is_path ? 'P' : 'S', o->sources[i].text);
    if (o->sources[i].is_path && !key_file(&h, o->sources[i].text)) return false;
  }
  key_string(&h, 'A', o->source_is_array ? "array" : "string");
  for (uint32_t i = 0; i < o->includes.count; i++) key_string(&h, 'I', o->includes.items[i]);
  for (uint32_t i = 0; i < o->node_includes.count; i++) key_string(&h, 'N', o->node_includes.items[i]);
  for (uint32_t i = 0; i < o->libraries.count; i++) key_string(&h, 'L', o->libraries.items[i]);
  for (uint32_t i = 0; i < o->define_names.count; i++) {
    key_string(&h, 'D', o->define_names.items[i]);
    key_string(&h, 'd', o->define_values.items[i]);
  }
  key_string(&h, 'F', o->flags);
  uint8_t digest[32];
  cffi_sha256_final(&h, digest);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return true;
}

/* ---- binding ------------------------------------------------------------ */

static void unload_state(void *handle) { cffi_tcc_delete(handle); }
static void unload_object(void *handle) { dlclose(handle); }

/* Bun's phrase first, then ours. */
static napi_value throw_undefined(napi_env env, cffi_owner *owner, const char *name) {
  return cffi_throw(env, "Error", "\"%s\" is missing from %s: symbol \"%s\" is not defined by the cc() source", name,
                    owner->path, name);
}

/* TinyCC emits System V code whatever a function's attributes say (it
 * ignores ms_abi), so a symbol may only ask for the ABI its code has. */
static bool abi_honoured(napi_env env, const char *name, napi_value definition) {
  napi_value v;
  if (napi_get_named_property(env, definition, "abi", &v) != napi_ok || is_nullish(env, v)) return true;
  if (!is_string(env, v)) return true; /* the signature parser reports the type */
  char abi_name[64];
  size_t len;
  napi_get_value_string_utf8(env, v, abi_name, sizeof abi_name, &len);
  ffi_abi abi;
  if (!cffi_abi_from_name(env, abi_name, name, &abi)) return false;
  if (abi == FFI_DEFAULT_ABI) return true;
  cffi_throw(env, "Error",
             "cc() symbol \"%s\": abi \"%s\" cannot be honoured; TinyCC compiles every function with this "
             "platform's default calling convention (omit abi, or use \"default\")",
             name, abi_name);
  return false;
}

/* A struct or union by value that TinyCC passes otherwise than gcc would
 * reach the compiled function wrong (src/types/layout_abi.c): refused. */
static bool refuses_layout(napi_env env, const char *name, napi_value type, const char *where) {
  cffi_layout *layout = NULL;
  const int found = cffi_layout_lookup(env, type, &layout, NULL);
  if (found <= 0) return found < 0;
  const char *why = layout->kind <= CFFI_LAYOUT_UNION ? cffi_layout_tinycc_mismatch(layout) : NULL;
  if (why) {
    char what[128];
    cffi_layout_describe(layout, what, sizeof what);
    cffi_throw(env, "TypeError", "%s in %s of cc() symbol \"%s\" cannot be passed by value to TinyCC-compiled code: %s; "
               "pass a pointer to it instead (\"ptr\")", what, where, name, why);
  }
  cffi_layout_release(layout);
  return why != NULL;
}

static bool structs_as_gcc_passes(napi_env env, const char *name, napi_value definition) {
  napi_value args, returns, item;
  bool is_array = false, has = false;
  uint32_t count = 0;
  char where[24];
  if (napi_has_named_property(env, definition, "returns", &has) == napi_ok && has &&
      napi_get_named_property(env, definition, "returns", &returns) == napi_ok && refuses_layout(env, name, returns, "returns"))
    return false;
  if (napi_has_named_property(env, definition, "args", &has) != napi_ok || !has ||
      napi_get_named_property(env, definition, "args", &args) != napi_ok || napi_is_array(env, args, &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, args, &count) != napi_ok)
    return true;
  for (uint32_t i = 0; i < count; i++) {
    snprintf(where, sizeof where, "args[%u]", i);
    if (napi_get_element(env, args, i, &item) == napi_ok && refuses_layout(env, name, item, where)) return false;
  }
  return true;
}

static bool resolve_from_state(napi_env env, cffi_owner *owner, const char *name, napi_value definition,
                               void **address) {
  if (!abi_honoured(env, name, definition) || !structs_as_gcc_passes(env, name, definition)) return false;
  *address = tcc_get_symbol(owner->handle, name);
  if (*address) return true;
  throw_undefined(env, owner, name);
  return false;
}

/* dlsym also searches the object's dependencies (a symbols entry named
 * sqlite3_open would be found in libsqlite3); only definitions in the
 * compiled code count, as with tcc_get_symbol. */
static bool resolve_from_object(napi_env env, cffi_owner *owner, const char *name, napi_value definition,
                                void **address) {
  if (!abi_honoured(env, name, definition) || !structs_as_gcc_passes(env, name, definition)) return false;
  struct link_map *self = NULL, *found = NULL;
  Dl_info info;
  void *p = dlsym(owner->handle, name);
  if (p && dlinfo(owner->handle, RTLD_DI_LINKMAP, &self) == 0 &&
      dladdr1(p, &info, (void **)&found, RTLD_DL_LINKMAP) != 0 && found == self) {
    *address = p;
    return true;
  }
  throw_undefined(env, owner, name);
  return false;
}

/* result.warnings: TinyCC's warnings, one string each (Bun stops at them;
 * cc() compiles on and shows them here and in the debug log). */
static void attach_warnings(napi_env env, napi_value result, const diagnostics *d) {
  napi_value list, item;
  uint32_t n = 0;
  napi_create_array(env, &list);
  for (const char *line = d ? d->text : NULL; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (memmem(line, len, ": warning: ", 11)) {
      napi_create_string_utf8(env, line, len, &item);
      napi_set_element(env, list, n++, item);
      CFFI_DEBUG("cc() %.*s", (int)len, line);
    }
    line = nl ? nl + 1 : NULL;
  }
  napi_set_named_property(env, result, "warnings", list);
}

static napi_value bind_result(napi_env env, napi_value symbols, const cc_options *o, void *handle,
                       void (*unload)(void *), cffi_resolve_fn resolve, const diagnostics *d) {
  const char *label = o->sources[0].is_path ? o->sources[0].text : "inline source";
  cffi_owner *owner = cffi_owner_new(env, handle, unload, "cc() result", label);
  if (!owner) {
    unload(handle);
    return NULL;
  }
  napi_value result = cffi_bind_symbols(env, owner, symbols, resolve);
  if (result) attach_warnings(env, result, d);
  else cffi_owner_close(owner);
  cffi_owner_release(owner);
  return result;
}

/* Compiles into the cache and loads the entry into *handle. *handle stays
 * NULL when the caller should compile in memory: caching failed, the code
 * cannot be cached, or it did not compile as a shared object (a compile
 * error, or files only a shared object needs, such as crti.o, are
 * missing). The in-memory compile then gives exactly the result, or the
 * errors, of cache: false; a memory-only entry makes later runs go there
 * at once. */
static void compile_to_cache(const cc_options *o, const char *dir, const char *key, void **handle,
                             diagnostics *d) {
  char tmp[4200];
  *handle = NULL;
  if (!cffi_cache_temp(dir, tmp, sizeof tmp)) return;
  cffi_deps deps = {0};
  TCCState *s = compile(o, TCC_OUTPUT_DLL, tmp, d, &deps);
  if (!s && d->over_limit) { /* nothing to remember: a larger limit may compile it */
    unlink(tmp);
    cffi_deps_free(&deps);
    return;
  }
  if (s) cffi_tcc_delete(s);
  else truncate(tmp, 0);
  cffi_cache_publish(tmp, dir, key, &deps, handle);
  cffi_deps_free(&deps);
}

/* cc(options, nodeIncludeDirs): lib/index.js passes the directories that
 * hold Node's headers, found next to the running node binary. */
napi_value cffi_cc(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  /* For tests: behave as a build without TinyCC. */
  const char *pretend = getenv("CFFI_BUN_CC_UNAVAILABLE");
  if (pretend && strcmp(pretend, "1") == 0) return cffi_throw(env, "Error", "%s", TCC_MISSING_HINT);
  if (argc < 1) return cffi_throw(env, "TypeError", "cc() expects an options object like { source, symbols }");

  cc_options o = {0};
  diagnostics d = {0};
  napi_value result = NULL, symbols = NULL;
  const char *how = "compiled in memory, cache off";
  struct timespec started;
  clock_gettime(CLOCK_MONOTONIC, &started);
  /* Symbols before sources, as in Bun: nothing is compiled for nothing. */
  napi_valuetype type;
  napi_value names;
  uint32_t count = 0;
  if (napi_typeof(env, argv[0], &type) == napi_ok && type == napi_object) {
    if (!(symbols = option(env, argv[0], "symbols"))) {
      cffi_throw(env, "TypeError", "cc() needs \"symbols\": an object of symbol definitions, as for dlopen");
      goto done;
    }
    if (napi_typeof(env, symbols, &type) == napi_ok && type == napi_object &&
        napi_get_property_names(env, symbols, &names) == napi_ok &&
        napi_get_array_length(env, names, &count) == napi_ok && count == 0) {
      cffi_throw(env, "TypeError", "Expected at least one exported symbol");
      goto done;
    }
  }
  if (!read_options(env, argv[0], argc > 1 ? argv[1] : NULL, &o)) goto done;

  char dir[4200], key[65];
  if (o.cache && cffi_cache_dir(dir, sizeof dir) && cache_key(&o, key)) {
    void *handle = NULL;
    cffi_cache_status status = cffi_cache_load(dir, key, &handle);
    how = status == CFFI_CACHE_HIT ? "cache hit" : "cache miss, compiled";
    if (status == CFFI_CACHE_MISS) compile_to_cache(&o, dir, key, &handle, &d);
    if (d.over_limit) { /* compiling again in memory would only hit it again */
      throw_compile_error(env, &o, &d);
      goto done;
    }
    if (handle) {
      result = bind_result(env, symbols, &o, handle, unload_object, resolve_from_object, &d);
      goto done;
    }
    how = status == CFFI_CACHE_MEMORY_ONLY ? "compiled in memory (code the cache keeps no object for)"
                                           : "compiled in memory";
  }

  free(d.text);
  d = (diagnostics){0};
  TCCState *s = compile(&o, TCC_OUTPUT_MEMORY, NULL, &d, NULL);
  if (s) result = bind_result(env, symbols, &o, s, unload_state, resolve_from_state, &d);
  else throw_compile_error(env, &o, &d);

done:
  free(d.text);
  if (result && CFFI_UNLIKELY(cffi_debug_enabled)) {
    struct timespec finished;
    clock_gettime(CLOCK_MONOTONIC, &finished);
    double ms = (double)(finished.tv_sec - started.tv_sec) * 1e3 + (double)(finished.tv_nsec - started.tv_nsec) / 1e6;
    cffi_debug_log("cc() in %.2f ms (%s)", ms, how);
  }
  options_free(&o);
  return result;
}

#endif /* CFFI_HAVE_TCC */
