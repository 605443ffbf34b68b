/*
 * tests/unit/test_opt_fewshot.c: the few-shot optimizers' shared code
 * (plugins/opt-common) and the bootstrap-rs plugin, against a fake compile
 * API whose outcomes come from a table; suite "opt_fewshot".
 *
 * The central property: however the parallel waves are cut, bootstrap
 * picks exactly the examples that DSPy's sequential loop would, and
 * counts the same attempts and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "host.h"
#include "promptc/plugin.h"
#include "../../plugins/opt-common/opt_common.h"
#include "../../plugins/opt-common/fewshot.h"

/* The bootstrap-rs plugin is compiled into this program. */
PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

#define MAXN 64
#define MAXR 4
#define O_FAIL 0
#define O_OK 1
#define O_ERR 2
#define O_PART 3   /* ran and scored 0.3 */

/* The fake host behind the compile API. */
struct fake {
  int n;                      /* train examples */
  int n_pred;                 /* predictors p0, p1 */
  int steps_p1;               /* times p1 runs in one trace */
  int outcome[MAXN][MAXR];    /* O_* per (train index, round) */
  int asked[MAXN][MAXR];      /* times the host ran (index, round) */
  int reported;               /* rows returned */
  int train_requests;
  int val_requests;
  int budget_after;           /* evaluate calls allowed; < 0: no cap */
  int evals;
  uint32_t flags;             /* of the last train request */
  int had_state;              /* the last train request had a state */
  int teacher_demos;          /* p0 demos in that state */
  int bad_config;             /* a round's config was not as expected */
  char *result;               /* last set_result state (pc_malloc) */
  char *report;               /* and report */
  int n_results;
  int n_trials;
  char *trial_labels[40];
  char *progress;             /* last progress text */
};

static const pc__opt_host *host(void)
{
  static void *state;

  if (!state) {
    pc_error err = PC_ERROR_INIT;

    pc__opt_init(pc_host_api_get(), "test", &state, &err);
  }
  return state;
}

static void fake_reset(struct fake *f)
{
  int i;

  pc_free(f->result);
  pc_free(f->report);
  pc_free(f->progress);
  for (i = 0; i < f->n_trials; i++)
    pc_free(f->trial_labels[i]);
  memset(f, 0, sizeof(*f));
  f->budget_after = -1;
  f->n_pred = 2;
  f->steps_p1 = 1;
}

static pc_json *parse_text(const char *text, size_t len)
{
  pc_json *v = NULL;

  host()->js->parse(host()->host->ctx, text, len, PC_JSON_PARSE_STRICT, &v,
                    NULL);
  return v;
}

static int fk_program(void *ctx, pc_json **out, pc_error *err)
{
  struct fake *f = ctx;
  const char *text = f->n_pred == 1
    ? "{\"predictors\": [{\"path\": \"p0\"}]}"
    : "{\"predictors\": [{\"path\": \"p0\"}, {\"path\": \"p1\"}]}";

  (void)err;
  *out = parse_text(text, strlen(text));
  return PC_OK;
}

static int fk_dataset(void *ctx, const char *split, pc_json **out,
                      pc_error *err)
{
  struct fake *f = ctx;
  pc_buf b;
  int i;

  (void)split;
  (void)err;
  pc_buf_init(&b, 0);
  pc_buf_puts(&b, "{\"name\": \"t\", \"examples\": [");
  for (i = 0; i < f->n; i++)
    pc_buf_printf(&b, "%s{\"id\": \"e%d\", \"fields\": {\"q\": \"question "
                  "%d\", \"a\": \"gold %d\"}}", i ? ", " : "", i, i, i);
  pc_buf_puts(&b, "]}");
  *out = parse_text(b.data, b.len);
  pc_buf_free(&b);
  return PC_OK;
}

static uint64_t fk_seed(void *ctx)
{
  (void)ctx;
  return 5;
}

/* Count the demos of `path` in a state text, and how many are augmented. */
static void count_demos(const char *state, const char *path, int *total,
                        int *augmented)
{
  pc_json *s = state ? parse_text(state, strlen(state)) : NULL;
  const pc_json *d = NULL;
  size_t i, n;

  *total = *augmented = 0;
  if (s)
    d = host()->js->object_get(host()->js->object_get(s, path), "demos");
  n = d ? host()->js->array_len(d) : 0;
  for (i = 0; i < n; i++) {
    const pc_json *aug = host()->js->object_get(host()->js->array_get(d, i),
                                                "augmented");

    (*total)++;
    if (aug && host()->js->get_bool(aug))
      (*augmented)++;
  }
  host()->js->free(host()->host->ctx, s);
}

