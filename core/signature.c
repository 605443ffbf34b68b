/* signature.c - signatures: parse, build from JSON, edit and render. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "signature.h"

/* Longest part of a signature quoted back in a message, in bytes. */
#define SIG_QUOTE_MAX 60

/* Python keywords: valid identifiers that cannot name a parameter. */
static const char *const keywords[] = {
  "False", "None", "True", "and", "as", "assert", "async", "await",
  "break", "class", "continue", "def", "del", "elif", "else", "except",
  "finally", "for", "from", "global", "if", "import", "in", "is",
  "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
  "while", "with", "yield",
};

/* ---------------------------------------------------------------------- */
/* Fields and names                                                       */
/* ---------------------------------------------------------------------- */

static int is_ident_start(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_keyword(const char *s, size_t n)
{
  for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
    if (strlen(keywords[i]) == n && memcmp(keywords[i], s, n) == 0)
      return 1;
  return 0;
}

/* How a would-be field name is wrong: 0 when valid, 1 when it is not an
 * ASCII identifier, 2 when it is a Python keyword. */
static int name_problem(const char *s, size_t n)
{
  if (n == 0 || !is_ident_start((unsigned char)s[0]))
    return 1;
  for (size_t i = 1; i < n; i++)
    if (!is_ident_char((unsigned char)s[i]))
      return 1;
  return is_keyword(s, n) ? 2 : 0;
}

static void field_clear(pc_field *f)
{
  pc_free(f->name);
  pc_type_free(f->type);
  pc_free(f->desc);
  f->name = NULL;
  f->type = NULL;
  f->desc = NULL;
}

static void fields_free(pc_field *f, size_t n)
{
  for (size_t i = 0; i < n; i++)
    field_clear(&f[i]);
  pc_free(f);
}

/* The description to store: "" for none and for DSPy's "${name}"
 * placeholder, else a copy. Owned by the caller; NULL when OOM. */
static char *desc_copy(const char *name, const char *desc)
{
  size_t n = strlen(name);

  if (!desc || (strncmp(desc, "${", 2) == 0 &&
                strncmp(desc + 2, name, n) == 0 &&
                strcmp(desc + 2 + n, "}") == 0))
    return pc_strdup("");
  return pc_strdup(desc);
}

/*
 * Append a field to (*arr, *n). Takes ownership of name, type and desc
 * (all non-NULL), freeing them on failure. PC_OK or PC_E_NOMEM.
 */
static int push_field(pc_field **arr, size_t *n, char *name, pc_type *type,
                      char *desc)
{
  pc_field *grown;

  if (!name || !type || !desc)
    goto fail;
  grown = pc_realloc(*arr, (*n + 1) * sizeof(**arr));
  if (!grown)
    goto fail;
  *arr = grown;
  grown[*n].name = name;
  grown[*n].type = type;
  grown[*n].desc = desc;
  (*n)++;
  return PC_OK;

fail:
  pc_free(name);
  pc_type_free(type);
  pc_free(desc);
  return PC_E_NOMEM;
}

static const pc_field *find_in(const pc_field *f, size_t n, const char *name,
                               size_t len)
{
  for (size_t i = 0; i < n; i++)
    if (strlen(f[i].name) == len && memcmp(f[i].name, name, len) == 0)
      return &f[i];
  return NULL;
}

static int name_taken(const pc_signature *sig, const char *name, size_t len)
{
  return find_in(sig->inputs, sig->n_inputs, name, len) ||
         find_in(sig->outputs, sig->n_outputs, name, len);
}

const pc_field *pc_signature_find(const pc_signature *sig, const char *name,
                                  int is_output)
{
  if (!sig || !name)
    return NULL;
  if (is_output)
    return find_in(sig->outputs, sig->n_outputs, name, strlen(name));
  return find_in(sig->inputs, sig->n_inputs, name, strlen(name));
}

/* ---------------------------------------------------------------------- */
/* Instructions                                                           */
/* ---------------------------------------------------------------------- */

static int put_names(pc_buf *out, const pc_field *f, size_t n)
{
  int rc = PC_OK;

  for (size_t i = 0; i < n && !rc; i++)
    rc = pc_buf_printf(out, "%s`%s`", i ? ", " : "", f[i].name);
  return rc;
}

int pc_signature_default_instructions(const pc_signature *sig, pc_buf *out)
{
  size_t len = out->len;
  int rc = pc_buf_puts(out, "Given the fields ");

  if (!rc)
    rc = put_names(out, sig->inputs, sig->n_inputs);
  if (!rc)
    rc = pc_buf_puts(out, ", produce the fields ");
  if (!rc)
    rc = put_names(out, sig->outputs, sig->n_outputs);
  if (!rc)
    rc = pc_buf_putc(out, '.');
  if (rc && out->data) {
    out->len = len;
    out->data[len] = '\0';
  }
  return rc;
}

/* Whitespace as Python's str.lstrip() sees it, within ASCII. */
static int is_py_space(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f' || (c >= 0x1c && c <= 0x1f);
}

/*
 * Python's inspect.cleandoc: tabs expanded to 8-column stops, leading
 * blanks of the first line removed, the common indentation of the other
 * lines removed, and empty lines at both ends dropped. The result is owned
 * by the caller (pc_free); NULL when out of memory.
 */
static char *cleandoc(const char *text)
{
  pc_buf ex, out;
  size_t margin = (size_t)-1, col = 0, start, end;
  char *res = NULL;
  int rc = PC_OK;

  pc_buf_init(&ex, 0);
  pc_buf_init(&out, 0);
  /* Expand tabs; columns count code points and restart after \n or \r. */
  for (const char *p = text; *p && !rc; p++) {
    if (*p == '\t') {
      do
        rc = pc_buf_putc(&ex, ' ');
      while (!rc && ++col % 8);
      continue;
    }
    rc = pc_buf_putc(&ex, *p);
    if (*p == '\n' || *p == '\r')
      col = 0;
    else if (((unsigned char)*p & 0xc0) != 0x80)
      col++;
  }
  if (rc || pc_buf_putc(&ex, '\0'))
    goto out;
  ex.len--;
  /* The margin: the smallest indentation of a non-blank later line. */
  for (size_t i = 0, line = 0; i <= ex.len; line++) {
    size_t eol = i, ind = 0;

    while (eol < ex.len && ex.data[eol] != '\n')
      eol++;
    while (i + ind < eol && is_py_space((unsigned char)ex.data[i + ind]))
      ind++;
    if (line > 0 && i + ind < eol && ind < margin)
      margin = ind;
    i = eol + 1;
  }
  /* Build the lines, then trim empty lines from both ends. */
  for (size_t i = 0, line = 0; i <= ex.len && !rc; line++) {
    size_t eol = i, skip = 0;

    while (eol < ex.len && ex.data[eol] != '\n')
      eol++;
    if (line == 0)
      while (i + skip < eol && is_py_space((unsigned char)ex.data[i + skip]))
        skip++;
    else if (margin != (size_t)-1)
      skip = eol - i < margin ? eol - i : margin;
    if (line > 0)
      rc = pc_buf_putc(&out, '\n');
    if (!rc)
      rc = pc_buf_append(&out, ex.data + i + skip, eol - i - skip);
    i = eol + 1;
  }
  if (rc)
    goto out;
  start = 0;
  end = out.len;
  /* Leading empty lines: each is a '\n' at the start. */
  while (start < end && out.data && out.data[start] == '\n')
    start++;
  while (end > start && out.data[end - 1] == '\n')
    end--;
  res = pc_strndup(out.data ? out.data + start : "", end - start);

out:
  pc_buf_free(&ex);
  pc_buf_free(&out);
  return res;
}

/* Store the default sentence as the instructions. */
static int use_default_instructions(pc_signature *sig)
{
  pc_buf b;
  char *text;

  pc_buf_init(&b, 0);
  if (pc_signature_default_instructions(sig, &b)) {
    pc_buf_free(&b);
    return PC_E_NOMEM;
  }
  text = pc_buf_take(&b, NULL);
  if (!text)
    return PC_E_NOMEM;
  pc_free(sig->instructions);
  sig->instructions = text;
  sig->default_instructions = 1;
  return PC_OK;
}

int pc_signature_set_instructions(pc_signature *sig, const char *text)
{
  char *clean = NULL;
  pc_buf def;
  int rc = PC_OK;

  if (!sig)
    return PC_E_INVALID_ARG;
  if (text) {
    clean = cleandoc(text);
    if (!clean)
      return PC_E_NOMEM;
  }
  if (!clean || !clean[0]) {
    pc_free(clean);
    return use_default_instructions(sig);
  }
  /* Text equal to the generated sentence is still the default. */
  pc_buf_init(&def, 0);
  rc = pc_signature_default_instructions(sig, &def);
  if (rc) {
    pc_free(clean);
    goto out;
  }
  pc_free(sig->instructions);
  sig->instructions = clean;
  sig->default_instructions = strcmp(clean, def.data) == 0;

out:
  pc_buf_free(&def);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                             */
/* ---------------------------------------------------------------------- */

void pc_signature_free(pc_signature *sig)
{
  if (!sig)
    return;
  fields_free(sig->inputs, sig->n_inputs);
  fields_free(sig->outputs, sig->n_outputs);
  pc_free(sig->instructions);
  pc_free(sig);
}

static int copy_fields(const pc_field *src, size_t n, pc_field **dst,
                       size_t *dn)
{
  for (size_t i = 0; i < n; i++)
    if (push_field(dst, dn, pc_strdup(src[i].name),
                   pc_type_copy(src[i].type), pc_strdup(src[i].desc)))
      return PC_E_NOMEM;
  return PC_OK;
}

pc_signature *pc_signature_copy(const pc_signature *sig)
{
  pc_signature *c;

  if (!sig)
    return NULL;
  c = pc_calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->default_instructions = sig->default_instructions;
  c->instructions = pc_strdup(sig->instructions ? sig->instructions : "");
  if (!c->instructions ||
      copy_fields(sig->inputs, sig->n_inputs, &c->inputs, &c->n_inputs) ||
      copy_fields(sig->outputs, sig->n_outputs, &c->outputs, &c->n_outputs))
    goto fail;
  return c;

fail:
  pc_signature_free(c);
  return NULL;
}

int pc_signature_prepend_output(pc_signature *sig, const char *name,
                                const pc_type *type, const char *desc)
{
  pc_field *grown;
  char *n = NULL, *d = NULL;
  pc_type *t = NULL;

  if (!sig || !name || !type || name_problem(name, strlen(name)) ||
      name_taken(sig, name, strlen(name)))
    return PC_E_INVALID_ARG;
  n = pc_strdup(name);
  d = desc_copy(name, desc);
  t = pc_type_copy(type);
  if (!n || !d || !t)
    goto fail;
  grown = pc_realloc(sig->outputs, (sig->n_outputs + 1) * sizeof(*grown));
  if (!grown)
    goto fail;
  sig->outputs = grown;
  memmove(grown + 1, grown, sig->n_outputs * sizeof(*grown));
  grown[0].name = n;
  grown[0].type = t;
  grown[0].desc = d;
  sig->n_outputs++;
  /* The instructions stay as they are, as DSPy's prepend keeps them. */
  return PC_OK;

fail:
  pc_free(n);
  pc_free(d);
  pc_type_free(t);
  return PC_E_NOMEM;
}

/* ---------------------------------------------------------------------- */
/* The string form                                                        */
/* ---------------------------------------------------------------------- */

/* The 1-based column of byte `off`: code points before it, plus one. */
static size_t column_of(const char *s, size_t off)
{
  size_t col = 1;

  for (size_t i = 0; i < off && s[i]; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      col++;
  return col;
}

static int sig_fail(const char *text, size_t off, pc_error *err, int code,
                    const char *fmt, ...) PC_PRINTF(5, 6);

/*
 * Record `signature "<text>": column N: <detail>`. Long signatures are
 * cut (on a character boundary) and marked with "..." so the column, which
 * comes before the detail, always fits in the message.
 */
static int sig_fail(const char *text, size_t off, pc_error *err, int code,
                    const char *fmt, ...)
{
  char detail[PC_ERROR_MESSAGE_MAX];
  size_t qlen = strlen(text);
  const char *ell = "";
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  if (qlen > SIG_QUOTE_MAX) {
    qlen = SIG_QUOTE_MAX - 3;
    while (qlen > 0 && ((unsigned char)text[qlen] & 0xc0) == 0x80)
      qlen--;
    ell = "...";
  }
  return pc_error_set(err, code, "signature \"%.*s%s\": column %zu: %s",
                      (int)qlen, text, ell, column_of(text, off), detail);
}

/* Offset just past the quoted string opening at `i`, or (size_t)-1 when
 * it is not closed before `end`. */
static size_t skip_quoted(const char *s, size_t i, size_t end)
{
  char q = s[i++];

  while (i < end) {
    if (s[i] == '\\' && i + 1 < end)
      i += 2;
    else if (s[i++] == q)
      return i;
  }
  return (size_t)-1;
}

/* The first `target` in [i, end) outside brackets and quotes, or `end`:
 * ',' ends an item, '=' starts a (refused) default value. */
static size_t find_top_level(const char *s, size_t i, size_t end,
                             char target)
{
  int depth = 0;

  while (i < end) {
    char c = s[i];

    if (c == '\'' || c == '"') {
      size_t j = skip_quoted(s, i, end);

      i = j == (size_t)-1 ? end : j;
      continue;
    }
    if (c == '[')
      depth++;
    else if (c == ']' && depth > 0)
      depth--;
    else if (c == target && depth == 0)
      return i;
    i++;
  }
  return end;
}

static int is_blank(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/* What the string parser keeps between fields. */
typedef struct sigparse {
  const char *text;   /* borrowed: the whole signature */
  pc_signature *sig;  /* being built */
  pc_buf dups;        /* names seen twice, ", "-joined */
  size_t dup_off;     /* offset of the first repeated name */
  pc_error *err;
} sigparse;

/* Whether `name` is already listed in sp->dups. */
static int dup_listed(const sigparse *sp, const char *name, size_t n)
{
  const char *p = sp->dups.data;

  while (p && *p) {
    size_t len = strcspn(p, ",");

    if (len == n && memcmp(p, name, n) == 0)
      return 1;
    p += len;
    while (*p == ',' || *p == ' ')
      p++;
  }
  return 0;
}

/* Parse the field in [i, end) and append it to the inputs or outputs. */
static int parse_field(sigparse *sp, size_t i, size_t end, int is_output)
{
  const char *s = sp->text;
  size_t name_at, name_len, eq;
  pc_type *type = NULL;
  int rc;

  while (i < end && is_blank((unsigned char)s[i]))
    i++;
  name_at = i;
  while (i < end && is_ident_char((unsigned char)s[i]))
    i++;
  name_len = i - name_at;
  if (name_len == 0 || !is_ident_start((unsigned char)s[name_at]))
    return sig_fail(s, name_at, sp->err, PC_E_INVALID_ARG,
                    "expected a field name");
  if (is_keyword(s + name_at, name_len))
    return sig_fail(s, name_at, sp->err, PC_E_INVALID_ARG,
                    "'%.*s' is a Python keyword, not a field name",
                    (int)name_len, s + name_at);
  while (i < end && is_blank((unsigned char)s[i]))
    i++;
  if (i == end) {
    type = pc_type_new_simple(PC_TYPE_STR);
    if (!type)
      return sig_fail(s, name_at, sp->err, PC_E_NOMEM, "out of memory");
  } else if (s[i] == '=') {
    return sig_fail(s, i, sp->err, PC_E_INVALID_ARG,
                    "default values are not supported");
  } else if (s[i] != ':') {
    return sig_fail(s, i, sp->err, PC_E_INVALID_ARG,
                    "expected ':' or ',' after the field name '%.*s'",
                    (int)name_len, s + name_at);
  } else {
    pc_error terr = PC_ERROR_INIT;
    size_t off = 0;

    i++;
    eq = find_top_level(s, i, end, '=');
    if (eq < end)
      return sig_fail(s, eq, sp->err, PC_E_INVALID_ARG,
                      "default values are not supported");
    rc = pc_type_parse(s + i, end - i, &type, &off, &terr);
    if (rc)
      return sig_fail(s, i + off, sp->err, rc, "%s", terr.message);
  }
  if (name_taken(sp->sig, s + name_at, name_len) &&
      !dup_listed(sp, s + name_at, name_len)) {
    if (!sp->dups.len)
      sp->dup_off = name_at;
    if ((sp->dups.len && pc_buf_puts(&sp->dups, ", ")) ||
        pc_buf_append(&sp->dups, s + name_at, name_len)) {
      pc_type_free(type);
      return sig_fail(s, name_at, sp->err, PC_E_NOMEM, "out of memory");
    }
  }
  if (is_output)
    rc = push_field(&sp->sig->outputs, &sp->sig->n_outputs,
                    pc_strndup(s + name_at, name_len), type, pc_strdup(""));
  else
    rc = push_field(&sp->sig->inputs, &sp->sig->n_inputs,
                    pc_strndup(s + name_at, name_len), type, pc_strdup(""));
  if (rc)
    return sig_fail(s, name_at, sp->err, rc, "out of memory");
  return PC_OK;
}

/* Parse the comma-separated fields of one side, [i, end). */
static int parse_side(sigparse *sp, size_t i, size_t end, int is_output)
{
  const char *s = sp->text;
  size_t count = 0;

  for (;;) {
    size_t e = find_top_level(s, i, end, ','), j = i;
    int rc;

    while (j < e && is_blank((unsigned char)s[j]))
      j++;
    if (j == e) {
      /* Nothing here: fine for an empty side or after a last comma. */
      if (e == end && (count > 0 || i == 0 || s[i - 1] != ','))
        return PC_OK;
      return sig_fail(s, j, sp->err, PC_E_INVALID_ARG,
                      "expected a field name");
    }
    rc = parse_field(sp, i, e, is_output);
    if (rc)
      return rc;
    count++;
    if (e == end)
      return PC_OK;
    i = e + 1;
  }
}

/*
 * Check quotes and brackets and find the one top-level "->". Stores its
 * offset in *arrow.
 */
static int find_arrow(const char *s, size_t *arrow, pc_error *err)
{
  size_t len = strlen(s), found = (size_t)-1;
  size_t open[64];
  size_t depth = 0;

  for (size_t i = 0; i < len;) {
    char c = s[i];

    if (c == '\'' || c == '"') {
      size_t j = skip_quoted(s, i, len);

      if (j == (size_t)-1)
        return sig_fail(s, i, err, PC_E_INVALID_ARG, "unterminated string");
      i = j;
      continue;
    }
    if (c == '[') {
      if (depth == sizeof(open) / sizeof(open[0]))
        return sig_fail(s, i, err, PC_E_INVALID_ARG,
                        "brackets nested too deeply");
      open[depth++] = i;
    } else if (c == ']') {
      if (depth == 0)
        return sig_fail(s, i, err, PC_E_INVALID_ARG, "unmatched ']'");
      depth--;
    } else if (c == '-' && s[i + 1] == '>' && depth == 0) {
      if (found != (size_t)-1)
        return sig_fail(s, i, err, PC_E_INVALID_ARG,
                        "more than one '->'");
      found = i;
      i += 2;
      continue;
    }
    i++;
  }
  if (depth > 0)
    return sig_fail(s, open[depth - 1], err, PC_E_INVALID_ARG,
                    "'[' is never closed");
  if (found == (size_t)-1)
    return sig_fail(s, len, err, PC_E_INVALID_ARG,
                    "expected '->' between the inputs and the outputs");
  *arrow = found;
  return PC_OK;
}

int pc_signature_parse(const char *text, pc_signature **out, pc_error *err)
{
  sigparse sp;
  size_t arrow = 0;
  int rc;

  *out = NULL;
  if (!text)
    return pc_error_set(err, PC_E_INVALID_ARG, "signature: missing");
  sp.text = text;
  sp.err = err;
  sp.dup_off = 0;
  pc_buf_init(&sp.dups, 0);
  sp.sig = pc_calloc(1, sizeof(*sp.sig));
  if (!sp.sig)
    return pc_error_set(err, PC_E_NOMEM, "signature: out of memory");
  rc = find_arrow(text, &arrow, err);
  if (rc)
    goto fail;
  rc = parse_side(&sp, 0, arrow, 0);
  if (!rc)
    rc = parse_side(&sp, arrow + 2, strlen(text), 1);
  if (rc)
    goto fail;
  if (sp.dups.len) {
    rc = sig_fail(text, sp.dup_off, err, PC_E_INVALID_ARG,
                  "duplicate field names: %s", sp.dups.data);
    goto fail;
  }
  rc = use_default_instructions(sp.sig);
  if (rc) {
    rc = pc_error_set(err, PC_E_NOMEM, "signature: out of memory");
    goto fail;
  }
  pc_buf_free(&sp.dups);
  *out = sp.sig;
  return PC_OK;

fail:
  pc_buf_free(&sp.dups);
  pc_signature_free(sp.sig);
  return rc;
}

int pc_signature_to_string(const pc_signature *sig, pc_buf *out)
{
  size_t len = out->len;
  int rc = PC_OK;

  for (int side = 0; side < 2 && !rc; side++) {
    const pc_field *f = side ? sig->outputs : sig->inputs;
    size_t n = side ? sig->n_outputs : sig->n_inputs;

    if (side)
      rc = pc_buf_puts(out, sig->n_inputs ? " ->" : "->");
    if (side && n && !rc)
      rc = pc_buf_putc(out, ' ');
    for (size_t i = 0; i < n && !rc; i++) {
      rc = pc_buf_printf(out, "%s%s", i ? ", " : "", f[i].name);
      if (!rc && f[i].type->kind != PC_TYPE_STR) {
        rc = pc_buf_puts(out, ": ");
        if (!rc)
          rc = pc_type_canonical(f[i].type, out);
      }
    }
  }
  if (rc && out->data) {
    out->len = len;
    out->data[len] = '\0';
  }
  return rc;
}

/* ---------------------------------------------------------------------- */
/* The JSON form                                                          */
/* ---------------------------------------------------------------------- */

/* Read one field object of `list` ("inputs" or "outputs") at index i. */
static int field_from_json(pc_signature *sig, struct json_object *v,
                           const char *list, size_t i, int is_output,
                           pc_error *err)
{
  struct json_object *jname = NULL, *jtype = NULL, *jdesc = NULL;
  const char *name, *type_text = "str";
  pc_type *type = NULL;
  pc_error terr = PC_ERROR_INIT;
  size_t off = 0, len;
  int rc;

  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s[%zu]: expected an object with \"name\", "
                        "\"type\" and \"desc\"", list, i);
  json_object_object_foreach(v, key, val) {
    struct json_object **slot = strcmp(key, "name") == 0 ? &jname
                              : strcmp(key, "type") == 0 ? &jtype
                              : strcmp(key, "desc") == 0 ? &jdesc : NULL;

    if (!slot)
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s[%zu].%.40s: unknown member (expected name, "
                          "type or desc)", list, i, key);
    if (!json_object_is_type(val, json_type_string))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s[%zu].%s: expected a string", list, i, key);
    *slot = val;
  }
  if (!jname)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s[%zu].name: missing",
                        list, i);
  name = json_object_get_string(jname);
  len = strlen(name);
  switch (name_problem(name, len)) {
  case 1:
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s[%zu].name: '%.40s' is not a valid field name "
                        "(letters, digits and _, not starting with a digit)",
                        list, i, name);
  case 2:
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s[%zu].name: '%s' is a Python keyword, not a "
                        "field name", list, i, name);
  default:
    break;
  }
  if (name_taken(sig, name, len))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s[%zu].name: duplicate field name '%s'", list, i,
                        name);
  if (jtype)
    type_text = json_object_get_string(jtype);
  rc = pc_type_parse(type_text, strlen(type_text), &type, &off, &terr);
  if (rc)
    return pc_error_set(err, rc, "%s[%zu].type: %s (column %zu)", list, i,
                        terr.message, column_of(type_text, off));
  if (is_output)
    rc = push_field(&sig->outputs, &sig->n_outputs, pc_strdup(name), type,
                    desc_copy(name, jdesc ? json_object_get_string(jdesc)
                                          : NULL));
  else
    rc = push_field(&sig->inputs, &sig->n_inputs, pc_strdup(name), type,
                    desc_copy(name, jdesc ? json_object_get_string(jdesc)
                                          : NULL));
  if (rc)
    return pc_error_set(err, rc, "%s[%zu]: out of memory", list, i);
  return PC_OK;
}

