/* json_text.c - JSON text in (json-c's tokener) and out (our writer, which
 * matches Python's json.dumps byte for byte). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "file.h"
#include "json_text.h"

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

static int is_json_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Parse `len` bytes with json-c's strict tokener. `what` names the text in
 * messages ("" or " of the repaired text"). json-c needs a terminator to
 * finish a number that ends the input, so when it asks for more data it is
 * fed one NUL byte; a NUL inside the text stops the scan there and is then
 * reported as trailing text or as the place the value broke off.
 */
static int parse_strict(const char *text, size_t len, const char *what,
                        struct json_object **out, pc_error *err)
{
  struct json_tokener *tok = NULL;
  struct json_object *obj = NULL;
  enum json_tokener_error jerr;
  const char *nul;
  size_t scan, end;
  int rc = PC_OK;

  *out = NULL;
  if (len > (size_t)INT32_MAX - 1)
    return pc_error_set(err, PC_E_PARSE, "offset 0%s: text too large (%zu "
                        "bytes)", what, len);
  if (!text)
    text = "";
  tok = json_tokener_new_ex(PC_JSON_MAX_DEPTH);
  if (!tok)
    return pc_error_set(err, PC_E_NOMEM, "JSON parser: out of memory");
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                         JSON_TOKENER_VALIDATE_UTF8);
  nul = len ? memchr(text, '\0', len) : NULL;
  scan = nul ? (size_t)(nul - text) : len;

  obj = json_tokener_parse_ex(tok, text, (int)scan);
  jerr = json_tokener_get_error(tok);
  end = json_tokener_get_parse_end(tok);
  if (jerr == json_tokener_continue) {
    obj = json_tokener_parse_ex(tok, "", 1);
    jerr = json_tokener_get_error(tok);
    end = scan;
    if (jerr != json_tokener_success) {
      rc = pc_error_set(err, PC_E_PARSE, "offset %zu%s: %s", scan, what,
                        nul ? "unexpected NUL byte"
                            : "unexpected end of text");
      goto fail;
    }
  } else if (jerr != json_tokener_success) {
    rc = pc_error_set(err, PC_E_PARSE, "offset %zu%s: %s", end, what,
                      json_tokener_error_desc(jerr));
    goto fail;
  }
  for (size_t i = end; i < len; i++) {
    if (!is_json_space(text[i])) {
      rc = pc_error_set(err, PC_E_PARSE, "offset %zu%s: unexpected text "
                        "after the JSON value", i, what);
      goto fail;
    }
  }
  json_tokener_free(tok);
  *out = obj;
  return PC_OK;

fail:
  json_object_put(obj);
  json_tokener_free(tok);
  return rc;
}

int pc_json_parse(const char *text, size_t len, unsigned flags,
                  struct json_object **out, pc_error *err)
{
  pc_buf fixed;
  int rc;

