/* runstore.c - the run store: runs, trials, the replay log, checkpoints and
 * LM call records in one SQLite file (WAL). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "alloc.h"
#include "file.h"
#include "buf.h"
#include "json_text.h"
#include "runstore.h"
#include "sql.h"

#define SCHEMA_VERSION 2          /* PRAGMA user_version of our layout */
#define APPLICATION_ID 0x50435253 /* PRAGMA application_id: "PCRS" */
#define BUSY_TIMEOUT_MS 5000      /* wait this long for another writer */
#define WHY_MAX 200               /* one reason, inside a message */

/* JSON bodies are written compactly; a NaN or infinity (which JSON cannot
 * hold) is stored as null so that every stored body parses back. */
#define BODY_FLAGS (PC_JSON_TEXT_COMPACT | PC__JSON_TEXT_NONFINITE_NULL)

/*
 * Locking: `mu` guards the connection and is held for the whole of every
 * public function that touches it. The connection is opened with
 * SQLITE_OPEN_NOMUTEX because mu already serialises its use.
 */
struct pc_runstore {
  pthread_mutex_t mu;
  sqlite3 *db;   /* owned */
  char *path;    /* owned: the path given to open, for messages */
};

static const char *const SCHEMA_SQL =
  "CREATE TABLE runs ("
  " id TEXT PRIMARY KEY NOT NULL,"
  " kind TEXT NOT NULL,"
  " status TEXT NOT NULL,"
  " spec TEXT NOT NULL,"
  " result TEXT,"
  " started_ms INTEGER NOT NULL,"
  " finished_ms INTEGER);"
  "CREATE INDEX runs_by_start ON runs (started_ms);"
  "CREATE TABLE trials ("
  " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  " trial INTEGER NOT NULL,"
  " record TEXT NOT NULL,"
  " recorded_ms INTEGER NOT NULL,"
  " PRIMARY KEY (run_id, trial)) WITHOUT ROWID;"
  "CREATE TABLE replay_log ("
  " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  " seq INTEGER NOT NULL,"
  " request_sha TEXT NOT NULL,"
  " answer BLOB NOT NULL,"
  " PRIMARY KEY (run_id, seq));"
  "CREATE TABLE checkpoints ("
  " run_id TEXT PRIMARY KEY NOT NULL"
  "  REFERENCES runs (id) ON DELETE CASCADE,"
  " state BLOB NOT NULL,"
  " saved_ms INTEGER NOT NULL);"
  "CREATE TABLE calls ("
  " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  " seq INTEGER NOT NULL,"
  " idx INTEGER NOT NULL,"
  " predictor TEXT,"
  " model TEXT,"
  " cache_hit INTEGER NOT NULL,"
  " prompt_tokens INTEGER NOT NULL,"
  " completion_tokens INTEGER NOT NULL,"
  " latency_ms REAL NOT NULL,"
  " cost REAL,"
  " record TEXT,"
  " retries INTEGER NOT NULL DEFAULT 0,"
  " PRIMARY KEY (run_id, seq, idx)) WITHOUT ROWID;";

/* From version 1 to 2: the calls gain the whole call record and the
 * provider retries. The columns are appended, as a new file has them. */
static const char *const MIGRATE_1_TO_2_SQL =
  "ALTER TABLE calls ADD COLUMN record TEXT;"
  "ALTER TABLE calls ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;"
  "PRAGMA user_version = 2";

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */

/*
 * Report the failed SQLite call `rc` made for run `id` while trying to
 * `what` ("record trial 3"). A foreign key that does not hold means the
 * run is not in the store. Call before any ROLLBACK, which would replace
 * the connection's message. Returns the PC_E_* code set.
 */
static int db_error(pc_runstore *rs, int rc, const char *id, const char *what,
                    pc_error *err)
{
  int code = PC_E_IO;

  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: no such run in %s",
                        id, rs->path);
  if ((rc & 0xff) == SQLITE_NOMEM)
    code = PC_E_NOMEM;
  else if ((rc & 0xff) == SQLITE_TOOBIG)
    code = PC_E_INVALID_ARG;
  return pc_error_set(err, code, "run %s: cannot %s in %s: %s", id, what,
                      rs->path, sqlite3_errmsg(rs->db));
}

/* Undo an open transaction after a failure (its error already set). */
static void rollback(pc_runstore *rs)
{
  if (!sqlite3_get_autocommit(rs->db))
    pc_sql_exec(rs->db, "ROLLBACK");
}

static int no_run(pc_runstore *rs, const char *id, pc_error *err)
{
  return pc_error_set(err, PC_E_INVALID_ARG, "run %s: no such run in %s",
                      id, rs->path);
}

/* Check the handle and the id every run function takes. */
static int check_args(pc_runstore *rs, const char *id, pc_error *err)
{
  if (!rs)
    return pc_error_set(err, PC_E_INVALID_ARG, "run store: no handle");
  if (!pc_runstore_valid_id(id))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %.63s: invalid run id "
                        "in %s (1 to 63 of A-Z a-z 0-9 . _ -, not starting "
                        "with '.')", id ? id : "(null)", rs->path);
  return PC_OK;
}

