/*
 * gepa_front.c - GEPA's bookkeeping: the auto budget, the per-instance
 * Pareto front with dominated-program removal and Pareto selection, and
 * the epoch-shuffled batch sampler (reference sections 8.2, 8.5, 8.7).
 */
#include <math.h>
#include <string.h>

#include "gepa.h"

/* ------------------------------------------------------------------------ */
/* Budget.                                                                  */

int64_t pc__gepa_auto_budget(int64_t n_candidates, int64_t n_preds,
                             int64_t n_val)
{
  /* MIPROv2's trial count and cost, as GEPA reuses them: minibatch 35,
   * a full evaluation every 5 trials. */
  const int64_t minibatch = 35, full_eval_steps = 5;
  double by_preds, by_cands;
  int64_t trials, full_evals;

  if (n_preds < 1)
    n_preds = 1;
  by_preds = 2.0 * (2.0 * (double)n_preds) * log2((double)n_candidates);
  by_cands = 1.5 * (double)n_candidates;
  trials = (int64_t)(by_preds > by_cands ? by_preds : by_cands);
  full_evals = (trials + 1) / full_eval_steps + 1 +
               (trials < full_eval_steps ? 1 : 0);
  return n_val + 5 * n_candidates + trials * minibatch + full_evals * n_val;
}

/* ------------------------------------------------------------------------ */
/* The front.                                                               */

