/*
 * tool_http_search.c - the tool-http-search plugin: a "pc.tool/1" named
 * "http-search" that asks a retrieval server (ColBERT-server style, or
 * `promptc index serve`) for passages over HTTP (docs/retrieval.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"

#define HS_K_DEFAULT 3
#define HS_K_MAX 100
#define HS_BODY_MAX ((size_t)8 << 20)  /* a response: 8 MiB */
#define HS_URL_MAX 8192

/* What init keeps: the host's tables, borrowed until fini. */
typedef struct hs_state {
  const pc_host_api *host;
  const pc_json_api *js;
  const pc_http_api *http;
} hs_state;

/* One configured tool; read-only after create, so calls may run at once. */
typedef struct hs_tool {
  const hs_state *st;
  const pc_host_api *host;  /* st->host, kept so destroy never reads st */
  char url[HS_URL_MAX];   /* the search endpoint, without query string */
  int k;                  /* default number of passages */
  int64_t timeout_ms;     /* per request; <= 0: the host's default */
} hs_tool;

static int hs_error(pc_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

static int hs_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  for (char *p = err->message; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  return code;
}

/* A growable byte buffer on the host allocator, capped at HS_BODY_MAX. */
typedef struct hs_buf {
  const pc_host_api *host;
  char *data;
  size_t len, cap;
} hs_buf;

static int hs_buf_add(hs_buf *b, const char *p, size_t n)
{
  if (n > HS_BODY_MAX - b->len)
    return PC_E_NOMEM;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *d;

    while (cap < b->len + n + 1)
      cap *= 2;
    d = b->host->realloc(b->host->ctx, b->data, cap);
    if (!d)
      return PC_E_NOMEM;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PC_OK;
}

static void hs_buf_free(hs_buf *b)
{
  if (b->data)
    b->host->free(b->host->ctx, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* Append s percent-encoded for a query string (RFC 3986 unreserved bytes
 * stay, everything else is %XX). */
static int hs_buf_add_encoded(hs_buf *b, const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  int rc = PC_OK;

  for (size_t i = 0; rc == PC_OK && i < len; i++) {
    unsigned char c = (unsigned char)s[i];

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      rc = hs_buf_add(b, (const char *)&c, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};

      rc = hs_buf_add(b, e, 3);
    }
  }
  return rc;
}

/* Read an integer member into *out when present; range [lo, hi]. */
static int hs_int(const hs_state *st, const pc_json *obj, const char *key,
                  int64_t lo, int64_t hi, int64_t *out, pc_error *err)
{
  const pc_json *v = st->js->object_get(obj, key);

  if (!v)
    return PC_OK;
  if (st->js->type(v) != PC_JSON_INT || st->js->get_int(v) < lo ||
      st->js->get_int(v) > hi)
    return hs_error(err, PC_E_INVALID_ARG, "http-search: %s: expected an "
                    "integer from %lld to %lld", key, (long long)lo,
                    (long long)hi);
  *out = st->js->get_int(v);
  return PC_OK;
}

/* Settings {"url", "k"?, "request_timeout_ms"?, "base_dir"?}. */
static int hs_create(void *plugin_state, const char *config, size_t len,
                     void **inst, pc_error *err)
{
  const hs_state *st = plugin_state;
  pc_json *cfg = NULL;
  pc_error perr = PC_ERROR_INIT;
  const pc_json *v;
  const char *key, *url;
  size_t i, ulen = 0;
  int64_t k = HS_K_DEFAULT, timeout = 0;
  hs_tool *t = NULL;
  int rc = PC_OK;

  *inst = NULL;
  if (st->js->parse(st->host->ctx, config, len, PC_JSON_PARSE_STRICT, &cfg,
                    &perr) || st->js->type(cfg) != PC_JSON_OBJECT) {
    rc = hs_error(err, PC_E_INVALID_ARG, "http-search: settings: expected a "
                  "JSON object");
    goto out;
  }
  for (i = 0; st->js->object_at(cfg, i, &key, &v) == 0; i++)
    if (strcmp(key, "url") && strcmp(key, "k") &&
        strcmp(key, "request_timeout_ms") && strcmp(key, "base_dir")) {
      rc = hs_error(err, PC_E_INVALID_ARG, "http-search: %s: unknown "
                    "setting (expected url, k or request_timeout_ms)", key);
      goto out;
    }
  url = st->js->get_string(st->js->object_get(cfg, "url"), &ulen);
  if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) ||
      ulen >= HS_URL_MAX || strlen(url) != ulen) {
    rc = hs_error(err, PC_E_INVALID_ARG, "http-search: url: expected an "
                  "http:// or https:// URL");
    goto out;
  }
  rc = hs_int(st, cfg, "k", 1, HS_K_MAX, &k, err);
  if (rc == PC_OK)
    rc = hs_int(st, cfg, "request_timeout_ms", 1, 3600000, &timeout, err);
  if (rc != PC_OK)
    goto out;
  t = st->host->alloc(st->host->ctx, sizeof(*t));
  if (!t) {
    rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
    goto out;
  }
  t->st = st;
  t->host = st->host;
  memcpy(t->url, url, ulen + 1);
  t->k = (int)k;
  t->timeout_ms = timeout;
  *inst = t;

out:
  st->js->free(st->host->ctx, cfg);
  return rc;
}

