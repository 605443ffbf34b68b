/*
 * fewshot.c - LabeledFewShot and BootstrapFewShot over the compile API,
 * with BootstrapFewShot's sequential choice reproduced from parallel
 * waves (fewshot.h).
 */
#include <stdio.h>
#include <string.h>

#include "fewshot.h"

/* ------------------------------------------------------------------------ */
/* Reading the program and the train split.                                 */

void pc__opt_fewshot_close(pc__opt_fewshot *fx)
{
  if (!fx || !fx->h)
    return;
  fx->h->js->free(fx->h->host->ctx, fx->program);
  fx->h->js->free(fx->h->host->ctx, fx->train);
  pc__opt_free(fx->h, (void *)fx->paths);
  memset(fx, 0, sizeof(*fx));
}

int pc__opt_fewshot_open(pc__opt_fewshot *fx, const pc__opt_host *h,
                         const pc_compile_api *api, const char *who,
                         pc_error *err)
{
  const pc_json *preds;
  size_t i;
  int rc;

  memset(fx, 0, sizeof(*fx));
  fx->h = h;
  fx->api = api;
  fx->seed = api->seed ? api->seed(api->ctx) : 0;
  rc = api->program(api->ctx, &fx->program, err);
  if (rc)
    goto fail;
  preds = h->js->object_get(fx->program, "predictors");
  if (!preds || h->js->type(preds) != PC_JSON_ARRAY) {
    rc = pc__opt_error(err, PC_E_INTERNAL, "%s: the host's program has no "
                       "predictors array", who);
    goto fail;
  }
  fx->n_pred = h->js->array_len(preds);
  fx->paths = pc__opt_calloc(h, fx->n_pred, sizeof(*fx->paths));
  if (!fx->paths) {
    rc = pc__opt_error(err, PC_E_NOMEM, "%s: out of memory", who);
    goto fail;
  }
  for (i = 0; i < fx->n_pred; i++) {
    fx->paths[i] = pc__opt_json_str(h, h->js->array_get(preds, i), "path");
    if (!fx->paths[i]) {
      rc = pc__opt_error(err, PC_E_INTERNAL, "%s: predictor %zu of the "
                         "host's program has no path", who, i);
      goto fail;
    }
  }
  rc = api->dataset(api->ctx, PC_SPLIT_TRAIN, &fx->train, err);
  if (rc)
    goto fail;
  fx->examples = h->js->object_get(fx->train, "examples");
  if (!fx->examples || h->js->type(fx->examples) != PC_JSON_ARRAY) {
    rc = pc__opt_error(err, PC_E_INTERNAL, "%s: the host's train split has "
                       "no examples array", who);
    goto fail;
  }
  fx->n_train = h->js->array_len(fx->examples);
  for (i = 0; i < fx->n_train; i++) {
    const pc_json *fields = h->js->object_get(
      h->js->array_get(fx->examples, i), "fields");

    if (!fields || h->js->type(fields) != PC_JSON_OBJECT) {
      rc = pc__opt_error(err, PC_E_INTERNAL, "%s: train example %zu has no "
                         "fields object", who, i);
      goto fail;
    }
  }
  if (fx->n_train == 0) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, "%s: the train split is "
                       "empty: give at least one example", who);
    goto fail;
  }
  return PC_OK;
fail:
  pc__opt_fewshot_close(fx);
  return rc;
}

int pc__opt_fewshot_order(const pc__opt_fewshot *fx, int64_t **out,
                          pc_error *err)
{
  int64_t *v = pc__opt_calloc(fx->h, fx->n_train, sizeof(*v));
  size_t i;

  *out = NULL;
  if (!v)
    return pc__opt_error(err, PC_E_NOMEM, "out of memory");
  for (i = 0; i < fx->n_train; i++)
    v[i] = (int64_t)i;
  *out = v;
  return PC_OK;
}

/* The fields of train example i (borrowed from fx). */
static const pc_json *example_fields(const pc__opt_fewshot *fx, int64_t i)
{
  return fx->h->js->object_get(fx->h->js->array_get(fx->examples,
                                                    (size_t)i), "fields");
}

