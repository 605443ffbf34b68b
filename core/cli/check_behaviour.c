/*
 * check_behaviour.c - `promptc plugins check`: the behaviour child of one
 * interface table, a short run by kind: an adapter formats a demo and
 * parses its own reply back; a metric scores an exact and a wrong
 * prediction; an LM provider answers one request through the sim-server;
 * an optimizer compiles a tiny program within a small budget through the
 * real compile host; a tool is called once; a program module is created.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "cli.h"
#include "compile.h"
#include "dataset.h"
#include "file.h"
#include "host.h"
#include "json_text.h"
#include "lm.h"
#include "metric.h"
#include "optimizer.h"
#include "program.h"
#include "runtime.h"
#include "signature.h"
#include "sim_server.h"

/* The budget of the optimizer's compile, its threads, and how far past
 * the cap the calls already in flight when it is reached may go. */
#define OPT_MAX_CALLS 50
#define OPT_THREADS 2
#define OPT_IN_FLIGHT (4 * OPT_THREADS)

/* The SKIP row of a behaviour run whose instance the plugin would not
 * create with `cfg` (the --settings, or "{}"). */
static void skip_create(const char *row, const char *cfg, int rc,
                        const pc_error *err)
{
  check_ev_row("SKIP", row,
               "create %s refused (%d: %s): no config to run "
               "with (see --settings)",
               cfg, rc, err->message);
}

/* A message sink that appends {"role", "content"} (copies) to the json-c
 * array `ctx`, which keeps them. */
static int collect_message(void *ctx, const char *role, const char *content,
                           size_t len)
{
  struct json_object *m = json_object_new_object();

  if (!m)
    return PC_E_NOMEM;
  json_object_object_add(m, "role", json_object_new_string(role ? role
                                                                : ""));
  json_object_object_add(m, "content",
                         json_object_new_string_len(content ? content : "",
                                                    (int)len));
  return json_object_array_add(ctx, m) ? PC_E_NOMEM : PC_OK;
}

/* Format a demo and parse the assistant reply the adapter made for it:
 * the parsed outputs must equal the demo's. */
static void behave_adapter(const pc_adapter_iface *a, void *state,
                           const char *cfg, const char *row)
{
  static const char demos[] = "[{\"question\": \"What is two plus two?\", "
                              "\"answer\": \"four\", \"count\": 4}]";
  static const char inputs[] = "{\"question\": \"What is three plus "
                               "three?\"}";
  pc_signature *sig = NULL;
  pc_buf sj, reply;
  pc_error err = PC_ERROR_INIT;
  struct json_object *msgs = json_object_new_array(), *got = NULL;
  struct json_object *want = json_tokener_parse("{\"answer\": \"four\", "
                                                "\"count\": 4}");
  pc_message_sink ms = {PC_ABI_HEADER_INIT(pc_message_sink), NULL,
                        collect_message, NULL};
  pc_adapter_format_request fr = {
    PC_ABI_HEADER_INIT(pc_adapter_format_request), NULL, 0, demos,
    sizeof(demos) - 1, inputs, sizeof(inputs) - 1};
  pc_adapter_parse_request pr = {
    PC_ABI_HEADER_INIT(pc_adapter_parse_request), NULL, 0, NULL, 0};
  pc_text_sink ts;
  const char *assistant = NULL;
  void *inst = NULL;
  int rc;

  pc_buf_init(&sj, 0);
  pc_buf_init(&reply, 0);
  ms.ctx = msgs;
  ts = pc_host_buf_sink(&reply);
  if (!msgs || !want ||
      pc_signature_parse("question: str -> answer: str, count: int", &sig,
                         &err) ||
      pc_signature_to_plugin_json(sig, &sj)) {
    check_ev_row("FAIL", row, "host: could not build the sample signature");
    goto out;
  }
  rc = a->create(state, cfg, strlen(cfg), &inst, &err);
  if (rc) {
    skip_create(row, cfg, rc, &err);
    goto out;
  }
  fr.signature_json = sj.data;
  fr.signature_len = sj.len;
  rc = a->format(inst, &fr, &ms, &err);
  if (rc) {
    check_ev_row("FAIL", row, "format failed: code %d: %s", rc, err.message);
    goto out;
  }
  for (size_t i = json_object_array_length(msgs); i-- > 0 && !assistant;) {
    struct json_object *m = json_object_array_get_idx(msgs, i);

    if (!strcmp(pc_json_str(m, "role"), "assistant"))
      assistant = pc_json_str(m, "content");
  }
  if (!json_object_array_length(msgs) || !assistant) {
    check_ev_row("FAIL", row,
                 "format wrote %zu messages and no assistant message "
                 "for the demo",
                 json_object_array_length(msgs));
    goto out;
  }
  pr.signature_json = sj.data;
  pr.signature_len = sj.len;
  pr.completion = assistant;
  pr.completion_len = strlen(assistant);
  rc = a->parse(inst, &pr, &ts, &err);
  if (rc) {
    check_ev_row("FAIL", row,
                 "parse of its own demo reply failed: code %d: %s", rc,
                 err.message);
    goto out;
  }
  got = json_tokener_parse(reply.data ? reply.data : "");
  if (!json_object_equal(got, want)) {
    check_ev_row("FAIL", row, "round trip differs: formatted %s, parsed %s",
                 json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN),
                 reply.data ? reply.data : "(nothing)");
    goto out;
  }
  check_ev_row("PASS", row, "%zu messages; the demo's reply parses back to %s",
               json_object_array_length(msgs),
               json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
out:
  if (inst)
    a->destroy(inst);
  pc_signature_free(sig);
  pc_buf_free(&sj);
  pc_buf_free(&reply);
  json_object_put(msgs);
  json_object_put(got);
  json_object_put(want);
}

