/*
 * eval.c - parallel evaluation of a program on a dataset.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "eval.h"
#include "predict.h"
#include "run.h"
#include "stats.h"

struct ev {
  pc_runtime *rt;
  const pc_program *prog;
  const pc_dataset *ds;
  pc_metric *metric;
  const pc_eval_opts *o;
  pc_eval_result *res;
  int64_t max_errors;
  pthread_mutex_t lock;        /* errors, progress */
  size_t errors;
  size_t successes;
  int refused;
  size_t runs, metric_calls;
  pc_eval_progress prog_state;
};

const char *pc_eval_error_kind_name(int kind)
{
  switch (kind) {
  case PC_ERR_PARSE: return "parse";
  case PC_ERR_LM: return "lm";
  case PC_ERR_METRIC: return "metric";
  case PC_ERR_PROGRAM: return "program";
  default: return "none";
  }
}

static int kind_of(int code)
{
  switch (code) {
  case PC_E_PARSE:
    return PC_ERR_PARSE;
  case PC_E_IO: case PC_E_TIMEOUT: case PC_E_CANCELLED:
  case PC_E_RATE_LIMITED: case PC_E_AUTH: case PC_E_CONTEXT_LENGTH:
  case PC_E_PROVIDER: case PC_E_BUDGET:
    return PC_ERR_LM;
  default:
    return PC_ERR_PROGRAM;
  }
}

/* The program's inputs taken from an example's fields. */
static int example_inputs(const struct ev *ev, const pc_example *ex,
                          struct json_object **out, pc_error *err)
{
  struct json_object *o = json_object_new_object();
  size_t n = ev->ds->n_input_keys ? ev->ds->n_input_keys
                                  : pc_program_n_inputs(ev->prog);

  *out = NULL;
  if (!o)
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *key = ev->ds->n_input_keys ? ev->ds->input_keys[i]
                                           : pc_program_input(ev->prog, i);
    struct json_object *v;

    if (!json_object_object_get_ex(ex->fields, key, &v)) {
      json_object_put(o);
      return pc_error_set(err, PC_E_INVALID_ARG, "%s:%zu: example %s has no "
                          "input \"%s\"", ev->ds->path, ex->line, ex->id,
                          key);
    }
    /* A copy, never a new reference: json-c's reference counts are not
     * atomic, and other tasks may read the same example at once. */
    struct json_object *copy = NULL;

    if (json_object_deep_copy(v, &copy, NULL) != 0 ||
        json_object_object_add(o, key, copy) != 0) {
      json_object_put(copy);
      json_object_put(o);
      return pc_error_set(err, PC_E_NOMEM, "out of memory");
    }
  }
  *out = o;
  return PC_OK;
}

/* A success for stop_after_successes: ran, and scored at least the
 * threshold and above 0 (Python truthiness when the threshold is 0). */
static int succeeded(const struct ev *ev, const pc_eval_row *row)
{
  return row->status == PC_ROW_OK &&
         row->score >= ev->o->success_threshold && row->score > 0.0;
}

