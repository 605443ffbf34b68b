/*
 * adapter_json.c - the JSON adapter plugin: DSPy 3.3.1's JSONAdapter, whose
 * outputs are one JSON object (docs/adapters.md).
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../adapter-common/adapter_common.h"

#define WHO "adapter json"

/* What the adapter asks of the provider: DSPy's "json_object" mode. DSPy
 * first tries a structured json_schema response format when the LM
 * supports one; promptc leaves that choice to the provider layer. */
#define JSON_PARAMS "{\"response_format\": {\"type\": \"json_object\"}}"

/* An instance only points at the plugin's tables: it never changes after
 * create(), so calls on one instance may run at once. */
/* ------------------------------------------------------------------------ */
/* format()                                                                 */

/* Append the JSON text of `obj` (pretty, non-ASCII kept) and free obj. */
static int put_pretty(pc__ad_buf *b, pc_json *obj, pc_error *err)
{
  const pc__ad_host *h = b->h;
  char *text = NULL;
  size_t len = 0;
  int rc = h->json->to_text(h->host->ctx, obj, PC_JSON_TEXT_PRETTY, &text,
                            &len);

  if (!rc)
    rc = pc__ad_buf_put(b, text, len);
  if (text)
    h->host->free(h->host->ctx, text);
  h->json->free(h->host->ctx, obj);
  return rc ? pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory") : PC_OK;
}

/* Set obj[name] to a new string s[0..len). */
static int set_string(const pc__ad_host *h, pc_json *obj, const char *name,
                      const char *s, size_t len)
{
  pc_json *v = h->json->new_string(h->host->ctx, s, len);

  if (!v)
    return PC_E_NOMEM;
  return h->json->object_set(h->host->ctx, obj, name, v);
}

/* The output template: {"name": "{name}        # note: ..."} pretty. */
static int put_output_template(pc__ad_buf *b, const pc__ad_sig *sig,
                               pc_error *err)
{
  const pc__ad_host *h = b->h;
  pc_json *obj = h->json->new_object(h->host->ctx);
  pc__ad_buf ph;
  size_t i;
  int rc = obj ? PC_OK : pc__ad_error(err, PC_E_NOMEM,
                                      WHO ": out of memory");

  pc__ad_buf_init(&ph, h);
  for (i = 0; !rc && i < sig->n_outputs; i++) {
    ph.len = 0;
    rc = pc__ad_put_placeholder(&ph, &sig->outputs[i], 1, err);
    if (!rc && set_string(h, obj, sig->outputs[i].name,
                          pc__ad_buf_str(&ph), ph.len))
      rc = pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  pc__ad_buf_free(&ph);
  if (rc) {
    h->json->free(h->host->ctx, obj);
    return rc;
  }
  return put_pretty(b, obj, err);
}

/* The structure block: the sentence, the input sections, then the output
 * object template, joined by blank lines and stripped. */
static int json_structure(pc__ad_buf *b, const pc__ad_sig *sig,
                          pc_error *err)
{
  size_t mark = b->len, inner, i;
  int rc = pc__ad_buf_puts(b, "All interactions will be structured in the "
                           "following way, with the appropriate values "
                           "filled in.\n\nInputs will have the following "
                           "structure:\n\n");

  inner = b->len;
  for (i = 0; !rc && i < sig->n_inputs; i++) {
    rc = pc__ad_buf_puts(b, i ? "\n\n[[ ## " : "[[ ## ");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->inputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, " ## ]]\n{");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->inputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, "}");
  }
  pc__ad_buf_strip_from(b, inner);
  rc = rc ? rc : pc__ad_buf_puts(b, "\n\nOutputs will be a JSON object "
                                 "with the following fields.\n\n");
  if (rc)
    return pc__ad_error(err, rc, WHO ": out of memory");
  rc = put_output_template(b, sig, err);
  if (rc)
    return rc;
  pc__ad_buf_strip_from(b, mark);
  return PC_OK;
}

/* "Respond with a JSON object in the following order of fields: `a`
 * (hint), then `b`." */
