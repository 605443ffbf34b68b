/*
 * lm_sim.c - the sim LM provider plugin: a deterministic simulated model
 * that answers adapter-formatted requests from a knowledge file, with a
 * skill that rises with good demos, key phrases in the instructions and a
 * reasoning field on hard items (docs/sim.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "promptc/plugin.h"
#include "sim_agent.h"
#include "sim_answer.h"
#include "sim_common.h"
#include "sim_knowledge.h"
#include "sim_meta.h"
#include "sim_request.h"

#define WHO PC__SIM_WHO

#define MAX_CHOICES 128
#define MAX_DEMO_CAP 1000
#define MAX_LATENCY_MS 600000
#define MAX_CONTEXT_TOKENS 100000000

/* The v1.0 sizes of the structs the host passes in. */
#define REQUEST_V1_SIZE \
  (offsetof(pc_lm_request, rollout_id) + sizeof(const char *))
#define SINK_V1_SIZE \
  (offsetof(pc_lm_sink, meta) + sizeof(void (*)(void)))

#define KIND_TASK 0
#define KIND_META 1
#define KIND_UNKNOWN 2

static const char *const kind_names[] = {"task", "meta", "unknown"};

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. */
typedef struct sim_inst {
  const pc__sim_host *h;   /* borrowed: the plugin state */
  pc__sim_config cfg;      /* owned strings */
  pc__sim_knowledge kn;    /* owned */
  char identity[32];       /* "sim-1@" and 12 hex digits */
} sim_inst;

/* ------------------------------------------------------------------------ */
/* Configuration.                                                           */

/* The settings in [0, 1], with where they live. */
static const struct {
  const char *key;
  size_t offset;
} unit_keys[] = {
  {"base_skill", offsetof(pc__sim_config, base_skill)},
  {"demo_gain", offsetof(pc__sim_config, demo_gain)},
  {"instruction_gain", offsetof(pc__sim_config, instruction_gain)},
  {"hard_penalty", offsetof(pc__sim_config, hard_penalty)},
  {"reasoning_gain", offsetof(pc__sim_config, reasoning_gain)},
  {"max_skill", offsetof(pc__sim_config, max_skill)},
  {"malformed_rate", offsetof(pc__sim_config, malformed_rate)},
  {"meta_phrase_rate", offsetof(pc__sim_config, meta_phrase_rate)},
  {"meta_feedback_rate", offsetof(pc__sim_config, meta_feedback_rate)},
  {"compare_gain", offsetof(pc__sim_config, compare_gain)},
  {"hint_gain", offsetof(pc__sim_config, hint_gain)},
};
#define N_UNIT_KEYS (sizeof(unit_keys) / sizeof(unit_keys[0]))

/* The string settings: may they be empty, are they paths. */
static const struct {
  const char *key;
  size_t offset;
  int empty_ok;
  int is_path;
} string_keys[] = {
  {"model", offsetof(pc__sim_config, model), 1, 0},
  {"hard_field", offsetof(pc__sim_config, hard_field), 0, 0},
  {"hard_value", offsetof(pc__sim_config, hard_value), 1, 0},
  {"call_log", offsetof(pc__sim_config, call_log), 0, 1},
};
#define N_STRING_KEYS (sizeof(string_keys) / sizeof(string_keys[0]))

static void config_defaults(pc__sim_config *c)
{
  memset(c, 0, sizeof(*c));
  c->seed = 0;
  c->base_skill = 0.45;
  c->demo_gain = 0.08;
  c->demo_cap = 4;
  c->instruction_gain = 0.20;
  c->hard_penalty = 0.30;
  c->reasoning_gain = 0.25;
  c->max_skill = 0.95;
  c->malformed_rate = 0.10;
  c->meta_phrase_rate = 0.30;
  c->meta_feedback_rate = 0.80;
  c->compare_gain = 0.25;
  c->hint_gain = 0.10;
  c->latency_ms = 0;
}

