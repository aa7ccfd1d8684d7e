/*
 * batch.c - sym.map() and the shared prototype of bound functions; batch()
 * itself is src/calls/batch_buffer.c.
 *
 * Owns: sym.map's loop over TypedArrays (a loop compiled with the addon
 * for the commonest shapes, src/calls/map_precompiled.c; a TinyCC-generated
 * loop over the real prototype where the jit is available,
 * src/calls/map_jit.c; this file's C loop over the register engine's or
 * libffi's call elsewhere), the output array (new, or options.into),
 * recognising a bound function from its JS value, and the prototype whose
 * accessors create sym.map and sym.async on first use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "async_call.h"
#include "batch.h"

/* The prototype bound functions get, and Object.setPrototypeOf, are the
 * env's (state->batch_bound_prototype, batch_set_prototype_of: each load
 * of the addon has its own lib/batch.js). */

napi_value cffi_jit_closed(napi_env env, cffi_function *fn);
napi_value cffi_jit_missing(napi_env env, cffi_function *fn, size_t argc);
napi_value cffi_jit_result(napi_env env, cffi_function *fn, uint64_t raw);

cffi_function *cffi_bound_function_of(napi_env env, napi_value value) {
  return cffi_function_of(env, value);
}

static bool number_arg(napi_env env, napi_value value, double *out) {
  return napi_get_value_double(env, value, out) == napi_ok;
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

/* The same three for batch_buffer.c's typed results (run({ into: TypedArray })). */
int cffi_array_type_of(cffi_type_id type) { return array_type_of(type); }
const char *cffi_array_name(int kind) { return array_name(kind); }
size_t cffi_array_element_size(int kind) { return element_size(kind); }

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

/* The array map stores its results in: a new one, or options.into. */
typedef struct {
  napi_value array; /* NULL for a void function */
  void *data;
  int kind;
  bool given; /* options.into: JS may detach it during the map */
} map_output;

/* options.into, after user JS ran: still attached and as long. */
static bool map_output_still_valid(napi_env env, const cffi_function *fn, map_output *output, size_t n) {
  if (!output->given) return true;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, output->array, NULL, &length, &data, NULL, NULL) != napi_ok || length != n ||
      (!data && n)) {
    cffi_throw(env, "TypeError", "%s.map: options.into was detached or resized by JavaScript during the map", fn->name);
    return false;
  }
  output->data = data;
  return true;
}

typedef enum { MAP_GO_ON, MAP_FAILED, MAP_LIBRARY_CLOSED } map_step;

/* After calls of the map's loop: the cleanups of callbacks that threw, then,
 * if JS ran since *callbacks_seen, the library still open and the columns
 * and output still valid. One truth for every loop. */
static map_step map_after_calls(napi_env env, cffi_function *fn, const napi_value *values, const void **column,
                                map_output *output, size_t n, uint32_t *callbacks_seen) {
  cffi_env_state *state = fn->state;
  if (state->cleanup_depth > state->call_depth && cffi_callbacks_cleanup(env, state)) return MAP_FAILED;
  if (state->js_callbacks_run == *callbacks_seen) return MAP_GO_ON;
  *callbacks_seen = state->js_callbacks_run;
  if (!fn->owner->open) return MAP_LIBRARY_CLOSED;
  return map_columns_still_valid(env, fn, values, column, n) && map_output_still_valid(env, fn, output, n)
             ? MAP_GO_ON
             : MAP_FAILED;
}

/* sym.map(n, ...args, { into }): the options object, when the call has one
 * argument more than the function and that is a plain object (not a view,
 * not an ArrayBuffer) with an `into` property. */
static bool map_options_of(napi_env env, napi_value value, napi_value *into) {
  napi_valuetype type;
  bool is_view = false, is_buffer = false, has = false;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return false;
  if (napi_is_typedarray(env, value, &is_view) != napi_ok || is_view) return false;
  if (napi_is_dataview(env, value, &is_view) != napi_ok || is_view) return false;
  if (napi_is_arraybuffer(env, value, &is_buffer) != napi_ok || is_buffer) return false;
  if (napi_has_named_property(env, value, "into", &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, value, "into", into) != napi_ok) return false;
  if (napi_typeof(env, *into, &type) == napi_ok && type == napi_undefined) *into = NULL; /* { into: undefined }: none */
  return true;
}

/* options.into checked: a TypedArray of the result kind with exactly n
 * elements, attached, and sharing no memory with an input column unless
 * it is that column, element for element (an in-place map). */
