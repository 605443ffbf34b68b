/*
 * opt_simba.c - the `simba` optimizer plugin: DSPy's SIMBA (reference
 * dspy-optimizers.md section 7), stochastic introspective mini-batch
 * ascent over a pool of programs that grow demos and rules
 * (docs/optimizer-simba.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "simba_math.h"

#define WHO "simba"
#define ROLE "prompt_lm"
#define DEFAULT_TEMPERATURE 0.2
#define TRUNC_MARK "\n\t\t... <TRUNCATED FOR BREVITY>"

/* Setting upper bounds: far beyond useful runs, they keep the cost
 * arithmetic of estimate() inside int64_t. */
#define MAX_BSIZE 1000000
#define MAX_CANDIDATES 10000
#define MAX_STEPS 1000000

#define S_BSIZE 0
#define S_NUM_CANDIDATES 1
#define S_MAX_STEPS 2
#define S_MAX_DEMOS 3
#define S_MAXLEN 4
#define S_T_SAMPLING 5
#define S_T_CANDIDATES 6
#define S_USE_TEACHER 7
#define S_COUNT 8

static const pc__opt_spec specs[S_COUNT] = {
  {"bsize", PC__OPT_SET_INT, 1, 32, 0, 0, 0},
  {"num_candidates", PC__OPT_SET_INT, 1, 6, 0, 0, 0},
  {"max_steps", PC__OPT_SET_INT, 0, 8, 0, 0, 0},
  {"max_demos", PC__OPT_SET_INT, 0, 4, 0, 0, 0},
  {"demo_input_field_maxlen", PC__OPT_SET_INT, 0, 100000, 0, 0, 0},
  {"temperature_for_sampling", PC__OPT_SET_NUM, 0, 0, 0.0, 100.0, 1},
  {"temperature_for_candidates", PC__OPT_SET_NUM, 0, 0, 0.0, 100.0, 1},
  {"use_teacher_lm", PC__OPT_SET_BOOL, 0, 0, 0, 0, 0},
};

/* The strategies, in DSPy's order. */
#define STRAT_DEMO 0
#define STRAT_RULE 1
static const char *const strategy_names[] = {"append_a_demo",
                                             "append_a_rule"};

/* DSPy's OfferFeedback signature: its field names and meaning, our own
 * words. */
static const char offer_feedback_sig[] =
  "{\"instructions\": \"You will see two runs of a program that is built "
  "from language-model modules: a worse run and a better run, on the same "
  "inputs, each with the reward its outputs earned. Help each module "
  "learn how to earn a higher reward when it meets similar inputs again. "
  "A module will not remember this run; it only keeps the advice you "
  "write, so make the advice concrete enough to act on and general enough "
  "to carry over to other inputs.\\n\\n"
  "- Skip boilerplate; say what should change.\\n"
  "- Advice for a module must be about that module's own part of the "
  "task.\\n"
  "- Compare the worse run with the better run to find where the worse "
  "one went wrong.\\n"
  "- Use every module name exactly once as a key of module_advice.\","
  " \"inputs\": ["
  "{\"name\": \"program_code\", \"type\": \"str\", \"desc\": \"A "
  "description of the program: its inputs and the modules it calls\"},"
  " {\"name\": \"modules_defn\", \"type\": \"str\", \"desc\": \"Each "
  "module's input and output fields and its current instructions\"},"
  " {\"name\": \"program_inputs\", \"type\": \"str\", \"desc\": \"The "
  "inputs both runs were given\"},"
  " {\"name\": \"oracle_metadata\", \"type\": \"str\", \"desc\": \"What "
  "the example says the outputs should be (hidden from the program)\"},"
  " {\"name\": \"worse_program_trajectory\", \"type\": \"str\", \"desc\":"
  " \"The module calls of the worse run, with their inputs and "
  "outputs\"},"
  " {\"name\": \"worse_program_outputs\", \"type\": \"str\", \"desc\": "
  "\"The final outputs of the worse run\"},"
  " {\"name\": \"worse_reward_value\", \"type\": \"str\", \"desc\": \"The "
  "reward of the worse run\"},"
  " {\"name\": \"worse_reward_info\", \"type\": \"str\", \"desc\": "
  "\"What the metric said about the worse run\"},"
  " {\"name\": \"better_program_trajectory\", \"type\": \"str\", \"desc\":"
  " \"The module calls of the better run, with their inputs and "
  "outputs\"},"
  " {\"name\": \"better_program_outputs\", \"type\": \"str\", \"desc\": "
  "\"The final outputs of the better run\"},"
  " {\"name\": \"better_reward_value\", \"type\": \"str\", \"desc\": \"The"
  " reward of the better run\"},"
  " {\"name\": \"better_reward_info\", \"type\": \"str\", \"desc\": "
  "\"What the metric said about the better run\"},"
  " {\"name\": \"module_names\", \"type\": \"str\", \"desc\": \"The names "
  "of the modules to advise\"}],"
  " \"outputs\": ["
  "{\"name\": \"discussion\", \"type\": \"str\", \"desc\": \"Where each "
  "module went wrong, if it did, and why\"},"
  " {\"name\": \"module_advice\", \"type\": \"dict[str, str]\", \"desc\": "
  "\"For each module name, advice of the form: if the module receives "
  "<a description of such inputs or patterns in them>, then it should "
  "<what to produce, how to behave, which strategies to adopt or "
  "avoid>\"}]}";

/* One configured optimizer. */
typedef struct simba {
  const pc__opt_host *h;        /* borrowed: the plugin state */
  pc__opt_value vals[S_COUNT];  /* settings, defaults filled in */
} simba;

/* One program of the pool. */
typedef struct sb_prog {
  pc_json *state;   /* owned: {"<path>": {"instructions", "demos"}} */
  double *scores;   /* owned: the batch scores measured at creation */
  size_t n_scores;
  double avg;       /* their mean, 0.0 when there are none (baseline) */
  int64_t step;     /* the step that made it; 0 for the baseline */
} sb_prog;

/* One sampled run of a program on a batch example. */
typedef struct sb_record {
  int64_t ex;          /* train index */
  size_t prog;         /* pool index of the program that ran */
  double score;
  const pc_json *row;  /* borrowed from the step's answers */
} sb_record;

/* One candidate of a step. */
typedef struct sb_cand {
  pc_json *state;     /* owned */
  size_t source;      /* pool index it was copied from */
  int strategy;       /* STRAT_* */
  int applied;        /* the strategy changed it (not declined) */
  double *scores;     /* owned: bsize batch scores once evaluated */
  double mean;
} sb_cand;

/* One compile() call. */
typedef struct sb_run {
  const simba *o;
  const pc__opt_host *h;
  const pc_compile_api *api;
  const pc_values_api *values;  /* optional: Python str() of values */
  pc_error *err;
  uint64_t seed;
  int64_t bsize, c, max_steps, max_demos, maxlen;
  double t_sampling, t_candidates;
  int use_teacher;
  pc_json *program;             /* owned: api->program() */
  pc_json *train;               /* owned: api->dataset("train") */
  const pc_json *examples;      /* borrowed from train */
  const pc_json *input_keys;    /* borrowed from train, may be NULL */
  size_t n_train;
  const pc_json **preds;        /* owned array; elements borrowed */
  const char **paths;           /* owned array; strings borrowed */
  size_t n_pred;
  char *program_code;           /* owned */
  sb_prog *pool;                /* owned */
  size_t n_pool, cap_pool;
  size_t *winners;              /* owned: pool indices, [0] = baseline */
  size_t n_winners;
  int64_t *order;               /* owned: the train order */
  size_t next;                  /* position of the next batch in order */
  uint64_t n_shuffles;
  pc_json *trial_logs;          /* owned: array, one object per step */
  pc_json *final_list;          /* owned: [{"score", "step", ...}] */
  int64_t n_trials;             /* candidate evaluations recorded */
  int64_t planned;              /* evaluations the settings plan */
  double best_seen;             /* best mean recorded, for progress */
  int have_final;               /* a final evaluation finished */
  double best_final;
  size_t best_final_prog;
} sb_run;

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                           */

static int oom(pc_error *err)
{
  return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
}

static void jfree(const pc__opt_host *h, pc_json *v)
{
  h->js->free(h->host->ctx, v);
}

static int set_int(const pc__opt_host *h, pc_json *o, const char *k,
                   int64_t v, pc_error *err)
{
  return pc__opt_json_set(h, o, k, h->js->new_int(h->host->ctx, v), err);
}

static int set_num(const pc__opt_host *h, pc_json *o, const char *k,
                   double v, pc_error *err)
{
  return pc__opt_json_set(h, o, k, h->js->new_double(h->host->ctx, v), err);
}

