/* index.c - passage indexes: JSONL corpus to SQLite FTS5, BM25 queries. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "alloc.h"
#include "file.h"
#include "hash.h"
#include "index.h"
#include "json_text.h"
#include "sql.h"

struct pc_index {
  sqlite3 *db;
  sqlite3_stmt *query;   /* the ranked query, reused under `lock` */
  pthread_mutex_t lock;
  size_t rows;
  char *path;            /* owned: for messages */
};

static const char schema_sql[] =
  "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
  "CREATE TABLE passages(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL "
  "UNIQUE, title TEXT NOT NULL, text TEXT NOT NULL);"
  "CREATE VIRTUAL TABLE fts USING fts5(title, text, content='passages', "
  "content_rowid='rowid', tokenize='" PC_INDEX_TOKENIZER "');";

static const char query_sql[] =
  "SELECT p.id, p.title, p.text, bm25(fts) AS s FROM fts "
  "JOIN passages p ON p.rowid = fts.rowid WHERE fts MATCH ?1 "
  "ORDER BY s, p.id LIMIT ?2";

/* Non-zero when this SQLite can make FTS5 tables. */
static int have_fts5(void)
{
  sqlite3 *db = NULL;
  int ok;

  if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return 0;
  }
  ok = sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(x)", NULL, NULL,
                    NULL) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

static int no_fts5(pc_error *err)
{
  return pc_error_set(err, PC_E_UNSUPPORTED, "index: this SQLite (%s) "
                      "has no FTS5; install an SQLite built with FTS5 "
                      "(Debian's libsqlite3 has it)", sqlite3_libversion());
}

