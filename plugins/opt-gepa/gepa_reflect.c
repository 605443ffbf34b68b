/*
 * gepa_reflect.c - GEPA's reflection texts: the reflective dataset built
 * from a minibatch's traces and feedback, its markdown rendering, the
 * generic feedback for metrics that give none, and the extraction of the
 * proposed instruction from ``` fences (reference section 8.7).
 */
#include <string.h>

#include "gepa.h"

/* ------------------------------------------------------------------------ */
/* Fences.                                                                  */

static int is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/* Trim [*a, *b) of s. */
static void trim(const char *s, size_t *a, size_t *b)
{
  while (*a < *b && is_space(s[*a]))
    (*a)++;
  while (*b > *a && is_space(s[*b - 1]))
    (*b)--;
}

/* The offset of the first ``` in s[a..b), or b when there is none. */
static size_t find_fence(const char *s, size_t a, size_t b)
{
  size_t k;

  for (k = a; k + 3 <= b; k++)
    if (s[k] == '`' && s[k + 1] == '`' && s[k + 2] == '`')
      return k;
  return b;
}

void pc__gepa_fence_span(const char *s, size_t len, size_t *a, size_t *b)
{
  size_t first = find_fence(s, 0, len), last = len, k;

  for (k = len; k >= 3; k--)
    if (s[k - 3] == '`' && s[k - 2] == '`' && s[k - 1] == '`') {
      last = k - 3;
      break;
    }
  if (first < len && first + 3 <= last) {
    /* A complete pair: what lies between, without a language tag (a
     * first line without spaces). */
    *a = first + 3;
    *b = last;
    for (k = *a; k < *b && !is_space(s[k]); k++)
      ;
    if (k < *b && s[k] == '\n')
      *a = k + 1;
    trim(s, a, b);
    return;
  }
  *a = 0;
  *b = len;
  trim(s, a, b);
  if (*b - *a >= 3 && !strncmp(s + *a, "```", 3)) {
    /* A lone opening fence, and the tag after it. */
    *a += 3;
    while (*a < *b && !is_space(s[*a]))
      (*a)++;
    if (*a < *b && s[*a] == '\n')
      (*a)++;
    trim(s, a, b);
  } else if (*b - *a >= 3 && !strncmp(s + *b - 3, "```", 3)) {
    *b -= 3;
    trim(s, a, b);
  }
}

/* ------------------------------------------------------------------------ */
/* Values and records as text.                                              */

int pc__gepa_value_text(const pc__opt_host *h, const pc_json *v,
                        char **out)
{
  size_t len = 0;
  const char *s;
  char *text = NULL;

  *out = NULL;
  if (v && h->js->type(v) == PC_JSON_STRING) {
    s = h->js->get_string(v, &len);
    *out = pc__opt_alloc(h, len + 1);
    if (!*out)
      return PC_E_NOMEM;
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    return PC_OK;
  }
  if (!v || h->js->type(v) == PC_JSON_NULL) {
    *out = pc__opt_alloc(h, 5);
    if (!*out)
      return PC_E_NOMEM;
    memcpy(*out, "None", 5);
    return PC_OK;
  }
  if (h->js->type(v) == PC_JSON_BOOL) {
    const char *t = h->js->get_bool(v) ? "True" : "False";

    *out = pc__opt_alloc(h, strlen(t) + 1);
    if (!*out)
      return PC_E_NOMEM;
    memcpy(*out, t, strlen(t) + 1);
    return PC_OK;
  }
  if (h->js->to_text(h->host->ctx, v, PC_JSON_TEXT_SPACED, &text, &len))
    return PC_E_NOMEM;
  *out = text;
  return PC_OK;
}

