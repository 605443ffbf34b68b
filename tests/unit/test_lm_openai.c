/*
 * tests/unit/test_lm_openai.c: plugins/lm-openai (the OpenAI Chat
 * Completions wire format and the provider's complete()), against the
 * real host tables with a scripted "pc.http/1"; suite "lm_openai".
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "lm_fake_http.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"
#include "../../plugins/lm-openai/openai_wire.h"

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

static pcfake_plugin plugin;    /* on the fake transport */

static int suite_init(void)
{
  return pcfake_open(&plugin, pc_plugin_entry_v1, NULL);
}

static int suite_clean(void)
{
  pcfake_close(&plugin);
  return 0;
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
  "model=gpt-4o-mini-2024-07-18\nsystem_fingerprint=fp_44709d6fcb\n"
  "request_id=chatcmpl-1\nfinish_reason=stop\n";

/* Run `text` through a stream state in pieces of `size` bytes, as the
 * exchange would, and finish it; what the sink hears goes to `g`, which
 * is emptied first. */
static int feed_stream(const pc__lm_host *h, const char *text, size_t size,
                       pcfake_got *g, const char *request_id, pc_error *err)
{
  pc_lm_sink sink;
  pc__oai_stream st;
  int rc;

  pcfake_got_free(g);
  pcfake_got_init(g);
  sink = pcfake_sink(g);
  pc__oai_stream_init(&st, h, &sink, err);
  rc = pcfake_feed(h, text, size, pc__oai_stream_line, &st);
  if (!rc)
    rc = pc__oai_stream_finish(&st, request_id);
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
  pc__lm_host h = pcfake_tables();
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
  pc__lm_host h = pcfake_tables();
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
  pc__lm_host h = pcfake_tables();
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

/* Parse `body` into `g`, which is emptied first. */
static int parse(const pc__lm_host *h, const char *body, const char *rid,
                 pcfake_got *g, pc_error *err)
{
  pc_lm_sink s;

  pcfake_got_free(g);
  pcfake_got_init(g);
  s = pcfake_sink(g);
  return pc__oai_parse(h, body, strlen(body), rid, &s, err);
}

static void test_parse_gives_every_choice_usage_and_meta(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  pcfake_got_init(&g);
  CU_ASSERT_EQUAL_FATAL(parse(&h, whole_response, "", &g, &err), PC_OK);
  CU_ASSERT_EQUAL(g.text_calls, 2);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "Hello there");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 12);
  CU_ASSERT_EQUAL(g.completion_tokens, 7);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), fixture_meta);
  /* The x-request-id header wins over the body's id. */
  CU_ASSERT_EQUAL(parse(&h, whole_response, "req_abc", &g, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_str(&g.meta), "request_id=req_abc\n"));
  pcfake_got_free(&g);
}

static void test_parse_null_content_is_empty_and_meta_optional(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"message\": {\"content\": "
                        "null, \"tool_calls\": []}}]}", NULL, &g, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(g.text_calls, 1);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "");
  CU_ASSERT_EQUAL(g.usage_calls, 0);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), "");
  /* Content given as parts is joined. */
  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"index\": 0, \"message\": "
                        "{\"content\": [{\"type\": \"text\", \"text\": "
                        "\"a\"}, {\"type\": \"text\", \"text\": \"b\"}]}}]}",
                        NULL, &g, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "ab");
  pcfake_got_free(&g);
}

static void test_parse_refusal_is_a_provider_error(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(parse(&h, "{\"choices\": [{\"index\": 0, \"message\": "
                        "{\"content\": \"fine\"}}, {\"index\": 1, "
                        "\"message\": {\"content\": null, \"refusal\": "
                        "\"I can't help\\nwith that.\"}}]}", NULL, &g, &err),
                  PC_E_PROVIDER);
  PC_ASSERT_STR_EQ(err.message, "openai: the model refused: I can't help "
                   "with that.");
  CU_ASSERT_EQUAL(g.text_calls, 0);   /* nothing half-delivered */
  pcfake_got_free(&g);
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
  pc__lm_host h = pcfake_tables();
  pcfake_got g;

  pcfake_got_init(&g);
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(parse(&h, rows[i].body, NULL, &g, &err), PC_E_PROVIDER);
    if (strncmp(err.message, rows[i].message, strlen(rows[i].message)))
      fprintf(stderr, "%s: %s\n", rows[i].body, err.message);
    CU_ASSERT_EQUAL(strncmp(err.message, rows[i].message,
                            strlen(rows[i].message)), 0);
    CU_ASSERT_EQUAL(g.text_calls, 0);
  }
  pcfake_got_free(&g);
}