int pc_index_fts_query(const char *text, pc_buf *out)
{
  const unsigned char *p = (const unsigned char *)text;
  size_t terms = 0;
  int rc = PC_OK;

  while (*p && terms < PC_INDEX_TERMS_MAX && rc == PC_OK) {
    const unsigned char *start;

    while (*p && !(*p >= 0x80 || (*p >= '0' && *p <= '9') ||
                   (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
      p++;
    if (!*p)
      break;
    start = p;
    while (*p >= 0x80 || (*p >= '0' && *p <= '9') ||
           (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
      p++;
    if (terms)
      rc = pc_buf_puts(out, " OR ");
    if (rc == PC_OK)
      rc = pc_buf_putc(out, '"');
    if (rc == PC_OK)
      rc = pc_buf_append(out, start, (size_t)(p - start));
    if (rc == PC_OK)
      rc = pc_buf_putc(out, '"');
    terms++;
  }
  return rc;
}

int pc_index_passage(const pc_index_hit *hit, pc_buf *out)
{
  int rc = PC_OK;

  if (hit->title[0]) {
    rc = pc_buf_puts(out, hit->title);
    if (rc == PC_OK)
      rc = pc_buf_puts(out, " | ");
  }
  if (rc == PC_OK)
    rc = pc_buf_puts(out, hit->text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Building.                                                                */

/* Set an error from SQLite's state of `db`, prefixed with `what`. */
static int sql_fail(pc_error *err, sqlite3 *db, const char *what)
{
  return pc_error_set(err, PC_E_IO, "%s: %s", what,
                      db ? sqlite3_errmsg(db) : "out of memory");
}

static int put_meta(sqlite3 *db, const char *key, const char *value,
                    const char *what, pc_error *err)
{
  sqlite3_stmt *st = NULL;
  int rc = PC_OK;

  if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, ?2)",
                         -1, &st, NULL) != SQLITE_OK ||
      sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_DONE)
    rc = sql_fail(err, db, what);
  sqlite3_finalize(st);
  return rc;
}

/*
 * Insert the row on line `lineno` of `corpus` (`line`, `len` bytes, not
 * blank) through the prepared statements.
 */
static int add_row(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *fts,
                   const char *corpus, size_t lineno, const char *line,
                   size_t len, const char *out, pc_error *err)
{
  struct json_object *row = NULL, *id = NULL, *title = NULL, *text = NULL;
  pc_error jerr = PC_ERROR_INIT;
  char idbuf[32];
  const char *idtext;
  sqlite3_int64 rowid;
  int rc;

  /* Strict: no comments, single quotes, invalid UTF-8 or trailing text. */
  rc = pc_json_parse(line, len, PC_JSON_PARSE_STRICT, &row, &jerr);
  if (rc == PC_E_NOMEM) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", corpus);
    goto out;
  }
  if (rc) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: not a JSON value: %s",
                      corpus, lineno, jerr.message);
    goto out;
  }
  if (!json_object_is_type(row, json_type_object)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: expected a JSON "
                      "object", corpus, lineno);
    goto out;
  }
  if (!json_object_object_get_ex(row, "id", &id) ||
      !(json_object_is_type(id, json_type_string) ||
        json_object_is_type(id, json_type_int))) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: id: expected a "
                      "string or an integer", corpus, lineno);
    goto out;
  }
  if (json_object_is_type(id, json_type_int)) {
    snprintf(idbuf, sizeof(idbuf), "%lld",
             (long long)json_object_get_int64(id));
    idtext = idbuf;
  } else {
    idtext = json_object_get_string(id);
  }
  if (!json_object_object_get_ex(row, "text", &text) ||
      !json_object_is_type(text, json_type_string)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: text: expected a "
                      "string", corpus, lineno);
    goto out;
  }
  if (json_object_object_get_ex(row, "title", &title) &&
      !json_object_is_type(title, json_type_string) &&
      !json_object_is_type(title, json_type_null)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: title: expected a "
                      "string", corpus, lineno);
    goto out;
  }
  if (title && !json_object_is_type(title, json_type_string))
    title = NULL;
  sqlite3_reset(ins);
  sqlite3_bind_text(ins, 1, idtext, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(ins, 2, title ? json_object_get_string(title) : "", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(ins, 3, json_object_get_string(text), -1,
                    SQLITE_TRANSIENT);
  switch (sqlite3_step(ins)) {
  case SQLITE_DONE:
    break;
  case SQLITE_CONSTRAINT:
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: id: '%s' appears "
                      "twice", corpus, lineno, idtext);
    goto out;
  default:
    rc = sql_fail(err, db, out);
    goto out;
  }
  rowid = sqlite3_last_insert_rowid(db);
  sqlite3_reset(fts);
  sqlite3_bind_int64(fts, 1, rowid);
  sqlite3_bind_text(fts, 2, title ? json_object_get_string(title) : "", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(fts, 3, json_object_get_string(text), -1,
                    SQLITE_TRANSIENT);
  if (sqlite3_step(fts) != SQLITE_DONE)
    rc = sql_fail(err, db, out);

out:
  json_object_put(row);
  return rc;
}

/* Fill the new database `db` from the corpus bytes. */
static int fill(sqlite3 *db, const char *corpus, const char *data,
                size_t len, const char *out, pc_index_info *info,
                pc_error *err)
{
  sqlite3_stmt *ins = NULL, *fts = NULL;
  size_t pos = 0, lineno = 0, rows = 0;
  char num[32];
  int rc = PC_OK;

  if (sqlite3_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                   "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    rc = sql_fail(err, db, out);
    goto out;
  }
  if (sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
    rc = strstr(sqlite3_errmsg(db), "fts5") ? no_fts5(err)
                                            : sql_fail(err, db, out);
    goto out;
  }
  if (sqlite3_prepare_v2(db, "INSERT INTO passages(id, title, text) "
                         "VALUES(?1, ?2, ?3)", -1, &ins, NULL) !=
        SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO fts(rowid, title, text) "
                         "VALUES(?1, ?2, ?3)", -1, &fts, NULL) !=
        SQLITE_OK) {
    rc = sql_fail(err, db, out);
    goto out;
  }
  while (pos < len) {
    const char *line = data + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - line) : len - pos;
    size_t i;

    pos += n + (nl ? 1 : 0);
    lineno++;
    if (n > 0 && line[n - 1] == '\r')
      n--;
    for (i = 0; i < n; i++)
      if (line[i] != ' ' && line[i] != '\t')
        break;
    if (i == n)
      continue;
    if (memchr(line, '\0', n)) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: NUL byte in line",
                        corpus, lineno);
      goto out;
    }
    rc = add_row(db, ins, fts, corpus, lineno, line, n, out, err);
    if (rc != PC_OK)
      goto out;
    rows++;
  }
  if (rows == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: no passages", corpus);
    goto out;
  }
  snprintf(num, sizeof(num), "%zu", rows);
  pc_sha256_hex(data, len, info->corpus_sha256);
  info->rows = rows;
  rc = put_meta(db, "schema", PC_INDEX_SCHEMA, out, err);
  if (rc == PC_OK)
    rc = put_meta(db, "corpus_sha256", info->corpus_sha256, out, err);
  if (rc == PC_OK)
    rc = put_meta(db, "rows", num, out, err);
  if (rc == PC_OK)
    rc = put_meta(db, "tokenizer", PC_INDEX_TOKENIZER, out, err);
  if (rc == PC_OK)
    rc = put_meta(db, "ranking", "bm25", out, err);
  if (rc != PC_OK)
    goto out;
  if (sqlite3_exec(db, "INSERT INTO fts(fts) VALUES('optimize'); COMMIT",
                   NULL, NULL, NULL) != SQLITE_OK)
    rc = sql_fail(err, db, out);

