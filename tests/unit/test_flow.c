/* tests/unit/test_flow.c: control flow in programs (repeat, foreach, if)
 * and the module framework's run-time checks (core/program.c, core/run.c),
 * run on the fixture provider fx_lm, which echoes "question" as "answer";
 * suite "flow". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "flow_fixture.h"
#include "harness.h"
#include "host.h"
#include "json_text.h"
#include "loader.h"
#include "module.h"
#include "program.h"
#include "run.h"
#include "runtime.h"

static pc_testfx fx;
static pc_runtime *rt;

/* The common head of the programs below: one echo module. */
#define HEAD "{'schema': 'promptc.program/1', 'modules': {'echo': " \
  "{'type': 'predict', 'signature': 'question -> answer'}}, "

static int setup(void)
{
  if (pc_testfx_open(&fx, "flow", "{\"lm\": {\"provider\": \"fx_lm\", "
                     "\"retry\": {\"max_retries\": 0}}}", ""))
    return 1;
  rt = fx.rt;
  return 0;
}

static int teardown(void)
{
  pc_testfx_close(&fx);
  return 0;
}

/* Load must fail with exactly `expected`. */
static void expect_invalid(const char *text, const char *expected)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(text, &err);

  CU_ASSERT_PTR_NULL(prog);
  CU_ASSERT_EQUAL(err.code, PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, expected);
  pc_program_free(prog);
}

/* Run `prog` on `inputs`; returns the outputs as compact text (owned) or
 * "ERROR: <message>"; *calls gets the number of trace records. */
static char *run(const pc_program *prog, const char *inputs, size_t *calls)
{
  struct json_object *in = pc_testfx_parse(inputs), *out = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_run_ctx ctx;
  char *text;
  int rc;

  pc_run_ctx_init(&ctx, rt);
  rc = pc_program_run(&ctx, prog, in, &out, &err);
  if (calls)
    *calls = ctx.trace ? json_object_array_length(ctx.trace) : 0;
  if (rc) {
    size_t n = strlen(err.message) + 8;

    text = pc_malloc(n);
    snprintf(text, n, "ERROR: %s", err.message);
  } else {
    text = pc_strdup(json_object_to_json_string_ext(out,
                                                    JSON_C_TO_STRING_PLAIN));
  }
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  return text;
}

static void expect_run(const char *program, const char *inputs,
                       const char *expected, size_t expected_calls)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(program, &err);
  size_t calls = 0;
  char *text;

  if (!prog)
    fprintf(stderr, "load: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  text = run(prog, inputs, &calls);
  PC_ASSERT_STR_EQ(text, expected);
  CU_ASSERT_EQUAL(calls, expected_calls);
  pc_free(text);
  pc_program_free(prog);
}

static void test_repeat_runs_to_its_bound_and_accumulates(void)
{
  /* Each iteration echoes the question and the list grows by one answer
   * per iteration; a list value is flattened into its accumulator; hitting
   * the bound is normal and reported as exhausted. */
  expect_run(HEAD "'flow': [{'repeat': 3, 'id': 'hops', 'steps': ["
             "{'call': 'echo', 'inputs': {'question': '$input.question'}}],"
             " 'accumulate': {'seen': '$echo.answer', 'flat': "
             "'$input.pair'}}], "
             "'outputs': {'seen': '$hops.seen', 'n': '$hops.iterations', "
             "'bound': '$hops.exhausted', 'last': '$echo.answer', "
             "'flat': '$hops.flat'}}",
             "{'question': 'q', 'pair': ['x', 'y']}",
             "{\"seen\":[\"q\",\"q\",\"q\"],\"n\":3,\"bound\":true,"
             "\"last\":\"q\",\"flat\":[\"x\",\"y\",\"x\",\"y\",\"x\","
             "\"y\"]}", 3);
}

static void test_repeat_body_reads_the_accumulator_and_iteration(void)
{
  /* The body sees the list so far and the 0-based iteration: the second
   * iteration's echo of the list shows the first answer (the chat adapter
   * renders a one-item list as «item»). */
  expect_run(HEAD "'flow': [{'repeat': 2, 'id': 'h', 'steps': ["
             "{'call': 'echo', 'id': 'i', 'inputs': {'question': "
             "'$h.iteration'}}, "
             "{'call': 'echo', 'id': 'l', 'inputs': {'question': '$h.acc'}}"
             "], 'accumulate': {'acc': '$i.answer'}}], "
             "'outputs': {'acc': '$h.acc', 'list': '$l.answer'}}",
             "{}", "{\"acc\":[\"0\",\"1\"],\"list\":\"\xc2\xab" "0"
             "\xc2\xbb\"}", 4);
}

