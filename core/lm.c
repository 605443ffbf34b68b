/*
 * lm.c - LM roles: creating a provider instance from a role's config and
 * making one completion call through it, collecting what its sink
 * delivers.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "host.h"
#include "json_text.h"
#include "lm.h"
#include "ratelimit.h"
#include "retry.h"

/* Everything up to and including complete is ABI 1.0. */
#define PROVIDER_V1_SIZE \
  (offsetof(pc_lm_provider_iface, complete) + sizeof(void (*)(void)))

/* Members of a role object that the host keeps for itself. */
static const char *const host_members[] = {"provider", "params", "cache",
                                           "retry", "rate_limit", NULL};

/* Distinct served models a role remembers; beyond this, new ones are
 * still drift but no longer logged one by one. */
#define PC_LM_SERVED_MAX 16

/* The meta members that tell which model answered. */
static const char *const served_keys[] = {"model", "system_fingerprint",
                                          "digest", NULL};

struct pc_lm {
  char *role;                        /* owned */
  char *provider;                    /* owned: the name users wrote */
  char *identity;                    /* owned */
  char *model;                       /* owned: the role's "model", or NULL */
  char config_hash[PC_SHA256_HEX_LEN + 1];  /* of the provider's settings */
  pc_plugin *plugin;                 /* borrowed from the registry */
  const pc_lm_provider_iface *iface; /* plugin-owned, static */
  void *inst;                        /* plugin instance */
  struct json_object *params;        /* owned, never NULL */
  int cacheable;
  int serialise;                     /* not thread-safe: one call at once */
  pthread_mutex_t lock;
  atomic_uint_fast64_t calls;
  pc_retry_policy retry;
  pc_ratelimit *limiter;             /* owned; NULL = no limit */
  pthread_mutex_t served_lock;       /* guards the four below */
  /* The served models seen ("model|fingerprint|digest", owned), the first
   * one first: a call served by any other is drift, and each new one is
   * logged once. */
  char *served[PC_LM_SERVED_MAX];
  size_t n_served;
  struct json_object *first_served;  /* owned: the first one, as meta */
  uint64_t drifts;
  atomic_uint_fast64_t tries;        /* numbers each try, for jitter */
};

static int is_host_member(const char *key)
{
  for (size_t i = 0; host_members[i]; i++)
    if (!strcmp(key, host_members[i]))
      return 1;
  return 0;
}

/* The provider's config text: the role minus the host's members, plus
 * base_dir. `hash` gets the sha256 of the same settings without base_dir
 * (sorted keys, compact): what the provider was told, for the cache key.
 * Secrets are references ("env:NAME") in a config, so none is hashed. */
static int provider_config(const struct json_object *role_cfg,
                           const char *base_dir, pc_buf *out,
                           char hash[PC_SHA256_HEX_LEN + 1])
{
  struct json_object *o = json_object_new_object();
  pc_buf canon;
  int rc = PC_E_NOMEM;

  pc_buf_init(&canon, 0);

  if (!o)
    return PC_E_NOMEM;
  json_object_object_foreach((struct json_object *)role_cfg, key, v) {
    struct json_object *copy = NULL;

    if (is_host_member(key))
      continue;
    if (json_object_deep_copy(v, &copy, NULL) != 0 ||
        json_object_object_add(o, key, copy) != 0) {
      json_object_put(copy);
      goto out;
    }
  }
  if (pc_json_write(o, PC_JSON_TEXT_COMPACT | PC_JSON_TEXT_SORTED, &canon))
    goto out;
  pc_sha256_hex(canon.data, canon.len, hash);
  if (json_object_object_add(o, "base_dir",
                             json_object_new_string(base_dir ? base_dir
                                                             : ".")) != 0)
    goto out;
  rc = pc_json_write(o, PC_JSON_TEXT_COMPACT, out);
out:
  pc_buf_free(&canon);
  json_object_put(o);
  return rc;
}

