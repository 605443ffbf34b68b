/* cmd_eval.c - `promptc eval`: score a program on a dataset with a
 * metric, in parallel, and print a summary. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "dataset.h"
#include "eval.h"
#include "file.h"
#include "json_text.h"
#include "metric.h"
#include "pricing.h"
#include "program.h"
#include "runtime.h"

static void eval_usage(FILE *f)
{
  fputs("usage: promptc eval PROGRAM.json --config CONFIG.json --data "
        "FILE.jsonl\n"
        "                    [--inputs a,b] [--metric NAME[:FIELD]] "
        "[--results OUT.jsonl]\n"
        "                    [--max-errors N] [--failure-score X] [--json] "
        "[--no-progress]\n"
        "                    [--threads N] [--cache PATH | --no-cache] "
        "[--adapter NAME]\n"
        "                    [--runs FILE | --no-record]\n"
        "       promptc eval --artifact NAME.ppa --config CONFIG.json "
        "--data FILE.jsonl ...\n\n"
        "Run PROGRAM on every example of the dataset, in parallel, score "
        "each with\nthe metric and print the mean with a 95% confidence "
        "interval, per-slice\nscores and error counts.\n\n"
        "options:\n"
        "  -d, --data FILE      the examples (JSONL or CSV)\n"
        "  -I, --inputs KEYS    example keys given to the program "
        "(default: its inputs)\n"
        "  -m, --metric M       NAME or NAME:FIELD, e.g. exact_match:answer "
        "(default:\n"
        "                       the config's \"metric\")\n"
        "  -r, --results FILE   write one JSON line per example: id, "
        "inputs, outputs,\n"
        "                       score, error\n"
        "      --max-errors N   stop once N examples have failed (default: "
        "the config's,\n"
        "                       else 10)\n"
        "      --failure-score X  score of a failed example (default 0)\n"
        "      --skip-malformed   skip malformed dataset rows (they are "
        "listed)\n"
        "      --json           print the summary as JSON\n"
        "      --no-progress    no live progress line on a terminal\n"
        CLI_RECORD_OPTIONS_HELP
        CLI_RUN_OPTIONS_HELP
        CLI_ARTIFACT_OPTIONS_HELP
        "  -h, --help           show this help\n\n"
        "Exit status: 0 done, 5 stopped at max_errors, 2 usage, 3 bad "
        "input files,\n4 plugin or environment problem.\n", f);
}

#define OPT_MAX_ERRORS 2001
#define OPT_FAILURE_SCORE 2002
#define OPT_JSON 2003
#define OPT_NO_PROGRESS 2004
#define OPT_SKIP_MALFORMED 2005

struct eval_args {
  cli_run_opts ro;
  cli_artifact_opts ao;
  cli_record_opts rec;
  const char *program;
  const char *data, *inputs, *metric, *results;
  long long max_errors;  /* 0: not given */
  double failure_score;
  int has_failure_score, json, progress, skip_malformed;
};

