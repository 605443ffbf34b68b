/* tests/unit/test_cache.c: core/cache.c, the LM response cache; suite
 * "cache". */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cache.h"
#include "harness.h"
#include "hash.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* What the warn hook saw. The hook may run on any thread. */
struct warnings {
  pthread_mutex_t mu;
  int count;
  char last[512];
};

static void on_warn(void *ctx, const char *msg)
{
  struct warnings *w = ctx;

  pthread_mutex_lock(&w->mu);
  w->count++;
  snprintf(w->last, sizeof(w->last), "%s", msg);
  pthread_mutex_unlock(&w->mu);
}

static void warnings_init(struct warnings *w)
{
  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->mu, NULL);
}

/* The key of item i: the sha256 of "item <i>", as the runtime would make
 * one. hex must hold PC_SHA256_HEX_LEN + 1 bytes. */
static void key_of(int i, char *hex)
{
  char text[32];
  int n = snprintf(text, sizeof(text), "item %d", i);

  pc_sha256_hex(text, (size_t)n, hex);
}

/* The value stored for item i: its own bytes, of a length that varies
 * with i, with a NUL inside to prove values are bytes, not strings. */
static size_t value_of(int i, char *buf, size_t cap)
{
  size_t len = 8 + (size_t)(i % 50) * 7, k;
  int n = snprintf(buf, cap, "v%d:", i);

  for (k = (size_t)n; k < len && k < cap; k++)
    buf[k] = (char)('a' + (k + (size_t)i) % 26);
  buf[(size_t)n] = '\0';
  return len;
}

/* Non-zero when a looked-up value is exactly item i's. */
static int value_is(int i, const char *v, size_t len)
{
  char want[512];
  size_t n = value_of(i, want, sizeof(want));

  return v && len == n && memcmp(v, want, n) == 0 && v[len] == '\0';
}

static void put_item(pc_cache *c, int i)
{
  char key[PC_SHA256_HEX_LEN + 1], v[512];
  size_t n = value_of(i, v, sizeof(v));

  key_of(i, key);
  pc_cache_put(c, key, v, n);
}

/* Look item i up: PC_CACHE_HIT with its value checked (a wrong value
 * counts as -1), or PC_CACHE_MISS with the key abandoned. */
static int lookup_item(pc_cache *c, int i)
{
  char key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  size_t len = 0;
  int rc;

  key_of(i, key);
  rc = pc_cache_lookup(c, key, &v, &len);
  if (rc == PC_CACHE_HIT && !value_is(i, v, len))
    rc = -1;
  if (rc == PC_CACHE_MISS)
    pc_cache_abandon(c, key);
  pc_free(v);
  return rc;
}

/* A new empty directory under $TMPDIR (or /tmp), in dir[512]. */
static int make_tmpdir(char *dir)
{
  const char *t = getenv("TMPDIR");

  snprintf(dir, 512, "%s/pctest-cache-XXXXXX", (t && *t) ? t : "/tmp");
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

static int write_bytes(const char *path, const void *p, size_t n)
{
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(p, 1, n, f) == n;

  if (f && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

/* 4 KiB of bytes that are not an SQLite database. */
static void garbage(unsigned char *buf, size_t n)
{
  for (size_t i = 0; i < n; i++)
    buf[i] = (unsigned char)((i * 131 + 7) % 251);
}

/* ---------------------------------------------------------------------- */
/* Hits, persistence, LRU                                                 */

static void test_put_then_hits_in_memory_and_after_reopen(void)
{
  char dir[512], path[600], key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  const char value[] = "{\"text\": \"forty\0two\"}";
  size_t len = 0;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;

  warnings_init(&w);
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/responses.sqlite", dir);
  key_of(1, key);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT(pc_cache_persistent(c));
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_MISS);
  CU_ASSERT_PTR_NULL(v);
  pc_cache_put(c, key, value, sizeof(value));
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(len, sizeof(value));
  CU_ASSERT(v && memcmp(v, value, sizeof(value)) == 0);
  pc_free(v);
  v = NULL;
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.misses, 1);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  CU_ASSERT_EQUAL(st.disk_hits, 0);
  CU_ASSERT_EQUAL(st.puts, 1);
  pc_cache_close(c);

  /* A fresh cache on the same file finds the bytes on disk, then in
   * memory (the disk hit was promoted). */
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(len, sizeof(value));
  CU_ASSERT(v && memcmp(v, value, sizeof(value)) == 0 && v[len] == '\0');
  pc_free(v);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_HIT);
  pc_free(v);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.disk_hits, 1);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  CU_ASSERT_EQUAL(st.misses, 0);
  CU_ASSERT_EQUAL(st.warnings, 0);
  pc_cache_close(c);
  CU_ASSERT_EQUAL(w.count, 0);
  rm_rf(dir);
}