static void config_clear(const pc__sim_host *h, pc__sim_config *c)
{
  for (size_t i = 0; i < c->n_key_phrases; i++)
    pc__sim_free(h, c->key_phrases[i]);
  pc__sim_free(h, c->key_phrases);
  pc__sim_free(h, c->hard_field);
  pc__sim_free(h, c->hard_value);
  pc__sim_free(h, c->model);
  pc__sim_free(h, c->call_log);
  memset(c, 0, sizeof(*c));
}

/* `path` resolved against base_dir (NULL or "" for none), owned. */
static char *resolve(const pc__sim_host *h, const char *base_dir,
                     const char *path)
{
  pc__sim_buf b;

  if (path[0] == '/' || !base_dir || !base_dir[0])
    return pc__sim_strndup(h, path, strlen(path));
  pc__sim_buf_init(&b, h);
  if (pc__sim_buf_printf(&b, "%s%s%s", base_dir,
                         base_dir[strlen(base_dir) - 1] == '/' ? "" : "/",
                         path)) {
    pc__sim_buf_free(&b);
    return NULL;
  }
  return b.data;
}

static int is_number(const pc_json_api *js, const pc_json *v)
{
  return js->type(v) == PC_JSON_INT || js->type(v) == PC_JSON_DOUBLE;
}

/* A string member, non-empty unless `empty_ok`. */
static int get_string(const pc__sim_host *h, const char *key,
                      const pc_json *v, int empty_ok, const char **out,
                      pc_error *err)
{
  size_t len = 0;

  if (h->json->type(v) != PC_JSON_STRING ||
      !(*out = h->json->get_string(v, &len)) || (!len && !empty_ok) ||
      strlen(*out) != len)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: \"%s\" "
                         "must be a%s string", key,
                         empty_ok ? "" : " non-empty");
  return PC_OK;
}

static int get_int(const pc__sim_host *h, const char *key, const pc_json *v,
                   int64_t lo, int64_t hi, int64_t *out, pc_error *err)
{
  if (h->json->type(v) != PC_JSON_INT)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: \"%s\" "
                         "must be an integer", key);
  *out = h->json->get_int(v);
  if (*out < lo || *out > hi)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: \"%s\" "
                         "must be between %lld and %lld", key,
                         (long long)lo, (long long)hi);
  return PC_OK;
}

/* "knowledge": a path or an array of paths, resolved. */
static int get_knowledge(const pc__sim_host *h, const pc_json *v,
                         const char *base_dir, char ***paths, size_t *n,
                         pc_error *err)
{
  const pc_json_api *js = h->json;
  size_t count = js->type(v) == PC_JSON_ARRAY ? js->array_len(v) : 1, i;
  const char *s;

  if (js->type(v) != PC_JSON_STRING &&
      (js->type(v) != PC_JSON_ARRAY || count == 0))
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: "
                         "\"knowledge\" must be a path or a non-empty array "
                         "of paths");
  *paths = pc__sim_alloc(h, count * sizeof(**paths));
  if (!*paths)
    return PC__SIM_OOM(err);
  for (i = 0; i < count; i++) {
    const pc_json *p = js->type(v) == PC_JSON_ARRAY ? js->array_get(v, i)
                                                    : v;

    if (get_string(h, "knowledge", p, 0, &s, err))
      return PC_E_INVALID_ARG;
    (*paths)[i] = resolve(h, base_dir, s);
    *n = i + 1;
    if (!(*paths)[i])
      return PC__SIM_OOM(err);
  }
  return PC_OK;
}

