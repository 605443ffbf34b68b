/*
 * simba_math.c - the pure arithmetic of the SIMBA optimizer
 * (simba_math.h).
 */
#include <math.h>
#include <string.h>

#include "simba_math.h"

double pc__simba_percentile(const double *sorted, size_t n, double q)
{
  double pos, t, a, b, diff;
  size_t lo;

  if (n == 0)
    return 0.0;
  if (q <= 0)
    return sorted[0];
  if (q >= 100)
    return sorted[n - 1];
  pos = (double)(n - 1) * (q / 100.0);
  lo = (size_t)floor(pos);
  if (lo >= n - 1)
    return sorted[n - 1];
  t = pos - (double)lo;
  a = sorted[lo];
  b = sorted[lo + 1];
  diff = b - a;
  /* numpy's lerp: from the nearer end, so the result stays in [a, b]. */
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

int64_t pc__simba_round_half_even(int64_t a, int64_t d)
{
  int64_t q = a / d, r = a % d;

  if (2 * r > d || (2 * r == d && (q & 1)))
    q++;
  return q;
}

size_t pc__simba_final_indices(int64_t m, int64_t n, int64_t *out)
{
  size_t count = 0, j;
  int64_t i;

  if (m < 1 || n < 2) {
    out[0] = 0;
    return 1;
  }
  for (i = 0; i < n; i++) {
    int64_t v = pc__simba_round_half_even(i * m, n - 1);

    for (j = 0; j < count && out[j] != v; j++)
      ;
    if (j == count)
      out[count++] = v;
  }
  return count;
}

/* Compare the key tuples of items a and b: > 0 when a's is larger. */
static int tuple_cmp(const double *keys, size_t width, size_t a, size_t b)
{
  size_t k;

  for (k = 0; k < width; k++) {
    double x = keys[a * width + k], y = keys[b * width + k];

    if (x > y)
      return 1;
    if (x < y)
      return -1;
  }
  return 0;
}

void pc__simba_order_desc(const double *keys, size_t width, size_t n,
                          size_t *order)
{
  size_t i, j;

  /* Insertion sort: stable, and the lists are short (a batch, a pool). */
  for (i = 0; i < n; i++) {
    for (j = i; j > 0 && tuple_cmp(keys, width, order[j - 1], i) < 0; j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
}

size_t pc__simba_top_k(const double *avg, size_t n, size_t k, size_t *out)
{
  size_t i, m = k < n ? k : n, w = 0;

  if (m == 0)
    return 0;
  /* The stable descending order of all n, cut to its first m. Selection
   * keeps the memory use at m entries: each place takes the first best
   * index not yet taken. */
  for (w = 0; w < m; w++) {
    size_t best = n;

    for (i = 0; i < n; i++) {
      size_t j;

      for (j = 0; j < w && out[j] != i; j++)
        ;
      if (j < w)
        continue;
      if (best == n || avg[i] > avg[best])
        best = i;
    }
    out[w] = best;
  }
  for (i = 0; i < m && out[i] != 0; i++)
    ;
  if (i == m)
    out[m - 1] = 0;
  return m;
}

size_t pc__simba_softmax_pick(const double *avg, size_t n,
                              double temperature, double u)
{
  double top = avg[0], total = 0.0, acc = 0.0, x;
  size_t i;

  if (n <= 1)
    return 0;
  for (i = 1; i < n; i++)
    if (avg[i] > top)
      top = avg[i];
  for (i = 0; i < n; i++)
    total += exp((avg[i] - top) / temperature);
  if (!(total > 0)) {
    /* Cannot happen (the largest weight is 1); DSPy picks uniformly. */
    i = (size_t)(u * (double)n);
    return i < n ? i : n - 1;
  }
  /* random.choices: bisect the cumulative weights at u * total. */
  x = u * total;
  for (i = 0; i < n; i++) {
    acc += exp((avg[i] - top) / temperature);
    if (x < acc)
      return i;
  }
  return n - 1;
}

/* numpy's random_poisson_mult for 0 < lam < 10. */
static int64_t poisson_small(double lam, pc__simba_unit_fn unit, void *ctx)
{
  double enlam = exp(-lam), prod = 1.0;
  int64_t x = 0;

  for (;;) {
    prod *= unit(ctx);
    if (prod > enlam)
      x++;
    else
      return x;
  }
}

int64_t pc__simba_poisson(double lam, pc__simba_unit_fn unit, void *ctx)
{
  int64_t total = 0;

  if (!(lam > 0) || !isfinite(lam))
    return 0;
  while (lam >= 10.0) {
    total += poisson_small(5.0, unit, ctx);
    lam -= 5.0;
  }
  return total + poisson_small(lam, unit, ctx);
}
