/*
 * optimizer.c - the `demo_search` optimizer: a small random search over
 * sets of k labeled train examples given to every predictor as demos,
 * keeping the set that scores best on the val split.
 *
 * This file is a template: copy it, rename the ids and make it yours. It
 * includes only <promptc/plugin.h> and the C library, links nothing from
 * promptc, and exports one symbol, pc_plugin_entry_v1.
 *
 * The algorithm, in the order of its requests to the host:
 *   1. read the program (its predictors) and the train and val splits;
 *   2. evaluate the starting program on val: candidate 0, the baseline;
 *   3. for candidates 1..N, draw k distinct train examples with the host's
 *      keyed random numbers (seed, "demo_search.pick", candidate, draw),
 *      give them to every predictor as demos, and evaluate on val with the
 *      metric's feedback; record each as a trial;
 *   4. set the result: the best candidate (the baseline unless a set of
 *      demos scored strictly higher), with a report holding the metric's
 *      feedback on the best candidate's weakest examples.
 * It never calls an LM or a metric itself: evaluate() does, through the
 * host's cache, scheduler and budget. A cap or a cancellation keeps the
 * best candidate found so far.
 *
 * Settings (the config's "optimizer.settings" and --set):
 *   "k"           demos per candidate, 1..16 (default 3)
 *   "candidates"  demo sets to try, 1..64 (default 6)
 *   "val_limit"   score on the first N val examples only; 0 = all (default)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <promptc/plugin.h>

#define WHO "demo_search"
/* Feedback lines kept in the report. */
#define REPORT_FEEDBACK 3

/* Per-plugin state: the host tables, valid from init to fini. */
typedef struct ds_plugin {
  const pc_host_api *host;
  const pc_json_api *js;
} ds_plugin;

/* One configured optimizer. */
typedef struct ds_opt {
  const ds_plugin *pl;  /* borrowed: the plugin state */
  int64_t k;
  int64_t candidates;
  int64_t val_limit;
} ds_opt;

/* One search in progress; every pc_json is owned by it. */
typedef struct ds_search {
  const ds_opt *o;
  const pc_compile_api *api;
  pc_json *program;        /* api->program() */
  pc_json *train;          /* api->dataset("train") */
  size_t n_train;
  int64_t *val_idx;        /* the val indices scored, or NULL: all */
  size_t n_val;
  int64_t *perm;           /* n_train scratch indices for the draws */
  pc_json *best_state;     /* the best candidate's state */
  pc_json *best_demos;     /* its train indices (array) */
  pc_json *best_feedback;  /* its weakest examples' feedback (array) */
  double best_mean;
  double best_percent;
  double base_percent;
  int64_t best_cand;
} ds_search;

/* Settings: name, smallest and largest value, default. */
static const struct {
  const char *name;
  int64_t min, max, def;
} ds_specs[] = {
  {"k", 1, 16, 3},
  {"candidates", 1, 64, 6},
  {"val_limit", 0, INT64_MAX, 0},
};
#define N_SPECS (sizeof(ds_specs) / sizeof(ds_specs[0]))

/* Fill `err` (which may be NULL) with `code` and a formatted one-line
 * message, unless it holds an error already; returns `code`. */
static int ds_error(pc_error *err, int code, const char *fmt, ...)
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

static int ds_nomem(pc_error *err)
{
  return ds_error(err, PC_E_NOMEM, WHO ": out of memory");
}

/* obj[key] = v, taking over v; PC_E_NOMEM when v is NULL or the set
 * fails. */
static int ds_set(const ds_plugin *pl, pc_json *obj, const char *key,
                  pc_json *v, pc_error *err)
{
  if (!v || pl->js->object_set(pl->host->ctx, obj, key, v))
    return ds_nomem(err);
  return PC_OK;
}

/* arr += v, taking over v; PC_E_NOMEM when v is NULL or the append
 * fails. */
