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
#include "lm_fake_http.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"
#include "../../plugins/lm-ollama/ollama_wire.h"

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
#define MODEL "llama3"

/* Create an instance from `config`, make one call and destroy it. */
static int run(const char *config, const char *params, uint32_t flags,
               const char *rollout, pcfake_got *g, pc_error *err)
{
  return pcfake_run(&plugin, config, MODEL, params, flags, rollout, g, err);
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
  pc_lm_request req = pcfake_request(MODEL, params, 0, NULL);
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
  pc__lm_result r;
  pc_error err = PC_ERROR_INIT;

  pc__lm_result_init(&r, &wire_host);
  CU_ASSERT_EQUAL_FATAL(pc__ol_reply_parse(&wire_host, reply_body,
                                           strlen(reply_body), &r, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(r.text.data, REPLY_TEXT);
  CU_ASSERT_EQUAL(r.prompt_tokens, 26);
  CU_ASSERT_EQUAL(r.completion_tokens, 9);
  PC_ASSERT_STR_EQ(r.model, "llama3");
  PC_ASSERT_STR_EQ(r.finish, "stop");
  CU_ASSERT_EQUAL(r.done, 1);
  pc__lm_result_free(&r);
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
    pc__lm_result r;
    pc_error err = PC_ERROR_INIT;

    pc__lm_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(pc__ol_reply_parse(&wire_host, cases[i].body,
                                       strlen(cases[i].body), &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    pc__lm_result_free(&r);
  }
}

/* Feed a stream line by line through the shared line splitter, in pieces
 * of `chunk` bytes. */
static int feed_stream(const char *body, size_t chunk, pc__lm_result *r,
                       pc_error *err)
{
  pc__ol_stream st;
  int rc;

  pc__ol_stream_init(&st, &wire_host, r, NULL, NULL, err);
  rc = pcfake_feed(&wire_host, body, chunk, pc__ol_stream_line, &st);
  return rc ? rc : pc__ol_stream_end(&st);
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
    CU_ASSERT_EQUAL(r.prompt_tokens, 26);
    CU_ASSERT_EQUAL(r.completion_tokens, 9);
    PC_ASSERT_STR_EQ(r.model, "llama3");
    PC_ASSERT_STR_EQ(r.finish, "stop");
    pc__lm_result_free(&r);
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
    pc__lm_result r;
    pc_error err = PC_ERROR_INIT;

    pc__lm_result_init(&r, &wire_host);
    CU_ASSERT_EQUAL(feed_stream(cases[i].body, 4, &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    pc__lm_result_free(&r);
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
  PC_ASSERT_STR_EQ(plugin.info->id, "org.promptc.lm.ollama");
  PC_ASSERT_STR_EQ(plugin.info->name, "ollama");
  PC_ASSERT_STR_EQ(plugin.info->version, "1.0.0");
  PC_ASSERT_STR_EQ(plugin.info->license, "MIT");
  CU_ASSERT_EQUAL(plugin.info->flags & PC_PLUGIN_THREADSAFE_INSTANCES,
                  PC_PLUGIN_THREADSAFE_INSTANCES);
  PC_ASSERT_STR_EQ(plugin.iface->name, "ollama");
}

static void test_create_reads_the_digest_into_the_identity(void)
{
  const char *config = "{\"model\": \"llama3\", \"base_url\": "
                       "\"http://10.0.0.5:11434/\", \"api_key\": "
                       "\"env:OLLAMA_KEY\"}";
  pc_buf b;
  pc_text_sink sink = pcfake_text_sink(&b);
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL_FATAL(pcfake_create(&plugin, config, &inst, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_method(0), "GET");
  PC_ASSERT_STR_EQ(pcfake_url(0), "http://10.0.0.5:11434/api/tags");
  CU_ASSERT(pcfake_sent(0, "Authorization: Bearer env:OLLAMA_KEY"));
  PC_ASSERT_STR_EQ(pcfake_secret(0), "Authorization");
  CU_ASSERT_EQUAL(plugin.iface->identity(inst, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(pcfake_str(&b), "llama3@365c0bd3c000");
  plugin.iface->destroy(inst);
  pc_buf_free(&b);
}

static void test_create_names_a_model_the_server_lacks(void)
{
  const char *config = "{\"model\": \"mistral\"}";
  pc_error err = PC_ERROR_INIT;
  void *inst = (void *)&inst;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  CU_ASSERT_EQUAL(pcfake_create(&plugin, config, &inst, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  PC_ASSERT_STR_EQ(err.message, "ollama: model \"mistral\" is not available "
                   "on " URL " (have: qwen2:7b, llama3:latest, phi3:mini)");
}

static void test_create_against_no_server_says_how_to_start_one(void)
{
  pc_error err = PC_ERROR_INIT;
  void *inst = (void *)&inst;

  pcfake_reset();
  pcfake_fail(0, PC_E_IO);
  CU_ASSERT_EQUAL(pcfake_create(&plugin, CONFIG, &inst, &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(inst);
  PC_ASSERT_STR_EQ(err.message, "ollama: GET " URL "/api/tags: connection "
                   "refused; is `ollama serve` running?");

  pcfake_reset();
  pcfake_answer(0, 401, NULL, "{\"error\": \"unauthorized\"}", 0);
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(pcfake_create(&plugin, CONFIG, &inst, &err), PC_E_AUTH);
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

    pcfake_reset();
    pcfake_answer(0, 200, NULL, tags_body, 0);
    CU_ASSERT_EQUAL(pcfake_create(&plugin, cases[i].config, &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
    CU_ASSERT_PTR_NULL(strstr(err.message, "SECRET"));
    CU_ASSERT_EQUAL(pcfake.n_seen, 0);  /* nothing asked of the server */
  }
}

static void test_call_posts_chat_and_records_model_and_digest(void)
{
  const char *config = "{\"model\": \"llama3\", \"keep_alive\": \"10m\"}";
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, "x-request-id: q-1\n", reply_body, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(config, "{\"temperature\": 0.5, \"max_tokens\": 8}",
                      0, "r7", &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 2);
  PC_ASSERT_STR_EQ(pcfake_method(1), "POST");
  PC_ASSERT_STR_EQ(pcfake_url(1), URL "/api/chat");
  CU_ASSERT(pcfake_sent(1, "Content-Type: application/json"));
  CU_ASSERT(pcfake_sent(1, "X-Promptc-Rollout: r7"));
  CU_ASSERT_PTR_NULL(strstr(pcfake_headers(1), "Authorization"));
  CU_ASSERT_PTR_NULL(strstr(pcfake_headers(1), "Choice"));
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(1),
                                "\"stream\":false,\"options\":{"
                                "\"temperature\":0.5,\"num_predict\":8},"
                                "\"keep_alive\":\"10m\"}"));
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), REPLY_TEXT);
  CU_ASSERT_EQUAL(g.delta_calls, 0);
  CU_ASSERT_EQUAL(g.usage_calls, 1);
  CU_ASSERT_EQUAL(g.prompt_tokens, 26);
  CU_ASSERT_EQUAL(g.completion_tokens, 9);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), "model=llama3\ndigest=" DIGEST
                   "\nrequest_id=q-1\nfinish_reason=stop\n");
  pcfake_got_free(&g);
}

static void test_n_choices_are_n_requests_told_apart_by_header(void)
{
  static const char r1[] =
    "{\"model\":\"llama3\",\"message\":{\"content\":\"two\"},"
    "\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":4,"
    "\"eval_count\":2}";
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, reply_body, 0);
  pcfake_answer(2, 200, NULL, r1, 0);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 3}", 0, NULL, &g, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 4);
  CU_ASSERT_PTR_NULL(strstr(pcfake_headers(1), "Choice"));
  CU_ASSERT(pcfake_sent(2, "X-Promptc-Choice: 1"));
  CU_ASSERT(pcfake_sent(3, "X-Promptc-Choice: 2"));
  PC_ASSERT_STR_EQ(pcfake_body(3), pcfake_body(1));
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), REPLY_TEXT);
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[1]), "two");
  PC_ASSERT_STR_EQ(pcfake_str(&g.text[2]), "two");
  CU_ASSERT_EQUAL(g.prompt_tokens, 26 + 4 + 4);
  CU_ASSERT_EQUAL(g.completion_tokens, 9 + 2 + 2);
  PC_ASSERT_STR_EQ(pcfake_str(&g.meta), REPLY_META);
  pcfake_got_free(&g);
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
      pcfake_got g;
      pc_error err = PC_ERROR_INIT;

      if (k && cases[i].status == 200)
        continue;
      pcfake_reset();
      pcfake_answer(0, 200, NULL, tags_body, 0);
      pcfake_answer(1, cases[i].status, cases[i].headers, cases[i].body, 3);
      pcfake_got_init(&g);
      CU_ASSERT_EQUAL(run(CONFIG, NULL, k ? PC_LM_STREAM : 0, NULL, &g,
                          &err), cases[i].code);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].words));
      CU_ASSERT_EQUAL(strncmp(err.message, "ollama: ", 8), 0);
      if (cases[i].status == 429)
        CU_ASSERT_EQUAL(err.retry_after_ms, 2000);
      CU_ASSERT_EQUAL(g.text_calls, 0);
      pcfake_got_free(&g);
    }
}

