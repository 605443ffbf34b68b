/*
 * opt_knn.c - the `knn` optimizer plugin: DSPy's KNNFewShot (reference
 * dspy-optimizers.md section 4) with the bootstrapping moved to compile
 * time. The teacher runs once on every train example; each predictor's
 * state gets a pool of demos (the augmented demo where the teacher
 * succeeded, else the labeled example) and the retrieval settings, and
 * the host retrieves the k nearest demos per call (docs/optimizers.md,
 * "knn").
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "../opt-common/fewshot.h"

#define WHO "knn"

/* The settings, in the order settings() writes them. */
enum {
  S_K, S_VECTORIZER, S_MAX_BOOT, S_MAX_LABELED, S_THRESHOLD, S_USE_METRIC,
  S_MAX_ERRORS, S_COUNT
};

static const char *const setting_names[S_COUNT] = {
  "k", "vectorizer", "max_bootstrapped_demos", "max_labeled_demos",
  "metric_threshold", "use_metric", "max_errors",
};

/* One configured optimizer: its settings, read-only after create. */
typedef struct knn_opt {
  const pc__opt_host *h;       /* borrowed: the plugin state */
  int64_t k;                   /* >= 1, required */
  const char *vectorizer;      /* static: "tfidf" or "bm25" */
  int64_t max_boot;            /* caps at inference, >= 0 */
  int64_t max_labeled;
  int has_threshold;           /* metric_threshold is a number */
  double threshold;            /* in (0, 1] */
  int use_metric;
  int64_t max_errors;          /* >= 1 */
} knn_opt;

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

/* An integer setting >= min into *out. */
static int set_int(const pc__opt_host *h, const char *key, const pc_json *v,
                   int64_t min, int64_t *out, pc_error *err)
{
  if (h->js->type(v) != PC_JSON_INT || h->js->get_int(v) < min)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected an "
                         "integer >= %lld", key, (long long)min);
  *out = h->js->get_int(v);
  return PC_OK;
}

/* One member of the settings object. */
static int read_setting(knn_opt *o, const char *key, const pc_json *v,
                        pc_error *err)
{
  const pc__opt_host *h = o->h;
  int32_t t = h->js->type(v);
  const char *s;
  size_t i;

  for (i = 0; i < S_COUNT; i++)
    if (!strcmp(key, setting_names[i]))
      break;
  switch (i) {
  case S_K:
    return set_int(h, key, v, 1, &o->k, err);
  case S_VECTORIZER:
    s = t == PC_JSON_STRING ? h->js->get_string(v, NULL) : NULL;
    if (s && !strcmp(s, "tfidf"))
      o->vectorizer = "tfidf";
    else if (s && !strcmp(s, "bm25"))
      o->vectorizer = "bm25";
    else
      return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": vectorizer: "
                           "expected \"tfidf\" or \"bm25\"");
    return PC_OK;
  case S_MAX_BOOT:
    return set_int(h, key, v, 0, &o->max_boot, err);
  case S_MAX_LABELED:
    return set_int(h, key, v, 0, &o->max_labeled, err);
  case S_THRESHOLD:
    if (t == PC_JSON_NULL) {
      o->has_threshold = 0;
      return PC_OK;
    }
    if ((t == PC_JSON_INT || t == PC_JSON_DOUBLE) &&
        h->js->get_double(v) > 0.0 && h->js->get_double(v) <= 1.0) {
      o->has_threshold = 1;
      o->threshold = h->js->get_double(v);
      return PC_OK;
    }
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": metric_threshold: "
                         "expected null or a number in (0, 1]");
  case S_USE_METRIC:
    if (t != PC_JSON_BOOL)
      return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": use_metric: "
                           "expected true or false");
    o->use_metric = h->js->get_bool(v) ? 1 : 0;
    return PC_OK;
  case S_MAX_ERRORS:
    return set_int(h, key, v, 1, &o->max_errors, err);
  default:
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: unknown setting "
                         "(known: k, vectorizer, max_bootstrapped_demos, "
                         "max_labeled_demos, metric_threshold, use_metric, "
                         "max_errors)", key);
  }
}

