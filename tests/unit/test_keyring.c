/* tests/unit/test_keyring.c: artifacts/keyring.c; suite "keyring". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "harness.h"
#include "keyring.h"

/* Two public keys (throwaway, public): B.1's reference key and another. */
#define KEY_A "RWQ2s1fWAF27EbtIjt6AeJ4CyMlAUy7Z2cgGTXS0vWoCma3dvU8+sK66"
#define ID_A "11BB5D00D657B336"
#define KEY_B "RWR8P0u6hVRkfQq18yprIZSVnhCSQ2i5i6csiA/VIC4qYY9ZT2obyL97"
#define ID_B "7D645485BA4B3F7C"
#define ID_C "0123456789ABCDEF"

/* Unix times, computed independently (Python's calendar.timegm). */
#define T_2027_07_01 1814400000LL   /* 2027-07-01T00:00:00Z */
#define T_2026_03_01_123005 1772368205LL
#define T_2028_03_01 1835481600LL
#define T_2000_03_01 951868800LL
#define T_9999_END 253402300799LL  /* 9999-12-31T23:59:59Z */

static uint8_t *id(const char *hex)
{
  static uint8_t buf[4][PC_MS_KEYID_BYTES];
  static int next;
  uint8_t *b = buf[next++ % 4];

  CU_ASSERT_EQUAL(pc_ms_keyid_parse(hex, b, NULL), PC_OK);
  return b;
}

/* Load keyring text from a temporary file; NULL with `err` set on
 * failure. */
static pc_keyring *load_text(const char *json, pc_error *err)
{
  const char *path = pc_test_tmpfile(json, strlen(json), ".json");
  pc_keyring *kr = (pc_keyring *)&kr;  /* must be reset on failure */

  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  if (pc_keyring_load(path, &kr, err)) {
    CU_ASSERT_PTR_NULL(kr);
    return NULL;
  }
  return kr;
}

/* The keyring must be refused with PC_E_PARSE and `want` in the message
 * (which also names the file). */
static void refused(const char *json, const char *want)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text(json, &err);

  CU_ASSERT_PTR_NULL(kr);
  pc_keyring_free(kr);
  CU_ASSERT_EQUAL(err.code, PC_E_PARSE);
  if (!strstr(err.message, want))
    fprintf(stderr, "\n  wanted '%s' in: %s\n", want, err.message);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ".json: "));
}

static void test_load_trusts_listed_keys(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text(
    "{\"schema\": \"promptc.keyring/1\", \"keys\": ["
    "{\"name\": \"release-2026\", \"public_key\": \"" KEY_A "\"},"
    "{\"public_key\": \"" KEY_B "\", \"expires\": \"2027-06-30\"}],"
    "\"revoked\": []}", &err);
  const pc_ms_pubkey *pk = NULL;
  const char *name = "sentinel";
  int64_t exp = 0;
  char b64[PC_MS_PUBKEY_B64_LEN + 1];

  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2000_03_01, &pk, &name,
                                   &exp), PC_KEY_TRUSTED);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
  pc_ms_pubkey_base64(pk, b64);
  PC_ASSERT_STR_EQ(b64, KEY_A);
  PC_ASSERT_STR_EQ(name, "release-2026");
  CU_ASSERT_EQUAL(exp, -1);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_B), T_2000_03_01, &pk, &name,
                                   &exp), PC_KEY_TRUSTED);
  pc_ms_pubkey_base64(pk, b64);
  PC_ASSERT_STR_EQ(b64, KEY_B);
  CU_ASSERT_PTR_NULL(name);  /* an unnamed key */
  CU_ASSERT_EQUAL(exp, T_2027_07_01);
  /* Every out pointer may be NULL. */
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), 0, NULL, NULL, NULL),
                  PC_KEY_TRUSTED);
  pc_keyring_free(kr);
}

static void test_unknown_key_is_unknown(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text("{\"schema\": \"promptc.keyring/1\", "
                             "\"keys\": [{\"public_key\": \"" KEY_A "\"}]}",
                             &err);
  const pc_ms_pubkey *pk = (const pc_ms_pubkey *)&pk;
  const char *name = "sentinel";

  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_B), 0, &pk, &name, NULL),
                  PC_KEY_UNKNOWN);
  CU_ASSERT_PTR_NULL(pk);
  CU_ASSERT_PTR_NULL(name);
  CU_ASSERT_EQUAL(pc_keyring_check(NULL, id(ID_A), 0, &pk, NULL, NULL),
                  PC_KEY_UNKNOWN);
  pc_keyring_free(kr);
}

static void test_a_date_is_good_through_the_end_of_that_day(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text("{\"schema\": \"promptc.keyring/1\", "
                             "\"keys\": [{\"public_key\": \"" KEY_A "\", "
                             "\"expires\": \"2027-06-30\"}]}", &err);
  const pc_ms_pubkey *pk = NULL;
  int64_t exp = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2027_07_01 - 86400,
                                   NULL, NULL, NULL), PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2027_07_01 - 1, NULL,
                                   NULL, NULL), PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2027_07_01, &pk, NULL,
                                   &exp), PC_KEY_EXPIRED);
  /* An expired key still says which key it was. */
  CU_ASSERT_PTR_NOT_NULL(pk);
  CU_ASSERT_EQUAL(exp, T_2027_07_01);
  pc_keyring_free(kr);
}

