/*
 * runstore.h - the run store: one SQLite file that records every compile,
 * eval and run, its optimizer trials, the compile's replay log, optimizer
 * checkpoints and per-call LM records (docs/runstore.md).
 *
 * Durability: every write is its own committed transaction (a batch of
 * call records is one transaction), so whatever a function returned PC_OK
 * for survives the process being killed (SIGKILL) at any later moment. The
 * file is in WAL mode with a 5 s busy timeout, so several processes may
 * use one store at once.
 *
 * Threads: a handle is meant for one thread at a time, but every function
 * takes the handle's mutex, so calling from any thread is safe.
 *
 * Errors are one line naming the store's path and, where there is one,
 * the run: "run 20250101-120000-a1b2c3: no such run in /x/runs.sqlite".
 * After a failure every out parameter is NULL (or 0) and the caller has
 * nothing to free. Inputs are borrowed for the call and copied if kept.
 */
#ifndef PC_RUNSTORE_H
#define PC_RUNSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"

/* Room for a run id and its NUL (ids are at most 63 bytes). */
#define PC_RUN_ID_MAX 64

/* The file name inside the state directory. */
#define PC_RUNSTORE_FILE "runs.sqlite"

typedef struct pc_runstore pc_runstore;

/*
 * pc_runstore_default_path - $XDG_STATE_HOME/promptc/runs.sqlite, else
 * $HOME/.local/state/promptc/runs.sqlite (a relative XDG_STATE_HOME is
 * ignored, as the XDG base directory spec says). Returns a new string
 * owned by the caller (pc_free); NULL when neither variable is usable or
 * out of memory.
 */
char *pc_runstore_default_path(void);

/*
 * pc_runstore_open - open the store at `path` (a file name), creating the
 * missing parent directories (mode 0700) and the file (mode 0600).
 *
 * A store of schema version 1 (before call records had bodies) is
 * migrated to version 2 in place, in one transaction.
 *
 * Returns PC_OK and a handle in *out (pc_runstore_close). Errors, with
 * *out NULL: PC_E_INVALID_ARG for a NULL or empty path, or a file that is
 * not a promptc run store (another SQLite database, a newer schema
 * version, or not a database at all; the message names `path`), PC_E_IO
 * when the directories or the file cannot be made or opened, PC_E_NOMEM.
 * `path` is borrowed.
 */
int pc_runstore_open(const char *path, pc_runstore **out, pc_error *err);

/* Close the store and free the handle. NULL is a no-op. */
void pc_runstore_close(pc_runstore *rs);

/* The path the store was opened with (borrowed: valid until close). */
const char *pc_runstore_path(const pc_runstore *rs);

/*
 * pc_runstore_new_id - write a fresh run id into `id`:
 * "YYYYMMDD-HHMMSS-xxxxxx" (the UTC time, then 6 random hex digits from
 * getrandom(2), else /dev/urandom). Returns PC_OK, or PC_E_IO when no
 * random bytes could be had (id is then the empty string).
 */
int pc_runstore_new_id(char id[PC_RUN_ID_MAX]);

/* Non-zero when `id` is 1 to 63 bytes of [A-Za-z0-9._-] not starting with
 * '.'. NULL is not valid. */
int pc_runstore_valid_id(const char *id);

/*
 * pc_runstore_begin - record a new run `id` of `kind` ("compile", "eval"
 * or "run") with status "running", `spec` (any JSON; NULL is null) and the
 * current time as started_ms.
 *
 * PC_E_INVALID_ARG for an invalid id or kind, or when the id already
 * exists; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_begin(pc_runstore *rs, const char *id, const char *kind,
                      const struct json_object *spec, pc_error *err);

/*
 * pc_runstore_get - the run `id` as a new object owned by the caller
 * (json_object_put): {"id", "kind", "status", "spec", "result",
 * "started_ms", "finished_ms"}; result and finished_ms are null until
 * set. PC_E_INVALID_ARG "run ID: no such run in PATH" when absent;
 * PC_E_PARSE when a stored body is not JSON; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_get(pc_runstore *rs, const char *id, struct json_object **run,
                    pc_error *err);

/*
 * pc_runstore_set_status - set the status of run `id`: "running", "done",
 * "stopped" (a budget cap stopped it), "failed" or "interrupted". Every
 * status but "running" also sets finished_ms to now ("running" clears
 * it: a resumed run). `result` (borrowed; NULL keeps the stored one)
 * replaces the run's result. PC_E_INVALID_ARG for an unknown status or
 * run; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_set_status(pc_runstore *rs, const char *id,
                           const char *status,
                           const struct json_object *result, pc_error *err);

/*
 * pc_runstore_list - the newest `limit` runs (0: all), newest first, as a
 * new array owned by the caller (json_object_put) of {"id", "kind",
 * "status", "started_ms", "finished_ms", "trials", "calls"} (how many
 * trials and LM calls are recorded), without the spec and result bodies.
 * PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_list(pc_runstore *rs, size_t limit, struct json_object **runs,
                     pc_error *err);

/*
 * pc_runstore_put_trial - store `record` (a JSON object, borrowed) as
 * trial number `trial` (>= 0) of run `id`, replacing any record already
 * stored under that number (a resumed compile re-records its trials).
 * PC_E_INVALID_ARG for a record that is not an object, a negative number
 * or an unknown run; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_put_trial(pc_runstore *rs, const char *id, int64_t trial,
                          const struct json_object *record, pc_error *err);

/*
 * pc_runstore_trials - the trial records of run `id` in trial order, as a
 * new array owned by the caller (json_object_put); each element is the
 * record as it was stored. PC_E_INVALID_ARG for an unknown run;
 * PC_E_PARSE, PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_trials(pc_runstore *rs, const char *id,
                       struct json_object **arr, pc_error *err);

/*
 * pc_runstore_log_put - store entry `seq` (>= 0) of run `id`'s replay
 * log: the digest of the request (`request_sha`, a non-empty string) and
 * the answer's `len` bytes (any bytes; NULL only with len 0). An entry
 * already stored under `seq` is replaced. PC_E_INVALID_ARG for bad
 * arguments or an unknown run; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_log_put(pc_runstore *rs, const char *id, int64_t seq,
                        const char *request_sha, const char *answer,
                        size_t len, pc_error *err);

/*
 * pc_runstore_log_get - read entry `seq` of run `id`'s replay log. On
 * PC_OK with an entry: *request_sha and *answer are new strings owned by
 * the caller (pc_free); *answer holds *len bytes plus a NUL. On PC_OK
 * without an entry for `seq`: *request_sha and *answer are NULL and *len
 * 0. `request_sha` and `len` may be NULL when not wanted. PC_E_IO,
 * PC_E_NOMEM.
 */
