/*
 * tests/unit/test_adapter_chat.c: plugins/adapter-chat through the host
 * (loader, core/adapter.c); suite "adapter_chat". The golden files under
 * tests/golden/chat/ were worked out by hand from DSPy 3.3.1's ChatAdapter.
 */
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "../golden/golden.h"
#include "loader.h"

static pc_registry *reg;
static pc_adapter *chat;

static int suite_init(void)
{
  return golden_adapter_open("chat", &reg, &chat);
}

static int suite_clean(void)
{
  golden_adapter_close(reg, chat);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Golden files.                                                            */

static void test_format_goldens_match_dspy(void)
{
  size_t passed, n = golden_run_dir(chat, "golden/chat/format",
                                    golden_format_case, &passed);

  CU_ASSERT(n >= 20);
  CU_ASSERT_EQUAL(passed, n);
}

static void test_parse_goldens_match_dspy(void)
{
  size_t passed, n = golden_run_dir(chat, "golden/chat/parse",
                                    golden_parse_case, &passed);

  CU_ASSERT(n >= 20);
  CU_ASSERT_EQUAL(passed, n);
}

/* ------------------------------------------------------------------------ */
/* Descriptor and interface.                                                */

static void test_descriptor_is_threadsafe_adapter(void)
{
  pc_plugin *p = pc_registry_find(reg, "org.promptc.adapter.chat");

  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  PC_ASSERT_STR_EQ(p->info->name, "chat");
  PC_ASSERT_STR_EQ(p->info->version, "1.0.0");
  PC_ASSERT_STR_EQ(p->info->license, "MIT");
  CU_ASSERT_PTR_NOT_NULL(p->info->summary);
  CU_ASSERT_EQUAL(p->info->kinds, PC_KIND_ADAPTER);
  CU_ASSERT(p->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
}

static void test_falls_back_to_json(void)
{
  PC_ASSERT_STR_EQ(chat->iface->name, "chat");
  CU_ASSERT_PTR_NOT_NULL_FATAL(chat->iface->fallback);
  PC_ASSERT_STR_EQ(chat->iface->fallback, "json");
}

static void test_create_refuses_unknown_setting(void)
{
  pc_adapter *a = (pc_adapter *)&a;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_adapter_open(reg, "chat", "{\"strict\": true}", &a,
                                  &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(a);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown setting \"strict\""));
}

/* ------------------------------------------------------------------------ */
/* Direct calls through the interface, for what the host API cannot say.    */

typedef struct collect {
  int calls;
  int refuse;         /* return this from the first message */
  pc_buf text;        /* messages, each as "role\x1f" content "\x1e" */
} collect;

static int collect_message(void *ctx, const char *role, const char *content,
                           size_t len)
{
  collect *c = ctx;

  c->calls++;
  if (c->refuse)
    return c->refuse;
  pc_buf_puts(&c->text, role);
  pc_buf_putc(&c->text, 0x1f);
  pc_buf_append(&c->text, content, len);
  pc_buf_putc(&c->text, 0x1e);
  return PC_OK;
}

static int collect_write(void *ctx, const char *text, size_t len)
{
  collect *c = ctx;

  c->calls++;
  return pc_buf_append(&c->text, text, len);
}

/* Format with raw JSON texts; the messages land in c->text. */
static int raw_format(const char *sig, const char *demos, const char *inputs,
                      collect *c, pc_error *err)
{
  pc_adapter_format_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_format_request),
    .signature_json = sig, .signature_len = strlen(sig),
    .demos_json = demos, .demos_len = strlen(demos),
    .inputs_json = inputs, .inputs_len = strlen(inputs),
  };
  pc_message_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_message_sink),
    .ctx = c, .message = collect_message, .params = NULL,
  };

  return chat->iface->format(chat->inst, &req, &sink, err);
}

/* The plugin JSON of a string signature, owned (pc_free). */
static char *plugin_json(const char *text)
{
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_buf b;

  pc_buf_init(&b, 0);
  if (pc_signature_parse(text, &sig, &err) == PC_OK)
    pc_signature_to_plugin_json(sig, &b);
  pc_signature_free(sig);
  return pc_buf_take(&b, NULL);
}