static void test_streamed_call_equals_the_whole_one(void)
{
  static const size_t chunks[] = {1, 3, 17, 4096};
  pcfake_got whole;
  pc_error err = PC_ERROR_INIT;
  size_t i;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, reply_body, 0);
  pcfake_got_init(&whole);
  CU_ASSERT_EQUAL_FATAL(run(CONFIG, NULL, 0, NULL, &whole, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(1), "\"stream\":false"));
  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pcfake_got g;

    pcfake_reset();
    pcfake_answer(0, 200, NULL, tags_body, 0);
    pcfake_answer(1, 200, NULL, stream_body, chunks[i]);
    pcfake_got_init(&g);
    CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err), PC_OK);
    CU_ASSERT_EQUAL(pcfake.seen[1].flags & PC_HTTP_STREAM, PC_HTTP_STREAM);
    CU_ASSERT_PTR_NOT_NULL(strstr(pcfake_body(1),
                                  "\"stream\":true"));
    PC_ASSERT_STR_EQ(pcfake_str(&g.text[0]), pcfake_str(&whole.text[0]));
    PC_ASSERT_STR_EQ(pcfake_str(&g.deltas[0]), pcfake_str(&whole.text[0]));
    CU_ASSERT_EQUAL(g.delta_calls, 3);
    CU_ASSERT_EQUAL(g.prompt_tokens, whole.prompt_tokens);
    CU_ASSERT_EQUAL(g.completion_tokens, whole.completion_tokens);
    PC_ASSERT_STR_EQ(pcfake_str(&g.meta), pcfake_str(&whole.meta));
    pcfake_got_free(&g);
  }
  pcfake_got_free(&whole);
}

