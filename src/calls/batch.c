/*
 * batch.c - batch() and sym.map(): many calls of bound functions for one
 * JS -> C crossing.
 *
 * Owns: running a batch's recorded entries (lib/batch.js records them in JS,
 * so add() costs no crossing) and sym.map's loop over TypedArrays. Both use
 * the synchronous call's own conversions (cffi_convert_call_arguments: the
 * same results, messages and user-JS re-checks) and its C call with the env's
 * errno and callback bookkeeping (cffi_call_slots_in_env), so an entry
 * behaves as the single call would; errors are the single call's, prefixed
 * with the entry's index.
 *
 * The flat form of a run (lib/batch.js writes it): per entry a header
 * (argument count; CHAINED set when references follow; the function's index),
 * the arguments, then for CHAINED entries quads (argument index, kind,
 * operand, type): kind 1 passes the result of entry `operand` (a global
 * entry index) as that argument, kind 2 the value of `type` read at address
 * `operand` when the entry runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "async_call.h"
#include "batch.h"

/* An entry's header: argument count, CHAINED, and from bit 17 the index of
 * its function among the batch's distinct functions (unwrapped once a run). */
#define HEADER_CHAINED 0x10000u
#define HEADER_ARGC 0xffffu
#define STOP_NONZERO 1u
#define STOP_NEGATIVE 2u
#define WITH_ERRNO 4u
#define REF_RESULT 1
#define REF_DEREF 2

/* One env per thread: a run started while one runs on this thread is a
 * callback's (re-entrant) run. */
static _Thread_local unsigned running_batches;
static _Thread_local napi_ref bound_prototype, set_prototype_of;

napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc);
napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw);

/* The bound function behind a JS value, or NULL (no exception). */
static cffi_function *bound_function_of(napi_env env, napi_value value) {
  return cffi_function_of(env, value);
}

/* The pending exception's message gets "batch entry N: " in front. */
static void name_entry_in_error(napi_env env, uint32_t entry) {
  bool pending = false;
  napi_value error, message;
  napi_is_exception_pending(env, &pending);
  if (!pending || napi_get_and_clear_last_exception(env, &error) != napi_ok) return;
  char text[1024];
  size_t length = 0;
  if (napi_get_named_property(env, error, "message", &message) == napi_ok &&
      napi_get_value_string_utf8(env, message, text, sizeof text, &length) == napi_ok) {
    char prefixed[1100];
    snprintf(prefixed, sizeof prefixed, "batch entry %u: %s", entry, text);
    napi_value value, index;
    napi_create_string_utf8(env, prefixed, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, error, "message", value);
    napi_create_uint32(env, entry, &index);
    napi_set_named_property(env, error, "entry", index);
  }
  napi_throw(env, error);
}

static bool number_arg(napi_env env, napi_value value, double *out) {
  return napi_get_value_double(env, value, out) == napi_ok;
}

/* The value of `type` at `address` now, as a JS value (chaining through memory). */
static napi_value read_at(napi_env env, uint64_t address, cffi_type_id type) {
  const void *p = (const void *)(uintptr_t)address;
  uint64_t raw = 0;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: raw = (uint64_t)(int64_t) * (const int8_t *)p; break;
    case CFFI_U8: case CFFI_BOOL: raw = *(const uint8_t *)p; break;
    case CFFI_I16: raw = (uint64_t)(int64_t) * (const int16_t *)p; break;
    case CFFI_U16: raw = *(const uint16_t *)p; break;
    case CFFI_I32: raw = (uint64_t)(int64_t) * (const int32_t *)p; break;
    case CFFI_U32: case CFFI_F32: raw = *(const uint32_t *)p; break;
    case CFFI_PTR: raw = (uintptr_t) * (void *const *)p; break;
    case CFFI_I64: case CFFI_U64: case CFFI_I64_FAST: case CFFI_U64_FAST: case CFFI_F64:
      memcpy(&raw, p, sizeof raw);
      break;
    default:
      return cffi_throw(env, "TypeError", "deref: cannot read a %s from memory (expected a number, bigint or ptr type)",
                        cffi_types[type].name);
  }
  return cffi_types[type].to_js(env, raw);
}