static void test_parse_error_object_with_status_maps_like_http(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(parse(&h, "{\"object\": \"error\", \"error\": {\"message\": "
                        "\"maximum context length is 4096 tokens\", "
                        "\"code\": 400}}", NULL, &g, &err),
                  PC_E_CONTEXT_LENGTH);
  CU_ASSERT_EQUAL(err.http_status, 400);
  pcfake_got_free(&g);
}

/* ------------------------------------------------------------------------ */
/* Streams.                                                                 */

static void test_stream_at_any_chunk_size_matches_the_whole_response(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got whole, g;
  size_t size, n = strlen(streamed_response);

  pcfake_got_init(&whole);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL_FATAL(parse(&h, whole_response, "", &whole, &err), PC_OK);
  for (size = 1; size <= n; size += size < 40 ? 1 : 97) {
    CU_ASSERT_EQUAL_FATAL(feed_stream(&h, streamed_response, size, &g, "",
                                      &err), PC_OK);
    CU_ASSERT_EQUAL(g.text_calls, 2);
    PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), pcfake_str(&whole.text[0]));
    PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), pcfake_str(&whole.text[1]));
    /* The deltas add up to the texts, piece by piece. */
    PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), pcfake_str(&whole.text[0]));
    PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[1]), pcfake_str(&whole.text[1]));
    CU_ASSERT_EQUAL(g.delta_calls, 4);
    CU_ASSERT_EQUAL(g.prompt_tokens, whole.prompt_tokens);
    CU_ASSERT_EQUAL(g.completion_tokens, whole.completion_tokens);
    PC_ASSERT_STR_EQ(pcfake_str(&g.meta), pcfake_str(&whole.meta));
  }
  pcfake_got_free(&g);
  pcfake_got_free(&whole);
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
  pc__lm_host h = pcfake_tables();
  pcfake_got g;

  pcfake_got_init(&g);
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(feed_stream(&h, rows[i].text, 3, &g, "", &err),
                    rows[i].code);
    if (strncmp(err.message, rows[i].message, strlen(rows[i].message)))
      fprintf(stderr, "row %zu: %s\n", i, err.message);
    CU_ASSERT_EQUAL(strncmp(err.message, rows[i].message,
                            strlen(rows[i].message)), 0);
    CU_ASSERT_EQUAL(g.text_calls, 0);
  }
  pcfake_got_free(&g);
}

static void test_stream_of_plain_json_is_read_as_a_whole_response(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;
  const char *pretty = "{\n  \"model\": \"llama\",\n  \"choices\": [{\n"
                       "    \"message\": {\"content\": \"ok\"}}]\n}\n";

  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(feed_stream(&h, pretty, 5, &g, "rid", &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "ok");
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), "model=llama\nrequest_id=rid\n");
  pcfake_got_free(&g);
}

/* ------------------------------------------------------------------------ */
/* complete() through the plugin, over the scripted transport.             */

/* A new instance from `config`. */
static void *instance(const char *config)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  CU_ASSERT_EQUAL(pcfake_create(&plugin, config, &inst, &err), PC_OK);
  if (err.code)
    fprintf(stderr, "create: %s\n", err.message);
  return inst;
}

/* Make the call `req` on `inst` into `g`, which is emptied first. */
static int complete(void *inst, const pc_lm_request *req, pcfake_got *g,
                    pc_error *err)
{
  pc_lm_sink s;

  pcfake_got_free(g);
  pcfake_got_init(g);
  s = pcfake_sink(g);
  return plugin.iface->complete(inst, req, &s, NULL, err);
}

