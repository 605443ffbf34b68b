/*
 * adapter.c - the host side of adapters: finds an adapter plugin by name,
 * hands it the signature, demos and inputs as JSON text, and collects the
 * messages or the parsed fields its sinks deliver.
 */
#include <string.h>

#include "adapter.h"
#include "alloc.h"
#include "buf.h"
#include "host.h"
#include "json_text.h"

/* Everything up to and including parse is ABI 1.0. */
#define ADAPTER_V1_SIZE \
  (offsetof(pc_adapter_iface, parse) + sizeof(void (*)(void)))

int pc_adapter_open(const pc_registry *reg, const char *name,
                    const char *config_json, pc_adapter **out, pc_error *err)
{
  pc_adapter *a;
  pc_plugin *plugin = NULL;
  const pc_adapter_iface *iface;
  pc_error perr = PC_ERROR_INIT;
  const char *cfg = config_json ? config_json : "{}";
  int rc;

  *out = NULL;
  iface = pc_registry_find_iface(reg, PC_IFACE_ADAPTER, name,
                                 (uint32_t)ADAPTER_V1_SIZE, &plugin);
  if (!iface)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "adapter \"%s\": no loaded plugin offers it "
                        "(see `promptc plugins list`)", name);
  if (!iface->create || !iface->format || !iface->parse)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "adapter \"%s\" (%s): interface lacks create, "
                        "format or parse", name, plugin->path);
  a = pc_calloc(1, sizeof(*a));
  if (!a)
    return pc_error_set(err, PC_E_NOMEM, "adapter \"%s\": out of memory",
                        name);
  a->plugin = plugin;
  a->iface = iface;
  rc = iface->create(plugin->state, cfg, strlen(cfg), &a->inst, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    pc_free(a);
    return pc_error_wrap(err, &perr, "adapter \"%s\" (%s): create", name,
                         plugin->info->id);
  }
  *out = a;
  return PC_OK;
}

void pc_adapter_close(pc_adapter *a)
{
  if (!a)
    return;
  if (a->iface->destroy)
    a->iface->destroy(a->inst);
  pc_free(a);
}

const char *pc_adapter_fallback(const pc_adapter *a)
{
  const char *f = a->iface->fallback;

  return f && *f && strcmp(f, a->iface->name) != 0 ? f : NULL;
}

const char *pc_adapter_name(const pc_adapter *a)
{
  return a->iface->name;
}

void pc_messages_clear(pc_messages *m)
{
  for (size_t i = 0; i < m->n; i++) {
    pc_free(m->items[i].role);
    pc_free(m->items[i].content);
  }
  pc_free(m->items);
  pc_free(m->params_json);
  memset(m, 0, sizeof(*m));
}

static int sink_message(void *ctx, const char *role, const char *content,
                        size_t len)
{
  pc_messages *m = ctx;
  pc_chat_message *v;

  if (!role || (!content && len))
    return PC_E_INVALID_ARG;
  v = pc_realloc(m->items, (m->n + 1) * sizeof(*v));
  if (!v)
    return PC_E_NOMEM;
  m->items = v;
  v += m->n;
  v->role = pc_strdup(role);
  v->content = pc_memdup(content ? content : "", len);
  v->len = len;
  if (!v->role || !v->content) {
    pc_free(v->role);
    pc_free(v->content);
    return PC_E_NOMEM;
  }
  m->n++;
  return PC_OK;
}

static int sink_params(void *ctx, const char *json, size_t len)
{
  pc_messages *m = ctx;
  char *copy = pc_memdup(json, len);

  if (!copy)
    return PC_E_NOMEM;
  pc_free(m->params_json);
  m->params_json = copy;
  return PC_OK;
}

int pc_adapter_format_json(pc_adapter *a, const char *sig_json,
                           size_t sig_len, const struct json_object *demos,
                           const struct json_object *inputs,
                           pc_messages *out, pc_error *err)
{
  pc_buf demob, inb;
  pc_error perr = PC_ERROR_INIT;
  pc_message_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_message_sink),
    .ctx = out,
    .message = sink_message,
    .params = sink_params,
  };
  pc_adapter_format_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_format_request),
  };
  int rc;

  memset(out, 0, sizeof(*out));
  pc_buf_init(&demob, 0);
  pc_buf_init(&inb, 0);
  rc = demos ? pc_json_write(demos, PC_JSON_TEXT_COMPACT, &demob)
             : pc_buf_puts(&demob, "[]");
  if (rc == PC_OK)
    rc = inputs ? pc_json_write(inputs, PC_JSON_TEXT_COMPACT, &inb)
                : pc_buf_puts(&inb, "{}");
  if (rc) {
    rc = pc_error_set(err, rc, "adapter \"%s\": cannot encode the request",
                      a->iface->name);
    goto out;
  }
  req.signature_json = sig_json;
  req.signature_len = sig_len;
  req.demos_json = demob.data;
  req.demos_len = demob.len;
  req.inputs_json = inb.data;
  req.inputs_len = inb.len;
  rc = a->iface->format(a->inst, &req, &sink, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    rc = pc_error_wrap(err, &perr, "adapter \"%s\": format", a->iface->name);
    pc_messages_clear(out);
  }
