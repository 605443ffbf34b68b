/* release.c - the release registry: artifacts stored by digest, and an
 * SQLite index of channels and of every decision taken about them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "json_text.h"
#include "release.h"
#include "sql.h"

#define SCHEMA_VERSION 1          /* PRAGMA user_version */
#define APPLICATION_ID 0x5043524c /* PRAGMA application_id: "PCRL" */
#define BUSY_TIMEOUT_MS 10000     /* wait this long for another writer */
#define INDEX_FILE "index.sqlite"
#define OBJECTS_DIR "objects"
#define CHANNEL_MAX 32
#define KEY_ID_LEN 16
#define PREFIX_MIN 8              /* shortest digest prefix `show` takes */
#define MATCHES_NAMED 4           /* candidates named when ambiguous */
#define SIG_MAX ((size_t)64 << 10)
#define WHY_MAX 256

/* Stored bodies (manifests, gate tables) are compact, keys in byte order:
 * the same JSON always gives the same text. */
#define BODY_FLAGS (PC_JSON_TEXT_COMPACT | PC_JSON_TEXT_SORTED)

struct pc_release {
  sqlite3 *db;   /* owned: one connection; one thread at a time */
  char *dir;     /* owned: the registry directory as given */
  char *index;   /* owned: DIR/index.sqlite, for messages */
};

static const char *const SCHEMA_SQL =
  "CREATE TABLE artifacts ("
  " sha256 TEXT PRIMARY KEY NOT NULL,"
  " name TEXT NOT NULL,"
  " version TEXT NOT NULL,"
  " key_id TEXT,"
  " manifest TEXT NOT NULL,"
  " added_ms INTEGER NOT NULL);"
  "CREATE INDEX artifacts_by_name ON artifacts (name, version);"
  "CREATE TABLE channels ("
  " name TEXT PRIMARY KEY NOT NULL,"
  " sha256 TEXT REFERENCES artifacts (sha256),"
  " since_ms INTEGER NOT NULL);"
  "CREATE TABLE events ("
  " id INTEGER PRIMARY KEY,"
  " time_ms INTEGER NOT NULL,"
  " actor TEXT NOT NULL,"
  " action TEXT NOT NULL"
  "  CHECK (action IN ('promote', 'refuse', 'rollback')),"
  " channel TEXT NOT NULL,"
  " sha256 TEXT NOT NULL REFERENCES artifacts (sha256),"
  " before TEXT REFERENCES artifacts (sha256),"
  " after TEXT REFERENCES artifacts (sha256),"
  " reason TEXT,"
  " gates TEXT,"
  " detail TEXT);"
  "CREATE INDEX events_by_channel ON events (channel, id);"
  /* Events are a record: never changed, never deleted. */
  "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
  " BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;"
  "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
  " BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;";

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */

/* "DIR/rest" as a new string (pc_free), NULL when out of memory. */
static char *join(const char *dir, const char *rest)
{
  pc_buf b;
  size_t n = strlen(dir);

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (pc_buf_append(&b, dir, n) || pc_buf_printf(&b, "/%s", rest)) {
    pc_buf_free(&b);
    return NULL;
  }
  return pc_buf_take(&b, NULL);
}

static int is_lower_hex(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 1 when `s` is 64 lower-case hex digits. */
static int sha256_valid(const char *s)
{
  size_t i;

  if (!s)
    return 0;
  for (i = 0; s[i]; i++)
    if (i >= PC_SHA256_HEX_LEN || !is_lower_hex(s[i]))
      return 0;
  return i == PC_SHA256_HEX_LEN;
}

static int key_id_valid(const char *s)
{
  size_t i;

  for (i = 0; s[i]; i++) {
    char c = s[i];

    if (i >= KEY_ID_LEN || !((c >= '0' && c <= '9') ||
                             (c >= 'a' && c <= 'f') ||
                             (c >= 'A' && c <= 'F')))
      return 0;
  }
  return i == KEY_ID_LEN;
}

/* The code for a failed SQLite call: PC_E_NOMEM or PC_E_IO. */
static int code_of(int rc)
{
  return (rc & 0xff) == SQLITE_NOMEM ? PC_E_NOMEM : PC_E_IO;
}

/* Report the failed SQLite call `rc` made while trying to `what`. Call
 * before any ROLLBACK, which would replace the connection's message. */
static int db_error(pc_release *r, int rc, const char *what, pc_error *err)
{
  return pc_error_set(err, code_of(rc), "%s: cannot %s: %s", r->index, what,
                      sqlite3_errmsg(r->db));
}

static void rollback(pc_release *r)
{
  if (!sqlite3_get_autocommit(r->db))
    pc_sql_exec(r->db, "ROLLBACK");
}

/* Add `val` (owned; NULL is out of memory unless may_be_null) under
 * `key`. PC_OK or PC_E_NOMEM; `val` is released on failure. */
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

/* Column `col` as a JSON string, or null for SQL NULL. */
static int add_text(struct json_object *obj, const char *key,
                    sqlite3_stmt *st, int col)
{
  const char *text;

  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return add(obj, key, NULL, 1);
  text = (const char *)sqlite3_column_text(st, col);
  return add(obj, key, text ? json_object_new_string(text) : NULL, 0);
}

/* Column `col` as a JSON integer, or null for SQL NULL. */
static int add_int(struct json_object *obj, const char *key,
                   sqlite3_stmt *st, int col)
{
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return add(obj, key, NULL, 1);
  return add(obj, key, json_object_new_int64(sqlite3_column_int64(st, col)),
             0);
}

/* Column `col` parsed as JSON (SQL NULL is null). */
static int add_json(pc_release *r, struct json_object *obj, const char *key,
                    sqlite3_stmt *st, int col, pc_error *err)
{
  struct json_object *v = NULL;
  const char *text;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return add(obj, key, NULL, 1);
  text = (const char *)sqlite3_column_text(st, col);
  if (!text)
    return PC_E_NOMEM;
  rc = pc_json_parse(text, (size_t)sqlite3_column_bytes(st, col),
                     PC_JSON_PARSE_STRICT, &v, &perr);
  if (rc == PC_E_NOMEM)
    return rc;
  if (rc != PC_OK)
    return pc_error_set(err, PC_E_PARSE, "%s: stored %s is not JSON: %s",
                        r->index, key, perr.message);
  return add(obj, key, v, 1);
}

/* Bind `v` (NULL: SQL NULL) as compact JSON text held in `b`. */
static int bind_json(sqlite3_stmt *st, int i, const struct json_object *v,
                     pc_buf *b)
{
  if (!v)
    return sqlite3_bind_null(st, i);
  if (pc_json_write(v, BODY_FLAGS, b) != PC_OK)
    return SQLITE_NOMEM;
  return sqlite3_bind_text64(st, i, b->data, b->len, SQLITE_STATIC,
                             SQLITE_UTF8);
}

/* Bind `s`, or SQL NULL when `s` is NULL. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
  return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
           : sqlite3_bind_null(st, i);
}

/* ---------------------------------------------------------------------- */
/* Making and opening                                                     */

/* Whether directory `dir` holds nothing: 1 empty, 0 not, -1 unreadable. */
static int dir_empty(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int empty = 1;

  if (!d)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = 0;
      break;
    }
  closedir(d);
  return empty;
}