int pc__gepa_front_init(pc__gepa_front *f, const pc__opt_host *h,
                        size_t n_val)
{
  memset(f, 0, sizeof(*f));
  f->h = h;
  f->n_val = n_val;
  f->best = pc__opt_calloc(h, n_val, sizeof(*f->best));
  f->members = pc__opt_calloc(h, n_val, sizeof(*f->members));
  f->n_members = pc__opt_calloc(h, n_val, sizeof(*f->n_members));
  f->cap_members = pc__opt_calloc(h, n_val, sizeof(*f->cap_members));
  if (!f->best || !f->members || !f->n_members || !f->cap_members) {
    pc__gepa_front_free(f);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

void pc__gepa_front_free(pc__gepa_front *f)
{
  size_t v;

  if (!f->h)
    return;
  for (v = 0; f->members && v < f->n_val; v++)
    pc__opt_free(f->h, f->members[v]);
  pc__opt_free(f->h, f->members);
  pc__opt_free(f->h, f->best);
  pc__opt_free(f->h, f->n_members);
  pc__opt_free(f->h, f->cap_members);
  memset(f, 0, sizeof(*f));
}

/* Append c to the front of val id v. */
static int front_push(pc__gepa_front *f, size_t v, int64_t c)
{
  if (f->n_members[v] == f->cap_members[v]) {
    size_t cap = f->cap_members[v] ? 2 * f->cap_members[v] : 4;
    int64_t *p = f->h->host->realloc(f->h->host->ctx, f->members[v],
                                     cap * sizeof(*p));

    if (!p)
      return PC_E_NOMEM;
    f->members[v] = p;
    f->cap_members[v] = cap;
  }
  f->members[v][f->n_members[v]++] = c;
  return PC_OK;
}

int pc__gepa_front_add(pc__gepa_front *f, int64_t cand,
                       const double *scores)
{
  size_t v;

  for (v = 0; v < f->n_val; v++) {
    if (f->n_members[v] == 0 || scores[v] > f->best[v]) {
      f->best[v] = scores[v];
      f->n_members[v] = 0;
    } else if (scores[v] < f->best[v]) {
      continue;
    }
    if (front_push(f, v, cand))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

int pc__gepa_front_has(const pc__gepa_front *f, size_t v, int64_t c)
{
  size_t k;

  for (k = 0; k < f->n_members[v]; k++)
    if (f->members[v][k] == c)
      return 1;
  return 0;
}

/* Whether every front holding y also holds a surviving candidate other
 * than y. */
static int dominated(const pc__gepa_front *f, int64_t y,
                     const unsigned char *alive)
{
  size_t v, k;

  for (v = 0; v < f->n_val; v++) {
    int other = 0;

    if (!pc__gepa_front_has(f, v, y))
      continue;
    for (k = 0; k < f->n_members[v] && !other; k++)
      other = f->members[v][k] != y && alive[f->members[v][k]];
    if (!other)
      return 0;
  }
  return 1;
}

int pc__gepa_front_survivors(const pc__gepa_front *f, const double *agg,
                             size_t n, unsigned char *alive)
{
  int64_t *order;
  size_t n_on = 0, v, k, i;
  int removed;

  memset(alive, 0, n);
  for (v = 0; v < f->n_val; v++)
    for (k = 0; k < f->n_members[v]; k++)
      if ((size_t)f->members[v][k] < n)
        alive[f->members[v][k]] = 1;
  order = pc__opt_calloc(f->h, n, sizeof(*order));
  if (!order)
    return PC_E_NOMEM;
  /* The candidates on some front by ascending aggregate score, ties in
   * index order (an insertion sort keeps it stable). */
  for (i = 0; i < n; i++) {
    size_t j;

    if (!alive[i])
      continue;
    for (j = n_on; j > 0 && agg[order[j - 1]] > agg[i]; j--)
      order[j] = order[j - 1];
    order[j] = (int64_t)i;
    n_on++;
  }
  do {
    removed = 0;
    for (i = 0; i < n_on && !removed; i++) {
      int64_t y = order[i];

      if (alive[y] && dominated(f, y, alive)) {
        alive[y] = 0;
        removed = 1;
      }
    }
  } while (removed);
  pc__opt_free(f->h, order);
  return PC_OK;
}

int64_t pc__gepa_front_counts(const pc__gepa_front *f, const double *agg,
                              size_t n, int64_t *counts)
{
  unsigned char *alive = pc__opt_calloc(f->h, n, 1);
  int64_t total = 0;
  size_t v, k;

  if (!alive || pc__gepa_front_survivors(f, agg, n, alive)) {
    pc__opt_free(f->h, alive);
    return -1;
  }
  memset(counts, 0, n * sizeof(*counts));
  for (v = 0; v < f->n_val; v++)
    for (k = 0; k < f->n_members[v]; k++) {
      int64_t c = f->members[v][k];

      if ((size_t)c < n && alive[c]) {
        counts[c]++;
        total++;
      }
    }
  pc__opt_free(f->h, alive);
  return total;
}

void pc__gepa_select_pareto(const pc__gepa_front *f, const double *agg,
                            size_t n, pc__opt_rng *rng, int64_t *out)
{
  int64_t *counts = pc__opt_calloc(f->h, n, sizeof(*counts));
  int64_t total, r;
  size_t c;

  *out = -1;
  if (!counts)
    return;
  total = pc__gepa_front_counts(f, agg, n, counts);
  if (total > 0) {
    /* A uniform pick from the list holding each candidate `count` times,
     * in index order. */
    r = (int64_t)pc__opt_rng_below(rng, (uint64_t)total);
    for (c = 0; c < n; c++) {
      if (r < counts[c]) {
        *out = (int64_t)c;
        break;
      }
      r -= counts[c];
    }
  }
  pc__opt_free(f->h, counts);
}

int64_t pc__gepa_select_best(const double *agg, size_t n)
{
  size_t c, best = 0;

  for (c = 1; c < n; c++)
    if (agg[c] > agg[best])
      best = c;
  return (int64_t)best;
}

/* ------------------------------------------------------------------------ */
/* The batch sampler.                                                       */

int pc__gepa_sampler_init(pc__gepa_sampler *s, const pc__opt_host *h,
                          uint64_t seed, size_t n_train, size_t b)
{
  size_t pad;

  memset(s, 0, sizeof(*s));
  s->h = h;
  s->seed = seed;
  s->n_train = n_train;
  s->b = b;
  s->epoch = -1;
  pad = b ? (b - n_train % b) % b : 0;
  s->order = pc__opt_calloc(h, n_train + pad, sizeof(*s->order));
  s->freq = pc__opt_calloc(h, n_train, sizeof(*s->freq));
  if (!s->order || !s->freq) {
    pc__gepa_sampler_free(s);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

void pc__gepa_sampler_free(pc__gepa_sampler *s)
{
  if (!s->h)
    return;
  pc__opt_free(s->h, s->order);
  pc__opt_free(s->h, s->freq);
  memset(s, 0, sizeof(*s));
}

/* Start epoch e: shuffle the ids, then pad with the least placed ones. */
static void new_epoch(pc__gepa_sampler *s, int64_t e)
{
  pc__opt_rng rng;
  size_t i, pad = (s->b - s->n_train % s->b) % s->b;

  pc__opt_rng_init(&rng, s->h, s->seed, "gepa-batch", (uint64_t)e);
  for (i = 0; i < s->n_train; i++)
    s->order[i] = (int64_t)i;
  pc__opt_rng_shuffle(&rng, s->order, s->n_train);
  for (i = 0; i < s->n_train; i++)
    s->freq[i]++;
  for (i = 0; i < pad; i++) {
    /* The least placed id; on ties the one latest in this epoch's
     * order. */
    size_t k, pick = s->n_train - 1;

    for (k = s->n_train; k-- > 0;)
      if (s->freq[s->order[k]] < s->freq[s->order[pick]])
        pick = k;
    s->order[s->n_train + i] = s->order[pick];
    s->freq[s->order[pick]]++;
  }
  s->n_order = s->n_train + pad;
  s->epoch = e;
}

int pc__gepa_sampler_next(pc__gepa_sampler *s, int64_t it, int64_t *out)
{
  int64_t base = it * (int64_t)s->b, epoch;
  size_t start, k;

  if (s->n_train == 0 || s->b == 0)
    return PC_E_INVALID_ARG;
  epoch = s->epoch < 0 ? 0 : base / (int64_t)s->n_order;
  if (epoch > s->epoch)
    new_epoch(s, epoch);
  start = (size_t)(base % (int64_t)s->n_order);
  for (k = 0; k < s->b; k++)
    out[k] = s->order[(start + k) % s->n_order];
  return PC_OK;
}