static int parse_args(int argc, char **argv, struct eval_args *a)
{
  static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"inputs", required_argument, NULL, 'I'},
    {"metric", required_argument, NULL, 'm'},
    {"results", required_argument, NULL, 'r'},
    {"max-errors", required_argument, NULL, OPT_MAX_ERRORS},
    {"failure-score", required_argument, NULL, OPT_FAILURE_SCORE},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"skip-malformed", no_argument, NULL, OPT_SKIP_MALFORMED},
    {"help", no_argument, NULL, 'h'},
    CLI_RUN_LONG_OPTIONS,
    CLI_ARTIFACT_LONG_OPTIONS,
    CLI_RECORD_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
  };
  char *end;
  int c;

  a->progress = 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:I:m:r:c:a:p:h", opts, NULL)) !=
         -1) {
    int r = cli_run_option(c, optarg, &a->ro);

    if (r < 0)
      return PC_EXIT_USAGE;
    if (r > 0 || cli_artifact_option(c, optarg, &a->ao) ||
        cli_record_option(c, optarg, &a->rec))
      continue;
    switch (c) {
    case 'd': a->data = optarg; break;
    case 'I': a->inputs = optarg; break;
    case 'm': a->metric = optarg; break;
    case 'r': a->results = optarg; break;
    case OPT_MAX_ERRORS:
      a->max_errors = strtoll(optarg, &end, 10);
      if (!*optarg || *end || a->max_errors < 1) {
        cli_error("--max-errors: expected an integer >= 1, got '%s'",
                  optarg);
        return PC_EXIT_USAGE;
      }
      break;
    case OPT_FAILURE_SCORE:
      a->failure_score = strtod(optarg, &end);
      if (!*optarg || *end || !(a->failure_score >= 0) ||
          a->failure_score > 1) {
        cli_error("--failure-score: expected a number from 0 to 1, got "
                  "'%s'", optarg);
        return PC_EXIT_USAGE;
      }
      a->has_failure_score = 1;
      break;
    case OPT_JSON: a->json = 1; break;
    case OPT_NO_PROGRESS: a->progress = 0; break;
    case OPT_SKIP_MALFORMED: a->skip_malformed = 1; break;
    case 'h': eval_usage(stdout); return -1;
    default: eval_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind < argc - 1) {
    cli_error("eval: one PROGRAM.json expected");
    eval_usage(stderr);
    return PC_EXIT_USAGE;
  }
  a->program = optind < argc ? argv[optind] : NULL;
  if (!a->data) {
    cli_error("eval: --data is required (a JSONL or CSV file of "
              "examples)");
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* One --results line per reported example, in dataset order. */
static int write_results(const char *path, const pc_dataset *ds,
                         const pc_eval_result *r)
{
  pc_buf b;
  pc_error err = PC_ERROR_INIT;
  int rc = PC_OK;

  pc_buf_init(&b, 0);
  for (size_t k = 0; k < r->n_done && rc == PC_OK; k++) {
    const pc_eval_row *row = &r->rows[k];
    const pc_example *ex = &ds->rows[row->index];
    struct json_object *o = json_object_new_object();

    if (!o) {
      rc = PC_E_NOMEM;
      break;
    }
    json_object_object_add(o, "id", json_object_new_string(ex->id));
    if (ex->slice)
      json_object_object_add(o, "slice", json_object_new_string(ex->slice));
    json_object_object_add(o, "inputs", json_object_get(row->inputs));
    json_object_object_add(o, "outputs", json_object_get(row->outputs));
    json_object_object_add(o, "score", json_object_new_double(row->score));
    if (row->error) {
      struct json_object *e = json_object_new_object();

      json_object_object_add(e, "kind", json_object_new_string(
                                          pc_eval_error_kind_name(
                                            row->error_kind)));
      json_object_object_add(e, "message",
                             json_object_new_string(row->error));
      json_object_object_add(o, "error", e);
    } else {
      json_object_object_add(o, "error", NULL);
    }
    rc = pc_json_write(o, PC_JSON_TEXT_COMPACT, &b);
    if (rc == PC_OK)
      rc = pc_buf_putc(&b, '\n');
    json_object_put(o);
  }
  if (rc == PC_OK)
    rc = pc_file_write_atomic(path, b.data ? b.data : "", b.len, &err);
  else
    pc_error_set(&err, rc, "%s: out of memory", path);
  pc_buf_free(&b);
  return rc ? cli_fail(PC_EXIT_ENV, &err, "--results") : PC_EXIT_OK;
}

/* What the run's provider calls cost at the task LM's price (NAN when
 * the config has no price for it). */
static double eval_cost(const cli_session *s, const pc_usage *u)
{
  pc_price price;

  pc_pricing_lookup(s->cfg, PC_ROLE_LM, &price);
  return pc_price_cost(&price, u);
}

static struct json_object *summary_json(const cli_session *s,
                                        const pc_dataset *ds,
                                        const char *data_hash,
                                        const pc_metric *m,
                                        const pc_eval_result *r)
{
  struct json_object *o = json_object_new_object();
  struct json_object *scores = pc_eval_summary_json(r);
  pc_lm *lm = pc_runtime_lm(s->rt, PC_ROLE_LM);

  if (!o || !scores) {
    json_object_put(o);
    json_object_put(scores);
    return NULL;
  }
  json_object_object_add(o, "program", json_object_new_string(
                                         pc_program_name(s->prog)
                                           ? pc_program_name(s->prog)
                                           : ""));
  json_object_object_add(o, "data", json_object_new_string(ds->path));
  json_object_object_add(o, "data_sha256",
                         json_object_new_string(data_hash));
  json_object_object_add(o, "model",
                         json_object_new_string(pc_lm_identity(lm)));
  json_object_object_add(o, "metric",
                         json_object_new_string(pc_metric_label(m)));
  json_object_object_add(o, "served", pc_lm_served(lm));
  {
    double cost = eval_cost(s, &r->usage);

    json_object_object_add(o, "cost", isnan(cost)
                                        ? NULL : json_object_new_double(cost));
  }
  json_object_object_foreach(scores, k, v)
    json_object_object_add(o, k, json_object_get(v));
  json_object_put(scores);
  return o;
}

/* The model that answered, as the provider reported it (nothing when
 * every answer came from the cache). */
static void print_served(const pc_lm *lm)
{
  struct json_object *served = pc_lm_served(lm);

  if (!served)
    return;
  printf("served   ");
  json_object_object_foreach(served, k, v)
    printf(" %s %s", k, json_object_get_string(v));
  printf("\n");
  json_object_put(served);
}

static void print_summary(const cli_session *s, const pc_dataset *ds,
                          const char *data_hash, const pc_metric *m,
                          const pc_eval_result *r, const char *run_id)
{
  pc_lm *lm = pc_runtime_lm(s->rt, PC_ROLE_LM);
  const pc_usage *u = &r->usage;
  double cost = eval_cost(s, u);

  printf("program   %s\n", pc_program_name(s->prog)
                               ? pc_program_name(s->prog) : "(unnamed)");
  printf("data      %s: %zu examples, sha256 %.12s\n", ds->path, ds->n_rows,
         data_hash);
  printf("model     %s (provider %s)\n", pc_lm_identity(lm),
         pc_lm_provider(lm));
  print_served(lm);
  printf("metric    %s\n", pc_metric_label(m));
  printf("score     %.4f over %zu examples  (95%% CI %.4f-%.4f)\n", r->mean,
         r->n_done, r->ci_low, r->ci_high);
  for (size_t i = 0; i < r->n_slices; i++)
    printf("slice     %-12s %.4f  n=%-5zu (95%% CI %.4f-%.4f)\n",
           r->slices[i].name, r->slices[i].mean, r->slices[i].n,
           r->slices[i].ci_low, r->slices[i].ci_high);
  printf("errors    %zu (parse %zu, lm %zu, metric %zu, program %zu)\n",
         r->n_errors, r->n_parse_errors, r->n_lm_errors, r->n_metric_errors,
         r->n_program_errors);
  printf("calls     %llu LM calls: %llu to the provider, %llu from the "
         "cache, %llu fallbacks\n", (unsigned long long)u->calls,
         (unsigned long long)u->provider_calls,
         (unsigned long long)u->cache_hits,
         (unsigned long long)u->fallbacks);
  printf("tokens    %lld prompt, %lld completion (provider calls only)\n",
         (long long)u->prompt_tokens, (long long)u->completion_tokens);
  cli_print_retries(u);
  if (isnan(cost))
    printf("cost      unknown (no price for this model in the config's "
           "\"pricing\")\n");
  else
    printf("cost      $%.6f\n", cost);
  if (r->aborted)
    printf("stopped   after %zu of %zu examples: %zu errors reached "
           "max_errors (%lld)\n", r->n_done, r->n_rows, r->n_errors,
           (long long)r->max_errors);
  if (run_id[0])
    printf("run       %s\n", run_id);
}

/* The result of a run that failed, for the run store. */
static struct json_object *failure_json(const pc_error *err)
{
  struct json_object *o = json_object_new_object();

  if (o && json_object_object_add(o, "error",
                                  json_object_new_string(err->message))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

int cmd_eval(int argc, char **argv)
{
  struct eval_args a;
  cli_session s;
  cli_record rec;
  pc_dataset *ds = NULL;
  pc_metric *metric = NULL;
  pc_eval_result *res = NULL;
  struct json_object *summary = NULL;
  pc_eval_opts eo;
  cli_progress prog;
  pc_error err = PC_ERROR_INIT;
  char hash[PC_SHA256_HEX_LEN + 1];
  double t0, secs;
  int status;

  memset(&a, 0, sizeof(a));
  memset(&s, 0, sizeof(s));
  memset(&rec, 0, sizeof(rec));
  status = parse_args(argc, argv, &a);
  if (status != PC_EXIT_OK)
    return status < 0 ? PC_EXIT_OK : status;
  status = cli_session_open_any("eval", a.program, &a.ao, &a.ro, 0, &s);
  if (status != PC_EXIT_OK)
    return status;
  status = cli_load_dataset(a.data, a.inputs, s.prog, a.skip_malformed,
                            "data", &ds);
  if (status == PC_EXIT_OK)
    status = cli_open_metric(a.metric, &s, "eval", &metric);
  if (status != PC_EXIT_OK)
    goto out;
  if (pc_dataset_hash(ds, hash)) {
    status = PC_EXIT_ENV;
    cli_error("out of memory");
    goto out;
  }

  memset(&eo, 0, sizeof(eo));
  eo.max_errors = a.max_errors ? a.max_errors : s.cfg->max_errors;
  eo.failure_score = a.has_failure_score ? a.failure_score
                                         : s.cfg->failure_score;
  eo.role = PC_ROLE_LM;
  cli_progress_init(&prog, a.progress);
  eo.progress = cli_progress_update;
  eo.progress_ctx = &prog;
  cli_record_begin(&rec, &a.rec, "eval", argc, argv, a.ro.config, s.rt);
  t0 = cli_seconds();
  if (pc_eval_run(s.rt, s.prog, ds, metric, &eo, &res, &err)) {
    cli_progress_done(&prog);
    summary = failure_json(&err);
    cli_record_end(&rec, "failed", summary);
    status = cli_fail(cli_status_of(err.code), &err, "eval");
    goto out;
  }
  secs = cli_seconds() - t0;
  cli_progress_done(&prog);
  if (!(summary = summary_json(&s, ds, hash, metric, res))) {
    cli_record_end(&rec, "failed", NULL);
    cli_error("out of memory");
    status = PC_EXIT_ENV;
    goto out;
  }
  cli_record_end(&rec, res->aborted ? "failed" : "done", summary);
  if (rec.interrupted) {
    cli_error("eval: interrupted after %zu of %zu examples; run %s",
              res->n_done, res->n_rows, rec.id);
    status = PC_EXIT_FAIL;
    goto out;
  }
  if (a.results && (status = write_results(a.results, ds, res)))
    goto out;
  if (a.json) {
    json_object_object_add(summary, "run_id", rec.id[0]
                                                ? json_object_new_string(
                                                    rec.id)
                                                : NULL);
    status = cli_print_json(stdout, summary);
    if (status)
      goto out;
  } else {
    print_summary(&s, ds, hash, metric, res, rec.id);
  }
  fprintf(stderr, "eval: %zu examples in %.3f s, %.0f LM calls/s, %d "
          "threads\n", res->n_done, secs,
          secs > 0 ? (double)res->usage.calls / secs : 0.0,
          pc_sched_threads(pc_runtime_sched(s.rt)));
  if (res->aborted) {
    const char *first = "(see --results)";

    for (size_t k = 0; k < res->n_done; k++)
      if (res->rows[k].error) {
        first = res->rows[k].error;
        break;
      }
    cli_error("eval: stopped at max_errors (%lld) after %zu of %zu "
              "examples; the first error: %s", (long long)res->max_errors,
              res->n_done, res->n_rows, first);
    status = PC_EXIT_ABORTED;
  }
out:
  cli_record_end(&rec, "failed", NULL);  /* when not ended yet */
  json_object_put(summary);
  pc_eval_result_free(res);
  pc_metric_close(metric);
  pc_dataset_free(ds);
  cli_session_close(&s);
  return cli_record_exit(&rec, status);
}
