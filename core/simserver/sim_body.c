/* sim_body.c - reply bodies of the sim-server (whole JSON, SSE events,
 * NDJSON lines, deliberately broken ones) and the small JSON, time and
 * parsing helpers its wire formats share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "json_text.h"
#include "sim_internal.h"

/* Reply bodies are built in memory; no sim answer comes near this. */
#define BODY_MAX ((size_t)256 << 20)

/* ---- failures and requests ------------------------------------------ */

int pc__sim_fail_set(pc__sim_fail *f, int kind, const char *fmt, ...)
{
  va_list ap;

  f->kind = kind;
  f->message[0] = '\0';
  if (fmt) {
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
  }
  return kind;
}

unsigned pc__sim_fail_status(int kind)
{
  switch (kind) {
  case PC__SIM_FAIL_AUTH: return 401;
  case PC__SIM_FAIL_NOT_FOUND: return 404;
  case PC__SIM_FAIL_TOO_LARGE: return 413;
  case PC__SIM_FAIL_RATE: return 429;
  case PC__SIM_FAIL_500: return 500;
  case PC__SIM_FAIL_503: return 503;
  default: return 400;
  }
}

void pc__sim_req_clear(pc__sim_req *r)
{
  json_object_put(r->body);
  json_object_put(r->params);
  pc_messages_clear(&r->msgs);
  memset(r, 0, sizeof(*r));
}

/* ---- bodies --------------------------------------------------------- */

void pc__sim_body_init(pc__sim_body *b)
{
  memset(b, 0, sizeof(*b));
  pc_buf_init(&b->text, BODY_MAX);
  b->content_type = "application/json";
}

void pc__sim_body_free(pc__sim_body *b)
{
  pc_buf_free(&b->text);
  pc_free(b->ends);
  memset(b, 0, sizeof(*b));
}

/* Close the current event: its end goes into b->ends. */
static int end_event(pc__sim_body *b)
{
  if (b->n_ends == b->cap_ends) {
    size_t cap = b->cap_ends ? 2 * b->cap_ends : 16;
    size_t *e = pc_realloc(b->ends, cap * sizeof(*e));

    if (!e)
      return PC_E_NOMEM;
    b->ends = e;
    b->cap_ends = cap;
  }
  b->ends[b->n_ends++] = b->text.len;
  return PC_OK;
}

/* Append the JSON of `v`; when the body is malformed, only its first
 * half. */
static int put_json(pc__sim_body *b, const struct json_object *v)
{
  pc_buf j;
  int rc;

  pc_buf_init(&j, BODY_MAX);
  rc = pc_json_write(v, PC_JSON_TEXT_COMPACT, &j);
  if (!rc)
    rc = pc_buf_append(&b->text, j.data, b->malformed ? j.len / 2 : j.len);
  pc_buf_free(&j);
  return rc;
}

int pc__sim_body_json(pc__sim_body *b, const struct json_object *v)
{
  int rc;

  pc_buf_reset(&b->text);
  b->streamed = 0;
  b->content_type = "application/json";
  rc = put_json(b, v);
  if (!rc && b->malformed)
    rc = pc_buf_puts(&b->text, "<<sim-server: malformed>>");
  return rc;
}

int pc__sim_body_sse(pc__sim_body *b, const char *event,
                     const struct json_object *v)
{
  int rc = PC_OK;

  b->streamed = 1;
  b->content_type = "text/event-stream";
  if (event)
    rc = pc_buf_printf(&b->text, "event: %s\n", event);
  if (!rc)
    rc = pc_buf_puts(&b->text, "data: ");
  if (!rc)
    rc = put_json(b, v);
  if (!rc)
    rc = pc_buf_puts(&b->text, "\n\n");
  return rc ? rc : end_event(b);
}

int pc__sim_body_sse_raw(pc__sim_body *b, const char *text)
{
  int rc;

  b->streamed = 1;
  b->content_type = "text/event-stream";
  rc = pc_buf_printf(&b->text, "data: %s\n\n", text);
  return rc ? rc : end_event(b);
}

int pc__sim_body_ndjson(pc__sim_body *b, const struct json_object *v)
{
  int rc;

  b->streamed = 1;
  b->content_type = "application/x-ndjson";
  rc = put_json(b, v);
  if (!rc)
    rc = pc_buf_putc(&b->text, '\n');
  return rc ? rc : end_event(b);
}

size_t pc__sim_piece(const char *s, size_t len)
{
  size_t n = PC__SIM_PIECE;

  if (len <= n)
    return len;
  /* Back off while the byte after the cut continues a sequence. */
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n ? n : PC__SIM_PIECE;  /* not UTF-8 at all: cut anywhere */
}

/* ---- JSON building -------------------------------------------------- */

void pc__sim_put(struct json_object *o, const char *key,
                 struct json_object *v, int *rc)
{
  if (*rc || !v || json_object_object_add(o, key, v) != 0) {
    json_object_put(v);
    if (!*rc)
      *rc = PC_E_NOMEM;
  }
}

