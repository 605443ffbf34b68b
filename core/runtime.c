/*
 * runtime.c - opening what program runs share (LM roles, adapters, cache,
 * scheduler) and keeping the counters, the history of recent calls and the
 * call log that writes them to the run store.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "host.h"
#include "json_text.h"
#include "module.h"
#include "program.h"
#include "runstore.h"
#include "runtime.h"
#include "tool.h"

#define MAX_ADAPTERS 16

/* Call records are kept as compact text; a NaN or infinity (which JSON
 * cannot hold) becomes null, so every record parses back. */
#define RECORD_FLAGS (PC_JSON_TEXT_COMPACT | PC__JSON_TEXT_NONFINITE_NULL)

/* One call record waiting for the run store. */
struct queued_call {
  char *text;       /* owned: the record as compact JSON */
  int64_t time_ms;  /* when it was remembered (Unix milliseconds) */
};

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

  pthread_mutex_t lock;     /* adapters, usage, history, the log queue */
  struct pc_rt_adapter adapters[MAX_ADAPTERS];
  size_t n_adapters;
  pc_usage role_usage[PC_ROLE_COUNT];  /* every call, by LM role */
  char **history;           /* owned ring of record texts */
  size_t history_cap, history_len, history_next;

  /*
   * The call log. `lock` guards the store pointer, the run id, the next
   * seq and the queue; `log_write` is held by whoever writes batches
   * (never under `lock`), so a detach waits for a write in progress and
   * batches are written one at a time. log_lost is guarded by `lock`,
   * log_warned by `log_write`.
   */
  pthread_mutex_t log_write;
  struct pc_runstore *log_store;  /* borrowed; NULL: no log attached */
  char log_run[PC_RUN_ID_MAX];
  int64_t log_seq;                /* the next batch's number */
  struct queued_call *queue;      /* owned: queue_len waiting records */
  size_t queue_len, queue_cap;
  uint64_t log_lost;              /* calls not written since attach */
  int log_warned;                 /* a failed write was reported */

  /* Other parts' per-runtime state (pc_runtime_slot), guarded by `lock`. */
  void *slots[PC_RT_SLOTS];
  void (*slot_release[PC_RT_SLOTS])(void *state);
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
  into->retries += u->retries;
  into->rate_limited += u->rate_limited;
  into->retry_wait_ms += u->retry_wait_ms;
  into->rate_wait_ms += u->rate_wait_ms;
  into->drifts += u->drifts;
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
  from->retries -= u->retries;
  from->rate_limited -= u->rate_limited;
  from->retry_wait_ms -= u->retry_wait_ms;
  from->rate_wait_ms -= u->rate_wait_ms;
  from->drifts -= u->drifts;
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
  if (json_object_object_get_ex(o, "retries", &v))
    u->retries = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "rate_limited", &v))
    u->rate_limited = (uint64_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "retry_wait_ms", &v))
    u->retry_wait_ms = json_object_get_double(v);
  if (json_object_object_get_ex(o, "rate_wait_ms", &v))
    u->rate_wait_ms = json_object_get_double(v);
  if (json_object_object_get_ex(o, "drifts", &v))
    u->drifts = (uint64_t)json_object_get_int64(v);
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
                             json_object_new_int64(u->completion_tokens)) ||
      json_object_object_add(o, "retries",
                             json_object_new_int64((int64_t)u->retries)) ||
      json_object_object_add(o, "rate_limited",
                             json_object_new_int64(
                               (int64_t)u->rate_limited)) ||
      json_object_object_add(o, "retry_wait_ms",
                             json_object_new_int64(
                               (int64_t)(u->retry_wait_ms + 0.5))) ||
      json_object_object_add(o, "rate_wait_ms",
                             json_object_new_int64(
                               (int64_t)(u->rate_wait_ms + 0.5))) ||
      json_object_object_add(o, "drifts",
                             json_object_new_int64((int64_t)u->drifts))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* ---- open and close ---------------------------------------------------- */

