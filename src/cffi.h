/*
 * cffi.h - the declarations the C files share: type ids, the type table's
 * row, a prepared signature, a bound function and its owner, and the
 * per-call conversion context. Each .c file's header says what it owns.
 */
#ifndef CFFI_H
#define CFFI_H

/* Node-API's experimental version, for one behaviour: finalizers run from
 * the GC itself rather than at the event loop's next turn, so the native
 * memory of what V8 collects (bound functions, definitions, ...) is freed
 * even in a synchronous loop that never yields (issue 22). The price: a
 * finalizer must not call into JS or make JS values; ours only free memory
 * and adjust the external-memory count. And they are registered on a
 * second env that never throws (src/base/finalizer_env.c): Node aborts
 * when the GC runs one while its env has an exception on the way out. The
 * opt-out keeps `napi_env` as the finalizers' first parameter. */
#define NAPI_EXPERIMENTAL
#define NODE_API_EXPERIMENTAL_BASIC_ENV_OPT_OUT
#include <ffi.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/platform.h"

/* Bun's FFIType numbering; the values are part of the public API. */
typedef enum {
  CFFI_CHAR = 0,
  CFFI_I8 = 1,
  CFFI_U8 = 2,
  CFFI_I16 = 3,
  CFFI_U16 = 4,
  CFFI_I32 = 5,
  CFFI_U32 = 6,
  CFFI_I64 = 7,
  CFFI_U64 = 8,
  CFFI_F64 = 9,
  CFFI_F32 = 10,
  CFFI_BOOL = 11,
  CFFI_PTR = 12,
  CFFI_VOID = 13,
  CFFI_CSTRING = 14,
  CFFI_I64_FAST = 15,
  CFFI_U64_FAST = 16,
  CFFI_FUNCTION = 17,
  CFFI_NAPI_ENV = 18,
  CFFI_NAPI_VALUE = 19,
  CFFI_BUFFER = 20,
  CFFI_BUFFER_LENGTH = 21,
  /* Beyond Bun's numbering (src/types/wide_strings.c). */
  CFFI_CSTRING16 = 22,
  CFFI_WSTRING = 23,
  CFFI_TYPE_COUNT
} cffi_type_id;

/* Rows past Bun's numbering (never reachable as an FFIType number or name):
 * a by-value struct or union, and an out/inout pointer. Which layout each
 * stands for is the signature's (cffi_signature.layouts, src/types/layout.c). */
#define CFFI_STRUCT_VALUE ((uint8_t)CFFI_TYPE_COUNT)
#define CFFI_OUT_POINTER ((uint8_t)(CFFI_TYPE_COUNT + 1))
#define CFFI_TYPE_ROWS (CFFI_TYPE_COUNT + 2)

/* Most arguments a definition may have; keeps every per-call array on the stack. */
#define CFFI_MAX_ARGS 64
/* Bytes of stack per call for encoding JS strings passed as cstring; longer
 * strings go to the heap. Small, because JS -> C -> JS recursion stacks one
 * call frame per level on V8's stack. */
#define CFFI_STRING_SCRATCH 256

typedef struct cffi_call cffi_call;

/* JS value -> 64-bit register image. Returns false with a JS exception pending. */
typedef bool (*cffi_to_c_fn)(cffi_call *call, napi_value value, uint64_t *out);
/* Register image returned by C -> JS value (NULL means undefined). */
typedef napi_value (*cffi_to_js_fn)(napi_env env, uint64_t raw);

typedef enum { CFFI_CLASS_NONE, CFFI_CLASS_INT, CFFI_CLASS_FLOAT } cffi_reg_class;

/* One row of the type table: everything the engine knows about a type. */
typedef struct {
  const char *name;      /* canonical name, as Bun's FFIType spells it */
  const char *c_name;    /* C spelling, for viewSource and messages */
  const char *accepts;   /* what JS values an argument takes, for messages */
  ffi_type *ffi;         /* libffi descriptor; NULL for void-only rows */
  cffi_reg_class reg;    /* which register file carries it */
  bool valid_arg;        /* may appear in args */
  bool valid_return;     /* may appear in returns */
  cffi_to_c_fn to_c;
  cffi_to_js_fn to_js;
} cffi_type_info;

extern const cffi_type_info cffi_types[CFFI_TYPE_ROWS];

/* What owns a bound function's code: a dlopen'ed library, or (for
 * linkSymbols/CFunction) a set of raw pointers. Shared by the JS object
 * and by each function; freed when the last of them is collected. */
typedef struct cffi_owner {
  void *handle;     /* library handle (or TCC state), NULL for raw pointers */
  void (*unload)(void *handle); /* run once by close(); NULL: nothing to free */
  const char *kind; /* "library", "cc() result", "linkSymbols result": for messages */
  bool open;        /* false after close(): calls throw */
  /* src/calls/precompiled.c: its functions on precompiled wrappers, which
   * do not check `open`: close() repoints their entry stubs instead. */
  struct cffi_function *precompiled;
  uint32_t refs;
  char *path;       /* as given, for messages */
  /* src/calls/async_call.c: prepared calls in flight keep the code loaded;
   * a close() meanwhile unloads when the last of them is freed. */
  uint32_t async_calls;
  bool unload_after_async;
} cffi_owner;

typedef enum { CFFI_ENGINE_REGISTERS, CFFI_ENGINE_LIBFFI } cffi_engine;

