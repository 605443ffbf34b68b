/*
 * metric_basic.c - the metric-basic plugin: DSPy's exact match, token F1
 * and passage match, and a numeric metric, as four "pc.metric/1" tables
 * (docs/metrics.md).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptc/plugin.h"
#include "normalize.h"
#include "metric_passage.h"

#define MB_EXACT 0
#define MB_F1 1
#define MB_PASSAGE 2
#define MB_NUMERIC 3
#define MB_PASSAGE_RECALL 4  /* metric_passage.c */
#define MB_PASSAGE_HIT 5
#define MB_COUNT 6

/* Bytes of one value shown in feedback before it is cut with "...". */
#define MB_SHOW_MAX 200
/* Gold values listed in feedback before "and N more". */
#define MB_SHOW_GOLDS 3

static const char *const mb_names[MB_COUNT] = {
  "exact_match", "f1", "passage_match", "numeric", "passage_recall",
  "passage_hit",
};

/* What init keeps: the host's tables, borrowed until fini. Immutable after
 * init, so any thread may read it. */
typedef struct mb_state {
  const pc_host_api *host;
  const pc_json_api *js;
} mb_state;

/* One configured metric. Read-only after create, so calls on one instance
 * may run at once (PC_PLUGIN_THREADSAFE_INSTANCES). */
typedef struct mb_metric {
  const mb_state *st;    /* borrowed: the plugin state, lives until fini */
  int kind;              /* MB_* */
  char *field;           /* owned: the output field compared */
  char *gold_field;      /* owned: where gold lives in the example */
  char *context_field;   /* owned: passage_match's passages */
  double tolerance;      /* numeric's absolute tolerance */
} mb_metric;

/* ------------------------------------------------------------------------ */
/* Errors and small helpers.                                                */

/* Record an error (the first one wins) and return `code`. The message is
 * made one line: control bytes become spaces, and a UTF-8 sequence cut by
 * the size limit is dropped. */
int pc__mb_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;
  size_t n, i;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  n = strlen(err->message);
  for (i = 0; i < n; i++)
    if ((unsigned char)err->message[i] < 0x20 || err->message[i] == 0x7f)
      err->message[i] = ' ';
  if (n == sizeof(err->message) - 1) {
    i = n;
    while (i > 0 && ((unsigned char)err->message[i - 1] & 0xc0) == 0x80)
      i--;
    if (i > 0 && (unsigned char)err->message[i - 1] >= 0xc0)
      err->message[i - 1] = '\0';
  }
  return code;
}

/* A copy of s on the host allocator, owned by the caller (release it with
 * host->free), or NULL when out of memory. */
