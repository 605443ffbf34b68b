/*
 * tests/unit/test_opt_knn.c: plugins/opt-knn, suite "opt_knn". The plugin
 * is loaded from the build tree and driven through a scripted compile API
 * whose teacher results are fixed, so each test knows which train example
 * succeeded and checks the pools the plugin builds from them, and that the
 * core (core/knn.c) accepts the state it writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "host.h"
#include "json_text.h"
#include "knn.h"
#include "loader.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;
static const pc_host_api *host;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s/plugins/opt-knn/.libs/opt-knn.so",
           dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  host = pc_host_api_get();
  return !opt;
}

static int suite_clean(void)
{
  pc_plugin_close(plugin);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* A scripted compile API.                                                  */

/* Two predictors: "a" (q -> x) and "b" (x -> y), five train examples. */
static const char program_json[] =
  "{\"name\": \"p\", \"inputs\": [\"q\"], \"calls_per_run\": 2,"
  " \"predictors\": ["
  "  {\"path\": \"a\", \"module\": \"predict\", \"instructions\": \"\","
  "   \"demos\": [], \"signature\": {\"instructions\": \"\","
  "   \"inputs\": [{\"name\": \"q\"}], \"outputs\": [{\"name\": \"x\"}]}},"
  "  {\"path\": \"b\", \"module\": \"predict\", \"instructions\": \"\","
  "   \"demos\": [], \"signature\": {\"instructions\": \"\","
  "   \"inputs\": [{\"name\": \"x\"}], \"outputs\": [{\"name\": \"y\"}]}}]}";

static const char train_json[] =
  "{\"name\": \"train\", \"input_keys\": [\"q\"], \"examples\": ["
  " {\"id\": \"e0\", \"slice\": null, \"fields\": {\"q\": \"q0\", \"x\": "
  "\"x0\", \"y\": \"y0\"}},"
  " {\"id\": \"e1\", \"slice\": null, \"fields\": {\"q\": \"q1\", \"x\": "
  "\"x1\", \"y\": \"y1\"}},"
  " {\"id\": \"e2\", \"slice\": null, \"fields\": {\"q\": \"q2\", \"x\": "
  "\"x2\", \"y\": \"y2\"}},"
  " {\"id\": \"e3\", \"slice\": null, \"fields\": {\"q\": \"q3\", \"x\": "
  "\"x3\", \"y\": \"y3\"}},"
  " {\"id\": \"e4\", \"slice\": null, \"fields\": {\"q\": \"q4\", \"x\": "
  "\"x4\", \"y\": \"y4\"}}]}";

#define STEP(p, ik, iv, ok, ov) \
  "{\"predictor\": \"" p "\", \"inputs\": {\"" ik "\": \"" iv "\"}, " \
  "\"outputs\": {\"" ok "\": \"" ov "\"}}"

/* e0 succeeds (0.4), e1 scores 0, e2 fails to parse, e3 succeeds with b
 * run three times, e4 succeeds without running b. */
static const char results_json[] =
  "{\"results\": ["
  " {\"index\": 0, \"id\": \"e0\", \"outputs\": {\"y\": \"t0\"}, \"score\": "
  "0.4, \"error\": null, \"trace\": [" STEP("a", "q", "q0", "x", "t0x") ", "
  STEP("b", "x", "t0x", "y", "t0") "]},"
  " {\"index\": 1, \"id\": \"e1\", \"outputs\": {\"y\": \"bad\"}, \"score\": "
  "0.0, \"error\": null, \"trace\": [" STEP("a", "q", "q1", "x", "t1x") ", "
  STEP("b", "x", "t1x", "y", "bad") "]},"
  " {\"index\": 2, \"id\": \"e2\", \"outputs\": null, \"score\": 0.0, "
  "\"error\": \"a: no [[ ## x ## ]] section\", \"error_kind\": \"parse\", "
  "\"trace\": []},"
  " {\"index\": 3, \"id\": \"e3\", \"outputs\": {\"y\": \"t3\"}, \"score\": "
  "1.0, \"error\": null, \"trace\": [" STEP("a", "q", "q3", "x", "t3x") ", "
  STEP("b", "x", "s0", "y", "r0") ", " STEP("b", "x", "s1", "y", "r1") ", "
  STEP("b", "x", "s2", "y", "r2") "]},"
  " {\"index\": 4, \"id\": \"e4\", \"outputs\": {\"y\": \"t4\"}, \"score\": "
  "1.0, \"error\": null, \"trace\": [" STEP("a", "q", "q4", "x", "t4x") "]}"
  "], \"n\": 5, \"n_errors\": 1, \"sum\": 2.4, \"mean\": 0.48, "
  "\"percent\": 48.0, \"stopped\": false}";

