/*
 * tests/unit/test_opt_finetune.c: plugins/opt-finetune, suite
 * "opt_finetune". The record check and the file names are compiled in;
 * the plugin itself is loaded from the build tree and driven through a
 * scripted compile API whose teacher runs, records and files the test
 * knows, so each test checks what export-finetune keeps and writes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "ft_record.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

static pc_plugin *plugin;
static const pc_optimizer_iface *opt;
static const pc_json_api *js;
static const pc_hash_api *hash;
static void *hctx;

static int suite_init(void)
{
  const char *dir = getenv("PC_TEST_BUILDDIR");
  char path[4096];
  pc_error err = PC_ERROR_INIT;
  uint32_t size = 0;

  snprintf(path, sizeof(path),
           "%s/plugins/opt-finetune/.libs/opt-finetune.so",
           dir ? dir : ".");
  if (pc_plugin_open(path, &plugin, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  opt = pc_plugin_interface(plugin, PC_IFACE_OPTIMIZER,
                            (uint32_t)sizeof(pc_optimizer_iface));
  hctx = pc_host_api_get()->ctx;
  js = pc_host_api_get()->get_host_interface(hctx, "pc.json/1", &size);
  hash = pc_host_api_get()->get_host_interface(hctx, "pc.hash/1", &size);
  return !opt || !js || !hash;
}

static int suite_clean(void)
{
  pc_plugin_close(plugin);
  return 0;
}

static pc_json *parse_ok(const char *text)
{
  pc_json *v = NULL;
  pc_error err = PC_ERROR_INIT;

  js->parse(hctx, text, strlen(text), PC_JSON_PARSE_STRICT, &v, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  return v;
}

/* ------------------------------------------------------------------------ */
/* The record check and the file names.                                     */

/* Check `text`; want_ok, or a reason holding `want_why`. */
static void check_record(const char *text, const char *want_why)
{
  pc_json *rec = parse_ok(text);
  char why[160];
  int rc = pc__ft_record_check(js, rec, why, sizeof(why));

  if (!want_why) {
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
      fprintf(stderr, "\nrejected %s: %s\n", text, why);
  } else {
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, want_why));
    if (!strstr(why, want_why))
      fprintf(stderr, "\n%s: got '%s', want '%s'\n", text, why, want_why);
  }
  js->free(hctx, rec);
}

#define SYS "{\"role\": \"system\", \"content\": \"s\"}"
#define USR "{\"role\": \"user\", \"content\": \"u\"}"
#define AST "{\"role\": \"assistant\", \"content\": \"a\"}"

static void test_record_check_accepts_chat_records(void)
{
  check_record("{\"messages\": [" SYS ", " USR ", " AST "]}", NULL);
  /* Two demos before the call. */
  check_record("{\"messages\": [" SYS ", " USR ", " AST ", " USR ", " AST
               ", " USR ", " AST "]}", NULL);
  /* An empty system or user message is allowed. */
  check_record("{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, "
               "{\"role\": \"user\", \"content\": \"\"}, " AST "]}", NULL);
}

