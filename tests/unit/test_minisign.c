/* tests/unit/test_minisign.c: artifacts/minisign.c; suite "minisign". */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "minisign.h"

/* The observed run of abi-and-artifacts.md B.1 (minisign 0.11, a
 * throwaway key): its public key, and its signature over MESSAGE. */
#define REF_PUB "untrusted comment: minisign public key 11BB5D00D657B336\n" \
  "RWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK66\n"
#define REF_SIG_LINE2 "RUQ2s1fWAF27EY5ewPl/ZHVxOO2eL9CfxH3G69Eel6qa3raLgvJh" \
  "i2SqpyIdea/PInQkA5WiZ0VLyVRR6/vOqln4SICWNssZ6QI="
#define REF_SIG_LINE4 "oyvErjH7IEgXNgWEHvpoCKlJPi/NFSSi8T+mKP8QLcIDoH8gisNs" \
  "vH2EaGWNxXfglFoZ8fLMQ1a6d6H3Rgn1AA=="
#define REF_COMMENT "name:demo version:1.0.0 sha256:..."
#define REF_SIG "untrusted comment: signature from minisign secret key\n" \
  REF_SIG_LINE2 "\ntrusted comment: " REF_COMMENT "\n" REF_SIG_LINE4 "\n"
#define MESSAGE "hello prompt program\n"

/* ---- helpers ---------------------------------------------------------- */

static char tmp_dir[256];

/* A fresh private directory for one test's files. */
static const char *dir_new(void)
{
  const char *t = getenv("TMPDIR");

  snprintf(tmp_dir, sizeof(tmp_dir), "%s/pcms-XXXXXX",
           (t && *t) ? t : "/tmp");
  return mkdtemp(tmp_dir);
}

/* Remove the directory and the files in it. */
static void dir_remove(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];

  if (!d)
    return;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static const char *in_dir(const char *dir, const char *name)
{
  static char path[4][512];
  static int next;
  char *p = path[next++ % 4];

  snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
  return p;
}

static int write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(data, 1, len, f) == len;

  if (f && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

static pc_ms_pubkey ref_pubkey(void)
{
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;

  memset(&pk, 0, sizeof(pk));
  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(REF_PUB, strlen(REF_PUB), "ref.pub",
                                     &pk, &err), PC_OK);
  return pk;
}

/* Verify `sig_text` over `data` with `pk`; the failure kind, or -1 when
 * the text does not parse. */
static int verify_text(const pc_ms_pubkey *pk, const char *sig_text,
                       const char *data, size_t len)
{
  pc_ms_sig sig;
  pc_error err = PC_ERROR_INIT;
  enum pc_ms_failure why = PC_MS_OK;
  int rc;

  if (pc_ms_sig_parse(sig_text, strlen(sig_text), "test.minisig", &sig,
                      &err))
    return -1;
  rc = pc_ms_verify(pk, &sig, data, len, &why, &err);
  pc_ms_sig_clear(&sig);
  if (rc == PC_OK)
    CU_ASSERT_EQUAL(why, PC_MS_OK);
  return rc == PC_OK ? PC_MS_OK : (int)why;
}

/* Make an unencrypted key pair in `dir` and load its secret key. */
static pc_ms_seckey *plain_key(const char *dir, pc_ms_pubkey *pk)
{
  pc_ms_seckey *sk = NULL;
  pc_error err = PC_ERROR_INIT;

  if (pc_ms_keygen(in_dir(dir, "k.pub"), in_dir(dir, "k.sec"), NULL, 0,
                   NULL, &err) ||
      pc_ms_seckey_load(in_dir(dir, "k.sec"), NULL, &sk, &err)) {
    fprintf(stderr, "  plain_key: %s\n", err.message);
    return NULL;
  }
  if (pk)
    pc_ms_seckey_public(sk, pk);
  return sk;
}

/* Base64 of `n` bytes into `out` (owned by the caller, pc_free). */
static char *b64(const void *bin, size_t n)
{
  size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  char *out = pc_malloc(len);

  if (out)
    sodium_bin2base64(out, len, bin, n, sodium_base64_VARIANT_ORIGINAL);
  return out;
}

/* Is the real minisign on PATH? Says so once when it is not. */
static int have_minisign(void)
{
  static int known = -1;
  const char *path = getenv("PATH");
  char dir[1024], exe[1100];

  if (known >= 0)
    return known;
  known = 0;
  while (path && *path && !known) {
    size_t n = strcspn(path, ":");

    snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
    snprintf(exe, sizeof(exe), "%s/minisign", n ? dir : ".");
    if (access(exe, X_OK) == 0)
      known = 1;
    path += n + (path[n] == ':');
  }
  if (!known)
    printf("\nminisign not installed: interop cases skipped\n");
  return known;
}

/* Run minisign with `argv` (argv[0] = "minisign"), stdin and stderr on
 * /dev/null and stdout on `out_path` (NULL: /dev/null). Its exit status,
 * or -1 when it could not run. (fork and exec: <spawn.h> would pull in
 * core/sched.h through the include path.) */
