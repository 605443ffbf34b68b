/* minisign.c - minisign-format Ed25519 keys and signatures on libsodium,
 * written and read byte for byte as minisign 0.11/0.12 does. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "json_text.h"
#include "minisign.h"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define SIG_DEFAULT_COMMENT "signature from minisign secret key"
#define SK_DEFAULT_COMMENT "minisign encrypted secret key"
#define SK_PLAIN_COMMENT "minisign unencrypted secret key"

/* The longest lines minisign reads, without their newline: fgets into
 * buffers of 1024 (untrusted comments) and 8192 (trusted comment) bytes
 * that must also hold the newline and the NUL. */
#define UNTRUSTED_LINE_MAX 1022
#define TRUSTED_LINE_MAX 8190

#define PUBKEY_FILE_MAX 4096   /* a comment line and a key line */
#define SECKEY_FILE_MAX 4096
#define MAX_LINES 4

/* Decoded blob sizes. */
#define PK_BLOB 42             /* "Ed" | keyid | pk */
#define SIG_BLOB 74            /* "ED" | keyid | sig */
#define SK_BLOB 158            /* see the layout below */

/* Offsets in the secret key blob: "Ed" | kdf | "B2" | salt[32] |
 * opslimit | memlimit | { keyid[8] | sk[64] | chk[32] }. */
#define SK_KDF 2
#define SK_CHKALG 4
#define SK_SALT 6
#define SK_OPS 38
#define SK_MEM 46
#define SK_KEYNUM 54
#define SK_SK 62
#define SK_CHK 126
#define SK_ENC_LEN (SK_BLOB - SK_KEYNUM)  /* the XORed part: 104 bytes */

/* scrypt limits: what minisign writes, and the most we accept reading a
 * key file (64 times as much work, 16 times as much memory). */
#define KDF_OPS crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE
#define KDF_MEM crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE
#define KDF_OPS_MAX ((uint64_t)KDF_OPS * 64)
#define KDF_MEM_MAX ((uint64_t)KDF_MEM * 16)

