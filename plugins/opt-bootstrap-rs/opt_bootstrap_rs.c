/*
 * opt_bootstrap_rs.c - the `bootstrap-rs` optimizer plugin: DSPy's
 * BootstrapFewShotWithRandomSearch (reference dspy-optimizers.md section
 * 3): candidates from seeds -3 (zero-shot), -2 (labeled only), -1
 * (bootstrap in train order) and 0..N-1 (bootstrap on a shuffled train
 * set with a random number of demos), each scored on the whole val split;
 * the best wins (docs/optimizers.md).
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "../opt-common/fewshot.h"

#define WHO "bootstrap-rs"

#define S_NUM_CANDIDATES (PC__OPT_B_COUNT + 0)
#define S_STOP_AT_SCORE (PC__OPT_B_COUNT + 1)
#define S_LABELED_SAMPLE (PC__OPT_B_COUNT + 2)
#define S_COUNT (PC__OPT_B_COUNT + 3)

static const pc__opt_spec specs[S_COUNT] = {
  PC__OPT_BOOTSTRAP_SPECS,
  {"num_candidate_programs", PC__OPT_SET_INT, 0, 16, 0, 0, 0},
  {"stop_at_score", PC__OPT_SET_NUM, 0, 0, 0.0, 100.0, 0},
  {"labeled_sample", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
};

/* One configured optimizer. */
typedef struct bootstrap_rs {
  const pc__opt_host *h;           /* borrowed: the plugin state */
  pc__opt_value vals[S_COUNT];     /* settings, defaults filled in */
  pc__opt_bootstrap_params params; /* the bootstrap part of them */
} bootstrap_rs;

/* One scored candidate, for the report. */
struct scored {
  int64_t candidate;
  int64_t seed;
  double score;
};

static int rs_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  bootstrap_rs *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, settings_json, len,
                              o->vals, err);
  /* DSPy's randint(1, 0) crash (reference section 12, quirk 10) becomes a
   * settings error. */
  if (!rc && o->vals[PC__OPT_B_MAX_BOOTSTRAPPED].i == 0 &&
      o->vals[S_NUM_CANDIDATES].i > 0)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": max_bootstrapped_demos:"
                       " must be >= 1 when num_candidate_programs > 0 (seeds"
                       " >= 0 draw their demo count from 1 to "
                       "max_bootstrapped_demos)");
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  pc__opt_bootstrap_params_set(&o->params, o->vals, WHO);
  *inst = o;
  return PC_OK;
}

static void rs_destroy(void *inst)
{
  bootstrap_rs *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int rs_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  bootstrap_rs *o = inst;

  return pc__opt_settings_write(o->h, specs, S_COUNT, o->vals, out, err);
}

/* Reference section 11: N + 1 bootstrap runs (seed -1 and 0..N-1) of at
 * most |T| * max_rounds attempts each, plus N + 3 evaluations of |V|. */
static int rs_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  bootstrap_rs *o = inst;
  pc_json *info = NULL;
  int64_t n_cand = o->vals[S_NUM_CANDIDATES].i, runs, calls_per_run;
  int rc;

  rc = pc__opt_json_parse(o->h, WHO ": estimate", info_json, len, &info,
                          err);
  if (rc)
    return rc;
  runs = (n_cand + 1) * pc__opt_bootstrap_max_attempts(
           &o->params, pc__opt_info_int(o->h, info, "train")) +
         (n_cand + 3) * pc__opt_info_int(o->h, info, "val");
  calls_per_run = pc__opt_info_int(o->h, info, "calls_per_run");
  if (calls_per_run < 1)
    calls_per_run = 1;
  o->h->js->free(o->h->host->ctx, info);
  return pc__opt_write_estimate(o->h, runs * calls_per_run, runs, 0, out,
                                err);
}

/*
 * The state of candidate `seed` in *state (owned). For bootstrap seeds
 * *size is the max_bootstrapped_demos used and *info what the run did
 * (the caller frees info->ids); else *size is -1.
 */