out:
  sqlite3_finalize(ins);
  sqlite3_finalize(fts);
  return rc;
}

int pc_index_build(const char *corpus, const char *out, int force,
                   pc_index_info *info, pc_error *err)
{
  pc_index_info local;
  char *data = NULL, *tmp = NULL;
  size_t len = 0;
  sqlite3 *db = NULL;
  struct stat sb;
  pc_buf name;
  int fd, rc = PC_OK;

  pc_buf_init(&name, 4096);
  memset(&local, 0, sizeof(local));
  if (!have_fts5()) {
    rc = no_fts5(err);
    goto out;
  }
  if (!force && stat(out, &sb) == 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: exists (use --force to replace "
                      "it)", out);
    goto out;
  }
  rc = pc_file_read(corpus, PC_INDEX_CORPUS_MAX, &data, &len, err);
  if (rc != PC_OK)
    goto out;
  if (pc_buf_printf(&name, "%s.tmp.XXXXXX", out)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", out);
    goto out;
  }
  fd = mkstemp(name.data);
  if (fd < 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: cannot create a temporary file: "
                      "%s", out, strerror(errno));
    goto out;
  }
  close(fd);
  tmp = name.data;
  if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = sql_fail(err, db, out);
    goto out;
  }
  rc = fill(db, corpus, data, len, out, &local, err);
  if (rc != PC_OK)
    goto out;
  if (sqlite3_close(db) != SQLITE_OK) {
    rc = sql_fail(err, db, out);
    goto out;
  }
  db = NULL;
  if (rename(tmp, out) != 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: cannot rename %s over it: %s",
                      out, tmp, strerror(errno));
    goto out;
  }
  tmp = NULL;
  if (info)
    *info = local;

out:
  if (db)
    sqlite3_close(db);
  if (tmp)
    unlink(tmp);
  pc_buf_free(&name);
  pc_free(data);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Querying.                                                                */

int pc_index_open(const char *path, pc_index **out, pc_error *err)
{
  pc_index *ix = NULL;
  sqlite3_stmt *st = NULL;
  struct stat sb;
  int rc = PC_OK, locked = 0;

  *out = NULL;
  if (stat(path, &sb) != 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: cannot open index: %s", path,
                      strerror(errno));
    goto fail;
  }
  if (!have_fts5()) {
    rc = no_fts5(err);
    goto fail;
  }
  ix = pc_calloc(1, sizeof(*ix));
  if (!ix || !(ix->path = pc_strdup(path))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  if (pthread_mutex_init(&ix->lock, NULL) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: cannot make a mutex", path);
    goto fail;
  }
  locked = 1;
  if (sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READONLY, NULL) !=
      SQLITE_OK) {
    rc = pc_error_set(err, PC_E_IO, "%s: cannot open index: %s", path,
                      ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
    goto fail;
  }
  if (sqlite3_prepare_v2(ix->db, "SELECT value FROM meta WHERE key = "
                         "'schema'", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW ||
      !sqlite3_column_text(st, 0) ||
      strcmp((const char *)sqlite3_column_text(st, 0), PC_INDEX_SCHEMA)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not a promptc index "
                      "(build one with `promptc index build`)", path);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(ix->db, "SELECT count(*) FROM passages", -1, &st,
                         NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not a promptc index: %s",
                      path, sqlite3_errmsg(ix->db));
    goto fail;
  }
  ix->rows = (size_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(ix->db, query_sql, -1, &ix->query, NULL) !=
      SQLITE_OK) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: not a promptc index: %s",
                      path, sqlite3_errmsg(ix->db));
    goto fail;
  }
  *out = ix;
  return PC_OK;

