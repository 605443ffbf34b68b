/*
 * tests/unit/test_lm_anthropic.c: the anthropic LM provider
 * (plugins/lm-anthropic): its wire format on its own, and the plugin on
 * the real host tables with a fake "pc.http/1" that records each request
 * and answers from a script; suite "lm_anthropic".
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "host.h"
#include "lm_fake_http.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"
#include "../../plugins/lm-anthropic/anthropic_wire.h"

/* The plugin is compiled into this program. */
PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

static pcfake_plugin plugin;    /* on the fake transport */
static pc__lm_host wire_host;   /* real tables, for the wire functions */

static int suite_init(void)
{
  return pcfake_open(&plugin, pc_plugin_entry_v1, &wire_host);
}

static int suite_clean(void)
{
  pcfake_close(&plugin);
  return 0;
}

/* The model the calls ask for. */
#define MODEL "claude-x"

/* Create an instance from `config`, make one call and destroy it. */
static int run(const char *config, const char *params, uint32_t flags,
               const char *rollout, pcfake_got *g, pc_error *err)
{
  return pcfake_run(&plugin, config, MODEL, params, flags, rollout, g, err);
}

#define CONFIG "{\"model\": \"claude-x\", \"api_key\": " \
  "\"env:ANTHROPIC_API_KEY\", \"base_dir\": \"/tmp\"}"

/* A whole reply and the same reply as a stream. */
static const char reply_body[] =
  "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
  "\"model\":\"claude-x-20250101\",\"content\":["
  "{\"type\":\"text\",\"text\":\"Bonjour\"},"
  "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}},"
  "{\"type\":\"text\",\"text\":\", le caf\\u00e9\"}],"
  "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
  "\"usage\":{\"input_tokens\":25,\"output_tokens\":7}}";

static const char stream_body[] =
  ": a comment the server may send\n"
  "event: message_start\n"
  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\","
  "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
  "\"claude-x-20250101\",\"content\":[],\"stop_reason\":null,"
  "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n"
  "\n"
  "event: content_block_start\n"
  "data: {\"type\":\"content_block_start\",\"index\":0,"
  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
  "\n"
  "event: ping\n"
  "data: {\"type\": \"ping\"}\n"
  "\n"
  "event: content_block_delta\n"
  "data: {\"type\":\"content_block_delta\",\"index\":0,"
  "\"delta\":{\"type\":\"text_delta\",\"text\":\"Bon\"}}\n"
  "\n"
  "event: content_block_delta\n"
  "data: {\"type\":\"content_block_delta\",\"index\":0,"
  "\"delta\":{\"type\":\"text_delta\",\"text\":\"jour\"}}\n"
  "\n"
  "event: content_block_stop\n"
  "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
  "\n"
  "event: content_block_start\n"
  "data: {\"type\":\"content_block_start\",\"index\":1,"
  "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
  "\"input\":{}}}\n"
  "\n"
  "event: content_block_delta\n"
  "data: {\"type\":\"content_block_delta\",\"index\":1,"
  "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n"
  "\n"
  "event: something_new\n"
  "data: {\"type\":\"something_new\",\"x\":1}\n"
  "\n"
  "event: content_block_delta\n"
  "data: {\"type\":\"content_block_delta\",\"index\":2,"
  "\"delta\":{\"type\":\"text_delta\",\"text\":\", le caf\xc3\xa9\"}}\n"
  "\n"
  "event: message_delta\n"
  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
  "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n"
  "\n"
  "event: message_stop\n"
  "data: {\"type\":\"message_stop\"}\n"
  "\n";

#define REPLY_TEXT "Bonjour, le caf\xc3\xa9"
#define REPLY_META "model=claude-x-20250101\nrequest_id=req_9\n" \
  "finish_reason=end_turn\n"

/* ------------------------------------------------------------------------ */
/* The request body.                                                        */

static char *body_of(const char *params, const pc__an_opts *o, int *rc,
                     pc_error *err)
{
  pc_lm_request req = pcfake_request(MODEL, params, 0, NULL);
  pc_json *p = NULL;
  char *out = NULL;
  size_t len = 0;

  *rc = pc__lm_params(&wire_host, "test", &req, &p, err);
  if (!*rc)
    *rc = pc__an_body(&wire_host, o, &req, p, &out, &len, err);
  if (!*rc)
    CU_ASSERT_EQUAL(strlen(out), len);
  wire_host.json->free(wire_host.host->ctx, p);
  return out;
}

