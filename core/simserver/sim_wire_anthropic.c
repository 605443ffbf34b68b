/* sim_wire_anthropic.c - the Anthropic Messages wire format of the
 * sim-server: POST /v1/messages, whole or streamed (SSE with events). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "sim_internal.h"

/* Request members that are not call settings. */
static const char *const not_params[] = {"model", "messages", "system",
                                         "stream", NULL};

/* Only user and assistant turns: the system text has its own member. */
static const char *an_role(const char *role)
{
  if (role && (strcmp(role, "user") == 0 || strcmp(role, "assistant") == 0))
    return role;
  return NULL;
}

static const pc__sim_msg_rules an_messages = {
  .open = "messages.",
  .close = "",
  .parts = 1,
  .role = an_role,
  .refused = "Input should be 'user' or 'assistant'",
};

static int an_parse(const pc__sim_headers *h, const char *served,
                    pc__sim_req *req, pc__sim_fail *f)
{
  struct json_object *v;
  double num;
  int rc = PC_OK;

  (void)served;
  if (!h->anthropic_version || !*h->anthropic_version)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "anthropic-version: header is required");
  if ((rc = pc__sim_read_model(req, "model: Field required", 0, f)))
    return rc;
  switch (pc__sim_number(req->body, "max_tokens", &num)) {
  case 0:
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "max_tokens: Field required");
  case -1:
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "max_tokens: Input should be a valid integer");
  default:
    if (num < 1 || num > 1e15 || num != (double)(long long)num)
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "max_tokens: expected an integer >= 1");
    break;
  }
  if ((rc = pc__sim_read_number(req->body, "temperature", 0.0, 1.0,
                                "temperature: Input should be a valid "
                                "number", NULL, f)))
    return rc;
  /* The system text goes first, as the sim's system message. */
  if (json_object_object_get_ex(req->body, "system", &v) && v) {
    char *text;
    size_t len;

    rc = pc__sim_text_content(v, "system", &text, &len, f);
    if (rc)
      return rc;
    if (pc__sim_msgs_add(&req->msgs, "system", text, len))
      return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  }
  if ((rc = pc__sim_read_messages(req, &an_messages, f)) ||
      (rc = pc__sim_read_stream(req, "stream: Input should be a valid "
                                "boolean", f)))
    return rc;
  req->n = 1;
  req->params = pc__sim_obj(&rc);
  pc__sim_copy_all(req->params, req->body, not_params, &rc);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

static struct json_object *usage(int64_t in, int64_t out, int *rc)
{
  struct json_object *u = pc__sim_obj(rc);

  pc__sim_put_int(u, "input_tokens", in, rc);
  pc__sim_put_int(u, "output_tokens", out, rc);
  return u;
}

/* The message object; `done` fills content, stop_reason and usage, else
 * it is the empty start of a stream. */
static struct json_object *message(const pc__sim_answer *a, int done,
                                   int *rc)
{
  struct json_object *o = pc__sim_obj(rc);
  struct json_object *content = pc__sim_arr(rc);
  char id[64];

  snprintf(id, sizeof(id), "msg_%s", a->id);
  pc__sim_put_str(o, "id", id, rc);
  pc__sim_put_str(o, "type", "message", rc);
  pc__sim_put_str(o, "role", "assistant", rc);
  pc__sim_put_str(o, "model", a->model, rc);
  if (done) {
    struct json_object *block = pc__sim_obj(rc);

    pc__sim_put_str(block, "type", "text", rc);
    pc__sim_put_strn(block, "text", a->texts[0], a->lens[0], rc);
    pc__sim_push(content, block, rc);
  }
  pc__sim_put(o, "content", content, rc);
  if (done)
    pc__sim_put_str(o, "stop_reason", "end_turn", rc);
  else
    pc__sim_put_null(o, "stop_reason", rc);
  pc__sim_put_null(o, "stop_sequence", rc);
  pc__sim_put(o, "usage", usage(a->prompt_tokens,
                                done ? a->completion_tokens : 1, rc), rc);
  return o;
}

/* Append one event {"type": TYPE, ...}; `extra` (taken over) supplies
 * the other members, NULL for none. */
static int event(pc__sim_body *out, const char *type,
                 struct json_object *extra, int *rc)
{
  struct json_object *o = pc__sim_obj(rc);

  pc__sim_put_str(o, "type", type, rc);
  if (extra)
    pc__sim_copy_all(o, extra, NULL, rc);
  json_object_put(extra);
  return *rc = pc__sim_body_put(out, PC__SIM_PUT_SSE, type, o, *rc);
}

