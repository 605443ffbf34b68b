/*
 * config.c - reading and validating the run configuration.
 *
 * Members: "plugins", "adapter", the LM roles ("lm", "prompt_lm",
 * "teacher_lm", "reflection_lm"), "metric", "cache", "concurrency",
 * "eval" and "seed" (docs/config.md). Relative paths (plugin directories,
 * the cache) are taken relative to the config file's folder; a provider
 * resolves its own paths against the same folder, which the host passes
 * it as "base_dir".
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "file.h"
#include "json_text.h"
#include "lm_settings.h"
#include "ratelimit.h"
#include "retry.h"

static const char *const role_names[PC_ROLE_COUNT] = {
  "lm", "prompt_lm", "teacher_lm", "reflection_lm"
};

const char *pc_config_role_name(int role)
{
  return role >= 0 && role < PC_ROLE_COUNT ? role_names[role] : "?";
}

pc_config *pc_config_new_default(void)
{
  pc_config *cfg = pc_calloc(1, sizeof(pc_config));

  if (cfg)
    cfg->cache_enabled = 1;
  return cfg;
}

void pc_config_free(pc_config *cfg)
{
  if (!cfg)
    return;
  json_object_put(cfg->root);
  pc_free(cfg->path);
  pc_free(cfg->plugin_path);
  pc_free(cfg->adapter);
  pc_free(cfg->optimizer);
  pc_free(cfg->base_dir);
  pc_free(cfg->cache_path);
  json_object_put(cfg->metric);
  pc_free(cfg);
}

/* Append path `p` to `b`, a relative one resolved against the config's
 * folder. */
static int append_resolved(pc_buf *b, const pc_config *cfg, const char *p)
{
  const char *dir = cfg->base_dir;
  size_t n = strlen(dir);

  if (p[0] != '/' && strcmp(dir, ".") != 0)
    if (pc_buf_puts(b, dir) || (dir[n - 1] != '/' && pc_buf_putc(b, '/')))
      return PC_E_NOMEM;
  return pc_buf_puts(b, p);
}

/* Append one plugin directory to the colon-separated list in `b`. */
static int add_dir(pc_buf *b, const pc_config *cfg, const char *dir)
{
  if (b->len && pc_buf_putc(b, ':'))
    return PC_E_NOMEM;
  return append_resolved(b, cfg, dir);
}

static int read_plugins(pc_config *cfg, struct json_object *v, pc_error *err)
{
  struct json_object *path = NULL;
  pc_buf b;
  int rc = PC_OK;

  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: plugins: expected an "
                        "object like {\"path\": [\"DIR\"]}", cfg->path);
  json_object_object_foreach(v, key, val) {
    if (strcmp(key, "path") != 0)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: plugins.%s: unknown "
                          "member (known: path)", cfg->path, key);
    path = val;
  }
  if (!path)
    return PC_OK;
  pc_buf_init(&b, 0);
  if (json_object_is_type(path, json_type_string)) {
    rc = add_dir(&b, cfg, json_object_get_string(path));
  } else if (json_object_is_type(path, json_type_array)) {
    for (size_t i = 0; rc == PC_OK && i < json_object_array_length(path);
         i++) {
      struct json_object *d = json_object_array_get_idx(path, i);

      if (!json_object_is_type(d, json_type_string)) {
        rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: plugins.path[%zu]: "
                          "expected a string", cfg->path, i);
        break;
      }
      rc = add_dir(&b, cfg, json_object_get_string(d));
    }
  } else {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: plugins.path: expected a "
                      "string or an array of strings", cfg->path);
  }
  if (rc == PC_OK && !(cfg->plugin_path = pc_buf_take(&b, NULL)))
    rc = PC_E_NOMEM;
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "%s: out of memory", cfg->path);
  pc_buf_free(&b);
  return rc;
}

int pc_config_metric_spec(const char *spec, const char *what,
                          struct json_object **out, pc_error *err)
{
  const char *colon = strchr(spec, ':');
  size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
  struct json_object *o;

  *out = NULL;
  if (nlen == 0 || (colon && !colon[1]))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: \"%s\": expected NAME "
                        "or NAME:FIELD, e.g. exact_match:answer", what, spec);
  o = json_object_new_object();
  if (!o || json_object_object_add(o, "name",
                                   json_object_new_string_len(spec,
                                                              (int)nlen)) ||
      (colon && json_object_object_add(o, "field",
                                       json_object_new_string(colon + 1)))) {
    json_object_put(o);
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  }
  *out = o;
  return PC_OK;
}