static void log_detach(pc_runtime *rt);

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
  pthread_mutex_init(&rt->log_write, NULL);
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
  pc_sched_free(rt->sched);  /* no task remembers a call after this */
  for (int k = 0; k < PC_RT_SLOTS; k++)
    if (rt->slots[k] && rt->slot_release[k])
      rt->slot_release[k](rt->slots[k]);
  log_detach(rt);
  pc_free(rt->queue);
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
  pthread_mutex_destroy(&rt->log_write);
  pthread_mutex_destroy(&rt->lock);
  pc_free(rt);
}

void *pc_runtime_slot(pc_runtime *rt, int slot,
                      void *(*make)(pc_runtime *rt),
                      void (*release)(void *state))
{
  void *state;

  if (slot < 0 || slot >= PC_RT_SLOTS)
    return NULL;
  pthread_mutex_lock(&rt->lock);
  if (!rt->slots[slot]) {
    rt->slots[slot] = make(rt);
    rt->slot_release[slot] = release;
  }
  state = rt->slots[slot];
  pthread_mutex_unlock(&rt->lock);
  return state;
}

pc_sched *pc_runtime_sched(pc_runtime *rt) { return rt->sched; }
pc_cache *pc_runtime_cache(pc_runtime *rt) { return rt->cache; }
const pc_config *pc_runtime_config(const pc_runtime *rt) { return rt->cfg; }

const pc_registry *pc_runtime_registry(const pc_runtime *rt)
{
  return rt->reg;
}

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
  int rc;

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
  rc = pc_tool_check_program(rt, prog, err);
  return rc ? rc : pc_module_plugin_check(rt, prog, err);
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

/* ---- the call log ------------------------------------------------------ */

/* Add `val` (a constructor's result, owned) to `o` under `key`; a NULL
 * `val` is out of memory unless `may_be_null`. 0 or -1 (val freed). */
static int put(struct json_object *o, const char *key,
               struct json_object *val, int may_be_null)
{
  if (!val && !may_be_null)
    return -1;
  if (json_object_object_add(o, key, val) != 0) {
    json_object_put(val);
    return -1;
  }
  return 0;
}

/* Member `key` of `o` as a count: an integer >= 0, else 0. */
static int64_t count_of(const struct json_object *o, const char *key)
{
  struct json_object *v = pc_json_member(o, key);

  if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
    return 0;
  return json_object_get_int64(v);
}

/* Member `key` of `o` as a finite number, or NAN. */
static double number_of(const struct json_object *o, const char *key)
{
  struct json_object *v = pc_json_member(o, key);
  double d;

  if (!json_object_is_type(v, json_type_int) &&
      !json_object_is_type(v, json_type_double))
    return NAN;
  d = json_object_get_double(v);
  return isfinite(d) ? d : NAN;
}

/* Add string member `key` of `from` to `to`, or null when `from` has no
 * such string. 0 or -1 (out of memory). */
static int put_string(struct json_object *to, const struct json_object *from,
                      const char *key)
{
  const char *s = pc_json_str(from, key);

  return put(to, key, s ? json_object_new_string(s) : NULL, s == NULL);
}

/*
 * The row pc_runstore_put_calls stores for one queued record: the columns
 * taken from the record (absent or ill-typed members give null, 0 or
 * false) and the record itself, stamped with "time_ms". A new object, or
 * NULL when the text does not parse back or out of memory.
 */
static struct json_object *log_row(const struct queued_call *q)
{
  struct json_object *rec = NULL, *row = NULL, *usage;
  pc_error e = PC_ERROR_INIT;
  double latency, cost;

