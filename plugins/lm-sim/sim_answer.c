/* sim_answer.c - the skill model, right and wrong values, and rendering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_answer.h"

#define UNSURE "I am not sure."

/* How far the search for another row's value of a str field looks. */
#define OTHER_ROW_TRIES 64

/* ------------------------------------------------------------------------ */
/* The skill model.                                                         */

double pc__sim_skill(const pc__sim_config *c, const pc__sim_skill_in *in)
{
  size_t demos = in->good_demos;
  double p;

  if (demos > (size_t)c->demo_cap)
    demos = (size_t)c->demo_cap;
  p = c->base_skill + c->demo_gain * (double)demos +
      c->instruction_gain * in->phrase_frac;
  if (in->hard)
    p -= c->hard_penalty - (in->reasoning ? c->reasoning_gain : 0.0);
  if (p < 0.0)
    p = 0.0;
  if (p > c->max_skill)
    p = c->max_skill;
  return p;
}

double pc__sim_phrase_fraction(const pc__sim_config *c, const char *text,
                               size_t len)
{
  size_t found = 0;

  if (c->n_key_phrases == 0)
    return 0.0;
  for (size_t i = 0; i < c->n_key_phrases; i++)
    found += pc__sim_icontains(text, len, c->key_phrases[i]) != 0;
  return (double)found / (double)c->n_key_phrases;
}

