/*
 * lm.h - an LM role as the host holds it: one instance of a provider
 * plugin, its default call settings and its model identity, and the one
 * function that sends a formatted request to it.
 *
 * This layer talks to the provider only; the cache, the adapters and the
 * accounting sit above it (predict.h). A provider that does not declare
 * PC_PLUGIN_THREADSAFE_INSTANCES is called by one thread at a time.
 */
#ifndef PC_LM_H
#define PC_LM_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "adapter.h"
#include "errors.h"
#include "loader.h"

typedef struct pc_lm pc_lm;

/* What one completion call returned. */
typedef struct pc_lm_response {
  char **texts;               /* owned: one per choice, NUL-terminated */
  size_t *lens;               /* owned: their lengths */
  size_t n_texts;
  int64_t prompt_tokens;      /* -1 when the provider did not say */
  int64_t completion_tokens;  /* -1 when the provider did not say */
  struct json_object *meta;   /* owned: {"model", "finish_reason", ...} */
  double latency_ms;          /* of the last try (recorded on hits) */
  /* How the call went, never cached: set by pc_lm_complete. */
  uint32_t retries;           /* tries after the first */
  uint32_t rate_limited;      /* of the failed tries, 429s */
  double retry_wait_ms;       /* waited before retries */
  double rate_wait_ms;        /* waited for the role's rate limit */
  int drift;                  /* the served model changed (see below) */
} pc_lm_response;

/*
 * pc_lm_open - create the provider instance of one role.
 *
 * `role_cfg` (borrowed) is the role's object from the config:
 * {"provider": NAME, "params": {...}, "cache": bool, ...}; the provider
 * gets the other members plus "base_dir" (`base_dir`, may be NULL for
 * "."). `role` names the role in messages. On success *out owns the role
 * (pc_lm_close), which borrows `reg` (it must outlive the role).
 */
int pc_lm_open(const pc_registry *reg, const char *role,
               const struct json_object *role_cfg, const char *base_dir,
               pc_lm **out, pc_error *err);

void pc_lm_close(pc_lm *lm);  /* NULL is a no-op */

/* Borrowed strings, valid while the role lives. */
const char *pc_lm_role(const pc_lm *lm);         /* "lm", ... */
const char *pc_lm_provider(const pc_lm *lm);     /* "sim" */
const char *pc_lm_provider_id(const pc_lm *lm);  /* plugin id */
const char *pc_lm_identity(const pc_lm *lm);     /* "sim-1@3f2a..." */
const char *pc_lm_model(const pc_lm *lm);        /* "model", or NULL */
/* sha256 of the settings the provider was created with (all the role's
 * members but provider, params, cache and base_dir; canonical JSON): part
 * of the cache key, so changing a provider setting never serves answers
 * made under the old one. */
const char *pc_lm_config_hash(const pc_lm *lm);
const pc_plugin *pc_lm_plugin(const pc_lm *lm);
/* The role's "params" object (never NULL; empty when none). Borrowed. */
const struct json_object *pc_lm_params(const pc_lm *lm);
/* 0 when the role's config says "cache": false. */
int pc_lm_cacheable(const pc_lm *lm);

/*
 * pc_lm_complete - one provider call, under the role's policy.
 *
 * The role's rate limit ("rate_limit", core/ratelimit.h) is waited for
 * first; a failure that may be retried ("retry", core/retry.h) is tried
 * again after a backoff or the provider's Retry-After, and the response
 * counts the retries and the waits. A successful response whose served
 * model ("model", "system_fingerprint" or "digest" in its meta) differs
 * from the first one this role saw is drift: flagged in the response and
 * counted (pc_lm_drifts), and each new served model is logged once as a
 * warning.
 *
 * `msgs` and `params` (a JSON object of call settings: the merged layers,
 * may be NULL) and `rollout_id` (may be NULL) are borrowed. `call` carries
 * cancellation and the deadline (may be NULL). On success `out` holds the
 * response (pc_lm_response_clear); at least one text is guaranteed. On
 * failure the last try's code and message, prefixed with the role and
 * provider (and "after N retries" when there were some), are in `err`,
 * and `out` is empty but for the retry counters.
 */
int pc_lm_complete(pc_lm *lm, const pc_messages *msgs,
                   const struct json_object *params, const char *rollout_id,
                   pc_call *call, pc_lm_response *out, pc_error *err);

/* Provider calls made through this role since it was opened (each try
 * counts), and how many answers came from a served model other than the
 * first. */
uint64_t pc_lm_calls(const pc_lm *lm);
uint64_t pc_lm_drifts(const pc_lm *lm);

/* The first served model this role saw, as a new object owned by the
 * caller: {"model", "system_fingerprint", "digest"} with the members the
 * provider reported; NULL when no call has been answered yet (or OOM). */
struct json_object *pc_lm_served(const pc_lm *lm);

void pc_lm_response_clear(pc_lm_response *r);

/*
 * pc_lm_response_to_json / _from_json - the record the cache stores:
 * {"texts": [...], "usage": {"prompt_tokens", "completion_tokens"},
 * "meta": {...}, "latency_ms": N}. to_json returns a new object (NULL on
 * OOM). from_json fills `out` from such a record; PC_E_PARSE when it is
 * not one (a corrupt cache row is then treated as a miss).
 */
struct json_object *pc_lm_response_to_json(const pc_lm_response *r);
int pc_lm_response_from_json(const struct json_object *v,
                             pc_lm_response *out);

#endif