  *out = NULL;
  if (!(flags & PC_JSON_PARSE_REPAIR))
    return parse_strict(text, len, "", out, err);
  pc_buf_init(&fixed, 0);
  rc = pc_json_repair(text, len, &fixed, err);
  if (rc == PC_OK)
    rc = parse_strict(fixed.data, fixed.len, " of the repaired text", out,
                      err);
  pc_buf_free(&fixed);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                  */

int pc__json_write_int(const struct json_object *v, pc_buf *out)
{
  int64_t i = json_object_get_int64(v);

  /* json-c keeps large positive integers as uint64 and then reports them
   * as INT64_MAX through the int64 getter. */
  if (i == INT64_MAX) {
    uint64_t u = json_object_get_uint64(v);
    return pc_buf_printf(out, "%llu", (unsigned long long)u);
  }
  return pc_buf_printf(out, "%lld", (long long)i);
}

/*
 * The shortest decimal digits that read back as `d` (finite), with the
 * decimal exponent of the first digit: d = 0.DIGITS * 10^(exp + 1), sign
 * apart. printf and strtod run in the same locale, so the round trip holds
 * whatever the decimal point is; the digits are collected without it.
 */
static void shortest_digits(double d, char digits[20], int *exp, int *neg)
{
  char tmp[40];
  const char *p;
  size_t n = 0;
  int prec;

  for (prec = 1; prec < 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  if (prec == 17)
    snprintf(tmp, sizeof(tmp), "%.16e", d);
  p = tmp;
  *neg = (*p == '-');
  if (*neg)
    p++;
  for (; *p && *p != 'e'; p++) {
    if (*p >= '0' && *p <= '9' && n < 19)
      digits[n++] = *p;
  }
  while (n > 1 && digits[n - 1] == '0')
    n--;
  digits[n] = '\0';
  *exp = (*p == 'e') ? (int)strtol(p + 1, NULL, 10) : 0;
}

int pc_json_write_double(double d, pc_buf *out)
{
  char digits[20];
  int exp, neg, nd, decpt;
  pc_buf *b = out;
  size_t start = out->len;
  int rc = PC_OK;

  if (isnan(d))
    return pc_buf_puts(out, "NaN");
  if (isinf(d))
    return pc_buf_puts(out, d > 0 ? "Infinity" : "-Infinity");
  shortest_digits(d, digits, &exp, &neg);
  nd = (int)strlen(digits);
  decpt = exp + 1;  /* digits before the decimal point */
  if (neg)
    rc |= pc_buf_putc(b, '-');
  if (exp >= -4 && exp < 16) {
    /* Fixed notation, as Python's repr() between 1e-4 and 1e16. */
    if (decpt <= 0) {
      rc |= pc_buf_puts(b, "0.");
      for (int i = 0; i < -decpt; i++)
        rc |= pc_buf_putc(b, '0');
      rc |= pc_buf_append(b, digits, (size_t)nd);
    } else if (decpt >= nd) {
      rc |= pc_buf_append(b, digits, (size_t)nd);
      for (int i = nd; i < decpt; i++)
        rc |= pc_buf_putc(b, '0');
      rc |= pc_buf_puts(b, ".0");
    } else {
      rc |= pc_buf_append(b, digits, (size_t)decpt);
      rc |= pc_buf_putc(b, '.');
      rc |= pc_buf_append(b, digits + decpt, (size_t)(nd - decpt));
    }
  } else {
    /* Scientific: at least two exponent digits and an explicit sign. */
    rc |= pc_buf_putc(b, digits[0]);
    if (nd > 1) {
      rc |= pc_buf_putc(b, '.');
      rc |= pc_buf_append(b, digits + 1, (size_t)(nd - 1));
    }
    rc |= pc_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+',
                        exp < 0 ? -exp : exp);
  }
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
    return PC_E_NOMEM;
  }
  return PC_OK;
}

int pc__json_parse_double(const char *s, size_t len, double *out)
{
  char tmp[400], point[8];
  size_t n = 0, plen;
  char *end;

  /* strtod reads the locale's decimal point: find it by printing 0.5. */
  snprintf(point, sizeof(point), "%.1f", 0.5);
  plen = strlen(point) - 2;  /* "0" + point + "5" */
  if (plen == 0 || plen > 4)
    return PC_E_PARSE;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (n + plen >= sizeof(tmp))
        return PC_E_PARSE;
      memcpy(tmp + n, point + 1, plen);
      n += plen;
    } else if ((s[i] >= '0' && s[i] <= '9') || s[i] == 'e' || s[i] == 'E'
               || s[i] == '+' || s[i] == '-') {
      if (n + 1 >= sizeof(tmp))
        return PC_E_PARSE;
      tmp[n++] = s[i];
    } else {
      return PC_E_PARSE;
    }
  }
  if (n == 0)
    return PC_E_PARSE;
  tmp[n] = '\0';
  *out = strtod(tmp, &end);
  return (*end == '\0') ? PC_OK : PC_E_PARSE;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */

