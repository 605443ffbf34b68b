/* tests/unit/test_gates.c: artifacts/gates.c; suite "gates". */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "gates.h"
#include "harness.h"
#include "json_text.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* Gates from JSON text; NULL (and the message printed) on failure. */
static pc_gates *gates(const char *text)
{
  struct json_object *o = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_gates *g = NULL;

  if (pc_json_parse(text, strlen(text), PC_JSON_PARSE_STRICT, &o, &err) ||
      pc_gates_from_json(o, "g.json", &g, &err))
    fprintf(stderr, "gates: %s\n", err.message);
  json_object_put(o);
  return g;
}

/* The code of refusing `text`; the message goes to `err`. */
static int refuse(const char *text, pc_error *err)
{
  struct json_object *o = NULL;
  pc_gates *g = (pc_gates *)&g;  /* non-NULL: must be reset */
  int rc;

  pc_error_clear(err);
  if (pc_json_parse(text, strlen(text), PC_JSON_PARSE_STRICT, &o, err))
    return -1;
  rc = pc_gates_from_json(o, "g.json", &g, err);
  CU_ASSERT_PTR_NULL(g);
  json_object_put(o);
  return rc;
}

/* Scores with up to four slices. */
typedef struct scores {
  pc_gate_scores s;
  pc_gate_slice slices[4];
} scores;

static void set_scores(scores *sc, size_t n, double mean)
{
  memset(sc, 0, sizeof(*sc));
  sc->s.n = n;
  sc->s.mean = mean;
  sc->s.slices = sc->slices;
}

static void add_slice(scores *sc, const char *name, size_t n, double mean)
{
  pc_gate_slice *s = &sc->slices[sc->s.n_slices++];

  s->name = name;
  s->n = n;
  s->mean = mean;
}

/* Run the check; *table owned by the caller. Returns `passed`. */
static int check(const pc_gates *g, const pc_gate_inputs *in,
                 struct json_object **table)
{
  pc_error err = PC_ERROR_INIT;
  int passed = -1;

  CU_ASSERT_EQUAL_FATAL(pc_gates_check(g, in, table, &passed, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(*table);
  return passed;
}

/* The row named `gate`, or NULL. */
static struct json_object *row(struct json_object *table, const char *gate)
{
  for (size_t i = 0; i < json_object_array_length(table); i++) {
    struct json_object *r = json_object_array_get_idx(table, i), *v;

    if (json_object_object_get_ex(r, "gate", &v) &&
        strcmp(json_object_get_string(v), gate) == 0)
      return r;
  }
  return NULL;
}

/* 1 pass, 0 fail, -1 no such row. */
static int row_pass(struct json_object *table, const char *gate)
{
  struct json_object *r = row(table, gate), *v;

  if (!r || !json_object_object_get_ex(r, "pass", &v))
    return -1;
  return json_object_get_boolean(v) ? 1 : 0;
}

static const char *row_str(struct json_object *table, const char *gate,
                           const char *key)
{
  struct json_object *r = row(table, gate), *v;

  if (!r || !json_object_object_get_ex(r, key, &v) || !v)
    return "";
  return json_object_get_string(v);
}

static double row_num(struct json_object *table, const char *gate,
                      const char *key)
{
  struct json_object *r = row(table, gate), *v;

  if (!r || !json_object_object_get_ex(r, key, &v) || !v)
    return -1.0;
  return json_object_get_double(v);
}

static int detail_has(struct json_object *table, const char *gate,
                      const char *text)
{
  return strstr(row_str(table, gate, "detail"), text) != NULL;
}

/* Inputs with only the candidate; disjointness is usually off in tests
 * that look at other gates. */
static pc_gate_inputs inputs(const scores *cand, const scores *cur)
{
  pc_gate_inputs in;

  memset(&in, 0, sizeof(in));
  in.candidate = &cand->s;
  in.current = cur ? &cur->s : NULL;
  return in;
}

#define SCHEMA "\"schema\": \"promptc.gates/1\""

/* ---------------------------------------------------------------------- */
/* Score gates                                                            */

static void test_min_score_passes_at_threshold_and_fails_below(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"min_score\": 0.7, "
                      "\"disjoint\": false}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 100, 0.77);
  in = inputs(&c, NULL);
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_EQUAL(row_pass(t, "min_score"), 1);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "min_score", "measured"), 0.77, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "min_score", "threshold"), 0.7, 1e-12);
  json_object_put(t);

  /* Equal up to rounding passes: 0.7 computed another way. */
  c.s.mean = 0.7 - 1e-12;
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  json_object_put(t);

  c.s.mean = 0.69;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "min_score"), 0);
  json_object_put(t);

  c.s.n = 0;  /* nothing scored cannot pass */
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_TRUE(detail_has(t, "min_score", "no example scored"));
  json_object_put(t);
  pc_gates_free(g);
}