  if (pc_json_parse(q->text, strlen(q->text), PC_JSON_PARSE_STRICT, &rec,
                    &e) != PC_OK ||
      !json_object_is_type(rec, json_type_object))
    goto fail;
  usage = pc_json_member(rec, "usage");
  latency = number_of(rec, "latency_ms");
  cost = number_of(rec, "cost");
  if (!(row = json_object_new_object()) ||
      put_string(row, rec, "predictor") || put_string(row, rec, "model") ||
      put(row, "cache_hit", json_object_new_boolean(
            json_object_get_boolean(pc_json_member(rec, "cache_hit"))), 0) ||
      put(row, "prompt_tokens",
          json_object_new_int64(count_of(usage, "prompt_tokens")), 0) ||
      put(row, "completion_tokens",
          json_object_new_int64(count_of(usage, "completion_tokens")), 0) ||
      put(row, "latency_ms",
          json_object_new_double(latency >= 0 ? latency : 0), 0) ||
      put(row, "cost", isnan(cost) ? NULL : json_object_new_double(cost),
          isnan(cost)) ||
      put(row, "retries", json_object_new_int64(count_of(rec, "retries")),
          0) ||
      put(rec, "time_ms", json_object_new_int64(q->time_ms), 0))
    goto fail;
  if (put(row, "record", rec, 0)) {
    rec = NULL;  /* freed by put */
    goto fail;
  }
  return row;

fail:
  json_object_put(rec);
  json_object_put(row);
  return NULL;
}