static void test_record_check_rejects_each_broken_rule(void)
{
  check_record("[]", "expected a JSON object");
  check_record("{\"msgs\": []}", "exactly the key \"messages\"");
  check_record("{\"messages\": [" SYS ", " USR ", " AST "], \"x\": 1}",
               "exactly the key \"messages\"");
  check_record("{\"messages\": {}}", "messages: expected an array");
  check_record("{\"messages\": [" SYS "]}", "1 messages");
  check_record("{\"messages\": [" SYS ", " USR "]}", "2 messages");
  check_record("{\"messages\": [" SYS ", 3, " AST "]}",
               "message 1: expected an object");
  check_record("{\"messages\": [" SYS ", {\"role\": \"user\"}, " AST "]}",
               "message 1: expected exactly the keys");
  check_record("{\"messages\": [" SYS ", {\"role\": \"user\", \"content\": "
               "\"u\", \"name\": \"x\"}, " AST "]}",
               "message 1: expected exactly the keys");
  check_record("{\"messages\": [" SYS ", {\"role\": \"user\", \"content\": "
               "[\"u\"]}, " AST "]}", "message 1: content: expected a "
               "string");
  check_record("{\"messages\": [" SYS ", {\"role\": 1, \"content\": "
               "\"u\"}, " AST "]}", "message 1: role: expected a string");
  check_record("{\"messages\": [" SYS ", {\"role\": \"tool\", \"content\": "
               "\"u\"}, " AST "]}", "role 'tool': expected system, user or "
               "assistant");
  check_record("{\"messages\": [" USR ", " USR ", " AST "]}",
               "message 0: role 'user' where 'system' belongs");
  check_record("{\"messages\": [" SYS ", " USR ", " USR "]}",
               "message 2: role 'user' where 'assistant' belongs");
  check_record("{\"messages\": [" SYS ", " AST ", " USR "]}",
               "message 1: role 'assistant' where 'user' belongs");
  check_record("{\"messages\": [" SYS ", " USR ", " AST ", " AST ", "
               AST "]}", "message 3: role 'assistant' where 'user'");
  check_record("{\"messages\": [" SYS ", " USR ", {\"role\": "
               "\"assistant\", \"content\": \"\"}]}",
               "message 2: empty assistant content");
  check_record("{\"messages\": [" SYS ", " USR ", {\"role\": "
               "\"assistant\", \"content\": \" \\n\\t\"}]}",
               "message 2: empty assistant content");
  /* An empty demo answer is as bad as an empty final one. */
  check_record("{\"messages\": [" SYS ", " USR ", {\"role\": "
               "\"assistant\", \"content\": \"\"}, " USR ", " AST "]}",
               "message 2: empty assistant content");
}

