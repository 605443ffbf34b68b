/*
 * lm_common.c - the code the HTTP LM provider plugins share: host tables,
 * buffers, the common settings, one HTTP exchange through "pc.http/1"
 * with streamed bodies split into lines, Retry-After parsing, the mapping
 * of HTTP failures to PC_E_* codes, JSON helpers for the wire files,
 * delivery to the sink, the plugin and instance lifecycle, and for APIs
 * without `n` one request per choice (lm_common.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lm_common.h"

/* Longest Retry-After we report: a year, so sums never overflow. */
#define RETRY_AFTER_MAX_MS ((int64_t)366 * 24 * 3600 * 1000)

/* Timeouts (seconds) a config may set. */
#define TIMEOUT_MAX_S 86400.0

/* ------------------------------------------------------------------------ */
/* Errors and small helpers.                                                */

int pc__lm_error(pc_error *err, int code, const char *fmt, ...)
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

int pc__lm_refused(pc_error *err, const char *who, int code,
                   const char *what)
{
  if (code == PC_E_NOMEM)
    return pc__lm_error(err, code, "%s: out of memory (the sink refused the "
                        "%s)", who, what);
  return pc__lm_error(err, PC_E_CANCELLED, "%s: the sink refused the %s",
                      who, what);
}

static int lower(int c)
{
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive (ASCII) equality of s[0..n) and the string t. */
static int name_is(const char *s, size_t n, const char *t)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (!t[i] || lower((unsigned char)s[i]) != lower((unsigned char)t[i]))
      return 0;
  return t[n] == '\0';
}

/* Non-zero when `needle` (lowercase ASCII) occurs in s without regard to
 * case. */
static int icontains(const char *s, const char *needle)
{
  size_t i;

  for (; s && *s; s++) {
    for (i = 0; needle[i] && lower((unsigned char)s[i]) == needle[i]; i++)
      ;
    if (!needle[i])
      return 1;
  }
  return 0;
}

static int is_space(int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
         c == '\v';
}

