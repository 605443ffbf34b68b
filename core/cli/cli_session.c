/* cli_session.c - what `run` and `eval` share: their common options and
 * opening a program with its config, plugins and runtime. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "eval.h"
#include "metric.h"
#include "program.h"
#include "runtime.h"

int cli_run_option(int c, const char *arg, cli_run_opts *o)
{
  char *end;
  long n;

  switch (c) {
  case CLI_OPT_CONFIG:
    o->config = arg;
    return 1;
  case CLI_OPT_THREADS:
    n = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || n < 1 || n > PC_SCHED_MAX_THREADS) {
      cli_error("--threads: expected an integer from 1 to %d, got '%s'",
                PC_SCHED_MAX_THREADS, arg);
      return -1;
    }
    o->threads = (int)n;
    return 1;
  case CLI_OPT_CACHE:
    o->cache = arg;
    return 1;
  case CLI_OPT_NO_CACHE:
    o->no_cache = 1;
    return 1;
  case CLI_OPT_ADAPTER:
    o->adapter = arg;
    return 1;
  default:
    return 0;
  }
}

int cli_status_of(int code)
{
  switch (code) {
  case PC_E_INVALID_ARG:
    return PC_EXIT_INPUT;
  case PC_E_UNSUPPORTED:
  case PC_E_NOMEM:
  case PC_E_INTERNAL:
    return PC_EXIT_ENV;
  default:
    return PC_EXIT_FAIL;
  }
}

int cli_session_open(const char *program, const cli_run_opts *o,
                     cli_session *s)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(s, 0, sizeof(*s));
  if (!o->config) {
    cli_error("--config is required: it names the LM to use (see "
              "docs/config.md; examples/*/sim.json use the built-in sim)");
    return PC_EXIT_USAGE;
  }
  if (pc_program_load(program, &prog, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "program");
  return cli_session_open_program(prog, program, o, s);
}

int cli_session_open_program(pc_program *prog, const char *origin,
                             const cli_run_opts *o, cli_session *s)
{
  pc_runtime_opts ro;
  pc_error err = PC_ERROR_INIT;
  int status;

  memset(s, 0, sizeof(*s));
  s->prog = prog;
  if (!o->config) {
    cli_error("--config is required: it names the LM to use (see "
              "docs/config.md; examples/*/sim.json use the built-in sim)");
    cli_session_close(s);
    return PC_EXIT_USAGE;
  }
  status = cli_load_config(o->config, &s->cfg);
  if (status == PC_EXIT_OK)
    status = cli_load_registry(s->cfg, &s->reg);
  if (status != PC_EXIT_OK) {
    cli_session_close(s);
    return status;
  }
  memset(&ro, 0, sizeof(ro));
  ro.cfg = s->cfg;
  ro.reg = s->reg;
  ro.threads = o->threads;
  ro.cache_path = o->cache;
  ro.no_cache = o->no_cache;
  ro.adapter = o->adapter;
  if (pc_runtime_open(&ro, &s->rt, &err)) {
    status = cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_INPUT
                                                   : PC_EXIT_ENV,
                      &err, o->config);
    cli_session_close(s);
    return status;
  }
  /* Every adapter the program will use must exist before anything runs,
   * or each example would fail on its own. */
  if (pc_runtime_check_program(s->rt, s->prog, &err)) {
    status = cli_fail(PC_EXIT_ENV, &err, origin);
    cli_session_close(s);
    return status;
  }
  return PC_EXIT_OK;
}

void cli_session_close(cli_session *s)
{
  pc_runtime_close(s->rt);
  pc_registry_free(s->reg);
  pc_config_free(s->cfg);
  pc_program_free(s->prog);
  memset(s, 0, sizeof(*s));
}

/* The dataset, with its input keys: --inputs, else the program's inputs,
 * so a row that lacks one is reported with file:line at load time. */