/* The raw result, as its return type reads it, stops the run? (either thread) */
static bool raw_stops(cffi_type_id type, uint64_t raw, unsigned flags) {
  int64_t value = 0;
  double d;
  float f;
  bool is_signed = true;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: value = (int8_t)raw; break;
    case CFFI_I16: value = (int16_t)raw; break;
    case CFFI_I32: value = (int32_t)raw; break;
    case CFFI_I64: case CFFI_I64_FAST: value = (int64_t)raw; break;
    case CFFI_U8: case CFFI_BOOL: value = (uint8_t)raw, is_signed = false; break;
    case CFFI_U16: value = (uint16_t)raw, is_signed = false; break;
    case CFFI_U32: value = (uint32_t)raw, is_signed = false; break;
    case CFFI_F32:
      memcpy(&f, &raw, sizeof f);
      return ((flags & STOP_NONZERO) && f != 0) || ((flags & STOP_NEGATIVE) && f < 0);
    case CFFI_F64:
      memcpy(&d, &raw, sizeof d);
      return ((flags & STOP_NONZERO) && d != 0) || ((flags & STOP_NEGATIVE) && d < 0);
    case CFFI_VOID: return false;
    default: return (flags & STOP_NONZERO) && raw != 0; /* u64, pointers */
  }
  return ((flags & STOP_NONZERO) && value != 0) || ((flags & STOP_NEGATIVE) && is_signed && value < 0);
}

/* How a result reaches JS: numbers and bigints through the run's raw
 * buffer (lib/batch.js builds the array; no Node-API call per result), the
 * rest as the type table makes them. */
enum { KIND_NONE, KIND_NUMBER, KIND_I64, KIND_U64, KIND_BOOL, KIND_VALUE };

static uint8_t result_kind_of(cffi_type_id type) {
  switch (type) {
    case CFFI_VOID: return KIND_NONE;
    case CFFI_CHAR: case CFFI_I8: case CFFI_U8: case CFFI_I16: case CFFI_U16: case CFFI_I32: case CFFI_U32:
    case CFFI_F32: case CFFI_F64:
      return KIND_NUMBER;
    case CFFI_I64: return KIND_I64;
    case CFFI_U64: return KIND_U64;
    case CFFI_BOOL: return KIND_BOOL;
    default: return KIND_VALUE;
  }
}

/* The raw result as the number the single call returns. */
static double result_number(cffi_type_id type, uint64_t raw) {
  float f;
  double d;
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: return (int8_t)raw;
    case CFFI_U8: return (uint8_t)raw;
    case CFFI_I16: return (int16_t)raw;
    case CFFI_U16: return (uint16_t)raw;
    case CFFI_I32: return (int32_t)raw;
    case CFFI_U32: return (uint32_t)raw;
    case CFFI_F32: memcpy(&f, &raw, sizeof f); return f;
    default: memcpy(&d, &raw, sizeof d); return d;
  }
}

/* What one run works with (batch_run's arguments, unpacked once). */
typedef struct {
  napi_value results;   /* JS array: KIND_VALUE results */
  uint64_t *raw;        /* per entry: the number (as a double's bits) or bigint */
  uint8_t *kinds;       /* per entry: KIND_* */
  int32_t *errnos;      /* per entry, or NULL */
  uint32_t count;       /* entries in the whole batch */
  napi_value syms;      /* the batch's distinct functions */
  cffi_function **fns;  /* syms unwrapped, on first use */
  uint32_t sym_count;
  unsigned flags;
} run_state;

static napi_value earlier_result(napi_env env, const run_state *run, uint32_t entry) {
  napi_value value = NULL;
  double d;
  switch (run->kinds[entry]) {
    case KIND_NUMBER: memcpy(&d, &run->raw[entry], sizeof d); napi_create_double(env, d, &value); break;
    case KIND_I64: napi_create_bigint_int64(env, (int64_t)run->raw[entry], &value); break;
    case KIND_U64: napi_create_bigint_uint64(env, run->raw[entry], &value); break;
    case KIND_BOOL: napi_get_boolean(env, run->raw[entry] != 0, &value); break;
    case KIND_VALUE: napi_get_element(env, run->results, entry, &value); break;
    default: napi_get_undefined(env, &value); break;
  }
  return value;
}