static void test_plugin_describes_itself_and_names_the_model(void)
{
  const pc_plugin_info *info = plugin.info;
  pc_error err = PC_ERROR_INIT;
  pc_buf ident;
  pc_text_sink ts = pcfake_text_sink(&ident);
  void *inst = NULL;
  const char *bad = "{\"model\": \"m\", \"api_key\": \"sk-PLANTED-42\"}";

  pc_buf_init(&ident, 0);
  PC_ASSERT_STR_EQ(info->id, "org.promptc.lm.openai");
  PC_ASSERT_STR_EQ(info->name, "openai");
  PC_ASSERT_STR_EQ(info->version, "1.0.0");
  PC_ASSERT_STR_EQ(info->license, "MIT");
  CU_ASSERT_EQUAL(info->flags, PC_PLUGIN_THREADSAFE_INSTANCES);
  PC_ASSERT_STR_EQ(plugin.iface->name, "openai");
  inst = instance("{\"model\": \"gpt-4o-2024-08-06\"}");
  CU_ASSERT_EQUAL(plugin.iface->identity(inst, &ts, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&ident), "gpt-4o-2024-08-06");
  plugin.iface->destroy(inst);
  pc_buf_free(&ident);
  /* A literal key is refused, and not repeated. */
  inst = (void *)&plugin;
  CU_ASSERT_EQUAL(pcfake_create(&plugin, bad, &inst, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  CU_ASSERT_PTR_NULL(strstr(err.message, "PLANTED"));
}

static void test_complete_posts_to_chat_completions(void)
{
  void *inst = instance("{\"model\": \"gpt-4o-mini\", \"api_key\": "
                        "\"env:OPENAI_API_KEY\", \"base_dir\": \"/tmp\"}");
  pc_lm_request req = request_with("{\"temperature\": 0, \"n\": 2}");
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  req.rollout_id = "r3";
  pcfake_reset();
  pcfake_answer(0, 200, "x-request-id: req_9\n", whole_response, 4096);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL_FATAL(complete(inst, &req, &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_url(0),
                   "https://api.openai.com/v1/chat/completions");
  PC_ASSERT_STR_EQ(pcfake_headers(0),
                   "Content-Type: application/json\n"
                   "X-Promptc-Rollout: r3\n"
                   "Authorization: Bearer env:OPENAI_API_KEY\n");
  PC_ASSERT_STR_EQ(pcfake_secret(0), "Authorization");
  CU_ASSERT_EQUAL(pcfake.seen[0].flags, 0);
  PC_ASSERT_STR_EQ(pcfake_body(0),
                   "{\"model\":\"gpt-4o-mini\"," MESSAGES_JSON
                   ",\"temperature\":0,\"n\":2}");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "Hello there");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), "model=gpt-4o-mini-2024-07-18\n"
                   "system_fingerprint=fp_44709d6fcb\nrequest_id=req_9\n"
                   "finish_reason=stop\n");
  pcfake_got_free(&g);
  plugin.iface->destroy(inst);
}

