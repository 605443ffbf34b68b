/*
 * opt_copro.c - the COPRO optimizer (DSPy's COPRO) as a "pc.optimizer/1"
 * plugin: coordinate ascent over each predictor's instructions, with new
 * instructions proposed by the prompt LM from the scores of earlier ones
 * (docs/optimizers.md, section "copro").
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "copro_text.h"

#if defined(__GNUC__)
#define CP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CP_PRINTF(a, b)
#endif

#define CP_DEFAULT_BREADTH 10
#define CP_DEFAULT_DEPTH 3
#define CP_DEFAULT_TEMPERATURE 1.4
/* Upper bounds on breadth and depth: far beyond any useful run, they keep
 * the cost arithmetic of estimate() and the candidate lists bounded. */
#define CP_MAX_BREADTH 1000
#define CP_MAX_DEPTH 1000
/* Scores kept by track_stats' "results_best": the top ten, as in DSPy. */
#define CP_STATS_TOP 10
#define CP_ROLE "prompt_lm"

/* ------------------------------------------------------------------------ */
/* The two meta-signatures. Same field names as DSPy's BasicGenerateInstruc- */
/* tion and GenerateInstructionGivenAttempts; our own wording.              */

static const char cp_sig_basic[] =
  "{\"instructions\": \"You improve the instructions given to large "
  "language models. You will see the current instructions of a task, "
  "which describe its input and output fields in plain English. Propose "
  "an instruction that would lead a capable language model to do this "
  "task well. Feel free to be inventive.\","
  " \"inputs\": [{\"name\": \"basic_instruction\", \"type\": \"str\","
  " \"desc\": \"The instructions as they stand before optimization\"}],"
  " \"outputs\": [{\"name\": \"proposed_instruction\", \"type\": \"str\","
  " \"desc\": \"Better instructions for the language model\"},"
  " {\"name\": \"proposed_prefix_for_output_field\", \"type\": \"str\","
  " \"desc\": \"Text to end the prompt with, to help the model start on "
  "the task\"}]}";

static const char cp_sig_attempts[] =
  "{\"instructions\": \"You improve the instructions given to large "
  "language models. You will see task instructions that were already "
  "tried, each with the validation score it earned. They are listed from "
  "the lowest score to the highest, and a higher score means a better "
  "instruction.\\n\\nPropose a new instruction that would lead a capable "
  "language model to do the task even better than all of these. Feel free "
  "to be inventive.\","
  " \"inputs\": [{\"name\": \"attempted_instructions\", \"type\": \"str\","
  " \"desc\": \"Instructions tried so far with their scores, worst "
  "first\"}],"
  " \"outputs\": [{\"name\": \"proposed_instruction\", \"type\": \"str\","
  " \"desc\": \"Better instructions for the language model\"},"
  " {\"name\": \"proposed_prefix_for_output_field\", \"type\": \"str\","
  " \"desc\": \"Text to end the prompt with, to help the model start on "
  "the task\"}]}";

/* ------------------------------------------------------------------------ */
/* Plugin state, instances and the objects of one compile.                  */

/* What init keeps: the host's tables, borrowed until fini. */
typedef struct cp_state {
  const pc_host_api *host;
  const pc_json_api *js;
} cp_state;

/* One configured optimizer: the settings, read-only after create. */
typedef struct cp_opt {
  const cp_state *st;  /* borrowed: the plugin state, lives until fini */
  int64_t breadth;
  int64_t depth;
  double init_temperature;
  int track_stats;
} cp_opt;

/* One proposal as the prompt LM wrote it (or the starting pair). */
typedef struct cp_prop {
  char *instruction;  /* owned */
  char *prefix;       /* owned */
} cp_prop;

/* One evaluated (instruction, prefix) of a predictor, with the working
 * program it was evaluated in (DSPy keeps a deep copy of it). */
typedef struct cp_cand {
  char *instruction;   /* owned: trimmed */
  char *prefix;        /* owned: trimmed */
  double score;        /* Evaluate's percentage */
  int64_t depth;
  char **snap_instr;   /* owned: n_preds instructions of the program */
  char **snap_prefix;  /* owned: n_preds prefixes of the program */
} cp_cand;

/* Statistics of one depth for track_stats. */
typedef struct cp_stat {
  int64_t depth;
  double max, average, min, std;
} cp_stat;

typedef struct cp_pred {
  char *path;          /* owned: the predictor's path */
  char *instr0;        /* owned: starting instructions */
  char *prefix0;       /* owned: prefix inferred for the last field */
  char *cur_instr;     /* owned: the working program's instructions */
  char *cur_prefix;    /* owned: the working program's prefix */
  cp_prop *props;      /* owned: every proposal, in order */
  size_t n_props, cap_props;
  size_t latest;       /* props[latest..n_props) is the newest batch */
  cp_cand *cands;      /* owned: evaluated candidates, first-seen order */
  size_t n_cands, cap_cands;
  cp_stat *best_stats;    /* owned: depth + 1 entries at most */
  size_t n_best_stats;
  cp_stat *latest_stats;  /* owned: depth entries at most */
  size_t n_latest_stats;
} cp_pred;

/* One compile() call. */
typedef struct cp_run {
  const cp_opt *opt;        /* borrowed */
  const cp_state *st;       /* borrowed */
  const pc_compile_api *api;  /* borrowed for the call */
  pc_error *err;            /* borrowed */
  cp_pred *preds;           /* owned: n_preds */
  size_t n_preds;
  int64_t n_evals;          /* evaluations made (DSPy's total_calls) */
  int64_t planned;          /* evaluations the settings plan */
  double best;              /* best score so far (valid when have_best) */
  int have_best;
} cp_run;

/* ------------------------------------------------------------------------ */
/* Errors, memory and text.                                                 */

static int cp_error(pc_error *err, int code, const char *fmt, ...)
  CP_PRINTF(3, 4);

/* Record an error (the first one wins) and return `code`. Control bytes in
 * the message become spaces, so it stays one line. */
static int cp_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;
  size_t i;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  for (i = 0; err->message[i]; i++)
    if ((unsigned char)err->message[i] < 0x20)
      err->message[i] = ' ';
  /* A UTF-8 sequence cut by the size limit is dropped. */
  if (i == sizeof(err->message) - 1) {
    while (i > 0 && ((unsigned char)err->message[i - 1] & 0xc0) == 0x80)
      i--;
    if (i > 0 && (unsigned char)err->message[i - 1] >= 0xc0)
      err->message[i - 1] = '\0';
  }
  return code;
}

static int cp_oom(pc_error *err)
{
  return cp_error(err, PC_E_NOMEM, "copro: out of memory");
}

static void cp_free(const cp_state *st, void *p)
{
  st->host->free(st->host->ctx, p);
}

/* A copy of s[0..len) with a NUL, owned by the caller (cp_free), or NULL
 * when out of memory. */
