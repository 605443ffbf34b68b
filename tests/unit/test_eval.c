/* tests/unit/test_eval.c: the LM call path, program runs and evaluation
 * (core/predict.c, core/run.c, core/eval.c, core/runtime.c) with the
 * fixture provider fx_lm and the metric-basic plugin; suite "eval". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "dataset.h"
#include "eval.h"
#include "harness.h"
#include "json_text.h"
#include "loader.h"
#include "metric.h"
#include "program.h"
#include "run.h"
#include "runtime.h"

static pc_registry *reg;
static pc_config *cfg;
static pc_program *prog;
static pc_dataset *ds;
static pc_metric *metric;

static const char program_json[] =
  "{\"schema\": \"promptc.program/1\", \"name\": \"echo\", \"modules\": "
  "{\"answer\": {\"type\": \"predict\", \"signature\": "
  "\"question -> answer\"}}}";

/* 24 rows, six kinds in turn (see fx_lm.c for the planted faults). */
static char *make_rows(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  for (int i = 0; i < 24; i++) {
    const char *slice = i % 2 ? "odd" : "even";

    switch (i % 6) {
    case 0:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"question\": \"FAIL-%d\", "
                    "\"answer\": \"x\", \"slice\": \"%s\"}\n", i, i, slice);
      break;
    case 1:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"question\": \"GARBLE-%d\", "
                    "\"answer\": \"x\", \"slice\": \"%s\"}\n", i, i, slice);
      break;
    case 2:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"answer\": \"x\", "
                    "\"slice\": \"%s\"}\n", i, slice);
      break;
    case 3:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"question\": \"q%d\", "
                    "\"slice\": \"%s\"}\n", i, i, slice);
      break;
    case 4:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"question\": \"q%d\", "
                    "\"answer\": \"q%dx\", \"slice\": \"%s\"}\n", i, i, i,
                    slice);
      break;
    default:
      pc_buf_printf(&b, "{\"id\": \"r%02d\", \"question\": \"q%d\", "
                    "\"answer\": \"q%d\", \"slice\": \"%s\"}\n", i, i, i,
                    slice);
      break;
    }
  }
  return pc_buf_take(&b, NULL);
}

static int setup(void)
{
  const char *b = getenv("PC_TEST_BUILDDIR");
  pc_dataset_opts dopts = {NULL, 0, 0, 0, 0};  /* inputs: the program's */
  char dir[4096], *rows;
  const char *cfg_path;
  struct json_object *root = NULL, *spec = NULL;
  pc_error err = PC_ERROR_INIT;
  static const char cfg_text[] =
    "{\"lm\": {\"provider\": \"fx_lm\", \"retry\": {\"max_retries\": 0}}, "
    "\"metric\": \"exact_match:answer\"}";

  snprintf(dir, sizeof(dir), "%s/tests/plugins/.libs", (b && *b) ? b : ".");
  cfg_path = pc_test_tmpfile(cfg_text, sizeof(cfg_text) - 1, ".json");
  if (pc_config_load(cfg_path, &cfg, &err) || !(reg = pc_registry_new()) ||
      pc_registry_load_default(reg, dir, &err))
    goto fail;
  if (pc_json_parse(program_json, strlen(program_json), 0, &root, &err) ||
      pc_program_from_json("echo", root, &prog, &err))
    goto fail;
  json_object_put(root);
  rows = make_rows();
  if (!rows || pc_dataset_parse("rows.jsonl", rows, strlen(rows), &dopts,
                                &ds, &err)) {
    pc_free(rows);
    goto fail;
  }
  pc_free(rows);
  if (pc_config_metric_spec("exact_match:answer", "metric", &spec, &err) ||
      pc_metric_open(reg, spec, &metric, &err))
    goto fail;
  json_object_put(spec);
  return 0;
fail:
  fprintf(stderr, "eval setup: %s\n", err.message);
  return 1;
}

static int teardown(void)
{
  pc_metric_close(metric);
  pc_dataset_free(ds);
  pc_program_free(prog);
  pc_registry_free(reg);
  pc_config_free(cfg);
  return 0;
}

static pc_runtime *open_rt(int threads, const char *cache)
{
  pc_runtime_opts o;
  pc_runtime *rt = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&o, 0, sizeof(o));
  o.cfg = cfg;
  o.reg = reg;
  o.threads = threads;
  o.no_cache = cache == NULL;
  o.cache_path = cache;
  if (pc_runtime_open(&o, &rt, &err))
    fprintf(stderr, "runtime: %s\n", err.message);
  return rt;
}

