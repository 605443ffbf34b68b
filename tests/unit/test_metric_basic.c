/*
 * tests/unit/test_metric_basic.c: plugins/metric-basic loaded through the
 * core loader; suite "metric_basic". Expected normalize_text results and
 * F1 values were computed with DSPy's own normalize_text and f1_score
 * (Python 3.11, Unicode 14.0).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

#define EM 0
#define F1 1
#define PM 2
#define NUM 3

static pc_registry *reg;
static pc_plugin *plugin;
static const pc_metric_iface *ifaces[6];
static const char *const names[6] = {
  "exact_match", "f1", "passage_match", "numeric", "passage_recall",
  "passage_hit",
};

static int suite_init(void)
{
  pc_error err = PC_ERROR_INIT;
  uint32_t i;

  reg = pc_registry_new();
  if (!reg || pc_registry_load_default(reg, NULL, &err))
    return 1;
  plugin = pc_registry_find(reg, "org.promptc.metric.basic");
  if (!plugin)
    return 1;
  for (i = 0; i < 6; i++) {
    ifaces[i] = pc_plugin_interface_at(plugin, PC_IFACE_METRIC, i,
                                       (uint32_t)sizeof(pc_metric_iface),
                                       NULL);
    if (!ifaces[i])
      return 1;
  }
  return 0;
}

static int suite_clean(void)
{
  pc_registry_free(reg);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* A sink that records what the metric wrote.                               */

typedef struct result {
  int n_scores;
  double score;
  int n_feedback;
  char feedback[1024];
  size_t feedback_len;
  int bad_range;  /* a score outside [0, 1] was written */
  int bad_text;   /* feedback that is not one line of valid UTF-8 */
} result;

/* One line of valid UTF-8 (no control characters)? */
static int valid_line(const char *s, size_t len)
{
  size_t i = 0;

  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
             : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

    if (n == 0 || i + n > len || (n == 1 && c < 0x20))
      return 0;
    for (size_t k = 1; k < n; k++)
      if (((unsigned char)s[i + k] & 0xc0) != 0x80)
        return 0;
    i += n;
  }
  return 1;
}

static int on_score(void *ctx, double score)
{
  result *r = ctx;

  r->n_scores++;
  r->score = score;
  if (!(score >= 0.0 && score <= 1.0))
    r->bad_range = 1;
  return PC_OK;
}

static int on_feedback(void *ctx, const char *text, size_t len)
{
  result *r = ctx;
  size_t n = len < sizeof(r->feedback) - 1 ? len : sizeof(r->feedback) - 1;

  r->n_feedback++;
  memcpy(r->feedback, text, n);
  r->feedback[n] = '\0';
  r->feedback_len = len;
  if (!valid_line(text, len))
    r->bad_text = 1;
  return PC_OK;
}

/* Create metric `m` with `config` (NULL: none), score once, destroy. */
static int run(int m, const char *config, const char *example,
               const char *prediction, result *r, pc_error *err)
{
  const pc_metric_iface *mi = ifaces[m];
  pc_metric_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
    .ctx = r, .score = on_score, .feedback = on_feedback,
  };
  void *inst = NULL;
  int rc;

  memset(r, 0, sizeof(*r));
  rc = mi->create(plugin->state, config, config ? strlen(config) : 0, &inst,
                  err);
  if (rc)
    return rc;
  rc = mi->score(inst, example, strlen(example), prediction,
                 strlen(prediction), NULL, 0, &sink, err);
  mi->destroy(inst);
  CU_ASSERT(!r->bad_range);
  CU_ASSERT(!r->bad_text);
  CU_ASSERT_EQUAL(r->n_scores, rc == PC_OK ? 1 : 0);
  return rc;
}

/* Score and expect success with `want`; on a miss, print the case. */
static void expect(int m, const char *config, const char *example,
                   const char *prediction, double want)
{
  pc_error err = PC_ERROR_INIT;
  result r;
  int rc = run(m, config, example, prediction, &r, &err);

  CU_ASSERT_EQUAL(rc, PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(r.score, want, 1e-12);
  if (rc != PC_OK || !(r.score - want < 1e-12 && want - r.score < 1e-12))
    fprintf(stderr, "\n  %s %s vs %s: rc %d (%s), score %.17g, want %.17g\n",
            names[m], example, prediction, rc, err.message, r.score, want);
}

/* JSON string literal of s[0..len) (control bytes escaped, other bytes,
 * even invalid UTF-8, as they are), appended to b. */
static void put_json_string(pc_buf *b, const char *s, size_t len)
{
  pc_buf_putc(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];

    if (c == '"' || c == '\\')
      pc_buf_printf(b, "\\%c", c);
    else if (c < 0x20)
      pc_buf_printf(b, "\\u%04x", c);
    else
      pc_buf_putc(b, (char)c);
  }
  pc_buf_putc(b, '"');
}

/* {"answer": "<s>"} into b (reset first). */
static const char *answer_json(pc_buf *b, const char *s)
{
  pc_buf_reset(b);
  pc_buf_puts(b, "{\"answer\": ");
  put_json_string(b, s, strlen(s));
  pc_buf_puts(b, "}");
  return b->data;
}

