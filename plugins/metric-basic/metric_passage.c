/*
 * metric_passage.c - metric-basic's retrieval metrics: passage_recall (the
 * fraction of gold titles among the retrieved passages) and passage_hit (1
 * when any gold title is retrieved), over passages "title | text".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "metric_passage.h"

/* Feedback text is cut (with "...") past this many bytes. */
#define MP_FEEDBACK_MAX 900

/* One configured metric; read-only after create. */
typedef struct mp_metric {
  const pc_host_api *host;  /* borrowed: lives until the plugin's fini */
  const pc_json_api *js;    /* borrowed */
  int any;                  /* 1: passage_hit, 0: passage_recall */
  char field[128];          /* the prediction's passages */
  char gold[128];           /* the example's gold titles */
} mp_metric;

static const char *mp_name(int any)
{
  return any ? "passage_hit" : "passage_recall";
}

/* Copy the string `v` into `dst` (size 128) as a field name. */
static int mp_field(const mp_metric *m, const char *key, const pc_json *v,
                    char *dst, pc_error *err)
{
  size_t len = 0;
  const char *s = m->js->get_string(v, &len);

  if (!s || len == 0 || len >= 128 || strlen(s) != len)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: '%s' must "
                    "be a non-empty string of at most 127 bytes",
                    mp_name(m->any), key);
  memcpy(dst, s, len + 1);
  return PC_OK;
}

int pc__mb_passage_create(const pc_host_api *host, const pc_json_api *js,
                          int any, const char *config, size_t len,
                          void **inst, pc_error *err)
{
  mp_metric *m = NULL;
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  const char *key;
  const pc_json *v;
  size_t i, j;
  int rc = PC_OK;

  *inst = NULL;
  m = host->alloc(host->ctx, sizeof(*m));
  if (!m)
    return pc__mb_error(err, PC_E_NOMEM, "metric %s: out of memory",
                    mp_name(any));
  memset(m, 0, sizeof(*m));
  m->host = host;
  m->js = js;
  m->any = any;
  memcpy(m->field, "passages", sizeof("passages"));
  memcpy(m->gold, "gold_titles", sizeof("gold_titles"));
  for (j = 0; config && j < len; j++)
    if (config[j] != ' ' && config[j] != '\t' && config[j] != '\n' &&
        config[j] != '\r')
      break;
  if (config && j < len) {
    if (js->parse(host->ctx, config, len, PC_JSON_PARSE_STRICT, &cfg,
                  &perr)) {
      rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: %s",
                    mp_name(any), perr.message);
      goto fail;
    }
    if (js->type(cfg) != PC_JSON_OBJECT && js->type(cfg) != PC_JSON_NULL) {
      rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: expected "
                    "a JSON object", mp_name(any));
      goto fail;
    }
    for (i = 0; rc == PC_OK && js->object_at(cfg, i, &key, &v) == 0; i++) {
      if (!strcmp(key, "field"))
        rc = mp_field(m, key, v, m->field, err);
      else if (!strcmp(key, "gold_field") || !strcmp(key, "gold"))
        rc = mp_field(m, key, v, m->gold, err);
      else
        rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: config: unknown "
                      "key '%s'", mp_name(any), key);
    }
    if (rc != PC_OK)
      goto fail;
  }
  js->free(host->ctx, cfg);
  *inst = m;
  return PC_OK;

fail:
  js->free(host->ctx, cfg);
  host->free(host->ctx, m);
  return rc;
}

void pc__mb_passage_destroy(void *inst)
{
  mp_metric *m = inst;

  if (m)
    m->host->free(m->host->ctx, m);
}

/* Bounds of s[0..len) without ASCII white space at either end. */
static void mp_trim(const char **s, size_t *len)
{
  while (*len && (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')) {
    (*s)++;
    (*len)--;
  }
  while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' ||
                  (*s)[*len - 1] == '\n' || (*s)[*len - 1] == '\r'))
    (*len)--;
}

/* Equal after trimming, ASCII letters compared without case. */
static int mp_title_eq(const char *a, size_t alen, const char *b,
                       size_t blen)
{
  mp_trim(&a, &alen);
  mp_trim(&b, &blen);
  if (alen != blen)
    return 0;
  for (size_t i = 0; i < alen; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y - 'A' + 'a');
    if (x != y)
      return 0;
  }
  return 1;
}

/* Non-zero when some passage of `passages` (a list of strings, or one
 * string) has the title `title`: the text before its first " | ". */
static int mp_retrieved(const mp_metric *m, const pc_json *passages,
                        const char *title, size_t tlen)
{
  size_t n = m->js->type(passages) == PC_JSON_ARRAY
    ? m->js->array_len(passages) : 1;

  for (size_t i = 0; i < n; i++) {
    const pc_json *p = m->js->type(passages) == PC_JSON_ARRAY
      ? m->js->array_get(passages, i) : passages;
    size_t len = 0;
    const char *s = m->js->get_string(p, &len), *bar;

    if (!s)
      continue;
    bar = strstr(s, " | ");
    if (bar && mp_title_eq(s, (size_t)(bar - s), title, tlen))
      return 1;
  }
  return 0;
}