static bool map_output_from(napi_env env, const cffi_function *fn, napi_value into, int result_kind, size_t n,
                            const void **column, const int *column_kind, map_output *output) {
  const cffi_signature *sig = &fn->sig;
  bool is_array = false;
  if (sig->returns == CFFI_VOID) {
    cffi_throw(env, "TypeError", "%s.map: options.into: a void function has no results to store", fn->name);
    return false;
  }
  napi_typedarray_type kind;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, into, &is_array) != napi_ok || !is_array) {
    cffi_throw(env, "TypeError", "%s.map: options.into must be a %s of %zu elements (the results of a %s function), received %s",
               fn->name, array_name(result_kind), n, cffi_types[sig->returns].name, cffi_value_kind(env, into));
    return false;
  }
  napi_get_typedarray_info(env, into, &kind, &length, &data, NULL, NULL);
  const int accepted = kind == napi_uint8_clamped_array && result_kind == napi_uint8_array ? napi_uint8_array : (int)kind;
  if (accepted != result_kind) {
    cffi_throw(env, "TypeError", "%s.map: options.into must be a %s (the results of a %s function), received a %s", fn->name,
               array_name(result_kind), cffi_types[sig->returns].name, array_name(kind));
    return false;
  }
  if (length != n) {
    cffi_throw(env, "RangeError", "%s.map: options.into has %zu elements for %zu calls", fn->name, length, n);
    return false;
  }
  if (!data && n) {
    cffi_throw(env, "TypeError", "%s.map: options.into: its ArrayBuffer is detached", fn->name);
    return false;
  }
  const size_t size = element_size(result_kind);
  for (unsigned k = 0; k < sig->nargs && n; k++) {
    if (!column[k]) continue;
    const char *in = column[k], *out = data;
    const size_t in_size = element_size(column_kind[k]);
    if (in == out && in_size == size) continue; /* in place: each call reads its element before the store */
    if (in < out + n * size && out < in + n * in_size) {
      cffi_throw(env, "RangeError", "%s.map: options.into overlaps args[%u]'s memory (only the very same elements, an "
                 "in-place map, may be shared)", fn->name, k);
      return false;
    }
  }
  output->array = into;
  output->data = data;
  output->kind = result_kind;
  output->given = true;
  return true;
}

