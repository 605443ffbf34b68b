/*
 * tpe.c - the Tree-structured Parzen Estimator over categorical
 * parameters that MIPROv2's search uses (tpe.h describes the algorithm).
 */
#include <math.h>
#include <string.h>

#include "tpe.h"

void pc__tpe_config_default(pc__tpe_config *cfg, size_t n_params,
                            const int64_t *n_choices)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->n_params = n_params;
  cfg->n_choices = n_choices;
  cfg->n_startup_trials = 10;
  cfg->n_ei_candidates = 24;
  cfg->prior_weight = 1.0;
}

int64_t pc__tpe_gamma(int64_t n)
{
  int64_t g;

  if (n <= 0)
    return 0;
  g = (n + 9) / 10;  /* ceil(0.1 n) for integers */
  return g < 25 ? g : 25;
}

double pc__tpe_weight(size_t i, size_t m)
{
  size_t ramp;

  if (m < 25 || i >= m)
    return 1.0;
  ramp = m - 25;
  if (i >= ramp)
    return 1.0;
  /* numpy.linspace(1/m, 1, num=ramp)[i]; with one point, just 1/m. */
  if (ramp == 1)
    return 1.0 / (double)m;
  return 1.0 / (double)m +
         (1.0 - 1.0 / (double)m) * (double)i / (double)(ramp - 1);
}

int64_t pc__tpe_below(pc__tpe_rng *rng, int64_t n)
{
  uint64_t un = (uint64_t)n, floor, u;

  if (n <= 1)
    return 0;
  /* Reject the lowest (2^64 mod n) values so every residue is equally
   * likely. */
  floor = (0 - un) % un;
  do
    u = rng->next(rng->ctx);
  while (u < floor);
  return (int64_t)(u % un);
}

