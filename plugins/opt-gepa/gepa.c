/*
 * gepa.c - the GEPA optimizer as a "pc.optimizer/1" plugin: reflective
 * evolution of each predictor's instructions, with parents drawn from a
 * per-example Pareto front on val, new instructions written by the
 * reflection LM from traces and feedback, and merges of candidates that
 * improved different predictors (docs/optimizer-gepa.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "gepa.h"

#define WHO "gepa"
#define ROLE "reflection_lm"
/* Upper bound on the minibatch size: far beyond any useful run, it keeps
 * the cost arithmetic bounded. */
#define MAX_MINIBATCH 100000

/* The reflection signature: the names the reference gives, GEPA's
 * instructions in our own words. */
static const char reflect_sig[] =
  "{\"instructions\": \"You improve the instruction that an assistant "
  "follows for one step of a task. You will see the instruction it was "
  "given, then examples of task inputs, the outputs the assistant "
  "produced for them and feedback on how each output could have been "
  "better. Write a new instruction for the assistant.\\n\\nRead the "
  "inputs carefully and work out their format, then describe the task in "
  "detail. Read every output and its feedback. Find the specialised, "
  "domain-specific facts about the task and write them into the "
  "instruction, because the assistant may not have them at hand later. "
  "If the assistant used a strategy that works in general, describe it "
  "as well.\\n\\nGive the new instruction inside ``` fences.\","
  " \"inputs\": [{\"name\": \"current_instruction\", \"type\": \"str\","
  " \"desc\": \"The instruction the assistant was given\"},"
  " {\"name\": \"examples_with_feedback\", \"type\": \"str\","
  " \"desc\": \"Task inputs, the assistant's outputs and feedback on "
  "them\"}],"
  " \"outputs\": [{\"name\": \"new_instruction\", \"type\": \"str\","
  " \"desc\": \"The improved instruction, inside ``` fences\"}]}";

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

/* One configured optimizer: the settings, read-only after create. */
typedef struct gepa_opt {
  const pc__opt_host *h;       /* borrowed: the plugin state */
  int auto_level;              /* 0: unset, else 1 light .. 3 heavy */
  int64_t max_full_evals;      /* -1: unset */
  int64_t max_metric_calls;    /* -1: unset */
  int64_t minibatch;           /* reflection_minibatch_size */
  int current_best;            /* candidate_selection_strategy */
  int skip_perfect;
  int format_failures;         /* add_format_failure_as_feedback */
  int select_all;              /* component_selector "all" */
  int use_merge;
  int64_t max_merges;          /* max_merge_invocations */
  double failure_score;
  double perfect_score;
  int track_stats;
  int64_t seed;
} gepa_opt;

static const char *const auto_names[] = {NULL, "light", "medium", "heavy"};
static const char known_settings[] =
  "auto, max_full_evals, max_metric_calls, reflection_minibatch_size, "
  "candidate_selection_strategy, skip_perfect_score, "
  "add_format_failure_as_feedback, component_selector, use_merge, "
  "max_merge_invocations, failure_score, perfect_score, track_stats, seed";

/* An integer >= min (a JSON integer); with nullable, null gives -1. */
static int read_int(const pc__opt_host *h, const char *key,
                    const pc_json *v, int64_t min, int nullable,
                    int64_t *out, pc_error *err)
{
  int32_t t = h->js->type(v);

  if (nullable && t == PC_JSON_NULL) {
    *out = -1;
    return PC_OK;
  }
  if (t == PC_JSON_INT && h->js->get_int(v) >= min &&
      h->js->get_int(v) <= (int64_t)1e15) {
    *out = h->js->get_int(v);
    return PC_OK;
  }
  return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected %san "
                       "integer >= %lld", key, nullable ? "null or " : "",
                       (long long)min);
}

static int read_bool(const pc__opt_host *h, const char *key,
                     const pc_json *v, int *out, pc_error *err)
{
  if (h->js->type(v) != PC_JSON_BOOL)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected true "
                         "or false", key);
  *out = h->js->get_bool(v) != 0;
  return PC_OK;
}

static int read_unit(const pc__opt_host *h, const char *key,
                     const pc_json *v, double *out, pc_error *err)
{
  int32_t t = h->js->type(v);
  double d = h->js->get_double(v);

  if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) || !isfinite(d) || d < 0 ||
      d > 1)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected a "
                         "number in [0, 1]", key);
  *out = d;
  return PC_OK;
}

/* A string among `names` (n of them): *out is its index. */
static int read_choice(const pc__opt_host *h, const char *key,
                       const pc_json *v, const char *const *names, int n,
                       const char *list, int nullable, int *out,
                       pc_error *err)
{
  const char *s;
  int k;

  if (nullable && h->js->type(v) == PC_JSON_NULL) {
    *out = 0;
    return PC_OK;
  }
  s = h->js->type(v) == PC_JSON_STRING ? h->js->get_string(v, NULL) : NULL;
  for (k = 0; s && k < n; k++)
    if (names[k] && !strcmp(s, names[k])) {
      *out = k;
      return PC_OK;
    }
  return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected %s%s",
                       key, nullable ? "null or " : "", list);
}

