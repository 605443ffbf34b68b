/* tests/unit/test_modules_wrap.c: the wrapper module types best_of_n,
 * refine, multi_chain_comparison, parallel and ensemble (core/module_*.c)
 * on the sim LM with the chat adapter and metric-basic; suite
 * "modules_wrap". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "harness.h"
#include "json_text.h"
#include "loader.h"
#include "predict.h"
#include "program.h"
#include "run.h"
#include "runtime.h"
#include "signature.h"

#define N_ROWS 12

static pc_registry *reg;
static pc_config *cfg;

/* The knowledge: items whose input "expected" holds the gold answer, so a
 * reward can compare the prediction with an input. */
static char *make_knowledge(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  for (int i = 0; i < N_ROWS; i++)
    pc_buf_printf(&b, "{\"id\": \"k%02d\", \"question\": \"Which code word "
                  "goes with number %d?\", \"expected\": \"word%d\", "
                  "\"answer\": \"word%d\"}\n", i, i, i, i);
  return pc_buf_take(&b, NULL);
}

static int setup(void)
{
  pc_error err = PC_ERROR_INIT;
  char *rows = make_knowledge(), text[4096];
  const char *kpath, *cpath;

  if (!rows)
    return 1;
  kpath = pc_test_tmpfile(rows, strlen(rows), ".jsonl");
  pc_free(rows);
  snprintf(text, sizeof(text), "{\"lm\": {\"provider\": \"sim\", "
           "\"knowledge\": \"%s\", \"seed\": 5, \"malformed_rate\": 0}, "
           "\"adapter\": \"chat\"}", kpath);
  cpath = pc_test_tmpfile(text, strlen(text), ".json");
  if (pc_config_load(cpath, &cfg, &err) || !(reg = pc_registry_new()) ||
      pc_registry_load_default(reg, NULL, &err)) {
    fprintf(stderr, "modules_wrap setup: %s\n", err.message);
    return 1;
  }
  return 0;
}

static int teardown(void)
{
  pc_registry_free(reg);
  pc_config_free(cfg);
  return 0;
}

static pc_runtime *open_rt(int threads)
{
  pc_runtime_opts o;
  pc_runtime *rt = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&o, 0, sizeof(o));
  o.cfg = cfg;
  o.reg = reg;
  o.threads = threads;
  o.no_cache = 1;
  if (pc_runtime_open(&o, &rt, &err))
    fprintf(stderr, "runtime: %s\n", err.message);
  return rt;
}

static struct json_object *parse(const char *text)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;

  if (pc_json_parse(text, strlen(text), PC_JSON_PARSE_STRICT, &v, &err))
    fprintf(stderr, "json: %s\n", err.message);
  return v;
}

/* Load a program; on failure NULL, with the message in `err`. */
static pc_program *load(const char *text, pc_error *err)
{
  struct json_object *root = parse(text);
  pc_program *prog = NULL;

  if (root)
    pc_program_from_json("test.json", root, &prog, err);
  json_object_put(root);
  return prog;
}

/* The inputs of knowledge item `i`. */
static struct json_object *item_inputs(int i)
{
  char text[256];

  snprintf(text, sizeof(text), "{\"question\": \"Which code word goes with "
           "number %d?\", \"expected\": \"word%d\"}", i, i);
  return parse(text);
}

/* Call predictor `path` of `prog` once with rollout id `rid` at
 * temperature 1.0: what attempt `rid` of a wrapper must have asked. The
 * answer, as a new string, or NULL. */
static char *direct_answer(pc_runtime *rt, const pc_program *prog,
                           const char *path, const struct json_object *in,
                           int rid)
{
  pc_run_ctx ctx;
  struct json_object *ov, *out = NULL;
  pc_error err = PC_ERROR_INIT;
  char text[128];
  char *s = NULL;

  snprintf(text, sizeof(text), "{\"rollout_id\": %d, \"temperature\": 1.0}",
           rid);
  ov = parse(text);
  pc_run_ctx_init(&ctx, rt);
  ctx.overrides = ov;
  if (pc_predict(&ctx, pc_program_predictor(prog, path), in, &out, &err) ==
      PC_OK)
    s = pc_strdup(pc_json_str(out, "answer"));
  json_object_put(out);
  json_object_put(ov);
  pc_run_ctx_clear(&ctx);
  return s;
}

/* ------------------------------------------------------------------------ */
/* best_of_n                                                                */

