/*
 * compile.c - the compile host: the pc_compile_api table an optimizer
 * drives, over evaluation, proposals, the budget and the run store.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "compile.h"
#include "eval.h"
#include "file.h"
#include "hash.h"
#include "host.h"
#include "json_text.h"
#include "predict.h"
#include "pricing.h"

/* The state of one compile: what the API callbacks share. Callbacks come
 * from the optimizer's one thread; only admit() runs on workers (under
 * the evaluation's lock). */
struct cc {
  const pc_compile_opts *o;
  pc_budget *budget;
  pc_price price[PC_ROLE_COUNT];
  pc_usage start[PC_ROLE_COUNT];   /* runtime counters when we began */
  struct json_object *start_json;  /* owned: the starting program */
  int replaying;                   /* answers still come from the log */
  int64_t seq;                     /* requests asked so far */
  int64_t trials;
  double best;                     /* best progress score (NAN: none) */
  int64_t trial_shown, trial_of;
  pc_compile_result *res;
  const pc_compile_api *api;       /* the table the optimizers get */
  int depth;                       /* run_optimizer steps in progress */
  const char *step;                /* borrowed: the running step's label */
};

static int put(struct json_object *o, const char *k, struct json_object *v)
{
  if (!v)
    return PC_E_NOMEM;
  if (json_object_object_add(o, k, v) != 0) {
    json_object_put(v);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static int put_null(struct json_object *o, const char *k)
{
  return json_object_object_add(o, k, NULL) ? PC_E_NOMEM : PC_OK;
}

static struct json_object *copy_of(const struct json_object *v)
{
  struct json_object *c = NULL;

  if (v && json_object_deep_copy((struct json_object *)v, &c, NULL) != 0)
    return NULL;
  return c;
}

static uint64_t now_ns(void)
{
  const pc_host_api *h = pc_host_api_get();

  return h->now_ns(h->ctx);
}

/* ---- usage and the budget ------------------------------------------------ */

static int is_task_role(int role)
{
  return role == PC_ROLE_LM || role == PC_ROLE_TEACHER_LM;
}

/* The runtime's spending since the compile began, per role. */
static void live_usage(struct cc *c, pc_usage out[PC_ROLE_COUNT])
{
  pc_runtime_role_usage(c->o->rt, out);
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    pc_usage_sub(&out[r], &c->start[r]);
}

static double usage_cost(const struct cc *c, const pc_usage u[PC_ROLE_COUNT])
{
  double cost = 0.0;

  for (int r = 0; r < PC_ROLE_COUNT; r++)
    cost += pc_price_cost(&c->price[r], &u[r]);
  return cost;
}

static void refresh_budget(struct cc *c)
{
  pc_usage u[PC_ROLE_COUNT];
  int64_t calls = 0, tokens = 0;

  live_usage(c, u);
  for (int r = 0; r < PC_ROLE_COUNT; r++) {
    calls += (int64_t)u[r].calls;
    tokens += u[r].prompt_tokens + u[r].completion_tokens;
  }
  pc_budget_set_live(c->budget, calls, tokens, usage_cost(c, u));
}

/* PC_E_BUDGET (with the cap's description) when a cap has been reached
 * (before starting work) or, `strict`, exceeded (after a batch). */
static int check_budget(struct cc *c, int strict, pc_error *err)
{
  const char *cap;
  char why[200];

  refresh_budget(c);
  cap = pc_budget_exhausted(c->budget, now_ns(), strict);
  if (!cap)
    return PC_OK;
  pc_budget_describe(c->budget, cap, now_ns(), why, sizeof(why));
  c->res->stopped_by = cap;
  snprintf(c->res->stop_message, sizeof(c->res->stop_message), "%s", why);
  return pc_error_set(err, PC_E_BUDGET, "budget: %s", why);
}

static int cancelled(void)
{
  const pc_host_api *h = pc_host_api_get();

  return h->is_cancelled(h->ctx, NULL) != 0;
}

/* Start one more example? Not once the user cancelled or a cap is
 * reached. */
static int admit(void *ctx)
{
  struct cc *c = ctx;

  if (cancelled())
    return 0;
  refresh_budget(c);
  return pc_budget_exhausted(c->budget, now_ns(), 0) == NULL;
}

/* ---- the replay log ------------------------------------------------------ */

/* The request's digest: sha256 of its canonical JSON. */
static int request_sha(const struct json_object *req,
                       char sha[PC_SHA256_HEX_LEN + 1])
{
  pc_buf b;
  int rc;

  pc_buf_init(&b, 0);
  rc = pc_json_write(req, PC_JSON_TEXT_COMPACT | PC_JSON_TEXT_SORTED, &b);
  if (rc == PC_OK)
    pc_sha256_hex(b.data, b.len, sha);
  pc_buf_free(&b);
  return rc;
}

/* Account for what one request spent: the per-role usage delta, the
 * program runs and metric calls. */
static void account(struct cc *c, const pc_usage delta[PC_ROLE_COUNT],
                    uint64_t runs, uint64_t metric_calls)
{
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    pc_usage_add(is_task_role(r) ? &c->res->task : &c->res->proposal,
                 &delta[r]);
  c->res->program_runs += runs;
  c->res->metric_calls += metric_calls;
}

/*
 * While replaying, the answer to request `seq` from the log: *answer is
 * NULL when the log has none (then the compile goes on live). A logged
 * request that differs from this one means the inputs changed since the
 * first attempt: resuming would mix two compiles, so it is an error.
 */
static int replay(struct cc *c, const char *sha, struct json_object **answer,
                  pc_error *err)
{
  char *logged_sha = NULL, *text = NULL;
  size_t len = 0;
  struct json_object *rec = NULL, *v, *u;
  pc_usage delta[PC_ROLE_COUNT];
  pc_budget_spent spent = {0, 0, 0.0, 0};
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *answer = NULL;
  rc = pc_runstore_log_get(c->o->store, c->o->run_id, c->seq, &logged_sha,
                           &text, &len, err);
  if (rc || !text) {
    c->replaying = 0;
    goto out;
  }
  if (strcmp(logged_sha, sha)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run %s: cannot resume: "
                      "request %lld differs from the one logged (the "
                      "program, data, config, settings or seed changed)",
                      c->o->run_id, (long long)c->seq);
    goto out;
  }
  if (pc_json_parse(text, len, PC_JSON_PARSE_STRICT, &rec, &perr) ||
      !json_object_object_get_ex(rec, "answer", &v) ||
      !json_object_object_get_ex(rec, "usage", &u) ||
      !json_object_is_type(u, json_type_array) ||
      json_object_array_length(u) != PC_ROLE_COUNT) {
    rc = pc_error_set(err, PC_E_PARSE, "run %s: log entry %lld is damaged",
                      c->o->run_id, (long long)c->seq);
    goto out;
  }
  for (int r = 0; r < PC_ROLE_COUNT; r++) {
    pc_usage_from_json(json_object_array_get_idx(u, (size_t)r), &delta[r]);
    spent.calls += (int64_t)delta[r].calls;
    spent.tokens += delta[r].prompt_tokens + delta[r].completion_tokens;
  }
  spent.cost = usage_cost(c, delta);
  pc_budget_add_base(c->budget, &spent);
  account(c, delta,
          json_object_object_get_ex(rec, "runs", &v)
            ? (uint64_t)json_object_get_int64(v) : 0,
          json_object_object_get_ex(rec, "metric_calls", &v)
            ? (uint64_t)json_object_get_int64(v) : 0);
  json_object_object_get_ex(rec, "answer", &v);
  if (!(*answer = copy_of(v)) && v)
    rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
  c->res->replayed++;
out:
  json_object_put(rec);
  pc_free(logged_sha);
  pc_free(text);
  return rc;
}

/* Log a live answer with what it spent. */
static int log_answer(struct cc *c, const char *sha,
                      const struct json_object *answer,
                      const pc_usage delta[PC_ROLE_COUNT], uint64_t runs,
                      uint64_t metric_calls, pc_error *err)
{
  struct json_object *rec = json_object_new_object(), *u;
  pc_buf b;
  int rc = PC_E_NOMEM;

  pc_buf_init(&b, 0);
  if (!c->o->store) {
    json_object_put(rec);
    return PC_OK;
  }
  if (!rec || put(rec, "answer", copy_of(answer)) ||
      put(rec, "usage", u = json_object_new_array()) ||
      put(rec, "runs", json_object_new_int64((int64_t)runs)) ||
      put(rec, "metric_calls", json_object_new_int64((int64_t)metric_calls)))
    goto out;
  for (int r = 0; r < PC_ROLE_COUNT; r++) {
    struct json_object *one = pc_usage_to_json(&delta[r]);

    if (!one || json_object_array_add(u, one) != 0) {
      json_object_put(one);
      goto out;
    }
  }
  if (pc_json_write(rec, PC_JSON_TEXT_COMPACT, &b))
    goto out;
  rc = pc_runstore_log_put(c->o->store, c->o->run_id, c->seq, sha, b.data,
                           b.len, err);
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "compile: out of memory");
  json_object_put(rec);
  pc_buf_free(&b);
  return rc;
}

