/*
 * cmd_pack.c - `promptc pack`: gather what a compile produced (the
 * compiled program, its run record, the plugins and models it used, its
 * data splits, an evaluation on held-out data) and write a signed,
 * reproducible artifact NAME-VERSION.ppa with NAME-VERSION.ppa.minisig.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "alloc.h"
#include "artifact.h"
#include "buf.h"
#include "cli.h"
#include "dataset.h"
#include "file.h"
#include "hash.h"
#include "json_text.h"
#include "metric.h"
#include "minisign.h"
#include "pack.h"
#include "program.h"
#include "runstore.h"
#include "runtime.h"

#define MAX_SECRETS 64

struct pack_args {
  const char *compiled, *run_id, *runs, *name, *version, *key, *test;
  const char *output;
  cli_run_opts ro;
  int progress, json;
};

static void pack_usage(FILE *f)
{
  fputs("usage: promptc pack COMPILED.json --run RUN_ID --name NAME\n"
        "                    --version X.Y.Z --key KEY.sec [--test FILE] "
        "-o DIR\n"
        "                    [--runs FILE] [--config FILE] [--threads N]\n"
        "                    [--cache PATH | --no-cache] [--json]\n\n"
        "Pack the program a compile wrote into DIR/NAME-X.Y.Z.ppa, a\n"
        "reproducible tar holding MANIFEST.json, program.json, the rendered\n"
        "prompts/, eval/report.json and provenance.json, and sign it with\n"
        "the minisign secret key KEY.sec into DIR/NAME-X.Y.Z.ppa.minisig.\n"
        "The run RUN_ID (from `promptc compile`) must be the one that wrote\n"
        "COMPILED.json; its program, config and data files must be\n"
        "unchanged. With --test, the original and the compiled program are\n"
        "both scored on the held-out FILE (overall and per slice, with 95%\n"
        "intervals) and the scores go into the artifact. Times in the\n"
        "artifact come from SOURCE_DATE_EPOCH (default 0): packing the same\n"
        "inputs twice gives the same bytes. An encrypted key asks for its\n"
        "password on the terminal, or reads it from stdin.\n\n"
        "      --run RUN_ID     the compile run (promptc history)\n"
        "      --runs FILE      the run store (default: "
        "$XDG_STATE_HOME/promptc/runs.sqlite)\n"
        "      --name NAME      artifact name: lower-case letters, digits, "
        ". _ -\n"
        "      --version X.Y.Z  artifact version (semantic versioning)\n"
        "      --key KEY.sec    minisign secret key (promptc keygen)\n"
        "      --test FILE      held-out split to score both programs on\n"
        "  -o, --output DIR     where to write the artifact (created if "
        "missing)\n"
        "  -c, --config FILE    the run configuration (default: the run's "
        "own)\n"
        "      --threads N, --cache PATH, --no-cache  as for eval\n"
        "      --no-progress    no live progress line\n"
        "      --json           print what was written as JSON\n", f);
}

enum {
  OPT_RUN = 2001, OPT_RUNS, OPT_NAME, OPT_VERSION, OPT_KEY, OPT_TEST,
  OPT_JSON, OPT_NO_PROGRESS
};

static int parse_args(int argc, char **argv, struct pack_args *a)
{
  static const struct option opts[] = {
    {"run", required_argument, NULL, OPT_RUN},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"name", required_argument, NULL, OPT_NAME},
    {"version", required_argument, NULL, OPT_VERSION},
    {"key", required_argument, NULL, OPT_KEY},
    {"test", required_argument, NULL, OPT_TEST},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    CLI_RUN_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c, r;

  memset(a, 0, sizeof(*a));
  a->progress = 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:c:a:h", opts, NULL)) != -1) {
    if ((r = cli_run_option(c, optarg, &a->ro)) != 0) {
      if (r < 0)
        return PC_EXIT_USAGE;
      continue;
    }
    switch (c) {
    case OPT_RUN: a->run_id = optarg; break;
    case OPT_RUNS: a->runs = optarg; break;
    case OPT_NAME: a->name = optarg; break;
    case OPT_VERSION: a->version = optarg; break;
    case OPT_KEY: a->key = optarg; break;
    case OPT_TEST: a->test = optarg; break;
    case 'o': a->output = optarg; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_NO_PROGRESS: a->progress = 0; break;
    case 'h': pack_usage(stdout); return -1;
    default: pack_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_error(optind >= argc ? "pack: no COMPILED.json given"
                             : "pack: one compiled program at a time");
    return PC_EXIT_USAGE;
  }
  a->compiled = argv[optind];
  if (!a->run_id || !a->name || !a->version || !a->key || !a->output) {
    cli_error("pack: --run, --name, --version, --key and -o are required");
    pack_usage(stderr);
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* ---- small JSON helpers ------------------------------------------------- */