int pc__sim_draw(const pc__sim_host *h, uint64_t seed, const char *what,
                 const char *field, const char *sample, uint64_t index,
                 uint64_t draw, uint64_t *out)
{
  pc__sim_buf b;
  int rc;

  pc__sim_buf_init(&b, h);
  rc = pc__sim_buf_printf(&b, "%s:%s:%s", what, field, sample);
  if (!rc)
    *out = h->host->rng_u64(h->host->ctx, seed, b.data, index, draw);
  pc__sim_buf_free(&b);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Finding items and judging demos.                                         */

/* Whether row field `name` renders as text s[0..len). */
static int row_field_is(const pc__sim_host *h, const pc_json *row,
                        const pc__sim_field *f, const char *s, size_t len,
                        int icase, pc__sim_buf *scratch, int *eq,
                        pc_error *err)
{
  const pc_json *v = h->json->object_get(row, f->name);
  int rc;

  *eq = 0;
  if (!v)
    return PC_OK;
  scratch->len = 0;
  rc = pc__sim_render(h, v, f->t.kind == PC__SIM_K_STR, scratch, err);
  if (!rc)
    *eq = pc__sim_collapsed_eq(pc__sim_buf_str(scratch), scratch->len, s,
                               len, icase);
  return rc;
}

int pc__sim_find_item(const pc__sim_host *h, const pc__sim_knowledge *kn,
                      const pc__sim_request *req, const pc__sim_text *texts,
                      long *row, pc_error *err)
{
  const pc__sim_entry *best = NULL;
  size_t best_n = 0, i, k;
  pc__sim_buf scratch;
  int rc = PC_OK, any = 0;

  *row = -1;
  for (i = 0; i < req->n_inputs; i++) {
    const pc__sim_entry *first;
    size_t n;

    if (!texts[i].s)
      continue;
    n = pc__sim_knowledge_find(kn, pc__sim_key(req->inputs[i].name,
                                               texts[i].s, texts[i].len),
                               &first);
    if (n == 0)
      return PC_OK;             /* some input matches no row at all */
    if (!any || n < best_n) {
      best = first;
      best_n = n;
    }
    any = 1;
  }
  if (!any)
    return PC_OK;
  pc__sim_buf_init(&scratch, h);
  for (k = 0; !rc && k < best_n && *row < 0; k++) {
    const pc_json *obj = kn->rows[best[k].row].obj;
    int eq = 1;

    for (i = 0; !rc && eq && i < req->n_inputs; i++)
      if (texts[i].s)
        rc = row_field_is(h, obj, &req->inputs[i], texts[i].s, texts[i].len,
                          0, &scratch, &eq, err);
    if (!rc && eq)
      *row = (long)best[k].row;
  }
  pc__sim_buf_free(&scratch);
  return rc;
}

/* Whether `name` is a field of some knowledge row. When the knowledge
 * has more names than it remembers, any name might be one. */
static int knowledge_field(const pc__sim_knowledge *kn, const char *name)
{
  if (kn->n_names >= PC__SIM_MAX_NAMES)
    return 1;
  for (size_t i = 0; i < kn->n_names; i++)
    if (!strcmp(kn->names[i], name))
      return 1;
  return 0;
}

int pc__sim_find_item_loose(const pc__sim_host *h,
                            const pc__sim_knowledge *kn,
                            const pc__sim_request *req, long *row,
                            pc_error *err)
{
  pc__sim_text *texts;
  size_t i, kept = 0, dropped = 0;
  int rc = PC_OK;

  *row = -1;
  if (req->n_inputs == 0)
    return PC_OK;
  texts = pc__sim_alloc(h, req->n_inputs * sizeof(*texts));
  if (!texts)
    return PC__SIM_OOM(err);
  for (i = 0; i < req->n_inputs; i++) {
    texts[i] = req->current[i];
    if (!texts[i].s)
      continue;
    if (knowledge_field(kn, req->inputs[i].name)) {
      kept++;
    } else {
      texts[i].s = NULL;
      texts[i].len = 0;
      dropped++;
    }
  }
  /* Nothing set aside: the strict match already said no. No knowledge
   * field at all: a meta-prompt or an unknown request, as before. */
  if (kept && dropped)
    rc = pc__sim_find_item(h, kn, req, texts, row, err);
  pc__sim_free(h, texts);
  return rc;
}

/* The index of input `name`, or -1. */
static long input_index(const pc__sim_request *req, const char *name)
{
  for (size_t i = 0; i < req->n_inputs; i++)
    if (!strcmp(req->inputs[i].name, name))
      return (long)i;
  return -1;
}

int pc__sim_hinted(const pc__sim_request *req)
{
  long i = input_index(req, "hint_");
  size_t a, z;

  if (i < 0 || !req->current[i].s)
    return 0;
  pc__sim_trim(req->current[i].s, req->current[i].len, &a, &z);
  return z > a && !pc__sim_collapsed_eq(req->current[i].s + a, z - a,
                                        "N/A", 3, 1);
}

/* The prediction an attempt text states: what follows the last "my
 * prediction is " up to the closing guillemet (or the end), trimmed. */
static void attempt_prediction(const char *s, size_t len, const char **p,
                               size_t *plen)
{
  static const char lead[] = "my prediction is ";
  const size_t n = sizeof(lead) - 1;
  size_t at = len, i, a, z;

  for (i = 0; i + n <= len; i++)
    if (!memcmp(s + i, lead, n))
      at = i + n;
  if (at == len) {
    *p = s + len;
    *plen = 0;
    return;
  }
  s += at;
  len -= at;
  if (len >= 2 && (unsigned char)s[len - 2] == 0xc2 &&
      (unsigned char)s[len - 1] == 0xbb)
    len -= 2;
  pc__sim_trim(s, len, &a, &z);
  *p = s + a;
  *plen = z - a;
}

/* Whether both texts read whole as the same number ("4" and "4.0"). */
static int same_number(const char *a, size_t alen, const char *b,
                       size_t blen)
{
  char x[64], y[64], *ex, *ey;
  double u, v;

  if (!alen || !blen || alen >= sizeof(x) || blen >= sizeof(y))
    return 0;
  memcpy(x, a, alen);
  x[alen] = '\0';
  memcpy(y, b, blen);
  y[blen] = '\0';
  u = strtod(x, &ex);
  v = strtod(y, &ey);
  return *ex == '\0' && *ey == '\0' && u == v;
}

int pc__sim_attempts_agree(const pc__sim_host *h,
                           const pc__sim_knowledge *kn,
                           const pc__sim_request *req, long item,
                           int *majority, pc_error *err)
{
  const pc__sim_field *last;
  const pc_json *gold;
  pc__sim_buf g;
  size_t i, m = 0, held = 0;
  int rc;

  *majority = 0;
  if (item < 0 || req->n_outputs == 0)
    return PC_OK;
  last = &req->outputs[req->n_outputs - 1];
  gold = h->json->object_get(kn->rows[item].obj, last->name);
  if (!gold)
    return PC_OK;
  pc__sim_buf_init(&g, h);
  rc = pc__sim_render(h, gold, 1, &g, err);
  for (i = 0; !rc && i < req->n_inputs; i++) {
    const char *p;
    size_t plen;

    if (strncmp(req->inputs[i].name, "reasoning_attempt_", 18) ||
        !req->current[i].s)
      continue;
    m++;
    attempt_prediction(req->current[i].s, req->current[i].len, &p, &plen);
    held += plen && (pc__sim_collapsed_eq(p, plen, pc__sim_buf_str(&g),
                                          g.len, 1) ||
                     same_number(p, plen, pc__sim_buf_str(&g), g.len));
  }
  pc__sim_buf_free(&g);
  if (!rc)
    *majority = m > 0 && 2 * held > m;
  return rc;
}

int pc__sim_good_demos(const pc__sim_host *h, const pc__sim_knowledge *kn,
                       const pc__sim_request *req, long item, size_t *good,
                       pc_error *err)
{
  pc__sim_buf scratch;
  size_t d, i;
  int rc = PC_OK;

  *good = 0;
  pc__sim_buf_init(&scratch, h);
  for (d = 0; !rc && d < req->n_demos; d++) {
    const pc__sim_demo *demo = &req->demos[d];
    long row;
    int ok = 1;

    if (!demo->complete)
      continue;
    rc = pc__sim_find_item(h, kn, req, demo->inputs, &row, err);
    if (rc || (row >= 0 && row == item))
      continue;                 /* the current item never teaches itself */
    for (i = 0; !rc && ok && row >= 0 && i < req->n_outputs; i++) {
      const pc_json *obj = kn->rows[row].obj;

      if (!h->json->object_get(obj, req->outputs[i].name))
        continue;
      rc = row_field_is(h, obj, &req->outputs[i], demo->outputs[i].s,
                        demo->outputs[i].len, 1, &scratch, &ok, err);
    }
    if (!rc && ok)
      (*good)++;
  }
  pc__sim_buf_free(&scratch);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Values.                                                                  */

void pc__sim_values_free(const pc__sim_host *h, pc_json **values, size_t n)
{
  if (!values)
    return;
  for (size_t i = 0; i < n; i++)
    h->json->free(h->host->ctx, values[i]);
  pc__sim_free(h, values);
}

pc_json *pc__sim_uninformed(const pc__sim_host *h, const char *s, size_t len,
                            int non_null)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc__sim_type t;

  pc__sim_type_read(s, len, &t);
  switch (t.kind) {
  case PC__SIM_K_INT:
    return js->new_int(ctx, 0);
  case PC__SIM_K_FLOAT:
    return js->new_double(ctx, 0.0);
  case PC__SIM_K_BOOL:
    return js->new_bool(ctx, 0);
  case PC__SIM_K_LIST:
    return js->new_array(ctx);
  case PC__SIM_K_DICT:
    return js->new_object(ctx);
  case PC__SIM_K_LITERAL: {
    pc_json *vals = NULL, *v = NULL;

    if (pc__sim_literal_values(h, s, len, &vals))
      return NULL;
    if (js->array_len(vals))
      v = js->copy(ctx, js->array_get(vals, 0));
    else
      v = js->new_string(ctx, UNSURE, strlen(UNSURE));
    js->free(ctx, vals);
    return v;
  }
  case PC__SIM_K_OPTIONAL:
    if (non_null && t.inner)
      return pc__sim_uninformed(h, t.inner, t.inner_len, 1);
    return non_null ? js->new_string(ctx, UNSURE, strlen(UNSURE))
                    : js->new_null(ctx);
  default:
    return js->new_string(ctx, UNSURE, strlen(UNSURE));
  }
}

int pc__sim_fill_uninformed(const pc__sim_host *h, const pc__sim_request *req,
                            pc_json **values, pc_error *err)
{
  for (size_t i = 0; i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];

    if (values[i])
      continue;
    values[i] = pc__sim_uninformed(h, f->type, strlen(f->type), 0);
    if (!values[i])
      return PC__SIM_OOM(err);
  }
  return PC_OK;
}