/* Open `path` read-write (creating it only when `create`) with extended
 * codes, the busy timeout, foreign keys and WAL. An SQLite code. */
static int db_connect(const char *path, int create, sqlite3 **db)
{
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int rc;

  if (create)
    flags |= SQLITE_OPEN_CREATE;
  rc = sqlite3_open_v2(path, db, flags, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_extended_result_codes(*db, 1);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(*db, "PRAGMA foreign_keys = ON");
  /* The first read of the file: one that is not a database fails here. */
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(*db, "PRAGMA journal_mode = WAL");
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(*db, "PRAGMA synchronous = NORMAL");
  return rc;
}

/* Create the tables and the two standard channels. An SQLite code. */
static int db_create(sqlite3 *db)
{
  char sql[256];
  int rc = pc_sql_exec(db, "BEGIN IMMEDIATE");

  if (rc != SQLITE_OK)
    return rc;
  rc = pc_sql_exec(db, SCHEMA_SQL);
  snprintf(sql, sizeof(sql),
           "INSERT INTO channels (name, sha256, since_ms) VALUES "
           "('staging', NULL, %lld), ('production', NULL, %lld);"
           "PRAGMA application_id = %d; PRAGMA user_version = %d",
           (long long)pc_sql_now_ms(), (long long)pc_sql_now_ms(), APPLICATION_ID,
           SCHEMA_VERSION);
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(db, sql);
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(db, "COMMIT");
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(db))
    pc_sql_exec(db, "ROLLBACK");
  return rc;
}

/* After a failed init, leave the directory as it was: empty. */
static void undo_init(const char *dir, const char *index, const char *objects)
{
  static const char *const sides[] = {INDEX_FILE "-wal", INDEX_FILE "-shm"};

  unlink(index);
  for (size_t i = 0; i < 2; i++) {
    char *side = join(dir, sides[i]);

    if (side)
      unlink(side);
    pc_free(side);
  }
  rmdir(objects);
}

int pc_release_init(const char *dir, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  char *index = NULL, *objects = NULL;
  sqlite3 *db = NULL;
  struct stat st;
  int rc = PC_OK, fd, empty;

  if (!dir || !*dir)
    return pc_error_set(err, PC_E_INVALID_ARG, "release init: no "
                        "directory given");
  if (!(index = join(dir, INDEX_FILE)) ||
      !(objects = join(dir, OBJECTS_DIR))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", dir);
    goto out;
  }
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT) {
      rc = pc_error_set(err, PC_E_IO, "%s: %s", dir, strerror(errno));
      goto out;
    }
    if ((rc = pc_file_mkdirs(dir, 0755, &e)) != PC_OK) {
      rc = pc_error_wrap(err, &e, "%s", dir);
      goto out;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not a directory", dir);
    goto out;
  }
  if (access(index, F_OK) == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: already a release "
                      "registry (%s exists)", dir, INDEX_FILE);
    goto out;
  }
  if ((empty = dir_empty(dir)) < 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", dir, strerror(errno));
    goto out;
  }
  if (!empty) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not empty and not a "
                      "release registry; choose a new or empty directory",
                      dir);
    goto out;
  }
  if (mkdir(objects, 0755) != 0) {
    rc = pc_error_set(err, errno == EEXIST ? PC_E_INVALID_ARG : PC_E_IO,
                      "%s: %s", objects, strerror(errno));
    goto out;
  }
  /* O_EXCL: of two inits racing on one directory, one makes the index. */
  fd = open(index, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = pc_error_set(err, errno == EEXIST ? PC_E_INVALID_ARG : PC_E_IO,
                      "%s: %s", index, strerror(errno));
    rmdir(objects);
    goto out;
  }
  close(fd);
  rc = db_connect(index, 0, &db);
  if (rc == SQLITE_OK)
    rc = db_create(db);
  if (rc != SQLITE_OK)
    rc = pc_error_set(err, code_of(rc), "%s: cannot create the index: %s",
                      index, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  sqlite3_close(db);
  if (rc != PC_OK)
    undo_init(dir, index, objects);
out:
  pc_free(index);
  pc_free(objects);
  return rc;
}

