/*
 * lm_settings.h - LM call settings (temperature, max_tokens, n, top_p,
 * stop, seed): checking them where users write them (a module's config,
 * a role's "params" in the run config) and merging the layers of one call.
 */
#ifndef PC_LM_SETTINGS_H
#define PC_LM_SETTINGS_H

#include <json-c/json.h>

#include "errors.h"

/* Allow the per-module "adapter" choice besides the LM settings. */
#define PC_LM_SETTINGS_ADAPTER 1u

/*
 * pc_lm_settings_check - check an object of LM settings.
 *
 * Each key must be one of temperature (number >= 0), max_tokens and n
 * (integers >= 1), top_p (0 to 1), stop (string or array of strings),
 * seed (integer), and with PC_LM_SETTINGS_ADAPTER also adapter (string).
 * Returns PC_OK, or PC_E_INVALID_ARG with a message "<where>.<key>:
 * expected ..." or "<where>.<key>: unknown setting (expected ...)". `where`
 * names the object for messages ("cfg.json: lm.params").
 */
int pc_lm_settings_check(const struct json_object *settings, unsigned flags,
                         const char *where, pc_error *err);

/*
 * pc_lm_settings_merge - copy the members of `over` into `base`, replacing
 * members of the same name, skipping "adapter". `over` may be NULL.
 * `base` must be an object. Returns PC_OK or PC_E_NOMEM.
 */
int pc_lm_settings_merge(struct json_object *base,
                         const struct json_object *over);

#endif