/* The number a value holds: ints, floats, booleans and numeric strings. */
static int number_of(const pc__sim_host *h, const pc_json *v, double *out)
{
  const pc_json_api *js = h->json;
  char buf[64], *end;
  const char *s;
  size_t len, a, z;

  switch (js->type(v)) {
  case PC_JSON_INT:
  case PC_JSON_DOUBLE:
    *out = js->get_double(v);
    return 1;
  case PC_JSON_BOOL:
    *out = js->get_bool(v) ? 1.0 : 0.0;
    return 1;
  case PC_JSON_STRING:
    s = js->get_string(v, &len);
    pc__sim_trim(s, len, &a, &z);
    if (z == a || z - a >= sizeof(buf))
      return 0;
    memcpy(buf, s + a, z - a);
    buf[z - a] = '\0';
    *out = strtod(buf, &end);
    return *end == '\0';
  default:
    return 0;
  }
}

/* A non-zero offset in [-9, 9] from a draw. */
static int64_t int_offset(uint64_t r)
{
  int64_t off = (int64_t)(r % 18) - 9;

  return off >= 0 ? off + 1 : off;
}

/* gold * (1 + offset), kept to six significant digits. */
static double float_wrong(double g, uint64_t r)
{
  static const double offsets[] = {-0.5, -0.25, -0.2, -0.1,
                                   0.1, 0.2, 0.25, 0.5};
  char buf[64];
  double w;

  if (g == 0.0)
    return (double)int_offset(r);
  w = g * (1.0 + offsets[r % 8]);
  snprintf(buf, sizeof(buf), "%.6g", w);
  w = strtod(buf, NULL);
  return w == g ? g + 1.0 : w;
}