static int ds_append(const ds_plugin *pl, pc_json *arr, pc_json *v,
                     pc_error *err)
{
  if (!v || pl->js->array_append(pl->host->ctx, arr, v))
    return ds_nomem(err);
  return PC_OK;
}

/* ---- settings ----------------------------------------------------------- */

static int ds_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const ds_plugin *pl = plugin_state;
  void *hc = pl->host->ctx;
  int64_t vals[N_SPECS];
  int seen[N_SPECS] = {0};
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  ds_opt *o;
  size_t i, j;
  int rc = PC_OK;

  *inst = NULL;
  for (j = 0; j < N_SPECS; j++)
    vals[j] = ds_specs[j].def;
  if (settings_json && len > 0 &&
      pl->js->parse(hc, settings_json, len, PC_JSON_PARSE_STRICT, &cfg,
                    &perr)) {
    rc = ds_error(err, PC_E_INVALID_ARG, WHO ": settings: %s", perr.message);
    goto out;
  }
  if (cfg && pl->js->type(cfg) != PC_JSON_NULL &&
      pl->js->type(cfg) != PC_JSON_OBJECT) {
    rc = ds_error(err, PC_E_INVALID_ARG,
                  WHO ": settings: expected a JSON object");
    goto out;
  }
  for (i = 0; cfg && pl->js->type(cfg) == PC_JSON_OBJECT &&
              i < pl->js->object_len(cfg); i++) {
    const char *key;
    const pc_json *v;

    pl->js->object_at(cfg, i, &key, &v);
    for (j = 0; j < N_SPECS && strcmp(key, ds_specs[j].name); j++)
      ;
    if (j == N_SPECS || seen[j]) {
      rc = ds_error(err, PC_E_INVALID_ARG, WHO ": %s setting '%s'",
                    j == N_SPECS ? "unknown" : "repeated", key);
      goto out;
    }
    seen[j] = 1;
    vals[j] = pl->js->get_int(v);
    if (pl->js->type(v) != PC_JSON_INT || vals[j] < ds_specs[j].min ||
        vals[j] > ds_specs[j].max) {
      if (ds_specs[j].max == INT64_MAX)
        rc = ds_error(err, PC_E_INVALID_ARG,
                      WHO ": %s: expected an integer >= %lld", key,
                      (long long)ds_specs[j].min);
      else
        rc = ds_error(err, PC_E_INVALID_ARG,
                      WHO ": %s: expected an integer from %lld to %lld", key,
                      (long long)ds_specs[j].min, (long long)ds_specs[j].max);
      goto out;
    }
  }
  o = pl->host->alloc(hc, sizeof(*o));
  if (!o) {
    rc = ds_nomem(err);
    goto out;
  }
  o->pl = pl;
  o->k = vals[0];
  o->candidates = vals[1];
  o->val_limit = vals[2];
  *inst = o;
out:
  pl->js->free(hc, cfg);
  return rc;
}

static void ds_destroy(void *inst)
{
  ds_opt *o = inst;

  if (o)
    o->pl->host->free(o->pl->host->ctx, o);
}

/* Write `text` to `out`; PC_E_INTERNAL when the host refuses it. */
static int ds_write(const pc_text_sink *out, const char *text, int n,
                    pc_error *err)
{
  if (n < 0 || out->write(out->ctx, text, (size_t)n))
    return ds_error(err, PC_E_INTERNAL, WHO ": the host refused the text");
  return PC_OK;
}

static int ds_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  const ds_opt *o = inst;
  char buf[160];
  int n;

  n = snprintf(buf, sizeof(buf),
               "{\"k\": %lld, \"candidates\": %lld, \"val_limit\": %lld}",
               (long long)o->k, (long long)o->candidates,
               (long long)o->val_limit);
  return ds_write(out, buf, n, err);
}