static int json_reminder(pc__ad_buf *b, const pc__ad_sig *sig)
{
  size_t i;
  int rc = pc__ad_buf_puts(b, "Respond with a JSON object in the following "
                           "order of fields: ");

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    rc = pc__ad_buf_puts(b, i ? ", then `" : "`");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->outputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, "`");
    rc = rc ? rc : pc__ad_put_type_hint(b, &sig->outputs[i]);
  }
  return rc ? rc : pc__ad_buf_puts(b, ".");
}

/* A demo's assistant message: the outputs as pretty JSON, real values,
 * `missing` (a string) for absent ones; no completed marker. */
static int json_assistant(pc__ad_buf *b, const pc__ad_sig *sig,
                          const pc_json *demo, const char *missing,
                          pc_error *err)
{
  const pc__ad_host *h = b->h;
  pc_json *obj = h->json->new_object(h->host->ctx);
  size_t i;
  int rc = obj ? PC_OK : PC_E_NOMEM;

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    const char *name = sig->outputs[i].name;
    const pc_json *v = h->json->object_get(demo, name);

    if (!v) {
      rc = set_string(h, obj, name, missing, strlen(missing));
    } else {
      pc_json *c = h->json->type(v) == PC_JSON_NULL
                     ? h->json->new_null(h->host->ctx)
                     : h->json->copy(h->host->ctx, v);

      rc = c ? h->json->object_set(h->host->ctx, obj, name, c) : PC_E_NOMEM;
    }
  }
  if (rc) {
    h->json->free(h->host->ctx, obj);
    return pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  return put_pretty(b, obj, err);
}

static const pc__ad_style json_style = {
  WHO, json_structure, json_reminder, json_assistant, JSON_PARAMS,
};

static int json_format(void *inst, const pc_adapter_format_request *req,
                       const pc_message_sink *out, pc_error *err)
{
  const pc__ad_host *h = inst;

  return pc__ad_format(h, &json_style, req, out, err);
}

/* ------------------------------------------------------------------------ */
/* parse()                                                                   */

/*
 * The first balanced {...} in s[0..len), as DSPy finds it with the
 * recursive pattern \{(?:[^{}]|(?R))*\}: braces are counted with no
 * regard for strings. Sets *start and *n and returns 1, or returns 0.
 *
 * With d(k) the brace depth after byte k, a '{' at j opens a balanced
 * group exactly when the depth later falls back to d(j) - 1. One pass from
 * the end, keeping the lowest depth seen so far, finds the leftmost such
 * j; a second pass finds where its group closes.
 */
static int first_brace_group(const char *s, size_t len, size_t *start,
                             size_t *n)
{
  long depth = 0, low;
  size_t i, best = len;

  for (i = 0; i < len; i++)
    depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
  low = depth;                  /* depth after the last byte */
  for (i = len; i-- > 0;) {
    /* `depth` is the depth after byte i; `low` the lowest from i on. */
    if (depth < low)
      low = depth;
    if (s[i] == '{' && low <= depth - 1)
      best = i;
    depth -= s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
  }
  if (best == len)
    return 0;
  depth = 0;
  for (i = best; i < len; i++) {
    depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
    if (depth == 0)
      break;
  }
  *start = best;
  *n = i - best + 1;
  return 1;
}

/* Repair-parse text; *out is the value when it is an object, else NULL. */
static int parse_object(const pc__ad_host *h, const char *s, size_t len,
                        pc_json **out)
{
  pc_error e = PC_ERROR_INIT;
  pc_json *v = NULL;
  int rc = h->json->parse(h->host->ctx, s, len, PC_JSON_PARSE_REPAIR, &v,
                          &e);

  *out = NULL;
  if (rc == PC_E_NOMEM)
    return rc;
  if (!rc && h->json->type(v) == PC_JSON_OBJECT)
    *out = v;
  else
    h->json->free(h->host->ctx, v);
  return PC_OK;
}