static void test_body_takes_system_apart_and_maps_params(void)
{
  pc__an_opts o = {"claude-x", 4096, 0};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of("{\"temperature\": 0.7, \"top_p\": 0.9, \"top_k\": 40, "
                    "\"stop\": \"END\", \"n\": 1, \"seed\": 3, "
                    "\"response_format\": {\"type\": \"json_object\"}}",
                    &o, &rc, &err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  /* Both system messages, joined; the rest in order; n, seed and
   * response_format are not Messages API fields. */
  PC_ASSERT_STR_EQ(b, "{\"model\":\"claude-x\",\"system\":\"You are terse."
                   "\\n\\nAnswer in French.\",\"messages\":[{\"role\":"
                   "\"user\",\"content\":\"Q1\"},{\"role\":\"assistant\","
                   "\"content\":\"A1\"},{\"role\":\"user\",\"content\":"
                   "\"Q2\"}],\"max_tokens\":4096,\"temperature\":0.7,"
                   "\"top_p\":0.9,\"top_k\":40,\"stop_sequences\":"
                   "[\"END\"]}");
  wire_host.host->free(wire_host.host->ctx, b);
}

static void test_body_max_tokens_of_the_call_wins(void)
{
  pc__an_opts o = {"m", 99, 1};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of("{\"max_tokens\": 12, \"stop\": [\"a\", \"b\"]}", &o,
                    &rc, &err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"max_tokens\":12,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"stop_sequences\":[\"a\",\"b\"]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"stream\":true"));
  wire_host.host->free(wire_host.host->ctx, b);
  b = body_of("{}", &o, &rc, &err);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"max_tokens\":99"));
  CU_ASSERT_PTR_NULL(strstr(b, "temperature"));
  wire_host.host->free(wire_host.host->ctx, b);
}

static void test_body_without_system_has_no_system_field(void)
{
  pc__an_opts o = {"m", 10, 0};
  pc_lm_request req = pcfake_request(MODEL, NULL, 0, NULL);
  pc_json *p = wire_host.json->new_object(wire_host.host->ctx);
  pc_error err = PC_ERROR_INIT;
  char *out = NULL;
  size_t len;

  req.messages += 1;
  req.n_messages = 2;
  CU_ASSERT_EQUAL_FATAL(pc__an_body(&wire_host, &o, &req, p, &out, &len,
                                    &err), PC_OK);
  PC_ASSERT_STR_EQ(out, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"Q1\"},{\"role\":\"assistant\","
                   "\"content\":\"A1\"}],\"max_tokens\":10}");
  wire_host.host->free(wire_host.host->ctx, out);
  wire_host.json->free(wire_host.host->ctx, p);
}

static void test_body_refuses_params_of_the_wrong_type(void)
{
  pc__an_opts o = {"m", 10, 0};
  pc_error err = PC_ERROR_INIT;
  int rc;
  char *b = body_of("{\"temperature\": \"hot\"}", &o, &rc, &err);

  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(b);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "params.temperature"));
  err = (pc_error)PC_ERROR_INIT;
  b = body_of("{\"stop\": [\"a\", 1]}", &o, &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "params.stop"));
  err = (pc_error)PC_ERROR_INIT;
  b = body_of("{\"max_tokens\": 0}", &o, &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "params.max_tokens"));
}

/* ------------------------------------------------------------------------ */
/* Replies and streams, on their own.                                       */