/* Score gold `gold` against prediction `pred` (plain strings). */
static double text_score(int m, const char *gold, const char *pred)
{
  pc_buf e, p;
  pc_error err = PC_ERROR_INIT;
  result r;
  int rc;

  pc_buf_init(&e, 0);
  pc_buf_init(&p, 0);
  rc = run(m, NULL, answer_json(&e, gold), answer_json(&p, pred), &r, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  pc_buf_free(&e);
  pc_buf_free(&p);
  return rc ? -1.0 : r.score;
}

/* ------------------------------------------------------------------------ */
/* The plugin.                                                              */

static void test_plugin_offers_six_metric_tables(void)
{
  int end = 0;
  uint32_t size = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(plugin);
  PC_ASSERT_STR_EQ(plugin->info->name, "metric-basic");
  CU_ASSERT_EQUAL(plugin->info->kinds, PC_KIND_METRIC);
  CU_ASSERT(plugin->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
  for (int i = 0; i < 6; i++)
    PC_ASSERT_STR_EQ(((const pc_iface_prefix *)ifaces[i])->name, names[i]);
  CU_ASSERT_PTR_NULL(pc_plugin_interface_at(plugin, PC_IFACE_METRIC, 6,
                                            0, &end));
  CU_ASSERT_EQUAL(end, 1);
  CU_ASSERT_PTR_EQUAL(plugin->info->get_interface(plugin->state,
                                                  PC_IFACE_METRIC, &size),
                      ifaces[0]);
  CU_ASSERT_EQUAL(size, sizeof(pc_metric_iface));
  CU_ASSERT_PTR_NULL(plugin->info->get_interface(plugin->state,
                                                 PC_IFACE_ADAPTER, &size));
  CU_ASSERT_PTR_NOT_NULL(pc_registry_find_iface(reg, PC_IFACE_METRIC, "f1",
                                                0, NULL));
}

/* ------------------------------------------------------------------------ */
/* normalize_text, observed through exact_match.                            */

/* Input and DSPy's normalize_text of it (each expected value normalizes
 * to itself, so exact_match(input, expected) holds exactly when the
 * plugin's normalize_text(input) is the expected text). */
static const struct {
  const char *input;
  const char *normalized;
} norm_cases[] = {
  {"The Eiffel  Tower!", "eiffel tower"},
  {"Caf\xc3\xa9", "cafe\xcc\x81"},                 /* NFD keeps the mark */
  {"Cafe\xcc\x81", "cafe\xcc\x81"},
  {"th\xc3\xa9", "\xcc\x81"},            /* "the" + U+0301: \b after "the" */
  {"\xc4\xb0stanbul", "i\xcc\x87stanbul"},          /* U+0130 lowers to 2 */
  {"\xc4\xb0\xcc\x87", "i\xcc\x87\xcc\x87"},
  {"Stra\xc3\x9f" "e", "stra\xc3\x9f" "e"},               /* ß stays ß */
  {"\xe1\xba\x9eTRASSE", "\xc3\x9ftrasse"},          /* U+1E9E lowers to ß */
  {"\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xa3\xce\x91\xce\xa3 \xce\xa3",
   "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xcf\x83\xce\xb1\xcf\x82 \xcf\x83"},
  {"\xe1\xbd\x88\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xcf\x8d\xcf\x82",
   "\xce\xbf\xcc\x93\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xcf\x85\xcc\x81"
   "\xcf\x82"},                                     /* Ὀδυσσεύς */
  {"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93 \xef\xbc\xa1\xef\xbc\xa2",
   "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93 \xef\xbd\x81\xef\xbd\x82"},
  {"\xe5\x8c\x97\xe4\xba\xac  \xe5\xa4\xa7\xe5\xad\xa6",
   "\xe5\x8c\x97\xe4\xba\xac \xe5\xa4\xa7\xe5\xad\xa6"},   /* CJK */
  {"New\xc2\xa0York", "new york"},                         /* U+00A0 */
  {"I \xe2\x9d\xa4\xef\xb8\x8f NY \xf0\x9f\x97\xbd",
   "i \xe2\x9d\xa4\xef\xb8\x8f ny \xf0\x9f\x97\xbd"},     /* emoji */
  {"An apple a day", "apple day"},
  {"the_the", "thethe"},          /* '_' goes with the punctuation first */
  {"A.N. the-end", "theend"},
  {"\xe2\x84\xab" "ngstr\xc3\xb6m", "\xcc\x8angstro\xcc\x88m"},  /* U+212B */
  {"don't", "dont"},
  {"\xc7\x85ungla", "\xc7\x86ungla"},                /* titlecase U+01C5 */
  {"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",            /* Hangul syllables */
   "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab\xe1\x84\x80\xe1\x85\xae\xe1\x86\xa8"
   "\xe1\x84\x8b\xe1\x85\xa5"},
  {"e\xcc\x81\xcc\x96", "e\xcc\x96\xcc\x81"},        /* canonical order */
  {"\x1c a \xe2\x80\x83the\xe3\x80\x80" "b\xc2\x85", "b"},  /* whitespace */
  {"\xe2\x85\xab \xe2\x85\xbb", "\xe2\x85\xbb \xe2\x85\xbb"},  /* Ⅻ ⅻ */
};

static void test_normalize_text_matches_python(void)
{
  size_t n = sizeof(norm_cases) / sizeof(norm_cases[0]);

  CU_ASSERT(n >= 15);
  for (size_t i = 0; i < n; i++) {
    double a = text_score(EM, norm_cases[i].normalized, norm_cases[i].input);
    double b = text_score(EM, norm_cases[i].input, norm_cases[i].normalized);

    CU_ASSERT_EQUAL(a, 1.0);
    CU_ASSERT_EQUAL(b, 1.0);
    if (a != 1.0 || b != 1.0)
      fprintf(stderr, "\n  normalize case %zu failed\n", i);
  }
}

/* Pairs DSPy keeps apart: each must not match. */
static void test_normalize_text_keeps_distinctions(void)
{
  static const char *const pairs[][2] = {
    {"Caf\xc3\xa9", "Cafe"},                       /* accents are kept */
    {"Stra\xc3\x9f" "e", "strasse"},
    {"\xc4\xb0stanbul", "istanbul"},
    {"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93", "123"},  /* no NFKD */
    {"\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x83"},
    {"the_the", "the the"},
    {"e\xcc\x81", "e"},
    {"anne", "ne"},
  };

  for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
    CU_ASSERT_EQUAL(text_score(EM, pairs[i][0], pairs[i][1]), 0.0);
}

/* ------------------------------------------------------------------------ */
/* exact_match                                                              */

static void test_exact_match_cases(void)
{
  expect(EM, NULL, "{\"answer\": \"Paris\"}", "{\"answer\": \"paris.\"}",
         1.0);
  expect(EM, NULL, "{\"answer\": \"Paris\"}", "{\"answer\": \"Lyon\"}", 0.0);
  /* A list of golds scores the best of them. */
  expect(EM, NULL, "{\"answer\": [\"Lyon\", \"the City of Light\"]}",
         "{\"answer\": \"city of light\"}", 1.0);
  expect(EM, NULL, "{\"answer\": [\"Lyon\", \"Nice\"]}",
         "{\"answer\": \"Paris\"}", 0.0);
  /* Gold and prediction values that are not strings compare by their
   * Python str(). */
  expect(EM, NULL, "{\"answer\": true}", "{\"answer\": \"True\"}", 1.0);
  expect(EM, NULL, "{\"answer\": 3}", "{\"answer\": \"3\"}", 1.0);
  expect(EM, NULL, "{\"answer\": 2.5}", "{\"answer\": \"2.5\"}", 1.0);
  expect(EM, NULL, "{\"answer\": 1e16}", "{\"answer\": \"1e+16\"}", 1.0);
  expect(EM, NULL, "{\"answer\": \"3\"}", "{\"answer\": 3}", 1.0);
  expect(EM, NULL, "{\"answer\": \"false\"}", "{\"answer\": false}", 1.0);
  expect(EM, NULL, "{\"answer\": [1, 2.0]}", "{\"answer\": \"2.0\"}", 1.0);
  expect(EM, NULL, "{\"answer\": \"x y\"}", "{\"answer\": [\"x\", \"y\"]}",
         1.0);
  /* Other fields, and gold kept under another name. */
  expect(EM, "{\"field\": \"label\"}", "{\"label\": \"spam\"}",
         "{\"label\": \"SPAM\", \"answer\": \"x\"}", 1.0);
  expect(EM, "{\"field\": \"label\", \"gold_field\": \"gold\"}",
         "{\"gold\": \"spam\", \"label\": \"ham\"}",
         "{\"label\": \"spam\"}", 1.0);
  /* A null config is the defaults; "a" is an article. */
  expect(EM, "null", "{\"answer\": \"a b\"}", "{\"answer\": \"b\"}", 1.0);
}

/* ------------------------------------------------------------------------ */
/* f1                                                                       */

static void test_f1_partial_overlaps_score_exact_fractions(void)
{
  /* Values from DSPy's f1_score. */
  expect(F1, NULL, "{\"answer\": \"Eiffel Tower\"}",
         "{\"answer\": \"the Eiffel tower in Paris\"}", 0.6666666666666666);
  expect(F1, NULL, "{\"answer\": \"paris lyon lyon\"}",
         "{\"answer\": \"paris paris lyon\"}", 0.6666666666666666);
  expect(F1, NULL, "{\"answer\": \"green yellow\"}",
         "{\"answer\": \"red green blue\"}", 0.4);
  expect(F1, NULL, "{\"answer\": \"seven eight\"}",
         "{\"answer\": \"one two three four five six seven\"}",
         0.22222222222222224);
  expect(F1, NULL, "{\"answer\": \"barack hussein obama\"}",
         "{\"answer\": \"Barack Obama\"}", 0.8);
  expect(F1, NULL, "{\"answer\": \"Paris\"}", "{\"answer\": \"PARIS!\"}",
         1.0);
  expect(F1, NULL, "{\"answer\": \"Paris\"}", "{\"answer\": \"Lyon\"}", 0.0);
  /* Both sides empty after normalization: 0, as in DSPy. */
  expect(F1, NULL, "{\"answer\": \"the\"}", "{\"answer\": \"a\"}", 0.0);
  /* The best gold of a list. */
  expect(F1, NULL, "{\"answer\": [\"red\", \"green blue\", \"yellow\"]}",
         "{\"answer\": \"red green blue\"}", 0.8);
}

/* ------------------------------------------------------------------------ */
/* passage_match                                                            */

static void test_passage_match_hits_and_misses(void)
{
  const char *gold = "{\"answer\": \"Eiffel Tower\"}";

  expect(PM, NULL, gold, "{\"context\": [\"Gustave Eiffel's tower.\", "
         "\"It is the Eiffel Tower, in Paris.\"]}", 1.0);
  expect(PM, NULL, gold, "{\"context\": [\"Gustave Eiffel's tower.\", "
         "\"The tower of Eiffel.\"]}", 0.0);
  expect(PM, NULL, gold, "{\"context\": \"see the eiffel  tower\"}", 1.0);
  expect(PM, NULL, gold, "{\"context\": []}", 0.0);
  /* Tokens must match whole: "Paris" is not in "Parisian". */
  expect(PM, NULL, "{\"answer\": \"Paris\"}",
         "{\"context\": [\"A Parisian cafe\"]}", 0.0);
  expect(PM, NULL, "{\"answer\": [\"Lyon\", \"Paris\"]}",
         "{\"context\": [\"x\", \"in paris, France\"]}", 1.0);
  /* Accents: NFD on both sides. */
  expect(PM, NULL, "{\"answer\": \"Caf\xc3\xa9\"}",
         "{\"context\": [\"the cafe\xcc\x81 is open\"]}", 1.0);
  /* Punctuation other than ASCII is a token of its own. */
  expect(PM, NULL, "{\"answer\": \"42\"}",
         "{\"context\": [\"\xc2\xbf" "42\xc2\xbf\"]}", 1.0);
  /* An answer that normalizes to nothing is in every passage (DSPy's
   * has_answer: the empty token list matches). */
  expect(PM, NULL, "{\"answer\": \"The\"}", "{\"context\": [\"x\"]}", 1.0);
  expect(PM, "{\"context_field\": \"passages\"}", gold,
         "{\"passages\": [\"eiffel tower\"], \"context\": []}", 1.0);
}

/* ------------------------------------------------------------------------ */
/* numeric                                                                  */

static void test_numeric_reads_numbers_like_a_grader(void)
{
  expect(NUM, NULL, "{\"answer\": 1000}", "{\"answer\": \"1,000\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": \"1,000\"}", "{\"answer\": \"1000.0\"}",
         1.0);
  expect(NUM, NULL, "{\"answer\": \"1000\"}", "{\"answer\": 1000.0}", 1.0);
  expect(NUM, NULL, "{\"answer\": 1234.5}", "{\"answer\": \"$1,234.50\"}",
         1.0);
  expect(NUM, NULL, "{\"answer\": -3}", "{\"answer\": \"-3\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": 3}", "{\"answer\": \" 3% \"}", 1.0);
  expect(NUM, NULL, "{\"answer\": 2000}", "{\"answer\": \"2e3\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": 0.5}", "{\"answer\": \".5\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": 42}",
         "{\"answer\": \"The answer is 42.\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": \"#### 1,234\"}",
         "{\"answer\": \"so 1200 + 34 = 1,234\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": 5}", "{\"answer\": \"from 3-5\"}", 1.0);
  expect(NUM, NULL, "{\"answer\": -5}", "{\"answer\": \"it was -5 C\"}",
         1.0);
  expect(NUM, NULL, "{\"answer\": 42}", "{\"answer\": \"41\"}", 0.0);
  expect(NUM, NULL, "{\"answer\": 42}", "{\"answer\": \"no idea\"}", 0.0);
  expect(NUM, NULL, "{\"answer\": 42}", "{\"answer\": true}", 0.0);
  expect(NUM, NULL, "{\"answer\": 1}", "{\"answer\": \"1e999\"}", 0.0);
  expect(NUM, NULL, "{\"answer\": [7, 42]}", "{\"answer\": 42}", 1.0);
  /* Tolerance: absolute, 1e-9 by default. */
  expect(NUM, NULL, "{\"answer\": 42}", "{\"answer\": 42.0000000001}", 1.0);
  expect(NUM, NULL, "{\"answer\": 3.14159}", "{\"answer\": \"3.14\"}", 0.0);
  expect(NUM, "{\"tolerance\": 0.01}", "{\"answer\": 3.14159}",
         "{\"answer\": \"3.14\"}", 1.0);
  expect(NUM, "{\"tolerance\": 0}", "{\"answer\": 0.3}",
         "{\"answer\": \"0.30\"}", 1.0);
}

static void test_numeric_gold_without_a_number_is_an_error(void)
{
  pc_error err = PC_ERROR_INIT;
  result r;

  CU_ASSERT_EQUAL(run(NUM, NULL, "{\"answer\": \"many\"}",
                      "{\"answer\": 3}", &r, &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "metric numeric: example field 'answer' "
                   "holds no number: 'many'");
}

/* ------------------------------------------------------------------------ */
/* Missing fields and bad input.                                            */

static void test_missing_gold_field_is_an_error(void)
{
  pc_error err = PC_ERROR_INIT;
  result r;

  for (int m = 0; m < 4; m++) {
    pc_error_clear(&err);
    CU_ASSERT_EQUAL(run(m, NULL, "{\"question\": \"q\"}",
                        "{\"answer\": \"x\", \"context\": []}", &r, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message,
                                  "example has no field 'answer'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, names[m]));
  }
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(run(EM, "{\"gold_field\": \"gold\"}",
                      "{\"answer\": \"x\"}", "{\"answer\": \"x\"}", &r,
                      &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message,
                   "metric exact_match: example has no field 'gold'");
}

static void test_gold_of_the_wrong_shape_is_an_error(void)
{
  static const char *const golds[] = {
    "{\"answer\": null}", "{\"answer\": {\"a\": 1}}", "{\"answer\": []}",
    "{\"answer\": [\"x\", [1]]}",
  };
  pc_error err = PC_ERROR_INIT;
  result r;

  for (size_t i = 0; i < sizeof(golds) / sizeof(golds[0]); i++) {
    pc_error_clear(&err);
    CU_ASSERT_EQUAL(run(F1, NULL, golds[i], "{\"answer\": \"x\"}", &r,
                        &err), PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "field 'answer'"));
  }
}

static void test_missing_or_null_prediction_scores_zero(void)
{
  pc_error err = PC_ERROR_INIT;
  result r;

  for (int m = 0; m < 4; m++) {
    CU_ASSERT_EQUAL(run(m, NULL, "{\"answer\": \"7\"}", "{\"other\": 1}",
                        &r, &err), PC_OK);
    CU_ASSERT_EQUAL(r.score, 0.0);
    CU_ASSERT_EQUAL(r.n_feedback, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.feedback, "the prediction has no `"));
  }
  CU_ASSERT_EQUAL(run(EM, NULL, "{\"answer\": \"Paris\"}",
                      "{\"answer\": null}", &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.score, 0.0);
  PC_ASSERT_STR_EQ(r.feedback, "exact_match on `answer`: the prediction's "
                   "`answer` is null; expected 'Paris'.");
  CU_ASSERT_EQUAL(run(PM, NULL, "{\"answer\": \"Paris\"}",
                      "{\"answer\": \"Paris\"}", &r, &err), PC_OK);
  PC_ASSERT_STR_EQ(r.feedback, "passage_match on `answer`: the prediction "
                   "has no `context`; expected 'Paris'.");
}

static void test_bad_example_or_prediction_json_is_an_error(void)
{
  pc_error err = PC_ERROR_INIT;
  result r;

  CU_ASSERT_EQUAL(run(EM, NULL, "{\"answer\": ", "{}", &r, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "metric exact_match: example "
                                "JSON"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(run(EM, NULL, "{\"answer\": \"x\"}", "[1]", &r, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "metric exact_match: prediction JSON is "
                   "not an object");
}

/* ------------------------------------------------------------------------ */
/* Configuration.                                                           */

static void test_bad_configs_are_refused_naming_the_key(void)
{
  static const struct {
    int m;
    const char *config;
    const char *message;
  } cases[] = {
    {EM, "{\"fild\": \"answer\"}",
     "metric exact_match: config: unknown key 'fild'"},
    {EM, "{\"field\": 3}",
     "metric exact_match: config: 'field' must be a non-empty string"},
    {F1, "{\"gold_field\": \"\"}",
     "metric f1: config: 'gold_field' must be a non-empty string"},
    {EM, "{\"tolerance\": 0.5}",
     "metric exact_match: config: unknown key 'tolerance'"},
    {F1, "{\"context_field\": \"c\"}",
     "metric f1: config: unknown key 'context_field'"},
    {PM, "{\"context_field\": [\"c\"]}",
     "metric passage_match: config: 'context_field' must be a non-empty "
     "string"},
    {NUM, "{\"tolerance\": -1}",
     "metric numeric: config: 'tolerance' must be a number >= 0"},
    {NUM, "{\"tolerance\": \"0.1\"}",
     "metric numeric: config: 'tolerance' must be a number >= 0"},
    {NUM, "[1]", "metric numeric: config: expected a JSON object"},
  };
  void *inst;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    inst = &inst;
    CU_ASSERT_EQUAL(ifaces[cases[i].m]->create(plugin->state,
                                               cases[i].config,
                                               strlen(cases[i].config),
                                               &inst, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(inst);
    PC_ASSERT_STR_EQ(err.message, cases[i].message);
  }
}

static void test_empty_configs_take_the_defaults(void)
{
  static const char *const configs[] = {"", "  ", "{}", "null"};
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;

  for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
    CU_ASSERT_EQUAL(ifaces[NUM]->create(plugin->state, configs[i],
                                        strlen(configs[i]), &inst, &err),
                    PC_OK);
    ifaces[NUM]->destroy(inst);
  }
  CU_ASSERT_EQUAL(ifaces[EM]->create(plugin->state, NULL, 0, &inst, &err),
                  PC_OK);
  ifaces[EM]->destroy(inst);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(ifaces[EM]->create(plugin->state, "{\"field\": ", 10,
                                     &inst, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "metric exact_match: config: "));
}

/* ------------------------------------------------------------------------ */
/* Feedback.                                                                */

static void test_feedback_explains_each_verdict(void)
{
  static const struct {
    int m;
    const char *example;
    const char *prediction;
    const char *feedback;
  } cases[] = {
    {EM, "{\"answer\": \"Paris\"}", "{\"answer\": \"Lyon\"}",
     "exact_match on `answer`: expected 'Paris', got 'Lyon'."},
    {EM, "{\"answer\": \"Paris\"}", "{\"answer\": \"paris\"}",
     "exact_match on `answer`: 'paris' matches the expected 'Paris'."},
    {EM, "{\"answer\": [\"a1\", \"a2\", \"a3\", \"a4\", \"a5\"]}",
     "{\"answer\": \"b\"}",
     "exact_match on `answer`: expected one of 'a1', 'a2', 'a3' and 2 "
     "more, got 'b'."},
    {F1, "{\"answer\": \"Eiffel Tower\"}", "{\"answer\": \"Eiffel\"}",
     "f1 on `answer`: token F1 0.67 against the expected 'Eiffel Tower', "
     "got 'Eiffel'."},
    {F1, "{\"answer\": \"Eiffel Tower\"}", "{\"answer\": \"eiffel tower\"}",
     "f1 on `answer`: 'eiffel tower' matches the expected 'Eiffel Tower'."},
    {PM, "{\"answer\": \"Paris\"}", "{\"context\": [\"x\", \"in Paris\"]}",
     "passage_match on `answer`: passage 2 of `context` contains the "
     "expected 'Paris'."},
    {PM, "{\"answer\": \"Paris\"}", "{\"context\": [\"x\", \"y\"]}",
     "passage_match on `answer`: none of the 2 passages in `context` "
     "contains the expected 'Paris'."},
    {NUM, "{\"answer\": \"#### 1,000\"}", "{\"answer\": \"1000.0\"}",
     "numeric on `answer`: 1000.0 matches the expected 1,000."},
    {NUM, "{\"answer\": 3}", "{\"answer\": \" 3% \"}",
     "numeric on `answer`: 3% matches the expected 3."},
    {NUM, "{\"answer\": 1234.5}", "{\"answer\": \"$1,234.50\"}",
     "numeric on `answer`: $1,234.50 matches the expected 1234.5."},
    {NUM, "{\"answer\": 42}", "{\"answer\": \"I think 41.\"}",
     "numeric on `answer`: expected 42, got 41 (the last number in 'I "
     "think 41.')."},
    {NUM, "{\"answer\": 42}", "{\"answer\": \"many\"}",
     "numeric on `answer`: expected 42, got 'many', which holds no "
     "number."},
  };
  pc_error err = PC_ERROR_INIT;
  result r;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    CU_ASSERT_EQUAL(run(cases[i].m, NULL, cases[i].example,
                        cases[i].prediction, &r, &err), PC_OK);
    CU_ASSERT_EQUAL(r.n_feedback, 1);
    PC_ASSERT_STR_EQ(r.feedback, cases[i].feedback);
  }
}

static void test_feedback_is_one_short_line_of_utf8(void)
{
  pc_buf pred, ex;
  pc_error err = PC_ERROR_INIT;
  result r;

  pc_buf_init(&pred, 0);
  pc_buf_init(&ex, 0);
  pc_buf_puts(&pred, "{\"answer\": \"line one\\nline two ");
  for (int i = 0; i < 300; i++)
    pc_buf_puts(&pred, "\xc3\xa9");             /* 600 bytes of é */
  pc_buf_puts(&pred, "\"}");
  pc_buf_puts(&ex, "{\"answer\": \"x\"}");
  CU_ASSERT_EQUAL(run(EM, NULL, ex.data, pred.data, &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.score, 0.0);
  CU_ASSERT_EQUAL(r.n_feedback, 1);
  CU_ASSERT(r.feedback_len < 300);
  CU_ASSERT(valid_line(r.feedback, r.feedback_len));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.feedback, "got 'line one line two "));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.feedback, "...'."));
  pc_buf_free(&pred);
  pc_buf_free(&ex);
}

/* A sink of v1.0 size without the feedback member set gets only the
 * score; one whose struct_size stops before `feedback` is never asked. */
static void test_sink_without_feedback_gets_only_the_score(void)
{
  result r;
  pc_error err = PC_ERROR_INIT;
  pc_metric_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
    .ctx = &r, .score = on_score, .feedback = on_feedback,
  };
  void *inst = NULL;
  const char *ex = "{\"answer\": \"x\"}", *pr = "{\"answer\": \"y\"}";

  memset(&r, 0, sizeof(r));
  sink.hdr.struct_size = (uint32_t)offsetof(pc_metric_sink, feedback);
  CU_ASSERT_EQUAL_FATAL(ifaces[EM]->create(plugin->state, NULL, 0, &inst,
                                           &err), PC_OK);
  CU_ASSERT_EQUAL(ifaces[EM]->score(inst, ex, strlen(ex), pr, strlen(pr),
                                    NULL, 0, &sink, &err), PC_OK);
  CU_ASSERT_EQUAL(r.n_scores, 1);
  CU_ASSERT_EQUAL(r.n_feedback, 0);
  sink.hdr.struct_size = (uint32_t)sizeof(sink);
  sink.feedback = NULL;
  CU_ASSERT_EQUAL(ifaces[EM]->score(inst, ex, strlen(ex), pr, strlen(pr),
                                    NULL, 0, &sink, &err), PC_OK);
  CU_ASSERT_EQUAL(r.n_scores, 2);
  CU_ASSERT_EQUAL(r.n_feedback, 0);
  CU_ASSERT_EQUAL(ifaces[EM]->score(inst, ex, strlen(ex), pr, strlen(pr),
                                    NULL, 0, NULL, &err), PC_E_INVALID_ARG);
  ifaces[EM]->destroy(inst);
}

/* ------------------------------------------------------------------------ */
/* Hosts other than promptc's.                                              */

/*
 * The host's pc.json/1 refuses invalid UTF-8, so to see what the plugin
 * does with bad bytes the tests give it a host whose parse lets them
 * through: in the text '~' stands for the byte 0xFF and '^' for a lone
 * lead byte 0xC3, put back into the top-level string members.
 */
static pc_json_api lenient_json;
static pc_host_api test_host;
static int hide_json;

static int lenient_parse(void *ctx, const char *text, size_t len,
                         uint32_t flags, pc_json **out, pc_error *err)
{
  const pc_json_api *js = pc_host_api_get()->get_host_interface(
    ctx, "pc.json/1", NULL);
  const char *key;
  const pc_json *v;
  int rc = js->parse(ctx, text, len, flags, out, err);

  for (size_t i = 0; !rc && js->object_at(*out, i, &key, &v) == 0; i++) {
    char copy[256], name[64];
    size_t n = 0;
    const char *s = js->get_string(v, &n);

    if (!s || n >= sizeof(copy) || strlen(key) >= sizeof(name))
      continue;
    for (size_t k = 0; k < n; k++)
      copy[k] = s[k] == '~' ? '\xff' : s[k] == '^' ? '\xc3' : s[k];
    memcpy(name, key, strlen(key) + 1);
    rc = js->object_set(ctx, *out, name, js->new_string(ctx, copy, n));
  }
  return rc;
}

static const void *test_get_interface(void *ctx, const char *id,
                                      uint32_t *size)
{
  if (!strcmp(id, "pc.json/1")) {
    if (hide_json)
      return NULL;
    if (size)
      *size = (uint32_t)sizeof(lenient_json);
    return &lenient_json;
  }
  return pc_host_api_get()->get_host_interface(ctx, id, size);
}

/* Init a second plugin state on the test host. */
static int test_host_init(void **state, pc_error *err)
{
  const pc_host_api *real = pc_host_api_get();

  test_host = *real;
  test_host.get_host_interface = test_get_interface;
  lenient_json = *(const pc_json_api *)real->get_host_interface(
    real->ctx, "pc.json/1", NULL);
  lenient_json.parse = lenient_parse;
  return plugin->info->init(&test_host, state, err);
}

static void test_init_needs_the_json_service(void)
{
  pc_error err = PC_ERROR_INIT;
  void *state = &state;

  hide_json = 1;
  CU_ASSERT_EQUAL(test_host_init(&state, &err), PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NULL(state);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "pc.json/1"));
  hide_json = 0;
}

static void test_bad_bytes_read_as_replacement_characters(void)
{
  static const struct {
    int m;
    const char *example;
    const char *prediction;
    double want;
  } cases[] = {
    {EM, "{\"answer\": \"caf~\"}", "{\"answer\": \"caf\xef\xbf\xbd\"}", 1},
    {EM, "{\"answer\": \"caf~~\"}", "{\"answer\": \"caf\xef\xbf\xbd\"}", 0},
    {EM, "{\"answer\": \"ab^\"}", "{\"answer\": \"AB\xef\xbf\xbd\"}", 1},
    {F1, "{\"answer\": \"x ^~ y\"}", "{\"answer\": \"y\"}", 0.5},
    {PM, "{\"answer\": \"~\"}", "{\"context\": \"a ^ b \xef\xbf\xbd\"}", 1},
    {NUM, "{\"answer\": \"~42^\"}", "{\"answer\": \"42\"}", 1},
  };
  pc_error err = PC_ERROR_INIT;
  void *state = NULL, *inst;

  CU_ASSERT_EQUAL_FATAL(test_host_init(&state, &err), PC_OK);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const pc_metric_iface *mi = ifaces[cases[i].m];
    const char *ex = cases[i].example, *pr = cases[i].prediction;
    result r;
    pc_metric_sink sink = {
      .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
      .ctx = &r, .score = on_score, .feedback = on_feedback,
    };

    memset(&r, 0, sizeof(r));
    inst = NULL;
    CU_ASSERT_EQUAL_FATAL(mi->create(state, NULL, 0, &inst, &err), PC_OK);
    CU_ASSERT_EQUAL(mi->score(inst, ex, strlen(ex), pr, strlen(pr), NULL,
                              0, &sink, &err), PC_OK);
    CU_ASSERT_DOUBLE_EQUAL(r.score, cases[i].want, 1e-12);
    CU_ASSERT_EQUAL(r.n_feedback, 1);
    CU_ASSERT(!r.bad_text);  /* feedback shows U+FFFD, never the bytes */
    mi->destroy(inst);
  }
  plugin->info->fini(state);
}

