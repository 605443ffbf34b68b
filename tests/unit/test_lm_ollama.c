/*
 * tests/unit/test_lm_ollama.c: the ollama LM provider (plugins/lm-ollama):
 * its wire format on its own, and the plugin on the real host tables with
 * a fake "pc.http/1" that records each request and answers from a script
 * (the first answer is always the /api/tags model list read at create);
 * suite "lm_ollama".
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "host.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"
#include "../../plugins/lm-ollama/ollama_wire.h"

/* The plugin is compiled into this program. */
PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

/* ------------------------------------------------------------------------ */
/* A fake HTTP service.                                                     */

#define MAX_X 8

/* One scripted answer. */
typedef struct script_reply {
  int rc;                /* transport result; PC_OK: a response arrives */
  int status;
  const char *headers;   /* "Name: value\n" lines, or NULL */
  const char *body;
  size_t chunk;          /* streamed piece size; 0: the whole body */
} script_reply;

/* What one request carried. */
typedef struct seen_request {
  pc_buf method, url, headers, body, secret;
  uint32_t flags;
} seen_request;

static struct {
  script_reply replies[MAX_X];
  int n_replies;
  seen_request seen[MAX_X];
  int n_seen;
  int data_calls;
} fake;

static void fake_reset(void)
{
  int i;

  for (i = 0; i < fake.n_seen; i++) {
    pc_buf_free(&fake.seen[i].method);
    pc_buf_free(&fake.seen[i].url);
    pc_buf_free(&fake.seen[i].headers);
    pc_buf_free(&fake.seen[i].body);
    pc_buf_free(&fake.seen[i].secret);
  }
  memset(&fake, 0, sizeof(fake));
}

/* Script answer i (later requests get the last one). */
static void fake_reply(int i, int status, const char *headers,
                       const char *body, size_t chunk)
{
  fake.replies[i].rc = PC_OK;
  fake.replies[i].status = status;
  fake.replies[i].headers = headers;
  fake.replies[i].body = body;
  fake.replies[i].chunk = chunk;
  if (fake.n_replies < i + 1)
    fake.n_replies = i + 1;
}