/* The round named by a request's config (0 without one). */
static int round_of(struct fake *f, const pc_eval_request *req)
{
  const char *p;

  if (!req->config_json)
    return 0;
  if (!strstr(req->config_json, "\"temperature\": 1.0"))
    f->bad_config = 1;
  p = strstr(req->config_json, "bootstrap-round-");
  if (!p) {
    f->bad_config = 1;
    return 0;
  }
  return (int)strtol(p + 16, NULL, 10);
}

static void put_trace(struct fake *f, pc_buf *b, int idx, int r)
{
  int k;

  pc_buf_printf(b, "[{\"predictor\": \"p0\", \"inputs\": {\"q\": \"question "
                "%d\"}, \"outputs\": {\"a\": \"said %d.%d\"}}", idx, idx, r);
  for (k = 0; f->n_pred > 1 && k < f->steps_p1; k++)
    pc_buf_printf(b, ", {\"predictor\": \"p1\", \"inputs\": {\"q\": "
                  "\"question %d\"}, \"outputs\": {\"a\": \"step %d\"}}",
                  idx, k);
  pc_buf_puts(b, ", {\"predictor\": \"elsewhere\", \"inputs\": {}, "
              "\"outputs\": {}}]");
}

/* The val score of a state: 10 per augmented p0 demo, 1 per p0 demo. */
static int val_score(const char *state)
{
  int total, augmented;

  count_demos(state, "p0", &total, &augmented);
  return 10 * augmented + total;
}

static int fk_evaluate(void *ctx, const pc_eval_request *req, pc_json **out,
                       pc_error *err)
{
  struct fake *f = ctx;
  pc_buf b;
  uint64_t j;
  int r, successes = 0, stopped = 0;

  *out = NULL;
  if (f->budget_after >= 0 && f->evals >= f->budget_after) {
    pc_error_set(err, PC_E_BUDGET, "max_calls: cap reached");
    return PC_E_BUDGET;
  }
  f->evals++;
  pc_buf_init(&b, 0);
  if (!strcmp(req->split, PC_SPLIT_VAL)) {
    f->val_requests++;
    pc_buf_printf(&b, "{\"results\": [], \"n\": 10, \"n_errors\": 0, "
                  "\"percent\": %d.0}", val_score(req->state_json));
    goto done;
  }
  f->train_requests++;
  f->flags = req->flags;
  f->had_state = req->state_json != NULL;
  if (req->state_json) {
    int aug;

    count_demos(req->state_json, "p0", &f->teacher_demos, &aug);
  }
  r = round_of(f, req);
  pc_buf_puts(&b, "{\"results\": [");
  for (j = 0; j < req->n_indices && !stopped; j++) {
    int idx = (int)req->indices[j];
    int o = f->outcome[idx][r];

    f->asked[idx][r]++;
    f->reported++;
    pc_buf_printf(&b, "%s{\"index\": %d, \"id\": \"e%d\", ", j ? ", " : "",
                  idx, idx);
    if (o == O_ERR) {
      pc_buf_printf(&b, "\"outputs\": null, \"score\": 0.0, \"error\": "
                    "\"boom %d\", \"error_kind\": \"lm\", \"trace\": []}",
                    idx);
      continue;
    }
    pc_buf_printf(&b, "\"outputs\": {\"a\": \"x\"}, \"score\": %s, "
                  "\"error\": null, \"error_kind\": null, \"trace\": ",
                  o == O_OK ? "1.0" : o == O_PART ? "0.3" : "0.0");
    put_trace(f, &b, idx, r);
    pc_buf_puts(&b, "}");
    /* The host's rule: score >= threshold and > 0. */
    if ((o == O_OK || (o == O_PART && req->success_threshold <= 0.3)) &&
        req->stop_after_successes > 0 &&
        ++successes >= req->stop_after_successes)
      stopped = 1;
  }
  pc_buf_printf(&b, "], \"stopped\": %s}", stopped ? "true" : "false");
done:
  *out = parse_text(b.data, b.len);
  pc_buf_free(&b);
  return *out ? PC_OK : PC_E_INTERNAL;
}

static int fk_record_trial(void *ctx, const char *json, size_t len,
                           pc_error *err)
{
  struct fake *f = ctx;
  pc_json *t = parse_text(json, len);
  const char *label = pc__opt_json_str(host(), t, "label");

  (void)err;
  if (f->n_trials < 40)
    f->trial_labels[f->n_trials++] = pc_strdup(label ? label : "?");
  host()->js->free(host()->host->ctx, t);
  return PC_OK;
}

static void fk_progress(void *ctx, const char *json, size_t len)
{
  struct fake *f = ctx;

  pc_free(f->progress);
  f->progress = pc_strndup(json, len);
}