/* Warn through the host log, as the cache does. */
static void log_warn(const char *fmt, ...) PC_PRINTF(1, 2);
static void log_warn(const char *fmt, ...)
{
  const pc_host_api *h = pc_host_api_get();
  char msg[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  h->log(h->ctx, PC_LOG_WARN, NULL, msg, strlen(msg));
}

/* Write `n` queued records as batch `seq` of run `run` and free their
 * texts. Returns how many calls were lost. With rt->log_write held. */
static uint64_t write_batch(pc_runtime *rt, struct pc_runstore *store,
                            const char *run, int64_t seq,
                            struct queued_call *batch, size_t n)
{
  struct json_object *rows = json_object_new_array(), *row;
  pc_error e = PC_ERROR_INIT;
  uint64_t lost = 0;

  for (size_t i = 0; i < n; i++) {
    row = rows ? log_row(&batch[i]) : NULL;
    if (!row || json_object_array_add(rows, row) != 0) {
      json_object_put(row);
      lost++;
    }
    pc_free(batch[i].text);
  }
  if (!rows)
    return lost;
  if (pc_runstore_put_calls(store, run, seq, rows, &e) != PC_OK) {
    lost += json_object_array_length(rows);
    if (!rt->log_warned)
      log_warn("%s (LM calls of run %s are missing from the run store)",
               e.message, run);
    rt->log_warned = 1;
  }
  json_object_put(rows);
  return lost;
}

/*
 * Write the queue in batches, with rt->log_write held: only full batches
 * (`all` 0), or everything (`all` 1). With `detach`, the log is detached
 * once the queue is empty, in the same lock as the check, so no record
 * remembered meanwhile is left behind; *lost then gets the calls lost
 * since attach and run[] the run's id.
 */
static void write_queue(pc_runtime *rt, int all, int detach, uint64_t *lost,
                        char run[PC_RUN_ID_MAX])
{
  struct queued_call batch[PC_CALL_LOG_BATCH];
  struct pc_runstore *store;
  uint64_t failed = 0;
  int64_t seq;
  size_t n;

  for (;;) {
    pthread_mutex_lock(&rt->lock);
    rt->log_lost += failed;
    if (!rt->log_store || rt->queue_len == 0 ||
        (!all && rt->queue_len < PC_CALL_LOG_BATCH)) {
      if (detach && rt->log_store) {
        *lost = rt->log_lost;
        snprintf(run, PC_RUN_ID_MAX, "%s", rt->log_run);
        rt->log_store = NULL;
        rt->log_run[0] = '\0';
        rt->log_lost = 0;
      }
      pthread_mutex_unlock(&rt->lock);
      return;
    }
    n = rt->queue_len < PC_CALL_LOG_BATCH ? rt->queue_len
                                          : PC_CALL_LOG_BATCH;
    memcpy(batch, rt->queue, n * sizeof(*batch));
    rt->queue_len -= n;
    memmove(rt->queue, rt->queue + n, rt->queue_len * sizeof(*batch));
    seq = rt->log_seq++;
    store = rt->log_store;
    snprintf(run, PC_RUN_ID_MAX, "%s", rt->log_run);
    pthread_mutex_unlock(&rt->lock);
    failed = write_batch(rt, store, run, seq, batch, n);
  }
}

/* Flush and detach the log, with rt->log_write held. */
static void log_detach_locked(pc_runtime *rt)
{
  char run[PC_RUN_ID_MAX] = "";
  uint64_t lost = 0;

  write_queue(rt, 1, 1, &lost, run);
  if (lost)
    log_warn("run %s: %" PRIu64 " LM call record%s could not be written to "
             "the run store", run, lost, lost == 1 ? "" : "s");
  rt->log_warned = 0;
}

static void log_detach(pc_runtime *rt)
{
  pthread_mutex_lock(&rt->log_write);
  log_detach_locked(rt);
  pthread_mutex_unlock(&rt->log_write);
}

/* Write the full batches waiting (the remembering thread's share). */
static void log_write_batches(pc_runtime *rt, int all)
{
  char run[PC_RUN_ID_MAX];

  write_queue(rt, all, 0, NULL, run);
}

int pc_runtime_log_calls(pc_runtime *rt, struct pc_runstore *store,
                         const char *run_id, pc_error *err)
{
  int64_t seq = 0;
  int rc = PC_OK;

  pthread_mutex_lock(&rt->log_write);
  log_detach_locked(rt);
  if (!store)
    goto out;
  if ((rc = pc_runstore_calls_next_seq(store, run_id, &seq, err)) != PC_OK)
    goto out;
  pthread_mutex_lock(&rt->lock);
  rt->log_store = store;
  snprintf(rt->log_run, sizeof(rt->log_run), "%s", run_id);
  rt->log_seq = seq;
  rt->log_lost = 0;
  pthread_mutex_unlock(&rt->lock);
out:
  pthread_mutex_unlock(&rt->log_write);
  return rc;
}

void pc_runtime_flush_calls(pc_runtime *rt)
{
  pthread_mutex_lock(&rt->log_write);
  log_write_batches(rt, 1);
  pthread_mutex_unlock(&rt->log_write);
}

/* Now as Unix milliseconds, the time the run store records. */
static int64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Queue `text` (copied) for the attached log, with rt->lock held. Returns
 * non-zero when a full batch is waiting. A copy that cannot be made is a
 * lost call. */
static int log_queue(pc_runtime *rt, const char *text)
{
  struct queued_call *q;

  if (rt->queue_len == rt->queue_cap) {
    size_t cap = rt->queue_cap ? rt->queue_cap * 2 : PC_CALL_LOG_BATCH * 2;

    if (!(q = pc_realloc(rt->queue, cap * sizeof(*q)))) {
      rt->log_lost++;
      return rt->queue_len >= PC_CALL_LOG_BATCH;
    }
    rt->queue = q;
    rt->queue_cap = cap;
  }
  q = &rt->queue[rt->queue_len];
  if (!(q->text = pc_strdup(text))) {
    rt->log_lost++;
    return rt->queue_len >= PC_CALL_LOG_BATCH;
  }
  q->time_ms = wall_ms();
  rt->queue_len++;
  return rt->queue_len >= PC_CALL_LOG_BATCH;
}

void pc_runtime_remember(pc_runtime *rt, const struct json_object *record)
{
  pc_buf b;
  char *text;
  int full = 0;

  pc_buf_init(&b, 0);
  if (pc_json_write(record, RECORD_FLAGS, &b) ||
      !(text = pc_buf_take(&b, NULL))) {
    pc_buf_free(&b);
    return;  /* out of memory: the history is best effort */
  }
  pthread_mutex_lock(&rt->lock);
  if (rt->log_store)
    full = log_queue(rt, text);
  pc_free(rt->history[rt->history_next]);
  rt->history[rt->history_next] = text;
  rt->history_next = (rt->history_next + 1) % rt->history_cap;
  if (rt->history_len < rt->history_cap)
    rt->history_len++;
  pthread_mutex_unlock(&rt->lock);
  /* The thread that fills a batch writes it, unless another is writing
   * already: that one's loop takes this batch too. */
  if (full && pthread_mutex_trylock(&rt->log_write) == 0) {
    log_write_batches(rt, 0);
    pthread_mutex_unlock(&rt->log_write);
  }
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
