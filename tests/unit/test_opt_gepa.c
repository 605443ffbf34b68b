/*
 * tests/unit/test_opt_gepa.c: plugins/opt-gepa, suite "opt_gepa". The
 * pure parts (front, dominated-program removal, selection, batch sampler,
 * merge rules, fences, records, budget) are compiled in and driven
 * directly; the plugin is loaded from the build tree for its settings and
 * its estimate. Expected budgets are the reference's table (section 8.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gepa.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;
static const pc__opt_host *h;
static void *hstate;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s/plugins/opt-gepa/.libs/opt-gepa.so",
           dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  if (pc__opt_init(pc_host_api_get(), "test", &hstate, &err))
    return 1;
  h = hstate;
  return !opt;
}

static int suite_clean(void)
{
  pc__opt_fini(hstate);
  pc_plugin_close(plugin);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Budget.                                                                  */

static void test_auto_budget_matches_the_reference_table(void)
{
  /* 1, 2 and 3 components, light / medium / heavy, as a|V| + c. */
  static const int64_t want[3][3][2] = {
    {{4, 380}, {5, 690}, {7, 1035}},
    {{6, 730}, {7, 1040}, {8, 1245}},
    {{8, 1115}, {10, 1565}, {12, 1840}},
  };
  int64_t p, l, v;

  for (p = 1; p <= 3; p++)
    for (l = 1; l <= 3; l++)
      for (v = 10; v <= 100; v += 45)
        CU_ASSERT_EQUAL(pc__gepa_auto_budget(6 * l, p, v),
                        want[p - 1][l - 1][0] * v + want[p - 1][l - 1][1]);
  /* No predictor counts as one component. */
  CU_ASSERT_EQUAL(pc__gepa_auto_budget(6, 0, 20), 4 * 20 + 380);
}

/* ------------------------------------------------------------------------ */
/* The front.                                                               */

static void test_front_keeps_every_candidate_at_the_best_score(void)
{
  pc__gepa_front f;
  const double s0[3] = {1, 0, 0.5}, s1[3] = {0, 0, 1}, s2[3] = {1, 0, 0};

  CU_ASSERT_FATAL(pc__gepa_front_init(&f, h, 3) == PC_OK);
  CU_ASSERT_EQUAL(pc__gepa_front_add(&f, 0, s0), PC_OK);
  CU_ASSERT_EQUAL(pc__gepa_front_add(&f, 1, s1), PC_OK);
  CU_ASSERT_EQUAL(pc__gepa_front_add(&f, 2, s2), PC_OK);
  /* id 0: 0 and 2 tie at 1; id 1: everyone ties at 0; id 2: 1 beat 0. */
  CU_ASSERT_EQUAL(f.n_members[0], 2);
  CU_ASSERT(pc__gepa_front_has(&f, 0, 0) && pc__gepa_front_has(&f, 0, 2));
  CU_ASSERT_EQUAL(f.n_members[1], 3);
  CU_ASSERT_EQUAL(f.n_members[2], 1);
  CU_ASSERT(pc__gepa_front_has(&f, 2, 1));
  CU_ASSERT(!pc__gepa_front_has(&f, 2, 0));
  CU_ASSERT_DOUBLE_EQUAL(f.best[2], 1.0, 1e-12);
  pc__gepa_front_free(&f);
}

/* Candidates 0..3 on four ids: 0 is everywhere matched by 1 (dominated),
 * 1 and 2 each hold an id alone, 3 is on no front. */
static void build_dominance(pc__gepa_front *f, double *agg)
{
  const double s[4][4] = {
    {1, 0, 0, 0},
    {1, 1, 0, 0},
    {0, 0, 1, 0.5},
    {0, 0, 0, 0.2},
  };
  int64_t c;
  int v;

  CU_ASSERT_FATAL(pc__gepa_front_init(f, h, 4) == PC_OK);
  for (c = 0; c < 4; c++) {
    agg[c] = 0;
    for (v = 0; v < 4; v++)
      agg[c] += s[c][v] / 4;
    CU_ASSERT_FATAL(pc__gepa_front_add(f, c, s[c]) == PC_OK);
  }
}

