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

/* An instance is lm-common's pc__lm_inst as it is: the common settings
 * are all this provider takes. */
static const pc__lm_inst_spec oai_spec = {
  .who = WHO,
  .size = sizeof(pc__lm_inst),
  .default_base_url = DEFAULT_BASE_URL,
  .extra = NULL,
  .own = NULL,
  .destroy = pc__lm_inst_free,
};

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

static int oai_complete(void *inst, const pc_lm_request *req,
                        const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  const pc__lm_inst *o = inst;
  const pc__lm_host *h;
  const char *headers[5];
  char choice[24];
  const char *model;
  pc__lm_reply reply;
  pc__oai_stream st;
  char *body = NULL;
  size_t body_len = 0;
  int stream, rc;

  rc = pc__lm_call_check(inst, WHO, req, out, err);
  if (rc)
    return rc;
  h = o->h;
  stream = pc__lm_call_streams(o, req);
  model = req->model && *req->model ? req->model : o->conf.model;
  /* The API has `n`: one request, choice 0's headers. */
  pc__lm_call_headers(req, 0, headers, choice);
  rc = pc__oai_body(h, model, req, stream, &body, &body_len, err);
  if (rc)
    return rc;
  pc__lm_reply_init(&reply, h);
  pc__oai_stream_init(&st, h, out, err);
  rc = pc__lm_fetch(h, WHO, &o->conf, "/chat/completions", headers,
                    "Authorization", "Bearer ", body, body_len,
                    stream ? pc__oai_stream_line : NULL, &st, call, &reply,
                    err);
  if (!rc)
    rc = stream ? pc__oai_stream_finish(&st, reply.request_id)
                : pc__oai_parse(h, reply.body.data, reply.body.len,
                                reply.request_id, out, err);
  pc__oai_stream_free(&st);
  pc__lm_reply_free(&reply);
  h->host->free(h->host->ctx, body);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The plugin.                                                              */

PC__LM_PROVIDER(WHO, "org.promptc.lm.openai",
                "OpenAI Chat Completions and compatible servers over HTTP",
                oai_spec, pc__lm_inst_free, oai_complete)