static int record(seen_request *s, const pc_http_request *req)
{
  uint64_t i;

  pc_buf_init(&s->method, 0);
  pc_buf_init(&s->url, 0);
  pc_buf_init(&s->headers, 0);
  pc_buf_init(&s->body, 0);
  pc_buf_init(&s->secret, 0);
  s->flags = req->flags;
  if (pc_buf_puts(&s->method, req->method) || pc_buf_puts(&s->url, req->url)
      || pc_buf_append(&s->body, req->body ? req->body : "",
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

static int fake_request(void *ctx, const pc_http_request *req,
                        const pc_http_sink *sink, pc_call *call,
                        pc_error *err)
{
  const script_reply *r;
  seen_request *s;
  size_t len, off = 0, piece;
  int rc;

  (void)ctx;
  (void)call;
  if (fake.n_seen >= MAX_X || !fake.n_replies)
    return PC_E_INTERNAL;
  s = &fake.seen[fake.n_seen];
  r = &fake.replies[fake.n_seen < fake.n_replies ? fake.n_seen
                                                 : fake.n_replies - 1];
  fake.n_seen++;
  if (record(s, req))
    return PC_E_NOMEM;
  if (r->rc) {
    err->code = r->rc;
    snprintf(err->message, sizeof(err->message), "%s %s: Could not "
             "connect to server", req->method, req->url);
    return r->rc;
  }
  if ((rc = sink->on_status(sink->ctx, r->status)) ||
      (rc = send_headers(sink, r->headers)))
    return rc;
  len = strlen(r->body);
  piece = (req->flags & PC_HTTP_STREAM) && r->chunk ? r->chunk : len;
  do {
    size_t n = len - off < piece ? len - off : piece;

    fake.data_calls++;
    if ((rc = sink->on_data(sink->ctx, r->body + off, n)))
      return rc;
    off += n;
  } while (off < len);
  return PC_OK;
}

static const pc_http_api fake_http = {
  PC_ABI_HEADER_INIT(pc_http_api), fake_request,
};

static const void *fake_interface(void *ctx, const char *id, uint32_t *size)
{
  if (!strcmp(id, "pc.http/1")) {
    *size = (uint32_t)sizeof(fake_http);
    return &fake_http;
  }
  return pc_host_api_get()->get_host_interface(ctx, id, size);
}

/* True when request i sent exactly this header line ("Name: value"). */
static int sent_header(int i, const char *line)
{
  const char *h = fake.seen[i].headers.data, *p;
  size_t n = strlen(line);

  for (p = h; p && (p = strstr(p, line)); p++)
    if ((p == h || p[-1] == '\n') && p[n] == '\n')
      return 1;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The plugin, and a sink that records what it hears.                       */

static pc_host_api test_host;
static const pc_plugin_info *info;
static void *plugin_state;
static const pc_lm_provider_iface *iface;
static pc__lm_host wire_host;   /* real tables, for the wire functions */

static int suite_init(void)
{
  pc_error err = PC_ERROR_INIT;
  uint32_t size = 0;

  test_host = *pc_host_api_get();
  test_host.get_host_interface = fake_interface;
  info = pc_plugin_entry_v1(&test_host.hdr);
  if (!info || info->init(&test_host, &plugin_state, &err))
    return 1;
  iface = info->get_interface(plugin_state, PC_IFACE_LM_PROVIDER, &size);
  if (!iface || size < sizeof(*iface))
    return 1;
  return pc__lm_host_init(pc_host_api_get(), "test", &wire_host, &err);
}

static int suite_clean(void)
{
  fake_reset();
  info->fini(plugin_state);
  return 0;
}

#define MAX_CHOICES 4

typedef struct got {
  pc_buf text[MAX_CHOICES];
  pc_buf deltas[MAX_CHOICES];
  pc_buf meta;           /* "key=value\n" lines */
  int text_calls, delta_calls, usage_calls;
  int64_t prompt_tokens, completion_tokens;
  int refuse_text;       /* returned by text() when non-zero */
  int refuse_delta;      /* returned by delta() when non-zero */
} got;

static void got_init(got *g)
{
  int i;

  memset(g, 0, sizeof(*g));
  for (i = 0; i < MAX_CHOICES; i++) {
    pc_buf_init(&g->text[i], 0);
    pc_buf_init(&g->deltas[i], 0);
  }
  pc_buf_init(&g->meta, 0);
}

static void got_free(got *g)
{
  int i;

  for (i = 0; i < MAX_CHOICES; i++) {
    pc_buf_free(&g->text[i]);
    pc_buf_free(&g->deltas[i]);
  }
  pc_buf_free(&g->meta);
}

static const char *str(const pc_buf *b)
{
  return b->data ? b->data : "";
}

static int on_text(void *ctx, uint32_t index, const char *text, size_t len)
{
  got *g = ctx;

  g->text_calls++;
  if (g->refuse_text)
    return g->refuse_text;
  if (index >= MAX_CHOICES)
    return PC_E_INTERNAL;
  pc_buf_reset(&g->text[index]);
  return pc_buf_append(&g->text[index], text, len);
}

static int on_delta(void *ctx, uint32_t index, const char *text, size_t len)
{
  got *g = ctx;

  g->delta_calls++;
  if (g->refuse_delta)
    return g->refuse_delta;
  if (index >= MAX_CHOICES)
    return PC_E_INTERNAL;
  return pc_buf_append(&g->deltas[index], text, len);
}

static int on_usage(void *ctx, int64_t prompt, int64_t completion)
{
  got *g = ctx;

  g->usage_calls++;
  g->prompt_tokens = prompt;
  g->completion_tokens = completion;
  return 0;
}

static int on_meta(void *ctx, const char *key, const char *value, size_t len)
{
  got *g = ctx;

  return pc_buf_printf(&g->meta, "%s=%.*s\n", key, (int)len, value);
}

static pc_message msg(const char *role, const char *content)
{
  pc_message m = {PC_ABI_HEADER_INIT(pc_message), role, content,
                  strlen(content)};

  return m;
}

/* The conversation most tests send: two system messages around a demo. */
static pc_message convo[5];

static void convo_init(void)
{
  convo[0] = msg("system", "You are terse.");
  convo[1] = msg("user", "Q1");
  convo[2] = msg("assistant", "A1");
  convo[3] = msg("system", "Answer in French.");
  convo[4] = msg("user", "Q2");
}

static pc_lm_request request(const char *params, uint32_t flags,
                             const char *rollout)
{
  pc_lm_request req = {PC_ABI_HEADER_INIT(pc_lm_request), "llama3",
                       convo, 5, (uint32_t)sizeof(pc_message), flags,
                       params, params ? strlen(params) : 0, rollout};

  convo_init();
  return req;
}

/* Create an instance from `config`, make one call and destroy it. */
static int run(const char *config, const char *params, uint32_t flags,
               const char *rollout, got *g, pc_error *err)
{
  pc_lm_request req = request(params, flags, rollout);
  pc_lm_sink sink = {PC_ABI_HEADER_INIT(pc_lm_sink), g, on_text, on_delta,
                     on_usage, on_meta};
  void *inst = NULL;
  int rc;

  rc = iface->create(plugin_state, config, strlen(config), &inst, err);
  if (rc)
    return rc;
  rc = iface->complete(inst, &req, &sink, NULL, err);
  iface->destroy(inst);
  return rc;
}

#define URL "http://127.0.0.1:11434"
#define CONFIG "{\"model\": \"llama3\", \"base_dir\": \"/tmp\"}"
#define DIGEST "365c0bd3c000a25d28ddbf732fe1c6ad" \
  "d414de7275464c4e4d1c3b5fcb5d8ad1"
#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char tags_body[] =
  "{\"models\":["
  "{\"name\":\"qwen2:7b\",\"model\":\"qwen2:7b\",\"size\":1,"
  "\"digest\":\"" DIGEST_A "\"},"
  "{\"name\":\"llama3:latest\",\"model\":\"llama3:latest\","
  "\"modified_at\":\"2024-05-01T10:00:00Z\",\"size\":4661224676,"
  "\"digest\":\"" DIGEST "\",\"details\":{\"format\":\"gguf\"}},"
  "{\"name\":\"phi3:mini\",\"model\":\"phi3:mini\","
  "\"digest\":\"sha256:bbbbbbbbbbbbcccc\"}]}";

/* A whole reply and the same reply as a stream. */
static const char reply_body[] =
  "{\"model\":\"llama3\",\"created_at\":\"2024-05-01T10:00:00Z\","
  "\"message\":{\"role\":\"assistant\",\"content\":\"Bonjour, le "
  "caf\\u00e9\"},\"done_reason\":\"stop\",\"done\":true,"
  "\"total_duration\":5,\"prompt_eval_count\":26,\"eval_count\":9,"
  "\"eval_duration\":1}";

static const char stream_body[] =
  "{\"model\":\"llama3\",\"created_at\":\"t\",\"message\":{\"role\":"
  "\"assistant\",\"content\":\"Bon\"},\"done\":false}\n"
  "{\"model\":\"llama3\",\"created_at\":\"t\",\"message\":{\"role\":"
  "\"assistant\",\"content\":\"jour\"},\"done\":false}\n"
  "\n"
  "{\"model\":\"llama3\",\"created_at\":\"t\",\"message\":{\"role\":"
  "\"assistant\",\"content\":\", le caf\xc3\xa9\"},\"done\":false}\r\n"
  "{\"model\":\"llama3\",\"created_at\":\"t\",\"message\":{\"role\":"
  "\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\","
  "\"done\":true,\"total_duration\":5,\"prompt_eval_count\":26,"
  "\"eval_count\":9}\n";

#define REPLY_TEXT "Bonjour, le caf\xc3\xa9"
#define REPLY_META "model=llama3\ndigest=" DIGEST "\nfinish_reason=stop\n"

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

static char *body_of(const char *params, const pc__ol_opts *o, int *rc,
                     pc_error *err)
{
  pc_lm_request req = request(params, 0, NULL);
  pc_json *p = NULL;
  char *out = NULL;
  size_t len = 0;

  *rc = pc__lm_params(&wire_host, "test", &req, &p, err);
  if (!*rc)
    *rc = pc__ol_body(&wire_host, o, &req, p, &out, &len, err);
  if (!*rc)
    CU_ASSERT_EQUAL(strlen(out), len);
  wire_host.json->free(wire_host.host->ctx, p);
  return out;
}

static void test_body_maps_params_to_options_and_format(void)
{
  pc__ol_opts o = {"llama3", "5m", 0};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of("{\"temperature\": 0.7, \"top_p\": 0.9, \"top_k\": 40, "
                    "\"seed\": 3, \"stop\": \"END\", \"max_tokens\": 64, "
                    "\"n\": 1, \"response_format\": {\"type\": "
                    "\"json_object\"}}", &o, &rc, &err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  /* Every message, system ones included, in order. */
  PC_ASSERT_STR_EQ(b, "{\"model\":\"llama3\",\"messages\":[{\"role\":"
                   "\"system\",\"content\":\"You are terse.\"},{\"role\":"
                   "\"user\",\"content\":\"Q1\"},{\"role\":\"assistant\","
                   "\"content\":\"A1\"},{\"role\":\"system\",\"content\":"
                   "\"Answer in French.\"},{\"role\":\"user\",\"content\":"
                   "\"Q2\"}],\"stream\":false,\"options\":{\"temperature\":"
                   "0.7,\"top_p\":0.9,\"top_k\":40,\"seed\":3,\"stop\":"
                   "[\"END\"],\"num_predict\":64},\"format\":\"json\","
                   "\"keep_alive\":\"5m\"}");
  wire_host.host->free(wire_host.host->ctx, b);
}

static void test_body_without_params_has_no_options(void)
{
  pc__ol_opts o = {"m", NULL, 1};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of(NULL, &o, &rc, &err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"stream\":true"));
  CU_ASSERT_PTR_NULL(strstr(b, "options"));
  CU_ASSERT_PTR_NULL(strstr(b, "format"));
  CU_ASSERT_PTR_NULL(strstr(b, "keep_alive"));
  wire_host.host->free(wire_host.host->ctx, b);
}

static void test_body_json_schema_becomes_the_format(void)
{
  pc__ol_opts o = {"m", NULL, 0};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of("{\"response_format\": {\"type\": \"json_schema\", "
                    "\"json_schema\": {\"name\": \"out\", \"schema\": "
                    "{\"type\": \"object\", \"properties\": {\"a\": "
                    "{\"type\": \"integer\"}}}}}, \"stop\": [\"x\", \"y\"]}",
                    &o, &rc, &err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(b, ",\"format\":{\"type\":\"object\","
                                "\"properties\":{\"a\":{\"type\":"
                                "\"integer\"}}}"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"options\":{\"stop\":[\"x\",\"y\"]}"));
  wire_host.host->free(wire_host.host->ctx, b);
  /* A plain-text response_format asks for nothing. */
  b = body_of("{\"response_format\": {\"type\": \"text\"}}", &o, &rc, &err);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT_PTR_NULL(strstr(b, "format"));
  wire_host.host->free(wire_host.host->ctx, b);
}

static void test_body_refuses_params_of_the_wrong_type(void)
{
  static const struct {
    const char *params, *words;
  } cases[] = {
    {"{\"seed\": 1.5}", "params.seed"},
    {"{\"top_p\": \"high\"}", "params.top_p"},
    {"{\"max_tokens\": \"many\"}", "params.max_tokens"},
    {"{\"stop\": {}}", "params.stop"},
    {"{\"response_format\": \"json\"}", "params.response_format"},
    {"{\"response_format\": {\"type\": \"json_schema\"}}",
     "json_schema.schema"},
  };
  pc__ol_opts o = {"m", NULL, 0};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    int rc;
    char *b = body_of(cases[i].params, &o, &rc, &err);

    CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
  }
}

/* ------------------------------------------------------------------------ */
/* Replies, streams and the model list, on their own.                       */

static void test_reply_parse_reads_text_counts_and_reason(void)
{
  pc__ol_result r;
  pc_error err = PC_ERROR_INIT;

  pc__ol_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL_FATAL(pc__ol_reply_parse(&wire_host, reply_body,
                                           strlen(reply_body), &r, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
  CU_ASSERT_EQUAL(r.prompt_tokens, 26);
  CU_ASSERT_EQUAL(r.completion_tokens, 9);
  PC_ASSERT_STR_EQ(r.model, "llama3");
  PC_ASSERT_STR_EQ(r.done_reason, "stop");
  CU_ASSERT_EQUAL(r.done, 1);
  pc__ol_result_free(&r);
}

static void test_reply_parse_refuses_errors_and_strangers(void)
{
  static const struct {
    const char *body, *words;
  } cases[] = {
    {"{\"error\": \"llama runner process has terminated\"}",
     "llama runner process has terminated"},
    {"{\"model\": \"m\", \"done\": true}", "no message.content"},
    {"{\"message\": {\"content\": 5}}", "no message.content"},
    {"not json", "not a JSON object"},
    {"[]", "not a JSON object"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc__ol_result r;
    pc_error err = PC_ERROR_INIT;

    pc__ol_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(pc__ol_reply_parse(&wire_host, cases[i].body,
                                       strlen(cases[i].body), &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    pc__ol_result_free(&r);
  }
}

/* Feed a stream line by line through the shared line splitter, in pieces
 * of `chunk` bytes. */
static int feed_stream(const char *body, size_t chunk, pc__ol_result *r,
                       pc_error *err)
{
  pc__ol_stream st;
  pc__lm_lines lines;
  size_t len = strlen(body), off;
  int rc = PC_OK;

  pc__ol_stream_init(&st, &wire_host, r, NULL, NULL, err);
  pc__lm_lines_init(&lines, &wire_host, pc__ol_stream_line, &st);
  for (off = 0; !rc && off < len; off += chunk)
    rc = pc__lm_lines_feed(&lines, body + off,
                           len - off < chunk ? len - off : chunk);
  if (!rc)
    rc = pc__lm_lines_finish(&lines);
  if (!rc)
    rc = pc__ol_stream_end(&st);
  pc__lm_lines_free(&lines);
  return rc;
}

static void test_stream_in_any_pieces_reads_as_the_whole_reply(void)
{
  static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 64, 100000};
  size_t i;

  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pc__ol_result r;
    pc_error err = PC_ERROR_INIT;

    pc__ol_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(feed_stream(stream_body, chunks[i], &r, &err), PC_OK);
    PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
    CU_ASSERT_EQUAL(r.prompt_tokens, 26);
    CU_ASSERT_EQUAL(r.completion_tokens, 9);
    PC_ASSERT_STR_EQ(r.model, "llama3");
    PC_ASSERT_STR_EQ(r.done_reason, "stop");
    pc__ol_result_free(&r);
  }
}

static void test_stream_without_done_or_with_bad_lines_is_retryable(void)
{
  static const struct {
    const char *body, *words;
  } cases[] = {
    {"{\"message\":{\"content\":\"a\"},\"done\":false}\n"
     "{\"message\":{\"content\":\"b\"},\"done\":false}\n",
     "before a \"done\": true line"},
    {"{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"mess",
     "stream line 2 is not a JSON object"},
    {"{\"message\":{\"content\":\"a\"},\"done\":false}\n"
     "{\"error\":\"an error was encountered while running the model\"}\n",
     "an error was encountered"},
    {"", "before a \"done\": true line"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc__ol_result r;
    pc_error err = PC_ERROR_INIT;

    pc__ol_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(feed_stream(cases[i].body, 4, &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    pc__ol_result_free(&r);
  }
}

static void test_tags_find_exact_and_latest_names(void)
{
  static const char exact[] =
    "{\"models\":[{\"name\":\"m:latest\",\"digest\":\"11\"},"
    "{\"name\":\"m\",\"digest\":\"22\"}]}";
  pc_error err = PC_ERROR_INIT;
  char *d = NULL;

  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, tags_body, strlen(tags_body),
                                   "llama3", URL, &d, &err), PC_OK);
  PC_ASSERT_STR_EQ(d, DIGEST);
  wire_host.host->free(wire_host.host->ctx, d);
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, tags_body, strlen(tags_body),
                                   "qwen2:7b", URL, &d, &err), PC_OK);
  PC_ASSERT_STR_EQ(d, DIGEST_A);
  wire_host.host->free(wire_host.host->ctx, d);
  /* An exact name wins over NAME:latest, wherever it is in the list. */
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, exact, strlen(exact), "m",
                                   URL, &d, &err), PC_OK);
  PC_ASSERT_STR_EQ(d, "22");
  wire_host.host->free(wire_host.host->ctx, d);
  /* A tag other than latest is not guessed. */
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, tags_body, strlen(tags_body),
                                   "qwen2", URL, &d, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(d);
}

static void test_tags_not_found_lists_what_the_server_has(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_buf many;
  char *d = (char *)&d;
  int i;

  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, tags_body, strlen(tags_body),
                                   "mistral", URL, &d, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(d);
  PC_ASSERT_STR_EQ(err.message, "ollama: model \"mistral\" is not available "
                   "on " URL " (have: qwen2:7b, llama3:latest, phi3:mini)");
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, "{\"models\": []}", 14,
                                   "m", URL, &d, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "(have: none)"));
  /* A long list is cut, and the message still ends with its ")". */
  pc_buf_init(&many, 0);
  pc_buf_puts(&many, "{\"models\": [");
  for (i = 0; i < 40; i++)
    pc_buf_printf(&many, "%s{\"name\": \"model-number-%d:latest\"}",
                  i ? ", " : "", i);
  pc_buf_puts(&many, "]}");
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, many.data, many.len, "m",
                                   URL, &d, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "model-number-0:latest, "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ", ...)"));
  pc_buf_free(&many);
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(pc__ol_tags_find(&wire_host, "{\"tags\": 1}", 11, "m",
                                   URL, &d, &err), PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a model list"));
}