static void test_lru_evicts_least_recently_used(void)
{
  char dir[512], path[600];
  pc_cache *mem = NULL, *disk = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/c.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 3, NULL, NULL, &mem, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 3, NULL, NULL, &disk, &err),
                        PC_OK);
  CU_ASSERT_FALSE(pc_cache_persistent(mem));
  for (int i = 1; i <= 3; i++) {
    put_item(mem, i);
    put_item(disk, i);
  }
  /* Use item 1, so item 2 is now the least recently used. */
  CU_ASSERT_EQUAL(lookup_item(mem, 1), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(lookup_item(disk, 1), PC_CACHE_HIT);
  put_item(mem, 4);
  put_item(disk, 4);
  CU_ASSERT_EQUAL(lookup_item(mem, 2), PC_CACHE_MISS);
  CU_ASSERT_EQUAL(lookup_item(mem, 1), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(lookup_item(mem, 3), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(lookup_item(mem, 4), PC_CACHE_HIT);
  pc_cache_get_stats(mem, &st);
  CU_ASSERT_EQUAL(st.mem_hits, 4);
  CU_ASSERT_EQUAL(st.misses, 1);

  /* With a database behind it, the evicted item comes back from disk. */
  CU_ASSERT_EQUAL(lookup_item(disk, 2), PC_CACHE_HIT);
  pc_cache_get_stats(disk, &st);
  CU_ASSERT_EQUAL(st.disk_hits, 1);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  /* Promoting 2 evicted 3 (the least recently used then). */
  CU_ASSERT_EQUAL(lookup_item(disk, 3), PC_CACHE_HIT);
  pc_cache_get_stats(disk, &st);
  CU_ASSERT_EQUAL(st.disk_hits, 2);
  pc_cache_close(mem);
  pc_cache_close(disk);
  rm_rf(dir);
}

static void test_put_replaces_a_value(void)
{
  char key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  size_t len;
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 2, NULL, NULL, &c, &err), PC_OK);
  key_of(5, key);
  pc_cache_put(c, key, "old", 3);
  pc_cache_put(c, key, "newer", 5);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(len, 5);
  PC_ASSERT_STR_EQ(v, "newer");
  pc_free(v);
  pc_cache_close(c);
}

static void test_keys_that_are_not_digests_are_never_cached(void)
{
  const char *bad[] = {"abc", "0123456789ABCDEF0123456789abcdef"
                       "0123456789abcdef0123456789abcdef", NULL};
  char *v = (char *)"x";
  size_t len = 9;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 0, NULL, NULL, &c, &err), PC_OK);
  for (int i = 0; bad[i]; i++) {
    pc_cache_put(c, bad[i], "v", 1);
    CU_ASSERT_EQUAL(pc_cache_lookup(c, bad[i], &v, &len), PC_CACHE_MISS);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(len, 0);
    /* Not in flight either: a second lookup does not wait. */
    CU_ASSERT_EQUAL(pc_cache_lookup(c, bad[i], &v, &len), PC_CACHE_MISS);
  }
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.puts, 0);
  pc_cache_close(c);
}

/* ---------------------------------------------------------------------- */
/* In-flight deduplication                                                */

static void test_miss_abandon_then_miss_again(void)
{
  char key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  size_t len;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 0, NULL, NULL, &c, &err), PC_OK);
  key_of(9, key);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_MISS);
  pc_cache_abandon(c, key);
  /* Abandoning stored nothing, and released the key (no deadlock). */
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_MISS);
  CU_ASSERT_PTR_NULL(v);
  pc_cache_put(c, key, "ok", 2);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_HIT);
  pc_free(v);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.misses, 2);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  CU_ASSERT_EQUAL(st.puts, 1);
  pc_cache_close(c);
}

