/* cmd_release.c - `promptc release`: make a release registry, list its
 * channels and artifacts, show one, read the history, roll a channel
 * back. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "release.h"

#define SHORT_DIGEST 12   /* hex digits of a digest shown in text */

static const char *const USAGE_INIT =
  "usage: promptc release init DIR\n\n"
  "Make a new release registry in DIR (created if missing; it must be "
  "empty):\nDIR/index.sqlite and DIR/objects/, with the channels staging "
  "and production,\nboth empty.\n";

static const char *const USAGE_LIST =
  "usage: promptc release list [--registry DIR] [--json]\n\n"
  "List the channels (what each points at, since when) and the stored\n"
  "artifacts.\n";

static const char *const USAGE_SHOW =
  "usage: promptc release show WHAT [--registry DIR] [--json]\n\n"
  "Show one stored artifact: its digest, name, version, signing key, the\n"
  "channels that point at it and its manifest. WHAT is a channel name, a "
  "sha256,\na unique prefix of one (8 or more hex digits) or "
  "NAME@VERSION.\n";

static const char *const USAGE_HISTORY =
  "usage: promptc release history [CHANNEL] [--registry DIR] [--json]\n\n"
  "Every promotion, refusal and rollback of CHANNEL (default: of every\n"
  "channel), oldest first, with who, why and the gates' verdict.\n";

static const char *const USAGE_ROLLBACK =
  "usage: promptc release rollback CHANNEL [--registry DIR] "
  "[--reason TEXT]\n"
  "                                [--actor NAME] [--json]\n\n"
  "Put back the artifact CHANNEL held before its current one was "
  "promoted, and\nrecord a \"rollback\" event. Rolling back twice goes "
  "further back only when\nthe restored artifact was itself promoted "
  "over another.\n";

static const char *const USAGE_OPTIONS =
  "\noptions:\n"
  "      --registry DIR   the release registry (default: "
  "$PROMPTC_REGISTRY)\n"
  "      --json           print JSON (list, show, history, rollback)\n"
  "      --reason TEXT    rollback: why, kept in the history\n"
  "      --actor NAME     rollback: who (default: $USER, else uid:N)\n"
  "  -h, --help           show this help\n\n"
  "exit status: 0 ok, 1 failed (nothing to roll back to, no such "
  "artifact or\nchannel), 2 usage (init: DIR is a registry already or not "
  "empty), 3 not a\nregistry, 4 unreadable, unwritable or out of memory. "
  "See docs/releases.md.\n";

static void release_usage(FILE *f, const char *sub)
{
  if (sub && strcmp(sub, "init") == 0)
    fputs(USAGE_INIT, f);
  else if (sub && strcmp(sub, "list") == 0)
    fputs(USAGE_LIST, f);
  else if (sub && strcmp(sub, "show") == 0)
    fputs(USAGE_SHOW, f);
  else if (sub && strcmp(sub, "history") == 0)
    fputs(USAGE_HISTORY, f);
  else if (sub && strcmp(sub, "rollback") == 0)
    fputs(USAGE_ROLLBACK, f);
  else
    fputs("usage: promptc release init DIR\n"
          "       promptc release list [--registry DIR] [--json]\n"
          "       promptc release show WHAT [--registry DIR] [--json]\n"
          "       promptc release history [CHANNEL] [--registry DIR] "
          "[--json]\n"
          "       promptc release rollback CHANNEL [--registry DIR] "
          "[--reason TEXT]\n"
          "                                [--actor NAME]\n\n"
          "The release registry: signed artifacts stored by digest, the "
          "channels that\npoint at them (staging, production, and any made "
          "by promote --to), and the\nhistory of every decision. Artifacts "
          "reach a channel through promptc promote.\n", f);
  fputs(USAGE_OPTIONS, f);
}

/* ---------------------------------------------------------------------- */
/* Text output                                                            */

/* A table of text cells printed in aligned columns. */
typedef struct text_table {
  size_t cols;
  char **cells;   /* owned: row-major */
  size_t n, cap;
  int oom;        /* a cell could not be added */
} text_table;

static void tt_init(text_table *t, size_t cols)
{
  memset(t, 0, sizeof(*t));
  t->cols = cols;
}

