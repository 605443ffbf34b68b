/*
 * tests/unit/test_opt_copro.c: plugins/opt-copro, suite "opt_copro". The
 * text helpers (and opt-common's field prefix, which COPRO uses) are
 * compiled in; the plugin itself is loaded from the build
 * tree and driven through a scripted compile API, so each test knows every
 * proposal and score and checks what COPRO does with them. Expected
 * prefixes and trimmed texts were computed with DSPy's infer_prefix and
 * Python's str.strip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "copro_text.h"
#include "../../plugins/opt-common/opt_common.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;
static const pc_json_api *js;
static void *hctx;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;
  uint32_t size = 0;

  snprintf(path, sizeof(path), "%s/plugins/opt-copro/.libs/opt-copro.so",
           dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  hctx = pc_host_api_get()->ctx;
  js = pc_host_api_get()->get_host_interface(hctx, "pc.json/1", &size);
  return !opt || !js;
}

static int suite_clean(void)
{
  pc_plugin_close(plugin);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Text helpers.                                                            */

static void check_prefix(const char *name, const char *want)
{
  char out[128];

  CU_ASSERT_FATAL(pc__opt_field_prefix_cap(name) <= sizeof(out));
  CU_ASSERT_EQUAL(pc__opt_field_prefix(name, out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, want);
}

static void test_prefix_follows_dspy_infer_prefix(void)
{
  char small[4];

  check_prefix("urgency", "Urgency:");
  check_prefix("proposed_instruction", "Proposed Instruction:");
  check_prefix("camelCaseText", "Camel Case Text:");
  check_prefix("text2number", "Text 2 Number:");
  check_prefix("HTMLParser", "HTML Parser:");
  check_prefix("getHTTPResponseCode", "Get HTTP Response Code:");
  check_prefix("aBcDe", "A Bc De:");
  check_prefix("a_Bc", "A  Bc:");
  check_prefix("x1y2Z", "X 1 Y 2 Z:");
  check_prefix("_private", " Private:");
  check_prefix("URLs", "UR Ls:");
  check_prefix("ab__CD9e", "Ab  CD 9 E:");
  check_prefix("", ":");
  CU_ASSERT_EQUAL(pc__opt_field_prefix("urgency", small, sizeof(small)),
                  -1);
}

static void check_strip(const char *s, const char *want)
{
  size_t a, b;

  pc__copro_strip(s, strlen(s), &a, &b);
  CU_ASSERT_EQUAL(b - a, strlen(want));
  CU_ASSERT(b - a == strlen(want) && !memcmp(s + a, want, b - a));
}

static void test_strip_removes_quotes_then_whitespace(void)
{
  check_strip("\"  hello \"", "hello");
  check_strip(" \"x\" ", "\"x\"");              /* spaces shield quotes */
  check_strip("\xc2\xa0x\xe3\x80\x80", "x");   /* NBSP, ideographic */
  check_strip("\"\xe2\x80\x83 both \n\"", "both");
  check_strip("\"\"", "");
  check_strip("   ", "");
  check_strip("\xff in \xff", "\xff in \xff");  /* bad UTF-8 is text */
}

/* ------------------------------------------------------------------------ */
/* A scripted compile API.                                                  */

#define MAX_CALLS 64

typedef struct fake {
  /* script */
  const char *program;               /* program() answer */
  const char *const *proposals;      /* one JSON array per propose call */
  int propose_fail;                  /* code propose returns, 0 = none */
  int budget_at;                     /* evaluate call that hits the cap */
  /* observed */
  int n_evaluate, n_propose, n_trials, n_results, n_progress;
  char *eval_state[MAX_CALLS];       /* owned */
  char *prop_role[MAX_CALLS];        /* owned */
  char *prop_sig[MAX_CALLS];         /* owned */
  char *prop_inputs[MAX_CALLS];      /* owned */
  char *prop_config[MAX_CALLS];      /* owned */
  char *trial[MAX_CALLS];            /* owned */
  char *state;                       /* owned: the last set_result */
  char *report;                      /* owned: the last report, or NULL */
} fake;

static void fake_clear(fake *f)
{
  for (int i = 0; i < MAX_CALLS; i++) {
    pc_free(f->eval_state[i]);
    pc_free(f->prop_role[i]);
    pc_free(f->prop_sig[i]);
    pc_free(f->prop_inputs[i]);
    pc_free(f->prop_config[i]);
    pc_free(f->trial[i]);
  }
  pc_free(f->state);
  pc_free(f->report);
  memset(f, 0, sizeof(*f));
}

static char *dup_n(const char *s, size_t len)
{
  char *p = s ? pc_malloc(len + 1) : NULL;

  if (p) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

static int parse(const char *text, pc_json **out, pc_error *err)
{
  return js->parse(hctx, text, strlen(text), PC_JSON_PARSE_STRICT, out, err);
}

static int f_program(void *ctx, pc_json **out, pc_error *err)
{
  return parse(((fake *)ctx)->program, out, err);
}

/* A made-up metric: each predictor's instructions are worth the number
 * after "score=" in them, or 1, and the candidate scores their sum. */
static double worth(const char *state)
{
  pc_json *v = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *key, *s, *at;
  const pc_json *one;
  double sum = 0;

  if (js->parse(hctx, state, strlen(state), 0, &v, &err))
    return -1;
  for (size_t i = 0; js->object_at(v, i, &key, &one) == 0; i++) {
    s = js->get_string(js->object_get(one, "instructions"), NULL);
    at = s ? strstr(s, "score=") : NULL;
    sum += at ? strtod(at + 6, NULL) : 1;
  }
  js->free(hctx, v);
  return sum;
}

static int f_evaluate(void *ctx, const pc_eval_request *req, pc_json **out,
                      pc_error *err)
{
  fake *f = ctx;
  char text[256];

  *out = NULL;
  if (f->n_evaluate < MAX_CALLS)
    f->eval_state[f->n_evaluate] = dup_n(req->state_json, req->state_len);
  f->n_evaluate++;
  CU_ASSERT_STRING_EQUAL(req->split, PC_SPLIT_VAL);
  CU_ASSERT_PTR_NULL(req->indices);
  if (f->budget_at && f->n_evaluate >= f->budget_at) {
    err->code = PC_E_BUDGET;
    snprintf(err->message, sizeof(err->message), "budget: max_calls");
    return PC_E_BUDGET;
  }
  snprintf(text, sizeof(text), "{\"results\": [], \"n\": 5, \"n_errors\": "
           "0, \"percent\": %.17g, \"stopped\": false}",
           worth(req->state_json));
  return parse(text, out, err);
}

static int f_propose(void *ctx, const pc_propose_request *req,
                     pc_json **out, pc_error *err)
{
  fake *f = ctx;
  int k = f->n_propose++;

  *out = NULL;
  if (k < MAX_CALLS) {
    f->prop_role[k] = dup_n(req->role, strlen(req->role));
    f->prop_sig[k] = dup_n(req->signature, strlen(req->signature));
    f->prop_inputs[k] = dup_n(req->inputs_json, req->inputs_len);
    f->prop_config[k] = dup_n(req->config_json, req->config_len);
  }
  if (f->propose_fail) {
    err->code = f->propose_fail;
    snprintf(err->message, sizeof(err->message), "no completion parsed");
    return f->propose_fail;
  }
  return parse(f->proposals[k], out, err);
}

static uint64_t f_seed(void *ctx)
{
  (void)ctx;
  return 0;
}

static int f_record_trial(void *ctx, const char *json, size_t len,
                          pc_error *err)
{
  fake *f = ctx;

  (void)err;
  if (f->n_trials < MAX_CALLS)
    f->trial[f->n_trials] = dup_n(json, len);
  f->n_trials++;
  return PC_OK;
}

static void f_progress(void *ctx, const char *json, size_t len)
{
  (void)json;
  (void)len;
  ((fake *)ctx)->n_progress++;
}

static int f_set_result(void *ctx, const char *state, size_t state_len,
                        const char *report, size_t report_len,
                        pc_error *err)
{
  fake *f = ctx;

  (void)err;
  pc_free(f->state);
  pc_free(f->report);
  f->state = dup_n(state, state_len);
  f->report = report ? dup_n(report, report_len) : NULL;
  f->n_results++;
  return PC_OK;
}

static pc_compile_api fake_api(fake *f)
{
  pc_compile_api api;

  memset(&api, 0, sizeof(api));
  api.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_compile_api);
  api.ctx = f;
  api.program = f_program;
  api.evaluate = f_evaluate;
  api.propose = f_propose;
  api.seed = f_seed;
  api.record_trial = f_record_trial;
  api.progress = f_progress;
  api.set_result = f_set_result;
  return api;
}

/* Create an instance with `settings`, compile against `f`, destroy. */
static int compile_with(const char *settings, fake *f, pc_error *err)
{
  void *inst = NULL;
  pc_compile_api api = fake_api(f);
  int rc = opt->create(plugin->state, settings, strlen(settings), &inst,
                       err);

  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  rc = opt->compile(inst, &api, err);
  opt->destroy(inst);
  return rc;
}

/* A text sink into a fixed buffer. */
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

/* ------------------------------------------------------------------------ */
/* Settings and estimate.                                                   */

static void test_settings_default_to_dspy_values(void)
{
  static const char custom[] = "{\"breadth\": 4, \"depth\": 2, "
    "\"track_stats\": true, \"init_temperature\": 1}";
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  sinkbuf b;
  pc_text_sink s = text_sink(&b);

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, NULL, 0, &inst, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"breadth\":10,\"depth\":3,"
                   "\"init_temperature\":1.4,\"track_stats\":false}");
  opt->destroy(inst);
  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, custom, strlen(custom),
                                    &inst, &err), PC_OK);
  s = text_sink(&b);
  CU_ASSERT_EQUAL(opt->settings(inst, &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"breadth\":4,\"depth\":2,"
                   "\"init_temperature\":1.0,\"track_stats\":true}");
  opt->destroy(inst);
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

/* Whether s is valid UTF-8 (structure only). */
static int valid_utf8(const char *s)
{
  const unsigned char *u = (const unsigned char *)s;

  while (*u) {
    size_t n = *u < 0x80 ? 1 : *u >= 0xc2 && *u <= 0xdf ? 2
             : *u >= 0xe0 && *u <= 0xef ? 3 : *u >= 0xf0 && *u <= 0xf4 ? 4
             : 0;

    if (n == 0)
      return 0;
    for (size_t k = 1; k < n; k++)
      if ((u[k] & 0xc0) != 0x80)
        return 0;
    u += n;
  }
  return 1;
}

static void test_long_setting_name_gives_valid_utf8_message(void)
{
  char settings[1024] = "{\"";
  size_t len = strlen(settings);
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;

  for (int i = 0; i < 300; i++) {       /* "é" x 300: 600 bytes */
    settings[len++] = '\xc3';
    settings[len++] = '\xa9';
  }
  memcpy(settings + len, "\": 1}", 6);  /* with its NUL */
  len += 5;
  CU_ASSERT_EQUAL(opt->create(plugin->state, settings, len, &inst, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "copro: unknown setting"));
  CU_ASSERT(strlen(err.message) >= PC_ERROR_MESSAGE_MAX - 4);
  CU_ASSERT(valid_utf8(err.message));
}

static void test_bad_settings_are_refused_by_name(void)
{
  check_refused("{\"breadth\": 1}", "copro: breadth: expected an integer > 1");
  check_refused("{\"breadth\": 2.5}", "copro: breadth:");
  check_refused("{\"breadth\": \"4\"}", "copro: breadth:");
  check_refused("{\"depth\": 0}", "copro: depth: expected an integer >= 1");
  check_refused("{\"init_temperature\": -0.5}", "copro: init_temperature:");
  check_refused("{\"track_stats\": 1}", "copro: track_stats:");
  check_refused("{\"max_errors\": 3}", "copro: unknown setting 'max_errors'");
  check_refused("[1]", "copro: settings: expected a JSON object");
  check_refused("{\"breadth\": ", "copro: settings:");
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

static void test_estimate_follows_section_5_3(void)
{
  /* P = 1: breadth * depth evaluations of |V| runs of R calls. */
  check_estimate("{\"breadth\": 4, \"depth\": 2}",
                 "{\"train\": 300, \"val\": 50, \"predictors\": 1, "
                 "\"calls_per_run\": 2}",
                 "{\"lm_calls\":800,\"metric_calls\":400,"
                 "\"proposal_calls\":2}");
  /* P = 3: P * breadth * depth(depth + 1) / 2 evaluations. */
  check_estimate("{\"breadth\": 4, \"depth\": 2}",
                 "{\"train\": 300, \"val\": 10, \"predictors\": 3, "
                 "\"calls_per_run\": 3}",
                 "{\"lm_calls\":1080,\"metric_calls\":360,"
                 "\"proposal_calls\":6}");
  /* Defaults, P = 2: 120 evaluations (reference: "120 x |T|"). */
  check_estimate("{}", "{\"train\": 7, \"predictors\": 2, "
                 "\"calls_per_run\": 2}",
                 "{\"lm_calls\":1680,\"metric_calls\":840,"
                 "\"proposal_calls\":6}");
}

/* ------------------------------------------------------------------------ */
/* compile(): one predictor.                                                */

static const char one_pred[] =
  "{\"name\": \"triage\", \"inputs\": [\"ticket\"], \"calls_per_run\": 1,"
  " \"predictors\": [{\"path\": \"classify\", \"module\": \"predict\","
  " \"signature\": {\"instructions\": \"Given the fields...\","
  " \"inputs\": [{\"name\": \"ticket\", \"type\": \"str\"}],"
  " \"outputs\": [{\"name\": \"queue\", \"type\": \"str\"},"
  " {\"name\": \"urgency\", \"type\": \"int\"}]},"
  " \"instructions\": \"Start.\", \"demos\": []}]}";

/* Seeds (n = breadth - 1 = 2), then the depth-1 batch (n = 3), whose
 * second proposal repeats a seed. */
static const char *const one_props[] = {
  "[{\"proposed_instruction\": \"\\\"A score=20\\\"\","
  " \"proposed_prefix_for_output_field\": \"Answer:\"},"
  " {\"proposed_instruction\": \"  B score=40 \\n\","
  " \"proposed_prefix_for_output_field\": \"\\\"Answer:\\\"\"}]",
  "[{\"proposed_instruction\": \"C score=55.5\","
  " \"proposed_prefix_for_output_field\": \"Answer:\"},"
  " {\"proposed_instruction\": \"B score=40\","
  " \"proposed_prefix_for_output_field\": \"Answer:\"},"
  " {\"proposed_instruction\": \"D score=30\","
  " \"proposed_prefix_for_output_field\": \"Answer:\"}]",
};

static void test_single_predictor_follows_the_reference(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;
  pc_json *rep = NULL;
  const pc_json *list, *one;

  memset(&f, 0, sizeof(f));
  f.program = one_pred;
  f.proposals = one_props;
  CU_ASSERT_EQUAL(compile_with("{\"breadth\": 3, \"depth\": 2}", &f, &err),
                  PC_OK);
  /* breadth * depth evaluations, one proposal call per depth. */
  CU_ASSERT_EQUAL(f.n_evaluate, 6);
  CU_ASSERT_EQUAL(f.n_trials, 6);
  CU_ASSERT_EQUAL(f.n_progress, 6);
  CU_ASSERT_EQUAL_FATAL(f.n_propose, 2);
  PC_ASSERT_STR_EQ(f.prop_role[0], "prompt_lm");
  PC_ASSERT_STR_EQ(f.prop_role[1], "prompt_lm");
  PC_ASSERT_STR_EQ(f.prop_inputs[0], "{\"basic_instruction\":\"Start.\"}");
  PC_ASSERT_STR_EQ(f.prop_config[0], "{\"temperature\":1.4,\"n\":2,"
                   "\"rollout_id\":\"copro-d0-p0\"}");
  PC_ASSERT_STR_EQ(f.prop_config[1], "{\"temperature\":1.4,\"n\":3,"
                   "\"rollout_id\":\"copro-d1-p0\"}");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.prop_sig[0], "\"basic_instruction\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.prop_sig[1],
                                "\"attempted_instructions\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.prop_sig[1],
                                "\"proposed_prefix_for_output_field\""));
  /* Attempts: the three candidates, worst to best, with Python floats and
   * the trimmed texts; the starting pair carries the inferred prefix. */
  PC_ASSERT_STR_EQ(f.prop_inputs[1], "{\"attempted_instructions\":["
                   "\"Instruction #1: Start.\",\"Prefix #1: Urgency:\","
                   "\"Resulting Score #1: 1.0\","
                   "\"Instruction #2: A score=20\",\"Prefix #2: Answer:\","
                   "\"Resulting Score #2: 20.0\","
                   "\"Instruction #3: B score=40\",\"Prefix #3: Answer:\","
                   "\"Resulting Score #3: 40.0\"]}");
  /* Depth 0 tries the seeds, trimmed, then the start; depth 1 the new
   * batch only, with the depth-0 winner kept meanwhile. */
  PC_ASSERT_STR_EQ(f.eval_state[0],
                   "{\"classify\":{\"instructions\":\"A score=20\"}}");
  PC_ASSERT_STR_EQ(f.eval_state[1],
                   "{\"classify\":{\"instructions\":\"B score=40\"}}");
  PC_ASSERT_STR_EQ(f.eval_state[2],
                   "{\"classify\":{\"instructions\":\"Start.\"}}");
  PC_ASSERT_STR_EQ(f.eval_state[3],
                   "{\"classify\":{\"instructions\":\"C score=55.5\"}}");
  PC_ASSERT_STR_EQ(f.eval_state[5],
                   "{\"classify\":{\"instructions\":\"D score=30\"}}");
  /* The result: the best program, set each time the best improved
   * (20, 40, 55.5) and once more at the end with the report. */
  PC_ASSERT_STR_EQ(f.state,
                   "{\"classify\":{\"instructions\":\"C score=55.5\"}}");
  CU_ASSERT_EQUAL(f.n_results, 4);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.report);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "\"total_calls\":6"));
  CU_ASSERT_PTR_NULL(strstr(f.report, "results_best"));
  /* The pool, best first: the repeated B kept its depth-0 entry (a tie
   * does not replace it). */
  CU_ASSERT_EQUAL_FATAL(parse(f.report, &rep, &err), PC_OK);
  list = js->object_get(rep, "candidate_programs");
  CU_ASSERT_EQUAL(js->array_len(list), 5);
  one = js->array_get(list, 1);
  PC_ASSERT_STR_EQ(js->get_string(js->object_get(one, "instruction"), NULL),
                   "B score=40");
  CU_ASSERT_EQUAL(js->get_int(js->object_get(one, "depth")), 0);
  PC_ASSERT_STR_EQ(js->get_string(js->object_get(js->array_get(list, 4),
                                                 "instruction"), NULL),
                   "Start.");
  js->free(hctx, rep);
  /* Trials name the candidate, depth, prefix and score. */
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[0], "\"candidate\":0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[0], "\"score\":20.0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[0], "\"prefix\":\"Answer:\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[2], "\"prefix\":\"Urgency:\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[5], "\"depth\":1"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.trial[5], "\"split\":\"val\""));
  fake_clear(&f);
}

