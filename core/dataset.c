/* dataset.c - load JSONL and CSV datasets, check every row, hash splits. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "dataset.h"
#include "file.h"
#include "json_text.h"

/* Buffers that hold one record or one canonical row are bounded by the
 * input (already in memory) and max_line, not by the default buf cap. */
#define BIG_BUF_MAX (SIZE_MAX / 4)

#define CANONICAL (PC_JSON_TEXT_COMPACT | PC_JSON_TEXT_SORTED)

/* State of one parse: where rows and skipped rows go, and the options. */
struct reader {
  const char *origin;  /* borrowed: names the source in messages */
  int skip;            /* record malformed rows instead of failing */
  size_t max_line;
  pc_dataset *ds;      /* borrowed: the dataset being filled */
  size_t rows_cap;
  size_t skipped_cap;
  pc_error *err;
};

/* One CSV record: field values, each followed by a NUL, in `text`. */
struct csv_rec {
  pc_buf text;
  size_t *starts;  /* owned: offset of each field in text.data */
  size_t n;
  size_t cap;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */

/* Make room for element n of an array of `size`-byte elements. Returns the
 * (maybe moved) array, or NULL when out of memory (the old one is kept). */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
  size_t ncap;
  void *p;

  if (n < *cap)
    return arr;
  ncap = *cap ? *cap * 2 : 16;
  if (ncap < *cap || ncap > SIZE_MAX / size)
    return NULL;
  p = pc_realloc(arr, ncap * size);
  if (p)
    *cap = ncap;
  return p;
}

static int nomem(struct reader *rd)
{
  return pc_error_set(rd->err, PC_E_NOMEM, "%s: out of memory", rd->origin);
}

/* Replace control characters so a reason stays one printable line. */
static void one_line(char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = ' ';
}

/* A JSON value's kind, with its article, for messages. */
static const char *kind_of(struct json_object *v)
{
  switch (json_object_get_type(v)) {
  case json_type_null:
    return "null";
  case json_type_boolean:
    return "a boolean";
  case json_type_double:
    return "a float";
  case json_type_int:
    return "an integer";
  case json_type_string:
    return "a string";
  case json_type_array:
    return "an array";
  case json_type_object:
    return "an object";
  }
  return "an unknown value";
}

static int is_blank(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
      return 0;
  return 1;
}

/*
 * Check that s[0..n) is well-formed UTF-8 (no overlong forms, surrogates
 * or code points past U+10FFFF) without NUL bytes. Returns NULL when it
 * is, else what is wrong, with the byte offset in *at.
 */
static const char *utf8_problem(const char *text, size_t n, size_t *at)
{
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;

  while (i < n) {
    unsigned c = s[i];
    unsigned long cp, min;
    size_t k;

    if (c == 0) {
      *at = i;
      return "NUL byte";
    }
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      goto bad;
    }
    if (n - i <= k)
      goto bad;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        goto bad;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      goto bad;
    i += k + 1;
  }
  return NULL;

bad:
  *at = i;
  return "invalid UTF-8";
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                   */

/*
 * A row is malformed: without skip mode, fail with "ORIGIN:LINE: why";
 * with it, record the row in ds->skipped and return PC_OK so parsing goes
 * on. PC_E_NOMEM if the record cannot be kept.
 */
static int row_fail(struct reader *rd, size_t line, const char *fmt, ...)
  PC_PRINTF(3, 4);

static int row_fail(struct reader *rd, size_t line, const char *fmt, ...)
{
  char why[PC_ERROR_MESSAGE_MAX];
  pc_dataset_skip *s;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  one_line(why);
  if (!rd->skip)
    return pc_error_set(rd->err, PC_E_PARSE, "%s:%zu: %s", rd->origin, line,
                        why);
  s = grow(rd->ds->skipped, &rd->skipped_cap, rd->ds->n_skipped,
           sizeof(*s));
  if (!s)
    return nomem(rd);
  rd->ds->skipped = s;
  s += rd->ds->n_skipped;
  s->reason = pc_strdup(why);
  if (!s->reason)
    return nomem(rd);
  s->line = line;
  rd->ds->n_skipped++;
  return PC_OK;
}