/* Set state[path] = {"demos": demos}; takes demos over. */
static int put_demos(const pc__opt_fewshot *fx, pc_json *state,
                     const char *path, pc_json *demos, pc_error *err)
{
  const pc__opt_host *h = fx->h;
  pc_json *entry = h->js->new_object(h->host->ctx);

  if (!entry) {
    h->js->free(h->host->ctx, demos);
    return pc__opt_error(err, PC_E_NOMEM, "out of memory");
  }
  if (pc__opt_json_set(h, entry, "demos", demos, err)) {
    h->js->free(h->host->ctx, entry);
    return PC_E_NOMEM;
  }
  return pc__opt_json_set(h, state, path, entry, err);
}

/* Append a copy of train example i's fields to `demos`. */
static int push_example(const pc__opt_fewshot *fx, pc_json *demos,
                        int64_t i, pc_error *err)
{
  return pc__opt_json_push(fx->h, demos,
                           fx->h->js->copy(fx->h->host->ctx,
                                           example_fields(fx, i)), err);
}

int pc__opt_zero_shot_state(const pc__opt_fewshot *fx, pc_json **out,
                            pc_error *err)
{
  const pc__opt_host *h = fx->h;
  pc_json *state = h->js->new_object(h->host->ctx);
  size_t q;
  int rc = state ? PC_OK : pc__opt_error(err, PC_E_NOMEM, "out of memory");

  for (q = 0; !rc && q < fx->n_pred; q++) {
    pc_json *demos = h->js->new_array(h->host->ctx);

    rc = demos ? put_demos(fx, state, fx->paths[q], demos, err)
               : pc__opt_error(err, PC_E_NOMEM, "out of memory");
  }
  if (rc) {
    h->js->free(h->host->ctx, state);
    state = NULL;
  }
  *out = state;
  return rc;
}

