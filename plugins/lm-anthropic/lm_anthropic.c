/*
 * lm_anthropic.c - the anthropic LM provider plugin: Anthropic's Messages
 * API (POST /v1/messages) over the host's HTTP client, whole or streamed
 * (docs/providers-anthropic.md). The instance, the one request per choice
 * and the delivery to the sink are lm-common's; this file holds what is
 * Anthropic's own: the anthropic_version and max_tokens settings and the
 * anthropic-version header.
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"
#include "anthropic_wire.h"

#define WHO PC__AN_WHO

#define DEFAULT_BASE_URL "https://api.anthropic.com"
#define DEFAULT_VERSION "2023-06-01"
#define DEFAULT_MAX_TOKENS 4096

/* An instance: read-only once created, so any number of threads may call
 * complete() on it at once. */
typedef struct an_inst {
  pc__lm_inst base;       /* first: host tables, settings */
  char *version;          /* owned: the anthropic-version header */
  int64_t max_tokens;     /* sent when the call sets none */
} an_inst;

/* ------------------------------------------------------------------------ */
/* Configuration.                                                           */

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
  s->base.h->host->free(s->base.h->host->ctx, s->version);
  pc__lm_inst_free(&s->base);
}

/* The provider's own keys: anthropic_version and max_tokens. */
static int an_own(pc__lm_inst *base, const pc_json *obj, pc_error *err)
{
  an_inst *s = (an_inst *)base;
  const pc__lm_host *h = base->h;
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
  if (!(s->version = pc__lm_strndup(h, version, strlen(version))))
    return pc__lm_nomem(err, WHO);
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

static const char *const an_keys[] = {"anthropic_version", "max_tokens",
                                      NULL};

static const pc__lm_inst_spec an_spec = {
  .who = WHO,
  .size = sizeof(an_inst),
  .default_base_url = DEFAULT_BASE_URL,
  .extra = an_keys,
  .own = an_own,
  .destroy = an_destroy,
};

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* The body of the call's requests (a pc__lm_wire body). */
static int an_body(const pc__lm_inst *base, const pc_lm_request *req,
                   const pc_json *params, int stream, char **body,
                   size_t *len, pc_error *err)
{
  const an_inst *s = (const an_inst *)base;
  pc__an_opts opts;

  opts.model = req->model && *req->model ? req->model : base->conf.model;
  opts.max_tokens = s->max_tokens;
  opts.stream = stream;
  return pc__an_body(base->h, &opts, req, params, body, len, err);
}

static const pc__lm_wire an_wire = {
  .who = WHO,
  .path = "/v1/messages",
  .auth_header = "x-api-key",
  .auth_prefix = "",
  .body = an_body,
  .parse = pc__an_reply_parse,
  .stream_init = pc__an_stream_init,
  .stream_line = pc__an_stream_line,
  .stream_end = pc__an_stream_end,
  .stream_free = pc__an_stream_free,
};

static int an_complete(void *inst, const pc_lm_request *req,
                       const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  const an_inst *s = inst;
  const char *version[3] = {"anthropic-version", NULL, NULL};
  pc__an_stream st;
  int rc = pc__lm_call_check(inst, WHO, req, out, err);

  if (rc)
    return rc;
  version[1] = s->version;
  return pc__lm_complete_each(&s->base, &an_wire, req, out, call, version,
                              NULL, NULL, &st, err);
}

/* ------------------------------------------------------------------------ */
/* The plugin.                                                              */

PC__LM_PROVIDER(WHO, "org.promptc.lm.anthropic",
                "Anthropic Messages API (/v1/messages), whole or streamed",
                an_spec, an_destroy, an_complete)