/* Add a copy of `s` ("-" for NULL) as the next cell. */
static void tt_add(text_table *t, const char *s)
{
  char *copy;

  if (t->oom)
    return;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    char **cells = pc_realloc(t->cells, cap * sizeof(*cells));

    if (!cells) {
      t->oom = 1;
      return;
    }
    t->cells = cells;
    t->cap = cap;
  }
  if (!(copy = pc_strdup(s ? s : "-"))) {
    t->oom = 1;
    return;
  }
  t->cells[t->n++] = copy;
}

static void tt_print(const text_table *t, FILE *f)
{
  size_t width[16] = {0};

  for (size_t i = 0; i < t->n; i++) {
    size_t len = strlen(t->cells[i]);

    if (len > width[i % t->cols])
      width[i % t->cols] = len;
  }
  for (size_t i = 0; i < t->n; i++) {
    size_t col = i % t->cols;

    if (col == t->cols - 1)
      fprintf(f, "%s\n", t->cells[i]);
    else
      fprintf(f, "%-*s  ", (int)width[col], t->cells[i]);
  }
}

static void tt_free(text_table *t)
{
  for (size_t i = 0; i < t->n; i++)
    pc_free(t->cells[i]);
  pc_free(t->cells);
}

static const char *get_s(const struct json_object *o, const char *k)
{
  struct json_object *v;

  return json_object_object_get_ex(o, k, &v) && v
           ? json_object_get_string(v) : NULL;
}

static long long get_ll(const struct json_object *o, const char *k)
{
  struct json_object *v;

  return json_object_object_get_ex(o, k, &v) && v
           ? (long long)json_object_get_int64(v) : 0;
}

/* Milliseconds since the epoch as UTC ISO-8601 into buf. */
static const char *iso_time(long long ms, char *buf, size_t n)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  if (ms <= 0 || !gmtime_r(&t, &tm) ||
      !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, n, "-");
  return buf;
}

/* The first 12 hex digits of a digest into buf ("-" for NULL). */
static const char *short_digest(const char *sha, char *buf, size_t n)
{
  snprintf(buf, n, "%.*s", SHORT_DIGEST, sha ? sha : "-");
  return buf;
}

/* "NAME@VERSION" of an object with both, into buf. */
static const char *release_name(const struct json_object *o, char *buf,
                                size_t n)
{
  const char *name = get_s(o, "name"), *version = get_s(o, "version");

  if (!name || !version)
    return "-";
  snprintf(buf, n, "%s@%s", name, version);
  return buf;
}

/* "P/N" gates passed of a gate table, or NULL when there is none. */
static const char *gates_summary(const struct json_object *o, char *buf,
                                 size_t n)
{
  struct json_object *g, *p;
  size_t total, passed = 0;

  if (!json_object_object_get_ex(o, "gates", &g) ||
      !json_object_is_type(g, json_type_array))
    return NULL;
  total = json_object_array_length(g);
  for (size_t i = 0; i < total; i++)
    if (json_object_object_get_ex(json_object_array_get_idx(g, i), "pass",
                                  &p) && json_object_get_boolean(p))
      passed++;
  snprintf(buf, n, "%zu/%zu", passed, total);
  return buf;
}

static int table_done(text_table *t, FILE *f)
{
  int oom = t->oom;

  if (!oom)
    tt_print(t, f);
  tt_free(t);
  if (oom)
    cli_error("release: out of memory");
  return oom ? PC_EXIT_ENV : PC_EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* Subcommands                                                            */

/* The exit status of a failed library call. */
static int status_of(int code)
{
  switch (code) {
  case PC_E_IO:
  case PC_E_NOMEM:
    return PC_EXIT_ENV;
  default:
    return PC_EXIT_FAIL;
  }
}

static int do_init(const char *dir)
{
  pc_error err = PC_ERROR_INIT;

  if (pc_release_init(dir, &err))
    return cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_USAGE
                                                 : status_of(err.code),
                    &err, "release init");
  printf("made release registry %s (channels: production, staging)\n", dir);
  return PC_EXIT_OK;
}

