/*
 * runtime.h - everything program runs share, opened once from the run
 * configuration: the LM roles, the adapters, the response cache, the
 * scheduler, the usage counters, the history of recent calls and the call
 * log that stores them in the run store.
 *
 * A runtime is used by many threads at once (the scheduler's tasks); every
 * function here is thread-safe. The per-run state (trace, usage of one
 * run, overrides) lives in a pc_run_ctx (predict.h), one per task.
 */
#ifndef PC_RUNTIME_H
#define PC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "adapter.h"
#include "cache.h"
#include "config.h"
#include "errors.h"
#include "lm.h"
#include "loader.h"
#include "sched.h"

#define PC_HISTORY_DEFAULT 64  /* recent calls kept in memory */

/* What LM calls cost. Counted per run (pc_run_ctx) and per runtime. */
typedef struct pc_usage {
  uint64_t calls;            /* LM requests made, cache hits included */
  uint64_t provider_calls;   /* requests that reached the provider */
  uint64_t cache_hits;
  uint64_t fallbacks;        /* retries with the fallback adapter */
  int64_t prompt_tokens;     /* of provider calls; hits cost nothing */
  int64_t completion_tokens;
  double latency_ms;         /* summed over provider calls */
  uint64_t retries;          /* provider tries after a retryable failure */
  uint64_t rate_limited;     /* of those failures, 429s */
  double retry_wait_ms;      /* waited before retries */
  double rate_wait_ms;       /* waited for the roles' rate limits */
  uint64_t drifts;           /* answers from a changed served model */
} pc_usage;

/* into += u, member by member. */
void pc_usage_add(pc_usage *into, const pc_usage *u);
/* from -= u, member by member (from is a later reading of the same
 * counters, so nothing goes below zero). */
void pc_usage_sub(pc_usage *from, const pc_usage *u);

/* {"calls", "provider_calls", "cache_hits", "fallbacks", "prompt_tokens",
 * "completion_tokens", "retries", "rate_limited", "retry_wait_ms",
 * "rate_wait_ms", "drifts"} as a new object (NULL on OOM). The waits are
 * whole milliseconds. */
struct json_object *pc_usage_to_json(const pc_usage *u);

/* The inverse of pc_usage_to_json: *u from such an object (absent members
 * are 0; latency_ms, which the object does not carry, is 0). */
void pc_usage_from_json(const struct json_object *o, pc_usage *u);

typedef struct pc_runtime_opts {
  const pc_config *cfg;    /* borrowed; NULL = all defaults */
  const pc_registry *reg;  /* borrowed; must outlive the runtime */
  int threads;             /* 0: the config's concurrency, else 8 */
  const char *cache_path;  /* NULL: the config's, else the default dir */
  int no_cache;            /* non-zero: no cache at all */
  const char *adapter;     /* forced adapter (the command line), or NULL */
  size_t history_cap;      /* 0: PC_HISTORY_DEFAULT */
} pc_runtime_opts;

typedef struct pc_runtime pc_runtime;

/*
 * pc_runtime_open - open the LM roles of the config (the task role "lm" is
 * required; a role that is not configured is served by "lm"), the cache
 * and the scheduler. On success *out owns the runtime (pc_runtime_close).
 * Errors name the config member or plugin at fault; a cache that cannot be
 * used is only a warning (printed through the host log).
 */
int pc_runtime_open(const pc_runtime_opts *opts, pc_runtime **out,
                    pc_error *err);

void pc_runtime_close(pc_runtime *rt);  /* NULL is a no-op */

/*
 * pc_runtime_slot - the state another part keeps in this runtime (tool.c's
 * configured tools, module_plugin.c's plugin instances). The first call
 * for `slot` makes it with make(rt), under the runtime's lock (so make
 * must not call back into the runtime), and pc_runtime_close() releases it
 * with release(state) after the scheduler has stopped. Returns the state
 * (owned by the runtime), or NULL when make failed (out of memory; a later
 * call tries again).
 */
#define PC_RT_SLOT_TOOLS 0
#define PC_RT_SLOT_MODULES 1
#define PC_RT_SLOTS 2
void *pc_runtime_slot(pc_runtime *rt, int slot,
                      void *(*make)(pc_runtime *rt),
                      void (*release)(void *state));

/* Borrowed parts, valid while the runtime lives. pc_runtime_cache is
 * NULL with --no-cache. */
pc_sched *pc_runtime_sched(pc_runtime *rt);
pc_lm *pc_runtime_lm(pc_runtime *rt, int role);
pc_cache *pc_runtime_cache(pc_runtime *rt);
const pc_config *pc_runtime_config(const pc_runtime *rt);
/* The plugin registry the runtime was opened with (borrowed). */
const pc_registry *pc_runtime_registry(const pc_runtime *rt);

/*
 * pc_runtime_adapter - the runtime's instance of adapter `name` (NULL:
 * the forced adapter, else the config's, else PC_ADAPTER_DEFAULT), created
 * on first use. *out is borrowed from the runtime and stays valid while
 * it lives. Calls go through pc_rt_adapter_format and _parse, which
 * serialise them when the plugin does not declare thread-safe instances.
 */