static void test_date_forms(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text(
    "{\"schema\": \"promptc.keyring/1\", \"keys\": ["
    "{\"public_key\": \"" KEY_A "\", \"expires\": "
    "\"2026-03-01T12:30:05Z\"},"
    "{\"public_key\": \"" KEY_B "\", \"expires\": \"2028-02-29\"}]}", &err);
  int64_t exp = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2026_03_01_123005 - 1,
                                   NULL, NULL, &exp), PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(exp, T_2026_03_01_123005);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_2026_03_01_123005,
                                   NULL, NULL, NULL), PC_KEY_EXPIRED);
  /* A leap day: good until 2028-03-01T00:00:00Z. */
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_B), 0, NULL, NULL, &exp),
                  PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(exp, T_2028_03_01);
  pc_keyring_free(kr);

  kr = load_text("{\"schema\": \"promptc.keyring/1\", \"keys\": ["
                 "{\"public_key\": \"" KEY_A "\", \"expires\": "
                 "\"9999-12-31T23:59:59Z\"}]}", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), 0, NULL, NULL, &exp),
                  PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(exp, T_9999_END);
  pc_keyring_free(kr);
}

static void test_revoked_wins_over_a_listed_key(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = load_text(
    "{\"schema\": \"promptc.keyring/1\", \"keys\": ["
    "{\"name\": \"old\", \"public_key\": \"" KEY_A "\"},"
    "{\"public_key\": \"" KEY_B "\", \"expires\": \"2000-01-01\"}],"
    "\"revoked\": [\"11bb5d00d657b336\", \"" ID_B "\", \"" ID_C "\"]}",
    &err);
  const pc_ms_pubkey *pk = (const pc_ms_pubkey *)&pk;

  CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), 0, &pk, NULL, NULL),
                  PC_KEY_REVOKED);
  CU_ASSERT_PTR_NULL(pk);
  /* Revoked beats expired, and a revoked id needs no key entry. */
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_B), T_2027_07_01, NULL, NULL,
                                   NULL), PC_KEY_REVOKED);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_C), 0, NULL, NULL, NULL),
                  PC_KEY_REVOKED);
  pc_keyring_free(kr);
}

static void test_file_entries_are_relative_to_the_keyring(void)
{
  char dir[256], path[300];
  const char *t = getenv("TMPDIR");
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = NULL;
  FILE *f;

  snprintf(dir, sizeof(dir), "%s/pckr-XXXXXX", (t && *t) ? t : "/tmp");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/a.pub", dir);
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("untrusted comment: minisign public key " ID_A "\n" KEY_A "\n", f);
  fclose(f);
  snprintf(path, sizeof(path), "%s/keys.json", dir);
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("{\"schema\": \"promptc.keyring/1\", \"keys\": ["
        "{\"name\": \"from a file\", \"file\": \"a.pub\"}]}", f);
  fclose(f);
  CU_ASSERT_EQUAL(pc_keyring_load(path, &kr, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), 0, NULL, NULL, NULL),
                  PC_KEY_TRUSTED);
  pc_keyring_free(kr);
  /* A missing file names the entry and the path it tried. */
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("{\"schema\": \"promptc.keyring/1\", \"keys\": ["
        "{\"file\": \"gone.pub\"}]}", f);
  fclose(f);
  CU_ASSERT_EQUAL(pc_keyring_load(path, &kr, &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(kr);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "keys[0].file"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "gone.pub"));
  unlink(path);
  snprintf(path, sizeof(path), "%s/a.pub", dir);
  unlink(path);
  rmdir(dir);
}

static void test_single_key_keyring_trusts_only_that_key(void)
{
  pc_ms_pubkey pk;
  const pc_ms_pubkey *got = NULL;
  const char *name = NULL;
  int64_t exp = 0;
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = NULL;

  CU_ASSERT_EQUAL(pc_ms_pubkey_parse(KEY_A, strlen(KEY_A), "-p", &pk, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_keyring_single(&pk, "KEY.pub", &kr, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), T_9999_END, &got, &name,
                                   &exp), PC_KEY_TRUSTED);
  CU_ASSERT_EQUAL(memcmp(got, &pk, sizeof(pk)), 0);
  PC_ASSERT_STR_EQ(name, "KEY.pub");
  CU_ASSERT_EQUAL(exp, -1);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_B), 0, NULL, NULL, NULL),
                  PC_KEY_UNKNOWN);
  pc_keyring_free(kr);
  CU_ASSERT_EQUAL(pc_keyring_single(&pk, NULL, &kr, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_keyring_check(kr, id(ID_A), 0, NULL, &name, NULL),
                  PC_KEY_TRUSTED);
  CU_ASSERT_PTR_NULL(name);
  pc_keyring_free(kr);
  pc_keyring_free(NULL);
}