static void eval_task(void *vctx, size_t k, pc_sched_batch *batch)
{
  struct ev *ev = vctx;
  pc_eval_row *row = &ev->res->rows[k];
  const pc_example *ex = &ev->ds->rows[row->index];
  pc_run_ctx ctx;
  pc_error e = PC_ERROR_INIT;
  int rc;

  if (ev->o->admit) {
    int ok;

    pthread_mutex_lock(&ev->lock);
    ok = !ev->refused && ev->o->admit(ev->o->admit_ctx);
    if (!ok) {
      ev->refused = 1;
      pc_sched_stop(batch);
    }
    pthread_mutex_unlock(&ev->lock);
    if (!ok)
      return;  /* the row stays PC_ROW_NOT_RUN */
  }
  pc_run_ctx_init(&ctx, ev->rt);
  ctx.role = ev->o->role;
  ctx.overrides = ev->o->overrides;
  ctx.flags = ev->o->run_flags;
  if (ev->o->exclude_self)
    ctx.exclude_demo = ex->fields;
  rc = example_inputs(ev, ex, &row->inputs, &e);
  if (rc == PC_OK)
    rc = pc_program_run(&ctx, ev->prog, row->inputs, &row->outputs, &e);
  if (rc) {
    row->error_kind = kind_of(rc);
  } else if (ev->metric) {
    pc_metric_result mr;

    rc = pc_metric_score(ev->metric, ex->fields, row->outputs,
                         ev->o->metric_trace ? ctx.trace : NULL, &mr, &e);
    if (rc) {
      row->error_kind = PC_ERR_METRIC;
    } else {
      row->score = mr.score;
      if (ev->o->feedback) {
        row->feedback = mr.feedback;
        mr.feedback = NULL;
      }
      pc_metric_result_clear(&mr);
    }
  } else {
    row->score = 1.0;
  }
  if (rc) {
    row->status = PC_ROW_ERROR;
    row->score = ev->o->failure_score;
    row->error = pc_strdup(e.message[0] ? e.message : pc_strerror(rc));
  } else {
    row->status = PC_ROW_OK;
  }
  row->usage = ctx.usage;
  if (ev->o->keep_traces) {
    row->trace = ctx.trace;
    ctx.trace = NULL;
  }
  pc_run_ctx_clear(&ctx);

  pthread_mutex_lock(&ev->lock);
  ev->runs++;
  if (ev->metric && (rc == PC_OK || row->error_kind == PC_ERR_METRIC))
    ev->metric_calls++;
  if (rc) {
    ev->errors++;
    if (ev->max_errors > 0 && ev->errors >= (size_t)ev->max_errors)
      pc_sched_stop(batch);
  } else if (ev->o->stop_after_successes > 0 && succeeded(ev, row) &&
             ++ev->successes >= (uint64_t)ev->o->stop_after_successes) {
    pc_sched_stop(batch);
  }
  ev->prog_state.done++;
  ev->prog_state.score_sum += row->score;
  ev->prog_state.errors = ev->errors;
  pc_usage_add(&ev->prog_state.usage, &row->usage);
  if (ev->o->progress)
    ev->o->progress(ev->o->progress_ctx, &ev->prog_state);
  pthread_mutex_unlock(&ev->lock);
}

/* Where the report ends: after the row, in example order, whose error
 * made the count reach max_errors, or whose success made the count reach
 * stop_after_successes; else after every row. */
