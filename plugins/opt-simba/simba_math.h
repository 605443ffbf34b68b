/*
 * simba_math.h - the pure arithmetic of the SIMBA optimizer: percentiles,
 * the evenly spaced final picks, the program pool's top k, softmax
 * sampling, stable descending orders and Poisson draws.
 *
 * These helpers use only libc and take their randomness as uniform
 * numbers from the caller, so the unit test can drive them with known
 * draws. Their names are pc__simba_* (hidden in the plugin).
 */
#ifndef PC_SIMBA_MATH_H
#define PC_SIMBA_MATH_H

#include <stddef.h>
#include <stdint.h>

/* A source of uniform doubles in [0, 1): `ctx` is the caller's. */
typedef double (*pc__simba_unit_fn)(void *ctx);

/*
 * pc__simba_percentile - the q-th percentile (q in [0, 100]) of the n
 * values sorted[0..n) (ascending, n >= 1), with numpy's default linear
 * interpolation between the two nearest ranks.
 */
double pc__simba_percentile(const double *sorted, size_t n, double q);

/*
 * pc__simba_round_half_even - round(a / d) as Python 3 rounds (halves to
 * the even neighbour), for a >= 0 and d > 0, computed exactly.
 */
int64_t pc__simba_round_half_even(int64_t a, int64_t d);

/*
 * pc__simba_final_indices - SIMBA's final picks among m + 1 winning
 * programs (index 0 is the baseline) for n = num_candidates + 1 >= 2:
 * round(i * m / (n - 1)) for i = 0..n-1 with halves to even, duplicates
 * dropped in order; only 0 when m < 1. out[] (caller storage) must hold n
 * entries. Returns how many were written.
 */
size_t pc__simba_final_indices(int64_t m, int64_t n, int64_t *out);

/*
 * pc__simba_order_desc - order[0..n) receives 0..n-1 sorted by their key
 * tuples descending (keys[i * width .. i * width + width) compared
 * lexicographically), equal tuples keeping their index order, as
 * Python's stable sort with reverse=True does.
 */
void pc__simba_order_desc(const double *keys, size_t width, size_t n,
                          size_t *order);

/*
 * pc__simba_top_k - top_k_plus_baseline: the indices of the k (>= 1)
 * programs with the highest averages avg[0..n) (n >= 1, program 0 is the
 * baseline), best first and stable on ties; when the baseline is not
 * among them the last place goes to it. out[] (caller storage) must hold
 * min(k, n) entries. Returns how many were written.
 */
size_t pc__simba_top_k(const double *avg, size_t n, size_t k, size_t *out);

/*
 * pc__simba_softmax_pick - the position in [0, n) drawn with weights
 * exp(avg[i] / temperature) (temperature > 0, n >= 1) from the uniform
 * u in [0, 1), as Python's random.choices(weights=...) turns one uniform
 * into a pick. The weights are computed relative to the largest average,
 * which leaves the probabilities unchanged and never overflows.
 */
size_t pc__simba_softmax_pick(const double *avg, size_t n,
                              double temperature, double u);

/*
 * pc__simba_poisson - a Poisson(lam) draw (lam >= 0) from the uniforms of
 * `unit`, by numpy's multiplication method for small means: multiply
 * uniforms until the product falls to exp(-lam) or below and count the
 * factors before that. A mean of 10 or more is split into parts below 10
 * whose draws are summed (a sum of independent Poisson variables is
 * Poisson). lam == 0 draws nothing and gives 0.
 */
int64_t pc__simba_poisson(double lam, pc__simba_unit_fn unit, void *ctx);

#endif