_Static_assert(crypto_sign_SECRETKEYBYTES == 64, "Ed25519 secret key size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == PC_MS_PK_BYTES, "pk size");
_Static_assert(crypto_sign_BYTES == PC_MS_SIG_BYTES, "signature size");
_Static_assert(crypto_pwhash_scryptsalsa208sha256_SALTBYTES == 32, "salt");

struct pc_ms_seckey {
  uint8_t keyid[PC_MS_KEYID_BYTES];
  uint8_t sk[crypto_sign_SECRETKEYBYTES];  /* seed | public key */
};

/* One line of a key or signature file. */
struct line {
  const char *p;   /* borrowed: points into the text */
  size_t len;      /* without the line ending */
  size_t raw;      /* with a '\r' before the newline, as minisign counts */
};

static int init_sodium(pc_error *err)
{
  if (sodium_init() < 0)
    return pc_error_set(err, PC_E_INTERNAL, "libsodium failed to "
                        "initialise");
  return PC_OK;
}

static void le64_store(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_load(const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static size_t b64_len(size_t bin_len)
{
  return sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL) -
         1;
}

void pc_ms_keyid_hex(const uint8_t keyid[PC_MS_KEYID_BYTES],
                     char hex[PC_MS_KEYID_HEX_LEN + 1])
{
  static const char digits[] = "0123456789ABCDEF";

  /* minisign prints the little-endian u64: the last byte first. */
  for (int i = 0; i < PC_MS_KEYID_BYTES; i++) {
    uint8_t b = keyid[PC_MS_KEYID_BYTES - 1 - i];

    hex[2 * i] = digits[b >> 4];
    hex[2 * i + 1] = digits[b & 15];
  }
  hex[PC_MS_KEYID_HEX_LEN] = '\0';
}

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int pc_ms_keyid_parse(const char *hex, uint8_t keyid[PC_MS_KEYID_BYTES],
                      pc_error *err)
{
  uint8_t tmp[PC_MS_KEYID_BYTES];

  if (!hex || strlen(hex) != PC_MS_KEYID_HEX_LEN)
    return pc_error_set(err, PC_E_INVALID_ARG, "key id '%s': expected %d "
                        "hex digits", hex ? hex : "(null)",
                        PC_MS_KEYID_HEX_LEN);
  for (int i = 0; i < PC_MS_KEYID_BYTES; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return pc_error_set(err, PC_E_INVALID_ARG, "key id '%s': not a hex "
                          "digit at position %d", hex,
                          2 * i + (hi < 0 ? 1 : 2));
    tmp[PC_MS_KEYID_BYTES - 1 - i] = (uint8_t)(hi << 4 | lo);
  }
  memcpy(keyid, tmp, sizeof(tmp));
  return PC_OK;
}

/*
 * Split `text` into at most `max` lines. Each ends with "\n" or "\r\n"
 * (the last one may lack it); a '\r' anywhere else, a NUL byte or more
 * than `max` lines is refused, naming `what` and the line. `kind` says
 * what the file should be, for the message about extra lines.
 */
static int split_lines(const char *text, size_t len, const char *what,
                       const char *kind, struct line *lines, size_t max,
                       size_t *n, pc_error *err)
{
  size_t i = 0, count = 0;

  *n = 0;
  if (memchr(text, '\0', len))
    return pc_error_set(err, PC_E_PARSE, "%s: contains a NUL byte: not a "
                        "%s", what, kind);
  while (i < len) {
    const char *p = text + i, *nl = memchr(p, '\n', len - i);
    size_t raw = nl ? (size_t)(nl - p) : len - i, l = raw;

    if (count == max)
      return pc_error_set(err, PC_E_PARSE, "%s: line %zu: unexpected text "
                          "after the %s", what, count + 1, kind);
    if (l > 0 && p[l - 1] == '\r')
      l--;
    if (memchr(p, '\r', l))
      return pc_error_set(err, PC_E_PARSE, "%s: line %zu: stray carriage "
                          "return", what, count + 1);
    lines[count].p = p;
    lines[count].len = l;
    lines[count].raw = raw;
    count++;
    i += raw + (nl ? 1 : 0);
  }
  *n = count;
  return PC_OK;
}

static int has_prefix(const struct line *l, const char *prefix)
{
  size_t n = strlen(prefix);

  return l->len >= n && memcmp(l->p, prefix, n) == 0;
}

/* Check a comment line: its prefix and minisign's length limit. */
static int check_comment_line(const struct line *l, size_t lineno,
                              const char *prefix, size_t max,
                              const char *what, pc_error *err)
{
  if (!has_prefix(l, prefix))
    return pc_error_set(err, PC_E_PARSE, "%s: line %zu: expected \"%s...\"",
                        what, lineno, prefix);
  if (l->raw > max)
    return pc_error_set(err, PC_E_PARSE, "%s: line %zu: comment too long "
                        "(%zu bytes; minisign reads at most %zu)", what,
                        lineno, l->raw, max);
  return PC_OK;
}

/* Decode a base64 line that must hold exactly `n` bytes into `out`. */
static int decode_line(const struct line *l, size_t lineno, uint8_t *out,
                       size_t n, const char *name, const char *what,
                       pc_error *err)
{
  size_t got = 0;

  if (l->len != b64_len(n))
    return pc_error_set(err, PC_E_PARSE, "%s: line %zu: not a minisign %s: "
                        "expected %zu base64 characters, found %zu", what,
                        lineno, name, b64_len(n), l->len);
  if (sodium_base642bin(out, n, l->p, l->len, NULL, &got, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 || got != n)
    return pc_error_set(err, PC_E_PARSE, "%s: line %zu: %s: invalid base64",
                        what, lineno, name);
  return PC_OK;
}

/* minisign's rule for trusted comments: UTF-8 without control
 * characters other than tab (C0, DEL and C1 are refused). */
static int printable(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;

  while (i < len) {
    uint32_t cp;
    size_t n = pc__utf8_decode(u + i, len - i, &cp);

    if (n == 0)
      return 0;
    if (cp != '\t' && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)))
      return 0;
    i += n;
  }
  return 1;
}

/* ---- public keys ------------------------------------------------------ */

static int pubkey_from_blob(const uint8_t blob[PK_BLOB], size_t lineno,
                            const char *what, pc_ms_pubkey *out,
                            pc_error *err)
{
  if (memcmp(blob, "Ed", 2) != 0)
    return pc_error_set(err, PC_E_PARSE, "%s: line %zu: unsupported "
                        "signature algorithm (not \"Ed\")", what, lineno);
  memcpy(out->keyid, blob + 2, PC_MS_KEYID_BYTES);
  memcpy(out->pk, blob + 2 + PC_MS_KEYID_BYTES, PC_MS_PK_BYTES);
  return PC_OK;
}

int pc_ms_pubkey_parse(const char *text, size_t len, const char *what,
                       pc_ms_pubkey *out, pc_error *err)
{
  struct line lines[MAX_LINES];
  uint8_t blob[PK_BLOB];
  size_t n = 0, key = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!what)
    what = "public key";
  if ((rc = split_lines(text, len, what, "public key", lines, 2, &n, err)))
    return rc;
  if (n == 0)
    return pc_error_set(err, PC_E_PARSE, "%s: empty: not a minisign "
                        "public key", what);
  if (n == 1 && has_prefix(&lines[0], UNTRUSTED_PREFIX))
    return pc_error_set(err, PC_E_PARSE, "%s: line 2: missing: expected "
                        "the key after the comment", what);
  if (n == 2) {
    if ((rc = check_comment_line(&lines[0], 1, UNTRUSTED_PREFIX,
                                 UNTRUSTED_LINE_MAX, what, err)))
      return rc;
    key = 1;
  }
  if ((rc = decode_line(&lines[key], key + 1, blob, sizeof(blob),
                        "public key", what, err)))
    return rc;
  return pubkey_from_blob(blob, key + 1, what, out, err);
}