static void test_repeat_until_stops_early_and_unique_dedups(void)
{
  expect_run(HEAD "'flow': [{'repeat': 10, 'id': 'h', 'unique': true, "
             "'steps': [{'call': 'echo', 'inputs': {'question': "
             "'$input.question'}}], 'accumulate': {'a': '$echo.answer'}, "
             "'until': {'equals': ['$h.iterations', 4]}}], "
             "'outputs': {'a': '$h.a', 'n': '$h.iterations', "
             "'bound': '$h.exhausted'}}",
             "{'question': 'same'}",
             "{\"a\":[\"same\"],\"n\":4,\"bound\":false}", 4);
}

static void test_repeat_exhausted_is_false_in_the_body_and_after_until(void)
{
  /* "exhausted" is a boolean from the start: the body's test for false
   * holds in every iteration, and after "until" stops the loop it is
   * still false (not the integer 0, which "equals" tells apart). */
  expect_run(HEAD "'flow': [{'repeat': 3, 'id': 'h', 'steps': ["
             "{'if': {'equals': ['$h.exhausted', false]}, 'id': 'c', "
             "'then': [{'call': 'echo', 'id': 'yes', 'inputs': "
             "{'question': 'in-false'}}], 'else': [{'call': 'echo', "
             "'id': 'no', 'inputs': {'question': 'in-other'}}]}], "
             "'accumulate': {'seen': '$c.answer'}, "
             "'until': {'equals': ['$h.iterations', 2]}}, "
             "{'if': {'equals': ['$h.exhausted', false]}, 'id': 'd', "
             "'then': [{'call': 'echo', 'id': 'after', 'inputs': "
             "{'question': 'after-false'}}]}], "
             "'outputs': {'seen': '$h.seen', 'after': '$d.answer', "
             "'bound': '$h.exhausted'}}",
             "{}", "{\"seen\":[\"in-false\",\"in-false\"],"
             "\"after\":\"after-false\",\"bound\":false}", 3);
}

static void test_foreach_collects_in_item_order(void)
{
  expect_run(HEAD "'flow': [{'foreach': '$input.items', 'as': 'item', "
             "'id': 'each', 'steps': [{'call': 'echo', 'inputs': "
             "{'question': '$item'}}], 'collect': {'answers': "
             "'$echo.answer', 'pos': '$each.index'}}], 'outputs': "
             "{'answers': '$each.answers', 'pos': '$each.pos', "
             "'count': '$each.count'}}",
             "{'items': ['a', 'b', 'c']}",
             "{\"answers\":[\"a\",\"b\",\"c\"],\"pos\":[0,1,2],"
             "\"count\":3}", 3);
  /* Fields of object items, and an empty list runs nothing. */
  expect_run(HEAD "'flow': [{'foreach': '$input.items', 'as': 'it', "
             "'id': 'each', 'steps': [{'call': 'echo', 'inputs': "
             "{'question': '$it.q'}}], 'collect': {'answers': "
             "'$echo.answer'}}], 'outputs': {'answers': '$each.answers'}}",
             "{'items': [{'q': 'x'}, {'q': 'y'}]}",
             "{\"answers\":[\"x\",\"y\"]}", 2);
  expect_run(HEAD "'flow': [{'foreach': '$input.items', 'as': 'it', "
             "'id': 'each', 'steps': [{'call': 'echo', 'inputs': "
             "{'question': '$it'}}], 'collect': {'answers': "
             "'$echo.answer'}}], 'outputs': {'answers': '$each.answers'}}",
             "{'items': []}", "{\"answers\":[]}", 0);
}

static void test_foreach_refuses_too_many_items_and_non_lists(void)
{
  const char *prog = HEAD "'flow': [{'foreach': '$input.items', 'as': "
    "'it', 'id': 'each', 'max_items': 2, 'steps': [{'call': 'echo', "
    "'inputs': {'question': '$it'}}], 'collect': {'a': '$echo.answer'}}], "
    "'outputs': {'a': '$each.a'}}";

  expect_run(prog, "{'items': ['a', 'b', 'c']}",
             "ERROR: step 'each': foreach: 3 items, more than max_items (2)",
             0);
  expect_run(prog, "{'items': 'abc'}",
             "ERROR: step 'each': foreach: '$input.items' is not a list", 0);
}

