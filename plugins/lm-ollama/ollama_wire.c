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

static int oom(pc_error *err)
{
  return pc__lm_nomem(err, WHO);
}

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

/* "options": the sampling settings params holds; absent when none. */
static int put_options(const pc__lm_host *h, pc_json *body,
                       const pc_json *params, pc_error *err)
{
  pc_json *opts = h->json->new_object(h->host->ctx);
  int rc;

  if (!opts)
    return oom(err);
  if ((rc = pc__lm_put_number(h, WHO, opts, params, "temperature",
                              "temperature", 0, err)) ||
      (rc = pc__lm_put_number(h, WHO, opts, params, "top_p", "top_p", 0,
                              err)) ||
      (rc = pc__lm_put_number(h, WHO, opts, params, "top_k", "top_k", 1,
                              err)) ||
      (rc = pc__lm_put_number(h, WHO, opts, params, "seed", "seed", 1,
                              err)) ||
      (rc = pc__lm_put_stop(h, WHO, opts, params, "stop", err)) ||
      (rc = pc__lm_put_number(h, WHO, opts, params, "max_tokens",
                              "num_predict", 1, err))) {
    h->json->free(h->host->ctx, opts);
    return rc;
  }
  if (!h->json->object_len(opts)) {
    h->json->free(h->host->ctx, opts);
    return PC_OK;
  }
  return pc__lm_put(h, body, "options", opts) ? oom(err) : PC_OK;
}

/* "format" from response_format: "json" for json_object, the schema for
 * json_schema; nothing for "text" or a type Ollama has no word for. */
static int put_format(const pc__lm_host *h, pc_json *body,
                      const pc_json *params, pc_error *err)
{
  const pc_json *rf = pc__lm_member(h, params, "response_format"), *schema;
  const char *type;

  if (!rf)
    return PC_OK;
  type = pc__lm_str(h, rf, "type");
  if (h->json->type(rf) != PC_JSON_OBJECT || !type)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params."
                        "response_format must be an object with a "
                        "\"type\"");
  if (!strcmp(type, "json_object"))
    return pc__lm_put_str(h, body, "format", "json") ? oom(err) : PC_OK;
  if (strcmp(type, "json_schema"))
    return PC_OK;
  schema = pc__lm_member(h, pc__lm_member(h, rf, "json_schema"), "schema");
  if (!schema || h->json->type(schema) != PC_JSON_OBJECT)
    return pc__lm_error(err, PC_E_INVALID_ARG, WHO ": params."
                        "response_format.json_schema.schema must be an "
                        "object");
  return pc__lm_put(h, body, "format", h->json->copy(h->host->ctx, schema))
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
  if (!body || pc__lm_put_str(h, body, "model", o->model) ||
      pc__lm_put(h, body, "messages", pc__lm_messages_json(h, req, NULL)) ||
      pc__lm_put(h, body, "stream", js->new_bool(ctx, o->stream ? 1 : 0)))
    goto nomem;
  if ((rc = put_options(h, body, params, err)) ||
      (rc = put_format(h, body, params, err)))
    goto out;
  if (o->keep_alive && pc__lm_put_str(h, body, "keep_alive", o->keep_alive))
    goto nomem;
  rc = pc__lm_json_text(h, WHO, body, out, len, err);
  goto out;

nomem:
  rc = oom(err);
out:
  js->free(ctx, body);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Replies and streams.                                                     */

/*
 * Read one reply object (a whole reply, or one stream line) into `r`:
 * its piece of message.content is appended (and given to on_delta), and
 * the model, counts and done_reason kept. `need_content` makes a missing
 * message.content an error (a whole reply must have one).
 */
static int read_object(const pc__lm_host *h, const pc_json *o,
                       pc__lm_result *r, int need_content,
                       pc__lm_delta_fn on_delta, void *delta_ctx,
                       const char *where, pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *c = pc__lm_member(h, pc__lm_member(h, o, "message"),
                                   "content");
  const pc_json *v;
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
    pc__lm_copy(r->model, sizeof(r->model), pc__lm_str(h, o, "model"));
  if (c && (s = js->get_string(c, &len)) &&
      (rc = pc__lm_result_text(r, WHO, s, len, on_delta, delta_ctx, err)))
    return rc;
  if ((v = pc__lm_member(h, o, "done")) && js->type(v) == PC_JSON_BOOL &&
      js->get_bool(v)) {
    r->done = 1;
    if (pc__lm_str(h, o, "done_reason"))
      pc__lm_copy(r->finish, sizeof(r->finish),
                  pc__lm_str(h, o, "done_reason"));
    if ((v = pc__lm_member(h, o, "prompt_eval_count")) &&
        js->type(v) == PC_JSON_INT)
      r->prompt_tokens = js->get_int(v);
    if ((v = pc__lm_member(h, o, "eval_count")) && js->type(v) == PC_JSON_INT)
      r->completion_tokens = js->get_int(v);
  }
  return PC_OK;
}

int pc__ol_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__lm_result *r, pc_error *err)
{
  pc_json *o = NULL;
  int rc = pc__lm_parse_object(h, WHO, "the reply", body, len, &o, err);

  if (!rc)
    rc = read_object(h, o, r, 1, NULL, NULL, "reply", err);
  h->json->free(h->host->ctx, o);
  return rc;
}

void pc__ol_stream_init(void *s, const pc__lm_host *h, pc__lm_result *r,
                        pc__lm_delta_fn on_delta, void *delta_ctx,
                        pc_error *err)
{
  pc__lm_stream_init(s, sizeof(pc__ol_stream), h, r, on_delta, delta_ctx,
                     err);
}

int pc__ol_stream_line(void *ctx, const char *line, size_t len)
{
  pc__ol_stream *s = ctx;
  pc__lm_stream *b = &s->base;
  pc_json *o = NULL;
  char where[40];
  size_t i;

  if (b->rc)
    return b->rc;
  s->lines++;
  for (i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      break;
  if (i == len || b->r->done)
    return PC_OK;  /* a blank line, or anything after the last one */
  snprintf(where, sizeof(where), "stream line %llu",
           (unsigned long long)s->lines);
  b->rc = pc__lm_parse_object(b->h, WHO, where, line, len, &o, b->err);
  if (!b->rc)
    b->rc = read_object(b->h, o, b->r, 0, b->on_delta, b->delta_ctx, where,
                        b->err);
  b->h->json->free(b->h->host->ctx, o);
  return b->rc;
}

int pc__ol_stream_end(void *st)
{
  pc__lm_stream *b = &((pc__ol_stream *)st)->base;

  if (!b->rc && !b->r->done)
    b->rc = pc__lm_error(b->err, PC_E_PROVIDER, WHO ": the stream ended "
                         "before a \"done\": true line");
  return b->rc;
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
      !(models = pc__lm_member(h, o, "models")) ||
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
  if (d && d[0] && !(*digest = pc__lm_strndup(h, d, strlen(d))))
    rc = oom(err);

out:
  js->free(h->host->ctx, o);
  return rc;
}