static void test_status_words(void)
{
  PC_ASSERT_STR_EQ(pc_key_status_str(PC_KEY_TRUSTED), "trusted");
  PC_ASSERT_STR_EQ(pc_key_status_str(PC_KEY_UNKNOWN), "unknown");
  PC_ASSERT_STR_EQ(pc_key_status_str(PC_KEY_REVOKED), "revoked");
  PC_ASSERT_STR_EQ(pc_key_status_str(PC_KEY_EXPIRED), "expired");
}

#define HEAD "{\"schema\": \"promptc.keyring/1\", "
#define ONE_KEY(extra) HEAD "\"keys\": [{\"public_key\": \"" KEY_A "\"" \
  extra "}]}"

static void test_malformed_keyrings_are_refused_naming_the_entry(void)
{
  pc_error err = PC_ERROR_INIT;

  /* The file as a whole. */
  CU_ASSERT_PTR_NULL(load_text("{\"schema\": ", &err));
  CU_ASSERT_EQUAL(err.code, PC_E_PARSE);
  refused("[]", "expected a JSON object");
  refused("{\"keys\": []}", "schema: expected \"promptc.keyring/1\"");
  refused("{\"schema\": \"promptc.keyring/2\", \"keys\": []}",
          "schema: expected");
  refused(HEAD "\"revoked\": []}", "keys: expected an array");
  refused(HEAD "\"keys\": {}}", "keys: expected an array");
  refused(HEAD "\"keys\": [], \"trusted\": []}", "unknown field \"trusted\"");
  /* Key entries. */
  refused(HEAD "\"keys\": [\"" KEY_A "\"]}", "keys[0]: expected an object");
  refused(HEAD "\"keys\": [{\"name\": \"x\"}]}",
          "keys[0]: expected one of \"public_key\" or \"file\"");
  refused(ONE_KEY(", \"file\": \"a.pub\""), "keys[0]: expected one of");
  refused(ONE_KEY(", \"expiry\": \"2027-01-01\""),
          "keys[0]: unknown field \"expiry\"");
  refused(ONE_KEY(", \"name\": 7"), "keys[0].name: expected a non-empty "
          "string");
  refused(ONE_KEY(", \"name\": \"\""), "keys[0].name: expected");
  refused(HEAD "\"keys\": [{\"public_key\": \"RWQ2s1fWAF27\"}]}",
          "keys[0].public_key: line 1: not a minisign public key");
  refused(HEAD "\"keys\": [{\"public_key\": \"" KEY_B "\"}, "
          "{\"public_key\": \"" KEY_A "\"}, {\"public_key\": \"" KEY_B
          "\"}]}", "keys[2]: key id " ID_B " is already keys[0]");
  /* Dates. */
  refused(ONE_KEY(", \"expires\": \"2027-02-29\""),
          "keys[0].expires: not a date");
  refused(ONE_KEY(", \"expires\": \"2027-13-01\""), "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"2027-1-01\""), "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"2027-01-01T24:00:00Z\""),
          "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"2027-01-01T12:00:00\""),
          "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"2027-01-01T12:00:00+02:00\""),
          "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"2027-01-01 \""), "keys[0].expires");
  refused(ONE_KEY(", \"expires\": \"1969-12-31\""), "keys[0].expires");
  refused(ONE_KEY(", \"expires\": 1814400000"), "keys[0].expires: expected");
  /* Revoked ids. */
  refused(HEAD "\"keys\": [], \"revoked\": \"" ID_A "\"}",
          "revoked: expected an array");
  refused(HEAD "\"keys\": [], \"revoked\": [\"" ID_A "\", \"11BB\"]}",
          "revoked[1]: expected a key id of 16 hex digits");
  refused(HEAD "\"keys\": [], \"revoked\": [12]}", "revoked[0]");
}

static void test_missing_keyring_file_is_an_io_error(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_keyring *kr = (pc_keyring *)&kr;

  CU_ASSERT_EQUAL(pc_keyring_load("no/such/keys.json", &kr, &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(kr);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such/keys.json"));
}

static CU_TestInfo keyring_tests[] = {
  {"load: listed keys are trusted, with their name and key",
   test_load_trusts_listed_keys},
  {"check: a key id not in the keyring is unknown",
   test_unknown_key_is_unknown},
  {"expires: a date is good through the end of that UTC day",
   test_a_date_is_good_through_the_end_of_that_day},
  {"expires: date-time and leap-day forms", test_date_forms},
  {"revoked: wins over a listed or expired key",
   test_revoked_wins_over_a_listed_key},
  {"file: entries are relative to the keyring file",
   test_file_entries_are_relative_to_the_keyring},
  {"single: a one-key keyring trusts only that key",
   test_single_key_keyring_trusts_only_that_key},
  {"status: words for each verdict", test_status_words},
  {"load: malformed keyrings are refused naming the entry",
   test_malformed_keyrings_are_refused_naming_the_entry},
  {"load: a missing file is an I/O error naming it",
   test_missing_keyring_file_is_an_io_error},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"keyring", NULL, NULL, NULL, NULL, keyring_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