static int do_list(pc_release *r, int json)
{
  struct json_object *list = NULL, *channels, *artifacts;
  pc_error err = PC_ERROR_INIT;
  char t[32], d[16], v[256];
  text_table tt;
  int status;

  if (pc_release_list(r, &list, &err))
    return cli_fail(status_of(err.code), &err, "release list");
  if (json) {
    status = cli_print_json(stdout, list);
    json_object_put(list);
    return status;
  }
  json_object_object_get_ex(list, "channels", &channels);
  json_object_object_get_ex(list, "artifacts", &artifacts);
  tt_init(&tt, 4);
  tt_add(&tt, "channel");
  tt_add(&tt, "artifact");
  tt_add(&tt, "release");
  tt_add(&tt, "since (UTC)");
  for (size_t i = 0; i < json_object_array_length(channels); i++) {
    struct json_object *c = json_object_array_get_idx(channels, i);

    tt_add(&tt, get_s(c, "channel"));
    tt_add(&tt, short_digest(get_s(c, "sha256"), d, sizeof(d)));
    tt_add(&tt, release_name(c, v, sizeof(v)));
    tt_add(&tt, iso_time(get_ll(c, "since_ms"), t, sizeof(t)));
  }
  status = table_done(&tt, stdout);
  if (status == PC_EXIT_OK && json_object_array_length(artifacts) == 0) {
    printf("\nno artifacts stored\n");
  } else if (status == PC_EXIT_OK) {
    printf("\n");
    tt_init(&tt, 4);
    tt_add(&tt, "artifact");
    tt_add(&tt, "release");
    tt_add(&tt, "key");
    tt_add(&tt, "added (UTC)");
    for (size_t i = 0; i < json_object_array_length(artifacts); i++) {
      struct json_object *a = json_object_array_get_idx(artifacts, i);

      tt_add(&tt, short_digest(get_s(a, "sha256"), d, sizeof(d)));
      tt_add(&tt, release_name(a, v, sizeof(v)));
      tt_add(&tt, get_s(a, "key_id") ? get_s(a, "key_id") : "unsigned");
      tt_add(&tt, iso_time(get_ll(a, "added_ms"), t, sizeof(t)));
    }
    status = table_done(&tt, stdout);
  }
  json_object_put(list);
  return status;
}

static int do_show(pc_release *r, const char *what, int json)
{
  struct json_object *o = NULL, *channels, *manifest;
  pc_error err = PC_ERROR_INIT;
  char t[32];
  char *path = NULL;
  int status = PC_EXIT_OK;

  if (pc_release_show(r, what, &o, &err))
    return cli_fail(status_of(err.code), &err, "release show");
  if (json) {
    status = cli_print_json(stdout, o);
    json_object_put(o);
    return status;
  }
  path = pc_release_object_path(r, get_s(o, "sha256"));
  printf("artifact  %s\n", get_s(o, "sha256"));
  printf("name      %s\n", get_s(o, "name"));
  printf("version   %s\n", get_s(o, "version"));
  printf("key       %s\n", get_s(o, "key_id") ? get_s(o, "key_id")
                                              : "unsigned");
  printf("added     %s\n", iso_time(get_ll(o, "added_ms"), t, sizeof(t)));
  printf("channels  ");
  json_object_object_get_ex(o, "channels", &channels);
  if (json_object_array_length(channels) == 0)
    printf("-");
  for (size_t i = 0; i < json_object_array_length(channels); i++)
    printf("%s%s", i ? ", " : "", json_object_get_string(
                                    json_object_array_get_idx(channels, i)));
  printf("\nfile      %s\n", path ? path : "-");
  if (json_object_object_get_ex(o, "manifest", &manifest)) {
    printf("manifest\n");
    status = cli_print_json(stdout, manifest);
  }
  pc_free(path);
  json_object_put(o);
  return status;
}

