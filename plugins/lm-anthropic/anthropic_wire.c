/*
 * anthropic_wire.c - builds Messages API request bodies and reads its
 * replies, streams and errors (docs/providers-anthropic.md).
 */
#include <stdio.h>
#include <string.h>

#include "anthropic_wire.h"

#define WHO PC__AN_WHO

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                           */

static int oom(pc_error *err)
{
  return pc__lm_error(err, PC_E_NOMEM, WHO ": out of memory");
}

/* Set obj[key] = value, taking value over; NULL value is out of memory. */
static int put(const pc__lm_host *h, pc_json *obj, const char *key,
               pc_json *value)
{
  if (!value)
    return PC_E_NOMEM;
  return h->json->object_set(h->host->ctx, obj, key, value) ? PC_E_NOMEM
                                                             : PC_OK;
}

static pc_json *new_str(const pc__lm_host *h, const char *s, size_t len)
{
  return h->json->new_string(h->host->ctx, s, len);
}

/* The value of `key` in `o`, or NULL when absent or JSON null. */
static const pc_json *member(const pc__lm_host *h, const pc_json *o,
                             const char *key)
{
  const pc_json *v = o ? h->json->object_get(o, key) : NULL;

  return v && h->json->type(v) != PC_JSON_NULL ? v : NULL;
}

static void copy_str(char *dst, size_t cap, const char *s)
{
  snprintf(dst, cap, "%s", s ? s : "");
}

/* Does `hay` contain `needle`, ignoring ASCII case? */
static int contains_ci(const char *hay, const char *needle)
{
  size_t n = strlen(needle);

  for (; hay && *hay; hay++) {
    size_t i = 0;

    while (i < n && hay[i]) {
      char a = hay[i], b = needle[i];

      if (a >= 'A' && a <= 'Z')
        a = (char)(a - 'A' + 'a');
      if (a != b)
        break;
      i++;
    }
    if (i == n)
      return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

/* Copy params[key] into body[key] when present: a number (or an integer
 * when `integer`). */
static int put_number(const pc__lm_host *h, pc_json *body,
                      const pc_json *params, const char *key, int integer,
                      pc_error *err)
{
  const pc_json *v = member(h, params, key);
  int32_t t;

  if (!v)
    return PC_OK;
  t = h->json->type(v);
  if (t != PC_JSON_INT && (integer || t != PC_JSON_DOUBLE))
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.%s must be "
                        "%s", key, integer ? "an integer" : "a number");
  if (put(h, body, key, h->json->copy(h->host->ctx, v)))
    return oom(err);
  return PC_OK;
}

/* "stop": a string or an array of strings, sent as an array. */
static int put_stop(const pc__lm_host *h, pc_json *body,
                    const pc_json *params, pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *v = member(h, params, "stop");
  pc_json *arr;
  size_t i, n;

  if (!v)
    return PC_OK;
  if (js->type(v) == PC_JSON_STRING) {
    size_t len = 0;
    const char *s = js->get_string(v, &len);

    arr = js->new_array(h->host->ctx);
    if (!arr || js->array_append(h->host->ctx, arr, new_str(h, s, len))) {
      js->free(h->host->ctx, arr);
      return oom(err);
    }
  } else {
    if (js->type(v) != PC_JSON_ARRAY)
      goto bad;
    n = js->array_len(v);
    for (i = 0; i < n; i++)
      if (js->type(js->array_get(v, i)) != PC_JSON_STRING)
        goto bad;
    arr = js->copy(h->host->ctx, v);
  }
  if (put(h, body, "stop_sequences", arr))
    return oom(err);
  return PC_OK;

bad:
  return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.stop must be a "
                      "string or an array of strings");
}

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
  if (!body || put(h, body, "model", new_str(h, o->model, strlen(o->model))))
    goto nomem;
  if (join_system(req, &sys, &found))
    goto nomem;
  if (found && put(h, body, "system", new_str(h, sys.data ? sys.data : "",
                                               sys.len)))
    goto nomem;
  if (put(h, body, "messages", pc__lm_messages_json(h, req, skip)))
    goto nomem;
  /* The API requires max_tokens: the call's own wins over the default. */
  v = member(h, params, "max_tokens");
  if (v && (js->type(v) != PC_JSON_INT || js->get_int(v) < 1)) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.max_tokens must "
                      "be an integer >= 1");
    goto out;
  }
  if (put(h, body, "max_tokens",
          js->new_int(ctx, v ? js->get_int(v) : o->max_tokens)))
    goto nomem;
  if ((rc = put_number(h, body, params, "temperature", 0, err)) ||
      (rc = put_number(h, body, params, "top_p", 0, err)) ||
      (rc = put_number(h, body, params, "top_k", 1, err)) ||
      (rc = put_stop(h, body, params, err)))
    goto out;
  if (o->stream && put(h, body, "stream", js->new_bool(ctx, 1)))
    goto nomem;
  if (js->to_text(ctx, body, PC_JSON_TEXT_COMPACT, out, len))
    goto nomem;
  rc = PC_OK;
  goto out;