static int get_phrases(const pc__sim_host *h, const pc_json *v,
                       pc__sim_config *c, pc_error *err)
{
  const pc_json_api *js = h->json;
  size_t n = js->array_len(v), i;
  const char *s;

  if (js->type(v) != PC_JSON_ARRAY)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: "
                         "\"key_phrases\" must be an array of strings");
  c->key_phrases = n ? pc__sim_alloc(h, n * sizeof(*c->key_phrases)) : NULL;
  if (n && !c->key_phrases)
    return PC__SIM_OOM(err);
  for (i = 0; i < n; i++) {
    if (get_string(h, "key_phrases", js->array_get(v, i), 0, &s, err))
      return PC_E_INVALID_ARG;
    c->key_phrases[i] = pc__sim_strndup(h, s, strlen(s));
    c->n_key_phrases = i + 1;
    if (!c->key_phrases[i])
      return PC__SIM_OOM(err);
  }
  return PC_OK;
}

/* One member of the config object. */
static int config_member(const pc__sim_host *h, const char *key,
                         const pc_json *v, const char *base_dir,
                         pc__sim_config *c, char ***paths, size_t *n_paths,
                         pc_error *err)
{
  const char *s;
  int64_t i64;
  size_t k;

  for (k = 0; k < N_UNIT_KEYS; k++) {
    double d;

    if (strcmp(key, unit_keys[k].key))
      continue;
    if (!is_number(h->json, v))
      return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: \"%s\" "
                           "must be a number", key);
    d = h->json->get_double(v);
    if (!(d >= 0.0 && d <= 1.0))
      return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: \"%s\" "
                           "must be between 0 and 1", key);
    *(double *)(void *)((char *)c + unit_keys[k].offset) = d;
    return PC_OK;
  }
  if (!strcmp(key, "knowledge"))
    return get_knowledge(h, v, base_dir, paths, n_paths, err);
  if (!strcmp(key, "base_dir"))
    return get_string(h, key, v, 1, &s, err);
  if (!strcmp(key, "key_phrases"))
    return get_phrases(h, v, c, err);
  if (!strcmp(key, "seed")) {
    if (get_int(h, key, v, 0, INT64_MAX, &i64, err))
      return PC_E_INVALID_ARG;
    c->seed = (uint64_t)i64;
    return PC_OK;
  }
  if (!strcmp(key, "demo_cap"))
    return get_int(h, key, v, 0, MAX_DEMO_CAP, &c->demo_cap, err);
  if (!strcmp(key, "latency_ms"))
    return get_int(h, key, v, 0, MAX_LATENCY_MS, &c->latency_ms, err);
  if (!strcmp(key, "max_context_tokens"))
    return get_int(h, key, v, 0, MAX_CONTEXT_TOKENS, &c->max_context_tokens,
                   err);
  for (k = 0; k < N_STRING_KEYS; k++) {
    char **dst = (char **)(void *)((char *)c + string_keys[k].offset);

    if (strcmp(key, string_keys[k].key))
      continue;
    if (get_string(h, key, v, string_keys[k].empty_ok, &s, err))
      return PC_E_INVALID_ARG;
    pc__sim_free(h, *dst);
    *dst = string_keys[k].is_path ? resolve(h, base_dir, s)
                                  : pc__sim_strndup(h, s, strlen(s));
    return *dst ? PC_OK : PC__SIM_OOM(err);
  }
  return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: unknown key "
                       "\"%s\"", key);
}