int pc_lm_open(const pc_registry *reg, const char *role,
               const struct json_object *role_cfg, const char *base_dir,
               pc_lm **out, pc_error *err)
{
  struct json_object *v;
  const char *name;
  pc_lm *lm = NULL;
  pc_buf cfg, ident;
  pc_error perr = PC_ERROR_INIT;
  pc_text_sink sink = pc_host_buf_sink(&ident);
  int rc;

  *out = NULL;
  pc_buf_init(&cfg, 0);
  pc_buf_init(&ident, 4096);
  if (!json_object_object_get_ex(role_cfg, "provider", &v) ||
      !json_object_is_type(v, json_type_string))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: no provider named",
                        role);
  name = json_object_get_string(v);
  lm = pc_calloc(1, sizeof(*lm));
  if (!lm || !(lm->role = pc_strdup(role)) ||
      !(lm->provider = pc_strdup(name))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", role);
    goto fail;
  }
  pthread_mutex_init(&lm->lock, NULL);
  pthread_mutex_init(&lm->served_lock, NULL);
  atomic_init(&lm->calls, 0);
  atomic_init(&lm->tries, 0);
  lm->iface = pc_registry_find_iface(reg, PC_IFACE_LM_PROVIDER, name,
                                     (uint32_t)PROVIDER_V1_SIZE,
                                     &lm->plugin);
  if (!lm->iface) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "%s: provider \"%s\": no "
                      "loaded plugin offers it (see `promptc plugins list`)",
                      role, name);
    goto fail;
  }
  if (!lm->iface->create || !lm->iface->complete) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "%s: provider \"%s\" (%s): "
                      "interface lacks create or complete", role, name,
                      lm->plugin->path);
    goto fail;
  }
  lm->serialise =
    !(lm->plugin->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
  lm->cacheable = !json_object_object_get_ex(role_cfg, "cache", &v) ||
                  json_object_get_boolean(v);
  if (json_object_object_get_ex(role_cfg, "params", &v)) {
    if (json_object_deep_copy(v, &lm->params, NULL) != 0)
      lm->params = NULL;
  } else {
    lm->params = json_object_new_object();
  }
  if (json_object_object_get_ex(role_cfg, "model", &v) &&
      json_object_is_type(v, json_type_string) &&
      !(lm->model = pc_strdup(json_object_get_string(v)))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", role);
    goto fail;
  }
  {
    char where[128];

    snprintf(where, sizeof(where), "%s.retry", role);
    rc = pc_retry_policy_read(json_object_object_get_ex(role_cfg, "retry",
                                                         &v) ? v : NULL,
                              where, &lm->retry, err);
    if (rc)
      goto fail;
    snprintf(where, sizeof(where), "%s.rate_limit", role);
    rc = pc_ratelimit_read(json_object_object_get_ex(role_cfg, "rate_limit",
                                                     &v) ? v : NULL,
                           where, &lm->limiter, err);
    if (rc)
      goto fail;
  }
  if (!lm->params ||
      provider_config(role_cfg, base_dir, &cfg, lm->config_hash)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", role);
    goto fail;
  }
  rc = lm->iface->create(lm->plugin->state, cfg.data, cfg.len, &lm->inst,
                         &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    lm->inst = NULL;
    rc = pc_error_wrap(err, &perr, "%s: provider \"%s\" (%s)", role, name,
                       lm->plugin->info->id);
    goto fail;
  }
  if (lm->iface->identity) {
    rc = lm->iface->identity(lm->inst, &sink, &perr);
    if (rc) {
      if (!perr.code)
        perr.code = rc;
      rc = pc_error_wrap(err, &perr, "%s: provider \"%s\": identity", role,
                         name);
      goto fail;
    }
  }
  if (ident.len == 0 && pc_buf_puts(&ident, name)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", role);
    goto fail;
  }
  if (!(lm->identity = pc_buf_take(&ident, NULL))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", role);
    goto fail;
  }
  pc_buf_free(&cfg);
  *out = lm;
  return PC_OK;
fail:
  pc_buf_free(&cfg);
  pc_buf_free(&ident);
  pc_lm_close(lm);
  return rc;
}

void pc_lm_close(pc_lm *lm)
{
  if (!lm)
    return;
  if (lm->inst && lm->iface->destroy)
    lm->iface->destroy(lm->inst);
  if (lm->role) {
    pthread_mutex_destroy(&lm->lock);
    pthread_mutex_destroy(&lm->served_lock);
  }
  pc_ratelimit_free(lm->limiter);
  for (size_t i = 0; i < lm->n_served; i++)
    pc_free(lm->served[i]);
  json_object_put(lm->first_served);
  json_object_put(lm->params);
  pc_free(lm->role);
  pc_free(lm->provider);
  pc_free(lm->identity);
  pc_free(lm->model);
  pc_free(lm);
}