static void test_nested_foreach_may_not_reuse_the_item_name(void)
{
  /* The inner loop would share (and at its end remove) the outer item. */
  expect_invalid(HEAD "'flow': [{'foreach': '$input.rows', 'as': 'it', "
                 "'id': 'outer', 'steps': [{'foreach': '$it', 'as': 'it', "
                 "'id': 'inner', 'steps': [{'call': 'echo', 'inputs': "
                 "{'question': '$it'}}]}]}], 'outputs': {'a': "
                 "'$echo.answer'}}",
                 "prog.json: flow[0].steps[0].as: item 'it' is already the "
                 "item of an enclosing foreach; give this one another "
                 "name");
  /* Distinct names nest, and the outer item outlives the inner loop. */
  expect_run(HEAD "'flow': [{'foreach': '$input.rows', 'as': 'row', "
             "'id': 'outer', 'steps': [{'foreach': '$row', 'as': 'it', "
             "'id': 'inner', 'steps': [{'call': 'echo', 'id': 'e1', "
             "'inputs': {'question': '$it'}}]}, {'call': 'echo', "
             "'id': 'e2', 'inputs': {'question': '$row'}}], 'collect': "
             "{'rows': '$e2.answer'}}], 'outputs': {'rows': "
             "'$outer.rows'}}",
             "{'rows': [['a'], ['b']]}",
             "{\"rows\":[\"\xc2\xab" "a\xc2\xbb\",\"\xc2\xab"
             "b\xc2\xbb\"]}", 4);
  /* Loops side by side may share a name. */
  expect_run(HEAD "'flow': [{'foreach': '$input.items', 'as': 'it', "
             "'id': 'one', 'steps': [{'call': 'echo', 'id': 'e1', "
             "'inputs': {'question': '$it'}}], 'collect': {'a': "
             "'$e1.answer'}}, {'foreach': '$input.items', 'as': 'it', "
             "'id': 'two', 'steps': [{'call': 'echo', 'id': 'e2', "
             "'inputs': {'question': '$it'}}], 'collect': {'a': "
             "'$e2.answer'}}], 'outputs': {'a': '$one.a', 'b': '$two.a'}}",
             "{'items': ['x']}", "{\"a\":[\"x\"],\"b\":[\"x\"]}", 2);
}

static void test_if_runs_one_branch_and_its_id_reads_it(void)
{
  const char *prog = HEAD "'flow': [{'if': {'equals': ['$input.question', "
    "'spam']}, 'id': 'c', 'then': [{'call': 'echo', 'id': 'yes', "
    "'inputs': {'question': '$$blocked'}}], 'else': [{'call': 'echo', "
    "'id': 'no', 'inputs': {'question': '$input.question'}}]}], "
    "'outputs': {'answer': '$c.answer'}}";

  expect_run(prog, "{'question': 'spam'}", "{\"answer\":\"$blocked\"}", 1);
  expect_run(prog, "{'question': 'hello'}", "{\"answer\":\"hello\"}", 1);
}

static void test_branch_not_taken_leaves_its_outputs_absent(void)
{
  /* Without else, "$c.answer" is missing when the condition fails; a
   * later "if" can test for it with "empty". */
  const char *prog = HEAD "'flow': [{'if': {'not': {'empty': "
    "'$input.question'}}, 'id': 'c', 'then': [{'call': 'echo', "
    "'inputs': {'question': '$input.question'}}]}, "
    "{'if': {'empty': '$c.answer'}, 'id': 'd', 'then': [{'call': 'echo', "
    "'id': 'fallback', 'inputs': {'question': '$$none'}}], 'else': ["
    "{'call': 'echo', 'id': 'keep', 'inputs': {'question': "
    "'$c.answer'}}]}], 'outputs': {'answer': '$d.answer'}}";

  expect_run(prog, "{'question': 'hi'}", "{\"answer\":\"hi\"}", 2);
  expect_run(prog, "{'question': ''}", "{\"answer\":\"$none\"}", 1);
  /* A direct reference to a branch that did not run is a clear error. */
  expect_run(HEAD "'flow': [{'if': {'any': [{'empty': '$input.q'}]}, "
             "'then': [{'call': 'echo', 'inputs': {'question': "
             "'$input.q'}}]}], 'outputs': {'a': '$echo.answer'}}",
             "{'q': 'x'}", "ERROR: output 'a': step 'echo' has no output "
             "yet", 0);
}

