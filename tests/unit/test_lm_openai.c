/*
 * tests/unit/test_lm_openai.c: plugins/lm-openai (the OpenAI Chat
 * Completions wire format and the provider's complete()), against the
 * real host tables with a scripted "pc.http/1"; suite "lm_openai".
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "host.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"
#include "../../plugins/lm-openai/openai_wire.h"

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

static pc__lm_host host_tables(void)
{
  pc__lm_host h;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc__lm_host_init(pc_host_api_get(), "t", &h, &err),
                        PC_OK);
  return h;
}

/* ------------------------------------------------------------------------ */
/* A sink that records what it gets.                                        */

#define MAX_CHOICES 4

typedef struct got {
  char texts[MAX_CHOICES][256];
  char deltas[MAX_CHOICES][256];   /* the pieces, joined */
  int text_calls, delta_calls, usage_calls;
  int64_t prompt_tokens, completion_tokens;
  char meta[512];                  /* "key=value;" in order */
  int refuse_delta;                /* refuse the Nth delta (1-based) */
} got;

static void append(char *dst, size_t cap, const char *s, size_t n)
{
  size_t len = strlen(dst);

  if (len + n < cap) {
    memcpy(dst + len, s, n);
    dst[len + n] = '\0';
  }
}

static int g_text(void *ctx, uint32_t i, const char *text, size_t len)
{
  got *g = ctx;

  CU_ASSERT_EQUAL(text[len], '\0');
  g->text_calls++;
  if (i < MAX_CHOICES)
    append(g->texts[i], sizeof(g->texts[i]), text, len);
  return 0;
}

static int g_delta(void *ctx, uint32_t i, const char *text, size_t len)
{
  got *g = ctx;

  g->delta_calls++;
  if (i < MAX_CHOICES)
    append(g->deltas[i], sizeof(g->deltas[i]), text, len);
  return g->delta_calls == g->refuse_delta ? 1 : 0;
}

static int g_usage(void *ctx, int64_t p, int64_t c)
{
  got *g = ctx;

  g->usage_calls++;
  g->prompt_tokens = p;
  g->completion_tokens = c;
  return 0;
}

static int g_meta(void *ctx, const char *key, const char *value, size_t len)
{
  got *g = ctx;

  append(g->meta, sizeof(g->meta), key, strlen(key));
  append(g->meta, sizeof(g->meta), "=", 1);
  append(g->meta, sizeof(g->meta), value, len);
  append(g->meta, sizeof(g->meta), ";", 1);
  return 0;
}

static pc_lm_sink sink_for(got *g)
{
  pc_lm_sink s = {
    .hdr = PC_ABI_HEADER_INIT(pc_lm_sink),
    .ctx = g,
    .text = g_text,
    .delta = g_delta,
    .usage = g_usage,
    .meta = g_meta,
  };

  memset(g, 0, sizeof(*g));
  return s;
}

/* ------------------------------------------------------------------------ */
/* Fixtures: one response, whole and streamed.                              */

static const char whole_response[] =
  "{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", \"created\": 1,"
  " \"model\": \"gpt-4o-mini-2024-07-18\", \"system_fingerprint\": "
  "\"fp_44709d6fcb\", \"choices\": [{\"index\": 0, \"message\": {\"role\": "
  "\"assistant\", \"content\": \"Hello there\"}, \"finish_reason\": "
  "\"stop\"}, {\"index\": 1, \"message\": {\"role\": \"assistant\", "
  "\"content\": \"Hi, \\u00e9!\"}, \"finish_reason\": \"length\"}], "
  "\"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 7, "
  "\"total_tokens\": 19}}";

#define CHUNK_HEAD \
  "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\"," \
  "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":" \
  "\"fp_44709d6fcb\",\"choices\":"

