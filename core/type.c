/* type.c - parse, copy, compare and render the field types of signatures. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "type.h"

/* Deepest nesting accepted, so hostile input cannot exhaust the stack. */
#define TYPE_MAX_DEPTH 32

/* Longest user text quoted back in a message (a name or a value). */
#define QUOTE_MAX 40

/* ---------------------------------------------------------------------- */
/* Construction and destruction                                           */
/* ---------------------------------------------------------------------- */

void pc_type_free(pc_type *t)
{
  while (t) {
    pc_type *next = t->item;

    if (t->values)
      json_object_put(t->values);
    pc_free(t);
    t = next;
  }
}

pc_type *pc_type_new_simple(int kind)
{
  pc_type *t;

  if (kind != PC_TYPE_STR && kind != PC_TYPE_INT && kind != PC_TYPE_FLOAT &&
      kind != PC_TYPE_BOOL && kind != PC_TYPE_ANY)
    return NULL;
  t = pc_calloc(1, sizeof(*t));
  if (t)
    t->kind = kind;
  return t;
}

/* A new node of any kind with no children; NULL when out of memory. */
static pc_type *type_node(int kind, int opt_style, pc_type *item)
{
  pc_type *t = pc_calloc(1, sizeof(*t));

  if (!t)
    return NULL;
  t->kind = kind;
  t->opt_style = opt_style;
  t->item = item;
  return t;
}

pc_type *pc_type_copy(const pc_type *t)
{
  pc_type *head = NULL;
  pc_type **link = &head;

  /* The tree is a chain (each node has at most one child): copy it
   * iteratively. */
  for (; t; t = t->item) {
    pc_type *c = type_node(t->kind, t->opt_style, NULL);

    if (!c)
      goto fail;
    *link = c;
    link = &c->item;
    if (t->values && json_object_deep_copy(t->values, &c->values, NULL))
      goto fail;
  }
  return head;

fail:
  pc_type_free(head);
  return NULL;
}

/* Whether two literal values (strings, integers or booleans) are equal:
 * same JSON type and same value, so True and 1 differ as in Python. */
static int value_equal(struct json_object *a, struct json_object *b)
{
  json_type ta = json_object_get_type(a);

  if (ta != json_object_get_type(b))
    return 0;
  switch (ta) {
  case json_type_string:
    return json_object_get_string_len(a) == json_object_get_string_len(b) &&
           memcmp(json_object_get_string(a), json_object_get_string(b),
                  (size_t)json_object_get_string_len(a)) == 0;
  case json_type_int:
    return json_object_get_int64(a) == json_object_get_int64(b);
  case json_type_boolean:
    return !json_object_get_boolean(a) == !json_object_get_boolean(b);
  default:
    return 0;
  }
}

int pc_type_equal(const pc_type *a, const pc_type *b)
{
  for (; a && b; a = a->item, b = b->item) {
    if (a->kind != b->kind)
      return 0;
    if (a->kind == PC_TYPE_OPTIONAL && a->opt_style != b->opt_style)
      return 0;
    if (a->kind == PC_TYPE_LITERAL) {
      size_t n = json_object_array_length(a->values);

      if (n != json_object_array_length(b->values))
        return 0;
      for (size_t i = 0; i < n; i++)
        if (!value_equal(json_object_array_get_idx(a->values, i),
                         json_object_array_get_idx(b->values, i)))
          return 0;
    }
  }
  return a == NULL && b == NULL;
}