static void test_flow_errors_name_the_step(void)
{
  expect_invalid(HEAD "'flow': [{'repeat': 0, 'id': 'h', 'steps': "
                 "[{'call': 'echo', 'inputs': {'question': 'x'}}]}], "
                 "'outputs': {'a': '$echo.answer'}}",
                 "prog.json: flow[0].repeat: expected an integer from 1 to "
                 "100");
  expect_invalid(HEAD "'flow': [{'repeat': 101, 'id': 'h', 'steps': "
                 "[{'call': 'echo', 'inputs': {'question': 'x'}}]}], "
                 "'outputs': {'a': '$echo.answer'}}",
                 "prog.json: flow[0].repeat: expected an integer from 1 to "
                 "100");
  expect_invalid(HEAD "'flow': [{'repeat': 2, 'steps': "
                 "[{'call': 'echo', 'inputs': {'question': 'x'}}]}], "
                 "'outputs': {'a': '$echo.answer'}}",
                 "prog.json: flow[0].id: missing");
  expect_invalid(HEAD "'flow': [{'loop': 2}], 'outputs': {'a': 'x'}}",
                 "prog.json: flow[0]: expected a step with \"call\", "
                 "\"repeat\", \"foreach\" or \"if\"");
  expect_invalid(HEAD "'flow': [{'foreach': '$input.items', 'as': 'it', "
                 "'id': 'e', 'steps': [{'call': 'echo', 'inputs': "
                 "{'question': '$it'}}]}], 'outputs': {'a': '$it'}}",
                 "prog.json: outputs.a: 'it' is a foreach item, defined "
                 "only inside its loop's steps");
  expect_invalid(HEAD "'flow': [{'repeat': 2, 'id': 'h', 'steps': ["
                 "{'call': 'echo', 'id': 'a', 'inputs': {'question': "
                 "'$b.answer'}}, {'call': 'echo', 'id': 'b', 'inputs': "
                 "{'question': 'x'}}]}], 'outputs': {'a': '$a.answer'}}",
                 "prog.json: flow[0].steps[0].inputs.question: cycle: step "
                 "'a' uses 'b', which runs later");
  expect_invalid(HEAD "'flow': [{'repeat': 2, 'id': 'h', 'steps': ["
                 "{'call': 'echo', 'inputs': {'question': 'x'}}], "
                 "'accumulate': {'a': '$echo.answer'}}], "
                 "'outputs': {'a': '$h.b'}}",
                 "prog.json: outputs.a: step 'h' has no 'b'");
  expect_invalid(HEAD "'flow': [{'if': {'equal': [1, 1]}, 'then': ["
                 "{'call': 'echo', 'inputs': {'question': 'x'}}]}], "
                 "'outputs': {'a': '$echo.answer'}}",
                 "prog.json: flow[0].if.equal: unknown condition (expected "
                 "empty, equals, not, all or any)");
  expect_invalid(HEAD "'flow': [{'if': {'empty': '$input.q'}, 'id': 'x', "
                 "'then': [{'call': 'echo', 'id': 'x', 'inputs': "
                 "{'question': 'x'}}]}], 'outputs': {'a': '$x.answer'}}",
                 "prog.json: flow[0].then[0].id: duplicate name 'x' "
                 "(flow[0] has it too)");
  expect_invalid(HEAD "'flow': [{'if': {'empty': '$input.q'}, 'then': ["
                 "{'call': 'echo', 'id': 't', 'inputs': {'question': 'x'}}],"
                 " 'else': [{'call': 'echo', 'inputs': {'question': "
                 "'$t.answer'}}]}], 'outputs': {'a': '$echo.answer'}}",
                 "prog.json: flow[0].else[0].inputs.question: cycle: step "
                 "'echo' uses 't', which runs later");
}