static int read_setting(gepa_opt *o, const char *key, const pc_json *v,
                        pc_error *err)
{
  static const char *const strategies[] = {"pareto", "current_best"};
  static const char *const selectors[] = {"round_robin", "all"};
  const pc__opt_host *h = o->h;

  if (!strcmp(key, "auto"))
    return read_choice(h, key, v, auto_names, 4, "\"light\", \"medium\" "
                       "or \"heavy\"", 1, &o->auto_level, err);
  if (!strcmp(key, "max_full_evals"))
    return read_int(h, key, v, 1, 1, &o->max_full_evals, err);
  if (!strcmp(key, "max_metric_calls"))
    return read_int(h, key, v, 1, 1, &o->max_metric_calls, err);
  if (!strcmp(key, "reflection_minibatch_size")) {
    int rc = read_int(h, key, v, 1, 0, &o->minibatch, err);

    if (!rc && o->minibatch > MAX_MINIBATCH)
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected an "
                         "integer >= 1 and <= %d", key, MAX_MINIBATCH);
    return rc;
  }
  if (!strcmp(key, "candidate_selection_strategy"))
    return read_choice(h, key, v, strategies, 2, "\"pareto\" or "
                       "\"current_best\"", 0, &o->current_best, err);
  if (!strcmp(key, "skip_perfect_score"))
    return read_bool(h, key, v, &o->skip_perfect, err);
  if (!strcmp(key, "add_format_failure_as_feedback"))
    return read_bool(h, key, v, &o->format_failures, err);
  if (!strcmp(key, "component_selector"))
    return read_choice(h, key, v, selectors, 2, "\"round_robin\" or "
                       "\"all\"", 0, &o->select_all, err);
  if (!strcmp(key, "use_merge"))
    return read_bool(h, key, v, &o->use_merge, err);
  if (!strcmp(key, "max_merge_invocations"))
    return read_int(h, key, v, 0, 0, &o->max_merges, err);
  if (!strcmp(key, "failure_score"))
    return read_unit(h, key, v, &o->failure_score, err);
  if (!strcmp(key, "perfect_score"))
    return read_unit(h, key, v, &o->perfect_score, err);
  if (!strcmp(key, "track_stats"))
    return read_bool(h, key, v, &o->track_stats, err);
  if (!strcmp(key, "seed"))
    return read_int(h, key, v, 0, 0, &o->seed, err);
  return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: unknown setting "
                       "(known: %s)", key, known_settings);
}

/* Check that exactly one budget setting is given. */
static int check_budget_choice(const gepa_opt *o, pc_error *err)
{
  char got[80] = "";
  int n = 0;

  if (o->auto_level) {
    snprintf(got + strlen(got), sizeof(got) - strlen(got), "auto");
    n++;
  }
  if (o->max_full_evals >= 0) {
    snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s"
             "max_full_evals", n ? " and " : "");
    n++;
  }
  if (o->max_metric_calls >= 0) {
    snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s"
             "max_metric_calls", n ? " and " : "");
    n++;
  }
  if (n == 1)
    return PC_OK;
  return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": exactly one of auto, "
                       "max_full_evals and max_metric_calls must be set "
                       "(got %s)", n ? got : "none");
}

static int g_create(void *plugin_state, const char *settings, size_t len,
                    void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  pc_json *obj = NULL;
  gepa_opt *o;
  const char *key;
  const pc_json *v;
  size_t k;
  int rc = PC_OK;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  o->max_full_evals = -1;
  o->max_metric_calls = -1;
  o->minibatch = 3;
  o->skip_perfect = 1;
  o->use_merge = 1;
  o->max_merges = 5;
  o->failure_score = 0.0;
  o->perfect_score = 1.0;
  if (settings && len) {
    if (h->js->parse(h->host->ctx, settings, len, PC_JSON_PARSE_STRICT,
                     &obj, NULL) != PC_OK) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: not "
                         "valid JSON");
      goto out;
    }
    if (h->js->type(obj) != PC_JSON_OBJECT &&
        h->js->type(obj) != PC_JSON_NULL) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: expected "
                         "a JSON object");
      goto out;
    }
    for (k = 0; !rc && h->js->object_at(obj, k, &key, &v) == 0; k++)
      rc = read_setting(o, key, v, err);
    if (rc)
      goto out;
  }
  rc = check_budget_choice(o, err);
out:
  h->js->free(h->host->ctx, obj);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static void g_destroy(void *inst)
{
  gepa_opt *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

/* A nullable integer setting as JSON (-1: null), owned. */
static pc_json *nullable_int(const pc__opt_host *h, int64_t v)
{
  return v < 0 ? h->js->new_null(h->host->ctx)
               : h->js->new_int(h->host->ctx, v);
}

static pc_json *text_value(const pc__opt_host *h, const char *s)
{
  return s ? h->js->new_string(h->host->ctx, s, strlen(s))
           : h->js->new_null(h->host->ctx);
}

static int g_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  const gepa_opt *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  int rc = obj ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                       "memory");

  if (!rc)
    rc = pc__opt_json_set(h, obj, "auto",
                          text_value(h, auto_names[o->auto_level]), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_full_evals",
                          nullable_int(h, o->max_full_evals), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_metric_calls",
                          nullable_int(h, o->max_metric_calls), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "reflection_minibatch_size",
                          h->js->new_int(ctx, o->minibatch), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "candidate_selection_strategy",
                          text_value(h, o->current_best ? "current_best"
                                                        : "pareto"), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "skip_perfect_score",
                          h->js->new_bool(ctx, o->skip_perfect), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "add_format_failure_as_feedback",
                          h->js->new_bool(ctx, o->format_failures), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "component_selector",
                          text_value(h, o->select_all ? "all"
                                                      : "round_robin"), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "use_merge",
                          h->js->new_bool(ctx, o->use_merge), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "max_merge_invocations",
                          h->js->new_int(ctx, o->max_merges), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "failure_score",
                          h->js->new_double(ctx, o->failure_score), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "perfect_score",
                          h->js->new_double(ctx, o->perfect_score), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "track_stats",
                          h->js->new_bool(ctx, o->track_stats), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "seed", h->js->new_int(ctx, o->seed), err);
  if (!rc)
    rc = pc__opt_json_write(h, obj, out, err);
  h->js->free(ctx, obj);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Budget and estimate.                                                     */

/* The metric-call budget for |T| = n_train, |V| = n_val and P = n_preds
 * (reference section 8.2). */
static int64_t budget_of(const gepa_opt *o, int64_t n_train, int64_t n_val,
                         int64_t n_preds)
{
  if (o->auto_level)
    return pc__gepa_auto_budget(6 * o->auto_level, n_preds, n_val);
  if (o->max_full_evals >= 0)
    return o->max_full_evals * (n_train + n_val);
  return o->max_metric_calls;
}