static double report_number(const char *report, const char *stat,
                            const char *what, size_t i)
{
  pc_json *v = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_json *arr;
  double d = -1;

  if (parse(report, &v, &err))
    return -1;
  arr = js->object_get(js->object_get(js->object_get(v, stat), "classify"),
                       what);
  if (arr && i < js->array_len(arr))
    d = js->get_double(js->array_get(arr, i));
  js->free(hctx, v);
  return d;
}

static void test_track_stats_reports_best_and_latest(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  f.program = one_pred;
  f.proposals = one_props;
  CU_ASSERT_EQUAL(compile_with("{\"breadth\": 3, \"depth\": 2, "
                               "\"track_stats\": true}", &f, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.report);
  /* Depth 0: {20, 40, 1}; at the end the top of {20, 40, 1, 55.5, 30}. */
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_best", "max", 0),
                         40, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_best", "max", 1),
                         55.5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_best", "min", 1),
                         1, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_best", "depth",
                                       1), 1, 1e-9);
  /* Latest at depth 1: {55.5, 40, 30}. */
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_latest",
                                       "average", 1), 125.5 / 3, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_latest", "std",
                                       1), 10.4907366546, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(report_number(f.report, "results_latest", "min",
                                       0), 1, 1e-9);
  fake_clear(&f);
}