/* Check that the connection is a registry index of our version. An
 * SQLite code; SQLITE_MISMATCH with the reason in why. */
static int check_schema(sqlite3 *db, char *why, size_t n)
{
  long long version = 0, app = 0, fk = 0;
  int rc = pc_sql_query_int(db, "PRAGMA application_id", &app);

  if (rc == SQLITE_OK)
    rc = pc_sql_query_int(db, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK)
    rc = pc_sql_query_int(db, "PRAGMA foreign_keys", &fk);
  if (rc != SQLITE_OK)
    return rc;
  if (app != APPLICATION_ID) {
    snprintf(why, n, "not a promptc release index (SQLite application id "
             "0x%08llx)", app);
    return SQLITE_MISMATCH;
  }
  if (version != SCHEMA_VERSION) {
    snprintf(why, n, "release index version %lld; this promptc reads only "
             "version %d", version, SCHEMA_VERSION);
    return SQLITE_MISMATCH;
  }
  if (fk != 1) {
    snprintf(why, n, "this SQLite cannot enforce foreign keys");
    return SQLITE_MISMATCH;
  }
  return SQLITE_OK;
}

int pc_release_open(const char *dir, pc_release **out, pc_error *err)
{
  char why[WHY_MAX] = "";
  char *objects = NULL;
  pc_release *r = NULL;
  struct stat st;
  int rc;

  *out = NULL;
  if (!dir || !*dir)
    return pc_error_set(err, PC_E_INVALID_ARG, "release registry: no "
                        "directory given");
  if (stat(dir, &st) != 0)
    return pc_error_set(err, errno == ENOENT ? PC_E_INVALID_ARG : PC_E_IO,
                        "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: not a directory (a "
                        "release registry is a directory)", dir);
  if (!(r = pc_calloc(1, sizeof(*r))) || !(r->dir = pc_strdup(dir)) ||
      !(r->index = join(dir, INDEX_FILE)) ||
      !(objects = join(dir, OBJECTS_DIR))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", dir);
    goto fail;
  }
  if (stat(r->index, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not a release registry "
                      "(no %s; make one with `promptc release init`)", dir,
                      INDEX_FILE);
    goto fail;
  }
  if (stat(objects, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: damaged release registry "
                      "(no %s/ directory)", dir, OBJECTS_DIR);
    goto fail;
  }
  rc = db_connect(r->index, 0, &r->db);
  if ((rc & 0xff) == SQLITE_NOTADB) {
    snprintf(why, sizeof(why), "not a promptc release index (not an SQLite "
             "database)");
    rc = SQLITE_MISMATCH;
  }
  if (rc == SQLITE_OK)
    rc = check_schema(r->db, why, sizeof(why));
  if (rc != SQLITE_OK) {
    int code = rc == SQLITE_MISMATCH ? PC_E_INVALID_ARG : code_of(rc);

    if (why[0] == '\0')
      snprintf(why, sizeof(why), "%s", r->db ? sqlite3_errmsg(r->db)
                                             : sqlite3_errstr(rc));
    rc = pc_error_set(err, code, "%s: %s", r->index, why);
    goto fail;
  }
  pc_free(objects);
  *out = r;
  return PC_OK;

fail:
  pc_free(objects);
  pc_release_close(r);
  return rc;
}

void pc_release_close(pc_release *r)
{
  if (!r)
    return;
  sqlite3_close(r->db);
  pc_free(r->dir);
  pc_free(r->index);
  pc_free(r);
}

