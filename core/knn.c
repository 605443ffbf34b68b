/* knn.c - TF-IDF and BM25 retrieval over sparse vectors, and the "knn"
 * predictor state built on it (knn.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "knn.h"
#include "value.h"

/* Documents and distinct terms are numbered with 32 bits. */
#define KNN_MAX_COUNT ((size_t)INT32_MAX)
#define KNN_NONE UINT32_MAX

/* ------------------------------------------------------------------------ */
/* Tokens.                                                                  */

static int is_token_byte(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c >= 0x80;
}

static unsigned char lower(unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The next token of `s` at or after *pos: its start and length, and *pos
 * moved past it. Returns 0 when there is none left. */
static int next_token(const unsigned char *s, size_t *pos, size_t *start,
                      size_t *len)
{
  size_t i = *pos;

  while (s[i] && !is_token_byte(s[i]))
    i++;
  if (!s[i]) {
    *pos = i;
    return 0;
  }
  *start = i;
  while (s[i] && is_token_byte(s[i]))
    i++;
  *len = i - *start;
  *pos = i;
  return 1;
}

/* FNV-1a of the lowercased token. */
static uint64_t token_hash(const unsigned char *s, size_t len)
{
  uint64_t h = 14695981039346656037ull;
  size_t i;

  for (i = 0; i < len; i++) {
    h ^= lower(s[i]);
    h *= 1099511628211ull;
  }
  return h;
}

/* ------------------------------------------------------------------------ */
/* The vocabulary: an open-addressing table from lowercased token to id.   */

typedef struct vocab {
  char *chars;        /* owned: every term's bytes, back to back */
  size_t chars_len, chars_cap;
  size_t *off;        /* owned: term id -> offset in chars */
  size_t *len;        /* owned: term id -> length */
  uint64_t *hash;     /* owned: term id -> token_hash */
  size_t n, cap;      /* terms used and allocated */
  uint32_t *slots;    /* owned: term id + 1, 0 when empty */
  size_t mask;        /* number of slots - 1 (a power of two - 1) */
} vocab;

static void vocab_free(vocab *v)
{
  pc_free(v->chars);
  pc_free(v->off);
  pc_free(v->len);
  pc_free(v->hash);
  pc_free(v->slots);
  memset(v, 0, sizeof(*v));
}

/* The id of the token, or KNN_NONE; *slot receives where it is or would
 * go. */
static uint32_t vocab_find(const vocab *v, const unsigned char *s,
                           size_t len, uint64_t h, size_t *slot)
{
  size_t i = (size_t)h & v->mask;

  for (;; i = (i + 1) & v->mask) {
    uint32_t e = v->slots[i];
    size_t j;

    if (!e) {
      if (slot)
        *slot = i;
      return KNN_NONE;
    }
    e--;
    if (v->hash[e] != h || v->len[e] != len)
      continue;
    for (j = 0; j < len; j++)
      if ((unsigned char)v->chars[v->off[e] + j] != lower(s[j]))
        break;
    if (j == len) {
      if (slot)
        *slot = i;
      return e;
    }
  }
}

/* Double the slot table (the load stays at most one half). */
static int vocab_rehash(vocab *v)
{
  size_t n = (v->mask + 1) * 2, i;
  uint32_t *slots;

  slots = pc_calloc(n, sizeof(*slots));
  if (!slots)
    return PC_E_NOMEM;
  for (i = 0; i < v->n; i++) {
    size_t s = (size_t)v->hash[i] & (n - 1);

    while (slots[s])
      s = (s + 1) & (n - 1);
    slots[s] = (uint32_t)i + 1;
  }
  pc_free(v->slots);
  v->slots = slots;
  v->mask = n - 1;
  return PC_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
  size_t n = *cap ? *cap : 16;
  void *q;

  if (need <= *cap)
    return PC_OK;
  while (n < need) {
    if (n > SIZE_MAX / 2 / size)
      return PC_E_NOMEM;
    n *= 2;
  }
  q = pc_realloc(*p, n * size);
  if (!q)
    return PC_E_NOMEM;
  *p = q;
  *cap = n;
  return PC_OK;
}

/* The id of the token, adding it when new. PC_OK, PC_E_NOMEM, or
 * PC_E_INVALID_ARG past KNN_MAX_COUNT terms. */
static int vocab_intern(vocab *v, const unsigned char *s, size_t len,
                        uint32_t *id)
{
  uint64_t h = token_hash(s, len);
  size_t slot, j, cap;
  uint32_t e;

  if (!v->slots) {
    v->slots = pc_calloc(1024, sizeof(*v->slots));
    if (!v->slots)
      return PC_E_NOMEM;
    v->mask = 1023;
  }
  e = vocab_find(v, s, len, h, &slot);
  if (e != KNN_NONE) {
    *id = e;
    return PC_OK;
  }
  if (v->n >= KNN_MAX_COUNT)
    return PC_E_INVALID_ARG;
  if (v->n == v->cap) {
    cap = v->cap;
    if (grow((void **)&v->off, &cap, v->n + 1, sizeof(*v->off)))
      return PC_E_NOMEM;
    cap = v->cap;
    if (grow((void **)&v->len, &cap, v->n + 1, sizeof(*v->len)))
      return PC_E_NOMEM;
    cap = v->cap;
    if (grow((void **)&v->hash, &cap, v->n + 1, sizeof(*v->hash)))
      return PC_E_NOMEM;
    v->cap = cap;
  }
  if (len > SIZE_MAX - v->chars_len ||
      grow((void **)&v->chars, &v->chars_cap, v->chars_len + len, 1))
    return PC_E_NOMEM;
  for (j = 0; j < len; j++)
    v->chars[v->chars_len + j] = (char)lower(s[j]);
  v->off[v->n] = v->chars_len;
  v->len[v->n] = len;
  v->hash[v->n] = h;
  v->chars_len += len;
  v->slots[slot] = (uint32_t)v->n + 1;
  *id = (uint32_t)v->n++;
  if (v->n * 2 > v->mask + 1)
    return vocab_rehash(v);
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* The index.                                                               */

struct pc_knn {
  int bm25;            /* 1: BM25, 0: TF-IDF */
  size_t n_docs;
  vocab voc;
  double *idf;         /* owned: per term */
  size_t *post_start;  /* owned: term -> first posting (n_terms + 1) */
  uint32_t *post_doc;  /* owned: postings, by term, then by document */
  double *post_w;      /* owned: the document's weight of the term */
};

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

  return x < y ? -1 : x > y;
}

/* Sort ids[0..n) and fold runs: ids[0..*n_terms) become the distinct
 * terms in ascending order and tf[i] their counts. */
static void fold_terms(uint32_t *ids, size_t n, uint32_t *tf,
                       size_t *n_terms)
{
  size_t i, m = 0;

  if (n > 1)
    qsort(ids, n, sizeof(*ids), cmp_u32);
  for (i = 0; i < n; i++) {
    if (m && ids[m - 1] == ids[i]) {
      tf[m - 1]++;
    } else {
      ids[m] = ids[i];
      tf[m++] = 1;
    }
  }
  *n_terms = m;
}

void pc_knn_free(pc_knn *idx)
{
  if (!idx)
    return;
  vocab_free(&idx->voc);
  pc_free(idx->idf);
  pc_free(idx->post_start);
  pc_free(idx->post_doc);
  pc_free(idx->post_w);
  pc_free(idx);
}

size_t pc_knn_n_docs(const pc_knn *idx)
{
  return idx ? idx->n_docs : 0;
}

/* The (term, tf) pairs of every document, in document order, while the
 * index is built. */
typedef struct pairs {
  uint32_t *term, *tf;
  size_t n, cap;
  size_t *doc_start;   /* n_docs + 1 */
  size_t *doc_len;     /* tokens per document */
} pairs;

static int pairs_add(pairs *p, const uint32_t *ids, const uint32_t *tf,
                     size_t n)
{
  size_t cap = p->cap;

  if (!n)
    return PC_OK;
  if (grow((void **)&p->term, &cap, p->n + n, sizeof(*p->term)))
    return PC_E_NOMEM;
  cap = p->cap;
  if (grow((void **)&p->tf, &cap, p->n + n, sizeof(*p->tf)))
    return PC_E_NOMEM;
  p->cap = cap;
  memcpy(p->term + p->n, ids, n * sizeof(*ids));
  memcpy(p->tf + p->n, tf, n * sizeof(*tf));
  p->n += n;
  return PC_OK;
}

/* Tokenise every document into the vocabulary and the pairs. */
static int collect(pc_knn *idx, const char *const *docs, pairs *p,
                   pc_error *err)
{
  uint32_t *ids = NULL, *tf = NULL;
  size_t cap = 0, tf_cap = 0, d;
  int rc = PC_OK;

  for (d = 0; !rc && d < idx->n_docs; d++) {
    const unsigned char *s = (const unsigned char *)docs[d];
    size_t pos = 0, start, len, n = 0, n_terms;
    uint32_t id;

    if (!s) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "knn: document %zu is NULL",
                        d);
      break;
    }
    p->doc_start[d] = p->n;
    while (!rc && next_token(s, &pos, &start, &len)) {
      rc = vocab_intern(&idx->voc, s + start, len, &id);
      if (!rc && grow((void **)&ids, &cap, n + 1, sizeof(*ids)))
        rc = PC_E_NOMEM;
      if (!rc)
        ids[n++] = id;
    }
    p->doc_len[d] = n;
    if (!rc && grow((void **)&tf, &tf_cap, n, sizeof(*tf)))
      rc = PC_E_NOMEM;
    if (!rc) {
      fold_terms(ids, n, tf, &n_terms);
      rc = pairs_add(p, ids, tf, n_terms);
    }
  }
  p->doc_start[idx->n_docs] = p->n;
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "knn: out of memory building the index");
  else if (rc)
    pc_error_set(err, rc, "knn: more than %zu distinct terms",
                 KNN_MAX_COUNT);
  pc_free(ids);
  pc_free(tf);
  return rc;
}