/* Resolves a chained entry's references into its argument copy. */
static bool resolve_references(napi_env env, const run_state *run, napi_value *argv, size_t argc,
                               const napi_value *quads, unsigned count, uint32_t entry) {
  for (unsigned q = 0; q < count; q++) {
    double position, kind;
    number_arg(env, quads[q * 4], &position);
    number_arg(env, quads[q * 4 + 1], &kind);
    if ((size_t)position >= argc) continue;
    if (kind == REF_RESULT) {
      double source;
      number_arg(env, quads[q * 4 + 2], &source);
      if (source >= entry) {
        cffi_throw(env, "RangeError", "args[%u]: b.result(%.0f) is not an earlier entry", (unsigned)position, source);
        return false;
      }
      argv[(size_t)position] = earlier_result(env, run, (uint32_t)source);
    } else {
      double address_number = 0;
      int64_t address_big;
      bool lossless;
      uint64_t address;
      cffi_type_id type;
      if (napi_get_value_bigint_int64(env, quads[q * 4 + 2], &address_big, &lossless) == napi_ok)
        address = (uint64_t)address_big;
      else if (number_arg(env, quads[q * 4 + 2], &address_number))
        address = (uint64_t)address_number;
      else
        return false;
      if (!address) {
        cffi_throw(env, "TypeError", "args[%u]: deref of a null address", (unsigned)position);
        return false;
      }
      if (!cffi_type_from_value(env, quads[q * 4 + 3], "deref", (int)position, &type)) return false;
      napi_value value = read_at(env, address, type);
      if (!value) return false;
      argv[(size_t)position] = value;
    }
  }
  return true;
}

static cffi_function *entry_function(napi_env env, run_state *run, uint32_t id) {
  if (id >= run->sym_count) return NULL;
  if (!run->fns[id]) {
    napi_value sym;
    if (napi_get_element(env, run->syms, id, &sym) != napi_ok) return NULL;
    run->fns[id] = bound_function_of(env, sym);
  }
  return run->fns[id];
}

/* One entry: convert, call, store its result. False with an exception pending. */
static bool run_entry(napi_env env, run_state *run, cffi_call *call, cffi_function *fn, napi_value *argv,
                      size_t argc, uint32_t entry, bool *stopped) {
  if (!fn->owner->open) return cffi_jit_closed(env, fn), false;
  if (argc < fn->sig.required) return cffi_jit_missing(env, fn, argc), false;
  uint64_t slots[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1];
  memset(slots, 0, cffi_call_slot_count(&fn->sig) * sizeof slots[0]);
  if (fn->sig.engine == CFFI_ENGINE_REGISTERS && !fn->sig.general_path) {
    if (!cffi_convert_register_arguments(env, fn, argv, slots)) return false;
  } else {
    call->symbol = fn->name;
    call->ran_js = false;
    if (!cffi_convert_call_arguments(call, fn, argv, slots)) return false;
  }
  uint64_t raw = cffi_call_slots_in_env(fn, slots);
  cffi_env_state *state = fn->state;
  if (state->cleanup_depth > state->call_depth && cffi_callbacks_cleanup(env, state)) return false;
  if (run->errnos) run->errnos[entry] = state->last_errno;
  const cffi_type_id returns = fn->sig.returns;
  const uint8_t kind = result_kind_of(returns);
  run->kinds[entry] = kind;
  if (kind == KIND_NUMBER) {
    double d = result_number(returns, raw);
    memcpy(&run->raw[entry], &d, sizeof d);
  } else if (kind == KIND_BOOL) {
    run->raw[entry] = (raw & 0xff) != 0;
  } else if (kind == KIND_VALUE) {
    napi_value result = cffi_jit_result(env, fn, raw);
    if (!result) return false;
    napi_set_element(env, run->results, entry, result);
  } else {
    run->raw[entry] = raw;
  }
  if ((run->flags & (STOP_NONZERO | STOP_NEGATIVE)) && raw_stops(returns, raw, run->flags)) *stopped = true;
  return true;
}

static void *typed_data(napi_env env, napi_value value, size_t *length) {
  void *data = NULL;
  bool is_array = false;
  *length = 0;
  if (napi_is_typedarray(env, value, &is_array) != napi_ok || !is_array) return NULL;
  napi_get_typedarray_info(env, value, NULL, length, &data, NULL, NULL);
  return data;
}

#define RUN_PREFIX 9
/* batchRun(results, raw: Float64Array, kinds: Uint8Array, errnos|undefined,
 * syms, firstEntry, flags, headers: Float64Array, entryCount, ...arguments)
 * (headers indexed by entry, read from memory: no Node-API call each): runs the entries; returns how many
 * ran, negated when a result stopped the run. */
