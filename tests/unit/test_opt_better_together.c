/*
 * tests/unit/test_opt_better_together.c: plugins/opt-better-together,
 * suite "opt_better_together". The pure parts (bt_plan.c: strategy
 * parsing, the held-out val size, labels, ranking) are compiled in; the
 * plugin itself is loaded from the build tree to check its settings and
 * its estimate. The end-to-end behaviour is in
 * tests/cli/compile_better_together_test.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_plan.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s/plugins/opt-better-together/.libs/"
           "opt-better-together.so", dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  return !opt;
}

static int suite_clean(void)
{
  pc_plugin_close(plugin);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Strategy parsing.                                                        */

static void check_parsed(const char *text, const char *want)
{
  char letters[PC__BT_MAX_STEPS + 1], msg[200];
  size_t n = 99;

  CU_ASSERT_EQUAL(pc__bt_strategy_parse(text, letters, &n, msg,
                                        sizeof(msg)), 0);
  PC_ASSERT_STR_EQ(letters, want);
  CU_ASSERT_EQUAL(n, strlen(want));
}

static void check_bad(const char *text, const char *says)
{
  char letters[PC__BT_MAX_STEPS + 1], msg[200];
  size_t n = 99;

  CU_ASSERT_EQUAL(pc__bt_strategy_parse(text, letters, &n, msg,
                                        sizeof(msg)), -1);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(letters[0], '\0');
  if (!strstr(msg, says))
    fprintf(stderr, "\n  message '%s' lacks '%s'\n", msg, says);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, says));
}

static void test_strategy_splits_on_the_exact_arrow(void)
{
  check_parsed("p -> w -> p", "pwp");
  check_parsed("p", "p");
  check_parsed("w", "w");
  check_parsed("w -> w -> p -> p", "wwpp");
}

static void test_strategy_names_the_bad_step(void)
{
  check_bad("p -> x", "strategy: step 2 \"x\" is not a step");
  check_bad("p->w", "strategy: step 1 \"p->w\" is not a step");
  check_bad("p ->  w", "strategy: step 2 \" w\" is not a step");
  check_bad("P", "strategy: step 1 \"P\" is not a step");
  check_bad("pw", "strategy: step 1 \"pw\"");
  check_bad("", "strategy: step 1 is empty");
  check_bad("p -> ", "strategy: step 2 is empty");
  check_bad("p -> w -> ", "strategy: step 3 is empty");
}

static void test_strategy_refuses_more_than_the_step_limit(void)
{
  char text[PC__BT_MAX_STEPS * 5 + 16] = "p";
  char letters[PC__BT_MAX_STEPS + 1], msg[200];
  size_t n = 0, i;

  for (i = 1; i < PC__BT_MAX_STEPS; i++)
    strncat(text, " -> p", sizeof(text) - strlen(text) - 1);
  CU_ASSERT_EQUAL(pc__bt_strategy_parse(text, letters, &n, msg,
                                        sizeof(msg)), 0);
  CU_ASSERT_EQUAL(n, PC__BT_MAX_STEPS);
  strncat(text, " -> w", sizeof(text) - strlen(text) - 1);
  CU_ASSERT_EQUAL(pc__bt_strategy_parse(text, letters, &n, msg,
                                        sizeof(msg)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "more than 32 steps"));
}

