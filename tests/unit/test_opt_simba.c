/*
 * tests/unit/test_opt_simba.c: plugins/opt-simba, suite "opt_simba". The
 * pure helpers (simba_math.c) are compiled in and driven with known
 * uniform draws; expected values were worked out by hand from numpy's
 * percentile, Python's round and random.choices and DSPy's
 * top_k_plus_baseline. The built plugin is loaded for its settings and
 * its estimate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "host.h"
#include "loader.h"
#include "simba_math.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s/plugins/opt-simba/.libs/opt-simba.so",
           dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  return !opt;
}

static int suite_clean(void)
{
  pc_plugin_close(plugin);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Uniform sources.                                                         */

/* A scripted list of uniforms; counts the draws taken. */
typedef struct script {
  const double *u;
  size_t n, used;
} script;

static double script_unit(void *ctx)
{
  script *s = ctx;

  return s->used < s->n ? s->u[s->used++] : 0.0;
}

/* A 64-bit LCG (Knuth's MMIX constants) for distribution checks. */
static double lcg_unit(void *ctx)
{
  uint64_t *x = ctx;

  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*x >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------ */
/* Percentiles and rounding.                                                */

static void test_percentile_interpolates_linearly_as_numpy(void)
{
  const double a[] = {1, 2, 3, 4};
  const double b[] = {0, 0, 0, 1, 1};
  const double c[] = {0, 0.5, 1};
  const double one[] = {0.75};
  double ten[10];
  int i;

  for (i = 0; i < 10; i++)
    ten[i] = i;
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(a, 4, 10), 1.3, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(a, 4, 90), 3.7, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(a, 4, 50), 2.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(b, 5, 10), 0.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(b, 5, 90), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(b, 5, 70), 0.8, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(c, 3, 90), 0.9, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(one, 1, 10), 0.75, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(ten, 10, 10), 0.9, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(ten, 10, 0), 0.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__simba_percentile(ten, 10, 100), 9.0, 1e-12);
}

static void test_rounding_sends_halves_to_even(void)
{
  CU_ASSERT_EQUAL(pc__simba_round_half_even(1, 2), 0);   /* 0.5 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(3, 2), 2);   /* 1.5 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(5, 2), 2);   /* 2.5 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(7, 2), 4);   /* 3.5 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(4, 3), 1);   /* 1.33 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(5, 3), 2);   /* 1.67 */
  CU_ASSERT_EQUAL(pc__simba_round_half_even(0, 7), 0);
}

/* The final picks for m winners past the baseline and n = c + 1. */
static void check_final(int64_t m, int64_t n, const int64_t *want,
                        size_t n_want)
{
  int64_t out[64];
  size_t got = pc__simba_final_indices(m, n, out), i;

  CU_ASSERT_EQUAL(got, n_want);
  for (i = 0; i < got && i < n_want; i++)
    CU_ASSERT_EQUAL(out[i], want[i]);
}

static void test_final_indices_are_evenly_spaced_and_deduped(void)
{
  static const int64_t m8[] = {0, 1, 3, 4, 5, 7, 8};  /* the reference's */
  static const int64_t m3[] = {0, 1, 2, 3};
  static const int64_t m1[] = {0, 1};
  static const int64_t m3n3[] = {0, 2, 3};            /* 1.5 -> 2 */
  static const int64_t m5n3[] = {0, 2, 5};            /* 2.5 -> 2 */
  static const int64_t m2n5[] = {0, 1, 2};            /* 0.5 -> 0 */
  static const int64_t zero[] = {0};

  check_final(8, 7, m8, 7);
  check_final(3, 4, m3, 4);
  check_final(1, 7, m1, 2);
  check_final(3, 3, m3n3, 3);
  check_final(5, 3, m5n3, 3);
  check_final(2, 5, m2n5, 3);
  check_final(0, 7, zero, 1);
}

