/*
 * cache.h - the LM response cache: an in-memory LRU in front of an SQLite
 * database in WAL mode, keyed by the sha256 of a canonical request.
 *
 * The cache stores opaque values (the LM runtime stores a JSON record of
 * the response); it never sees secrets because keys are digests of
 * requests that hold none. It is safe to use from many threads (one
 * connection behind a mutex; the LRU behind its own lock) and from several
 * processes at once (WAL, a busy timeout, writes in short transactions).
 *
 * Nothing in the cache is worth failing a run for: a database that cannot
 * be created, opened, read or written (missing directory that cannot be
 * made, unreadable or corrupt file, full disk, a path that is a
 * directory) turns the cache into memory only, reports one warning
 * through the `warn` hook naming the file and the reason, and every call
 * goes through to the provider.
 *
 * In-flight deduplication: pc_cache_lookup of a key that another thread
 * of this process has looked up and missed, and not yet resolved with
 * pc_cache_put or pc_cache_abandon, waits for that resolution; so two
 * identical requests made at once cost one provider call, and the counts
 * of calls and hits are the same at any thread count.
 */
#ifndef PC_CACHE_H
#define PC_CACHE_H

#include <stddef.h>

#include "errors.h"
#include "hash.h"

#define PC_CACHE_FILE "lm-cache.sqlite"
#define PC_CACHE_MEM_DEFAULT 10000  /* LRU entries */

/* Lookup outcomes. */
#define PC_CACHE_HIT 0
#define PC_CACHE_MISS 1

typedef struct pc_cache pc_cache;

/* Called (at most once per problem, from any thread) with one line such
 * as "cache: /x/lm-cache.sqlite: file is not a database; caching in
 * memory only". */
typedef void (*pc_cache_warn_fn)(void *ctx, const char *msg);

/*
 * pc_cache_default_dir - the default directory: $XDG_CACHE_HOME/promptc,
 * else $HOME/.cache/promptc (a relative XDG_CACHE_HOME is ignored, as the
 * XDG base directory spec says). Returns a new string owned by the caller
 * (pc_free), or NULL when neither variable is usable or out of memory.
 */
char *pc_cache_default_dir(void);

/*
 * pc_cache_open - open (creating as needed) the cache database at `path`.
 *
 * `path` names the database file, or an existing directory (or one ending
 * in '/') in which PC_CACHE_FILE is used; missing parent directories are
 * created with mode 0700 and a new database file with mode 0600.
 * `path` NULL means the memory layer only (--no-cache keeps no cache at
 * all: the runtime then does not open one). `mem_entries` is the LRU
 * capacity (0 = PC_CACHE_MEM_DEFAULT). `warn`/`warn_ctx` receive warnings
 * (warn may be NULL). Returns PC_OK and a cache in *out (pc_cache_close)
 * even when the database could not be used (see above); only PC_E_NOMEM
 * fails, with *out NULL.
 */
int pc_cache_open(const char *path, size_t mem_entries, pc_cache_warn_fn warn,
                  void *warn_ctx, pc_cache **out, pc_error *err);

/* Close the database and free the cache. NULL is a no-op. */
void pc_cache_close(pc_cache *c);

/* Non-zero when the database layer is in use (not memory only). */
int pc_cache_persistent(const pc_cache *c);

/*
 * pc_cache_lookup - find `key` (64 lowercase hex digits).
 *
 * PC_CACHE_HIT: *value is a new NUL-terminated copy owned by the caller
 * (pc_free) of *len bytes; a disk hit is promoted into the LRU.
 * PC_CACHE_MISS: *value is NULL, *len 0, and the caller now owns the key
 * and must call pc_cache_put or pc_cache_abandon for it exactly once.
 * Never an error: a failing disk or out of memory is a miss. A key that is
 * not 64 lowercase hex digits is never cached (always a miss; resolving
 * it is harmless). A thread must not look up a key it owns: it would wait
 * for itself.
 */
int pc_cache_lookup(pc_cache *c, const char *key, char **value, size_t *len);

/* Store `value` (copied; NULL only with len 0) under `key` in memory and
 * on disk, and wake any waiter. A disk failure is a warning, never an
 * error. */
void pc_cache_put(pc_cache *c, const char *key, const char *value,
                  size_t len);

/* Give up a missed key without storing (the call failed): waiters wake
 * and miss in turn. */
void pc_cache_abandon(pc_cache *c, const char *key);

/* Counters since open, for summaries and tests; `warnings` counts the
 * problems reported, whether or not there is a warn hook. */
typedef struct pc_cache_stats {
  size_t mem_hits;
  size_t disk_hits;
  size_t misses;
  size_t puts;
  size_t warnings;
} pc_cache_stats;

void pc_cache_get_stats(pc_cache *c, pc_cache_stats *out);

#endif