/* What a metric sink saw. */
typedef struct score_seen {
  int calls;
  double score;
} score_seen;

static int seen_score(void *ctx, double score)
{
  score_seen *s = ctx;

  s->calls++;
  s->score = score;
  return PC_OK;
}

static int seen_feedback(void *ctx, const char *text, size_t len)
{
  return PC_OK;
}

static int seen_subscore(void *ctx, const char *name, double score)
{
  return PC_OK;
}

/* The sample cases of the metric check: an example, an exact and a wrong
 * prediction. The first set a metric can score is the one judged (a
 * numeric metric cannot score the text answers, for instance). */
static const char *const metric_cases[][3] = {
  {"{\"question\": \"What is the capital of France?\", \"answer\": "
   "\"Paris\", \"gold_titles\": [\"France\"]}",
   "{\"answer\": \"Paris\", \"passages\": [\"France | Paris is the capital "
   "of France.\"]}",
   "{\"answer\": \"Lyon\", \"passages\": [\"Italy | Rome is the capital "
   "of Italy.\"]}"},
  {"{\"question\": \"How many legs has a spider?\", \"answer\": \"8\"}",
   "{\"answer\": \"8\"}", "{\"answer\": \"6\"}"},
};
#define N_METRIC_CASES (sizeof(metric_cases) / sizeof(metric_cases[0]))

/* Score one set: 1 when every call was judged (problems or scores noted),
 * 0 when the metric refused the set cleanly (why in `refused`). */