static pc_eval_result *eval(pc_runtime *rt, int64_t max_errors, double fs)
{
  pc_eval_opts eo;
  pc_eval_result *r = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&eo, 0, sizeof(eo));
  eo.max_errors = max_errors;
  eo.failure_score = fs;
  if (pc_eval_run(rt, prog, ds, metric, &eo, &r, &err))
    fprintf(stderr, "eval: %s\n", err.message);
  return r;
}

/* Everything a results file would say, as one string. */
static char *render(const pc_eval_result *r)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  for (size_t k = 0; k < r->n_done; k++) {
    const pc_eval_row *row = &r->rows[k];

    pc_buf_printf(&b, "%zu %d %d %.6f %s ", row->index, row->status,
                  row->error_kind, row->score, row->error ? row->error : "-");
    if (row->outputs)
      pc_json_write(row->outputs, PC_JSON_TEXT_COMPACT, &b);
    pc_buf_putc(&b, '\n');
  }
  pc_buf_printf(&b, "%.6f %.6f %.6f %zu %d\n", r->mean, r->ci_low,
                r->ci_high, r->n_done, r->aborted);
  return pc_buf_take(&b, NULL);
}

static void test_errors_are_counted_apart_and_score_failure_score(void)
{
  pc_runtime *rt = open_rt(4, NULL);
  pc_eval_result *r;

  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  r = eval(rt, -1, 0.5);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->n_done, 24);
  CU_ASSERT_FALSE(r->aborted);
  CU_ASSERT_EQUAL(r->n_lm_errors, 4);
  CU_ASSERT_EQUAL(r->n_parse_errors, 4);
  CU_ASSERT_EQUAL(r->n_program_errors, 4);
  CU_ASSERT_EQUAL(r->n_metric_errors, 4);
  CU_ASSERT_EQUAL(r->n_errors, 16);
  /* 4 right, 4 wrong, 16 failures at 0.5 */
  CU_ASSERT_DOUBLE_EQUAL(r->mean, (4.0 + 16 * 0.5) / 24, 1e-12);
  CU_ASSERT_EQUAL(r->rows[0].error_kind, PC_ERR_LM);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->rows[0].error, "planted provider"));
  CU_ASSERT_EQUAL(r->rows[1].error_kind, PC_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->rows[1].error, "fallback"));
  CU_ASSERT_EQUAL(r->rows[2].error_kind, PC_ERR_PROGRAM);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->rows[2].error, "question"));
  CU_ASSERT_EQUAL(r->rows[3].error_kind, PC_ERR_METRIC);
  CU_ASSERT_PTR_NOT_NULL(r->rows[3].outputs);  /* the run's output kept */
  CU_ASSERT_DOUBLE_EQUAL(r->rows[4].score, 0.0, 0);
  CU_ASSERT_DOUBLE_EQUAL(r->rows[5].score, 1.0, 0);
  /* calls: FAIL 1, GARBLE 2 (one fallback), none without input, 1 else */
  CU_ASSERT_EQUAL(r->usage.calls, 24);
  CU_ASSERT_EQUAL(r->usage.provider_calls, 24);
  CU_ASSERT_EQUAL(r->usage.fallbacks, 4);
  CU_ASSERT_EQUAL(r->usage.cache_hits, 0);
  CU_ASSERT_EQUAL(pc_lm_calls(pc_runtime_lm(rt, PC_ROLE_LM)), 24);
  /* slices: even rows are r00 (lm), r02 (program), r04 (wrong), ... */
  CU_ASSERT_EQUAL_FATAL(r->n_slices, 2);
  PC_ASSERT_STR_EQ(r->slices[0].name, "even");
  PC_ASSERT_STR_EQ(r->slices[1].name, "odd");
  CU_ASSERT_EQUAL(r->slices[0].n, 12);
  CU_ASSERT_DOUBLE_EQUAL(r->slices[0].mean, (8 * 0.5 + 0) / 12, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(r->slices[1].mean, (8 * 0.5 + 4) / 12, 1e-12);
  pc_eval_result_free(r);
  pc_runtime_close(rt);
}

static void test_results_identical_at_1_8_and_32_threads(void)
{
  char *want = NULL;
  int threads[] = {1, 8, 32};

  for (size_t i = 0; i < 3; i++) {
    pc_runtime *rt = open_rt(threads[i], NULL);
    pc_eval_result *r = eval(rt, -1, 0.0);
    char *got;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    got = render(r);
    if (!want)
      want = got;
    else {
      PC_ASSERT_STR_EQ(got, want);
      pc_free(got);
    }
    pc_eval_result_free(r);
    pc_runtime_close(rt);
  }
  pc_free(want);
}