static int ds_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  const ds_opt *o = inst;
  const ds_plugin *pl = o->pl;
  pc_json *info = NULL;
  pc_error perr = PC_ERROR_INIT;
  const pc_json *v;
  int64_t val = 0, per_run = 1, runs;
  char buf[160];
  int n, rc;

  if (pl->js->parse(pl->host->ctx, info_json, len, PC_JSON_PARSE_STRICT,
                    &info, &perr))
    return ds_error(err, PC_E_INVALID_ARG, WHO ": estimate: %s",
                    perr.message);
  if ((v = pl->js->object_get(info, "val")) != NULL)
    val = pl->js->get_int(v);
  if ((v = pl->js->object_get(info, "calls_per_run")) != NULL)
    per_run = pl->js->get_int(v);
  pl->js->free(pl->host->ctx, info);
  if (o->val_limit > 0 && o->val_limit < val)
    val = o->val_limit;
  /* The baseline and every candidate each run the val examples once. */
  runs = (o->candidates + 1) * val;
  n = snprintf(buf, sizeof(buf),
               "{\"lm_calls\": %lld, \"metric_calls\": %lld, "
               "\"proposal_calls\": 0}",
               (long long)(runs * per_run), (long long)runs);
  rc = ds_write(out, buf, n, err);
  return rc;
}

/* ---- the search --------------------------------------------------------- */

static void ds_search_free(ds_search *s)
{
  const ds_plugin *pl = s->o->pl;
  void *hc = pl->host->ctx;

  pl->js->free(hc, s->program);
  pl->js->free(hc, s->train);
  pl->js->free(hc, s->best_state);
  pl->js->free(hc, s->best_demos);
  pl->js->free(hc, s->best_feedback);
  pl->host->free(hc, s->val_idx);
  pl->host->free(hc, s->perm);
}

/* The examples array of a split answer, or NULL. */
static const pc_json *ds_examples(const ds_plugin *pl, const pc_json *split)
{
  const pc_json *ex = pl->js->object_get(split, "examples");

  return ex && pl->js->type(ex) == PC_JSON_ARRAY ? ex : NULL;
}

/* Read the program and the splits into `s`. */
static int ds_load(ds_search *s, pc_error *err)
{
  const ds_plugin *pl = s->o->pl;
  void *hc = pl->host->ctx;
  const pc_compile_api *api = s->api;
  pc_json *val = NULL;
  size_t i, n_val;
  int rc;

  rc = api->program(api->ctx, &s->program, err);
  if (!rc)
    rc = api->dataset(api->ctx, PC_SPLIT_TRAIN, &s->train, err);
  if (!rc)
    rc = api->dataset(api->ctx, PC_SPLIT_VAL, &val, err);
  if (rc)
    goto out;
  if (!ds_examples(pl, s->train) || !ds_examples(pl, val)) {
    rc = ds_error(err, PC_E_INTERNAL, WHO ": a split without examples");
    goto out;
  }
  s->n_train = pl->js->array_len(ds_examples(pl, s->train));
  n_val = pl->js->array_len(ds_examples(pl, val));
  if (s->n_train == 0 || n_val == 0) {
    rc = ds_error(err, PC_E_INVALID_ARG, WHO ": the %s split is empty",
                  s->n_train == 0 ? "train" : "val");
    goto out;
  }
  s->n_val = n_val;
  if (s->o->val_limit > 0 && (uint64_t)s->o->val_limit < n_val) {
    s->n_val = (size_t)s->o->val_limit;
    s->val_idx = pl->host->alloc(hc, s->n_val * sizeof(*s->val_idx));
    if (!s->val_idx) {
      rc = ds_nomem(err);
      goto out;
    }
    for (i = 0; i < s->n_val; i++)
      s->val_idx[i] = (int64_t)i;
  }
  s->perm = pl->host->alloc(hc, s->n_train * sizeof(*s->perm));
  if (!s->perm)
    rc = ds_nomem(err);
out:
  pl->js->free(hc, val);
  return rc;
}

/* Draw candidate `cand`'s k distinct train indices into s->perm[0..k-1]:
 * a partial Fisher-Yates shuffle on the host's keyed random numbers, so the
 * same seed always gives the same sets, on any machine and thread count. */