/* ---- state ------------------------------------------------------------- */

/* Merge `state` into the "state" member of program JSON `root`. */
static int merge_state(struct json_object *root,
                       const struct json_object *state, pc_error *err)
{
  struct json_object *into;

  if (!json_object_is_type(state, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "state: expected an object "
                        "of predictor path -> {\"instructions\", \"demos\"}");
  if (!json_object_object_get_ex(root, "state", &into)) {
    if (put(root, "state", into = json_object_new_object()))
      return pc_error_set(err, PC_E_NOMEM, "out of memory");
  }
  json_object_object_foreach((struct json_object *)state, path, entry) {
    struct json_object *dst;

    if (!json_object_is_type(entry, json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG, "state.%s: expected an "
                          "object", path);
    if (!json_object_object_get_ex(into, path, &dst)) {
      if (put(into, path, dst = json_object_new_object()))
        return pc_error_set(err, PC_E_NOMEM, "out of memory");
    }
    json_object_object_foreach(entry, key, val) {
      if (val ? put(dst, key, copy_of(val)) : put_null(dst, key))
        return pc_error_set(err, PC_E_NOMEM, "out of memory");
    }
  }
  return PC_OK;
}

static int apply_state_json(const struct json_object *start_json,
                            const struct json_object *state,
                            pc_program **out, pc_error *err)
{
  struct json_object *root = copy_of(start_json);
  pc_error e = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  if (!root)
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  rc = state ? merge_state(root, state, &e) : PC_OK;
  if (rc == PC_OK)
    rc = pc_program_from_json("candidate", root, out, &e);
  if (rc)
    pc_error_set(err, rc, "%s", e.message);
  json_object_put(root);
  return rc;
}

int pc_compile_apply_state(const pc_program *prog,
                           const struct json_object *state,
                           pc_program **out, pc_error *err)
{
  struct json_object *root = pc_program_to_json(prog);
  int rc;

  *out = NULL;
  if (!root)
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  rc = apply_state_json(root, state, out, err);
  json_object_put(root);
  return rc;
}

struct json_object *pc_compile_program_json(const pc_program *prog)
{
  struct json_object *o = json_object_new_object(), *preds, *ins;
  const char *name = pc_program_name(prog);

  if (!o || put(o, "name", json_object_new_string(name ? name : "")) ||
      put(o, "inputs", ins = json_object_new_array()) ||
      put(o, "calls_per_run",
          json_object_new_int64((int64_t)pc_program_n_steps(prog))) ||
      put(o, "predictors", preds = json_object_new_array()))
    goto fail;
  for (size_t i = 0; i < pc_program_n_inputs(prog); i++)
    if (json_object_array_add(ins, json_object_new_string(
                                pc_program_input(prog, i))) != 0)
      goto fail;
  for (size_t i = 0; i < pc_program_n_predictors(prog); i++) {
    const pc_predictor *p = pc_program_predictor_at(prog, i);
    struct json_object *e = json_object_new_object(), *sig = NULL;
    pc_error perr = PC_ERROR_INIT;

    if (!e || json_object_array_add(preds, e) != 0) {
      json_object_put(e);
      goto fail;
    }
    if (pc_json_parse(p->signature_plugin_json, p->signature_plugin_len,
                      PC_JSON_PARSE_STRICT, &sig, &perr) ||
        put(e, "path", json_object_new_string(p->path)) ||
        put(e, "module", json_object_new_string(p->module->name)) ||
        put(e, "signature", sig) ||
        put(e, "instructions",
            json_object_new_string(p->signature->instructions)) ||
        put(e, "demos", copy_of(p->demos)))
      goto fail;
  }
  return o;
fail:
  json_object_put(o);
  return NULL;
}

/* ---- the API callbacks ------------------------------------------------- */

static int c_program(void *ctx, pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *o = pc_compile_program_json(c->o->program);

  *out = NULL;
  if (!o)
    return pc_error_set(err, PC_E_NOMEM, "program: out of memory");
  *out = pc_host_json_wrap(o);
  return PC_OK;
}

static const pc_dataset *split_of(struct cc *c, const char *split)
{
  if (split && !strcmp(split, PC_SPLIT_TRAIN))
    return c->o->train;
  if (split && !strcmp(split, PC_SPLIT_VAL))
    return c->o->val;
  return NULL;
}

static int c_dataset(void *ctx, const char *split, pc_json **out,
                     pc_error *err)
{
  struct cc *c = ctx;
  const pc_dataset *ds = split_of(c, split);
  struct json_object *o, *keys, *exs;

  *out = NULL;
  if (!ds)
    return pc_error_set(err, PC_E_INVALID_ARG, "dataset: unknown split "
                        "\"%s\" (known: train, val)", split ? split : "");
  o = json_object_new_object();
  if (!o || put(o, "name", json_object_new_string(split)) ||
      put(o, "input_keys", keys = json_object_new_array()) ||
      put(o, "examples", exs = json_object_new_array()))
    goto fail;
  for (size_t i = 0; i < ds->n_input_keys; i++)
    if (json_object_array_add(keys,
                              json_object_new_string(ds->input_keys[i])))
      goto fail;
  for (size_t i = 0; i < ds->n_rows; i++) {
    const pc_example *ex = &ds->rows[i];
    struct json_object *e = json_object_new_object();

    if (!e || json_object_array_add(exs, e) != 0) {
      json_object_put(e);
      goto fail;
    }
    if (put(e, "id", json_object_new_string(ex->id)) ||
        (ex->slice ? put(e, "slice", json_object_new_string(ex->slice))
                   : put_null(e, "slice")) ||
        put(e, "fields", copy_of(ex->fields)))
      goto fail;
  }
  *out = pc_host_json_wrap(o);
  return PC_OK;
fail:
  json_object_put(o);
  return pc_error_set(err, PC_E_NOMEM, "dataset: out of memory");
}

/* Parse an optional JSON text argument of a request. */
static int parse_arg(const char *text, uint64_t len, const char *what,
                     json_type want, struct json_object **out, pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;

  *out = NULL;
  if (!text)
    return PC_OK;
  if (pc_json_parse(text, (size_t)len, PC_JSON_PARSE_STRICT, out, &perr) ||
      !json_object_is_type(*out, want)) {
    json_object_put(*out);
    *out = NULL;
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected a JSON %s%s%s",
                        what, want == json_type_object ? "object" : "array",
                        perr.message[0] ? ": " : "", perr.message);
  }
  return PC_OK;
}

/* One evaluation row as the API returns it. */
static struct json_object *row_json(const pc_dataset *ds,
                                    const pc_eval_row *row, int traces)
{
  struct json_object *o = json_object_new_object();
  int ok = row->status == PC_ROW_OK;

  if (!o || put(o, "index", json_object_new_int64((int64_t)row->index)) ||
      put(o, "id", json_object_new_string(ds->rows[row->index].id)) ||
      (row->outputs ? put(o, "outputs", copy_of(row->outputs))
                    : put_null(o, "outputs")) ||
      put(o, "score", json_object_new_double(row->score)) ||
      (row->feedback ? put(o, "feedback",
                           json_object_new_string(row->feedback))
                     : put_null(o, "feedback")) ||
      put_null(o, "subscores") ||
      (!ok && row->error ? put(o, "error", json_object_new_string(row->error))
                         : put_null(o, "error")) ||
      (!ok ? put(o, "error_kind", json_object_new_string(
                   pc_eval_error_kind_name(row->error_kind)))
           : put_null(o, "error_kind")))
    goto fail;
  if (traces && (row->trace ? put(o, "trace", copy_of(row->trace))
                            : put(o, "trace", json_object_new_array())))
    goto fail;
  return o;
fail:
  json_object_put(o);
  return NULL;
}

static struct json_object *eval_answer(const pc_dataset *ds,
                                       const pc_eval_result *r, int traces)
{
  struct json_object *o = json_object_new_object(), *rows;

  if (!o || put(o, "results", rows = json_object_new_array()))
    goto fail;
  for (size_t k = 0; k < r->n_done; k++) {
    struct json_object *row = row_json(ds, &r->rows[k], traces);

    if (!row || json_object_array_add(rows, row) != 0) {
      json_object_put(row);
      goto fail;
    }
  }
  if (put(o, "n", json_object_new_int64((int64_t)r->n_done)) ||
      put(o, "n_errors", json_object_new_int64((int64_t)r->n_errors)) ||
      put(o, "sum", json_object_new_double(r->sum)) ||
      put(o, "mean", json_object_new_double(r->n_done ? r->mean : 0.0)) ||
      put(o, "percent", json_object_new_double(pc_eval_percent(r))) ||
      put(o, "stopped", json_object_new_boolean(r->stopped)))
    goto fail;
  return o;
fail:
  json_object_put(o);
  return NULL;
}

/* The request as canonical JSON, for its digest. */
static struct json_object *eval_request_json(const pc_eval_request *req,
                                             const struct json_object *state,
                                             const struct json_object *cfg)
{
  struct json_object *o = json_object_new_object(), *idx = NULL;

  if (!o)
    return NULL;
  if (req->indices) {
    if (!(idx = json_object_new_array()))
      goto fail;
    for (uint64_t i = 0; i < req->n_indices; i++)
      if (json_object_array_add(idx, json_object_new_int64(req->indices[i])))
        goto fail;
  }
  if (put(o, "kind", json_object_new_string("evaluate")) ||
      (state ? put(o, "state", copy_of(state)) : put_null(o, "state")) ||
      put(o, "split", json_object_new_string(req->split)) ||
      (idx ? put(o, "indices", idx) : put_null(o, "indices")) ||
      put(o, "flags", json_object_new_int64(req->flags)) ||
      put(o, "stop_after_successes",
          json_object_new_int64(req->stop_after_successes)) ||
      put(o, "success_threshold",
          json_object_new_double(req->success_threshold)) ||
      (cfg ? put(o, "config", copy_of(cfg)) : put_null(o, "config"))) {
    idx = NULL;
    goto fail;
  }
  return o;
fail:
  json_object_put(idx);
  json_object_put(o);
  return NULL;
}

static int c_evaluate(void *ctx, const pc_eval_request *req, pc_json **out,
                      pc_error *err)
{
  struct cc *c = ctx;
  const pc_dataset *ds;
  struct json_object *state = NULL, *cfg = NULL, *reqj = NULL;
  struct json_object *answer = NULL;
  pc_program *cand = NULL;
  pc_eval_result *r = NULL;
  pc_eval_opts eo;
  pc_usage before[PC_ROLE_COUNT], after[PC_ROLE_COUNT];
  size_t *indices = NULL;
  char sha[PC_SHA256_HEX_LEN + 1];
  int rc;

  *out = NULL;
  if (!req || !PC_HAS_FIELD(req, pc_eval_request, config_len))
    return pc_error_set(err, PC_E_INVALID_ARG, "evaluate: request too "
                        "small for ABI 1.0");
  if (!(ds = split_of(c, req->split)))
    return pc_error_set(err, PC_E_INVALID_ARG, "evaluate: unknown split "
                        "\"%s\" (known: train, val)",
                        req->split ? req->split : "");
  if ((req->flags & PC_EVAL_NO_METRIC) == 0 && !c->o->metric)
    return pc_error_set(err, PC_E_INVALID_ARG, "evaluate: no metric is "
                        "configured (config \"metric\" or --metric)");
  rc = parse_arg(req->state_json, req->state_len, "evaluate: state",
                 json_type_object, &state, err);
  if (!rc)
    rc = parse_arg(req->config_json, req->config_len, "evaluate: config",
                   json_type_object, &cfg, err);
  if (rc)
    goto out;
  if (req->indices) {
    indices = pc_calloc(req->n_indices ? req->n_indices : 1,
                        sizeof(*indices));
    if (!indices) {
      rc = pc_error_set(err, PC_E_NOMEM, "evaluate: out of memory");
      goto out;
    }
    for (uint64_t i = 0; i < req->n_indices; i++) {
      if (req->indices[i] < 0 || (uint64_t)req->indices[i] >= ds->n_rows) {
        rc = pc_error_set(err, PC_E_INVALID_ARG, "evaluate: index %lld out "
                          "of range (split %s has %zu examples)",
                          (long long)req->indices[i], req->split,
                          ds->n_rows);
        goto out;
      }
      indices[i] = (size_t)req->indices[i];
    }
  }
  if (!(reqj = eval_request_json(req, state, cfg)) || request_sha(reqj, sha)) {
    rc = pc_error_set(err, PC_E_NOMEM, "evaluate: out of memory");
    goto out;
  }
  c->seq++;
  c->res->requests++;
  if (c->replaying) {
    rc = replay(c, sha, &answer, err);
    if (rc || answer)
      goto out;
  }
  if ((rc = check_budget(c, 0, err)))
    goto out;
  /* The candidate is built only for a live run: a replayed answer needs
   * none. */
  if ((rc = apply_state_json(c->start_json, state, &cand, err)))
    goto out;

  memset(&eo, 0, sizeof(eo));
  eo.max_errors = -1;
  eo.failure_score = c->o->cfg ? c->o->cfg->failure_score : 0.0;
  eo.role = (req->flags & PC_EVAL_TEACHER) ? PC_ROLE_TEACHER_LM : PC_ROLE_LM;
  eo.overrides = cfg;
  eo.keep_traces = (req->flags & PC_EVAL_TRACES) != 0;
  eo.metric_trace = eo.keep_traces;
  eo.feedback = (req->flags & PC_EVAL_FEEDBACK) != 0;
  eo.exclude_self = (req->flags & PC_EVAL_EXCLUDE_SELF) != 0;
  eo.indices = indices;
  eo.n_indices = indices ? (size_t)req->n_indices : 0;
  eo.stop_after_successes = req->stop_after_successes;
  eo.success_threshold = req->success_threshold;
  eo.admit = admit;
  eo.admit_ctx = c;
  live_usage(c, before);
  rc = pc_eval_run(c->o->rt, cand, ds,
                   (req->flags & PC_EVAL_NO_METRIC) ? NULL : c->o->metric,
                   &eo, &r, err);
  live_usage(c, after);
  for (int k = 0; k < PC_ROLE_COUNT; k++)
    pc_usage_sub(&after[k], &before[k]);
  if (rc)
    goto out;
  account(c, after, r->n_runs, r->n_metric_calls);
  if (cancelled()) {
    c->res->stopped_by = "cancelled";
    rc = pc_error_set(err, PC_E_CANCELLED, "compile cancelled");
    goto out;
  }
  /* A batch cut short by admit() stops the search; a whole one stops it
   * only if it went past a cap. */
  if ((rc = check_budget(c, !r->refused, err)))
    goto out;
  if (!(answer = eval_answer(ds, r, eo.keep_traces))) {
    rc = pc_error_set(err, PC_E_NOMEM, "evaluate: out of memory");
    goto out;
  }
  rc = log_answer(c, sha, answer, after, r->n_runs, r->n_metric_calls, err);
out:
  if (rc == PC_OK)
    *out = pc_host_json_wrap(answer);
  else
    json_object_put(answer);
  pc_eval_result_free(r);
  pc_program_free(cand);
  json_object_put(reqj);
  json_object_put(state);
  json_object_put(cfg);
  pc_free(indices);
  return rc;
}

static int role_of(const char *name)
{
  if (!name)
    return -1;
  if (!strcmp(name, "lm"))
    return PC_ROLE_LM;
  if (!strcmp(name, "prompt_lm"))
    return PC_ROLE_PROMPT_LM;
  if (!strcmp(name, "teacher_lm"))
    return PC_ROLE_TEACHER_LM;
  if (!strcmp(name, "reflection_lm"))
    return PC_ROLE_REFLECTION_LM;
  return -1;
}

/* A predictor for one proposal call: the signature given as its string
 * form or as a JSON object. */
static int proposal_predictor(const char *text, const struct json_object *demos,
                              pc_predictor *p, pc_error *err)
{
  pc_buf b;
  int rc;

  memset(p, 0, sizeof(*p));
  while (*text == ' ' || *text == '\n' || *text == '\t')
    text++;
  if (*text == '{') {
    struct json_object *sig = NULL;
    pc_error perr = PC_ERROR_INIT;

    rc = pc_json_parse(text, strlen(text), PC_JSON_PARSE_STRICT, &sig,
                       &perr);
    if (rc)
      return pc_error_set(err, PC_E_INVALID_ARG, "propose: signature: %s",
                          perr.message);
    rc = pc_signature_from_json(sig, &p->signature, err);
    json_object_put(sig);
  } else {
    rc = pc_signature_parse(text, &p->signature, err);
  }
  if (rc)
    return rc;
  pc_buf_init(&b, 0);
  if (pc_signature_to_plugin_json(p->signature, &b) ||
      !(p->signature_plugin_json = pc_buf_take(&b, &p->signature_plugin_len))
      || !(p->demos = demos ? copy_of(demos) : json_object_new_array()) ||
      !(p->path = pc_strdup("propose"))) {
    pc_buf_free(&b);
    return pc_error_set(err, PC_E_NOMEM, "propose: out of memory");
  }
  return PC_OK;
}

static void predictor_clear(pc_predictor *p)
{
  pc_signature_free(p->signature);
  pc_free(p->signature_plugin_json);
  json_object_put(p->demos);
  pc_free(p->path);
  memset(p, 0, sizeof(*p));
}

/* DSPy's Predict: several completions at a temperature unset or at most
 * 0.15 run at 0.7. */
static int proposal_config(struct json_object *cfg)
{
  struct json_object *n, *t;

  if (!json_object_object_get_ex(cfg, "n", &n) ||
      json_object_get_int64(n) <= 1)
    return PC_OK;
  if (!json_object_object_get_ex(cfg, "temperature", &t) ||
      json_object_get_double(t) <= 0.15)
    return put(cfg, "temperature", json_object_new_double(0.7));
  return PC_OK;
}

static int c_propose(void *ctx, const pc_propose_request *req, pc_json **out,
                     pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *inputs = NULL, *demos = NULL, *cfg = NULL;
  struct json_object *reqj = NULL, *answer = NULL;
  pc_predictor pred;
  pc_run_ctx run;
  pc_usage before[PC_ROLE_COUNT], after[PC_ROLE_COUNT];
  char sha[PC_SHA256_HEX_LEN + 1];
  int role, rc;

  *out = NULL;
  memset(&pred, 0, sizeof(pred));
  pc_run_ctx_init(&run, c->o->rt);
  if (!req || !PC_HAS_FIELD(req, pc_propose_request, config_len))
    return pc_error_set(err, PC_E_INVALID_ARG, "propose: request too small "
                        "for ABI 1.0");
  if ((role = role_of(req->role)) < 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "propose: unknown role "
                        "\"%s\" (known: prompt_lm, teacher_lm, "
                        "reflection_lm, lm)", req->role ? req->role : "");
  if (!req->signature)
    return pc_error_set(err, PC_E_INVALID_ARG, "propose: no signature");
  rc = parse_arg(req->inputs_json, req->inputs_len, "propose: inputs",
                 json_type_object, &inputs, err);
  if (!rc)
    rc = parse_arg(req->demos_json, req->demos_len, "propose: demos",
                   json_type_array, &demos, err);
  if (!rc)
    rc = parse_arg(req->config_json, req->config_len, "propose: config",
                   json_type_object, &cfg, err);
  if (!rc && !inputs && !(inputs = json_object_new_object()))
    rc = pc_error_set(err, PC_E_NOMEM, "propose: out of memory");
  if (!rc && !cfg && !(cfg = json_object_new_object()))
    rc = pc_error_set(err, PC_E_NOMEM, "propose: out of memory");
  if (!rc && proposal_config(cfg))
    rc = pc_error_set(err, PC_E_NOMEM, "propose: out of memory");
  if (!rc)
    rc = proposal_predictor(req->signature, demos, &pred, err);
  if (rc)
    goto out;
  reqj = json_object_new_object();
  if (!reqj || put(reqj, "kind", json_object_new_string("propose")) ||
      put(reqj, "role", json_object_new_string(req->role)) ||
      put(reqj, "signature",
          json_object_new_string_len(pred.signature_plugin_json,
                                     (int)pred.signature_plugin_len)) ||
      put(reqj, "inputs", copy_of(inputs)) ||
      put(reqj, "demos", copy_of(pred.demos)) ||
      put(reqj, "config", copy_of(cfg)) || request_sha(reqj, sha)) {
    rc = pc_error_set(err, PC_E_NOMEM, "propose: out of memory");
    goto out;
  }
  c->seq++;
  c->res->requests++;
  if (c->replaying) {
    rc = replay(c, sha, &answer, err);
    if (rc || answer)
      goto out;
  }
  if ((rc = check_budget(c, 0, err)))
    goto out;
  run.role = role;
  run.overrides = cfg;
  live_usage(c, before);
  rc = pc_predict_choices(&run, &pred, inputs, &answer, err);
  live_usage(c, after);
  for (int k = 0; k < PC_ROLE_COUNT; k++)
    pc_usage_sub(&after[k], &before[k]);
  account(c, after, 0, 0);
  if (rc)
    goto out;
  if ((rc = check_budget(c, 1, err)))
    goto out;
  rc = log_answer(c, sha, answer, after, 0, 0, err);
out:
  if (rc == PC_OK)
    *out = pc_host_json_wrap(answer);
  else
    json_object_put(answer);
  pc_run_ctx_clear(&run);
  predictor_clear(&pred);
  json_object_put(reqj);
  json_object_put(inputs);
  json_object_put(demos);
  json_object_put(cfg);
  return rc;
}

static uint64_t c_seed(void *ctx)
{
  return ((struct cc *)ctx)->o->seed;
}

static int c_budget(void *ctx, pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *o;

  refresh_budget(c);
  o = pc_budget_to_json(c->budget, now_ns());
  *out = NULL;
  if (!o)
    return pc_error_set(err, PC_E_NOMEM, "budget: out of memory");
  *out = pc_host_json_wrap(o);
  return PC_OK;
}

/* Keep a copy of trial `t` in the result, with what had been spent when
 * it was recorded under "at" (time, calls and cost differ from run to
 * run, so the run store's copy goes without it). */
static int keep_trial(struct cc *c, const struct json_object *t,
                      pc_error *err)
{
  struct json_object *copy = copy_of(t), *at = json_object_new_object();
  pc_budget_spent s;
  int rc = PC_E_NOMEM;

  refresh_budget(c);
  pc_budget_total(c->budget, now_ns(), &s);
  if (!c->res->trial_log && !(c->res->trial_log = json_object_new_array()))
    goto out;
  if (!copy || !at ||
      put(at, "elapsed_ms", json_object_new_int64(s.elapsed_ms)) ||
      put(at, "calls", json_object_new_int64(s.calls)) ||
      put(at, "tokens", json_object_new_int64(s.tokens)) ||
      (isnan(s.cost) ? put_null(at, "cost")
                     : put(at, "cost", json_object_new_double(s.cost))) ||
      put(at, "metric_calls",
          json_object_new_int64((int64_t)c->res->metric_calls)))
    goto out;
  rc = put(copy, "at", at);
  at = NULL;
  if (rc == PC_OK && json_object_array_add(c->res->trial_log, copy) == 0) {
    copy = NULL;
    rc = PC_OK;
  } else {
    rc = PC_E_NOMEM;
  }
out:
  json_object_put(at);
  json_object_put(copy);
  if (rc)
    pc_error_set(err, rc, "record_trial: out of memory");
  return rc;
}

static int c_record_trial(void *ctx, const char *json, size_t len,
                          pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *t = NULL;
  int rc = parse_arg(json, len, "record_trial", json_type_object, &t, err);

  if (rc)
    return rc;
  c->trials++;
  c->res->trials = c->trials;
  if (c->step && !json_object_object_get_ex(t, "step", NULL) &&
      put(t, "step", json_object_new_string(c->step)))
    rc = pc_error_set(err, PC_E_NOMEM, "record_trial: out of memory");
  else if (put(t, "trial", json_object_new_int64(c->trials)))
    rc = pc_error_set(err, PC_E_NOMEM, "record_trial: out of memory");
  else if ((rc = keep_trial(c, t, err)) == PC_OK && c->o->store)
    rc = pc_runstore_put_trial(c->o->store, c->o->run_id, c->trials, t, err);
  json_object_put(t);
  return rc;
}

static int c_checkpoint_save(void *ctx, const char *json, size_t len,
                             pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *t = NULL;
  int rc = parse_arg(json, len, "checkpoint", json_type_object, &t, err);

  json_object_put(t);
  /* A step's optimizer (run_optimizer) keeps no checkpoint of its own:
   * the replay log already resumes it, and the slot is the compile's. */
  if (rc || !c->o->store || c->depth > 0)
    return rc;
  return pc_runstore_checkpoint_put(c->o->store, c->o->run_id, json, len,
                                    err);
}

static int c_checkpoint_load(void *ctx, pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  char *text = NULL;
  size_t len = 0;
  struct json_object *o = NULL;
  int rc;

  *out = NULL;
  if (!c->o->store || !c->o->resume || c->depth > 0)
    return PC_OK;
  rc = pc_runstore_checkpoint_get(c->o->store, c->o->run_id, &text, &len,
                                  err);
  if (rc == PC_OK && text)
    rc = parse_arg(text, len, "checkpoint", json_type_object, &o, err);
  pc_free(text);
  if (rc == PC_OK && o)
    *out = pc_host_json_wrap(o);
  return rc;
}

static void c_progress(void *ctx, const char *json, size_t len)
{
  struct cc *c = ctx;
  struct json_object *p = NULL, *v;
  pc_error e = PC_ERROR_INIT;
  pc_compile_progress pr;

  if (parse_arg(json, len, "progress", json_type_object, &p, &e))
    return;
  if (json_object_object_get_ex(p, "trial", &v))
    c->trial_shown = json_object_get_int64(v);
  if (json_object_object_get_ex(p, "of", &v))
    c->trial_of = json_object_get_int64(v);
  if (json_object_object_get_ex(p, "best", &v) && v)
    c->best = json_object_get_double(v);
  json_object_put(p);
  if (!c->o->progress)
    return;
  memset(&pr, 0, sizeof(pr));
  pr.trial = c->trial_shown;
  pr.of = c->trial_of;
  pr.best = c->best;
  pr.requests = c->seq;
  refresh_budget(c);
  pc_budget_total(c->budget, now_ns(), &pr.spent);
  c->o->progress(c->o->progress_ctx, &pr);
}

static int c_set_result(void *ctx, const char *state_json, size_t state_len,
                        const char *report_json, size_t report_len,
                        pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *state = NULL, *report = NULL;
  pc_program *check = NULL;
  int rc;

  if (!state_json)
    return pc_error_set(err, PC_E_INVALID_ARG, "set_result: no state");
  rc = parse_arg(state_json, state_len, "set_result: state",
                 json_type_object, &state, err);
  if (!rc && report_json)
    rc = parse_arg(report_json, report_len, "set_result: report",
                   json_type_object, &report, err);
  /* A state the program cannot take is refused now, not at the end. */
  if (!rc)
    rc = apply_state_json(c->start_json, state, &check, err);
  pc_program_free(check);
  if (rc) {
    json_object_put(state);
    json_object_put(report);
    return rc;
  }
  json_object_put(c->res->state);
  json_object_put(c->res->report);
  c->res->state = state;
  c->res->report = report;
  return PC_OK;
}

/* ---- ABI 1.1: info, finetune_record, write_file, run_optimizer -------- */

static int split_info(const pc_dataset *ds, struct json_object *into,
                      const char *name)
{
  struct json_object *o = json_object_new_object();
  char hex[PC_SHA256_HEX_LEN + 1];

  if (!o || pc_dataset_hash(ds, hex) ||
      put(o, "n", json_object_new_int64((int64_t)ds->n_rows)) ||
      put(o, "sha256", json_object_new_string(hex))) {
    json_object_put(o);
    return PC_E_NOMEM;
  }
  return put(into, name, o);
}

static int c_info(void *ctx, pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *o = json_object_new_object(), *splits = NULL;
  const char *name = pc_program_name(c->o->program);
  const char *dir = c->o->export_dir;

  *out = NULL;
  if (!o ||
      (name ? put(o, "program", json_object_new_string(name))
            : put_null(o, "program")) ||
      put(o, "adapter", json_object_new_string(
            pc_runtime_adapter_name(c->o->rt, NULL))) ||
      put(o, "roles", pc_runtime_models(c->o->rt)) ||
      put(o, "splits", splits = json_object_new_object()) ||
      split_info(c->o->train, splits, "train") ||
      split_info(c->o->val, splits, "val") ||
      (dir ? put(o, "export_dir", json_object_new_string(dir))
           : put_null(o, "export_dir"))) {
    json_object_put(o);
    return pc_error_set(err, PC_E_NOMEM, "info: out of memory");
  }
  *out = pc_host_json_wrap(o);
  return PC_OK;
}

/* The demos for a fine-tuning record: the predictor's (or none), then one
 * complete demo of `inputs` and `outputs`, whose assistant turn is the
 * reply as the adapter formats it. New array, NULL on OOM. */
static struct json_object *record_demos(const pc_predictor *p, int no_demos,
                                        struct json_object *inputs,
                                        struct json_object *outputs)
{
  struct json_object *demos = no_demos ? json_object_new_array()
                                       : copy_of(p->demos);
  struct json_object *one = json_object_new_object();

  if (!demos || !one)
    goto fail;
  json_object_object_foreach(inputs, k, v)
    if (v ? put(one, k, copy_of(v)) : put_null(one, k))
      goto fail;
  json_object_object_foreach(outputs, k2, v2)
    if (v2 ? put(one, k2, copy_of(v2)) : put_null(one, k2))
      goto fail;
  if (json_object_array_add(demos, one) != 0)
    goto fail;
  return demos;
fail:
  json_object_put(one);
  json_object_put(demos);
  return NULL;
}

/* Every input and output field of p's signature is in `inputs` /
 * `outputs` and not null; PC_E_INVALID_ARG names the first that is not. */
static int record_complete(const pc_predictor *p, struct json_object *inputs,
                           struct json_object *outputs, pc_error *err)
{
  const pc_signature *sig = p->signature;
  struct json_object *v;

  for (size_t i = 0; i < sig->n_inputs; i++)
    if (!json_object_object_get_ex(inputs, sig->inputs[i].name, &v) || !v)
      return pc_error_set(err, PC_E_INVALID_ARG, "finetune_record: %s: "
                          "input \"%s\" is missing or null", p->path,
                          sig->inputs[i].name);
  for (size_t i = 0; i < sig->n_outputs; i++)
    if (!json_object_object_get_ex(outputs, sig->outputs[i].name, &v) || !v)
      return pc_error_set(err, PC_E_INVALID_ARG, "finetune_record: %s: "
                          "output \"%s\" is missing or null", p->path,
                          sig->outputs[i].name);
  return PC_OK;
}

static int push_message(struct json_object *arr, const char *role,
                        const char *content, size_t len)
{
  struct json_object *m = json_object_new_object();

  if (!m || json_object_array_add(arr, m) != 0) {
    json_object_put(m);
    return PC_E_NOMEM;
  }
  if (put(m, "role", json_object_new_string(role)) ||
      put(m, "content", json_object_new_string_len(content, (int)len)))
    return PC_E_NOMEM;
  return PC_OK;
}

static int c_finetune_record(void *ctx, const char *path,
                             const char *state_json, uint64_t state_len,
                             const char *inputs_json, uint64_t inputs_len,
                             const char *outputs_json, uint64_t outputs_len,
                             uint32_t flags, pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *state = NULL, *inputs = NULL, *outputs = NULL;
  struct json_object *demos = NULL, *rec = NULL, *msgs;
  struct json_object *cfg_adapter = NULL;
  pc_program *owned = NULL;
  const pc_program *prog = c->o->program;
  const pc_predictor *p;
  pc_rt_adapter *ad;
  pc_messages m;
  const char *choice = NULL;
  int rc;

  *out = NULL;
  memset(&m, 0, sizeof(m));
  if (!inputs_json || !outputs_json)
    return pc_error_set(err, PC_E_INVALID_ARG, "finetune_record: inputs "
                        "and outputs are required");
  rc = parse_arg(state_json, state_len, "finetune_record: state",
                 json_type_object, &state, err);
  if (!rc)
    rc = parse_arg(inputs_json, inputs_len, "finetune_record: inputs",
                   json_type_object, &inputs, err);
  if (!rc)
    rc = parse_arg(outputs_json, outputs_len, "finetune_record: outputs",
                   json_type_object, &outputs, err);
  /* Without a state the record is of the program the compile (or the
   * run_optimizer step) started from: c->o->program, whose JSON is
   * c->start_json. Only a state needs a program of its own. */
  if (!rc && state) {
    rc = apply_state_json(c->start_json, state, &owned, err);
    prog = owned;
  }
  if (rc)
    goto out;
  if (!path || !(p = pc_program_predictor(prog, path))) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "finetune_record: no "
                      "predictor \"%s\" in the program", path ? path : "");
    goto out;
  }
  /* The adapter puts incomplete demos first: the record's demo must be
   * complete to be the last pair. */
  if ((rc = record_complete(p, inputs, outputs, err)))
    goto out;
  if (p->config &&
      json_object_object_get_ex(p->config, "adapter", &cfg_adapter))
    choice = json_object_get_string(cfg_adapter);
  if ((rc = pc_runtime_adapter(c->o->rt,
                               pc_runtime_adapter_name(c->o->rt, choice),
                               &ad, err)))
    goto out;
  if (!(demos = record_demos(p, (flags & PC_FINETUNE_NO_DEMOS) != 0, inputs,
                             outputs))) {
    rc = pc_error_set(err, PC_E_NOMEM, "finetune_record: out of memory");
    goto out;
  }
  if ((rc = pc_rt_adapter_format(ad, p->signature_plugin_json,
                                 p->signature_plugin_len, demos, inputs, &m,
                                 err)))
    goto out;
  /* [system, demo pairs..., user (the record's demo), assistant (its
   * reply), user (the request)]: keep all but the record's demo pair and
   * end with its reply. */
  if (m.n < 4 || strcmp(m.items[m.n - 3].role, "user") ||
      strcmp(m.items[m.n - 2].role, "assistant") ||
      strcmp(m.items[m.n - 1].role, "user")) {
    rc = pc_error_set(err, PC_E_INTERNAL, "finetune_record: adapter \"%s\" "
                      "did not render the demo as a user/assistant pair",
                      pc_rt_adapter_name(ad));
    goto out;
  }
  rc = PC_E_NOMEM;
  if (!(rec = json_object_new_object()) ||
      put(rec, "messages", msgs = json_object_new_array()))
    goto out;
  for (size_t i = 0; i + 3 < m.n; i++)
    if (push_message(msgs, m.items[i].role, m.items[i].content,
                     m.items[i].len))
      goto out;
  if (push_message(msgs, "user", m.items[m.n - 1].content,
                   m.items[m.n - 1].len) ||
      push_message(msgs, "assistant", m.items[m.n - 2].content,
                   m.items[m.n - 2].len))
    goto out;
  rc = PC_OK;