static int run_minisign(char *const argv[], const char *out_path)
{
  pid_t pid;
  int status = -1;

  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path ? out_path : "/dev/null",
                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int errfd = open("/dev/null", O_WRONLY);

    if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 ||
        dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
      _exit(126);
    execvp("minisign", argv);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- known answers ---------------------------------------------------- */

static void test_reference_signature_verifies(void)
{
  pc_ms_pubkey pk = ref_pubkey();
  pc_ms_sig sig;
  pc_error err = PC_ERROR_INIT;
  enum pc_ms_failure why = PC_MS_BAD_SIGNATURE;
  char hex[PC_MS_KEYID_HEX_LEN + 1];

  pc_ms_keyid_hex(pk.keyid, hex);
  PC_ASSERT_STR_EQ(hex, "11BB5D00D657B336");
  CU_ASSERT_EQUAL_FATAL(pc_ms_sig_parse(REF_SIG, strlen(REF_SIG),
                                        "prog.tar.minisig", &sig, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(sig.prehashed, 1);
  CU_ASSERT_EQUAL(memcmp(sig.keyid, pk.keyid, PC_MS_KEYID_BYTES), 0);
  PC_ASSERT_STR_EQ(sig.untrusted_comment,
                   "signature from minisign secret key");
  PC_ASSERT_STR_EQ(sig.trusted_comment, REF_COMMENT);
  CU_ASSERT_EQUAL(pc_ms_verify(&pk, &sig, MESSAGE, strlen(MESSAGE), &why,
                               &err), PC_OK);
  CU_ASSERT_EQUAL(why, PC_MS_OK);
  pc_ms_sig_clear(&sig);
  CU_ASSERT_PTR_NULL(sig.trusted_comment);
}

static void test_reference_tampered_comment_fails_comment_check(void)
{
  pc_ms_pubkey pk = ref_pubkey();
  const char *bad = "untrusted comment: signature from minisign secret key\n"
    REF_SIG_LINE2 "\ntrusted comment: name:demo version:9.9.9 sha256:...\n"
    REF_SIG_LINE4 "\n";

  CU_ASSERT_EQUAL(verify_text(&pk, bad, MESSAGE, strlen(MESSAGE)),
                  PC_MS_BAD_COMMENT);
}

static void test_reference_appended_byte_fails_signature_check(void)
{
  pc_ms_pubkey pk = ref_pubkey();
  const char *longer = MESSAGE "x\n";

  CU_ASSERT_EQUAL(verify_text(&pk, REF_SIG, longer, strlen(longer)),
                  PC_MS_BAD_SIGNATURE);
  CU_ASSERT_EQUAL(verify_text(&pk, REF_SIG, MESSAGE, strlen(MESSAGE) - 1),
                  PC_MS_BAD_SIGNATURE);
}

static void test_signature_from_another_key_is_a_keyid_mismatch(void)
{
  pc_ms_pubkey pk = ref_pubkey();
  pc_ms_sig sig;
  pc_error err = PC_ERROR_INIT;
  enum pc_ms_failure why = PC_MS_OK;

  pk.keyid[0] ^= 1;
  CU_ASSERT_EQUAL_FATAL(pc_ms_sig_parse(REF_SIG, strlen(REF_SIG), "s",
                                        &sig, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ms_verify(&pk, &sig, MESSAGE, strlen(MESSAGE), &why,
                               &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(why, PC_MS_KEYID_MISMATCH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "11BB5D00D657B336"));
  pc_ms_sig_clear(&sig);
}

static void test_public_key_bare_line_and_crlf_parse_alike(void)
{
  pc_ms_pubkey a = ref_pubkey(), b, c;
  pc_error err = PC_ERROR_INIT;
  const char *bare =
    "RWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK66";
  const char *crlf = "untrusted comment: minisign public key 11BB5D00D657B336"
    "\r\nRWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK66\r\n";
  char line[PC_MS_PUBKEY_B64_LEN + 1];

  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(bare, strlen(bare), "-P", &b, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(crlf, strlen(crlf), "crlf", &c, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
  CU_ASSERT_EQUAL(memcmp(&a, &c, sizeof(a)), 0);
  pc_ms_pubkey_base64(&a, line);
  PC_ASSERT_STR_EQ(line, bare);
}

static void test_keyid_hex_is_the_bytes_reversed(void)
{
  const uint8_t id[PC_MS_KEYID_BYTES] = {0x36, 0xb3, 0x57, 0xd6,
                                         0x00, 0x5d, 0xbb, 0x11};
  uint8_t back[PC_MS_KEYID_BYTES];
  char hex[PC_MS_KEYID_HEX_LEN + 1];
  pc_error err = PC_ERROR_INIT;

  pc_ms_keyid_hex(id, hex);
  PC_ASSERT_STR_EQ(hex, "11BB5D00D657B336");
  CU_ASSERT_EQUAL(pc_ms_keyid_parse("11bb5d00d657b336", back, &err), PC_OK);
  CU_ASSERT_EQUAL(memcmp(back, id, sizeof(id)), 0);
  CU_ASSERT_EQUAL(pc_ms_keyid_parse("11BB5D00D657B33", back, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_ms_keyid_parse("11BB5D00D657B33G", back, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "11BB5D00D657B33"));
}

/* ---- keys ------------------------------------------------------------- */

static void test_keygen_writes_files_that_reload(void)
{
  const char *dir = dir_new();
  uint8_t id[PC_MS_KEYID_BYTES];
  pc_ms_pubkey pk, from_sk;
  pc_ms_seckey *sk = NULL;
  pc_error err = PC_ERROR_INIT;
  struct stat st;
  char hex[PC_MS_KEYID_HEX_LEN + 1], *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, id,
                                     &err), PC_OK);
  CU_ASSERT_EQUAL(stat(in_dir(dir, "k.sec"), &st), 0);
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "k.pub"), &pk, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(memcmp(pk.keyid, id, sizeof(id)), 0);
  /* The public key file names its id in its comment, as minisign's. */
  text = pc_test_read_file(in_dir(dir, "k.pub"), NULL);
  pc_ms_keyid_hex(id, hex);
  CU_ASSERT_PTR_NOT_NULL(text && strstr(text, hex));
  CU_ASSERT(text && strncmp(text, "untrusted comment: minisign public key ",
                            39) == 0);
  pc_free(text);
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "k.sec"), &err), 0);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), NULL, &sk, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  pc_ms_seckey_public(sk, &from_sk);
  CU_ASSERT_EQUAL(memcmp(&pk, &from_sk, sizeof(pk)), 0);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

static void test_keygen_refuses_existing_files_unless_forced(void)
{
  const char *dir = dir_new();
  uint8_t id1[PC_MS_KEYID_BYTES], id2[PC_MS_KEYID_BYTES];
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;
  char *before, *after;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, id1,
                                     &err), PC_OK);
  before = pc_test_read_file(in_dir(dir, "k.sec"), NULL);
  CU_ASSERT_EQUAL(pc_ms_keygen(in_dir(dir, "k.pub"), in_dir(dir, "k.sec"),
                               NULL, 0, id2, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already exists"));
  after = pc_test_read_file(in_dir(dir, "k.sec"), NULL);
  CU_ASSERT(before && after && strcmp(before, after) == 0);
  pc_free(after);
  /* Only the public key exists: still refused, no secret key left. */
  unlink(in_dir(dir, "k.sec"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_ms_keygen(in_dir(dir, "k.pub"), in_dir(dir, "k.sec"),
                               NULL, 0, id2, &err), PC_E_INVALID_ARG);
  CU_ASSERT_NOT_EQUAL(access(in_dir(dir, "k.sec"), F_OK), 0);
  /* --force replaces both with a new pair. */
  CU_ASSERT_EQUAL(pc_ms_keygen(in_dir(dir, "k.pub"), in_dir(dir, "k.sec"),
                               NULL, 1, id2, &err), PC_OK);
  CU_ASSERT_NOT_EQUAL(memcmp(id1, id2, sizeof(id1)), 0);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "k.pub"), &pk, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(memcmp(pk.keyid, id2, sizeof(id2)), 0);
  pc_free(before);
  dir_remove(dir);
}

static void test_keygen_comment_goes_into_the_secret_key_file(void)
{
  const char *dir = dir_new();
  pc_error err = PC_ERROR_INIT;
  char *text, big[PC_MS_UNTRUSTED_MAX + 2];

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL(pc_ms_keygen_comment(in_dir(dir, "k.pub"),
                                       in_dir(dir, "k.sec"), NULL,
                                       "ci release key", 0, NULL, &err),
                  PC_OK);
  text = pc_test_read_file(in_dir(dir, "k.sec"), NULL);
  CU_ASSERT(text && strncmp(text, "untrusted comment: ci release key\n",
                            34) == 0);
  pc_free(text);
  memset(big, 'c', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  CU_ASSERT_EQUAL(pc_ms_keygen_comment(in_dir(dir, "b.pub"),
                                       in_dir(dir, "b.sec"), NULL, big, 0,
                                       NULL, &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_ms_keygen_comment(in_dir(dir, "b.pub"),
                                       in_dir(dir, "b.sec"), NULL, "a\nb",
                                       0, NULL, NULL), PC_E_INVALID_ARG);
  CU_ASSERT_NOT_EQUAL(access(in_dir(dir, "b.sec"), F_OK), 0);
  dir_remove(dir);
}

static void test_encrypted_key_needs_the_right_password(void)
{
  const char *dir;
  uint8_t id[PC_MS_KEYID_BYTES], blob[158];
  pc_ms_pubkey pk, from_sk;
  pc_ms_seckey *sk = NULL;
  pc_error err = PC_ERROR_INIT;
  char *text, *nl;
  size_t got = 0;

  /* The one case at minisign's full scrypt limits: a keygen and a load,
   * each ~2 s and 1 GiB natively (~15 s in all under memcheck). */
  dir = dir_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "e.pub"),
                                     in_dir(dir, "e.sec"),
                                     "correct horse", 0, id, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "e.sec"), &err), 1);
  /* The file records scrypt ("Sc") at minisign's limits, little-endian. */
  text = pc_test_read_file(in_dir(dir, "e.sec"), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  nl = strchr(text, '\n');
  CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
  CU_ASSERT_EQUAL(sodium_base642bin(blob, sizeof(blob), nl + 1,
                                    strcspn(nl + 1, "\n"), NULL, &got, NULL,
                                    sodium_base64_VARIANT_ORIGINAL), 0);
  CU_ASSERT_EQUAL(got, 158);
  CU_ASSERT_EQUAL(memcmp(blob, "EdScB2", 6), 0);
  CU_ASSERT_EQUAL(memcmp(blob + 38, "\x00\x00\x00\x02\x00\x00\x00\x00", 8),
                  0);  /* opslimit 33554432 */
  CU_ASSERT_EQUAL(memcmp(blob + 46, "\x00\x00\x00\x40\x00\x00\x00\x00", 8),
                  0);  /* memlimit 1 GiB */
  /* The key id is encrypted with the key. */
  CU_ASSERT_NOT_EQUAL(memcmp(blob + 54, id, sizeof(id)), 0);
  pc_free(text);

  /* The wrong password is checked on a cheaper key below. */
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "e.sec"), "correct horse",
                                    &sk, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "e.pub"), &pk, &err),
                  PC_OK);
  pc_ms_seckey_public(sk, &from_sk);
  CU_ASSERT_EQUAL(memcmp(&pk, &from_sk, sizeof(pk)), 0);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