static void test_dominated_programs_are_removed(void)
{
  pc__gepa_front f;
  double agg[4];
  unsigned char alive[4];
  int64_t counts[4];

  build_dominance(&f, agg);
  CU_ASSERT_EQUAL(pc__gepa_front_survivors(&f, agg, 4, alive), PC_OK);
  CU_ASSERT_EQUAL(alive[0], 0);
  CU_ASSERT_EQUAL(alive[1], 1);
  CU_ASSERT_EQUAL(alive[2], 1);
  CU_ASSERT_EQUAL(alive[3], 0);
  /* Counts after removal: 1 on ids 0 and 1, 2 on ids 2 and 3. */
  CU_ASSERT_EQUAL(pc__gepa_front_counts(&f, agg, 4, counts), 4);
  CU_ASSERT_EQUAL(counts[0], 0);
  CU_ASSERT_EQUAL(counts[1], 2);
  CU_ASSERT_EQUAL(counts[2], 2);
  CU_ASSERT_EQUAL(counts[3], 0);
  pc__gepa_front_free(&f);
}

static void test_identical_candidates_leave_one_survivor(void)
{
  pc__gepa_front f;
  const double s[2] = {1, 0};
  double agg[2] = {0.5, 0.5};
  unsigned char alive[2];

  CU_ASSERT_FATAL(pc__gepa_front_init(&f, h, 2) == PC_OK);
  CU_ASSERT_FATAL(pc__gepa_front_add(&f, 0, s) == PC_OK);
  CU_ASSERT_FATAL(pc__gepa_front_add(&f, 1, s) == PC_OK);
  CU_ASSERT_EQUAL(pc__gepa_front_survivors(&f, agg, 2, alive), PC_OK);
  /* The lower index is visited first and removed; the other stays. */
  CU_ASSERT_EQUAL(alive[0], 0);
  CU_ASSERT_EQUAL(alive[1], 1);
  pc__gepa_front_free(&f);
}

static void test_pareto_selection_follows_the_counts(void)
{
  pc__gepa_front f;
  double agg[4];
  int hits[4] = {0, 0, 0, 0};
  int64_t pick;
  uint64_t k;

  build_dominance(&f, agg);
  for (k = 0; k < 2000; k++) {
    pc__opt_rng rng;

    pc__opt_rng_init(&rng, h, 0, "gepa-select", k);
    pc__gepa_select_pareto(&f, agg, 4, &rng, &pick);
    CU_ASSERT_FATAL(pick >= 0 && pick < 4);
    hits[pick]++;
  }
  /* Only survivors are drawn, each about half the time (2 of 4). */
  CU_ASSERT_EQUAL(hits[0], 0);
  CU_ASSERT_EQUAL(hits[3], 0);
  CU_ASSERT(hits[1] > 850 && hits[1] < 1150);
  CU_ASSERT(hits[2] > 850 && hits[2] < 1150);
  CU_ASSERT_EQUAL(pc__gepa_select_best(agg, 4), 1);
  pc__gepa_front_free(&f);
}

static void test_current_best_takes_the_first_of_equal_scores(void)
{
  const double agg[4] = {0.2, 0.7, 0.7, 0.1};

  CU_ASSERT_EQUAL(pc__gepa_select_best(agg, 4), 1);
}

/* ------------------------------------------------------------------------ */
/* Batch sampler.                                                           */