static napi_value batch_run(napi_env env, napi_callback_info info) {
  size_t total = 0;
  napi_get_cb_info(env, info, &total, NULL, NULL, NULL);
  if (total < RUN_PREFIX) return cffi_throw(env, "TypeError", "batchRun: internal arguments missing");
  if (running_batches)
    return cffi_throw(env, "Error",
                      "batch.run() was called while a batch runs on this thread (from a callback); batches do not nest");
  napi_value stack_values[256];
  napi_value *values = total <= 256 ? stack_values : malloc(total * sizeof *values);
  if (!values) return cffi_throw(env, "RangeError", "batch: out of memory");
  napi_get_cb_info(env, info, &total, values, NULL, NULL);
  run_state run = {.results = values[0]};
  size_t raw_length, kinds_length, errno_length = 0;
  run.raw = typed_data(env, values[1], &raw_length);
  run.kinds = typed_data(env, values[2], &kinds_length);
  run.errnos = typed_data(env, values[3], &errno_length);
  run.count = (uint32_t)(raw_length < kinds_length ? raw_length : kinds_length);
  run.syms = values[4];
  napi_get_array_length(env, run.syms, &run.sym_count);
  double first_number, flags_number;
  number_arg(env, values[5], &first_number);
  number_arg(env, values[6], &flags_number);
  run.flags = (unsigned)flags_number;
  size_t header_count = 0;
  const double *headers = typed_data(env, values[7], &header_count);
  double chunk_number = 0;
  number_arg(env, values[8], &chunk_number);
  if (header_count < run.count) headers = NULL;
  if (run.errnos && errno_length < run.count) run.errnos = NULL;
  cffi_function *stack_fns[16] = {0};
  run.fns = run.sym_count <= 16 ? stack_fns : calloc(run.sym_count, sizeof *run.fns);
  if (!run.fns || !run.raw || !run.kinds || !headers) {
    if (values != stack_values) free(values);
    return cffi_throw(env, "RangeError", "batch: out of memory");
  }
  uint32_t entry = (uint32_t)first_number;
  int64_t ran = 0;
  bool stopped = false, ok = true;
  cffi_call call;
  cffi_call_init(&call, env, "batch");
  running_batches++;
  const uint32_t end = (uint32_t)first_number + (uint32_t)chunk_number;
  for (size_t at = RUN_PREFIX; entry < end && !stopped; entry++) {
    const uint64_t header = entry < run.count ? (uint64_t)headers[entry] : 0;
    const size_t argc = header & HEADER_ARGC;
    const uint32_t id = (uint32_t)(header >> 17);
    napi_value *argv = &values[at];
    at += argc;
    unsigned quads = 0;
    if (header & HEADER_CHAINED) {
      double count = 0;
      if (at < total) number_arg(env, values[at], &count);
      quads = (unsigned)count;
      at += 1 + 4u * quads;
    }
    cffi_function *fn = entry_function(env, &run, id);
    if (entry >= run.count || at > total || end > run.count) {
      cffi_throw(env, "Error", "batchRun: internal entries malformed");
      ok = false;
    } else if (!fn) {
      cffi_throw(env, "TypeError", "expected a function bound by dlopen, linkSymbols, CFunction or cc()");
      ok = false;
    } else if (argc > CFFI_MAX_ARGS) {
      cffi_throw(env, "TypeError", "%s: %zu arguments (at most %d)", fn->name, argc, CFFI_MAX_ARGS);
      ok = false;
    } else if (quads) {
      napi_value copy[CFFI_MAX_ARGS + 1];
      memcpy(copy, argv, argc * sizeof *argv);
      ok = resolve_references(env, &run, copy, argc, argv + argc + 1, quads, entry) &&
           run_entry(env, &run, &call, fn, copy, argc, entry, &stopped);
    } else {
      ok = run_entry(env, &run, &call, fn, argv, argc, entry, &stopped);
    }
    if (!ok) {
      name_entry_in_error(env, entry);
      break;
    }
    ran++;
  }
  running_batches--;
  /* Strings converted for the run live until here. */
  cffi_call_release(&call);
  if (values != stack_values) free(values);
  if (run.fns != stack_fns) free(run.fns);
  if (!ok) return NULL;
  napi_value count;
  napi_create_int64(env, stopped ? -ran : ran, &count);
  return count;
}

