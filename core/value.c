/* value.c - DSPy's value semantics: field values rendered into prompt text,
 * and LM output coerced into typed values (docs/values.md). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "value.h"

/* Longest piece of user text quoted back in a message. */
#define QUOTE_MAX 60

/* ------------------------------------------------------------------------ */
/* Python str() and repr()                                                  */

/*
 * Code points Python's str.isprintable() rejects, as ranges: categories
 * Cc, Cf, Cs, Co, Zl, Zp and Zs except the space (Unicode 14, Python
 * 3.11). Unassigned code points (Cn) are not listed: they stay raw.
 */
static const uint32_t unprintable[][2] = {
  {0x0, 0x1f}, {0x7f, 0xa0}, {0xad, 0xad}, {0x600, 0x605}, {0x61c, 0x61c},
  {0x6dd, 0x6dd}, {0x70f, 0x70f}, {0x890, 0x891}, {0x8e2, 0x8e2},
  {0x1680, 0x1680}, {0x180e, 0x180e}, {0x2000, 0x200f}, {0x2028, 0x202f},
  {0x205f, 0x2064}, {0x2066, 0x206f}, {0x3000, 0x3000}, {0xd800, 0xf8ff},
  {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd},
  {0x110cd, 0x110cd}, {0x13430, 0x13438}, {0x1bca0, 0x1bca3},
  {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
  {0xf0000, 0xffffd}, {0x100000, 0x10fffd},
};

static int is_printable(uint32_t cp)
{
  size_t lo = 0, hi = sizeof(unprintable) / sizeof(unprintable[0]);

  while (lo < hi) {
    size_t mid = (lo + hi) / 2;

    if (cp < unprintable[mid][0])
      hi = mid;
    else if (cp > unprintable[mid][1])
      lo = mid + 1;
    else
      return 0;
  }
  return 1;
}

/* Python's repr() of a str: single quotes unless the text holds a single
 * quote and no double quote; \\ \n \r \t, \xNN, \uNNNN, \UNNNNNNNN for
 * what is not printable. Bytes that are not UTF-8 are copied as they are. */
static int put_str_repr(pc_buf *b, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  char quote = '\'';
  size_t i = 0;
  int rc;

  if (memchr(s, '\'', n) && !memchr(s, '"', n))
    quote = '"';
  rc = pc_buf_putc(b, quote);
  while (!rc && i < n) {
    uint32_t cp;
    size_t k = pc__utf8_decode(u + i, n - i, &cp);

    if (k == 0) {
      rc = pc_buf_putc(b, s[i++]);
      continue;
    }
    if (cp == (uint32_t)quote || cp == '\\')
      rc = pc_buf_printf(b, "\\%c", (char)cp);
    else if (cp == '\n')
      rc = pc_buf_puts(b, "\\n");
    else if (cp == '\r')
      rc = pc_buf_puts(b, "\\r");
    else if (cp == '\t')
      rc = pc_buf_puts(b, "\\t");
    else if (is_printable(cp))
      rc = pc_buf_append(b, s + i, k);
    else if (cp <= 0xff)
      rc = pc_buf_printf(b, "\\x%02x", (unsigned)cp);
    else if (cp <= 0xffff)
      rc = pc_buf_printf(b, "\\u%04x", (unsigned)cp);
    else
      rc = pc_buf_printf(b, "\\U%08x", (unsigned)cp);
    i += k;
  }
  if (!rc)
    rc = pc_buf_putc(b, quote);
  return rc;
}

/* Python's repr() (and str()) of a float: "inf" and "nan" spelled so. */
static int put_py_float(pc_buf *b, double d)
{
  if (isnan(d))
    return pc_buf_puts(b, "nan");
  if (isinf(d))
    return pc_buf_puts(b, d > 0 ? "inf" : "-inf");
  return pc_json_write_double(d, b);
}

/* Python's str() of `v` (top != 0) or repr() (inside containers). */
static int put_py(pc_buf *b, const struct json_object *v, int top, int depth)
{
  int rc = PC_OK;

  if (depth > PC_JSON_MAX_DEPTH)
    return PC_E_INVALID_ARG;
  switch (json_object_get_type(v)) {
  case json_type_null:
    return pc_buf_puts(b, "None");
  case json_type_boolean:
    return pc_buf_puts(b, json_object_get_boolean(v) ? "True" : "False");
  case json_type_int:
    return pc__json_write_int(v, b);
  case json_type_double:
    return put_py_float(b, json_object_get_double(v));
  case json_type_string: {
    const char *s = json_object_get_string((struct json_object *)v);
    size_t n = (size_t)json_object_get_string_len(v);

    return top ? pc_buf_append(b, s, n) : put_str_repr(b, s, n);
  }
  case json_type_array: {
    size_t n = json_object_array_length(v);

    rc = pc_buf_putc(b, '[');
    for (size_t i = 0; !rc && i < n; i++) {
      if (i)
        rc = pc_buf_puts(b, ", ");
      if (!rc)
        rc = put_py(b, json_object_array_get_idx(v, i), 0, depth + 1);
    }
    return rc ? rc : pc_buf_putc(b, ']');
  }
  case json_type_object: {
    int first = 1;

    rc = pc_buf_putc(b, '{');
    json_object_object_foreach((struct json_object *)v, key, val) {
      if (rc)
        break;
      if (!first)
        rc = pc_buf_puts(b, ", ");
      first = 0;
      if (!rc)
        rc = put_str_repr(b, key, strlen(key));
      if (!rc)
        rc = pc_buf_puts(b, ": ");
      if (!rc)
        rc = put_py(b, val, 0, depth + 1);
    }
    return rc ? rc : pc_buf_putc(b, '}');
  }
  }
  return PC_E_INVALID_ARG;
}

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */

#define GUILLEMET_OPEN "\xc2\xab"   /* « */
#define GUILLEMET_CLOSE "\xc2\xbb"  /* » */

static int has(const char *s, size_t n, const char *what)
{
  size_t k = strlen(what);

  for (size_t i = 0; i + k <= n; i++) {
    if (memcmp(s + i, what, k) == 0)
      return 1;
  }
  return 0;
}

/* DSPy's _format_blob: «text», or a fenced «««/»»» block with every line
 * indented by four spaces when the text has a newline or a guillemet. */
static int put_blob(pc_buf *b, const char *s, size_t n)
{
  size_t start = 0;
  int rc;

  if (!memchr(s, '\n', n) && !has(s, n, GUILLEMET_OPEN) &&
      !has(s, n, GUILLEMET_CLOSE)) {
    rc = pc_buf_puts(b, GUILLEMET_OPEN);
    if (!rc)
      rc = pc_buf_append(b, s, n);
    return rc ? rc : pc_buf_puts(b, GUILLEMET_CLOSE);
  }
  rc = pc_buf_puts(b, GUILLEMET_OPEN GUILLEMET_OPEN GUILLEMET_OPEN "\n    ");
  for (size_t i = 0; !rc && i < n; i++) {
    if (s[i] != '\n')
      continue;
    rc = pc_buf_append(b, s + start, i + 1 - start);
    if (!rc)
      rc = pc_buf_puts(b, "    ");
    start = i + 1;
  }
  if (!rc)
    rc = pc_buf_append(b, s + start, n - start);
  if (!rc)
    rc = pc_buf_puts(b, "\n" GUILLEMET_CLOSE GUILLEMET_CLOSE GUILLEMET_CLOSE);
  return rc;
}

/* DSPy's _format_input_list_field_value: "N/A", one blob, or numbered
 * blobs "[1] «a»" on separate lines. Items are their Python str(). */
static int put_blob_list(pc_buf *b, const struct json_object *v)
{
  size_t n = json_object_array_length(v);
  pc_buf item;
  int rc = PC_OK;

  if (n == 0)
    return pc_buf_puts(b, "N/A");
  pc_buf_init(&item, b->max);
  for (size_t i = 0; !rc && i < n; i++) {
    pc_buf_reset(&item);
    rc = put_py(&item, json_object_array_get_idx(v, i), 1, 1);
    if (!rc && i > 0)
      rc = pc_buf_putc(b, '\n');
    if (!rc && n > 1)
      rc = pc_buf_printf(b, "[%zu] ", i + 1);
    if (!rc)
      rc = put_blob(b, item.data ? item.data : "", item.len);
  }
  pc_buf_free(&item);
  return rc;
}

int pc_value_render(const struct json_object *v, const pc_type *type,
                    unsigned flags, pc_buf *out, pc_error *err)
{
  size_t start = out->len;
  json_type jt = json_object_get_type(v);
  int rc;

  if (flags & PC_VALUE_RENDER_PYSTR)
    rc = put_py(out, v, 1, 0);
  else if (jt == json_type_array && type && type->kind == PC_TYPE_STR)
    rc = put_blob_list(out, v);
  else if (jt == json_type_array || jt == json_type_object)
    rc = pc_json_write(v, PC_JSON_TEXT_SPACED | PC__JSON_TEXT_NONFINITE_NULL,
                       out);
  else
    rc = put_py(out, v, 1, 0);
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
    return pc_error_set(err, rc, "value: %s", rc == PC_E_NOMEM ?
                        "out of memory" : "nested too deeply to render");
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Text helpers for parsing                                                 */

/* Python's str.strip() for ASCII whitespace (and \x1c-\x1f, which Python
 * counts as whitespace too). */
static int py_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void strip(const char **s, size_t *n)
{
  while (*n && py_space((unsigned char)**s)) {
    (*s)++;
    (*n)--;
  }
  while (*n && py_space((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* Digits with single underscores between them, as Python and pydantic
 * read numbers: returns how many bytes of s[i..n) form such a run (0 if
 * none) and appends the digits to clean (if not NULL). */
static size_t digit_run(const char *s, size_t n, size_t i, pc_buf *clean,
                        int *rc)
{
  size_t j = i;

  while (j < n && is_digit(s[j])) {
    if (clean && !*rc)
      *rc = pc_buf_putc(clean, s[j]);
    j++;
    if (j + 1 < n && s[j] == '_' && is_digit(s[j + 1]))
      j++;
  }
  return j - i;
}

static int ascii_ieq(const char *s, size_t n, const char *word)
{
  size_t k = strlen(word);

  if (n != k)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];

    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != word[i])
      return 0;
  }
  return 1;
}

/*
 * pydantic's lax str -> int: blanks around, an optional sign, digits with
 * single underscores between them, and optionally '.' and zeros ("42.00").
 * PC_OK, PC_E_PARSE (also past the int64 range) or PC_E_NOMEM.
 */
static int int_from_text(const char *s, size_t n, int64_t *out)
{
  uint64_t mag = 0, limit;
  int neg = 0;
  size_t i = 0;

  strip(&s, &n);
  if (i < n && (s[i] == '+' || s[i] == '-'))
    neg = (s[i++] == '-');
  if (i >= n || !is_digit(s[i]))
    return PC_E_PARSE;
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  while (i < n && is_digit(s[i])) {
    unsigned d = (unsigned)(s[i] - '0');

    if (mag > (limit - d) / 10)
      return PC_E_PARSE;
    mag = mag * 10 + d;
    i++;
    if (i + 1 < n && s[i] == '_' && is_digit(s[i + 1]))
      i++;
  }
  if (i < n && s[i] == '.') {
    if (++i >= n)
      return PC_E_PARSE;
    while (i < n && s[i] == '0')
      i++;
  }
  if (i != n)
    return PC_E_PARSE;
  if (neg)
    *out = (mag == (uint64_t)INT64_MAX + 1) ? INT64_MIN : -(int64_t)mag;
  else
    *out = (int64_t)mag;
  return PC_OK;
}

/* Python's float() of a str (what pydantic accepts): blanks around, a
 * sign, inf/infinity/nan in any case, or a decimal number whose digit
 * groups may hold single underscores. */
static int float_from_text(const char *s, size_t n, double *out)
{
  pc_buf clean;
  size_t i = 0, whole, frac = 0;
  int neg = 0, rc = PC_OK;

  strip(&s, &n);
  if (i < n && (s[i] == '+' || s[i] == '-'))
    neg = (s[i++] == '-');
  if (ascii_ieq(s + i, n - i, "inf") || ascii_ieq(s + i, n - i, "infinity")) {
    *out = neg ? -INFINITY : INFINITY;
    return PC_OK;
  }
  if (ascii_ieq(s + i, n - i, "nan")) {
    *out = NAN;
    return PC_OK;
  }
  pc_buf_init(&clean, 0);
  if (neg)
    rc = pc_buf_putc(&clean, '-');
  whole = digit_run(s, n, i, &clean, &rc);
  i += whole;
  if (i < n && s[i] == '.') {
    if (!rc)
      rc = pc_buf_putc(&clean, '.');
    frac = digit_run(s, n, ++i, &clean, &rc);
    i += frac;
  }
  if (!rc && whole + frac == 0)
    rc = PC_E_PARSE;
  if (!rc && i < n && (s[i] == 'e' || s[i] == 'E')) {
    rc = pc_buf_putc(&clean, 'e');
    i++;
    if (!rc && i < n && (s[i] == '+' || s[i] == '-'))
      rc = pc_buf_putc(&clean, s[i++]);
    if (!rc) {
      size_t k = digit_run(s, n, i, &clean, &rc);

      if (!rc && k == 0)
        rc = PC_E_PARSE;
      i += k;
    }
  }
  if (!rc && i != n)
    rc = PC_E_PARSE;
  if (!rc)
    rc = pc__json_parse_double(clean.data, clean.len, out);
  pc_buf_free(&clean);
  return rc;
}

/* pydantic's lax str -> bool. Returns 1 (true), 0 (false) or -1. */
static int bool_from_text(const char *s, size_t n)
{
  static const char *const yes[] = {"true", "yes", "on", "1", "t", "y"};
  static const char *const no[] = {"false", "no", "off", "0", "f", "n"};

  strip(&s, &n);
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (ascii_ieq(s, n, yes[i]))
      return 1;
    if (ascii_ieq(s, n, no[i]))
      return 0;
  }
  return -1;
}

/* Up to QUOTE_MAX bytes of s for a message, cut at a character boundary
 * and marked with "..." when cut. dst holds QUOTE_MAX + 4 bytes. */
static void quote_text(const char *s, size_t n, char *dst)
{
  size_t k = n;

  if (k > QUOTE_MAX) {
    k = QUOTE_MAX;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
      k--;
  }
  memcpy(dst, s, k);
  if (k < n) {
    memcpy(dst + k, "...", 3);
    k += 3;
  }
  dst[k] = '\0';
  for (size_t i = 0; i < k; i++) {
    if (dst[i] == '\0')
      dst[i] = ' ';
  }
}

/* ------------------------------------------------------------------------ */
/* Validation (pydantic's lax mode)                                         */

struct vctx {
  pc_buf path;    /* owned: where in the value we are, "[1]['k']" */
  pc_buf detail;  /* owned: what was wrong, empty until a failure */
};

/* Record a failure of `v` against `t` (why == NULL: "expected T, got V")
 * and return PC_E_PARSE, or PC_E_NOMEM if even that fails. */
static int vfail(struct vctx *c, const pc_type *t,
                 const struct json_object *v, const char *why)
{
  pc_buf got;
  int rc = PC_OK;

  if (c->detail.len)
    return PC_E_PARSE;
  if (c->path.len)
    rc = pc_buf_printf(&c->detail, "at %s: ", c->path.data);
  if (!rc && why) {
    rc = pc_buf_puts(&c->detail, why);
  } else if (!rc && c->path.len) {
    char q[QUOTE_MAX + 4];

    pc_buf_init(&got, 0);
    rc = pc_buf_puts(&c->detail, "expected ");
    if (!rc)
      rc = pc_type_canonical(t, &c->detail);
    if (!rc)
      rc = put_py(&got, v, 0, 0);
    if (!rc) {
      quote_text(got.data, got.len, q);
      rc = pc_buf_printf(&c->detail, ", got %s", q);
    }
    pc_buf_free(&got);
  }
  return rc == PC_E_NOMEM ? PC_E_NOMEM : PC_E_PARSE;
}

static int new_obj(struct json_object *o, struct json_object **out)
{
  *out = o;
  return o ? PC_OK : PC_E_NOMEM;
}

/* A fresh copy of a literal value (a string, an integer or a boolean). */
static int copy_scalar(const struct json_object *v, struct json_object **out)
{
  switch (json_object_get_type(v)) {
  case json_type_string:
    return new_obj(json_object_new_string_len(
                     json_object_get_string((struct json_object *)v),
                     json_object_get_string_len(v)), out);
  case json_type_boolean:
    return new_obj(json_object_new_boolean(json_object_get_boolean(v)), out);
  case json_type_int:
    return new_obj(json_object_new_int64(json_object_get_int64(v)), out);
  default:
    *out = NULL;
    return v ? PC_E_INTERNAL : PC_OK;
  }
}

/* The literal value whose str() is s[0..n): 1 and a copy in *out, 0 when
 * none matches, or a negative PC_E_* code. */
static int literal_find(const pc_type *t, const char *s, size_t n,
                        struct json_object **out)
{
  size_t count = json_object_array_length(t->values);
  pc_buf b;
  int rc = 0;

  pc_buf_init(&b, 0);
  for (size_t i = 0; rc == 0 && i < count; i++) {
    const struct json_object *v = json_object_array_get_idx(t->values, i);

    pc_buf_reset(&b);
    if (put_py(&b, v, 1, 0)) {
      rc = -PC_E_NOMEM;
    } else if (b.len == n && memcmp(b.data ? b.data : "", s, n) == 0) {
      int crc = copy_scalar(v, out);

      rc = crc ? -crc : 1;
    }
  }
  pc_buf_free(&b);
  return rc;
}

/* "expected one of: a; b" (the values' str() joined as DSPy does). */
static int literal_fail(struct vctx *c, const pc_type *t)
{
  size_t count = json_object_array_length(t->values);
  pc_buf why;
  int rc;

  pc_buf_init(&why, 0);
  rc = pc_buf_puts(&why, "expected one of: ");
  for (size_t i = 0; !rc && i < count; i++) {
    if (i)
      rc = pc_buf_puts(&why, "; ");
    if (!rc)
      rc = put_py(&why, json_object_array_get_idx(t->values, i), 1, 0);
  }
  if (!rc)
    rc = vfail(c, t, NULL, why.data);
  pc_buf_free(&why);
  return rc;
}

/*
 * DSPy's Literal rule for text: an exact match of a value's str(); else
 * strip, unwrap Literal[...] or str[...], drop one pair of matching quotes
 * and match again.
 */
static int literal_from_text(struct vctx *c, const pc_type *t, const char *s,
                             size_t n, struct json_object **out)
{
  int found = literal_find(t, s, n, out);

  if (found == 0) {
    strip(&s, &n);
    if (n > 0 && s[n - 1] == ']' &&
        ((n >= 8 && memcmp(s, "Literal[", 8) == 0) ||
         (n >= 4 && memcmp(s, "str[", 4) == 0))) {
      const char *open = memchr(s, '[', n);

      n = (size_t)(s + n - 1 - (open + 1));
      s = open + 1;
    }
    if (n > 1 && s[0] == s[n - 1] && (s[0] == '\'' || s[0] == '"')) {
      s++;
      n -= 2;
    }
    found = literal_find(t, s, n, out);
  }
  if (found < 0)
    return -found;
  return found ? PC_OK : literal_fail(c, t);
}

/* A literal against a value that is not a string: equal numbers and
 * booleans match (1.0 matches the integer 1). */
static int literal_from_value(struct vctx *c, const pc_type *t,
                              const struct json_object *v,
                              struct json_object **out)
{
  size_t count = json_object_array_length(t->values);
  json_type jt = json_object_get_type(v);

  for (size_t i = 0; i < count; i++) {
    const struct json_object *want = json_object_array_get_idx(t->values, i);
    json_type wt = json_object_get_type(want);
    int match = 0;

    if (jt == json_type_boolean && wt == json_type_boolean)
      match = json_object_get_boolean(v) == json_object_get_boolean(want);
    else if (jt == json_type_int && wt == json_type_int)
      match = json_object_get_int64(v) == json_object_get_int64(want);
    else if (jt == json_type_double && wt == json_type_int)
      match = json_object_get_double(v) ==
              (double)json_object_get_int64(want);
    if (match)
      return copy_scalar(want, out);
  }
  return literal_fail(c, t);
}

static int validate(struct vctx *c, const pc_type *t, struct json_object *v,
                    struct json_object **out);

static int validate_int(struct vctx *c, const pc_type *t,
                        struct json_object *v, struct json_object **out)
{
  int64_t i;

  switch (json_object_get_type(v)) {
  case json_type_int:
    *out = json_object_get(v);
    return PC_OK;
  case json_type_boolean:
    return new_obj(json_object_new_int64(json_object_get_boolean(v)), out);
  case json_type_double: {
    double d = json_object_get_double(v);

    /* Whole numbers only, inside the int64 range (2^63 is exact). */
    if (d == floor(d) && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0)
      return new_obj(json_object_new_int64((int64_t)d), out);
    break;
  }
  case json_type_string:
    if (int_from_text(json_object_get_string(v),
                      (size_t)json_object_get_string_len(v), &i) == PC_OK)
      return new_obj(json_object_new_int64(i), out);
    break;
  default:
    break;
  }
  return vfail(c, t, v, NULL);
}

static int validate_float(struct vctx *c, const pc_type *t,
                          struct json_object *v, struct json_object **out)
{
  double d;

  switch (json_object_get_type(v)) {
  case json_type_double:
    *out = json_object_get(v);
    return PC_OK;
  case json_type_int:
    if (json_object_get_int64(v) == INT64_MAX)
      d = (double)json_object_get_uint64(v);
    else
      d = (double)json_object_get_int64(v);
    return new_obj(json_object_new_double(d), out);
  case json_type_boolean:
    return new_obj(json_object_new_double(json_object_get_boolean(v)), out);
  case json_type_string: {
    int rc = float_from_text(json_object_get_string(v),
                             (size_t)json_object_get_string_len(v), &d);

    if (rc == PC_OK)
      return new_obj(json_object_new_double(d), out);
    if (rc == PC_E_NOMEM)
      return rc;
    break;
  }
  default:
    break;
  }
  return vfail(c, t, v, NULL);
}

static int validate_bool(struct vctx *c, const pc_type *t,
                         struct json_object *v, struct json_object **out)
{
  int b = -1;

  switch (json_object_get_type(v)) {
  case json_type_boolean:
    *out = json_object_get(v);
    return PC_OK;
  case json_type_int:
    if (json_object_get_int64(v) == 0 || json_object_get_int64(v) == 1)
      b = (int)json_object_get_int64(v);
    break;
  case json_type_double:
    if (json_object_get_double(v) == 0.0 || json_object_get_double(v) == 1.0)
      b = json_object_get_double(v) == 1.0;
    break;
  case json_type_string:
    b = bool_from_text(json_object_get_string(v),
                       (size_t)json_object_get_string_len(v));
    break;
  default:
    break;
  }
  if (b < 0)
    return vfail(c, t, v, NULL);
  return new_obj(json_object_new_boolean(b), out);
}

static int validate_list(struct vctx *c, const pc_type *t,
                         struct json_object *v, struct json_object **out)
{
  struct json_object *arr, *item;
  size_t n, mark = c->path.len;
  int rc = PC_OK;

  if (!json_object_is_type(v, json_type_array))
    return vfail(c, t, v, NULL);
  n = json_object_array_length(v);
  arr = json_object_new_array();
  if (!arr)
    return PC_E_NOMEM;
  for (size_t i = 0; !rc && i < n; i++) {
    rc = pc_buf_printf(&c->path, "[%zu]", i);
    if (!rc)
      rc = validate(c, t->item, json_object_array_get_idx(v, i), &item);
    if (!rc && json_object_array_add(arr, item) != 0) {
      json_object_put(item);
      rc = PC_E_NOMEM;
    }
    c->path.len = mark;
    if (c->path.data)
      c->path.data[mark] = '\0';
  }
  if (rc) {
    json_object_put(arr);
    return rc;
  }
  *out = arr;
  return PC_OK;
}

static int validate_dict(struct vctx *c, const pc_type *t,
                         struct json_object *v, struct json_object **out)
{
  struct json_object *obj, *item;
  size_t mark = c->path.len;
  int rc = PC_OK;

  if (!json_object_is_type(v, json_type_object))
    return vfail(c, t, v, NULL);
  obj = json_object_new_object();
  if (!obj)
    return PC_E_NOMEM;
  json_object_object_foreach(v, key, val) {
    if (rc)
      break;
    rc = pc_buf_putc(&c->path, '[');
    if (!rc)
      rc = put_str_repr(&c->path, key, strlen(key));
    if (!rc)
      rc = pc_buf_putc(&c->path, ']');
    if (!rc)
      rc = validate(c, t->item, val, &item);
    if (!rc && json_object_object_add(obj, key, item) != 0) {
      json_object_put(item);
      rc = PC_E_NOMEM;
    }
    c->path.len = mark;
    if (c->path.data)
      c->path.data[mark] = '\0';
  }
  if (rc) {
    json_object_put(obj);
    return rc;
  }
  *out = obj;
  return PC_OK;
}

/* Validate candidate `v` (borrowed) against `t`; *out owns the result
 * (NULL for None). On failure c->detail says what was wrong. */
static int validate(struct vctx *c, const pc_type *t, struct json_object *v,
                    struct json_object **out)
{
  *out = NULL;
  switch (t->kind) {
  case PC_TYPE_ANY:
    *out = json_object_get(v);
    return PC_OK;
  case PC_TYPE_STR:
    if (!json_object_is_type(v, json_type_string))
      return vfail(c, t, v, NULL);
    *out = json_object_get(v);
    return PC_OK;
  case PC_TYPE_INT:
    return validate_int(c, t, v, out);
  case PC_TYPE_FLOAT:
    return validate_float(c, t, v, out);
  case PC_TYPE_BOOL:
    return validate_bool(c, t, v, out);
  case PC_TYPE_LIST:
    return validate_list(c, t, v, out);
  case PC_TYPE_DICT:
    return validate_dict(c, t, v, out);
  case PC_TYPE_OPTIONAL:
    return v ? validate(c, t->item, v, out) : PC_OK;
  case PC_TYPE_LITERAL:
    if (json_object_is_type(v, json_type_string))
      return literal_from_text(c, t, json_object_get_string(v),
                               (size_t)json_object_get_string_len(v), out);
    return literal_from_value(c, t, v, out);
  }
  return vfail(c, t, v, "unknown type");
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

/* The final message: "cannot parse 'TEXT' as TYPE[: DETAIL]". */
static int parse_fail(pc_error *err, int rc, const pc_type *t,
                      const char *text, size_t len, const pc_buf *detail)
{
  char q[QUOTE_MAX + 4];
  pc_buf name;

  if (rc == PC_E_NOMEM)
    return pc_error_set(err, rc, "value: out of memory");
  quote_text(text, len, q);
  pc_buf_init(&name, 0);
  if (pc_type_canonical(t, &name))
    name.len = 0;
  rc = pc_error_set(err, PC_E_PARSE, "cannot parse '%s' as %s%s%s", q,
                    name.len ? name.data : "the type",
                    detail->len ? ": " : "", detail->len ? detail->data : "");
  pc_buf_free(&name);
  return rc;
}

/* DSPy's parse_value for text (chat adapter path). */
static int parse_text(struct vctx *c, const pc_type *t, const char *text,
                      size_t len, struct json_object **out)
{
  struct json_object *cand = NULL;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  if (t->kind == PC_TYPE_STR ||
      (t->kind == PC_TYPE_OPTIONAL && t->item->kind == PC_TYPE_STR))
    return new_obj(json_object_new_string_len(text, (int)len), out);
  if (t->kind == PC_TYPE_LITERAL)
    return literal_from_text(c, t, text, len, out);
  rc = pc_json_parse(text, len, PC_JSON_PARSE_REPAIR, &cand, &perr);
  if (rc == PC_E_NOMEM)
    return rc;
  if (rc || (len > 0 && json_object_is_type(cand, json_type_string) &&
             json_object_get_string_len(cand) == 0)) {
    /* Nothing JSON in it: the text itself is the candidate. */
    json_object_put(cand);
    cand = json_object_new_string_len(text, (int)len);
    if (!cand)
      return PC_E_NOMEM;
  }
  rc = validate(c, t, cand, out);
  json_object_put(cand);
  return rc;
}

/* DSPy's parse_value for a value the JSON adapter already decoded. */
static int parse_json(struct vctx *c, const pc_type *t, const char *text,
                      size_t len, struct json_object **out, pc_error *err)
{
  struct json_object *v = NULL;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  rc = pc_json_parse(text, len, PC_JSON_PARSE_STRICT, &v, &perr);
  if (rc) {
    char q[QUOTE_MAX + 4];

    if (rc == PC_E_NOMEM)
      return pc_error_set(err, rc, "value: out of memory");
    quote_text(text, len, q);
    return pc_error_wrap(err, &perr, "cannot parse '%s' as JSON", q);
  }
  if (json_object_is_type(v, json_type_string)) {
    rc = parse_text(c, t, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v), out);
  } else if (t->kind == PC_TYPE_STR) {
    pc_buf s;

    /* A str field takes Python's str() of whatever came back. */
    pc_buf_init(&s, 0);
    rc = put_py(&s, v, 1, 0);
    if (!rc)
      rc = new_obj(json_object_new_string_len(s.data ? s.data : "",
                                              (int)s.len), out);
    pc_buf_free(&s);
  } else {
    rc = validate(c, t, v, out);
  }
  json_object_put(v);
  if (rc)
    return parse_fail(err, rc, t, text, len, &c->detail);
  return PC_OK;
}

int pc_value_parse(const pc_type *type, const char *text, size_t len,
                   unsigned flags, struct json_object **out, pc_error *err)
{
  struct vctx c;
  int rc;

  *out = NULL;
  if (!type)
    return pc_error_set(err, PC_E_INVALID_ARG, "value: no type given");
  if (!text)
    text = "";
  if (len > (size_t)INT32_MAX)
    return pc_error_set(err, PC_E_PARSE, "value: text too large (%zu "
                        "bytes)", len);
  pc_buf_init(&c.path, 0);
  pc_buf_init(&c.detail, 0);
  if (flags & PC_VALUE_FROM_JSON) {
    rc = parse_json(&c, type, text, len, out, err);
  } else {
    rc = parse_text(&c, type, text, len, out);
    if (rc)
      rc = parse_fail(err, rc, type, text, len, &c.detail);
  }
  pc_buf_free(&c.path);
  pc_buf_free(&c.detail);
  if (rc) {
    json_object_put(*out);
    *out = NULL;
  }
  return rc;
}
