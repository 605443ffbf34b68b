/*
 * cmd_promote.c - `promptc promote`: evaluate a verified artifact and the
 * channel's current one on a held-out split, check every gate, record
 * the decision in the release registry and move the channel only when
 * all gates pass.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alloc.h"
#include "artifact.h"
#include "buf.h"
#include "cli.h"
#include "dataset.h"
#include "gates.h"
#include "hash.h"
#include "json_text.h"
#include "metric.h"
#include "program.h"
#include "release.h"

#define PC_EXIT_REFUSED 7

struct promote_args {
  const char *artifact, *registry, *channel, *gates, *test, *actor;
  const char *reason;
  cli_run_opts ro;
  cli_artifact_opts ao;
  int progress, json;
};

static void promote_usage(FILE *f)
{
  fputs("usage: promptc promote NAME-VERSION.ppa --registry DIR --to CHANNEL\n"
        "                       --gates GATES.json --test FILE --config FILE\n"
        "                       [--keyring FILE | -p KEY.pub] "
        "[--allow-unsigned]\n"
        "                       [--actor NAME] [--reason TEXT] [--json]\n"
        "                       [--threads N] [--cache PATH | --no-cache]\n\n"
        "Verify the artifact, score it on the held-out split FILE, and score\n"
        "the channel's current artifact on the same split as the baseline.\n"
        "Check every gate of GATES.json (docs/releases.md): minimum score\n"
        "overall and per slice, no regression beyond a tolerance overall and\n"
        "per slice, critical slices, minimum test size, test disjoint from\n"
        "the artifact's train and val splits by example content, required\n"
        "signing key and model identity. Print the gate table, record the\n"
        "decision in the registry either way, and move the channel only when\n"
        "every gate passes. Exit 0 when promoted, 7 when refused.\n\n"
        "      --registry DIR   the release registry (promptc release init;\n"
        "                       default: $PROMPTC_REGISTRY)\n"
        "      --to CHANNEL     staging, production or a channel of yours\n"
        "      --gates FILE     the gates (promptc.gates/1)\n"
        "      --test FILE      the held-out split\n"
        "  -c, --config FILE    the run configuration: the LM to score with\n"
        "      --actor NAME     who decides (default: $USER)\n"
        "      --reason TEXT    why, kept in the history\n"
        "      --no-progress    no live progress line\n"
        "      --json           print the decision as JSON\n"
        "      --keyring FILE, -p KEY.pub, --allow-unsigned  as for verify\n"
        "(--allow-model-drift is refused: gates are measured on the model\n"
        "the artifact was compiled for.)\n", f);
}

enum {
  OPT_REGISTRY = 3001, OPT_TO, OPT_GATES, OPT_TEST, OPT_ACTOR, OPT_REASON,
  OPT_JSON, OPT_NO_PROGRESS
};

static int parse_args(int argc, char **argv, struct promote_args *a)
{
  static const struct option opts[] = {
    {"registry", required_argument, NULL, OPT_REGISTRY},
    {"to", required_argument, NULL, OPT_TO},
    {"gates", required_argument, NULL, OPT_GATES},
    {"test", required_argument, NULL, OPT_TEST},
    {"actor", required_argument, NULL, OPT_ACTOR},
    {"reason", required_argument, NULL, OPT_REASON},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    CLI_RUN_LONG_OPTIONS,
    CLI_ARTIFACT_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c, r;

  memset(a, 0, sizeof(*a));
  a->progress = 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:a:p:h", opts, NULL)) != -1) {
    if ((r = cli_run_option(c, optarg, &a->ro)) != 0) {
      if (r < 0)
        return PC_EXIT_USAGE;
      continue;
    }
    if (c != CLI_OPT_ARTIFACT && cli_artifact_option(c, optarg, &a->ao))
      continue;
    switch (c) {
    case OPT_REGISTRY: a->registry = optarg; break;
    case OPT_TO: a->channel = optarg; break;
    case OPT_GATES: a->gates = optarg; break;
    case OPT_TEST: a->test = optarg; break;
    case OPT_ACTOR: a->actor = optarg; break;
    case OPT_REASON: a->reason = optarg; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_NO_PROGRESS: a->progress = 0; break;
    case 'h': promote_usage(stdout); return -1;
    default: promote_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_error(optind >= argc ? "promote: no artifact given"
                             : "promote: one artifact at a time");
    return PC_EXIT_USAGE;
  }
  a->artifact = argv[optind];
  if (!a->registry)
    a->registry = getenv("PROMPTC_REGISTRY");
  if (!a->registry || !a->channel || !a->gates || !a->test) {
    cli_error("promote: --registry, --to, --gates and --test are required");
    return PC_EXIT_USAGE;
  }
  if (a->ao.allow_model_drift) {
    cli_error("promote: --allow-model-drift is not accepted: the gates must "
              "be measured on the model the artifact was compiled for");
    return PC_EXIT_USAGE;
  }
  if (!pc_release_channel_valid(a->channel)) {
    cli_error("promote: --to %s: a channel name is lower-case letters, "
              "digits, '.', '_' and '-' (at most 32)", a->channel);
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* Scores as the gates read them, borrowing names from `summary`. */
struct scores {
  pc_gate_scores g;
  pc_gate_slice *slices;
};