static void test_budget_stop_keeps_the_best_so_far(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  f.program = one_pred;
  f.proposals = one_props;
  f.budget_at = 4;
  CU_ASSERT_EQUAL(compile_with("{\"breadth\": 3, \"depth\": 2}", &f, &err),
                  PC_E_BUDGET);
  PC_ASSERT_STR_EQ(err.message, "budget: max_calls");
  CU_ASSERT_EQUAL(f.n_trials, 3);
  PC_ASSERT_STR_EQ(f.state,
                   "{\"classify\":{\"instructions\":\"B score=40\"}}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.report);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "\"total_calls\":3"));
  fake_clear(&f);
}

static void test_failed_proposal_is_an_error_without_result(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  f.program = one_pred;
  f.proposals = one_props;
  f.propose_fail = PC_E_PARSE;
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_PARSE);
  PC_ASSERT_STR_EQ(err.message, "no completion parsed");
  CU_ASSERT_EQUAL(f.n_evaluate, 0);
  CU_ASSERT_EQUAL(f.n_results, 0);
  fake_clear(&f);
}

static void test_program_without_predictors_is_refused(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  memset(&f, 0, sizeof(f));
  f.program = "{\"name\": \"empty\", \"predictors\": []}";
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message,
                   "copro: the program has no predictors to optimize");
  CU_ASSERT_EQUAL(f.n_propose, 0);
  CU_ASSERT_EQUAL(f.n_results, 0);
  fake_clear(&f);
}

