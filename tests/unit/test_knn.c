/* tests/unit/test_knn.c: core/knn.c, the TF-IDF and BM25 index and the
 * "knn" predictor state; suite "knn". */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "json_text.h"
#include "knn.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

/* Build an index over docs; CUnit fails the test when building fails. */
static pc_knn *build(const char *vectorizer, const char *const *docs,
                     size_t n)
{
  pc_error err = PC_ERROR_INIT;
  pc_knn *idx = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_knn_build(vectorizer, docs, n, &idx, &err),
                        PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(idx);
  return idx;
}

static void test_tfidf_scores_are_hand_computed_cosines(void)
{
  static const char *const docs[] = {
    "apple banana", "Apple, APPLE! cherry", "durian",
  };
  pc_knn *idx = build("tfidf", docs, 3);
  size_t hit[3], n = 9;
  double score[3];
  /* N = 3; df(apple) = 2, every other term 1. */
  double ia = log(4.0 / 3.0) + 1.0, i1 = log(2.0) + 1.0;

  CU_ASSERT_EQUAL(pc_knn_query(idx, "apple", 3, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(hit[0], 1);  /* apple twice: the closer one */
  CU_ASSERT_EQUAL(hit[1], 0);
  CU_ASSERT_EQUAL(hit[2], 2);
  CU_ASSERT(NEAR(score[0], 2 * ia / sqrt(4 * ia * ia + i1 * i1)));
  CU_ASSERT(NEAR(score[1], ia / sqrt(ia * ia + i1 * i1)));
  CU_ASSERT(fabs(score[0] - 0.835592) < 1e-6);
  CU_ASSERT(fabs(score[1] - 0.605349) < 1e-6);
  CU_ASSERT_EQUAL(score[2], 0.0);

  /* A query of two rare terms: the query vector is normalised too, and
   * words no document holds ("kiwi") are dropped before that. */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "banana cherry kiwi", 2, hit, score,
                               &n), PC_OK);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(hit[0], 0);
  CU_ASSERT_EQUAL(hit[1], 1);
  CU_ASSERT(NEAR(score[0], (i1 / sqrt(ia * ia + i1 * i1)) / sqrt(2.0)));
  CU_ASSERT(NEAR(score[1], (i1 / sqrt(4 * ia * ia + i1 * i1)) / sqrt(2.0)));
  CU_ASSERT(fabs(score[0] - 0.562829) < 1e-6);

  /* A document is most similar to itself: cosine 1. */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "banana apple", 1, hit, score, &n),
                  PC_OK);
  CU_ASSERT_EQUAL(hit[0], 0);
  CU_ASSERT(NEAR(score[0], 1.0));
  pc_knn_free(idx);
}

static void test_bm25_scores_are_hand_computed(void)
{
  static const char *const docs[] = {"a b", "a a c", "d"};
  pc_knn *idx = build("bm25", docs, 3);
  size_t hit[3], n = 0;
  double score[3];
  /* N = 3, avgdl = 2, df(a) = 2: idf(a) = ln(1 + 1.5 / 2.5) = ln 1.6. */
  double ia = log(1.6), ib = log(1.0 + 2.5 / 1.5);
  double d0 = ia * 1 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 2 / 2.0));
  double d1 = ia * 2 * 2.5 / (2 + 1.5 * (0.25 + 0.75 * 3 / 2.0));

  CU_ASSERT_EQUAL(pc_knn_query(idx, "a", 3, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(hit[0], 1);
  CU_ASSERT_EQUAL(hit[1], 0);
  CU_ASSERT_EQUAL(hit[2], 2);
  CU_ASSERT(NEAR(score[0], d1));
  CU_ASSERT(NEAR(score[1], d0));
  CU_ASSERT(fabs(score[0] - 0.578466) < 1e-6);
  CU_ASSERT(fabs(score[1] - 0.470004) < 1e-6);
  CU_ASSERT_EQUAL(score[2], 0.0);

  /* A repeated query token counts each time. */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "a A", 1, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(hit[0], 1);
  CU_ASSERT(NEAR(score[0], 2 * d1));

  /* "b" and "c" are equally rare: on "c b" the shorter document wins. */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "c b", 2, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(hit[0], 0);
  CU_ASSERT_EQUAL(hit[1], 1);
  CU_ASSERT(NEAR(score[0], ib * 2.5 / (1 + 1.5)));
  CU_ASSERT(NEAR(score[1], ib * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 1.5))));
  pc_knn_free(idx);
}