const char *pc_type_kind_name(int kind)
{
  switch (kind) {
  case PC_TYPE_STR: return "str";
  case PC_TYPE_INT: return "int";
  case PC_TYPE_FLOAT: return "float";
  case PC_TYPE_BOOL: return "bool";
  case PC_TYPE_ANY: return "any";
  case PC_TYPE_LIST: return "list";
  case PC_TYPE_DICT: return "dict";
  case PC_TYPE_LITERAL: return "literal";
  case PC_TYPE_OPTIONAL: return "optional";
  default: return "unknown";
  }
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                */
/* ---------------------------------------------------------------------- */

typedef struct parser {
  const char *s;      /* borrowed: the text */
  size_t len;
  size_t pos;
  size_t err_off;     /* where the first error was found */
  pc_error *err;
} parser;

/* A member of a union while it is being parsed: a type, or None. */
typedef struct member {
  pc_type *t;         /* owned; NULL for None */
  size_t off;         /* offset of its first byte */
} member;

static int fail_at(parser *p, size_t off, int code, const char *fmt, ...)
  PC_PRINTF(4, 5);

/* Record an error at byte `off` (the first one wins) and return `code`. */
static int fail_at(parser *p, size_t off, int code, const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  if (p->err && p->err->code != PC_OK)
    return code;
  p->err_off = off;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(p->err, code, "%s", msg);
}

static int nomem(parser *p)
{
  return fail_at(p, p->pos, PC_E_NOMEM, "out of memory");
}

static void skip_ws(parser *p)
{
  while (p->pos < p->len && strchr(" \t\r\n\f\v", p->s[p->pos]) &&
         p->s[p->pos] != '\0')
    p->pos++;
}

static int at_end(parser *p)
{
  return p->pos >= p->len;
}

static int peek(parser *p)
{
  return at_end(p) ? -1 : (unsigned char)p->s[p->pos];
}

static int is_ident_start(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_digit(int c)
{
  return c >= '0' && c <= '9';
}

/* Read an identifier at the current position; its length (0 if none). */
static size_t read_ident(parser *p)
{
  size_t start = p->pos;

  if (!is_ident_start(peek(p)))
    return 0;
  while (is_ident_char(peek(p)))
    p->pos++;
  return p->pos - start;
}

static int word_is(const char *w, size_t n, const char *name)
{
  return strlen(name) == n && memcmp(w, name, n) == 0;
}

/* Describe the character at the current position for a message. */
static int unexpected(parser *p, const char *wanted)
{
  int c = peek(p);

  if (c < 0)
    return fail_at(p, p->pos, PC_E_INVALID_ARG,
                   "expected %s, found the end of the type", wanted);
  if (c >= 0x20 && c < 0x7f)
    return fail_at(p, p->pos, PC_E_INVALID_ARG, "expected %s, found '%c'",
                   wanted, c);
  return fail_at(p, p->pos, PC_E_INVALID_ARG,
                 "expected %s, found byte 0x%02x", wanted, (unsigned)c);
}

static int expect(parser *p, char c, const char *wanted)
{
  skip_ws(p);
  if (peek(p) != (unsigned char)c)
    return unexpected(p, wanted);
  p->pos++;
  return PC_OK;
}

/* Append code point `cp` to `b` as UTF-8. */
static int put_utf8(pc_buf *b, uint32_t cp)
{
  char u[4];
  size_t n;

  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return pc_buf_append(b, u, n);
}

static int hex_value(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decode the escape after a backslash at p->pos (which points at the
 * character after the backslash) into `b`. */
static int read_escape(parser *p, pc_buf *b)
{
  size_t bs = p->pos - 1;
  int c = peek(p);
  size_t digits = 0;
  uint32_t cp = 0;
  const char *simple;
  static const char from[] = "\\'\"ntrbfva";
  static const char to[] = "\\'\"\n\t\r\b\f\v\a";

  if (c < 0)
    return fail_at(p, bs, PC_E_INVALID_ARG, "unterminated string");
  simple = strchr(from, c);
  if (simple && c != '\0') {
    p->pos++;
    return pc_buf_putc(b, to[simple - from]) ? nomem(p) : PC_OK;
  }
  if (c == 'x')
    digits = 2;
  else if (c == 'u')
    digits = 4;
  else if (c == 'U')
    digits = 8;
  else if (c >= 0x20 && c < 0x7f)
    return fail_at(p, bs, PC_E_INVALID_ARG, "unknown escape '\\%c' in string",
                   c);
  else
    return fail_at(p, bs, PC_E_INVALID_ARG, "unknown escape in string");
  p->pos++;
  for (size_t i = 0; i < digits; i++) {
    int h = hex_value(peek(p));

    if (h < 0)
      return fail_at(p, bs, PC_E_INVALID_ARG,
                     "'\\%c' needs %zu hexadecimal digits", c, digits);
    cp = (cp << 4) | (uint32_t)h;
    p->pos++;
  }
  if (cp == 0)
    return fail_at(p, bs, PC_E_INVALID_ARG,
                   "a NUL character in a string is not supported");
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return fail_at(p, bs, PC_E_INVALID_ARG,
                   "escape '\\%c' is not a valid code point", c);
  return put_utf8(b, cp) ? nomem(p) : PC_OK;
}

/* Read a quoted string at p->pos into a new JSON string in *out. */
static int read_string(parser *p, struct json_object **out)
{
  size_t open = p->pos;
  char q = p->s[p->pos++];
  pc_buf b;
  int rc = PC_OK;

  pc_buf_init(&b, 0);
  *out = NULL;
  for (;;) {
    int c = peek(p);

    if (c < 0 || c == '\n' || c == '\r' || c == '\0') {
      rc = fail_at(p, open, PC_E_INVALID_ARG, "unterminated string");
      goto out;
    }
    p->pos++;
    if (c == q)
      break;
    if (c == '\\')
      rc = read_escape(p, &b);
    else if (pc_buf_putc(&b, (char)c))
      rc = nomem(p);
    if (rc)
      goto out;
  }
  *out = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
  if (!*out)
    rc = fail_at(p, open, PC_E_NOMEM, "out of memory");

out:
  pc_buf_free(&b);
  return rc;
}

/* Read an integer (optionally negative) into a new JSON integer. */
static int read_int(parser *p, struct json_object **out)
{
  size_t start = p->pos;
  int neg = 0;
  uint64_t v = 0;
  uint64_t limit;

  *out = NULL;
  if (peek(p) == '-') {
    neg = 1;
    p->pos++;
    skip_ws(p);
  }
  if (!is_digit(peek(p)))
    return unexpected(p, "a digit");
  if (peek(p) == '0' && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1]))
    return fail_at(p, start, PC_E_INVALID_ARG,
                   "integers cannot have leading zeros");
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  while (is_digit(peek(p))) {
    unsigned d = (unsigned)(peek(p) - '0');

    if (v > (limit - d) / 10)
      return fail_at(p, start, PC_E_INVALID_ARG,
                     "integer out of range (64 bits)");
    v = v * 10 + d;
    p->pos++;
  }
  if (is_ident_char(peek(p)) || peek(p) == '.')
    return fail_at(p, start, PC_E_INVALID_ARG,
                   "only strings, integers, True and False can be Literal "
                   "values");
  if (neg)
    *out = json_object_new_int64(v == (uint64_t)INT64_MAX + 1
                                 ? INT64_MIN : -(int64_t)v);
  else
    *out = json_object_new_int64((int64_t)v);
  return *out ? PC_OK : fail_at(p, start, PC_E_NOMEM, "out of memory");
}

static int put_value_repr(pc_buf *b, struct json_object *v);

/* Parse the values of Literal[...] after the opening bracket. */
static int parse_literal(parser *p, pc_type **out)
{
  pc_type *t = NULL;
  int rc;

  *out = NULL;
  t = type_node(PC_TYPE_LITERAL, 0, NULL);
  if (!t)
    return nomem(p);
  t->values = json_object_new_array();
  if (!t->values) {
    rc = nomem(p);
    goto fail;
  }
  for (;;) {
    struct json_object *v = NULL;
    size_t start;
    int c;

    skip_ws(p);
    start = p->pos;
    c = peek(p);
    if (c == '\'' || c == '"') {
      rc = read_string(p, &v);
    } else if (c == '-' || is_digit(c)) {
      rc = read_int(p, &v);
    } else if (is_ident_start(c)) {
      size_t n = read_ident(p);
      const char *w = p->s + start;

      if (word_is(w, n, "True") || word_is(w, n, "False")) {
        v = json_object_new_boolean(word_is(w, n, "True"));
        rc = v ? PC_OK : nomem(p);
      } else {
        rc = fail_at(p, start, PC_E_INVALID_ARG,
                     "unsupported Literal value '%.*s': use strings, "
                     "integers, True or False", (int)(n > QUOTE_MAX
                     ? QUOTE_MAX : n), w);
      }
    } else {
      rc = unexpected(p, "a Literal value");
    }
    if (rc)
      goto fail;
    for (size_t i = 0; i < json_object_array_length(t->values); i++) {
      if (value_equal(json_object_array_get_idx(t->values, i), v)) {
        pc_buf shown;

        pc_buf_init(&shown, 0);
        if (put_value_repr(&shown, v) || !shown.data)
          rc = nomem(p);
        else
          rc = fail_at(p, start, PC_E_INVALID_ARG,
                       "duplicate Literal value %.*s%s", QUOTE_MAX,
                       shown.data, shown.len > QUOTE_MAX ? "..." : "");
        pc_buf_free(&shown);
        json_object_put(v);
        goto fail;
      }
    }
    if (json_object_array_add(t->values, v)) {
      json_object_put(v);
      rc = nomem(p);
      goto fail;
    }
    skip_ws(p);
    if (peek(p) == ']') {
      p->pos++;
      break;
    }
    if (peek(p) != ',') {
      rc = unexpected(p, "',' or ']'");
      goto fail;
    }
    p->pos++;
  }
  *out = t;
  return PC_OK;

fail:
  pc_type_free(t);
  return rc;
}

static int parse_union(parser *p, int depth, member *out);

/* Wrap `inner` in an optional of style `style`, collapsing nested
 * optionals to one level. As in Python, the result is written with `|`
 * only when every layer was. Takes ownership of `inner`. */
static int make_optional(parser *p, pc_type *inner, int style,
                         pc_type **out)
{
  *out = NULL;
  if (inner->kind == PC_TYPE_OPTIONAL) {
    if (style != PC_OPT_PIPE)
      inner->opt_style = PC_OPT_OPTIONAL;
    *out = inner;
    return PC_OK;
  }
  *out = type_node(PC_TYPE_OPTIONAL, style, inner);
  if (!*out) {
    pc_type_free(inner);
    return nomem(p);
  }
  return PC_OK;
}

/* Combine the members of a union (None entries have t == NULL) into T or
 * an optional of T; `what` names the form for messages. Frees the members
 * on failure. */
static int combine(parser *p, member *m, size_t n, int style, size_t off,
                   const char *what, pc_type **out)
{
  pc_type *only = NULL;
  size_t n_none = 0;
  int rc = PC_OK;

  *out = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!m[i].t) {
      n_none++;
    } else if (only) {
      rc = fail_at(p, m[i].off, PC_E_INVALID_ARG,
                   "unsupported type: %s can only combine one type with "
                   "None", what);
      goto fail;
    } else {
      only = m[i].t;
    }
  }
  if (!only) {
    rc = fail_at(p, off, PC_E_INVALID_ARG,
                 "unsupported type 'None': None is only allowed beside "
                 "another type, as in Optional[T]");
    goto fail;
  }
  if (n_none == 0) {
    rc = fail_at(p, off, PC_E_INVALID_ARG,
                 "unsupported type: %s must include None", what);
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    m[i].t = NULL;
  return make_optional(p, only, style, out);

fail:
  for (size_t i = 0; i < n; i++) {
    pc_type_free(m[i].t);
    m[i].t = NULL;
  }
  return rc;
}

