/*
 * adapter_chat.c - the chat adapter plugin: DSPy 3.3.1's ChatAdapter, with
 * `[[ ## field ## ]]` sections, byte for byte (docs/adapters.md).
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../adapter-common/adapter_common.h"

#define WHO "adapter chat"

/* An instance only points at the plugin's tables: it never changes after
 * create(), so calls on one instance may run at once. */
/* ------------------------------------------------------------------------ */
/* format()                                                                 */

/* "[[ ## name ## ]]\n{name}[        # note: ...]" for each field, joined by
 * blank lines and stripped (format_field_with_value over
 * translate_field_type). */
static int put_placeholders(pc__ad_buf *b, const pc__ad_field *fields,
                            size_t n, int is_output, pc_error *err)
{
  size_t mark = b->len, i;
  int rc = PC_OK;

  for (i = 0; !rc && i < n; i++) {
    rc = pc__ad_buf_puts(b, i ? "\n\n[[ ## " : "[[ ## ");
    rc = rc ? rc : pc__ad_buf_puts(b, fields[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, " ## ]]\n");
    if (rc)
      return pc__ad_error(err, rc, WHO ": out of memory");
    rc = pc__ad_put_placeholder(b, &fields[i], is_output, err);
  }
  pc__ad_buf_strip_from(b, mark);
  return rc;
}

/* The structure block: the sentence, the input sections, the output
 * sections with their notes and the completed marker, joined by blank
 * lines and stripped. An empty side leaves an empty part (four newlines
 * in a row), as in DSPy. */
static int chat_structure(pc__ad_buf *b, const pc__ad_sig *sig,
                          pc_error *err)
{
  size_t mark = b->len;
  int rc = pc__ad_buf_puts(b, "All interactions will be structured in the "
                           "following way, with the appropriate values "
                           "filled in.\n\n");

  if (rc)
    return pc__ad_error(err, rc, WHO ": out of memory");
  rc = put_placeholders(b, sig->inputs, sig->n_inputs, 0, err);
  if (rc)
    return rc;
  if (pc__ad_buf_puts(b, "\n\n"))
    return pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
  rc = put_placeholders(b, sig->outputs, sig->n_outputs, 1, err);
  if (rc)
    return rc;
  if (pc__ad_buf_puts(b, "\n\n[[ ## completed ## ]]\n"))
    return pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
  pc__ad_buf_strip_from(b, mark);
  return PC_OK;
}

/* "Respond with the corresponding output fields, starting with the field
 * `[[ ## a ## ]]` (hint), then ..., and then ending with the marker for
 * `[[ ## completed ## ]]`." */
static int chat_reminder(pc__ad_buf *b, const pc__ad_sig *sig)
{
  size_t i;
  int rc = pc__ad_buf_puts(b, "Respond with the corresponding output "
                           "fields, starting with the field ");

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    rc = pc__ad_buf_puts(b, i ? ", then `[[ ## " : "`[[ ## ");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->outputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, " ## ]]`");
    rc = rc ? rc : pc__ad_put_type_hint(b, &sig->outputs[i]);
  }
  return rc ? rc : pc__ad_buf_puts(b, ", and then ending with the marker "
                                   "for `[[ ## completed ## ]]`.");
}

/* A demo's assistant message: every output section in signature order
 * (`missing` for absent ones), stripped, then the completed marker. */
static int chat_assistant(pc__ad_buf *b, const pc__ad_sig *sig,
                          const pc_json *demo, const char *missing,
                          pc_error *err)
{
  const pc_json_api *js = b->h->json;
  size_t mark = b->len, i;
  int rc = PC_OK;

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    const pc__ad_field *f = &sig->outputs[i];
    const pc_json *v = js->object_get(demo, f->name);

    if (i && pc__ad_buf_puts(b, "\n\n"))
      return pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
    if (v) {
      rc = pc__ad_put_section(b, f, v, err);
    } else {
      /* format_field_value of a str is the str itself. */
      rc = pc__ad_buf_puts(b, "[[ ## ");
      rc = rc ? rc : pc__ad_buf_puts(b, f->name);
      rc = rc ? rc : pc__ad_buf_puts(b, " ## ]]\n");
      rc = rc ? rc : pc__ad_buf_puts(b, missing);
      if (rc)
        return pc__ad_error(err, rc, WHO ": out of memory");
    }
  }
  if (rc)
    return rc;
  pc__ad_buf_strip_from(b, mark);
  if (pc__ad_buf_puts(b, "\n\n[[ ## completed ## ]]\n"))
    return pc__ad_error(err, PC_E_NOMEM, WHO ": out of memory");
  return PC_OK;
}

static const pc__ad_style chat_style = {
  WHO, chat_structure, chat_reminder, chat_assistant, NULL,
};

static int chat_format(void *inst, const pc_adapter_format_request *req,
                       const pc_message_sink *out, pc_error *err)
{
  const pc__ad_host *h = inst;

  return pc__ad_format(h, &chat_style, req, out, err);
}

/* ------------------------------------------------------------------------ */
/* parse()                                                                   */

/* Python's \w, approximately: ASCII letters, digits and '_', and any
 * non-ASCII byte (field names are ASCII identifiers; a non-ASCII header
 * name only ends the section before it, as in DSPy). */
static int is_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/*
 * If line s[0..len) is a header, after leading whitespace, of the form
 * "[[ ## name ## ]]" (DSPy's regex \[\[ ## (\w+) ## \]\] matched at the
 * start of the stripped line), store the name and the rest of the line
 * and return 1.
 */
