/* adapter_common.c - the layout code both adapter plugins share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapter_common.h"

/* ------------------------------------------------------------------------ */
/* Errors and host tables.                                                  */

int pc__ad_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;
  char *p;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  for (p = err->message; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return code;
}

/* A service table is usable when it is of major 1 and at least as large
 * as the 1.0 struct this file was compiled against. */
static const void *service(const pc_host_api *host, const char *id,
                           uint32_t need)
{
  uint32_t size = 0;
  const pc_abi_header *hdr = host->get_host_interface(host->ctx, id, &size);

  if (!hdr || size < need || hdr->struct_size < need ||
      hdr->abi_major != PC_ABI_MAJOR)
    return NULL;
  return hdr;
}

int pc__ad_host_new(const pc_host_api *host, const char *who,
                    pc__ad_host **out, pc_error *err)
{
  const pc_json_api *json;
  const pc_values_api *values;
  pc__ad_host *h;

  *out = NULL;
  if (!host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->realloc || !host->free ||
      !host->get_host_interface)
    return pc__ad_error(err, PC_E_INVALID_ARG,
                        "%s: the host table is missing or too short", who);
  json = service(host, "pc.json/1", (uint32_t)sizeof(pc_json_api));
  if (!json)
    return pc__ad_error(err, PC_E_UNSUPPORTED,
                        "%s: the host does not offer service pc.json/1 "
                        "(major %d, %zu bytes)", who, PC_ABI_MAJOR,
                        sizeof(pc_json_api));
  values = service(host, "pc.values/1", (uint32_t)sizeof(pc_values_api));
  if (!values)
    return pc__ad_error(err, PC_E_UNSUPPORTED,
                        "%s: the host does not offer service pc.values/1 "
                        "(major %d, %zu bytes)", who, PC_ABI_MAJOR,
                        sizeof(pc_values_api));
  h = host->alloc(host->ctx, sizeof(*h));
  if (!h)
    return pc__ad_error(err, PC_E_NOMEM, "%s: out of memory", who);
  h->host = host;
  h->json = json;
  h->values = values;
  h->who = who;
  *out = h;
  return PC_OK;
}

void pc__ad_host_free(pc__ad_host *h)
{
  if (h)
    h->host->free(h->host->ctx, h);
}

int pc__ad_check_config(const pc__ad_host *h, const char *who,
                        const char *config, size_t len, pc_error *err)
{
  pc_json *v = NULL;
  pc_error e = PC_ERROR_INIT;
  int rc = PC_OK;
  int32_t t;

  if (!config || len == 0)
    return PC_OK;
  if (h->json->parse(h->host->ctx, config, len,
                     PC_JSON_PARSE_STRICT, &v, &e))
    return pc__ad_error(err, PC_E_INVALID_ARG, "%s: config: %s", who,
                        e.message);
  t = h->json->type(v);
  if (t == PC_JSON_OBJECT && h->json->object_len(v) > 0) {
    const char *key = "";
    const pc_json *val;

    h->json->object_at(v, 0, &key, &val);
    rc = pc__ad_error(err, PC_E_INVALID_ARG,
                      "%s: config: unknown setting \"%s\"", who, key);
  } else if (t != PC_JSON_OBJECT && t != PC_JSON_NULL) {
    rc = pc__ad_error(err, PC_E_INVALID_ARG,
                      "%s: config: expected a JSON object", who);
  }
  h->json->free(h->host->ctx, v);
  return rc;
}

int pc__ad_create(void *state, const char *config, size_t len, void **inst,
                  pc_error *err)
{
  const pc__ad_host *h = state;
  int rc;

  *inst = NULL;
  rc = pc__ad_check_config(h, h->who, config, len, err);
  if (rc == PC_OK)
    *inst = state;
  return rc;
}

void pc__ad_destroy(void *inst)
{
  (void)inst;  /* the instance is the plugin state: fini frees it */
}

void pc__ad_fini(void *state)
{
  pc__ad_host_free(state);
}

/* ------------------------------------------------------------------------ */
/* Buffer.                                                                  */