static int read_settings(knn_opt *o, const char *json, size_t len,
                         pc_error *err)
{
  const pc__opt_host *h = o->h;
  pc_json *obj = NULL;
  size_t i, n;
  int rc = PC_OK;

  if (json && len &&
      h->js->parse(h->host->ctx, json, len, PC_JSON_PARSE_STRICT, &obj,
                   NULL) != PC_OK) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: not valid "
                       "JSON");
    goto out;
  }
  if (obj && h->js->type(obj) != PC_JSON_OBJECT &&
      h->js->type(obj) != PC_JSON_NULL) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: expected a "
                       "JSON object");
    goto out;
  }
  n = obj && h->js->type(obj) == PC_JSON_OBJECT ? h->js->object_len(obj) : 0;
  for (i = 0; !rc && i < n; i++) {
    const char *key;
    const pc_json *v;

    if (h->js->object_at(obj, i, &key, &v) != 0)
      break;
    rc = read_setting(o, key, v, err);
  }
  if (rc)
    goto out;
  if (o->k == 0)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": k: required (an "
                       "integer >= 1, the number of neighbours retrieved "
                       "per call)");
  else if (!o->use_metric && o->has_threshold)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": metric_threshold: "
                       "set while use_metric is false");
out:
  h->js->free(h->host->ctx, obj);
  return rc;
}

