/*
 * opt_miprov2.c - the `miprov2` optimizer plugin: DSPy's MIPROv2
 * (reference dspy-optimizers.md section 6): candidate demo sets
 * bootstrapped from train, instructions proposed by the prompt LM from a
 * summary of the data, a description of the program and example demos,
 * then a Bayesian search (tpe.h) over (instruction, demo set) per
 * predictor on minibatches of val with periodic full evaluations
 * (docs/optimizer-miprov2.md).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "../opt-common/fewshot.h"
#include "mipro_util.h"
#include "tpe.h"

#define WHO "miprov2"
#define ROLE "prompt_lm"
/* DSPy's module constants. */
#define ZEROSHOT_BOOTSTRAPPED 3   /* BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT */
#define MIN_MINIBATCH_SIZE 50
#define DEMOS_IN_CONTEXT 3        /* num_demos_in_context of the proposer */
#define SUMMARY_MAX_CALLS 10      /* create_dataset_summary's max_calls */
#define SUMMARY_MAX_SKIPS 5
#define ROLLOUT_MAX 1000000000    /* rng.randint(0, 10**9) */
/* Caps that keep the arithmetic bounded; far beyond any useful run. */
#define MAX_CANDIDATES 1000
#define MAX_TRIALS 100000

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

/* The settings opt-common checks; auto, num_candidates, num_trials and
 * init_temperature (null or a string, nullable integers, a number with a
 * non-null default) are checked here. */
#define S_MAX_BOOT 0
#define S_MAX_LABELED 1
#define S_SEED 2
#define S_MAX_ERRORS 3
#define S_METRIC_THRESHOLD 4
#define S_MINIBATCH 5
#define S_MINIBATCH_SIZE 6
#define S_FULL_EVAL_STEPS 7
#define S_PROGRAM_AWARE 8
#define S_DATA_AWARE 9
#define S_VIEW_BATCH 10
#define S_TIP_AWARE 11
#define S_FEWSHOT_AWARE 12
#define S_TRACK_STATS 13
#define S_COUNT 14

static const pc__opt_spec specs[S_COUNT] = {
  {"max_bootstrapped_demos", PC__OPT_SET_INT, 0, 4, 0, 0, 0},
  {"max_labeled_demos", PC__OPT_SET_INT, 0, 4, 0, 0, 0},
  {"seed", PC__OPT_SET_INT, 0, 9, 0, 0, 0},
  {"max_errors", PC__OPT_SET_INT, 1, 10, 0, 0, 0},
  {"metric_threshold", PC__OPT_SET_NUM, 0, 0, 0.0, 1.0, 0},
  {"minibatch", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"minibatch_size", PC__OPT_SET_INT, 1, 35, 0, 0, 0},
  {"minibatch_full_eval_steps", PC__OPT_SET_INT, 1, 5, 0, 0, 0},
  {"program_aware_proposer", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"data_aware_proposer", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"view_data_batch_size", PC__OPT_SET_INT, 1, 10, 0, 0, 0},
  {"tip_aware_proposer", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"fewshot_aware_proposer", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"track_stats", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
};

/* DSPy's AUTO_RUN_SETTINGS, by auto level 1..3. */
static const char *const auto_names[4] = {NULL, "light", "medium", "heavy"};
static const int64_t auto_n[4] = {0, 6, 12, 18};
static const int64_t auto_val[4] = {0, 100, 300, 1000};

/* One configured optimizer. */
typedef struct mipro {
  const pc__opt_host *h;     /* borrowed: the plugin state */
  int auto_level;            /* 0: null, 1: light, 2: medium, 3: heavy */
  int64_t num_candidates;    /* -1: null */
  int64_t num_trials;        /* -1: null */
  double init_temperature;
  pc__opt_value vals[S_COUNT];
} mipro;

/* What the settings make of a program with P predictors (6.2, 6.3). */
typedef struct plan {
  int zeroshot;          /* no demos searched: instructions only */
  int64_t n_fewshot;     /* N_f: demo sets per predictor */
  int64_t n_instruct;    /* N_i: instruction proposals per predictor */
  int64_t num_trials;    /* K */
  int64_t boot_max;      /* stage 1's max_bootstrapped_demos */
  int64_t label_max;     /* stage 1's max_labeled_demos */
  int64_t val_size;      /* auto: the preset's val size; else -1 */
} plan;

static void make_plan(const mipro *o, int64_t P, plan *pl)
{
  int64_t n;

  memset(pl, 0, sizeof(*pl));
  pl->zeroshot = o->vals[S_MAX_BOOT].i == 0 && o->vals[S_MAX_LABELED].i == 0;
  pl->boot_max = pl->zeroshot ? ZEROSHOT_BOOTSTRAPPED : o->vals[S_MAX_BOOT].i;
  pl->label_max = pl->zeroshot ? 0 : o->vals[S_MAX_LABELED].i;
  if (o->auto_level) {
    n = auto_n[o->auto_level];
    pl->n_fewshot = n;
    pl->n_instruct = pl->zeroshot ? n : (int64_t)(0.5 * (double)n);
    pl->num_trials = pc__mipro_num_trials(n, P < 1 ? 1 : P, pl->zeroshot);
    pl->val_size = auto_val[o->auto_level];
  } else {
    pl->n_fewshot = o->num_candidates;
    pl->n_instruct = o->num_candidates;
    pl->num_trials = o->num_trials;
    pl->val_size = -1;
  }
}

/* Whether demo set `s` (DSPy's seed s - 3) is a BootstrapFewShot run. */
static int set_is_bootstrap(const plan *pl, int64_t s)
{
  int64_t seed = s - 3;

  if (seed == -3)
    return 0;
  return !(seed == -2 && pl->label_max > 0);
}

static int read_nullable_count(const pc__opt_host *h, const pc_json *v,
                               const char *name, int64_t max, int64_t *out,
                               pc_error *err)
{
  int32_t t = h->js->type(v);

  if (t == PC_JSON_NULL) {
    *out = -1;
    return PC_OK;
  }
  if (t != PC_JSON_INT || h->js->get_int(v) < 1 || h->js->get_int(v) > max)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: expected null or "
                         "an integer from 1 to %lld", name, (long long)max);
  *out = h->js->get_int(v);
  return PC_OK;
}

/* Check the custom settings of `obj` into o and copy the others to
 * `rest` (owned by the caller). */
static int read_custom(mipro *o, const pc_json *obj, pc_json *rest,
                       pc_error *err)
{
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  size_t i, j, m = h->js->object_len(obj);
  int rc = PC_OK;

  for (i = 0; !rc && i < m; i++) {
    const char *key;
    const pc_json *v;
    int known = 0;

    if (h->js->object_at(obj, i, &key, &v) != 0)
      break;
    if (!strcmp(key, "auto")) {
      const char *s = h->js->type(v) == PC_JSON_STRING
                      ? h->js->get_string(v, NULL) : NULL;

      o->auto_level = -1;
      if (h->js->type(v) == PC_JSON_NULL)
        o->auto_level = 0;
      for (j = 1; s && j < 4; j++)
        if (!strcmp(s, auto_names[j]))
          o->auto_level = (int)j;
      if (o->auto_level < 0)
        rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": auto: expected "
                           "\"light\", \"medium\", \"heavy\" or null");
    } else if (!strcmp(key, "num_candidates")) {
      rc = read_nullable_count(h, v, key, MAX_CANDIDATES,
                               &o->num_candidates, err);
    } else if (!strcmp(key, "num_trials")) {
      rc = read_nullable_count(h, v, key, MAX_TRIALS, &o->num_trials, err);
    } else if (!strcmp(key, "init_temperature")) {
      int32_t t = h->js->type(v);
      double d = h->js->get_double(v);

      if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) || !isfinite(d) ||
          d < 0 || d > 2)
        rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": init_temperature: "
                           "expected a number from 0 to 2");
      o->init_temperature = d;
    } else {
      for (j = 0; j < S_COUNT; j++)
        if (!strcmp(specs[j].name, key))
          known = 1;
      if (!known)
        rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": %s: unknown "
                           "setting (see docs/optimizer-miprov2.md for the "
                           "settings miprov2 takes)", key);
      else
        rc = pc__opt_json_set(h, rest, key, h->js->copy(ctx, v), err);
    }
  }
  return rc;
}

/* The rules of reference 6.2 that the settings alone decide. */
static int check_settings(const mipro *o, pc_error *err)
{
  plan pl;

  if (o->auto_level && (o->num_candidates >= 0 || o->num_trials >= 0))
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": auto \"%s\" sets "
                         "num_candidates and num_trials itself; give them "
                         "only with auto null (num_candidates %s, num_trials"
                         " %s)", auto_names[o->auto_level],
                         o->num_candidates >= 0 ? "given" : "not given",
                         o->num_trials >= 0 ? "given" : "not given");
  if (!o->auto_level && o->num_candidates < 0)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": num_candidates: "
                         "required when auto is null (an integer >= 1)");
  if (!o->auto_level && o->num_trials < 0) {
    int zs = o->vals[S_MAX_BOOT].i == 0 && o->vals[S_MAX_LABELED].i == 0;
    int64_t n = o->num_candidates;

    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": num_trials: "
                         "required when auto is null; with num_candidates "
                         "%lld we suggest num_trials %lld for a one-"
                         "predictor program (int(max(2 v log2(%lld), 1.5 x "
                         "%lld)), v = %s)", (long long)n,
                         (long long)pc__mipro_num_trials(n, 1, zs),
                         (long long)n, (long long)n,
                         zs ? "the number of predictors"
                            : "2 x the number of predictors");
  }
  make_plan(o, 1, &pl);
  /* DSPy's randint(1, 0) crash (reference section 12, quirk 10). */
  if (!pl.zeroshot && pl.boot_max == 0 && pl.n_fewshot > 3)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": max_bootstrapped_"
                         "demos: must be >= 1 when max_labeled_demos > 0 "
                         "and there are more than 3 demo sets (the shuffled"
                         " sets draw their size from 1 to "
                         "max_bootstrapped_demos)");
  return PC_OK;
}

