/* cmd_history.c - `promptc history`: the runs in the run store, and one
 * run's record and trials. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "runstore.h"

static void history_usage(FILE *f)
{
  fputs("usage: promptc history [RUN_ID] [--runs FILE] [--json] "
        "[--limit N]\n\n"
        "Without RUN_ID, list the newest runs of the run store (id, kind, "
        "status,\nstart time, trials). With RUN_ID, show that run: its "
        "arguments, result and\nevery trial the optimizer recorded.\n\n"
        "options:\n"
        "      --runs FILE      the run store (default: "
        "$XDG_STATE_HOME/promptc/runs.sqlite)\n"
        "      --limit N        list at most N runs (default 20)\n"
        "      --json           print JSON\n"
        "  -h, --help           show this help\n", f);
}

static void print_time(long long ms)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char buf[32];

  if (ms <= 0 || !gmtime_r(&t, &tm) ||
      !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
    printf("%-19s", "-");
  else
    printf("%s", buf);
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
    printf("%-24s %-8s %-12s %-19s %s\n", "run", "kind", "status",
           "started (UTC)", "trials");
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
      struct json_object *r = json_object_array_get_idx(runs, i);

      printf("%-24s %-8s %-12s ", get_s(r, "id"), get_s(r, "kind"),
             get_s(r, "status"));
      print_time(get_ll(r, "started_ms"));
      printf(" %lld\n", get_ll(r, "trials"));
    }
  }
  json_object_put(runs);
  return status;
}

static int show_run(pc_runstore *rs, const char *id, int json)
{
  struct json_object *run = NULL, *trials = NULL, *v;
  pc_error err = PC_ERROR_INIT;
  int status = PC_EXIT_OK;

  if (pc_runstore_get(rs, id, &run, &err) ||
      pc_runstore_trials(rs, id, &trials, &err)) {
    json_object_put(run);
    return cli_fail(PC_EXIT_USAGE, &err, "history");
  }
  if (json) {
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
                                   v, JSON_C_TO_STRING_PLAIN));
    if (json_object_object_get_ex(run, "result", &v) && v)
      printf("result    %s\n", json_object_to_json_string_ext(
                                   v, JSON_C_TO_STRING_PLAIN));
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
  return status;
}

int cmd_history(int argc, char **argv)
{
  static const struct option opts[] = {
    {"runs", required_argument, NULL, 'r'},
    {"limit", required_argument, NULL, 'n'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *runs = NULL;
  char *path = NULL, *end;
  long limit = 20;
  int json = 0, c, status;
  pc_runstore *rs = NULL;
  pc_error err = PC_ERROR_INIT;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': runs = optarg; break;
    case 'n':
      limit = strtol(optarg, &end, 10);
      if (!*optarg || *end || limit < 1) {
        cli_error("--limit: expected an integer >= 1, got '%s'", optarg);
        return PC_EXIT_USAGE;
      }
      break;
    case 'j': json = 1; break;
    case 'h': history_usage(stdout); return PC_EXIT_OK;
    default: history_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (argc - optind > 1) {
    cli_error("history: at most one RUN_ID");
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
  status = optind < argc ? show_run(rs, argv[optind], json)
                         : show_list(rs, (size_t)limit, json);
  pc_runstore_close(rs);
  pc_free(path);
  return status;
}
