/* sim_wire_ollama.c - Ollama's native API in the sim-server: POST
 * /api/chat (NDJSON streaming by default), GET /api/tags and POST
 * /api/show. */
#include <math.h>
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

/* Any role; contents are strings (Ollama's images are not read). */
static const pc__sim_msg_rules ol_messages = {
  .open = "messages[",
  .close = "]",
  .parts = 0,
  .role = NULL,
  .refused = "expected a string",
};

static int ol_parse(const pc__sim_headers *h, const char *served,
                    pc__sim_req *req, pc__sim_fail *f)
{
  static const char *const temperature =
    "options.temperature: expected a number >= 0";
  struct json_object *options;
  int rc = PC_OK;

  (void)h;
  if ((rc = pc__sim_read_model(req, "model is required", 1, f)))
    return rc;
  if (!pc__sim_ollama_model_is(req->model, served))
    return pc__sim_fail_set(f, PC__SIM_FAIL_NOT_FOUND,
                            "model \"%.120s\" not found, try pulling it "
                            "first", req->model);
  req->stream = 1;  /* Ollama streams unless told not to */
  if ((rc = pc__sim_read_messages(req, &ol_messages, f)) ||
      (rc = pc__sim_read_stream(req, "stream: expected a boolean", f)))
    return rc;
  options = pc_json_member(req->body, "options");
  if (options && !json_object_is_type(options, json_type_object))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "options: expected an object");
  if (options &&
      (rc = pc__sim_read_number(options, "temperature", 0.0, HUGE_VAL,
                                temperature, temperature, f)))
    return rc;
  req->n = 1;
  req->params = pc__sim_obj(&rc);
  if (options)
    pc__sim_copy_all(req->params, options, NULL, &rc);
  pc__sim_copy(req->params, req->body, "format", &rc);
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

  if (!req->stream)
    return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL,
                            line(a, t, left, 1, &rc), rc);
  while (!rc && left > 0) {
    size_t p = pc__sim_piece(t, left);

    o = line(a, t, p, 0, &rc);
    rc = pc__sim_body_put(out, PC__SIM_PUT_NDJSON, NULL, o, rc);
    t += p;
    left -= p;
  }
  o = line(a, "", 0, 1, &rc);
  return pc__sim_body_put(out, PC__SIM_PUT_NDJSON, NULL, o, rc);
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
  return pc__sim_body_put(out, PC__SIM_PUT_JSON, NULL, o, rc);
}

/* `o` when it was built whole (rc is PC_OK), else NULL with `o` put. */
static struct json_object *finished(struct json_object *o, int rc)
{
  if (!rc)
    return o;
  json_object_put(o);
  return NULL;
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
  return finished(o, rc);
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
  return finished(o, rc);
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
