/* tests/unit/test_report.c: core/report.c, core/report_html.c and
 * core/report_svg.c; suite "report". */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "harness.h"
#include "json_text.h"
#include "program.h"
#include "report.h"

/* JSON in tests is written with ' for " and ` for a single quote inside a
 * string, so it reads well in C. */
static struct json_object *parse_quoted(const char *text)
{
  struct json_object *root = NULL;
  pc_error err = PC_ERROR_INIT;
  char *copy = pc_strdup(text);

  if (!copy)
    return NULL;
  for (char *p = copy; *p; p++) {
    if (*p == '\'')
      *p = '"';
    else if (*p == '`')
      *p = '\'';
  }
  if (pc_json_parse(copy, strlen(copy), PC_JSON_PARSE_STRICT, &root, &err))
    fprintf(stderr, "parse_quoted: %s\n", err.message);
  pc_free(copy);
  return root;
}

/* The summary of `promptc compile --json`, members in its own order. */
#define SUMMARY \
  "{'run_id': 'r-1', 'optimizer': {'name': 'copro', 'id': " \
  "'org.promptc.optimizer.copro', 'version': '0.1.0', 'settings': " \
  "{'breadth': 3}}, 'seed': 7, 'baseline': {'score': 40.0, 'n': 30}, " \
  "'compiled': {'score': 50.0, 'n': 30}, 'usage': {'task_calls': 90, " \
  "'proposal_calls': 2, 'metric_calls': 90, 'cost': null}, " \
  "'stopped_by': null, 'trials': 3, 'elapsed_ms': 1200, " \
  "'program_sha256': 'ab12'}"

#define AT(ms, calls) \
  "'at': {'elapsed_ms': " #ms ", 'calls': " #calls ", 'tokens': 0, " \
  "'cost': null, 'metric_calls': " #calls "}"

#define TRIALS \
  "[{'label': 'first', 'split': 'val', 'score': 40.0, 'n': 30, " \
  "'trial': 1, " AT(100, 30) "}, " \
  "{'label': 'second', 'split': 'val', 'score': null, 'n': 30, " \
  "'trial': 2, " AT(500, 60) "}, " \
  "{'label': 'third', 'split': 'val', 'score': 50.0, 'n': 30, " \
  "'trial': 3, " AT(900, 90) "}]"

/* Instructions and a label holding every character HTML escapes. */
#define NASTY "Use <b>bold</b> & \\'quotes\\' and `apostrophes`"

#define STATE \
  "{'classify': {'instructions': '" NASTY "', 'demos': []}}"

/* Build a report from JSON texts (NULL: left out). */
static struct json_object *make_report(const char *trials,
                                       const char *opt_report,
                                       const char *state)
{
  struct json_object *summary = parse_quoted(SUMMARY);
  struct json_object *t = trials ? parse_quoted(trials) : NULL;
  struct json_object *o = opt_report ? parse_quoted(opt_report) : NULL;
  struct json_object *s = state ? parse_quoted(state) : NULL;
  struct json_object *r = NULL;
  pc_report_input in;
  pc_error err = PC_ERROR_INIT;

  memset(&in, 0, sizeof(in));
  in.summary = summary;
  in.program_name = "triage";
  in.program_path = "out/compiled.json";
  in.program_sha256 = "ab12";
  in.trials = t;
  in.optimizer_report = o;
  in.state = s;
  CU_ASSERT_EQUAL(pc_report_build(&in, &r, &err), PC_OK);
  json_object_put(summary);
  json_object_put(t);
  json_object_put(o);
  json_object_put(s);
  return r;
}

/* The page of `report` (pc_free). */
static char *render(const struct json_object *report)
{
  pc_buf b;
  pc_error err = PC_ERROR_INIT;

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  CU_ASSERT_EQUAL(pc_report_html(report, &b, &err), PC_OK);
  return pc_buf_take(&b, NULL);
}

static size_t count(const char *hay, const char *needle)
{
  size_t n = 0, len = strlen(needle);

  for (const char *p = hay; (p = strstr(p, needle)); p += len)
    n++;
  return n;
}

