/* cache.c - the LM response cache: an LRU in memory before SQLite (WAL). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "file.h"
#include "buf.h"
#include "cache.h"
#include "sql.h"

#define KEY_LEN PC_SHA256_HEX_LEN
#define SCHEMA_VERSION 1          /* PRAGMA user_version of our layout */
#define BUSY_TIMEOUT_MS 10000     /* wait this long for another writer */
#define MIN_BUCKETS ((size_t)16)
#define MAX_BUCKETS ((size_t)1 << 20)
#define FLIGHT_BUCKETS 64         /* in-flight keys: about one per thread */
#define MSG_MAX 512               /* one warning line */

/*
 * Locking. `mu` guards the LRU, the in-flight set and the counters;
 * `db_mu` guards the SQLite connection and its statements. The connection
 * is opened with SQLITE_OPEN_NOMUTEX: db_mu already serialises every use
 * of it (a bind-step-reset sequence on a shared statement needs a lock of
 * its own anyway). No code path holds both locks, and the warn hook is
 * called with neither held, so a hook may call back into the cache.
 */

/* One value in memory: in a hash chain and in the recency list. */
struct entry {
  char key[KEY_LEN + 1];
  char *value;          /* owned: len bytes plus a NUL */
  size_t len;
  struct entry *newer;  /* towards the head (most recently used) */
  struct entry *older;  /* towards the tail (least recently used) */
  struct entry *chain;  /* next entry in the same bucket */
};

/* One key that a caller has missed and not yet put or abandoned. */
struct flight {
  char key[KEY_LEN + 1];
  struct flight *chain;
};

struct pc_cache {
  pthread_mutex_t mu;
  pthread_cond_t resolved;  /* broadcast whenever a flight ends */
  struct entry **buckets;   /* owned: n_buckets chains of entries */
  size_t n_buckets;         /* a power of two */
  struct entry *head;       /* most recently used */
  struct entry *tail;       /* least recently used: evicted first */
  size_t n_entries;
  size_t capacity;
  struct flight *flights[FLIGHT_BUCKETS];  /* owned chains */
  pc_cache_stats stats;

  pthread_mutex_t db_mu;
  sqlite3 *db;              /* owned; NULL when memory only */
  sqlite3_stmt *get;        /* owned: SELECT value by key */
  sqlite3_stmt *set;        /* owned: INSERT OR REPLACE */
  char *file;               /* owned: the database path, for messages */
  int busy_warned;          /* the "locked too long" warning was given */
  atomic_int persistent;    /* 1 while db is usable; read without locks */

  pc_cache_warn_fn warn;
  void *warn_ctx;           /* borrowed: passed back to warn */
};

/* ---------------------------------------------------------------------- */
/* Keys and the memory layer (all with c->mu held)                        */

/* A key is 64 lowercase hex digits; anything else is never cached. */
static int key_ok(const char *key)
{
  size_t i;

  if (!key)
    return 0;
  for (i = 0; i < KEY_LEN; i++)
    if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' &&
                                               key[i] <= 'f')))
      return 0;
  return key[KEY_LEN] == '\0';
}