/* Add the text columns of one event to `tt`. */
static void history_row(text_table *tt, const struct json_object *e)
{
  char buf[32], d1[16], d2[16], v[256];
  const char *reason = get_s(e, "reason");

  snprintf(buf, sizeof(buf), "%lld", get_ll(e, "id"));
  tt_add(tt, buf);
  tt_add(tt, iso_time(get_ll(e, "time_ms"), buf, sizeof(buf)));
  tt_add(tt, get_s(e, "action"));
  tt_add(tt, get_s(e, "channel"));
  tt_add(tt, short_digest(get_s(e, "sha256"), d1, sizeof(d1)));
  tt_add(tt, release_name(e, v, sizeof(v)));
  tt_add(tt, short_digest(get_s(e, "before"), d2, sizeof(d2)));
  tt_add(tt, get_s(e, "actor"));
  tt_add(tt, gates_summary(e, buf, sizeof(buf)));
  tt_add(tt, reason && *reason ? reason : "-");
}

static int do_history(pc_release *r, const char *channel, int json)
{
  static const char *const head[] = {
    "id", "time (UTC)", "action", "channel", "artifact", "release",
    "before", "actor", "gates", "reason"
  };
  struct json_object *hist = NULL;
  pc_error err = PC_ERROR_INIT;
  text_table tt;
  int status;

  if (channel && !pc_release_channel_valid(channel)) {
    cli_error("release history: '%s' is not a channel name (1 to 32 of "
              "a-z 0-9 . _ -)", channel);
    return PC_EXIT_USAGE;
  }
  if (pc_release_history(r, channel, &hist, &err))
    return cli_fail(status_of(err.code), &err, "release history");
  if (json) {
    status = cli_print_json(stdout, hist);
  } else if (json_object_array_length(hist) == 0) {
    printf("no events%s%s\n", channel ? " on " : "", channel ? channel : "");
    status = PC_EXIT_OK;
  } else {
    tt_init(&tt, 10);
    for (size_t i = 0; i < 10; i++)
      tt_add(&tt, head[i]);
    for (size_t i = 0; i < json_object_array_length(hist); i++)
      history_row(&tt, json_object_array_get_idx(hist, i));
    status = table_done(&tt, stdout);
  }
  json_object_put(hist);
  return status;
}

/* "abcdef123456 (NAME@VERSION)" for a digest, into buf. */
static const char *describe(pc_release *r, const char *sha, char *buf,
                            size_t n)
{
  struct json_object *o = NULL;
  char v[256];

  if (!sha) {
    snprintf(buf, n, "nothing");
    return buf;
  }
  if (pc_release_show(r, sha, &o, NULL) == PC_OK)
    snprintf(buf, n, "%.*s (%s)", SHORT_DIGEST, sha,
             release_name(o, v, sizeof(v)));
  else
    snprintf(buf, n, "%.*s", SHORT_DIGEST, sha);
  json_object_put(o);
  return buf;
}

/* Who is acting: --actor, else $USER, else the uid as "uid:N". */
static const char *default_actor(char *buf, size_t n)
{
  const char *user = getenv("USER");

  if (user && *user)
    return user;
  snprintf(buf, n, "uid:%lu", (unsigned long)getuid());
  return buf;
}

static int do_rollback(pc_release *r, const char *channel, const char *reason,
                       const char *actor, int json)
{
  struct json_object *hist = NULL, *ev = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_release_event e;
  char *target = NULL, who[32], was[300], now[300];
  int64_t id = 0;
  int status = PC_EXIT_OK;

  if (!pc_release_channel_valid(channel)) {
    cli_error("release rollback: '%s' is not a channel name (1 to 32 of "
              "a-z 0-9 . _ -)", channel);
    return PC_EXIT_USAGE;
  }
  if (pc_release_rollback_target(r, channel, &target, &err))
    return cli_fail(status_of(err.code), &err, "release rollback");
  memset(&e, 0, sizeof(e));
  e.action = "rollback";
  e.channel = channel;
  e.sha256 = target;
  e.actor = actor ? actor : default_actor(who, sizeof(who));
  e.reason = reason;
  if (pc_release_record(r, &e, &id, &err)) {
    status = cli_fail(status_of(err.code), &err, "release rollback");
    goto out;
  }
  /* Print what the event recorded, which is what really happened. */
  if (pc_release_history(r, channel, &hist, &err)) {
    status = cli_fail(status_of(err.code), &err, "release rollback");
    goto out;
  }
  for (size_t i = json_object_array_length(hist); i-- > 0 && !ev;)
    if (get_ll(json_object_array_get_idx(hist, i), "id") == (long long)id)
      ev = json_object_array_get_idx(hist, i);
  if (!ev) {
    cli_error("release rollback: event %lld was recorded but cannot be "
              "read back", (long long)id);
    status = PC_EXIT_ENV;
  } else if (json) {
    status = cli_print_json(stdout, ev);
  } else {
    printf("%s: rolled back (event %lld)\n", channel, (long long)id);
    printf("  was  %s\n", describe(r, get_s(ev, "before"), was,
                                   sizeof(was)));
    printf("  now  %s\n", describe(r, get_s(ev, "after"), now, sizeof(now)));
  }
out:
  json_object_put(hist);
  pc_free(target);
  return status;
}