static int mp_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  void *ctx = h->host->ctx;
  pc_json *obj = NULL, *rest = NULL;
  char *text = NULL;
  size_t text_len = 0;
  mipro *o;
  int rc = PC_OK;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  o->auto_level = 1;
  o->num_candidates = -1;
  o->num_trials = -1;
  o->init_temperature = 1.0;
  rest = h->js->new_object(ctx);
  if (!rest) {
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
    rc = read_custom(o, obj, rest, err);
    if (rc)
      goto out;
  }
  rc = pc__opt_json_text(h, rest, &text, &text_len, err);
  if (!rc)
    rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, text, text_len,
                                o->vals, err);
  if (!rc)
    rc = check_settings(o, err);
out:
  h->js->free(ctx, obj);
  h->js->free(ctx, rest);
  pc__opt_free(h, text);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static void mp_destroy(void *inst)
{
  mipro *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int mp_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  mipro *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  size_t i;
  int rc = obj ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of "
                                       "memory");

  if (!rc)
    rc = pc__opt_json_set(h, obj, "auto", o->auto_level
                          ? h->js->new_string(ctx, auto_names[o->auto_level],
                                              strlen(auto_names[
                                                o->auto_level]))
                          : h->js->new_null(ctx), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "num_candidates", o->num_candidates >= 0
                          ? h->js->new_int(ctx, o->num_candidates)
                          : h->js->new_null(ctx), err);
  if (!rc)
    rc = pc__opt_json_set(h, obj, "num_trials", o->num_trials >= 0
                          ? h->js->new_int(ctx, o->num_trials)
                          : h->js->new_null(ctx), err);
  for (i = 0; !rc && i < S_COUNT; i++) {
    const pc__opt_value *v = &o->vals[i];
    pc_json *j;

    if (specs[i].type == PC__OPT_SET_INT)
      j = h->js->new_int(ctx, v->i);
    else if (specs[i].type == PC__OPT_SET_BOOL)
      j = h->js->new_bool(ctx, (int32_t)v->i);
    else
      j = v->is_null ? h->js->new_null(ctx) : h->js->new_double(ctx, v->d);
    rc = pc__opt_json_set(h, obj, specs[i].name, j, err);
    if (!rc && i == S_SEED)
      rc = pc__opt_json_set(h, obj, "init_temperature",
                            h->js->new_double(ctx, o->init_temperature),
                            err);
  }
  if (!rc)
    rc = pc__opt_json_write(h, obj, out, err);
  h->js->free(ctx, obj);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* estimate()                                                               */

static int64_t sat_add(int64_t a, int64_t b)
{
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
  if (a <= 0 || b <= 0)
    return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

/* Reference 6.7: stage 1 bootstrap runs of at most |T'| attempts each,
 * stage 2 proposal calls, stage 3 evaluations. */
static int mp_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  mipro *o = inst;
  const pc__opt_host *h = o->h;
  pc_json *info = NULL;
  const pc_json *same;
  int64_t T, V, P, R, s, boots = 0, runs, props = 0, K, m, steps, sets;
  int minibatch;
  plan pl;
  int rc;

  rc = pc__opt_json_parse(h, WHO ": estimate", info_json, len, &info, err);
  if (rc)
    return rc;
  T = pc__opt_info_int(h, info, "train");
  V = pc__opt_info_int(h, info, "val");
  P = pc__opt_info_int(h, info, "predictors");
  R = pc__opt_info_int(h, info, "calls_per_run");
  same = h->js->object_get(info, "val_is_train");
  if (same && h->js->type(same) == PC_JSON_BOOL && h->js->get_bool(same) &&
      T >= 2) {
    V = pc__mipro_default_val_size(T);
    T -= V;
  }
  h->js->free(h->host->ctx, info);
  if (P < 1)
    P = 1;
  if (R < 1)
    R = 1;
  make_plan(o, P, &pl);
  if (pl.val_size >= 0 && V > pl.val_size)
    V = pl.val_size;
  minibatch = pl.val_size >= 0 ? V > MIN_MINIBATCH_SIZE
                               : (int)o->vals[S_MINIBATCH].i;
  /* The check compile makes, made here too so the host can refuse the
   * compile before its baseline evaluation. */
  if (minibatch && o->vals[S_MINIBATCH_SIZE].i > V)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": minibatch_size: "
                         "%lld is more than the %lld val examples; lower it "
                         "or set minibatch to false",
                         (long long)o->vals[S_MINIBATCH_SIZE].i,
                         (long long)V);
  for (s = 0; s < pl.n_fewshot; s++)
    if (set_is_bootstrap(&pl, s) && (s != 2 || pl.boot_max > 0))
      boots++;
  runs = sat_mul(boots, T);
  K = pl.num_trials;
  m = o->vals[S_MINIBATCH_SIZE].i < V ? o->vals[S_MINIBATCH_SIZE].i : V;
  steps = o->vals[S_FULL_EVAL_STEPS].i;
  if (minibatch)
    runs = sat_add(runs, sat_add(V, sat_add(sat_mul(K, m), sat_mul(
      pc__mipro_full_evals(K, steps), V))));
  else
    runs = sat_add(runs, sat_mul(K + 1, V));
  if (o->vals[S_DATA_AWARE].i && T > 0) {
    int64_t view = o->vals[S_VIEW_BATCH].i;
    int64_t more = (T + view - 1) / view - 1;

    props = 2 + (more < SUMMARY_MAX_CALLS - 1 ? more
                                              : SUMMARY_MAX_CALLS - 1);
  }
  sets = pl.n_instruct < pl.n_fewshot ? pl.n_instruct : pl.n_fewshot;
  props = sat_add(props, sat_mul(sat_mul(P, sets),
                                 o->vals[S_PROGRAM_AWARE].i ? 3 : 1));
  return pc__opt_write_estimate(h, sat_mul(runs, R), runs, props, out, err);
}

/* ------------------------------------------------------------------------ */
/* Strings.                                                                 */