/* FNV-1a (64-bit) over the key's hex digits. */
static uint64_t key_hash(const char *key)
{
  uint64_t h = 14695981039346656037ULL;

  for (size_t i = 0; i < KEY_LEN; i++) {
    h ^= (unsigned char)key[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* A NUL-terminated copy of len bytes (pc_free), or NULL when out of
 * memory. */
static char *copy_value(const char *value, size_t len)
{
  char *p;

  if (len == SIZE_MAX || !(p = pc_malloc(len + 1)))
    return NULL;
  if (len)
    memcpy(p, value, len);
  p[len] = '\0';
  return p;
}

static struct entry **bucket_of(pc_cache *c, const char *key)
{
  return &c->buckets[key_hash(key) & (c->n_buckets - 1)];
}

static struct entry *lru_find(pc_cache *c, const char *key)
{
  struct entry *e;

  for (e = *bucket_of(c, key); e; e = e->chain)
    if (memcmp(e->key, key, KEY_LEN) == 0)
      return e;
  return NULL;
}

/* Take `e` out of the recency list (it stays in its bucket). */
static void list_unlink(pc_cache *c, struct entry *e)
{
  if (e->newer)
    e->newer->older = e->older;
  else
    c->head = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    c->tail = e->newer;
  e->newer = e->older = NULL;
}

static void list_push_head(pc_cache *c, struct entry *e)
{
  e->newer = NULL;
  e->older = c->head;
  if (c->head)
    c->head->newer = e;
  c->head = e;
  if (!c->tail)
    c->tail = e;
}

/* Unlink `e` from its bucket and the list, and free it. */
static void lru_remove(pc_cache *c, struct entry *e)
{
  struct entry **pp;

  for (pp = bucket_of(c, e->key); *pp; pp = &(*pp)->chain)
    if (*pp == e) {
      *pp = e->chain;
      break;
    }
  list_unlink(c, e);
  pc_free(e->value);
  pc_free(e);
  c->n_entries--;
}

/* Store a copy of `value` as the most recently used entry, evicting the
 * least recently used one past capacity. Out of memory leaves the key
 * out of memory (never a stale value in its place). */
static void lru_store(pc_cache *c, const char *key, const char *value,
                      size_t len)
{
  struct entry *e = lru_find(c, key);
  char *copy = copy_value(value, len);

  if (!copy) {
    if (e)
      lru_remove(c, e);
    return;
  }
  if (e) {
    pc_free(e->value);
    list_unlink(c, e);
  } else {
    struct entry **b;

    if (!(e = pc_calloc(1, sizeof(*e)))) {
      pc_free(copy);
      return;
    }
    memcpy(e->key, key, KEY_LEN + 1);
    b = bucket_of(c, key);
    e->chain = *b;
    *b = e;
    c->n_entries++;
  }
  e->value = copy;
  e->len = len;
  list_push_head(c, e);
  while (c->n_entries > c->capacity && c->tail)
    lru_remove(c, c->tail);
}

static struct flight **flight_slot(pc_cache *c, const char *key)
{
  struct flight **pp = &c->flights[key_hash(key) & (FLIGHT_BUCKETS - 1)];

  while (*pp && memcmp((*pp)->key, key, KEY_LEN) != 0)
    pp = &(*pp)->chain;
  return pp;
}

/* Mark `key` in flight. Returns 0 when out of memory (the key is then
 * untracked: nobody waits for it). */
static int flight_add(pc_cache *c, const char *key)
{
  struct flight *f = pc_malloc(sizeof(*f));

  if (!f)
    return 0;
  memcpy(f->key, key, KEY_LEN + 1);
  f->chain = c->flights[key_hash(key) & (FLIGHT_BUCKETS - 1)];
  c->flights[key_hash(key) & (FLIGHT_BUCKETS - 1)] = f;
  return 1;
}

/* End the flight of `key`, if any, and wake every waiter. */
static void flight_end(pc_cache *c, const char *key)
{
  struct flight **pp = flight_slot(c, key);
  struct flight *f = *pp;

  if (!f)
    return;
  *pp = f->chain;
  pc_free(f);
  pthread_cond_broadcast(&c->resolved);
}

/* ---------------------------------------------------------------------- */
/* Warnings                                                               */

/* Count a warning and pass it to the hook. Called with no lock held. */
static void report(pc_cache *c, const char *msg)
{
  pthread_mutex_lock(&c->mu);
  c->stats.warnings++;
  pthread_mutex_unlock(&c->mu);
  if (c->warn)
    c->warn(c->warn_ctx, msg);
}

/* ---------------------------------------------------------------------- */
/* The disk layer (all with c->db_mu held, except disk_open)              */

static void disk_close(pc_cache *c)
{
  sqlite3_finalize(c->get);
  sqlite3_finalize(c->set);
  sqlite3_close(c->db);  /* NULL is a harmless no-op */
  c->get = c->set = NULL;
  c->db = NULL;
  atomic_store(&c->persistent, 0);
}

/*
 * An SQLite call failed with `rc`. A lock held by another process past
 * the busy timeout, or SQLite running out of memory, loses this one
 * operation (warned once); anything else (corrupt file, full disk, file
 * made read-only or removed) ends the disk layer for good. Writes the
 * warning due, if any, into msg (else msg[0] = 0).
 */
static void disk_failed(pc_cache *c, int rc, char *msg, size_t n)
{
  int primary = rc & 0xff;

  msg[0] = '\0';
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
      primary == SQLITE_NOMEM) {
    if (!c->busy_warned)
      snprintf(msg, n, "cache: %s: %s; an entry was skipped (reported "
               "once)", c->file, sqlite3_errstr(rc));
    c->busy_warned = 1;
    return;
  }
  snprintf(msg, n, "cache: %s: %s; caching in memory only from now on",
           c->file, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
  disk_close(c);
}

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
 * Create the table in a new database, or check the schema version of an
 * existing one, inside one write transaction so that two processes that
 * create the same file at once agree. Returns an SQLite code; for a
 * database that is not ours, SQLITE_MISMATCH with the reason in why.
 */
static int disk_schema(sqlite3 *db, char *why, size_t n)
{
  long long version = 0, tables = 0;
  int rc = pc_sql_exec(db, "BEGIN IMMEDIATE");

  if (rc != SQLITE_OK)
    return rc;
  rc = pc_sql_query_int(db, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK && version == 0) {
    rc = pc_sql_query_int(db, "SELECT count(*) FROM sqlite_master", &tables);
    if (rc == SQLITE_OK && tables > 0) {
      snprintf(why, n, "not a promptc cache (schema version 0 but %lld "
               "other objects)", tables);
      rc = SQLITE_MISMATCH;
    }
    if (rc == SQLITE_OK)
      rc = pc_sql_exec(db, "CREATE TABLE responses (key TEXT PRIMARY KEY, "
                "value BLOB NOT NULL, created_ms INTEGER NOT NULL)");
    if (rc == SQLITE_OK)
      rc = pc_sql_exec(db, "PRAGMA user_version = 1");
  } else if (rc == SQLITE_OK && version != SCHEMA_VERSION) {
    snprintf(why, n, "schema version %lld, this promptc reads only "
             "version %d", version, SCHEMA_VERSION);
    rc = SQLITE_MISMATCH;
  }
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(db, "COMMIT");
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(db)) {
    if (why[0] == '\0')  /* keep the real reason, not ROLLBACK's */
      snprintf(why, n, "%s", sqlite3_errmsg(db));
    pc_sql_exec(db, "ROLLBACK");
  }
  return rc;
}

/* Decide which file `path` names: a directory (existing, or written with
 * a trailing '/') holds PC_CACHE_FILE. PC_E_NOMEM or PC_OK. */
static int resolve_file(const char *path, char **out)
{
  size_t n = strlen(path);
  struct stat st;
  pc_buf b;
  int rc;

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (path[n - 1] == '/')
    rc = pc_buf_printf(&b, "%s%s", path, PC_CACHE_FILE);
  else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    rc = pc_buf_printf(&b, "%s/%s", path, PC_CACHE_FILE);
  else
    rc = pc_buf_puts(&b, path);
  *out = rc ? NULL : pc_buf_take(&b, NULL);
  pc_buf_free(&b);
  return *out ? PC_OK : PC_E_NOMEM;
}

/*
 * Open and check the database at c->file: make its directories, open it,
 * set WAL, synchronous=NORMAL and the busy timeout, create or check the
 * schema, and prepare both statements. PC_OK (c->db in use), PC_E_NOMEM,
 * or PC_E_IO with the reason in why (nothing left open).
 */
static int disk_open(pc_cache *c, char *why, size_t n)
{
  struct stat st;
  int rc;

  why[0] = '\0';
  {
    pc_error e = PC_ERROR_INIT;

    if ((rc = pc_file_mkparents(c->file, 0700, &e)) != PC_OK) {
      snprintf(why, n, "%s", e.message);
      return rc;
    }
  }
  if (stat(c->file, &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      snprintf(why, n, "%s", S_ISDIR(st.st_mode) ? "is a directory" :
               "not a regular file");
      return PC_E_IO;
    }
  } else {
    /* Create the file private (0600); SQLite gives its -wal and -shm
     * files the same mode. */
    int fd = open(c->file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
      strerror_r(errno, why, n);
      return PC_E_IO;
    }
    close(fd);
  }
  rc = sqlite3_open_v2(c->file, &c->db, SQLITE_OPEN_READWRITE |
                       SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  /* Reading the journal mode is the first read of the file: a file that
   * is not a database fails here. */
  if (rc == SQLITE_OK)
    rc = set_wal(c->db);
  if (rc == SQLITE_OK)
    rc = pc_sql_exec(c->db, "PRAGMA synchronous = NORMAL");
  if (rc == SQLITE_OK)
    rc = disk_schema(c->db, why, n);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(c->db, "SELECT value FROM responses WHERE "
                            "key = ?1", -1, &c->get, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO responses "
                            "(key, value, created_ms) VALUES (?1, ?2, ?3)",
                            -1, &c->set, NULL);
  if (rc != SQLITE_OK) {
    if (why[0] == '\0')
      snprintf(why, n, "%s", c->db ? sqlite3_errmsg(c->db) :
               sqlite3_errstr(rc));
    disk_close(c);
    return PC_E_IO;
  }
  atomic_store(&c->persistent, 1);
  return PC_OK;
}

/* Look `key` up on disk. Returns 1 and a copy in *value and *len (pc_free)
 * on a hit; 0 on a miss or any failure (then msg may hold a warning). */
static int disk_get(pc_cache *c, const char *key, char **value, size_t *len,
                    char *msg, size_t n)
{
  int rc, hit = 0;

  msg[0] = '\0';
  pthread_mutex_lock(&c->db_mu);
  if (!c->db)
    goto out;
  rc = sqlite3_bind_text(c->get, 1, key, KEY_LEN, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(c->get);
  if (rc == SQLITE_ROW) {
    const void *blob = sqlite3_column_blob(c->get, 0);
    int bytes = sqlite3_column_bytes(c->get, 0);

    /* A NULL blob with bytes > 0 is SQLite out of memory: a miss. */
    if ((blob || bytes == 0) &&
        (*value = copy_value(blob, (size_t)bytes))) {
      *len = (size_t)bytes;
      hit = 1;
    }
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(c->get);
    disk_failed(c, rc, msg, n);
    goto out;
  }
  sqlite3_reset(c->get);
  sqlite3_clear_bindings(c->get);
out:
  pthread_mutex_unlock(&c->db_mu);
  return hit;
}

/* Write `key` to disk, one autocommit transaction. A failure leaves a
 * warning in msg (else msg[0] = 0). */
static void disk_put(pc_cache *c, const char *key, const char *value,
                     size_t len, char *msg, size_t n)
{
  int rc;

  msg[0] = '\0';
  pthread_mutex_lock(&c->db_mu);
  if (!c->db)
    goto out;
  rc = sqlite3_bind_text(c->set, 1, key, KEY_LEN, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(c->set, 2, len ? value : "",
                             (sqlite3_uint64)len, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(c->set, 3, pc_sql_now_ms());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(c->set);
  sqlite3_reset(c->set);
  sqlite3_clear_bindings(c->set);
  if (rc != SQLITE_DONE)
    disk_failed(c, rc, msg, n);
out:
  pthread_mutex_unlock(&c->db_mu);
}

/* ---------------------------------------------------------------------- */
/* Public API                                                             */

char *pc_cache_default_dir(void)
{
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  char *out = NULL;
  pc_buf b;
  int rc;

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  /* The XDG base directory spec ignores relative paths. */
  if (xdg && xdg[0] == '/')
    rc = pc_buf_printf(&b, "%s/promptc", xdg);
  else if (home && *home)
    rc = pc_buf_printf(&b, "%s/.cache/promptc", home);
  else
    goto out;
  if (rc == PC_OK)
    out = pc_buf_take(&b, NULL);
out:
  pc_buf_free(&b);
  return out;
}

int pc_cache_open(const char *path, size_t mem_entries, pc_cache_warn_fn warn,
                  void *warn_ctx, pc_cache **out, pc_error *err)
{
  char why[MSG_MAX - 128], msg[MSG_MAX];
  pc_cache *c;
  size_t nb = MIN_BUCKETS;
  int rc = PC_E_NOMEM;

  *out = NULL;
  if (!(c = pc_calloc(1, sizeof(*c))))
    return pc_error_set(err, PC_E_NOMEM, "cache: out of memory");
  c->capacity = mem_entries ? mem_entries : PC_CACHE_MEM_DEFAULT;
  while (nb < c->capacity && nb < MAX_BUCKETS)
    nb *= 2;
  c->n_buckets = nb;
  c->warn = warn;
  c->warn_ctx = warn_ctx;
  atomic_init(&c->persistent, 0);
  if (!(c->buckets = pc_calloc(nb, sizeof(*c->buckets))))
    goto fail_buckets;
  if (pthread_mutex_init(&c->mu, NULL) != 0)
    goto fail_mu;
  if (pthread_mutex_init(&c->db_mu, NULL) != 0)
    goto fail_db_mu;
  if (pthread_cond_init(&c->resolved, NULL) != 0)
    goto fail_cond;
  if (path && !*path) {
    report(c, "cache: empty path; caching in memory only");
  } else if (path) {
    if (resolve_file(path, &c->file) != PC_OK)
      goto fail_disk;
    rc = disk_open(c, why, sizeof(why));
    if (rc == PC_E_NOMEM)
      goto fail_disk;
    if (rc != PC_OK) {
      snprintf(msg, sizeof(msg), "cache: %s: %s; caching in memory only",
               c->file, why);
      report(c, msg);
    }
  }
  *out = c;
  return PC_OK;

fail_disk:
  pc_free(c->file);
  pthread_cond_destroy(&c->resolved);
fail_cond:
  pthread_mutex_destroy(&c->db_mu);
fail_db_mu:
  pthread_mutex_destroy(&c->mu);
fail_mu:
  pc_free(c->buckets);
fail_buckets:
  pc_free(c);
  return pc_error_set(err, PC_E_NOMEM, "cache: out of memory");
}

void pc_cache_close(pc_cache *c)
{
  if (!c)
    return;
  disk_close(c);
  while (c->tail)
    lru_remove(c, c->tail);
  for (size_t i = 0; i < FLIGHT_BUCKETS; i++)
    while (c->flights[i]) {
      struct flight *f = c->flights[i];

      c->flights[i] = f->chain;
      pc_free(f);
    }
  pthread_cond_destroy(&c->resolved);
  pthread_mutex_destroy(&c->db_mu);
  pthread_mutex_destroy(&c->mu);
  pc_free(c->buckets);
  pc_free(c->file);
  pc_free(c);
}

int pc_cache_persistent(const pc_cache *c)
{
  return c ? atomic_load(&c->persistent) : 0;
}

int pc_cache_lookup(pc_cache *c, const char *key, char **value, size_t *len)
{
  char msg[MSG_MAX] = "";
  struct entry *e;
  char *copy = NULL;
  size_t n = 0;
  int rc = PC_CACHE_MISS, tracked;

  *value = NULL;
  *len = 0;
  if (!c || !key_ok(key))
    return PC_CACHE_MISS;  /* never cached: the caller just calls */
  pthread_mutex_lock(&c->mu);
  /* Wait while another caller owns the key, then look again. */
  for (;;) {
    if ((e = lru_find(c, key))) {
      list_unlink(c, e);
      list_push_head(c, e);
      if ((copy = copy_value(e->value, e->len))) {
        n = e->len;
        c->stats.mem_hits++;
        rc = PC_CACHE_HIT;
      } else {
        c->stats.misses++;  /* untracked miss: out of memory */
      }
      pthread_mutex_unlock(&c->mu);
      goto out;
    }
    if (!*flight_slot(c, key))
      break;
    pthread_cond_wait(&c->resolved, &c->mu);
  }
  /* Own the key while reading the disk, so that others wait for it. */
  tracked = flight_add(c, key);
  pthread_mutex_unlock(&c->mu);
  if (atomic_load(&c->persistent))
    disk_get(c, key, &copy, &n, msg, sizeof(msg));
  pthread_mutex_lock(&c->mu);
  if (copy) {
    lru_store(c, key, copy, n);
    c->stats.disk_hits++;
    if (tracked)
      flight_end(c, key);
    rc = PC_CACHE_HIT;
  } else {
    c->stats.misses++;
  }
  pthread_mutex_unlock(&c->mu);
out:
  if (msg[0])
    report(c, msg);
  if (rc == PC_CACHE_HIT) {
    *value = copy;
    *len = n;
  }
  return rc;
}

void pc_cache_put(pc_cache *c, const char *key, const char *value,
                  size_t len)
{
  char msg[MSG_MAX] = "";

  if (!c || !key_ok(key))
    return;
  if (!value && len) {  /* nothing to store: resolve the key all the same */
    pc_cache_abandon(c, key);
    return;
  }
  /* Disk first: a waiter that wakes after a quick eviction from memory
   * still finds the value on disk. */
  if (atomic_load(&c->persistent))
    disk_put(c, key, value, len, msg, sizeof(msg));
  pthread_mutex_lock(&c->mu);
  lru_store(c, key, value ? value : "", len);
  c->stats.puts++;
  flight_end(c, key);
  pthread_mutex_unlock(&c->mu);
  if (msg[0])
    report(c, msg);
}

void pc_cache_abandon(pc_cache *c, const char *key)
{
  if (!c || !key_ok(key))
    return;
  pthread_mutex_lock(&c->mu);
  flight_end(c, key);
  pthread_mutex_unlock(&c->mu);
}

void pc_cache_get_stats(pc_cache *c, pc_cache_stats *out)
{
  memset(out, 0, sizeof(*out));
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  *out = c->stats;
  pthread_mutex_unlock(&c->mu);
}
