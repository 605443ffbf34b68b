/*
 * opt_better_together.c - the `better-together` optimizer plugin: DSPy's
 * BetterTogether (reference dspy-optimizers.md section 9.2). A strategy
 * such as "p -> w -> p" runs a prompt optimizer (p) and the fine-tuning
 * data export followed by a swap to the model fine-tuned from it (w) as
 * steps of one compile, each through the host's run_optimizer; the
 * program after each step is scored on val and the best one wins
 * (docs/optimizer-better-together.md).
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "bt_plan.h"

#define WHO "better-together"
#define FINETUNE_OPTIMIZER "export-finetune"
#define LABEL_MAX (PC__BT_MAX_STEPS * 5 + 16)

/* The scalar settings opt-common checks; the others are read here. */
enum { S_EXPORT_ONLY, S_SHUFFLE, S_SEED, S_COUNT };

static const pc__opt_spec specs[S_COUNT] = {
  {"export_only", PC__OPT_SET_BOOL, 0, 0, 0, 0, 0},
  {"shuffle_trainset_between_steps", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"seed", PC__OPT_SET_INT, 0, 0, 0, 0, 0},
};

#define KNOWN "strategy, prompt_optimizer, prompt_settings, " \
  "finetune_settings, finetuned_model, export_only, valset_ratio, " \
  "shuffle_trainset_between_steps, seed"

/* One configured optimizer. Every pointer is owned (host allocator or
 * pc.json/1 handles). */
typedef struct bt {
  const pc__opt_host *h;          /* borrowed: the plugin state */
  char *strategy;                 /* as given */
  char letters[PC__BT_MAX_STEPS + 1];
  size_t n_steps;
  char *prompt_optimizer;
  pc_json *prompt_settings;       /* an object */
  pc_json *finetune_settings;     /* an object */
  char *finetuned_model;          /* NULL: none */
  double valset_ratio;            /* in [0, 1) */
  pc__opt_value vals[S_COUNT];
} bt;

/* One candidate program: the baseline or the program after a step. */
typedef struct cand {
  pc_json *state;                 /* owned */
  char strategy[LABEL_MAX];
  double score;
  int has;                        /* scored on val */
} cand;

/* What one compile works with. */
typedef struct run {
  bt *o;
  const pc__opt_host *h;
  const pc_compile_api *api;
  void *ctx;                      /* the host's pc.json/1 context */
  uint64_t seed;
  pc_json *program;               /* owned: api->program() */
  int has_val;                    /* candidates are scored */
  int held_out;                   /* val is the head of the train split */
  const char *val_split;          /* "train", "val", or NULL (no val) */
  int64_t n_val;
  int64_t *train;                 /* owned: the steps' train indices */
  size_t n_train;
  int64_t *val_idx;               /* owned when held_out: 0..n_val-1 */
  cand cands[PC__BT_MAX_STEPS + 1];
  size_t n_cands;
  pc_json *steps;                 /* owned array: the report's "steps" */
  int flag;                       /* a step failed */
  char error[PC_ERROR_MESSAGE_MAX];
} run;

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

static char *dup_text(const pc__opt_host *h, const char *s, size_t len)
{
  char *d = pc__opt_alloc(h, len + 1);

  if (d) {
    memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

static void bt_destroy(void *inst)
{
  bt *o = inst;

  if (!o)
    return;
  pc__opt_free(o->h, o->strategy);
  pc__opt_free(o->h, o->prompt_optimizer);
  pc__opt_free(o->h, o->finetuned_model);
  o->h->js->free(o->h->host->ctx, o->prompt_settings);
  o->h->js->free(o->h->host->ctx, o->finetune_settings);
  pc__opt_free(o->h, o);
}

/* A string setting into *dst (replacing the default). empty_ok: "" is
 * allowed. */
static int take_string(const pc__opt_host *h, const char *key,
                       const pc_json *v, int empty_ok, char **dst,
                       pc_error *err)
{
  size_t len = 0;
  const char *s;

  if (h->js->type(v) != PC_JSON_STRING)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected a "
                         "string", key);
  s = h->js->get_string(v, &len);
  if (!len && !empty_ok)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: must not be "
                         "empty", key);
  pc__opt_free(h, *dst);
  if (!(*dst = dup_text(h, s, len)))
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

/* An object setting into *dst (replacing the default). */
static int take_object(const pc__opt_host *h, const char *key,
                       const pc_json *v, pc_json **dst, pc_error *err)
{
  pc_json *c;

  if (h->js->type(v) != PC_JSON_OBJECT)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected a JSON "
                         "object (the settings of that optimizer)", key);
  if (!(c = h->js->copy(h->host->ctx, v)))
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  h->js->free(h->host->ctx, *dst);
  *dst = c;
  return PC_OK;
}