static void test_file_name_makes_paths_file_safe(void)
{
  char out[64], tiny[16];

  CU_ASSERT_EQUAL(pc__ft_file_name("solve.predict", out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "finetune-solve.predict.jsonl");
  CU_ASSERT_EQUAL(pc__ft_file_name("a/b c:d-e_f", out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "finetune-a_b_c_d-e_f.jsonl");
  CU_ASSERT_EQUAL(pc__ft_file_name("caf\xc3\xa9", out, sizeof(out)), 0);
  PC_ASSERT_STR_EQ(out, "finetune-caf__.jsonl");
  CU_ASSERT_EQUAL(pc__ft_file_name("classify", tiny, sizeof(tiny)), -1);
  PC_ASSERT_STR_EQ(tiny, "");
  CU_ASSERT_EQUAL(pc__ft_file_name("", out, sizeof(out)), -1);
}

/* ------------------------------------------------------------------------ */
/* A scripted compile API.                                                  */

#define MAXN 16
#define MAXF 8

/* What the teacher does with example i. */
#define R_OK 0       /* runs, scores score[i] */
#define R_PARSE 1    /* a parse failure */
#define R_LM 2       /* the LM failed */

typedef struct fake {
  /* script */
  int n;                       /* train examples */
  int run[MAXN];               /* R_* per example */
  double score[MAXN];          /* the metric's score when R_OK */
  int budget;                  /* evaluate returns PC_E_BUDGET */
  int no_export_dir;           /* info's export_dir is null */
  int api_size;                /* hdr.struct_size, 0 = whole */
  const char *bad_path;        /* finetune_record breaks this path's */
  /* observed */
  int n_evaluate, n_records, n_results, n_trials;
  uint32_t eval_flags;
  uint32_t rec_flags;
  int rec_state_null;          /* every finetune_record had state NULL */
  int n_files;
  char *file_name[MAXF];       /* owned */
  char *file_data[MAXF];       /* owned */
  size_t file_len[MAXF];
  char *state;                 /* owned: the last set_result */
  char *report;                /* owned */
  char *trial;                 /* owned: the last trial */
} fake;

static void fake_clear(fake *f)
{
  for (int i = 0; i < MAXF; i++) {
    pc_free(f->file_name[i]);
    pc_free(f->file_data[i]);
  }
  pc_free(f->state);
  pc_free(f->report);
  pc_free(f->trial);
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
  (void)ctx;
  return parse("{\"predictors\": [{\"path\": \"p.one\"}, "
               "{\"path\": \"p/two\"}]}", out, err);
}

static int f_dataset(void *ctx, const char *split, pc_json **out,
                     pc_error *err)
{
  fake *f = ctx;
  char text[4096];
  size_t used;

  CU_ASSERT_STRING_EQUAL(split, PC_SPLIT_TRAIN);
  used = (size_t)snprintf(text, sizeof(text), "{\"name\": \"t\", "
                          "\"examples\": [");
  for (int i = 0; i < f->n; i++)
    used += (size_t)snprintf(text + used, sizeof(text) - used,
                             "%s{\"id\": \"e%d\", \"fields\": {\"q\": "
                             "\"q%d\"}}", i ? ", " : "", i, i);
  snprintf(text + used, sizeof(text) - used, "]}");
  return parse(text, out, err);
}

/* Every example that runs calls p.one, then p/two. */
static int f_evaluate(void *ctx, const pc_eval_request *req, pc_json **out,
                      pc_error *err)
{
  fake *f = ctx;
  char text[8192];
  size_t used;

  *out = NULL;
  f->n_evaluate++;
  f->eval_flags = req->flags;
  CU_ASSERT_STRING_EQUAL(req->split, PC_SPLIT_TRAIN);
  CU_ASSERT_PTR_NULL(req->indices);
  CU_ASSERT_PTR_NULL(req->state_json);
  if (f->budget) {
    err->code = PC_E_BUDGET;
    snprintf(err->message, sizeof(err->message), "budget: max_calls");
    return PC_E_BUDGET;
  }
  used = (size_t)snprintf(text, sizeof(text), "{\"results\": [");
  for (int i = 0; i < f->n; i++) {
    double s = (req->flags & PC_EVAL_NO_METRIC) ? 1.0 : f->score[i];

    if (f->run[i] != R_OK)
      used += (size_t)snprintf(
        text + used, sizeof(text) - used, "%s{\"index\": %d, \"id\": "
        "\"e%d\", \"outputs\": null, \"score\": 0.0, \"error\": \"bad\", "
        "\"error_kind\": \"%s\", \"trace\": []}", i ? ", " : "", i, i,
        f->run[i] == R_PARSE ? "parse" : "lm");
    else
      used += (size_t)snprintf(
        text + used, sizeof(text) - used, "%s{\"index\": %d, \"id\": "
        "\"e%d\", \"outputs\": {\"b\": \"b%d\"}, \"score\": %g, \"error\": "
        "null, \"error_kind\": null, \"trace\": ["
        "{\"predictor\": \"p.one\", \"inputs\": {\"q\": \"q%d\"}, "
        "\"outputs\": {\"a\": \"a%d\"}}, "
        "{\"predictor\": \"p/two\", \"inputs\": {\"a\": \"a%d\"}, "
        "\"outputs\": {\"b\": \"b%d\"}}]}", i ? ", " : "", i, i, i, s, i,
        i, i, i);
  }
  snprintf(text + used, sizeof(text) - used, "], \"n\": %d}", f->n);
  return parse(text, out, err);
}

static uint64_t f_seed(void *ctx)
{
  (void)ctx;
  return 3;
}

static int f_record_trial(void *ctx, const char *json, size_t len,
                          pc_error *err)
{
  fake *f = ctx;

  (void)err;
  pc_free(f->trial);
  f->trial = dup_n(json, len);
  f->n_trials++;
  return PC_OK;
}

static void f_progress(void *ctx, const char *json, size_t len)
{
  (void)ctx;
  (void)json;
  (void)len;
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

static int f_info(void *ctx, pc_json **out, pc_error *err)
{
  fake *f = ctx;

  return parse(f->no_export_dir
               ? "{\"adapter\": \"chat\", \"roles\": {}, \"splits\": {}, "
                 "\"export_dir\": null}"
               : "{\"program\": \"p\", \"adapter\": \"chat\", \"roles\": "
                 "{\"lm\": {\"provider\": \"sim\", \"identity\": \"s@1\"}, "
                 "\"teacher_lm\": {\"provider\": \"sim\", \"identity\": "
                 "\"t@2\"}}, \"splits\": {\"train\": {\"n\": 6, "
                 "\"sha256\": \"abc\"}}, \"export_dir\": \"/x\"}",
               out, err);
}

/* A record whose messages show the path and the inputs and outputs
 * texts, so the test can tell records apart. */
static int f_finetune_record(void *ctx, const char *path,
                             const char *state_json, uint64_t state_len,
                             const char *inputs_json, uint64_t inputs_len,
                             const char *outputs_json, uint64_t outputs_len,
                             uint32_t flags, pc_json **out, pc_error *err)
{
  fake *f = ctx;
  pc_json *rec = js->new_object(hctx), *msgs = js->new_array(hctx);
  const char *roles[3] = {"system", "user", "assistant"};
  const char *texts[3] = {path, inputs_json, outputs_json};
  size_t lens[3] = {strlen(path), (size_t)inputs_len, (size_t)outputs_len};

  (void)err;
  (void)state_len;
  if (f->n_records++ == 0)
    f->rec_state_null = 1;
  if (state_json)
    f->rec_state_null = 0;
  f->rec_flags = flags;
  if (f->bad_path && !strcmp(path, f->bad_path))
    lens[2] = 0;  /* an empty assistant message: a host bug */
  for (int i = 0; i < 3; i++) {
    pc_json *m = js->new_object(hctx);

    js->object_set(hctx, m, "role", js->new_string(hctx, roles[i],
                                                   strlen(roles[i])));
    js->object_set(hctx, m, "content",
                   js->new_string(hctx, texts[i], lens[i]));
    js->array_append(hctx, msgs, m);
  }
  js->object_set(hctx, rec, "messages", msgs);
  *out = rec;
  return PC_OK;
}

static int f_write_file(void *ctx, const char *name, const char *data,
                        uint64_t len, pc_error *err)
{
  fake *f = ctx;

  (void)err;
  CU_ASSERT_FATAL(f->n_files < MAXF);
  f->file_name[f->n_files] = dup_n(name, strlen(name));
  f->file_data[f->n_files] = dup_n(data, (size_t)len);
  f->file_len[f->n_files] = (size_t)len;
  f->n_files++;
  return PC_OK;
}

static pc_compile_api fake_api(fake *f)
{
  pc_compile_api api;

  memset(&api, 0, sizeof(api));
  api.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_compile_api);
  if (f->api_size)
    api.hdr.struct_size = (uint32_t)f->api_size;
  api.ctx = f;
  api.program = f_program;
  api.dataset = f_dataset;
  api.evaluate = f_evaluate;
  api.seed = f_seed;
  api.record_trial = f_record_trial;
  api.progress = f_progress;
  api.set_result = f_set_result;
  api.info = f_info;
  api.finetune_record = f_finetune_record;
  api.write_file = f_write_file;
  return api;
}

/* Six examples: e0 ok, e1 parse failure, e2 scored 0, e3 LM failure, e4
 * scored 0.3, e5 ok. */
static void script_six(fake *f)
{
  static const int runs[6] = {R_OK, R_PARSE, R_OK, R_LM, R_OK, R_OK};
  static const double scores[6] = {1.0, 0, 0.0, 0, 0.3, 1.0};

  memset(f, 0, sizeof(*f));
  f->n = 6;
  for (int i = 0; i < 6; i++) {
    f->run[i] = runs[i];
    f->score[i] = scores[i];
  }
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

/* The file named `name` that f got, or -1. */
static int file_of(const fake *f, const char *name)
{
  for (int i = 0; i < f->n_files; i++)
    if (!strcmp(f->file_name[i], name))
      return i;
  return -1;
}

/* The number of lines of a JSONL text; every line must end in "\n" and
 * be a valid record. */
static int count_lines(const char *data, size_t len)
{
  int n = 0;
  size_t start = 0;

  for (size_t i = 0; i < len; i++) {
    if (data[i] == '\n') {
      char *one = dup_n(data + start, i - start);
      pc_json *rec = parse_ok(one);
      char why[160];

      CU_ASSERT_EQUAL(pc__ft_record_check(js, rec, why, sizeof(why)), 0);
      js->free(hctx, rec);
      pc_free(one);
      start = i + 1;
      n++;
    }
  }
  CU_ASSERT_EQUAL(start, len);  /* the last line ends in a newline */
  return n;
}

/* manifest[key1][key2] as an integer (-1 when absent). */
static long long manifest_int(const fake *f, const char *key1,
                              const char *key2)
{
  int k = file_of(f, "manifest.json");
  pc_json *m;
  const pc_json *v;
  long long out = -1;

  CU_ASSERT_FATAL(k >= 0);
  m = parse_ok(f->file_data[k]);
  v = js->object_get(m, key1);
  if (v && key2)
    v = js->object_get(v, key2);
  if (v && js->type(v) == PC_JSON_INT)
    out = (long long)js->get_int(v);
  js->free(hctx, m);
  return out;
}

/* ------------------------------------------------------------------------ */
/* Settings and estimate.                                                   */

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

static void test_settings_default_to_dspy_values(void)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  sinkbuf b;
  pc_text_sink s = text_sink(&b);

  CU_ASSERT_EQUAL_FATAL(opt->create(plugin->state, "", 0, &inst, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(opt->settings(inst, &s, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.text, "{\"multitask\":true,\"exclude_demos\":false,"
                   "\"use_metric\":true,\"metric_threshold\":null,"
                   "\"use_teacher_lm\":true,\"shuffle\":true,\"seed\":0}");
  opt->destroy(inst);
}

static void check_bad(const char *settings, const char *want)
{
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc = opt->create(plugin->state, settings, strlen(settings), &inst,
                       &err);

  CU_ASSERT_EQUAL(rc, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  if (!strstr(err.message, want))
    fprintf(stderr, "\n%s: got '%s'\n", settings, err.message);
}

static void test_bad_settings_are_refused_by_name(void)
{
  check_bad("{\"metric\": true}", "export-finetune: metric: unknown "
            "setting");
  check_bad("{\"metric_threshold\": 1.5}", "export-finetune: "
            "metric_threshold: expected null or a number in [0, 1]");
  check_bad("{\"multitask\": 1}", "multitask: expected true or false");
  check_bad("{\"seed\": -1}", "seed: expected an integer >= 0");
  check_bad("{\"use_metric\": false, \"metric_threshold\": 0.5}",
            "metric_threshold: set, but use_metric is false");
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

static void test_estimate_is_one_teacher_pass(void)
{
  check_estimate("{}", "{\"train\": 50, \"val\": 10, \"predictors\": 1, "
                 "\"calls_per_run\": 2}", "{\"lm_calls\": 100, "
                 "\"metric_calls\": 50, \"proposal_calls\": 0}");
  check_estimate("{\"use_metric\": false}", "{\"train\": 50, \"val\": 10, "
                 "\"predictors\": 1, \"calls_per_run\": 2}",
                 "{\"lm_calls\": 100, \"metric_calls\": 0, "
                 "\"proposal_calls\": 0}");
}

/* ------------------------------------------------------------------------ */
/* Compile.                                                                 */

static void test_kept_runs_become_one_multitask_file(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;
  char hex[PC_SHA256_HEX_SIZE];
  int k, m;

  script_six(&f);
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"shuffle\": false}", &f, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(f.n_evaluate, 1);
  CU_ASSERT_EQUAL(f.eval_flags, PC_EVAL_TRACES | PC_EVAL_TEACHER);
  /* e0, e4 (0.3 > 0) and e5 kept, two steps each. */
  CU_ASSERT_EQUAL(f.n_records, 6);
  CU_ASSERT_EQUAL(f.rec_state_null, 1);
  CU_ASSERT_EQUAL(f.rec_flags, 0u);
  CU_ASSERT_EQUAL_FATAL(f.n_files, 2);
  PC_ASSERT_STR_EQ(f.file_name[0], "finetune.jsonl");
  PC_ASSERT_STR_EQ(f.file_name[1], "manifest.json");  /* written last */
  k = file_of(&f, "finetune.jsonl");
  CU_ASSERT_EQUAL(count_lines(f.file_data[k], f.file_len[k]), 6);
  /* Unshuffled: example order, then trace order. */
  PC_ASSERT_STR_EQ(f.file_data[k],
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p.one\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"q\\\":\\\"q0\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"a\\\":\\\"a0\\\"}\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p/two\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"a\\\":\\\"a0\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"b\\\":\\\"b0\\\"}\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p.one\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"q\\\":\\\"q4\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"a\\\":\\\"a4\\\"}\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p/two\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"a\\\":\\\"a4\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"b\\\":\\\"b4\\\"}\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p.one\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"q\\\":\\\"q5\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"a\\\":\\\"a5\\\"}\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"p/two\"},{\"role\":"
    "\"user\",\"content\":\"{\\\"a\\\":\\\"a5\\\"}\"},{\"role\":"
    "\"assistant\",\"content\":\"{\\\"b\\\":\\\"b5\\\"}\"}]}\n");
  /* The manifest counts and hashes what was written. */
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "train"), 6);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "runs_ok"), 4);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "kept"), 3);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_metric"), 1);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_parse"), 1);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_other"), 1);
  CU_ASSERT_EQUAL(manifest_int(&f, "seed", NULL), 3);
  hash->sha256_hex(hctx, f.file_data[k], f.file_len[k], hex);
  m = file_of(&f, "manifest.json");
  {
    pc_json *man = parse_ok(f.file_data[m]);
    const pc_json *file = js->array_get(js->object_get(man, "files"), 0);
    const pc_json *t = js->object_get(man, "teacher");

    PC_ASSERT_STR_EQ(js->get_string(js->object_get(file, "sha256"), NULL),
                     hex);
    CU_ASSERT_EQUAL(js->get_int(js->object_get(file, "records")), 6);
    CU_ASSERT_EQUAL(js->array_len(js->object_get(file, "predictors")), 2);
    PC_ASSERT_STR_EQ(js->get_string(js->object_get(man, "schema"), NULL),
                     "promptc.finetune/1");
    PC_ASSERT_STR_EQ(js->get_string(js->object_get(t, "identity"), NULL),
                     "t@2");
    PC_ASSERT_STR_EQ(js->get_string(js->object_get(
                       js->object_get(man, "data"), "sha256"), NULL), "abc");
    js->free(hctx, man);
  }
  /* The program is not changed; the manifest is the report. */
  PC_ASSERT_STR_EQ(f.state, "{}");
  CU_ASSERT_PTR_NOT_NULL(f.report && strstr(f.report, "\"kept\":3"));
  CU_ASSERT_EQUAL(f.n_trials, 1);
  CU_ASSERT_PTR_NOT_NULL(f.trial && strstr(f.trial, "\"label\":\"teacher "
                                           "traces\""));
  CU_ASSERT_PTR_NOT_NULL(f.trial && strstr(f.trial, "\"score\":50.0"));
  CU_ASSERT_PTR_NOT_NULL(f.trial && strstr(f.trial, "\"exported\":6"));
  fake_clear(&f);
}