/* Prepare `sql` and bind the run id as ?1. An SQLite code. */
static int prepare_for(pc_runstore *rs, const char *sql, const char *id,
                       sqlite3_stmt **st)
{
  int rc = sqlite3_prepare_v2(rs->db, sql, -1, st, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
  return rc;
}

/* Whether run `id` exists: PC_OK with *found 0 or 1, or an error. */
static int run_exists(pc_runstore *rs, const char *id, int *found,
                      pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc = prepare_for(rs, "SELECT 1 FROM runs WHERE id = ?1", id, &st);

  *found = 0;
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *found = 1;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    rc = db_error(rs, rc, id, "look the run up", err);
  else
    rc = PC_OK;
  sqlite3_finalize(st);
  return rc;
}

/* Column `col` of the current row as a new NUL-terminated copy (pc_free)
 * in *out and its length in *len. A NULL column gives *out NULL. */
static int column_copy(sqlite3_stmt *st, int col, char **out, size_t *len)
{
  const void *p;
  int n;

  *out = NULL;
  *len = 0;
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return PC_OK;
  p = sqlite3_column_blob(st, col);
  n = sqlite3_column_bytes(st, col);
  if (!p && n > 0)
    return PC_E_NOMEM;  /* SQLite out of memory */
  if (!(*out = pc_malloc((size_t)n + 1)))
    return PC_E_NOMEM;
  if (n > 0)
    memcpy(*out, p, (size_t)n);
  (*out)[n] = '\0';
  *len = (size_t)n;
  return PC_OK;
}

/* Column `col` parsed as JSON into *out (NULL for SQL NULL or JSON null).
 * `what` names the body in messages ("spec"). */
static int column_json(pc_runstore *rs, sqlite3_stmt *st, int col,
                       const char *id, const char *what,
                       struct json_object **out, pc_error *err)
{
  const char *text;
  pc_error perr = PC_ERROR_INIT;
  int n, rc;

  *out = NULL;
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return PC_OK;
  text = (const char *)sqlite3_column_text(st, col);
  n = sqlite3_column_bytes(st, col);
  if (!text)
    return pc_error_set(err, PC_E_NOMEM, "run %s: out of memory reading "
                        "%s", id, what);
  rc = pc_json_parse(text, (size_t)n, PC_JSON_PARSE_STRICT, out, &perr);
  if (rc == PC_E_NOMEM)
    return pc_error_set(err, rc, "run %s: out of memory reading %s", id,
                        what);
  if (rc != PC_OK)
    return pc_error_set(err, PC_E_PARSE, "run %s: stored %s in %s is not "
                        "JSON: %s", id, what, rs->path, perr.message);
  return PC_OK;
}

/* The compact JSON text of `v` (NULL is null) in `b`. */
static int body_text(pc_runstore *rs, const struct json_object *v,
                     const char *id, const char *what, pc_buf *b,
                     pc_error *err)
{
  int rc = pc_json_write(v, BODY_FLAGS, b);

  if (rc == PC_E_NOMEM)
    return pc_error_set(err, rc, "run %s: out of memory writing %s", id,
                        what);
  if (rc != PC_OK)
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: %s cannot be "
                        "stored in %s (nested deeper than %d)", id, what,
                        rs->path, PC_JSON_MAX_DEPTH);
  return PC_OK;
}

/* Add `val` (a constructor's result, owned) to `obj` under `key`. A NULL
 * `val` is out of memory unless may_be_null (JSON null). PC_OK or
 * PC_E_NOMEM; `val` is freed on failure. */
