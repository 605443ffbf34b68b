/* tests/unit/test_tpe.c: plugins/opt-miprov2/tpe.c, the TPE sampler of
 * MIPROv2's search; suite "tpe". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "tpe.h"

/* splitmix64: the test's own generator behind the rng callback. */
static uint64_t mix_next(void *ctx)
{
  uint64_t *s = ctx, z;

  *s += 0x9e3779b97f4a7c15ull;
  z = *s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A history of at most MAX_T trials of at most 4 parameters. */
#define MAX_T 400
struct history {
  size_t n_params;
  int64_t choices[4];
  int64_t params[MAX_T * 4];
  double values[MAX_T];
  size_t n;
};

static void hist_init(struct history *h, size_t n_params, int64_t c)
{
  size_t p;

  memset(h, 0, sizeof(*h));
  h->n_params = n_params;
  for (p = 0; p < n_params; p++)
    h->choices[p] = c;
}

static void hist_add(struct history *h, const int64_t *x, double v)
{
  memcpy(&h->params[h->n * h->n_params], x, h->n_params * sizeof(*x));
  h->values[h->n++] = v;
}

/* Suggest the next point from h's history with rng state *seed. */
static int suggest(const struct history *h, uint64_t *seed, int64_t *out)
{
  pc__tpe_config cfg;
  pc__tpe_rng rng = {seed, mix_next};
  void *scratch;
  int rc;

  pc__tpe_config_default(&cfg, h->n_params, h->choices);
  scratch = pc_malloc(pc__tpe_scratch_size(&cfg, h->n));
  CU_ASSERT_PTR_NOT_NULL_FATAL(scratch);
  rc = pc__tpe_suggest(&cfg, h->params, h->values, h->n, &rng, scratch,
                       out);
  pc_free(scratch);
  return rc;
}

/* Objectives over small categorical grids; each has one optimum. */
static double peak8x8(const int64_t *x)
{
  return -(fabs((double)x[0] - 5) + fabs((double)x[1] - 2));
}

static double separable(const int64_t *x)
{
  static const double a[6] = {0.1, 0.5, 0.2, 0.9, 0.0, 0.3};
  static const double b[6] = {0.4, 0.0, 0.8, 0.1, 0.2, 0.3};
  static const double c[6] = {0.2, 0.3, 0.1, 0.0, 0.7, 0.4};

  return a[x[0]] + b[x[1]] + c[x[2]];
}

struct problem {
  size_t n_params;
  int64_t choices;
  double (*f)(const int64_t *x);
  double best;
};

/* Trials until the optimum is evaluated (capped at MAX_T), with TPE or
 * with uniform random search. */
static size_t trials_to_optimum(const struct problem *pb, uint64_t seed,
                                int use_tpe)
{
  static struct history h;
  uint64_t s = seed;
  int64_t x[4];
  size_t t, p;

  hist_init(&h, pb->n_params, pb->choices);
  for (t = 0; t < MAX_T; t++) {
    if (use_tpe) {
      CU_ASSERT_EQUAL_FATAL(suggest(&h, &s, x), 0);
    } else {
      pc__tpe_rng rng = {&s, mix_next};

      for (p = 0; p < pb->n_params; p++)
        x[p] = pc__tpe_below(&rng, pb->choices);
    }
    if (pb->f(x) >= pb->best)
      return t + 1;
    hist_add(&h, x, pb->f(x));
  }
  return MAX_T;
}

static void compare_with_random(const struct problem *pb, const char *name)
{
  double tpe = 0, rnd = 0;
  uint64_t seed;
  const int runs = 30;

  for (seed = 1; seed <= (uint64_t)runs; seed++) {
    tpe += (double)trials_to_optimum(pb, seed * 7919, 1);
    rnd += (double)trials_to_optimum(pb, seed * 7919 + 1, 0);
  }
  tpe /= runs;
  rnd /= runs;
  printf("\n    %s: mean trials to the optimum over %d seeds: TPE %.1f, "
         "random %.1f ", name, runs, tpe, rnd);
  CU_ASSERT_TRUE(tpe < rnd);
}

static void test_finds_the_peak_of_a_grid_faster_than_random(void)
{
  struct problem pb = {2, 8, peak8x8, 0.0};

  compare_with_random(&pb, "8x8 peak");
}

static void test_finds_the_best_of_a_separable_sum_faster_than_random(void)
{
  struct problem pb = {3, 6, separable, 0.9 + 0.8 + 0.7};

  compare_with_random(&pb, "separable 6x6x6");
}

static void test_gamma_is_a_tenth_rounded_up_capped_at_25(void)
{
  CU_ASSERT_EQUAL(pc__tpe_gamma(0), 0);
  CU_ASSERT_EQUAL(pc__tpe_gamma(1), 1);
  CU_ASSERT_EQUAL(pc__tpe_gamma(10), 1);
  CU_ASSERT_EQUAL(pc__tpe_gamma(11), 2);
  CU_ASSERT_EQUAL(pc__tpe_gamma(25), 3);
  CU_ASSERT_EQUAL(pc__tpe_gamma(100), 10);
  CU_ASSERT_EQUAL(pc__tpe_gamma(241), 25);
  CU_ASSERT_EQUAL(pc__tpe_gamma(5000), 25);
}

static void test_weights_are_flat_then_ramp_for_old_trials(void)
{
  size_t i;

  for (i = 0; i < 24; i++)
    CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(i, 24), 1.0, 1e-12);
  /* m = 30: linspace(1/30, 1, 5) for the 5 oldest, then 25 ones. */
  CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(0, 30), 1.0 / 30, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(2, 30), (1.0 / 30 + 1.0) / 2,
                         1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(4, 30), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(29, 30), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(pc__tpe_weight(0, 26), 1.0 / 26, 1e-12);
}

