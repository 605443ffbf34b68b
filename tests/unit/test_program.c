/* tests/unit/test_program.c: core/program.c; suite "program". */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "alloc.h"
#include "harness.h"
#include "json_text.h"
#include "compile.h"
#include "program.h"
#include "module.h"

/* The two fixtures in tests/data/programs/. */
#define SUPPORT "data/programs/support.json"
#define QA_COT "data/programs/qa_cot.json"

/* Program text in tests is written with ' for JSON's " and ` for a single
 * quote inside a string (as in Literal[`a`]), so it reads well in C. */
#define HEAD "{'schema': 'promptc.program/1', "
#define TWO_MODULES \
  "'modules': {" \
  "'a': {'type': 'predict', 'signature': 'question -> answer'}, " \
  "'b': {'type': 'predict', " \
  "'signature': 'question, context: list[str] -> n: int'}}"
#define ONE_MODULE \
  "'modules': {'m': {'type': 'predict', " \
  "'signature': 'question, context -> answer'}}"

static struct json_object *parse_quoted(const char *text)
{
  struct json_object *root;
  char *copy = pc_strdup(text);
  char *p;

  if (!copy)
    return NULL;
  for (p = copy; *p; p++) {
    if (*p == '\'')
      *p = '"';
    else if (*p == '`')
      *p = '\'';
  }
  root = json_tokener_parse(copy);
  pc_free(copy);
  return root;
}

/* Build a program from quoted text, with origin "prog.json". */
static int load_quoted(const char *text, pc_program **prog, pc_error *err)
{
  struct json_object *root = parse_quoted(text);
  int rc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  rc = pc_program_from_json("prog.json", root, prog, err);
  json_object_put(root);
  return rc;
}

/* Assert that the text is refused with exactly this message. */
static void expect_invalid(const char *text, const char *message)
{
  pc_program *prog = (pc_program *)&prog;  /* must be reset to NULL */
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(load_quoted(text, &prog, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(prog);
  PC_ASSERT_STR_EQ(err.message, message);
  if (prog && prog != (pc_program *)&prog)
    pc_program_free(prog);
}

static pc_program *load_fixture(const char *rel)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_program_load(pc_test_path(rel), &prog, &err), PC_OK);
  if (err.code)
    fprintf(stderr, "\n%s\n", err.message);
  return prog;
}

static const pc_binding *binding_for(const pc_step *st, const char *target)
{
  size_t i;

  for (i = 0; i < st->n_bindings; i++) {
    if (!strcmp(st->bindings[i].target, target))
      return &st->bindings[i];
  }
  return NULL;
}

/* The pretty text pc_program_save writes, without the final newline. */
static char *program_text(const pc_program *prog)
{
  struct json_object *root = pc_program_to_json(prog);
  char *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  text = pc_json_to_string(root, PC_JSON_TEXT_PRETTY);
  json_object_put(root);
  return text;
}

static char *compact(const struct json_object *v)
{
  return pc_json_to_string(v, PC_JSON_TEXT_COMPACT);
}

/* ---- valid programs ---------------------------------------------------- */

static void test_single_predict_module_gets_every_input(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_step *st;
  const pc_predictor *p;
  struct json_object *root, *v;

  CU_ASSERT_EQUAL_FATAL(load_quoted(HEAD "'modules': {'m': {'type': "
                                    "'predict', 'signature': 'question, "
                                    "context -> answer, score: float'}}}",
                                    &prog, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_program_n_steps(prog), 1);
  st = pc_program_step(prog, 0);
  PC_ASSERT_STR_EQ(st->id, "m");
  CU_ASSERT_EQUAL(st->id_given, 0);
  CU_ASSERT_PTR_EQUAL(st->module, pc_program_module(prog, "m"));
  CU_ASSERT_EQUAL(st->n_bindings, 2);
  CU_ASSERT_EQUAL(st->bindings[1].kind, PC_BIND_INPUT);
  PC_ASSERT_STR_EQ(st->bindings[1].target, "context");
  PC_ASSERT_STR_EQ(st->bindings[1].field, "context");
  CU_ASSERT_EQUAL(pc_program_n_inputs(prog), 2);
  PC_ASSERT_STR_EQ(pc_program_input(prog, 0), "question");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 1), "context");
  CU_ASSERT_EQUAL(pc_program_n_outputs(prog), 2);
  PC_ASSERT_STR_EQ(pc_program_output(prog, 1)->target, "score");
  CU_ASSERT_EQUAL(pc_program_output(prog, 1)->kind, PC_BIND_STEP);
  CU_ASSERT_EQUAL(pc_program_output(prog, 1)->step, 0);
  CU_ASSERT_EQUAL(pc_program_n_predictors(prog), 1);
  p = pc_program_predictor(prog, "m");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_PTR_EQUAL(pc_program_default_predictor(prog), p);
  CU_ASSERT_EQUAL(p->signature->n_outputs, 2);
  CU_ASSERT_EQUAL(json_object_array_length(p->demos), 0);
  /* The generated flow is not written back. */
  root = pc_program_to_json(prog);
  CU_ASSERT_FALSE(json_object_object_get_ex(root, "flow", &v));
  CU_ASSERT_FALSE(json_object_object_get_ex(root, "outputs", &v));
  CU_ASSERT_FALSE(json_object_object_get_ex(root, "inputs", &v));
  CU_ASSERT_FALSE(json_object_object_get_ex(root, "state", &v));
  json_object_put(root);
  pc_program_free(prog);
}

static void test_chain_of_thought_prepends_reasoning(void)
{
  pc_program *prog = load_fixture(QA_COT);
  const pc_predictor *p;
  const pc_module *m;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NULL(pc_program_predictor(prog, "qa"));
  p = pc_program_predictor(prog, "qa.predict");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  m = pc_program_module(prog, "qa");
  CU_ASSERT_PTR_EQUAL(p->module, m);
  CU_ASSERT_PTR_EQUAL(m->predictor, p);
  CU_ASSERT_EQUAL(m->type, PC_MODULE_CHAIN_OF_THOUGHT);
  CU_ASSERT_EQUAL_FATAL(p->signature->n_outputs, 2);
  PC_ASSERT_STR_EQ(p->signature->outputs[0].name, "reasoning");
  CU_ASSERT_EQUAL(p->signature->outputs[0].type->kind, PC_TYPE_STR);
  PC_ASSERT_STR_EQ(p->signature->outputs[0].desc, "");
  PC_ASSERT_STR_EQ(p->signature->outputs[1].name, "answer");
  CU_ASSERT_EQUAL(m->signature->n_outputs, 1);
  PC_ASSERT_STR_EQ(p->signature->instructions, m->signature->instructions);
  /* The program's outputs are the user's, without "reasoning". */
  CU_ASSERT_EQUAL(pc_program_n_outputs(prog), 1);
  PC_ASSERT_STR_EQ(pc_program_output(prog, 0)->target, "answer");
  CU_ASSERT_EQUAL(pc_program_n_inputs(prog), 2);
  PC_ASSERT_STR_EQ(pc_program_input(prog, 1), "context");
  PC_ASSERT_STR_EQ(pc_program_name(prog), "qa");
  CU_ASSERT_PTR_NULL(pc_program_description(prog));
  pc_program_free(prog);
}

