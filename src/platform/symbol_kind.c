/*
 * symbol_kind.c - what the loader knows about an address a symbol was
 * bound to: code, data, or unknown.
 *
 * Why: calling a data symbol (`environ`, `stdout`) jumps into
 * non-executable memory, a SIGSEGV in Bun and here. Knowing at bind time
 * lets the bound function throw instead, while its `.ptr` stays for reads.
 *
 * On Linux the answer is the loaded segment the address lies in: a
 * PT_LOAD segment without execute permission holds only data (.data,
 * .bss, .rodata), so calling into it faults whatever the symbol's type.
 * Asked per bound symbol, so it has to be cheap: dl_iterate_phdr walks the
 * loaded objects' program headers (a few hundred comparisons), where
 * dladdr1(RTLD_DL_SYMENT), which would give the ELF symbol type, scans the
 * whole symbol table of the object (about 18 us per lookup in libc here:
 * nearly doubling a dlopen of 100 libc symbols). Not recognised: data in an
 * executable segment (old linkers merged .rodata into text) and thread-local
 * symbols, whose address is in a thread's TLS block, outside any object.
 * Everywhere else (macOS, Windows) the answer is "unknown" and the address is
 * bound as a function, as before; so is memory no loaded object owns (cc()
 * code, JSCallbacks, the heap).
 */
#include "platform.h"

#if defined(__linux__)
#include <link.h>

typedef struct {
  uintptr_t address;
  cffi_symbol_kind kind;
} segment_query;

static int find_segment(struct dl_phdr_info *object, size_t size, void *data) {
  (void)size;
  segment_query *query = data;
  for (ElfW(Half) i = 0; i < object->dlpi_phnum; i++) {
    const ElfW(Phdr) *segment = &object->dlpi_phdr[i];
    if (segment->p_type != PT_LOAD) continue;
    const uintptr_t start = (uintptr_t)object->dlpi_addr + segment->p_vaddr;
    if (query->address - start >= segment->p_memsz) continue; /* below start wraps: also outside */
    query->kind = (segment->p_flags & PF_X) ? CFFI_SYMBOL_FUNCTION : CFFI_SYMBOL_DATA;
    return 1;
  }
  return 0;
}

cffi_symbol_kind cffi_lib_symbol_kind(const void *address) {
  segment_query query = {(uintptr_t)address, CFFI_SYMBOL_UNKNOWN};
  dl_iterate_phdr(find_segment, &query);
  return query.kind;
}
#else
cffi_symbol_kind cffi_lib_symbol_kind(const void *address) {
  (void)address;
  return CFFI_SYMBOL_UNKNOWN;
}
#endif