static char *mb_strdup(const mb_state *st, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = st->host->alloc(st->host->ctx, n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* Python's str.strip() bounds of s[0..len): *start and *end. */
static void mb_strip(const char *s, size_t len, size_t *start, size_t *end)
{
  size_t pos = 0, first = len, last = 0;

  while (pos < len) {
    size_t at = pos;
    uint32_t cp = pc__mb_utf8_next(s, len, &pos);

    if (!pc__mb_is_space(cp)) {
      if (first == len)
        first = at;
      last = pos;
    }
  }
  *start = first;
  *end = first == len ? len : last;
}

/* ------------------------------------------------------------------------ */
/* Values as Python's str() shows them.                                      */

typedef struct mb_text {
  const char *s;  /* borrowed (JSON value or literal) or == owned */
  size_t len;
  char *owned;    /* from pc.json/1 to_text (host allocator), or NULL */
} mb_text;

static void mb_text_clear(const mb_state *st, mb_text *t)
{
  if (t->owned)
    st->host->free(st->host->ctx, t->owned);
  t->s = NULL;
  t->len = 0;
  t->owned = NULL;
}

/*
 * Python's str() of a JSON value into *t: strings as they are, True,
 * False and None, numbers as Python prints them (pc.json/1 writes doubles
 * as repr() does), lists and objects as their JSON text. Release with
 * mb_text_clear. PC_OK or PC_E_NOMEM.
 */
static int mb_py_str(const mb_state *st, const pc_json *v, mb_text *t)
{
  int32_t type = st->js->type(v);
  char *text = NULL;
  size_t len = 0;

  t->owned = NULL;
  switch (type) {
  case PC_JSON_STRING:
    t->s = st->js->get_string(v, &t->len);
    return PC_OK;
  case PC_JSON_BOOL:
    t->s = st->js->get_bool(v) ? "True" : "False";
    t->len = strlen(t->s);
    return PC_OK;
  case PC_JSON_NULL:
    t->s = "None";
    t->len = 4;
    return PC_OK;
  default:
    if (st->js->to_text(st->host->ctx, v, PC_JSON_TEXT_SPACED, &text, &len))
      return PC_E_NOMEM;
    t->s = t->owned = text;
    t->len = len;
    return PC_OK;
  }
}

/* ------------------------------------------------------------------------ */
/* Feedback text.                                                           */

/* Append `s` quoted in single quotes, as valid UTF-8 on one line: bad
 * bytes become U+FFFD, control and line-separator characters spaces, and
 * text past MB_SHOW_MAX bytes is cut with "...". */
static int put_shown(pc__mb_buf *b, const char *s, size_t len, int quote)
{
  size_t pos = 0, start = b->len;
  int rc = quote ? pc__mb_buf_put(b, "'", 1) : PC_OK;

  while (!rc && pos < len) {
    uint32_t cp = pc__mb_utf8_next(s, len, &pos);

    if (b->len - start >= MB_SHOW_MAX) {
      rc = pc__mb_buf_puts(b, "...");
      break;
    }
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
        cp == 0x2029)
      cp = ' ';
    rc = pc__mb_buf_put_cp(b, cp);
  }
  if (!rc && quote)
    rc = pc__mb_buf_put(b, "'", 1);
  return rc;
}

static int put_text(pc__mb_buf *b, const mb_text *t, int quote)
{
  return put_shown(b, t->s, t->len, quote);
}

/* 0 <= x <= 1 with two decimals, without the locale's decimal point. */
static int put_fraction(pc__mb_buf *b, double x)
{
  char tmp[16];
  unsigned k = (unsigned)(x * 100.0 + 0.5);

  snprintf(tmp, sizeof(tmp), "%u.%02u", k / 100, k % 100);
  return pc__mb_buf_puts(b, tmp);
}

static int put_count(pc__mb_buf *b, size_t n)
{
  char tmp[32];

  snprintf(tmp, sizeof(tmp), "%zu", n);
  return pc__mb_buf_puts(b, tmp);
}

/* ------------------------------------------------------------------------ */
/* One score() call.                                                        */

typedef struct mb_call {
  const mb_metric *m;     /* borrowed */
  const mb_state *st;     /* borrowed */
  pc_json *example;       /* owned */
  pc_json *prediction;    /* owned */
  const pc_json **gold;   /* owned array of handles borrowed from example */
  mb_text *gold_text;     /* owned array: Python str() of each gold */
  size_t n_gold;
  int want_feedback;
  pc__mb_buf fb;          /* the feedback line */
  double score;
  pc_error *err;          /* borrowed */
} mb_call;

/* "NAME on `FIELD`: " */
static int fb_start(mb_call *c)
{
  int rc = pc__mb_buf_puts(&c->fb, mb_names[c->m->kind]);

  rc = rc ? rc : pc__mb_buf_puts(&c->fb, " on `");
  rc = rc ? rc : put_shown(&c->fb, c->m->field, strlen(c->m->field), 0);
  return rc ? rc : pc__mb_buf_puts(&c->fb, "`: ");
}

/* "'g'" or "one of 'g1', 'g2', 'g3' and 2 more". Numbers (numeric) are
 * shown unquoted. */
static int fb_golds(mb_call *c, int quote)
{
  size_t i, shown = c->n_gold < MB_SHOW_GOLDS ? c->n_gold : MB_SHOW_GOLDS;
  int rc = c->n_gold > 1 ? pc__mb_buf_puts(&c->fb, "one of ") : PC_OK;

  for (i = 0; !rc && i < shown; i++) {
    if (i)
      rc = pc__mb_buf_puts(&c->fb, ", ");
    rc = rc ? rc : put_text(&c->fb, &c->gold_text[i], quote);
  }
  if (!rc && c->n_gold > shown) {
    rc = pc__mb_buf_puts(&c->fb, " and ");
    rc = rc ? rc : put_count(&c->fb, c->n_gold - shown);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, " more");
  }
  return rc;
}

static int oom(mb_call *c)
{
  return pc__mb_error(c->err, PC_E_NOMEM, "metric %s: out of memory",
                  mb_names[c->m->kind]);
}

/*
 * The gold value(s): example[gold_field], a string, number or bool, or a
 * non-empty list of those. Fills c->gold and c->gold_text.
 */
static int load_gold(mb_call *c)
{
  const mb_state *st = c->st;
  const char *name = mb_names[c->m->kind], *key = c->m->gold_field;
  const pc_json *g = st->js->object_get(c->example, key);
  int32_t type;
  size_t i, n;
  int rc = PC_OK;

  if (!g)
    return pc__mb_error(c->err, PC_E_INVALID_ARG,
                    "metric %s: example has no field '%s'", name, key);
  type = st->js->type(g);
  n = type == PC_JSON_ARRAY ? st->js->array_len(g) : 1;
  if (type == PC_JSON_ARRAY && n == 0)
    return pc__mb_error(c->err, PC_E_INVALID_ARG,
                    "metric %s: example field '%s' is an empty list", name,
                    key);
  c->gold = st->host->alloc(st->host->ctx, n * sizeof(*c->gold));
  c->gold_text = st->host->alloc(st->host->ctx, n * sizeof(*c->gold_text));
  if (!c->gold || !c->gold_text)
    return oom(c);
  memset(c->gold_text, 0, n * sizeof(*c->gold_text));
  c->n_gold = n;
  for (i = 0; !rc && i < n; i++) {
    const pc_json *v = type == PC_JSON_ARRAY ? st->js->array_get(g, i) : g;
    int32_t t = st->js->type(v);

    c->gold[i] = v;
    if (t != PC_JSON_STRING && t != PC_JSON_INT && t != PC_JSON_DOUBLE &&
        t != PC_JSON_BOOL) {
      if (type == PC_JSON_ARRAY)
        return pc__mb_error(c->err, PC_E_INVALID_ARG,
                        "metric %s: example field '%s': item %zu is not a "
                        "string, number or bool", name, key, i);
      return pc__mb_error(c->err, PC_E_INVALID_ARG,
                      "metric %s: example field '%s' is not a string, "
                      "number, bool or a list of them", name, key);
    }
    if (mb_py_str(st, v, &c->gold_text[i]))
      rc = oom(c);
  }
  return rc;
}