static void test_reply_parse_joins_text_blocks(void)
{
  pc__lm_result r;
  pc_error err = PC_ERROR_INIT;

  pc__lm_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL_FATAL(pc__an_reply_parse(&wire_host, reply_body,
                                           strlen(reply_body), &r, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
  CU_ASSERT_EQUAL(r.prompt_tokens, 25);
  CU_ASSERT_EQUAL(r.completion_tokens, 7);
  PC_ASSERT_STR_EQ(r.model, "claude-x-20250101");
  PC_ASSERT_STR_EQ(r.id, "msg_01");
  PC_ASSERT_STR_EQ(r.finish, "end_turn");
  pc__lm_result_free(&r);
}

static void test_reply_parse_refuses_what_is_not_a_message(void)
{
  static const char *const bodies[] = {
    "<html>502 Bad Gateway</html>", "{\"id\": \"x\"}", "[1]",
    "{\"content\": \"text\"}", "{\"content\": [{\"type\": \"text\"",
  };
  size_t i;

  for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    pc__lm_result r;
    pc_error err = PC_ERROR_INIT;

    pc__lm_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(pc__an_reply_parse(&wire_host, bodies[i],
                                       strlen(bodies[i]), &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "anthropic: "));
    pc__lm_result_free(&r);
  }
}

static void test_error_types_map_to_codes(void)
{
  CU_ASSERT_EQUAL(pc__an_error_code("rate_limit_error", "slow down"),
                  PC_E_RATE_LIMITED);
  CU_ASSERT_EQUAL(pc__an_error_code("overloaded_error", "Overloaded"),
                  PC_E_PROVIDER);
  CU_ASSERT_EQUAL(pc__an_error_code("api_error", "oops"), PC_E_PROVIDER);
  CU_ASSERT_EQUAL(pc__an_error_code("authentication_error", "bad key"),
                  PC_E_AUTH);
  CU_ASSERT_EQUAL(pc__an_error_code("permission_error", "no"), PC_E_AUTH);
  CU_ASSERT_EQUAL(pc__an_error_code("invalid_request_error",
                                    "max_tokens: field required"),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc__an_error_code("invalid_request_error",
                                    "prompt is too long: 200001 tokens > "
                                    "200000 maximum"),
                  PC_E_CONTEXT_LENGTH);
  CU_ASSERT_EQUAL(pc__an_error_code("brand_new_error", "?"), PC_E_PROVIDER);
  CU_ASSERT_EQUAL(pc__an_error_code(NULL, NULL), PC_E_PROVIDER);
}

/* Feed a stream line by line through the shared line splitter, in pieces
 * of `chunk` bytes. */
static int feed_stream(const char *body, size_t chunk, pc__lm_result *r,
                       pc_error *err)
{
  pc__an_stream st;
  int rc;

  pc__an_stream_init(&st, &wire_host, r, NULL, NULL, err);
  rc = pcfake_feed(&wire_host, body, chunk, pc__an_stream_line, &st);
  if (!rc)
    rc = pc__an_stream_end(&st);
  pc__an_stream_free(&st);
  return rc;
}

static void test_stream_in_any_pieces_reads_as_the_whole_reply(void)
{
  static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 64, 100000};
  size_t i;

  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pc__lm_result r;
    pc_error err = PC_ERROR_INIT;

    pc__lm_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(feed_stream(stream_body, chunks[i], &r, &err), PC_OK);
    PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
    CU_ASSERT_EQUAL(r.prompt_tokens, 25);
    CU_ASSERT_EQUAL(r.completion_tokens, 7);  /* message_delta replaces */
    PC_ASSERT_STR_EQ(r.model, "claude-x-20250101");
    PC_ASSERT_STR_EQ(r.id, "msg_01");
    PC_ASSERT_STR_EQ(r.finish, "end_turn");
    pc__lm_result_free(&r);
  }
}

static void test_stream_with_crlf_and_no_final_blank_line(void)
{
  pc_buf b;
  pc__lm_result r;
  pc_error err = PC_ERROR_INIT;
  const char *p;

  pc_buf_init(&b, 0);
  for (p = stream_body; *p; p++)
    CU_ASSERT_EQUAL_FATAL(*p == '\n' ? pc_buf_puts(&b, "\r\n")
                                     : pc_buf_putc(&b, *p), PC_OK);
  /* Drop the last blank line: the last event still counts. */
  b.len -= 2;
  b.data[b.len] = '\0';
  pc__lm_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL(feed_stream(b.data, 4, &r, &err), PC_OK);
  PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
  pc__lm_result_free(&r);
  pc_buf_free(&b);
}

static void test_stream_that_stops_early_or_is_malformed_is_retryable(void)
{
  const char *cut = strstr(stream_body, "event: message_delta");
  pc_buf b;
  pc__lm_result r;
  pc_error err = PC_ERROR_INIT;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_buf_append(&b, stream_body,
                                (size_t)(cut - stream_body)), PC_OK);
  pc__lm_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL(feed_stream(b.data, 9, &r, &err), PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "message_stop"));
  pc__lm_result_free(&r);

  err = (pc_error)PC_ERROR_INIT;
  pc__lm_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL(feed_stream("event: message_start\ndata: {\"type\":\n\n",
                              3, &r, &err), PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a JSON object"));
  pc__lm_result_free(&r);
  pc_buf_free(&b);
}