void pc__ad_buf_init(pc__ad_buf *b, const pc__ad_host *h)
{
  b->h = h;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void pc__ad_buf_free(pc__ad_buf *b)
{
  if (b->data)
    b->h->host->free(b->h->host->ctx, b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

int pc__ad_buf_put(pc__ad_buf *b, const char *s, size_t n)
{
  const pc_host_api *host = b->h->host;

  if (n > PC__AD_BUF_MAX - b->len)
    return PC_E_NOMEM;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (cap < b->len + n + 1)
      cap *= 2;
    if (cap > PC__AD_BUF_MAX + 1)
      cap = PC__AD_BUF_MAX + 1;
    p = host->realloc(host->ctx, b->data, cap);
    if (!p)
      return PC_E_NOMEM;
    b->data = p;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PC_OK;
}

int pc__ad_buf_puts(pc__ad_buf *b, const char *s)
{
  return pc__ad_buf_put(b, s, strlen(s));
}

const char *pc__ad_buf_str(const pc__ad_buf *b)
{
  return b->data ? b->data : "";
}

void pc__ad_buf_strip_from(pc__ad_buf *b, size_t from)
{
  size_t start, end;

  if (!b->data || from >= b->len)
    return;
  pc__ad_strip(b->data + from, b->len - from, &start, &end);
  memmove(b->data + from, b->data + from + start, end - start);
  b->len = from + (end - start);
  b->data[b->len] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Python text semantics.                                                   */

size_t pc__ad_space_at(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;

  if (len == 0)
    return 0;
  if (u[0] < 0x80)
    return (u[0] == ' ' || (u[0] >= 0x09 && u[0] <= 0x0d) ||
            (u[0] >= 0x1c && u[0] <= 0x1f)) ? 1 : 0;
  if (len >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0))
    return 2;                                   /* U+0085, U+00A0 */
  if (len < 3)
    return 0;
  if (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80)
    return 3;                                   /* U+1680 */
  if (u[0] == 0xe2 && u[1] == 0x80 &&
      ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 ||
       u[2] == 0xaf))
    return 3;                   /* U+2000..200A, U+2028, U+2029, U+202F */
  if (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f)
    return 3;                                   /* U+205F */
  if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)
    return 3;                                   /* U+3000 */
  return 0;
}

/* Length of the whitespace character that ends s[0..len), or 0. A lead
 * byte never doubles as a continuation byte, so looking back 1, 2 and 3
 * bytes cannot mistake the tail of another character for whitespace. */
static size_t space_before(const char *s, size_t len)
{
  size_t k;

  for (k = 1; k <= 3 && k <= len; k++)
    if (pc__ad_space_at(s + len - k, k) == k)
      return k;
  return 0;
}

void pc__ad_strip(const char *s, size_t len, size_t *start, size_t *end)
{
  size_t a = 0, z = len, n;

  while (a < z && (n = pc__ad_space_at(s + a, z - a)) > 0)
    a += n;
  while (z > a && (n = space_before(s + a, z - a)) > 0)
    z -= n;
  *start = a;
  *end = z;
}

/* Length of the line break at s[0..len), or 0 (str.splitlines rules). */
static size_t break_at(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;

  if (u[0] == '\r')
    return (len >= 2 && u[1] == '\n') ? 2 : 1;
  if (u[0] == '\n' || u[0] == 0x0b || u[0] == 0x0c ||
      (u[0] >= 0x1c && u[0] <= 0x1e))
    return 1;
  if (len >= 2 && u[0] == 0xc2 && u[1] == 0x85)
    return 2;
  if (len >= 3 && u[0] == 0xe2 && u[1] == 0x80 &&
      (u[2] == 0xa8 || u[2] == 0xa9))
    return 3;
  return 0;
}

int pc__ad_next_line(const char *s, size_t len, size_t *pos, size_t *line,
                     size_t *line_len)
{
  size_t i = *pos, n = 0;

  if (i >= len)
    return 0;
  *line = i;
  while (i < len && (n = break_at(s + i, len - i)) == 0)
    i++;
  *line_len = i - *line;
  *pos = i + n;
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Signatures.                                                               */

/* The string member `key` of object `o`: NULL when absent or not a
 * string. */
static const char *str_member(const pc__ad_host *h, const pc_json *o,
                              const char *key)
{
  const pc_json *v = h->json->object_get(o, key);

  if (!v || h->json->type(v) != PC_JSON_STRING)
    return NULL;
  return h->json->get_string(v, NULL);
}

/* Kinds whose output note is not a JSON schema. */
static int kind_has_own_note(const char *kind)
{
  return !strcmp(kind, "str") || !strcmp(kind, "bool") ||
         !strcmp(kind, "int") || !strcmp(kind, "float") ||
         !strcmp(kind, "literal");
}

static int load_fields(const pc__ad_host *h, const pc_json *root,
                       const char *list, pc__ad_field **out, size_t *n_out,
                       pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *arr = js->object_get(root, list);
  pc__ad_field *fields = NULL;
  size_t n, i;
  int is_output = !strcmp(list, "outputs");
  int rc = PC_OK;

  *out = NULL;
  *n_out = 0;
  if (!arr)
    return PC_OK;             /* no fields of this side */
  if (js->type(arr) != PC_JSON_ARRAY)
    return pc__ad_error(err, PC_E_INVALID_ARG,
                        "signature JSON: \"%s\" is not an array", list);
  n = js->array_len(arr);
  if (n == 0)
    return PC_OK;
  fields = h->host->alloc(h->host->ctx, n * sizeof(*fields));
  if (!fields)
    return pc__ad_error(err, PC_E_NOMEM, "signature JSON: out of memory");
  for (i = 0; i < n; i++) {
    const pc_json *o = js->array_get(arr, i);
    pc__ad_field *f = &fields[i];
    const char *missing = NULL;

    memset(f, 0, sizeof(*f));
    if (!o || js->type(o) != PC_JSON_OBJECT) {
      rc = pc__ad_error(err, PC_E_INVALID_ARG,
                        "signature JSON: %s[%zu]: not an object", list, i);
      goto fail;
    }
    f->name = str_member(h, o, "name");
    f->type = str_member(h, o, "type");
    f->type_name = str_member(h, o, "type_name");
    f->kind = str_member(h, o, "kind");
    f->desc = str_member(h, o, "desc");
    f->schema = str_member(h, o, "schema");
    f->constraints = str_member(h, o, "constraints");
    f->values = js->object_get(o, "values");
    if (!f->desc)
      f->desc = "";
    if (!f->name || !*f->name)
      missing = "name";
    else if (!f->type)
      missing = "type";
    else if (!f->type_name)
      missing = "type_name";
    else if (!f->kind)
      missing = "kind";
    else if (is_output && !strcmp(f->kind, "literal") &&
             (!f->values || js->type(f->values) != PC_JSON_ARRAY))
      missing = "values";
    else if (is_output && !kind_has_own_note(f->kind) && !f->schema)
      missing = "schema";
    if (missing) {
      rc = pc__ad_error(err, PC_E_INVALID_ARG,
                        "signature JSON: %s[%zu]: missing \"%s\"", list, i,
                        missing);
      goto fail;
    }
  }
  *out = fields;
  *n_out = n;
  return PC_OK;

fail:
  h->host->free(h->host->ctx, fields);
  return rc;
}

/* DSPy's default instructions: "Given the fields `a`, `b`, produce the
 * fields `c`." */
static int default_instructions(pc__ad_buf *b, const pc__ad_sig *sig)
{
  int rc = pc__ad_buf_puts(b, "Given the fields ");
  size_t i;

  for (i = 0; !rc && i < sig->n_inputs; i++) {
    rc = pc__ad_buf_puts(b, i ? ", `" : "`");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->inputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, "`");
  }
  rc = rc ? rc : pc__ad_buf_puts(b, ", produce the fields ");
  for (i = 0; !rc && i < sig->n_outputs; i++) {
    rc = pc__ad_buf_puts(b, i ? ", `" : "`");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->outputs[i].name);
    rc = rc ? rc : pc__ad_buf_puts(b, "`");
  }
  return rc ? rc : pc__ad_buf_puts(b, ".");
}