fail:
  sqlite3_finalize(st);
  if (ix) {
    sqlite3_finalize(ix->query);
    if (ix->db)
      sqlite3_close(ix->db);
    if (locked)
      pthread_mutex_destroy(&ix->lock);
    pc_free(ix->path);
    pc_free(ix);
  }
  return rc;
}

void pc_index_close(pc_index *ix)
{
  if (!ix)
    return;
  sqlite3_finalize(ix->query);
  sqlite3_close(ix->db);
  pthread_mutex_destroy(&ix->lock);
  pc_free(ix->path);
  pc_free(ix);
}

size_t pc_index_rows(const pc_index *ix)
{
  return ix->rows;
}

void pc_index_hits_free(pc_index_hit *hits, size_t n)
{
  if (!hits)
    return;
  for (size_t i = 0; i < n; i++) {
    pc_free(hits[i].id);
    pc_free(hits[i].title);
    pc_free(hits[i].text);
  }
  pc_free(hits);
}

/* A copy of column `col` of the current row ("" for NULL). */
static char *column_dup(sqlite3_stmt *st, int col)
{
  const unsigned char *s = sqlite3_column_text(st, col);

  return pc_strdup(s ? (const char *)s : "");
}

int pc_index_query(pc_index *ix, const char *text, size_t k,
                   pc_index_hit **hits, size_t *n, pc_error *err)
{
  pc_index_hit *res = NULL;
  size_t got = 0;
  pc_buf q;
  int rc = PC_OK, step;

  *hits = NULL;
  *n = 0;
  pc_buf_init(&q, PC_BUF_DEFAULT_MAX);
  if (k < 1 || k > PC_INDEX_K_MAX) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "k: expected an integer from "
                      "1 to %d, got %zu", PC_INDEX_K_MAX, k);
    goto out;
  }
  if (pc_index_fts_query(text, &q) != PC_OK) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", ix->path);
    goto out;
  }
  if (q.len == 0)
    goto out;
  res = pc_calloc(k, sizeof(*res));
  if (!res) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", ix->path);
    goto out;
  }
  pthread_mutex_lock(&ix->lock);
  sqlite3_reset(ix->query);
  sqlite3_bind_text(ix->query, 1, q.data, (int)q.len, SQLITE_STATIC);
  sqlite3_bind_int64(ix->query, 2, (sqlite3_int64)k);
  while (got < k && (step = sqlite3_step(ix->query)) == SQLITE_ROW) {
    pc_index_hit *h = &res[got++];

    h->id = column_dup(ix->query, 0);
    h->title = column_dup(ix->query, 1);
    h->text = column_dup(ix->query, 2);
    h->score = sqlite3_column_double(ix->query, 3);
    if (!h->id || !h->title || !h->text) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", ix->path);
      break;
    }
  }
  if (rc == PC_OK && got < k && step != SQLITE_DONE)
    rc = pc_error_set(err, PC_E_IO, "%s: query failed: %s", ix->path,
                      sqlite3_errmsg(ix->db));
  sqlite3_reset(ix->query);
  sqlite3_clear_bindings(ix->query);
  pthread_mutex_unlock(&ix->lock);
  if (rc != PC_OK)
    goto out;
  if (got == 0) {
    pc_free(res);
    res = NULL;
  }
  *hits = res;
  *n = got;
  res = NULL;

out:
  pc_index_hits_free(res, got);
  pc_buf_free(&q);
  return rc;
}
