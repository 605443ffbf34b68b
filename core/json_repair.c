/* json_repair.c - turn the almost-JSON that language models write into
 * valid JSON text, in one linear pass (docs/values.md, "Repair"). */
#include <string.h>

#include "json_text.h"

/* What may come next inside the innermost open container (or at the top
 * level, which behaves as a container holding one value). */
#define ST_VALUE 0     /* array or top level: a value may start */
#define ST_KEY 1       /* object: a key (or '}') may start */
#define ST_COLON 2     /* object: a key was read, ':' is due */
#define ST_OBJVALUE 3  /* object: ':' was read, a value is due */
#define ST_AFTER 4     /* container: a value was read, ',' or closer due */
#define ST_DONE 5      /* top level: the value is complete */

/* How a token is used where it starts. */
#define AS_VALUE 0
#define AS_KEY 1
#define AS_JUNK 2

struct repair {
  const char *s;   /* borrowed: the region being repaired */
  size_t len;      /* bytes in s */
  size_t pos;      /* next byte of s to read */
  pc_buf *out;     /* borrowed: where the JSON text goes */
  pc_buf stack;    /* owned: two bytes per open container: opener, state */
  char top;        /* state of the top level */
  size_t n_obj;    /* '{' on the stack */
  size_t n_arr;    /* '[' on the stack */
  size_t sig_end;  /* out->len just after the last significant byte */
  int last_comma;  /* the last significant byte written is a ',' */
  int newline;     /* a newline was passed since the last token */
  int done;        /* stop reading: the rest of the region is dropped */
};

/* ------------------------------------------------------------------------ */
/* Character classes                                                        */

static int is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static int is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

static int is_ident(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         c == '_' || c == '$' || c >= 0x80;
}

static int is_ident_start(unsigned char c)
{
  return is_ident(c) && !is_digit(c);
}

/* Does a number start at s[i]? Digits, or a sign or '.' before a digit,
 * or a sign before Infinity/NaN. */
static int number_starts(const char *s, size_t len, size_t i)
{
  unsigned char c = (unsigned char)s[i];
  unsigned char n = (i + 1 < len) ? (unsigned char)s[i + 1] : 0;

  if (is_digit(c))
    return 1;
  if (c == '-' || c == '+')
    return is_digit(n) || n == '.' || n == 'I' || n == 'N';
  return c == '.' && is_digit(n);
}

static size_t ident_end(const char *s, size_t len, size_t i)
{
  while (i < len && is_ident((unsigned char)s[i]))
    i++;
  return i;
}

static int word_is(const char *s, size_t n, const char *word)
{
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* The JSON spelling of a bare word that is a constant, else NULL. */
static const char *constant(const char *s, size_t n)
{
  static const char *const words[][2] = {
    {"true", "true"}, {"false", "false"}, {"null", "null"},
    {"True", "true"}, {"False", "false"}, {"None", "null"},
    {"NaN", "NaN"}, {"Infinity", "Infinity"},
  };

  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    if (word_is(s, n, words[i][0]))
      return words[i][1];
  }
  return NULL;
}