static void test_startup_trials_are_uniform_whatever_the_scores(void)
{
  static struct history good, bad;
  int64_t count[8] = {0}, x[2], y[2], first[2];
  uint64_t s1 = 42, s2 = 42;
  size_t t, k;

  hist_init(&good, 2, 8);
  hist_init(&bad, 2, 8);
  /* Nine trials: still startup. Same points, opposite scores. */
  for (t = 0; t < 9; t++) {
    int64_t p[2] = {(int64_t)(t % 8), 3};

    hist_add(&good, p, (double)t);
    hist_add(&bad, p, -(double)t);
  }
  for (k = 0; k < 8000; k++) {
    CU_ASSERT_EQUAL_FATAL(suggest(&good, &s1, x), 0);
    CU_ASSERT_EQUAL_FATAL(suggest(&bad, &s2, y), 0);
    if (k == 0)
      memcpy(first, x, sizeof(first));
    /* The scores do not matter during startup. */
    CU_ASSERT_TRUE(x[0] == y[0] && x[1] == y[1]);
    count[x[1]]++;
  }
  /* The second parameter was always 3 in the history, yet its draws are
   * uniform: 1000 expected per value. */
  for (k = 0; k < 8; k++)
    CU_ASSERT_TRUE(count[k] > 850 && count[k] < 1150);
  CU_ASSERT_TRUE(first[0] >= 0 && first[0] < 8);
}

/* Share of 400 suggestions equal to `want` in the first parameter. */
static double share_of(const struct history *h, int64_t want)
{
  uint64_t s = 7;
  int64_t x[2];
  int hits = 0, k;

  for (k = 0; k < 400; k++) {
    CU_ASSERT_EQUAL_FATAL(suggest(h, &s, x), 0);
    hits += x[0] == want;
  }
  return hits / 400.0;
}

static void test_injected_trials_count_toward_startup(void)
{
  static struct history h;
  int64_t inj[2] = {6, 6}, p[2];
  size_t t;

  /* One injected trial (the default program, as MIPROv2 adds it) plus
   * eight objective trials: nine, still random. The injected one is by
   * far the best. */
  hist_init(&h, 2, 8);
  hist_add(&h, inj, 100.0);
  for (t = 0; t < 8; t++) {
    p[0] = (int64_t)t == 6 ? 0 : (int64_t)t;
    p[1] = (int64_t)t;
    hist_add(&h, p, 1.0);
  }
  CU_ASSERT_TRUE(share_of(&h, 6) < 0.25);
  /* A tenth trial (another injected one) ends the startup: the TPE now
   * prefers the best trial's value. */
  p[0] = 1;
  p[1] = 1;
  hist_add(&h, p, 1.0);
  CU_ASSERT_TRUE(share_of(&h, 6) > 0.5);
}

static void test_same_seed_gives_the_same_search(void)
{
  static struct history a, b;
  uint64_t sa = 99, sb = 99, sc = 100;
  int64_t xa[2], xb[2], xc[2];
  size_t t;
  int differs = 0;

  hist_init(&a, 2, 8);
  hist_init(&b, 2, 8);
  for (t = 0; t < 40; t++) {
    CU_ASSERT_EQUAL_FATAL(suggest(&a, &sa, xa), 0);
    CU_ASSERT_EQUAL_FATAL(suggest(&b, &sb, xb), 0);
    CU_ASSERT_TRUE(xa[0] == xb[0] && xa[1] == xb[1]);
    CU_ASSERT_EQUAL_FATAL(suggest(&a, &sc, xc), 0);
    differs |= xc[0] != xa[0] || xc[1] != xa[1];
    hist_add(&a, xa, peak8x8(xa));
    hist_add(&b, xb, peak8x8(xb));
  }
  CU_ASSERT_TRUE(differs);  /* another seed draws other points */
}

static void test_out_of_range_history_is_refused(void)
{
  static struct history h;
  int64_t p[2] = {8, 0}, x[2] = {-5, -5};
  uint64_t s = 1;

  hist_init(&h, 2, 8);
  hist_add(&h, p, 1.0);  /* 8 is not a choice of 0..7 */
  CU_ASSERT_EQUAL(suggest(&h, &s, x), -1);
  CU_ASSERT_EQUAL(x[0], -5);
}

static CU_TestInfo tpe_tests[] = {
  {"gamma is a tenth rounded up capped at 25",
   test_gamma_is_a_tenth_rounded_up_capped_at_25},
  {"weights are flat then ramp for old trials",
   test_weights_are_flat_then_ramp_for_old_trials},
  {"startup trials are uniform whatever the scores",
   test_startup_trials_are_uniform_whatever_the_scores},
  {"injected trials count toward startup",
   test_injected_trials_count_toward_startup},
  {"same seed gives the same search", test_same_seed_gives_the_same_search},
  {"out of range history is refused", test_out_of_range_history_is_refused},
  {"finds the peak of a grid faster than random",
   test_finds_the_peak_of_a_grid_faster_than_random},
  {"finds the best of a separable sum faster than random",
   test_finds_the_best_of_a_separable_sum_faster_than_random},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"tpe", NULL, NULL, NULL, NULL, tpe_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