static void test_multi_step_flow_resolves_ids_and_references(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  const pc_step *s0, *s1;
  const pc_binding *b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  PC_ASSERT_STR_EQ(pc_program_name(prog), "support");
  CU_ASSERT_EQUAL_FATAL(pc_program_n_steps(prog), 2);
  s0 = pc_program_step(prog, 0);
  s1 = pc_program_step(prog, 1);
  PC_ASSERT_STR_EQ(s0->id, "c1");
  CU_ASSERT_EQUAL(s0->id_given, 1);
  PC_ASSERT_STR_EQ(s0->module->name, "classify");
  PC_ASSERT_STR_EQ(s1->id, "reply");
  CU_ASSERT_EQUAL(s1->id_given, 0);
  b = binding_for(s1, "queue");
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(b->kind, PC_BIND_STEP);
  CU_ASSERT_EQUAL(b->step, 0);
  PC_ASSERT_STR_EQ(b->field, "queue");
  b = binding_for(s1, "ticket");
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(b->kind, PC_BIND_INPUT);
  CU_ASSERT_PTR_NULL(pc_program_step(prog, 2));
  /* An output may name chain_of_thought's reasoning. */
  CU_ASSERT_EQUAL_FATAL(pc_program_n_outputs(prog), 4);
  b = pc_program_output(prog, 3);
  PC_ASSERT_STR_EQ(b->target, "why");
  CU_ASSERT_EQUAL(b->step, 1);
  PC_ASSERT_STR_EQ(b->field, "reasoning");
  CU_ASSERT_PTR_EQUAL(pc_program_default_predictor(prog),
                      pc_program_predictor(prog, "classify"));
  pc_program_free(prog);
}

static void test_constants_of_any_json_type_are_kept(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_step *st;
  char *text;

  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD "'modules': {'m': {'type': 'predict', "
    "'signature': 'a: int, b: dict[str, Any], c: Optional[str], d: bool, "
    "e -> x'}}, 'flow': [{'call': 'm', 'inputs': {'a': 3, "
    "'b': {'k': [1, 'two']}, 'c': null, 'd': true, 'e': '$input.e'}}], "
    "'outputs': {'x': '$m.x', 'fixed': 'always'}}", &prog, &err), PC_OK);
  st = pc_program_step(prog, 0);
  CU_ASSERT_EQUAL(binding_for(st, "a")->kind, PC_BIND_CONST);
  CU_ASSERT_EQUAL(json_object_get_int(binding_for(st, "a")->value), 3);
  text = compact(binding_for(st, "b")->value);
  PC_ASSERT_STR_EQ(text, "{\"k\":[1,\"two\"]}");
  pc_free(text);
  CU_ASSERT_EQUAL(binding_for(st, "c")->kind, PC_BIND_CONST);
  CU_ASSERT_PTR_NULL(binding_for(st, "c")->value);
  CU_ASSERT_TRUE(json_object_get_boolean(binding_for(st, "d")->value));
  CU_ASSERT_EQUAL(binding_for(st, "e")->kind, PC_BIND_INPUT);
  CU_ASSERT_EQUAL(pc_program_output(prog, 1)->kind, PC_BIND_CONST);
  PC_ASSERT_STR_EQ(json_object_get_string(pc_program_output(prog, 1)->value),
                   "always");
  CU_ASSERT_EQUAL(pc_program_n_inputs(prog), 1);
  pc_program_free(prog);
}

static void test_double_dollar_is_a_literal_dollar(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_binding *b;
  struct json_object *root, *flow, *inputs, *v;

  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD ONE_MODULE ", 'flow': [{'call': 'm', 'inputs': {"
    "'question': '$$5 off?', 'context': '$$input.context'}}], "
    "'outputs': {'answer': '$m.answer'}}", &prog, &err), PC_OK);
  b = binding_for(pc_program_step(prog, 0), "question");
  CU_ASSERT_EQUAL(b->kind, PC_BIND_CONST);
  PC_ASSERT_STR_EQ(json_object_get_string(b->value), "$5 off?");
  b = binding_for(pc_program_step(prog, 0), "context");
  CU_ASSERT_EQUAL(b->kind, PC_BIND_CONST);
  PC_ASSERT_STR_EQ(json_object_get_string(b->value), "$input.context");
  CU_ASSERT_EQUAL(pc_program_n_inputs(prog), 0);
  /* Written back with the escape, so it loads as a literal again. */
  root = pc_program_to_json(prog);
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(root, "flow", &flow));
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(
    json_object_array_get_idx(flow, 0), "inputs", &inputs));
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(inputs, "question", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "$$5 off?");
  json_object_put(root);
  pc_program_free(prog);
}

static void test_state_sets_instructions_and_demos(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  const pc_predictor *reply, *classify;
  struct json_object *demo, *v;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  reply = pc_program_predictor(prog, "reply.predict");
  classify = pc_program_predictor(prog, "classify");
  CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
  CU_ASSERT_PTR_NOT_NULL_FATAL(classify);
  PC_ASSERT_STR_EQ(reply->signature->instructions,
                   "Reply in at most three sentences. Never promise a "
                   "refund the policy does not allow.");
  /* The module keeps the instructions it declared (DSPy's default). */
  CU_ASSERT_EQUAL(strncmp(reply->module->signature->instructions,
                          "Given the fields `ticket`", 25), 0);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(reply->demos), 1);
  demo = json_object_array_get_idx(reply->demos, 0);
  CU_ASSERT_TRUE(json_object_object_get_ex(demo, "reasoning", &v));
  /* Only demos for classify: its instructions are the signature's. */
  PC_ASSERT_STR_EQ(classify->signature->instructions,
                   "Classify the support ticket into one queue and rate how "
                   "urgent it is.");
  CU_ASSERT_EQUAL(json_object_array_length(classify->demos), 1);
  pc_program_free(prog);
}

