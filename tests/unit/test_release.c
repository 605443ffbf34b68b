/* tests/unit/test_release.c: artifacts/release.c; suite "release". */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "alloc.h"
#include "harness.h"
#include "json_text.h"
#include "release.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static char top[200];   /* a temporary directory for every registry */
static int n_dirs;

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int suite_init(void)
{
  const char *tmp = getenv("TMPDIR");

  snprintf(top, sizeof(top), "%s/pc-release-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  return mkdtemp(top) ? 0 : -1;
}

static int suite_clean(void)
{
  return nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new path under the temporary directory (not created): a static
 * buffer, valid until the next call. */
static const char *new_dir(void)
{
  static char path[256];

  snprintf(path, sizeof(path), "%s/r%d", top, ++n_dirs);
  return path;
}

/* A new registry, opened. */
static pc_release *new_registry(char *dir, size_t n)
{
  pc_error err = PC_ERROR_INIT;
  pc_release *r = NULL;

  snprintf(dir, n, "%s", new_dir());
  if (pc_release_init(dir, &err) || pc_release_open(dir, &r, &err))
    fprintf(stderr, "registry: %s\n", err.message);
  return r;
}

/* A fake artifact: its bytes are `text`. */
typedef struct fake {
  const char *text;
  char sha[PC_SHA256_HEX_LEN + 1];
  struct json_object *manifest;
  pc_release_artifact a;
} fake;

static void fake_init(fake *f, const char *text, const char *name,
                      const char *version, const char *key_id)
{
  f->text = text;
  pc_sha256_hex(text, strlen(text), f->sha);
  f->manifest = json_object_new_object();
  json_object_object_add(f->manifest, "name", json_object_new_string(name));
  json_object_object_add(f->manifest, "version",
                         json_object_new_string(version));
  f->a.name = name;
  f->a.version = version;
  f->a.sha256 = f->sha;
  f->a.key_id = key_id;
  f->a.manifest = f->manifest;
}

static void fake_free(fake *f)
{
  json_object_put(f->manifest);
}

static int store(pc_release *r, fake *f)
{
  pc_error err = PC_ERROR_INIT;
  char sig[64];
  int rc;

  snprintf(sig, sizeof(sig), "sig of %.20s", f->text);
  rc = pc_release_store(r, &f->a, f->text, strlen(f->text), sig,
                        strlen(sig), &err);
  if (rc)
    fprintf(stderr, "store: %s\n", err.message);
  return rc;
}

/* Record `action` of `f` on `channel` by "tester". */
static int record(pc_release *r, const char *action, const char *channel,
                  const fake *f, const struct json_object *gates,
                  pc_error *err)
{
  pc_release_event ev;

  memset(&ev, 0, sizeof(ev));
  ev.action = action;
  ev.channel = channel;
  ev.sha256 = f->sha;
  ev.actor = "tester";
  ev.reason = "because";
  ev.gates = gates;
  return pc_release_record(r, &ev, NULL, err);
}

/* 1 when `channel` points at `sha` (NULL: is empty). */
static int points_at(pc_release *r, const char *channel, const char *sha)
{
  pc_error err = PC_ERROR_INIT;
  char *cur = NULL;
  int same;

  if (pc_release_current(r, channel, &cur, &err) != PC_OK)
    return 0;
  same = sha ? cur && strcmp(cur, sha) == 0 : cur == NULL;
  pc_free(cur);
  return same;
}

static const char *str(struct json_object *o, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex(o, key, &v) || !v)
    return NULL;
  return json_object_get_string(v);
}

static int file_is(const char *path, const char *text)
{
  size_t len = 0;
  char *data = pc_test_read_file(path, &len);
  int same = data && len == strlen(text) && memcmp(data, text, len) == 0;

  pc_free(data);
  return same;
}

/* ---------------------------------------------------------------------- */
/* Making and opening                                                     */

static void test_init_makes_a_registry_with_two_empty_channels(void)
{
  char dir[300], path[400];
  pc_release *r = new_registry(dir, sizeof(dir));
  struct json_object *list = NULL, *ch, *c0;
  pc_error err = PC_ERROR_INIT;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(pc_release_list(r, &list, &err), PC_OK);
  CU_ASSERT_FATAL(json_object_object_get_ex(list, "channels", &ch));
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(ch), 2);
  c0 = json_object_array_get_idx(ch, 0);
  PC_ASSERT_STR_EQ(str(c0, "channel"), "production");
  CU_ASSERT_PTR_NULL(str(c0, "sha256"));
  PC_ASSERT_STR_EQ(str(json_object_array_get_idx(ch, 1), "channel"),
                   "staging");
  CU_ASSERT(json_object_object_get_ex(list, "artifacts", &ch));
  CU_ASSERT_EQUAL(json_object_array_length(ch), 0);
  json_object_put(list);
  pc_release_close(r);

  snprintf(path, sizeof(path), "%s/objects", dir);
  CU_ASSERT_EQUAL(access(path, F_OK), 0);
  snprintf(path, sizeof(path), "%s/index.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st,
                                     NULL), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
  CU_ASSERT_EQUAL(sqlite3_column_int64(st, 0), 0x5043524c);  /* "PCRL" */
  sqlite3_finalize(st);
  CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
                                     NULL), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
  PC_ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void test_init_refuses_a_registry_and_a_nonempty_directory(void)
{
  char dir[300], path[400];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  FILE *f;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  pc_release_close(r);
  CU_ASSERT_EQUAL(pc_release_init(dir, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already a release registry"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, dir));

  snprintf(dir, sizeof(dir), "%s", new_dir());
  CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
  snprintf(path, sizeof(path), "%s/notes.txt", dir);
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("mine\n", f);
  fclose(f);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_init(dir, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not empty"));
  CU_ASSERT_TRUE(file_is(path, "mine\n"));  /* nothing touched */
  snprintf(path, sizeof(path), "%s/objects", dir);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);

  /* An empty directory is fine, and so is a missing one (made). */
  snprintf(dir, sizeof(dir), "%s", new_dir());
  CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
  CU_ASSERT_EQUAL(pc_release_init(dir, NULL), PC_OK);
  snprintf(dir, sizeof(dir), "%s/a/b", new_dir());
  CU_ASSERT_EQUAL(pc_release_init(dir, NULL), PC_OK);
  CU_ASSERT_EQUAL(pc_release_open(dir, &r, NULL), PC_OK);
  pc_release_close(r);
}

static void test_open_refuses_what_is_not_a_registry(void)
{
  char dir[300], path[400];
  pc_error err = PC_ERROR_INIT;
  pc_release *r = (pc_release *)&r;
  sqlite3 *db = NULL;
  FILE *f;

  snprintf(dir, sizeof(dir), "%s", new_dir());
  CU_ASSERT_EQUAL(pc_release_open(dir, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, dir));

  /* A directory without an index. */
  CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_open(dir, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a release registry"));

  /* An SQLite file of another application. */
  snprintf(path, sizeof(path), "%s/objects", dir);
  CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/index.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_exec(db, "PRAGMA application_id = 1234; CREATE "
                               "TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_open(dir, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a promptc release "
                                             "index"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));

  /* A file that is not a database at all. */
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("this is not a database, but it is long enough to look like a "
        "header of one and more, more, more, more and more text\n", f);
  fclose(f);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_open(dir, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not an SQLite database"));

  /* A plain file given as the registry. */
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_open(path, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a directory"));
}

/* ---------------------------------------------------------------------- */
/* Storing                                                                */

static void test_store_copies_the_bytes_and_is_idempotent(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  struct json_object *list = NULL, *arts, *a0;
  pc_error err = PC_ERROR_INIT;
  char *path;
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", "11bb5d00d657b336");
  CU_ASSERT_EQUAL(store(r, &a), PC_OK);
  CU_ASSERT_EQUAL(store(r, &a), PC_OK);  /* the same digest twice */
  path = pc_release_object_path(r, a.sha);
  CU_ASSERT_TRUE(file_is(path, "artifact A"));
  pc_free(path);
  path = pc_release_sig_path(r, a.sha);
  CU_ASSERT_TRUE(file_is(path, "sig of artifact A"));
  pc_free(path);
  CU_ASSERT_EQUAL(pc_release_list(r, &list, &err), PC_OK);
  CU_ASSERT_FATAL(json_object_object_get_ex(list, "artifacts", &arts));
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(arts), 1);
  a0 = json_object_array_get_idx(arts, 0);
  PC_ASSERT_STR_EQ(str(a0, "sha256"), a.sha);
  PC_ASSERT_STR_EQ(str(a0, "name"), "triage");
  PC_ASSERT_STR_EQ(str(a0, "version"), "1.0.0");
  PC_ASSERT_STR_EQ(str(a0, "key_id"), "11BB5D00D657B336");
  json_object_put(list);
  CU_ASSERT_PTR_NULL(pc_release_object_path(r, "../../etc/passwd"));
  fake_free(&a);
  pc_release_close(r);
}

static void test_store_refuses_a_digest_that_is_not_of_the_bytes(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  char *path;
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  fake_init(&b, "artifact B", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL(pc_release_store(r, &a.a, "artifact B", 10, NULL, 0, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "triage-1.0.0"));
  path = pc_release_object_path(r, a.sha);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);  /* nothing written */
  pc_free(path);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &a, NULL, &err),
                  PC_E_INVALID_ARG);  /* and not indexed */
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not stored"));

  /* The same artifact re-signed (a key rotation): the new signature
   * replaces the stored one. */
  CU_ASSERT_EQUAL(store(r, &b), PC_OK);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_store(r, &b.a, "artifact B", 10, "other", 5,
                                   &err), PC_OK);
  path = pc_release_sig_path(r, b.sha);
  {
    size_t n = 0;
    char *text = pc_test_read_file(path, &n);

    CU_ASSERT(text && n == 5 && !memcmp(text, "other", 5));
    pc_free(text);
  }
  pc_free(path);
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r);
}

