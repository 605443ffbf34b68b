/* sim_wire_openai.c - the OpenAI Chat Completions wire format of the
 * sim-server: POST /v1/chat/completions, whole or streamed (SSE). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "sim_internal.h"

/* Request members that are not call settings. */
static const char *const not_params[] = {"model", "messages", "stream",
                                         "stream_options", "n", NULL};

/* Any role; "developer" is what newer clients call the system message. */
static const char *oa_role(const char *role)
{
  return role && strcmp(role, "developer") == 0 ? "system" : role;
}

static const pc__sim_msg_rules oa_messages = {
  .open = "messages[",
  .close = "]",
  .parts = 1,
  .role = oa_role,
  .refused = "expected a string",
};

static int oa_parse(const pc__sim_headers *h, const char *served,
                    pc__sim_req *req, pc__sim_fail *f)
{
  struct json_object *v;
  double num;
  int rc = PC_OK;

  (void)h;
  (void)served;
  if ((rc = pc__sim_read_model(req, "you must provide a model parameter", 0,
                               f)) ||
      (rc = pc__sim_read_messages(req, &oa_messages, f)) ||
      (rc = pc__sim_read_stream(req, "stream: expected a boolean", f)))
    return rc;
  v = pc_json_member(pc_json_member(req->body, "stream_options"),
                     "include_usage");
  req->include_usage = v && json_object_get_boolean(v);
  req->n = 1;
  switch (pc__sim_number(req->body, "n", &num)) {
  case -1:
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "n: expected an integer");
  case 1:
    if (num < 1 || num > PC__SIM_MAX_CHOICES || num != (double)(int)num)
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "n: expected an integer from 1 to %d",
                              PC__SIM_MAX_CHOICES);
    req->n = (uint32_t)num;
    break;
  default:
    break;
  }
  if ((rc = pc__sim_read_number(req->body, "temperature", 0.0, 2.0,
                                "temperature: expected a number", NULL, f)))
    return rc;
  req->params = pc__sim_obj(&rc);
  pc__sim_copy_all(req->params, req->body, not_params, &rc);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

/* The members every chunk and response start with. */
static struct json_object *head(const pc__sim_answer *a, const char *object,
                                int *rc)
{
  struct json_object *o = pc__sim_obj(rc);
  char id[64];

  snprintf(id, sizeof(id), "chatcmpl-%s", a->id);
  pc__sim_put_str(o, "id", id, rc);
  pc__sim_put_str(o, "object", object, rc);
  pc__sim_put_int(o, "created", a->created, rc);
  pc__sim_put_str(o, "model", a->model, rc);
  pc__sim_put_str(o, "system_fingerprint", a->fingerprint, rc);
  return o;
}

static struct json_object *usage(const pc__sim_answer *a, int *rc)
{
  struct json_object *u = pc__sim_obj(rc);

  pc__sim_put_int(u, "prompt_tokens", a->prompt_tokens, rc);
  pc__sim_put_int(u, "completion_tokens", a->completion_tokens, rc);
  pc__sim_put_int(u, "total_tokens",
                  a->prompt_tokens + a->completion_tokens, rc);
  return u;
}

static int whole(const pc__sim_answer *a, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o = head(a, "chat.completion", &rc);
  struct json_object *choices = pc__sim_arr(&rc);

  for (size_t i = 0; !rc && i < a->n; i++) {
    struct json_object *c = pc__sim_obj(&rc);
    struct json_object *m = pc__sim_obj(&rc);

    pc__sim_put_int(c, "index", (int64_t)i, &rc);
    pc__sim_put_str(m, "role", "assistant", &rc);
    pc__sim_put_strn(m, "content", a->texts[i], a->lens[i], &rc);
    pc__sim_put_null(m, "refusal", &rc);
    pc__sim_put(c, "message", m, &rc);
    pc__sim_put_null(c, "logprobs", &rc);
    pc__sim_put_str(c, "finish_reason", "stop", &rc);
    pc__sim_push(choices, c, &rc);
  }
  pc__sim_put(o, "choices", choices, &rc);
  pc__sim_put(o, "usage", usage(a, &rc), &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL, o, rc);
}

/* One chunk with one choice: a delta (role and/or content) or, with
 * `finish`, the empty delta that ends the choice. */