/* Append printf output to the feedback buffer, cutting with "..." when it
 * would overflow. */
static void mp_append(char *fb, size_t *used, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

static void mp_append(char *fb, size_t *used, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (*used >= MP_FEEDBACK_MAX)
    return;
  va_start(ap, fmt);
  n = vsnprintf(fb + *used, MP_FEEDBACK_MAX + 1 - *used, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (*used + (size_t)n > MP_FEEDBACK_MAX) {
    *used = MP_FEEDBACK_MAX;
    memcpy(fb + MP_FEEDBACK_MAX - 3, "...", 4);
  } else {
    *used += (size_t)n;
  }
}

int pc__mb_passage_score(void *inst, const char *example_json,
                         size_t example_len, const char *prediction_json,
                         size_t prediction_len, const char *trace_json,
                         size_t trace_len, const pc_metric_sink *out,
                         pc_error *err)
{
  const mp_metric *m = inst;
  const pc_json_api *js;
  pc_json *ex = NULL, *pred = NULL;
  const pc_json *gold, *passages;
  pc_error perr = PC_ERROR_INIT;
  char fb[MP_FEEDBACK_MAX + 1];
  size_t n_gold, found = 0, used = 0, missing = 0;
  double score;
  int rc = PC_OK;

  (void)trace_json;
  (void)trace_len;
  fb[0] = '\0';
  if (!m)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric-basic: score: no "
                        "instance");
  if (!out || !PC_HAS_FIELD(out, pc_metric_sink, score) || !out->score)
    return pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: score: no score "
                        "sink", mp_name(m->any));
  js = m->js;
  if (js->parse(m->host->ctx, example_json, example_len, 0, &ex, &perr) ||
      js->parse(m->host->ctx, prediction_json, prediction_len, 0, &pred,
                &perr)) {
    rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: %s", mp_name(m->any),
                  perr.message);
    goto out;
  }
  gold = js->object_get(ex, m->gold);
  if (!gold || !(js->type(gold) == PC_JSON_STRING ||
                 (js->type(gold) == PC_JSON_ARRAY && js->array_len(gold)))) {
    rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: example field '%s': "
                  "expected a title or a non-empty list of titles",
                  mp_name(m->any), m->gold);
    goto out;
  }
  n_gold = js->type(gold) == PC_JSON_ARRAY ? js->array_len(gold) : 1;
  passages = js->object_get(pred, m->field);
  if (passages && js->type(passages) != PC_JSON_ARRAY &&
      js->type(passages) != PC_JSON_STRING)
    passages = NULL;
  for (size_t i = 0; i < n_gold; i++) {
    const pc_json *g = js->type(gold) == PC_JSON_ARRAY
      ? js->array_get(gold, i) : gold;
    size_t tlen = 0;
    const char *t = js->get_string(g, &tlen);

    if (!t) {
      rc = pc__mb_error(err, PC_E_INVALID_ARG, "metric %s: example field '%s' "
                    "item %zu: expected a string", mp_name(m->any), m->gold,
                    i);
      goto out;
    }
    if (passages && mp_retrieved(m, passages, t, tlen)) {
      found++;
      continue;
    }
    mp_append(fb, &used, "%s'%s'", missing++ ? ", " : "", t);
  }
  score = m->any ? (found > 0 ? 1.0 : 0.0) : (double)found / (double)n_gold;
  rc = out->score(out->ctx, score);
  if (rc != PC_OK) {
    rc = pc__mb_sink_failed(err, rc, mp_name(m->any), "score");
    goto out;
  }
  if (PC_HAS_FIELD(out, pc_metric_sink, feedback) && out->feedback) {
    char text[MP_FEEDBACK_MAX + 200];
    int n;

    if (!passages)
      n = snprintf(text, sizeof(text), "%s on `%s`: the prediction has no "
                   "passages; missing %s.", mp_name(m->any), m->field, fb);
    else if (!missing)
      n = snprintf(text, sizeof(text), "%s on `%s`: all %zu gold titles "
                   "retrieved.", mp_name(m->any), m->field, n_gold);
    else
      n = snprintf(text, sizeof(text), "%s on `%s`: %zu of %zu gold titles "
                   "retrieved; missing %s.", mp_name(m->any), m->field,
                   found, n_gold, fb);
    if (n > 0) {
      rc = out->feedback(out->ctx, text, (size_t)n < sizeof(text)
                                         ? (size_t)n : sizeof(text) - 1);
      if (rc != PC_OK)
        rc = pc__mb_sink_failed(err, rc, mp_name(m->any), "feedback");
    }
  }

out:
  js->free(m->host->ctx, ex);
  js->free(m->host->ctx, pred);
  return rc;
}