const char *pc_lm_role(const pc_lm *lm) { return lm->role; }
const char *pc_lm_provider(const pc_lm *lm) { return lm->provider; }
const char *pc_lm_provider_id(const pc_lm *lm)
{
  return lm->plugin->info->id;
}
const char *pc_lm_identity(const pc_lm *lm) { return lm->identity; }
const char *pc_lm_model(const pc_lm *lm) { return lm->model; }
const char *pc_lm_config_hash(const pc_lm *lm) { return lm->config_hash; }
const pc_plugin *pc_lm_plugin(const pc_lm *lm) { return lm->plugin; }
const struct json_object *pc_lm_params(const pc_lm *lm)
{
  return lm->params;
}
int pc_lm_cacheable(const pc_lm *lm) { return lm->cacheable; }

uint64_t pc_lm_calls(const pc_lm *lm)
{
  return atomic_load(&((pc_lm *)lm)->calls);
}

uint64_t pc_lm_drifts(const pc_lm *lm)
{
  pc_lm *m = (pc_lm *)lm;
  uint64_t n;

  pthread_mutex_lock(&m->served_lock);
  n = m->drifts;
  pthread_mutex_unlock(&m->served_lock);
  return n;
}

struct json_object *pc_lm_served(const pc_lm *lm)
{
  pc_lm *m = (pc_lm *)lm;
  struct json_object *copy = NULL;

  pthread_mutex_lock(&m->served_lock);
  if (m->first_served &&
      json_object_deep_copy(m->first_served, &copy, NULL) != 0)
    copy = NULL;
  pthread_mutex_unlock(&m->served_lock);
  return copy;
}

void pc_lm_response_clear(pc_lm_response *r)
{
  for (size_t i = 0; i < r->n_texts; i++)
    pc_free(r->texts[i]);
  pc_free(r->texts);
  pc_free(r->lens);
  json_object_put(r->meta);
  memset(r, 0, sizeof(*r));
  r->prompt_tokens = -1;
  r->completion_tokens = -1;
}

/* ---- the provider sink ------------------------------------------------- */

#define MAX_CHOICES 128

static int r_text(void *ctx, uint32_t index, const char *text, size_t len)
{
  pc_lm_response *r = ctx;

  if (index >= MAX_CHOICES || (!text && len))
    return PC_E_INVALID_ARG;
  if (index >= r->n_texts) {
    char **t = pc_realloc(r->texts, (index + 1) * sizeof(*t));
    size_t *l;

    if (!t)
      return PC_E_NOMEM;
    r->texts = t;
    l = pc_realloc(r->lens, (index + 1) * sizeof(*l));
    if (!l)
      return PC_E_NOMEM;
    r->lens = l;
    for (size_t i = r->n_texts; i <= index; i++) {
      r->texts[i] = NULL;
      r->lens[i] = 0;
    }
    r->n_texts = index + 1;
  }
  pc_free(r->texts[index]);
  r->texts[index] = pc_memdup(text ? text : "", len);
  r->lens[index] = len;
  return r->texts[index] ? PC_OK : PC_E_NOMEM;
}

static int r_delta(void *ctx, uint32_t index, const char *text, size_t len)
{
  (void)ctx;
  (void)index;
  (void)text;
  (void)len;
  return PC_OK;  /* the whole text follows through r_text */
}

static int r_usage(void *ctx, int64_t prompt, int64_t completion)
{
  pc_lm_response *r = ctx;

  r->prompt_tokens = prompt;
  r->completion_tokens = completion;
  return PC_OK;
}