/*
 * The prediction's value of `key` in *v. When it is missing or null, the
 * score is 0: write the feedback saying so and return 1; else return 0.
 * A negative return is an error code, negated.
 */
static int pred_value(mb_call *c, const char *key, const pc_json **v)
{
  const pc_json *p = c->st->js->object_get(c->prediction, key);
  int rc;

  *v = p;
  if (p && c->st->js->type(p) != PC_JSON_NULL)
    return 0;
  c->score = 0.0;
  if (!c->want_feedback)
    return 1;
  rc = fb_start(c);
  rc = rc ? rc : pc__mb_buf_puts(&c->fb, p ? "the prediction's `"
                                            : "the prediction has no `");
  rc = rc ? rc : put_shown(&c->fb, key, strlen(key), 0);
  rc = rc ? rc : pc__mb_buf_puts(&c->fb, p ? "` is null; expected "
                                            : "`; expected ");
  rc = rc ? rc : fb_golds(c, c->m->kind != MB_NUMERIC);
  rc = rc ? rc : pc__mb_buf_puts(&c->fb, ".");
  return rc ? -oom(c) : 1;
}

/* "expected G, got P." or "P matches the expected G." */
static int fb_verdict(mb_call *c, const mb_text *pred, size_t best,
                      int matched)
{
  int rc = fb_start(c);

  if (matched) {
    rc = rc ? rc : put_text(&c->fb, pred, 1);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, " matches the expected ");
    rc = rc ? rc : put_text(&c->fb, &c->gold_text[best], 1);
  } else {
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, "expected ");
    rc = rc ? rc : fb_golds(c, 1);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, ", got ");
    rc = rc ? rc : put_text(&c->fb, pred, 1);
  }
  return rc ? rc : pc__mb_buf_puts(&c->fb, ".");
}

/* ------------------------------------------------------------------------ */
/* exact_match                                                              */

static int score_exact(mb_call *c)
{
  const mb_state *st = c->st;
  const pc_json *v;
  mb_text pred = {0};
  pc__mb_buf np, ng;
  size_t i, best = 0;
  int rc, matched = 0;

  rc = pred_value(c, c->m->field, &v);
  if (rc)
    return rc < 0 ? -rc : PC_OK;
  pc__mb_buf_init(&np, st->host);
  pc__mb_buf_init(&ng, st->host);
  rc = mb_py_str(st, v, &pred);
  rc = rc ? rc : pc__mb_normalize(st->host, pred.s, pred.len, &np);
  for (i = 0; !rc && !matched && i < c->n_gold; i++) {
    ng.len = 0;
    rc = pc__mb_normalize(st->host, c->gold_text[i].s, c->gold_text[i].len,
                          &ng);
    if (!rc && ng.len == np.len && !memcmp(ng.data, np.data, np.len)) {
      matched = 1;
      best = i;
    }
  }
  c->score = matched ? 1.0 : 0.0;
  if (!rc && c->want_feedback)
    rc = fb_verdict(c, &pred, best, matched);
  pc__mb_buf_free(&np);
  pc__mb_buf_free(&ng);
  mb_text_clear(st, &pred);
  return rc ? oom(c) : PC_OK;
}

/* ------------------------------------------------------------------------ */
/* f1                                                                       */

typedef struct mb_token {
  const char *s;
  size_t len;
} mb_token;

static int token_cmp(const void *a, const void *b)
{
  const mb_token *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int d = memcmp(x->s, y->s, n);

  if (d)
    return d;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Split normalized text (single spaces, none at the ends) into sorted
 * tokens. *out is host-allocated (NULL when there are none). */
static int split_tokens(const mb_state *st, const pc__mb_buf *b,
                        mb_token **out, size_t *n)
{
  const char *s = pc__mb_buf_str(b);
  size_t i, k = 0, start = 0, count = b->len ? 1 : 0;

  *out = NULL;
  *n = 0;
  for (i = 0; i < b->len; i++)
    count += s[i] == ' ';
  if (!count)
    return PC_OK;
  *out = st->host->alloc(st->host->ctx, count * sizeof(**out));
  if (!*out)
    return PC_E_NOMEM;
  for (i = 0; i <= b->len; i++) {
    if (i == b->len || s[i] == ' ') {
      (*out)[k].s = s + start;
      (*out)[k++].len = i - start;
      start = i + 1;
    }
  }
  qsort(*out, count, sizeof(**out), token_cmp);
  *n = count;
  return PC_OK;
}

/* DSPy's f1_score over sorted token lists (0 when nothing is shared). */
static double token_f1(const mb_token *p, size_t np, const mb_token *g,
                       size_t ng)
{
  size_t i = 0, j = 0, same = 0;
  double precision, recall;

  while (i < np && j < ng) {
    int d = token_cmp(&p[i], &g[j]);

    if (d == 0) {
      same++;
      i++;
      j++;
    } else if (d < 0) {
      i++;
    } else {
      j++;
    }
  }
  if (same == 0)
    return 0.0;
  precision = 1.0 * (double)same / (double)np;
  recall = 1.0 * (double)same / (double)ng;
  return (2 * precision * recall) / (precision + recall);
}

static int score_f1(mb_call *c)
{
  const mb_state *st = c->st;
  const pc_json *v;
  mb_text pred = {0};
  pc__mb_buf np, ng;
  mb_token *pt = NULL, *gt = NULL;
  size_t i, npt = 0, ngt = 0, best = 0;
  double top = 0.0;
  int rc;

  rc = pred_value(c, c->m->field, &v);
  if (rc)
    return rc < 0 ? -rc : PC_OK;
  pc__mb_buf_init(&np, st->host);
  pc__mb_buf_init(&ng, st->host);
  rc = mb_py_str(st, v, &pred);
  rc = rc ? rc : pc__mb_normalize(st->host, pred.s, pred.len, &np);
  rc = rc ? rc : split_tokens(st, &np, &pt, &npt);
  for (i = 0; !rc && i < c->n_gold; i++) {
    double f;

    ng.len = 0;
    rc = pc__mb_normalize(st->host, c->gold_text[i].s, c->gold_text[i].len,
                          &ng);
    rc = rc ? rc : split_tokens(st, &ng, &gt, &ngt);
    if (rc)
      break;
    f = token_f1(pt, npt, gt, ngt);
    if (f > top) {
      top = f;
      best = i;
    }
    st->host->free(st->host->ctx, gt);
    gt = NULL;
  }
  c->score = top;
  if (!rc && c->want_feedback) {
    if (top >= 1.0) {
      rc = fb_verdict(c, &pred, best, 1);
    } else {
      rc = fb_start(c);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, "token F1 ");
      rc = rc ? rc : put_fraction(&c->fb, top);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, " against the expected ");
      if (top > 0.0 || c->n_gold == 1)
        rc = rc ? rc : put_text(&c->fb, &c->gold_text[best], 1);
      else
        rc = rc ? rc : fb_golds(c, 1);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, ", got ");
      rc = rc ? rc : put_text(&c->fb, &pred, 1);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, ".");
    }
  }
  if (pt)
    st->host->free(st->host->ctx, pt);
  if (gt)
    st->host->free(st->host->ctx, gt);
  pc__mb_buf_free(&np);
  pc__mb_buf_free(&ng);
  mb_text_clear(st, &pred);
  return rc ? oom(c) : PC_OK;
}