static void trim(const char **s, size_t *n)
{
  while (*n && is_space((unsigned char)**s)) {
    (*s)++;
    (*n)--;
  }
  while (*n && is_space((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

const char *pc__lm_str(const pc__lm_host *h, const pc_json *o,
                       const char *key)
{
  const pc_json *v;

  if (!o || h->json->type(o) != PC_JSON_OBJECT)
    return NULL;
  v = h->json->object_get(o, key);
  if (!v || h->json->type(v) != PC_JSON_STRING)
    return NULL;
  return h->json->get_string(v, NULL);
}

/* The length of the valid UTF-8 sequence of more than one byte at s
 * (n bytes available), or 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
  size_t k, i;

  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    k = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    k = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    k = 4;
  else
    return 0;
  if (k > n)
    return 0;
  for (i = 1; i < k; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return k;
}

size_t pc__lm_clean(const char *s, size_t len, size_t max, char *out,
                    size_t cap)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t n = 0, i = 0, k, cut;
  int space = 0, cut_short = 0;

  if (!cap)
    return 0;
  if (max > cap - 1)
    max = cap - 1;
  while (s && i < len) {
    const unsigned char *src = u + i;

    if (u[i] < 0x20 || u[i] == 0x7f || u[i] == ' ') {
      space = n > 0;
      i++;
      continue;
    }
    k = u[i] < 0x80 ? 1 : utf8_len(u + i, len - i);
    i += k ? k : 1;
    if (!k) {
      src = (const unsigned char *)"?";  /* not UTF-8 */
      k = 1;
    }
    if (n + (size_t)space + k > max) {
      cut_short = 1;
      break;
    }
    if (space)
      out[n++] = ' ';
    space = 0;
    memcpy(out + n, src, k);
    n += k;
  }
  if (cut_short) {
    /* Room for "...", on a character boundary, without a space before. */
    cut = max >= 3 ? max - 3 : 0;
    if (cut > n)
      cut = n;
    while (cut > 0 && cut < n && ((unsigned char)out[cut] & 0xc0) == 0x80)
      cut--;
    while (cut > 0 && out[cut - 1] == ' ')
      cut--;
    for (n = cut, i = 0; i < 3 && n < max; i++)
      out[n++] = '.';
  }
  out[n] = '\0';
  return n;
}

/* ------------------------------------------------------------------------ */
/* Host tables.                                                             */

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

int pc__lm_host_init(const pc_host_api *host, const char *who,
                     pc__lm_host *out, pc_error *err)
{
  static const struct {
    const char *id;
    uint32_t size;
  } need[] = {
    {"pc.json/1", (uint32_t)sizeof(pc_json_api)},
    {"pc.http/1", (uint32_t)sizeof(pc_http_api)},
    {"pc.hash/1", (uint32_t)sizeof(pc_hash_api)},
  };
  const void *tables[3];
  size_t i;

  memset(out, 0, sizeof(*out));
  if (!host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->realloc || !host->free || !host->wall_ms ||
      !host->is_cancelled || !host->get_host_interface)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: the host table is "
                        "missing or too short", who);
  for (i = 0; i < 3; i++) {
    tables[i] = service(host, need[i].id, need[i].size);
    if (!tables[i])
      return pc__lm_error(err, PC_E_UNSUPPORTED, "%s: the host does not "
                          "offer service %s (major %d, %u bytes)", who,
                          need[i].id, PC_ABI_MAJOR, (unsigned)need[i].size);
  }
  out->host = host;
  out->json = tables[0];
  out->http = tables[1];
  out->hash = tables[2];
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Buffers.                                                                 */

/* An empty buffer points at this (never written: cap 0 means not owned),
 * so data is always a NUL-terminated string. */
static char empty_text[1];

void pc__lm_buf_init(pc__lm_buf *b, const pc__lm_host *h)
{
  b->h = h;
  b->data = empty_text;
  b->len = 0;
  b->cap = 0;
}

int pc__lm_buf_put(pc__lm_buf *b, const char *s, size_t n)
{
  const pc_host_api *host = b->h->host;
  size_t want, cap;
  char *p;

  if (n > PC__LM_BUF_MAX || b->len > PC__LM_BUF_MAX - n)
    return PC_E_NOMEM;
  want = b->len + n + 1;
  if (want > b->cap) {
    cap = b->cap ? b->cap : 64;
    while (cap < want)
      cap = cap > ((size_t)-1) / 2 ? want : cap * 2;
    if (cap > PC__LM_BUF_MAX + 1)
      cap = PC__LM_BUF_MAX + 1;
    p = b->cap ? host->realloc(host->ctx, b->data, cap)
               : host->alloc(host->ctx, cap);
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

int pc__lm_buf_puts(pc__lm_buf *b, const char *s)
{
  return pc__lm_buf_put(b, s, strlen(s));
}

void pc__lm_buf_free(pc__lm_buf *b)
{
  if (b->cap)
    b->h->host->free(b->h->host->ctx, b->data);
  b->data = empty_text;
  b->len = 0;
  b->cap = 0;
}

char *pc__lm_buf_take(pc__lm_buf *b)
{
  char *p;

  if (!b->cap && pc__lm_buf_put(b, "", 0))
    return NULL;
  p = b->data;
  pc__lm_buf_init(b, b->h);
  return p;
}

void pc__lm_buf_reset(pc__lm_buf *b)
{
  b->len = 0;
  if (b->cap)
    b->data[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

void pc__lm_conf_free(const pc__lm_host *h, pc__lm_conf *c)
{
  void *ctx = h->host->ctx;

  h->host->free(ctx, c->base_url);
  h->host->free(ctx, c->model);
  h->host->free(ctx, c->api_key_ref);
  h->json->free(ctx, c->headers);
  memset(c, 0, sizeof(*c));
}

char *pc__lm_strndup(const pc__lm_host *h, const char *s, size_t n)
{
  char *p = h->host->alloc(h->host->ctx, n + 1);

  if (!p)
    return NULL;
  if (n)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* A string member without NUL bytes, non-empty. */
static int conf_string(const pc__lm_host *h, const char *who,
                       const char *key, const pc_json *v, const char **s,
                       size_t *n, pc_error *err)
{
  *s = NULL;
  if (h->json->type(v) == PC_JSON_STRING)
    *s = h->json->get_string(v, n);
  if (!*s || !*n || strlen(*s) != *n)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"%s\" must be "
                        "a non-empty string", who, key);
  return PC_OK;
}

/* A number of seconds in (0, TIMEOUT_MAX_S], as milliseconds (>= 1). */
static int conf_seconds(const pc__lm_host *h, const char *who,
                        const char *key, const pc_json *v, int64_t *ms,
                        pc_error *err)
{
  int32_t t = h->json->type(v);
  double d = h->json->get_double(v);

  if ((t != PC_JSON_INT && t != PC_JSON_DOUBLE) || !(d > 0.0) ||
      d > TIMEOUT_MAX_S)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"%s\" must be "
                        "a number of seconds above 0 and at most %.0f", who,
                        key, TIMEOUT_MAX_S);
  *ms = (int64_t)(d * 1000.0 + 0.5);
  if (*ms < 1)
    *ms = 1;
  return PC_OK;
}

/* An HTTP header name: a token (RFC 9110), not one the provider or the
 * transport sets, and not a credential (those go through "api_key"). */
static int header_name_ok(const char *s)
{
  static const char *const reserved[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key",
    "content-type", "content-length", "host", "transfer-encoding", NULL,
  };
  const char *p;
  size_t i;

  if (!*s)
    return 0;
  for (p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
      return 0;
  for (i = 0; reserved[i]; i++)
    if (name_is(s, strlen(s), reserved[i]))
      return 0;
  return 1;
}

static int conf_headers(const pc__lm_host *h, const char *who,
                        const pc_json *v, pc__lm_conf *c, pc_error *err)
{
  const pc_json_api *js = h->json;
  size_t i, n, len;

  if (js->type(v) == PC_JSON_NULL)
    return PC_OK;
  if (js->type(v) != PC_JSON_OBJECT)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"headers\" "
                        "must be an object of strings", who);
  n = js->object_len(v);
  for (i = 0; i < n; i++) {
    const char *name, *s;
    const pc_json *hv;

    if (js->object_at(v, i, &name, &hv))
      continue;
    if (!header_name_ok(name))
      return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"headers\": "
                          "\"%.60s\" is not a header name you may set here "
                          "(credentials go in \"api_key\")", who, name);
    s = js->type(hv) == PC_JSON_STRING ? js->get_string(hv, &len) : NULL;
    if (!s || strlen(s) != len || strpbrk(s, "\r\n"))
      return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"headers\": "
                          "\"%.60s\" must be a one-line string", who, name);
  }
  c->headers = js->copy(h->host->ctx, v);
  if (!c->headers)
    return pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
  return PC_OK;
}

/* "api_key": a secret reference, never echoed in a message. */
static int conf_api_key(const pc__lm_host *h, const char *who,
                        const pc_json *v, pc__lm_conf *c, pc_error *err)
{
  const char *s = NULL, *p;
  size_t n = 0;

  if (h->json->type(v) == PC_JSON_NULL)
    return PC_OK;
  if (h->json->type(v) == PC_JSON_STRING)
    s = h->json->get_string(v, &n);
  if (!s || strlen(s) != n ||
      !((n > 4 && !strncmp(s, "env:", 4)) ||
        (n > 5 && !strncmp(s, "file:", 5))))
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"api_key\" "
                        "must be a secret reference such as "
                        "env:OPENAI_API_KEY (the value given is not shown)",
                        who);
  /* The host reads the reference after the header value's last space. */
  for (p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"api_key\": "
                          "a secret reference may not contain spaces or "
                          "control characters (the value given is not "
                          "shown)", who);
  c->api_key_ref = pc__lm_strndup(h, s, n);
  if (!c->api_key_ref)
    return pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
  return PC_OK;
}

/* One member of the config object. */
static int conf_member(const pc__lm_host *h, const char *who,
                       const char *key, const pc_json *v,
                       const char *const *extra, pc__lm_conf *c,
                       pc_error *err)
{
  const char *s;
  size_t n, i;

  if (!strcmp(key, "base_url") || !strcmp(key, "model")) {
    char **dst = key[0] == 'b' ? &c->base_url : &c->model;

    if (conf_string(h, who, key, v, &s, &n, err))
      return PC_E_INVALID_ARG;
    if (key[0] == 'b') {
      if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
        return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: "
                            "\"base_url\" must start with http:// or "
                            "https://", who);
      if (s[n - 1] == '/')
        n--;
    }
    h->host->free(h->host->ctx, *dst);
    *dst = pc__lm_strndup(h, s, n);
    return *dst ? PC_OK : pc__lm_error(err, PC_E_NOMEM, "%s: out of memory",
                                       who);
  }
  if (!strcmp(key, "api_key"))
    return conf_api_key(h, who, v, c, err);
  if (!strcmp(key, "timeout"))
    return conf_seconds(h, who, key, v, &c->timeout_ms, err);
  if (!strcmp(key, "connect_timeout"))
    return conf_seconds(h, who, key, v, &c->connect_timeout_ms, err);
  if (!strcmp(key, "stream")) {
    if (h->json->type(v) != PC_JSON_BOOL)
      return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"stream\" "
                          "must be true or false", who);
    c->stream = h->json->get_bool(v) != 0;
    return PC_OK;
  }
  if (!strcmp(key, "headers"))
    return conf_headers(h, who, v, c, err);
  if (!strcmp(key, "base_dir"))
    return PC_OK;
  for (i = 0; extra && extra[i]; i++)
    if (!strcmp(key, extra[i]))
      return PC_OK;
  return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: unknown key "
                      "\"%.80s\"", who, key);
}