static void test_sampler_covers_each_epoch_and_pads(void)
{
  pc__gepa_sampler s;
  int64_t batch[3], seen[10], it, k;
  int64_t first[12];

  CU_ASSERT_FATAL(pc__gepa_sampler_init(&s, h, 0, 10, 3) == PC_OK);
  memset(seen, 0, sizeof(seen));
  /* 10 ids padded to 12: four batches per epoch. */
  for (it = 0; it < 4; it++) {
    CU_ASSERT_EQUAL(pc__gepa_sampler_next(&s, it, batch), PC_OK);
    for (k = 0; k < 3; k++) {
      CU_ASSERT_FATAL(batch[k] >= 0 && batch[k] < 10);
      seen[batch[k]]++;
      first[3 * it + k] = batch[k];
    }
  }
  CU_ASSERT_EQUAL(s.n_order, 12);
  for (k = 0; k < 10; k++)
    CU_ASSERT(seen[k] >= 1 && seen[k] <= 2);
  /* The next epoch reshuffles: a different order, every id again. */
  memset(seen, 0, sizeof(seen));
  for (it = 4; it < 8; it++) {
    CU_ASSERT_EQUAL(pc__gepa_sampler_next(&s, it, batch), PC_OK);
    for (k = 0; k < 3; k++)
      seen[batch[k]]++;
  }
  CU_ASSERT_EQUAL(s.epoch, 1);
  for (k = 0; k < 10; k++)
    CU_ASSERT(seen[k] >= 1);
  pc__gepa_sampler_free(&s);
  /* The same seed gives the same batches. */
  CU_ASSERT_FATAL(pc__gepa_sampler_init(&s, h, 0, 10, 3) == PC_OK);
  for (it = 0; it < 4; it++) {
    CU_ASSERT_EQUAL(pc__gepa_sampler_next(&s, it, batch), PC_OK);
    for (k = 0; k < 3; k++)
      CU_ASSERT_EQUAL(batch[k], first[3 * it + k]);
  }
  pc__gepa_sampler_free(&s);
}