/* ------------------------------------------------------------------------ */
/* passage_match                                                            */

static int score_passage(mb_call *c)
{
  const mb_state *st = c->st;
  const char *key = c->m->context_field;
  const pc_json *ctx;
  pc__mb_tokens *golds = NULL, psg;
  size_t i, k, n_psg = 0, hit_psg = 0, hit_gold = 0;
  int rc, hit = 0;

  rc = pred_value(c, key, &ctx);
  if (rc)
    return rc < 0 ? -rc : PC_OK;
  golds = st->host->alloc(st->host->ctx, c->n_gold * sizeof(*golds));
  if (!golds)
    return oom(c);
  for (i = 0; i < c->n_gold; i++)
    pc__mb_tokens_init(&golds[i], st->host);
  pc__mb_tokens_init(&psg, st->host);
  for (i = 0; !rc && i < c->n_gold; i++)
    rc = pc__mb_dpr_tokens(st->host, c->gold_text[i].s, c->gold_text[i].len,
                           &golds[i]);
  if (st->js->type(ctx) == PC_JSON_ARRAY)
    n_psg = st->js->array_len(ctx);
  else
    n_psg = 1;  /* one string (or any value, by its str()) */
  for (i = 0; !rc && !hit && i < n_psg; i++) {
    const pc_json *p = st->js->type(ctx) == PC_JSON_ARRAY
                       ? st->js->array_get(ctx, i) : ctx;
    mb_text t = {0};

    pc__mb_tokens_free(&psg);
    rc = mb_py_str(st, p, &t);
    rc = rc ? rc : pc__mb_dpr_tokens(st->host, t.s, t.len, &psg);
    for (k = 0; !rc && !hit && k < c->n_gold; k++) {
      if (pc__mb_tokens_contain(&psg, &golds[k])) {
        hit = 1;
        hit_psg = i;
        hit_gold = k;
      }
    }
    mb_text_clear(st, &t);
  }
  c->score = hit ? 1.0 : 0.0;
  if (!rc && c->want_feedback) {
    rc = fb_start(c);
    if (hit) {
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, "passage ");
      rc = rc ? rc : put_count(&c->fb, hit_psg + 1);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, " of `");
      rc = rc ? rc : put_shown(&c->fb, key, strlen(key), 0);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, "` contains the expected ");
      rc = rc ? rc : put_text(&c->fb, &c->gold_text[hit_gold], 1);
    } else {
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, "none of the ");
      rc = rc ? rc : put_count(&c->fb, n_psg);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, n_psg == 1 ? " passage in `"
                                                         : " passages in `");
      rc = rc ? rc : put_shown(&c->fb, key, strlen(key), 0);
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, "` contains the expected ");
      rc = rc ? rc : fb_golds(c, 1);
    }
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, ".");
  }
  pc__mb_tokens_free(&psg);
  for (i = 0; i < c->n_gold; i++)
    pc__mb_tokens_free(&golds[i]);
  st->host->free(st->host->ctx, golds);
  return rc ? oom(c) : PC_OK;
}

/* ------------------------------------------------------------------------ */
/* numeric                                                                  */

/* A number read from a text: its value and where its text is. */
typedef struct mb_number {
  double value;
  size_t start;  /* the number's own text is s[start..end) */
  size_t end;
  int whole;     /* 1 when the (stripped) text was nothing but it */
} mb_number;

static int is_digit(char ch)
{
  return ch >= '0' && ch <= '9';
}