static int truthy(const pc__sim_host *h, const pc_json *v)
{
  const pc_json_api *js = h->json;
  double d;

  if (js->type(v) == PC_JSON_BOOL)
    return js->get_bool(v) != 0;
  if (js->type(v) == PC_JSON_STRING) {
    const char *s = js->get_string(v, NULL);

    return !strcmp(s, "True") || !strcmp(s, "true") || !strcmp(s, "yes");
  }
  return number_of(h, v, &d) && d != 0.0;
}

/* Whether a and b render alike (whitespace collapsed, any case). */
static int same_text(const pc__sim_host *h, const pc_json *a,
                     const pc_json *b, int as_str, int *same, pc_error *err)
{
  pc__sim_buf x, y;
  int rc;

  pc__sim_buf_init(&x, h);
  pc__sim_buf_init(&y, h);
  rc = pc__sim_render(h, a, as_str, &x, err);
  if (!rc)
    rc = pc__sim_render(h, b, as_str, &y, err);
  if (!rc)
    *same = pc__sim_collapsed_eq(pc__sim_buf_str(&x), x.len,
                                 pc__sim_buf_str(&y), y.len, 1);
  pc__sim_buf_free(&x);
  pc__sim_buf_free(&y);
  return rc;
}

/* gold rendered with " or something else" after it, as a string. */
static pc_json *string_or_else(const pc__sim_host *h, const pc_json *gold)
{
  pc__sim_buf b;
  pc_json *v = NULL;

  pc__sim_buf_init(&b, h);
  if (!pc__sim_render(h, gold, 1, &b, NULL) &&
      !pc__sim_buf_puts(&b, " or something else"))
    v = h->json->new_string(h->host->ctx, pc__sim_buf_str(&b), b.len);
  pc__sim_buf_free(&b);
  return v;
}

/* The same field of another row, with a different value (the search
 * starts at a row chosen by the draw), as a string. */
static int other_row_string(const pc__sim_host *h,
                            const pc__sim_knowledge *kn, long item,
                            const char *name, const pc_json *gold,
                            uint64_t r, pc_json **out, pc_error *err)
{
  size_t start = (size_t)(r % kn->n_rows), k;
  int rc = PC_OK;

  *out = NULL;
  for (k = 0; !rc && !*out && k < OTHER_ROW_TRIES && k < kn->n_rows; k++) {
    size_t i = (start + k) % kn->n_rows;
    const pc_json *v = h->json->object_get(kn->rows[i].obj, name);
    int same = 1;

    if ((long)i == item || !v || h->json->type(v) == PC_JSON_NULL)
      continue;
    rc = same_text(h, v, gold, 1, &same, err);
    if (!rc && !same) {
      pc__sim_buf b;

      pc__sim_buf_init(&b, h);
      rc = pc__sim_render(h, v, 1, &b, err);
      if (!rc && !(*out = h->json->new_string(h->host->ctx,
                                              pc__sim_buf_str(&b), b.len)))
        rc = PC__SIM_OOM(err);
      pc__sim_buf_free(&b);
    }
  }
  return rc;
}

