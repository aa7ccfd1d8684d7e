/*
 * stubs.c - entry stubs: tiny pieces of machine code, each of which loads a
 * data word into a register and jumps to a target, both read from a slot
 * that C can rewrite at any time.
 *
 * Owns: the stub encodings (x86-64, AArch64), which register each pool's
 * stubs leave their data in, the executable memory they live in and each
 * env's free lists.
 *
 * Two users:
 *  - tiering (src/calls/jit.c): Node-API fixes a JS function's callback when it is
 *    created, so the callback is a stub, retargeted from the generic entry
 *    to the generated wrapper once the function is hot; a precompiled
 *    wrapper (src/calls/precompiled.c) takes its function as the data;
 *  - register closures (src/callbacks/callback.c): the C-callable address of a
 *    JSCallback is a stub whose data is the callback and whose target is the
 *    shared assembly entry (src/callbacks/register_closure.c) or an entry
 *    with its shape's prototype (src/callbacks/precompiled_callback.c).
 *
 * Where the data goes (x86-64): where the target is C, into an argument
 * register the target declares as a real parameter, so that it is plain C
 * (a register variable read before the prologue has no such guarantee:
 * instrumentation, -pg and stack realignment use r10 there). A tiering
 * stub's target is called as a napi_callback (env, info), so rdx, the third
 * argument register: napi_callbacks ignore it and precompiled wrappers
 * declare the function as their third parameter. A precompiled callback
 * entry takes at most three arguments of C's, so rcx, the fourth integer
 * argument register, is never one of them; the entry declares the integer
 * registers before it as parameters. The assembly entry serves callbacks
 * whose arguments may fill every argument register, so its stubs use r10
 * (the System V static chain, which no plain C call passes anything in),
 * read by its own assembly. Each pool's chunks hold stubs of one register.
 * AArch64: x17 (IP1) for every pool, where x16 (IP0) carries the target;
 * only the assembly entry reads it (nothing precompiled there). Both are
 * free for a veneer to clobber.
 *
 * Stubs come in chunks of two pages: stub i at offset STUB_SIZE*i of the
 * first (read+execute), its slot (target, data) at the same offset of the
 * second (read+write), so every stub of a chunk is the same instructions
 * with the same displacements. Each stub begins with the landing an indirect call needs
 * under branch-target enforcement (endbr64 for CET/IBT on x86-64, bti c on
 * AArch64; a no-op where it is not enforced), as do the assembly routines
 * a stub jumps to. The C targets (the generic entry, precompiled wrappers
 * and callback entries) have one only when the addon is built with
 * -fcf-protection=branch, which binding.gyp does not ask for: Linux does
 * not enforce IBT in user space, and the landing would cost an instruction
 * per call. Free stubs are kept per env (only its JS thread takes and
 * releases them, without a lock), linked through their slots' data word,
 * in pools with chunks of their own (cffi_stub_kind): tiering stubs, and
 * JSCallback stubs in two, one per data register. A stale JSCallback
 * pointer (C kept it past close()) thus never lands in a tiering stub,
 * whose Node-API entry would read C's registers as its own and crash. A
 * free stub's target is a routine that returns 0 (in the integer and the
 * vector return register), and a released JSCallback stub is taken again
 * only after CALLBACK_STUB_REUSE_DELAY newer releases in its pool, so such
 * a pointer gets 0 for that long, and later at worst runs another
 * JSCallback. Chunks are kept for the process's life: when an env ends (a
 * worker exits) its free stubs, and any it releases afterwards while Node
 * finalises its functions, go to a process-wide list of orphans
 * per pool, which later envs reuse after their own.
 *
 * A stub reads its data and its target in two loads, so a thread between
 * them could in principle pair a slot's old data with its new target. No
 * thread can see that pair in practice. Tiering stubs are entered only from
 * their env's JS thread, the one thread that rewrites them. A register
 * closure's slot changes only when the callback is created (before its
 * address reaches JS or any C) and when its stub is released. A threadsafe
 * callback's stub is released only after CLOSED_CALLBACK_QUARANTINE newer
 * callbacks have been closed and no foreign thread is counted inside it
 * (src/callbacks/callback.c). A torn pair would need a thread to stall
 * between two adjacent instructions for that whole time. The same stall
 * just after the stub (before run_callback counts the thread in
 * foreign_inside) would give the same use-after-free, so one load (a
 * 16-byte load, say) would not close the window. Only a count taken in the
 * stub itself would, and that is a locked instruction on every call through
 * every stub, the hot paths included. The quarantine bounds this window, as
 * it bounds a stale pointer's.
 */