static int chunk(const pc__sim_req *req, const pc__sim_answer *a,
                 size_t index, const char *role, const char *text,
                 size_t len, int finish, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o = head(a, "chat.completion.chunk", &rc);
  struct json_object *choices = pc__sim_arr(&rc);
  struct json_object *c = pc__sim_obj(&rc);
  struct json_object *d = pc__sim_obj(&rc);

  if (role)
    pc__sim_put_str(d, "role", role, &rc);
  if (text)
    pc__sim_put_strn(d, "content", text, len, &rc);
  pc__sim_put_int(c, "index", (int64_t)index, &rc);
  pc__sim_put(c, "delta", d, &rc);
  pc__sim_put_null(c, "logprobs", &rc);
  if (finish)
    pc__sim_put_str(c, "finish_reason", "stop", &rc);
  else
    pc__sim_put_null(c, "finish_reason", &rc);
  pc__sim_push(choices, c, &rc);
  pc__sim_put(o, "choices", choices, &rc);
  if (req->include_usage)
    pc__sim_put_null(o, "usage", &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_SSE, NULL, o, rc);
}

static int streamed(const pc__sim_req *req, const pc__sim_answer *a,
                    pc__sim_body *out)
{
  int rc = PC_OK;

  for (size_t i = 0; !rc && i < a->n; i++) {
    const char *t = a->texts[i];
    size_t left = a->lens[i];

    rc = chunk(req, a, i, "assistant", "", 0, 0, out);
    while (!rc && left > 0) {
      size_t p = pc__sim_piece(t, left);

      rc = chunk(req, a, i, NULL, t, p, 0, out);
      t += p;
      left -= p;
    }
    if (!rc)
      rc = chunk(req, a, i, NULL, NULL, 0, 1, out);
  }
  if (!rc && req->include_usage) {
    struct json_object *o = head(a, "chat.completion.chunk", &rc);

    pc__sim_put(o, "choices", pc__sim_arr(&rc), &rc);
    pc__sim_put(o, "usage", usage(a, &rc), &rc);
    rc = pc__sim_body_put(out, PC__SIM_PUT_SSE, NULL, o, rc);
  }
  if (!rc)
    rc = pc__sim_body_sse_raw(out, "[DONE]");
  return rc;
}

static int oa_reply(const pc__sim_req *req, const pc__sim_answer *a,
                    pc__sim_body *out)
{
  return req->stream ? streamed(req, a, out) : whole(a, out);
}

static int oa_error(const pc__sim_fail *f, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *e = pc__sim_obj(&rc);
  char msg[512];
  const char *type = "invalid_request_error", *code = NULL;
  const char *param = NULL;

  switch (f->kind) {
  case PC__SIM_FAIL_AUTH:
    snprintf(msg, sizeof(msg), "Incorrect API key provided.");
    code = "invalid_api_key";
    break;
  case PC__SIM_FAIL_CONTEXT:
    snprintf(msg, sizeof(msg), "This model's maximum context length is "
             "%lld tokens. However, your messages resulted in %lld tokens.",
             (long long)f->limit, (long long)f->tokens);
    code = "context_length_exceeded";
    param = "messages";
    break;
  case PC__SIM_FAIL_RATE:
    snprintf(msg, sizeof(msg), "Rate limit reached for requests "
             "(sim-server fault injection). Please try again later.");
    type = "requests";
    code = "rate_limit_exceeded";
    break;
  case PC__SIM_FAIL_500:
    snprintf(msg, sizeof(msg), "The server had an error while processing "
             "your request. Sorry about that!%s%s",
             f->message[0] ? " " : "", f->message);
    type = "server_error";
    break;
  case PC__SIM_FAIL_503:
    snprintf(msg, sizeof(msg), "The server is overloaded or not ready yet.");
    type = "server_error";
    break;
  case PC__SIM_FAIL_NOT_FOUND:
    snprintf(msg, sizeof(msg), "%s", f->message);
    code = "not_found";
    break;
  case PC__SIM_FAIL_TOO_LARGE:
    snprintf(msg, sizeof(msg), "The request body is too large.");
    code = "request_too_large";
    break;
  default:
    snprintf(msg, sizeof(msg), "%s", f->message);
    break;
  }
  pc__sim_put_str(e, "message", msg, &rc);
  pc__sim_put_str(e, "type", type, &rc);
  if (param)
    pc__sim_put_str(e, "param", param, &rc);
  else
    pc__sim_put_null(e, "param", &rc);
  if (code)
    pc__sim_put_str(e, "code", code, &rc);
  else
    pc__sim_put_null(e, "code", &rc);
  pc__sim_put(o, "error", e, &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL, o, rc);
}

const pc__sim_wire pc__sim_wire_openai = {
  .name = "openai",
  .api = PC__SIM_API_OPENAI,
  .id_header = "x-request-id",
  .id_prefix = "chatcmpl-",
  .key_in_x_api_key = 0,
  .parse = oa_parse,
  .reply = oa_reply,
  .error = oa_error,
};