static void test_control_flow_saves_back_unchanged(void)
{
  const char *text = HEAD "'inputs': ['items'], 'flow': [{'foreach': "
    "'$input.items', 'as': 'it', 'id': 'each', 'max_items': 5, 'steps': "
    "[{'call': 'echo', 'inputs': {'question': '$it'}}], 'collect': "
    "{'a': '$echo.answer'}}, {'call': 'echo', 'id': 'after', 'inputs': "
    "{'question': '$each.a'}}], 'outputs': {'a': '$each.a', "
    "'b': '$after.answer'}}";
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(text, &err), *again = NULL;
  struct json_object *first, *second;
  char *a;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  first = pc_program_to_json(prog);
  CU_ASSERT_EQUAL_FATAL(pc_program_from_json("again", first, &again, &err),
                        PC_OK);
  second = pc_program_to_json(again);
  a = pc_strdup(json_object_to_json_string(first));
  PC_ASSERT_STR_EQ(json_object_to_json_string(second), a);
  CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"max_items\": 5"));
  /* The step after the loop is a call: pc_program_step_inputs binds it. */
  CU_ASSERT_EQUAL(pc_program_step(again, 1)->kind, PC_STEP_CALL);
  CU_ASSERT_EQUAL(pc_program_step(again, 0)->kind, PC_STEP_FOREACH);
  pc_free(a);
  json_object_put(first);
  json_object_put(second);
  pc_program_free(again);
  pc_program_free(prog);
}

static void test_total_steps_per_run_are_bounded(void)
{
  /* 100 x 100 iterations of a branch that never runs: no LM call, but
   * more than PC_RUN_STEPS_MAX steps. */
  expect_run(HEAD "'flow': [{'repeat': 100, 'id': 'a', 'steps': ["
             "{'repeat': 100, 'id': 'b', 'steps': [{'if': {'empty': "
             "'$$x'}, 'then': [{'call': 'echo', 'inputs': {'question': "
             "'x'}}]}]}]}], 'outputs': {'n': '$a.iterations'}}", "{}",
             "ERROR: step b: the run went past 10000 steps (calls and "
             "loop iterations)", 0);
}

static void test_module_forward_checks_depth_and_cancellation(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = pc_testfx_load(HEAD "'name': 'one'}", &err);
  const pc_module *m;
  struct json_object *in = pc_testfx_parse("{'question': 'q'}"), *out = NULL;
  pc_run_ctx ctx;
  pc_call call;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  m = pc_program_module(prog, "echo");
  pc_run_ctx_init(&ctx, rt);
  ctx.depth = PC_MODULE_DEPTH_MAX;
  CU_ASSERT_EQUAL(pc_module_forward(&ctx, m, in, &out, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nest more than 16"));
  ctx.depth = 0;
  memset(&call, 0, sizeof(call));
  call.cancelled = 1;
  ctx.call = &call;
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_module_forward(&ctx, m, in, &out, &err),
                  PC_E_CANCELLED);
  ctx.call = NULL;
  CU_ASSERT_EQUAL(pc_module_forward(&ctx, m, in, &out, &err), PC_OK);
  PC_ASSERT_STR_EQ(json_object_get_string(json_object_object_get(out,
                                                                 "answer")),
                   "q");
  CU_ASSERT_EQUAL(ctx.depth, 0);
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_program_free(prog);
}

static CU_TestInfo flow_tests[] = {
  {"repeat runs to its bound and accumulates",
   test_repeat_runs_to_its_bound_and_accumulates},
  {"repeat body reads the accumulator and iteration",
   test_repeat_body_reads_the_accumulator_and_iteration},
  {"repeat until stops early and unique dedups",
   test_repeat_until_stops_early_and_unique_dedups},
  {"repeat exhausted is false in the body and after until",
   test_repeat_exhausted_is_false_in_the_body_and_after_until},
  {"foreach collects in item order", test_foreach_collects_in_item_order},
  {"nested foreach may not reuse the item name",
   test_nested_foreach_may_not_reuse_the_item_name},
  {"foreach refuses too many items and non-lists",
   test_foreach_refuses_too_many_items_and_non_lists},
  {"if runs one branch and its id reads it",
   test_if_runs_one_branch_and_its_id_reads_it},
  {"branch not taken leaves its outputs absent",
   test_branch_not_taken_leaves_its_outputs_absent},
  {"flow errors name the step", test_flow_errors_name_the_step},
  {"control flow saves back unchanged",
   test_control_flow_saves_back_unchanged},
  {"total steps per run are bounded", test_total_steps_per_run_are_bounded},
  {"module forward checks depth and cancellation",
   test_module_forward_checks_depth_and_cancellation},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"flow", setup, teardown, NULL, NULL, flow_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