static int add(struct json_object *obj, const char *key,
               struct json_object *val, int may_be_null)
{
  if (!val && !may_be_null)
    return PC_E_NOMEM;
  if (json_object_object_add(obj, key, val) != 0) {
    json_object_put(val);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Column `col` as a new JSON string; NULL when SQLite is out of memory. */
static struct json_object *column_string(sqlite3_stmt *st, int col)
{
  const char *text = (const char *)sqlite3_column_text(st, col);

  return text ? json_object_new_string(text) : NULL;
}

/* Column `col` as a JSON integer, or null for SQL NULL. */
static int add_int_or_null(struct json_object *obj, const char *key,
                           sqlite3_stmt *st, int col)
{
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return add(obj, key, NULL, 1);
  return add(obj, key, json_object_new_int64(sqlite3_column_int64(st, col)),
             0);
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                */

/*
 * Switch the file to WAL. Changing the journal mode takes an exclusive
 * lock without calling the busy handler, so when two processes create
 * the same file at once one of them gets SQLITE_BUSY at once: retry for
 * up to the busy timeout.
 */
static int set_wal(sqlite3 *db)
{
  struct timespec pause = {0, 5 * 1000 * 1000};
  int rc, waited_ms = 0;

  for (;;) {
    rc = pc_sql_exec(db, "PRAGMA journal_mode = WAL");
    if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
      return rc;
    nanosleep(&pause, NULL);
    waited_ms += 5;
  }
}

/*
 * Create the tables in a new database, or check that an existing one is a
 * run store of our schema version, migrating an older version in place,
 * inside one write transaction so that two processes creating or
 * migrating the same file at once agree (and a failed migration leaves
 * the file as it was). Returns an SQLite code; for a database that is not
 * ours, or is newer than we read, SQLITE_MISMATCH with the reason in why.
 */
static int check_schema(sqlite3 *db, char *why, size_t n)
{
  long long version = 0, app = 0, objects = 0;
  int rc = pc_sql_exec(db, "BEGIN IMMEDIATE");

  if (rc != SQLITE_OK)
    return rc;
  rc = pc_sql_query_int(db, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK)
    rc = pc_sql_query_int(db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK)
    rc = pc_sql_query_int(db, "SELECT count(*) FROM sqlite_master", &objects);
  if (rc != SQLITE_OK)
    goto out;
  if (app == 0 && version == 0 && objects == 0) {
    char pragmas[96];

    rc = pc_sql_exec(db, SCHEMA_SQL);
    snprintf(pragmas, sizeof(pragmas), "PRAGMA application_id = %d; "
             "PRAGMA user_version = %d", APPLICATION_ID, SCHEMA_VERSION);
    if (rc == SQLITE_OK)
      rc = pc_sql_exec(db, pragmas);
  } else if (app != APPLICATION_ID || version == 0) {
    snprintf(why, n, "not a promptc run store (an SQLite database with "
             "%lld other objects)", objects);
    rc = SQLITE_MISMATCH;
  } else if (version == 1) {
    rc = pc_sql_exec(db, MIGRATE_1_TO_2_SQL);
  } else if (version != SCHEMA_VERSION) {
    snprintf(why, n, "run store schema version %lld; this promptc reads "
             "versions 1 to %d", version, SCHEMA_VERSION);
    rc = SQLITE_MISMATCH;
  }
out:
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(db, "COMMIT");
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(db)) {
    if (why[0] == '\0')  /* keep the real reason, not ROLLBACK's */
      snprintf(why, n, "%s", sqlite3_errmsg(db));
    pc_sql_exec(db, "ROLLBACK");
  }
  return rc;
}

/*
 * Make the directories and the file, open the connection and set it up:
 * extended result codes, the busy timeout, foreign keys, WAL,
 * synchronous=NORMAL, the schema. PC_OK (rs->db ready), or an error set
 * on err (rs->db closed).
 */
static int db_open(pc_runstore *rs, pc_error *err)
{
  char why[WHY_MAX] = "";
  long long fk = 0;
  struct stat st;
  int rc, fd;

  {
    pc_error e = PC_ERROR_INIT;

    if ((rc = pc_file_mkparents(rs->path, 0700, &e)) != PC_OK)
      return pc_error_wrap(err, &e, "%s", rs->path);
  }
  if (stat(rs->path, &st) == 0 && !S_ISREG(st.st_mode))
    return pc_error_set(err, PC_E_IO, "%s: %s", rs->path,
                        S_ISDIR(st.st_mode) ? "is a directory, not a run "
                        "store file" : "not a regular file");
  /* Create the file private (0600); SQLite gives its -wal and -shm files
   * the same mode. */
  fd = open(rs->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    strerror_r(errno, why, sizeof(why));
    return pc_error_set(err, PC_E_IO, "%s: cannot open: %s", rs->path, why);
  }
  close(fd);

  rc = sqlite3_open_v2(rs->path, &rs->db, SQLITE_OPEN_READWRITE |
                       SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_extended_result_codes(rs->db, 1);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(rs->db, BUSY_TIMEOUT_MS);
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(rs->db, "PRAGMA foreign_keys = ON");
  /* The journal mode is the first read of the file: a file that is not a
   * database fails here. */
  if (rc == SQLITE_OK)
    rc = set_wal(rs->db);
  if ((rc & 0xff) == SQLITE_NOTADB) {
    snprintf(why, sizeof(why), "not a promptc run store (not an SQLite "
             "database)");
    rc = SQLITE_MISMATCH;
  }
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(rs->db, "PRAGMA synchronous = NORMAL");
  if (rc == SQLITE_OK)
    rc = check_schema(rs->db, why, sizeof(why));
  if (rc == SQLITE_OK)
    rc = pc_sql_query_int(rs->db, "PRAGMA foreign_keys", &fk);
  if (rc == SQLITE_OK && fk != 1) {
    snprintf(why, sizeof(why), "this SQLite cannot enforce foreign keys");
    rc = SQLITE_MISUSE;
  }
  if (rc != SQLITE_OK) {
    int code = PC_E_IO;

    if (rc == SQLITE_MISMATCH)
      code = PC_E_INVALID_ARG;
    else if ((rc & 0xff) == SQLITE_NOMEM)
      code = PC_E_NOMEM;
    if (why[0] == '\0')
      snprintf(why, sizeof(why), "%s", rs->db ? sqlite3_errmsg(rs->db) :
               sqlite3_errstr(rc));
    sqlite3_close(rs->db);
    rs->db = NULL;
    return pc_error_set(err, code, "%s: %s", rs->path, why);
  }
  return PC_OK;
}

/* ---------------------------------------------------------------------- */
/* Public API: the store                                                  */

char *pc_runstore_default_path(void)
{
  const char *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  char *out = NULL;
  pc_buf b;
  int rc;

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  /* The XDG base directory spec ignores relative paths. */
  if (xdg && xdg[0] == '/')
    rc = pc_buf_printf(&b, "%s/promptc/%s", xdg, PC_RUNSTORE_FILE);
  else if (home && *home)
    rc = pc_buf_printf(&b, "%s/.local/state/promptc/%s", home,
                       PC_RUNSTORE_FILE);
  else
    goto out;
  if (rc == PC_OK)
    out = pc_buf_take(&b, NULL);
out:
  pc_buf_free(&b);
  return out;
}

int pc_runstore_open(const char *path, pc_runstore **out, pc_error *err)
{
  pc_runstore *rs;
  int rc;

  *out = NULL;
  if (!path || !*path)
    return pc_error_set(err, PC_E_INVALID_ARG, "run store: empty path");
  if (!(rs = pc_calloc(1, sizeof(*rs))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  if (!(rs->path = pc_strdup(path))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto fail_path;
  }
  if (pthread_mutex_init(&rs->mu, NULL) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: cannot make a mutex", path);
    goto fail_mu;
  }
  rc = db_open(rs, err);
  if (rc != PC_OK)
    goto fail_db;
  *out = rs;
  return PC_OK;

fail_db:
  pthread_mutex_destroy(&rs->mu);
fail_mu:
  pc_free(rs->path);
fail_path:
  pc_free(rs);
  return rc;
}

void pc_runstore_close(pc_runstore *rs)
{
  if (!rs)
    return;
  sqlite3_close(rs->db);
  pthread_mutex_destroy(&rs->mu);
  pc_free(rs->path);
  pc_free(rs);
}

const char *pc_runstore_path(const pc_runstore *rs)
{
  return rs ? rs->path : NULL;
}

/* Fill `p` with `n` random bytes. 0 on success. */
static int random_bytes(unsigned char *p, size_t n)
{
  size_t got = 0;
  int fd;

  while (got < n) {
    ssize_t r = getrandom(p + got, n - got, 0);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  if (got == n)
    return 0;
  fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  return got == n ? 0 : -1;
}

int pc_runstore_new_id(char id[PC_RUN_ID_MAX])
{
  unsigned char rnd[3];
  time_t t = time(NULL);
  struct tm tm;
  char stamp[32];

  id[0] = '\0';
  if (random_bytes(rnd, sizeof(rnd)) != 0 || !gmtime_r(&t, &tm) ||
      strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0)
    return PC_E_IO;
  snprintf(id, PC_RUN_ID_MAX, "%s-%02x%02x%02x", stamp, rnd[0], rnd[1],
           rnd[2]);
  return PC_OK;
}

int pc_runstore_valid_id(const char *id)
{
  size_t i;

  if (!id || !id[0] || id[0] == '.')
    return 0;
  for (i = 0; id[i]; i++) {
    char c = id[i];

    if (i >= PC_RUN_ID_MAX - 1)
      return 0;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Public API: runs                                                       */

/* Non-zero for the kinds of run the store records. */
static int known_kind(const char *kind)
{
  return kind && (!strcmp(kind, "compile") || !strcmp(kind, "eval") ||
                  !strcmp(kind, "run"));
}

int pc_runstore_begin(pc_runstore *rs, const char *id, const char *kind,
                      const struct json_object *spec, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  pc_buf b;
  int rc;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  if (!known_kind(kind))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: kind \"%s\" is not "
                        "\"compile\", \"eval\" or \"run\"", id,
                        kind ? kind : "");
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  pthread_mutex_lock(&rs->mu);
  if ((rc = body_text(rs, spec, id, "spec", &b, err)) != PC_OK)
    goto out;
  rc = prepare_for(rs, "INSERT INTO runs (id, kind, status, spec, "
                   "started_ms) VALUES (?1, ?2, 'running', ?3, ?4)", id,
                   &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text64(st, 3, b.data, b.len, SQLITE_STATIC,
                             SQLITE_UTF8);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 4, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run %s: already exists in %s",
                      id, rs->path);
  else if (rc != SQLITE_DONE)
    rc = db_error(rs, rc, id, "begin the run", err);
  else
    rc = PC_OK;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  pc_buf_free(&b);
  return rc;
}

int pc_runstore_get(pc_runstore *rs, const char *id, struct json_object **run,
                    pc_error *err)
{
  struct json_object *obj = NULL, *spec = NULL, *result = NULL;
  sqlite3_stmt *st = NULL;
  int rc;

  *run = NULL;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "SELECT kind, status, spec, result, started_ms, "
                   "finished_ms FROM runs WHERE id = ?1", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = no_run(rs, id, err);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    rc = db_error(rs, rc, id, "read the run", err);
    goto out;
  }
  if ((rc = column_json(rs, st, 2, id, "spec", &spec, err)) != PC_OK ||
      (rc = column_json(rs, st, 3, id, "result", &result, err)) != PC_OK)
    goto out;
  rc = PC_E_NOMEM;
  if (!(obj = json_object_new_object()))
    goto out;
  if (add(obj, "id", json_object_new_string(id), 0) ||
      add(obj, "kind", column_string(st, 0), 0) ||
      add(obj, "status", column_string(st, 1), 0))
    goto out;
  rc = add(obj, "spec", spec, 1);
  spec = NULL;  /* owned by obj now, or freed */
  if (rc == PC_OK)
    rc = add(obj, "result", result, 1);
  result = NULL;
  if (rc == PC_OK)
    rc = add_int_or_null(obj, "started_ms", st, 4);
  if (rc == PC_OK)
    rc = add_int_or_null(obj, "finished_ms", st, 5);
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "run %s: out of memory", id);
  if (rc == PC_OK) {
    *run = obj;
    obj = NULL;
  }
  json_object_put(obj);
  json_object_put(spec);
  json_object_put(result);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_set_status(pc_runstore *rs, const char *id,
                           const char *status,
                           const struct json_object *result, pc_error *err)
{
  static const char *const known[] = {
    "running", "done", "stopped", "failed", "interrupted", NULL
  };
  sqlite3_stmt *st = NULL;
  size_t i;
  pc_buf b;
  int rc, running;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  for (i = 0; status && known[i]; i++)
    if (strcmp(status, known[i]) == 0)
      break;
  if (!status || !known[i])
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: unknown status "
                        "\"%s\" (running, done, stopped, failed, "
                        "interrupted)", id, status ? status : "");
  running = i == 0;
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  pthread_mutex_lock(&rs->mu);
  if (result && (rc = body_text(rs, result, id, "result", &b, err)))
    goto out;
  rc = prepare_for(rs, "UPDATE runs SET status = ?2, finished_ms = ?3, "
                   "result = coalesce(?4, result) WHERE id = ?1", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = running ? sqlite3_bind_null(st, 3)
                 : sqlite3_bind_int64(st, 3, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = result ? sqlite3_bind_text64(st, 4, b.data, b.len, SQLITE_STATIC,
                                      SQLITE_UTF8)
                : sqlite3_bind_null(st, 4);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    rc = db_error(rs, rc, id, "set the status", err);
  else if (sqlite3_changes(rs->db) == 0)
    rc = no_run(rs, id, err);
  else
    rc = PC_OK;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  pc_buf_free(&b);
  return rc;
}

/* One row of the list query as a new object in *out, or PC_E_NOMEM. */
static int list_row(sqlite3_stmt *st, struct json_object **out)
{
  struct json_object *o = json_object_new_object();
  int rc = PC_E_NOMEM;

  *out = NULL;
  if (!o)
    return PC_E_NOMEM;
  if (add(o, "id", column_string(st, 0), 0) ||
      add(o, "kind", column_string(st, 1), 0) ||
      add(o, "status", column_string(st, 2), 0) ||
      add_int_or_null(o, "started_ms", st, 3) ||
      add_int_or_null(o, "finished_ms", st, 4) ||
      add_int_or_null(o, "trials", st, 5) ||
      add_int_or_null(o, "calls", st, 6))
    goto fail;
  *out = o;
  return PC_OK;

fail:
  json_object_put(o);
  return rc;
}

int pc_runstore_list(pc_runstore *rs, size_t limit, struct json_object **runs,
                     pc_error *err)
{
  struct json_object *arr = NULL, *row;
  sqlite3_stmt *st = NULL;
  int rc;

  *runs = NULL;
  if (!rs)
    return pc_error_set(err, PC_E_INVALID_ARG, "run store: no handle");
  pthread_mutex_lock(&rs->mu);
  rc = sqlite3_prepare_v2(rs->db, "SELECT r.id, r.kind, r.status, "
                          "r.started_ms, r.finished_ms, (SELECT count(*) "
                          "FROM trials t WHERE t.run_id = r.id), (SELECT "
                          "count(*) FROM calls c WHERE c.run_id = r.id) "
                          "FROM runs r "
                          "ORDER BY r.started_ms DESC, r.rowid DESC "
                          "LIMIT ?1", -1, &st, NULL);
  /* A negative LIMIT is no limit. */
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 1, limit == 0 || limit > INT64_MAX ? -1 :
                            (sqlite3_int64)limit);
  if (rc != SQLITE_OK)
    goto db_fail;
  if (!(arr = json_object_new_array())) {
    rc = PC_E_NOMEM;
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = list_row(st, &row)) != PC_OK)
      goto out;
    if (json_object_array_add(arr, row) != 0) {
      json_object_put(row);
      rc = PC_E_NOMEM;
      goto out;
    }
  }
  if (rc != SQLITE_DONE)
    goto db_fail;
  rc = PC_OK;
  goto out;

db_fail:
  rc = (rc & 0xff) == SQLITE_NOMEM ? PC_E_NOMEM
       : pc_error_set(err, PC_E_IO, "run store %s: cannot list the runs: "
                      "%s", rs->path, sqlite3_errmsg(rs->db));
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "run store %s: out of memory listing the runs",
                 rs->path);
  if (rc == PC_OK) {
    *runs = arr;
    arr = NULL;
  }
  json_object_put(arr);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Public API: trials                                                     */

int pc_runstore_put_trial(pc_runstore *rs, const char *id, int64_t trial,
                          const struct json_object *record, pc_error *err)
{
  char what[64];
  sqlite3_stmt *st = NULL;
  pc_buf b;
  int rc;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  if (trial < 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: trial number %"
                        PRId64 " is negative", id, trial);
  if (!json_object_is_type(record, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: trial %" PRId64
                        ": the record is not a JSON object", id, trial);
  snprintf(what, sizeof(what), "record trial %" PRId64, trial);
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  pthread_mutex_lock(&rs->mu);
  if ((rc = body_text(rs, record, id, "the trial record", &b, err)))
    goto out;
  rc = prepare_for(rs, "INSERT OR REPLACE INTO trials (run_id, trial, "
                   "record, recorded_ms) VALUES (?1, ?2, ?3, ?4)", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, trial);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text64(st, 3, b.data, b.len, SQLITE_STATIC,
                             SQLITE_UTF8);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 4, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? PC_OK : db_error(rs, rc, id, what, err);
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  pc_buf_free(&b);
  return rc;
}

/*
 * Open a read transaction for run `id` and check the run exists, with the
 * store's mutex held by the caller. On failure (`what` names the reading
 * in the message) the caller still ends the transaction with rollback(),
 * which is harmless when none was opened.
 */
static int begin_run_read(pc_runstore *rs, const char *id, const char *what,
                          pc_error *err)
{
  int rc, found;

  if ((rc = pc_sql_exec(rs->db, "BEGIN")) != SQLITE_OK)
    return db_error(rs, rc, id, what, err);
  if ((rc = run_exists(rs, id, &found, err)) != PC_OK)
    return rc;
  return found ? PC_OK : no_run(rs, id, err);
}

/* One row of a statement as a JSON object (owned by the caller). */
typedef int (*row_fn)(pc_runstore *rs, sqlite3_stmt *st, const char *id,
                      struct json_object **out, pc_error *err);

/* Step `st` to the end, collecting each row made by `row` into a new
 * array in *list (owned by the caller; NULL after a failure). */
static int collect_rows(pc_runstore *rs, sqlite3_stmt *st, const char *id,
                        row_fn row, const char *what,
                        struct json_object **list, pc_error *err)
{
  struct json_object *rec;
  int rc;

  if (!(*list = json_object_new_array()))
    return pc_error_set(err, PC_E_NOMEM, "run %s: out of memory", id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = row(rs, st, id, &rec, err)) != PC_OK)
      goto fail;
    if (json_object_array_add(*list, rec) != 0) {
      json_object_put(rec);
      rc = pc_error_set(err, PC_E_NOMEM, "run %s: out of memory", id);
      goto fail;
    }
  }
  if (rc == SQLITE_DONE)
    return PC_OK;
  rc = db_error(rs, rc, id, what, err);
fail:
  json_object_put(*list);
  *list = NULL;
  return rc;
}

static int trial_row(pc_runstore *rs, sqlite3_stmt *st, const char *id,
                     struct json_object **out, pc_error *err)
{
  return column_json(rs, st, 0, id, "trial record", out, err);
}

int pc_runstore_trials(pc_runstore *rs, const char *id,
                       struct json_object **arr, pc_error *err)
{
  struct json_object *list = NULL;
  sqlite3_stmt *st = NULL;
  int rc;

  *arr = NULL;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  /* One read transaction: the run and its trials as of one moment. */
  if ((rc = begin_run_read(rs, id, "read the trials", err)) != PC_OK)
    goto out;
  rc = prepare_for(rs, "SELECT record FROM trials WHERE run_id = ?1 "
                   "ORDER BY trial", id, &st);
  if (rc != SQLITE_OK) {
    rc = db_error(rs, rc, id, "read the trials", err);
    goto out;
  }
  rc = collect_rows(rs, st, id, trial_row, "read the trials", &list, err);
out:
  if (rc == PC_OK) {
    *arr = list;
    list = NULL;
  }
  json_object_put(list);
  sqlite3_finalize(st);
  rollback(rs);  /* ends the read transaction */
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Public API: the replay log and checkpoints                             */

int pc_runstore_log_put(pc_runstore *rs, const char *id, int64_t seq,
                        const char *request_sha, const char *answer,
                        size_t len, pc_error *err)
{
  char what[64];
  sqlite3_stmt *st = NULL;
  int rc;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  if (seq < 0 || !request_sha || !*request_sha || (!answer && len))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: log entry %" PRId64
                        ": %s", id, seq, seq < 0 ? "negative number" :
                        (!request_sha || !*request_sha) ?
                        "no request digest" : "no answer");
  snprintf(what, sizeof(what), "log entry %" PRId64, seq);
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "INSERT OR REPLACE INTO replay_log (run_id, seq, "
                   "request_sha, answer) VALUES (?1, ?2, ?3, ?4)", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, seq);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, request_sha, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(st, 4, len ? answer : "", len, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? PC_OK : db_error(rs, rc, id, what, err);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_log_get(pc_runstore *rs, const char *id, int64_t seq,
                        char **request_sha, char **answer, size_t *len,
                        pc_error *err)
{
  char *sha = NULL, *ans = NULL, what[64];
  size_t sha_len = 0, ans_len = 0;
  sqlite3_stmt *st = NULL;
  int rc;

  *answer = NULL;
  if (request_sha)
    *request_sha = NULL;
  if (len)
    *len = 0;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  snprintf(what, sizeof(what), "read log entry %" PRId64, seq);
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "SELECT request_sha, answer FROM replay_log WHERE "
                   "run_id = ?1 AND seq = ?2", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, seq);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = PC_OK;  /* no entry: NULL answer */
    goto out;
  }
  if (rc != SQLITE_ROW) {
    rc = db_error(rs, rc, id, what, err);
    goto out;
  }
  if ((request_sha && column_copy(st, 0, &sha, &sha_len) != PC_OK) ||
      column_copy(st, 1, &ans, &ans_len) != PC_OK || !ans) {
    rc = pc_error_set(err, PC_E_NOMEM, "run %s: out of memory reading log "
                      "entry %" PRId64, id, seq);
    goto out;
  }
  rc = PC_OK;
  if (request_sha) {
    *request_sha = sha;
    sha = NULL;
  }
  *answer = ans;
  ans = NULL;
  if (len)
    *len = ans_len;
out:
  pc_free(sha);
  pc_free(ans);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_log_truncate(pc_runstore *rs, const char *id, int64_t seq,
                             pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "DELETE FROM replay_log WHERE run_id = ?1 AND "
                   "seq >= ?2", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, seq);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? PC_OK : db_error(rs, rc, id, "truncate the log",
                                           err);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_checkpoint_put(pc_runstore *rs, const char *id,
                               const char *json, size_t len, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  if (!json && len)
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: no checkpoint "
                        "text", id);
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "INSERT OR REPLACE INTO checkpoints (run_id, state, "
                   "saved_ms) VALUES (?1, ?2, ?3)", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(st, 2, len ? json : "", len, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? PC_OK : db_error(rs, rc, id, "save the "
                                           "checkpoint", err);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_checkpoint_get(pc_runstore *rs, const char *id, char **json,
                               size_t *len, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  int rc;

  *json = NULL;
  if (len)
    *len = 0;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  rc = prepare_for(rs, "SELECT state FROM checkpoints WHERE run_id = ?1",
                   id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = PC_OK;  /* none yet */
  } else if (rc != SQLITE_ROW) {
    rc = db_error(rs, rc, id, "read the checkpoint", err);
  } else if (column_copy(st, 0, json, &n) != PC_OK || !*json) {
    pc_free(*json);
    *json = NULL;
    rc = pc_error_set(err, PC_E_NOMEM, "run %s: out of memory reading the "
                      "checkpoint", id);
  } else {
    rc = PC_OK;
    if (len)
      *len = n;
  }
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Public API: LM call records                                            */

/* One call record, checked. */
struct call {
  const char *predictor;  /* borrowed from the record; may be NULL */
  const char *model;      /* borrowed; may be NULL */
  int cache_hit;
  int64_t prompt_tokens;
  int64_t completion_tokens;
  double latency_ms;
  double cost;
  int has_cost;
  int64_t retries;
  const struct json_object *record;  /* borrowed; NULL: no body */
};

/* Member `key` of `rec`, or NULL with *missing set when absent. */
static struct json_object *member(const struct json_object *rec,
                                  const char *key, int *missing)
{
  struct json_object *v = NULL;

  *missing = !json_object_object_get_ex(rec, key, &v);
  return v;
}

static int is_number(const struct json_object *v)
{
  return json_object_is_type(v, json_type_int) ||
         (json_object_is_type(v, json_type_double) &&
          isfinite(json_object_get_double(v)));
}

/* The optional members of a call: "retries" (an integer >= 0, default 0)
 * and "record" (an object, or null or absent for none). */
static int call_check_optional(const char *id, size_t i,
                               const struct json_object *rec,
                               struct call *c, pc_error *err)
{
  struct json_object *v;
  int missing;

  v = member(rec, "retries", &missing);
  if (!missing && (!json_object_is_type(v, json_type_int) ||
                   json_object_get_int64(v) < 0))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu].retries: "
                        "expected an integer >= 0", id, i);
  c->retries = missing ? 0 : json_object_get_int64(v);
  v = member(rec, "record", &missing);
  if (v && !json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu].record: "
                        "expected a JSON object or null", id, i);
  c->record = v;
  return PC_OK;
}

/* Check element `i` of a call batch into *c. PC_OK or PC_E_INVALID_ARG
 * naming the element and the member. */
static int call_check(const char *id, size_t i, const struct json_object *rec,
                      struct call *c, pc_error *err)
{
  static const char *const texts[] = {"predictor", "model"};
  static const char *const counts[] = {"prompt_tokens",
                                       "completion_tokens"};
  struct json_object *v;
  int missing;

  memset(c, 0, sizeof(*c));
  if (!json_object_is_type(rec, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu]: not a "
                        "JSON object", id, i);
  for (int k = 0; k < 2; k++) {
    v = member(rec, texts[k], &missing);
    if (missing || (v && !json_object_is_type(v, json_type_string)))
      return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu].%s: %s",
                          id, i, texts[k], missing ? "missing"
                          : "expected a string or null");
    if (k == 0)
      c->predictor = v ? json_object_get_string(v) : NULL;
    else
      c->model = v ? json_object_get_string(v) : NULL;
  }
  v = member(rec, "cache_hit", &missing);
  if (missing || !(json_object_is_type(v, json_type_boolean) ||
                   json_object_is_type(v, json_type_int)))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu]."
                        "cache_hit: %s", id, i, missing ? "missing" :
                        "expected true or false");
  c->cache_hit = json_object_get_int64(v) != 0;
  for (int k = 0; k < 2; k++) {
    v = member(rec, counts[k], &missing);
    if (missing || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0)
      return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu].%s: %s",
                          id, i, counts[k], missing ? "missing" :
                          "expected an integer >= 0");
    if (k == 0)
      c->prompt_tokens = json_object_get_int64(v);
    else
      c->completion_tokens = json_object_get_int64(v);
  }
  v = member(rec, "latency_ms", &missing);
  if (missing || !is_number(v) || json_object_get_double(v) < 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu]."
                        "latency_ms: %s", id, i, missing ? "missing" :
                        "expected a number >= 0");
  c->latency_ms = json_object_get_double(v);
  v = member(rec, "cost", &missing);
  if (missing || (v && !is_number(v)))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls[%zu].cost: %s",
                        id, i, missing ? "missing" :
                        "expected a number or null");
  c->has_cost = v != NULL;
  c->cost = v ? json_object_get_double(v) : 0.0;
  return call_check_optional(id, i, rec, c, err);
}