static void test_bad_signature_json_names_the_member(void)
{
  static const struct {
    const char *sig;
    const char *says;
  } cases[] = {
    {"{\"inputs\": [", "signature JSON"},
    {"[]", "signature JSON: not an object"},
    {"{\"outputs\": 5}", "\"outputs\" is not an array"},
    {"{\"outputs\": [{\"type\": \"str\", \"type_name\": \"str\", "
     "\"kind\": \"str\"}]}", "outputs[0]: missing \"name\""},
    {"{\"outputs\": [{\"name\": \"a\", \"type\": \"str\", "
     "\"type_name\": \"str\", \"kind\": \"str\"}, {\"name\": \"b\", "
     "\"type\": \"int\", \"type_name\": \"int\"}]}",
     "outputs[1]: missing \"kind\""},
    {"{\"outputs\": [{\"name\": \"a\", \"type\": \"list[str]\", "
     "\"type_name\": \"list[str]\", \"kind\": \"list\"}]}",
     "outputs[0]: missing \"schema\""},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    collect c = {0};
    pc_error err = PC_ERROR_INIT;

    pc_buf_init(&c.text, 0);
    CU_ASSERT_EQUAL(raw_format(cases[i].sig, "[]", "{}", &c, &err),
                    PC_E_INVALID_ARG);
    if (!strstr(err.message, cases[i].says))
      fprintf(stderr, "\ncase %zu: \"%s\"\n", i, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].says));
    CU_ASSERT_EQUAL(c.calls, 0);     /* nothing emitted */
    pc_buf_free(&c.text);
  }
}

static void test_bad_demos_or_inputs_json_is_an_error(void)
{
  char *sig = plugin_json("question -> answer");
  static const struct {
    const char *demos, *inputs, *says;
  } cases[] = {
    {"{}", "{}", "demos JSON: not a JSON array"},
    {"[{\"question\": \"q\", \"answer\": \"a\"}, 3]", "{}",
     "demos JSON: demo 2 is not an object"},
    {"[", "{}", "demos JSON"},
    {"[]", "[1]", "inputs JSON: not a JSON object"},
  };

  CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    collect c = {0};
    pc_error err = PC_ERROR_INIT;

    pc_buf_init(&c.text, 0);
    CU_ASSERT_EQUAL(raw_format(sig, cases[i].demos, cases[i].inputs, &c,
                               &err), PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].says));
    CU_ASSERT_EQUAL(c.calls, 0);
    pc_buf_free(&c.text);
  }
  pc_free(sig);
}

static void test_refusing_sink_stops_format_with_its_code(void)
{
  char *sig = plugin_json("question -> answer");
  collect c = {0};
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
  pc_buf_init(&c.text, 0);
  c.refuse = PC_E_NOMEM;
  CU_ASSERT_EQUAL(raw_format(sig, "[{\"question\": \"q\", \"answer\": "
                             "\"a\"}]", "{\"question\": \"x\"}", &c, &err),
                  PC_E_NOMEM);
  CU_ASSERT_EQUAL(c.calls, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "system"));
  pc_buf_free(&c.text);
  pc_free(sig);
}

