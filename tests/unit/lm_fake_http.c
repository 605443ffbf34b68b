/*
 * lm_fake_http.c - the scripted "pc.http/1", the recording sink and the
 * plugin helpers of the HTTP LM provider tests (lm_fake_http.h).
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "host.h"
#include "lm_fake_http.h"

pcfake_state pcfake;

/* ------------------------------------------------------------------------ */
/* The scripted transport.                                                  */

void pcfake_rewind(void)
{
  int i;

  for (i = 0; i < pcfake.n_seen; i++) {
    pc_buf_free(&pcfake.seen[i].method);
    pc_buf_free(&pcfake.seen[i].url);
    pc_buf_free(&pcfake.seen[i].body);
    pc_buf_free(&pcfake.seen[i].headers);
    pc_buf_free(&pcfake.seen[i].secret);
  }
  memset(pcfake.seen, 0, sizeof(pcfake.seen));
  pcfake.n_seen = 0;
  pcfake.data_calls = 0;
  pcfake.sink_rc = 0;
}

void pcfake_reset(void)
{
  pcfake_rewind();
  memset(&pcfake, 0, sizeof(pcfake));
}

void pcfake_answer(int i, int32_t status, const char *headers,
                   const char *body, size_t chunk)
{
  pcfake.replies[i].rc = PC_OK;
  pcfake.replies[i].status = status;
  pcfake.replies[i].headers = headers;
  pcfake.replies[i].body = body;
  pcfake.replies[i].chunk = chunk;
  if (pcfake.n_replies < i + 1)
    pcfake.n_replies = i + 1;
}

void pcfake_fail(int i, int rc)
{
  pcfake_answer(i, 0, NULL, NULL, 0);
  pcfake.replies[i].rc = rc;
}