static char *cp_strndup(const cp_state *st, const char *s, size_t len)
{
  char *p = st->host->alloc(st->host->ctx, len + 1);

  if (p) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

static char *cp_strdup(const cp_state *st, const char *s)
{
  return cp_strndup(st, s, strlen(s));
}

static char *cp_format(const cp_state *st, const char *fmt, ...)
  CP_PRINTF(2, 3);

/* printf into new memory owned by the caller (cp_free); NULL when out of
 * memory. */
static char *cp_format(const cp_state *st, const char *fmt, ...)
{
  va_list ap;
  int n;
  char *p;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  p = st->host->alloc(st->host->ctx, (size_t)n + 1);
  if (!p)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

/* Grow *arr (elements of `size` bytes, *cap of them) to hold one more. */
static int cp_grow(const cp_state *st, void **arr, size_t *cap, size_t n,
                   size_t size)
{
  size_t want;
  void *p;

  if (n < *cap)
    return PC_OK;
  want = *cap ? *cap * 2 : 8;
  p = st->host->realloc(st->host->ctx, *arr, want * size);
  if (!p)
    return PC_E_NOMEM;
  *arr = p;
  *cap = want;
  return PC_OK;
}

/* The trimmed copy of s (Python's s.strip('"').strip()), owned by the
 * caller; NULL when out of memory. */
static char *cp_trimmed(const cp_state *st, const char *s)
{
  size_t a, b;

  pc__copro_strip(s, strlen(s), &a, &b);
  return cp_strndup(st, s + a, b - a);
}

/* ------------------------------------------------------------------------ */
/* JSON helpers.                                                            */

/* Take over `v` into obj[key]; PC_E_NOMEM when v is NULL or set fails. */
static int set_value(const cp_state *st, pc_json *obj, const char *key,
                     pc_json *v)
{
  if (!v)
    return PC_E_NOMEM;
  return st->js->object_set(st->host->ctx, obj, key, v) ? PC_E_NOMEM
                                                        : PC_OK;
}

static int set_str(const cp_state *st, pc_json *obj, const char *key,
                   const char *s)
{
  return set_value(st, obj, key,
                   st->js->new_string(st->host->ctx, s, strlen(s)));
}

static int set_int(const cp_state *st, pc_json *obj, const char *key,
                   int64_t i)
{
  return set_value(st, obj, key, st->js->new_int(st->host->ctx, i));
}

static int set_double(const cp_state *st, pc_json *obj, const char *key,
                      double d)
{
  return set_value(st, obj, key, st->js->new_double(st->host->ctx, d));
}

static int append_value(const cp_state *st, pc_json *arr, pc_json *v)
{
  if (!v)
    return PC_E_NOMEM;
  return st->js->array_append(st->host->ctx, arr, v) ? PC_E_NOMEM : PC_OK;
}

/* The text of `v` (compact), owned by the caller (cp_free). */
static int to_text(const cp_state *st, const pc_json *v, char **out,
                   size_t *len)
{
  *out = NULL;
  if (st->js->to_text(st->host->ctx, v, PC_JSON_TEXT_COMPACT, out, len))
    return PC_E_NOMEM;
  return PC_OK;
}

/* A string member, or NULL when absent or not a string. Borrowed. */
static const char *get_str(const cp_state *st, const pc_json *obj,
                           const char *key)
{
  const pc_json *v = st->js->object_get(obj, key);

  return v && st->js->type(v) == PC_JSON_STRING
         ? st->js->get_string(v, NULL) : NULL;
}

/* Python's str() of a float, as the attempts list shows scores: "58.33",
 * "60.0". Owned by the caller (cp_free); NULL when out of memory. */
static char *py_float(const cp_state *st, double d)
{
  pc_json *v = st->js->new_double(st->host->ctx, d);
  char *text = NULL, *copy;
  size_t len = 0;

  if (!v)
    return NULL;
  if (to_text(st, v, &text, &len)) {
    st->js->free(st->host->ctx, v);
    return NULL;
  }
  st->js->free(st->host->ctx, v);
  copy = cp_strndup(st, text, len);
  cp_free(st, text);
  return copy;
}

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

/* An integer setting: a JSON integer, or a number with an integral value. */
static int read_int(const cp_state *st, const pc_json *v, int64_t *out)
{
  int32_t t = st->js->type(v);
  double d;

  if (t == PC_JSON_INT) {
    *out = st->js->get_int(v);
    return 1;
  }
  if (t != PC_JSON_DOUBLE)
    return 0;
  d = st->js->get_double(v);
  if (!isfinite(d) || d != floor(d) || fabs(d) > 1e15)
    return 0;
  *out = (int64_t)d;
  return 1;
}

static int read_settings(const cp_state *st, const pc_json *cfg, cp_opt *o,
                         pc_error *err)
{
  const char *key;
  const pc_json *v;
  size_t i;

  for (i = 0; st->js->object_at(cfg, i, &key, &v) == 0; i++) {
    int32_t t = st->js->type(v);

    if (!strcmp(key, "breadth")) {
      if (!read_int(st, v, &o->breadth) || o->breadth <= 1 ||
          o->breadth > CP_MAX_BREADTH)
        return cp_error(err, PC_E_INVALID_ARG, "copro: breadth: expected an "
                        "integer > 1 and <= %d (DSPy: \"Breadth must be "
                        "greater than 1\")", CP_MAX_BREADTH);
    } else if (!strcmp(key, "depth")) {
      if (!read_int(st, v, &o->depth) || o->depth < 1 ||
          o->depth > CP_MAX_DEPTH)
        return cp_error(err, PC_E_INVALID_ARG, "copro: depth: expected an "
                        "integer >= 1 and <= %d", CP_MAX_DEPTH);
    } else if (!strcmp(key, "init_temperature")) {
      o->init_temperature = st->js->get_double(v);
      if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) ||
          !isfinite(o->init_temperature) || o->init_temperature < 0)
        return cp_error(err, PC_E_INVALID_ARG, "copro: init_temperature: "
                        "expected a number >= 0");
    } else if (!strcmp(key, "track_stats")) {
      if (t != PC_JSON_BOOL)
        return cp_error(err, PC_E_INVALID_ARG, "copro: track_stats: "
                        "expected true or false");
      o->track_stats = st->js->get_bool(v) != 0;
    } else {
      return cp_error(err, PC_E_INVALID_ARG, "copro: unknown setting '%s' "
                      "(known: breadth, depth, init_temperature, "
                      "track_stats)", key);
    }
  }
  return PC_OK;
}

/* Whether text[0..len) holds nothing but JSON whitespace. */
static int blank(const char *text, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (!strchr(" \t\r\n", text[i]))
      return 0;
  return 1;
}