static const char bon_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"qa\": {\"type\": \"predict\", \"signature\": "
  "\"question, expected -> answer\"},"
  "\"best\": {\"type\": \"best_of_n\", \"module\": \"qa\", \"n\": 5, "
  "\"reward\": {\"name\": \"exact_match\", \"field\": \"answer\", "
  "\"gold_field\": \"expected\"}, \"threshold\": %s}},"
  "\"flow\": [{\"call\": \"best\", \"inputs\": {\"question\": "
  "\"$input.question\", \"expected\": \"$input.expected\"}}],"
  "\"outputs\": {\"answer\": \"$best.answer\"}}";

static pc_program *bon(const char *threshold)
{
  char text[2048];
  pc_error err = PC_ERROR_INIT;
  pc_program *prog;

  snprintf(text, sizeof(text), bon_program, threshold);
  prog = load(text, &err);
  if (!prog)
    fprintf(stderr, "best_of_n: %s\n", err.message);
  return prog;
}

static void test_best_of_n_stops_at_the_first_attempt_that_reaches_the_threshold(void)
{
  pc_program *prog = bon("1.0");
  pc_runtime *rt = open_rt(1);
  int middle = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  for (int i = 0; i < N_ROWS; i++) {
    struct json_object *in = item_inputs(i), *out = NULL;
    pc_run_ctx ctx;
    pc_error err = PC_ERROR_INIT;
    char want[32];
    int first_right = -1;
    char *answers[5];

    snprintf(want, sizeof(want), "word%d", i);
    /* What attempts 0..4 (rollout ids 0..4 at temperature 1.0) answer. */
    for (int a = 0; a < 5; a++) {
      answers[a] = direct_answer(rt, prog, "qa", in, a);
      CU_ASSERT_PTR_NOT_NULL(answers[a]);
      if (first_right < 0 && answers[a] && !strcmp(answers[a], want))
        first_right = a;
    }
    pc_run_ctx_init(&ctx, rt);
    CU_ASSERT_EQUAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
    /* One LM call per attempt, up to and including the first right one;
     * all five when none is right. */
    CU_ASSERT_EQUAL(ctx.usage.calls,
                    (uint64_t)(first_right < 0 ? 5 : first_right + 1));
    if (first_right > 0)
      middle++;
    if (first_right >= 0)
      PC_ASSERT_STR_EQ(pc_json_str(out, "answer"), want);
    else
      PC_ASSERT_STR_EQ(pc_json_str(out, "answer"), answers[0]);
    /* Only the winning attempt's call is in the trace. */
    CU_ASSERT_EQUAL(json_object_array_length(ctx.trace), 1);
    PC_ASSERT_STR_EQ(pc_json_str(pc_json_member(json_object_array_get_idx(
                       ctx.trace, 0), "outputs"), "answer"),
                     pc_json_str(out, "answer"));
    for (int a = 0; a < 5; a++)
      pc_free(answers[a]);
    json_object_put(out);
    json_object_put(in);
    pc_run_ctx_clear(&ctx);
  }
  /* Some item needed a later rollout: the ids differ per attempt. */
  CU_ASSERT_TRUE(middle > 0);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

static void test_best_of_n_without_a_good_attempt_runs_all_and_keeps_the_first_best(void)
{
  pc_program *prog = bon("2.0");  /* a reward never reaches it */
  pc_runtime *rt = open_rt(1);
  size_t right = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  for (int i = 0; i < N_ROWS; i++) {
    struct json_object *in = item_inputs(i), *out = NULL;
    pc_run_ctx ctx;
    pc_error err = PC_ERROR_INIT;
    char want[32], *first = NULL;
    int any = 0;

    snprintf(want, sizeof(want), "word%d", i);
    for (int a = 0; a < 5; a++) {
      char *s = direct_answer(rt, prog, "qa", in, a);

      if (a == 0)
        first = pc_strdup(s);
      any |= s && !strcmp(s, want);
      pc_free(s);
    }
    pc_run_ctx_init(&ctx, rt);
    CU_ASSERT_EQUAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
    CU_ASSERT_EQUAL(ctx.usage.calls, 5);
    /* The best reward wins; among equals the earliest attempt. */
    PC_ASSERT_STR_EQ(pc_json_str(out, "answer"), any ? want : first);
    right += any;
    pc_free(first);
    json_object_put(out);
    json_object_put(in);
    pc_run_ctx_clear(&ctx);
  }
  CU_ASSERT_TRUE(right > 0);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

static void test_best_of_n_counts_rollouts_from_an_enclosing_rollout_id(void)
{
  pc_program *prog = bon("2.0");
  pc_runtime *rt = open_rt(1);
  struct json_object *in = item_inputs(3), *out = NULL;
  struct json_object *ov = parse("{\"rollout_id\": 7}");
  pc_run_ctx ctx;
  pc_error err = PC_ERROR_INIT;
  char *direct[5];
  int match = 1;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  pc_run_ctx_init(&ctx, rt);
  ctx.overrides = ov;
  ctx.flags = PC_RUN_TRACE_DETAIL;
  CU_ASSERT_EQUAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
  /* The history holds the five attempts: ids 7..11. */
  {
    struct json_object *h = pc_runtime_history(rt, 5);

    CU_ASSERT_EQUAL_FATAL(json_object_array_length(h), 5);
    for (int a = 0; a < 5; a++) {
      direct[a] = direct_answer(rt, prog, "qa", in, 7 + a);
      match &= direct[a] &&
        strstr(pc_json_str(json_object_array_get_idx(h, (size_t)a),
                           "completion"), direct[a]) != NULL;
    }
    json_object_put(h);
  }
  CU_ASSERT_TRUE(match);
  for (int a = 0; a < 5; a++)
    pc_free(direct[a]);
  json_object_put(out);
  json_object_put(in);
  json_object_put(ov);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* A reward that fails on every attempt (its gold field is no input). */
static const char bon_failing[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"qa\": {\"type\": \"predict\", \"signature\": \"question -> answer\"},"
  "\"best\": {\"type\": \"best_of_n\", \"module\": \"qa\", \"n\": 4, "
  "\"reward\": {\"name\": \"exact_match\", \"gold_field\": \"nope\"}, "
  "\"threshold\": 1.0%s}},"
  "\"flow\": [{\"call\": \"best\", \"inputs\": {\"question\": "
  "\"$input.question\"}}], \"outputs\": {\"answer\": \"$best.answer\"}}";

/* Run bon_failing with `extra` members; the LM calls made, the error in
 * `err`. */
static uint64_t run_failing(const char *extra, pc_error *err)
{
  char text[2048];
  pc_program *prog;
  pc_runtime *rt = open_rt(1);
  struct json_object *in = item_inputs(1), *out = NULL;
  pc_run_ctx ctx;
  uint64_t calls;

  snprintf(text, sizeof(text), bon_failing, extra);
  prog = load(text, err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  json_object_object_del(in, "expected");
  pc_run_ctx_init(&ctx, rt);
  CU_ASSERT_NOT_EQUAL(pc_program_run(&ctx, prog, in, &out, err), PC_OK);
  CU_ASSERT_PTR_NULL(out);
  calls = ctx.usage.calls;
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
  return calls;
}

static void test_best_of_n_counts_failed_attempts_against_fail_count(void)
{
  pc_error e1 = PC_ERROR_INIT, e2 = PC_ERROR_INIT;

  /* By default fail_count = n = 4, and as in DSPy each failure takes one
   * off: attempts 0, 1 and 2 pass (0 > 4, 1 > 3, 2 > 2 are false), and
   * attempt 3 raises (3 > 1). */
  CU_ASSERT_EQUAL(run_failing("", &e1), 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(e1.message, "best: attempt 4 (rollout id "
                                "3): "));
  CU_ASSERT_PTR_NOT_NULL(strstr(e1.message, "no field 'nope'"));
  /* As DSPy: attempt 0 fails (0 > 1 is false, fail_count becomes 0),
   * attempt 1 fails and 1 > 0 raises. */
  CU_ASSERT_EQUAL(run_failing(", \"fail_count\": 1", &e2), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(e2.message, "best: attempt 2 (rollout id "
                                "1): "));
}

static void test_best_of_n_checks_its_members(void)
{
  static const char *const bad[] = {
    "\"module\": \"nope\", \"n\": 2, \"reward\": \"exact_match\", "
    "\"threshold\": 1",
    "\"module\": \"qa\", \"n\": 33, \"reward\": \"exact_match\", "
    "\"threshold\": 1",
    "\"module\": \"qa\", \"n\": 2, \"threshold\": 1",
    "\"module\": \"qa\", \"n\": 2, \"reward\": 5, \"threshold\": 1",
    "\"module\": \"qa\", \"n\": 2, \"reward\": \"exact_match\"",
    "\"module\": \"qa\", \"n\": 2, \"reward\": \"exact_match\", "
    "\"threshold\": 1, \"signature\": \"a -> b\"",
  };
  static const char *const why[] = {
    "modules.b.module: no module 'nope'", "modules.b.n: expected an integer "
    "from 1 to 32", "modules.b.reward: missing", "modules.b.reward: expected",
    "modules.b.threshold: missing", "signature",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char text[1024];
    pc_error err = PC_ERROR_INIT;
    pc_program *prog;

    snprintf(text, sizeof(text), "{\"schema\": \"promptc.program/1\", "
             "\"modules\": {\"qa\": {\"type\": \"predict\", \"signature\": "
             "\"question -> answer\"}, \"b\": {\"type\": \"best_of_n\", %s}},"
             " \"flow\": [{\"call\": \"b\", \"inputs\": {\"question\": "
             "\"$input.q\"}}], \"outputs\": {\"answer\": \"$b.answer\"}}",
             bad[i]);
    prog = load(text, &err);
    CU_ASSERT_PTR_NULL(prog);
    CU_ASSERT_EQUAL(err.code, PC_E_INVALID_ARG);
    if (!strstr(err.message, why[i]))
      fprintf(stderr, "case %zu: %s\n", i, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, why[i]));
    pc_program_free(prog);
  }
}

/* ------------------------------------------------------------------------ */
/* refine                                                                   */

static const char refine_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"qa\": {\"type\": \"predict\", \"signature\": "
  "\"question, expected -> answer\"},"
  "\"ref\": {\"type\": \"refine\", \"module\": \"qa\", \"n\": 2, "
  "\"reward\": {\"name\": \"exact_match\", \"field\": \"answer\", "
  "\"gold_field\": \"expected\"}, \"threshold\": 2.0}},"
  "\"flow\": [{\"call\": \"ref\", \"inputs\": {\"question\": "
  "\"$input.question\", \"expected\": \"$input.expected\"}}],"
  "\"outputs\": {\"answer\": \"$ref.answer\"}}";

/* The text of every message of history record `r`, joined. */
static char *messages_of(const struct json_object *r)
{
  struct json_object *ms = pc_json_member(r, "messages");
  pc_buf b;

  pc_buf_init(&b, 0);
  for (size_t i = 0; ms && i < json_object_array_length(ms); i++)
    pc_buf_printf(&b, "%s\n", pc_json_str(json_object_array_get_idx(ms, i),
                                          "content"));
  return pc_buf_take(&b, NULL);
}

static void test_refine_passes_the_advice_as_a_hint_to_the_next_attempt(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(refine_program, &err);
  pc_runtime *rt = open_rt(1);
  struct json_object *in = item_inputs(2), *out = NULL, *h;
  pc_run_ctx ctx;
  char *first, *feedback, *second;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  /* The feedback predictor is state of the refine module. */
  CU_ASSERT_PTR_NOT_NULL(pc_program_predictor(prog, "ref.feedback"));
  pc_run_ctx_init(&ctx, rt);
  CU_ASSERT_EQUAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
  CU_ASSERT_EQUAL(ctx.usage.calls, 3);  /* attempt, feedback, attempt */
  h = pc_runtime_history(rt, 3);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(h), 3);
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(h, 0), "predictor"),
                   "qa");
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(h, 1), "predictor"),
                   "ref.feedback");
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(h, 2), "predictor"),
                   "qa");
  first = messages_of(json_object_array_get_idx(h, 0));
  feedback = messages_of(json_object_array_get_idx(h, 1));
  second = messages_of(json_object_array_get_idx(h, 2));
  CU_ASSERT_PTR_NULL(strstr(first, "hint_"));
  /* OfferFeedback as DSPy asks it, with inspect_modules' definition. */
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "In the discussion, assign blame "
                                "to each module that contributed"));
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "[[ ## modules_defn ## ]]\n"
                                "-----"));
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "Module qa\n\tInput Fields:\n"
                                "\t\t1. `question` (str): \n"
                                "\t\t2. `expected` (str):\n"
                                "\tOutput Fields:\n\t\t1. `answer` (str):\n"
                                "\tOriginal Instructions: \n\t\tGiven the "
                                "fields `question`, `expected`, produce the "
                                "fields `answer`.\n-----"));
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "[[ ## module_names ## ]]\n"
                                "[\n  \"qa\"\n]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "[[ ## target_threshold ## ]]\n"
                                "2.0\n"));
  /* The second attempt has the hint field, filled with the advice. */
  CU_ASSERT_PTR_NOT_NULL(strstr(second, "3. `hint_` (str): A hint to the "
                                "module from an earlier run"));
  CU_ASSERT_PTR_NOT_NULL(strstr(second, "[[ ## hint_ ## ]]\nIf the module "
                                "receives inputs like these"));
  /* Only the winning attempt reaches the trace, after the feedback call. */
  CU_ASSERT_TRUE(json_object_array_length(ctx.trace) >= 2);
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(ctx.trace, 0),
                               "predictor"), "ref.feedback");
  pc_free(first);
  pc_free(feedback);
  pc_free(second);
  json_object_put(h);
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* The messages of the runtime's latest LM call, joined. A new string. */
static char *last_call_messages(pc_runtime *rt)
{
  struct json_object *h = pc_runtime_history(rt, 1);
  char *text = messages_of(json_object_array_get_idx(h, 0));

  json_object_put(h);
  return text;
}