/* ------------------------------------------------------------------------ */
/* The plugin over the fake transport.                                      */

static void test_descriptor_names_the_plugin(void)
{
  PC_ASSERT_STR_EQ(info->id, "org.promptc.lm.ollama");
  PC_ASSERT_STR_EQ(info->name, "ollama");
  PC_ASSERT_STR_EQ(info->version, "1.0.0");
  PC_ASSERT_STR_EQ(info->license, "MIT");
  CU_ASSERT_EQUAL(info->flags & PC_PLUGIN_THREADSAFE_INSTANCES,
                  PC_PLUGIN_THREADSAFE_INSTANCES);
  PC_ASSERT_STR_EQ(iface->name, "ollama");
}

static int buf_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len);
}

static void test_create_reads_the_digest_into_the_identity(void)
{
  const char *config = "{\"model\": \"llama3\", \"base_url\": "
                       "\"http://10.0.0.5:11434/\", \"api_key\": "
                       "\"env:OLLAMA_KEY\"}";
  pc_buf b;
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), &b, buf_write};
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL_FATAL(iface->create(plugin_state, config, strlen(config),
                                      &inst, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(fake.n_seen, 1);
  PC_ASSERT_STR_EQ(str(&fake.seen[0].method), "GET");
  PC_ASSERT_STR_EQ(str(&fake.seen[0].url), "http://10.0.0.5:11434/api/tags");
  CU_ASSERT(sent_header(0, "Authorization: Bearer env:OLLAMA_KEY"));
  PC_ASSERT_STR_EQ(str(&fake.seen[0].secret), "Authorization");
  CU_ASSERT_EQUAL(iface->identity(inst, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(str(&b), "llama3@365c0bd3c000");
  iface->destroy(inst);
  pc_buf_free(&b);
}

static void test_create_names_a_model_the_server_lacks(void)
{
  const char *config = "{\"model\": \"mistral\"}";
  pc_error err = PC_ERROR_INIT;
  void *inst = (void *)&inst;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  CU_ASSERT_EQUAL(iface->create(plugin_state, config, strlen(config), &inst,
                                &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  PC_ASSERT_STR_EQ(err.message, "ollama: model \"mistral\" is not available "
                   "on " URL " (have: qwen2:7b, llama3:latest, phi3:mini)");
}

static void test_create_against_no_server_says_how_to_start_one(void)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = (void *)&inst;

  fake_reset();
  fake_reply(0, 0, NULL, "", 0);
  fake.replies[0].rc = PC_E_IO;
  CU_ASSERT_EQUAL(iface->create(plugin_state, CONFIG, strlen(CONFIG), &inst,
                                &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(inst);
  PC_ASSERT_STR_EQ(err.message, "ollama: GET " URL "/api/tags: Could not "
                   "connect to server; is `ollama serve` running?");

  fake_reset();
  fake_reply(0, 401, NULL, "{\"error\": \"unauthorized\"}", 0);
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(iface->create(plugin_state, CONFIG, strlen(CONFIG), &inst,
                                &err), PC_E_AUTH);
  PC_ASSERT_STR_EQ(err.message, "ollama: GET " URL "/api/tags: HTTP 401: "
                   "unauthorized");
  CU_ASSERT_EQUAL(err.http_status, 401);
}

static void test_config_errors_name_the_key(void)
{
  static const struct {
    const char *config, *words;
  } cases[] = {
    {"{}", "\"model\" is required"},
    {"{\"model\": \"m\", \"keep_alive\": 300}", "\"keep_alive\""},
    {"{\"model\": \"m\", \"keep_alive\": \"\"}", "\"keep_alive\""},
    {"{\"model\": \"m\", \"num_ctx\": 4096}", "\"num_ctx\""},
    {"{\"model\": \"m\", \"api_key\": \"ollama-SECRET\"}", "api_key"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    void *inst = (void *)&inst;
    pc_error err = PC_ERROR_INIT;

    fake_reset();
    fake_reply(0, 200, NULL, tags_body, 0);
    CU_ASSERT_EQUAL(iface->create(plugin_state, cases[i].config,
                                  strlen(cases[i].config), &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    CU_ASSERT_PTR_NULL(strstr(err.message, "SECRET"));
    CU_ASSERT_EQUAL(fake.n_seen, 0);  /* nothing asked of the server */
  }
}

static void test_call_posts_chat_and_records_model_and_digest(void)
{
  const char *config = "{\"model\": \"llama3\", \"keep_alive\": \"10m\"}";
  got g;
  pc_error err = PC_ERROR_INIT;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, "x-request-id: q-1\n", reply_body, 0);
  got_init(&g);
  CU_ASSERT_EQUAL(run(config, "{\"temperature\": 0.5, \"max_tokens\": 8}",
                      0, "r7", &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(fake.n_seen, 2);
  PC_ASSERT_STR_EQ(str(&fake.seen[1].method), "POST");
  PC_ASSERT_STR_EQ(str(&fake.seen[1].url), URL "/api/chat");
  CU_ASSERT(sent_header(1, "Content-Type: application/json"));
  CU_ASSERT(sent_header(1, "X-Promptc-Rollout: r7"));
  CU_ASSERT_PTR_NULL(strstr(str(&fake.seen[1].headers), "Authorization"));
  CU_ASSERT_PTR_NULL(strstr(str(&fake.seen[1].headers), "Choice"));
  CU_ASSERT_PTR_NOT_NULL(strstr(str(&fake.seen[1].body),
                                "\"stream\":false,\"options\":{"
                                "\"temperature\":0.5,\"num_predict\":8},"
                                "\"keep_alive\":\"10m\"}"));
  PC_ASSERT_STR_EQ(str(&g.text[0]), REPLY_TEXT);
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 26);
  CU_ASSERT_EQUAL(g.completion_tokens, 9);
  PC_ASSERT_STR_EQ(str(&g.meta), "model=llama3\ndigest=" DIGEST
                   "\nrequest_id=q-1\nfinish_reason=stop\n");
  got_free(&g);
}

static void test_n_choices_are_n_requests_told_apart_by_header(void)
{
  static const char r1[] =
    "{\"model\":\"llama3\",\"message\":{\"content\":\"two\"},"
    "\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":4,"
    "\"eval_count\":2}";
  got g;
  pc_error err = PC_ERROR_INIT;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, NULL, reply_body, 0);
  fake_reply(2, 200, NULL, r1, 0);
  got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 3}", 0, NULL, &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(fake.n_seen, 4);
  CU_ASSERT_PTR_NULL(strstr(str(&fake.seen[1].headers), "Choice"));
  CU_ASSERT(sent_header(2, "X-Promptc-Choice: 1"));
  CU_ASSERT(sent_header(3, "X-Promptc-Choice: 2"));
  PC_ASSERT_STR_EQ(str(&fake.seen[3].body), str(&fake.seen[1].body));
  PC_ASSERT_STR_EQ(str(&g.text[0]), REPLY_TEXT);
  PC_ASSERT_STR_EQ(str(&g.text[1]), "two");
  PC_ASSERT_STR_EQ(str(&g.text[2]), "two");
  CU_ASSERT_EQUAL(g.prompt_tokens, 26 + 4 + 4);
  CU_ASSERT_EQUAL(g.completion_tokens, 9 + 2 + 2);
  PC_ASSERT_STR_EQ(str(&g.meta), REPLY_META);
  got_free(&g);
}

static void test_http_errors_keep_the_servers_message(void)
{
  static const struct {
    int status;
    const char *headers, *body, *words;
    int code;
  } cases[] = {
    {404, NULL, "{\"error\":\"model \\\"llama3\\\" not found, try pulling "
     "it first\"}", "not found, try pulling it first", PC_E_INVALID_ARG},
    {400, NULL, "{\"error\":\"invalid options: foo\"}", "invalid options",
     PC_E_INVALID_ARG},
    {429, "Retry-After: 2\n", "{\"error\":\"busy\"}", "busy",
     PC_E_RATE_LIMITED},
    {500, NULL, "{\"error\":\"llama runner process has terminated\"}",
     "llama runner", PC_E_PROVIDER},
    {503, NULL, "", "HTTP 503", PC_E_PROVIDER},
    {200, NULL, "{\"error\":\"out of memory\"}", "out of memory",
     PC_E_PROVIDER},
    {200, NULL, "<html>", "not a JSON object", PC_E_PROVIDER},
  };
  size_t i, k;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    for (k = 0; k < 2; k++) {  /* whole, then streamed */
      got g;
      pc_error err = PC_ERROR_INIT;

      if (k && cases[i].status == 200)
        continue;
      fake_reset();
      fake_reply(0, 200, NULL, tags_body, 0);
      fake_reply(1, cases[i].status, cases[i].headers, cases[i].body, 3);
      got_init(&g);
      CU_ASSERT_EQUAL(run(CONFIG, NULL, k ? PC_LM_STREAM : 0, NULL, &g,
                          &err), cases[i].code);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
      CU_ASSERT_EQUAL(strncmp(err.message, "ollama: ", 8), 0);
      if (cases[i].status == 429)
        CU_ASSERT_EQUAL(err.retry_after_ms, 2000);
      CU_ASSERT_EQUAL(g.text_calls, 0);
      got_free(&g);
    }
}

static void test_streamed_call_equals_the_whole_one(void)
{
  static const size_t chunks[] = {1, 3, 17, 4096};
  got whole;
  pc_error err = PC_ERROR_INIT;
  size_t i;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, NULL, reply_body, 0);
  got_init(&whole);
  CU_ASSERT_EQUAL_FATAL(run(CONFIG, NULL, 0, NULL, &whole, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(str(&fake.seen[1].body), "\"stream\":false"));
  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    got g;

    fake_reset();
    fake_reply(0, 200, NULL, tags_body, 0);
    fake_reply(1, 200, NULL, stream_body, chunks[i]);
    got_init(&g);
    CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err), PC_OK);
    CU_ASSERT_EQUAL(fake.seen[1].flags & PC_HTTP_STREAM, PC_HTTP_STREAM);
    CU_ASSERT_PTR_NOT_NULL(strstr(str(&fake.seen[1].body),
                                  "\"stream\":true"));
    PC_ASSERT_STR_EQ(str(&g.text[0]), str(&whole.text[0]));
    PC_ASSERT_STR_EQ(str(&g.deltas[0]), str(&whole.text[0]));
    CU_ASSERT_EQUAL(g.delta_calls, 3);
    CU_ASSERT_EQUAL(g.prompt_tokens, whole.prompt_tokens);
    CU_ASSERT_EQUAL(g.completion_tokens, whole.completion_tokens);
    PC_ASSERT_STR_EQ(str(&g.meta), str(&whole.meta));
    got_free(&g);
  }
  got_free(&whole);
}

static void test_stream_cut_short_over_http_is_provider_error(void)
{
  const char *cut = strstr(stream_body, "{\"model\":\"llama3\",\"created_at\""
                           ":\"t\",\"message\":{\"role\":\"assistant\","
                           "\"content\":\"\"}");
  char *body = pc_strndup(stream_body, (size_t)(cut - stream_body));
  got g;
  pc_error err = PC_ERROR_INIT;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, NULL, body, 11);
  got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"done\": true"));
  CU_ASSERT_EQUAL(g.text_calls, 0);
  got_free(&g);
  pc_free(body);
}

static void test_sink_refusal_stops_the_call(void)
{
  got g;
  pc_error err = PC_ERROR_INIT;

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, NULL, stream_body, 1);
  got_init(&g);
  g.refuse_delta = -1;  /* not a PC_E_* code */
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "refused"));
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.text_calls, 0);
  CU_ASSERT(fake.data_calls < (int)strlen(stream_body));
  got_free(&g);

  fake_reset();
  fake_reply(0, 200, NULL, tags_body, 0);
  fake_reply(1, 200, NULL, reply_body, 0);
  got_init(&g);
  g.refuse_text = PC_E_CANCELLED;
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 2}", 0, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_EQUAL(fake.n_seen, 2);  /* tags, then one chat request */
  got_free(&g);
}