/*
 * Check one parsed row and append it to the dataset. Takes ownership of
 * `obj` whatever happens. A row that breaks a rule goes to row_fail().
 */
static int add_row(struct reader *rd, size_t line, struct json_object *obj)
{
  pc_dataset *ds = rd->ds;
  struct json_object *v;
  const char *id = NULL, *slice = NULL;
  char num[32];
  pc_example *ex;
  int rc = PC_OK;

  if (!json_object_is_type(obj, json_type_object)) {
    rc = row_fail(rd, line, "expected a JSON object, got %s", kind_of(obj));
    goto out;
  }
  if (json_object_object_get_ex(obj, "id", &v)) {
    if (json_object_is_type(v, json_type_string)) {
      id = json_object_get_string(v);
      if (!*id || strlen(id) != (size_t)json_object_get_string_len(v)) {
        rc = row_fail(rd, line, "\"id\" is empty or holds a NUL character");
        goto out;
      }
    } else if (json_object_is_type(v, json_type_int)) {
      int64_t i = json_object_get_int64(v);

      /* json-c keeps integers past INT64_MAX as unsigned. */
      if (i < 0)
        snprintf(num, sizeof(num), "%" PRId64, i);
      else
        snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(v));
      id = num;
    } else {
      rc = row_fail(rd, line, "\"id\" must be a string or an integer, got %s",
                    kind_of(v));
      goto out;
    }
  } else {
    snprintf(num, sizeof(num), "%zu", line);
    id = num;
  }
  if (json_object_object_get_ex(obj, "slice", &v)) {
    if (!json_object_is_type(v, json_type_string)) {
      rc = row_fail(rd, line, "\"slice\" must be a string, got %s",
                    kind_of(v));
      goto out;
    }
    slice = json_object_get_string(v);
    if (strlen(slice) != (size_t)json_object_get_string_len(v)) {
      rc = row_fail(rd, line, "\"slice\" holds a NUL character");
      goto out;
    }
  }
  for (size_t i = 0; i < ds->n_input_keys; i++) {
    if (!json_object_object_get_ex(obj, ds->input_keys[i], NULL)) {
      rc = row_fail(rd, line, "missing input key \"%s\"", ds->input_keys[i]);
      goto out;
    }
  }

  ex = grow(ds->rows, &rd->rows_cap, ds->n_rows, sizeof(*ex));
  if (!ex) {
    rc = nomem(rd);
    goto out;
  }
  ds->rows = ex;
  ex += ds->n_rows;
  memset(ex, 0, sizeof(*ex));
  ex->id = pc_strdup(id);
  ex->slice = slice ? pc_strdup(slice) : NULL;
  if (!ex->id || (slice && !ex->slice)) {
    pc_free(ex->id);
    pc_free(ex->slice);
    rc = nomem(rd);
    goto out;
  }
  ex->fields = obj;
  ex->line = line;
  ds->n_rows++;
  obj = NULL;

out:
  json_object_put(obj);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* JSONL                                                                  */

static int jsonl_row(struct reader *rd, size_t line, const char *s, size_t n)
{
  pc_error jerr = PC_ERROR_INIT;
  struct json_object *obj = NULL;
  const char *why;
  size_t at;
  int rc;

  if (n > rd->max_line)
    return row_fail(rd, line, "line is longer than %zu bytes", rd->max_line);
  why = utf8_problem(s, n, &at);
  if (why)
    return row_fail(rd, line, "%s at byte %zu", why, at);
  rc = pc_json_parse(s, n, PC_JSON_PARSE_STRICT, &obj, &jerr);
  if (rc == PC_E_NOMEM)
    return nomem(rd);
  if (rc)
    return row_fail(rd, line, "invalid JSON: %s", jerr.message);
  return add_row(rd, line, obj);
}