/* Keep what request `req` carried in `s`. */
static int record(pcfake_seen *s, const pc_http_request *req)
{
  uint64_t i;

  pc_buf_init(&s->method, 0);
  pc_buf_init(&s->url, 0);
  pc_buf_init(&s->body, 0);
  pc_buf_init(&s->headers, 0);
  pc_buf_init(&s->secret, 0);
  s->flags = req->flags;
  s->connect_ms = req->connect_timeout_ms;
  s->total_ms = req->total_timeout_ms;
  s->n_headers = (size_t)req->n_headers;
  if (pc_buf_puts(&s->method, req->method) ||
      pc_buf_puts(&s->url, req->url) ||
      pc_buf_append(&s->body, req->body ? req->body : "",
                    (size_t)req->body_len) ||
      pc_buf_puts(&s->secret, req->secret_header ? req->secret_header : ""))
    return PC_E_NOMEM;
  for (i = 0; i < req->n_headers; i++) {
    const pc_http_header *hd = (const pc_http_header *)(const void *)
      ((const char *)req->headers + i * req->header_size);

    if (pc_buf_printf(&s->headers, "%s: %s\n", hd->name, hd->value))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Hand the "Name: value\n" lines of `h` to the sink. */
static int send_headers(const pc_http_sink *sink, const char *h)
{
  while (h && *h) {
    const char *colon = strchr(h, ':'), *end = strchr(h, '\n');
    const char *v = colon + 2;
    int rc = sink->on_header(sink->ctx, h, (size_t)(colon - h), v,
                             (size_t)(end - v));

    if (rc)
      return rc;
    h = end + 1;
  }
  return PC_OK;
}

/* The status, the headers and the body of answer `r`, the body in
 * pieces. */
static int play(const pcfake_reply *r, const pc_http_sink *sink)
{
  const char *body = r->body ? r->body : "";
  size_t len = strlen(body), off = 0, piece = r->chunk ? r->chunk : len;
  int rc;

  if ((rc = sink->on_status(sink->ctx, r->status)) ||
      (rc = send_headers(sink, r->headers)))
    return rc;
  do {
    size_t n = len - off < piece ? len - off : piece;

    pcfake.data_calls++;
    if ((rc = sink->on_data(sink->ctx, body + off, n)))
      return rc;
    off += n;
  } while (off < len);
  return PC_OK;
}

static int fake_request(void *ctx, const pc_http_request *req,
                        const pc_http_sink *sink, pc_call *call,
                        pc_error *err)
{
  const pcfake_reply *r;
  int rc;

  (void)ctx;
  (void)call;
  if (pcfake.n_seen >= PCFAKE_MAX || !pcfake.n_replies)
    return PC_E_INTERNAL;
  r = &pcfake.replies[pcfake.n_seen < pcfake.n_replies
                        ? pcfake.n_seen : pcfake.n_replies - 1];
  if (record(&pcfake.seen[pcfake.n_seen++], req))
    return PC_E_NOMEM;
  if (r->rc) {
    err->code = r->rc;
    snprintf(err->message, sizeof(err->message), "%s %s: connection "
             "refused", req->method, req->url);
    return r->rc;
  }
  rc = play(r, sink);
  if (rc)
    pcfake.sink_rc = rc;
  return rc;
}

const pc_http_api pcfake_http = {
  .hdr = PC_ABI_HEADER_INIT(pc_http_api),
  .request = fake_request,
};

int pcfake_sent(int i, const char *line)
{
  const char *h = pcfake_headers(i), *p;
  size_t n = strlen(line);

  for (p = h; (p = strstr(p, line)); p++)
    if ((p == h || p[-1] == '\n') && p[n] == '\n')
      return 1;
  return 0;
}

const char *pcfake_str(const pc_buf *b)
{
  return b->data ? b->data : "";
}

const char *pcfake_method(int i)
{
  return pcfake_str(&pcfake.seen[i].method);
}

const char *pcfake_url(int i)
{
  return pcfake_str(&pcfake.seen[i].url);
}

const char *pcfake_body(int i)
{
  return pcfake_str(&pcfake.seen[i].body);
}

const char *pcfake_headers(int i)
{
  return pcfake_str(&pcfake.seen[i].headers);
}

const char *pcfake_secret(int i)
{
  return pcfake_str(&pcfake.seen[i].secret);
}

static const void *fake_interface(void *ctx, const char *id, uint32_t *size)
{
  if (!strcmp(id, "pc.http/1")) {
    *size = (uint32_t)sizeof(pcfake_http);
    return &pcfake_http;
  }
  return pc_host_api_get()->get_host_interface(ctx, id, size);
}

const pc_host_api *pcfake_host(void)
{
  static pc_host_api host;

  host = *pc_host_api_get();
  host.get_host_interface = fake_interface;
  return &host;
}

pc__lm_host pcfake_tables(void)
{
  pc__lm_host h;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc__lm_host_init(pc_host_api_get(), "test", &h,
                                         &err), PC_OK);
  return h;
}

int pcfake_feed(const pc__lm_host *h, const char *text, size_t size,
                pc__lm_line_fn line, void *ctx)
{
  pc__lm_lines l;
  size_t n = strlen(text), off;
  int rc = PC_OK;

  pc__lm_lines_init(&l, h, line, ctx);
  for (off = 0; !rc && off < n; off += size)
    rc = pc__lm_lines_feed(&l, text + off, n - off < size ? n - off : size);
  if (!rc)
    rc = pc__lm_lines_finish(&l);
  pc__lm_lines_free(&l);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* A sink that records what it hears.                                       */

void pcfake_got_init(pcfake_got *g)
{
  int i;

  memset(g, 0, sizeof(*g));
  for (i = 0; i < PCFAKE_CHOICES; i++) {
    pc_buf_init(&g->text[i], 0);
    pc_buf_init(&g->deltas[i], 0);
  }
  pc_buf_init(&g->meta, 0);
}

void pcfake_got_free(pcfake_got *g)
{
  int i;

  for (i = 0; i < PCFAKE_CHOICES; i++) {
    pc_buf_free(&g->text[i]);
    pc_buf_free(&g->deltas[i]);
  }
  pc_buf_free(&g->meta);
}

static int on_text(void *ctx, uint32_t index, const char *text, size_t len)
{
  pcfake_got *g = ctx;

  CU_ASSERT_EQUAL(text[len], '\0');
  g->text_calls++;
  if (g->refuse_text)
    return g->refuse_text;
  if (index >= PCFAKE_CHOICES)
    return PC_E_INTERNAL;
  pc_buf_reset(&g->text[index]);
  return pc_buf_append(&g->text[index], text, len);
}

static int on_delta(void *ctx, uint32_t index, const char *text, size_t len)
{
  pcfake_got *g = ctx;

  g->delta_calls++;
  if (g->refuse_delta)
    return g->refuse_delta;
  if (index >= PCFAKE_CHOICES)
    return PC_E_INTERNAL;
  return pc_buf_append(&g->deltas[index], text, len);
}

static int on_usage(void *ctx, int64_t prompt, int64_t completion)
{
  pcfake_got *g = ctx;

  g->usage_calls++;
  g->prompt_tokens = prompt;
  g->completion_tokens = completion;
  return 0;
}

static int on_meta(void *ctx, const char *key, const char *value, size_t len)
{
  pcfake_got *g = ctx;

  return pc_buf_printf(&g->meta, "%s=%.*s\n", key, (int)len, value);
}

pc_lm_sink pcfake_sink(pcfake_got *g)
{
  pc_lm_sink sink = {PC_ABI_HEADER_INIT(pc_lm_sink), g, on_text, on_delta,
                     on_usage, on_meta};

  return sink;
}

static int buf_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len);
}

