/*
 * tests/unit/test_abi_matrix.c: the plugin ABI across minors, suite
 * "abi_matrix" (docs/ABI-HISTORY.md, "The matrix").
 *
 * Old plugin, new host: tests/plugins/fx_v10.so, built against the frozen
 * 1.0 header, loads in today's host, says 1.0 in every header, and its
 * metric scores. New plugin, old host: the shipped optimizers that need
 * compile API 1.1 members (export-finetune, better-together) are handed a
 * 1.0-sized pc_compile_api and must fail cleanly with PC_E_UNSUPPORTED and
 * a message naming the missing member, without touching the 1.1 members
 * that lie beyond the size they were given. And today's loader takes a
 * table whose minor is newer than its own, reading only the prefix it
 * knows, while it refuses another major or a table that is too short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "loader.h"

/* Open a plugin of the build tree, e.g. "tests/abi/.libs/fx_v10.so";
 * NULL (with the reason printed) when it does not load. */
static pc_plugin *open_built(const char *rel)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;
  pc_plugin *p = NULL;

  snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", rel);
  if (pc_plugin_open(path, &p, &err))
    fprintf(stderr, "\n  %s\n", err.message);
  return p;
}

/* ------------------------------------------------------------------------ */
/* Old plugin, new host.                                                    */

/* The 1.0 sizes of the descriptor and of the two tables the fixture
 * offers: up to their last 1.0 member, whatever later minors append. */
#define V10_END(T, last) \
  ((uint32_t)(offsetof(T, last) + sizeof(((T *)0)->last)))
#define INFO_V10_SIZE V10_END(pc_plugin_info, get_interface_at)
#define METRIC_V10_SIZE V10_END(pc_metric_iface, score)
#define OPT_V10_SIZE V10_END(pc_optimizer_iface, settings)

static void test_v10_plugin_loads_and_says_minor_0(void)
{
  pc_plugin *p = open_built("tests/abi/.libs/fx_v10.so");
  const pc_metric_iface *m;
  const pc_optimizer_iface *o;

  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  PC_ASSERT_STR_EQ(p->info->id, "org.promptc.test.v10");
  CU_ASSERT_EQUAL(p->info->hdr.abi_major, 1);
  CU_ASSERT_EQUAL(p->info->hdr.abi_minor, 0);
  CU_ASSERT_EQUAL(p->info->hdr.struct_size, INFO_V10_SIZE);
  m = pc_plugin_interface(p, PC_IFACE_METRIC, METRIC_V10_SIZE);
  o = pc_plugin_interface(p, PC_IFACE_OPTIMIZER, OPT_V10_SIZE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_EQUAL(m->hdr.abi_minor, 0);
  CU_ASSERT_EQUAL(o->hdr.abi_minor, 0);
  CU_ASSERT_EQUAL(m->hdr.struct_size, METRIC_V10_SIZE);
  CU_ASSERT_EQUAL(o->hdr.struct_size, OPT_V10_SIZE);
  PC_ASSERT_STR_EQ(m->name, "v10_match");
  PC_ASSERT_STR_EQ(o->name, "v10_first");
  /* A 1.2 interface id the 1.0 plugin never heard of is simply absent. */
  CU_ASSERT_PTR_NULL(pc_plugin_interface(p, "pc.tool/1", 8));
  pc_plugin_close(p);
}

typedef struct scored {
  double score;
  int n_scores;
  char feedback[128];
} scored;

static int on_score(void *ctx, double score)
{
  scored *s = ctx;

  s->score = score;
  s->n_scores++;
  return 0;
}

static int on_feedback(void *ctx, const char *text, size_t len)
{
  scored *s = ctx;

  snprintf(s->feedback, sizeof(s->feedback), "%.*s", (int)len, text);
  return 0;
}

/* Score one case with the v10 metric configured by `config`. */
static int v10_score(const char *config, const char *example,
                     const char *prediction, scored *s)
{
  pc_plugin *p = open_built("tests/abi/.libs/fx_v10.so");
  const pc_metric_iface *m;
  pc_metric_sink sink = {PC_ABI_HEADER_INIT(pc_metric_sink), NULL, on_score,
                         on_feedback, NULL};
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int rc;

  memset(s, 0, sizeof(*s));
  if (!p)
    return PC_E_IO;
  sink.ctx = s;
  m = pc_plugin_interface(p, PC_IFACE_METRIC, METRIC_V10_SIZE);
  rc = m ? m->create(p->state, config, strlen(config), &inst, &err)
         : PC_E_UNSUPPORTED;
  if (rc == PC_OK)
    rc = m->score(inst, example, strlen(example), prediction,
                  strlen(prediction), NULL, 0, &sink, &err);
  if (inst)
    m->destroy(inst);
  pc_plugin_close(p);
  return rc;
}

static void test_v10_metric_scores_in_todays_host(void)
{
  static const char ex[] = "{\"q\": \"2+2\", \"answer\": \"4\", \"n\": 4}";
  scored s;

  CU_ASSERT_EQUAL(v10_score("{\"field\": \"answer\"}", ex,
                            "{\"answer\": \"4\"}", &s), PC_OK);
  CU_ASSERT_EQUAL(s.n_scores, 1);
  CU_ASSERT_DOUBLE_EQUAL(s.score, 1.0, 1e-12);
  PC_ASSERT_STR_EQ(s.feedback, "v10_match: every field matches");
  CU_ASSERT_EQUAL(v10_score("{\"field\": \"answer\"}", ex,
                            "{\"answer\": \"5\"}", &s), PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(s.score, 0.0, 1e-12);
  PC_ASSERT_STR_EQ(s.feedback, "v10_match: some fields differ");
  /* No field: the share of the prediction's fields that match. */
  CU_ASSERT_EQUAL(v10_score("{}", ex, "{\"answer\": \"4\", \"n\": 5}", &s),
                  PC_OK);
  CU_ASSERT_DOUBLE_EQUAL(s.score, 0.5, 1e-12);
  CU_ASSERT_EQUAL(v10_score("{\"field\": 3}", ex, "{}", &s),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(s.n_scores, 0);
}

/* ------------------------------------------------------------------------ */
/* New plugin, old host: a compile API of 1.0's size.                       */

/* What the fake host saw. */
static int n_calls_10;   /* 1.0 members called */
static int n_calls_11;   /* 1.1 members called: must stay 0 when hidden */

static int stub_program(void *ctx, pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)err;
  n_calls_10++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: program() is not served");
}

static int stub_dataset(void *ctx, const char *split, pc_json **out,
                        pc_error *err)
{
  (void)ctx;
  (void)split;
  n_calls_10++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: dataset() is not served");
}

static int stub_evaluate(void *ctx, const pc_eval_request *req,
                         pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)req;
  n_calls_10++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: evaluate() is not served");
}

static int stub_propose(void *ctx, const pc_propose_request *req,
                        pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)req;
  n_calls_10++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: propose() is not served");
}

