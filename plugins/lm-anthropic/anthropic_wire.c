/*
 * anthropic_wire.c - builds Messages API request bodies and reads its
 * replies, streams and errors (docs/providers-anthropic.md).
 */
#include <stdio.h>
#include <string.h>

#include "anthropic_wire.h"

#define WHO PC__AN_WHO

static int oom(pc_error *err)
{
  return pc__lm_nomem(err, WHO);
}

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

/* The text of every "system" message, joined by a blank line, into `b`.
 * Sets *found when there was one. */
static int join_system(const pc_lm_request *req, pc__lm_buf *b, int *found)
{
  uint64_t i;

  *found = 0;
  for (i = 0; i < req->n_messages; i++) {
    const pc_message *m = (const pc_message *)(const void *)
      ((const char *)req->messages + i * req->message_size);

    if (!m->role || strcmp(m->role, "system"))
      continue;
    if ((*found && pc__lm_buf_put(b, "\n\n", 2)) ||
        (m->content_len &&
         pc__lm_buf_put(b, m->content, (size_t)m->content_len)))
      return PC_E_NOMEM;
    *found = 1;
  }
  return PC_OK;
}

int pc__an_body(const pc__lm_host *h, const pc__an_opts *o,
                const pc_lm_request *req, const pc_json *params,
                char **out, size_t *len, pc_error *err)
{
  static const char *const skip[] = {"system", NULL};
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *body = js->new_object(ctx);
  const pc_json *v;
  pc__lm_buf sys;
  int found = 0, rc;

  *out = NULL;
  *len = 0;
  pc__lm_buf_init(&sys, h);
  if (!body || pc__lm_put_str(h, body, "model", o->model))
    goto nomem;
  if (join_system(req, &sys, &found))
    goto nomem;
  if (found && pc__lm_put(h, body, "system",
                          js->new_string(ctx, sys.data, sys.len)))
    goto nomem;
  if (pc__lm_put(h, body, "messages", pc__lm_messages_json(h, req, skip)))
    goto nomem;
  /* The API requires max_tokens: the call's own wins over the default. */
  v = pc__lm_member(h, params, "max_tokens");
  if (v && (js->type(v) != PC_JSON_INT || js->get_int(v) < 1)) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.max_tokens must "
                      "be an integer >= 1");
    goto out;
  }
  if (pc__lm_put(h, body, "max_tokens",
                 js->new_int(ctx, v ? js->get_int(v) : o->max_tokens)))
    goto nomem;
  if ((rc = pc__lm_put_number(h, WHO, body, params, "temperature",
                              "temperature", 0, err)) ||
      (rc = pc__lm_put_number(h, WHO, body, params, "top_p", "top_p", 0,
                              err)) ||
      (rc = pc__lm_put_number(h, WHO, body, params, "top_k", "top_k", 1,
                              err)) ||
      (rc = pc__lm_put_stop(h, WHO, body, params, "stop_sequences", err)))
    goto out;
  if (o->stream && pc__lm_put(h, body, "stream", js->new_bool(ctx, 1)))
    goto nomem;
  rc = pc__lm_json_text(h, WHO, body, out, len, err);
  goto out;

nomem:
  rc = oom(err);
out:
  pc__lm_buf_free(&sys);
  js->free(ctx, body);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Replies.                                                                 */

int pc__an_error_code(const char *type, const char *message)
{
  if (!type)
    return PC_E_PROVIDER;
  if (!strcmp(type, "rate_limit_error"))
    return PC_E_RATE_LIMITED;
  if (!strcmp(type, "authentication_error") ||
      !strcmp(type, "permission_error"))
    return PC_E_AUTH;
  if (!strcmp(type, "timeout_error"))
    return PC_E_TIMEOUT;
  if (!strcmp(type, "invalid_request_error") ||
      !strcmp(type, "not_found_error") ||
      !strcmp(type, "request_too_large")) {
    return pc__lm_says_too_long(message) ? PC_E_CONTEXT_LENGTH
                                         : PC_E_INVALID_ARG;
  }
  /* overloaded_error, api_error and anything new: the server's trouble. */
  return PC_E_PROVIDER;
}

/* An {"type": "error", "error": {"type", "message"}} object as a failure. */
static int error_object(const pc__lm_host *h, const pc_json *o,
                        const char *where, pc_error *err)
{
  const pc_json *e = pc__lm_member(h, o, "error");
  const char *type = pc__lm_str(h, e, "type");
  const char *msg = pc__lm_str(h, e, "message");

  return pc__lm_error(err, pc__an_error_code(type, msg), WHO ": %s: %s: %s",
                      where, type ? type : "error",
                      msg ? msg : "(no message)");
}

