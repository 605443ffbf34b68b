/* cli_session.c - what `run` and `eval` share: their common options,
 * opening a program with its config, plugins and runtime, and recording
 * the run in the run store. */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "dataset.h"
#include "eval.h"
#include "host.h"
#include "metric.h"
#include "program.h"
#include "runstore.h"
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
  /* Every adapter, tool and program plugin the program will use must
   * exist before anything runs, or each example would fail on its own. A
   * bad entry of the config (PC_E_INVALID_ARG: tools.search.timeout_ms:
   * 0) is bad input; a missing plugin or index is the environment's. */
  if (pc_runtime_check_program(s->rt, s->prog, &err)) {
    status = cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_INPUT
                                                   : PC_EXIT_ENV,
                      &err, origin);
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

/* ---- recording eval and run in the run store -------------------------- */

static volatile sig_atomic_t got_sigint;
static struct sigaction saved_sigint;

/* While recording, Ctrl-C stops the calls in flight instead of the
 * process, so the run can be marked interrupted. */
static void on_sigint(int sig)
{
  (void)sig;
  got_sigint = 1;
  pc_host_cancel_all();
}

int cli_record_option(int c, const char *arg, cli_record_opts *o)
{
  switch (c) {
  case CLI_OPT_RUNS:
    o->runs = arg;
    return 1;
  case CLI_OPT_NO_RECORD:
    o->no_record = 1;
    return 1;
  default:
    return 0;
  }
}

/* `path` made absolute (resolved when it exists), as a new string; NULL
 * when out of memory. */
static char *abs_path(const char *path)
{
  char buf[PATH_MAX];
  pc_buf b;

  if (realpath(path, buf))
    return pc_strdup(buf);
  if (path[0] == '/' || !getcwd(buf, sizeof(buf)))
    return pc_strdup(path);
  pc_buf_init(&b, 0);
  if (pc_buf_printf(&b, "%s/%s", buf, path)) {
    pc_buf_free(&b);
    return NULL;
  }
  return pc_buf_take(&b, NULL);
}

/* The spec of a recorded eval or run; NULL when out of memory. */
static struct json_object *record_spec(const char *kind, int argc,
                                       char **argv, const char *config)
{
  struct json_object *o = json_object_new_object(), *args;
  char cwd[PATH_MAX], *conf = config ? abs_path(config) : NULL;
  int bad = !o || (config && !conf);

  if (!bad) {
    args = json_object_new_array();
    bad = !args || json_object_object_add(o, "command",
                                          json_object_new_string(kind)) ||
          json_object_object_add(o, "args", args);
    for (int i = 1; !bad && i < argc; i++) {
      struct json_object *a = json_object_new_string(argv[i]);

      bad = !a || json_object_array_add(args, a);
      if (bad)
        json_object_put(a);
    }
  }
  if (!bad)
    bad = json_object_object_add(o, "cwd", getcwd(cwd, sizeof(cwd))
                                             ? json_object_new_string(cwd)
                                             : NULL) ||
          json_object_object_add(o, "config", conf
                                                ? json_object_new_string(conf)
                                                : NULL);
  pc_free(conf);
  if (bad) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

void cli_record_begin(cli_record *rec, const cli_record_opts *o,
                      const char *kind, int argc, char **argv,
                      const char *config, pc_runtime *rt)
{
  struct json_object *spec = NULL;
  struct sigaction sa;
  pc_error err = PC_ERROR_INIT;
  char *path;

  memset(rec, 0, sizeof(*rec));
  if (o->no_record)
    return;
  path = o->runs ? pc_strdup(o->runs) : pc_runstore_default_path();
  if (!path) {
    cli_error("warning: %s: not recorded: no run store (set XDG_STATE_HOME "
              "or HOME, or give --runs FILE)", kind);
    return;
  }
  if (pc_runstore_open(path, &rec->store, &err) == PC_OK &&
      pc_runstore_new_id(rec->id) != PC_OK)
    pc_error_set(&err, PC_E_IO, "%s: no random bytes for a run id", path);
  if (err.code == PC_OK && !(spec = record_spec(kind, argc, argv, config)))
    pc_error_set(&err, PC_E_NOMEM, "%s: out of memory", path);
  if (err.code == PC_OK)
    pc_runstore_begin(rec->store, rec->id, kind, spec, &err);
  if (err.code == PC_OK)
    pc_runtime_log_calls(rt, rec->store, rec->id, &err);
  if (err.code != PC_OK) {
    cli_error("warning: %s: not recorded in the run store: %s", kind,
              err.message);
    pc_runstore_close(rec->store);
    memset(rec, 0, sizeof(*rec));
    goto out;
  }
  rec->rt = rt;
  got_sigint = 0;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &saved_sigint);
out:
  json_object_put(spec);
  pc_free(path);
}

int cli_record_sigint(void)
{
  return got_sigint != 0;
}

void cli_record_end(cli_record *rec, const char *status,
                    const struct json_object *result)
{
  pc_error err = PC_ERROR_INIT;

  if (!rec->store)
    return;
  pc_runtime_log_calls(rec->rt, NULL, NULL, &err);  /* flushes */
  rec->interrupted = got_sigint != 0;
  if (rec->interrupted)
    status = "interrupted";
  if (pc_runstore_set_status(rec->store, rec->id, status, result, &err))
    cli_error("warning: %s", err.message);
  sigaction(SIGINT, &saved_sigint, NULL);
  pc_runstore_close(rec->store);
  rec->store = NULL;
  rec->rt = NULL;
}

int cli_record_exit(const cli_record *rec, int status)
{
  if (rec->interrupted) {
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
  return status;
}
