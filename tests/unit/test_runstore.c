/* tests/unit/test_runstore.c: core/runstore.c, the run store; suite
 * "runstore". */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "alloc.h"
#include "cache.h"
#include "config.h"
#include "harness.h"
#include "loader.h"
#include "runstore.h"
#include "runtime.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* A new empty directory under $TMPDIR (or /tmp), in dir[512]. */
static int make_tmpdir(char *dir)
{
  const char *t = getenv("TMPDIR");

  snprintf(dir, 512, "%s/pctest-runstore-XXXXXX", (t && *t) ? t : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

/* Remove `path` and everything below it. */
static void rm_rf(const char *path)
{
  struct stat st;
  DIR *d;
  struct dirent *de;
  char sub[1024];

  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode) && (d = opendir(path))) {
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
      rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* A fresh store at DIR/runs.sqlite; the caller closes it and removes dir. */
static pc_runstore *fresh_store(char *dir, char *path, size_t n)
{
  pc_runstore *rs = NULL;
  pc_error err = PC_ERROR_INIT;

  if (make_tmpdir(dir) != 0)
    return NULL;
  snprintf(path, n, "%s/runs.sqlite", dir);
  if (pc_runstore_open(path, &rs, &err) != PC_OK)
    fprintf(stderr, "open: %s\n", err.message);
  return rs;
}

static struct json_object *parse(const char *text)
{
  return json_tokener_parse(text);
}

/* The compact text of member `key` of `obj` ("(absent)" when missing). */
static const char *member_text(struct json_object *obj, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex(obj, key, &v))
    return "(absent)";
  return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static int64_t member_int(struct json_object *obj, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex(obj, key, &v))
    return -12345;
  return json_object_get_int64(v);
}

static int has_substr(const char *s, const char *sub)
{
  return s && sub && strstr(s, sub) != NULL;
}

/* Run `sql` on the SQLite file at `path` directly. 0 on success. */
static int raw_sql(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open(path, &db);

  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                */

static void test_open_creates_nested_directories_and_file(void)
{
  char dir[512], path[700], leaf[650];
  pc_runstore *rs = NULL;
  pc_error err = PC_ERROR_INIT;
  struct stat st;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(leaf, sizeof(leaf), "%s/state/promptc", dir);
  snprintf(path, sizeof(path), "%s/runs.sqlite", leaf);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  PC_ASSERT_STR_EQ(pc_runstore_path(rs), path);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r1", "eval", NULL, &err), PC_OK);
  pc_runstore_close(rs);
  rs = NULL;
  CU_ASSERT_FATAL(stat(leaf, &st) == 0);
  CU_ASSERT(S_ISDIR(st.st_mode));
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
  CU_ASSERT_FATAL(stat(path, &st) == 0);
  CU_ASSERT(S_ISREG(st.st_mode));
  CU_ASSERT_EQUAL(st.st_mode & 0077, 0);  /* private to the user */

  /* Reopening finds what was written. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r1", "eval", NULL, &err),
                  PC_E_INVALID_ARG);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_default_path_follows_xdg_then_home(void)
{
  char *saved_xdg = NULL, *saved_home = NULL, *p;

  if (getenv("XDG_STATE_HOME"))
    saved_xdg = pc_strdup(getenv("XDG_STATE_HOME"));
  if (getenv("HOME"))
    saved_home = pc_strdup(getenv("HOME"));

  setenv("XDG_STATE_HOME", "/st", 1);
  setenv("HOME", "/home/u", 1);
  p = pc_runstore_default_path();
  PC_ASSERT_STR_EQ(p, "/st/promptc/runs.sqlite");
  pc_free(p);
  setenv("XDG_STATE_HOME", "relative/dir", 1);  /* ignored */
  p = pc_runstore_default_path();
  PC_ASSERT_STR_EQ(p, "/home/u/.local/state/promptc/runs.sqlite");
  pc_free(p);
  unsetenv("XDG_STATE_HOME");
  p = pc_runstore_default_path();
  PC_ASSERT_STR_EQ(p, "/home/u/.local/state/promptc/runs.sqlite");
  pc_free(p);
  unsetenv("HOME");
  CU_ASSERT_PTR_NULL(pc_runstore_default_path());

  if (saved_xdg)
    setenv("XDG_STATE_HOME", saved_xdg, 1);
  if (saved_home)
    setenv("HOME", saved_home, 1);
  pc_free(saved_xdg);
  pc_free(saved_home);
}

static void test_foreign_files_are_refused_naming_the_path(void)
{
  char dir[512], path[700];
  unsigned char junk[4096];
  pc_runstore *rs = NULL;
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  FILE *f;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);

  /* Bytes that are not a database. */
  snprintf(path, sizeof(path), "%s/junk.sqlite", dir);
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (unsigned char)((i * 131 + 7) % 251);
  CU_ASSERT_FATAL((f = fopen(path, "wb")) != NULL);
  CU_ASSERT(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
  fclose(f);
  CU_ASSERT_EQUAL(pc_runstore_open(path, &rs, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(rs);
  CU_ASSERT(has_substr(err.message, path));
  CU_ASSERT(has_substr(err.message, "not a promptc run store"));

  /* Another SQLite database of ours: the LM cache (same user_version). */
  pc_error_clear(&err);
  snprintf(path, sizeof(path), "%s/lm-cache.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, NULL, NULL, &c, &err), PC_OK);
  CU_ASSERT_FATAL(pc_cache_persistent(c));
  pc_cache_close(c);
  CU_ASSERT_EQUAL(pc_runstore_open(path, &rs, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(rs);
  CU_ASSERT(has_substr(err.message, path));
  CU_ASSERT(has_substr(err.message, "not a promptc run store"));

  /* A run store from a newer promptc. */
  pc_error_clear(&err);
  snprintf(path, sizeof(path), "%s/newer.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  pc_runstore_close(rs);
  rs = NULL;
  CU_ASSERT_FATAL(raw_sql(path, "PRAGMA user_version = 3") == SQLITE_OK);
  CU_ASSERT_EQUAL(pc_runstore_open(path, &rs, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(rs);
  CU_ASSERT(has_substr(err.message, path));
  CU_ASSERT(has_substr(err.message, "schema version 3"));

  /* A directory, and an empty path. */
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_open(dir, &rs, &err), PC_E_IO);
  CU_ASSERT(has_substr(err.message, dir));
  CU_ASSERT_PTR_NULL(rs);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_open("", &rs, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(rs);
  rm_rf(dir);
}

static void test_open_out_of_memory_fails_cleanly(void)
{
  char dir[512], path[700];
  pc_runstore *rs = NULL;
  int rc = PC_E_NOMEM;
  unsigned long n;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/a/runs.sqlite", dir);
  for (n = 1; n < 50 && rc == PC_E_NOMEM; n++) {
    pc_error err = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_runstore_open(path, &rs, &err);
    pc__alloc_fail_at(0);
    if (rc == PC_E_NOMEM)
      CU_ASSERT_PTR_NULL(rs);
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT(n > 2);  /* at least one allocation failed first */
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Runs                                                                   */

static void test_ids_are_fresh_and_checked(void)
{
  char a[PC_RUN_ID_MAX], b[PC_RUN_ID_MAX], long_id[80];

  CU_ASSERT_EQUAL(pc_runstore_new_id(a), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_new_id(b), PC_OK);
  CU_ASSERT_EQUAL(strlen(a), 22);
  CU_ASSERT(a[8] == '-' && a[15] == '-');
  for (int i = 0; i < 22; i++)
    if (i != 8 && i != 15)
      CU_ASSERT(strchr("0123456789abcdef", a[i]) != NULL);
  CU_ASSERT(strncmp(a, "20", 2) == 0);
  CU_ASSERT(pc_runstore_valid_id(a));
  CU_ASSERT(strcmp(a, b) != 0);  /* 24 random bits apart */

  CU_ASSERT(pc_runstore_valid_id("a"));
  CU_ASSERT(pc_runstore_valid_id("My_run-1.2"));
  CU_ASSERT_FALSE(pc_runstore_valid_id(NULL));
  CU_ASSERT_FALSE(pc_runstore_valid_id(""));
  CU_ASSERT_FALSE(pc_runstore_valid_id(".hidden"));
  CU_ASSERT_FALSE(pc_runstore_valid_id("a/b"));
  CU_ASSERT_FALSE(pc_runstore_valid_id("a b"));
  memset(long_id, 'x', 63);
  long_id[63] = '\0';
  CU_ASSERT(pc_runstore_valid_id(long_id));
  long_id[63] = 'x';
  long_id[64] = '\0';
  CU_ASSERT_FALSE(pc_runstore_valid_id(long_id));
}

static void test_begin_get_status_and_list(void)
{
  char dir[512], path[700], want[800];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *spec = parse("{\"program\": \"qa.json\", "
                                   "\"threads\": 4, \"ratio\": 0.25}");
  struct json_object *result = parse("{\"best\": 61.5, \"trials\": 3}");
  struct json_object *run = NULL, *runs = NULL, *rec = parse("{\"s\": 1}");
  pc_error err = PC_ERROR_INIT;
  int64_t started;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "old", "eval", NULL, &err), PC_OK);
  usleep(5000);  /* "new" starts at a later millisecond */
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "new", "compile", spec, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "new", 0, rec, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "new", 1, rec, &err), PC_OK);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_get(rs, "new", &run, &err), PC_OK);
  PC_ASSERT_STR_EQ(member_text(run, "id"), "\"new\"");
  PC_ASSERT_STR_EQ(member_text(run, "kind"), "\"compile\"");
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"running\"");
  PC_ASSERT_STR_EQ(member_text(run, "spec"),
                   "{\"program\":\"qa.json\",\"threads\":4,\"ratio\":0.25}");
  PC_ASSERT_STR_EQ(member_text(run, "result"), "null");
  PC_ASSERT_STR_EQ(member_text(run, "finished_ms"), "null");
  started = member_int(run, "started_ms");
  CU_ASSERT(started > 1600000000000LL);  /* a real epoch time in ms */
  json_object_put(run);

  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "new", "done", result, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_get(rs, "new", &run, &err), PC_OK);
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"done\"");
  PC_ASSERT_STR_EQ(member_text(run, "result"),
                   "{\"best\":61.5,\"trials\":3}");
  CU_ASSERT(member_int(run, "finished_ms") >= started);
  json_object_put(run);

  /* Back to running (a resume) clears finished_ms and keeps the result
   * when none is given; "stopped" without a result keeps it too. */
  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "new", "running", NULL, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_get(rs, "new", &run, &err), PC_OK);
  PC_ASSERT_STR_EQ(member_text(run, "finished_ms"), "null");
  PC_ASSERT_STR_EQ(member_text(run, "result"),
                   "{\"best\":61.5,\"trials\":3}");
  json_object_put(run);
  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "old", "interrupted", NULL,
                                         &err), PC_OK);

  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "new", "finished", NULL, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "finished"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "nope", "done", NULL, &err),
                  PC_E_INVALID_ARG);
  snprintf(want, sizeof(want), "run nope: no such run in %s", path);
  PC_ASSERT_STR_EQ(err.message, want);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_get(rs, "nope", &run, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(run);
  PC_ASSERT_STR_EQ(err.message, want);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "x", "train", NULL, &err),
                  PC_E_INVALID_ARG);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "../x", "eval", NULL, &err),
                  PC_E_INVALID_ARG);
  pc_error_clear(&err);

  /* Newest first, bodies left out, trials counted. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_list(rs, 0, &runs, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(runs), 2);
  run = json_object_array_get_idx(runs, 0);
  PC_ASSERT_STR_EQ(member_text(run, "id"), "\"new\"");
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"running\"");
  CU_ASSERT_EQUAL(member_int(run, "trials"), 2);
  CU_ASSERT_EQUAL(member_int(run, "started_ms"), started);
  PC_ASSERT_STR_EQ(member_text(run, "spec"), "(absent)");
  PC_ASSERT_STR_EQ(member_text(run, "result"), "(absent)");
  run = json_object_array_get_idx(runs, 1);
  PC_ASSERT_STR_EQ(member_text(run, "id"), "\"old\"");
  PC_ASSERT_STR_EQ(member_text(run, "kind"), "\"eval\"");
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"interrupted\"");
  CU_ASSERT_EQUAL(member_int(run, "trials"), 0);
  CU_ASSERT(member_int(run, "finished_ms") >= member_int(run, "started_ms"));
  json_object_put(runs);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_list(rs, 1, &runs, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(runs), 1);
  PC_ASSERT_STR_EQ(member_text(json_object_array_get_idx(runs, 0), "id"),
                   "\"new\"");
  json_object_put(runs);

  json_object_put(spec);
  json_object_put(result);
  json_object_put(rec);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_duplicate_id_is_refused_and_keeps_the_first(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *first = parse("{\"n\": 1}");
  struct json_object *second = parse("{\"n\": 2}");
  struct json_object *run = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r", "compile", first, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_set_status(rs, "r", "done", NULL, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r", "eval", second, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "run r: already exists"));
  CU_ASSERT(has_substr(err.message, path));
  CU_ASSERT_EQUAL_FATAL(pc_runstore_get(rs, "r", &run, NULL), PC_OK);
  PC_ASSERT_STR_EQ(member_text(run, "spec"), "{\"n\":1}");
  PC_ASSERT_STR_EQ(member_text(run, "kind"), "\"compile\"");
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"done\"");
  json_object_put(run);
  json_object_put(first);
  json_object_put(second);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Trials, log, checkpoints, calls                                        */

