/*
 * run.c - running a program's flow step by step.
 */
#include <string.h>

#include "alloc.h"
#include "host.h"
#include "run.h"

int pc_program_run(pc_run_ctx *ctx, const pc_program *prog,
                   const struct json_object *inputs,
                   struct json_object **outputs, pc_error *err)
{
  size_t n = pc_program_n_steps(prog);
  struct json_object **step_out;
  int rc = PC_OK;

  *outputs = NULL;
  step_out = pc_calloc(n ? n : 1, sizeof(*step_out));
  if (!step_out)
    return pc_error_set(err, PC_E_NOMEM, "run: out of memory");
  for (size_t i = 0; i < n && rc == PC_OK; i++) {
    const pc_step *st = pc_program_step(prog, i);
    struct json_object *in = NULL;
    pc_error e = PC_ERROR_INIT;

    if (ctx->call && ctx->call->cancelled) {
      rc = pc_error_set(err, PC_E_CANCELLED, "step %s: cancelled", st->id);
      break;
    }
    rc = pc_program_step_inputs(prog, i, inputs,
                                (const struct json_object *const *)step_out,
                                &in, &e);
    if (rc == PC_OK)
      rc = pc_predict(ctx, st->module->predictor, in, &step_out[i], &e);
    json_object_put(in);
    if (rc) {
      /* The message already names the step or predictor. */
      pc_error_set(err, rc, "%s", e.message);
      err->http_status = e.http_status;
      err->retry_after_ms = e.retry_after_ms;
    }
  }
  if (rc == PC_OK)
    rc = pc_program_outputs(prog, inputs,
                            (const struct json_object *const *)step_out,
                            outputs, err);
  for (size_t i = 0; i < n; i++)
    json_object_put(step_out[i]);
  pc_free(step_out);
  return rc;
}