/* Bind one checked call as row `idx` of batch `seq` and run the insert.
 * `body` holds the record's text (its length 0 for none) until the row is
 * written. An SQLite code. */
static int call_insert(sqlite3_stmt *st, int64_t seq, size_t idx,
                       const struct call *c, const pc_buf *body)
{
  int rc = sqlite3_bind_int64(st, 2, seq);

  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)idx);
  if (rc == SQLITE_OK)
    rc = c->predictor ? sqlite3_bind_text(st, 4, c->predictor, -1,
                                          SQLITE_STATIC)
                      : sqlite3_bind_null(st, 4);
  if (rc == SQLITE_OK)
    rc = c->model ? sqlite3_bind_text(st, 5, c->model, -1, SQLITE_STATIC)
                  : sqlite3_bind_null(st, 5);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int(st, 6, c->cache_hit);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 7, c->prompt_tokens);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 8, c->completion_tokens);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_double(st, 9, c->latency_ms);
  if (rc == SQLITE_OK)
    rc = c->has_cost ? sqlite3_bind_double(st, 10, c->cost)
                     : sqlite3_bind_null(st, 10);
  if (rc == SQLITE_OK)
    rc = c->record ? sqlite3_bind_text64(st, 11, body->data, body->len,
                                         SQLITE_STATIC, SQLITE_UTF8)
                   : sqlite3_bind_null(st, 11);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 12, c->retries);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int pc_runstore_put_calls(pc_runstore *rs, const char *id, int64_t seq,
                          const struct json_object *records, pc_error *err)
{
  sqlite3_stmt *del = NULL, *ins = NULL;
  struct call *calls = NULL;
  char what[64];
  size_t n, i;
  pc_buf body;
  int rc, found;

  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  if (!json_object_is_type(records, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG, "run %s: calls of batch %"
                        PRId64 ": not a JSON array", id, seq);
  /* Check every record before touching the store. */
  n = json_object_array_length(records);
  if (n && !(calls = pc_calloc(n, sizeof(*calls))))
    return pc_error_set(err, PC_E_NOMEM, "run %s: out of memory", id);
  for (i = 0; i < n; i++)
    if ((rc = call_check(id, i, json_object_array_get_idx(records, i),
                         &calls[i], err)) != PC_OK)
      goto free_calls;
  pc_buf_init(&body, PC_BUF_DEFAULT_MAX);
  snprintf(what, sizeof(what), "record the calls of batch %" PRId64, seq);
  pthread_mutex_lock(&rs->mu);
  if ((rc = pc_sql_exec(rs->db, "BEGIN IMMEDIATE")) != SQLITE_OK) {
    rc = db_error(rs, rc, id, what, err);
    goto out;
  }
  if ((rc = run_exists(rs, id, &found, err)) != PC_OK)
    goto out;
  if (!found) {
    rc = no_run(rs, id, err);
    goto out;
  }
  rc = prepare_for(rs, "DELETE FROM calls WHERE run_id = ?1 AND seq = ?2",
                   id, &del);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(del, 2, seq);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(del);
  if (rc == SQLITE_DONE)
    rc = prepare_for(rs, "INSERT INTO calls (run_id, seq, idx, predictor, "
                     "model, cache_hit, prompt_tokens, completion_tokens, "
                     "latency_ms, cost, record, retries) VALUES (?1, ?2, ?3, "
                     "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", id, &ins);
  for (i = 0; rc == SQLITE_OK && i < n; i++) {
    pc_buf_reset(&body);
    if (calls[i].record &&
        (rc = body_text(rs, calls[i].record, id, "a call record", &body,
                        err)) != PC_OK)
      goto out;
    rc = call_insert(ins, seq, i, &calls[i], &body);
  }
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(rs->db, "COMMIT");
  rc = rc == SQLITE_OK ? PC_OK : db_error(rs, rc, id, what, err);
out:
  sqlite3_finalize(del);
  sqlite3_finalize(ins);
  if (rc != PC_OK)
    rollback(rs);
  pthread_mutex_unlock(&rs->mu);
  pc_buf_free(&body);
free_calls:
  pc_free(calls);
  return rc;
}

/* The record of the current row of the calls query (columns: seq, idx,
 * predictor, model, cache_hit, prompt_tokens, completion_tokens,
 * latency_ms, cost, retries, record): the stored body, or one rebuilt from
 * the columns when there is none, with "seq" and "idx" set. */
static int call_row(pc_runstore *rs, sqlite3_stmt *st, const char *id,
                    struct json_object **out, pc_error *err)
{
  struct json_object *rec = NULL, *usage;
  int rc;

  *out = NULL;
  if ((rc = column_json(rs, st, 10, id, "call record", &rec, err)))
    return rc;
  if (rec && !json_object_is_type(rec, json_type_object)) {
    json_object_put(rec);
    return pc_error_set(err, PC_E_PARSE, "run %s: a stored call record in "
                        "%s is not a JSON object", id, rs->path);
  }
  rc = PC_E_NOMEM;
  if (!rec) {
    if (!(rec = json_object_new_object()) ||
        add(rec, "predictor", sqlite3_column_type(st, 2) == SQLITE_NULL
                                ? NULL : column_string(st, 2),
            sqlite3_column_type(st, 2) == SQLITE_NULL) ||
        add(rec, "model", sqlite3_column_type(st, 3) == SQLITE_NULL
                            ? NULL : column_string(st, 3),
            sqlite3_column_type(st, 3) == SQLITE_NULL) ||
        add(rec, "cache_hit",
            json_object_new_boolean(sqlite3_column_int(st, 4) != 0), 0) ||
        add(rec, "usage", usage = json_object_new_object(), 0) ||
        add(usage, "prompt_tokens",
            json_object_new_int64(sqlite3_column_int64(st, 5)), 0) ||
        add(usage, "completion_tokens",
            json_object_new_int64(sqlite3_column_int64(st, 6)), 0) ||
        add(rec, "latency_ms",
            json_object_new_double(sqlite3_column_double(st, 7)), 0) ||
        add(rec, "cost", sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL
              : json_object_new_double(sqlite3_column_double(st, 8)),
            sqlite3_column_type(st, 8) == SQLITE_NULL) ||
        add(rec, "retries",
            json_object_new_int64(sqlite3_column_int64(st, 9)), 0))
      goto fail;
  }
  if (add(rec, "seq", json_object_new_int64(sqlite3_column_int64(st, 0)), 0)
      || add(rec, "idx", json_object_new_int64(sqlite3_column_int64(st, 1)),
             0))
    goto fail;
  *out = rec;
  return PC_OK;

fail:
  json_object_put(rec);
  return pc_error_set(err, rc, "run %s: out of memory reading the calls", id);
}

int pc_runstore_calls(pc_runstore *rs, const char *id, size_t limit,
                      struct json_object **arr, pc_error *err)
{
  struct json_object *list = NULL;
  sqlite3_stmt *st = NULL;
  int rc;

  *arr = NULL;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  /* One read transaction: the run and its calls as of one moment. */
  if ((rc = begin_run_read(rs, id, "read the calls", err)) != PC_OK)
    goto out;
  /* The newest `limit` (a negative LIMIT is none), then oldest first. */
  rc = prepare_for(rs, "SELECT * FROM (SELECT seq, idx, predictor, model, "
                   "cache_hit, prompt_tokens, completion_tokens, latency_ms, "
                   "cost, retries, record FROM calls WHERE run_id = ?1 "
                   "ORDER BY seq DESC, idx DESC LIMIT ?2) ORDER BY seq, idx",
                   id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 :
                            (sqlite3_int64)limit);
  if (rc != SQLITE_OK) {
    rc = db_error(rs, rc, id, "read the calls", err);
    goto out;
  }
  rc = collect_rows(rs, st, id, call_row, "read the calls", &list, err);
out:
  if (rc == PC_OK) {
    *arr = list;
    list = NULL;
  }
  json_object_put(list);
  sqlite3_finalize(st);
  rollback(rs);  /* ends the read transaction */
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_calls_next_seq(pc_runstore *rs, const char *id,
                               int64_t *next, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc;

  *next = 0;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  if ((rc = begin_run_read(rs, id, "number the calls", err)) != PC_OK)
    goto out;
  rc = prepare_for(rs, "SELECT coalesce(max(seq) + 1, 0) FROM calls "
                   "WHERE run_id = ?1", id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    rc = db_error(rs, rc, id, "number the calls", err);
    goto out;
  }
  *next = sqlite3_column_int64(st, 0);
  rc = PC_OK;
out:
  sqlite3_finalize(st);
  rollback(rs);  /* ends the read transaction */
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_last_run(pc_runstore *rs, const char *kind,
                         char id[PC_RUN_ID_MAX], pc_error *err)
{
  sqlite3_stmt *st = NULL;
  const char *text;
  int rc;

  id[0] = '\0';
  if (!rs)
    return pc_error_set(err, PC_E_INVALID_ARG, "run store: no handle");
  if (kind && !known_kind(kind))
    return pc_error_set(err, PC_E_INVALID_ARG, "run store %s: kind \"%s\" "
                        "is not \"compile\", \"eval\" or \"run\"", rs->path,
                        kind);
  pthread_mutex_lock(&rs->mu);
  rc = sqlite3_prepare_v2(rs->db, "SELECT r.id FROM runs r WHERE "
                          "(?1 IS NULL OR r.kind = ?1) AND EXISTS (SELECT 1 "
                          "FROM calls c WHERE c.run_id = r.id) ORDER BY "
                          "r.started_ms DESC, r.rowid DESC LIMIT 1", -1, &st,
                          NULL);
  if (rc == SQLITE_OK)
    rc = kind ? sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC)
              : sqlite3_bind_null(st, 1);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && (text = (const char *)sqlite3_column_text(st, 0)))
    snprintf(id, PC_RUN_ID_MAX, "%s", text);
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && id[0]))
    rc = PC_OK;
  else if ((rc & 0xff) == SQLITE_NOMEM || rc == SQLITE_ROW)
    rc = pc_error_set(err, PC_E_NOMEM, "run store %s: out of memory finding "
                      "the last run", rs->path);
  else
    rc = pc_error_set(err, PC_E_IO, "run store %s: cannot find the last "
                      "run: %s", rs->path, sqlite3_errmsg(rs->db));
  sqlite3_finalize(st);
  pthread_mutex_unlock(&rs->mu);
  return rc;
}