int pc__lm_conf_read(const pc__lm_host *h, const char *who,
                     const char *config_json, size_t len,
                     const char *default_base_url, int model_required,
                     const char *const *extra, pc__lm_conf *out,
                     pc_json **obj, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error e = PC_ERROR_INIT;
  pc_json *o = NULL;
  size_t i, n;
  int rc = PC_OK;

  memset(out, 0, sizeof(*out));
  out->timeout_ms = 600000;
  out->connect_timeout_ms = 10000;
  if (obj)
    *obj = NULL;
  if (!config_json || !len) {
    config_json = "{}";
    len = 2;
  }
  if (js->parse(h->host->ctx, config_json, len, PC_JSON_PARSE_STRICT, &o,
                &e))
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: %s", who,
                        e.message);
  if (!o || js->type(o) != PC_JSON_OBJECT) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: expected a JSON "
                      "object", who);
    goto fail;
  }
  n = js->object_len(o);
  for (i = 0; i < n; i++) {
    const char *key;
    const pc_json *v;

    if (js->object_at(o, i, &key, &v))
      continue;
    rc = conf_member(h, who, key, v, extra, out, err);
    if (rc)
      goto fail;
  }
  if (!out->base_url && default_base_url) {
    n = strlen(default_base_url);
    if (n && default_base_url[n - 1] == '/')
      n--;
    out->base_url = pc__lm_strndup(h, default_base_url, n);
    if (!out->base_url) {
      rc = pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
      goto fail;
    }
  }
  if (!out->base_url) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"base_url\" is "
                      "required", who);
    goto fail;
  }
  if (model_required && !out->model) {
    rc = pc__lm_error(err, PC_E_INVALID_ARG, "%s: config: \"model\" is "
                      "required", who);
    goto fail;
  }
  if (obj)
    *obj = o;
  else
    js->free(h->host->ctx, o);
  return PC_OK;

fail:
  js->free(h->host->ctx, o);
  pc__lm_conf_free(h, out);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Request pieces.                                                          */

pc_json *pc__lm_messages_json(const pc__lm_host *h, const pc_lm_request *req,
                              const char *const *skip)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *arr = js->new_array(ctx);
  uint64_t i;
  size_t k;

  if (!arr)
    return NULL;
  for (i = 0; i < req->n_messages; i++) {
    const pc_message *m = (const pc_message *)(const void *)
      ((const char *)req->messages + i * req->message_size);
    const char *role = m->role ? m->role : "";
    pc_json *o;
    int skipped = 0;

    for (k = 0; skip && skip[k]; k++)
      skipped |= !strcmp(role, skip[k]);
    if (skipped)
      continue;
    o = js->new_object(ctx);
    if (!o || js->object_set(ctx, o, "role",
                             js->new_string(ctx, role, strlen(role))) ||
        js->object_set(ctx, o, "content",
                       js->new_string(ctx, m->content ? m->content : "",
                                      m->content ? (size_t)m->content_len
                                                 : 0)) ||
        js->array_append(ctx, arr, o)) {
      /* object_set and array_append took over what they were given. */
      js->free(ctx, arr);
      return NULL;
    }
  }
  return arr;
}

int pc__lm_params(const pc__lm_host *h, const char *who,
                  const pc_lm_request *req, pc_json **out, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error e = PC_ERROR_INIT;
  pc_json *o = NULL;

  *out = NULL;
  if (!req->params_json || !req->params_len) {
    o = js->new_object(h->host->ctx);
    if (!o)
      return pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
    *out = o;
    return PC_OK;
  }
  if (js->parse(h->host->ctx, req->params_json, (size_t)req->params_len,
                PC_JSON_PARSE_STRICT, &o, &e))
    return pc__lm_error(err, e.code == PC_E_NOMEM ? PC_E_NOMEM
                                                  : PC_E_INVALID_ARG,
                        "%s: params: %s", who, e.message);
  if (js->type(o) != PC_JSON_OBJECT) {
    js->free(h->host->ctx, o);
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: params: expected a "
                        "JSON object", who);
  }
  *out = o;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Retry-After.                                                             */

/* A decimal number "D[.D]" times `scale`, rounded up; -1 when s is not
 * one. Saturates at RETRY_AFTER_MAX_MS. */
static int64_t decimal_ms(const char *s, size_t n, int64_t scale)
{
  int64_t whole = 0, frac = 0, div = 1, ms;
  size_t i = 0, digits = 0;

  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
    if (whole <= RETRY_AFTER_MAX_MS)
      whole = whole * 10 + (s[i] - '0');
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
      if (div < 1000000000) {
        frac = frac * 10 + (s[i] - '0');
        div *= 10;
      }
  }
  if (!digits || i != n)
    return -1;
  if (whole > RETRY_AFTER_MAX_MS / scale)
    return RETRY_AFTER_MAX_MS;
  ms = whole * scale + (frac * scale + div - 1) / div;
  return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int month_index(const char *mon)
{
  static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int i;

  if (strlen(mon) != 3)
    return -1;
  for (i = 0; i < 12; i++)
    if (!strncmp(names + 3 * i, mon, 3))
      return i + 1;
  return -1;
}

/* An HTTP date in any of the three forms RFC 9110 says to accept, as ms
 * since the epoch in *ms (negative before 1970). Returns 0, or -1 when the
 * text is none of them. */
