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
#include "runstore.h"

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
int cmd_keygen(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_sim_server(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_plugins_check(int argc, char **argv);

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

/* Write `port` and a newline to `path` for --port-file, atomically
 * (pc_file_write_atomic): a reader sees no file or the whole port, never
 * half of it. Returns 0, or -1 after printing the error naming the file. */
int cli_write_port_file(const char *path, unsigned port);

/* The summary lines on how the provider calls went (docs/providers.md):
 * "retries" always, "drift" when the served model changed. */
struct pc_usage;
void cli_print_retries(const struct pc_usage *u);

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
/* The same for a program already loaded: `prog` is taken over (freed on
 * failure too); `origin` names it in messages. */
struct pc_program;
int cli_session_open_program(struct pc_program *prog, const char *origin,
                             const cli_run_opts *o, cli_session *s);
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

/*
 * cli_score - evaluate `prog` on `ds` with `m` in the session's runtime
 * (the config's max_errors and failure_score; a progress line labelled
 * `what` on a terminal when `progress`). On PC_EXIT_OK *summary owns
 * pc_eval_summary_json of the result without its "usage" (which depends
 * on the cache, so artifacts stay reproducible). An evaluation stopped at
 * max_errors is exit 5, with the first error printed.
 */
int cli_score(cli_session *s, const struct pc_program *prog,
              const struct pc_dataset *ds, struct pc_metric *m, int progress,
              const char *what, struct json_object **summary);

/* The content hash of every example of `ds` (pc_example_content_hash),
 * as a new array of hex strings; NULL when out of memory. */
struct json_object *cli_dataset_hashes(const struct pc_dataset *ds);

/* The exit status for an error code from a program run: 1 for run
 * failures (parse, LM, cancelled), 3 for bad input, 4 for environment
 * and plugin problems. */
int cli_status_of(int code);

/* ---- cli_session.c: recording eval and run in the run store -------- */

/* --runs FILE and --no-record, the run store options of eval and run. */
typedef struct cli_record_opts {
  const char *runs;  /* --runs FILE (NULL: pc_runstore_default_path) */
  int no_record;     /* --no-record */
} cli_record_opts;

#define CLI_OPT_RUNS 1201
#define CLI_OPT_NO_RECORD 1202
#define CLI_RECORD_LONG_OPTIONS \
  {"runs", required_argument, NULL, CLI_OPT_RUNS}, \
  {"no-record", no_argument, NULL, CLI_OPT_NO_RECORD}
#define CLI_RECORD_OPTIONS_HELP \
  "      --runs FILE      record the run and its LM calls in this run " \
  "store\n" \
  "                       (default: $XDG_STATE_HOME/promptc/runs.sqlite)\n" \
  "      --no-record      do not record the run in the run store\n"

/* Handle option `c` if it is one of cli_record_opts: 1 when it was, 0
 * when not. */
int cli_record_option(int c, const char *arg, cli_record_opts *o);

/* A run of eval or run being recorded in the run store. */
typedef struct cli_record {
  struct pc_runstore *store;  /* owned; NULL: not recording */
  struct pc_runtime *rt;      /* borrowed: its calls are logged */
  char id[PC_RUN_ID_MAX];     /* the run's id; "" when not recording */
  int interrupted;            /* SIGINT arrived (set by cli_record_end) */
} cli_record;

/*
 * cli_record_begin - unless o->no_record, record a new run of `kind`
 * ("eval" or "run") in the run store (o->runs, else the default), status
 * running, with the spec {"command": kind, "args": the command's
 * arguments (argv[1..argc-1]), "cwd", "config": the absolute path of
 * `config`}, and attach the call log of `rt` to it. Any problem (no
 * default path, a store that cannot be opened) is a warning on stderr and
 * leaves rec->store NULL: the command runs unrecorded. While recording,
 * SIGINT cancels every call in flight (pc_host_cancel_all) instead of
 * killing the process, so the run can be marked interrupted. One
 * recording at a time per process. `rec` is the caller's storage.
 */
void cli_record_begin(cli_record *rec, const cli_record_opts *o,
                      const char *kind, int argc, char **argv,
                      const char *config, struct pc_runtime *rt);

/* Non-zero when SIGINT arrived while recording. */
int cli_record_sigint(void);

/*
 * cli_record_end - detach the call log (writing the calls queued), set the
 * run's status (`status`, or "interrupted" when SIGINT arrived) and
 * `result` (borrowed; NULL keeps none), restore SIGINT's handling and
 * close the store. A failure is a warning. Does nothing when not
 * recording; safe to call twice.
 */
void cli_record_end(cli_record *rec, const char *status,
                    const struct json_object *result);

/* The command's exit: when rec->interrupted, die of SIGINT as the
 * process would have without the handler; else return `status`. */
int cli_record_exit(const cli_record *rec, int status);

/* ---- cli_artifact.c: opening signed artifacts ---------------------- */

struct pc_artifact;
struct pc_keyring;

/* Options of the commands that take an artifact (verify, run, eval,
 * inspect, promote). */
typedef struct cli_artifact_opts {
  const char *artifact;    /* --artifact FILE (verify: the argument) */
  const char *keyring;     /* --keyring FILE */
  const char *pubkey;      /* -p, --public-key FILE */
  int allow_unsigned;      /* --allow-unsigned */
  int allow_model_drift;   /* --allow-model-drift */
} cli_artifact_opts;

#define CLI_OPT_ARTIFACT 1101
#define CLI_OPT_KEYRING 1102
#define CLI_OPT_PUBKEY 1105  /* also -p where the command has no -p */
#define CLI_OPT_ALLOW_UNSIGNED 1103
#define CLI_OPT_ALLOW_DRIFT 1104
#define CLI_ARTIFACT_LONG_OPTIONS \
  {"artifact", required_argument, NULL, CLI_OPT_ARTIFACT}, \
  {"keyring", required_argument, NULL, CLI_OPT_KEYRING}, \
  {"public-key", required_argument, NULL, CLI_OPT_PUBKEY}, \
  {"allow-unsigned", no_argument, NULL, CLI_OPT_ALLOW_UNSIGNED}, \
  {"allow-model-drift", no_argument, NULL, CLI_OPT_ALLOW_DRIFT}
#define CLI_ARTIFACT_OPTIONS_HELP \
  "      --artifact FILE  run the program of a signed artifact (.ppa), " \
  "verified\n" \
  "                       first (docs/artifacts.md)\n" \
  "      --keyring FILE   trusted signing keys (default: $PROMPTC_KEYRING, " \
  "else\n" \
  "                       $XDG_CONFIG_HOME/promptc/keyring.json)\n" \
  "  -p, --public-key FILE  trust just this minisign public key\n" \
  "      --allow-unsigned accept an unsigned artifact or an unknown key " \
  "(warned)\n" \
  "      --allow-model-drift  run although the configured LM is not the " \
  "one\n" \
  "                       the artifact was compiled for (warned)\n"

/* Handle option `c` if it is one of cli_artifact_opts (or 'p', the short
 * form of --public-key): 1 when it was, 0 when not. */
int cli_artifact_option(int c, const char *arg, cli_artifact_opts *o);

/* The keyring to verify with: -p KEY.pub, else --keyring, else
 * $PROMPTC_KEYRING, else $XDG_CONFIG_HOME/promptc/keyring.json (or
 * ~/.config/...) when it exists; *out NULL when there is none (every key
 * is then unknown). Prints errors; returns an exit status. */
int cli_keyring(const cli_artifact_opts *o, struct pc_keyring **out);

/*
 * cli_artifact_open - verify and open the artifact at `path` with the
 * signature at `sig_path` (NULL: PATH.minisig), printing what fails (and, when allowed, the warning). `any_name`: the file may
 * have any name (registry objects). Returns PC_EXIT_OK, or the
 * verification failure (PC_AF_*, the exit status of verify), 3 when the
 * file cannot be read, 4 out of memory. On PC_EXIT_OK *out owns the
 * artifact (pc_artifact_free).
 */
int cli_artifact_open(const char *path, const char *sig_path,
                      const cli_artifact_opts *o, int any_name,
                      struct pc_artifact **out);

/*
 * cli_session_open_artifact - like cli_session_open, for the program of
 * an open artifact: the config, plugins and runtime, then the checks a
 * host makes before running it: every required plugin present in a
 * compatible version (the metric's too when `need_metric`), and the
 * configured LM's identity equal to the recorded one unless
 * o->allow_model_drift (then a warning is printed). Exit statuses as
 * cli_session_open, plus 20 (plugins) and 21 (model drift).
 */
int cli_session_open_artifact(const struct pc_artifact *art,
                              const cli_artifact_opts *ao,
                              const cli_run_opts *o, int need_metric,
                              cli_session *s);

/*
 * cli_session_open_any - the session of PROGRAM.json (`program`), or of
 * the artifact ao->artifact when given (exactly one of them; a usage
 * error otherwise), verified and checked as cli_session_open_artifact
 * does. `cmd` names the command in messages.
 */
int cli_session_open_any(const char *cmd, const char *program,
                         const cli_artifact_opts *ao, const cli_run_opts *o,
                         int need_metric, cli_session *s);

/* ---- cli_password.c: secret key passwords ------------------------- */

/*
 * cli_read_password - read a password: from the terminal (/dev/tty, echo
 * off, after printing `prompt` on it; with `confirm`, asked twice and
 * required to match), or, when stdin is not a terminal, the first line of
 * stdin without its newline (as minisign does, for scripts). An empty
 * password is refused. On PC_EXIT_OK *out owns the password (free it
 * with cli_password_free, which wipes it); otherwise an error was
 * printed.
 */
int cli_read_password(const char *prompt, int confirm, char **out);
void cli_password_free(char *pw);  /* NULL is a no-op */

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
