/* hash.c - SHA-256 via libsodium, printed as lowercase hex. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "hash.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((pc_sha256 *)0)->state),
               "pc_sha256 too small for libsodium's state");

static crypto_hash_sha256_state *state_of(pc_sha256 *h)
{
  return (crypto_hash_sha256_state *)(void *)h->state;
}

void pc_sha256_init(pc_sha256 *h)
{
  crypto_hash_sha256_init(state_of(h));
}

void pc_sha256_update(pc_sha256 *h, const void *p, size_t n)
{
  crypto_hash_sha256_update(state_of(h), p, n);
}

void pc_sha256_final_hex(pc_sha256 *h, char hex[PC_SHA256_HEX_LEN + 1])
{
  unsigned char md[crypto_hash_sha256_BYTES];

  crypto_hash_sha256_final(state_of(h), md);
  sodium_bin2hex(hex, PC_SHA256_HEX_LEN + 1, md, sizeof(md));
}

void pc_sha256_hex(const void *p, size_t n, char hex[PC_SHA256_HEX_LEN + 1])
{
  pc_sha256 h;

  pc_sha256_init(&h);
  pc_sha256_update(&h, p, n);
  pc_sha256_final_hex(&h, hex);
}

int pc_sha256_file(const char *path, char hex[PC_SHA256_HEX_LEN + 1],
                   pc_error *err)
{
  unsigned char chunk[65536];
  pc_sha256 h;
  size_t n;
  FILE *f = fopen(path, "rb");

  if (!f)
    return pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
  pc_sha256_init(&h);
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    pc_sha256_update(&h, chunk, n);
  if (ferror(f)) {
    fclose(f);
    return pc_error_set(err, PC_E_IO, "%s: read error", path);
  }
  fclose(f);
  pc_sha256_final_hex(&h, hex);
  return PC_OK;
}