int pc_ms_pubkey_load(const char *path, pc_ms_pubkey *out, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  char *text = NULL;
  size_t len = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = pc_file_read(path, PUBKEY_FILE_MAX, &text, &len, &e);
  if (rc == PC_E_INVALID_ARG)
    return pc_error_set(err, PC_E_PARSE, "%s: not a minisign public key "
                        "(larger than %d bytes)", path, PUBKEY_FILE_MAX);
  if (rc)
    return pc_error_set(err, rc, "%s", e.message);
  rc = pc_ms_pubkey_parse(text, len, path, out, err);
  pc_free(text);
  return rc;
}

void pc_ms_pubkey_base64(const pc_ms_pubkey *pk,
                         char b64[PC_MS_PUBKEY_B64_LEN + 1])
{
  uint8_t blob[PK_BLOB];

  memcpy(blob, "Ed", 2);
  memcpy(blob + 2, pk->keyid, PC_MS_KEYID_BYTES);
  memcpy(blob + 2 + PC_MS_KEYID_BYTES, pk->pk, PC_MS_PK_BYTES);
  sodium_bin2base64(b64, PC_MS_PUBKEY_B64_LEN + 1, blob, sizeof(blob),
                    sodium_base64_VARIANT_ORIGINAL);
}

_Static_assert(PC_MS_PUBKEY_B64_LEN == 56, "56 base64 digits for 42 bytes");

/* ---- secret keys ------------------------------------------------------ */

/*
 * Read the secret key file at `path` into guarded memory and decode its
 * blob: on success *blob (sodium_free) holds the SK_BLOB bytes, still
 * encrypted when the kdf is "Sc". Only the algorithms minisign writes are
 * accepted.
 */
static int seckey_read(const char *path, uint8_t **blob, pc_error *err)
{
  struct line lines[MAX_LINES];
  char *text = NULL;
  uint8_t *b = NULL;
  size_t len = 0, n = 0;
  int fd = -1, rc;

  *blob = NULL;
  if ((rc = init_sodium(err)))
    return rc;
  if (!(text = sodium_malloc(SECKEY_FILE_MAX + 1)) ||
      !(b = sodium_malloc(SK_BLOB))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto out;
  }
  /* read(2) rather than stdio, so no copy of the key stays in a buffer
   * that is freed without being wiped. */
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
    goto out;
  }
  while (len <= SECKEY_FILE_MAX) {
    ssize_t r = read(fd, text + len, SECKEY_FILE_MAX + 1 - len);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
      goto out;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  if (len > SECKEY_FILE_MAX) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: not a minisign secret key "
                      "(larger than %d bytes)", path, SECKEY_FILE_MAX);
    goto out;
  }
  if ((rc = split_lines(text, len, path, "secret key", lines, 2, &n, err)))
    goto out;
  if (n != 2) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: not a minisign secret key: "
                      "expected 2 lines (comment, key), found %zu", path, n);
    goto out;
  }
  if ((rc = check_comment_line(&lines[0], 1, UNTRUSTED_PREFIX,
                               UNTRUSTED_LINE_MAX, path, err)) ||
      (rc = decode_line(&lines[1], 2, b, SK_BLOB, "secret key", path, err)))
    goto out;
  if (memcmp(b, "Ed", 2) != 0)
    rc = pc_error_set(err, PC_E_PARSE, "%s: line 2: unsupported signature "
                      "algorithm (not \"Ed\")", path);
  else if (memcmp(b + SK_CHKALG, "B2", 2) != 0)
    rc = pc_error_set(err, PC_E_PARSE, "%s: line 2: unsupported checksum "
                      "algorithm (not \"B2\")", path);
  else if (memcmp(b + SK_KDF, "Sc", 2) != 0 &&
           memcmp(b + SK_KDF, "\0\0", 2) != 0)
    rc = pc_error_set(err, PC_E_PARSE, "%s: line 2: unsupported key "
                      "derivation (not scrypt \"Sc\" or none)", path);