static void test_min_test_size_counts_scored_examples(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"min_test_size\": 50, "
                      "\"disjoint\": false}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 50, 0.5);
  in = inputs(&c, NULL);
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_EQUAL(row_num(t, "min_test_size", "measured"), 50);
  json_object_put(t);
  c.s.n = 49;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "min_test_size"), 0);
  json_object_put(t);
  /* 50 scored, but the test split repeats one example: 49 distinct. */
  {
    const char *h[50];

    c.s.n = 50;
    in.test_hashes = h;
    in.n_test = 50;
    for (int i = 0; i < 50; i++)  /* the last repeats the first */
      h[i] = i < 49 ? (const char *[]){"a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "a8", "a9", "b0", "b1", "b2", "b3", "b4", "b5", "b6",
        "b7", "b8", "b9", "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7",
        "c8", "c9", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8",
        "d9", "e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"}[i]
                  : "a0";
    CU_ASSERT_EQUAL(check(g, &in, &t), 0);
    CU_ASSERT_EQUAL(row_num(t, "min_test_size", "measured"), 49);
    CU_ASSERT_EQUAL(row_pass(t, "min_test_size"), 0);
    json_object_put(t);
  }
  pc_gates_free(g);
}

static void test_min_slice_score_star_applies_to_every_slice(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"min_slice_score\": {\"*\": 0.5, \"billing\": 0.8}}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 30, 0.7);
  add_slice(&c, "billing", 10, 0.75);  /* explicit 0.8 wins over "*" */
  add_slice(&c, "account", 10, 0.6);
  add_slice(&c, "outage", 10, 0.4);    /* under "*" */
  in = inputs(&c, NULL);
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(json_object_array_length(t), 3);
  CU_ASSERT_EQUAL(row_pass(t, "min_slice_score[account]"), 1);
  CU_ASSERT_EQUAL(row_pass(t, "min_slice_score[billing]"), 0);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "min_slice_score[billing]", "threshold"),
                         0.8, 1e-12);
  CU_ASSERT_EQUAL(row_pass(t, "min_slice_score[outage]"), 0);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "min_slice_score[outage]", "threshold"),
                         0.5, 1e-12);
  json_object_put(t);

  c.slices[0].mean = 0.8;
  c.slices[2].mean = 0.5;
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  json_object_put(t);
  pc_gates_free(g);
}

static void test_slice_named_in_gates_but_missing_fails(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"min_slice_score\": {\"refunds\": 0.1}}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 10, 0.9);
  add_slice(&c, "billing", 10, 0.9);
  in = inputs(&c, NULL);
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "min_slice_score[refunds]"), 0);
  CU_ASSERT_TRUE(detail_has(t, "min_slice_score[refunds]",
                            "not in the test split"));
  CU_ASSERT_PTR_NULL(row(t, "min_slice_score[billing]"));
  json_object_put(t);
  pc_gates_free(g);
}

/* ---------------------------------------------------------------------- */
/* Regression gates                                                       */

static void test_regression_without_current_artifact_passes(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"max_regression\": 0.02, "
                      "\"max_slice_regression\": 0.1, "
                      "\"critical_slices\": [\"account\"]}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 20, 0.1);
  add_slice(&c, "account", 20, 0.1);
  in = inputs(&c, NULL);
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_EQUAL(row_pass(t, "max_regression"), 1);
  CU_ASSERT_TRUE(detail_has(t, "max_regression", "no current artifact"));
  CU_ASSERT_TRUE(detail_has(t, "max_slice_regression[account]",
                            "no current artifact"));
  CU_ASSERT_TRUE(detail_has(t, "critical_regression[account]",
                            "no current artifact"));
  json_object_put(t);
  pc_gates_free(g);
}