static void hs_destroy(void *inst)
{
  hs_tool *t = inst;

  if (t)
    t->host->free(t->host->ctx, t);
}

/* Response collection. */
typedef struct hs_resp {
  int32_t status;
  hs_buf body;
} hs_resp;

static int on_status(void *ctx, int32_t status)
{
  ((hs_resp *)ctx)->status = status;
  return 0;
}

static int on_header(void *ctx, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
  (void)ctx;
  (void)name;
  (void)name_len;
  (void)value;
  (void)value_len;
  return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
  return hs_buf_add(&((hs_resp *)ctx)->body, data, len);
}

/* The passage text of one result item into *text and *len: a string as
 * it is; an object's "title | text" (or "text", or "long_text", when it
 * has no title). PC_E_PARSE for anything else, PC_E_NOMEM when `tmp`
 * cannot grow. *text borrows from `item` or lives in `tmp`. */
static int hs_passage(const hs_state *st, const pc_json *item, hs_buf *tmp,
                      const char **text, size_t *len)
{
  const pc_json_api *js = st->js;
  const char *body, *title;
  size_t tlen = 0, xlen = 0;

  *text = NULL;
  if (js->type(item) == PC_JSON_STRING) {
    *text = js->get_string(item, len);
    return PC_OK;
  }
  if (js->type(item) != PC_JSON_OBJECT)
    return PC_E_PARSE;
  body = js->get_string(js->object_get(item, "text"), &xlen);
  if (!body)
    body = js->get_string(js->object_get(item, "long_text"), &xlen);
  if (!body)
    return PC_E_PARSE;
  title = js->get_string(js->object_get(item, "title"), &tlen);
  if (!title || !tlen) {
    *text = body;
    *len = xlen;
    return PC_OK;
  }
  tmp->len = 0;
  if (hs_buf_add(tmp, title, tlen) || hs_buf_add(tmp, " | ", 3) ||
      hs_buf_add(tmp, body, xlen))
    return PC_E_NOMEM;
  *text = tmp->data;
  *len = tmp->len;
  return PC_OK;
}

/* Turn a response body into the observation: a JSON array of strings. */
static int hs_observation(const hs_state *st, const char *body, size_t len,
                          const pc_text_sink *out, pc_error *err)
{
  const pc_json_api *js = st->js;
  pc_json *doc = NULL, *arr = NULL;
  const pc_json *items;
  pc_error perr = PC_ERROR_INIT;
  hs_buf tmp = {st->host, NULL, 0, 0};
  char *text = NULL;
  size_t n, i, tlen = 0;
  int rc = PC_OK;

  if (js->parse(st->host->ctx, body, len, 0, &doc, &perr)) {
    rc = hs_error(err, PC_E_PARSE, "http-search: the response is not "
                  "JSON: %s", perr.message);
    goto out;
  }
  items = js->type(doc) == PC_JSON_OBJECT ? js->object_get(doc, "topk")
                                          : doc;
  if (!items || js->type(items) != PC_JSON_ARRAY) {
    rc = hs_error(err, PC_E_PARSE, "http-search: the response has no "
                  "passages (expected {\"topk\": [...]} or a list)");
    goto out;
  }
  arr = js->new_array(st->host->ctx);
  if (!arr) {
    rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
    goto out;
  }
  n = js->array_len(items);
  for (i = 0; i < n; i++) {
    size_t plen = 0;
    const char *p = NULL;

    rc = hs_passage(st, js->array_get(items, i), &tmp, &p, &plen);
    if (rc == PC_E_NOMEM) {
      rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
      goto out;
    }
    if (rc != PC_OK) {
      rc = hs_error(err, PC_E_PARSE, "http-search: result %zu: expected a "
                    "string or an object with \"text\"", i);
      goto out;
    }
    if (js->array_append(st->host->ctx, arr,
                         js->new_string(st->host->ctx, p, plen))) {
      rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
      goto out;
    }
  }
  if (js->to_text(st->host->ctx, arr, 0, &text, &tlen)) {
    rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
    goto out;
  }
  if (out->write(out->ctx, text, tlen))
    rc = hs_error(err, PC_E_NOMEM, "http-search: the observation was "
                  "refused");

out:
  if (text)
    st->host->free(st->host->ctx, text);
  hs_buf_free(&tmp);
  js->free(st->host->ctx, arr);
  js->free(st->host->ctx, doc);
  return rc;
}