/* ---------------------------------------------------------------------- */
/* Channels, events and rollback                                          */

static void test_promote_promote_rollback_restores_the_first(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  char *target = NULL;
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  fake_init(&b, "artifact B", "triage", "1.1.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a) | store(r, &b), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "production", &a, NULL, &err), PC_OK);
  CU_ASSERT_TRUE(points_at(r, "production", a.sha));
  CU_ASSERT_EQUAL(record(r, "promote", "production", &b, NULL, &err), PC_OK);
  CU_ASSERT_TRUE(points_at(r, "production", b.sha));
  CU_ASSERT_TRUE(points_at(r, "staging", NULL));  /* untouched */
  /* Promoting B again changes nothing, so the rollback still goes to A. */
  CU_ASSERT_EQUAL(record(r, "promote", "production", &b, NULL, &err), PC_OK);

  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "production", &target, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(target);
  PC_ASSERT_STR_EQ(target, a.sha);
  pc_free(target);
  CU_ASSERT_EQUAL(record(r, "rollback", "production", &a, NULL, &err),
                  PC_OK);
  CU_ASSERT_TRUE(points_at(r, "production", a.sha));

  /* A was put there by the first promotion, over nothing: no further
   * rollback (not a toggle back to B). */
  target = (char *)&target;
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "production", &target, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(target);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nothing to go back to"));
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r);
}

