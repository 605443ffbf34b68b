/*
 * eval.h - evaluating a program on a dataset with a metric, in parallel on
 * the runtime's scheduler, with DSPy's Evaluate semantics
 * (reference dspy-core.md section 5): every failure (program or metric)
 * is counted, scores failure_score and keeps its slot; when the errors
 * reach max_errors the run stops and says so.
 *
 * Results are the same at any thread count: rows are kept in example
 * order, and a run stopped at max_errors is cut after the example (in
 * example order) that made the count reach max_errors, so which
 * examples are reported does not depend on timing either.
 */
#ifndef PC_EVAL_H
#define PC_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "dataset.h"
#include "errors.h"
#include "metric.h"
#include "program.h"
#include "runtime.h"

/* pc_eval_row.status */
#define PC_ROW_NOT_RUN 0  /* cut off by max_errors (not reported) */
#define PC_ROW_OK 1       /* ran and was scored */
#define PC_ROW_ERROR 2    /* failed: scored failure_score */

/* pc_eval_row.error_kind */
#define PC_ERR_NONE 0
#define PC_ERR_PARSE 1    /* no adapter could parse the LM's answer */
#define PC_ERR_LM 2       /* the LM call failed */
#define PC_ERR_METRIC 3   /* the metric failed */
#define PC_ERR_PROGRAM 4  /* anything else: a missing input, ... */

typedef struct pc_eval_progress {
  size_t done, total;     /* examples finished / to run */
  double score_sum;       /* of finished examples */
  size_t errors;
  pc_usage usage;         /* of finished examples */
} pc_eval_progress;

typedef struct pc_eval_opts {
  int64_t max_errors;      /* 0: PC_MAX_ERRORS_DEFAULT; < 0: no limit */
  double failure_score;    /* score of a failed example (DSPy: 0.0) */
  int role;                /* LM role running the program (PC_ROLE_LM) */
  const struct json_object *overrides;  /* per-run call settings, or NULL */
  unsigned run_flags;      /* PC_RUN_* for each example's run */
  int keep_traces;         /* keep each row's trace */
  int feedback;            /* keep the metric's feedback text */
  const size_t *indices;   /* examples to run, in this order; NULL: all */
  size_t n_indices;
  /* Called after each example finishes (in completion order, one call at
   * a time, from worker threads): for the live progress line. */
  void (*progress)(void *ctx, const pc_eval_progress *p);
  void *progress_ctx;
  /* Stop, in example order, once this many rows succeeded (ran, scored
   * >= success_threshold and > 0); 0: run all. Rows past the one that
   * made the count are dropped (result->stopped), whatever the timing. */
  int64_t stop_after_successes;
  double success_threshold;
  int exclude_self;        /* hide the demos equal to the running example */
  int metric_trace;        /* give the metric the run's trace */
  /* Asked before each example starts (from worker threads, one call at a
   * time): zero refuses it, stops the batch and sets result->refused.
   * The compile host uses it for budget caps. NULL: admit all. */
  int (*admit)(void *ctx);
  void *admit_ctx;
} pc_eval_opts;

typedef struct pc_eval_row {
  size_t index;                  /* the example's index in the dataset */
  int status;                    /* PC_ROW_* */
  int error_kind;                /* PC_ERR_* */
  char *error;                   /* owned, NULL when none */
  struct json_object *inputs;    /* owned: what the program was given */
  struct json_object *outputs;   /* owned, NULL when the program failed */
  double score;
  char *feedback;                /* owned, or NULL */
  struct json_object *trace;     /* owned with keep_traces, else NULL */
  pc_usage usage;
} pc_eval_row;

typedef struct pc_eval_slice {
  char *name;                    /* owned */
  size_t n;
  double mean, ci_low, ci_high;
} pc_eval_slice;

typedef struct pc_eval_result {
  pc_eval_row *rows;             /* owned: one per requested example */
  size_t n_rows;
  size_t n_done;                 /* rows reported: all, or the prefix up to
                                    the max_errors cut */
  int aborted;                   /* max_errors was reached */
  int stopped;                   /* stop_after_successes was reached */
  int refused;                   /* admit() refused an example */
  size_t n_runs;                 /* programs run, dropped rows included */
  size_t n_metric_calls;         /* metric calls, dropped rows included */
  int64_t max_errors;            /* the limit applied (< 0: none) */
  size_t n_errors;
  size_t n_parse_errors, n_lm_errors, n_metric_errors, n_program_errors;
  double sum, mean, ci_low, ci_high;  /* over the n_done rows */
  pc_eval_slice *slices;         /* owned, by name; only when examples
                                    carry a slice */
  size_t n_slices;
  pc_usage usage;                /* of the reported rows */
} pc_eval_result;

/*
 * pc_eval_run - evaluate `prog` on `ds` with `metric` (NULL: run only,
 * every successful row scores 1) in runtime `rt`.
 *
 * Program inputs are the dataset's input keys (--inputs), else the
 * program's inputs. All arguments are borrowed. On PC_OK *out owns the
 * result (pc_eval_result_free), including when the run was aborted at
 * max_errors (result->aborted). Errors are only PC_E_NOMEM and
 * PC_E_INVALID_ARG (a bad index).
 */
int pc_eval_run(pc_runtime *rt, const pc_program *prog, const pc_dataset *ds,
                pc_metric *metric, const pc_eval_opts *opts,
                pc_eval_result **out, pc_error *err);

void pc_eval_result_free(pc_eval_result *r);  /* NULL is a no-op */

/* DSPy's Evaluate score of the reported rows: round(100 * sum / n, 2),
 * 0 when none was reported. */
double pc_eval_percent(const pc_eval_result *r);

/* The eval's kind name: "parse", "lm", "metric", "program" (static). */
const char *pc_eval_error_kind_name(int kind);

/*
 * pc_eval_summary_json - the scores of a result as a new object owned by
 * the caller (NULL on OOM): {"examples", "evaluated", "score",
 * "ci95_low", "ci95_high", "slices": {NAME: {"n", "score", "ci95_low",
 * "ci95_high"}}, "errors": {"total", "parse", "lm", "metric",
 * "program"}, "aborted", "max_errors", "usage"}. `promptc eval --json`
 * prints it with the program, data and model in front; artifacts keep it
 * in eval/report.json.
 */
struct json_object *pc_eval_summary_json(const pc_eval_result *r);

#endif
