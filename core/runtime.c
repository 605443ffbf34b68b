/*
 * runtime.c - opening what program runs share (LM roles, adapters, cache,
 * scheduler) and keeping the counters and the history of recent calls.
 */
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "host.h"
#include "json_text.h"
#include "program.h"
#include "runtime.h"

#define MAX_ADAPTERS 16

/* One adapter the runtime opened, with the lock that serialises calls on
 * it when its plugin's instances are not thread-safe. Slots never move. */
struct pc_rt_adapter {
  char *name;            /* owned */
  pc_adapter *adapter;   /* owned */
  int serialise;         /* the plugin's instances are not thread-safe */
  pthread_mutex_t lock;
};

struct pc_runtime {
  const pc_config *cfg;     /* borrowed */
  const pc_registry *reg;   /* borrowed */
  pc_config *own_cfg;       /* owned default config when none was given */
  pc_lm *roles[PC_ROLE_COUNT];  /* owned, NULL: served by roles[0] */
  pc_cache *cache;          /* owned, NULL with no_cache */
  pc_sched *sched;          /* owned */
  char *forced_adapter;     /* owned, or NULL */

  pthread_mutex_t lock;     /* adapters, usage, history */
  struct pc_rt_adapter adapters[MAX_ADAPTERS];
  size_t n_adapters;
  pc_usage role_usage[PC_ROLE_COUNT];  /* every call, by LM role */
  char **history;           /* owned ring of record texts */
  size_t history_cap, history_len, history_next;
};

/* ---- usage ------------------------------------------------------------- */

void pc_usage_add(pc_usage *into, const pc_usage *u)
{
  into->calls += u->calls;
  into->provider_calls += u->provider_calls;
  into->cache_hits += u->cache_hits;
  into->fallbacks += u->fallbacks;
  into->prompt_tokens += u->prompt_tokens;
  into->completion_tokens += u->completion_tokens;
  into->latency_ms += u->latency_ms;
}

void pc_usage_sub(pc_usage *from, const pc_usage *u)
{
  from->calls -= u->calls;
  from->provider_calls -= u->provider_calls;
  from->cache_hits -= u->cache_hits;
  from->fallbacks -= u->fallbacks;
  from->prompt_tokens -= u->prompt_tokens;
  from->completion_tokens -= u->completion_tokens;
  from->latency_ms -= u->latency_ms;
}

void pc_usage_from_json(const struct json_object *o, pc_usage *u)
{
  struct json_object *v;

  memset(u, 0, sizeof(*u));
  if (json_object_object_get_ex(o, "calls", &v))
    u->calls = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "provider_calls", &v))
    u->provider_calls = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "cache_hits", &v))
    u->cache_hits = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "fallbacks", &v))
    u->fallbacks = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "prompt_tokens", &v))
    u->prompt_tokens = json_object_get_int64(v);
  if (json_object_object_get_ex(o, "completion_tokens", &v))
    u->completion_tokens = json_object_get_int64(v);
}

struct json_object *pc_usage_to_json(const pc_usage *u)
{
  struct json_object *o = json_object_new_object();