out:
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "finetune_record: out of memory");
  if (rc == PC_OK)
    *out = pc_host_json_wrap(rec);
  else
    json_object_put(rec);
  pc_messages_clear(&m);
  json_object_put(demos);
  pc_program_free(owned);
  json_object_put(state);
  json_object_put(inputs);
  json_object_put(outputs);
  return rc;
}

/* A file name write_file accepts: [A-Za-z0-9._-]+, not starting with '.',
 * at most 200 bytes. */
static int export_name_ok(const char *name)
{
  size_t n = name ? strlen(name) : 0;

  if (n == 0 || n > 200 || name[0] == '.')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];

    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

static int c_write_file(void *ctx, const char *name, const char *data,
                        uint64_t len, pc_error *err)
{
  struct cc *c = ctx;
  const char *dir = c->o->export_dir;
  pc_buf path;
  int rc;

  if (!dir)
    return pc_error_set(err, PC_E_UNSUPPORTED, "write_file: this compile "
                        "has no export directory");
  if (!export_name_ok(name))
    return pc_error_set(err, PC_E_INVALID_ARG, "write_file: bad file name "
                        "\"%s\" (letters, digits, '.', '_', '-'; not "
                        "starting with '.')", name ? name : "");
  if (!data && len)
    return pc_error_set(err, PC_E_INVALID_ARG, "write_file: no data");
  if ((rc = pc_file_mkdirs(dir, 0755, err)))
    return rc;
  pc_buf_init(&path, 0);
  if (pc_buf_printf(&path, "%s/%s", dir, name))
    rc = pc_error_set(err, PC_E_NOMEM, "write_file: out of memory");
  else
    rc = pc_file_write_atomic(path.data, data ? data : "", (size_t)len,
                              err);
  pc_buf_free(&path);
  return rc;
}