static uint64_t stub_seed(void *ctx)
{
  (void)ctx;
  n_calls_10++;
  return 0;
}

static int stub_budget(void *ctx, pc_json **out, pc_error *err)
{
  (void)ctx;
  n_calls_10++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: budget() is not served");
}

static int stub_text(void *ctx, const char *json, size_t len, pc_error *err)
{
  (void)ctx;
  (void)json;
  (void)len;
  n_calls_10++;
  return pc_error_set(err, PC_E_INTERNAL, "stub: not served");
}

static int stub_load(void *ctx, pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)err;
  n_calls_10++;
  *out = NULL;
  return PC_OK;
}

static void stub_progress(void *ctx, const char *json, size_t len)
{
  (void)ctx;
  (void)json;
  (void)len;
  n_calls_10++;
}

static int stub_set_result(void *ctx, const char *state, size_t state_len,
                           const char *report, size_t report_len,
                           pc_error *err)
{
  (void)ctx;
  (void)state;
  (void)state_len;
  (void)report;
  (void)report_len;
  n_calls_10++;
  return pc_error_set(err, PC_E_INTERNAL, "stub: set_result() not served");
}

/* The 1.1 members: present in memory past the advertised size, so a
 * plugin that ignored struct_size would call them. */
static int stub_info(void *ctx, pc_json **out, pc_error *err)
{
  (void)ctx;
  n_calls_11++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: info() called");
}

static int stub_finetune_record(void *ctx, const char *path,
                                const char *state, uint64_t state_len,
                                const char *inputs, uint64_t inputs_len,
                                const char *outputs, uint64_t outputs_len,
                                uint32_t flags, pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)path;
  (void)state;
  (void)state_len;
  (void)inputs;
  (void)inputs_len;
  (void)outputs;
  (void)outputs_len;
  (void)flags;
  n_calls_11++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: finetune_record() called");
}