/* Read one member of the settings object; scalars opt-common checks go
 * to `scalars`. */
static int read_setting(bt *o, const char *key, const pc_json *v,
                        pc_json *scalars, pc_error *err)
{
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  size_t i;

  if (!strcmp(key, "strategy"))
    return take_string(h, key, v, 1, &o->strategy, err);
  if (!strcmp(key, "prompt_optimizer"))
    return take_string(h, key, v, 0, &o->prompt_optimizer, err);
  if (!strcmp(key, "prompt_settings"))
    return take_object(h, key, v, &o->prompt_settings, err);
  if (!strcmp(key, "finetune_settings"))
    return take_object(h, key, v, &o->finetune_settings, err);
  if (!strcmp(key, "finetuned_model")) {
    if (h->js->type(v) == PC_JSON_NULL) {
      pc__opt_free(h, o->finetuned_model);
      o->finetuned_model = NULL;
      return PC_OK;
    }
    if (h->js->type(v) != PC_JSON_STRING)
      return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": finetuned_model: "
                           "expected null or a model id (a string)");
    return take_string(h, key, v, 0, &o->finetuned_model, err);
  }
  if (!strcmp(key, "valset_ratio")) {
    int32_t t = h->js->type(v);
    double d = h->js->get_double(v);

    if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) || !(d >= 0.0) ||
        !(d < 1.0))
      return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": valset_ratio: "
                           "expected a number in [0, 1)");
    o->valset_ratio = d;
    return PC_OK;
  }
  for (i = 0; i < S_COUNT; i++)
    if (!strcmp(specs[i].name, key))
      return pc__opt_json_set(h, scalars, key, h->js->copy(ctx, v), err);
  return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: unknown setting "
                       "(known: " KNOWN ")", key);
}

/* Settings that contradict each other or the strategy. */
static int check_strategy(bt *o, pc_error *err)
{
  char msg[200];
  int has_w;

  if (pc__bt_strategy_parse(o->strategy, o->letters, &o->n_steps, msg,
                            sizeof(msg)))
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s", msg);
  has_w = strchr(o->letters, 'w') != NULL;
  if (!strcmp(o->prompt_optimizer, WHO))
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": prompt_optimizer: "
                         "better-together cannot be its own step");
  if (has_w && !o->finetuned_model && !o->vals[S_EXPORT_ONLY].i)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": strategy: a w step "
                         "needs either finetuned_model (the id of the model "
                         "you fine-tuned from data exported before) or "
                         "export_only true (export the data and stop)");
  if (o->vals[S_EXPORT_ONLY].i && !has_w)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": export_only: the "
                         "strategy has no w step");
  if (o->finetuned_model && !has_w)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": finetuned_model: "
                         "the strategy has no w step to swap it in");
  if (o->finetuned_model && o->vals[S_EXPORT_ONLY].i)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": export_only: "
                         "conflicts with finetuned_model (export_only stops "
                         "at the first w step, before any model is swapped "
                         "in)");
  return PC_OK;
}

static int bt_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  void *ctx = h->host->ctx;
  pc_json *obj = NULL, *scalars = NULL;
  char *text = NULL;
  size_t text_len = 0, i, m;
  bt *o;
  int rc = PC_OK;

  *inst = NULL;
  if (!(o = pc__opt_calloc(h, 1, sizeof(*o))))
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  o->valset_ratio = 0.1;
  o->strategy = dup_text(h, "p -> w -> p", 11);
  o->prompt_optimizer = dup_text(h, "bootstrap-rs", 12);
  o->prompt_settings = h->js->new_object(ctx);
  o->finetune_settings = h->js->new_object(ctx);
  scalars = h->js->new_object(ctx);
  if (!o->strategy || !o->prompt_optimizer || !o->prompt_settings ||
      !o->finetune_settings || !scalars) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  if (settings_json && len) {
    if (h->js->parse(ctx, settings_json, len, PC_JSON_PARSE_STRICT, &obj,
                     NULL) != PC_OK) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: not valid "
                         "JSON");
      goto out;
    }
    if (h->js->type(obj) != PC_JSON_OBJECT) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": settings: expected "
                         "a JSON object");
      goto out;
    }
    m = h->js->object_len(obj);
    for (i = 0; i < m && !rc; i++) {
      const char *key;
      const pc_json *v;

      if (h->js->object_at(obj, i, &key, &v) == 0)
        rc = read_setting(o, key, v, scalars, err);
    }
    if (rc)
      goto out;
  }
  if ((rc = pc__opt_json_text(h, scalars, &text, &text_len, err)) ||
      (rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, text, text_len,
                                   o->vals, err)) ||
      (rc = check_strategy(o, err)))
    goto out;
  *inst = o;
  o = NULL;