static char *dup_str(const pc__opt_host *h, const char *s, size_t n)
{
  char *p = pc__opt_alloc(h, n + 1);

  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* strip_prefix applied to s, as a new string (pc__opt_free). */
static char *stripped(const pc__opt_host *h, const char *s)
{
  size_t a, b;

  pc__mipro_strip_prefix(s, strlen(s), &a, &b);
  return dup_str(h, s + a, b - a);
}

/* ------------------------------------------------------------------------ */
/* One compile.                                                             */

/* A (instruction, demo set) combination tried by the search. */
typedef struct combo {
  int64_t *params;     /* owned: n_params indices */
  double *mb;          /* owned: its minibatch scores, in trial order */
  size_t n_mb, cap_mb;
  int fully;           /* DSPy's fully_evaled_param_combos */
  int has_full;
  double full;         /* its full-val score when has_full */
  int is_default;      /* the starting program (combo 0) */
} combo;

/* One evaluation of stage 3, for the report's candidate lists. */
typedef struct evalrec {
  int full;
  double score;
  size_t combo;
} evalrec;

typedef struct run {
  const mipro *o;
  const pc__opt_host *h;
  const pc_compile_api *api;
  pc_error *err;
  pc__opt_fewshot fx;        /* the program and the train split */
  plan pl;
  size_t P;
  /* Splits. */
  const char *val_split;     /* "val", or "train" for the default split */
  int same_split;            /* no --val: val is split off train */
  int64_t *train_idx;        /* owned: T', indices into train */
  size_t n_train;
  int64_t *val_idx;          /* owned: V, indices into val_split */
  size_t n_val;
  int minibatch;
  /* Stage 1. */
  pc_json **sets;            /* owned: n_sets demo-set states */
  size_t n_sets;
  int have_demos;            /* the sets exist (DSPy: demo_candidates) */
  char *demo_error;          /* owned: why they do not, or NULL */
  /* Stage 2. */
  char *summary;             /* owned: the dataset summary, or NULL */
  char *program_code;        /* owned: the program's pseudo-code */
  char ***instr;             /* owned: P arrays of n_instr[i] texts */
  size_t *n_instr;
  int program_aware;
  int64_t prompt_calls;
  /* Stage 3. */
  size_t n_params;
  size_t stride;             /* params per predictor: 1 or 2 */
  int64_t *n_choices;        /* owned: n_params */
  int64_t *hist_params;      /* owned: the TPE history */
  double *hist_values;
  size_t n_hist, cap_hist;
  combo *combos;             /* owned: combo 0 is the default program */
  size_t n_combos, cap_combos;
  evalrec *recs;             /* owned */
  size_t n_recs, cap_recs;
  int have_best;
  double best_score;
  size_t best_combo;         /* combo of the best full score */
  double default_score;
  int have_default;
  int64_t evals_done, evals_planned;
  int stopped;
} run;

static int oom(run *r)
{
  return pc__opt_error(r->err, PC_E_NOMEM, WHO ": out of memory");
}

/* Errors that end the compile even where DSPy would carry on. */
static int fatal(int rc)
{
  return rc == PC_E_BUDGET || rc == PC_E_CANCELLED || rc == PC_E_NOMEM;
}

/* An array of `size`-byte elements with room for n + 1 of them: `arr`
 * itself when its *cap elements suffice, else `arr` grown (*cap updated;
 * the old pointer is then no longer valid). NULL, with the error recorded
 * and `arr` untouched and still the caller's, when out of memory or when
 * the new size in bytes would not fit in a size_t. */
static void *grow(run *r, void *arr, size_t *cap, size_t n, size_t size)
{
  size_t want;
  void *p;

  if (n < *cap)
    return arr;
  want = *cap ? *cap * 2 : 16;
  if (*cap > SIZE_MAX / 2 || want > SIZE_MAX / size) {
    oom(r);
    return NULL;
  }
  p = r->h->host->realloc(r->h->host->ctx, arr, want * size);
  if (!p) {
    oom(r);
    return NULL;
  }
  *cap = want;
  return p;
}

static const pc_json *predictor(const run *r, size_t i)
{
  return r->h->js->array_get(r->h->js->object_get(r->fx.program,
                                                  "predictors"), i);
}

static const pc_json *signature(const run *r, size_t i)
{
  return r->h->js->object_get(predictor(r, i), "signature");
}

/* Predictor i's instructions as they start (the signature's when the
 * state gives none). Borrowed. */
static const char *start_instruction(const run *r, size_t i)
{
  const char *s = pc__opt_json_str(r->h, predictor(r, i), "instructions");

  if (!s || !*s)
    s = pc__opt_json_str(r->h, signature(r, i), "instructions");
  return s ? s : "";
}

static void run_free(run *r)
{
  const pc__opt_host *h = r->h;
  size_t i, j;

  for (i = 0; r->sets && i < r->n_sets; i++)
    h->js->free(h->host->ctx, r->sets[i]);
  pc__opt_free(h, r->sets);
  for (i = 0; r->instr && i < r->P; i++) {
    for (j = 0; r->instr[i] && j < r->n_instr[i]; j++)
      pc__opt_free(h, r->instr[i][j]);
    pc__opt_free(h, r->instr[i]);
  }
  pc__opt_free(h, r->instr);
  pc__opt_free(h, r->n_instr);
  for (i = 0; r->combos && i < r->n_combos; i++) {
    pc__opt_free(h, r->combos[i].params);
    pc__opt_free(h, r->combos[i].mb);
  }
  pc__opt_free(h, r->combos);
  pc__opt_free(h, r->recs);
  pc__opt_free(h, r->hist_params);
  pc__opt_free(h, r->hist_values);
  pc__opt_free(h, r->n_choices);
  pc__opt_free(h, r->train_idx);
  pc__opt_free(h, r->val_idx);
  pc__opt_free(h, r->demo_error);
  pc__opt_free(h, r->summary);
  pc__opt_free(h, r->program_code);
  pc__opt_fewshot_close(&r->fx);
}

/* ------------------------------------------------------------------------ */
/* Splits (6.2, 6.3).                                                       */

static int same_id(const pc__opt_host *h, const pc_json *a,
                   const pc_json *b)
{
  int32_t ta = a ? h->js->type(a) : PC_JSON_NULL;
  int32_t tb = b ? h->js->type(b) : PC_JSON_NULL;
  size_t la = 0, lb = 0;
  const char *sa, *sb;

  if (ta != tb)
    return 0;
  if (ta == PC_JSON_INT)
    return h->js->get_int(a) == h->js->get_int(b);
  if (ta != PC_JSON_STRING)
    return ta == PC_JSON_NULL;
  sa = h->js->get_string(a, &la);
  sb = h->js->get_string(b, &lb);
  return la == lb && !memcmp(sa, sb, la);
}

static int64_t *index_list(run *r, int64_t first, size_t n)
{
  int64_t *v = pc__opt_calloc(r->h, n ? n : 1, sizeof(*v));
  size_t i;

  for (i = 0; v && i < n; i++)
    v[i] = first + (int64_t)i;
  return v;
}

static int setup_splits(run *r)
{
  const pc__opt_host *h = r->h;
  pc_json *val = NULL;
  const pc_json *vex;
  size_t nv, i, nt = r->fx.n_train;
  int rc;

  rc = r->api->dataset(r->api->ctx, PC_SPLIT_VAL, &val, r->err);
  if (rc)
    return rc;
  vex = h->js->object_get(val, "examples");
  nv = vex ? h->js->array_len(vex) : 0;
  r->same_split = nv == nt;
  for (i = 0; r->same_split && i < nt; i++)
    r->same_split = same_id(h, h->js->object_get(h->js->array_get(
                                  r->fx.examples, i), "id"),
                            h->js->object_get(h->js->array_get(vex, i),
                                              "id"));
  h->js->free(h->host->ctx, val);
  if (r->same_split) {
    /* DSPy's default: val is the last min(1000, max(1, int(0.8 |T|))),
     * train the ones before. */
    int64_t vs;

    if (nt < 2)
      return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the train split"
                           " needs at least 2 examples when no --val is "
                           "given (it is split into train and val)");
    vs = pc__mipro_default_val_size((int64_t)nt);
    r->val_split = PC_SPLIT_TRAIN;
    r->n_train = nt - (size_t)vs;
    r->n_val = (size_t)vs;
    r->train_idx = index_list(r, 0, r->n_train);
    r->val_idx = index_list(r, (int64_t)r->n_train, r->n_val);
  } else {
    if (nv == 0)
      return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": the val split "
                           "is empty");
    r->val_split = PC_SPLIT_VAL;
    r->n_train = nt;
    r->n_val = nv;
    r->train_idx = index_list(r, 0, nt);
    r->val_idx = index_list(r, 0, nv);
  }
  if (!r->train_idx || !r->val_idx)
    return oom(r);
  /* Auto mode subsamples val (in random order) and decides minibatch. */
  if (r->pl.val_size >= 0) {
    pc__opt_rng rng;
    size_t k = r->n_val < (size_t)r->pl.val_size ? r->n_val
                                                 : (size_t)r->pl.val_size;

    pc__opt_rng_init(&rng, h, r->fx.seed, "miprov2-valset", 0);
    pc__opt_rng_sample(&rng, r->val_idx, r->n_val, k);
    r->n_val = k;
    r->minibatch = r->n_val > MIN_MINIBATCH_SIZE;
  } else {
    r->minibatch = (int)r->o->vals[S_MINIBATCH].i;
  }
  if (r->minibatch &&
      r->o->vals[S_MINIBATCH_SIZE].i > (int64_t)r->n_val)
    return pc__opt_error(r->err, PC_E_INVALID_ARG, WHO ": minibatch_size: "
                         "%lld is more than the %zu val examples; lower it "
                         "or set minibatch to false",
                         (long long)r->o->vals[S_MINIBATCH_SIZE].i,
                         r->n_val);
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Trials.                                                                  */

static int set_str(run *r, pc_json *o, const char *key, const char *s)
{
  return pc__opt_json_set(r->h, o, key,
                          r->h->js->new_string(r->h->host->ctx, s,
                                               strlen(s)), r->err);
}

static int set_int(run *r, pc_json *o, const char *key, int64_t v)
{
  return pc__opt_json_set(r->h, o, key,
                          r->h->js->new_int(r->h->host->ctx, v), r->err);
}

static int set_dbl(run *r, pc_json *o, const char *key, double v)
{
  return pc__opt_json_set(r->h, o, key,
                          r->h->js->new_double(r->h->host->ctx, v), r->err);
}

/* {"<path>": {"instruction": i, "demos": j}} for a point of the search
 * (demos absent when the search has no demo parameter). Owned. */
static pc_json *params_json(run *r, const int64_t *params)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  size_t i;

  for (i = 0; obj && i < r->P; i++) {
    pc_json *one = h->js->new_object(ctx);
    int rc = one ? set_int(r, one, "instruction", params[i * r->stride])
                 : PC_E_NOMEM;

    if (!rc && r->stride == 2)
      rc = set_int(r, one, "demos", params[i * r->stride + 1]);
    if (rc) {
      h->js->free(ctx, one);
      h->js->free(ctx, obj);
      return NULL;
    }
    if (pc__opt_json_set(h, obj, r->fx.paths[i], one, r->err)) {
      h->js->free(ctx, obj);
      return NULL;
    }
  }
  return obj;
}

/* Demos of predictor `path` in demo set s (borrowed), or NULL. */
static const pc_json *set_demos(const run *r, size_t s, const char *path)
{
  const pc_json *p = r->h->js->object_get(r->sets[s], path);

  return p ? r->h->js->object_get(p, "demos") : NULL;
}

/* The state of a point of the search, owned: each predictor's
 * instruction candidate and, when demos are searched, its demo set. */
static pc_json *point_state(run *r, const int64_t *params)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  size_t i;

  for (i = 0; obj && i < r->P; i++) {
    pc_json *one = h->js->new_object(ctx);
    int rc = one ? set_str(r, one, "instructions",
                           r->instr[i][params[i * r->stride]])
                 : PC_E_NOMEM;

    if (!rc && r->stride == 2) {
      const pc_json *d = set_demos(r, (size_t)params[i * r->stride + 1],
                                   r->fx.paths[i]);

      rc = pc__opt_json_set(h, one, "demos", d ? h->js->copy(ctx, d)
                                               : h->js->new_array(ctx),
                            r->err);
    }
    if (rc) {
      h->js->free(ctx, one);
      h->js->free(ctx, obj);
      return NULL;
    }
    if (pc__opt_json_set(h, obj, r->fx.paths[i], one, r->err)) {
      h->js->free(ctx, obj);
      return NULL;
    }
  }
  return obj;
}

/* The state of combo c: the starting program ({}) for the default. */
static pc_json *combo_state(run *r, size_t c)
{
  if (r->combos[c].is_default)
    return r->h->js->new_object(r->h->host->ctx);
  return point_state(r, r->combos[c].params);
}

static int record_eval(run *r, const char *kind, const char *label,
                       size_t c, double score, int64_t n, int64_t n_err,
                       const pc_json *state)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *t = h->js->new_object(ctx);
  int rc = t ? PC_OK : oom(r);

  if (!rc)
    rc = set_int(r, t, "candidate", (int64_t)c);
  if (!rc)
    rc = set_str(r, t, "label", label);
  if (!rc)
    rc = set_str(r, t, "kind", kind);
  if (!rc)
    rc = set_str(r, t, "split", r->val_split);
  if (!rc)
    rc = set_dbl(r, t, "score", score);
  if (!rc)
    rc = set_int(r, t, "n", n);
  if (!rc)
    rc = set_int(r, t, "n_errors", n_err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "params",
                          params_json(r, r->combos[c].params), r->err);
  if (!rc && r->combos[c].is_default)
    rc = pc__opt_json_set(h, t, "default", h->js->new_bool(ctx, 1), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(ctx, state), r->err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, r->err);
  h->js->free(ctx, t);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Evaluation.                                                              */

/*
 * Evaluate `state` on val examples idx[0..n): *score is Evaluate's
 * percentage, 0 when max_errors rows failed (DSPy's Evaluate raises and
 * MIPROv2 scores the exception 0.0).
 */