/* A second caller of one key, on its own thread. */
struct waiter {
  pc_cache *c;
  const char *key;
  pthread_mutex_t mu;
  int started;   /* set just before the lookup */
  int finished;  /* set just after it returns */
  int rc;
  char *value;
  size_t len;
};

static void *waiter_main(void *arg)
{
  struct waiter *w = arg;
  char *v = NULL;
  size_t len = 0;
  int rc;

  pthread_mutex_lock(&w->mu);
  w->started = 1;
  pthread_mutex_unlock(&w->mu);
  rc = pc_cache_lookup(w->c, w->key, &v, &len);
  pthread_mutex_lock(&w->mu);
  w->finished = 1;
  w->rc = rc;
  w->value = v;
  w->len = len;
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static int flag(struct waiter *w, const int *f)
{
  int x;

  pthread_mutex_lock(&w->mu);
  x = *f;
  pthread_mutex_unlock(&w->mu);
  return x;
}

/* Start a waiter on `key` and let it reach its lookup and block. */
static void start_waiter(struct waiter *w, pc_cache *c, const char *key,
                         pthread_t *t)
{
  struct timespec tick = {0, 1000 * 1000}, pause = {0, 100 * 1000 * 1000};

  memset(w, 0, sizeof(*w));
  w->c = c;
  w->key = key;
  pthread_mutex_init(&w->mu, NULL);
  CU_ASSERT_FATAL(pthread_create(t, NULL, waiter_main, w) == 0);
  while (!flag(w, &w->started))
    nanosleep(&tick, NULL);
  nanosleep(&pause, NULL);  /* time to block inside the lookup */
}

static void test_second_lookup_waits_for_the_put_then_hits(void)
{
  char key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  size_t len;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;
  struct waiter w;
  pthread_t t;

  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 0, NULL, NULL, &c, &err), PC_OK);
  key_of(3, key);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_MISS);
  start_waiter(&w, c, key, &t);
  /* The waiter must still be inside its lookup: the key is ours. */
  CU_ASSERT_FALSE(flag(&w, &w.finished));
  pc_cache_put(c, key, "answer", 6);
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(w.rc, PC_CACHE_HIT);
  CU_ASSERT_EQUAL(w.len, 6);
  PC_ASSERT_STR_EQ(w.value, "answer");
  pc_free(w.value);
  pthread_mutex_destroy(&w.mu);
  /* One provider call for two identical requests. */
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.misses, 1);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  pc_cache_close(c);
}

static void test_waiter_after_abandon_owns_the_key(void)
{
  char key[PC_SHA256_HEX_LEN + 1], *v = NULL;
  size_t len;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;
  struct waiter w, w2;
  pthread_t t, t2;

  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 0, NULL, NULL, &c, &err), PC_OK);
  key_of(4, key);
  CU_ASSERT_EQUAL(pc_cache_lookup(c, key, &v, &len), PC_CACHE_MISS);
  start_waiter(&w, c, key, &t);
  CU_ASSERT_FALSE(flag(&w, &w.finished));
  pc_cache_abandon(c, key);
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(w.rc, PC_CACHE_MISS);
  CU_ASSERT_PTR_NULL(w.value);
  /* The waiter now owns the key: a third caller waits for it in turn. */
  start_waiter(&w2, c, key, &t2);
  CU_ASSERT_FALSE(flag(&w2, &w2.finished));
  pc_cache_put(c, key, "second try", 10);
  pthread_join(t2, NULL);
  CU_ASSERT_EQUAL(w2.rc, PC_CACHE_HIT);
  PC_ASSERT_STR_EQ(w2.value, "second try");
  pc_free(w2.value);
  pthread_mutex_destroy(&w.mu);
  pthread_mutex_destroy(&w2.mu);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.misses, 2);
  CU_ASSERT_EQUAL(st.mem_hits, 1);
  pc_cache_close(c);
}