/* The most reflective iterations that can make a proposal: each spends at
 * least 2b, and one starts only while 2b + |V| is left after the seed's
 * |V|. */
static int64_t max_proposals(int64_t budget, int64_t n_val, int64_t b)
{
  int64_t room = budget - 2 * n_val;

  return room < 0 ? 0 : room / (2 * b);
}

static int g_estimate(void *inst, const char *info_json, size_t len,
                      const pc_text_sink *out, pc_error *err)
{
  const gepa_opt *o = inst;
  const pc__opt_host *h = o->h;
  pc_json *info = NULL;
  int64_t n_train, n_val, n_preds, r, budget, k;
  int rc;

  rc = pc__opt_json_parse(h, WHO ": estimate", info_json, len, &info, err);
  if (rc)
    return rc;
  n_train = pc__opt_info_int(h, info, "train");
  n_val = pc__opt_info_int(h, info, "val");
  n_preds = pc__opt_info_int(h, info, "predictors");
  r = pc__opt_info_int(h, info, "calls_per_run");
  h->js->free(h->host->ctx, info);
  if (r < 1)
    r = 1;
  budget = budget_of(o, n_train, n_val, n_preds);
  k = o->select_all ? (n_preds > 0 ? n_preds : 1) : 1;
  return pc__opt_write_estimate(h, budget * r, budget,
                                max_proposals(budget, n_val, o->minibatch) *
                                k, out, err);
}

/* ------------------------------------------------------------------------ */
/* One compile.                                                             */

typedef struct gepa_run {
  const gepa_opt *o;            /* borrowed */
  const pc__opt_host *h;        /* borrowed */
  const pc_compile_api *api;    /* borrowed for the call */
  pc_error *err;                /* borrowed */
  uint64_t seed;
  pc_json *program;             /* owned: api->program() */
  pc_json *train;               /* owned: api->dataset("train") */
  pc_json *val;                 /* owned: api->dataset("val") */
  const pc_json *train_ex;      /* borrowed from train */
  const pc_json *input_keys;    /* borrowed from train */
  size_t n_train, n_val;
  size_t n_comp;                /* predictors */
  const char **paths;           /* owned array; strings borrowed */
  const pc_json **sigs;         /* owned array; values borrowed */
  pc_json *outputs;             /* owned: every predictor's output names */
  int64_t budget;               /* metric calls allowed */
  int64_t used;                 /* metric calls spent */
  pc__gepa_cand *cands;         /* owned */
  size_t n_cands, cap_cands;
  double *agg;                  /* owned: cands' aggregates, cap_cands */
  pc__gepa_front front;
  pc__gepa_sampler sampler;
  pc__gepa_merge_log mlog;
  int64_t iterations;
  int64_t full_evals;
  int64_t merges_due, merges_accepted, merges_tested;
  int found_last;               /* the last iteration added a candidate */
} gepa_run;

static int oom(gepa_run *r)
{
  return pc__opt_error(r->err, PC_E_NOMEM, WHO ": out of memory");
}

/* Read the program and the splits. */
static int load(gepa_run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  const pc_json *preds, *ex;
  size_t k;
  int rc;

  rc = r->api->program(r->api->ctx, &r->program, r->err);
  if (!rc)
    rc = r->api->dataset(r->api->ctx, PC_SPLIT_TRAIN, &r->train, r->err);
  if (!rc)
    rc = r->api->dataset(r->api->ctx, PC_SPLIT_VAL, &r->val, r->err);
  if (rc)
    return rc;
  preds = h->js->object_get(r->program, "predictors");
  r->n_comp = preds ? h->js->array_len(preds) : 0;
  r->train_ex = h->js->object_get(r->train, "examples");
  r->input_keys = h->js->object_get(r->train, "input_keys");
  r->n_train = r->train_ex ? h->js->array_len(r->train_ex) : 0;
  ex = h->js->object_get(r->val, "examples");
  r->n_val = ex ? h->js->array_len(ex) : 0;
  if (r->n_comp == 0)
    return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the program has "
                         "no predictors");
  if (r->n_train == 0)
    return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the train split "
                         "is empty");
  if (r->n_val == 0)
    return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the val split is "
                         "empty");
  r->paths = pc__opt_calloc(h, r->n_comp, sizeof(*r->paths));
  r->sigs = pc__opt_calloc(h, r->n_comp, sizeof(*r->sigs));
  r->outputs = h->js->new_array(ctx);
  if (!r->paths || !r->sigs || !r->outputs)
    return oom(r);
  for (k = 0; k < r->n_comp; k++) {
    const pc_json *p = h->js->array_get(preds, k);
    const pc_json *outs;
    size_t i;

    r->paths[k] = pc__opt_json_str(h, p, "path");
    r->sigs[k] = h->js->object_get(p, "signature");
    if (!r->paths[k] || !r->sigs[k])
      return pc__opt_error(r->err, PC_E_INTERNAL, WHO ": the host's "
                           "program has a predictor without a path or "
                           "signature");
    outs = h->js->object_get(r->sigs[k], "outputs");
    for (i = 0; outs && i < h->js->array_len(outs); i++) {
      const char *name = pc__opt_json_str(h, h->js->array_get(outs, i),
                                          "name");

      if (name && pc__opt_json_push(h, r->outputs,
                                    h->js->new_string(ctx, name,
                                                      strlen(name)),
                                    r->err))
        return PC_E_NOMEM;
    }
  }
  return PC_OK;
}

/* {"<path>": {"instructions": text}, ...}, owned; NULL when out of
 * memory. */
static pc_json *state_of(const gepa_run *r, char *const *texts)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *st = h->js->new_object(ctx);
  size_t k;

  for (k = 0; st && k < r->n_comp; k++) {
    pc_json *p = h->js->new_object(ctx);

    if (!p || pc__opt_json_set(h, p, "instructions",
                               h->js->new_string(ctx, texts[k],
                                                 strlen(texts[k])), NULL) ||
        pc__opt_json_set(h, st, r->paths[k], p, NULL)) {
      if (p && !h->js->object_get(st, r->paths[k]))
        h->js->free(ctx, p);
      h->js->free(ctx, st);
      return NULL;
    }
  }
  return st;
}

