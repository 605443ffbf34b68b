/*
 * compile.h - the compile host: runs an optimizer plugin against the
 * compile API of promptc/plugin.h (docs/compile-api.md).
 *
 * The optimizer asks; the host answers. Evaluations run on the runtime's
 * scheduler through the cache, proposals go to the prompt, teacher or
 * reflection role, everything is counted against the budget, and every
 * answer is logged in the run store so that a killed compile, started
 * again with the same run id, replays the answers it already has and goes
 * on live from the first one it lacks.
 */
#ifndef PC_COMPILE_H
#define PC_COMPILE_H

#include <stdint.h>
#include <json-c/json.h>

#include "budget.h"
#include "dataset.h"
#include "errors.h"
#include "metric.h"
#include "optimizer.h"
#include "program.h"
#include "runstore.h"
#include "runtime.h"

/* What the live progress line shows. */
typedef struct pc_compile_progress {
  int64_t trial, of;         /* as the optimizer reported; of <= 0: unknown */
  double best;               /* best score reported so far (NAN: none) */
  pc_budget_spent spent;     /* budget counters */
  int64_t requests;          /* evaluate and propose requests so far */
} pc_compile_progress;

typedef struct pc_compile_opts {
  pc_runtime *rt;             /* borrowed: roles, cache, scheduler */
  const pc_config *cfg;       /* borrowed: pricing, failure_score */
  const pc_program *program;  /* borrowed: the starting program */
  const pc_dataset *train;    /* borrowed */
  const pc_dataset *val;      /* borrowed; may be train */
  pc_metric *metric;          /* borrowed; NULL: no metric */
  pc_optimizer *optimizer;    /* borrowed */
  uint64_t seed;
  pc_budget_caps caps;
  pc_runstore *store;         /* borrowed; NULL: no log, no resume */
  const char *run_id;         /* the run in `store` */
  int resume;                 /* replay the run's log first */
  const char *export_dir;     /* borrowed: where write_file puts files
                                 (created on first use); NULL: the API's
                                 write_file refuses */
  void (*progress)(void *ctx, const pc_compile_progress *p);
  void *progress_ctx;
} pc_compile_opts;

typedef struct pc_compile_result {
  struct json_object *state;   /* owned: the best state, NULL when the
                                  optimizer set none */
  struct json_object *report;  /* owned: the optimizer's report, or NULL */
  struct json_object *trial_log; /* owned: array of every trial recorded,
                                  numbered, each with "at": {"elapsed_ms",
                                  "calls", "tokens", "cost" (null when a
                                  price is unknown), "metric_calls"} as
                                  spent when it was recorded (for reports;
                                  the run store keeps trials without it) */
  const char *stopped_by;      /* static: the cap that stopped it, or
                                  "cancelled", or NULL */
  char stop_message[256];      /* how the cap was reached */
  int64_t trials;
  int64_t requests;            /* evaluate + propose requests */
  int64_t replayed;            /* of which answered from the run's log */
  pc_usage task;               /* LM use of evaluations (lm, teacher_lm) */
  pc_usage proposal;           /* LM use of proposals (prompt, reflection) */
  uint64_t program_runs;
  uint64_t metric_calls;
  pc_budget_spent spent;       /* budget counters; spent.cost is USD, NAN
                                  when some price is unknown */
} pc_compile_result;

/*
 * pc_compile_run - run the optimizer. On PC_OK *out holds the result
 * (pc_compile_result_clear), including when a budget cap or a
 * cancellation stopped the search (out->stopped_by; the state is then the
 * best found so far, or NULL). On failure returns the optimizer's or the
 * host's code with a message; what *out holds is then freed.
 */
int pc_compile_run(const pc_compile_opts *opts, pc_compile_result *out,
                   pc_error *err);

void pc_compile_result_clear(pc_compile_result *r);

/*
 * pc_compile_sizes - what an optimizer's estimate is told: {"train",
 * "val", "predictors", "calls_per_run", "val_is_train"} for `prog` on
 * these splits (borrowed; val may be train). A new object
 * (json_object_put), or NULL when out of memory.
 */
struct json_object *pc_compile_sizes(const pc_program *prog,
                                     const pc_dataset *train,
                                     const pc_dataset *val);

/*
 * pc_compile_preflight - ask the optimizer's estimate about these splits
 * before anything is spent, so that settings the splits make impossible
 * (SIMBA's bsize over the train size, ...) are refused before the baseline
 * evaluation. An optimizer without an estimate passes. On failure the
 * optimizer's code (PC_E_INVALID_ARG for a setting) and message.
 */
int pc_compile_preflight(pc_optimizer *opt, const pc_program *prog,
                         const pc_dataset *train, const pc_dataset *val,
                         pc_error *err);

/*
 * pc_compile_apply_state - a new program: `prog` with `state` (an object
 * of predictor path -> {"instructions", "demos"}, members left out keep
 * prog's) applied. Borrowed arguments; *out owned by the caller
 * (pc_program_free). PC_E_INVALID_ARG names a bad path or member.
 */
int pc_compile_apply_state(const pc_program *prog,
                           const struct json_object *state,
                           pc_program **out, pc_error *err);

/* The JSON the compile API's program() returns (new object, NULL on
 * OOM). */
struct json_object *pc_compile_program_json(const pc_program *prog);

#endif