static int parse_config(const pc__sim_host *h, const char *text, size_t len,
                        pc__sim_config *c, char ***paths, size_t *n_paths,
                        pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error e = PC_ERROR_INIT;
  pc_json *obj = NULL;
  const pc_json *bd;
  const char *base_dir = NULL;
  size_t i, n;
  int rc = PC_OK;

  *paths = NULL;
  *n_paths = 0;
  config_defaults(c);
  if (!text || len == 0)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: "
                         "\"knowledge\" is required");
  if (js->parse(h->host->ctx, text, len, PC_JSON_PARSE_STRICT, &obj, &e))
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: %s",
                         e.message);
  if (!obj || js->type(obj) != PC_JSON_OBJECT) {
    js->free(h->host->ctx, obj);
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: expected a "
                         "JSON object");
  }
  bd = js->object_get(obj, "base_dir");
  if (bd)
    rc = get_string(h, "base_dir", bd, 1, &base_dir, err);
  n = js->object_len(obj);
  for (i = 0; !rc && i < n; i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(obj, i, &key, &v))
      continue;
    rc = config_member(h, key, v, base_dir, c, paths, n_paths, err);
  }
  if (!rc && !*paths)
    rc = pc__sim_error(err, PC_E_INVALID_ARG, WHO ": config: "
                       "\"knowledge\" is required");
  if (!rc && !c->hard_field &&
      !(c->hard_field = pc__sim_strndup(h, "difficulty", 10)))
    rc = PC__SIM_OOM(err);
  if (!rc && !c->hard_value && !(c->hard_value = pc__sim_strndup(h, "hard",
                                                                 4)))
    rc = PC__SIM_OOM(err);
  js->free(h->host->ctx, obj);
  return rc;
}

static void paths_free(const pc__sim_host *h, char **paths, size_t n)
{
  if (!paths)
    return;
  for (size_t i = 0; i < n; i++)
    pc__sim_free(h, paths[i]);
  pc__sim_free(h, paths);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle.                                                               */

static void sim_destroy(void *inst)
{
  sim_inst *s = inst;

  if (!s)
    return;
  pc__sim_knowledge_clear(s->h, &s->kn);
  config_clear(s->h, &s->cfg);
  pc__sim_free(s->h, s);
}

static int sim_create(void *plugin_state, const char *config_json,
                      size_t len, void **inst, pc_error *err)
{
  const pc__sim_host *h = plugin_state;
  char **paths = NULL;
  size_t n_paths = 0;
  sim_inst *s;
  int rc;

  *inst = NULL;
  s = pc__sim_alloc(h, sizeof(*s));
  if (!s)
    return PC__SIM_OOM(err);
  s->h = h;
  rc = parse_config(h, config_json, len, &s->cfg, &paths, &n_paths, err);
  if (!rc)
    rc = pc__sim_knowledge_load(h, paths, n_paths, s->cfg.hard_field,
                                s->cfg.hard_value, &s->kn, err);
  paths_free(h, paths, n_paths);
  if (rc) {
    config_clear(h, &s->cfg);
    pc__sim_free(h, s);
    return rc;
  }
  snprintf(s->identity, sizeof(s->identity), "sim-1@%.12s", s->kn.digest);
  *inst = s;
  return PC_OK;
}

static int sim_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  sim_inst *s = inst;

  if (!s || !out || !out->write)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": identity: no "
                         "instance or sink");
  if (out->write(out->ctx, s->identity, strlen(s->identity)))
    return pc__sim_error(err, PC_E_CANCELLED, WHO ": identity: the sink "
                         "refused the text");
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* The call settings complete() uses: "temperature" and "n". */
static int read_params(const pc__sim_host *h, const pc_lm_request *req,
                       double *temperature, uint32_t *n, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error e = PC_ERROR_INIT;
  pc_json *obj = NULL;
  const pc_json *v;
  int rc = PC_OK;

  *temperature = 0.0;
  *n = 1;
  if (!req->params_json || req->params_len == 0)
    return PC_OK;
  if (js->parse(h->host->ctx, req->params_json, (size_t)req->params_len,
                PC_JSON_PARSE_STRICT, &obj, &e))
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": params: %s",
                         e.message);
  if (!obj || js->type(obj) != PC_JSON_OBJECT) {
    rc = pc__sim_error(err, PC_E_INVALID_ARG, WHO ": params: expected a "
                       "JSON object");
  } else {
    v = js->object_get(obj, "temperature");
    if (v && js->type(v) != PC_JSON_NULL) {
      *temperature = is_number(js, v) ? js->get_double(v) : -1.0;
      if (!(*temperature >= 0.0))
        rc = pc__sim_error(err, PC_E_INVALID_ARG, WHO ": params: "
                           "\"temperature\" must be a number >= 0");
    }
    v = js->object_get(obj, "n");
    if (!rc && v && js->type(v) != PC_JSON_NULL) {
      if (js->type(v) != PC_JSON_INT || js->get_int(v) < 1 ||
          js->get_int(v) > MAX_CHOICES)
        rc = pc__sim_error(err, PC_E_INVALID_ARG, WHO ": params: \"n\" "
                           "must be an integer from 1 to %d", MAX_CHOICES);
      else
        *n = (uint32_t)js->get_int(v);
    }
  }
  js->free(h->host->ctx, obj);
  return rc;
}