typedef struct fake {
  int budget;             /* evaluate answers PC_E_BUDGET */
  uint64_t seed;
  /* observed */
  int n_evaluate, n_trials, n_results;
  uint32_t flags;
  int state_null, indices_null;
  int64_t stop;
  char split[16];
  char *trial;            /* owned: the last trial */
  char *state;            /* owned: the last set_result */
  char *report;           /* owned */
} fake;

static void fake_clear(fake *f)
{
  pc_free(f->trial);
  pc_free(f->state);
  pc_free(f->report);
  memset(f, 0, sizeof(*f));
}

static char *dup_n(const char *s, size_t len)
{
  char *p = s ? pc_malloc(len + 1) : NULL;

  if (p) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

static int parse_host(const char *text, pc_json **out, pc_error *err)
{
  uint32_t size = 0;
  const pc_json_api *js = host->get_host_interface(host->ctx, "pc.json/1",
                                                   &size);

  return js->parse(host->ctx, text, strlen(text), PC_JSON_PARSE_STRICT, out,
                   err);
}

static int f_program(void *ctx, pc_json **out, pc_error *err)
{
  (void)ctx;
  return parse_host(program_json, out, err);
}

static int f_dataset(void *ctx, const char *split, pc_json **out,
                     pc_error *err)
{
  (void)ctx;
  CU_ASSERT_STRING_EQUAL(split, PC_SPLIT_TRAIN);
  return parse_host(train_json, out, err);
}

static int f_evaluate(void *ctx, const pc_eval_request *req, pc_json **out,
                      pc_error *err)
{
  fake *f = ctx;

  *out = NULL;
  f->n_evaluate++;
  f->flags = req->flags;
  f->state_null = req->state_json == NULL;
  f->indices_null = req->indices == NULL;
  f->stop = req->stop_after_successes;
  snprintf(f->split, sizeof(f->split), "%s", req->split);
  if (f->budget)
    return pc_error_set(err, PC_E_BUDGET, "budget: max_calls 3 reached");
  return parse_host(results_json, out, err);
}

static uint64_t f_seed(void *ctx)
{
  return ((fake *)ctx)->seed;
}

static int f_record_trial(void *ctx, const char *json, size_t len,
                          pc_error *err)
{
  fake *f = ctx;

  (void)err;
  pc_free(f->trial);
  f->trial = dup_n(json, len);
  f->n_trials++;
  return PC_OK;
}

static int f_set_result(void *ctx, const char *state, size_t state_len,
                        const char *report, size_t report_len,
                        pc_error *err)
{
  fake *f = ctx;

  (void)err;
  pc_free(f->state);
  pc_free(f->report);
  f->state = dup_n(state, state_len);
  f->report = report ? dup_n(report, report_len) : NULL;
  f->n_results++;
  return PC_OK;
}

static int compile_with(const char *settings, fake *f, pc_error *err)
{
  pc_compile_api api;
  void *inst = NULL;
  int rc;

  memset(&api, 0, sizeof(api));
  api.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_compile_api);
  api.ctx = f;
  api.program = f_program;
  api.dataset = f_dataset;
  api.evaluate = f_evaluate;
  api.seed = f_seed;
  api.record_trial = f_record_trial;
  api.set_result = f_set_result;
  rc = opt->create(plugin->state, settings, strlen(settings), &inst, err);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  rc = opt->compile(inst, &api, err);
  opt->destroy(inst);
  return rc;
}

/* Parse text with core's json-c reader (owned: json_object_put). */
static struct json_object *parse(const char *text)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = NULL;

  CU_ASSERT_FATAL(text != NULL);
  CU_ASSERT_EQUAL_FATAL(pc_json_parse(text, strlen(text),
                                      PC_JSON_PARSE_STRICT, &v, &err),
                        PC_OK);
  return v;
}

/* The compact JSON text of state[path].knn.pool[i] (owned). */
static char *pool_entry(struct json_object *state, const char *path,
                        size_t i)
{
  struct json_object *knn = json_object_object_get(
    json_object_object_get(state, path), "knn");

  return pc_json_to_string(json_object_array_get_idx(
    json_object_object_get(knn, "pool"), i), PC_JSON_TEXT_SPACED);
}

static void check_entry(struct json_object *state, const char *path,
                        size_t i, const char *want)
{
  char *got = pool_entry(state, path, i);

  PC_ASSERT_STR_EQ(got, want);
  pc_free(got);
}