static void test_stream_error_event_maps_its_type(void)
{
  static const struct {
    const char *type, *message;
    int code;
  } cases[] = {
    {"overloaded_error", "Overloaded", PC_E_PROVIDER},
    {"rate_limit_error", "Number of requests exceeded", PC_E_RATE_LIMITED},
    {"invalid_request_error", "prompt is too long: 3 > 2",
     PC_E_CONTEXT_LENGTH},
    {"invalid_request_error", "temperature: out of range",
     PC_E_INVALID_ARG},
    {"authentication_error", "invalid x-api-key", PC_E_AUTH},
    {"api_error", "Internal server error", PC_E_PROVIDER},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[512];
    pc__lm_result r;
    pc_error err = PC_ERROR_INIT;

    snprintf(body, sizeof(body), "event: message_start\ndata: {\"type\":"
             "\"message_start\",\"message\":{\"model\":\"m\"}}\n\n"
             "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
             "\"%s\",\"message\":\"%s\"}}\n\n"
             "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
             cases[i].type, cases[i].message);
    pc__lm_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(feed_stream(body, 6, &r, &err), cases[i].code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].message));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].type));
    pc__lm_result_free(&r);
  }
}

/* ------------------------------------------------------------------------ */
/* The plugin over the fake transport.                                      */

static void test_descriptor_names_the_plugin(void)
{
  PC_ASSERT_STR_EQ(plugin.info->id, "org.promptc.lm.anthropic");
  PC_ASSERT_STR_EQ(plugin.info->name, "anthropic");
  PC_ASSERT_STR_EQ(plugin.info->version, "1.0.0");
  PC_ASSERT_STR_EQ(plugin.info->license, "MIT");
  CU_ASSERT_EQUAL(plugin.info->flags & PC_PLUGIN_THREADSAFE_INSTANCES,
                  PC_PLUGIN_THREADSAFE_INSTANCES);
  PC_ASSERT_STR_EQ(plugin.iface->name, "anthropic");
}

static void test_config_errors_name_the_key(void)
{
  static const struct {
    const char *config, *words;
  } cases[] = {
    {"{}", "\"model\" is required"},
    {"{\"model\": \"m\", \"max_tokens\": 0}", "\"max_tokens\""},
    {"{\"model\": \"m\", \"anthropic_version\": 1}", "\"anthropic_version\""},
    {"{\"model\": \"m\", \"anthropic_version\": \"a\\nb\"}",
     "\"anthropic_version\""},
    {"{\"model\": \"m\", \"temperature\": 1}", "\"temperature\""},
    {"{\"model\": \"m\", \"api_key\": \"sk-ant-SECRET\"}", "api_key"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    void *inst = (void *)&inst;
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(pcfake_create(&plugin, cases[i].config, &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    CU_ASSERT_PTR_NULL(strstr(err.message, "SECRET"));
  }
}

static void test_identity_is_the_configured_model(void)
{
  pc_buf b;
  pc_text_sink sink = pcfake_text_sink(&b);
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL_FATAL(pcfake_create(&plugin, CONFIG, &inst, &err), PC_OK);
  CU_ASSERT_EQUAL(plugin.iface->identity(inst, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&b), "claude-x");
  plugin.iface->destroy(inst);
  pc_buf_free(&b);
}

static void test_call_posts_messages_with_version_and_key_reference(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, "request-id: req_9\n", reply_body, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, "{\"temperature\": 0.5}", 0, "r7", &g, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_method(0), "POST");
  PC_ASSERT_STR_EQ(pcfake_url(0),
                   "https://api.anthropic.com/v1/messages");
  CU_ASSERT(pcfake_sent(0, "anthropic-version: 2023-06-01"));
  CU_ASSERT(pcfake_sent(0, "Content-Type: application/json"));
  /* The reference only: the host puts the key in. */
  CU_ASSERT(pcfake_sent(0, "x-api-key: env:ANTHROPIC_API_KEY"));
  PC_ASSERT_STR_EQ(pcfake_secret(0), "x-api-key");
  CU_ASSERT(pcfake_sent(0, "X-Promptc-Rollout: r7"));
  CU_ASSERT(!strstr(pcfake_headers(0), "X-Promptc-Choice"));
  CU_ASSERT_EQUAL(pcfake.seen[0].flags & PC_HTTP_STREAM, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(0),
                                "\"temperature\":0.5"));
  CU_ASSERT_PTR_NULL(strstr(pcfake_body(0), "\"stream\""));
  /* The Messages API requires max_tokens: the default is sent. */
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(0),
                                "\"max_tokens\":4096,"));
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), REPLY_TEXT);
  CU_ASSERT_EQUAL(g.text_calls, 1);
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 25);
  CU_ASSERT_EQUAL(g.completion_tokens, 7);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), REPLY_META);
  pcfake_got_free(&g);
}