/* Args {"query": TEXT, "k"?: N}: GET URL?query=TEXT&k=N. */
static int hs_call(void *inst, const pc_call *call, const char *args_json,
                   size_t args_len, const pc_text_sink *out, pc_error *err)
{
  const hs_tool *t = inst;
  const hs_state *st = t->st;
  pc_json *args = NULL;
  pc_error perr = PC_ERROR_INIT;
  const char *query;
  size_t qlen = 0;
  int64_t k = t->k;
  char kbuf[24];
  hs_buf url = {st->host, NULL, 0, 0};
  hs_resp resp = {0, {st->host, NULL, 0, 0}};
  pc_http_request req;
  pc_http_sink sink = {PC_ABI_HEADER_INIT(pc_http_sink), &resp, on_status,
                       on_header, on_data};
  union { const pc_call *c; pc_call *m; } cu;
  int rc;

  cu.c = call;
  rc = st->js->parse(st->host->ctx, args_json, args_len, 0, &args, &perr);
  if (rc || st->js->type(args) != PC_JSON_OBJECT) {
    rc = hs_error(err, PC_E_INVALID_ARG, "http-search: arguments: expected "
                  "a JSON object");
    goto out;
  }
  query = st->js->get_string(st->js->object_get(args, "query"), &qlen);
  if (!query) {
    rc = hs_error(err, PC_E_INVALID_ARG, "http-search: query: expected a "
                  "string");
    goto out;
  }
  rc = hs_int(st, args, "k", 1, HS_K_MAX, &k, err);
  if (rc != PC_OK)
    goto out;
  snprintf(kbuf, sizeof(kbuf), "%lld", (long long)k);
  if (hs_buf_add(&url, t->url, strlen(t->url)) ||
      hs_buf_add(&url, strchr(t->url, '?') ? "&query=" : "?query=", 7) ||
      hs_buf_add_encoded(&url, query, qlen) ||
      hs_buf_add(&url, "&k=", 3) || hs_buf_add(&url, kbuf, strlen(kbuf))) {
    rc = hs_error(err, PC_E_NOMEM, "http-search: out of memory");
    goto out;
  }
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_http_request);
  req.method = "GET";
  req.url = url.data;
  req.header_size = (uint32_t)sizeof(pc_http_header);
  req.total_timeout_ms = t->timeout_ms;
  rc = st->http->request(st->host->ctx, &req, &sink, cu.m, err);
  if (rc != PC_OK)
    goto out;
  if (resp.status != 200) {
    int first = err && err->code == PC_OK;

    rc = hs_error(err, PC_E_PROVIDER, "http-search: %s: answered HTTP %d",
                  t->url, (int)resp.status);
    if (first)
      err->http_status = resp.status;  /* only with the error it goes with */
    goto out;
  }
  rc = hs_observation(st, resp.body.data ? resp.body.data : "",
                      resp.body.len, out, err);

out:
  hs_buf_free(&url);
  hs_buf_free(&resp.body);
  st->js->free(st->host->ctx, args);
  return rc;
}

static const pc_tool_iface hs_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_tool_iface),
  .name = "http-search",
  .description = "Searches a remote passage index and returns the most "
                 "relevant passages, each as \"title | text\".",
  .args_schema = "{\"query\": {\"type\": \"string\"}, "
                 "\"k\": {\"type\": \"integer\"}}",
  .required_args = "[\"query\"]",
  .create = hs_create,
  .destroy = hs_destroy,
  .call = hs_call,
};

/* Fetch host table `id` of at least `size` bytes, or NULL. */
static const void *hs_table(const pc_host_api *host, const char *id,
                            size_t size)
{
  uint32_t got = 0;
  const pc_abi_header *h = host->get_host_interface(host->ctx, id, &got);

  if (!h || got < size || h->abi_major != PC_ABI_MAJOR ||
      h->struct_size < size)
    return NULL;
  return h;
}

static int hs_init(const pc_host_api *host, void **state, pc_error *err)
{
  hs_state *st;

  *state = NULL;
  if (!host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->get_host_interface || !host->alloc || !host->realloc ||
      !host->free)
    return hs_error(err, PC_E_INVALID_ARG, "http-search: bad host table");
  st = host->alloc(host->ctx, sizeof(*st));
  if (!st)
    return hs_error(err, PC_E_NOMEM, "http-search: out of memory");
  st->host = host;
  st->js = hs_table(host, "pc.json/1", sizeof(pc_json_api));
  st->http = hs_table(host, "pc.http/1", sizeof(pc_http_api));
  if (!st->js || !st->http) {
    host->free(host->ctx, st);
    return hs_error(err, PC_E_UNSUPPORTED, "http-search: the host offers "
                    "no usable pc.json/1 and pc.http/1 services");
  }
  *state = st;
  return PC_OK;
}

static void hs_fini(void *state)
{
  hs_state *st = state;

  if (st)
    st->host->free(st->host->ctx, st);
}

static const void *hs_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_TOOL))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(hs_iface);
  return &hs_iface;
}

static const pc_plugin_info hs_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.tool.http-search",
  .name = "http-search",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "passages from a retrieval server over HTTP (ColBERT style)",
  .kinds = PC_KIND_TOOL,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = hs_init,
  .fini = hs_fini,
  .get_interface = hs_get_interface,
  .get_interface_at = NULL,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &hs_info;
}