/* idf per term and the weighted postings, from the pairs. */
static int weigh(pc_knn *idx, const pairs *p, pc_error *err)
{
  size_t n_terms = idx->voc.n, t, d, i, total = 0;
  size_t *cursor = NULL;
  double avgdl = 0.0, n = (double)idx->n_docs;
  int rc = PC_E_NOMEM;

  idx->idf = pc_calloc(n_terms ? n_terms : 1, sizeof(*idx->idf));
  idx->post_start = pc_calloc(n_terms + 1, sizeof(*idx->post_start));
  cursor = pc_calloc(n_terms ? n_terms : 1, sizeof(*cursor));
  idx->post_doc = pc_malloc((p->n ? p->n : 1) * sizeof(*idx->post_doc));
  idx->post_w = pc_malloc((p->n ? p->n : 1) * sizeof(*idx->post_w));
  if (!idx->idf || !idx->post_start || !cursor || !idx->post_doc ||
      !idx->post_w)
    goto out;
  /* Document frequencies, counted in post_start[t + 1]. */
  for (i = 0; i < p->n; i++)
    idx->post_start[p->term[i] + 1]++;
  for (t = 0; t < n_terms; t++) {
    double df = (double)idx->post_start[t + 1];

    if (idx->bm25)
      idx->idf[t] = log(1.0 + (n - df + 0.5) / (df + 0.5));
    else
      idx->idf[t] = log((1.0 + n) / (1.0 + df)) + 1.0;
    idx->post_start[t + 1] += idx->post_start[t];
    cursor[t] = idx->post_start[t];
  }
  for (d = 0; d < idx->n_docs; d++)
    total += p->doc_len[d];
  if (idx->n_docs)
    avgdl = (double)total / n;
  for (d = 0; d < idx->n_docs; d++) {
    size_t a = p->doc_start[d], b = p->doc_start[d + 1];
    double norm = 0.0, lenfac = 0.0;

    if (idx->bm25) {
      lenfac = PC_KNN_BM25_K1 * (1.0 - PC_KNN_BM25_B + PC_KNN_BM25_B *
                                 (double)p->doc_len[d] / avgdl);
    } else {
      for (i = a; i < b; i++) {
        double w = p->tf[i] * idx->idf[p->term[i]];

        norm += w * w;
      }
      norm = sqrt(norm);
    }
    for (i = a; i < b; i++) {
      double tf = p->tf[i], w;

      t = p->term[i];
      if (idx->bm25)
        w = idx->idf[t] * tf * (PC_KNN_BM25_K1 + 1.0) / (tf + lenfac);
      else
        w = tf * idx->idf[t] / norm;
      idx->post_doc[cursor[t]] = (uint32_t)d;
      idx->post_w[cursor[t]++] = w;
    }
  }
  rc = PC_OK;
out:
  if (rc)
    pc_error_set(err, rc, "knn: out of memory building the index");
  pc_free(cursor);
  return rc;
}