/* The sample a choice's draws are keyed on: "" at temperature 0 without a
 * rollout id for the first choice; else "<rollout>#<choice>", and at a
 * temperature above 0 also "#<prompt hash>". */
static int make_sample(pc__sim_buf *b, double temperature,
                       const char *rollout, uint32_t choice,
                       uint64_t prompt_hash)
{
  int rc;

  b->len = 0;
  rc = pc__sim_buf_put(b, "", 0);
  if (rc || (temperature == 0.0 && !rollout && choice == 0))
    return rc;
  rc = pc__sim_buf_printf(b, "%s#%u", rollout ? rollout : "",
                          (unsigned)choice);
  if (!rc && temperature > 0.0)
    rc = pc__sim_buf_printf(b, "#%016llx", (unsigned long long)prompt_hash);
  return rc;
}

/* Append one JSON line to the call log with O_APPEND and one write(2). */
static int log_call(const sim_inst *s, long item, int kind, int adapter,
                    pc_error *err)
{
  const pc__sim_host *h = s->h;
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *obj;
  char *text = NULL;
  size_t len = 0;
  ssize_t w;
  int rc = PC_OK, fd, saved;

  if (!s->cfg.call_log)
    return PC_OK;
  obj = js->new_object(ctx);
  if (obj) {
    const char *id = item >= 0 ? s->kn.rows[item].id : NULL;
    const char *kn = kind_names[kind];
    const char *ad = adapter == PC__SIM_JSON ? "json" : "chat";

    rc = js->object_set(ctx, obj, "item",
                        id ? js->new_string(ctx, id, strlen(id))
                           : js->new_null(ctx));
    rc = rc ? rc : js->object_set(ctx, obj, "kind",
                                  js->new_string(ctx, kn, strlen(kn)));
    rc = rc ? rc : js->object_set(ctx, obj, "adapter",
                                  js->new_string(ctx, ad, 4));
    rc = rc ? rc : js->to_text(ctx, obj, PC_JSON_TEXT_SPACED, &text, &len);
  }
  if (!obj || rc) {
    js->free(ctx, obj);
    return PC__SIM_OOM(err);
  }
  js->free(ctx, obj);
  text[len] = '\n';             /* the NUL becomes the line end */
  fd = open(s->cfg.call_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
            0644);
  if (fd < 0) {
    saved = errno;
    rc = pc__sim_error(err, PC_E_IO, WHO ": call_log %s: %s",
                       s->cfg.call_log, pc__sim_errno_text(saved));
  } else {
    w = write(fd, text, len + 1);
    saved = errno;
    if (w != (ssize_t)(len + 1))
      rc = pc__sim_error(err, PC_E_IO, WHO ": call_log %s: %s",
                         s->cfg.call_log, w < 0 ? pc__sim_errno_text(saved)
                                                : "short write");
    close(fd);
  }
  h->host->free(ctx, text);
  return rc;
}

/* Refuse a prompt longer than max_context_tokens, counted as the usage
 * counts it (bytes + 3, over 4), as a provider refuses one: before any
 * latency, and unlogged, since nothing was answered. */