out:
  pc__opt_free(h, text);
  h->js->free(ctx, scalars);
  h->js->free(ctx, obj);
  bt_destroy(o);
  return rc;
}

static int bt_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  bt *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *s = h->js->new_object(ctx);
  int rc;

  if (!s)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (pc__opt_json_set(h, s, "strategy", h->js->new_string(
                         ctx, o->strategy, strlen(o->strategy)), err) ||
      pc__opt_json_set(h, s, "prompt_optimizer", h->js->new_string(
                         ctx, o->prompt_optimizer,
                         strlen(o->prompt_optimizer)), err) ||
      pc__opt_json_set(h, s, "prompt_settings",
                       h->js->copy(ctx, o->prompt_settings), err) ||
      pc__opt_json_set(h, s, "finetune_settings",
                       h->js->copy(ctx, o->finetune_settings), err) ||
      pc__opt_json_set(h, s, "finetuned_model", o->finetuned_model
                       ? h->js->new_string(ctx, o->finetuned_model,
                                           strlen(o->finetuned_model))
                       : h->js->new_null(ctx), err) ||
      pc__opt_json_set(h, s, "export_only", h->js->new_bool(
                         ctx, (int32_t)o->vals[S_EXPORT_ONLY].i), err) ||
      pc__opt_json_set(h, s, "valset_ratio",
                       h->js->new_double(ctx, o->valset_ratio), err) ||
      pc__opt_json_set(h, s, "shuffle_trainset_between_steps",
                       h->js->new_bool(ctx, (int32_t)o->vals[S_SHUFFLE].i),
                       err) ||
      pc__opt_json_set(h, s, "seed", h->js->new_int(ctx, o->vals[S_SEED].i),
                       err))
    rc = PC_E_NOMEM;
  else
    rc = pc__opt_json_write(h, s, out, err);
  h->js->free(ctx, s);
  return rc;
}

/*
 * Only what better-together runs itself: the baseline and one evaluation
 * after each step, of |V| examples each. The steps' own costs are their
 * optimizers' estimates. Without --val the host's val split is the train
 * split and the val set only its held-out head, int(valset_ratio x |T|)
 * (none with valset_ratio 0); the sizes alone cannot tell that case from
 * a --val file of |T| examples, so |V| is counted: the most it can spend.
 */
static int bt_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  bt *o = inst;
  pc_json *info = NULL;
  int64_t n_val, r, runs;
  int rc;

  rc = pc__opt_json_parse(o->h, WHO ": estimate", info_json, len, &info,
                          err);
  if (rc)
    return rc;
  n_val = pc__opt_info_int(o->h, info, "val");
  r = pc__opt_info_int(o->h, info, "calls_per_run");
  o->h->js->free(o->h->host->ctx, info);
  if (r < 1)
    r = 1;
  runs = pc__bt_evaluations(o->letters, o->n_steps,
                            (int)o->vals[S_EXPORT_ONLY].i) * n_val;
  return pc__opt_write_estimate(o->h, runs * r, runs, 0, out, err);
}

/* ------------------------------------------------------------------------ */
/* Compile.                                                                 */

/* The ids of a split's examples as one JSON text (owned), to compare two
 * splits. */
static int split_ids(run *r, const pc_json *ds, char **out, size_t *len,
                     pc_error *err)
{
  const pc__opt_host *h = r->h;
  const pc_json *ex = h->js->object_get(ds, "examples");
  pc_json *ids = h->js->new_array(r->ctx);
  size_t i, n = ex ? h->js->array_len(ex) : 0;
  int rc = ids ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                       "memory");

  for (i = 0; i < n && !rc; i++) {
    const pc_json *id = h->js->object_get(h->js->array_get(ex, i), "id");

    rc = pc__opt_json_push(h, ids, id ? h->js->copy(r->ctx, id)
                                      : h->js->new_null(r->ctx), err);
  }
  if (!rc)
    rc = pc__opt_json_text(h, ids, out, len, err);
  h->js->free(r->ctx, ids);
  return rc;
}