static void test_signature_may_be_a_json_object(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  const pc_module *m;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  m = pc_program_module(prog, "classify");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->type, PC_MODULE_PREDICT);
  CU_ASSERT_EQUAL_FATAL(m->signature->n_inputs, 2);
  PC_ASSERT_STR_EQ(m->signature->inputs[0].desc, "the customer's message");
  CU_ASSERT_EQUAL(m->signature->outputs[0].type->kind, PC_TYPE_LITERAL);
  CU_ASSERT_EQUAL(m->signature->outputs[1].type->kind, PC_TYPE_INT);
  CU_ASSERT_TRUE(json_object_is_type(m->signature_json, json_type_object));
  pc_program_free(prog);
}

static void test_inputs_are_derived_in_order_of_first_use(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD TWO_MODULES ", 'flow': ["
    "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
    "{'call': 'b', 'inputs': {'question': '$input.q2', "
    "'context': '$input.docs'}}], "
    "'outputs': {'n': '$b.n', 'echo': '$input.z', 'q': '$input.q'}}",
    &prog, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_n_inputs(prog), 4);
  PC_ASSERT_STR_EQ(pc_program_input(prog, 0), "q");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 1), "q2");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 2), "docs");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 3), "z");
  CU_ASSERT_PTR_NULL(pc_program_input(prog, 4));
  pc_program_free(prog);
}

static void test_declared_inputs_keep_their_order(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *root, *v;

  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD "'inputs': ['context', 'spare', 'question'], " ONE_MODULE "}",
    &prog, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_n_inputs(prog), 3);
  PC_ASSERT_STR_EQ(pc_program_input(prog, 0), "context");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 1), "spare");
  PC_ASSERT_STR_EQ(pc_program_input(prog, 2), "question");
  root = pc_program_to_json(prog);
  CU_ASSERT_TRUE(json_object_object_get_ex(root, "inputs", &v));
  CU_ASSERT_EQUAL(json_object_array_length(v), 3);
  json_object_put(root);
  pc_program_free(prog);
}

static void test_modules_keep_file_order(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD "'modules': {'zeta': {'type': 'chain_of_thought', "
    "'signature': 'q -> a'}, 'alpha': {'type': 'predict', "
    "'signature': 'a -> b'}, 'mid': {'type': 'predict', "
    "'signature': 'b -> c'}}, 'flow': ["
    "{'call': 'zeta', 'inputs': {'q': '$input.q'}}, "
    "{'call': 'alpha', 'inputs': {'a': '$zeta.a'}}, "
    "{'call': 'mid', 'inputs': {'b': '$alpha.b'}}], "
    "'outputs': {'c': '$mid.c'}}", &prog, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_n_modules(prog), 3);
  PC_ASSERT_STR_EQ(pc_program_module_at(prog, 0)->name, "zeta");
  PC_ASSERT_STR_EQ(pc_program_module_at(prog, 1)->name, "alpha");
  PC_ASSERT_STR_EQ(pc_program_module_at(prog, 2)->name, "mid");
  CU_ASSERT_PTR_NULL(pc_program_module_at(prog, 3));
  PC_ASSERT_STR_EQ(pc_program_predictor_at(prog, 0)->path, "zeta.predict");
  PC_ASSERT_STR_EQ(pc_program_predictor_at(prog, 2)->path, "mid");
  CU_ASSERT_PTR_NULL(pc_program_predictor_at(prog, 3));
  pc_program_free(prog);
}

static void test_config_is_kept_and_shared_with_predictor(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  const pc_module *m;
  struct json_object *v;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  m = pc_program_module(prog, "classify");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m->config);
  CU_ASSERT_PTR_EQUAL(m->predictor->config, m->config);
  CU_ASSERT_TRUE(json_object_object_get_ex(m->config, "max_tokens", &v));
  CU_ASSERT_EQUAL(json_object_get_int(v), 256);
  CU_ASSERT_PTR_NULL(pc_program_module(prog, "reply")->config);
  CU_ASSERT_PTR_NULL(pc_program_module(prog, "nope"));
  pc_program_free(prog);
}

static void test_default_predictor_is_first_steps_and_str_takes_any(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  /* b runs first; its int output binds to a's str input. */
  CU_ASSERT_EQUAL_FATAL(load_quoted(
    HEAD TWO_MODULES ", 'flow': ["
    "{'call': 'b', 'inputs': {'question': '$input.q', "
    "'context': '$input.c'}}, "
    "{'call': 'a', 'inputs': {'question': '$b.n'}}], "
    "'outputs': {'answer': '$a.answer'}}", &prog, &err), PC_OK);
  PC_ASSERT_STR_EQ(pc_program_default_predictor(prog)->path, "b");
  pc_program_free(prog);
}

static void test_optional_input_accepts_its_inner_type(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(load_quoted(
    HEAD "'modules': {'a': {'type': 'predict', "
    "'signature': 'q -> n: int, m: int | None, l: list[int]'}, "
    "'b': {'type': 'predict', 'signature': "
    "'x: Optional[int], y: Optional[int], z: list[int] -> r'}}, "
    "'flow': [{'call': 'a', 'inputs': {'q': '$input.q'}}, "
    "{'call': 'b', 'inputs': {'x': '$a.n', 'y': '$a.m', 'z': '$a.l'}}], "
    "'outputs': {'r': '$b.r'}}", &prog, &err), PC_OK);
  PC_ASSERT_STR_EQ(err.message, "");
  pc_program_free(prog);
}

/* ---- invalid programs -------------------------------------------------- */

static void test_wrong_or_missing_schema_is_refused(void)
{
  expect_invalid("{'schema': 'promptc.program/2', " ONE_MODULE "}",
                 "prog.json: schema: expected \"promptc.program/1\"");
  expect_invalid("{" ONE_MODULE "}",
                 "prog.json: schema: missing (expected "
                 "\"promptc.program/1\")");
  expect_invalid("[1, 2]", "prog.json: expected a JSON object");
}

static void test_missing_or_empty_modules_are_refused(void)
{
  expect_invalid("{'schema': 'promptc.program/1'}",
                 "prog.json: modules: missing");
  expect_invalid(HEAD "'modules': {}}",
                 "prog.json: modules: must not be empty");
  expect_invalid(HEAD "'modules': {'my-mod': {'type': 'predict', "
                 "'signature': 'a -> b'}}}",
                 "prog.json: modules.my-mod: a module name must be an "
                 "identifier");
}