static size_t ds_pick(ds_search *s, uint64_t seed, int64_t cand)
{
  const pc_host_api *host = s->o->pl->host;
  size_t i, k = (size_t)s->o->k < s->n_train ? (size_t)s->o->k : s->n_train;

  for (i = 0; i < s->n_train; i++)
    s->perm[i] = (int64_t)i;
  for (i = 0; i < k; i++) {
    uint64_t r = host->rng_u64(host->ctx, seed, WHO ".pick",
                               (uint64_t)cand, (uint64_t)i);
    size_t j = i + (size_t)(r % (uint64_t)(s->n_train - i));
    int64_t t = s->perm[i];

    s->perm[i] = s->perm[j];
    s->perm[j] = t;
  }
  return k;
}

/* Append to `names` (an array) the "name" of every field of `fields`. */
static int ds_names(const ds_plugin *pl, const pc_json *fields,
                    pc_json *names, pc_error *err)
{
  size_t i;
  int rc = PC_OK;

  for (i = 0; fields && !rc && i < pl->js->array_len(fields); i++) {
    const pc_json *name = pl->js->object_get(pl->js->array_get(fields, i),
                                             "name");
    if (name)
      rc = ds_append(pl, names, pl->js->copy(pl->host->ctx, name), err);
  }
  return rc;
}

/* One demo for `sig` (a signature) from train example `ex`: its fields
 * that the signature names. *out is owned by the caller. */
static int ds_demo(const ds_plugin *pl, const pc_json *sig, const pc_json *ex,
                   pc_json **out, pc_error *err)
{
  void *hc = pl->host->ctx;
  const pc_json *fields = pl->js->object_get(ex, "fields");
  pc_json *names = pl->js->new_array(hc), *demo = pl->js->new_object(hc);
  size_t i;
  int rc = PC_OK;

  *out = NULL;
  if (!names || !demo) {
    rc = ds_nomem(err);
    goto out;
  }
  rc = ds_names(pl, pl->js->object_get(sig, "inputs"), names, err);
  if (!rc)
    rc = ds_names(pl, pl->js->object_get(sig, "outputs"), names, err);
  for (i = 0; !rc && i < pl->js->array_len(names); i++) {
    const char *name = pl->js->get_string(pl->js->array_get(names, i), NULL);
    const pc_json *v = name ? pl->js->object_get(fields, name) : NULL;

    if (v && pl->js->type(v) != PC_JSON_NULL)
      rc = ds_set(pl, demo, name, pl->js->copy(hc, v), err);
  }
  if (!rc) {
    *out = demo;
    demo = NULL;
  }
out:
  pl->js->free(hc, names);
  pl->js->free(hc, demo);
  return rc;
}

/* The state giving every predictor the train examples s->perm[0..k-1] as
 * demos: {"<path>": {"demos": [...]}, ...}. *out owned by the caller. */
static int ds_state(ds_search *s, size_t k, pc_json **out, pc_error *err)
{
  const ds_plugin *pl = s->o->pl;
  void *hc = pl->host->ctx;
  const pc_json *preds = pl->js->object_get(s->program, "predictors");
  const pc_json *ex = ds_examples(pl, s->train);
  pc_json *state = pl->js->new_object(hc);
  size_t p, i;
  int rc = state ? PC_OK : ds_nomem(err);

  for (p = 0; !rc && preds && p < pl->js->array_len(preds); p++) {
    const pc_json *pred = pl->js->array_get(preds, p);
    const char *path = pl->js->get_string(pl->js->object_get(pred, "path"),
                                          NULL);
    const pc_json *sig = pl->js->object_get(pred, "signature");
    pc_json *entry = pl->js->new_object(hc), *demos = pl->js->new_array(hc);

    if (!path) {
      rc = ds_error(err, PC_E_INTERNAL, WHO ": a predictor without a path");
    } else if (!entry || !demos) {
      rc = ds_nomem(err);
    } else {
      for (i = 0; !rc && i < k; i++) {
        pc_json *demo;

        rc = ds_demo(pl, sig, pl->js->array_get(ex, (size_t)s->perm[i]),
                     &demo, err);
        if (!rc && pl->js->object_len(demo) > 0)
          rc = ds_append(pl, demos, demo, err);
        else
          pl->js->free(hc, demo);
      }
    }
    if (!rc) {
      rc = ds_set(pl, entry, "demos", demos, err);
      demos = NULL;
    }
    if (!rc) {
      rc = ds_set(pl, state, path, entry, err);
      entry = NULL;
    }
    pl->js->free(hc, demos);
    pl->js->free(hc, entry);
  }
  if (rc) {
    pl->js->free(hc, state);
    state = NULL;
  }
  *out = state;
  return rc;
}