/* Read "usage" counts that are present. */
static void read_usage(const pc__lm_host *h, const pc_json *usage,
                       pc__lm_result *r)
{
  const pc_json *v;

  if ((v = pc__lm_member(h, usage, "input_tokens")) &&
      h->json->type(v) == PC_JSON_INT)
    r->prompt_tokens = h->json->get_int(v);
  if ((v = pc__lm_member(h, usage, "output_tokens")) &&
      h->json->type(v) == PC_JSON_INT)
    r->completion_tokens = h->json->get_int(v);
}

/* Append the text of a "text" content block (ignore other kinds). */
static int add_text_block(const pc__lm_host *h, const pc_json *block,
                          pc__lm_result *r)
{
  const char *type = pc__lm_str(h, block, "type");
  const pc_json *t = pc__lm_member(h, block, "text");
  const char *s;
  size_t len = 0;

  if (!type || strcmp(type, "text") || !t ||
      h->json->type(t) != PC_JSON_STRING)
    return PC_OK;
  s = h->json->get_string(t, &len);
  return len ? pc__lm_buf_put(&r->text, s, len) : PC_OK;
}

int pc__an_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__lm_result *r, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_json *o = NULL;
  const pc_json *content;
  const char *type;
  size_t i, n;
  int rc;

  if ((rc = pc__lm_parse_object(h, WHO, "the reply", body, len, &o, err)))
    return rc;
  type = pc__lm_str(h, o, "type");
  if (type && !strcmp(type, "error")) {
    rc = error_object(h, o, "reply", err);
    goto out;
  }
  content = pc__lm_member(h, o, "content");
  if (!content || js->type(content) != PC_JSON_ARRAY) {
    rc = pc__lm_error(err, PC_E_PROVIDER, WHO ": the reply has no "
                      "\"content\" array");
    goto out;
  }
  n = js->array_len(content);
  for (i = 0; i < n; i++)
    if (add_text_block(h, js->array_get(content, i), r)) {
      rc = oom(err);
      goto out;
    }
  read_usage(h, pc__lm_member(h, o, "usage"), r);
  pc__lm_copy(r->model, sizeof(r->model), pc__lm_str(h, o, "model"));
  pc__lm_copy(r->id, sizeof(r->id), pc__lm_str(h, o, "id"));
  pc__lm_copy(r->finish, sizeof(r->finish), pc__lm_str(h, o, "stop_reason"));
  rc = PC_OK;

out:
  js->free(h->host->ctx, o);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Streams.                                                                 */

void pc__an_stream_init(void *s, const pc__lm_host *h, pc__lm_result *r,
                        pc__lm_delta_fn on_delta, void *delta_ctx,
                        pc_error *err)
{
  pc__an_stream *st = s;

  pc__lm_stream_init(st, sizeof(*st), h, r, on_delta, delta_ctx, err);
  pc__lm_buf_init(&st->event, h);
  pc__lm_buf_init(&st->data, h);
  pc__lm_buf_init(&st->raw, h);
}

void pc__an_stream_free(void *s)
{
  pc__an_stream *st = s;

  pc__lm_buf_free(&st->event);
  pc__lm_buf_free(&st->data);
  pc__lm_buf_free(&st->raw);
}

/* A piece of text, when `t` is a string: keep it and pass it on. */
static int stream_text(pc__an_stream *s, const pc_json *t)
{
  const pc__lm_stream *b = &s->base;
  const char *text;
  size_t len = 0;

  if (!t || b->h->json->type(t) != PC_JSON_STRING)
    return PC_OK;
  text = b->h->json->get_string(t, &len);
  return pc__lm_result_text(b->r, WHO, text, len, b->on_delta, b->delta_ctx,
                            b->err);
}

/* Whether the object `o` has the string member "type" equal to `type`. */
static int type_is(const pc__lm_host *h, const pc_json *o, const char *type)
{
  const char *t = pc__lm_str(h, o, "type");

  return t && !strcmp(t, type);
}