static int set_str(const pc__opt_host *h, pc_json *o, const char *k,
                   const char *v, pc_error *err)
{
  return pc__opt_json_set(h, o, k,
                          h->js->new_string(h->host->ctx, v, strlen(v)),
                          err);
}

static int set_bool(const pc__opt_host *h, pc_json *o, const char *k, int v,
                    pc_error *err)
{
  return pc__opt_json_set(h, o, k, h->js->new_bool(h->host->ctx, v), err);
}

/* v as Python's float() would read a score (null and others: 0). */
static double num_of(const pc__opt_host *h, const pc_json *v)
{
  int32_t t = v ? h->js->type(v) : PC_JSON_NULL;

  if (t == PC_JSON_INT || t == PC_JSON_DOUBLE)
    return h->js->get_double(v);
  if (t == PC_JSON_BOOL)
    return h->js->get_bool(v) ? 1.0 : 0.0;
  return 0.0;
}

/* Serialise v with `flags` into a new string (pc__opt_free), or NULL. */
static char *text_of(const pc__opt_host *h, const pc_json *v, uint32_t flags)
{
  char *t = NULL;
  size_t len = 0;

  if (h->js->to_text(h->host->ctx, v, flags, &t, &len) != PC_OK)
    return NULL;
  return t;
}

/* ------------------------------------------------------------------------ */
/* Settings, estimate.                                                      */

static int sb_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  simba *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return oom(err);
  o->h = h;
  rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, settings_json, len,
                              o->vals, err);
  if (!rc && o->vals[S_BSIZE].i > MAX_BSIZE)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": bsize: expected an "
                       "integer from 1 to %d", MAX_BSIZE);
  if (!rc && o->vals[S_NUM_CANDIDATES].i > MAX_CANDIDATES)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": num_candidates: "
                       "expected an integer from 1 to %d", MAX_CANDIDATES);
  if (!rc && o->vals[S_MAX_STEPS].i > MAX_STEPS)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": max_steps: expected "
                       "an integer from 0 to %d", MAX_STEPS);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  /* A temperature left null takes DSPy's default. */
  if (o->vals[S_T_SAMPLING].is_null) {
    o->vals[S_T_SAMPLING].is_null = 0;
    o->vals[S_T_SAMPLING].d = DEFAULT_TEMPERATURE;
  }
  if (o->vals[S_T_CANDIDATES].is_null) {
    o->vals[S_T_CANDIDATES].is_null = 0;
    o->vals[S_T_CANDIDATES].d = DEFAULT_TEMPERATURE;
  }
  *inst = o;
  return PC_OK;
}

static void sb_destroy(void *inst)
{
  simba *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int sb_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  simba *o = inst;

  return pc__opt_settings_write(o->h, specs, S_COUNT, o->vals, out, err);
}

/* The train split must hold a whole batch (DSPy asserts it). */
static int check_train_size(const simba *o, int64_t n_train, pc_error *err)
{
  if (n_train < o->vals[S_BSIZE].i)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": bsize: %lld is more"
                         " than the %lld train examples (bsize must be <= "
                         "the train size)", (long long)o->vals[S_BSIZE].i,
                         (long long)n_train);
  return PC_OK;
}

/* Candidates one step can make: one per batch example, at most c + 1. */
static int64_t cands_per_step(const simba *o)
{
  int64_t c1 = o->vals[S_NUM_CANDIDATES].i + 1;

  return c1 < o->vals[S_BSIZE].i ? c1 : o->vals[S_BSIZE].i;
}

/* Final evaluations with every step won: min(c + 1, max_steps + 1). */
static int64_t final_count(const simba *o)
{
  int64_t c1 = o->vals[S_NUM_CANDIDATES].i + 1;
  int64_t m1 = o->vals[S_MAX_STEPS].i + 1;

  return c1 < m1 ? c1 : m1;
}

/* Reference section 7.6: per step bsize * c sampling runs and at most
 * min(c + 1, bsize) candidates of bsize runs each, then at most
 * min(c + 1, max_steps + 1) programs on the whole train split. */
static int sb_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  simba *o = inst;
  pc_json *info = NULL;
  int64_t t, r, steps, bsize, c, runs, props;
  int rc;

  rc = pc__opt_json_parse(o->h, WHO ": estimate", info_json, len, &info,
                          err);
  if (rc)
    return rc;
  t = pc__opt_info_int(o->h, info, "train");
  r = pc__opt_info_int(o->h, info, "calls_per_run");
  jfree(o->h, info);
  rc = check_train_size(o, t, err);
  if (rc)
    return rc;
  if (r < 1)
    r = 1;
  steps = o->vals[S_MAX_STEPS].i;
  bsize = o->vals[S_BSIZE].i;
  c = o->vals[S_NUM_CANDIDATES].i;
  runs = steps * (bsize * c + cands_per_step(o) * bsize) +
         final_count(o) * t;
  props = steps * cands_per_step(o);
  return pc__opt_write_estimate(o->h, runs * r, runs, props, out, err);
}

/* ------------------------------------------------------------------------ */
/* The compile's objects.                                                   */

static void run_free(sb_run *r)
{
  const pc__opt_host *h = r->h;
  size_t i;

  for (i = 0; i < r->n_pool; i++) {
    jfree(h, r->pool[i].state);
    pc__opt_free(h, r->pool[i].scores);
  }
  pc__opt_free(h, r->pool);
  pc__opt_free(h, r->winners);
  pc__opt_free(h, r->order);
  pc__opt_free(h, r->preds);
  pc__opt_free(h, r->paths);
  pc__opt_free(h, r->program_code);
  jfree(h, r->trial_logs);
  jfree(h, r->final_list);
  jfree(h, r->program);
  jfree(h, r->train);
}

/* Add a program to the pool, taking over `state` and `scores` (also on
 * failure). */
static int pool_add(sb_run *r, pc_json *state, double *scores, size_t n,
                    int64_t step)
{
  const pc__opt_host *h = r->h;
  sb_prog *p;
  size_t i;

  if (r->n_pool == r->cap_pool) {
    size_t cap = r->cap_pool ? 2 * r->cap_pool : 16;
    sb_prog *np = h->host->realloc(h->host->ctx, r->pool,
                                   cap * sizeof(*np));

    if (!np) {
      jfree(h, state);
      pc__opt_free(h, scores);
      return oom(r->err);
    }
    r->pool = np;
    r->cap_pool = cap;
  }
  p = &r->pool[r->n_pool++];
  p->state = state;
  p->scores = scores;
  p->n_scores = n;
  p->step = step;
  p->avg = 0.0;
  for (i = 0; i < n; i++)
    p->avg += scores[i];
  if (n)
    p->avg /= (double)n;
  return PC_OK;
}

/* The predictor entry of `path` in a state (borrowed). */
static const pc_json *state_pred(const sb_run *r, const pc_json *state,
                                 const char *path)
{
  return r->h->js->object_get(state, path);
}

static const char *state_instr(const sb_run *r, const pc_json *state,
                               const char *path)
{
  const char *s = pc__opt_json_str(r->h, state_pred(r, state, path),
                                   "instructions");

  return s ? s : "";
}

/* A short textual description of the program (we have no source code to
 * show, as DSPy does). */
static int describe_program(sb_run *r)
{
  const pc__opt_host *h = r->h;
  const pc_json *ins = h->js->object_get(r->program, "inputs");
  const char *name = pc__opt_json_str(h, r->program, "name");
  pc__opt_text b = {.h = r->h};
  size_t i, j, k;
  char num[32];

  pc__opt_text_str(&b, "Program \"");
  pc__opt_text_str(&b, name ? name : "");
  pc__opt_text_str(&b, "\", a promptc program (promptc.program/1).\nInputs: ");
  for (i = 0; ins && i < h->js->array_len(ins); i++) {
    const char *s = h->js->get_string(h->js->array_get(ins, i), NULL);

    pc__opt_text_str(&b, i ? ", " : "");
    pc__opt_text_str(&b, s ? s : "");
  }
  snprintf(num, sizeof(num), "%zu", r->n_pred);
  pc__opt_text_str(&b, "\nIt runs ");
  pc__opt_text_str(&b, num);
  pc__opt_text_str(&b, " language-model module(s), in this order:\n");
  for (i = 0; i < r->n_pred; i++) {
    const char *mod = pc__opt_json_str(h, r->preds[i], "module");
    const pc_json *sig = h->js->object_get(r->preds[i], "signature");

    pc__opt_text_str(&b, "- ");
    pc__opt_text_str(&b, r->paths[i]);
    pc__opt_text_str(&b, " (");
    pc__opt_text_str(&b, mod ? mod : "predict");
    pc__opt_text_str(&b, "): ");
    for (k = 0; k < 2; k++) {
      const pc_json *fs = h->js->object_get(sig, k ? "outputs" : "inputs");

      if (k)
        pc__opt_text_str(&b, " -> ");
      for (j = 0; fs && j < h->js->array_len(fs); j++) {
        const char *fn = pc__opt_json_str(h, h->js->array_get(fs, j),
                                          "name");

        pc__opt_text_str(&b, j ? ", " : "");
        pc__opt_text_str(&b, fn ? fn : "");
      }
    }
    pc__opt_text_str(&b, "\n");
  }
  r->program_code = pc__opt_text_take(&b);
  return r->program_code ? PC_OK : oom(r->err);
}

