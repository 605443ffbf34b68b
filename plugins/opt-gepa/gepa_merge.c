/*
 * gepa_merge.c - GEPA's merge (system-aware crossover, reference section
 * 8.8): finding two candidates with a common ancestor, building the child
 * component by component, and the stratified val subsample it is tried
 * on.
 */
#include <string.h>

#include "gepa.h"

void pc__gepa_merge_log_init(pc__gepa_merge_log *m, const pc__opt_host *h,
                             size_t n_comp)
{
  memset(m, 0, sizeof(*m));
  m->h = h;
  m->n_comp = n_comp;
}

void pc__gepa_merge_log_free(pc__gepa_merge_log *m)
{
  if (!m->h)
    return;
  pc__opt_free(m->h, m->triples);
  pc__opt_free(m->h, m->children);
  memset(m, 0, sizeof(*m));
}

/* Grow *arr (of `width` int64s per entry, *cap entries) for one more. */
static int grow(const pc__opt_host *h, int64_t **arr, size_t *cap,
                size_t n, size_t width)
{
  size_t want;
  int64_t *p;

  if (n < *cap)
    return PC_OK;
  want = *cap ? 2 * *cap : 8;
  p = h->host->realloc(h->host->ctx, *arr, want * width * sizeof(*p));
  if (!p)
    return PC_E_NOMEM;
  *arr = p;
  *cap = want;
  return PC_OK;
}

static int tried_triple(const pc__gepa_merge_log *m, int64_t i, int64_t j,
                        int64_t a)
{
  size_t k;

  for (k = 0; k < m->n_triples; k++)
    if (m->triples[3 * k] == i && m->triples[3 * k + 1] == j &&
        m->triples[3 * k + 2] == a)
      return 1;
  return 0;
}

static int made_child(const pc__gepa_merge_log *m, int64_t i, int64_t j,
                      const int64_t *src)
{
  size_t k, w = 2 + m->n_comp;

  for (k = 0; k < m->n_children; k++) {
    const int64_t *e = &m->children[w * k];

    if (e[0] == i && e[1] == j &&
        !memcmp(e + 2, src, m->n_comp * sizeof(*src)))
      return 1;
  }
  return 0;
}

void pc__gepa_ancestors(const pc__gepa_cand *c, size_t n, int64_t who,
                        unsigned char *anc)
{
  size_t k;
  int grew;
  int p;

  memset(anc, 0, n);
  for (p = 0; p < c[who].n_parents; p++)
    anc[c[who].parents[p]] = 1;
  /* Parents always have lower indices than their children, so one pass
   * from the top down closes the set; repeat anyway until stable. */
  do {
    grew = 0;
    for (k = n; k-- > 0;) {
      if (!anc[k])
        continue;
      for (p = 0; p < c[k].n_parents; p++)
        if (!anc[c[k].parents[p]]) {
          anc[c[k].parents[p]] = 1;
          grew = 1;
        }
    }
  } while (grew);
}

/* Whether a component exists where the ancestor equals one parent and the
 * parents differ (GEPA's "desirable predictors"). */
static int desirable(const pc__gepa_cand *c, size_t n_comp, int64_t i,
                     int64_t j, int64_t a)
{
  size_t k;

  for (k = 0; k < n_comp; k++) {
    const char *ta = c[a].texts[k], *ti = c[i].texts[k];
    const char *tj = c[j].texts[k];

    if ((!strcmp(ta, ti) || !strcmp(ta, tj)) && strcmp(ti, tj))
      return 1;
  }
  return 0;
}