static int knn_create(void *plugin_state, const char *settings_json,
                      size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  knn_opt *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  o->vectorizer = "tfidf";
  o->max_boot = 4;
  o->max_labeled = 16;
  o->use_metric = 1;
  o->max_errors = 10;
  rc = read_settings(o, settings_json, len, err);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static void knn_destroy(void *inst)
{
  knn_opt *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int knn_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  knn_opt *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  int rc = obj ? PC_OK : PC_E_NOMEM;

  if (!rc)
    rc = pc__opt_json_set(h, obj, "k", h->js->new_int(ctx, o->k), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "vectorizer",
                          h->js->new_string(ctx, o->vectorizer,
                                            strlen(o->vectorizer)), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_bootstrapped_demos",
                          h->js->new_int(ctx, o->max_boot), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_labeled_demos",
                          h->js->new_int(ctx, o->max_labeled), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "metric_threshold", o->has_threshold
                          ? h->js->new_double(ctx, o->threshold)
                          : h->js->new_null(ctx), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "use_metric",
                          h->js->new_bool(ctx, o->use_metric), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_errors",
                          h->js->new_int(ctx, o->max_errors), err);
  if (!rc)
    rc = pc__opt_json_write(h, obj, out, err);
  else
    rc = pc__opt_error(err, rc, WHO ": settings: out of memory");
  h->js->free(ctx, obj);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Estimate: one teacher run and (with a metric) one metric call per train
 * example, nothing else.                                                   */

static int knn_estimate(void *inst, const char *info_json, size_t len,
                        const pc_text_sink *out, pc_error *err)
{
  knn_opt *o = inst;
  const pc__opt_host *h = o->h;
  pc_json *info = NULL;
  int64_t train, runs_cost;
  int rc;

  rc = pc__opt_json_parse(h, WHO ": estimate", info_json, len, &info, err);
  if (rc)
    return rc;
  train = pc__opt_info_int(h, info, "train");
  runs_cost = pc__opt_info_int(h, info, "calls_per_run");
  if (runs_cost < 1)
    runs_cost = 1;
  rc = pc__opt_write_estimate(h, train * runs_cost,
                              o->use_metric ? train : 0, 0, out, err);
  h->js->free(h->host->ctx, info);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Compile.                                                                 */

/* What one compile works with. */
typedef struct run {
  const knn_opt *o;
  pc__opt_fewshot fx;          /* program and train split */
  pc_json *res;                /* owned: the evaluate answer, or NULL */
  const pc_json *rows;         /* borrowed from res: its results */
  int64_t n_aug;               /* examples the teacher succeeded on */
  int64_t n_errors;
} run;

/* The PC_E_* code for a result row's error kind. */
static int kind_code(const char *kind)
{
  if (kind && !strcmp(kind, "parse"))
    return PC_E_PARSE;
  if (kind && !strcmp(kind, "lm"))
    return PC_E_PROVIDER;
  return PC_E_INVALID_ARG;  /* "metric", "program": bad data or program */
}

/* Whether row i is a success: it ran, and (with a metric) its score is
 * DSPy's success, `score >= metric_threshold` when that is set, else the
 * truthiness of the score. */
static int row_success(const run *r, size_t i)
{
  const pc__opt_host *h = r->o->h;
  const pc_json *row, *e, *s;
  double score;

  if (!r->rows)
    return 0;
  row = h->js->array_get(r->rows, i);
  e = h->js->object_get(row, "error");
  if (e && h->js->type(e) != PC_JSON_NULL)
    return 0;
  if (!r->o->use_metric)
    return 1;
  s = h->js->object_get(row, "score");
  score = s ? h->js->get_double(s) : 0.0;
  return r->o->has_threshold ? score >= r->o->threshold : score > 0.0;
}

/* The names of predictor q's signature inputs, as a new array. */
static int input_keys(const run *r, size_t q, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  const pc_json *pred = h->js->array_get(
    h->js->object_get(r->fx.program, "predictors"), q);
  const pc_json *inputs = h->js->object_get(
    h->js->object_get(pred, "signature"), "inputs");
  size_t n = inputs ? h->js->array_len(inputs) : 0, i;
  pc_json *arr = h->js->new_array(ctx);
  int rc = arr ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                        "memory");

  *out = NULL;
  if (!rc && !n)
    rc = pc__opt_error(err, PC_E_INTERNAL, WHO ": predictor %s: the host's "
                       "signature has no inputs", r->fx.paths[q]);
  for (i = 0; !rc && i < n; i++) {
    const char *name = pc__opt_json_str(h, h->js->array_get(inputs, i),
                                        "name");

    if (!name)
      rc = pc__opt_error(err, PC_E_INTERNAL, WHO ": predictor %s: input "
                         "%zu has no name", r->fx.paths[q], i);
    else
      rc = pc__opt_json_push(h, arr, h->js->new_string(ctx, name,
                                                       strlen(name)), err);
  }
  if (rc)
    h->js->free(ctx, arr);
  else
    *out = arr;
  return rc;
}

/* The pool of predictor q: per train example, its augmented demo when the
 * teacher succeeded (nothing when this predictor did not run then), else
 * its labeled fields. Without results (the budget stopped the teacher)
 * every entry is labeled. */
static int make_pool(run *r, size_t q, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  pc_json *pool = h->js->new_array(ctx);
  size_t i;
  int rc = pool ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                         "memory");

  *out = NULL;
  for (i = 0; !rc && i < r->fx.n_train; i++) {
    pc_json *d = NULL;

    if (row_success(r, i)) {
      rc = pc__opt_trace_demo(h, r->fx.seed, "knn-trace",
                              h->js->object_get(h->js->array_get(r->rows, i),
                                                "trace"),
                              r->fx.paths[q], (int64_t)i, &d, err);
      if (!rc && d)
        rc = pc__opt_json_push(h, pool, d, err);
    } else {
      const pc_json *fields = h->js->object_get(
        h->js->array_get(r->fx.examples, i), "fields");

      rc = pc__opt_json_push(h, pool, h->js->copy(ctx, fields), err);
    }
  }
  if (rc)
    h->js->free(ctx, pool);
  else
    *out = pool;
  return rc;
}

/* {"<path>": {"knn": {...}}} for every predictor. */
static int make_state(run *r, pc_json **out, pc_error *err)
{
  const knn_opt *o = r->o;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *state = h->js->new_object(ctx);
  size_t q;
  int rc = state ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                          "memory");

  *out = NULL;
  for (q = 0; !rc && q < r->fx.n_pred; q++) {
    pc_json *knn = h->js->new_object(ctx), *pred = h->js->new_object(ctx);
    pc_json *keys = NULL, *pool = NULL;

    if (!knn || !pred) {
      h->js->free(ctx, knn);
      h->js->free(ctx, pred);
      rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
      break;
    }
    rc = pc__opt_json_set(h, pred, "knn", knn, err);
    if (!rc)
      rc = pc__opt_json_set(h, state, r->fx.paths[q], pred, err);
    else
      h->js->free(ctx, pred);
    if (!rc)
      rc = pc__opt_json_set(h, knn, "k", h->js->new_int(ctx, o->k), err);
    if (!rc)
      rc = pc__opt_json_set(h, knn, "vectorizer",
                            h->js->new_string(ctx, o->vectorizer,
                                              strlen(o->vectorizer)), err);
    if (!rc && !(rc = input_keys(r, q, &keys, err)))
      rc = pc__opt_json_set(h, knn, "input_keys", keys, err);
    if (!rc)
      rc = pc__opt_json_set(h, knn, "max_bootstrapped_demos",
                            h->js->new_int(ctx, o->max_boot), err);
    if (!rc)
      rc = pc__opt_json_set(h, knn, "max_labeled_demos",
                            h->js->new_int(ctx, o->max_labeled), err);
    if (!rc && !(rc = make_pool(r, q, &pool, err)))
      rc = pc__opt_json_set(h, knn, "pool", pool, err);
  }
  if (rc)
    h->js->free(ctx, state);
  else
    *out = state;
  return rc;
}