/* ---- runAsync: the whole batch on the shared pool ----------------------
 * Each entry is a prepared call (src/calls/async_call.h: converted now, its
 * objects kept alive, strings copied); the pool thread runs them in order. */

typedef struct {
  cffi_async_job job; /* first */
  napi_deferred deferred;
  unsigned flags;
  uint32_t count;
  uint32_t ran;
  int64_t stopped_at;
  cffi_prepared_call *calls[];
} async_batch;

static void free_async_batch(napi_env env, async_batch *ab) {
  for (uint32_t i = 0; i < ab->count; i++)
    if (ab->calls[i]) cffi_prepared_call_free(env, ab->calls[i]);
  free(ab);
}

static void run_async_batch(cffi_pool_job *job) {
  async_batch *ab = (async_batch *)job;
  for (uint32_t i = 0; i < ab->count; i++) {
    cffi_prepared_call_run(ab->calls[i]);
    ab->ran = i + 1;
    if ((ab->flags & (STOP_NONZERO | STOP_NEGATIVE)) &&
        raw_stops(ab->calls[i]->sig.returns, ab->calls[i]->result, ab->flags)) {
      ab->stopped_at = i;
      break;
    }
  }
  cffi_async_finish(&ab->job);
}

static void settle_async_batch(napi_env env, cffi_async_job *job) {
  async_batch *ab = (async_batch *)job;
  if (env) {
    napi_value results, value, errnos = NULL, buffer;
    void *errno_data = NULL;
    napi_create_array_with_length(env, ab->count, &results);
    if (ab->flags & WITH_ERRNO) {
      napi_create_arraybuffer(env, ab->count * sizeof(int32_t), &errno_data, &buffer);
      napi_create_typedarray(env, napi_int32_array, ab->count, buffer, 0, &errnos);
      memset(errno_data, 0, ab->count * sizeof(int32_t));
    }
    napi_get_undefined(env, &value);
    for (uint32_t i = 0; i < ab->count; i++) {
      napi_value result = value;
      if (i < ab->ran) {
        result = cffi_prepared_call_result(env, ab->calls[i], false);
        if (errno_data) ((int32_t *)errno_data)[i] = ab->calls[i]->error_number;
      }
      napi_set_element(env, results, i, result);
    }
    if (ab->flags & (STOP_NONZERO | STOP_NEGATIVE)) {
      napi_create_int64(env, ab->stopped_at, &value);
      napi_set_named_property(env, results, "stoppedAt", value);
    }
    if (errnos) napi_set_named_property(env, results, "errno", errnos);
    cffi_settle_deferred(env, ab->deferred, results);
  }
  free_async_batch(env, ab);
}

/* batchRunAsync(count, flags, syms, headers, ...arguments): a Promise of the results. Bad
 * input throws (as run() does) before anything is queued. */