/* The sha256 the host's info() gives split `name`, or NULL. */
static const char *split_sha(run *r, const pc_json *info, const char *name)
{
  const pc_json *s = r->h->js->object_get(info, "splits");

  return pc__opt_json_str(r->h, r->h->js->object_get(s, name), "sha256");
}

/*
 * Decide the val set as DSPy does: the user's val split when one was
 * given; else (the host's val split is then the train split itself) the
 * first int(valset_ratio x |T|) train examples, the rest being the
 * steps' train set; valset_ratio 0: no val at all.
 */
static int plan_splits(run *r, pc_error *err)
{
  const pc__opt_host *h = r->h;
  const pc_compile_api *api = r->api;
  pc_json *train = NULL, *val = NULL, *info = NULL;
  char *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0, i, n_all;
  int same, rc;

  if ((rc = api->dataset(api->ctx, PC_SPLIT_TRAIN, &train, err)) ||
      (rc = api->dataset(api->ctx, PC_SPLIT_VAL, &val, err)) ||
      (rc = split_ids(r, train, &a, &alen, err)) ||
      (rc = split_ids(r, val, &b, &blen, err)))
    goto out;
  n_all = h->js->array_len(h->js->object_get(train, "examples"));
  same = alen == blen && !memcmp(a, b, alen);
  if (same && PC_HAS_FIELD(api, pc_compile_api, info) && api->info) {
    const char *sa, *sb;

    if ((rc = api->info(api->ctx, &info, err)))
      goto out;
    sa = split_sha(r, info, "train");
    sb = split_sha(r, info, "val");
    same = !sa || !sb || !strcmp(sa, sb);
  }
  if (n_all == 0) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": the train split is "
                       "empty");
    goto out;
  }
  r->held_out = same;
  if (same) {
    r->n_val = pc__bt_val_count((int64_t)n_all, r->o->valset_ratio);
    if (r->n_val == 0 && r->o->valset_ratio > 0) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": valset_ratio: %g x "
                         "%zu train examples holds out no example for val; "
                         "give --val, raise valset_ratio or set it to 0",
                         r->o->valset_ratio, n_all);
      goto out;
    }
    r->has_val = r->n_val > 0;
    r->val_split = r->has_val ? PC_SPLIT_TRAIN : NULL;
  } else {
    r->n_val = (int64_t)h->js->array_len(h->js->object_get(val,
                                                           "examples"));
    if (r->n_val == 0) {
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": the val split is "
                         "empty");
      goto out;
    }
    r->has_val = 1;
    r->val_split = PC_SPLIT_VAL;
  }
  r->n_train = n_all - (size_t)(same ? r->n_val : 0);
  r->train = pc__opt_calloc(h, r->n_train, sizeof(*r->train));
  r->val_idx = pc__opt_calloc(h, r->n_val ? (size_t)r->n_val : 1,
                              sizeof(*r->val_idx));
  if (!r->train || !r->val_idx) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  for (i = 0; i < r->n_train; i++)
    r->train[i] = (int64_t)(n_all - r->n_train + i);
  for (i = 0; i < (size_t)r->n_val; i++)
    r->val_idx[i] = (int64_t)i;
out:
  pc__opt_free(h, a);
  pc__opt_free(h, b);
  h->js->free(r->ctx, info);
  h->js->free(r->ctx, train);
  h->js->free(r->ctx, val);
  return rc;
}

/* Score `state` on the val set: DSPy's percentage in *score and the
 * number of examples in *n. */
static int score_val(run *r, const pc_json *state, double *score,
                     int64_t *n, pc_error *err)
{
  const pc__opt_host *h = r->h;
  pc_json *res = NULL;
  const pc_json *v;
  int rc;

  rc = pc__opt_evaluate(h, r->api, state, r->val_split,
                        r->held_out ? r->val_idx : NULL,
                        r->held_out ? (size_t)r->n_val : 0, 0, NULL, &res,
                        err);
  if (rc == PC_OK) {
    v = h->js->object_get(res, "percent");
    *score = v ? h->js->get_double(v) : 0.0;
    v = h->js->object_get(res, "n");
    *n = v ? h->js->get_int(v) : 0;
  }
  h->js->free(r->ctx, res);
  return rc;
}