static int is_ascii_alnum(char ch)
{
  return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static size_t digits_at(const char *s, size_t n, size_t i)
{
  size_t j = i;

  while (j < n && is_digit(s[j]))
    j++;
  return j - i;
}

/*
 * Read the body of a number at s[i..n): digits (grouped by thousands as
 * "1,234,567" when the first group has at most three), an optional
 * fraction, an optional exponent and an optional "%" (kept as the number:
 * "3%" is 3). With `dot_first` the body may start at its fraction (".5").
 * Appends the number in JSON syntax, always with an exponent so that it
 * reads as a double, to `json`, and returns its end; returns i when there
 * is no number at i. *rc becomes PC_E_NOMEM when out of memory.
 */
static size_t lex_body(const char *s, size_t n, size_t i, int dot_first,
                       pc__mb_buf *json, int *rc)
{
  size_t j = i, d = digits_at(s, n, i), from = json->len, zeros = 0;

  if (d == 0 && !(dot_first && i + 1 < n && s[i] == '.' &&
                  is_digit(s[i + 1])))
    return i;
  *rc = pc__mb_buf_put(json, s + j, d);
  j += d;
  if (d >= 1 && d <= 3) {
    while (!*rc && j + 3 < n && s[j] == ',' && digits_at(s, n, j + 1) == 3) {
      *rc = pc__mb_buf_put(json, s + j + 1, 3);
      j += 4;
    }
  }
  /* JSON wants no leading zeros and at least one integer digit. */
  while (from + zeros + 1 < json->len && json->data[from + zeros] == '0')
    zeros++;
  if (!*rc && zeros) {
    memmove(json->data + from, json->data + from + zeros,
            json->len - from - zeros);
    json->len -= zeros;
  }
  if (!*rc && json->len == from)
    *rc = pc__mb_buf_put(json, "0", 1);
  if (!*rc && j + 1 < n && s[j] == '.' && is_digit(s[j + 1])) {
    d = digits_at(s, n, j + 1);
    *rc = pc__mb_buf_put(json, s + j, d + 1);
    j += d + 1;
  }
  if (!*rc && j + 1 < n && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;

    if (s[k] == '+' || s[k] == '-')
      k++;
    d = digits_at(s, n, k);
    if (d) {
      *rc = pc__mb_buf_put(json, "e", 1);
      *rc = *rc ? *rc : pc__mb_buf_put(json, s + j + 1, k + d - j - 1);
      j = k + d;
    }
  }
  if (!*rc && !memchr(json->data + from, 'e', json->len - from))
    *rc = pc__mb_buf_put(json, "e0", 2);
  if (*rc)
    return i;
  if (j < n && s[j] == '%')
    j++;
  return j;
}

/* The value of JSON number text[0..len) read by pc.json/1 (so exactly as
 * a JSON number in the example would be): 0 and *out, or -1 when it is not
 * a finite number. */
static int json_number(const mb_state *st, const char *text, size_t len,
                       double *out)
{
  pc_json *v = NULL;
  pc_error err = PC_ERROR_INIT;
  int32_t type;

  if (st->js->parse(st->host->ctx, text, len, PC_JSON_PARSE_STRICT, &v,
                    &err))
    return -1;
  type = st->js->type(v);
  *out = st->js->get_double(v);
  st->js->free(st->host->ctx, v);
  return (type == PC_JSON_INT || type == PC_JSON_DOUBLE) && isfinite(*out)
         ? 0 : -1;
}

/* Is s[0..n) one number: [sign] ['$'] body, nothing else? */
static int whole_number(const mb_state *st, const char *s, size_t n,
                        mb_number *num, int *rc)
{
  pc__mb_buf json;
  size_t i = 0, end;
  int found = 0;

  pc__mb_buf_init(&json, st->host);
  if (i < n && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-')
      *rc = pc__mb_buf_put(&json, "-", 1);
    i++;
  }
  if (i < n && s[i] == '$')
    i++;
  end = *rc ? i : lex_body(s, n, i, 1, &json, rc);
  if (!*rc && end > i && end == n &&
      json_number(st, json.data, json.len, &num->value) == 0) {
    num->start = 0;
    num->end = n;
    num->whole = 1;
    found = 1;
  }
  pc__mb_buf_free(&json);
  return found;
}

/* The last number in s[0..n). Each run of digits starts one, taking a "$"
 * and a sign just before it (a sign that follows no letter or digit, so
 * "3-5" holds 3 and 5). */
static int last_number(const mb_state *st, const char *s, size_t n,
                       mb_number *num, int *rc)
{
  pc__mb_buf json;
  size_t i = 0;
  int found = 0;

  pc__mb_buf_init(&json, st->host);
  while (!*rc && i < n) {
    size_t start = i, end;
    double value;

    if (!is_digit(s[i])) {
      i++;
      continue;
    }
    json.len = 0;
    if (start > 0 && s[start - 1] == '$')
      start--;
    if (start > 0 && (s[start - 1] == '-' || s[start - 1] == '+') &&
        (start == 1 || !is_ascii_alnum(s[start - 2]))) {
      start--;
      if (s[start] == '-')
        *rc = pc__mb_buf_put(&json, "-", 1);
    }
    end = *rc ? i : lex_body(s, n, i, 0, &json, rc);
    if (end == i) {
      i++;
      continue;
    }
    if (json_number(st, json.data, json.len, &value) == 0) {
      num->value = value;
      num->start = start;
      num->end = end;
      num->whole = 0;
      found = 1;
    }
    i = end;
  }
  pc__mb_buf_free(&json);
  return found;
}

/*
 * A value as a number: a JSON number as it is; anything else through its
 * Python str() text `t`: the whole stripped text when it is one number,
 * else the last number in it. Returns 1 and fills *num (offsets into t),
 * or 0 when there is none; *rc becomes PC_E_NOMEM when out of memory.
 */
static int value_number(const mb_state *st, const pc_json *v,
                        const mb_text *t, mb_number *num, int *rc)
{
  int32_t type = st->js->type(v);
  size_t start, end;

  *rc = PC_OK;
  if (type == PC_JSON_INT || type == PC_JSON_DOUBLE) {
    num->value = st->js->get_double(v);
    num->start = 0;
    num->end = t->len;
    num->whole = 1;
    return 1;
  }
  mb_strip(t->s, t->len, &start, &end);
  if (whole_number(st, t->s + start, end - start, num, rc)) {
    num->start += start;
    num->end += start;
    return 1;
  }
  return *rc ? 0 : last_number(st, t->s, t->len, num, rc);
}

/* Read every gold value's number into gold[] and narrow its shown text
 * to the number's own text ("1,234" of "#### 1,234"). A gold value with
 * no number is an error in the dataset, not a wrong answer. */
static int gold_numbers(mb_call *c, double *gold)
{
  size_t i;
  int rc = PC_OK;

  for (i = 0; i < c->n_gold; i++) {
    mb_text *t = &c->gold_text[i];
    mb_number num;
    pc__mb_buf b;

    if (value_number(c->st, c->gold[i], t, &num, &rc)) {
      gold[i] = num.value;
      t->s += num.start;
      t->len = num.end - num.start;
      continue;
    }
    if (rc)
      return oom(c);
    pc__mb_buf_init(&b, c->st->host);
    put_text(&b, t, 1);
    rc = pc__mb_error(c->err, PC_E_INVALID_ARG, "metric numeric: example "
                  "field '%s' holds no number: %s", c->m->gold_field,
                  pc__mb_buf_str(&b));
    pc__mb_buf_free(&b);
    return rc;
  }
  return PC_OK;
}

static int fb_numeric(mb_call *c, const mb_text *pred, const mb_number *pn,
                      int found, size_t best)
{
  mb_text own = *pred;
  int rc = fb_start(c);

  if (found) {
    own.s = pred->s + pn->start;
    own.len = pn->end - pn->start;
  }
  if (c->score >= 1.0) {
    rc = rc ? rc : put_text(&c->fb, &own, 0);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, " matches the expected ");
    rc = rc ? rc : put_text(&c->fb, &c->gold_text[best], 0);
  } else {
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, "expected ");
    rc = rc ? rc : fb_golds(c, 0);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, ", got ");
    rc = rc ? rc : put_text(&c->fb, &own, !found);
    if (!found)
      rc = rc ? rc : pc__mb_buf_puts(&c->fb, ", which holds no number");
  }
  if (found && !pn->whole) {
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, " (the last number in ");
    rc = rc ? rc : put_text(&c->fb, pred, 1);
    rc = rc ? rc : pc__mb_buf_puts(&c->fb, ")");
  }
  return rc ? rc : pc__mb_buf_puts(&c->fb, ".");
}