static size_t pool_len(struct json_object *state, const char *path)
{
  return json_object_array_length(json_object_object_get(
    json_object_object_get(json_object_object_get(state, path), "knn"),
    "pool"));
}

/* The step of b that the plugin keeps for e3 (three steps): DSPy's rule,
 * with probability 1/2 one of the first two at random, else the last,
 * drawn from (seed, "knn-trace:b", 3). */
static const char *expected_b3(uint64_t seed)
{
  static const char *const steps[3] = {
    "{\"augmented\": true, \"x\": \"s0\", \"y\": \"r0\"}",
    "{\"augmented\": true, \"x\": \"s1\", \"y\": \"r1\"}",
    "{\"augmented\": true, \"x\": \"s2\", \"y\": \"r2\"}",
  };
  uint64_t u = host->rng_u64(host->ctx, seed, "knn-trace:b", 3, 0);

  if ((double)(u >> 11) * (1.0 / 9007199254740992.0) < 0.5)
    return steps[host->rng_u64(host->ctx, seed, "knn-trace:b", 3, 1) % 2];
  return steps[2];
}

/* ------------------------------------------------------------------------ */

static void test_teacher_runs_once_on_all_train_with_traces(void)
{
  pc_error err = PC_ERROR_INIT;
  fake f;

  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL(compile_with("{\"k\": 3}", &f, &err), PC_OK);
  CU_ASSERT_EQUAL(f.n_evaluate, 1);
  CU_ASSERT_EQUAL(f.flags, PC_EVAL_TEACHER | PC_EVAL_TRACES);
  CU_ASSERT(f.state_null);
  CU_ASSERT(f.indices_null);
  CU_ASSERT_EQUAL(f.stop, 0);
  PC_ASSERT_STR_EQ(f.split, "train");
  CU_ASSERT_EQUAL(f.n_trials, 1);
  CU_ASSERT_EQUAL(f.n_results, 1);
  fake_clear(&f);

  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL(compile_with("{\"k\": 3, \"use_metric\": false}", &f,
                               &err), PC_OK);
  CU_ASSERT_EQUAL(f.flags, PC_EVAL_TEACHER | PC_EVAL_TRACES |
                  PC_EVAL_NO_METRIC);
  fake_clear(&f);
}

static void test_pools_hold_augmented_demos_of_successes(void)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *state, *knn;
  char *text;
  fake f;

  memset(&f, 0, sizeof(f));
  f.seed = 5;
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"k\": 2, \"vectorizer\": \"bm25\"}",
                                     &f, &err), PC_OK);
  state = parse(f.state);
  /* Predictor a: e0, e3, e4 succeeded; e1 (score 0) and e2 (error) are
   * labeled. */
  CU_ASSERT_EQUAL(pool_len(state, "a"), 5);
  check_entry(state, "a", 0, "{\"augmented\": true, \"q\": \"q0\", "
              "\"x\": \"t0x\"}");
  check_entry(state, "a", 1, "{\"q\": \"q1\", \"x\": \"x1\", \"y\": "
              "\"y1\"}");
  check_entry(state, "a", 2, "{\"q\": \"q2\", \"x\": \"x2\", \"y\": "
              "\"y2\"}");
  check_entry(state, "a", 3, "{\"augmented\": true, \"q\": \"q3\", "
              "\"x\": \"t3x\"}");
  check_entry(state, "a", 4, "{\"augmented\": true, \"q\": \"q4\", "
              "\"x\": \"t4x\"}");
  /* Predictor b: nothing from e4, where it did not run; one of e3's three
   * steps. */
  CU_ASSERT_EQUAL(pool_len(state, "b"), 4);
  check_entry(state, "b", 0, "{\"augmented\": true, \"x\": \"t0x\", "
              "\"y\": \"t0\"}");
  check_entry(state, "b", 1, "{\"q\": \"q1\", \"x\": \"x1\", \"y\": "
              "\"y1\"}");
  check_entry(state, "b", 3, expected_b3(5));
  /* The retrieval settings. */
  knn = json_object_object_get(json_object_object_get(state, "b"), "knn");
  json_object_object_del(knn, "pool");
  text = pc_json_to_string(knn, PC_JSON_TEXT_SPACED);
  PC_ASSERT_STR_EQ(text, "{\"k\": 2, \"vectorizer\": \"bm25\", "
                   "\"input_keys\": [\"x\"], \"max_bootstrapped_demos\": 4, "
                   "\"max_labeled_demos\": 16}");
  pc_free(text);
  json_object_put(state);
  PC_ASSERT_STR_EQ(f.report, "{\"pool\":5,\"augmented\":3,\"labeled\":2,"
                   "\"errors\":1,\"teacher_score\":48.0}");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial, "\"label\":\"knn pool\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial, "\"score\":48.0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial, "\"state\":{\"a\":{\"knn\""));
  fake_clear(&f);
}