nomem:
  rc = oom(err);
out:
  pc__lm_buf_free(&sys);
  js->free(ctx, body);
  if (rc) {
    *out = NULL;
    *len = 0;
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Replies.                                                                 */

void pc__an_result_init(pc__an_result *r, const pc__lm_host *h)
{
  memset(r, 0, sizeof(*r));
  pc__lm_buf_init(&r->text, h);
  r->input_tokens = -1;
  r->output_tokens = -1;
}

void pc__an_result_free(pc__an_result *r)
{
  pc__lm_buf_free(&r->text);
}

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
    if (message && (contains_ci(message, "too long") ||
                    contains_ci(message, "context length") ||
                    contains_ci(message, "maximum context") ||
                    contains_ci(message, "context_length_exceeded")))
      return PC_E_CONTEXT_LENGTH;
    return PC_E_INVALID_ARG;
  }
  /* overloaded_error, api_error and anything new: the server's trouble. */
  return PC_E_PROVIDER;
}

/* An {"type": "error", "error": {"type", "message"}} object as a failure. */
static int error_object(const pc__lm_host *h, const pc_json *o,
                        const char *where, pc_error *err)
{
  const pc_json *e = member(h, o, "error");
  const char *type = pc__lm_str(h, e, "type");
  const char *msg = pc__lm_str(h, e, "message");

  return pc__lm_error(err, pc__an_error_code(type, msg), WHO ": %s: %s: %s",
                      where, type ? type : "error",
                      msg ? msg : "(no message)");
}

/* Read "usage" counts that are present. */
static void read_usage(const pc__lm_host *h, const pc_json *usage,
                       pc__an_result *r)
{
  const pc_json *v;

  if ((v = member(h, usage, "input_tokens")) &&
      h->json->type(v) == PC_JSON_INT)
    r->input_tokens = h->json->get_int(v);
  if ((v = member(h, usage, "output_tokens")) &&
      h->json->type(v) == PC_JSON_INT)
    r->output_tokens = h->json->get_int(v);
}

/* Append the text of a "text" content block (ignore other kinds). */
static int add_text_block(const pc__lm_host *h, const pc_json *block,
                          pc__an_result *r)
{
  const char *type = pc__lm_str(h, block, "type");
  const pc_json *t = member(h, block, "text");
  const char *s;
  size_t len = 0;

  if (!type || strcmp(type, "text") || !t ||
      h->json->type(t) != PC_JSON_STRING)
    return PC_OK;
  s = h->json->get_string(t, &len);
  return len ? pc__lm_buf_put(&r->text, s, len) : PC_OK;
}

int pc__an_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__an_result *r, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_json *o = NULL;
  const pc_json *content;
  pc_error perr = PC_ERROR_INIT;
  const char *type;
  size_t i, n;
  int rc;

  if (js->parse(h->host->ctx, body ? body : "", len, PC_JSON_PARSE_STRICT,
                &o, &perr) || js->type(o) != PC_JSON_OBJECT) {
    rc = perr.code == PC_E_NOMEM
      ? oom(err)
      : pc__lm_error(err, PC_E_PROVIDER, WHO ": the reply is not a JSON "
                     "object");
    goto out;
  }
  type = pc__lm_str(h, o, "type");
  if (type && !strcmp(type, "error")) {
    rc = error_object(h, o, "reply", err);
    goto out;
  }
  content = member(h, o, "content");
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
  read_usage(h, member(h, o, "usage"), r);
  copy_str(r->model, sizeof(r->model), pc__lm_str(h, o, "model"));
  copy_str(r->id, sizeof(r->id), pc__lm_str(h, o, "id"));
  copy_str(r->stop_reason, sizeof(r->stop_reason),
           pc__lm_str(h, o, "stop_reason"));
  rc = PC_OK;

out:
  js->free(h->host->ctx, o);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Streams.                                                                 */

void pc__an_stream_init(pc__an_stream *s, const pc__lm_host *h,
                        pc__an_result *r, pc__an_delta_fn on_delta,
                        void *delta_ctx, pc_error *err)
{
  memset(s, 0, sizeof(*s));
  s->h = h;
  s->r = r;
  s->on_delta = on_delta;
  s->delta_ctx = delta_ctx;
  s->err = err;
  pc__lm_buf_init(&s->event, h);
  pc__lm_buf_init(&s->data, h);
  pc__lm_buf_init(&s->raw, h);
}

void pc__an_stream_free(pc__an_stream *s)
{
  pc__lm_buf_free(&s->event);
  pc__lm_buf_free(&s->data);
  pc__lm_buf_free(&s->raw);
}

