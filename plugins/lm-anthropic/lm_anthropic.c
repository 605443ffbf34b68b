/*
 * lm_anthropic.c - the anthropic LM provider plugin: Anthropic's Messages
 * API (POST /v1/messages) over the host's HTTP client, whole or streamed
 * (docs/providers-anthropic.md).
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"
#include "anthropic_wire.h"

#define WHO PC__AN_WHO

#define DEFAULT_BASE_URL "https://api.anthropic.com"
#define DEFAULT_VERSION "2023-06-01"
#define DEFAULT_MAX_TOKENS 4096
#define MAX_CHOICES 128

/* The v1.0 sizes of the structs the host passes in. */
#define REQUEST_V1_SIZE \
  (offsetof(pc_lm_request, rollout_id) + sizeof(const char *))
#define SINK_V1_SIZE \
  (offsetof(pc_lm_sink, meta) + sizeof(void (*)(void)))

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. */
typedef struct an_inst {
  const pc__lm_host *h;   /* borrowed: the plugin state */
  pc__lm_conf conf;       /* owned */
  char *version;          /* owned: the anthropic-version header */
  int64_t max_tokens;     /* sent when the call sets none */
} an_inst;

/* ------------------------------------------------------------------------ */
/* Configuration.                                                           */

static char *dup_str(const pc__lm_host *h, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = h->host->alloc(h->host->ctx, n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* A header value must be one line of printable ASCII. */
static int header_safe(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      return 0;
  return 1;
}

static void an_destroy(void *inst)
{
  an_inst *s = inst;

  if (!s)
    return;
  pc__lm_conf_free(s->h, &s->conf);
  s->h->host->free(s->h->host->ctx, s->version);
  s->h->host->free(s->h->host->ctx, s);
}

/* The provider's own keys: anthropic_version and max_tokens. */
static int read_own_keys(an_inst *s, const pc_json *obj, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const pc_json *v = h->json->object_get(obj, "anthropic_version");
  const char *version = DEFAULT_VERSION;
  size_t len = 0;

  if (v) {
    version = h->json->type(v) == PC_JSON_STRING
      ? h->json->get_string(v, &len) : NULL;
    if (!version || !len || strlen(version) != len || !header_safe(version))
      return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": config: "
                          "\"anthropic_version\" must be a non-empty "
                          "string of printable ASCII");
  }
  if (!(s->version = dup_str(h, version)))
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  s->max_tokens = DEFAULT_MAX_TOKENS;
  v = h->json->object_get(obj, "max_tokens");
  if (v) {
    if (h->json->type(v) != PC_JSON_INT || h->json->get_int(v) < 1)
      return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": config: "
                          "\"max_tokens\" must be an integer >= 1");
    s->max_tokens = h->json->get_int(v);
  }
  return PC_OK;
}

static int an_create(void *plugin_state, const char *config_json,
                     size_t len, void **inst, pc_error *err)
{
  static const char *const extra[] = {"anthropic_version", "max_tokens",
                                      NULL};
  const pc__lm_host *h = plugin_state;
  an_inst *s;
  pc_json *obj = NULL;
  int rc;

  *inst = NULL;
  s = h->host->alloc(h->host->ctx, sizeof(*s));
  if (!s)
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  memset(s, 0, sizeof(*s));
  s->h = h;
  rc = pc__lm_conf_read(h, WHO, config_json, len, DEFAULT_BASE_URL, 1,
                        extra, &s->conf, &obj, err);
  if (rc)
    goto fail;
  rc = read_own_keys(s, obj, err);
  if (rc)
    goto fail;
  h->json->free(h->host->ctx, obj);
  *inst = s;
  return PC_OK;

fail:
  h->json->free(h->host->ctx, obj);
  an_destroy(s);
  return rc;
}

static int an_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  const an_inst *s = inst;

  int rc = out->write(out->ctx, s->conf.model, strlen(s->conf.model));

  if (rc)
    return pc__lm_refused(err, WHO, rc, "identity");
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* Where a streamed piece goes: the sink's delta for one choice. */
typedef struct delta_ctx {
  const pc_lm_sink *out;
  uint32_t index;
} delta_ctx;

static int on_delta(void *ctx, const char *text, size_t len)
{
  delta_ctx *d = ctx;

  return d->out->delta ? d->out->delta(d->out->ctx, d->index, text, len)
                       : 0;
}

/* "n" of the params: how many requests to make. */
static int read_n(const pc__lm_host *h, const pc_json *params, int64_t *n,
                  pc_error *err)
{
  const pc_json *v = h->json->object_get(params, "n");

  *n = 1;
  if (!v || h->json->type(v) == PC_JSON_NULL)
    return PC_OK;
  if (h->json->type(v) != PC_JSON_INT || h->json->get_int(v) < 1 ||
      h->json->get_int(v) > MAX_CHOICES)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.n must be an "
                        "integer from 1 to %d", MAX_CHOICES);
  *n = h->json->get_int(v);
  return PC_OK;
}