/* Encrypt the unencrypted key file `path` with `pw` at the scrypt
 * limits given, as minisign would have with those limits. */
static int encrypt_key_file(const char *path, const char *pw, uint64_t ops,
                            uint64_t mem)
{
  uint8_t blob[158], stream[104];
  size_t len = 0, got = 0;
  char *text = pc_test_read_file(path, &len), *line, *enc;
  int rc = -1;

  if (!text || !(line = strchr(text, '\n')))
    goto out;
  line++;
  if (sodium_base642bin(blob, sizeof(blob), line, strcspn(line, "\n"),
                        NULL, &got, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 || got != 158)
    goto out;
  memcpy(blob + 2, "Sc", 2);
  randombytes_buf(blob + 6, 32);
  for (int i = 0; i < 8; i++) {
    blob[38 + i] = (uint8_t)(ops >> (8 * i));
    blob[46 + i] = (uint8_t)(mem >> (8 * i));
  }
  if (ops <= 1u << 24 && mem <= 1u << 26) {
    if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(stream), pw,
                                           strlen(pw), blob + 6, ops,
                                           (size_t)mem) != 0)
      goto out;
    for (size_t i = 0; i < sizeof(stream); i++)
      blob[54 + i] ^= stream[i];
  }
  if (!(enc = b64(blob, sizeof(blob))))
    goto out;
  memcpy(line, enc, strlen(enc));
  pc_free(enc);
  rc = write_file(path, text, len);