static void test_max_regression_allows_the_tolerance_only(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"max_regression\": 0.02}");
  struct json_object *t = NULL;
  scores c, cur;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&cur, 100, 0.80);
  set_scores(&c, 100, 0.78);  /* exactly the tolerance */
  in = inputs(&c, &cur);
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "max_regression", "threshold"), 0.78,
                         1e-12);
  json_object_put(t);
  c.s.mean = 0.77;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "max_regression"), 0);
  CU_ASSERT_TRUE(detail_has(t, "max_regression", "current 0.8000"));
  json_object_put(t);
  pc_gates_free(g);
}

static void test_max_slice_regression_checks_each_slice(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"max_slice_regression\": 0.05}");
  struct json_object *t = NULL;
  scores c, cur;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&cur, 20, 0.7);
  add_slice(&cur, "a", 10, 0.6);
  add_slice(&cur, "b", 10, 0.8);
  set_scores(&c, 20, 0.75);
  add_slice(&c, "a", 10, 0.8);
  add_slice(&c, "b", 10, 0.7);   /* down 0.1 */
  in = inputs(&c, &cur);
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "max_slice_regression[a]"), 1);
  CU_ASSERT_EQUAL(row_pass(t, "max_slice_regression[b]"), 0);
  json_object_put(t);
  c.slices[1].mean = 0.76;
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  json_object_put(t);
  pc_gates_free(g);
}

static void test_better_average_but_dropped_critical_slice_is_refused(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"min_score\": 0.6, \"max_regression\": 0.0, "
                      "\"critical_slices\": [\"account\"]}");
  struct json_object *t = NULL;
  scores c, cur;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&cur, 40, 0.70);
  add_slice(&cur, "account", 10, 0.90);
  add_slice(&cur, "billing", 30, 0.633);
  set_scores(&c, 40, 0.80);          /* the average improves ... */
  add_slice(&c, "account", 10, 0.80); /* ... the critical slice drops */
  add_slice(&c, "billing", 30, 0.80);
  in = inputs(&c, &cur);
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "min_score"), 1);
  CU_ASSERT_EQUAL(row_pass(t, "max_regression"), 1);
  CU_ASSERT_EQUAL(row_pass(t, "critical_regression[account]"), 0);
  CU_ASSERT_DOUBLE_EQUAL(row_num(t, "critical_regression[account]",
                                 "threshold"), 0.90, 1e-12);
  json_object_put(t);

  /* Holding the critical slice passes. */
  c.slices[0].mean = 0.90;
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  json_object_put(t);
  pc_gates_free(g);
}

static void test_critical_regression_sets_the_tolerance(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"critical_slices\": [\"account\"], "
                      "\"critical_regression\": 0.05}");
  struct json_object *t = NULL;
  scores c, cur;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&cur, 10, 0.9);
  add_slice(&cur, "account", 10, 0.9);
  set_scores(&c, 10, 0.86);
  add_slice(&c, "account", 10, 0.86);
  in = inputs(&c, &cur);
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  json_object_put(t);
  c.slices[0].mean = 0.84;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  json_object_put(t);
  pc_gates_free(g);
}

static void test_critical_slice_missing_from_test_data_fails(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, "
                      "\"critical_slices\": [\"account\"]}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 10, 1.0);
  add_slice(&c, "billing", 10, 1.0);
  in = inputs(&c, NULL);  /* even with no current artifact */
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "critical_regression[account]"), 0);
  CU_ASSERT_TRUE(detail_has(t, "critical_regression[account]",
                            "not in the test split"));
  json_object_put(t);
  pc_gates_free(g);
}

/* ---------------------------------------------------------------------- */
/* Disjointness, keys and models                                          */

static void test_leaked_test_example_is_refused_with_its_id(void)
{
  pc_gates *g = gates("{" SCHEMA "}");  /* disjoint is on by default */
  static const char *const test_h[] = {"h1", "h2", "h3"};
  static const char *const test_id[] = {"t-1", "t-2", "t-3"};
  static const char *const seen[] = {"h9", "h2", "h7"};
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 3, 1.0);
  in = inputs(&c, NULL);
  in.test_hashes = test_h;
  in.test_ids = test_id;
  in.n_test = 3;
  in.seen_hashes = seen;
  in.n_seen = 3;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(json_object_array_length(t), 1);
  CU_ASSERT_EQUAL(row_pass(t, "disjoint"), 0);
  CU_ASSERT_EQUAL(row_num(t, "disjoint", "measured"), 1);
  CU_ASSERT_TRUE(detail_has(t, "disjoint", "t-2"));
  CU_ASSERT_FALSE(detail_has(t, "disjoint", "t-1"));
  json_object_put(t);

  in.n_seen = 1;  /* only "h9": nothing leaks */
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_EQUAL(row_num(t, "disjoint", "measured"), 0);
  json_object_put(t);
  pc_gates_free(g);
}