static void test_shuffle_reorders_the_same_records_deterministically(void)
{
  fake a, b, c;
  pc_error err = PC_ERROR_INIT;
  int n = 16;

  memset(&a, 0, sizeof(a));
  a.n = n;
  for (int i = 0; i < n; i++)
    a.score[i] = 1.0;
  b = a;
  c = a;
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"shuffle\": false}", &a, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(compile_with("{}", &b, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(compile_with("{}", &c, &err), PC_OK);
  /* Same bytes from two shuffled runs; another order than unshuffled. */
  CU_ASSERT_EQUAL(b.file_len[0], c.file_len[0]);
  CU_ASSERT(!strcmp(b.file_data[0], c.file_data[0]));
  CU_ASSERT_EQUAL(a.file_len[0], b.file_len[0]);
  CU_ASSERT(strcmp(a.file_data[0], b.file_data[0]) != 0);
  /* The same lines: sorted, the two texts agree. */
  CU_ASSERT_EQUAL(count_lines(b.file_data[0], b.file_len[0]), 2 * n);
  for (int i = 0; i < n; i++) {
    char want[64];

    snprintf(want, sizeof(want), "\\\"b\\\":\\\"b%d\\\"", i);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.file_data[0], want));
  }
  fake_clear(&a);
  fake_clear(&b);
  fake_clear(&c);
}