out:
  pc_free(text);
  return rc;
}

static void test_encrypted_key_uses_the_limits_it_records(void)
{
  const char *dir = dir_new();
  pc_ms_pubkey pk, from_sk;
  pc_ms_seckey *sk = (pc_ms_seckey *)&sk;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, NULL,
                                     &err), PC_OK);
  /* Small limits: 8 MiB, so the case is quick even under valgrind. */
  CU_ASSERT_EQUAL_FATAL(encrypt_key_file(in_dir(dir, "k.sec"), "pw", 32768,
                                         8u << 20), 0);
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "k.sec"), &err), 1);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), "wrong", &sk,
                                    &err), PC_E_AUTH);
  CU_ASSERT_PTR_NULL(sk);
  {
    char want[600];

    snprintf(want, sizeof(want), "wrong password for %s",
             in_dir(dir, "k.sec"));
    PC_ASSERT_STR_EQ(err.message, want);
  }
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), NULL, &sk, &err),
                  PC_E_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "a password is needed"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), "pw", &sk, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "k.pub"), &pk, &err),
                  PC_OK);
  pc_ms_seckey_public(sk, &from_sk);
  CU_ASSERT_EQUAL(memcmp(&pk, &from_sk, sizeof(pk)), 0);
  pc_ms_seckey_free(sk);
  /* A file asking for a terabyte of memory is refused, not tried. */
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "h.pub"),
                                     in_dir(dir, "h.sec"), NULL, 0, NULL,
                                     &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(encrypt_key_file(in_dir(dir, "h.sec"), "pw",
                                         33554432, (uint64_t)1 << 40), 0);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "h.sec"), "pw", &sk, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "scrypt limits out of range"));
  dir_remove(dir);
}

static void test_damaged_unencrypted_key_is_refused(void)
{
  const char *dir = dir_new();
  pc_ms_seckey *sk = (pc_ms_seckey *)&sk;
  pc_error err = PC_ERROR_INIT;
  char *text;
  size_t len = 0, pos;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, NULL,
                                     &err), PC_OK);
  text = pc_test_read_file(in_dir(dir, "k.sec"), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  /* A character in the middle of the secret key (not the padding). */
  pos = (size_t)(strchr(text, '\n') - text) + 120;
  text[pos] = text[pos] == 'A' ? 'B' : 'A';
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "k.sec"), text, len), 0);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), NULL, &sk, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NULL(sk);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "checksum"));
  pc_free(text);
  dir_remove(dir);
}

/* minisign -W writes an unencrypted key with an all-zero check. */
static void test_unencrypted_key_without_check_loads(void)
{
  const char *dir = dir_new();
  pc_ms_seckey *sk = NULL;
  pc_ms_pubkey pk, from_sk;
  pc_error err = PC_ERROR_INIT;
  uint8_t blob[158];
  size_t len = 0, got = 0;
  char *text, *line, *enc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, NULL,
                                     &err), PC_OK);
  text = pc_test_read_file(in_dir(dir, "k.sec"), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  line = strchr(text, '\n') + 1;
  CU_ASSERT_EQUAL(sodium_base642bin(blob, sizeof(blob), line,
                                    strcspn(line, "\n"), NULL, &got, NULL,
                                    sodium_base64_VARIANT_ORIGINAL), 0);
  memset(blob + 126, 0, 32);
  enc = b64(blob, sizeof(blob));
  memcpy(line, enc, strlen(enc));
  pc_free(enc);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "k.sec"), text, len), 0);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "k.sec"), NULL, &sk, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "k.pub"), &pk, &err),
                  PC_OK);
  pc_ms_seckey_public(sk, &from_sk);
  CU_ASSERT_EQUAL(memcmp(&pk, &from_sk, sizeof(pk)), 0);
  pc_ms_seckey_free(sk);
  pc_free(text);
  dir_remove(dir);
}

