/* module_plugin.c - the "plugin" module type: a module whose forward pass
 * is a pc.program/1 plugin, running sub-modules and tools through the
 * host (docs/module-plugin.md). */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "host.h"
#include "json_text.h"
#include "loader.h"
#include "module.h"
#include "tool.h"

extern const pc_module_type pc__module_plugin;

static const char *const plugin_members[] = {"plugin", "uses", "settings",
                                             NULL};

/* What load() keeps: the plugin's name, its sub-modules and settings. */
typedef struct plugin_data {
  char *plugin;           /* owned: the pc.program/1 table's name */
  const pc_module **uses; /* owned array of borrowed earlier modules */
  size_t n_uses;
  char *settings_json;    /* owned: "settings" as compact JSON ("{}") */
  char *uses_json;        /* owned: "uses" as compact JSON ("[]") */
} plugin_data;

/* One plugin instance of a runtime, shared by every module with the same
 * plugin, settings and uses. */
typedef struct instance {
  char *key;              /* owned: "plugin\nsettings\nuses" */
  const pc_program_iface *vt;  /* borrowed from the plugin */
  void *inst;             /* the plugin's */
  int serialise;          /* 1: calls take `lock` */
  pthread_mutex_t lock;
} instance;

/* The PC_RT_SLOT_MODULES state: every instance made so far. */
typedef struct instance_map {
  pthread_mutex_t lock;
  instance **items;       /* owned */
  size_t n;
} instance_map;

static void free_data(void *p)
{
  plugin_data *d = p;

  if (!d)
    return;
  pc_free(d->plugin);
  pc_free(d->uses);
  pc_free(d->settings_json);
  pc_free(d->uses_json);
  pc_free(d);
}

/* A compact JSON text of `v` (owned), NULL when out of memory. */
static char *json_text(const struct json_object *v)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  if (pc_json_write(v, PC_JSON_TEXT_COMPACT, &b)) {
    pc_buf_free(&b);
    return NULL;
  }
  return pc_buf_take(&b, NULL);
}

static int load_plugin(pc_module_loader *ld, pc_module *m,
                       const struct json_object *spec)
{
  struct json_object *v, *uses = NULL, *settings = NULL, *empty = NULL;
  plugin_data *d;
  size_t i, k, n;
  int rc = PC_OK;

  d = pc_calloc(1, sizeof(*d));
  if (!d)
    return pc_module_fail(ld, m, PC_E_NOMEM, "plugin: out of memory");
  m->data = d;
  if (!json_object_object_get_ex(spec, "plugin", &v))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "plugin: missing (the "
                          "name of a pc.program/1 plugin)");
  if (!json_object_is_type(v, json_type_string) ||
      !json_object_get_string_len(v))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "plugin: expected the "
                          "name of a pc.program/1 plugin");
  if (!(d->plugin = pc_strdup(json_object_get_string(v))))
    return pc_module_fail(ld, m, PC_E_NOMEM, "plugin: out of memory");
  if (json_object_object_get_ex(spec, "uses", &uses) &&
      !json_object_is_type(uses, json_type_array))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "uses: expected an "
                          "array of module names");
  n = uses ? json_object_array_length(uses) : 0;
  d->uses = pc_calloc(n ? n : 1, sizeof(*d->uses));
  if (!d->uses)
    return pc_module_fail(ld, m, PC_E_NOMEM, "uses: out of memory");
  for (i = 0; i < n; i++) {
    struct json_object *item = json_object_array_get_idx(uses, i);
    const char *name = json_object_get_string(item);

    if (!json_object_is_type(item, json_type_string))
      return pc_module_fail(ld, m, PC_E_INVALID_ARG, "uses[%zu]: expected "
                            "a module name", i);
    d->uses[i] = pc_module_loader_find(ld, name);
    if (!d->uses[i])
      return pc_module_fail(ld, m, PC_E_INVALID_ARG, "uses[%zu]: no module "
                            "'%s' before this one", i, name);
    for (k = 0; k < i; k++) {
      if (d->uses[k] == d->uses[i])
        return pc_module_fail(ld, m, PC_E_INVALID_ARG, "uses[%zu]: '%s' "
                              "is listed twice", i, name);
    }
  }
  d->n_uses = n;
  if (json_object_object_get_ex(spec, "settings", &settings) &&
      !json_object_is_type(settings, json_type_object))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "settings: expected an "
                          "object");
  if (!settings)
    settings = empty = json_object_new_object();
  d->settings_json = settings ? json_text(settings) : NULL;
  d->uses_json = uses ? json_text(uses) : pc_strdup("[]");
  json_object_put(empty);
  if (!d->settings_json || !d->uses_json)
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "settings: out of memory");
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Instances, one per runtime and (plugin, settings, uses).                 */