static int r_meta(void *ctx, const char *key, const char *value, size_t len)
{
  pc_lm_response *r = ctx;
  struct json_object *s;

  if (!key || (!value && len))
    return PC_E_INVALID_ARG;
  if (!r->meta && !(r->meta = json_object_new_object()))
    return PC_E_NOMEM;
  s = json_object_new_string_len(value ? value : "", (int)len);
  if (!s || json_object_object_add(r->meta, key, s) != 0) {
    json_object_put(s);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* One try: the provider's complete() with the response collected in
 * `out` (cleared first). On failure `err` holds the provider's own code
 * and message and `out` is empty. */
static int one_try(pc_lm *lm, const pc_lm_request *req, pc_call *call,
                   pc_lm_response *out, uint64_t *try_no, pc_error *err)
{
  pc_lm_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_lm_sink),
    .ctx = out,
    .text = r_text,
    .delta = r_delta,
    .usage = r_usage,
    .meta = r_meta,
  };
  const pc_host_api *host = pc_host_api_get();
  uint64_t t0;
  int rc;

  pc_lm_response_clear(out);
  if (lm->serialise)
    pthread_mutex_lock(&lm->lock);
  t0 = host->now_ns(host->ctx);
  atomic_fetch_add(&lm->calls, 1);
  *try_no = atomic_fetch_add(&lm->tries, 1);
  rc = lm->iface->complete(lm->inst, req, &sink, call, err);
  out->latency_ms = (double)(host->now_ns(host->ctx) - t0) / 1e6;
  if (lm->serialise)
    pthread_mutex_unlock(&lm->lock);

  if (rc == PC_OK && (out->n_texts == 0 || !out->texts[0]))
    rc = pc_error_set(err, PC_E_PROVIDER, "the provider returned no text");
  if (rc) {
    if (!err->code)
      err->code = rc;
    pc_lm_response_clear(out);
    return err->code;
  }
  /* A missing middle choice is an empty text, never a NULL. */
  for (size_t i = 0; i < out->n_texts; i++)
    if (!out->texts[i] && !(out->texts[i] = pc_strdup(""))) {
      pc_lm_response_clear(out);
      return pc_error_set(err, PC_E_NOMEM, "out of memory");
    }
  return PC_OK;
}

/* "model|fingerprint|digest" of a response's meta, or NULL when it names
 * none of them. New string owned by the caller. */
static char *served_key(const struct json_object *meta,
                        struct json_object **parts)
{
  pc_buf b;
  int any = 0;

  *parts = NULL;
  if (!meta)
    return NULL;
  pc_buf_init(&b, 4096);
  if (!(*parts = json_object_new_object()))
    return NULL;
  for (size_t i = 0; served_keys[i]; i++) {
    struct json_object *v;
    const char *s = "";

    if (json_object_object_get_ex(meta, served_keys[i], &v)) {
      s = json_object_get_string(v);
      any = 1;
      json_object_object_add(*parts, served_keys[i],
                             json_object_new_string(s));
    }
    if ((i && pc_buf_putc(&b, '|')) || pc_buf_puts(&b, s))
      goto fail;
  }
  if (!any)
    goto fail;
  return pc_buf_take(&b, NULL);
fail:
  pc_buf_free(&b);
  json_object_put(*parts);
  *parts = NULL;
  return NULL;
}

/* Compare the served model of a successful response with the first one
 * this role saw: the first sets it; a different one is drift, flagged
 * and counted on every call it serves, and logged the first time it
 * appears (replicas that alternate fingerprints log each one once). */