out:
  if (fd >= 0)
    close(fd);
  sodium_free(text);  /* wipes */
  if (rc)
    sodium_free(b);
  else
    *blob = b;
  return rc;
}

/* BLAKE2b-256 over "Ed" | keyid | sk: minisign's check of the key. */
static void seckey_chk(const uint8_t *blob, uint8_t chk[32])
{
  crypto_generichash_state st;

  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, blob, 2);
  crypto_generichash_update(&st, blob + SK_KEYNUM, PC_MS_KEYID_BYTES);
  crypto_generichash_update(&st, blob + SK_SK, crypto_sign_SECRETKEYBYTES);
  crypto_generichash_final(&st, chk, 32);
  sodium_memzero(&st, sizeof(st));
}

/* XOR the encrypted part of `blob` with scrypt(password) at the limits
 * the blob records; the same operation encrypts and decrypts. */
static int seckey_crypt(uint8_t *blob, const char *password,
                        const char *what, pc_error *err)
{
  uint64_t ops = le64_load(blob + SK_OPS), mem = le64_load(blob + SK_MEM);
  uint8_t *stream;
  int rc = PC_OK;

  if (ops > KDF_OPS_MAX || mem > KDF_MEM_MAX || mem > SIZE_MAX)
    return pc_error_set(err, PC_E_PARSE, "%s: scrypt limits out of range "
                        "(opslimit %llu, memlimit %llu)", what,
                        (unsigned long long)ops, (unsigned long long)mem);
  if (!(stream = sodium_malloc(SK_ENC_LEN)))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  if (crypto_pwhash_scryptsalsa208sha256(stream, SK_ENC_LEN, password,
                                         strlen(password), blob + SK_SALT,
                                         ops, (size_t)mem) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: scrypt key derivation failed "
                      "(it needs %llu MiB of memory)", what,
                      (unsigned long long)(mem >> 20));
    goto out;
  }
  for (size_t i = 0; i < SK_ENC_LEN; i++)
    blob[SK_KEYNUM + i] ^= stream[i];
out:
  sodium_free(stream);
  return rc;
}

int pc_ms_seckey_encrypted(const char *path, pc_error *err)
{
  uint8_t *blob = NULL;
  int enc;

  if (seckey_read(path, &blob, err))
    return -1;
  enc = memcmp(blob + SK_KDF, "Sc", 2) == 0;
  sodium_free(blob);
  return enc;
}

int pc_ms_seckey_load(const char *path, const char *password,
                      pc_ms_seckey **out, pc_error *err)
{
  uint8_t *blob = NULL, chk[32];
  pc_ms_seckey *sk = NULL;
  int rc, enc;

  *out = NULL;
  if ((rc = seckey_read(path, &blob, err)))
    return rc;
  enc = memcmp(blob + SK_KDF, "Sc", 2) == 0;
  if (enc && (!password || !*password)) {
    rc = pc_error_set(err, PC_E_AUTH, "%s: the secret key is encrypted: a "
                      "password is needed", path);
    goto out;
  }
  if (enc && (rc = seckey_crypt(blob, password, path, err)))
    goto out;
  seckey_chk(blob, chk);
  /* minisign -W leaves the check of an unencrypted key all zero (it only
   * computes it to encrypt): accept that, but not a wrong one. */
  if (sodium_memcmp(chk, blob + SK_CHK, sizeof(chk)) != 0 &&
      (enc || !sodium_is_zero(blob + SK_CHK, sizeof(chk)))) {
    rc = enc ? pc_error_set(err, PC_E_AUTH, "wrong password for %s", path)
             : pc_error_set(err, PC_E_PARSE, "%s: checksum mismatch: the "
                            "secret key is damaged", path);
    goto out;
  }
  if (!(sk = sodium_malloc(sizeof(*sk)))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto out;
  }
  memcpy(sk->keyid, blob + SK_KEYNUM, PC_MS_KEYID_BYTES);
  memcpy(sk->sk, blob + SK_SK, sizeof(sk->sk));
  sodium_mprotect_readonly(sk);
  *out = sk;
out:
  sodium_memzero(chk, sizeof(chk));
  sodium_free(blob);
  return rc;
}

