/*
 * fx_lm.c - a fixture LM provider for tests/unit/test_eval.c, named
 * "fx_lm". It answers a `question -> answer` call in the chat format by
 * echoing the question, so exact_match scores 1 when the gold equals the
 * question. Planted behaviours, chosen by the question text:
 *   contains "FAIL"    -> PC_E_PROVIDER (an LM error)
 *   contains "GARBLE"  -> text no adapter can parse (a parse error after
 *                         the JSON fallback)
 *   contains "JSONONLY" -> unparseable for the chat adapter, a good answer
 *                         for the JSON one (the fallback succeeds)
 * Requests from the JSON adapter get a JSON object. Instances are not
 * declared thread-safe, so the host must serialise calls on them; the
 * fixture checks that it does and fails the call if two overlap.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fx_common.h"

static atomic_int in_call;

/* Non-zero when `word` occurs in the `len` bytes at `s`. */
static int has(const char *s, size_t len, const char *word)
{
  size_t n = strlen(word);

  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(s + i, word, n) == 0)
      return 1;
  return 0;
}

static int fail(pc_error *err, int code, int http, const char *msg)
{
  err->code = code;
  err->http_status = http;
  snprintf(err->message, sizeof(err->message), "%s", msg);
  return code;
}

/* The value of the `question` section of the last user message. */
static int question_of(const pc_lm_request *req, const char **q,
                       size_t *len)
{
  const pc_message *m;
  const char *s, *end;
  static const char mark[] = "[[ ## question ## ]]\n";

  if (req->n_messages == 0)
    return -1;
  m = (const pc_message *)((const char *)req->messages +
                           (req->n_messages - 1) * req->message_size);
  s = strstr(m->content, mark);
  if (!s)
    return -1;
  s += sizeof(mark) - 1;
  end = strstr(s, "\n\n");
  *q = s;
  *len = end ? (size_t)(end - s) : strlen(s);
  return 0;
}

static int is_json_request(const pc_lm_request *req)
{
  const pc_message *m = req->messages;

  return req->n_messages > 0 &&
         strstr(m->content, "Outputs will be a JSON object") != NULL;
}

static int lm_complete(void *inst, const pc_lm_request *req,
                       const pc_lm_sink *out, pc_call *call, pc_error *err)
{
  char text[1024];
  const char *q;
  size_t len;
  int rc = PC_OK;

  (void)inst;
  (void)call;
  if (atomic_fetch_add(&in_call, 1) != 0) {
    atomic_fetch_sub(&in_call, 1);
    return fail(err, PC_E_INTERNAL, 0,
                "fx_lm: two calls at once on one instance");
  }
  if (question_of(req, &q, &len) != 0 || len > 900) {
    rc = fail(err, PC_E_INVALID_ARG, 0, "fx_lm: no question in the request");
    goto out;
  }
  if (has(q, len, "FAIL")) {
    rc = fail(err, PC_E_PROVIDER, 503, "fx_lm: planted provider failure");
    goto out;
  }
  if (has(q, len, "GARBLE") ||
      (has(q, len, "JSONONLY") && !is_json_request(req))) {
    snprintf(text, sizeof(text), "I would rather not say.");
  } else if (is_json_request(req)) {
    snprintf(text, sizeof(text), "{\"answer\": \"%.*s\"}", (int)len, q);
  } else {
    snprintf(text, sizeof(text),
             "[[ ## answer ## ]]\n%.*s\n\n[[ ## completed ## ]]", (int)len,
             q);
  }
  rc = out->text(out->ctx, 0, text, strlen(text));
  if (rc == PC_OK)
    rc = out->usage(out->ctx, 10, (int64_t)strlen(text) / 4);
  if (rc == PC_OK)
    rc = out->meta(out->ctx, "model", "fx-lm-1", 7);
out:
  atomic_fetch_sub(&in_call, 1);
  return rc;
}

static int lm_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  (void)inst;
  (void)err;
  return out->write(out->ctx, "fx-lm-1", 7);
}

static const pc_lm_provider_iface lm_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),
  .name = "fx_lm",
  .create = fx_create,
  .destroy = fx_destroy,
  .identity = lm_identity,
  .complete = lm_complete,
};

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_LM_PROVIDER) != 0)
    return NULL;
  *size = lm_iface.hdr.struct_size;
  return &lm_iface;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.fx_lm",
  .name = "fx_lm",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "fixture LM provider: echoes the question, with planted faults",
  .kinds = PC_KIND_LM_PROVIDER,
  .flags = 0,
  .init = fx_init,
  .get_interface = get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host);
PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
