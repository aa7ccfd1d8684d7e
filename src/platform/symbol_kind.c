/*
 * symbol_kind.c - what the loader knows about an address a symbol was
 * bound to: code, data, or unknown.
 *
 * Why: calling a data symbol (`environ`, `stdout`) jumps into
 * non-executable memory, a SIGSEGV in Bun and here. Knowing at bind time
 * lets the bound function throw instead, while its `.ptr` stays for reads.
 *
 * The answer is the loaded object's piece that holds the address: one
 * mapped without execute permission holds only data (.data, .bss,
 * .rodata), so calling into it faults whatever the symbol's type. Asked per
 * bound symbol, so it has to be cheap; each platform reads its loader's own
 * table of the object's pieces:
 *  - Linux: the PT_LOAD segments, through dl_iterate_phdr (a few hundred
 *    comparisons). dladdr1(RTLD_DL_SYMENT), which would give the ELF symbol
 *    type, scans the whole symbol table of the object (about 18 us per
 *    lookup in libc here: nearly doubling a dlopen of 100 libc symbols).
 *  - Windows: the PE section table of the module holding the address
 *    (GetModuleHandleExW from an address; IMAGE_SCN_MEM_EXECUTE).
 *  - macOS: the image's LC_SEGMENT_64 commands (dladdr gives the header;
 *    initprot's VM_PROT_EXECUTE), slid by where __TEXT was loaded, which
 *    also holds for images in the dyld shared cache.
 * Not recognised: data in an executable piece (read-only data on AArch64
 * ELF, where binutils puts .rodata in the code's segment unless linked with
 * -z separate-code, and in Mach-O's __TEXT,__const) and thread-local symbols, whose address is in a thread's TLS
 * block, outside any object. Memory no loaded object owns (cc() code,
 * JSCallbacks, the heap) is "unknown" and bound as a function, as before;
 * so is every address on other systems.
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
#elif defined(_WIN32)
/* <windows.h> comes from platform.h. */
cffi_symbol_kind cffi_lib_symbol_kind(const void *address) {
  HMODULE module;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          (LPCWSTR)address, &module))
    return CFFI_SYMBOL_UNKNOWN;
  const unsigned char *base = (const unsigned char *)module;
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
  if (dos->e_magic != IMAGE_DOS_SIGNATURE) return CFFI_SYMBOL_UNKNOWN;
  const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
  if (nt->Signature != IMAGE_NT_SIGNATURE) return CFFI_SYMBOL_UNKNOWN;
  const uintptr_t offset = (uintptr_t)address - (uintptr_t)base;
  const IMAGE_SECTION_HEADER *section = IMAGE_FIRST_SECTION(nt);
  for (WORD i = 0; i < nt->FileHeader.NumberOfSections; i++, section++) {
    /* VirtualSize is what is mapped (.bss has no raw data); some linkers leave it 0. */
    const uintptr_t size = section->Misc.VirtualSize ? section->Misc.VirtualSize : section->SizeOfRawData;
    if (offset - section->VirtualAddress >= size) continue; /* below start wraps: also outside */
    return (section->Characteristics & IMAGE_SCN_MEM_EXECUTE) ? CFFI_SYMBOL_FUNCTION : CFFI_SYMBOL_DATA;
  }
  return CFFI_SYMBOL_UNKNOWN; /* the headers */
}
#elif defined(__APPLE__)
#include <mach-o/loader.h> /* and <mach/vm_prot.h>; <dlfcn.h> comes from platform.h */

cffi_symbol_kind cffi_lib_symbol_kind(const void *address) {
  Dl_info info;
  if (!dladdr(address, &info) || !info.dli_fbase) return CFFI_SYMBOL_UNKNOWN;
  const struct mach_header_64 *header = info.dli_fbase;
  if (header->magic != MH_MAGIC_64) return CFFI_SYMBOL_UNKNOWN;
  const struct load_command *first = (const struct load_command *)(header + 1), *command;
  /* The slide: where the header (the start of __TEXT) is against where __TEXT asked to be. */
  intptr_t slide = 0;
  int have_slide = 0;
  command = first;
  for (uint32_t i = 0; i < header->ncmds; i++, command = (const void *)((const char *)command + command->cmdsize)) {
    const struct segment_command_64 *segment = (const void *)command;
    if (command->cmd == LC_SEGMENT_64 && strncmp(segment->segname, SEG_TEXT, sizeof segment->segname) == 0) {
      slide = (intptr_t)((uintptr_t)header - (uintptr_t)segment->vmaddr);
      have_slide = 1;
      break;
    }
  }
  if (!have_slide) return CFFI_SYMBOL_UNKNOWN;
  command = first;
  for (uint32_t i = 0; i < header->ncmds; i++, command = (const void *)((const char *)command + command->cmdsize)) {
    if (command->cmd != LC_SEGMENT_64) continue;
    const struct segment_command_64 *segment = (const void *)command;
    const uintptr_t start = (uintptr_t)segment->vmaddr + (uintptr_t)slide;
    if ((uintptr_t)address - start >= segment->vmsize) continue;
    return (segment->initprot & VM_PROT_EXECUTE) ? CFFI_SYMBOL_FUNCTION : CFFI_SYMBOL_DATA;
  }
  return CFFI_SYMBOL_UNKNOWN;
}
#else
cffi_symbol_kind cffi_lib_symbol_kind(const void *address) {
  (void)address;
  return CFFI_SYMBOL_UNKNOWN;
}
#endif