/* Append a value at heading `level` (objects and arrays nest). */
static void render_value(const pc__opt_host *h, pc__opt_text *b,
                         const pc_json *v, int level)
{
  int32_t t = v ? h->js->type(v) : PC_JSON_NULL;
  int deeper = level + 1 > 6 ? 6 : level + 1;
  size_t k, n;

  if (t == PC_JSON_OBJECT) {
    const char *key;
    const pc_json *m;

    n = h->js->object_len(v);
    for (k = 0; k < n && h->js->object_at(v, k, &key, &m) == 0; k++) {
      pc__opt_text_fmt(b, "%.*s %s\n", level, "######", key);
      render_value(h, b, m, deeper);
    }
    if (n == 0)
      pc__opt_text_str(b, "\n");
  } else if (t == PC_JSON_ARRAY) {
    n = h->js->array_len(v);
    for (k = 0; k < n; k++) {
      pc__opt_text_fmt(b, "%.*s Item %zu\n", level, "######", k + 1);
      render_value(h, b, h->js->array_get(v, k), deeper);
    }
    if (n == 0)
      pc__opt_text_str(b, "\n");
  } else {
    char *text = NULL;
    size_t a = 0, z;

    if (pc__gepa_value_text(h, v, &text)) {
      b->failed = 1;
      return;
    }
    z = strlen(text);
    trim(text, &a, &z);
    pc__opt_text_add(b, text + a, z - a);
    pc__opt_text_str(b, "\n\n");
    pc__opt_free(h, text);
  }
}

int pc__gepa_render_records(const pc__opt_host *h, const pc_json *records,
                            char **out, pc_error *err)
{
  pc__opt_text b;
  size_t k, n = h->js->array_len(records);

  pc__opt_text_init(&b, h);
  for (k = 0; k < n; k++) {
    const pc_json *rec = h->js->array_get(records, k);
    const char *key;
    const pc_json *m;
    size_t i;

    if (k > 0)
      pc__opt_text_str(&b, "\n\n");
    pc__opt_text_fmt(&b, "# Example %zu\n", k + 1);
    for (i = 0; h->js->object_at(rec, i, &key, &m) == 0; i++) {
      pc__opt_text_fmt(&b, "## %s\n", key);
      render_value(h, &b, m, 3);
    }
  }
  *out = pc__opt_text_take(&b);
  if (!*out)
    return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
  return PC_OK;
}

/* Whether the array `names` holds the string `s`. */
static int has_name(const pc__opt_host *h, const pc_json *names,
                    const char *s)
{
  size_t k, n = names ? h->js->array_len(names) : 0;

  for (k = 0; k < n; k++) {
    const pc_json *v = h->js->array_get(names, k);

    if (h->js->type(v) == PC_JSON_STRING &&
        !strcmp(h->js->get_string(v, NULL), s))
      return 1;
  }
  return 0;
}