static int fk_set_result(void *ctx, const char *state, size_t state_len,
                         const char *report, size_t report_len,
                         pc_error *err)
{
  struct fake *f = ctx;

  (void)err;
  pc_free(f->result);
  pc_free(f->report);
  f->result = pc_strndup(state, state_len);
  f->report = report ? pc_strndup(report, report_len) : NULL;
  f->n_results++;
  return PC_OK;
}

static pc_compile_api make_api(struct fake *f)
{
  pc_compile_api api;

  memset(&api, 0, sizeof(api));
  api.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_compile_api);
  api.ctx = f;
  api.program = fk_program;
  api.dataset = fk_dataset;
  api.evaluate = fk_evaluate;
  api.seed = fk_seed;
  api.record_trial = fk_record_trial;
  api.progress = fk_progress;
  api.set_result = fk_set_result;
  return api;
}

static pc__opt_bootstrap_params params(int M, int labeled, int rounds,
                                       int max_errors)
{
  pc__opt_bootstrap_params p;

  memset(&p, 0, sizeof(p));
  p.who = "bootstrap";
  p.max_bootstrapped_demos = M;
  p.max_labeled_demos = labeled;
  p.max_rounds = rounds;
  p.max_errors = max_errors;
  p.use_teacher_lm = 1;
  return p;
}

/* DSPy's loop, written plainly: the train indices it bootstraps (in
 * order), its attempts, and whether it raised at max_errors. */
static void sequential(const struct fake *f, const int64_t *order, int n,
                       const pc__opt_bootstrap_params *p, int *succ,
                       int *n_succ, int *attempts, int *raised)
{
  int pos, r, errors = 0;

  *n_succ = *attempts = *raised = 0;
  for (pos = 0; pos < n; pos++) {
    if (*n_succ >= p->max_bootstrapped_demos)
      break;
    for (r = 0; r < p->max_rounds; r++) {
      int o = f->outcome[order[pos]][r];

      (*attempts)++;
      if (o == O_ERR && ++errors >= p->max_errors) {
        *raised = 1;
        return;
      }
      if (o == O_OK) {
        succ[(*n_succ)++] = (int)order[pos];
        break;
      }
    }
  }
}

/* Run bootstrap on the fake; returns rc and fills *state, *info. */
static int run_bootstrap(struct fake *f, const pc__opt_bootstrap_params *p,
                         const int64_t *order, pc_json **state,
                         pc__opt_bootstrap_info *info, pc_error *err)
{
  pc_compile_api api = make_api(f);
  pc__opt_fewshot fx;
  int64_t ident[MAXN];
  int rc, i;

  for (i = 0; i < f->n; i++)
    ident[i] = i;
  rc = pc__opt_fewshot_open(&fx, host(), &api, "bootstrap", err);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  rc = pc__opt_bootstrap_run(&fx, p, order ? order : ident, (size_t)f->n,
                             state, info, NULL, err);
  pc__opt_fewshot_close(&fx);
  return rc;
}

