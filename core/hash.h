/*
 * hash.h - SHA-256 (libsodium) as lowercase hex, for files, buffers and
 * the canonical hashes of splits and requests.
 */
#ifndef PC_HASH_H
#define PC_HASH_H

#include <stddef.h>

#include "errors.h"

#define PC_SHA256_HEX_LEN 64

/* Incremental hashing: init, update any number of times, final. */
typedef struct pc_sha256 {
  unsigned char state[128];  /* holds crypto_hash_sha256_state, aligned */
} pc_sha256;

void pc_sha256_init(pc_sha256 *h);
void pc_sha256_update(pc_sha256 *h, const void *p, size_t n);
/* Writes 64 hex digits and a NUL into hex[65]. */
void pc_sha256_final_hex(pc_sha256 *h, char hex[PC_SHA256_HEX_LEN + 1]);

/* One-shot hash of a buffer. */
void pc_sha256_hex(const void *p, size_t n, char hex[PC_SHA256_HEX_LEN + 1]);

/* Hash a file's bytes. PC_E_IO with the path and reason on failure. */
int pc_sha256_file(const char *path, char hex[PC_SHA256_HEX_LEN + 1],
                   pc_error *err);

#endif