/* ------------------------------------------------------------------------ */
/* Threads: instances are read-only, so one may score on many threads.      */

#define N_THREADS 4
#define N_ROUNDS 50

typedef struct hammer_arg {
  void *inst;
  int wrong;
} hammer_arg;

static void *hammer(void *p)
{
  hammer_arg *a = p;
  const char *ex = "{\"answer\": [\"Eiffel Tower\", \"x\"]}";
  const char *pr = "{\"answer\": \"the Eiffel tower in Paris\"}";

  for (int i = 0; i < N_ROUNDS; i++) {
    pc_error err = PC_ERROR_INIT;
    result r;
    pc_metric_sink sink = {
      .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
      .ctx = &r, .score = on_score, .feedback = on_feedback,
    };

    memset(&r, 0, sizeof(r));
    if (ifaces[F1]->score(a->inst, ex, strlen(ex), pr, strlen(pr), NULL, 0,
                          &sink, &err) != PC_OK ||
        r.score != 0.6666666666666666 || r.n_feedback != 1)
      a->wrong++;
  }
  return NULL;
}

static void test_one_instance_scores_on_many_threads(void)
{
  pthread_t tid[N_THREADS];
  hammer_arg args[N_THREADS];
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int t;

  CU_ASSERT_EQUAL_FATAL(ifaces[F1]->create(plugin->state, NULL, 0, &inst,
                                           &err), PC_OK);
  for (t = 0; t < N_THREADS; t++) {
    args[t].inst = inst;
    args[t].wrong = 0;
    CU_ASSERT_EQUAL(pthread_create(&tid[t], NULL, hammer, &args[t]), 0);
  }
  for (t = 0; t < N_THREADS; t++) {
    pthread_join(tid[t], NULL);
    CU_ASSERT_EQUAL(args[t].wrong, 0);
  }
  ifaces[F1]->destroy(inst);
}