static const char streamed_response[] =
  ": keep-alive\n\n"
  CHUNK_HEAD "[{\"index\":0,\"delta\":{\"role\":\"assistant\","
  "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
  CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
  "\"finish_reason\":null}]}\r\n\r\n"
  CHUNK_HEAD "[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":"
  "\"Hi, \"},\"finish_reason\":null}]}\n\n"
  CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\" there\"},"
  "\"finish_reason\":null}]}\n\n"
  CHUNK_HEAD "[{\"index\":1,\"delta\":{\"content\":\"\\u00e9!\"},"
  "\"finish_reason\":null}]}\n\n"
  CHUNK_HEAD "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
  CHUNK_HEAD "[{\"index\":1,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
  CHUNK_HEAD "[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,"
  "\"total_tokens\":19}}\n\n"
  "data: [DONE]\n\n";

static const char fixture_meta[] =
  "model=gpt-4o-mini-2024-07-18;system_fingerprint=fp_44709d6fcb;"
  "request_id=chatcmpl-1;finish_reason=stop;";

/* Run `text` through a stream state in pieces of `size` bytes, as the
 * exchange would, and finish it. */
static int feed_stream(const pc__lm_host *h, const char *text, size_t size,
                       const pc_lm_sink *sink, const char *request_id,
                       pc_error *err)
{
  pc__oai_stream st;
  pc__lm_lines l;
  size_t n = strlen(text), off;
  int rc = PC_OK;

  pc__oai_stream_init(&st, h, sink, err);
  pc__lm_lines_init(&l, h, pc__oai_stream_line, &st);
  for (off = 0; !rc && off < n; off += size)
    rc = pc__lm_lines_feed(&l, text + off, n - off < size ? n - off : size);
  if (!rc)
    rc = pc__lm_lines_finish(&l);
  if (!rc)
    rc = pc__oai_stream_finish(&st, request_id);
  pc__lm_lines_free(&l);
  pc__oai_stream_free(&st);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

static pc_message four_messages[4] = {
  {PC_ABI_HEADER_INIT(pc_message), "system", "You are terse.", 14},
  {PC_ABI_HEADER_INIT(pc_message), "user", "Q1", 2},
  {PC_ABI_HEADER_INIT(pc_message), "assistant", "A1", 2},
  {PC_ABI_HEADER_INIT(pc_message), "user", "Q2 \"quoted\"", 11},
};

static pc_lm_request request_with(const char *params)
{
  pc_lm_request req = {.hdr = PC_ABI_HEADER_INIT(pc_lm_request)};

  req.model = "gpt-4o-mini";
  req.messages = four_messages;
  req.n_messages = 4;
  req.message_size = sizeof(pc_message);
  req.params_json = params;
  req.params_len = params ? strlen(params) : 0;
  return req;
}

#define MESSAGES_JSON \
  "\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"}," \
  "{\"role\":\"user\",\"content\":\"Q1\"},{\"role\":\"assistant\"," \
  "\"content\":\"A1\"},{\"role\":\"user\",\"content\":" \
  "\"Q2 \\\"quoted\\\"\"}]"

static void test_body_passes_every_param_through_in_order(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  pc_lm_request req = request_with(
    "{\"temperature\": 0.7, \"max_tokens\": 50, \"n\": 2, \"seed\": 7, "
    "\"top_p\": 1.0, \"stop\": [\"\\n\\n\", \"END\"], \"logit_bias\": "
    "{\"50256\": -100}, \"response_format\": {\"type\": \"json_schema\", "
    "\"json_schema\": {\"name\": \"out\", \"strict\": true, \"schema\": "
    "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": "
    "\"integer\"}}}}}}");
  char *body = NULL;
  size_t len = 0;

  CU_ASSERT_EQUAL_FATAL(pc__oai_body(&h, "gpt-4o-mini", &req, 0, &body,
                                     &len, &err), PC_OK);
  PC_ASSERT_STR_EQ(body,
    "{\"model\":\"gpt-4o-mini\"," MESSAGES_JSON ",\"temperature\":0.7,"
    "\"max_tokens\":50,\"n\":2,\"seed\":7,\"top_p\":1.0,\"stop\":"
    "[\"\\n\\n\",\"END\"],\"logit_bias\":{\"50256\":-100},"
    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
    "{\"name\":\"out\",\"strict\":true,\"schema\":{\"type\":\"object\","
    "\"properties\":{\"a\":{\"type\":\"integer\"}}}}}}");
  CU_ASSERT_EQUAL(len, strlen(body));
  h.host->free(h.host->ctx, body);
}

static void test_body_streaming_asks_for_usage(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  pc_lm_request req = request_with(
    "{\"response_format\": {\"type\": \"json_object\"}}");
  char *body = NULL;
  size_t len = 0;

  CU_ASSERT_EQUAL_FATAL(pc__oai_body(&h, "m", &req, 1, &body, &len, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(body, "{\"model\":\"m\"," MESSAGES_JSON
                   ",\"response_format\":{\"type\":\"json_object\"},"
                   "\"stream\":true,\"stream_options\":"
                   "{\"include_usage\":true}}");
  h.host->free(h.host->ctx, body);
  /* No params at all: just model and messages. */
  req = request_with(NULL);
  CU_ASSERT_EQUAL_FATAL(pc__oai_body(&h, "m", &req, 0, &body, &len, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(body, "{\"model\":\"m\"," MESSAGES_JSON "}");
  h.host->free(h.host->ctx, body);
}

static void test_body_refuses_params_the_provider_sets(void)
{
  static const char *const bad[] = {
    "{\"stream\": true}", "{\"model\": \"x\"}", "{\"messages\": []}",
    "{\"stream_options\": {}}",
  };
  pc__lm_host h = host_tables();
  char *body = (char *)"sentinel";
  size_t len = 0;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    pc_lm_request req = request_with(bad[i]);

    CU_ASSERT_EQUAL(pc__oai_body(&h, "m", &req, 0, &body, &len, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(body);
    CU_ASSERT_EQUAL(strncmp(err.message, "openai: params: \"", 17), 0);
  }
  {
    pc_error err = PC_ERROR_INIT;
    pc_lm_request req = request_with("[]");

    CU_ASSERT_EQUAL(pc__oai_body(&h, "m", &req, 0, &body, &len, &err),
                    PC_E_INVALID_ARG);
    PC_ASSERT_STR_EQ(err.message, "openai: params: expected a JSON object");
  }
}

/* ------------------------------------------------------------------------ */
/* Whole responses.                                                         */

static int parse(const pc__lm_host *h, const char *body, const char *rid,
                 got *g, pc_error *err)
{
  pc_lm_sink s = sink_for(g);

  return pc__oai_parse(h, body, strlen(body), rid, &s, err);
}

static void test_parse_gives_every_choice_usage_and_meta(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got g;

  CU_ASSERT_EQUAL_FATAL(parse(&h, whole_response, "", &g, &err), PC_OK);
  CU_ASSERT_EQUAL(g.text_calls, 2);
  PC_ASSERT_STR_EQ(g.texts[0], "Hello there");
  PC_ASSERT_STR_EQ(g.texts[1], "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 12);
  CU_ASSERT_EQUAL(g.completion_tokens, 7);
  PC_ASSERT_STR_EQ(g.meta, fixture_meta);
  /* The x-request-id header wins over the body's id. */
  CU_ASSERT_EQUAL(parse(&h, whole_response, "req_abc", &g, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(g.meta, "request_id=req_abc;"));
}

static void test_parse_null_content_is_empty_and_meta_optional(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got g;

  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"message\": {\"content\": "
                        "null, \"tool_calls\": []}}]}", NULL, &g, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(g.text_calls, 1);
  PC_ASSERT_STR_EQ(g.texts[0], "");
  CU_ASSERT_EQUAL(g.usage_calls, 0);
  PC_ASSERT_STR_EQ(g.meta, "");
  /* Content given as parts is joined. */
  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"index\": 0, \"message\": "
                        "{\"content\": [{\"type\": \"text\", \"text\": "
                        "\"a\"}, {\"type\": \"text\", \"text\": \"b\"}]}}]}",
                        NULL, &g, &err), PC_OK);
  PC_ASSERT_STR_EQ(g.texts[0], "ab");
}

static void test_parse_refusal_is_a_provider_error(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got g;

  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"index\": 0, \"message\": "
                        "{\"content\": \"fine\"}}, {\"index\": 1, "
                        "\"message\": {\"content\": null, \"refusal\": "
                        "\"I can't help\\nwith that.\"}}]}", NULL, &g, &err),
                  PC_E_PROVIDER);
  PC_ASSERT_STR_EQ(err.message, "openai: the model refused: I can't help "
                   "with that.");
  CU_ASSERT_EQUAL(g.text_calls, 0);   /* nothing half-delivered */
}

static void test_parse_malformed_or_empty_is_retryable(void)
{
  static const struct {
    const char *body;
    const char *message;
  } rows[] = {
    {"{\"choices\": [", "openai: response is not valid JSON (offset"},
    {"", "openai: response is not valid JSON (offset"},
    {"[1, 2]", "openai: response is not a JSON object"},
    {"{\"choices\": []}", "openai: response has no choices"},
    {"{\"object\": \"list\"}", "openai: response has no choices"},
    {"{\"choices\": [{\"index\": 0}]}", "openai: response choice 0 is "
     "malformed"},
    {"{\"choices\": [{\"message\": {\"content\": 5}}]}",
     "openai: response choice 0: \"content\""},
    {"{\"error\": {\"message\": \"upstream died\"}}",
     "openai: response error: upstream died"},
  };
  pc__lm_host h = host_tables();

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    got g;

    CU_ASSERT_EQUAL(parse(&h, rows[i].body, NULL, &g, &err), PC_E_PROVIDER);
    if (strncmp(err.message, rows[i].message, strlen(rows[i].message)))
      fprintf(stderr, "%s: %s\n", rows[i].body, err.message);
    CU_ASSERT_EQUAL(strncmp(err.message, rows[i].message,
                            strlen(rows[i].message)), 0);
    CU_ASSERT_EQUAL(g.text_calls, 0);
  }
}

static void test_parse_error_object_with_status_maps_like_http(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got g;

  CU_ASSERT_EQUAL(parse(&h, "{\"object\": \"error\", \"error\": {\"message\": "
                        "\"maximum context length is 4096 tokens\", "
                        "\"code\": 400}}", NULL, &g, &err),
                  PC_E_CONTEXT_LENGTH);
  CU_ASSERT_EQUAL(err.http_status, 400);
}

/* ------------------------------------------------------------------------ */
/* Streams.                                                                 */

static void test_stream_at_any_chunk_size_matches_the_whole_response(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got whole, g;
  pc_lm_sink s;
  size_t size, n = strlen(streamed_response);

  CU_ASSERT_EQUAL_FATAL(parse(&h, whole_response, "", &whole, &err), PC_OK);
  for (size = 1; size <= n; size += size < 40 ? 1 : 97) {
    s = sink_for(&g);
    CU_ASSERT_EQUAL_FATAL(feed_stream(&h, streamed_response, size, &s, "",
                                      &err), PC_OK);
    CU_ASSERT_EQUAL(g.text_calls, 2);
    PC_ASSERT_STR_EQ(g.texts[0], whole.texts[0]);
    PC_ASSERT_STR_EQ(g.texts[1], whole.texts[1]);
    /* The deltas add up to the texts, piece by piece. */
    PC_ASSERT_STR_EQ(g.deltas[0], whole.texts[0]);
    PC_ASSERT_STR_EQ(g.deltas[1], whole.texts[1]);
    CU_ASSERT_EQUAL(g.delta_calls, 4);
    CU_ASSERT_EQUAL(g.prompt_tokens, whole.prompt_tokens);
    CU_ASSERT_EQUAL(g.completion_tokens, whole.completion_tokens);
    PC_ASSERT_STR_EQ(g.meta, whole.meta);
  }
}

static void test_stream_that_ends_early_or_is_malformed_fails(void)
{
  static const struct {
    const char *text;
    int code;
    const char *message;
  } rows[] = {
    {CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
     PC_E_PROVIDER, "openai: stream ended early"},
    {"data: {\"choices\": [{\"index\": 0, \"delta\": {\"conte",
     PC_E_PROVIDER, "openai: stream: malformed chunk (offset"},
    {"data: [1]\n\ndata: [DONE]\n\n", PC_E_PROVIDER,
     "openai: stream: malformed chunk (not a JSON object)"},
    {"data: {\"choices\": [{\"index\": -1}]}\n", PC_E_PROVIDER,
     "openai: stream: malformed chunk (a choice"},
    {"data: {\"id\": \"x\", \"choices\": []}\n\ndata: [DONE]\n\n",
     PC_E_PROVIDER, "openai: stream has no choices"},
    {"data: {\"error\": {\"message\": \"Rate limit\", \"code\": 429}}\n\n",
     PC_E_RATE_LIMITED, "openai: HTTP 429: Rate limit"},
    {"data: {\"error\": {\"message\": \"boom\", \"type\": \"server_error\"}}"
     "\n\n", PC_E_PROVIDER, "openai: stream error: boom"},
    {"data: {\"choices\": [{\"index\": 0, \"delta\": {\"refusal\": \"No.\"}}"
     "]}\n\ndata: [DONE]\n", PC_E_PROVIDER, "openai: the model refused: No."},
    {"", PC_E_PROVIDER, "openai: stream ended early"},
  };
  pc__lm_host h = host_tables();

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    got g;
    pc_lm_sink s = sink_for(&g);

    CU_ASSERT_EQUAL(feed_stream(&h, rows[i].text, 3, &s, "", &err),
                    rows[i].code);
    if (strncmp(err.message, rows[i].message, strlen(rows[i].message)))
      fprintf(stderr, "row %zu: %s\n", i, err.message);
    CU_ASSERT_EQUAL(strncmp(err.message, rows[i].message,
                            strlen(rows[i].message)), 0);
    CU_ASSERT_EQUAL(g.text_calls, 0);
  }
}

static void test_stream_of_plain_json_is_read_as_a_whole_response(void)
{
  pc__lm_host h = host_tables();
  pc_error err = PC_ERROR_INIT;
  got g;
  pc_lm_sink s = sink_for(&g);
  const char *pretty = "{\n  \"model\": \"llama\",\n  \"choices\": [{\n"
                       "    \"message\": {\"content\": \"ok\"}}]\n}\n";

  CU_ASSERT_EQUAL(feed_stream(&h, pretty, 5, &s, "rid", &err), PC_OK);
  PC_ASSERT_STR_EQ(g.texts[0], "ok");
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  PC_ASSERT_STR_EQ(g.meta, "model=llama;request_id=rid;");
}

/* ------------------------------------------------------------------------ */
/* complete() through the plugin, over a scripted transport.               */

static struct {
  int calls;
  char url[256];
  char headers[1024];    /* "Name: value\n" each */
  char secret_header[64];
  char body[2048];
  uint32_t flags;
  int32_t status;
  const char *resp_headers[5];
  const char *resp_body;
  size_t chunk;          /* deliver the body in pieces of this size */
  int sink_rc;
} fake;

static int fake_request(void *ctx, const pc_http_request *req,
                        const pc_http_sink *sink, pc_call *call,
                        pc_error *err)
{
  size_t i, n, off;
  int rc;

  (void)ctx;
  (void)call;
  (void)err;
  fake.calls++;
  snprintf(fake.url, sizeof(fake.url), "%s", req->url);
  fake.headers[0] = '\0';
  for (i = 0; i < req->n_headers; i++) {
    const pc_http_header *hd = (const pc_http_header *)(const void *)
      ((const char *)req->headers + i * req->header_size);
    size_t len = strlen(fake.headers);

    snprintf(fake.headers + len, sizeof(fake.headers) - len, "%s: %s\n",
             hd->name, hd->value);
  }
  snprintf(fake.secret_header, sizeof(fake.secret_header), "%s",
           req->secret_header ? req->secret_header : "(null)");
  snprintf(fake.body, sizeof(fake.body), "%.*s", (int)req->body_len,
           req->body);
  fake.flags = req->flags;
  rc = sink->on_status(sink->ctx, fake.status);
  for (i = 0; !rc && fake.resp_headers[i]; i += 2)
    rc = sink->on_header(sink->ctx, fake.resp_headers[i],
                         strlen(fake.resp_headers[i]),
                         fake.resp_headers[i + 1],
                         strlen(fake.resp_headers[i + 1]));
  n = strlen(fake.resp_body);
  for (off = 0; !rc && off < n; off += fake.chunk)
    rc = sink->on_data(sink->ctx, fake.resp_body + off,
                       n - off < fake.chunk ? n - off : fake.chunk);
  fake.sink_rc = rc;
  return rc;
}

static const pc_http_api fake_http = {
  .hdr = PC_ABI_HEADER_INIT(pc_http_api),
  .request = fake_request,
};

static void fake_reset(int32_t status, const char *body, size_t chunk)
{
  memset(&fake, 0, sizeof(fake));
  fake.status = status;
  fake.resp_body = body;
  fake.chunk = chunk;
}

/* The plugin, initialised on the real host with the scripted transport. */
typedef struct plugin {
  const pc_plugin_info *info;
  const pc_lm_provider_iface *iface;
  void *state;
} plugin;

static plugin plugin_open(void)
{
  plugin p;
  pc_error err = PC_ERROR_INIT;
  uint32_t size = 0;

  p.info = pc_plugin_entry_v1(&pc_host_api_get()->hdr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p.info);
  CU_ASSERT_EQUAL_FATAL(p.info->init(pc_host_api_get(), &p.state, &err),
                        PC_OK);
  ((pc__lm_host *)p.state)->http = &fake_http;
  p.iface = p.info->get_interface(p.state, PC_IFACE_LM_PROVIDER, &size);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p.iface);
  CU_ASSERT_EQUAL(size, sizeof(pc_lm_provider_iface));
  return p;
}

static void *instance(const plugin *p, const char *config)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  CU_ASSERT_EQUAL(p->iface->create(p->state, config, strlen(config), &inst,
                                   &err), PC_OK);
  if (err.code)
    fprintf(stderr, "create: %s\n", err.message);
  return inst;
}