static void test_trials_come_back_in_order_and_overwrite(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *arr = NULL, *rec;
  pc_error err = PC_ERROR_INIT;
  const int order[] = {2, 0, 1};
  char text[64];

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "c", "compile", NULL, &err), PC_OK);
  for (int k = 0; k < 3; k++) {
    snprintf(text, sizeof(text), "{\"trial\": %d, \"score\": %d}", order[k],
             order[k] * 10);
    rec = parse(text);
    CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "c", order[k], rec, &err),
                    PC_OK);
    json_object_put(rec);
  }
  /* A resumed compile re-records trial 1. */
  rec = parse("{\"trial\": 1, \"score\": 99}");
  CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "c", 1, rec, &err), PC_OK);
  json_object_put(rec);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(rs, "c", &arr, &err), PC_OK);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(arr,
                                                  JSON_C_TO_STRING_PLAIN),
                   "[{\"trial\":0,\"score\":0},{\"trial\":1,\"score\":99},"
                   "{\"trial\":2,\"score\":20}]");
  json_object_put(arr);

  /* A run with no trials has an empty list; an unknown run is an error. */
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "e", "eval", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(rs, "e", &arr, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(arr), 0);
  json_object_put(arr);
  CU_ASSERT_EQUAL(pc_runstore_trials(rs, "zz", &arr, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(arr);
  pc_error_clear(&err);
  rec = parse("{\"x\": 1}");
  CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "zz", 0, rec, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "run zz: no such run in"));
  json_object_put(rec);
  pc_error_clear(&err);
  rec = parse("[1, 2]");
  CU_ASSERT_EQUAL(pc_runstore_put_trial(rs, "c", 3, rec, &err),
                  PC_E_INVALID_ARG);
  json_object_put(rec);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_log_round_trips_a_binary_multi_megabyte_answer(void)
{
  char dir[512], path[700], *sha = NULL, *ans = NULL;
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  const size_t big = (size_t)5 << 20;
  unsigned char *blob = pc_malloc(big);
  pc_error err = PC_ERROR_INIT;
  size_t len = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
  for (size_t i = 0; i < big; i++)  /* every byte value, NULs included */
    blob[i] = (unsigned char)((i * 7919u + (i >> 12)) & 0xff);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "c", "compile", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_put(rs, "c", 0, "sha-zero",
                                      (const char *)blob, big, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_put(rs, "c", 1, "sha-one", "[]", 2, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_put(rs, "c", 2, "sha-two", NULL, 0, &err),
                  PC_OK);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_log_get(rs, "c", 0, &sha, &ans, &len,
                                            &err), PC_OK);
  PC_ASSERT_STR_EQ(sha, "sha-zero");
  CU_ASSERT_EQUAL(len, big);
  CU_ASSERT(ans && memcmp(ans, blob, big) == 0 && ans[big] == '\0');
  pc_free(sha);
  pc_free(ans);

  /* An empty answer is an entry, not a missing one. */
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "c", 2, &sha, &ans, &len, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL(ans);
  CU_ASSERT_EQUAL(len, 0);
  PC_ASSERT_STR_EQ(sha, "sha-two");
  pc_free(sha);
  pc_free(ans);

  /* No entry: PC_OK with NULLs. */
  len = 7;
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "c", 3, &sha, &ans, &len, &err),
                  PC_OK);
  CU_ASSERT_PTR_NULL(ans);
  CU_ASSERT_PTR_NULL(sha);
  CU_ASSERT_EQUAL(len, 0);

  /* Replacing and truncating. */
  CU_ASSERT_EQUAL(pc_runstore_log_put(rs, "c", 1, "sha-1b", "{}", 2, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "c", 1, NULL, &ans, NULL, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(ans, "{}");
  pc_free(ans);
  CU_ASSERT_EQUAL(pc_runstore_log_truncate(rs, "c", 1, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "c", 1, NULL, &ans, NULL, &err),
                  PC_OK);
  CU_ASSERT_PTR_NULL(ans);
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "c", 0, NULL, &ans, &len, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(len, big);
  pc_free(ans);

  /* Logging for a run that does not exist. */
  CU_ASSERT_EQUAL(pc_runstore_log_put(rs, "zz", 0, "s", "a", 1, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "run zz: no such run in"));
  CU_ASSERT(has_substr(err.message, path));
  pc_free(blob);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_checkpoint_keeps_only_the_latest(void)
{
  char dir[512], path[700], *json = NULL;
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  pc_error err = PC_ERROR_INIT;
  size_t len = 5;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "c", "compile", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_checkpoint_get(rs, "c", &json, &len, &err),
                  PC_OK);
  CU_ASSERT_PTR_NULL(json);
  CU_ASSERT_EQUAL(len, 0);
  CU_ASSERT_EQUAL(pc_runstore_checkpoint_put(rs, "c", "{\"round\":1}", 11,
                                             &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_checkpoint_put(rs, "c", "{\"round\":22}", 12,
                                             &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_checkpoint_get(rs, "c", &json, &len, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(json, "{\"round\":22}");
  CU_ASSERT_EQUAL(len, 12);
  pc_free(json);
  CU_ASSERT_EQUAL(pc_runstore_checkpoint_put(rs, "zz", "{}", 2, &err),
                  PC_E_INVALID_ARG);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static const char CALLS_A[] =
  "[{\"predictor\": \"qa\", \"model\": \"sim-1@x\", \"cache_hit\": false,"
  "  \"prompt_tokens\": 100, \"completion_tokens\": 10,"
  "  \"latency_ms\": 12, \"cost\": 0.5},"
  " {\"predictor\": \"qa\", \"model\": \"sim-1@x\", \"cache_hit\": true,"
  "  \"prompt_tokens\": 100, \"completion_tokens\": 10,"
  "  \"latency_ms\": 0.4, \"cost\": 0}]";
static const char CALLS_B[] =
  "[{\"predictor\": null, \"model\": \"gpt\", \"cache_hit\": false,"
  "  \"prompt_tokens\": 7, \"completion_tokens\": 3,"
  "  \"latency_ms\": 30, \"cost\": null}]";

static void test_call_totals_count_each_batch_once(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *a = parse(CALLS_A), *b = parse(CALLS_B), *tot = NULL;
  struct json_object *bad = parse("[{\"predictor\": \"qa\", \"model\": \"m\","
                                  " \"cache_hit\": false, \"prompt_tokens\":"
                                  " 1, \"completion_tokens\": 1, "
                                  "\"latency_ms\": 1, \"cost\": 1}, "
                                  "{\"predictor\": \"qa\", \"model\": \"m\","
                                  " \"cache_hit\": false, \"prompt_tokens\":"
                                  " -4, \"completion_tokens\": 1, "
                                  "\"latency_ms\": 1, \"cost\": 1}]");
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "c", "compile", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "c", &tot, &err), PC_OK);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(tot,
                                                  JSON_C_TO_STRING_PLAIN),
                   "{\"calls\":0,\"cache_hits\":0,\"prompt_tokens\":0,"
                   "\"completion_tokens\":0,\"tokens\":0,\"latency_ms\":0,"
                   "\"cost\":0.0,\"cost_unknown\":0,\"retries\":0}");
  json_object_put(tot);

  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c", 0, a, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c", 1, b, &err), PC_OK);
  /* Batch 0 recorded again (a resume) replaces, never adds. */
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c", 0, a, &err), PC_OK);
  /* A bad batch stores nothing, and names the element and member. */
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c", 2, bad, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "run c: calls[1].prompt_tokens: expected an "
                   "integer >= 0");
  pc_error_clear(&err);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "c", &tot, &err), PC_OK);
  CU_ASSERT_EQUAL(member_int(tot, "calls"), 3);
  CU_ASSERT_EQUAL(member_int(tot, "cache_hits"), 1);
  CU_ASSERT_EQUAL(member_int(tot, "prompt_tokens"), 207);
  CU_ASSERT_EQUAL(member_int(tot, "completion_tokens"), 23);
  CU_ASSERT_EQUAL(member_int(tot, "tokens"), 230);
  CU_ASSERT_EQUAL(member_int(tot, "latency_ms"), 42);
  PC_ASSERT_STR_EQ(member_text(tot, "cost"), "0.5");
  CU_ASSERT_EQUAL(member_int(tot, "cost_unknown"), 1);
  json_object_put(tot);

  /* An empty batch clears its calls. */
  json_object_put(b);
  b = json_object_new_array();
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c", 1, b, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "c", &tot, &err), PC_OK);
  CU_ASSERT_EQUAL(member_int(tot, "calls"), 2);
  CU_ASSERT_EQUAL(member_int(tot, "cost_unknown"), 0);
  json_object_put(tot);

  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "zz", 0, a, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "run zz: no such run"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_call_totals(rs, "zz", &tot, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(tot);
  json_object_put(a);
  json_object_put(b);
  json_object_put(bad);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Call records, schema version 2                                         */

/* The layout of a version-1 store, as promptc wrote it before call records
 * had bodies: the migration must take such a file as it is. */
static const char V1_SCHEMA[] =
  "CREATE TABLE runs (id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL,"
  " status TEXT NOT NULL, spec TEXT NOT NULL, result TEXT,"
  " started_ms INTEGER NOT NULL, finished_ms INTEGER);"
  "CREATE INDEX runs_by_start ON runs (started_ms);"
  "CREATE TABLE trials (run_id TEXT NOT NULL REFERENCES runs (id)"
  " ON DELETE CASCADE, trial INTEGER NOT NULL, record TEXT NOT NULL,"
  " recorded_ms INTEGER NOT NULL, PRIMARY KEY (run_id, trial))"
  " WITHOUT ROWID;"
  "CREATE TABLE replay_log (run_id TEXT NOT NULL REFERENCES runs (id)"
  " ON DELETE CASCADE, seq INTEGER NOT NULL, request_sha TEXT NOT NULL,"
  " answer BLOB NOT NULL, PRIMARY KEY (run_id, seq));"
  "CREATE TABLE checkpoints (run_id TEXT PRIMARY KEY NOT NULL"
  " REFERENCES runs (id) ON DELETE CASCADE, state BLOB NOT NULL,"
  " saved_ms INTEGER NOT NULL);"
  "CREATE TABLE calls (run_id TEXT NOT NULL REFERENCES runs (id)"
  " ON DELETE CASCADE, seq INTEGER NOT NULL, idx INTEGER NOT NULL,"
  " predictor TEXT, model TEXT, cache_hit INTEGER NOT NULL,"
  " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
  " latency_ms REAL NOT NULL, cost REAL,"
  " PRIMARY KEY (run_id, seq, idx)) WITHOUT ROWID;"
  "PRAGMA application_id = 1346589267;"  /* 0x50435253, "PCRS" */
  "PRAGMA user_version = 1;"
  "INSERT INTO runs VALUES ('old', 'compile', 'done', '{\"p\":1}', NULL,"
  " 1700000000000, 1700000001000);"
  "INSERT INTO trials VALUES ('old', 0, '{\"score\":50}', 1700000000500);"
  "INSERT INTO calls VALUES ('old', 0, 0, 'qa', 'm1', 1, 5, 2, 1.5, 0.25);"
  "INSERT INTO calls VALUES ('old', 0, 1, NULL, 'm1', 0, 7, 3, 2, NULL);";

/* One integer from `sql` on the file at `path`, read directly; -1 when
 * the query fails. */
static long long raw_int(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  long long v = -1;

  if (sqlite3_open(path, &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static const char *plain(struct json_object *v)
{
  return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static void test_version_1_store_is_migrated_in_place(void)
{
  char dir[512], path[700];
  pc_runstore *rs = NULL;
  struct json_object *calls = NULL, *run = NULL, *tot = NULL, *trials = NULL;
  struct json_object *batch = parse(
    "[{\"predictor\": \"qa\", \"model\": \"m2\", \"cache_hit\": false,"
    "  \"prompt_tokens\": 1, \"completion_tokens\": 1, \"latency_ms\": 3,"
    "  \"cost\": null, \"retries\": 4, \"record\": {\"note\": \"new\"}}]");
  pc_error err = PC_ERROR_INIT;
  int64_t next = -1;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/runs.sqlite", dir);
  CU_ASSERT_FATAL(raw_sql(path, V1_SCHEMA) == SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(raw_int(path, "PRAGMA user_version"), 1);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  CU_ASSERT_EQUAL(raw_int(path, "PRAGMA user_version"), 2);
  /* What version 1 held is all there. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_get(rs, "old", &run, &err), PC_OK);
  PC_ASSERT_STR_EQ(member_text(run, "status"), "\"done\"");
  PC_ASSERT_STR_EQ(member_text(run, "spec"), "{\"p\":1}");
  json_object_put(run);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(rs, "old", &trials, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(trials), 1);
  json_object_put(trials);
  /* Old calls have no body: they are rebuilt from their columns. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "old", 0, &calls, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(calls), 2);
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 0)),
                   "{\"predictor\":\"qa\",\"model\":\"m1\",\"cache_hit\":true,"
                   "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2},"
                   "\"latency_ms\":1.5,\"cost\":0.25,\"retries\":0,"
                   "\"seq\":0,\"idx\":0}");
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 1)),
                   "{\"predictor\":null,\"model\":\"m1\",\"cache_hit\":false,"
                   "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3},"
                   "\"latency_ms\":2.0,\"cost\":null,\"retries\":0,"
                   "\"seq\":0,\"idx\":1}");
  json_object_put(calls);
  /* New calls with bodies and retries go in beside them. */
  CU_ASSERT_EQUAL(pc_runstore_calls_next_seq(rs, "old", &next, &err), PC_OK);
  CU_ASSERT_EQUAL(next, 1);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "old", next, batch, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "old", &tot, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(member_int(tot, "calls"), 3);
  CU_ASSERT_EQUAL(member_int(tot, "retries"), 4);
  CU_ASSERT_EQUAL(member_int(tot, "cost_unknown"), 2);
  json_object_put(tot);
  pc_runstore_close(rs);
  rs = NULL;

  /* Opened again, it is simply version 2: nothing is migrated twice. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  CU_ASSERT_EQUAL(raw_int(path, "PRAGMA user_version"), 2);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "old", 1, &calls, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(calls), 1);
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 0)),
                   "{\"note\":\"new\",\"seq\":1,\"idx\":0}");
  json_object_put(calls);
  json_object_put(batch);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_call_records_come_back_oldest_first_with_seq(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *b0 = parse(
    "[{\"predictor\": \"a\", \"model\": \"m\", \"cache_hit\": false,"
    "  \"prompt_tokens\": 10, \"completion_tokens\": 2, \"latency_ms\": 1,"
    "  \"cost\": 0.5, \"retries\": 2, \"record\": {\"predictor\": \"a\","
    "  \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],"
    "  \"completion\": \"yo\", \"bad\": NaN}},"
    " {\"predictor\": \"b\", \"model\": null, \"cache_hit\": true,"
    "  \"prompt_tokens\": 0, \"completion_tokens\": 0, \"latency_ms\": 0,"
    "  \"cost\": 0, \"record\": null}]");
  struct json_object *b1 = parse(
    "[{\"predictor\": \"c\", \"model\": \"m\", \"cache_hit\": false,"
    "  \"prompt_tokens\": 1, \"completion_tokens\": 1, \"latency_ms\": 1,"
    "  \"cost\": null, \"record\": {\"n\": 3}}]");
  struct json_object *bad_rec = parse(
    "[{\"predictor\": \"c\", \"model\": \"m\", \"cache_hit\": false,"
    "  \"prompt_tokens\": 1, \"completion_tokens\": 1, \"latency_ms\": 1,"
    "  \"cost\": null, \"record\": 5}]");
  struct json_object *bad_retries = parse(
    "[{\"predictor\": \"c\", \"model\": \"m\", \"cache_hit\": false,"
    "  \"prompt_tokens\": 1, \"completion_tokens\": 1, \"latency_ms\": 1,"
    "  \"cost\": null, \"retries\": -1}]");
  struct json_object *calls = NULL, *tot = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b0);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r", "run", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "r", 1, b1, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "r", 0, b0, &err), PC_OK);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "r", 0, &calls, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(calls), 3);
  /* The body as stored (a NaN, which JSON cannot hold, as null)... */
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 0)),
                   "{\"predictor\":\"a\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"hi\"}],\"completion\":\"yo\",\"bad\":null,"
                   "\"seq\":0,\"idx\":0}");
  /* ...a call without one rebuilt from its columns... */
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 1)),
                   "{\"predictor\":\"b\",\"model\":null,\"cache_hit\":true,"
                   "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0},"
                   "\"latency_ms\":0.0,\"cost\":0.0,\"retries\":0,"
                   "\"seq\":0,\"idx\":1}");
  /* ...and the later batch last, whatever order they were written in. */
  PC_ASSERT_STR_EQ(plain(json_object_array_get_idx(calls, 2)),
                   "{\"n\":3,\"seq\":1,\"idx\":0}");
  json_object_put(calls);

  /* The newest two, oldest first. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "r", 2, &calls, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(calls), 2);
  PC_ASSERT_STR_EQ(member_text(json_object_array_get_idx(calls, 0),
                               "predictor"), "\"b\"");
  PC_ASSERT_STR_EQ(member_text(json_object_array_get_idx(calls, 1), "n"),
                   "3");
  json_object_put(calls);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "r", &tot, &err), PC_OK);
  CU_ASSERT_EQUAL(member_int(tot, "calls"), 3);
  CU_ASSERT_EQUAL(member_int(tot, "retries"), 2);
  CU_ASSERT_EQUAL(member_int(tot, "cache_hits"), 1);
  json_object_put(tot);

  /* Wrong optional members are refused, naming them; nothing changes. */
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "r", 1, bad_rec, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "run r: calls[0].record: expected a JSON "
                   "object or null");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "r", 1, bad_retries, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "run r: calls[0].retries: expected an "
                   "integer >= 0");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "r", 0, &calls, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(calls), 3);
  json_object_put(calls);
  calls = NULL;

  /* A run without calls has none; an unknown run is an error. */
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "empty", "eval", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "empty", 5, &calls, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(calls), 0);
  json_object_put(calls);
  calls = NULL;
  CU_ASSERT_EQUAL(pc_runstore_calls(rs, "zz", 0, &calls, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(calls);
  CU_ASSERT(has_substr(err.message, "run zz: no such run"));

  json_object_put(b0);
  json_object_put(b1);
  json_object_put(bad_rec);
  json_object_put(bad_retries);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static const char ONE_CALL[] =
  "[{\"predictor\": \"p\", \"model\": \"m\", \"cache_hit\": false,"
  "  \"prompt_tokens\": 1, \"completion_tokens\": 1, \"latency_ms\": 1,"
  "  \"cost\": null}]";

static void test_next_seq_and_last_run_follow_the_calls(void)
{
  char dir[512], path[700], id[PC_RUN_ID_MAX];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *one = parse(ONE_CALL);
  pc_error err = PC_ERROR_INIT;
  int64_t next = -1;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  memset(id, 'x', sizeof(id));
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, NULL, id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "");  /* no runs at all */

  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "e1", "eval", NULL, &err), PC_OK);
  usleep(5000);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "c1", "compile", NULL, &err), PC_OK);
  usleep(5000);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "r1", "run", NULL, &err), PC_OK);

  CU_ASSERT_EQUAL(pc_runstore_calls_next_seq(rs, "e1", &next, &err), PC_OK);
  CU_ASSERT_EQUAL(next, 0);
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, NULL, id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "");  /* runs, but none with calls */

  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "e1", 0, one, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "e1", 4, one, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_calls_next_seq(rs, "e1", &next, &err), PC_OK);
  CU_ASSERT_EQUAL(next, 5);
  /* The newest run with calls, not the newest run. */
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, NULL, id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "e1");

  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "c1", 0, one, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, NULL, id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "c1");
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, "eval", id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "e1");
  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, "run", id, &err), PC_OK);
  PC_ASSERT_STR_EQ(id, "");

  CU_ASSERT_EQUAL(pc_runstore_last_run(rs, "train", id, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT(has_substr(err.message, "\"train\""));
  pc_error_clear(&err);
  next = 9;
  CU_ASSERT_EQUAL(pc_runstore_calls_next_seq(rs, "zz", &next, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(next, 0);
  CU_ASSERT(has_substr(err.message, "run zz: no such run"));
  json_object_put(one);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* The runtime's call log into the store                                  */

#define LOG_THREADS 4
#define LOG_PER_THREAD 100

/* A runtime over the fixture LM plugin, which no test here calls: the
 * records are handed to pc_runtime_remember directly. */
static pc_runtime *open_runtime(pc_config **cfg, pc_registry **reg)
{
  static const char text[] = "{\"lm\": {\"provider\": \"fx_lm\"}}";
  const char *b = getenv("PC_TEST_BUILDDIR");
  const char *cfg_path = pc_test_tmpfile(text, sizeof(text) - 1, ".json");
  pc_runtime_opts o;
  pc_runtime *rt = NULL;
  pc_error err = PC_ERROR_INIT;
  char dir[4096];

  snprintf(dir, sizeof(dir), "%s/tests/plugins/.libs", (b && *b) ? b : ".");
  *cfg = NULL;
  if (!cfg_path || pc_config_load(cfg_path, cfg, &err) ||
      !(*reg = pc_registry_new()) ||
      pc_registry_load_default(*reg, dir, &err))
    goto out;
  memset(&o, 0, sizeof(o));
  o.cfg = *cfg;
  o.reg = *reg;
  o.threads = 1;
  o.no_cache = 1;
  pc_runtime_open(&o, &rt, &err);
out:
  if (!rt)
    fprintf(stderr, "runtime: %s\n", err.message);
  return rt;
}

/* A call record as predict.c makes one, numbered by thread and index. */
static struct json_object *fake_record(int thread, int i)
{
  char text[512];

  snprintf(text, sizeof(text),
           "{\"predictor\": \"p%d\", \"model\": \"fx@1\", "
           "\"served_model\": \"fx-served\", \"cache_hit\": %s, "
           "\"usage\": {\"prompt_tokens\": %d, \"completion_tokens\": 1}, "
           "\"latency_ms\": 0.5, \"cost\": %s, \"retries\": %d, "
           "\"messages\": [{\"role\": \"user\", \"content\": \"q\"}], "
           "\"completion\": \"a\", \"thread\": %d, \"i\": %d}",
           thread, i % 5 == 0 ? "true" : "false", i,
           i % 2 ? "null" : "0.001", i % 3 == 0 ? 1 : 0, thread, i);
  return parse(text);
}

struct rememberer {
  pc_runtime *rt;
  int thread;
};

static void *remember_many(void *arg)
{
  struct rememberer *r = arg;

  for (int i = 0; i < LOG_PER_THREAD; i++) {
    struct json_object *rec = fake_record(r->thread, i);

    pc_runtime_remember(r->rt, rec);
    json_object_put(rec);
  }
  return NULL;
}

static int64_t stored_calls(pc_runstore *rs, const char *id)
{
  struct json_object *tot = NULL;
  int64_t n = -1;

  if (pc_runstore_call_totals(rs, id, &tot, NULL) == PC_OK)
    n = member_int(tot, "calls");
  json_object_put(tot);
  return n;
}

static void test_runtime_call_log_stores_every_record_in_batches(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  pc_runtime *rt = open_runtime(&cfg, &reg);
  struct rememberer r[LOG_THREADS];
  pthread_t th[LOG_THREADS];
  struct json_object *one = parse(ONE_CALL), *calls = NULL, *tot = NULL;
  pc_error err = PC_ERROR_INIT;
  int seen[LOG_THREADS][LOG_PER_THREAD];
  int64_t n, prompt = 0, retries = 0, unpriced = 0, hits = 0;
  int all_seen = 1, all_timed = 1, rows_ok = 1;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "t", "eval", NULL, &err), PC_OK);
  /* A batch from an earlier session: the log adds after it. */
  CU_ASSERT_EQUAL(pc_runstore_put_calls(rs, "t", 0, one, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runtime_log_calls(rt, rs, "nope", &err),
                  PC_E_INVALID_ARG);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(pc_runtime_log_calls(rt, rs, "t", &err), PC_OK);

  for (int k = 0; k < LOG_THREADS; k++) {
    r[k].rt = rt;
    r[k].thread = k;
    CU_ASSERT_FATAL(pthread_create(&th[k], NULL, remember_many, &r[k]) == 0);
  }
  for (int k = 0; k < LOG_THREADS; k++)
    pthread_join(th[k], NULL);
  /* Full batches were written as they filled; at most about one batch
   * waits in the queue. */
  n = stored_calls(rs, "t");
  CU_ASSERT(n >= 1 + LOG_THREADS * LOG_PER_THREAD - PC_CALL_LOG_BATCH -
                 LOG_THREADS);
  CU_ASSERT(n < 1 + LOG_THREADS * LOG_PER_THREAD);
  pc_runtime_flush_calls(rt);
  CU_ASSERT_EQUAL(stored_calls(rs, "t"), 1 + LOG_THREADS * LOG_PER_THREAD);

  /* Detaching writes what is queued; after it nothing is logged. */
  for (int i = 0; i < 3; i++) {
    struct json_object *rec = fake_record(9, i);

    pc_runtime_remember(rt, rec);
    json_object_put(rec);
  }
  CU_ASSERT_EQUAL(pc_runtime_log_calls(rt, NULL, NULL, &err), PC_OK);
  n = 1 + LOG_THREADS * LOG_PER_THREAD + 3;
  CU_ASSERT_EQUAL(stored_calls(rs, "t"), n);
  {
    struct json_object *rec = fake_record(9, 3);

    pc_runtime_remember(rt, rec);
    json_object_put(rec);
  }
  pc_runtime_flush_calls(rt);
  CU_ASSERT_EQUAL(stored_calls(rs, "t"), n);

  /* Every record is there once, stamped, with its columns filled in. */
  memset(seen, 0, sizeof(seen));
  CU_ASSERT_EQUAL_FATAL(pc_runstore_calls(rs, "t", 0, &calls, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(calls), (size_t)n);
  PC_ASSERT_STR_EQ(member_text(json_object_array_get_idx(calls, 0), "seq"),
                   "0");  /* the earlier batch was kept */
  for (size_t i = 1; i < (size_t)n; i++) {
    struct json_object *c = json_object_array_get_idx(calls, i);
    int64_t t = member_int(c, "thread"), k = member_int(c, "i");

    if (member_int(c, "seq") < 1 || member_int(c, "time_ms") < 1600000000000)
      all_timed = 0;
    if (t >= 0 && t < LOG_THREADS && k >= 0 && k < LOG_PER_THREAD)
      seen[t][k]++;
    else if (t != 9)
      rows_ok = 0;
  }
  for (int t = 0; t < LOG_THREADS; t++)
    for (int k = 0; k < LOG_PER_THREAD; k++) {
      if (seen[t][k] != 1)
        all_seen = 0;
      prompt += k;
      retries += k % 3 == 0;
      unpriced += k % 2;
      hits += k % 5 == 0;
    }
  for (int k = 0; k < 3; k++) {
    prompt += k;
    retries += k % 3 == 0;
    unpriced += k % 2;
    hits += k % 5 == 0;
  }
  CU_ASSERT(all_seen);
  CU_ASSERT(all_timed);
  CU_ASSERT(rows_ok);
  json_object_put(calls);
  /* The columns came from the records: tokens, retries, cost, hits. */
  CU_ASSERT_EQUAL_FATAL(pc_runstore_call_totals(rs, "t", &tot, &err), PC_OK);
  CU_ASSERT_EQUAL(member_int(tot, "prompt_tokens"), 1 + prompt);
  CU_ASSERT_EQUAL(member_int(tot, "retries"), retries);
  CU_ASSERT_EQUAL(member_int(tot, "cost_unknown"), 1 + unpriced);
  CU_ASSERT_EQUAL(member_int(tot, "cache_hits"), hits);
  json_object_put(tot);

  /* Closing the runtime writes what is queued. */
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "u", "run", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runtime_log_calls(rt, rs, "u", &err), PC_OK);
  for (int i = 0; i < 2; i++) {
    struct json_object *rec = fake_record(8, i);

    pc_runtime_remember(rt, rec);
    json_object_put(rec);
  }
  pc_runtime_close(rt);
  CU_ASSERT_EQUAL(stored_calls(rs, "u"), 2);

  json_object_put(one);
  pc_registry_free(reg);
  pc_config_free(cfg);
  pc_runstore_close(rs);
  rm_rf(dir);
}

static void test_runtime_call_log_failure_is_not_a_failed_call(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  pc_runtime *rt = open_runtime(&cfg, &reg);
  struct json_object *hist, *rec = fake_record(0, 1);
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "gone", "eval", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_runtime_log_calls(rt, rs, "gone", &err), PC_OK);
  /* The run disappears under the log: every batch write now fails (a
   * warning on stderr), and the calls still go on. */
  CU_ASSERT_FATAL(raw_sql(path, "PRAGMA foreign_keys = ON; "
                          "DELETE FROM runs WHERE id = 'gone'") == SQLITE_OK);
  for (int i = 0; i < PC_CALL_LOG_BATCH * 2 + 5; i++)
    pc_runtime_remember(rt, rec);
  CU_ASSERT_EQUAL(pc_runtime_log_calls(rt, NULL, NULL, &err), PC_OK);
  hist = pc_runtime_history(rt, 0);
  CU_ASSERT_EQUAL(json_object_array_length(hist), PC_HISTORY_DEFAULT);
  json_object_put(hist);
  CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM calls"), 0);
  json_object_put(rec);
  pc_runtime_close(rt);
  pc_registry_free(reg);
  pc_config_free(cfg);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Sharing and durability                                                 */

static void test_two_handles_on_one_file_see_each_other(void)
{
  char dir[512], path[700], *ans = NULL;
  pc_runstore *a = fresh_store(dir, path, sizeof(path)), *b = NULL;
  struct json_object *rec = parse("{\"k\": 1}"), *arr = NULL, *runs = NULL;
  pc_error err = PC_ERROR_INIT;
  size_t len = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &b, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_begin(a, "r", "compile", NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_trial(b, "r", 0, rec, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_put_trial(a, "r", 1, rec, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_put(b, "r", 0, "s", "answer", 6, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_get(a, "r", 0, NULL, &ans, &len, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(ans, "answer");
  pc_free(ans);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(a, "r", &arr, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(arr), 2);
  json_object_put(arr);
  CU_ASSERT_EQUAL(pc_runstore_begin(b, "r", "eval", NULL, &err),
                  PC_E_INVALID_ARG);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_list(b, 0, &runs, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(runs), 1);
  CU_ASSERT_EQUAL(member_int(json_object_array_get_idx(runs, 0), "trials"),
                  2);
  json_object_put(runs);
  json_object_put(rec);
  pc_runstore_close(a);
  pc_runstore_close(b);
  rm_rf(dir);
}

#define THREADS 4
#define PER_THREAD 40

struct writer {
  pc_runstore *rs;
  int base;
  int failures;
};

static void *write_trials(void *arg)
{
  struct writer *w = arg;
  char text[64];

  for (int i = 0; i < PER_THREAD; i++) {
    pc_error err = PC_ERROR_INIT;
    struct json_object *rec;

    snprintf(text, sizeof(text), "{\"n\": %d}", w->base + i);
    rec = parse(text);
    if (pc_runstore_put_trial(w->rs, "t", w->base + i, rec, &err) != PC_OK ||
        pc_runstore_log_put(w->rs, "t", w->base + i, "s", text,
                            strlen(text), &err) != PC_OK)
      w->failures++;
    json_object_put(rec);
  }
  return NULL;
}

static void test_one_handle_is_safe_from_many_threads(void)
{
  char dir[512], path[700];
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct writer w[THREADS];
  pthread_t th[THREADS];
  struct json_object *arr = NULL;
  pc_error err = PC_ERROR_INIT;
  int ordered = 1;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "t", "compile", NULL, &err), PC_OK);
  for (int k = 0; k < THREADS; k++) {
    w[k].rs = rs;
    w[k].base = k * PER_THREAD;
    w[k].failures = 0;
    CU_ASSERT_FATAL(pthread_create(&th[k], NULL, write_trials, &w[k]) == 0);
  }
  for (int k = 0; k < THREADS; k++) {
    pthread_join(th[k], NULL);
    CU_ASSERT_EQUAL(w[k].failures, 0);
  }
  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(rs, "t", &arr, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(arr),
                        THREADS * PER_THREAD);
  for (size_t i = 0; i < THREADS * PER_THREAD; i++)
    if (member_int(json_object_array_get_idx(arr, i), "n") != (int64_t)i)
      ordered = 0;
  CU_ASSERT(ordered);
  json_object_put(arr);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* The child: write a log entry and a trial with its own handle, then die
 * by SIGKILL at once (no close, no exit handlers). Exits 1 if a write
 * failed, so the parent sees an exit instead of the signal. */
static void child_write_then_die(const char *path)
{
  pc_runstore *rs = NULL;
  struct json_object *rec = parse("{\"trial\": 5, \"score\": 77.5}");

  if (pc_runstore_open(path, &rs, NULL) != PC_OK ||
      pc_runstore_log_put(rs, "k", 4, "sha-four", "paid\0answer", 11,
                          NULL) != PC_OK ||
      pc_runstore_put_trial(rs, "k", 5, rec, NULL) != PC_OK)
    _exit(1);
  json_object_put(rec);
  kill(getpid(), SIGKILL);  /* the store is left open on purpose */
  _exit(2);  /* not reached */
}

static void test_writes_survive_sigkill_right_after(void)
{
  char dir[512], path[700], *sha = NULL, *ans = NULL;
  pc_runstore *rs = fresh_store(dir, path, sizeof(path));
  struct json_object *arr = NULL;
  pc_error err = PC_ERROR_INIT;
  size_t len = 0;
  pid_t pid;
  int status = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_EQUAL(pc_runstore_begin(rs, "k", "compile", NULL, &err), PC_OK);
  pc_runstore_close(rs);  /* a connection must not cross fork() */
  rs = NULL;
  fflush(NULL);
  pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0)
    child_write_then_die(path);
  CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
  CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  CU_ASSERT_EQUAL_FATAL(pc_runstore_open(path, &rs, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runstore_log_get(rs, "k", 4, &sha, &ans, &len, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(sha, "sha-four");
  CU_ASSERT(len == 11 && ans && memcmp(ans, "paid\0answer", 11) == 0);
  pc_free(sha);
  pc_free(ans);
  CU_ASSERT_EQUAL_FATAL(pc_runstore_trials(rs, "k", &arr, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(arr), 1);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(
                     json_object_array_get_idx(arr, 0),
                     JSON_C_TO_STRING_PLAIN),
                   "{\"trial\":5,\"score\":77.5}");
  json_object_put(arr);
  pc_runstore_close(rs);
  rm_rf(dir);
}

/* The fork test runs first: its child then inherits no thread stacks or
 * environment copies that memcheck would report when SIGKILL ends it. */
static CU_TestInfo runstore_tests[] = {
  {"writes survive SIGKILL right after",
   test_writes_survive_sigkill_right_after},
  {"open creates nested directories and the file",
   test_open_creates_nested_directories_and_file},
  {"default path follows XDG_STATE_HOME, then HOME",
   test_default_path_follows_xdg_then_home},
  {"foreign files are refused, naming the path",
   test_foreign_files_are_refused_naming_the_path},
  {"open out of memory fails cleanly", test_open_out_of_memory_fails_cleanly},
  {"ids are fresh and checked", test_ids_are_fresh_and_checked},
  {"begin, get, status and list", test_begin_get_status_and_list},
  {"duplicate id is refused and keeps the first",
   test_duplicate_id_is_refused_and_keeps_the_first},
  {"trials come back in order and overwrite",
   test_trials_come_back_in_order_and_overwrite},
  {"log round-trips a binary multi-MB answer",
   test_log_round_trips_a_binary_multi_megabyte_answer},
  {"checkpoint keeps only the latest", test_checkpoint_keeps_only_the_latest},
  {"call totals count each batch once",
   test_call_totals_count_each_batch_once},
  {"two handles on one file see each other",
   test_two_handles_on_one_file_see_each_other},
  {"one handle is safe from many threads",
   test_one_handle_is_safe_from_many_threads},
  {"a version 1 store is migrated in place",
   test_version_1_store_is_migrated_in_place},
  {"call records come back oldest first with seq",
   test_call_records_come_back_oldest_first_with_seq},
  {"next seq and last run follow the calls",
   test_next_seq_and_last_run_follow_the_calls},
  {"the runtime's call log stores every record in batches",
   test_runtime_call_log_stores_every_record_in_batches},
  {"a failing call log write is not a failed call",
   test_runtime_call_log_failure_is_not_a_failed_call},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"runstore", NULL, NULL, NULL, NULL, runstore_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