static void test_rollbacks_walk_back_one_promotion_at_a_time(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  char *target = NULL;
  fake a, b, c;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  fake_init(&b, "artifact B", "triage", "1.1.0", NULL);
  fake_init(&c, "artifact C", "triage", "1.2.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a) | store(r, &b) | store(r, &c), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &a, NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &b, NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &c, NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "staging", &target, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(target, b.sha);
  pc_free(target);
  CU_ASSERT_EQUAL(record(r, "rollback", "staging", &b, NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "staging", &target, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(target, a.sha);
  pc_free(target);
  fake_free(&a);
  fake_free(&b);
  fake_free(&c);
  pc_release_close(r);
}

static void test_rollback_with_nothing_before_fails(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  char *target = NULL;
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a), PC_OK);
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "staging", &target, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty"));
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &a, NULL, &err), PC_OK);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "staging", &target, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(target);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "staging"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_rollback_target(r, "nope", &target, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no such channel"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(record(r, "rollback", "nope", &a, NULL, &err),
                  PC_E_INVALID_ARG);
  fake_free(&a);
  pc_release_close(r);
}

static void test_refuse_leaves_the_channel_and_history_keeps_all(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  struct json_object *gates = NULL, *hist = NULL, *e, *g;
  const char *table = "[{\"gate\": \"min_score\", \"measured\": 0.5, "
                      "\"threshold\": 0.7, \"pass\": false, \"detail\": "
                      "\"mean of 3 examples\"}]";
  int64_t id = 0, prev = 0;
  pc_release_event ev;
  char *text;
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL_FATAL(pc_json_parse(table, strlen(table),
                                      PC_JSON_PARSE_STRICT, &gates, &err),
                        PC_OK);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  fake_init(&b, "artifact B", "triage", "1.1.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a) | store(r, &b), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &a, NULL, &err), PC_OK);
  memset(&ev, 0, sizeof(ev));
  ev.action = "refuse";
  ev.channel = "staging";
  ev.sha256 = b.sha;
  ev.actor = "ci";
  ev.gates = gates;
  CU_ASSERT_EQUAL(pc_release_record(r, &ev, &id, &err), PC_OK);
  CU_ASSERT_EQUAL(id, 2);
  CU_ASSERT_TRUE(points_at(r, "staging", a.sha));  /* still A */
  CU_ASSERT_EQUAL(record(r, "promote", "production", &a, NULL, &err), PC_OK);

  CU_ASSERT_EQUAL(pc_release_history(r, "staging", &hist, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(hist), 2);
  e = json_object_array_get_idx(hist, 0);
  PC_ASSERT_STR_EQ(str(e, "action"), "promote");
  PC_ASSERT_STR_EQ(str(e, "actor"), "tester");
  PC_ASSERT_STR_EQ(str(e, "reason"), "because");
  CU_ASSERT_PTR_NULL(str(e, "before"));
  PC_ASSERT_STR_EQ(str(e, "after"), a.sha);
  PC_ASSERT_STR_EQ(str(e, "version"), "1.0.0");
  e = json_object_array_get_idx(hist, 1);
  PC_ASSERT_STR_EQ(str(e, "action"), "refuse");
  PC_ASSERT_STR_EQ(str(e, "sha256"), b.sha);
  PC_ASSERT_STR_EQ(str(e, "before"), a.sha);
  PC_ASSERT_STR_EQ(str(e, "after"), a.sha);
  CU_ASSERT_PTR_NULL(str(e, "reason"));
  CU_ASSERT_FATAL(json_object_object_get_ex(e, "gates", &g));
  text = pc_json_to_string(g, PC_JSON_TEXT_SPACED | PC_JSON_TEXT_SORTED);
  PC_ASSERT_STR_EQ(text, "[{\"detail\": \"mean of 3 examples\", \"gate\": "
                   "\"min_score\", \"measured\": 0.5, \"pass\": false, "
                   "\"threshold\": 0.7}]");
  pc_free(text);
  json_object_put(hist);

  /* All channels: every event, oldest first. */
  CU_ASSERT_EQUAL(pc_release_history(r, NULL, &hist, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(hist), 3);
  for (size_t i = 0; i < 3; i++) {
    struct json_object *v;

    e = json_object_array_get_idx(hist, i);
    CU_ASSERT(json_object_object_get_ex(e, "id", &v));
    CU_ASSERT(json_object_get_int64(v) > prev);
    prev = json_object_get_int64(v);
    CU_ASSERT(json_object_object_get_ex(e, "time_ms", &v));
    CU_ASSERT(json_object_get_int64(v) > 1600000000000LL);
  }
  PC_ASSERT_STR_EQ(str(json_object_array_get_idx(hist, 2), "channel"),
                   "production");
  json_object_put(hist);
  json_object_put(gates);
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r);
}

static void test_user_channel_is_made_by_its_first_promotion(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  struct json_object *list = NULL, *ch, *hist = NULL;
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a), PC_OK);
  CU_ASSERT_EQUAL(pc_release_history(r, "canary-eu.1", &hist, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(hist);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no such channel"));
  CU_ASSERT_EQUAL(record(r, "promote", "canary-eu.1", &a, NULL, &err),
                  PC_OK);
  CU_ASSERT_TRUE(points_at(r, "canary-eu.1", a.sha));
  CU_ASSERT_EQUAL(pc_release_list(r, &list, &err), PC_OK);
  CU_ASSERT_FATAL(json_object_object_get_ex(list, "channels", &ch));
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(ch), 3);
  PC_ASSERT_STR_EQ(str(json_object_array_get_idx(ch, 0), "channel"),
                   "canary-eu.1");
  PC_ASSERT_STR_EQ(str(json_object_array_get_idx(ch, 0), "name"), "triage");
  json_object_put(list);
  CU_ASSERT_EQUAL(pc_release_history(r, "production", &hist, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(hist), 0);  /* exists, empty */
  json_object_put(hist);
  fake_free(&a);
  pc_release_close(r);
}

static void test_invalid_channel_names_and_actions_are_refused(void)
{
  static const char *const bad[] = {
    "", "Prod", "-x", ".x", "a/b", "a b", "staging!",
    "abcdefghijklmnopqrstuvwxyz0123456",  /* 33 */
  };
  static const char *const good[] = {
    "a", "0", "prod.eu-1_x", "abcdefghijklmnopqrstuvwxyz012345",  /* 32 */
  };
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CU_ASSERT_FALSE(pc_release_channel_valid(bad[i]));
  CU_ASSERT_FALSE(pc_release_channel_valid(NULL));
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    CU_ASSERT_TRUE(pc_release_channel_valid(good[i]));
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "Prod", &a, NULL, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Prod"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(record(r, "delete", "staging", &a, NULL, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "delete"));
  CU_ASSERT_TRUE(points_at(r, "staging", NULL));
  fake_free(&a);
  pc_release_close(r);
}

static void test_events_cannot_be_changed_or_deleted(void)
{
  char dir[300], path[400];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  sqlite3 *db = NULL;
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "staging", &a, NULL, &err), PC_OK);
  snprintf(path, sizeof(path), "%s/index.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, "UPDATE events SET actor = 'x'",
                                   NULL, NULL, NULL), SQLITE_OK);
  CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, "DELETE FROM events", NULL, NULL,
                                   NULL), SQLITE_OK);
  sqlite3_close(db);
  fake_free(&a);
  pc_release_close(r);
}