static int evaluate(run *r, const pc_json *state, const int64_t *idx,
                    size_t n, double *score, int64_t *n_out, int64_t *n_err)
{
  const pc__opt_host *h = r->h;
  pc_json *res = NULL;
  const pc_json *v;
  int rc;

  rc = pc__opt_evaluate(h, r->api, state, r->val_split, idx, n, 0, NULL,
                        &res, r->err);
  if (rc)
    return rc;
  v = h->js->object_get(res, "percent");
  *score = v ? h->js->get_double(v) : 0.0;
  v = h->js->object_get(res, "n");
  *n_out = v ? h->js->get_int(v) : (int64_t)n;
  v = h->js->object_get(res, "n_errors");
  *n_err = v ? h->js->get_int(v) : 0;
  if (*n_err >= r->o->vals[S_MAX_ERRORS].i)
    *score = 0.0;
  h->js->free(h->host->ctx, res);
  r->evals_done++;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Stage 1: demo sets (6.4).                                                */

static int record_bootstrap(run *r, size_t s, const char *label,
                            const pc__opt_bootstrap_info *info,
                            const pc_json *state)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *t = h->js->new_object(ctx);
  int rc = t ? PC_OK : oom(r);

  if (!rc)
    rc = set_int(r, t, "candidate", (int64_t)s);
  if (!rc)
    rc = set_str(r, t, "label", label);
  if (!rc)
    rc = set_str(r, t, "kind", "bootstrap");
  if (!rc)
    rc = set_str(r, t, "split", PC_SPLIT_TRAIN);
  if (!rc)
    rc = set_int(r, t, "demo_set", (int64_t)s);
  if (!rc)
    rc = set_int(r, t, "attempts", info->attempts);
  if (!rc)
    rc = set_int(r, t, "successes", info->successes);
  if (!rc)
    rc = set_int(r, t, "errors", info->errors);
  if (!rc)
    rc = set_int(r, t, "reported", info->reported);
  if (!rc)
    rc = pc__opt_json_set(h, t, "bootstrapped", info->ids
                          ? h->js->copy(ctx, info->ids)
                          : h->js->new_array(ctx), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(ctx, state), r->err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, r->err);
  h->js->free(ctx, t);
  return rc;
}

/* Demo set s (DSPy's seed s - 3) into *out (owned). */
static int make_set(run *r, size_t s, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->h;
  const mipro *o = r->o;
  int64_t seed = (int64_t)s - 3, *order = NULL;
  pc__opt_bootstrap_params p;
  pc__opt_bootstrap_info info;
  char label[96];
  int rc;

  *out = NULL;
  if (seed == -3)
    return pc__opt_zero_shot_state(&r->fx, out, err);
  if (seed == -2 && r->pl.label_max > 0)
    return pc__opt_labeled_state(&r->fx, r->train_idx, r->n_train,
                                 r->pl.label_max, 1, out, err);
  memset(&p, 0, sizeof(p));
  memset(&info, 0, sizeof(info));
  p.who = WHO;
  p.max_bootstrapped_demos = r->pl.boot_max;
  p.max_labeled_demos = r->pl.label_max;
  p.max_rounds = 1;
  p.max_errors = o->vals[S_MAX_ERRORS].i;
  /* DSPy passes metric_threshold to the shuffled runs only. */
  p.has_threshold = seed != -1 && !o->vals[S_METRIC_THRESHOLD].is_null &&
                    o->vals[S_METRIC_THRESHOLD].d > 0;
  p.metric_threshold = p.has_threshold ? o->vals[S_METRIC_THRESHOLD].d : 0;
  p.use_teacher_lm = 1;
  order = pc__opt_calloc(h, r->n_train ? r->n_train : 1, sizeof(*order));
  if (!order)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  memcpy(order, r->train_idx, r->n_train * sizeof(*order));
  if (seed != -1) {
    /* rng.shuffle(trainset), then rng.randint(1, max_bootstrapped). */
    pc__opt_rng rng;

    pc__opt_rng_init(&rng, h, r->fx.seed, "miprov2-demoset", s);
    pc__opt_rng_shuffle(&rng, order, r->n_train);
    p.max_bootstrapped_demos = 1 + (int64_t)pc__opt_rng_below(
      &rng, (uint64_t)r->pl.boot_max);
    snprintf(label, sizeof(label), "demo set %zu: bootstrap, shuffled, "
             "%lld demos", s, (long long)p.max_bootstrapped_demos);
  } else {
    snprintf(label, sizeof(label), "demo set %zu: bootstrap, in order, "
             "%lld demos", s, (long long)p.max_bootstrapped_demos);
  }
  rc = pc__opt_bootstrap_run(&r->fx, &p, order, r->n_train, out, &info,
                             NULL, err);
  if (!rc)
    rc = record_bootstrap(r, s, label, &info, *out);
  if (rc) {
    h->js->free(h->host->ctx, *out);
    *out = NULL;
  }
  h->js->free(h->host->ctx, info.ids);
  pc__opt_free(h, order);
  return rc;
}