/* Another row's whole-number value of field `name` that differs from
 * `g`, chosen by the draw: a wrong answer from the task's own range (an
 * urgency of 2 instead of 4, never -4). 1 when one was found. */
static int other_row_int(const pc__sim_host *h, const pc__sim_knowledge *kn,
                         long item, const char *name, double g, uint64_t r,
                         int64_t *out)
{
  size_t start = (size_t)(r % kn->n_rows);

  for (size_t k = 0; k < OTHER_ROW_TRIES && k < kn->n_rows; k++) {
    size_t i = (start + k) % kn->n_rows;
    const pc_json *v = h->json->object_get(kn->rows[i].obj, name);

    if ((long)i == item || !v || h->json->type(v) != PC_JSON_INT)
      continue;
    if ((double)h->json->get_int(v) != g) {
      *out = h->json->get_int(v);
      return 1;
    }
  }
  return 0;
}

static pc_json *wrong_of(const pc__sim_host *h, const pc__sim_knowledge *kn,
                         long item, const char *name, const char *type,
                         size_t type_len, const pc_json *gold, uint64_t r,
                         pc_error *err);

/* A Literal value other than gold, chosen by the draw. */
static pc_json *wrong_literal(const pc__sim_host *h, const char *type,
                              size_t type_len, const pc_json *gold,
                              uint64_t r, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_json *vals = NULL, *v = NULL;
  size_t n, i, others = 0, pick;
  int same;

  if (pc__sim_literal_values(h, type, type_len, &vals))
    return NULL;
  n = js->array_len(vals);
  for (i = 0; i < n; i++)
    if (!same_text(h, js->array_get(vals, i), gold, 0, &same, err) && !same)
      others++;
  pick = others ? (size_t)(r % others) : 0;
  for (i = 0; !v && i < n; i++) {
    if (same_text(h, js->array_get(vals, i), gold, 0, &same, err) || same)
      continue;
    if (pick-- == 0)
      v = js->copy(h->host->ctx, js->array_get(vals, i));
  }
  js->free(h->host->ctx, vals);
  return v ? v : js->copy(h->host->ctx, gold);
}

/* gold with its last element dropped or replaced by a wrong one. */
static pc_json *wrong_list(const pc__sim_host *h, const pc__sim_knowledge *kn,
                           long item, const char *name, const char *inner,
                           size_t inner_len, const pc_json *gold, uint64_t r,
                           pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  size_t n = js->type(gold) == PC_JSON_ARRAY ? js->array_len(gold) : 0, i;
  pc_json *out = js->new_array(ctx), *last = NULL;

  if (!out)
    return NULL;
  if (n == 0) {
    last = pc__sim_uninformed(h, inner, inner_len, 1);
    if (!last || js->array_append(ctx, out, last)) {
      js->free(ctx, out);
      return NULL;
    }
    return out;
  }
  for (i = 0; i + 1 < n; i++)
    if (js->array_append(ctx, out, js->copy(ctx, js->array_get(gold, i)))) {
      js->free(ctx, out);
      return NULL;
    }
  if ((r >> 32) & 1) {
    /* Replace the last element; the draw is spread again for it. */
    last = wrong_of(h, kn, -1, name, inner, inner_len,
                    js->array_get(gold, n - 1), pc__sim_mix(r), err);
    if (!last || js->array_append(ctx, out, last)) {
      js->free(ctx, out);
      return NULL;
    }
  }
  return out;
}