#define N_THREADS 16
#define N_KEYS 64
#define N_ROUNDS 4

struct hammer {
  pc_cache *c;
  int id;
  int wrong;   /* values read that differ from what was put */
  int calls;   /* misses this thread resolved with a put */
};

static void *hammer_main(void *arg)
{
  struct hammer *h = arg;
  char key[PC_SHA256_HEX_LEN + 1], *v, want[512];

  for (int r = 0; r < N_ROUNDS; r++)
    for (int j = 0; j < N_KEYS; j++) {
      /* A different order on each thread (5 is prime to N_KEYS). */
      int i = (j * 5 + h->id * 13 + r) % N_KEYS;
      size_t len;

      key_of(i, key);
      v = NULL;
      if (pc_cache_lookup(h->c, key, &v, &len) == PC_CACHE_HIT) {
        if (!value_is(i, v, len))
          h->wrong++;
      } else {
        len = value_of(i, want, sizeof(want));
        pc_cache_put(h->c, key, want, len);
        h->calls++;
      }
      pc_free(v);
    }
  return NULL;
}

/* Hammer a cache from N_THREADS threads; every key must be missed
 * exactly once, at any thread count. */
static void hammer(pc_cache *c)
{
  struct hammer h[N_THREADS];
  pthread_t t[N_THREADS];
  pc_cache_stats st;
  int wrong = 0, calls = 0;

  for (int k = 0; k < N_THREADS; k++) {
    h[k] = (struct hammer){c, k, 0, 0};
    CU_ASSERT_FATAL(pthread_create(&t[k], NULL, hammer_main, &h[k]) == 0);
  }
  for (int k = 0; k < N_THREADS; k++) {
    pthread_join(t[k], NULL);
    wrong += h[k].wrong;
    calls += h[k].calls;
  }
  CU_ASSERT_EQUAL(wrong, 0);
  CU_ASSERT_EQUAL(calls, N_KEYS);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.misses, N_KEYS);
  CU_ASSERT_EQUAL(st.puts, N_KEYS);
  CU_ASSERT_EQUAL(st.mem_hits + st.disk_hits + st.misses,
                  (size_t)N_THREADS * N_ROUNDS * N_KEYS);
  CU_ASSERT_EQUAL(st.warnings, 0);
}

static void test_many_threads_read_what_was_put(void)
{
  char dir[512], path[600];
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;

  /* Memory only, everything fits. */
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, N_KEYS, NULL, NULL, &c, &err),
                        PC_OK);
  hammer(c);
  pc_cache_close(c);

  /* A small LRU in front of a database: evictions and disk hits. */
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/c.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 8, NULL, NULL, &c, &err),
                        PC_OK);
  CU_ASSERT(pc_cache_persistent(c));
  hammer(c);
  pc_cache_get_stats(c, &st);
  CU_ASSERT(st.disk_hits > 0);
  pc_cache_close(c);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Several processes                                                      */

#define PER_CHILD 500

/* One child: wait for the start signal, write its 500 items, read them
 * back (mostly from disk: the LRU is small), and read the other child's
 * items that are already there. Exit status 0 when all is right. */
static void child_main(const char *path, int first, int go_fd)
{
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;
  char byte;
  int bad = 0, other = first == 0 ? PER_CHILD : 0;

  if (read(go_fd, &byte, 1) < 0)
    _exit(3);
  if (pc_cache_open(path, 8, NULL, NULL, &c, &err) != PC_OK ||
      !pc_cache_persistent(c))
    _exit(2);
  for (int i = first; i < first + PER_CHILD; i++) {
    if (lookup_item(c, i) != PC_CACHE_MISS)
      bad++;
    put_item(c, i);
    if (lookup_item(c, other + i - first) == -1)
      bad++;
  }
  for (int i = first; i < first + PER_CHILD; i++)
    if (lookup_item(c, i) != PC_CACHE_HIT)
      bad++;
  pc_cache_get_stats(c, &st);
  if (st.warnings)
    bad++;
  pc_cache_close(c);
  _exit(bad ? 1 : 0);
}