  if (!o ||
      json_object_object_add(o, "calls",
                             json_object_new_int64((int64_t)u->calls)) ||
      json_object_object_add(o, "provider_calls",
                             json_object_new_int64(
                               (int64_t)u->provider_calls)) ||
      json_object_object_add(o, "cache_hits",
                             json_object_new_int64((int64_t)u->cache_hits)) ||
      json_object_object_add(o, "fallbacks",
                             json_object_new_int64((int64_t)u->fallbacks)) ||
      json_object_object_add(o, "prompt_tokens",
                             json_object_new_int64(u->prompt_tokens)) ||
      json_object_object_add(o, "completion_tokens",
                             json_object_new_int64(u->completion_tokens))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* ---- open and close ---------------------------------------------------- */

static void cache_warn(void *ctx, const char *msg)
{
  const pc_host_api *h = pc_host_api_get();

  (void)ctx;
  h->log(h->ctx, PC_LOG_WARN, NULL, msg, strlen(msg));
}

static int open_cache(pc_runtime *rt, const pc_runtime_opts *o,
                      pc_error *err)
{
  char *dflt = NULL;
  const char *path = o->cache_path;
  int rc;

  if (o->no_cache || !rt->cfg->cache_enabled)
    return PC_OK;
  if (!path)
    path = rt->cfg->cache_path;
  if (!path) {
    dflt = pc_cache_default_dir();
    if (!dflt)
      cache_warn(NULL, "cache: neither XDG_CACHE_HOME nor HOME is set; "
                 "caching in memory only");
    path = dflt;
  }
  rc = pc_cache_open(path, rt->cfg->cache_memory, cache_warn, NULL,
                     &rt->cache, err);
  pc_free(dflt);
  return rc;
}

int pc_runtime_open(const pc_runtime_opts *o, pc_runtime **out,
                    pc_error *err)
{
  pc_runtime *rt;
  int threads, rc;

  *out = NULL;
  rt = pc_calloc(1, sizeof(*rt));
  if (!rt)
    return pc_error_set(err, PC_E_NOMEM, "runtime: out of memory");
  pthread_mutex_init(&rt->lock, NULL);
  rt->reg = o->reg;
  rt->cfg = o->cfg;
  if (!rt->cfg) {
    rt->own_cfg = pc_config_new_default();
    if (!rt->own_cfg) {
      rc = pc_error_set(err, PC_E_NOMEM, "runtime: out of memory");
      goto fail;
    }
    rt->cfg = rt->own_cfg;
  }
  if (o->adapter && !(rt->forced_adapter = pc_strdup(o->adapter))) {
    rc = pc_error_set(err, PC_E_NOMEM, "runtime: out of memory");
    goto fail;
  }
  if (!rt->cfg->roles[PC_ROLE_LM]) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: no \"lm\" configured: "
                      "add e.g. {\"lm\": {\"provider\": \"sim\", "
                      "\"knowledge\": \"data.jsonl\"}}",
                      rt->cfg->path ? rt->cfg->path : "config");
    goto fail;
  }
  for (int r = 0; r < PC_ROLE_COUNT; r++) {
    if (!rt->cfg->roles[r])
      continue;
    rc = pc_lm_open(rt->reg, pc_config_role_name(r), rt->cfg->roles[r],
                    rt->cfg->base_dir, &rt->roles[r], err);
    if (rc)
      goto fail;
  }
  threads = o->threads > 0 ? o->threads
            : rt->cfg->concurrency > 0 ? rt->cfg->concurrency
                                       : PC_CONCURRENCY_DEFAULT;
  rc = pc_sched_new(threads, &rt->sched, err);
  if (rc)
    goto fail;
  rc = open_cache(rt, o, err);
  if (rc)
    goto fail;
  rt->history_cap = o->history_cap ? o->history_cap : PC_HISTORY_DEFAULT;
  rt->history = pc_calloc(rt->history_cap, sizeof(char *));
  if (!rt->history) {
    rc = pc_error_set(err, PC_E_NOMEM, "runtime: out of memory");
    goto fail;
  }
  *out = rt;
  return PC_OK;
fail:
  pc_runtime_close(rt);
  return rc;
}

void pc_runtime_close(pc_runtime *rt)
{
  if (!rt)
    return;
  pc_sched_free(rt->sched);
  pc_cache_close(rt->cache);
  for (size_t i = 0; i < rt->n_adapters; i++) {
    pc_adapter_close(rt->adapters[i].adapter);
    pc_free(rt->adapters[i].name);
    pthread_mutex_destroy(&rt->adapters[i].lock);
  }
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    pc_lm_close(rt->roles[r]);
  if (rt->history)
    for (size_t i = 0; i < rt->history_cap; i++)
      pc_free(rt->history[i]);
  pc_free(rt->history);
  pc_free(rt->forced_adapter);
  pc_config_free(rt->own_cfg);
  pthread_mutex_destroy(&rt->lock);
  pc_free(rt);
}

pc_sched *pc_runtime_sched(pc_runtime *rt) { return rt->sched; }
pc_cache *pc_runtime_cache(pc_runtime *rt) { return rt->cache; }
const pc_config *pc_runtime_config(const pc_runtime *rt) { return rt->cfg; }