static int scores_from(const struct json_object *summary, struct scores *s)
{
  struct json_object *sl = pc_json_member(summary, "slices");
  size_t n = 0;

  memset(s, 0, sizeof(*s));
  s->g.n = (size_t)json_object_get_int64(pc_json_member(summary, "evaluated"));
  s->g.mean = json_object_get_double(pc_json_member(summary, "score"));
  s->g.ci_low = json_object_get_double(pc_json_member(summary, "ci95_low"));
  s->g.ci_high = json_object_get_double(pc_json_member(summary, "ci95_high"));
  if (sl && json_object_object_length(sl) > 0) {
    s->slices = pc_calloc((size_t)json_object_object_length(sl),
                          sizeof(*s->slices));
    if (!s->slices)
      return PC_EXIT_ENV;
    json_object_object_foreach(sl, name, v) {
      s->slices[n].name = name;
      s->slices[n].n = (size_t)json_object_get_int64(pc_json_member(v, "n"));
      s->slices[n].mean = json_object_get_double(pc_json_member(v, "score"));
      n++;
    }
  }
  s->g.slices = s->slices;
  s->g.n_slices = n;
  return PC_EXIT_OK;
}

/* The channel's current artifact, the baseline: the registry's copy,
 * addressed by its sha256, must still have that digest. It was verified
 * when it was promoted; its key may have been revoked or expired since,
 * which must not block its replacement, so the key is not checked again
 * (a warning goes into the decision record). */
static int current_program(const char *channel, pc_release *reg,
                           const char *sha, pc_artifact **art,
                           pc_program **prog)
{
  pc_error err = PC_ERROR_INIT;
  pc_artifact_opts ao;
  struct json_object *pj = NULL;
  char *path = pc_release_object_path(reg, sha);
  char *sig = pc_release_sig_path(reg, sha);
  int failure = 0, status = PC_EXIT_OK;

  *art = NULL;
  *prog = NULL;
  memset(&ao, 0, sizeof(ao));
  ao.allow_unsigned = 1;
  ao.any_file_name = 1;
  ao.sig_path = sig;
  if (!path || !sig) {
    cli_error("promote: out of memory");
    status = PC_EXIT_ENV;
  } else if (pc_artifact_open(path, &ao, art, &failure, &err)) {
    cli_error("promote: the current artifact of %s (%.12s): %s", channel,
              sha, err.message);
    status = PC_EXIT_INPUT;
  } else if (strcmp((*art)->sha256, sha)) {
    cli_error("promote: the current artifact of %s: %s has sha256 %.12s, "
              "not %.12s (the registry is damaged)", channel, path,
              (*art)->sha256, sha);
    status = PC_EXIT_INPUT;
  } else if (pc_artifact_program_json(*art, &pj, &err) ||
             pc_program_from_json((*art)->path, pj, prog, &err)) {
    cli_error("promote: the current artifact of %s: %s", channel,
              err.message);
    status = PC_EXIT_INPUT;
  }
  json_object_put(pj);
  pc_free(path);
  pc_free(sig);
  return status;
}