static void test_hints_give_every_predictor_call_a_hint_or_n_a(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(refine_program, &err);
  pc_runtime *rt = open_rt(1);
  struct json_object *in = item_inputs(3), *out = NULL, *rec;
  struct json_object *advice = parse("{\"qa\": \"Copy the expected word.\"}");
  struct json_object *other = parse("{\"elsewhere\": \"Be brief.\"}");
  struct json_object *clash = parse("{\"question\": \"q\", \"hint_\": \"x\"}");
  const pc_predictor *qa;
  pc_predictor taken;
  pc_run_ctx ctx;
  char *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  qa = pc_program_predictor(prog, "qa");
  CU_ASSERT_PTR_NOT_NULL_FATAL(qa);
  pc_run_ctx_init(&ctx, rt);
  /* No hints: the call is as it always was. */
  CU_ASSERT_EQUAL(pc_predict(&ctx, qa, in, &out, &err), PC_OK);
  text = last_call_messages(rt);
  CU_ASSERT_PTR_NULL(strstr(text, "hint_"));
  pc_free(text);
  json_object_put(out);
  /* The predictor's advice, as a third input with DSPy's description. */
  ctx.hints = advice;
  CU_ASSERT_EQUAL(pc_predict(&ctx, qa, in, &out, &err), PC_OK);
  text = last_call_messages(rt);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "3. `hint_` (str): A hint to the "
                                "module from an earlier run"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "[[ ## hint_ ## ]]\nCopy the "
                                "expected word."));
  pc_free(text);
  json_object_put(out);
  /* The trace records the inputs the call had, the hint among them; the
   * caller's inputs are untouched. */
  rec = json_object_array_get_idx(ctx.trace, 1);
  PC_ASSERT_STR_EQ(pc_json_str(pc_json_member(rec, "inputs"), "hint_"),
                   "Copy the expected word.");
  CU_ASSERT_PTR_NULL(pc_json_member(in, "hint_"));
  /* Hints that name other predictors: "N/A", as DSPy. */
  ctx.hints = other;
  CU_ASSERT_EQUAL(pc_predict_choices(&ctx, qa, in, &out, &err), PC_OK);
  text = last_call_messages(rt);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "[[ ## hint_ ## ]]\nN/A\n"));
  pc_free(text);
  json_object_put(out);
  out = NULL;
  /* A signature that has a field "hint_" already cannot take one. */
  taken = *qa;
  taken.signature = NULL;
  {
    pc_signature *sig = NULL;

    CU_ASSERT_EQUAL_FATAL(pc_signature_parse("question, hint_ -> answer",
                                             &sig, &err), PC_OK);
    taken.signature = sig;
    taken.signature_plugin_json = NULL;
    err = (pc_error)PC_ERROR_INIT;
    CU_ASSERT_EQUAL(pc_predict(&ctx, &taken, clash, &out, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "hint_"));
    pc_signature_free(sig);
  }
  json_object_put(advice);
  json_object_put(other);
  json_object_put(clash);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* refine over best_of_n over chain_of_thought: the advice reaches the
 * predictor two wrappers down. */
