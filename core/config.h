/*
 * config.h - the run configuration file (JSON): which backends serve each
 * role and where plugins live. docs/config.md lists the members; unknown
 * members are errors, never silently ignored.
 */
#ifndef PC_CONFIG_H
#define PC_CONFIG_H

#include <json-c/json.h>

#include "errors.h"

typedef struct pc_config {
  char *path;                 /* owned: where it was read from, or NULL */
  struct json_object *root;   /* owned: the whole document */
  char *plugin_path;          /* owned: plugins.path joined with ':', or NULL */
  char *adapter;              /* owned: default adapter name, or NULL */
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

#endif
