/*
 * library.c - opening and closing libraries, and binding their symbols.
 *
 * Owns: dlopen(path, definitions) and linkSymbols(definitions), the owner
 * object shared by a library's functions (so close() disables every one of
 * them), and close() itself. A library stays loaded until close(); dropping
 * every reference does not unload it, because C may still hold pointers
 * into it.
 */
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

static void unload_library(void *handle) { cffi_lib_close(handle); }

cffi_owner *cffi_owner_new(napi_env env, void *handle, void (*unload)(void *), const char *kind,
                           const char *path) {
  cffi_owner *owner = calloc(1, sizeof *owner);
  char *path_copy = strdup(path);
  if (!owner || !path_copy) {
    free(owner);
    free(path_copy);
    cffi_throw(env, "RangeError", "out of memory opening \"%s\"", path);
    return NULL;
  }
  owner->handle = handle;
  owner->unload = unload;
  owner->kind = kind;
  owner->open = true;
  owner->refs = 1; /* the caller's */
  owner->path = path_copy;
  return owner;
}

void cffi_owner_release(cffi_owner *owner) {
  if (--owner->refs > 0) return;
  free(owner->path);
  free(owner);
}

/* A pool thread running a batch (src/calls/batch_buffer.c) reads `open`
 * before each entry while this thread may clear it: both sides atomic.
 * Precompiled wrappers do not read it: their entry stubs are repointed. */
static void mark_closed(cffi_owner *owner) {
  __atomic_store_n(&owner->open, false, __ATOMIC_RELAXED);
  cffi_precompiled_owner_closed(owner);
}

void cffi_owner_close(cffi_owner *owner) {
  if (!owner->open) return;
  mark_closed(owner);
  CFFI_DEBUG("closed %s \"%s\"", owner->kind, owner->path);
  if (owner->unload) owner->unload(owner->handle);
}

/* Whether C code of an FFI call may be on this thread's stack. Besides
 * call_depth, which JS can write (the node-ffi engine's shared view,
 * src/calls/node_ffi.c), the depth at which the innermost callback began to
 * run JS, which only C sets: a raw export given odd values must not get a
 * library unmapped under its own call. */
static bool ffi_call_in_progress(const cffi_env_state *state) {
  return state && (state->call_depth > 0 || state->js_callback_depth > 0);
}

/* The deferred half of a close() made during an FFI call (see close_entry). */
static napi_value deferred_unload(napi_env env, napi_callback_info info) {
  void *data;
  cffi_env_state *state = NULL;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  napi_get_instance_data(env, (void **)&state);
  cffi_owner *owner = data;
  /* Run from inside a call only by a setImmediate that is not Node's (one a
   * program gave the raw useSetImmediate before the shim loaded): the
   * library then stays loaded, as when no setImmediate was given. */
  if (ffi_call_in_progress(state)) {
    CFFI_DEBUG("not unloading %s \"%s\": setImmediate ran during an FFI call", owner->kind, owner->path);
    cffi_owner_release(owner);
    return NULL;
  }
  CFFI_DEBUG("unloading %s \"%s\" (closed during a call)", owner->kind, owner->path);
  owner->unload(owner->handle);
  cffi_owner_release(owner);
  (void)env;
  return NULL;
}

/* Node's own setImmediate, handed over by the shim from node:timers
 * (lib/native.js) as soon as the addon loads: the global one may be a fake
 * (fake timers, a test double calling its function at once, installed
 * before or after the first require), which would unload the library while
 * its C code is still on the stack. The first function given is kept. */
static napi_value use_set_immediate(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn;
  napi_valuetype t = napi_undefined;
  cffi_env_state *state;
  napi_get_cb_info(env, info, &argc, &fn, NULL, NULL);
  napi_get_instance_data(env, (void **)&state);
  if (argc < 1 || napi_typeof(env, fn, &t) != napi_ok || t != napi_function)
    return cffi_throw(env, "TypeError", "useSetImmediate(fn) expects Node's setImmediate function");
  if (state && !state->set_immediate) napi_create_reference(env, fn, 1, &state->set_immediate);
  return NULL;
}

void cffi_library_init(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "useSetImmediate", use_set_immediate, NULL);
  cffi_make_data_symbol_exports(env, exports);
}