static void test_sampler_pads_a_train_set_smaller_than_a_batch(void)
{
  pc__gepa_sampler s;
  int64_t batch[5], k, seen[2] = {0, 0};

  CU_ASSERT_FATAL(pc__gepa_sampler_init(&s, h, 3, 2, 5) == PC_OK);
  CU_ASSERT_EQUAL(pc__gepa_sampler_next(&s, 0, batch), PC_OK);
  for (k = 0; k < 5; k++) {
    CU_ASSERT_FATAL(batch[k] == 0 || batch[k] == 1);
    seen[batch[k]]++;
  }
  /* Least placed first: the two ids alternate, 3 and 2 times. */
  CU_ASSERT(seen[0] + seen[1] == 5 && seen[0] >= 2 && seen[1] >= 2);
  pc__gepa_sampler_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Merge.                                                                   */

/* Candidates over two components:
 *   0 seed (A0, B0); 1 = 0 with A1; 2 = 0 with B1; 3 = 1 with A2. */
static char t_a0[] = "A0", t_a1[] = "A1", t_a2[] = "A2";
static char t_b0[] = "B0", t_b1[] = "B1";
static char *texts[4][2] = {
  {t_a0, t_b0}, {t_a1, t_b0}, {t_a0, t_b1}, {t_a2, t_b0},
};

static void make_lineage(pc__gepa_cand *c)
{
  const double agg[4] = {0.4, 0.5, 0.6, 0.55};
  int k;

  memset(c, 0, 4 * sizeof(*c));
  for (k = 0; k < 4; k++) {
    c[k].texts = texts[k];
    c[k].agg = agg[k];
  }
  c[1].n_parents = c[2].n_parents = c[3].n_parents = 1;
  c[1].parents[0] = 0;
  c[2].parents[0] = 0;
  c[3].parents[0] = 1;
}

static void test_ancestors_are_transitive(void)
{
  pc__gepa_cand c[4];
  unsigned char anc[4];

  make_lineage(c);
  pc__gepa_ancestors(c, 4, 3, anc);
  CU_ASSERT(anc[0] && anc[1] && !anc[2] && !anc[3]);
  pc__gepa_ancestors(c, 4, 0, anc);
  CU_ASSERT(!anc[0] && !anc[1] && !anc[2] && !anc[3]);
}

static void test_merge_child_takes_each_changed_component(void)
{
  pc__gepa_cand c[4];
  int64_t src[2];
  pc__opt_rng rng;

  make_lineage(c);
  pc__opt_rng_init(&rng, h, 0, "test", 0);
  /* 2 changed B, 3 changed A (via 1): the child has A2 and B1. */
  pc__gepa_merge_sources(c, 2, 2, 3, 0, &rng, src);
  CU_ASSERT_EQUAL(src[0], 3);
  CU_ASSERT_EQUAL(src[1], 2);
  /* Both changed A (1 and 3 from ancestor 0): the better one's, 3. */
  pc__gepa_merge_sources(c, 2, 1, 3, 0, &rng, src);
  CU_ASSERT_EQUAL(src[0], 3);
  /* B is the same in 1 and 3: theirs. */
  CU_ASSERT_EQUAL(src[1], 1);
}

static void test_merge_finds_a_pair_once_and_never_an_ancestor(void)
{
  pc__gepa_cand c[4];
  pc__gepa_merge_log m;
  unsigned char alive[4] = {0, 1, 1, 0};
  int64_t i, j, a, src[2];
  pc__opt_rng rng;
  int found = 0;

  make_lineage(c);
  pc__gepa_merge_log_init(&m, h, 2);
  pc__opt_rng_init(&rng, h, 0, "gepa-merge", 0);
  CU_ASSERT_EQUAL(pc__gepa_merge_find(&m, c, 4, alive, &rng, &found, &i, &j,
                                      &a, src), PC_OK);
  CU_ASSERT_FATAL(found);
  CU_ASSERT(i == 1 && j == 2 && a == 0);
  CU_ASSERT(src[0] == 1 && src[1] == 2);
  /* The same pair and child are never tried again. */
  CU_ASSERT_EQUAL(pc__gepa_merge_find(&m, c, 4, alive, &rng, &found, &i, &j,
                                      &a, src), PC_OK);
  CU_ASSERT(!found);
  pc__gepa_merge_log_free(&m);
  /* 1 is an ancestor of 3: no merge between them. */
  pc__gepa_merge_log_init(&m, h, 2);
  alive[1] = 1;
  alive[2] = 0;
  alive[3] = 1;
  CU_ASSERT_EQUAL(pc__gepa_merge_find(&m, c, 4, alive, &rng, &found, &i, &j,
                                      &a, src), PC_OK);
  CU_ASSERT(!found);
  pc__gepa_merge_log_free(&m);
}

static void test_merge_needs_an_ancestor_no_better_than_the_pair(void)
{
  pc__gepa_cand c[4];
  pc__gepa_merge_log m;
  unsigned char alive[4] = {0, 1, 1, 0};
  int64_t i, j, a, src[2];
  pc__opt_rng rng;
  int found = 1;

  make_lineage(c);
  c[0].agg = 0.9;  /* the ancestor beats both */
  pc__gepa_merge_log_init(&m, h, 2);
  pc__opt_rng_init(&rng, h, 0, "gepa-merge", 1);
  CU_ASSERT_EQUAL(pc__gepa_merge_find(&m, c, 4, alive, &rng, &found, &i, &j,
                                      &a, src), PC_OK);
  CU_ASSERT(!found);
  pc__gepa_merge_log_free(&m);
}

static void test_merge_subsample_is_stratified(void)
{
  /* Parent 1 wins on ids 0-2, parent 2 on 3-4, ties on 5-9. */
  const double s1[10] = {1, 1, 1, 0, 0, 1, 1, 0, 0, 0};
  const double s2[10] = {0, 0, 0, 1, 1, 1, 1, 0, 0, 0};
  int64_t out[5], k;
  int groups[3] = {0, 0, 0};
  uint64_t seed;

  for (seed = 0; seed < 20; seed++) {
    pc__opt_rng rng;
    int seen[10] = {0};

    pc__opt_rng_init(&rng, h, seed, "gepa-merge", 0);
    CU_ASSERT_EQUAL(pc__gepa_merge_subsample(h, s1, s2, 10, 5, &rng, out),
                    PC_OK);
    memset(groups, 0, sizeof(groups));
    for (k = 0; k < 5; k++) {
      CU_ASSERT_FATAL(out[k] >= 0 && out[k] < 10);
      seen[out[k]]++;
      groups[out[k] < 3 ? 0 : out[k] < 5 ? 1 : 2]++;
    }
    /* ceil(5/3) = 2 from each group, the last one filled with 1. */
    CU_ASSERT_EQUAL(groups[0], 2);
    CU_ASSERT_EQUAL(groups[1], 2);
    CU_ASSERT_EQUAL(groups[2], 1);
    for (k = 0; k < 10; k++)
      CU_ASSERT(seen[k] <= 1);
  }
  {
    /* Fewer ids than asked: drawn with replacement, all in range. */
    pc__opt_rng rng;

    pc__opt_rng_init(&rng, h, 0, "gepa-merge", 0);
    CU_ASSERT_EQUAL(pc__gepa_merge_subsample(h, s1, s2, 3, 5, &rng, out),
                    PC_OK);
    for (k = 0; k < 5; k++)
      CU_ASSERT(out[k] >= 0 && out[k] < 3);
  }
}

/* ------------------------------------------------------------------------ */
/* Reflection texts.                                                        */

static void check_fence(const char *in, const char *want)
{
  size_t a, b;
  char got[256];

  pc__gepa_fence_span(in, strlen(in), &a, &b);
  CU_ASSERT_FATAL(b >= a && b - a < sizeof(got));
  memcpy(got, in + a, b - a);
  got[b - a] = '\0';
  PC_ASSERT_STR_EQ(got, want);
}

static void test_fence_extraction_follows_gepa(void)
{
  check_fence("Here:\n```\nDo the task.\n```\nThanks", "Do the task.");
  check_fence("```markdown\nUse the policy.\n```", "Use the policy.");
  check_fence("```Use the policy first\nthen rate.```",
              "Use the policy first\nthen rate.");
  check_fence("a ``` b ``` c ``` d", "b ``` c");
  check_fence("```text\nunfinished", "unfinished");
  check_fence("  no opening\n```  ", "no opening");
  check_fence("  plain text  ", "plain text");
  check_fence("``````", "");
}

static pc_json *parse(const char *text)
{
  pc_json *v = NULL;

  CU_ASSERT_FATAL(pc__opt_json_parse(h, "test", text, strlen(text), &v,
                                     NULL) == PC_OK);
  return v;
}

static void test_records_render_as_gepa_markdown(void)
{
  pc_json *recs = parse(
    "[{\"Inputs\": {\"ticket\": \"  refund  \", \"n\": 2},"
    "  \"Generated Outputs\": {\"queue\": \"billing\"},"
    "  \"Feedback\": \"right\"},"
    " {\"Inputs\": {\"list\": [\"x\", {\"k\": true}]},"
    "  \"Generated Outputs\": \"Couldn't parse\", \"Feedback\": \"no\"}]");
  char *md = NULL;

  CU_ASSERT_EQUAL(pc__gepa_render_records(h, recs, &md, NULL), PC_OK);
  PC_ASSERT_STR_EQ(md,
    "# Example 1\n## Inputs\n### ticket\nrefund\n\n### n\n2\n\n"
    "## Generated Outputs\n### queue\nbilling\n\n## Feedback\nright\n\n"
    "\n\n"
    "# Example 2\n## Inputs\n### list\n#### Item 1\nx\n\n#### Item 2\n"
    "##### k\nTrue\n\n## Generated Outputs\nCouldn't parse\n\n"
    "## Feedback\nno\n\n");
  pc__opt_free(h, md);
  h->js->free(h->host->ctx, recs);
}

static void test_generic_feedback_names_the_gold_outputs(void)
{
  pc_json *fields = parse("{\"ticket\": \"t\", \"queue\": \"billing\", "
                          "\"urgency\": 4, \"difficulty\": \"easy\"}");
  pc_json *outs = parse("[\"queue\", \"urgency\"]");
  pc_json *none = parse("[\"answer\"]");
  pc_json *keys = parse("[\"ticket\"]");
  char *fb = NULL;

  CU_ASSERT_EQUAL(pc__gepa_generic_feedback(h, 0.0, fields, outs, keys,
                                            &fb, NULL), PC_OK);
  PC_ASSERT_STR_EQ(fb, "This trajectory got a score of 0.0. The expected "
                   "output was: queue: billing, urgency: 4.");
  pc__opt_free(h, fb);
  /* No field is a predictor output: every label is shown. */
  CU_ASSERT_EQUAL(pc__gepa_generic_feedback(h, 0.5, fields, none, keys,
                                            &fb, NULL), PC_OK);
  PC_ASSERT_STR_EQ(fb, "This trajectory got a score of 0.5. The expected "
                   "output was: queue: billing, urgency: 4, "
                   "difficulty: easy.");
  pc__opt_free(h, fb);
  h->js->free(h->host->ctx, fields);
  h->js->free(h->host->ctx, outs);
  h->js->free(h->host->ctx, none);
  h->js->free(h->host->ctx, keys);
}

static void test_records_take_the_predictor_calls_and_feedback(void)
{
  pc_json *answer = parse(
    "{\"results\": ["
    " {\"index\": 0, \"score\": 0.0, \"feedback\": null, \"error\": null,"
    "  \"trace\": [{\"predictor\": \"classify\", \"inputs\": {\"ticket\":"
    "  \"a\"}, \"outputs\": {\"queue\": \"other\"}}]},"
    " {\"index\": 1, \"score\": 1.0, \"feedback\": \"matches\","
    "  \"error\": null, \"trace\": [{\"predictor\": \"other\","
    "  \"inputs\": {}, \"outputs\": {}}]},"
    " {\"index\": 1, \"score\": 0.0, \"error\": \"classify: no parse\","
    "  \"error_kind\": \"parse\", \"trace\": []},"
    " {\"index\": 0, \"score\": 1.0, \"feedback\": \"matches\","
    "  \"error\": null, \"trace\": [{\"predictor\": \"classify\","
    "  \"inputs\": {\"ticket\": \"a\"}, \"outputs\": {\"queue\": 3}}]}]}");
  pc_json *examples = parse(
    "[{\"id\": \"e0\", \"fields\": {\"ticket\": \"a\", \"queue\": \"billing\"}},"
    " {\"id\": \"e1\", \"fields\": {\"ticket\": \"b\", \"queue\": \"other\"}}]");
  pc_json *sig = parse("{\"inputs\": [{\"name\": \"ticket\"}], \"outputs\": "
                       "[{\"name\": \"queue\"}]}");
  pc_json *outs = parse("[\"queue\"]"), *keys = parse("[\"ticket\"]");
  pc_json *recs = NULL;
  pc__gepa_reflect_in in;
  pc__opt_rng rng;
  char *text = NULL;

  pc__opt_rng_init(&rng, h, 0, "gepa-trace", 0);
  memset(&in, 0, sizeof(in));
  in.path = "classify";
  in.signature = sig;
  in.answer = answer;
  in.examples = examples;
  in.outputs = outs;
  in.input_keys = keys;
  in.rng = &rng;
  CU_ASSERT_EQUAL_FATAL(pc__gepa_records(h, &in, &recs, NULL), PC_OK);
  /* Rows 0 and 3 ran classify; row 1 did not; the parse failure is
   * dropped. */
  CU_ASSERT_EQUAL(h->js->array_len(recs), 2);
  CU_ASSERT_EQUAL(pc__opt_json_text(h, recs, &text, &(size_t){0}, NULL),
                  PC_OK);
  PC_ASSERT_STR_EQ(text,
    "[{\"Inputs\":{\"ticket\":\"a\"},\"Generated Outputs\":{\"queue\":"
    "\"other\"},\"Feedback\":\"This trajectory got a score of 0.0. The "
    "expected output was: queue: billing.\"},{\"Inputs\":{\"ticket\":\"a\"},"
    "\"Generated Outputs\":{\"queue\":\"3\"},\"Feedback\":\"matches\"}]");
  pc__opt_free(h, text);
  h->js->free(h->host->ctx, recs);
  /* With add_format_failure_as_feedback the parse failure is a record. */
  in.add_format_failures = 1;
  CU_ASSERT_EQUAL_FATAL(pc__gepa_records(h, &in, &recs, NULL), PC_OK);
  CU_ASSERT_EQUAL(h->js->array_len(recs), 3);
  CU_ASSERT(strstr(pc__opt_json_str(h, h->js->array_get(recs, 1),
                                    "Feedback"),
                   "[[ ## queue ## ]]") != NULL);
  h->js->free(h->host->ctx, recs);
  h->js->free(h->host->ctx, answer);
  h->js->free(h->host->ctx, examples);
  h->js->free(h->host->ctx, sig);
  h->js->free(h->host->ctx, outs);
  h->js->free(h->host->ctx, keys);
}

/* ------------------------------------------------------------------------ */
/* The plugin: settings and estimate.                                       */

static int sink_write(void *ctx, const char *text, size_t len)
{
  char *buf = ctx;
  size_t used = strlen(buf);

  if (used + len >= 2048)
    return 1;
  memcpy(buf + used, text, len);
  buf[used + len] = '\0';
  return 0;
}

/* create() with `settings`: its code, and its message in msg. */
static int try_create(const char *settings, char *msg, size_t cap)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc = opt->create(plugin->state, settings, strlen(settings),
                       &inst, &err);

  snprintf(msg, cap, "%s", err.message);
  opt->destroy(inst);
  return rc;
}