static void test_call_without_key_or_rollout_sends_neither(void)
{
  const char *config = "{\"model\": \"claude-x\", \"base_url\": "
                       "\"http://127.0.0.1:9/\", \"anthropic_version\": "
                       "\"2099-01-01\", \"max_tokens\": 300}";
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, reply_body, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(config, NULL, 0, NULL, &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_url(0), "http://127.0.0.1:9/v1/messages");
  CU_ASSERT(pcfake_sent(0, "anthropic-version: 2099-01-01"));
  CU_ASSERT_PTR_NULL(strstr(pcfake_headers(0), "x-api-key"));
  CU_ASSERT_PTR_NULL(strstr(pcfake_headers(0), "Rollout"));
  PC_ASSERT_STR_EQ(pcfake_secret(0), "");
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(0),
                                "\"max_tokens\":300"));
  /* No request-id header: the message id stands in. */
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_str(&g.meta), "request_id=msg_01\n"));
  pcfake_got_free(&g);
}

static void test_n_choices_are_n_requests_told_apart_by_header(void)
{
  static const char r1[] =
    "{\"id\":\"msg_2\",\"model\":\"claude-x-2\",\"content\":[{\"type\":"
    "\"text\",\"text\":\"two\"}],\"stop_reason\":\"max_tokens\","
    "\"usage\":{\"input_tokens\":5,\"output_tokens\":3}}";
  static const char r2[] =
    "{\"id\":\"msg_3\",\"model\":\"claude-x-2\",\"content\":[{\"type\":"
    "\"text\",\"text\":\"three\"}],\"stop_reason\":\"end_turn\","
    "\"usage\":{\"input_tokens\":5,\"output_tokens\":4}}";
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, "request-id: req_9\n", reply_body, 0);
  pcfake_answer(1, 200, NULL, r1, 0);
  pcfake_answer(2, 200, NULL, r2, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 3}", 0, "r1", &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 3);
  CU_ASSERT(!strstr(pcfake_headers(0), "X-Promptc-Choice"));
  CU_ASSERT(pcfake_sent(1, "X-Promptc-Choice: 1"));
  CU_ASSERT(pcfake_sent(2, "X-Promptc-Choice: 2"));
  CU_ASSERT(pcfake_sent(2, "X-Promptc-Rollout: r1"));
  /* The same body each time; "n" is not an API field. */
  PC_ASSERT_STR_EQ(pcfake_body(2), pcfake_body(0));
  CU_ASSERT_PTR_NULL(strstr(pcfake_body(0), "\"n\""));
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), REPLY_TEXT);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), "two");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[2]), "three");
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 35);
  CU_ASSERT_EQUAL(g.completion_tokens, 14);
  /* The record is the first reply's. */
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), REPLY_META);
  pcfake_got_free(&g);
}

