/* cli_session.c - what `run` and `eval` share: their common options and
 * opening a program with its config, plugins and runtime. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
  pc_runtime_opts ro;
  pc_error err = PC_ERROR_INIT;
  int status;

  memset(s, 0, sizeof(*s));
  if (!o->config) {
    cli_error("--config is required: it names the LM to use (see "
              "docs/config.md; examples/*/sim.json use the built-in sim)");
    return PC_EXIT_USAGE;
  }
  if (pc_program_load(program, &s->prog, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "program");
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
    status = cli_fail(PC_EXIT_ENV, &err, program);
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