/* Record candidate c's evaluation as a trial. */
static int record(run *r, size_t c, int64_t n, pc_error *err)
{
  const pc__opt_host *h = r->h;
  const cand *k = &r->cands[c];
  const char *label = c ? k->strategy : "baseline";
  pc_json *t = h->js->new_object(r->ctx);
  int rc = t ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                     "memory");

  if (!rc)
    rc = pc__opt_json_set(h, t, "candidate",
                          h->js->new_int(r->ctx, (int64_t)c), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "label", h->js->new_string(
                            r->ctx, label, strlen(label)), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "split",
                          h->js->new_string(r->ctx, "val", 3), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "strategy", h->js->new_string(
                            r->ctx, k->strategy, strlen(k->strategy)), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "score", h->js->new_double(r->ctx,
                                                           k->score), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "n", h->js->new_int(r->ctx, n), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(r->ctx, k->state),
                          err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, err);
  h->js->free(r->ctx, t);
  return rc;
}

/* The best score so far (-1 when none). */
static double best_score(const run *r)
{
  double best = -1.0;
  size_t i;

  for (i = 0; i < r->n_cands; i++)
    if (r->cands[i].has && r->cands[i].score > best)
      best = r->cands[i].score;
  return best;
}

/*
 * Add a candidate: `state` (taken over, also on failure) after the first
 * k steps, scored on val when there is a val set. On PC_E_BUDGET or
 * PC_E_CANCELLED from the evaluation the candidate is dropped. *score
 * gets its score (-1 when not scored).
 */
static int add_candidate(run *r, pc_json *state, size_t k, double *score,
                         pc_error *err)
{
  cand *c = &r->cands[r->n_cands];
  int64_t n = 0;
  int rc = PC_OK;

  *score = -1.0;
  memset(c, 0, sizeof(*c));
  c->state = state;
  if (pc__bt_strategy_prefix(r->o->letters, k, c->strategy,
                             sizeof(c->strategy))) {
    rc = pc__opt_error(err, PC_E_INTERNAL, WHO ": strategy label too long");
    goto fail;
  }
  if (r->has_val) {
    if ((rc = score_val(r, state, &c->score, &n, err)))
      goto fail;
    c->has = 1;
    *score = c->score;
  }
  r->n_cands++;
  if (c->has && (rc = record(r, r->n_cands - 1, n, err)))
    return rc;
  pc__opt_progress(r->h, r->api, (int64_t)k, (int64_t)r->o->n_steps,
                   best_score(r));
  return PC_OK;
fail:
  r->h->js->free(r->ctx, state);
  memset(c, 0, sizeof(*c));
  return rc;
}

/* `state` with "model": the fine-tuned model on every predictor, in *out
 * (owned). */
static int swap_model(run *r, const pc_json *state, pc_json **out,
                      pc_error *err)
{
  const pc__opt_host *h = r->h;
  const pc_json *preds = h->js->object_get(r->program, "predictors");
  const char *model = r->o->finetuned_model;
  pc_json *s = h->js->copy(r->ctx, state);
  size_t i, n = preds ? h->js->array_len(preds) : 0;
  int rc = s ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                     "memory");

  for (i = 0; i < n && !rc; i++) {
    const char *path = pc__opt_json_str(h, h->js->array_get(preds, i),
                                        "path");
    const pc_json *cur;
    pc_json *e;

    if (!path)
      continue;
    cur = h->js->object_get(s, path);
    e = cur && h->js->type(cur) == PC_JSON_OBJECT
          ? h->js->copy(r->ctx, cur) : h->js->new_object(r->ctx);
    if (!e) {
      rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
      break;
    }
    rc = pc__opt_json_set(h, e, "model", h->js->new_string(
                            r->ctx, model, strlen(model)), err);
    if (rc)
      h->js->free(r->ctx, e);
    else
      rc = pc__opt_json_set(h, s, path, e, err);
  }
  if (rc) {
    h->js->free(r->ctx, s);
    s = NULL;
  }
  *out = s;
  return rc;
}

/* The run_optimizer request of step k (0-based) from `state`, as text in
 * *out (owned). */