static void test_two_processes_share_one_file(void)
{
  char dir[512], path[600];
  int go[2], status[2] = {-1, -1}, hits = 0;
  pid_t pid[2];
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/shared.sqlite", dir);
  CU_ASSERT_FATAL(pipe(go) == 0);
  fflush(NULL);
  for (int k = 0; k < 2; k++) {
    pid[k] = fork();
    CU_ASSERT_FATAL(pid[k] >= 0);
    if (pid[k] == 0) {
      close(go[1]);
      child_main(path, k * PER_CHILD, go[0]);
    }
  }
  /* Both children start at once when the pipe closes. */
  close(go[0]);
  close(go[1]);
  for (int k = 0; k < 2; k++) {
    CU_ASSERT(waitpid(pid[k], &status[k], 0) == pid[k]);
    CU_ASSERT(WIFEXITED(status[k]) && WEXITSTATUS(status[k]) == 0);
  }
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 8, NULL, NULL, &c, &err),
                        PC_OK);
  for (int i = 0; i < 2 * PER_CHILD; i++)
    hits += lookup_item(c, i) == PC_CACHE_HIT;
  CU_ASSERT_EQUAL(hits, 2 * PER_CHILD);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.disk_hits, 2 * PER_CHILD);
  pc_cache_close(c);
  rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* Failures turn the cache into memory only                               */

/* A cache that could not use its database still works in memory. */
static void check_memory_only(pc_cache *c)
{
  CU_ASSERT_FALSE(pc_cache_persistent(c));
  CU_ASSERT_EQUAL(lookup_item(c, 7), PC_CACHE_MISS);
  put_item(c, 7);
  CU_ASSERT_EQUAL(lookup_item(c, 7), PC_CACHE_HIT);
}

static void test_corrupt_file_warns_once_and_caches_in_memory(void)
{
  char dir[512], path[600], *after;
  unsigned char junk[4096];
  size_t len = 0;
  pc_cache *c = NULL;
  pc_cache_stats st;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;

  warnings_init(&w);
  garbage(junk, sizeof(junk));
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/lm-cache.sqlite", dir);
  CU_ASSERT_FATAL(write_bytes(path, junk, sizeof(junk)) == 0);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(w.count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, "not a database"));
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, "memory only"));
  check_memory_only(c);
  pc_cache_get_stats(c, &st);
  CU_ASSERT_EQUAL(st.warnings, 1);
  pc_cache_close(c);
  CU_ASSERT_EQUAL(w.count, 1);
  /* The user's file is left exactly as it was. */
  after = pc_test_read_file(path, &len);
  CU_ASSERT(after && len == sizeof(junk) &&
            memcmp(after, junk, len) == 0);
  pc_free(after);
  rm_rf(dir);
}

static void test_corruption_found_later_warns_once(void)
{
  char dir[512], path[600];
  unsigned char junk[4096];
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;
  struct stat sb;
  FILE *f;
  int misses = 0;

  warnings_init(&w);
  garbage(junk, sizeof(junk));
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/c.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 4, on_warn, &w, &c, &err),
                        PC_OK);
  for (int i = 0; i < 200; i++)
    put_item(c, i);
  pc_cache_close(c);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 4, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT(pc_cache_persistent(c));
  /* Overwrite every page after the first behind the cache's back. */
  CU_ASSERT_FATAL(stat(path, &sb) == 0);
  f = fopen(path, "r+b");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (long off = 4096; off < (long)sb.st_size; off += 4096) {
    fseek(f, off, SEEK_SET);
    fwrite(junk, 1, sizeof(junk), f);
  }
  fclose(f);
  for (int i = 0; i < 200; i++)
    misses += lookup_item(c, i) == PC_CACHE_MISS;
  CU_ASSERT_EQUAL(misses, 200);
  CU_ASSERT_EQUAL(w.count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, path));
  CU_ASSERT_FALSE(pc_cache_persistent(c));
  put_item(c, 300);
  CU_ASSERT_EQUAL(lookup_item(c, 300), PC_CACHE_HIT);
  CU_ASSERT_EQUAL(w.count, 1);
  pc_cache_close(c);
  rm_rf(dir);
}