/* An example of the generic named by `w`, for messages. */
static const char *generic_example(const char *w)
{
  switch (w[0]) {
  case 'l': case 'L':
    return w[1] == 'i' && w[2] == 't' ? "Literal['a', 'b']" : "list[str]";
  case 'd': case 'D':
    return "dict[str, int]";
  case 'O':
    return "Optional[int]";
  default:
    return "Union[int, None]";
  }
}

/* Parse one type that is not a `|` union: a name, maybe subscripted. */
static int parse_primary(parser *p, int depth, member *out)
{
  size_t start, n;
  const char *w;
  member in = {NULL, 0};
  pc_type *t = NULL;
  int rc = PC_OK;

  out->t = NULL;
  skip_ws(p);
  start = out->off = p->pos;
  n = read_ident(p);
  if (n == 0)
    return unexpected(p, "a type name");
  w = p->s + start;
  if (word_is(w, n, "None"))
    return PC_OK;
  if (word_is(w, n, "str") || word_is(w, n, "int") ||
      word_is(w, n, "float") || word_is(w, n, "bool") ||
      word_is(w, n, "Any")) {
    int kind = w[0] == 's' ? PC_TYPE_STR : w[0] == 'i' ? PC_TYPE_INT
             : w[0] == 'f' ? PC_TYPE_FLOAT : w[0] == 'b' ? PC_TYPE_BOOL
             : PC_TYPE_ANY;

    out->t = pc_type_new_simple(kind);
    return out->t ? PC_OK : nomem(p);
  }
  if (!word_is(w, n, "list") && !word_is(w, n, "List") &&
      !word_is(w, n, "dict") && !word_is(w, n, "Dict") &&
      !word_is(w, n, "Optional") && !word_is(w, n, "Union") &&
      !word_is(w, n, "Literal"))
    return fail_at(p, start, PC_E_INVALID_ARG, "unknown type '%.*s%s'",
                   (int)(n > QUOTE_MAX ? QUOTE_MAX : n), w,
                   n > QUOTE_MAX ? "..." : "");
  skip_ws(p);
  if (peek(p) != '[')
    return fail_at(p, start, PC_E_INVALID_ARG,
                   "'%.*s' needs arguments in brackets, as in %s",
                   (int)n, w, generic_example(w));
  p->pos++;
  if (word_is(w, n, "Literal")) {
    rc = parse_literal(p, &out->t);
    goto out;
  }
  if (word_is(w, n, "Union")) {
    member m[8];
    size_t nm = 0;

    for (;;) {
      if (nm == sizeof(m) / sizeof(m[0])) {
        rc = fail_at(p, start, PC_E_INVALID_ARG,
                     "unsupported type: Union can only combine one type "
                     "with None");
        break;
      }
      rc = parse_union(p, depth + 1, &m[nm]);
      if (rc)
        break;
      nm++;
      skip_ws(p);
      if (peek(p) == ']') {
        p->pos++;
        break;
      }
      if (peek(p) != ',') {
        rc = unexpected(p, "',' or ']'");
        break;
      }
      p->pos++;
    }
    if (rc) {
      for (size_t i = 0; i < nm; i++)
        pc_type_free(m[i].t);
      goto out;
    }
    rc = combine(p, m, nm, PC_OPT_OPTIONAL, start, "Union", &out->t);
    goto out;
  }
  rc = parse_union(p, depth + 1, &in);
  if (rc)
    goto out;
  if (!in.t) {
    rc = fail_at(p, in.off, PC_E_INVALID_ARG,
                 "unsupported type 'None': None is only allowed beside "
                 "another type, as in Optional[T]");
    goto out;
  }
  if (word_is(w, n, "Optional")) {
    rc = make_optional(p, in.t, PC_OPT_OPTIONAL, &t);
    in.t = NULL;
  } else if (w[0] == 'l' || w[0] == 'L') {
    t = type_node(PC_TYPE_LIST, 0, in.t);
    if (t)
      in.t = NULL;
    else
      rc = nomem(p);
  } else {
    /* dict[str, T]: the key was just parsed. */
    if (in.t->kind != PC_TYPE_STR) {
      rc = fail_at(p, in.off, PC_E_INVALID_ARG,
                   "unsupported type: dict keys must be str");
      goto out;
    }
    pc_type_free(in.t);
    in.t = NULL;
    rc = expect(p, ',', "',' and the value type of the dict");
    if (rc)
      goto out;
    rc = parse_union(p, depth + 1, &in);
    if (rc)
      goto out;
    if (!in.t) {
      rc = fail_at(p, in.off, PC_E_INVALID_ARG,
                   "unsupported type 'None': None is only allowed beside "
                   "another type, as in Optional[T]");
      goto out;
    }
    t = type_node(PC_TYPE_DICT, 0, in.t);
    if (t)
      in.t = NULL;
    else
      rc = nomem(p);
  }
  if (rc)
    goto out;
  rc = expect(p, ']', "']'");
  if (rc)
    goto out;
  out->t = t;
  t = NULL;

out:
  pc_type_free(in.t);
  pc_type_free(t);
  return rc;
}