/* One LM role: {"provider": "sim", "params": {...}, "cache": bool,
 * "retry": {...}, "rate_limit": {...}, ...}. Members other than those
 * belong to the provider, which checks them when it is created. */
static int read_role(pc_config *cfg, int role, struct json_object *v,
                     pc_error *err)
{
  const char *name = role_names[role];
  struct json_object *m;
  char where[512];

  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: expected an object "
                        "like {\"provider\": \"sim\", ...}", cfg->path, name);
  if (!json_object_object_get_ex(v, "provider", &m) ||
      !json_object_is_type(m, json_type_string) ||
      !*json_object_get_string(m))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s.provider: expected "
                        "the provider's name, e.g. \"sim\"", cfg->path, name);
  if (json_object_object_get_ex(v, "params", &m)) {
    snprintf(where, sizeof(where), "%s: %s.params", cfg->path, name);
    if (pc_lm_settings_check(m, 0, where, err))
      return PC_E_INVALID_ARG;
  }
  if (json_object_object_get_ex(v, "cache", &m) &&
      !json_object_is_type(m, json_type_boolean))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s.cache: expected true "
                        "or false", cfg->path, name);
  if (json_object_object_get_ex(v, "retry", &m)) {
    pc_retry_policy policy;

    snprintf(where, sizeof(where), "%s: %s.retry", cfg->path, name);
    if (pc_retry_policy_read(m, where, &policy, err))
      return PC_E_INVALID_ARG;
  }
  if (json_object_object_get_ex(v, "rate_limit", &m)) {
    pc_ratelimit *rl = NULL;
    int rc;

    snprintf(where, sizeof(where), "%s: %s.rate_limit", cfg->path, name);
    rc = pc_ratelimit_read(m, where, &rl, err);
    pc_ratelimit_free(rl);
    if (rc)
      return rc;
  }
  cfg->roles[role] = v;
  return PC_OK;
}

static int read_metric(pc_config *cfg, struct json_object *v, pc_error *err)
{
  struct json_object *name;
  char what[512];

  snprintf(what, sizeof(what), "%s: metric", cfg->path);
  if (json_object_is_type(v, json_type_string))
    return pc_config_metric_spec(json_object_get_string(v), what,
                                 &cfg->metric, err);
  if (!json_object_is_type(v, json_type_object) ||
      !json_object_object_get_ex(v, "name", &name) ||
      !json_object_is_type(name, json_type_string) ||
      !*json_object_get_string(name))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: metric: expected "
                        "\"NAME[:FIELD]\" or an object with a \"name\"",
                        cfg->path);
  if (json_object_deep_copy(v, &cfg->metric, NULL) != 0)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", cfg->path);
  return PC_OK;
}

/* A path member, resolved against the config's folder, as a new string. */
static int resolve_path(const pc_config *cfg, const char *p, char **out)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  if (append_resolved(&b, cfg, p) || !(*out = pc_buf_take(&b, NULL))) {
    pc_buf_free(&b);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static int read_cache(pc_config *cfg, struct json_object *v, pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: cache: expected an "
                        "object like {\"path\": \"DIR\"}", cfg->path);
  json_object_object_foreach(v, key, val) {
    if (!strcmp(key, "path")) {
      if (!json_object_is_type(val, json_type_string) ||
          !*json_object_get_string(val))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: cache.path: "
                            "expected a file or directory name", cfg->path);
      pc_free(cfg->cache_path);
      cfg->cache_path = NULL;
      if (resolve_path(cfg, json_object_get_string(val), &cfg->cache_path))
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", cfg->path);
    } else if (!strcmp(key, "enabled")) {
      if (!json_object_is_type(val, json_type_boolean))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: cache.enabled: "
                            "expected true or false", cfg->path);
      cfg->cache_enabled = json_object_get_boolean(val);
    } else if (!strcmp(key, "memory_entries")) {
      if (!json_object_is_type(val, json_type_int) ||
          json_object_get_int64(val) < 1)
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: cache."
                            "memory_entries: expected an integer >= 1",
                            cfg->path);
      cfg->cache_memory = (size_t)json_object_get_int64(val);
    } else {
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: cache.%s: unknown "
                          "member (known: path, enabled, memory_entries)",
                          cfg->path, key);
    }
  }
  return PC_OK;
}