static int check_context(const sim_inst *s, const pc__sim_request *r,
                         pc_error *err)
{
  int64_t tokens = (int64_t)((r->prompt_bytes + 3) / 4);

  if (s->cfg.max_context_tokens <= 0 || tokens <= s->cfg.max_context_tokens)
    return PC_OK;
  return pc__sim_error(err, PC_E_CONTEXT_LENGTH, WHO ": this model's maximum "
                       "context length is %lld tokens; the prompt is %lld "
                       "tokens (context_length_exceeded)",
                       (long long)s->cfg.max_context_tokens,
                       (long long)tokens);
}

/* Sleep latency_ms in slices, stopping early when the call is cancelled. */
static int simulate_latency(const sim_inst *s, pc_call *call, pc_error *err)
{
  const pc_host_api *host = s->h->host;
  int64_t left = s->cfg.latency_ms;

  while (left > 0) {
    int64_t step = left < 10 ? left : 10;
    struct timespec ts = {0, (long)(step * 1000000)};

    if (host->is_cancelled(host->ctx, call))
      return pc__sim_error(err, PC_E_CANCELLED, WHO ": cancelled");
    nanosleep(&ts, NULL);
    left -= step;
  }
  return PC_OK;
}

/* Everything one call decides once, for all its choices. */
typedef struct call_plan {
  long item;
  int kind;
  double p;
} call_plan;

/* The gains of a comparison whose attempts mostly hold the gold and of a
 * hint with advice, for a p above 0, kept to max_skill (docs/sim.md,
 * "Wrapper modules"). */
static int bonuses(const sim_inst *s, const pc__sim_request *r,
                   call_plan *plan, pc_error *err)
{
  double p = plan->p;
  int majority = 0, rc;

  if (p <= 0.0)
    return PC_OK;             /* nothing to build on (an agent that looked
                                 nothing up) */
  rc = pc__sim_attempts_agree(s->h, &s->kn, r, plan->item, &majority, err);
  if (rc)
    return rc;
  if (majority)
    p += s->cfg.compare_gain;
  if (pc__sim_hinted(r))
    p += s->cfg.hint_gain;
  if (p > s->cfg.max_skill)
    p = s->cfg.max_skill;
  if (p > plan->p)
    plan->p = p;
  return PC_OK;
}

static int plan_call(const sim_inst *s, const pc__sim_request *r,
                     pc__sim_agent *agent, call_plan *plan, pc_error *err)
{
  const pc__sim_host *h = s->h;
  pc__sim_skill_in in;
  size_t i;
  int rc = PC_OK;

  memset(plan, 0, sizeof(*plan));
  plan->item = -1;
  if (r->formatted)
    rc = pc__sim_find_item(h, &s->kn, r, r->current, &plan->item, err);
  if (!rc && plan->item < 0 && agent->kind == PC__SIM_AGENT_QUERY)
    rc = pc__sim_agent_find_item(h, &s->kn, r, &plan->item, err);
  /* A task that also gets passages (a multi-hop answer step): found by
   * one input alone, in rows with hops only. */
  if (!rc && plan->item < 0 && r->formatted &&
      agent->kind == PC__SIM_AGENT_NONE && !pc__sim_is_meta(r)) {
    rc = pc__sim_agent_find_item(h, &s->kn, r, &plan->item, err);
    if (!rc && plan->item >= 0)
      agent->kind = PC__SIM_AGENT_PASSAGES;
  }
  /* Inputs that are no knowledge field (a comparison's attempts, a
   * refine hint_) are set aside when nothing else found the item. */
  if (!rc && plan->item < 0 && r->formatted)
    rc = pc__sim_find_item_loose(h, &s->kn, r, &plan->item, err);
  if (rc)
    return rc;
  if (plan->item < 0) {
    plan->kind = r->formatted && pc__sim_is_meta(r) ? KIND_META
                                                    : KIND_UNKNOWN;
    return PC_OK;
  }
  plan->kind = KIND_TASK;
  memset(&in, 0, sizeof(in));
  rc = pc__sim_good_demos(h, &s->kn, r, plan->item, &in.good_demos, err);
  if (rc)
    return rc;
  in.phrase_frac = pc__sim_phrase_fraction(&s->cfg, r->instructions,
                                           r->instructions_len);
  in.hard = s->kn.rows[plan->item].hard;
  for (i = 0; i < r->n_outputs; i++)
    in.reasoning |= !strcmp(r->outputs[i].name, "reasoning") ||
                    !strcmp(r->outputs[i].name, "rationale");
  plan->p = pc__sim_skill(&s->cfg, &in);
  if (agent->kind == PC__SIM_AGENT_EXTRACT) {
    rc = pc__sim_agent_extract_p(h, &s->cfg, &s->kn, plan->item, agent,
                                 &plan->p, err);
    if (rc)
      return rc;
  } else if (agent->kind == PC__SIM_AGENT_PASSAGES)
    plan->p = pc__sim_agent_passages_p(h, &s->cfg, &s->kn, plan->item, r,
                                       plan->p);
  return bonuses(s, r, plan, err);
}