static void test_settings_need_exactly_one_budget(void)
{
  char msg[256];

  CU_ASSERT_EQUAL(try_create("{}", msg, sizeof(msg)), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(msg, "gepa: exactly one of auto, max_full_evals and "
                   "max_metric_calls must be set (got none)");
  CU_ASSERT_EQUAL(try_create("{\"auto\": \"light\", \"max_metric_calls\": "
                             "10}", msg, sizeof(msg)), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(msg, "gepa: exactly one of auto, max_full_evals and "
                   "max_metric_calls must be set (got auto and "
                   "max_metric_calls)");
  CU_ASSERT_EQUAL(try_create("{\"auto\": \"huge\"}", msg, sizeof(msg)),
                  PC_E_INVALID_ARG);
  CU_ASSERT(strstr(msg, "gepa: auto: expected") == msg);
  CU_ASSERT_EQUAL(try_create("{\"max_full_evals\": 2, "
                             "\"candidate_selection_strategy\": \"best\"}",
                             msg, sizeof(msg)), PC_E_INVALID_ARG);
  CU_ASSERT(strstr(msg, "candidate_selection_strategy") != NULL);
  CU_ASSERT_EQUAL(try_create("{\"max_metric_calls\": 0}", msg, sizeof(msg)),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(try_create("{\"auto\": \"heavy\", \"reflection_lm\": 1}",
                             msg, sizeof(msg)), PC_E_INVALID_ARG);
  CU_ASSERT(strstr(msg, "gepa: reflection_lm: unknown setting") == msg);
  CU_ASSERT_EQUAL(try_create("{\"auto\": \"medium\", \"component_selector\":"
                             " \"all\", \"use_merge\": false}", msg,
                             sizeof(msg)), PC_OK);
}

static void test_settings_report_every_default(void)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  char buf[2048] = "";
  pc_text_sink out = {PC_ABI_HEADER_INIT(pc_text_sink), buf, sink_write};
  const char *s = "{\"max_metric_calls\": 60}";

  CU_ASSERT_FATAL(opt->create(plugin->state, s, strlen(s), &inst,
                              &err) == PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &out, &err), PC_OK);
  PC_ASSERT_STR_EQ(buf,
    "{\"auto\":null,\"max_full_evals\":null,\"max_metric_calls\":60,"
    "\"reflection_minibatch_size\":3,\"candidate_selection_strategy\":"
    "\"pareto\",\"skip_perfect_score\":true,"
    "\"add_format_failure_as_feedback\":false,\"component_selector\":"
    "\"round_robin\",\"use_merge\":true,\"max_merge_invocations\":5,"
    "\"failure_score\":0.0,\"perfect_score\":1.0,\"track_stats\":false,"
    "\"seed\":0}");
  opt->destroy(inst);
}

/* estimate() for `settings` and the info object: its text. */
static void estimate(const char *settings, const char *info, char *buf)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_text_sink out = {PC_ABI_HEADER_INIT(pc_text_sink), buf, sink_write};

  buf[0] = '\0';
  CU_ASSERT_FATAL(opt->create(plugin->state, settings,
                              strlen(settings), &inst, &err) == PC_OK);
  CU_ASSERT_EQUAL(opt->estimate(inst, info, strlen(info), &out, &err),
                  PC_OK);
  opt->destroy(inst);
}