static void test_secret_key_files_are_checked(void)
{
  const char *dir = dir_new();
  pc_ms_seckey *sk = NULL;
  pc_error err = PC_ERROR_INIT;
  char *text;
  size_t len = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "none.sec"), NULL, &sk,
                                    &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "none.sec"));
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "none.sec"), NULL), -1);
  /* A public key is not a secret key. */
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "p.sec"), REF_PUB,
                             strlen(REF_PUB)), 0);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_ms_seckey_load(in_dir(dir, "p.sec"), NULL, &sk, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "line 2"));
  /* Another KDF than scrypt or none. */
  CU_ASSERT_EQUAL_FATAL(pc_ms_keygen(in_dir(dir, "k.pub"),
                                     in_dir(dir, "k.sec"), NULL, 0, NULL,
                                     &err), PC_OK);
  text = pc_test_read_file(in_dir(dir, "k.sec"), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  {
    char *line = strchr(text, '\n') + 1;
    uint8_t blob[158];
    size_t got = 0;
    char *enc;

    CU_ASSERT_EQUAL(sodium_base642bin(blob, sizeof(blob), line,
                                      strcspn(line, "\n"), NULL, &got, NULL,
                                      sodium_base64_VARIANT_ORIGINAL), 0);
    memcpy(blob + 2, "Ar", 2);
    enc = b64(blob, sizeof(blob));
    memcpy(line, enc, strlen(enc));
    pc_free(enc);
  }
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "k.sec"), text, len), 0);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "k.sec"), &err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "key derivation"));
  pc_free(text);
  dir_remove(dir);
}

/* ---- signing ---------------------------------------------------------- */

static void test_sign_then_verify_round_trip(void)
{
  const char *dir = dir_new();
  const char *data = "any bytes\0 with a NUL";
  size_t len = 21;
  pc_ms_pubkey pk;
  pc_ms_seckey *sk;
  pc_ms_sig sig;
  pc_error err = PC_ERROR_INIT;
  char *text = NULL;
  size_t tlen = 0;
  enum pc_ms_failure why = PC_MS_BAD_COMMENT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  sk = plain_key(dir, &pk);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL_FATAL(pc_ms_sign(sk, data, len, "pp-artifact:1 name=x",
                                   NULL, &text, &tlen, &err), PC_OK);
  CU_ASSERT_EQUAL(tlen, strlen(text));
  /* "RU": base64 of "ED" and the start of the key id. */
  CU_ASSERT(strncmp(text, "untrusted comment: signature from minisign "
                    "secret key\nRU", 56) == 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\ntrusted comment: pp-artifact:1 "
                                "name=x\n"));
  CU_ASSERT_EQUAL(text[tlen - 1], '\n');
  CU_ASSERT_EQUAL(pc_ms_sig_parse(text, tlen, "x.minisig", &sig, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(sig.prehashed, 1);
  CU_ASSERT_EQUAL(pc_ms_verify(&pk, &sig, data, len, &why, &err), PC_OK);
  CU_ASSERT_EQUAL(why, PC_MS_OK);
  CU_ASSERT_EQUAL(pc_ms_verify(&pk, &sig, data, len - 1, &why, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(why, PC_MS_BAD_SIGNATURE);
  pc_ms_sig_clear(&sig);
  pc_free(text);
  /* An untrusted comment of our own, and empty data. */
  CU_ASSERT_EQUAL(pc_ms_sign(sk, NULL, 0, "", "made by a test", &text,
                             &tlen, &err), PC_OK);
  CU_ASSERT(text && strncmp(text, "untrusted comment: made by a test\n",
                            34) == 0);
  CU_ASSERT_EQUAL(verify_text(&pk, text, "", 0), PC_MS_OK);
  pc_free(text);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

static void test_signing_is_deterministic(void)
{
  const char *dir = dir_new();
  pc_ms_seckey *sk;
  pc_error err = PC_ERROR_INIT;
  char *a = NULL, *b = NULL, *c = NULL;
  size_t la = 0, lb = 0, lc = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  sk = plain_key(dir, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, MESSAGE, strlen(MESSAGE), "c", NULL, &a,
                             &la, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, MESSAGE, strlen(MESSAGE), "c", NULL, &b,
                             &lb, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, MESSAGE, strlen(MESSAGE), "d", NULL, &c,
                             &lc, &err), PC_OK);
  CU_ASSERT(a && b && la == lb && memcmp(a, b, la) == 0);
  /* Only the global signature changes with the trusted comment. */
  CU_ASSERT(a && c && strncmp(a, c, strchr(strchr(a, '\n') + 1, '\n') - a)
            == 0);
  CU_ASSERT(a && c && strcmp(a, c) != 0);
  pc_free(a);
  pc_free(b);
  pc_free(c);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

static void test_sign_refuses_comments_minisign_cannot_read(void)
{
  const char *dir = dir_new();
  pc_ms_pubkey pk;
  pc_ms_seckey *sk;
  pc_error err = PC_ERROR_INIT;
  char *text = (char *)&text, *big;
  size_t len = 1;

  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  sk = plain_key(dir, &pk);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  big = pc_malloc(PC_MS_TRUSTED_MAX + 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  memset(big, 't', PC_MS_TRUSTED_MAX + 1);
  big[PC_MS_TRUSTED_MAX + 1] = '\0';
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, big, NULL, &text, &len, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(text);
  CU_ASSERT_EQUAL(len, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "trusted comment"));
  /* The longest one minisign reads back is fine. */
  big[PC_MS_TRUSTED_MAX] = '\0';
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, big, NULL, &text, &len, NULL),
                  PC_OK);
  CU_ASSERT_EQUAL(verify_text(&pk, text, "x", 1), PC_MS_OK);
  pc_free(text);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "two\nlines", NULL, &text, &len,
                             NULL), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "bell\a", NULL, &text, &len,
                             NULL), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "bad \xff utf-8", NULL, &text,
                             &len, NULL), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "tab\tand caf\xc3\xa9", NULL,
                             &text, &len, NULL), PC_OK);
  pc_free(text);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "ok", "cr\r", &text, &len, NULL),
                  PC_E_INVALID_ARG);
  memset(big, 'u', PC_MS_UNTRUSTED_MAX + 1);
  big[PC_MS_UNTRUSTED_MAX + 1] = '\0';
  CU_ASSERT_EQUAL(pc_ms_sign(sk, "x", 1, "ok", big, &text, &len, NULL),
                  PC_E_INVALID_ARG);
  pc_free(big);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