/* ---------------------------------------------------------------------- */
/* Show                                                                   */

static void test_show_finds_by_each_selector(void)
{
  char dir[300], prefix[16], upper[16];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  struct json_object *o = NULL, *v;
  const char *what[4];
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", "11BB5D00D657B336");
  fake_init(&b, "artifact B", "triage", "1.1.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a) | store(r, &b), PC_OK);
  CU_ASSERT_EQUAL(record(r, "promote", "production", &a, NULL, &err), PC_OK);
  snprintf(prefix, sizeof(prefix), "%.8s", a.sha);
  for (size_t i = 0; i < 8; i++)
    upper[i] = (char)(prefix[i] >= 'a' ? prefix[i] - 'a' + 'A' : prefix[i]);
  upper[8] = '\0';
  what[0] = "production";
  what[1] = a.sha;
  what[2] = prefix;
  what[3] = "triage@1.0.0";
  for (size_t i = 0; i < 5; i++) {
    pc_error_clear(&err);
    CU_ASSERT_EQUAL(pc_release_show(r, i < 4 ? what[i] : upper, &o, &err),
                    PC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    PC_ASSERT_STR_EQ(str(o, "sha256"), a.sha);
    PC_ASSERT_STR_EQ(str(o, "version"), "1.0.0");
    PC_ASSERT_STR_EQ(str(o, "key_id"), "11BB5D00D657B336");
    CU_ASSERT(json_object_object_get_ex(o, "manifest", &v));
    PC_ASSERT_STR_EQ(str(v, "name"), "triage");
    CU_ASSERT(json_object_object_get_ex(o, "channels", &v));
    CU_ASSERT_EQUAL(json_object_array_length(v), 1);
    PC_ASSERT_STR_EQ(json_object_get_string(json_object_array_get_idx(v, 0)),
                     "production");
    json_object_put(o);
    o = NULL;
  }
  CU_ASSERT_EQUAL(pc_release_show(r, "triage@1.1.0", &o, &err), PC_OK);
  PC_ASSERT_STR_EQ(str(o, "sha256"), b.sha);
  json_object_put(o);

  /* Unknown, empty, too short. */
  o = (struct json_object *)&o;
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "triage@9.9.9", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "triage@9.9.9"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "staging", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "0123456789abcdef", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no such artifact"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "abc1", &o, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "at least 8"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "not a thing", &o, &err),
                  PC_E_INVALID_ARG);
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r);
}