/* ------------------------------------------------------------------------ */
/* compile(): two predictors.                                               */

static const char two_preds[] =
  "{\"name\": \"pair\", \"predictors\": ["
  "{\"path\": \"a\", \"signature\": {\"instructions\": \"A start\","
  " \"inputs\": [{\"name\": \"x\"}], \"outputs\": [{\"name\": \"y\"}]},"
  " \"demos\": []},"
  "{\"path\": \"b\", \"signature\": {\"instructions\": \"B start\","
  " \"inputs\": [{\"name\": \"y\"}], \"outputs\": [{\"name\": \"z\"}]},"
  " \"instructions\": \"\", \"demos\": []}]}";

#define PROP(i) "{\"proposed_instruction\": \"" i "\"," \
  " \"proposed_prefix_for_output_field\": \"Answer:\"}"

static const char *const two_props[] = {
  "[" PROP("a1 score=5") "]",
  "[" PROP("b1 score=7") "]",
  "[" PROP("a2 score=9") ", " PROP("a1 score=5") "]",
  "[" PROP("b2 score=2") ", " PROP("b3 score=8") "]",
};

static void test_several_predictors_ascend_coordinates(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;
  pc_json *rep = NULL;
  const pc_json *list;

  memset(&f, 0, sizeof(f));
  f.program = two_preds;
  f.proposals = two_props;
  CU_ASSERT_EQUAL(compile_with("{\"breadth\": 2, \"depth\": 2}", &f, &err),
                  PC_OK);
  /* P * breadth * depth(depth + 1) / 2 evaluations: every proposal so far
   * is tried again at each depth. */
  CU_ASSERT_EQUAL(f.n_evaluate, 12);
  CU_ASSERT_EQUAL_FATAL(f.n_propose, 4);
  /* Seeding asks for breadth - 1 per predictor, in predictor order; an
   * empty "instructions" falls back to the signature's. */
  PC_ASSERT_STR_EQ(f.prop_inputs[1], "{\"basic_instruction\":\"B start\"}");
  PC_ASSERT_STR_EQ(f.prop_config[3], "{\"temperature\":1.4,\"n\":2,"
                   "\"rollout_id\":\"copro-d1-p1\"}");
  /* b's first candidate runs with a's depth-0 winner in place. */
  PC_ASSERT_STR_EQ(f.eval_state[2], "{\"a\":{\"instructions\":"
                   "\"a1 score=5\"},\"b\":{\"instructions\":\"b1 score=7\"}}");
  /* Depth 1 for b: a at a2, b over b1, b0, b2, b3. */
  PC_ASSERT_STR_EQ(f.eval_state[11], "{\"a\":{\"instructions\":"
                   "\"a2 score=9\"},\"b\":{\"instructions\":\"b3 score=8\"}}");
  PC_ASSERT_STR_EQ(f.state, "{\"a\":{\"instructions\":\"a2 score=9\"},"
                   "\"b\":{\"instructions\":\"b3 score=8\"}}");
  /* Final pool: 7 distinct pairs, but a2 (16) and b1 (16) ran the same
   * program at the same score, so one is dropped. */
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.report);
  CU_ASSERT_EQUAL_FATAL(parse(f.report, &rep, &err), PC_OK);
  list = js->object_get(rep, "candidate_programs");
  CU_ASSERT_EQUAL(js->array_len(list), 6);
  CU_ASSERT_DOUBLE_EQUAL(js->get_double(js->object_get(
                           js->array_get(list, 0), "score")), 17, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(js->get_double(js->object_get(
                           js->array_get(list, 1), "score")), 16, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(js->get_double(js->object_get(
                           js->array_get(list, 2), "score")), 12, 1e-9);
  CU_ASSERT_EQUAL(js->get_int(js->object_get(rep, "total_calls")), 12);
  js->free(hctx, rep);
  fake_clear(&f);
}

static CU_TestInfo copro_tests[] = {
  {"prefix follows DSPy's infer_prefix",
   test_prefix_follows_dspy_infer_prefix},
  {"strip removes quotes, then whitespace",
   test_strip_removes_quotes_then_whitespace},
  {"settings default to DSPy's values", test_settings_default_to_dspy_values},
  {"bad settings are refused by name", test_bad_settings_are_refused_by_name},
  {"long setting name gives a valid UTF-8 message",
   test_long_setting_name_gives_valid_utf8_message},
  {"estimate follows section 5.3", test_estimate_follows_section_5_3},
  {"single predictor follows the reference",
   test_single_predictor_follows_the_reference},
  {"track_stats reports best and latest",
   test_track_stats_reports_best_and_latest},
  {"budget stop keeps the best so far",
   test_budget_stop_keeps_the_best_so_far},
  {"failed proposal is an error without a result",
   test_failed_proposal_is_an_error_without_result},
  {"program without predictors is refused",
   test_program_without_predictors_is_refused},
  {"several predictors ascend coordinates",
   test_several_predictors_ascend_coordinates},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_copro", suite_init, suite_clean, NULL, NULL, copro_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