static int streamed(const pc__sim_answer *a, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *x;
  const char *t = a->texts[0];
  size_t left = a->lens[0];

  x = pc__sim_obj(&rc);
  pc__sim_put(x, "message", message(a, 0, &rc), &rc);
  event(out, "message_start", x, &rc);

  x = pc__sim_obj(&rc);
  pc__sim_put_int(x, "index", 0, &rc);
  {
    struct json_object *block = pc__sim_obj(&rc);

    pc__sim_put_str(block, "type", "text", &rc);
    pc__sim_put_str(block, "text", "", &rc);
    pc__sim_put(x, "content_block", block, &rc);
  }
  event(out, "content_block_start", x, &rc);
  event(out, "ping", NULL, &rc);
  while (!rc && left > 0) {
    size_t p = pc__sim_piece(t, left);
    struct json_object *d;

    x = pc__sim_obj(&rc);
    d = pc__sim_obj(&rc);
    pc__sim_put_int(x, "index", 0, &rc);
    pc__sim_put_str(d, "type", "text_delta", &rc);
    pc__sim_put_strn(d, "text", t, p, &rc);
    pc__sim_put(x, "delta", d, &rc);
    event(out, "content_block_delta", x, &rc);
    t += p;
    left -= p;
  }
  x = pc__sim_obj(&rc);
  pc__sim_put_int(x, "index", 0, &rc);
  event(out, "content_block_stop", x, &rc);

  x = pc__sim_obj(&rc);
  {
    struct json_object *d = pc__sim_obj(&rc);
    struct json_object *u = pc__sim_obj(&rc);

    pc__sim_put_str(d, "stop_reason", "end_turn", &rc);
    pc__sim_put_null(d, "stop_sequence", &rc);
    pc__sim_put(x, "delta", d, &rc);
    pc__sim_put_int(u, "output_tokens", a->completion_tokens, &rc);
    pc__sim_put(x, "usage", u, &rc);
  }
  event(out, "message_delta", x, &rc);
  event(out, "message_stop", NULL, &rc);
  return rc;
}

static int an_reply(const pc__sim_req *req, const pc__sim_answer *a,
                    pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o;

  if (req->stream)
    return streamed(a, out);
  o = message(a, 1, &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL, o, rc);
}

static int an_error(const pc__sim_fail *f, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *e = pc__sim_obj(&rc);
  char msg[512];
  const char *type = "invalid_request_error";

  switch (f->kind) {
  case PC__SIM_FAIL_AUTH:
    type = "authentication_error";
    snprintf(msg, sizeof(msg), "invalid x-api-key");
    break;
  case PC__SIM_FAIL_CONTEXT:
    snprintf(msg, sizeof(msg), "prompt is too long: %lld tokens > %lld "
             "maximum", (long long)f->tokens, (long long)f->limit);
    break;
  case PC__SIM_FAIL_RATE:
    type = "rate_limit_error";
    snprintf(msg, sizeof(msg), "Number of requests has exceeded your rate "
             "limit (sim-server fault injection).");
    break;
  case PC__SIM_FAIL_500:
    type = "api_error";
    snprintf(msg, sizeof(msg), "Internal server error%s%s",
             f->message[0] ? ": " : "", f->message);
    break;
  case PC__SIM_FAIL_503:
    type = "overloaded_error";
    snprintf(msg, sizeof(msg), "Overloaded");
    break;
  case PC__SIM_FAIL_NOT_FOUND:
    type = "not_found_error";
    snprintf(msg, sizeof(msg), "%s", f->message);
    break;
  case PC__SIM_FAIL_TOO_LARGE:
    type = "request_too_large";
    snprintf(msg, sizeof(msg), "Request exceeds the maximum allowed size.");
    break;
  default:
    snprintf(msg, sizeof(msg), "%s", f->message);
    break;
  }
  pc__sim_put_str(o, "type", "error", &rc);
  pc__sim_put_str(e, "type", type, &rc);
  pc__sim_put_str(e, "message", msg, &rc);
  pc__sim_put(o, "error", e, &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL, o, rc);
}

const pc__sim_wire pc__sim_wire_anthropic = {
  .name = "anthropic",
  .api = PC__SIM_API_ANTHROPIC,
  .id_header = "request-id",
  .id_prefix = "msg_",
  .key_in_x_api_key = 1,
  .parse = an_parse,
  .reply = an_reply,
  .error = an_error,
};