void pc__sim_put_str(struct json_object *o, const char *key, const char *s,
                     int *rc)
{
  pc__sim_put(o, key, *rc ? NULL : json_object_new_string(s), rc);
}

void pc__sim_put_strn(struct json_object *o, const char *key, const char *s,
                      size_t len, int *rc)
{
  pc__sim_put(o, key, *rc ? NULL : json_object_new_string_len(s, (int)len),
              rc);
}

void pc__sim_put_int(struct json_object *o, const char *key, int64_t v,
                     int *rc)
{
  pc__sim_put(o, key, *rc ? NULL : json_object_new_int64(v), rc);
}

void pc__sim_put_bool(struct json_object *o, const char *key, int v,
                      int *rc)
{
  pc__sim_put(o, key, *rc ? NULL : json_object_new_boolean(v), rc);
}

void pc__sim_put_null(struct json_object *o, const char *key, int *rc)
{
  if (!*rc && json_object_object_add(o, key, NULL) != 0)
    *rc = PC_E_NOMEM;
}

void pc__sim_push(struct json_object *arr, struct json_object *v, int *rc)
{
  if (*rc || !v || json_object_array_add(arr, v) != 0) {
    json_object_put(v);
    if (!*rc)
      *rc = PC_E_NOMEM;
  }
}

struct json_object *pc__sim_obj(int *rc)
{
  struct json_object *o = *rc ? NULL : json_object_new_object();

  if (!o && !*rc)
    *rc = PC_E_NOMEM;
  return o;
}

struct json_object *pc__sim_arr(int *rc)
{
  struct json_object *o = *rc ? NULL : json_object_new_array();

  if (!o && !*rc)
    *rc = PC_E_NOMEM;
  return o;
}

/* ---- times ---------------------------------------------------------- */

void pc__sim_rfc3339(int64_t ns, char out[64])
{
  time_t secs = (time_t)(ns / 1000000000);
  struct tm tm;

  gmtime_r(&secs, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, (long)(ns % 1000000000));
}

void pc__sim_http_date(int64_t secs, char out[64])
{
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                  "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
                                     "Jun", "Jul", "Aug", "Sep", "Oct",
                                     "Nov", "Dec"};
  time_t t = (time_t)secs;
  struct tm tm;

  /* Names of our own: strftime's %a and %b follow the locale. */
  gmtime_r(&t, &tm);
  snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT",
           days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- parsing -------------------------------------------------------- */

int pc__sim_text_content(const struct json_object *c, const char *where,
                         char **out, size_t *len, pc__sim_fail *f)
{
  pc_buf b;
  size_t n;
  int rc = PC_OK;

  *out = NULL;
  *len = 0;
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (!c) {
    rc = PC_OK;  /* null content: an empty text */
  } else if (json_object_is_type(c, json_type_string)) {
    rc = pc_buf_append(&b, json_object_get_string((struct json_object *)c),
                       (size_t)json_object_get_string_len(c));
  } else if (json_object_is_type(c, json_type_array)) {
    n = json_object_array_length(c);
    for (size_t i = 0; !rc && i < n; i++) {
      struct json_object *part = json_object_array_get_idx(c, i);
      const char *type = pc_json_str(part, "type");
      struct json_object *text = pc_json_member(part, "text");

      if (!type || strcmp(type, "text") != 0 ||
          !json_object_is_type(text, json_type_string)) {
        pc_buf_free(&b);
        return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                                "%s[%zu]: only {\"type\": \"text\", "
                                "\"text\": STRING} parts are supported",
                                where, i);
      }
      rc = pc_buf_append(&b, json_object_get_string(text),
                         (size_t)json_object_get_string_len(text));
    }
  } else {
    pc_buf_free(&b);
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "%s: expected a string or an array of text "
                            "parts", where);
  }
  if (!rc && !(*out = pc_buf_take(&b, len)))
    rc = PC_E_NOMEM;
  pc_buf_free(&b);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

int pc__sim_msgs_add(pc_messages *m, const char *role, char *content,
                     size_t len)
{
  pc_chat_message *items;
  char *r = pc_strdup(role);

  items = r ? pc_realloc(m->items, (m->n + 1) * sizeof(*items)) : NULL;
  if (!items) {
    pc_free(r);
    pc_free(content);
    return PC_E_NOMEM;
  }
  m->items = items;
  items[m->n].role = r;
  items[m->n].content = content;
  items[m->n].len = len;
  m->n++;
  return PC_OK;
}

void pc__sim_copy(struct json_object *to, const struct json_object *from,
                  const char *key, int *rc)
{
  struct json_object *v;

  if (*rc || !json_object_object_get_ex(from, key, &v))
    return;
  if (!v)
    pc__sim_put_null(to, key, rc);
  else
    pc__sim_put(to, key, json_object_get(v), rc);
}

int pc__sim_number(const struct json_object *o, const char *key,
                   double *out)
{
  struct json_object *v;

  if (!json_object_object_get_ex(o, key, &v) || !v)
    return 0;
  if (!json_object_is_type(v, json_type_int) &&
      !json_object_is_type(v, json_type_double))
    return -1;
  *out = json_object_get_double(v);
  return 1;
}
