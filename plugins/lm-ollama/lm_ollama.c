/*
 * lm_ollama.c - the ollama LM provider plugin: Ollama's native chat API
 * (POST /api/chat) over the host's HTTP client, whole or streamed, with
 * the model's digest read from GET /api/tags when the instance is created
 * (docs/providers-ollama.md). The instance, the one request per choice and
 * the delivery to the sink are lm-common's; this file holds what is
 * Ollama's own: keep_alive, the digest and the identity made from it.
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"
#include "ollama_wire.h"

#define WHO PC__OL_WHO

#define DEFAULT_BASE_URL "http://127.0.0.1:11434"

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. Its identity (base.identity) is
 * "<model>@<12 hex of the digest>". */
typedef struct ol_inst {
  pc__lm_inst base;       /* first: host tables, settings, identity */
  char *keep_alive;       /* owned; NULL when not configured */
  char *digest;           /* owned: from /api/tags; NULL if it gave none */
} ol_inst;

/* ------------------------------------------------------------------------ */
/* Configuration and the model's digest.                                    */

static void ol_destroy(void *inst)
{
  ol_inst *s = inst;

  if (!s)
    return;
  s->base.h->host->free(s->base.h->host->ctx, s->keep_alive);
  s->base.h->host->free(s->base.h->host->ctx, s->digest);
  pc__lm_inst_free(&s->base);
}

static int read_keep_alive(ol_inst *s, const pc_json *obj, pc_error *err)
{
  const pc__lm_host *h = s->base.h;
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
  if (!(s->keep_alive = pc__lm_strndup(h, str, len)))
    return pc__lm_nomem(err, WHO);
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
  const pc__lm_host *h = s->base.h;
  const char *url = s->base.conf.base_url;
  pc__lm_reply reply;
  pc_error e = PC_ERROR_INIT;
  int rc;

  pc__lm_reply_init(&reply, h);
  rc = pc__lm_exchange(h, WHO, &s->base.conf, "/api/tags", NULL,
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
  rc = pc__ol_tags_find(h, reply.body.data, reply.body.len,
                        s->base.conf.model, url, &s->digest, err);

out:
  pc__lm_reply_free(&reply);
  return rc;
}

/* "<model>@<first 12 hex digits of the digest>", or the model alone when
 * the server gave no digest. */
static int make_identity(ol_inst *s, pc_error *err)
{
  const pc__lm_host *h = s->base.h;
  const char *d = s->digest;
  pc__lm_buf b;

  pc__lm_buf_init(&b, h);
  if (d && !strncmp(d, "sha256:", 7))
    d += 7;
  if (pc__lm_buf_puts(&b, s->base.conf.model) ||
      (d && (pc__lm_buf_put(&b, "@", 1) ||
             pc__lm_buf_put(&b, d, strlen(d) < 12 ? strlen(d) : 12)))) {
    pc__lm_buf_free(&b);
    return pc__lm_nomem(err, WHO);
  }
  s->base.identity = b.data;  /* taken over from the buffer */
  return PC_OK;
}

/* The provider's own key (keep_alive), then the model's digest from the
 * server, then the identity. */
static int ol_own(pc__lm_inst *base, const pc_json *obj, pc_error *err)
{
  ol_inst *s = (ol_inst *)base;
  int rc;

  if ((rc = read_keep_alive(s, obj, err)) ||
      (rc = read_digest(s, err)) ||
      (rc = make_identity(s, err)))
    return rc;
  return PC_OK;
}

static const char *const ol_keys[] = {"keep_alive", NULL};

static const pc__lm_inst_spec ol_spec = {
  .who = WHO,
  .size = sizeof(ol_inst),
  .default_base_url = DEFAULT_BASE_URL,
  .extra = ol_keys,
  .own = ol_own,
  .destroy = ol_destroy,
};

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* The body of the call's requests (a pc__lm_wire body). */
static int ol_body(const pc__lm_inst *base, const pc_lm_request *req,
                   const pc_json *params, int stream, char **body,
                   size_t *len, pc_error *err)
{
  const ol_inst *s = (const ol_inst *)base;
  pc__ol_opts opts;

  opts.model = req->model && *req->model ? req->model : base->conf.model;
  opts.keep_alive = s->keep_alive;
  opts.stream = stream;
  return pc__ol_body(base->h, &opts, req, params, body, len, err);
}

static const pc__lm_wire ol_wire = {
  .who = WHO,
  .path = "/api/chat",
  .auth_header = "Authorization",
  .auth_prefix = "Bearer ",
  .body = ol_body,
  .parse = pc__ol_reply_parse,
  .stream_init = pc__ol_stream_init,
  .stream_line = pc__ol_stream_line,
  .stream_end = pc__ol_stream_end,
  .stream_free = NULL,
};

/* The record of the first reply carries the digest as well. */
static int ol_complete(void *inst, const pc_lm_request *req,
                       const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  const ol_inst *s = inst;
  pc__ol_stream st;
  int rc = pc__lm_call_check(inst, WHO, req, out, err);

  if (rc)
    return rc;
  return pc__lm_complete_each(&s->base, &ol_wire, req, out, call, NULL,
                              "digest", s->digest, &st, err);
}

/* ------------------------------------------------------------------------ */
/* The plugin.                                                              */

PC__LM_PROVIDER(WHO, "org.promptc.lm.ollama",
                "Ollama native chat API (/api/chat), with the model digest",
                ol_spec, ol_destroy, ol_complete)
