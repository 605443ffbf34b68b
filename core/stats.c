/*
 * stats.c - mean and 95% confidence interval of scores.
 */
#include <math.h>

#include "stats.h"

#define Z975 1.959963984540054

double pc_stats_t975(size_t df)
{
  static const double table[31] = {
    0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
    2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
    2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
    2.042,
  };
  double g1, g2, d = (double)df;

  if (df == 0)
    return INFINITY;
  if (df <= 30)
    return table[df];
  /* Cornish-Fisher expansion of t around the normal quantile. */
  g1 = (pow(Z975, 3) + Z975) / 4.0;
  g2 = (5 * pow(Z975, 5) + 16 * pow(Z975, 3) + 3 * Z975) / 96.0;
  return Z975 + g1 / d + g2 / (d * d);
}

static double clip01(double v)
{
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

void pc_stats_mean_ci(const double *x, size_t n, double *mean, double *lo,
                      double *hi)
{
  double sum = 0, ss = 0, m, s, half;
  int binary = 1;

  *mean = 0;
  *lo = 0;
  *hi = 1;
  if (n == 0)
    return;
  for (size_t i = 0; i < n; i++) {
    sum += x[i];
    if (x[i] != 0.0 && x[i] != 1.0)
      binary = 0;
  }
  m = sum / (double)n;
  *mean = m;
  if (binary) {
    double z2 = Z975 * Z975, nn = (double)n;
    double centre = (m + z2 / (2 * nn)) / (1 + z2 / nn);

    half = Z975 * sqrt(m * (1 - m) / nn + z2 / (4 * nn * nn)) /
           (1 + z2 / nn);
    *lo = clip01(centre - half);
    *hi = clip01(centre + half);
    return;
  }
  if (n == 1)
    return;
  for (size_t i = 0; i < n; i++)
    ss += (x[i] - m) * (x[i] - m);
  s = sqrt(ss / (double)(n - 1));
  half = pc_stats_t975(n - 1) * s / sqrt((double)n);
  *lo = clip01(m - half);
  *hi = clip01(m + half);
}
