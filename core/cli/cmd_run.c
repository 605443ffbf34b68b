/* cmd_run.c - `promptc run`: run a program once on one input and print
 * its prediction. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "predict.h"
#include "run.h"

static void run_usage(FILE *f)
{
  fputs("usage: promptc run PROGRAM.json --config CONFIG.json "
        "--input-json JSON|@FILE\n"
        "                   [--trace] [--threads N] [--cache PATH | "
        "--no-cache] [--adapter NAME]\n"
        "                   [--runs FILE | --no-record]\n"
        "       promptc run --artifact NAME.ppa --config CONFIG.json "
        "--input-json ...\n\n"
        "Run PROGRAM once on the input object and print its outputs as "
        "JSON.\n\n"
        "options:\n"
        "  -i, --input-json J   the program's inputs: a JSON object, or "
        "@FILE to read it\n"
        "  -t, --trace          also print every LM call: predictor, "
        "messages, raw\n"
        "                       completion, usage, cache hit\n"
        CLI_RECORD_OPTIONS_HELP
        CLI_RUN_OPTIONS_HELP
        CLI_ARTIFACT_OPTIONS_HELP
        "  -h, --help           show this help\n\n"
        "Output: the outputs object; with --trace {\"outputs\", \"trace\", "
        "\"usage\"}.\n"
        "Exit status: 0 ok, 1 the run failed (LM error, unparseable "
        "answer),\n"
        "2 usage, 3 bad program/config/input, 4 plugin or environment "
        "problem.\n", f);
}

/* The run's result for the run store: {"outputs"} or {"error"}, and
 * "usage". NULL when out of memory (the run is recorded without one). */
static struct json_object *run_result(const pc_run_ctx *ctx,
                                      struct json_object *outputs,
                                      const pc_error *err)
{
  struct json_object *o = json_object_new_object();

  if (!o)
    return NULL;
  if ((outputs ? json_object_object_add(o, "outputs",
                                        json_object_get(outputs))
               : json_object_object_add(o, "error", json_object_new_string(
                                                       err->message))) ||
      json_object_object_add(o, "usage", pc_usage_to_json(&ctx->usage))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* With --trace, what the run did is printed even when it failed. */
static int print_traced(const pc_run_ctx *ctx, struct json_object *outputs,
                        const pc_error *err)
{
  struct json_object *o = json_object_new_object();
  int status;

  if (!o) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  if (outputs)
    json_object_object_add(o, "outputs", json_object_get(outputs));
  else
    json_object_object_add(o, "error", json_object_new_string(err->message));
  json_object_object_add(o, "trace", ctx->trace ? json_object_get(ctx->trace)
                                                : json_object_new_array());
  json_object_object_add(o, "usage", pc_usage_to_json(&ctx->usage));
  status = cli_print_json(stdout, o);
  json_object_put(o);
  return status;
}

int cmd_run(int argc, char **argv)
{
  static const struct option opts[] = {
    {"input-json", required_argument, NULL, 'i'},
    {"trace", no_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    CLI_RUN_LONG_OPTIONS,
    CLI_ARTIFACT_LONG_OPTIONS,
    CLI_RECORD_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
  };
  cli_run_opts ro = {0};
  cli_artifact_opts ao = {0};
  cli_record_opts rco = {0};
  cli_record rec;
  const char *program;
  const char *input_arg = NULL;
  struct json_object *inputs = NULL, *outputs = NULL, *result = NULL;
  cli_session s;
  pc_run_ctx ctx;
  pc_error err = PC_ERROR_INIT;
  int c, trace = 0, status, rc;

  memset(&s, 0, sizeof(s));
  memset(&rec, 0, sizeof(rec));
  optind = 1;
  while ((c = getopt_long(argc, argv, "i:tc:a:p:h", opts, NULL)) != -1) {
    int r = cli_run_option(c, optarg, &ro);

    if (r < 0)
      return PC_EXIT_USAGE;
    if (r > 0 || cli_artifact_option(c, optarg, &ao) ||
        cli_record_option(c, optarg, &rco))
      continue;
    switch (c) {
    case 'i': input_arg = optarg; break;
    case 't': trace = 1; break;
    case 'h': run_usage(stdout); return PC_EXIT_OK;
    default: run_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind < argc - 1) {
    cli_error("run: one PROGRAM.json expected");
    run_usage(stderr);
    return PC_EXIT_USAGE;
  }
  program = optind < argc ? argv[optind] : NULL;
  if (!input_arg) {
    cli_error("run: --input-json is required (a JSON object of the "
              "program's inputs)");
    return PC_EXIT_USAGE;
  }
  status = cli_json_arg(input_arg, "--input-json", &inputs);
  if (status != PC_EXIT_OK)
    return status;
  if (!json_object_is_type(inputs, json_type_object)) {
    json_object_put(inputs);
    cli_error("--input-json: expected a JSON object such as "
              "{\"question\": \"...\"}");
    return PC_EXIT_USAGE;
  }
  status = cli_session_open_any("run", program, &ao, &ro, 0, &s);
  if (status != PC_EXIT_OK) {
    json_object_put(inputs);
    return status;
  }
  pc_run_ctx_init(&ctx, s.rt);
  if (trace)
    ctx.flags |= PC_RUN_TRACE_DETAIL;
  cli_record_begin(&rec, &rco, "run", argc, argv, ro.config, s.rt);
  rc = pc_program_run(&ctx, s.prog, inputs, &outputs, &err);
  result = run_result(&ctx, outputs, &err);
  cli_record_end(&rec, rc ? "failed" : "done", result);
  if (rec.interrupted) {
    cli_error("run: interrupted; run %s", rec.id);
    status = PC_EXIT_FAIL;
  } else if (trace)
    status = print_traced(&ctx, outputs, &err);
  else if (rc == PC_OK)
    status = cli_print_json(stdout, outputs);
  if (rc && !rec.interrupted)
    status = cli_fail(cli_status_of(rc), &err,
                      program ? program : ao.artifact);
  json_object_put(result);
  json_object_put(outputs);
  json_object_put(inputs);
  pc_run_ctx_clear(&ctx);
  cli_session_close(&s);
  return cli_record_exit(&rec, status);
}