static int identity_write(void *ctx, const char *text, size_t len)
{
  append(ctx, 64, text, len);
  return 0;
}

static void test_plugin_describes_itself_and_names_the_model(void)
{
  plugin p = plugin_open();
  pc_error err = PC_ERROR_INIT;
  char ident[64] = "";
  pc_text_sink ts = {PC_ABI_HEADER_INIT(pc_text_sink), ident,
                     identity_write};
  void *inst = NULL;
  const char *bad = "{\"model\": \"m\", \"api_key\": \"sk-PLANTED-42\"}";

  PC_ASSERT_STR_EQ(p.info->id, "org.promptc.lm.openai");
  PC_ASSERT_STR_EQ(p.info->name, "openai");
  PC_ASSERT_STR_EQ(p.info->version, "1.0.0");
  PC_ASSERT_STR_EQ(p.info->license, "MIT");
  CU_ASSERT_EQUAL(p.info->flags, PC_PLUGIN_THREADSAFE_INSTANCES);
  PC_ASSERT_STR_EQ(p.iface->name, "openai");
  inst = instance(&p, "{\"model\": \"gpt-4o-2024-08-06\"}");
  CU_ASSERT_EQUAL(p.iface->identity(inst, &ts, &err), PC_OK);
  PC_ASSERT_STR_EQ(ident, "gpt-4o-2024-08-06");
  p.iface->destroy(inst);
  /* A literal key is refused, and not repeated. */
  inst = (void *)&p;
  CU_ASSERT_EQUAL(p.iface->create(p.state, bad, strlen(bad), &inst, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  CU_ASSERT_PTR_NULL(strstr(err.message, "PLANTED"));
  p.info->fini(p.state);
}

static void test_complete_posts_to_chat_completions(void)
{
  plugin p = plugin_open();
  void *inst = instance(&p, "{\"model\": \"gpt-4o-mini\", \"api_key\": "
                        "\"env:OPENAI_API_KEY\", \"base_dir\": \"/tmp\"}");
  pc_lm_request req = request_with("{\"temperature\": 0, \"n\": 2}");
  pc_error err = PC_ERROR_INIT;
  got g;
  pc_lm_sink s = sink_for(&g);
  const char *rid[] = {"x-request-id", "req_9", NULL};

  req.rollout_id = "r3";
  fake_reset(200, whole_response, 4096);
  memcpy(fake.resp_headers, rid, sizeof(rid));
  CU_ASSERT_EQUAL_FATAL(p.iface->complete(inst, &req, &s, NULL, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(fake.url, "https://api.openai.com/v1/chat/completions");
  PC_ASSERT_STR_EQ(fake.headers, "Content-Type: application/json\n"
                   "X-Promptc-Rollout: r3\n"
                   "Authorization: Bearer env:OPENAI_API_KEY\n");
  PC_ASSERT_STR_EQ(fake.secret_header, "Authorization");
  CU_ASSERT_EQUAL(fake.flags, 0);
  PC_ASSERT_STR_EQ(fake.body, "{\"model\":\"gpt-4o-mini\"," MESSAGES_JSON
                   ",\"temperature\":0,\"n\":2}");
  PC_ASSERT_STR_EQ(g.texts[0], "Hello there");
  PC_ASSERT_STR_EQ(g.texts[1], "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  PC_ASSERT_STR_EQ(g.meta, "model=gpt-4o-mini-2024-07-18;system_fingerprint="
                   "fp_44709d6fcb;request_id=req_9;finish_reason=stop;");
  p.iface->destroy(inst);
  p.info->fini(p.state);
}

static void test_complete_streams_when_asked(void)
{
  plugin p = plugin_open();
  void *inst = instance(&p, "{\"model\": \"m\", \"base_url\": "
                        "\"http://127.0.0.1:8080/v1/\"}");
  pc_lm_request req = request_with(NULL);
  pc_error err = PC_ERROR_INIT;
  got g;
  pc_lm_sink s = sink_for(&g);

  req.flags = PC_LM_STREAM;
  fake_reset(200, streamed_response, 7);
  CU_ASSERT_EQUAL_FATAL(p.iface->complete(inst, &req, &s, NULL, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(fake.url, "http://127.0.0.1:8080/v1/chat/completions");
  PC_ASSERT_STR_EQ(fake.headers, "Content-Type: application/json\n");
  PC_ASSERT_STR_EQ(fake.secret_header, "(null)");
  CU_ASSERT_EQUAL(fake.flags, PC_HTTP_STREAM);
  CU_ASSERT_PTR_NOT_NULL(strstr(fake.body, ",\"stream\":true,"
                                "\"stream_options\":{\"include_usage\":"
                                "true}}"));
  PC_ASSERT_STR_EQ(g.deltas[0], "Hello there");
  PC_ASSERT_STR_EQ(g.texts[0], "Hello there");
  PC_ASSERT_STR_EQ(g.texts[1], "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.prompt_tokens, 12);
  PC_ASSERT_STR_EQ(g.meta, fixture_meta);
  p.iface->destroy(inst);
  /* The "stream" setting does the same without the flag. */
  inst = instance(&p, "{\"model\": \"m\", \"stream\": true}");
  req.flags = 0;
  fake_reset(200, streamed_response, 64);
  s = sink_for(&g);
  CU_ASSERT_EQUAL(p.iface->complete(inst, &req, &s, NULL, &err), PC_OK);
  CU_ASSERT_EQUAL(fake.flags, PC_HTTP_STREAM);
  CU_ASSERT_EQUAL(g.delta_calls, 4);
  p.iface->destroy(inst);
  p.info->fini(p.state);
}

static void test_complete_maps_http_failures(void)
{
  plugin p = plugin_open();
  void *inst = instance(&p, "{\"model\": \"m\", \"api_key\": "
                        "\"env:PC_TEST_KEY\"}");
  pc_lm_request req = request_with(NULL);
  got g;
  pc_lm_sink s;
  pc_error err = PC_ERROR_INIT;
  const char *ra[] = {"Retry-After", "2", NULL};

  fake_reset(401, "{\"error\": {\"message\": \"Incorrect API key "
             "provided\", \"type\": \"invalid_request_error\", \"code\": "
             "\"invalid_api_key\"}}", 16);
  s = sink_for(&g);
  CU_ASSERT_EQUAL(p.iface->complete(inst, &req, &s, NULL, &err), PC_E_AUTH);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 401: Incorrect API key "
                   "provided");
  CU_ASSERT_EQUAL(g.text_calls, 0);
  /* A streamed request's failure body is read whole. */
  memset(&err, 0, sizeof(err));
  req.flags = PC_LM_STREAM;
  fake_reset(429, "{\"error\": {\"message\": \"Rate limit reached\"}}", 5);
  memcpy(fake.resp_headers, ra, sizeof(ra));
  s = sink_for(&g);
  CU_ASSERT_EQUAL(p.iface->complete(inst, &req, &s, NULL, &err),
                  PC_E_RATE_LIMITED);
  CU_ASSERT_EQUAL(err.retry_after_ms, 2000);
  CU_ASSERT_EQUAL(err.http_status, 429);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 429: Rate limit reached");
  /* A stream cut before [DONE]. */
  memset(&err, 0, sizeof(err));
  fake_reset(200, CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}"
             "]}\n", 9);
  s = sink_for(&g);
  CU_ASSERT_EQUAL(p.iface->complete(inst, &req, &s, NULL, &err),
                  PC_E_PROVIDER);
  PC_ASSERT_STR_EQ(err.message, "openai: stream ended early (no [DONE])");
  CU_ASSERT_EQUAL(g.text_calls, 0);
  p.iface->destroy(inst);
  p.info->fini(p.state);
}

static void test_complete_stops_when_the_sink_refuses(void)
{
  plugin p = plugin_open();
  void *inst = instance(&p, "{\"model\": \"m\"}");
  pc_lm_request req = request_with(NULL);
  pc_error err = PC_ERROR_INIT;
  got g;
  pc_lm_sink s = sink_for(&g);

  req.flags = PC_LM_STREAM;
  g.refuse_delta = 1;
  fake_reset(200, streamed_response, 11);
  CU_ASSERT_EQUAL(p.iface->complete(inst, &req, &s, NULL, &err),
                  PC_E_CANCELLED);
  PC_ASSERT_STR_EQ(err.message, "openai: the sink refused the text");
  CU_ASSERT_NOT_EQUAL(fake.sink_rc, 0);   /* the transfer was stopped */
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.text_calls, 0);
  p.iface->destroy(inst);
  p.info->fini(p.state);
}

static CU_TestInfo lm_openai_tests[] = {
  {"body: every param passes through, in order",
   test_body_passes_every_param_through_in_order},
  {"body: streaming asks for usage", test_body_streaming_asks_for_usage},
  {"body: params the provider sets are refused",
   test_body_refuses_params_the_provider_sets},
  {"parse: every choice, usage and meta",
   test_parse_gives_every_choice_usage_and_meta},
  {"parse: null content is empty, meta optional",
   test_parse_null_content_is_empty_and_meta_optional},
  {"parse: a refusal is a provider error",
   test_parse_refusal_is_a_provider_error},
  {"parse: malformed or empty is retryable",
   test_parse_malformed_or_empty_is_retryable},
  {"parse: an error object with a status maps like HTTP",
   test_parse_error_object_with_status_maps_like_http},
  {"stream: any chunk size gives the whole response's result",
   test_stream_at_any_chunk_size_matches_the_whole_response},
  {"stream: ending early or malformed fails",
   test_stream_that_ends_early_or_is_malformed_fails},
  {"stream: plain JSON is read as a whole response",
   test_stream_of_plain_json_is_read_as_a_whole_response},
  {"plugin: descriptor, identity, literal key refused",
   test_plugin_describes_itself_and_names_the_model},
  {"complete: POST to /chat/completions with the reference",
   test_complete_posts_to_chat_completions},
  {"complete: streams when asked", test_complete_streams_when_asked},
  {"complete: HTTP failures are mapped", test_complete_maps_http_failures},
  {"complete: stops when the sink refuses",
   test_complete_stops_when_the_sink_refuses},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"lm_openai", NULL, NULL, NULL, NULL, lm_openai_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