int pc_release_channel_valid(const char *name)
{
  size_t i;

  if (!name || !((name[0] >= 'a' && name[0] <= 'z') ||
                 (name[0] >= '0' && name[0] <= '9')))
    return 0;
  for (i = 1; name[i]; i++) {
    char c = name[i];

    if (i >= CHANNEL_MAX)
      return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Storing                                                                */

static char *object_path(const pc_release *r, const char *sha256,
                         const char *ext)
{
  pc_buf b;

  if (!r || !sha256_valid(sha256))
    return NULL;
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (pc_buf_printf(&b, "%s/%s/%s%s", r->dir, OBJECTS_DIR, sha256, ext)) {
    pc_buf_free(&b);
    return NULL;
  }
  return pc_buf_take(&b, NULL);
}

char *pc_release_object_path(const pc_release *r, const char *sha256)
{
  return object_path(r, sha256, ".ppa");
}

char *pc_release_sig_path(const pc_release *r, const char *sha256)
{
  return object_path(r, sha256, ".ppa.minisig");
}

/*
 * Write `len` bytes to `path` unless the file is there already; then it
 * must hold the same bytes (`sha256`, when given, is their digest and is
 * compared instead of reading the file). `what` names the file's role.
 */
static int put_object(const char *path, const void *data, size_t len,
                      const char *sha256, const char *what, pc_error *err)
{
  char hex[PC_SHA256_HEX_LEN + 1];
  char *old = NULL;
  size_t old_len = 0;
  int rc;

  if (access(path, F_OK) != 0)
    return pc_file_write_atomic(path, data, len, err);
  if (sha256) {
    if ((rc = pc_sha256_file(path, hex, err)) != PC_OK)
      return rc;
    if (strcmp(hex, sha256) != 0)
      return pc_error_set(err, PC_E_IO, "%s: stored %s has other bytes "
                          "than its name says (the registry is damaged)",
                          path, what);
    return PC_OK;
  }
  if ((rc = pc_file_read(path, SIG_MAX, &old, &old_len, err)) != PC_OK)
    return rc;
  /* Another signature over the same bytes (the artifact was re-signed,
   * for a key rotation): the caller verified it, so it replaces the old. */
  if (old_len != len || (len > 0 && memcmp(old, data, len) != 0))
    rc = pc_file_write_atomic(path, data, len, err);
  pc_free(old);
  return rc;
}

int pc_release_store(pc_release *r, const pc_release_artifact *a,
                     const void *ppa, size_t ppa_len, const void *sig,
                     size_t sig_len, pc_error *err)
{
  char hex[PC_SHA256_HEX_LEN + 1];
  char *ppa_path = NULL, *sig_path = NULL;
  sqlite3_stmt *st = NULL;
  pc_buf manifest;
  int rc;

  if (!r || !a || !ppa)
    return pc_error_set(err, PC_E_INVALID_ARG, "release store: nothing to "
                        "store");
  if (!sha256_valid(a->sha256))
    return pc_error_set(err, PC_E_INVALID_ARG, "release store: \"%.80s\" "
                        "is not a sha256 (64 lower-case hex digits)",
                        a->sha256 ? a->sha256 : "");
  if (!a->name || !*a->name || !a->version || !*a->version)
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact %.12s: no name or "
                        "version", a->sha256);
  if (a->key_id && !key_id_valid(a->key_id))
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact %.12s: key id "
                        "\"%.40s\" is not 16 hex digits", a->sha256,
                        a->key_id);
  if (!a->manifest)
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact %.12s: no "
                        "manifest", a->sha256);
  pc_sha256_hex(ppa, ppa_len, hex);
  if (strcmp(hex, a->sha256) != 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact %s-%s: the bytes "
                        "have sha256 %.12s..., not %.12s...", a->name,
                        a->version, hex, a->sha256);
  pc_buf_init(&manifest, PC_BUF_DEFAULT_MAX);
  if (!(ppa_path = pc_release_object_path(r, a->sha256)) ||
      !(sig_path = pc_release_sig_path(r, a->sha256))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->dir);
    goto out;
  }
  if (pc_json_write(a->manifest, BODY_FLAGS, &manifest) != PC_OK) {
    rc = pc_error_set(err, PC_E_NOMEM, "artifact %.12s: cannot write the "
                      "manifest: out of memory or nested too deeply",
                      a->sha256);
    goto out;
  }
  /* The files first: an index row always has its object. */
  if ((rc = put_object(ppa_path, ppa, ppa_len, a->sha256, "artifact",
                       err)) != PC_OK)
    goto out;
  if (sig && (rc = put_object(sig_path, sig, sig_len, NULL, "signature",
                              err)) != PC_OK)
    goto out;
  rc = sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO artifacts (sha256, "
                          "name, version, key_id, manifest, added_ms) "
                          "VALUES (?1, ?2, ?3, upper(?4), ?5, ?6)", -1, &st,
                          NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 1, a->sha256, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, a->version, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 4, a->key_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text64(st, 5, manifest.data, manifest.len,
                             SQLITE_STATIC, SQLITE_UTF8);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 6, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? PC_OK : db_error(r, rc, "index the artifact", err);
out:
  sqlite3_finalize(st);
  pc_buf_free(&manifest);
  pc_free(ppa_path);
  pc_free(sig_path);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Channels and events                                                    */

/* The artifact channel `channel` points at: *sha256 a new string or NULL
 * (empty channel), *exists whether the channel has a row. */
static int channel_get(pc_release *r, const char *channel, char **sha256,
                       int *exists, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  const char *text;
  int rc;

  *sha256 = NULL;
  *exists = 0;
  rc = sqlite3_prepare_v2(r->db, "SELECT sha256 FROM channels WHERE name = "
                          "?1", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *exists = 1;
    rc = PC_OK;
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
      text = (const char *)sqlite3_column_text(st, 0);
      if (!text || !(*sha256 = pc_strdup(text)))
        rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
    }
  } else if (rc == SQLITE_DONE) {
    rc = PC_OK;
  } else {
    rc = db_error(r, rc, "read the channel", err);
  }
  sqlite3_finalize(st);
  return rc;
}