static int stage1(run *r)
{
  size_t s, n = (size_t)r->pl.n_fewshot;
  int rc = PC_OK;

  r->sets = pc__opt_calloc(r->h, n, sizeof(*r->sets));
  if (!r->sets)
    return oom(r);
  for (s = 0; s < n; s++) {
    pc_error e = PC_ERROR_INIT;

    rc = make_set(r, s, &r->sets[s], &e);
    if (rc) {
      if (fatal(rc) || rc == PC_E_INTERNAL)
        return pc__opt_error(r->err, rc, "%s", e.message);
      /* DSPy catches the error and runs without demo sets. */
      r->demo_error = dup_str(r->h, e.message, strlen(e.message));
      if (!r->demo_error)
        return oom(r);
      for (; s > 0; s--) {
        r->h->js->free(r->h->host->ctx, r->sets[s - 1]);
        r->sets[s - 1] = NULL;
      }
      return PC_OK;
    }
    r->n_sets = s + 1;
  }
  r->have_demos = 1;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Stage 2: grounded proposals (6.5).                                       */

static const char sig_describe_data[] =
  "{\"instructions\": \"Below are several data points from a dataset. "
  "Write down observations about patterns that hold for most or all of "
  "them: their topics, content, structure, length or style, for example. "
  "Make an informed guess about the task the dataset is meant for, and do"
  " not be afraid to be inventive.\","
  " \"inputs\": [{\"name\": \"examples\", \"type\": \"str\", \"desc\": "
  "\"Some data points from the dataset\"}],"
  " \"outputs\": [{\"name\": \"observations\", \"type\": \"str\", "
  "\"desc\": \"Patterns that hold for most or all of the data points "
  "shown\"}]}";

static const char sig_describe_more[] =
  "{\"instructions\": \"Below are several data points from a dataset, "
  "with observations already made about other data points from it. Add "
  "your own observations about patterns that hold for most or all of the "
  "data points, or, if the observations already cover everything, answer"
  " 'COMPLETE'.\","
  " \"inputs\": [{\"name\": \"examples\", \"type\": \"str\", \"desc\": "
  "\"Some data points from the dataset\"},"
  " {\"name\": \"prior_observations\", \"type\": \"str\", \"desc\": "
  "\"Observations made so far\"}],"
  " \"outputs\": [{\"name\": \"observations\", \"type\": \"str\", "
  "\"desc\": \"Patterns that hold for most or all of the data points "
  "shown\"}]}";

static const char sig_summarize[] =
  "{\"instructions\": \"Below are observations about a dataset. Sum them "
  "up in two or three sentences that keep only the most important "
  "points.\","
  " \"inputs\": [{\"name\": \"observations\", \"type\": \"str\", "
  "\"desc\": \"Observations about the dataset\"}],"
  " \"outputs\": [{\"name\": \"summary\", \"type\": \"str\", \"desc\": "
  "\"Two or three sentences with the most important observations\"}]}";

static const char sig_describe_program[] =
  "{\"instructions\": \"Below is pseudo-code for a pipeline that solves a "
  "task with calls to language models. Describe what kind of task the "
  "program seems meant to solve and how it appears to go about it.\","
  " \"inputs\": [{\"name\": \"program_code\", \"type\": \"str\", \"desc\":"
  " \"Pseudo-code of the language-model program\"},"
  " {\"name\": \"program_example\", \"type\": \"str\", \"desc\": \"An "
  "example of the program in use\"}],"
  " \"outputs\": [{\"name\": \"program_description\", \"type\": \"str\", "
  "\"desc\": \"What task the program solves and how, in a few "
  "sentences\"}]}";

static const char sig_describe_module[] =
  "{\"instructions\": \"Below is pseudo-code for a pipeline that solves a "
  "task with calls to language models, with a description of the "
  "pipeline. Describe the purpose of the named module within it.\","
  " \"inputs\": [{\"name\": \"program_code\", \"type\": \"str\", \"desc\":"
  " \"Pseudo-code of the language-model program\"},"
  " {\"name\": \"program_example\", \"type\": \"str\", \"desc\": \"An "
  "example of the program in use\"},"
  " {\"name\": \"program_description\", \"type\": \"str\", \"desc\": "
  "\"What the program does\"},"
  " {\"name\": \"module\", \"type\": \"str\", \"desc\": \"The module to "
  "describe\"}],"
  " \"outputs\": [{\"name\": \"module_description\", \"type\": \"str\", "
  "\"desc\": \"What the module is for within the program\"}]}";

static const char generate_instructions[] =
  "Learn what you can from the information below about a task that we "
  "solve with calls to a language model, then write a new instruction "
  "that will help the language model solve the task better.";

/* The six tips, keyed as DSPy's TIPS (our words). */
static const char *const tips[6] = {
  "",
  "Feel free to be inventive when you write the new instruction.",
  "Keep the instruction short and clear.",
  "Make the instruction detailed and informative.",
  "Frame the instruction around a high-stakes scenario in which the "
  "language model must get the task right.",
  "Give the language model a persona suited to the task in the "
  "instruction (for example \"You are a ...\").",
};

/* One proposal request: the first completion's `field` in *out (owned).
 * `cfg` is the config JSON text or NULL. */
static int propose(run *r, const char *sig, const pc_json *inputs,
                   const char *cfg, const char *field, char **out,
                   pc_error *err)
{
  const pc__opt_host *h = r->h;
  pc_propose_request req;
  pc_json *ans = NULL;
  char *text = NULL;
  size_t len = 0;
  const char *s;
  int rc;

  *out = NULL;
  rc = pc__opt_json_text(h, inputs, &text, &len, err);
  if (rc)
    return rc;
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_propose_request);
  req.role = ROLE;
  req.signature = sig;
  req.inputs_json = text;
  req.inputs_len = len;
  req.config_json = cfg;
  req.config_len = cfg ? strlen(cfg) : 0;
  rc = r->api->propose(r->api->ctx, &req, &ans, err);
  pc__opt_free(h, text);
  if (rc)
    return rc;
  r->prompt_calls++;
  s = h->js->type(ans) == PC_JSON_ARRAY && h->js->array_len(ans) > 0
      ? pc__opt_json_str(h, h->js->array_get(ans, 0), field) : NULL;
  *out = dup_str(h, s ? s : "", s ? strlen(s) : 0);
  h->js->free(h->host->ctx, ans);
  if (!*out)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

/* A one-member object {key: s}, owned, or NULL when out of memory. */
static pc_json *inputs1(run *r, const char *key, const char *s)
{
  pc_json *o = r->h->js->new_object(r->h->host->ctx);

  if (o && set_str(r, o, key, s)) {
    r->h->js->free(r->h->host->ctx, o);
    return NULL;
  }
  return o;
}

/* DSPy's repr of train examples [a, b) of T', with sorted input keys. */
static char *examples_text(run *r, size_t a, size_t b)
{
  const pc__opt_host *h = r->h;
  const pc_json *keys = h->js->object_get(r->fx.train, "input_keys");
  size_t nk = keys ? h->js->array_len(keys) : 0, i, j, k;
  const char **sorted = pc__opt_calloc(h, nk ? nk : 1, sizeof(*sorted));
  pc__opt_text tb;

  if (!sorted)
    return NULL;
  for (i = 0; i < nk; i++) {
    const pc_json *kv = h->js->array_get(keys, i);
    const char *s = h->js->type(kv) == PC_JSON_STRING
                    ? h->js->get_string(kv, NULL) : "";

    for (j = i; j > 0 && strcmp(sorted[j - 1], s) > 0; j--)
      sorted[j] = sorted[j - 1];
    sorted[j] = s;
  }
  pc__opt_text_init(&tb, h);
  pc__opt_text_str(&tb, "[");
  for (i = a; i < b; i++) {
    const pc_json *ex = h->js->array_get(r->fx.examples,
                                         (size_t)r->train_idx[i]);
    char *fields = NULL;
    size_t flen = 0;

    if (pc__opt_json_text(h, h->js->object_get(ex, "fields"), &fields,
                          &flen, NULL)) {
      tb.failed = 1;
      break;
    }
    pc__opt_text_str(&tb, i > a ? ", Example(" : "Example(");
    pc__opt_text_add(&tb, fields, flen);
    pc__opt_text_str(&tb, ") (input_keys={");
    for (k = 0; k < nk; k++)
      pc__opt_text_fmt(&tb, "%s'%s'", k ? ", " : "", sorted[k]);
    pc__opt_text_str(&tb, "})");
    pc__opt_free(h, fields);
  }
  pc__opt_text_str(&tb, "]");
  pc__opt_free(h, (void *)sorted);
  return pc__opt_text_take(&tb);
}

/*
 * create_dataset_summary: observations on the first batch of T', more
 * from the following batches (at most 9, COMPLETE answers skipped, five
 * skips end it), then a summary. A failure turns data-awareness off
 * (r->summary stays NULL); only budget, cancellation and memory end the
 * compile.
 */
static int data_summary(run *r)
{
  const pc__opt_host *h = r->h;
  size_t view = (size_t)r->o->vals[S_VIEW_BATCH].i, b, upper;
  static const char cfg[] = "{\"temperature\": 1.0, \"n\": 1}";
  pc_error e = PC_ERROR_INIT;
  pc_json *in = NULL;
  char *ex = NULL, *obs = NULL, *more = NULL, *sum = NULL;
  int calls = 0, skips = 0, rc;
  pc__opt_text tb;

  pc__opt_text_init(&tb, h);
  upper = r->n_train < view ? r->n_train : view;
  ex = examples_text(r, 0, upper);
  in = ex ? inputs1(r, "examples", ex) : NULL;
  if (!in) {
    rc = oom(r);
    goto out;
  }
  rc = propose(r, sig_describe_data, in, cfg, "observations", &obs, &e);
  if (rc)
    goto out;
  pc__opt_text_str(&tb, obs);
  for (b = view; b < r->n_train; b += view) {
    if (++calls >= SUMMARY_MAX_CALLS)
      break;
    upper = r->n_train < b + view ? r->n_train : b + view;
    pc__opt_free(h, ex);
    h->js->free(h->host->ctx, in);
    ex = examples_text(r, b, upper);
    in = ex ? inputs1(r, "examples", ex) : NULL;
    if (!in || tb.failed || set_str(r, in, "prior_observations", tb.data)) {
      rc = oom(r);
      goto out;
    }
    pc__opt_free(h, more);
    more = NULL;
    rc = propose(r, sig_describe_more, in, cfg, "observations", &more, &e);
    if (rc) {
      /* DSPy: an exception ends the loop; the summary uses what there
       * is. */
      if (fatal(rc))
        goto out;
      rc = PC_OK;
      memset(&e, 0, sizeof(e));
      break;
    }
    {
      /* output[:8].upper() == "COMPLETE": a skip. */
      char head[9];
      size_t k;

      for (k = 0; k < 8 && more[k]; k++)
        head[k] = (char)(more[k] >= 'a' && more[k] <= 'z'
                         ? more[k] - 'a' + 'A' : more[k]);
      head[k] = '\0';
      if (k == 8 && !strcmp(head, "COMPLETE")) {
        if (++skips >= SUMMARY_MAX_SKIPS)
          break;
        continue;
      }
    }
    pc__opt_text_str(&tb, more);
  }
  h->js->free(h->host->ctx, in);
  in = tb.failed ? NULL : inputs1(r, "observations", tb.data);
  if (!in) {
    rc = oom(r);
    goto out;
  }
  rc = propose(r, sig_summarize, in, cfg, "summary", &sum, &e);
  if (!rc) {
    r->summary = stripped(h, sum);
    if (!r->summary)
      rc = oom(r);
  }
out:
  if (rc && fatal(rc))
    pc__opt_error(r->err, rc, "%s", e.message[0] ? e.message
                                                 : "out of memory");
  else if (rc)
    rc = PC_OK;  /* data-awareness off */
  h->js->free(h->host->ctx, in);
  pc__opt_free(h, ex);
  pc__opt_free(h, obs);
  pc__opt_free(h, more);
  pc__opt_free(h, sum);
  pc__opt_free(h, pc__opt_text_take(&tb));
  return rc;
}

/* "name: type" for each field of a signature list, joined by ", ". */
static void field_list(run *r, pc__opt_text *tb, const pc_json *list,
                       int types)
{
  const pc__opt_host *h = r->h;
  size_t i, n = list ? h->js->array_len(list) : 0;

  for (i = 0; i < n; i++) {
    const pc_json *f = h->js->array_get(list, i);
    const char *name = pc__opt_json_str(h, f, "name");
    const char *type = pc__opt_json_str(h, f, "type");

    pc__opt_text_fmt(tb, "%s%s", i ? ", " : "", name ? name : "?");
    if (types && type)
      pc__opt_text_fmt(tb, ": %s", type);
  }
}

/* text with every newline followed by `indent`. */
static void indented(pc__opt_text *tb, const char *text, const char *indent)
{
  const char *p;

  for (p = text; *p; p++) {
    pc__opt_text_add(tb, p, 1);
    if (*p == '\n')
      pc__opt_text_str(tb, indent);
  }
}

/*
 * The program as pseudo-code, in place of the Python source DSPy shows:
 * its inputs, each predictor with its module, signature, instructions and
 * field descriptions, then the calls in program order. Owned.
 */
static char *describe_program(run *r)
{
  const pc__opt_host *h = r->h;
  const pc_json *prog = r->fx.program, *ins = h->js->object_get(prog,
                                                                "inputs");
  const char *name = pc__opt_json_str(h, prog, "name");
  const pc_json *cpr = h->js->object_get(prog, "calls_per_run");
  size_t i, k, n_in = ins ? h->js->array_len(ins) : 0;
  pc__opt_text tb;

  pc__opt_text_init(&tb, h);
  pc__opt_text_fmt(&tb, "program %s(", name && *name ? name : "program");
  for (i = 0; i < n_in; i++) {
    const pc_json *v = h->js->array_get(ins, i);

    pc__opt_text_fmt(&tb, "%s%s", i ? ", " : "",
                     h->js->type(v) == PC_JSON_STRING
                     ? h->js->get_string(v, NULL) : "");
  }
  pc__opt_text_fmt(&tb, "):\n    # %lld language-model call(s) per run, "
                   "made by these predictors:\n",
                   (long long)(cpr ? h->js->get_int(cpr) : (int64_t)r->P));
  for (i = 0; i < r->P; i++) {
    const pc_json *sig = signature(r, i);
    const char *module = pc__opt_json_str(h, predictor(r, i), "module");
    static const char *const sides[2] = {"inputs", "outputs"};

    pc__opt_text_fmt(&tb, "\n    predictor %s (module %s):\n"
                     "        signature: ", r->fx.paths[i],
                     module ? module : "predict");
    field_list(r, &tb, h->js->object_get(sig, "inputs"), 1);
    pc__opt_text_str(&tb, " -> ");
    field_list(r, &tb, h->js->object_get(sig, "outputs"), 1);
    pc__opt_text_str(&tb, "\n        instructions: \"\"\"");
    indented(&tb, start_instruction(r, i), "        ");
    pc__opt_text_str(&tb, "\"\"\"\n");
    for (k = 0; k < 2; k++) {
      const pc_json *list = h->js->object_get(sig, sides[k]);
      size_t j, n = list ? h->js->array_len(list) : 0;

      for (j = 0; j < n; j++) {
        const pc_json *f = h->js->array_get(list, j);
        const char *fn = pc__opt_json_str(h, f, "name");
        const char *desc = pc__opt_json_str(h, f, "desc");

        if (desc && *desc)
          pc__opt_text_fmt(&tb, "        %s %s: %s\n",
                           k ? "output" : "input", fn ? fn : "?", desc);
      }
    }
  }
  pc__opt_text_str(&tb, "\n    flow:\n");
  for (i = 0; i < r->P; i++) {
    const pc_json *sig = signature(r, i);

    pc__opt_text_str(&tb, "        ");
    field_list(r, &tb, h->js->object_get(sig, "outputs"), 0);
    pc__opt_text_fmt(&tb, " = %s(", r->fx.paths[i]);
    field_list(r, &tb, h->js->object_get(sig, "inputs"), 0);
    pc__opt_text_str(&tb, ")\n");
  }
  return pc__opt_text_take(&tb);
}

/* "Predict(in1, in2) -> out1, out2" for predictor i. Owned. */
static char *module_string(run *r, size_t i)
{
  const pc_json *sig = signature(r, i);
  pc__opt_text tb;

  pc__opt_text_init(&tb, r->h);
  pc__opt_text_str(&tb, "Predict(");
  field_list(r, &tb, r->h->js->object_get(sig, "inputs"), 0);
  pc__opt_text_str(&tb, ") -> ");
  field_list(r, &tb, r->h->js->object_get(sig, "outputs"), 0);
  return pc__opt_text_take(&tb);
}

/* A demo as DSPy's create_example_string shows it: "<Prefix> <value>"
 * for every field of predictor i's signature, one a line. */
static void demo_text(run *r, size_t i, const pc_json *demo, pc__opt_text *tb)
{
  const pc__opt_host *h = r->h;
  static const char *const sides[2] = {"inputs", "outputs"};
  const pc_json *sig = signature(r, i);
  size_t k, j, lines = 0;

  for (k = 0; k < 2; k++) {
    const pc_json *list = h->js->object_get(sig, sides[k]);
    size_t n = list ? h->js->array_len(list) : 0;

    for (j = 0; j < n; j++) {
      const char *fn = pc__opt_json_str(h, h->js->array_get(list, j),
                                        "name");
      const pc_json *v = fn ? h->js->object_get(demo, fn) : NULL;
      char *prefix;

      if (!fn)
        continue;
      prefix = pc__opt_alloc(h, pc__opt_field_prefix_cap(fn));
      if (!prefix) {
        tb->failed = 1;
        return;
      }
      pc__opt_field_prefix(fn, prefix, pc__opt_field_prefix_cap(fn));
      pc__opt_text_fmt(tb, "%s%s ", lines++ ? "\n" : "", prefix);
      pc__opt_free(h, prefix);
      if (!v || h->js->type(v) == PC_JSON_NULL) {
        pc__opt_text_str(tb, "None");
      } else if (h->js->type(v) == PC_JSON_STRING) {
        size_t len = 0;
        const char *s = h->js->get_string(v, &len);

        pc__opt_text_add(tb, s, len);
      } else {
        char *t = NULL;
        size_t len = 0;

        if (pc__opt_json_text(h, v, &t, &len, NULL))
          tb->failed = 1;
        else
          pc__opt_text_add(tb, t, len);
        pc__opt_free(h, t);
      }
    }
  }
}

/* The task demos of proposal j for predictor i: the first 3 augmented
 * demos of sets j, j+1, ..., then 0, ..., j-1. Owned. */
static char *task_demos(run *r, size_t i, size_t j)
{
  const pc__opt_host *h = r->h;
  size_t k, found = 0;
  pc__opt_text tb;

  pc__opt_text_init(&tb, h);
  if (r->o->vals[S_FEWSHOT_AWARE].i && r->have_demos && j != 0) {
    for (k = 0; k < r->n_sets && found < DEMOS_IN_CONTEXT; k++) {
      const pc_json *d = set_demos(r, (j + k) % r->n_sets, r->fx.paths[i]);
      size_t m, n = d ? h->js->array_len(d) : 0;

      for (m = 0; m < n && found < DEMOS_IN_CONTEXT; m++) {
        const pc_json *demo = h->js->array_get(d, m);

        if (!h->js->object_get(demo, "augmented"))
          continue;
        if (found++)
          pc__opt_text_str(&tb, "\n\n");
        demo_text(r, i, demo, &tb);
      }
    }
  }
  if (found)
    pc__opt_text_str(&tb, "\n\n");
  else
    pc__opt_text_str(&tb, "No task demos provided.");
  return pc__opt_text_take(&tb);
}

/* Append a str field {name, type, desc} to the list `arr`. */
static int add_field(run *r, pc_json *arr, const char *name,
                     const char *desc)
{
  pc_json *f = r->h->js->new_object(r->h->host->ctx);
  int rc = f ? PC_OK : oom(r);

  if (!rc)
    rc = set_str(r, f, "name", name);
  if (!rc)
    rc = set_str(r, f, "type", "str");
  if (!rc)
    rc = set_str(r, f, "desc", desc);
  if (rc) {
    r->h->js->free(r->h->host->ctx, f);
    return rc;
  }
  return pc__opt_json_push(r->h, arr, f, r->err);
}

/* The input fields of GenerateSingleModuleInstruction, in DSPy's order,
 * with the values of one proposal; the signature's `inputs` list and the
 * request's inputs object are built together. */
struct gen_field {
  const char *name;
  const char *desc;
  const char *value;  /* NULL: the field is left out */
};

static int generate(run *r, const struct gen_field *f, size_t n,
                    const char *cfg, char **out)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *sig = h->js->new_object(ctx), *ins = h->js->new_array(ctx);
  pc_json *outs = h->js->new_array(ctx), *in = h->js->new_object(ctx);
  char *sig_text = NULL;
  size_t i, len = 0;
  int rc = sig && ins && outs && in ? PC_OK : oom(r);

  for (i = 0; !rc && i < n; i++)
    if (f[i].value) {
      rc = add_field(r, ins, f[i].name, f[i].desc);
      if (!rc)
        rc = set_str(r, in, f[i].name, f[i].value);
    }
  if (!rc)
    rc = add_field(r, outs, "proposed_instruction", "The new instruction "
                   "for the language model that runs this module");
  if (!rc)
    rc = set_str(r, sig, "instructions", generate_instructions);
  if (!rc) {
    rc = pc__opt_json_set(h, sig, "inputs", ins, r->err);
    ins = NULL;
  }
  if (!rc) {
    rc = pc__opt_json_set(h, sig, "outputs", outs, r->err);
    outs = NULL;
  }
  if (!rc)
    rc = pc__opt_json_text(h, sig, &sig_text, &len, r->err);
  if (!rc)
    rc = propose(r, sig_text, in, cfg, "proposed_instruction", out, r->err);
  h->js->free(ctx, sig);
  h->js->free(ctx, ins);
  h->js->free(ctx, outs);
  h->js->free(ctx, in);
  pc__opt_free(h, sig_text);
  return rc;
}

