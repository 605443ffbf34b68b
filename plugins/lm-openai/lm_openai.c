/*
 * lm_openai.c - the openai LM provider plugin: OpenAI Chat Completions,
 * or any server that speaks it (vLLM, llama.cpp, LiteLLM, the sim-server),
 * over the host's HTTP client (docs/providers-openai.md).
 */
#include <string.h>

#include "../lm-common/lm_common.h"
#include "openai_wire.h"
#include "promptc/plugin.h"

#define WHO PC__OAI_WHO

#define DEFAULT_BASE_URL "https://api.openai.com/v1"

/* The v1.0 sizes of the structs the host passes in. */
#define REQUEST_V1_SIZE \
  (offsetof(pc_lm_request, rollout_id) + sizeof(const char *))
#define SINK_V1_SIZE \
  (offsetof(pc_lm_sink, meta) + sizeof(void (*)(void)))

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. */
typedef struct oai_inst {
  const pc__lm_host *h;   /* borrowed: the plugin state */
  pc__lm_conf conf;       /* owned */
} oai_inst;

/* ------------------------------------------------------------------------ */
/* Lifecycle.                                                               */

static void oai_destroy(void *inst)
{
  oai_inst *o = inst;

  if (!o)
    return;
  pc__lm_conf_free(o->h, &o->conf);
  o->h->host->free(o->h->host->ctx, o);
}

static int oai_create(void *plugin_state, const char *config_json,
                      size_t len, void **inst, pc_error *err)
{
  const pc__lm_host *h = plugin_state;
  oai_inst *o;
  int rc;

  *inst = NULL;
  o = h->host->alloc(h->host->ctx, sizeof(*o));
  if (!o)
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  memset(o, 0, sizeof(*o));
  o->h = h;
  rc = pc__lm_conf_read(h, WHO, config_json, len, DEFAULT_BASE_URL, 1, NULL,
                        &o->conf, NULL, err);
  if (rc) {
    h->host->free(h->host->ctx, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static int oai_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  oai_inst *o = inst;
  int rc;

  if (!o || !out || !out->write)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": identity: no "
                        "instance or sink");
  rc = out->write(out->ctx, o->conf.model, strlen(o->conf.model));
  return rc ? pc__lm_refused(err, WHO, rc, "identity") : PC_OK;
}

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* A rollout id fit for a header value: printable, one line. */
static int rollout_ok(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return 0;
  return 1;
}

static int oai_complete(void *inst, const pc_lm_request *req,
                        const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  oai_inst *o = inst;
  const pc__lm_host *h;
  const char *headers[3] = {NULL, NULL, NULL};
  const char *model;
  pc__lm_reply reply;
  pc__oai_stream st;
  char *body = NULL;
  size_t body_len = 0;
  int stream, rc;

  if (!o || !req || req->hdr.struct_size < REQUEST_V1_SIZE || !out ||
      out->hdr.struct_size < SINK_V1_SIZE || !out->text ||
      (req->n_messages && (!req->messages ||
                           req->message_size < sizeof(pc_message))))
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": complete: bad "
                        "request or sink");
  h = o->h;
  stream = o->conf.stream || (req->flags & PC_LM_STREAM);
  model = req->model && *req->model ? req->model : o->conf.model;
  if (req->rollout_id && *req->rollout_id) {
    if (!rollout_ok(req->rollout_id))
      return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": complete: the "
                          "rollout id holds control characters");
    headers[0] = PC__LM_ROLLOUT_HEADER;
    headers[1] = req->rollout_id;
  }
  rc = pc__oai_body(h, model, req, stream, &body, &body_len, err);
  if (rc)
    return rc;
  pc__lm_reply_init(&reply, h);
  pc__oai_stream_init(&st, h, out, err);
  rc = pc__lm_exchange(h, WHO, &o->conf, "/chat/completions", headers,
                       "Authorization", "Bearer ", body, body_len,
                       stream ? pc__oai_stream_line : NULL, &st, call,
                       &reply, err);
  if (rc)
    goto out;
  if (!PC__LM_2XX(reply.status))
    rc = pc__lm_status_error(h, WHO, &reply, err);
  else if (stream)
    rc = pc__oai_stream_finish(&st, reply.request_id);
  else
    rc = pc__oai_parse(h, reply.body.data, reply.body.len, reply.request_id,
                       out, err);
out:
  pc__oai_stream_free(&st);
  pc__lm_reply_free(&reply);
  h->host->free(h->host->ctx, body);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_lm_provider_iface oai_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),
  .name = "openai",
  .create = oai_create,
  .destroy = oai_destroy,
  .identity = oai_identity,
  .complete = oai_complete,
};

static int oai_init(const pc_host_api *host, void **state, pc_error *err)
{
  pc__lm_host *h;
  int rc;

  *state = NULL;
  if (!host || !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->free)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": the host table is "
                        "missing or too short");
  h = host->alloc(host->ctx, sizeof(*h));
  if (!h)
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  rc = pc__lm_host_init(host, WHO, h, err);
  if (rc) {
    host->free(host->ctx, h);
    return rc;
  }
  *state = h;
  return PC_OK;
}

static void oai_fini(void *state)
{
  pc__lm_host *h = state;

  if (h)
    h->host->free(h->host->ctx, h);
}

static const void *oai_get_interface(void *state, const char *iface_id,
                                     uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_LM_PROVIDER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(oai_iface);
  return &oai_iface;
}

static const pc_plugin_info oai_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.lm.openai",
  .name = "openai",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "OpenAI Chat Completions and compatible servers over HTTP",
  .kinds = PC_KIND_LM_PROVIDER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = oai_init,
  .fini = oai_fini,
  .get_interface = oai_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &oai_info;
}