/* Append "\n\t\t" + each line of `text` to b. */
static void put_indented(pc__opt_text *b, const char *text)
{
  const char *p = text;

  for (;;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);

    pc__opt_text_str(b, "\n\t\t");
    pc__opt_text_add(b, p, n);
    if (!nl)
      break;
    p = nl + 1;
  }
}

/* DSPy's inspect_modules for a candidate: per predictor its fields and
 * its current instructions, between 80-dash lines. *out owned. */
static int modules_defn(sb_run *r, const pc_json *state, char **out)
{
  const pc__opt_host *h = r->h;
  pc__opt_text b = {.h = r->h};
  char dashes[81];
  size_t i, j, k;

  memset(dashes, '-', 80);
  dashes[80] = '\0';
  pc__opt_text_str(&b, dashes);
  for (i = 0; i < r->n_pred; i++) {
    const pc_json *sig = h->js->object_get(r->preds[i], "signature");

    pc__opt_text_str(&b, "\nModule ");
    pc__opt_text_str(&b, r->paths[i]);
    for (k = 0; k < 2; k++) {
      const pc_json *fs = h->js->object_get(sig, k ? "outputs" : "inputs");

      pc__opt_text_str(&b, k ? "\n\tOutput Fields:" : "\n\tInput Fields:");
      for (j = 0; fs && j < h->js->array_len(fs); j++) {
        const pc_json *f = h->js->array_get(fs, j);
        const char *fn = pc__opt_json_str(h, f, "name");
        const char *ty = pc__opt_json_str(h, f, "type");
        const char *de = pc__opt_json_str(h, f, "desc");

        pc__opt_text_str(&b, "\n\t\t");
        pc__opt_text_str(&b, fn ? fn : "");
        pc__opt_text_str(&b, " (");
        pc__opt_text_str(&b, ty ? ty : "str");
        pc__opt_text_str(&b, ")");
        if (de && *de) {
          pc__opt_text_str(&b, ": ");
          pc__opt_text_str(&b, de);
        }
      }
    }
    pc__opt_text_str(&b, "\n\tOriginal Instructions:");
    put_indented(&b, state_instr(r, state, r->paths[i]));
    pc__opt_text_str(&b, "\n");
    pc__opt_text_str(&b, dashes);
  }
  *out = pc__opt_text_take(&b);
  return *out ? PC_OK : oom(r->err);
}

/* Read the program and the train split; build the baseline. */
static int run_open(sb_run *r)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  const pc_json *preds;
  pc_json *base = NULL;
  size_t i;
  int rc;

  rc = r->api->program(r->api->ctx, &r->program, r->err);
  if (!rc)
    rc = r->api->dataset(r->api->ctx, PC_SPLIT_TRAIN, &r->train, r->err);
  if (rc)
    return rc;
  r->examples = h->js->object_get(r->train, "examples");
  r->input_keys = h->js->object_get(r->train, "input_keys");
  r->n_train = r->examples ? h->js->array_len(r->examples) : 0;
  rc = check_train_size(r->o, (int64_t)r->n_train, r->err);
  if (rc)
    return rc;
  preds = h->js->object_get(r->program, "predictors");
  r->n_pred = preds ? h->js->array_len(preds) : 0;
  r->preds = pc__opt_calloc(h, r->n_pred + 1, sizeof(*r->preds));
  r->paths = pc__opt_calloc(h, r->n_pred + 1, sizeof(*r->paths));
  r->order = pc__opt_calloc(h, r->n_train + 1, sizeof(*r->order));
  r->winners = pc__opt_calloc(h, (size_t)r->max_steps + 1,
                              sizeof(*r->winners));
  r->trial_logs = h->js->new_array(ctx);
  base = h->js->new_object(ctx);
  if (!r->preds || !r->paths || !r->order || !r->winners ||
      !r->trial_logs || !base) {
    jfree(h, base);
    return oom(r->err);
  }
  for (i = 0; i < r->n_pred; i++) {
    const pc_json *p = h->js->array_get(preds, i);
    const char *path = pc__opt_json_str(h, p, "path");
    const char *instr = pc__opt_json_str(h, p, "instructions");
    const pc_json *demos = h->js->object_get(p, "demos");
    pc_json *e = h->js->new_object(ctx);

    if (!path) {
      jfree(h, e);
      jfree(h, base);
      return pc__opt_error(r->err, PC_E_INTERNAL, WHO ": program(): a "
                           "predictor without a path");
    }
    r->preds[i] = p;
    r->paths[i] = path;
    rc = e ? PC_OK : oom(r->err);
    if (!rc)
      rc = set_str(h, e, "instructions", instr ? instr : "", r->err);
    if (!rc)
      rc = pc__opt_json_set(h, e, "demos",
                            demos && h->js->type(demos) == PC_JSON_ARRAY
                              ? h->js->copy(ctx, demos)
                              : h->js->new_array(ctx), r->err);
    if (!rc)
      rc = pc__opt_json_set(h, base, path, e, r->err);
    else
      jfree(h, e);
    if (rc) {
      jfree(h, base);
      return rc;
    }
  }
  rc = describe_program(r);
  if (rc) {
    jfree(h, base);
    return rc;
  }
  /* The baseline: index 0, no scores, so its average stays 0.0. */
  rc = pool_add(r, base, NULL, 0, 0);
  if (rc)
    return rc;
  r->winners[r->n_winners++] = 0;
  for (i = 0; i < r->n_train; i++)
    r->order[i] = (int64_t)i;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Random draws.                                                            */

static double unit_cb(void *ctx)
{
  return pc__opt_rng_unit(ctx);
}

/* The shuffle of the train order: once at the start, and again whenever
 * fewer than bsize examples are left. */
static void shuffle_order(sb_run *r)
{
  pc__opt_rng g;

  pc__opt_rng_init(&g, r->h, r->seed, "simba-shuffle", r->n_shuffles++);
  pc__opt_rng_shuffle(&g, r->order, r->n_train);
}

/* The averages of the pool programs listed in idx[0..n), into avg[]. */
static void avgs_of(const sb_run *r, const size_t *idx, size_t n,
                    double *avg)
{
  size_t i;

  for (i = 0; i < n; i++)
    avg[i] = r->pool[idx[i]].avg;
}

/* top_k_plus_baseline(c) over the pool into top[] (c entries of room);
 * *n_top gets the count. */
static int top_programs(sb_run *r, size_t *top, size_t *n_top)
{
  double *avg = pc__opt_calloc(r->h, r->n_pool, sizeof(*avg));
  size_t i;

  if (!avg)
    return oom(r->err);
  for (i = 0; i < r->n_pool; i++)
    avg[i] = r->pool[i].avg;
  *n_top = pc__simba_top_k(avg, r->n_pool, (size_t)r->c, top);
  pc__opt_free(r->h, avg);
  return PC_OK;
}

/* softmax_sample over top[0..n) with the temperature t; scratch[] holds
 * n doubles of the caller's. */
static size_t softmax_pick(const sb_run *r, const size_t *top, size_t n,
                           double t, double *scratch, pc__opt_rng *g)
{
  avgs_of(r, top, n, scratch);
  return top[pc__simba_softmax_pick(scratch, n, t, pc__opt_rng_unit(g))];
}

/* ------------------------------------------------------------------------ */
/* Evaluation requests.                                                     */

/* Run `state` on the train examples idx[0..n) (all when idx is NULL);
 * *out owns the answer. */
static int evaluate(sb_run *r, const pc_json *state, const int64_t *idx,
                    size_t n, uint32_t flags, const char *config,
                    pc_json **out)
{
  int rc;

  rc = pc__opt_evaluate(r->h, r->api, state, PC_SPLIT_TRAIN, idx,
                        idx ? n : 0, flags, config, out, r->err);
  if (!rc) {
    const pc_json *rows = r->h->js->object_get(*out, "results");

    if (!rows || (idx && r->h->js->array_len(rows) != n)) {
      r->h->js->free(r->h->host->ctx, *out);
      *out = NULL;
      rc = pc__opt_error(r->err, PC_E_INTERNAL, WHO ": evaluate() "
                         "answered with %zu rows for %zu examples",
                         rows ? r->h->js->array_len(rows) : 0, n);
    }
  }
  return rc;
}

