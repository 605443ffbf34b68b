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

static int is_param(const char *key)
{
  for (size_t i = 0; not_params[i]; i++)
    if (strcmp(key, not_params[i]) == 0)
      return 0;
  return 1;
}

static int oa_parse(const pc__sim_headers *h, const char *served,
                    pc__sim_req *req, pc__sim_fail *f)
{
  struct json_object *body = req->body, *msgs, *v;
  double num;
  size_t n;
  int rc = PC_OK;

  (void)h;
  (void)served;
  if (!json_object_is_type(body, json_type_object))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "the request body must be a JSON object");
  req->model = pc_json_str(body, "model");
  if (!req->model)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "you must provide a model parameter");
  msgs = pc_json_member(body, "messages");
  if (!json_object_is_type(msgs, json_type_array) ||
      json_object_array_length(msgs) == 0)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "messages: expected a non-empty array");
  n = json_object_array_length(msgs);
  for (size_t i = 0; i < n; i++) {
    struct json_object *m = json_object_array_get_idx(msgs, i);
    const char *role = pc_json_str(m, "role");
    char where[48], *text;
    size_t len;

    if (!role)
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "messages[%zu].role: expected a string", i);
    snprintf(where, sizeof(where), "messages[%zu].content", i);
    rc = pc__sim_text_content(pc_json_member(m, "content"), where, &text,
                              &len, f);
    if (rc)
      return rc;
    /* "developer" is what newer clients call the system message. */
    if (strcmp(role, "developer") == 0)
      role = "system";
    if (pc__sim_msgs_add(&req->msgs, role, text, len))
      return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  }
  if (json_object_object_get_ex(body, "stream", &v) && v) {
    if (!json_object_is_type(v, json_type_boolean))
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "stream: expected a boolean");
    req->stream = json_object_get_boolean(v);
  }
  v = pc_json_member(pc_json_member(body, "stream_options"),
                     "include_usage");
  req->include_usage = v && json_object_get_boolean(v);
  req->n = 1;
  switch (pc__sim_number(body, "n", &num)) {
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
  switch (pc__sim_number(body, "temperature", &num)) {
  case -1:
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "temperature: expected a number");
  case 1:
    if (!(num >= 0.0 && num <= 2.0))
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "temperature: %g is not from 0 to 2", num);
    break;
  default:
    break;
  }
  req->params = pc__sim_obj(&rc);
  json_object_object_foreach(body, key, val) {
    (void)val;
    if (is_param(key))
      pc__sim_copy(req->params, body, key, &rc);
  }
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
  if (!rc)
    rc = pc__sim_body_json(out, o);
  json_object_put(o);
  return rc;
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
  if (!rc)
    rc = pc__sim_body_sse(out, NULL, o);
  json_object_put(o);
  return rc;
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
    if (!rc)
      rc = pc__sim_body_sse(out, NULL, o);
    json_object_put(o);
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
  if (!rc)
    rc = pc__sim_body_json(out, o);
  json_object_put(o);
  return rc;
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