/* Parse `A`, or `A | None` / `None | A` (any number of Nones). */
static int parse_union(parser *p, int depth, member *out)
{
  member m[8];
  size_t nm = 0;
  int rc;

  out->t = NULL;
  skip_ws(p);
  out->off = p->pos;
  if (depth > TYPE_MAX_DEPTH)
    return fail_at(p, p->pos, PC_E_INVALID_ARG,
                   "type nested deeper than %d levels", TYPE_MAX_DEPTH);
  for (;;) {
    if (nm == sizeof(m) / sizeof(m[0])) {
      rc = fail_at(p, p->pos, PC_E_INVALID_ARG,
                   "unsupported type: '|' can only combine one type with "
                   "None");
      goto fail;
    }
    rc = parse_primary(p, depth, &m[nm]);
    if (rc)
      goto fail;
    nm++;
    skip_ws(p);
    if (peek(p) != '|')
      break;
    p->pos++;
  }
  if (nm == 1) {
    out->t = m[0].t;
    return PC_OK;
  }
  return combine(p, m, nm, PC_OPT_PIPE, out->off, "'|'", &out->t);

fail:
  for (size_t i = 0; i < nm; i++)
    pc_type_free(m[i].t);
  return rc;
}

int pc_type_parse(const char *text, size_t len, pc_type **out,
                  size_t *err_off, pc_error *err)
{
  parser p;
  member m = {NULL, 0};
  pc_error local = PC_ERROR_INIT;
  int rc;

  p.s = text;
  p.len = text ? len : 0;
  p.pos = 0;
  p.err_off = 0;
  p.err = &local;
  *out = NULL;
  if (err_off)
    *err_off = 0;
  rc = parse_union(&p, 1, &m);
  if (rc)
    goto fail;
  if (!m.t) {
    rc = fail_at(&p, m.off, PC_E_INVALID_ARG,
                 "unsupported type 'None': None is only allowed beside "
                 "another type, as in Optional[T]");
    goto fail;
  }
  skip_ws(&p);
  if (!at_end(&p)) {
    rc = unexpected(&p, "the end of the type");
    goto fail;
  }
  *out = m.t;
  return PC_OK;

fail:
  pc_type_free(m.t);
  if (err_off)
    *err_off = p.err_off;
  return pc_error_set(err, rc, "%s", local.message);
}