/* A tiny deterministic generator for the random tables. */
static uint64_t lcg(uint64_t *s)
{
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static void test_waves_pick_the_sequential_examples(void)
{
  struct fake f;
  uint64_t s = 12345;
  int trial, mismatches = 0, errors_seen = 0, multi_round_rescues = 0;

  memset(&f, 0, sizeof(f));
  for (trial = 0; trial < 600; trial++) {
    pc__opt_bootstrap_params p;
    pc__opt_bootstrap_info info;
    pc_json *state = NULL;
    pc_error err = PC_ERROR_INIT;
    int64_t order[MAXN];
    int succ[MAXN], n_succ, attempts, raised, i, r, rc, ok_pct, err_pct;

    fake_reset(&f);
    f.n = 1 + (int)(lcg(&s) % 30);
    p = params((int)(lcg(&s) % 6), (int)(lcg(&s) % 4), 1 + (int)(lcg(&s) % 3),
               1 + (int)(lcg(&s) % 6));
    ok_pct = 10 + (int)(lcg(&s) % 60);
    err_pct = (int)(lcg(&s) % 25);
    for (i = 0; i < f.n; i++) {
      order[i] = i;
      for (r = 0; r < MAXR; r++) {
        int u = (int)(lcg(&s) % 100);

        f.outcome[i][r] = u < ok_pct ? O_OK
                          : u < ok_pct + err_pct ? O_ERR : O_FAIL;
      }
    }
    /* Half of the runs use a shuffled order, as bootstrap-rs does. */
    if (trial % 2)
      for (i = f.n - 1; i > 0; i--) {
        int j = (int)(lcg(&s) % (uint64_t)(i + 1));
        int64_t t = order[i];

        order[i] = order[j];
        order[j] = t;
      }
    sequential(&f, order, f.n, &p, succ, &n_succ, &attempts, &raised);
    rc = run_bootstrap(&f, &p, order, &state, &info, &err);
    if (raised) {
      errors_seen++;
      if (rc != PC_E_PROVIDER || !strstr(err.message, "errors while "
                                         "bootstrapping (last: boom "))
        mismatches++;
    } else if (rc != PC_OK || info.attempts != attempts ||
               info.successes != n_succ) {
      mismatches++;
    } else {
      for (i = 0; i < n_succ; i++) {
        const char *id = host()->js->get_string(
          host()->js->array_get(info.ids, (size_t)i), NULL);
        char want[16];

        snprintf(want, sizeof(want), "e%d", succ[i]);
        if (!id || strcmp(id, want))
          mismatches++;
      }
      if (p.max_rounds == 1 && f.reported != attempts)
        mismatches++;  /* one round: not one speculative call here */
      for (i = 0; i < n_succ; i++)
        if (f.outcome[succ[i]][0] != O_OK)
          multi_round_rescues++;
    }
    host()->js->free(host()->host->ctx, state);
    host()->js->free(host()->host->ctx, info.ids);
  }
  fake_reset(&f);
  CU_ASSERT_EQUAL(mismatches, 0);
  CU_ASSERT(errors_seen > 20);         /* the error path was exercised */
  CU_ASSERT(multi_round_rescues > 20); /* and successes in later rounds */
}

static void test_stop_after_mth_success_in_train_order(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(2, 0, 1, 10);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;
  int i;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 20;
  f.outcome[3][0] = f.outcome[7][0] = f.outcome[9][0] = O_OK;
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err), PC_OK);
  CU_ASSERT_EQUAL(info.attempts, 8);   /* examples 0..7 */
  CU_ASSERT_EQUAL(f.reported, 8);
  CU_ASSERT_EQUAL(f.train_requests, 1);
  for (i = 8; i < 20; i++)
    CU_ASSERT_EQUAL(f.asked[i][0], 0);
  /* Teacher: no labeled demos (max_labeled_demos 0) means the starting
   * program; every request asks for traces and hides the example. */
  CU_ASSERT_FALSE(f.had_state);
  CU_ASSERT_EQUAL(f.flags, PC_EVAL_TRACES | PC_EVAL_EXCLUDE_SELF |
                  PC_EVAL_TEACHER);
  host()->js->free(host()->host->ctx, state);
  host()->js->free(host()->host->ctx, info.ids);
  fake_reset(&f);
}

static void test_later_rounds_use_fresh_samples(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(1, 3, 3, 10);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 6;
  p.use_teacher_lm = 0;
  f.outcome[2][2] = O_OK;  /* only example 2 at round 2 succeeds... */
  f.outcome[4][0] = O_OK;  /* ...and example 4 at round 0 */
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err), PC_OK);
  /* Sequentially: 0 and 1 fail three rounds each, 2 succeeds at round 2. */
  CU_ASSERT_EQUAL(info.attempts, 9);
  PC_ASSERT_STR_EQ(host()->js->get_string(
                     host()->js->array_get(info.ids, 0), NULL), "e2");
  CU_ASSERT_EQUAL(f.asked[2][2], 1);
  CU_ASSERT_EQUAL(f.asked[5][0], 0);  /* past round 0's success (4) */
  CU_ASSERT_EQUAL(f.asked[4][1], 0);  /* succeeded already */
  CU_ASSERT_EQUAL(f.asked[3][2], 0);  /* past round 2's success (2) */
  CU_ASSERT_FALSE(f.bad_config);
  CU_ASSERT_TRUE(f.had_state);
  CU_ASSERT_EQUAL(f.teacher_demos, 3);
  CU_ASSERT_EQUAL(f.flags, PC_EVAL_TRACES | PC_EVAL_EXCLUDE_SELF);
  host()->js->free(host()->host->ctx, state);
  host()->js->free(host()->host->ctx, info.ids);
  fake_reset(&f);
}

static void test_metric_threshold_decides_success(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(1, 0, 1, 10);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;
  const double thresholds[3] = {0.0, 0.5, 0.3};
  const char *want[3] = {"e2", "e4", "e2"};
  int i;

  memset(&f, 0, sizeof(f));
  for (i = 0; i < 3; i++) {
    fake_reset(&f);
    f.n = 6;
    f.outcome[2][0] = O_PART;
    f.outcome[4][0] = O_OK;
    p.has_threshold = thresholds[i] > 0;
    p.metric_threshold = thresholds[i];
    CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err), PC_OK);
    CU_ASSERT_EQUAL(info.successes, 1);
    PC_ASSERT_STR_EQ(host()->js->get_string(
                       host()->js->array_get(info.ids, 0), NULL), want[i]);
    host()->js->free(host()->host->ctx, state);
    host()->js->free(host()->host->ctx, info.ids);
  }
  fake_reset(&f);
}