void pc_ms_seckey_free(pc_ms_seckey *sk)
{
  sodium_free(sk);  /* makes it writable again, wipes it; NULL is a no-op */
}

void pc_ms_seckey_public(const pc_ms_seckey *sk, pc_ms_pubkey *out)
{
  memcpy(out->keyid, sk->keyid, PC_MS_KEYID_BYTES);
  /* An Ed25519 secret key is the seed followed by the public key. */
  memcpy(out->pk, sk->sk + 32, PC_MS_PK_BYTES);
}

/* ---- key generation --------------------------------------------------- */

/* A comment minisign can read back: one line, no control characters. */
static int check_untrusted(const char *c, const char *what, pc_error *err)
{
  size_t len = strlen(c);

  if (len > PC_MS_UNTRUSTED_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: longer than %d bytes",
                        what, PC_MS_UNTRUSTED_MAX);
  if (!printable(c, len))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: not one line of "
                        "printable UTF-8 text", what);
  return PC_OK;
}

static int file_exists(const char *path)
{
  struct stat st;

  return lstat(path, &st) == 0;
}

/* Write `len` bytes to a new file beside `path` created with `mode`, and
 * sync it. On success *tmp (pc_free) names it. */
static int stage_file(const char *path, const void *data, size_t len,
                      mode_t mode, char **tmp, pc_error *err)
{
  uint8_t rnd[8];
  char hex[17];
  const char *p = data;
  pc_buf name;
  int fd = -1, rc = PC_OK;

  *tmp = NULL;
  randombytes_buf(rnd, sizeof(rnd));
  sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
  pc_buf_init(&name, 0);
  if (pc_buf_printf(&name, "%s.tmp-%s", path, hex))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  fd = open(name.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
    pc_buf_free(&name);  /* not ours: never unlink it */
    return rc;
  }
  while (len > 0) {
    ssize_t w = write(fd, p, len);

    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = pc_error_set(err, PC_E_IO, "%s: %s", path,
                        w < 0 ? strerror(errno) : "short write");
      goto out;
    }
    p += w;
    len -= (size_t)w;
  }
  if (fsync(fd) != 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
    goto out;
  }
  rc = close(fd);
  fd = -1;
  if (rc) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
    goto out;
  }
out:
  if (fd >= 0)
    close(fd);
  if (rc) {
    unlink(name.data);
    pc_buf_free(&name);
  } else {
    *tmp = pc_buf_take(&name, NULL);
    pc_buf_free(&name);
    if (!*tmp)
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  }
  return rc;
}

/* Move the staged file `tmp` to `path`. Without `force` an existing
 * `path` is kept: link(2) fails rather than replacing it. */
static int commit_file(const char *tmp, const char *path, int force,
                       pc_error *err)
{
  if (!force) {
    if (link(tmp, path) == 0) {
      unlink(tmp);
      return PC_OK;
    }
    if (errno == EEXIST)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: already exists",
                          path);
    /* Filesystems without hard links: check, then rename. */
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS &&
        errno != EMLINK)
      return pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
    if (file_exists(path))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: already exists",
                          path);
  }
  if (rename(tmp, path) != 0)
    return pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
  return PC_OK;
}

/* The text of a new secret key file, in guarded memory (sodium_free). */
static int seckey_text(const uint8_t *blob, const char *comment, char **text,
                       size_t *len, pc_error *err)
{
  size_t pl = strlen(UNTRUSTED_PREFIX), cl = strlen(comment);
  size_t bl = b64_len(SK_BLOB), n = pl + cl + 1 + bl + 1;
  char *t = sodium_malloc(n + 1);

  *text = NULL;
  if (!t)
    return pc_error_set(err, PC_E_NOMEM, "secret key: out of memory");
  memcpy(t, UNTRUSTED_PREFIX, pl);
  memcpy(t + pl, comment, cl);
  t[pl + cl] = '\n';
  sodium_bin2base64(t + pl + cl + 1, bl + 1, blob, SK_BLOB,
                    sodium_base64_VARIANT_ORIGINAL);
  t[n - 1] = '\n';
  t[n] = '\0';
  *text = t;
  *len = n;
  return PC_OK;
}