static void test_stream_cut_short_over_http_is_provider_error(void)
{
  const char *cut = strstr(stream_body, "{\"model\":\"llama3\",\"created_at\""
                           ":\"t\",\"message\":{\"role\":\"assistant\","
                           "\"content\":\"\"}");
  char *body = pc_strndup(stream_body, (size_t)(cut - stream_body));
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, body, 11);
  pcfake_got_init(&g);
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_PROVIDER);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"done\": true"));
  CU_ASSERT_EQUAL(g.text_calls, 0);
  pcfake_got_free(&g);
  pc_free(body);
}

static void test_sink_refusal_stops_the_call(void)
{
  pcfake_got g;
  pc_error err = PC_ERROR_INIT;

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, stream_body, 1);
  pcfake_got_init(&g);
  g.refuse_delta = -1;  /* not a PC_E_* code */
  CU_ASSERT_EQUAL(run(CONFIG, NULL, PC_LM_STREAM, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "refused"));
  CU_ASSERT_EQUAL(g.delta_calls, 1);
  CU_ASSERT_EQUAL(g.text_calls, 0);
  CU_ASSERT(pcfake.data_calls < (int)strlen(stream_body));
  pcfake_got_free(&g);

  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, reply_body, 0);
  pcfake_got_init(&g);
  g.refuse_text = PC_E_CANCELLED;
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(run(CONFIG, "{\"n\": 2}", 0, NULL, &g, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_EQUAL(pcfake.n_seen, 2);  /* tags, then one chat request */
  pcfake_got_free(&g);
}

/* Every allocation failing in turn: a clean error, never a crash or a
 * leak (valgrind checks the leaks). */
static void test_out_of_memory_anywhere_is_an_error(void)
{
  pcfake_reset();
  pcfake_answer(0, 200, NULL, tags_body, 0);
  pcfake_answer(1, 200, NULL, stream_body, 7);
  pcfake_oom(&plugin, CONFIG, MODEL, "{\"temperature\": 0, \"stop\": \"x\"}",
             PC_LM_STREAM, "r");
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
