/*
 * stats.h - summary statistics of scores: the mean and its 95%
 * confidence interval.
 */
#ifndef PC_STATS_H
#define PC_STATS_H

#include <stddef.h>

/*
 * pc_stats_mean_ci - mean of `n` scores in [0, 1] and a 95% confidence
 * interval for it. When every score is 0 or 1 the interval is Wilson's
 * score interval (sound for proportions, even at 0% or 100%); otherwise
 * it is the Student t interval mean +- t(0.975, n-1) * s / sqrt(n),
 * clipped to [0, 1]. n == 0 gives 0 and [0, 1]; n == 1 with a graded
 * score gives [0, 1].
 */
void pc_stats_mean_ci(const double *x, size_t n, double *mean, double *lo,
                      double *hi);

/* The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1;
 * a table up to 30, then a series in 1/df that is within 0.001). */
double pc_stats_t975(size_t df);

#endif