static void test_prefix_labels_the_steps_done(void)
{
  char out[64], tiny[5];

  CU_ASSERT_EQUAL(pc__bt_strategy_prefix("pwp", 0, out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "");
  CU_ASSERT_EQUAL(pc__bt_strategy_prefix("pwp", 1, out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "p");
  CU_ASSERT_EQUAL(pc__bt_strategy_prefix("pwp", 2, out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "p -> w");
  CU_ASSERT_EQUAL(pc__bt_strategy_prefix("pwp", 3, out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "p -> w -> p");
  /* "p -> w" needs 7 bytes. */
  CU_ASSERT_EQUAL(pc__bt_strategy_prefix("pw", 2, tiny, sizeof(tiny)), -1);
  PC_ASSERT_STR_EQ(tiny, "");
}

/* ------------------------------------------------------------------------ */
/* The val split and the evaluations.                                       */

static void test_val_count_truncates_like_python_int(void)
{
  /* Python: int(0.1 * 100) == 10, int(0.1 * 55) == 5, int(0.29 * 100)
   * == 28 (0.29 * 100 is 28.999999999999996), int(0.7 * 10) == 7. */
  CU_ASSERT_EQUAL(pc__bt_val_count(100, 0.1), 10);
  CU_ASSERT_EQUAL(pc__bt_val_count(55, 0.1), 5);
  CU_ASSERT_EQUAL(pc__bt_val_count(100, 0.29), 28);
  CU_ASSERT_EQUAL(pc__bt_val_count(10, 0.7), 7);
  CU_ASSERT_EQUAL(pc__bt_val_count(9, 0.1), 0);
  CU_ASSERT_EQUAL(pc__bt_val_count(100, 0.0), 0);
  CU_ASSERT_EQUAL(pc__bt_val_count(0, 0.5), 0);
  CU_ASSERT_EQUAL(pc__bt_val_count(3, 0.999), 2);
}

static void test_evaluations_stop_at_w_with_export_only(void)
{
  CU_ASSERT_EQUAL(pc__bt_evaluations("pwp", 3, 0), 4);
  CU_ASSERT_EQUAL(pc__bt_evaluations("pwp", 3, 1), 2);
  CU_ASSERT_EQUAL(pc__bt_evaluations("wp", 2, 1), 1);
  CU_ASSERT_EQUAL(pc__bt_evaluations("p", 1, 0), 2);
}

static void test_rank_is_stable_and_puts_unscored_last(void)
{
  double score[5] = {50.0, 62.0, 50.0, 62.0, 0.0};
  int has[5] = {1, 1, 1, 1, 0};
  size_t order[5];

  pc__bt_rank(score, has, 5, order);
  CU_ASSERT_EQUAL(order[0], 1);
  CU_ASSERT_EQUAL(order[1], 3);
  CU_ASSERT_EQUAL(order[2], 0);
  CU_ASSERT_EQUAL(order[3], 2);
  CU_ASSERT_EQUAL(order[4], 4);
  has[4] = 1;
  score[4] = 70.0;
  has[0] = 0;
  pc__bt_rank(score, has, 5, order);
  CU_ASSERT_EQUAL(order[0], 4);
  CU_ASSERT_EQUAL(order[1], 1);
  CU_ASSERT_EQUAL(order[4], 0);
}

/* ------------------------------------------------------------------------ */
/* Settings and estimate, through the plugin.                               */

typedef struct sinkbuf {
  char text[1024];
  size_t len;
} sinkbuf;

static int sink_write(void *ctx, const char *text, size_t len)
{
  sinkbuf *b = ctx;

  if (b->len + len >= sizeof(b->text))
    return 1;
  memcpy(b->text + b->len, text, len);
  b->len += len;
  b->text[b->len] = '\0';
  return 0;
}

static pc_text_sink text_sink(sinkbuf *b)
{
  pc_text_sink s = {PC_ABI_HEADER_INIT(pc_text_sink), b, sink_write};

  b->len = 0;
  b->text[0] = '\0';
  return s;
}

static void check_settings(const char *settings, const char *want)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  sinkbuf b;
  pc_text_sink s = text_sink(&b);

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, settings,
                                    settings ? strlen(settings) : 0, &inst,
                                    &err), PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, want);
  opt->destroy(inst);
}

static void test_settings_default_to_dspy_values(void)
{
  /* The default strategy has a w step, so it needs a model or
   * export_only. */
  check_settings("{\"finetuned_model\": \"ft-1\"}",
                 "{\"strategy\":\"p -> w -> p\",\"prompt_optimizer\":"
                 "\"bootstrap-rs\",\"prompt_settings\":{},"
                 "\"finetune_settings\":{},\"finetuned_model\":\"ft-1\","
                 "\"export_only\":false,\"valset_ratio\":0.1,"
                 "\"shuffle_trainset_between_steps\":true,\"seed\":0}");
  check_settings("{\"strategy\": \"p -> w\", \"export_only\": true, "
                 "\"prompt_optimizer\": \"copro\", \"prompt_settings\": "
                 "{\"breadth\": 3}, \"finetune_settings\": {\"multitask\": "
                 "false}, \"valset_ratio\": 0, "
                 "\"shuffle_trainset_between_steps\": false, \"seed\": 4}",
                 "{\"strategy\":\"p -> w\",\"prompt_optimizer\":\"copro\","
                 "\"prompt_settings\":{\"breadth\":3},\"finetune_settings\":"
                 "{\"multitask\":false},\"finetuned_model\":null,"
                 "\"export_only\":true,\"valset_ratio\":0.0,"
                 "\"shuffle_trainset_between_steps\":false,\"seed\":4}");
}

static void check_refused(const char *settings, const char *says)
{
  void *inst = (void *)1;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(opt->create(plugin->state, settings, strlen(settings),
                              &inst, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  if (!strstr(err.message, says))
    fprintf(stderr, "\n  message '%s' lacks '%s'\n", err.message, says);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, says));
}

static void test_bad_settings_are_refused_by_name(void)
{
  check_refused("{}", "better-together: strategy: a w step needs either "
                "finetuned_model");
  check_refused("{\"strategy\": \"p -> x\"}",
                "better-together: strategy: step 2 \"x\" is not a step");
  check_refused("{\"strategy\": 3}",
                "better-together: strategy: expected a string");
  check_refused("{\"strategy\": \"p\", \"valset_ratio\": 1}",
                "better-together: valset_ratio: expected a number in "
                "[0, 1)");
  check_refused("{\"strategy\": \"p\", \"valset_ratio\": -0.1}",
                "better-together: valset_ratio:");
  check_refused("{\"strategy\": \"p\", \"export_only\": true}",
                "better-together: export_only: the strategy has no w step");
  check_refused("{\"strategy\": \"p\", \"finetuned_model\": \"m\"}",
                "better-together: finetuned_model: the strategy has no w");
  check_refused("{\"finetuned_model\": \"m\", \"export_only\": true}",
                "better-together: export_only: conflicts with "
                "finetuned_model");
  check_refused("{\"strategy\": \"p\", \"prompt_optimizer\": \"\"}",
                "better-together: prompt_optimizer: must not be empty");
  check_refused("{\"strategy\": \"p\", \"prompt_optimizer\": "
                "\"better-together\"}",
                "better-together: prompt_optimizer: better-together cannot");
  check_refused("{\"strategy\": \"p\", \"prompt_settings\": []}",
                "better-together: prompt_settings: expected a JSON object");
  check_refused("{\"strategy\": \"p\", \"finetuned_model\": 1}",
                "better-together: finetuned_model: expected null or");
  check_refused("{\"strategy\": \"p\", \"shuffle_trainset_between_steps\": "
                "1}", "better-together: shuffle_trainset_between_steps:");
  check_refused("{\"strategy\": \"p\", \"num_threads\": 8}",
                "better-together: num_threads: unknown setting");
  check_refused("[1]", "better-together: settings: expected a JSON object");
}

static void check_estimate(const char *settings, const char *info,
                           const char *want)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  sinkbuf b;
  pc_text_sink s = text_sink(&b);

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, settings,
                                    strlen(settings), &inst, &err), PC_OK);
  CU_ASSERT_EQUAL(opt->estimate(inst, info, strlen(info), &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, want);
  opt->destroy(inst);
}