static void test_http_errors_keep_the_servers_message(void)
{
  static const struct {
    int status;
    const char *headers, *body, *words;
    int code;
    int64_t retry_ms;
  } cases[] = {
    {401, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
     "\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
     "invalid x-api-key", PC_E_AUTH, -1},
    {429, "retry-after: 7\n", "{\"type\":\"error\",\"error\":{\"type\":"
     "\"rate_limit_error\",\"message\":\"Number of request tokens has "
     "exceeded your rate limit\"}}", "rate limit", PC_E_RATE_LIMITED, 7000},
    {400, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
     "\"invalid_request_error\",\"message\":\"prompt is too long: 210000 "
     "tokens > 200000 maximum\"}}", "prompt is too long",
     PC_E_CONTEXT_LENGTH, -1},
    {400, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
     "\"invalid_request_error\",\"message\":\"messages: roles must "
     "alternate\"}}", "roles must alternate", PC_E_INVALID_ARG, -1},
    {529, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
     "\"overloaded_error\",\"message\":\"Overloaded\"}}", "Overloaded",
     PC_E_PROVIDER, -1},
    {500, NULL, "upstream exploded", "upstream exploded", PC_E_PROVIDER,
     -1},
    {200, NULL, "{\"truncated\": ", "not a JSON object", PC_E_PROVIDER, -1},
    {200, NULL, "{\"id\": \"msg_1\"}", "no \"content\"", PC_E_PROVIDER, -1},
  };
  size_t i, k;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    for (k = 0; k < 2; k++) {  /* whole, then streamed */
      pcfake_got g;
      pc_error err = PC_ERROR_INIT;

      if (k && cases[i].status == 200)
        continue;
      pcfake_reset();
      pcfake_answer(0, cases[i].status, cases[i].headers, cases[i].body, 3);
      pcfake_got_init(&g);
      CU_ASSERT_EQUAL(run(CONFIG, NULL, k ? PC_LM_STREAM : 0, NULL, &g,
                          &err), cases[i].code);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
      CU_ASSERT_EQUAL(strncmp(err.message, "anthropic: ", 11), 0);
      if (cases[i].status != 200)
        CU_ASSERT_EQUAL(err.http_status, cases[i].status);
      CU_ASSERT_EQUAL(err.retry_after_ms, cases[i].retry_ms);
      CU_ASSERT_EQUAL(g.text_calls, 0);
      CU_ASSERT_EQUAL(pcfake.n_seen, 1);
      pcfake_got_free(&g);
    }
}

static void test_transport_failure_passes_through(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_fail(0, PC_E_IO);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, NULL, 0, NULL, &g, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "anthropic: POST "
                                "https://api.anthropic.com/v1/messages"));
  pcfake_got_free(&g);
}

static void test_streamed_call_equals_the_whole_one(void)
{
  static const size_t chunks[] = {1, 3, 17, 4096};
  pcfake_got whole;
  pc_error err = PC_ERROR_INIT;
  size_t i;

  pcfake_reset();
  pcfake_answer(0, 200, "request-id: req_9\n", reply_body, 0);
  pcfake_got_init(&whole);
  CU_ASSERT_EQUAL_FATAL(run(CONFIG, NULL, 0, NULL, &whole, &err), PC_OK);
  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pcfake_got g;

    pcfake_reset();
    pcfake_answer(0, 200, "request-id: req_9\n", stream_body, chunks[i]);
    pcfake_got_init(&g);
    CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                    PC_OK);
    CU_ASSERT_EQUAL(pcfake.seen[0].flags & PC_HTTP_STREAM, PC_HTTP_STREAM);
    CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(0),
                                  "\"stream\":true"));
    PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), pcfake_str(&whole.text[0]));
    PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), pcfake_str(&whole.text[0]));
    CU_ASSERT_EQUAL(g.delta_calls, 3);
    CU_ASSERT_EQUAL(g.text_calls, 1);
    CU_ASSERT_EQUAL(g.prompt_tokens, whole.prompt_tokens);
    CU_ASSERT_EQUAL(g.completion_tokens, whole.completion_tokens);
    PC_ASSERT_STR_EQ(pcfake_str(&g.meta), pcfake_str(&whole.meta));
    pcfake_got_free(&g);
  }
  pcfake_got_free(&whole);
}

static void test_stream_setting_in_config_streams(void)
{
  const char *config = "{\"model\": \"claude-x\", \"stream\": true}";
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, stream_body, 5);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(config, NULL, 0, NULL, &g, &err), PC_OK);
  CU_ASSERT_EQUAL(pcfake.seen[0].flags & PC_HTTP_STREAM, PC_HTTP_STREAM);
  PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), REPLY_TEXT);
  pcfake_got_free(&g);
}

static void test_plain_reply_to_a_stream_request_is_read_whole(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, "request-id: req_9\n", reply_body, 10);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), REPLY_TEXT);
  PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), REPLY_TEXT);
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.completion_tokens, 7);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), REPLY_META);
  pcfake_got_free(&g);
}

static void test_stream_cut_short_over_http_is_provider_error(void)
{
  const char *cut = strstr(stream_body, "event: message_stop");
  char *body = pc_strndup(stream_body, (size_t)(cut - stream_body));
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, body, 11);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "message_stop"));
  CU_ASSERT_EQUAL(g.text_calls, 0);
  pcfake_got_free(&g);
  pc_free(body);
}