typedef struct cffi_callback cffi_callback;

/* Per-env state (Node-API instance data), reachable from every bound
 * function and callback without an N-API call. Freed when Node deletes the
 * env, after every finaliser of its functions has run (src/addon.c);
 * nothing that can outlive the env (a callback C still holds, a foreign
 * thread) reads it. */
/* stubs.c: the pools of entry stubs. A JSCallback's stub address reaches
 * C, which may keep it past close(); a tiering stub's never leaves V8.
 * Kept apart, a stale JSCallback pointer can only ever reach a free stub
 * (it answers 0) or another JSCallback, never a Node-API entry that would
 * read C's registers as its own (a SIGSEGV). The pool also decides where
 * a stub leaves its data word (see cffi_stub_slot): JSCallbacks on the
 * assembly entry and those on a precompiled entry differ there. */
typedef enum {
  CFFI_STUB_TIERING,         /* a bound function's Node-API callback */
  CFFI_STUB_CALLBACK,        /* a JSCallback on the assembly entry (register_closure.c) */
  CFFI_STUB_CALLBACK_SHAPED, /* a JSCallback on a precompiled entry (precompiled_callback.c) */
  CFFI_STUB_KINDS
} cffi_stub_kind;
typedef struct cffi_stub_queue {
  struct cffi_stub_slot *first, *last; /* linked through their slots' data */
  uint32_t count;
} cffi_stub_queue;
typedef struct cffi_stub_pool {
  cffi_stub_queue fresh;    /* never taken */
  cffi_stub_queue released; /* oldest first */
} cffi_stub_pool;

typedef struct cffi_env_state {
  napi_env env;
  /* From call_depth to cleanup_depth: 32-bit integers only, which
   * lib/node-ffi-engine.js reads and writes as a Uint32Array (the layout
   * src/calls/node_ffi.c checks at compile time and tells JS). */
  uint32_t call_depth;          /* FFI calls in progress on the JS thread */
  /* A node:ffi call of lib/node-ffi-engine.js sets CFFI_NODE_FFI_CALL_BIT in
   * call_depth (and adds 1, as every call does) for as long as it runs, and
   * calls nested in its callbacks keep the bit: a callback that sees it keeps
   * no handle scope across calls (src/callbacks/callback.c), since node:ffi's
   * frames (V8's API-call scope) lie between it and the guard that would
   * close one. Depths stay ordered by nesting, so comparisons hold. Bit 29:
   * the guard's `(depth | bit) + 1` then stays a V8 small integer. */
#define CFFI_NODE_FFI_CALL_BIT 0x20000000u
  int last_errno;               /* errno right after the latest FFI call */
#ifdef _WIN32
  unsigned long last_error;     /* GetLastError() right after the latest FFI call */
#endif
  uint32_t env_calls;           /* calls in progress of functions that take a napi_env */
  /* close() calls so far of a library, cc() result, linkSymbols/CFunction
   * owner or JSCallback: an FFI call whose argument conversion ran user JS
   * compares it with its value before that JS (src/calls/call.c), since an
   * earlier function-pointer argument may point into what was closed. */
  uint32_t closes;
  /* Callbacks that have run JS on this thread so far: a loop of our own
   * over JS-owned memory (sym.map, src/calls/batch.c) checks it after each
   * call, since that JS may have detached or shrunk the memory; a node-ffi
   * guard compares it around an addon call to tell the addon's own errors
   * from a callback's exception. */
  uint32_t js_callbacks_run;
  /* What callbacks leave for the FFI call they ran in to deal with once its
   * C returns (src/callbacks/callback.c): cleanup_depth is the deepest call_depth
   * with something left (UINT32_MAX: an exception, for whichever call
   * returns next), 0 for nothing. FFI calls compare it with call_depth when
   * they leave and call cffi_callbacks_cleanup if it is greater. */
  uint32_t cleanup_depth;
  napi_ref pending_exception;   /* thrown by a callback; rethrown by the next FFI call to return */
  napi_handle_scope kept_scope; /* kept open across callback calls of the FFI call at kept_scope_depth */
  uint32_t kept_scope_depth;
  uint32_t kept_scope_uses;
  uint32_t kept_scope_serial;   /* counts kept scopes opened: names the open one (src/callbacks/callback.c) */
  uint32_t js_callback_depth;   /* call_depth of the innermost callback running JS; 0: none */
  cffi_stub_pool stubs[CFFI_STUB_KINDS]; /* src/platform/stubs.c: entry stubs free for reuse */
  bool stubs_orphaned;          /* src/platform/stubs.c: the env has ended; released stubs go to later envs */
  struct cffi_callbacks *callbacks; /* src/callbacks/callback.c: the env's JSCallbacks */
  /* src/types/types.c: built-ins captured at load, to read SharedArrayBuffers
   * (NULL where there are none). */
  napi_ref shared_buffer_prototype, shared_buffer_length_getter, uint8array_constructor;
  /* src/library/library.c: Node's setImmediate, from the shim (NULL until given). */
  napi_ref set_immediate;
  struct cffi_async_env *async; /* src/calls/async_call.c: the env's async calls */
  /* src/calls/variadic.c: the .with of functions that are not variadic (made at first use),
   * and the with() caches the GC has finalized, to release on the JS thread. */
  napi_ref not_variadic_with;
  struct variadic_base *variadic_graveyard;
  /* src/types/layout.c: struct/union types registered by name, and the
   * shim's converter of other libraries' struct definitions (or NULL). */
  struct cffi_named_layout *named_layouts;
  napi_ref struct_converter;
  /* src/types/struct_values.c: Object.keys, which lists a struct argument's
   * fields in a fraction of napi_get_all_property_names' time (enum cache). */
  napi_ref object_keys;
  /* src/types/struct_values.c: Object.prototype as it was at load, the
   * checker of object literals' keys (see own_field_count), and the field names of the layouts converted in this env as JS strings (live
   * ones, and those whose layout let go in a GC finalizer, deleted later on
   * the JS thread). keys_closed: the env is ending, no more are made. */
  napi_ref object_prototype, own_field_count;
  struct cffi_layout_keys *layout_keys, *dead_layout_keys;
  bool keys_closed;
  /* src/calls/precompiled.c: the JS thread's errno, found once (an
   * __errno_location() call per read costs a wrapper 6 instructions). */
  int *errno_at;
  /* src/calls/batch_buffer.c, batch.c, map_jit.c: per env, not per thread:
   * loading the addon again in one thread (a re-require, a second
   * process.dlopen) makes another env, with its own lib/batch.js. The
   * references go with the env (Node deletes them when it ends). */
  unsigned running_batches;                 /* runs in progress (a callback's run does not nest) */
  napi_ref batch_stage;                     /* lib/batch.js's staging area */
  napi_ref batch_result_raw, batch_result_kinds; /* its result words and kinds */
  napi_ref batch_bound_prototype, batch_set_prototype_of; /* what bound functions get as prototype */
  /* Functions lib/batch.js stages entries of, each in a slot (its
   * cffi_function's batch_slot) with its run plan made once: a staged run
   * finds them from the slot numbers, without a Node-API call per function.
   * A function's slot is emptied when it is freed. */
  struct batch_slot *batch_slots;
  uint32_t batch_slot_count, batch_slot_capacity;
  struct map_loop *map_loops;               /* sym.map's compiled loops */
  unsigned map_loop_count;
  /* The env the finalizers of this env's objects are registered on
   * (src/base/finalizer_env.c): a second load's, whose last_exception a
   * throw never sets; env itself when that load was not made. */
  napi_env finalizer_env;
  bool finalizer_env_tried;
} cffi_env_state;