/* No URL but the SVG namespace, no script, and every <svg> closed. */
static void assert_self_contained(const char *html)
{
  size_t urls = count(html, "http://") + count(html, "https://");

  CU_ASSERT_EQUAL(urls, count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  CU_ASSERT_PTR_NULL(strstr(html, "<script"));
  CU_ASSERT_PTR_NULL(strstr(html, "nan"));
  CU_ASSERT_PTR_NULL(strstr(html, "inf\""));
  CU_ASSERT_EQUAL(count(html, "<svg "), count(html, "</svg>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "</html>\n"));
}

static void test_json_members_in_fixed_order(void)
{
  struct json_object *r = make_report(TRIALS, "{'note': 1}", STATE);
  static const char *const order[] = {
    "schema", "run_id", "program", "optimizer", "seed", "baseline",
    "compiled", "stopped_by", "stop_reason", "usage", "elapsed_ms",
    "trials", "optimizer_report", "state",
  };
  size_t k = 0;
  char *text;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  json_object_object_foreach(r, key, val) {
    (void)val;
    CU_ASSERT_FATAL(k < sizeof(order) / sizeof(order[0]));
    PC_ASSERT_STR_EQ(key, order[k]);
    k++;
  }
  CU_ASSERT_EQUAL(k, sizeof(order) / sizeof(order[0]));
  text = pc_json_to_string(r, PC_JSON_TEXT_COMPACT);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  /* Nested objects keep their order; the summary's extras are left out. */
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"schema\":\"promptc.report/1\","
                                      "\"run_id\":\"r-1\",\"program\":"
                                      "{\"name\":\"triage\",\"path\":"
                                      "\"out/compiled.json\",\"sha256\":"
                                      "\"ab12\"},\"optimizer\":{\"name\":"
                                      "\"copro\",\"id\":"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"baseline\":{\"score\":40.0,"
                                      "\"n\":30},\"compiled\":{\"score\":"
                                      "50.0,\"n\":30},\"stopped_by\":null,"
                                      "\"stop_reason\":null,\"usage\":"));
  CU_ASSERT_PTR_NULL(strstr(text, "program_sha256"));
  CU_ASSERT_EQUAL(json_object_array_length(pc_json_member(r, "trials")), 3);
  pc_free(text);
  json_object_put(r);
}

static void test_json_without_trials_or_report_has_nulls(void)
{
  struct json_object *r = make_report(NULL, NULL, NULL), *v;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  v = pc_json_member(r, "trials");
  CU_ASSERT(json_object_is_type(v, json_type_array));
  CU_ASSERT_EQUAL(json_object_array_length(v), 0);
  CU_ASSERT(json_object_object_get_ex(r, "optimizer_report", &v));
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT(json_object_object_get_ex(r, "state", &v));
  CU_ASSERT_PTR_NULL(v);
  json_object_put(r);
}

static void test_build_without_summary_is_refused(void)
{
  pc_report_input in;
  struct json_object *r = (struct json_object *)&in;
  pc_error err = PC_ERROR_INIT;

  memset(&in, 0, sizeof(in));
  CU_ASSERT_EQUAL(pc_report_build(&in, &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "summary"));
}

static void test_html_escapes_text_from_the_data(void)
{
  struct json_object *r = make_report(
    "[{'label': '<i>x</i> & `y` \\'z\\'', 'split': 'val', 'score': 1, "
    "'n': 1, 'trial': 1}]", NULL, STATE);
  char *html = render(r);

  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "Use &lt;b&gt;bold&lt;/b&gt; &amp; "
                                      "&quot;quotes&quot; and &#39;"
                                      "apostrophes&#39;"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "&lt;i&gt;x&lt;/i&gt; &amp; &#39;y"
                                      "&#39; &quot;z&quot;"));
  CU_ASSERT_PTR_NULL(strstr(html, "<b>bold"));
  CU_ASSERT_PTR_NULL(strstr(html, "<i>x"));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