/* One event, whose data is the JSON object `o`. */
static int stream_event(pc__an_stream *s, const char *type, const pc_json *o)
{
  const pc__lm_host *h = s->base.h;
  pc__lm_result *r = s->base.r;
  const pc_json *m, *d;

  if (!strcmp(type, "message_start")) {
    m = pc__lm_member(h, o, "message");
    pc__lm_copy(r->model, sizeof(r->model), pc__lm_str(h, m, "model"));
    pc__lm_copy(r->id, sizeof(r->id), pc__lm_str(h, m, "id"));
    read_usage(h, pc__lm_member(h, m, "usage"), r);
  } else if (!strcmp(type, "content_block_start")) {
    d = pc__lm_member(h, o, "content_block");
    if (type_is(h, d, "text"))
      return stream_text(s, pc__lm_member(h, d, "text"));
  } else if (!strcmp(type, "content_block_delta")) {
    d = pc__lm_member(h, o, "delta");
    if (type_is(h, d, "text_delta"))
      return stream_text(s, pc__lm_member(h, d, "text"));
  } else if (!strcmp(type, "message_delta")) {
    d = pc__lm_member(h, o, "delta");
    if (pc__lm_str(h, d, "stop_reason"))
      pc__lm_copy(r->finish, sizeof(r->finish),
                  pc__lm_str(h, d, "stop_reason"));
    /* The counts of message_delta are cumulative: they replace. */
    read_usage(h, pc__lm_member(h, o, "usage"), r);
  } else if (!strcmp(type, "message_stop")) {
    r->done = 1;
  } else if (!strcmp(type, "error")) {
    return error_object(h, o, "stream error", s->base.err);
  }
  /* ping, content_block_stop and event types added later: nothing. */
  return PC_OK;
}

/* The blank line after an event: act on it and start the next one. */
static int stream_dispatch(pc__an_stream *s)
{
  const pc__lm_host *h = s->base.h;
  pc_json *o = NULL;
  char what[96];
  const char *type;
  int rc = PC_OK;

  if (!s->has_data)
    goto out;
  snprintf(what, sizeof(what), "stream: the data of event \"%.40s\"",
           s->event.len ? s->event.data : "message");
  if ((rc = pc__lm_parse_object(h, WHO, what, s->data.data, s->data.len, &o,
                                s->base.err)))
    goto out;
  /* The data names its own type; the event line is the fallback. */
  type = pc__lm_str(h, o, "type");
  if (!type)
    type = s->event.len ? s->event.data : "";
  if (!s->base.r->done)
    rc = stream_event(s, type, o);

out:
  h->json->free(h->host->ctx, o);
  s->event.len = 0;
  s->data.len = 0;
  s->has_data = 0;
  return rc;
}

int pc__an_stream_line(void *ctx, const char *line, size_t len)
{
  pc__an_stream *s = ctx;
  const char *colon, *value;
  size_t flen, vlen;
  pc__lm_buf *dst;

  if (s->base.rc)
    return s->base.rc;
  if (len == 0)
    return s->base.rc = stream_dispatch(s);
  if (line[0] == ':')
    return PC_OK;  /* an SSE comment */
  colon = memchr(line, ':', len);
  flen = colon ? (size_t)(colon - line) : len;
  value = colon ? colon + 1 : line + len;
  vlen = len - (size_t)(value - line);
  if (vlen && value[0] == ' ') {
    value++;
    vlen--;
  }
  if (flen == 5 && !memcmp(line, "event", 5)) {
    dst = &s->event;
    dst->len = 0;
  } else if (flen == 4 && !memcmp(line, "data", 4)) {
    dst = &s->data;
    if (s->has_data && pc__lm_buf_put(dst, "\n", 1))
      return s->base.rc = oom(s->base.err);
    s->has_data = 1;
  } else if (!s->events) {
    /* Perhaps no stream at all: keep it in case it is a whole reply. */
    if (pc__lm_buf_put(&s->raw, line, len) ||
        pc__lm_buf_put(&s->raw, "\n", 1))
      return s->base.rc = oom(s->base.err);
    return PC_OK;
  } else {
    return PC_OK;  /* id:, retry: and unknown fields */
  }
  s->events = 1;
  if (pc__lm_buf_put(dst, value, vlen))
    return s->base.rc = oom(s->base.err);
  return PC_OK;
}

int pc__an_stream_end(void *st)
{
  pc__an_stream *s = st;
  pc__lm_stream *b = &s->base;
  pc__lm_result *r = b->r;
  int rc;

  if (b->rc)
    return b->rc;
  if ((b->rc = stream_dispatch(s)))
    return b->rc;
  if (!s->events && s->raw.len) {
    /* The server answered with a plain reply: read it as one, then hand
     * its text on in one piece. */
    if ((b->rc = pc__an_reply_parse(b->h, s->raw.data, s->raw.len, r,
                                    b->err)))
      return b->rc;
    if (r->text.len && b->on_delta &&
        (rc = b->on_delta(b->delta_ctx, r->text.data, r->text.len)))
      return b->rc = pc__lm_refused(b->err, WHO, rc, "streamed text");
    return PC_OK;
  }
  if (!r->done)
    b->rc = pc__lm_error(b->err, PC_E_PROVIDER, WHO ": the stream ended "
                         "before message_stop");
  return b->rc;
}