void cffi_owner_async_done(cffi_owner *owner) {
  if (--owner->async_calls == 0 && owner->unload_after_async) {
    owner->unload_after_async = false;
    CFFI_DEBUG("unloading %s \"%s\" (closed during async calls)", owner->kind, owner->path);
    owner->unload(owner->handle);
  }
  cffi_owner_release(owner);
}

/* close() from a callback, while C code of this library may still be on the
 * stack below it: unmapping now would make that C code return into nothing.
 * Calls are refused at once; the unload waits for setImmediate, which cannot
 * run before every synchronous FFI call has returned. If that is not
 * possible the library simply stays loaded. */
static bool close_later(napi_env env, cffi_env_state *state, cffi_owner *owner) {
  napi_value global, set_immediate, unload_fn, ignored;
  if (!state->set_immediate || napi_get_global(env, &global) != napi_ok ||
      napi_get_reference_value(env, state->set_immediate, &set_immediate) != napi_ok || !set_immediate ||
      napi_create_function(env, "cffiBunDeferredUnload", NAPI_AUTO_LENGTH, deferred_unload, owner,
                           &unload_fn) != napi_ok)
    return false;
  owner->refs++;
  if (napi_call_function(env, global, set_immediate, 1, &unload_fn, &ignored) != napi_ok) {
    owner->refs--;
    return false;
  }
  return true;
}

static napi_value close_entry(napi_env env, napi_callback_info info) {
  void *data;
  cffi_env_state *state;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  napi_get_instance_data(env, (void **)&state);
  cffi_owner *owner = data;
  if (owner->open && state) state->closes++; /* see cffi_env_state */
  /* Async calls in flight (src/calls/async_call.c) may be inside its code. */
  if (owner->open && owner->unload && owner->async_calls > 0) {
    mark_closed(owner);
    owner->unload_after_async = true;
    CFFI_DEBUG("closed %s \"%s\" with %u async calls in flight; unloading it after them", owner->kind,
               owner->path, owner->async_calls);
    return NULL;
  }
  if (owner->open && owner->unload && ffi_call_in_progress(state)) {
    mark_closed(owner);
    CFFI_DEBUG("closed %s \"%s\" during an FFI call; unloading it afterwards", owner->kind, owner->path);
    close_later(env, state, owner);
    return NULL;
  }
  cffi_owner_close(owner);
  return NULL;
}

/* The close function and the owner are freed when V8 collects the last
 * of the JS functions: counted as external memory meanwhile. */
#define CLOSE_FUNCTION_BYTES (sizeof(cffi_owner) + CFFI_NODE_API_BYTES_PER_FUNCTION)

/* Also run by the GC (see NAPI_EXPERIMENTAL in cffi.h): frees and counts only. */
static void finalize_close(napi_env env, void *data, void *hint) {
  (void)hint;
  int64_t ignored;
  napi_adjust_external_memory(env, -(int64_t)CLOSE_FUNCTION_BYTES, &ignored);
  cffi_owner_release(data);
}

/* The enumerable own string keys of a definitions object, as an array. */
static bool definition_names(napi_env env, napi_value definitions, napi_value *names,
                             uint32_t *count) {
  if (!cffi_object_keys(env, definitions, "Expected an options object with symbol names (an object of symbol definitions)", names, count))
    return false;
  if (*count == 0) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "Expected at least one symbol");
    return false;
  }
  return true;
}

static bool resolve_from_library(napi_env env, cffi_owner *owner, const char *name,
                                 napi_value definition, void **address) {
  (void)definition;
  char why[512];
  *address = cffi_lib_symbol(owner->handle, name, why, sizeof why);
  if (*address) return true;
  cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "Symbol \"%s\" not found in \"%s\": %s", name,
                  owner->path, why);
  return false;
}

#define BUN_PTR_ADVICE \
  "When using linkSymbols() or CFunction(), you must provide a \"ptr\" field with the memory address of the native function."