static int stub_write_file(void *ctx, const char *name, const char *data,
                           uint64_t len, pc_error *err)
{
  (void)ctx;
  (void)name;
  (void)data;
  (void)len;
  n_calls_11++;
  return pc_error_set(err, PC_E_INTERNAL, "stub: write_file() called");
}

static int stub_run_optimizer(void *ctx, const char *request, uint64_t len,
                              pc_json **out, pc_error *err)
{
  (void)ctx;
  (void)request;
  (void)len;
  n_calls_11++;
  *out = NULL;
  return pc_error_set(err, PC_E_INTERNAL, "stub: run_optimizer() called");
}

/* A whole compile API table; `size` and `minor` say how much of it the
 * fake host claims to have. */
static pc_compile_api fake_api(uint32_t size, uint16_t minor)
{
  pc_compile_api api;

  memset(&api, 0, sizeof(api));
  api.hdr.struct_size = size;
  api.hdr.abi_major = PC_ABI_MAJOR;
  api.hdr.abi_minor = minor;
  api.program = stub_program;
  api.dataset = stub_dataset;
  api.evaluate = stub_evaluate;
  api.propose = stub_propose;
  api.seed = stub_seed;
  api.budget = stub_budget;
  api.record_trial = stub_text;
  api.checkpoint_save = stub_text;
  api.checkpoint_load = stub_load;
  api.progress = stub_progress;
  api.set_result = stub_set_result;
  api.info = stub_info;
  api.finetune_record = stub_finetune_record;
  api.write_file = stub_write_file;
  api.run_optimizer = stub_run_optimizer;
  return api;
}

/* The size of the compile API at 1.0: everything before `info`. */
#define COMPILE_API_V10_SIZE ((uint32_t)offsetof(pc_compile_api, info))

#define FT_PATH "plugins/opt-finetune/.libs/opt-finetune.so"
#define BT_PATH "plugins/opt-better-together/.libs/opt-better-together.so"

/* Create the optimizer of the built plugin `rel` with `settings` and
 * compile against `api`; returns the code and copies the message to msg. */
static int compile_with(const char *rel, const char *settings,
                        const pc_compile_api *api, char *msg, size_t cap)
{
  pc_plugin *p = open_built(rel);
  const pc_optimizer_iface *o;
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int rc;

  msg[0] = '\0';
  n_calls_10 = 0;
  n_calls_11 = 0;
  if (!p)
    return -1;
  o = pc_plugin_interface(p, PC_IFACE_OPTIMIZER,
                          (uint32_t)sizeof(pc_optimizer_iface));
  rc = o ? o->create(p->state, settings, strlen(settings), &inst, &err)
         : -1;
  if (rc == PC_OK)
    rc = o->compile(inst, api, &err);
  snprintf(msg, cap, "%s", err.message);
  if (inst)
    o->destroy(inst);
  pc_plugin_close(p);
  return rc;
}

static void test_finetune_on_a_10_host_is_unsupported_naming_info(void)
{
  pc_compile_api api = fake_api(COMPILE_API_V10_SIZE, 0);
  char msg[PC_ERROR_MESSAGE_MAX];

  CU_ASSERT_EQUAL(COMPILE_API_V10_SIZE, offsetof(pc_compile_api, set_result)
                                        + sizeof(api.set_result));
  CU_ASSERT_EQUAL(compile_with(FT_PATH, "{}", &api, msg, sizeof(msg)),
                  PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "lacks info"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "ABI 1.1"));
  CU_ASSERT_EQUAL(n_calls_11, 0);
  CU_ASSERT_EQUAL(n_calls_10, 0);
}

static void test_finetune_names_a_null_11_member(void)
{
  pc_compile_api api = fake_api((uint32_t)sizeof(pc_compile_api), 1);
  char msg[PC_ERROR_MESSAGE_MAX];

  /* A 1.1-sized table whose write_file is missing (NULL). */
  api.write_file = NULL;
  CU_ASSERT_EQUAL(compile_with(FT_PATH, "{}", &api, msg, sizeof(msg)),
                  PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "lacks write_file"));
  CU_ASSERT_EQUAL(n_calls_11, 0);
}

/* A prompt-only strategy: valid without a fine-tuned model. */
#define BT_SETTINGS "{\"strategy\": \"p\"}"

