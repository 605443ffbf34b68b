/* cmd_history.c - `promptc history`: the runs in the run store, one run's
 * record and trials, and the LM calls a run made. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "json_text.h"
#include "runstore.h"

static void history_usage(FILE *f)
{
  fputs("usage: promptc history [RUN_ID] [--runs FILE] [--json] "
        "[--limit N]\n"
        "       promptc history --last N | --run ID [--messages] "
        "[--runs FILE] [--json]\n\n"
        "Without RUN_ID, list the newest runs of the run store (id, kind, "
        "status,\nstart time, trials, LM calls). With RUN_ID, show that "
        "run: its arguments,\nresult, LM call totals and every trial the "
        "optimizer recorded.\n\n"
        "With --last or --run, list LM calls instead: the last N calls of "
        "run ID,\nelse of the newest run that made calls: predictor, model "
        "(as served when\nthe provider said), tokens, latency, cost, cache "
        "hit, retries and the error\n(the code of a call that failed).\n\n"
        "options:\n"
        "      --runs FILE      the run store (default: "
        "$XDG_STATE_HOME/promptc/runs.sqlite)\n"
        "      --limit N        list at most N runs (default 20)\n"
        "      --last N         the last N LM calls (default with --run: "
        "all of them)\n"
        "      --run ID         the LM calls of run ID (RUN_ID with --last "
        "or --messages\n"
        "                       does the same)\n"
        "      --messages       each call's messages and completion in "
        "full\n"
        "      --json           print JSON (the runs, the run, or the call "
        "records)\n"
        "  -h, --help           show this help\n", f);
}

/* The time `ms` (Unix milliseconds) in UTC, with the date unless
 * `time_only`, or "-" padded as wide. */
static void print_time_of(long long ms, int time_only)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char buf[32];
  size_t n = 0;

  if (ms > 0 && gmtime_r(&t, &tm))
    n = time_only ? strftime(buf, sizeof(buf), "%H:%M:%S", &tm)
                  : strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  printf("%-*s", time_only ? 8 : 19, n ? buf : "-");
}

static void print_time(long long ms)
{
  print_time_of(ms, 0);
}

static long long get_ll(const struct json_object *o, const char *k)
{
  struct json_object *v;

  return json_object_object_get_ex(o, k, &v) && v
           ? (long long)json_object_get_int64(v) : 0;
}

static const char *get_s(const struct json_object *o, const char *k)
{
  struct json_object *v;

  return json_object_object_get_ex(o, k, &v) && v
           ? json_object_get_string(v) : "-";
}

static int show_list(pc_runstore *rs, size_t limit, int json)
{
  struct json_object *runs = NULL;
  pc_error err = PC_ERROR_INIT;
  int status = PC_EXIT_OK;

  if (pc_runstore_list(rs, limit, &runs, &err))
    return cli_fail(PC_EXIT_ENV, &err, "history");
  if (json) {
    status = cli_print_json(stdout, runs);
  } else {
    printf("%-24s %-8s %-12s %-19s %6s %6s\n", "run", "kind", "status",
           "started (UTC)", "trials", "calls");
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
      struct json_object *r = json_object_array_get_idx(runs, i);

      printf("%-24s %-8s %-12s ", get_s(r, "id"), get_s(r, "kind"),
             get_s(r, "status"));
      print_time(get_ll(r, "started_ms"));
      printf(" %6lld %6lld\n", get_ll(r, "trials"), get_ll(r, "calls"));
    }
  }
  json_object_put(runs);
  return status;
}

/* The "calls" line of one run: what its recorded LM calls add up to. */
static void print_totals(const char *id, const struct json_object *t)
{
  struct json_object *v;
  long long n = get_ll(t, "calls"), unknown = get_ll(t, "cost_unknown");

  printf("calls     %lld LM calls (%lld from the cache), %lld prompt + %lld "
         "completion tokens, ", n, get_ll(t, "cache_hits"),
         get_ll(t, "prompt_tokens"), get_ll(t, "completion_tokens"));
  if (n > 0 && unknown == n)
    printf("cost unknown");
  else if (json_object_object_get_ex(t, "cost", &v))
    printf("cost $%.6f%s", json_object_get_double(v),
           unknown ? " (some unpriced)" : "");
  printf(", %lld retries\n", get_ll(t, "retries"));
  if (n > 0)
    printf("          (`promptc history --run %s` lists them)\n", id);
}