static void test_disjoint_names_three_leaks_among_many_hashes(void)
{
  enum { N_SEEN = 20000, N_TEST = 2000 };
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": true}");
  char (*seen_buf)[16] = pc_calloc(N_SEEN, 16);
  char (*test_buf)[16] = pc_calloc(N_TEST, 16);
  char (*id_buf)[16] = pc_calloc(N_TEST, 16);
  const char **seen = pc_calloc(N_SEEN, sizeof(*seen));
  const char **test_h = pc_calloc(N_TEST, sizeof(*test_h));
  const char **ids = pc_calloc(N_TEST, sizeof(*ids));
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_FATAL(seen_buf && test_buf && id_buf && seen && test_h && ids);
  for (int i = 0; i < N_SEEN; i++) {
    snprintf(seen_buf[i], 16, "s%d", (i * 7919) % N_SEEN);
    seen[i] = seen_buf[i];
  }
  for (int i = 0; i < N_TEST; i++) {
    /* Test examples 100, 500, 900, 1300 and 1700 are also in train. */
    if (i % 400 == 100)
      snprintf(test_buf[i], 16, "s%d", i * 3);
    else
      snprintf(test_buf[i], 16, "x%d", i);
    snprintf(id_buf[i], 16, "ex%d", i);
    test_h[i] = test_buf[i];
    ids[i] = id_buf[i];
  }
  set_scores(&c, N_TEST, 1.0);
  in = inputs(&c, NULL);
  in.test_hashes = test_h;
  in.test_ids = ids;
  in.n_test = N_TEST;
  in.seen_hashes = seen;
  in.n_seen = N_SEEN;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_num(t, "disjoint", "measured"), 5);
  CU_ASSERT_TRUE(detail_has(t, "disjoint", "5 of 2000"));
  CU_ASSERT_TRUE(detail_has(t, "disjoint", "ex100, ex500, ex900, ..."));
  CU_ASSERT_FALSE(detail_has(t, "disjoint", "ex1300"));
  json_object_put(t);
  pc_free(seen_buf);
  pc_free(test_buf);
  pc_free(id_buf);
  pc_free(seen);
  pc_free(test_h);
  pc_free(ids);
  pc_gates_free(g);
}

static void test_disjoint_without_recorded_hashes_fails_unless_off(void)
{
  pc_gates *g = gates("{" SCHEMA "}");
  pc_gates *off = gates("{" SCHEMA ", \"disjoint\": false}");
  static const char *const test_h[] = {"h1"};
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_PTR_NOT_NULL_FATAL(off);
  set_scores(&c, 1, 1.0);
  in = inputs(&c, NULL);
  in.test_hashes = test_h;
  in.n_test = 1;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_TRUE(detail_has(t, "disjoint", "no train or val"));
  json_object_put(t);
  CU_ASSERT_EQUAL(check(off, &in, &t), 1);
  CU_ASSERT_EQUAL(json_object_array_length(t), 0);
  json_object_put(t);
  pc_gates_free(g);
  pc_gates_free(off);
}

static void test_require_key_refuses_other_keys_and_unsigned(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, \"require_key\": "
                      "[\"11bb5d00d657b336\", \"AAAAAAAAAAAAAAAA\"]}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 1, 1.0);
  in = inputs(&c, NULL);
  in.key_id = "11BB5D00D657B336";  /* case does not matter */
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  PC_ASSERT_STR_EQ(row_str(t, "require_key", "measured"),
                   "11BB5D00D657B336");
  json_object_put(t);
  in.key_id = "22CC5D00D657B336";
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_TRUE(detail_has(t, "require_key", "22CC5D00D657B336"));
  json_object_put(t);
  in.key_id = NULL;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_TRUE(detail_has(t, "require_key", "not signed"));
  json_object_put(t);
  pc_gates_free(g);
}