static void test_threshold_and_no_metric_decide_success(void)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *state;
  fake f;

  /* At 0.5, e0 (0.4) is no longer a success. */
  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"k\": 1, \"metric_threshold\": 0.5}",
                                     &f, &err), PC_OK);
  state = parse(f.state);
  check_entry(state, "a", 0, "{\"q\": \"q0\", \"x\": \"x0\", \"y\": "
              "\"y0\"}");
  check_entry(state, "a", 3, "{\"augmented\": true, \"q\": \"q3\", "
              "\"x\": \"t3x\"}");
  json_object_put(state);
  fake_clear(&f);
  /* Without the metric every run that did not fail succeeds: e1 too. */
  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"k\": 1, \"use_metric\": false}",
                                     &f, &err), PC_OK);
  state = parse(f.state);
  check_entry(state, "a", 1, "{\"augmented\": true, \"q\": \"q1\", "
              "\"x\": \"t1x\"}");
  check_entry(state, "a", 2, "{\"q\": \"q2\", \"x\": \"x2\", \"y\": "
              "\"y2\"}");
  json_object_put(state);
  fake_clear(&f);
}

static void test_max_errors_fails_the_compile(void)
{
  pc_error err = PC_ERROR_INIT;
  fake f;

  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL(compile_with("{\"k\": 3, \"max_errors\": 1}", &f, &err),
                  PC_E_PARSE);
  PC_ASSERT_STR_EQ(err.message, "knn: 1 of 5 teacher runs failed "
                   "(max_errors 1); the first, train example e2: a: no "
                   "[[ ## x ## ]] section");
  CU_ASSERT_EQUAL(f.n_results, 0);
  CU_ASSERT_EQUAL(f.n_trials, 0);
  fake_clear(&f);
}

static void test_budget_keeps_labeled_pools(void)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *state;
  fake f;

  memset(&f, 0, sizeof(f));
  f.budget = 1;
  CU_ASSERT_EQUAL(compile_with("{\"k\": 3}", &f, &err), PC_E_BUDGET);
  PC_ASSERT_STR_EQ(err.message, "budget: max_calls 3 reached");
  CU_ASSERT_EQUAL_FATAL(f.n_results, 1);
  state = parse(f.state);
  CU_ASSERT_EQUAL(pool_len(state, "a"), 5);
  CU_ASSERT_EQUAL(pool_len(state, "b"), 5);
  check_entry(state, "b", 4, "{\"q\": \"q4\", \"x\": \"x4\", \"y\": "
              "\"y4\"}");
  json_object_put(state);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "\"augmented\":0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "\"partial\":true"));
  fake_clear(&f);
}

static void test_core_accepts_and_retrieves_from_the_state(void)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *state, *in, *demos = NULL;
  pc_knn_pool *pool = NULL;
  char *text;
  fake f;

  memset(&f, 0, sizeof(f));
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"k\": 2, \"max_bootstrapped_demos\":"
                                     " 1}", &f, &err), PC_OK);
  state = parse(f.state);
  CU_ASSERT_EQUAL_FATAL(pc_knn_pool_new(json_object_object_get(
    json_object_object_get(state, "a"), "knn"), "state.a.knn", &pool,
    &err), PC_OK);
  /* "q1" is e1's labeled entry; the others tie (they share only the
   * word "q") and the lowest position, e0, is second; augmented, it is
   * shown first. */
  in = parse("{\"q\": \"q1\"}");
  CU_ASSERT_EQUAL(pc_knn_pool_demos(pool, in, &demos, &err), PC_OK);
  text = pc_json_to_string(demos, PC_JSON_TEXT_SPACED);
  PC_ASSERT_STR_EQ(text, "[{\"augmented\": true, \"q\": \"q0\", \"x\": "
                   "\"t0x\"}, {\"q\": \"q1\", \"x\": \"x1\", \"y\": \"y1\"}]");
  pc_free(text);
  json_object_put(demos);
  json_object_put(in);
  pc_knn_pool_free(pool);
  json_object_put(state);
  fake_clear(&f);
}

