/*
 * register_closure.c - the C-callable entry shared by every JSCallback whose
 * arguments all travel in registers (the ABI seam of src/callbacks/callback.c).
 *
 * Owns: one small assembly routine per ABI. A callback's address is an
 * entry stub (src/platform/stubs.c) that loads the callback into a scratch register
 * and jumps here. The routine spills the argument registers, integer ones
 * first and then vector ones, into an array on its stack, in the layout the
 * register engine uses (src/calls/call.c: sig->dest indexes it), and calls
 * cffi_callback_from_registers(callback, array). It returns that function's
 * 64-bit result image in both the integer and the vector return register,
 * so the caller finds it wherever its prototype looks.
 *
 * Why: a libffi closure classifies every argument again at every call
 * (about 300 instructions for `int (*)(int, int)` here); this costs about
 * 30. Signatures that pass anything on the stack, other ABIs, and
 * platforms without a routine below use libffi closures.
 *
 * x86-64 System V only for now (ELF: Linux, the BSDs). AArch64 would spill
 * x0-x7 and d0-d7 and take the callback from x17; it is not written yet
 * because nothing here can run it.
 */
#include "../cffi.h"

#if CFFI_HAVE_REGISTER_CLOSURES && defined(__x86_64__)
/* At entry: r10 = the callback, rsp = 8 mod 16 (the return address).
 * Frame: rbp, then 14 slots (rdi..r9, xmm0..xmm7) = 112 bytes, which keeps
 * rsp 16-byte aligned at the call. endbr64 because stubs jump here
 * indirectly (a no-op without CET). */
__asm__(
    ".text\n"
    ".globl cffi_register_closure_entry\n"
    ".hidden cffi_register_closure_entry\n"
    ".type cffi_register_closure_entry, @function\n"
    ".p2align 4\n"
    "cffi_register_closure_entry:\n"
    "  .cfi_startproc\n"
    "  endbr64\n"
    "  pushq %rbp\n"
    "  .cfi_def_cfa_offset 16\n"
    "  .cfi_offset %rbp, -16\n"
    "  movq %rsp, %rbp\n"
    "  .cfi_def_cfa_register %rbp\n"
    "  subq $112, %rsp\n"
    "  movq %rdi, 0(%rsp)\n"
    "  movq %rsi, 8(%rsp)\n"
    "  movq %rdx, 16(%rsp)\n"
    "  movq %rcx, 24(%rsp)\n"
    "  movq %r8, 32(%rsp)\n"
    "  movq %r9, 40(%rsp)\n"
    "  movq %xmm0, 48(%rsp)\n"
    "  movq %xmm1, 56(%rsp)\n"
    "  movq %xmm2, 64(%rsp)\n"
    "  movq %xmm3, 72(%rsp)\n"
    "  movq %xmm4, 80(%rsp)\n"
    "  movq %xmm5, 88(%rsp)\n"
    "  movq %xmm6, 96(%rsp)\n"
    "  movq %xmm7, 104(%rsp)\n"
    "  movq %r10, %rdi\n"
    "  movq %rsp, %rsi\n"
    "  call cffi_callback_from_registers\n"
    "  movq %rax, %xmm0\n"
    "  leave\n"
    "  .cfi_def_cfa %rsp, 8\n"
    "  ret\n"
    "  .cfi_endproc\n"
    ".size cffi_register_closure_entry, .-cffi_register_closure_entry\n");
#endif
