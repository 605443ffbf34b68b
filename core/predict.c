/*
 * predict.c - the LM call path of one predictor call: format, cache,
 * complete, parse, fall back, trace and count.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "json_text.h"
#include "knn.h"
#include "lm_settings.h"
#include "module_wrap.h"
#include "predict.h"
#include "pricing.h"
#include "value.h"

void pc_run_ctx_init(pc_run_ctx *ctx, pc_runtime *rt)
{
  memset(ctx, 0, sizeof(*ctx));
  ctx->rt = rt;
  ctx->role = PC_ROLE_LM;
}

void pc_run_ctx_clear(pc_run_ctx *ctx)
{
  json_object_put(ctx->trace);
  ctx->trace = NULL;
  memset(&ctx->usage, 0, sizeof(ctx->usage));
  ctx->parse_failures = 0;
  ctx->steps = 0;
}

/* One format-complete-parse attempt with one adapter. */
struct attempt {
  pc_rt_adapter *adapter;      /* borrowed from the runtime */
  pc_messages msgs;
  struct json_object *msgs_json;  /* owned: msgs as JSON, made once for
                                     the cache key and the record */
  struct json_object *params;  /* owned: the merged call settings */
  char *rollout_id;            /* owned, or NULL */
  pc_lm_response resp;
  int hit;                     /* the response came from the cache */
  struct json_object *parsed;  /* owned on success: the outputs, or with
                                  all_choices an array of them */
  int all_choices;             /* parse every completion, not the first */
  pc_usage usage;
};

int pc_demo_equals_example(const struct json_object *demo,
                           const struct json_object *fields)
{
  size_t n = 0;

  if (!json_object_is_type(demo, json_type_object) ||
      !json_object_is_type(fields, json_type_object))
    return 0;
  json_object_object_foreach((struct json_object *)demo, key, val) {
    struct json_object *other;

    if (!strcmp(key, "augmented"))
      continue;
    if (!json_object_object_get_ex(fields, key, &other) ||
        !json_object_equal(val, other))
      return 0;
    n++;
  }
  return n == (size_t)json_object_object_length(fields);
}

/* Append deep copies of `from`'s demos to `into`, less those equal to
 * `exclude` (NULL: none). A copy, never a new reference: json-c's
 * reference counts are not atomic, and other tasks read the same demos. */
static int append_demos(struct json_object *into,
                        const struct json_object *from,
                        const struct json_object *exclude)
{
  size_t n = json_object_array_length(from);

  for (size_t i = 0; i < n; i++) {
    struct json_object *d = json_object_array_get_idx(from, i), *c = NULL;

    if (exclude && pc_demo_equals_example(d, exclude))
      continue;
    if (json_object_deep_copy(d, &c, NULL) != 0 ||
        json_object_array_add(into, c) != 0) {
      json_object_put(c);
      return PC_E_NOMEM;
    }
  }
  return PC_OK;
}

/* The demos this call shows: the predictor's, then (with a KNN pool) the
 * pool's nearest to the call's inputs, less those equal to the run's
 * excluded example. Borrowed from the predictor when nothing changes,
 * else a new array stored in *owned for the caller to put. NULL with
 * err set on failure. */
static const struct json_object *shown_demos(const pc_run_ctx *ctx,
                                             const pc_predictor *pred,
                                             const struct json_object *inputs,
                                             struct json_object **owned,
                                             pc_error *err)
{
  struct json_object *near = NULL, *keep;
  size_t n = json_object_array_length(pred->demos), i;
  int rc;

  *owned = NULL;
  if (pred->knn_pool) {
    rc = pc_knn_pool_demos(pred->knn_pool, inputs, &near, err);
    if (rc)
      return NULL;
  } else {
    if (!ctx->exclude_demo)
      return pred->demos;
    for (i = 0; i < n; i++)
      if (pc_demo_equals_example(json_object_array_get_idx(pred->demos, i),
                                 ctx->exclude_demo))
        break;
    if (i == n)
      return pred->demos;
  }
  if (!(keep = json_object_new_array()) ||
      append_demos(keep, pred->demos, ctx->exclude_demo) ||
      (near && append_demos(keep, near, ctx->exclude_demo))) {
    json_object_put(keep);
    json_object_put(near);
    pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
    return NULL;
  }
  json_object_put(near);
  *owned = keep;
  return keep;
}