int pc_knn_build(const char *vectorizer, const char *const *docs,
                 size_t n_docs, pc_knn **out, pc_error *err)
{
  pc_knn *idx = NULL;
  pairs p;
  int rc;

  memset(&p, 0, sizeof(p));
  if (out)
    *out = NULL;
  if (!out || !vectorizer || (n_docs && !docs))
    return pc_error_set(err, PC_E_INVALID_ARG, "knn: build: NULL argument");
  if (strcmp(vectorizer, "tfidf") && strcmp(vectorizer, "bm25"))
    return pc_error_set(err, PC_E_INVALID_ARG, "knn: unknown vectorizer "
                        "'%s' (expected \"tfidf\" or \"bm25\")", vectorizer);
  if (n_docs > KNN_MAX_COUNT)
    return pc_error_set(err, PC_E_INVALID_ARG, "knn: %zu documents (at "
                        "most %zu)", n_docs, KNN_MAX_COUNT);
  idx = pc_calloc(1, sizeof(*idx));
  p.doc_start = pc_calloc(n_docs + 1, sizeof(*p.doc_start));
  p.doc_len = pc_calloc(n_docs ? n_docs : 1, sizeof(*p.doc_len));
  if (!idx || !p.doc_start || !p.doc_len) {
    rc = pc_error_set(err, PC_E_NOMEM, "knn: out of memory building the "
                      "index");
    goto fail;
  }
  idx->bm25 = !strcmp(vectorizer, "bm25");
  idx->n_docs = n_docs;
  if ((rc = collect(idx, docs, &p, err)) != PC_OK ||
      (rc = weigh(idx, &p, err)) != PC_OK)
    goto fail;
  *out = idx;
  idx = NULL;
fail:
  pc_free(p.term);
  pc_free(p.tf);
  pc_free(p.doc_start);
  pc_free(p.doc_len);
  pc_knn_free(idx);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Queries.                                                                 */

/* True when document a ranks before document b. */
static int better(const double *score, size_t a, size_t b)
{
  return score[a] > score[b] || (score[a] == score[b] && a < b);
}

/* Restore the heap (worst ranked at the root) below position i. */
static void sift_down(size_t *heap, size_t n, size_t i, const double *score)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, w = i, tmp;

    if (l < n && better(score, heap[w], heap[l]))
      w = l;
    if (r < n && better(score, heap[w], heap[r]))
      w = r;
    if (w == i)
      return;
    tmp = heap[i];
    heap[i] = heap[w];
    heap[w] = tmp;
    i = w;
  }
}