/* The answers kept during one step (the records borrow their rows). */
typedef struct sb_answers {
  pc_json **v;
  size_t n, cap;
} sb_answers;

static void answers_free(const pc__opt_host *h, sb_answers *a)
{
  size_t i;

  for (i = 0; i < a->n; i++)
    jfree(h, a->v[i]);
  pc__opt_free(h, a->v);
  memset(a, 0, sizeof(*a));
}

static int answers_add(sb_run *r, sb_answers *a, pc_json *v)
{
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 8;
    pc_json **nv = r->h->host->realloc(r->h->host->ctx, a->v,
                                       cap * sizeof(*nv));

    if (!nv) {
      jfree(r->h, v);
      return oom(r->err);
    }
    a->v = nv;
    a->cap = cap;
  }
  a->v[a->n++] = v;
  return PC_OK;
}

/*
 * Trajectory sampling: for each model k (outer) and batch example j
 * (inner) a program drawn by softmax over top_k_plus_baseline; then one
 * request per (model, program) over the examples that drew it. recs[k *
 * bsize + j] is DSPy's model-major order.
 */
static int sample_runs(sb_run *r, const int64_t *batch, pc__opt_rng *g,
                       sb_record *recs, sb_answers *ans)
{
  const pc__opt_host *h = r->h;
  size_t bsize = (size_t)r->bsize, c = (size_t)r->c, n_top = 0;
  size_t *top = pc__opt_calloc(h, c, sizeof(*top));
  size_t *picks = pc__opt_calloc(h, c * bsize, sizeof(*picks));
  int64_t *idx = pc__opt_calloc(h, bsize, sizeof(*idx));
  size_t *pos = pc__opt_calloc(h, bsize, sizeof(*pos));
  unsigned char *done = pc__opt_calloc(h, bsize, 1);
  double *scratch = pc__opt_calloc(h, c, sizeof(*scratch));
  size_t k, j, i;
  int rc = PC_OK;

  if (!top || !picks || !idx || !pos || !done || !scratch) {
    rc = oom(r->err);
    goto out;
  }
  rc = top_programs(r, top, &n_top);
  if (rc)
    goto out;
  for (k = 0; k < c; k++)
    for (j = 0; j < bsize; j++)
      picks[k * bsize + j] = softmax_pick(r, top, n_top, r->t_sampling,
                                          scratch, g);
  for (k = 0; !rc && k < c; k++) {
    char config[96];
    uint32_t flags = PC_EVAL_TRACES | PC_EVAL_FEEDBACK;

    if (r->use_teacher && k == 0) {
      /* DSPy's teacher_settings: model 0 is the teacher at its own
       * temperature, with the first rollout id. */
      snprintf(config, sizeof(config), "{\"rollout_id\": \"simba-0\"}");
      flags |= PC_EVAL_TEACHER;
    } else {
      snprintf(config, sizeof(config), "{\"temperature\": 1.0, "
               "\"rollout_id\": \"simba-%zu\"}", k);
    }
    memset(done, 0, bsize);
    for (j = 0; !rc && j < bsize; j++) {
      size_t prog = picks[k * bsize + j], n = 0;
      pc_json *a = NULL;
      const pc_json *rows;

      if (done[j])
        continue;
      for (i = j; i < bsize; i++)
        if (picks[k * bsize + i] == prog) {
          done[i] = 1;
          pos[n] = i;
          idx[n++] = batch[i];
        }
      rc = evaluate(r, r->pool[prog].state, idx, n, flags, config, &a);
      if (rc)
        break;
      rc = answers_add(r, ans, a);
      if (rc)
        break;
      rows = h->js->object_get(a, "results");
      for (i = 0; i < n; i++) {
        sb_record *rec = &recs[k * bsize + pos[i]];

        rec->ex = idx[i];
        rec->prog = prog;
        rec->row = h->js->array_get(rows, i);
        rec->score = num_of(h, h->js->object_get(rec->row, "score"));
      }
    }
  }
out:
  pc__opt_free(h, top);
  pc__opt_free(h, picks);
  pc__opt_free(h, idx);
  pc__opt_free(h, pos);
  pc__opt_free(h, done);
  pc__opt_free(h, scratch);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Candidates.                                                              */

/* Replace predictor `path`'s member `key` in `state` with `value` (taken
 * over). */
static int pred_set(sb_run *r, pc_json *state, const char *path,
                    const char *key, pc_json *value)
{
  pc_json *e = (pc_json *)state_pred(r, state, path);

  if (!e) {
    jfree(r->h, value);
    return pc__opt_error(r->err, PC_E_INTERNAL, WHO ": no state for %s",
                         path);
  }
  return pc__opt_json_set(r->h, e, key, value, r->err);
}

/*
 * Demo dropping: D = the most demos of any predictor; drop max(Poisson(D
 * / cap), D >= cap) of them (at most D), cap = max_demos or 3 when that
 * is 0, at positions drawn with repeats; the same positions leave every
 * predictor.
 */
static int drop_demos(sb_run *r, pc_json *cand, pc__opt_rng *g,
                      pc__opt_rng *gp)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  size_t i, d = 0, k, n_drop;
  int64_t cap = r->max_demos > 0 ? r->max_demos : 3, poisson;
  size_t *drop = NULL;
  int rc = PC_OK;

  for (i = 0; i < r->n_pred; i++) {
    const pc_json *demos = h->js->object_get(state_pred(r, cand,
                                                        r->paths[i]),
                                             "demos");
    size_t n = demos ? h->js->array_len(demos) : 0;

    if (n > d)
      d = n;
  }
  poisson = pc__simba_poisson((double)d / (double)cap, unit_cb, gp);
  if (poisson < ((int64_t)d >= cap ? 1 : 0))
    poisson = 1;
  n_drop = (size_t)poisson < d ? (size_t)poisson : d;
  if (n_drop == 0)
    return PC_OK;
  drop = pc__opt_calloc(h, n_drop, sizeof(*drop));
  if (!drop)
    return oom(r->err);
  for (k = 0; k < n_drop; k++)
    drop[k] = (size_t)pc__opt_rng_below(g, d);
  for (i = 0; !rc && i < r->n_pred; i++) {
    const pc_json *demos = h->js->object_get(state_pred(r, cand,
                                                        r->paths[i]),
                                             "demos");
    size_t n = demos ? h->js->array_len(demos) : 0, x;
    pc_json *kept = h->js->new_array(ctx);

    if (!kept) {
      rc = oom(r->err);
      break;
    }
    for (x = 0; !rc && x < n; x++) {
      for (k = 0; k < n_drop && drop[k] != x; k++)
        ;
      if (k == n_drop)
        rc = pc__opt_json_push(h, kept, h->js->copy(ctx, h->js->array_get(
                                                            demos, x)),
                               r->err);
    }
    if (rc)
      jfree(h, kept);
    else
      rc = pred_set(r, cand, r->paths[i], "demos", kept);
  }
  pc__opt_free(h, drop);
  return rc;
}

/* The index of path in the program's predictors, or n_pred. */
static size_t pred_index(const sb_run *r, const char *path)
{
  size_t i;

  for (i = 0; path && i < r->n_pred; i++)
    if (!strcmp(r->paths[i], path))
      return i;
  return r->n_pred;
}

/* Code points of UTF-8 text s[0..len). */
static size_t utf8_chars(const char *s, size_t len)
{
  size_t i, n = 0;

  for (i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      n++;
  return n;
}

/* The byte length of the first `chars` code points of s[0..len). */
static size_t utf8_prefix(const char *s, size_t len, size_t chars)
{
  size_t i, n = 0;

  for (i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == chars)
      return i;
  return len;
}

/* A demo input value: v itself, or when str(v) is longer than maxlen
 * characters its first maxlen characters and DSPy's truncation mark. */
static pc_json *demo_input(sb_run *r, const pc_json *v)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  char *own = NULL;
  const char *s;
  size_t len = 0, cut;
  pc_json *out;
  pc__opt_text b = {.h = r->h};

  if (r->maxlen <= 0)
    return h->js->copy(ctx, v);
  if (h->js->type(v) == PC_JSON_STRING) {
    s = h->js->get_string(v, &len);
  } else {
    pc_error e = PC_ERROR_INIT;

    if (!r->values || r->values->render(ctx, v, NULL, PC_VALUE_RENDER_PYSTR,
                                        &own, &len, &e) != PC_OK) {
      own = text_of(h, v, PC_JSON_TEXT_SPACED);
      len = own ? strlen(own) : 0;
    }
    if (!own)
      return NULL;
    s = own;
  }
  if (utf8_chars(s, len) <= (size_t)r->maxlen) {
    pc__opt_free(h, own);
    return h->js->copy(ctx, v);
  }
  cut = utf8_prefix(s, len, (size_t)r->maxlen);
  pc__opt_text_add(&b, s, cut);
  pc__opt_text_str(&b, TRUNC_MARK);
  pc__opt_free(h, own);
  out = b.failed ? NULL : h->js->new_string(ctx, b.data, b.len);
  pc__opt_text_free(&b);
  return out;
}