/* train + val content hashes from the manifest. */
static const char **seen_hashes(const pc_artifact *art, size_t *n)
{
  static const char *const splits[] = {"train", "val"};
  const char **out;
  size_t cap = 0, k = 0;

  for (int i = 0; i < 2; i++) {
    struct json_object *e = pc_json_member(pc_json_member(pc_json_member(art->manifest, "splits"),
                                      splits[i]), "examples");

    if (e && json_object_is_type(e, json_type_array))
      cap += json_object_array_length(e);
  }
  out = pc_calloc(cap ? cap : 1, sizeof(*out));
  for (int i = 0; out && i < 2; i++) {
    struct json_object *e = pc_json_member(pc_json_member(pc_json_member(art->manifest, "splits"),
                                      splits[i]), "examples");

    for (size_t j = 0; e && json_object_is_type(e, json_type_array) &&
                       j < json_object_array_length(e); j++) {
      struct json_object *h = json_object_array_get_idx(e, j);

      if (json_object_is_type(h, json_type_string))
        out[k++] = json_object_get_string(h);
    }
  }
  *n = k;
  return out;
}

static struct json_object *model_map(const pc_artifact *art)
{
  struct json_object *m = json_object_new_object();
  struct json_object *models = pc_json_member(art->manifest, "models");

  if (m && models && json_object_is_type(models, json_type_object)) {
    json_object_object_foreach(models, role, rec) {
      const char *id = pc_json_str(rec, "identity");

      if (id)
        json_object_object_add(m, role, json_object_new_string(id));
    }
  }
  return m;
}

static char *actor_name(const char *given)
{
  const char *u = getenv("USER");
  pc_buf b;

  if (given)
    return pc_strdup(given);
  if (u && *u)
    return pc_strdup(u);
  pc_buf_init(&b, 64);
  pc_buf_printf(&b, "uid:%lu", (unsigned long)getuid());
  return pc_buf_take(&b, NULL);
}

struct ctx {
  struct promote_args a;
  pc_artifact *art, *cur_art;
  pc_gates *gates;
  pc_release *reg;
  cli_session s;
  pc_metric *metric;
  pc_dataset *test;
  pc_program *cur_prog;
  char *cur_sha, *actor;
  struct json_object *cand, *cur, *table, *models, *detail;
  struct scores cs, bs;
  const char **seen, **test_hashes, **test_ids;
  char (*hash_store)[PC_SHA256_HEX_LEN + 1];
  size_t n_seen;
};

static void ctx_free(struct ctx *x)
{
  pc_artifact_free(x->art);
  pc_artifact_free(x->cur_art);
  pc_gates_free(x->gates);
  pc_release_close(x->reg);
  pc_metric_close(x->metric);
  pc_dataset_free(x->test);
  pc_program_free(x->cur_prog);
  cli_session_close(&x->s);
  pc_free(x->cur_sha);
  pc_free(x->actor);
  json_object_put(x->cand);
  json_object_put(x->cur);
  json_object_put(x->table);
  json_object_put(x->models);
  json_object_put(x->detail);
  pc_free(x->cs.slices);
  pc_free(x->bs.slices);
  pc_free(x->seen);
  pc_free(x->test_hashes);
  pc_free(x->test_ids);
  pc_free(x->hash_store);
}

