/*
 * config.h - the run configuration file (JSON): which backends serve each
 * role, the metric, the cache, concurrency and evaluation settings, and
 * where plugins live. docs/config.md lists the members; unknown members
 * are errors, never silently ignored.
 */
#ifndef PC_CONFIG_H
#define PC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "budget.h"
#include "errors.h"

/* LM roles. The task LM serves the program; the others default to it. */
#define PC_ROLE_LM 0
#define PC_ROLE_PROMPT_LM 1
#define PC_ROLE_TEACHER_LM 2
#define PC_ROLE_REFLECTION_LM 3
#define PC_ROLE_COUNT 4

#define PC_CONCURRENCY_DEFAULT 8
/* The adapter used when nothing names one. Found through the loader like
 * any other, so whichever plugin offers "chat" serves it. */
#define PC_ADAPTER_DEFAULT "chat"
#define PC_MAX_ERRORS_DEFAULT 10

typedef struct pc_config {
  char *path;                 /* owned: where it was read from, or NULL */
  char *base_dir;             /* owned: the file's folder ("." if none) */
  struct json_object *root;   /* owned: the whole document */
  char *plugin_path;          /* owned: plugins.path joined with ':', or NULL */
  char *adapter;              /* owned: default adapter name, or NULL */
  /* Borrowed from root: each role's object ({"provider": ..., "params":
   * {...}, provider-specific members}), NULL when not configured. */
  struct json_object *roles[PC_ROLE_COUNT];
  /* Owned: the metric as an object {"name": ..., settings...}, NULL when
   * not configured. The string form "name:field" becomes {"name": name,
   * "field": field}. */
  struct json_object *metric;
  char *cache_path;           /* owned: cache.path resolved, or NULL */
  int cache_enabled;          /* cache.enabled (default 1) */
  size_t cache_memory;        /* cache.memory_entries (0 = default) */
  int concurrency;            /* 0 = not set */
  int64_t max_errors;         /* eval.max_errors; 0 = not set */
  double failure_score;       /* eval.failure_score (default 0) */
  int has_seed;               /* 1 when "seed" was given */
  uint64_t seed;
  char *optimizer;            /* owned: optimizer.name, or NULL */
  /* Borrowed from root: optimizer.settings, NULL when not given. */
  struct json_object *optimizer_settings;
  pc_budget_caps budget;      /* budget.* (0: not set) */
  /* Borrowed from root: the pricing table, {"<model or provider>":
   * {"input": USD per 1M tokens, "output": ...}}, NULL when absent. */
  struct json_object *pricing;
  struct json_object *tools;  /* borrowed from root: "tools" (name ->
                                 {"type", settings...}), or NULL */
} pc_config;

/*
 * pc_config_load - read and validate a config file.
 *
 * On success *out owns the config (pc_config_free). Errors name the file
 * and the member ("cfg.json: plugins.path[1]: expected a string").
 */
int pc_config_load(const char *path, pc_config **out, pc_error *err);

/* A config with nothing set (all defaults); NULL when out of memory. */
pc_config *pc_config_new_default(void);

void pc_config_free(pc_config *cfg);  /* NULL is a no-op */

/* "lm", "prompt_lm", "teacher_lm", "reflection_lm" (static). */
const char *pc_config_role_name(int role);

/*
 * pc_config_metric_spec - parse a metric given as "name" or "name:field"
 * (the --metric option and the string form of "metric"). On success *out
 * is a new object {"name": ..., ["field": ...]} (json_object_put).
 * PC_E_INVALID_ARG naming `what` for an empty name or field.
 */
int pc_config_metric_spec(const char *spec, const char *what,
                          struct json_object **out, pc_error *err);

#endif
