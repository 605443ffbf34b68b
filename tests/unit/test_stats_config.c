/* tests/unit/test_stats_config.c: score intervals (core/stats.c) and the
 * run configuration (core/config.c); suites "stats" and "config". */
#include <math.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "stats.h"

static void test_wilson_interval_for_binary_scores(void)
{
  double x[100], m, lo, hi;

  for (int i = 0; i < 100; i++)
    x[i] = i < 64 ? 1.0 : 0.0;
  pc_stats_mean_ci(x, 100, &m, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.64, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(lo, 0.5423540245, 1e-9);  /* Wilson, z=1.96 */
  CU_ASSERT_DOUBLE_EQUAL(hi, 0.7272877960, 1e-9);
  /* all wrong: the interval still has width */
  pc_stats_mean_ci(x + 64, 10, &m, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(m, 0, 0);
  CU_ASSERT_DOUBLE_EQUAL(lo, 0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(hi, 0.2775327999, 1e-9);
}

static void test_t_interval_for_graded_scores(void)
{
  double x[] = {0.5, 1, 0.25, 0.75, 0.0}, m, lo, hi;

  pc_stats_mean_ci(x, 5, &m, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(lo, 0.0092678939, 1e-6);  /* t(0.975, 4) */
  CU_ASSERT_DOUBLE_EQUAL(hi, 0.9907321061, 1e-6);
  pc_stats_mean_ci(x, 1, &m, &lo, &hi);  /* one graded score: no width */
  CU_ASSERT_DOUBLE_EQUAL(lo, 0, 0);
  CU_ASSERT_DOUBLE_EQUAL(hi, 1, 0);
  pc_stats_mean_ci(x, 0, &m, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(m, 0, 0);
}

static void test_t_quantile_table_and_series_agree(void)
{
  CU_ASSERT_DOUBLE_EQUAL(pc_stats_t975(1), 12.706, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(pc_stats_t975(30), 2.042, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(pc_stats_t975(31), 2.0395, 1e-3);
  CU_ASSERT_DOUBLE_EQUAL(pc_stats_t975(60), 2.0003, 1e-3);
  CU_ASSERT_DOUBLE_EQUAL(pc_stats_t975(1000000), 1.95996, 1e-4);
}

/* ---- config ------------------------------------------------------------ */

static int load(const char *text, pc_config **cfg, pc_error *err)
{
  const char *path = pc_test_tmpfile(text, strlen(text), ".json");

  pc_error_clear(err);
  return pc_config_load(path, cfg, err);
}

static void test_config_reads_roles_metric_cache_and_settings(void)
{
  pc_config *cfg = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v;

  CU_ASSERT_EQUAL_FATAL(load("{\"lm\": {\"provider\": \"sim\", \"params\": "
                             "{\"temperature\": 0.5}, \"knowledge\": \"k\"},"
                             " \"teacher_lm\": {\"provider\": \"sim\"},"
                             " \"metric\": \"exact_match:answer\","
                             " \"cache\": {\"path\": \"c\", "
                             "\"memory_entries\": 5},"
                             " \"concurrency\": 3, \"seed\": 9,"
                             " \"eval\": {\"max_errors\": 2, "
                             "\"failure_score\": 0.5}}", &cfg, &err),
                        PC_OK);
  CU_ASSERT_PTR_NOT_NULL(cfg->roles[PC_ROLE_LM]);
  CU_ASSERT_PTR_NOT_NULL(cfg->roles[PC_ROLE_TEACHER_LM]);
  CU_ASSERT_PTR_NULL(cfg->roles[PC_ROLE_PROMPT_LM]);
  CU_ASSERT_TRUE(json_object_object_get_ex(cfg->metric, "field", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "answer");
  /* the cache path is relative to the config's folder */
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->cache_path);
  CU_ASSERT_EQUAL(strncmp(cfg->cache_path, cfg->base_dir,
                          strlen(cfg->base_dir)), 0);
  CU_ASSERT_EQUAL(strcmp(cfg->cache_path + strlen(cfg->cache_path) - 2,
                         "/c"), 0);
  CU_ASSERT_EQUAL(cfg->cache_memory, 5);
  CU_ASSERT_EQUAL(cfg->concurrency, 3);
  CU_ASSERT_TRUE(cfg->has_seed);
  CU_ASSERT_EQUAL(cfg->seed, 9);
  CU_ASSERT_EQUAL(cfg->max_errors, 2);
  CU_ASSERT_DOUBLE_EQUAL(cfg->failure_score, 0.5, 0);
  CU_ASSERT_TRUE(cfg->cache_enabled);
  pc_config_free(cfg);
}

static void test_config_errors_name_the_member(void)
{
  static const struct {
    const char *text, *want;
  } cases[] = {
    {"{\"lm\": {\"params\": {}}}", "lm.provider: expected"},
    {"{\"lm\": {\"provider\": \"sim\", \"params\": {\"temp\": 1}}}",
     "lm.params.temp: unknown setting"},
    {"{\"lm\": {\"provider\": \"sim\", \"params\": {\"adapter\": \"json\"}}}",
     "lm.params.adapter: unknown setting"},
    {"{\"prompt_lm\": {\"provider\": \"sim\", \"cache\": 1}}",
     "prompt_lm.cache: expected true or false"},
    {"{\"metric\": \"\"}", "metric: \"\": expected NAME"},
    {"{\"metric\": {\"field\": \"a\"}}", "metric: expected"},
    {"{\"cache\": {\"dir\": \"x\"}}", "cache.dir: unknown member"},
    {"{\"concurrency\": 0}", "concurrency: expected an integer from 1"},
    {"{\"eval\": {\"failure_score\": 2}}", "eval.failure_score: expected"},
    {"{\"eval\": {\"max_errors\": 0}}", "eval.max_errors: expected"},
    {"{\"seed\": -1}", "seed: expected"},
    {"{\"optimiser\": {}}", "optimiser: unknown member"},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_config *cfg = NULL;
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(load(cases[i].text, &cfg, &err), PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(cfg);
    if (!strstr(err.message, cases[i].want)) {
      fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err.message,
              cases[i].want);
      CU_FAIL("message does not name the member");
    }
  }
}

static void test_metric_spec_forms(void)
{
  struct json_object *o = NULL, *v;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_config_metric_spec("f1", "m", &o, &err), PC_OK);
  CU_ASSERT_FALSE(json_object_object_get_ex(o, "field", &v));
  json_object_put(o);
  CU_ASSERT_EQUAL(pc_config_metric_spec("numeric:total", "m", &o, &err),
                  PC_OK);
  CU_ASSERT_TRUE(json_object_object_get_ex(o, "name", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "numeric");
  json_object_put(o);
  CU_ASSERT_EQUAL(pc_config_metric_spec("numeric:", "m", &o, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(o);
}

static CU_TestInfo stats_tests[] = {
  {"Wilson interval for binary scores",
   test_wilson_interval_for_binary_scores},
  {"t interval for graded scores", test_t_interval_for_graded_scores},
  {"t quantile: table and series agree",
   test_t_quantile_table_and_series_agree},
  CU_TEST_INFO_NULL,
};

static CU_TestInfo config_tests[] = {
  {"reads roles, metric, cache and settings",
   test_config_reads_roles_metric_cache_and_settings},
  {"errors name the member", test_config_errors_name_the_member},
  {"metric spec forms", test_metric_spec_forms},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"stats", NULL, NULL, NULL, NULL, stats_tests},
  {"config", NULL, NULL, NULL, NULL, config_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
