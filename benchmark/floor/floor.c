/*
 * floor.c - the "floor": a hand-written Node-API addon calling the benchmark
 * fixture's functions directly, with the cheapest conversion for each type.
 * Any FFI on Node pays at least this per call (one Node-API crossing plus
 * the conversions), so cffi-bun's rows are measured against it.
 *
 * Built by benchmark/run.js at run time:
 *   cc -O2 -shared -fPIC -I<node include> floor.c -L<dir> -lbenchfixture
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <string.h>

/* The fixture (benchmark/fixture.c), linked as libbenchfixture.so. */
void noop(void);
void bench_mark(void);
int bench_abs(int);
int add(int, int);
double addf64(double, double);
uint64_t id_u64(uint64_t);
int sum_first(const void *, int);
const char *get_string(void);
double mixed6(int32_t, double, int64_t, float, uint32_t, double);
int32_t sort_ints(int32_t *, int32_t, int (*)(int32_t, int32_t));

static napi_value f_noop(napi_env env, napi_callback_info info) {
  (void)env, (void)info;
  noop();
  return NULL;
}

static napi_value f_mark(napi_env env, napi_callback_info info) {
  (void)env, (void)info;
  bench_mark();
  return NULL;
}

static napi_value f_abs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t x;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &x);
  napi_create_int32(env, bench_abs(x), &result);
  return result;
}

static napi_value f_add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t a, b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &a);
  napi_get_value_int32(env, argv[1], &b);
  napi_create_int32(env, add(a, b), &result);
  return result;
}

static napi_value f_addf64(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  double a, b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_double(env, argv[0], &a);
  napi_get_value_double(env, argv[1], &b);
  napi_create_double(env, addf64(a, b), &result);
  return result;
}

static napi_value f_id_u64(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  uint64_t x;
  bool lossless;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_bigint_uint64(env, argv[0], &x, &lossless);
  napi_create_bigint_uint64(env, id_u64(x), &result);
  return result;
}

static napi_value f_sum_first(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *data;
  int32_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_typedarray_info(env, argv[0], NULL, NULL, &data, NULL, NULL);
  napi_get_value_int32(env, argv[1], &n);
  napi_create_int32(env, sum_first(data, n), &result);
  return result;
}

static napi_value f_get_string(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_string_utf8(env, get_string(), NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value f_mixed6(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result;
  int32_t a;
  int64_t c;
  uint32_t e;
  double b, d, f;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &a);
  napi_get_value_double(env, argv[1], &b);
  napi_get_value_int64(env, argv[2], &c);
  napi_get_value_double(env, argv[3], &d);
  napi_get_value_uint32(env, argv[4], &e);
  napi_get_value_double(env, argv[5], &f);
  napi_create_double(env, mixed6(a, b, c, (float)d, e, f), &result);
  return result;
}

/* ptr(typedArray): the data address as a number. */
static napi_value f_ptr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_typedarray_info(env, argv[0], NULL, NULL, &data, NULL, NULL);
  napi_create_int64(env, (int64_t)(uintptr_t)data, &result);
  return result;
}

/* read.u32(address): the u32 stored there. */
static napi_value f_read_u32(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  double address;
  uint32_t value;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_double(env, argv[0], &address);
  memcpy(&value, (const void *)(uintptr_t)address, sizeof value);
  napi_create_uint32(env, value, &result);
  return result;
}

/* sortInts(int32Array, compare): the fixture's sort calling a JS comparator
 * through napi_call_function, as a hand-written binding would. */
static napi_env sort_env;
static napi_value sort_compare;

static int compare_in_js(int32_t a, int32_t b) {
  napi_value argv[2], global, result;
  int32_t order = 0;
  napi_create_int32(sort_env, a, &argv[0]);
  napi_create_int32(sort_env, b, &argv[1]);
  napi_get_undefined(sort_env, &global);
  if (napi_call_function(sort_env, global, sort_compare, 2, argv, &result) == napi_ok)
    napi_get_value_int32(sort_env, result, &order);
  return order;
}

static napi_value f_sort_ints(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *data;
  size_t length;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_typedarray_info(env, argv[0], NULL, &length, &data, NULL, NULL);
  sort_env = env;
  sort_compare = argv[1];
  int32_t calls = sort_ints(data, (int32_t)length, compare_in_js);
  napi_create_int32(env, calls, &result);
  return result;
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"noop", f_noop},          {"abs", f_abs},
      {"add", f_add},            {"addf64", f_addf64},
      {"id_u64", f_id_u64},      {"sum_first", f_sum_first},
      {"get_string", f_get_string}, {"mixed6", f_mixed6},
      {"ptr", f_ptr},            {"read_u32", f_read_u32},
      {"sort_ints", f_sort_ints}, {"mark", f_mark},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