/* A copy of n_comp texts, owned (free_texts); NULL when out of memory. */
static char **copy_texts(const gepa_run *r, char *const *texts)
{
  char **t = pc__opt_calloc(r->h, r->n_comp, sizeof(*t));
  size_t k;

  for (k = 0; t && k < r->n_comp; k++) {
    size_t n = strlen(texts[k]);

    t[k] = pc__opt_alloc(r->h, n + 1);
    if (!t[k]) {
      while (k-- > 0)
        pc__opt_free(r->h, t[k]);
      pc__opt_free(r->h, t);
      return NULL;
    }
    memcpy(t[k], texts[k], n + 1);
  }
  return t;
}

static void free_texts(const gepa_run *r, char **t)
{
  size_t k;

  for (k = 0; t && k < r->n_comp; k++)
    pc__opt_free(r->h, t[k]);
  pc__opt_free(r->h, t);
}

/* The outcome of one evaluation. */
typedef struct evaluation {
  pc_json *answer;   /* owned: the host's answer */
  double *scores;    /* owned: per example, failures at failure_score */
  double sum;
  int64_t n;         /* examples scored (metric calls) */
} evaluation;

static void evaluation_free(const gepa_run *r, evaluation *e)
{
  r->h->js->free(r->h->host->ctx, e->answer);
  pc__opt_free(r->h, e->scores);
  memset(e, 0, sizeof(*e));
}

/* Evaluate `texts` on examples ids[0..n_ids) of `split` (NULL ids: all of
 * it); the metric calls are counted in r->used. */
static int evaluate(gepa_run *r, char *const *texts, const char *split,
                    const int64_t *ids, size_t n_ids, uint32_t flags,
                    evaluation *e)
{
  const pc__opt_host *h = r->h;
  pc_json *state = state_of(r, texts);
  const pc_json *rows, *v;
  size_t k, n_rows;
  int rc;

  memset(e, 0, sizeof(*e));
  if (!state)
    return oom(r);
  rc = pc__opt_evaluate(h, r->api, state, split, ids, ids ? n_ids : 0,
                        flags, NULL, &e->answer, r->err);
  h->js->free(h->host->ctx, state);
  if (rc)
    return rc;
  v = h->js->object_get(e->answer, "n");
  e->n = v ? h->js->get_int(v) : 0;
  r->used += e->n;
  rows = h->js->object_get(e->answer, "results");
  n_rows = rows ? h->js->array_len(rows) : 0;
  if (n_rows != n_ids) {
    evaluation_free(r, e);
    return pc__opt_error(r->err, PC_E_INTERNAL, WHO ": the host returned "
                         "%zu results for %zu examples", n_rows, n_ids);
  }
  e->scores = pc__opt_calloc(h, n_rows ? n_rows : 1, sizeof(*e->scores));
  if (!e->scores) {
    evaluation_free(r, e);
    return oom(r);
  }
  for (k = 0; k < n_rows; k++) {
    const pc_json *row = h->js->array_get(rows, k);

    v = h->js->object_get(row, "score");
    e->scores[k] = pc__opt_json_str(h, row, "error") ? r->o->failure_score
                   : v ? h->js->get_double(v) : 0.0;
    e->sum += e->scores[k];
  }
  return PC_OK;
}

/* Record one evaluation as a trial. cand < 0: a candidate not kept. */
static int record(gepa_run *r, const char *kind, const char *label,
                  int64_t cand, const int64_t *parents, int n_parents,
                  int64_t iteration, const char *split,
                  const evaluation *e, char *const *texts)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *t = h->js->new_object(ctx), *ps;
  double mean = e->n > 0 ? e->sum / (double)e->n : 0.0;
  int i, rc = t ? PC_OK : PC_E_NOMEM;

  if (!rc)
    rc = pc__opt_json_set(h, t, "candidate", cand < 0
                          ? h->js->new_null(ctx) : h->js->new_int(ctx, cand),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "label", text_value(h, label), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "kind", text_value(h, kind), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "split", text_value(h, split), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "score", h->js->new_double(
                            ctx, floor(10000.0 * mean + 0.5) / 100.0),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "mean", h->js->new_double(ctx, mean),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "sum", h->js->new_double(ctx, e->sum),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "n", h->js->new_int(ctx, e->n), r->err);
  if (!rc) {
    ps = h->js->new_array(ctx);
    for (i = 0; ps && i < n_parents && !rc; i++)
      rc = pc__opt_json_push(h, ps, h->js->new_int(ctx, parents[i]), r->err);
    if (!rc)
      rc = pc__opt_json_set(h, t, "parents", ps, r->err);
    else
      h->js->free(ctx, ps);
    ps = NULL;
  }
  if (!rc)
    rc = pc__opt_json_set(h, t, "iteration", iteration < 0
                          ? h->js->new_null(ctx)
                          : h->js->new_int(ctx, iteration), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "metric_calls", h->js->new_int(ctx, r->used),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", state_of(r, texts), r->err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, r->err);
  else
    rc = oom(r);
  h->js->free(ctx, t);
  return rc;
}

/* Add a candidate (taking `texts` over, also on failure) with its val
 * scores; it joins the fronts. */
