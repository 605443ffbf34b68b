/*
 * run.h - running a whole program on one input: its flow's steps in
 * order, each a predictor call through the LM call path (predict.h), and
 * the program's outputs gathered from the steps.
 */
#ifndef PC_RUN_H
#define PC_RUN_H

#include <json-c/json.h>

#include "errors.h"
#include "predict.h"
#include "program.h"

/*
 * pc_program_run - run `prog` on `inputs` (an object of program inputs;
 * borrowed) in `ctx` (its trace and usage collect what the run did).
 *
 * On success *outputs is a new object (json_object_put) of the program's
 * outputs. On failure *outputs is NULL and the code is that of the
 * failure (see
 * pc_predict; PC_E_INVALID_ARG for an input the program needs but was
 * not given). `err` names the step or predictor ("classify: ...").
 * The trace keeps the calls that succeeded before it.
 */
int pc_program_run(pc_run_ctx *ctx, const pc_program *prog,
                   const struct json_object *inputs,
                   struct json_object **outputs, pc_error *err);

#endif