int pc_ms_keygen(const char *pub_path, const char *sec_path,
                 const char *password, int force,
                 uint8_t keyid[PC_MS_KEYID_BYTES], pc_error *err)
{
  return pc_ms_keygen_comment(pub_path, sec_path, password, NULL, force,
                              keyid, err);
}

int pc_ms_keygen_comment(const char *pub_path, const char *sec_path,
                         const char *password, const char *comment,
                         int force, uint8_t keyid[PC_MS_KEYID_BYTES],
                         pc_error *err)
{
  uint8_t *blob = NULL;
  char *sec_text = NULL, *sec_tmp = NULL, *pub_tmp = NULL;
  char hex[PC_MS_KEYID_HEX_LEN + 1], b64[PC_MS_PUBKEY_B64_LEN + 1];
  size_t sec_len = 0;
  pc_ms_pubkey pk;
  pc_buf pub;
  int rc, sec_done = 0;

  pc_buf_init(&pub, PUBKEY_FILE_MAX);
  if ((rc = init_sodium(err)))
    goto out;
  if (!pub_path || !sec_path) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "keygen: no %s key path",
                      !pub_path ? "public" : "secret");
    goto out;
  }
  if (!comment || !*comment)
    comment = password ? SK_DEFAULT_COMMENT : SK_PLAIN_COMMENT;
  if ((rc = check_untrusted(comment, "secret key comment", err)))
    goto out;
  if (password && !*password) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: empty password",
                      sec_path);
    goto out;
  }
  if (strcmp(pub_path, sec_path) == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: the public and the "
                      "secret key need two different files", sec_path);
    goto out;
  }
  if (!force && (file_exists(sec_path) || file_exists(pub_path))) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: already exists",
                      file_exists(sec_path) ? sec_path : pub_path);
    goto out;
  }
  if (!(blob = sodium_malloc(SK_BLOB))) {
    rc = pc_error_set(err, PC_E_NOMEM, "secret key: out of memory");
    goto out;
  }
  memset(blob, 0, SK_BLOB);
  memcpy(blob, "Ed", 2);
  memcpy(blob + SK_KDF, password ? "Sc" : "\0\0", 2);
  memcpy(blob + SK_CHKALG, "B2", 2);
  randombytes_buf(blob + SK_KEYNUM, PC_MS_KEYID_BYTES);
  if (crypto_sign_keypair(pk.pk, blob + SK_SK) != 0) {
    rc = pc_error_set(err, PC_E_INTERNAL, "secret key: Ed25519 key "
                      "generation failed");
    goto out;
  }
  memcpy(pk.keyid, blob + SK_KEYNUM, PC_MS_KEYID_BYTES);
  seckey_chk(blob, blob + SK_CHK);
  if (password) {
    randombytes_buf(blob + SK_SALT, 32);
    le64_store(blob + SK_OPS, KDF_OPS);
    le64_store(blob + SK_MEM, KDF_MEM);
    if ((rc = seckey_crypt(blob, password, sec_path, err)))
      goto out;
  }
  if ((rc = seckey_text(blob, comment, &sec_text, &sec_len, err)))
    goto out;
  pc_ms_keyid_hex(pk.keyid, hex);
  pc_ms_pubkey_base64(&pk, b64);
  if (pc_buf_printf(&pub, "%sminisign public key %s\n%s\n", UNTRUSTED_PREFIX,
                    hex, b64)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pub_path);
    goto out;
  }
  if ((rc = stage_file(sec_path, sec_text, sec_len, 0600, &sec_tmp, err)) ||
      (rc = stage_file(pub_path, pub.data, pub.len, 0644, &pub_tmp, err)) ||
      (rc = commit_file(sec_tmp, sec_path, force, err)))
    goto out;
  sec_done = 1;
  if ((rc = commit_file(pub_tmp, pub_path, force, err)))
    goto out;
  if (keyid)
    memcpy(keyid, pk.keyid, PC_MS_KEYID_BYTES);
out:
  if (rc && sec_done && !force)
    unlink(sec_path);  /* we made it a moment ago: leave nothing behind */
  if (sec_tmp)
    unlink(sec_tmp);
  if (pub_tmp)
    unlink(pub_tmp);
  pc_free(sec_tmp);
  pc_free(pub_tmp);
  sodium_free(sec_text);
  sodium_free(blob);
  pc_buf_free(&pub);
  return rc;
}

/* ---- signatures ------------------------------------------------------- */