/* A legacy ("Ed") signature built here from libsodium directly: Ed25519
 * over the raw bytes, then the global signature as for "ED". */
static void test_legacy_signature_verifies(void)
{
  unsigned char pkraw[32], skraw[64], blob[74], glob[64], pkblob[42];
  unsigned char bound[64 + 6];
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;
  pc_buf text, pub;
  char *s1, *s2, *s3;

  CU_ASSERT_FATAL(sodium_init() >= 0);
  crypto_sign_keypair(pkraw, skraw);
  memcpy(pkblob, "Ed", 2);
  memcpy(pkblob + 2, "\1\2\3\4\5\6\7\x08", 8);
  memcpy(pkblob + 10, pkraw, 32);
  memcpy(blob, "Ed", 2);
  memcpy(blob + 2, "\1\2\3\4\5\6\7\x08", 8);
  crypto_sign_detached(blob + 10, NULL, (const unsigned char *)MESSAGE,
                       strlen(MESSAGE), skraw);
  memcpy(bound, blob + 10, 64);
  memcpy(bound + 64, "legacy", 6);
  crypto_sign_detached(glob, NULL, bound, sizeof(bound), skraw);
  s1 = b64(pkblob, sizeof(pkblob));
  s2 = b64(blob, sizeof(blob));
  s3 = b64(glob, sizeof(glob));
  pc_buf_init(&pub, 0);
  pc_buf_init(&text, 0);
  CU_ASSERT_EQUAL(pc_buf_printf(&pub, "untrusted comment: k\n%s\n", s1), 0);
  CU_ASSERT_EQUAL(pc_buf_printf(&text, "untrusted comment: legacy\n%s\n"
                                "trusted comment: legacy\n%s\n", s2, s3),
                  0);
  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(pub.data, pub.len, "k", &pk, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(verify_text(&pk, text.data, MESSAGE, strlen(MESSAGE)),
                  PC_MS_OK);
  CU_ASSERT_EQUAL(verify_text(&pk, text.data, "hello", 5),
                  PC_MS_BAD_SIGNATURE);
  {
    pc_ms_sig sig;

    CU_ASSERT_EQUAL(pc_ms_sig_parse(text.data, text.len, "l", &sig, &err),
                    PC_OK);
    CU_ASSERT_EQUAL(sig.prehashed, 0);
    pc_ms_sig_clear(&sig);
  }
  pc_free(s1);
  pc_free(s2);
  pc_free(s3);
  pc_buf_free(&pub);
  pc_buf_free(&text);
  sodium_memzero(skraw, sizeof(skraw));
}

/* ---- malformed input -------------------------------------------------- */

/* Parse `text` as a signature: PC_E_PARSE with `want` in the message. */
static void sig_refused(const char *text, size_t len, const char *want)
{
  pc_ms_sig sig;
  pc_error err = PC_ERROR_INIT;

  memset(&sig, 0x5a, sizeof(sig));
  CU_ASSERT_EQUAL(pc_ms_sig_parse(text, len, "bad.minisig", &sig, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NULL(sig.trusted_comment);
  CU_ASSERT_PTR_NULL(sig.untrusted_comment);
  if (!strstr(err.message, want) || !strstr(err.message, "bad.minisig"))
    fprintf(stderr, "\n  wanted '%s' in: %s\n", want, err.message);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad.minisig"));
  pc_ms_sig_clear(&sig);
}

static void test_malformed_signatures_are_refused_with_the_line(void)
{
  const char *uc = "untrusted comment: signature from minisign secret key\n";
  const char *tc = "trusted comment: " REF_COMMENT "\n";
  char *alg, *s;
  pc_buf b;
  uint8_t blob[74];
  size_t got = 0;

  pc_buf_init(&b, 0);
  /* Line counts. */
  pc_buf_printf(&b, "%s%s\n%s", uc, REF_SIG_LINE2, tc);
  sig_refused(b.data, b.len, "expected 4 lines, found 3");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s\nextra\n", REF_SIG);
  sig_refused(b.data, b.len, "line 5: unexpected text");
  pc_buf_reset(&b);
  sig_refused("", 0, "found 0");
  /* Prefixes. */
  pc_buf_printf(&b, "comment: x\n%s\n%s%s\n", REF_SIG_LINE2, tc,
                REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 1: expected \"untrusted comment: ");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\n%s\n%s\n", uc, REF_SIG_LINE2, REF_COMMENT,
                REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 3: expected \"trusted comment: ");
  /* Base64: a bad character, a wrong length, bits past the end. */
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\n%s%s\n", uc, REF_SIG_LINE2, tc, REF_SIG_LINE4);
  b.data[strlen(uc) + 10] = '!';
  sig_refused(b.data, b.len, "line 2: signature: invalid base64");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%sAAAA\n%s%s\n", uc, REF_SIG_LINE2, tc,
                REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 2: not a minisign signature: expected "
              "100 base64 characters, found 104");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\n%s%.85sB==\n", uc, REF_SIG_LINE2, tc,
                REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 4: global signature: invalid base64");
  /* The algorithm bytes. */
  CU_ASSERT_EQUAL(sodium_base642bin(blob, sizeof(blob), REF_SIG_LINE2,
                                    strlen(REF_SIG_LINE2), NULL, &got, NULL,
                                    sodium_base64_VARIANT_ORIGINAL), 0);
  memcpy(blob, "EX", 2);
  alg = b64(blob, sizeof(blob));
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\n%s%s\n", uc, alg, tc, REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 2: unsupported signature algorithm");
  pc_free(alg);
  /* Comments longer than minisign reads. */
  s = pc_malloc(8200);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  memset(s, 'x', 8199);
  s[8199] = '\0';
  pc_buf_reset(&b);
  pc_buf_printf(&b, "untrusted comment: %.1004s\n%s\n%s%s\n", s,
                REF_SIG_LINE2, tc, REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 1: comment too long");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\ntrusted comment: %.8174s\n%s\n", uc,
                REF_SIG_LINE2, s, REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 3: comment too long");
  pc_free(s);
  /* Unprintable trusted comment, stray CR, NUL. */
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\ntrusted comment: a\033[2Jb\n%s\n", uc,
                REF_SIG_LINE2, REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 3: the trusted comment has "
              "unprintable");
  pc_buf_reset(&b);
  pc_buf_printf(&b, "%s%s\ntrusted comment: a\rb\n%s\n", uc, REF_SIG_LINE2,
                REF_SIG_LINE4);
  sig_refused(b.data, b.len, "line 3: stray carriage return");
  sig_refused(REF_SIG, strlen(REF_SIG) + 1, "NUL byte");
  pc_buf_free(&b);
}

static void test_crlf_signature_and_missing_final_newline_parse(void)
{
  pc_ms_pubkey pk = ref_pubkey();
  const char *crlf = "untrusted comment: signature from minisign secret "
    "key\r\n" REF_SIG_LINE2 "\r\ntrusted comment: " REF_COMMENT "\r\n"
    REF_SIG_LINE4 "\r\n";
  char *bare = pc_strndup(REF_SIG, strlen(REF_SIG) - 1);

  CU_ASSERT_EQUAL(verify_text(&pk, crlf, MESSAGE, strlen(MESSAGE)),
                  PC_MS_OK);
  CU_ASSERT_EQUAL(verify_text(&pk, bare, MESSAGE, strlen(MESSAGE)),
                  PC_MS_OK);
  pc_free(bare);
}

/* Parse `text` as a public key: PC_E_PARSE with `want` in the message. */
static void pub_refused(const char *text, const char *want)
{
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(text, strlen(text), "bad.pub", &pk,
                                     &err), PC_E_PARSE);
  if (!strstr(err.message, want))
    fprintf(stderr, "\n  wanted '%s' in: %s\n", want, err.message);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
}