static size_t cut_point(const struct ev *ev, size_t started, int *stopped)
{
  size_t errors = 0, successes = 0;
  int64_t want = ev->o->stop_after_successes;

  *stopped = 0;
  for (size_t k = 0; k < started; k++) {
    const pc_eval_row *row = &ev->res->rows[k];

    if (ev->max_errors > 0 && row->status == PC_ROW_ERROR &&
        ++errors >= (size_t)ev->max_errors)
      return k + 1;
    if (want > 0 && succeeded(ev, row) && ++successes >= (uint64_t)want) {
      *stopped = 1;
      return k + 1;
    }
  }
  return started;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int summarise(struct ev *ev, pc_error *err)
{
  pc_eval_result *r = ev->res;
  double *scores = pc_calloc(r->n_done ? r->n_done : 1, sizeof(double));
  const char **names = pc_calloc(r->n_done ? r->n_done : 1, sizeof(char *));
  size_t n_names = 0;
  int rc = PC_OK;

  if (!scores || !names) {
    rc = pc_error_set(err, PC_E_NOMEM, "eval: out of memory");
    goto out;
  }
  for (size_t k = 0; k < r->n_done; k++) {
    const pc_eval_row *row = &r->rows[k];
    const char *slice = ev->ds->rows[row->index].slice;

    scores[k] = row->score;
    r->sum += row->score;
    pc_usage_add(&r->usage, &row->usage);
    if (row->status == PC_ROW_ERROR) {
      r->n_errors++;
      switch (row->error_kind) {
      case PC_ERR_PARSE: r->n_parse_errors++; break;
      case PC_ERR_LM: r->n_lm_errors++; break;
      case PC_ERR_METRIC: r->n_metric_errors++; break;
      default: r->n_program_errors++; break;
      }
    }
    if (slice)
      names[n_names++] = slice;
  }
  pc_stats_mean_ci(scores, r->n_done, &r->mean, &r->ci_low, &r->ci_high);

  /* Slices: distinct names in byte order, each with its own interval. */
  qsort(names, n_names, sizeof(*names), cmp_str);
  for (size_t i = 0; i < n_names; i++) {
    pc_eval_slice *s;
    size_t m = 0;

    if (i > 0 && !strcmp(names[i], names[i - 1]))
      continue;
    s = pc_realloc(r->slices, (r->n_slices + 1) * sizeof(*s));
    if (!s) {
      rc = pc_error_set(err, PC_E_NOMEM, "eval: out of memory");
      goto out;
    }
    r->slices = s;
    s += r->n_slices;
    memset(s, 0, sizeof(*s));
    if (!(s->name = pc_strdup(names[i]))) {
      rc = pc_error_set(err, PC_E_NOMEM, "eval: out of memory");
      goto out;
    }
    r->n_slices++;
    for (size_t k = 0; k < r->n_done; k++) {
      const char *sl = ev->ds->rows[r->rows[k].index].slice;

      if (sl && !strcmp(sl, names[i]))
        scores[m++] = r->rows[k].score;
    }
    s->n = m;
    pc_stats_mean_ci(scores, m, &s->mean, &s->ci_low, &s->ci_high);
  }
out:
  pc_free(scores);
  pc_free(names);
  return rc;
}

int pc_eval_run(pc_runtime *rt, const pc_program *prog, const pc_dataset *ds,
                pc_metric *metric, const pc_eval_opts *opts,
                pc_eval_result **out, pc_error *err)
{
  struct ev ev;
  pc_eval_result *r;
  size_t n = opts->indices ? opts->n_indices : ds->n_rows, started;
  int rc;

  *out = NULL;
  memset(&ev, 0, sizeof(ev));
  r = pc_calloc(1, sizeof(*r));
  if (!r || !(r->rows = pc_calloc(n ? n : 1, sizeof(pc_eval_row)))) {
    pc_free(r);
    return pc_error_set(err, PC_E_NOMEM, "eval: out of memory");
  }
  r->n_rows = n;
  for (size_t k = 0; k < n; k++) {
    size_t idx = opts->indices ? opts->indices[k] : k;

    if (idx >= ds->n_rows) {
      pc_eval_result_free(r);
      return pc_error_set(err, PC_E_INVALID_ARG, "eval: example index %zu "
                          "out of range (the split has %zu)", idx,
                          ds->n_rows);
    }
    r->rows[k].index = idx;
  }
  ev.rt = rt;
  ev.prog = prog;
  ev.ds = ds;
  ev.metric = metric;
  ev.o = opts;
  ev.res = r;
  ev.max_errors = opts->max_errors ? opts->max_errors
                                   : PC_MAX_ERRORS_DEFAULT;
  ev.prog_state.total = n;
  pthread_mutex_init(&ev.lock, NULL);
  started = pc_sched_run(pc_runtime_sched(rt), n, eval_task, &ev);
  pthread_mutex_destroy(&ev.lock);

  /* As DSPy, reaching max_errors aborts the run, even on the last
   * example; the report keeps the rows up to the one that reached it. */
  r->max_errors = ev.max_errors;
  r->refused = ev.refused;
  r->n_runs = ev.runs;
  r->n_metric_calls = ev.metric_calls;
  r->n_done = cut_point(&ev, started, &r->stopped);
  r->aborted = r->n_done < n && !r->stopped && !r->refused;
  if (!r->aborted && ev.max_errors > 0) {
    size_t errors = 0;

    for (size_t k = 0; k < r->n_done; k++)
      errors += r->rows[k].status == PC_ROW_ERROR;
    r->aborted = errors >= (size_t)ev.max_errors;
  }
  for (size_t k = r->n_done; k < n; k++) {
    /* Rows past the cut are not reported, whatever they hold. */
    pc_eval_row *row = &r->rows[k];

    pc_free(row->error);
    pc_free(row->feedback);
    json_object_put(row->inputs);
    json_object_put(row->outputs);
    json_object_put(row->trace);
    memset(row, 0, sizeof(*row));
    row->index = opts->indices ? opts->indices[k] : k;
    row->status = PC_ROW_NOT_RUN;
  }
  rc = summarise(&ev, err);
  if (rc) {
    pc_eval_result_free(r);
    return rc;
  }
  *out = r;
  return PC_OK;
}

void pc_eval_result_free(pc_eval_result *r)
{
  if (!r)
    return;
  for (size_t k = 0; k < r->n_rows; k++) {
    pc_free(r->rows[k].error);
    pc_free(r->rows[k].feedback);
    json_object_put(r->rows[k].inputs);
    json_object_put(r->rows[k].outputs);
    json_object_put(r->rows[k].trace);
  }
  pc_free(r->rows);
  for (size_t i = 0; i < r->n_slices; i++)
    pc_free(r->slices[i].name);
  pc_free(r->slices);
  pc_free(r);
}

double pc_eval_percent(const pc_eval_result *r)
{
  if (!r->n_done)
    return 0.0;
  return round(100.0 * r->sum / (double)r->n_done * 100.0) / 100.0;
}

static int put_int(struct json_object *o, const char *k, int64_t v)
{
  return json_object_object_add(o, k, json_object_new_int64(v));
}

struct json_object *pc_eval_summary_json(const pc_eval_result *r)
{
  struct json_object *o = json_object_new_object();
  struct json_object *errors = json_object_new_object();
  struct json_object *slices = json_object_new_object();
  int bad = !o || !errors || !slices;

  if (bad)
    goto fail;
  bad |= put_int(o, "examples", (int64_t)r->n_rows);
  bad |= put_int(o, "evaluated", (int64_t)r->n_done);
  bad |= json_object_object_add(o, "score", json_object_new_double(r->mean));
  bad |= json_object_object_add(o, "ci95_low",
                                json_object_new_double(r->ci_low));
  bad |= json_object_object_add(o, "ci95_high",
                                json_object_new_double(r->ci_high));
  for (size_t i = 0; i < r->n_slices && !bad; i++) {
    struct json_object *sl = json_object_new_object();

    if (!sl || json_object_object_add(slices, r->slices[i].name, sl)) {
      json_object_put(sl);
      bad = 1;
      break;
    }
    bad |= put_int(sl, "n", (int64_t)r->slices[i].n);
    bad |= json_object_object_add(sl, "score",
                                  json_object_new_double(r->slices[i].mean));
    bad |= json_object_object_add(sl, "ci95_low", json_object_new_double(
                                                    r->slices[i].ci_low));
    bad |= json_object_object_add(sl, "ci95_high", json_object_new_double(
                                                     r->slices[i].ci_high));
  }
  bad |= json_object_object_add(o, "slices", slices);
  slices = NULL;
  bad |= put_int(errors, "total", (int64_t)r->n_errors);
  bad |= put_int(errors, "parse", (int64_t)r->n_parse_errors);
  bad |= put_int(errors, "lm", (int64_t)r->n_lm_errors);
  bad |= put_int(errors, "metric", (int64_t)r->n_metric_errors);
  bad |= put_int(errors, "program", (int64_t)r->n_program_errors);
  bad |= json_object_object_add(o, "errors", errors);
  errors = NULL;
  bad |= json_object_object_add(o, "aborted",
                                json_object_new_boolean(r->aborted));
  bad |= put_int(o, "max_errors", r->max_errors);
  bad |= json_object_object_add(o, "usage", pc_usage_to_json(&r->usage));
  if (!bad)
    return o;
fail:
  json_object_put(o);
  json_object_put(errors);
  json_object_put(slices);
  return NULL;
}