static void test_html_has_a_chart_per_applicable_section(void)
{
  struct json_object *r = make_report(TRIALS, NULL, STATE);
  char *html = render(r);

  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_EQUAL(count(html, "<svg "), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h2>Summary</h2>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "aria-label=\"Score per trial\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(html,
                                "aria-label=\"Calls and cost over time\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h2>Trials</h2>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h2>Final state</h2>"));
  /* Two scored trials, one marker each; the null score has none. */
  CU_ASSERT_EQUAL(count(html, "class=\"g0\"><title>trial "), 2);
  CU_ASSERT_PTR_NULL(strstr(html, "<title>trial 2"));
  /* Baseline 40.00 -> compiled 50.00. */
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "(+10.00)"));
  /* The trial table: three rows under the header. */
  CU_ASSERT_EQUAL(count(html, "<tr><td class=\"n\">"), 3);
  CU_ASSERT_PTR_NULL(strstr(html, "id=\"combos\""));
  CU_ASSERT_PTR_NULL(strstr(html, "id=\"candidates\""));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

static void test_html_copes_with_no_trials(void)
{
  struct json_object *r = make_report("[]", NULL, NULL);
  char *html = render(r);

  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_EQUAL(count(html, "<svg "), 2);
  CU_ASSERT_EQUAL(count(html, "No trials were recorded"), 3);
  CU_ASSERT_PTR_NULL(strstr(html, "<polyline"));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

static void test_html_copes_with_equal_and_null_scores(void)
{
  struct json_object *r = make_report(
    "[{'score': 55.0, 'trial': 1}, {'score': 55.0, 'trial': 2}, "
    "{'score': null, 'trial': 3}]", NULL, NULL);
  struct json_object *sum = parse_quoted("{'baseline': {'score': 55.0}}");
  char *html;

  /* The baseline equal to every score: the y range must still widen. */
  json_object_object_add(r, "baseline",
                         json_object_get(pc_json_member(sum, "baseline")));
  html = render(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_EQUAL(count(html, "<title>trial "), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<polyline class=\"best\""));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(sum);
  json_object_put(r);

  /* Only null scores. */
  r = make_report("[{'score': null}, {'label': 'no score at all'}]", NULL,
                  NULL);
  html = render(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "No trial has a score"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "The trials carry no times"));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

/* 10,000 trials of two kinds: the page stays under 1 MiB, the table keeps
 * the first and last 500 rows, the chart thins its markers. */
#define BIG 10000
#define BIG_HTML_MAX ((size_t)1 << 20)

static void test_html_of_ten_thousand_trials_stays_small(void)
{
  struct json_object *r = make_report("[]", NULL, NULL);
  struct json_object *a = pc_json_member(r, "trials");
  char *html;
  size_t len;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  for (int i = 1; i <= BIG; i++) {
    struct json_object *t = json_object_new_object();
    struct json_object *spent = json_object_new_object();
    char label[64];

    snprintf(label, sizeof(label), "round %d, candidate %d of 12", i / 12,
             i % 12);
    json_object_object_add(t, "label", json_object_new_string(label));
    json_object_object_add(t, "kind", json_object_new_string(
                                        i % 5 ? "minibatch" : "full"));
    json_object_object_add(t, "score",
                           json_object_new_double((i * 37 % 101) / 1.01));
    json_object_object_add(t, "n", json_object_new_int(i % 5 ? 10 : 100));
    json_object_object_add(t, "trial", json_object_new_int(i));
    json_object_object_add(spent, "elapsed_ms", json_object_new_int(i * 3));
    json_object_object_add(spent, "calls", json_object_new_int(i * 10));
    json_object_object_add(spent, "cost",
                           json_object_new_double(i * 0.0001));
    json_object_object_add(spent, "metric_calls", json_object_new_int(i));
    json_object_object_add(t, "at", spent);
    json_object_array_add(a, t);
  }
  html = render(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  len = strlen(html);
  CU_ASSERT(len < BIG_HTML_MAX);
  CU_ASSERT_EQUAL(count(html, "<tr><td class=\"n\">"),
                  2 * PC_REPORT_TABLE_EDGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "9000 trials left out"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td class=\"n\">500</td>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td class=\"n\">9501</td>"));
  CU_ASSERT_PTR_NULL(strstr(html, "<td class=\"n\">501</td>"));
  CU_ASSERT(count(html, "<title>trial ") <= 1500);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "lowest and highest score"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, ">minibatch</text>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, ">full</text>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "cost ($)"));
  assert_self_contained(html);
  printf("\n    10000 trials: %zu bytes of HTML ", len);
  pc_free(html);
  json_object_put(r);
}