static void sift_up(size_t *heap, size_t i, const double *score)
{
  while (i > 0) {
    size_t parent = (i - 1) / 2, tmp;

    if (!better(score, heap[parent], heap[i]))
      return;
    tmp = heap[i];
    heap[i] = heap[parent];
    heap[parent] = tmp;
    i = parent;
  }
}

/* Add the query's weights of its known terms to score[]. */
static int accumulate(const pc_knn *idx, const char *text, double *score)
{
  const unsigned char *s = (const unsigned char *)text;
  size_t pos = 0, start, len, n = 0, cap = 0, n_terms, i, j;
  uint32_t *ids = NULL, *tf = NULL;
  double *w = NULL, norm = 0.0;
  int rc = PC_E_NOMEM;

  if (!idx->voc.n) {
    rc = PC_OK;
    goto out;
  }
  while (next_token(s, &pos, &start, &len)) {
    uint32_t id = vocab_find(&idx->voc, s + start, len,
                             token_hash(s + start, len), NULL);

    if (id == KNN_NONE)
      continue;
    if (grow((void **)&ids, &cap, n + 1, sizeof(*ids)))
      goto out;
    ids[n++] = id;
  }
  tf = pc_malloc((n ? n : 1) * sizeof(*tf));
  w = pc_malloc((n ? n : 1) * sizeof(*w));
  if (!tf || !w)
    goto out;
  fold_terms(ids, n, tf, &n_terms);
  for (i = 0; i < n_terms; i++) {
    w[i] = idx->bm25 ? (double)tf[i] : tf[i] * idx->idf[ids[i]];
    norm += w[i] * w[i];
  }
  norm = sqrt(norm);
  for (i = 0; i < n_terms; i++) {
    double q = idx->bm25 ? w[i] : w[i] / norm;

    for (j = idx->post_start[ids[i]]; j < idx->post_start[ids[i] + 1]; j++)
      score[idx->post_doc[j]] += q * idx->post_w[j];
  }
  rc = PC_OK;
out:
  pc_free(ids);
  pc_free(tf);
  pc_free(w);
  return rc;
}