static int score_set(const pc_metric_iface *m, void *inst, size_t set,
                     char *problems, size_t pcap, char *scores, size_t scap,
                     char *refused, size_t rcap)
{
  static const char *const labels[2] = {"exact", "wrong"};
  const char *example = metric_cases[set][0];

  for (int i = 0; i < 2; i++) {
    const char *pred = metric_cases[set][1 + i];
    score_seen seen = {0, NAN};
    pc_metric_sink sink = {PC_ABI_HEADER_INIT(pc_metric_sink), &seen,
                           seen_score, seen_feedback, seen_subscore};
    pc_error serr = PC_ERROR_INIT;
    char why[160];
    int rc;

    rc = m->score(inst, example, strlen(example), pred, strlen(pred), NULL,
                  0, &sink, &serr);
    if (rc && i == 0 && rc == PC_E_INVALID_ARG &&
        check_clean_error(rc, &serr, why, sizeof(why))) {
      snprintf(refused, rcap, "%s", serr.message);
      return 0;
    }
    if (rc) {
      if (check_clean_error(rc, &serr, why, sizeof(why)))
        check_note(problems, pcap, "%s: score failed: code %d: %s", labels[i],
                   rc, serr.message);
      else
        check_note(problems, pcap, "%s: score failed: %s", labels[i], why);
      continue;
    }
    if (seen.calls != 1)
      check_note(problems, pcap,
                 "%s: the score sink was called %d times (once is the rule)",
                 labels[i], seen.calls);
    else if (!isfinite(seen.score) || seen.score < 0.0 || seen.score > 1.0)
      check_note(problems, pcap, "%s: score %g is outside [0, 1]", labels[i],
                 seen.score);
    else
      check_note(scores, scap, "%s %g", labels[i], seen.score);
  }
  return 1;
}

/* Score an exact and a wrong prediction: each score once, finite, in
 * [0, 1]. */
static void behave_metric(const pc_metric_iface *m, void *state,
                          const char *cfg, const char *row)
{
  char problems[CHECK_DETAIL_MAX] = "", scores[64] = "";
  char refused[PC_ERROR_MESSAGE_MAX] = "";
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  int rc, judged = 0;

  rc = m->create(state, cfg, strlen(cfg), &inst, &err);
  if (rc) {
    skip_create(row, cfg, rc, &err);
    return;
  }
  for (size_t set = 0; set < N_METRIC_CASES && !judged; set++)
    judged = score_set(m, inst, set, problems, sizeof(problems), scores,
                       sizeof(scores), refused, sizeof(refused));
  m->destroy(inst);
  if (!judged)
    check_ev_row("SKIP", row, "no sample case fits this metric: %s", refused);
  else if (problems[0])
    check_ev_row("FAIL", row, "%s", problems);
  else
    check_ev_row("PASS", row, "%s; each scored once, in [0, 1]", scores);
}

/* Write `text` to DIR/NAME. Returns 0, or -1 when it cannot. */
static int write_text(const char *dir, const char *name, const char *text)
{
  pc_error err = PC_ERROR_INIT;
  char path[4096];

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return pc_file_write_atomic(path, text, strlen(text), &err) ? -1 : 0;
}