static void test_complete_streams_when_asked(void)
{
  void *inst = instance("{\"model\": \"m\", \"base_url\": "
                        "\"http://127.0.0.1:8080/v1/\"}");
  pc_lm_request req = request_with(NULL);
  pc_error err = PC_ERROR_INIT;
  pcfake_got g;

  req.flags = PC_LM_STREAM;
  pcfake_reset();
  pcfake_answer(0, 200, NULL, streamed_response, 7);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL_FATAL(complete(inst, &req, &g, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_url(0),
                   "http://127.0.0.1:8080/v1/chat/completions");
  PC_ASSERT_STR_EQ(pcfake_headers(0),
                   "Content-Type: application/json\n");
  PC_ASSERT_STR_EQ(pcfake_secret(0), "");
  CU_ASSERT_EQUAL(pcfake.seen[0].flags, PC_HTTP_STREAM);
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(0),
                                ",\"stream\":true,\"stream_options\":"
                                "{\"include_usage\":true}}"));
  PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), "Hello there");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), "Hello there");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), "Hi, \xc3\xa9!");
  CU_ASSERT_EQUAL(g.prompt_tokens, 12);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), fixture_meta);
  plugin.iface->destroy(inst);
  /* The "stream" setting does the same without the flag. */
  inst = instance("{\"model\": \"m\", \"stream\": true}");
  req.flags = 0;
  pcfake_reset();
  pcfake_answer(0, 200, NULL, streamed_response, 64);
  CU_ASSERT_EQUAL(complete(inst, &req, &g, &err), PC_OK);
  CU_ASSERT_EQUAL(pcfake.seen[0].flags, PC_HTTP_STREAM);
  CU_ASSERT_EQUAL(g.delta_calls, 4);
  pcfake_got_free(&g);
  plugin.iface->destroy(inst);
}

static void test_complete_maps_http_failures(void)
{
  void *inst = instance("{\"model\": \"m\", \"api_key\": "
                        "\"env:PC_TEST_KEY\"}");
  pc_lm_request req = request_with(NULL);
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_got_init(&g);
  pcfake_reset();
  pcfake_answer(0, 401, NULL, "{\"error\": {\"message\": \"Incorrect API "
                "key provided\", \"type\": \"invalid_request_error\", "
                "\"code\": \"invalid_api_key\"}}", 16);
  CU_ASSERT_EQUAL(complete(inst, &req, &g, &err), PC_E_AUTH);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 401: Incorrect API key "
                   "provided");
  CU_ASSERT_EQUAL(g.text_calls, 0);
  /* A streamed request's failure body is read whole. */
  memset(&err, 0, sizeof(err));
  req.flags = PC_LM_STREAM;
  pcfake_reset();
  pcfake_answer(0, 429, "Retry-After: 2\n", "{\"error\": {\"message\": "
                "\"Rate limit reached\"}}", 5);
  CU_ASSERT_EQUAL(complete(inst, &req, &g, &err), PC_E_RATE_LIMITED);
  CU_ASSERT_EQUAL(err.retry_after_ms, 2000);
  CU_ASSERT_EQUAL(err.http_status, 429);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 429: Rate limit reached");
  /* A stream cut before [DONE]. */
  memset(&err, 0, sizeof(err));
  pcfake_reset();
  pcfake_answer(0, 200, NULL, CHUNK_HEAD "[{\"index\":0,\"delta\":"
                "{\"content\":\"Hi\"}}]}\n", 9);
  CU_ASSERT_EQUAL(complete(inst, &req, &g, &err), PC_E_PROVIDER);
  PC_ASSERT_STR_EQ(err.message, "openai: stream ended early (no [DONE])");
  CU_ASSERT_EQUAL(g.text_calls, 0);
  pcfake_got_free(&g);
  plugin.iface->destroy(inst);
}

static void test_complete_stops_when_the_sink_refuses(void)
{
  void *inst = instance("{\"model\": \"m\"}");
  pc_lm_request req = request_with(NULL);
  pc_error err = PC_ERROR_INIT;
  pc_lm_sink s;
  pcfake_got g;

  req.flags = PC_LM_STREAM;
  pcfake_reset();
  pcfake_answer(0, 200, NULL, streamed_response, 11);
  pcfake_got_init(&g);
  g.refuse_delta = 1;
  s = pcfake_sink(&g);
  CU_ASSERT_EQUAL(plugin.iface->complete(inst, &req, &s, NULL, &err),
                  PC_E_CANCELLED);
  PC_ASSERT_STR_EQ(err.message, "openai: the sink refused the text");
  CU_ASSERT_NOT_EQUAL(pcfake.sink_rc, 0);   /* the transfer was stopped */
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.text_calls, 0);
  pcfake_got_free(&g);
  plugin.iface->destroy(inst);
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
  {"lm_openai", suite_init, suite_clean, NULL, NULL, lm_openai_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