static void test_parse_uses_the_given_length(void)
{
  char *sig = plugin_json("question -> answer");
  /* The bytes after completion_len must not be read. */
  static const char text[] = "[[ ## answer ## ]]\nParis\n[[ ## answer ## ]]";
  pc_adapter_parse_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_parse_request),
    .completion = text, .completion_len = 25,
  };
  collect c = {0};
  pc_text_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_text_sink),
    .ctx = &c, .write = collect_write,
  };
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
  req.signature_json = sig;
  req.signature_len = strlen(sig);
  pc_buf_init(&c.text, 0);
  CU_ASSERT_EQUAL(chat->iface->parse(chat->inst, &req, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(c.text.data, "{\"answer\":\"Paris\"}");
  pc_buf_reset(&c.text);
  req.completion_len = 21;     /* cut inside "Paris" */
  CU_ASSERT_EQUAL(chat->iface->parse(chat->inst, &req, &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(c.text.data, "{\"answer\":\"Pa\"}");
  pc_buf_free(&c.text);
  pc_free(sig);
}

/* ------------------------------------------------------------------------ */
/* Out of memory.                                                           */

/* Fail allocation n = 1, 2, ... until a call succeeds: every failure must
 * be PC_E_NOMEM with nothing handed back (valgrind checks for leaks). */
static void test_out_of_memory_is_reported_at_every_step(void)
{
  struct json_object *demos = json_tokener_parse(
    "[{\"question\": \"q1\", \"answer\": 3, \"tags\": [\"a\"]}, "
    "{\"question\": \"q2\", \"tags\": [\"b\"]}]");
  struct json_object *inputs = json_tokener_parse(
    "{\"question\": [\"x\", \"y\"]}");
  static const char completion[] =
    "[[ ## answer ## ]]\n3\n[[ ## tags ## ]]\n[\"t\"]\n";
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  unsigned long n;
  int rc = PC_E_NOMEM, format_ok = 0, parse_ok = 0;

  CU_ASSERT_EQUAL_FATAL(pc_signature_parse("question -> answer: int, "
                                           "tags: list[str]", &sig, &err),
                        PC_OK);
  for (n = 1; n < 5000 && !format_ok; n++) {
    pc_messages m;
    pc_error e = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_adapter_format(chat, sig, demos, inputs, &m, &e);
    pc__alloc_fail_at(0);
    if (rc != PC_OK && rc != PC_E_NOMEM)
      fprintf(stderr, "\nformat, allocation %lu: %d %s\n", n, rc,
              e.message);
    CU_ASSERT(rc == PC_OK || rc == PC_E_NOMEM);
    if (rc == PC_OK) {
      format_ok = 1;
      CU_ASSERT_EQUAL(m.n, 6);
    } else {
      CU_ASSERT_EQUAL(m.n, 0);
    }
    pc_messages_clear(&m);
  }
  CU_ASSERT(format_ok);
  CU_ASSERT(n > 10);              /* the failures did reach the adapter */
  for (n = 1; n < 5000 && !parse_ok; n++) {
    struct json_object *out = NULL;
    pc_error e = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_adapter_parse(chat, sig, completion, sizeof(completion) - 1,
                          &out, &e);
    pc__alloc_fail_at(0);
    if (rc != PC_OK && rc != PC_E_NOMEM)
      fprintf(stderr, "\nparse, allocation %lu: %d %s\n", n, rc,
              e.message);
    CU_ASSERT(rc == PC_OK || rc == PC_E_NOMEM);
    parse_ok = rc == PC_OK;
    CU_ASSERT(parse_ok ? out != NULL : out == NULL);
    json_object_put(out);
  }
  CU_ASSERT(parse_ok);
  pc_signature_free(sig);
  json_object_put(demos);
  json_object_put(inputs);
}

/* ------------------------------------------------------------------------ */
/* One instance from several threads.                                       */

#define N_THREADS 4
#define N_ROUNDS 25

typedef struct round_trip {
  const char *sig, *demos, *inputs, *completion;
  const char *want_format, *want_parse;  /* from a single-threaded run */
  int failures;
} round_trip;

static void *hammer(void *arg)
{
  round_trip *rt = arg;

  for (int i = 0; i < N_ROUNDS; i++) {
    collect c = {0}, p = {0};
    pc_error err = PC_ERROR_INIT;
    pc_adapter_parse_request req = {
      .hdr = PC_ABI_HEADER_INIT(pc_adapter_parse_request),
      .signature_json = rt->sig, .signature_len = strlen(rt->sig),
      .completion = rt->completion,
      .completion_len = strlen(rt->completion),
    };
    pc_text_sink sink = {
      .hdr = PC_ABI_HEADER_INIT(pc_text_sink),
      .ctx = &p, .write = collect_write,
    };

    pc_buf_init(&c.text, 0);
    pc_buf_init(&p.text, 0);
    if (raw_format(rt->sig, rt->demos, rt->inputs, &c, &err) != PC_OK ||
        strcmp(c.text.data, rt->want_format))
      rt->failures++;
    if (chat->iface->parse(chat->inst, &req, &sink, &err) != PC_OK ||
        strcmp(p.text.data, rt->want_parse))
      rt->failures++;
    pc_buf_free(&c.text);
    pc_buf_free(&p.text);
  }
  return NULL;
}

static void test_one_instance_serves_threads_at_once(void)
{
  char *sig = plugin_json("question, context: list[str] -> reasoning, "
                          "answer: int, tags: list[str]");
  round_trip rt[N_THREADS];
  pthread_t tid[N_THREADS];
  collect c = {0}, p = {0};
  pc_error err = PC_ERROR_INIT;
  const char *demos = "[{\"question\": \"q1\", \"answer\": 1, \"tags\": "
                      "[\"a\"]}, {\"question\": \"q2\", \"context\": "
                      "[\"c\"], \"reasoning\": \"r\", \"answer\": 2, "
                      "\"tags\": []}]";
  const char *inputs = "{\"question\": \"q\", \"context\": [\"x\", \"y\"]}";
  const char *completion = "[[ ## reasoning ## ]]\nr\n[[ ## answer ## ]]\n"
                           "7\n[[ ## tags ## ]]\n['t']\n";
  pc_adapter_parse_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_parse_request),
    .completion = completion, .completion_len = strlen(completion),
  };
  pc_text_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_text_sink),
    .ctx = &p, .write = collect_write,
  };

  CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
  req.signature_json = sig;
  req.signature_len = strlen(sig);
  pc_buf_init(&c.text, 0);
  pc_buf_init(&p.text, 0);
  CU_ASSERT_EQUAL_FATAL(raw_format(sig, demos, inputs, &c, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(chat->iface->parse(chat->inst, &req, &sink, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(p.text.data,
                   "{\"reasoning\":\"r\",\"answer\":7,\"tags\":[\"t\"]}");
  for (int t = 0; t < N_THREADS; t++) {
    rt[t] = (round_trip){sig, demos, inputs, completion, c.text.data,
                         p.text.data, 0};
    CU_ASSERT_EQUAL(pthread_create(&tid[t], NULL, hammer, &rt[t]), 0);
  }
  for (int t = 0; t < N_THREADS; t++) {
    pthread_join(tid[t], NULL);
    CU_ASSERT_EQUAL(rt[t].failures, 0);
  }
  pc_buf_free(&c.text);
  pc_buf_free(&p.text);
  pc_free(sig);
}

static CU_TestInfo adapter_chat_tests[] = {
  {"format: golden files match DSPy's messages byte for byte",
   test_format_goldens_match_dspy},
  {"parse: golden files give DSPy's values and errors",
   test_parse_goldens_match_dspy},
  {"descriptor: a thread-safe adapter with id, version and license",
   test_descriptor_is_threadsafe_adapter},
  {"interface: a parse failure falls back to json",
   test_falls_back_to_json},
  {"create: an unknown setting is refused",
   test_create_refuses_unknown_setting},
  {"format: bad signature JSON is an error naming the member",
   test_bad_signature_json_names_the_member},
  {"format: bad demos or inputs JSON is an error",
   test_bad_demos_or_inputs_json_is_an_error},
  {"format: a refusing sink stops the call with its code",
   test_refusing_sink_stops_format_with_its_code},
  {"parse: reads only completion_len bytes", test_parse_uses_the_given_length},
  {"oom: every allocation failure is PC_E_NOMEM, never a crash or leak",
   test_out_of_memory_is_reported_at_every_step},
  {"threads: one instance formats and parses from 4 threads at once",
   test_one_instance_serves_threads_at_once},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"adapter_chat", suite_init, suite_clean, NULL, NULL, adapter_chat_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