static void test_bm25_favours_shorter_documents(void)
{
  static const char *const docs[] = {"x y z w v u", "x y", "q r"};
  pc_knn *idx = build("bm25", docs, 3);
  size_t hit[2], n = 0;
  double score[2];

  CU_ASSERT_EQUAL(pc_knn_query(idx, "x", 2, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(hit[0], 1);
  CU_ASSERT_EQUAL(hit[1], 0);
  CU_ASSERT(score[0] > score[1]);
  pc_knn_free(idx);
}

static void test_ties_go_to_the_lower_document_index(void)
{
  static const char *const docs[] = {
    "other words", "red fox", "unrelated", "red fox", "Red  fox.",
  };
  const char *vec[] = {"tfidf", "bm25"};
  size_t v, hit[5], n = 0;
  double score[5];

  for (v = 0; v < 2; v++) {
    pc_knn *idx = build(vec[v], docs, 5);

    CU_ASSERT_EQUAL(pc_knn_query(idx, "fox", 5, hit, score, &n), PC_OK);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(hit[0], 1);
    CU_ASSERT_EQUAL(hit[1], 3);
    CU_ASSERT_EQUAL(hit[2], 4);
    CU_ASSERT_EQUAL(score[0], score[1]);  /* bit for bit */
    CU_ASSERT_EQUAL(score[1], score[2]);
    CU_ASSERT(score[0] > 0.0);
    CU_ASSERT_EQUAL(hit[3], 0);  /* the zero scores, by index too */
    CU_ASSERT_EQUAL(hit[4], 2);
    CU_ASSERT_EQUAL(score[3], 0.0);
    /* Cut in the middle of the tie: the lower indices stay. */
    CU_ASSERT_EQUAL(pc_knn_query(idx, "fox", 2, hit, score, &n), PC_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(hit[0], 1);
    CU_ASSERT_EQUAL(hit[1], 3);
    pc_knn_free(idx);
  }
}

static void test_k_larger_than_corpus_returns_every_document(void)
{
  static const char *const docs[] = {"one two", "two three"};
  pc_knn *idx = build("tfidf", docs, 2);
  size_t hit[10], n = 0;
  double score[10];

  CU_ASSERT_EQUAL(pc_knn_query(idx, "three", 10, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(hit[0], 1);
  CU_ASSERT_EQUAL(hit[1], 0);
  CU_ASSERT_EQUAL(pc_knn_query(idx, "three", 0, NULL, NULL, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(pc_knn_n_docs(idx), 2);
  pc_knn_free(idx);
}

static void test_empty_query_gives_first_documents_with_zero(void)
{
  static const char *const docs[] = {"alpha", "beta", "gamma"};
  const char *queries[] = {"", " ,.;!? -- ", "zeta omega"};
  size_t q, hit[2], n = 0;
  double score[2];
  pc_knn *idx = build("bm25", docs, 3);

  for (q = 0; q < 3; q++) {
    CU_ASSERT_EQUAL(pc_knn_query(idx, queries[q], 2, hit, score, &n),
                    PC_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(hit[0], 0);
    CU_ASSERT_EQUAL(hit[1], 1);
    CU_ASSERT_EQUAL(score[0], 0.0);
    CU_ASSERT_EQUAL(score[1], 0.0);
  }
  pc_knn_free(idx);
}

static void test_empty_corpus_and_empty_documents(void)
{
  static const char *const docs[] = {"", "...", "word"};
  pc_error err = PC_ERROR_INIT;
  pc_knn *idx = NULL;
  size_t hit[3], n = 7;
  double score[3];

  CU_ASSERT_EQUAL(pc_knn_build("tfidf", NULL, 0, &idx, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_knn_query(idx, "word", 3, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 0);
  pc_knn_free(idx);
  idx = build("bm25", docs, 3);
  CU_ASSERT_EQUAL(pc_knn_query(idx, "word", 3, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(hit[0], 2);
  CU_ASSERT(score[0] > 0.0);
  CU_ASSERT_EQUAL(hit[1], 0);
  pc_knn_free(idx);
}

static void test_utf8_bytes_stay_inside_tokens(void)
{
  static const char *const docs[] = {
    "Caf\xc3\xa9 au lait", "cafe noir", "na\xc3\xafve approach",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text",
  };
  pc_knn *idx = build("tfidf", docs, 4);
  size_t hit[4], n = 0;
  double score[4];

  /* "Café" lowercases its ASCII letters and matches "café", not "cafe". */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "caf\xc3\xa9", 4, hit, score, &n),
                  PC_OK);
  CU_ASSERT_EQUAL(hit[0], 0);
  CU_ASSERT(score[0] > 0.0);
  CU_ASSERT_EQUAL(score[1], 0.0);
  /* Non-ASCII letters are not case-folded: "CAFÉ" is "cafÉ". */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "CAF\xc3\x89", 4, hit, score, &n),
                  PC_OK);
  CU_ASSERT_EQUAL(score[0], 0.0);
  /* "naïve" is one token: neither "na" nor "ve" matches it. */
  CU_ASSERT_EQUAL(pc_knn_query(idx, "na ve", 4, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(score[0], 0.0);
  CU_ASSERT_EQUAL(pc_knn_query(idx, "NA\xc3\xafVE!", 4, hit, score, &n),
                  PC_OK);
  CU_ASSERT_EQUAL(hit[0], 2);
  CU_ASSERT(score[0] > 0.0);
  CU_ASSERT_EQUAL(pc_knn_query(idx, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                               4, hit, score, &n), PC_OK);
  CU_ASSERT_EQUAL(hit[0], 3);
  CU_ASSERT(score[0] > 0.0);
  pc_knn_free(idx);
}

static void test_unknown_vectorizer_is_an_error(void)
{
  static const char *const docs[] = {"a"};
  pc_error err = PC_ERROR_INIT;
  pc_knn *idx = (pc_knn *)1;

  CU_ASSERT_EQUAL(pc_knn_build("word2vec", docs, 1, &idx, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(idx);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "word2vec"));
}

/* ------------------------------------------------------------------------ */

static struct json_object *parse(const char *text)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_json_parse(text, strlen(text),
                                      PC_JSON_PARSE_STRICT, &v, &err),
                        PC_OK);
  return v;
}

static void test_text_is_key_colon_value_joined_by_bars(void)
{
  struct json_object *f = parse(
    "{\"ticket\": \"Hi there\", \"n\": 3, \"x\": 2.5, \"ok\": true, "
    "\"tags\": [\"a\", \"b\"], \"none\": null, \"policy\": \"P\"}");
  const char *keys[] = {"policy", "missing", "ticket", "n", "x", "ok",
                        "tags", "none"};
  pc_buf b;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_knn_text(f, keys, 8, &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data, "policy: P | ticket: Hi there | n: 3 | x: 2.5 | "
                   "ok: True | tags: ['a', 'b'] | none: None");
  pc_buf_reset(&b);
  CU_ASSERT_EQUAL(pc_knn_text(f, keys + 1, 1, &b), PC_OK);
  CU_ASSERT_EQUAL(b.len, 0);
  CU_ASSERT_EQUAL(pc_knn_text(json_object_object_get(f, "tags"), keys, 1,
                              &b), PC_E_INVALID_ARG);
  pc_buf_free(&b);
  json_object_put(f);
}

static const char *pool_state =
  "{\"k\": 3, \"vectorizer\": \"tfidf\", \"input_keys\": [\"q\"],"
  " \"max_bootstrapped_demos\": 1, \"max_labeled_demos\": 2,"
  " \"pool\": ["
  "  {\"q\": \"red apples are sweet\", \"a\": \"r0\"},"
  "  {\"augmented\": true, \"q\": \"green apples are sour\", \"a\": \"g1\"},"
  "  {\"augmented\": true, \"q\": \"red apples and pears\", \"a\": \"r2\"},"
  "  {\"q\": \"bananas are yellow\", \"a\": \"b3\"}]}";

/* The "a" members of a demos array, joined by commas. */
static void answers(const struct json_object *demos, char *out, size_t cap)
{
  size_t i, used = 0;

  out[0] = '\0';
  for (i = 0; i < json_object_array_length(demos); i++) {
    struct json_object *d = json_object_array_get_idx(demos, i);
    int w = snprintf(out + used, cap - used, "%s%s", i ? "," : "",
                     json_object_get_string(json_object_object_get(d, "a")));

    if (w < 0 || (size_t)w >= cap - used)
      return;
    used += (size_t)w;
  }
}

static void test_pool_puts_augmented_first_within_the_caps(void)
{
  struct json_object *st = parse(pool_state), *in, *demos = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_knn_pool *pool = NULL;
  char got[128];

  CU_ASSERT_EQUAL_FATAL(pc_knn_pool_new(st, "p.json: state.x.knn", &pool,
                                        &err), PC_OK);
  /* Nearest three: r0 (red apples), r2 (red apples), g1 (apples). One
   * augmented is allowed (r2, the nearer), then one more to reach 2. */
  in = parse("{\"q\": \"red apples\", \"other\": \"bananas\"}");
  CU_ASSERT_EQUAL(pc_knn_pool_demos(pool, in, &demos, &err), PC_OK);
  answers(demos, got, sizeof(got));
  PC_ASSERT_STR_EQ(got, "r2,r0");
  CU_ASSERT_EQUAL(json_object_get_boolean(json_object_object_get(
    json_object_array_get_idx(demos, 0), "augmented")), 1);
  json_object_put(demos);
  json_object_put(in);
  /* Bananas: b3 first by similarity, but the augmented go first. */
  in = parse("{\"q\": \"yellow bananas\"}");
  CU_ASSERT_EQUAL(pc_knn_pool_demos(pool, in, &demos, &err), PC_OK);
  answers(demos, got, sizeof(got));
  PC_ASSERT_STR_EQ(got, "g1,b3");
  json_object_put(demos);
  json_object_put(in);
  pc_knn_pool_free(pool);
  json_object_put(st);
}

static void test_pool_without_caps_uses_dspy_defaults(void)
{
  struct json_object *st = parse(
    "{\"k\": 4, \"input_keys\": [\"q\"], \"pool\": ["
    "{\"q\": \"a b\", \"a\": \"0\"}, {\"augmented\": true, \"q\": \"a\","
    " \"a\": \"1\"}, {\"q\": \"c\", \"a\": \"2\"},"
    " {\"augmented\": true, \"q\": \"a b c\", \"a\": \"3\"}]}");
  struct json_object *in = parse("{\"q\": \"a b\"}"), *demos = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_knn_pool *pool = NULL;
  char got[64];

  CU_ASSERT_EQUAL_FATAL(pc_knn_pool_new(st, NULL, &pool, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_knn_pool_demos(pool, in, &demos, &err), PC_OK);
  answers(demos, got, sizeof(got));
  /* Ranking 0, 3, 1, 2 (TF-IDF); both augmented first, in rank order. */
  PC_ASSERT_STR_EQ(got, "3,1,0,2");
  json_object_put(demos);
  json_object_put(in);
  pc_knn_pool_free(pool);
  json_object_put(st);
}

static void test_pool_rejects_bad_state_naming_the_member(void)
{
  static const struct {
    const char *json, *needle;
  } cases[] = {
    {"[]", "x.knn: expected an object"},
    {"{\"input_keys\": [\"q\"], \"pool\": []}", "x.knn: k: missing"},
    {"{\"k\": 0, \"input_keys\": [\"q\"], \"pool\": []}",
     "x.knn: k: expected an integer >= 1"},
    {"{\"k\": \"3\", \"input_keys\": [\"q\"], \"pool\": []}",
     "x.knn: k: expected an integer >= 1"},
    {"{\"k\": 1, \"vectorizer\": \"bert\", \"input_keys\": [\"q\"], "
     "\"pool\": []}", "x.knn: vectorizer: expected"},
    {"{\"k\": 1, \"input_keys\": [1], \"pool\": []}",
     "x.knn: input_keys[0]: expected a non-empty string"},
    {"{\"k\": 1, \"pool\": []}", "x.knn: input_keys: expected"},
    {"{\"k\": 1, \"input_keys\": [\"q\"], \"pool\": [1]}",
     "x.knn: pool[0]: expected an object"},
    {"{\"k\": 1, \"input_keys\": [\"q\"]}", "x.knn: pool: expected"},
    {"{\"k\": 1, \"input_keys\": [\"q\"], \"pool\": [], \"kk\": 1}",
     "x.knn: unknown member 'kk'"},
    {"{\"k\": 1, \"input_keys\": [\"q\"], \"pool\": [], "
     "\"max_labeled_demos\": -1}", "x.knn: max_labeled_demos: expected"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct json_object *st = parse(cases[i].json);
    pc_error err = PC_ERROR_INIT;
    pc_knn_pool *pool = (pc_knn_pool *)1;

    CU_ASSERT_EQUAL(pc_knn_pool_new(st, "x.knn", &pool, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(pool);
    if (!strstr(err.message, cases[i].needle))
      fprintf(stderr, "case %zu: got '%s'\n", i, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].needle));
    json_object_put(st);
  }
}

static void test_empty_pool_gives_no_demos(void)
{
  struct json_object *st = parse(
    "{\"k\": 2, \"input_keys\": [\"q\"], \"pool\": []}");
  struct json_object *in = parse("{\"q\": \"x\"}"), *demos = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_knn_pool *pool = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_knn_pool_new(st, NULL, &pool, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_knn_pool_demos(pool, in, &demos, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(demos), 0);
  json_object_put(demos);
  json_object_put(in);
  pc_knn_pool_free(pool);
  json_object_put(st);
}

/* ------------------------------------------------------------------------ */

#define N_THREADS 4
#define N_DOCS 400

typedef struct worker {
  const pc_knn *idx;
  char query[64];
  size_t hit[5];
  double score[5];
  size_t n;
  int rc;
} worker;

static void *run_query(void *arg)
{
  worker *w = arg;
  int r;

  for (r = 0; r < 50; r++)
    w->rc |= pc_knn_query(w->idx, w->query, 5, w->hit, w->score, &w->n);
  return NULL;
}

static void test_concurrent_queries_match_serial_ones(void)
{
  char *docs[N_DOCS];
  pthread_t th[N_THREADS];
  worker w[N_THREADS];
  pc_knn *idx;
  size_t i, hit[5], n;
  double score[5];

  for (i = 0; i < N_DOCS; i++) {
    char text[96];

    snprintf(text, sizeof(text), "w%zu w%zu w%zu common t%zu", i % 7,
             i % 11, i % 13, i);
    docs[i] = pc_strdup(text);
  }
  idx = build("tfidf", (const char *const *)docs, N_DOCS);
  for (i = 0; i < N_THREADS; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].idx = idx;
    snprintf(w[i].query, sizeof(w[i].query), "w%zu w%zu common", i, i + 3);
    CU_ASSERT_EQUAL(pthread_create(&th[i], NULL, run_query, &w[i]), 0);
  }
  for (i = 0; i < N_THREADS; i++) {
    CU_ASSERT_EQUAL(pthread_join(th[i], NULL), 0);
    CU_ASSERT_EQUAL(w[i].rc, PC_OK);
    CU_ASSERT_EQUAL(pc_knn_query(idx, w[i].query, 5, hit, score, &n), PC_OK);
    CU_ASSERT_EQUAL(w[i].n, 5);
    CU_ASSERT_EQUAL(memcmp(hit, w[i].hit, sizeof(hit)), 0);
    CU_ASSERT_EQUAL(memcmp(score, w[i].score, sizeof(score)), 0);
  }
  pc_knn_free(idx);
  for (i = 0; i < N_DOCS; i++)
    pc_free(docs[i]);
}

static void test_out_of_memory_is_reported_and_leaks_nothing(void)
{
  static const char *const docs[] = {"a b c", "b c d", "e"};
  unsigned long at;
  int built = 0, queried = 0;

  for (at = 1; at < 200 && !(built && queried); at++) {
    pc_error err = PC_ERROR_INIT;
    pc_knn *idx = NULL;
    size_t hit[2], n = 0;
    int rc;

    pc__alloc_fail_at(at);
    rc = pc_knn_build(at % 2 ? "tfidf" : "bm25", docs, 3, &idx, &err);
    if (rc) {
      pc__alloc_fail_at(0);
      CU_ASSERT_EQUAL(rc, PC_E_NOMEM);
      CU_ASSERT_PTR_NULL(idx);
      continue;
    }
    built = 1;
    rc = pc_knn_query(idx, "b c", 2, hit, NULL, &n);
    pc__alloc_fail_at(0);
    if (rc) {
      CU_ASSERT_EQUAL(rc, PC_E_NOMEM);
      CU_ASSERT_EQUAL(n, 0);
    } else {
      queried = 1;
      CU_ASSERT_EQUAL(n, 2);
    }
    pc_knn_free(idx);
  }
  CU_ASSERT(built && queried);
}

static CU_TestInfo knn_tests[] = {
  {"tfidf scores are hand-computed cosines",
   test_tfidf_scores_are_hand_computed_cosines},
  {"bm25 scores are hand-computed", test_bm25_scores_are_hand_computed},
  {"bm25 favours shorter documents", test_bm25_favours_shorter_documents},
  {"ties go to the lower document index",
   test_ties_go_to_the_lower_document_index},
  {"k larger than the corpus returns every document",
   test_k_larger_than_corpus_returns_every_document},
  {"empty query gives the first documents with score 0",
   test_empty_query_gives_first_documents_with_zero},
  {"empty corpus and empty documents", test_empty_corpus_and_empty_documents},
  {"UTF-8 bytes stay inside tokens", test_utf8_bytes_stay_inside_tokens},
  {"unknown vectorizer is an error", test_unknown_vectorizer_is_an_error},
  {"text is key: value joined by bars",
   test_text_is_key_colon_value_joined_by_bars},
  {"pool puts augmented first within the caps",
   test_pool_puts_augmented_first_within_the_caps},
  {"pool without caps uses DSPy's defaults",
   test_pool_without_caps_uses_dspy_defaults},
  {"pool rejects a bad state naming the member",
   test_pool_rejects_bad_state_naming_the_member},
  {"empty pool gives no demos", test_empty_pool_gives_no_demos},
  {"concurrent queries match serial ones",
   test_concurrent_queries_match_serial_ones},
  {"out of memory is reported and leaks nothing",
   test_out_of_memory_is_reported_and_leaks_nothing},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"knn", NULL, NULL, NULL, NULL, knn_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
