/*
 * cli.h - shared pieces of the promptc command: one file per subcommand
 * (cmd_<name>.c), each exporting one cmd_<name>(argc, argv) that returns
 * the process exit status.
 *
 * Exit statuses (docs/cli.md): 0 success, 1 the command ran and failed
 * (a parse error, a refused plugin, an LM call that failed), 2 usage
 * error, 3 bad input files (program, config, dataset), 4 plugin or
 * environment problem, 5 an evaluation stopped at max_errors, 6 a
 * compile interrupted by Ctrl-C (resumable).
 */
#ifndef PC_CLI_H
#define PC_CLI_H

#include <stdio.h>

#include "config.h"
#include "errors.h"
#include "loader.h"

#define PC_EXIT_OK 0
#define PC_EXIT_FAIL 1
#define PC_EXIT_USAGE 2
#define PC_EXIT_INPUT 3
#define PC_EXIT_ENV 4
#define PC_EXIT_ABORTED 5
#define PC_EXIT_INTERRUPTED 6  /* stopped by Ctrl-C; resumable */

int cmd_plugins(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_history(int argc, char **argv);

/* Print "promptc: <message>" on stderr. */
void cli_error(const char *fmt, ...) PC_PRINTF(1, 2);
/* Print "promptc: <what>: <err->message>" and return `status`. */
int cli_fail(int status, const pc_error *err, const char *what);

/* Load the config at `path` (NULL: defaults). Prints errors. Returns an
 * exit status; on PC_EXIT_OK *out owns the config. */
int cli_load_config(const char *path, pc_config **out);

/* Load plugins from the default directories plus the config's, printing a
 * warning per plugin that failed to load. Returns an exit status; on
 * PC_EXIT_OK *out owns the registry. */
int cli_load_registry(const pc_config *cfg, pc_registry **out);

/* Read a JSON argument: inline text, or "@FILE" to read it from a file. On
 * PC_EXIT_OK *out owns the value. `what` names the option in messages. */
int cli_json_arg(const char *arg, const char *what, struct json_object **out);

/* Print `v` as pretty JSON (2-space indent, non-ASCII kept) and a newline. */
int cli_print_json(FILE *f, const struct json_object *v);

/* ---- cli_session.c: what run and eval share ------------------------- */

/* Options common to the commands that run programs. */
typedef struct cli_run_opts {
  const char *config;   /* --config */
  int threads;          /* --threads (0: the config's) */
  const char *cache;    /* --cache PATH */
  int no_cache;         /* --no-cache */
  const char *adapter;  /* --adapter NAME */
} cli_run_opts;

/* getopt_long entries and short-option letters of cli_run_opts; a
 * command lists CLI_RUN_LONG_OPTIONS in its table. */
#define CLI_OPT_CONFIG 'c'
#define CLI_OPT_THREADS 1001
#define CLI_OPT_CACHE 1002
#define CLI_OPT_NO_CACHE 1003
#define CLI_OPT_ADAPTER 'a'
#define CLI_RUN_LONG_OPTIONS \
  {"config", required_argument, NULL, CLI_OPT_CONFIG}, \
  {"threads", required_argument, NULL, CLI_OPT_THREADS}, \
  {"cache", required_argument, NULL, CLI_OPT_CACHE}, \
  {"no-cache", no_argument, NULL, CLI_OPT_NO_CACHE}, \
  {"adapter", required_argument, NULL, CLI_OPT_ADAPTER}
#define CLI_RUN_OPTIONS_HELP \
  "  -c, --config FILE    run configuration: LM roles, metric, cache " \
  "(docs/config.md)\n" \
  "      --threads N      run at most N calls at once (default: the " \
  "config's\n" \
  "                       concurrency, else 8)\n" \
  "      --cache PATH     LM cache file or directory (default: " \
  "$XDG_CACHE_HOME/promptc)\n" \
  "      --no-cache       neither read nor write the LM cache\n" \
  "  -a, --adapter NAME   adapter for every module (default: the " \
  "module's, the config's, chat)\n"

/* Handle option `c` if it is one of cli_run_opts. Returns 1 when it was
 * (and stores it), 0 when it is not one of them, -1 after printing a
 * usage error (a bad --threads). */
int cli_run_option(int c, const char *arg, cli_run_opts *o);

/* A program loaded with its config, plugins and runtime. */
typedef struct cli_session {
  pc_config *cfg;
  pc_registry *reg;
  struct pc_runtime *rt;
  struct pc_program *prog;
} cli_session;

/* Load the program, the config (required), the plugins and open the
 * runtime, printing what fails. Returns an exit status; on PC_EXIT_OK
 * `s` holds everything (cli_session_close). */
int cli_session_open(const char *program, const cli_run_opts *o,
                     cli_session *s);
void cli_session_close(cli_session *s);

/* Load the dataset at `path` with its input keys: `inputs` (a comma
 * list, NULL: the program's inputs), so a row that lacks one is reported
 * with file:line. Prints what fails, naming the option `what`; an empty
 * dataset is an error. On PC_EXIT_OK *ds owns the dataset. */
struct pc_dataset;
struct pc_metric;
int cli_load_dataset(const char *path, const char *inputs,
                     const struct pc_program *prog, int skip_malformed,
                     const char *what, struct pc_dataset **ds);

/* Open the metric `metric` ("NAME[:FIELD]", NULL: the config's), printing
 * what fails with `cmd` as the prefix. On PC_EXIT_OK *m owns it. */
int cli_open_metric(const char *metric, const cli_session *s,
                    const char *cmd, struct pc_metric **m);

/* The exit status for an error code from a program run: 1 for run
 * failures (parse, LM, cancelled), 3 for bad input, 4 for environment
 * and plugin problems. */
int cli_status_of(int code);

/* ---- cli_progress.c: the live progress line on a terminal ---------- */

struct pc_eval_progress;

typedef struct cli_progress {
  int enabled;       /* stderr is a terminal and progress was not refused */
  int shown;         /* a line is on the screen */
  unsigned long long t0_ns, last_ns;
} cli_progress;

/* Show the line only when `want` and stderr is a terminal. */
void cli_progress_init(cli_progress *p, int want);
/* The pc_eval_opts.progress callback (ctx is the cli_progress): redraws
 * at most ten times a second, and on the last example. */
void cli_progress_update(void *ctx, const struct pc_eval_progress *st);
/* Erase the line. */
void cli_progress_done(cli_progress *p);
/* Monotonic seconds, for timing lines. */
double cli_seconds(void);

#endif
