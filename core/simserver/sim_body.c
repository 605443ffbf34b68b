/* sim_body.c - reply bodies of the sim-server (whole JSON, SSE events,
 * NDJSON lines, deliberately broken ones) and the small JSON building and
 * time helpers its wire formats share (reading requests is
 * sim_wire_common.c). */
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

int pc__sim_body_put(pc__sim_body *b, int how, const char *event,
                     struct json_object *v, int rc)
{
  if (!rc) {
    if (how == PC__SIM_PUT_SSE)
      rc = pc__sim_body_sse(b, event, v);
    else if (how == PC__SIM_PUT_NDJSON)
      rc = pc__sim_body_ndjson(b, v);
    else
      rc = pc__sim_body_json(b, v);
  }
  json_object_put(v);
  return rc;
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