int pc_knn_query(const pc_knn *idx, const char *text, size_t k,
                 size_t *out_idx, double *out_score, size_t *n_out)
{
  double *score = NULL;
  size_t *heap = NULL, n = 0, d, i;
  int rc = PC_OK;

  if (n_out)
    *n_out = 0;
  if (!idx || !text || !n_out || (k && !out_idx))
    return PC_E_INVALID_ARG;
  if (k > idx->n_docs)
    k = idx->n_docs;
  if (!k)
    return PC_OK;
  score = pc_calloc(idx->n_docs, sizeof(*score));
  heap = pc_malloc(k * sizeof(*heap));
  if (!score || !heap) {
    rc = PC_E_NOMEM;
    goto out;
  }
  if ((rc = accumulate(idx, text, score)) != PC_OK)
    goto out;
  for (d = 0; d < idx->n_docs; d++) {
    if (n < k) {
      heap[n] = d;
      sift_up(heap, n++, score);
    } else if (better(score, d, heap[0])) {
      heap[0] = d;
      sift_down(heap, n, 0, score);
    }
  }
  /* Pop the worst into the last free place until the heap is empty. */
  for (i = n; i > 0; i--) {
    out_idx[i - 1] = heap[0];
    if (out_score)
      out_score[i - 1] = score[heap[0]];
    heap[0] = heap[i - 1];
    sift_down(heap, i - 1, 0, score);
  }
  *n_out = n;
out:
  pc_free(score);
  pc_free(heap);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Query text.                                                              */

int pc_knn_text(const struct json_object *fields, const char *const *keys,
                size_t n_keys, pc_buf *out)
{
  size_t i, first = 1;
  int rc = PC_OK;

  if (!json_object_is_type(fields, json_type_object) || (n_keys && !keys) ||
      !out)
    return PC_E_INVALID_ARG;
  for (i = 0; !rc && i < n_keys; i++) {
    struct json_object *v = NULL;

    if (!keys[i] || !json_object_object_get_ex(fields, keys[i], &v))
      continue;
    if (!first)
      rc = pc_buf_puts(out, " | ");
    first = 0;
    if (!rc)
      rc = pc_buf_puts(out, keys[i]);
    if (!rc)
      rc = pc_buf_puts(out, ": ");
    if (!rc)
      rc = pc_value_render(v, NULL, PC_VALUE_RENDER_PYSTR, out, NULL);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The "knn" predictor state.                                               */

struct pc_knn_pool {
  size_t k, max_boot, max_labeled;
  char **keys;                 /* owned: input_keys */
  size_t n_keys;
  struct json_object *pool;    /* owned: a deep copy of the pool array */
  unsigned char *augmented;    /* owned: per entry, 1 when augmented */
  pc_knn *idx;                 /* owned */
};

void pc_knn_pool_free(pc_knn_pool *pool)
{
  size_t i;

  if (!pool)
    return;
  for (i = 0; pool->keys && i < pool->n_keys; i++)
    pc_free(pool->keys[i]);
  pc_free(pool->keys);
  json_object_put(pool->pool);
  pc_free(pool->augmented);
  pc_knn_free(pool->idx);
  pc_free(pool);
}

/* An integer member >= min into *out (left alone when absent and not
 * required). */
static int read_count(const struct json_object *knn, const char *where,
                      const char *key, int64_t min, int required,
                      size_t *out, pc_error *err)
{
  struct json_object *v = NULL;
  int64_t n;

  if (!json_object_object_get_ex(knn, key, &v)) {
    if (required)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: missing (an "
                          "integer >= %lld)", where, key, (long long)min);
    return PC_OK;
  }
  n = json_object_get_int64(v);
  if (!json_object_is_type(v, json_type_int) || n < min ||
      (uint64_t)n > (uint64_t)KNN_MAX_COUNT)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: expected an integer "
                        ">= %lld", where, key, (long long)min);
  *out = (size_t)n;
  return PC_OK;
}

/* Check the members of the state object and copy the scalars. */
static int read_state(pc_knn_pool *pool, const struct json_object *knn,
                      const char *where, const char **vectorizer,
                      struct json_object **keys, struct json_object **arr,
                      pc_error *err)
{
  static const char *const known[] = {
    "k", "vectorizer", "input_keys", "max_bootstrapped_demos",
    "max_labeled_demos", "pool",
  };
  struct json_object *v = NULL;
  size_t i;
  int rc;

  if (!json_object_is_type(knn, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected an object",
                        where);
  json_object_object_foreach((struct json_object *)knn, key, val) {
    (void)val;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      if (!strcmp(key, known[i]))
        break;
    if (i == sizeof(known) / sizeof(known[0]))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: unknown member '%s'",
                          where, key);
  }
  if ((rc = read_count(knn, where, "k", 1, 1, &pool->k, err)) ||
      (rc = read_count(knn, where, "max_bootstrapped_demos", 0, 0,
                       &pool->max_boot, err)) ||
      (rc = read_count(knn, where, "max_labeled_demos", 0, 0,
                       &pool->max_labeled, err)))
    return rc;
  if (json_object_object_get_ex(knn, "vectorizer", &v)) {
    *vectorizer = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string) ||
        (strcmp(*vectorizer, "tfidf") && strcmp(*vectorizer, "bm25")))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: vectorizer: expected "
                          "\"tfidf\" or \"bm25\"", where);
  }
  if (!json_object_object_get_ex(knn, "input_keys", keys) ||
      !json_object_is_type(*keys, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: input_keys: expected "
                        "an array of field names", where);
  for (i = 0; i < json_object_array_length(*keys); i++) {
    v = json_object_array_get_idx(*keys, i);
    if (!json_object_is_type(v, json_type_string) ||
        !json_object_get_string_len(v))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: input_keys[%zu]: "
                          "expected a non-empty string", where, i);
  }
  if (!json_object_object_get_ex(knn, "pool", arr) ||
      !json_object_is_type(*arr, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: pool: expected an "
                        "array of demos", where);
  for (i = 0; i < json_object_array_length(*arr); i++)
    if (!json_object_is_type(json_object_array_get_idx(*arr, i),
                             json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: pool[%zu]: expected "
                          "an object", where, i);
  return PC_OK;
}

/* Index the pool entries' text over the input keys. */
static int index_pool(pc_knn_pool *pool, const char *vectorizer,
                      const char *where, pc_error *err)
{
  size_t n = json_object_array_length(pool->pool), i;
  char **docs = pc_calloc(n ? n : 1, sizeof(*docs));
  pc_error ierr = PC_ERROR_INIT;
  pc_buf b;
  int rc = PC_OK;

  pc_buf_init(&b, 0);
  pool->augmented = pc_calloc(n ? n : 1, 1);
  if (!docs || !pool->augmented) {
    rc = PC_E_NOMEM;
    goto out;
  }
  for (i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(pool->pool, i), *a;

    pool->augmented[i] = json_object_object_get_ex(e, "augmented", &a) &&
                         json_object_is_type(a, json_type_boolean) &&
                         json_object_get_boolean(a);
    pc_buf_reset(&b);
    if ((rc = pc_knn_text(e, (const char *const *)pool->keys, pool->n_keys,
                          &b)) != PC_OK)
      goto out;
    if (!(docs[i] = pc_strdup(b.data ? b.data : ""))) {
      rc = PC_E_NOMEM;
      goto out;
    }
  }
  if ((rc = pc_knn_build(vectorizer, (const char *const *)docs, n,
                         &pool->idx, &ierr)) != PC_OK)
    pc_error_wrap(err, &ierr, "%s", where);
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "%s: out of memory", where);
  for (i = 0; docs && i < n; i++)
    pc_free(docs[i]);
  pc_free(docs);
  pc_buf_free(&b);
  return rc;
}