/* MIPROv2's report: two predictors; (0, 1) of "a" appears twice. */
#define COMBOS \
  "{'combos': [" \
  "{'params': {'a': {'instruction': 0, 'demos': 1}, " \
  "'b': {'instruction': 2, 'demos': 0}}, 'minibatch_scores': [50, 70], " \
  "'mean': 60.0, 'full_score': 71.0}, " \
  "{'params': {'a': {'instruction': 0, 'demos': 1}, " \
  "'b': {'instruction': 1, 'demos': 0}}, 'minibatch_scores': [40], " \
  "'mean': 40.0, 'full_score': null}, " \
  "{'params': {'a': {'instruction': 1, 'demos': 0}, " \
  "'b': {'instruction': 0, 'demos': 0}}, 'minibatch_scores': [30], " \
  "'mean': 30.0, 'full_score': null}]}"

static void test_combos_make_a_heatmap_per_predictor(void)
{
  struct json_object *r = make_report(TRIALS, COMBOS, NULL);
  char *html = render(r);

  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"combos\""));
  CU_ASSERT_EQUAL(count(html, "<svg "), 4);
  CU_ASSERT_EQUAL(count(html, "aria-label=\"Mean score per instruction "
                              "and demo set\""), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h3>a</h3>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h3>b</h3>"));
  /* Aggregated per predictor: a's (0, 1) is the mean of 60 and 40, and
   * its full score (71) is written in the cell. */
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "instruction 0, demo set 1: mean "
                                      "50.00 over 2; full score 71.00"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, ">71.0</text>"));
  /* b's cells are its own. */
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "instruction 2, demo set 0: mean "
                                      "60.00 over 1"));
  CU_ASSERT_PTR_NULL(strstr(html, "id=\"candidates\""));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

/* GEPA's report: 0 the seed, 1 and 2 its children, 3 a merge of 1 and 2;
 * 2 and 3 share the front, 3 is the best. */
#define GEPA \
  "{'candidates': [" \
  "{'index': 0, 'parents': [], 'val_score': 40.0, 'kind': 'seed'}, " \
  "{'index': 1, 'parents': [0], 'val_score': 50.0, 'kind': 'reflect'}, " \
  "{'index': 2, 'parents': [0], 'val_score': 55.0, 'kind': 'reflect'}, " \
  "{'index': 3, 'parents': [1, 2], 'val_score': 60.0, 'kind': 'merge'}], " \
  "'pareto_front': [{'val_index': 0, 'best': 1.0, 'candidates': [3]}, " \
  "{'val_index': 1, 'best': 1.0, 'candidates': [2, 3]}, " \
  "{'val_index': 2, 'best': 0.0, 'candidates': [3]}], 'best_index': 3}"