/* ------------------------------------------------------------------------ */
/* Orders, the pool's top k, softmax sampling.                              */

static void test_buckets_sort_by_gap_then_max_then_avg_gap(void)
{
  /* (max - min, max, max - mean) per bucket. */
  const double keys[] = {1, 0.5, 0.2,
                         1, 0.5, 0.3,
                         0, 1, 0,
                         1, 0.5, 0.3,
                         1, 0.75, 0.1};
  size_t order[5];

  pc__simba_order_desc(keys, 3, 5, order);
  CU_ASSERT_EQUAL(order[0], 4);  /* same gap, higher max */
  CU_ASSERT_EQUAL(order[1], 1);  /* equal tuples keep their order */
  CU_ASSERT_EQUAL(order[2], 3);
  CU_ASSERT_EQUAL(order[3], 0);
  CU_ASSERT_EQUAL(order[4], 2);  /* no gap: last, whatever its max */
}

static void test_bucket_records_sort_stably_best_first(void)
{
  const double scores[] = {0, 1, 0.5, 1, 0};
  size_t order[5];

  pc__simba_order_desc(scores, 1, 5, order);
  CU_ASSERT_EQUAL(order[0], 1);
  CU_ASSERT_EQUAL(order[1], 3);
  CU_ASSERT_EQUAL(order[2], 2);
  CU_ASSERT_EQUAL(order[3], 0);
  CU_ASSERT_EQUAL(order[4], 4);
}

static void test_top_k_keeps_the_baseline(void)
{
  const double avg[] = {0.0, 0.5, 0.7, 0.5};
  const double ties[] = {0.2, 0.5, 0.5};
  const double flat[] = {0.0, 0.0, 0.0};
  size_t out[8];

  CU_ASSERT_EQUAL(pc__simba_top_k(avg, 4, 2, out), 2);
  CU_ASSERT(out[0] == 2 && out[1] == 0);  /* 0 replaces the last */
  CU_ASSERT_EQUAL(pc__simba_top_k(avg, 4, 3, out), 3);
  CU_ASSERT(out[0] == 2 && out[1] == 1 && out[2] == 0);
  CU_ASSERT_EQUAL(pc__simba_top_k(avg, 4, 8, out), 4);
  CU_ASSERT(out[0] == 2 && out[1] == 1 && out[2] == 3 && out[3] == 0);
  CU_ASSERT_EQUAL(pc__simba_top_k(ties, 3, 2, out), 2);
  CU_ASSERT(out[0] == 1 && out[1] == 0);  /* 2 ties 1, comes after */
  CU_ASSERT_EQUAL(pc__simba_top_k(flat, 3, 2, out), 2);
  CU_ASSERT(out[0] == 0 && out[1] == 1);  /* baseline already in */
  CU_ASSERT_EQUAL(pc__simba_top_k(flat, 1, 6, out), 1);
  CU_ASSERT_EQUAL(out[0], 0);
}

static void test_softmax_sampling_bisects_the_weights(void)
{
  const double two[] = {0.0, 1.0};
  const double same[] = {0.5, 0.5};
  /* T = 1: weights 1 and e, so P(0) = 1 / (1 + e) = 0.26894. */
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(two, 2, 1.0, 0.2689), 0);
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(two, 2, 1.0, 0.2690), 1);
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(same, 2, 0.2, 0.49), 0);
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(same, 2, 0.2, 0.51), 1);
  /* A tiny temperature does not overflow: the best one always wins. */
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(two, 2, 1e-4, 0.0), 1);
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(two, 2, 1e-4, 0.999999), 1);
  CU_ASSERT_EQUAL(pc__simba_softmax_pick(two, 1, 0.2, 0.9), 0);
}

