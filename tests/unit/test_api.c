/* tests/unit/test_api.c: the embedding API of promptc/promptc.h, through
 * the installed library's exported symbols, on the triage example and
 * the sim LM; suite "api". */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "promptc/promptc.h"
#include "alloc.h"
#include "harness.h"

/* Paths of the triage example (copied out of pc_test_path's buffer). */
static char cfg_path[4096], prog_path[4096], dev_path[4096],
  train_path[4096];

static void paths(void)
{
  snprintf(cfg_path, sizeof(cfg_path), "%s",
           pc_test_path("../examples/triage/sim.json"));
  snprintf(prog_path, sizeof(prog_path), "%s",
           pc_test_path("../examples/triage/program.json"));
  snprintf(dev_path, sizeof(dev_path), "%s",
           pc_test_path("../examples/triage/data/dev.jsonl"));
  snprintf(train_path, sizeof(train_path), "%s",
           pc_test_path("../examples/triage/data/train.jsonl"));
}

/* A session on the triage sim config, without the LM cache (so nothing is
 * written under $HOME). */
static pc_session *open_session(void)
{
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;

  paths();
  o.no_cache = 1;
  o.threads = 2;
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err), PC_OK);
  if (err.code)
    fprintf(stderr, "session: %s\n", err.message);
  return s;
}

static int starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_session_needs_a_config(void)
{
  pc_session *s = (pc_session *)&s;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_session_open(NULL, NULL, &s, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "config"));
  /* err may be NULL: the code still says what went wrong. */
  CU_ASSERT_EQUAL(pc_session_open(NULL, NULL, &s, NULL), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_session_open("/nonexistent/cfg.json", NULL, &s, NULL),
                  PC_E_IO);
  CU_ASSERT_PTR_NULL(s);
}

static void test_session_error_names_the_config_file(void)
{
  const char *bad = pc_test_tmpfile("{\"lm\": 5}\n", 10, ".json");
  char path[4096];
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc;

  snprintf(path, sizeof(path), "%s", bad);
  rc = pc_session_open(path, NULL, &s, &err);
  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(err.code, rc);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_TRUE(starts_with(err.message, path));
}

static void test_session_opts_too_small_are_refused(void)
{
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;

  paths();
  o.struct_size = 2;
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "struct_size"));
}

static void test_old_opts_struct_reads_only_its_members(void)
{
  /* An application built when the options ended at `threads` passes a
   * shorter struct: what lies past it is never read. */
  pc_session_opts o;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;

  paths();
  memset(&o, 0xff, sizeof(o));  /* garbage past struct_size */
  o.struct_size = (uint32_t)(offsetof(pc_session_opts, threads) +
                             sizeof(int32_t));
  o.threads = 1;
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(s);
  pc_session_close(s);
}