int pc__ad_sig_load(const pc__ad_host *h, const char *text, size_t len,
                    pc__ad_sig *sig, pc_error *err)
{
  const pc_json *instr;
  pc_error e = PC_ERROR_INIT;
  int rc;

  memset(sig, 0, sizeof(*sig));
  if (!text)
    return pc__ad_error(err, PC_E_INVALID_ARG, "signature JSON: missing");
  if (h->json->parse(h->host->ctx, text, len, PC_JSON_PARSE_STRICT,
                     &sig->root, &e)) {
    rc = pc__ad_error(err, e.code == PC_E_NOMEM ? PC_E_NOMEM
                      : PC_E_INVALID_ARG, "signature JSON: %s", e.message);
    goto fail;
  }
  if (h->json->type(sig->root) != PC_JSON_OBJECT) {
    rc = pc__ad_error(err, PC_E_INVALID_ARG,
                      "signature JSON: not an object");
    goto fail;
  }
  rc = load_fields(h, sig->root, "inputs", &sig->inputs, &sig->n_inputs,
                   err);
  if (rc)
    goto fail;
  rc = load_fields(h, sig->root, "outputs", &sig->outputs, &sig->n_outputs,
                   err);
  if (rc)
    goto fail;
  instr = h->json->object_get(sig->root, "instructions");
  if (instr && h->json->type(instr) == PC_JSON_STRING) {
    sig->instructions = h->json->get_string(instr, &sig->instructions_len);
  } else if (instr && h->json->type(instr) != PC_JSON_NULL) {
    rc = pc__ad_error(err, PC_E_INVALID_ARG,
                      "signature JSON: \"instructions\" is not a string");
    goto fail;
  } else {
    pc__ad_buf b;

    pc__ad_buf_init(&b, h);
    rc = default_instructions(&b, sig);
    if (rc) {
      pc__ad_buf_free(&b);
      rc = pc__ad_error(err, rc, "signature JSON: out of memory");
      goto fail;
    }
    sig->owned = b.data;
    sig->instructions = b.data;
    sig->instructions_len = b.len;
  }
  return PC_OK;

fail:
  pc__ad_sig_clear(h, sig);
  return rc;
}

