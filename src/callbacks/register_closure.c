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
 * On x86-64 the commonest shapes (up to three register arguments) skip
 * this for entries with their own prototype (precompiled_callback.c); this
 * routine serves the rest.
 *
 * Why: a libffi closure classifies every argument again at every call
 * (about 300 instructions for `int (*)(int, int)` here); this costs about
 * 30. Signatures that pass anything on the stack, other ABIs, and
 * platforms without a routine below use libffi closures.
 *
 * x86-64 System V and AArch64 (AAPCS64), on ELF (Linux, the BSDs). Apple's
 * arm64 variant passes the same registers, but Mach-O symbols and its
 * narrower stack rules are untested, so it keeps libffi closures.
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
    "  movq 8(%rbp), %rdx\n" /* the caller's return address: see src/platform/signal_frame.h */
    "  call cffi_callback_from_registers\n"
    "  movq %rax, %xmm0\n"
    "  leave\n"
    "  .cfi_def_cfa %rsp, 8\n"
    "  ret\n"
    "  .cfi_endproc\n"
    ".size cffi_register_closure_entry, .-cffi_register_closure_entry\n");
#elif CFFI_HAVE_REGISTER_CLOSURES && defined(__aarch64__)
/* At entry: x17 = the callback (the stub loaded it; x16 held this address).
 * Frame: x29/x30, then 16 slots (x0..x7, d0..d7) = 144 bytes, a multiple of
 * 16 as sp must stay. `hint #34` is `bti c`, spelled so that assemblers
 * without BTI accept it: the stub reaches this with `br x16`, which a
 * BTI-guarded page allows only onto such a landing (a no-op elsewhere). */
__asm__(
    ".text\n"
    ".globl cffi_register_closure_entry\n"
    ".hidden cffi_register_closure_entry\n"
    ".type cffi_register_closure_entry, %function\n"
    ".p2align 4\n"
    "cffi_register_closure_entry:\n"
    "  .cfi_startproc\n"
    "  hint #34\n"
    "  stp x29, x30, [sp, #-144]!\n"
    "  .cfi_def_cfa_offset 144\n"
    "  .cfi_offset x29, -144\n"
    "  .cfi_offset x30, -136\n"
    "  mov x29, sp\n"
    "  stp x0, x1, [sp, #16]\n"
    "  stp x2, x3, [sp, #32]\n"
    "  stp x4, x5, [sp, #48]\n"
    "  stp x6, x7, [sp, #64]\n"
    "  stp d0, d1, [sp, #80]\n"
    "  stp d2, d3, [sp, #96]\n"
    "  stp d4, d5, [sp, #112]\n"
    "  stp d6, d7, [sp, #128]\n"
    "  mov x0, x17\n"
    "  add x1, sp, #16\n"
    "  mov x2, x30\n" /* the caller's return address: see src/platform/signal_frame.h */
    "  bl cffi_callback_from_registers\n"
    "  fmov d0, x0\n"
    "  ldp x29, x30, [sp], #144\n"
    "  .cfi_def_cfa_offset 0\n"
    "  .cfi_restore x29\n"
    "  .cfi_restore x30\n"
    "  ret\n"
    "  .cfi_endproc\n"
    ".size cffi_register_closure_entry, .-cffi_register_closure_entry\n");
#endif