static int step_request(run *r, size_t k, const pc_json *state,
                        const char *label, char **out, size_t *len,
                        pc_error *err)
{
  const pc__opt_host *h = r->h;
  void *ctx = r->ctx;
  int p = r->o->letters[k] == 'p';
  const char *name = p ? r->o->prompt_optimizer : FINETUNE_OPTIMIZER;
  pc_json *q = h->js->new_object(ctx), *train = h->js->new_array(ctx);
  pc_json *val = NULL;
  size_t i;
  int rc = q && train ? PC_OK : PC_E_NOMEM;

  for (i = 0; i < r->n_train && !rc; i++)
    rc = pc__opt_json_push(h, train, h->js->new_int(ctx, r->train[i]),
                           err);
  if (!rc && r->held_out && r->has_val) {
    pc_json *idx = h->js->new_array(ctx);

    rc = (val = h->js->new_object(ctx)) && idx ? PC_OK : PC_E_NOMEM;
    for (i = 0; i < (size_t)r->n_val && !rc; i++)
      rc = pc__opt_json_push(h, idx, h->js->new_int(ctx, r->val_idx[i]),
                             err);
    if (!rc)
      rc = pc__opt_json_set(h, val, "split",
                            h->js->new_string(ctx, PC_SPLIT_TRAIN, 5), err);
    if (!rc)
      rc = pc__opt_json_set(h, val, "indices", idx, err);
    else
      h->js->free(ctx, idx);
  }
  if (!rc)
    rc = pc__opt_json_set(h, q, "optimizer",
                          h->js->new_string(ctx, name, strlen(name)), err);
  if (!rc)
    rc = pc__opt_json_set(h, q, "settings", h->js->copy(
                            ctx, p ? r->o->prompt_settings
                                   : r->o->finetune_settings), err);
  if (!rc)
    rc = pc__opt_json_set(h, q, "state", h->js->copy(ctx, state), err);
  if (!rc) {
    rc = pc__opt_json_set(h, q, "train", train, err);
    train = NULL;
  }
  if (!rc) {
    rc = pc__opt_json_set(h, q, "val", val ? val : h->js->new_null(ctx),
                          err);
    val = NULL;
  }
  if (!rc)
    rc = pc__opt_json_set(h, q, "label",
                          h->js->new_string(ctx, label, strlen(label)), err);
  if (!rc)
    rc = pc__opt_json_text(h, q, out, len, err);
  if (rc == PC_E_NOMEM)
    pc__opt_error(err, rc, WHO ": out of memory");
  h->js->free(ctx, val);
  h->js->free(ctx, train);
  h->js->free(ctx, q);
  return rc;
}

/* The report's entry for step k, in *out (owned): what run_optimizer
 * answered (`ans`, may be NULL when the step failed). */
static int step_entry(run *r, size_t k, const char *label,
                      const pc_json *ans, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->h;
  void *ctx = r->ctx;
  char letter[2] = {r->o->letters[k], '\0'};
  const char *name = letter[0] == 'p' ? r->o->prompt_optimizer
                                      : FINETUNE_OPTIMIZER;
  const pc_json *trials = ans ? h->js->object_get(ans, "trials") : NULL;
  const char *stopped = ans ? pc__opt_json_str(h, ans, "stopped_by") : NULL;
  const pc_json *rep = ans ? h->js->object_get(ans, "report") : NULL;
  pc_json *e = h->js->new_object(ctx);
  int rc = e ? PC_OK : PC_E_NOMEM;

  *out = NULL;
  if (!rc &&
      (pc__opt_json_set(h, e, "letter", h->js->new_string(ctx, letter, 1),
                        NULL) ||
       pc__opt_json_set(h, e, "optimizer", h->js->new_string(
                          ctx, name, strlen(name)), NULL) ||
       pc__opt_json_set(h, e, "label", h->js->new_string(
                          ctx, label, strlen(label)), NULL) ||
       pc__opt_json_set(h, e, "trials", trials ? h->js->copy(ctx, trials)
                                               : h->js->new_null(ctx),
                        NULL) ||
       pc__opt_json_set(h, e, "score", h->js->new_null(ctx), NULL) ||
       pc__opt_json_set(h, e, "stopped_by", stopped
                        ? h->js->new_string(ctx, stopped, strlen(stopped))
                        : h->js->new_null(ctx), NULL) ||
       pc__opt_json_set(h, e, "exported",
                        letter[0] == 'w' && rep ? h->js->copy(ctx, rep)
                                                : h->js->new_null(ctx),
                        NULL)))
    rc = PC_E_NOMEM;
  if (rc) {
    h->js->free(ctx, e);
    return pc__opt_error(err, rc, WHO ": out of memory");
  }
  *out = e;
  return PC_OK;
}

/*
 * Run step k from the latest candidate. PC_OK: the step and its
 * evaluation are done (or, with export_only, the sequence ends: *stop
 * is set). PC_E_BUDGET / PC_E_CANCELLED: a cap stopped it. Any other
 * code: the step failed (its entry is in r->steps with "error").
 */