/* gold without its last member, or {"other": ...} when empty. */
static pc_json *wrong_dict(const pc__sim_host *h, const char *inner,
                           size_t inner_len, const pc_json *gold)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  size_t n = js->type(gold) == PC_JSON_OBJECT ? js->object_len(gold) : 0, i;
  pc_json *out = js->new_object(ctx);

  if (!out)
    return NULL;
  if (n == 0) {
    if (js->object_set(ctx, out, "other",
                       pc__sim_uninformed(h, inner, inner_len, 1))) {
      js->free(ctx, out);
      return NULL;
    }
    return out;
  }
  for (i = 0; i + 1 < n; i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(gold, i, &key, &v) ||
        js->object_set(ctx, out, key, js->copy(ctx, v))) {
      js->free(ctx, out);
      return NULL;
    }
  }
  return out;
}

/* A wrong value for type s[0..len) given gold; the kind of gold decides
 * for Any. NULL when out of memory (err is set when it can be). */
static pc_json *wrong_of(const pc__sim_host *h, const pc__sim_knowledge *kn,
                         long item, const char *name, const char *type,
                         size_t type_len, const pc_json *gold, uint64_t r,
                         pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc__sim_type t;
  pc_json *v = NULL;
  double g;
  int kind;

  pc__sim_type_read(type, type_len, &t);
  kind = t.kind;
  if (kind == PC__SIM_K_OPTIONAL) {
    if (js->type(gold) == PC_JSON_NULL)
      return pc__sim_uninformed(h, t.inner ? t.inner : "str",
                                t.inner ? t.inner_len : 3, 1);
    return wrong_of(h, kn, item, name, t.inner ? t.inner : "Any",
                    t.inner ? t.inner_len : 3, gold, r, err);
  }
  if (kind == PC__SIM_K_ANY) {
    switch (js->type(gold)) {
    case PC_JSON_INT: kind = PC__SIM_K_INT; break;
    case PC_JSON_DOUBLE: kind = PC__SIM_K_FLOAT; break;
    case PC_JSON_BOOL: kind = PC__SIM_K_BOOL; break;
    case PC_JSON_ARRAY: kind = PC__SIM_K_LIST; break;
    case PC_JSON_OBJECT: kind = PC__SIM_K_DICT; break;
    case PC_JSON_NULL:
      return js->new_string(ctx, UNSURE, strlen(UNSURE));
    default: kind = PC__SIM_K_STR; break;
    }
    t.inner = "Any";
    t.inner_len = 3;
  }
  switch (kind) {
  case PC__SIM_K_LITERAL:
    return wrong_literal(h, type, type_len, gold, r, err);
  case PC__SIM_K_INT:
    if (!number_of(h, gold, &g) || !(g > -9e18 && g < 9e18))
      g = 0.0;
    {
      int64_t other;

      if (kn && item >= 0 && other_row_int(h, kn, item, name, g, r, &other))
        return js->new_int(ctx, other);
    }
    return js->new_int(ctx, (int64_t)g + int_offset(r));
  case PC__SIM_K_FLOAT:
    if (!number_of(h, gold, &g))
      g = 0.0;
    return js->new_double(ctx, float_wrong(g, r));
  case PC__SIM_K_BOOL:
    return js->new_bool(ctx, !truthy(h, gold));
  case PC__SIM_K_LIST:
    return wrong_list(h, kn, item, name, t.inner ? t.inner : "Any",
                      t.inner ? t.inner_len : 3, gold, r, err);
  case PC__SIM_K_DICT:
    return wrong_dict(h, t.inner ? t.inner : "Any",
                      t.inner ? t.inner_len : 3, gold);
  default:
    break;
  }
  /* str: another row's value of this field, else gold with a doubt. */
  if (kn && item >= 0 &&
      other_row_string(h, kn, item, name, gold, r, &v, err))
    return NULL;
  return v ? v : string_or_else(h, gold);
}

/* The wrong value for output f, checked to differ from gold. */
static int wrong_value(const pc__sim_host *h, const pc__sim_config *c,
                       const pc__sim_knowledge *kn, long item,
                       const pc__sim_field *f, const pc_json *gold,
                       const char *sample, pc_json **out, pc_error *err)
{
  uint64_t r;
  int rc, same = 0;

  *out = NULL;
  rc = pc__sim_draw(h, c->seed, "sim-wrong", f->name, sample,
                    (uint64_t)item, 0, &r);
  if (rc)
    return PC__SIM_OOM(err);
  *out = wrong_of(h, kn, item, f->name, f->type, strlen(f->type), gold, r,
                  err);
  if (!*out)
    return PC__SIM_OOM(err);
  rc = same_text(h, *out, gold, f->t.kind == PC__SIM_K_STR, &same, err);
  if (!rc && same && h->json->type(gold) == PC_JSON_STRING) {
    h->json->free(h->host->ctx, *out);
    *out = string_or_else(h, gold);
    if (!*out)
      rc = PC__SIM_OOM(err);
  }
  return rc;
}