/* One request for choice `index`: its reply read into `r`. */
static int request_one(const an_inst *s, const pc_lm_request *req,
                       const char *body, size_t body_len, int stream,
                       uint32_t index, const pc_lm_sink *out,
                       pc_call *call, pc__an_result *r, char *request_id,
                       size_t request_id_cap, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const char *headers[7];
  char choice[24];
  size_t nh = 0;
  pc__lm_reply reply;
  pc__an_stream st;
  delta_ctx dctx = {out, index};
  int rc;

  headers[nh++] = "anthropic-version";
  headers[nh++] = s->version;
  if (req->rollout_id && req->rollout_id[0]) {
    headers[nh++] = PC__LM_ROLLOUT_HEADER;
    headers[nh++] = req->rollout_id;
  }
  if (index > 0) {
    snprintf(choice, sizeof(choice), "%u", (unsigned)index);
    headers[nh++] = PC__LM_CHOICE_HEADER;
    headers[nh++] = choice;
  }
  headers[nh] = NULL;
  pc__lm_reply_init(&reply, h);
  pc__an_stream_init(&st, h, r, on_delta, &dctx, err);
  rc = pc__lm_exchange(h, WHO, &s->conf, "/v1/messages", headers,
                       "x-api-key", "", body, body_len,
                       stream ? pc__an_stream_line : NULL, &st, call,
                       &reply, err);
  /* A line handler's own failure is the root cause. */
  if (st.rc)
    rc = st.rc;
  if (rc)
    goto out;
  if (!PC__LM_2XX(reply.status))
    rc = pc__lm_status_error(h, WHO, &reply, err);
  else if (stream)
    rc = pc__an_stream_end(&st);
  else
    rc = pc__an_reply_parse(h, reply.body.data, reply.body.len, r, err);
  if (!rc)
    snprintf(request_id, request_id_cap, "%s",
             reply.request_id[0] ? reply.request_id : r->id);

out:
  pc__an_stream_free(&st);
  pc__lm_reply_free(&reply);
  return rc;
}

/* The record of the first reply: served model, request id, stop reason. */
static int send_meta(const pc_lm_sink *out, const pc__an_result *r,
                     const char *request_id, pc_error *err)
{
  const char *keys[] = {"model", "request_id", "finish_reason"};
  const char *vals[] = {r->model, request_id, r->stop_reason};
  size_t i;
  int rc;

  if (!out->meta)
    return PC_OK;
  for (i = 0; i < 3; i++)
    if (vals[i][0] &&
        (rc = out->meta(out->ctx, keys[i], vals[i], strlen(vals[i]))))
      return pc__lm_refused(err, WHO, rc, "metadata");
  return PC_OK;
}

static int an_complete(void *inst, const pc_lm_request *req,
                       const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  const an_inst *s = inst;
  const pc__lm_host *h = s->h;
  pc_json *params = NULL;
  char *body = NULL;
  size_t body_len = 0;
  char request_id[128];
  pc__an_opts opts;
  pc__an_result r;
  int64_t n = 1, i, in_tokens = 0, out_tokens = 0;
  int rc, stream, have_usage = 0;

  pc__an_result_init(&r, h);
  if (!req || req->hdr.struct_size < REQUEST_V1_SIZE || !out ||
      out->hdr.struct_size < SINK_V1_SIZE || !out->text) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, WHO ": complete: bad request "
                      "or sink");
    goto out;
  }
  stream = s->conf.stream || (req->flags & PC_LM_STREAM);
  if ((rc = pc__lm_params(h, WHO, req, &params, err)) ||
      (rc = read_n(h, params, &n, err)))
    goto out;
  opts.model = s->conf.model;
  opts.max_tokens = s->max_tokens;
  opts.stream = stream;
  if ((rc = pc__an_body(h, &opts, req, params, &body, &body_len, err)))
    goto out;
  /* The API has no n: one request per choice, told apart by a header. */
  for (i = 0; i < n; i++) {
    if (h->host->is_cancelled(h->host->ctx, call)) {
      rc = pc__lm_error(err, PC_E_CANCELLED, WHO ": cancelled");
      goto out;
    }
    pc__an_result_free(&r);
    pc__an_result_init(&r, h);
    rc = request_one(s, req, body, body_len, stream, (uint32_t)i, out, call,
                     &r, request_id, sizeof(request_id), err);
    if (rc)
      goto out;
    if ((rc = out->text(out->ctx, (uint32_t)i, r.text.data, r.text.len))) {
      rc = pc__lm_refused(err, WHO, rc, "text");
      goto out;
    }
    if (r.input_tokens >= 0 || r.output_tokens >= 0)
      have_usage = 1;
    in_tokens += r.input_tokens > 0 ? r.input_tokens : 0;
    out_tokens += r.output_tokens > 0 ? r.output_tokens : 0;
    if (i == 0 && (rc = send_meta(out, &r, request_id, err)))
      goto out;
  }
  if (have_usage && out->usage &&
      (rc = out->usage(out->ctx, in_tokens, out_tokens)))
    rc = pc__lm_refused(err, WHO, rc, "usage");

out:
  pc__an_result_free(&r);
  if (body)
    h->host->free(h->host->ctx, body);
  h->json->free(h->host->ctx, params);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_lm_provider_iface an_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),
  .name = "anthropic",
  .create = an_create,
  .destroy = an_destroy,
  .identity = an_identity,
  .complete = an_complete,
};

static int an_init(const pc_host_api *host, void **state, pc_error *err)
{
  pc__lm_host *h;
  int rc;

  *state = NULL;
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

static void an_fini(void *state)
{
  pc__lm_host *h = state;

  if (h)
    h->host->free(h->host->ctx, h);
}

static const void *an_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_LM_PROVIDER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(an_iface);
  return &an_iface;
}

static const pc_plugin_info an_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.lm.anthropic",
  .name = "anthropic",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "Anthropic Messages API (/v1/messages), whole or streamed",
  .kinds = PC_KIND_LM_PROVIDER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = an_init,
  .fini = an_fini,
  .get_interface = an_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &an_info;
}