int pc_release_current(pc_release *r, const char *channel, char **sha256,
                       pc_error *err)
{
  int exists;

  *sha256 = NULL;
  if (!r)
    return pc_error_set(err, PC_E_INVALID_ARG, "release: no registry");
  if (!pc_release_channel_valid(channel))
    return pc_error_set(err, PC_E_INVALID_ARG, "channel \"%.40s\": invalid "
                        "name", channel ? channel : "");
  return channel_get(r, channel, sha256, &exists, err);
}

/* Whether artifact `sha256` is indexed: PC_OK with *found 0 or 1. */
static int artifact_known(pc_release *r, const char *sha256, int *found,
                          pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(r->db, "SELECT 1 FROM artifacts WHERE sha256 "
                              "= ?1", -1, &st, NULL);

  *found = 0;
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *found = 1;
  rc = (rc == SQLITE_ROW || rc == SQLITE_DONE)
         ? PC_OK : db_error(r, rc, "look the artifact up", err);
  sqlite3_finalize(st);
  return rc;
}

static int record_check(pc_release *r, const pc_release_event *ev,
                        pc_error *err)
{
  if (!r || !ev)
    return pc_error_set(err, PC_E_INVALID_ARG, "release: nothing to record");
  if (!ev->action || (strcmp(ev->action, "promote") != 0 &&
                      strcmp(ev->action, "refuse") != 0 &&
                      strcmp(ev->action, "rollback") != 0))
    return pc_error_set(err, PC_E_INVALID_ARG, "event: action \"%.40s\" is "
                        "not promote, refuse or rollback",
                        ev->action ? ev->action : "");
  if (!pc_release_channel_valid(ev->channel))
    return pc_error_set(err, PC_E_INVALID_ARG, "channel \"%.40s\": invalid "
                        "name (1 to 32 of a-z 0-9 . _ -, starting with a "
                        "letter or digit)", ev->channel ? ev->channel : "");
  if (!sha256_valid(ev->sha256))
    return pc_error_set(err, PC_E_INVALID_ARG, "event: \"%.80s\" is not a "
                        "sha256", ev->sha256 ? ev->sha256 : "");
  if (!ev->actor || !*ev->actor)
    return pc_error_set(err, PC_E_INVALID_ARG, "event: no actor");
  return PC_OK;
}

int pc_release_record(pc_release *r, const pc_release_event *ev,
                      int64_t *event_id, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  char *before = NULL;
  const char *after;
  int moves, exists, found, rc;
  int64_t t = pc_sql_now_ms();
  pc_buf gates, detail;

  if (event_id)
    *event_id = 0;
  if ((rc = record_check(r, ev, err)) != PC_OK)
    return rc;
  moves = strcmp(ev->action, "refuse") != 0;
  pc_buf_init(&gates, PC_BUF_DEFAULT_MAX);
  pc_buf_init(&detail, PC_BUF_DEFAULT_MAX);
  /* IMMEDIATE: what the channel held cannot change under us. */
  if ((rc = pc_sql_exec(r->db, "BEGIN IMMEDIATE")) != SQLITE_OK) {
    rc = db_error(r, rc, "start a transaction", err);
    goto out;
  }
  if ((rc = artifact_known(r, ev->sha256, &found, err)) != PC_OK)
    goto fail;
  if (!found) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "artifact %.12s: not stored in "
                      "the registry %s", ev->sha256, r->dir);
    goto fail;
  }
  if ((rc = channel_get(r, ev->channel, &before, &exists, err)) != PC_OK)
    goto fail;
  if (!exists && strcmp(ev->action, "rollback") == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: no such channel "
                      "in %s", ev->channel, r->dir);
    goto fail;
  }
  /* The decision was made against what the channel held then: if another
   * promote or rollback moved it since, this one is stale. */
  if (ev->check_before &&
      !(ev->before ? before && !strcmp(before, ev->before) : !before)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: it moved to %.12s "
                      "while this decision was being made (against %.12s); "
                      "nothing recorded, try again", ev->channel,
                      before ? before : "(empty)",
                      ev->before ? ev->before : "(empty)");
    goto fail;
  }
  after = moves ? ev->sha256 : before;
  rc = sqlite3_prepare_v2(r->db, "INSERT INTO events (time_ms, actor, "
                          "action, channel, sha256, before, after, reason, "
                          "gates, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "?7, ?8, ?9, ?10)", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 1, t);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 2, ev->actor, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, ev->action, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 4, ev->channel, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 5, ev->sha256, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 6, before);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 7, after);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 8, ev->reason);
  if (rc == SQLITE_OK)
    rc = bind_json(st, 9, ev->gates, &gates);
  if (rc == SQLITE_OK)
    rc = bind_json(st, 10, ev->detail, &detail);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    rc = db_error(r, rc, "record the event", err);
    goto fail;
  }
  if (event_id)
    *event_id = sqlite3_last_insert_rowid(r->db);
  sqlite3_finalize(st);
  st = NULL;
  if (moves) {
    rc = sqlite3_prepare_v2(r->db, "INSERT INTO channels (name, sha256, "
                            "since_ms) VALUES (?1, ?2, ?3) ON CONFLICT (name) "
                            "DO UPDATE SET sha256 = excluded.sha256, "
                            "since_ms = excluded.since_ms", -1, &st, NULL);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(st, 1, ev->channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(st, 2, ev->sha256, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(st, 3, t);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
      rc = db_error(r, rc, "move the channel", err);
      goto fail;
    }
  }
  if ((rc = pc_sql_exec(r->db, "COMMIT")) != SQLITE_OK) {
    rc = db_error(r, rc, "commit", err);
    goto fail;
  }
  rc = PC_OK;
  goto out;

fail:
  rollback(r);
  if (event_id)
    *event_id = 0;
out:
  sqlite3_finalize(st);
  pc_free(before);
  pc_buf_free(&gates);
  pc_buf_free(&detail);
  return rc;
}

