/*
 * openai_wire.c - the OpenAI Chat Completions wire format: request bodies,
 * whole responses and SSE streams (openai_wire.h).
 */
#include <string.h>

#include "openai_wire.h"

#define WHO PC__OAI_WHO

/* Members of params the provider sets itself. */
static const char *const own_members[] = {
  "model", "messages", "stream", "stream_options", NULL,
};

static int oom(pc_error *err)
{
  return pc__lm_nomem(err, WHO);
}

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

int pc__oai_body(const pc__lm_host *h, const char *model,
                 const pc_lm_request *req, int stream, char **out,
                 size_t *len, pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *body = NULL, *params = NULL, *msgs, *opts;
  size_t i, n, k;
  int rc;

  *out = NULL;
  *len = 0;
  rc = pc__lm_params(h, WHO, req, &params, err);
  if (rc)
    return rc;
  n = js->object_len(params);
  for (i = 0; i < n; i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(params, i, &key, &v))
      continue;
    for (k = 0; own_members[k]; k++)
      if (!strcmp(key, own_members[k])) {
        rc = pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params: \"%s\" is "
                          "set by the provider%s", key,
                          k >= 2 ? " (use the \"stream\" setting)" : "");
        goto out;
      }
  }
  body = js->new_object(ctx);
  if (!body || js->object_set(ctx, body, "model",
                              js->new_string(ctx, model, strlen(model))))
    goto nomem;
  msgs = pc__lm_messages_json(h, req, NULL);
  if (!msgs || js->object_set(ctx, body, "messages", msgs))
    goto nomem;
  for (i = 0; i < n; i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(params, i, &key, &v))
      continue;
    if (js->object_set(ctx, body, key, js->copy(ctx, v)))
      goto nomem;
  }
  if (stream) {
    opts = js->new_object(ctx);
    if (js->object_set(ctx, body, "stream", js->new_bool(ctx, 1)) || !opts ||
        js->object_set(ctx, opts, "include_usage", js->new_bool(ctx, 1)) ||
        js->object_set(ctx, body, "stream_options", opts))
      goto nomem;
  }
  rc = pc__lm_json_text(h, WHO, body, out, len, err);
  goto out;

nomem:
  rc = oom(err);
out:
  js->free(ctx, params);
  js->free(ctx, body);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* What parsing and streaming share.                                        */

/* An "error" member in a 2xx body or a stream chunk: mapped as an HTTP
 * failure of the status it names ("status", or a numeric "code"), else
 * PC_E_PROVIDER with its message. `where` is "response" or "stream". */
static int error_member(const pc__lm_host *h, const pc_json *e,
                        const char *text, size_t len, const char *where,
                        pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *v = NULL;
  const char *msg = NULL;
  char clean[PC__LM_MESSAGE_MAX + 1];
  pc__lm_reply reply;
  int64_t status = 0;
  int rc;

  if (js->type(e) == PC_JSON_OBJECT) {
    v = js->object_get(e, "status");
    if (!v || js->type(v) != PC_JSON_INT)
      v = js->object_get(e, "code");
    if (v && js->type(v) == PC_JSON_INT)
      status = js->get_int(v);
    msg = pc__lm_str(h, e, "message");
  } else if (js->type(e) == PC_JSON_STRING) {
    msg = js->get_string(e, NULL);
  }
  if (status >= 400 && status <= 599) {
    pc__lm_reply_init(&reply, h);
    reply.status = (int32_t)status;
    if (pc__lm_buf_put(&reply.body, text, len))
      rc = oom(err);
    else
      rc = pc__lm_status_error(h, WHO, &reply, err);
    pc__lm_reply_free(&reply);
    return rc;
  }
  pc__lm_clean(msg ? msg : "", msg ? strlen(msg) : 0, PC__LM_MESSAGE_MAX,
               clean, sizeof(clean));
  return pc__lm_error(err, PC_E_PROVIDER, WHO ": %s error: %s", where,
                      clean[0] ? clean : "(no message)");
}

static int refusal_error(const char *text, size_t len, pc_error *err)
{
  char clean[PC__LM_MESSAGE_MAX + 1];

  pc__lm_clean(text, len, PC__LM_MESSAGE_MAX, clean, sizeof(clean));
  return pc__lm_error(err, PC_E_PROVIDER, WHO ": the model refused: %s",
                      clean);
}

/* Usage (when any count is known), then the record, in a fixed order. */
static int send_tail(const pc_lm_sink *sink, int64_t prompt_tokens,
                     int64_t completion_tokens, const char *model,
                     const char *fingerprint, const char *request_id,
                     const char *finish, pc_error *err)
{
  int rc = pc__lm_send_usage(sink, WHO, prompt_tokens, completion_tokens,
                             err);

  return rc ? rc : pc__lm_send_record(sink, WHO, model, "system_fingerprint",
                                      fingerprint, request_id, finish, err);
}