static void test_max_errors_cut_is_the_same_at_any_thread_count(void)
{
  int threads[] = {1, 8};

  for (size_t i = 0; i < 2; i++) {
    pc_runtime *rt = open_rt(threads[i], NULL);
    pc_eval_result *r = eval(rt, 3, 0.0);

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_TRUE(r->aborted);
    /* errors in order: r00 lm, r01 parse, r02 program: cut after r02 */
    CU_ASSERT_EQUAL(r->n_done, 3);
    CU_ASSERT_EQUAL(r->n_errors, 3);
    CU_ASSERT_EQUAL(r->rows[3].status, PC_ROW_NOT_RUN);
    CU_ASSERT_PTR_NULL(r->rows[23].outputs);
    pc_eval_result_free(r);
    pc_runtime_close(rt);
  }
}

static void test_reaching_max_errors_on_the_last_example_aborts(void)
{
  pc_runtime *rt = open_rt(2, NULL);
  pc_eval_result *r = eval(rt, 16, 0.0);

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_TRUE(r->aborted);   /* DSPy: >= max_errors raises */
  CU_ASSERT_EQUAL(r->n_errors, 16);
  pc_eval_result_free(r);
  r = eval(rt, 17, 0.0);
  CU_ASSERT_FALSE(r->aborted);
  CU_ASSERT_EQUAL(r->n_done, 24);
  pc_eval_result_free(r);
  pc_runtime_close(rt);
}

static void test_second_eval_is_served_by_the_cache(void)
{
  char dir[] = "/tmp/pc-test-evalXXXXXX";
  char path[128];
  pc_runtime *rt;
  pc_eval_result *r1, *r2;
  char *a, *b;

  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  rt = open_rt(4, dir);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  r1 = eval(rt, -1, 0.0);
  pc_runtime_close(rt);
  rt = open_rt(4, dir);  /* a new process would see the same file */
  r2 = eval(rt, -1, 0.0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
  /* Failed calls are not cached: only the 4 FAIL rows call again. */
  CU_ASSERT_EQUAL(pc_lm_calls(pc_runtime_lm(rt, PC_ROLE_LM)), 4);
  CU_ASSERT_EQUAL(r2->usage.provider_calls, 4);
  CU_ASSERT_EQUAL(r2->usage.cache_hits, 20);
  CU_ASSERT_EQUAL(r2->usage.prompt_tokens, 0);  /* nothing was paid for */
  a = render(r1);
  b = render(r2);
  PC_ASSERT_STR_EQ(b, a);
  pc_free(a);
  pc_free(b);
  pc_eval_result_free(r1);
  pc_eval_result_free(r2);
  pc_runtime_close(rt);
  snprintf(path, sizeof(path), "%s/lm-cache.sqlite", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/lm-cache.sqlite-wal", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/lm-cache.sqlite-shm", dir);
  unlink(path);
  rmdir(dir);
}

static struct json_object *run_one(pc_runtime *rt, const char *question,
                                   pc_run_ctx *ctx, int *rc)
{
  struct json_object *in = json_object_new_object(), *out = NULL;
  pc_error err = PC_ERROR_INIT;

  json_object_object_add(in, "question", json_object_new_string(question));
  pc_run_ctx_init(ctx, rt);
  ctx->flags = PC_RUN_TRACE_DETAIL;
  *rc = pc_program_run(ctx, prog, in, &out, &err);
  json_object_put(in);
  return out;
}

/* With the host's retries on, each planted 503 is tried again up to
 * max_retries times; the tries and the retries are counted, the rows
 * still fail as LM errors (nothing lost), and the message says how many
 * retries were made. */
static void test_retryable_failures_are_retried_and_counted(void)
{
  static const char text[] =
    "{\"lm\": {\"provider\": \"fx_lm\", \"retry\": {\"max_retries\": 2, "
    "\"initial_backoff_ms\": 1, \"max_backoff_ms\": 2}}}";
  const char *path = pc_test_tmpfile(text, sizeof(text) - 1, ".json");
  pc_config *c = NULL;
  pc_runtime_opts o;
  pc_runtime *rt = NULL;
  pc_eval_result *r;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_config_load(path, &c, &err), PC_OK);
  memset(&o, 0, sizeof(o));
  o.cfg = c;
  o.reg = reg;
  o.threads = 4;
  o.no_cache = 1;
  CU_ASSERT_EQUAL_FATAL(pc_runtime_open(&o, &rt, &err), PC_OK);
  r = eval(rt, -1, 0.0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->n_lm_errors, 4);
  CU_ASSERT_EQUAL(r->usage.retries, 8);       /* 4 rows, 2 retries each */
  CU_ASSERT_EQUAL(r->usage.rate_limited, 0);  /* they were 503s */
  CU_ASSERT(r->usage.retry_wait_ms > 0);
  CU_ASSERT_EQUAL(r->usage.provider_calls, 24);  /* one call each... */
  CU_ASSERT_EQUAL(pc_lm_calls(pc_runtime_lm(rt, PC_ROLE_LM)), 32);  /* tries */
  CU_ASSERT_PTR_NOT_NULL(strstr(r->rows[0].error, "after 2 retries"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r->rows[0].error, "planted provider"));
  pc_eval_result_free(r);
  pc_runtime_close(rt);
  pc_config_free(c);
}

