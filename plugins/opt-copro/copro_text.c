/* copro_text.c - DSPy's proposal trimming for COPRO. */
#include <stdint.h>
#include <string.h>

#include "copro_text.h"

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