/* The text of one choice. */
static int answer(const sim_inst *s, const pc__sim_request *r,
                  const pc__sim_agent *agent, const call_plan *plan,
                  const char *sample, pc__sim_buf *out, pc_error *err)
{
  const pc__sim_host *h = s->h;
  pc_json **values;
  int rc = PC_OK, malformed = 0;

  if (!r->formatted) {
    rc = pc__sim_buf_puts(out, "I am a simulated model (sim) and only "
                          "answer requests formatted by the chat or json "
                          "adapter.");
    return rc ? PC__SIM_OOM(err) : PC_OK;
  }
  values = pc__sim_alloc(h, (r->n_outputs + 1) * sizeof(*values));
  if (!values)
    return PC__SIM_OOM(err);
  if (plan->kind == KIND_TASK) {
    rc = pc__sim_agent_values(h, &s->cfg, &s->kn, r, agent, plan->item,
                              plan->p, sample, values, err);
    if (!rc)
      rc = pc__sim_task_values(h, &s->cfg, &s->kn, r, plan->item, plan->p,
                               sample, values, err);
    if (!rc && r->n_demos == 0 && s->cfg.malformed_rate > 0.0) {
      uint64_t u;

      rc = pc__sim_draw(h, s->cfg.seed, "sim-malformed",
                        r->adapter == PC__SIM_JSON ? "json" : "chat", sample,
                        (uint64_t)plan->item, 0, &u);
      malformed = !rc && pc__sim_unit(u) < s->cfg.malformed_rate;
      if (rc)
        rc = PC__SIM_OOM(err);
    }
  } else if (plan->kind == KIND_META) {
    rc = pc__sim_meta_values(h, &s->cfg, &s->kn, r, sample, values, err);
  } else {
    rc = pc__sim_fill_uninformed(h, r, values, err);
  }
  if (!rc)
    rc = malformed ? pc__sim_render_malformed(h, r, values, out, err)
                   : pc__sim_render_outputs(h, r, values, out, err);
  pc__sim_values_free(h, values, r->n_outputs);
  return rc;
}

/* A sink's refusal as a code. */
static int refused(int code, const char *what, pc_error *err)
{
  if (code <= PC_OK || code >= PC_E_LAST)
    code = PC_E_CANCELLED;
  return pc__sim_error(err, code, WHO ": the sink refused the %s", what);
}