/* The demo of one trace step: {"augmented": true, inputs..., outputs...}.
 * NULL when out of memory. */
static pc_json *step_demo(sb_run *r, const pc_json *step)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *d = h->js->new_object(ctx);
  size_t k, i;

  if (!d || set_bool(h, d, "augmented", 1, NULL))
    goto fail;
  for (k = 0; k < 2; k++) {
    const pc_json *fs = h->js->object_get(step, k ? "outputs" : "inputs");
    size_t n = fs && h->js->type(fs) == PC_JSON_OBJECT
               ? h->js->object_len(fs) : 0;

    for (i = 0; i < n; i++) {
      const char *key;
      const pc_json *v;

      if (h->js->object_at(fs, i, &key, &v) != 0)
        break;
      if (pc__opt_json_set(h, d, key, k ? h->js->copy(ctx, v)
                                        : demo_input(r, v), NULL))
        goto fail;
    }
  }
  return d;
fail:
  jfree(h, d);
  return NULL;
}

/* append_a_demo: the best record's trace gives each predictor its last
 * step as a demo; declined (*applied = 0) at or below the 10th
 * percentile. */
static int append_a_demo(sb_run *r, pc_json *cand, const sb_record *good,
                         double p10, int *applied)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  const pc_json *trace;
  pc_json **last = NULL;
  size_t i, n;
  int rc = PC_OK;

  *applied = 0;
  if (good->score <= p10)
    return PC_OK;
  *applied = 1;
  trace = h->js->object_get(good->row, "trace");
  n = trace && h->js->type(trace) == PC_JSON_ARRAY
      ? h->js->array_len(trace) : 0;
  last = pc__opt_calloc(h, r->n_pred + 1, sizeof(*last));
  if (!last)
    return oom(r->err);
  for (i = 0; i < n; i++) {
    const pc_json *step = h->js->array_get(trace, i);
    size_t p = pred_index(r, pc__opt_json_str(h, step, "predictor"));
    pc_json *d;

    if (p == r->n_pred)
      continue;  /* a predictor the program does not name */
    d = step_demo(r, step);
    if (!d) {
      rc = oom(r->err);
      goto out;
    }
    jfree(h, last[p]);
    last[p] = d;
  }
  for (i = 0; !rc && i < r->n_pred; i++) {
    pc_json *demos;

    if (!last[i])
      continue;
    demos = (pc_json *)h->js->object_get(state_pred(r, cand, r->paths[i]),
                                         "demos");
    if (!demos) {
      rc = pred_set(r, cand, r->paths[i], "demos", h->js->new_array(ctx));
      demos = rc ? NULL : (pc_json *)h->js->object_get(
                            state_pred(r, cand, r->paths[i]), "demos");
    }
    if (!rc && demos) {
      rc = pc__opt_json_push(h, demos, last[i], r->err);
      last[i] = NULL;
    }
  }
out:
  for (i = 0; last && i < r->n_pred; i++)
    jfree(h, last[i]);
  pc__opt_free(h, last);
  return rc;
}

/* The trajectory of a record: [{"module_name", "inputs", "outputs"}]
 * for the trace steps of known predictors ([] when neutralised). */
static pc_json *trajectory(sb_run *r, const sb_record *rec, int na)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *arr = h->js->new_array(ctx);
  const pc_json *trace = h->js->object_get(rec->row, "trace");
  size_t i, n = !na && trace && h->js->type(trace) == PC_JSON_ARRAY
                ? h->js->array_len(trace) : 0;

  for (i = 0; arr && i < n; i++) {
    const pc_json *step = h->js->array_get(trace, i);
    const char *path = pc__opt_json_str(h, step, "predictor");
    const pc_json *in = h->js->object_get(step, "inputs");
    const pc_json *outp = h->js->object_get(step, "outputs");
    pc_json *e;

    if (pred_index(r, path) == r->n_pred)
      continue;
    e = h->js->new_object(ctx);
    if (!e || set_str(h, e, "module_name", path, NULL) ||
        pc__opt_json_set(h, e, "inputs", in ? h->js->copy(ctx, in)
                                            : h->js->new_object(ctx),
                         NULL) ||
        pc__opt_json_set(h, e, "outputs", outp ? h->js->copy(ctx, outp)
                                               : h->js->new_object(ctx),
                         NULL) ||
        pc__opt_json_push(h, arr, e, NULL)) {
      if (e)
        jfree(h, e);
      jfree(h, arr);
      return NULL;
    }
  }
  return arr;
}

/* The outputs of a record: its prediction, {} when it failed, DSPy's
 * placeholder when neutralised. */
static pc_json *outputs_of(sb_run *r, const sb_record *rec, int na)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  const pc_json *o = h->js->object_get(rec->row, "outputs");
  pc_json *v;

  if (na) {
    v = h->js->new_object(ctx);
    if (v && set_str(h, v, "N/A", "Prediction not available", NULL)) {
      jfree(h, v);
      return NULL;
    }
    return v;
  }
  if (o && h->js->type(o) == PC_JSON_OBJECT)
    return h->js->copy(ctx, o);
  return h->js->new_object(ctx);
}

/* The metric's extra information about a record: {"feedback",
 * "subscores"}, each when the metric gave it. */
static pc_json *reward_info(sb_run *r, const sb_record *rec)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *v = h->js->new_object(ctx);
  const pc_json *fb = h->js->object_get(rec->row, "feedback");
  const pc_json *sub = h->js->object_get(rec->row, "subscores");
  size_t len = 0;

  if (v && fb && h->js->type(fb) == PC_JSON_STRING &&
      (h->js->get_string(fb, &len), len > 0) &&
      pc__opt_json_set(h, v, "feedback", h->js->copy(ctx, fb), NULL))
    goto fail;
  if (v && sub && h->js->type(sub) == PC_JSON_OBJECT &&
      h->js->object_len(sub) > 0 &&
      pc__opt_json_set(h, v, "subscores", h->js->copy(ctx, sub), NULL))
    goto fail;
  return v;
fail:
  jfree(h, v);
  return NULL;
}

/* The example's input fields (inputs) or the others (labels). */
static pc_json *example_part(sb_run *r, int64_t ex, int inputs)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  const pc_json *fields = h->js->object_get(
    h->js->array_get(r->examples, (size_t)ex), "fields");
  size_t i, j, n = fields ? h->js->object_len(fields) : 0;
  size_t n_keys = r->input_keys ? h->js->array_len(r->input_keys) : 0;
  pc_json *v = h->js->new_object(ctx);

  for (i = 0; v && i < n; i++) {
    const char *key;
    const pc_json *val;
    int is_input = 0;

    if (h->js->object_at(fields, i, &key, &val) != 0)
      break;
    for (j = 0; j < n_keys; j++) {
      const char *s = h->js->get_string(h->js->array_get(r->input_keys, j),
                                        NULL);

      if (s && !strcmp(s, key))
        is_input = 1;
    }
    if (is_input == inputs &&
        pc__opt_json_set(h, v, key, h->js->copy(ctx, val), NULL)) {
      jfree(h, v);
      return NULL;
    }
  }
  return v;
}

/* Put inputs[key] = the text of `v` (taken over): a string as it is, any
 * other value as JSON with a 2-space indent, as DSPy's orjson does. */
static int put_input(sb_run *r, pc_json *inputs, const char *key,
                     pc_json *v)
{
  const pc__opt_host *h = r->h;
  char *t;
  int rc;

  if (!v)
    return oom(r->err);
  if (h->js->type(v) == PC_JSON_STRING)
    return pc__opt_json_set(h, inputs, key, v, r->err);
  t = text_of(h, v, PC_JSON_TEXT_PRETTY);
  jfree(h, v);
  if (!t)
    return oom(r->err);
  rc = set_str(h, inputs, key, t, r->err);
  pc__opt_free(h, t);
  return rc;
}

