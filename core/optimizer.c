/*
 * optimizer.c - optimizer plugins: open by name, settings, estimate,
 * compile.
 */
#include <string.h>

#include "alloc.h"
#include "host.h"
#include "buf.h"
#include "json_text.h"
#include "optimizer.h"

/* Everything up to and including settings is ABI 1.0. */
#define OPTIMIZER_V1_SIZE \
  (offsetof(pc_optimizer_iface, settings) + sizeof(void (*)(void)))

struct pc_optimizer {
  const pc_optimizer_iface *iface;  /* plugin-owned, static */
  pc_plugin *plugin;                /* borrowed */
  void *inst;
  char *name;                       /* owned */
};

int pc_optimizer_open(const pc_registry *reg, const char *name,
                      const struct json_object *settings, pc_optimizer **out,
                      pc_error *err)
{
  pc_optimizer *o;
  pc_buf b;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  o = pc_calloc(1, sizeof(*o));
  if (!o || !(o->name = pc_strdup(name))) {
    pc_free(o);
    return pc_error_set(err, PC_E_NOMEM, "optimizer %s: out of memory",
                        name);
  }
  pc_buf_init(&b, 0);
  o->iface = pc_registry_find_iface(reg, PC_IFACE_OPTIMIZER, name,
                                    (uint32_t)OPTIMIZER_V1_SIZE, &o->plugin);
  if (!o->iface) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "optimizer \"%s\": no loaded "
                      "plugin offers it (see `promptc plugins list`)", name);
    goto fail;
  }
  if (!o->iface->create || !o->iface->compile || !o->iface->settings) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "optimizer \"%s\" (%s): "
                      "interface lacks create, compile or settings", name,
                      o->plugin->path);
    goto fail;
  }
  if (settings ? pc_json_write(settings, PC_JSON_TEXT_COMPACT, &b)
               : pc_buf_puts(&b, "{}")) {
    rc = pc_error_set(err, PC_E_NOMEM, "optimizer %s: out of memory", name);
    goto fail;
  }
  rc = o->iface->create(o->plugin->state, b.data, b.len, &o->inst, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    o->inst = NULL;
    rc = pc_error_wrap(err, &perr, "optimizer \"%s\" (%s)", name,
                       o->plugin->info->id);
    goto fail;
  }
  pc_buf_free(&b);
  *out = o;
  return PC_OK;
fail:
  pc_buf_free(&b);
  pc_optimizer_close(o);
  return rc;
}

void pc_optimizer_close(pc_optimizer *o)
{
  if (!o)
    return;
  if (o->inst && o->iface->destroy)
    o->iface->destroy(o->inst);
  pc_free(o->name);
  pc_free(o);
}

const char *pc_optimizer_name(const pc_optimizer *o) { return o->name; }
const char *pc_optimizer_plugin_id(const pc_optimizer *o)
{
  return o->plugin->info->id;
}
const char *pc_optimizer_plugin_version(const pc_optimizer *o)
{
  return o->plugin->info->version;
}

/* Read what a plugin wrote to a text sink as a JSON object. */
static int read_object(pc_optimizer *o, const char *what, const pc_buf *b,
                       struct json_object **out, pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;

  if (pc_json_parse(b->data ? b->data : "", b->len, PC_JSON_PARSE_STRICT,
                    out, &perr) != PC_OK ||
      !json_object_is_type(*out, json_type_object)) {
    json_object_put(*out);
    *out = NULL;
    return pc_error_set(err, PC_E_INTERNAL, "optimizer \"%s\" (%s): %s is "
                        "not a JSON object", o->name, o->plugin->info->id,
                        what);
  }
  return PC_OK;
}

int pc_optimizer_settings(pc_optimizer *o, struct json_object **out,
                          pc_error *err)
{
  pc_buf b;
  pc_text_sink sink = pc_host_buf_sink(&b);
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  pc_buf_init(&b, 0);
  rc = o->iface->settings(o->inst, &sink, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    rc = pc_error_wrap(err, &perr, "optimizer \"%s\": settings", o->name);
  } else {
    rc = read_object(o, "its settings", &b, out, err);
  }
  pc_buf_free(&b);
  return rc;
}

int pc_optimizer_has_estimate(const pc_optimizer *o)
{
  return o->iface->estimate != NULL;
}

int pc_optimizer_estimate(pc_optimizer *o, const struct json_object *info,
                          struct json_object **out, pc_error *err)
{
  pc_buf in, b;
  pc_text_sink sink = pc_host_buf_sink(&b);
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  if (!o->iface->estimate)
    return pc_error_set(err, PC_E_UNSUPPORTED, "optimizer \"%s\" (%s) gives "
                        "no estimate", o->name, o->plugin->info->id);
  pc_buf_init(&in, 0);
  pc_buf_init(&b, 0);
  if (pc_json_write(info, PC_JSON_TEXT_COMPACT, &in)) {
    rc = pc_error_set(err, PC_E_NOMEM, "optimizer %s: out of memory",
                      o->name);
  } else {
    rc = o->iface->estimate(o->inst, in.data, in.len, &sink, &perr);
    if (rc) {
      if (!perr.code)
        perr.code = rc;
      rc = pc_error_wrap(err, &perr, "optimizer \"%s\"", o->name);
    } else {
      rc = read_object(o, "its estimate", &b, out, err);
    }
  }
  pc_buf_free(&in);
  pc_buf_free(&b);
  return rc;
}

int pc_optimizer_compile(pc_optimizer *o, const pc_compile_api *api,
                         pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;
  int rc = o->iface->compile(o->inst, api, &perr);

  if (rc) {
    if (!perr.code)
      perr.code = rc;
    rc = pc_error_wrap(err, &perr, "optimizer \"%s\"", o->name);
  }
  return rc;
}