static napi_value batch_run_async(napi_env env, napi_callback_info info) {
  size_t total = 0;
  napi_get_cb_info(env, info, &total, NULL, NULL, NULL);
  if (total < 4) return cffi_throw(env, "TypeError", "batchRunAsync: internal arguments missing");
  napi_value *values = malloc(total * sizeof *values);
  if (!values) return cffi_throw(env, "RangeError", "batch: out of memory");
  napi_get_cb_info(env, info, &total, values, NULL, NULL);
  double count_number, flags_number;
  number_arg(env, values[0], &count_number);
  number_arg(env, values[1], &flags_number);
  const uint32_t count = (uint32_t)count_number;
  async_batch *ab = calloc(1, sizeof *ab + count * sizeof ab->calls[0]);
  if (!ab) {
    free(values);
    return cffi_throw(env, "RangeError", "batch: out of memory");
  }
  ab->count = count;
  ab->flags = (unsigned)flags_number;
  ab->stopped_at = -1;
  uint32_t entry = 0, sym_count = 0;
  bool ok = true;
  size_t header_count = 0;
  const double *headers = typed_data(env, values[3], &header_count);
  napi_get_array_length(env, values[2], &sym_count);
  for (size_t at = 4; entry < count; entry++) {
    const uint64_t header = headers && entry < header_count ? (uint64_t)headers[entry] : 0;
    const size_t argc = header & HEADER_ARGC;
    const uint32_t id = (uint32_t)(header >> 17);
    napi_value sym = NULL;
    cffi_function *fn = id < sym_count && napi_get_element(env, values[2], id, &sym) == napi_ok
                            ? bound_function_of(env, sym) : NULL;
    const napi_value *argv = &values[at];
    at += argc;
    if (!fn || at > total) {
      cffi_throw(env, "TypeError", "expected a function bound by dlopen, linkSymbols, CFunction or cc()");
      ok = false;
    } else if (header & HEADER_CHAINED) {
      cffi_throw(env, "TypeError",
                 "%s: b.result() and b.deref() arguments run only in run(), not runAsync()", fn->name);
      ok = false;
    } else if (!fn->owner->open) {
      cffi_jit_closed(env, fn);
      ok = false;
    } else {
      ok = (ab->calls[entry] = cffi_prepared_call_new(env, fn, argc, argv)) != NULL;
    }
    if (!ok) {
      name_entry_in_error(env, entry);
      break;
    }
  }
  free(values);
  cffi_pool *pool = ok ? cffi_pool_shared() : NULL;
  if (ok && !pool) {
    cffi_throw(env, "RangeError", "cffi-bun: out of memory starting the thread pool");
    ok = false;
  }
  napi_value promise;
  if (!ok || napi_create_promise(env, &ab->deferred, &promise) != napi_ok) {
    free_async_batch(env, ab);
    return NULL;
  }
  ab->job.pool_job.run = run_async_batch;
  if (!cffi_async_begin(env, &ab->job, settle_async_batch)) {
    free_async_batch(env, ab);
    return NULL; /* the Promise is never returned: the exception is */
  }
  if (!cffi_pool_submit(pool, &ab->job.pool_job)) {
    cffi_async_abandon(env, &ab->job);
    free_async_batch(env, ab);
    return cffi_throw(env, "Error", "batch.runAsync(): no thread could be started");
  }
  return promise;
}

/* ---- sym.map ------------------------------------------------------------ */

/* The TypedArray kind holding values of a numeric cffi type; -1 for none. */
static int array_type_of(cffi_type_id type) {
  switch (type) {
    case CFFI_CHAR: case CFFI_I8: return napi_int8_array;
    case CFFI_U8: case CFFI_BOOL: return napi_uint8_array;
    case CFFI_I16: return napi_int16_array;
    case CFFI_U16: return napi_uint16_array;
    case CFFI_I32: return napi_int32_array;
    case CFFI_U32: return napi_uint32_array;
    case CFFI_I64: case CFFI_I64_FAST: return napi_bigint64_array;
    case CFFI_U64: case CFFI_U64_FAST: case CFFI_PTR: return napi_biguint64_array;
    case CFFI_F32: return napi_float32_array;
    case CFFI_F64: return napi_float64_array;
    default: return -1;
  }
}

static const char *array_name(int kind) {
  switch (kind) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

static size_t element_size(int kind) {
  switch (kind) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    default: return 8;
  }
}

/* Element i of a column as the argument's register image. */
static inline uint64_t load_element(const void *data, int kind, size_t i) {
  switch (kind) {
    case napi_int8_array: return (uint64_t)(int64_t)((const int8_t *)data)[i];
    case napi_uint8_array: return ((const uint8_t *)data)[i];
    case napi_int16_array: return (uint64_t)(int64_t)((const int16_t *)data)[i];
    case napi_uint16_array: return ((const uint16_t *)data)[i];
    case napi_int32_array: return (uint64_t)(int64_t)((const int32_t *)data)[i];
    case napi_uint32_array: case napi_float32_array: return ((const uint32_t *)data)[i];
    default: return ((const uint64_t *)data)[i];
  }
}

static inline void store_element(void *data, int kind, size_t i, uint64_t raw, cffi_type_id type) {
  switch (kind) {
    case napi_int8_array: case napi_uint8_array:
      ((uint8_t *)data)[i] = type == CFFI_BOOL ? (uint8_t)(raw & 0xff ? 1 : 0) : (uint8_t)raw;
      break;
    case napi_int16_array: case napi_uint16_array: ((uint16_t *)data)[i] = (uint16_t)raw; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: ((uint32_t *)data)[i] = (uint32_t)raw; break;
    default: ((uint64_t *)data)[i] = raw; break;
  }
}

