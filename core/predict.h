/*
 * predict.h - one predictor call, the LM call path of DESIGN.md section 5:
 * adapter.format -> cache (memory, then SQLite) -> provider.complete ->
 * adapter.parse, with one retry through the fallback adapter (chat ->
 * JSON) when the completion does not parse, a trace record per call and
 * the usage of every call.
 *
 * A pc_run_ctx is the state of one program run (one example): the
 * runtime it draws on, per-run settings, and what the run produced (its
 * trace and usage). It belongs to one thread at a time.
 */
#ifndef PC_PREDICT_H
#define PC_PREDICT_H

#include <json-c/json.h>

#include "errors.h"
#include "program.h"
#include "runtime.h"

#define PC_TRACE_CAP_DEFAULT 10000  /* records per run, as DSPy */

/* pc_run_ctx.flags */
#define PC_RUN_TRACE_DETAIL 1u  /* keep messages, completion, usage, model */

typedef struct pc_run_ctx {
  pc_runtime *rt;                       /* borrowed */
  int role;                             /* PC_ROLE_LM (default) or another */
  const struct json_object *overrides;  /* borrowed, or NULL: call settings
                                           over the module's, and
                                           "rollout_id" */
  pc_call *call;                        /* borrowed, or NULL */
  unsigned flags;                       /* PC_RUN_* */
  size_t trace_cap;                     /* 0: PC_TRACE_CAP_DEFAULT */
  const struct json_object *exclude_demo;  /* borrowed, or NULL: demos
                                           equal to these fields (ignoring
                                           "augmented") are not shown */
  const struct json_object *hints;      /* borrowed, or NULL: refine's
                                           advice, predictor path -> text;
                                           when set every call gets the
                                           input "hint_" (below) */
  unsigned depth;                       /* module calls in progress
                                           (pc_module_forward) */
  size_t steps;                         /* flow steps run so far */

  /* Filled by the run. */
  struct json_object *trace;            /* owned: array of call records */
  pc_usage usage;
  size_t parse_failures;                /* calls whose first parse failed */
} pc_run_ctx;

/* Zero the context and set its runtime. */
void pc_run_ctx_init(pc_run_ctx *ctx, pc_runtime *rt);

/* Free what the run produced (the trace) and zero the results. */
void pc_run_ctx_clear(pc_run_ctx *ctx);

/*
 * Hints (DSPy's Refine WrapperAdapter). While ctx->hints is set, every
 * pc_predict and pc_predict_choices call appends the str input field
 * PC_HINT_FIELD (description PC_HINT_DESC) to the predictor's signature
 * for this call only, and gives it the advice for the predictor's path
 * (a non-string value as Python's str()), or "N/A" when the hints hold
 * none. The trace record's inputs include it. A signature that already
 * has a field "hint_" fails the call with PC_E_INVALID_ARG.
 */
#define PC_HINT_FIELD "hint_"
#define PC_HINT_DESC "A hint to the module from an earlier run"

/*
 * pc_predict - call predictor `pred` on `inputs` (an object of its input
 * fields; borrowed).
 *
 * On success *outputs is a new object (json_object_put) holding the
 * parsed output fields, one trace record was appended to ctx->trace
 * ({"predictor", "inputs", "outputs"}, plus with PC_RUN_TRACE_DETAIL
 * "adapter", "model" (the identity), "served_model" (what the provider
 * said served the call, when it said), "messages", "completion",
 * "cache_hit", "usage", "latency_ms" and, after a fallback, "fallback":
 * {"adapter", "error", "completion"}), and usage was counted in ctx and in
 * the runtime. On failure *outputs is NULL and the code tells what
 * failed: PC_E_PARSE when no adapter could parse the completion (after a
 * fallback the message holds both errors, and the code is the
 * fallback's), a provider code (PC_E_PROVIDER, PC_E_TIMEOUT, ...) when an
 * LM call failed, PC_E_INVALID_ARG or PC_E_UNSUPPORTED for a bad adapter
 * or setting. Usage of calls made before a failure is still counted.
 */
int pc_predict(pc_run_ctx *ctx, const pc_predictor *pred,
               const struct json_object *inputs,
               struct json_object **outputs, pc_error *err);

/*
 * pc_predict_choices - as pc_predict, for a call that asks for several
 * completions (params "n"): *choices is a new array (json_object_put) of
 * the parsed output objects of every completion that parsed, in choice
 * order. When none parses, the fallback adapter is tried as pc_predict
 * does, and failing that the call fails with PC_E_PARSE.
 */
int pc_predict_choices(pc_run_ctx *ctx, const pc_predictor *pred,
                       const struct json_object *inputs,
                       struct json_object **choices, pc_error *err);

/* Non-zero when demo `demo` shows example `fields`: the same members with
 * equal values, a demo's "augmented" member aside. Both borrowed. */
int pc_demo_equals_example(const struct json_object *demo,
                           const struct json_object *fields);

#endif