static void test_gepa_report_makes_tree_and_front(void)
{
  struct json_object *r = make_report(TRIALS, GEPA, NULL);
  char *html = render(r);

  CU_ASSERT_PTR_NOT_NULL_FATAL(html);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h2>Candidate tree</h2>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "<h2>Pareto front</h2>"));
  CU_ASSERT_EQUAL(count(html, "<svg "), 4);
  /* Four nodes over three generations, four edges, two of a merge. */
  CU_ASSERT_EQUAL(count(html, "r=\"12\""), 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, ">generation 2</text>"));
  CU_ASSERT_EQUAL(count(html, "class=\"edge\""), 2);
  CU_ASSERT_EQUAL(count(html, "class=\"edge merge\""), 2);
  CU_ASSERT_EQUAL(count(html, "class=\"node top\""), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "candidate 3, val score 60.00 (best) "
                                      "(on the front)"));
  CU_ASSERT_EQUAL(count(html, "class=\"node front\""), 1);
  /* Bars: candidate 3 is best on 3 val examples, candidate 2 on 1. */
  CU_ASSERT_PTR_NOT_NULL(strstr(html, "(of 3)"));
  CU_ASSERT_EQUAL(count(html, "class=\"bar\""), 2);
  CU_ASSERT_PTR_NULL(strstr(html, "id=\"combos\""));
  assert_self_contained(html);
  pc_free(html);
  json_object_put(r);
}

static void test_html_out_of_memory_is_an_error(void)
{
  struct json_object *r = make_report(TRIALS, GEPA, STATE);
  pc_buf b;
  int rc = PC_E_NOMEM;

  /* Fail each allocation in turn until the page is made: each failure
   * must come back as PC_E_NOMEM, never a crash. */
  for (unsigned long n = 1; n < 2000 && rc == PC_E_NOMEM; n++) {
    pc_error err = PC_ERROR_INIT;

    pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
    pc__alloc_fail_at(n);
    rc = pc_report_html(r, &b, &err);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || (rc == PC_E_NOMEM && err.code == PC_E_NOMEM));
    pc_buf_free(&b);
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  /* A cap too small for the page is the same error. */
  pc_buf_init(&b, 1000);
  CU_ASSERT_EQUAL(pc_report_html(r, &b, NULL), PC_E_NOMEM);
  pc_buf_free(&b);
  json_object_put(r);
}

static void test_paths_follow_output_or_prefix(void)
{
  char *j, *h;

  CU_ASSERT_EQUAL_FATAL(pc_report_paths("d/out.json", NULL, &j, &h), PC_OK);
  PC_ASSERT_STR_EQ(j, "d/out.report.json");
  PC_ASSERT_STR_EQ(h, "d/out.report.html");
  pc_free(j);
  pc_free(h);
  CU_ASSERT_EQUAL_FATAL(pc_report_paths("out", NULL, &j, &h), PC_OK);
  PC_ASSERT_STR_EQ(j, "out.report.json");
  pc_free(j);
  pc_free(h);
  CU_ASSERT_EQUAL_FATAL(pc_report_paths("d/out.json", "r/x", &j, &h),
                        PC_OK);
  PC_ASSERT_STR_EQ(j, "r/x.report.json");
  PC_ASSERT_STR_EQ(h, "r/x.report.html");
  pc_free(j);
  pc_free(h);
}

