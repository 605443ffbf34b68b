/*
 * promptc/promptc.h - the embedding API of libpromptc, for C applications.
 *
 * An application opens a session (a run configuration, the plugins it
 * names and the LM runtime), loads a program from its JSON file or from a
 * signed artifact, and runs it on one input, evaluates it on a dataset or
 * compiles it with an optimizer plugin. docs/embedding.md is the guide;
 * examples/embed/embed.c is a complete application.
 *
 * Rules that hold for every function below:
 *
 * - Handles are opaque. Structs that cross (the option and summary
 *   structs) start with `uint32_t struct_size`, which the caller sets to
 *   sizeof the struct it was compiled with; members are only ever
 *   appended, and the library reads or writes no member past
 *   struct_size, so an application built against an older header keeps
 *   working with a newer library.
 * - Functions that can fail return PC_OK (0) or a PC_E_* code of
 *   promptc/plugin.h and, when `err` is not NULL, fill it with one line
 *   that starts with the input at fault (a file, a field, a plugin).
 *   Initialise it with PC_ERROR_INIT; the first error set on it is kept.
 *   After a failure every out parameter is NULL (or zeroed) and there is
 *   nothing to free.
 * - Ownership is stated on each function. Text the library returns is
 *   freed with pc_free_text(); handles with their own _close or _free.
 *   Arguments are borrowed for the call and copied when kept.
 * - Threads: a session may be used by one thread at a time (calls on it
 *   run their own work in parallel on the session's threads); several
 *   sessions may be used at once from different threads. A program
 *   handle may be shared by sessions and threads as long as no call
 *   frees it meanwhile. pc_prog_load and pc_prog_save need no session.
 * - The library never prints results and never exits. Warnings of the
 *   library and its plugins (a cache that cannot be opened, a plugin that
 *   failed to load) go to stderr, as in the promptc command, unless the
 *   application gives them a handler (pc_set_log_handler).
 */
#ifndef PROMPTC_PROMPTC_H
#define PROMPTC_PROMPTC_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH" (static string). Since: 0.1. */
const char *pc_version(void);

/* Static English text for a status code ("invalid argument"), never NULL.
 * Since: 0.1. */
const char *pc_strerror(int code);

/* Static symbolic name for a status code ("PC_E_INVALID_ARG"), never NULL.
 * Since: 0.1. */
const char *pc_errname(int code);

/* ---- logging ----------------------------------------------------------- */

/* A log handler: `level` is PC_LOG_ERROR, PC_LOG_WARN, PC_LOG_INFO or
 * PC_LOG_DEBUG (promptc/plugin.h); `source` is the id of the plugin that
 * logged the line, or NULL for the library itself; `message` is the line,
 * NUL-terminated. Both strings are borrowed for the call only. */
typedef void (*pc_log_handler)(void *ctx, int level, const char *source,
                               const char *message);

/*
 * pc_set_log_handler - send every line the library and its plugins log,
 * at every level, to `fn` (with `ctx`) instead of writing the errors and
 * warnings to stderr; `fn` NULL restores stderr. Process-wide, like
 * SQLite's SQLITE_CONFIG_LOG: set it before opening sessions. `fn` may be
 * called from any of the sessions' threads, several at once, so it must
 * be thread-safe, and it must not call back into the library. `ctx` is
 * borrowed: keep it alive until the handler has been replaced and the
 * sessions that might still be logging are closed. Since: 0.1.
 */
void pc_set_log_handler(pc_log_handler fn, void *ctx);

/* ---- sessions ---------------------------------------------------------- */

/* A run configuration with its plugins and LM runtime. Opaque. */
typedef struct pc_session pc_session;

/*
 * Options of pc_session_open. Zero members mean "as the config says";
 * set struct_size to sizeof(pc_session_opts) (PC_SESSION_OPTS_INIT does).
 * Since: 0.1.
 */
typedef struct pc_session_opts {
  uint32_t struct_size;
  int32_t threads;          /* at most this many calls at once; 0: the
                               config's concurrency, else 8 */
  const char *plugin_path;  /* more plugin folders, ':'-separated, searched
                               with the default folders, PROMPTC_PLUGIN_PATH
                               and the config's plugins.path; NULL: none */
  const char *cache_path;   /* LM cache file or folder; NULL: the config's,
                               else $XDG_CACHE_HOME/promptc */
  int32_t no_cache;         /* non-zero: neither read nor write the cache */
  int32_t reserved;         /* set to 0 */
  const char *adapter;      /* adapter for every module; NULL: the module's,
                               else the config's, else "chat" */
} pc_session_opts;

#define PC_SESSION_OPTS_INIT \
  {(uint32_t)sizeof(pc_session_opts), 0, NULL, NULL, 0, 0, NULL}