static int parse_jsonl(struct reader *rd, const char *text, size_t len)
{
  size_t pos = 0, line = 0;
  int rc = PC_OK;

  while (pos < len && rc == PC_OK) {
    const char *s = text + pos;
    const char *nl = memchr(s, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - s) : len - pos;

    pos += n + (nl ? 1 : 0);
    line++;
    if (n && s[n - 1] == '\r')
      n--;
    if (!is_blank(s, n))
      rc = jsonl_row(rd, line, s, n);
  }
  return rc;
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                    */

static void csv_rec_init(struct csv_rec *r)
{
  pc_buf_init(&r->text, BIG_BUF_MAX);
  r->starts = NULL;
  r->n = 0;
  r->cap = 0;
}

static void csv_rec_free(struct csv_rec *r)
{
  pc_buf_free(&r->text);
  pc_free(r->starts);
}

/* Value of field i and its length (values may not hold NUL: checked). */
static const char *csv_field(const struct csv_rec *r, size_t i, size_t *len)
{
  size_t end = (i + 1 < r->n) ? r->starts[i + 1] : r->text.len;

  *len = end - r->starts[i] - 1;
  return r->text.data + r->starts[i];
}

static int csv_begin_field(struct csv_rec *r)
{
  size_t *p = grow(r->starts, &r->cap, r->n, sizeof(*p));

  if (!p)
    return PC_E_NOMEM;
  r->starts = p;
  r->starts[r->n++] = r->text.len;
  return PC_OK;
}

/* True when text[p] ends a record: LF, CRLF, or a CR at the very end. */
static int csv_at_eol(const char *t, size_t len, size_t p)
{
  return t[p] == '\n' || (t[p] == '\r' && (p + 1 == len || t[p + 1] == '\n'));
}

/* Step over the record terminator at p, if any, counting the line. */
static size_t csv_skip_eol(const char *t, size_t len, size_t p, size_t *line)
{
  if (p < len && t[p] == '\r')
    p++;
  if (p < len && t[p] == '\n') {
    p++;
    (*line)++;
  }
  return p;
}

/*
 * Read the record at *pos into `r`, advancing *pos past its terminator and
 * *line by the newlines consumed; *end is where the record's bytes end.
 * Returns PC_OK, PC_E_NOMEM, or PC_E_PARSE with the reason in `why` (then
 * *pos is past the bad record, or at the next line when quoting broke).
 */
static int csv_read(const char *t, size_t len, size_t *pos, size_t *line,
                    struct csv_rec *r, size_t *end, char *why, size_t whysz)
{
  size_t p = *pos;

  pc_buf_reset(&r->text);
  r->n = 0;
  for (;;) {
    if (csv_begin_field(r))
      return PC_E_NOMEM;
    if (p < len && t[p] == '"') {
      p++;
      for (;;) {
        const char *q = memchr(t + p, '"', len - p);
        size_t run = q ? (size_t)(q - (t + p)) : len - p;

        for (size_t i = 0; i < run; i++)
          if (t[p + i] == '\n')
            (*line)++;
        if (pc_buf_append(&r->text, t + p, run))
          return PC_E_NOMEM;
        p += run;
        if (!q) {
          snprintf(why, whysz, "unterminated quoted field");
          *pos = len;
          return PC_E_PARSE;
        }
        p++;  /* the quote */
        if (p < len && t[p] == '"') {
          if (pc_buf_putc(&r->text, '"'))
            return PC_E_NOMEM;
          p++;
          continue;
        }
        break;
      }
      if (p < len && t[p] != ',' && !csv_at_eol(t, len, p)) {
        snprintf(why, whysz, "unexpected character after a closing quote");
        goto resync;
      }
    } else {
      size_t s = p;

      while (p < len && t[p] != ',' && !csv_at_eol(t, len, p)) {
        if (t[p] == '"') {
          snprintf(why, whysz, "quote inside an unquoted field");
          goto resync;
        }
        p++;
      }
      if (pc_buf_append(&r->text, t + s, p - s))
        return PC_E_NOMEM;
    }
    if (pc_buf_putc(&r->text, '\0'))
      return PC_E_NOMEM;
    if (p < len && t[p] == ',') {
      p++;
      continue;
    }
    break;
  }
  *end = p;
  *pos = csv_skip_eol(t, len, p, line);
  return PC_OK;

resync:
  while (p < len && t[p] != '\n')
    p++;
  *pos = csv_skip_eol(t, len, p, line);
  return PC_E_PARSE;
}

/* The header names the fields: each must be non-empty and unique, and
 * every input key must be one of them. Not skippable. */
static int csv_check_header(struct reader *rd, size_t line,
                            const struct csv_rec *h)
{
  const pc_dataset *ds = rd->ds;
  size_t li, lj;

  for (size_t i = 0; i < h->n; i++) {
    const char *a = csv_field(h, i, &li);

    if (!li)
      return pc_error_set(rd->err, PC_E_PARSE,
                          "%s:%zu: header: column %zu has no name",
                          rd->origin, line, i + 1);
    for (size_t j = 0; j < i; j++) {
      const char *b = csv_field(h, j, &lj);

      if (li == lj && memcmp(a, b, li) == 0)
        return pc_error_set(rd->err, PC_E_PARSE,
                            "%s:%zu: header: column \"%s\" appears twice",
                            rd->origin, line, a);
    }
  }
  for (size_t k = 0; k < ds->n_input_keys; k++) {
    size_t i;

    for (i = 0; i < h->n; i++)
      if (strcmp(csv_field(h, i, &li), ds->input_keys[k]) == 0)
        break;
    if (i == h->n)
      return pc_error_set(rd->err, PC_E_PARSE,
                          "%s:%zu: header: no column for input key \"%s\"",
                          rd->origin, line, ds->input_keys[k]);
  }
  return PC_OK;
}

/* Turn a record into a JSON object of strings and add it as a row. */
static int csv_row(struct reader *rd, size_t line, const struct csv_rec *h,
                   const struct csv_rec *r)
{
  struct json_object *obj;
  size_t n;

  if (r->n != h->n)
    return row_fail(rd, line, "expected %zu fields, got %zu", h->n, r->n);
  obj = json_object_new_object();
  if (!obj)
    return nomem(rd);
  for (size_t i = 0; i < r->n; i++) {
    const char *v = csv_field(r, i, &n);
    struct json_object *s = json_object_new_string_len(v, (int)n);

    if (!s || json_object_object_add(obj, csv_field(h, i, &n), s)) {
      json_object_put(s);
      json_object_put(obj);
      return nomem(rd);
    }
  }
  return add_row(rd, line, obj);
}

static int parse_csv(struct reader *rd, const char *text, size_t len)
{
  struct csv_rec head, rec;
  size_t pos = 0, line = 1;
  int have_head = 0;
  int rc = PC_OK;

  csv_rec_init(&head);
  csv_rec_init(&rec);
  for (;;) {
    char why[PC_ERROR_MESSAGE_MAX] = "";
    size_t start, end = 0, start_line, at;
    struct csv_rec *r = have_head ? &rec : &head;
    const char *bad;

    /* Empty lines between records carry nothing: skip them. */
    while (pos < len && csv_at_eol(text, len, pos))
      pos = csv_skip_eol(text, len, pos, &line);
    if (pos >= len)
      break;
    start = pos;
    start_line = line;
    rc = csv_read(text, len, &pos, &line, r, &end, why, sizeof(why));
    if (rc == PC_E_NOMEM) {
      rc = nomem(rd);
      goto out;
    }
    if (rc == PC_OK && end - start > rd->max_line) {
      snprintf(why, sizeof(why), "record is longer than %zu bytes",
               rd->max_line);
      rc = PC_E_PARSE;
    }
    if (rc == PC_OK && (bad = utf8_problem(text + start, end - start, &at))) {
      snprintf(why, sizeof(why), "%s at byte %zu", bad, at);
      rc = PC_E_PARSE;
    }
    if (!have_head) {
      if (rc)
        rc = pc_error_set(rd->err, PC_E_PARSE, "%s:%zu: header: %s",
                          rd->origin, start_line, why);
      else
        rc = csv_check_header(rd, start_line, &head);
      if (rc)
        goto out;
      have_head = 1;
      continue;
    }
    if (rc)
      rc = row_fail(rd, start_line, "%s", why);
    else
      rc = csv_row(rd, start_line, &head, &rec);
    if (rc)
      goto out;
  }

out:
  csv_rec_free(&head);
  csv_rec_free(&rec);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Ids                                                                    */

struct id_ref {
  const char *id;
  size_t row;
};

static int id_ref_cmp(const void *pa, const void *pb)
{
  const struct id_ref *a = pa, *b = pb;
  int c = strcmp(a->id, b->id);

  if (c)
    return c;
  return (a->row > b->row) - (a->row < b->row);
}

/*
 * Ids must be unique. Sorting (id, row) pairs finds every repeat; the one
 * reported is the earliest second occurrence in the file, with the line
 * of its first occurrence.
 */
static int check_ids(struct reader *rd)
{
  const pc_dataset *ds = rd->ds;
  struct id_ref *refs;
  size_t first = 0, second = SIZE_MAX;
  int rc = PC_OK;

  if (ds->n_rows < 2)
    return PC_OK;
  refs = pc_calloc(ds->n_rows, sizeof(*refs));
  if (!refs)
    return nomem(rd);
  for (size_t i = 0; i < ds->n_rows; i++) {
    refs[i].id = ds->rows[i].id;
    refs[i].row = i;
  }
  qsort(refs, ds->n_rows, sizeof(*refs), id_ref_cmp);
  for (size_t i = 1; i < ds->n_rows; i++) {
    /* refs[i - 1] opens the group when the id before it differs. */
    if (strcmp(refs[i].id, refs[i - 1].id) == 0 &&
        (i == 1 || strcmp(refs[i - 2].id, refs[i].id) != 0) &&
        refs[i].row < second) {
      first = refs[i - 1].row;
      second = refs[i].row;
    }
  }
  if (second != SIZE_MAX)
    rc = pc_error_set(rd->err, PC_E_PARSE,
                      "%s:%zu: duplicate id \"%s\" (first on line %zu)",
                      rd->origin, ds->rows[second].line, ds->rows[second].id,
                      ds->rows[first].line);
  pc_free(refs);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Datasets                                                               */

/* The format PC_DATASET_AUTO stands for, from the origin's extension;
 * -1 when the extension is not one we know. */
static int format_from_name(const char *name)
{
  const char *slash = strrchr(name, '/');
  const char *dot = strrchr(slash ? slash : name, '.');

  if (!dot)
    return -1;
  if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson") ||
      !strcasecmp(dot, ".json"))
    return PC_DATASET_JSONL;
  if (!strcasecmp(dot, ".csv"))
    return PC_DATASET_CSV;
  return -1;
}

/* Check the options and copy the input keys into ds. */
static int take_keys(pc_dataset *ds, const pc_dataset_opts *opts,
                     pc_error *err)
{
  if (!opts->n_input_keys)
    return PC_OK;
  if (!opts->input_keys)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: input_keys is NULL", ds->path);
  ds->input_keys = pc_calloc(opts->n_input_keys, sizeof(char *));
  if (!ds->input_keys)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", ds->path);
  for (size_t i = 0; i < opts->n_input_keys; i++) {
    const char *k = opts->input_keys[i];

    if (!k || !*k)
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: input key %zu is empty", ds->path, i + 1);
    for (size_t j = 0; j < i; j++)
      if (strcmp(ds->input_keys[j], k) == 0)
        return pc_error_set(err, PC_E_INVALID_ARG,
                            "%s: input key \"%s\" is given twice", ds->path,
                            k);
    ds->input_keys[i] = pc_strdup(k);
    if (!ds->input_keys[i])
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", ds->path);
    ds->n_input_keys = i + 1;
  }
  return PC_OK;
}

int pc_dataset_parse(const char *origin, const char *text, size_t len,
                     const pc_dataset_opts *opts, pc_dataset **out,
                     pc_error *err)
{
  static const pc_dataset_opts defaults;
  struct reader rd;
  pc_dataset *ds = NULL;
  int format, rc;

  *out = NULL;
  if (!opts)
    opts = &defaults;
  if (!origin)
    origin = "<memory>";
  if (!text && len)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: no text", origin);
  format = opts->format;
  if (format == PC_DATASET_AUTO) {
    format = format_from_name(origin);
    if (format < 0)
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: unknown dataset format (use .jsonl, .ndjson, "
                          ".json or .csv, or choose the format)", origin);
  } else if (format != PC_DATASET_JSONL && format != PC_DATASET_CSV) {
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: unknown dataset format code %d", origin, format);
  }

  ds = pc_calloc(1, sizeof(*ds));
  if (!ds)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", origin);
  ds->path = pc_strdup(origin);
  if (!ds->path) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", origin);
    goto fail;
  }
  rc = take_keys(ds, opts, err);
  if (rc)
    goto fail;

  memset(&rd, 0, sizeof(rd));
  rd.origin = ds->path;
  rd.skip = opts->skip_malformed != 0;
  rd.max_line = opts->max_line ? opts->max_line : PC_DATASET_MAX_LINE_DEFAULT;
  if (rd.max_line > INT_MAX)
    rd.max_line = INT_MAX;  /* json-c strings are sized by int */
  rd.ds = ds;
  rd.err = err;
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
    text += 3;  /* a UTF-8 byte order mark says nothing about the data */
    len -= 3;
  }
  if (format == PC_DATASET_CSV)
    rc = parse_csv(&rd, text, len);
  else
    rc = parse_jsonl(&rd, text, len);
  if (!rc)
    rc = check_ids(&rd);
  if (rc)
    goto fail;
  *out = ds;
  return PC_OK;

fail:
  pc_dataset_free(ds);
  return rc;
}

