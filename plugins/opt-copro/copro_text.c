/* copro_text.c - DSPy's field prefixes and proposal trimming for COPRO. */
#include <stdint.h>
#include <string.h>

#include "copro_text.h"

/* ------------------------------------------------------------------------ */
/* infer_prefix                                                             */
/*
 * DSPy's infer_prefix() is four regular-expression substitutions and a
 * title-casing. Each substitution puts '_' between two characters that
 * touch, so at most one '_' lands in any gap and the text at most doubles:
 * the work is done in place in the caller's buffer. Each pass scans left
 * to right and resumes after a match, as re.sub does.
 */

static int is_upper(char c)
{
  return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
  return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
  return is_upper(c) || is_lower(c);
}

/* The patterns: whether one matches at s[i], and where it ends. The '_'
 * always goes right after s[i]. */
#define PAT_CAMEL 0   /* (.)([A-Z][a-z]+) */
#define PAT_LOWUP 1   /* ([a-z0-9])([A-Z]) */
#define PAT_ALDIG 2   /* ([a-zA-Z])(\d) */
#define PAT_DIGAL 3   /* (\d)([a-zA-Z]) */

static int match_at(int pat, const char *s, size_t n, size_t i, size_t *end)
{
  size_t k;

  if (i + 1 >= n)
    return 0;
  switch (pat) {
  case PAT_CAMEL:
    if (s[i] == '\n' || !is_upper(s[i + 1]) || i + 2 >= n ||
        !is_lower(s[i + 2]))
      return 0;
    for (k = i + 2; k < n && is_lower(s[k]); k++)
      ;
    *end = k;
    return 1;
  case PAT_LOWUP:
    *end = i + 2;
    return (is_lower(s[i]) || is_digit(s[i])) && is_upper(s[i + 1]);
  case PAT_ALDIG:
    *end = i + 2;
    return is_alpha(s[i]) && is_digit(s[i + 1]);
  default:
    *end = i + 2;
    return is_digit(s[i]) && is_alpha(s[i + 1]);
  }
}

/* One substitution over buf[0..*n), NUL-terminated, growing *n. */
static void substitute(int pat, char *buf, size_t *n)
{
  size_t i = 0, end;

  while (i < *n) {
    if (!match_at(pat, buf, *n, i, &end)) {
      i++;
      continue;
    }
    memmove(buf + i + 2, buf + i + 1, *n - (i + 1) + 1);
    buf[i + 1] = '_';
    (*n)++;
    i = end + 1;
  }
}

size_t pc__copro_prefix_cap(const char *name)
{
  return 2 * strlen(name) + 2;
}

int pc__copro_prefix(const char *name, char *out, size_t cap)
{
  size_t n = strlen(name), a = 0, b, k;

  if (cap < pc__copro_prefix_cap(name))
    return -1;
  memcpy(out, name, n + 1);
  substitute(PAT_CAMEL, out, &n);
  substitute(PAT_LOWUP, out, &n);
  substitute(PAT_ALDIG, out, &n);
  substitute(PAT_DIGAL, out, &n);
  /* Title-case each '_'-separated word unless it is all capitals (Python's
   * isupper(): some capital and no small letter), and join with spaces. */
  while (a <= n) {
    int has_upper = 0, has_lower = 0;

    for (b = a; b < n && out[b] != '_'; b++) {
      has_upper |= is_upper(out[b]);
      has_lower |= is_lower(out[b]);
    }
    if (!(has_upper && !has_lower)) {
      for (k = a; k < b; k++) {
        if (k == a && is_lower(out[k]))
          out[k] = (char)(out[k] - 'a' + 'A');
        else if (k > a && is_upper(out[k]))
          out[k] = (char)(out[k] - 'A' + 'a');
      }
    }
    if (b < n)
      out[b] = ' ';
    a = b + 1;
  }
  out[n] = ':';
  out[n + 1] = '\0';
  return 0;
}

/* ------------------------------------------------------------------------ */
/* strip('"').strip()                                                       */

/* The code point at s[*pos] (advancing *pos), or the byte itself when it
 * does not start a valid UTF-8 sequence. */
static uint32_t next_cp(const char *s, size_t len, size_t *pos)
{
  const unsigned char *u = (const unsigned char *)s + *pos;
  size_t left = len - *pos, need, k;
  uint32_t cp;

  if (u[0] < 0x80) {
    (*pos)++;
    return u[0];
  }
  if (u[0] >= 0xc2 && u[0] <= 0xdf) {
    need = 1;
    cp = u[0] & 0x1f;
  } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
    need = 2;
    cp = u[0] & 0x0f;
  } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
    need = 3;
    cp = u[0] & 0x07;
  } else {
    (*pos)++;
    return u[0];
  }
  if (left <= need) {
    (*pos)++;
    return u[0];
  }
  for (k = 1; k <= need; k++) {
    if ((u[k] & 0xc0) != 0x80) {
      (*pos)++;
      return u[0];
    }
    cp = (cp << 6) | (u[k] & 0x3f);
  }
  *pos += need + 1;
  return cp;
}

/* Python's str.isspace() for one code point. */
static int is_py_space(uint32_t cp)
{
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) ||
         cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

void pc__copro_strip(const char *s, size_t len, size_t *start, size_t *end)
{
  size_t a = 0, b = len, pos, first, last;

  while (a < b && s[a] == '"')
    a++;
  while (b > a && s[b - 1] == '"')
    b--;
  first = b;
  last = a;
  for (pos = a; pos < b;) {
    size_t at = pos;
    uint32_t cp = next_cp(s, b, &pos);

    if (!is_py_space(cp)) {
      if (first == b)
        first = at;
      last = pos;
    }
  }
  *start = first;
  *end = first == b ? first : last;
}