/*
 * One proposal for predictor i grounded on demo set j (DSPy's
 * propose_instruction_for_predictor): the program and module
 * descriptions (when program-aware; a failure turns that off), then
 * GenerateSingleModuleInstruction. The proposal, strip_prefix'ed twice,
 * in *out (owned).
 */
static int propose_one(run *r, size_t i, size_t j, const char *tip,
                       const char *cfg, char **out)
{
  const pc__opt_host *h = r->h;
  char *demos = NULL, *prog_desc = NULL, *mod = NULL, *mod_desc = NULL;
  char *raw = NULL, *once = NULL;
  pc_json *in = NULL;
  int pa = r->program_aware, rc = PC_OK;

  *out = NULL;
  demos = task_demos(r, i, j);
  if (!demos)
    return oom(r);
  if (pa) {
    pc_error e = PC_ERROR_INIT;
    char *d = NULL;

    in = inputs1(r, "program_code", r->program_code);
    if (!in || set_str(r, in, "program_example", demos)) {
      rc = oom(r);
      goto out;
    }
    rc = propose(r, sig_describe_program, in, cfg, "program_description",
                 &d, &e);
    if (!rc) {
      prog_desc = stripped(h, d);
      mod = module_string(r, i);
      pc__opt_free(h, d);
      if (!prog_desc || !mod || set_str(r, in, "program_description",
                                        prog_desc) ||
          set_str(r, in, "module", mod)) {
        rc = oom(r);
        goto out;
      }
      rc = propose(r, sig_describe_module, in, cfg, "module_description",
                   &mod_desc, &e);
    }
    if (rc && fatal(rc)) {
      pc__opt_error(r->err, rc, "%s", e.message);
      goto out;
    }
    if (rc) {
      /* This proposal shows the placeholders DSPy leaves in place; later
       * ones are no longer program-aware. */
      r->program_aware = 0;
      rc = PC_OK;
    }
  }
  {
    struct gen_field f[8] = {
      {"dataset_description", "A description of the dataset the task "
       "works on", r->summary},
      {"program_code", "Pseudo-code of the language-model program that "
       "solves the task", pa ? r->program_code : NULL},
      {"program_description", "What the program does",
       pa ? (prog_desc ? prog_desc : "Not available") : NULL},
      {"module", "The module of the program to write the instruction for",
       pa ? (mod ? mod : "Not provided") : NULL},
      {"module_description", "What the module is for within the program",
       pa ? (mod_desc ? mod_desc : "Not provided") : NULL},
      {"task_demos", "Examples of the task's inputs and outputs", demos},
      {"basic_instruction", "The instruction the module uses now",
       start_instruction(r, i)},
      {"tip", "A hint for writing the new instruction",
       tip && *tip ? tip : NULL},
    };

    rc = generate(r, f, 8, cfg, &raw);
  }
  if (!rc) {
    once = stripped(h, raw);
    *out = once ? stripped(h, once) : NULL;
    if (!*out)
      rc = oom(r);
  }
out:
  h->js->free(h->host->ctx, in);
  pc__opt_free(h, demos);
  pc__opt_free(h, prog_desc);
  pc__opt_free(h, mod);
  pc__opt_free(h, mod_desc);
  pc__opt_free(h, raw);
  pc__opt_free(h, once);
  return rc;
}