static void test_unknown_module_type_names_the_path(void)
{
  char expected[512];

  snprintf(expected, sizeof(expected), "prog.json: modules.m.type: unknown "
           "module type 'reactor' (expected %s)", pc_module_type_names());
  CU_ASSERT_PTR_NOT_NULL(strstr(pc_module_type_names(), "chain_of_thought"));
  expect_invalid(HEAD "'modules': {'m': {'type': 'reactor', "
                 "'signature': 'a -> b'}}}", expected);
  expect_invalid(HEAD "'modules': {'m': {'type': 'predict', "
                 "'signature': 'a -> b', 'tools': []}}}",
                 "prog.json: modules.m.tools: unknown member (expected "
                 "type, signature or config)");
}

static void test_bad_signature_carries_path_and_column(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *prefix = "prog.json: modules.m.signature: signature "
                       "\"question -> 1answer\": column 13";

  CU_ASSERT_EQUAL(load_quoted(HEAD "'modules': {'m': {'type': 'predict', "
                              "'signature': 'question -> 1answer'}}}",
                              &prog, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(prog);
  CU_ASSERT_EQUAL(strncmp(err.message, prefix, strlen(prefix)), 0);
  if (strncmp(err.message, prefix, strlen(prefix)))
    fprintf(stderr, "\ngot: %s\n", err.message);
}

static void test_config_settings_are_checked(void)
{
  expect_invalid(HEAD "'modules': {'m': {'type': 'predict', "
                 "'signature': 'a -> b', 'config': {'temprature': 0.5}}}}",
                 "prog.json: modules.m.config.temprature: unknown setting "
                 "(expected temperature, max_tokens, n, top_p, stop, seed "
                 "or adapter)");
  expect_invalid(HEAD "'modules': {'m': {'type': 'predict', "
                 "'signature': 'a -> b', 'config': {'max_tokens': 0}}}}",
                 "prog.json: modules.m.config.max_tokens: expected an "
                 "integer >= 1");
  expect_invalid(HEAD "'modules': {'m': {'type': 'predict', "
                 "'signature': 'a -> b', 'config': {'stop': ['x', 1]}}}}",
                 "prog.json: modules.m.config.stop: expected a string or an "
                 "array of strings");
}

static void test_unbound_module_input_is_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'question': '$input.q'}}], "
                 "'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[1].inputs: input 'context' of module 'b' "
                 "is not bound");
}

static void test_binding_a_non_input_is_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q', "
                 "'query': '$input.q'}}], 'outputs': {'x': '$a.answer'}}",
                 "prog.json: flow[0].inputs.query: 'query' is not an input "
                 "of module 'a'");
}

static void test_reference_to_unknown_step_is_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'question': '$c9.answer', "
                 "'context': '$input.c'}}], 'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[1].inputs.question: unknown step 'c9'");
  expect_invalid(HEAD ONE_MODULE ", 'flow': [{'call': 'm', 'inputs': {"
                 "'question': '$input.q', 'context': '$input.c'}}], "
                 "'outputs': {'answer': '$zz.answer'}}",
                 "prog.json: outputs.answer: unknown step 'zz'");
  expect_invalid(HEAD ONE_MODULE ", 'flow': [{'call': 'mm', 'inputs': {}}], "
                 "'outputs': {'answer': '$m.answer'}}",
                 "prog.json: flow[0].call: unknown module 'mm'");
}

static void test_self_reference_is_a_cycle(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$a.answer'}}], "
                 "'outputs': {'x': '$a.answer'}}",
                 "prog.json: flow[0].inputs.question: cycle: step 'a' uses "
                 "its own output");
}

static void test_forward_reference_is_a_cycle(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$b.n'}}, "
                 "{'call': 'b', 'inputs': {'question': '$a.answer', "
                 "'context': '$input.c'}}], 'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[0].inputs.question: cycle: step 'a' uses "
                 "'b', which runs later");
}

static void test_reference_to_unknown_field_is_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'question': '$a.answr', "
                 "'context': '$input.c'}}], 'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[1].inputs.question: step 'a' (module 'a') "
                 "has no output 'answr'");
  /* "reasoning" exists only for chain_of_thought. */
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}], "
                 "'outputs': {'why': '$a.reasoning'}}",
                 "prog.json: outputs.why: step 'a' (module 'a') has no "
                 "output 'reasoning'");
}

static void test_type_mismatch_is_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'question': '$input.q', "
                 "'context': '$a.answer'}}], 'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[1].inputs.context: type mismatch: str -> "
                 "list[str]");
  expect_invalid(HEAD "'modules': {'a': {'type': 'predict', "
                 "'signature': 'q -> n: float'}, 'b': {'type': 'predict', "
                 "'signature': 'x: Optional[int] -> y'}}, 'flow': ["
                 "{'call': 'a', 'inputs': {'q': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'x': '$a.n'}}], "
                 "'outputs': {'y': '$b.y'}}",
                 "prog.json: flow[1].inputs.x: type mismatch: float -> "
                 "Optional[int]");
}