static int run_step(run *r, size_t k, int *stop, pc_error *err)
{
  const pc__opt_host *h = r->h;
  void *ctx = r->ctx;
  const pc_json *cur = r->cands[r->n_cands - 1].state;
  char label[32], *req = NULL;
  size_t len = 0;
  pc_json *ans = NULL, *entry = NULL, *next = NULL;
  double score = -1.0;
  int rc, rc2;

  *stop = 0;
  if (r->o->vals[S_SHUFFLE].i) {
    pc__opt_rng rng;

    /* DSPy shuffles the train list in place before every step, so the
     * orders build on one another. */
    pc__opt_rng_init(&rng, h, r->seed, "bt-shuffle", (uint64_t)k);
    pc__opt_rng_shuffle(&rng, r->train, r->n_train);
  }
  snprintf(label, sizeof(label), "%c (step %zu)", r->o->letters[k], k + 1);
  if ((rc = step_request(r, k, cur, label, &req, &len, err)))
    goto out;
  rc = r->api->run_optimizer(r->api->ctx, req, (uint64_t)len, &ans, err);
  if ((rc2 = step_entry(r, k, label, ans, &entry, err))) {
    rc = rc2;
    goto out;
  }
  if (rc)
    goto out;  /* failed, or stopped by a cap */
  if (r->o->letters[k] == 'w' && r->o->vals[S_EXPORT_ONLY].i) {
    *stop = 1;
    goto out;
  }
  if (r->o->letters[k] == 'w')
    rc = swap_model(r, h->js->object_get(ans, "state"), &next, err);
  else if (!(next = h->js->copy(ctx, h->js->object_get(ans, "state"))))
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (!rc)
    rc = add_candidate(r, next, k + 1, &score, err);  /* takes next */
  if (!rc && score >= 0)
    rc = pc__opt_json_set(h, entry, "score", h->js->new_double(ctx, score),
                          err);
out:
  if (entry) {
    /* A step that failed says why in its entry. */
    if (rc && rc != PC_E_BUDGET && rc != PC_E_CANCELLED) {
      const char *msg = err->message;

      pc__opt_json_set(h, entry, "error",
                       h->js->new_string(ctx, msg, strlen(msg)), NULL);
    }
    rc2 = pc__opt_json_push(h, r->steps, entry, err);  /* takes it over */
    if (rc2 && !rc)
      rc = rc2;
  }
  h->js->free(ctx, ans);
  pc__opt_free(h, req);
  return rc;
}

/* The report (see the docs) in *out (owned); *best gets the result's
 * candidate. */
static int make_report(run *r, size_t *best, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->h;
  void *ctx = r->ctx;
  double score[PC__BT_MAX_STEPS + 1];
  int has[PC__BT_MAX_STEPS + 1];
  size_t order[PC__BT_MAX_STEPS + 1], i;
  pc_json *rep = h->js->new_object(ctx), *list = h->js->new_array(ctx);
  pc_json *vs = h->js->new_object(ctx);
  int rc = rep && list && vs ? PC_OK : PC_E_NOMEM;

  *out = NULL;
  for (i = 0; i < r->n_cands; i++) {
    score[i] = r->cands[i].score;
    has[i] = r->cands[i].has;
  }
  pc__bt_rank(score, has, r->n_cands, order);
  /* DSPy returns the best with a val set, else the latest program. */
  *best = r->has_val ? order[0] : r->n_cands - 1;
  for (i = 0; i < r->n_cands && !rc; i++) {
    const cand *c = &r->cands[order[i]];
    pc_json *e = h->js->new_object(ctx);

    if (!e ||
        pc__opt_json_set(h, e, "score", c->has
                         ? h->js->new_double(ctx, c->score)
                         : h->js->new_null(ctx), NULL) ||
        pc__opt_json_set(h, e, "strategy", h->js->new_string(
                           ctx, c->strategy, strlen(c->strategy)), NULL) ||
        pc__opt_json_set(h, e, "state", h->js->copy(ctx, c->state), NULL)) {
      h->js->free(ctx, e);
      rc = PC_E_NOMEM;
    } else {
      rc = pc__opt_json_push(h, list, e, NULL);
    }
  }
  if (!rc) {
    rc = pc__opt_json_set(h, rep, "candidate_programs", list, NULL);
    list = NULL;
  }
  if (!rc)
    rc = pc__opt_json_set(h, rep, "flag_compilation_error_occurred",
                          h->js->new_bool(ctx, r->flag), NULL);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "error", r->flag
                          ? h->js->new_string(ctx, r->error,
                                              strlen(r->error))
                          : h->js->new_null(ctx), NULL);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "steps", h->js->copy(ctx, r->steps),
                          NULL);
  if (!rc)
    rc = pc__opt_json_set(h, vs, "split", r->has_val
                          ? h->js->new_string(ctx, r->val_split,
                                              strlen(r->val_split))
                          : h->js->new_null(ctx), NULL);
  if (!rc)
    rc = pc__opt_json_set(h, vs, "n", h->js->new_int(ctx, r->n_val), NULL);
  if (!rc) {
    rc = pc__opt_json_set(h, rep, "valset", vs, NULL);
    vs = NULL;
  }
  h->js->free(ctx, list);
  h->js->free(ctx, vs);
  if (rc) {
    h->js->free(ctx, rep);
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  *out = rep;
  return PC_OK;
}

