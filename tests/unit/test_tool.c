/* tests/unit/test_tool.c: core/tool.c and core/tool_calculator.c; suite
 * "tool". */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "config.h"
#include "harness.h"
#include "host.h"
#include "loader.h"
#include "program.h"
#include "runtime.h"
#include "tool.h"

int pc__calculator_eval(const char *text, char *out, size_t cap,
                        pc_error *err);

static pc_plugin *fx;

/* The fixture tool plugin's folder, or with `all` also the folder of the
 * other fixtures (fx_lm), colon-separated. */
static const char *fixture_dir(int all)
{
  static char path[8300];
  const char *b = getenv("PC_TEST_BUILDDIR");

  b = (b && *b) ? b : ".";
  if (all)
    snprintf(path, sizeof(path), "%s/tests/plugins/tools/.libs:"
             "%s/tests/plugins/.libs", b, b);
  else
    snprintf(path, sizeof(path), "%s/tests/plugins/tools/.libs", b);
  return path;
}

static int setup(void)
{
  char path[8400];
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s/fx_tool.so", fixture_dir(0));
  if (pc_plugin_open(path, &fx, &err)) {
    fprintf(stderr, "tool setup: %s\n", err.message);
    return 1;
  }
  return 0;
}

static int teardown(void)
{
  pc_plugin_close(fx);
  return 0;
}

static uint64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

/* The fixture's table called `name`. */
static const pc_tool_iface *fx_table(const char *name)
{
  for (uint32_t i = 0;; i++) {
    const pc_tool_iface *t = pc_plugin_interface_at(
      fx, PC_IFACE_TOOL, i, sizeof(pc_tool_iface), NULL);

    if (!t)
      return NULL;
    if (!strcmp(t->name, name))
      return t;
  }
}

static pc_tool *open_fx(const char *name, const char *settings,
                        int64_t timeout_ms)
{
  struct json_object *s = settings ? json_tokener_parse(settings) : NULL;
  pc_tool *t = NULL;
  pc_error err = PC_ERROR_INIT;

  if (pc_tool_open(fx_table(name), fx->state, 0, name, s, timeout_ms, &t,
                   &err))
    fprintf(stderr, "open %s: %s\n", name, err.message);
  json_object_put(s);
  return t;
}

/* Call `t` with the JSON text `args`; the observation (owned) or NULL. */
static char *call_text(pc_tool *t, const pc_call *call, const char *args,
                       int *rc, pc_error *err)
{
  struct json_object *a = json_tokener_parse(args);
  char *obs = (char *)&obs;  /* a sentinel that must be reset */

  *rc = pc_tool_call(t, call, a, &obs, NULL, err);
  json_object_put(a);
  return obs;
}

/* ------------------------------------------------------------------------ */
/* Calculator.                                                              */

static void check_calc(const char *expr, const char *want)
{
  char out[64] = "";
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc__calculator_eval(expr, out, sizeof(out), &err), PC_OK);
  if (strcmp(out, want))
    fprintf(stderr, "calc %s: got '%s' (%s), want '%s'\n", expr, out,
            err.message, want);
  PC_ASSERT_STR_EQ(out, want);
}

static void check_calc_error(const char *expr, const char *needle)
{
  char out[64] = "";
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc__calculator_eval(expr, out, sizeof(out), &err),
                  PC_E_INVALID_ARG);
  if (!strstr(err.message, needle))
    fprintf(stderr, "calc %s: message '%s' lacks '%s'\n", expr,
            err.message, needle);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
}

static void test_calculator_prints_results_as_python(void)
{
  check_calc("2 + 3 * 4", "14");
  check_calc("1987 - 1852", "135");
  check_calc("(1 + 2) * 3", "9");
  check_calc("7 / 2", "3.5");
  check_calc("1 / 3", "0.3333333333333333");
  check_calc("2 / 1", "2.0");
  check_calc("0.1 + 0.2", "0.30000000000000004");
  check_calc("7 // 2", "3");
  check_calc("-7 // 2", "-4");
  check_calc("-7 % 3", "2");
  check_calc("7.5 % 2", "1.5");
  check_calc("2 ** 10", "1024");
  check_calc("2 ^ 3", "8");
  check_calc("2 ** -1", "0.5");
  check_calc("-2 ** 2", "-4");
  check_calc("2 ** 3 ** 2", "512");
  check_calc("--3", "3");
  check_calc("1e20 * 10", "1e+21");
  check_calc("1.5e-7 * 1", "1.5e-07");
  check_calc("12345678.0 * 1000", "12345678000.0");
  check_calc("sqrt(16)", "4.0");
  check_calc("abs(-5)", "5");
  check_calc("round(2.5)", "2");
  check_calc("round(3.5)", "4");
  check_calc("round(2.675, 1)", "2.7");
  check_calc("max(1, 7.5, 3)", "7.5");
  check_calc("min(4, 2, 9)", "2");
  check_calc("  ( 4 )  ", "4");
}