/* Indices from a JSON array of integers (NULL or null: *out NULL). */
static int index_list(const struct json_object *arr, const char *what,
                      size_t **out, size_t *n, pc_error *err)
{
  size_t len;

  *out = NULL;
  *n = 0;
  if (!arr)
    return PC_OK;
  if (!json_object_is_type(arr, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: %s: "
                        "expected an array of indices", what);
  len = json_object_array_length(arr);
  if (!(*out = pc_calloc(len ? len : 1, sizeof(**out))))
    return pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
  for (size_t i = 0; i < len; i++) {
    struct json_object *v = json_object_array_get_idx(arr, i);

    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0) {
      pc_free(*out);
      *out = NULL;
      return pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: %s[%zu]: "
                          "expected an index >= 0", what, i);
    }
    (*out)[i] = (size_t)json_object_get_int64(v);
  }
  *n = len;
  return PC_OK;
}

/* Each index below `limit` and none twice (a split's ids are unique). */
static int check_indices(const size_t *idx, size_t n, size_t limit,
                         const char *what, pc_error *err)
{
  unsigned char *seen = pc_calloc(limit ? limit : 1, 1);
  int rc = PC_OK;

  if (!seen)
    return pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
  for (size_t i = 0; i < n && rc == PC_OK; i++) {
    if (idx[i] >= limit)
      rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: %s[%zu]: "
                        "index %zu out of range (%zu examples)", what, i,
                        idx[i], limit);
    else if (seen[idx[i]]++)
      rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: %s[%zu]: "
                        "index %zu given twice", what, i, idx[i]);
  }
  pc_free(seen);
  return rc;
}