/*
 * pc_session_open - read the run configuration at `config_path` (JSON,
 * docs/config.md; required: it names the LM), load the plugins and open
 * the LM roles, the cache and the scheduler. `opts` is borrowed and may
 * be NULL (all defaults). A plugin that fails to load is no error: it is
 * a PC_LOG_WARN line naming its file (stderr or the log handler).
 *
 * On PC_OK *out is a new session owned by the caller (pc_session_close).
 * Errors: PC_E_INVALID_ARG (a bad config, named with its member),
 * PC_E_IO, PC_E_PARSE, PC_E_UNSUPPORTED (a provider no plugin offers),
 * PC_E_NOMEM. Since: 0.1.
 */
int pc_session_open(const char *config_path, const pc_session_opts *opts,
                    pc_session **out, pc_error *err);

/* Close a session: stops its threads, closes the cache and releases the
 * plugins' instances. Programs loaded meanwhile stay valid. NULL is a
 * no-op. Since: 0.1. */
void pc_session_close(pc_session *s);

/* ---- programs ---------------------------------------------------------- */

/* A program (promptc.program/1) with its compiled state. Opaque. */
typedef struct pc_prog pc_prog;

/*
 * pc_prog_load - read a promptc.program/1 file. On PC_OK *out is a new
 * program owned by the caller (pc_prog_free). Errors name the file and
 * the member ("prog.json: flow[1].inputs.context: unknown step 'c9'"):
 * PC_E_IO, PC_E_PARSE, PC_E_INVALID_ARG, PC_E_NOMEM. Since: 0.1.
 */
int pc_prog_load(const char *path, pc_prog **out, pc_error *err);

/*
 * Options of pc_prog_load_artifact; set struct_size to
 * sizeof(pc_artifact_load_opts) (PC_ARTIFACT_LOAD_OPTS_INIT does).
 * Since: 0.1.
 */
typedef struct pc_artifact_load_opts {
  uint32_t struct_size;
  int32_t allow_model_drift;  /* non-zero: load although the session's LM
                                 is not the model the artifact was compiled
                                 for */
  const char *sig_path;       /* the signature; NULL: PATH.minisig */
  const char *keyring_path;   /* a keyring file (docs/signing.md) trusted
                                 instead of a single public key */
} pc_artifact_load_opts;

#define PC_ARTIFACT_LOAD_OPTS_INIT \
  {(uint32_t)sizeof(pc_artifact_load_opts), 0, NULL, NULL}

/*
 * pc_prog_load_artifact - verify the signed artifact at `path`
 * (NAME-VERSION.ppa) and load its program, as `promptc run --artifact`
 * does: the minisign signature is checked with the public key at
 * `pubkey_path` (a minisign .pub file), or with opts->keyring_path when
 * `pubkey_path` is NULL, before the tar is read; then the tar, its
 * members against the manifest, and the program; then, against session
 * `s`, the adapter it was packed with, the plugins it requires and the
 * task LM's identity (opts->allow_model_drift waives the last). An
 * unsigned artifact or an unknown key is always refused. `opts` may be
 * NULL.
 *
 * On PC_OK *out is a new program owned by the caller (pc_prog_free).
 * Errors name the artifact and the check that failed ("x-1.0.0.ppa:
 * signature does not verify"): PC_E_INVALID_ARG (verification or a
 * check), PC_E_IO, PC_E_UNSUPPORTED (a required plugin missing),
 * PC_E_NOMEM. Since: 0.1.
 */
int pc_prog_load_artifact(pc_session *s, const char *path,
                          const char *pubkey_path,
                          const pc_artifact_load_opts *opts, pc_prog **out,
                          pc_error *err);

/*
 * pc_prog_save - write the program, with its compiled state, as pretty
 * promptc.program/1 JSON to `path`, atomically (a temporary file renamed
 * over it; on failure `path` is left as it was). PC_E_IO or PC_E_NOMEM
 * naming `path`. Since: 0.1.
 */
int pc_prog_save(const pc_prog *prog, const char *path, pc_error *err);

/* Release a program. NULL is a no-op. Since: 0.1. */
void pc_prog_free(pc_prog *prog);

/* ---- running, evaluating, compiling ------------------------------------ */

/*
 * pc_prog_run - run `prog` once in session `s` on `inputs_json`, a JSON
 * object of the program's inputs ({"question": "..."}).
 *
 * On PC_OK *outputs_json is new text owned by the caller (pc_free_text):
 * the JSON object of the program's outputs. Errors: PC_E_INVALID_ARG
 * (inputs that are not an object or lack one the program needs),
 * PC_E_PARSE (an answer no adapter could parse), the LM's code
 * (PC_E_PROVIDER, PC_E_TIMEOUT, PC_E_AUTH, ...), PC_E_UNSUPPORTED (an
 * adapter no plugin offers), PC_E_NOMEM; the message names the step or
 * predictor. Since: 0.1.
 */
