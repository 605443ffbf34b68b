/*
 * fewshot.h - LabeledFewShot and BootstrapFewShot (reference
 * dspy-optimizers.md sections 1 and 2), shared by the opt-labeled,
 * opt-bootstrap and opt-bootstrap-rs plugins so that all three pick demos
 * with the same code.
 */
#ifndef PC_OPT_FEWSHOT_H
#define PC_OPT_FEWSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "opt_common.h"

/* The program and the train split, as a few-shot optimizer reads them
 * once at the start of compile(). */
typedef struct pc__opt_fewshot {
  const pc__opt_host *h;       /* borrowed: the plugin's host tables */
  const pc_compile_api *api;   /* borrowed for the compile */
  uint64_t seed;               /* api->seed() */
  pc_json *program;            /* owned: api->program() */
  pc_json *train;              /* owned: api->dataset("train") */
  const pc_json *examples;     /* borrowed from train: its examples */
  size_t n_train;
  const char **paths;          /* owned array of n_pred predictor paths,
                                  the strings borrowed from program */
  size_t n_pred;
} pc__opt_fewshot;

/*
 * pc__opt_fewshot_open - read the program and the train split through
 * `api`. An empty train split is PC_E_INVALID_ARG ("<who>: the train split
 * is empty"). On PC_OK fx owns what it read (pc__opt_fewshot_close); on
 * failure fx holds nothing. `h`, `api` and `who` are borrowed and must
 * outlive fx.
 */
int pc__opt_fewshot_open(pc__opt_fewshot *fx, const pc__opt_host *h,
                         const pc_compile_api *api, const char *who,
                         pc_error *err);
void pc__opt_fewshot_close(pc__opt_fewshot *fx);  /* zeroed fx: no-op */

/*
 * pc__opt_trace_demo - the bootstrapped demo of predictor `path` from one
 * example's trace (borrowed): {"augmented": true, ...inputs, ...outputs}
 * of the step, in *out (owned), or NULL when the predictor did not run.
 * When it ran several times DSPy keeps one: with probability 1/2 a random
 * one of the first N-1 steps, else the last, drawn with the keyed
 * generator (seed, "<prefix>:<path>", index).
 */
int pc__opt_trace_demo(const pc__opt_host *h, uint64_t seed,
                       const char *prefix, const pc_json *trace,
                       const char *path, int64_t index, pc_json **out,
                       pc_error *err);

/* An identity order 0..n_train-1 in *out (owned, pc__opt_free). */
int pc__opt_fewshot_order(const pc__opt_fewshot *fx, int64_t **out,
                          pc_error *err);

/*
 * pc__opt_zero_shot_state - every predictor with no demos, the state of
 * DSPy's reset_copy(): {"<path>": {"demos": []}, ...}. *out is owned.
 */
int pc__opt_zero_shot_state(const pc__opt_fewshot *fx, pc_json **out,
                            pc_error *err);

/*
 * pc__opt_labeled_state - LabeledFewShot over the train examples listed
 * in order[0..n): for each predictor in program order, with sample, a
 * sample without replacement of min(k, n) of them (one draw stream,
 * purpose "labeled", index 0, continued across predictors as DSPy's
 * shared Random(0)); without, the first min(k, n). Demos are copies of
 * the examples' fields. *out owns {"<path>": {"demos": [...]}, ...}.
 */
int pc__opt_labeled_state(const pc__opt_fewshot *fx, const int64_t *order,
                          size_t n, int64_t k, int sample, pc_json **out,
                          pc_error *err);

/* BootstrapFewShot's settings. */
typedef struct pc__opt_bootstrap_params {
  const char *who;               /* message prefix: "bootstrap",
                                    "bootstrap-rs: seed 3" (borrowed) */
  int64_t max_bootstrapped_demos;
  int64_t max_labeled_demos;
  int64_t max_rounds;            /* >= 1 */
  int64_t max_errors;            /* >= 1 */
  int has_threshold;             /* metric_threshold is set and > 0 */
  double metric_threshold;       /* in (0, 1] when has_threshold */
  int use_teacher_lm;            /* run the teacher on teacher_lm */
} pc__opt_bootstrap_params;

/* BootstrapFewShot's settings as the plugins declare them (spec order
 * PC__OPT_B_*), with DSPy's defaults. */
#define PC__OPT_B_MAX_BOOTSTRAPPED 0
#define PC__OPT_B_MAX_LABELED 1
#define PC__OPT_B_MAX_ROUNDS 2
#define PC__OPT_B_MAX_ERRORS 3
#define PC__OPT_B_METRIC_THRESHOLD 4
#define PC__OPT_B_USE_TEACHER_LM 5
#define PC__OPT_B_COUNT 6
#define PC__OPT_BOOTSTRAP_SPECS \
  {"max_bootstrapped_demos", PC__OPT_SET_INT, 0, 4, 0, 0, 0}, \
  {"max_labeled_demos", PC__OPT_SET_INT, 0, 16, 0, 0, 0}, \
  {"max_rounds", PC__OPT_SET_INT, 1, 1, 0, 0, 0}, \
  {"max_errors", PC__OPT_SET_INT, 1, 10, 0, 0, 0}, \
  {"metric_threshold", PC__OPT_SET_NUM, 0, 0, 0.0, 1.0, 0}, \
  {"use_teacher_lm", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0}

/* Fill *p from vals[0..PC__OPT_B_COUNT) (the values of the specs above);
 * `who` is borrowed. */
void pc__opt_bootstrap_params_set(pc__opt_bootstrap_params *p,
                                  const pc__opt_value *vals,
                                  const char *who);

/* What a bootstrap run did, for trials and reports. */
typedef struct pc__opt_bootstrap_info {
  int64_t attempts;   /* attempts of the sequential algorithm */
  int64_t successes;  /* examples bootstrapped */
  int64_t errors;     /* errors among those attempts */
  int64_t requests;   /* evaluate requests made */
  int64_t reported;   /* example runs the host reported (those attempts
                         plus the speculative ones it kept) */
  pc_json *ids;       /* owned (js->free), may be NULL: the ids of the
                         bootstrapped train examples, in order */
} pc__opt_bootstrap_info;

/*
 * pc__opt_bootstrap_run - BootstrapFewShot on the train examples in
 * order[0..n) (their processing order; each example's own train index
 * keys its random choices). The examples run in parallel waves, yet the
 * demos are exactly those of DSPy's sequential loop (see fewshot.c).
 *
 * On PC_OK *state owns the compiled state ({"<path>": {"demos": [...]}}
 * for every predictor: bootstrapped demos first, then labeled ones), and
 * *info (caller storage, may be NULL) says what was done (the caller
 * frees info->ids, also after a failure). On PC_E_BUDGET
 * or PC_E_CANCELLED *state is NULL and *partial (when not NULL) owns the
 * state assembled from the successes known when the request was cut. Any
 * other failure (max_errors reached, a host error) leaves both NULL.
 */
int pc__opt_bootstrap_run(const pc__opt_fewshot *fx,
                          const pc__opt_bootstrap_params *p,
                          const int64_t *order, size_t n, pc_json **state,
                          pc__opt_bootstrap_info *info, pc_json **partial,
                          pc_error *err);

/* Upper bound of the attempts of one bootstrap run on n_train examples:
 * every example, every round (0 when max_bootstrapped_demos is 0). */
int64_t pc__opt_bootstrap_max_attempts(const pc__opt_bootstrap_params *p,
                                       int64_t n_train);

#endif
