/* sim_request.c - reading the messages an adapter formatted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_request.h"

#define INPUTS_HEAD "Your input fields are:"
#define OUTPUTS_HEAD "Your output fields are:"
#define STRUCTURE_HEAD "All interactions will be structured in the " \
  "following way, with the appropriate values filled in."
#define JSON_MARK "Outputs will be a JSON object with the following fields."
#define TASK_MARK "\nIn adhering to this structure, your objective is: "
#define REMINDER "Respond with "

/* The messages as the v1.0 struct has them. */
#define MESSAGE_V1_SIZE \
  (offsetof(pc_message, content_len) + sizeof(uint64_t))

/* ------------------------------------------------------------------------ */
/* Type names.                                                              */

static int starts(const char *s, size_t len, const char *prefix)
{
  size_t n = strlen(prefix);

  return len >= n && !memcmp(s, prefix, n);
}

static int equals(const char *s, size_t len, const char *word)
{
  return strlen(word) == len && !memcmp(s, word, len);
}

/* The end of a quoted string starting at s[i] (a quote): the index after
 * its closing quote, or len. A backslash escapes the next character. */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
  char q = s[i++];

  while (i < len && s[i] != q)
    i += (s[i] == '\\' && i + 1 < len) ? 2 : 1;
  return i < len ? i + 1 : len;
}

/* The next top-level comma (outside brackets and quotes) at or after i,
 * or len. */
static size_t next_comma(const char *s, size_t len, size_t i)
{
  int depth = 0;

  while (i < len) {
    char c = s[i];

    if (c == '\'' || c == '"') {
      i = skip_quoted(s, len, i);
      continue;
    }
    if (c == '[' || c == '(')
      depth++;
    else if ((c == ']' || c == ')') && depth > 0)
      depth--;
    else if (c == ',' && depth == 0)
      return i;
    i++;
  }
  return len;
}

static void trim_span(const char **s, size_t *len)
{
  size_t a, z;

  pc__sim_trim(*s, *len, &a, &z);
  *s += a;
  *len = z - a;
}

/* The text between "Name[" and the final "]", when s reads so. */
static int generic(const char *s, size_t len, const char *name,
                   const char **args, size_t *args_len)
{
  size_t n = strlen(name);

  if (len < n + 2 || memcmp(s, name, n) || s[n] != '[' || s[len - 1] != ']')
    return 0;
  *args = s + n + 1;
  *args_len = len - n - 2;
  return 1;
}

static int is_none(const char *s, size_t len)
{
  trim_span(&s, &len);
  return equals(s, len, "NoneType") || equals(s, len, "None");
}

void pc__sim_type_read(const char *s, size_t len, pc__sim_type *t)
{
  const char *a;
  size_t alen, c;

  trim_span(&s, &len);
  t->kind = PC__SIM_K_ANY;
  t->inner = NULL;
  t->inner_len = 0;
  if (equals(s, len, "str")) {
    t->kind = PC__SIM_K_STR;
  } else if (equals(s, len, "int")) {
    t->kind = PC__SIM_K_INT;
  } else if (equals(s, len, "float")) {
    t->kind = PC__SIM_K_FLOAT;
  } else if (equals(s, len, "bool")) {
    t->kind = PC__SIM_K_BOOL;
  } else if (generic(s, len, "Literal", &a, &alen)) {
    t->kind = PC__SIM_K_LITERAL;
    t->inner = a;
    t->inner_len = alen;
  } else if (generic(s, len, "list", &a, &alen) ||
             generic(s, len, "List", &a, &alen)) {
    t->kind = PC__SIM_K_LIST;
    t->inner = a;
    t->inner_len = alen;
  } else if (generic(s, len, "dict", &a, &alen) ||
             generic(s, len, "Dict", &a, &alen)) {
    c = next_comma(a, alen, 0);
    t->kind = PC__SIM_K_DICT;
    t->inner = c < alen ? a + c + 1 : a + alen;
    t->inner_len = c < alen ? alen - c - 1 : 0;
  } else if (generic(s, len, "Optional", &a, &alen)) {
    t->kind = PC__SIM_K_OPTIONAL;
    t->inner = a;
    t->inner_len = alen;
  } else if (generic(s, len, "Union", &a, &alen) ||
             generic(s, len, "UnionType", &a, &alen)) {
    /* "Union[T, NoneType]": the member that is not None. */
    size_t i = 0;

    t->kind = PC__SIM_K_OPTIONAL;
    while (i <= alen) {
      c = next_comma(a, alen, i);
      if (!is_none(a + i, c - i)) {
        t->inner = a + i;
        t->inner_len = c - i;
        break;
      }
      i = c + 1;
    }
  }
  if (t->inner)
    trim_span(&t->inner, &t->inner_len);
}

