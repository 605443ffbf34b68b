/*
 * config.c - reading and validating the run configuration.
 *
 * Members known so far: "plugins": {"path": "DIR" or ["DIR", ...]} and
 * "adapter": "chat" | "json" | any adapter a plugin offers. Relative plugin
 * directories are taken relative to the config file's folder.
 */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "file.h"
#include "json_text.h"

pc_config *pc_config_new_default(void)
{
  return pc_calloc(1, sizeof(pc_config));
}

void pc_config_free(pc_config *cfg)
{
  if (!cfg)
    return;
  json_object_put(cfg->root);
  pc_free(cfg->path);
  pc_free(cfg->plugin_path);
  pc_free(cfg->adapter);
  pc_free(cfg);
}

/* Append one plugin directory, resolved against the config's folder. */
static int add_dir(pc_buf *b, const char *cfg_path, const char *dir)
{
  const char *slash = strrchr(cfg_path, '/');

  if (b->len && pc_buf_putc(b, ':'))
    return PC_E_NOMEM;
  if (dir[0] != '/' && slash)
    if (pc_buf_append(b, cfg_path, (size_t)(slash - cfg_path) + 1))
      return PC_E_NOMEM;
  return pc_buf_puts(b, dir);
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
    rc = add_dir(&b, cfg->path, json_object_get_string(path));
  } else if (json_object_is_type(path, json_type_array)) {
    for (size_t i = 0; rc == PC_OK && i < json_object_array_length(path);
         i++) {
      struct json_object *d = json_object_array_get_idx(path, i);

      if (!json_object_is_type(d, json_type_string)) {
        rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: plugins.path[%zu]: "
                          "expected a string", cfg->path, i);
        break;
      }
      rc = add_dir(&b, cfg->path, json_object_get_string(d));
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

static int validate(pc_config *cfg, pc_error *err)
{
  int rc = PC_OK;

  if (!json_object_is_type(cfg->root, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected a JSON object",
                        cfg->path);
  json_object_object_foreach(cfg->root, key, val) {
    if (strcmp(key, "plugins") == 0) {
      rc = read_plugins(cfg, val, err);
    } else if (strcmp(key, "adapter") == 0) {
      if (!json_object_is_type(val, json_type_string))
        return pc_error_set(err, PC_E_INVALID_ARG, "%s: adapter: expected a "
                            "string such as \"chat\"", cfg->path);
      if (!(cfg->adapter = pc_strdup(json_object_get_string(val))))
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", cfg->path);
    } else {
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: unknown member "
                          "(known: plugins, adapter)", cfg->path, key);
    }
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
  rc = validate(cfg, err);
  if (rc) {
    pc_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return PC_OK;
}