/*
 * Decode one UTF-8 sequence at s[0..len). Returns its length and the code
 * point in *cp, or 0 when the bytes are not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF included).
 */
size_t pc__utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
  uint32_t c;
  size_t n;

  if (len == 0)
    return 0;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    n = 2;
    c = s[0] & 0x1f;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    n = 3;
    c = s[0] & 0x0f;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    n = 4;
    c = s[0] & 0x07;
  } else {
    return 0;
  }
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
      (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return n;
}

/* Append a JSON string literal as Python's json.dumps writes it. */
static int write_string(const char *s, size_t len, int ascii, pc_buf *out)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0;
  int rc;

  rc = pc_buf_putc(out, '"');
  while (!rc && i < len) {
    unsigned char c = u[i];
    const char *esc = NULL;

    if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x7f || !ascii)) {
      i++;  /* plain byte: copied with its run below */
      run++;
      continue;
    }
    rc = pc_buf_append(out, s + i - run, run);
    run = 0;
    if (rc)
      break;
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default: break;
    }
    if (esc) {
      rc = pc_buf_puts(out, esc);
      i++;
    } else if (c < 0x80) {
      rc = pc_buf_printf(out, "\\u%04x", c);  /* controls and DEL */
      i++;
    } else {
      uint32_t cp;
      size_t n = pc__utf8_decode(u + i, len - i, &cp);

      if (n == 0) {
        cp = 0xfffd;  /* not UTF-8: Python could not hold it either */
        n = 1;
      }
      if (cp >= 0x10000) {
        cp -= 0x10000;
        rc = pc_buf_printf(out, "\\u%04x\\u%04x",
                           (unsigned)(0xd800 + (cp >> 10)),
                           (unsigned)(0xdc00 + (cp & 0x3ff)));
      } else {
        rc = pc_buf_printf(out, "\\u%04x", (unsigned)cp);
      }
      i += n;
    }
  }
  if (!rc)
    rc = pc_buf_append(out, s + i - run, run);
  if (!rc)
    rc = pc_buf_putc(out, '"');
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

struct writer {
  unsigned flags;
  pc_buf *out;
};

