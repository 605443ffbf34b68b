/*
 * index.h - passage indexes: a JSONL corpus built into an SQLite FTS5 file
 * and ranked BM25 queries over it (docs/retrieval.md).
 *
 * An index file holds three tables: "passages" (id, title, text), the FTS5
 * table "fts" over title and text (tokenizer "porter unicode61
 * remove_diacritics 2") and "meta" (schema, corpus sha256, row count,
 * tokenizer). It is written once, atomically, and only read afterwards.
 *
 * Queries are free text: every word becomes a quoted FTS5 term and the
 * terms are ORed, so punctuation and FTS5 operators in an LM's query are
 * plain words, never syntax. Hits come best first (BM25), ties by id.
 *
 * Threads: one pc_index may be queried from many threads at once; calls
 * on it are serialised by a mutex.
 */
#ifndef PC_INDEX_H
#define PC_INDEX_H

#include <stddef.h>

#include "buf.h"
#include "errors.h"

#define PC_INDEX_SCHEMA "promptc.index/1"
#define PC_INDEX_TOKENIZER "porter unicode61 remove_diacritics 2"
#define PC_INDEX_K_MAX 100          /* largest k a query may ask for */
#define PC_INDEX_TERMS_MAX 64       /* words of a query kept */
#define PC_INDEX_CORPUS_MAX ((size_t)1 << 30)  /* corpus file: 1 GiB */

typedef struct pc_index pc_index;

/* One ranked passage. */
typedef struct pc_index_hit {
  char *id;      /* owned: the corpus row's id (an int id as text) */
  char *title;   /* owned: "" when the row had none */
  char *text;    /* owned */
  double score;  /* BM25 as FTS5 reports it: lower is better */
} pc_index_hit;

/* What pc_index_build made. */
typedef struct pc_index_info {
  size_t rows;
  char corpus_sha256[65];
} pc_index_info;

/*
 * pc_index_build - build index `out` from the JSONL corpus `corpus`.
 *
 * Each non-blank line is an object with "id" (a string or an integer,
 * unique), "text" (a string) and optionally "title" (a string); other
 * members are ignored. The file is written beside `out` under a temporary
 * name and renamed over it, so `out` is either the old file or the whole
 * new index. An existing `out` is replaced only when `force` is non-zero.
 * `info` (may be NULL) receives the row count and the corpus digest.
 * Errors: PC_E_IO (unreadable corpus, unwritable index, `out` exists),
 * PC_E_INVALID_ARG "CORPUS:LINE: why" for a bad row or an empty corpus,
 * PC_E_UNSUPPORTED when this SQLite has no FTS5, PC_E_NOMEM. Nothing is
 * left behind on failure.
 */
int pc_index_build(const char *corpus, const char *out, int force,
                   pc_index_info *info, pc_error *err);

/*
 * pc_index_open - open index `path` for queries. *out is owned by the
 * caller (pc_index_close). PC_E_IO for a missing or unreadable file,
 * PC_E_INVALID_ARG for a file that is not a promptc index,
 * PC_E_UNSUPPORTED without FTS5, PC_E_NOMEM; *out is then NULL.
 */
int pc_index_open(const char *path, pc_index **out, pc_error *err);

/* Release an index. NULL is a no-op. */
void pc_index_close(pc_index *ix);

/* The number of passages in the index. */
size_t pc_index_rows(const pc_index *ix);

/*
 * pc_index_query - the `k` (1..PC_INDEX_K_MAX) best passages for free
 * text `text`. On success *hits is a new array of *n (<= k) hits, owned by
 * the caller (pc_index_hits_free); a query with no words, or that matches
 * nothing, gives *n = 0 and *hits NULL. PC_E_INVALID_ARG for a bad k,
 * PC_E_IO for an SQLite failure, PC_E_NOMEM.
 */
int pc_index_query(pc_index *ix, const char *text, size_t k,
                   pc_index_hit **hits, size_t *n, pc_error *err);

/* Release `n` hits and the array. NULL is a no-op. */
void pc_index_hits_free(pc_index_hit *hits, size_t n);

/*
 * pc_index_fts_query - append to `out` the FTS5 query for free text
 * `text`: each run of letters and digits (bytes >= 0x80 count as
 * letters), at most PC_INDEX_TERMS_MAX of them, double-quoted and joined
 * by " OR ". Appends nothing when the text has no word. PC_E_NOMEM.
 */
int pc_index_fts_query(const char *text, pc_buf *out);

/*
 * pc_index_passage - append the passage as DSPy shows it to `out`:
 * "title | text", or just the text when the title is empty. PC_E_NOMEM.
 */
int pc_index_passage(const pc_index_hit *hit, pc_buf *out);

#endif
