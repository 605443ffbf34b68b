/*
 * normalize.c - DSPy's normalize_text and DPR simple tokenizer with
 * Python 3's Unicode semantics, driven by the generated tables of
 * unicode_tables.c.
 */
#include <string.h>

#include "normalize.h"
#include "unicode_tables.h"

/* ------------------------------------------------------------------------ */
/* Storage.                                                                  */

void pc__mb_buf_init(pc__mb_buf *b, const pc_host_api *host)
{
  b->host = host;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void pc__mb_buf_free(pc__mb_buf *b)
{
  if (b->data)
    b->host->free(b->host->ctx, b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

/* Make room for `need` elements of `size` bytes in *v (capacity *cap). */
static int grow(const pc_host_api *host, void **v, size_t *cap, size_t need,
                size_t size)
{
  size_t n = *cap ? *cap : 16;
  void *p;

  if (need <= *cap)
    return PC_OK;
  if (need > PC__MB_MAX_BYTES / size)
    return PC_E_NOMEM;
  while (n < need)
    n = n > PC__MB_MAX_BYTES / size / 2 ? PC__MB_MAX_BYTES / size : n * 2;
  p = host->realloc(host->ctx, *v, n * size);
  if (!p)
    return PC_E_NOMEM;
  *v = p;
  *cap = n;
  return PC_OK;
}

int pc__mb_buf_put(pc__mb_buf *b, const char *s, size_t n)
{
  void *v = b->data;

  if (n > PC__MB_MAX_BYTES - b->len - 1 ||
      grow(b->host, &v, &b->cap, b->len + n + 1, 1))
    return PC_E_NOMEM;
  b->data = v;
  if (n)
    memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PC_OK;
}

int pc__mb_buf_puts(pc__mb_buf *b, const char *s)
{
  return pc__mb_buf_put(b, s, strlen(s));
}

const char *pc__mb_buf_str(const pc__mb_buf *b)
{
  return b->data ? b->data : "";
}

void pc__mb_cps_init(pc__mb_cps *a, const pc_host_api *host)
{
  a->host = host;
  a->v = NULL;
  a->len = 0;
  a->cap = 0;
}

void pc__mb_cps_free(pc__mb_cps *a)
{
  if (a->v)
    a->host->free(a->host->ctx, a->v);
  a->v = NULL;
  a->len = 0;
  a->cap = 0;
}

int pc__mb_cps_push(pc__mb_cps *a, uint32_t cp)
{
  void *v = a->v;

  if (grow(a->host, &v, &a->cap, a->len + 1, sizeof(*a->v)))
    return PC_E_NOMEM;
  a->v = v;
  a->v[a->len++] = cp;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* UTF-8.                                                                    */

uint32_t pc__mb_utf8_next(const char *s, size_t len, size_t *pos)
{
  const unsigned char *u = (const unsigned char *)s + *pos;
  size_t left = len - *pos, n, i;
  uint32_t c;

  if (u[0] < 0x80) {
    *pos += 1;
    return u[0];
  }
  if (u[0] >= 0xc2 && u[0] <= 0xdf) {
    n = 2;
    c = u[0] & 0x1f;
  } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
    n = 3;
    c = u[0] & 0x0f;
  } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
    n = 4;
    c = u[0] & 0x07;
  } else {
    goto bad;
  }
  if (left < n)
    goto bad;
  for (i = 1; i < n; i++) {
    if ((u[i] & 0xc0) != 0x80)
      goto bad;
    c = (c << 6) | (u[i] & 0x3f);
  }
  if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
      (c >= 0xd800 && c <= 0xdfff))
    goto bad;
  *pos += n;
  return c;

bad:
  *pos += 1;
  return 0xfffd;
}

int pc__mb_buf_put_cp(pc__mb_buf *b, uint32_t cp)
{
  char u[4];
  size_t n;

  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return pc__mb_buf_put(b, u, n);
}

/* Decode s[0..len) into `out`. */
static int decode(const char *s, size_t len, pc__mb_cps *out)
{
  size_t pos = 0;
  int rc = PC_OK;

  while (!rc && pos < len)
    rc = pc__mb_cps_push(out, pc__mb_utf8_next(s, len, &pos));
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Table look-ups.                                                           */

static int in_ranges(const pc__ut_range *r, size_t n, uint32_t cp)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (cp < r[mid].lo)
      hi = mid;
    else if (cp > r[mid].hi)
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

/* The value of cp in a value-range table, 0 when absent. */
static uint32_t range_value(const pc__ut_value_range *r, size_t n,
                            uint32_t cp)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (cp < r[mid].lo)
      hi = mid;
    else if (cp > r[mid].hi)
      lo = mid + 1;
    else
      return r[mid].value;
  }
  return 0;
}