static void *map_make(pc_runtime *rt)
{
  instance_map *map = pc_calloc(1, sizeof(*map));

  (void)rt;
  if (map)
    pthread_mutex_init(&map->lock, NULL);
  return map;
}

static void map_release(void *state)
{
  instance_map *map = state;

  if (!map)
    return;
  for (size_t i = 0; i < map->n; i++) {
    instance *x = map->items[i];

    if (x->vt->destroy)
      x->vt->destroy(x->inst);
    pthread_mutex_destroy(&x->lock);
    pc_free(x->key);
    pc_free(x);
  }
  pc_free(map->items);
  pthread_mutex_destroy(&map->lock);
  pc_free(map);
}

/* Make the instance for `key` (the map is locked). */
static int instance_new(pc_runtime *rt, const pc_module *m,
                        const plugin_data *d, char *key, instance **out,
                        pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;
  const pc_program_iface *vt;
  pc_plugin *plugin = NULL;
  instance *x;
  int rc;

  *out = NULL;
  vt = pc_registry_find_iface(pc_runtime_registry(rt), PC_IFACE_PROGRAM,
                              d->plugin, (uint32_t)sizeof(*vt), &plugin);
  if (!vt || !vt->forward)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "modules.%s: program plugin '%s' is not loaded "
                        "(promptc plugins list)", m->name, d->plugin);
  x = pc_calloc(1, sizeof(*x));
  if (!x)
    return pc_error_set(err, PC_E_NOMEM, "modules.%s: out of memory",
                        m->name);
  if (vt->create) {
    rc = vt->create(plugin->state, d->settings_json,
                    strlen(d->settings_json), d->uses_json,
                    strlen(d->uses_json), &x->inst, &perr);
    if (rc) {
      pc_free(x);
      return pc_error_set(err, rc, "modules.%s: program plugin '%s': %s",
                          m->name, d->plugin,
                          perr.message[0] ? perr.message : pc_strerror(rc));
    }
  }
  x->vt = vt;
  x->key = key;
  x->serialise = !(plugin->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
  pthread_mutex_init(&x->lock, NULL);
  *out = x;
  return PC_OK;
}