static int show_run(pc_runstore *rs, const char *id, int json)
{
  struct json_object *run = NULL, *trials = NULL, *totals = NULL, *v;
  pc_error err = PC_ERROR_INIT;
  int status = PC_EXIT_OK;

  if (pc_runstore_get(rs, id, &run, &err) ||
      pc_runstore_trials(rs, id, &trials, &err) ||
      pc_runstore_call_totals(rs, id, &totals, &err)) {
    json_object_put(run);
    json_object_put(trials);
    return cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_USAGE
                                                 : PC_EXIT_ENV,
                    &err, "history");
  }
  if (json) {
    json_object_object_add(run, "calls", json_object_get(totals));
    json_object_object_add(run, "trials", json_object_get(trials));
    status = cli_print_json(stdout, run);
  } else {
    printf("run       %s (%s)\n", id, get_s(run, "kind"));
    printf("status    %s\n", get_s(run, "status"));
    printf("started   ");
    print_time(get_ll(run, "started_ms"));
    printf(" UTC\nfinished  ");
    print_time(get_ll(run, "finished_ms"));
    printf(" UTC\n");
    if (json_object_object_get_ex(run, "spec", &v) && v)
      printf("spec      %s\n", json_object_to_json_string_ext(
                                   v, JSON_C_TO_STRING_PLAIN |
                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    if (json_object_object_get_ex(run, "result", &v) && v)
      printf("result    %s\n", json_object_to_json_string_ext(
                                   v, JSON_C_TO_STRING_PLAIN |
                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    print_totals(id, totals);
    printf("trials    %zu\n", json_object_array_length(trials));
    for (size_t i = 0; i < json_object_array_length(trials); i++) {
      struct json_object *t = json_object_array_get_idx(trials, i), *s;

      printf("  #%-4lld", get_ll(t, "trial"));
      if (json_object_object_get_ex(t, "label", &s) && s)
        printf(" %-24s", json_object_get_string(s));
      if (json_object_object_get_ex(t, "score", &s) && s)
        printf(" score %s", json_object_get_string(s));
      if (json_object_object_get_ex(t, "split", &s) && s)
        printf(" on %s", json_object_get_string(s));
      printf("\n");
    }
  }
  json_object_put(run);
  json_object_put(trials);
  json_object_put(totals);
  return status;
}

/* ---- the calls of a run ------------------------------------------------ */

/* The model of a call as served when the provider said, else the model
 * identity the host recorded. */
static const char *call_model(const struct json_object *c)
{
  const char *m = pc_json_str(c, "served_model");

  if (!m)
    m = pc_json_str(c, "model");
  return m ? m : "-";
}

static void print_calls_header(void)
{
  printf("%-6s %-8s %-24s %-24s %7s %6s %10s %-10s %-5s %-7s %s\n", "#",
         "time", "predictor", "model", "prompt", "compl", "latency ms",
         "cost", "cache", "retries", "error");
}

/* One row of the calls table; `n` is the call's number in its run. */
static void print_call_row(long long n, const struct json_object *c)
{
  struct json_object *usage = pc_json_member(c, "usage");
  struct json_object *cost = pc_json_member(c, "cost");
  struct json_object *hit = pc_json_member(c, "cache_hit");
  const char *pred = pc_json_str(c, "predictor");
  const char *error = pc_json_str(pc_json_member(c, "error"), "code");
  char money[32];

  if (json_object_is_type(cost, json_type_double) ||
      json_object_is_type(cost, json_type_int))
    snprintf(money, sizeof(money), "$%.6f", json_object_get_double(cost));
  else
    snprintf(money, sizeof(money), "-");
  printf("%-6lld ", n);
  print_time_of(get_ll(c, "time_ms"), 1);
  printf(" %-24s %-24s %7lld %6lld %10.2f %-10s %-5s %-7lld %s\n",
         pred ? pred : "-", call_model(c), get_ll(usage, "prompt_tokens"),
         get_ll(usage, "completion_tokens"),
         json_object_get_double(pc_json_member(c, "latency_ms")), money,
         json_object_get_boolean(hit) ? "hit" : "-", get_ll(c, "retries"),
         error ? error : "-");
}

/* Text content as it is; other content (a list of parts) as JSON. */
static void print_content(const struct json_object *v)
{
  if (json_object_is_type(v, json_type_string))
    fwrite(json_object_get_string((struct json_object *)v), 1,
           (size_t)json_object_get_string_len(v), stdout);
  else
    fputs(json_object_to_json_string_ext((struct json_object *)v,
                                         JSON_C_TO_STRING_PLAIN), stdout);
  putchar('\n');
}

/* With --messages: the call's messages and completion in full. */
static void print_call_messages(const struct json_object *c)
{
  struct json_object *msgs = pc_json_member(c, "messages");
  struct json_object *done = pc_json_member(c, "completion");

  putchar('\n');
  if (!json_object_is_type(msgs, json_type_array))
    printf("(no messages recorded)\n");
  for (size_t i = 0; i < json_object_array_length(msgs); i++) {
    struct json_object *m = json_object_array_get_idx(msgs, i);
    const char *role = pc_json_str(m, "role");

    printf("[%s]\n", role ? role : "?");
    print_content(pc_json_member(m, "content"));
  }
  printf("[completion]\n");
  if (done)
    print_content(done);
  else
    printf("(none recorded)\n");
  if (pc_json_member(c, "error"))
    printf("[error]\n%s\n",
           pc_json_str(pc_json_member(c, "error"), "message"));
  putchar('\n');
}

/*
 * The calls view: the last `last` calls (0: all) of run `id`, else of the
 * newest run that has calls.
 */
static int show_calls(pc_runstore *rs, const char *id, size_t last,
                      int messages, int json)
{
  struct json_object *run = NULL, *totals = NULL, *calls = NULL;
  char newest[PC_RUN_ID_MAX];
  pc_error err = PC_ERROR_INIT;
  long long total, first;
  size_t n;
  int status = PC_EXIT_OK;

  if (!id) {
    if (pc_runstore_last_run(rs, NULL, newest, &err))
      return cli_fail(PC_EXIT_ENV, &err, "history");
    if (!newest[0]) {
      if (json)
        printf("[]\n");
      else
        printf("no LM calls recorded in %s\n", pc_runstore_path(rs));
      return PC_EXIT_OK;
    }
    id = newest;
  }
  if (pc_runstore_get(rs, id, &run, &err) ||
      pc_runstore_call_totals(rs, id, &totals, &err) ||
      pc_runstore_calls(rs, id, last, &calls, &err)) {
    status = cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_USAGE
                                                   : PC_EXIT_ENV,
                      &err, "history");
    goto out;
  }
  if (json) {
    status = cli_print_json(stdout, calls);
    goto out;
  }
  n = json_object_array_length(calls);
  total = get_ll(totals, "calls");
  first = total - (long long)n + 1;
  printf("run %s (%s, %s): ", id, get_s(run, "kind"), get_s(run, "status"));
  if (n == 0) {
    printf("no LM calls recorded\n");
    goto out;
  }
  if ((long long)n == total)
    printf("%lld LM call%s\n", total, total == 1 ? "" : "s");
  else
    printf("LM calls %lld to %lld of %lld\n", first, total, total);
  print_calls_header();
  for (size_t i = 0; i < n; i++) {
    struct json_object *c = json_object_array_get_idx(calls, i);

    print_call_row(first + (long long)i, c);
    if (messages)
      print_call_messages(c);
  }
out:
  json_object_put(run);
  json_object_put(totals);
  json_object_put(calls);
  return status;
}

#define OPT_LAST 4001
#define OPT_RUN 4002
#define OPT_MESSAGES 4003

/* A count option: an integer >= 1 in *out, or a usage error printed. */
static int parse_count(const char *opt, const char *arg, long *out)
{
  char *end;

  *out = strtol(arg, &end, 10);
  if (!*arg || *end || *out < 1) {
    cli_error("%s: expected an integer >= 1, got '%s'", opt, arg);
    return -1;
  }
  return 0;
}

int cmd_history(int argc, char **argv)
{
  static const struct option opts[] = {
    {"runs", required_argument, NULL, 'r'},
    {"limit", required_argument, NULL, 'n'},
    {"json", no_argument, NULL, 'j'},
    {"last", required_argument, NULL, OPT_LAST},
    {"run", required_argument, NULL, OPT_RUN},
    {"messages", no_argument, NULL, OPT_MESSAGES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *runs = NULL, *run = NULL;
  char *path = NULL;
  long limit = 20, last = 0;
  int json = 0, messages = 0, by_option, c, status;
  pc_runstore *rs = NULL;
  pc_error err = PC_ERROR_INIT;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': runs = optarg; break;
    case 'n':
      if (parse_count("--limit", optarg, &limit))
        return PC_EXIT_USAGE;
      break;
    case 'j': json = 1; break;
    case OPT_LAST:
      if (parse_count("--last", optarg, &last))
        return PC_EXIT_USAGE;
      break;
    case OPT_RUN: run = optarg; break;
    case OPT_MESSAGES: messages = 1; break;
    case 'h': history_usage(stdout); return PC_EXIT_OK;
    default: history_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (argc - optind > 1) {
    cli_error("history: at most one RUN_ID");
    return PC_EXIT_USAGE;
  }
  if (optind < argc && run && strcmp(run, argv[optind]) != 0) {
    cli_error("history: two runs given ('%s' and --run %s); give one",
              argv[optind], run);
    return PC_EXIT_USAGE;
  }
  by_option = run != NULL;
  if (!run && optind < argc)
    run = argv[optind];
  if (messages && !last && !run) {
    cli_error("history: --messages goes with --last N or a run");
    return PC_EXIT_USAGE;
  }
  path = runs ? pc_strdup(runs) : pc_runstore_default_path();
  if (!path) {
    cli_error("history: no run store: set XDG_STATE_HOME or HOME, or give "
              "--runs FILE");
    return PC_EXIT_ENV;
  }
  if (pc_runstore_open(path, &rs, &err)) {
    pc_free(path);
    return cli_fail(PC_EXIT_ENV, &err, "--runs");
  }
  if (last || messages || by_option)
    status = show_calls(rs, run, (size_t)last, messages, json);
  else if (run)
    status = show_run(rs, run, json);
  else
    status = show_list(rs, (size_t)limit, json);
  pc_runstore_close(rs);
  pc_free(path);
  return status;
}