static int stage2(run *r)
{
  const pc__opt_host *h = r->h;
  size_t i, j, n_props;
  int rc = PC_OK;

  r->program_aware = (int)r->o->vals[S_PROGRAM_AWARE].i;
  if (r->program_aware && !(r->program_code = describe_program(r)))
    return oom(r);
  if (r->o->vals[S_DATA_AWARE].i) {
    rc = data_summary(r);
    if (rc)
      return rc;
  }
  /* min(N_i, number of demo sets), N_i when there are none. */
  n_props = (size_t)r->pl.n_instruct;
  if (r->have_demos && r->n_sets < n_props)
    n_props = r->n_sets;
  r->instr = pc__opt_calloc(h, r->P, sizeof(*r->instr));
  r->n_instr = pc__opt_calloc(h, r->P, sizeof(*r->n_instr));
  if (!r->instr || !r->n_instr)
    return oom(r);
  for (i = 0; i < r->P; i++) {
    pc__opt_rng rng;

    r->instr[i] = pc__opt_calloc(h, n_props ? n_props : 1,
                                 sizeof(**r->instr));
    if (!r->instr[i])
      return oom(r);
    /* One stream per predictor: the tip, then the rollout id, for each
     * proposal in turn. */
    pc__opt_rng_init(&rng, h, r->fx.seed, "miprov2-proposal", i);
    for (j = 0; j < n_props; j++) {
      const char *tip = NULL;
      char cfg[96];

      if (r->o->vals[S_TIP_AWARE].i)
        tip = tips[pc__opt_rng_below(&rng, 6)];
      snprintf(cfg, sizeof(cfg), "{\"temperature\": %.17g, \"rollout_id\": "
               "%llu}", r->o->init_temperature,
               (unsigned long long)pc__opt_rng_below(&rng,
                                                     ROLLOUT_MAX + 1ull));
      rc = propose_one(r, i, j, tip, cfg, &r->instr[i][j]);
      if (rc)
        return rc;
      r->n_instr[i] = j + 1;
    }
    /* Candidate 0 is the original instruction (proposal 0 is dropped). */
    if (n_props == 0) {
      r->n_instr[i] = 1;
    } else {
      pc__opt_free(h, r->instr[i][0]);
      r->instr[i][0] = NULL;
    }
    {
      const char *s = start_instruction(r, i);

      r->instr[i][0] = dup_str(h, s, strlen(s));
      if (!r->instr[i][0])
        return oom(r);
    }
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Stage 3: the search (6.6).                                               */

static int hist_add(run *r, const int64_t *params, double value)
{
  size_t cap = r->cap_hist, per = r->n_params ? r->n_params : 1;
  double *v = grow(r, r->hist_values, &r->cap_hist, r->n_hist,
                   sizeof(double));

  if (!v)
    return PC_E_NOMEM;
  r->hist_values = v;
  if (r->cap_hist != cap) {
    int64_t *p = NULL;

    if (r->cap_hist <= SIZE_MAX / per / sizeof(int64_t))
      p = r->h->host->realloc(r->h->host->ctx, r->hist_params,
                              r->cap_hist * per * sizeof(int64_t));
    if (!p) {
      r->cap_hist = cap;
      return oom(r);
    }
    r->hist_params = p;
  }
  memcpy(&r->hist_params[r->n_hist * r->n_params], params,
         r->n_params * sizeof(int64_t));
  r->hist_values[r->n_hist++] = value;
  return PC_OK;
}

static int rec_add(run *r, int full, double score, size_t c)
{
  evalrec *recs = grow(r, r->recs, &r->cap_recs, r->n_recs,
                       sizeof(*r->recs));

  if (!recs)
    return PC_E_NOMEM;
  r->recs = recs;
  r->recs[r->n_recs].full = full;
  r->recs[r->n_recs].score = score;
  r->recs[r->n_recs].combo = c;
  r->n_recs++;
  return PC_OK;
}

/* The combo (not the default) with these params, added when new. */
static int combo_for(run *r, const int64_t *params, int is_default,
                     size_t *out)
{
  size_t c;
  combo *all, *k;

  for (c = 0; !is_default && c < r->n_combos; c++)
    if (!r->combos[c].is_default &&
        !memcmp(r->combos[c].params, params,
                r->n_params * sizeof(int64_t))) {
      *out = c;
      return PC_OK;
    }
  all = grow(r, r->combos, &r->cap_combos, r->n_combos, sizeof(*r->combos));
  if (!all)
    return PC_E_NOMEM;
  r->combos = all;
  k = &r->combos[r->n_combos];
  memset(k, 0, sizeof(*k));
  k->params = pc__opt_calloc(r->h, r->n_params ? r->n_params : 1,
                             sizeof(int64_t));
  if (!k->params)
    return oom(r);
  memcpy(k->params, params, r->n_params * sizeof(int64_t));
  k->is_default = is_default;
  *out = r->n_combos++;
  return PC_OK;
}

static int combo_add_mb(run *r, size_t c, double score)
{
  combo *k = &r->combos[c];
  double *mb = grow(r, k->mb, &k->cap_mb, k->n_mb, sizeof(double));

  if (!mb)
    return PC_E_NOMEM;
  k->mb = mb;
  k->mb[k->n_mb++] = score;
  return PC_OK;
}

static double combo_mean(const combo *k)
{
  double s = 0;
  size_t i;

  for (i = 0; i < k->n_mb; i++)
    s += k->mb[i];
  return k->n_mb ? s / (double)k->n_mb : 0.0;
}

static void progress(run *r)
{
  pc__opt_progress(r->h, r->api, r->evals_done, r->evals_planned,
                   r->have_best ? r->best_score : -1.0);
}

/* A full-val score for combo c: the best when strictly higher. */
static void consider_full(run *r, size_t c, double score)
{
  r->combos[c].has_full = 1;
  r->combos[c].full = score;
  if (!r->have_best || score > r->best_score) {
    r->have_best = 1;
    r->best_score = score;
    r->best_combo = c;
  }
}

/* Evaluate combo c on the whole of V and record it as a "full" trial. */
static int full_eval(run *r, size_t c, const char *label)
{
  pc_json *state = combo_state(r, c);
  double score = 0;
  int64_t n = 0, n_err = 0;
  int rc;

  if (!state)
    return oom(r);
  rc = evaluate(r, state, r->val_idx, r->n_val, &score, &n, &n_err);
  if (!rc)
    rc = record_eval(r, "full", label, c, score, n, n_err, state);
  if (!rc)
    rc = rec_add(r, 1, score, c);
  if (!rc)
    rc = hist_add(r, r->combos[c].params, score);
  if (!rc)
    consider_full(r, c, score);
  r->h->js->free(r->h->host->ctx, state);
  progress(r);
  return rc;
}

/*
 * DSPy's periodic full evaluation: the combo not yet fully evaluated with
 * the highest mean minibatch score (the first of equals), on all of V;
 * the result joins the TPE history. When every combo tried has been fully
 * evaluated there is nothing to do (DSPy raises; see the docs).
 */
static int periodic_full(run *r, int64_t trial_num)
{
  size_t c, pick = 0;
  double best = 0;
  int found = 0;
  char label[64];
  int rc;

  for (c = 0; c < r->n_combos; c++) {
    const combo *k = &r->combos[c];

    if (k->is_default || k->fully || !k->n_mb)
      continue;
    if (!found || combo_mean(k) > best) {
      found = 1;
      best = combo_mean(k);
      pick = c;
    }
  }
  if (!found)
    return PC_OK;
  snprintf(label, sizeof(label), "trial %lld: full evaluation",
           (long long)trial_num + 1);
  rc = full_eval(r, pick, label);
  if (!rc)
    r->combos[pick].fully = 1;
  return rc;
}

static uint64_t tpe_next(void *ctx)
{
  return pc__opt_rng_next(ctx);
}

/* The next point from the TPE, drawn with the stream of trial `number`. */
static int suggest(run *r, int64_t number, int64_t *out)
{
  pc__tpe_config cfg;
  pc__opt_rng rng;
  pc__tpe_rng trng;
  void *scratch;
  int bad;

  pc__tpe_config_default(&cfg, r->n_params, r->n_choices);
  scratch = pc__opt_alloc(r->h, pc__tpe_scratch_size(&cfg, r->n_hist));
  if (!scratch)
    return oom(r);
  pc__opt_rng_init(&rng, r->h, r->fx.seed, "miprov2-tpe", (uint64_t)number);
  trng.ctx = &rng;
  trng.next = tpe_next;
  bad = pc__tpe_suggest(&cfg, r->hist_params, r->hist_values, r->n_hist,
                        &trng, scratch, out);
  pc__opt_free(r->h, scratch);
  if (bad)
    return pc__opt_error(r->err, PC_E_INTERNAL, WHO ": the search space is "
                         "empty or the history is out of range");
  return PC_OK;
}

/* One objective call of Optuna trial `number`. */
static int trial(run *r, int64_t number, int64_t *params, int64_t *mb_idx)
{
  const pc__opt_host *h = r->h;
  size_t m = (size_t)r->o->vals[S_MINIBATCH_SIZE].i, c;
  int use_mb = r->minibatch && m < r->n_val;
  pc_json *state = NULL;
  double score = 0;
  int64_t n = 0, n_err = 0;
  char label[64];
  int rc;

  rc = suggest(r, number, params);
  if (!rc)
    rc = combo_for(r, params, 0, &c);
  if (rc)
    return rc;
  state = point_state(r, params);
  if (!state)
    return oom(r);
  if (use_mb) {
    /* A fresh sample of V without replacement for every trial. */
    pc__opt_rng rng;

    memcpy(mb_idx, r->val_idx, r->n_val * sizeof(*mb_idx));
    pc__opt_rng_init(&rng, h, r->fx.seed, "miprov2-minibatch",
                     (uint64_t)number);
    pc__opt_rng_sample(&rng, mb_idx, r->n_val, m);
    rc = evaluate(r, state, mb_idx, m, &score, &n, &n_err);
  } else {
    rc = evaluate(r, state, r->val_idx, r->n_val, &score, &n, &n_err);
  }
  snprintf(label, sizeof(label), "trial %lld: %s", (long long)number + 1,
           r->minibatch ? "minibatch" : "full evaluation");
  if (!rc)
    rc = record_eval(r, r->minibatch ? "minibatch" : "full", label, c,
                     score, n, n_err, state);
  h->js->free(h->host->ctx, state);
  if (!rc)
    rc = rec_add(r, !r->minibatch, score, c);
  if (!rc)
    rc = hist_add(r, params, score);
  if (!rc && r->minibatch)
    rc = combo_add_mb(r, c, score);
  if (!rc && !r->minibatch)
    consider_full(r, c, score);
  progress(r);
  return rc;
}

static int stage3(run *r)
{
  const pc__opt_host *h = r->h;
  int64_t K = r->pl.num_trials, t, steps = r->o->vals[S_FULL_EVAL_STEPS].i;
  int64_t adjusted = pc__mipro_adjusted_trials(K, steps);
  int64_t *params = NULL, *mb_idx = NULL, *zeros = NULL;
  size_t i, c;
  int rc;

  /* The search space: per predictor an instruction and, unless zero-shot
   * or without demo sets, a demo set. */
  r->stride = r->have_demos && !r->pl.zeroshot ? 2 : 1;
  r->n_params = r->P * r->stride;
  r->n_choices = pc__opt_calloc(h, r->n_params, sizeof(int64_t));
  params = pc__opt_calloc(h, r->n_params, sizeof(int64_t));
  zeros = pc__opt_calloc(h, r->n_params, sizeof(int64_t));
  mb_idx = pc__opt_calloc(h, r->n_val, sizeof(int64_t));
  if (!r->n_choices || !params || !zeros || !mb_idx) {
    rc = oom(r);
    goto out;
  }
  for (i = 0; i < r->P; i++) {
    r->n_choices[i * r->stride] = (int64_t)r->n_instr[i];
    if (r->stride == 2)
      r->n_choices[i * r->stride + 1] = (int64_t)r->n_sets;
  }
  r->evals_planned = 1 + K + (r->minibatch ? pc__mipro_full_evals(K, steps)
                                           : 0);
  /* Trial 1: the starting program on all of V, injected with all indices
   * 0 (Optuna trial number 0). */
  rc = combo_for(r, zeros, 1, &c);
  if (!rc)
    rc = full_eval(r, c, "trial 1: default program");
  if (rc)
    goto out;
  r->have_default = 1;
  r->default_score = r->combos[c].full;
  for (t = 0; t < K; t++) {
    int64_t number = (int64_t)r->n_hist;

    rc = trial(r, number, params, mb_idx);
    if (!rc && r->minibatch &&
        pc__mipro_full_eval_due(number + 1, adjusted, steps))
      rc = periodic_full(r, number + 1);
    if (rc)
      goto out;
  }
out:
  pc__opt_free(h, params);
  pc__opt_free(h, zeros);
  pc__opt_free(h, mb_idx);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The report and the result.                                               */

static int rec_cmp_desc(const evalrec *a, const evalrec *b)
{
  return a->score < b->score;
}

/* The evaluations of one kind, best first (stable), as
 * [{"score", "params", "combo"}]. */
static pc_json *candidates_json(run *r, int full)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *arr = h->js->new_array(ctx);
  evalrec *v = pc__opt_calloc(h, r->n_recs ? r->n_recs : 1, sizeof(*v));
  size_t n = 0, i, j;

  if (!arr || !v) {
    h->js->free(ctx, arr);
    pc__opt_free(h, v);
    return NULL;
  }
  for (i = 0; i < r->n_recs; i++)
    if (r->recs[i].full == full) {
      evalrec e = r->recs[i];

      for (j = n; j > 0 && rec_cmp_desc(&v[j - 1], &e); j--)
        v[j] = v[j - 1];
      v[j] = e;
      n++;
    }
  for (i = 0; arr && i < n; i++) {
    pc_json *o = h->js->new_object(ctx);
    int rc = o ? PC_OK : PC_E_NOMEM;

    if (!rc)
      rc = set_dbl(r, o, "score", v[i].score);
    if (!rc)
      rc = pc__opt_json_set(h, o, "params", params_json(
                              r, r->combos[v[i].combo].params), r->err);
    if (!rc)
      rc = set_int(r, o, "combo", (int64_t)v[i].combo);
    if (rc)
      h->js->free(ctx, o);
    else
      rc = pc__opt_json_push(h, arr, o, r->err);  /* takes o over */
    if (rc) {
      h->js->free(ctx, arr);
      arr = NULL;
    }
  }
  pc__opt_free(h, v);
  return arr;
}

static pc_json *combos_json(run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *arr = h->js->new_array(ctx);
  size_t c, i;

  for (c = 0; arr && c < r->n_combos; c++) {
    const combo *k = &r->combos[c];
    pc_json *o = h->js->new_object(ctx), *mb = h->js->new_array(ctx);
    int rc = o && mb ? PC_OK : PC_E_NOMEM;

    for (i = 0; !rc && i < k->n_mb; i++)
      rc = pc__opt_json_push(h, mb, h->js->new_double(ctx, k->mb[i]),
                             r->err);
    if (!rc)
      rc = pc__opt_json_set(h, o, "params", params_json(r, k->params),
                            r->err);
    if (!rc && k->is_default)
      rc = pc__opt_json_set(h, o, "default", h->js->new_bool(ctx, 1),
                            r->err);
    if (!rc) {
      rc = pc__opt_json_set(h, o, "minibatch_scores", mb, r->err);
      mb = NULL;
    }
    if (!rc)
      rc = pc__opt_json_set(h, o, "mean", k->n_mb
                            ? h->js->new_double(ctx, combo_mean(k))
                            : h->js->new_null(ctx), r->err);
    if (!rc)
      rc = pc__opt_json_set(h, o, "full_score", k->has_full
                            ? h->js->new_double(ctx, k->full)
                            : h->js->new_null(ctx), r->err);
    h->js->free(ctx, mb);
    if (!rc) {
      rc = pc__opt_json_push(h, arr, o, r->err);
      o = NULL;
    }
    h->js->free(ctx, o);
    if (rc) {
      h->js->free(ctx, arr);
      arr = NULL;
    }
  }
  return arr;
}

static pc_json *report_json(run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *rep = h->js->new_object(ctx), *ic = NULL, *ds = NULL;
  size_t i, j;
  int rc = rep ? PC_OK : PC_E_NOMEM;

  if (!rc)
    rc = pc__opt_json_set(h, rep, "default_score", r->have_default
                          ? h->js->new_double(ctx, r->default_score)
                          : h->js->new_null(ctx), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "best_score", r->have_best
                          ? h->js->new_double(ctx, r->best_score)
                          : h->js->new_null(ctx), r->err);
  if (!rc)
    rc = set_int(r, rep, "num_trials", r->pl.num_trials);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "minibatch",
                          h->js->new_bool(ctx, r->minibatch), r->err);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "zero_shot",
                          h->js->new_bool(ctx, r->pl.zeroshot), r->err);
  if (!rc) {
    pc_json *v = h->js->new_object(ctx);

    rc = v ? set_str(r, v, "split", r->val_split ? r->val_split : "val")
           : PC_E_NOMEM;
    if (!rc)
      rc = set_int(r, v, "n", (int64_t)r->n_val);
    if (rc)
      h->js->free(ctx, v);
    else
      rc = pc__opt_json_set(h, rep, "val", v, r->err);
    if (!rc)
      rc = set_int(r, rep, "train_n", (int64_t)r->n_train);
  }
  ic = h->js->new_object(ctx);
  ds = h->js->new_object(ctx);
  if (!ic || !ds)
    rc = PC_E_NOMEM;
  for (i = 0; !rc && i < r->P && r->instr; i++) {
    pc_json *arr = h->js->new_array(ctx);

    for (j = 0; arr && !rc && j < r->n_instr[i]; j++)
      rc = pc__opt_json_push(h, arr, h->js->new_string(
                               ctx, r->instr[i][j] ? r->instr[i][j] : "",
                               r->instr[i][j] ? strlen(r->instr[i][j]) : 0),
                             r->err);
    if (!rc)
      rc = pc__opt_json_set(h, ic, r->fx.paths[i], arr, r->err);
    else
      h->js->free(ctx, arr);
  }
  for (i = 0; !rc && i < r->P; i++)
    rc = set_int(r, ds, r->fx.paths[i],
                 r->have_demos ? (int64_t)r->n_sets : 0);
  if (!rc) {
    rc = pc__opt_json_set(h, rep, "instruction_candidates", ic, r->err);
    ic = NULL;
  }
  if (!rc) {
    rc = pc__opt_json_set(h, rep, "demo_sets", ds, r->err);
    ds = NULL;
  }
  if (!rc)
    rc = pc__opt_json_set(h, rep, "combos", combos_json(r), r->err);
  if (!rc && r->o->vals[S_TRACK_STATS].i) {
    rc = pc__opt_json_set(h, rep, "candidate_programs",
                          candidates_json(r, 1), r->err);
    if (!rc)
      rc = pc__opt_json_set(h, rep, "mb_candidate_programs",
                            candidates_json(r, 0), r->err);
  }
  if (!rc)
    rc = set_int(r, rep, "prompt_model_calls", r->prompt_calls);
  if (!rc && r->summary)
    rc = set_str(r, rep, "dataset_summary", r->summary);
  if (!rc && r->demo_error)
    rc = set_str(r, rep, "demo_error", r->demo_error);
  if (!rc && r->stopped)
    rc = pc__opt_json_set(h, rep, "stopped", h->js->new_bool(ctx, 1),
                          r->err);
  h->js->free(ctx, ic);
  h->js->free(ctx, ds);
  if (rc) {
    h->js->free(ctx, rep);
    return NULL;
  }
  return rep;
}