static void test_require_model_refuses_mismatch_and_missing_role(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"disjoint\": false, \"require_model\": "
                      "{\"lm\": \"sim-1@abc\", \"prompt_lm\": \"sim-1@p\"}}");
  struct json_object *models = NULL, *t = NULL;
  const char *json = "{\"lm\": \"sim-1@abc\", \"prompt_lm\": "
                     "{\"identity\": \"sim-1@p\", \"model\": \"sim-1\"}}";
  pc_error err = PC_ERROR_INIT;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL_FATAL(pc_json_parse(json, strlen(json),
                                      PC_JSON_PARSE_STRICT, &models, &err),
                        PC_OK);
  set_scores(&c, 1, 1.0);
  in = inputs(&c, NULL);
  in.models = models;
  CU_ASSERT_EQUAL(check(g, &in, &t), 1);
  CU_ASSERT_EQUAL(row_pass(t, "require_model[lm]"), 1);
  CU_ASSERT_EQUAL(row_pass(t, "require_model[prompt_lm]"), 1);
  json_object_put(t);

  json_object_object_add(models, "lm", json_object_new_string("sim-1@def"));
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "require_model[lm]"), 0);
  PC_ASSERT_STR_EQ(row_str(t, "require_model[lm]", "measured"), "sim-1@def");
  json_object_put(t);

  json_object_object_del(models, "prompt_lm");
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "require_model[prompt_lm]"), 0);
  CU_ASSERT_TRUE(detail_has(t, "require_model[prompt_lm]",
                            "no model identity recorded"));
  json_object_put(t);

  in.models = NULL;
  CU_ASSERT_EQUAL(check(g, &in, &t), 0);
  CU_ASSERT_EQUAL(row_pass(t, "require_model[lm]"), 0);
  json_object_put(t);
  json_object_put(models);
  pc_gates_free(g);
}

/* ---------------------------------------------------------------------- */
/* The file, the order, the table                                         */