static void test_newer_schema_is_left_alone(void)
{
  char dir[512], path[600], *before, *after;
  size_t n_before = 0, n_after = 0;
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;
  FILE *f;

  warnings_init(&w);
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/c.sqlite", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  put_item(c, 1);
  pc_cache_close(c);
  /* Set the schema version (PRAGMA user_version: the big-endian 32-bit
   * integer at offset 60 of an SQLite file) to 2, as a later promptc
   * would. */
  f = fopen(path, "r+b");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fseek(f, 60, SEEK_SET);
  fwrite("\0\0\0\2", 1, 4, f);
  fclose(f);
  before = pc_test_read_file(path, &n_before);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(w.count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, "schema version 2"));
  CU_ASSERT_EQUAL(lookup_item(c, 1), PC_CACHE_MISS);
  check_memory_only(c);
  pc_cache_close(c);
  after = pc_test_read_file(path, &n_after);
  CU_ASSERT(before && after && n_before == n_after &&
            memcmp(before, after, n_after) == 0);
  pc_free(before);
  pc_free(after);
  rm_rf(dir);
}

static void test_directory_where_the_file_goes_is_memory_only(void)
{
  char dir[512], sub[600];
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;

  warnings_init(&w);
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  /* `dir` names the cache directory, and its lm-cache.sqlite is a
   * directory that cannot be opened as a database. */
  snprintf(sub, sizeof(sub), "%s/%s", dir, PC_CACHE_FILE);
  CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(dir, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(w.count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, sub));
  check_memory_only(c);
  pc_cache_close(c);
  rm_rf(dir);
}

static void test_unwritable_location_is_memory_only(void)
{
  char dir[512], path[700], file[600];
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;

  warnings_init(&w);
  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(file, sizeof(file), "%s/plain-file", dir);
  CU_ASSERT_FATAL(write_bytes(file, "x", 1) == 0);
  /* The parent "directory" is a regular file: nothing can be made. */
  snprintf(path, sizeof(path), "%s/sub/lm-cache.sqlite", file);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, on_warn, &w, &c, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(w.count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(w.last, "Not a directory"));
  check_memory_only(c);
  pc_cache_close(c);
  CU_ASSERT_EQUAL(w.count, 1);
  rm_rf(dir);
}

static void test_no_path_is_memory_only_without_warning(void)
{
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct warnings w;

  warnings_init(&w);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(NULL, 0, on_warn, &w, &c, &err),
                        PC_OK);
  check_memory_only(c);
  CU_ASSERT_EQUAL(w.count, 0);
  pc_cache_close(c);
  pc_cache_close(NULL);
  CU_ASSERT_FALSE(pc_cache_persistent(NULL));
}