static void test_max_errors_fails_with_last_message(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(4, 16, 1, 3);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 10;
  f.outcome[1][0] = f.outcome[4][0] = f.outcome[6][0] = O_ERR;
  f.outcome[8][0] = O_ERR;
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err),
                  PC_E_PROVIDER);
  PC_ASSERT_STR_EQ(err.message, "bootstrap: 3 errors while bootstrapping "
                   "(last: boom 6)");
  CU_ASSERT_PTR_NULL(state);
  host()->js->free(host()->host->ctx, info.ids);
  fake_reset(&f);
}

/* The demos of `path` in a state: their "q" and "a" values. */
static int demo_list(const pc_json *state, const char *path, char q[][32],
                     char a[][32], int *augmented)
{
  const pc__opt_host *h = host();
  const pc_json *d = h->js->object_get(h->js->object_get(state, path),
                                       "demos");
  int i, n = d ? (int)h->js->array_len(d) : 0;

  for (i = 0; i < n; i++) {
    const pc_json *demo = h->js->array_get(d, (size_t)i);
    const pc_json *aug = h->js->object_get(demo, "augmented");

    snprintf(q[i], 32, "%s", pc__opt_json_str(h, demo, "q"));
    snprintf(a[i], 32, "%s", pc__opt_json_str(h, demo, "a"));
    augmented[i] = aug && h->js->get_bool(aug);
  }
  return n;
}

static void test_assembly_bootstrapped_first_then_shrinking_pool(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(2, 5, 1, 10);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;
  char q0[16][32], a0[16][32], q1[16][32], a1[16][32];
  int aug0[16], aug1[16], n0, n1, i, j, found;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 10;
  f.outcome[1][0] = f.outcome[3][0] = f.outcome[5][0] = O_OK;
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err), PC_OK);
  n0 = demo_list(state, "p0", q0, a0, aug0);
  n1 = demo_list(state, "p1", q1, a1, aug1);
  CU_ASSERT_EQUAL(n0, 5);
  CU_ASSERT_EQUAL(n1, 5);
  /* Bootstrapped first, from the traces, in train order. */
  PC_ASSERT_STR_EQ(q0[0], "question 1");
  PC_ASSERT_STR_EQ(a0[0], "said 1.0");
  PC_ASSERT_STR_EQ(q0[1], "question 3");
  CU_ASSERT(aug0[0] && aug0[1] && aug1[0] && aug1[1]);
  PC_ASSERT_STR_EQ(a1[1], "step 0");
  /* Then labeled raw examples, never a bootstrapped one, all distinct. */
  for (i = 2; i < 5; i++) {
    CU_ASSERT_FALSE(aug0[i]);
    CU_ASSERT(strcmp(q0[i], "question 1") && strcmp(q0[i], "question 3"));
    CU_ASSERT_EQUAL(strncmp(a0[i], "gold ", 5), 0);
    for (j = 2; j < i; j++)
      CU_ASSERT(strcmp(q0[i], q0[j]) != 0);
  }
  /* DSPy's quirk: p1 samples from p0's labeled subset. */
  for (i = 2; i < 5; i++) {
    found = 0;
    for (j = 2; j < 5; j++)
      found |= !strcmp(q1[i], q0[j]);
    CU_ASSERT_TRUE(found);
  }
  host()->js->free(host()->host->ctx, state);
  host()->js->free(host()->host->ctx, info.ids);
  fake_reset(&f);
}