pc_lm *pc_runtime_lm(pc_runtime *rt, int role)
{
  if (role < 0 || role >= PC_ROLE_COUNT || !rt->roles[role])
    return rt->roles[PC_ROLE_LM];
  return rt->roles[role];
}

struct json_object *pc_runtime_models(pc_runtime *rt)
{
  struct json_object *all = json_object_new_object();

  if (!all)
    return NULL;
  for (int r = 0; r < PC_ROLE_COUNT; r++) {
    const pc_lm *lm = rt->roles[r];
    const pc_plugin *p;
    struct json_object *o;

    if (!lm)
      continue;
    p = pc_lm_plugin(lm);
    if (!(o = json_object_new_object()) ||
        json_object_object_add(all, pc_config_role_name(r), o)) {
      json_object_put(o);
      json_object_put(all);
      return NULL;
    }
    json_object_object_add(o, "provider",
                           json_object_new_string(pc_lm_provider(lm)));
    json_object_object_add(o, "plugin", json_object_new_string(p->info->id));
    json_object_object_add(o, "plugin_version",
                           json_object_new_string(p->info->version));
    json_object_object_add(o, "model", pc_lm_model(lm)
                             ? json_object_new_string(pc_lm_model(lm))
                             : NULL);
    json_object_object_add(o, "identity",
                           json_object_new_string(pc_lm_identity(lm)));
  }
  return all;
}

/* ---- adapters ---------------------------------------------------------- */

const char *pc_runtime_adapter_name(const pc_runtime *rt,
                                    const char *module_choice)
{
  if (rt->forced_adapter)
    return rt->forced_adapter;
  if (module_choice)
    return module_choice;
  return rt->cfg->adapter ? rt->cfg->adapter : PC_ADAPTER_DEFAULT;
}

int pc_runtime_adapter(pc_runtime *rt, const char *name,
                       pc_rt_adapter **out, pc_error *err)
{
  struct pc_rt_adapter *slot;
  int rc = PC_OK;

  if (!name)
    name = pc_runtime_adapter_name(rt, NULL);
  *out = NULL;
  pthread_mutex_lock(&rt->lock);
  for (size_t i = 0; i < rt->n_adapters; i++)
    if (!strcmp(rt->adapters[i].name, name)) {
      *out = &rt->adapters[i];
      goto out;
    }
  if (rt->n_adapters == MAX_ADAPTERS) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "adapter \"%s\": more than %d "
                      "adapters in one run", name, MAX_ADAPTERS);
    goto out;
  }
  slot = &rt->adapters[rt->n_adapters];
  rc = pc_adapter_open(rt->reg, name, NULL, &slot->adapter, err);
  if (rc)
    goto out;
  if (!(slot->name = pc_strdup(name))) {
    pc_adapter_close(slot->adapter);
    slot->adapter = NULL;
    rc = pc_error_set(err, PC_E_NOMEM, "adapter \"%s\": out of memory", name);
    goto out;
  }
  slot->serialise = !(slot->adapter->plugin->info->flags &
                      PC_PLUGIN_THREADSAFE_INSTANCES);
  pthread_mutex_init(&slot->lock, NULL);
  rt->n_adapters++;
  *out = slot;
out:
  pthread_mutex_unlock(&rt->lock);
  return rc;
}

int pc_runtime_check_program(pc_runtime *rt, const pc_program *prog,
                             pc_error *err)
{
  for (size_t i = 0; i < pc_program_n_predictors(prog); i++) {
    const pc_predictor *p = pc_program_predictor_at(prog, i);
    const char *choice = NULL, *fb;
    struct json_object *v;
    pc_rt_adapter *a = NULL;
    pc_error e = PC_ERROR_INIT;

    if (p->config && json_object_object_get_ex(p->config, "adapter", &v))
      choice = json_object_get_string(v);
    if (pc_runtime_adapter(rt, pc_runtime_adapter_name(rt, choice), &a, &e))
      return pc_error_set(err, e.code, "%s: %s", p->path, e.message);
    fb = pc_adapter_fallback(a->adapter);
    if (fb && pc_runtime_adapter(rt, fb, &a, &e))
      return pc_error_set(err, e.code, "%s: fallback: %s", p->path,
                          e.message);
  }
  return PC_OK;
}

