/* tests/unit/test_metric_passage.c: metric-basic's passage_recall and
 * passage_hit (plugins/metric-basic/metric_passage.c) loaded through the
 * core loader; suite "metric_passage". */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "host.h"
#include "loader.h"

#define RECALL 0
#define HIT 1

static pc_registry *reg;
static pc_plugin *plugin;
static const pc_metric_iface *ifaces[2];

static int suite_init(void)
{
  pc_error err = PC_ERROR_INIT;
  uint32_t i;

  reg = pc_registry_new();
  if (!reg || pc_registry_load_default(reg, NULL, &err))
    return 1;
  plugin = pc_registry_find(reg, "org.promptc.metric.basic");
  if (!plugin)
    return 1;
  /* Find the two tables by name, wherever they sit in the plugin. */
  for (i = 0; i < 64; i++) {
    const pc_metric_iface *mi = pc_plugin_interface_at(
      plugin, PC_IFACE_METRIC, i, (uint32_t)sizeof(pc_metric_iface), NULL);

    if (!mi)
      break;
    if (!strcmp(mi->name, "passage_recall"))
      ifaces[RECALL] = mi;
    else if (!strcmp(mi->name, "passage_hit"))
      ifaces[HIT] = mi;
  }
  return ifaces[RECALL] && ifaces[HIT] ? 0 : 1;
}

static int suite_clean(void)
{
  pc_registry_free(reg);
  return 0;
}

typedef struct result {
  int n_scores;
  double score;
  char feedback[1024];
} result;

static int on_score(void *ctx, double score)
{
  result *r = ctx;

  r->n_scores++;
  r->score = score;
  return PC_OK;
}

static int on_feedback(void *ctx, const char *text, size_t len)
{
  result *r = ctx;
  size_t n = len < sizeof(r->feedback) - 1 ? len : sizeof(r->feedback) - 1;

  memcpy(r->feedback, text, n);
  r->feedback[n] = '\0';
  return PC_OK;
}

/* Create metric `m` with `config` (NULL: none), score once, destroy. */
static int run(int m, const char *config, const char *example,
               const char *prediction, result *r, pc_error *err)
{
  const pc_metric_iface *mi = ifaces[m];
  pc_metric_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
    .ctx = r, .score = on_score, .feedback = on_feedback,
  };
  void *inst = NULL;
  int rc;

  memset(r, 0, sizeof(*r));
  rc = mi->create(plugin->state, config, config ? strlen(config) : 0, &inst,
                  err);
  if (rc)
    return rc;
  rc = mi->score(inst, example, strlen(example), prediction,
                 strlen(prediction), NULL, 0, &sink, err);
  mi->destroy(inst);
  CU_ASSERT_EQUAL(r->n_scores, rc == PC_OK ? 1 : 0);
  return rc;
}

static const char example2[] =
  "{\"question\": \"q\", \"gold_titles\": [\"Velora Dynamics\", "
  "\"Mira Castell\"]}";