static void test_sink_refusal_stops_the_call(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;
  int calls;

  /* A refused text. */
  pcfake_reset();
  pcfake_answer(0, 200, NULL, reply_body, 0);
  pcfake_got_init(&g);
  g.refuse_text = 1000;  /* not a PC_E_* code */
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 2}", 0, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "refused the text"));
  CU_ASSERT_EQUAL(pcfake.n_seen, 1);  /* the second choice is not asked */
  pcfake_got_free(&g);

  /* A refused delta stops the transfer at once. */
  pcfake_reset();
  pcfake_answer(0, 200, NULL, stream_body, 1);
  pcfake_got_init(&g);
  g.refuse_delta = PC_E_CANCELLED;
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.text_calls, 0);
  calls = pcfake.data_calls;
  CU_ASSERT(calls < (int)strlen(stream_body));
  pcfake_got_free(&g);
}

static void test_bad_params_fail_before_any_request(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, reply_body, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 0}", 0, NULL, &g, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "params.n"));
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(run(CONFIG, "[1]", 0, NULL, &g, &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pcfake.n_seen, 0);
  pcfake_got_free(&g);
}

/* Every allocation failing in turn: a clean error, never a crash or a
 * leak (valgrind checks the leaks). */
static void test_out_of_memory_anywhere_is_an_error(void)
{
  pcfake_reset();
  pcfake_answer(0, 200, "request-id: req_9\n", stream_body, 7);
  pcfake_oom(&plugin, CONFIG, MODEL, "{\"temperature\": 0}", PC_LM_STREAM,
             "r");
}

static CU_TestInfo lm_anthropic_tests[] = {
  {"body: system messages are joined and taken apart, params mapped",
   test_body_takes_system_apart_and_maps_params},
  {"body: the call's max_tokens wins, stop lists, stream flag",
   test_body_max_tokens_of_the_call_wins},
  {"body: no system message means no system field",
   test_body_without_system_has_no_system_field},
  {"body: params of the wrong type are refused by name",
   test_body_refuses_params_of_the_wrong_type},
  {"reply: text blocks are joined, usage and record read",
   test_reply_parse_joins_text_blocks},
  {"reply: what is not a message is a retryable provider error",
   test_reply_parse_refuses_what_is_not_a_message},
  {"errors: Anthropic error types map to codes",
   test_error_types_map_to_codes},
  {"stream: in pieces of any size it reads as the whole reply",
   test_stream_in_any_pieces_reads_as_the_whole_reply},
  {"stream: CRLF lines and a missing last blank line",
   test_stream_with_crlf_and_no_final_blank_line},
  {"stream: ending early or malformed is retryable",
   test_stream_that_stops_early_or_is_malformed_is_retryable},
  {"stream: an error event maps its type",
   test_stream_error_event_maps_its_type},
  {"plugin: descriptor", test_descriptor_names_the_plugin},
  {"plugin: config errors name the key and never the key's value",
   test_config_errors_name_the_key},
  {"plugin: identity is the configured model",
   test_identity_is_the_configured_model},
  {"plugin: a call posts with version, key reference and rollout",
   test_call_posts_messages_with_version_and_key_reference},
  {"plugin: no api_key, no rollout: neither header",
   test_call_without_key_or_rollout_sends_neither},
  {"plugin: n choices are n requests with X-Promptc-Choice",
   test_n_choices_are_n_requests_told_apart_by_header},
  {"plugin: HTTP errors map to codes and keep the server's message",
   test_http_errors_keep_the_servers_message},
  {"plugin: a transport failure passes through",
   test_transport_failure_passes_through},
  {"plugin: a streamed call gives what the whole call gives",
   test_streamed_call_equals_the_whole_one},
  {"plugin: \"stream\": true in the config streams",
   test_stream_setting_in_config_streams},
  {"plugin: a plain reply to a stream request is read whole",
   test_plain_reply_to_a_stream_request_is_read_whole},
  {"plugin: a stream cut short is a provider error",
   test_stream_cut_short_over_http_is_provider_error},
  {"plugin: a sink's refusal stops the call",
   test_sink_refusal_stops_the_call},
  {"plugin: bad params fail before any request",
   test_bad_params_fail_before_any_request},
  {"plugin: out of memory anywhere is an error, not a crash",
   test_out_of_memory_anywhere_is_an_error},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"lm_anthropic", suite_init, suite_clean, NULL, NULL, lm_anthropic_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