const char *pc_rt_adapter_name(const pc_rt_adapter *a)
{
  return pc_adapter_name(a->adapter);
}

const char *pc_rt_adapter_fallback(const pc_rt_adapter *a)
{
  return pc_adapter_fallback(a->adapter);
}

int pc_rt_adapter_format(pc_rt_adapter *a, const char *sig_json,
                         size_t sig_len, const struct json_object *demos,
                         const struct json_object *inputs, pc_messages *out,
                         pc_error *err)
{
  int rc;

  if (a->serialise)
    pthread_mutex_lock(&a->lock);
  rc = pc_adapter_format_json(a->adapter, sig_json, sig_len, demos, inputs,
                              out, err);
  if (a->serialise)
    pthread_mutex_unlock(&a->lock);
  return rc;
}

int pc_rt_adapter_parse(pc_rt_adapter *a, const char *sig_json,
                        size_t sig_len, const char *text, size_t len,
                        struct json_object **out, pc_error *err)
{
  int rc;

  if (a->serialise)
    pthread_mutex_lock(&a->lock);
  rc = pc_adapter_parse_json(a->adapter, sig_json, sig_len, text, len, out,
                             err);
  if (a->serialise)
    pthread_mutex_unlock(&a->lock);
  return rc;
}

/* ---- counters and history ---------------------------------------------- */

void pc_runtime_count(pc_runtime *rt, int role, const pc_usage *u)
{
  if (role < 0 || role >= PC_ROLE_COUNT)
    role = PC_ROLE_LM;
  pthread_mutex_lock(&rt->lock);
  pc_usage_add(&rt->role_usage[role], u);
  pthread_mutex_unlock(&rt->lock);
}

void pc_runtime_usage(pc_runtime *rt, pc_usage *out)
{
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&rt->lock);
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    pc_usage_add(out, &rt->role_usage[r]);
  pthread_mutex_unlock(&rt->lock);
}

void pc_runtime_role_usage(pc_runtime *rt, pc_usage out[PC_ROLE_COUNT])
{
  pthread_mutex_lock(&rt->lock);
  memcpy(out, rt->role_usage, sizeof(rt->role_usage));
  pthread_mutex_unlock(&rt->lock);
}

void pc_runtime_remember(pc_runtime *rt, const struct json_object *record)
{
  pc_buf b;
  char *text;

  pc_buf_init(&b, 0);
  if (pc_json_write(record, PC_JSON_TEXT_COMPACT, &b) ||
      !(text = pc_buf_take(&b, NULL))) {
    pc_buf_free(&b);
    return;  /* out of memory: the history is best effort */
  }
  pthread_mutex_lock(&rt->lock);
  pc_free(rt->history[rt->history_next]);
  rt->history[rt->history_next] = text;
  rt->history_next = (rt->history_next + 1) % rt->history_cap;
  if (rt->history_len < rt->history_cap)
    rt->history_len++;
  pthread_mutex_unlock(&rt->lock);
}

struct json_object *pc_runtime_history(pc_runtime *rt, size_t n)
{
  struct json_object *arr = json_object_new_array();
  size_t start;

  if (!arr)
    return NULL;
  pthread_mutex_lock(&rt->lock);
  if (n == 0 || n > rt->history_len)
    n = rt->history_len;
  start = (rt->history_next + rt->history_cap - n) % rt->history_cap;
  for (size_t k = 0; k < n; k++) {
    const char *t = rt->history[(start + k) % rt->history_cap];
    struct json_object *v = NULL;
    pc_error e = PC_ERROR_INIT;

    if (pc_json_parse(t, strlen(t), PC_JSON_PARSE_STRICT, &v, &e) ||
        json_object_array_add(arr, v)) {
      json_object_put(v);
      json_object_put(arr);
      arr = NULL;
      break;
    }
  }
  pthread_mutex_unlock(&rt->lock);
  return arr;
}
