/*
 * metric.c - the `word_overlap` metric: a word-level F1 between one output
 * field of the prediction and the gold answer, with feedback naming the
 * gold words the prediction missed.
 *
 * This file is a template: copy it, rename the ids and make it yours. It
 * includes only <promptc/plugin.h> and the C library, links nothing from
 * promptc, and exports one symbol, pc_plugin_entry_v1.
 *
 * Settings (the config's "metric" object minus "name"):
 *   "field"       the prediction's field to score (default "answer")
 *   "gold_field"  the example's field holding the gold value (default:
 *                 the same as "field")
 *
 * Words are the runs of ASCII letters and digits (and of non-ASCII bytes,
 * so UTF-8 words stay whole), compared without ASCII case. The score is
 * the F1 of the two word multisets, in [0, 1]; two empty texts score 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <promptc/plugin.h>

#define WHO "word_overlap"
/* Feedback is one line of at most this many bytes. */
#define FEEDBACK_MAX 512
/* At most this many missing words are named in the feedback. */
#define FEEDBACK_WORDS 8

/* Per-plugin state: the host tables, valid from init to fini. */
typedef struct wo_plugin {
  const pc_host_api *host;
  const pc_json_api *js;
} wo_plugin;

/* One configured metric. Never changed after create, so one instance may
 * score on many threads at once (PC_PLUGIN_THREADSAFE_INSTANCES). */
typedef struct wo_metric {
  const wo_plugin *pl;  /* borrowed: the plugin state */
  char *field;          /* owned (host allocator) */
  char *gold_field;     /* owned (host allocator) */
} wo_metric;

/* One word: a slice of a lowercased text owned by its wo_words. */
typedef struct wo_word {
  const char *s;
  size_t len;
  int used;  /* matched already (while counting the overlap) */
} wo_word;

/* The words of one text. `text` and `w` are owned (host allocator). */
typedef struct wo_words {
  char *text;
  wo_word *w;
  size_t n;
} wo_words;

/* Fill `err` (which may be NULL) with `code` and a formatted one-line
 * message; returns `code`. */
static int wo_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;

  if (err && err->code == PC_OK) {
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return code;
}

/* A copy of `len` bytes of `s`, NUL-terminated, from the host allocator
 * (release with host->free); NULL when out of memory. */
