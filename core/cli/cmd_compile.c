/* cmd_compile.c - `promptc compile`: run an optimizer on a program with a
 * metric and examples, print baseline and compiled validation scores and
 * what was spent, and write the compiled program. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "compile.h"
#include "dataset.h"
#include "eval.h"
#include "file.h"
#include "hash.h"
#include "host.h"
#include "json_text.h"
#include "metric.h"
#include "optimizer.h"
#include "pricing.h"
#include "program.h"
#include "report.h"
#include "runstore.h"
#include "runtime.h"

static void compile_usage(FILE *f)
{
  fputs("usage: promptc compile PROGRAM.json --config CONFIG.json "
        "--train FILE\n"
        "                       [--val FILE] [--optimizer NAME] "
        "[--set KEY=VALUE ...]\n"
        "                       [--seed N] [--max-calls N] [--max-tokens N] "
        "[--max-cost USD]\n"
        "                       [--max-time SECONDS] [--dry-run] "
        "[--run-id ID] [--runs FILE]\n"
        "                       [--json] [--no-progress] [--threads N] "
        "[--cache PATH | --no-cache]\n"
        "                       [--report PREFIX | --no-report] "
        "-o COMPILED.json\n"
        "       promptc compile --resume RUN_ID [--runs FILE] [--threads N] "
        "[--json] ...\n\n"
        "Search the instructions and demos of PROGRAM's predictors that "
        "score best\nwith the metric, using an optimizer plugin, and write "
        "the compiled program.\nPrints the baseline and compiled scores on "
        "the validation set (DSPy's\npercentages) and the LM calls, tokens, "
        "cost and time spent.\n\n"
        "options:\n"
        "  -t, --train FILE     the examples the optimizer learns from "
        "(JSONL or CSV)\n"
        "  -V, --val FILE       the validation examples (default: the train "
        "set, as DSPy)\n"
        "  -I, --inputs KEYS    example keys given to the program (default: "
        "its inputs)\n"
        "  -m, --metric M       NAME or NAME:FIELD (default: the config's "
        "\"metric\")\n"
        "  -O, --optimizer NAME the optimizer (default: the config's "
        "optimizer.name)\n"
        "  -s, --set KEY=VALUE  an optimizer setting (VALUE is JSON, or else "
        "a string);\n"
        "                       over the config's optimizer.settings\n"
        "      --seed N         the seed (default: the optimizer's, else "
        "the config's, else 0)\n"
        "      --max-calls N    stop at N LM calls (cache hits included)\n"
        "      --max-tokens N   stop at N paid tokens\n"
        "      --max-cost USD   stop at this many dollars (needs prices in "
        "the config)\n"
        "      --max-time S     stop after S seconds\n"
        "      --dry-run        print the optimizer's estimate of LM and "
        "metric calls;\n"
        "                       spend nothing\n"
        "      --run-id ID      name the run (default: a new id, printed)\n"
        "      --resume ID      continue run ID where it stopped, with its "
        "own arguments\n"
        "      --runs FILE      the run store (default: "
        "$XDG_STATE_HOME/promptc/runs.sqlite)\n"
        "  -o, --output FILE    where to write the compiled program\n"
        "      --report PREFIX  write the report as PREFIX.report.json and "
        "PREFIX.report.html\n"
        "                       (default: FILE without \".json\"; "
        "docs/reports.md)\n"
        "      --no-report      write no report\n"
        "      --json           print the summary as JSON\n"
        "      --no-progress    no live progress line on a terminal\n"
        CLI_RUN_OPTIONS_HELP
        "  -h, --help           show this help\n\n"
        "Exit status: 0 done (also when a budget cap stopped the search), "
        "1 the\noptimizer or an evaluation failed, 2 usage, 3 bad input "
        "files, 4 plugin or\nenvironment problem, 5 the baseline evaluation "
        "stopped at max_errors,\n6 interrupted (resume with --resume).\n", f);
}

#define OPT_SEED 3001
#define OPT_MAX_CALLS 3002
#define OPT_MAX_TOKENS 3003
#define OPT_MAX_COST 3004
#define OPT_MAX_TIME 3005
#define OPT_DRY_RUN 3006
#define OPT_RUN_ID 3007
#define OPT_RESUME 3008
#define OPT_RUNS 3009
#define OPT_JSON 3010
#define OPT_NO_PROGRESS 3011
#define OPT_REPORT 3012
#define OPT_NO_REPORT 3013

#define MAX_SETS 64

struct compile_args {
  cli_run_opts ro;
  const char *program, *train, *val, *inputs, *metric, *optimizer;
  const char *output, *run_id, *resume, *runs;
  const char *report;  /* --report PREFIX, or NULL */
  const char *sets[MAX_SETS];
  size_t n_sets;
  int has_seed;
  uint64_t seed;
  pc_budget_caps caps;
  int dry_run, json, progress;
  int no_report;
  int given_other;  /* an option that --resume does not take */
};

static int parse_ll(const char *opt, const char *arg, long long min,
                    long long *out)
{
  char *end;

  *out = strtoll(arg, &end, 10);
  if (!*arg || *end || *out < min) {
    cli_error("%s: expected an integer >= %lld, got '%s'", opt, min, arg);
    return -1;
  }
  return 0;
}

static int parse_pos(const char *opt, const char *arg, double *out)
{
  char *end;

  *out = strtod(arg, &end);
  if (!*arg || *end || !(*out > 0) || isinf(*out)) {
    cli_error("%s: expected a number > 0, got '%s'", opt, arg);
    return -1;
  }
  return 0;
}

