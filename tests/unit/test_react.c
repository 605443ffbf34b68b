/*
 * tests/unit/test_react.c: core/module_react.c with the chat adapter, the
 * sim's agent support (plugins/lm-sim/sim_agent.c) and tools; suite
 * "react". The golden prompts under tests/golden/react/ were written by
 * hand from DSPy's ReAct and ChatAdapter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "harness.h"
#include "loader.h"
#include "module.h"
#include "predict.h"
#include "program.h"
#include "runtime.h"

int pc__react_format_trajectory(const struct json_object *traj, pc_buf *out,
                                pc_error *err);

static pc_registry *reg;
static pc_adapter *chat;

static const char *fixture_dir(void)
{
  static char path[4096];
  const char *b = getenv("PC_TEST_BUILDDIR");

  snprintf(path, sizeof(path), "%s/tests/plugins/tools/.libs",
           (b && *b) ? b : ".");
  return path;
}

static int setup(void)
{
  pc_error err = PC_ERROR_INIT;

  reg = pc_registry_new();
  if (!reg || pc_registry_load_default(reg, fixture_dir(), &err) ||
      pc_adapter_open(reg, "chat", NULL, &chat, &err)) {
    fprintf(stderr, "react setup: %s\n", err.message);
    return 1;
  }
  return 0;
}

static int teardown(void)
{
  pc_adapter_close(chat);
  pc_registry_free(reg);
  return 0;
}

/* A program from JSON text; NULL (and the message in err) on failure. */
static pc_program *program(const char *text, pc_error *err)
{
  struct json_object *root = json_tokener_parse(text);
  pc_program *prog = NULL;

  if (!root) {
    pc_error_set(err, PC_E_PARSE, "test: bad JSON");
    return NULL;
  }
  pc_program_from_json("prog.json", root, &prog, err);
  json_object_put(root);
  return prog;
}

/* ------------------------------------------------------------------------ */
/* Loading.                                                                 */