static struct json_object *jcopy(const struct json_object *v)
{
  struct json_object *c = NULL;

  if (v)
    json_object_deep_copy((struct json_object *)v, &c, NULL);
  return c;
}

static void jput_str(struct json_object *o, const char *k, const char *v)
{
  json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* ---- the state of one pack ---------------------------------------------- */

struct ctx {
  struct pack_args a;
  pc_runstore *store;
  struct json_object *run, *spec, *result;
  cli_session s;
  pc_metric *metric;
  pc_dataset *train, *val, *test;
  pc_program *source;          /* the program the compile started from */
  pc_ms_seckey *key;
  struct json_object *plugins, *models, *splits, *evaluation, *report;
  struct json_object *prompts, *adapter, *metric_rec, *optimizer, *run_rec;
  char *secrets[MAX_SECRETS];
  size_t n_secrets;
  int64_t epoch;               /* SOURCE_DATE_EPOCH */
};

static void ctx_free(struct ctx *x)
{
  json_object_put(x->run);
  pc_runstore_close(x->store);
  pc_metric_close(x->metric);
  if (x->val != x->train)
    pc_dataset_free(x->val);
  pc_dataset_free(x->train);
  pc_dataset_free(x->test);
  pc_program_free(x->source);
  cli_session_close(&x->s);
  pc_ms_seckey_free(x->key);
  json_object_put(x->plugins);
  json_object_put(x->models);
  json_object_put(x->splits);
  json_object_put(x->evaluation);
  json_object_put(x->report);
  json_object_put(x->prompts);
  json_object_put(x->adapter);
  json_object_put(x->metric_rec);
  json_object_put(x->optimizer);
  json_object_put(x->run_rec);
  for (size_t i = 0; i < x->n_secrets; i++)
    pc_free(x->secrets[i]);
}

/* The run must be a finished compile that wrote exactly COMPILED.json. */
static int load_run(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;
  char *path = x->a.runs ? pc_strdup(x->a.runs) : pc_runstore_default_path();
  char hex[PC_SHA256_HEX_LEN + 1];
  const char *kind, *status, *want;

  if (!path) {
    cli_error("pack: no run store: set XDG_STATE_HOME or HOME, or give "
              "--runs FILE");
    return PC_EXIT_ENV;
  }
  if (pc_runstore_open(path, &x->store, &err)) {
    pc_free(path);
    return cli_fail(PC_EXIT_ENV, &err, "--runs");
  }
  pc_free(path);
  if (pc_runstore_get(x->store, x->a.run_id, &x->run, &err))
    return cli_fail(PC_EXIT_USAGE, &err, "--run");
  x->spec = pc_json_member(x->run, "spec");
  x->result = pc_json_member(x->run, "result");
  kind = pc_json_str(x->run, "kind");
  status = pc_json_str(x->run, "status");
  if (!kind || strcmp(kind, "compile") || !status ||
      (strcmp(status, "done") && strcmp(status, "stopped")) || !x->result) {
    cli_error("pack: run %s is a %s run with status %s; only a finished "
              "compile (done or stopped) can be packed", x->a.run_id,
              kind ? kind : "?", status ? status : "?");
    return PC_EXIT_USAGE;
  }
  if (pc_sha256_file(x->a.compiled, hex, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "pack");
  want = pc_json_str(x->result, "program_sha256");
  if (!want || strcmp(want, hex)) {
    cli_error("pack: %s is not the program run %s wrote (sha256 %.12s, "
              "the run wrote %.12s)", x->a.compiled, x->a.run_id, hex,
              want ? want : "(not recorded)");
    return PC_EXIT_INPUT;
  }
  return PC_EXIT_OK;
}

/* A file the run used must be unchanged: its sha256 as recorded. */
static int check_file(struct ctx *x, const char *what, const char *path)
{
  pc_error err = PC_ERROR_INIT;
  char hex[PC_SHA256_HEX_LEN + 1];
  const char *want = pc_json_str(pc_json_member(x->spec, "hashes"), what);

  if (!path || !want)
    return PC_EXIT_OK;
  if (pc_sha256_file(path, hex, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "pack");
  if (strcmp(hex, want)) {
    cli_error("pack: %s: the run's %s file changed since run %s (sha256 "
              "%.12s, recorded %.12s)", path, what, x->a.run_id, hex, want);
    return PC_EXIT_INPUT;
  }
  return PC_EXIT_OK;
}

static int load_key(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;
  char *pw = NULL;
  int enc = pc_ms_seckey_encrypted(x->a.key, &err), status;

  if (enc < 0)
    return cli_fail(PC_EXIT_INPUT, &err, "--key");
  if (enc && (status = cli_read_password("Password for the secret key: ", 0,
                                         &pw)))
    return status;
  status = pc_ms_seckey_load(x->a.key, pw, &x->key, &err)
             ? cli_fail(err.code == PC_E_AUTH ? PC_EXIT_FAIL : PC_EXIT_INPUT,
                        &err, "--key")
             : PC_EXIT_OK;
  cli_password_free(pw);
  return status;
}

/* The values of the config's "env:NAME" references, so the artifact can
 * be checked not to contain any of them. */
static void collect_secrets(struct ctx *x, const struct json_object *v)
{
  if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string((struct json_object *)v), *val;

    if (!strncmp(s, "env:", 4) && (val = getenv(s + 4)) && *val &&
        x->n_secrets < MAX_SECRETS &&
        (x->secrets[x->n_secrets] = pc_strdup(val)))
      x->n_secrets++;
  } else if (json_object_is_type(v, json_type_object)) {
    json_object_object_foreach((struct json_object *)v, k, c) {
      (void)k;
      collect_secrets(x, c);
    }
  } else if (json_object_is_type(v, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(v); i++)
      collect_secrets(x, json_object_array_get_idx(v, i));
  }
}

/* The compiled program was made for these models: the config must still
 * name them, or the artifact would record the wrong ones. */
static int check_models(struct ctx *x)
{
  const struct json_object *rec = pc_program_compile_record(x->s.prog);
  struct json_object *was = pc_json_member(rec, "models");
  struct json_object *now = pc_runtime_models(x->s.rt);

  if (!now) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  if (was) {
    json_object_object_foreach(was, role, r) {
      const char *a = pc_json_str(r, "identity"), *b = pc_json_str(pc_json_member(now, role),
                                                     "identity");

      if (!a || !b || strcmp(a, b)) {
        cli_error("pack: %s: compiled with %s, but the config gives %s "
                  "(model drift: pack with the config of the compile)",
                  role, a ? a : "?", b ? b : "(no such role)");
        json_object_put(now);
        return PC_AF_MODEL_DRIFT;
      }
    }
    x->models = jcopy(was);
    json_object_put(now);
  } else {
    x->models = now;
  }
  return x->models ? PC_EXIT_OK : PC_EXIT_ENV;
}

static int add_plugin(struct ctx *x, const char *role, const char *name,
                      const pc_plugin *p)
{
  struct json_object *o;

  for (size_t i = 0; i < json_object_array_length(x->plugins); i++) {
    const struct json_object *q = json_object_array_get_idx(x->plugins, i);

    if (!strcmp(pc_json_str(q, "role"), role) && !strcmp(pc_json_str(q, "id"),
                                                   p->info->id))
      return PC_EXIT_OK;
  }
  if (!(o = json_object_new_object()))
    return PC_EXIT_ENV;
  jput_str(o, "role", role);
  jput_str(o, "name", name);
  jput_str(o, "id", p->info->id);
  jput_str(o, "version", p->info->version);
  jput_str(o, "sha256", p->sha256);
  json_object_array_add(x->plugins, o);
  return PC_EXIT_OK;
}

static struct json_object *plugin_rec(const char *name, const pc_plugin *p)
{
  struct json_object *o = json_object_new_object();

  if (!o)
    return NULL;
  jput_str(o, "name", name);
  jput_str(o, "id", p ? p->info->id : NULL);
  jput_str(o, "version", p ? p->info->version : NULL);
  return o;
}

/* The predictor's adapter: its module's choice, else the runtime's. */
static const char *pred_adapter(const cli_session *s, const pc_predictor *p)
{
  struct json_object *a = NULL;
  const char *choice = NULL;

  if (p->config && json_object_object_get_ex(p->config, "adapter", &a) &&
      json_object_is_type(a, json_type_string))
    choice = json_object_get_string(a);
  return pc_runtime_adapter_name(s->rt, choice);
}

/* Every plugin the artifact needs, with the adapter, metric and
 * optimizer records of the manifest. */
static int gather_plugins(struct ctx *x)
{
  const struct json_object *rec = pc_program_compile_record(x->s.prog);
  const struct json_object *opt = pc_json_member(rec, "optimizer");
  const char *adapter = pc_runtime_adapter_name(x->s.rt, NULL);
  pc_plugin *p = NULL;

  if (!(x->plugins = json_object_new_array()))
    return PC_EXIT_ENV;
  json_object_object_foreach(x->models, role, m) {
    const char *id = pc_json_str(m, "plugin");
    const char *was = pc_json_str(m, "plugin_version");

    if (!id || !(p = pc_registry_find(x->s.reg, id)))
      continue;
    if (was && strcmp(was, p->info->version)) {
      cli_error("pack: the %s provider %s was %s at compile time and is %s "
                "now: pack where the compile ran", role, id, was,
                p->info->version);
      return PC_AF_PLUGINS;
    }
    /* Only the task LM runs the program; the other roles served the
     * compile and are recorded, not required. */
    if (add_plugin(x, strcmp(role, "lm") ? "compile_lm" : "lm",
                   pc_json_str(m, "provider"), p))
      return PC_EXIT_ENV;
  }
  for (size_t i = 0; i < pc_program_n_predictors(x->s.prog); i++) {
    const char *name = pred_adapter(&x->s,
                                    pc_program_predictor_at(x->s.prog, i));

    if (pc_registry_find_iface(x->s.reg, PC_IFACE_ADAPTER, name, 0, &p) &&
        add_plugin(x, "adapter", name, p))
      return PC_EXIT_ENV;
  }
  p = NULL;
  pc_registry_find_iface(x->s.reg, PC_IFACE_ADAPTER, adapter, 0, &p);
  x->adapter = plugin_rec(adapter, p);
  p = pc_registry_find(x->s.reg, pc_metric_plugin_id(x->metric));
  if (p && add_plugin(x, "metric", pc_metric_label(x->metric), p))
    return PC_EXIT_ENV;
  x->metric_rec = plugin_rec(pc_metric_label(x->metric), p);
  p = pc_json_str(opt, "id") ? pc_registry_find(x->s.reg,
                                               pc_json_str(opt, "id"))
                            : NULL;
  if (p && pc_json_str(opt, "version") &&
      strcmp(pc_json_str(opt, "version"), p->info->version)) {
    cli_error("pack: the optimizer %s was %s at compile time and is %s now: "
              "pack where the compile ran", p->info->id,
              pc_json_str(opt, "version"), p->info->version);
    return PC_AF_PLUGINS;
  }
  if (p && add_plugin(x, "optimizer", pc_json_str(opt, "name"), p))
    return PC_EXIT_ENV;
  if (!(x->optimizer = jcopy(opt)))
    x->optimizer = json_object_new_object();
  if (x->optimizer)
    json_object_object_add(x->optimizer, "seed",
                           json_object_get(pc_json_member(rec, "seed")));
  return x->adapter && x->metric_rec && x->optimizer ? PC_EXIT_OK
                                                     : PC_EXIT_ENV;
}

static int load_data(struct ctx *x)
{
  const char *inputs = pc_json_str(x->spec, "inputs");
  const char *train = pc_json_str(x->spec, "train"), *val = pc_json_str(x->spec, "val");
  int status;

  if (!train) {
    cli_error("pack: run %s records no train split", x->a.run_id);
    return PC_EXIT_INPUT;
  }
  if ((status = check_file(x, "train", train)) ||
      (status = check_file(x, "val", val)) ||
      (status = cli_load_dataset(train, inputs, x->s.prog, 0, "train",
                                 &x->train)))
    return status;
  if (!val)
    x->val = x->train;
  else if ((status = cli_load_dataset(val, inputs, x->s.prog, 0, "val",
                                      &x->val)))
    return status;
  if (x->a.test && (status = cli_load_dataset(x->a.test, inputs, x->s.prog,
                                              0, "--test", &x->test)))
    return status;
  return PC_EXIT_OK;
}

static struct json_object *split_rec(const pc_dataset *ds, const char *path)
{
  struct json_object *o = json_object_new_object();
  char file[PC_SHA256_HEX_LEN + 1], split[PC_SHA256_HEX_LEN + 1];
  pc_error err = PC_ERROR_INIT;

  if (!o || pc_sha256_file(path, file, &err) || pc_dataset_hash(ds, split)) {
    json_object_put(o);
    return NULL;
  }
  jput_str(o, "sha256", file);
  jput_str(o, "split_sha256", split);
  json_object_object_add(o, "n", json_object_new_int64((int64_t)ds->n_rows));
  json_object_object_add(o, "examples", cli_dataset_hashes(ds));
  return o;
}

static struct json_object *val_score(const struct json_object *rec)
{
  struct json_object *o = json_object_new_object(), *pct, *n;

  if (!o)
    return NULL;
  pct = pc_json_member(rec, "score");
  n = pc_json_member(rec, "n");
  json_object_object_add(o, "score", pct ? json_object_new_double(
                                             json_object_get_double(pct) /
                                             100.0) : NULL);
  json_object_object_add(o, "percent", json_object_get(pct));
  json_object_object_add(o, "n", json_object_get(n));
  return o;
}

/* Scores: the compile's own on val, and both programs on --test. */
static int evaluate(struct ctx *x)
{
  const struct json_object *rec = pc_program_compile_record(x->s.prog);
  struct json_object *val = json_object_new_object(), *test, *b = NULL;
  struct json_object *c = NULL;
  const char *src = pc_json_str(x->spec, "program");
  pc_error err = PC_ERROR_INIT;
  int status;

  x->splits = json_object_new_object();
  x->evaluation = json_object_new_object();
  x->report = json_object_new_object();
  if (!val || !x->splits || !x->evaluation || !x->report) {
    json_object_put(val);
    return PC_EXIT_ENV;
  }
  json_object_object_add(x->splits, "train",
                         split_rec(x->train, pc_json_str(x->spec, "train")));
  json_object_object_add(x->splits, "val", split_rec(x->val, pc_json_str(x->spec,
                           pc_json_str(x->spec, "val") ? "val" : "train")));
  jput_str(x->evaluation, "metric", pc_metric_label(x->metric));
  jput_str(x->report, "schema", "promptc.eval-report/1");
  jput_str(x->report, "metric", pc_metric_label(x->metric));
  json_object_object_add(x->report, "models", jcopy(x->models));
  /* The compile measured both on val, as DSPy percentages. */
  /* The compile measured both on val as DSPy percentages; the manifest
   * gives means in [0, 1] like the test scores, and the percentage. */
  json_object_object_add(val, "baseline",
                         val_score(pc_json_member(rec, "baseline")));
  json_object_object_add(val, "compiled",
                         val_score(pc_json_member(rec, "compiled")));

  json_object_object_add(x->evaluation, "val", val);
  json_object_object_add(x->report, "val", jcopy(val));
  if (!x->test)
    return PC_EXIT_OK;
  if (!src || (status = check_file(x, "program", src)))
    return src ? status : PC_EXIT_INPUT;
  if (pc_program_load(src, &x->source, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "pack: the run's program");
  json_object_object_add(x->splits, "test", split_rec(x->test, x->a.test));
  if ((status = cli_score(&x->s, x->source, x->test, x->metric,
                          x->a.progress, "pack: baseline on --test", &b)) ||
      (status = cli_score(&x->s, x->s.prog, x->test, x->metric,
                          x->a.progress, "pack: compiled on --test", &c))) {
    json_object_put(b);
    return status;
  }
  test = json_object_new_object();
  if (!test) {
    json_object_put(b);
    json_object_put(c);
    return PC_EXIT_ENV;
  }
  json_object_object_add(test, "baseline", b);
  json_object_object_add(test, "compiled", c);
  json_object_object_add(x->report, "test", test);
  /* The manifest keeps the scores; the report adds the error counts. */
  test = jcopy(test);
  if (test) {
    json_object_object_del(pc_json_member(test, "baseline"), "errors");
    json_object_object_del(pc_json_member(test, "compiled"), "errors");
  }
  json_object_object_add(x->evaluation, "test", test);
  return test ? PC_EXIT_OK : PC_EXIT_ENV;
}

/* The messages each predictor sends, inputs shown as {name}. */
static int render_prompts(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;

  if (!(x->prompts = json_object_new_object()))
    return PC_EXIT_ENV;
  for (size_t i = 0; i < pc_program_n_predictors(x->s.prog); i++) {
    const pc_predictor *p = pc_program_predictor_at(x->s.prog, i);
    struct json_object *in = json_object_new_object();
    pc_adapter *ad = NULL;
    pc_messages msgs = {0};
    pc_buf b;
    int rc;

    pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
    for (size_t k = 0; in && k < p->signature->n_inputs; k++) {
      pc_buf_reset(&b);
      pc_buf_printf(&b, "{%s}", p->signature->inputs[k].name);
      json_object_object_add(in, p->signature->inputs[k].name,
                             json_object_new_string(b.data ? b.data : ""));
    }
    pc_buf_reset(&b);
    rc = !in ||
         pc_adapter_open(x->s.reg, pred_adapter(&x->s, p), NULL, &ad, &err)
         || pc_adapter_format(ad, p->signature, p->demos, in, &msgs, &err);
    for (size_t k = 0; !rc && k < msgs.n; k++) {
      const char *role = msgs.items[k].role;

      pc_buf_printf(&b, "%s==== %s message ====\n\n", k ? "\n\n" : "",
                    role);
      pc_buf_append(&b, msgs.items[k].content, msgs.items[k].len);
      pc_buf_putc(&b, '\n');
    }
    if (!rc && p->knn_pool)
      pc_buf_puts(&b, "\n(plus demos chosen per input from the predictor's "
                  "KNN pool, in program.json)\n");
    if (!rc)
      json_object_object_add(x->prompts, p->path, json_object_new_string(
                               b.data ? b.data : ""));
    pc_messages_clear(&msgs);
    pc_adapter_close(ad);
    json_object_put(in);
    pc_buf_free(&b);
    if (rc)
      return cli_fail(PC_EXIT_ENV, &err, "pack: rendering prompts");
  }
  return PC_EXIT_OK;
}

static int run_record(struct ctx *x)
{
  if (!(x->run_rec = json_object_new_object()))
    return PC_EXIT_ENV;
  jput_str(x->run_rec, "id", x->a.run_id);
  jput_str(x->run_rec, "status", pc_json_str(x->run, "status"));
  jput_str(x->run_rec, "stopped_by", pc_json_str(x->result, "stopped_by"));
  json_object_object_add(x->run_rec, "hashes",
                         jcopy(pc_json_member(x->spec, "hashes")));
  json_object_object_add(x->run_rec, "budget", jcopy(pc_json_member(x->spec, "caps")));
  json_object_object_add(x->run_rec, "usage",
                         jcopy(pc_json_member(x->result, "usage")));
  return PC_EXIT_OK;
}

/* SOURCE_DATE_EPOCH: decimal seconds; unset or empty is 0. */
static int epoch(int64_t *out)
{
  const char *s = getenv("SOURCE_DATE_EPOCH");
  char *end;
  long long v;

  *out = 0;
  if (!s || !*s)
    return PC_EXIT_OK;
  errno = 0;
  v = strtoll(s, &end, 10);
  /* 8^11 - 1: the largest mtime a ustar header holds. */
  if (errno || *end || v < 0 || v > 8589934591LL) {
    cli_error("pack: SOURCE_DATE_EPOCH=%s: expected seconds since 1970, at "
              "most 8589934591", s);
    return PC_EXIT_USAGE;
  }
  *out = v;
  return PC_EXIT_OK;
}

static int write_out(struct ctx *x, struct json_object **done)
{
  pc_pack_inputs in;
  pc_error err = PC_ERROR_INIT;
  pc_buf ppa, path;
  struct json_object *prog_json = pc_program_to_json(x->s.prog);
  char *sig = NULL, stem[160], hex[PC_SHA256_HEX_LEN + 1];
  char kid[PC_MS_KEYID_HEX_LEN + 1];
  size_t sig_len = 0, stem_len;
  pc_ms_pubkey pub;
  int status = PC_EXIT_OK;

  *done = NULL;
  memset(&in, 0, sizeof(in));
  in.name = x->a.name;
  in.version = x->a.version;
  in.epoch = x->epoch;
  in.program = prog_json;
  in.prompts = x->prompts;
  in.report = x->report;
  in.plugins = x->plugins;
  in.models = x->models;
  in.adapter = x->adapter;
  in.metric = x->metric_rec;
  in.optimizer = x->optimizer;
  in.splits = x->splits;
  in.evaluation = x->evaluation;
  in.run = x->run_rec;
  in.key = x->key;
  in.secrets = (const char *const *)x->secrets;
  in.n_secrets = x->n_secrets;
  pc_buf_init(&ppa, PC_ARTIFACT_MAX);
  pc_buf_init(&path, 8192);
  if (!prog_json || pc_pack(&in, &ppa, &sig, &sig_len, NULL, &err)) {
    status = prog_json ? cli_fail(err.code == PC_E_NOMEM ? PC_EXIT_ENV
                                                          : PC_EXIT_INPUT,
                                  &err, "pack")
                       : PC_EXIT_ENV;
    goto out;
  }
  pc_artifact_stem(x->a.name, x->a.version, stem, sizeof(stem), &err);
  if (pc_file_mkdirs(x->a.output, 0755, &err)) {
    status = cli_fail(PC_EXIT_ENV, &err, "pack: -o");
    goto out;
  }
  pc_buf_printf(&path, "%s/%s.ppa", x->a.output, stem);
  stem_len = path.len;
  if (pc_file_write_atomic(path.data, ppa.data, ppa.len, &err)) {
    status = cli_fail(PC_EXIT_ENV, &err, "pack");
    goto out;
  }
  pc_buf_puts(&path, ".minisig");
  if (pc_file_write_atomic(path.data, sig, sig_len, &err)) {
    status = cli_fail(PC_EXIT_ENV, &err, "pack");
    goto out;
  }
  pc_sha256_hex(ppa.data, ppa.len, hex);
  pc_ms_seckey_public(x->key, &pub);
  pc_ms_keyid_hex(pub.keyid, kid);
  if ((*done = json_object_new_object())) {
    path.data[stem_len] = '\0';
    jput_str(*done, "artifact", path.data);
    path.data[stem_len] = '.';
    jput_str(*done, "signature", path.data);
    jput_str(*done, "sha256", hex);
    json_object_object_add(*done, "size", json_object_new_int64(
                                            (int64_t)ppa.len));
    jput_str(*done, "key_id", kid);
    json_object_object_add(*done, "evaluation", jcopy(x->evaluation));
  }
out:
  json_object_put(prog_json);
  pc_free(sig);
  pc_buf_free(&ppa);
  pc_buf_free(&path);
  return status;
}

static void print_done(const struct json_object *d)
{
  struct json_object *t = pc_json_member(pc_json_member(d, "evaluation"), "test");

  printf("artifact  %s\n", pc_json_str(d, "artifact"));
  printf("sha256    %s (%lld bytes)\n", pc_json_str(d, "sha256"),
         (long long)json_object_get_int64(pc_json_member(d, "size")));
  printf("signed    key %s -> %s\n", pc_json_str(d, "key_id"), pc_json_str(d, "signature"));
  if (t)
    printf("test      baseline %.4f, compiled %.4f (%lld examples)\n",
           json_object_get_double(pc_json_member(pc_json_member(t, "baseline"), "score")),
           json_object_get_double(pc_json_member(pc_json_member(t, "compiled"), "score")),
           (long long)json_object_get_int64(pc_json_member(pc_json_member(t, "compiled"),
                                                 "evaluated")));
}

int cmd_pack(int argc, char **argv)
{
  struct ctx x;
  struct json_object *done = NULL;
  pc_error err = PC_ERROR_INIT;
  char stem[160];
  int status;

  memset(&x, 0, sizeof(x));
  status = parse_args(argc, argv, &x.a);
  if (status != PC_EXIT_OK)
    return status < 0 ? PC_EXIT_OK : status;
  if (pc_artifact_stem(x.a.name, x.a.version, stem, sizeof(stem), &err))
    return cli_fail(PC_EXIT_USAGE, &err, "pack");
  if ((status = epoch(&x.epoch)))
    return status;
  if ((status = load_run(&x)))
    goto out;
  if (!x.a.ro.config) {
    x.a.ro.config = pc_json_str(x.spec, "config");
    if ((status = check_file(&x, "config", x.a.ro.config)))
      goto out;
  }
  if ((status = load_key(&x)) ||
      (status = cli_session_open(x.a.compiled, &x.a.ro, &x.s)))
    goto out;
  if (!pc_program_compile_record(x.s.prog)) {
    cli_error("pack: %s has no compile record: pack the program `promptc "
              "compile` wrote", x.a.compiled);
    status = PC_EXIT_INPUT;
    goto out;
  }
  collect_secrets(&x, x.s.cfg->root);
  if ((status = check_models(&x)) ||
      (status = cli_open_metric(pc_json_str(x.spec, "metric"), &x.s, "pack",
                                &x.metric)) ||
      (status = gather_plugins(&x)) || (status = load_data(&x)) ||
      (status = evaluate(&x)) || (status = render_prompts(&x)) ||
      (status = run_record(&x)) || (status = write_out(&x, &done)))
    goto out;
  if (x.a.json)
    status = cli_print_json(stdout, done);
  else
    print_done(done);
out:
  json_object_put(done);
  ctx_free(&x);
  return status;
}