/* ---------------------------------------------------------------------- */
/* Rendering                                                              */
/* ---------------------------------------------------------------------- */

/* Length of the UTF-8 sequence starting with byte `c` when the following
 * bytes continue it, else 1 (invalid bytes are passed on one by one). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
  size_t want = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2
              : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 1;

  if (want > n)
    return 1;
  for (size_t i = 1; i < want; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 1;
  return want;
}

/*
 * Python's repr() of a string: single quotes unless the text holds a
 * single quote and no double quote; backslash, quote, \n \r \t escaped;
 * other C0 and C1 controls, DEL, U+00A0 and U+00AD as \xNN (Python finds
 * those unprintable). Other non-ASCII text is kept as it is.
 */
static int put_repr(pc_buf *b, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  char q = (memchr(s, '\'', n) && !memchr(s, '"', n)) ? '"' : '\'';
  int rc = pc_buf_putc(b, q);

  for (size_t i = 0; i < n && !rc;) {
    size_t k = utf8_len(u + i, n - i);
    unsigned c = u[i];

    if (k == 2 && c == 0xc2 && (u[i + 1] <= 0x9f || u[i + 1] == 0xa0 ||
                                u[i + 1] == 0xad)) {
      rc = pc_buf_printf(b, "\\x%02x", (unsigned)u[i + 1]);
    } else if (k > 1 || c >= 0x80) {
      rc = pc_buf_append(b, s + i, k);
    } else if (c == (unsigned char)q || c == '\\') {
      rc = pc_buf_putc(b, '\\') || pc_buf_putc(b, (char)c);
    } else if (c == '\n') {
      rc = pc_buf_puts(b, "\\n");
    } else if (c == '\r') {
      rc = pc_buf_puts(b, "\\r");
    } else if (c == '\t') {
      rc = pc_buf_puts(b, "\\t");
    } else if (c < 0x20 || c == 0x7f) {
      rc = pc_buf_printf(b, "\\x%02x", c);
    } else {
      rc = pc_buf_putc(b, (char)c);
    }
    i += k;
  }
  if (!rc)
    rc = pc_buf_putc(b, q);
  return rc ? PC_E_NOMEM : PC_OK;
}

