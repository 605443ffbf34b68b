/*
 * mipro_util.c - MIPROv2's pure helpers: trial counts, the default split,
 * the full-evaluation schedule and strip_prefix (mipro_util.h).
 */
#include <math.h>

#include "mipro_util.h"

int64_t pc__mipro_num_trials(int64_t n, int64_t predictors, int zeroshot)
{
  double v = (double)(zeroshot ? predictors : 2 * predictors);
  double a, b;

  if (n < 1)
    n = 1;
  a = 2.0 * v * log2((double)n);
  b = 1.5 * (double)n;
  return (int64_t)(a > b ? a : b);
}

int64_t pc__mipro_default_val_size(int64_t n_train)
{
  int64_t v = (int64_t)(0.8 * (double)n_train);

  if (v < 1)
    v = 1;
  return v < 1000 ? v : 1000;
}

int64_t pc__mipro_adjusted_trials(int64_t num_trials, int64_t steps)
{
  if (steps < 1)
    steps = 1;
  return num_trials + num_trials / steps + 1 +
         (num_trials % steps ? 1 : 0);
}

int pc__mipro_full_eval_due(int64_t trial_num, int64_t adjusted,
                            int64_t steps)
{
  if (steps < 1)
    steps = 1;
  return trial_num % (steps + 1) == 0 || trial_num == adjusted - 1;
}

int64_t pc__mipro_full_evals(int64_t num_trials, int64_t steps)
{
  if (steps < 1)
    steps = 1;
  if (num_trials <= 0)
    return 0;
  return (num_trials + steps - 1) / steps;
}

/* ------------------------------------------------------------------------ */
/* Text.                                                                    */

/* Python's \s, on ASCII. */
static int is_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* [\w'-]: letters, digits, '_', and bytes of UTF-8 sequences. */
static int is_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '\'' || c == '-' ||
         c >= 0x80;
}

void pc__mipro_strip_prefix(const char *s, size_t len, size_t *start,
                            size_t *end)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, a = 0, b = len;
  int words = 0;

  /* ^[\*\s]*(([\w'-]+\s+){0,4}[\w'-]+):\s* */
  while (i < len && (u[i] == '*' || is_space(u[i])))
    i++;
  while (i < len && words < 5) {
    size_t w = i;

    while (i < len && is_word(u[i]))
      i++;
    if (i == w)
      break;  /* no word here: no label */
    words++;
    if (i < len && u[i] == ':') {
      i++;
      while (i < len && is_space(u[i]))
        i++;
      a = i;
      break;
    }
    if (i >= len || !is_space(u[i]))
      break;
    while (i < len && is_space(u[i]))
      i++;
  }
  /* .strip('"') */
  while (a < b && s[a] == '"')
    a++;
  while (b > a && s[b - 1] == '"')
    b--;
  *start = a;
  *end = b;
}