/* The index of output field `name`, or -1. */
static long output_index(const pc__ad_sig *sig, const char *name)
{
  size_t i;

  for (i = 0; i < sig->n_outputs; i++)
    if (!strcmp(sig->outputs[i].name, name))
      return (long)i;
  return -1;
}

static int json_parse(void *inst, const pc_adapter_parse_request *req,
                      const pc_text_sink *out, pc_error *err)
{
  const pc__ad_host *h = inst;
  const pc_json_api *js = h->json;
  pc__ad_sig sig;
  pc_json **found = NULL, *obj = NULL;
  size_t len, i, n, start, glen;
  int rc;

  if (!req || !PC_HAS_FIELD(req, pc_adapter_parse_request, completion_len) ||
      !out || !out->write)
    return pc__ad_error(err, PC_E_INVALID_ARG,
                        WHO ": parse: bad request or sink");
  rc = pc__ad_sig_load(h, req->signature_json, req->signature_len, &sig,
                       err);
  if (rc)
    return rc;
  len = req->completion ? (size_t)req->completion_len : 0;
  if (len == 0) {
    rc = pc__ad_error(err, PC_E_PARSE, PC__AD_EMPTY_RESPONSE);
    goto out;
  }
  rc = parse_object(h, req->completion, len, &obj);
  if (!rc && !obj && first_brace_group(req->completion, len, &start, &glen))
    rc = parse_object(h, req->completion + start, glen, &obj);
  if (rc) {
    rc = pc__ad_error(err, rc, WHO ": out of memory");
    goto out;
  }
  if (!obj) {
    rc = pc__ad_error(err, PC_E_PARSE,
                      "LM response cannot be serialized to a JSON object.");
    goto out;
  }
  if (sig.n_outputs) {
    found = h->host->alloc(h->host->ctx, sig.n_outputs * sizeof(*found));
    if (!found) {
      rc = pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
      goto out;
    }
    memset(found, 0, sig.n_outputs * sizeof(*found));
  }
  /* In the response's order, as DSPy coerces them; other keys are
   * dropped. */
  n = js->object_len(obj);
  for (i = 0; !rc && i < n; i++) {
    const char *key;
    const pc_json *v;
    char *text = NULL;
    size_t tlen = 0;
    long idx;

    if (js->object_at(obj, i, &key, &v) || (idx = output_index(&sig, key)) < 0)
      continue;
    if (js->to_text(h->host->ctx, v, PC_JSON_TEXT_COMPACT, &text, &tlen)) {
      rc = pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
      break;
    }
    rc = pc__ad_parse_field(h, &sig, (size_t)idx, text, tlen,
                            PC_VALUE_FROM_JSON, found, err);
    h->host->free(h->host->ctx, text);
  }
  if (!rc)
    rc = pc__ad_finish(h, &sig, found, out, err);

out:
  if (found) {
    pc__ad_found_free(h, found, sig.n_outputs);
    h->host->free(h->host->ctx, found);
  }
  js->free(h->host->ctx, obj);
  pc__ad_sig_clear(h, &sig);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Instances, interface, descriptor.                                        */

static const pc_adapter_iface json_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_adapter_iface),
  .name = "json",
  .fallback = NULL,              /* DSPy's JSONAdapter has none */
  .create = pc__ad_create,
  .destroy = pc__ad_destroy,
  .format = json_format,
  .parse = json_parse,
};

static int json_init(const pc_host_api *host, void **state, pc_error *err)
{
  pc__ad_host *h = NULL;
  int rc = pc__ad_host_new(host, WHO, &h, err);

  *state = h;
  return rc;
}

static const void *json_get_interface(void *state, const char *iface_id,
                                      uint32_t *iface_size)
{
  if (!iface_id || strcmp(iface_id, PC_IFACE_ADAPTER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(json_iface);
  return &json_iface;
}

static const pc_plugin_info json_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.adapter.json",
  .name = "json",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "DSPy JSONAdapter: outputs as one JSON object, byte-exact",
  .kinds = PC_KIND_ADAPTER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = json_init,
  .fini = pc__ad_fini,
  .get_interface = json_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &json_info;
}