void pc__ad_sig_clear(const pc__ad_host *h, pc__ad_sig *sig)
{
  const pc_host_api *host = h->host;

  if (sig->inputs)
    host->free(host->ctx, sig->inputs);
  if (sig->outputs)
    host->free(host->ctx, sig->outputs);
  if (sig->owned)
    host->free(host->ctx, sig->owned);
  h->json->free(host->ctx, sig->root);
  memset(sig, 0, sizeof(*sig));
}

/* ------------------------------------------------------------------------ */
/* Layout.                                                                  */

/* One numbered list of get_field_description_string, then stripped. */
static int put_field_list(pc__ad_buf *b, const pc__ad_field *fields,
                          size_t n)
{
  size_t mark = b->len, i;
  char num[32];
  int rc = PC_OK;

  for (i = 0; !rc && i < n; i++) {
    const pc__ad_field *f = &fields[i];
    size_t nl = strlen(f->name);
    const char *desc = f->desc;

    /* The placeholder "${name}" is what DSPy stores for "no description". */
    if (desc[0] == '$' && desc[1] == '{' &&
        !strncmp(desc + 2, f->name, nl) && !strcmp(desc + 2 + nl, "}"))
      desc = "";
    snprintf(num, sizeof(num), "%s%zu. `", i ? "\n" : "", i + 1);
    rc = pc__ad_buf_puts(b, num);
    rc = rc ? rc : pc__ad_buf_puts(b, f->name);
    rc = rc ? rc : pc__ad_buf_puts(b, "` (");
    rc = rc ? rc : pc__ad_buf_puts(b, f->type_name);
    rc = rc ? rc : pc__ad_buf_puts(b, "): ");
    rc = rc ? rc : pc__ad_buf_puts(b, desc);
    if (!rc && f->constraints && *f->constraints) {
      rc = pc__ad_buf_puts(b, "\nConstraints: ");
      rc = rc ? rc : pc__ad_buf_puts(b, f->constraints);
    }
  }
  pc__ad_buf_strip_from(b, mark);
  return rc;
}

int pc__ad_put_description(pc__ad_buf *b, const pc__ad_sig *sig)
{
  int rc = pc__ad_buf_puts(b, "Your input fields are:\n");

  rc = rc ? rc : put_field_list(b, sig->inputs, sig->n_inputs);
  rc = rc ? rc : pc__ad_buf_puts(b, "\nYour output fields are:\n");
  return rc ? rc : put_field_list(b, sig->outputs, sig->n_outputs);
}

/* textwrap.dedent: lines (split at \n) made only of spaces and tabs become
 * empty, and the longest run of leading spaces and tabs common to the
 * other lines is removed from each of them. */
static int dedent(pc__ad_buf *out, const char *s, size_t len)
{
  const char *margin = NULL;
  size_t mlen = 0, pos = 0;
  int rc = PC_OK;

  while (pos <= len) {              /* pass 1: the common margin */
    const char *nl = memchr(s + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - s) : len, i = pos;

    while (i < end && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i < end) {                  /* not blank: it has an indent */
      if (!margin) {
        margin = s + pos;
        mlen = i - pos;
      } else {
        size_t k = 0;

        while (k < mlen && k < i - pos && margin[k] == s[pos + k])
          k++;
        mlen = k;
      }
    }
    pos = end + 1;
  }
  pos = 0;
  while (!rc && pos <= len) {       /* pass 2: write the lines */
    const char *nl = memchr(s + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - s) : len, i = pos;

    while (i < end && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i < end)
      rc = pc__ad_buf_put(out, s + pos + mlen, end - pos - mlen);
    if (!rc && nl)
      rc = pc__ad_buf_put(out, "\n", 1);
    pos = end + 1;
  }
  return rc;
}