/* One Literal value s[0..len) (trimmed) as a new JSON value. */
static pc_json *literal_value(const pc__sim_host *h, const char *s,
                              size_t len)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;

  if (len >= 2 && (s[0] == '\'' || s[0] == '"') && s[len - 1] == s[0]) {
    pc__sim_buf b;
    pc_json *v = NULL;
    size_t i;
    int rc = PC_OK;

    pc__sim_buf_init(&b, h);
    for (i = 1; !rc && i + 1 < len; i++) {
      /* DSPy escapes only the quote; other backslashes are text. */
      if (s[i] == '\\' && i + 2 < len && s[i + 1] == s[0])
        i++;
      rc = pc__sim_buf_put(&b, s + i, 1);
    }
    if (!rc)
      v = js->new_string(ctx, pc__sim_buf_str(&b), b.len);
    pc__sim_buf_free(&b);
    return v;
  }
  if (equals(s, len, "True") || equals(s, len, "False"))
    return js->new_bool(ctx, s[0] == 'T');
  if (len > 0 && len < 24) {
    char num[24], *end;
    long long n;

    memcpy(num, s, len);
    num[len] = '\0';
    n = strtoll(num, &end, 10);
    if (*end == '\0')
      return js->new_int(ctx, (int64_t)n);
  }
  return js->new_string(ctx, s, len);
}