int pc_knn_pool_new(const struct json_object *knn, const char *where,
                    pc_knn_pool **out, pc_error *err)
{
  pc_knn_pool *pool = NULL;
  struct json_object *keys = NULL, *arr = NULL;
  const char *vectorizer = "tfidf";
  size_t i;
  int rc;

  if (out)
    *out = NULL;
  if (!where)
    where = "knn";
  if (!out)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: no output pointer",
                        where);
  if (!(pool = pc_calloc(1, sizeof(*pool)))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", where);
    goto fail;
  }
  pool->max_boot = 4;
  pool->max_labeled = 16;
  if ((rc = read_state(pool, knn, where, &vectorizer, &keys, &arr, err)))
    goto fail;
  pool->n_keys = json_object_array_length(keys);
  pool->keys = pc_calloc(pool->n_keys ? pool->n_keys : 1,
                         sizeof(*pool->keys));
  if (!pool->keys ||
      json_object_deep_copy(arr, &pool->pool, NULL) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", where);
    goto fail;
  }
  for (i = 0; i < pool->n_keys; i++) {
    pool->keys[i] = pc_strdup(json_object_get_string(
      json_object_array_get_idx(keys, i)));
    if (!pool->keys[i]) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", where);
      goto fail;
    }
  }
  if ((rc = index_pool(pool, vectorizer, where, err)) != PC_OK)
    goto fail;
  *out = pool;
  return PC_OK;