static const char nested_refine_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"qa\": {\"type\": \"chain_of_thought\", \"signature\": "
  "\"question, expected -> answer\"},"
  "\"best\": {\"type\": \"best_of_n\", \"module\": \"qa\", \"n\": 1, "
  "\"reward\": {\"name\": \"exact_match\", \"field\": \"answer\", "
  "\"gold_field\": \"expected\"}, \"threshold\": 2.0},"
  "\"ref\": {\"type\": \"refine\", \"module\": \"best\", \"n\": 2, "
  "\"reward\": {\"name\": \"exact_match\", \"field\": \"answer\", "
  "\"gold_field\": \"expected\"}, \"threshold\": 2.0}},"
  "\"flow\": [{\"call\": \"ref\", \"inputs\": {\"question\": "
  "\"$input.question\", \"expected\": \"$input.expected\"}}],"
  "\"outputs\": {\"answer\": \"$ref.answer\"}}";

static void test_refine_hints_reach_predictors_inside_nested_wrappers(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(nested_refine_program, &err);
  pc_runtime *rt = open_rt(1);
  struct json_object *in = item_inputs(5), *out = NULL, *h;
  pc_run_ctx ctx;
  char *first, *feedback, *second;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  pc_run_ctx_init(&ctx, rt);
  CU_ASSERT_EQUAL_FATAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
  CU_ASSERT_EQUAL(ctx.usage.calls, 3);  /* attempt, feedback, attempt */
  h = pc_runtime_history(rt, 3);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(h), 3);
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(h, 0), "predictor"),
                   "qa.predict");
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(h, 2), "predictor"),
                   "qa.predict");
  first = messages_of(json_object_array_get_idx(h, 0));
  feedback = messages_of(json_object_array_get_idx(h, 1));
  second = messages_of(json_object_array_get_idx(h, 2));
  CU_ASSERT_PTR_NULL(strstr(first, "hint_"));
  /* The feedback call names the predictor the wrappers lead to. */
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "[[ ## module_names ## ]]\n"
                                "[\n  \"qa.predict\"\n]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(feedback, "Module qa.predict\n"));
  /* The chain_of_thought's call has the hint after its inputs. */
  CU_ASSERT_PTR_NOT_NULL(strstr(second, "3. `hint_` (str): A hint to the "
                                "module from an earlier run"));
  CU_ASSERT_PTR_NOT_NULL(strstr(second, "[[ ## hint_ ## ]]\nIf the module "
                                "receives inputs like these"));
  CU_ASSERT_PTR_NOT_NULL(strstr(second, "`reasoning`"));
  pc_free(first);
  pc_free(feedback);
  pc_free(second);
  json_object_put(h);
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* ------------------------------------------------------------------------ */
/* multi_chain_comparison                                                   */