static int open_inputs(struct ctx *x)
{
  pc_error err = PC_ERROR_INIT;
  const char *metric;
  int status;

  if ((status = cli_artifact_open(x->a.artifact, NULL, &x->a.ao, 0,
                                  &x->art)))
    return status;
  if (pc_gates_load(x->a.gates, &x->gates, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "--gates");
  if (pc_release_open(x->a.registry, &x->reg, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "--registry");
  if ((status = cli_session_open_artifact(x->art, &x->a.ao, &x->a.ro, 1,
                                          &x->s)))
    return status;
  metric = pc_gates_metric(x->gates);
  if (!metric)
    metric = pc_json_str(pc_json_member(x->art->manifest, "metric"), "name");
  if ((status = cli_open_metric(metric, &x->s, "promote", &x->metric)) ||
      (status = cli_load_dataset(x->a.test, NULL, x->s.prog, 0, "--test",
                                 &x->test)))
    return status;
  if (pc_release_current(x->reg, x->a.channel, &x->cur_sha, &err))
    return cli_fail(PC_EXIT_ENV, &err, "--registry");
  if (x->cur_sha && (status = current_program(x->a.channel, x->reg,
                                              x->cur_sha, &x->cur_art,
                                              &x->cur_prog)))
    return status;
  return PC_EXIT_OK;
}

static int check_gates(struct ctx *x, int *passed)
{
  pc_gate_inputs in;
  pc_error err = PC_ERROR_INIT;
  int status;

  if ((status = cli_score(&x->s, x->s.prog, x->test, x->metric,
                          x->a.progress, "promote: candidate", &x->cand)))
    return status;
  if (x->cur_prog &&
      (status = cli_score(&x->s, x->cur_prog, x->test, x->metric,
                          x->a.progress, "promote: current", &x->cur)))
    return status;
  if ((status = scores_from(x->cand, &x->cs)) ||
      (x->cur && (status = scores_from(x->cur, &x->bs))))
    return status;
  x->seen = seen_hashes(x->art, &x->n_seen);
  x->test_hashes = pc_calloc(x->test->n_rows + 1, sizeof(char *));
  x->test_ids = pc_calloc(x->test->n_rows + 1, sizeof(char *));
  x->hash_store = pc_calloc(x->test->n_rows + 1, sizeof(*x->hash_store));
  x->models = model_map(x->art);
  if (!x->seen || !x->test_hashes || !x->test_ids || !x->hash_store ||
      !x->models) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  for (size_t i = 0; i < x->test->n_rows; i++) {
    if (pc_example_content_hash(&x->test->rows[i], x->hash_store[i])) {
      cli_error("out of memory");
      return PC_EXIT_ENV;
    }
    x->test_hashes[i] = x->hash_store[i];
    x->test_ids[i] = x->test->rows[i].id;
  }
  memset(&in, 0, sizeof(in));
  in.candidate = &x->cs.g;
  in.current = x->cur ? &x->bs.g : NULL;
  in.test_hashes = x->test_hashes;
  in.test_ids = x->test_ids;
  in.n_test = x->test->n_rows;
  in.seen_hashes = x->seen;
  in.n_seen = x->n_seen;
  in.key_id = x->art->is_signed ? x->art->key_id : NULL;
  in.models = x->models;
  if (pc_gates_check(x->gates, &in, &x->table, passed, &err))
    return cli_fail(PC_EXIT_ENV, &err, "promote");
  return PC_EXIT_OK;
}

static int record(struct ctx *x, int passed, int64_t *event)
{
  pc_release_artifact ra;
  pc_release_event ev;
  pc_error err = PC_ERROR_INIT;
  char test_hex[PC_SHA256_HEX_LEN + 1];

  memset(&ra, 0, sizeof(ra));
  ra.name = x->art->name;
  ra.version = x->art->version;
  ra.sha256 = x->art->sha256;
  ra.key_id = x->art->is_signed ? x->art->key_id : NULL;
  ra.manifest = x->art->manifest;
  /* The signature that verified goes into the registry, not a re-read. */
  if (pc_release_store(x->reg, &ra, x->art->bytes, x->art->len,
                       x->art->sig_text, x->art->sig_len, &err))
    return cli_fail(PC_EXIT_ENV, &err, "--registry");
  if (pc_dataset_hash(x->test, test_hex) ||
      !(x->detail = json_object_new_object()) ||
      !(x->actor = actor_name(x->a.actor))) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  json_object_object_add(x->detail, "candidate", json_object_get(x->cand));
  json_object_object_add(x->detail, "current", json_object_get(x->cur));
  json_object_object_add(x->detail, "current_sha256", x->cur_sha
                           ? json_object_new_string(x->cur_sha) : NULL);
  json_object_object_add(x->detail, "test", json_object_new_object());
  json_object_object_add(pc_json_member(x->detail, "test"), "path",
                         json_object_new_string(x->a.test));
  json_object_object_add(pc_json_member(x->detail, "test"), "split_sha256",
                         json_object_new_string(test_hex));
  json_object_object_add(pc_json_member(x->detail, "test"), "n", json_object_new_int64(
                                                  (int64_t)x->test->n_rows));
  json_object_object_add(x->detail, "metric", json_object_new_string(
                                                pc_metric_label(x->metric)));
  json_object_object_add(x->detail, "gates_file",
                         pc_gates_json(x->gates));
  if (x->art->warning)
    json_object_object_add(x->detail, "warning",
                           json_object_new_string(x->art->warning));
  if (x->cur_art && x->cur_art->warning)
    json_object_object_add(x->detail, "current_warning",
                           json_object_new_string(x->cur_art->warning));
  memset(&ev, 0, sizeof(ev));
  ev.action = passed ? "promote" : "refuse";
  ev.channel = x->a.channel;
  ev.sha256 = x->art->sha256;
  ev.actor = x->actor;
  ev.reason = x->a.reason;
  ev.gates = x->table;
  ev.detail = x->detail;
  ev.check_before = 1;  /* what the gates compared with */
  ev.before = x->cur_sha;
  if (pc_release_record(x->reg, &ev, event, &err))
    return cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_FAIL
                                                 : PC_EXIT_ENV,
                    &err, "--registry");
  return PC_EXIT_OK;
}

int cmd_promote(int argc, char **argv)
{
  struct ctx x;
  pc_buf text;
  int64_t event = 0;
  int status, passed = 0;

  memset(&x, 0, sizeof(x));
  status = parse_args(argc, argv, &x.a);
  if (status != PC_EXIT_OK)
    return status < 0 ? PC_EXIT_OK : status;
  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  if ((status = open_inputs(&x)) || (status = check_gates(&x, &passed)) ||
      (status = record(&x, passed, &event)))
    goto out;
  if (x.a.json) {
    struct json_object *o = json_object_new_object();

    if (o) {
      json_object_object_add(o, "promoted", json_object_new_boolean(passed));
      json_object_object_add(o, "event", json_object_new_int64(event));
      json_object_object_add(o, "channel",
                             json_object_new_string(x.a.channel));
      json_object_object_add(o, "sha256",
                             json_object_new_string(x.art->sha256));
      json_object_object_add(o, "gates", json_object_get(x.table));
      json_object_object_add(o, "detail", json_object_get(x.detail));
      cli_print_json(stdout, o);
      json_object_put(o);
    }
  } else {
    printf("candidate %s %s (%.12s) -> %s\n", x.art->name, x.art->version,
           x.art->sha256, x.a.channel);
    if (x.cur_art)
      printf("current   %s %s (%.12s)\n", x.cur_art->name,
             x.cur_art->version, x.cur_sha);
    else
      printf("current   none: the channel is empty\n");
    printf("test      %s: %zu examples, metric %s\n\n", x.a.test,
           x.test->n_rows, pc_metric_label(x.metric));
    if (pc_gates_table_text(x.table, &text) == PC_OK && text.data)
      fputs(text.data, stdout);
    printf("%s %s (event %lld)\n", passed ? "promoted" : "refused",
           passed ? "and recorded" : "and recorded; the channel is "
           "unchanged", (long long)event);
  }
  status = passed ? PC_EXIT_OK : PC_EXIT_REFUSED;
out:
  pc_buf_free(&text);
  ctx_free(&x);
  return status;
}
