/* tests/unit/test_opt_miprov2.c: the pure helpers of plugins/opt-miprov2
 * (mipro_util.c, and opt-common's field prefix, which its demos use);
 * suite "opt_miprov2". The plugin end to end is
 * tests/cli/compile_miprov2_test.sh. Expected prefixes were computed
 * with DSPy's infer_prefix. */
#include <string.h>

#include "harness.h"
#include "mipro_util.h"
#include "../../plugins/opt-common/opt_common.h"

static void test_num_trials_follows_the_reference_table(void)
{
  /* Reference 6.3: P = 1, 2, 3; light, medium, heavy (n = 6, 12, 18);
   * few-shot / zero-shot. */
  static const int64_t few[3][3] = {{10, 18, 27}, {20, 28, 33},
                                    {31, 43, 50}};
  static const int64_t zero[3][3] = {{9, 18, 27}, {10, 18, 27},
                                     {15, 21, 27}};
  int p, k;

  for (p = 0; p < 3; p++)
    for (k = 0; k < 3; k++) {
      CU_ASSERT_EQUAL(pc__mipro_num_trials(6 * (k + 1), p + 1, 0),
                      few[p][k]);
      CU_ASSERT_EQUAL(pc__mipro_num_trials(6 * (k + 1), p + 1, 1),
                      zero[p][k]);
    }
  /* log2(1) = 0: the 1.5 n term, truncated. */
  CU_ASSERT_EQUAL(pc__mipro_num_trials(1, 1, 0), 1);
}

static void test_default_split_keeps_eighty_percent_for_val(void)
{
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(2), 1);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(3), 2);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(5), 4);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(100), 80);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(1249), 999);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(5000), 1000);
  CU_ASSERT_EQUAL(pc__mipro_default_val_size(1), 1);
}

/* Replay DSPy's numbering for K trials: count the full evaluations and
 * the minibatch trials that precede each. */
static int64_t count_full(int64_t K, int64_t steps, int64_t *after)
{
  int64_t adjusted = pc__mipro_adjusted_trials(K, steps);
  int64_t number = 1, t, full = 0;

  for (t = 0; t < K; t++) {
    int64_t trial_num = number + 1;

    number++;  /* the objective's own trial */
    if (pc__mipro_full_eval_due(trial_num, adjusted, steps)) {
      if (after)
        after[full] = t + 1;
      full++;
      number++;  /* the injected full-evaluation trial */
    }
  }
  return full;
}

static void test_full_evaluations_come_every_steps_and_after_the_last(void)
{
  int64_t after[64], K, steps;

  /* K = 10, steps 5: after minibatch trials 5 and 10. */
  CU_ASSERT_EQUAL(count_full(10, 5, after), 2);
  CU_ASSERT_EQUAL(after[0], 5);
  CU_ASSERT_EQUAL(after[1], 10);
  /* K = 9: after 5 and after the last (9). */
  CU_ASSERT_EQUAL(count_full(9, 5, after), 2);
  CU_ASSERT_EQUAL(after[1], 9);
  CU_ASSERT_EQUAL(pc__mipro_adjusted_trials(10, 5), 13);
  CU_ASSERT_EQUAL(pc__mipro_adjusted_trials(9, 5), 12);
  for (K = 1; K <= 40; K++)
    for (steps = 1; steps <= 7; steps++) {
      int64_t n = count_full(K, steps, after), i;

      CU_ASSERT_EQUAL(n, pc__mipro_full_evals(K, steps));
      CU_ASSERT_EQUAL(after[n - 1], K);  /* one after the last trial */
      for (i = 0; i + 1 < n; i++)
        CU_ASSERT_EQUAL(after[i], (i + 1) * steps);
    }
}

/* strip_prefix of s as a new NUL-terminated string in buf. */
static const char *strip(const char *s, char *buf, size_t cap)
{
  size_t a, b;

  pc__mipro_strip_prefix(s, strlen(s), &a, &b);
  if (b - a >= cap)
    return "(too long)";
  memcpy(buf, s + a, b - a);
  buf[b - a] = '\0';
  return buf;
}