/* Every allocation failing in turn: a clean error, never a crash or a
 * leak (valgrind checks the leaks). */
static void test_out_of_memory_anywhere_is_an_error(void)
{
  unsigned long k;
  int rc = -1;

  for (k = 1; k < 2000 && rc != PC_OK; k++) {
    got g;
    pc_error err = PC_ERROR_INIT;

    fake_reset();
    fake_reply(0, 200, NULL, tags_body, 0);
    fake_reply(1, 200, NULL, stream_body, 7);
    got_init(&g);
    pc__alloc_fail_at(k);
    rc = run(CONFIG, "{\"temperature\": 0, \"stop\": \"x\"}", PC_LM_STREAM,
             "r", &g, &err);
    pc__alloc_fail_at(0);
    if (rc != PC_OK)
      CU_ASSERT(err.code == rc && err.message[0] != '\0');
    got_free(&g);
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT(k > 10);
}

static CU_TestInfo lm_ollama_tests[] = {
  {"body: params become options, response_format the format",
   test_body_maps_params_to_options_and_format},
  {"body: no params, no options; stream always explicit",
   test_body_without_params_has_no_options},
  {"body: a json_schema's schema becomes the format",
   test_body_json_schema_becomes_the_format},
  {"body: params of the wrong type are refused by name",
   test_body_refuses_params_of_the_wrong_type},
  {"reply: text, counts and done reason are read",
   test_reply_parse_reads_text_counts_and_reason},
  {"reply: error objects and strangers are retryable provider errors",
   test_reply_parse_refuses_errors_and_strangers},
  {"stream: in pieces of any size it reads as the whole reply",
   test_stream_in_any_pieces_reads_as_the_whole_reply},
  {"stream: no done line, a bad line or an error line is retryable",
   test_stream_without_done_or_with_bad_lines_is_retryable},
  {"tags: exact names and NAME:latest are found",
   test_tags_find_exact_and_latest_names},
  {"tags: a missing model lists what the server has",
   test_tags_not_found_lists_what_the_server_has},
  {"plugin: descriptor", test_descriptor_names_the_plugin},
  {"plugin: create reads the digest into the identity",
   test_create_reads_the_digest_into_the_identity},
  {"plugin: create names a model the server lacks",
   test_create_names_a_model_the_server_lacks},
  {"plugin: create against no server says how to start one",
   test_create_against_no_server_says_how_to_start_one},
  {"plugin: config errors name the key and never the key's value",
   test_config_errors_name_the_key},
  {"plugin: a call posts /api/chat and records model and digest",
   test_call_posts_chat_and_records_model_and_digest},
  {"plugin: n choices are n requests with X-Promptc-Choice",
   test_n_choices_are_n_requests_told_apart_by_header},
  {"plugin: HTTP errors map to codes and keep the server's message",
   test_http_errors_keep_the_servers_message},
  {"plugin: a streamed call gives what the whole call gives",
   test_streamed_call_equals_the_whole_one},
  {"plugin: a stream cut short is a provider error",
   test_stream_cut_short_over_http_is_provider_error},
  {"plugin: a sink's refusal stops the call",
   test_sink_refusal_stops_the_call},
  {"plugin: out of memory anywhere is an error, not a crash",
   test_out_of_memory_anywhere_is_an_error},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"lm_ollama", suite_init, suite_clean, NULL, NULL, lm_ollama_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