static void test_without_multitask_each_predictor_has_its_file(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;
  int one, two;

  script_six(&f);
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"multitask\": false}", &f, &err),
                        PC_OK);
  CU_ASSERT_EQUAL_FATAL(f.n_files, 3);
  one = file_of(&f, "finetune-p.one.jsonl");
  two = file_of(&f, "finetune-p_two.jsonl");
  CU_ASSERT_FATAL(one >= 0 && two >= 0);
  CU_ASSERT_EQUAL(count_lines(f.file_data[one], f.file_len[one]), 3);
  CU_ASSERT_EQUAL(count_lines(f.file_data[two], f.file_len[two]), 3);
  CU_ASSERT_PTR_NULL(strstr(f.file_data[one], "p/two"));
  CU_ASSERT_PTR_NULL(strstr(f.file_data[two], "p.one"));
  PC_ASSERT_STR_EQ(f.file_name[2], "manifest.json");
  fake_clear(&f);
}

static void test_without_metric_every_run_that_did_not_fail_is_kept(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  script_six(&f);
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"use_metric\": false, "
                                     "\"use_teacher_lm\": false}", &f,
                                     &err), PC_OK);
  CU_ASSERT_EQUAL(f.eval_flags, PC_EVAL_TRACES | PC_EVAL_NO_METRIC);
  CU_ASSERT_EQUAL(f.n_records, 8);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "kept"), 4);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_metric"), 0);
  /* Parse failures are never exported, metric or not. */
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_parse"), 1);
  CU_ASSERT_PTR_NULL(strstr(f.file_data[0], "q1"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.report, "\"role\":\"lm\""));
  fake_clear(&f);
}