static int parse_args(int argc, char **argv, struct compile_args *a)
{
  static const struct option opts[] = {
    {"train", required_argument, NULL, 't'},
    {"val", required_argument, NULL, 'V'},
    {"inputs", required_argument, NULL, 'I'},
    {"metric", required_argument, NULL, 'm'},
    {"optimizer", required_argument, NULL, 'O'},
    {"set", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'o'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-calls", required_argument, NULL, OPT_MAX_CALLS},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"max-cost", required_argument, NULL, OPT_MAX_COST},
    {"max-time", required_argument, NULL, OPT_MAX_TIME},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"report", required_argument, NULL, OPT_REPORT},
    {"no-report", no_argument, NULL, OPT_NO_REPORT},
    {"help", no_argument, NULL, 'h'},
    CLI_RUN_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
  };
  long long n;
  double d;
  int c;

  a->progress = 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "t:V:I:m:O:s:o:c:a:h", opts, NULL))
         != -1) {
    int r;

    if (c == CLI_OPT_CONFIG || c == CLI_OPT_ADAPTER)
      a->given_other = 1;
    r = cli_run_option(c, optarg, &a->ro);
    if (r < 0)
      return PC_EXIT_USAGE;
    if (r > 0)
      continue;
    switch (c) {
    case 't': a->train = optarg; a->given_other = 1; break;
    case 'V': a->val = optarg; a->given_other = 1; break;
    case 'I': a->inputs = optarg; a->given_other = 1; break;
    case 'm': a->metric = optarg; a->given_other = 1; break;
    case 'O': a->optimizer = optarg; a->given_other = 1; break;
    case 'o': a->output = optarg; a->given_other = 1; break;
    case 's':
      if (a->n_sets == MAX_SETS) {
        cli_error("--set: at most %d settings", MAX_SETS);
        return PC_EXIT_USAGE;
      }
      a->sets[a->n_sets++] = optarg;
      a->given_other = 1;
      break;
    case OPT_SEED:
      if (parse_ll("--seed", optarg, 0, &n))
        return PC_EXIT_USAGE;
      a->has_seed = 1;
      a->seed = (uint64_t)n;
      a->given_other = 1;
      break;
    case OPT_MAX_CALLS:
      if (parse_ll("--max-calls", optarg, 1, &n))
        return PC_EXIT_USAGE;
      a->caps.max_calls = n;
      a->given_other = 1;
      break;
    case OPT_MAX_TOKENS:
      if (parse_ll("--max-tokens", optarg, 1, &n))
        return PC_EXIT_USAGE;
      a->caps.max_tokens = n;
      a->given_other = 1;
      break;
    case OPT_MAX_COST:
      if (parse_pos("--max-cost", optarg, &d))
        return PC_EXIT_USAGE;
      a->caps.max_cost = d;
      a->given_other = 1;
      break;
    case OPT_MAX_TIME:
      if (parse_pos("--max-time", optarg, &d))
        return PC_EXIT_USAGE;
      a->caps.max_time_ms = (int64_t)(d * 1000.0);
      a->given_other = 1;
      break;
    case OPT_DRY_RUN: a->dry_run = 1; a->given_other = 1; break;
    case OPT_RUN_ID: a->run_id = optarg; a->given_other = 1; break;
    case OPT_RESUME: a->resume = optarg; break;
    case OPT_RUNS: a->runs = optarg; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_NO_PROGRESS: a->progress = 0; break;
    case OPT_REPORT:
      if (!*optarg) {
        cli_error("--report: expected a path prefix, got ''");
        return PC_EXIT_USAGE;
      }
      a->report = optarg;
      break;
    case OPT_NO_REPORT: a->no_report = 1; break;
    case 'h': compile_usage(stdout); return -1;
    default: compile_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (a->report && a->no_report) {
    cli_error("compile: --report and --no-report exclude each other");
    return PC_EXIT_USAGE;
  }
  if (a->resume) {
    if (a->given_other || optind != argc) {
      cli_error("compile: --resume takes the run's own program, data, "
                "config and settings; only --runs, --threads, --cache, "
                "--no-cache, --json, --no-progress, --report and "
                "--no-report may be given with it");
      return PC_EXIT_USAGE;
    }
    if (!pc_runstore_valid_id(a->resume)) {
      cli_error("--resume: '%s' is not a run id", a->resume);
      return PC_EXIT_USAGE;
    }
    return PC_EXIT_OK;
  }
  if (optind != argc - 1) {
    cli_error(optind >= argc ? "compile: no PROGRAM.json given"
                             : "compile: one PROGRAM.json expected");
    compile_usage(stderr);
    return PC_EXIT_USAGE;
  }
  a->program = argv[optind];
  if (!a->ro.config) {
    cli_error("compile: --config is required (the LM roles and metric)");
    return PC_EXIT_USAGE;
  }
  if (!a->train) {
    cli_error("compile: --train is required (a JSONL or CSV file of "
              "examples)");
    return PC_EXIT_USAGE;
  }
  if (!a->output && !a->dry_run) {
    cli_error("compile: -o COMPILED.json is required");
    return PC_EXIT_USAGE;
  }
  if (a->run_id && !pc_runstore_valid_id(a->run_id)) {
    cli_error("--run-id: '%s' is not a valid id (letters, digits, '.', "
              "'_', '-'; at most 63)", a->run_id);
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* ---- the settings ------------------------------------------------------- */

/* The config's optimizer.settings with every --set applied over it. */
static int merge_settings(const struct compile_args *a, const pc_config *cfg,
                          struct json_object **out)
{
  struct json_object *s = NULL;

  *out = NULL;
  if (cfg->optimizer_settings) {
    if (json_object_deep_copy(cfg->optimizer_settings, &s, NULL) != 0)
      s = NULL;
  } else {
    s = json_object_new_object();
  }
  if (!s) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  for (size_t i = 0; i < a->n_sets; i++) {
    const char *eq = strchr(a->sets[i], '=');
    struct json_object *v = NULL;
    pc_error perr = PC_ERROR_INIT;
    char *key;

    if (!eq || eq == a->sets[i]) {
      cli_error("--set: expected KEY=VALUE, got '%s'", a->sets[i]);
      json_object_put(s);
      return PC_EXIT_USAGE;
    }
    /* VALUE is JSON when it parses (4, true, [1,2], "x"), else a string. */
    if (pc_json_parse(eq + 1, strlen(eq + 1), PC_JSON_PARSE_STRICT, &v,
                      &perr) != PC_OK)
      v = json_object_new_string(eq + 1);
    key = pc_strndup(a->sets[i], (size_t)(eq - a->sets[i]));
    if (!key || json_object_object_add(s, key, v) != 0) {
      pc_free(key);
      json_object_put(s);
      cli_error("out of memory");
      return PC_EXIT_ENV;
    }
    pc_free(key);
  }
  *out = s;
  return PC_EXIT_OK;
}

/* ---- the run's spec (for --resume) -------------------------------------- */

static char *abs_path(const char *path)
{
  char buf[PATH_MAX];

  if (!path)
    return NULL;
  if (realpath(path, buf))
    return pc_strdup(buf);
  if (path[0] == '/' || !getcwd(buf, sizeof(buf)))
    return pc_strdup(path);
  {
    pc_buf b;

    pc_buf_init(&b, 0);
    if (pc_buf_printf(&b, "%s/%s", buf, path)) {
      pc_buf_free(&b);
      return NULL;
    }
    return pc_buf_take(&b, NULL);
  }
}

static int put_str(struct json_object *o, const char *k, const char *v)
{
  if (!v)
    return json_object_object_add(o, k, NULL);
  return json_object_object_add(o, k, json_object_new_string(v));
}

static int put_abs(struct json_object *o, const char *k, const char *path)
{
  char *p = abs_path(path);
  int rc = (path && !p) ? -1 : put_str(o, k, p);

  pc_free(p);
  return rc;
}

/* What a resumed run needs to ask the same questions: every argument that
 * shapes the search, with the digests of the files it read. */
static struct json_object *run_spec(const struct compile_args *a,
                                    const struct json_object *settings,
                                    const char *const hashes[4])
{
  struct json_object *o = json_object_new_object(), *h, *caps, *st = NULL;

  if (!o || json_object_deep_copy((struct json_object *)settings, &st, NULL))
    goto fail;
  h = json_object_new_object();
  caps = json_object_new_object();
  json_object_object_add(o, "hashes", h);
  json_object_object_add(o, "caps", caps);
  json_object_object_add(o, "settings", st);
  if (!h || !caps ||
      put_abs(o, "program", a->program) || put_abs(o, "config", a->ro.config)
      || put_abs(o, "train", a->train) || put_abs(o, "val", a->val) ||
      put_abs(o, "output", a->output) || put_abs(o, "report", a->report) ||
      json_object_object_add(o, "no_report",
                             json_object_new_boolean(a->no_report)) ||
      put_str(o, "inputs", a->inputs) ||
      put_str(o, "metric", a->metric) ||
      put_str(o, "optimizer", a->optimizer) ||
      put_str(o, "adapter", a->ro.adapter) ||
      put_abs(o, "cache", a->ro.cache) ||
      json_object_object_add(o, "no_cache",
                             json_object_new_boolean(a->ro.no_cache)) ||
      json_object_object_add(o, "threads",
                             json_object_new_int(a->ro.threads)) ||
      json_object_object_add(o, "seed", a->has_seed
                               ? json_object_new_int64((int64_t)a->seed)
                               : NULL) ||
      put_str(h, "program", hashes[0]) || put_str(h, "config", hashes[1]) ||
      put_str(h, "train", hashes[2]) || put_str(h, "val", hashes[3]) ||
      json_object_object_add(caps, "max_calls",
                             json_object_new_int64(a->caps.max_calls)) ||
      json_object_object_add(caps, "max_tokens",
                             json_object_new_int64(a->caps.max_tokens)) ||
      json_object_object_add(caps, "max_cost",
                             json_object_new_double(a->caps.max_cost)) ||
      json_object_object_add(caps, "max_time_ms",
                             json_object_new_int64(a->caps.max_time_ms)))
    goto fail;
  return o;
fail:
  json_object_put(o);
  return NULL;
}

/* Fill the arguments from a stored run; the strings stay borrowed from
 * `run`. `settings` gets the stored settings (borrowed). */
static int args_from_run(struct json_object *run, struct compile_args *a,
                         struct json_object **settings)
{
  struct json_object *spec, *caps, *v;

  if (!json_object_object_get_ex(run, "spec", &spec) ||
      !json_object_object_get_ex(spec, "caps", &caps) ||
      !json_object_object_get_ex(spec, "settings", settings)) {
    cli_error("--resume: run %s has no compile arguments recorded",
              a->resume);
    return PC_EXIT_INPUT;
  }
  a->program = pc_json_str(spec, "program");
  a->ro.config = pc_json_str(spec, "config");
  a->train = pc_json_str(spec, "train");
  a->val = pc_json_str(spec, "val");
  a->output = pc_json_str(spec, "output");
  a->inputs = pc_json_str(spec, "inputs");
  a->metric = pc_json_str(spec, "metric");
  a->optimizer = pc_json_str(spec, "optimizer");
  a->ro.adapter = pc_json_str(spec, "adapter");
  /* The report as first asked for, unless asked again. */
  if (!a->report && !a->no_report) {
    a->report = pc_json_str(spec, "report");
    if (json_object_object_get_ex(spec, "no_report", &v))
      a->no_report = json_object_get_boolean(v);
  }
  /* The cache and thread count as first given, unless given again: the
   * same cache is what lets the in-flight request's calls be reused. */
  if (!a->ro.cache && !a->ro.no_cache) {
    a->ro.cache = pc_json_str(spec, "cache");
    if (json_object_object_get_ex(spec, "no_cache", &v))
      a->ro.no_cache = json_object_get_boolean(v);
  }
  if (!a->ro.threads && json_object_object_get_ex(spec, "threads", &v))
    a->ro.threads = json_object_get_int(v);
  if (json_object_object_get_ex(spec, "seed", &v) && v) {
    a->has_seed = 1;
    a->seed = (uint64_t)json_object_get_int64(v);
  }
  if (json_object_object_get_ex(caps, "max_calls", &v))
    a->caps.max_calls = json_object_get_int64(v);
  if (json_object_object_get_ex(caps, "max_tokens", &v))
    a->caps.max_tokens = json_object_get_int64(v);
  if (json_object_object_get_ex(caps, "max_cost", &v))
    a->caps.max_cost = json_object_get_double(v);
  if (json_object_object_get_ex(caps, "max_time_ms", &v))
    a->caps.max_time_ms = json_object_get_int64(v);
  a->run_id = a->resume;
  if (!a->program || !a->ro.config || !a->train || !a->output) {
    cli_error("--resume: run %s lacks its program, config, train or output "
              "path", a->resume);
    return PC_EXIT_INPUT;
  }
  return PC_EXIT_OK;
}

/* The digests of the four input files; a resumed run refuses files that
 * changed since. */
static int file_hashes(const struct compile_args *a,
                       char hex[4][PC_SHA256_HEX_LEN + 1])
{
  const char *paths[4] = {a->program, a->ro.config, a->train, a->val};
  pc_error err = PC_ERROR_INIT;

  for (int i = 0; i < 4; i++) {
    hex[i][0] = '\0';
    if (paths[i] && pc_sha256_file(paths[i], hex[i], &err))
      return cli_fail(PC_EXIT_INPUT, &err, "compile");
  }
  return PC_EXIT_OK;
}

static int check_hashes(const struct json_object *run, const char *id,
                        char hex[4][PC_SHA256_HEX_LEN + 1])
{
  static const char *const names[4] = {"program", "config", "train", "val"};
  struct json_object *spec, *h;

  if (!json_object_object_get_ex(run, "spec", &spec) ||
      !json_object_object_get_ex(spec, "hashes", &h))
    return PC_EXIT_INPUT;
  for (int i = 0; i < 4; i++) {
    const char *want = pc_json_str(h, names[i]);

    if (want && strcmp(want, hex[i])) {
      cli_error("--resume: run %s: the %s file changed since the run "
                "started (sha256 %.12s, now %.12s); start a new compile",
                id, names[i], want, hex[i]);
      return PC_EXIT_INPUT;
    }
  }
  return PC_EXIT_OK;
}

/* ---- progress and interruption ----------------------------------------- */

/* Ctrl-C: every call in flight stops, the optimizer gets
 * PC_E_CANCELLED, and the run can be resumed. */
static void on_sigint(int sig)
{
  (void)sig;
  pc_host_cancel_all();
}

/* The pc_compile_opts.progress callback (ctx is the cli_progress). */
static void compile_progress(void *ctx, const pc_compile_progress *p)
{
  cli_progress *l = ctx;
  double elapsed = (double)p->spent.elapsed_ms / 1000.0, eta = 0;
  char best[32], cost[32];

  if (!l->enabled)
    return;
  if (p->of > 0 && p->trial > 0)
    eta = elapsed / (double)p->trial * (double)(p->of - p->trial);
  if (isnan(p->best))
    snprintf(best, sizeof(best), "-");
  else
    snprintf(best, sizeof(best), "%.2f", p->best);
  if (isnan(p->spent.cost))
    snprintf(cost, sizeof(cost), "unknown");
  else
    snprintf(cost, sizeof(cost), "$%.4f", p->spent.cost);
  fprintf(stderr, "\r\033[Ktrial %lld/%lld  best %s  calls %lld  cost %s  "
          "ETA %.0fs", (long long)p->trial, (long long)p->of, best,
          (long long)p->spent.calls, cost, eta);
  fflush(stderr);
  l->shown = 1;
}

/* ---- evaluation on val ------------------------------------------------- */

/* Score `prog` on the val split. Prints and returns an exit status; on
 * PC_EXIT_OK *pct is DSPy's percentage and *n the examples scored. */
static int score_val(const cli_session *s, const pc_program *prog,
                     const pc_dataset *val, pc_metric *metric,
                     const char *what, double *pct, size_t *n)
{
  pc_eval_opts eo;
  pc_eval_result *r = NULL;
  pc_error err = PC_ERROR_INIT;

  memset(&eo, 0, sizeof(eo));
  eo.max_errors = s->cfg->max_errors;
  eo.failure_score = s->cfg->failure_score;
  eo.role = PC_ROLE_LM;
  if (pc_eval_run(s->rt, prog, val, metric, &eo, &r, &err))
    return cli_fail(cli_status_of(err.code), &err, what);
  if (r->aborted) {
    const char *first = "";

    for (size_t k = 0; k < r->n_done; k++)
      if (r->rows[k].error) {
        first = r->rows[k].error;
        break;
      }
    cli_error("%s: the evaluation on val stopped at max_errors (%lld) "
              "after %zu of %zu examples; the first error: %s", what,
              (long long)r->max_errors, r->n_done, r->n_rows, first);
    pc_eval_result_free(r);
    return PC_EXIT_ABORTED;
  }
  *pct = pc_eval_percent(r);
  *n = r->n_done;
  pc_eval_result_free(r);
  return PC_EXIT_OK;
}

/* ---- output ------------------------------------------------------------ */

struct outcome {
  double base_pct, comp_pct;
  size_t base_n, comp_n;
  struct json_object *settings;  /* borrowed: as the optimizer uses them */
  uint64_t seed;
  char hex[4][PC_SHA256_HEX_LEN + 1];
};

/* The record kept in the compiled program: what produced it. Only what
 * does not depend on the machine, the thread count or the time, so the
 * same compile writes the same bytes. */
static struct json_object *compile_record(pc_runtime *rt,
                                          const pc_optimizer *opt,
                                          const struct outcome *oc,
                                          const pc_dataset *train,
                                          const pc_dataset *val,
                                          const pc_metric *metric,
                                          const pc_compile_result *res)
{
  struct json_object *o = json_object_new_object(), *op, *tr, *va;
  struct json_object *sets = NULL;
  struct json_object *base, *comp;

  if (!o)
    return NULL;
  op = json_object_new_object();
  tr = json_object_new_object();
  va = json_object_new_object();
  base = json_object_new_object();
  comp = json_object_new_object();
  json_object_object_add(o, "optimizer", op);
  json_object_object_add(o, "seed", json_object_new_int64((int64_t)oc->seed));
  json_object_object_add(o, "metric",
                         json_object_new_string(pc_metric_label(metric)));
  json_object_object_add(o, "train", tr);
  json_object_object_add(o, "val", va);
  json_object_object_add(o, "baseline", base);
  json_object_object_add(o, "compiled", comp);
  put_str(o, "stopped_by", res->stopped_by);
  put_str(o, "adapter", pc_runtime_adapter_name(rt, NULL));
  json_object_object_add(o, "models", pc_runtime_models(rt));
  if (!op || !tr || !va || !base || !comp ||
      json_object_deep_copy(oc->settings, &sets, NULL)) {
    json_object_put(o);
    return NULL;
  }
  put_str(op, "name", pc_optimizer_name(opt));
  put_str(op, "id", pc_optimizer_plugin_id(opt));
  put_str(op, "version", pc_optimizer_plugin_version(opt));
  json_object_object_add(op, "settings", sets);
  json_object_object_add(tr, "n", json_object_new_int64((int64_t)train->n_rows));
  put_str(tr, "sha256", oc->hex[2]);
  json_object_object_add(va, "n", json_object_new_int64((int64_t)val->n_rows));
  put_str(va, "sha256", val == train ? oc->hex[2] : oc->hex[3]);
  json_object_object_add(base, "score", json_object_new_double(oc->base_pct));
  json_object_object_add(base, "n", json_object_new_int64((int64_t)oc->base_n));
  json_object_object_add(comp, "score", json_object_new_double(oc->comp_pct));
  json_object_object_add(comp, "n", json_object_new_int64((int64_t)oc->comp_n));
  return o;
}

static struct json_object *usage_summary(const pc_compile_result *r)
{
  struct json_object *u = json_object_new_object();

  if (!u)
    return NULL;
  json_object_object_add(u, "task_calls",
                         json_object_new_int64((int64_t)r->task.calls));
  json_object_object_add(u, "proposal_calls",
                         json_object_new_int64((int64_t)r->proposal.calls));
  json_object_object_add(u, "metric_calls",
                         json_object_new_int64((int64_t)r->metric_calls));
  json_object_object_add(u, "program_runs",
                         json_object_new_int64((int64_t)r->program_runs));
  json_object_object_add(u, "provider_calls", json_object_new_int64(
    (int64_t)(r->task.provider_calls + r->proposal.provider_calls)));
  json_object_object_add(u, "cache_hits", json_object_new_int64(
    (int64_t)(r->task.cache_hits + r->proposal.cache_hits)));
  json_object_object_add(u, "prompt_tokens", json_object_new_int64(
    r->task.prompt_tokens + r->proposal.prompt_tokens));
  json_object_object_add(u, "completion_tokens", json_object_new_int64(
    r->task.completion_tokens + r->proposal.completion_tokens));
  json_object_object_add(u, "cost", isnan(r->spent.cost)
                              ? NULL : json_object_new_double(r->spent.cost));
  json_object_object_add(u, "retries", json_object_new_int64(
    (int64_t)(r->task.retries + r->proposal.retries)));
  json_object_object_add(u, "retry_wait_ms", json_object_new_int64(
    (int64_t)(r->task.retry_wait_ms + r->proposal.retry_wait_ms + 0.5)));
  json_object_object_add(u, "rate_wait_ms", json_object_new_int64(
    (int64_t)(r->task.rate_wait_ms + r->proposal.rate_wait_ms + 0.5)));
  json_object_object_add(u, "drifts", json_object_new_int64(
    (int64_t)(r->task.drifts + r->proposal.drifts)));
  json_object_object_add(u, "requests", json_object_new_int64(r->requests));
  json_object_object_add(u, "replayed", json_object_new_int64(r->replayed));
  return u;
}

static struct json_object *summary_json(const pc_optimizer *opt,
                                        const char *run_id,
                                        const struct outcome *oc,
                                        const pc_compile_result *r,
                                        double secs)
{
  struct json_object *o = json_object_new_object(), *op, *base, *comp;
  struct json_object *sets = NULL;

  if (!o || json_object_deep_copy(oc->settings, &sets, NULL)) {
    json_object_put(o);
    return NULL;
  }
  op = json_object_new_object();
  base = json_object_new_object();
  comp = json_object_new_object();
  put_str(o, "run_id", run_id);
  json_object_object_add(o, "optimizer", op);
  put_str(op, "name", pc_optimizer_name(opt));
  put_str(op, "id", pc_optimizer_plugin_id(opt));
  put_str(op, "version", pc_optimizer_plugin_version(opt));
  json_object_object_add(op, "settings", sets);
  json_object_object_add(o, "seed", json_object_new_int64((int64_t)oc->seed));
  json_object_object_add(o, "baseline", base);
  json_object_object_add(base, "score", json_object_new_double(oc->base_pct));
  json_object_object_add(base, "n", json_object_new_int64((int64_t)oc->base_n));
  json_object_object_add(o, "compiled", comp);
  json_object_object_add(comp, "score", json_object_new_double(oc->comp_pct));
  json_object_object_add(comp, "n", json_object_new_int64((int64_t)oc->comp_n));
  json_object_object_add(o, "usage", usage_summary(r));
  put_str(o, "stopped_by", r->stopped_by);
  if (r->stopped_by)
    put_str(o, "stop_reason", r->stop_message);
  json_object_object_add(o, "trials", json_object_new_int64(r->trials));
  json_object_object_add(o, "elapsed_ms",
                         json_object_new_int64((int64_t)(secs * 1000.0)));
  return o;
}

static void print_summary(const pc_optimizer *opt, const char *run_id,
                          const struct outcome *oc,
                          const pc_compile_result *r, const char *output,
                          const char *const report[2], double secs)
{
  printf("optimizer %s (%s %s), seed %llu\n", pc_optimizer_name(opt),
         pc_optimizer_plugin_id(opt), pc_optimizer_plugin_version(opt),
         (unsigned long long)oc->seed);
  printf("baseline  %.2f on val (%zu examples)\n", oc->base_pct, oc->base_n);
  printf("compiled  %.2f on val (%zu examples)\n", oc->comp_pct, oc->comp_n);
  printf("trials    %lld\n", (long long)r->trials);
  printf("calls     task %llu, proposal %llu, metric %llu; provider %llu, "
         "cache hits %llu\n", (unsigned long long)r->task.calls,
         (unsigned long long)r->proposal.calls,
         (unsigned long long)r->metric_calls,
         (unsigned long long)(r->task.provider_calls +
                              r->proposal.provider_calls),
         (unsigned long long)(r->task.cache_hits + r->proposal.cache_hits));
  printf("tokens    %lld prompt, %lld completion (paid)\n",
         (long long)(r->task.prompt_tokens + r->proposal.prompt_tokens),
         (long long)(r->task.completion_tokens +
                     r->proposal.completion_tokens));
  if (isnan(r->spent.cost))
    printf("cost      unknown (no price in the config for some LM)\n");
  else
    printf("cost      $%.4f\n", r->spent.cost);
  {
    pc_usage all = r->task;

    pc_usage_add(&all, &r->proposal);
    cli_print_retries(&all);
  }
  printf("time      %.1f s\n", secs);
  if (r->replayed)
    printf("resumed   %lld of %lld requests answered from the run's log\n",
           (long long)r->replayed, (long long)r->requests);
  if (r->stopped_by)
    printf("stopped   %s: %s; the best state found so far was kept\n",
           r->stopped_by, r->stop_message);
  printf("run       %s\n", run_id);
  if (output)
    printf("wrote     %s\n", output);
  for (int i = 0; i < 2; i++)
    if (report[i])
      printf("report    %s\n", report[i]);
}

/* ---- the report -------------------------------------------------------- */

/* Write OUT.report.json and OUT.report.html (or PREFIX's) for the compile
 * just saved, and add "report": {"html", "json"} to `summary`. The program
 * is written already, so a report that cannot be made is a warning and
 * report[] stays NULL. report[0] is the HTML path, report[1] the JSON's;
 * both owned by the caller (pc_free). */
static void write_report(const struct compile_args *a,
                         const pc_program *compiled,
                         const pc_compile_result *res, const char *prog_hex,
                         struct json_object *summary, char *report[2])
{
  pc_report_input in;
  struct json_object *rep = NULL, *state = NULL, *paths;
  pc_error err = PC_ERROR_INIT;
  char *json_path = NULL, *html_path = NULL;

  report[0] = report[1] = NULL;
  if (a->no_report)
    return;
  if (!summary || !(state = pc_report_state_of(compiled)) ||
      pc_report_paths(a->output, a->report, &json_path, &html_path)) {
    pc_error_set(&err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  memset(&in, 0, sizeof(in));
  in.summary = summary;
  in.program_name = pc_program_name(compiled);
  in.program_path = a->output;
  in.program_sha256 = prog_hex;
  in.trials = res->trial_log;
  in.optimizer_report = res->report;
  in.state = state;
  if (pc_report_build(&in, &rep, &err) ||
      pc_report_write(rep, json_path, html_path, &err))
    goto out;
  /* Written: a failure to name the files in the summary is not worth a
   * warning (only out of memory). */
  paths = json_object_new_object();
  if (paths && !json_object_object_add(summary, "report", paths)) {
    put_str(paths, "html", html_path);
    put_str(paths, "json", json_path);
  }
  report[0] = html_path;
  report[1] = json_path;
  html_path = json_path = NULL;
out:
  if (err.code)
    cli_error("warning: compile: no report written (the program was): %s",
              err.message);
  json_object_put(rep);
  json_object_put(state);
  pc_free(json_path);
  pc_free(html_path);
}

/* ---- the command ------------------------------------------------------- */

struct ctx {
  struct compile_args a;
  cli_session s;
  pc_dataset *train, *val;
  pc_metric *metric;
  pc_optimizer *opt;
  pc_runstore *store;
  struct json_object *settings;      /* owned: as given */
  struct json_object *used;          /* owned: as the optimizer uses them */
  struct json_object *run;           /* owned: the stored run (--resume) */
  char run_id[PC_RUN_ID_MAX];
  char *runs_path;                   /* owned */
  char *export_dir;                  /* owned: OUT without ".json", plus
                                        ".export" (docs/cli.md) */
  struct outcome oc;
  pc_compile_result res;
  pc_program *compiled;
};

static int open_inputs(struct ctx *x)
{
  struct compile_args *a = &x->a;
  const char *name;
  pc_error err = PC_ERROR_INIT;
  int status;

  status = cli_session_open(a->program, &a->ro, &x->s);
  if (status)
    return status;
  status = cli_load_dataset(a->train, a->inputs, x->s.prog, 0, "--train",
                            &x->train);
  if (!status && a->val)
    status = cli_load_dataset(a->val, a->inputs, x->s.prog, 0, "--val",
                              &x->val);
  if (status)
    return status;
  if (!x->val)
    x->val = x->train;
  status = cli_open_metric(a->metric, &x->s, "compile", &x->metric);
  if (status)
    return status;
  if (!x->settings && (status = merge_settings(a, x->s.cfg, &x->settings)))
    return status;
  name = a->optimizer ? a->optimizer : x->s.cfg->optimizer;
  if (!name) {
    cli_error("compile: no optimizer: give --optimizer NAME or "
              "\"optimizer\": {\"name\": ...} in the config (`promptc "
              "plugins list` shows them)");
    return PC_EXIT_USAGE;
  }
  if (pc_optimizer_open(x->s.reg, name, x->settings, &x->opt, &err))
    return cli_fail(err.code == PC_E_UNSUPPORTED ? PC_EXIT_ENV
                                                 : PC_EXIT_USAGE,
                    &err, "compile");
  if (pc_optimizer_settings(x->opt, &x->used, &err))
    return cli_fail(PC_EXIT_ENV, &err, "compile");
  return PC_EXIT_OK;
}

/* The seed: --seed, else the optimizer's default, else the config's. */
static uint64_t pick_seed(const struct ctx *x)
{
  struct json_object *v;

  if (x->a.has_seed)
    return x->a.seed;
  if (json_object_object_get_ex(x->used, "seed", &v) &&
      json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
    return (uint64_t)json_object_get_int64(v);
  return x->s.cfg->has_seed ? x->s.cfg->seed : 0;
}

static int dry_run(struct ctx *x)
{
  struct json_object *info = pc_compile_sizes(x->s.prog, x->train, x->val);
  struct json_object *est = NULL, *o;
  pc_error err = PC_ERROR_INIT;
  int status = PC_EXIT_OK;

  if (!info) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  if (pc_optimizer_estimate(x->opt, info, &est, &err)) {
    json_object_put(info);
    return cli_fail(cli_status_of(err.code), &err, "compile --dry-run");
  }
  if (x->a.json) {
    o = json_object_new_object();
    json_object_object_add(o, "optimizer", json_object_new_string(
                                             pc_optimizer_name(x->opt)));
    json_object_object_add(o, "settings", json_object_get(x->used));
    json_object_object_add(o, "seed",
                           json_object_new_int64((int64_t)pick_seed(x)));
    json_object_object_add(o, "sizes", json_object_get(info));
    json_object_object_add(o, "estimate", json_object_get(est));
    status = cli_print_json(stdout, o);
    json_object_put(o);
  } else {
    printf("optimizer %s, seed %llu\n", pc_optimizer_name(x->opt),
           (unsigned long long)pick_seed(x));
    printf("sizes     train %zu, val %zu, predictors %zu, calls per run "
           "%zu\n", x->train->n_rows, x->val->n_rows,
           pc_program_n_predictors(x->s.prog),
           pc_program_n_steps(x->s.prog));
    printf("estimate  ");
    json_object_object_foreach(est, key, val) {
      printf("%s %s  ", key, json_object_to_json_string(val));
    }
    printf("\n          (upper bounds from the optimizer, before the "
           "baseline and final\n          evaluations on val: 2 x %zu "
           "program runs and metric calls)\n", x->val->n_rows);
  }
  json_object_put(info);
  json_object_put(est);
  return status;
}

static int open_store(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;

  x->runs_path = x->a.runs ? pc_strdup(x->a.runs)
                           : pc_runstore_default_path();
  if (!x->runs_path) {
    cli_error("compile: no run store: set XDG_STATE_HOME or HOME, or give "
              "--runs FILE");
    return PC_EXIT_ENV;
  }
  if (pc_runstore_open(x->runs_path, &x->store, &err))
    return cli_fail(PC_EXIT_ENV, &err, "--runs");
  return PC_EXIT_OK;
}

static int begin_run(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;
  const char *hashes[4];
  struct json_object *spec;
  int rc;

  if (x->a.resume) {
    snprintf(x->run_id, sizeof(x->run_id), "%s", x->a.resume);
    if (pc_runstore_set_status(x->store, x->run_id, "running", NULL, &err))
      return cli_fail(PC_EXIT_ENV, &err, "--runs");
    return PC_EXIT_OK;
  }
  if (x->a.run_id)
    snprintf(x->run_id, sizeof(x->run_id), "%s", x->a.run_id);
  else if (pc_runstore_new_id(x->run_id)) {
    cli_error("compile: could not make a run id");
    return PC_EXIT_ENV;
  }
  for (int i = 0; i < 4; i++)
    hashes[i] = x->oc.hex[i][0] ? x->oc.hex[i] : NULL;
  if (!(spec = run_spec(&x->a, x->settings, hashes))) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  rc = pc_runstore_begin(x->store, x->run_id, "compile", spec, &err);
  json_object_put(spec);
  if (rc)
    return cli_fail(rc == PC_E_INVALID_ARG ? PC_EXIT_USAGE : PC_EXIT_ENV,
                    &err, "--run-id");
  return PC_EXIT_OK;
}

static int finish_run(struct ctx *x, const char *status,
                      struct json_object *result)
{
  pc_error err = PC_ERROR_INIT;

  if (x->s.rt)
    pc_runtime_flush_calls(x->s.rt);  /* the calls are in before the end */
  if (x->store && x->run_id[0] &&
      pc_runstore_set_status(x->store, x->run_id, status, result, &err))
    return cli_fail(PC_EXIT_ENV, &err, "--runs");
  return PC_EXIT_OK;
}

/* Where the optimizer's files go: `output` without a final ".json", plus
 * ".export" (out.json -> out.export). Owned by the caller; NULL on OOM. */
static char *export_dir_of(const char *output)
{
  size_t n = strlen(output);
  char *dir;

  if (n > 5 && !strcmp(output + n - 5, ".json"))
    n -= 5;
  if (!(dir = pc_malloc(n + sizeof(".export"))))
    return NULL;
  memcpy(dir, output, n);
  memcpy(dir + n, ".export", sizeof(".export"));
  return dir;
}

static int run_compile(struct ctx *x, double t0)
{
  pc_compile_opts co;
  cli_progress live;
  pc_error err = PC_ERROR_INIT;
  struct json_object *record = NULL, *summary = NULL;
  char prog_hex[PC_SHA256_HEX_LEN + 1];
  char *report[2] = {NULL, NULL};
  double secs;
  int rc, status;

  status = score_val(&x->s, x->s.prog, x->val, x->metric, "baseline",
                     &x->oc.base_pct, &x->oc.base_n);
  if (status)
    return status;
  memset(&co, 0, sizeof(co));
  co.rt = x->s.rt;
  co.cfg = x->s.cfg;
  co.program = x->s.prog;
  co.train = x->train;
  co.val = x->val;
  co.metric = x->metric;
  co.optimizer = x->opt;
  co.seed = x->oc.seed;
  co.caps = x->a.caps;
  co.store = x->store;
  co.run_id = x->run_id;
  co.resume = x->a.resume != NULL;
  co.export_dir = x->export_dir;
  memset(&live, 0, sizeof(live));
  cli_progress_init(&live, x->a.progress);
  co.progress = compile_progress;
  co.progress_ctx = &live;
  rc = pc_compile_run(&co, &x->res, &err);
  cli_progress_done(&live);
  if (rc) {
    finish_run(x, "failed", NULL);
    return cli_fail(cli_status_of(err.code), &err, "compile");
  }
  if (x->res.stopped_by && !strcmp(x->res.stopped_by, "cancelled")) {
    finish_run(x, "interrupted", NULL);
    cli_error("compile: interrupted; nothing written. Continue with "
              "`promptc compile --resume %s%s%s`", x->run_id,
              x->a.runs ? " --runs " : "", x->a.runs ? x->a.runs : "");
    return PC_EXIT_INTERRUPTED;
  }
  rc = pc_compile_apply_state(x->s.prog, x->res.state, &x->compiled, &err);
  if (rc)
    return cli_fail(PC_EXIT_FAIL, &err, "compile: the optimizer's result");
  status = score_val(&x->s, x->compiled, x->val, x->metric, "compiled",
                     &x->oc.comp_pct, &x->oc.comp_n);
  if (status)
    return status;
  secs = cli_seconds() - t0;
  x->oc.settings = x->used;
  if (!(record = compile_record(x->s.rt, x->opt, &x->oc, x->train, x->val,
                                x->metric, &x->res)) ||
      pc_program_set_compile_record(x->compiled, record)) {
    json_object_put(record);
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  json_object_put(record);
  if (pc_program_save(x->compiled, x->a.output, &err) ||
      pc_sha256_file(x->a.output, prog_hex, &err))
    return cli_fail(PC_EXIT_ENV, &err, "-o");
  summary = summary_json(x->opt, x->run_id, &x->oc, &x->res, secs);
  /* `promptc pack` checks that the program it is given is this one. */
  if (summary)
    put_str(summary, "program_sha256", prog_hex);
  write_report(&x->a, x->compiled, &x->res, prog_hex, summary, report);
  status = finish_run(x, x->res.stopped_by ? "stopped" : "done", summary);
  if (x->a.json && summary)
    status = cli_print_json(stdout, summary);
  else
    print_summary(x->opt, x->run_id, &x->oc, &x->res, x->a.output,
                  (const char *const *)report, secs);
  json_object_put(summary);
  pc_free(report[0]);
  pc_free(report[1]);
  fprintf(stderr, "compile: %.1f s, %d threads, run %s\n", secs,
          pc_sched_threads(pc_runtime_sched(x->s.rt)), x->run_id);
  return status;
}

int cmd_compile(int argc, char **argv)
{
  struct ctx x;
  struct sigaction sa, old;
  pc_error err = PC_ERROR_INIT;
  double t0 = cli_seconds();
  int status;

  memset(&x, 0, sizeof(x));
  status = parse_args(argc, argv, &x.a);
  if (status != PC_EXIT_OK)
    return status < 0 ? PC_EXIT_OK : status;
  if (x.a.resume) {
    struct json_object *settings;

    if ((status = open_store(&x)))
      goto out;
    if (pc_runstore_get(x.store, x.a.resume, &x.run, &err)) {
      status = cli_fail(PC_EXIT_USAGE, &err, "--resume");
      goto out;
    }
    if ((status = args_from_run(x.run, &x.a, &settings)))
      goto out;
    if (json_object_deep_copy(settings, &x.settings, NULL)) {
      status = PC_EXIT_ENV;
      goto out;
    }
  }
  if ((status = file_hashes(&x.a, x.oc.hex)))
    goto out;
  if (x.a.resume && (status = check_hashes(x.run, x.a.resume, x.oc.hex)))
    goto out;
  if ((status = open_inputs(&x)))
    goto out;
  x.oc.seed = pick_seed(&x);
  if (x.a.dry_run) {
    status = dry_run(&x);
    goto out;
  }
  if (x.a.caps.max_cost > 0) {
    for (int r = 0; r < PC_ROLE_COUNT; r++) {
      pc_price p;

      pc_pricing_lookup(x.s.cfg, r, &p);
      if (!p.known) {
        cli_error("--max-cost: no price for the %s role's model in the "
                  "config's \"pricing\" (docs/config.md)",
                  pc_config_role_name(r));
        status = PC_EXIT_USAGE;
        goto out;
      }
    }
  }
  /* Settings the splits make impossible are refused before the run is
   * recorded or the baseline spends anything. */
  if (pc_compile_preflight(x.opt, x.s.prog, x.train, x.val, &err)) {
    status = cli_fail(cli_status_of(err.code), &err, "compile");
    goto out;
  }
  if ((!x.store && (status = open_store(&x))) || (status = begin_run(&x)))
    goto out;
  if (!(x.export_dir = export_dir_of(x.a.output))) {
    cli_error("compile: out of memory");
    status = PC_EXIT_ENV;
    goto out;
  }
  /* Every LM call of the run (baseline, search, final evaluation) goes to
   * its calls; the store outlives the runtime (closed after it). */
  if (pc_runtime_log_calls(x.s.rt, x.store, x.run_id, &err)) {
    cli_error("warning: compile: the LM calls of run %s are not recorded: "
              "%s", x.run_id, err.message);
    pc_error_clear(&err);
  }
  fprintf(stderr, "compile: run %s (resume with `promptc compile --resume "
          "%s`)\n", x.run_id, x.run_id);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  status = run_compile(&x, t0);
  sigaction(SIGINT, &old, NULL);
  if (status != PC_EXIT_OK && status != PC_EXIT_INTERRUPTED)
    finish_run(&x, "failed", NULL);
out:
  pc_program_free(x.compiled);
  pc_compile_result_clear(&x.res);
  json_object_put(x.settings);
  json_object_put(x.used);
  json_object_put(x.run);
  pc_optimizer_close(x.opt);
  pc_metric_close(x.metric);
  if (x.val != x.train)
    pc_dataset_free(x.val);
  pc_dataset_free(x.train);
  cli_session_close(&x.s);
  pc_runstore_close(x.store);
  pc_free(x.runs_path);
  pc_free(x.export_dir);
  return status;
}