static void test_undeclared_input_is_refused(void)
{
  expect_invalid(HEAD "'inputs': ['q'], " TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'b', 'inputs': {'question': '$input.q', "
                 "'context': '$input.docs'}}], 'outputs': {'n': '$b.n'}}",
                 "prog.json: flow[1].inputs.context: input 'docs' is not "
                 "declared in \"inputs\"");
  expect_invalid(HEAD "'inputs': ['question'], " ONE_MODULE "}",
                 "prog.json: modules.m.signature: input 'context' is not "
                 "declared in \"inputs\"");
}

static void test_flow_and_outputs_go_together(void)
{
  expect_invalid(HEAD ONE_MODULE ", 'flow': [{'call': 'm', 'inputs': {"
                 "'question': '$input.q', 'context': '$input.c'}}]}",
                 "prog.json: outputs: missing (required when \"flow\" is "
                 "given)");
  expect_invalid(HEAD ONE_MODULE ", 'outputs': {'answer': '$m.answer'}}",
                 "prog.json: flow: missing (required when \"outputs\" is "
                 "given)");
  expect_invalid(HEAD TWO_MODULES "}",
                 "prog.json: flow: missing (required when there is more "
                 "than one module)");
}

static void test_unknown_members_are_refused(void)
{
  expect_invalid(HEAD ONE_MODULE ", 'flows': []}",
                 "prog.json: flows: unknown member (expected schema, name, "
                 "description, inputs, modules, flow, outputs or state)");
  expect_invalid(HEAD ONE_MODULE ", 'flow': [{'call': 'm', 'input': {}}], "
                 "'outputs': {'answer': '$m.answer'}}",
                 "prog.json: flow[0].input: unknown member (expected call, "
                 "id or inputs)");
}

static void test_state_for_unknown_path_is_refused(void)
{
  expect_invalid(HEAD ONE_MODULE ", 'state': {'nope': {}}}",
                 "prog.json: state.nope: unknown predictor path");
  expect_invalid(HEAD "'modules': {'qa': {'type': 'chain_of_thought', "
                 "'signature': 'q -> a'}}, 'state': {'qa': {'demos': []}}}",
                 "prog.json: state.qa: unknown predictor path (module 'qa' "
                 "is a chain_of_thought: its predictor is 'qa.predict')");
}

static void test_state_with_bad_member_is_refused(void)
{
  expect_invalid(HEAD ONE_MODULE ", 'state': {'m': {'instruction': 'x'}}}",
                 "prog.json: state.m.instruction: unknown member (expected "
                 "instructions, demos, knn or model)");
  expect_invalid(HEAD ONE_MODULE ", 'state': {'m': {'model': ''}}}",
                 "prog.json: state.m.model: expected a model id (a "
                 "non-empty string) or null");
  expect_invalid(HEAD ONE_MODULE ", 'state': {'m': {'model': 4}}}",
                 "prog.json: state.m.model: expected a model id (a "
                 "non-empty string) or null");
  expect_invalid(HEAD ONE_MODULE ", 'state': {'m': {'demos': [{}, 1]}}}",
                 "prog.json: state.m.demos[1]: expected an object");
  expect_invalid(HEAD ONE_MODULE ", 'state': {'m': {'instructions': 7}}}",
                 "prog.json: state.m.instructions: expected a string");
}

static void test_duplicate_step_ids_are_refused(void)
{
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'inputs': {'question': '$input.q'}}, "
                 "{'call': 'a', 'inputs': {'question': '$a.answer'}}], "
                 "'outputs': {'x': '$a.answer'}}",
                 "prog.json: flow[1].id: duplicate step id 'a' (flow[0] has "
                 "it too; give each call of a module its own \"id\")");
  expect_invalid(HEAD TWO_MODULES ", 'flow': ["
                 "{'call': 'a', 'id': 'x', 'inputs': {'question': 'hi'}}, "
                 "{'call': 'b', 'id': 'x', 'inputs': {'question': 'hi', "
                 "'context': []}}], 'outputs': {'x': '$x.answer'}}",
                 "prog.json: flow[1].id: duplicate step id 'x' (flow[0] has "
                 "it too; give each call of a module its own \"id\")");
}

static void test_malformed_reference_is_refused(void)
{
  expect_invalid(HEAD ONE_MODULE ", 'flow': [{'call': 'm', 'inputs': {"
                 "'question': '$input', 'context': 'c'}}], "
                 "'outputs': {'answer': '$m.answer'}}",
                 "prog.json: flow[0].inputs.question: malformed reference "
                 "'$input' (expected $input.<name> or $<step>.<field>; "
                 "write $$ for a literal $)");
}

static void test_chain_of_thought_needs_reasoning_free(void)
{
  expect_invalid(HEAD "'modules': {'m': {'type': 'chain_of_thought', "
                 "'signature': 'q -> reasoning, a'}}}",
                 "prog.json: modules.m.signature: chain_of_thought adds the "
                 "field 'reasoning', which the signature already has");
}

