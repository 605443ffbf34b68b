/*
 * ollama_wire.c - builds Ollama /api/chat request bodies and reads its
 * replies, NDJSON streams and /api/tags model lists
 * (docs/providers-ollama.md).
 */
#include <stdio.h>
#include <string.h>

#include "ollama_wire.h"

#define WHO PC__OL_WHO

/* How much of the model list an error message shows. */
#define MAX_NAMES_SHOWN 120

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

static pc_json *new_str(const pc__lm_host *h, const char *s)
{
  return h->json->new_string(h->host->ctx, s, strlen(s));
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

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

/* Copy params[key] into opts[name] when present: a number (or an integer
 * when `integer`). */
static int put_option(const pc__lm_host *h, pc_json *opts,
                      const pc_json *params, const char *key,
                      const char *name, int integer, pc_error *err)
{
  const pc_json *v = member(h, params, key);
  int32_t t;

  if (!v)
    return PC_OK;
  t = h->json->type(v);
  if (t != PC_JSON_INT && (integer || t != PC_JSON_DOUBLE))
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.%s must be "
                        "%s", key, integer ? "an integer" : "a number");
  if (put(h, opts, name, h->json->copy(h->host->ctx, v)))
    return oom(err);
  return PC_OK;
}

/* "stop": a string or an array of strings, sent as an array. */
static int put_stop(const pc__lm_host *h, pc_json *opts,
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
    if (!arr || js->array_append(h->host->ctx, arr,
                                 js->new_string(h->host->ctx, s, len))) {
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
  if (put(h, opts, "stop", arr))
    return oom(err);
  return PC_OK;

bad:
  return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params.stop must be a "
                      "string or an array of strings");
}

/* "options": the sampling settings params holds; absent when none. */
static int put_options(const pc__lm_host *h, pc_json *body,
                       const pc_json *params, pc_error *err)
{
  pc_json *opts = h->json->new_object(h->host->ctx);
  int rc;

  if (!opts)
    return oom(err);
  if ((rc = put_option(h, opts, params, "temperature", "temperature", 0,
                       err)) ||
      (rc = put_option(h, opts, params, "top_p", "top_p", 0, err)) ||
      (rc = put_option(h, opts, params, "top_k", "top_k", 1, err)) ||
      (rc = put_option(h, opts, params, "seed", "seed", 1, err)) ||
      (rc = put_stop(h, opts, params, err)) ||
      (rc = put_option(h, opts, params, "max_tokens", "num_predict", 1,
                       err))) {
    h->json->free(h->host->ctx, opts);
    return rc;
  }
  if (!h->json->object_len(opts)) {
    h->json->free(h->host->ctx, opts);
    return PC_OK;
  }
  return put(h, body, "options", opts) ? oom(err) : PC_OK;
}

/* "format" from response_format: "json" for json_object, the schema for
 * json_schema; nothing for "text" or a type Ollama has no word for. */
static int put_format(const pc__lm_host *h, pc_json *body,
                      const pc_json *params, pc_error *err)
{
  const pc_json *rf = member(h, params, "response_format"), *schema;
  const char *type;

  if (!rf)
    return PC_OK;
  type = pc__lm_str(h, rf, "type");
  if (h->json->type(rf) != PC_JSON_OBJECT || !type)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params."
                        "response_format must be an object with a "
                        "\"type\"");
  if (!strcmp(type, "json_object"))
    return put(h, body, "format", new_str(h, "json")) ? oom(err) : PC_OK;
  if (strcmp(type, "json_schema"))
    return PC_OK;
  schema = member(h, member(h, rf, "json_schema"), "schema");
  if (!schema || h->json->type(schema) != PC_JSON_OBJECT)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params."
                        "response_format.json_schema.schema must be an "
                        "object");
  return put(h, body, "format", h->json->copy(h->host->ctx, schema))
    ? oom(err) : PC_OK;
}