static void test_calculator_refuses_code_and_bad_arithmetic(void)
{
  char deep[400];
  char longexpr[1100];

  check_calc_error("1 / 0", "division by zero");
  check_calc_error("5 % 0", "modulo by zero");
  check_calc_error("1.0 // 0.0", "division by zero");
  check_calc_error("2 ** 100", "overflow");
  check_calc_error("9223372036854775807 + 1", "overflow");
  check_calc_error("1e308 * 10", "overflow");
  check_calc_error("99999999999999999999", "overflow");
  check_calc_error("__import__('os')", "unknown function '__import__'");
  check_calc_error("import os", "unknown name 'import'");
  check_calc_error("1 +", "unexpected end");
  check_calc_error("(1 + 2", "expected ')'");
  check_calc_error("1 2", "unexpected '2'");
  check_calc_error("sqrt(-1)", "math domain error");
  check_calc_error("\"a\" * 3", "unexpected '\"'");
  memset(deep, '(', 200);
  deep[200] = '1';
  memset(deep + 201, ')', 198);
  deep[399] = '\0';
  check_calc_error(deep, "too deeply nested");
  memset(longexpr, '1', sizeof(longexpr) - 1);
  longexpr[sizeof(longexpr) - 1] = '\0';
  check_calc_error(longexpr, "longer than 1000");
}

static void test_calculator_tool_checks_its_arguments(void)
{
  pc_tool *t = NULL;
  pc_error err = PC_ERROR_INIT;
  char *obs;
  int rc;

  CU_ASSERT_EQUAL_FATAL(pc_tool_open(&pc__tool_calculator, NULL, 1,
                                     "calculator", NULL, 0, &t, &err),
                        PC_OK);
  PC_ASSERT_STR_EQ(pc_tool_name(t), "calculator");
  CU_ASSERT_EQUAL(pc_tool_timeout_ms(t), PC_TOOL_TIMEOUT_DEFAULT);
  CU_ASSERT_TRUE(json_object_object_get_ex(pc_tool_args(t), "expression",
                                           NULL));
  obs = call_text(t, NULL, "{\"expression\": \"6 * 7\"}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(obs, "42");
  pc_free(obs);

  pc_error_clear(&err);
  obs = call_text(t, NULL, "{\"expr\": \"6 * 7\"}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(obs);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "missing required argument "
                                              "'expression'"));

  pc_error_clear(&err);
  obs = call_text(t, NULL, "[1]", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(obs);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "expected a JSON object"));

  pc_error_clear(&err);
  obs = call_text(t, NULL, "{\"expression\": \"1/0\"}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "tool 'calculator': division by zero");
  pc_tool_unref(t);
}

/* ------------------------------------------------------------------------ */
/* Plugin tools: failures, timeouts, serialisation.                         */

