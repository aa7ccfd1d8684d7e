/*
 * stubs.c - entry stubs: tiny pieces of machine code, each of which loads a
 * data word into a scratch register and jumps to a target, both read from a
 * slot that C can rewrite at any time.
 *
 * Owns: the stub encodings (x86-64, AArch64), the executable memory they
 * live in and each env's free list.
 *
 * Two users:
 *  - tiering (src/calls/jit.c): Node-API fixes a JS function's callback when it is
 *    created, so the callback is a stub, retargeted from the generic entry
 *    to the generated wrapper once the function is hot (data unused);
 *  - register closures (src/callbacks/callback.c): the C-callable address of a
 *    JSCallback is a stub whose data is the callback and whose target is the
 *    shared assembly entry (src/callbacks/register_closure.c), which finds its
 *    callback in the scratch register.
 *
 * The scratch register is one no call passes arguments in: r10 on x86-64
 * (the System V static chain, which plain C functions ignore) and x17 (IP1)
 * on AArch64, where x16 (IP0) carries the target. Both are free for a
 * veneer to clobber under both ABIs.
 *
 * Stubs come in chunks of two pages: stub i at offset STUB_SIZE*i of the
 * first (read+execute), its slot (target, data) at the same offset of the
 * second (read+write), so every stub is the same instructions with the same
 * displacements. Each stub begins with the landing an indirect call needs
 * under branch-target enforcement (endbr64 for CET/IBT on x86-64, bti c on
 * AArch64; a no-op where it is not enforced), as does each routine a stub
 * jumps to. Free stubs are kept per env (only its JS thread takes and
 * releases them, without a lock), linked through their slots' data word.
 * Chunks are kept for the process's life: when an env ends (a worker
 * exits) its free stubs, and any it releases afterwards while Node
 * finalises its functions, go to a process-wide list of orphans, which the
 * next env that runs out adopts before it maps a new chunk. A free stub's target is a routine that
 * returns 0 (in the integer and the vector return register), so C calling a
 * stale pointer gets 0 rather than a jump into data, until the stub is
 * reused.
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

/* The stub at `at`, whose slot is one page further on. */
static void write_stub(unsigned char *at, size_t page) {
#if defined(__x86_64__)
  const uint32_t to_data = (uint32_t)page + 8 - 11; /* from the end of the mov, at 4 + 7 */
  const uint32_t to_target = (uint32_t)page - 17;   /* from the end of the jmp, at 11 + 6 */
  memset(at, 0xcc, STUB_SIZE);                      /* int3 after the jmp: never reached */
  at[0] = 0xf3, at[1] = 0x0f, at[2] = 0x1e, at[3] = 0xfa; /* endbr64 */
  at[4] = 0x4c, at[5] = 0x8b, at[6] = 0x15;         /* mov r10, [rip + to_data] */
  memcpy(at + 7, &to_data, 4);
  at[11] = 0xff, at[12] = 0x25;                     /* jmp *[rip + to_target] */
  memcpy(at + 13, &to_target, 4);
#else
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

/* Every chunk ever mapped (they are never unmapped), so that binding a
 * function pointer can tell an address inside our stubs from any other
 * (cffi_stub_refusal). Appended under the lock; read only at bind time. */
typedef struct stub_chunk {
  unsigned char *code;
  struct stub_chunk *next;
} stub_chunk;
static stub_chunk *chunks;
static pthread_mutex_t chunks_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember_chunk(unsigned char *code) {
  stub_chunk *chunk = malloc(sizeof *chunk);
  if (!chunk) return; /* then its addresses are not recognised: today's behaviour */
  chunk->code = code;
  pthread_mutex_lock(&chunks_lock);
  chunk->next = chunks;
  chunks = chunk;
  pthread_mutex_unlock(&chunks_lock);
}

/* A new chunk's slots, linked as free; NULL if no memory. */
static cffi_stub_slot *new_chunk(void) {
  const size_t page = page_size();
  unsigned char *code = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return NULL;
  const size_t count = page / STUB_SIZE;
#define SLOT(i) ((cffi_stub_slot *)(code + page + (i) * STUB_SIZE))
  for (size_t i = 0; i < count; i++) {
    write_stub(code + i * STUB_SIZE, page);
    SLOT(i)->target = (void *)cffi_stub_vacant;
    SLOT(i)->data = i + 1 < count ? (void *)SLOT(i + 1) : NULL;
  }
  cffi_stub_slot *slots = SLOT(0);
#undef SLOT
  __builtin___clear_cache((char *)code, (char *)code + page);
  if (mprotect(code, page, PROT_READ | PROT_EXEC) != 0) {
    munmap(code, 2 * page);
    return NULL;
  }
  CFFI_DEBUG("%zu new entry stubs at %p", count, (void *)code);
  remember_chunk(code);
  return slots;
}

static cffi_stub_slot *orphans;
static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;

static cffi_stub_slot *adopt_orphans(void) {
  pthread_mutex_lock(&orphans_lock);
  cffi_stub_slot *adopted = orphans;
  orphans = NULL;
  pthread_mutex_unlock(&orphans_lock);
  return adopted;
}

/* Hands a list of free stubs (first..last, linked by data) to later envs. */
static void leave_orphans(cffi_stub_slot *first, cffi_stub_slot *last) {
  pthread_mutex_lock(&orphans_lock);
  last->data = orphans;
  orphans = first;
  pthread_mutex_unlock(&orphans_lock);
}

static void env_ended(void *data) {
  cffi_env_state *state = data;
  state->stubs_orphaned = true;
  cffi_stub_slot *first = state->free_stubs, *last = first;
  state->free_stubs = NULL;
  if (!first) return;
  while (last->data) last = last->data;
  leave_orphans(first, last);
}

void cffi_stubs_attach(napi_env env, cffi_env_state *state) {
  napi_add_env_cleanup_hook(env, env_ended, state);
}

cffi_stub_slot *cffi_stub_take(cffi_env_state *state) {
  if (!state->free_stubs) state->free_stubs = adopt_orphans();
  if (!state->free_stubs) state->free_stubs = new_chunk();
  cffi_stub_slot *slot = state->free_stubs;
  if (slot) {
    state->free_stubs = slot->data;
    slot->data = NULL;
  }
  return slot;
}

void *cffi_stub_code(const cffi_stub_slot *slot) { return (unsigned char *)slot - page_size(); }

void cffi_stub_release(cffi_env_state *state, cffi_stub_slot *slot) {
  slot->target = (void *)cffi_stub_vacant;
  if (state->stubs_orphaned) {
    leave_orphans(slot, slot);
    return;
  }
  slot->data = state->free_stubs;
  state->free_stubs = slot;
}
/* A free stub's address is about to be reused (by a tiering stub, another
 * JSCallback), so a function bound to it now would call whatever takes it
 * next: the very binding's own tiering stub, often. An address inside a
 * chunk that is not a stub's start is never code (a slot page is not
 * executable). A stub in use is allowed: a live JSCallback's, and a closed
 * threadsafe one's still in quarantine, whose entry answers 0 (tiering
 * stubs' addresses are never given to JS). */
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
    const cffi_stub_slot *slot = (const cffi_stub_slot *)(chunk->code + page + offset);
    /* A taken stub with no data is a tiering stub (jit.c): its address never
     * reaches JS, so the address was a closed JSCallback's, already reused. */
    if (__atomic_load_n(&slot->target, __ATOMIC_RELAXED) == (void *)cffi_stub_vacant ||
        __atomic_load_n(&slot->data, __ATOMIC_RELAXED) == NULL)
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

cffi_stub_slot *cffi_stub_take(cffi_env_state *state) {
  (void)state;
  return NULL;
}

void *cffi_stub_code(const cffi_stub_slot *slot) {
  (void)slot;
  return NULL;
}

void cffi_stub_release(cffi_env_state *state, cffi_stub_slot *slot) { (void)state, (void)slot; }

void cffi_stubs_attach(napi_env env, cffi_env_state *state) { (void)env, (void)state; }
#endif