/* A reward value: the score as a JSON number's text, or "N/A". */
static pc_json *reward_value(sb_run *r, const sb_record *rec, int na)
{
  void *ctx = r->h->host->ctx;

  if (na)
    return r->h->js->new_string(ctx, "N/A", 3);
  return r->h->js->new_double(ctx, rec->score);
}

/* Is an error from a proposal one DSPy's strategy would raise, so that the
 * bucket is skipped? Caps, cancellation and host faults stop instead. */
static int proposal_skippable(int code)
{
  return code == PC_E_PARSE || code == PC_E_PROVIDER ||
         code == PC_E_TIMEOUT || code == PC_E_RATE_LIMITED ||
         code == PC_E_CONTEXT_LENGTH || code == PC_E_IO;
}

/*
 * append_a_rule: one OfferFeedback request comparing the best and the
 * worst record of a bucket; the advice for each predictor is appended to
 * its instructions. *applied = 0 when declined; *skip = 1 when the
 * proposal failed as DSPy's strategy would raise.
 */
static int append_a_rule(sb_run *r, pc_json *cand, const sb_record *good,
                         const sb_record *bad, double p10, double p90,
                         int *applied, int *skip)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *in = NULL, *names = NULL, *ans = NULL;
  const pc_json *advice;
  pc_propose_request req;
  pc_error e = PC_ERROR_INIT;
  char *defn = NULL, *text = NULL;
  size_t len = 0, i;
  int good_na = 0, bad_na = 0, rc;

  *applied = 0;
  *skip = 0;
  if (good->score <= p10 || bad->score >= p90)
    return PC_OK;
  if (good->score <= bad->score) {
    if (good->score > p90)
      bad_na = 1;
    else
      good_na = 1;
  }
  in = h->js->new_object(ctx);
  names = h->js->new_array(ctx);
  if (!in || !names) {
    rc = oom(r->err);
    goto out;
  }
  for (i = 0; i < r->n_pred; i++) {
    rc = pc__opt_json_push(h, names, h->js->new_string(
                                        ctx, r->paths[i],
                                        strlen(r->paths[i])), r->err);
    if (rc)
      goto out;
  }
  rc = modules_defn(r, cand, &defn);
  if (!rc)
    rc = set_str(h, in, "program_code", r->program_code, r->err);
  if (!rc)
    rc = set_str(h, in, "modules_defn", defn, r->err);
  if (!rc)
    rc = put_input(r, in, "program_inputs", example_part(r, good->ex, 1));
  if (!rc)
    rc = put_input(r, in, "oracle_metadata", example_part(r, good->ex, 0));
  if (!rc)
    rc = put_input(r, in, "worse_program_trajectory",
                   trajectory(r, bad, bad_na));
  if (!rc)
    rc = put_input(r, in, "worse_program_outputs",
                   outputs_of(r, bad, bad_na));
  if (!rc)
    rc = put_input(r, in, "worse_reward_value", reward_value(r, bad, bad_na));
  if (!rc)
    rc = put_input(r, in, "worse_reward_info", reward_info(r, bad));
  if (!rc)
    rc = put_input(r, in, "better_program_trajectory",
                   trajectory(r, good, good_na));
  if (!rc)
    rc = put_input(r, in, "better_program_outputs",
                   outputs_of(r, good, good_na));
  if (!rc)
    rc = put_input(r, in, "better_reward_value",
                   reward_value(r, good, good_na));
  if (!rc)
    rc = put_input(r, in, "better_reward_info", reward_info(r, good));
  if (!rc) {
    rc = put_input(r, in, "module_names", names);
    names = NULL;
  }
  if (!rc)
    rc = pc__opt_json_text(h, in, &text, &len, r->err);
  if (rc)
    goto out;
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_propose_request);
  req.role = ROLE;
  req.signature = offer_feedback_sig;
  req.inputs_json = text;
  req.inputs_len = len;
  rc = r->api->propose(r->api->ctx, &req, &ans, &e);
  if (rc) {
    if (proposal_skippable(rc)) {
      *skip = 1;
      rc = PC_OK;
    } else {
      rc = pc__opt_error(r->err, rc, "%s", e.message);
    }
    goto out;
  }
  advice = h->js->type(ans) == PC_JSON_ARRAY && h->js->array_len(ans) > 0
           ? h->js->object_get(h->js->array_get(ans, 0), "module_advice")
           : NULL;
  if (!advice || h->js->type(advice) != PC_JSON_OBJECT) {
    *skip = 1;  /* not a dict[str, str]: DSPy's parse would raise */
    goto out;
  }
  *applied = 1;
  for (i = 0; !rc && i < r->n_pred; i++) {
    const char *tip = pc__opt_json_str(h, advice, r->paths[i]);
    pc__opt_text b = {.h = r->h};
    char *instr;

    if (!tip)
      continue;
    pc__opt_text_str(&b, state_instr(r, cand, r->paths[i]));
    pc__opt_text_str(&b, "\n\n");
    pc__opt_text_str(&b, tip);
    instr = pc__opt_text_take(&b);
    if (!instr) {
      rc = oom(r->err);
      break;
    }
    rc = pred_set(r, cand, r->paths[i], "instructions",
                  h->js->new_string(ctx, instr, strlen(instr)));
    pc__opt_free(h, instr);
  }
out:
  jfree(h, in);
  jfree(h, names);
  jfree(h, ans);
  pc__opt_free(h, defn);
  pc__opt_free(h, text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Trials, progress, results.                                               */

static void progress(sb_run *r, double score)
{
  if (score > r->best_seen)
    r->best_seen = score;
  pc__opt_progress(r->h, r->api, r->n_trials, r->planned,
                   r->best_seen < 0 ? -1.0 : 100.0 * r->best_seen);
}

/* Record one evaluation: a step's candidate (final = 0) or a final one. */
static int record(sb_run *r, int64_t step, int final, int64_t number,
                  const sb_cand *cand, size_t prog, double score, int64_t n,
                  const pc_json *state)
{
  const pc__opt_host *h = r->h;
  pc_json *t = h->js->new_object(h->host->ctx);
  char label[96];
  int rc = t ? PC_OK : oom(r->err);

  if (final)
    snprintf(label, sizeof(label), "final: winner %lld (step %lld)",
             (long long)number, (long long)step);
  else
    snprintf(label, sizeof(label), "step %lld candidate %lld (%s)",
             (long long)step, (long long)number,
             strategy_names[cand->strategy]);
  if (!rc)
    rc = set_int(h, t, "candidate", r->n_trials, r->err);
  if (!rc)
    rc = set_str(h, t, "label", label, r->err);
  if (!rc)
    rc = set_str(h, t, "split", PC_SPLIT_TRAIN, r->err);
  if (!rc)
    rc = set_int(h, t, "step", step, r->err);
  if (!rc && final) {
    rc = set_bool(h, t, "final", 1, r->err);
    if (!rc)
      rc = set_int(h, t, "winner", number, r->err);
    if (!rc)
      rc = set_int(h, t, "program", (int64_t)prog, r->err);
  }
  if (!rc && !final) {
    rc = set_int(h, t, "index", number, r->err);
    if (!rc)
      rc = set_int(h, t, "source", (int64_t)cand->source, r->err);
    if (!rc)
      rc = set_str(h, t, "strategy", strategy_names[cand->strategy],
                   r->err);
    if (!rc)
      rc = set_bool(h, t, "applied", cand->applied, r->err);
  }
  if (!rc)
    rc = set_num(h, t, "score", score, r->err);
  if (!rc)
    rc = set_int(h, t, "n", n, r->err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(h->host->ctx, state),
                          r->err);
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, r->err);
  jfree(h, t);
  if (!rc) {
    r->n_trials++;
    progress(r, score);
  }
  return rc;
}

/* The mean score of an answer (0 when it has no rows). */
static double answer_mean(const sb_run *r, const pc_json *a, int64_t *n)
{
  const pc_json *rows = r->h->js->object_get(a, "results");
  size_t i, m = rows ? r->h->js->array_len(rows) : 0;
  double sum = 0.0;

  for (i = 0; i < m; i++)
    sum += num_of(r->h, r->h->js->object_get(r->h->js->array_get(rows, i),
                                             "score"));
  *n = (int64_t)m;
  return m ? sum / (double)m : 0.0;
}

/* The array of doubles v[0..n) as JSON, or NULL. */
static pc_json *num_array(const sb_run *r, const double *v, size_t n)
{
  void *ctx = r->h->host->ctx;
  pc_json *a = r->h->js->new_array(ctx);
  size_t i;

  for (i = 0; a && i < n; i++)
    if (pc__opt_json_push(r->h, a, r->h->js->new_double(ctx, v[i]), NULL)) {
      jfree(r->h, a);
      return NULL;
    }
  return a;
}