/*
 * DSPy's quoting of a Literal string in a type name
 * (_quoted_string_for_literal_type_annotation): single quotes, or double
 * quotes when the text holds only single quotes, or single quotes with each
 * ' escaped when it holds both. Nothing else is escaped.
 */
static int put_dspy_quoted(pc_buf *b, const char *s, size_t n)
{
  int has_single = memchr(s, '\'', n) != NULL;
  int has_double = memchr(s, '"', n) != NULL;
  int rc;

  if (has_single && !has_double)
    rc = pc_buf_putc(b, '"') || pc_buf_append(b, s, n) ||
         pc_buf_putc(b, '"');
  else if (!has_single)
    rc = pc_buf_putc(b, '\'') || pc_buf_append(b, s, n) ||
         pc_buf_putc(b, '\'');
  else {
    rc = pc_buf_putc(b, '\'');
    for (size_t i = 0; i < n && !rc; i++)
      rc = (s[i] == '\'' && pc_buf_putc(b, '\\')) || pc_buf_putc(b, s[i]);
    rc = rc || pc_buf_putc(b, '\'');
  }
  return rc ? PC_E_NOMEM : PC_OK;
}

/* A JSON string as Python's json.dumps(ensure_ascii=False) writes it. */
static int put_json_string(pc_buf *b, const char *s, size_t n)
{
  int rc = pc_buf_putc(b, '"');

  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)s[i];

    switch (c) {
    case '"': rc = pc_buf_puts(b, "\\\""); break;
    case '\\': rc = pc_buf_puts(b, "\\\\"); break;
    case '\n': rc = pc_buf_puts(b, "\\n"); break;
    case '\r': rc = pc_buf_puts(b, "\\r"); break;
    case '\t': rc = pc_buf_puts(b, "\\t"); break;
    case '\b': rc = pc_buf_puts(b, "\\b"); break;
    case '\f': rc = pc_buf_puts(b, "\\f"); break;
    default:
      if (c < 0x20)
        rc = pc_buf_printf(b, "\\u%04x", c);
      else
        rc = pc_buf_putc(b, (char)c);
    }
  }
  if (!rc)
    rc = pc_buf_putc(b, '"');
  return rc ? PC_E_NOMEM : PC_OK;
}

