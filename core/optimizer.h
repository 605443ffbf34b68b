/*
 * optimizer.h - optimizers from plugins: open one by name with its
 * settings (the plugin checks them), read back the settings it uses,
 * estimate a compile's cost, and run it against a compile API table
 * (compile.c builds that table).
 */
#ifndef PC_OPTIMIZER_H
#define PC_OPTIMIZER_H

#include <json-c/json.h>

#include "errors.h"
#include "loader.h"
#include "promptc/plugin.h"

typedef struct pc_optimizer pc_optimizer;

/*
 * pc_optimizer_open - find the optimizer `name` among the loaded plugins
 * and create an instance with `settings` (an object, borrowed; NULL means
 * {}). On PC_OK *out owns the optimizer (pc_optimizer_close). Errors:
 * PC_E_UNSUPPORTED when no plugin offers it, the plugin's code and message
 * (prefixed with the optimizer's name and plugin id) when it refuses the
 * settings.
 */
int pc_optimizer_open(const pc_registry *reg, const char *name,
                      const struct json_object *settings, pc_optimizer **out,
                      pc_error *err);
void pc_optimizer_close(pc_optimizer *o);  /* NULL is a no-op */

const char *pc_optimizer_name(const pc_optimizer *o);
const char *pc_optimizer_plugin_id(const pc_optimizer *o);
const char *pc_optimizer_plugin_version(const pc_optimizer *o);

/* The settings the optimizer uses, defaults filled in. *out is a new
 * object (json_object_put). */
int pc_optimizer_settings(pc_optimizer *o, struct json_object **out,
                          pc_error *err);

/* Non-zero when the optimizer's plugin gives an estimate. */
int pc_optimizer_has_estimate(const pc_optimizer *o);

/* The optimizer's cost estimate for `info` ({"train", "val",
 * "predictors", "calls_per_run"}; borrowed). *out is a new object with
 * "lm_calls", "metric_calls" and "proposal_calls" (json_object_put). */
int pc_optimizer_estimate(pc_optimizer *o, const struct json_object *info,
                          struct json_object **out, pc_error *err);

/* Run the algorithm against `api` (borrowed for the call). Returns what
 * the plugin returns, with its message prefixed by the optimizer's name. */
int pc_optimizer_compile(pc_optimizer *o, const pc_compile_api *api,
                         pc_error *err);

#endif