static void test_malformed_public_keys_are_refused(void)
{
  pub_refused("", "empty");
  pub_refused("untrusted comment: x\n", "line 2: missing");
  pub_refused(REF_PUB "more\n", "line 3: unexpected text");
  pub_refused("untrusted comment: x\nRWQ2s1fWAF27\n",
              "line 2: not a minisign public key: expected 56");
  pub_refused("RWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK6!",
              "line 1: public key: invalid base64");
  /* "Ed" is the only algorithm: the same bytes after "RD". */
  pub_refused("untrusted comment: x\n"
              "RUQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK66\n",
              "line 2: unsupported signature algorithm");
  pub_refused("key: x\nRWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+"
              "sK66\n", "line 1: expected \"untrusted comment: ");
}

static void test_missing_public_key_file_names_the_path(void)
{
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_ms_pubkey_load("no/such/key.pub", &pk, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such/key.pub"));
}

/* ---- interop with the real minisign ----------------------------------- */

static void test_minisign_verifies_our_signature(void)
{
  const char *dir;
  pc_ms_seckey *sk;
  pc_error err = PC_ERROR_INIT;
  char *text = NULL, *shown;
  size_t len = 0;

  if (!have_minisign())
    return;
  dir = dir_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  sk = plain_key(dir, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "prog.tar"), MESSAGE,
                             strlen(MESSAGE)), 0);
  CU_ASSERT_EQUAL_FATAL(pc_ms_sign(sk, MESSAGE, strlen(MESSAGE),
                                   "name:demo\tversion:1.0.0", NULL, &text,
                                   &len, &err), PC_OK);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "prog.tar.minisig"), text, len),
                  0);
  {
    char *argv[] = {"minisign", "-V", "-H", "-Q", "-p",
                    (char *)in_dir(dir, "k.pub"), "-m",
                    (char *)in_dir(dir, "prog.tar"), NULL};

    CU_ASSERT_EQUAL(run_minisign(argv, in_dir(dir, "out")), 0);
  }
  shown = pc_test_read_file(in_dir(dir, "out"), NULL);
  PC_ASSERT_STR_EQ(shown, "name:demo\tversion:1.0.0\n");
  pc_free(shown);
  /* And it refuses the same signature over other bytes. */
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "prog.tar"), "other\n", 6), 0);
  {
    char *argv[] = {"minisign", "-V", "-p", (char *)in_dir(dir, "k.pub"),
                    "-m", (char *)in_dir(dir, "prog.tar"), NULL};

    CU_ASSERT_EQUAL(run_minisign(argv, NULL), 1);
  }
  pc_free(text);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