int pc_dataset_load(const char *path, const pc_dataset_opts *opts,
                    pc_dataset **out, pc_error *err)
{
  char *text = NULL;
  size_t len = 0;
  int rc;

  *out = NULL;
  if (!path)
    return pc_error_set(err, PC_E_INVALID_ARG, "dataset: no path");
  rc = pc_file_read(path, BIG_BUF_MAX, &text, &len, err);
  if (rc == PC_OK)
    rc = pc_dataset_parse(path, text, len, opts, out, err);
  pc_free(text);
  return rc;
}

void pc_dataset_free(pc_dataset *ds)
{
  if (!ds)
    return;
  for (size_t i = 0; i < ds->n_rows; i++) {
    pc_free(ds->rows[i].id);
    pc_free(ds->rows[i].slice);
    json_object_put(ds->rows[i].fields);
  }
  pc_free(ds->rows);
  for (size_t i = 0; i < ds->n_skipped; i++)
    pc_free(ds->skipped[i].reason);
  pc_free(ds->skipped);
  pc_dataset_keys_free(ds->input_keys, ds->n_input_keys);
  pc_free(ds->path);
  pc_free(ds);
}

int pc_dataset_subset(const pc_dataset *ds, const size_t *indices, size_t n,
                      pc_dataset **out, pc_error *err)
{
  pc_dataset *d;

  *out = NULL;
  for (size_t i = 0; i < n; i++)
    if (indices[i] >= ds->n_rows)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: index %zu out of "
                          "range (%zu examples)", ds->path, indices[i],
                          ds->n_rows);
  if (!(d = pc_calloc(1, sizeof(*d))))
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  d->path = pc_strdup(ds->path);
  d->rows = pc_calloc(n ? n : 1, sizeof(*d->rows));
  d->input_keys = pc_calloc(ds->n_input_keys ? ds->n_input_keys : 1,
                            sizeof(*d->input_keys));
  if (!d->path || !d->rows || !d->input_keys)
    goto oom;
  for (size_t k = 0; k < ds->n_input_keys; k++, d->n_input_keys++)
    if (!(d->input_keys[k] = pc_strdup(ds->input_keys[k])))
      goto oom;
  for (size_t i = 0; i < n; i++, d->n_rows++) {
    const pc_example *src = &ds->rows[indices[i]];
    pc_example *dst = &d->rows[i];

    dst->line = src->line;
    dst->fields = json_object_get(src->fields);
    if (!(dst->id = pc_strdup(src->id)) ||
        (src->slice && !(dst->slice = pc_strdup(src->slice)))) {
      d->n_rows++;  /* free what this row holds */
      goto oom;
    }
  }
  *out = d;
  return PC_OK;