static int read_eval(pc_config *cfg, struct json_object *v, pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: eval: expected an "
                        "object", cfg->path);
  json_object_object_foreach(v, key, val) {
    int is_num = json_object_is_type(val, json_type_int) ||
                 json_object_is_type(val, json_type_double);

    if (!strcmp(key, "max_errors")) {
      if (!json_object_is_type(val, json_type_int) ||
          json_object_get_int64(val) < 1)
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: eval.max_errors: "
                            "expected an integer >= 1", cfg->path);
      cfg->max_errors = json_object_get_int64(val);
    } else if (!strcmp(key, "failure_score")) {
      double d = is_num ? json_object_get_double(val) : -1;

      if (d < 0 || d > 1)
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: eval.failure_score: "
                            "expected a number from 0 to 1", cfg->path);
      cfg->failure_score = d;
    } else {
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: eval.%s: unknown "
                          "member (known: max_errors, failure_score)",
                          cfg->path, key);
    }
  }
  return PC_OK;
}

static int read_optimizer(pc_config *cfg, struct json_object *v,
                          pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: optimizer: expected an "
                        "object {\"name\": ..., \"settings\": {...}}",
                        cfg->path);
  json_object_object_foreach(v, key, val) {
    if (!strcmp(key, "name")) {
      if (!json_object_is_type(val, json_type_string))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: optimizer.name: "
                            "expected a string", cfg->path);
      pc_free(cfg->optimizer);
      if (!(cfg->optimizer = pc_strdup(json_object_get_string(val))))
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory",
                            cfg->path);
    } else if (!strcmp(key, "settings")) {
      if (!json_object_is_type(val, json_type_object))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: optimizer.settings: "
                            "expected an object", cfg->path);
      cfg->optimizer_settings = val;
    } else {
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: optimizer.%s: unknown "
                          "member (known: name, settings)", cfg->path, key);
    }
  }
  return PC_OK;
}

static int is_number(const struct json_object *v)
{
  return json_object_is_type(v, json_type_int) ||
         json_object_is_type(v, json_type_double);
}

static int read_budget(pc_config *cfg, struct json_object *v, pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: budget: expected an "
                        "object", cfg->path);
  json_object_object_foreach(v, key, val) {
    int64_t *cap = !strcmp(key, "max_calls") ? &cfg->budget.max_calls
                 : !strcmp(key, "max_tokens") ? &cfg->budget.max_tokens
                 : NULL;

    if (cap) {
      if (!json_object_is_type(val, json_type_int) ||
          json_object_get_int64(val) < 1)
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: budget.%s: expected "
                            "an integer >= 1", cfg->path, key);
      *cap = json_object_get_int64(val);
    } else if (!strcmp(key, "max_cost") || !strcmp(key, "max_time")) {
      double d = is_number(val) ? json_object_get_double(val) : -1;

      if (!(d > 0))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: budget.%s: expected "
                            "a number > 0 (%s)", cfg->path, key,
                            strcmp(key, "max_time") ? "USD" : "seconds");
      if (!strcmp(key, "max_cost"))
        cfg->budget.max_cost = d;
      else
        cfg->budget.max_time_ms = (int64_t)(d * 1000.0);
    } else {
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: budget.%s: unknown "
                          "member (known: max_calls, max_tokens, max_cost, "
                          "max_time)", cfg->path, key);
    }
  }
  return PC_OK;
}

static int read_pricing(pc_config *cfg, struct json_object *v,
                        pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: pricing: expected an "
                        "object of model name -> {\"input\", \"output\"}",
                        cfg->path);
  json_object_object_foreach(v, model, price) {
    int have = 0;

    if (!json_object_is_type(price, json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: pricing.%s: expected "
                          "an object {\"input\": USD per 1M tokens, "
                          "\"output\": ...}", cfg->path, model);
    json_object_object_foreach(price, key, val) {
      if (strcmp(key, "input") && strcmp(key, "output"))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: pricing.%s.%s: "
                            "unknown member (known: input, output)",
                            cfg->path, model, key);
      if (!is_number(val) || json_object_get_double(val) < 0)
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: pricing.%s.%s: "
                            "expected a number >= 0 (USD per 1M tokens)",
                            cfg->path, model, key);
      have++;
    }
    if (have != 2)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: pricing.%s: needs both "
                          "\"input\" and \"output\"", cfg->path, model);
  }
  cfg->pricing = v;
  return PC_OK;
}