static void test_better_together_on_a_10_host_names_run_optimizer(void)
{
  pc_compile_api api = fake_api(COMPILE_API_V10_SIZE, 0);
  char msg[PC_ERROR_MESSAGE_MAX];

  CU_ASSERT_EQUAL(compile_with(BT_PATH, BT_SETTINGS, &api, msg,
                               sizeof(msg)), PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "run_optimizer"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "ABI 1.1"));
  CU_ASSERT_EQUAL(n_calls_11, 0);
  CU_ASSERT_EQUAL(n_calls_10, 0);
}

static void test_better_together_passes_the_check_on_an_11_host(void)
{
  pc_compile_api api = fake_api((uint32_t)sizeof(pc_compile_api), 1);
  char msg[PC_ERROR_MESSAGE_MAX];

  /* With the full table the plugin goes on to the 1.0 members (here stubs
   * that refuse), so the UNSUPPORTED above came from the size alone. */
  CU_ASSERT_EQUAL(compile_with(BT_PATH, BT_SETTINGS, &api, msg,
                               sizeof(msg)), PC_E_INTERNAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "stub:"));
  CU_ASSERT(n_calls_10 > 0);
}

/* ------------------------------------------------------------------------ */
/* Today's loader and tables of another minor or major.                     */

/* A metric table from a "future" plugin: today's table, then a member
 * today's host does not know. */
typedef struct future_metric {
  pc_metric_iface base;
  void *appended;
} future_metric;

static future_metric future = {
  {{(uint32_t)sizeof(future_metric), PC_ABI_MAJOR, 99}, "future", NULL, NULL,
   NULL},
  NULL,
};
static pc_metric_iface other_major = {
  {(uint32_t)sizeof(pc_metric_iface), 2, 0}, "other", NULL, NULL, NULL,
};
static pc_metric_iface too_short = {
  {(uint32_t)offsetof(pc_metric_iface, score), PC_ABI_MAJOR, 0}, "short",
  NULL, NULL, NULL,
};

static const void *fake_get_interface(void *state, const char *id,
                                      uint32_t *size)
{
  const pc_abi_header *t = NULL;

  (void)state;
  if (!strcmp(id, "future"))
    t = &future.base.hdr;
  else if (!strcmp(id, "other"))
    t = &other_major.hdr;
  else if (!strcmp(id, "short"))
    t = &too_short.hdr;
  if (t)
    *size = t->struct_size;
  return t;
}

static void test_loader_takes_a_newer_minor_and_refuses_another_major(void)
{
  pc_plugin_info info = {
    {(uint32_t)sizeof(pc_plugin_info), PC_ABI_MAJOR, 99}, "org.example.f",
    "f", "9.0.0", "MIT", "", PC_KIND_METRIC, 0, NULL, NULL,
    fake_get_interface, NULL,
  };
  pc_plugin p;
  const uint32_t need = (uint32_t)sizeof(pc_metric_iface);

  memset(&p, 0, sizeof(p));
  p.info = &info;
  /* Newer minor, larger table: taken; the host reads only its prefix. */
  CU_ASSERT_PTR_EQUAL(pc_plugin_interface(&p, "future", need), &future);
  /* Another major, or shorter than the host needs: refused. */
  CU_ASSERT_PTR_NULL(pc_plugin_interface(&p, "other", need));
  CU_ASSERT_PTR_NULL(pc_plugin_interface(&p, "short", need));
  CU_ASSERT_PTR_NULL(pc_plugin_interface(&p, "absent", need));
}

static CU_TestInfo abi_matrix_tests[] = {
  {"a 1.0 plugin loads and says minor 0",
   test_v10_plugin_loads_and_says_minor_0},
  {"a 1.0 metric scores in today's host",
   test_v10_metric_scores_in_todays_host},
  {"export-finetune on a 1.0 compile API is unsupported, naming info",
   test_finetune_on_a_10_host_is_unsupported_naming_info},
  {"export-finetune names a NULL 1.1 member",
   test_finetune_names_a_null_11_member},
  {"better-together on a 1.0 compile API names run_optimizer",
   test_better_together_on_a_10_host_names_run_optimizer},
  {"better-together passes the check on a 1.1 compile API",
   test_better_together_passes_the_check_on_an_11_host},
  {"the loader takes a newer minor and refuses another major",
   test_loader_takes_a_newer_minor_and_refuses_another_major},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"abi_matrix", NULL, NULL, NULL, NULL, abi_matrix_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