/* mapCall(sym, n, ...args) */
static napi_value map_call(napi_env env, napi_callback_info info) {
  napi_value argv[CFFI_MAX_ARGS + 2];
  size_t argc = CFFI_MAX_ARGS + 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cffi_function *fn = argc ? cffi_bound_function_of(env, argv[0]) : NULL;
  if (!fn) return cffi_throw(env, "TypeError", "map: expected a function bound by dlopen, linkSymbols, CFunction or cc()");
  double count_number = -1;
  if (argc < 2 || !number_arg(env, argv[1], &count_number) || count_number < 0 ||
      count_number != (double)(size_t)count_number || count_number > 4294967295.0)
    return cffi_throw(env, "TypeError", "%s.map: n (the call count) must be a non-negative integer", fn->name);
  const size_t n = (size_t)count_number;
  const cffi_signature *sig = &fn->sig;
  size_t given = argc - 2;
  napi_value into = NULL;
  if (!sig->variadic && given == (size_t)sig->nargs + 1 && map_options_of(env, argv[argc - 1], &into)) given--;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL; /* an `into` getter threw */
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
  map_output output = {NULL, NULL, result_kind, false};
  if (into && !map_output_from(env, fn, into, result_kind, n, column, column_kind, &output)) {
    cffi_call_release(&call);
    return NULL;
  }
  if (!returns_void && !output.given) {
    napi_value buffer;
    if (napi_create_arraybuffer(env, n * element_size(result_kind), &output.data, &buffer) != napi_ok ||
        napi_create_typedarray(env, (napi_typedarray_type)result_kind, n, buffer, 0, &output.array) != napi_ok) {
      cffi_call_release(&call);
      return NULL;
    }
  }
  cffi_env_state *state = fn->state;
  uint32_t callbacks_seen = state->js_callbacks_run;
  /* Each loop returns after any call during which JS ran, for the checks
   * of map_after_calls, and is resumed. */
  uint64_t column_mask = 0, scalars[CFFI_MAX_ARGS];
  for (unsigned k = 0; k < sig->nargs; k++) {
    if (column[k]) column_mask |= (uint64_t)1 << k;
    scalars[k] = slots[sig->dest[k]];
  }
  /* The loop compiled with the addon for the commonest shapes
   * (src/calls/map_precompiled.c); a broadcast is a column of stride 0. */
  cffi_map_compiled_fn compiled = cffi_map_precompiled_for(fn);
  union { int32_t w; int64_t l; double d; } broadcast[2];
  uint64_t held = 0; /* the result of the call during which JS ran (see cffi_map_loop_fn) */
  cffi_map_frame frame = {fn->address, state, {NULL, NULL}, {0, 0}, NULL, &held};
  if (compiled) {
    CFFI_DEBUG("map: %s runs the precompiled loop", fn->name);
    for (unsigned k = 0; k < sig->nargs; k++) {
      const bool is_f64 = sig->args[k] == CFFI_F64, is_32 = sig->args[k] == CFFI_I32 || sig->args[k] == CFFI_U32;
      if (column[k]) {
        frame.stride[k] = is_32 ? 4 : 8;
        continue;
      }
      if (is_f64) memcpy(&broadcast[k].d, &scalars[k], sizeof broadcast[k].d);
      else if (is_32) broadcast[k].w = (int32_t)(uint32_t)scalars[k];
      else broadcast[k].l = (int64_t)scalars[k];
      frame.arg[k] = (const char *)&broadcast[k];
    }
  }
  cffi_map_loop_fn loop = compiled ? NULL : cffi_map_loop_for(fn, column_mask, n);
  map_step step = MAP_GO_ON;
  for (size_t i = 0; (compiled || loop) && i < n && step == MAP_GO_ON;) {
    if (compiled) {
      for (unsigned k = 0; k < sig->nargs; k++)
        if (column[k]) frame.arg[k] = column[k]; /* refreshed by map_after_calls */
      frame.out = output.data;
      i = compiled(&frame, i, n);
    } else {
      i = loop(i, n, column, scalars, output.data, &held);
    }
    const bool result_held = state->js_callbacks_run != callbacks_seen;
    step = map_after_calls(env, fn, argv + 2, column, &output, n, &callbacks_seen);
    if (result_held && step == MAP_GO_ON && output.data) store_element(output.data, result_kind, i - 1, held, sig->returns);
  }
  for (size_t i = 0; !compiled && !loop && i < n && step == MAP_GO_ON; i++) {
    for (unsigned k = 0; k < sig->nargs; k++)
      if (column[k]) slots[sig->dest[k]] = sig->args[k] == CFFI_BOOL ? load_element(column[k], column_kind[k], i) != 0
                                                                      : load_element(column[k], column_kind[k], i);
    uint64_t raw = cffi_call_slots_in_env(fn, slots);
    /* Checked before the store: JS that ran during the call may have detached options.into. */
    step = map_after_calls(env, fn, argv + 2, column, &output, n, &callbacks_seen);
    if (step == MAP_GO_ON && output.data) store_element(output.data, result_kind, i, raw, sig->returns);
  }
  cffi_call_release(&call);
  if (step == MAP_LIBRARY_CLOSED) return cffi_jit_closed(env, fn);
  return step == MAP_FAILED ? NULL : output.array;
}

/* ---- publishing --------------------------------------------------------- */

bool cffi_batch_publish(napi_env env, cffi_function *fn, napi_value function) {
  const cffi_env_state *state = fn->state;
  if (!state->batch_bound_prototype) return cffi_async_publish(env, fn, function); /* the addon alone */
  napi_value proto, set_proto, global, args[2], ignored;
  if (napi_get_reference_value(env, state->batch_bound_prototype, &proto) != napi_ok ||
      napi_get_reference_value(env, state->batch_set_prototype_of, &set_proto) != napi_ok ||
      napi_get_global(env, &global) != napi_ok)
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
  cffi_function *fn = argc ? cffi_bound_function_of(env, argv[0]) : NULL;
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
  cffi_env_state *state;
  napi_get_instance_data(env, (void **)&state);
  if (state->batch_bound_prototype) napi_delete_reference(env, state->batch_bound_prototype);
  if (state->batch_set_prototype_of) napi_delete_reference(env, state->batch_set_prototype_of);
  napi_create_reference(env, argv[0], 1, &state->batch_bound_prototype);
  napi_create_reference(env, argv[1], 1, &state->batch_set_prototype_of);
  return NULL;
}

void cffi_make_batch_exports(napi_env env, napi_value exports) {
  cffi_make_batch_buffer_exports(env, exports);
  cffi_map_jit_attach(env);
  napi_property_descriptor props[] = {
      {"mapCall", NULL, map_call, NULL, NULL, NULL, napi_default, NULL},
      {"asyncOf", NULL, async_of, NULL, NULL, NULL, napi_default, NULL},
      {"batchPrototype", NULL, batch_prototype, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