int pc__sim_put_inline(const pc__sim_host *h, const pc_json *v, int as_str,
                       pc__sim_buf *out, pc_error *err)
{
  pc__sim_buf b;
  size_t i, a, z;
  int rc, space = 0;

  pc__sim_buf_init(&b, h);
  rc = pc__sim_render(h, v, as_str, &b, err);
  pc__sim_trim(pc__sim_buf_str(&b), b.len, &a, &z);
  for (i = a; !rc && i < z; i++) {
    if (pc__sim_is_space((unsigned char)b.data[i])) {
      space = 1;
      continue;
    }
    if (space)
      rc = pc__sim_buf_put(out, " ", 1);
    space = 0;
    rc = rc ? rc : pc__sim_buf_put(out, b.data + i, 1);
  }
  pc__sim_buf_free(&b);
  return rc == PC_E_NOMEM ? PC__SIM_OOM(err) : rc;
}

/* "Let's think step by step. ... so the answer is X." naming the values
 * already decided for the outputs the row has. */
static int reasoning_text(const pc__sim_host *h, const pc__sim_request *req,
                          const pc_json *row, pc_json *const *values,
                          pc_json **out, pc_error *err)
{
  pc__sim_buf b;
  size_t i, named = 0, answers = 0;
  int rc;

  *out = NULL;
  for (i = 0; i < req->n_outputs; i++)
    answers += values[i] && h->json->object_get(row, req->outputs[i].name);
  pc__sim_buf_init(&b, h);
  rc = pc__sim_buf_puts(&b, "Let's think step by step. I read the ");
  for (i = 0; !rc && i < req->n_inputs; i++)
    rc = pc__sim_buf_printf(&b, "%s`%s`", i == 0 ? ""
                            : i + 1 == req->n_inputs ? " and " : ", ",
                            req->inputs[i].name);
  rc = rc ? rc : pc__sim_buf_puts(&b, req->n_inputs ? " and recall what I "
                                  "know about it, so the answer is"
                                  : "task and recall what I know, so the "
                                  "answer is");
  for (i = 0; !rc && i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];

    if (!values[i] || !h->json->object_get(row, f->name))
      continue;
    if (answers > 1)
      rc = pc__sim_buf_printf(&b, "%s %s = ", named ? ";" : ":", f->name);
    else
      rc = pc__sim_buf_puts(&b, " ");
    rc = rc ? rc : pc__sim_put_inline(h, values[i],
                                      f->t.kind == PC__SIM_K_STR, &b, err);
    named++;
  }
  if (!rc && named == 0)
    rc = pc__sim_buf_puts(&b, " what follows");
  rc = rc ? rc : pc__sim_buf_puts(&b, ".");
  if (!rc && !(*out = h->json->new_string(h->host->ctx, pc__sim_buf_str(&b),
                                          b.len)))
    rc = PC_E_NOMEM;
  pc__sim_buf_free(&b);
  return rc == PC_E_NOMEM ? PC__SIM_OOM(err) : rc;
}

