/*
 * minisign.h - minisign-format Ed25519 keys and signatures on libsodium:
 * the formats of minisign 0.11/0.12 byte for byte, so the real `minisign`
 * tool verifies what we sign and we verify what it signs.
 *
 * Formats (docs/signing.md, "Formats"):
 * - public key, 2 lines: "untrusted comment: ..." then base64 of
 *   "Ed" | keyid[8] | pk[32];
 * - secret key, 2 lines: base64 of "Ed" | kdf "Sc" or "\0\0" | "B2" |
 *   salt[32] | opslimit u64le | memlimit u64le | { keyid[8] | sk[64] |
 *   chk[32] }, the braced part XORed with scrypt(password) when
 *   encrypted; chk = BLAKE2b-256("Ed" | keyid | sk) detects a wrong
 *   password;
 * - signature, 4 lines: untrusted comment, base64 of "ED" | keyid | sig[64]
 *   where sig = Ed25519(BLAKE2b-512(file)) (legacy "Ed": over the raw
 *   bytes, accepted when verifying, never written), the trusted comment,
 *   and base64 of Ed25519(sig | trusted comment).
 *
 * Key ids are printed as minisign prints them: 16 upper-case hex digits of
 * the little-endian u64, that is the 8 bytes in reverse order.
 *
 * Secret key material lives only in sodium_malloc'd memory and is wiped
 * on free. Nothing here prints, prompts or exits: the CLI reads passwords.
 */
#ifndef PC_MINISIGN_H
#define PC_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define PC_MS_KEYID_BYTES 8
#define PC_MS_KEYID_HEX_LEN 16
#define PC_MS_PK_BYTES 32
#define PC_MS_SIG_BYTES 64
#define PC_MS_COMMENT_MAX 8192  /* trusted comment, as minisign bounds it */
/* The longest comments minisign reads back: its line buffers hold 1024
 * and 8192 bytes with the prefix and the newline. */
#define PC_MS_UNTRUSTED_MAX 1003
#define PC_MS_TRUSTED_MAX 8173

typedef struct pc_ms_pubkey {
  uint8_t keyid[PC_MS_KEYID_BYTES];
  uint8_t pk[PC_MS_PK_BYTES];
} pc_ms_pubkey;

typedef struct pc_ms_seckey pc_ms_seckey;  /* opaque; sodium_malloc'd */

/* A parsed .minisig file. */
typedef struct pc_ms_sig {
  int prehashed;                     /* 1: "ED" (BLAKE2b-512), 0: legacy */
  uint8_t keyid[PC_MS_KEYID_BYTES];
  uint8_t sig[PC_MS_SIG_BYTES];
  char *untrusted_comment;           /* owned, without the prefix */
  char *trusted_comment;             /* owned, without the prefix */
  uint8_t global_sig[PC_MS_SIG_BYTES];
} pc_ms_sig;

/* Why a verification failed (pc_ms_verify's *why). */
enum pc_ms_failure {
  PC_MS_OK = 0,
  PC_MS_KEYID_MISMATCH,   /* signed by another key than the one given */
  PC_MS_BAD_SIGNATURE,    /* the file is not what was signed */
  PC_MS_BAD_COMMENT       /* the trusted comment was changed */
};

/* Write the key id as 16 upper-case hex digits and a NUL. */
void pc_ms_keyid_hex(const uint8_t keyid[PC_MS_KEYID_BYTES],
                     char hex[PC_MS_KEYID_HEX_LEN + 1]);

/* Parse 16 hex digits (either case) into a key id. PC_E_INVALID_ARG. */
int pc_ms_keyid_parse(const char *hex, uint8_t keyid[PC_MS_KEYID_BYTES],
                      pc_error *err);

/*
 * pc_ms_keygen - make a new key pair and write it to `pub_path` and
 * `sec_path` (mode 0600 for the secret key). With `password` NULL the
 * secret key is stored unencrypted (minisign -W); otherwise it is
 * encrypted with scrypt at minisign's limits (opslimit 33554432, memlimit
 * 1 GiB: this takes seconds and 1 GiB of memory). An existing file is
 * refused unless `force`. `keyid` (may be NULL) receives the new key id.
 * PC_E_INVALID_ARG for an existing file, PC_E_IO naming the path,
 * PC_E_NOMEM.
 */
int pc_ms_keygen(const char *pub_path, const char *sec_path,
                 const char *password, int force,
                 uint8_t keyid[PC_MS_KEYID_BYTES], pc_error *err);