/* Serialise `v`; *text is host-allocated, owned by the caller. */
static int ds_text(const ds_plugin *pl, const pc_json *v, char **text,
                   size_t *len, pc_error *err)
{
  if (pl->js->to_text(pl->host->ctx, v, PC_JSON_TEXT_COMPACT, text, len)) {
    *text = NULL;
    return ds_nomem(err);
  }
  return PC_OK;
}

/* Evaluate `state` (NULL: the starting program) on the val examples, with
 * the metric's feedback. *res (owned by the caller) is the host's answer. */
static int ds_evaluate(ds_search *s, const pc_json *state, pc_json **res,
                       pc_error *err)
{
  const ds_plugin *pl = s->o->pl;
  pc_eval_request req = {.hdr = PC_ABI_HEADER_INIT(pc_eval_request)};
  char *text = NULL;
  size_t len = 0;
  int rc = PC_OK;

  *res = NULL;
  if (state)
    rc = ds_text(pl, state, &text, &len, err);
  if (rc)
    return rc;
  req.state_json = text;
  req.state_len = len;
  req.split = PC_SPLIT_VAL;
  req.indices = s->val_idx;
  req.n_indices = s->val_idx ? s->n_val : 0;
  req.flags = PC_EVAL_FEEDBACK;
  rc = s->api->evaluate(s->api->ctx, &req, res, err);
  pl->host->free(pl->host->ctx, text);
  return rc;
}

/* The feedback of the weakest examples of evaluation `res` (those scoring
 * below 1 first), at most REPORT_FEEDBACK. *out owned by the caller. */
static int ds_feedback(const ds_plugin *pl, const pc_json *res,
                       pc_json **out, pc_error *err)
{
  void *hc = pl->host->ctx;
  const pc_json *rows = pl->js->object_get(res, "results");
  pc_json *fb = pl->js->new_array(hc);
  size_t i, pass;
  int rc = fb ? PC_OK : ds_nomem(err);

  for (pass = 0; pass < 2 && !rc && pl->js->array_len(fb) == 0; pass++)
    for (i = 0; !rc && i < pl->js->array_len(rows) &&
                pl->js->array_len(fb) < REPORT_FEEDBACK; i++) {
      const pc_json *row = pl->js->array_get(rows, i);
      const pc_json *text = pl->js->object_get(row, "feedback");
      double score = pl->js->get_double(pl->js->object_get(row, "score"));

      if (text && pl->js->type(text) == PC_JSON_STRING &&
          (pass == 1 || score < 1.0))
        rc = ds_append(pl, fb, pl->js->copy(hc, text), err);
    }
  if (rc) {
    pl->js->free(hc, fb);
    fb = NULL;
  }
  *out = fb;
  return rc;
}

/* An array of the first k indices of s->perm; NULL when out of memory. */
static pc_json *ds_index_array(const ds_search *s, size_t k)
{
  const ds_plugin *pl = s->o->pl;
  pc_json *arr = pl->js->new_array(pl->host->ctx);
  size_t i;

  for (i = 0; arr && i < k; i++)
    if (ds_append(pl, arr, pl->js->new_int(pl->host->ctx, s->perm[i]),
                  NULL)) {
      pl->js->free(pl->host->ctx, arr);
      arr = NULL;
    }
  return arr;
}