static void test_bad_gates_files_are_refused_naming_the_member(void)
{
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(refuse("{\"min_score\": 0.5}", &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "g.json: missing \"schema\""));
  CU_ASSERT_EQUAL(refuse("{\"schema\": \"promptc.gates/2\"}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "promptc.gates/2"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_scor\": 0.5}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown member \"min_scor\""));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_score\": \"0.5\"}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"min_score\""));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"max_regression\": 1.5}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "out of range"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_score\": -0.1}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_slice_score\": "
                         "{\"billing\": 2}}", &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "min_slice_score.billing"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_slice_score\": [0.5]}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_test_size\": 0}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_test_size\": 5.5}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"disjoint\": 1}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_key\": [\"11BB5D00\"]}",
                         &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a key id"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_key\": "
                         "[\"11BB5D00D657B33Z\"]}", &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_key\": "
                         "\"11BB5D00D657B336\"}", &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_key\": []}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_key\": [\"11BB5D00D657B336"
                         "\", \"11bb5d00d657b336\"]}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "twice"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_model\": {\"lm\": 3}}",
                         &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "require_model.lm"));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"require_model\": [\"lm\"]}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"critical_slices\": \"account\"}",
                         &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"critical_slices\": [\"\"]}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"min_slice_score\": {}}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"critical_regression\": 0.1}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "without \"critical_slices\""));
  CU_ASSERT_EQUAL(refuse("{" SCHEMA ", \"metric\": \"\"}", &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(refuse("[1]", &err), PC_E_INVALID_ARG);
}

static void test_load_reads_a_file_and_names_it_in_errors(void)
{
  const char *good = "{" SCHEMA ", \"metric\": \"exact_match:answer\", "
                     "\"min_score\": 0.5}\n";
  const char *bad = "{" SCHEMA ", \"min_score\": 7}\n";
  char path[512];
  pc_error err = PC_ERROR_INIT;
  pc_gates *g = NULL;

  CU_ASSERT_EQUAL(pc_gates_load(pc_test_tmpfile(good, strlen(good), ".json"),
                                &g, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  PC_ASSERT_STR_EQ(pc_gates_metric(g), "exact_match:answer");
  pc_gates_free(g);
  snprintf(path, sizeof(path), "%s",
           pc_test_tmpfile(bad, strlen(bad), ".json"));
  g = (pc_gates *)&g;
  CU_ASSERT_EQUAL(pc_gates_load(path, &g, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(g);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_gates_load("no/such/gates.json", &g, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such/gates.json"));
}

static void test_rows_come_in_the_documented_order(void)
{
  pc_gates *g = gates(
    "{" SCHEMA ", \"critical_slices\": [\"z\", \"a\"], "
    "\"max_slice_regression\": 0.1, \"max_regression\": 0.1, "
    "\"min_slice_score\": {\"z\": 0.1, \"*\": 0.1}, \"min_score\": 0.1, "
    "\"require_model\": {\"task\": \"m\", \"lm\": \"m\"}, "
    "\"require_key\": [\"11BB5D00D657B336\"], \"min_test_size\": 1}");
  static const char *const expected[] = {
    "min_test_size", "disjoint", "require_key", "require_model[lm]",
    "require_model[task]", "min_score", "min_slice_score[a]",
    "min_slice_score[m]", "min_slice_score[z]", "max_regression",
    "max_slice_regression[a]", "max_slice_regression[m]",
    "max_slice_regression[z]", "critical_regression[a]",
    "critical_regression[z]",
  };
  static const char *const h[] = {"h"};
  struct json_object *t = NULL;
  size_t n = sizeof(expected) / sizeof(expected[0]);
  scores c, cur;
  pc_gate_inputs in;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&cur, 3, 0.5);
  add_slice(&cur, "z", 1, 0.5);
  add_slice(&cur, "m", 1, 0.5);
  add_slice(&cur, "a", 1, 0.5);
  set_scores(&c, 3, 0.5);
  add_slice(&c, "m", 1, 0.5);
  add_slice(&c, "z", 1, 0.5);
  add_slice(&c, "a", 1, 0.5);
  in = inputs(&c, &cur);
  in.test_hashes = h;
  in.n_test = 1;
  in.seen_hashes = h;
  in.n_seen = 1;
  check(g, &in, &t);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(t), n);
  for (size_t i = 0; i < n; i++) {
    struct json_object *v;

    json_object_object_get_ex(json_object_array_get_idx(t, i), "gate", &v);
    PC_ASSERT_STR_EQ(json_object_get_string(v), expected[i]);
  }
  json_object_put(t);
  pc_gates_free(g);
}

static void test_table_text_is_aligned_with_a_verdict(void)
{
  pc_gates *g = gates("{" SCHEMA ", \"min_score\": 0.7, "
                      "\"min_test_size\": 2, \"disjoint\": false}");
  struct json_object *t = NULL;
  scores c;
  pc_gate_inputs in;
  pc_buf b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  set_scores(&c, 3, 0.77);
  in = inputs(&c, NULL);
  check(g, &in, &t);
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_gates_table_text(t, &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data,
    "gate           measured  threshold  result  detail\n"
    "min_test_size  3         2          PASS    3 examples scored on the "
    "test split, 3 distinct\n"
    "min_score      0.7700    0.7000     PASS    mean of 3 examples\n"
    "promote: yes (0 of 2 gates failed)\n");
  json_object_put(t);

  c.s.mean = 0.5;
  c.s.n = 1;
  check(g, &in, &t);
  pc_buf_reset(&b);
  CU_ASSERT_EQUAL(pc_gates_table_text(t, &b), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "min_score      0.5000    0.7000"
                                        "     FAIL"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "promote: no (2 of 2 gates "
                                        "failed)\n"));
  json_object_put(t);
  pc_buf_free(&b);
  pc_gates_free(g);
}

static void test_gates_json_round_trips(void)
{
  const char *text = "{" SCHEMA ", \"min_score\": 0.7, \"metric\": \"m\", "
                     "\"min_slice_score\": {\"b\": 0.5, \"*\": 0.25}, "
                     "\"critical_slices\": [\"b\", \"a\"], "
                     "\"require_key\": [\"11bb5d00d657b336\"], "
                     "\"require_model\": {\"lm\": \"x\"}, "
                     "\"min_test_size\": 9, \"disjoint\": false}";
  pc_gates *g = gates(text), *g2;
  struct json_object *j, *j2;
  char *s1, *s2;

  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  j = pc_gates_json(g);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  s1 = pc_json_to_string(j, PC_JSON_TEXT_COMPACT);
  PC_ASSERT_STR_EQ(s1, "{\"critical_regression\":0.0,\"critical_slices\":"
                   "[\"a\",\"b\"],\"disjoint\":false,\"metric\":\"m\","
                   "\"min_score\":0.7,\"min_slice_score\":{\"*\":0.25,"
                   "\"b\":0.5},\"min_test_size\":9,\"require_key\":"
                   "[\"11BB5D00D657B336\"],\"require_model\":{\"lm\":\"x\"},"
                   "\"schema\":\"promptc.gates/1\"}");
  g2 = gates(s1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g2);
  j2 = pc_gates_json(g2);
  s2 = pc_json_to_string(j2, PC_JSON_TEXT_COMPACT);
  PC_ASSERT_STR_EQ(s2, s1);
  pc_free(s1);
  pc_free(s2);
  json_object_put(j);
  json_object_put(j2);
  pc_gates_free(g);
  pc_gates_free(g2);
}

static void test_out_of_memory_is_reported_and_leaks_nothing(void)
{
  const char *text = "{" SCHEMA ", \"min_slice_score\": {\"b\": 0.5}, "
                     "\"critical_slices\": [\"b\", \"a\"], "
                     "\"require_key\": [\"11bb5d00d657b336\"], "
                     "\"require_model\": {\"lm\": \"x\"}, \"metric\": \"m\"}";
  static const char *const h[] = {"h"};
  struct json_object *o = NULL, *t = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_gates *g = NULL;
  unsigned long n;
  int rc = -1, passed;
  scores c;
  pc_gate_inputs in;

  CU_ASSERT_EQUAL_FATAL(pc_json_parse(text, strlen(text),
                                      PC_JSON_PARSE_STRICT, &o, &err), PC_OK);
  for (n = 1; n < 100 && rc != PC_OK; n++) {
    pc_error_clear(&err);
    pc__alloc_fail_at(n);
    rc = pc_gates_from_json(o, "g.json", &g, &err);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || (rc == PC_E_NOMEM && !g));
  }
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT(n > 2);  /* some allocations failed before it succeeded */
  set_scores(&c, 1, 0.5);
  add_slice(&c, "b", 1, 0.5);
  in = inputs(&c, NULL);
  in.test_hashes = h;
  in.n_test = 1;
  in.seen_hashes = h;
  in.n_seen = 1;
  in.key_id = "11BB5D00D657B336";
  rc = -1;
  for (n = 1; n < 100 && rc != PC_OK; n++) {
    pc_error_clear(&err);
    pc__alloc_fail_at(n);
    rc = pc_gates_check(g, &in, &t, &passed, &err);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || (rc == PC_E_NOMEM && !t));
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  json_object_put(t);
  json_object_put(o);
  pc_gates_free(g);
}

static CU_TestInfo gates_tests[] = {
  {"min_score: passes at the threshold, fails below",
   test_min_score_passes_at_threshold_and_fails_below},
  {"min_test_size: counts the scored examples",
   test_min_test_size_counts_scored_examples},
  {"min_slice_score: \"*\" applies to every slice, explicit wins",
   test_min_slice_score_star_applies_to_every_slice},
  {"a slice named in the gates but missing fails",
   test_slice_named_in_gates_but_missing_fails},
  {"regression gates pass with no current artifact",
   test_regression_without_current_artifact_passes},
  {"max_regression: allows the tolerance only",
   test_max_regression_allows_the_tolerance_only},
  {"max_slice_regression: checks each slice",
   test_max_slice_regression_checks_each_slice},
  {"a better average with a dropped critical slice is refused",
   test_better_average_but_dropped_critical_slice_is_refused},
  {"critical_regression sets the critical tolerance",
   test_critical_regression_sets_the_tolerance},
  {"a critical slice missing from the test data fails",
   test_critical_slice_missing_from_test_data_fails},
  {"a leaked test example is refused with its id",
   test_leaked_test_example_is_refused_with_its_id},
  {"disjoint: names three leaks among 20000 hashes",
   test_disjoint_names_three_leaks_among_many_hashes},
  {"disjoint: no recorded hashes fails unless turned off",
   test_disjoint_without_recorded_hashes_fails_unless_off},
  {"require_key: refuses other keys and unsigned artifacts",
   test_require_key_refuses_other_keys_and_unsigned},
  {"require_model: refuses a mismatch and a missing role",
   test_require_model_refuses_mismatch_and_missing_role},
  {"bad gates files are refused naming the member",
   test_bad_gates_files_are_refused_naming_the_member},
  {"load reads a file and names it in errors",
   test_load_reads_a_file_and_names_it_in_errors},
  {"rows come in the documented order",
   test_rows_come_in_the_documented_order},
  {"the text table is aligned and ends with the verdict",
   test_table_text_is_aligned_with_a_verdict},
  {"the gates as JSON round-trip", test_gates_json_round_trips},
  {"out of memory is reported and leaks nothing",
   test_out_of_memory_is_reported_and_leaks_nothing},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"gates", NULL, NULL, NULL, NULL, gates_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