static int score_numeric(mb_call *c)
{
  const mb_state *st = c->st;
  const pc_json *v;
  mb_text pred = {0};
  mb_number pn = {0};
  double *gold;
  size_t i, best = 0;
  int rc, found = 0;

  gold = st->host->alloc(st->host->ctx, c->n_gold * sizeof(*gold));
  if (!gold)
    return oom(c);
  rc = gold_numbers(c, gold);
  if (rc)
    goto out;
  rc = pred_value(c, c->m->field, &v);
  if (rc) {
    rc = rc < 0 ? -rc : PC_OK;
    goto out;
  }
  if (mb_py_str(st, v, &pred)) {
    rc = oom(c);
    goto out;
  }
  found = value_number(st, v, &pred, &pn, &rc);
  if (rc) {
    rc = oom(c);
    goto out;
  }
  c->score = 0.0;
  for (i = 0; found && i < c->n_gold; i++) {
    double d = pn.value - gold[i];

    if ((d < 0 ? -d : d) <= c->m->tolerance) {
      c->score = 1.0;
      best = i;
      break;
    }
  }
  if (c->want_feedback && fb_numeric(c, &pred, &pn, found, best))
    rc = oom(c);

out:
  mb_text_clear(st, &pred);
  st->host->free(st->host->ctx, gold);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* score()                                                                  */

/* Parse `what` (example or prediction) and insist on an object. */
static int parse_object(mb_call *c, const char *what, const char *text,
                        size_t len, pc_json **out)
{
  pc_error perr = PC_ERROR_INIT;
  const char *name = mb_names[c->m->kind];

  if (!text)
    return pc__mb_error(c->err, PC_E_INVALID_ARG, "metric %s: no %s JSON",
                    name, what);
  if (c->st->js->parse(c->st->host->ctx, text, len, PC_JSON_PARSE_STRICT,
                       out, &perr))
    return pc__mb_error(c->err, PC_E_INVALID_ARG, "metric %s: %s JSON: %s",
                    name, what, perr.message);
  if (c->st->js->type(*out) != PC_JSON_OBJECT)
    return pc__mb_error(c->err, PC_E_INVALID_ARG,
                    "metric %s: %s JSON is not an object", name, what);
  return PC_OK;
}

int pc__mb_sink_failed(pc_error *err, int code, const char *metric,
                       const char *what)
{
  if (code <= PC_OK || code >= PC_E_LAST)
    code = PC_E_INTERNAL;
  return pc__mb_error(err, code, "metric %s: the %s sink failed", metric,
                      what);
}

static int sink_failed(mb_call *c, int code, const char *what)
{
  return pc__mb_sink_failed(c->err, code, mb_names[c->m->kind], what);
}

static int mb_score(void *inst, const char *example_json, size_t example_len,
                    const char *prediction_json, size_t prediction_len,
                    const char *trace_json, size_t trace_len,
                    const pc_metric_sink *out, pc_error *err)
{
  const mb_metric *m = inst;
  const mb_state *st;
  mb_call c;
  size_t i;
  int rc;

  (void)trace_json;  /* DSPy's built-in metrics ignore the trace */
  (void)trace_len;
  if (!m)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric-basic: score: no "
                    "instance");
  if (!out || !PC_HAS_FIELD(out, pc_metric_sink, score) || !out->score)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: score: no score "
                    "sink", mb_names[m->kind]);
  st = m->st;
  memset(&c, 0, sizeof(c));
  c.m = m;
  c.st = st;
  c.err = err;
  c.want_feedback = PC_HAS_FIELD(out, pc_metric_sink, feedback) &&
                    out->feedback != NULL;
  pc__mb_buf_init(&c.fb, st->host);
  rc = parse_object(&c, "example", example_json, example_len, &c.example);
  rc = rc ? rc : parse_object(&c, "prediction", prediction_json,
                              prediction_len, &c.prediction);
  rc = rc ? rc : load_gold(&c);
  if (!rc) {
    switch (m->kind) {
    case MB_EXACT: rc = score_exact(&c); break;
    case MB_F1: rc = score_f1(&c); break;
    case MB_PASSAGE: rc = score_passage(&c); break;
    default: rc = score_numeric(&c); break;
    }
  }
  if (!rc) {
    double s = c.score;

    if (!(s >= 0.0))
      s = 0.0;  /* NaN included: never happens, but never leaves [0, 1] */
    if (s > 1.0)
      s = 1.0;
    rc = out->score(out->ctx, s);
    if (rc)
      rc = sink_failed(&c, rc, "score");
  }
  if (!rc && c.want_feedback && c.fb.len) {
    rc = out->feedback(out->ctx, c.fb.data, c.fb.len);
    if (rc)
      rc = sink_failed(&c, rc, "feedback");
  }
  for (i = 0; c.gold_text && i < c.n_gold; i++)
    mb_text_clear(st, &c.gold_text[i]);
  st->host->free(st->host->ctx, c.gold_text);
  st->host->free(st->host->ctx, (void *)c.gold);
  st->js->free(st->host->ctx, c.example);
  st->js->free(st->host->ctx, c.prediction);
  pc__mb_buf_free(&c.fb);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* create() and destroy()                                                   */

