/*
 * node_ffi_read.c - the C end of read.* through node:ffi (lib/node-ffi-engine.js,
 * docs/engines.md): one plain C reader per scalar read.* type, exported from
 * the addon's own file so that node:ffi can bind it and V8 call it through
 * its fast API, which no Node-API function reaches (a read.u32 through
 * Node-API costs ~27 ns here, node:ffi's own getUint32(BigInt) ~22).
 *
 * The readers check nothing: the JS guard in front of them sends only what
 * the addon's quick path (src/memory/memory.c, quick_read_address) takes,
 * an integer address at or above the first page and below
 * CFFI_NODE_FFI_READ_LIMIT, already summed with its offset; every other
 * value goes to the addon's read.*, for its results and its errors. Each
 * reads with memcpy, as read.* does, so unaligned addresses are fine.
 */
#include <stdint.h>
#include <string.h>

#include "../cffi.h"

#define NULL_PAGE_LIMIT 4096
/* The quick path's limit: below both 2^53 (exact in a double) and the
 * user-space limit. */
#define CFFI_NODE_FFI_READ_LIMIT \
  ((double)(CFFI_USER_ADDRESS_LIMIT < (UINT64_C(1) << 53) ? CFFI_USER_ADDRESS_LIMIT : (UINT64_C(1) << 53)))

/* Exported from the addon's file (node:ffi binds by name); on Windows the
 * engine is off, and nothing needs them. */
#ifdef _WIN32
#define EXPORTED
#else
#define EXPORTED __attribute__((visibility("default")))
#endif
#define READER(name, type)                                         \
  EXPORTED type cffi_bun_node_ffi_read_##name(double address) {    \
    type value;                                                    \
    memcpy(&value, (const void *)(uintptr_t)(uint64_t)address, sizeof value); \
    return value;                                                  \
  }
READER(u8, uint8_t)
READER(i8, int8_t)
READER(u16, uint16_t)
READER(i16, int16_t)
READER(u32, uint32_t)
READER(i32, int32_t)
READER(f32, float)
READER(f64, double)

/* nodeFfiReadInfo(): { first, limit, prefix }: the address range the
 * readers are given (first <= address < limit) and their names' prefix. */
static napi_value read_info_entry(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, first, limit, prefix;
  if (napi_create_object(env, &result) != napi_ok || napi_create_double(env, NULL_PAGE_LIMIT, &first) != napi_ok ||
      napi_create_double(env, CFFI_NODE_FFI_READ_LIMIT, &limit) != napi_ok ||
      napi_create_string_utf8(env, "cffi_bun_node_ffi_read_", NAPI_AUTO_LENGTH, &prefix) != napi_ok ||
      napi_set_named_property(env, result, "first", first) != napi_ok ||
      napi_set_named_property(env, result, "limit", limit) != napi_ok ||
      napi_set_named_property(env, result, "prefix", prefix) != napi_ok)
    return NULL;
  return result;
}

void cffi_make_node_ffi_read_exports(napi_env env, napi_value exports) {
  cffi_set_function(env, exports, "nodeFfiReadInfo", read_info_entry, NULL);
}