static int http_date_ms(const char *s, size_t n, int64_t *ms)
{
  char text[64], wd[16], mon[4], zone[8];
  int d, y, hh, mm, ss, end = 0, m;

  if (n >= sizeof(text))
    return -1;
  memcpy(text, s, n);
  text[n] = '\0';
  if (sscanf(text, "%15[A-Za-z], %d %3[A-Za-z] %d %d:%d:%d %7s%n", wd, &d,
             mon, &y, &hh, &mm, &ss, zone, &end) == 8 && (size_t)end == n &&
      !strcmp(zone, "GMT")) {
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
  } else if (end = 0,
             sscanf(text, "%15[A-Za-z], %d-%3[A-Za-z]-%d %d:%d:%d %7s%n", wd,
                    &d, mon, &y, &hh, &mm, &ss, zone, &end) == 8 &&
             (size_t)end == n && !strcmp(zone, "GMT")) {
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". */
    if (y >= 0 && y < 100)
      y += y < 70 ? 2000 : 1900;
  } else if (end = 0,
             sscanf(text, "%15[A-Za-z] %3[A-Za-z] %d %d:%d:%d %d%n", wd, mon,
                    &d, &hh, &mm, &ss, &y, &end) == 7 && (size_t)end == n) {
    /* asctime: "Sun Nov  6 08:49:37 1994". */
  } else {
    return -1;
  }
  m = month_index(mon);
  if (m < 0 || d < 1 || d > 31 || y < 1900 || y > 9999 || hh < 0 ||
      hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
    return -1;
  *ms = ((days_from_civil(y, m, d) * 24 + hh) * 60 + mm) * 60000 +
        (int64_t)ss * 1000;
  return 0;
}

int64_t pc__lm_parse_retry_after(const char *value, size_t len,
                                 uint64_t now_wall_ms)
{
  int64_t at;

  if (!value)
    return -1;
  trim(&value, &len);
  if (!len)
    return -1;
  if ((value[0] >= '0' && value[0] <= '9') || value[0] == '.')
    return decimal_ms(value, len, 1000);
  if (http_date_ms(value, len, &at))
    return -1;
  if (at <= 0 || (uint64_t)at <= now_wall_ms)
    return 0;
  at -= (int64_t)now_wall_ms;
  return at > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : at;
}

/* ------------------------------------------------------------------------ */
/* Lines.                                                                   */

void pc__lm_lines_init(pc__lm_lines *l, const pc__lm_host *h,
                       pc__lm_line_fn fn, void *ctx)
{
  pc__lm_buf_init(&l->part, h);
  l->fn = fn;
  l->ctx = ctx;
}

void pc__lm_lines_free(pc__lm_lines *l)
{
  pc__lm_buf_free(&l->part);
}

/* Deliver line s[0..n) without a trailing "\r". */
static int deliver(pc__lm_lines *l, const char *s, size_t n)
{
  if (n && s[n - 1] == '\r')
    n--;
  return l->fn(l->ctx, s, n);
}

int pc__lm_lines_feed(pc__lm_lines *l, const char *data, size_t len)
{
  const char *nl;
  int rc;

  while (len) {
    nl = memchr(data, '\n', len);
    if (!nl) {
      if (len > PC__LM_BUF_MAX - l->part.len)
        return PC_E_PROVIDER;
      return pc__lm_buf_put(&l->part, data, len);
    }
    if (l->part.len) {
      /* The line began in an earlier piece: finish it in `part`. */
      if ((size_t)(nl - data) > PC__LM_BUF_MAX - l->part.len)
        return PC_E_PROVIDER;
      rc = pc__lm_buf_put(&l->part, data, (size_t)(nl - data));
      if (!rc)
        rc = deliver(l, l->part.data, l->part.len);
      pc__lm_buf_reset(&l->part);
    } else {
      rc = deliver(l, data, (size_t)(nl - data));
    }
    if (rc)
      return rc;
    len -= (size_t)(nl - data) + 1;
    data = nl + 1;
  }
  return PC_OK;
}

int pc__lm_lines_finish(pc__lm_lines *l)
{
  int rc = PC_OK;

  if (l->part.len)
    rc = deliver(l, l->part.data, l->part.len);
  pc__lm_buf_reset(&l->part);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* One exchange.                                                            */

void pc__lm_reply_init(pc__lm_reply *r, const pc__lm_host *h)
{
  r->status = 0;
  r->retry_after_ms = -1;
  r->request_id[0] = '\0';
  pc__lm_buf_init(&r->body, h);
}

void pc__lm_reply_free(pc__lm_reply *r)
{
  pc__lm_buf_free(&r->body);
}

/* What the HTTP sink works with during one exchange. */
typedef struct xchg {
  const pc__lm_host *h;
  const char *who;
  pc__lm_reply *reply;
  pc__lm_lines lines;     /* owned */
  int want_lines;         /* the caller asked for lines */
  int lines_now;          /* ... and this response is a 2xx */
  int retry_ms_seen;      /* retry-after-ms wins over Retry-After */
  int xid_seen;           /* x-request-id wins over request-id */
  pc_error *err;          /* borrowed: the caller's */
} xchg;

static int x_status(void *ctx, int32_t status)
{
  xchg *x = ctx;

  /* A new response (after an interim one): forget the last one's data. */
  x->reply->status = status;
  x->reply->retry_after_ms = -1;
  x->reply->request_id[0] = '\0';
  x->retry_ms_seen = 0;
  x->xid_seen = 0;
  pc__lm_buf_reset(&x->reply->body);
  pc__lm_buf_reset(&x->lines.part);
  x->lines_now = x->want_lines && PC__LM_2XX(status);
  return PC_OK;
}

static void keep_request_id(xchg *x, const char *v, size_t n)
{
  char *id = x->reply->request_id;
  size_t i, cap = sizeof(x->reply->request_id) - 1;

  for (i = 0; i < n && i < cap; i++)
    id[i] = v[i] > ' ' && v[i] < 0x7f ? v[i] : '?';
  id[i] = '\0';
}

static int x_header(void *ctx, const char *name, size_t name_len,
                    const char *value, size_t value_len)
{
  xchg *x = ctx;
  int64_t ms;

  trim(&name, &name_len);
  trim(&value, &value_len);
  if (name_is(name, name_len, "retry-after-ms")) {
    ms = decimal_ms(value, value_len, 1);
    if (ms >= 0) {
      x->reply->retry_after_ms = ms;
      x->retry_ms_seen = 1;
    }
  } else if (name_is(name, name_len, "retry-after") && !x->retry_ms_seen) {
    x->reply->retry_after_ms =
      pc__lm_parse_retry_after(value, value_len,
                               x->h->host->wall_ms(x->h->host->ctx));
  } else if (name_is(name, name_len, "x-request-id") && value_len) {
    keep_request_id(x, value, value_len);
    x->xid_seen = 1;
  } else if (name_is(name, name_len, "request-id") && value_len &&
             !x->xid_seen) {
    keep_request_id(x, value, value_len);
  }
  return PC_OK;
}

static int x_data(void *ctx, const char *data, size_t len)
{
  xchg *x = ctx;
  int rc;

  if (!x->lines_now) {
    if (pc__lm_buf_put(&x->reply->body, data, len))
      return pc__lm_error(x->err, PC_E_PROVIDER, "%s: HTTP %d: the response "
                          "body is larger than %zu bytes or memory ran "
                          "out", x->who, (int)x->reply->status,
                          (size_t)PC__LM_BUF_MAX);
    return PC_OK;
  }
  rc = pc__lm_lines_feed(&x->lines, data, len);
  if (rc == PC_E_PROVIDER && x->err && !x->err->code)
    pc__lm_error(x->err, rc, "%s: stream: a line is longer than %zu bytes",
                 x->who, (size_t)PC__LM_BUF_MAX);
  else if (rc == PC_E_NOMEM)
    pc__lm_error(x->err, rc, "%s: out of memory", x->who);
  return rc;
}

/* Count of string members of the conf's extra headers. */
static size_t conf_header_count(const pc__lm_host *h, const pc__lm_conf *c)
{
  return c->headers ? h->json->object_len(c->headers) : 0;
}

static void set_header(pc_http_header *hd, const char *name,
                       const char *value)
{
  hd->hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_http_header);
  hd->name = name;
  hd->value = value;
}

int pc__lm_exchange(const pc__lm_host *h, const char *who,
                    const pc__lm_conf *conf, const char *path,
                    const char *const *headers, const char *auth_header,
                    const char *auth_prefix, const char *body,
                    size_t body_len, pc__lm_line_fn on_line, void *line_ctx,
                    pc_call *call, pc__lm_reply *reply, pc_error *err)
{
  const pc_host_api *host = h->host;
  pc_error e = PC_ERROR_INIT;
  pc__lm_buf url, auth;
  pc_http_header *hds = NULL;
  pc_http_request req;
  pc_http_sink sink;
  xchg x;
  size_t n = 0, cap, i;
  int rc;

  pc__lm_buf_init(&url, h);
  pc__lm_buf_init(&auth, h);
  memset(&x, 0, sizeof(x));
  x.h = h;
  x.who = who;
  x.reply = reply;
  x.want_lines = on_line != NULL;
  x.err = err;
  pc__lm_lines_init(&x.lines, h, on_line, line_ctx);
  reply->status = 0;
  reply->retry_after_ms = -1;
  reply->request_id[0] = '\0';
  pc__lm_buf_reset(&reply->body);

  if (host->is_cancelled(host->ctx, call)) {
    rc = pc__lm_error(err, PC_E_CANCELLED, "%s: cancelled", who);
    goto out;
  }
  cap = conf_header_count(h, conf) + 2;
  for (i = 0; headers && headers[i]; i += 2)
    cap++;
  hds = host->alloc(host->ctx, cap * sizeof(*hds));
  if (!hds || pc__lm_buf_puts(&url, conf->base_url) ||
      pc__lm_buf_puts(&url, path ? path : "")) {
    rc = pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
    goto out;
  }
  for (i = 0; i < conf_header_count(h, conf); i++) {
    const char *name;
    const pc_json *v;

    if (!h->json->object_at(conf->headers, i, &name, &v) &&
        h->json->type(v) == PC_JSON_STRING)
      set_header(&hds[n++], name, h->json->get_string(v, NULL));
  }
  if (body)
    set_header(&hds[n++], "Content-Type", "application/json");
  for (i = 0; headers && headers[i]; i += 2)
    if (headers[i + 1])
      set_header(&hds[n++], headers[i], headers[i + 1]);
  if (auth_header && conf->api_key_ref) {
    if (pc__lm_buf_puts(&auth, auth_prefix ? auth_prefix : "") ||
        pc__lm_buf_puts(&auth, conf->api_key_ref)) {
      rc = pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
      goto out;
    }
    set_header(&hds[n++], auth_header, auth.data);
  }

  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_http_request);
  req.method = body ? "POST" : "GET";
  req.url = url.data;
  req.headers = hds;
  req.n_headers = n;
  req.header_size = (uint32_t)sizeof(pc_http_header);
  req.flags = on_line ? PC_HTTP_STREAM : 0;
  req.body = body;
  req.body_len = body ? body_len : 0;
  req.connect_timeout_ms = conf->connect_timeout_ms;
  req.total_timeout_ms = conf->timeout_ms;
  req.secret_header = auth_header && conf->api_key_ref ? auth_header : NULL;

  memset(&sink, 0, sizeof(sink));
  sink.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_http_sink);
  sink.ctx = &x;
  sink.on_status = x_status;
  sink.on_header = x_header;
  sink.on_data = x_data;

  rc = h->http->request(host->ctx, &req, &sink, call, &e);
  if (rc == PC_OK && x.lines_now) {
    rc = pc__lm_lines_finish(&x.lines);
    if (rc == PC_E_NOMEM)
      pc__lm_error(err, rc, "%s: out of memory", who);
  }
  if (rc != PC_OK && !(err && err->code)) {
    /* The transport's own words, after the plugin's name. */
    if (e.code)
      pc__lm_error(err, rc, "%s: %s", who, e.message);
    else
      pc__lm_error(err, rc, "%s: the request failed (code %d)", who, rc);
    if (err) {
      err->http_status = e.http_status;
      err->retry_after_ms = e.retry_after_ms;
    }
  }