static void watch_served(pc_lm *lm, pc_lm_response *out)
{
  struct json_object *parts = NULL;
  char *key = served_key(out->meta, &parts);
  char line[512];
  int n = -1;

  if (!key)
    return;
  pthread_mutex_lock(&lm->served_lock);
  if (lm->n_served == 0) {
    lm->served[lm->n_served++] = key;
    lm->first_served = parts;
    key = NULL;
    parts = NULL;
  } else if (strcmp(lm->served[0], key) != 0) {
    size_t i;

    lm->drifts++;
    out->drift = 1;
    for (i = 1; i < lm->n_served; i++)
      if (!strcmp(lm->served[i], key))
        break;
    if (i == lm->n_served && i < PC_LM_SERVED_MAX) {
      n = snprintf(line, sizeof(line), "%s (%s): the served model changed "
                   "during the run: %s -> %s (model|fingerprint|digest)",
                   lm->role, lm->provider, lm->served[0], key);
      lm->served[lm->n_served++] = key;
      key = NULL;
    }
  }
  pthread_mutex_unlock(&lm->served_lock);
  if (n > 0) {
    const pc_host_api *host = pc_host_api_get();

    host->log(host->ctx, PC_LOG_WARN, NULL, line,
              (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
  }
  pc_free(key);
  json_object_put(parts);
}

/* Add `s` to the end of e's message, as far as it fits. */
static void append_message(pc_error *e, const char *s)
{
  size_t n = strlen(e->message);

  snprintf(e->message + n, sizeof(e->message) - n, "%s", s);
}

/* The tokens a request may use, for the rate limiter: its text at four
 * bytes a token, plus max_tokens for each of its n choices when set. */
static int64_t estimate_tokens(const pc_messages *msgs,
                               const struct json_object *params)
{
  struct json_object *v;
  int64_t t = 0;

  for (size_t i = 0; i < msgs->n; i++)
    t += (int64_t)(msgs->items[i].len + 3) / 4;
  if (params && json_object_object_get_ex(params, "max_tokens", &v)) {
    int64_t choices = 1;
    struct json_object *n;

    if (json_object_object_get_ex(params, "n", &n) &&
        json_object_get_int64(n) > 1)
      choices = json_object_get_int64(n);
    t += json_object_get_int64(v) * choices;
  }
  return t;
}

/* Write the call settings the provider gets to `pj`: all of `params`
 * (NULL: {}) but "model", a model id that replaces the role's for this
 * call (a predictor's state "model"), which goes to *model (borrowed from
 * params, NULL when absent). */
static int write_params(const struct json_object *params, pc_buf *pj,
                        const char **model)
{
  struct json_object *v, *rest;
  int rc;

  *model = NULL;
  if (!params)
    return pc_buf_puts(pj, "{}");
  if (!json_object_object_get_ex(params, "model", &v))
    return pc_json_write(params, PC_JSON_TEXT_COMPACT, pj);
  if (json_object_is_type(v, json_type_string))
    *model = json_object_get_string(v);
  if (!(rest = json_object_new_object()))
    return PC_E_NOMEM;
  json_object_object_foreach((struct json_object *)params, key, val) {
    if (strcmp(key, "model") &&
        json_object_object_add(rest, key, json_object_get(val)) != 0) {
      json_object_put(rest);
      return PC_E_NOMEM;
    }
  }
  rc = pc_json_write(rest, PC_JSON_TEXT_COMPACT, pj);
  json_object_put(rest);
  return rc;
}

int pc_lm_complete(pc_lm *lm, const pc_messages *msgs,
                   const struct json_object *params, const char *rollout_id,
                   pc_call *call, pc_lm_response *out, pc_error *err)
{
  pc_message *wire = NULL;
  pc_buf pj;
  pc_error perr = PC_ERROR_INIT;
  pc_lm_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_lm_request),
  };
  int64_t estimate = lm->limiter ? estimate_tokens(msgs, params) : 0;
  const char *model = NULL;
  uint32_t retries = 0, limited = 0;
  double retry_wait = 0, rate_wait = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  pc_lm_response_clear(out);
  pc_buf_init(&pj, 0);
  wire = pc_calloc(msgs->n ? msgs->n : 1, sizeof(*wire));
  if (!wire || write_params(params, &pj, &model)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", lm->role);
    goto out;
  }
  for (size_t i = 0; i < msgs->n; i++) {
    wire[i].hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_message);
    wire[i].role = msgs->items[i].role;
    wire[i].content = msgs->items[i].content;
    wire[i].content_len = msgs->items[i].len;
  }
  req.model = model ? model : lm->model;
  req.messages = wire;
  req.n_messages = msgs->n;
  req.message_size = (uint32_t)sizeof(pc_message);
  req.params_json = pj.data;
  req.params_len = pj.len;
  req.rollout_id = rollout_id;

  for (;;) {
    double waited = 0;
    int64_t delay;
    uint64_t try_no = 0;

    perr = (pc_error)PC_ERROR_INIT;
    rc = pc_ratelimit_acquire(lm->limiter, estimate, call, &waited);
    rate_wait += waited;
    if (rc) {
      pc_error_set(&perr, rc, rc == PC_E_CANCELLED
                   ? "cancelled while waiting for the rate limit"
                   : "the call's deadline came while waiting for the rate "
                     "limit");
      break;
    }
    rc = one_try(lm, &req, call, out, &try_no, &perr);
    if (rc == PC_OK) {
      /* What the call really used, when the provider said. */
      if (out->prompt_tokens >= 0 && out->completion_tokens >= 0)
        pc_ratelimit_settle(lm->limiter, estimate,
                            out->prompt_tokens + out->completion_tokens);
      break;
    }
    pc_ratelimit_settle(lm->limiter, estimate, 0);  /* a failure used none */
    if (!pc_retry_retryable(rc) || retries >= (uint32_t)lm->retry.max_retries)
      break;
    delay = pc_retry_delay_ms(&lm->retry, (int)retries + 1,
                              perr.retry_after_ms,
                              pc_rng_u64(0, "retry-backoff", try_no, 0));
    if (delay < 0) {
      /* The server asked for a longer wait than the policy allows. */
      char hint[96];

      snprintf(hint, sizeof(hint), " (the server asked to wait %.0f s, "
               "over retry.max_retry_after_ms)",
               (double)perr.retry_after_ms / 1000.0);
      append_message(&perr, hint);
      break;
    }
    if (pc_retry_sleep(delay, call) != PC_OK)
      break;  /* cancelled or out of time: report the last failure */
    retries++;
    if (rc == PC_E_RATE_LIMITED)
      limited++;
    retry_wait += (double)delay;
  }
  if (rc == PC_OK) {
    /* A call that asked for another model (a predictor's state "model")
     * is not the role's model: it is neither drift nor a first sight. */
    if (!model)
      watch_served(lm, out);
  } else if (retries) {
    rc = pc_error_wrap(err, &perr, "%s (%s), after %u %s", lm->role,
                       lm->provider, (unsigned)retries,
                       retries == 1 ? "retry" : "retries");
  } else {
    rc = pc_error_wrap(err, &perr, "%s (%s)", lm->role, lm->provider);
  }