static int cp_create(void *plugin_state, const char *settings, size_t len,
                     void **inst, pc_error *err)
{
  const cp_state *st = plugin_state;
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  cp_opt o, *out;
  int rc = PC_OK;

  if (inst)
    *inst = NULL;
  if (!st || !inst)
    return cp_error(err, PC_E_INVALID_ARG, "copro: create: no plugin state "
                    "or instance pointer");
  o.st = st;
  o.breadth = CP_DEFAULT_BREADTH;
  o.depth = CP_DEFAULT_DEPTH;
  o.init_temperature = CP_DEFAULT_TEMPERATURE;
  o.track_stats = 0;
  if (settings && !blank(settings, len)) {
    if (st->js->parse(st->host->ctx, settings, len, PC_JSON_PARSE_STRICT,
                      &cfg, &perr)) {
      rc = cp_error(err, PC_E_INVALID_ARG, "copro: settings: %s",
                    perr.message);
      goto out;
    }
    if (st->js->type(cfg) == PC_JSON_OBJECT) {
      rc = read_settings(st, cfg, &o, err);
      if (rc)
        goto out;
    } else if (st->js->type(cfg) != PC_JSON_NULL) {
      rc = cp_error(err, PC_E_INVALID_ARG, "copro: settings: expected a "
                    "JSON object");
      goto out;
    }
  }
  out = st->host->alloc(st->host->ctx, sizeof(*out));
  if (!out) {
    rc = cp_oom(err);
    goto out;
  }
  *out = o;
  *inst = out;

out:
  st->js->free(st->host->ctx, cfg);
  return rc;
}

static void cp_destroy(void *inst)
{
  cp_opt *o = inst;

  if (o)
    cp_free(o->st, o);
}

static int write_json(const cp_state *st, const pc_json *v,
                      const pc_text_sink *out, pc_error *err)
{
  char *text = NULL;
  size_t len = 0;
  int rc;

  if (to_text(st, v, &text, &len))
    return cp_oom(err);
  rc = out->write(out->ctx, text, len) ? cp_error(err, PC_E_IO, "copro: "
                                                   "the host refused the "
                                                   "output") : PC_OK;
  cp_free(st, text);
  return rc;
}

static int cp_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  const cp_opt *o = inst;
  const cp_state *st;
  pc_json *obj;
  int rc;

  if (!o || !out || !out->write)
    return cp_error(err, PC_E_INVALID_ARG, "copro: settings: no instance "
                    "or sink");
  st = o->st;
  obj = st->js->new_object(st->host->ctx);
  if (!obj)
    return cp_oom(err);
  rc = set_int(st, obj, "breadth", o->breadth);
  rc = rc ? rc : set_int(st, obj, "depth", o->depth);
  rc = rc ? rc : set_double(st, obj, "init_temperature",
                            o->init_temperature);
  rc = rc ? rc : set_value(st, obj, "track_stats",
                           st->js->new_bool(st->host->ctx, o->track_stats));
  rc = rc ? cp_oom(err) : write_json(st, obj, out, err);
  st->js->free(st->host->ctx, obj);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* estimate()                                                               */

/* a * b, saturating at INT64_MAX (both >= 0). */
static int64_t sat_mul(int64_t a, int64_t b)
{
  if (a == 0 || b == 0)
    return 0;
  if (a > INT64_MAX / b)
    return INT64_MAX;
  return a * b;
}

/* Evaluations the settings plan for `preds` predictors, when the prompt LM
 * returns every completion asked for (reference section 5.3). */
static int64_t planned_evals(const cp_opt *o, int64_t preds)
{
  if (preds <= 0)
    return 0;
  if (preds == 1)
    return o->breadth * o->depth;
  return sat_mul(sat_mul(preds, o->breadth),
                 o->depth * (o->depth + 1) / 2);
}

/* A count member of the info object (absent: `dflt`). */
static int info_count(const cp_state *st, const pc_json *info,
                      const char *key, int64_t dflt, int64_t *out,
                      pc_error *err)
{
  const pc_json *v = st->js->object_get(info, key);

  *out = dflt;
  if (!v)
    return PC_OK;
  if (st->js->type(v) != PC_JSON_INT || st->js->get_int(v) < 0)
    return cp_error(err, PC_E_INVALID_ARG, "copro: estimate: '%s' must be "
                    "an integer >= 0", key);
  *out = st->js->get_int(v);
  return PC_OK;
}

static int cp_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  const cp_opt *o = inst;
  const cp_state *st;
  pc_json *info = NULL, *res = NULL;
  pc_error perr = PC_ERROR_INIT;
  int64_t train = 0, val = 0, preds = 0, per_run = 1, evals;
  int rc;

  if (!o || !info_json || !out || !out->write)
    return cp_error(err, PC_E_INVALID_ARG, "copro: estimate: no instance, "
                    "info or sink");
  st = o->st;
  if (st->js->parse(st->host->ctx, info_json, len, PC_JSON_PARSE_STRICT,
                    &info, &perr) || st->js->type(info) != PC_JSON_OBJECT) {
    rc = cp_error(err, PC_E_INVALID_ARG, "copro: estimate: expected a JSON "
                  "object %s", perr.message);
    goto out;
  }
  rc = info_count(st, info, "train", 0, &train, err);
  rc = rc ? rc : info_count(st, info, "val", train, &val, err);
  rc = rc ? rc : info_count(st, info, "predictors", 0, &preds, err);
  rc = rc ? rc : info_count(st, info, "calls_per_run", 1, &per_run, err);
  if (rc)
    goto out;
  /* Every candidate is scored on the whole validation split. */
  evals = planned_evals(o, preds);
  res = st->js->new_object(st->host->ctx);
  if (!res) {
    rc = cp_oom(err);
    goto out;
  }
  rc = set_int(st, res, "lm_calls", sat_mul(sat_mul(evals, val), per_run));
  rc = rc ? rc : set_int(st, res, "metric_calls", sat_mul(evals, val));
  rc = rc ? rc : set_int(st, res, "proposal_calls",
                         sat_mul(preds, o->depth));
  rc = rc ? cp_oom(err) : write_json(st, res, out, err);

out:
  st->js->free(st->host->ctx, info);
  st->js->free(st->host->ctx, res);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The run: predictors, candidates, the working program.                    */

static void cand_clear(const cp_run *r, cp_cand *c)
{
  size_t i;

  cp_free(r->st, c->instruction);
  cp_free(r->st, c->prefix);
  for (i = 0; c->snap_instr && i < r->n_preds; i++)
    cp_free(r->st, c->snap_instr[i]);
  for (i = 0; c->snap_prefix && i < r->n_preds; i++)
    cp_free(r->st, c->snap_prefix[i]);
  cp_free(r->st, c->snap_instr);
  cp_free(r->st, c->snap_prefix);
  memset(c, 0, sizeof(*c));
}