int pc__mb_is_space(uint32_t cp)
{
  return in_ranges(pc__ut_space, pc__ut_space_len, cp);
}

int pc__mb_is_word(uint32_t cp)
{
  return in_ranges(pc__ut_word, pc__ut_word_len, cp);
}

static uint32_t ccc(uint32_t cp)
{
  if (cp < 0x300)
    return 0;  /* fast path: nothing below U+0300 combines */
  return range_value(pc__ut_ccc, pc__ut_ccc_len, cp);
}

/* ------------------------------------------------------------------------ */
/* NFD.                                                                      */

#define HANGUL_S 0xac00u
#define HANGUL_L 0x1100u
#define HANGUL_V 0x1161u
#define HANGUL_T 0x11a7u
#define HANGUL_V_COUNT 21u
#define HANGUL_T_COUNT 28u
#define HANGUL_N (HANGUL_V_COUNT * HANGUL_T_COUNT)
#define HANGUL_S_COUNT 11172u

/* Append cp's full canonical decomposition (or cp itself) to `out`. */
static int decompose(uint32_t cp, pc__mb_cps *out)
{
  size_t lo = 0, hi = pc__ut_decomps_len;
  int rc;

  if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_S_COUNT) {
    uint32_t s = cp - HANGUL_S, t = s % HANGUL_T_COUNT;

    rc = pc__mb_cps_push(out, HANGUL_L + s / HANGUL_N);
    rc = rc ? rc : pc__mb_cps_push(out, HANGUL_V + (s % HANGUL_N) /
                                   HANGUL_T_COUNT);
    if (!rc && t)
      rc = pc__mb_cps_push(out, HANGUL_T + t);
    return rc;
  }
  if (cp >= 0xc0) {
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const pc__ut_decomp *d = &pc__ut_decomps[mid];

      if (cp < d->cp) {
        hi = mid;
      } else if (cp > d->cp) {
        lo = mid + 1;
      } else {
        rc = PC_OK;
        for (size_t i = 0; !rc && i < d->len; i++)
          rc = pc__mb_cps_push(out, pc__ut_decomp_pool[d->off + i]);
        return rc;
      }
    }
  }
  return pc__mb_cps_push(out, cp);
}

/* Canonical ordering: a stable sort by combining class of every run of
 * code points whose class is not 0. */
static void canonical_order(uint32_t *v, size_t n)
{
  for (size_t i = 1; i < n; i++) {
    uint32_t c = v[i], k = ccc(c);
    size_t j = i;

    if (k == 0)
      continue;
    while (j > 0 && ccc(v[j - 1]) > k) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = c;
  }
}