int cmd_release(int argc, char **argv)
{
  enum { OPT_REGISTRY = 1000, OPT_JSON, OPT_REASON, OPT_ACTOR };
  static const struct option opts[] = {
    {"registry", required_argument, NULL, OPT_REGISTRY},
    {"json", no_argument, NULL, OPT_JSON},
    {"reason", required_argument, NULL, OPT_REASON},
    {"actor", required_argument, NULL, OPT_ACTOR},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *registry = NULL, *reason = NULL, *actor = NULL, *sub;
  pc_release *r = NULL;
  pc_error err = PC_ERROR_INIT;
  int json = 0, help = 0, c, n_args, status;
  char **args;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case OPT_REGISTRY: registry = optarg; break;
    case OPT_JSON: json = 1; break;
    case OPT_REASON: reason = optarg; break;
    case OPT_ACTOR: actor = optarg; break;
    case 'h': help = 1; break;
    default: release_usage(stderr, NULL); return PC_EXIT_USAGE;
    }
  }
  sub = optind < argc ? argv[optind] : NULL;
  args = argv + optind + 1;
  n_args = optind < argc ? argc - optind - 1 : 0;
  if (help) {
    release_usage(stdout, sub);
    return PC_EXIT_OK;
  }
  if (!sub) {
    release_usage(stderr, NULL);
    return PC_EXIT_USAGE;
  }
  if (strcmp(sub, "init") != 0 && strcmp(sub, "list") != 0 &&
      strcmp(sub, "show") != 0 && strcmp(sub, "history") != 0 &&
      strcmp(sub, "rollback") != 0) {
    cli_error("release: unknown subcommand '%s' (init, list, show, "
              "history, rollback)", sub);
    return PC_EXIT_USAGE;
  }
  if ((reason || actor) && strcmp(sub, "rollback") != 0) {
    cli_error("release %s: --reason and --actor go with rollback", sub);
    return PC_EXIT_USAGE;
  }
  if (actor && !*actor) {
    cli_error("release rollback: --actor: empty name");
    return PC_EXIT_USAGE;
  }
  if ((strcmp(sub, "list") == 0 && n_args != 0) ||
      (strcmp(sub, "history") == 0 && n_args > 1) ||
      ((strcmp(sub, "show") == 0 || strcmp(sub, "rollback") == 0) &&
       n_args != 1) ||
      (strcmp(sub, "init") == 0 && (n_args > 1 || json ||
                                    (n_args == 0 && !registry)))) {
    release_usage(stderr, sub);
    return PC_EXIT_USAGE;
  }
  if (strcmp(sub, "init") == 0)
    return do_init(n_args ? args[0] : registry);
  if (!registry)
    registry = getenv("PROMPTC_REGISTRY");
  if (!registry || !*registry) {
    cli_error("release %s: no registry: give --registry DIR or set "
              "PROMPTC_REGISTRY", sub);
    return PC_EXIT_USAGE;
  }
  if (pc_release_open(registry, &r, &err))
    return cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_INPUT
                                                 : status_of(err.code),
                    &err, "--registry");
  if (strcmp(sub, "list") == 0)
    status = do_list(r, json);
  else if (strcmp(sub, "show") == 0)
    status = do_show(r, args[0], json);
  else if (strcmp(sub, "history") == 0)
    status = do_history(r, n_args ? args[0] : NULL, json);
  else
    status = do_rollback(r, args[0], reason, actor, json);
  pc_release_close(r);
  return status;
}