static void attempt_clear(struct attempt *t)
{
  pc_messages_clear(&t->msgs);
  json_object_put(t->msgs_json);
  json_object_put(t->params);
  pc_free(t->rollout_id);
  pc_lm_response_clear(&t->resp);
  json_object_put(t->parsed);
  memset(t, 0, sizeof(*t));
}

static int add(struct json_object *o, const char *key, struct json_object *v)
{
  if (!v)
    return PC_E_NOMEM;
  if (json_object_object_add(o, key, v) != 0) {
    json_object_put(v);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static struct json_object *copy_of(const struct json_object *v)
{
  struct json_object *c = NULL;

  if (!v)
    return NULL;
  if (json_object_deep_copy((struct json_object *)v, &c, NULL) != 0)
    return NULL;
  return c;
}

/* Role settings, then the module's, then the run's overrides, then what
 * the adapter asks for (response_format). "rollout_id" is taken out. */
static int merge_params(pc_run_ctx *ctx, pc_lm *lm, const pc_predictor *pred,
                        struct attempt *t, pc_error *err)
{
  struct json_object *rid, *extra = NULL;
  pc_error perr = PC_ERROR_INIT;

  t->params = copy_of(pc_lm_params(lm));
  if (!t->params || pc_lm_settings_merge(t->params, pred->config) ||
      pc_lm_settings_merge(t->params, ctx->overrides) ||
      (pred->model &&
       add(t->params, "model", json_object_new_string(pred->model))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
  if (json_object_object_get_ex(t->params, "rollout_id", &rid)) {
    if (json_object_is_type(rid, json_type_string) ||
        json_object_is_type(rid, json_type_int))
      t->rollout_id = pc_strdup(json_object_get_string(rid));
    json_object_object_del(t->params, "rollout_id");
  }
  if (t->msgs.params_json) {
    if (pc_json_parse(t->msgs.params_json, strlen(t->msgs.params_json),
                      PC_JSON_PARSE_STRICT, &extra, &perr) ||
        !json_object_is_type(extra, json_type_object)) {
      json_object_put(extra);
      return pc_error_set(err, PC_E_INTERNAL, "%s: adapter \"%s\" asked for "
                          "parameters that are not a JSON object", pred->path,
                          pc_rt_adapter_name(t->adapter));
    }
    json_object_object_foreach(extra, key, val) {
      if (add(t->params, key, json_object_get(val))) {
        json_object_put(extra);
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory",
                            pred->path);
      }
    }
    json_object_put(extra);
  }
  return PC_OK;
}

/* sha256 of the canonical request: provider, model identity, the digest
 * of the provider's settings, messages, call settings and rollout id
 * (never a secret: none of these holds one). */
static int cache_key(pc_lm *lm, struct attempt *t,
                     char key[PC_SHA256_HEX_LEN + 1])
{
  struct json_object *req = json_object_new_object();
  pc_buf b;
  int rc = PC_E_NOMEM;

  pc_buf_init(&b, 0);
  if (!req ||
      add(req, "provider", json_object_new_string(pc_lm_provider_id(lm))) ||
      add(req, "model", json_object_new_string(pc_lm_identity(lm))) ||
      add(req, "provider_config",
          json_object_new_string(pc_lm_config_hash(lm))) ||
      add(req, "messages", json_object_get(t->msgs_json)) ||
      add(req, "params", json_object_get(t->params)) ||
      (t->rollout_id
         ? add(req, "rollout_id", json_object_new_string(t->rollout_id))
         : json_object_object_add(req, "rollout_id", NULL)))
    goto out;
  if (pc_json_write(req, PC_JSON_TEXT_COMPACT | PC_JSON_TEXT_SORTED, &b))
    goto out;
  pc_sha256_hex(b.data, b.len, key);
  rc = PC_OK;
out:
  json_object_put(req);
  pc_buf_free(&b);
  return rc;
}

/* Fetch the response: from the cache when it has it, else from the
 * provider (storing it). */
static int fetch(pc_run_ctx *ctx, pc_lm *lm, struct attempt *t,
                 const char *path, pc_error *err)
{
  pc_cache *cache = pc_runtime_cache(ctx->rt);
  char key[PC_SHA256_HEX_LEN + 1];
  int use_cache = cache && pc_lm_cacheable(lm);
  int owned = 0, rc;

  if (use_cache && cache_key(lm, t, key))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  if (use_cache) {
    char *value = NULL;
    size_t len = 0;

    if (pc_cache_lookup(cache, key, &value, &len) == PC_CACHE_HIT) {
      struct json_object *rec = NULL;
      pc_error perr = PC_ERROR_INIT;
      int ok = pc_json_parse(value, len, PC_JSON_PARSE_STRICT, &rec,
                             &perr) == PC_OK &&
               pc_lm_response_from_json(rec, &t->resp) == PC_OK;

      json_object_put(rec);
      pc_free(value);
      if (ok) {
        t->hit = 1;
        t->usage.calls++;
        t->usage.cache_hits++;
        return PC_OK;
      }
      /* A record we cannot read counts as a miss and is replaced below;
       * a hit does not reserve the key, so there is nothing to abandon. */
      owned = 0;
    } else {
      owned = 1;
    }
  }
  rc = pc_lm_complete(lm, &t->msgs, t->params, t->rollout_id, ctx->call,
                      &t->resp, err);
  t->usage.calls++;
  t->usage.provider_calls++;
  t->usage.retries += t->resp.retries;
  t->usage.rate_limited += t->resp.rate_limited;
  t->usage.retry_wait_ms += t->resp.retry_wait_ms;
  t->usage.rate_wait_ms += t->resp.rate_wait_ms;
  t->usage.drifts += t->resp.drift ? 1 : 0;
  if (rc) {
    if (owned)
      pc_cache_abandon(cache, key);
    return rc;
  }
  if (t->resp.prompt_tokens > 0)
    t->usage.prompt_tokens += t->resp.prompt_tokens;
  if (t->resp.completion_tokens > 0)
    t->usage.completion_tokens += t->resp.completion_tokens;
  t->usage.latency_ms += t->resp.latency_ms;
  if (use_cache) {
    struct json_object *rec = pc_lm_response_to_json(&t->resp);
    pc_buf b;

    pc_buf_init(&b, 0);
    if (rec && pc_json_write(rec, PC_JSON_TEXT_COMPACT, &b) == PC_OK)
      pc_cache_put(cache, key, b.data, b.len);
    else if (owned)
      pc_cache_abandon(cache, key);
    pc_buf_free(&b);
    json_object_put(rec);
  }
  return PC_OK;
}

/* Parse every completion of the response into an array; the ones that
 * do not parse are left out. PC_E_PARSE (the last failure's message) when
 * none parses. */
static int parse_all(struct attempt *t, const pc_predictor *pred,
                     pc_error *err)
{
  pc_error last = PC_ERROR_INIT;

  if (!(t->parsed = json_object_new_array()))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
  for (size_t i = 0; i < t->resp.n_texts; i++) {
    struct json_object *one = NULL;
    pc_error e = PC_ERROR_INIT;
    int rc = pc_rt_adapter_parse(t->adapter, pred->signature_plugin_json,
                                 pred->signature_plugin_len,
                                 t->resp.texts[i], t->resp.lens[i], &one,
                                 &e);

    if (rc == PC_E_PARSE) {
      last = e;
      continue;
    }
    if (rc)
      return pc_error_set(err, rc, "%s", e.message);
    if (json_object_array_add(t->parsed, one) != 0) {
      json_object_put(one);
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
    }
  }
  if (json_object_array_length(t->parsed) == 0)
    return pc_error_set(err, PC_E_PARSE, "%s",
                        last.message[0] ? last.message : "no completion");
  return PC_OK;
}

static int run_attempt(pc_run_ctx *ctx, pc_lm *lm, const pc_predictor *pred,
                       const struct json_object *inputs, struct attempt *t,
                       pc_error *err)
{
  struct json_object *owned = NULL;
  const struct json_object *demos = shown_demos(ctx, pred, inputs, &owned,
                                                err);
  int rc;

  if (!demos)
    return err->code ? err->code : PC_E_NOMEM;
  rc = pc_rt_adapter_format(t->adapter, pred->signature_plugin_json,
                            pred->signature_plugin_len, demos, inputs,
                            &t->msgs, err);
  json_object_put(owned);
  if (rc)
    return rc;
  rc = merge_params(ctx, lm, pred, t, err);
  if (rc)
    return rc;
  if (!(t->msgs_json = pc_messages_to_json(&t->msgs)))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
  rc = fetch(ctx, lm, t, pred->path, err);
  if (rc)
    return rc;
  if (!t->all_choices)
    return pc_rt_adapter_parse(t->adapter, pred->signature_plugin_json,
                               pred->signature_plugin_len, t->resp.texts[0],
                               t->resp.lens[0], &t->parsed, err);
  return parse_all(t, pred, err);
}

/* The call record: always the predictor, inputs and outputs; with detail
 * what was sent and received. */
/* What else the provider said about the model that answered, and how the
 * call went: retries, waits, drift. */
static int add_served_meta(struct json_object *r, const struct attempt *t)
{
  static const char *const keys[] = {"system_fingerprint", "digest",
                                     "request_id", NULL};
  struct json_object *v;

  for (size_t i = 0; keys[i]; i++)
    if (t->resp.meta && json_object_object_get_ex(t->resp.meta, keys[i], &v)
        && add(r, keys[i], json_object_get(v)))
      return PC_E_NOMEM;
  if (t->hit)
    return PC_OK;
  if (add(r, "retries", json_object_new_int64(t->resp.retries)) ||
      add(r, "retry_wait_ms",
          json_object_new_int64((int64_t)(t->resp.retry_wait_ms + 0.5))) ||
      add(r, "rate_wait_ms",
          json_object_new_int64((int64_t)(t->resp.rate_wait_ms + 0.5))))
    return PC_E_NOMEM;
  if (t->resp.drift && add(r, "drift", json_object_new_boolean(1)))
    return PC_E_NOMEM;
  return PC_OK;
}

/* The call's cost in USD at the role's price, with the first attempt's
 * when the fallback adapter answered (`first`, may be NULL): 0 for a
 * cache hit, null when the price is unknown or a provider did not say
 * what a live call used (docs/config.md, "pricing"). */
static int add_cost(struct json_object *r, const pc_run_ctx *ctx,
                    const struct attempt *t, const struct attempt *first)
{
  pc_price price;
  pc_usage paid = t->usage;
  double cost;

  if (first)
    pc_usage_add(&paid, &first->usage);
  pc_pricing_lookup(pc_runtime_config(ctx->rt), ctx->role, &price);
  cost = pc_price_cost(&price, &paid);
  if ((!t->hit && t->resp.n_texts &&
       (t->resp.prompt_tokens < 0 || t->resp.completion_tokens < 0)) ||
      (first && !first->hit && first->resp.n_texts &&
       (first->resp.prompt_tokens < 0 || first->resp.completion_tokens < 0)))
    cost = NAN;
  if (isnan(cost))
    return json_object_object_add(r, "cost", NULL) ? PC_E_NOMEM : PC_OK;
  return add(r, "cost", json_object_new_double(cost));
}

/* The model a call asked for: the predictor's state "model" when set,
 * else the role's identity. Borrowed. */
static const char *asked_model(const pc_predictor *pred, const pc_lm *lm)
{
  return pred->model ? pred->model : pc_lm_identity(lm);
}

static struct json_object *make_record(const pc_run_ctx *ctx,
                                       const pc_predictor *pred,
                                       pc_lm *lm,
                                       const struct json_object *inputs,
                                       const struct attempt *t,
                                       const struct attempt *first,
                                       const pc_error *first_err, int detail)
{
  struct json_object *r = json_object_new_object();
  struct json_object *usage, *served = NULL;

  if (!r ||
      add(r, "predictor", json_object_new_string(pred->path)) ||
      add(r, "inputs", copy_of(inputs)) ||
      add(r, "outputs", copy_of(t->parsed)))
    goto fail;
  if (!detail)
    return r;
  if (t->resp.meta)
    json_object_object_get_ex(t->resp.meta, "model", &served);
  if (add_served_meta(r, t) || add_cost(r, ctx, t, first))
    goto fail;
  usage = json_object_new_object();
  if (add(r, "adapter", json_object_new_string(pc_rt_adapter_name(t->adapter)))
      || add(r, "model", json_object_new_string(asked_model(pred, lm))) ||
      (served && add(r, "served_model", json_object_get(served))) ||
      add(r, "messages", json_object_get(t->msgs_json)) ||
      add(r, "completion", json_object_new_string_len(t->resp.texts[0],
                                                      (int)t->resp.lens[0]))
      || add(r, "cache_hit", json_object_new_boolean(t->hit)) ||
      add(r, "usage", usage) ||
      add(usage, "prompt_tokens",
          json_object_new_int64(t->resp.prompt_tokens)) ||
      add(usage, "completion_tokens",
          json_object_new_int64(t->resp.completion_tokens)) ||
      add(r, "latency_ms", json_object_new_double(t->resp.latency_ms)))
    goto fail;
  if (first) {
    struct json_object *fb = json_object_new_object();

    if (add(r, "fallback", fb) ||
        add(fb, "adapter",
            json_object_new_string(pc_rt_adapter_name(first->adapter))) ||
        add(fb, "error", json_object_new_string(first_err->message)) ||
        add(fb, "completion",
            json_object_new_string_len(first->resp.texts[0],
                                       (int)first->resp.lens[0])))
      goto fail;
  }
  return r;
fail:
  json_object_put(r);
  return NULL;
}

/* A failed attempt's cost: what its tokens cost when a completion came
 * back (a parse failure is paid for), else nothing; null when the price
 * is unknown either way. */
static int add_failure_cost(struct json_object *r, const pc_run_ctx *ctx,
                            const struct attempt *t)
{
  pc_price price;

  pc_pricing_lookup(pc_runtime_config(ctx->rt), ctx->role, &price);
  if (!price.known)
    return json_object_object_add(r, "cost", NULL) ? PC_E_NOMEM : PC_OK;
  return add_cost(r, ctx, t, NULL);
}

/* The call record of a failed attempt, so the history shows what was sent
 * and why it failed: what make_record gives, with "error" {"code",
 * "message"} in place of the outputs and the completion when there was
 * one (a parse failure). NULL when nothing was sent (the prompt could not
 * be formatted) or out of memory. */
static struct json_object *failure_record(const pc_run_ctx *ctx,
                                          const pc_predictor *pred,
                                          pc_lm *lm,
                                          const struct json_object *inputs,
                                          const struct attempt *t,
                                          const pc_error *e)
{
  struct json_object *r, *err, *usage;

  if (!t->msgs_json || !(r = json_object_new_object()))
    return NULL;
  err = json_object_new_object();
  usage = json_object_new_object();
  if (add(r, "predictor", json_object_new_string(pred->path)) ||
      add(r, "inputs", copy_of(inputs)) ||
      add(r, "error", err) ||
      add(err, "code", json_object_new_string(pc_errname(e->code))) ||
      add(err, "message", json_object_new_string(e->message)) ||
      add(r, "adapter",
          json_object_new_string(pc_rt_adapter_name(t->adapter))) ||
      add(r, "model", json_object_new_string(asked_model(pred, lm))) ||
      add(r, "messages", json_object_get(t->msgs_json)) ||
      add_served_meta(r, t) || add_failure_cost(r, ctx, t) ||
      add(r, "cache_hit", json_object_new_boolean(t->hit)) ||
      add(r, "usage", usage) ||
      add(usage, "prompt_tokens", json_object_new_int64(
            t->resp.n_texts ? t->resp.prompt_tokens : 0)) ||
      add(usage, "completion_tokens", json_object_new_int64(
            t->resp.n_texts ? t->resp.completion_tokens : 0)) ||
      add(r, "latency_ms", json_object_new_double(t->resp.latency_ms)))
    goto fail;
  if (t->resp.n_texts &&
      add(r, "completion", json_object_new_string_len(t->resp.texts[0],
                                                      (int)t->resp.lens[0])))
    goto fail;
  return r;
fail:
  json_object_put(r);
  return NULL;
}

/* Remember a failed call in the runtime's history: the last attempt
 * made, with the call's final error (best effort: a record that cannot be
 * made is skipped, the failure itself stands). A chat answer that the
 * fallback adapter then parsed is not a failure: its record, made by
 * make_record, holds the first try under "fallback". */
static void remember_failure(pc_run_ctx *ctx, const pc_predictor *pred,
                             pc_lm *lm, const struct json_object *inputs,
                             const struct attempt *t, const pc_error *e)
{
  struct json_object *rec = failure_record(ctx, pred, lm, inputs, t, e);

  if (rec)
    pc_runtime_remember(ctx->rt, rec);
  json_object_put(rec);
}

static int append_trace(pc_run_ctx *ctx, struct json_object *rec)
{
  size_t cap = ctx->trace_cap ? ctx->trace_cap : PC_TRACE_CAP_DEFAULT;

  if (!ctx->trace && !(ctx->trace = json_object_new_array()))
    return PC_E_NOMEM;
  /* As DSPy: at the cap the oldest record makes room. */
  if (json_object_array_length(ctx->trace) >= cap)
    json_object_array_del_idx(ctx->trace, 0, 1);
  if (json_object_array_add(ctx->trace, rec) != 0)
    return PC_E_NOMEM;
  return PC_OK;
}

static void count(pc_run_ctx *ctx, const pc_usage *u)
{
  pc_usage_add(&ctx->usage, u);
  pc_runtime_count(ctx->rt, ctx->role, u);
}

static int predict_once(pc_run_ctx *ctx, const pc_predictor *pred,
                        const struct json_object *inputs, int all_choices,
                        struct json_object **outputs, pc_error *err)
{
  pc_lm *lm = pc_runtime_lm(ctx->rt, ctx->role);
  const char *choice = NULL, *fb_name;
  struct json_object *v, *rec = NULL;
  struct attempt first, second, *done = &first;
  pc_error e1 = PC_ERROR_INIT, e2 = PC_ERROR_INIT;
  int rc, used_fallback = 0;

  *outputs = NULL;
  memset(&first, 0, sizeof(first));
  memset(&second, 0, sizeof(second));
  pc_lm_response_clear(&first.resp);
  pc_lm_response_clear(&second.resp);
  first.all_choices = second.all_choices = all_choices;
  if (pred->config && json_object_object_get_ex(pred->config, "adapter", &v))
    choice = json_object_get_string(v);
  rc = pc_runtime_adapter(ctx->rt, pc_runtime_adapter_name(ctx->rt, choice),
                          &first.adapter, err);
  if (rc)
    goto out;
  rc = run_attempt(ctx, lm, pred, inputs, &first, &e1);
  count(ctx, &first.usage);
  if (rc == PC_E_PARSE)
    ctx->parse_failures++;
  if (rc == PC_E_PARSE && (fb_name = pc_rt_adapter_fallback(first.adapter))) {
    /* DSPy's ChatAdapter retries once with the JSON adapter. */
    rc = pc_runtime_adapter(ctx->rt, fb_name, &second.adapter, &e2);
    if (rc == PC_OK) {
      rc = run_attempt(ctx, lm, pred, inputs, &second, &e2);
      second.usage.fallbacks++;
      count(ctx, &second.usage);
    }
    if (rc) {
      /* The code is the fallback's: a parse error when it could not parse
       * either, an LM error when its call failed. */
      pc_error_set(err, rc, "%s: %s; fallback: %s", pred->path, e1.message,
                   e2.message);
      err->http_status = e2.http_status;
      err->retry_after_ms = e2.retry_after_ms;
      remember_failure(ctx, pred, lm, inputs,
                       second.adapter ? &second : &first, err);
      goto out;
    }
    done = &second;
    used_fallback = 1;
  } else if (rc) {
    pc_error_set(err, rc, "%s: %s", pred->path, e1.message);
    err->http_status = e1.http_status;
    err->retry_after_ms = e1.retry_after_ms;
    remember_failure(ctx, pred, lm, inputs, &first, err);
    goto out;
  }
  rec = make_record(ctx, pred, lm, inputs, done,
                    used_fallback ? &first : NULL, &e1, 1);
  if (!rec) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
    goto out;
  }
  pc_runtime_remember(ctx->rt, rec);
  if (!(ctx->flags & PC_RUN_TRACE_DETAIL)) {
    json_object_put(rec);
    rec = make_record(ctx, pred, lm, inputs, done, NULL, NULL, 0);
  }
  if (!rec || append_trace(ctx, rec)) {
    json_object_put(rec);
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
    goto out;
  }
  *outputs = done->parsed;
  done->parsed = NULL;
out:
  attempt_clear(&first);
  attempt_clear(&second);
  return rc;
}

/* A hinted call's predictor and inputs: the caller's, with the input
 * "hint_" added. */
typedef struct hinted {
  pc_predictor pred;           /* shallow copy but for the signature */
  struct json_object *inputs;  /* owned */
} hinted;

static void hinted_clear(hinted *hc)
{
  pc_signature_free(hc->pred.signature);
  pc_free(hc->pred.signature_plugin_json);
  json_object_put(hc->inputs);
  memset(hc, 0, sizeof(*hc));
}

/* Make `hc` (zeroed storage) the hinted form of `pred` and `inputs`;
 * on failure it holds nothing. */
static int hint_call(const pc_run_ctx *ctx, const pc_predictor *pred,
                     const struct json_object *inputs, hinted *hc,
                     pc_error *err)
{
  struct json_object *v = NULL, *hint;
  pc_buf b, text;
  int rc;

  pc_buf_init(&b, 0);
  pc_buf_init(&text, 0);
  hc->pred = *pred;
  hc->pred.signature_plugin_json = NULL;
  hc->pred.signature = pc_signature_copy(pred->signature);
  if (!hc->pred.signature)
    goto nomem;
  rc = pc__wrap_append_input(hc->pred.signature, PC_HINT_FIELD,
                             PC_HINT_DESC);
  if (rc) {
    pc_error_set(err, rc, "%s: cannot add the input '" PC_HINT_FIELD
                 "'%s", pred->path, rc == PC_E_INVALID_ARG ? ": the "
                 "signature already has a field of that name" : "");
    goto fail;
  }
  if (pc_signature_to_plugin_json(hc->pred.signature, &b) ||
      !(hc->pred.signature_plugin_json =
          pc_buf_take(&b, &hc->pred.signature_plugin_len)))
    goto nomem;
  if (inputs && json_object_deep_copy((struct json_object *)inputs,
                                      &hc->inputs, NULL) != 0)
    goto nomem;
  if (!hc->inputs && !(hc->inputs = json_object_new_object()))
    goto nomem;
  if (json_object_object_get_ex(ctx->hints, pred->path, &v) && v) {
    rc = pc_value_render(v, NULL, PC_VALUE_RENDER_PYSTR, &text, err);
    if (rc)
      goto fail;
  } else if (pc_buf_puts(&text, "N/A")) {
    goto nomem;
  }
  hint = json_object_new_string_len(text.data ? text.data : "",
                                    (int)text.len);
  if (!hint || json_object_object_add(hc->inputs, PC_HINT_FIELD,
                                      hint) != 0) {
    json_object_put(hint);
    goto nomem;
  }
  rc = PC_OK;
  goto out;

nomem:
  rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", pred->path);
fail:
  hinted_clear(hc);
out:
  pc_buf_free(&b);
  pc_buf_free(&text);
  return rc;
}

static int predict_call(pc_run_ctx *ctx, const pc_predictor *pred,
                        const struct json_object *inputs, int all_choices,
                        struct json_object **outputs, pc_error *err)
{
  hinted hc;
  int rc;

  *outputs = NULL;
  if (!ctx->hints)
    return predict_once(ctx, pred, inputs, all_choices, outputs, err);
  memset(&hc, 0, sizeof(hc));
  rc = hint_call(ctx, pred, inputs, &hc, err);
  if (!rc)
    rc = predict_once(ctx, &hc.pred, hc.inputs, all_choices, outputs, err);
  hinted_clear(&hc);
  return rc;
}

int pc_predict(pc_run_ctx *ctx, const pc_predictor *pred,
               const struct json_object *inputs,
               struct json_object **outputs, pc_error *err)
{
  return predict_call(ctx, pred, inputs, 0, outputs, err);
}

int pc_predict_choices(pc_run_ctx *ctx, const pc_predictor *pred,
                       const struct json_object *inputs,
                       struct json_object **choices, pc_error *err)
{
  return predict_call(ctx, pred, inputs, 1, choices, err);
}