int pc_runstore_call_totals(pc_runstore *rs, const char *id,
                            struct json_object **out, pc_error *err)
{
  struct json_object *obj = NULL;
  sqlite3_stmt *st = NULL;
  int64_t prompt, completion;
  int rc;

  *out = NULL;
  if ((rc = check_args(rs, id, err)) != PC_OK)
    return rc;
  pthread_mutex_lock(&rs->mu);
  if ((rc = begin_run_read(rs, id, "sum the calls", err)) != PC_OK)
    goto out;
  rc = prepare_for(rs, "SELECT count(*), coalesce(sum(cache_hit), 0), "
                   "coalesce(sum(prompt_tokens), 0), "
                   "coalesce(sum(completion_tokens), 0), total(latency_ms), "
                   "total(cost), count(*) - count(cost), "
                   "coalesce(sum(retries), 0) FROM calls WHERE run_id = ?1",
                   id, &st);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    rc = db_error(rs, rc, id, "sum the calls", err);
    goto out;
  }
  prompt = sqlite3_column_int64(st, 2);
  completion = sqlite3_column_int64(st, 3);
  rc = PC_E_NOMEM;
  if (!(obj = json_object_new_object()) ||
      add(obj, "calls", json_object_new_int64(sqlite3_column_int64(st, 0)),
          0) ||
      add(obj, "cache_hits",
          json_object_new_int64(sqlite3_column_int64(st, 1)), 0) ||
      add(obj, "prompt_tokens", json_object_new_int64(prompt), 0) ||
      add(obj, "completion_tokens", json_object_new_int64(completion), 0) ||
      add(obj, "tokens", json_object_new_int64(prompt + completion), 0) ||
      add(obj, "latency_ms", json_object_new_int64(
            (int64_t)llround(sqlite3_column_double(st, 4))), 0) ||
      add(obj, "cost", json_object_new_double(sqlite3_column_double(st, 5)),
          0) ||
      add(obj, "cost_unknown",
          json_object_new_int64(sqlite3_column_int64(st, 6)), 0) ||
      add(obj, "retries",
          json_object_new_int64(sqlite3_column_int64(st, 7)), 0)) {
    rc = pc_error_set(err, PC_E_NOMEM, "run %s: out of memory", id);
    goto out;
  }
  rc = PC_OK;
  *out = obj;
  obj = NULL;
out:
  json_object_put(obj);
  sqlite3_finalize(st);
  rollback(rs);  /* ends the read transaction */
  pthread_mutex_unlock(&rs->mu);
  return rc;
}
