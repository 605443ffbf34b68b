/*
 * fx_v10.c - an old plugin for the ABI matrix: a metric and an optimizer
 * built against the FROZEN v1.0 header (sdk/abi/v1.0), using only what
 * ABI 1.0 offers, to show that today's host still loads and runs it.
 *
 * Built with -I$(top_srcdir)/sdk/abi/v1.0 and without the usual
 * sdk/include, so PC_ABI_MINOR is 0 and every table it hands the host
 * says 1.0 and has its 1.0 size.
 *
 * metric "v10_match": the share of the prediction's fields (or only
 * config "field") whose value equals the example's, with a feedback line.
 * optimizer "v10_first": gives every predictor the first k train examples
 * (setting "k", default 3) as demos, evaluates that and the starting
 * program on val through the 1.0 compile API, records both trials and
 * keeps the better (the candidate on a tie).
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"

#if PC_ABI_MINOR != 0
#error "fx_v10.c must be built against sdk/abi/v1.0, the frozen 1.0 header"
#endif

static const pc_host_api *host;
static const pc_json_api *js;

static int fail(pc_error *err, int code, const char *msg)
{
  size_t n = strlen(msg);

  if (n >= sizeof(err->message))
    n = sizeof(err->message) - 1;
  memcpy(err->message, msg, n);
  err->message[n] = '\0';
  err->code = code;
  return code;
}

static int v10_init(const pc_host_api *h, void **state, pc_error *err)
{
  uint32_t size = 0;

  host = h;
  js = h->get_host_interface(h->ctx, "pc.json/1", &size);
  if (!js || size < sizeof(pc_json_api))
    return fail(err, PC_E_UNSUPPORTED, "fx-v10: the host lacks pc.json/1");
  *state = NULL;
  return PC_OK;
}

/* Write a JSON value's compact text to a sink. */
static int write_json(const pc_json *v, const pc_text_sink *out)
{
  char *text = NULL;
  size_t len = 0;
  int rc = js->to_text(host->ctx, v, PC_JSON_TEXT_COMPACT, &text, &len);

  if (rc == PC_OK)
    rc = out->write(out->ctx, text, len) ? PC_E_INTERNAL : PC_OK;
  host->free(host->ctx, text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* metric "v10_match"                                                       */

typedef struct v10_metric {
  char field[64];  /* empty: every field of the prediction */
} v10_metric;

static int m_create(void *state, const char *config, size_t len, void **inst,
                    pc_error *err)
{
  pc_json *cfg = NULL;
  const pc_json *f;
  v10_metric *m;
  const char *s;
  size_t n = 0;

  (void)state;
  *inst = NULL;
  if (!config || !len) {
    config = "{}";
    len = 2;
  }
  if (js->parse(host->ctx, config, len, PC_JSON_PARSE_STRICT, &cfg, err))
    return PC_E_INVALID_ARG;
  m = host->alloc(host->ctx, sizeof(*m));
  if (!m) {
    js->free(host->ctx, cfg);
    return fail(err, PC_E_NOMEM, "v10_match: out of memory");
  }
  m->field[0] = '\0';
  f = js->object_get(cfg, "field");
  s = f ? js->get_string(f, &n) : NULL;
  if (f && (!s || n >= sizeof(m->field))) {
    js->free(host->ctx, cfg);
    host->free(host->ctx, m);
    return fail(err, PC_E_INVALID_ARG, "v10_match: field: expected a short "
                "string");
  }
  if (s)
    memcpy(m->field, s, n + 1);
  js->free(host->ctx, cfg);
  *inst = m;
  return PC_OK;
}

static void m_destroy(void *inst)
{
  host->free(host->ctx, inst);
}

/* 1 when a and b serialise to the same compact JSON text. */
static int same_value(const pc_json *a, const pc_json *b)
{
  char *ta = NULL, *tb = NULL;
  size_t la = 0, lb = 0;
  int same = 0;

  if (a && b &&
      js->to_text(host->ctx, a, PC_JSON_TEXT_COMPACT, &ta, &la) == PC_OK &&
      js->to_text(host->ctx, b, PC_JSON_TEXT_COMPACT, &tb, &lb) == PC_OK)
    same = la == lb && memcmp(ta, tb, la) == 0;
  host->free(host->ctx, ta);
  host->free(host->ctx, tb);
  return same;
}

static int m_score(void *inst, const char *example, size_t example_len,
                   const char *prediction, size_t prediction_len,
                   const char *trace, size_t trace_len,
                   const pc_metric_sink *out, pc_error *err)
{
  v10_metric *m = inst;
  pc_json *ex = NULL, *pred = NULL;
  size_t i, n = 0, hits = 0;
  double score = 0.0;
  int rc;

  (void)trace;
  (void)trace_len;
  rc = js->parse(host->ctx, example, example_len, PC_JSON_PARSE_STRICT, &ex,
                 err);
  if (rc == PC_OK)
    rc = js->parse(host->ctx, prediction, prediction_len,
                   PC_JSON_PARSE_STRICT, &pred, err);
  if (rc)
    goto out;
  if (m->field[0]) {
    n = 1;
    hits = (size_t)same_value(js->object_get(ex, m->field),
                              js->object_get(pred, m->field));
  } else {
    n = js->object_len(pred);
    for (i = 0; i < n; i++) {
      const char *key;
      const pc_json *v;

      if (js->object_at(pred, i, &key, &v) == 0)
        hits += (size_t)same_value(js->object_get(ex, key), v);
    }
  }
  score = n ? (double)hits / (double)n : 0.0;
  rc = out->score(out->ctx, score);
  if (rc == PC_OK && out->feedback) {
    const char *say = hits == n && n ? "v10_match: every field matches"
                                     : "v10_match: some fields differ";

    rc = out->feedback(out->ctx, say, strlen(say));
  }
out:
  js->free(host->ctx, ex);
  js->free(host->ctx, pred);
  return rc;
}

static const pc_metric_iface metric = {
  .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
  .name = "v10_match",
  .create = m_create,
  .destroy = m_destroy,
  .score = m_score,
};

/* ------------------------------------------------------------------------ */
/* optimizer "v10_first"                                                    */

typedef struct v10_opt {
  int64_t k;
} v10_opt;

static int o_create(void *state, const char *settings, size_t len,
                    void **inst, pc_error *err)
{
  pc_json *cfg = NULL;
  const pc_json *k;
  v10_opt *o;
  size_t i;

  (void)state;
  *inst = NULL;
  if (!settings || !len) {
    settings = "{}";
    len = 2;
  }
  if (js->parse(host->ctx, settings, len, PC_JSON_PARSE_STRICT, &cfg, err))
    return PC_E_INVALID_ARG;
  for (i = 0; i < js->object_len(cfg); i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(cfg, i, &key, &v) == 0 && strcmp(key, "k") != 0) {
      js->free(host->ctx, cfg);
      return fail(err, PC_E_INVALID_ARG, "v10_first: unknown setting");
    }
  }
  o = host->alloc(host->ctx, sizeof(*o));
  if (!o) {
    js->free(host->ctx, cfg);
    return fail(err, PC_E_NOMEM, "v10_first: out of memory");
  }
  k = js->object_get(cfg, "k");
  o->k = k ? js->get_int(k) : 3;
  js->free(host->ctx, cfg);
  if (o->k < 0 || o->k > 16) {
    host->free(host->ctx, o);
    return fail(err, PC_E_INVALID_ARG, "v10_first: k: expected 0 to 16");
  }
  *inst = o;
  return PC_OK;
}

static void o_destroy(void *inst)
{
  host->free(host->ctx, inst);
}

static int o_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  v10_opt *o = inst;
  pc_json *s = js->new_object(host->ctx);
  int rc;

  if (!s || js->object_set(host->ctx, s, "k", js->new_int(host->ctx, o->k)))
    rc = fail(err, PC_E_NOMEM, "v10_first: out of memory");
  else
    rc = write_json(s, out);
  js->free(host->ctx, s);
  return rc;
}