oom:
  pc_dataset_free(d);
  return pc_error_set(err, PC_E_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------------- */
/* Hashes                                                                 */

int pc_dataset_hash(const pc_dataset *ds, char hex[PC_SHA256_HEX_LEN + 1])
{
  pc_sha256 h;
  pc_buf b;
  int rc = PC_OK;

  hex[0] = '\0';
  pc_buf_init(&b, BIG_BUF_MAX);
  pc_sha256_init(&h);
  for (size_t i = 0; i < ds->n_rows; i++) {
    pc_buf_reset(&b);
    rc = pc_json_write(ds->rows[i].fields, CANONICAL, &b);
    if (!rc)
      rc = pc_buf_putc(&b, '\n');
    if (rc)
      goto out;
    pc_sha256_update(&h, b.data, b.len);
  }
  pc_sha256_final_hex(&h, hex);

out:
  pc_buf_free(&b);
  return rc ? PC_E_NOMEM : PC_OK;
}

/* Keys in byte order, as the canonical writer sorts them. */
static int key_order(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The canonical object is written member by member here rather than from
 * a copy of the fields without "id" and "slice": a copy would take
 * references on the row's values, and json-c's reference counts are not
 * safe to change from several threads reading one dataset.
 */
int pc_example_content_hash(const pc_example *ex,
                            char hex[PC_SHA256_HEX_LEN + 1])
{
  struct json_object *name = NULL, *val;
  const char **keys;
  size_t n = 0;
  pc_buf b;
  int rc = PC_E_NOMEM;

  hex[0] = '\0';
  pc_buf_init(&b, BIG_BUF_MAX);
  keys = pc_calloc((size_t)json_object_object_length(ex->fields) + 1,
                   sizeof(*keys));
  if (!keys)
    goto out;
  json_object_object_foreach(ex->fields, key, member) {
    (void)member;
    if (strcmp(key, "id") != 0 && strcmp(key, "slice") != 0)
      keys[n++] = key;
  }
  qsort(keys, n, sizeof(*keys), key_order);
  if (pc_buf_putc(&b, '{'))
    goto out;
  for (size_t i = 0; i < n; i++) {
    name = json_object_new_string(keys[i]);
    if (!name || !json_object_object_get_ex(ex->fields, keys[i], &val) ||
        (i && pc_buf_putc(&b, ',')) || pc_json_write(name, CANONICAL, &b) ||
        pc_buf_putc(&b, ':') || pc_json_write(val, CANONICAL, &b))
      goto out;
    json_object_put(name);
    name = NULL;
  }
  if (pc_buf_putc(&b, '}'))
    goto out;
  pc_sha256_hex(b.data, b.len, hex);
  rc = PC_OK;

out:
  json_object_put(name);
  pc_free(keys);
  pc_buf_free(&b);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Key lists                                                              */

int pc_dataset_parse_keys(const char *csv_list, char ***keys, size_t *n,
                          pc_error *err)
{
  char **arr = NULL;
  size_t cap = 1, count = 0;
  const char *p;
  int rc = PC_OK;

  *keys = NULL;
  *n = 0;
  if (!csv_list || is_blank(csv_list, strlen(csv_list)))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "input keys: the list is empty");
  for (p = csv_list; *p; p++)
    if (*p == ',')
      cap++;
  arr = pc_calloc(cap, sizeof(*arr));
  if (!arr)
    return pc_error_set(err, PC_E_NOMEM, "input keys: out of memory");
  p = csv_list;
  for (;;) {
    const char *s = p, *e;

    while (*p && *p != ',')
      p++;
    e = p;
    while (s < e && (*s == ' ' || *s == '\t'))
      s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (s == e) {
      rc = pc_error_set(err, PC_E_INVALID_ARG,
                        "input keys \"%s\": name %zu is empty", csv_list,
                        count + 1);
      goto fail;
    }
    for (size_t j = 0; j < count; j++) {
      if (strlen(arr[j]) == (size_t)(e - s) &&
          memcmp(arr[j], s, (size_t)(e - s)) == 0) {
        rc = pc_error_set(err, PC_E_INVALID_ARG,
                          "input keys \"%s\": \"%s\" is given twice",
                          csv_list, arr[j]);
        goto fail;
      }
    }
    arr[count] = pc_strndup(s, (size_t)(e - s));
    if (!arr[count]) {
      rc = pc_error_set(err, PC_E_NOMEM, "input keys: out of memory");
      goto fail;
    }
    count++;
    if (!*p)
      break;
    p++;  /* the comma */
  }
  *keys = arr;
  *n = count;
  return PC_OK;

fail:
  pc_dataset_keys_free(arr, count);
  return rc;
}

void pc_dataset_keys_free(char **keys, size_t n)
{
  if (!keys)
    return;
  for (size_t i = 0; i < n; i++)
    pc_free(keys[i]);
  pc_free(keys);
}