static void test_strip_prefix_drops_a_short_label_and_quotes(void)
{
  char buf[128];

  PC_ASSERT_STR_EQ(strip("Proposed Instruction: Sort the mail.", buf,
                         sizeof(buf)), "Sort the mail.");
  PC_ASSERT_STR_EQ(strip("**New instruction:** x", buf, sizeof(buf)),
                   "** x");
  PC_ASSERT_STR_EQ(strip("  * Summary:\n\"Tickets are short.\"", buf,
                         sizeof(buf)), "Tickets are short.");
  /* Five words is the most a label has. */
  PC_ASSERT_STR_EQ(strip("one two three four five: rest", buf,
                         sizeof(buf)), "rest");
  PC_ASSERT_STR_EQ(strip("one two three four five six: rest", buf,
                         sizeof(buf)), "one two three four five six: rest");
  /* The colon must follow the word; a sentence is not a label. */
  PC_ASSERT_STR_EQ(strip("Note : keep", buf, sizeof(buf)), "Note : keep");
  PC_ASSERT_STR_EQ(strip("Do it, then: this", buf, sizeof(buf)),
                   "Do it, then: this");
  PC_ASSERT_STR_EQ(strip("don't-stop_now: go", buf, sizeof(buf)), "go");
  PC_ASSERT_STR_EQ(strip("\"\"quoted\"", buf, sizeof(buf)), "quoted");
  PC_ASSERT_STR_EQ(strip("I am not sure.", buf, sizeof(buf)),
                   "I am not sure.");
  PC_ASSERT_STR_EQ(strip("", buf, sizeof(buf)), "");
}

/* The prefix of `name`, in static storage. */
static const char *prefix_of(const char *name)
{
  static char buf[64];

  CU_ASSERT_FATAL(pc__opt_field_prefix_cap(name) <= sizeof(buf));
  CU_ASSERT_EQUAL(pc__opt_field_prefix(name, buf, sizeof(buf)), 0);
  return buf;
}

static void test_field_prefix_title_cases_the_name(void)
{
  char small[8];

  PC_ASSERT_STR_EQ(prefix_of("queue"), "Queue:");
  PC_ASSERT_STR_EQ(prefix_of("proposed_instruction"),
                   "Proposed Instruction:");
  PC_ASSERT_STR_EQ(prefix_of("camelCaseText"), "Camel Case Text:");
  PC_ASSERT_STR_EQ(prefix_of("HTMLParser"), "HTML Parser:");
  PC_ASSERT_STR_EQ(prefix_of("text2number"), "Text 2 Number:");
  /* A buffer too short for the work is refused, not cut. */
  CU_ASSERT_EQUAL(pc__opt_field_prefix("reasoning", small, sizeof(small)),
                  -1);
}

static void test_field_prefix_keeps_empty_words(void)
{
  /* Python's split("_") keeps the empty words and " ".join spaces them. */
  PC_ASSERT_STR_EQ(prefix_of("a__b"), "A  B:");
  PC_ASSERT_STR_EQ(prefix_of("_x"), " X:");
  PC_ASSERT_STR_EQ(prefix_of("x_"), "X :");
  PC_ASSERT_STR_EQ(prefix_of("a_Bc"), "A  Bc:");
  PC_ASSERT_STR_EQ(prefix_of("_"), " :");
}

static CU_TestInfo mipro_tests[] = {
  {"num_trials follows the reference table",
   test_num_trials_follows_the_reference_table},
  {"default split keeps eighty percent for val",
   test_default_split_keeps_eighty_percent_for_val},
  {"full evaluations come every steps and after the last",
   test_full_evaluations_come_every_steps_and_after_the_last},
  {"strip_prefix drops a short label and quotes",
   test_strip_prefix_drops_a_short_label_and_quotes},
  {"field prefix title-cases the name",
   test_field_prefix_title_cases_the_name},
  {"field prefix keeps empty words", test_field_prefix_keeps_empty_words},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_miprov2", NULL, NULL, NULL, NULL, mipro_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