/* How a Literal value is written: Python repr (canonical) or DSPy's type
 * name quoting. Integers and booleans are the same either way. */
static int put_value(pc_buf *b, struct json_object *v, int dspy)
{
  switch (json_object_get_type(v)) {
  case json_type_string:
    if (dspy)
      return put_dspy_quoted(b, json_object_get_string(v),
                             (size_t)json_object_get_string_len(v));
    return put_repr(b, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v));
  case json_type_int:
    return pc_buf_printf(b, "%" PRId64, json_object_get_int64(v));
  case json_type_boolean:
    return pc_buf_puts(b, json_object_get_boolean(v) ? "True" : "False");
  default:
    return PC_E_INTERNAL;
  }
}

static int put_value_repr(pc_buf *b, struct json_object *v)
{
  return put_value(b, v, 0);
}

/* The Literal[...] text with values quoted by put_value. */
static int put_literal(pc_buf *b, const pc_type *t, int dspy)
{
  size_t n = json_object_array_length(t->values);
  int rc = pc_buf_puts(b, "Literal[");

  for (size_t i = 0; i < n && !rc; i++) {
    if (i)
      rc = pc_buf_puts(b, ", ");
    if (!rc)
      rc = put_value(b, json_object_array_get_idx(t->values, i), dspy);
  }
  if (!rc)
    rc = pc_buf_putc(b, ']');
  return rc;
}

/* Shared by the canonical text (dspy = 0) and DSPy's name (dspy = 1). */
static int put_type(pc_buf *b, const pc_type *t, int dspy)
{
  int rc;

  if (!t)
    return PC_E_INVALID_ARG;
  switch (t->kind) {
  case PC_TYPE_STR:
  case PC_TYPE_INT:
  case PC_TYPE_FLOAT:
  case PC_TYPE_BOOL:
    return pc_buf_puts(b, pc_type_kind_name(t->kind));
  case PC_TYPE_ANY:
    return pc_buf_puts(b, "Any");
  case PC_TYPE_LIST:
    rc = pc_buf_puts(b, "list[");
    break;
  case PC_TYPE_DICT:
    rc = pc_buf_puts(b, "dict[str, ");
    break;
  case PC_TYPE_LITERAL:
    return put_literal(b, t, dspy);
  case PC_TYPE_OPTIONAL:
    if (!dspy && t->opt_style == PC_OPT_PIPE) {
      rc = put_type(b, t->item, dspy);
      return rc ? rc : pc_buf_puts(b, " | None");
    }
    if (!dspy)
      rc = pc_buf_puts(b, "Optional[");
    else if (t->opt_style == PC_OPT_PIPE)
      rc = pc_buf_puts(b, "UnionType[");
    else
      rc = pc_buf_puts(b, "Union[");
    if (rc)
      return rc;
    rc = put_type(b, t->item, dspy);
    if (rc)
      return rc;
    return pc_buf_puts(b, dspy ? ", NoneType]" : "]");
  default:
    return PC_E_INVALID_ARG;
  }
  if (rc)
    return rc;
  rc = put_type(b, t->item, dspy);
  return rc ? rc : pc_buf_putc(b, ']');
}

/* Drop what a failed render appended, so `out` is as the caller left it. */
static int rewind_on_failure(pc_buf *out, size_t len, int rc)
{
  if (rc && out->data) {
    out->len = len;
    out->data[len] = '\0';
  }
  return rc;
}