static int o_estimate(void *inst, const char *info, size_t len,
                      const pc_text_sink *out, pc_error *err)
{
  pc_json *in = NULL, *est = NULL;
  int64_t val = 0;
  int rc;

  (void)inst;
  rc = js->parse(host->ctx, info, len, PC_JSON_PARSE_STRICT, &in, err);
  if (rc)
    return rc;
  if (js->object_get(in, "val"))
    val = js->get_int(js->object_get(in, "val"));
  est = js->new_object(host->ctx);
  if (!est ||
      js->object_set(host->ctx, est, "lm_calls",
                     js->new_int(host->ctx, 2 * val)) ||
      js->object_set(host->ctx, est, "metric_calls",
                     js->new_int(host->ctx, 2 * val)))
    rc = fail(err, PC_E_NOMEM, "v10_first: out of memory");
  else
    rc = write_json(est, out);
  js->free(host->ctx, est);
  js->free(host->ctx, in);
  return rc;
}

/* The candidate state: every predictor gets the first k train examples'
 * fields as demos. *out owned by the caller. */
static int first_k_state(const v10_opt *o, const pc_json *program,
                         const pc_json *train, pc_json **out, pc_error *err)
{
  const pc_json *preds = js->object_get(program, "predictors");
  const pc_json *examples = js->object_get(train, "examples");
  pc_json *state = js->new_object(host->ctx);
  size_t i, j, n = js->array_len(examples);

  *out = NULL;
  if (!state)
    return fail(err, PC_E_NOMEM, "v10_first: out of memory");
  for (i = 0; i < js->array_len(preds); i++) {
    const pc_json *p = js->array_get(preds, i);
    const char *path = js->get_string(js->object_get(p, "path"), NULL);
    pc_json *entry = js->new_object(host->ctx);
    pc_json *demos = js->new_array(host->ctx);

    if (!path || !entry || !demos) {
      js->free(host->ctx, entry);
      js->free(host->ctx, demos);
      js->free(host->ctx, state);
      return fail(err, path ? PC_E_NOMEM : PC_E_INVALID_ARG,
                  "v10_first: cannot build the state");
    }
    for (j = 0; j < n && (int64_t)j < o->k; j++) {
      const pc_json *fields = js->object_get(js->array_get(examples, j),
                                             "fields");

      if (fields &&
          js->array_append(host->ctx, demos, js->copy(host->ctx, fields))) {
        js->free(host->ctx, entry);
        js->free(host->ctx, demos);
        js->free(host->ctx, state);
        return fail(err, PC_E_NOMEM, "v10_first: out of memory");
      }
    }
    if (js->object_set(host->ctx, entry, "demos", demos) ||
        js->object_set(host->ctx, state, path, entry)) {
      js->free(host->ctx, state);
      return fail(err, PC_E_NOMEM, "v10_first: out of memory");
    }
  }
  *out = state;
  return PC_OK;
}