int pc__opt_labeled_state(const pc__opt_fewshot *fx, const int64_t *order,
                          size_t n, int64_t k, int sample, pc_json **out,
                          pc_error *err)
{
  const pc__opt_host *h = fx->h;
  pc_json *state = NULL;
  int64_t *pool = NULL;
  pc__opt_rng rng;
  size_t q, m, i;
  int rc = PC_OK;

  *out = NULL;
  m = k < 0 ? 0 : ((uint64_t)k < n ? (size_t)k : n);
  state = h->js->new_object(h->host->ctx);
  pool = pc__opt_calloc(h, n, sizeof(*pool));
  if (!state || !pool) {
    rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  pc__opt_rng_init(&rng, h, fx->seed, "labeled", 0);
  for (q = 0; !rc && q < fx->n_pred; q++) {
    pc_json *demos = h->js->new_array(h->host->ctx);

    if (!demos) {
      rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
      break;
    }
    /* Each predictor samples from the whole list, as rng.sample(trainset)
     * does; the stream goes on from the previous predictor's draws. */
    memcpy(pool, order, n * sizeof(*pool));
    if (sample)
      pc__opt_rng_sample(&rng, pool, n, m);
    for (i = 0; !rc && i < m; i++)
      rc = push_example(fx, demos, pool[i], err);
    if (rc)
      h->js->free(h->host->ctx, demos);
    else
      rc = put_demos(fx, state, fx->paths[q], demos, err);
  }
out:
  pc__opt_free(h, pool);
  if (rc)
    h->js->free(h->host->ctx, state);
  else
    *out = state;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* BootstrapFewShot.                                                        */
/*
 * DSPy's loop is sequential: for each example in order, while fewer than
 * M = max_bootstrapped_demos examples have succeeded, try rounds 0, 1, ...
 * until one succeeds. An attempt's outcome depends only on (example,
 * round): the teacher state and the round's LM settings are fixed, and
 * the example's own demos are hidden. So the sequential result is a
 * function of the table of outcomes, and it is enough to learn, in
 * parallel, every entry of the table that the sequential loop reads:
 *
 *   Round 0: one request over every example in order with
 *   stop_after_successes = M. The host stops at the M-th success S0 (or
 *   runs all): examples after S0 can never be reached, because round-0
 *   successes are successes whatever the later rounds do. `limit` (the
 *   first position out of play) becomes S0 + 1.
 *
 *   Round r >= 1: the candidates are the examples before `limit` that
 *   failed every earlier round. The sequential loop reaches candidate x's
 *   round r only if fewer than M examples succeeded before x. Before x
 *   there are c(x) known successes (earlier rounds) plus the round-r
 *   successes of earlier candidates. c(x) is constant between two known
 *   successes, so the candidates are split into groups with one c each,
 *   asked one group after the other: a group's request stops after
 *   need = M - c - s round-r successes (s: round-r successes of the
 *   earlier groups), which is exactly where the M-th success falls when
 *   it falls in this group. When need <= 0 the M-th success was a known
 *   one between two groups and the round ends there.
 *
 *   After each round `limit` moves to just past the M-th success in
 *   example order, counting every round so far.
 *
 * At the end every attempt of the sequential loop (examples before
 * `limit`, rounds up to their first success) has a known outcome; replay
 * them in sequential order to count errors exactly as DSPy does (raising
 * at the max_errors-th) and to list the successes. Waves cost at most the
 * host's one extra wave per request, plus round-r attempts of examples
 * that a later round's success puts out of play.
 */

#define AT_UNKNOWN 0
#define AT_SUCCESS 1
#define AT_FAIL 2
#define AT_ERROR 3

struct attempt {
  int status;        /* AT_* */
  int code;          /* AT_ERROR: PC_E_* from the row's error kind */
  char *error;       /* owned: AT_ERROR's message */
  pc_json *trace;    /* owned: AT_SUCCESS's trace */
};

struct boot {
  const pc__opt_fewshot *fx;
  const pc__opt_bootstrap_params *p;
  const int64_t *order;      /* borrowed: train index of each position */
  size_t n;                  /* positions */
  size_t R;                  /* rounds */
  struct attempt *at;        /* owned: n * R, at[pos * R + round] */
  size_t limit;              /* positions >= limit are out of play */
  char *teacher;             /* owned: the teacher state text, or NULL */
  size_t teacher_len;
  pc__opt_bootstrap_info info;
};

static struct attempt *att(struct boot *b, size_t pos, size_t r)
{
  return &b->at[pos * b->R + r];
}

/* The PC_E_* code for a row's error kind. */
static int kind_code(const char *kind)
{
  if (!kind)
    return PC_E_INTERNAL;
  if (!strcmp(kind, "parse"))
    return PC_E_PARSE;
  if (!strcmp(kind, "lm"))
    return PC_E_PROVIDER;
  return PC_E_INVALID_ARG;  /* "metric", "program": bad data or program */
}

/* Whether a score counts as a success: DSPy's `v >= metric_threshold`
 * when one is set, else the truthiness of v; the same as the host's
 * rule for stop_after_successes, since a set threshold is above 0. */
static int is_success(const pc__opt_bootstrap_params *p, double score)
{
  return score > 0.0 && (!p->has_threshold || score >= p->metric_threshold);
}

/* Copy a string with the host allocator. */
static char *dup_text(const pc__opt_host *h, const char *s)
{
  size_t len = strlen(s);
  char *c = pc__opt_alloc(h, len + 1);

  if (c)
    memcpy(c, s, len + 1);
  return c;
}

/* Store one result row as the outcome of (pos, r). */
static int store_row(struct boot *b, size_t pos, size_t r,
                     const pc_json *row, int64_t *successes, pc_error *err)
{
  const pc__opt_host *h = b->fx->h;
  struct attempt *a = att(b, pos, r);
  const pc_json *score = h->js->object_get(row, "score");
  const pc_json *trace = h->js->object_get(row, "trace");
  const char *error = pc__opt_json_str(h, row, "error");

  if (a->status != AT_UNKNOWN)
    return pc__opt_error(err, PC_E_INTERNAL, "%s: train example %lld, "
                         "round %zu was run twice", b->p->who,
                         (long long)b->order[pos], r);
  if (error) {
    a->status = AT_ERROR;
    a->code = kind_code(pc__opt_json_str(h, row, "error_kind"));
    if (!(a->error = dup_text(h, error)))
      return pc__opt_error(err, PC_E_NOMEM, "out of memory");
    return PC_OK;
  }
  if (!score || !is_success(b->p, h->js->get_double(score))) {
    a->status = AT_FAIL;
    return PC_OK;
  }
  a->status = AT_SUCCESS;
  (*successes)++;
  if (!trace || h->js->type(trace) != PC_JSON_ARRAY)
    return pc__opt_error(err, PC_E_INTERNAL, "%s: the host returned no "
                         "trace for train example %lld", b->p->who,
                         (long long)b->order[pos]);
  if (!(a->trace = h->js->copy(h->host->ctx, trace)))
    return pc__opt_error(err, PC_E_NOMEM, "out of memory");
  return PC_OK;
}

/*
 * Ask the host for round r of the examples at positions pos[0..k), in
 * order, stopping after `need` successes. *reached is set when the
 * request saw `need` successes (the host cut the results there).
 */
static int request(struct boot *b, size_t r, const size_t *pos, size_t k,
                   int64_t need, int *reached, int64_t *idx,
                   pc_error *err)
{
  const pc__opt_host *h = b->fx->h;
  const pc_compile_api *api = b->fx->api;
  pc_eval_request req;
  pc_json *res = NULL;
  const pc_json *rows;
  char config[96];
  size_t j, m;
  int64_t successes = 0;
  int rc;

  *reached = 0;
  for (j = 0; j < k; j++)
    idx[j] = b->order[pos[j]];
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_eval_request);
  req.state_json = b->teacher;
  req.state_len = b->teacher_len;
  req.split = PC_SPLIT_TRAIN;
  req.indices = idx;
  req.n_indices = k;
  req.flags = PC_EVAL_TRACES | PC_EVAL_EXCLUDE_SELF |
              (b->p->use_teacher_lm ? PC_EVAL_TEACHER : 0u);
  req.stop_after_successes = need;
  req.success_threshold = b->p->has_threshold ? b->p->metric_threshold : 0;
  if (r > 0) {
    /* DSPy: lm.copy(rollout_id=round, temperature=1.0). */
    int w = snprintf(config, sizeof(config), "{\"temperature\": 1.0, "
                     "\"rollout_id\": \"bootstrap-round-%zu\"}", r);

    req.config_json = config;
    req.config_len = (uint64_t)w;
  }
  b->info.requests++;
  rc = api->evaluate(api->ctx, &req, &res, err);
  if (rc)
    goto out;
  rows = h->js->object_get(res, "results");
  m = rows && h->js->type(rows) == PC_JSON_ARRAY ? h->js->array_len(rows)
                                                  : 0;
  if (!rows || m > k) {
    rc = pc__opt_error(err, PC_E_INTERNAL, "%s: the host's evaluate "
                       "answer has %zu results for %zu examples", b->p->who,
                       m, k);
    goto out;
  }
  for (j = 0; j < m; j++) {
    const pc_json *row = h->js->array_get(rows, j);
    const pc_json *index = h->js->object_get(row, "index");

    if (!index || h->js->get_int(index) != idx[j]) {
      rc = pc__opt_error(err, PC_E_INTERNAL, "%s: the host's evaluate "
                         "result %zu is not train example %lld", b->p->who,
                         j, (long long)idx[j]);
      goto out;
    }
    rc = store_row(b, pos[j], r, row, &successes, err);
    if (rc)
      goto out;
    b->info.reported++;
    if (successes >= need) {
      *reached = 1;
      break;
    }
  }
  if (!*reached && m < k)
    rc = pc__opt_error(err, PC_E_INTERNAL, "%s: the host stopped an "
                       "evaluate request after %zu of %zu examples before "
                       "%lld successes", b->p->who, m, k, (long long)need);
out:
  h->js->free(h->host->ctx, res);
  return rc;
}

/* Whether position pos succeeded in a round before r. */
static int succeeded_before(struct boot *b, size_t pos, size_t r)
{
  size_t i;

  for (i = 0; i < r; i++)
    if (att(b, pos, i)->status == AT_SUCCESS)
      return 1;
  return 0;
}

/* Move `limit` to just past the M-th success (any round up to r) in
 * example order, if there are M before it. */
static void update_limit(struct boot *b, size_t r)
{
  int64_t count = 0;
  size_t pos;

  for (pos = 0; pos < b->limit; pos++)
    if (succeeded_before(b, pos, r + 1) &&
        ++count >= b->p->max_bootstrapped_demos) {
      b->limit = pos + 1;
      return;
    }
}

/* Learn every outcome the sequential loop reads (see the comment above). */
static int run_waves(struct boot *b, pc_error *err)
{
  const int64_t M = b->p->max_bootstrapped_demos;
  size_t *cand = NULL, *known = NULL;
  int64_t *idx = NULL;
  size_t r, pos;
  int rc = PC_OK;

  b->limit = b->n;
  if (M <= 0 || b->n == 0)
    return PC_OK;
  cand = pc__opt_calloc(b->fx->h, b->n, sizeof(*cand));
  known = pc__opt_calloc(b->fx->h, b->n, sizeof(*known));
  idx = pc__opt_calloc(b->fx->h, b->n, sizeof(*idx));
  if (!cand || !known || !idx) {
    rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  for (r = 0; r < b->R; r++) {
    size_t n_cand = 0, g, e, c_count = 0;
    int64_t s = 0;

    /* known[pos]: successes of earlier rounds before pos; candidates:
     * positions in play that have not succeeded yet. */
    for (pos = 0; pos < b->limit; pos++) {
      int done = succeeded_before(b, pos, r);

      known[pos] = c_count;
      if (done)
        c_count++;
      else
        cand[n_cand++] = pos;
    }
    for (g = 0; g < n_cand; g = e) {
      int64_t need = M - (int64_t)known[cand[g]] - s;
      int reached = 0;
      size_t j;

      if (need <= 0)
        break;  /* a known success between two groups was the M-th */
      for (e = g + 1; e < n_cand && known[cand[e]] == known[cand[g]]; e++)
        ;
      rc = request(b, r, cand + g, e - g, need, &reached, idx, err);
      if (rc)
        goto out;
      if (reached)
        break;
      for (j = g; j < e; j++)
        if (att(b, cand[j], r)->status == AT_SUCCESS)
          s++;
    }
    update_limit(b, r);
  }
out:
  pc__opt_free(b->fx->h, cand);
  pc__opt_free(b->fx->h, known);
  pc__opt_free(b->fx->h, idx);
  return rc;
}

/*
 * Replay the sequential loop over the outcome table: count attempts and
 * errors in DSPy's order (failing at the max_errors-th error, as DSPy
 * re-raises) and list the successful positions and rounds in sp[]/sr[]
 * (caller storage of n entries).
 */
static int replay(struct boot *b, size_t *sp, size_t *sr, size_t *n_succ,
                  pc_error *err)
{
  size_t pos, r;

  *n_succ = 0;
  if (b->p->max_bootstrapped_demos <= 0)
    return PC_OK;
  for (pos = 0; pos < b->limit; pos++) {
    for (r = 0; r < b->R; r++) {
      struct attempt *a = att(b, pos, r);

      if (a->status == AT_UNKNOWN)
        return pc__opt_error(err, PC_E_INTERNAL, "%s: no outcome for train "
                             "example %lld, round %zu", b->p->who,
                             (long long)b->order[pos], r);
      b->info.attempts++;
      if (a->status == AT_ERROR &&
          ++b->info.errors >= b->p->max_errors)
        return pc__opt_error(err, a->code, "%s: %lld errors while "
                             "bootstrapping (last: %s)", b->p->who,
                             (long long)b->info.errors, a->error);
      if (a->status == AT_SUCCESS) {
        sp[*n_succ] = pos;
        sr[*n_succ] = r;
        (*n_succ)++;
        break;
      }
    }
  }
  b->info.successes = (int64_t)*n_succ;
  return PC_OK;
}

/* The successes known so far, for a run cut by the budget: positions in
 * play with a success in any round, in order, at most M. */
static void known_successes(struct boot *b, size_t *sp, size_t *sr,
                            size_t *n_succ)
{
  size_t pos, r;

  *n_succ = 0;
  for (pos = 0; pos < b->limit; pos++) {
    if ((int64_t)*n_succ >= b->p->max_bootstrapped_demos)
      break;
    for (r = 0; r < b->R; r++)
      if (att(b, pos, r)->status == AT_SUCCESS) {
        sp[*n_succ] = pos;
        sr[*n_succ] = r;
        (*n_succ)++;
        break;
      }
  }
}

/* Build {"augmented": true, ...inputs, ...outputs} from a trace step. */
static pc_json *step_demo(const pc__opt_host *h, const pc_json *step)
{
  static const char *const parts[2] = {"inputs", "outputs"};
  pc_json *d = h->js->new_object(h->host->ctx);
  size_t p, i;

  if (!d || h->js->object_set(h->host->ctx, d, "augmented",
                              h->js->new_bool(h->host->ctx, 1)) != PC_OK)
    goto fail;
  for (p = 0; p < 2; p++) {
    const pc_json *o = h->js->object_get(step, parts[p]);
    size_t n = o ? h->js->object_len(o) : 0;

    for (i = 0; i < n; i++) {
      const char *key;
      const pc_json *v;
      pc_json *c;

      if (h->js->object_at(o, i, &key, &v) != 0)
        break;
      c = h->js->copy(h->host->ctx, v);
      if (!c || h->js->object_set(h->host->ctx, d, key, c) != PC_OK)
        goto fail;
    }
  }
  return d;
fail:
  h->js->free(h->host->ctx, d);
  return NULL;
}

int pc__opt_trace_demo(const pc__opt_host *h, uint64_t seed,
                       const char *prefix, const pc_json *trace,
                       const char *path, int64_t index, pc_json **out,
                       pc_error *err)
{
  size_t n = trace ? h->js->array_len(trace) : 0, i, count = 0, pick;
  size_t seen = 0;
  char *purpose = NULL;
  size_t plen;
  const pc_json *chosen = NULL;

  *out = NULL;
  for (i = 0; i < n; i++) {
    const char *pred = pc__opt_json_str(h, h->js->array_get(trace, i),
                                        "predictor");

    if (pred && !strcmp(pred, path))
      count++;
  }
  if (count == 0)
    return PC_OK;
  pick = count - 1;
  if (count > 1) {
    pc__opt_rng rng;

    plen = strlen(prefix) + strlen(path) + 2;
    if (!(purpose = pc__opt_alloc(h, plen)))
      return pc__opt_error(err, PC_E_NOMEM, "out of memory");
    snprintf(purpose, plen, "%s:%s", prefix, path);
    pc__opt_rng_init(&rng, h, seed, purpose, (uint64_t)index);
    if (pc__opt_rng_unit(&rng) < 0.5)
      pick = (size_t)pc__opt_rng_below(&rng, count - 1);
    pc__opt_free(h, purpose);
  }
  for (i = 0; i < n && !chosen; i++) {
    const pc_json *step = h->js->array_get(trace, i);
    const char *pred = pc__opt_json_str(h, step, "predictor");

    if (pred && !strcmp(pred, path) && seen++ == pick)
      chosen = step;
  }
  if (!(*out = step_demo(h, chosen)))
    return pc__opt_error(err, PC_E_NOMEM, "out of memory");
  return PC_OK;
}

/*
 * DSPy's _train: per predictor, the bootstrapped demos (one per success,
 * in order, at most M) and then labeled ones drawn from the examples not
 * bootstrapped, shuffled with one stream and sampled with another, the
 * pool shrinking to each predictor's sample (DSPy's `raw = sample(raw,
 * k)`, kept for fidelity).
 */
static int assemble(struct boot *b, const size_t *sp, const size_t *sr,
                    size_t n_succ, pc_json **out, pc_error *err)
{
  const pc__opt_fewshot *fx = b->fx;
  const pc__opt_host *h = fx->h;
  pc_json *state = NULL;
  int64_t *raw = NULL;
  unsigned char *boot = NULL;
  size_t n_raw = 0, q, i, pos;
  pc__opt_rng shuffle, sample;
  int rc = PC_OK;

  *out = NULL;
  state = h->js->new_object(h->host->ctx);
  raw = pc__opt_calloc(h, b->n, sizeof(*raw));
  boot = pc__opt_calloc(h, b->n, 1);
  if (!state || !raw || !boot) {
    rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  for (i = 0; i < n_succ; i++)
    boot[sp[i]] = 1;
  for (pos = 0; pos < b->n; pos++)
    if (!boot[pos])
      raw[n_raw++] = b->order[pos];
  pc__opt_rng_init(&shuffle, h, fx->seed, "bootstrap-shuffle", 0);
  pc__opt_rng_shuffle(&shuffle, raw, n_raw);
  pc__opt_rng_init(&sample, h, fx->seed, "bootstrap-sample", 0);
  for (q = 0; !rc && q < fx->n_pred; q++) {
    pc_json *demos = h->js->new_array(h->host->ctx);
    int64_t n_aug = 0, k;

    if (!demos) {
      rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
      break;
    }
    for (i = 0; !rc && i < n_succ &&
         n_aug < b->p->max_bootstrapped_demos; i++) {
      pc_json *d = NULL;

      rc = pc__opt_trace_demo(fx->h, fx->seed, "bootstrap-trace",
                              att(b, sp[i], sr[i])->trace, fx->paths[q],
                              b->order[sp[i]], &d, err);
      if (!rc && d) {
        rc = pc__opt_json_push(h, demos, d, err);
        n_aug++;
      }
    }
    k = b->p->max_labeled_demos - n_aug;
    if (k > (int64_t)n_raw)
      k = (int64_t)n_raw;
    if (k < 0)
      k = 0;
    pc__opt_rng_sample(&sample, raw, n_raw, (size_t)k);
    n_raw = (size_t)k;
    for (i = 0; !rc && i < n_raw; i++)
      rc = push_example(fx, demos, raw[i], err);
    if (rc)
      h->js->free(h->host->ctx, demos);
    else
      rc = put_demos(fx, state, fx->paths[q], demos, err);
  }
out:
  pc__opt_free(h, raw);
  pc__opt_free(h, boot);
  if (rc)
    h->js->free(h->host->ctx, state);
  else
    *out = state;
  return rc;
}

/* The ids of the examples at positions sp[0..n) as a new array (NULL when
 * out of memory). */
static pc_json *success_ids(struct boot *b, const size_t *sp, size_t n)
{
  const pc__opt_host *h = b->fx->h;
  pc_json *ids = h->js->new_array(h->host->ctx);
  size_t i;

  for (i = 0; ids && i < n; i++) {
    const pc_json *ex = h->js->array_get(b->fx->examples,
                                         (size_t)b->order[sp[i]]);
    const pc_json *id = h->js->object_get(ex, "id");
    pc_json *c = id ? h->js->copy(h->host->ctx, id)
                    : h->js->new_null(h->host->ctx);

    if (!c || h->js->array_append(h->host->ctx, ids, c) != PC_OK) {
      h->js->free(h->host->ctx, ids);
      ids = NULL;
    }
  }
  return ids;
}

void pc__opt_bootstrap_params_set(pc__opt_bootstrap_params *p,
                                  const pc__opt_value *vals,
                                  const char *who)
{
  memset(p, 0, sizeof(*p));
  p->who = who;
  p->max_bootstrapped_demos = vals[PC__OPT_B_MAX_BOOTSTRAPPED].i;
  p->max_labeled_demos = vals[PC__OPT_B_MAX_LABELED].i;
  p->max_rounds = vals[PC__OPT_B_MAX_ROUNDS].i;
  p->max_errors = vals[PC__OPT_B_MAX_ERRORS].i;
  /* DSPy tests `if self.metric_threshold:`, so 0 acts as None. */
  p->has_threshold = !vals[PC__OPT_B_METRIC_THRESHOLD].is_null &&
                     vals[PC__OPT_B_METRIC_THRESHOLD].d > 0;
  p->metric_threshold = p->has_threshold
                        ? vals[PC__OPT_B_METRIC_THRESHOLD].d : 0.0;
  p->use_teacher_lm = (int)vals[PC__OPT_B_USE_TEACHER_LM].i;
}

int64_t pc__opt_bootstrap_max_attempts(const pc__opt_bootstrap_params *p,
                                       int64_t n_train)
{
  if (p->max_bootstrapped_demos <= 0 || n_train <= 0)
    return 0;
  return n_train * p->max_rounds;
}

int pc__opt_bootstrap_run(const pc__opt_fewshot *fx,
                          const pc__opt_bootstrap_params *p,
                          const int64_t *order, size_t n, pc_json **state,
                          pc__opt_bootstrap_info *info, pc_json **partial,
                          pc_error *err)
{
  const pc__opt_host *h = fx->h;
  struct boot b;
  size_t *sp = NULL, *sr = NULL, n_succ = 0, i;
  int rc = PC_OK;

  *state = NULL;
  if (partial)
    *partial = NULL;
  memset(&b, 0, sizeof(b));
  b.fx = fx;
  b.p = p;
  b.order = order;
  b.n = n;
  b.R = p->max_rounds > 0 ? (size_t)p->max_rounds : 1;
  b.at = pc__opt_calloc(h, n ? n * b.R : 1, sizeof(*b.at));
  sp = pc__opt_calloc(h, n, sizeof(*sp));
  sr = pc__opt_calloc(h, n, sizeof(*sr));
  if (!b.at || !sp || !sr) {
    rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  /* The teacher: the starting program with labeled demos in place of its
   * own when max_labeled_demos > 0 (DSPy compiles LabeledFewShot on
   * teacher.reset_copy()); else the starting program as it is. */
  if (p->max_bootstrapped_demos > 0 && p->max_labeled_demos > 0) {
    pc_json *teacher = NULL;

    rc = pc__opt_labeled_state(fx, order, n, p->max_labeled_demos, 1,
                               &teacher, err);
    if (!rc)
      rc = pc__opt_json_text(h, teacher, &b.teacher, &b.teacher_len, err);
    h->js->free(h->host->ctx, teacher);
    if (rc)
      goto out;
  }
  rc = run_waves(&b, err);
  if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    int rc2;
    pc_error e2 = PC_ERROR_INIT;

    if (partial) {
      known_successes(&b, sp, sr, &n_succ);
      rc2 = assemble(&b, sp, sr, n_succ, partial, &e2);
      if (rc2)
        *partial = NULL;
      b.info.successes = (int64_t)n_succ;
      b.info.ids = success_ids(&b, sp, n_succ);
    }
    goto out;
  }
  if (!rc)
    rc = replay(&b, sp, sr, &n_succ, err);
  if (!rc)
    rc = assemble(&b, sp, sr, n_succ, state, err);
  if (!rc && !(b.info.ids = success_ids(&b, sp, n_succ))) {
    h->js->free(h->host->ctx, *state);
    *state = NULL;
    rc = pc__opt_error(err, PC_E_NOMEM, "out of memory");
  }
out:
  if (info)
    *info = b.info;
  else
    h->js->free(h->host->ctx, b.info.ids);
  if (b.at)
    for (i = 0; i < n * b.R; i++) {
      pc__opt_free(h, b.at[i].error);
      h->js->free(h->host->ctx, b.at[i].trace);
    }
  pc__opt_free(h, b.at);
  pc__opt_free(h, b.teacher);
  pc__opt_free(h, sp);
  pc__opt_free(h, sr);
  return rc;
}