static void test_estimate_counts_only_its_own_evaluations(void)
{
  /* --val given (|V| = 30): (1 + 3) x 30 runs of R = 2 calls. */
  check_estimate("{\"finetuned_model\": \"m\"}",
                 "{\"train\": 100, \"val\": 30, \"predictors\": 1, "
                 "\"calls_per_run\": 2}",
                 "{\"lm_calls\": 240, \"metric_calls\": 120, "
                 "\"proposal_calls\": 0}");
  /* No --val (the val split is the train split): the held-out head is
   * at most |V|, which is counted. */
  check_estimate("{\"finetuned_model\": \"m\"}",
                 "{\"train\": 100, \"val\": 100, \"predictors\": 1, "
                 "\"calls_per_run\": 1}",
                 "{\"lm_calls\": 400, \"metric_calls\": 400, "
                 "\"proposal_calls\": 0}");
  /* export_only ends at the first w: baseline and after p. */
  check_estimate("{\"export_only\": true}",
                 "{\"train\": 100, \"val\": 30, \"predictors\": 1, "
                 "\"calls_per_run\": 1}",
                 "{\"lm_calls\": 60, \"metric_calls\": 60, "
                 "\"proposal_calls\": 0}");
  /* A single p step: the baseline and one evaluation. */
  check_estimate("{\"strategy\": \"p\", \"valset_ratio\": 0}",
                 "{\"train\": 100, \"val\": 20, \"predictors\": 2, "
                 "\"calls_per_run\": 3}",
                 "{\"lm_calls\": 120, \"metric_calls\": 40, "
                 "\"proposal_calls\": 0}");
}

static CU_TestInfo bt_tests[] = {
  {"strategy splits on the exact arrow",
   test_strategy_splits_on_the_exact_arrow},
  {"strategy names the bad step", test_strategy_names_the_bad_step},
  {"strategy refuses more than the step limit",
   test_strategy_refuses_more_than_the_step_limit},
  {"prefix labels the steps done", test_prefix_labels_the_steps_done},
  {"val count truncates like Python int",
   test_val_count_truncates_like_python_int},
  {"evaluations stop at w with export_only",
   test_evaluations_stop_at_w_with_export_only},
  {"rank is stable and puts unscored last",
   test_rank_is_stable_and_puts_unscored_last},
  {"settings default to DSPy values",
   test_settings_default_to_dspy_values},
  {"bad settings are refused by name",
   test_bad_settings_are_refused_by_name},
  {"estimate counts only its own evaluations",
   test_estimate_counts_only_its_own_evaluations},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_better_together", suite_init, suite_clean, NULL, NULL, bt_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
