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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cffi.h"

#ifdef CFFI_HAVE_TCC
#include <dlfcn.h>
#include <fcntl.h>
#include <libtcc.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "sha256.h"
#include "tcc_glue.h"
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

typedef struct {
  source_unit *sources;
  uint32_t nsources;
  bool source_is_array;
  strlist includes, libraries, node_includes;
  strlist define_names, define_values; /* value NULL: TinyCC's default "1" */
  char *flags;                         /* quoted for tcc_set_options, or NULL */
  bool cache;
} cc_options;

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
 * Code or a file? A string containing a newline, `{` or `;` is code (no
 * sensible path has those and every function definition does). Otherwise it
 * is a path when it names an existing file (relative to the current working
 * directory, as in Bun). A string ending in ".c" that names no file is a
 * missing source file, reported as such rather than compiled as code.
 * Anything else is code.
 */
static bool classify_source(napi_env env, char *text, source_unit *unit) {
  unit->text = text;
  unit->is_path = false;
  if (strpbrk(text, "\n{;")) return true;
  if (regular_file(text)) {
    unit->is_path = true;
    return true;
  }
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

/* flags: a string split on whitespace (as Bun does) or an array, one
 * argument per element. */
static bool read_flags(napi_env env, napi_value v, cc_options *o) {
  strlist args = {0};
  bool ok = read_string_list(env, v, "flags", &args);
  size_t len = 0;
  for (uint32_t i = 0; ok && i < args.count; i++) {
    if (is_string(env, v)) {
      for (char *tok = strtok(args.items[i], " \t\r\n\f\v"); ok && tok; tok = strtok(NULL, " \t\r\n\f\v"))
        ok = append_quoted(&o->flags, &len, tok);
    } else if (args.items[i][0]) {
      ok = append_quoted(&o->flags, &len, args.items[i]);
    }
    if (!ok) cffi_throw(env, "RangeError", "cc(): out of memory");
  }
  strlist_free(&args);
  return ok;
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
  if (node_includes && !is_nullish(env, node_includes) &&
      !read_string_list(env, node_includes, "node include dirs", &o->node_includes))
    return false;
  return true;
}

/* ---- compiling ---------------------------------------------------------- */

/* TinyCC's messages for one compilation, one per line. */
typedef struct {
  char *text;
  size_t len, cap;
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

static void on_diagnostic(void *opaque, const char *msg) { diag_append(opaque, msg); }

/* Inline code gets a #line naming it after its place in the options, so
 * errors read "source:3: error: ..." or "source[1]:3: ..." instead of
 * TinyCC's generic "<string>". */
static int compile_inline(TCCState *s, const cc_options *o, uint32_t i) {
  const char *code = o->sources[i].text;
  size_t n = strlen(code) + 64;
  char *text = malloc(n);
  if (!text) return -1;
  if (o->source_is_array) snprintf(text, n, "#line 1 \"source[%u]\"\n%s", i, code);
  else snprintf(text, n, "#line 1 \"source\"\n%s", code);
  int rc = tcc_compile_string(s, text);
  free(text);
  return rc;
}

/* Runs TinyCC over everything in o. Returns the state, or NULL when
 * compilation failed (the reasons are in d). For TCC_OUTPUT_MEMORY the code
 * is relocated and ready; for TCC_OUTPUT_DLL it is written to out_path. */
static TCCState *compile(const cc_options *o, int output, const char *out_path, diagnostics *d) {
  TCCState *s = tcc_new();
  if (!s) {
    diag_append(d, "out of memory creating the TinyCC state");
    return NULL;
  }
  tcc_set_error_func(s, d, on_diagnostic);
  /* Options first: some (-nostdlib) decide what tcc_set_output_type adds. */
  if (o->flags) tcc_set_options(s, o->flags);
  tcc_set_output_type(s, output);
  for (uint32_t i = 0; i < o->includes.count; i++) tcc_add_include_path(s, o->includes.items[i]);
  /* Node's headers come after the user's and the system's own directories,
   * so <node_api.h> and <node/node_api.h> both resolve. */
  for (uint32_t i = 0; i < o->node_includes.count; i++) tcc_add_sysinclude_path(s, o->node_includes.items[i]);
  for (uint32_t i = 0; i < o->define_names.count; i++)
    tcc_define_symbol(s, o->define_names.items[i], o->define_values.items[i]);
  bool ok = true;
  for (uint32_t i = 0; ok && i < o->nsources; i++) {
    ok = (o->sources[i].is_path ? tcc_add_file(s, o->sources[i].text) : compile_inline(s, o, i)) != -1;
  }
  for (uint32_t i = 0; ok && i < o->libraries.count; i++) {
    if (tcc_add_library(s, o->libraries.items[i]) == -1) {
      char msg[600];
      snprintf(msg, sizeof msg, "error: library '%s' not found (looked for lib%s.so and lib%s.a)",
               o->libraries.items[i], o->libraries.items[i], o->libraries.items[i]);
      diag_append(d, msg);
      ok = false;
    }
  }
  if (ok && output == TCC_OUTPUT_MEMORY) ok = tcc_relocate(s, TCC_RELOCATE_AUTO) >= 0;
  if (ok && output == TCC_OUTPUT_DLL) ok = tcc_output_file(s, out_path) >= 0;
  if (!ok) {
    tcc_delete(s);
    return NULL;
  }
  return s;
}

static napi_value throw_compile_error(napi_env env, const diagnostics *d) {
  const char *text = d->text ? d->text : "TinyCC reported no diagnostics\n";
  /* Without TinyCC's own files (the tcc package) even a correct source
   * fails; say so instead of leaving the user with "libtcc1.a not found". */
  const char *hint = strstr(text, "libtcc1.a") || strstr(text, "stddef.h")
                         ? "\n(TinyCC's runtime files are missing: on Debian/Ubuntu `apt-get install tcc`)"
                         : "";
  napi_value message, error;
  size_t n = strlen(text) + strlen(hint) + 64;
  char *full = malloc(n);
  if (!full) return cffi_throw(env, "Error", "cc() failed to compile");
  snprintf(full, n, "cc() failed to compile:\n%.*s%s", (int)(strlen(text) - 1), text, hint);
  napi_create_string_utf8(env, full, NAPI_AUTO_LENGTH, &message);
  free(full);
  napi_create_error(env, NULL, message, &error);
  napi_throw(env, error);
  return NULL;
}

/* ---- the cache key ------------------------------------------------------ */

/* Version of what this file feeds TinyCC; bump when that changes. */
#define KEY_FORMAT "cffi-bun cc key 1"

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

static void unload_state(void *handle) { tcc_delete(handle); }
static void unload_object(void *handle) { dlclose(handle); }

static napi_value throw_undefined(napi_env env, const char *name) {
  return cffi_throw(env, "Error", "Symbol \"%s\" is not defined by the cc() source", name);
}

static bool resolve_from_state(napi_env env, cffi_owner *owner, const char *name, napi_value definition,
                               void **address) {
  (void)definition;
  *address = tcc_get_symbol(owner->handle, name);
  if (*address) return true;
  throw_undefined(env, name);
  return false;
}

/* dlsym also searches the object's dependencies (a symbols entry named
 * sqlite3_open would be found in libsqlite3); only definitions in the
 * compiled code count, as with tcc_get_symbol. */
static bool resolve_from_object(napi_env env, cffi_owner *owner, const char *name, napi_value definition,
                                void **address) {
  (void)definition;
  struct link_map *self = NULL, *found = NULL;
  Dl_info info;
  void *p = dlsym(owner->handle, name);
  if (p && dlinfo(owner->handle, RTLD_DI_LINKMAP, &self) == 0 &&
      dladdr1(p, &info, (void **)&found, RTLD_DL_LINKMAP) != 0 && found == self) {
    *address = p;
    return true;
  }
  throw_undefined(env, name);
  return false;
}

static napi_value bind_result(napi_env env, napi_value symbols, const cc_options *o, void *handle,
                       void (*unload)(void *), cffi_resolve_fn resolve) {
  const char *label = o->sources[0].is_path ? o->sources[0].text : "inline source";
  cffi_owner *owner = cffi_owner_new(env, handle, unload, "cc() result", label);
  if (!owner) {
    unload(handle);
    return NULL;
  }
  napi_value result = cffi_bind_symbols(env, owner, symbols, resolve);
  if (!result) cffi_owner_close(owner);
  cffi_owner_release(owner);
  return result;
}

/* Compiles into the cache and loads the entry. Returns false (having
 * thrown) for a compile error; *handle stays NULL when caching failed for
 * another reason and the caller should compile in memory. */
static bool compile_to_cache(napi_env env, const cc_options *o, const char *dir, const char *key,
                             void **handle) {
  char tmp[4200];
  *handle = NULL;
  if (!cffi_cache_temp(dir, tmp, sizeof tmp)) return true;
  diagnostics d = {0};
  cffi_deps deps = {0};
  cffi_tcc_watch_opens(cffi_deps_watch, &deps);
  TCCState *s = compile(o, TCC_OUTPUT_DLL, tmp, &d);
  cffi_tcc_watch_opens(NULL, NULL);
  if (!s) {
    unlink(tmp);
    cffi_deps_free(&deps);
    throw_compile_error(env, &d);
    free(d.text);
    return false;
  }
  tcc_delete(s);
  free(d.text);
  if (cffi_cache_publish(tmp, dir, key, &deps) && cffi_cache_load(dir, key, handle) != CFFI_CACHE_HIT)
    *handle = NULL;
  cffi_deps_free(&deps);
  return true;
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
  napi_value result = NULL, symbols = NULL;
  const char *how = "compiled in memory, cache off";
  struct timespec started;
  clock_gettime(CLOCK_MONOTONIC, &started);
  if (!read_options(env, argv[0], argc > 1 ? argv[1] : NULL, &o)) goto done;
  if (!(symbols = option(env, argv[0], "symbols"))) {
    cffi_throw(env, "TypeError", "cc() needs \"symbols\": an object of symbol definitions, as for dlopen");
    goto done;
  }

  char dir[4200], key[65];
  if (o.cache && cffi_cache_dir(dir, sizeof dir) && cache_key(&o, key)) {
    void *handle = NULL;
    cffi_cache_status status = cffi_cache_load(dir, key, &handle);
    how = status == CFFI_CACHE_HIT ? "cache hit" : "cache miss, compiled";
    if (status == CFFI_CACHE_MISS && !compile_to_cache(env, &o, dir, key, &handle)) goto done;
    if (handle) {
      result = bind_result(env, symbols, &o, handle, unload_object, resolve_from_object);
      goto done;
    }
  }

  if (o.cache) how = "compiled in memory";
  diagnostics d = {0};
  TCCState *s = compile(&o, TCC_OUTPUT_MEMORY, NULL, &d);
  if (s) result = bind_result(env, symbols, &o, s, unload_state, resolve_from_state);
  else throw_compile_error(env, &d);
  free(d.text);

done:
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
