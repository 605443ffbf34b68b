/* tests/unit/test_module_plugin.c: the "plugin" module type
 * (core/module_plugin.c) with the fixture program plugin fx_program and
 * the fixture LM fx_lm (which echoes "question" as "answer"); suite
 * "module_plugin". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "flow_fixture.h"
#include "harness.h"
#include "json_text.h"
#include "loader.h"
#include "module.h"
#include "program.h"
#include "run.h"
#include "runtime.h"

static pc_testfx fx;
static pc_runtime *rt;

/* Two echo modules and a plugin module `tp` over them; PLUGIN and
 * SETTINGS fill in the plugin's name and settings. */
#define PROG(PLUGIN, SETTINGS) \
  "{'schema': 'promptc.program/1', 'modules': {" \
  "'a': {'type': 'predict', 'signature': 'question -> answer'}, " \
  "'b': {'type': 'predict', 'signature': 'question -> answer'}, " \
  "'tp': {'type': 'plugin', 'plugin': '" PLUGIN "', 'signature': " \
  "'question -> answer', 'uses': ['a', 'b'], 'settings': " SETTINGS "}}, " \
  "'flow': [{'call': 'tp', 'inputs': {'question': '$input.question'}}], " \
  "'outputs': {'answer': '$tp.answer'}}"

static int setup(void)
{
  if (pc_testfx_open(&fx, "module_plugin", "{\"lm\": {\"provider\": "
                     "\"fx_lm\", \"retry\": {\"max_retries\": 0}}}",
                     ":prog"))
    return 1;
  rt = fx.rt;
  return 0;
}

static int teardown(void)
{
  pc_testfx_close(&fx);
  return 0;
}

/* Run a program on {"question": q}: the answer, or "ERROR <code>:
 * <message>" (owned); the trace's predictor paths go to `paths` when not
 * NULL. */
static char *run(const char *text, const char *q, char *paths, size_t cap)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(text, &err);
  struct json_object *in = json_object_new_object(), *out = NULL, *v;
  pc_run_ctx ctx;
  char buf[600];
  int rc;

  if (!prog) {
    json_object_put(in);
    snprintf(buf, sizeof(buf), "LOAD: %s", err.message);
    return pc_strdup(buf);
  }
  json_object_object_add(in, "question", json_object_new_string(q));
  pc_run_ctx_init(&ctx, rt);
  rc = pc_program_run(&ctx, prog, in, &out, &err);
  if (paths) {
    paths[0] = '\0';
    for (size_t i = 0; ctx.trace && i < json_object_array_length(ctx.trace);
         i++) {
      json_object_object_get_ex(json_object_array_get_idx(ctx.trace, i),
                                "predictor", &v);
      strncat(paths, json_object_get_string(v), cap - strlen(paths) - 2);
      strncat(paths, " ", cap - strlen(paths) - 1);
    }
  }
  if (rc)
    snprintf(buf, sizeof(buf), "ERROR %s: %s", pc_errname(rc), err.message);
  else
    snprintf(buf, sizeof(buf), "%s",
             json_object_get_string(json_object_object_get(out, "answer")));
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_program_free(prog);
  return pc_strdup(buf);
}

static void expect(const char *text, const char *q, const char *want)
{
  char *got = run(text, q, NULL, 0);

  PC_ASSERT_STR_EQ(got, want);
  pc_free(got);
}

static void test_two_pass_runs_its_sub_modules_through_the_host(void)
{
  char paths[256];
  char *got = run(PROG("two_pass", "{'suffix': '?'}"), "hi", paths,
                  sizeof(paths));

  /* a echoes "hi", b gets "hi?" and echoes it; both calls are traced
   * under their own predictor paths. */
  PC_ASSERT_STR_EQ(got, "hi?");
  PC_ASSERT_STR_EQ(paths, "a b ");
  pc_free(got);
  /* Default settings give the default suffix. */
  expect(PROG("two_pass", "{}"), "x", "x!");
}

static void test_plugin_failures_name_the_plugin(void)
{
  expect(PROG("failing", "{}"), "q",
         "ERROR PC_E_PROVIDER: tp: program plugin 'failing': planted "
         "failure");
  expect(PROG("no_answer", "{}"), "q",
         "ERROR PC_E_PARSE: tp: program plugin 'no_answer': the output has "
         "no 'answer'");
  expect(PROG("stranger", "{}"), "q",
         "ERROR PC_E_INVALID_ARG: tp: program plugin 'stranger': tp: "
         "'nobody' is not in \"uses\"");
  expect(PROG("two_pass", "{'refuse': 1}"), "q",
         "ERROR PC_E_INVALID_ARG: modules.tp: program plugin 'two_pass': "
         "settings: refused on purpose");
}