static int make_candidate(bootstrap_rs *o, const pc__opt_fewshot *fx,
                          int64_t seed, const char *who, int64_t *size,
                          pc__opt_bootstrap_info *info, pc_json **state,
                          pc_error *err)
{
  const pc__opt_host *h = o->h;
  pc__opt_bootstrap_params p = o->params;
  int64_t *order = NULL;
  int rc;

  *state = NULL;
  *size = -1;
  memset(info, 0, sizeof(*info));
  if (seed == -3)
    return pc__opt_zero_shot_state(fx, state, err);
  rc = pc__opt_fewshot_order(fx, &order, err);
  if (rc)
    return rc;
  if (seed == -2) {
    rc = pc__opt_labeled_state(fx, order, fx->n_train, p.max_labeled_demos,
                               (int)o->vals[S_LABELED_SAMPLE].i, state, err);
    goto out;
  }
  if (seed >= 0) {
    /* DSPy: Random(seed).shuffle(trainset), then a second Random(seed)
     * draws randint(1, max_bootstrapped_demos). */
    pc__opt_rng shuffle, pick;

    pc__opt_rng_init(&shuffle, h, fx->seed, "bootstrap-rs-shuffle",
                     (uint64_t)seed);
    pc__opt_rng_shuffle(&shuffle, order, fx->n_train);
    pc__opt_rng_init(&pick, h, fx->seed, "bootstrap-rs-size",
                     (uint64_t)seed);
    p.max_bootstrapped_demos = 1 + (int64_t)pc__opt_rng_below(
      &pick, (uint64_t)o->params.max_bootstrapped_demos);
  }
  p.who = who;
  *size = p.max_bootstrapped_demos;
  rc = pc__opt_bootstrap_run(fx, &p, order, fx->n_train, state, info, NULL,
                             err);
out:
  pc__opt_free(h, order);
  return rc;
}

/*
 * Score `state` on the whole val split: *score is DSPy's percentage and
 * *n the number of examples. DSPy's Evaluate raises once max_errors rows
 * failed, so that many failed rows is an error here too.
 */
static int score_on_val(bootstrap_rs *o, const pc_compile_api *api,
                        const char *who, const pc_json *state,
                        double *score, int64_t *n, pc_error *err)
{
  const pc__opt_host *h = o->h;
  pc_eval_request req;
  pc_json *res = NULL;
  const pc_json *rows, *v;
  char *text = NULL;
  size_t len = 0, i, m;
  int64_t errors = 0;
  int rc;

  rc = pc__opt_json_text(h, state, &text, &len, err);
  if (rc)
    return rc;
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_eval_request);
  req.state_json = text;
  req.state_len = len;
  req.split = PC_SPLIT_VAL;
  rc = api->evaluate(api->ctx, &req, &res, err);
  if (rc)
    goto out;
  v = h->js->object_get(res, "percent");
  *score = v ? h->js->get_double(v) : 0.0;
  v = h->js->object_get(res, "n");
  *n = v ? h->js->get_int(v) : 0;
  rows = h->js->object_get(res, "results");
  m = rows ? h->js->array_len(rows) : 0;
  for (i = 0; i < m; i++) {
    const pc_json *row = h->js->array_get(rows, i);
    const char *msg = pc__opt_json_str(h, row, "error");

    if (msg && ++errors >= o->params.max_errors) {
      const char *kind = pc__opt_json_str(h, row, "error_kind");
      int code = !kind ? PC_E_INTERNAL
                 : !strcmp(kind, "parse") ? PC_E_PARSE
                 : !strcmp(kind, "lm") ? PC_E_PROVIDER : PC_E_INVALID_ARG;

      rc = pc__opt_error(err, code, "%s: %lld errors while evaluating on "
                         "val (last: %s)", who, (long long)errors, msg);
      goto out;
    }
  }
  if (*n <= 0)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, "%s: the val split is empty",
                       who);
out:
  h->js->free(h->host->ctx, res);
  pc__opt_free(h, text);
  return rc;
}

/* Record candidate c's trial. */
static int record(bootstrap_rs *o, const pc_compile_api *api, int64_t c,
                  int64_t seed, double score, int64_t n, int64_t size,
                  const pc__opt_bootstrap_info *info, const pc_json *state,
                  pc_error *err)
{
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_json *t = h->js->new_object(ctx);
  char label[40];
  int rc = t ? PC_OK : pc__opt_error(err, PC_E_NOMEM, "out of memory");

  snprintf(label, sizeof(label), "seed %lld", (long long)seed);
  if (!rc)
    rc = pc__opt_json_set(h, t, "candidate", h->js->new_int(ctx, c), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "label",
                          h->js->new_string(ctx, label, strlen(label)), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "seed", h->js->new_int(ctx, seed), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "split", h->js->new_string(ctx, "val", 3),
                          err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "score", h->js->new_double(ctx, score), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "n", h->js->new_int(ctx, n), err);
  if (!rc && size >= 0) {
    rc = pc__opt_json_set(h, t, "max_bootstrapped_demos",
                          h->js->new_int(ctx, size), err);
    if (!rc)
      rc = pc__opt_json_set(h, t, "attempts",
                            h->js->new_int(ctx, info->attempts), err);
    if (!rc)
      rc = pc__opt_json_set(h, t, "bootstrapped",
                            info->ids ? h->js->copy(ctx, info->ids)
                                      : h->js->new_array(ctx), err);
  }
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(ctx, state), err);
  if (!rc)
    rc = pc__opt_record_trial(h, api, t, err);
  h->js->free(ctx, t);
  return rc;
}