/* Remove a directory tree we made (files and directories only). */
static void remove_tree(const char *path)
{
  DIR *d = opendir(path);
  struct dirent *e;

  if (d) {
    while ((e = readdir(d)) != NULL) {
      char sub[4096];
      struct stat st;

      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
      if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(sub);
      else
        unlink(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

static const char opt_program[] =
  "{\"schema\": \"promptc.program/1\", \"name\": \"check\", \"modules\": "
  "{\"qa\": {\"type\": \"predict\", \"signature\": \"question -> "
  "answer\"}}}\n";

static const char opt_train[] =
  "{\"id\": \"c1\", \"question\": \"What is the capital of France?\", "
  "\"answer\": \"Paris\"}\n"
  "{\"id\": \"c2\", \"question\": \"What is the capital of Italy?\", "
  "\"answer\": \"Rome\"}\n"
  "{\"id\": \"c3\", \"question\": \"What is the capital of Spain?\", "
  "\"answer\": \"Madrid\"}\n"
  "{\"id\": \"c4\", \"question\": \"What is the capital of Japan?\", "
  "\"answer\": \"Tokyo\"}\n"
  "{\"id\": \"c5\", \"question\": \"What is the capital of Egypt?\", "
  "\"answer\": \"Cairo\"}\n"
  "{\"id\": \"c6\", \"question\": \"What is the capital of Peru?\", "
  "\"answer\": \"Lima\"}\n";

/* What an LM sink saw. */
typedef struct lm_seen {
  pc_buf text;
  int texts;
} lm_seen;

static int seen_text(void *ctx, uint32_t index, const char *text, size_t len)
{
  lm_seen *s = ctx;

  s->texts++;
  return index == 0 && pc_buf_append(&s->text, text, len) ? PC_E_NOMEM
                                                          : PC_OK;
}

static int seen_delta(void *ctx, uint32_t index, const char *text,
                      size_t len)
{
  return PC_OK;
}

static int seen_usage(void *ctx, int64_t p, int64_t c)
{
  return PC_OK;
}

static int seen_meta(void *ctx, const char *key, const char *value,
                     size_t len)
{
  return PC_OK;
}

/* The messages of the sample request: what the chat adapter of the
 * plugin path formats for "question -> answer" (the sim answers only
 * adapter-shaped requests), else a plain system and user message. Returns
 * a new array of {"role", "content"} owned by the caller (json_object_put);
 * NULL when out of memory. `reg` is borrowed. */
static struct json_object *sample_messages(const pc_registry *reg)
{
  static const char inputs[] = "{\"question\": \"What is the capital of "
                               "France?\"}";
  struct json_object *msgs = json_object_new_array();
  pc_plugin *plugin = NULL;
  const pc_adapter_iface *a;
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_message_sink ms = {PC_ABI_HEADER_INIT(pc_message_sink), NULL,
                        collect_message, NULL};
  pc_adapter_format_request fr = {
    PC_ABI_HEADER_INIT(pc_adapter_format_request), NULL, 0, "[]", 2, inputs,
    sizeof(inputs) - 1};
  pc_buf sj;
  void *inst = NULL;

  pc_buf_init(&sj, 0);
  ms.ctx = msgs;
  a = pc_registry_find_iface(reg, PC_IFACE_ADAPTER, "chat",
                             sizeof(pc_adapter_iface), &plugin);
  if (msgs && a && !pc_signature_parse("question -> answer", &sig, &err) &&
      !pc_signature_to_plugin_json(sig, &sj) &&
      !a->create(plugin->state, "{}", 2, &inst, &err)) {
    fr.signature_json = sj.data;
    fr.signature_len = sj.len;
    if (a->format(inst, &fr, &ms, &err))
      json_object_array_del_idx(msgs, 0, json_object_array_length(msgs));
    a->destroy(inst);
  }
  if (msgs && !json_object_array_length(msgs)) {
    collect_message(msgs, "system", "Answer the question.", 20);
    collect_message(msgs, "user", "What is the capital of France?", 30);
  }
  pc_signature_free(sig);
  pc_buf_free(&sj);
  return msgs;
}

/* One completion of `msgs` through provider instance `inst`. */
static int lm_ask(const pc_lm_provider_iface *p, void *inst,
                  struct json_object *msgs, lm_seen *seen, pc_error *err)
{
  const pc_host_api *host = pc_host_api_get();
  pc_message items[8];
  size_t n = json_object_array_length(msgs);
  pc_lm_request req = {PC_ABI_HEADER_INIT(pc_lm_request), "sim", items, 0,
                       (uint32_t)sizeof(pc_message), 0, "{}", 2, NULL};
  pc_lm_sink sink = {PC_ABI_HEADER_INIT(pc_lm_sink), seen, seen_text,
                     seen_delta, seen_usage, seen_meta};
  pc_call call;

  if (n > sizeof(items) / sizeof(items[0]))
    n = sizeof(items) / sizeof(items[0]);
  for (size_t i = 0; i < n; i++) {
    struct json_object *m = json_object_array_get_idx(msgs, i);
    pc_message one = {PC_ABI_HEADER_INIT(pc_message), pc_json_str(m, "role"),
                      pc_json_str(m, "content"), 0};

    one.content_len = strlen(one.content);
    items[i] = one;
  }
  req.n_messages = n;
  memset(&call, 0, sizeof(call));
  call.deadline_ns = host->now_ns(host->ctx) + 20ull * 1000000000ull;
  return p->complete(inst, &req, &sink, &call, err);
}

/* The LM role the sim-server serves: --sim-config's "lm", else the sim
 * with train.jsonl of the work directory as its knowledge. *role gets a
 * reference owned by the caller (json_object_put), *cfg the loaded
 * --sim-config (pc_config_free; left NULL without one), also after a
 * failure. Returns 0, or -1 with why in `why`. */
static int sim_role(const check_opts *o, pc_config **cfg,
                    struct json_object **role, char *why, size_t cap)
{
  if (o->sim_config) {
    pc_error err = PC_ERROR_INIT;

    if (pc_config_load(o->sim_config, cfg, &err)) {
      snprintf(why, cap, "--sim-config: %s", err.message);
      return -1;
    }
    if (!(*cfg)->roles[PC_ROLE_LM]) {
      snprintf(why, cap, "--sim-config %s has no \"lm\"", o->sim_config);
      return -1;
    }
    *role = json_object_get((*cfg)->roles[PC_ROLE_LM]);
    return 0;
  }
  *role = json_tokener_parse("{\"provider\": \"sim\", \"knowledge\": "
                             "[\"train.jsonl\"]}");
  return *role ? 0 : -1;
}

/* Start the sim-server and have the provider answer one request through
 * it, trying the usual config shapes until one is accepted. */
static void behave_lm(const check_opts *o, const pc_lm_provider_iface *p,
                      void *state, const char *row)
{
  pc_registry *reg = pc_registry_new();
  pc_config *cfg = NULL;
  struct json_object *role = NULL;
  pc_lm *lm = NULL;
  pc_sim_server *srv = NULL;
  pc_sim_server_opts so;
  pc_error err = PC_ERROR_INIT;
  char why[CHECK_DETAIL_MAX] = "", last[CHECK_DETAIL_MAX] = "";
  char base[64], dir[] = "/tmp/promptc-check-XXXXXX";
  struct json_object *msgs = NULL;
  int created = 0, made = 0;

  memset(&so, 0, sizeof(so));
  pc_sim_faults_init(&so.faults);
  if (!mkdtemp(dir) || (made = 1, write_text(dir, "train.jsonl",
                                             opt_train))) {
    check_ev_row("FAIL", row, "host: cannot write a work directory: %s",
                 strerror(errno));
    goto out;
  }
  if (!reg || pc_registry_load_default(reg, NULL, &err)) {
    check_ev_row("FAIL", row, "host: cannot load the plugin path");
    goto out;
  }
  if (sim_role(o, &cfg, &role, why, sizeof(why)) ||
      pc_lm_open(reg, "lm", role, cfg ? cfg->base_dir : dir, &lm, &err)) {
    check_ev_row("SKIP", row, "no sim LM to serve from the plugin path: %s",
                 why[0] ? why : err.message);
    goto out;
  }
  so.lm = lm;
  so.model_name = "sim";
  if (!(msgs = sample_messages(reg))) {
    check_ev_row("FAIL", row, "host: out of memory");
    goto out;
  }
  if (pc_sim_listen_parse("127.0.0.1:0", &so.listen, &err) ||
      pc_sim_server_start(&so, &srv, &err)) {
    check_ev_row("FAIL", row, "host: the sim-server did not start: %s",
                 err.message);
    goto out;
  }
  snprintf(base, sizeof(base), "http://127.0.0.1:%u",
           (unsigned)pc_sim_server_port(srv));
  setenv("PROMPTC_CHECK_API_KEY", "sk-promptc-check", 1);
  for (int i = 0; i < 6; i++) {
    /* base_url suffix (NULL: none), and whether to pass a key; then the
     * sim's own shape (a knowledge file), then nothing at all */
    static const char *const suffix[6] = {"/v1", "", "/v1", "", NULL, NULL};
    static const int keyed[6] = {1, 1, 0, 0, 0, 0};
    char conf[256];
    lm_seen seen;
    pc_error cerr = PC_ERROR_INIT, lerr = PC_ERROR_INIT;
    void *inst = NULL;
    int rc;

    if (suffix[i])
      snprintf(conf, sizeof(conf), "{\"base_url\": \"%s%s\", \"model\": "
               "\"sim\"%s}", base, suffix[i], keyed[i]
               ? ", \"api_key\": \"env:PROMPTC_CHECK_API_KEY\"" : "");
    else if (i == 4)
      snprintf(conf, sizeof(conf), "{\"knowledge\": [\"%s/train.jsonl\"]}",
               dir);
    else
      snprintf(conf, sizeof(conf), "{}");
    if (p->create(state, conf, strlen(conf), &inst, &cerr)) {
      if (!created)
        snprintf(last, sizeof(last), "%s", cerr.message);
      continue;
    }
    created = 1;
    memset(&seen, 0, sizeof(seen));
    pc_buf_init(&seen.text, 0);
    rc = lm_ask(p, inst, msgs, &seen, &lerr);
    p->destroy(inst);
    if (rc == PC_OK && seen.texts > 0) {
      check_ev_row("PASS", row, "answered %zu bytes with config %s%s",
                   seen.text.len, conf,
                   pc_sim_server_requests(srv) ? " through the sim-server"
                                               : " (in process)");
      pc_buf_free(&seen.text);
      goto out;
    }
    snprintf(last, sizeof(last), "config %s: %s", conf,
             rc ? lerr.message : "no text written");
    pc_buf_free(&seen.text);
  }
  if (!created)
    check_ev_row("SKIP", row,
                 "no generic config (base_url, model, api_key) was "
                 "accepted, so no request could be built: %s",
                 last);
  else
    check_ev_row("FAIL", row, "no answer through the sim-server: %s", last);
out:
  pc_sim_server_stop(srv);
  json_object_put(msgs);
  pc_lm_close(lm);
  json_object_put(role);
  pc_config_free(cfg);
  pc_registry_free(reg);
  if (made)
    remove_tree(dir);
}

/* The run config of the optimizer's compile: the sim LM with the train
 * examples as its knowledge, the chat adapter, exact_match on "answer".
 * (With --sim-config, that file is the config instead.) */
static int write_opt_config(const char *dir, char *why, size_t cap)
{
  static const char config[] =
    "{\"lm\": {\"provider\": \"sim\", \"knowledge\": [\"train.jsonl\"]},\n"
    " \"adapter\": \"chat\",\n"
    " \"metric\": {\"name\": \"exact_match\", \"field\": \"answer\"}}\n";

  if (write_text(dir, "config.json", config)) {
    snprintf(why, cap, "cannot write %s/config.json", dir);
    return -1;
  }
  return 0;
}

/* Compile a tiny program through the real compile host with a small
 * budget: the optimizer must finish and set a result. */
static void behave_optimizer(const check_opts *o, pc_plugin *plugin,
                             const pc_optimizer_iface *t, const char *cfg,
                             const char *row)
{
  char dir[] = "/tmp/promptc-check-XXXXXX", why[CHECK_DETAIL_MAX] = "";
  char path[4096], cfg_path[4096], export_dir[4096];
  cli_run_opts ro;
  cli_session s;
  pc_dataset *ds = NULL;
  pc_metric *metric = NULL;
  pc_optimizer *opt = NULL;
  pc_registry one;
  pc_plugin *plugins[1] = {plugin};
  pc_compile_opts co;
  pc_compile_result res;
  struct json_object *settings = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc, made = 0;

  memset(&s, 0, sizeof(s));
  memset(&ro, 0, sizeof(ro));
  memset(&res, 0, sizeof(res));
  memset(&one, 0, sizeof(one));
  if (!mkdtemp(dir)) {
    check_ev_row("FAIL", row, "host: cannot make a temporary directory: %s",
                 strerror(errno));
    return;
  }
  made = 1;
  snprintf(path, sizeof(path), "%s/program.json", dir);
  snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
  snprintf(export_dir, sizeof(export_dir), "%s/export", dir);
  if (write_text(dir, "program.json", opt_program) ||
      write_text(dir, "train.jsonl", opt_train) ||
      write_opt_config(dir, why, sizeof(why))) {
    check_ev_row("FAIL", row, "host: cannot write the compile's files: %s",
                 why);
    goto out;
  }
  ro.config = o->sim_config ? o->sim_config : cfg_path;
  ro.no_cache = 1;
  ro.threads = OPT_THREADS;
  if (cli_session_open(path, &ro, &s)) {
    check_ev_row("SKIP", row,
                 "the sim LM, the chat adapter or its json fallback is "
                 "not in the plugin path (see stderr)");
    goto out;
  }
  snprintf(path, sizeof(path), "%s/train.jsonl", dir);
  if (cli_load_dataset(path, NULL, s.prog, 0, "train", &ds)) {
    check_ev_row("FAIL", row, "host: cannot load the sample data");
    goto out;
  }
  /* The metric is another plugin the host borrows, as the LM is: its
   * absence says nothing about the optimizer. */
  if (cli_open_metric("exact_match:answer", &s, "plugins check", &metric)) {
    check_ev_row("SKIP", row,
                 "the exact_match metric is not in the plugin path "
                 "(see stderr)");
    goto out;
  }
  one.plugins = plugins;
  one.n_plugins = 1;
  settings = json_tokener_parse(cfg);
  rc = pc_optimizer_open(&one, t->name, settings, &opt, &err);
  if (rc) {
    check_ev_row("SKIP", row,
                 "create %s refused (%d: %s): no settings to run "
                 "with (see --settings)",
                 cfg, rc, err.message);
    goto out;
  }
  memset(&co, 0, sizeof(co));
  co.rt = s.rt;
  co.cfg = s.cfg;
  co.program = s.prog;
  co.train = ds;
  co.val = ds;
  co.metric = metric;
  co.optimizer = opt;
  co.caps.max_calls = OPT_MAX_CALLS;
  co.caps.max_time_ms = (int64_t)o->timeout_s * 1000 / 2;
  co.export_dir = export_dir;
  rc = pc_compile_run(&co, &res, &err);
  if (rc == PC_E_INVALID_ARG && err.message[0]) {
    check_ev_row("SKIP", row,
                 "the tiny compile (6 examples) does not suit these "
                 "settings (see --settings): %s",
                 err.message);
    goto out;
  }
  if (rc) {
    check_ev_row("FAIL", row, "compile failed: code %d: %s", rc, err.message);
    goto out;
  }
  if (!res.state) {
    check_ev_row("FAIL", row,
                 "compile returned without set_result (%lld calls, "
                 "%lld requests)",
                 (long long)res.spent.calls, (long long)res.requests);
    goto out;
  }
  if (res.spent.calls > OPT_MAX_CALLS + OPT_IN_FLIGHT) {
    check_ev_row("FAIL", row,
                 "spent %lld calls, over the budget of %d (and the "
                 "%d calls that may be in flight at the cap)",
                 (long long)res.spent.calls, OPT_MAX_CALLS, OPT_IN_FLIGHT);
    goto out;
  }
  check_ev_row("PASS", row,
               "set a result after %lld LM calls, %lld requests, %lld "
               "trials (max_calls %d%s%s)",
               (long long)res.spent.calls, (long long)res.requests,
               (long long)res.trials, OPT_MAX_CALLS,
               res.stopped_by ? "; stopped by " : "",
               res.stopped_by ? res.stopped_by : "");
out:
  pc_compile_result_clear(&res);
  pc_optimizer_close(opt);
  json_object_put(settings);
  pc_metric_close(metric);
  pc_dataset_free(ds);
  cli_session_close(&s);
  if (made)
    remove_tree(dir);
}

/* A JSON value of the type `schema` (borrowed) asks for: "test", 1, true,
 * [] or {}, new and owned by the caller; NULL when out of memory. */
static struct json_object *sample_value(struct json_object *schema)
{
  const char *type = pc_json_str(schema, "type");

  if (!type)
    return json_object_new_string("test");
  if (!strcmp(type, "number") || !strcmp(type, "integer"))
    return json_object_new_int(1);
  if (!strcmp(type, "boolean"))
    return json_object_new_boolean(1);
  if (!strcmp(type, "array"))
    return json_object_new_array();
  if (!strcmp(type, "object"))
    return json_object_new_object();
  return json_object_new_string("test");
}

/* Call the tool once with arguments made from its schema: an observation
 * or a clean error. */
static void behave_tool(const pc_tool_iface *t, void *state,
                        const char *cfg, const char *row)
{
  const pc_host_api *host = pc_host_api_get();
  struct json_object *schema = json_tokener_parse(t->args_schema);
  struct json_object *args = json_object_new_object();
  pc_error err = PC_ERROR_INIT;
  pc_buf obs;
  pc_text_sink sink;
  pc_call call;
  const char *text;
  char why[160];
  void *inst = NULL;
  int rc;

  pc_buf_init(&obs, 0);
  sink = pc_host_buf_sink(&obs);
  if (!args || !json_object_is_type(schema, json_type_object)) {
    check_ev_row("FAIL", row, "args_schema is not a JSON object");
    goto out;
  }
  json_object_object_foreach(schema, key, val) {
    json_object_object_add(args, key, sample_value(val));
  }
  rc = t->create(state, cfg, strlen(cfg), &inst, &err);
  if (rc) {
    skip_create(row, cfg, rc, &err);
    goto out;
  }
  text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
  memset(&call, 0, sizeof(call));
  call.deadline_ns = host->now_ns(host->ctx) + 10ull * 1000000000ull;
  rc = t->call(inst, &call, text, strlen(text), &sink, &err);
  if (rc == PC_OK)
    check_ev_row("PASS", row, "args %s: observation of %zu bytes", text,
                 obs.len);
  else if (check_clean_error(rc, &err, why, sizeof(why)))
    check_ev_row("PASS", row, "args %s: a clean error (%d: %s)", text, rc,
                 err.message);
  else
    check_ev_row("FAIL", row, "args %s: %s", text, why);
out:
  if (inst)
    t->destroy(inst);
  pc_buf_free(&obs);
  json_object_put(schema);
  json_object_put(args);
}

/* Create a program module with "{}" and no sub-modules: success or a
 * clean error. */
static void behave_program(const pc_program_iface *t, void *state,
                           const char *cfg, const char *row)
{
  pc_error err = PC_ERROR_INIT;
  char why[160];
  void *inst = NULL;
  int rc;

  rc = t->create(state, cfg, strlen(cfg), "[]", 2, &inst, &err);
  if (rc == PC_OK) {
    t->destroy(inst);
    check_ev_row("PASS", row, "created with {} and no uses; destroyed");
  } else if (check_clean_error(rc, &err, why, sizeof(why))) {
    check_ev_row("PASS", row, "{} with no uses refused cleanly (%d: %s)", rc,
                 err.message);
  } else {
    check_ev_row("FAIL", row, "{} with no uses: %s", why);
  }
}

/* One behaviour child: table `index` of kind `ki`. */
void check_child_behave(const check_opts *o, size_t ki, uint32_t index,
                        const char *row)
{
  const check_kind *k = &check_kinds[ki];
  const char *cfg = o->settings ? o->settings : "{}";
  check_loaded l;
  const void *t;
  uint32_t size;
  char why[CHECK_DETAIL_MAX];

  check_ev_begin(row);
  if (check_load(o->path, &l, why, sizeof(why))) {
    check_ev_row("FAIL", row, "%s", why);
    return;
  }
  t = check_table_at(&l, k, index, &size);
  if (!t) {
    check_ev_row("FAIL", row, "the table is gone on a second load");
    return;
  }
  switch (k->bit) {
  case PC_KIND_ADAPTER:
    behave_adapter(t, l.state, cfg, row);
    break;
  case PC_KIND_LM_PROVIDER:
    behave_lm(o, t, l.state, row);
    break;
  case PC_KIND_METRIC:
    behave_metric(t, l.state, cfg, row);
    break;
  case PC_KIND_OPTIMIZER: {
    pc_plugin p;
    char *path = pc_strdup(o->path);

    memset(&p, 0, sizeof(p));
    p.path = path ? path : (char *)"";
    p.info = l.info;
    p.state = l.state;
    behave_optimizer(o, &p, t, cfg, row);
    pc_free(path);
    break;
  }
  case PC_KIND_TOOL:
    behave_tool(t, l.state, cfg, row);
    break;
  default:
    behave_program(t, l.state, cfg, row);
    break;
  }
  if (l.info->fini)
    l.info->fini(l.state);
}