static void test_softmax_sampling_follows_the_distribution(void)
{
  /* DSPy's defaults: averages 0.2 and 0.6 at T = 0.2 give weights e^1 and
   * e^3, so P(1) = 1 / (1 + e^-2) = 0.8808. */
  const double avg[] = {0.2, 0.6};
  uint64_t x = 42;
  int i, ones = 0;

  for (i = 0; i < 20000; i++)
    ones += (int)pc__simba_softmax_pick(avg, 2, 0.2, lcg_unit(&x));
  CU_ASSERT_DOUBLE_EQUAL(ones / 20000.0, 0.8808, 0.01);
}

/* ------------------------------------------------------------------------ */
/* Poisson.                                                                 */

static void test_poisson_multiplies_uniforms_as_numpy(void)
{
  const double u[] = {0.9, 0.8, 0.3, 0.99};
  script s = {u, 4, 0};

  /* exp(-1) = 0.368: 0.9 and 0.72 stay above, 0.216 does not. */
  CU_ASSERT_EQUAL(pc__simba_poisson(1.0, script_unit, &s), 2);
  CU_ASSERT_EQUAL(s.used, 3);
  s.used = 0;
  CU_ASSERT_EQUAL(pc__simba_poisson(0.0, script_unit, &s), 0);
  CU_ASSERT_EQUAL(s.used, 0);  /* a zero mean draws nothing */
  s.used = 2;                   /* 0.3 <= exp(-0.5) = 0.607 at once */
  CU_ASSERT_EQUAL(pc__simba_poisson(0.5, script_unit, &s), 0);
  CU_ASSERT_EQUAL(s.used, 3);
}

/* Mean and variance of many draws: both are lam for a Poisson. */
static void check_poisson_moments(double lam)
{
  uint64_t x = 7;
  double sum = 0, sq = 0, mean, var;
  int i, n = 20000;

  for (i = 0; i < n; i++) {
    double d = (double)pc__simba_poisson(lam, lcg_unit, &x);

    sum += d;
    sq += d * d;
  }
  mean = sum / n;
  var = sq / n - mean * mean;
  CU_ASSERT_DOUBLE_EQUAL(mean, lam, 0.05 * lam + 0.02);
  CU_ASSERT_DOUBLE_EQUAL(var, lam, 0.1 * lam + 0.03);
}

static void test_poisson_draws_have_mean_and_variance_lam(void)
{
  check_poisson_moments(0.25);
  check_poisson_moments(1.0);
  check_poisson_moments(2.5);
  check_poisson_moments(23.0);  /* split into parts below 10 */
}

/* ------------------------------------------------------------------------ */
/* The plugin: settings and estimate.                                       */

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

static pc_text_sink text_sink(sinkbuf *b)
{
  pc_text_sink s = {PC_ABI_HEADER_INIT(pc_text_sink), b, sink_write};

  b->len = 0;
  b->text[0] = '\0';
  return s;
}

static void test_settings_default_to_dspy_values(void)
{
  sinkbuf b;
  pc_text_sink s = text_sink(&b);
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, NULL, 0, &inst, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"bsize\":32,\"num_candidates\":6,"
                   "\"max_steps\":8,\"max_demos\":4,"
                   "\"demo_input_field_maxlen\":100000,"
                   "\"temperature_for_sampling\":0.2,"
                   "\"temperature_for_candidates\":0.2,"
                   "\"use_teacher_lm\":false}");
  opt->destroy(inst);
}

