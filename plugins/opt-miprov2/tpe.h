/*
 * tpe.h - a Tree-structured Parzen Estimator over categorical parameters,
 * the sampler MIPROv2 runs its Bayesian search with (Optuna's
 * TPESampler(multivariate=True) with its default settings).
 *
 * The code is pure C: it calls nothing of the host and allocates nothing.
 * Random numbers come through a callback (pc__tpe_rng) and working memory
 * from the caller (pc__tpe_scratch_size), so a unit test can drive it with
 * its own generator.
 *
 * The algorithm, as Optuna runs it for categorical parameters:
 *
 * 1. Startup. While the history holds fewer than n_startup_trials (10)
 *    completed trials, every parameter is drawn uniformly at random.
 *    Trials added from outside (MIPROv2 injects the default program and
 *    each full evaluation) are ordinary history entries here, so they
 *    count toward the startup trials like any other.
 *
 * 2. Split. With n trials in the history, the n_below = gamma(n) =
 *    min(ceil(0.1 n), 25) best ones (highest value; equal values keep
 *    their history order) form the "below" group, the rest the "above"
 *    group. Each group is then put back in history order.
 *
 * 3. Parzen estimators. A group of m observations gives a mixture of
 *    m + 1 components: one per observation, with weight w_i, and a prior
 *    component with weight prior_weight (1.0); the weights are normalised
 *    to sum 1. w_i are Optuna's default weights: all 1 when m < 25, else a
 *    linear ramp from 1/m to 1 over the m - 25 oldest and 1 for the 25
 *    newest. With k = m + 1 kernels, observation i's kernel over the C
 *    choices of one parameter puts prior_weight / k on every choice plus
 *    1 on the observed one, normalised; the prior kernel is uniform.
 *    Multivariate: a component is the product of its kernels over all
 *    parameters, so l(x) = sum_i w_i prod_p K_ip(x_p) is a joint density,
 *    and so is g(x) for the above group.
 *
 * 4. Candidates. n_ei_candidates (24) points are drawn from l: first the
 *    component of each candidate (by weight), then, parameter by
 *    parameter, each candidate's value from its component's kernel.
 *
 * 5. Choice. The candidate with the largest log l(x) - log g(x) wins; of
 *    equal ones the first drawn.
 *
 * Values are maximised (MIPROv2's study direction).
 */
#ifndef PC_MIPRO_TPE_H
#define PC_MIPRO_TPE_H

#include <stddef.h>
#include <stdint.h>

/* The random source: next(ctx) returns a uniform 64-bit draw. */
typedef struct pc__tpe_rng {
  void *ctx;
  uint64_t (*next)(void *ctx);
} pc__tpe_rng;

/* The search space and the sampler's settings. */
typedef struct pc__tpe_config {
  size_t n_params;
  const int64_t *n_choices;  /* borrowed: n_params counts, each >= 1 */
  int64_t n_startup_trials;  /* Optuna's default: 10 */
  int64_t n_ei_candidates;   /* Optuna's default: 24 (>= 1) */
  double prior_weight;       /* Optuna's default: 1.0 (> 0) */
} pc__tpe_config;

/* Fill *cfg with Optuna's defaults for the space (n_choices borrowed). */
void pc__tpe_config_default(pc__tpe_config *cfg, size_t n_params,
                            const int64_t *n_choices);

/* gamma(n) = min(ceil(0.1 n), 25): the size of the "below" group. */
int64_t pc__tpe_gamma(int64_t n);

/* Optuna's default_weights(m)[i], for 0 <= i < m. */
double pc__tpe_weight(size_t i, size_t m);

/* Bytes of working memory pc__tpe_suggest needs for n_trials trials. */
size_t pc__tpe_scratch_size(const pc__tpe_config *cfg, size_t n_trials);

/*
 * pc__tpe_suggest - the next point to try. The history is n_trials
 * trials: trial t chose params[t * n_params + p] for parameter p and
 * scored values[t] (higher is better). `scratch` is caller memory of
 * pc__tpe_scratch_size bytes, suitably aligned for doubles (any malloc'd
 * block is). Writes one choice per parameter to out[0..n_params).
 * Returns 0, or -1 (out untouched) when the configuration or a
 * historical choice is out of range.
 */
int pc__tpe_suggest(const pc__tpe_config *cfg, const int64_t *params,
                    const double *values, size_t n_trials, pc__tpe_rng *rng,
                    void *scratch, int64_t *out);

/* A uniform integer in [0, n) from rng (n >= 1), without modulo bias. */
int64_t pc__tpe_below(pc__tpe_rng *rng, int64_t n);

/* A uniform double in [0, 1) from rng. */
double pc__tpe_unit(pc__tpe_rng *rng);

#endif