/* {"candidates": [{"candidate", "seed", "score"}, ...]} sorted by score,
 * best first, ties in candidate order (a stable sort, as Python's). */
static pc_json *make_report(const pc__opt_host *h, struct scored *s,
                            size_t n)
{
  void *ctx = h->host->ctx;
  pc_json *report = h->js->new_object(ctx);
  pc_json *arr = h->js->new_array(ctx);
  size_t i, j;
  int bad;

  for (i = 1; i < n; i++) {
    struct scored t = s[i];

    for (j = i; j > 0 && s[j - 1].score < t.score; j--)
      s[j] = s[j - 1];
    s[j] = t;
  }
  if (!report || !arr)
    goto fail;
  for (i = 0; i < n; i++) {
    pc_json *e = h->js->new_object(ctx);

    if (!e)
      goto fail;
    if (pc__opt_json_set(h, e, "candidate",
                         h->js->new_int(ctx, s[i].candidate), NULL) ||
        pc__opt_json_set(h, e, "seed", h->js->new_int(ctx, s[i].seed),
                         NULL) ||
        pc__opt_json_set(h, e, "score", h->js->new_double(ctx, s[i].score),
                         NULL)) {
      h->js->free(ctx, e);
      goto fail;
    }
    if (pc__opt_json_push(h, arr, e, NULL))  /* takes e over */
      goto fail;
  }
  bad = pc__opt_json_set(h, report, "candidates", arr, NULL);
  arr = NULL;  /* taken over, also on failure */
  if (bad)
    goto fail;
  return report;
fail:
  h->js->free(ctx, arr);
  h->js->free(ctx, report);
  return NULL;
}

static int rs_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  bootstrap_rs *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc__opt_fewshot fx;
  pc_json *best = NULL, *report = NULL;
  struct scored *scored = NULL;
  int64_t n_cand = o->vals[S_NUM_CANDIDATES].i + 3, c;
  size_t n_scored = 0;
  double best_score = -1.0;
  int rc;

  rc = pc__opt_fewshot_open(&fx, h, api, WHO, err);
  if (rc)
    return rc;
  scored = pc__opt_calloc(h, (size_t)n_cand, sizeof(*scored));
  if (!scored) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  for (c = 0; c < n_cand; c++) {
    int64_t seed = c - 3, size, n = 0;
    pc__opt_bootstrap_info info;
    pc_json *state = NULL;
    double score = 0;
    char who[48];

    snprintf(who, sizeof(who), WHO ": seed %lld", (long long)seed);
    rc = make_candidate(o, &fx, seed, who, &size, &info, &state, err);
    if (!rc)
      rc = score_on_val(o, api, who, state, &score, &n, err);
    if (!rc)
      rc = record(o, api, c, seed, score, n, size, &info, state, err);
    h->js->free(ctx, info.ids);
    if (rc) {
      h->js->free(ctx, state);
      break;
    }
    scored[n_scored].candidate = c;
    scored[n_scored].seed = seed;
    scored[n_scored].score = score;
    n_scored++;
    /* Strict >: the earliest of equal scores is kept. */
    if (score > best_score) {
      best_score = score;
      h->js->free(ctx, best);
      best = state;
    } else {
      h->js->free(ctx, state);
    }
    pc__opt_progress(h, api, c + 1, n_cand, best_score);
    if (!o->vals[S_STOP_AT_SCORE].is_null &&
        score >= o->vals[S_STOP_AT_SCORE].d)
      break;
  }
  if (rc && rc != PC_E_BUDGET && rc != PC_E_CANCELLED)
    goto out;
  /* Done, or stopped by a cap: the best candidate so far wins (the
   * starting program when none was scored yet). */
  if (!best && !(best = h->js->new_object(ctx))) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  if (!(report = make_report(h, scored, n_scored))) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  if (rc) {
    pc_error e2 = PC_ERROR_INIT;

    pc__opt_set_result(h, api, best, report, &e2);
  } else {
    rc = pc__opt_set_result(h, api, best, report, err);
  }
out:
  h->js->free(ctx, best);
  h->js->free(ctx, report);
  pc__opt_free(h, scored);
  pc__opt_fewshot_close(&fx);
  return rc;
}

static const pc_optimizer_iface rs_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "bootstrap-rs",
  .create = rs_create,
  .destroy = rs_destroy,
  .estimate = rs_estimate,
  .compile = rs_compile,
  .settings = rs_settings,
};

static int rs_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-bootstrap-rs", state, err);
}

static const void *rs_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(rs_iface);
  return &rs_iface;
}

static const pc_plugin_info rs_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.bootstrap-rs",
  .name = "bootstrap-rs",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "BootstrapFewShotWithRandomSearch: the best of N+3 few-shot "
             "candidates on val",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = rs_init,
  .fini = pc__opt_fini,
  .get_interface = rs_get_interface,
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
  return &rs_info;
}