static void test_trace_records_calls_and_the_fallback(void)
{
  pc_runtime *rt = open_rt(1, NULL);
  struct json_object *out, *rec, *v, *hist;
  pc_run_ctx ctx;
  int rc;

  out = run_one(rt, "hello", &ctx, &rc);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                   "{\"answer\":\"hello\"}");
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(ctx.trace), 1);
  rec = json_object_array_get_idx(ctx.trace, 0);
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "messages", &v));
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "completion", &v));
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "model", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "fx-lm-1");
  CU_ASSERT_FALSE(json_object_object_get_ex(rec, "fallback", &v));
  json_object_put(out);
  pc_run_ctx_clear(&ctx);

  /* The chat answer does not parse; the JSON adapter's does. */
  out = run_one(rt, "JSONONLY", &ctx, &rc);
  CU_ASSERT_EQUAL_FATAL(rc, PC_OK);
  rec = json_object_array_get_idx(ctx.trace, 0);
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "adapter", &v));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "json");
  CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(rec, "fallback", &v));
  CU_ASSERT_TRUE(json_object_object_get_ex(v, "error", &v));
  CU_ASSERT_EQUAL(ctx.usage.fallbacks, 1);
  CU_ASSERT_EQUAL(ctx.usage.calls, 2);
  json_object_put(out);
  pc_run_ctx_clear(&ctx);

  /* A failing run records nothing for the failed call, as DSPy. */
  out = run_one(rt, "FAIL", &ctx, &rc);
  CU_ASSERT_EQUAL(rc, PC_E_PROVIDER);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NULL(ctx.trace);
  pc_run_ctx_clear(&ctx);

  /* The history keeps the recent calls, oldest first, failures too: the
   * failed one with its error and the messages that were sent. */
  hist = pc_runtime_history(rt, 0);
  CU_ASSERT_EQUAL_FATAL(json_object_array_length(hist), 3);
  rec = json_object_array_get_idx(hist, 1);
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "fallback", &v));
  rec = json_object_array_get_idx(hist, 2);
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "error", &v));
  PC_ASSERT_STR_EQ(pc_json_str(v, "code"), "PC_E_PROVIDER");
  CU_ASSERT_PTR_NOT_NULL(strstr(pc_json_str(v, "message"),
                                "planted provider"));
  CU_ASSERT_TRUE(json_object_object_get_ex(rec, "messages", &v));
  CU_ASSERT_FALSE(json_object_object_get_ex(rec, "outputs", &v));
  json_object_put(hist);
  pc_runtime_close(rt);
}

static CU_TestInfo eval_tests[] = {
  {"errors are counted apart and score failure_score",
   test_errors_are_counted_apart_and_score_failure_score},
  {"results identical at 1, 8 and 32 threads",
   test_results_identical_at_1_8_and_32_threads},
  {"max_errors cut is the same at any thread count",
   test_max_errors_cut_is_the_same_at_any_thread_count},
  {"reaching max_errors on the last example aborts",
   test_reaching_max_errors_on_the_last_example_aborts},
  {"second eval is served by the cache",
   test_second_eval_is_served_by_the_cache},
  {"retryable failures are retried and counted",
   test_retryable_failures_are_retried_and_counted},
  {"trace records calls and the fallback",
   test_trace_records_calls_and_the_fallback},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"eval", setup, teardown, NULL, NULL, eval_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