int pc_ms_sign(const pc_ms_seckey *sk, const void *data, size_t len,
               const char *trusted_comment, const char *untrusted_comment,
               char **text, size_t *text_len, pc_error *err)
{
  uint8_t blob[SIG_BLOB], hash[crypto_generichash_BYTES_MAX];
  uint8_t global[PC_MS_SIG_BYTES];
  char sig64[sizeof(blob) * 2], glob64[sizeof(global) * 2];
  uint8_t *bound = NULL;
  size_t tlen;
  pc_buf b;
  int rc;

  *text = NULL;
  if (text_len)
    *text_len = 0;
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if ((rc = init_sodium(err)))
    goto out;
  if (!sk || (!data && len > 0) || !trusted_comment) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "sign: no %s given",
                      !sk ? "key" : !trusted_comment ? "trusted comment"
                                                      : "data");
    goto out;
  }
  if (!untrusted_comment)
    untrusted_comment = SIG_DEFAULT_COMMENT;
  if ((rc = check_untrusted(untrusted_comment, "untrusted comment", err)))
    goto out;
  tlen = strlen(trusted_comment);
  if (tlen > PC_MS_TRUSTED_MAX) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "trusted comment: longer "
                      "than %d bytes", PC_MS_TRUSTED_MAX);
    goto out;
  }
  if (!printable(trusted_comment, tlen)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "trusted comment: not one "
                      "line of printable UTF-8 text");
    goto out;
  }
  /* The file signature is over BLAKE2b-512 of the data ("ED"). */
  if (crypto_generichash(hash, sizeof(hash), data, len, NULL, 0) != 0) {
    rc = pc_error_set(err, PC_E_INTERNAL, "sign: BLAKE2b failed");
    goto out;
  }
  memcpy(blob, "ED", 2);
  memcpy(blob + 2, sk->keyid, PC_MS_KEYID_BYTES);
  if (crypto_sign_detached(blob + 2 + PC_MS_KEYID_BYTES, NULL, hash,
                           sizeof(hash), sk->sk) != 0) {
    rc = pc_error_set(err, PC_E_INTERNAL, "sign: Ed25519 failed");
    goto out;
  }
  /* The global signature binds the trusted comment to that signature. */
  if (!(bound = pc_malloc(PC_MS_SIG_BYTES + tlen + 1))) {
    rc = pc_error_set(err, PC_E_NOMEM, "sign: out of memory");
    goto out;
  }
  memcpy(bound, blob + 2 + PC_MS_KEYID_BYTES, PC_MS_SIG_BYTES);
  memcpy(bound + PC_MS_SIG_BYTES, trusted_comment, tlen);
  if (crypto_sign_detached(global, NULL, bound, PC_MS_SIG_BYTES + tlen,
                           sk->sk) != 0) {
    rc = pc_error_set(err, PC_E_INTERNAL, "sign: Ed25519 failed");
    goto out;
  }
  sodium_bin2base64(sig64, sizeof(sig64), blob, sizeof(blob),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_bin2base64(glob64, sizeof(glob64), global, sizeof(global),
                    sodium_base64_VARIANT_ORIGINAL);
  if (pc_buf_printf(&b, "%s%s\n%s\n%s%s\n%s\n", UNTRUSTED_PREFIX,
                    untrusted_comment, sig64, TRUSTED_PREFIX,
                    trusted_comment, glob64) ||
      !(*text = pc_buf_take(&b, text_len))) {
    rc = pc_error_set(err, PC_E_NOMEM, "sign: out of memory");
    goto out;
  }
out:
  pc_free(bound);
  pc_buf_free(&b);
  return rc;
}

void pc_ms_sig_clear(pc_ms_sig *sig)
{
  if (!sig)
    return;
  pc_free(sig->untrusted_comment);
  pc_free(sig->trusted_comment);
  memset(sig, 0, sizeof(*sig));
}