out:
  pc_buf_free(&demob);
  pc_buf_free(&inb);
  return rc;
}

int pc_adapter_format(pc_adapter *a, const pc_signature *sig,
                      const struct json_object *demos,
                      const struct json_object *inputs, pc_messages *out,
                      pc_error *err)
{
  pc_buf sigb;
  int rc;

  memset(out, 0, sizeof(*out));
  pc_buf_init(&sigb, 0);
  if (pc_signature_to_plugin_json(sig, &sigb))
    rc = pc_error_set(err, PC_E_NOMEM, "adapter \"%s\": cannot encode the "
                      "signature", a->iface->name);
  else
    rc = pc_adapter_format_json(a, sigb.data, sigb.len, demos, inputs, out,
                                err);
  pc_buf_free(&sigb);
  return rc;
}

int pc_adapter_parse_json(pc_adapter *a, const char *sig_json,
                          size_t sig_len, const char *text, size_t len,
                          struct json_object **out, pc_error *err)
{
  pc_buf result;
  pc_error perr = PC_ERROR_INIT;
  pc_text_sink sink = pc_host_buf_sink(&result);
  pc_adapter_parse_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_parse_request),
  };
  struct json_object *obj = NULL;
  int rc;

  *out = NULL;
  pc_buf_init(&result, 0);
  req.signature_json = sig_json;
  req.signature_len = sig_len;
  req.completion = text ? text : "";
  req.completion_len = text ? len : 0;
  rc = a->iface->parse(a->inst, &req, &sink, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    rc = pc_error_wrap(err, &perr, "adapter \"%s\"", a->iface->name);
    goto out;
  }
  rc = pc_json_parse(result.data ? result.data : "", result.len,
                     PC_JSON_PARSE_STRICT, &obj, &perr);
  if (rc == PC_OK && !json_object_is_type(obj, json_type_object)) {
    json_object_put(obj);
    obj = NULL;
    rc = pc_error_set(err, PC_E_INTERNAL, "adapter \"%s\": parse result is "
                      "not a JSON object", a->iface->name);
    goto out;
  }
  if (rc) {
    rc = pc_error_wrap(err, &perr, "adapter \"%s\": parse result",
                       a->iface->name);
    goto out;
  }
  *out = obj;
out:
  pc_buf_free(&result);
  return rc;
}

int pc_adapter_parse(pc_adapter *a, const pc_signature *sig,
                     const char *text, size_t len, struct json_object **out,
                     pc_error *err)
{
  pc_buf sigb;
  int rc;

  *out = NULL;
  pc_buf_init(&sigb, 0);
  if (pc_signature_to_plugin_json(sig, &sigb))
    rc = pc_error_set(err, PC_E_NOMEM, "adapter \"%s\": cannot encode the "
                      "signature", a->iface->name);
  else
    rc = pc_adapter_parse_json(a, sigb.data, sigb.len, text, len, out, err);
  pc_buf_free(&sigb);
  return rc;
}

struct json_object *pc_messages_to_json(const pc_messages *m)
{
  struct json_object *arr = json_object_new_array();

  if (!arr)
    return NULL;
  for (size_t i = 0; i < m->n; i++) {
    struct json_object *msg = json_object_new_object();
    struct json_object *role = json_object_new_string(m->items[i].role);
    struct json_object *content =
      json_object_new_string_len(m->items[i].content, (int)m->items[i].len);

    if (!msg || !role || !content ||
        json_object_object_add(msg, "role", role) != 0) {
      json_object_put(role);
      json_object_put(content);
      json_object_put(msg);
      json_object_put(arr);
      return NULL;
    }
    if (json_object_object_add(msg, "content", content) != 0) {
      json_object_put(content);
      json_object_put(msg);
      json_object_put(arr);
      return NULL;
    }
    if (json_object_array_add(arr, msg) != 0) {
      json_object_put(msg);
      json_object_put(arr);
      return NULL;
    }
  }
  return arr;
}