/* Evaluate `state_text` (NULL: the starting program) on val and record
 * the trial; *mean gets the mean score. */
static int try_state(const pc_compile_api *api, const char *name,
                     const char *state_text, size_t state_len, double *mean,
                     pc_error *err)
{
  pc_eval_request req;
  pc_json *res = NULL;
  char trial[160];
  int rc;

  memset(&req, 0, sizeof(req));
  req.hdr.struct_size = (uint32_t)sizeof(req);
  req.hdr.abi_major = PC_ABI_MAJOR;
  req.hdr.abi_minor = PC_ABI_MINOR;
  req.state_json = state_text;
  req.state_len = state_len;
  req.split = PC_SPLIT_VAL;
  rc = api->evaluate(api->ctx, &req, &res, err);
  if (rc)
    return rc;
  *mean = js->get_double(js->object_get(res, "mean"));
  js->free(host->ctx, res);
  snprintf(trial, sizeof(trial), "{\"candidate\": \"%s\", \"split\": "
           "\"val\", \"score\": %.4f}", name, *mean);
  return api->record_trial(api->ctx, trial, strlen(trial), err);
}

static int o_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  static const char progress[] = "{\"trial\": 2, \"of\": 2}";
  static const char picked_first[] = "{\"picked\": \"first-k\"}";
  static const char picked_base[] = "{\"picked\": \"baseline\"}";
  v10_opt *o = inst;
  pc_json *program = NULL, *train = NULL, *state = NULL;
  char *text = NULL;
  size_t len = 0;
  double base = 0.0, cand = 0.0;
  int rc;

  rc = api->program(api->ctx, &program, err);
  if (rc == PC_OK)
    rc = api->dataset(api->ctx, PC_SPLIT_TRAIN, &train, err);
  if (rc == PC_OK)
    rc = first_k_state(o, program, train, &state, err);
  if (rc == PC_OK &&
      js->to_text(host->ctx, state, PC_JSON_TEXT_COMPACT, &text, &len))
    rc = fail(err, PC_E_NOMEM, "v10_first: out of memory");
  if (rc == PC_OK)
    rc = try_state(api, "baseline", NULL, 0, &base, err);
  if (rc == PC_OK)
    rc = try_state(api, "first-k", text, len, &cand, err);
  if (rc == PC_OK && api->progress)
    api->progress(api->ctx, progress, strlen(progress));
  if (rc == PC_OK && cand >= base)
    rc = api->set_result(api->ctx, text, len, picked_first,
                         strlen(picked_first), err);
  else if (rc == PC_OK)
    rc = api->set_result(api->ctx, "{}", 2, picked_base, strlen(picked_base),
                         err);
  host->free(host->ctx, text);
  js->free(host->ctx, state);
  js->free(host->ctx, train);
  js->free(host->ctx, program);
  return rc;
}

static const pc_optimizer_iface optimizer = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "v10_first",
  .create = o_create,
  .destroy = o_destroy,
  .estimate = o_estimate,
  .compile = o_compile,
  .settings = o_settings,
};

/* ------------------------------------------------------------------------ */
/* Descriptor and entry.                                                    */

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_METRIC) == 0) {
    *size = metric.hdr.struct_size;
    return &metric;
  }
  if (strcmp(id, PC_IFACE_OPTIMIZER) == 0) {
    *size = optimizer.hdr.struct_size;
    return &optimizer;
  }
  return NULL;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.v10",
  .name = "fx-v10",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "fixture: a metric and an optimizer built against ABI 1.0",
  .kinds = PC_KIND_METRIC | PC_KIND_OPTIMIZER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = v10_init,
  .get_interface = get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *h);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *h)
{
  if (!h || h->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