static pc_json *int_array(const sb_run *r, const int64_t *v, size_t n)
{
  void *ctx = r->h->host->ctx;
  pc_json *a = r->h->js->new_array(ctx);
  size_t i;

  for (i = 0; a && i < n; i++)
    if (pc__opt_json_push(r->h, a, r->h->js->new_int(ctx, v[i]), NULL)) {
      jfree(r->h, a);
      return NULL;
    }
  return a;
}

/* ------------------------------------------------------------------------ */
/* One step.                                                                */

static void cands_free(const pc__opt_host *h, sb_cand *c, size_t n)
{
  size_t i;

  for (i = 0; c && i < n; i++) {
    jfree(h, c[i].state);
    pc__opt_free(h, c[i].scores);
  }
  pc__opt_free(h, c);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* The step's log entry (appended to trial_logs). */
static int log_step(sb_run *r, int64_t step, const int64_t *batch,
                    double base, double p10, double p90, const sb_cand *c,
                    size_t n_c, int64_t winner)
{
  const pc__opt_host *h = r->h;
  pc_json *e = h->js->new_object(h->host->ctx);
  double *means = pc__opt_calloc(h, n_c + 1, sizeof(*means));
  size_t i;
  int rc = e && means ? PC_OK : oom(r->err);

  for (i = 0; i < n_c && means; i++)
    means[i] = c[i].mean;
  if (!rc)
    rc = set_int(h, e, "step", step, r->err);
  if (!rc)
    rc = pc__opt_json_set(h, e, "batch", int_array(r, batch,
                                                   (size_t)r->bsize),
                          r->err);
  if (!rc)
    rc = set_num(h, e, "baseline_score", base, r->err);
  if (!rc)
    rc = set_num(h, e, "p10", p10, r->err);
  if (!rc)
    rc = set_num(h, e, "p90", p90, r->err);
  if (!rc)
    rc = pc__opt_json_set(h, e, "candidates", num_array(r, means, n_c),
                          r->err);
  if (!rc)
    rc = pc__opt_json_set(h, e, "winner",
                          winner < 0 ? h->js->new_null(h->host->ctx)
                                     : h->js->new_int(h->host->ctx, winner),
                          r->err);
  pc__opt_free(h, means);
  if (!rc) {
    rc = pc__opt_json_push(h, r->trial_logs, e, r->err);
    e = NULL;
  }
  jfree(h, e);
  return rc;
}

/*
 * Step `step` (1-based) on the batch batch[0..bsize): sample, bucket,
 * build at most c + 1 candidates, evaluate them on the batch, keep the
 * winner and register them all.
 */
static int run_step(sb_run *r, int64_t step, const int64_t *batch)
{
  const pc__opt_host *h = r->h;
  size_t bsize = (size_t)r->bsize, c = (size_t)r->c, n = bsize * c;
  size_t max_cands = c + 1, n_cands = 0, b, k, n_top = 0;
  sb_record *recs = pc__opt_calloc(h, n, sizeof(*recs));
  double *sorted = pc__opt_calloc(h, n, sizeof(*sorted));
  double *keys = pc__opt_calloc(h, bsize * 3, sizeof(*keys));
  double *sc = pc__opt_calloc(h, c, sizeof(*sc));
  size_t *inner = pc__opt_calloc(h, bsize * c, sizeof(*inner));
  size_t *border = pc__opt_calloc(h, bsize, sizeof(*border));
  size_t *top = pc__opt_calloc(h, c, sizeof(*top));
  sb_cand *cands = pc__opt_calloc(h, max_cands, sizeof(*cands));
  sb_answers ans = {NULL, 0, 0};
  pc__opt_rng g, gp;
  double p10, p90, base = 0.0;
  int64_t winner = -1;
  int rc = PC_OK;

  if (!recs || !sorted || !keys || !sc || !inner || !border || !top ||
      !cands) {
    rc = oom(r->err);
    goto out;
  }
  /* DSPy's Random(seed) and numpy default_rng(seed), one stream each per
   * step. */
  pc__opt_rng_init(&g, h, r->seed, "simba", (uint64_t)step);
  pc__opt_rng_init(&gp, h, r->seed, "simba-poisson", (uint64_t)step);
  rc = sample_runs(r, batch, &g, recs, &ans);
  if (rc)
    goto out;

  /* Buckets: per example its c records, best first; then the examples
   * by (max - min, max, max - mean), largest first. */
  for (b = 0; b < bsize; b++) {
    double mx, mn, mean = 0.0;

    for (k = 0; k < c; k++) {
      sc[k] = recs[k * bsize + b].score;
      mean += sc[k];
    }
    pc__simba_order_desc(sc, 1, c, inner + b * c);
    mx = sc[inner[b * c]];
    mn = sc[inner[b * c + c - 1]];
    mean /= (double)c;
    keys[b * 3] = mx - mn;
    keys[b * 3 + 1] = mx;
    keys[b * 3 + 2] = mx - mean;
  }
  pc__simba_order_desc(keys, 3, bsize, border);
  for (k = 0; k < n; k++) {
    sorted[k] = recs[k].score;
    base += recs[k].score;
  }
  base /= (double)n;
  qsort(sorted, n, sizeof(*sorted), cmp_double);
  p10 = pc__simba_percentile(sorted, n, 10.0);
  p90 = pc__simba_percentile(sorted, n, 90.0);

  /* Candidates, one per bucket in that order. */
  for (b = 0; b < bsize && n_cands < max_cands; b++) {
    size_t e = border[b];
    const sb_record *good = &recs[inner[e * c] * bsize + e];
    const sb_record *bad = &recs[inner[e * c + c - 1] * bsize + e];
    sb_cand *cd = &cands[n_cands];
    size_t src;
    int skip = 0;

    rc = top_programs(r, top, &n_top);
    if (rc)
      goto out;
    src = softmax_pick(r, top, n_top, r->t_candidates, sc, &g);
    cd->state = h->js->copy(h->host->ctx, r->pool[src].state);
    cd->source = src;
    if (!cd->state) {
      rc = oom(r->err);
      goto out;
    }
    rc = drop_demos(r, cd->state, &g, &gp);
    if (rc)
      goto out;
    cd->strategy = r->max_demos > 0
                   ? (int)pc__opt_rng_below(&g, 2) : STRAT_RULE;
    if (cd->strategy == STRAT_DEMO)
      rc = append_a_demo(r, cd->state, good, p10, &cd->applied);
    else
      rc = append_a_rule(r, cd->state, good, bad, p10, p90, &cd->applied,
                         &skip);
    if (rc)
      goto out;
    if (skip) {
      jfree(h, cd->state);
      memset(cd, 0, sizeof(*cd));
      continue;
    }
    n_cands++;
  }

  /* Each candidate on the same batch, with its own LM settings. */
  for (k = 0; k < n_cands; k++) {
    pc_json *a = NULL;
    const pc_json *rows;
    int64_t m = 0;
    size_t i;

    rc = evaluate(r, cands[k].state, batch, bsize, 0, NULL, &a);
    if (rc)
      goto out;
    cands[k].scores = pc__opt_calloc(h, bsize, sizeof(double));
    if (!cands[k].scores) {
      jfree(h, a);
      rc = oom(r->err);
      goto out;
    }
    rows = h->js->object_get(a, "results");
    for (i = 0; i < bsize; i++)
      cands[k].scores[i] = num_of(h, h->js->object_get(
                                       h->js->array_get(rows, i), "score"));
    cands[k].mean = answer_mean(r, a, &m);
    jfree(h, a);
    rc = record(r, step, 0, (int64_t)k, &cands[k], r->n_pool + k,
                cands[k].mean, m, cands[k].state);
    if (rc)
      goto out;
    if (winner < 0 || cands[k].mean > cands[winner].mean)
      winner = (int64_t)k;
  }

  /* The winner joins the winning programs; every candidate the pool. */
  rc = log_step(r, step, batch, base, p10, p90, cands, n_cands, winner);
  if (rc)
    goto out;
  if (winner >= 0)
    r->winners[r->n_winners++] = r->n_pool + (size_t)winner;
  for (k = 0; k < n_cands; k++) {
    rc = pool_add(r, cands[k].state, cands[k].scores, bsize, step);
    cands[k].state = NULL;
    cands[k].scores = NULL;
    if (rc)
      goto out;
  }
out:
  cands_free(h, cands, max_cands);
  answers_free(h, &ans);
  pc__opt_free(h, recs);
  pc__opt_free(h, sorted);
  pc__opt_free(h, keys);
  pc__opt_free(h, sc);
  pc__opt_free(h, inner);
  pc__opt_free(h, border);
  pc__opt_free(h, top);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Final selection and the result.                                          */

/* {"score", "winner", "step", "program"} of one final evaluation. */
static int final_add(sb_run *r, size_t w, double score)
{
  const pc__opt_host *h = r->h;
  pc_json *e = h->js->new_object(h->host->ctx);
  size_t prog = r->winners[w];
  int rc = e ? PC_OK : oom(r->err);

  if (!rc)
    rc = set_num(h, e, "score", score, r->err);
  if (!rc)
    rc = set_int(h, e, "step", r->pool[prog].step, r->err);
  if (!rc)
    rc = set_int(h, e, "winner", (int64_t)w, r->err);
  if (!rc)
    rc = set_int(h, e, "program", (int64_t)prog, r->err);
  if (!rc) {
    rc = pc__opt_json_push(h, r->final_list, e, r->err);
    e = NULL;
  }
  jfree(h, e);
  return rc;
}

/* The evenly spaced winners, each on the whole train split. */
static int final_selection(sb_run *r, int64_t *picks, size_t *n_picks)
{
  const pc__opt_host *h = r->h;
  size_t i;
  int rc = PC_OK;

  *n_picks = pc__simba_final_indices((int64_t)r->n_winners - 1, r->c + 1,
                                     picks);
  for (i = 0; i < *n_picks; i++) {
    size_t prog = r->winners[picks[i]];
    pc_json *a = NULL;
    int64_t n = 0;
    double mean;
    size_t j;

    rc = evaluate(r, r->pool[prog].state, NULL, 0, 0, NULL, &a);
    if (rc)
      break;
    mean = answer_mean(r, a, &n);
    jfree(h, a);
    rc = record(r, r->pool[prog].step, 1, picks[i], NULL, prog, mean, n,
                r->pool[prog].state);
    if (!rc)
      rc = final_add(r, (size_t)picks[i], mean);
    if (rc)
      break;
    /* The step's log gets the program's train score. */
    for (j = 0; r->pool[prog].step > 0 &&
                j < h->js->array_len(r->trial_logs); j++) {
      pc_json *e = (pc_json *)h->js->array_get(r->trial_logs, j);

      if (h->js->get_int(h->js->object_get(e, "step")) ==
          r->pool[prog].step)
        rc = set_num(h, e, "train_score", mean, r->err);
    }
    if (rc)
      break;
    if (!r->have_final || mean > r->best_final) {
      r->have_final = 1;
      r->best_final = mean;
      r->best_final_prog = prog;
    }
  }
  return rc;
}

/* The report: step logs, the final candidates best first, sizes. */
static pc_json *make_report(sb_run *r, const int64_t *picks, size_t n_picks,
                            int stopped)
{
  const pc__opt_host *h = r->h;
  void *ctx = h->host->ctx;
  pc_json *rep = h->js->new_object(ctx), *sorted = h->js->new_array(ctx);
  size_t n = h->js->array_len(r->final_list), i;
  double *keys = pc__opt_calloc(h, n + 1, sizeof(*keys));
  size_t *ord = pc__opt_calloc(h, n + 1, sizeof(*ord));
  int rc = rep && sorted && keys && ord ? PC_OK : PC_E_NOMEM;

  for (i = 0; !rc && i < n; i++)
    keys[i] = num_of(h, h->js->object_get(
                          h->js->array_get(r->final_list, i), "score"));
  if (!rc)
    pc__simba_order_desc(keys, 1, n, ord);
  for (i = 0; !rc && i < n; i++)
    rc = pc__opt_json_push(h, sorted, h->js->copy(
                                        ctx, h->js->array_get(r->final_list,
                                                              ord[i])),
                           NULL);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "trial_logs",
                          h->js->copy(ctx, r->trial_logs), NULL);
  if (!rc) {
    rc = pc__opt_json_set(h, rep, "candidate_programs", sorted, NULL);
    sorted = NULL;
  }
  if (!rc)
    rc = set_int(h, rep, "pool_size", (int64_t)r->n_pool, NULL);
  if (!rc)
    rc = set_int(h, rep, "winning_programs", (int64_t)r->n_winners, NULL);
  if (!rc)
    rc = pc__opt_json_set(h, rep, "final_indices",
                          int_array(r, picks, n_picks), NULL);
  if (!rc && stopped)
    rc = set_bool(h, rep, "partial", 1, NULL);
  pc__opt_free(h, keys);
  pc__opt_free(h, ord);
  jfree(h, sorted);
  if (rc) {
    jfree(h, rep);
    return NULL;
  }
  return rep;
}

/* The program kept when a cap stops the compile: the best full-train
 * score so far; else the completed step winner with the best batch mean;
 * else the baseline. */
static size_t best_so_far(const sb_run *r)
{
  size_t i, best = 0;
  double best_mean = -1.0;

  if (r->have_final)
    return r->best_final_prog;
  for (i = 1; i < r->n_winners; i++)
    if (r->pool[r->winners[i]].avg > best_mean) {
      best_mean = r->pool[r->winners[i]].avg;
      best = r->winners[i];
    }
  return best;
}

static int run(sb_run *r)
{
  int64_t *batch = pc__opt_calloc(r->h, (size_t)r->bsize, sizeof(*batch));
  int64_t *picks = pc__opt_calloc(r->h, (size_t)r->c + 2, sizeof(*picks));
  size_t n_picks = 0;
  pc_json *report = NULL;
  int64_t step;
  int rc = PC_OK;

  r->final_list = r->h->js->new_array(r->h->host->ctx);
  if (!batch || !picks || !r->final_list) {
    rc = oom(r->err);
    goto out;
  }
  shuffle_order(r);
  for (step = 1; !rc && step <= r->max_steps; step++) {
    if (r->next + (size_t)r->bsize > r->n_train) {
      shuffle_order(r);
      r->next = 0;
    }
    memcpy(batch, r->order + r->next, (size_t)r->bsize * sizeof(*batch));
    r->next += (size_t)r->bsize;
    rc = run_step(r, step, batch);
  }
  if (!rc)
    rc = final_selection(r, picks, &n_picks);
  if (rc && rc != PC_E_BUDGET && rc != PC_E_CANCELLED)
    goto out;
  report = make_report(r, picks, n_picks, rc != PC_OK);
  if (!report) {
    rc = oom(r->err);
    goto out;
  }
  if (rc) {
    pc_error e2 = PC_ERROR_INIT;

    pc__opt_set_result(r->h, r->api, r->pool[best_so_far(r)].state, report,
                       &e2);
  } else {
    rc = pc__opt_set_result(r->h, r->api,
                            r->pool[r->best_final_prog].state, report,
                            r->err);
  }
out:
  jfree(r->h, report);
  pc__opt_free(r->h, batch);
  pc__opt_free(r->h, picks);
  return rc;
}

static int sb_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  simba *o = inst;
  const pc__opt_host *h = o->h;
  sb_run r;
  uint32_t size = 0;
  int rc;

  if (!api || !api->program || !api->dataset || !api->evaluate ||
      !api->propose || !api->seed || !api->set_result)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": incomplete compile "
                         "API");
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.h = h;
  r.api = api;
  r.err = err;
  r.seed = api->seed(api->ctx);
  r.bsize = o->vals[S_BSIZE].i;
  r.c = o->vals[S_NUM_CANDIDATES].i;
  r.max_steps = o->vals[S_MAX_STEPS].i;
  r.max_demos = o->vals[S_MAX_DEMOS].i;
  r.maxlen = o->vals[S_MAXLEN].i;
  r.t_sampling = o->vals[S_T_SAMPLING].d;
  r.t_candidates = o->vals[S_T_CANDIDATES].d;
  r.use_teacher = (int)o->vals[S_USE_TEACHER].i;
  r.planned = r.max_steps * cands_per_step(o) + final_count(o);
  r.best_seen = -1.0;
  r.values = h->host->get_host_interface(h->host->ctx, "pc.values/1",
                                         &size);
  if (r.values && (size < sizeof(*r.values) || !r.values->render))
    r.values = NULL;
  rc = run_open(&r);
  if (!rc)
    rc = run(&r);
  run_free(&r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The plugin.                                                              */

static const pc_optimizer_iface sb_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "simba",
  .create = sb_create,
  .destroy = sb_destroy,
  .estimate = sb_estimate,
  .compile = sb_compile,
  .settings = sb_settings,
};

static int sb_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-simba", state, err);
}

static const void *sb_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(sb_iface);
  return &sb_iface;
}

static const pc_plugin_info sb_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.simba",
  .name = "simba",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "SIMBA: stochastic introspective mini-batch ascent with demos "
             "and rules",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = sb_init,
  .fini = pc__opt_fini,
  .get_interface = sb_get_interface,
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
  return &sb_info;
}