int pc__ad_put_task(pc__ad_buf *b, const pc__ad_sig *sig)
{
  pc__ad_buf d;
  size_t pos = 0, line, line_len;
  int rc;

  pc__ad_buf_init(&d, b->h);
  rc = pc__ad_buf_puts(b,
                       "In adhering to this structure, your objective is: ");
  rc = rc ? rc : dedent(&d, sig->instructions, sig->instructions_len);
  while (!rc && pc__ad_next_line(d.data, d.len, &pos, &line, &line_len)) {
    rc = pc__ad_buf_puts(b, "\n        ");
    rc = rc ? rc : pc__ad_buf_put(b, d.data + line, line_len);
  }
  pc__ad_buf_free(&d);
  return rc;
}

/* Python str() of a literal value. */
static int put_pystr(pc__ad_buf *b, const pc_json *v)
{
  const pc__ad_host *h = b->h;
  char *text = NULL;
  size_t len = 0;
  int rc;

  switch (h->json->type(v)) {
  case PC_JSON_STRING: {
    const char *s = h->json->get_string(v, &len);

    return pc__ad_buf_put(b, s, len);
  }
  case PC_JSON_BOOL:
    return pc__ad_buf_puts(b, h->json->get_bool(v) ? "True" : "False");
  case PC_JSON_NULL:
    return pc__ad_buf_puts(b, "None");
  default:
    break;
  }
  rc = h->json->to_text(h->host->ctx, v, PC_JSON_TEXT_COMPACT, &text, &len);
  if (!rc)
    rc = pc__ad_buf_put(b, text, len);
  if (text)
    h->host->free(h->host->ctx, text);
  return rc ? PC_E_NOMEM : PC_OK;
}

int pc__ad_put_placeholder(pc__ad_buf *b, const pc__ad_field *f,
                           int is_output, pc_error *err)
{
  const pc_json_api *js = b->h->json;
  const char *k = f->kind;
  int rc = pc__ad_buf_puts(b, "{");

  rc = rc ? rc : pc__ad_buf_puts(b, f->name);
  rc = rc ? rc : pc__ad_buf_puts(b, "}");
  if (rc || !is_output || !strcmp(k, "str"))
    goto out;
  rc = pc__ad_buf_puts(b, "        # note: the value you produce ");
  if (rc)
    goto out;
  if (!strcmp(k, "bool")) {
    rc = pc__ad_buf_puts(b, "must be True or False");
  } else if (!strcmp(k, "int") || !strcmp(k, "float")) {
    rc = pc__ad_buf_puts(b, "must be a single ");
    rc = rc ? rc : pc__ad_buf_puts(b, k);
    rc = rc ? rc : pc__ad_buf_puts(b, " value");
  } else if (!strcmp(k, "literal")) {
    size_t i, n = js->array_len(f->values);

    rc = pc__ad_buf_puts(b,
                         "must exactly match (no extra characters) one of: ");
    for (i = 0; !rc && i < n; i++) {
      rc = i ? pc__ad_buf_puts(b, "; ") : PC_OK;
      rc = rc ? rc : put_pystr(b, js->array_get(f->values, i));
    }
  } else {
    rc = pc__ad_buf_puts(b, "must adhere to the JSON schema: ");
    rc = rc ? rc : pc__ad_buf_puts(b, f->schema);
  }

out:
  if (rc)
    return pc__ad_error(err, rc, "field %s: out of memory", f->name);
  return PC_OK;
}

int pc__ad_put_type_hint(pc__ad_buf *b, const pc__ad_field *f)
{
  int rc;

  if (!strcmp(f->kind, "str"))
    return PC_OK;
  rc = pc__ad_buf_puts(b, " (must be formatted as a valid Python ");
  rc = rc ? rc : pc__ad_buf_puts(b, f->type_name);
  return rc ? rc : pc__ad_buf_puts(b, ")");
}

int pc__ad_put_section(pc__ad_buf *b, const pc__ad_field *f,
                       const pc_json *value, pc_error *err)
{
  const pc__ad_host *h = b->h;
  pc_error e = PC_ERROR_INIT;
  char *text = NULL;
  size_t len = 0;
  int rc = pc__ad_buf_puts(b, "[[ ## ");

  rc = rc ? rc : pc__ad_buf_puts(b, f->name);
  rc = rc ? rc : pc__ad_buf_puts(b, " ## ]]\n");
  if (rc)
    return pc__ad_error(err, rc, "field %s: out of memory", f->name);
  rc = h->values->render(h->host->ctx, value, f->type, PC_VALUE_RENDER_FIELD,
                         &text, &len, &e);
  if (rc) {
    rc = pc__ad_error(err, rc, "field %s: %s", f->name, e.message);
  } else {
    rc = pc__ad_buf_put(b, text, len);
    if (rc)
      rc = pc__ad_error(err, rc, "field %s: out of memory", f->name);
  }
  if (text)
    h->host->free(h->host->ctx, text);
  return rc;
}