/* Record candidate `cand` (its state and evaluation) as a trial, and keep
 * it when it beats the best so far (takes over `state`). */
static int ds_consider(ds_search *s, int64_t cand, size_t k, pc_json *state,
                       const pc_json *res, pc_error *err)
{
  const ds_plugin *pl = s->o->pl;
  void *hc = pl->host->ctx;
  double mean = pl->js->get_double(pl->js->object_get(res, "mean"));
  double percent = pl->js->get_double(pl->js->object_get(res, "percent"));
  pc_json *trial = pl->js->new_object(hc), *demos = ds_index_array(s, k);
  char label[64], progress[128], *text = NULL;
  size_t len;
  int n, rc = trial && demos ? PC_OK : ds_nomem(err);

  if (cand == 0)
    snprintf(label, sizeof(label), "baseline");
  else
    snprintf(label, sizeof(label), "%zu demos, draw %lld", k,
             (long long)cand);
  if (!rc)
    rc = ds_set(pl, trial, "candidate", pl->js->new_int(hc, cand), err);
  if (!rc)
    rc = ds_set(pl, trial, "label", pl->js->new_string(hc, label,
                                                      strlen(label)), err);
  if (!rc)
    rc = ds_set(pl, trial, "split", pl->js->new_string(hc, "val", 3), err);
  if (!rc)
    rc = ds_set(pl, trial, "score", pl->js->new_double(hc, percent), err);
  if (!rc)
    rc = ds_set(pl, trial, "n", pl->js->new_int(hc, (int64_t)s->n_val),
                err);
  if (!rc)
    rc = ds_set(pl, trial, "demos", pl->js->copy(hc, demos), err);
  if (!rc)
    rc = ds_set(pl, trial, "state", pl->js->copy(hc, state), err);
  if (!rc)
    rc = ds_text(pl, trial, &text, &len, err);
  if (!rc)
    rc = s->api->record_trial(s->api->ctx, text, len, err);
  if (!rc && (cand == 0 || mean > s->best_mean)) {
    pc_json *fb;

    rc = ds_feedback(pl, res, &fb, err);
    if (!rc) {
      pl->js->free(hc, s->best_state);
      pl->js->free(hc, s->best_demos);
      pl->js->free(hc, s->best_feedback);
      s->best_state = state;
      s->best_demos = demos;
      s->best_feedback = fb;
      state = demos = NULL;
      s->best_mean = mean;
      s->best_percent = percent;
      s->best_cand = cand;
      if (cand == 0)
        s->base_percent = percent;
    }
  }
  if (!rc && s->api->progress) {
    n = snprintf(progress, sizeof(progress),
                 "{\"trial\": %lld, \"of\": %lld, \"best\": %.2f}",
                 (long long)cand + 1, (long long)s->o->candidates + 1,
                 s->best_percent);
    s->api->progress(s->api->ctx, progress, (size_t)n);
  }
  pl->host->free(hc, text);
  pl->js->free(hc, trial);
  pl->js->free(hc, demos);
  pl->js->free(hc, state);
  return rc;
}