static int byte_order(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int write_value(struct writer *w, const struct json_object *v,
                       int depth);

/* Newline and indentation before an item of a PRETTY container. */
static int write_indent(struct writer *w, int depth)
{
  int rc = pc_buf_putc(w->out, '\n');

  for (int i = 0; !rc && i < depth; i++)
    rc = pc_buf_puts(w->out, "  ");
  return rc;
}

static int write_separator(struct writer *w, int depth, int first)
{
  unsigned layout = w->flags & 3u;
  int rc = PC_OK;

  if (!first)
    rc = pc_buf_puts(w->out, layout == PC_JSON_TEXT_SPACED ? ", " : ",");
  if (!rc && layout >= PC_JSON_TEXT_PRETTY)
    rc = write_indent(w, depth);
  return rc;
}

static int write_array(struct writer *w, const struct json_object *v,
                       int depth)
{
  size_t n = json_object_array_length(v);
  int rc;

  rc = pc_buf_putc(w->out, '[');
  for (size_t i = 0; !rc && i < n; i++) {
    rc = write_separator(w, depth + 1, i == 0);
    if (!rc)
      rc = write_value(w, json_object_array_get_idx(v, i), depth + 1);
  }
  if (!rc && n > 0 && (w->flags & 3u) >= PC_JSON_TEXT_PRETTY)
    rc = write_indent(w, depth);
  if (!rc)
    rc = pc_buf_putc(w->out, ']');
  return rc;
}

static int write_object(struct writer *w, const struct json_object *v,
                        int depth)
{
  size_t n = (size_t)json_object_object_length(v), k = 0;
  const char **keys = NULL;
  const char *colon = (w->flags & 3u) ? ": " : ":";
  int rc = PC_OK;

  if (n > 0) {
    keys = pc_calloc(n, sizeof(*keys));
    if (!keys)
      return PC_E_NOMEM;
    json_object_object_foreach((struct json_object *)v, key, val) {
      (void)val;
      if (k < n)
        keys[k++] = key;
    }
    n = k;
    if (w->flags & PC_JSON_TEXT_SORTED)
      qsort(keys, n, sizeof(*keys), byte_order);
  }
  rc = pc_buf_putc(w->out, '{');
  for (size_t i = 0; !rc && i < n; i++) {
    struct json_object *val = NULL;

    json_object_object_get_ex(v, keys[i], &val);
    rc = write_separator(w, depth + 1, i == 0);
    if (!rc)
      rc = write_string(keys[i], strlen(keys[i]),
                        (w->flags & PC_JSON_TEXT_ASCII) != 0, w->out);
    if (!rc)
      rc = pc_buf_puts(w->out, colon);
    if (!rc)
      rc = write_value(w, val, depth + 1);
  }
  if (!rc && n > 0 && (w->flags & 3u) >= PC_JSON_TEXT_PRETTY)
    rc = write_indent(w, depth);
  if (!rc)
    rc = pc_buf_putc(w->out, '}');
  pc_free(keys);
  return rc;
}

static int write_value(struct writer *w, const struct json_object *v,
                       int depth)
{
  if (depth > PC_JSON_MAX_DEPTH)
    return PC_E_INVALID_ARG;
  switch (json_object_get_type(v)) {
  case json_type_null:
    return pc_buf_puts(w->out, "null");
  case json_type_boolean:
    return pc_buf_puts(w->out, json_object_get_boolean(v) ? "true" : "false");
  case json_type_int:
    return pc__json_write_int(v, w->out);
  case json_type_double: {
    double d = json_object_get_double(v);

    if ((w->flags & PC__JSON_TEXT_NONFINITE_NULL) && !isfinite(d))
      return pc_buf_puts(w->out, "null");
    return pc_json_write_double(d, w->out);
  }
  case json_type_string:
    return write_string(json_object_get_string((struct json_object *)v),
                        (size_t)json_object_get_string_len(v),
                        (w->flags & PC_JSON_TEXT_ASCII) != 0, w->out);
  case json_type_array:
    return write_array(w, v, depth);
  case json_type_object:
    return write_object(w, v, depth);
  }
  return PC_E_INVALID_ARG;
}

int pc_json_write(const struct json_object *v, unsigned flags, pc_buf *out)
{
  struct writer w;
  size_t start = out->len;
  int rc;

  w.flags = flags;
  w.out = out;
  rc = write_value(&w, v, 0);
  if (rc) {
    /* Leave the buffer as it was: no half-written value. */
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return rc;
}

char *pc_json_to_string(const struct json_object *v, unsigned flags)
{
  pc_buf b;
  char *s = NULL;

  pc_buf_init(&b, 0);
  if (pc_json_write(v, flags, &b) == PC_OK)
    s = pc_buf_take(&b, NULL);
  pc_buf_free(&b);
  return s;
}

int pc_json_parse_file(const char *path, size_t max, struct json_object **out,
                       pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;
  char *text = NULL;
  size_t len = 0;
  int rc;

  *out = NULL;
  rc = pc_file_read(path, max, &text, &len, err);
  if (rc)
    return rc;
  rc = pc_json_parse(text, len, PC_JSON_PARSE_STRICT, out, &perr);
  pc_free(text);
  if (rc)
    return pc_error_wrap(err, &perr, "%s", path);
  return PC_OK;
}

struct json_object *pc_json_member(const struct json_object *o,
                                   const char *key)
{
  struct json_object *v = NULL;

  if (!o || !json_object_is_type(o, json_type_object) ||
      !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v;
}

const char *pc_json_str(const struct json_object *o, const char *key)
{
  struct json_object *v = pc_json_member(o, key);

  return v && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}