static void test_plugin_tool_echoes_and_fails_with_its_message(void)
{
  pc_tool *echo = open_fx("fx_echo", "{\"prefix\": \"> \"}", 0);
  pc_tool *bad = open_fx("fx_fail", NULL, 0);
  pc_error err = PC_ERROR_INIT;
  char *obs;
  int rc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(echo);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
  PC_ASSERT_STR_EQ(pc_tool_description(echo), "Echoes its text.");
  obs = call_text(echo, NULL, "{\"text\": \"hello\"}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(obs, "> hello");
  pc_free(obs);
  obs = call_text(bad, NULL, "{}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_PROVIDER);
  CU_ASSERT_PTR_NULL(obs);
  PC_ASSERT_STR_EQ(err.message, "tool 'fx_fail': planted failure");
  pc_tool_unref(echo);
  pc_tool_unref(bad);
}

static void test_failed_create_names_the_tool(void)
{
  struct json_object *s = json_tokener_parse("{\"bogus\": 1}");
  pc_tool *t = (pc_tool *)&t;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_tool_open(fx_table("fx_echo"), fx->state, 0, "wiki", s,
                               0, &t, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool 'wiki'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bogus"));
  json_object_put(s);
}

static void test_hanging_tool_is_cut_off_at_its_timeout(void)
{
  pc_tool *t = open_fx("fx_sleep", NULL, 100);
  pc_error err = PC_ERROR_INIT;
  uint64_t start;
  char *obs;
  int rc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  start = now_ms();
  obs = call_text(t, NULL, "{\"ms\": 600}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_TIMEOUT);
  CU_ASSERT_PTR_NULL(obs);
  CU_ASSERT_TRUE(now_ms() - start < 500);
  PC_ASSERT_STR_EQ(err.message, "tool 'fx_sleep': timed out after 100 ms");
  /* The worker still sleeps; dropping the tool now must keep the
   * instance alive until the worker returns (valgrind checks it). */
  pc_tool_unref(t);
  sleep_ms(800);
}

static void test_call_deadline_cuts_off_a_tool_earlier(void)
{
  pc_tool *t = open_fx("fx_sleep", NULL, 10000);
  pc_error err = PC_ERROR_INIT;
  struct pc_call call = {0, 0};
  uint64_t start;
  char *obs;
  int rc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  call.deadline_ns = pc_host_api_get()->now_ns(NULL) + 80000000u;
  start = now_ms();
  obs = call_text(t, &call, "{\"ms\": 400}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_TIMEOUT);
  CU_ASSERT_PTR_NULL(obs);
  CU_ASSERT_TRUE(now_ms() - start < 350);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "deadline"));
  /* A second call waits behind the abandoned one (the instance is not
   * thread-safe) and still finishes once it is free. */
  pc_error_clear(&err);
  obs = call_text(t, NULL, "{\"ms\": 10}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(obs, "slept");
  pc_free(obs);
  pc_tool_unref(t);
}

/* The number of threads of this process, or -1 without /proc. */
static int thread_count(void)
{
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;

  if (!d)
    return -1;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_calls_behind_a_stuck_one_give_up_at_their_deadline(void)
{
  pc_tool *t = open_fx("fx_sleep", NULL, 100);
  pc_error err = PC_ERROR_INIT;
  int base, rc;
  char *obs;

  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  base = thread_count();
  if (base < 0)
    return;  /* no /proc: nothing to count */
  /* The first call hangs (1.5 s) and keeps the instance busy. */
  obs = call_text(t, NULL, "{\"ms\": 1500}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_E_TIMEOUT);
  CU_ASSERT_PTR_NULL(obs);
  /* Three calls queue behind it; each times out after its 100 ms, and
   * its worker gives up waiting for the instance then too. */
  for (int i = 0; i < 3; i++) {
    pc_error_clear(&err);
    obs = call_text(t, NULL, "{\"ms\": 1}", &rc, &err);
    CU_ASSERT_EQUAL(rc, PC_E_TIMEOUT);
    CU_ASSERT_PTR_NULL(obs);
    PC_ASSERT_STR_EQ(err.message, "tool 'fx_sleep': timed out after "
                     "100 ms");
  }
  sleep_ms(300);
  /* Only the hanging call's worker is left, not one per queued call. */
  CU_ASSERT_TRUE(thread_count() <= base + 1);
  pc_tool_unref(t);
  sleep_ms(1500);  /* let the hanging call return, for valgrind */
}

typedef struct echo_job {
  pc_tool *t;
  int ok;
} echo_job;

static void *echo_thread(void *arg)
{
  echo_job *j = arg;

  for (int i = 0; i < 10; i++) {
    pc_error err = PC_ERROR_INIT;
    int rc;
    char *obs = call_text(j->t, NULL, "{\"text\": \"x\"}", &rc, &err);

    j->ok += rc == PC_OK && obs && !strcmp(obs, "x");
    pc_free(obs);
  }
  return NULL;
}

static void test_calls_on_one_instance_are_serialised(void)
{
  pc_tool *t = open_fx("fx_echo", NULL, 0);
  pthread_t th[4];
  echo_job jobs[4];

  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  for (int i = 0; i < 4; i++) {
    jobs[i].t = t;
    jobs[i].ok = 0;
    pthread_create(&th[i], NULL, echo_thread, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(jobs[i].ok, 10);  /* the fixture fails on overlap */
  }
  pc_tool_unref(t);
}

/* ------------------------------------------------------------------------ */
/* Tools of a runtime.                                                      */

typedef struct rt_fixture {
  pc_config *cfg;
  pc_registry *reg;
  pc_runtime *rt;
} rt_fixture;

static int rt_open(rt_fixture *f, const char *tools_json)
{
  char text[2048];
  const char *path;
  pc_runtime_opts o;
  pc_error err = PC_ERROR_INIT;

  memset(f, 0, sizeof(*f));
  snprintf(text, sizeof(text), "{\"lm\": {\"provider\": \"fx_lm\"}, "
           "\"tools\": %s}", tools_json);
  path = pc_test_tmpfile(text, strlen(text), ".json");
  if (pc_config_load(path, &f->cfg, &err) || !(f->reg = pc_registry_new()) ||
      pc_registry_load_default(f->reg, fixture_dir(1), &err))
    goto fail;
  memset(&o, 0, sizeof(o));
  o.cfg = f->cfg;
  o.reg = f->reg;
  o.threads = 2;
  o.no_cache = 1;
  if (pc_runtime_open(&o, &f->rt, &err))
    goto fail;
  return 0;
fail:
  fprintf(stderr, "runtime: %s\n", err.message);
  return -1;
}

static void rt_close(rt_fixture *f)
{
  pc_runtime_close(f->rt);
  pc_registry_free(f->reg);
  pc_config_free(f->cfg);
}

static void test_runtime_resolves_config_entries(void)
{
  rt_fixture f;
  pc_tool *a = NULL, *b = NULL, *c = NULL;
  pc_error err = PC_ERROR_INIT;
  char *obs;
  int rc;

  CU_ASSERT_EQUAL_FATAL(rt_open(&f, "{\"calc\": {\"type\": \"calculator\", "
                                "\"timeout_ms\": 2500}, \"shout\": "
                                "{\"type\": \"fx_echo\", \"prefix\": "
                                "\"! \"}}"), 0);
  CU_ASSERT_EQUAL(pc_runtime_tool(f.rt, "calc", &a, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_runtime_tool(f.rt, "calc", &b, &err), PC_OK);
  CU_ASSERT_PTR_EQUAL(a, b);  /* made once, kept */
  PC_ASSERT_STR_EQ(pc_tool_name(a), "calc");
  CU_ASSERT_EQUAL(pc_tool_timeout_ms(a), 2500);
  /* A built-in the config does not list still works by its name. */
  CU_ASSERT_EQUAL(pc_runtime_tool(f.rt, "calculator", &c, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_tool_timeout_ms(c), PC_TOOL_TIMEOUT_DEFAULT);
  CU_ASSERT_EQUAL(pc_runtime_tool(f.rt, "shout", &b, &err), PC_OK);
  obs = call_text(b, NULL, "{\"text\": \"hi\"}", &rc, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(obs, "! hi");
  pc_free(obs);
  rt_close(&f);
}

static void expect_config_error(const char *tools, const char *name,
                                int code, const char *needle)
{
  rt_fixture f;
  pc_tool *t = (pc_tool *)&t;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(rt_open(&f, tools), 0);
  CU_ASSERT_EQUAL(pc_runtime_tool(f.rt, name, &t, &err), code);
  CU_ASSERT_PTR_NULL(t);
  if (!strstr(err.message, needle))
    fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
  rt_close(&f);
}

static void test_runtime_reports_bad_entries_by_member(void)
{
  expect_config_error("{\"c\": {\"type\": \"calculator\", \"timeout_ms\": 0}}",
                      "c", PC_E_INVALID_ARG, "tools.c.timeout_ms: expected an integer from 1 "
                      "to 600000");
  /* A type nothing offers is a missing plugin, not a bad entry. */
  expect_config_error("{\"w\": {\"type\": \"nosuch\"}}", "w",
                      PC_E_UNSUPPORTED, "tools.w.type: no built-in tool or pc.tool/1 plugin "
                      "called 'nosuch'");
  expect_config_error("{\"w\": {\"type\": \"fx_echo\", \"bogus\": 1}}", "w",
                      PC_E_INVALID_ARG, "tools.w: tool 'w': unknown setting");
  expect_config_error("{}", "wiki", PC_E_INVALID_ARG,
                      "tool 'wiki': not in the config");
}

/* A program with one module `spec` called "m" (program.json form). */
static pc_program *one_module(const char *spec)
{
  char text[1024];
  struct json_object *root;
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  snprintf(text, sizeof(text), "{\"schema\": \"promptc.program/1\", "
           "\"modules\": {\"m\": %s}, \"flow\": [{\"call\": \"m\", "
           "\"inputs\": {\"question\": \"$input.question\"}}], "
           "\"outputs\": {\"x\": \"$input.question\"}}", spec);
  root = json_tokener_parse(text);
  if (!root || pc_program_from_json("p.json", root, &prog, &err))
    fprintf(stderr, "program: %s\n", err.message);
  json_object_put(root);
  return prog;
}

static void expect_program_check(rt_fixture *f, const char *spec, int code,
                                 const char *needle)
{
  pc_program *prog = one_module(spec);
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_EQUAL(pc_tool_check_program(f->rt, prog, &err), code);
  if (needle && !strstr(err.message, needle))
    fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
  if (needle)
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
  pc_program_free(prog);
}

static void test_program_check_reports_bad_tools_before_a_run(void)
{
  rt_fixture f;

  CU_ASSERT_EQUAL_FATAL(rt_open(&f, "{\"calc\": {\"type\": "
                                "\"calculator\"}, \"bad\": {\"type\": "
                                "\"nosuch\"}}"), 0);
  expect_program_check(&f, "{\"type\": \"react\", \"signature\": "
                       "\"question -> answer\", \"tools\": [\"calc\", "
                       "\"calculator\"]}", PC_OK, NULL);
  expect_program_check(&f, "{\"type\": \"react\", \"signature\": "
                       "\"question -> answer\", \"tools\": [\"calc\", "
                       "{\"name\": \"bad\"}]}", PC_E_UNSUPPORTED,
                       "modules.m.tools[1]: ");
  expect_program_check(&f, "{\"type\": \"react\", \"signature\": "
                       "\"question -> answer\", \"tools\": [\"bad\"]}",
                       PC_E_UNSUPPORTED, "tools.bad.type: no built-in tool");
  expect_program_check(&f, "{\"type\": \"react\", \"signature\": "
                       "\"question -> answer\", \"tools\": [\"wiki\"]}",
                       PC_E_INVALID_ARG, "tool 'wiki': not in the config");
  /* retrieve's default tool is "search", which needs an index. */
  expect_program_check(&f, "{\"type\": \"retrieve\", \"query\": "
                       "\"question\"}", PC_E_INVALID_ARG,
                       "modules.m.tool: ");
  expect_program_check(&f, "{\"type\": \"retrieve\", \"query\": "
                       "\"question\", \"tool\": \"bad\"}",
                       PC_E_UNSUPPORTED, "modules.m.tool: ");
  rt_close(&f);
}

int main(void)
{
  CU_TestInfo tests[] = {
    {"calculator prints results as Python",
     test_calculator_prints_results_as_python},
    {"calculator refuses code and bad arithmetic",
     test_calculator_refuses_code_and_bad_arithmetic},
    {"calculator tool checks its arguments",
     test_calculator_tool_checks_its_arguments},
    {"plugin tool echoes and fails with its message",
     test_plugin_tool_echoes_and_fails_with_its_message},
    {"failed create names the tool", test_failed_create_names_the_tool},
    {"hanging tool is cut off at its timeout",
     test_hanging_tool_is_cut_off_at_its_timeout},
    {"calls behind a stuck one give up at their deadline",
     test_calls_behind_a_stuck_one_give_up_at_their_deadline},
    {"call deadline cuts off a tool earlier",
     test_call_deadline_cuts_off_a_tool_earlier},
    {"calls on one instance are serialised",
     test_calls_on_one_instance_are_serialised},
    {"runtime resolves config entries", test_runtime_resolves_config_entries},
    {"runtime reports bad entries by member",
     test_runtime_reports_bad_entries_by_member},
    {"program check reports bad tools before a run",
     test_program_check_reports_bad_tools_before_a_run},
    CU_TEST_INFO_NULL,
  };
  CU_SuiteInfo suites[] = {
    {"tool", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
  };

  return pc_test_run(suites);
}