int pc__sim_task_values(const pc__sim_host *h, const pc__sim_config *c,
                        const pc__sim_knowledge *kn,
                        const pc__sim_request *req, long item, double p,
                        const char *sample, pc_json **values,
                        pc_error *err)
{
  const pc_json *row = kn->rows[item].obj;
  size_t i;
  int rc = PC_OK;

  for (i = 0; !rc && i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];
    const pc_json *gold = h->json->object_get(row, f->name);
    uint64_t r;

    if (!gold || values[i])
      continue;                 /* absent, or decided by sim_agent.c */
    rc = pc__sim_draw(h, c->seed, "sim-correct", f->name, sample,
                      (uint64_t)item, 0, &r);
    if (rc) {
      rc = PC__SIM_OOM(err);
    } else if (pc__sim_unit(r) < p) {
      values[i] = h->json->copy(h->host->ctx, gold);
      if (!values[i])
        rc = PC__SIM_OOM(err);
    } else {
      rc = wrong_value(h, c, kn, item, f, gold, sample, &values[i], err);
    }
  }
  for (i = 0; !rc && i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];

    if (values[i])
      continue;
    if (!strcmp(f->name, "reasoning") && f->t.kind == PC__SIM_K_STR) {
      rc = reasoning_text(h, req, row, values, &values[i], err);
    } else if (f->t.kind == PC__SIM_K_STR) {
      static const char note[] = "I worked this out from the inputs given.";

      values[i] = h->json->new_string(h->host->ctx, note, strlen(note));
      if (!values[i])
        rc = PC__SIM_OOM(err);
    }
  }
  return rc ? rc : pc__sim_fill_uninformed(h, req, values, err);
}

/* ------------------------------------------------------------------------ */
/* Rendering.                                                               */

int pc__sim_render_outputs(const pc__sim_host *h, const pc__sim_request *req,
                           pc_json *const *values, pc__sim_buf *out,
                           pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  size_t i;
  int rc = PC_OK;

  if (req->adapter == PC__SIM_CHAT) {
    for (i = 0; !rc && i < req->n_outputs; i++) {
      rc = pc__sim_buf_printf(out, "[[ ## %s ## ]]\n", req->outputs[i].name);
      if (rc)
        return PC__SIM_OOM(err);
      rc = pc__sim_render(h, values[i],
                          req->outputs[i].t.kind == PC__SIM_K_STR, out, err);
      if (!rc && pc__sim_buf_puts(out, "\n\n"))
        return PC__SIM_OOM(err);
    }
    if (!rc && pc__sim_buf_puts(out, "[[ ## completed ## ]]"))
      return PC__SIM_OOM(err);
    return rc;
  } else {
    pc_json *obj = js->new_object(ctx);
    char *text = NULL;
    size_t len = 0;

    if (!obj)
      return PC__SIM_OOM(err);
    for (i = 0; !rc && i < req->n_outputs; i++)
      rc = js->object_set(ctx, obj, req->outputs[i].name,
                          js->copy(ctx, values[i]));
    if (!rc)
      rc = js->to_text(ctx, obj, PC_JSON_TEXT_PRETTY, &text, &len);
    if (!rc)
      rc = pc__sim_buf_put(out, text, len);
    h->host->free(ctx, text);
    js->free(ctx, obj);
    return rc ? PC__SIM_OOM(err) : PC_OK;
  }
}

/* Whether rendered text could be read as JSON or as a section: then the
 * malformed reply leaves it out. */
static int risky(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (s[i] == '{' || s[i] == '[' || s[i] == '`')
      return 1;
  return 0;
}

int pc__sim_render_malformed(const pc__sim_host *h,
                             const pc__sim_request *req,
                             pc_json *const *values, pc__sim_buf *out,
                             pc_error *err)
{
  pc__sim_buf v;
  size_t i;
  int rc;

  pc__sim_buf_init(&v, h);
  rc = pc__sim_buf_puts(out, req->adapter == PC__SIM_JSON
                        ? "Sorry, I could not put my reply in the requested "
                          "format. My best guess:"
                        : "Here is what I think:");
  for (i = 0; !rc && i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];

    v.len = 0;
    rc = pc__sim_put_inline(h, values[i], f->t.kind == PC__SIM_K_STR, &v,
                            err);
    if (rc)
      break;
    if (risky(pc__sim_buf_str(&v), v.len))
      rc = pc__sim_buf_printf(out, "%s the %s is hard to say", i ? ";" : "",
                              f->name);
    else
      rc = pc__sim_buf_printf(out, "%s the %s is %s", i ? ";" : "", f->name,
                              pc__sim_buf_str(&v));
  }
  if (!rc)
    rc = pc__sim_buf_puts(out, ".");
  pc__sim_buf_free(&v);
  return rc == PC_E_NOMEM ? PC__SIM_OOM(err) : rc;
}