/* ------------------------------------------------------------------------ */
/* Settings and estimate.                                                   */

typedef struct sinkbuf {
  char text[1024];
  size_t len;
} sinkbuf;

static int sink_write(void *ctx, const char *text, size_t len)
{
  sinkbuf *b = ctx;

  if (b->len + len >= sizeof(b->text))
    return 1;
  memcpy(b->text + b->len, text, len);
  b->len += len;
  b->text[b->len] = '\0';
  return 0;
}

static void test_settings_fill_dspy_defaults(void)
{
  static const char s[] = "{\"k\": 5}";
  static const char s2[] = "{\"k\": 1, \"use_metric\": false}";
  static const char info1[] = "{\"train\": 7, \"val\": 3, \"predictors\": "
                              "2, \"calls_per_run\": 3}";
  static const char info2[] = "{\"train\": 7, \"calls_per_run\": 1}";
  sinkbuf b;
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), &b, sink_write};
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  memset(&b, 0, sizeof(b));
  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, s, strlen(s), &inst,
                                    &err), PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"k\":5,\"vectorizer\":\"tfidf\","
                   "\"max_bootstrapped_demos\":4,\"max_labeled_demos\":16,"
                   "\"metric_threshold\":null,\"use_metric\":true,"
                   "\"max_errors\":10}");
  memset(&b, 0, sizeof(b));
  CU_ASSERT_EQUAL(opt->estimate(inst, info1, strlen(info1), &sink, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"lm_calls\": 21, \"metric_calls\": 7, "
                   "\"proposal_calls\": 0}");
  opt->destroy(inst);
  inst = NULL;
  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, s2, strlen(s2), &inst,
                                    &err), PC_OK);
  memset(&b, 0, sizeof(b));
  CU_ASSERT_EQUAL(opt->estimate(inst, info2, strlen(info2), &sink, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"lm_calls\": 7, \"metric_calls\": 0, "
                   "\"proposal_calls\": 0}");
  opt->destroy(inst);
}

static void test_bad_settings_name_the_setting(void)
{
  static const struct {
    const char *json, *message;
  } cases[] = {
    {"{}", "knn: k: required (an integer >= 1, the number of neighbours "
     "retrieved per call)"},
    {"{\"k\": 0}", "knn: k: expected an integer >= 1"},
    {"{\"k\": 2.5}", "knn: k: expected an integer >= 1"},
    {"{\"k\": 2, \"kk\": 1}", "knn: kk: unknown setting (known: k, "
     "vectorizer, max_bootstrapped_demos, max_labeled_demos, "
     "metric_threshold, use_metric, max_errors)"},
    {"{\"k\": 2, \"vectorizer\": \"dense\"}",
     "knn: vectorizer: expected \"tfidf\" or \"bm25\""},
    {"{\"k\": 2, \"max_labeled_demos\": -1}",
     "knn: max_labeled_demos: expected an integer >= 0"},
    {"{\"k\": 2, \"max_errors\": 0}",
     "knn: max_errors: expected an integer >= 1"},
    {"{\"k\": 2, \"metric_threshold\": 1.5}",
     "knn: metric_threshold: expected null or a number in (0, 1]"},
    {"{\"k\": 2, \"use_metric\": \"no\"}",
     "knn: use_metric: expected true or false"},
    {"{\"k\": 2, \"use_metric\": false, \"metric_threshold\": 0.5}",
     "knn: metric_threshold: set while use_metric is false"},
    {"[1]", "knn: settings: expected a JSON object"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    void *inst = (void *)1;

    CU_ASSERT_EQUAL(opt->create(plugin->state, cases[i].json,
                                strlen(cases[i].json), &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    PC_ASSERT_STR_EQ(err.message, cases[i].message);
  }
}

static CU_TestInfo opt_knn_tests[] = {
  {"teacher runs once on all train with traces",
   test_teacher_runs_once_on_all_train_with_traces},
  {"pools hold augmented demos of successes",
   test_pools_hold_augmented_demos_of_successes},
  {"threshold and no-metric decide success",
   test_threshold_and_no_metric_decide_success},
  {"max_errors fails the compile", test_max_errors_fails_the_compile},
  {"budget keeps labeled pools", test_budget_keeps_labeled_pools},
  {"core accepts and retrieves from the state",
   test_core_accepts_and_retrieves_from_the_state},
  {"settings fill DSPy's defaults", test_settings_fill_dspy_defaults},
  {"bad settings name the setting", test_bad_settings_name_the_setting},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_knn", suite_init, suite_clean, NULL, NULL, opt_knn_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