int pc__gepa_generic_feedback(const pc__opt_host *h, double score,
                              const pc_json *fields, const pc_json *outputs,
                              const pc_json *input_keys, char **out,
                              pc_error *err)
{
  pc__opt_text b;
  pc_json *num = h->js->new_double(h->host->ctx, score);
  char *score_text = NULL, *val = NULL;
  size_t len = 0, k, shown = 0, n;
  int by_outputs = 0, pass;

  *out = NULL;
  if (!num || h->js->to_text(h->host->ctx, num, PC_JSON_TEXT_COMPACT,
                             &score_text, &len)) {
    h->js->free(h->host->ctx, num);
    return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
  }
  h->js->free(h->host->ctx, num);
  pc__opt_text_init(&b, h);
  pc__opt_text_fmt(&b, "This trajectory got a score of %s.", score_text);
  pc__opt_free(h, score_text);
  n = fields ? h->js->object_len(fields) : 0;
  /* The gold: the fields some predictor outputs, else the labels. */
  for (k = 0; k < n && !by_outputs; k++) {
    const char *key;
    const pc_json *v;

    if (h->js->object_at(fields, k, &key, &v) == 0 &&
        has_name(h, outputs, key))
      by_outputs = 1;
  }
  for (pass = 0, k = 0; k < n; k++) {
    const char *key;
    const pc_json *v;

    if (h->js->object_at(fields, k, &key, &v) != 0)
      break;
    if (by_outputs ? !has_name(h, outputs, key)
                   : has_name(h, input_keys, key))
      continue;
    if (pc__gepa_value_text(h, v, &val)) {
      b.failed = 1;
      break;
    }
    pc__opt_text_fmt(&b, "%s%s: %s", shown++ ? ", "
                     : " The expected output was: ", key, val);
    pc__opt_free(h, val);
    pass = 1;
  }
  if (pass)
    pc__opt_text_str(&b, ".");
  *out = pc__opt_text_take(&b);
  if (!*out)
    return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* The reflective dataset.                                                  */

/* {field: str(value)} of an object, owned; NULL when out of memory. */
static pc_json *str_fields(const pc__opt_host *h, const pc_json *obj)
{
  void *ctx = h->host->ctx;
  pc_json *o = h->js->new_object(ctx);
  const char *key;
  const pc_json *v;
  size_t k;

  for (k = 0; o && obj && h->js->object_at(obj, k, &key, &v) == 0; k++) {
    char *text = NULL;

    if (pc__gepa_value_text(h, v, &text) ||
        pc__opt_json_set(h, o, key,
                         h->js->new_string(ctx, text, strlen(text)), NULL)) {
      pc__opt_free(h, text);
      h->js->free(ctx, o);
      return NULL;
    }
    pc__opt_free(h, text);
  }
  return o;
}

/* The example fields named as inputs of the signature, owned. */
static pc_json *signature_inputs(const pc__opt_host *h, const pc_json *sig,
                                 const pc_json *fields)
{
  void *ctx = h->host->ctx;
  const pc_json *ins = h->js->object_get(sig, "inputs");
  pc_json *o = h->js->new_object(ctx);
  size_t k, n = ins ? h->js->array_len(ins) : 0;

  for (k = 0; o && k < n; k++) {
    const char *name = pc__opt_json_str(h, h->js->array_get(ins, k),
                                        "name");
    const pc_json *v = name ? h->js->object_get(fields, name) : NULL;

    if (v && pc__opt_json_set(h, o, name, h->js->copy(ctx, v), NULL)) {
      h->js->free(ctx, o);
      return NULL;
    }
  }
  if (!o)
    return NULL;
  {
    pc_json *s = str_fields(h, o);

    h->js->free(ctx, o);
    return s;
  }
}

/* The record of a parse failure of this predictor: what the model was
 * asked and the structure its answer had to follow. */
static pc_json *format_record(const pc__opt_host *h,
                              const pc__gepa_reflect_in *in,
                              const pc_json *fields, const char *error)
{
  void *ctx = h->host->ctx;
  const pc_json *outs = h->js->object_get(in->signature, "outputs");
  pc_json *rec = h->js->new_object(ctx);
  pc__opt_text g, f;
  char *gt, *ft;
  size_t k, n = outs ? h->js->array_len(outs) : 0;
  int bad;

  pc__opt_text_init(&g, h);
  pc__opt_text_init(&f, h);
  pc__opt_text_str(&g, "Couldn't parse the output as per the expected "
                   "output format. The model's raw response was:\n```\n");
  pc__opt_text_str(&g, error);
  pc__opt_text_str(&g, "\n```");
  pc__opt_text_str(&f, "Your output failed to parse. Follow this "
                   "structure:\n");
  for (k = 0; k < n; k++) {
    const char *name = pc__opt_json_str(h, h->js->array_get(outs, k),
                                        "name");

    if (name)
      pc__opt_text_fmt(&f, "[[ ## %s ## ]]\n{%s}\n\n", name, name);
  }
  pc__opt_text_str(&f, "[[ ## completed ## ]]");
  gt = pc__opt_text_take(&g);
  ft = pc__opt_text_take(&f);
  bad = !rec || !gt || !ft ||
        pc__opt_json_set(h, rec, "Inputs",
                         signature_inputs(h, in->signature, fields), NULL) ||
        pc__opt_json_set(h, rec, "Generated Outputs",
                         h->js->new_string(ctx, gt, strlen(gt)), NULL) ||
        pc__opt_json_set(h, rec, "Feedback",
                         h->js->new_string(ctx, ft, strlen(ft)), NULL);
  pc__opt_free(h, gt);
  pc__opt_free(h, ft);
  if (bad) {
    h->js->free(ctx, rec);
    return NULL;
  }
  return rec;
}

/* The example fields of train index `idx`, borrowed, or NULL. */
static const pc_json *example_fields(const pc__opt_host *h,
                                     const pc_json *examples, int64_t idx)
{
  const pc_json *ex;

  if (idx < 0 || (size_t)idx >= h->js->array_len(examples))
    return NULL;
  ex = h->js->array_get(examples, (size_t)idx);
  return h->js->object_get(ex, "fields");
}

/* One example's record, or *rec = NULL when it gives none. */
static int one_record(const pc__opt_host *h, const pc__gepa_reflect_in *in,
                      const pc_json *row, pc_json **rec, pc_error *err)
{
  void *ctx = h->host->ctx;
  const pc_json *v = h->js->object_get(row, "index");
  const pc_json *fields = example_fields(h, in->examples,
                                         v ? h->js->get_int(v) : -1);
  const pc_json *trace = h->js->object_get(row, "trace");
  const char *error = pc__opt_json_str(h, row, "error");
  const char *kind = pc__opt_json_str(h, row, "error_kind");
  const char *fb = pc__opt_json_str(h, row, "feedback");
  size_t n_steps = 0, pick, k, n = trace ? h->js->array_len(trace) : 0;
  size_t plen = strlen(in->path);
  char *generic = NULL;
  const pc_json *step;
  double score;
  int rc;

  *rec = NULL;
  if (error) {
    /* A parse failure of this predictor ("<path>: ...") is kept only as
     * a format record; any other failure gives nothing. */
    if (in->add_format_failures && kind && !strcmp(kind, "parse") &&
        !strncmp(error, in->path, plen) && !strncmp(error + plen, ": ", 2)) {
      *rec = format_record(h, in, fields, error);
      if (!*rec)
        return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
    }
    return PC_OK;
  }
  for (k = 0; k < n; k++) {
    const char *p = pc__opt_json_str(h, h->js->array_get(trace, k),
                                     "predictor");

    n_steps += p && !strcmp(p, in->path);
  }
  if (n_steps == 0)
    return PC_OK;
  /* One of the predictor's calls in this run, at random when several. */
  pick = n_steps > 1 ? (size_t)pc__opt_rng_below(in->rng, n_steps) : 0;
  step = NULL;
  for (k = 0; k < n && !step; k++) {
    const pc_json *s = h->js->array_get(trace, k);
    const char *p = pc__opt_json_str(h, s, "predictor");

    if (p && !strcmp(p, in->path) && pick-- == 0)
      step = s;
  }
  v = h->js->object_get(row, "score");
  score = v ? h->js->get_double(v) : 0.0;
  if (!fb || !fb[0]) {
    rc = pc__gepa_generic_feedback(h, score, fields, in->outputs,
                                   in->input_keys, &generic, err);
    if (rc)
      return rc;
    fb = generic;
  }
  *rec = h->js->new_object(ctx);
  if (!*rec ||
      pc__opt_json_set(h, *rec, "Inputs",
                       str_fields(h, h->js->object_get(step, "inputs")),
                       NULL) ||
      pc__opt_json_set(h, *rec, "Generated Outputs",
                       str_fields(h, h->js->object_get(step, "outputs")),
                       NULL) ||
      pc__opt_json_set(h, *rec, "Feedback",
                       h->js->new_string(ctx, fb, strlen(fb)), NULL)) {
    h->js->free(ctx, *rec);
    *rec = NULL;
    pc__opt_free(h, generic);
    return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
  }
  pc__opt_free(h, generic);
  return PC_OK;
}

int pc__gepa_records(const pc__opt_host *h, const pc__gepa_reflect_in *in,
                     pc_json **out, pc_error *err)
{
  void *ctx = h->host->ctx;
  const pc_json *rows = h->js->object_get(in->answer, "results");
  size_t k, n = rows ? h->js->array_len(rows) : 0;
  int rc = PC_OK;

  *out = h->js->new_array(ctx);
  if (!*out)
    return pc__opt_error(err, PC_E_NOMEM, "gepa: out of memory");
  for (k = 0; k < n && !rc; k++) {
    pc_json *rec = NULL;

    rc = one_record(h, in, h->js->array_get(rows, k), &rec, err);
    if (!rc && rec)
      rc = pc__opt_json_push(h, *out, rec, err);
  }
  if (rc) {
    h->js->free(ctx, *out);
    *out = NULL;
  }
  return rc;
}