typedef struct pc_rt_adapter pc_rt_adapter;
int pc_runtime_adapter(pc_runtime *rt, const char *name,
                       pc_rt_adapter **out, pc_error *err);
/* The adapter a module uses: the forced one, else the module's choice
 * (may be NULL), else the config's, else PC_ADAPTER_DEFAULT. Borrowed. */
const char *pc_runtime_adapter_name(const pc_runtime *rt,
                                    const char *module_choice);
const char *pc_rt_adapter_name(const pc_rt_adapter *a);
const char *pc_rt_adapter_fallback(const pc_rt_adapter *a);  /* or NULL */
int pc_rt_adapter_format(pc_rt_adapter *a, const char *sig_json,
                         size_t sig_len, const struct json_object *demos,
                         const struct json_object *inputs, pc_messages *out,
                         pc_error *err);
int pc_rt_adapter_parse(pc_rt_adapter *a, const char *sig_json,
                        size_t sig_len, const char *text, size_t len,
                        struct json_object **out, pc_error *err);

/*
 * pc_runtime_check_program - what a run of `prog` needs, checked before
 * any example: the adapter of every predictor (and its fallback), every
 * tool its react and retrieve modules name (pc_tool_check_program) and
 * the plugin of every "plugin" module (pc_module_plugin_check), so a
 * misspelt adapter, a bad "tools" entry or a missing plugin is one error
 * before a run rather than one per example. PC_E_UNSUPPORTED naming the
 * predictor and the adapter when one is missing; the tools' and plugins'
 * codes and messages otherwise.
 */
struct pc_program;
int pc_runtime_check_program(pc_runtime *rt, const struct pc_program *prog,
                             pc_error *err);

/*
 * pc_runtime_models - the model identity of every configured LM role, as
 * a new object owned by the caller (NULL on OOM):
 *   {"lm": {"provider": "sim", "plugin": "org.promptc.lm.sim",
 *           "plugin_version": "1.0.0", "model": null,
 *           "identity": "sim-1@3f2a..."}, ...}
 * Roles the config does not set (served by "lm") are left out. This is
 * what compiled programs and artifacts record, and what running an
 * artifact compares (docs/artifacts.md, "Model identity").
 */
struct json_object *pc_runtime_models(pc_runtime *rt);

/* Add a run's usage to the runtime's totals; read the totals. */
void pc_runtime_count(pc_runtime *rt, int role, const pc_usage *u);
void pc_runtime_usage(pc_runtime *rt, pc_usage *out);
/* The same, per LM role (PC_ROLE_*): out has PC_ROLE_COUNT entries. */
void pc_runtime_role_usage(pc_runtime *rt, pc_usage out[PC_ROLE_COUNT]);

/*
 * pc_runtime_remember - remember one call record (`record`, borrowed, is
 * copied as text) in the history ring and, while a call log is attached
 * (pc_runtime_log_calls), queue it for the run store. Best effort: out of
 * memory loses the record, never fails the call.
 */
void pc_runtime_remember(pc_runtime *rt, const struct json_object *record);

/* Calls queued by the call log are written in batches of at most this
 * many, one pc_runstore_put_calls (one transaction) each. */
#define PC_CALL_LOG_BATCH 64

/*
 * pc_runtime_log_calls - attach the call log: from now on every record
 * given to pc_runtime_remember is also stored in run `run_id` of `store`
 * (docs/runstore.md, "Call records"): its predictor, model (the record's
 * "model", the identity), cache hit, tokens, latency, cost, retries and
 * the record itself, stamped with "time_ms" (Unix milliseconds when it
 * was remembered). Records are queued and written by the thread that
 * fills a batch, outside the runtime's lock; batches are numbered from
 * pc_runstore_calls_next_seq at attach time, so a resumed run adds to its
 * calls instead of replacing them.
 *
 * `store` is borrowed: it must outlive the runtime or be detached first.
 * `run_id` is copied. A NULL `store` detaches: what is queued is written
 * first. Attaching while attached detaches the old log first. Writing a
 * batch that fails is a warning through the host log (the first failure
 * and, at detach, how many calls were lost), never a failed call.
 *
 * Returns PC_OK; PC_E_INVALID_ARG for an invalid or unknown run (then
 * nothing is attached), PC_E_IO or PC_E_NOMEM from the store.
 */
struct pc_runstore;
int pc_runtime_log_calls(pc_runtime *rt, struct pc_runstore *store,
                         const char *run_id, pc_error *err);

/* Write every call queued for the attached log now (nothing when none is
 * attached). pc_runtime_close and detaching flush too. */
void pc_runtime_flush_calls(pc_runtime *rt);

/* The last `n` (0 = all kept) call records, oldest first, as a new array
 * owned by the caller; NULL on OOM. */
struct json_object *pc_runtime_history(pc_runtime *rt, size_t n);

#endif