double pc__tpe_unit(pc__tpe_rng *rng)
{
  return (double)(rng->next(rng->ctx) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------ */
/* Working memory.                                                          */

/* The pieces of the caller's scratch block. */
struct work {
  double *wb;        /* n_below + 1 mixture weights of l, normalised */
  double *wa;        /* n_above + 1 mixture weights of g, normalised */
  double *terms;     /* n + 1: the log terms of one density */
  int64_t *cand;     /* n_ei * n_params candidate values */
  int64_t *comp;     /* n_ei: each candidate's component */
  size_t *below;     /* trial numbers of the below group, history order */
  size_t *above;     /* trial numbers of the above group, history order */
};

size_t pc__tpe_scratch_size(const pc__tpe_config *cfg, size_t n_trials)
{
  size_t n = n_trials, e = cfg->n_ei_candidates > 0
                           ? (size_t)cfg->n_ei_candidates : 1;

  return (3 * n + 5) * sizeof(double) +
         e * (cfg->n_params + 1) * sizeof(int64_t) +
         2 * (n + 1) * sizeof(size_t);
}

static void carve(const pc__tpe_config *cfg, size_t n, void *scratch,
                  struct work *w)
{
  size_t e = (size_t)cfg->n_ei_candidates;
  double *d = scratch;
  int64_t *i64;

  w->wb = d;
  w->wa = d + (n + 1);
  w->terms = d + 2 * (n + 1);
  i64 = (int64_t *)(d + (3 * n + 5));
  w->cand = i64;
  w->comp = i64 + e * cfg->n_params;
  w->below = (size_t *)(i64 + e * (cfg->n_params + 1));
  w->above = w->below + (n + 1);
}

/* ------------------------------------------------------------------------ */
/* The Parzen estimators.                                                   */

/* A value for ranking: NaN ranks below everything. */
static double rank_value(double v)
{
  return isnan(v) ? -INFINITY : v;
}

/*
 * Split the history: the gamma(n) best trials (equal values in history
 * order) go to w->below, the rest to w->above, both in history order.
 * Uses w->above as a flag array while choosing.
 */
static void split(const double *values, size_t n, struct work *w,
                  size_t *n_below, size_t *n_above)
{
  size_t want = (size_t)pc__tpe_gamma((int64_t)n), k, t, nb = 0, na = 0;
  size_t *flag = w->above;

  if (want > n)
    want = n;
  for (t = 0; t < n; t++)
    flag[t] = 0;
  for (k = 0; k < want; k++) {
    size_t best = n;

    for (t = 0; t < n; t++)
      if (!flag[t] &&
          (best == n || rank_value(values[t]) > rank_value(values[best])))
        best = t;
    flag[best] = 1;
  }
  for (t = 0; t < n; t++)
    if (flag[t])
      w->below[nb++] = t;
  for (t = 0, na = 0; t < n; t++)
    if (!flag[t])
      flag[na++] = t;  /* na <= t, so no flag still needed is overwritten */
  *n_below = nb;
  *n_above = na;
}

/* The m + 1 normalised mixture weights of a group of m observations. */
static void mixture_weights(size_t m, double prior_weight, double *w)
{
  double sum = 0;
  size_t i;

  for (i = 0; i < m; i++) {
    w[i] = pc__tpe_weight(i, m);
    sum += w[i];
  }
  w[m] = prior_weight;
  sum += prior_weight;
  for (i = 0; i <= m; i++)
    w[i] /= sum;
}

/* Kernel probability of choice c under component i of a group of m
 * observations (i == m: the prior), for a parameter with C choices whose
 * observed value in component i is `obs`. */
static double kernel(size_t i, size_t m, int64_t obs, int64_t c, int64_t C,
                     double prior_weight)
{
  double base;

  if (i == m)
    return 1.0 / (double)C;
  base = prior_weight / (double)(m + 1);
  return (base + (c == obs ? 1.0 : 0.0)) / (base * (double)C + 1.0);
}

/* log of the group's density at point x (n_params values). */
static double log_density(const pc__tpe_config *cfg, const int64_t *params,
                          const size_t *members, size_t m, const double *w,
                          const int64_t *x, double *terms)
{
  double top = -INFINITY, sum = 0;
  size_t i, p;

  for (i = 0; i <= m; i++) {
    double t = log(w[i]);

    for (p = 0; p < cfg->n_params; p++) {
      int64_t obs = i < m ? params[members[i] * cfg->n_params + p] : -1;

      t += log(kernel(i, m, obs, x[p], cfg->n_choices[p],
                      cfg->prior_weight));
    }
    terms[i] = t;
    if (t > top)
      top = t;
  }
  if (!isfinite(top))
    return top;
  for (i = 0; i <= m; i++)
    sum += exp(terms[i] - top);
  return top + log(sum);
}

/* Index drawn from the distribution p[0..n) (summing to 1) with a uniform
 * u: the first index whose cumulative sum exceeds u. */
static size_t pick(const double *p, size_t n, double u)
{
  double cum = 0;
  size_t i;

  for (i = 0; i + 1 < n; i++) {
    cum += p[i];
    if (u < cum)
      return i;
  }
  return n - 1;
}

int pc__tpe_suggest(const pc__tpe_config *cfg, const int64_t *params,
                    const double *values, size_t n_trials, pc__tpe_rng *rng,
                    void *scratch, int64_t *out)
{
  struct work w;
  size_t nb, na, e, p, k, best = 0;
  double best_score = -INFINITY;

  if (!cfg || !rng || !rng->next || !out || cfg->n_ei_candidates < 1 ||
      !(cfg->prior_weight > 0) || (cfg->n_params && !cfg->n_choices))
    return -1;
  for (p = 0; p < cfg->n_params; p++)
    if (cfg->n_choices[p] < 1)
      return -1;
  for (k = 0; k < n_trials * cfg->n_params; k++)
    if (params[k] < 0 || params[k] >= cfg->n_choices[k % cfg->n_params])
      return -1;

  /* 1. Startup: uniform draws. */
  if ((int64_t)n_trials < cfg->n_startup_trials) {
    for (p = 0; p < cfg->n_params; p++)
      out[p] = pc__tpe_below(rng, cfg->n_choices[p]);
    return 0;
  }
  if (!scratch)
    return -1;

  /* 2. and 3. Split and weights. */
  carve(cfg, n_trials, scratch, &w);
  split(values, n_trials, &w, &nb, &na);
  mixture_weights(nb, cfg->prior_weight, w.wb);
  mixture_weights(na, cfg->prior_weight, w.wa);

  /* 4. Candidates from l: components first, then values per parameter. */
  e = (size_t)cfg->n_ei_candidates;
  for (k = 0; k < e; k++)
    w.comp[k] = (int64_t)pick(w.wb, nb + 1, pc__tpe_unit(rng));
  for (p = 0; p < cfg->n_params; p++) {
    int64_t C = cfg->n_choices[p];

    for (k = 0; k < e; k++) {
      size_t i = (size_t)w.comp[k];
      int64_t obs = i < nb ? params[w.below[i] * cfg->n_params + p] : -1;
      double u = pc__tpe_unit(rng), cum = 0;
      int64_t c;

      for (c = 0; c + 1 < C; c++) {
        cum += kernel(i, nb, obs, c, C, cfg->prior_weight);
        if (u < cum)
          break;
      }
      w.cand[k * cfg->n_params + p] = c;
    }
  }

  /* 5. The best ratio l / g, first of equals. */
  for (k = 0; k < e; k++) {
    const int64_t *x = &w.cand[k * cfg->n_params];
    double s = log_density(cfg, params, w.below, nb, w.wb, x, w.terms) -
               log_density(cfg, params, w.above, na, w.wa, x, w.terms);

    if (k == 0 || s > best_score) {
      best_score = s;
      best = k;
    }
  }
  memcpy(out, &w.cand[best * cfg->n_params],
         cfg->n_params * sizeof(*out));
  return 0;
}