int pc__ad_put_user_content(pc__ad_buf *b, const pc__ad_sig *sig,
                            const pc_json *obj, const char *prefix,
                            const char *reminder, pc_error *err)
{
  size_t mark = b->len, i;
  int rc = pc__ad_buf_puts(b, prefix ? prefix : "");

  for (i = 0; !rc && i < sig->n_inputs; i++) {
    const pc_json *v = b->h->json->object_get(obj, sig->inputs[i].name);

    if (!v)
      continue;                 /* only the inputs the caller gave */
    rc = pc__ad_buf_puts(b, "\n\n");
    if (rc)
      break;
    rc = pc__ad_put_section(b, &sig->inputs[i], v, err);
    if (rc)
      return rc;
  }
  if (!rc && reminder) {
    rc = pc__ad_buf_puts(b, "\n\n");
    rc = rc ? rc : pc__ad_buf_puts(b, reminder);
  }
  if (rc)
    return pc__ad_error(err, rc, "user message: out of memory");
  pc__ad_buf_strip_from(b, mark);
  return PC_OK;
}

static int is_null(const pc__ad_host *h, const pc_json *v)
{
  return !v || h->json->type(v) == PC_JSON_NULL;
}

int pc__ad_demo_class(const pc__ad_host *h, const pc__ad_sig *sig,
                      const pc_json *demo)
{
  int complete = 1, has_input = 0, has_output = 0;
  size_t i;

  for (i = 0; i < sig->n_inputs; i++) {
    const pc_json *v = h->json->object_get(demo, sig->inputs[i].name);

    has_input |= v != NULL;
    complete &= !is_null(h, v);
  }
  for (i = 0; i < sig->n_outputs; i++) {
    const pc_json *v = h->json->object_get(demo, sig->outputs[i].name);

    has_output |= v != NULL;
    complete &= !is_null(h, v);
  }
  if (complete)
    return PC__AD_DEMO_COMPLETE;
  return (has_input && has_output) ? PC__AD_DEMO_INCOMPLETE
                                   : PC__AD_DEMO_DROP;
}

/* ------------------------------------------------------------------------ */
/* format().                                                                */

static int emit(const pc__ad_style *style, const pc_message_sink *out,
                const char *role, const pc__ad_buf *b, pc_error *err)
{
  int rc = out->message(out->ctx, role, pc__ad_buf_str(b), b->len);

  if (rc == PC_OK)
    return PC_OK;
  if (rc < 0 || rc >= PC_E_LAST)
    rc = PC_E_INTERNAL;
  return pc__ad_error(err, rc, "%s: the message sink refused the %s "
                      "message", style->who, role);
}

/* Parse the request's JSON text into *out and check its type. */
static int parse_request_json(const pc__ad_host *h, const char *what,
                              const char *text, size_t len, int32_t want,
                              pc_json **out, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;

  *out = NULL;
  if (!text || len == 0) {
    *out = want == PC_JSON_ARRAY ? h->json->new_array(h->host->ctx)
                                 : h->json->new_object(h->host->ctx);
    return *out ? PC_OK : pc__ad_error(err, PC_E_NOMEM, "%s: out of memory",
                                       what);
  }
  if (h->json->parse(h->host->ctx, text, len, PC_JSON_PARSE_STRICT, out,
                     &e))
    return pc__ad_error(err, e.code == PC_E_NOMEM ? PC_E_NOMEM
                        : PC_E_INVALID_ARG, "%s: %s", what, e.message);
  if (h->json->type(*out) != want) {
    h->json->free(h->host->ctx, *out);
    *out = NULL;
    return pc__ad_error(err, PC_E_INVALID_ARG, "%s: not a JSON %s", what,
                        want == PC_JSON_ARRAY ? "array" : "object");
  }
  return PC_OK;
}

