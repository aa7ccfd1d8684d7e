/*
 * signal_frame.h - whether a function was called by the kernel as a signal
 * handler, told from its return address (issue 22 item 8).
 *
 * Why: V8 cannot be entered from a signal handler (it aborts the process),
 * so a JSCallback given to signal()/sigaction() must not run its JS. The
 * kernel starts a handler with a return address into the sigreturn
 * trampoline, and on Linux that trampoline is always the same two
 * instructions: `mov $15, %rax; syscall` on x86-64 (glibc's and musl's
 * __restore_rt, which the kernel requires there) and `mov x8, #139;
 * svc #0` on AArch64 (the vDSO's __kernel_rt_sigreturn, or a libc's own).
 * No ordinary call returns onto an rt_sigreturn system call, so there are
 * no false positives; the check is one or two loads and compares.
 *
 * What it cannot see: a C handler that calls the JSCallback itself (the
 * callback's return address is then in that C function), and callbacks
 * that go through libffi closures (the return address is libffi's).
 */
#ifndef CFFI_SIGNAL_FRAME_H
#define CFFI_SIGNAL_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline bool cffi_returns_into_sigreturn(const void *return_address) {
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
  uintptr_t at = (uintptr_t)return_address;
  /* The bytes read must not cross into a page that may be unmapped
   * (4096 divides every page size Linux uses). */
  if ((at & 4095) > 4096 - 12) return false;
#if defined(__x86_64__)
  static const unsigned char restore_rt[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  uint64_t first;
  memcpy(&first, return_address, 8);
  uint64_t expected;
  memcpy(&expected, restore_rt, 8);
  return first == expected && ((const unsigned char *)return_address)[8] == restore_rt[8];
#else
  static const uint32_t rt_sigreturn[2] = {0xd2801168u, 0xd4000001u}; /* mov x8, #139; svc #0 */
  uint64_t words, expected;
  memcpy(&words, return_address, 8);
  memcpy(&expected, rt_sigreturn, 8);
  return words == expected;
#endif
#else
  (void)return_address;
  return false;
#endif
}

#endif /* CFFI_SIGNAL_FRAME_H */