#include <stdlib.h>
#include <string.h>

#include "../cffi.h"

#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__ELF__)
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#define HAVE_STUBS 1
#else
#define HAVE_STUBS 0
#endif

/* x86-64: endbr64 + mov + jmp take 17 bytes, so 32 (slots then have room
 * to spare); AArch64: four instructions. */
#if defined(__x86_64__)
#define STUB_SIZE 32
#else
#define STUB_SIZE 16
#endif

#if HAVE_STUBS
/* Where free stubs jump: return 0 as any prototype reads it. */
void cffi_stub_vacant(void);
#if defined(__x86_64__)
__asm__(".text\n.globl cffi_stub_vacant\n.hidden cffi_stub_vacant\n.type cffi_stub_vacant, @function\n"
        "cffi_stub_vacant:\n  endbr64\n  xorl %eax, %eax\n  xorps %xmm0, %xmm0\n  ret\n"
        ".size cffi_stub_vacant, .-cffi_stub_vacant\n");
#else
__asm__(".text\n.globl cffi_stub_vacant\n.hidden cffi_stub_vacant\n.type cffi_stub_vacant, %function\n"
        "cffi_stub_vacant:\n  hint #34\n  mov x0, #0\n  movi d0, #0\n  ret\n"  /* bti c: reached by br x16 */
        ".size cffi_stub_vacant, .-cffi_stub_vacant\n");
#endif