static void test_threshold_and_exclude_demos_are_passed_on(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  script_six(&f);
  CU_ASSERT_EQUAL_FATAL(compile_with("{\"metric_threshold\": 0.5, "
                                     "\"exclude_demos\": true}", &f, &err),
                        PC_OK);
  /* e4's 0.3 is now below the bar. */
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "kept"), 2);
  CU_ASSERT_EQUAL(manifest_int(&f, "examples", "failed_metric"), 2);
  CU_ASSERT_EQUAL(f.rec_flags, PC_FINETUNE_NO_DEMOS);
  CU_ASSERT_PTR_NULL(strstr(f.file_data[0], "q4"));
  fake_clear(&f);
}

static void test_an_invalid_host_record_is_an_error_naming_it(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  script_six(&f);
  f.bad_path = "p/two";
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_INTERNAL);
  PC_ASSERT_STR_EQ(err.message, "export-finetune: example e0, predictor "
                   "p/two: the host's record is not valid chat data: "
                   "message 2: empty assistant content");
  CU_ASSERT_EQUAL(f.n_files, 0);
  CU_ASSERT_EQUAL(f.n_results, 0);
  fake_clear(&f);
}

static void test_an_old_host_is_refused_before_anything_runs(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  script_six(&f);
  f.api_size = (int)offsetof(pc_compile_api, info);
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_UNSUPPORTED);
  PC_ASSERT_STR_EQ(err.message, "export-finetune: this host lacks info "
                   "(ABI 1.1)");
  CU_ASSERT_EQUAL(f.n_evaluate, 0);
  fake_clear(&f);

  script_six(&f);
  f.api_size = (int)offsetof(pc_compile_api, write_file);
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_UNSUPPORTED);
  PC_ASSERT_STR_EQ(err.message, "export-finetune: this host lacks "
                   "write_file (ABI 1.1)");
  CU_ASSERT_EQUAL(f.n_evaluate, 0);
  fake_clear(&f);

  script_six(&f);
  f.no_export_dir = 1;
  err = (pc_error)PC_ERROR_INIT;
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_UNSUPPORTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no export directory"));
  CU_ASSERT_EQUAL(f.n_evaluate, 0);
  fake_clear(&f);
}