static int add_candidate(gepa_run *r, char **texts, const int64_t *parents,
                         int n_parents, int kind, int64_t discovered,
                         const double *scores)
{
  const pc__opt_host *h = r->h;
  pc__gepa_cand *c;
  size_t v, rr = 0;
  int i;

  if (r->n_cands == r->cap_cands) {
    size_t cap = r->cap_cands ? 2 * r->cap_cands : 16;
    pc__gepa_cand *nc = h->host->realloc(h->host->ctx, r->cands,
                                         cap * sizeof(*nc));
    double *na;

    if (nc)
      r->cands = nc;
    na = nc ? h->host->realloc(h->host->ctx, r->agg, cap * sizeof(*na))
            : NULL;
    if (!na) {
      free_texts(r, texts);
      return oom(r);
    }
    r->agg = na;
    r->cap_cands = cap;
  }
  c = &r->cands[r->n_cands];
  memset(c, 0, sizeof(*c));
  c->val_scores = pc__opt_calloc(h, r->n_val, sizeof(*c->val_scores));
  if (!c->val_scores) {
    free_texts(r, texts);
    return oom(r);
  }
  c->texts = texts;
  c->n_parents = n_parents;
  for (i = 0; i < n_parents; i++) {
    c->parents[i] = parents[i];
    if (r->cands[parents[i]].rr > rr)
      rr = r->cands[parents[i]].rr;
  }
  c->rr = rr;
  c->kind = kind;
  c->discovered = discovered;
  for (v = 0; v < r->n_val; v++) {
    c->val_scores[v] = scores[v];
    c->agg += scores[v];
  }
  c->agg /= (double)r->n_val;
  r->agg[r->n_cands] = c->agg;
  r->n_cands++;
  if (pc__gepa_front_add(&r->front, (int64_t)r->n_cands - 1, scores))
    return oom(r);
  return PC_OK;
}

/* Evaluate `texts` on the whole val split and keep it as a candidate
 * (taking `texts` over). *index is its number. */
static int full_eval_and_add(gepa_run *r, char **texts,
                             const int64_t *parents, int n_parents, int kind,
                             int64_t iteration, int64_t *index)
{
  evaluation e;
  int64_t discovered = r->used;
  char label[96];
  int rc;

  rc = evaluate(r, texts, PC_SPLIT_VAL, NULL, r->n_val, 0, &e);
  if (rc) {
    free_texts(r, texts);
    return rc;
  }
  r->full_evals++;
  *index = (int64_t)r->n_cands;
  rc = add_candidate(r, texts, parents, n_parents, kind, discovered,
                     e.scores);
  if (!rc) {
    if (kind == PC__GEPA_SEED)
      snprintf(label, sizeof(label), "seed: candidate 0 on val");
    else
      snprintf(label, sizeof(label), "iteration %lld: candidate %lld on "
               "val", (long long)iteration + 1, (long long)*index);
    rc = record(r, kind == PC__GEPA_SEED ? "seed" : "full", label, *index,
                parents, n_parents, iteration, PC_SPLIT_VAL, &e,
                r->cands[*index].texts);
  }
  evaluation_free(r, &e);
  if (!rc) {
    int64_t best = pc__gepa_select_best(r->agg, r->n_cands);

    pc__opt_progress(r->h, r->api, r->used, r->budget,
                     100.0 * r->agg[best]);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Reflective mutation (reference section 8.7).                             */

/* Ask the reflection LM for component k's new text from its records.
 * *text is NULL (no proposal) when the answer did not parse. */
static int propose(gepa_run *r, int64_t iteration, size_t k,
                   const char *current, const pc_json *records, char **text)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_propose_request req;
  pc_json *inputs = h->js->new_object(ctx), *ans = NULL;
  char *md = NULL, *in_text = NULL, cfg[96];
  const char *out;
  size_t in_len = 0, a, b, len;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *text = NULL;
  if (!inputs)
    return oom(r);
  rc = pc__gepa_render_records(h, records, &md, r->err);
  if (!rc)
    rc = pc__opt_json_set(h, inputs, "current_instruction",
                          text_value(h, current), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, inputs, "examples_with_feedback",
                          text_value(h, md), r->err);
  if (!rc)
    rc = pc__opt_json_text(h, inputs, &in_text, &in_len, r->err);
  if (rc)
    goto out;
  snprintf(cfg, sizeof(cfg), "{\"rollout_id\": \"gepa-i%lld-c%zu\"}",
           (long long)iteration + 1, k);
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_propose_request);
  req.role = ROLE;
  req.signature = reflect_sig;
  req.inputs_json = in_text;
  req.inputs_len = in_len;
  req.config_json = cfg;
  req.config_len = strlen(cfg);
  rc = r->api->propose(r->api->ctx, &req, &ans, &perr);
  if (rc == PC_E_PARSE) {
    /* As in GEPA, a failed proposal only means no proposal this
     * iteration. */
    rc = PC_OK;
    goto out;
  }
  if (rc) {
    pc__opt_error(r->err, rc, "%s", perr.message);
    goto out;
  }
  out = h->js->array_len(ans) > 0
        ? pc__opt_json_str(h, h->js->array_get(ans, 0), "new_instruction")
        : NULL;
  if (!out)
    goto out;
  len = strlen(out);
  pc__gepa_fence_span(out, len, &a, &b);
  *text = pc__opt_alloc(h, b - a + 1);
  if (!*text) {
    rc = oom(r);
    goto out;
  }
  memcpy(*text, out + a, b - a);
  (*text)[b - a] = '\0';
out:
  h->js->free(ctx, inputs);
  h->js->free(ctx, ans);
  pc__opt_free(h, md);
  pc__opt_free(h, in_text);
  return rc;
}