static void test_recall_is_the_fraction_of_gold_titles_found(void)
{
  result r;

  CU_ASSERT_EQUAL(run(RECALL, NULL, example2, "{\"passages\": "
                      "[\"Velora Dynamics | Founded by Mira Castell.\", "
                      "\"Other | Mira Castell | not a title\"]}", &r, NULL),
                  PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 0.5, 1e-12);
  PC_ASSERT_STR_EQ(r.feedback, "passage_recall on `passages`: 1 of 2 gold "
                   "titles retrieved; missing 'Mira Castell'.");
  CU_ASSERT_EQUAL(run(RECALL, NULL, example2, "{\"passages\": "
                      "[\"mira castell | Born in Tarsova.\", "
                      "\" Velora Dynamics  | Founded.\"]}", &r, NULL),
                  PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0, 1e-12);
  PC_ASSERT_STR_EQ(r.feedback, "passage_recall on `passages`: all 2 gold "
                   "titles retrieved.");
  CU_ASSERT_EQUAL(run(RECALL, NULL, example2, "{\"passages\": []}", &r,
                      NULL), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
  PC_ASSERT_STR_EQ(r.feedback, "passage_recall on `passages`: 0 of 2 gold "
                   "titles retrieved; missing 'Velora Dynamics', "
                   "'Mira Castell'.");
}

static void test_hit_needs_any_gold_title(void)
{
  result r;

  CU_ASSERT_EQUAL(run(HIT, NULL, example2, "{\"passages\": "
                      "[\"Mira Castell | Born in Tarsova.\"]}", &r, NULL),
                  PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0, 1e-12);
  CU_ASSERT_EQUAL(run(HIT, NULL, example2, "{\"passages\": "
                      "[\"Tarsova | A port.\"]}", &r, NULL), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
}

static void test_settings_name_other_fields(void)
{
  result r;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(run(RECALL, "{\"field\": \"context\", \"gold\": "
                      "\"titles\"}", "{\"titles\": \"A\"}",
                      "{\"context\": [\"A | a\"], \"passages\": []}", &r,
                      NULL), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0, 1e-12);
  CU_ASSERT_EQUAL(run(RECALL, NULL, example2, "{\"answer\": \"x\"}", &r,
                      NULL), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.feedback, "has no passages"));
  CU_ASSERT_EQUAL(run(RECALL, "{\"fields\": \"x\"}", example2, "{}", &r,
                      &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "metric passage_recall: config: unknown "
                   "key 'fields'");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(run(HIT, NULL, "{\"gold_titles\": []}", "{}", &r, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "metric passage_hit: example field "
                   "'gold_titles': expected a title or a non-empty list of "
                   "titles");
}

/* What the refusing sinks answer, and how often feedback was called. */
static int score_answer, feedback_answer, feedback_calls;

static int refusing_score(void *ctx, double score)
{
  (void)ctx;
  (void)score;
  return score_answer;
}

static int refusing_feedback(void *ctx, const char *text, size_t len)
{
  (void)ctx;
  (void)text;
  (void)len;
  feedback_calls++;
  return feedback_answer;
}

/* Score example2 against one found title with `sink` (NULL: none). */
static int score_with(const pc_metric_sink *sink, pc_error *err)
{
  const pc_metric_iface *mi = ifaces[RECALL];
  void *inst = NULL;
  int rc;

  pc_error_clear(err);
  feedback_calls = 0;
  rc = mi->create(plugin->state, NULL, 0, &inst, err);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  rc = mi->score(inst, example2, strlen(example2),
                 "{\"passages\": [\"Mira Castell | m\"]}",
                 strlen("{\"passages\": [\"Mira Castell | m\"]}"), NULL, 0,
                 sink, err);
  mi->destroy(inst);
  return rc;
}

static void test_sinks_are_checked_and_their_codes_kept(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_metric_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
    .ctx = NULL, .score = refusing_score, .feedback = refusing_feedback,
  };

  /* No sink, or one too old to hold `score`. */
  CU_ASSERT_EQUAL(score_with(NULL, &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "metric passage_recall: score: no score "
                   "sink");
  sink.hdr.struct_size = (uint32_t)offsetof(pc_metric_sink, score);
  CU_ASSERT_EQUAL(score_with(&sink, &err), PC_E_INVALID_ARG);
  /* One without `feedback` is never asked for it. */
  sink.hdr.struct_size = (uint32_t)offsetof(pc_metric_sink, feedback);
  score_answer = PC_OK;
  feedback_answer = PC_E_INTERNAL;
  CU_ASSERT_EQUAL(score_with(&sink, &err), PC_OK);
  CU_ASSERT_EQUAL(feedback_calls, 0);
  CU_ASSERT_EQUAL(err.code, PC_OK);
  /* A refusal keeps the sink's code; a code that is none is INTERNAL. */
  sink.hdr.struct_size = (uint32_t)sizeof(sink);
  score_answer = PC_E_CANCELLED;
  CU_ASSERT_EQUAL(score_with(&sink, &err), PC_E_CANCELLED);
  PC_ASSERT_STR_EQ(err.message, "metric passage_recall: the score sink "
                   "failed");
  CU_ASSERT_EQUAL(feedback_calls, 0);
  score_answer = -7;
  CU_ASSERT_EQUAL(score_with(&sink, &err), PC_E_INTERNAL);
  score_answer = PC_OK;
  feedback_answer = PC_E_NOMEM;
  CU_ASSERT_EQUAL(score_with(&sink, &err), PC_E_NOMEM);
  CU_ASSERT_EQUAL(feedback_calls, 1);
  PC_ASSERT_STR_EQ(err.message, "metric passage_recall: the feedback sink "
                   "failed");
  pc_error_clear(&err);
}

static CU_TestInfo metric_passage_tests[] = {
  {"recall is the fraction of gold titles found",
   test_recall_is_the_fraction_of_gold_titles_found},
  {"hit needs any gold title", test_hit_needs_any_gold_title},
  {"settings name other fields", test_settings_name_other_fields},
  {"sinks are checked and their codes kept",
   test_sinks_are_checked_and_their_codes_kept},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"metric_passage", suite_init, suite_clean, NULL, NULL,
   metric_passage_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