/* set_result with the best full-scored state (the starting program when
 * none) and the report. */
static int finish(run *r, pc_error *err)
{
  const pc__opt_host *h = r->h;
  pc_json *state = NULL, *rep = NULL;
  int rc = PC_OK;

  state = r->have_best ? combo_state(r, r->best_combo)
                       : h->js->new_object(h->host->ctx);
  rep = report_json(r);
  if (!state || !rep)
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (!rc)
    rc = pc__opt_set_result(h, r->api, state, rep, err);
  h->js->free(h->host->ctx, state);
  h->js->free(h->host->ctx, rep);
  return rc;
}

static int mp_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  mipro *o = inst;
  run r;
  int rc;

  memset(&r, 0, sizeof(r));
  r.o = o;
  r.h = o->h;
  r.api = api;
  r.err = err;
  rc = pc__opt_fewshot_open(&r.fx, o->h, api, WHO, err);
  if (rc)
    return rc;
  r.P = r.fx.n_pred;
  if (r.P == 0) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": the program has no "
                       "predictors to optimize");
    goto out;
  }
  make_plan(o, (int64_t)r.P, &r.pl);
  rc = setup_splits(&r);
  if (!rc)
    rc = stage1(&r);
  if (!rc)
    rc = stage2(&r);
  if (!rc)
    rc = stage3(&r);
  if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    pc_error e2 = PC_ERROR_INIT;

    r.stopped = 1;
    finish(&r, &e2);
  } else if (!rc) {
    rc = finish(&r, err);
  }
out:
  run_free(&r);
  return rc;
}

static const pc_optimizer_iface mp_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "miprov2",
  .create = mp_create,
  .destroy = mp_destroy,
  .estimate = mp_estimate,
  .compile = mp_compile,
  .settings = mp_settings,
};

static int mp_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-miprov2", state, err);
}

static const void *mp_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(mp_iface);
  return &mp_iface;
}

static const pc_plugin_info mp_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.miprov2",
  .name = "miprov2",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "MIPROv2: grounded instruction proposals and a Bayesian "
             "search over instructions and demo sets",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = mp_init,
  .fini = pc__opt_fini,
  .get_interface = mp_get_interface,
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
  return &mp_info;
}