out:
  pc__lm_lines_free(&x.lines);
  host->free(host->ctx, hds);
  pc__lm_buf_free(&url);
  pc__lm_buf_free(&auth);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Failures.                                                                */

/* The provider's message and error code from an error body (borrowed from
 * *doc, which the caller frees), or NULLs. */
static void error_fields(const pc__lm_host *h, const pc_json *doc,
                         const char **msg, const char **code)
{
  const pc_json_api *js = h->json;
  const pc_json *e;

  *msg = NULL;
  *code = NULL;
  if (!doc || js->type(doc) != PC_JSON_OBJECT)
    return;
  e = js->object_get(doc, "error");
  if (e && js->type(e) == PC_JSON_OBJECT) {
    *msg = pc__lm_str(h, e, "message");
    *code = pc__lm_str(h, e, "code");
    if (!*code)
      *code = pc__lm_str(h, e, "type");
  } else if (e && js->type(e) == PC_JSON_STRING) {
    *msg = js->get_string(e, NULL);
  }
  if (!*msg)
    *msg = pc__lm_str(h, doc, "message");
  if (!*msg)
    *msg = pc__lm_str(h, doc, "detail");
  if (!*code)
    *code = pc__lm_str(h, doc, "code");
}

int pc__lm_says_too_long(const char *s)
{
  static const char *const words[] = {
    "context_length_exceeded", "context length", "context_length",
    "too long", "maximum context", "context window", NULL,
  };
  size_t i;

  for (i = 0; s && words[i]; i++)
    if (icontains(s, words[i]))
      return 1;
  return 0;
}