int pc_release_rollback_target(pc_release *r, const char *channel,
                               char **sha256, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  char *current = NULL;
  int exists, rc;

  *sha256 = NULL;
  if (!r)
    return pc_error_set(err, PC_E_INVALID_ARG, "release: no registry");
  if (!pc_release_channel_valid(channel))
    return pc_error_set(err, PC_E_INVALID_ARG, "channel \"%.40s\": invalid "
                        "name", channel ? channel : "");
  if ((rc = channel_get(r, channel, &current, &exists, err)) != PC_OK)
    return rc;
  if (!exists) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: no such channel "
                      "in %s", channel, r->dir);
    goto out;
  }
  if (!current) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: empty, nothing "
                      "to roll back", channel);
    goto out;
  }
  /* The last promotion that put the current artifact there (a promotion
   * of the artifact already current changed nothing: skip it). */
  rc = sqlite3_prepare_v2(r->db, "SELECT before FROM events WHERE channel = "
                          "?1 AND action = 'promote' AND after = ?2 AND "
                          "(before IS NULL OR before != ?2) ORDER BY id "
                          "DESC LIMIT 1", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 2, current, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: no promotion of "
                      "%.12s recorded, nothing to go back to", channel,
                      current);
  } else if (rc != SQLITE_ROW) {
    rc = db_error(r, rc, "read the history", err);
  } else if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: held nothing "
                      "before %.12s, nothing to go back to", channel,
                      current);
  } else {
    const char *text = (const char *)sqlite3_column_text(st, 0);

    rc = PC_OK;
    if (!text || !(*sha256 = pc_strdup(text)))
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
  }
out:
  sqlite3_finalize(st);
  pc_free(current);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Listing                                                                */

/* Run `sql` with the text parameters p1 and p2 (either may be NULL: not
 * bound) and append one object per row, filled by `row`, to a new array
 * in *out. `what` says what the query is for in messages. */
typedef int (*row_fn)(pc_release *r, sqlite3_stmt *st,
                      struct json_object *obj, pc_error *err);

static int query_rows(pc_release *r, const char *sql, const char *p1,
                      const char *p2, row_fn row, const char *what,
                      struct json_object **out, pc_error *err)
{
  struct json_object *arr = json_object_new_array(), *obj;
  sqlite3_stmt *st = NULL;
  int rc;

  *out = NULL;
  if (!arr)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
  rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && p1)
    rc = sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && p2)
    rc = sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int prc;

    if (!(obj = json_object_new_object()) ||
        json_object_array_add(arr, obj) != 0) {
      json_object_put(obj);
      rc = SQLITE_NOMEM;
      break;
    }
    prc = row(r, st, obj, err);
    if (prc == PC_E_NOMEM) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (prc != PC_OK) {
      rc = prc;
      goto fail;
    }
    rc = SQLITE_OK;
  }
  if (rc == SQLITE_NOMEM) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
    goto fail;
  }
  if (rc != SQLITE_DONE) {
    rc = db_error(r, rc, what, err);
    goto fail;
  }
  sqlite3_finalize(st);
  *out = arr;
  return PC_OK;

fail:
  sqlite3_finalize(st);
  json_object_put(arr);
  return rc;
}

/* channel, sha256, name, version, since_ms */
static int channel_row(pc_release *r, sqlite3_stmt *st,
                       struct json_object *o, pc_error *err)
{
  int rc = add_text(o, "channel", st, 0);

  if (rc == PC_OK)
    rc = add_text(o, "sha256", st, 1);
  if (rc == PC_OK)
    rc = add_text(o, "name", st, 2);
  if (rc == PC_OK)
    rc = add_text(o, "version", st, 3);
  if (rc == PC_OK)
    rc = add_int(o, "since_ms", st, 4);
  return rc;
}

/* sha256, name, version, key_id, added_ms */
static int artifact_row(pc_release *r, sqlite3_stmt *st,
                        struct json_object *o, pc_error *err)
{
  int rc = add_text(o, "sha256", st, 0);

  if (rc == PC_OK)
    rc = add_text(o, "name", st, 1);
  if (rc == PC_OK)
    rc = add_text(o, "version", st, 2);
  if (rc == PC_OK)
    rc = add_text(o, "key_id", st, 3);
  if (rc == PC_OK)
    rc = add_int(o, "added_ms", st, 4);
  return rc;
}

static const char *const CHANNELS_SQL =
  "SELECT c.name, c.sha256, a.name, a.version, c.since_ms FROM channels c "
  "LEFT JOIN artifacts a ON a.sha256 = c.sha256 ORDER BY c.name";

static const char *const ARTIFACTS_SQL =
  "SELECT sha256, name, version, key_id, added_ms FROM artifacts "
  "ORDER BY added_ms, sha256";