/* The shape of "tools" only: name -> object. The tool registry (tool.c)
 * checks each entry against its tool when the runtime opens. */
static int read_tools(pc_config *cfg, struct json_object *v, pc_error *err)
{
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: tools: expected an "
                        "object of tool name -> {\"type\", settings...}",
                        cfg->path);
  json_object_object_foreach(v, name, entry) {
    if (!json_object_is_type(entry, json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: tools.%s: expected an "
                          "object", cfg->path, name);
  }
  cfg->tools = v;
  return PC_OK;
}

static int read_member(pc_config *cfg, const char *key,
                       struct json_object *val, pc_error *err)
{
  for (int r = 0; r < PC_ROLE_COUNT; r++)
    if (!strcmp(key, role_names[r]))
      return read_role(cfg, r, val, err);
  if (!strcmp(key, "plugins"))
    return read_plugins(cfg, val, err);
  if (!strcmp(key, "metric"))
    return read_metric(cfg, val, err);
  if (!strcmp(key, "cache"))
    return read_cache(cfg, val, err);
  if (!strcmp(key, "eval"))
    return read_eval(cfg, val, err);
  if (!strcmp(key, "optimizer"))
    return read_optimizer(cfg, val, err);
  if (!strcmp(key, "budget"))
    return read_budget(cfg, val, err);
  if (!strcmp(key, "pricing"))
    return read_pricing(cfg, val, err);
  if (!strcmp(key, "tools"))
    return read_tools(cfg, val, err);
  if (!strcmp(key, "adapter")) {
    if (!json_object_is_type(val, json_type_string))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: adapter: expected a "
                          "string such as \"chat\"", cfg->path);
    if (!(cfg->adapter = pc_strdup(json_object_get_string(val))))
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", cfg->path);
    return PC_OK;
  }
  if (!strcmp(key, "concurrency")) {
    if (!json_object_is_type(val, json_type_int) ||
        json_object_get_int64(val) < 1 || json_object_get_int64(val) > 256)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: concurrency: expected "
                          "an integer from 1 to 256", cfg->path);
    cfg->concurrency = (int)json_object_get_int64(val);
    return PC_OK;
  }
  if (!strcmp(key, "seed")) {
    if (!json_object_is_type(val, json_type_int) ||
        json_object_get_int64(val) < 0)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: seed: expected an "
                          "integer >= 0", cfg->path);
    cfg->has_seed = 1;
    cfg->seed = (uint64_t)json_object_get_int64(val);
    return PC_OK;
  }
  return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: unknown member "
                      "(known: plugins, adapter, lm, prompt_lm, teacher_lm, "
                      "reflection_lm, metric, cache, concurrency, eval, "
                      "seed, optimizer, budget, pricing, tools)", cfg->path, key);
}

static int validate(pc_config *cfg, pc_error *err)
{
  int rc;

  if (!json_object_is_type(cfg->root, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected a JSON object",
                        cfg->path);
  json_object_object_foreach(cfg->root, key, val) {
    rc = read_member(cfg, key, val, err);
    if (rc)
      return rc;
  }
  return PC_OK;
}

int pc_config_load(const char *path, pc_config **out, pc_error *err)
{
  pc_config *cfg = NULL;
  struct json_object *root = NULL;
  int rc;

  *out = NULL;
  rc = pc_json_parse_file(path, PC_CONFIG_MAX, &root, err);
  if (rc)
    return rc;
  cfg = pc_config_new_default();
  if (!cfg || !(cfg->path = pc_strdup(path))) {
    json_object_put(root);
    pc_config_free(cfg);
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  }
  cfg->root = root;
  {
    const char *slash = strrchr(path, '/');

    cfg->base_dir = slash ? pc_strndup(path, slash == path ? 1
                                                : (size_t)(slash - path))
                          : pc_strdup(".");
    if (!cfg->base_dir) {
      pc_config_free(cfg);
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    }
  }
  rc = validate(cfg, err);
  if (rc) {
    pc_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return PC_OK;
}
