/*
 * bt_plan.c - the pure parts of the `better-together` optimizer: strategy
 * parsing, the held-out val size, strategy labels and candidate ranking
 * (reference dspy-optimizers.md section 9.2).
 */
#include <stdio.h>
#include <string.h>

#include "bt_plan.h"

int pc__bt_strategy_parse(const char *text, char *letters, size_t *n,
                          char *msg, size_t msg_len)
{
  const char *p = text ? text : "";
  size_t sep = strlen(PC__BT_SEP), count = 0;

  *n = 0;
  letters[0] = '\0';
  for (;;) {
    const char *end = strstr(p, PC__BT_SEP);
    size_t len = end ? (size_t)(end - p) : strlen(p);

    if (count == PC__BT_MAX_STEPS) {
      snprintf(msg, msg_len, "strategy: more than %d steps",
               PC__BT_MAX_STEPS);
      goto fail;
    }
    if (len != 1 || (p[0] != 'p' && p[0] != 'w')) {
      if (len == 0)
        snprintf(msg, msg_len, "strategy: step %zu is empty (steps are p "
                 "or w, separated by exactly \"" PC__BT_SEP "\")",
                 count + 1);
      else
        snprintf(msg, msg_len, "strategy: step %zu \"%.*s\"%s is not a "
                 "step: use p (prompt optimizer) or w (fine-tune weights), "
                 "separated by exactly \"" PC__BT_SEP "\"", count + 1,
                 (int)(len > 40 ? 40 : len), p, len > 40 ? "..." : "");
      goto fail;
    }
    letters[count++] = p[0];
    if (!end)
      break;
    p = end + sep;
  }
  letters[count] = '\0';
  *n = count;
  return 0;
fail:
  letters[0] = '\0';
  return -1;
}

int pc__bt_strategy_prefix(const char *letters, size_t k, char *out,
                           size_t cap)
{
  size_t used = 0, i;

  if (cap == 0)
    return -1;
  out[0] = '\0';
  for (i = 0; i < k; i++) {
    const char *sep = i ? PC__BT_SEP : "";
    size_t need = strlen(sep) + 1;

    if (used + need + 1 > cap) {
      out[0] = '\0';
      return -1;
    }
    memcpy(out + used, sep, strlen(sep));
    used += strlen(sep);
    out[used++] = letters[i];
    out[used] = '\0';
  }
  return 0;
}

int64_t pc__bt_val_count(int64_t n_train, double ratio)
{
  double v = ratio * (double)n_train;

  if (!(v > 0))
    return 0;
  return (int64_t)v;
}

int64_t pc__bt_evaluations(const char *letters, size_t n, int export_only)
{
  int64_t count = 1;
  size_t i;

  for (i = 0; i < n; i++) {
    if (export_only && letters[i] == 'w')
      break;
    count++;
  }
  return count;
}

/* Whether candidate a ranks before candidate b (a < b in number). */
static int ahead(const double *score, const int *has, size_t a, size_t b)
{
  if (!has[a])
    return 0;
  if (!has[b])
    return 1;
  return score[a] > score[b];
}

void pc__bt_rank(const double *score, const int *has, size_t n,
                 size_t *order)
{
  size_t i, j;

  /* Insertion sort: stable, and n is a handful of candidates. */
  for (i = 0; i < n; i++) {
    size_t t = i;

    for (j = i; j > 0 && ahead(score, has, t, order[j - 1]); j--)
      order[j] = order[j - 1];
    order[j] = t;
  }
}