static int reflect(gepa_run *r, int64_t it)
{
  const gepa_opt *o = r->o;
  const pc__opt_host *h = r->h;
  size_t b = (size_t)o->minibatch, k, n_new = 0;
  int64_t *ids = pc__opt_calloc(h, b, sizeof(*ids)), parent, index;
  char **child = NULL, label[128];
  evaluation pe, ce;
  pc__opt_rng rng;
  int rc, perfect = 1;

  memset(&pe, 0, sizeof(pe));
  memset(&ce, 0, sizeof(ce));
  if (!ids)
    return oom(r);
  /* 1. The parent. */
  if (o->current_best) {
    parent = pc__gepa_select_best(r->agg, r->n_cands);
  } else {
    pc__opt_rng_init(&rng, h, r->seed, "gepa-select", (uint64_t)it);
    pc__gepa_select_pareto(&r->front, r->agg, r->n_cands, &rng, &parent);
    if (parent < 0) {
      rc = oom(r);
      goto out;
    }
  }
  /* 2-3. Its minibatch, with traces and feedback. */
  rc = pc__gepa_sampler_next(&r->sampler, it, ids);
  if (!rc)
    rc = evaluate(r, r->cands[parent].texts, PC_SPLIT_TRAIN, ids, b,
                  PC_EVAL_TRACES | PC_EVAL_FEEDBACK, &pe);
  if (rc)
    goto out;
  snprintf(label, sizeof(label), "iteration %lld: candidate %lld on a "
           "minibatch", (long long)it + 1, (long long)parent);
  rc = record(r, "minibatch_parent", label, parent, &parent, 1, it,
              PC_SPLIT_TRAIN, &pe, r->cands[parent].texts);
  if (rc)
    goto out;
  /* 4. A perfect minibatch teaches nothing. */
  for (k = 0; k < b; k++)
    perfect = perfect && pe.scores[k] >= o->perfect_score;
  if (o->skip_perfect && perfect)
    goto out;
  /* 5-7. The components to change, their records and new texts. */
  child = copy_texts(r, r->cands[parent].texts);
  if (!child) {
    rc = oom(r);
    goto out;
  }
  pc__opt_rng_init(&rng, h, r->seed, "gepa-trace", (uint64_t)it);
  for (k = 0; k < r->n_comp; k++) {
    size_t comp = k;
    pc__gepa_reflect_in in;
    pc_json *records = NULL;
    char *text = NULL;

    if (!o->select_all) {
      if (k > 0)
        break;
      comp = r->cands[parent].rr;
      r->cands[parent].rr = (comp + 1) % r->n_comp;
    }
    memset(&in, 0, sizeof(in));
    in.path = r->paths[comp];
    in.signature = r->sigs[comp];
    in.answer = pe.answer;
    in.examples = r->train_ex;
    in.outputs = r->outputs;
    in.input_keys = r->input_keys;
    in.add_format_failures = o->format_failures;
    in.rng = &rng;
    rc = pc__gepa_records(h, &in, &records, r->err);
    if (rc)
      goto out;
    if (h->js->array_len(records) == 0) {
      h->js->free(h->host->ctx, records);
      continue;
    }
    rc = propose(r, it, comp, r->cands[parent].texts[comp], records, &text);
    h->js->free(h->host->ctx, records);
    if (rc)
      goto out;
    if (!text) {
      n_new = 0;  /* a failed proposal: none this iteration */
      goto out;
    }
    pc__opt_free(h, child[comp]);
    child[comp] = text;
    n_new++;
  }
  if (n_new == 0)
    goto out;
  /* 8. The child on the same minibatch. */
  rc = evaluate(r, child, PC_SPLIT_TRAIN, ids, b,
                PC_EVAL_TRACES | PC_EVAL_FEEDBACK, &ce);
  if (rc)
    goto out;
  snprintf(label, sizeof(label), "iteration %lld: child of candidate %lld "
           "on the minibatch", (long long)it + 1, (long long)parent);
  rc = record(r, "minibatch_child", label, -1, &parent, 1, it,
              PC_SPLIT_TRAIN, &ce, child);
  /* 9. Strictly better on the minibatch: evaluate on val and keep it. */
  if (!rc && ce.sum > pe.sum) {
    char **texts = child;

    child = NULL;
    rc = full_eval_and_add(r, texts, &parent, 1, PC__GEPA_REFLECTION, it,
                           &index);
    if (!rc && o->use_merge) {
      r->found_last = 1;
      if (r->merges_accepted < o->max_merges)
        r->merges_due++;
    }
  }
out:
  free_texts(r, child);
  evaluation_free(r, &pe);
  evaluation_free(r, &ce);
  pc__opt_free(h, ids);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Merge (reference section 8.8).                                           */

/* Try a merge; *tried = 1 when a merged candidate was evaluated (the
 * iteration then ends, accepted or not). */
static int merge(gepa_run *r, int64_t it, int *tried)
{
  const pc__opt_host *h = r->h;
  size_t n = r->n_cands, k;
  unsigned char *alive = pc__opt_calloc(h, n, 1);
  int64_t *src = pc__opt_calloc(h, r->n_comp, sizeof(*src));
  int64_t ids[PC__GEPA_MERGE_SUBSAMPLE], pair[2], i = 0, j = 0, a = 0;
  int64_t index;
  char **child = NULL, label[128];
  double sum_i = 0, sum_j = 0;
  evaluation e;
  pc__opt_rng rng;
  int found = 0, rc;

  *tried = 0;
  memset(&e, 0, sizeof(e));
  if (!alive || !src) {
    rc = oom(r);
    goto out;
  }
  pc__opt_rng_init(&rng, h, r->seed, "gepa-merge", (uint64_t)it);
  rc = pc__gepa_front_survivors(&r->front, r->agg, n, alive);
  if (!rc)
    rc = pc__gepa_merge_find(&r->mlog, r->cands, n, alive, &rng, &found,
                             &i, &j, &a, src);
  if (rc) {
    rc = oom(r);
    goto out;
  }
  if (!found)
    goto out;
  child = pc__opt_calloc(h, r->n_comp, sizeof(*child));
  if (!child) {
    rc = oom(r);
    goto out;
  }
  for (k = 0; k < r->n_comp; k++) {
    const char *t = r->cands[src[k]].texts[k];

    child[k] = pc__opt_alloc(h, strlen(t) + 1);
    if (!child[k]) {
      rc = oom(r);
      goto out;
    }
    memcpy(child[k], t, strlen(t) + 1);
  }
  if (pc__gepa_merge_subsample(h, r->cands[i].val_scores,
                               r->cands[j].val_scores, r->n_val,
                               PC__GEPA_MERGE_SUBSAMPLE, &rng, ids)) {
    rc = oom(r);
    goto out;
  }
  *tried = 1;
  r->merges_tested++;
  rc = evaluate(r, child, PC_SPLIT_VAL, ids, PC__GEPA_MERGE_SUBSAMPLE, 0,
                &e);
  if (rc)
    goto out;
  pair[0] = i;
  pair[1] = j;
  snprintf(label, sizeof(label), "iteration %lld: merge of candidates "
           "%lld and %lld (ancestor %lld) on %d val examples",
           (long long)it + 1, (long long)i, (long long)j, (long long)a,
           PC__GEPA_MERGE_SUBSAMPLE);
  rc = record(r, "merge_subsample", label, -1, pair, 2, it, PC_SPLIT_VAL,
              &e, child);
  if (rc)
    goto out;
  for (k = 0; k < PC__GEPA_MERGE_SUBSAMPLE; k++) {
    sum_i += r->cands[i].val_scores[ids[k]];
    sum_j += r->cands[j].val_scores[ids[k]];
  }
  if (e.sum >= (sum_i > sum_j ? sum_i : sum_j)) {
    char **texts = child;

    child = NULL;
    rc = full_eval_and_add(r, texts, pair, 2, PC__GEPA_MERGE, it, &index);
    if (!rc) {
      r->merges_due--;
      r->merges_accepted++;
    }
  }
out:
  free_texts(r, child);
  evaluation_free(r, &e);
  pc__opt_free(h, alive);
  pc__opt_free(h, src);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The main loop (reference section 8.6).                                   */

static int search(gepa_run *r)
{
  const gepa_opt *o = r->o;
  const pc__opt_host *h = r->h;
  char **seed_texts;
  int64_t index, b = o->minibatch, v;
  size_t k;
  int rc;

  rc = load(r);
  if (rc)
    return rc;
  v = (int64_t)r->n_val;
  r->budget = budget_of(o, (int64_t)r->n_train, v, (int64_t)r->n_comp);
  if (r->budget < v)
    return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the budget of "
                         "%lld metric calls cannot pay for the starting "
                         "program's evaluation on val (%lld examples)",
                         (long long)r->budget, (long long)v);
  if (pc__gepa_front_init(&r->front, h, r->n_val) ||
      pc__gepa_sampler_init(&r->sampler, h, r->seed, r->n_train,
                            (size_t)b))
    return oom(r);
  pc__gepa_merge_log_init(&r->mlog, h, r->n_comp);
  /* 0. The seed: every predictor's instructions as the program has them. */
  seed_texts = pc__opt_calloc(h, r->n_comp, sizeof(*seed_texts));
  if (!seed_texts)
    return oom(r);
  for (k = 0; k < r->n_comp; k++) {
    const pc_json *p = h->js->array_get(
      h->js->object_get(r->program, "predictors"), k);
    const char *t = pc__opt_json_str(h, p, "instructions");

    t = t ? t : "";
    seed_texts[k] = pc__opt_alloc(h, strlen(t) + 1);
    if (!seed_texts[k]) {
      free_texts(r, seed_texts);
      return oom(r);
    }
    memcpy(seed_texts[k], t, strlen(t) + 1);
  }
  rc = full_eval_and_add(r, seed_texts, NULL, 0, PC__GEPA_SEED, -1, &index);
  /* 1. Iterations, each only when its worst case still fits. */
  while (!rc) {
    int64_t left = r->budget - r->used;
    int can_reflect = left >= 2 * b + v;
    int merge_due = o->use_merge && r->merges_due > 0 && r->found_last;
    int can_merge = merge_due && left >= PC__GEPA_MERGE_SUBSAMPLE + v &&
                    r->n_val >= PC__GEPA_MERGE_OVERLAP_FLOOR;
    int64_t it;
    int tried = 0;

    if (!can_reflect && !can_merge)
      break;
    it = r->iterations++;
    r->found_last = 0;
    if (can_merge) {
      rc = merge(r, it, &tried);
      if (rc || tried)
        continue;
    }
    if (!can_reflect)
      break;
    rc = reflect(r, it);
  }
  return rc;
}

/* The report: every candidate, the front and the counters. */
static pc_json *report_of(const gepa_run *r, int64_t best)
{
  static const char *const kinds[] = {"seed", "reflection", "merge"};
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *rep = h->js->new_object(ctx);
  pc_json *list = h->js->new_array(ctx), *front = h->js->new_array(ctx);
  const pc_json *vex = h->js->object_get(r->val, "examples");
  size_t c, v, k;
  int bad = !rep || !list || !front;
  int i;

  for (c = 0; !bad && c < r->n_cands; c++) {
    const pc__gepa_cand *cd = &r->cands[c];
    pc_json *o = h->js->new_object(ctx), *ps = h->js->new_array(ctx);
    pc_json *texts = h->js->new_object(ctx), *sc = h->js->new_array(ctx);

    bad = !o || !ps || !texts || !sc;
    for (i = 0; !bad && i < cd->n_parents; i++)
      bad = pc__opt_json_push(h, ps, h->js->new_int(ctx, cd->parents[i]),
                              NULL) != PC_OK;
    for (k = 0; !bad && k < r->n_comp; k++)
      bad = pc__opt_json_set(h, texts, r->paths[k],
                             text_value(h, cd->texts[k]), NULL) != PC_OK;
    for (v = 0; !bad && v < r->n_val; v++)
      bad = pc__opt_json_push(h, sc, h->js->new_double(ctx,
                                                       cd->val_scores[v]),
                              NULL) != PC_OK;
    if (bad) {
      h->js->free(ctx, o);
      h->js->free(ctx, ps);
      h->js->free(ctx, texts);
      h->js->free(ctx, sc);
      break;
    }
    bad = pc__opt_json_set(h, o, "index", h->js->new_int(ctx, (int64_t)c),
                           NULL) ||
          pc__opt_json_set(h, o, "parents", ps, NULL) ||
          pc__opt_json_set(h, o, "texts", texts, NULL) ||
          pc__opt_json_set(h, o, "val_score", h->js->new_double(ctx, cd->agg),
                           NULL) ||
          pc__opt_json_set(h, o, "val_scores", sc, NULL) ||
          pc__opt_json_set(h, o, "discovered_at_metric_calls",
                           h->js->new_int(ctx, cd->discovered), NULL) ||
          pc__opt_json_set(h, o, "kind", text_value(h, kinds[cd->kind]),
                           NULL);
    /* Members already set belong to o; the others were freed by set. */
    if (bad) {
      h->js->free(ctx, o);
      break;
    }
    bad = pc__opt_json_push(h, list, o, NULL) != PC_OK;
  }
  for (v = 0; !bad && v < r->n_val; v++) {
    pc_json *o = h->js->new_object(ctx), *ms = h->js->new_array(ctx);
    const char *id = pc__opt_json_str(h, h->js->array_get(vex, v), "id");

    bad = !o || !ms;
    for (k = 0; !bad && k < r->front.n_members[v]; k++)
      bad = pc__opt_json_push(h, ms, h->js->new_int(
                                ctx, r->front.members[v][k]), NULL) != PC_OK;
    if (bad) {
      h->js->free(ctx, o);
      h->js->free(ctx, ms);
      break;
    }
    bad = pc__opt_json_set(h, o, "val_index", h->js->new_int(ctx,
                                                             (int64_t)v),
                           NULL) ||
          pc__opt_json_set(h, o, "id", text_value(h, id), NULL) ||
          pc__opt_json_set(h, o, "best", h->js->new_double(
                             ctx, r->front.best[v]), NULL) ||
          pc__opt_json_set(h, o, "candidates", ms, NULL);
    if (bad) {
      h->js->free(ctx, o);
      break;
    }
    bad = pc__opt_json_push(h, front, o, NULL) != PC_OK;
  }
  if (!bad) {
    bad = pc__opt_json_set(h, rep, "candidates", list, NULL);
    list = NULL;
  }
  if (!bad) {
    bad = pc__opt_json_set(h, rep, "pareto_front", front, NULL);
    front = NULL;
  }
  bad = bad ||
        pc__opt_json_set(h, rep, "best_index", h->js->new_int(ctx, best),
                         NULL) ||
        pc__opt_json_set(h, rep, "total_metric_calls",
                         h->js->new_int(ctx, r->used), NULL) ||
        pc__opt_json_set(h, rep, "budget", h->js->new_int(ctx, r->budget),
                         NULL) ||
        pc__opt_json_set(h, rep, "num_full_val_evals",
                         h->js->new_int(ctx, r->full_evals), NULL) ||
        pc__opt_json_set(h, rep, "iterations",
                         h->js->new_int(ctx, r->iterations), NULL) ||
        pc__opt_json_set(h, rep, "merges_tested",
                         h->js->new_int(ctx, r->merges_tested), NULL) ||
        pc__opt_json_set(h, rep, "merges_accepted",
                         h->js->new_int(ctx, r->merges_accepted), NULL) ||
        pc__opt_json_set(h, rep, "seed",
                         h->js->new_int(ctx, (int64_t)r->seed), NULL);
  h->js->free(ctx, list);
  h->js->free(ctx, front);
  if (bad) {
    h->js->free(ctx, rep);
    return NULL;
  }
  return rep;
}

/* Set the result: the best candidate on val (the first on ties), or the
 * starting program when none was evaluated. */
static int finish(gepa_run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  int64_t best = r->n_cands ? pc__gepa_select_best(r->agg, r->n_cands) : -1;
  pc_json *state = best >= 0 ? state_of(r, r->cands[best].texts)
                             : h->js->new_object(ctx);
  pc_json *rep = report_of(r, best);
  int rc;

  if (!state || !rep)
    rc = oom(r);
  else
    rc = pc__opt_set_result(h, r->api, state, rep, r->err);
  h->js->free(ctx, state);
  h->js->free(ctx, rep);
  return rc;
}

static void run_free(gepa_run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  size_t c;

  for (c = 0; c < r->n_cands; c++) {
    free_texts(r, r->cands[c].texts);
    pc__opt_free(h, r->cands[c].val_scores);
  }
  pc__opt_free(h, r->cands);
  pc__opt_free(h, r->agg);
  pc__gepa_front_free(&r->front);
  pc__gepa_sampler_free(&r->sampler);
  pc__gepa_merge_log_free(&r->mlog);
  pc__opt_free(h, (void *)r->paths);
  pc__opt_free(h, (void *)r->sigs);
  h->js->free(ctx, r->outputs);
  h->js->free(ctx, r->program);
  h->js->free(ctx, r->train);
  h->js->free(ctx, r->val);
}

static int g_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  const gepa_opt *o = inst;
  gepa_run r;
  int rc;

  if (!o || !api || !PC_HAS_FIELD(api, pc_compile_api, set_result) ||
      !api->program || !api->dataset || !api->evaluate || !api->propose ||
      !api->seed || !api->record_trial || !api->set_result)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": compile: the host's "
                         "compile API lacks a function GEPA needs");
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.h = o->h;
  r.api = api;
  r.err = err;
  r.seed = api->seed(api->ctx);
  rc = search(&r);
  if (rc == PC_OK) {
    rc = finish(&r);
  } else if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Stopped by a cap or Ctrl-C: keep the best candidate so far (the
     * error already holds the cap's message, which stays). */
    (void)finish(&r);
  }
  run_free(&r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_optimizer_iface g_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "gepa",
  .create = g_create,
  .destroy = g_destroy,
  .estimate = g_estimate,
  .compile = g_compile,
  .settings = g_settings,
};

static int g_init(const pc_host_api *host, void **state, pc_error *err)
{
  int rc = pc__opt_init(host, "opt-gepa", state, err);

  if (!rc && !host->realloc) {
    pc__opt_fini(*state);
    *state = NULL;
    rc = pc__opt_error(err, PC_E_INVALID_ARG, "opt-gepa: bad host table");
  }
  return rc;
}

static const void *g_get_interface(void *state, const char *iface_id,
                                   uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(g_iface);
  return &g_iface;
}

static const pc_plugin_info g_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.gepa",
  .name = "gepa",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "GEPA: reflective instruction evolution with a Pareto front "
             "and merges",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = g_init,
  .fini = pc__opt_fini,
  .get_interface = g_get_interface,
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
  return &g_info;
}