static const char golden_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {\"agent\": {"
  "\"type\": \"react\", \"signature\": \"question -> answer\", "
  "\"tools\": [{\"name\": \"lookup\", \"description\": \"Finds almanac "
  "passages about a topic.\\nReturns up to three.\", \"args\": {\"topic\": "
  "{\"type\": \"string\"}}}, {\"name\": \"tally\", \"args\": {\"a\": "
  "{\"type\": \"integer\"}, \"b\": {\"type\": \"integer\"}}}]}}}";

static void test_predictors_follow_dspy_paths(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = program(golden_program, &err);
  const pc_module *m;
  const pc_signature *io;

  if (!prog)
    fprintf(stderr, "load: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_EQUAL(pc_program_n_predictors(prog), 2);
  PC_ASSERT_STR_EQ(pc_program_predictor_at(prog, 0)->path, "agent.react");
  PC_ASSERT_STR_EQ(pc_program_predictor_at(prog, 1)->path,
                   "agent.extract.predict");
  m = pc_program_module(prog, "agent");
  io = pc_module_io(m);
  CU_ASSERT_EQUAL_FATAL(io->n_outputs, 3);
  PC_ASSERT_STR_EQ(io->outputs[0].name, "trajectory");
  PC_ASSERT_STR_EQ(io->outputs[1].name, "reasoning");
  PC_ASSERT_STR_EQ(io->outputs[2].name, "answer");
  CU_ASSERT_EQUAL(io->n_inputs, 1);
  pc_program_free(prog);
}

static void expect_load_error(const char *module, const char *needle)
{
  char text[1024];
  pc_error err = PC_ERROR_INIT;
  pc_program *prog;

  snprintf(text, sizeof(text), "{\"schema\": \"promptc.program/1\", "
           "\"modules\": {\"agent\": %s}}", module);
  prog = program(text, &err);
  CU_ASSERT_PTR_NULL(prog);
  if (!strstr(err.message, needle))
    fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
  pc_program_free(prog);
}

static void test_bad_members_are_named(void)
{
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [\"calculator\"], \"max_iters\": 0}",
                    "modules.agent.max_iters: expected an integer from 1 "
                    "to 100");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [\"calculator\"], \"max_iters\": 101}",
                    "max_iters: expected an integer from 1 to 100");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\"}",
                    "modules.agent.tools: expected an array");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [\"finish\"]}",
                    "tools[0]: 'finish' is not a valid tool name");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [\"calculator\", \"calculator\"]}",
                    "tools[1]: 'calculator' is listed twice");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [{\"name\": \"x\", \"args\": 3}]}",
                    "tools[0].args: expected an object");
  expect_load_error("{\"type\": \"react\", \"signature\": \"q -> a\", "
                    "\"tools\": [\"calculator\"], \"k\": 3}", "k");
}

/* ------------------------------------------------------------------------ */
/* Golden prompts.                                                          */

/* The message `i` (0-based) of golden file `name`: role and content, both
 * owned. Returns the number of messages. */
static size_t golden_messages(const char *name, char **roles,
                              char **contents, size_t max)
{
  char rel[256];
  char *text, *p;
  size_t n = 0, len = 0;

  snprintf(rel, sizeof(rel), "golden/react/%s", name);
  text = pc_test_read_file(pc_test_path(rel), &len);
  if (!text)
    return 0;
  p = text;
  while (n < max && (p = strstr(p, "=== ")) != NULL) {
    char *role = p + 4, *role_end = strstr(role, " ===\n"), *body, *next;

    if (!role_end)
      break;
    body = role_end + 5;
    next = strstr(body, "\n=== ");
    roles[n] = pc_strndup(role, (size_t)(role_end - role));
    if (next) {
      contents[n] = pc_strndup(body, (size_t)(next - body));
      p = next + 1;
    } else {
      size_t bl = strlen(body);

      if (bl && body[bl - 1] == '\n')
        bl--;
      contents[n] = pc_strndup(body, bl);
      p = body + strlen(body);
    }
    n++;
  }
  pc_free(text);
  return n;
}

static struct json_object *golden_trajectory(void)
{
  return json_tokener_parse(
    "{\"thought_0\": \"I should look up when both towns were founded.\", "
    "\"tool_name_0\": \"lookup\", "
    "\"tool_args_0\": {\"topic\": \"Aldermoor Brindle founding\"}, "
    "\"observation_0\": [\"Aldermoor | Founded in 1852 by river traders.\", "
    "\"Brindle | Founded in 1987 as a rail stop.\"], "
    "\"thought_1\": \"Now I subtract the years.\", "
    "\"tool_name_1\": \"tally\", \"tool_args_1\": {\"a\": 1987, \"b\": 1852}, "
    "\"observation_1\": \"Execution error in tally: planted failure\"}");
}

/* Format predictor `path` of the golden program with `traj` and compare
 * the last `n_want` messages with the golden file. */
static void check_golden(const char *path, const struct json_object *traj,
                         const char *file)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = program(golden_program, &err);
  const pc_predictor *p;
  struct json_object *inputs = json_object_new_object();
  pc_messages msgs = {0};
  pc_buf t;
  char *roles[4] = {0}, *contents[4] = {0};
  size_t n_want, first;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  p = pc_program_predictor(prog, path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  pc_buf_init(&t, 0);
  CU_ASSERT_EQUAL(pc__react_format_trajectory(traj, &t, &err), PC_OK);
  json_object_object_add(inputs, "question", json_object_new_string(
    "How many years passed between the founding of Aldermoor and "
    "Brindle?"));
  json_object_object_add(inputs, "trajectory",
                         json_object_new_string(t.data ? t.data : ""));
  CU_ASSERT_EQUAL_FATAL(pc_adapter_format(chat, p->signature, NULL, inputs,
                                          &msgs, &err), PC_OK);
  n_want = golden_messages(file, roles, contents, 4);
  CU_ASSERT_TRUE_FATAL(n_want > 0 && n_want <= msgs.n);
  first = msgs.n - n_want;
  for (size_t i = 0; i < n_want; i++) {
    PC_ASSERT_STR_EQ(msgs.items[first + i].role, roles[i]);
    PC_ASSERT_STR_EQ(msgs.items[first + i].content, contents[i]);
    pc_free(roles[i]);
    pc_free(contents[i]);
  }
  pc_messages_clear(&msgs);
  pc_buf_free(&t);
  json_object_put(inputs);
  pc_program_free(prog);
}

static void test_react_prompt_matches_golden(void)
{
  struct json_object *traj = golden_trajectory();

  check_golden("agent.react", traj, "react-step.txt");
  json_object_put(traj);
}

static void test_extract_prompt_matches_golden(void)
{
  struct json_object *traj = golden_trajectory();

  check_golden("agent.extract.predict", traj, "extract.txt");
  json_object_put(traj);
}

static void test_first_step_has_empty_trajectory(void)
{
  struct json_object *traj = json_object_new_object();
  pc_buf t;
  pc_error err = PC_ERROR_INIT;

  pc_buf_init(&t, 0);
  CU_ASSERT_EQUAL(pc__react_format_trajectory(traj, &t, &err), PC_OK);
  CU_ASSERT_EQUAL(t.len, 0);
  pc_buf_free(&t);
  check_golden("agent.react", traj, "first-step.txt");
  json_object_put(traj);
}

/* ------------------------------------------------------------------------ */
/* Running on the sim.                                                      */

static const char knowledge[] =
  "{\"id\": \"gold\", \"question\": \"What is 1987 minus 1852?\", "
  "\"answer\": \"135\", \"tool_calls\": [{\"tool\": \"calculator\", "
  "\"args\": {\"expression\": \"1987 - 1852\"}, \"expect\": \"135\"}]}\n"
  "{\"id\": \"broken\", \"question\": \"Ask the broken tool.\", "
  "\"answer\": \"42\", \"tool_calls\": [{\"tool\": \"broken\", "
  "\"args\": {\"query\": \"x\"}, \"expect\": \"forty-two\"}]}\n"
  "{\"id\": \"slow\", \"question\": \"Ask the slow tool.\", "
  "\"answer\": \"7\", \"tool_calls\": [{\"tool\": \"slow\", "
  "\"args\": {\"ms\": 400}}]}\n"
  "{\"id\": \"long\", \"question\": \"Add three times.\", "
  "\"answer\": \"6\", \"tool_calls\": ["
  "{\"tool\": \"calculator\", \"args\": {\"expression\": \"1 + 1\"}}, "
  "{\"tool\": \"calculator\", \"args\": {\"expression\": \"2 + 2\"}}, "
  "{\"tool\": \"calculator\", \"args\": {\"expression\": \"4 + 2\"}}]}\n"
  "{\"id\": \"nosuch\", \"question\": \"Use a tool nobody has.\", "
  "\"answer\": \"9\", \"tool_calls\": [{\"tool\": \"teleport\", "
  "\"args\": {}}]}\n"
  "{\"id\": \"echo\", \"question\": \"Echo a list and more.\", "
  "\"answer\": \"5\", \"tool_calls\": [{\"tool\": \"echo\", "
  "\"args\": {\"text\": \"[] and more\"}}]}\n";

static const char agent_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {\"agent\": {"
  "\"type\": \"react\", \"signature\": \"question -> answer\", "
  "\"tools\": [\"calculator\", {\"name\": \"broken\", \"args\": "
  "{\"query\": {\"type\": \"string\"}}}, {\"name\": \"slow\", \"args\": "
  "{\"ms\": {\"type\": \"integer\"}}}], \"max_iters\": 2}}}";

/* The agent with the fixture's echo tool, whose output the test picks. */
static const char echo_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {\"agent\": {"
  "\"type\": \"react\", \"signature\": \"question -> answer\", "
  "\"tools\": [{\"name\": \"echo\", \"args\": {\"text\": "
  "{\"type\": \"string\"}}}], \"max_iters\": 2}}}";

typedef struct sim_env {
  pc_config *cfg;
  pc_runtime *rt;
  pc_program *prog;
} sim_env;

/* Open the sim runtime and the agent of program text `prog_text`;
 * `lm_extra` (may be "") adds members to the sim's settings, e.g.
 * "\"max_context_tokens\": 900, ". */
static int env_open_prog(sim_env *e, const char *lm_extra,
                         const char *prog_text)
{
  char text[2048];
  const char *kpath, *cpath;
  pc_runtime_opts o;
  pc_error err = PC_ERROR_INIT;

  memset(e, 0, sizeof(*e));
  kpath = pc_test_tmpfile(knowledge, sizeof(knowledge) - 1, ".jsonl");
  snprintf(text, sizeof(text),
           "{\"lm\": {\"provider\": \"sim\", \"knowledge\": \"%s\", %s"
           "\"base_skill\": 1.0, \"max_skill\": 1.0, "
           "\"malformed_rate\": 0.0}, "
           "\"tools\": {\"broken\": {\"type\": \"fx_fail\"}, "
           "\"slow\": {\"type\": \"fx_sleep\", \"timeout_ms\": 100}, "
           "\"echo\": {\"type\": \"fx_echo\"}}}",
           kpath, lm_extra);
  cpath = pc_test_tmpfile(text, strlen(text), ".json");
  if (pc_config_load(cpath, &e->cfg, &err))
    goto fail;
  memset(&o, 0, sizeof(o));
  o.cfg = e->cfg;
  o.reg = reg;
  o.threads = 1;
  o.no_cache = 1;
  if (pc_runtime_open(&o, &e->rt, &err) ||
      !(e->prog = program(prog_text, &err)))
    goto fail;
  return 0;
fail:
  fprintf(stderr, "react env: %s\n", err.message);
  return -1;
}

/* The usual agent, with `lm_extra` as env_open_prog takes it. */
static int env_open_with(sim_env *e, const char *lm_extra)
{
  return env_open_prog(e, lm_extra, agent_program);
}

static int env_open(sim_env *e)
{
  return env_open_with(e, "");
}

static void env_close(sim_env *e)
{
  pc_program_free(e->prog);
  pc_runtime_close(e->rt);
  pc_config_free(e->cfg);
}

/* Run the agent on `question`; the outputs (owned) or NULL. */
static struct json_object *run_agent(sim_env *e, const char *question,
                                     size_t *n_calls)
{
  pc_run_ctx ctx;
  struct json_object *in = json_object_new_object(), *out = NULL;
  pc_error err = PC_ERROR_INIT;

  json_object_object_add(in, "question", json_object_new_string(question));
  pc_run_ctx_init(&ctx, e->rt);
  if (pc_module_forward(&ctx, pc_program_module(e->prog, "agent"), in, &out,
                        &err))
    fprintf(stderr, "forward: %s\n", err.message);
  *n_calls = ctx.trace ? json_object_array_length(ctx.trace) : 0;
  pc_run_ctx_clear(&ctx);
  json_object_put(in);
  return out;
}

/* Run the agent on `question` with detailed tracing. Returns the run's
 * code; *out (owned, NULL on failure) gets the outputs, *trace (owned) the
 * call records, `err` the error. */
static int run_agent_traced(sim_env *e, const char *question,
                            struct json_object **out,
                            struct json_object **trace, pc_error *err)
{
  pc_run_ctx ctx;
  struct json_object *in = json_object_new_object();
  int rc;

  json_object_object_add(in, "question", json_object_new_string(question));
  pc_run_ctx_init(&ctx, e->rt);
  ctx.flags |= PC_RUN_TRACE_DETAIL;
  rc = pc_module_forward(&ctx, pc_program_module(e->prog, "agent"), in, out,
                         err);
  *trace = json_object_get(ctx.trace);
  pc_run_ctx_clear(&ctx);
  json_object_put(in);
  return rc;
}

/* The prompt tokens of call record `i` of `trace`, or -1. */
static int64_t prompt_tokens(struct json_object *trace, size_t i)
{
  struct json_object *rec, *usage, *v;

  if (!trace || i >= json_object_array_length(trace))
    return -1;
  rec = json_object_array_get_idx(trace, i);
  if (!json_object_object_get_ex(rec, "usage", &usage) ||
      !json_object_object_get_ex(usage, "prompt_tokens", &v))
    return -1;
  return json_object_get_int64(v);
}

static const char *member(struct json_object *o, const char *a,
                          const char *b)
{
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(o, a, &v))
    return NULL;
  if (b && !json_object_object_get_ex(v, b, &v))
    return NULL;
  return json_object_get_string(v);
}

static void test_agent_calls_gold_tool_then_finishes(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out;

  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  out = run_agent(&e, "What is 1987 minus 1852?", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "tool_name_0"), "calculator");
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_0"), "135");
  PC_ASSERT_STR_EQ(member(out, "trajectory", "tool_name_1"), "finish");
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_1"), "Completed.");
  PC_ASSERT_STR_EQ(member(out, "answer", NULL), "135");
  CU_ASSERT_PTR_NOT_NULL(member(out, "reasoning", NULL));
  CU_ASSERT_EQUAL(calls, 3);  /* two react steps and the extract */
  json_object_put(out);
  env_close(&e);
}

static void test_tool_failure_becomes_observation(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out;

  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  out = run_agent(&e, "Ask the broken tool.", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_0"),
                   "Execution error in broken: planted failure");
  PC_ASSERT_STR_EQ(member(out, "trajectory", "tool_name_1"), "finish");
  /* The gold observation never came, so the sim cannot know the answer. */
  CU_ASSERT_NOT_EQUAL(strcmp(member(out, "answer", NULL), "42"), 0);
  json_object_put(out);
  env_close(&e);
}

static void test_tool_timeout_becomes_observation(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out;

  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  out = run_agent(&e, "Ask the slow tool.", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_0"),
                   "Execution error in slow: timed out after 100 ms");
  CU_ASSERT_PTR_NOT_NULL(member(out, "answer", NULL));
  json_object_put(out);
  env_close(&e);
  /* Let the abandoned call (400 ms) return before the program ends, so
   * valgrind sees its thread finish. */
  {
    struct timespec ts = {0, 600000000L};

    nanosleep(&ts, NULL);
  }
}

static void test_observation_is_a_list_only_when_wholly_json(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out, *traj = NULL, *obs = NULL;

  /* "[] and more" starts like a JSON array but goes on: it is text, kept
   * whole, not the empty list its first two bytes make. */
  CU_ASSERT_EQUAL_FATAL(env_open_prog(&e, "", echo_program), 0);
  out = run_agent(&e, "Echo a list and more.", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "tool_name_0"), "echo");
  CU_ASSERT_TRUE(json_object_object_get_ex(out, "trajectory", &traj));
  CU_ASSERT_TRUE(json_object_object_get_ex(traj, "observation_0", &obs));
  CU_ASSERT_TRUE(json_object_is_type(obs, json_type_string));
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_0"),
                   "[] and more");
  json_object_put(out);
  env_close(&e);
}

