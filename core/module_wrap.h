/*
 * module_wrap.h - what the wrapper module types (best_of_n, refine,
 * multi_chain_comparison, parallel, ensemble) share: the rollout loop of
 * best_of_n and refine, child run contexts, and member checks. Defined in
 * module_best_of_n.c; internal to core/.
 */
#ifndef PC_MODULE_WRAP_H
#define PC_MODULE_WRAP_H

#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"
#include "module.h"
#include "predict.h"

#define PC__BON_MAX 32  /* most attempts of best_of_n and refine */

/* The rollout id the attempts count up from: the run's overrides'
 * "rollout_id", else the role's LM settings', else 0 (DSPy's
 * lm.kwargs.get("rollout_id", 0)). */
int64_t pc__wrap_rollout_start(pc_run_ctx *ctx);

/*
 * pc__wrap_overrides - the run's overrides (deep-copied) with
 * "temperature" set and, when `rollout` is non-zero, "rollout_id". A new
 * object (json_object_put), NULL when out of memory. So nested wrappers
 * combine: an inner best_of_n counts up from the outer attempt's id.
 */
struct json_object *pc__wrap_overrides(const pc_run_ctx *ctx, int rollout,
                                       int64_t rollout_id,
                                       double temperature);

/* A context for one sub-run: `ctx` with `overrides` (borrowed), an empty
 * trace and zero usage. */
void pc__wrap_child_begin(pc_run_ctx *child, const pc_run_ctx *ctx,
                          const struct json_object *overrides);

/* Add the child's usage to `ctx` and hand its trace to *trace (replacing
 * and putting what *trace held; may be NULL: the trace is dropped). */
void pc__wrap_child_end(pc_run_ctx *ctx, pc_run_ctx *child,
                        struct json_object **trace);

/* Append copies of the records of `trace` (borrowed, may be NULL) to
 * ctx->trace, within its cap. PC_OK or PC_E_NOMEM. */
int pc__wrap_append_trace(pc_run_ctx *ctx, const struct json_object *trace);

/* Append a str input field `name` with description `desc` to `sig`
 * (instructions unchanged, as DSPy's Signature.append). PC_E_INVALID_ARG
 * when the name is taken, PC_E_NOMEM. */
int pc__wrap_append_input(pc_signature *sig, const char *name,
                          const char *desc);

/* The module that spec's "module" names, declared earlier (borrowed). */
int pc__wrap_inner(pc_module_loader *ld, pc_module *m,
                   const struct json_object *spec, const pc_module **out);

/* An integer member in [lo, hi]; `dflt` when absent and not required. */
int pc__wrap_int(pc_module_loader *ld, pc_module *m,
                 const struct json_object *spec, const char *member,
                 int64_t lo, int64_t hi, int64_t dflt, int required,
                 int64_t *out);

/* best_of_n's settings (module, n, reward, threshold, fail_count). */
typedef struct pc__bon pc__bon;

/* What refine adds to the loop; any member may be NULL. */
typedef struct pc__bon_hooks {
  /* Run the inner module once in `actx` (the attempt's own context). */
  int (*attempt)(void *user, pc_run_ctx *actx, const pc_module *inner,
                 const struct json_object *inputs, struct json_object **out,
                 pc_error *err);
  /* After an attempt below the threshold that is not the last: `trace`
   * and `outputs` are the attempt's (borrowed). Runs in `ctx`. */
  int (*feedback)(void *user, pc_run_ctx *ctx,
                  const struct json_object *inputs,
                  const struct json_object *trace,
                  const struct json_object *outputs, double reward,
                  pc_error *err);
  void *user;
} pc__bon_hooks;

/* Check the members and set m->io to the inner module's io. On success
 * *out is owned by the caller (pc__bon_free). */
int pc__bon_load(pc_module_loader *ld, pc_module *m,
                 const struct json_object *spec, pc__bon **out);
void pc__bon_free(pc__bon *b);  /* NULL is a no-op */
const pc_module *pc__bon_inner(const pc__bon *b);
const struct json_object *pc__bon_reward_spec(const pc__bon *b);
double pc__bon_threshold(const pc__bon *b);

/*
 * pc__bon_run - DSPy's BestOfN loop: up to n attempts of the inner module
 * with rollout ids start, start+1, ... at temperature 1.0, each scored by
 * the reward (the module's inputs as the example); stops at the first
 * reward >= threshold, else keeps the best (the first of equal rewards).
 * A failed attempt i raises when i > fail_count, else uses one up. On
 * success *outputs is new (json_object_put) and the best attempt's trace
 * records were appended to ctx->trace.
 */
int pc__bon_run(pc_run_ctx *ctx, const pc_module *m, const pc__bon *b,
                const pc__bon_hooks *hooks, const struct json_object *inputs,
                struct json_object **outputs, pc_error *err);

#endif