static char *wo_strndup(const wo_plugin *pl, const char *s, size_t len)
{
  char *p = pl->host->alloc(pl->host->ctx, len + 1);

  if (p) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

static int is_word_byte(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static void wo_words_free(const wo_plugin *pl, wo_words *ws)
{
  pl->host->free(pl->host->ctx, ws->text);
  pl->host->free(pl->host->ctx, ws->w);
  ws->text = NULL;
  ws->w = NULL;
  ws->n = 0;
}

/* Split `len` bytes of `s` into lowercased words. On success `ws` owns
 * its text and array (wo_words_free); on failure it holds nothing. */
static int wo_words_split(const wo_plugin *pl, const char *s, size_t len,
                          wo_words *ws, pc_error *err)
{
  size_t i, cap = 0;

  ws->n = 0;
  ws->w = NULL;
  ws->text = wo_strndup(pl, s, len);
  if (!ws->text)
    goto nomem;
  for (i = 0; i < len; i++) {
    if (is_word_byte((unsigned char)ws->text[i]) &&
        (i == 0 || !is_word_byte((unsigned char)ws->text[i - 1])))
      cap++;
    if (ws->text[i] >= 'A' && ws->text[i] <= 'Z')
      ws->text[i] = (char)(ws->text[i] - 'A' + 'a');
  }
  if (cap) {
    ws->w = pl->host->alloc(pl->host->ctx, cap * sizeof(*ws->w));
    if (!ws->w)
      goto nomem;
  }
  for (i = 0; i < len;) {
    size_t start;

    if (!is_word_byte((unsigned char)ws->text[i])) {
      i++;
      continue;
    }
    start = i;
    while (i < len && is_word_byte((unsigned char)ws->text[i]))
      i++;
    ws->w[ws->n].s = ws->text + start;
    ws->w[ws->n].len = i - start;
    ws->w[ws->n].used = 0;
    ws->n++;
  }
  return PC_OK;
nomem:
  wo_words_free(pl, ws);
  return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
}

/* The text of JSON value `v` as a metric compares it: a string is its own
 * text, anything else its compact JSON. *out is host-allocated and owned
 * by the caller; on failure it is NULL. */
static int wo_value_text(const wo_plugin *pl, const pc_json *v, char **out,
                         size_t *len, pc_error *err)
{
  const char *s;

  *out = NULL;
  *len = 0;
  if (pl->js->type(v) == PC_JSON_STRING) {
    s = pl->js->get_string(v, len);
    *out = wo_strndup(pl, s ? s : "", s ? *len : 0);
    if (!*out)
      return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
    return PC_OK;
  }
  if (pl->js->to_text(pl->host->ctx, v, PC_JSON_TEXT_COMPACT, out, len))
    return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

/* Append `s` (`len` bytes) to the feedback line `fb` holding *used bytes;
 * returns 0, or -1 (appending nothing) when it would not fit. */
static int fb_append(char *fb, size_t *used, const char *s, size_t len)
{
  if (*used + len + 1 > FEEDBACK_MAX)
    return -1;
  memcpy(fb + *used, s, len);
  *used += len;
  fb[*used] = '\0';
  return 0;
}

/* Append to `fb` the distinct unmatched words of `ws` (at most
 * FEEDBACK_WORDS), each after a space, comma-separated. */
static void fb_words(char *fb, size_t *used, const wo_words *ws)
{
  size_t i, j, named = 0;

  for (i = 0; i < ws->n && named < FEEDBACK_WORDS; i++) {
    int seen = 0;

    if (ws->w[i].used)
      continue;
    for (j = 0; j < i && !seen; j++)
      seen = !ws->w[j].used && ws->w[j].len == ws->w[i].len &&
             !memcmp(ws->w[j].s, ws->w[i].s, ws->w[i].len);
    if (seen)
      continue;
    if (fb_append(fb, used, named ? ", " : " ", named ? 2 : 1) ||
        fb_append(fb, used, ws->w[i].s, ws->w[i].len)) {
      fb_append(fb, used, " ...", 4);
      return;
    }
    named++;
  }
}

/* Write the feedback line to `fb`: how many gold words `g` were found,
 * which were missing and which words of the prediction `p` were not
 * asked for (matched words are marked in both). */
static void wo_feedback(const wo_words *p, const wo_words *g, size_t common,
                        double f1, char *fb)
{
  char head[128];
  size_t used = 0;
  int n;

  fb[0] = '\0';
  if (common == g->n)
    n = snprintf(head, sizeof(head), "all %zu gold words found (F1 %.2f)",
                 g->n, f1);
  else
    n = snprintf(head, sizeof(head), "%zu of %zu gold words found (F1 %.2f)"
                 "; missing words:", common, g->n, f1);
  fb_append(fb, &used, head, (size_t)n);
  if (common < g->n)
    fb_words(fb, &used, g);
  if (common < p->n && !fb_append(fb, &used, "; unexpected words:", 19))
    fb_words(fb, &used, p);
}

/* Score the texts `pred` against `gold` into `out`. */
static int wo_compare(const wo_plugin *pl, const char *pred, size_t pred_len,
                      const char *gold, size_t gold_len,
                      const pc_metric_sink *out, pc_error *err)
{
  wo_words p = {0}, g = {0};
  size_t i, j, common = 0;
  double prec = 0.0, rec = 0.0, f1 = 0.0;
  char fb[FEEDBACK_MAX];
  int rc;

  rc = wo_words_split(pl, pred, pred_len, &p, err);
  if (rc)
    goto out;
  rc = wo_words_split(pl, gold, gold_len, &g, err);
  if (rc)
    goto out;
  /* Multiset intersection: each predicted word matches one gold word. */
  for (i = 0; i < g.n; i++)
    for (j = 0; j < p.n; j++)
      if (!p.w[j].used && p.w[j].len == g.w[i].len &&
          !memcmp(p.w[j].s, g.w[i].s, g.w[i].len)) {
        p.w[j].used = 1;
        g.w[i].used = 1;
        common++;
        break;
      }
  if (p.n == 0 && g.n == 0) {
    prec = rec = f1 = 1.0;
  } else if (common > 0) {
    prec = (double)common / (double)p.n;
    rec = (double)common / (double)g.n;
    f1 = 2.0 * prec * rec / (prec + rec);
  }
  wo_feedback(&p, &g, common, f1, fb);
  if (out->score(out->ctx, f1) ||
      (out->feedback && out->feedback(out->ctx, fb, strlen(fb))) ||
      (out->subscore && (out->subscore(out->ctx, "precision", prec) ||
                         out->subscore(out->ctx, "recall", rec))))
    rc = wo_error(err, PC_E_INTERNAL, WHO ": the host refused the score");
out:
  wo_words_free(pl, &p);
  wo_words_free(pl, &g);
  return rc;
}

static int wo_score(void *inst, const char *example_json, size_t example_len,
                    const char *prediction_json, size_t prediction_len,
                    const char *trace_json, size_t trace_len,
                    const pc_metric_sink *out, pc_error *err)
{
  wo_metric *m = inst;
  const wo_plugin *pl = m->pl;
  void *hc = pl->host->ctx;
  pc_json *ex = NULL, *pr = NULL;
  const pc_json *gv, *pv;
  char *gold = NULL, *pred = NULL;
  size_t gold_len, pred_len;
  char fb[FEEDBACK_MAX];
  pc_error perr = PC_ERROR_INIT;
  int rc;

  (void)trace_json;  /* the trace is not used */
  (void)trace_len;
  rc = pl->js->parse(hc, example_json, example_len, PC_JSON_PARSE_STRICT,
                     &ex, &perr);
  if (!rc)
    rc = pl->js->parse(hc, prediction_json, prediction_len,
                       PC_JSON_PARSE_STRICT, &pr, &perr);
  if (rc) {
    rc = wo_error(err, PC_E_INVALID_ARG, WHO ": the example or the "
                  "prediction is not JSON: %s", perr.message);
    goto out;
  }
  if (pl->js->type(ex) != PC_JSON_OBJECT ||
      pl->js->type(pr) != PC_JSON_OBJECT) {
    rc = wo_error(err, PC_E_INVALID_ARG, WHO ": the example and the "
                  "prediction must be JSON objects");
    goto out;
  }
  gv = pl->js->object_get(ex, m->gold_field);
  if (!gv || pl->js->type(gv) == PC_JSON_NULL) {
    /* The dataset is wrong, not the model: an error, not a zero. */
    rc = wo_error(err, PC_E_INVALID_ARG, WHO ": example has no field '%s'",
                  m->gold_field);
    goto out;
  }
  pv = pl->js->object_get(pr, m->field);
  if (!pv || pl->js->type(pv) == PC_JSON_NULL) {
    /* A model that left the field out got it wrong; that is a score. */
    snprintf(fb, sizeof(fb), "the prediction has no field '%s'", m->field);
    if (out->score(out->ctx, 0.0) ||
        (out->feedback && out->feedback(out->ctx, fb, strlen(fb))))
      rc = wo_error(err, PC_E_INTERNAL, WHO ": the host refused the score");
    goto out;
  }
  rc = wo_value_text(pl, gv, &gold, &gold_len, err);
  if (!rc)
    rc = wo_value_text(pl, pv, &pred, &pred_len, err);
  if (!rc)
    rc = wo_compare(pl, pred, pred_len, gold, gold_len, out, err);
out:
  pl->host->free(hc, gold);
  pl->host->free(hc, pred);
  pl->js->free(hc, ex);
  pl->js->free(hc, pr);
  return rc;
}

static void wo_destroy(void *inst)
{
  wo_metric *m = inst;

  if (!m)
    return;
  m->pl->host->free(m->pl->host->ctx, m->field);
  m->pl->host->free(m->pl->host->ctx, m->gold_field);
  m->pl->host->free(m->pl->host->ctx, m);
}

/* Copy the string member `key` of settings `cfg` into *dst (host
 * allocated, replacing nothing: *dst must be NULL). */
static int wo_setting(const wo_plugin *pl, const pc_json *v, const char *key,
                      char **dst, pc_error *err)
{
  const char *s;
  size_t len = 0;

  if (pl->js->type(v) != PC_JSON_STRING)
    return wo_error(err, PC_E_INVALID_ARG,
                    WHO ": config: '%s' must be a non-empty string", key);
  s = pl->js->get_string(v, &len);
  if (!s || len == 0 || memchr(s, '\0', len))
    return wo_error(err, PC_E_INVALID_ARG,
                    WHO ": config: '%s' must be a non-empty string", key);
  *dst = wo_strndup(pl, s, len);
  if (!*dst)
    return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

static int wo_create(void *plugin_state, const char *config_json,
                     size_t len, void **inst, pc_error *err)
{
  const wo_plugin *pl = plugin_state;
  void *hc = pl->host->ctx;
  wo_metric *m = NULL;
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  size_t i;
  int rc = PC_OK;

  *inst = NULL;
  m = pl->host->alloc(hc, sizeof(*m));
  if (!m)
    return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
  memset(m, 0, sizeof(*m));
  m->pl = pl;
  /* No settings, "" and null all mean the defaults. */
  if (config_json && len > 0) {
    rc = pl->js->parse(hc, config_json, len, PC_JSON_PARSE_STRICT, &cfg,
                       &perr);
    if (rc) {
      rc = wo_error(err, PC_E_INVALID_ARG, WHO ": config: %s",
                    perr.message);
      goto out;
    }
  }
  if (cfg && pl->js->type(cfg) != PC_JSON_NULL &&
      pl->js->type(cfg) != PC_JSON_OBJECT) {
    rc = wo_error(err, PC_E_INVALID_ARG,
                  WHO ": config: expected a JSON object");
    goto out;
  }
  for (i = 0; cfg && pl->js->type(cfg) == PC_JSON_OBJECT &&
              i < pl->js->object_len(cfg); i++) {
    const char *key;
    const pc_json *v;

    pl->js->object_at(cfg, i, &key, &v);
    if (!strcmp(key, "field") && !m->field)
      rc = wo_setting(pl, v, key, &m->field, err);
    else if (!strcmp(key, "gold_field") && !m->gold_field)
      rc = wo_setting(pl, v, key, &m->gold_field, err);
    else
      rc = wo_error(err, PC_E_INVALID_ARG, WHO ": config: unknown key '%s'",
                    key);
    if (rc)
      goto out;
  }
  if (!m->field)
    m->field = wo_strndup(pl, "answer", 6);
  if (m->field && !m->gold_field)
    m->gold_field = wo_strndup(pl, m->field, strlen(m->field));
  if (!m->field || !m->gold_field)
    rc = wo_error(err, PC_E_NOMEM, WHO ": out of memory");
out:
  pl->js->free(hc, cfg);
  if (rc)
    wo_destroy(m);
  else
    *inst = m;
  return rc;
}

static const pc_metric_iface wo_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
  .name = "word_overlap",
  .create = wo_create,
  .destroy = wo_destroy,
  .score = wo_score,
};

static int wo_init(const pc_host_api *host, void **state, pc_error *err)
{
  const pc_json_api *js;
  wo_plugin *pl;
  uint32_t size = 0;

  *state = NULL;
  if (!PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->get_host_interface)
    return wo_error(err, PC_E_UNSUPPORTED, WHO ": the host offers no "
                    "services");
  js = host->get_host_interface(host->ctx, "pc.json/1", &size);
  if (!js || size < offsetof(pc_json_api, array_append) +
                    sizeof(js->array_append))
    return wo_error(err, PC_E_UNSUPPORTED, WHO ": the host lacks pc.json/1");
  pl = host->alloc(host->ctx, sizeof(*pl));
  if (!pl)
    return wo_error(err, PC_E_NOMEM, WHO ": out of memory");
  pl->host = host;
  pl->js = js;
  *state = pl;
  return PC_OK;
}

static void wo_fini(void *state)
{
  wo_plugin *pl = state;

  if (pl)
    pl->host->free(pl->host->ctx, pl);
}

static const void *wo_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_METRIC))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(wo_iface);
  return &wo_iface;
}

static const pc_plugin_info wo_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "com.example.metric.word_overlap",
  .name = "word-overlap",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "word_overlap: word F1 with feedback naming missing words",
  .kinds = PC_KIND_METRIC,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = wo_init,
  .fini = wo_fini,
  .get_interface = wo_get_interface,
  .get_interface_at = NULL,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &wo_info;
}