static int put_system(pc__ad_buf *b, const pc__ad_style *style,
                      const pc__ad_sig *sig, pc_error *err)
{
  int rc = pc__ad_put_description(b, sig);

  rc = rc ? rc : pc__ad_buf_puts(b, "\n");
  if (rc)
    return pc__ad_error(err, rc, "%s: out of memory", style->who);
  rc = style->structure(b, sig, err);
  if (rc)
    return rc;
  rc = pc__ad_buf_puts(b, "\n");
  rc = rc ? rc : pc__ad_put_task(b, sig);
  if (rc)
    return pc__ad_error(err, rc, "%s: out of memory", style->who);
  return PC_OK;
}

/* The user/assistant pairs of every demo of class `cls`, in order. */
static int put_demos(const pc__ad_host *h, const pc__ad_style *style,
                     const pc__ad_sig *sig, const pc_json *demos, int cls,
                     const pc_message_sink *out, pc_error *err)
{
  size_t i, n = h->json->array_len(demos);
  pc__ad_buf b;
  int rc = PC_OK;

  pc__ad_buf_init(&b, h);
  for (i = 0; !rc && i < n; i++) {
    const pc_json *demo = h->json->array_get(demos, i);

    if (pc__ad_demo_class(h, sig, demo) != cls)
      continue;
    b.len = 0;
    rc = pc__ad_put_user_content(&b, sig, demo,
                                 cls == PC__AD_DEMO_INCOMPLETE
                                   ? PC__AD_INCOMPLETE_PREFIX : NULL,
                                 NULL, err);
    rc = rc ? rc : emit(style, out, "user", &b, err);
    if (rc)
      break;
    b.len = 0;
    rc = style->assistant(&b, sig, demo, PC__AD_NOT_SUPPLIED, err);
    rc = rc ? rc : emit(style, out, "assistant", &b, err);
  }
  pc__ad_buf_free(&b);
  return rc;
}

int pc__ad_format(const pc__ad_host *h, const pc__ad_style *style,
                  const pc_adapter_format_request *req,
                  const pc_message_sink *out, pc_error *err)
{
  pc__ad_sig sig;
  pc_json *demos = NULL, *inputs = NULL;
  pc__ad_buf b, reminder;
  size_t i, n;
  int rc;

  pc__ad_buf_init(&b, h);
  pc__ad_buf_init(&reminder, h);
  memset(&sig, 0, sizeof(sig));
  if (!req || !PC_HAS_FIELD(req, pc_adapter_format_request, inputs_len) ||
      !out || !out->message)
    return pc__ad_error(err, PC_E_INVALID_ARG,
                        "%s: format: bad request or sink", style->who);
  rc = pc__ad_sig_load(h, req->signature_json, req->signature_len, &sig,
                       err);
  if (rc)
    return rc;
  rc = parse_request_json(h, "demos JSON", req->demos_json, req->demos_len,
                          PC_JSON_ARRAY, &demos, err);
  if (rc)
    goto out;
  n = h->json->array_len(demos);
  for (i = 0; i < n; i++)
    if (h->json->type(h->json->array_get(demos, i)) != PC_JSON_OBJECT) {
      rc = pc__ad_error(err, PC_E_INVALID_ARG,
                        "demos JSON: demo %zu is not an object", i + 1);
      goto out;
    }
  rc = parse_request_json(h, "inputs JSON", req->inputs_json,
                          req->inputs_len, PC_JSON_OBJECT, &inputs, err);
  if (rc)
    goto out;

  rc = put_system(&b, style, &sig, err);
  rc = rc ? rc : emit(style, out, "system", &b, err);
  rc = rc ? rc : put_demos(h, style, &sig, demos, PC__AD_DEMO_INCOMPLETE,
                           out, err);
  rc = rc ? rc : put_demos(h, style, &sig, demos, PC__AD_DEMO_COMPLETE, out,
                           err);
  if (rc)
    goto out;
  rc = style->reminder(&reminder, &sig);
  if (rc) {
    rc = pc__ad_error(err, rc, "%s: out of memory", style->who);
    goto out;
  }
  b.len = 0;
  rc = pc__ad_put_user_content(&b, &sig, inputs, NULL,
                               pc__ad_buf_str(&reminder), err);
  if (!rc && b.len > 0)
    rc = emit(style, out, "user", &b, err);
  if (!rc && style->params &&
      PC_HAS_FIELD(out, pc_message_sink, params) && out->params) {
    rc = out->params(out->ctx, style->params, strlen(style->params));
    if (rc)
      rc = pc__ad_error(err, (rc < 0 || rc >= PC_E_LAST) ? PC_E_INTERNAL
                        : rc, "%s: the message sink refused the LM "
                        "parameters", style->who);
  }

out:
  pc__ad_buf_free(&b);
  pc__ad_buf_free(&reminder);
  h->json->free(h->host->ctx, demos);
  h->json->free(h->host->ctx, inputs);
  pc__ad_sig_clear(h, &sig);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Parsing.                                                                  */

int pc__ad_parse_field(const pc__ad_host *h, const pc__ad_sig *sig,
                       size_t i, const char *text, size_t len,
                       uint32_t flags, pc_json **found, pc_error *err)
{
  const pc__ad_field *f = &sig->outputs[i];
  pc_error e = PC_ERROR_INIT;
  pc_json *v = NULL;
  int rc;

  if (found[i])
    return PC_OK;               /* the first occurrence wins */
  rc = h->values->parse(h->host->ctx, f->type, text, len, flags, &v, &e);
  if (rc) {
    h->json->free(h->host->ctx, v);
    return pc__ad_error(err, rc == PC_E_NOMEM ? PC_E_NOMEM : PC_E_PARSE,
                        "Failed to parse field %s from the LM response: %s",
                        f->name, e.message);
  }
  if (!v)
    v = h->json->new_null(h->host->ctx);
  if (!v)
    return pc__ad_error(err, PC_E_NOMEM, "field %s: out of memory",
                        f->name);
  found[i] = v;
  return PC_OK;
}

void pc__ad_found_free(const pc__ad_host *h, pc_json **found, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    h->json->free(h->host->ctx, found[i]);
    found[i] = NULL;
  }
}