int pc_release_list(pc_release *r, struct json_object **out, pc_error *err)
{
  struct json_object *o = NULL, *channels = NULL, *artifacts = NULL;
  int rc;

  *out = NULL;
  if (!r)
    return pc_error_set(err, PC_E_INVALID_ARG, "release: no registry");
  if ((rc = query_rows(r, CHANNELS_SQL, NULL, NULL, channel_row,
                       "list the channels", &channels, err)) != PC_OK ||
      (rc = query_rows(r, ARTIFACTS_SQL, NULL, NULL, artifact_row,
                       "list the artifacts", &artifacts, err)) != PC_OK)
    goto fail;
  if (!(o = json_object_new_object()) ||
      add(o, "channels", channels, 0) != PC_OK) {
    channels = NULL;  /* add released it */
    goto nomem;
  }
  channels = NULL;
  if (add(o, "artifacts", artifacts, 0) != PC_OK) {
    artifacts = NULL;
    goto nomem;
  }
  *out = o;
  return PC_OK;

nomem:
  rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
fail:
  json_object_put(o);
  json_object_put(channels);
  json_object_put(artifacts);
  return rc;
}

/* Column 0 of every row of `sql` (text parameters p1, p2 as in
 * query_rows) as a new array of strings in *out. */
static int query_strings(pc_release *r, const char *sql, const char *p1,
                         const char *p2, const char *what,
                         struct json_object **out, pc_error *err)
{
  struct json_object *arr = json_object_new_array();
  sqlite3_stmt *st = NULL;
  int rc;

  *out = NULL;
  if (!arr)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
  rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && p1)
    rc = sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && p2)
    rc = sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    struct json_object *v = text ? json_object_new_string(text) : NULL;

    if (!v || json_object_array_add(arr, v) != 0) {
      json_object_put(v);
      rc = SQLITE_NOMEM;
      break;
    }
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    rc = rc == SQLITE_NOMEM
           ? pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index)
           : db_error(r, rc, what, err);
    sqlite3_finalize(st);
    json_object_put(arr);
    return rc;
  }
  sqlite3_finalize(st);
  *out = arr;
  return PC_OK;
}

/*
 * The digests `what` selects (see pc_release_show) as a new array of
 * strings in *matches; an empty channel or a malformed selector is an
 * error. `kind` gets what `what` was taken for, for messages.
 */
static int show_matches(pc_release *r, const char *what,
                        struct json_object **matches, const char **kind,
                        pc_error *err)
{
  const char *at = strrchr(what, '@');
  char *sha = NULL, *copy = NULL;
  size_t len = strlen(what), i;
  int exists = 0, rc;

  *matches = NULL;
  *kind = "artifact";
  /* A channel name wins over a digest prefix spelt the same way. */
  if (pc_release_channel_valid(what)) {
    if ((rc = channel_get(r, what, &sha, &exists, err)) != PC_OK)
      return rc;
    if (exists) {
      *kind = "channel";
      if (!sha)
        return pc_error_set(err, PC_E_INVALID_ARG, "channel %s: empty, no "
                            "artifact to show", what);
      rc = query_strings(r, "SELECT ?1", sha, NULL, "read the channel",
                         matches, err);
      pc_free(sha);
      return rc;
    }
  }
  if (at && at != what && at[1]) {
    *kind = "NAME@VERSION";
    if (!(copy = pc_strndup(what, (size_t)(at - what))))
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
    rc = query_strings(r, "SELECT sha256 FROM artifacts WHERE name = ?1 AND "
                       "version = ?2 ORDER BY sha256", copy, at + 1,
                       "look the version up", matches, err);
    pc_free(copy);
    return rc;
  }
  for (i = 0; i < len; i++) {
    char c = what[i];

    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
          (c >= 'A' && c <= 'F')))
      break;
  }
  if (len == 0 || i < len || len > PC_SHA256_HEX_LEN)
    return pc_error_set(err, PC_E_INVALID_ARG, "\"%.80s\": not a channel, "
                        "a sha256 (or a prefix of one) or NAME@VERSION in "
                        "%s", what, r->dir);
  if (len < PREFIX_MIN)
    return pc_error_set(err, PC_E_INVALID_ARG, "\"%s\": not a channel, and "
                        "a digest prefix needs at least %d hex digits",
                        what, PREFIX_MIN);
  if (!(copy = pc_strdup(what)))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
  for (i = 0; i < len; i++)
    if (copy[i] >= 'A' && copy[i] <= 'F')
      copy[i] = (char)(copy[i] - 'A' + 'a');
  *kind = len == PC_SHA256_HEX_LEN ? "sha256" : "sha256 prefix";
  rc = query_strings(r, "SELECT sha256 FROM artifacts WHERE substr(sha256, "
                     "1, length(?1)) = ?1 ORDER BY sha256", copy, NULL,
                     "look the digest up", matches, err);
  pc_free(copy);
  return rc;
}