int pc_runstore_log_get(pc_runstore *rs, const char *id, int64_t seq,
                        char **request_sha, char **answer, size_t *len,
                        pc_error *err);

/*
 * pc_runstore_log_truncate - delete the entries of run `id`'s replay log
 * from `seq` on (a resumed compile that asked a different question at
 * `seq` drops the stale rest of the log before going live). Deleting
 * nothing is not an error. PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_log_truncate(pc_runstore *rs, const char *id, int64_t seq,
                             pc_error *err);

/*
 * pc_runstore_checkpoint_put - store the optimizer checkpoint of run `id`
 * (`len` bytes of JSON text, not parsed; NULL only with len 0), replacing
 * the previous one: only the latest is kept. PC_E_INVALID_ARG for an
 * unknown run; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_checkpoint_put(pc_runstore *rs, const char *id,
                               const char *json, size_t len, pc_error *err);

/*
 * pc_runstore_checkpoint_get - the latest checkpoint of run `id`: *json a
 * new string owned by the caller (pc_free) of *len bytes plus a NUL, or
 * *json NULL and *len 0 when there is none. `len` may be NULL. PC_E_IO,
 * PC_E_NOMEM.
 */
int pc_runstore_checkpoint_get(pc_runstore *rs, const char *id, char **json,
                               size_t *len, pc_error *err);

/*
 * pc_runstore_put_calls - record the LM calls of one logged batch `seq`
 * of run `id`, in one transaction: `records` (borrowed) is an array of
 * {"predictor": string, "model": string, "cache_hit": bool,
 * "prompt_tokens": int, "completion_tokens": int, "latency_ms": number,
 * "cost": number or null}, every member present (predictor and model may
 * be null), and optionally "retries" (an int >= 0; absent: 0) and
 * "record" (the whole call record: any JSON object, stored as compact
 * text; null or absent: none). Calls already stored under `seq` are
 * replaced, so recording a batch twice counts it once. An empty array
 * clears `seq`. PC_E_INVALID_ARG naming the element and member that is
 * wrong, or for an unknown run; PC_E_IO, PC_E_NOMEM. Nothing is stored
 * after a failure.
 */
int pc_runstore_put_calls(pc_runstore *rs, const char *id, int64_t seq,
                          const struct json_object *records, pc_error *err);

/*
 * pc_runstore_calls - the calls of run `id`: the newest `limit` (0: all),
 * oldest first (by seq, then position in the batch), as a new array owned
 * by the caller (json_object_put). Each element is the "record" the call
 * was stored with, or, for a call stored without one, a record rebuilt
 * from the columns: {"predictor", "model", "cache_hit", "usage":
 * {"prompt_tokens", "completion_tokens"}, "latency_ms", "cost",
 * "retries"}; either way with "seq" and "idx" (its batch and position)
 * set. An existing run without calls gives an empty array.
 * PC_E_INVALID_ARG for an unknown run; PC_E_PARSE when a stored record is
 * not a JSON object; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_calls(pc_runstore *rs, const char *id, size_t limit,
                      struct json_object **arr, pc_error *err);

/*
 * pc_runstore_calls_next_seq - in *next, the batch number that follows
 * every recorded batch of run `id`: 1 + the largest seq, or 0 when the run
 * has no calls (a call log that starts here never replaces a batch).
 * PC_E_INVALID_ARG for an unknown run (*next 0); PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_calls_next_seq(pc_runstore *rs, const char *id,
                               int64_t *next, pc_error *err);

/*
 * pc_runstore_last_run - in `id`, the newest run (by start time) that has
 * at least one recorded call, of `kind` ("compile", "eval" or "run"; NULL:
 * any kind); the empty string when there is none, which is not an error.
 * PC_E_INVALID_ARG for an unknown kind; PC_E_IO, PC_E_NOMEM (`id` empty).
 */
int pc_runstore_last_run(pc_runstore *rs, const char *kind,
                         char id[PC_RUN_ID_MAX], pc_error *err);

/*
 * pc_runstore_call_totals - the sums over the recorded calls of run `id`
 * as a new object owned by the caller (json_object_put): {"calls",
 * "cache_hits", "prompt_tokens", "completion_tokens", "tokens",
 * "latency_ms", "cost", "cost_unknown", "retries"}; "cost" sums the known
 * costs and "cost_unknown" counts the calls whose cost was null.
 * PC_E_INVALID_ARG for an unknown run; PC_E_IO, PC_E_NOMEM.
 */
int pc_runstore_call_totals(pc_runstore *rs, const char *id,
                            struct json_object **out, pc_error *err);

#endif
