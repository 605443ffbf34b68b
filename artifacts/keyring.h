/*
 * keyring.h - the public keys a user trusts to sign artifacts, with
 * optional expiry dates, and the key ids they have revoked.
 *
 * A keyring file is JSON (docs/signing.md, "Keyrings"):
 *
 *   {"schema": "promptc.keyring/1",
 *    "keys": [{"name": "release-2026", "public_key": "RWQ...",
 *              "expires": "2027-06-30"}],
 *    "revoked": ["11BB5D00D657B336"]}
 *
 * "public_key" is the base64 line of a minisign public key (or "file":
 * a path to a minisign.pub, relative to the keyring file). "expires" is
 * optional: a UTC date "YYYY-MM-DD" (the key is good through the end of
 * that day) or "YYYY-MM-DDTHH:MM:SSZ". A revoked id needs no key entry.
 */
#ifndef PC_KEYRING_H
#define PC_KEYRING_H

#include <stdint.h>

#include "errors.h"
#include "minisign.h"

typedef struct pc_keyring pc_keyring;

/* The verdict on a key id (pc_keyring_check). */
enum pc_key_status {
  PC_KEY_TRUSTED = 0,
  PC_KEY_UNKNOWN,    /* not in the keyring */
  PC_KEY_REVOKED,    /* listed under "revoked" (wins over "keys") */
  PC_KEY_EXPIRED     /* in the keyring, past its "expires" */
};

/*
 * pc_keyring_load - read the keyring file at `path`. Every problem names
 * the file and the entry ("keys.json: keys[1].expires: not a date").
 * Duplicate key ids are refused. On success *out owns the keyring
 * (pc_keyring_free). PC_E_IO, PC_E_PARSE, PC_E_INVALID_ARG, PC_E_NOMEM.
 */
int pc_keyring_load(const char *path, pc_keyring **out, pc_error *err);

/* A keyring holding just `pk` (named `name`, may be NULL), never expiring:
 * what `-p KEY.pub` means. *out owned by the caller. PC_E_NOMEM. */
int pc_keyring_single(const pc_ms_pubkey *pk, const char *name,
                      pc_keyring **out, pc_error *err);

void pc_keyring_free(pc_keyring *kr);  /* NULL is a no-op */

/*
 * pc_keyring_check - the status of `keyid` at time `now` (Unix seconds).
 * For PC_KEY_TRUSTED and PC_KEY_EXPIRED, *pk and *name (either may be
 * NULL) point into the keyring (borrowed; *name may be NULL for an
 * unnamed key) and *expires (may be NULL) gets the expiry time, or -1
 * when the key never expires.
 */
enum pc_key_status pc_keyring_check(const pc_keyring *kr,
                                    const uint8_t keyid[PC_MS_KEYID_BYTES],
                                    int64_t now, const pc_ms_pubkey **pk,
                                    const char **name, int64_t *expires);

/* Static English words for a status ("revoked"). */
const char *pc_key_status_str(enum pc_key_status st);

#endif