static void test_missing_plugin_is_a_clear_error(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(PROG("nope", "{}"), &err);

  /* Loading checks only the shape: no registry is involved. */
  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_EQUAL(pc_module_plugin_check(rt, prog, &err), PC_E_UNSUPPORTED);
  PC_ASSERT_STR_EQ(err.message, "modules.tp: program plugin 'nope' is not "
                   "loaded (promptc plugins list)");
  pc_program_free(prog);
  expect(PROG("nope", "{}"), "q",
         "ERROR PC_E_UNSUPPORTED: modules.tp: program plugin 'nope' is not "
         "loaded (promptc plugins list)");
  prog = pc_testfx_load(PROG("two_pass", "{}"), &err);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_module_plugin_check(rt, prog, &err), PC_OK);
  pc_program_free(prog);
}

static void test_plugin_module_shape_is_checked_at_load(void)
{
  expect("{'schema': 'promptc.program/1', 'modules': {'tp': {'type': "
         "'plugin', 'signature': 'question -> answer'}}}", "q",
         "LOAD: prog.json: modules.tp.plugin: missing (the name of a "
         "pc.program/1 plugin)");
  expect("{'schema': 'promptc.program/1', 'modules': {'tp': {'type': "
         "'plugin', 'plugin': 'two_pass', 'signature': 'question -> answer',"
         " 'uses': ['later']}, 'later': {'type': 'predict', 'signature': "
         "'question -> answer'}}, 'flow': [{'call': 'tp', 'inputs': "
         "{'question': 'x'}}], 'outputs': {'a': '$tp.answer'}}", "q",
         "LOAD: prog.json: modules.tp.uses[0]: no module 'later' before "
         "this one");
  expect("{'schema': 'promptc.program/1', 'modules': {'tp': {'type': "
         "'plugin', 'plugin': 'two_pass', 'signature': 'question -> answer',"
         " 'settings': []}}}", "q",
         "LOAD: prog.json: modules.tp.settings: expected an object");
  expect("{'schema': 'promptc.program/1', 'modules': {'tp': {'type': "
         "'plugin', 'plugin': 'two_pass', 'signature': 'question -> answer',"
         " 'k': 3}}}", "q",
         "LOAD: prog.json: modules.tp.k: unknown member (expected type, "
         "signature, config, plugin, uses or settings)");
  expect("{'schema': 'promptc.program/1', 'modules': {'tp': {'type': "
         "'plugin', 'plugin': 'two_pass'}}}", "q",
         "LOAD: prog.json: modules.tp.signature: missing");
}

static void test_plugin_module_saves_back_verbatim(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog =
    pc_testfx_load(PROG("two_pass", "{'suffix': '?', 'n': [1, 2]}"),
                   &err);
  struct json_object *root, *mods, *tp;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  /* The plugin module has no predictor of its own; its sub-modules'
   * predictors are the program's. */
  CU_ASSERT_EQUAL(pc_program_n_predictors(prog), 2);
  CU_ASSERT_PTR_NULL(pc_program_module(prog, "tp")->predictor);
  CU_ASSERT_EQUAL(pc_program_module(prog, "tp")->type, PC_MODULE_OTHER);
  root = pc_program_to_json(prog);
  json_object_object_get_ex(root, "modules", &mods);
  json_object_object_get_ex(mods, "tp", &tp);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(tp, JSON_C_TO_STRING_PLAIN),
                   "{\"type\":\"plugin\",\"plugin\":\"two_pass\","
                   "\"signature\":\"question -> answer\",\"uses\":[\"a\","
                   "\"b\"],\"settings\":{\"suffix\":\"?\",\"n\":[1,2]}}");
  json_object_put(root);
  pc_program_free(prog);
}

static void test_plugin_calls_tools_through_the_host(void)
{
  /* The built-in calculator, found by name without a config entry. */
  expect(PROG("calc", "{'expression': '6*7'}"), "q", "42");
}

static CU_TestInfo module_plugin_tests[] = {
  {"two_pass runs its sub-modules through the host",
   test_two_pass_runs_its_sub_modules_through_the_host},
  {"plugin failures name the plugin", test_plugin_failures_name_the_plugin},
  {"missing plugin is a clear error", test_missing_plugin_is_a_clear_error},
  {"plugin module shape is checked at load",
   test_plugin_module_shape_is_checked_at_load},
  {"plugin module saves back verbatim",
   test_plugin_module_saves_back_verbatim},
  {"plugin calls tools through the host",
   test_plugin_calls_tools_through_the_host},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"module_plugin", setup, teardown, NULL, NULL, module_plugin_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