int pc__lm_status_error(const pc__lm_host *h, const char *who,
                        const pc__lm_reply *reply, pc_error *err)
{
  const pc_json_api *js = h->json;
  pc_error pe = PC_ERROR_INIT;
  pc_json *doc = NULL;
  const char *msg = NULL, *code = NULL;
  char clean[PC__LM_MESSAGE_MAX + 1];
  int32_t st = reply->status;
  int rc, retry;

  if (reply->body.len &&
      !js->parse(h->host->ctx, reply->body.data, reply->body.len,
                 PC_JSON_PARSE_STRICT, &doc, &pe))
    error_fields(h, doc, &msg, &code);
  if (msg)
    pc__lm_clean(msg, strlen(msg), PC__LM_MESSAGE_MAX, clean, sizeof(clean));
  else
    pc__lm_clean(reply->body.data, reply->body.len, PC__LM_MESSAGE_MAX,
                 clean, sizeof(clean));

  retry = 0;
  if (st == 401 || st == 403) {
    rc = PC_E_AUTH;
  } else if (st == 429) {
    rc = PC_E_RATE_LIMITED;
    retry = 1;
  } else if (st == 408) {
    rc = PC_E_TIMEOUT;
    retry = 1;
  } else if (st == 400 || st == 404 || st == 413 || st == 422) {
    rc = pc__lm_says_too_long(msg) || pc__lm_says_too_long(code)
           ? PC_E_CONTEXT_LENGTH : PC_E_INVALID_ARG;
  } else {
    rc = PC_E_PROVIDER;
    retry = 1;
  }
  if (err && !err->code) {
    if (clean[0])
      pc__lm_error(err, rc, "%s: HTTP %d: %s", who, (int)st, clean);
    else
      pc__lm_error(err, rc, "%s: HTTP %d (no message)", who, (int)st);
    err->http_status = st;
    err->retry_after_ms = retry ? reply->retry_after_ms : -1;
  }
  js->free(h->host->ctx, doc);
  return rc;
}

int pc__lm_fetch(const pc__lm_host *h, const char *who,
                 const pc__lm_conf *conf, const char *path,
                 const char *const *headers, const char *auth_header,
                 const char *auth_prefix, const char *body, size_t body_len,
                 pc__lm_line_fn on_line, void *line_ctx, pc_call *call,
                 pc__lm_reply *reply, pc_error *err)
{
  int rc = pc__lm_exchange(h, who, conf, path, headers, auth_header,
                           auth_prefix, body, body_len, on_line, line_ctx,
                           call, reply, err);

  if (!rc && !PC__LM_2XX(reply->status))
    rc = pc__lm_status_error(h, who, reply, err);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers for the wire files.                                         */

int pc__lm_nomem(pc_error *err, const char *who)
{
  return pc__lm_error(err, PC_E_NOMEM, "%s: out of memory", who);
}

void pc__lm_copy(char *dst, size_t cap, const char *s)
{
  snprintf(dst, cap, "%s", s ? s : "");
}

int pc__lm_json_text(const pc__lm_host *h, const char *who, const pc_json *v,
                     char **out, size_t *len, pc_error *err)
{
  *out = NULL;
  *len = 0;
  if (h->json->to_text(h->host->ctx, v, PC_JSON_TEXT_COMPACT, out, len)) {
    *out = NULL;
    *len = 0;
    return pc__lm_nomem(err, who);
  }
  return PC_OK;
}

const pc_json *pc__lm_member(const pc__lm_host *h, const pc_json *o,
                             const char *key)
{
  const pc_json *v = o ? h->json->object_get(o, key) : NULL;

  return v && h->json->type(v) != PC_JSON_NULL ? v : NULL;
}

int pc__lm_put(const pc__lm_host *h, pc_json *obj, const char *key,
               pc_json *value)
{
  if (!value)
    return PC_E_NOMEM;
  return h->json->object_set(h->host->ctx, obj, key, value) ? PC_E_NOMEM
                                                             : PC_OK;
}

int pc__lm_put_str(const pc__lm_host *h, pc_json *obj, const char *key,
                   const char *s)
{
  return pc__lm_put(h, obj, key,
                    h->json->new_string(h->host->ctx, s, strlen(s)));
}

int pc__lm_put_number(const pc__lm_host *h, const char *who, pc_json *dst,
                      const pc_json *params, const char *key,
                      const char *name, int integer, pc_error *err)
{
  const pc_json *v = pc__lm_member(h, params, key);
  int32_t t;

  if (!v)
    return PC_OK;
  t = h->json->type(v);
  if (t != PC_JSON_INT && (integer || t != PC_JSON_DOUBLE))
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: params.%s must be %s",
                        who, key, integer ? "an integer" : "a number");
  if (pc__lm_put(h, dst, name, h->json->copy(h->host->ctx, v)))
    return pc__lm_nomem(err, who);
  return PC_OK;
}

int pc__lm_put_stop(const pc__lm_host *h, const char *who, pc_json *dst,
                    const pc_json *params, const char *name, pc_error *err)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  const pc_json *v = pc__lm_member(h, params, "stop");
  pc_json *arr;
  size_t i, n, len = 0;
  const char *s;

  if (!v)
    return PC_OK;
  if (js->type(v) == PC_JSON_STRING) {
    s = js->get_string(v, &len);
    arr = js->new_array(ctx);
    if (!arr || js->array_append(ctx, arr, js->new_string(ctx, s, len))) {
      js->free(ctx, arr);
      return pc__lm_nomem(err, who);
    }
  } else {
    if (js->type(v) != PC_JSON_ARRAY)
      goto bad;
    n = js->array_len(v);
    for (i = 0; i < n; i++)
      if (js->type(js->array_get(v, i)) != PC_JSON_STRING)
        goto bad;
    arr = js->copy(ctx, v);
  }
  if (pc__lm_put(h, dst, name, arr))
    return pc__lm_nomem(err, who);
  return PC_OK;

bad:
  return pc__lm_error(err, PC_E_INVALID_ARG, "%s: params.stop must be a "
                      "string or an array of strings", who);
}

