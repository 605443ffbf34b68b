/*
 * knn.h - nearest-neighbour retrieval over text: a TF-IDF or BM25 index of
 * sparse vectors, and the "knn" predictor state that the knn optimizer
 * writes and the host reads at inference (docs/optimizers.md, "knn").
 *
 * Text is split into tokens as follows: every run of ASCII letters, ASCII
 * digits and bytes >= 0x80 (so UTF-8 text is kept whole inside a token) is
 * one token, with ASCII letters lowercased; every other byte separates
 * tokens. There is no stemming and no stop-word list.
 *
 * Let N be the number of documents, df(t) the number of documents that hold
 * term t, tf(t, d) the count of t in d, |d| the number of tokens of d and
 * avgdl the mean of |d| over the documents.
 *
 * "tfidf" (scikit-learn's TfidfVectorizer defaults): a document's weight of
 * t is tf(t, d) * idf(t) with idf(t) = ln((1 + N) / (1 + df(t))) + 1, and
 * the vector is scaled to unit L2 length. A query is weighted the same way
 * (its own term counts, the documents' idf; terms no document holds are
 * dropped before scaling). The score is the dot product: the cosine, in
 * [0, 1].
 *
 * "bm25" (Okapi BM25, k1 = 1.5, b = 0.75, Lucene's idf): the score is the
 * sum over the query's tokens (a repeated token counts each time) of
 * idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
 * with idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), which is never
 * negative.
 *
 * Both are deterministic: the same documents and query give the same
 * scores, bit for bit, on every thread.
 */
#ifndef PC_KNN_H
#define PC_KNN_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"

#define PC_KNN_BM25_K1 1.5
#define PC_KNN_BM25_B 0.75

/*
 * pc_knn_text - the text DSPy's KNN embeds for a set of fields.
 *
 * Appends "key: value | key: value" to `out` for each of the n_keys keys,
 * in the order given, that `fields` (a JSON object) holds; absent keys are
 * skipped. A value is shown as Python's str() shows it (strings as they
 * are, None, True, 3.0, ['a', 'b']). Returns PC_OK, or PC_E_NOMEM (out of
 * memory, or `out` reached its cap) or PC_E_INVALID_ARG (`fields` is not
 * an object); `out` may then hold part of the text.
 */
int pc_knn_text(const struct json_object *fields, const char *const *keys,
                size_t n_keys, pc_buf *out);

/* An immutable index over a fixed set of documents. */
typedef struct pc_knn pc_knn;

/*
 * pc_knn_build - index `n_docs` NUL-terminated documents (borrowed; the
 * index keeps no pointer to them) with vectorizer "tfidf" or "bm25".
 *
 * On success *out owns a new index (pc_knn_free). Errors: PC_E_INVALID_ARG
 * (an unknown vectorizer, a NULL document, 2^31 or more documents or
 * distinct terms), PC_E_NOMEM; *out is then NULL. Zero documents make an
 * index that finds nothing.
 */
int pc_knn_build(const char *vectorizer, const char *const *docs,
                 size_t n_docs, pc_knn **out, pc_error *err);

/*
 * pc_knn_query - the k documents most similar to `text`.
 *
 * Writes min(k, number of documents) document indices to out_idx and
 * their scores to out_score (NULL when the scores are not wanted), both
 * arrays of at least k elements owned by the caller, highest score first;
 * equal scores are ordered by lower document index. Documents that share
 * no term with the query score 0 and still fill the list, so an empty
 * query gives the first k documents. *n_out receives the count. Returns
 * PC_OK, PC_E_INVALID_ARG (a NULL argument) or PC_E_NOMEM (*n_out is
 * then 0). Any number of threads may query one index at once.
 */
int pc_knn_query(const pc_knn *idx, const char *text, size_t k,
                 size_t *out_idx, double *out_score, size_t *n_out);

/* The number of documents indexed. */
size_t pc_knn_n_docs(const pc_knn *idx);

/* Release an index. NULL is a no-op. */
void pc_knn_free(pc_knn *idx);

/*
 * The "knn" member of a predictor's state, as the knn optimizer writes it:
 *
 *   {"k": 3, "vectorizer": "tfidf", "input_keys": ["ticket", "policy"],
 *    "max_bootstrapped_demos": 4, "max_labeled_demos": 16,
 *    "pool": [{"augmented": true, "ticket": ..., "queue": ...}, {...}]}
 *
 * k (an integer >= 1), input_keys (strings) and pool (objects: demos) are
 * required; vectorizer defaults to "tfidf", the two caps to 4 and 16
 * (integers >= 0). Any other member is an error.
 */
typedef struct pc_knn_pool pc_knn_pool;

/*
 * pc_knn_pool_new - check a "knn" state object and index its pool.
 *
 * `knn` is borrowed (the pool keeps its own copy). `where` starts every
 * message ("prog.json: state.classify.knn"; NULL for "knn"). Each pool
 * entry is indexed by pc_knn_text over input_keys. On success *out owns a
 * new pool (pc_knn_pool_free). Errors: PC_E_INVALID_ARG with a message
 * naming the member ("...knn: k: expected an integer >= 1"), PC_E_NOMEM;
 * *out is then NULL.
 */
int pc_knn_pool_new(const struct json_object *knn, const char *where,
                    pc_knn_pool **out, pc_error *err);

/*
 * pc_knn_pool_demos - the retrieved demos for one call.
 *
 * Builds the query with pc_knn_text from `inputs` (the call's input
 * fields) over the pool's input_keys, retrieves the k most similar pool
 * entries, and returns them in *out as a new JSON array of deep copies
 * owned by the caller (json_object_put): first the entries marked
 * "augmented": true, at most max_bootstrapped_demos of them, then the
 * others (and augmented ones past that cap) until max_labeled_demos demos
 * in all (never fewer than the augmented ones taken), each group in order
 * of similarity. Errors: PC_E_INVALID_ARG (`inputs` is not an object),
 * PC_E_NOMEM; *out is then NULL. Safe to call from several threads on one
 * pool.
 */
int pc_knn_pool_demos(const pc_knn_pool *pool,
                      const struct json_object *inputs,
                      struct json_object **out, pc_error *err);

/* Release a pool. NULL is a no-op. */
void pc_knn_pool_free(pc_knn_pool *pool);

#endif