static void test_write_makes_both_files_and_nulls_nan(void)
{
  struct json_object *r = make_report(TRIALS, NULL, STATE), *back = NULL;
  pc_error err = PC_ERROR_INIT;
  char dir[512], jp[600], hp[600], *html;
  const char *base = pc_test_tmpfile("", 0, NULL);

  snprintf(dir, sizeof(dir), "%s.d", base);
  snprintf(jp, sizeof(jp), "%s/sub/r.report.json", dir);
  snprintf(hp, sizeof(hp), "%s/sub/r.report.html", dir);
  json_object_object_add(r, "elapsed_ms", json_object_new_double(NAN));
  CU_ASSERT_EQUAL_FATAL(pc_report_write(r, jp, hp, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_json_parse_file(jp, PC_CONFIG_MAX, &back, &err), PC_OK);
  CU_ASSERT(json_object_object_get_ex(back, "elapsed_ms", NULL));
  CU_ASSERT_PTR_NULL(pc_json_member(back, "elapsed_ms"));
  PC_ASSERT_STR_EQ(pc_json_str(back, "schema"), "promptc.report/1");
  html = pc_test_read_file(hp, NULL);
  CU_ASSERT_PTR_NOT_NULL(html);
  CU_ASSERT_PTR_NOT_NULL(html && strstr(html, "<h2>Trials</h2>"));
  pc_free(html);
  json_object_put(back);
  remove(jp);
  remove(hp);
  snprintf(jp, sizeof(jp), "%s/sub", dir);
  rmdir(jp);
  rmdir(dir);
  json_object_put(r);
}

static void test_write_under_a_file_fails_naming_the_path(void)
{
  struct json_object *r = make_report(TRIALS, NULL, NULL);
  pc_error err = PC_ERROR_INIT;
  char jp[600];

  /* A regular file where a directory should be: even root cannot. */
  snprintf(jp, sizeof(jp), "%s/r.report.json",
           pc_test_tmpfile("x", 1, NULL));
  CU_ASSERT_EQUAL(pc_report_write(r, jp, NULL, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a directory"));
  json_object_put(r);
}

static void test_state_lists_every_predictor(void)
{
  struct json_object *root = parse_quoted(
    "{'schema': 'promptc.program/1', 'modules': {"
    "'a': {'type': 'predict', 'signature': 'question -> answer'}, "
    "'b': {'type': 'predict', 'signature': 'question -> n: int'}}, "
    "'flow': [{'call': 'a', 'inputs': {'question': '$input.q'}}, "
    "{'call': 'b', 'inputs': {'question': '$input.q'}}], "
    "'outputs': {'answer': '$a.answer', 'n': '$b.n'}}");
  struct json_object *demos = parse_quoted("[{'question': 'q', "
                                           "'answer': 'x'}]");
  struct json_object *state;
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_program_from_json("p.json", root, &prog, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(pc_program_set_state(prog, "a", "Be <brief>.", demos),
                  PC_OK);
  state = pc_report_state_of(prog);
  CU_ASSERT_PTR_NOT_NULL_FATAL(state);
  CU_ASSERT_EQUAL(json_object_object_length(state), 2);
  PC_ASSERT_STR_EQ(pc_json_str(pc_json_member(state, "a"), "instructions"),
                   "Be <brief>.");
  CU_ASSERT_EQUAL(json_object_array_length(pc_json_member(
                    pc_json_member(state, "a"), "demos")), 1);
  /* b kept its signature's default instructions and has no demos. */
  CU_ASSERT_PTR_NOT_NULL(pc_json_str(pc_json_member(state, "b"),
                                     "instructions"));
  CU_ASSERT_EQUAL(json_object_array_length(pc_json_member(
                    pc_json_member(state, "b"), "demos")), 0);
  json_object_put(state);
  json_object_put(demos);
  json_object_put(root);
  pc_program_free(prog);
}

static CU_TestInfo report_tests[] = {
  {"json members in fixed order", test_json_members_in_fixed_order},
  {"json without trials or report has nulls",
   test_json_without_trials_or_report_has_nulls},
  {"build without summary is refused", test_build_without_summary_is_refused},
  {"html escapes text from the data", test_html_escapes_text_from_the_data},
  {"html has a chart per applicable section",
   test_html_has_a_chart_per_applicable_section},
  {"html copes with no trials", test_html_copes_with_no_trials},
  {"html copes with equal and null scores",
   test_html_copes_with_equal_and_null_scores},
  {"html of ten thousand trials stays small",
   test_html_of_ten_thousand_trials_stays_small},
  {"combos make a heatmap per predictor",
   test_combos_make_a_heatmap_per_predictor},
  {"gepa report makes tree and front", test_gepa_report_makes_tree_and_front},
  {"html out of memory is an error", test_html_out_of_memory_is_an_error},
  {"paths follow output or prefix", test_paths_follow_output_or_prefix},
  {"write makes both files and nulls nan",
   test_write_makes_both_files_and_nulls_nan},
  {"write under a file fails naming the path",
   test_write_under_a_file_fails_naming_the_path},
  {"state lists every predictor", test_state_lists_every_predictor},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"report", NULL, NULL, NULL, NULL, report_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
