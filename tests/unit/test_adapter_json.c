/*
 * tests/unit/test_adapter_json.c: plugins/adapter-json through the host
 * (loader, core/adapter.c); suite "adapter_json". The golden files under
 * tests/golden/json/ were worked out by hand from DSPy 3.3.1's JSONAdapter.
 */
#include <string.h>

#include "harness.h"
#include "../golden/golden.h"
#include "loader.h"

static pc_registry *reg;
static pc_adapter *json;

static int suite_init(void)
{
  return golden_adapter_open("json", &reg, &json);
}

static int suite_clean(void)
{
  golden_adapter_close(reg, json);
  return 0;
}

static void test_format_goldens_match_dspy(void)
{
  size_t passed, n = golden_run_dir(json, "golden/json/format",
                                    golden_format_case, &passed);

  CU_ASSERT(n >= 4);
  CU_ASSERT_EQUAL(passed, n);
}

static void test_parse_goldens_match_dspy(void)
{
  size_t passed, n = golden_run_dir(json, "golden/json/parse",
                                    golden_parse_case, &passed);

  CU_ASSERT(n >= 10);
  CU_ASSERT_EQUAL(passed, n);
}

static void test_descriptor_is_threadsafe_adapter(void)
{
  pc_plugin *p = pc_registry_find(reg, "org.promptc.adapter.json");

  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  PC_ASSERT_STR_EQ(p->info->name, "json");
  PC_ASSERT_STR_EQ(p->info->version, "1.0.0");
  PC_ASSERT_STR_EQ(p->info->license, "MIT");
  CU_ASSERT_PTR_NOT_NULL(p->info->summary);
  CU_ASSERT_EQUAL(p->info->kinds, PC_KIND_ADAPTER);
  CU_ASSERT(p->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
}

static void test_has_no_fallback(void)
{
  PC_ASSERT_STR_EQ(json->iface->name, "json");
  CU_ASSERT_PTR_NULL(json->iface->fallback);
}

static void test_create_refuses_a_non_object_config(void)
{
  pc_adapter *a = (pc_adapter *)&a;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_adapter_open(reg, "json", "[1]", &a, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(a);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "expected a JSON object"));
}

static int count_message(void *ctx, const char *role, const char *content,
                         size_t len)
{
  (void)role;
  (void)content;
  (void)len;
  ++*(int *)ctx;
  return PC_OK;
}

static int params_calls;

static int count_params(void *ctx, const char *text, size_t len)
{
  (void)ctx;
  (void)text;
  (void)len;
  params_calls++;
  return PC_OK;
}

/* A sink without the params member (an older host) must still work: the
 * adapter checks the struct size before using it. */
static void test_short_sink_gets_no_params(void)
{
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_buf b;
  int n = 0;
  pc_message_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_message_sink),
    .ctx = &n, .message = count_message,
    .params = count_params,       /* beyond struct_size: must not run */
  };
  pc_adapter_format_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_format_request),
    .demos_json = "[]", .demos_len = 2,
    .inputs_json = "{\"q\": \"x\"}", .inputs_len = 10,
  };

  sink.hdr.struct_size = (uint32_t)offsetof(pc_message_sink, params);
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL_FATAL(pc_signature_parse("q -> a: int", &sig, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_signature_to_plugin_json(sig, &b), PC_OK);
  req.signature_json = b.data;
  req.signature_len = b.len;
  CU_ASSERT_EQUAL(json->iface->format(json->inst, &req, &sink, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(n, 2);        /* system and user */
  CU_ASSERT_EQUAL(params_calls, 0);
  sink.hdr.struct_size = (uint32_t)sizeof(sink);
  CU_ASSERT_EQUAL(json->iface->format(json->inst, &req, &sink, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(params_calls, 1);
  pc_buf_free(&b);
  pc_signature_free(sig);
}

static void test_bad_signature_json_is_an_error(void)
{
  pc_error err = PC_ERROR_INIT;
  int n = 0;
  pc_message_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_message_sink),
    .ctx = &n, .message = count_message,
  };
  static const char sig[] = "{\"outputs\": [{\"name\": \"a\", \"type\": "
                            "\"Literal['x']\", \"type_name\": "
                            "\"Literal['x']\", \"kind\": \"literal\"}]}";
  pc_adapter_format_request req = {
    .hdr = PC_ABI_HEADER_INIT(pc_adapter_format_request),
    .signature_json = sig, .signature_len = sizeof(sig) - 1,
    .demos_json = "[]", .demos_len = 2,
    .inputs_json = "{}", .inputs_len = 2,
  };

  CU_ASSERT_EQUAL(json->iface->format(json->inst, &req, &sink, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "outputs[0]: missing "
                                "\"values\""));
  CU_ASSERT_EQUAL(n, 0);
}

/* Fail allocation n = 1, 2, ... until a call succeeds: every failure must
 * be PC_E_NOMEM with nothing handed back (valgrind checks for leaks). */
static void test_out_of_memory_is_reported_at_every_step(void)
{
  struct json_object *demos = json_tokener_parse(
    "[{\"q\": \"q1\", \"a\": 3, \"t\": [\"x\"]}, {\"q\": \"q2\", "
    "\"t\": []}]");
  struct json_object *inputs = json_tokener_parse("{\"q\": \"z\"}");
  static const char completion[] = "Sure: {\"t\": [\"u\"], \"a\": \"4\"}";
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  unsigned long n;
  int rc, format_ok = 0, parse_ok = 0;

  CU_ASSERT_EQUAL_FATAL(pc_signature_parse("q -> a: int, t: list[str]", &sig,
                                           &err), PC_OK);
  for (n = 1; n < 5000 && !format_ok; n++) {
    pc_messages m;
    pc_error e = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_adapter_format(json, sig, demos, inputs, &m, &e);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || rc == PC_E_NOMEM);
    format_ok = rc == PC_OK;
    CU_ASSERT_EQUAL(m.n, format_ok ? 6 : 0);
    pc_messages_clear(&m);
  }
  CU_ASSERT(format_ok);
  CU_ASSERT(n > 10);              /* the failures did reach the adapter */
  for (n = 1; n < 5000 && !parse_ok; n++) {
    struct json_object *out = NULL;
    pc_error e = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_adapter_parse(json, sig, completion, sizeof(completion) - 1,
                          &out, &e);
    pc__alloc_fail_at(0);
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

static CU_TestInfo adapter_json_tests[] = {
  {"format: golden files match DSPy's messages byte for byte",
   test_format_goldens_match_dspy},
  {"parse: golden files give DSPy's values and errors",
   test_parse_goldens_match_dspy},
  {"descriptor: a thread-safe adapter with id, version and license",
   test_descriptor_is_threadsafe_adapter},
  {"interface: json has no fallback", test_has_no_fallback},
  {"create: a config that is not an object is refused",
   test_create_refuses_a_non_object_config},
  {"format: a sink too short for params gets none",
   test_short_sink_gets_no_params},
  {"oom: every allocation failure is PC_E_NOMEM, never a crash or leak",
   test_out_of_memory_is_reported_at_every_step},
  {"format: a literal without values is bad signature JSON",
   test_bad_signature_json_is_an_error},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"adapter_json", suite_init, suite_clean, NULL, NULL, adapter_json_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