/* Set the result: the best candidate (the latest without val) and the
 * report. */
static int finish(run *r, pc_error *err)
{
  pc_json *rep = NULL;
  size_t best = 0;
  int rc = make_report(r, &best, &rep, err);

  if (!rc)
    rc = pc__opt_set_result(r->h, r->api, r->cands[best].state, rep, err);
  r->h->js->free(r->ctx, rep);
  return rc;
}

static int bt_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  bt *o = inst;
  const pc__opt_host *h = o->h;
  run r;
  double score;
  size_t k, i;
  int rc, stop = 0;

  memset(&r, 0, sizeof(r));
  r.o = o;
  r.h = h;
  r.api = api;
  r.ctx = h->host->ctx;
  if (!PC_HAS_FIELD(api, pc_compile_api, run_optimizer) ||
      !api->run_optimizer)
    return pc__opt_error(err, PC_E_UNSUPPORTED, WHO ": the host cannot run "
                         "optimizer steps (run_optimizer, ABI 1.1)");
  r.seed = api->seed(api->ctx);
  if ((rc = api->program(api->ctx, &r.program, err)) ||
      (rc = plan_splits(&r, err)))
    goto out;
  if (!(r.steps = h->js->new_array(r.ctx))) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  /* The baseline: the starting program as it is. */
  {
    pc_json *start = h->js->new_object(r.ctx);

    if (!start) {
      rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
      goto out;
    }
    if ((rc = add_candidate(&r, start, 0, &score, err)))
      goto stopped;
  }
  for (k = 0; k < o->n_steps && !stop; k++) {
    rc = run_step(&r, k, &stop, err);
    if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED || rc == PC_E_NOMEM)
      goto stopped;
    if (rc) {
      /* DSPy: any failure of a step ends the sequence; the best program
       * so far is the result, with the flag set. */
      r.flag = 1;
      snprintf(r.error, sizeof(r.error), "%s", err->message);
      *err = (pc_error)PC_ERROR_INIT;
      rc = PC_OK;
      break;
    }
  }
  rc = finish(&r, err);
  goto out;
stopped:
  if ((rc == PC_E_BUDGET || rc == PC_E_CANCELLED) && r.n_cands > 0) {
    pc_error e2 = PC_ERROR_INIT;

    finish(&r, &e2);
  } else if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Stopped before the baseline was scored: the starting program. */
    pc_json *start = h->js->new_object(r.ctx);
    pc_error e2 = PC_ERROR_INIT;

    if (start)
      pc__opt_set_result(h, api, start, NULL, &e2);
    h->js->free(r.ctx, start);
  }
out:
  for (i = 0; i < r.n_cands; i++)
    h->js->free(r.ctx, r.cands[i].state);
  h->js->free(r.ctx, r.steps);
  h->js->free(r.ctx, r.program);
  pc__opt_free(h, r.train);
  pc__opt_free(h, r.val_idx);
  return rc;
}

static const pc_optimizer_iface bt_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "better-together",
  .create = bt_create,
  .destroy = bt_destroy,
  .estimate = bt_estimate,
  .compile = bt_compile,
  .settings = bt_settings,
};

static int bt_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-better-together", state, err);
}

static const void *bt_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(bt_iface);
  return &bt_iface;
}

static const pc_plugin_info bt_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.better-together",
  .name = "better-together",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "BetterTogether: prompt-optimizer and fine-tuning steps in "
             "sequence, the best program on val",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = bt_init,
  .fini = pc__opt_fini,
  .get_interface = bt_get_interface,
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
  return &bt_info;
}