out:
  out->retries = retries;
  out->rate_limited = limited;
  out->retry_wait_ms = retry_wait;
  out->rate_wait_ms = rate_wait;
  pc_free(wire);
  pc_buf_free(&pj);
  return rc;
}

/* ---- the cache record -------------------------------------------------- */

struct json_object *pc_lm_response_to_json(const pc_lm_response *r)
{
  struct json_object *o = json_object_new_object();
  struct json_object *texts = json_object_new_array();
  struct json_object *usage = json_object_new_object();
  struct json_object *meta = NULL;

  if (!o || !texts || !usage)
    goto fail;
  for (size_t i = 0; i < r->n_texts; i++)
    if (json_object_array_add(texts, json_object_new_string_len(
                                       r->texts[i], (int)r->lens[i])))
      goto fail;
  if (json_object_object_add(usage, "prompt_tokens",
                             json_object_new_int64(r->prompt_tokens)) ||
      json_object_object_add(usage, "completion_tokens",
                             json_object_new_int64(r->completion_tokens)))
    goto fail;
  if (r->meta && json_object_deep_copy(r->meta, &meta, NULL) != 0)
    goto fail;
  if (!meta && !(meta = json_object_new_object()))
    goto fail;
  json_object_object_add(o, "texts", texts);
  json_object_object_add(o, "usage", usage);
  json_object_object_add(o, "meta", meta);
  json_object_object_add(o, "latency_ms",
                         json_object_new_double(r->latency_ms));
  return o;
fail:
  json_object_put(o);
  json_object_put(texts);
  json_object_put(usage);
  json_object_put(meta);
  return NULL;
}

int pc_lm_response_from_json(const struct json_object *v,
                             pc_lm_response *out)
{
  struct json_object *texts, *usage, *meta, *x;
  size_t n;

  memset(out, 0, sizeof(*out));
  out->prompt_tokens = -1;
  out->completion_tokens = -1;
  if (!json_object_object_get_ex(v, "texts", &texts) ||
      !json_object_is_type(texts, json_type_array) ||
      (n = json_object_array_length(texts)) == 0 || n > MAX_CHOICES)
    return PC_E_PARSE;
  for (size_t i = 0; i < n; i++) {
    struct json_object *t = json_object_array_get_idx(texts, i);

    if (!json_object_is_type(t, json_type_string))
      goto bad;
    if (r_text(out, (uint32_t)i, json_object_get_string(t),
               (size_t)json_object_get_string_len(t)))
      goto bad;
  }
  if (json_object_object_get_ex(v, "usage", &usage)) {
    if (json_object_object_get_ex(usage, "prompt_tokens", &x))
      out->prompt_tokens = json_object_get_int64(x);
    if (json_object_object_get_ex(usage, "completion_tokens", &x))
      out->completion_tokens = json_object_get_int64(x);
  }
  if (json_object_object_get_ex(v, "meta", &meta) &&
      json_object_is_type(meta, json_type_object) &&
      json_object_deep_copy(meta, &out->meta, NULL) != 0)
    goto bad;
  if (json_object_object_get_ex(v, "latency_ms", &x))
    out->latency_ms = json_object_get_double(x);
  return PC_OK;
bad:
  pc_lm_response_clear(out);
  return PC_E_PARSE;
}
