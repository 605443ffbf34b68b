/*
 * lm_ollama.c - the ollama LM provider plugin: Ollama's native chat API
 * (POST /api/chat) over the host's HTTP client, whole or streamed, with
 * the model's digest read from GET /api/tags when the instance is created
 * (docs/providers-ollama.md).
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"
#include "ollama_wire.h"

#define WHO PC__OL_WHO

#define DEFAULT_BASE_URL "http://127.0.0.1:11434"
#define MAX_CHOICES 128

/* The v1.0 sizes of the structs the host passes in. */
#define REQUEST_V1_SIZE \
  (offsetof(pc_lm_request, rollout_id) + sizeof(const char *))
#define SINK_V1_SIZE \
  (offsetof(pc_lm_sink, meta) + sizeof(void (*)(void)))

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. */
typedef struct ol_inst {
  const pc__lm_host *h;   /* borrowed: the plugin state */
  pc__lm_conf conf;       /* owned */
  char *keep_alive;       /* owned; NULL when not configured */
  char *digest;           /* owned: from /api/tags; NULL if it gave none */
  char *identity;         /* owned: "<model>@<12 hex of the digest>" */
} ol_inst;

/* ------------------------------------------------------------------------ */
/* Configuration and the model's digest.                                    */

static char *dup_str(const pc__lm_host *h, const char *s, size_t n)
{
  char *p = h->host->alloc(h->host->ctx, n + 1);

  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

static void ol_destroy(void *inst)
{
  ol_inst *s = inst;
  void *ctx;

  if (!s)
    return;
  ctx = s->h->host->ctx;
  pc__lm_conf_free(s->h, &s->conf);
  s->h->host->free(ctx, s->keep_alive);
  s->h->host->free(ctx, s->digest);
  s->h->host->free(ctx, s->identity);
  s->h->host->free(ctx, s);
}

static int read_keep_alive(ol_inst *s, const pc_json *obj, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const pc_json *v = h->json->object_get(obj, "keep_alive");
  const char *str;
  size_t len = 0;

  if (!v)
    return PC_OK;
  str = h->json->type(v) == PC_JSON_STRING ? h->json->get_string(v, &len)
                                           : NULL;
  if (!str || !len || strlen(str) != len)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": config: "
                        "\"keep_alive\" must be a non-empty string such as "
                        "\"5m\"");
  if (!(s->keep_alive = dup_str(h, str, len)))
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

/* A lower-level message without what the caller's prefix already says:
 * "ollama: " and "GET <url>/api/tags: ". */
static const char *detail(const char *msg, const char *url)
{
  size_t n = strlen(url);

  if (!strncmp(msg, WHO ": ", strlen(WHO ": ")))
    msg += strlen(WHO ": ");
  if (!strncmp(msg, "GET ", 4) && !strncmp(msg + 4, url, n) &&
      !strncmp(msg + 4 + n, "/api/tags", 9)) {
    msg += 4 + n + 9;
    if (*msg == ':')
      msg++;
    if (*msg == ' ')
      msg++;
  }
  return msg;
}

/* GET /api/tags: is the model there, and what is its digest? */
static int read_digest(ol_inst *s, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const char *url = s->conf.base_url;
  pc__lm_reply reply;
  pc_error e = PC_ERROR_INIT;
  int rc;

  pc__lm_reply_init(&reply, h);
  rc = pc__lm_exchange(h, WHO, &s->conf, "/api/tags", NULL,
                       "Authorization", "Bearer ", NULL, 0, NULL, NULL,
                       NULL, &reply, &e);
  if (rc) {
    /* No answer at all: most often no server is listening. */
    rc = pc__lm_error(err, rc, WHO ": GET %s/api/tags: %s%s", url,
                      detail(e.message, url),
                      rc == PC_E_IO || rc == PC_E_TIMEOUT
                        ? "; is `ollama serve` running?" : "");
    goto out;
  }
  if (!PC__LM_2XX(reply.status)) {
    rc = pc__lm_status_error(h, WHO, &reply, &e);
    rc = pc__lm_error(err, rc, WHO ": GET %s/api/tags: %s", url,
                      detail(e.message, url));
    if (err && err->code == rc) {
      err->http_status = e.http_status;
      err->retry_after_ms = e.retry_after_ms;
    }
    goto out;
  }
  rc = pc__ol_tags_find(h, reply.body.data, reply.body.len, s->conf.model,
                        url, &s->digest, err);

out:
  pc__lm_reply_free(&reply);
  return rc;
}

/* "<model>@<first 12 hex digits of the digest>", or the model alone when
 * the server gave no digest. */
static int make_identity(ol_inst *s, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const char *d = s->digest;
  pc__lm_buf b;

  pc__lm_buf_init(&b, h);
  if (d && !strncmp(d, "sha256:", 7))
    d += 7;
  if (pc__lm_buf_puts(&b, s->conf.model) ||
      (d && (pc__lm_buf_put(&b, "@", 1) ||
             pc__lm_buf_put(&b, d, strlen(d) < 12 ? strlen(d) : 12)))) {
    pc__lm_buf_free(&b);
    return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  s->identity = b.data;  /* taken over from the buffer */
  return PC_OK;
}

static int ol_create(void *plugin_state, const char *config_json,
                     size_t len, void **inst, pc_error *err)
{
  static const char *const extra[] = {"keep_alive", NULL};
  const pc__lm_host *h = plugin_state;
  ol_inst *s;
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
  if ((rc = read_keep_alive(s, obj, err)) ||
      (rc = read_digest(s, err)) ||
      (rc = make_identity(s, err)))
    goto fail;
  h->json->free(h->host->ctx, obj);
  *inst = s;
  return PC_OK;

fail:
  h->json->free(h->host->ctx, obj);
  ol_destroy(s);
  return rc;
}

static int ol_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  const ol_inst *s = inst;

  int rc = out->write(out->ctx, s->identity, strlen(s->identity));

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
static int request_one(const ol_inst *s, const pc_lm_request *req,
                       const char *body, size_t body_len, int stream,
                       uint32_t index, const pc_lm_sink *out,
                       pc_call *call, pc__ol_result *r, char *request_id,
                       size_t request_id_cap, pc_error *err)
{
  const pc__lm_host *h = s->h;
  const char *headers[5];
  char choice[24];
  size_t nh = 0;
  pc__lm_reply reply;
  pc__ol_stream st;
  delta_ctx dctx = {out, index};
  int rc;

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
  pc__ol_stream_init(&st, h, r, on_delta, &dctx, err);
  rc = pc__lm_exchange(h, WHO, &s->conf, "/api/chat", headers,
                       "Authorization", "Bearer ", body, body_len,
                       stream ? pc__ol_stream_line : NULL, &st, call,
                       &reply, err);
  /* A line handler's own failure is the root cause. */
  if (st.rc)
    rc = st.rc;
  if (rc)
    goto out;
  if (!PC__LM_2XX(reply.status))
    rc = pc__lm_status_error(h, WHO, &reply, err);
  else if (stream)
    rc = pc__ol_stream_end(&st);
  else
    rc = pc__ol_reply_parse(h, reply.body.data, reply.body.len, r, err);
  if (!rc)
    snprintf(request_id, request_id_cap, "%s", reply.request_id);

out:
  pc__lm_reply_free(&reply);
  return rc;
}

/* The record of the first reply: served model, digest, request id, done
 * reason. */
static int send_meta(const ol_inst *s, const pc_lm_sink *out,
                     const pc__ol_result *r, const char *request_id,
                     pc_error *err)
{
  const char *keys[] = {"model", "digest", "request_id", "finish_reason"};
  const char *vals[] = {r->model, s->digest ? s->digest : "", request_id,
                        r->done_reason};
  size_t i;
  int rc;

  if (!out->meta)
    return PC_OK;
  for (i = 0; i < 4; i++)
    if (vals[i][0] &&
        (rc = out->meta(out->ctx, keys[i], vals[i], strlen(vals[i]))))
      return pc__lm_refused(err, WHO, rc, "metadata");
  return PC_OK;
}

static int ol_complete(void *inst, const pc_lm_request *req,
                       const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  const ol_inst *s = inst;
  const pc__lm_host *h = s->h;
  pc_json *params = NULL;
  char *body = NULL;
  size_t body_len = 0;
  char request_id[128];
  pc__ol_opts opts;
  pc__ol_result r;
  int64_t n = 1, i, in_tokens = 0, out_tokens = 0;
  int rc, stream, have_usage = 0;

  pc__ol_result_init(&r, h);
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
  opts.keep_alive = s->keep_alive;
  opts.stream = stream;
  if ((rc = pc__ol_body(h, &opts, req, params, &body, &body_len, err)))
    goto out;
  /* The API has no n: one request per choice, told apart by a header. */
  for (i = 0; i < n; i++) {
    if (h->host->is_cancelled(h->host->ctx, call)) {
      rc = pc__lm_error(err, PC_E_CANCELLED, WHO ": cancelled");
      goto out;
    }
    pc__ol_result_free(&r);
    pc__ol_result_init(&r, h);
    rc = request_one(s, req, body, body_len, stream, (uint32_t)i, out, call,
                     &r, request_id, sizeof(request_id), err);
    if (rc)
      goto out;
    if ((rc = out->text(out->ctx, (uint32_t)i, r.text.data, r.text.len))) {
      rc = pc__lm_refused(err, WHO, rc, "text");
      goto out;
    }
    if (r.prompt_tokens >= 0 || r.completion_tokens >= 0)
      have_usage = 1;
    in_tokens += r.prompt_tokens > 0 ? r.prompt_tokens : 0;
    out_tokens += r.completion_tokens > 0 ? r.completion_tokens : 0;
    if (i == 0 && (rc = send_meta(s, out, &r, request_id, err)))
      goto out;
  }
  if (have_usage && out->usage &&
      (rc = out->usage(out->ctx, in_tokens, out_tokens)))
    rc = pc__lm_refused(err, WHO, rc, "usage");

out:
  pc__ol_result_free(&r);
  if (body)
    h->host->free(h->host->ctx, body);
  h->json->free(h->host->ctx, params);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface and descriptor.                                                */

static const pc_lm_provider_iface ol_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),
  .name = "ollama",
  .create = ol_create,
  .destroy = ol_destroy,
  .identity = ol_identity,
  .complete = ol_complete,
};

static int ol_init(const pc_host_api *host, void **state, pc_error *err)
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

static void ol_fini(void *state)
{
  pc__lm_host *h = state;

  if (h)
    h->host->free(h->host->ctx, h);
}

static const void *ol_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_LM_PROVIDER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(ol_iface);
  return &ol_iface;
}

static const pc_plugin_info ol_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.lm.ollama",
  .name = "ollama",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "Ollama native chat API (/api/chat), with the model digest",
  .kinds = PC_KIND_LM_PROVIDER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = ol_init,
  .fini = ol_fini,
  .get_interface = ol_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &ol_info;
}