static void mb_destroy(void *inst)
{
  mb_metric *m = inst;
  const pc_host_api *h;

  if (!m)
    return;
  h = m->st->host;
  h->free(h->ctx, m->field);
  h->free(h->ctx, m->gold_field);
  h->free(h->ctx, m->context_field);
  h->free(h->ctx, m);
}

/* A config member that names a field: a non-empty string without NUL. */
static int field_name(const mb_state *st, int kind, const char *key,
                      const pc_json *v, const char **out, pc_error *err)
{
  size_t len = 0;
  const char *s = st->js->get_string(v, &len);

  if (!s || len == 0 || strlen(s) != len)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: '%s' must "
                    "be a non-empty string", mb_names[kind], key);
  *out = s;
  return PC_OK;
}

/* Read the config object's members into the settings. */
static int read_config(const mb_state *st, int kind, const pc_json *cfg,
                       const char **field, const char **gold_field,
                       const char **context_field, double *tolerance,
                       pc_error *err)
{
  const char *name = mb_names[kind], *key;
  const pc_json *v;
  size_t i;
  int rc = PC_OK;

  for (i = 0; !rc && st->js->object_at(cfg, i, &key, &v) == 0; i++) {
    if (!strcmp(key, "field")) {
      rc = field_name(st, kind, key, v, field, err);
    } else if (!strcmp(key, "gold_field")) {
      rc = field_name(st, kind, key, v, gold_field, err);
    } else if (kind == MB_PASSAGE && !strcmp(key, "context_field")) {
      rc = field_name(st, kind, key, v, context_field, err);
    } else if (kind == MB_NUMERIC && !strcmp(key, "tolerance")) {
      int32_t t = st->js->type(v);

      *tolerance = st->js->get_double(v);
      if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) || !(*tolerance >= 0) ||
          !isfinite(*tolerance))
        rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: "
                      "'tolerance' must be a number >= 0", name);
    } else {
      rc = pc__mb_error(err, PC_E_INVALID_ARG,
                    "metric %s: config: unknown key '%s'", name, key);
    }
  }
  return rc;
}