static void test_repeated_predictor_keeps_one_step_half_the_last(void)
{
  struct fake f;
  pc__opt_bootstrap_params p = params(60, 0, 1, 10);
  pc__opt_bootstrap_info info;
  pc_json *state = NULL, *again = NULL;
  pc_error err = PC_ERROR_INIT;
  char q[64][32], a[64][32];
  int aug[64], n, i, last = 0, first = 0, middle = 0;
  char *t1 = NULL, *t2 = NULL;
  size_t l1, l2;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 60;
  f.steps_p1 = 3;
  for (i = 0; i < 60; i++)
    f.outcome[i][0] = O_OK;
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &state, &info, &err), PC_OK);
  n = demo_list(state, "p1", q, a, aug);
  CU_ASSERT_EQUAL(n, 60);  /* one demo per predictor per example */
  for (i = 0; i < n; i++) {
    last += !strcmp(a[i], "step 2");
    middle += !strcmp(a[i], "step 1");
    first += !strcmp(a[i], "step 0");
  }
  CU_ASSERT_EQUAL(last + middle + first, 60);
  CU_ASSERT(last >= 18 && last <= 42);  /* p = 1/2 */
  CU_ASSERT(first >= 5 && middle >= 5); /* p = 1/4 each */
  /* Keyed draws: a second run chooses the same steps. */
  host()->js->free(host()->host->ctx, info.ids);
  CU_ASSERT_EQUAL(run_bootstrap(&f, &p, NULL, &again, &info, &err), PC_OK);
  pc__opt_json_text(host(), state, &t1, &l1, &err);
  pc__opt_json_text(host(), again, &t2, &l2, &err);
  PC_ASSERT_STR_EQ(t1, t2);
  pc__opt_free(host(), t1);
  pc__opt_free(host(), t2);
  host()->js->free(host()->host->ctx, state);
  host()->js->free(host()->host->ctx, again);
  host()->js->free(host()->host->ctx, info.ids);
  fake_reset(&f);
}

static void test_labeled_samples_without_replacement(void)
{
  struct fake f;
  pc_compile_api api;
  pc__opt_fewshot fx;
  pc_json *state = NULL;
  pc_error err = PC_ERROR_INIT;
  int64_t *order = NULL;
  char q0[16][32], a0[16][32], q1[16][32], a1[16][32];
  int aug0[16], aug1[16], n0, n1, i, j, same = 1;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 12;
  api = make_api(&f);
  CU_ASSERT_EQUAL_FATAL(pc__opt_fewshot_open(&fx, host(), &api, "labeled",
                                             &err), PC_OK);
  CU_ASSERT_EQUAL(pc__opt_fewshot_order(&fx, &order, &err), PC_OK);
  CU_ASSERT_EQUAL(pc__opt_labeled_state(&fx, order, fx.n_train, 5, 1, &state,
                                        &err), PC_OK);
  n0 = demo_list(state, "p0", q0, a0, aug0);
  n1 = demo_list(state, "p1", q1, a1, aug1);
  CU_ASSERT_EQUAL(n0, 5);
  CU_ASSERT_EQUAL(n1, 5);
  for (i = 0; i < 5; i++) {
    CU_ASSERT_FALSE(aug0[i]);
    for (j = 0; j < i; j++)
      CU_ASSERT(strcmp(q0[i], q0[j]) != 0);
    same &= !strcmp(q0[i], q1[i]);
  }
  CU_ASSERT_FALSE(same);  /* the stream goes on across predictors */
  host()->js->free(host()->host->ctx, state);
  /* Without sampling: the first k; k beyond the set: all of it. */
  CU_ASSERT_EQUAL(pc__opt_labeled_state(&fx, order, fx.n_train, 3, 0, &state,
                                        &err), PC_OK);
  n1 = demo_list(state, "p1", q1, a1, aug1);
  CU_ASSERT_EQUAL(n1, 3);
  PC_ASSERT_STR_EQ(q1[0], "question 0");
  PC_ASSERT_STR_EQ(q1[2], "question 2");
  host()->js->free(host()->host->ctx, state);
  CU_ASSERT_EQUAL(pc__opt_labeled_state(&fx, order, fx.n_train, 99, 1,
                                        &state, &err), PC_OK);
  CU_ASSERT_EQUAL(demo_list(state, "p0", q0, a0, aug0), 12);
  host()->js->free(host()->host->ctx, state);
  pc__opt_free(host(), order);
  pc__opt_fewshot_close(&fx);
  fake_reset(&f);
}