static void run_free(cp_run *r)
{
  size_t p, i;

  for (p = 0; r->preds && p < r->n_preds; p++) {
    cp_pred *pr = &r->preds[p];

    for (i = 0; i < pr->n_props; i++) {
      cp_free(r->st, pr->props[i].instruction);
      cp_free(r->st, pr->props[i].prefix);
    }
    for (i = 0; i < pr->n_cands; i++)
      cand_clear(r, &pr->cands[i]);
    cp_free(r->st, pr->props);
    cp_free(r->st, pr->cands);
    cp_free(r->st, pr->best_stats);
    cp_free(r->st, pr->latest_stats);
    cp_free(r->st, pr->path);
    cp_free(r->st, pr->instr0);
    cp_free(r->st, pr->prefix0);
    cp_free(r->st, pr->cur_instr);
    cp_free(r->st, pr->cur_prefix);
  }
  cp_free(r->st, r->preds);
  r->preds = NULL;
  r->n_preds = 0;
}

/* Append a proposal (copies of both texts) to predictor p's list. */
static int add_prop(cp_run *r, cp_pred *pr, const char *instruction,
                    const char *prefix)
{
  cp_prop *pp;

  if (cp_grow(r->st, (void **)&pr->props, &pr->cap_props, pr->n_props,
              sizeof(*pr->props)))
    return cp_oom(r->err);
  pp = &pr->props[pr->n_props];
  pp->instruction = cp_strdup(r->st, instruction);
  pp->prefix = cp_strdup(r->st, prefix);
  if (!pp->instruction || !pp->prefix) {
    cp_free(r->st, pp->instruction);
    cp_free(r->st, pp->prefix);
    return cp_oom(r->err);
  }
  pr->n_props++;
  return PC_OK;
}

/* Replace *slot with a copy of s. */
static int replace_str(cp_run *r, char **slot, const char *s)
{
  char *copy = cp_strdup(r->st, s);

  if (!copy)
    return cp_oom(r->err);
  cp_free(r->st, *slot);
  *slot = copy;
  return PC_OK;
}

/* The name of a signature's last field (DSPy: the last of inputs and
 * outputs together, so the last output), or "" when it has none. */
static const char *last_field(const cp_state *st, const pc_json *sig)
{
  static const char *const lists[2] = {"outputs", "inputs"};
  size_t k, n;

  for (k = 0; k < 2; k++) {
    const pc_json *arr = sig ? st->js->object_get(sig, lists[k]) : NULL;
    const char *name;

    n = arr ? st->js->array_len(arr) : 0;
    if (n && (name = get_str(st, st->js->array_get(arr, n - 1), "name")))
      return name;
  }
  return "";
}

/* Read the program's predictors into r->preds. */
static int load_program(cp_run *r)
{
  const cp_state *st = r->st;
  pc_json *prog = NULL;
  const pc_json *list;
  size_t n, i;
  int rc;

  rc = r->api->program(r->api->ctx, &prog, r->err);
  if (rc)
    return rc;
  list = st->js->object_get(prog, "predictors");
  n = list ? st->js->array_len(list) : 0;
  if (n == 0) {
    rc = cp_error(r->err, PC_E_INVALID_ARG, "copro: the program has no "
                  "predictors to optimize");
    goto out;
  }
  r->preds = st->host->alloc(st->host->ctx, n * sizeof(*r->preds));
  if (!r->preds) {
    rc = cp_oom(r->err);
    goto out;
  }
  memset(r->preds, 0, n * sizeof(*r->preds));
  r->n_preds = n;
  for (i = 0; i < n; i++) {
    const pc_json *p = st->js->array_get(list, i);
    const pc_json *sig = st->js->object_get(p, "signature");
    const char *path = get_str(st, p, "path");
    const char *instr = get_str(st, p, "instructions");
    const char *name = last_field(st, sig);
    cp_pred *pr = &r->preds[i];

    if (!path) {
      rc = cp_error(r->err, PC_E_INVALID_ARG, "copro: predictor %zu of the "
                    "program has no path", i);
      goto out;
    }
    /* An empty "instructions" is the signature's default (compile API,
     * "State"). */
    if (!instr || !*instr)
      instr = sig ? get_str(st, sig, "instructions") : NULL;
    pr->path = cp_strdup(st, path);
    pr->instr0 = cp_strdup(st, instr ? instr : "");
    pr->prefix0 = st->host->alloc(st->host->ctx,
                                  pc__opt_field_prefix_cap(name));
    if (!pr->path || !pr->instr0 || !pr->prefix0) {
      rc = cp_oom(r->err);
      goto out;
    }
    pc__opt_field_prefix(name, pr->prefix0, pc__opt_field_prefix_cap(name));
    pr->cur_instr = cp_strdup(st, pr->instr0);
    pr->cur_prefix = cp_strdup(st, pr->prefix0);
    if (!pr->cur_instr || !pr->cur_prefix) {
      rc = cp_oom(r->err);
      goto out;
    }
  }

out:
  st->js->free(st->host->ctx, prog);
  return rc;
}

/* The state object for instructions instr[0..n_preds), owned by the
 * caller (pc_json_api.free); NULL when out of memory. With `prefixes`,
 * each predictor also gets a "prefix" member (for trials and reports, not
 * for the state the host applies). */
static pc_json *state_json(const cp_run *r, char *const *instr,
                           char *const *prefixes)
{
  const cp_state *st = r->st;
  pc_json *obj = st->js->new_object(st->host->ctx);
  size_t p;

  for (p = 0; obj && p < r->n_preds; p++) {
    pc_json *one = st->js->new_object(st->host->ctx);
    int rc = one ? set_str(st, one, "instructions", instr[p]) : PC_E_NOMEM;

    if (!rc && prefixes)
      rc = set_str(st, one, "prefix", prefixes[p]);
    if (rc) {
      st->js->free(st->host->ctx, one);
      st->js->free(st->host->ctx, obj);
      return NULL;
    }
    if (set_value(st, obj, r->preds[p].path, one)) {
      st->js->free(st->host->ctx, obj);
      return NULL;
    }
  }
  return obj;
}

/* Copies of the working program's instructions and prefixes. */
static int snapshot(cp_run *r, char ***instr, char ***prefix)
{
  const cp_state *st = r->st;
  size_t p, bytes = r->n_preds * sizeof(char *);

  *instr = st->host->alloc(st->host->ctx, bytes);
  *prefix = st->host->alloc(st->host->ctx, bytes);
  if (*instr)
    memset(*instr, 0, bytes);
  if (*prefix)
    memset(*prefix, 0, bytes);
  if (!*instr || !*prefix)
    return PC_E_NOMEM;
  for (p = 0; p < r->n_preds; p++) {
    (*instr)[p] = cp_strdup(st, r->preds[p].cur_instr);
    (*prefix)[p] = cp_strdup(st, r->preds[p].cur_prefix);
    if (!(*instr)[p] || !(*prefix)[p])
      return PC_E_NOMEM;
  }
  return PC_OK;
}

/* The working program's instructions as an array (borrowed strings). */
static int current_instr(const cp_run *r, char ***out)
{
  size_t p;

  *out = r->st->host->alloc(r->st->host->ctx, r->n_preds * sizeof(char *));
  if (!*out)
    return PC_E_NOMEM;
  for (p = 0; p < r->n_preds; p++)
    (*out)[p] = r->preds[p].cur_instr;
  return PC_OK;
}