static int mb_create(int kind, void *plugin_state, const char *config,
                     size_t len, void **inst, pc_error *err)
{
  const mb_state *st = plugin_state;
  const char *name = mb_names[kind];
  const char *field = "answer", *gold_field = NULL;
  const char *context_field = "context";
  double tolerance = 1e-9;
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  mb_metric *m = NULL;
  size_t start = 0, end = 0;
  int rc = PC_OK;

  if (inst)
    *inst = NULL;
  if (!st || !inst)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: create: no plugin "
                    "state or instance pointer", name);
  if (config)
    mb_strip(config, len, &start, &end);
  if (end > start) {
    if (st->js->parse(st->host->ctx, config, len, PC_JSON_PARSE_STRICT,
                      &cfg, &perr)) {
      rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: %s", name,
                    perr.message);
      goto fail;
    }
    if (st->js->type(cfg) == PC_JSON_OBJECT) {
      rc = read_config(st, kind, cfg, &field, &gold_field, &context_field,
                       &tolerance, err);
      if (rc)
        goto fail;
    } else if (st->js->type(cfg) != PC_JSON_NULL) {
      rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: expected "
                    "a JSON object", name);
      goto fail;
    }
  }
  m = st->host->alloc(st->host->ctx, sizeof(*m));
  if (!m) {
    rc = pc__mb_error(err, PC_E_NOMEM, "metric %s: out of memory", name);
    goto fail;
  }
  m->st = st;
  m->kind = kind;
  m->tolerance = tolerance;
  m->field = mb_strdup(st, field);
  m->gold_field = mb_strdup(st, gold_field ? gold_field : field);
  m->context_field = mb_strdup(st, context_field);
  if (!m->field || !m->gold_field || !m->context_field) {
    rc = pc__mb_error(err, PC_E_NOMEM, "metric %s: out of memory", name);
    goto fail;
  }
  st->js->free(st->host->ctx, cfg);
  *inst = m;
  return PC_OK;

fail:
  mb_destroy(m);
  st->js->free(st->host->ctx, cfg);
  return rc;
}

static int create_exact(void *state, const char *config, size_t len,
                        void **inst, pc_error *err)
{
  return mb_create(MB_EXACT, state, config, len, inst, err);
}

static int create_f1(void *state, const char *config, size_t len,
                     void **inst, pc_error *err)
{
  return mb_create(MB_F1, state, config, len, inst, err);
}

static int create_passage(void *state, const char *config, size_t len,
                          void **inst, pc_error *err)
{
  return mb_create(MB_PASSAGE, state, config, len, inst, err);
}

static int create_numeric(void *state, const char *config, size_t len,
                          void **inst, pc_error *err)
{
  return mb_create(MB_NUMERIC, state, config, len, inst, err);
}

static int create_passage_recall(void *state, const char *config,
                                 size_t len, void **inst, pc_error *err)
{
  const mb_state *st = state;

  return pc__mb_passage_create(st->host, st->js, 0, config, len, inst, err);
}

static int create_passage_hit(void *state, const char *config, size_t len,
                              void **inst, pc_error *err)
{
  const mb_state *st = state;

  return pc__mb_passage_create(st->host, st->js, 1, config, len, inst, err);
}

/* ------------------------------------------------------------------------ */
/* Interfaces and descriptor.                                               */

static const pc_metric_iface mb_ifaces[MB_COUNT] = {
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "exact_match",
    .create = create_exact,
    .destroy = mb_destroy,
    .score = mb_score,
  },
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "f1",
    .create = create_f1,
    .destroy = mb_destroy,
    .score = mb_score,
  },
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "passage_match",
    .create = create_passage,
    .destroy = mb_destroy,
    .score = mb_score,
  },
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "numeric",
    .create = create_numeric,
    .destroy = mb_destroy,
    .score = mb_score,
  },
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "passage_recall",
    .create = create_passage_recall,
    .destroy = pc__mb_passage_destroy,
    .score = pc__mb_passage_score,
  },
  {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
    .name = "passage_hit",
    .create = create_passage_hit,
    .destroy = pc__mb_passage_destroy,
    .score = pc__mb_passage_score,
  },
};

static int mb_init(const pc_host_api *host, void **state, pc_error *err)
{
  const pc_json_api *js;
  mb_state *st;
  uint32_t size = 0;

  if (state)
    *state = NULL;
  if (!state || !host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->realloc || !host->free ||
      !host->get_host_interface)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric-basic: bad host table");
  js = host->get_host_interface(host->ctx, "pc.json/1", &size);
  if (!js || size < sizeof(*js) || js->hdr.abi_major != PC_ABI_MAJOR ||
      js->hdr.struct_size < sizeof(*js))
    return pc__mb_error(err, PC_E_UNSUPPORTED, "metric-basic: the host offers "
                    "no usable pc.json/1 service");
  st = host->alloc(host->ctx, sizeof(*st));
  if (!st)
    return pc__mb_error(err, PC_E_NOMEM, "metric-basic: out of memory");
  st->host = host;
  st->js = js;
  *state = st;
  return PC_OK;
}

static void mb_fini(void *state)
{
  mb_state *st = state;

  if (st)
    st->host->free(st->host->ctx, st);
}

static const void *mb_get_interface_at(void *state, const char *iface_id,
                                       uint32_t index, uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_METRIC) || index >= MB_COUNT)
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(mb_ifaces[index]);
  return &mb_ifaces[index];
}

static const void *mb_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  return mb_get_interface_at(state, iface_id, 0, iface_size);
}

static const pc_plugin_info mb_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.metric.basic",
  .name = "metric-basic",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "exact_match, f1, passage_match, numeric, passage_recall "
             "and passage_hit",
  .kinds = PC_KIND_METRIC,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = mb_init,
  .fini = mb_fini,
  .get_interface = mb_get_interface,
  .get_interface_at = mb_get_interface_at,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &mb_info;
}