static CU_TestInfo tests[] = {
  {"plugin offers six metric tables", test_plugin_offers_six_metric_tables},
  {"normalize_text matches python", test_normalize_text_matches_python},
  {"normalize_text keeps distinctions",
   test_normalize_text_keeps_distinctions},
  {"exact_match cases", test_exact_match_cases},
  {"f1 partial overlaps score exact fractions",
   test_f1_partial_overlaps_score_exact_fractions},
  {"passage_match hits and misses", test_passage_match_hits_and_misses},
  {"numeric reads numbers like a grader",
   test_numeric_reads_numbers_like_a_grader},
  {"numeric gold without a number is an error",
   test_numeric_gold_without_a_number_is_an_error},
  {"missing gold field is an error", test_missing_gold_field_is_an_error},
  {"gold of the wrong shape is an error",
   test_gold_of_the_wrong_shape_is_an_error},
  {"missing or null prediction scores zero",
   test_missing_or_null_prediction_scores_zero},
  {"bad example or prediction json is an error",
   test_bad_example_or_prediction_json_is_an_error},
  {"bad configs are refused naming the key",
   test_bad_configs_are_refused_naming_the_key},
  {"empty configs take the defaults", test_empty_configs_take_the_defaults},
  {"feedback explains each verdict", test_feedback_explains_each_verdict},
  {"feedback is one short line of utf8",
   test_feedback_is_one_short_line_of_utf8},
  {"sink without feedback gets only the score",
   test_sink_without_feedback_gets_only_the_score},
  {"init needs the json service", test_init_needs_the_json_service},
  {"bad bytes read as replacement characters",
   test_bad_bytes_read_as_replacement_characters},
  {"one instance scores on many threads",
   test_one_instance_scores_on_many_threads},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"metric_basic", suite_init, suite_clean, NULL, NULL, tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