/*
 * pc_ms_keygen_comment - pc_ms_keygen with the untrusted comment of the
 * secret key file (`minisign -G -c`): one line of at most
 * PC_MS_UNTRUSTED_MAX bytes without control characters. NULL or ""
 * gives "minisign encrypted secret key" (minisign's default), or
 * "minisign unencrypted secret key" without a password. A bad comment is
 * PC_E_INVALID_ARG.
 */
int pc_ms_keygen_comment(const char *pub_path, const char *sec_path,
                         const char *password, const char *comment,
                         int force, uint8_t keyid[PC_MS_KEYID_BYTES],
                         pc_error *err);

/*
 * pc_ms_pubkey_parse - a public key from the text of a minisign.pub file
 * (two lines) or from its bare base64 line (as `minisign -P` takes it).
 * `what` names the source in messages (a path, "--public-key").
 * PC_E_PARSE with the reason.
 */
int pc_ms_pubkey_parse(const char *text, size_t len, const char *what,
                       pc_ms_pubkey *out, pc_error *err);

/* pc_ms_pubkey_load - read and parse a public key file. PC_E_IO naming
 * the path, PC_E_PARSE. */
int pc_ms_pubkey_load(const char *path, pc_ms_pubkey *out, pc_error *err);

/* The base64 line of a public key (the second line of its file) into
 * `b64`, NUL-terminated. */
#define PC_MS_PUBKEY_B64_LEN 56
void pc_ms_pubkey_base64(const pc_ms_pubkey *pk,
                         char b64[PC_MS_PUBKEY_B64_LEN + 1]);

/* 1 when the secret key file at `path` is encrypted, 0 when it is not;
 * -1 with `err` set when it cannot be read or is not a minisign secret
 * key. Lets the caller ask for a password only when one is needed. */
int pc_ms_seckey_encrypted(const char *path, pc_error *err);

/*
 * pc_ms_seckey_load - read the secret key at `path`, decrypting it with
 * `password` when it is encrypted (`password` is ignored otherwise). On
 * success *out owns the key (pc_ms_seckey_free). Errors: PC_E_IO naming
 * the path, PC_E_PARSE for a file that is not a minisign secret key or an
 * unsupported algorithm, PC_E_AUTH for a missing or wrong password
 * ("wrong password for KEY.sec"). An unencrypted key whose check is
 * all zero, as `minisign -G -W` writes it, is accepted; a wrong non-zero
 * check is PC_E_PARSE (a damaged key).
 */
int pc_ms_seckey_load(const char *path, const char *password,
                      pc_ms_seckey **out, pc_error *err);

void pc_ms_seckey_free(pc_ms_seckey *sk);  /* wipes; NULL is a no-op */

/* The key id and public key of a loaded secret key. */
void pc_ms_seckey_public(const pc_ms_seckey *sk, pc_ms_pubkey *out);

/*
 * pc_ms_sign - sign `len` bytes at `data` (prehashed, "ED"), binding
 * `trusted_comment` (one printable UTF-8 line without a newline, at most
 * PC_MS_TRUSTED_MAX bytes) with the global signature. `untrusted_comment`
 * (at most PC_MS_UNTRUSTED_MAX bytes, no control characters) NULL gives
 * minisign's default. On success *text owns the 4-line .minisig
 * text (pc_free) and *len its length. Ed25519 is deterministic: the same
 * key, data and comments give the same bytes. PC_E_INVALID_ARG for a bad
 * comment, PC_E_NOMEM.
 */
int pc_ms_sign(const pc_ms_seckey *sk, const void *data, size_t len,
               const char *trusted_comment, const char *untrusted_comment,
               char **text, size_t *text_len, pc_error *err);

/*
 * pc_ms_sig_parse - parse the text of a .minisig file. `what` names it in
 * messages. On success `out` owns its comments (pc_ms_sig_clear).
 * PC_E_PARSE with the line that is wrong, PC_E_NOMEM.
 */
int pc_ms_sig_parse(const char *text, size_t len, const char *what,
                    pc_ms_sig *out, pc_error *err);

void pc_ms_sig_clear(pc_ms_sig *sig);

/*
 * pc_ms_verify - check `sig` over `len` bytes at `data` with `pk`: the key
 * id, then the signature over the file, then the global signature over
 * the signature and the trusted comment, in minisign's order. Returns
 * PC_OK, or PC_E_INVALID_ARG with *why (may be NULL) saying which check
 * failed and a message saying it in words.
 */
int pc_ms_verify(const pc_ms_pubkey *pk, const pc_ms_sig *sig,
                 const void *data, size_t len, enum pc_ms_failure *why,
                 pc_error *err);

#endif