static void test_max_iters_ends_loop_and_extract_runs(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out;

  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  out = run_agent(&e, "Add three times.", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_0"), "2");
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_1"), "4");
  CU_ASSERT_PTR_NULL(member(out, "trajectory", "tool_name_2"));
  CU_ASSERT_PTR_NOT_NULL(member(out, "answer", NULL));
  CU_ASSERT_EQUAL(calls, 3);  /* max_iters 2, then the extract */
  json_object_put(out);
  env_close(&e);
}

static void test_unparseable_step_ends_loop(void)
{
  sim_env e;
  size_t calls;
  struct json_object *out, *traj = NULL;

  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  /* The sim names a tool outside the Literal: neither adapter parses it,
   * so the loop ends as DSPy's does on an invalid tool, and the extract
   * step still answers. */
  out = run_agent(&e, "Use a tool nobody has.", &calls);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_TRUE(json_object_object_get_ex(out, "trajectory", &traj));
  CU_ASSERT_EQUAL(json_object_object_length(traj), 0);
  CU_ASSERT_PTR_NOT_NULL(member(out, "answer", NULL));
  json_object_put(out);
  env_close(&e);
}

/* The second react step overflows a context window that the first fits
 * in: as DSPy does, the oldest step is dropped and the call is made again
 * on the shorter trajectory, which stays trimmed in the outputs. */
static void test_context_overflow_drops_oldest_step(void)
{
  sim_env e;
  struct json_object *out = NULL, *trace = NULL;
  pc_error err = PC_ERROR_INIT;
  int64_t step0, step1;
  char extra[96];

  /* Measure the prompts without a limit: the react prompt (with the tool
   * list) is the longest, and grows by a step. */
  CU_ASSERT_EQUAL_FATAL(env_open(&e), 0);
  CU_ASSERT_EQUAL_FATAL(run_agent_traced(&e, "Add three times.", &out,
                                         &trace, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(trace), 3);
  step0 = prompt_tokens(trace, 0);
  step1 = prompt_tokens(trace, 1);
  CU_ASSERT_TRUE_FATAL(step0 > 0 && step0 < step1);
  CU_ASSERT_TRUE_FATAL(prompt_tokens(trace, 2) < step0);
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_1"), "4");
  json_object_put(out);
  json_object_put(trace);
  env_close(&e);

  /* One token short of the second step's prompt. */
  snprintf(extra, sizeof(extra), "\"max_context_tokens\": %lld, ",
           (long long)(step1 - 1));
  CU_ASSERT_EQUAL_FATAL(env_open_with(&e, extra), 0);
  CU_ASSERT_EQUAL(run_agent_traced(&e, "Add three times.", &out, &trace,
                                   &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_PTR_NULL(member(out, "trajectory", "thought_0"));
  CU_ASSERT_PTR_NULL(member(out, "trajectory", "observation_0"));
  PC_ASSERT_STR_EQ(member(out, "trajectory", "tool_name_1"), "calculator");
  /* Step 1 saw an empty trajectory, so the agent began again. */
  PC_ASSERT_STR_EQ(member(out, "trajectory", "observation_1"), "2");
  CU_ASSERT_PTR_NOT_NULL(member(out, "answer", NULL));
  /* Three answered calls (the refused one was never answered); step 1 was
   * asked with step 0's prompt. */
  CU_ASSERT_EQUAL(json_object_array_length(trace), 3);
  CU_ASSERT_EQUAL(prompt_tokens(trace, 1), step0);
  json_object_put(out);
  json_object_put(trace);
  env_close(&e);
}

/* A window the first react prompt already overflows: nothing to drop, so
 * the loop ends; the extract step overflows too and the run fails with
 * the context-length code, naming the predictor. */
static void test_context_overflow_without_steps_fails(void)
{
  sim_env e;
  struct json_object *out = NULL, *trace = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(env_open_with(&e, "\"max_context_tokens\": 50, "),
                        0);
  CU_ASSERT_EQUAL(run_agent_traced(&e, "Add three times.", &out, &trace,
                                   &err), PC_E_CONTEXT_LENGTH);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "agent.extract.predict: the "
                                "trajectory has no step left to drop"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "maximum context length is "
                                "50 tokens"));
  json_object_put(out);
  json_object_put(trace);
  env_close(&e);
}

int main(void)
{
  CU_TestInfo tests[] = {
    {"predictors follow DSPy paths", test_predictors_follow_dspy_paths},
    {"bad members are named", test_bad_members_are_named},
    {"react prompt matches golden", test_react_prompt_matches_golden},
    {"extract prompt matches golden", test_extract_prompt_matches_golden},
    {"first step has empty trajectory",
     test_first_step_has_empty_trajectory},
    {"agent calls gold tool then finishes",
     test_agent_calls_gold_tool_then_finishes},
    {"tool failure becomes observation",
     test_tool_failure_becomes_observation},
    {"tool timeout becomes observation",
     test_tool_timeout_becomes_observation},
    {"observation is a list only when wholly JSON",
     test_observation_is_a_list_only_when_wholly_json},
    {"max_iters ends loop and extract runs",
     test_max_iters_ends_loop_and_extract_runs},
    {"unparseable step ends loop", test_unparseable_step_ends_loop},
    {"context overflow drops oldest step",
     test_context_overflow_drops_oldest_step},
    {"context overflow without steps fails",
     test_context_overflow_without_steps_fails},
    CU_TEST_INFO_NULL,
  };
  CU_SuiteInfo suites[] = {
    {"react", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
  };

  return pc_test_run(suites);
}