static int match_header(const char *s, size_t len, const char **name,
                        size_t *name_len, const char **rest,
                        size_t *rest_len)
{
  size_t start, end, i, n;

  pc__ad_strip(s, len, &start, &end);
  s += start;
  len = end - start;
  if (len < 6 || memcmp(s, "[[ ## ", 6))
    return 0;
  for (i = 6; i < len && is_word((unsigned char)s[i]); i++)
    ;
  n = i - 6;
  if (n == 0 || len - i < 6 || memcmp(s + i, " ## ]]", 6))
    return 0;
  *name = s + 6;
  *name_len = n;
  *rest = s + i + 6;
  *rest_len = len - i - 6;
  return 1;
}

/* The index of the output field called name[0..len), or -1. */
static long output_index(const pc__ad_sig *sig, const char *name,
                         size_t len)
{
  size_t i;

  for (i = 0; i < sig->n_outputs; i++)
    if (strlen(sig->outputs[i].name) == len &&
        !memcmp(sig->outputs[i].name, name, len))
      return (long)i;
  return -1;
}

/* End the section being collected in `sec`: strip it and coerce it. */
static int close_section(const pc__ad_host *h, const pc__ad_sig *sig,
                         long idx, pc__ad_buf *sec, pc_json **found,
                         pc_error *err)
{
  if (idx < 0)
    return PC_OK;
  pc__ad_buf_strip_from(sec, 0);
  return pc__ad_parse_field(h, sig, (size_t)idx, pc__ad_buf_str(sec),
                            sec->len, PC_VALUE_FROM_TEXT, found, err);
}

/*
 * Split the completion into sections at header lines. Text before the
 * first header and sections that are not output fields (or repeat one
 * already seen) are skipped; each output section's lines are joined with
 * "\n", stripped and coerced as soon as the section ends.
 */
static int chat_parse(void *inst, const pc_adapter_parse_request *req,
                      const pc_text_sink *out, pc_error *err)
{
  const pc__ad_host *h = inst;
  pc__ad_sig sig;
  pc__ad_buf sec;
  pc_json **found = NULL;
  const char *text;
  size_t len, pos = 0, line, line_len;
  long idx = -1;               /* output being collected, or -1 */
  int lines = 0;                /* lines in `sec` so far */
  int rc;

  if (!req || !PC_HAS_FIELD(req, pc_adapter_parse_request, completion_len) ||
      !out || !out->write)
    return pc__ad_error(err, PC_E_INVALID_ARG,
                        WHO ": parse: bad request or sink");
  rc = pc__ad_sig_load(h, req->signature_json, req->signature_len, &sig,
                       err);
  if (rc)
    return rc;
  pc__ad_buf_init(&sec, h);
  text = req->completion;
  len = text ? (size_t)req->completion_len : 0;
  if (len == 0) {
    rc = pc__ad_error(err, PC_E_PARSE, PC__AD_EMPTY_RESPONSE);
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
  while (!rc && pc__ad_next_line(text, len, &pos, &line, &line_len)) {
    const char *name, *rest;
    size_t name_len, rest_len, rs, re;

    if (match_header(text + line, line_len, &name, &name_len, &rest,
                     &rest_len)) {
      rc = close_section(h, &sig, idx, &sec, found, err);
      if (rc)
        break;
      idx = output_index(&sig, name, name_len);
      if (idx >= 0 && found[idx])
        idx = -1;               /* a repeat: the first one won */
      sec.len = 0;
      lines = 0;
      pc__ad_strip(rest, rest_len, &rs, &re);
      if (idx >= 0 && re > rs) {
        rc = pc__ad_buf_put(&sec, rest + rs, re - rs);
        lines = 1;
      }
    } else if (idx >= 0) {
      rc = lines++ ? pc__ad_buf_put(&sec, "\n", 1) : PC_OK;
      rc = rc ? rc : pc__ad_buf_put(&sec, text + line, line_len);
    }
    if (rc)
      rc = pc__ad_error(err, rc, WHO ": LM response too large");
  }
  if (!rc)
    rc = close_section(h, &sig, idx, &sec, found, err);
  if (!rc)
    rc = pc__ad_finish(h, &sig, found, out, err);

out:
  if (found) {
    pc__ad_found_free(h, found, sig.n_outputs);
    h->host->free(h->host->ctx, found);
  }
  pc__ad_buf_free(&sec);
  pc__ad_sig_clear(h, &sig);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Instances, interface, descriptor.                                        */

static const pc_adapter_iface chat_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_adapter_iface),
  .name = "chat",
  .fallback = "json",            /* DSPy: ChatAdapter -> JSONAdapter */
  .create = pc__ad_create,
  .destroy = pc__ad_destroy,
  .format = chat_format,
  .parse = chat_parse,
};

static int chat_init(const pc_host_api *host, void **state, pc_error *err)
{
  pc__ad_host *h = NULL;
  int rc = pc__ad_host_new(host, WHO, &h, err);

  *state = h;
  return rc;
}

static const void *chat_get_interface(void *state, const char *iface_id,
                                      uint32_t *iface_size)
{
  if (!iface_id || strcmp(iface_id, PC_IFACE_ADAPTER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(chat_iface);
  return &chat_iface;
}

static const pc_plugin_info chat_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.adapter.chat",
  .name = "chat",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "DSPy ChatAdapter: [[ ## field ## ]] sections, byte-exact",
  .kinds = PC_KIND_ADAPTER,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = chat_init,
  .fini = pc__ad_fini,
  .get_interface = chat_get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &chat_info;
}