/* A signature parsed from { args, returns } and prepared once. */
typedef struct {
  uint8_t nargs;
  uint8_t returns;                 /* cffi_type_id */
  uint8_t args[CFFI_MAX_ARGS];     /* cffi_type_id per argument */
  uint8_t required;                /* JS arguments that must be present */
  ffi_abi abi;                     /* calling convention (src/platform/abi.c) */
  cffi_engine engine;
  bool float_regs;                 /* register engine: some argument is float-class */
  /* Where argument i's register image goes: for the register engine an
   * index into [int regs..., float regs...]; for libffi, i itself. */
  uint8_t dest[CFFI_MAX_ARGS];
  bool has_strings;                /* some argument may need string scratch */
  bool takes_env;                  /* some argument is the napi_env */
  bool general_path;               /* the hot path is not for it: has_strings, takes_env or libffi */
  bool nonblocking;                /* { nonblocking: true }: the plain call returns a Promise (src/calls/async_call.c) */
  /* Variadic functions (src/calls/variadic.c): `variadic` for a definition
   * whose args end in "..." (the C prototype ends in `...`), with `fixed`
   * named parameters before it; `tail_declared` for a callable made by
   * .with(...types), whose args past `fixed` are the declared tail. */
  bool variadic;
  bool tail_declared;
  uint8_t fixed;
  /* The layouts of its struct/union/out arguments and result (src/types/layout.c),
   * NULL when it has none; owned by whoever owns the signature. */
  struct cffi_sig_layouts *layouts;
  ffi_cif cif;
  ffi_type *ffi_args[CFFI_MAX_ARGS];
} cffi_signature;

typedef struct cffi_jit_block cffi_jit_block;
union cffi_argument_slot;

/* What Node-API keeps per JS function made with a finalizer, besides ours
 * (its callback bundle, the references behind it and behind the
 * finalizer): about 300 bytes measured on Node 20. It is freed when V8
 * collects the function, so it is counted as external memory with ours. */
#define CFFI_NODE_API_BYTES_PER_FUNCTION 300

/* A callable bound to one native address. */
typedef struct cffi_function {
  void *address;
  cffi_owner *owner;
  cffi_env_state *state;
  char *name;
  napi_callback jit_entry;   /* its generated wrapper (src/calls/jit.c), or NULL */
  cffi_jit_block *jit_block; /* the memory holding that wrapper */
  struct cffi_stub_slot *jit_stub; /* its entry stub while on the generic entry (src/calls/jit.c), or NULL */
  uint32_t jit_countdown;    /* generic calls left before the wrapper is compiled; 0: never */
  uint32_t native_bytes;     /* reported to V8 as external memory until it is freed */
  uint32_t batch_slot;       /* 1 + its slot in state->batch_slots, or 0 (src/calls/batch_buffer.c) */
  /* src/calls/precompiled.c: its place in its owner's list of functions
   * on precompiled wrappers (prev: the pointer that points at it). */
  struct {
    struct cffi_function *next, **prev;
  } precompiled_link;
  /* src/calls/precompiled.c, on a composed wrapper (3 to 6 arguments): each
   * argument's reader (and the one tried when it fails, or NULL) and the
   * call through its register classes' prototype. */
  struct {
    napi_status (*read[6])(napi_env env, napi_value value, union cffi_argument_slot *slot);
    napi_status (*second[6])(napi_env env, napi_value value, union cffi_argument_slot *slot);
    union {
      uint64_t (*integer)(void *target, const union cffi_argument_slot *slots);
      double (*real)(void *target, const union cffi_argument_slot *slots);
    } call;
  } composed;
  /* Last, so that a function whose engine is not libffi is allocated
   * without the signature's libffi part (cif, ffi_args): see
   * cffi_function_new. */
  cffi_signature sig;
} cffi_function;