static void test_prog_load_error_names_the_file(void)
{
  const char *bad = pc_test_tmpfile("{\"schema\": \"promptc.program/1\"}",
                                    31, ".json");
  char path[4096];
  pc_prog *p = (pc_prog *)&p;
  pc_error err = PC_ERROR_INIT;

  snprintf(path, sizeof(path), "%s", bad);
  CU_ASSERT_EQUAL(pc_prog_load(path, &p, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(p);
  CU_ASSERT_TRUE(starts_with(err.message, path));
}

static void test_run_returns_the_outputs_as_json(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL;
  pc_error err = PC_ERROR_INIT;
  char *out = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_run(s, p, "{\"ticket\": \"I was charged twice\", "
                                    "\"policy\": \"Refunds go to billing.\"}",
                              &out, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(out);
  if (out) {
    CU_ASSERT_EQUAL(out[0], '{');
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"queue\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"urgency\":"));
  }
  pc_free_text(out);
  pc_prog_free(p);
  pc_session_close(s);
}

static void test_run_refuses_inputs_that_are_not_an_object(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL;
  pc_error err = PC_ERROR_INIT;
  char *out = (char *)&out;

  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_run(s, p, "[1, 2]", &out, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_TRUE(starts_with(err.message, "inputs:"));
  err.code = 0;
  err.message[0] = '\0';
  out = NULL;
  CU_ASSERT_EQUAL(pc_prog_run(s, p, "{\"ticket\": \"x\"}", &out, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "policy"));
  pc_prog_free(p);
  pc_session_close(s);
}

static void test_eval_fills_only_what_struct_size_holds(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL;
  pc_eval_summary full = PC_EVAL_SUMMARY_INIT, part = PC_EVAL_SUMMARY_INIT;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_eval(s, p, dev_path, NULL, &full, &err), PC_OK);
  CU_ASSERT_EQUAL(full.n, 100);
  CU_ASSERT_TRUE(full.score > 0.0 && full.score < 1.0);
  CU_ASSERT_TRUE(full.ci_low <= full.score && full.score <= full.ci_high);
  CU_ASSERT_TRUE(full.lm_calls >= 100);
  /* A caller that knows only score: n keeps its value. */
  part.struct_size = (uint32_t)(offsetof(pc_eval_summary, score) +
                                sizeof(double));
  part.n = 777;
  CU_ASSERT_EQUAL(pc_prog_eval(s, p, dev_path, "exact_match:queue", &part,
                               &err), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(part.score, full.score, 1e-12);
  CU_ASSERT_EQUAL(part.n, 777);
  pc_prog_free(p);
  pc_session_close(s);
}

static void test_eval_names_a_missing_metric_and_bad_data(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL;
  pc_eval_summary sum = PC_EVAL_SUMMARY_INIT;
  pc_error err = PC_ERROR_INIT;
  const char *data = pc_test_tmpfile("{\"ticket\": \"x\"}\n", 16, ".jsonl");
  char path[4096];

  snprintf(path, sizeof(path), "%s", data);
  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_eval(s, p, dev_path, "no_such_metric", &sum,
                               &err), PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no_such_metric"));
  err.code = 0;
  err.message[0] = '\0';
  CU_ASSERT_NOT_EQUAL(pc_prog_eval(s, p, path, NULL, &sum, &err), PC_OK);
  CU_ASSERT_TRUE(starts_with(err.message, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":1"));
  CU_ASSERT_EQUAL(sum.n, 0);
  pc_prog_free(p);
  pc_session_close(s);
}

static void test_compile_returns_a_program_and_its_report(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL, *c = (pc_prog *)&c;
  pc_error err = PC_ERROR_INIT;
  char *report = NULL, *text;
  const char *out = pc_test_tmpfile("", 0, ".json");
  char path[4096];

  snprintf(path, sizeof(path), "%s", out);
  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_compile(s, p, "bootstrap",
                                  "{\"max_bootstrapped_demos\": 2, "
                                  "\"max_labeled_demos\": 2}", train_path,
                                  dev_path, NULL, &c, &report, &err), PC_OK);
  if (err.code)
    fprintf(stderr, "compile: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(report);
  CU_ASSERT_PTR_NOT_NULL(strstr(report, "\"baseline\":{\"score\":"));
  CU_ASSERT_PTR_NOT_NULL(strstr(report, "\"name\":\"bootstrap\""));
  CU_ASSERT_EQUAL(pc_prog_save(c, path, &err), PC_OK);
  text = pc_test_read_file(path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"demos\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"compile\""));
  pc_free(text);
  pc_free_text(report);
  pc_prog_free(c);
  /* An optimizer no plugin offers is refused by name. */
  c = NULL;
  CU_ASSERT_EQUAL(pc_prog_compile(s, p, "no-such-optimizer", NULL,
                                  train_path, NULL, NULL, &c, NULL, &err),
                  PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NULL(c);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no-such-optimizer"));
  /* Settings the splits make impossible are refused before the baseline
   * evaluation, as the command refuses them. */
  {
    pc_error err2 = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(pc_prog_compile(s, p, "simba", "{\"bsize\": 999999}",
                                    train_path, dev_path, NULL, &c, &report,
                                    &err2), PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NULL(report);
    CU_ASSERT_PTR_NOT_NULL(strstr(err2.message, "simba: bsize: 999999 is "
                                  "more than the"));
  }
  pc_prog_free(p);
  pc_session_close(s);
}

static void test_save_and_load_round_trip(void)
{
  pc_prog *p = NULL, *q = NULL;
  pc_error err = PC_ERROR_INIT;
  char a[4096], b[4096];
  char *ta, *tb;

  paths();
  snprintf(a, sizeof(a), "%s", pc_test_tmpfile("", 0, ".json"));
  snprintf(b, sizeof(b), "%s", pc_test_tmpfile("", 0, ".json"));
  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_save(p, a, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_prog_load(a, &q, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_save(q, b, &err), PC_OK);
  ta = pc_test_read_file(a, NULL);
  tb = pc_test_read_file(b, NULL);
  CU_ASSERT_PTR_NOT_NULL(ta);
  if (ta && tb)
    PC_ASSERT_STR_EQ(tb, ta);
  pc_free(ta);
  pc_free(tb);
  pc_prog_free(q);
  pc_prog_free(p);
}

static void test_artifact_needs_a_trusted_key(void)
{
  pc_session *s = open_session();
  pc_prog *p = (pc_prog *)&p;
  pc_artifact_load_opts o = PC_ARTIFACT_LOAD_OPTS_INIT;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_prog_load_artifact(s, "x-1.0.0.ppa", NULL, &o, &p,
                                        &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(p);
  CU_ASSERT_TRUE(starts_with(err.message, "x-1.0.0.ppa: no trusted key"));
  err.code = 0;
  err.message[0] = '\0';
  CU_ASSERT_EQUAL(pc_prog_load_artifact(s, "x-1.0.0.ppa", "/nonexistent.pub",
                                        NULL, &p, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent.pub"));
  pc_session_close(s);
}

/* One thread of the threads test: its own session, the shared program,
 * RUNS runs of the same input; what it got is checked by the main thread
 * (CUnit's asserts are not thread-safe). */
#define RUNS 3
typedef struct run_thread {
  const pc_prog *prog;   /* shared, borrowed */
  int open_rc, run_rc[RUNS];
  char *out[RUNS];       /* owned: pc_free_text */
} run_thread;

static const char thread_inputs[] =
  "{\"ticket\": \"My card was charged twice for one order\", "
  "\"policy\": \"Refunds go to billing.\"}";

static void *run_in_thread(void *arg)
{
  run_thread *t = arg;
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;

  o.no_cache = 1;
  o.threads = 2;
  t->open_rc = pc_session_open(cfg_path, &o, &s, &err);
  for (int i = 0; i < RUNS && t->open_rc == PC_OK; i++) {
    pc_error rerr = PC_ERROR_INIT;

    t->run_rc[i] = pc_prog_run(s, t->prog, thread_inputs, &t->out[i],
                               &rerr);
  }
  pc_session_close(s);
  return NULL;
}

static void test_sessions_in_threads_share_a_program(void)
{
  pc_session *s = open_session();
  pc_prog *p = NULL;
  pc_error err = PC_ERROR_INIT;
  char *want = NULL;
  run_thread t[3];
  pthread_t id[3];
  int started[3];

  memset(t, 0, sizeof(t));
  CU_ASSERT_EQUAL_FATAL(pc_prog_load(prog_path, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_prog_run(s, p, thread_inputs, &want, &err), PC_OK);
  pc_session_close(s);
  for (int k = 0; k < 3; k++) {
    t[k].prog = p;
    started[k] = pthread_create(&id[k], NULL, run_in_thread, &t[k]) == 0;
    CU_ASSERT_TRUE(started[k]);
  }
  for (int k = 0; k < 3; k++) {
    if (started[k])
      pthread_join(id[k], NULL);
    CU_ASSERT_EQUAL(t[k].open_rc, PC_OK);
    for (int i = 0; i < RUNS; i++) {
      CU_ASSERT_EQUAL(t[k].run_rc[i], PC_OK);
      PC_ASSERT_STR_EQ(t[k].out[i], want);
      pc_free_text(t[k].out[i]);
    }
  }
  pc_free_text(want);
  pc_prog_free(p);
}

/* What a log handler was given. */
typedef struct log_seen {
  pthread_mutex_t lock;
  int lines;
  int level;
  int from_host;       /* source was NULL */
  char message[512];
} log_seen;

static void on_log(void *ctx, int level, const char *source,
                   const char *message)
{
  log_seen *seen = ctx;

  pthread_mutex_lock(&seen->lock);
  if (!seen->lines++) {
    seen->level = level;
    seen->from_host = source == NULL;
    snprintf(seen->message, sizeof(seen->message), "%s", message);
  }
  pthread_mutex_unlock(&seen->lock);
}

/* A cache under a regular file cannot be opened: the warning goes to the
 * handler, and after pc_set_log_handler(NULL, NULL) no longer does. */
static void test_log_handler_gets_the_warnings(void)
{
  const char *file = pc_test_tmpfile("x", 1, ".txt");
  char cache[4200];
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;
  log_seen seen;

  memset(&seen, 0, sizeof(seen));
  pthread_mutex_init(&seen.lock, NULL);
  paths();
  snprintf(cache, sizeof(cache), "%s/cache.sqlite", file);
  o.cache_path = cache;
  o.threads = 1;
  pc_set_log_handler(on_log, &seen);
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err), PC_OK);
  pc_session_close(s);
  pc_set_log_handler(NULL, NULL);
  CU_ASSERT_EQUAL(seen.lines, 1);
  CU_ASSERT_EQUAL(seen.level, PC_LOG_WARN);
  CU_ASSERT_TRUE(seen.from_host);
  CU_ASSERT_PTR_NOT_NULL(strstr(seen.message, cache));
  CU_ASSERT_PTR_NOT_NULL(strstr(seen.message, "caching in memory only"));

  /* Back on stderr: the handler hears nothing more. */
  s = NULL;
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err), PC_OK);
  pc_session_close(s);
  CU_ASSERT_EQUAL(seen.lines, 1);
  pthread_mutex_destroy(&seen.lock);
}

/* What a log handler saw of the lines naming one file. */
typedef struct log_match {
  pthread_mutex_t lock;
  const char *needle;  /* borrowed */
  int warnings;        /* WARN lines from the host naming it */
  int others;          /* lines naming it at another level or source */
} log_match;

static void on_log_match(void *ctx, int level, const char *source,
                         const char *message)
{
  log_match *m = ctx;

  pthread_mutex_lock(&m->lock);
  if (strstr(message, m->needle)) {
    if (level == PC_LOG_WARN && !source)
      m->warnings++;
    else
      m->others++;
  }
  pthread_mutex_unlock(&m->lock);
}

/* A file in the plugin path that is no plugin does not stop the session,
 * but the application hears of it: one warning naming the file. */
static void test_plugin_load_failure_is_logged(void)
{
  const char *tmp = getenv("TMPDIR");
  char dir[4096], so[4200];
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_error err = PC_ERROR_INIT;
  log_match m;
  FILE *f;

  paths();
  snprintf(dir, sizeof(dir), "%s/pctest-api-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(so, sizeof(so), "%s/x.so", dir);
  f = fopen(so, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("not a shared object\n", f);
  fclose(f);
  memset(&m, 0, sizeof(m));
  pthread_mutex_init(&m.lock, NULL);
  m.needle = so;
  o.plugin_path = dir;
  o.no_cache = 1;
  o.threads = 1;
  pc_set_log_handler(on_log_match, &m);
  CU_ASSERT_EQUAL(pc_session_open(cfg_path, &o, &s, &err), PC_OK);
  pc_session_close(s);
  pc_set_log_handler(NULL, NULL);
  CU_ASSERT_EQUAL(m.warnings, 1);
  CU_ASSERT_EQUAL(m.others, 0);
  pthread_mutex_destroy(&m.lock);
  unlink(so);
  rmdir(dir);
}

static CU_TestInfo api_tests[] = {
  {"a session needs a config", test_session_needs_a_config},
  {"a log handler gets the warnings", test_log_handler_gets_the_warnings},
  {"a plugin that does not load is a warning naming its file",
   test_plugin_load_failure_is_logged},
  {"a session error names the config file",
   test_session_error_names_the_config_file},
  {"options with a too small struct_size are refused",
   test_session_opts_too_small_are_refused},
  {"an older, shorter options struct is read only as far as it goes",
   test_old_opts_struct_reads_only_its_members},
  {"a program load error names the file", test_prog_load_error_names_the_file},
  {"run returns the outputs as JSON", test_run_returns_the_outputs_as_json},
  {"run refuses inputs that are not an object or lack one",
   test_run_refuses_inputs_that_are_not_an_object},
  {"eval fills only what struct_size holds",
   test_eval_fills_only_what_struct_size_holds},
  {"eval names a missing metric and bad data",
   test_eval_names_a_missing_metric_and_bad_data},
  {"compile returns a program and its report",
   test_compile_returns_a_program_and_its_report},
  {"save and load round-trip the same bytes", test_save_and_load_round_trip},
  {"an artifact needs a trusted key", test_artifact_needs_a_trusted_key},
  {"sessions in several threads share one program and agree",
   test_sessions_in_threads_share_a_program},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"api", NULL, NULL, NULL, NULL, api_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