int pc_prog_run(pc_session *s, const pc_prog *prog, const char *inputs_json,
                char **outputs_json, pc_error *err);

/*
 * The scores of pc_prog_eval. The caller sets struct_size to
 * sizeof(pc_eval_summary) before the call (PC_EVAL_SUMMARY_INIT does);
 * the library fills the members that fit. Since: 0.1.
 */
typedef struct pc_eval_summary {
  uint32_t struct_size;
  uint32_t reserved;
  double score;      /* mean metric score in [0, 1], failures included at
                        the config's eval.failure_score (the "score" of
                        `promptc eval --json`) */
  double ci_low;     /* 95% confidence interval of the score */
  double ci_high;
  uint64_t n;        /* examples evaluated */
  uint64_t errors;   /* of which failed (parse, LM, metric, program) */
  uint64_t lm_calls; /* LM calls made, cache hits included */
} pc_eval_summary;

#define PC_EVAL_SUMMARY_INIT \
  {(uint32_t)sizeof(pc_eval_summary), 0, 0.0, 0.0, 0.0, 0, 0, 0}

/*
 * pc_prog_eval - evaluate `prog` in session `s` on the dataset at
 * `data_path` (JSONL or CSV; the program's inputs are its input keys)
 * with the metric `metric` ("NAME" or "NAME:FIELD"; NULL: the config's
 * "metric"), in parallel, as `promptc eval` does.
 *
 * On PC_OK `out` holds the scores (out->struct_size, set by the caller,
 * says how much of it is filled). An evaluation that stops because
 * failures reached the config's eval.max_errors is an error whose code
 * is that of the first failure (PC_E_PARSE, PC_E_PROVIDER for an LM
 * error, PC_E_INVALID_ARG otherwise) and whose message quotes it. Errors
 * also: PC_E_INVALID_ARG (a malformed dataset line, with file:line; an
 * empty dataset; a bad metric spec), PC_E_UNSUPPORTED (a metric no plugin
 * offers), PC_E_IO, PC_E_NOMEM. On failure the members of `out` past
 * struct_size are untouched and the rest are zero. Since: 0.1.
 */
int pc_prog_eval(pc_session *s, const pc_prog *prog, const char *data_path,
                 const char *metric, pc_eval_summary *out, pc_error *err);

/*
 * pc_prog_compile - compile `prog` in session `s` with the optimizer
 * plugin `optimizer` (NULL: the config's optimizer.name) and its
 * settings `settings_json` (a JSON object; NULL: the config's
 * optimizer.settings), on the training set at `train_path`, validating
 * on `val_path` (NULL: the training set), scoring with `metric` (as in
 * pc_prog_eval). The seed is the optimizer's "seed" setting (its default
 * when not given), else the config's, else 0; the budget caps are the
 * config's "budget". The starting and
 * the compiled program are both evaluated on the validation set, as
 * `promptc compile` does, and the compiled program records how it was
 * made (its "compile" member). Nothing is written to the run store, and
 * the optimizer gets no export directory (the command's OUT.export/):
 * optimizers that write files there, export-finetune and the "w" steps
 * of better-together, refuse with PC_E_UNSUPPORTED, and only after the
 * starting program was evaluated; run them with `promptc compile -o`.
 *
 * On PC_OK *compiled is a new program owned by the caller (pc_prog_free)
 * and, when `report_json` is not NULL, *report_json is new text owned by
 * the caller (pc_free_text): {"optimizer": {"name", "id", "version",
 * "settings"}, "seed", "baseline": {"score", "n"}, "compiled": {"score",
 * "n"}, "trials", "stopped_by", "stop_reason", "usage", "report"} where
 * the scores are DSPy percentages (0-100) on the validation set,
 * "stopped_by" names the budget cap that ended the search early (null
 * when it ran to its end; the best program found is still returned) and
 * "report" is the optimizer's own report (or null). Errors: the
 * optimizer's code and message, PC_E_UNSUPPORTED (no such optimizer or
 * metric), PC_E_INVALID_ARG (settings it refuses, bad datasets),
 * PC_E_CANCELLED, PC_E_NOMEM. Since: 0.1.
 */
int pc_prog_compile(pc_session *s, const pc_prog *prog,
                    const char *optimizer, const char *settings_json,
                    const char *train_path, const char *val_path,
                    const char *metric, pc_prog **compiled,
                    char **report_json, pc_error *err);

/* Free text the library returned (outputs, reports). NULL is a no-op.
 * Since: 0.1. */
void pc_free_text(char *text);

#ifdef __cplusplus
}
#endif

#endif /* PROMPTC_PROMPTC_H */