pc_text_sink pcfake_text_sink(pc_buf *b)
{
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), b, buf_write};

  return sink;
}

/* ------------------------------------------------------------------------ */
/* The provider compiled into the test program.                             */

int pcfake_open(pcfake_plugin *p,
                const pc_plugin_info *(*entry)(const pc_abi_header *host),
                pc__lm_host *wire)
{
  const pc_host_api *host = pcfake_host();
  pc_error err = PC_ERROR_INIT;
  uint32_t size = 0;

  memset(p, 0, sizeof(*p));
  p->info = entry(&host->hdr);
  if (!p->info || p->info->init(host, &p->state, &err))
    return 1;
  p->iface = p->info->get_interface(p->state, PC_IFACE_LM_PROVIDER, &size);
  if (!p->iface || size < sizeof(*p->iface))
    return 1;
  return wire && pc__lm_host_init(pc_host_api_get(), "test", wire, &err);
}

void pcfake_close(pcfake_plugin *p)
{
  pcfake_reset();
  if (p->info && p->state)
    p->info->fini(p->state);
  memset(p, 0, sizeof(*p));
}

int pcfake_create(const pcfake_plugin *p, const char *config, void **inst,
                  pc_error *err)
{
  return p->iface->create(p->state, config, strlen(config), inst, err);
}

int pcfake_run(const pcfake_plugin *p, const char *config,
               const char *model, const char *params, uint32_t flags,
               const char *rollout, pcfake_got *g, pc_error *err)
{
  pc_lm_request req = pcfake_request(model, params, flags, rollout);
  pc_lm_sink sink = pcfake_sink(g);
  void *inst = NULL;
  int rc;

  rc = pcfake_create(p, config, &inst, err);
  if (rc)
    return rc;
  rc = p->iface->complete(inst, &req, &sink, NULL, err);
  p->iface->destroy(inst);
  return rc;
}

void pcfake_oom(const pcfake_plugin *p, const char *config,
                const char *model, const char *params, uint32_t flags,
                const char *rollout)
{
  unsigned long k;
  int rc = -1;

  for (k = 1; k < 2000 && rc != PC_OK; k++) {
    pcfake_got g;
    pc_error err = PC_ERROR_INIT;

    pcfake_rewind();
    pcfake_got_init(&g);
    pc__alloc_fail_at(k);
    rc = pcfake_run(p, config, model, params, flags, rollout, &g, &err);
    pc__alloc_fail_at(0);
    if (rc != PC_OK)
      CU_ASSERT(err.code == rc && err.message[0] != '\0');
    pcfake_got_free(&g);
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT(k > 10);
}

static pc_message msg(const char *role, const char *content)
{
  pc_message m = {PC_ABI_HEADER_INIT(pc_message), role, content,
                  strlen(content)};

  return m;
}

pc_lm_request pcfake_request(const char *model, const char *params,
                             uint32_t flags, const char *rollout)
{
  static pc_message convo[5];
  pc_lm_request req = {PC_ABI_HEADER_INIT(pc_lm_request), model, convo, 5,
                       (uint32_t)sizeof(pc_message), flags, params,
                       params ? strlen(params) : 0, rollout};

  convo[0] = msg("system", "You are terse.");
  convo[1] = msg("user", "Q1");
  convo[2] = msg("assistant", "A1");
  convo[3] = msg("system", "Answer in French.");
  convo[4] = msg("user", "Q2");
  return req;
}