static const char mcc_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"cmp\": {\"type\": \"multi_chain_comparison\", \"signature\": "
  "\"question -> answer\", \"m\": 2}}}";

static void test_mcc_compares_its_attempts_in_dspy_s_prompt(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(mcc_program, &err);
  pc_runtime *rt = open_rt(1);
  struct json_object *in = parse("{\"question\": \"Which code word goes "
                                 "with number 4?\"}"), *out = NULL, *h, *ms;
  pc_run_ctx ctx;
  const char *a1, *a2, *r1, *r2;
  pc_buf want;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_PTR_NOT_NULL(pc_program_predictor(prog, "cmp.attempt.predict"));
  CU_ASSERT_PTR_NOT_NULL(pc_program_predictor(prog, "cmp.predict"));
  pc_run_ctx_init(&ctx, rt);
  CU_ASSERT_EQUAL_FATAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
  CU_ASSERT_EQUAL(ctx.usage.calls, 3);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(ctx.trace), 3);
  r1 = pc_json_str(pc_json_member(json_object_array_get_idx(ctx.trace, 0),
                                  "outputs"), "reasoning");
  a1 = pc_json_str(pc_json_member(json_object_array_get_idx(ctx.trace, 0),
                                  "outputs"), "answer");
  r2 = pc_json_str(pc_json_member(json_object_array_get_idx(ctx.trace, 1),
                                  "outputs"), "reasoning");
  a2 = pc_json_str(pc_json_member(json_object_array_get_idx(ctx.trace, 1),
                                  "outputs"), "answer");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
  h = pc_runtime_history(rt, 1);
  ms = pc_json_member(json_object_array_get_idx(h, 0), "messages");
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(ms), 2);
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(ms, 0), "content"),
    "Your input fields are:\n"
    "1. `question` (str): \n"
    "2. `reasoning_attempt_1` (str): ${reasoning attempt}\n"
    "3. `reasoning_attempt_2` (str): ${reasoning attempt}\n"
    "Your output fields are:\n"
    "1. `rationale` (str): ${corrected reasoning}\n"
    "2. `answer` (str):\n"
    "All interactions will be structured in the following way, with the "
    "appropriate values filled in.\n\n"
    "[[ ## question ## ]]\n{question}\n\n"
    "[[ ## reasoning_attempt_1 ## ]]\n{reasoning_attempt_1}\n\n"
    "[[ ## reasoning_attempt_2 ## ]]\n{reasoning_attempt_2}\n\n"
    "[[ ## rationale ## ]]\n{rationale}\n\n"
    "[[ ## answer ## ]]\n{answer}\n\n"
    "[[ ## completed ## ]]\n"
    "In adhering to this structure, your objective is: \n"
    "        Given the fields `question`, produce the fields `answer`.");
  pc_buf_init(&want, 0);
  /* The sim's reasoning is one line, so the first line is all of it. */
  pc_buf_printf(&want, "[[ ## question ## ]]\nWhich code word goes with "
                "number 4?\n\n[[ ## reasoning_attempt_1 ## ]]\n"
                "\xc2\xabI'm trying to %s I'm not sure but my prediction is "
                "%s\xc2\xbb\n\n[[ ## reasoning_attempt_2 ## ]]\n"
                "\xc2\xabI'm trying to %s I'm not sure but my prediction is "
                "%s\xc2\xbb\n\nRespond with the corresponding output fields, "
                "starting with the field `[[ ## rationale ## ]]`, then "
                "`[[ ## answer ## ]]`, and then ending with the marker for "
                "`[[ ## completed ## ]]`.", r1, a1, r2, a2);
  PC_ASSERT_STR_EQ(pc_json_str(json_object_array_get_idx(ms, 1), "content"),
                   want.data);
  /* The module's outputs are the comparing call's. */
  CU_ASSERT_PTR_NOT_NULL(pc_json_str(out, "answer"));
  pc_buf_free(&want);
  json_object_put(h);
  json_object_put(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* ------------------------------------------------------------------------ */
/* parallel                                                                 */

static const char par_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"qa\": {\"type\": \"predict\", \"signature\": "
  "\"question -> answer\"},"
  "\"each\": {\"type\": \"parallel\", \"module\": \"qa\", "
  "\"over\": \"questions\", \"as\": \"question\", \"max_items\": 20}},"
  "\"flow\": [{\"call\": \"each\", \"inputs\": {\"questions\": "
  "\"$input.questions\"}}],"
  "\"outputs\": {\"answers\": \"$each.answer\"}}";

/* Run the parallel program over every item at `threads`; the outputs and
 * the trace's predictor inputs, as text. */
static char *run_par(int threads, size_t *calls)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(par_program, &err);
  pc_runtime *rt = open_rt(threads);
  struct json_object *in = json_object_new_object(), *qs, *out = NULL;
  pc_run_ctx ctx;
  pc_buf b;

  pc_buf_init(&b, 0);
  *calls = 0;
  if (!prog || !rt || !in) {
    fprintf(stderr, "parallel: %s\n", err.message);
    goto out;
  }
  qs = json_object_new_array();
  json_object_object_add(in, "questions", qs);
  for (int i = 0; i < N_ROWS; i++) {
    char q[128];

    snprintf(q, sizeof(q), "Which code word goes with number %d?", i);
    json_object_array_add(qs, json_object_new_string(q));
  }
  pc_run_ctx_init(&ctx, rt);
  if (pc_program_run(&ctx, prog, in, &out, &err) == PC_OK) {
    pc_json_write(out, PC_JSON_TEXT_COMPACT, &b);
    for (size_t k = 0; k < json_object_array_length(ctx.trace); k++)
      pc_buf_printf(&b, "|%s", pc_json_str(pc_json_member(
        json_object_array_get_idx(ctx.trace, k), "inputs"), "question"));
    *calls = ctx.usage.calls;
  } else {
    fprintf(stderr, "parallel run: %s\n", err.message);
  }
  pc_run_ctx_clear(&ctx);
out:
  json_object_put(out);
  json_object_put(in);
  pc_runtime_close(rt);
  pc_program_free(prog);
  return pc_buf_take(&b, NULL);
}