int pc__ol_body(const pc__lm_host *h, const pc__ol_opts *o,
                const pc_lm_request *req, const pc_json *params,
                char **out, size_t *len, pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *body = js->new_object(ctx);
  int rc;

  *out = NULL;
  *len = 0;
  if (!body || put(h, body, "model", new_str(h, o->model)) ||
      put(h, body, "messages", pc__lm_messages_json(h, req, NULL)) ||
      put(h, body, "stream", js->new_bool(ctx, o->stream ? 1 : 0)))
    goto nomem;
  if ((rc = put_options(h, body, params, err)) ||
      (rc = put_format(h, body, params, err)))
    goto out;
  if (o->keep_alive && put(h, body, "keep_alive", new_str(h, o->keep_alive)))
    goto nomem;
  if (js->to_text(ctx, body, PC_JSON_TEXT_COMPACT, out, len))
    goto nomem;
  rc = PC_OK;
  goto out;

nomem:
  rc = oom(err);
out:
  js->free(ctx, body);
  if (rc) {
    *out = NULL;
    *len = 0;
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Replies and streams.                                                     */

void pc__ol_result_init(pc__ol_result *r, const pc__lm_host *h)
{
  memset(r, 0, sizeof(*r));
  pc__lm_buf_init(&r->text, h);
  r->prompt_tokens = -1;
  r->completion_tokens = -1;
}

void pc__ol_result_free(pc__ol_result *r)
{
  pc__lm_buf_free(&r->text);
}

/*
 * Read one reply object (a whole reply, or one stream line) into `r`:
 * its piece of message.content is appended (and given to on_delta), and
 * the model, counts and done_reason kept. `need_content` makes a missing
 * message.content an error (a whole reply must have one).
 */
static int read_object(const pc__lm_host *h, const pc_json *o,
                       pc__ol_result *r, int need_content,
                       pc__ol_delta_fn on_delta, void *delta_ctx,
                       const char *where, pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *c = member(h, member(h, o, "message"), "content"), *v;
  const char *e = pc__lm_str(h, o, "error"), *s;
  size_t len = 0;
  int rc;

  if (e)
    return pc__lm_error(err, PC_E_PROVIDER, WHO ": %s: %s", where, e);
  if (c && js->type(c) != PC_JSON_STRING)
    c = NULL;
  if (!c && need_content)
    return pc__lm_error(err, PC_E_PROVIDER, WHO ": %s: no message.content "
                        "string", where);
  if (pc__lm_str(h, o, "model"))
    copy_str(r->model, sizeof(r->model), pc__lm_str(h, o, "model"));
  if (c && (s = js->get_string(c, &len)) && len) {
    if (pc__lm_buf_put(&r->text, s, len))
      return oom(err);
    if (on_delta && (rc = on_delta(delta_ctx, s, len)))
      return pc__lm_refused(err, WHO, rc, "streamed text");
  }
  if ((v = member(h, o, "done")) && js->type(v) == PC_JSON_BOOL &&
      js->get_bool(v)) {
    r->done = 1;
    if (pc__lm_str(h, o, "done_reason"))
      copy_str(r->done_reason, sizeof(r->done_reason),
               pc__lm_str(h, o, "done_reason"));
    if ((v = member(h, o, "prompt_eval_count")) &&
        js->type(v) == PC_JSON_INT)
      r->prompt_tokens = js->get_int(v);
    if ((v = member(h, o, "eval_count")) && js->type(v) == PC_JSON_INT)
      r->completion_tokens = js->get_int(v);
  }
  return PC_OK;
}

int pc__ol_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__ol_result *r, pc_error *err)
{
  pc_json *o = NULL;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  if (h->json->parse(h->host->ctx, body ? body : "", len,
                     PC_JSON_PARSE_STRICT, &o, &perr) ||
      h->json->type(o) != PC_JSON_OBJECT)
    rc = perr.code == PC_E_NOMEM
      ? oom(err)
      : pc__lm_error(err, PC_E_PROVIDER, WHO ": the reply is not a JSON "
                     "object");
  else
    rc = read_object(h, o, r, 1, NULL, NULL, "reply", err);
  h->json->free(h->host->ctx, o);
  return rc;
}

void pc__ol_stream_init(pc__ol_stream *s, const pc__lm_host *h,
                        pc__ol_result *r, pc__ol_delta_fn on_delta,
                        void *delta_ctx, pc_error *err)
{
  memset(s, 0, sizeof(*s));
  s->h = h;
  s->r = r;
  s->on_delta = on_delta;
  s->delta_ctx = delta_ctx;
  s->err = err;
}

int pc__ol_stream_line(void *ctx, const char *line, size_t len)
{
  pc__ol_stream *s = ctx;
  pc_json *o = NULL;
  pc_error perr = PC_ERROR_INIT;
  char where[40];
  size_t i;

  if (s->rc)
    return s->rc;
  s->lines++;
  for (i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      break;
  if (i == len || s->r->done)
    return PC_OK;  /* a blank line, or anything after the last one */
  snprintf(where, sizeof(where), "stream line %llu",
           (unsigned long long)s->lines);
  if (s->h->json->parse(s->h->host->ctx, line, len, PC_JSON_PARSE_STRICT,
                        &o, &perr) ||
      s->h->json->type(o) != PC_JSON_OBJECT)
    s->rc = perr.code == PC_E_NOMEM
      ? oom(s->err)
      : pc__lm_error(s->err, PC_E_PROVIDER, WHO ": %s is not a JSON "
                     "object", where);
  else
    s->rc = read_object(s->h, o, s->r, 0, s->on_delta, s->delta_ctx, where,
                        s->err);
  s->h->json->free(s->h->host->ctx, o);
  return s->rc;
}

int pc__ol_stream_end(pc__ol_stream *s)
{
  if (!s->rc && !s->r->done)
    s->rc = pc__lm_error(s->err, PC_E_PROVIDER, WHO ": the stream ended "
                         "before a \"done\": true line");
  return s->rc;
}

/* ------------------------------------------------------------------------ */
/* The model list.                                                          */

/* Is `name` the model, or the model with the default ":latest" tag? */
static int name_matches(const char *name, const char *model)
{
  size_t n = strlen(model);

  if (!name)
    return 0;
  return !strcmp(name, model) ||
         (!strncmp(name, model, n) && !strcmp(name + n, ":latest"));
}

/* The not-found message, naming what the server has. */
static int not_found(const pc__lm_host *h, const pc_json *models,
                     const char *model, const char *url, pc_error *err)
{
  pc__lm_buf names;
  size_t i, n = h->json->array_len(models);
  int rc;

  pc__lm_buf_init(&names, h);
  for (i = 0; i < n; i++) {
    const char *name = pc__lm_str(h, h->json->array_get(models, i), "name");

    if (!name)
      continue;
    if (names.len + strlen(name) > MAX_NAMES_SHOWN) {
      if (pc__lm_buf_puts(&names, names.len ? ", ..." : "..."))
        goto nomem;
      break;
    }
    if ((names.len && pc__lm_buf_puts(&names, ", ")) ||
        pc__lm_buf_puts(&names, name))
      goto nomem;
  }
  rc = pc__lm_error(err, PC_E_INVALID_ARG, WHO ": model \"%s\" is not "
                    "available on %s (have: %s)", model, url,
                    names.len ? names.data : "none");
  pc__lm_buf_free(&names);
  return rc;

nomem:
  pc__lm_buf_free(&names);
  return oom(err);
}

int pc__ol_tags_find(const pc__lm_host *h, const char *body, size_t len,
                     const char *model, const char *url, char **digest,
                     pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_json *o = NULL;
  const pc_json *models, *found = NULL;
  pc_error perr = PC_ERROR_INIT;
  const char *d;
  size_t i, n;
  int rc = PC_OK;

  *digest = NULL;
  if (js->parse(h->host->ctx, body ? body : "", len, PC_JSON_PARSE_STRICT,
                &o, &perr) || js->type(o) != PC_JSON_OBJECT ||
      !(models = member(h, o, "models")) ||
      js->type(models) != PC_JSON_ARRAY) {
    rc = perr.code == PC_E_NOMEM
      ? oom(err)
      : pc__lm_error(err, PC_E_PROVIDER, WHO ": GET %s/api/tags: the "
                     "reply is not a model list", url);
    goto out;
  }
  n = js->array_len(models);
  /* An exact name first, so "m:latest" never shadows a model "m". */
  for (i = 0; i < n && !found; i++) {
    const pc_json *m = js->array_get(models, i);

    if ((pc__lm_str(h, m, "name") && !strcmp(pc__lm_str(h, m, "name"),
                                             model)) ||
        (pc__lm_str(h, m, "model") && !strcmp(pc__lm_str(h, m, "model"),
                                              model)))
      found = m;
  }
  for (i = 0; i < n && !found; i++) {
    const pc_json *m = js->array_get(models, i);

    if (name_matches(pc__lm_str(h, m, "name"), model) ||
        name_matches(pc__lm_str(h, m, "model"), model))
      found = m;
  }
  if (!found) {
    rc = not_found(h, models, model, url, err);
    goto out;
  }
  d = pc__lm_str(h, found, "digest");
  if (d && d[0]) {
    size_t dn = strlen(d) + 1;

    *digest = h->host->alloc(h->host->ctx, dn);
    if (!*digest) {
      rc = oom(err);
      goto out;
    }
    memcpy(*digest, d, dn);
  }

out:
  js->free(h->host->ctx, o);
  return rc;
}