/* The runtime's instance for module `m`, made on first use. */
static int instance_get(pc_runtime *rt, const pc_module *m, instance **out,
                        pc_error *err)
{
  const plugin_data *d = m->data;
  instance_map *map;
  instance **grown;
  pc_buf key;
  char *k;
  int rc = PC_OK;

  *out = NULL;
  map = pc_runtime_slot(rt, PC_RT_SLOT_MODULES, map_make, map_release);
  if (!map)
    return pc_error_set(err, PC_E_NOMEM, "modules.%s: out of memory",
                        m->name);
  pc_buf_init(&key, 0);
  if (pc_buf_printf(&key, "%s\n%s\n%s", d->plugin, d->settings_json,
                    d->uses_json) || !(k = pc_buf_take(&key, NULL))) {
    pc_buf_free(&key);
    return pc_error_set(err, PC_E_NOMEM, "modules.%s: out of memory",
                        m->name);
  }
  pthread_mutex_lock(&map->lock);
  for (size_t i = 0; i < map->n; i++) {
    if (!strcmp(map->items[i]->key, k)) {
      *out = map->items[i];
      break;
    }
  }
  if (!*out) {
    grown = pc_realloc(map->items, (map->n + 1) * sizeof(*grown));
    if (!grown) {
      rc = pc_error_set(err, PC_E_NOMEM, "modules.%s: out of memory",
                        m->name);
    } else {
      map->items = grown;
      rc = instance_new(rt, m, d, k, out, err);
      if (!rc) {
        map->items[map->n++] = *out;
        k = NULL;  /* the instance keeps it */
      }
    }
  }
  pthread_mutex_unlock(&map->lock);
  pc_free(k);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The host table a forward pass gets.                                      */

typedef struct fwd {
  pc_run_ctx *ctx;
  const pc_module *m;
} fwd;

static int buf_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len) ? PC_E_NOMEM : PC_OK;
}

/* Parse `len` bytes of JSON that must be an object; `what` names it. */
static int parse_object(const char *text, size_t len, const char *what,
                        struct json_object **out, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  rc = pc_json_parse(text, len, 0, out, &e);
  if (rc)
    return pc_error_set(err, rc, "%s: %s", what, e.message);
  if (!json_object_is_type(*out, json_type_object)) {
    json_object_put(*out);
    *out = NULL;
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected a JSON object",
                        what);
  }
  return PC_OK;
}

/* Write `obj` as compact JSON to `out`. */
static int write_json(const struct json_object *obj, const pc_text_sink *out,
                      const char *what, pc_error *err)
{
  pc_buf b;
  int rc;

  pc_buf_init(&b, 0);
  if (pc_json_write(obj, PC_JSON_TEXT_COMPACT, &b)) {
    pc_buf_free(&b);
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  }
  rc = out->write(out->ctx, b.data ? b.data : "", b.len);
  pc_buf_free(&b);
  if (rc)
    return pc_error_set(err, PC_E_INTERNAL, "%s: the sink refused the "
                        "output", what);
  return PC_OK;
}

static int host_call_module(void *ctx, const char *name,
                            const char *inputs_json, size_t len,
                            const pc_text_sink *out, pc_error *err)
{
  fwd *f = ctx;
  const plugin_data *d = f->m->data;
  const pc_module *sub = NULL;
  const pc_signature *io;
  struct json_object *in = NULL, *res = NULL;
  char what[PC_ERROR_MESSAGE_MAX];
  size_t i;
  int rc;

  for (i = 0; name && i < d->n_uses && !sub; i++) {
    if (!strcmp(d->uses[i]->name, name))
      sub = d->uses[i];
  }
  if (!sub)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: '%s' is not in "
                        "\"uses\"", f->m->name, name ? name : "(null)");
  snprintf(what, sizeof(what), "%s: %s: inputs", f->m->name, sub->name);
  rc = parse_object(inputs_json, len, what, &in, err);
  if (rc)
    return rc;
  io = pc_module_io(sub);
  for (i = 0; i < io->n_inputs; i++) {
    if (!json_object_object_get_ex(in, io->inputs[i].name, NULL)) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: missing '%s'", what,
                        io->inputs[i].name);
      goto out;
    }
  }
  rc = pc_module_forward(f->ctx, sub, in, &res, err);
  if (!rc)
    rc = write_json(res, out, what, err);

out:
  json_object_put(in);
  json_object_put(res);
  return rc;
}