static int fields_from_json(pc_signature *sig, struct json_object *arr,
                            const char *list, int is_output, pc_error *err)
{
  size_t n;

  if (!arr)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: missing", list);
  if (!json_object_is_type(arr, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: expected an array of fields", list);
  n = json_object_array_length(arr);
  for (size_t i = 0; i < n; i++) {
    int rc = field_from_json(sig, json_object_array_get_idx(arr, i), list,
                             i, is_output, err);

    if (rc)
      return rc;
  }
  return PC_OK;
}

int pc_signature_from_json(const struct json_object *v, pc_signature **out,
                           pc_error *err)
{
  struct json_object *obj = (struct json_object *)v;
  struct json_object *jinstr = NULL, *jin = NULL, *jout = NULL;
  pc_signature *sig = NULL;
  int rc;

  *out = NULL;
  if (json_object_is_type(obj, json_type_string))
    return pc_signature_parse(json_object_get_string(obj), out, err);
  if (!obj || !json_object_is_type(obj, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "signature: expected a string or an object");
  json_object_object_foreach(obj, key, val) {
    if (strcmp(key, "instructions") == 0)
      jinstr = val;
    else if (strcmp(key, "inputs") == 0)
      jin = val;
    else if (strcmp(key, "outputs") == 0)
      jout = val;
    else
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%.40s: unknown member (expected instructions, "
                          "inputs or outputs)", key);
  }
  if (jinstr && !json_object_is_type(jinstr, json_type_string))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "instructions: expected a string");
  sig = pc_calloc(1, sizeof(*sig));
  if (!sig)
    return pc_error_set(err, PC_E_NOMEM, "signature: out of memory");
  rc = fields_from_json(sig, jin, "inputs", 0, err);
  if (!rc)
    rc = fields_from_json(sig, jout, "outputs", 1, err);
  if (rc)
    goto fail;
  rc = pc_signature_set_instructions(sig, jinstr
                                     ? json_object_get_string(jinstr) : NULL);
  if (rc) {
    rc = pc_error_set(err, rc, "instructions: out of memory");
    goto fail;
  }
  *out = sig;
  return PC_OK;

fail:
  pc_signature_free(sig);
  return rc;
}

/* Add `val` to `obj` under `key`, taking ownership of `val` either way.
 * Returns 0, or -1 when val is NULL or the add failed. */
static int obj_add(struct json_object *obj, const char *key,
                   struct json_object *val)
{
  if (!val)
    return -1;
  if (json_object_object_add(obj, key, val)) {
    json_object_put(val);
    return -1;
  }
  return 0;
}

static int arr_add(struct json_object *arr, struct json_object *val)
{
  if (!val)
    return -1;
  if (json_object_array_add(arr, val)) {
    json_object_put(val);
    return -1;
  }
  return 0;
}

/* A JSON string from the text `render` writes for `t`; NULL when OOM. */
static struct json_object *type_string(const pc_type *t,
                                       int (*render)(const pc_type *,
                                                     pc_buf *))
{
  struct json_object *s = NULL;
  pc_buf b;

  pc_buf_init(&b, 0);
  if (!render(t, &b) && b.data)
    s = json_object_new_string_len(b.data, (int)b.len);
  pc_buf_free(&b);
  return s;
}

/* One field as JSON: the plugin form (full = 1) or the user form. */
static struct json_object *field_json(const pc_field *f, int is_output,
                                      int full)
{
  struct json_object *o = json_object_new_object();
  int k = f->type->kind;

  if (!o)
    return NULL;
  if (obj_add(o, "name", json_object_new_string(f->name)) ||
      obj_add(o, "type", type_string(f->type, pc_type_canonical)))
    goto fail;
  if (!full) {
    if (f->desc[0] && obj_add(o, "desc", json_object_new_string(f->desc)))
      goto fail;
    return o;
  }
  if (obj_add(o, "type_name", type_string(f->type, pc_type_name)) ||
      obj_add(o, "kind", json_object_new_string(pc_type_kind_name(k))) ||
      obj_add(o, "desc", json_object_new_string(f->desc)))
    goto fail;
  if (is_output && (k == PC_TYPE_LIST || k == PC_TYPE_DICT ||
                    k == PC_TYPE_OPTIONAL || k == PC_TYPE_ANY) &&
      obj_add(o, "schema", type_string(f->type, pc_type_schema)))
    goto fail;
  if (is_output && k == PC_TYPE_LITERAL) {
    struct json_object *vals = NULL;

    if (json_object_deep_copy(f->type->values, &vals, NULL) ||
        obj_add(o, "values", vals))
      goto fail;
  }
  return o;

fail:
  json_object_put(o);
  return NULL;
}

/* The signature as a JSON object; `full` selects the plugin form. */
static struct json_object *sig_json(const pc_signature *sig, int full)
{
  struct json_object *o = json_object_new_object();

  if (!o)
    return NULL;
  if (obj_add(o, "instructions", json_object_new_string(sig->instructions)))
    goto fail;
  for (int side = 0; side < 2; side++) {
    const pc_field *f = side ? sig->outputs : sig->inputs;
    size_t n = side ? sig->n_outputs : sig->n_inputs;
    struct json_object *arr = json_object_new_array();

    if (obj_add(o, side ? "outputs" : "inputs", arr))
      goto fail;
    for (size_t i = 0; i < n; i++)
      if (arr_add(arr, field_json(&f[i], side, full)))
        goto fail;
  }
  return o;

fail:
  json_object_put(o);
  return NULL;
}

int pc_signature_to_plugin_json(const pc_signature *sig, pc_buf *out)
{
  struct json_object *o = sig_json(sig, 1);
  const char *text;
  int rc = PC_E_NOMEM;

  if (!o)
    return PC_E_NOMEM;
  text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                        JSON_C_TO_STRING_NOSLASHESCAPE);
  if (text)
    rc = pc_buf_puts(out, text);
  json_object_put(o);
  return rc;
}

struct json_object *pc_signature_to_json(const pc_signature *sig)
{
  return sig_json(sig, 0);
}