static void test_empty_train_split_is_an_error(void)
{
  struct fake f;
  pc_compile_api api;
  pc__opt_fewshot fx;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 0;
  api = make_api(&f);
  CU_ASSERT_EQUAL(pc__opt_fewshot_open(&fx, host(), &api, "labeled", &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "labeled: the train split is empty: give at "
                   "least one example");
  fake_reset(&f);
}

static void test_rng_shuffle_and_sample_are_permutations(void)
{
  pc__opt_rng r;
  int64_t v[50];
  int seen[50], i, moved = 0;

  for (i = 0; i < 50; i++)
    v[i] = i;
  pc__opt_rng_init(&r, host(), 1, "t", 0);
  pc__opt_rng_shuffle(&r, v, 50);
  memset(seen, 0, sizeof(seen));
  for (i = 0; i < 50; i++) {
    seen[v[i]]++;
    moved += v[i] != i;
  }
  for (i = 0; i < 50; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  CU_ASSERT(moved > 25);
  pc__opt_rng_sample(&r, v, 50, 10);
  memset(seen, 0, sizeof(seen));
  for (i = 0; i < 50; i++)
    seen[v[i]]++;
  for (i = 0; i < 50; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  for (i = 0; i < 1000; i++)
    CU_ASSERT(pc__opt_rng_below(&r, 7) < 7);
}

/* Settings through the bootstrap-rs plugin's own tables. */
static const pc_optimizer_iface *rs_iface(void)
{
  const pc_plugin_info *info =
    pc_plugin_entry_v1(&pc_host_api_get()->hdr);
  uint32_t size = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(info);
  PC_ASSERT_STR_EQ(info->id, "org.promptc.optimizer.bootstrap-rs");
  return info->get_interface(NULL, PC_IFACE_OPTIMIZER, &size);
}

static int text_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len);
}

static void test_settings_are_checked_and_filled_in(void)
{
  const pc_optimizer_iface *it = rs_iface();
  static const struct {
    const char *json;
    const char *message;
  } bad[] = {
    {"{\"max_round\": 2}", "bootstrap-rs: max_round: unknown setting"},
    {"{\"max_rounds\": 0}",
     "bootstrap-rs: max_rounds: expected an integer >= 1"},
    {"{\"max_labeled_demos\": -1}",
     "bootstrap-rs: max_labeled_demos: expected an integer >= 0"},
    {"{\"max_errors\": \"10\"}",
     "bootstrap-rs: max_errors: expected an integer >= 1"},
    {"{\"use_teacher_lm\": 1}",
     "bootstrap-rs: use_teacher_lm: expected true or false"},
    {"{\"metric_threshold\": -0.5}",
     "bootstrap-rs: metric_threshold: expected null or a number in [0, 1]"},
    {"{\"stop_at_score\": 101}",
     "bootstrap-rs: stop_at_score: expected null or a number in [0, 100]"},
    {"{\"max_bootstrapped_demos\": 0}",
     "bootstrap-rs: max_bootstrapped_demos: must be >= 1 when "
     "num_candidate_programs > 0"},
    {"[1]", "bootstrap-rs: settings: expected a JSON object"},
  };
  pc_text_sink sink;
  pc_buf b;
  void *inst = NULL;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(it->create((void *)host(), bad[i].json,
                               strlen(bad[i].json), &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    CU_ASSERT_EQUAL(strncmp(err.message, bad[i].message,
                            strlen(bad[i].message)), 0);
    if (strncmp(err.message, bad[i].message, strlen(bad[i].message)))
      printf("\n  got: %s\n", err.message);
  }
  {
    pc_error err = PC_ERROR_INIT;
    const char *ok = "{\"max_bootstrapped_demos\": 0, "
                     "\"num_candidate_programs\": 0, \"stop_at_score\": 50}";
    const char *info = "{\"train\": 20, \"val\": 7, \"predictors\": 1, "
                       "\"calls_per_run\": 2}";

    CU_ASSERT_EQUAL(it->create((void *)host(), ok, strlen(ok), &inst, &err),
                    PC_OK);
    pc_buf_init(&b, 0);
    memset(&sink, 0, sizeof(sink));
    sink.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_text_sink);
    sink.ctx = &b;
    sink.write = text_write;
    CU_ASSERT_EQUAL(it->settings(inst, &sink, &err), PC_OK);
    PC_ASSERT_STR_EQ(b.data, "{\"max_bootstrapped_demos\":0,"
                     "\"max_labeled_demos\":16,\"max_rounds\":1,"
                     "\"max_errors\":10,\"metric_threshold\":null,"
                     "\"use_teacher_lm\":true,\"num_candidate_programs\":0,"
                     "\"stop_at_score\":50.0,\"labeled_sample\":true}");
    pc_buf_reset(&b);
    CU_ASSERT_EQUAL(it->estimate(inst, info, strlen(info), &sink, &err),
                    PC_OK);
    /* One bootstrap run of nothing (M = 0) and three evaluations of 7. */
    PC_ASSERT_STR_EQ(b.data, "{\"lm_calls\": 42, \"metric_calls\": 21, "
                     "\"proposal_calls\": 0}");
    pc_buf_free(&b);
    it->destroy(inst);
  }
}

static void test_random_search_keeps_earliest_best_and_sorts_report(void)
{
  const pc_optimizer_iface *it = rs_iface();
  const char *set = "{\"num_candidate_programs\": 3, "
                    "\"max_labeled_demos\": 2}";
  struct fake f;
  pc_compile_api api;
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int i, total, augmented;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 12;
  for (i = 0; i < 12; i++)
    f.outcome[i][0] = O_OK;
  api = make_api(&f);
  CU_ASSERT_EQUAL_FATAL(it->create((void *)host(), set, strlen(set), &inst,
                                   &err), PC_OK);
  CU_ASSERT_EQUAL(it->compile(inst, &api, &err), PC_OK);
  /* Six candidates: seeds -3 .. 2, each a trial, each scored on val. */
  CU_ASSERT_EQUAL(f.n_trials, 6);
  CU_ASSERT_EQUAL(f.val_requests, 6);
  CU_ASSERT_EQUAL(f.train_requests, 4);  /* seed -1 and seeds 0..2 */
  PC_ASSERT_STR_EQ(f.trial_labels[0], "seed -3");
  PC_ASSERT_STR_EQ(f.trial_labels[5], "seed 2");
  PC_ASSERT_STR_EQ(f.progress, "{\"trial\": 6, \"of\": 6, \"best\": 44.00}");
  /* The best is seed -1: 4 bootstrapped demos (score 44); seeds >= 0
   * bootstrap at most 4 and tie at best, so the earliest stays. */
  count_demos(f.result, "p0", &total, &augmented);
  CU_ASSERT_EQUAL(augmented, 4);
  CU_ASSERT_EQUAL(total, 4);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.report);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "{\"candidates\":[{\"candidate\":"
                                "2,\"seed\":-1,\"score\":44.0}"));
  it->destroy(inst);
  fake_reset(&f);
}