static void test_not_json_or_missing_file_names_the_file(void)
{
  pc_program *prog = (pc_program *)&prog;
  pc_error err = PC_ERROR_INIT;
  char path[4096];

  snprintf(path, sizeof(path), "%s",
           pc_test_tmpfile("{\"schema\": ", 11, ".json"));
  CU_ASSERT_EQUAL(pc_program_load(path, &prog, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(prog);
  CU_ASSERT_EQUAL(strncmp(err.message, path, strlen(path)), 0);
  CU_ASSERT_EQUAL(err.message[strlen(path)], ':');

  pc_error_clear(&err);
  prog = (pc_program *)&prog;
  CU_ASSERT_EQUAL(pc_program_load("/nonexistent/prog.json", &prog, &err),
                  PC_E_IO);
  CU_ASSERT_PTR_NULL(prog);
  CU_ASSERT_EQUAL(strncmp(err.message, "/nonexistent/prog.json: ", 24), 0);

  /* A JSON document that is not a program names the file too. */
  pc_error_clear(&err);
  snprintf(path, sizeof(path), "%s", pc_test_tmpfile("[]", 2, ".json"));
  CU_ASSERT_EQUAL(pc_program_load(path, &prog, &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(strncmp(err.message, path, strlen(path)), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ": expected a JSON object"));
}

/* ---- writing ----------------------------------------------------------- */

static void test_round_trip_gives_the_same_bytes(void)
{
  pc_program *prog = load_fixture(SUPPORT), *again = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *root = NULL;
  char *first, *second, *file;
  size_t len = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  first = program_text(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(first);
  CU_ASSERT_EQUAL_FATAL(pc_json_parse(first, strlen(first),
                                      PC_JSON_PARSE_STRICT, &root, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_from_json(NULL, root, &again, &err),
                        PC_OK);
  second = program_text(again);
  PC_ASSERT_STR_EQ(second, first);
  /* The fixture is in the saved layout, so it is reproduced exactly. */
  file = pc_test_read_file(pc_test_path(SUPPORT), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(file);
  CU_ASSERT_EQUAL(len, strlen(first) + 1);
  CU_ASSERT_EQUAL(strncmp(file, first, strlen(first)), 0);
  pc_free(file);
  pc_free(first);
  pc_free(second);
  json_object_put(root);
  pc_program_free(again);
  pc_program_free(prog);
}

/* What `promptc compile` writes (state with demos and a knn pool, and a
 * compile record) loads, saves and loads again to the same bytes. */
static void test_compiled_program_round_trips(void)
{
  pc_program *prog = NULL, *again = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *root = NULL;
  char *first, *second;

  CU_ASSERT_EQUAL_FATAL(load_quoted(HEAD ONE_MODULE ", 'state': {'m': {"
    "'instructions': 'Answer briefly.', 'demos': [{'question': 'q1', "
    "'context': 'c1', 'answer': 'a1', 'augmented': true}], "
    "'knn': {'k': 2, 'vectorizer': 'bm25', 'input_keys': ['question', "
    "'context'], 'pool': [{'question': 'q2', 'context': 'c2', "
    "'answer': 'a2'}]}}}, 'compile': {'optimizer': {'name': 'knn', "
    "'settings': {'k': 2}}, 'seed': 9, 'baseline': {'score': 41.0}}}",
    &prog, &err), PC_OK);
  first = program_text(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(first);
  CU_ASSERT_PTR_NOT_NULL(strstr(first, "\"compile\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(first, "\"knn\""));
  CU_ASSERT_PTR_NOT_NULL(pc_program_compile_record(prog));
  CU_ASSERT_EQUAL_FATAL(pc_json_parse(first, strlen(first),
                                      PC_JSON_PARSE_STRICT, &root, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_from_json(NULL, root, &again, &err),
                        PC_OK);
  second = program_text(again);
  PC_ASSERT_STR_EQ(second, first);
  pc_free(first);
  pc_free(second);
  json_object_put(root);
  pc_program_free(again);
  pc_program_free(prog);
}

/* A predictor's "model" (BetterTogether's fine-tuned model) is kept,
 * saved on its own and cleared by null. */
static void test_state_model_round_trips(void)
{
  pc_program *prog = NULL, *cleared = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *state = NULL;
  char *text;

  CU_ASSERT_EQUAL_FATAL(load_quoted(HEAD ONE_MODULE ", 'state': {'m': {"
    "'model': 'ft:mini:acme::x1'}}}", &prog, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pc_program_predictor(prog, "m"));
  PC_ASSERT_STR_EQ(pc_program_predictor(prog, "m")->model,
                   "ft:mini:acme::x1");
  text = program_text(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"state\": {\n    \"m\": {\n"
                                      "      \"model\": \"ft:mini:acme::x1\""));
  pc_free(text);
  CU_ASSERT_EQUAL_FATAL(pc_json_parse("{\"m\": {\"model\": null}}", 22,
                                      PC_JSON_PARSE_STRICT, &state, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_compile_apply_state(prog, state, &cleared, &err),
                        PC_OK);
  CU_ASSERT_PTR_NULL(pc_program_predictor(cleared, "m")->model);
  text = program_text(cleared);
  CU_ASSERT_PTR_NULL(strstr(text, "\"model\""));
  pc_free(text);
  json_object_put(state);
  pc_program_free(cleared);
  pc_program_free(prog);
}

static void test_save_twice_gives_identical_files(void)
{
  pc_program *prog = load_fixture(SUPPORT), *again = NULL;
  pc_error err = PC_ERROR_INIT;
  char p1[4096], p2[4096];
  char *t1, *t2, *orig;
  size_t n1 = 0, n2 = 0, n0 = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  snprintf(p1, sizeof(p1), "%s", pc_test_tmpfile("", 0, ".json"));
  snprintf(p2, sizeof(p2), "%s", pc_test_tmpfile("", 0, ".json"));
  CU_ASSERT_EQUAL_FATAL(pc_program_save(prog, p1, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_load(p1, &again, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_program_save(again, p2, &err), PC_OK);
  t1 = pc_test_read_file(p1, &n1);
  t2 = pc_test_read_file(p2, &n2);
  orig = pc_test_read_file(pc_test_path(SUPPORT), &n0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
  CU_ASSERT_EQUAL(n1, n2);
  PC_ASSERT_STR_EQ(t2, t1);
  PC_ASSERT_STR_EQ(t1, orig);
  CU_ASSERT_EQUAL(t1[n1 - 1], '\n');
  pc_free(t1);
  pc_free(t2);
  pc_free(orig);
  pc_program_free(again);
  pc_program_free(prog);
}

static void test_state_is_written_only_when_it_differs(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *empty = json_object_new_array();
  struct json_object *root, *state, *entry, *v;
  char *instructions;

  CU_ASSERT_EQUAL_FATAL(load_quoted(HEAD ONE_MODULE
                                    ", 'state': {'m': {'demos': []}}}",
                                    &prog, &err), PC_OK);
  instructions = pc_strdup(
    pc_program_predictor(prog, "m")->signature->instructions);
  /* Same instructions, no demos: nothing to write. */
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "m", instructions, empty),
                  PC_OK);
  root = pc_program_to_json(prog);
  CU_ASSERT_FALSE(json_object_object_get_ex(root, "state", &v));
  json_object_put(root);
  /* New instructions only: written, without demos. */
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "m", "Answer briefly.", NULL),
                  PC_OK);
  root = pc_program_to_json(prog);
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(root, "state", &state));
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(state, "m", &entry));
  CU_ASSERT_TRUE(json_object_object_get_ex(entry, "instructions", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "Answer briefly.");
  CU_ASSERT_FALSE(json_object_object_get_ex(entry, "demos", &v));
  json_object_put(root);
  pc_free(instructions);
  json_object_put(empty);
  pc_program_free(prog);
}

static void test_save_failure_names_the_path(void)
{
  pc_program *prog = load_fixture(QA_COT);
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_EQUAL(pc_program_save(prog, "/nonexistent-dir/p.json", &err),
                  PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent-dir/p.json"));
  pc_program_free(prog);
}

/* ---- running and state ------------------------------------------------- */

static void test_step_inputs_resolve_bindings(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  pc_error err = PC_ERROR_INIT;
  struct json_object *given, *c1_out, *out = NULL;
  const struct json_object *outs[1];
  char *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  given = json_tokener_parse("{\"policy\": \"P\", \"ticket\": \"T\"}");
  c1_out = json_tokener_parse("{\"queue\": \"billing\", \"urgency\": 3}");
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 0, given, NULL, &out, &err),
                  PC_OK);
  text = compact(out);
  PC_ASSERT_STR_EQ(text, "{\"ticket\":\"T\",\"policy\":\"P\"}");
  pc_free(text);
  json_object_put(out);
  outs[0] = c1_out;
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 1, given, outs, &out, &err),
                  PC_OK);
  text = compact(out);
  PC_ASSERT_STR_EQ(text, "{\"ticket\":\"T\",\"queue\":\"billing\","
                   "\"urgency\":3,\"tone\":\"friendly\"}");
  pc_free(text);
  /* The result holds copies: changing it leaves the step output alone. */
  json_object_object_add(out, "queue", json_object_new_string("other"));
  text = compact(c1_out);
  PC_ASSERT_STR_EQ(text, "{\"queue\":\"billing\",\"urgency\":3}");
  pc_free(text);
  json_object_put(out);
  json_object_put(given);
  json_object_put(c1_out);
  pc_program_free(prog);
}

static void test_step_inputs_name_what_is_missing(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  pc_error err = PC_ERROR_INIT;
  struct json_object *given, *partial, *out = (struct json_object *)&out;
  const struct json_object *outs[1] = {NULL};

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  given = json_tokener_parse("{\"ticket\": \"T\"}");
  partial = json_tokener_parse("{\"queue\": \"bug\"}");
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 1, given, NULL, &out, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(out);
  PC_ASSERT_STR_EQ(err.message, "step 'reply': input 'queue': step 'c1' has "
                   "no output yet");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 1, given, outs, &out, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "step 'reply': input 'queue': step 'c1' has "
                   "no output yet");
  pc_error_clear(&err);
  outs[0] = partial;
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 1, given, outs, &out, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "step 'reply': input 'urgency': the output "
                   "of step 'c1' has no 'urgency'");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 0, given, NULL, &out, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "step 'c1': input 'policy': program input "
                   "'policy' is not given");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_program_step_inputs(prog, 2, given, NULL, &out, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(out);
  json_object_put(given);
  json_object_put(partial);
  pc_program_free(prog);
}

static void test_program_outputs_collect_step_results(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  pc_error err = PC_ERROR_INIT;
  struct json_object *given, *o1, *o2, *out = NULL;
  const struct json_object *outs[2];
  char *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  given = json_tokener_parse("{\"ticket\": \"T\", \"policy\": \"P\"}");
  o1 = json_tokener_parse("{\"queue\": \"bug\", \"urgency\": 5}");
  o2 = json_tokener_parse("{\"reasoning\": \"R\", \"reply\": \"Hi\"}");
  outs[0] = o1;
  outs[1] = o2;
  CU_ASSERT_EQUAL(pc_program_outputs(prog, given, outs, &out, &err), PC_OK);
  text = compact(out);
  PC_ASSERT_STR_EQ(text, "{\"queue\":\"bug\",\"urgency\":5,\"reply\":\"Hi\","
                   "\"why\":\"R\"}");
  pc_free(text);
  json_object_put(out);
  outs[1] = NULL;
  CU_ASSERT_EQUAL(pc_program_outputs(prog, given, outs, &out, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "output 'reply': step 'reply' has no output "
                   "yet");
  CU_ASSERT_PTR_NULL(out);
  json_object_put(given);
  json_object_put(o1);
  json_object_put(o2);
  pc_program_free(prog);
}

static void test_set_state_replaces_or_refuses_and_keeps(void)
{
  pc_program *prog = load_fixture(QA_COT);
  const pc_predictor *p;
  struct json_object *demos, *bad;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  p = pc_program_predictor(prog, "qa.predict");
  demos = json_tokener_parse("[{\"question\": \"q\", \"answer\": \"a\"}]");
  bad = json_tokener_parse("[{\"question\": \"q\"}, \"oops\"]");
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "qa", "x", NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "qa.predict", "New.", bad),
                  PC_E_INVALID_ARG);
  /* Refused as a whole: the instructions did not change either. */
  PC_ASSERT_STR_EQ(p->signature->instructions,
                   p->module->signature->instructions);
  CU_ASSERT_EQUAL(json_object_array_length(p->demos), 0);
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "qa.predict", "New.", demos),
                  PC_OK);
  json_object_put(demos);  /* the program keeps its own copy */
  PC_ASSERT_STR_EQ(p->signature->instructions, "New.");
  CU_ASSERT_EQUAL(json_object_array_length(p->demos), 1);
  /* An empty text restores the default sentence. */
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "qa.predict", "", NULL), PC_OK);
  PC_ASSERT_STR_EQ(p->signature->instructions,
                   p->module->signature->instructions);
  CU_ASSERT_EQUAL(json_object_array_length(p->demos), 1);
  json_object_put(bad);
  pc_program_free(prog);
}