int pc__lm_parse_object(const pc__lm_host *h, const char *who,
                        const char *what, const char *text, size_t len,
                        pc_json **out, pc_error *err)
{
  pc_error pe = PC_ERROR_INIT;
  pc_json *o = NULL;

  *out = NULL;
  if (h->json->parse(h->host->ctx, text ? text : "", len,
                     PC_JSON_PARSE_STRICT, &o, &pe) ||
      h->json->type(o) != PC_JSON_OBJECT) {
    h->json->free(h->host->ctx, o);
    if (pe.code == PC_E_NOMEM)
      return pc__lm_nomem(err, who);
    return pc__lm_error(err, PC_E_PROVIDER, "%s: %s is not a JSON object",
                        who, what);
  }
  *out = o;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Delivery to the sink.                                                    */

int pc__lm_send_text(const pc_lm_sink *out, const char *who, uint32_t index,
                     const char *text, size_t len, pc_error *err)
{
  int rc = out->text(out->ctx, index, text, len);

  return rc ? pc__lm_refused(err, who, rc, "text") : PC_OK;
}

int pc__lm_send_usage(const pc_lm_sink *out, const char *who,
                      int64_t prompt_tokens, int64_t completion_tokens,
                      pc_error *err)
{
  int rc;

  if (!out->usage || (prompt_tokens < 0 && completion_tokens < 0))
    return PC_OK;
  rc = out->usage(out->ctx, prompt_tokens, completion_tokens);
  return rc ? pc__lm_refused(err, who, rc, "usage") : PC_OK;
}

int pc__lm_send_record(const pc_lm_sink *out, const char *who,
                       const char *model, const char *key,
                       const char *value, const char *request_id,
                       const char *finish, pc_error *err)
{
  const char *keys[4] = {"model", key, "request_id", "finish_reason"};
  const char *vals[4] = {model, key ? value : NULL, request_id, finish};
  size_t i;
  int rc;

  if (!out->meta)
    return PC_OK;
  for (i = 0; i < 4; i++)
    if (vals[i] && vals[i][0] &&
        (rc = out->meta(out->ctx, keys[i], vals[i], strlen(vals[i]))))
      return pc__lm_refused(err, who, rc, "metadata");
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* The plugin and its instances.                                            */

int pc__lm_plugin_init(const pc_host_api *host, const char *who,
                       void **state, pc_error *err)
{
  pc__lm_host *h;
  int rc;

  *state = NULL;
  if (!host || !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->free)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: the host table is "
                        "missing or too short", who);
  h = host->alloc(host->ctx, sizeof(*h));
  if (!h)
    return pc__lm_nomem(err, who);
  rc = pc__lm_host_init(host, who, h, err);
  if (rc) {
    host->free(host->ctx, h);
    return rc;
  }
  *state = h;
  return PC_OK;
}

void pc__lm_plugin_fini(void *state)
{
  pc__lm_host *h = state;

  if (h)
    h->host->free(h->host->ctx, h);
}

const void *pc__lm_plugin_iface(const pc_lm_provider_iface *iface,
                                const char *iface_id, uint32_t *iface_size)
{
  if (!iface_id || strcmp(iface_id, PC_IFACE_LM_PROVIDER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(*iface);
  return iface;
}

int pc__lm_inst_new(void *plugin_state, const pc__lm_inst_spec *spec,
                    const char *config_json, size_t len, void **inst,
                    pc_error *err)
{
  const pc__lm_host *h = plugin_state;
  pc__lm_inst *base;
  pc_json *obj = NULL;
  int rc;

  *inst = NULL;
  base = h->host->alloc(h->host->ctx, spec->size);
  if (!base)
    return pc__lm_nomem(err, spec->who);
  memset(base, 0, spec->size);
  base->h = h;
  base->who = spec->who;
  rc = pc__lm_conf_read(h, spec->who, config_json, len,
                        spec->default_base_url, 1, spec->extra, &base->conf,
                        &obj, err);
  if (rc) {
    h->host->free(h->host->ctx, base);
    return rc;
  }
  if (spec->own)
    rc = spec->own(base, obj, err);
  h->json->free(h->host->ctx, obj);
  if (rc) {
    spec->destroy(base);
    return rc;
  }
  *inst = base;
  return PC_OK;
}

void pc__lm_inst_free(void *inst)
{
  pc__lm_inst *base = inst;
  const pc_host_api *host;

  if (!base)
    return;
  host = base->h->host;
  pc__lm_conf_free(base->h, &base->conf);
  host->free(host->ctx, base->identity);
  host->free(host->ctx, base);
}

int pc__lm_inst_identity(void *inst, const pc_text_sink *out, pc_error *err)
{
  const pc__lm_inst *base = inst;
  const char *id;
  int rc;

  if (!base || !out || !out->write)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: identity: no instance "
                        "or sink", base ? base->who : "lm");
  id = base->identity ? base->identity : base->conf.model;
  rc = out->write(out->ctx, id, strlen(id));
  return rc ? pc__lm_refused(err, base->who, rc, "identity") : PC_OK;
}

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* The v1.0 sizes of the structs the host passes in. */
#define REQUEST_V1_SIZE \
  (offsetof(pc_lm_request, rollout_id) + sizeof(const char *))
#define SINK_V1_SIZE \
  (offsetof(pc_lm_sink, meta) + sizeof(void (*)(void)))

/* A header value: printable, one line. */
static int header_value_ok(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return 0;
  return 1;
}

int pc__lm_call_check(const void *inst, const char *who,
                      const pc_lm_request *req, const pc_lm_sink *out,
                      pc_error *err)
{
  if (!inst || !req || req->hdr.struct_size < REQUEST_V1_SIZE || !out ||
      out->hdr.struct_size < SINK_V1_SIZE || !out->text ||
      (req->n_messages && (!req->messages ||
                           req->message_size < sizeof(pc_message))))
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: complete: bad request "
                        "or sink", who);
  if (req->rollout_id && !header_value_ok(req->rollout_id))
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: complete: the rollout "
                        "id holds control characters", who);
  return PC_OK;
}

int pc__lm_call_streams(const pc__lm_inst *inst, const pc_lm_request *req)
{
  return inst->conf.stream || (req->flags & PC_LM_STREAM);
}

size_t pc__lm_call_headers(const pc_lm_request *req, uint32_t index,
                           const char **out, char choice[24])
{
  size_t n = 0;

  if (req->rollout_id && req->rollout_id[0]) {
    out[n++] = PC__LM_ROLLOUT_HEADER;
    out[n++] = req->rollout_id;
  }
  if (index > 0) {
    snprintf(choice, 24, "%u", (unsigned)index);
    out[n++] = PC__LM_CHOICE_HEADER;
    out[n++] = choice;
  }
  out[n] = NULL;
  return n;
}

void pc__lm_result_init(pc__lm_result *r, const pc__lm_host *h)
{
  memset(r, 0, sizeof(*r));
  pc__lm_buf_init(&r->text, h);
  r->prompt_tokens = -1;
  r->completion_tokens = -1;
}