/* Set the best candidate as the result, with the report. */
static int ds_finish(ds_search *s, pc_error *err)
{
  const ds_plugin *pl = s->o->pl;
  void *hc = pl->host->ctx;
  pc_json *report = pl->js->new_object(hc);
  char *state = NULL, *rep = NULL;
  size_t state_len = 0, rep_len = 0;
  int rc = report ? PC_OK : ds_nomem(err);

  if (!rc)
    rc = ds_set(pl, report, "baseline",
                pl->js->new_double(hc, s->base_percent), err);
  if (!rc)
    rc = ds_set(pl, report, "best", pl->js->new_double(hc, s->best_percent),
                err);
  if (!rc)
    rc = ds_set(pl, report, "best_candidate",
                pl->js->new_int(hc, s->best_cand), err);
  if (!rc && s->best_demos)
    rc = ds_set(pl, report, "demos", pl->js->copy(hc, s->best_demos), err);
  if (!rc && s->best_feedback)
    rc = ds_set(pl, report, "feedback", pl->js->copy(hc, s->best_feedback),
                err);
  if (!rc && s->best_state)
    rc = ds_text(pl, s->best_state, &state, &state_len, err);
  if (!rc)
    rc = ds_text(pl, report, &rep, &rep_len, err);
  if (!rc)
    rc = s->api->set_result(s->api->ctx, state ? state : "{}",
                            state ? state_len : 2, rep, rep_len, err);
  pl->host->free(hc, state);
  pl->host->free(hc, rep);
  pl->js->free(hc, report);
  return rc;
}

static int ds_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  ds_search s = {0};
  pc_json *res = NULL, *state = NULL;
  uint64_t seed;
  int64_t cand;
  size_t k = 0;
  int rc;

  s.o = inst;
  s.api = api;
  rc = ds_load(&s, err);
  if (rc)
    goto out;
  seed = api->seed(api->ctx);
  for (cand = 0; cand <= s.o->candidates; cand++) {
    if (cand > 0) {
      k = ds_pick(&s, seed, cand);
      rc = ds_state(&s, k, &state, err);
    } else {
      state = s.o->pl->js->new_object(s.o->pl->host->ctx);
      rc = state ? PC_OK : ds_nomem(err);
    }
    if (!rc)
      rc = ds_evaluate(&s, cand > 0 ? state : NULL, &res, err);
    if (!rc) {
      rc = ds_consider(&s, cand, k, state, res, err);
      state = NULL;
    }
    s.o->pl->js->free(s.o->pl->host->ctx, res);
    s.o->pl->js->free(s.o->pl->host->ctx, state);
    res = state = NULL;
    if (rc)
      break;
  }
  if (!rc) {
    rc = ds_finish(&s, err);
  } else if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Keep the best so far; the host's message says which cap. */
    pc_error ferr = PC_ERROR_INIT;

    if (ds_finish(&s, &ferr))
      rc = ds_error(err, ferr.code, "%s", ferr.message);
  }
out:
  ds_search_free(&s);
  return rc;
}

static const pc_optimizer_iface ds_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "demo_search",
  .create = ds_create,
  .destroy = ds_destroy,
  .estimate = ds_estimate,
  .compile = ds_compile,
  .settings = ds_settings,
};

/* ---- the plugin --------------------------------------------------------- */

static int ds_init(const pc_host_api *host, void **state, pc_error *err)
{
  const pc_json_api *js;
  ds_plugin *pl;
  uint32_t size = 0;

  *state = NULL;
  if (!PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->get_host_interface)
    return ds_error(err, PC_E_UNSUPPORTED, WHO ": the host offers no "
                    "services");
  js = host->get_host_interface(host->ctx, "pc.json/1", &size);
  if (!js || size < offsetof(pc_json_api, array_append) +
                    sizeof(js->array_append))
    return ds_error(err, PC_E_UNSUPPORTED, WHO ": the host lacks pc.json/1");
  pl = host->alloc(host->ctx, sizeof(*pl));
  if (!pl)
    return ds_nomem(err);
  pl->host = host;
  pl->js = js;
  *state = pl;
  return PC_OK;
}

static void ds_fini(void *state)
{
  ds_plugin *pl = state;

  if (pl)
    pl->host->free(pl->host->ctx, pl);
}

static const void *ds_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(ds_iface);
  return &ds_iface;
}

static const pc_plugin_info ds_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "com.example.optimizer.demo_search",
  .name = "demo-search",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "demo_search: random search over k labeled demos",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = ds_init,
  .fini = ds_fini,
  .get_interface = ds_get_interface,
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
  return &ds_info;
}