int pc_type_canonical(const pc_type *t, pc_buf *out)
{
  size_t len = out->len;

  return rewind_on_failure(out, len, put_type(out, t, 0));
}

int pc_type_name(const pc_type *t, pc_buf *out)
{
  size_t len = out->len;

  return rewind_on_failure(out, len, put_type(out, t, 1));
}

/* The "type" pydantic gives a Literal whose values all have one JSON
 * type, or NULL when they are mixed. */
static const char *literal_schema_type(const pc_type *t)
{
  size_t n = json_object_array_length(t->values);
  json_type first;

  if (n == 0)
    return NULL;
  first = json_object_get_type(json_object_array_get_idx(t->values, 0));
  for (size_t i = 1; i < n; i++)
    if (json_object_get_type(json_object_array_get_idx(t->values, i)) !=
        first)
      return NULL;
  switch (first) {
  case json_type_string: return "string";
  case json_type_int: return "integer";
  case json_type_boolean: return "boolean";
  default: return NULL;
  }
}

static int put_schema_value(pc_buf *b, struct json_object *v)
{
  switch (json_object_get_type(v)) {
  case json_type_string:
    return put_json_string(b, json_object_get_string(v),
                           (size_t)json_object_get_string_len(v));
  case json_type_int:
    return pc_buf_printf(b, "%" PRId64, json_object_get_int64(v));
  case json_type_boolean:
    return pc_buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
  default:
    return PC_E_INTERNAL;
  }
}

/* Keys are written in the order DSPy sorts them: "type" first, then
 * alphabetically (additionalProperties, anyOf, const, enum, items). */
static int put_schema(pc_buf *b, const pc_type *t)
{
  const char *ty;
  size_t n;
  int rc;

  if (!t)
    return PC_E_INVALID_ARG;
  switch (t->kind) {
  case PC_TYPE_STR: return pc_buf_puts(b, "{\"type\": \"string\"}");
  case PC_TYPE_INT: return pc_buf_puts(b, "{\"type\": \"integer\"}");
  case PC_TYPE_FLOAT: return pc_buf_puts(b, "{\"type\": \"number\"}");
  case PC_TYPE_BOOL: return pc_buf_puts(b, "{\"type\": \"boolean\"}");
  case PC_TYPE_ANY: return pc_buf_puts(b, "{}");
  case PC_TYPE_LIST:
    rc = pc_buf_puts(b, "{\"type\": \"array\", \"items\": ");
    if (!rc)
      rc = put_schema(b, t->item);
    return rc ? rc : pc_buf_putc(b, '}');
  case PC_TYPE_DICT:
    if (t->item && t->item->kind == PC_TYPE_ANY)
      return pc_buf_puts(b, "{\"type\": \"object\", "
                            "\"additionalProperties\": true}");
    rc = pc_buf_puts(b, "{\"type\": \"object\", \"additionalProperties\": ");
    if (!rc)
      rc = put_schema(b, t->item);
    return rc ? rc : pc_buf_putc(b, '}');
  case PC_TYPE_OPTIONAL:
    rc = pc_buf_puts(b, "{\"anyOf\": [");
    if (!rc)
      rc = put_schema(b, t->item);
    return rc ? rc : pc_buf_puts(b, ", {\"type\": \"null\"}]}");
  case PC_TYPE_LITERAL:
    break;
  default:
    return PC_E_INVALID_ARG;
  }
  ty = literal_schema_type(t);
  n = json_object_array_length(t->values);
  rc = pc_buf_putc(b, '{');
  if (!rc && ty)
    rc = pc_buf_printf(b, "\"type\": \"%s\", ", ty);
  if (rc)
    return rc;
  if (n == 1) {
    rc = pc_buf_puts(b, "\"const\": ");
    if (!rc)
      rc = put_schema_value(b, json_object_array_get_idx(t->values, 0));
    return rc ? rc : pc_buf_putc(b, '}');
  }
  rc = pc_buf_puts(b, "\"enum\": [");
  for (size_t i = 0; i < n && !rc; i++) {
    if (i)
      rc = pc_buf_puts(b, ", ");
    if (!rc)
      rc = put_schema_value(b, json_object_array_get_idx(t->values, i));
  }
  return rc ? rc : pc_buf_puts(b, "]}");
}

int pc_type_schema(const pc_type *t, pc_buf *out)
{
  size_t len = out->len;

  return rewind_on_failure(out, len, put_schema(out, t));
}