/* A count from a usage object, -1 when absent. */
static int64_t usage_count(const pc__lm_host *h, const pc_json *usage,
                           const char *key)
{
  const pc_json *v = h->json->object_get(usage, key);

  return v && h->json->type(v) == PC_JSON_INT && h->json->get_int(v) >= 0
           ? h->json->get_int(v) : -1;
}

/* The choice index of a choice object: its "index", else `pos`; -1 when
 * it is not a usable index. */
static int64_t choice_index(const pc__lm_host *h, const pc_json *choice,
                            size_t pos)
{
  const pc_json *v = h->json->object_get(choice, "index");

  if (!v)
    return (int64_t)pos;
  if (h->json->type(v) != PC_JSON_INT || h->json->get_int(v) < 0 ||
      h->json->get_int(v) >= PC__OAI_MAX_CHOICES)
    return -1;
  return h->json->get_int(v);
}

/* ------------------------------------------------------------------------ */
/* A whole response.                                                        */

/*
 * The text of a message's content into `out`: a string, an array of parts
 * with "text" members (joined), or null / absent (""). *refusal is the
 * message's refusal text when the content is null or absent and there is
 * one. PC_E_PROVIDER for any other shape, PC_E_NOMEM.
 */
static int message_text(const pc__lm_host *h, const pc_json *msg,
                        pc__lm_buf *out, const char **refusal)
{
  const pc_json_api *js = h->json;
  const pc_json *c = js->object_get(msg, "content");
  const char *s;
  size_t i, n;

  *refusal = NULL;
  if (!c || js->type(c) == PC_JSON_NULL) {
    *refusal = pc__lm_str(h, msg, "refusal");
    return PC_OK;
  }
  if (js->type(c) == PC_JSON_STRING) {
    s = js->get_string(c, &n);
    return pc__lm_buf_put(out, s, n);
  }
  if (js->type(c) != PC_JSON_ARRAY)
    return PC_E_PROVIDER;
  for (i = 0; i < js->array_len(c); i++) {
    const pc_json *part = js->array_get(c, i);
    const pc_json *t = js->object_get(part, "text");

    if (!t || js->type(t) != PC_JSON_STRING)
      continue;
    s = js->get_string(t, &n);
    if (pc__lm_buf_put(out, s, n))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

/* One choice of a whole response: its index, message and text. */
static int read_choice(const pc__lm_host *h, const pc_json *choice,
                       size_t pos, int64_t *index, pc__lm_buf *text,
                       pc_error *err)
{
  const pc_json *msg = h->json->object_get(choice, "message");
  const char *refusal = NULL;
  int rc;

  *index = h->json->type(choice) == PC_JSON_OBJECT
             ? choice_index(h, choice, pos) : -1;
  if (*index < 0 || !msg || h->json->type(msg) != PC_JSON_OBJECT)
    return pc__lm_error(err, PC_E_PROVIDER, WHO ": response choice %zu is "
                        "malformed (no index or message)", pos);
  rc = message_text(h, msg, text, &refusal);
  if (rc == PC_E_NOMEM)
    return oom(err);
  if (rc)
    return pc__lm_error(err, PC_E_PROVIDER, WHO ": response choice %zu: "
                        "\"content\" is neither text nor parts", pos);
  if (refusal)
    return refusal_error(refusal, strlen(refusal), err);
  return PC_OK;
}

int pc__oai_parse(const pc__lm_host *h, const char *body, size_t len,
                  const char *request_id, const pc_lm_sink *sink,
                  pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error pe = PC_ERROR_INIT;
  pc_json *doc = NULL;
  const pc_json *choices, *e, *usage;
  const char *finish = NULL;
  pc__lm_buf text;
  int64_t index, pt = -1, ct = -1;
  size_t i, n;
  int rc = PC_OK;

  pc__lm_buf_init(&text, h);
  if (js->parse(h->host->ctx, body, len, PC_JSON_PARSE_STRICT, &doc, &pe)) {
    if (pe.code == PC_E_NOMEM)
      return oom(err);
    return pc__lm_error(err, PC_E_PROVIDER, WHO ": response is not valid "
                        "JSON (%s)", pe.message);
  }
  if (js->type(doc) != PC_JSON_OBJECT) {
    rc = pc__lm_error(err, PC_E_PROVIDER, WHO ": response is not a JSON "
                      "object");
    goto out;
  }
  e = js->object_get(doc, "error");
  if (e && js->type(e) != PC_JSON_NULL) {
    rc = error_member(h, e, body, len, "response", err);
    goto out;
  }
  choices = js->object_get(doc, "choices");
  n = choices && js->type(choices) == PC_JSON_ARRAY ? js->array_len(choices)
                                                    : 0;
  if (!n) {
    rc = pc__lm_error(err, PC_E_PROVIDER, WHO ": response has no choices");
    goto out;
  }
  /* Check every choice before the sink sees any. */
  for (i = 0; !rc && i < n; i++) {
    const pc_json *c = js->array_get(choices, i);

    pc__lm_buf_reset(&text);
    rc = read_choice(h, c, i, &index, &text, err);
    if (!rc && index == 0)
      finish = pc__lm_str(h, c, "finish_reason");
  }
  for (i = 0; !rc && i < n; i++) {
    pc__lm_buf_reset(&text);
    rc = read_choice(h, js->array_get(choices, i), i, &index, &text, err);
    if (!rc)
      rc = pc__lm_send_text(sink, WHO, (uint32_t)index, text.data,
                            text.len, err);
  }
  if (rc)
    goto out;
  usage = js->object_get(doc, "usage");
  if (usage && js->type(usage) == PC_JSON_OBJECT) {
    pt = usage_count(h, usage, "prompt_tokens");
    ct = usage_count(h, usage, "completion_tokens");
  }
  rc = send_tail(sink, pt, ct, pc__lm_str(h, doc, "model"),
                 pc__lm_str(h, doc, "system_fingerprint"),
                 request_id && *request_id ? request_id
                                           : pc__lm_str(h, doc, "id"),
                 finish, err);
out:
  pc__lm_buf_free(&text);
  js->free(h->host->ctx, doc);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* A streamed response.                                                     */

void pc__oai_stream_init(pc__oai_stream *s, const pc__lm_host *h,
                         const pc_lm_sink *sink, pc_error *err)
{
  memset(s, 0, sizeof(*s));
  s->h = h;
  s->sink = sink;
  s->err = err;
  pc__lm_buf_init(&s->model, h);
  pc__lm_buf_init(&s->fingerprint, h);
  pc__lm_buf_init(&s->id, h);
  pc__lm_buf_init(&s->raw, h);
  s->prompt_tokens = -1;
  s->completion_tokens = -1;
}

void pc__oai_stream_free(pc__oai_stream *s)
{
  size_t i;

  for (i = 0; i < s->n_choices; i++) {
    pc__lm_buf_free(&s->choices[i].text);
    pc__lm_buf_free(&s->choices[i].refusal);
    pc__lm_buf_free(&s->choices[i].finish);
  }
  if (s->choices)
    s->h->host->free(s->h->host->ctx, s->choices);
  s->choices = NULL;
  s->n_choices = 0;
  pc__lm_buf_free(&s->model);
  pc__lm_buf_free(&s->fingerprint);
  pc__lm_buf_free(&s->id);
  pc__lm_buf_free(&s->raw);
}

/* Make room for choices up to `index`. */
static int grow_choices(pc__oai_stream *s, size_t index)
{
  const pc_host_api *host = s->h->host;
  pc__oai_choice *p;
  size_t i;

  if (index < s->n_choices)
    return PC_OK;
  p = host->realloc(host->ctx, s->choices, (index + 1) * sizeof(*p));
  if (!p)
    return PC_E_NOMEM;
  for (i = s->n_choices; i <= index; i++) {
    pc__lm_buf_init(&p[i].text, s->h);
    pc__lm_buf_init(&p[i].refusal, s->h);
    pc__lm_buf_init(&p[i].finish, s->h);
  }
  s->choices = p;
  s->n_choices = index + 1;
  return PC_OK;
}

/* Replace the text of `b` with string member `key` of `o`, when it is a
 * non-empty string. */
static int keep_str(const pc__lm_host *h, const pc_json *o, const char *key,
                    pc__lm_buf *b)
{
  const char *s = pc__lm_str(h, o, key);

  if (!s || !*s)
    return PC_OK;
  pc__lm_buf_reset(b);
  return pc__lm_buf_puts(b, s);
}

/* One element of a chunk's "choices". */
static int stream_choice(pc__oai_stream *s, const pc_json *c, size_t pos)
{
  const pc__lm_host *h = s->h;
  const pc_json *delta;
  const char *piece;
  pc__oai_choice *ch;
  int64_t index;
  size_t n = 0;
  int rc;

  index = h->json->type(c) == PC_JSON_OBJECT ? choice_index(h, c, pos) : -1;
  if (index < 0)
    return pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: malformed "
                        "chunk (a choice without a usable index)");
  if (grow_choices(s, (size_t)index))
    return oom(s->err);
  ch = &s->choices[index];
  delta = h->json->object_get(c, "delta");
  if (delta && h->json->type(delta) == PC_JSON_OBJECT) {
    const pc_json *cv = h->json->object_get(delta, "content");

    piece = cv && h->json->type(cv) == PC_JSON_STRING
              ? h->json->get_string(cv, &n) : NULL;
    if (piece && n) {
      if (pc__lm_buf_put(&ch->text, piece, n))
        return oom(s->err);
      if (s->sink->delta &&
          (rc = s->sink->delta(s->sink->ctx, (uint32_t)index, piece, n)))
        return pc__lm_refused(s->err, WHO, rc, "text");
    }
    piece = pc__lm_str(h, delta, "refusal");
    if (piece && pc__lm_buf_puts(&ch->refusal, piece))
      return oom(s->err);
  }
  if (keep_str(h, c, "finish_reason", &ch->finish))
    return oom(s->err);
  return PC_OK;
}

/* One "data:" payload other than [DONE]. */
static int stream_chunk(pc__oai_stream *s, const char *p, size_t n)
{
  const pc__lm_host *h = s->h;
  const pc_json_api *js = h->json;
  pc_error pe = PC_ERROR_INIT;
  pc_json *doc = NULL;
  const pc_json *v;
  size_t i;
  int rc = PC_OK;

  if (js->parse(h->host->ctx, p, n, PC_JSON_PARSE_STRICT, &doc, &pe)) {
    if (pe.code == PC_E_NOMEM)
      return oom(s->err);
    return pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: malformed "
                        "chunk (%s)", pe.message);
  }
  if (js->type(doc) != PC_JSON_OBJECT) {
    rc = pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: malformed chunk "
                      "(not a JSON object)");
    goto out;
  }
  v = js->object_get(doc, "error");
  if (v && js->type(v) != PC_JSON_NULL) {
    rc = error_member(h, v, p, n, "stream", s->err);
    goto out;
  }
  if (keep_str(h, doc, "model", &s->model) ||
      keep_str(h, doc, "system_fingerprint", &s->fingerprint) ||
      (!s->id.len && keep_str(h, doc, "id", &s->id))) {
    rc = oom(s->err);
    goto out;
  }
  v = js->object_get(doc, "choices");
  if (v && js->type(v) == PC_JSON_ARRAY)
    for (i = 0; !rc && i < js->array_len(v); i++)
      rc = stream_choice(s, js->array_get(v, i), i);
  else if (v && js->type(v) != PC_JSON_NULL)
    rc = pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: malformed "
                      "chunk (\"choices\" is not an array)");
  v = js->object_get(doc, "usage");
  if (!rc && v && js->type(v) == PC_JSON_OBJECT) {
    s->prompt_tokens = usage_count(h, v, "prompt_tokens");
    s->completion_tokens = usage_count(h, v, "completion_tokens");
  }