static int host_call_tool(void *ctx, const char *name, const char *args_json,
                          size_t len, const pc_text_sink *out, pc_error *err)
{
  fwd *f = ctx;
  struct json_object *args = NULL;
  char what[PC_ERROR_MESSAGE_MAX];
  pc_tool *tool = NULL;
  char *obs = NULL;
  size_t n = 0;
  int rc;

  snprintf(what, sizeof(what), "%s: tool '%s'", f->m->name,
           name ? name : "(null)");
  if (!name)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: no name", what);
  rc = parse_object(args_json, len, what, &args, err);
  if (!rc)
    rc = pc_runtime_tool(f->ctx->rt, name, &tool, err);
  if (!rc)
    rc = pc_tool_call(tool, f->ctx->call, args, &obs, &n, err);
  if (!rc && out->write(out->ctx, obs, n))
    rc = pc_error_set(err, PC_E_INTERNAL, "%s: the sink refused the "
                      "observation", what);
  pc_free(obs);
  json_object_put(args);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Forward.                                                                 */

static int forward_plugin(pc_run_ctx *ctx, const pc_module *m,
                          const struct json_object *inputs,
                          struct json_object **outputs, pc_error *err)
{
  const plugin_data *d = m->data;
  const pc_signature *sig = m->signature;
  pc_error perr = PC_ERROR_INIT;
  struct json_object *res = NULL, *obj = NULL, *v, *copy;
  char what[PC_ERROR_MESSAGE_MAX];
  instance *x = NULL;
  fwd f = {ctx, m};
  pc_program_host host = {
    .hdr = PC_ABI_HEADER_INIT(pc_program_host),
    .ctx = &f,
    .call_module = host_call_module,
    .call_tool = host_call_tool,
  };
  pc_buf in, outb;
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), &outb, buf_write};
  int rc;

  *outputs = NULL;
  pc_buf_init(&in, 0);
  pc_buf_init(&outb, 0);
  snprintf(what, sizeof(what), "%s: program plugin '%s'", m->name,
           d->plugin);
  rc = instance_get(ctx->rt, m, &x, err);
  if (rc)
    goto out;
  if (pc_json_write(inputs, PC_JSON_TEXT_COMPACT, &in)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto out;
  }
  if (x->serialise)
    pthread_mutex_lock(&x->lock);
  rc = x->vt->forward(x->inst, &host, in.data ? in.data : "{}", in.len,
                      &sink, &perr);
  if (x->serialise)
    pthread_mutex_unlock(&x->lock);
  if (rc) {
    /* A sub-module's message already names the sub-module. */
    rc = pc_error_set(err, rc, "%s: %s", what,
                      perr.message[0] ? perr.message : pc_strerror(rc));
    err->http_status = perr.http_status;
    err->retry_after_ms = perr.retry_after_ms;
    goto out;
  }
  rc = parse_object(outb.data ? outb.data : "", outb.len, what, &res, err);
  if (rc)
    goto out;
  /* Keep exactly the signature's outputs, in its order. */
  obj = json_object_new_object();
  if (!obj) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto out;
  }
  for (size_t i = 0; i < sig->n_outputs; i++) {
    const char *name = sig->outputs[i].name;

    if (!json_object_object_get_ex(res, name, &v)) {
      rc = pc_error_set(err, PC_E_PARSE, "%s: the output has no '%s'",
                        what, name);
      goto out;
    }
    copy = NULL;
    if ((v && json_object_deep_copy(v, &copy, NULL)) ||
        json_object_object_add(obj, name, copy)) {
      json_object_put(copy);
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
      goto out;
    }
  }
  *outputs = obj;
  obj = NULL;

out:
  json_object_put(obj);
  json_object_put(res);
  pc_buf_free(&in);
  pc_buf_free(&outb);
  return rc;
}

int pc_module_plugin_check(pc_runtime *rt, const pc_program *prog,
                           pc_error *err)
{
  for (size_t i = 0; i < pc_program_n_modules(prog); i++) {
    const pc_module *m = pc_program_module_at(prog, i);
    instance *x;
    int rc;

    if (m->vt != &pc__module_plugin)
      continue;
    rc = instance_get(rt, m, &x, err);
    if (rc)
      return rc;
  }
  return PC_OK;
}

const pc_module_type pc__module_plugin = {
  "plugin", plugin_members, 1, load_plugin, forward_plugin, free_data
};