void pc__gepa_merge_sources(const pc__gepa_cand *c, size_t n_comp,
                            int64_t i, int64_t j, int64_t a,
                            pc__opt_rng *rng, int64_t *src)
{
  size_t k;

  for (k = 0; k < n_comp; k++) {
    const char *ta = c[a].texts[k], *ti = c[i].texts[k];
    const char *tj = c[j].texts[k];
    int same_i = !strcmp(ta, ti), same_j = !strcmp(ta, tj);

    if (!strcmp(ti, tj))
      src[k] = i;
    else if (same_i || same_j)
      src[k] = same_i ? j : i;
    else if (c[i].agg != c[j].agg)
      src[k] = c[i].agg > c[j].agg ? i : j;
    else
      src[k] = pc__opt_rng_below(rng, 2) ? j : i;
  }
}

/* One look for a pair (GEPA's find_common_ancestor_pair): up to 10 draws
 * of two survivors. *found = 0 when none qualifies. */
static int find_pair(const pc__gepa_merge_log *m, const pc__gepa_cand *c,
                     size_t n, const int64_t *pool, size_t n_pool,
                     pc__opt_rng *rng, int *found, int64_t *pi, int64_t *pj,
                     int64_t *pa)
{
  const pc__opt_host *h = m->h;
  unsigned char *anc_i = pc__opt_calloc(h, n, 1);
  unsigned char *anc_j = pc__opt_calloc(h, n, 1);
  int64_t *common = pc__opt_calloc(h, n, sizeof(*common));
  int attempt, rc = PC_OK;

  *found = 0;
  if (!anc_i || !anc_j || !common) {
    rc = PC_E_NOMEM;
    goto out;
  }
  for (attempt = 0; attempt < PC__GEPA_MERGE_ATTEMPTS && !*found;
       attempt++) {
    int64_t two[2], i, j;
    size_t k, n_common = 0;
    double total = 0, r;
    int64_t *copy = pc__opt_calloc(h, n_pool, sizeof(*copy));

    if (!copy) {
      rc = PC_E_NOMEM;
      goto out;
    }
    memcpy(copy, pool, n_pool * sizeof(*copy));
    pc__opt_rng_sample(rng, copy, n_pool, 2);
    two[0] = copy[0];
    two[1] = copy[1];
    pc__opt_free(h, copy);
    i = two[0] < two[1] ? two[0] : two[1];
    j = two[0] < two[1] ? two[1] : two[0];
    pc__gepa_ancestors(c, n, i, anc_i);
    pc__gepa_ancestors(c, n, j, anc_j);
    if (anc_i[j] || anc_j[i])
      continue;
    for (k = 0; k < n; k++) {
      int64_t a = (int64_t)k;

      if (!anc_i[k] || !anc_j[k] || tried_triple(m, i, j, a) ||
          c[a].agg > c[i].agg || c[a].agg > c[j].agg ||
          !desirable(c, m->n_comp, i, j, a))
        continue;
      common[n_common++] = a;
      total += c[a].agg;
    }
    if (n_common == 0)
      continue;
    /* The ancestor, drawn with weight its aggregate score (uniformly
     * when every weight is 0, where Python's choices would fail). */
    if (total > 0) {
      r = pc__opt_rng_unit(rng) * total;
      *pa = common[n_common - 1];
      for (k = 0; k < n_common; k++) {
        if (r < c[common[k]].agg) {
          *pa = common[k];
          break;
        }
        r -= c[common[k]].agg;
      }
    } else {
      *pa = common[pc__opt_rng_below(rng, n_common)];
    }
    *pi = i;
    *pj = j;
    *found = 1;
  }
out:
  pc__opt_free(h, anc_i);
  pc__opt_free(h, anc_j);
  pc__opt_free(h, common);
  return rc;
}