static bool resolve_from_ptr(napi_env env, cffi_owner *owner, const char *name,
                             napi_value definition, void **address) {
  (void)owner;
  napi_value value;
  napi_valuetype t;
  uint64_t raw;
  char what[400];
  if (napi_get_named_property(env, definition, "ptr", &value) != napi_ok ||
      napi_typeof(env, value, &t) != napi_ok)
    return false;
  /* Bun's words first (programs match on them), then what was wrong. */
  if (t == napi_undefined) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE,
                    "Symbol \"%s\" is missing a \"ptr\" field. " BUN_PTR_ADVICE, name);
    return false;
  }
  snprintf(what, sizeof what, "Symbol \"%s\" has an unusable \"ptr\" field. " BUN_PTR_ADVICE " \"ptr\" of symbol \"%s\"",
           name, name);
  if (!cffi_value_to_address(env, value, what, &raw)) return false;
  if (raw == 0) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "%s is NULL: a function pointer is required", what);
    return false;
  }
  if (raw < 4096) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "%s is 0x%llx, in the NULL page: not a function pointer",
                    what, (unsigned long long)raw);
    return false;
  }
  /* A closed JSCallback's saved .ptr: its free stub is reused by the next
   * stub anyone takes, this function's own among them. */
  const char *refusal = cffi_stub_refusal((void *)(uintptr_t)raw);
  if (refusal) {
    cffi_throw_code(env, "TypeError", CFFI_ERR_INVALID_ARG_TYPE, "%s is 0x%llx, %s", what, (unsigned long long)raw,
                    refusal);
    return false;
  }
  *address = (void *)(uintptr_t)raw;
  return true;
}

/* Every symbol is parsed, resolved and prepared before any JS function is
 * made, so that src/calls/jit.c can prepare the whole set at once. */
napi_value cffi_bind_symbols(napi_env env, cffi_owner *owner, napi_value definitions,
                             cffi_resolve_fn resolve) {
  napi_value names, result, symbols, close_fn;
  uint32_t count;
  if (!definition_names(env, definitions, &names, &count)) return NULL;
  /* One block: the functions, then their keys (valid in this call's scope). */
  cffi_function **fns = calloc(count, sizeof *fns + sizeof(napi_value));
  if (!fns) return cffi_throw(env, "RangeError", "out of memory binding %u symbols", count);
  napi_value *keys = (napi_value *)(fns + count);
  uint32_t made = 0;
  for (; made < count; made++) {
    napi_value key, definition;
    napi_get_element(env, names, made, &key);
    keys[made] = key;
    char *name = cffi_string_dup(env, key, "symbol name");
    if (!name) break;
    cffi_signature sig;
    sig.layouts = NULL;
    void *address;
    if (napi_get_property(env, definitions, key, &definition) == napi_ok &&
        cffi_parse_signature(env, definition, name, &sig) &&
        resolve(env, owner, name, definition, &address) && cffi_prepare_signature(env, &sig, name))
      fns[made] = cffi_function_new(env, owner, name, address, &sig);
    if (!fns[made]) cffi_sig_release_layouts(&sig); /* else the function owns them */
    free(name);
    if (!fns[made]) break;
  }
  result = NULL;
  if (made == count) {
    cffi_jit_prepare(fns, count);
    napi_create_object(env, &symbols);
    uint32_t published = 0;
    for (; published < count; published++) {
      /* Calling a data symbol (environ) would jump into data: src/library/data_symbol.c. */
      napi_value function = cffi_lib_symbol_kind(fns[published]->address) == CFFI_SYMBOL_DATA
                                ? cffi_data_symbol_publish(env, fns[published])
                                : cffi_function_publish(env, fns[published]);
      fns[published] = NULL; /* owned by the JS function now, or freed */
      if (!function) break;
      napi_set_property(env, symbols, keys[published], function);
    }
    if (published == count &&
        napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_entry, owner, &close_fn) == napi_ok) {
      /* close's reference to the owner is dropped only by its finalizer:
       * without one, close would keep it forever, and dropping it here
       * would leave close pointing at freed memory. So no finalizer, no
       * result (the caller closes the owner, as for any failure here). */
      if (napi_add_finalizer(cffi_finalizer_env(env), close_fn, owner, finalize_close, NULL, NULL) == napi_ok) {
        owner->refs++;
        int64_t ignored;
        napi_adjust_external_memory(env, (int64_t)CLOSE_FUNCTION_BYTES, &ignored);
        napi_create_object(env, &result);
        napi_set_named_property(env, result, "symbols", symbols);
        napi_set_named_property(env, result, "close", close_fn);
      } else {
        cffi_throw(env, "Error", "could not attach close() of \"%s\" to the GC", owner->path);
      }
    }
  }
  for (uint32_t i = 0; i < count; i++)
    if (fns[i]) cffi_function_discard(fns[i]);
  free(fns);
  return result;
}