/* Refuse `matches` unless it holds exactly one digest. */
static int one_match(pc_release *r, const char *what, const char *kind,
                     const struct json_object *matches, pc_error *err)
{
  size_t n = json_object_array_length(matches);
  char list[128] = "";
  size_t used = 0;

  if (n == 1)
    return PC_OK;
  if (n == 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s %.80s: no such artifact "
                        "in %s", kind, what, r->dir);
  for (size_t i = 0; i < n && i < MATCHES_NAMED; i++) {
    int w = snprintf(list + used, sizeof(list) - used, "%s%.12s",
                     i ? ", " : "", json_object_get_string(
                       json_object_array_get_idx(matches, i)));

    if (w < 0 || (size_t)w >= sizeof(list) - used)
      break;
    used += (size_t)w;
  }
  return pc_error_set(err, PC_E_INVALID_ARG, "%s %.80s: ambiguous, matches "
                      "%zu artifacts: %s%s", kind, what, n, list,
                      n > MATCHES_NAMED ? ", ..." : "");
}

/* sha256, name, version, key_id, added_ms, manifest */
static int show_row(pc_release *r, sqlite3_stmt *st, struct json_object *o,
                    pc_error *err)
{
  int rc = artifact_row(r, st, o, err);

  if (rc == PC_OK)
    rc = add_json(r, o, "manifest", st, 5, err);
  return rc;
}

int pc_release_show(pc_release *r, const char *what, struct json_object **out,
                    pc_error *err)
{
  struct json_object *matches = NULL, *rows = NULL, *channels = NULL, *o;
  const char *kind, *sha;
  int rc;

  *out = NULL;
  if (!r || !what)
    return pc_error_set(err, PC_E_INVALID_ARG, "release show: nothing to "
                        "show");
  if ((rc = show_matches(r, what, &matches, &kind, err)) != PC_OK ||
      (rc = one_match(r, what, kind, matches, err)) != PC_OK)
    goto out;
  sha = json_object_get_string(json_object_array_get_idx(matches, 0));
  if ((rc = query_rows(r, "SELECT sha256, name, version, key_id, added_ms, "
                       "manifest FROM artifacts WHERE sha256 = ?1", sha,
                       NULL, show_row, "read the artifact", &rows,
                       err)) != PC_OK)
    goto out;
  if (json_object_array_length(rows) != 1) {
    rc = pc_error_set(err, PC_E_IO, "%s: channel %s points at %.12s, which "
                      "is not indexed (the registry is damaged)", r->index,
                      what, sha);
    goto out;
  }
  if ((rc = query_strings(r, "SELECT name FROM channels WHERE sha256 = ?1 "
                          "ORDER BY name", sha, NULL, "read the channels",
                          &channels, err)) != PC_OK)
    goto out;
  o = json_object_array_get_idx(rows, 0);
  if (add(o, "channels", channels, 0) != PC_OK) {
    channels = NULL;
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", r->index);
    goto out;
  }
  channels = NULL;
  *out = json_object_get(o);
out:
  json_object_put(matches);
  json_object_put(rows);
  json_object_put(channels);
  return rc;
}

/* The columns of an event, with its artifact's name and version. */
static int event_row(pc_release *r, sqlite3_stmt *st, struct json_object *o,
                     pc_error *err)
{
  static const char *const text_cols[] = {
    "actor", "action", "channel", "sha256", "name", "version", "before",
    "after", "reason"
  };
  int rc = add_int(o, "id", st, 0);

  if (rc == PC_OK)
    rc = add_int(o, "time_ms", st, 1);
  for (int i = 0; rc == PC_OK && i < 9; i++)
    rc = add_text(o, text_cols[i], st, 2 + i);
  if (rc == PC_OK)
    rc = add_json(r, o, "gates", st, 11, err);
  if (rc == PC_OK)
    rc = add_json(r, o, "detail", st, 12, err);
  return rc;
}

int pc_release_history(pc_release *r, const char *channel,
                       struct json_object **out, pc_error *err)
{
  char *sha = NULL;
  int exists = 0, rc;

  *out = NULL;
  if (!r)
    return pc_error_set(err, PC_E_INVALID_ARG, "release: no registry");
  if (channel && !pc_release_channel_valid(channel))
    return pc_error_set(err, PC_E_INVALID_ARG, "channel \"%.40s\": invalid "
                        "name", channel);
  rc = query_rows(r, channel
                  ? "SELECT e.id, e.time_ms, e.actor, e.action, e.channel, "
                    "e.sha256, a.name, a.version, e.before, e.after, "
                    "e.reason, e.gates, e.detail FROM events e LEFT JOIN "
                    "artifacts a ON a.sha256 = e.sha256 WHERE e.channel = "
                    "?1 ORDER BY e.id"
                  : "SELECT e.id, e.time_ms, e.actor, e.action, e.channel, "
                    "e.sha256, a.name, a.version, e.before, e.after, "
                    "e.reason, e.gates, e.detail FROM events e LEFT JOIN "
                    "artifacts a ON a.sha256 = e.sha256 ORDER BY e.id",
                  channel, NULL, event_row, "read the history", out, err);
  if (rc != PC_OK || !channel || json_object_array_length(*out) > 0)
    return rc;
  /* No event: say so when the channel does not exist either. */
  rc = channel_get(r, channel, &sha, &exists, err);
  pc_free(sha);
  if (rc == PC_OK && !exists)
    rc = pc_error_set(err, PC_E_INVALID_ARG, "channel %s: no such channel "
                      "in %s", channel, r->dir);
  if (rc != PC_OK) {
    json_object_put(*out);
    *out = NULL;
  }
  return rc;
}