/* After user JS ran during a map (a getter converting a broadcast value, a
 * callback C called): every column must still be attached and as long, or
 * the loop would read freed memory. Refreshes the columns' data pointers. */
static bool map_columns_still_valid(napi_env env, const cffi_function *fn, const napi_value *values,
                                    const void **column, size_t n) {
  for (unsigned k = 0; k < fn->sig.nargs; k++) {
    if (!column[k]) continue;
    napi_typedarray_type kind;
    size_t length = 0;
    void *data = NULL;
    if (napi_get_typedarray_info(env, values[k], &kind, &length, &data, NULL, NULL) != napi_ok || length != n ||
        (!data && n)) {
      cffi_throw(env, "TypeError", "%s.map: args[%u] (%s) was detached or resized by JavaScript during the map", fn->name,
                 k, cffi_types[fn->sig.args[k]].name);
      return false;
    }
    column[k] = data;
  }
  return true;
}

/* mapCall(sym, n, ...args) */
static napi_value map_call(napi_env env, napi_callback_info info) {
  napi_value argv[CFFI_MAX_ARGS + 2];
  size_t argc = CFFI_MAX_ARGS + 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cffi_function *fn = argc ? bound_function_of(env, argv[0]) : NULL;
  if (!fn) return cffi_throw(env, "TypeError", "map: expected a function bound by dlopen, linkSymbols, CFunction or cc()");
  double count_number = -1;
  if (argc < 2 || !number_arg(env, argv[1], &count_number) || count_number < 0 ||
      count_number != (double)(size_t)count_number || count_number > 4294967295.0)
    return cffi_throw(env, "TypeError", "%s.map: n (the call count) must be a non-negative integer", fn->name);
  const size_t n = (size_t)count_number;
  const cffi_signature *sig = &fn->sig;
  const size_t given = argc - 2;
  if (!fn->owner->open) return cffi_jit_closed(env, fn);
  if (given < sig->required) return cffi_jit_missing(env, fn, given);
  if (sig->takes_env || sig->returns == CFFI_NAPI_VALUE)
    return cffi_throw(env, "TypeError", "%s.map: functions taking napi_env or returning napi_value cannot be mapped", fn->name);
  const bool returns_void = sig->returns == CFFI_VOID;
  const int result_kind = returns_void ? -1 : array_type_of(sig->returns);
  if (!returns_void && result_kind < 0)
    return cffi_throw(env, "TypeError", "%s.map: a %s result has no TypedArray (map returns numbers, bigints or pointers)",
                      fn->name, cffi_types[sig->returns].name);
  /* Columns: TypedArrays read element by element; everything else (and any
   * value for a pointer-like argument) is converted once and broadcast. */
  uint64_t slots[CFFI_MAX_ARGS + CFFI_INT_REGS + CFFI_FLOAT_REGS + 1];
  const void *column[CFFI_MAX_ARGS];
  int column_kind[CFFI_MAX_ARGS];
  memset(slots, 0, cffi_call_slot_count(sig) * sizeof slots[0]);
  cffi_call call;
  cffi_call_init(&call, env, fn->name);
  for (unsigned k = 0; k < sig->nargs; k++) {
    const cffi_type_id type = sig->args[k];
    napi_value value = argv[2 + k];
    bool is_array = false;
    column[k] = NULL;
    const int wanted = array_type_of(type);
    if (wanted >= 0 && type != CFFI_PTR) napi_is_typedarray(env, value, &is_array);
    if (is_array) {
      napi_typedarray_type kind;
      size_t length;
      void *data;
      napi_get_typedarray_info(env, value, &kind, &length, &data, NULL, NULL);
      int accepted = kind == napi_uint8_clamped_array && wanted == napi_uint8_array ? napi_uint8_array : (int)kind;
      if (accepted != wanted) {
        cffi_call_release(&call);
        return cffi_throw(env, "TypeError", "%s.map: args[%u] (%s) must be a %s (one element per call) or a single value, received a %s",
                          fn->name, k, cffi_types[type].name, array_name(wanted), array_name(kind));
      }
      if (length != n) {
        cffi_call_release(&call);
        return cffi_throw(env, "RangeError", "%s.map: args[%u] (%s) has %zu elements for %zu calls", fn->name, k,
                          cffi_types[type].name, length, n);
      }
      if (!data && n) {
        cffi_call_release(&call);
        return cffi_throw(env, "TypeError", "%s.map: args[%u] (%s): its ArrayBuffer is detached", fn->name, k, array_name(kind));
      }
      column[k] = data;
      column_kind[k] = accepted;
    } else {
      call.index = k;
      call.type = type;
      if (!cffi_types[type].to_c(&call, value, &slots[sig->dest[k]])) {
        cffi_call_release(&call);
        return NULL;
      }
    }
  }
  /* A getter may have closed the library while a broadcast value was converted. */
  if (!fn->owner->open) {
    cffi_call_release(&call);
    return cffi_jit_closed(env, fn);
  }
  if (call.ran_js && !map_columns_still_valid(env, fn, argv + 2, column, n)) {
    cffi_call_release(&call);
    return NULL;
  }
  napi_value buffer = NULL, result = NULL;
  void *out = NULL;
  if (!returns_void) {
    if (napi_create_arraybuffer(env, n * element_size(result_kind), &out, &buffer) != napi_ok ||
        napi_create_typedarray(env, (napi_typedarray_type)result_kind, n, buffer, 0, &result) != napi_ok) {
      cffi_call_release(&call);
      return NULL;
    }
  }
  cffi_env_state *state = fn->state;
  bool failed = false;
  uint32_t callbacks_seen = state->js_callbacks_run;
  for (size_t i = 0; i < n && !failed; i++) {
    for (unsigned k = 0; k < sig->nargs; k++)
      if (column[k]) slots[sig->dest[k]] = load_element(column[k], column_kind[k], i);
    uint64_t raw = cffi_call_slots_in_env(fn, slots);
    if (out) store_element(out, result_kind, i, raw, sig->returns);
    if (state->cleanup_depth > state->call_depth && cffi_callbacks_cleanup(env, state)) failed = true;
    if (!failed && state->js_callbacks_run != callbacks_seen) {
      callbacks_seen = state->js_callbacks_run;
      if (!fn->owner->open) {
        cffi_call_release(&call);
        return cffi_jit_closed(env, fn);
      }
      if (!map_columns_still_valid(env, fn, argv + 2, column, n)) failed = true;
    }
  }
  cffi_call_release(&call);
  return failed ? NULL : result;
}

