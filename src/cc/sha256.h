/*
 * sha256.h - SHA-256 (FIPS 180-4), for cc()'s cache keys and entry checks.
 */
#ifndef CFFI_SHA256_H
#define CFFI_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t state[8];
  uint64_t length;       /* bytes hashed so far */
  uint8_t block[64];
  size_t used;           /* bytes waiting in block */
} cffi_sha256;

void cffi_sha256_init(cffi_sha256 *h);
void cffi_sha256_update(cffi_sha256 *h, const void *data, size_t len);
void cffi_sha256_final(cffi_sha256 *h, uint8_t digest[32]);

#endif /* CFFI_SHA256_H */