void pc__lm_result_free(pc__lm_result *r)
{
  pc__lm_buf_free(&r->text);
}

int pc__lm_result_text(pc__lm_result *r, const char *who, const char *text,
                       size_t len, pc__lm_delta_fn on_delta, void *delta_ctx,
                       pc_error *err)
{
  int rc;

  if (!len)
    return PC_OK;
  if (pc__lm_buf_put(&r->text, text, len))
    return pc__lm_nomem(err, who);
  if (on_delta && (rc = on_delta(delta_ctx, text, len)))
    return pc__lm_refused(err, who, rc, "streamed text");
  return PC_OK;
}

void pc__lm_stream_init(void *s, size_t size, const pc__lm_host *h,
                        pc__lm_result *r, pc__lm_delta_fn on_delta,
                        void *delta_ctx, pc_error *err)
{
  pc__lm_stream *b = s;

  memset(s, 0, size);
  b->h = h;
  b->r = r;
  b->on_delta = on_delta;
  b->delta_ctx = delta_ctx;
  b->err = err;
  b->rc = PC_OK;
}

/* One request of pc__lm_complete_each. */
typedef struct each {
  const pc__lm_inst *inst;
  const pc__lm_wire *wire;
  const pc_lm_request *req;
  const pc_lm_sink *out;
  pc_call *call;
  const char *const *fixed;
  const char *body;
  size_t body_len;
  int stream;
  void *st;
} each;

/* Where a streamed piece goes: the sink's delta for one choice. */
typedef struct each_delta {
  const pc_lm_sink *out;
  uint32_t index;
} each_delta;

static int each_on_delta(void *ctx, const char *text, size_t len)
{
  each_delta *d = ctx;

  return d->out->delta ? d->out->delta(d->out->ctx, d->index, text, len)
                       : 0;
}

/* Request `index`: its reply read into r and the request id kept. */
static int each_one(const each *e, uint32_t index, pc__lm_result *r,
                    char *request_id, size_t cap, pc_error *err)
{
  const pc__lm_inst *inst = e->inst;
  const pc__lm_wire *w = e->wire;
  const char *headers[7];
  char choice[24];
  pc__lm_reply reply;
  pc__lm_stream *st = e->st;
  each_delta d;
  size_t nh = 0;
  int rc;

  if (e->fixed && e->fixed[0]) {
    headers[nh++] = e->fixed[0];
    headers[nh++] = e->fixed[1];
  }
  pc__lm_call_headers(e->req, index, headers + nh, choice);
  d.out = e->out;
  d.index = index;
  pc__lm_reply_init(&reply, inst->h);
  w->stream_init(st, inst->h, r, each_on_delta, &d, err);
  rc = pc__lm_fetch(inst->h, w->who, &inst->conf, w->path, headers,
                    w->auth_header, w->auth_prefix, e->body, e->body_len,
                    e->stream ? w->stream_line : NULL, st, e->call, &reply,
                    err);
  /* A line handler's own failure is the root cause. */
  if (st->rc)
    rc = st->rc;
  if (!rc)
    rc = e->stream ? w->stream_end(st)
                   : w->parse(inst->h, reply.body.data, reply.body.len, r,
                              err);
  if (!rc)
    pc__lm_copy(request_id, cap,
                reply.request_id[0] ? reply.request_id : r->id);
  if (w->stream_free)
    w->stream_free(st);
  pc__lm_reply_free(&reply);
  return rc;
}

/* params.n: how many requests to make. */
static int each_count(const pc__lm_host *h, const char *who,
                      const pc_json *params, int64_t *n, pc_error *err)
{
  const pc_json *v = pc__lm_member(h, params, "n");

  *n = 1;
  if (!v)
    return PC_OK;
  if (h->json->type(v) != PC_JSON_INT || h->json->get_int(v) < 1 ||
      h->json->get_int(v) > PC__LM_MAX_N)
    return pc__lm_error(err, PC_E_INVALID_ARG, "%s: params.n must be an "
                        "integer from 1 to %d", who, PC__LM_MAX_N);
  *n = h->json->get_int(v);
  return PC_OK;
}

int pc__lm_complete_each(const pc__lm_inst *inst, const pc__lm_wire *wire,
                         const pc_lm_request *req, const pc_lm_sink *out,
                         pc_call *call, const char *const *fixed,
                         const char *meta_key, const char *meta_value,
                         void *st, pc_error *err)
{
  const pc__lm_host *h = inst->h;
  const char *who = wire->who;
  pc_json *params = NULL;
  char *body = NULL;
  char request_id[128];
  pc__lm_result r;
  each e;
  int64_t n = 1, i, in_tokens = 0, out_tokens = 0;
  int rc, have_usage = 0;

  pc__lm_result_init(&r, h);
  memset(&e, 0, sizeof(e));
  e.inst = inst;
  e.wire = wire;
  e.req = req;
  e.out = out;
  e.call = call;
  e.fixed = fixed;
  e.stream = pc__lm_call_streams(inst, req);
  e.st = st;
  if ((rc = pc__lm_params(h, who, req, &params, err)) ||
      (rc = each_count(h, who, params, &n, err)) ||
      (rc = wire->body(inst, req, params, e.stream, &body, &e.body_len,
                       err)))
    goto out;
  e.body = body;
  /* The API has no n: one request per choice, told apart by a header. */
  for (i = 0; i < n; i++) {
    if (h->host->is_cancelled(h->host->ctx, call)) {
      rc = pc__lm_error(err, PC_E_CANCELLED, "%s: cancelled", who);
      goto out;
    }
    pc__lm_result_free(&r);
    pc__lm_result_init(&r, h);
    if ((rc = each_one(&e, (uint32_t)i, &r, request_id, sizeof(request_id),
                       err)) ||
        (rc = pc__lm_send_text(out, who, (uint32_t)i, r.text.data,
                               r.text.len, err)))
      goto out;
    if (r.prompt_tokens >= 0 || r.completion_tokens >= 0)
      have_usage = 1;
    in_tokens += r.prompt_tokens > 0 ? r.prompt_tokens : 0;
    out_tokens += r.completion_tokens > 0 ? r.completion_tokens : 0;
    if (i == 0 &&
        (rc = pc__lm_send_record(out, who, r.model, meta_key, meta_value,
                                 request_id, r.finish, err)))
      goto out;
  }
  if (have_usage)
    rc = pc__lm_send_usage(out, who, in_tokens, out_tokens, err);

out:
  pc__lm_result_free(&r);
  h->host->free(h->host->ctx, body);
  h->json->free(h->host->ctx, params);
  return rc;
}