/* Does the text s[0..len) start with a JSON value (or a Python one)? */
static int value_starts(const char *s, size_t len)
{
  unsigned char c;

  if (len == 0)
    return 0;
  c = (unsigned char)s[0];
  if (c == '{' || c == '[' || c == '"' || c == '\'')
    return 1;
  if (number_starts(s, len, 0))
    return 1;
  if (is_ident_start(c))
    return constant(s, ident_end(s, len, 0)) != NULL;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static int emit(struct repair *r, const char *p, size_t n)
{
  int rc = pc_buf_append(r->out, p, n);

  r->sig_end = r->out->len;
  r->last_comma = (n == 1 && p[0] == ',');
  r->newline = 0;
  return rc;
}

static int emit_str(struct repair *r, const char *s)
{
  return emit(r, s, strlen(s));
}

/* Insert byte c just after the last significant byte, before the blanks
 * written since (so "1\n  2" becomes "1,\n  2"). */
static int insert_sig(struct repair *r, char c)
{
  pc_buf *b = r->out;
  int rc = pc_buf_putc(b, c);

  if (rc)
    return rc;
  memmove(b->data + r->sig_end + 1, b->data + r->sig_end,
          b->len - 1 - r->sig_end);
  b->data[r->sig_end] = c;
  r->sig_end++;
  r->last_comma = (c == ',');
  return PC_OK;
}

/* Remove the ',' that is the last significant byte (a trailing comma). */
static void drop_last_comma(struct repair *r)
{
  pc_buf *b = r->out;
  size_t at = r->sig_end - 1;

  memmove(b->data + at, b->data + at + 1, b->len - at - 1);
  b->len--;
  b->data[b->len] = '\0';
  r->sig_end = at;
  r->last_comma = 0;
}

/* ------------------------------------------------------------------------ */
/* The container stack                                                      */

static size_t depth(const struct repair *r)
{
  return r->stack.len / 2;
}

static char *state(struct repair *r)
{
  return depth(r) ? &r->stack.data[r->stack.len - 1] : &r->top;
}

static char opener(const struct repair *r)
{
  return depth(r) ? r->stack.data[r->stack.len - 2] : 0;
}

static int push(struct repair *r, char open)
{
  char entry[2];

  entry[0] = open;
  entry[1] = (open == '{') ? ST_KEY : ST_VALUE;
  if (open == '{')
    r->n_obj++;
  else
    r->n_arr++;
  return pc_buf_append(&r->stack, entry, 2);
}

/* A value (or key) ended: advance the state of the level holding it. */
static void value_done(struct repair *r)
{
  char *st = state(r);

  if (!depth(r))
    *st = ST_DONE;
  else if (*st == ST_KEY)
    *st = ST_COLON;
  else
    *st = ST_AFTER;
}

/*
 * A token that can be a value or a key starts here: repair what is missing
 * before it (a comma at a line break, a colon after a key) and say how the
 * token is used.
 */
static int token_starts(struct repair *r, int *as)
{
  char *st = state(r);
  int rc = PC_OK;

  if (*st == ST_AFTER && r->newline) {
    rc = insert_sig(r, ',');
    *st = (opener(r) == '{') ? ST_KEY : ST_VALUE;
  } else if (*st == ST_COLON) {
    rc = insert_sig(r, ':');
    *st = ST_OBJVALUE;
  }
  if (*st == ST_KEY)
    *as = AS_KEY;
  else if (*st == ST_VALUE || *st == ST_OBJVALUE)
    *as = AS_VALUE;
  else
    *as = AS_JUNK;
  return rc;
}

/* Close the innermost container with `closer`, filling in a missing value
 * and dropping a trailing comma first. */
static int finish_level(struct repair *r, char closer)
{
  char st = *state(r);
  int rc = PC_OK;

  if (st == ST_COLON)
    rc = emit_str(r, ":null");
  else if (st == ST_OBJVALUE)
    rc = emit_str(r, "null");
  else if ((st == ST_VALUE || st == ST_KEY) && r->last_comma)
    drop_last_comma(r);
  if (!rc)
    rc = emit(r, &closer, 1);
  if (opener(r) == '{')
    r->n_obj--;
  else
    r->n_arr--;
  r->stack.len -= 2;
  value_done(r);
  if (!depth(r))
    r->done = 1;  /* the top-level container is complete */
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */

/* Copy the rest of the region unchanged: json-c will say what is wrong. */
static int copy_rest(struct repair *r)
{
  int rc = emit(r, r->s + r->pos, r->len - r->pos);

  r->pos = r->len;
  r->done = 1;
  return rc;
}

static int copy_junk_byte(struct repair *r)
{
  if (!depth(r))
    return copy_rest(r);
  return emit(r, r->s + r->pos++, 1);
}

/* Does a single quote at s[i - 1] end its string? Only when what follows
 * (after blanks) can follow a value; otherwise it is an apostrophe. */
static int quote_closes(const struct repair *r, size_t i)
{
  while (i < r->len && (r->s[i] == ' ' || r->s[i] == '\t'))
    i++;
  if (i >= r->len)
    return 1;
  if (strchr(",:}]\n\r", r->s[i]))
    return 1;
  return r->s[i] == '/' && i + 1 < r->len &&
         (r->s[i + 1] == '/' || r->s[i + 1] == '*');
}

/* Copy a string opened by `quote` (" or ') as a double-quoted JSON
 * string; a string still open at the end of the region is closed. */
static int copy_string(struct repair *r, char quote)
{
  const char *s = r->s;
  size_t run;
  int rc;

  rc = emit(r, "\"", 1);
  r->pos++;
  while (!rc && r->pos < r->len) {
    unsigned char c = (unsigned char)s[r->pos];

    if (c == (unsigned char)quote) {
      r->pos++;
      if (quote == '"' || quote_closes(r, r->pos))
        return emit(r, "\"", 1);
      rc = emit(r, "'", 1);
    } else if (c == '\\') {
      char n = (r->pos + 1 < r->len) ? s[r->pos + 1] : '\0';

      if (n == '\'') {
        rc = emit(r, "'", 1);
        r->pos += 2;
      } else if (n && strchr("\"\\/bfnrtu", n)) {
        rc = emit(r, s + r->pos, 2);
        r->pos += 2;
      } else {
        rc = emit(r, "\\\\", 2);  /* a backslash that escapes nothing */
        r->pos++;
      }
    } else if (c == '"') {
      rc = emit(r, "\\\"", 2);  /* inside a single-quoted string */
      r->pos++;
    } else if (c < 0x20) {
      char esc[8];

      switch (c) {
      case '\n': memcpy(esc, "\\n", 3); break;
      case '\r': memcpy(esc, "\\r", 3); break;
      case '\t': memcpy(esc, "\\t", 3); break;
      case '\b': memcpy(esc, "\\b", 3); break;
      case '\f': memcpy(esc, "\\f", 3); break;
      default:
        esc[0] = '\\';
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = "0123456789abcdef"[c >> 4];
        esc[5] = "0123456789abcdef"[c & 15];
        esc[6] = '\0';
        break;
      }
      rc = emit_str(r, esc);
      r->pos++;
    } else {
      for (run = r->pos; run < r->len; run++) {
        unsigned char d = (unsigned char)s[run];

        if (d == (unsigned char)quote || d == '\\' || d == '"' || d < 0x20)
          break;
      }
      rc = emit(r, s + r->pos, run - r->pos);
      r->pos = run;
    }
  }
  if (!rc)
    rc = emit(r, "\"", 1);  /* unterminated at the end of the text */
  return rc;
}

/* A number: copied, without a leading '+', with "0" before a bare '.'. */
static int copy_number(struct repair *r, int as)
{
  const char *s = r->s;
  size_t start = r->pos, i = r->pos;
  int rc = PC_OK;

  if (s[i] == '+')
    start = ++i;
  if (i < r->len && s[i] == '-')
    i++;
  while (i < r->len) {
    unsigned char c = (unsigned char)s[i];

    if (is_ident(c) || c == '.')
      i++;
    else if ((c == '+' || c == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))
      i++;
    else
      break;
  }
  if (as == AS_KEY)
    rc = emit(r, "\"", 1);
  if (!rc && s[start] == '-' && start + 1 < i && s[start + 1] == '.') {
    rc = emit(r, "-0", 2);
    start++;
  } else if (!rc && s[start] == '.') {
    rc = emit(r, "0", 1);
  }
  if (!rc)
    rc = emit(r, s + start, i - start);
  if (!rc && as == AS_KEY)
    rc = emit(r, "\"", 1);
  r->pos = i;
  return rc;
}

/* A bare word: a quoted key, a JSON or Python constant, or junk. */
static int copy_word(struct repair *r, int as)
{
  size_t end = ident_end(r->s, r->len, r->pos);
  const char *word = r->s + r->pos;
  size_t n = end - r->pos;
  const char *k;
  int rc;

  r->pos = end;
  if (as == AS_KEY) {
    rc = emit(r, "\"", 1);
    if (!rc)
      rc = emit(r, word, n);
    if (!rc)
      rc = emit(r, "\"", 1);
    return rc;
  }
  k = constant(word, n);
  return k ? emit_str(r, k) : emit(r, word, n);
}

static int on_comma(struct repair *r)
{
  char *st = state(r);

  if (!depth(r))
    return copy_junk_byte(r);
  r->pos++;
  switch (*st) {
  case ST_AFTER:
    *st = (opener(r) == '{') ? ST_KEY : ST_VALUE;
    return emit(r, ",", 1);
  case ST_VALUE:
  case ST_KEY:
    return PC_OK;  /* a leading or doubled comma: dropped */
  case ST_OBJVALUE: {
    int rc;

    *st = ST_KEY;  /* "key": , -> "key": null, */
    rc = emit_str(r, "null");
    return rc ? rc : emit(r, ",", 1);
  }
  default:
    r->pos--;
    return copy_junk_byte(r);
  }
}

static int on_closer(struct repair *r, char closer)
{
  char want = (closer == '}') ? '{' : '[';
  int rc = PC_OK;

  r->pos++;
  if ((want == '{' ? r->n_obj : r->n_arr) == 0)
    return PC_OK;  /* a closer that closes nothing: dropped */
  while (!rc && opener(r) != want)
    rc = finish_level(r, opener(r) == '{' ? '}' : ']');
  if (!rc)
    rc = finish_level(r, closer);
  return rc;
}

/* Skip a comment starting at pos; returns 1 if there was one. */
static int skip_comment(struct repair *r)
{
  const char *s = r->s;
  size_t i = r->pos;

  if (s[i] != '/' || i + 1 >= r->len)
    return 0;
  if (s[i + 1] == '/') {
    while (i < r->len && s[i] != '\n')
      i++;
  } else if (s[i + 1] == '*') {
    for (i += 2; i < r->len; i++) {
      if (s[i] == '\n')
        r->newline = 1;
      if (s[i] == '*' && i + 1 < r->len && s[i + 1] == '/') {
        i += 2;
        break;
      }
    }
  } else {
    return 0;
  }
  r->pos = i;
  return 1;
}

static int scan(struct repair *r)
{
  int rc = PC_OK;

  while (!rc && !r->done && r->pos < r->len) {
    unsigned char c = (unsigned char)r->s[r->pos];
    int as;

    if (is_space(c)) {
      if (c == '\n')
        r->newline = 1;
      rc = pc_buf_putc(r->out, (char)c);
      r->pos++;
      continue;
    }
    if (skip_comment(r))
      continue;
    if (!depth(r) && r->top == ST_DONE) {
      rc = copy_rest(r);  /* text after a complete scalar */
      break;
    }
    if (c == '}' || c == ']') {
      rc = on_closer(r, (char)c);
      continue;
    }
    if (c == ',') {
      rc = on_comma(r);
      continue;
    }
    if (c == ':') {
      if (*state(r) != ST_COLON) {
        rc = copy_junk_byte(r);
        continue;
      }
      *state(r) = ST_OBJVALUE;
      r->pos++;
      rc = emit(r, ":", 1);
      continue;
    }
    if (c != '"' && c != '\'' && c != '{' && c != '[' &&
        !number_starts(r->s, r->len, r->pos) && !is_ident_start(c)) {
      rc = copy_junk_byte(r);
      continue;
    }
    rc = token_starts(r, &as);
    if (rc)
      break;
    if (as == AS_JUNK || (as == AS_KEY && (c == '{' || c == '['))) {
      rc = copy_junk_byte(r);
      continue;
    }
    if (c == '"' || c == '\'') {
      rc = copy_string(r, (char)c);
      value_done(r);
    } else if (c == '{' || c == '[') {
      rc = emit(r, r->s + r->pos++, 1);
      if (!rc)
        rc = push(r, (char)c);
    } else if (number_starts(r->s, r->len, r->pos)) {
      rc = copy_number(r, as);
      value_done(r);
    } else {
      rc = copy_word(r, as);
      value_done(r);
    }
  }
  /* The end of the text closes whatever is still open, innermost first. */
  while (!rc && depth(r))
    rc = finish_level(r, opener(r) == '{' ? '}' : ']');
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Choosing the region                                                      */

static void trim(const char *s, size_t *b, size_t *e)
{
  if (*e - *b >= 3 && memcmp(s + *b, "\xef\xbb\xbf", 3) == 0)
    *b += 3;  /* a UTF-8 byte order mark */
  while (*b < *e && is_space((unsigned char)s[*b]))
    (*b)++;
  while (*e > *b && is_space((unsigned char)s[*e - 1]))
    (*e)--;
}

static const char *find(const char *s, size_t len, const char *what)
{
  size_t n = strlen(what);

  for (size_t i = 0; i + n <= len; i++) {
    if (s[i] == what[0] && memcmp(s + i, what, n) == 0)
      return s + i;
  }
  return NULL;
}

/* Narrow [*b, *e) to the contents of the first ``` fence, if any. */
static void take_fence(const char *s, size_t *b, size_t *e)
{
  const char *open = find(s + *b, *e - *b, "```");
  const char *close;
  size_t i, info;

  if (!open)
    return;
  i = (size_t)(open - s) + 3;
  while (i < *e && s[i] == '`')
    i++;
  /* An info string such as "json" names the language when a line break
   * follows it: skip it. */
  info = i;
  while (info < *e && (is_ident((unsigned char)s[info]) || s[info] == '-' ||
                       s[info] == '+' || s[info] == '.'))
    info++;
  while (info < *e && (s[info] == ' ' || s[info] == '\t'))
    info++;
  if (info < *e && (s[info] == '\n' || s[info] == '\r'))
    i = info;
  close = find(s + i, *e - i, "```");
  *b = i;
  if (close)
    *e = (size_t)(close - s);
  trim(s, b, e);
}

int pc_json_repair(const char *text, size_t len, pc_buf *out, pc_error *err)
{
  struct repair r;
  size_t b = 0, e = len, start = out->len;
  int rc;

  if (!text)
    text = "";
  trim(text, &b, &e);
  if (!value_starts(text + b, e - b)) {
    take_fence(text, &b, &e);
    if (!value_starts(text + b, e - b)) {
      /* Prose around the value: start at the first '{' or '['. */
      while (b < e && text[b] != '{' && text[b] != '[')
        b++;
    }
  }
  if (b >= e)
    return pc_error_set(err, PC_E_PARSE, "JSON repair: no JSON value in "
                        "the text");

  memset(&r, 0, sizeof(r));
  r.s = text + b;
  r.len = e - b;
  r.out = out;
  r.top = ST_VALUE;
  r.sig_end = out->len;
  pc_buf_init(&r.stack, 0);
  rc = scan(&r);
  pc_buf_free(&r.stack);
  if (rc == PC_OK && r.top != ST_DONE && r.sig_end == start)
    rc = pc_error_set(err, PC_E_PARSE, "JSON repair: no JSON value in "
                      "the text");
  else if (rc)
    rc = pc_error_set(err, rc, "JSON repair: out of memory");
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return rc;
}