out:
  js->free(h->host->ctx, doc);
  return rc;
}

int pc__oai_stream_line(void *ctx, const char *line, size_t len)
{
  pc__oai_stream *s = ctx;

  if (s->done || !len || line[0] == ':')
    return PC_OK;   /* after [DONE], event boundaries, comments */
  if (len < 5 || memcmp(line, "data:", 5)) {
    /* Another SSE field (event:, id:, retry:), or before any data line
     * perhaps a plain JSON body from a server that does not stream. */
    if (!s->data_lines && (pc__lm_buf_put(&s->raw, line, len) ||
                           pc__lm_buf_put(&s->raw, "\n", 1)))
      return pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream: the body "
                          "is too large or memory ran out");
    return PC_OK;
  }
  line += 5;
  len -= 5;
  if (len && line[0] == ' ') {
    line++;
    len--;
  }
  s->data_lines++;
  if (len == 6 && !memcmp(line, "[DONE]", 6)) {
    s->done = 1;
    return PC_OK;
  }
  return stream_chunk(s, line, len);
}

int pc__oai_stream_finish(pc__oai_stream *s, const char *request_id)
{
  pc__oai_choice *ch;
  size_t i;
  int rc = PC_OK;

  if (!s->data_lines && s->raw.len)
    return pc__oai_parse(s->h, s->raw.data, s->raw.len, request_id,
                         s->sink, s->err);
  if (!s->done)
    return pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream ended early "
                        "(no [DONE])");
  if (!s->n_choices)
    return pc__lm_error(s->err, PC_E_PROVIDER, WHO ": stream has no "
                        "choices");
  for (i = 0; i < s->n_choices; i++) {
    ch = &s->choices[i];
    if (!ch->text.len && ch->refusal.len)
      return refusal_error(ch->refusal.data, ch->refusal.len, s->err);
  }
  for (i = 0; !rc && i < s->n_choices; i++)
    rc = pc__lm_send_text(s->sink, WHO, (uint32_t)i, s->choices[i].text.data,
                          s->choices[i].text.len, s->err);
  if (!rc)
    rc = send_tail(s->sink, s->prompt_tokens, s->completion_tokens,
                   s->model.data, s->fingerprint.data,
                   request_id && *request_id ? request_id : s->id.data,
                   s->choices[0].finish.data, s->err);
  return rc;
}