/* Whether dlopen binds the library's references to its own dependencies
 * before the process's (RTLD_DEEPBIND; see src/platform/platform.h): the
 * third argument's `deepBind` when it is a boolean, else off when
 * CFFI_BUN_DEEPBIND=0, else on unless malloc is interposed. Never under a
 * sanitizer runtime, which aborts the process on RTLD_DEEPBIND. False with
 * an exception pending when the options are malformed. */
static bool deep_bind_wanted(napi_env env, size_t argc, napi_value options, bool *deep) {
  int hazard = cffi_deep_bind_hazard();
  napi_valuetype t = napi_undefined;
  if (argc > 2 && napi_typeof(env, options, &t) != napi_ok) return false;
  bool given = false, requested = false;
  if (t == napi_object) {
    napi_value value;
    napi_valuetype value_type;
    if (napi_get_named_property(env, options, "deepBind", &value) != napi_ok ||
        napi_typeof(env, value, &value_type) != napi_ok)
      return false;
    if (value_type == napi_boolean) {
      napi_get_value_bool(env, value, &requested);
      given = true;
    } else if (value_type != napi_undefined) {
      cffi_throw(env, "TypeError", "dlopen: options.deepBind must be a boolean, received %s",
                 cffi_value_kind(env, value));
      return false;
    }
  } else if (t != napi_undefined && t != napi_null) {
    cffi_throw(env, "TypeError", "dlopen(path, symbols, options?): options must be an object, received %s",
               cffi_value_kind(env, options));
    return false;
  }
  if (!given) {
    const char *setting = getenv("CFFI_BUN_DEEPBIND");
    requested = setting && *setting ? strcmp(setting, "0") != 0 : hazard == 0;
  }
  *deep = CFFI_HAS_DEEP_BIND && requested && hazard != 2;
  return true;
}

/* Opens path as given; a bare name the loader cannot find is also tried in
 * the current directory, as Bun does. */
static void *open_library(const char *path, bool deep_bind, char *why, size_t why_len) {
  void *handle = cffi_lib_open(path, deep_bind, why, why_len);
  if (handle || cffi_path_has_directory(path)) return handle;
  size_t len = strlen(path) + 3;
  char *local = malloc(len);
  if (!local) return NULL;
  snprintf(local, len, "./%s", path);
  char ignored[256];
  handle = cffi_lib_open(local, deep_bind, ignored, sizeof ignored);
  free(local);
  return handle;
}

napi_value cffi_dlopen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return cffi_throw(env, "TypeError", "dlopen(path, symbols) expects 2 arguments, received %zu", argc);
  bool deep_bind;
  if (!deep_bind_wanted(env, argc, argv[2], &deep_bind)) return NULL;
  char *path = cffi_string_dup(env, argv[0], "dlopen path");
  if (!path) return NULL;

  napi_value names;
  uint32_t count;
  napi_value result = NULL;
  /* Definitions are checked before the library is touched. */
  if (definition_names(env, argv[1], &names, &count)) {
    char why[1024];
    void *handle = open_library(path, deep_bind, why, sizeof why);
    if (!handle) {
      cffi_throw_code(env, "Error", CFFI_ERR_DLOPEN_FAILED, "Failed to open library \"%s\": %s", path, why);
    } else {
      if (CFFI_UNLIKELY(cffi_debug_enabled)) {
        char resolved[1024];
        cffi_lib_resolved_path(handle, path, resolved, sizeof resolved);
        cffi_debug_log("opened library \"%s\" (%s)%s", path, resolved, deep_bind ? " with RTLD_DEEPBIND" : "");
      }
      cffi_owner *owner = cffi_owner_new(env, handle, unload_library, "library", path);
      if (!owner) {
        cffi_lib_close(handle);
      } else {
        result = cffi_bind_symbols(env, owner, argv[1], resolve_from_library);
        if (!result) cffi_owner_close(owner);
        cffi_owner_release(owner);
      }
    }
  }
  free(path);
  return result;
}

napi_value cffi_link_symbols(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value definitions;
  napi_get_cb_info(env, info, &argc, &definitions, NULL, NULL);
  if (argc < 1) return cffi_throw(env, "TypeError", "linkSymbols(symbols) expects 1 argument");
  cffi_owner *owner = cffi_owner_new(env, NULL, NULL, "linkSymbols result", "linkSymbols");
  if (!owner) return NULL;
  napi_value result = cffi_bind_symbols(env, owner, definitions, resolve_from_ptr);
  if (!result) cffi_owner_close(owner);
  cffi_owner_release(owner);
  return result;
}