int cli_load_dataset(const char *path, const char *inputs,
                     const pc_program *prog, int skip_malformed,
                     const char *what, pc_dataset **ds)
{
  pc_dataset_opts dopts;
  pc_error err = PC_ERROR_INIT;
  const char *prog_keys[64];
  char **keys = NULL;
  size_t n_keys = 0;
  int rc;

  memset(&dopts, 0, sizeof(dopts));
  if (inputs) {
    if (pc_dataset_parse_keys(inputs, &keys, &n_keys, &err))
      return cli_fail(PC_EXIT_USAGE, &err, "--inputs");
    for (size_t i = 0; i < pc_program_n_inputs(prog); i++) {
      const char *need = pc_program_input(prog, i);
      size_t k = 0;

      while (k < n_keys && strcmp(keys[k], need) != 0)
        k++;
      if (k == n_keys) {
        cli_error("--inputs: the program also needs the input '%s'", need);
        pc_dataset_keys_free(keys, n_keys);
        return PC_EXIT_USAGE;
      }
    }
    dopts.input_keys = (const char *const *)keys;
    dopts.n_input_keys = n_keys;
  } else {
    n_keys = pc_program_n_inputs(prog);
    if (n_keys > 64) {
      cli_error("%s: the program has %zu inputs; name them with --inputs",
                what, n_keys);
      return PC_EXIT_USAGE;
    }
    for (size_t i = 0; i < n_keys; i++)
      prog_keys[i] = pc_program_input(prog, i);
    dopts.input_keys = prog_keys;
    dopts.n_input_keys = n_keys;
    n_keys = 0;
  }
  dopts.skip_malformed = skip_malformed;
  rc = pc_dataset_load(path, &dopts, ds, &err);
  pc_dataset_keys_free(keys, n_keys);
  if (rc)
    return cli_fail(PC_EXIT_INPUT, &err, what);
  for (size_t i = 0; i < (*ds)->n_skipped; i++)
    cli_error("warning: %s:%zu: skipped: %s", path,
              (*ds)->skipped[i].line, (*ds)->skipped[i].reason);
  if ((*ds)->n_rows == 0) {
    cli_error("%s: %s: no examples", what, path);
    pc_dataset_free(*ds);
    *ds = NULL;
    return PC_EXIT_INPUT;
  }
  return PC_EXIT_OK;
}

int cli_open_metric(const char *metric, const cli_session *s,
                    const char *cmd, pc_metric **m)
{
  struct json_object *spec = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc;

  if (metric) {
    if (pc_config_metric_spec(metric, "--metric", &spec, &err))
      return cli_fail(PC_EXIT_USAGE, &err, cmd);
  } else if (s->cfg->metric) {
    spec = json_object_get(s->cfg->metric);
  } else {
    cli_error("%s: no metric: give --metric NAME[:FIELD] or \"metric\" in "
              "the config (see `promptc plugins list` for metrics)", cmd);
    return PC_EXIT_USAGE;
  }
  rc = pc_metric_open(s->reg, spec, m, &err);
  json_object_put(spec);
  if (rc == PC_E_INVALID_ARG && !metric)
    return cli_fail(PC_EXIT_INPUT, &err, s->cfg->path);  /* the config's */
  if (rc)
    return cli_fail(rc == PC_E_INVALID_ARG ? PC_EXIT_USAGE : PC_EXIT_ENV,
                    &err, "--metric");
  return PC_EXIT_OK;
}

int cli_score(cli_session *s, const pc_program *prog, const pc_dataset *ds,
              pc_metric *m, int progress, const char *what,
              struct json_object **summary)
{
  pc_eval_opts eo;
  pc_eval_result *res = NULL;
  cli_progress live;
  pc_error err = PC_ERROR_INIT;
  int status = PC_EXIT_OK;

  *summary = NULL;
  memset(&eo, 0, sizeof(eo));
  eo.max_errors = s->cfg->max_errors;
  eo.failure_score = s->cfg->failure_score;
  eo.role = PC_ROLE_LM;
  cli_progress_init(&live, progress);
  eo.progress = cli_progress_update;
  eo.progress_ctx = &live;
  if (pc_eval_run(s->rt, prog, ds, m, &eo, &res, &err)) {
    cli_progress_done(&live);
    return cli_fail(PC_EXIT_ENV, &err, what);
  }
  cli_progress_done(&live);
  if (res->aborted) {
    const char *first = "?";

    for (size_t k = 0; k < res->n_done; k++)
      if (res->rows[k].error) {
        first = res->rows[k].error;
        break;
      }
    cli_error("%s: stopped at max_errors (%lld) after %zu of %zu examples; "
              "the first error: %s", what, (long long)res->max_errors,
              res->n_done, res->n_rows, first);
    status = PC_EXIT_ABORTED;
  } else if (!(*summary = pc_eval_summary_json(res))) {
    cli_error("out of memory");
    status = PC_EXIT_ENV;
  } else {
    json_object_object_del(*summary, "usage");
  }
  pc_eval_result_free(res);
  return status;
}

struct json_object *cli_dataset_hashes(const pc_dataset *ds)
{
  struct json_object *arr = json_object_new_array();

  for (size_t i = 0; arr && i < ds->n_rows; i++) {
    char hex[PC_SHA256_HEX_LEN + 1];

    struct json_object *h = NULL;

    if (pc_example_content_hash(&ds->rows[i], hex) ||
        !(h = json_object_new_string(hex)) || json_object_array_add(arr, h)) {
      if (h)
        json_object_put(h);
      json_object_put(arr);
      return NULL;
    }
  }
  return arr;
}