static size_t page_size(void) {
  static size_t page;
  if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

#if defined(__x86_64__)
/* mov r64, [rip + disp32] is REX.W 8B /r with ModRM mod 00, r/m 101: the
 * same seven bytes for every register, which only REX.R and ModRM.reg
 * name. The pool's data register (see the header): */
static void data_register_encoding(cffi_stub_kind kind, unsigned char *rex, unsigned char *modrm) {
  switch (kind) {
    case CFFI_STUB_TIERING: *rex = 0x48, *modrm = 0x15; return;        /* rdx (reg 2) */
    case CFFI_STUB_CALLBACK_SHAPED: *rex = 0x48, *modrm = 0x0d; return; /* rcx (reg 1) */
    default: *rex = 0x4c, *modrm = 0x15; return;                       /* r10 (reg 2 + REX.R) */
  }
}
#endif

/* The stub at `at`, whose slot is one page further on, for `kind`'s pool. */
static void write_stub(unsigned char *at, size_t page, cffi_stub_kind kind) {
#if defined(__x86_64__)
  const uint32_t to_data = (uint32_t)page + 8 - 11; /* from the end of the mov, at 4 + 7 */
  const uint32_t to_target = (uint32_t)page - 17;   /* from the end of the jmp, at 11 + 6 */
  memset(at, 0xcc, STUB_SIZE);                      /* int3 after the jmp: never reached */
  at[0] = 0xf3, at[1] = 0x0f, at[2] = 0x1e, at[3] = 0xfa; /* endbr64 */
  data_register_encoding(kind, &at[4], &at[6]);
  at[5] = 0x8b;                                     /* mov reg, [rip + to_data] */
  memcpy(at + 7, &to_data, 4);
  at[11] = 0xff, at[12] = 0x25;                     /* jmp *[rip + to_target] */
  memcpy(at + 13, &to_target, 4);
#else
  (void)kind; /* x17 for every pool */
  /* C reaches a stub with blr: `bti c` first, for pages that are ever
   * mapped BTI-guarded (a no-op otherwise). ldr (literal) takes a word
   * offset from the instruction itself. */
  const uint32_t bti_c = 0xd503245fu;                                               /* bti c */
  const uint32_t ldr_data = 0x58000000u | ((uint32_t)((page + 4) / 4) << 5) | 17;  /* ldr x17, [pc + page + 4] */
  const uint32_t ldr_target = 0x58000000u | ((uint32_t)((page - 8) / 4) << 5) | 16; /* ldr x16, [pc + page - 8] */
  const uint32_t br = 0xd61f0200u;                                                  /* br x16 */
  memcpy(at, &bti_c, 4);
  memcpy(at + 4, &ldr_data, 4);
  memcpy(at + 8, &ldr_target, 4);
  memcpy(at + 12, &br, 4);
#endif
}

/* A released JSCallback stub is taken again only once this many newer ones
 * have been released: C that kept a closed callback's pointer gets 0 for
 * that long before the address can belong to another JSCallback. The cost
 * is at most this many idle stubs (32 bytes of code, 16 of slot) per env. */
#define CALLBACK_STUB_REUSE_DELAY 256

/* Every chunk ever mapped (they are never unmapped), with the pool it
 * serves, so that binding a function pointer can tell an address inside
 * our stubs from any other (cffi_stub_refusal). Appended under the lock;
 * read only at bind time. */
typedef struct stub_chunk {
  unsigned char *code;
  cffi_stub_kind kind;
  struct stub_chunk *next;
} stub_chunk;
static stub_chunk *chunks;
static pthread_mutex_t chunks_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember_chunk(unsigned char *code, cffi_stub_kind kind) {
  stub_chunk *chunk = malloc(sizeof *chunk);
  if (!chunk) return; /* then its addresses are not recognised: today's behaviour */
  chunk->code = code;
  chunk->kind = kind;
  pthread_mutex_lock(&chunks_lock);
  chunk->next = chunks;
  chunks = chunk;
  pthread_mutex_unlock(&chunks_lock);
}

static void enqueue(cffi_stub_queue *queue, cffi_stub_slot *slot) {
  slot->data = NULL;
  if (queue->last) queue->last->data = slot;
  else queue->first = slot;
  queue->last = slot;
  queue->count++;
}

static cffi_stub_slot *dequeue(cffi_stub_queue *queue) {
  cffi_stub_slot *slot = queue->first;
  if (!slot) return NULL;
  queue->first = slot->data;
  if (!queue->first) queue->last = NULL;
  queue->count--;
  slot->data = NULL;
  return slot;
}

/* Moves all of `from` to the end of `to`. */
static void move_queue(cffi_stub_queue *to, cffi_stub_queue *from) {
  if (!from->first) return;
  if (to->last) to->last->data = from->first;
  else to->first = from->first;
  to->last = from->last;
  to->count += from->count;
  *from = (cffi_stub_queue){0};
}

/* Maps a new chunk into `fresh`; false if no memory. */
static bool new_chunk(cffi_stub_kind kind, cffi_stub_queue *fresh) {
  const size_t page = page_size();
  unsigned char *code = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return false;
  const size_t count = page / STUB_SIZE;
  for (size_t i = 0; i < count; i++) write_stub(code + i * STUB_SIZE, page, kind);
  __builtin___clear_cache((char *)code, (char *)code + page);
  if (mprotect(code, page, PROT_READ | PROT_EXEC) != 0) {
    munmap(code, 2 * page);
    return false;
  }
  for (size_t i = 0; i < count; i++) {
    cffi_stub_slot *slot = (cffi_stub_slot *)(code + page + i * STUB_SIZE);
    slot->target = (void *)cffi_stub_vacant;
    enqueue(fresh, slot);
  }
  CFFI_DEBUG("%zu new entry stubs at %p (%s)", count, (void *)code,
             kind == CFFI_STUB_TIERING ? "tiering" : kind == CFFI_STUB_CALLBACK ? "JSCallbacks" : "shaped JSCallbacks");
  remember_chunk(code, kind);
  return true;
}

/* Stubs of envs that have ended, per pool: later envs take them after
 * their own (fresh ones as fresh, released ones as released). */
static cffi_stub_pool orphans[CFFI_STUB_KINDS];
static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;

static void adopt_orphans(cffi_stub_pool *pool, cffi_stub_kind kind) {
  pthread_mutex_lock(&orphans_lock);
  move_queue(&pool->fresh, &orphans[kind].fresh);
  move_queue(&pool->released, &orphans[kind].released);
  pthread_mutex_unlock(&orphans_lock);
}

static void env_ended(void *data) {
  cffi_env_state *state = data;
  state->stubs_orphaned = true;
  pthread_mutex_lock(&orphans_lock);
  for (int kind = 0; kind < CFFI_STUB_KINDS; kind++) {
    move_queue(&orphans[kind].fresh, &state->stubs[kind].fresh);
    move_queue(&orphans[kind].released, &state->stubs[kind].released);
  }
  pthread_mutex_unlock(&orphans_lock);
}

void cffi_stubs_attach(napi_env env, cffi_env_state *state) {
  napi_add_env_cleanup_hook(env, env_ended, state);
}

cffi_stub_slot *cffi_stub_take(cffi_env_state *state, cffi_stub_kind kind) {
  cffi_stub_pool *pool = &state->stubs[kind];
  const uint32_t delay = kind != CFFI_STUB_TIERING ? CALLBACK_STUB_REUSE_DELAY : 0;
  if (pool->released.count <= delay && !pool->fresh.first) adopt_orphans(pool, kind);
  if (pool->released.count > delay) return dequeue(&pool->released);
  if (pool->fresh.first || new_chunk(kind, &pool->fresh)) return dequeue(&pool->fresh);
  return dequeue(&pool->released); /* out of memory: reuse early rather than fail */
}

void *cffi_stub_code(const cffi_stub_slot *slot) { return (unsigned char *)slot - page_size(); }

void cffi_stub_release(cffi_env_state *state, cffi_stub_kind kind, cffi_stub_slot *slot) {
  slot->target = (void *)cffi_stub_vacant;
  if (!state->stubs_orphaned) {
    enqueue(&state->stubs[kind].released, slot);
    return;
  }
  pthread_mutex_lock(&orphans_lock);
  enqueue(&orphans[kind].released, slot);
  pthread_mutex_unlock(&orphans_lock);
}

/* A free JSCallback stub's address will be reused by another JSCallback,
 * so a function bound to it now would call whatever callback takes it
 * next. A tiering stub's address never reaches JS: whatever JS holds that
 * points there is no JSCallback's. An address inside a chunk that is not a
 * stub's start is never code (a slot page is not executable). A JSCallback
 * stub in use is allowed: a live JSCallback's, and a closed threadsafe
 * one's still in quarantine, whose entry answers 0. */
const char *cffi_stub_refusal(const void *address) {
  const unsigned char *at = address;
  const size_t page = page_size();
  const char *refusal = NULL;
  pthread_mutex_lock(&chunks_lock);
  for (const stub_chunk *chunk = chunks; chunk; chunk = chunk->next) {
    if (at < chunk->code || at >= chunk->code + 2 * page) continue;
    const size_t offset = (size_t)(at - chunk->code);
    if (offset >= page || offset % STUB_SIZE != 0) {
      refusal = "inside cffi-bun's entry stubs, not the start of one (not a function)";
      break;
    }
    if (chunk->kind == CFFI_STUB_TIERING) {
      refusal = "one of cffi-bun's internal entry stubs, not a JSCallback's (not a function C may call)";
      break;
    }
    const cffi_stub_slot *slot = (const cffi_stub_slot *)(chunk->code + page + offset);
    if (__atomic_load_n(&slot->target, __ATOMIC_RELAXED) == (void *)cffi_stub_vacant)
      refusal = "the address of a closed JSCallback (its entry stub is free and will be reused): "
                "bind it before close(), or close the callback later";
    break;
  }
  pthread_mutex_unlock(&chunks_lock);
  return refusal;
}
#else
const char *cffi_stub_refusal(const void *address) {
  (void)address;
  return NULL;
}

cffi_stub_slot *cffi_stub_take(cffi_env_state *state, cffi_stub_kind kind) {
  (void)state, (void)kind;
  return NULL;
}

void *cffi_stub_code(const cffi_stub_slot *slot) {
  (void)slot;
  return NULL;
}

void cffi_stub_release(cffi_env_state *state, cffi_stub_kind kind, cffi_stub_slot *slot) {
  (void)state, (void)kind, (void)slot;
}

void cffi_stubs_attach(napi_env env, cffi_env_state *state) { (void)env, (void)state; }
#endif