/* Hand a state (and an optional report) to the host. */
static int put_result(cp_run *r, const pc_json *state, const pc_json *report)
{
  char *s = NULL, *rep = NULL;
  size_t slen = 0, rlen = 0;
  int rc;

  if (to_text(r->st, state, &s, &slen) ||
      (report && to_text(r->st, report, &rep, &rlen))) {
    rc = cp_oom(r->err);
    goto out;
  }
  rc = r->api->set_result(r->api->ctx, s, slen, rep, rlen, r->err);

out:
  cp_free(r->st, s);
  cp_free(r->st, rep);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Proposals.                                                               */

/* One request to the prompt LM for predictor p: the seeding request
 * (attempts == NULL) or the one that shows earlier attempts. The
 * completions are appended to p's proposals. */
static int propose(cp_run *r, size_t p, int64_t depth, pc_json *attempts)
{
  const cp_state *st = r->st;
  void *ctx = st->host->ctx;
  cp_pred *pr = &r->preds[p];
  pc_json *inputs = st->js->new_object(ctx);
  pc_json *cfg = st->js->new_object(ctx), *ans = NULL;
  pc_propose_request req = {.hdr = PC_ABI_HEADER_INIT(pc_propose_request)};
  char *in_text = NULL, *cfg_text = NULL, *rollout = NULL;
  size_t in_len = 0, cfg_len = 0, i, n;
  int64_t want = attempts ? r->opt->breadth : r->opt->breadth - 1;
  int rc;

  rollout = cp_format(st, "copro-d%lld-p%zu", (long long)depth, p);
  if (!inputs || !cfg || !rollout) {
    st->js->free(ctx, attempts);
    rc = cp_oom(r->err);
    goto out;
  }
  if (attempts)
    rc = set_value(st, inputs, "attempted_instructions", attempts);
  else
    rc = set_str(st, inputs, "basic_instruction", pr->instr0);
  rc = rc ? rc : set_double(st, cfg, "temperature",
                            r->opt->init_temperature);
  rc = rc ? rc : set_int(st, cfg, "n", want);
  rc = rc ? rc : set_str(st, cfg, "rollout_id", rollout);
  rc = rc ? rc : to_text(st, inputs, &in_text, &in_len);
  rc = rc ? rc : to_text(st, cfg, &cfg_text, &cfg_len);
  if (rc) {
    rc = cp_oom(r->err);
    goto out;
  }
  req.role = CP_ROLE;
  req.signature = attempts ? cp_sig_attempts : cp_sig_basic;
  req.inputs_json = in_text;
  req.inputs_len = in_len;
  req.config_json = cfg_text;
  req.config_len = cfg_len;
  rc = r->api->propose(r->api->ctx, &req, &ans, r->err);
  if (rc)
    goto out;
  n = st->js->type(ans) == PC_JSON_ARRAY ? st->js->array_len(ans) : 0;
  pr->latest = pr->n_props;
  for (i = 0; !rc && i < n; i++) {
    const pc_json *c = st->js->array_get(ans, i);
    const char *instr = get_str(st, c, "proposed_instruction");
    const char *prefix = get_str(st, c, "proposed_prefix_for_output_field");

    rc = add_prop(r, pr, instr ? instr : "", prefix ? prefix : "");
  }

out:
  st->js->free(ctx, inputs);
  st->js->free(ctx, cfg);
  st->js->free(ctx, ans);
  cp_free(st, in_text);
  cp_free(st, cfg_text);
  cp_free(st, rollout);
  return rc;
}

/* Order of candidates by score, best first; equal scores keep their order
 * (Python's stable sort with reverse=True). */
typedef struct cp_rank {
  double score;
  size_t pred;
  size_t cand;
  size_t order;
} cp_rank;

static int rank_cmp(const void *a, const void *b)
{
  const cp_rank *x = a, *y = b;

  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* p's evaluated candidates, best first; owned by the caller (cp_free). */
static cp_rank *ranked(const cp_run *r, size_t p)
{
  const cp_pred *pr = &r->preds[p];
  cp_rank *k = r->st->host->alloc(r->st->host->ctx,
                                  (pr->n_cands + 1) * sizeof(*k));
  size_t i;

  if (!k)
    return NULL;
  for (i = 0; i < pr->n_cands; i++) {
    k[i].score = pr->cands[i].score;
    k[i].pred = p;
    k[i].cand = i;
    k[i].order = i;
  }
  qsort(k, pr->n_cands, sizeof(*k), rank_cmp);
  return k;
}

/* The attempts list of predictor p: the top min(breadth, |evaluated|)
 * candidates, shown from the worst of them to the best, three strings
 * each. Owned by the caller (pc_json_api.free). */
static int attempts_list(cp_run *r, size_t p, pc_json **out)
{
  const cp_state *st = r->st;
  const cp_pred *pr = &r->preds[p];
  cp_rank *k = ranked(r, p);
  pc_json *arr = st->js->new_array(st->host->ctx);
  size_t shown = pr->n_cands < (size_t)r->opt->breadth
                 ? pr->n_cands : (size_t)r->opt->breadth, i;
  int rc = (k && arr) ? PC_OK : PC_E_NOMEM;

  for (i = shown; !rc && i-- > 0;) {
    const cp_cand *c = &pr->cands[k[i].cand];
    size_t num = shown - i;
    char *score = py_float(st, c->score);
    char *a = cp_format(st, "Instruction #%zu: %s", num, c->instruction);
    char *b = cp_format(st, "Prefix #%zu: %s", num, c->prefix);
    char *s = score ? cp_format(st, "Resulting Score #%zu: %s", num, score)
                    : NULL;

    rc = (a && b && s) ? PC_OK : PC_E_NOMEM;
    rc = rc ? rc : append_value(st, arr, st->js->new_string(st->host->ctx,
                                                            a, strlen(a)));
    rc = rc ? rc : append_value(st, arr, st->js->new_string(st->host->ctx,
                                                            b, strlen(b)));
    rc = rc ? rc : append_value(st, arr, st->js->new_string(st->host->ctx,
                                                            s, strlen(s)));
    cp_free(st, score);
    cp_free(st, a);
    cp_free(st, b);
    cp_free(st, s);
  }
  cp_free(st, k);
  if (rc) {
    st->js->free(st->host->ctx, arr);
    *out = NULL;
    return cp_oom(r->err);
  }
  *out = arr;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* track_stats                                                              */

/* max, mean, min and population standard deviation of x[0..n), n > 0. */
static void describe(const double *x, size_t n, int64_t depth, cp_stat *s)
{
  double sum = 0, sq = 0, mean;
  size_t i;

  s->depth = depth;
  s->max = s->min = x[0];
  for (i = 0; i < n; i++) {
    sum += x[i];
    if (x[i] > s->max)
      s->max = x[i];
    if (x[i] < s->min)
      s->min = x[i];
  }
  mean = sum / (double)n;
  for (i = 0; i < n; i++)
    sq += (x[i] - mean) * (x[i] - mean);
  s->average = mean;
  s->std = sqrt(sq / (double)n);
}

/* results_best: the top ten scores of p at this depth. */
static int stat_best(cp_run *r, size_t p, int64_t depth)
{
  cp_pred *pr = &r->preds[p];
  cp_rank *k;
  double top[CP_STATS_TOP];
  size_t n, i;

  if (!r->opt->track_stats || pr->n_cands == 0)
    return PC_OK;
  k = ranked(r, p);
  if (!k)
    return cp_oom(r->err);
  n = pr->n_cands < CP_STATS_TOP ? pr->n_cands : CP_STATS_TOP;
  for (i = 0; i < n; i++)
    top[i] = k[i].score;
  cp_free(r->st, k);
  describe(top, n, depth, &pr->best_stats[pr->n_best_stats++]);
  return PC_OK;
}

/* results_latest: the scores of the newest batch of p at this depth. */
static int stat_latest(cp_run *r, size_t p, int64_t depth,
                       const double *scores, size_t n)
{
  cp_pred *pr = &r->preds[p];

  if (r->opt->track_stats && n > 0)
    describe(scores, n, depth, &pr->latest_stats[pr->n_latest_stats++]);
  return PC_OK;
}

static pc_json *stats_json(const cp_run *r, int latest)
{
  const cp_state *st = r->st;
  void *ctx = st->host->ctx;
  static const char *const keys[5] = {"depth", "max", "average", "min",
                                      "std"};
  pc_json *obj = st->js->new_object(ctx);
  size_t p, i, k;
  int rc = obj ? PC_OK : PC_E_NOMEM;

  for (p = 0; !rc && p < r->n_preds; p++) {
    const cp_pred *pr = &r->preds[p];
    const cp_stat *s = latest ? pr->latest_stats : pr->best_stats;
    size_t n = latest ? pr->n_latest_stats : pr->n_best_stats;
    pc_json *one = st->js->new_object(ctx);

    for (k = 0; one && !rc && k < 5; k++) {
      pc_json *arr = st->js->new_array(ctx);

      for (i = 0; arr && !rc && i < n; i++)
        rc = append_value(st, arr, k == 0 ? st->js->new_int(ctx, s[i].depth)
                          : st->js->new_double(ctx, k == 1 ? s[i].max
                                               : k == 2 ? s[i].average
                                               : k == 3 ? s[i].min
                                               : s[i].std));
      if (rc) {
        st->js->free(ctx, arr);
        break;
      }
      rc = set_value(st, one, keys[k], arr);
    }
    if (!one || rc) {
      st->js->free(ctx, one);
      rc = PC_E_NOMEM;
      break;
    }
    rc = set_value(st, obj, pr->path, one);
  }
  if (rc) {
    st->js->free(ctx, obj);
    return NULL;
  }
  return obj;
}

/* ------------------------------------------------------------------------ */
/* Evaluation of one candidate.                                             */

/* Record predictor p's evaluated (instruction, prefix) with `score`: a
 * pair already seen keeps its entry (and place) unless the new score is
 * higher, when the entry takes the new score, depth and program. */
static int remember(cp_run *r, size_t p, const char *instr,
                    const char *prefix, double score, int64_t depth)
{
  cp_pred *pr = &r->preds[p];
  cp_cand fresh, *c = NULL;
  size_t i;

  for (i = 0; i < pr->n_cands; i++)
    if (!strcmp(pr->cands[i].instruction, instr) &&
        !strcmp(pr->cands[i].prefix, prefix)) {
      c = &pr->cands[i];
      break;
    }
  if (c && c->score >= score)
    return PC_OK;
  memset(&fresh, 0, sizeof(fresh));
  fresh.instruction = cp_strdup(r->st, instr);
  fresh.prefix = cp_strdup(r->st, prefix);
  fresh.score = score;
  fresh.depth = depth;
  if (!fresh.instruction || !fresh.prefix ||
      snapshot(r, &fresh.snap_instr, &fresh.snap_prefix) ||
      (!c && cp_grow(r->st, (void **)&pr->cands, &pr->cap_cands,
                     pr->n_cands, sizeof(*pr->cands)))) {
    cand_clear(r, &fresh);
    return cp_oom(r->err);
  }
  if (c)
    cand_clear(r, c);
  else
    c = &pr->cands[pr->n_cands++];
  *c = fresh;
  return PC_OK;
}

/* Evaluate the working program (whose predictor p holds candidate `c_i` of
 * `of`) on the whole validation split; record the trial, report progress
 * and, when the score beats every earlier one, set it as the result. */
static int evaluate(cp_run *r, size_t p, int64_t depth, size_t c_i,
                    size_t of, double *score)
{
  const cp_state *st = r->st;
  void *ctx = st->host->ctx;
  cp_pred *pr = &r->preds[p];
  pc_eval_request req = {.hdr = PC_ABI_HEADER_INIT(pc_eval_request)};
  pc_json *state = NULL, *ans = NULL, *trial = NULL, *prog = NULL;
  char **instr = NULL, *state_text = NULL, *trial_text = NULL;
  char *label = NULL, *prog_text = NULL;
  size_t state_len = 0, trial_len = 0, prog_len = 0;
  int64_t n_errors = 0;
  int64_t n = 0;
  const pc_json *v;
  int rc;

  if (current_instr(r, &instr) || !(state = state_json(r, instr, NULL)) ||
      to_text(st, state, &state_text, &state_len)) {
    rc = cp_oom(r->err);
    goto out;
  }
  req.state_json = state_text;
  req.state_len = state_len;
  req.split = PC_SPLIT_VAL;
  rc = r->api->evaluate(r->api->ctx, &req, &ans, r->err);
  if (rc)
    goto out;
  v = st->js->object_get(ans, "percent");
  if (!v || (st->js->type(v) != PC_JSON_DOUBLE &&
             st->js->type(v) != PC_JSON_INT)) {
    rc = cp_error(r->err, PC_E_INTERNAL, "copro: the host's evaluation "
                  "result has no \"percent\"");
    goto out;
  }
  *score = st->js->get_double(v);
  v = st->js->object_get(ans, "n");
  n = v ? st->js->get_int(v) : 0;
  v = st->js->object_get(ans, "n_errors");
  n_errors = v ? st->js->get_int(v) : 0;
  r->n_evals++;

  /* The trial: which candidate, its score and the program it ran. */
  label = cp_format(st, "depth %lld, %s, candidate %zu of %zu",
                    (long long)depth + 1, pr->path, c_i + 1, of);
  trial = st->js->new_object(ctx);
  if (!label || !trial) {
    rc = cp_oom(r->err);
    goto out;
  }
  rc = set_int(st, trial, "candidate", r->n_evals - 1);
  rc = rc ? rc : set_str(st, trial, "label", label);
  rc = rc ? rc : set_str(st, trial, "split", PC_SPLIT_VAL);
  rc = rc ? rc : set_double(st, trial, "score", *score);
  rc = rc ? rc : set_int(st, trial, "n", n);
  rc = rc ? rc : set_int(st, trial, "n_errors", n_errors);
  rc = rc ? rc : set_int(st, trial, "depth", depth);
  rc = rc ? rc : set_str(st, trial, "predictor", pr->path);
  rc = rc ? rc : set_str(st, trial, "instruction", pr->cur_instr);
  rc = rc ? rc : set_str(st, trial, "prefix", pr->cur_prefix);
  rc = rc ? rc : set_value(st, trial, "state", st->js->copy(ctx, state));
  rc = rc ? rc : to_text(st, trial, &trial_text, &trial_len);
  if (rc) {
    rc = cp_oom(r->err);
    goto out;
  }
  rc = r->api->record_trial(r->api->ctx, trial_text, trial_len, r->err);
  if (rc)
    goto out;
  if (!r->have_best || *score > r->best) {
    r->have_best = 1;
    r->best = *score;
    rc = put_result(r, state, NULL);
    if (rc)
      goto out;
  }
  if (r->api->progress) {
    prog = st->js->new_object(ctx);
    rc = prog ? set_int(st, prog, "trial", r->n_evals) : PC_E_NOMEM;
    rc = rc ? rc : set_int(st, prog, "of", r->planned);
    rc = rc ? rc : set_double(st, prog, "best", r->best);
    rc = rc ? rc : to_text(st, prog, &prog_text, &prog_len);
    if (rc) {
      rc = cp_oom(r->err);
      goto out;
    }
    r->api->progress(r->api->ctx, prog_text, prog_len);
  }

out:
  st->js->free(ctx, state);
  st->js->free(ctx, ans);
  st->js->free(ctx, trial);
  st->js->free(ctx, prog);
  cp_free(st, instr);
  cp_free(st, state_text);
  cp_free(st, trial_text);
  cp_free(st, prog_text);
  cp_free(st, label);
  return rc;
}

/* One depth for predictor p: evaluate its candidates (the newest batch
 * when the program has one predictor, every proposal so far when it has
 * several), then leave p at its best-scoring candidate. */
static int ascend(cp_run *r, size_t p, int64_t depth)
{
  cp_pred *pr = &r->preds[p];
  size_t first = r->n_preds == 1 ? pr->latest : 0;
  size_t of = pr->n_props - first, i, n_latest = 0;
  double *latest = NULL, score = 0;
  int rc = PC_OK;

  if (r->opt->track_stats) {
    latest = r->st->host->alloc(r->st->host->ctx,
                                (of + 1) * sizeof(*latest));
    if (!latest)
      return cp_oom(r->err);
  }
  for (i = 0; !rc && i < of; i++) {
    const cp_prop *c = &pr->props[first + i];
    char *instr = cp_trimmed(r->st, c->instruction);
    char *prefix = cp_trimmed(r->st, c->prefix);

    if (!instr || !prefix) {
      cp_free(r->st, instr);
      cp_free(r->st, prefix);
      rc = cp_oom(r->err);
      break;
    }
    cp_free(r->st, pr->cur_instr);
    cp_free(r->st, pr->cur_prefix);
    pr->cur_instr = instr;
    pr->cur_prefix = prefix;
    rc = evaluate(r, p, depth, i, of, &score);
    rc = rc ? rc : remember(r, p, instr, prefix, score, depth);
    /* DSPy's results_latest: the last `breadth` scores of the list. */
    if (!rc && latest && of - i <= (size_t)r->opt->breadth)
      latest[n_latest++] = score;
  }
  if (!rc)
    rc = stat_latest(r, p, depth, latest, n_latest);
  r->st->host->free(r->st->host->ctx, latest);
  if (!rc && pr->n_cands > 0) {
    const cp_cand *best = &pr->cands[0];

    for (i = 1; i < pr->n_cands; i++)
      if (pr->cands[i].score > best->score)
        best = &pr->cands[i];
    rc = replace_str(r, &pr->cur_instr, best->instruction);
    rc = rc ? rc : replace_str(r, &pr->cur_prefix, best->prefix);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Final choice.                                                            */

static int same_program(const cp_run *r, const cp_cand *a, const cp_cand *b)
{
  size_t p;

  for (p = 0; p < r->n_preds; p++)
    if (strcmp(a->snap_instr[p], b->snap_instr[p]) ||
        strcmp(a->snap_prefix[p], b->snap_prefix[p]))
      return 0;
  return 1;
}

static const cp_cand *rank_cand(const cp_run *r, const cp_rank *k)
{
  return &r->preds[k->pred].cands[k->cand];
}

/*
 * DSPy's final step: pool every predictor's evaluated candidates, sort by
 * score (stable, best first), drop a candidate when an earlier one of the
 * same score ran the same program, and return the pool in *out (owned by
 * the caller, cp_free) with its size in *n.
 */
static int final_pool(const cp_run *r, cp_rank **out, size_t *n)
{
  cp_rank *k;
  size_t total = 0, p, i, kept = 0, batch = 0;

  *out = NULL;
  *n = 0;
  for (p = 0; p < r->n_preds; p++)
    total += r->preds[p].n_cands;
  k = r->st->host->alloc(r->st->host->ctx, (total + 1) * sizeof(*k));
  if (!k)
    return PC_E_NOMEM;
  for (p = 0; p < r->n_preds; p++)
    for (i = 0; i < r->preds[p].n_cands; i++) {
      k[kept].score = r->preds[p].cands[i].score;
      k[kept].pred = p;
      k[kept].cand = i;
      k[kept].order = kept;
      kept++;
    }
  qsort(k, total, sizeof(*k), rank_cmp);
  /* k[batch..kept) is the run of equal scores kept so far. */
  kept = 0;
  for (i = 0; i < total; i++) {
    int repeat = 0;
    size_t j;

    if (kept > 0 && k[i].score == k[kept - 1].score) {
      for (j = batch; j < kept && !repeat; j++)
        repeat = same_program(r, rank_cand(r, &k[i]), rank_cand(r, &k[j]));
    } else {
      batch = kept;
    }
    if (!repeat)
      k[kept++] = k[i];
  }
  *out = k;
  *n = kept;
  return PC_OK;
}

/* The report: DSPy's candidate_programs and total_calls, and with
 * track_stats results_best and results_latest. */
static pc_json *report_json(const cp_run *r, const cp_rank *k, size_t n)
{
  const cp_state *st = r->st;
  void *ctx = st->host->ctx;
  pc_json *rep = st->js->new_object(ctx);
  pc_json *list = st->js->new_array(ctx);
  size_t i;
  int rc = rep && list ? PC_OK : PC_E_NOMEM;

  for (i = 0; !rc && i < n; i++) {
    const cp_cand *c = rank_cand(r, &k[i]);
    pc_json *one = st->js->new_object(ctx);

    rc = one ? set_double(st, one, "score", c->score) : PC_E_NOMEM;
    rc = rc ? rc : set_int(st, one, "depth", c->depth);
    rc = rc ? rc : set_str(st, one, "predictor", r->preds[k[i].pred].path);
    rc = rc ? rc : set_str(st, one, "instruction", c->instruction);
    rc = rc ? rc : set_str(st, one, "prefix", c->prefix);
    rc = rc ? rc : set_value(st, one, "program",
                             state_json(r, c->snap_instr, c->snap_prefix));
    if (rc) {
      st->js->free(ctx, one);
      break;
    }
    rc = append_value(st, list, one);
  }
  rc = rc ? rc : set_value(st, rep, "candidate_programs", list);
  list = NULL;
  rc = rc ? rc : set_int(st, rep, "total_calls", r->n_evals);
  if (!rc && r->opt->track_stats) {
    rc = set_value(st, rep, "results_best", stats_json(r, 0));
    rc = rc ? rc : set_value(st, rep, "results_latest", stats_json(r, 1));
  }
  st->js->free(ctx, list);
  if (rc) {
    st->js->free(ctx, rep);
    return NULL;
  }
  return rep;
}

/* Set the final result: the first of the final pool (or the starting
 * program when nothing was evaluated) with the report. */
static int finish(cp_run *r)
{
  const cp_state *st = r->st;
  cp_rank *k = NULL;
  pc_json *state = NULL, *rep = NULL;
  size_t n = 0;
  int rc;

  if (final_pool(r, &k, &n)) {
    rc = cp_oom(r->err);
    goto out;
  }
  state = n ? state_json(r, rank_cand(r, &k[0])->snap_instr, NULL)
            : st->js->new_object(st->host->ctx);
  rep = report_json(r, k, n);
  if (!state || !rep) {
    rc = cp_oom(r->err);
    goto out;
  }
  rc = put_result(r, state, rep);

out:
  cp_free(st, k);
  st->js->free(st->host->ctx, state);
  st->js->free(st->host->ctx, rep);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* compile()                                                                */

static int stats_room(cp_run *r)
{
  size_t p, n = (size_t)r->opt->depth + 1;

  for (p = 0; p < r->n_preds; p++) {
    cp_pred *pr = &r->preds[p];

    pr->best_stats = r->st->host->alloc(r->st->host->ctx,
                                        n * sizeof(cp_stat));
    pr->latest_stats = r->st->host->alloc(r->st->host->ctx,
                                          n * sizeof(cp_stat));
    if (!pr->best_stats || !pr->latest_stats)
      return cp_oom(r->err);
  }
  return PC_OK;
}

/* The algorithm of reference section 5.2. Returns PC_OK, or the code of
 * the call that failed (PC_E_BUDGET and PC_E_CANCELLED included). */
static int run(cp_run *r)
{
  int64_t d;
  size_t p;
  int rc;

  rc = load_program(r);
  rc = rc ? rc : (r->opt->track_stats ? stats_room(r) : PC_OK);
  if (rc)
    return rc;
  r->planned = planned_evals(r->opt, (int64_t)r->n_preds);
  /* Seeding: breadth - 1 proposals per predictor, then its starting
   * instruction and prefix as the breadth-th candidate. */
  for (p = 0; p < r->n_preds; p++) {
    cp_pred *pr = &r->preds[p];

    rc = propose(r, p, 0, NULL);
    rc = rc ? rc : add_prop(r, pr, pr->instr0, pr->prefix0);
    if (rc)
      return rc;
    pr->latest = 0;
  }
  for (d = 0; d < r->opt->depth; d++) {
    for (p = 0; p < r->n_preds; p++) {
      rc = ascend(r, p, d);
      if (rc)
        return rc;
    }
    if (d == r->opt->depth - 1)
      break;
    for (p = 0; p < r->n_preds; p++) {
      pc_json *attempts = NULL;

      rc = stat_best(r, p, d);
      rc = rc ? rc : attempts_list(r, p, &attempts);
      rc = rc ? rc : propose(r, p, d + 1, attempts);
      if (rc)
        return rc;
    }
  }
  for (p = 0; p < r->n_preds; p++) {
    rc = stat_best(r, p, r->opt->depth - 1);
    if (rc)
      return rc;
  }
  return PC_OK;
}

static int cp_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  const cp_opt *o = inst;
  cp_run r;
  int rc;

  if (!o || !api || !PC_HAS_FIELD(api, pc_compile_api, set_result) ||
      !api->program || !api->evaluate || !api->propose ||
      !api->record_trial || !api->set_result)
    return cp_error(err, PC_E_INVALID_ARG, "copro: compile: the host's "
                    "compile API lacks a function COPRO needs");
  memset(&r, 0, sizeof(r));
  r.opt = o;
  r.st = o->st;
  r.api = api;
  r.err = err;
  rc = run(&r);
  if (rc == PC_OK) {
    rc = finish(&r);
  } else if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Stopped: keep the best program found so far. */
    int frc = finish(&r);

    if (frc != PC_OK)
      rc = frc;
  }
  run_free(&r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_optimizer_iface cp_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "copro",
  .create = cp_create,
  .destroy = cp_destroy,
  .estimate = cp_estimate,
  .compile = cp_compile,
  .settings = cp_settings,
};

static int cp_init(const pc_host_api *host, void **state, pc_error *err)
{
  const pc_json_api *js;
  cp_state *st;
  uint32_t size = 0;

  if (state)
    *state = NULL;
  if (!state || !host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->realloc || !host->free ||
      !host->get_host_interface)
    return cp_error(err, PC_E_INVALID_ARG, "opt-copro: bad host table");
  js = host->get_host_interface(host->ctx, "pc.json/1", &size);
  if (!js || size < sizeof(*js) || js->hdr.abi_major != PC_ABI_MAJOR ||
      js->hdr.struct_size < sizeof(*js))
    return cp_error(err, PC_E_UNSUPPORTED, "opt-copro: the host offers no "
                    "usable pc.json/1 service");
  st = host->alloc(host->ctx, sizeof(*st));
  if (!st)
    return cp_error(err, PC_E_NOMEM, "opt-copro: out of memory");
  st->host = host;
  st->js = js;
  *state = st;
  return PC_OK;
}

static void cp_fini(void *state)
{
  cp_state *st = state;

  if (st)
    st->host->free(st->host->ctx, st);
}

static const void *cp_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(cp_iface);
  return &cp_iface;
}

static const pc_plugin_info cp_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.copro",
  .name = "copro",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "COPRO: instruction search by coordinate ascent (DSPy)",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = cp_init,
  .fini = cp_fini,
  .get_interface = cp_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &cp_info;
}