static void test_we_verify_minisign_signatures_with_our_key(void)
{
  const char *dir;
  pc_ms_pubkey pk;
  pc_ms_seckey *sk;
  char *text;

  if (!have_minisign())
    return;
  dir = dir_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  sk = plain_key(dir, &pk);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
  pc_ms_seckey_free(sk);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "prog.tar"), MESSAGE,
                             strlen(MESSAGE)), 0);
  {
    char *argv[] = {"minisign", "-S", "-s", (char *)in_dir(dir, "k.sec"),
                    "-m", (char *)in_dir(dir, "prog.tar"), "-t",
                    "signed by minisign", NULL};

    CU_ASSERT_EQUAL(run_minisign(argv, NULL), 0);
  }
  text = pc_test_read_file(in_dir(dir, "prog.tar.minisig"), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_EQUAL(verify_text(&pk, text, MESSAGE, strlen(MESSAGE)),
                  PC_MS_OK);
  CU_ASSERT_EQUAL(verify_text(&pk, text, "x", 1), PC_MS_BAD_SIGNATURE);
  pc_free(text);
  /* Its legacy mode too. */
  {
    char *argv[] = {"minisign", "-S", "-l", "-s",
                    (char *)in_dir(dir, "k.sec"), "-m",
                    (char *)in_dir(dir, "prog.tar"), "-x",
                    (char *)in_dir(dir, "legacy.minisig"), "-t", "legacy",
                    NULL};

    CU_ASSERT_EQUAL(run_minisign(argv, NULL), 0);
  }
  text = pc_test_read_file(in_dir(dir, "legacy.minisig"), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT(strstr(text, "\nRW") != NULL);  /* "Ed": not prehashed */
  CU_ASSERT_EQUAL(verify_text(&pk, text, MESSAGE, strlen(MESSAGE)),
                  PC_MS_OK);
  pc_free(text);
  dir_remove(dir);
}

static void test_we_load_and_sign_with_a_minisign_key(void)
{
  const char *dir;
  pc_ms_pubkey pk, from_sk;
  pc_ms_seckey *sk = NULL;
  pc_error err = PC_ERROR_INIT;
  char *text = NULL;
  size_t len = 0;

  if (!have_minisign())
    return;
  dir = dir_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  {
    char *argv[] = {"minisign", "-G", "-W", "-p",
                    (char *)in_dir(dir, "m.pub"), "-s",
                    (char *)in_dir(dir, "m.key"), NULL};

    CU_ASSERT_EQUAL_FATAL(run_minisign(argv, NULL), 0);
  }
  CU_ASSERT_EQUAL(pc_ms_seckey_encrypted(in_dir(dir, "m.key"), &err), 0);
  CU_ASSERT_EQUAL_FATAL(pc_ms_seckey_load(in_dir(dir, "m.key"), NULL, &sk,
                                          &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ms_pubkey_load(in_dir(dir, "m.pub"), &pk, &err),
                  PC_OK);
  pc_ms_seckey_public(sk, &from_sk);
  CU_ASSERT_EQUAL(memcmp(&pk, &from_sk, sizeof(pk)), 0);
  CU_ASSERT_EQUAL(pc_ms_sign(sk, MESSAGE, strlen(MESSAGE), "ours", NULL,
                             &text, &len, &err), PC_OK);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "f"), MESSAGE, strlen(MESSAGE)),
                  0);
  CU_ASSERT_EQUAL(write_file(in_dir(dir, "f.minisig"), text, len), 0);
  {
    char *argv[] = {"minisign", "-V", "-p", (char *)in_dir(dir, "m.pub"),
                    "-m", (char *)in_dir(dir, "f"), NULL};

    CU_ASSERT_EQUAL(run_minisign(argv, NULL), 0);
  }
  pc_free(text);
  pc_ms_seckey_free(sk);
  dir_remove(dir);
}

static CU_TestInfo minisign_tests[] = {
  {"reference: the observed minisign signature verifies",
   test_reference_signature_verifies},
  {"reference: a changed trusted comment fails the comment check",
   test_reference_tampered_comment_fails_comment_check},
  {"reference: an appended byte fails the signature check",
   test_reference_appended_byte_fails_signature_check},
  {"verify: another key's signature is a key id mismatch",
   test_signature_from_another_key_is_a_keyid_mismatch},
  {"public key: the bare line and CRLF files parse alike",
   test_public_key_bare_line_and_crlf_parse_alike},
  {"key id: printed as the bytes reversed, parsed back",
   test_keyid_hex_is_the_bytes_reversed},
  {"keygen: writes a 0600 secret key and a public key that reload",
   test_keygen_writes_files_that_reload},
  {"keygen: refuses existing files unless forced",
   test_keygen_refuses_existing_files_unless_forced},
  {"keygen: the comment goes into the secret key file",
   test_keygen_comment_goes_into_the_secret_key_file},
  {"keygen: an encrypted key needs the right password",
   test_encrypted_key_needs_the_right_password},
  {"secret key: an encrypted key uses the scrypt limits it records",
   test_encrypted_key_uses_the_limits_it_records},
  {"secret key: a damaged unencrypted key is refused",
   test_damaged_unencrypted_key_is_refused},
  {"secret key: an unencrypted key with a zero check loads (minisign -W)",
   test_unencrypted_key_without_check_loads},
  {"secret key: missing, foreign and unknown-KDF files are refused",
   test_secret_key_files_are_checked},
  {"sign: round trip through the text and verify",
   test_sign_then_verify_round_trip},
  {"sign: the same input gives the same bytes",
   test_signing_is_deterministic},
  {"sign: refuses comments minisign cannot read back",
   test_sign_refuses_comments_minisign_cannot_read},
  {"verify: a legacy \"Ed\" signature verifies",
   test_legacy_signature_verifies},
  {"parse: malformed signatures are refused naming the line",
   test_malformed_signatures_are_refused_with_the_line},
  {"parse: CRLF and a missing final newline are accepted",
   test_crlf_signature_and_missing_final_newline_parse},
  {"parse: malformed public keys are refused",
   test_malformed_public_keys_are_refused},
  {"load: a missing public key file names the path",
   test_missing_public_key_file_names_the_path},
  {"interop: minisign -V verifies our signature",
   test_minisign_verifies_our_signature},
  {"interop: we verify minisign -S (and -l) with our key",
   test_we_verify_minisign_signatures_with_our_key},
  {"interop: we load and sign with a minisign -G -W key",
   test_we_load_and_sign_with_a_minisign_key},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"minisign", NULL, NULL, NULL, NULL, minisign_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