static void test_a_cut_teacher_pass_writes_nothing(void)
{
  fake f;
  pc_error err = PC_ERROR_INIT;

  script_six(&f);
  f.budget = 1;
  CU_ASSERT_EQUAL(compile_with("{}", &f, &err), PC_E_BUDGET);
  PC_ASSERT_STR_EQ(err.message, "budget: max_calls");
  CU_ASSERT_EQUAL(f.n_files, 0);
  CU_ASSERT_EQUAL(f.n_records, 0);
  CU_ASSERT_EQUAL(f.n_results, 1);
  PC_ASSERT_STR_EQ(f.state, "{}");
  CU_ASSERT_PTR_NOT_NULL(f.report && strstr(f.report,
                                            "\"exported\":false"));
  fake_clear(&f);
}

static CU_TestInfo finetune_tests[] = {
  {"record check accepts chat records",
   test_record_check_accepts_chat_records},
  {"record check rejects each broken rule",
   test_record_check_rejects_each_broken_rule},
  {"file name makes paths file-safe", test_file_name_makes_paths_file_safe},
  {"settings default to DSPy's values",
   test_settings_default_to_dspy_values},
  {"bad settings are refused by name",
   test_bad_settings_are_refused_by_name},
  {"estimate is one teacher pass", test_estimate_is_one_teacher_pass},
  {"kept runs become one multitask file",
   test_kept_runs_become_one_multitask_file},
  {"shuffle reorders the same records deterministically",
   test_shuffle_reorders_the_same_records_deterministically},
  {"without multitask each predictor has its file",
   test_without_multitask_each_predictor_has_its_file},
  {"without metric every run that did not fail is kept",
   test_without_metric_every_run_that_did_not_fail_is_kept},
  {"threshold and exclude_demos are passed on",
   test_threshold_and_exclude_demos_are_passed_on},
  {"an invalid host record is an error naming it",
   test_an_invalid_host_record_is_an_error_naming_it},
  {"an old host is refused before anything runs",
   test_an_old_host_is_refused_before_anything_runs},
  {"a cut teacher pass writes nothing",
   test_a_cut_teacher_pass_writes_nothing},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"opt_finetune", suite_init, suite_clean, NULL, NULL, finetune_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