/* Per-call state, on the caller's stack. Conversions that need memory for
 * the duration of the call (JS strings as char*) take it from here. */
struct cffi_call {
  napi_env env;
  const char *symbol;      /* for messages */
  uint32_t index;          /* argument being converted */
  uint8_t type;            /* its cffi_type_id */
  /* Set by a conversion that may have run user JS (a .ptr getter, a Proxy
   * trap): the caller then checks again what that JS could have
   * invalidated among the arguments converted before (src/calls/call.c). */
  bool ran_js;
  /* For an FFI call (NULL elsewhere): its function and arguments, and room
   * for what cffi_call_before_js notes about the arguments before argument
   * `index`: their views' memory and the env's close count. */
  const struct cffi_function *fn;
  const napi_value *argv;
  struct cffi_view_memory *views_before;
  uint32_t closes_before;
  uint32_t scratch_used;
  void *heap;              /* strings that did not fit: a list, freed after the call */
  char scratch[CFFI_STRING_SCRATCH];
};

static inline void cffi_call_init(cffi_call *call, napi_env env, const char *symbol) {
  call->env = env;
  call->symbol = symbol;
  call->index = 0;
  call->type = 0;
  call->ran_js = false;
  call->fn = NULL;
  call->argv = NULL;
  call->views_before = NULL;
  call->scratch_used = 0;
  call->heap = NULL;
}

/* types.c */
/* At module init: captures the built-ins cffi_view_info needs. */
void cffi_types_init(napi_env env, cffi_env_state *state);
/* arg: the argument's index, or -1 for the return type (for messages). */
bool cffi_type_from_value(napi_env env, napi_value value, const char *symbol, int arg,
                          cffi_type_id *out);
bool cffi_check_definition(napi_env env, napi_value definition, const char *symbol);
bool cffi_parse_signature(napi_env env, napi_value definition, const char *symbol,
                          cffi_signature *sig);
bool cffi_parse_signature_parts(napi_env env, napi_value args, napi_value returns, napi_value abi,
                                const char *symbol, cffi_signature *sig);
napi_value cffi_make_ffitype_object(napi_env env);
void cffi_throw_arg_error(cffi_call *call, napi_value value, const char *problem);
bool cffi_value_to_address(napi_env env, napi_value value, const char *what, uint64_t *out);
/* Addresses below this are never valid data: a NULL dereference with an offset. */
#define CFFI_NULL_PAGE_LIMIT 4096
/* address + offset if a helper may dereference it, else a TypeError naming fn (js_helpers.c). */
bool cffi_dereferenceable(napi_env env, uint64_t address, int64_t offset, const char *fn, uint64_t *at);
bool cffi_view_info(napi_env env, napi_value value, void **data, size_t *length);
/* The same without SharedArrayBuffer (which can neither shrink nor be
 * detached): a few Node-API calls that never run JS. */
bool cffi_plain_view_info(napi_env env, napi_value value, void **data, size_t *length);
bool cffi_view_detached(napi_env env, napi_value value);
napi_value cffi_address_to_js(napi_env env, uint64_t address);
const char *cffi_value_kind(napi_env env, napi_value value);

/* layout.c and struct_values.c: struct, union, array, out/inout types. */
typedef enum {
  CFFI_LAYOUT_STRUCT,
  CFFI_LAYOUT_UNION,
  CFFI_LAYOUT_ARRAY,
  CFFI_LAYOUT_OUT,   /* pointer to one value C fills in */
  CFFI_LAYOUT_INOUT, /* the same, passed with the JS value's contents */
} cffi_layout_kind;

typedef struct cffi_layout cffi_layout;
/* A member: a scalar type (layout NULL) or a nested layout. */
typedef struct {
  char *name;            /* NULL for an array's element or an out's target */
  uint32_t offset;
  uint8_t scalar;        /* cffi_type_id when layout is NULL */
  cffi_layout *layout;
  uint32_t align;        /* an explicit alignment (0: natural), for its C declaration */
} cffi_field;

struct cffi_layout {
  uint32_t refs;
  cffi_layout_kind kind;
  char *name;            /* as registered ("Color"), or NULL */
  uint32_t size, align;
  uint32_t count;        /* fields (struct/union), elements (array), 1 (out/inout) */
  bool by_value;         /* libffi passes it correctly by value (no packing, no union) */
  uint32_t pack, declared_align; /* the options it was made with (0: none), for its C declaration */
  ffi_type ffi;          /* FFI_TYPE_STRUCT over `elements` */
  ffi_type **elements;
  struct cffi_layout_keys *keys; /* its field names as JS strings, in the env that made them (struct_values.c) */
  cffi_field fields[];   /* count of them; an array or out has its element in fields[0] */
};