/* A piece of text: keep it and pass it on. */
static int stream_text(pc__an_stream *s, const pc_json *t)
{
  const char *text;
  size_t len = 0;
  int rc;

  if (!t || s->h->json->type(t) != PC_JSON_STRING)
    return PC_OK;
  text = s->h->json->get_string(t, &len);
  if (!len)
    return PC_OK;
  if (pc__lm_buf_put(&s->r->text, text, len))
    return oom(s->err);
  if (s->on_delta && (rc = s->on_delta(s->delta_ctx, text, len)))
    return pc__lm_refused(s->err, WHO, rc, "streamed text");
  return PC_OK;
}

/* One event, whose data is the JSON object `o`. */
static int stream_event(pc__an_stream *s, const char *type, const pc_json *o)
{
  const pc__lm_host *h = s->h;
  const pc_json *m, *d;

  if (!strcmp(type, "message_start")) {
    m = member(h, o, "message");
    copy_str(s->r->model, sizeof(s->r->model), pc__lm_str(h, m, "model"));
    copy_str(s->r->id, sizeof(s->r->id), pc__lm_str(h, m, "id"));
    read_usage(h, member(h, m, "usage"), s->r);
  } else if (!strcmp(type, "content_block_start")) {
    d = member(h, o, "content_block");
    if (pc__lm_str(h, d, "type") && !strcmp(pc__lm_str(h, d, "type"),
                                            "text"))
      return stream_text(s, member(h, d, "text"));
  } else if (!strcmp(type, "content_block_delta")) {
    d = member(h, o, "delta");
    if (pc__lm_str(h, d, "type") && !strcmp(pc__lm_str(h, d, "type"),
                                            "text_delta"))
      return stream_text(s, member(h, d, "text"));
  } else if (!strcmp(type, "message_delta")) {
    d = member(h, o, "delta");
    if (pc__lm_str(h, d, "stop_reason"))
      copy_str(s->r->stop_reason, sizeof(s->r->stop_reason),
               pc__lm_str(h, d, "stop_reason"));
    /* The counts of message_delta are cumulative: they replace. */
    read_usage(h, member(h, o, "usage"), s->r);
  } else if (!strcmp(type, "message_stop")) {
    s->stopped = 1;
  } else if (!strcmp(type, "error")) {
    return error_object(h, o, "stream error", s->err);
  }
  /* ping, content_block_stop and event types added later: nothing. */
  return PC_OK;
}

/* The blank line after an event: act on it and start the next one. */
static int stream_dispatch(pc__an_stream *s)
{
  const pc_json_api *js = s->h->json;
  pc_json *o = NULL;
  pc_error perr = PC_ERROR_INIT;
  const char *type;
  int rc = PC_OK;

  if (!s->has_data)
    goto out;
  if (js->parse(s->h->host->ctx, s->data.data, s->data.len,
                PC_JSON_PARSE_STRICT, &o, &perr) ||
      js->type(o) != PC_JSON_OBJECT) {
    rc = perr.code == PC_E_NOMEM
      ? oom(s->err)
      : pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: the data of "
                     "event \"%.40s\" is not a JSON object",
                     s->event.len ? s->event.data : "message");
    goto out;
  }
  /* The data names its own type; the event line is the fallback. */
  type = pc__lm_str(s->h, o, "type");
  if (!type)
    type = s->event.len ? s->event.data : "";
  if (!s->stopped)
    rc = stream_event(s, type, o);

out:
  js->free(s->h->host->ctx, o);
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

  if (s->rc)
    return s->rc;
  if (len == 0)
    return s->rc = stream_dispatch(s);
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
      return s->rc = oom(s->err);
    s->has_data = 1;
  } else if (!s->events) {
    /* Perhaps no stream at all: keep it in case it is a whole reply. */
    if (pc__lm_buf_put(&s->raw, line, len) ||
        pc__lm_buf_put(&s->raw, "\n", 1))
      return s->rc = oom(s->err);
    return PC_OK;
  } else {
    return PC_OK;  /* id:, retry: and unknown fields */
  }
  s->events = 1;
  if (pc__lm_buf_put(dst, value, vlen))
    return s->rc = oom(s->err);
  return PC_OK;
}

int pc__an_stream_end(pc__an_stream *s)
{
  if (s->rc)
    return s->rc;
  if ((s->rc = stream_dispatch(s)))
    return s->rc;
  if (!s->events && s->raw.len) {
    /* The server answered with a plain reply: read it as one. */
    if ((s->rc = pc__an_reply_parse(s->h, s->raw.data, s->raw.len, s->r,
                                    s->err)))
      return s->rc;
    if (s->r->text.len && s->on_delta &&
        (s->rc = s->on_delta(s->delta_ctx, s->r->text.data,
                             s->r->text.len)))
      return s->rc = pc__lm_refused(s->err, WHO, s->rc, "streamed text");
    return PC_OK;
  }
  if (!s->stopped)
    s->rc = pc__lm_error(s->err, PC_E_PROVIDER, WHO ": the stream ended "
                         "before message_stop");
  return s->rc;
}