/* The split of a step: `spec` (borrowed, may be NULL) picks examples of
 * `base`; *made owns a new dataset when it did (else NULL, *ds = base). */
static int step_split(const struct json_object *indices,
                      const pc_dataset *base, const char *what,
                      const pc_dataset **ds, pc_dataset **made,
                      pc_error *err)
{
  size_t *idx = NULL, n = 0;
  int rc;

  *ds = base;
  *made = NULL;
  if (!indices)
    return PC_OK;
  if ((rc = index_list(indices, what, &idx, &n, err)))
    return rc;
  if (n == 0)
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: %s: no "
                      "examples", what);
  else
    rc = check_indices(idx, n, base->n_rows, what, err);
  if (rc == PC_OK && (rc = pc_dataset_subset(base, idx, n, made, err)) ==
                     PC_OK)
    *ds = *made;
  pc_free(idx);
  return rc;
}

/* The step's state over this compile's start: `base` (may be NULL) with
 * `step` (may be NULL) merged in. New object, NULL on OOM. */
static struct json_object *combined_state(const struct json_object *base,
                                          const struct json_object *step,
                                          pc_error *err)
{
  struct json_object *root = json_object_new_object(), *st, *res;

  if (!root || put(root, "state", base ? copy_of(base)
                                       : json_object_new_object()))
    goto oom;
  if (step && merge_state(root, step, err)) {
    json_object_put(root);
    return NULL;
  }
  json_object_object_get_ex(root, "state", &st);
  res = json_object_get(st);
  json_object_put(root);
  return res;
oom:
  json_object_put(root);
  pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
  return NULL;
}