fail:
  pc_knn_pool_free(pool);
  return rc;
}

/* Append a deep copy of pool entry i to arr. */
static int add_copy(const pc_knn_pool *pool, size_t i,
                    struct json_object *arr)
{
  struct json_object *c = NULL;

  /* A copy: json-c's reference counts are not atomic, and other calls
   * read the same pool at once. */
  if (json_object_deep_copy(json_object_array_get_idx(pool->pool, i), &c,
                            NULL) != 0)
    return PC_E_NOMEM;
  if (json_object_array_add(arr, c) != 0) {
    json_object_put(c);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

int pc_knn_pool_demos(const pc_knn_pool *pool,
                      const struct json_object *inputs,
                      struct json_object **out, pc_error *err)
{
  size_t k, n = 0, i, n_aug = 0, n_other = 0, limit;
  size_t *hits = NULL;
  unsigned char *taken = NULL;
  struct json_object *arr = NULL;
  pc_buf q;
  int rc = PC_E_NOMEM;

  pc_buf_init(&q, 0);
  if (out)
    *out = NULL;
  if (!pool || !out || !json_object_is_type(inputs, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "knn: demos: expected a pool "
                        "and an object of inputs");
  k = pool->k < pc_knn_n_docs(pool->idx) ? pool->k
                                          : pc_knn_n_docs(pool->idx);
  hits = pc_malloc((k ? k : 1) * sizeof(*hits));
  taken = pc_calloc(k ? k : 1, 1);
  arr = json_object_new_array();
  if (!hits || !taken || !arr)
    goto out;
  if ((rc = pc_knn_text(inputs, (const char *const *)pool->keys,
                        pool->n_keys, &q)) != PC_OK ||
      (rc = pc_knn_query(pool->idx, q.data ? q.data : "", k, hits, NULL,
                         &n)) != PC_OK)
    goto out;
  rc = PC_E_NOMEM;
  for (i = 0; i < n && n_aug < pool->max_boot; i++) {
    if (!pool->augmented[hits[i]])
      continue;
    if (add_copy(pool, hits[i], arr))
      goto out;
    taken[i] = 1;
    n_aug++;
  }
  limit = pool->max_labeled > n_aug ? pool->max_labeled - n_aug : 0;
  for (i = 0; i < n && n_other < limit; i++) {
    if (taken[i])
      continue;
    if (add_copy(pool, hits[i], arr))
      goto out;
    n_other++;
  }
  *out = arr;
  arr = NULL;
  rc = PC_OK;
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "knn: out of memory retrieving demos");
  else if (rc)
    pc_error_set(err, rc, "knn: demos: the inputs cannot be shown as text");
  json_object_put(arr);
  pc_free(hits);
  pc_free(taken);
  pc_buf_free(&q);
  return rc;
}