int pc__sim_literal_values(const pc__sim_host *h, const char *s, size_t len,
                           pc_json **out)
{
  const pc_json_api *js = h->json;
  const char *a;
  size_t alen, i = 0;
  pc_json *arr;

  *out = NULL;
  trim_span(&s, &len);
  if (!generic(s, len, "Literal", &a, &alen))
    return PC_E_INVALID_ARG;
  arr = js->new_array(h->host->ctx);
  if (!arr)
    return PC_E_NOMEM;
  while (i < alen) {
    size_t c = next_comma(a, alen, i);
    const char *v = a + i;
    size_t vlen = c - i;

    trim_span(&v, &vlen);
    if (vlen && js->array_append(h->host->ctx, arr,
                                 literal_value(h, v, vlen))) {
      js->free(h->host->ctx, arr);
      return PC_E_NOMEM;
    }
    i = c + 1;
  }
  *out = arr;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Lines and sections.                                                      */

/* The line starting at pos: its end (before '\n') and the next start. */
static size_t line_end(const char *s, size_t len, size_t pos, size_t *next)
{
  const char *nl = memchr(s + pos, '\n', len - pos);
  size_t end = nl ? (size_t)(nl - s) : len;

  *next = nl ? end + 1 : len;
  return end;
}

static int is_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* If s[pos..end) is a header line "[[ ## name ## ]]" (after blanks), the
 * name's bounds and where the rest of the line starts. */
static int header(const char *s, size_t pos, size_t end, size_t *name,
                  size_t *name_len, size_t *rest)
{
  size_t i;

  while (pos < end && (s[pos] == ' ' || s[pos] == '\t'))
    pos++;
  if (end - pos < 6 || memcmp(s + pos, "[[ ## ", 6))
    return 0;
  for (i = pos + 6; i < end && is_word((unsigned char)s[i]); i++)
    ;
  if (i == pos + 6 || end - i < 6 || memcmp(s + i, " ## ]]", 6))
    return 0;
  *name = pos + 6;
  *name_len = i - pos - 6;
  *rest = i + 6;
  return 1;
}

static long field_index(const pc__sim_field *f, size_t n, const char *s,
                        size_t len)
{
  for (size_t i = 0; i < n; i++)
    if (equals(s, len, f[i].name))
      return (long)i;
  return -1;
}

static int set_text(const pc__sim_host *h, pc__sim_text *t, const char *s,
                    size_t len)
{
  trim_span(&s, &len);
  t->s = pc__sim_strndup(h, s, len);
  t->len = len;
  return t->s ? PC_OK : PC_E_NOMEM;
}

/*
 * Split text[0..len) into sections at header lines naming one of
 * fields[0..n) not seen yet; out[i] gets the trimmed text of field i's
 * section. A "completed" header ends the text. Headers of other names are
 * text of the section they are in.
 */
static int read_sections(const pc__sim_host *h, const char *text,
                         size_t len, const pc__sim_field *fields, size_t n,
                         pc__sim_text *out)
{
  size_t pos = 0, next, start = 0;
  long cur = -1;
  int rc = PC_OK;

  while (!rc && pos < len) {
    size_t end = line_end(text, len, pos, &next), name, name_len, rest;
    long idx;

    if (header(text, pos, end, &name, &name_len, &rest)) {
      idx = field_index(fields, n, text + name, name_len);
      if (idx >= 0 && out[idx].s)
        idx = -1;
      if (idx >= 0 || equals(text + name, name_len, "completed")) {
        if (cur >= 0)
          rc = set_text(h, &out[cur], text + start, pos - start);
        if (idx < 0)
          return rc;
        cur = idx;
        start = rest;
      }
    }
    pos = next;
  }
  if (!rc && cur >= 0)
    rc = set_text(h, &out[cur], text + start, len - start);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The system message.                                                      */

static int add_field(const pc__sim_host *h, pc__sim_field **fields,
                     size_t *n, const char *name, size_t name_len,
                     const char *type, size_t type_len)
{
  pc__sim_field *p = h->host->realloc(h->host->ctx, *fields,
                                      (*n + 1) * sizeof(*p));

  if (!p)
    return PC_E_NOMEM;
  *fields = p;
  p = &p[*n];
  memset(p, 0, sizeof(*p));
  p->name = pc__sim_strndup(h, name, name_len);
  p->type = pc__sim_strndup(h, type, type_len);
  (*n)++;                       /* cleared by the caller on failure */
  if (!p->name || !p->type)
    return PC_E_NOMEM;
  pc__sim_type_read(p->type, type_len, &p->t);
  return PC_OK;
}

/* If the line at s[pos..) is "N. `name` (TYPE):", with N the expected
 * number, add the field and return 1 (-1 when out of memory); *pos moves
 * to the end of the type. */
static int field_line(const pc__sim_host *h, const char *s, size_t len,
                      size_t *pos, size_t number, pc__sim_field **fields,
                      size_t *n)
{
  char num[32];
  size_t nl = (size_t)snprintf(num, sizeof(num), "%zu. `", number);
  size_t i = *pos + nl, name, name_len, type;
  int depth = 0;

  if (len - *pos < nl || memcmp(s + *pos, num, nl))
    return 0;
  name = i;
  while (i < len && s[i] != '`' && s[i] != '\n')
    i++;
  name_len = i - name;
  if (i + 2 >= len || name_len == 0 || s[i + 1] != ' ' || s[i + 2] != '(')
    return 0;
  i += 3;
  type = i;
  while (i < len) {
    char c = s[i];

    if (c == '\'' || c == '"') {
      i = skip_quoted(s, len, i);
      continue;
    }
    if (c == '[' || c == '(')
      depth++;
    else if (c == ')' && depth == 0)
      break;
    else if ((c == ']' || c == ')') && depth > 0)
      depth--;
    i++;
  }
  if (i >= len)
    return 0;
  if (add_field(h, fields, n, s + name, name_len, s + type, i - type))
    return -1;
  *pos = i;
  return 1;
}

/* Read one field list from the line at *pos up to the line that starts
 * with `stop`; *pos is left at that line. Returns 1 when read, 0 when the
 * text is not laid out so, -1 when out of memory. */
static int field_list(const pc__sim_host *h, const char *s, size_t len,
                      size_t *pos, const char *stop, pc__sim_field **fields,
                      size_t *n)
{
  size_t next;

  while (*pos < len) {
    int r;

    if (starts(s + *pos, len - *pos, stop))
      return 1;
    r = field_line(h, s, len, pos, *n + 1, fields, n);
    if (r < 0)
      return -1;
    line_end(s, len, *pos, &next);
    *pos = next;
  }
  return 0;
}

/* The instructions after TASK_MARK: each line without its 8-space indent. */
static int read_instructions(const pc__sim_host *h, const char *s,
                             size_t len, pc__sim_request *r)
{
  pc__sim_buf b;
  size_t pos, next;
  const char *mark = NULL;
  size_t ml = strlen(TASK_MARK), i;
  int rc = PC_OK, first = 1;

  for (i = 0; i + ml <= len; i++)
    if (s[i] == '\n' && !memcmp(s + i, TASK_MARK, ml)) {
      mark = s + i;
      break;
    }
  pc__sim_buf_init(&b, h);
  if (mark) {
    pos = (size_t)(mark - s) + ml;
    line_end(s, len, pos, &next);   /* the rest of the marker line */
    pos = next;
    while (!rc && pos < len) {
      size_t end = line_end(s, len, pos, &next);

      if (end - pos >= 8 && !memcmp(s + pos, "        ", 8))
        pos += 8;
      if (!first)
        rc = pc__sim_buf_put(&b, "\n", 1);
      rc = rc ? rc : pc__sim_buf_put(&b, s + pos, end - pos);
      first = 0;
      pos = next;
    }
  }
  if (!rc && !b.data)
    rc = pc__sim_buf_put(&b, "", 0);
  if (rc) {
    pc__sim_buf_free(&b);
    return rc;
  }
  r->instructions = b.data;
  r->instructions_len = b.len;
  return PC_OK;
}

static int read_system(const pc__sim_host *h, const char *s, size_t len,
                       pc__sim_request *r)
{
  size_t pos = 0, next;
  int ok;

  r->adapter = PC__SIM_CHAT;
  for (size_t i = 0; i + strlen(JSON_MARK) <= len; i++)
    if (s[i] == 'O' && starts(s + i, len - i, JSON_MARK)) {
      r->adapter = PC__SIM_JSON;
      break;
    }
  if (!starts(s, len, INPUTS_HEAD))
    return read_instructions(h, "", 0, r);
  line_end(s, len, pos, &next);
  pos = next;
  ok = field_list(h, s, len, &pos, OUTPUTS_HEAD, &r->inputs, &r->n_inputs);
  if (ok > 0) {
    line_end(s, len, pos, &next);
    pos = next;
    ok = field_list(h, s, len, &pos, STRUCTURE_HEAD, &r->outputs,
                    &r->n_outputs);
  }
  if (ok < 0)
    return PC_E_NOMEM;
  r->formatted = ok > 0;
  return read_instructions(h, s + pos, len - pos, r);
}

/* ------------------------------------------------------------------------ */
/* Demos and the final user message.                                        */

static const pc_message *message_at(const pc_lm_request *req, size_t i)
{
  return (const pc_message *)(const void *)((const char *)req->messages +
                                            i * req->message_size);
}

static int role_is(const pc_message *m, const char *role)
{
  return m->role && !strcmp(m->role, role);
}

/* The length of a final user message without its "Respond with ..."
 * reminder paragraph. */
static size_t without_reminder(const char *s, size_t len)
{
  size_t rl = strlen(REMINDER), i;

  if (starts(s, len, REMINDER))
    return 0;
  for (i = len; i >= 2 + rl; i--) {
    size_t at = i - rl - 2;

    if (s[at] == '\n' && s[at + 1] == '\n' &&
        !memcmp(s + at + 2, REMINDER, rl))
      return at;
  }
  return len;
}

static int not_supplied(const char *s, size_t len)
{
  trim_span(&s, &len);
  return starts(s, len, PC__SIM_NOT_SUPPLIED);
}

/* A JSON assistant message: each output rendered as a prompt shows it. */
static int json_outputs(const pc__sim_host *h, const pc__sim_request *r,
                        const char *s, size_t len, pc__sim_text *out)
{
  const pc_json_api *js = h->json;
  pc_error e = PC_ERROR_INIT;
  pc__sim_buf b;
  pc_json *obj = NULL;
  int rc = PC_OK;

  if (js->parse(h->host->ctx, s, len, PC_JSON_PARSE_REPAIR, &obj, &e) ||
      !obj || js->type(obj) != PC_JSON_OBJECT) {
    js->free(h->host->ctx, obj);
    return PC_OK;                 /* nothing readable: outputs missing */
  }
  pc__sim_buf_init(&b, h);
  for (size_t i = 0; !rc && i < r->n_outputs; i++) {
    const pc_json *v = js->object_get(obj, r->outputs[i].name);

    if (!v || js->type(v) == PC_JSON_NULL)
      continue;
    b.len = 0;
    rc = pc__sim_render(h, v, r->outputs[i].t.kind == PC__SIM_K_STR, &b,
                        &e);
    if (!rc)
      rc = set_text(h, &out[i], pc__sim_buf_str(&b), b.len);
  }
  pc__sim_buf_free(&b);
  js->free(h->host->ctx, obj);
  return rc ? PC_E_NOMEM : PC_OK;
}

static int read_demo(const pc__sim_host *h, pc__sim_request *r,
                     const pc_message *user, const pc_message *assistant,
                     pc__sim_demo *d)
{
  const char *u = user->content ? user->content : "";
  const char *a = assistant->content ? assistant->content : "";
  size_t ulen = user->content ? (size_t)user->content_len : 0;
  size_t alen = assistant->content ? (size_t)assistant->content_len : 0;
  size_t i;
  int rc, incomplete = starts(u, ulen, PC__SIM_INCOMPLETE_PREFIX);

  d->inputs = pc__sim_alloc(h, (r->n_inputs + 1) * sizeof(*d->inputs));
  d->outputs = pc__sim_alloc(h, (r->n_outputs + 1) * sizeof(*d->outputs));
  if (!d->inputs || !d->outputs)
    return PC_E_NOMEM;
  rc = read_sections(h, u, ulen, r->inputs, r->n_inputs, d->inputs);
  if (!rc && r->adapter == PC__SIM_JSON)
    rc = json_outputs(h, r, a, alen, d->outputs);
  else if (!rc)
    rc = read_sections(h, a, alen, r->outputs, r->n_outputs, d->outputs);
  if (rc)
    return rc;
  d->complete = !incomplete;
  for (i = 0; i < r->n_inputs; i++)
    d->complete &= d->inputs[i].s != NULL;
  for (i = 0; i < r->n_outputs; i++) {
    pc__sim_text *t = &d->outputs[i];

    if (t->s && not_supplied(t->s, t->len)) {
      pc__sim_free(h, t->s);
      t->s = NULL;
      t->len = 0;
    }
    d->complete &= t->s != NULL;
  }
  return PC_OK;
}

int pc__sim_request_read(const pc__sim_host *h, const pc_lm_request *req,
                         pc__sim_request *out, pc_error *err)
{
  const pc_message *sys, *last;
  uint64_t hash = PC__SIM_FNV_INIT, bytes = 0;
  size_t n, i;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!req->messages || req->n_messages == 0)
    return pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": the request "
                         "has no messages");
  if (req->message_size < MESSAGE_V1_SIZE)
    return pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": message "
                         "size %u is too small", (unsigned)req->message_size);
  n = (size_t)req->n_messages;
  for (i = 0; i < n; i++) {
    const pc_message *m = message_at(req, i);

    if (!m->role || (!m->content && m->content_len))
      return pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": message "
                           "%zu has no role or no content", i + 1);
    hash = pc__sim_fnv(hash, m->role, strlen(m->role) + 1);
    hash = pc__sim_fnv(hash, m->content ? m->content : "",
                       (size_t)m->content_len);
    hash = pc__sim_fnv(hash, "", 1);
    bytes += m->content_len;
  }
  sys = message_at(req, 0);
  last = message_at(req, n - 1);
  if (!role_is(sys, "system"))
    return pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": the request "
                         "has no system message (the first message must be "
                         "the adapter's system message)");
  if (n < 2 || !role_is(last, "user"))
    return pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": the last "
                         "message of the request must be a user message");
  out->prompt_hash = pc__sim_mix(hash);
  out->prompt_bytes = bytes;
  rc = read_system(h, sys->content ? sys->content : "",
                   (size_t)sys->content_len, out);
  if (!rc)
    out->demos = pc__sim_alloc(h, n * sizeof(*out->demos));
  if (!rc && !out->demos)
    rc = PC_E_NOMEM;
  for (i = 1; !rc && i + 1 < n - 1;) {
    const pc_message *u = message_at(req, i), *a = message_at(req, i + 1);

    if (role_is(u, "user") && role_is(a, "assistant")) {
      rc = read_demo(h, out, u, a, &out->demos[out->n_demos++]);
      i += 2;
    } else {
      i++;                        /* not a pair: skipped */
    }
  }
  if (!rc) {
    const char *s = last->content ? last->content : "";

    out->current = pc__sim_alloc(h, (out->n_inputs + 1) *
                                    sizeof(*out->current));
    rc = out->current ? PC_OK : PC_E_NOMEM;
    if (!rc)
      rc = read_sections(h, s, without_reminder(s, (size_t)last->content_len),
                         out->inputs, out->n_inputs, out->current);
  }
  if (rc) {
    pc__sim_request_clear(h, out);
    return pc__sim_error(err, rc, PC__SIM_WHO ": out of memory");
  }
  return PC_OK;
}

static void texts_free(const pc__sim_host *h, pc__sim_text *t, size_t n)
{
  if (!t)
    return;
  for (size_t i = 0; i < n; i++)
    pc__sim_free(h, t[i].s);
  pc__sim_free(h, t);
}

void pc__sim_request_clear(const pc__sim_host *h, pc__sim_request *r)
{
  size_t i;

  for (i = 0; i < r->n_demos; i++) {
    texts_free(h, r->demos[i].inputs, r->n_inputs);
    texts_free(h, r->demos[i].outputs, r->n_outputs);
  }
  pc__sim_free(h, r->demos);
  texts_free(h, r->current, r->n_inputs);
  for (i = 0; i < r->n_inputs; i++) {
    pc__sim_free(h, r->inputs[i].name);
    pc__sim_free(h, r->inputs[i].type);
  }
  for (i = 0; i < r->n_outputs; i++) {
    pc__sim_free(h, r->outputs[i].name);
    pc__sim_free(h, r->outputs[i].type);
  }
  pc__sim_free(h, r->inputs);
  pc__sim_free(h, r->outputs);
  pc__sim_free(h, r->instructions);
  memset(r, 0, sizeof(*r));
}