/* The answer of a finished step (rc: PC_OK, PC_E_BUDGET or
 * PC_E_CANCELLED): {"state" (the step's state `st` over the request's
 * `start`), "report", "trials", "stopped_by"} in *out (owned by the
 * caller). Returns PC_OK or an error (then *out is NULL). */
static int step_answer(const struct cc *c, int rc,
                       const struct json_object *start,
                       const struct json_object *st,
                       struct json_object *report, int64_t trials,
                       pc_json **out, pc_error *err)
{
  struct json_object *o, *merged = combined_state(start, st, err);
  const char *why = c->res->stopped_by;

  if (!why && rc)
    why = rc == PC_E_CANCELLED ? "cancelled" : "budget";
  if (!merged)
    return err->code ? err->code : PC_E_NOMEM;
  if (!(o = json_object_new_object())) {
    json_object_put(merged);
    return pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
  }
  if (put(o, "state", merged) ||
      (report ? put(o, "report", json_object_get(report))
              : put_null(o, "report")) ||
      put(o, "trials", json_object_new_int64(trials)) ||
      (rc ? put(o, "stopped_by", json_object_new_string(why))
          : put_null(o, "stopped_by"))) {
    json_object_put(o);
    return pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
  }
  *out = pc_host_json_wrap(o);
  return PC_OK;
}