int pc_ms_sig_parse(const char *text, size_t len, const char *what,
                    pc_ms_sig *out, pc_error *err)
{
  struct line lines[MAX_LINES];
  uint8_t blob[SIG_BLOB];
  size_t n = 0, ul = strlen(UNTRUSTED_PREFIX), tl = strlen(TRUSTED_PREFIX);
  int rc;

  memset(out, 0, sizeof(*out));
  if (!what)
    what = "signature";
  if ((rc = split_lines(text, len, what, "signature", lines, 4, &n, err)))
    goto fail;
  if (n != 4) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: not a minisign signature: "
                      "expected 4 lines, found %zu", what, n);
    goto fail;
  }
  if ((rc = check_comment_line(&lines[0], 1, UNTRUSTED_PREFIX,
                               UNTRUSTED_LINE_MAX, what, err)) ||
      (rc = decode_line(&lines[1], 2, blob, sizeof(blob), "signature", what,
                        err)) ||
      (rc = check_comment_line(&lines[2], 3, TRUSTED_PREFIX,
                               TRUSTED_LINE_MAX, what, err)) ||
      (rc = decode_line(&lines[3], 4, out->global_sig, PC_MS_SIG_BYTES,
                        "global signature", what, err)))
    goto fail;
  if (memcmp(blob, "ED", 2) == 0) {
    out->prehashed = 1;
  } else if (memcmp(blob, "Ed", 2) == 0) {
    out->prehashed = 0;
  } else {
    rc = pc_error_set(err, PC_E_PARSE, "%s: line 2: unsupported signature "
                      "algorithm (not \"ED\" or \"Ed\")", what);
    goto fail;
  }
  if (!printable(lines[2].p + tl, lines[2].len - tl)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: line 3: the trusted comment "
                      "has unprintable characters", what);
    goto fail;
  }
  memcpy(out->keyid, blob + 2, PC_MS_KEYID_BYTES);
  memcpy(out->sig, blob + 2 + PC_MS_KEYID_BYTES, PC_MS_SIG_BYTES);
  out->untrusted_comment = pc_strndup(lines[0].p + ul, lines[0].len - ul);
  out->trusted_comment = pc_strndup(lines[2].p + tl, lines[2].len - tl);
  if (!out->untrusted_comment || !out->trusted_comment) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto fail;
  }
  return PC_OK;

fail:
  pc_ms_sig_clear(out);
  return rc;
}

int pc_ms_verify(const pc_ms_pubkey *pk, const pc_ms_sig *sig,
                 const void *data, size_t len, enum pc_ms_failure *why,
                 pc_error *err)
{
  uint8_t hash[crypto_generichash_BYTES_MAX], *bound = NULL;
  char want[PC_MS_KEYID_HEX_LEN + 1], got[PC_MS_KEYID_HEX_LEN + 1];
  const char *tc;
  size_t tlen;
  int rc;

  if (why)
    *why = PC_MS_OK;
  if ((rc = init_sodium(err)))
    return rc;
  if (!pk || !sig || (!data && len > 0))
    return pc_error_set(err, PC_E_INVALID_ARG, "verify: no %s given",
                        !pk ? "public key" : !sig ? "signature" : "data");
  tc = sig->trusted_comment ? sig->trusted_comment : "";
  tlen = strlen(tc);
  if (sodium_memcmp(sig->keyid, pk->keyid, PC_MS_KEYID_BYTES) != 0) {
    pc_ms_keyid_hex(sig->keyid, got);
    pc_ms_keyid_hex(pk->keyid, want);
    if (why)
      *why = PC_MS_KEYID_MISMATCH;
    return pc_error_set(err, PC_E_INVALID_ARG, "signature: made with key "
                        "%s, not with the public key %s", got, want);
  }
  if (sig->prehashed) {
    if (crypto_generichash(hash, sizeof(hash), data, len, NULL, 0) != 0)
      return pc_error_set(err, PC_E_INTERNAL, "verify: BLAKE2b failed");
    rc = crypto_sign_verify_detached(sig->sig, hash, sizeof(hash), pk->pk);
  } else {
    rc = crypto_sign_verify_detached(sig->sig, data, len, pk->pk);
  }
  if (rc != 0) {
    if (why)
      *why = PC_MS_BAD_SIGNATURE;
    return pc_error_set(err, PC_E_INVALID_ARG, "signature verification "
                        "failed: the data is not what was signed");
  }
  if (!(bound = pc_malloc(PC_MS_SIG_BYTES + tlen + 1)))
    return pc_error_set(err, PC_E_NOMEM, "verify: out of memory");
  memcpy(bound, sig->sig, PC_MS_SIG_BYTES);
  memcpy(bound + PC_MS_SIG_BYTES, tc, tlen);
  rc = crypto_sign_verify_detached(sig->global_sig, bound,
                                   PC_MS_SIG_BYTES + tlen, pk->pk);
  pc_free(bound);
  if (rc != 0) {
    if (why)
      *why = PC_MS_BAD_COMMENT;
    return pc_error_set(err, PC_E_INVALID_ARG, "comment signature "
                        "verification failed: the trusted comment is not "
                        "what was signed");
  }
  return PC_OK;
}