int pc__gepa_merge_find(pc__gepa_merge_log *m, const pc__gepa_cand *c,
                        size_t n, const unsigned char *alive,
                        pc__opt_rng *rng, int *found, int64_t *i,
                        int64_t *j, int64_t *a, int64_t *src)
{
  const pc__opt_host *h = m->h;
  int64_t *pool;
  size_t n_pool = 0, k;
  int attempt, rc = PC_OK;

  *found = 0;
  if (n < 3)
    return PC_OK;
  pool = pc__opt_calloc(h, n, sizeof(*pool));
  if (!pool)
    return PC_E_NOMEM;
  for (k = 0; k < n; k++)
    if (alive[k])
      pool[n_pool++] = (int64_t)k;
  for (attempt = 0; n_pool >= 2 && attempt < PC__GEPA_MERGE_ATTEMPTS;
       attempt++) {
    int ok = 0;

    rc = find_pair(m, c, n, pool, n_pool, rng, &ok, i, j, a);
    if (rc)
      break;
    if (!ok || tried_triple(m, *i, *j, *a))
      continue;
    pc__gepa_merge_sources(c, m->n_comp, *i, *j, *a, rng, src);
    if (made_child(m, *i, *j, src))
      continue;
    if (grow(h, &m->triples, &m->cap_triples, m->n_triples, 3) ||
        grow(h, &m->children, &m->cap_children, m->n_children,
             2 + m->n_comp)) {
      rc = PC_E_NOMEM;
      break;
    }
    m->triples[3 * m->n_triples] = *i;
    m->triples[3 * m->n_triples + 1] = *j;
    m->triples[3 * m->n_triples + 2] = *a;
    m->n_triples++;
    {
      int64_t *e = &m->children[(2 + m->n_comp) * m->n_children++];

      e[0] = *i;
      e[1] = *j;
      memcpy(e + 2, src, m->n_comp * sizeof(*src));
    }
    *found = 1;
    break;
  }
  pc__opt_free(h, pool);
  return rc;
}

/* Move a random sample of `take` of ids[0..n) onto the end of out. */
static void take_sample(pc__opt_rng *rng, int64_t *ids, size_t n,
                        size_t take, int64_t *out, size_t *n_out)
{
  size_t k;

  pc__opt_rng_sample(rng, ids, n, take);
  for (k = 0; k < take; k++)
    out[(*n_out)++] = ids[k];
}

int pc__gepa_merge_subsample(const pc__opt_host *h, const double *s1,
                             const double *s2, size_t n_val, size_t k,
                             pc__opt_rng *rng, int64_t *out)
{
  int64_t *bucket = pc__opt_calloc(h, n_val, sizeof(*bucket));
  unsigned char *used = pc__opt_calloc(h, n_val, 1);
  size_t n_each = k / 3 + (k % 3 ? 1 : 0), n_out = 0, g, v;
  int rc = PC_OK;

  if (!bucket || !used) {
    rc = PC_E_NOMEM;
    goto out;
  }
  if (n_each < 1)
    n_each = 1;
  /* Group 0: parent 1 higher; group 1: parent 2 higher; group 2: ties. */
  for (g = 0; g < 3 && n_out < k; g++) {
    size_t n_b = 0, take;

    for (v = 0; v < n_val; v++) {
      int grp = s1[v] > s2[v] ? 0 : s2[v] > s1[v] ? 1 : 2;

      if ((size_t)grp == g)
        bucket[n_b++] = (int64_t)v;
    }
    take = n_b < n_each ? n_b : n_each;
    if (take > k - n_out)
      take = k - n_out;
    take_sample(rng, bucket, n_b, take, out, &n_out);
  }
  for (v = 0; v < n_out; v++)
    used[out[v]] = 1;
  if (n_out < k && n_val > 0) {
    size_t n_b = 0, want = k - n_out;

    for (v = 0; v < n_val; v++)
      if (!used[v])
        bucket[n_b++] = (int64_t)v;
    if (n_b >= want) {
      take_sample(rng, bucket, n_b, want, out, &n_out);
    } else {
      while (n_out < k)
        out[n_out++] = (int64_t)pc__opt_rng_below(rng, n_val);
    }
  }
out:
  pc__opt_free(h, bucket);
  pc__opt_free(h, used);
  return rc;
}