static int sim_complete(void *inst, const pc_lm_request *req,
                        const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  sim_inst *s = inst;
  const pc__sim_host *h;
  pc__sim_request r;
  pc__sim_agent agent;
  pc__sim_buf text, sample;
  call_plan plan;
  double temperature;
  uint32_t n, i;
  uint64_t completion_bytes = 0;
  int rc, sr;

  if (!s || !req || req->hdr.struct_size < REQUEST_V1_SIZE || !out ||
      out->hdr.struct_size < SINK_V1_SIZE || !out->text)
    return pc__sim_error(err, PC_E_INVALID_ARG, WHO ": complete: bad "
                         "request or sink");
  h = s->h;
  if (h->host->is_cancelled(h->host->ctx, call))
    return pc__sim_error(err, PC_E_CANCELLED, WHO ": cancelled");
  rc = read_params(h, req, &temperature, &n, err);
  if (rc)
    return rc;
  rc = pc__sim_request_read(h, req, &r, err);
  if (rc)
    return rc;
  pc__sim_buf_init(&text, h);
  pc__sim_buf_init(&sample, h);
  rc = pc__sim_agent_prepare(h, &r, &agent, err);
  if (!rc)
    rc = check_context(s, &r, err);
  if (!rc)
    rc = plan_call(s, &r, &agent, &plan, err);
  /* The latency first: a call cut off while "in flight" was never
   * answered, so it is not logged as made. */
  if (!rc)
    rc = simulate_latency(s, call, err);
  if (!rc)
    rc = log_call(s, plan.item, plan.kind, r.adapter, err);
  for (i = 0; !rc && i < n; i++) {
    if (h->host->is_cancelled(h->host->ctx, call)) {
      rc = pc__sim_error(err, PC_E_CANCELLED, WHO ": cancelled");
      break;
    }
    text.len = 0;
    rc = make_sample(&sample, temperature, req->rollout_id, i,
                     r.prompt_hash);
    if (rc) {
      rc = PC__SIM_OOM(err);
      break;
    }
    rc = answer(s, &r, &agent, &plan, pc__sim_buf_str(&sample), &text, err);
    if (rc)
      break;
    completion_bytes += text.len;
    if ((req->flags & PC_LM_STREAM) && out->delta &&
        (sr = out->delta(out->ctx, i, pc__sim_buf_str(&text), text.len)))
      rc = refused(sr, "text", err);
    if (!rc && (sr = out->text(out->ctx, i, pc__sim_buf_str(&text),
                               text.len)))
      rc = refused(sr, "text", err);
  }
  if (!rc && out->usage &&
      (sr = out->usage(out->ctx, (int64_t)((r.prompt_bytes + 3) / 4),
                       (int64_t)((completion_bytes + 3) / 4))))
    rc = refused(sr, "usage", err);
  if (!rc && out->meta &&
      ((sr = out->meta(out->ctx, "model", s->identity,
                       strlen(s->identity))) ||
       (sr = out->meta(out->ctx, "finish_reason", "stop", 4))))
    rc = refused(sr, "metadata", err);
  pc__sim_buf_free(&text);
  pc__sim_buf_free(&sample);
  pc__sim_agent_clear(h, &agent);
  pc__sim_request_clear(h, &r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_lm_provider_iface sim_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),
  .name = "sim",
  .create = sim_create,
  .destroy = sim_destroy,
  .identity = sim_identity,
  .complete = sim_complete,
};

static int sim_init(const pc_host_api *host, void **state, pc_error *err)
{
  pc__sim_host *h = NULL;
  int rc = pc__sim_host_new(host, &h, err);

  *state = h;
  return rc;
}

static void sim_fini(void *state)
{
  pc__sim_host_free(state);
}

static const void *sim_get_interface(void *state, const char *iface_id,
                                     uint32_t *iface_size)
{
  if (!iface_id || strcmp(iface_id, PC_IFACE_LM_PROVIDER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(sim_iface);
  return &sim_iface;
}

static const pc_plugin_info sim_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.lm.sim",
  .name = "sim",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "Simulated LM: deterministic answers from a knowledge file",
  .kinds = PC_KIND_LM_PROVIDER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = sim_init,
  .fini = sim_fini,
  .get_interface = sim_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &sim_info;
}