static void test_show_refuses_ambiguous_selectors_naming_matches(void)
{
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  struct json_object *o = NULL;
  char short_a[16], short_b[16];
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  /* Two texts whose sha256 share their first 8 hex digits (3eca485d),
   * found by a birthday search; and the same NAME@VERSION. */
  fake_init(&a, "artifact 57283", "triage", "2.0.0", NULL);
  fake_init(&b, "artifact 61348", "triage", "2.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(strncmp(a.sha, b.sha, 8), 0);
  CU_ASSERT_NOT_EQUAL_FATAL(strncmp(a.sha, b.sha, 9), 0);
  CU_ASSERT_EQUAL_FATAL(store(r, &a) | store(r, &b), PC_OK);
  snprintf(short_a, sizeof(short_a), "%.12s", a.sha);
  snprintf(short_b, sizeof(short_b), "%.12s", b.sha);

  CU_ASSERT_EQUAL(pc_release_show(r, "3eca485d", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ambiguous"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, short_a));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, short_b));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_release_show(r, "triage@2.0.0", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "2 artifacts"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, short_a));
  /* One more digit decides. */
  snprintf(short_a, sizeof(short_a), "%.9s", a.sha);
  CU_ASSERT_EQUAL(pc_release_show(r, short_a, &o, &err), PC_OK);
  PC_ASSERT_STR_EQ(str(o, "sha256"), a.sha);
  json_object_put(o);
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r);
}

/* ---------------------------------------------------------------------- */
/* Several handles                                                        */

static void test_two_handles_see_each_others_writes(void)
{
  char dir[300];
  pc_release *r1 = new_registry(dir, sizeof(dir)), *r2 = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *hist = NULL;
  fake a, b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r1);
  CU_ASSERT_EQUAL_FATAL(pc_release_open(dir, &r2, &err), PC_OK);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  fake_init(&b, "artifact B", "triage", "1.1.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r1, &a), PC_OK);
  CU_ASSERT_EQUAL(record(r1, "promote", "staging", &a, NULL, &err), PC_OK);
  CU_ASSERT_TRUE(points_at(r2, "staging", a.sha));
  CU_ASSERT_EQUAL_FATAL(store(r2, &b), PC_OK);
  CU_ASSERT_EQUAL(record(r2, "promote", "staging", &b, NULL, &err), PC_OK);
  CU_ASSERT_TRUE(points_at(r1, "staging", b.sha));
  CU_ASSERT_EQUAL(pc_release_history(r1, "staging", &hist, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(hist), 2);
  json_object_put(hist);
  fake_free(&a);
  fake_free(&b);
  pc_release_close(r1);
  pc_release_close(r2);
}

static void test_processes_recording_at_once_lose_nothing(void)
{
  enum { PROCS = 3, EACH = 15 };
  char dir[300];
  pc_release *r = new_registry(dir, sizeof(dir));
  pc_error err = PC_ERROR_INIT;
  struct json_object *hist = NULL;
  pid_t pids[PROCS];
  fake a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fake_init(&a, "artifact A", "triage", "1.0.0", NULL);
  CU_ASSERT_EQUAL_FATAL(store(r, &a), PC_OK);
  pc_release_close(r);
  fflush(NULL);
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    CU_ASSERT_FATAL(pids[p] >= 0);
    if (pids[p] == 0) {
      pc_release *mine = NULL;
      int bad = pc_release_open(dir, &mine, NULL) != PC_OK;

      for (int i = 0; !bad && i < EACH; i++)
        bad = record(mine, i % 2 ? "refuse" : "promote", "staging", &a,
                     NULL, NULL) != PC_OK;
      pc_release_close(mine);
      _exit(bad);
    }
  }
  for (int p = 0; p < PROCS; p++) {
    int status = -1;

    CU_ASSERT_EQUAL(waitpid(pids[p], &status, 0), pids[p]);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CU_ASSERT_EQUAL_FATAL(pc_release_open(dir, &r, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_release_history(r, "staging", &hist, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(hist), PROCS * EACH);
  json_object_put(hist);
  fake_free(&a);
  pc_release_close(r);
}

static CU_TestInfo release_tests[] = {
  {"init makes a registry with two empty channels",
   test_init_makes_a_registry_with_two_empty_channels},
  {"init refuses a registry and a non-empty directory",
   test_init_refuses_a_registry_and_a_nonempty_directory},
  {"open refuses what is not a registry",
   test_open_refuses_what_is_not_a_registry},
  {"store copies the bytes and is idempotent",
   test_store_copies_the_bytes_and_is_idempotent},
  {"store refuses a digest that is not of the bytes",
   test_store_refuses_a_digest_that_is_not_of_the_bytes},
  {"promote A, promote B, rollback restores A",
   test_promote_promote_rollback_restores_the_first},
  {"rollbacks walk back one promotion at a time",
   test_rollbacks_walk_back_one_promotion_at_a_time},
  {"rollback with nothing before fails",
   test_rollback_with_nothing_before_fails},
  {"refuse leaves the channel; history keeps every event",
   test_refuse_leaves_the_channel_and_history_keeps_all},
  {"a user channel is made by its first promotion",
   test_user_channel_is_made_by_its_first_promotion},
  {"invalid channel names and actions are refused",
   test_invalid_channel_names_and_actions_are_refused},
  {"events cannot be changed or deleted",
   test_events_cannot_be_changed_or_deleted},
  {"show finds by channel, sha256, prefix and NAME@VERSION",
   test_show_finds_by_each_selector},
  {"show refuses ambiguous selectors naming the matches",
   test_show_refuses_ambiguous_selectors_naming_matches},
  {"two handles see each other's writes",
   test_two_handles_see_each_others_writes},
  {"processes recording at once lose nothing",
   test_processes_recording_at_once_lose_nothing},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"release", suite_init, suite_clean, NULL, NULL, release_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
