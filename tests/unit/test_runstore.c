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
#include "harness.h"
#include "runstore.h"

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
  CU_ASSERT_FATAL(raw_sql(path, "PRAGMA user_version = 2") == SQLITE_OK);
  CU_ASSERT_EQUAL(pc_runstore_open(path, &rs, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(rs);
  CU_ASSERT(has_substr(err.message, path));
  CU_ASSERT(has_substr(err.message, "schema version 2"));

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
                   "\"cost\":0.0,\"cost_unknown\":0}");
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