static void check_refused(const char *settings, const char *text)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  CU_ASSERT_EQUAL(opt->create(plugin->state, settings, strlen(settings),
                              &inst, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  if (!strstr(err.message, text))
    fprintf(stderr, "\nmessage: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, text));
}

static void test_bad_settings_are_refused_by_name(void)
{
  check_refused("{\"bsize\": 0}", "simba: bsize: expected an integer >= 1");
  check_refused("{\"num_candidates\": 0}", "num_candidates");
  check_refused("{\"max_steps\": -1}", "max_steps");
  check_refused("{\"max_demos\": 1.5}", "max_demos");
  check_refused("{\"temperature_for_sampling\": 0}",
                "temperature_for_sampling: expected null or a number in "
                "(0, 100]");
  check_refused("{\"temperature_for_candidates\": \"hot\"}",
                "temperature_for_candidates");
  check_refused("{\"teacher_settings\": {}}",
                "teacher_settings: unknown setting");
  check_refused("{\"bsize\": 2000000}", "bsize");
}

static void check_estimate(const char *settings, const char *info,
                           const char *want)
{
  sinkbuf b;
  pc_text_sink s = text_sink(&b);
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, settings,
                                    strlen(settings), &inst, &err), PC_OK);
  CU_ASSERT_EQUAL(opt->estimate(inst, info, strlen(info), &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, want);
  opt->destroy(inst);
}

static void test_estimate_follows_section_7_6(void)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  sinkbuf b;
  pc_text_sink s = text_sink(&b);
  static const char small[] = "{\"train\": 20, \"calls_per_run\": 1}";

  /* Defaults, |T| = 100: 8 x (32 x 6 + 7 x 32) + 7 x 100 runs. */
  check_estimate("{}", "{\"train\": 100, \"val\": 100, \"predictors\": 1, "
                 "\"calls_per_run\": 1}",
                 "{\"lm_calls\": 4028, \"metric_calls\": 4028, "
                 "\"proposal_calls\": 56}");
  /* 3 x (8 x 3 + 4 x 8) + 4 x 20 = 248 runs of R = 2. */
  check_estimate("{\"bsize\": 8, \"num_candidates\": 3, \"max_steps\": 3}",
                 "{\"train\": 20, \"calls_per_run\": 2}",
                 "{\"lm_calls\": 496, \"metric_calls\": 248, "
                 "\"proposal_calls\": 12}");
  /* bsize 2 makes at most 2 candidates a step; 1 step: 2 finals. */
  check_estimate("{\"bsize\": 2, \"max_steps\": 1}", small,
                 "{\"lm_calls\": 56, \"metric_calls\": 56, "
                 "\"proposal_calls\": 2}");
  /* No steps: the baseline alone on train. */
  check_estimate("{\"max_steps\": 0, \"bsize\": 8}", small,
                 "{\"lm_calls\": 20, \"metric_calls\": 20, "
                 "\"proposal_calls\": 0}");
  /* |T| < bsize is refused, naming both. */
  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, NULL, 0, &inst, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(opt->estimate(inst, small, strlen(small), &s, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bsize: 32 is more than the "
                                "20 train examples"));
  opt->destroy(inst);
}

static CU_TestInfo simba_tests[] = {
  {"percentile interpolates linearly as numpy",
   test_percentile_interpolates_linearly_as_numpy},
  {"rounding sends halves to even", test_rounding_sends_halves_to_even},
  {"final indices are evenly spaced and deduped",
   test_final_indices_are_evenly_spaced_and_deduped},
  {"buckets sort by gap, then max, then avg gap",
   test_buckets_sort_by_gap_then_max_then_avg_gap},
  {"bucket records sort stably best first",
   test_bucket_records_sort_stably_best_first},
  {"top k keeps the baseline", test_top_k_keeps_the_baseline},
  {"softmax sampling bisects the weights",
   test_softmax_sampling_bisects_the_weights},
  {"softmax sampling follows the distribution",
   test_softmax_sampling_follows_the_distribution},
  {"poisson multiplies uniforms as numpy",
   test_poisson_multiplies_uniforms_as_numpy},
  {"poisson draws have mean and variance lam",
   test_poisson_draws_have_mean_and_variance_lam},
  {"settings default to DSPy's values", test_settings_default_to_dspy_values},
  {"bad settings are refused by name", test_bad_settings_are_refused_by_name},
  {"estimate follows section 7.6", test_estimate_follows_section_7_6},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_simba", suite_init, suite_clean, NULL, NULL, simba_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