/* How a struct result reaches JS. */
typedef enum { CFFI_RESULT_OBJECT, CFFI_RESULT_VIEW, CFFI_RESULT_BYTES } cffi_result_mode;

typedef struct cffi_sig_layouts {
  cffi_layout *returns;
  cffi_result_mode result_mode;
  cffi_layout *args[CFFI_MAX_ARGS];
} cffi_sig_layouts;

void cffi_layout_retain(cffi_layout *layout);
/* "struct Point", "array(u8, 4)": for messages. */
void cffi_layout_describe(const cffi_layout *layout, char *out, size_t len);
/* The memory a read/write/view target names (a buffer, checked for room, or a pointer). */
bool cffi_layout_memory(napi_env env, const cffi_layout *layout, napi_value target, napi_value offset,
                        const char *method, uint8_t **out, bool *is_js_memory);
/* A zero-copy view of one value at address; `keep` (or NULL) is the JS memory it lives in. */
napi_value cffi_layout_view(napi_env env, cffi_layout *layout, uint8_t *address, napi_value keep);
void cffi_layout_release(cffi_layout *layout);
/* 1: value is a struct/union/array/out type object (or a registered
 * struct name) and *out holds a new reference; 0: it is not; -1: an
 * exception is pending. */
int cffi_layout_lookup(napi_env env, napi_value value, cffi_layout **out, napi_value *type_object);
/* Parsing hooks (src/types/types.c): one argument or the result names a layout. */
bool cffi_sig_add_layout(napi_env env, cffi_signature *sig, int arg, cffi_layout *layout,
                         napi_value type_object, const char *symbol, uint8_t *id);
bool cffi_sig_read_result_mode(napi_env env, cffi_signature *sig, napi_value definition, const char *symbol);
void cffi_sig_release_layouts(cffi_signature *sig);
bool cffi_sig_copy_layouts(cffi_signature *to, const cffi_signature *from);
/* layout_abi.c: for a layout libffi cannot lay out itself (unions, packed or
 * over-aligned members), elements that libffi passes the way the C ABI passes
 * the real type; sets by_value (false where none can be given). */
bool cffi_layout_equivalent_ffi(napi_env env, cffi_layout *layout);
/* Why TinyCC-compiled code (cc()) takes or returns the layout by value differently from gcc, or NULL. */
const char *cffi_layout_tinycc_mismatch(const cffi_layout *layout);
/* A long run of one element type for libffi in a few descriptors (chunks of
 * 2^k copies nested), instead of one pointer per copy: array("u8", 2**30)
 * would otherwise take 8 GiB. Only for aggregates passed in memory by every
 * ABI, where the nesting changes no classification. `list` comes first, so
 * freeing the block frees it all (layout->elements). */
typedef struct {
  ffi_type *list[48];
  ffi_type chunks[32];
  ffi_type *chunk_elements[32][3];
} cffi_ffi_run;
uint32_t cffi_ffi_append_run(cffi_ffi_run *run, uint32_t at, ffi_type *element, uint32_t copies);
/* libffi descriptors of the layout arguments and result (after cffi_prepare_libffi's defaults). */
void cffi_sig_ffi_types(cffi_signature *sig, ffi_type **returns);
napi_value cffi_make_layout_exports(napi_env env, napi_value exports);
/* struct_values.c: JS value <-> bytes. `where` names the value in messages. */
void cffi_struct_values_init(napi_env env, cffi_env_state *state); /* at load */
/* types.c: a JS number as an i64/u64 argument takes it (wrapped modulo 2^64); struct fields too. */
uint64_t cffi_number_to_u64(double d);
/* A layout letting go of its field-name keys (any time on the JS thread, GC finalizers included). */
void cffi_layout_keys_forget(cffi_layout *layout);
bool cffi_layout_from_js(cffi_call *call, const cffi_layout *layout, napi_value value, uint8_t *dest,
                         const char *where);
napi_value cffi_layout_to_js(napi_env env, const cffi_layout *layout, const uint8_t *src);
/* After an FFI call: out/inout arguments copied back into their JS values. */
bool cffi_out_arguments_back(napi_env env, const cffi_signature *sig, const napi_value *argv,
                             const uint64_t *slots);
/* Type table rows CFFI_STRUCT_VALUE and CFFI_OUT_POINTER (need call->fn). */
bool cffi_struct_arg_to_c(cffi_call *call, napi_value value, uint64_t *out);
bool cffi_out_arg_to_c(cffi_call *call, napi_value value, uint64_t *out);
napi_value cffi_struct_result(napi_env env, const cffi_signature *sig, const uint8_t *bytes);

/* abi.c */
bool cffi_abi_from_name(napi_env env, const char *name, const char *symbol, ffi_abi *out);

/* process_exit.c: whether the main thread's exit has begun (its JS thread
 * will not run again), and the one function told when it does (true: from
 * the atexit fallback, where on Windows the other threads are gone). */
bool cffi_process_exit_begun(void);
void cffi_process_exit_notify(void (*fn)(bool from_atexit));
void cffi_make_process_exit_exports(napi_env env, napi_value exports);

/* finalizer_env.c: the env to register finalizers on (napi_wrap,
 * napi_add_finalizer, napi_create_external): never env itself, when the
 * addon's second load worked, since a finalizer the GC runs while env has
 * an exception on its way out aborts Node. init() asks adopt first: true
 * when this load is that second one (and then it is all init does). */