static void test_estimate_is_the_budget(void)
{
  const char *info = "{\"train\": 30, \"val\": 20, \"predictors\": 1, "
                     "\"calls_per_run\": 2}";
  char buf[2048];

  /* light, 1 component: 4 x 20 + 380 = 460 metric calls, 920 LM calls;
   * at most (460 - 40) / 6 = 70 reflective proposals. */
  estimate("{\"auto\": \"light\"}", info, buf);
  PC_ASSERT_STR_EQ(buf, "{\"lm_calls\": 920, \"metric_calls\": 460, "
                   "\"proposal_calls\": 70}");
  /* max_full_evals 3: 3 x (30 + 20) = 150. */
  estimate("{\"max_full_evals\": 3}", info, buf);
  PC_ASSERT_STR_EQ(buf, "{\"lm_calls\": 300, \"metric_calls\": 150, "
                   "\"proposal_calls\": 18}");
  /* A budget below two val evaluations leaves room for no proposal. */
  estimate("{\"max_metric_calls\": 35}", info, buf);
  PC_ASSERT_STR_EQ(buf, "{\"lm_calls\": 70, \"metric_calls\": 35, "
                   "\"proposal_calls\": 0}");
}

int main(void)
{
  CU_TestInfo tests[] = {
    {"auto budget matches the reference table",
     test_auto_budget_matches_the_reference_table},
    {"front keeps every candidate at the best score",
     test_front_keeps_every_candidate_at_the_best_score},
    {"dominated programs are removed", test_dominated_programs_are_removed},
    {"identical candidates leave one survivor",
     test_identical_candidates_leave_one_survivor},
    {"pareto selection follows the counts",
     test_pareto_selection_follows_the_counts},
    {"current_best takes the first of equal scores",
     test_current_best_takes_the_first_of_equal_scores},
    {"sampler covers each epoch and pads",
     test_sampler_covers_each_epoch_and_pads},
    {"sampler pads a train set smaller than a batch",
     test_sampler_pads_a_train_set_smaller_than_a_batch},
    {"ancestors are transitive", test_ancestors_are_transitive},
    {"merge child takes each changed component",
     test_merge_child_takes_each_changed_component},
    {"merge finds a pair once and never an ancestor",
     test_merge_finds_a_pair_once_and_never_an_ancestor},
    {"merge needs an ancestor no better than the pair",
     test_merge_needs_an_ancestor_no_better_than_the_pair},
    {"merge subsample is stratified", test_merge_subsample_is_stratified},
    {"fence extraction follows gepa", test_fence_extraction_follows_gepa},
    {"records render as gepa markdown",
     test_records_render_as_gepa_markdown},
    {"generic feedback names the gold outputs",
     test_generic_feedback_names_the_gold_outputs},
    {"records take the predictor calls and feedback",
     test_records_take_the_predictor_calls_and_feedback},
    {"settings need exactly one budget",
     test_settings_need_exactly_one_budget},
    {"settings report every default", test_settings_report_every_default},
    {"estimate is the budget", test_estimate_is_the_budget},
    CU_TEST_INFO_NULL,
  };
  CU_SuiteInfo suites[] = {
    {"opt_gepa", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
  };

  return pc_test_run(suites);
}