/* "[a, b]" of the output names for which `found` says present (or all of
 * them when found is NULL). */
static int put_name_list(pc__ad_buf *b, const pc__ad_sig *sig,
                         pc_json *const *found)
{
  size_t i;
  int rc = pc__ad_buf_puts(b, "["), first = 1;

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    if (found && !found[i])
      continue;
    rc = first ? PC_OK : pc__ad_buf_puts(b, ", ");
    rc = rc ? rc : pc__ad_buf_puts(b, sig->outputs[i].name);
    first = 0;
  }
  return rc ? rc : pc__ad_buf_puts(b, "]");
}

static int write_result(const pc__ad_host *h, const pc__ad_sig *sig,
                        pc_json **found, const pc_text_sink *out,
                        pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_json *obj = js->new_object(h->host->ctx);
  char *text = NULL;
  size_t len = 0, i;
  int rc = obj ? PC_OK : PC_E_NOMEM;

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    rc = js->object_set(h->host->ctx, obj, sig->outputs[i].name, found[i]);
    found[i] = NULL;            /* taken over, even on failure */
  }
  if (!rc)
    rc = js->to_text(h->host->ctx, obj, PC_JSON_TEXT_COMPACT, &text, &len);
  if (rc) {
    rc = pc__ad_error(err, PC_E_NOMEM, "parse result: out of memory");
  } else {
    rc = out->write(out->ctx, text, len);
    if (rc)
      rc = pc__ad_error(err, (rc < 0 || rc >= PC_E_LAST) ? PC_E_INTERNAL
                        : rc, "parse result: the text sink refused it");
  }
  if (text)
    h->host->free(h->host->ctx, text);
  js->free(h->host->ctx, obj);
  return rc;
}

int pc__ad_finish(const pc__ad_host *h, const pc__ad_sig *sig,
                  pc_json **found, const pc_text_sink *out, pc_error *err)
{
  size_t i;
  int rc = PC_OK, missing = 0;

  for (i = 0; !rc && i < sig->n_outputs; i++) {
    if (found[i])
      continue;
    if (!strcmp(sig->outputs[i].kind, "optional")) {
      found[i] = h->json->new_null(h->host->ctx);
      if (!found[i])
        rc = pc__ad_error(err, PC_E_NOMEM, "parse result: out of memory");
    } else {
      missing = 1;
    }
  }
  if (!rc && missing) {
    pc__ad_buf b;

    pc__ad_buf_init(&b, h);
    rc = put_name_list(&b, sig, NULL);
    rc = rc ? rc : pc__ad_buf_puts(&b, "; found: ");
    rc = rc ? rc : put_name_list(&b, sig, found);
    if (rc)
      rc = pc__ad_error(err, PC_E_NOMEM, "parse result: out of memory");
    else
      rc = pc__ad_error(err, PC_E_PARSE, "Expected to find output fields "
                        "in the LM response: %s", pc__ad_buf_str(&b));
    pc__ad_buf_free(&b);
  }
  if (!rc)
    rc = write_result(h, sig, found, out, err);
  pc__ad_found_free(h, found, sig->n_outputs);
  return rc;
}