static void test_parallel_maps_in_order_whatever_the_thread_count(void)
{
  size_t c1, c8;
  char *one = run_par(1, &c1), *eight = run_par(8, &c8);
  char want[64];

  CU_ASSERT_PTR_NOT_NULL_FATAL(one);
  CU_ASSERT_PTR_NOT_NULL_FATAL(eight);
  PC_ASSERT_STR_EQ(one, eight);
  CU_ASSERT_EQUAL(c1, N_ROWS);
  CU_ASSERT_EQUAL(c8, N_ROWS);
  /* Twelve answers, one per question, and the trace in list order. */
  CU_ASSERT_PTR_NOT_NULL(strstr(one, "|Which code word goes with number 0?"
                                "|Which code word goes with number 1?"));
  snprintf(want, sizeof(want), "|Which code word goes with number %d?",
           N_ROWS - 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(one, want));
  CU_ASSERT_EQUAL(strncmp(one, "{\"answers\":[", 12), 0);
  pc_free(one);
  pc_free(eight);
}

static void test_parallel_refuses_a_list_longer_than_max_items(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(par_program, &err);
  pc_runtime *rt = open_rt(2);
  struct json_object *in = json_object_new_object(), *qs, *out = NULL;
  pc_run_ctx ctx;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  qs = json_object_new_array();
  json_object_object_add(in, "questions", qs);
  for (int i = 0; i < 21; i++)
    json_object_array_add(qs, json_object_new_string("q"));
  pc_run_ctx_init(&ctx, rt);
  CU_ASSERT_EQUAL(pc_program_run(&ctx, prog, in, &out, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than max_items (20)"));
  CU_ASSERT_EQUAL(ctx.usage.calls, 0);
  CU_ASSERT_PTR_NULL(out);
  json_object_put(in);
  pc_run_ctx_clear(&ctx);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

/* ------------------------------------------------------------------------ */
/* ensemble                                                                 */

/* Three predictors whose prompts differ (so the sim draws apart at
 * temperature 1.0) answer each item; the ensemble's answer must be the
 * majority, ties to the earliest. */
#define ENS_SIG(x) "{\"instructions\": \"" x "\", \"inputs\": " \
  "[{\"name\": \"question\"}], \"outputs\": [{\"name\": \"answer\"}]}"
static const char ens_program[] =
  "{\"schema\": \"promptc.program/1\", \"modules\": {"
  "\"a\": {\"type\": \"predict\", \"signature\": "
  ENS_SIG("Give the code word.") ", \"config\": {\"temperature\": 1.0}},"
  "\"b\": {\"type\": \"predict\", \"signature\": "
  ENS_SIG("Name the word.") ", \"config\": {\"temperature\": 1.0}},"
  "\"c\": {\"type\": \"predict\", \"signature\": "
  ENS_SIG("Which word?") ", \"config\": {\"temperature\": 1.0}},"
  "\"vote\": {\"type\": \"ensemble\", \"modules\": [\"a\", \"b\", \"c\"], "
  "\"reduce\": \"majority\", \"field\": \"answer\"}},"
  "\"flow\": [{\"call\": \"vote\", \"inputs\": {\"question\": "
  "\"$input.question\"}}],"
  "\"outputs\": {\"answer\": \"$vote.answer\"}}";

static void test_ensemble_takes_the_majority_and_ties_go_to_the_earliest(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_program *prog = load(ens_program, &err);
  pc_runtime *rt = open_rt(1);
  int majority_cases = 0, tie_cases = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  for (int i = 0; i < N_ROWS; i++) {
    struct json_object *in = parse("{}"), *out = NULL;
    const char *v[3], *want;
    pc_run_ctx ctx;
    char q[128];

    snprintf(q, sizeof(q), "Which code word goes with number %d?", i);
    json_object_object_add(in, "question", json_object_new_string(q));
    pc_run_ctx_init(&ctx, rt);
    CU_ASSERT_EQUAL_FATAL(pc_program_run(&ctx, prog, in, &out, &err), PC_OK);
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(ctx.trace), 3);
    for (size_t k = 0; k < 3; k++)
      v[k] = pc_json_str(pc_json_member(json_object_array_get_idx(
                           ctx.trace, k), "outputs"), "answer");
    if (!strcmp(v[1], v[2]) && strcmp(v[0], v[1])) {
      want = v[1];
      majority_cases++;
    } else {
      want = v[0];  /* a majority with a, or all differ: the earliest */
      tie_cases += strcmp(v[0], v[1]) && strcmp(v[0], v[2]) &&
                   strcmp(v[1], v[2]);
    }
    PC_ASSERT_STR_EQ(pc_json_str(out, "answer"), want);
    json_object_put(out);
    json_object_put(in);
    pc_run_ctx_clear(&ctx);
  }
  if (!majority_cases || !tie_cases)
    fprintf(stderr, "ensemble: %d majority, %d tie cases\n", majority_cases,
            tie_cases);
  pc_runtime_close(rt);
  pc_program_free(prog);
}

static CU_TestInfo tests[] = {
  {"best_of_n stops at the first attempt that reaches the threshold",
   test_best_of_n_stops_at_the_first_attempt_that_reaches_the_threshold},
  {"best_of_n without a good attempt runs all and keeps the first best",
   test_best_of_n_without_a_good_attempt_runs_all_and_keeps_the_first_best},
  {"best_of_n counts rollouts from an enclosing rollout id",
   test_best_of_n_counts_rollouts_from_an_enclosing_rollout_id},
  {"best_of_n counts failed attempts against fail_count",
   test_best_of_n_counts_failed_attempts_against_fail_count},
  {"best_of_n checks its members", test_best_of_n_checks_its_members},
  {"refine passes the advice as a hint to the next attempt",
   test_refine_passes_the_advice_as_a_hint_to_the_next_attempt},
  {"hints give every predictor call a hint_, or N/A",
   test_hints_give_every_predictor_call_a_hint_or_n_a},
  {"refine hints reach predictors inside nested wrappers",
   test_refine_hints_reach_predictors_inside_nested_wrappers},
  {"mcc compares its attempts in DSPy's prompt",
   test_mcc_compares_its_attempts_in_dspy_s_prompt},
  {"parallel maps in order whatever the thread count",
   test_parallel_maps_in_order_whatever_the_thread_count},
  {"parallel refuses a list longer than max_items",
   test_parallel_refuses_a_list_longer_than_max_items},
  {"ensemble takes the majority and ties go to the earliest",
   test_ensemble_takes_the_majority_and_ties_go_to_the_earliest},
  CU_TEST_INFO_NULL
};

static CU_SuiteInfo suites[] = {
  {"modules_wrap", setup, teardown, NULL, NULL, tests},
  CU_SUITE_INFO_NULL
};

int main(void)
{
  return pc_test_run(suites);
}