/* Python's unicodedata.normalize("NFD", in) into `out` (appended). */
static int nfd(const uint32_t *in, size_t n, pc__mb_cps *out)
{
  size_t from = out->len;
  int rc = PC_OK;

  for (size_t i = 0; !rc && i < n; i++)
    rc = decompose(in[i], out);
  if (!rc)
    canonical_order(out->v + from, out->len - from);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* str.lower().                                                              */

#define CAPITAL_SIGMA 0x3a3u
#define SMALL_SIGMA 0x3c3u
#define FINAL_SIGMA 0x3c2u

static int case_ignorable(uint32_t cp)
{
  return in_ranges(pc__ut_case_ignorable, pc__ut_case_ignorable_len, cp);
}

static int cased(uint32_t cp)
{
  return in_ranges(pc__ut_cased, pc__ut_cased_len, cp);
}

/* CPython's Final_Sigma rule for the capital sigma at v[i]: a cased
 * character before it (past case-ignorable ones) and none after it. */
static uint32_t lower_sigma(const uint32_t *v, size_t n, size_t i)
{
  size_t j = i;

  while (j > 0 && case_ignorable(v[j - 1]))
    j--;
  if (j == 0 || !cased(v[j - 1]))
    return SMALL_SIGMA;
  for (j = i + 1; j < n && case_ignorable(v[j]); j++)
    ;
  return (j == n || !cased(v[j])) ? FINAL_SIGMA : SMALL_SIGMA;
}

/* Lowercase mapping of one code point other than the capital sigma into
 * map[]; returns how many code points it has (1 when unchanged). */
static size_t lower_one(uint32_t cp, uint32_t map[PC__UT_LOWER_MAX_LEN])
{
  size_t lo = 0, hi = pc__ut_lower_runs_len;

  map[0] = cp;
  if (cp < 0x80) {
    if (cp >= 'A' && cp <= 'Z')
      map[0] = cp + 32;
    return 1;
  }
  for (size_t i = 0; i < pc__ut_lower_multi_len; i++) {
    const pc__ut_lower_multi *m = &pc__ut_lower_multi_map[i];

    if (m->cp == cp) {
      memcpy(map, m->seq, m->len * sizeof(*map));
      return m->len;
    }
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const pc__ut_lower_run *r = &pc__ut_lower_runs[mid];

    if (cp < r->lo) {
      hi = mid;
    } else if (cp > r->hi) {
      lo = mid + 1;
    } else {
      if ((cp - r->lo) % r->stride == 0)
        map[0] = (uint32_t)((int64_t)cp + r->delta);
      break;
    }
  }
  return 1;
}

/* ASCII string.punctuation. */
static int ascii_punct(uint32_t cp)
{
  return (cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) ||
         (cp >= 0x5b && cp <= 0x60) || (cp >= 0x7b && cp <= 0x7e);
}

/* str.lower() of v[0..n) appended to `out`, dropping ASCII punctuation
 * from the result when `drop_punct` is set. */
static int lower(const uint32_t *v, size_t n, int drop_punct,
                 pc__mb_cps *out)
{
  uint32_t map[PC__UT_LOWER_MAX_LEN];
  int rc = PC_OK;

  for (size_t i = 0; !rc && i < n; i++) {
    size_t k;

    if (v[i] == CAPITAL_SIGMA) {
      map[0] = lower_sigma(v, n, i);
      k = 1;
    } else {
      k = lower_one(v[i], map);
    }
    for (size_t j = 0; !rc && j < k; j++)
      if (!drop_punct || !ascii_punct(map[j]))
        rc = pc__mb_cps_push(out, map[j]);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* normalize_text.                                                           */

/* Is v[0..n) one of the words "a", "an", "the"? */
static int is_article(const uint32_t *v, size_t n)
{
  return (n == 1 && v[0] == 'a') ||
         (n == 2 && v[0] == 'a' && v[1] == 'n') ||
         (n == 3 && v[0] == 't' && v[1] == 'h' && v[2] == 'e');
}

/*
 * re.sub(r"\b(a|an|the)\b", " ", text), in place: with \b between a \w
 * character and a non-\w one (or an end), a match is exactly a maximal run
 * of \w characters spelling one of the articles.
 */
static void remove_articles(pc__mb_cps *a)
{
  size_t r = 0, w = 0;

  while (r < a->len) {
    size_t end = r;

    if (!pc__mb_is_word(a->v[r])) {
      a->v[w++] = a->v[r++];
      continue;
    }
    while (end < a->len && pc__mb_is_word(a->v[end]))
      end++;
    if (is_article(a->v + r, end - r)) {
      a->v[w++] = ' ';
      r = end;
    } else {
      while (r < end)
        a->v[w++] = a->v[r++];
    }
  }
  a->len = w;
}

/* " ".join(text.split()) of v[0..n), as UTF-8 appended to `out`. */
static int join_words(const uint32_t *v, size_t n, pc__mb_buf *out)
{
  int rc = PC_OK, pending = 0, any = 0;

  for (size_t i = 0; !rc && i < n; i++) {
    if (pc__mb_is_space(v[i])) {
      pending = any;
      continue;
    }
    if (pending)
      rc = pc__mb_buf_put(out, " ", 1);
    pending = 0;
    any = 1;
    rc = rc ? rc : pc__mb_buf_put_cp(out, v[i]);
  }
  return rc;
}

/* normalize_text up to the article removal, as code points in `c`. */
static int normalize_cps(const pc_host_api *host, const char *s, size_t len,
                         pc__mb_cps *c)
{
  pc__mb_cps a, b;
  int rc;

  pc__mb_cps_init(&a, host);
  pc__mb_cps_init(&b, host);
  rc = decode(s, len, &a);
  rc = rc ? rc : nfd(a.v, a.len, &b);
  rc = rc ? rc : lower(b.v, b.len, 1, c);
  if (!rc)
    remove_articles(c);
  pc__mb_cps_free(&a);
  pc__mb_cps_free(&b);
  return rc;
}

int pc__mb_normalize(const pc_host_api *host, const char *s, size_t len,
                     pc__mb_buf *out)
{
  pc__mb_cps c;
  int rc;

  pc__mb_cps_init(&c, host);
  rc = normalize_cps(host, s, len, &c);
  rc = rc ? rc : join_words(c.v, c.len, out);
  if (!rc && !out->data)
    rc = pc__mb_buf_put(out, "", 0);  /* "" rather than NULL */
  pc__mb_cps_free(&c);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The DPR simple tokenizer.                                                 */

#define DPR_OTHER 0u  /* a token of its own */
#define DPR_ALNUM 1u  /* \p{L} \p{N} \p{M}: runs */
#define DPR_SKIP 2u   /* \p{Z} \p{C}: between tokens */

static uint32_t dpr_class(uint32_t cp)
{
  return range_value(pc__ut_dpr_class, pc__ut_dpr_class_len, cp);
}

void pc__mb_tokens_init(pc__mb_tokens *t, const pc_host_api *host)
{
  pc__mb_cps_init(&t->cps, host);
  t->start = NULL;
  t->n = 0;
  t->cap = 0;
}

void pc__mb_tokens_free(pc__mb_tokens *t)
{
  if (t->start)
    t->cps.host->free(t->cps.host->ctx, t->start);
  t->start = NULL;
  t->n = 0;
  t->cap = 0;
  pc__mb_cps_free(&t->cps);
}

/* Add the token v[0..n), lowered on its own as Python's token.lower()
 * does. */
static int add_token(pc__mb_tokens *t, const uint32_t *v, size_t n)
{
  void *p = t->start;
  int rc;

  rc = grow(t->cps.host, &p, &t->cap, t->n + 2, sizeof(*t->start));
  if (rc)
    return rc;
  t->start = p;
  if (t->n == 0)
    t->start[0] = t->cps.len;
  rc = lower(v, n, 0, &t->cps);
  if (rc)
    return rc;
  t->start[++t->n] = t->cps.len;
  return PC_OK;
}

int pc__mb_dpr_tokens(const pc_host_api *host, const char *s, size_t len,
                      pc__mb_tokens *out)
{
  pc__mb_cps c, d;
  size_t i = 0;
  int rc;

  pc__mb_cps_init(&c, host);
  pc__mb_cps_init(&d, host);
  rc = normalize_cps(host, s, len, &c);
  /* normalize_text's result is c with its whitespace runs collapsed. All
   * of Python's whitespace is \p{Z} or \p{C}, which the tokenizer skips
   * and which block canonical reordering either way, so c serves as is. */
  rc = rc ? rc : nfd(c.v, c.len, &d);
  while (!rc && i < d.len) {
    uint32_t k = dpr_class(d.v[i]);
    size_t end = i + 1;

    if (k == DPR_SKIP) {
      i++;
      continue;
    }
    if (k == DPR_ALNUM)
      while (end < d.len && dpr_class(d.v[end]) == DPR_ALNUM)
        end++;
    rc = add_token(out, d.v + i, end - i);
    i = end;
  }
  pc__mb_cps_free(&c);
  pc__mb_cps_free(&d);
  return rc;
}

/* Is token i of a equal to token j of b? */
static int token_eq(const pc__mb_tokens *a, size_t i, const pc__mb_tokens *b,
                    size_t j)
{
  size_t n = a->start[i + 1] - a->start[i];

  return n == b->start[j + 1] - b->start[j] &&
         !memcmp(a->cps.v + a->start[i], b->cps.v + b->start[j],
                 n * sizeof(uint32_t));
}

int pc__mb_tokens_contain(const pc__mb_tokens *hay,
                          const pc__mb_tokens *needle)
{
  if (needle->n == 0)
    return 1;
  for (size_t i = 0; i + needle->n <= hay->n; i++) {
    size_t j = 0;

    while (j < needle->n && token_eq(hay, i + j, needle, j))
      j++;
    if (j == needle->n)
      return 1;
  }
  return 0;
}
