/* sim_wire_ollama.c - Ollama's native API in the sim-server: POST
 * /api/chat (NDJSON streaming by default), GET /api/tags and POST
 * /api/show. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "sim_internal.h"

/* What /api/tags reports as the model's size on disk: a fixed figure. */
#define SIM_MODEL_SIZE 1073741824LL

int pc__sim_ollama_model_is(const char *model, const char *served)
{
  size_t n = strlen(served);

  if (strcmp(model, served) == 0)
    return 1;
  /* Ollama reads a name without a tag as NAME:latest. */
  return strncmp(model, served, n) == 0 && strcmp(model + n, ":latest") == 0;
}

static int ol_parse(const pc__sim_headers *h, const char *served,
                    pc__sim_req *req, pc__sim_fail *f)
{
  struct json_object *body = req->body, *msgs, *v, *options;
  size_t n;
  int rc = PC_OK;

  (void)h;
  if (!json_object_is_type(body, json_type_object))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "the request body must be a JSON object");
  req->model = pc_json_str(body, "model");
  if (!req->model || !*req->model)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "model is required");
  if (!pc__sim_ollama_model_is(req->model, served))
    return pc__sim_fail_set(f, PC__SIM_FAIL_NOT_FOUND,
                            "model \"%.120s\" not found, try pulling it "
                            "first", req->model);
  msgs = pc_json_member(body, "messages");
  if (!json_object_is_type(msgs, json_type_array) ||
      json_object_array_length(msgs) == 0)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "messages: expected a non-empty array");
  n = json_object_array_length(msgs);
  for (size_t i = 0; i < n; i++) {
    struct json_object *m = json_object_array_get_idx(msgs, i);
    const char *role = pc_json_str(m, "role");
    struct json_object *c = pc_json_member(m, "content");
    char *text;

    if (!role)
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "messages[%zu].role: expected a string", i);
    if (c && !json_object_is_type(c, json_type_string))
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "messages[%zu].content: expected a string", i);
    text = pc_strndup(c ? json_object_get_string(c) : "",
                      c ? (size_t)json_object_get_string_len(c) : 0);
    if (!text || pc__sim_msgs_add(&req->msgs, role, text,
                                  c ? (size_t)json_object_get_string_len(c)
                                    : 0))
      return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  }
  req->stream = 1;  /* Ollama streams unless told not to */
  if (json_object_object_get_ex(body, "stream", &v) && v) {
    if (!json_object_is_type(v, json_type_boolean))
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "stream: expected a boolean");
    req->stream = json_object_get_boolean(v);
  }
  options = pc_json_member(body, "options");
  if (options && !json_object_is_type(options, json_type_object))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "options: expected an object");
  if (options) {
    double t;

    if (pc__sim_number(options, "temperature", &t) == -1 ||
        (pc__sim_number(options, "temperature", &t) == 1 && !(t >= 0.0)))
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                              "options.temperature: expected a number >= 0");
  }
  req->n = 1;
  req->params = pc__sim_obj(&rc);
  if (options) {
    json_object_object_foreach(options, key, val) {
      (void)val;
      pc__sim_copy(req->params, options, key, &rc);
    }
  }
  pc__sim_copy(req->params, body, "format", &rc);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

/* {"model", "created_at", "message": {...}, "done"} of one line. */
static struct json_object *line(const pc__sim_answer *a, const char *text,
                                size_t len, int done, int *rc)
{
  struct json_object *o = pc__sim_obj(rc);
  struct json_object *m = pc__sim_obj(rc);
  char when[64];

  pc__sim_rfc3339(a->created_ns, when);
  pc__sim_put_str(o, "model", a->model, rc);
  pc__sim_put_str(o, "created_at", when, rc);
  pc__sim_put_str(m, "role", "assistant", rc);
  pc__sim_put_strn(m, "content", text, len, rc);
  pc__sim_put(o, "message", m, rc);
  if (done)
    pc__sim_put_str(o, "done_reason", "stop", rc);
  pc__sim_put_bool(o, "done", done, rc);
  if (done) {
    /* Measured: the whole request (latency included) and the sim call;
     * what is left is reported as prompt evaluation. */
    int64_t eval = a->eval_ns > 0 ? a->eval_ns : 1;
    int64_t prompt = a->total_ns - eval > 0 ? a->total_ns - eval : 1;

    pc__sim_put_int(o, "total_duration", eval + prompt, rc);
    pc__sim_put_int(o, "load_duration", 0, rc);
    pc__sim_put_int(o, "prompt_eval_count", a->prompt_tokens, rc);
    pc__sim_put_int(o, "prompt_eval_duration", prompt, rc);
    pc__sim_put_int(o, "eval_count", a->completion_tokens, rc);
    pc__sim_put_int(o, "eval_duration", eval, rc);
  }
  return o;
}