static void test_directory_path_creates_private_file_and_parents(void)
{
  char dir[512], path[700], file[800];
  pc_cache *c = NULL;
  pc_error err = PC_ERROR_INIT;
  struct stat sb;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  snprintf(path, sizeof(path), "%s/a/b/promptc/", dir);
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, NULL, NULL, &c, &err),
                        PC_OK);
  CU_ASSERT(pc_cache_persistent(c));
  put_item(c, 1);
  pc_cache_close(c);
  snprintf(file, sizeof(file), "%s%s", path, PC_CACHE_FILE);
  CU_ASSERT(stat(file, &sb) == 0 && S_ISREG(sb.st_mode) &&
            (sb.st_mode & 077) == 0);
  snprintf(file, sizeof(file), "%s/a", dir);
  CU_ASSERT(stat(file, &sb) == 0 && S_ISDIR(sb.st_mode) &&
            (sb.st_mode & 077) == 0);
  /* An existing directory without the trailing '/' means the same. */
  path[strlen(path) - 1] = '\0';
  CU_ASSERT_EQUAL_FATAL(pc_cache_open(path, 0, NULL, NULL, &c, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(lookup_item(c, 1), PC_CACHE_HIT);
  pc_cache_close(c);
  rm_rf(dir);
}

/* Set or unset one variable. */
static void set_env(const char *name, const char *value)
{
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

static void test_default_dir_follows_xdg_then_home(void)
{
  char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *d;

  xdg = xdg ? strdup(xdg) : NULL;
  home = home ? strdup(home) : NULL;
  setenv("XDG_CACHE_HOME", "/srv/cache", 1);
  setenv("HOME", "/home/u", 1);
  d = pc_cache_default_dir();
  PC_ASSERT_STR_EQ(d, "/srv/cache/promptc");
  pc_free(d);
  unsetenv("XDG_CACHE_HOME");
  d = pc_cache_default_dir();
  PC_ASSERT_STR_EQ(d, "/home/u/.cache/promptc");
  pc_free(d);
  /* A relative XDG_CACHE_HOME is invalid by the XDG spec: ignored. */
  setenv("XDG_CACHE_HOME", "rel/cache", 1);
  d = pc_cache_default_dir();
  PC_ASSERT_STR_EQ(d, "/home/u/.cache/promptc");
  pc_free(d);
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  CU_ASSERT_PTR_NULL(pc_cache_default_dir());
  set_env("XDG_CACHE_HOME", xdg);
  set_env("HOME", home);
  free(xdg);
  free(home);
}

static void test_out_of_memory_fails_open_cleanly(void)
{
  char dir[512];
  pc_cache *c;
  int rc = PC_E_NOMEM;
  unsigned long n;

  CU_ASSERT_FATAL(make_tmpdir(dir) == 0);
  /* Fail each allocation of open in turn, until open needs no more. */
  for (n = 1; n < 100 && rc == PC_E_NOMEM; n++) {
    pc_error err = PC_ERROR_INIT;

    c = (pc_cache *)&n;
    pc__alloc_fail_at(n);
    rc = pc_cache_open(dir, 0, NULL, NULL, &c, &err);
    pc__alloc_fail_at(0);
    if (rc == PC_E_NOMEM) {
      CU_ASSERT_PTR_NULL(c);
      CU_ASSERT_EQUAL(err.code, PC_E_NOMEM);
    }
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT(n > 2);  /* at least the cache and its buckets */
  if (rc == PC_OK) {
    /* Out of memory in a lookup is a miss, never a crash. */
    put_item(c, 1);
    pc__alloc_fail_at(1);
    CU_ASSERT_EQUAL(lookup_item(c, 1), PC_CACHE_MISS);
    pc__alloc_fail_at(0);
    CU_ASSERT_EQUAL(lookup_item(c, 1), PC_CACHE_HIT);
    pc_cache_close(c);
  }
  rm_rf(dir);
}

static CU_TestInfo cache_tests[] = {
  {"put then hit in memory, and on disk after reopen",
   test_put_then_hits_in_memory_and_after_reopen},
  {"LRU evicts the least recently used", test_lru_evicts_least_recently_used},
  {"put replaces a value", test_put_replaces_a_value},
  {"keys that are not digests are never cached",
   test_keys_that_are_not_digests_are_never_cached},
  {"miss, abandon, then miss again", test_miss_abandon_then_miss_again},
  {"second lookup waits for the put, then hits",
   test_second_lookup_waits_for_the_put_then_hits},
  {"waiter after abandon owns the key",
   test_waiter_after_abandon_owns_the_key},
  {"16 threads read exactly what was put",
   test_many_threads_read_what_was_put},
  {"two processes share one file", test_two_processes_share_one_file},
  {"corrupt file warns once, caches in memory",
   test_corrupt_file_warns_once_and_caches_in_memory},
  {"corruption found later warns once",
   test_corruption_found_later_warns_once},
  {"newer schema is left alone", test_newer_schema_is_left_alone},
  {"directory where the file goes is memory only",
   test_directory_where_the_file_goes_is_memory_only},
  {"unwritable location is memory only",
   test_unwritable_location_is_memory_only},
  {"no path is memory only, without warning",
   test_no_path_is_memory_only_without_warning},
  {"directory path creates a private file and parents",
   test_directory_path_creates_private_file_and_parents},
  {"default dir follows XDG_CACHE_HOME, then HOME",
   test_default_dir_follows_xdg_then_home},
  {"out of memory fails open cleanly",
   test_out_of_memory_fails_open_cleanly},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"cache", NULL, NULL, NULL, NULL, cache_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