static int c_run_optimizer(void *ctx, const char *json, uint64_t len,
                           pc_json **out, pc_error *err)
{
  struct cc *c = ctx;
  struct json_object *req = NULL, *v, *start = NULL, *settings = NULL;
  struct json_object *val = NULL, *res = NULL, *st = NULL;
  struct json_object *saved_start = c->start_json;
  struct json_object *saved_state = c->res->state;
  struct json_object *saved_report = c->res->report;
  const pc_compile_opts *saved_o = c->o;
  const char *saved_step = c->step, *name, *vsplit = PC_SPLIT_VAL;
  pc_compile_opts sub = *c->o;
  pc_dataset *train = NULL, *valds = NULL;
  const pc_dataset *base;
  pc_program *prog = NULL;
  pc_optimizer *opt = NULL;
  int64_t trials0 = c->trials;
  int rc;

  *out = NULL;
  if ((rc = parse_arg(json, len, "run_optimizer", json_type_object, &req,
                      err)))
    return rc;
  if (c->depth >= 4) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: steps nest "
                      "more than 4 deep");
    goto out;
  }
  if (!json_object_object_get_ex(req, "optimizer", &v) ||
      !json_object_is_type(v, json_type_string)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: \"optimizer\" "
                      "must name an optimizer");
    goto out;
  }
  name = json_object_get_string(v);
  if (json_object_object_get_ex(req, "settings", &settings) && settings &&
      !json_object_is_type(settings, json_type_object)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: \"settings\" "
                      "must be an object");
    goto out;
  }
  if (json_object_object_get_ex(req, "state", &start) && start &&
      !json_object_is_type(start, json_type_object)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: \"state\" "
                      "must be an object");
    goto out;
  }
  if (json_object_object_get_ex(req, "label", &v) &&
      json_object_is_type(v, json_type_string))
    c->step = json_object_get_string(v);
  json_object_object_get_ex(req, "val", &val);
  if (val) {
    if (!json_object_is_type(val, json_type_object)) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: \"val\" "
                        "must be an object {\"split\", \"indices\"}");
      goto out;
    }
    if (json_object_object_get_ex(val, "split", &v) && v)
      vsplit = json_object_get_string(v);
  }
  if (!(base = split_of(c, vsplit))) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "run_optimizer: val.split: "
                      "unknown split \"%s\"", vsplit);
    goto out;
  }
  json_object_object_get_ex(req, "train", &v);
  if ((rc = step_split(v, c->o->train, "train", &sub.train, &train, err)))
    goto out;
  v = NULL;
  if (val)
    json_object_object_get_ex(val, "indices", &v);
  if ((rc = step_split(v, base, "val.indices", &sub.val, &valds, err)))
    goto out;
  if ((rc = apply_state_json(c->start_json, start, &prog, err)) ||
      (rc = pc_optimizer_open(pc_runtime_registry(c->o->rt), name, settings,
                              &opt, err)))
    goto out;
  sub.program = prog;
  sub.optimizer = opt;
  if (!(c->start_json = pc_program_to_json(prog))) {
    c->start_json = saved_start;
    rc = pc_error_set(err, PC_E_NOMEM, "run_optimizer: out of memory");
    goto out;
  }
  c->o = &sub;
  c->res->state = NULL;
  c->res->report = NULL;
  c->depth++;
  rc = pc_optimizer_compile(opt, c->api, err);
  c->depth--;
  json_object_put(c->start_json);
  c->start_json = saved_start;
  c->o = saved_o;
  st = c->res->state;
  res = c->res->report;
  c->res->state = saved_state;
  c->res->report = saved_report;
  if (rc && rc != PC_E_BUDGET && rc != PC_E_CANCELLED)
    goto out;
  {
    int arc = step_answer(c, rc, start, st, res, c->trials - trials0, out,
                          err);

    if (arc)
      rc = arc;
  }