/* Run the teacher on every train example (one request) and check the
 * answer. Budget and cancellation come back as they are. */
static int run_teacher(run *r, pc_error *err)
{
  const knn_opt *o = r->o;
  const pc__opt_host *h = o->h;
  const pc_compile_api *api = r->fx.api;
  const pc_json *first_error = NULL;
  pc_eval_request req;
  size_t i, m;
  int rc;

  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_eval_request);
  req.split = PC_SPLIT_TRAIN;
  req.flags = PC_EVAL_TEACHER | PC_EVAL_TRACES |
              (o->use_metric ? 0u : PC_EVAL_NO_METRIC);
  rc = api->evaluate(api->ctx, &req, &r->res, err);
  if (rc)
    return rc;
  r->rows = h->js->object_get(r->res, "results");
  m = r->rows && h->js->type(r->rows) == PC_JSON_ARRAY
        ? h->js->array_len(r->rows) : 0;
  if (m != r->fx.n_train) {
    r->rows = NULL;
    return pc__opt_error(err, PC_E_INTERNAL, WHO ": the host's evaluate "
                         "answer has %zu results for %zu train examples", m,
                         r->fx.n_train);
  }
  for (i = 0; i < m; i++) {
    const pc_json *row = h->js->array_get(r->rows, i);
    const pc_json *index = h->js->object_get(row, "index");
    const pc_json *e = h->js->object_get(row, "error");

    if (!index || h->js->get_int(index) != (int64_t)i) {
      r->rows = NULL;
      return pc__opt_error(err, PC_E_INTERNAL, WHO ": the host's evaluate "
                           "result %zu is not train example %zu", i, i);
    }
    if (e && h->js->type(e) != PC_JSON_NULL) {
      if (!first_error)
        first_error = row;
      r->n_errors++;
    } else if (row_success(r, i)) {
      r->n_aug++;
    }
  }
  if (r->n_errors >= o->max_errors) {
    const char *id = pc__opt_json_str(h, first_error, "id");
    const char *msg = pc__opt_json_str(h, first_error, "error");

    return pc__opt_error(err, kind_code(pc__opt_json_str(h, first_error,
                                                         "error_kind")),
                         WHO ": %lld of %zu teacher runs failed (max_errors "
                         "%lld); the first, train example %s: %s",
                         (long long)r->n_errors, m, (long long)o->max_errors,
                         id ? id : "?", msg ? msg : "?");
  }
  return PC_OK;
}