/* ---- out of memory ----------------------------------------------------- */

/* Fail allocation 1, 2, ... of a load until it succeeds: each failure must
 * be PC_E_NOMEM with nothing returned (valgrind checks nothing leaks). */
static void load_under_failing_allocations(const char *rel)
{
  pc_program *prog = NULL;
  unsigned long n;
  int rc = PC_E_NOMEM;

  for (n = 1; n < 100000 && rc == PC_E_NOMEM; n++) {
    pc_error err = PC_ERROR_INIT;

    prog = (pc_program *)&prog;
    pc__alloc_fail_at(n);
    rc = pc_program_load(pc_test_path(rel), &prog, &err);
    pc__alloc_fail_at(0);
    if (rc != PC_OK) {
      CU_ASSERT_EQUAL(rc, PC_E_NOMEM);
      CU_ASSERT_EQUAL(err.code, PC_E_NOMEM);
      CU_ASSERT_PTR_NULL(prog);
    }
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT_TRUE(n > 20);  /* many allocations were failed in turn */
  pc_program_free(prog);
}

static void test_load_survives_every_allocation_failure(void)
{
  load_under_failing_allocations(SUPPORT);
  load_under_failing_allocations(QA_COT);  /* the generated flow */
}

static void test_save_survives_every_allocation_failure(void)
{
  pc_program *prog = load_fixture(SUPPORT);
  pc_error err = PC_ERROR_INIT;
  char path[4096];
  char *text, *orig;
  unsigned long n;
  size_t len = 0;
  int rc = PC_E_NOMEM;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  snprintf(path, sizeof(path), "%s", pc_test_tmpfile("", 0, ".json"));
  for (n = 1; n < 100000 && rc == PC_E_NOMEM; n++) {
    pc_error_clear(&err);
    pc__alloc_fail_at(n);
    rc = pc_program_save(prog, path, &err);
    pc__alloc_fail_at(0);
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT_TRUE(n > 2);
  text = pc_test_read_file(path, &len);
  orig = pc_test_read_file(pc_test_path(SUPPORT), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  PC_ASSERT_STR_EQ(text, orig);
  pc_free(text);
  pc_free(orig);
  pc_program_free(prog);
}

/* Every module goes through its type's table: predict and
 * chain_of_thought keep their predictor paths, a CoT step exposes
 * "reasoning" to later steps, and another type's members are kept and
 * written back in the file's order. */
static void test_module_types_set_io_predictors_and_spec(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_module *cot, *plug;
  struct json_object *root, *mods, *m;

  CU_ASSERT_EQUAL_FATAL(load_quoted(HEAD "'modules': {"
    "'think': {'signature': 'question -> answer', 'type': "
    "'chain_of_thought'}, "
    "'p': {'type': 'plugin', 'plugin': 'x', 'settings': {'z': 1, 'a': 2}, "
    "'signature': 'question, why -> answer', 'uses': ['think']}}, "
    "'flow': [{'call': 'think', 'inputs': {'question': '$input.q'}}, "
    "{'call': 'p', 'inputs': {'question': '$input.q', "
    "'why': '$think.reasoning'}}], 'outputs': {'a': '$p.answer'}}",
    &prog, &err), PC_OK);
  cot = pc_program_module(prog, "think");
  plug = pc_program_module(prog, "p");
  CU_ASSERT_PTR_EQUAL(cot->vt, pc_module_type_find("chain_of_thought"));
  CU_ASSERT_EQUAL(cot->n_predictors, 1);
  PC_ASSERT_STR_EQ(cot->predictors[0]->path, "think.predict");
  CU_ASSERT_PTR_NOT_NULL(pc_signature_find(pc_module_io(cot), "reasoning",
                                           1));
  CU_ASSERT_PTR_NULL(pc_signature_find(cot->signature, "reasoning", 1));
  CU_ASSERT_EQUAL(plug->type, PC_MODULE_OTHER);
  CU_ASSERT_EQUAL(plug->n_predictors, 0);
  CU_ASSERT_PTR_EQUAL(pc_program_default_predictor(prog),
                      cot->predictors[0]);
  root = pc_program_to_json(prog);
  json_object_object_get_ex(root, "modules", &mods);
  json_object_object_get_ex(mods, "think", &m);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                   "{\"signature\":\"question -> answer\",\"type\":"
                   "\"chain_of_thought\"}");
  json_object_object_get_ex(mods, "p", &m);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                   "{\"type\":\"plugin\",\"plugin\":\"x\",\"settings\":"
                   "{\"z\":1,\"a\":2},\"signature\":\"question, why -> "
                   "answer\",\"uses\":[\"think\"]}");
  json_object_put(root);
  pc_program_free(prog);
  /* A type without "signature" refuses one, and a type's own members are
   * refused on another type. */
  expect_invalid(HEAD "'modules': {'m': {'type': 'predict', "
                 "'signature': 'a -> b', 'plugin': 'x'}}}",
                 "prog.json: modules.m.plugin: unknown member (expected "
                 "type, signature or config)");
}

static CU_TestInfo program_tests[] = {
  {"module types set io, predictors and spec",
   test_module_types_set_io_predictors_and_spec},
  {"single predict module gets every input",
   test_single_predict_module_gets_every_input},
  {"chain_of_thought prepends reasoning",
   test_chain_of_thought_prepends_reasoning},
  {"multi-step flow resolves ids and references",
   test_multi_step_flow_resolves_ids_and_references},
  {"constants of any JSON type are kept",
   test_constants_of_any_json_type_are_kept},
  {"$$ is a literal dollar", test_double_dollar_is_a_literal_dollar},
  {"state sets instructions and demos",
   test_state_sets_instructions_and_demos},
  {"signature may be a JSON object", test_signature_may_be_a_json_object},
  {"inputs are derived in order of first use",
   test_inputs_are_derived_in_order_of_first_use},
  {"declared inputs keep their order",
   test_declared_inputs_keep_their_order},
  {"modules keep file order", test_modules_keep_file_order},
  {"config is kept and shared with the predictor",
   test_config_is_kept_and_shared_with_predictor},
  {"default predictor is the first step's; str takes any type",
   test_default_predictor_is_first_steps_and_str_takes_any},
  {"Optional input accepts its inner type",
   test_optional_input_accepts_its_inner_type},
  {"wrong or missing schema is refused",
   test_wrong_or_missing_schema_is_refused},
  {"missing or empty modules are refused",
   test_missing_or_empty_modules_are_refused},
  {"unknown module type names the path",
   test_unknown_module_type_names_the_path},
  {"bad signature carries path and column",
   test_bad_signature_carries_path_and_column},
  {"config settings are checked", test_config_settings_are_checked},
  {"unbound module input is refused", test_unbound_module_input_is_refused},
  {"binding a non-input is refused", test_binding_a_non_input_is_refused},
  {"reference to unknown step is refused",
   test_reference_to_unknown_step_is_refused},
  {"self reference is a cycle", test_self_reference_is_a_cycle},
  {"forward reference is a cycle", test_forward_reference_is_a_cycle},
  {"reference to unknown field is refused",
   test_reference_to_unknown_field_is_refused},
  {"type mismatch is refused", test_type_mismatch_is_refused},
  {"undeclared input is refused", test_undeclared_input_is_refused},
  {"flow and outputs go together", test_flow_and_outputs_go_together},
  {"unknown members are refused", test_unknown_members_are_refused},
  {"state for unknown path is refused",
   test_state_for_unknown_path_is_refused},
  {"state with bad member is refused",
   test_state_with_bad_member_is_refused},
  {"duplicate step ids are refused", test_duplicate_step_ids_are_refused},
  {"malformed reference is refused", test_malformed_reference_is_refused},
  {"chain_of_thought needs 'reasoning' free",
   test_chain_of_thought_needs_reasoning_free},
  {"not JSON or missing file names the file",
   test_not_json_or_missing_file_names_the_file},
  {"round trip gives the same bytes", test_round_trip_gives_the_same_bytes},
  {"save twice gives identical files",
   test_save_twice_gives_identical_files},
  {"a compiled program round trips", test_compiled_program_round_trips},
  {"state model round trips", test_state_model_round_trips},
  {"state is written only when it differs",
   test_state_is_written_only_when_it_differs},
  {"save failure names the path", test_save_failure_names_the_path},
  {"step inputs resolve bindings", test_step_inputs_resolve_bindings},
  {"step inputs name what is missing", test_step_inputs_name_what_is_missing},
  {"program outputs collect step results",
   test_program_outputs_collect_step_results},
  {"set_state replaces, or refuses and keeps",
   test_set_state_replaces_or_refuses_and_keeps},
  {"load survives every allocation failure",
   test_load_survives_every_allocation_failure},
  {"save survives every allocation failure",
   test_save_survives_every_allocation_failure},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"program", NULL, NULL, NULL, NULL, program_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