static void test_random_search_stops_at_score_and_at_budget(void)
{
  const pc_optimizer_iface *it = rs_iface();
  const char *stop = "{\"num_candidate_programs\": 5, \"stop_at_score\": 2}";
  const char *plain = "{\"num_candidate_programs\": 5}";
  struct fake f;
  pc_compile_api api;
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int total, augmented;

  memset(&f, 0, sizeof(f));
  fake_reset(&f);
  f.n = 8;
  api = make_api(&f);
  /* Seed -3 scores 0, seed -2 (8 labeled demos) scores 8 >= 2: stop. */
  CU_ASSERT_EQUAL_FATAL(it->create((void *)host(), stop, strlen(stop), &inst,
                                   &err), PC_OK);
  CU_ASSERT_EQUAL(it->compile(inst, &api, &err), PC_OK);
  CU_ASSERT_EQUAL(f.n_trials, 2);
  count_demos(f.result, "p0", &total, &augmented);
  CU_ASSERT_EQUAL(total, 8);
  it->destroy(inst);

  /* A cap during seed -1's bootstrap: the best so far (seed -2) is set
   * and the run says PC_E_BUDGET. */
  fake_reset(&f);
  f.n = 8;
  f.budget_after = 2;
  api = make_api(&f);
  CU_ASSERT_EQUAL_FATAL(it->create((void *)host(), plain, strlen(plain),
                                   &inst, &err), PC_OK);
  CU_ASSERT_EQUAL(it->compile(inst, &api, &err), PC_E_BUDGET);
  CU_ASSERT_EQUAL(f.n_results, 1);
  count_demos(f.result, "p0", &total, &augmented);
  CU_ASSERT_EQUAL(total, 8);
  CU_ASSERT_EQUAL(augmented, 0);
  it->destroy(inst);
  fake_reset(&f);
}

static CU_TestInfo opt_fewshot_tests[] = {
  {"waves pick the sequential examples (600 random tables)",
   test_waves_pick_the_sequential_examples},
  {"stop after the M-th success in train order",
   test_stop_after_mth_success_in_train_order},
  {"later rounds use fresh samples, only where needed",
   test_later_rounds_use_fresh_samples},
  {"metric_threshold decides which score is a success",
   test_metric_threshold_decides_success},
  {"max_errors fails with the last message",
   test_max_errors_fails_with_last_message},
  {"assembly: bootstrapped first, then a shrinking labeled pool",
   test_assembly_bootstrapped_first_then_shrinking_pool},
  {"a repeated predictor keeps one step, half the time the last",
   test_repeated_predictor_keeps_one_step_half_the_last},
  {"labeled samples without replacement",
   test_labeled_samples_without_replacement},
  {"empty train split is an error", test_empty_train_split_is_an_error},
  {"rng shuffle and sample are permutations",
   test_rng_shuffle_and_sample_are_permutations},
  {"settings are checked and filled in",
   test_settings_are_checked_and_filled_in},
  {"random search keeps the earliest best and sorts its report",
   test_random_search_keeps_earliest_best_and_sorts_report},
  {"random search stops at stop_at_score and at the budget",
   test_random_search_stops_at_score_and_at_budget},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_fewshot", NULL, NULL, NULL, NULL, opt_fewshot_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  int rc = pc_test_run(suites);

  pc__opt_fini((void *)host());
  return rc;
}