/* ---- publishing --------------------------------------------------------- */

bool cffi_batch_publish(napi_env env, cffi_function *fn, napi_value function) {
  if (!bound_prototype) return cffi_async_publish(env, fn, function); /* the addon alone */
  napi_value proto, set_proto, global, args[2], ignored;
  if (napi_get_reference_value(env, bound_prototype, &proto) != napi_ok ||
      napi_get_reference_value(env, set_prototype_of, &set_proto) != napi_ok || napi_get_global(env, &global) != napi_ok)
    return false;
  args[0] = function;
  args[1] = proto;
  return napi_call_function(env, global, set_proto, 2, args, &ignored) == napi_ok;
}

/* asyncOf(sym): defines sym.async on first access (the shared accessor's work). */
static napi_value async_of(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cffi_function *fn = argc ? bound_function_of(env, argv[0]) : NULL;
  if (!fn || !cffi_async_publish(env, fn, argv[0])) return NULL;
  napi_get_named_property(env, argv[0], "async", &result);
  return result;
}

/* batchPrototype(proto, Object.setPrototypeOf): once, from lib/batch.js. */
static napi_value batch_prototype(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return NULL;
  if (bound_prototype) napi_delete_reference(env, bound_prototype);
  if (set_prototype_of) napi_delete_reference(env, set_prototype_of);
  napi_create_reference(env, argv[0], 1, &bound_prototype);
  napi_create_reference(env, argv[1], 1, &set_prototype_of);
  return NULL;
}

void cffi_make_batch_exports(napi_env env, napi_value exports) {
  /* A worker's env starts without the previous env's references. */
  bound_prototype = NULL;
  set_prototype_of = NULL;
  running_batches = 0;
  napi_property_descriptor props[] = {
      {"batchRun", NULL, batch_run, NULL, NULL, NULL, napi_default, NULL},
      {"mapCall", NULL, map_call, NULL, NULL, NULL, napi_default, NULL},
      {"batchRunAsync", NULL, batch_run_async, NULL, NULL, NULL, napi_default, NULL},
      {"asyncOf", NULL, async_of, NULL, NULL, NULL, napi_default, NULL},
      {"batchPrototype", NULL, batch_prototype, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