out:
  c->step = saved_step;
  json_object_put(st);
  json_object_put(res);
  pc_optimizer_close(opt);
  pc_program_free(prog);
  pc_dataset_free(train);
  pc_dataset_free(valds);
  json_object_put(req);
  return rc;
}

/* ---- the run ------------------------------------------------------------ */

struct json_object *pc_compile_sizes(const pc_program *prog,
                                     const pc_dataset *train,
                                     const pc_dataset *val)
{
  struct json_object *info = json_object_new_object();

  if (!info ||
      put(info, "train", json_object_new_int64((int64_t)train->n_rows)) ||
      put(info, "val", json_object_new_int64((int64_t)val->n_rows)) ||
      put(info, "predictors", json_object_new_int64(
            (int64_t)pc_program_n_predictors(prog))) ||
      put(info, "calls_per_run", json_object_new_int64(
            (int64_t)pc_program_n_steps(prog))) ||
      put(info, "val_is_train", json_object_new_boolean(val == train))) {
    json_object_put(info);
    return NULL;
  }
  return info;
}

int pc_compile_preflight(pc_optimizer *opt, const pc_program *prog,
                         const pc_dataset *train, const pc_dataset *val,
                         pc_error *err)
{
  struct json_object *info, *est = NULL;
  int rc;

  if (!pc_optimizer_has_estimate(opt))
    return PC_OK;  /* nothing to ask: the search itself will tell */
  if (!(info = pc_compile_sizes(prog, train, val)))
    return pc_error_set(err, PC_E_NOMEM, "compile: out of memory");
  rc = pc_optimizer_estimate(opt, info, &est, err);
  json_object_put(info);
  json_object_put(est);
  return rc;
}

int pc_compile_run(const pc_compile_opts *o, pc_compile_result *out,
                   pc_error *err)
{
  struct cc c;
  pc_compile_api api;
  int rc;

  memset(out, 0, sizeof(*out));
  memset(&c, 0, sizeof(c));
  c.o = o;
  c.res = out;
  c.best = NAN;
  c.replaying = o->resume && o->store;
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    pc_pricing_lookup(o->cfg, r, &c.price[r]);
  if (!(c.start_json = pc_program_to_json(o->program)) ||
      !(c.budget = pc_budget_new(&o->caps, now_ns()))) {
    rc = pc_error_set(err, PC_E_NOMEM, "compile: out of memory");
    goto out;
  }
  pc_runtime_role_usage(o->rt, c.start);

  memset(&api, 0, sizeof(api));
  api.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_compile_api);
  api.ctx = &c;
  api.program = c_program;
  api.dataset = c_dataset;
  api.evaluate = c_evaluate;
  api.propose = c_propose;
  api.seed = c_seed;
  api.budget = c_budget;
  api.record_trial = c_record_trial;
  api.checkpoint_save = c_checkpoint_save;
  api.checkpoint_load = c_checkpoint_load;
  api.progress = c_progress;
  api.set_result = c_set_result;
  api.info = c_info;
  api.finetune_record = c_finetune_record;
  api.write_file = c_write_file;
  api.run_optimizer = c_run_optimizer;
  c.api = &api;

  rc = pc_optimizer_compile(o->optimizer, &api, err);
  if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* A clean stop: the best state so far (if any) is the result. */
    if (!out->stopped_by)
      out->stopped_by = rc == PC_E_CANCELLED ? "cancelled" : "budget";
    if (!out->stop_message[0])
      snprintf(out->stop_message, sizeof(out->stop_message), "%s",
               err->message);
    pc_error_clear(err);
    rc = PC_OK;
  }
  refresh_budget(&c);
  pc_budget_total(c.budget, now_ns(), &out->spent);
out:
  if (rc)
    pc_compile_result_clear(out);
  json_object_put(c.start_json);
  pc_budget_free(c.budget);
  return rc;
}

void pc_compile_result_clear(pc_compile_result *r)
{
  json_object_put(r->state);
  json_object_put(r->report);
  json_object_put(r->trial_log);
  memset(r, 0, sizeof(*r));
}