napi_env cffi_finalizer_env(napi_env env);
bool cffi_finalizer_env_adopt(napi_env env);
void cffi_make_finalizer_env_exports(napi_env env, napi_value exports);

/* debug_log.c: BUN_DEBUG_FFI / CFFI_BUN_DEBUG, read once at load. */
extern bool cffi_debug_enabled;
void cffi_debug_init(void);
void cffi_debug_log(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
#define CFFI_DEBUG(...)                              \
  do {                                               \
    if (CFFI_UNLIKELY(cffi_debug_enabled)) cffi_debug_log(__VA_ARGS__); \
  } while (0)
void cffi_describe_signature(const cffi_signature *sig, char *out, size_t len);

/* call.c */
bool cffi_prepare_signature(napi_env env, cffi_signature *sig, const char *symbol);
/* The libffi part alone (engine libffi, arguments in order, the cif). */
bool cffi_prepare_libffi(napi_env env, cffi_signature *sig, const char *symbol);
/* A bound function in two steps, so that src/calls/jit.c can compile wrappers for
 * a whole batch in between: _new fills the struct (NULL with an exception
 * pending on failure), _publish makes the JS function that owns it (and on
 * failure frees it), _discard frees one that was never published. */
cffi_function *cffi_function_new(napi_env env, cffi_owner *owner, const char *name, void *address,
                                 const cffi_signature *sig);
napi_value cffi_function_publish(napi_env env, cffi_function *fn);
void cffi_function_discard(cffi_function *fn);
/* data_symbol.c: publishes fn (consuming it, as cffi_function_publish
 * does) as a function whose call throws: the loader says fn->address is
 * data. Keeps .ptr, .native and .length. */
napi_value cffi_data_symbol_publish(napi_env env, cffi_function *fn);
/* The raw isDataSymbol(fn) export (the node-ffi engine skips those). */
void cffi_make_data_symbol_exports(napi_env env, napi_value exports);
/* The bound function behind a JS value (type-tagged at publish), or NULL
 * with no exception: any other value, a function another addon wrapped. */
cffi_function *cffi_function_of(napi_env env, napi_value value);
/* The engine CFFI_BUN_ENGINE asks for: "ffi" (libffi for every call),
 * "registers" (no generated wrappers), "jit" (every wrapper compiled when
 * bound) or anything else (the default: a function gets its wrapper once
 * it is hot, see src/calls/jit.c). */
typedef enum { CFFI_PREFER_TIERED, CFFI_PREFER_JIT, CFFI_PREFER_REGISTERS, CFFI_PREFER_LIBFFI,
               CFFI_PREFER_PRECOMPILED } cffi_engine_preference;
/* src/calls/precompiled.c: "precompiled" (tests): as the default, but a
 * function whose signature has a precompiled wrapper takes it when bound.
 * cffi_precompiled_take points fn's entry stub at its precompiled wrapper;
 * false (nothing changed) if its signature has none. */
bool cffi_precompiled_take(cffi_function *fn);
/* close(): owner's functions on precompiled wrappers throw from now on. */
void cffi_precompiled_owner_closed(cffi_owner *owner);
/* fn is being freed: it leaves its owner's list. */
void cffi_precompiled_forget(cffi_function *fn);
extern cffi_engine_preference cffi_engine_preferred;
void *cffi_call_alloc(cffi_call *call, size_t size);
/* Called by a conversion just before it may run user JS (a .ptr getter, a
 * Proxy trap): sets call->ran_js and, in an FFI call, notes what that JS
 * could invalidate, for the check once the conversion is done. */
void cffi_call_before_js(cffi_call *call);
void cffi_call_release(cffi_call *call);
void cffi_set_forced_engine(const char *name);

/* call.c, for async_call.c: conversions into caller-owned slots, and the C call alone. */
size_t cffi_call_slot_count(const cffi_signature *sig);
bool cffi_convert_call_arguments(cffi_call *call, const cffi_function *fn, const napi_value *argv,
                                 uint64_t *slots);
uint64_t cffi_call_slots(const cffi_signature *sig, void *address, const uint64_t *slots);

/* async_call.c (the prepared-call and job API: src/calls/async_call.h) */
bool cffi_async_attach(napi_env env, cffi_env_state *state);
void cffi_async_detach(cffi_env_state *state);
void cffi_make_async_exports(napi_env env, napi_value exports);
/* The entry of sym.async and of nonblocking functions (data: the cffi_function). */
napi_value cffi_async_entry(napi_env env, napi_callback_info info);
/* On a pool thread running executor().callSync's call for js_thread: true
 * (and that callSync throws) when C asks that thread to run a callback. */
bool cffi_async_sync_blocks(cffi_thread_id js_thread);
/* A threadsafe callback's call from any other thread while js_thread is
 * blocked in callSync: handed to that thread, which runs serve(env, data)
 * while it waits (the call would otherwise wait for callSync's end, and
 * C waiting for it would never end). False when js_thread is not in callSync.
 * `handover` is the caller's, untouched once serve has begun. */
typedef struct cffi_sync_handover {
  void (*serve)(napi_env env, void *data);
  void *data;
  struct cffi_sync_handover *next;
} cffi_sync_handover;
bool cffi_async_sync_hand_over(cffi_thread_id js_thread, cffi_sync_handover *handover);
/* Gives a just-made bound function its .async (false with an exception pending). */
bool cffi_async_publish(napi_env env, cffi_function *fn, napi_value function);
/* library.c: a prepared call of owner's is freed (JS thread). */
void cffi_owner_async_done(cffi_owner *owner);
/* node_ffi.c: what lib/node-ffi-engine.js shares with the addon. */
void cffi_make_node_ffi_exports(napi_env env, napi_value exports);
/* src/memory/node_ffi_read.c: read.* through node:ffi. */
void cffi_make_node_ffi_read_exports(napi_env env, napi_value exports);

/* callback.c */
void cffi_make_callback_exports(napi_env env, napi_value exports);
/* At module init: the env's callback registry and its teardown (false with
 * an exception pending). At the env's deletion: frees the registry; the
 * callbacks C may still call stay allocated and answer 0. */
bool cffi_callbacks_attach(napi_env env, cffi_env_state *state);
void cffi_callbacks_detach(cffi_env_state *state);
/* Called by the register closure entry with the spilled argument registers
 * (laid out as sig->dest indexes them) and the address C will return to;
 * returns the result's image. */
uint64_t cffi_callback_from_registers(cffi_callback *cb, const uint64_t *registers, const void *return_address);
/* precompiled_callback.c: the entry with the real prototype of sig's
 * register classes that a register closure's stub jumps to, or NULL (the
 * assembly entry then). It passes the argument images in order to: */
void *cffi_precompiled_callback_entry(const cffi_signature *sig);
uint64_t cffi_callback_from_images_0(cffi_callback *cb, const uint64_t *images, const void *return_address);
uint64_t cffi_callback_from_images_1(cffi_callback *cb, const uint64_t *images, const void *return_address);
uint64_t cffi_callback_from_images_2(cffi_callback *cb, const uint64_t *images, const void *return_address);
uint64_t cffi_callback_from_images_3(cffi_callback *cb, const uint64_t *images, const void *return_address);
/* For an FFI call whose C has returned (call_depth already back down) when
 * state->cleanup_depth > state->call_depth: closes what its callbacks kept
 * open and rethrows a callback's exception (then returns true). */
bool cffi_callbacks_cleanup(napi_env env, cffi_env_state *state);

/* register_closure.c: where every register closure's stub jumps. */
void cffi_register_closure_entry(void);

/* library.c */
/* At module init: exports useSetImmediate(fn), through which the shim hands
 * over the setImmediate a close() during a call defers its unload to. */
void cffi_library_init(napi_env env, napi_value exports);
cffi_owner *cffi_owner_new(napi_env env, void *handle, void (*unload)(void *), const char *kind,
                           const char *path);
void cffi_owner_release(cffi_owner *owner);
void cffi_owner_close(cffi_owner *owner);
/* Resolves one symbol's address for cffi_bind_symbols. */
typedef bool (*cffi_resolve_fn)(napi_env env, cffi_owner *owner, const char *name,
                                napi_value definition, void **address);
/* { symbols, close } for every definition; on failure closes nothing (the
 * caller decides) and returns NULL with an exception pending. */
napi_value cffi_bind_symbols(napi_env env, cffi_owner *owner, napi_value definitions,
                             cffi_resolve_fn resolve);
napi_value cffi_dlopen(napi_env env, napi_callback_info info);
napi_value cffi_link_symbols(napi_env env, napi_callback_info info);

/* compiler.c */
napi_value cffi_cc(napi_env env, napi_callback_info info);

/* memory.c */
napi_value cffi_make_memory_exports(napi_env env, napi_value exports);

/* stubs.c: entry stubs. Each loads `data` into a register and jumps to
 * `target`; both may be rewritten at any time. The register is the
 * pool's: on x86-64, for CFFI_STUB_TIERING rdx (the third argument
 * register, so a target may be a napi_callback, which ignores it, or take
 * the data as a third parameter), for CFFI_STUB_CALLBACK_SHAPED rcx (the
 * fourth integer argument register, after up to three arguments of C's),
 * for CFFI_STUB_CALLBACK r10 (no argument register: the assembly entry
 * reads it); on AArch64 x17 for every pool. take returns NULL where stubs
 * are unavailable (not ELF, other CPUs) or out of memory. Only the env's
 * JS thread may take and release. */
typedef struct cffi_stub_slot {
  void *target;
  void *data;
} cffi_stub_slot;
cffi_stub_slot *cffi_stub_take(cffi_env_state *state, cffi_stub_kind kind);
void *cffi_stub_code(const cffi_stub_slot *slot);
void cffi_stub_release(cffi_env_state *state, cffi_stub_kind kind, cffi_stub_slot *slot);
/* At bind time (linkSymbols/CFunction): why a function pointer inside our
 * stubs cannot be bound (a free JSCallback stub: a closed JSCallback's; a
 * tiering stub; not a stub's start), or NULL for any other address and a
 * JSCallback stub in use. */
const char *cffi_stub_refusal(const void *address);
/* At module init: when the env ends, its free stubs go to later envs. */
void cffi_stubs_attach(napi_env env, cffi_env_state *state);

/* jit.c: wrappers generated per signature, compiled in memory by TinyCC. */
bool cffi_jit_eligible(const cffi_signature *sig);
/* Before the functions are published: compiles their wrappers (engine
 * "jit") or gives each eligible one an entry stub to be retargeted when it
 * gets hot (the default). Best effort: a function left with neither uses
 * the generic entry points. */
void cffi_jit_prepare(cffi_function **fns, uint32_t count);
/* The Node-API callback for fn: its stub, which jumps to `entry`, or
 * `entry` itself when fn has no stub. */
napi_callback cffi_jit_callback(cffi_function *fn, napi_callback entry);
/* Called by the generic entry when jit_countdown reaches 0. */
void cffi_jit_tier_up(cffi_function *fn);
/* Frees fn's wrapper memory (when no other function uses it) and its stub. */
void cffi_jit_forget(cffi_function *fn);

/* variadic.c: "..." in definitions and .with(...types) (see its header). */
/* While parsing args: if the last element is "...", marks sig variadic and
 * drops it from *count. False with an exception pending. */
bool cffi_variadic_mark(napi_env env, napi_value args, uint32_t *count, const char *symbol,
                        cffi_signature *sig);
/* After the libffi descriptors are filled: a variadic tail's f32 and
 * small integers travel as double and int (C's default promotions). */
void cffi_variadic_promote_types(cffi_signature *sig);
/* After the arguments are converted: each tail f32 image becomes a double's. */
void cffi_variadic_promote_values(const cffi_signature *sig, uint64_t *slots);
/* The register engine's call for a variadic function (x86-64 System V sets
 * %al to the vector registers used; elsewhere it is register_call's). */
uint64_t cffi_variadic_register_call(void *address, const uint64_t *regs, bool float_args, bool float_result);
/* The error for a call with more arguments than fixed + declared tail. */
napi_value cffi_variadic_too_many(napi_env env, const struct cffi_function *fn, size_t argc);
/* At the env's deletion: frees what the graveyard still holds. */
void cffi_variadic_detach(cffi_env_state *state);
/* Gives a bound function its .with: (...types) for a variadic one, else
 * one that explains why there is none. */
bool cffi_variadic_attach(napi_env env, napi_value function, const struct cffi_function *fn);

/* wide_strings.c: cstring16 and wstring (see its header). */
bool cffi_to_c_cstring16(cffi_call *call, napi_value value, uint64_t *out);
bool cffi_to_c_wstring(cffi_call *call, napi_value value, uint64_t *out);
napi_value cffi_to_js_cstring16(napi_env env, uint64_t raw);
napi_value cffi_to_js_wstring(napi_env env, uint64_t raw);
/* Adds read.cstring16 / read.wstring and write.cstring16 / write.wstring. */
void cffi_wide_strings_read_exports(napi_env env, napi_value read);
void cffi_wide_strings_write_exports(napi_env env, napi_value write);
/* types.c: a string type's non-string argument, as cstring takes it (an address). */
bool cffi_string_address_to_c(cffi_call *call, napi_value value, uint64_t *out);
/* memory.c: a string reader's (ptr, byteOffset?, byteLength?). unit 0: an
 * address only (CString); else a view too, with at least `unit` bytes from
 * the offset, and *available the bytes to its end (SIZE_MAX for an
 * address). *length is -1 without a byteLength. False with an exception
 * pending. */
bool cffi_memory_string_args(napi_env env, const char *fn, size_t argc, napi_value *argv, size_t unit,
                             uint8_t **at, int64_t *length, size_t *available);
/* A string writer's (target, value, byteOffset?): `size` bytes there. */
bool cffi_memory_write_target(napi_env env, const char *fn, size_t argc, napi_value *argv, size_t size,
                              uint8_t **at);

/* text.c: a growable string; out of memory sets `failed` and stops appending. */
typedef struct {
  char *text;
  size_t length, capacity;
  bool failed;
} cffi_text;
void cffi_text_append(cffi_text *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* layout_c.c: a signature's struct types as C declarations, for viewSource. */
void cffi_layout_render_declarations(cffi_text *b, const cffi_signature *sig);
/* The C of one symbol's jit wrapper, for viewSource (addresses as names). */
void cffi_jit_render_symbol(cffi_text *b, const char *name, const cffi_signature *sig);

/* view_source.c */
napi_value cffi_view_source(napi_env env, napi_callback_info info);

/* addon.c helpers */
/* What this addon wrapped in value (a napi_object or napi_function, as kind
 * says) and tagged with tag, or NULL with no exception. The tag is what tells
 * our wraps from other addons' (Node-API wraps share one private key). */
void *cffi_unwrap_tagged(napi_env env, napi_value value, napi_valuetype kind, const napi_type_tag *tag);
bool cffi_set_function(napi_env env, napi_value target, const char *name, napi_callback cb,
                       void *data);
char *cffi_string_dup(napi_env env, napi_value value, const char *what);
bool cffi_object_keys(napi_env env, napi_value value, const char *what, napi_value *names,
                      uint32_t *count);
napi_value cffi_throw(napi_env env, const char *kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The same with a `code` property, where Bun sets one (docs/errors.md). */
#define CFFI_ERR_DLOPEN_FAILED "ERR_DLOPEN_FAILED"
#define CFFI_ERR_INVALID_ARG_TYPE "ERR_INVALID_ARG_TYPE"
#define CFFI_ERR_INVALID_ARG_VALUE "ERR_INVALID_ARG_VALUE"
napi_value cffi_throw_code(napi_env env, const char *kind, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif /* CFFI_H */