static int ol_reply(const pc__sim_req *req, const pc__sim_answer *a,
                    pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o;
  const char *t = a->texts[0];
  size_t left = a->lens[0];

  if (!req->stream) {
    o = line(a, t, left, 1, &rc);
    if (!rc)
      rc = pc__sim_body_json(out, o);
    json_object_put(o);
    return rc;
  }
  while (!rc && left > 0) {
    size_t p = pc__sim_piece(t, left);

    o = line(a, t, p, 0, &rc);
    if (!rc)
      rc = pc__sim_body_ndjson(out, o);
    json_object_put(o);
    t += p;
    left -= p;
  }
  o = line(a, "", 0, 1, &rc);
  if (!rc)
    rc = pc__sim_body_ndjson(out, o);
  json_object_put(o);
  return rc;
}

static int ol_error(const pc__sim_fail *f, pc__sim_body *out)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  char msg[512];

  switch (f->kind) {
  case PC__SIM_FAIL_AUTH:
    snprintf(msg, sizeof(msg), "unauthorized");
    break;
  case PC__SIM_FAIL_CONTEXT:
    snprintf(msg, sizeof(msg), "prompt too long; exceeded max context "
             "length by %lld tokens", (long long)(f->tokens - f->limit));
    break;
  case PC__SIM_FAIL_RATE:
    snprintf(msg, sizeof(msg), "too many requests (sim-server fault "
             "injection)");
    break;
  case PC__SIM_FAIL_500:
    snprintf(msg, sizeof(msg), "internal server error%s%s",
             f->message[0] ? ": " : "", f->message);
    break;
  case PC__SIM_FAIL_503:
    snprintf(msg, sizeof(msg), "server busy, please try again.  maximum "
             "pending requests exceeded");
    break;
  case PC__SIM_FAIL_TOO_LARGE:
    snprintf(msg, sizeof(msg), "request body too large");
    break;
  default:
    snprintf(msg, sizeof(msg), "%s", f->message);
    break;
  }
  pc__sim_put_str(o, "error", msg, &rc);
  if (!rc)
    rc = pc__sim_body_json(out, o);
  json_object_put(o);
  return rc;
}

static struct json_object *details(int *rc)
{
  struct json_object *d = pc__sim_obj(rc);
  struct json_object *fams = pc__sim_arr(rc);

  pc__sim_put_str(d, "parent_model", "", rc);
  pc__sim_put_str(d, "format", "gguf", rc);
  pc__sim_put_str(d, "family", "sim", rc);
  pc__sim_push(fams, *rc ? NULL : json_object_new_string("sim"), rc);
  pc__sim_put(d, "families", fams, rc);
  pc__sim_put_str(d, "parameter_size", "1B", rc);
  pc__sim_put_str(d, "quantization_level", "Q4_0", rc);
  return d;
}

struct json_object *pc__sim_ollama_tags(const char *served,
                                        const char *digest,
                                        int64_t modified_ns)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *models = pc__sim_arr(&rc);
  struct json_object *m = pc__sim_obj(&rc);
  char when[64];

  pc__sim_rfc3339(modified_ns, when);
  pc__sim_put_str(m, "name", served, &rc);
  pc__sim_put_str(m, "model", served, &rc);
  pc__sim_put_str(m, "modified_at", when, &rc);
  pc__sim_put_int(m, "size", SIM_MODEL_SIZE, &rc);
  pc__sim_put_str(m, "digest", digest, &rc);
  pc__sim_put(m, "details", details(&rc), &rc);
  pc__sim_push(models, m, &rc);
  pc__sim_put(o, "models", models, &rc);
  if (rc) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

struct json_object *pc__sim_ollama_show(const char *served,
                                        const char *digest,
                                        int64_t modified_ns)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *info = pc__sim_obj(&rc);
  struct json_object *caps = pc__sim_arr(&rc);
  char when[64], file[256];

  pc__sim_rfc3339(modified_ns, when);
  snprintf(file, sizeof(file), "# the sim LM, served by promptc "
           "sim-server\nFROM %.200s\n", served);
  pc__sim_put_str(o, "modelfile", file, &rc);
  pc__sim_put_str(o, "parameters", "", &rc);
  pc__sim_put_str(o, "template", "{{ .Prompt }}", &rc);
  pc__sim_put(o, "details", details(&rc), &rc);
  pc__sim_put_str(info, "general.architecture", "sim", &rc);
  pc__sim_put(o, "model_info", info, &rc);
  pc__sim_push(caps, rc ? NULL : json_object_new_string("completion"), &rc);
  pc__sim_put(o, "capabilities", caps, &rc);
  pc__sim_put_str(o, "modified_at", when, &rc);
  pc__sim_put_str(o, "digest", digest, &rc);
  if (rc) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

const pc__sim_wire pc__sim_wire_ollama = {
  .name = "ollama",
  .api = PC__SIM_API_OLLAMA,
  .id_header = "x-request-id",
  .id_prefix = "",
  .key_in_x_api_key = 0,
  .parse = ol_parse,
  .reply = ol_reply,
  .error = ol_error,
};