/* The run's numbers, for the trial and the report. */
static pc_json *summary(const run *r, int partial)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  pc_json *o = h->js->new_object(ctx);
  const pc_json *pct = r->res ? h->js->object_get(r->res, "percent") : NULL;
  int64_t n = (int64_t)r->fx.n_train;

  if (!o ||
      pc__opt_json_set(h, o, "pool", h->js->new_int(ctx, n), NULL) ||
      pc__opt_json_set(h, o, "augmented", h->js->new_int(ctx, r->n_aug),
                       NULL) ||
      pc__opt_json_set(h, o, "labeled", h->js->new_int(ctx, n - r->n_aug),
                       NULL) ||
      pc__opt_json_set(h, o, "errors", h->js->new_int(ctx, r->n_errors),
                       NULL) ||
      pc__opt_json_set(h, o, "teacher_score", pct ? h->js->copy(ctx, pct)
                       : h->js->new_null(ctx), NULL) ||
      (partial && pc__opt_json_set(h, o, "partial", h->js->new_bool(ctx, 1),
                                   NULL))) {
    h->js->free(ctx, o);
    return NULL;
  }
  return o;
}

/* Record the one trial: the teacher's pass over train. */
static int record(const run *r, const pc_json *state, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  const pc_json *pct = h->js->object_get(r->res, "percent");
  pc_json *t = summary(r, 0);
  int rc = t ? PC_OK : PC_E_NOMEM;

  if (!rc)
    rc = pc__opt_json_set(h, t, "candidate", h->js->new_int(ctx, 0), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "label",
                          h->js->new_string(ctx, "knn pool", 8), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "split", h->js->new_string(ctx, "train", 5),
                          err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "score", pct ? h->js->copy(ctx, pct)
                          : h->js->new_null(ctx), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "n", h->js->new_int(ctx,
                          (int64_t)r->fx.n_train), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(ctx, state), err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->fx.api, t, err);
  else
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  h->js->free(ctx, t);
  return rc;
}

static int knn_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  knn_opt *o = inst;
  const pc__opt_host *h = o->h;
  pc_json *state = NULL, *report = NULL;
  run r;
  int rc;

  memset(&r, 0, sizeof(r));
  r.o = o;
  rc = pc__opt_fewshot_open(&r.fx, h, api, WHO, err);
  if (rc)
    return rc;
  rc = run_teacher(&r, err);
  if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Nothing was bootstrapped: the pools of labeled examples cost
     * nothing and are the best state there is. `err` keeps the host's
     * message. */
    pc_error e2 = PC_ERROR_INIT;

    r.rows = NULL;
    r.n_aug = 0;
    if (!make_state(&r, &state, &e2)) {
      report = summary(&r, 1);
      pc__opt_set_result(h, api, state, report, &e2);
    }
    goto out;
  }
  if (rc)
    goto out;
  rc = make_state(&r, &state, err);
  if (!rc)
    rc = record(&r, state, err);
  if (!rc && !(report = summary(&r, 0)))
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (!rc) {
    const pc_json *pct = h->js->object_get(r.res, "percent");

    pc__opt_progress(h, api, 1, 1, pct ? h->js->get_double(pct) : -1.0);
    rc = pc__opt_set_result(h, api, state, report, err);
  }
out:
  h->js->free(h->host->ctx, state);
  h->js->free(h->host->ctx, report);
  h->js->free(h->host->ctx, r.res);
  pc__opt_fewshot_close(&r.fx);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_optimizer_iface knn_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "knn",
  .create = knn_create,
  .destroy = knn_destroy,
  .estimate = knn_estimate,
  .compile = knn_compile,
  .settings = knn_settings,
};

static int knn_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-knn", state, err);
}

static const void *knn_get_interface(void *state, const char *iface_id,
                                     uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(knn_iface);
  return &knn_iface;
}

static const pc_plugin_info knn_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.knn",
  .name = "knn",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "KNNFewShot: a bootstrapped demo pool, the k nearest per call",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = knn_init,
  .fini = pc__opt_fini,
  .get_interface = knn_get_interface,
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
  return &knn_info;
}
