/*
 * cmd_plugins_check.c - `promptc plugins check FILE.so`: a conformance run
 * of one plugin file, printed as a table of PASS, FAIL, WARN and SKIP rows.
 *
 * This file reads the options, keeps the table and prints it. The
 * exported symbols are read from the file in this process (check_elf.c).
 * Everything that runs plugin code runs in a child process (check_child.c):
 * one child loads the plugin and checks the entry, the descriptor, init,
 * every interface table and create/destroy (check_descriptor.c), then one
 * child per interface table runs that kind's short behavioural check
 * (check_behaviour.c). A plugin that crashes or hangs is reported as a
 * FAIL row of the check it was in and the run goes on. The parent alone
 * prints.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alloc.h"
#include "check.h"
#include "cli.h"
#include "loader.h"

/* The exit status when a check FAILed (docs/cli.md). */
#define CHECK_EXIT_FAILED 8

/* How long one child may run, by default, in seconds. */
#define CHECK_TIMEOUT_DEFAULT 60

/* ---- what the checks share ------------------------------------------- */

/* A clean error: a known code and a non-empty one-line message. Writes
 * what is wrong to `why` and returns 0 when it is not clean. */
int check_clean_error(int rc, const pc_error *err, char *why, size_t cap)
{
  const char *m = err->message;

  if (rc <= PC_OK || rc >= PC_E_LAST) {
    snprintf(why, cap, "returned %d, not a PC_E_* code", rc);
    return 0;
  }
  if (!memchr(m, '\0', sizeof(err->message))) {
    snprintf(why, cap, "code %d with a message that is not NUL-terminated",
             rc);
    return 0;
  }
  if (!m[0]) {
    snprintf(why, cap, "code %d with an empty message", rc);
    return 0;
  }
  if (strchr(m, '\n')) {
    snprintf(why, cap, "code %d with a message of several lines", rc);
    return 0;
  }
  return 1;
}

/* Append "; text" (or "text") to a problem list. */
void check_note(char *list, size_t cap, const char *fmt, ...)
{
  size_t used = strlen(list);
  va_list ap;

  if (used && used + 2 < cap) {
    memcpy(list + used, "; ", 3);
    used += 2;
  }
  if (used + 1 >= cap)
    return;
  va_start(ap, fmt);
  vsnprintf(list + used, cap - used, fmt, ap);
  va_end(ap);
}

/* ---- the table ------------------------------------------------------- */

/* Make room for one more item of `size` bytes in the array *items of *cap
 * items, `n` of them used: doubles it (from `first`) when full. PC_OK, or
 * PC_E_NOMEM with the array unchanged. */
static int grow(void **items, size_t *cap, size_t n, size_t size,
                size_t first)
{
  size_t more = *cap ? *cap * 2 : first;
  void *grown;

  if (n < *cap)
    return PC_OK;
  grown = pc_realloc(*items, more * size);
  if (!grown)
    return PC_E_NOMEM;
  *items = grown;
  *cap = more;
  return PC_OK;
}

int check_add_row(check_table *tb, const char *status, const char *name,
                  const char *fmt, ...)
{
  check_row *r;
  va_list ap;

  if (grow((void **)&tb->rows, &tb->cap, tb->n, sizeof(*r), 32))
    return PC_E_NOMEM;
  r = &tb->rows[tb->n++];
  snprintf(r->status, sizeof(r->status), "%s", status);
  snprintf(r->name, sizeof(r->name), "%s", name);
  va_start(ap, fmt);
  vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
  va_end(ap);
  if (!strcmp(status, "FAIL"))
    tb->failed++;
  else if (!strcmp(status, "PASS"))
    tb->passed++;
  else if (!strcmp(status, "SKIP"))
    tb->skipped++;
  else
    tb->warned++;
  return PC_OK;
}

int check_add_task(check_table *tb, size_t kind, uint32_t index,
                   const char *name)
{
  check_task *t;

  if (kind >= CHECK_N_KINDS)
    return PC_OK;
  if (grow((void **)&tb->tasks, &tb->cap_tasks, tb->n_tasks, sizeof(*t), 8))
    return PC_E_NOMEM;
  t = &tb->tasks[tb->n_tasks++];
  t->kind = kind;
  t->index = index;
  snprintf(t->name, sizeof(t->name), "%s", name);
  return PC_OK;
}

/* ---- output ---------------------------------------------------------- */

static void print_table(const check_table *tb, const check_opts *o)
{
  size_t w = 10;

  for (size_t i = 0; i < tb->n; i++)
    if (strlen(tb->rows[i].name) > w)
      w = strlen(tb->rows[i].name);
  printf("plugins check %s\n", o->path);
  for (size_t i = 0; i < tb->n; i++)
    printf("%-4s  %-*s  %s\n", tb->rows[i].status, (int)w, tb->rows[i].name,
           tb->rows[i].detail);
  printf("%d passed, %d failed, %d skipped, %d warnings: %s\n", tb->passed,
         tb->failed, tb->skipped, tb->warned,
         tb->failed ? "NOT CONFORMING" : "conforming");
}

static int print_json(const check_table *tb, const check_opts *o)
{
  struct json_object *root = json_object_new_object();
  struct json_object *rows = json_object_new_array();
  int status;

  if (!root || !rows) {
    json_object_put(root);
    json_object_put(rows);
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  for (size_t i = 0; i < tb->n; i++) {
    struct json_object *r = json_object_new_object();

    json_object_object_add(r, "status",
                           json_object_new_string(tb->rows[i].status));
    json_object_object_add(r, "check",
                           json_object_new_string(tb->rows[i].name));
    json_object_object_add(r, "detail",
                           json_object_new_string(tb->rows[i].detail));
    json_object_array_add(rows, r);
  }
  json_object_object_add(root, "file", json_object_new_string(o->path));
  json_object_object_add(root, "checks", rows);
  json_object_object_add(root, "passed", json_object_new_int(tb->passed));
  json_object_object_add(root, "failed", json_object_new_int(tb->failed));
  json_object_object_add(root, "skipped", json_object_new_int(tb->skipped));
  json_object_object_add(root, "warnings", json_object_new_int(tb->warned));
  json_object_object_add(root, "ok", json_object_new_boolean(!tb->failed));
  status = cli_print_json(stdout, root);
  json_object_put(root);
  return status;
}

/* The "file" row: the loader's own checks of the file before it loads
 * it (regular, not group- or world-writable, owned by us or root), so a
 * file `plugins list` would refuse does not pass here. */
static void check_file_row(check_table *tb, const char *path)
{
  pc_error err = PC_ERROR_INIT;

  if (pc_plugin_check_file(path, &err))
    check_add_row(tb, "FAIL", "file", "%s", err.message);
  else
    check_add_row(tb, "PASS", "file", "a regular file, not group- or "
                  "world-writable, owned by us or root");
}

/* ---- the command ----------------------------------------------------- */

static void check_usage(FILE *f)
{
  fputs("usage: promptc plugins check FILE.so [--json] [--sim-config CFG]\n"
        "                             [--settings JSON] [--timeout SECS]\n\n"
        "Run the conformance checks on one plugin file and print a row per "
        "check:\n"
        "PASS, FAIL, WARN or SKIP, its name and what was found, then a "
        "summary.\n"
        "The loader's file checks come first (regular, not group- or "
        "world-writable,\n"
        "owned by us or root); then the file is loaded by itself; the "
        "plugins\n"
        "a behavioural check needs (the sim LM, the chat and json adapters, "
        "the\n"
        "exact_match metric) come from the plugin path as usual, and a "
        "check whose\n"
        "plugins are missing there is SKIP.\n"
        "Plugin code runs in child processes: a crash or a hang is a FAIL "
        "row.\n\n"
        "options:\n"
        "      --json           print the rows and the summary as JSON\n"
        "      --sim-config CFG serve this config's \"lm\" role to LM "
        "providers and\n"
        "                       optimizers (default: the built-in sim)\n"
        "      --settings JSON  the config behavioural runs create the "
        "plugin's\n"
        "                       instances with (default {}), e.g. an "
        "optimizer's\n"
        "                       required settings\n"
        "      --timeout SECS   the most one check process may run "
        "(default 60)\n"
        "  -h, --help           show this help\n\n"
        "Exit status: 0 when no check FAILed, 8 when one did, 2 usage, 3 "
        "no such file.\n", f);
}

int cmd_plugins_check(int argc, char **argv)
{
  static const struct option opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"sim-config", required_argument, NULL, 's'},
    {"timeout", required_argument, NULL, 't'},
    {"settings", required_argument, NULL, 'S'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  check_opts o;
  check_table tb;
  struct stat st;
  int c, status = PC_EXIT_OK;

  memset(&o, 0, sizeof(o));
  memset(&tb, 0, sizeof(tb));
  o.timeout_s = CHECK_TIMEOUT_DEFAULT;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'j': o.json = 1; break;
    case 's': o.sim_config = optarg; break;
    case 'S': o.settings = optarg; break;
    case 't': {
      char *end;
      long v;

      errno = 0;
      v = strtol(optarg, &end, 10);
      if (!*optarg || *end || errno || v < 1 || v > 3600) {
        cli_error("--timeout: expected seconds from 1 to 3600, got '%s'",
                  optarg);
        return PC_EXIT_USAGE;
      }
      o.timeout_s = (int)v;
      break;
    }
    case 'h': check_usage(stdout); return PC_EXIT_OK;
    default: check_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind + 1 != argc) {
    cli_error(optind >= argc ? "plugins check: which file? (give a plugin "
              ".so)" : "plugins check: one file at a time");
    return PC_EXIT_USAGE;
  }
  o.path = argv[optind];
  if (stat(o.path, &st) != 0 || !S_ISREG(st.st_mode)) {
    cli_error("plugins check: %s: %s", o.path,
              errno ? strerror(errno) : "not a regular file");
    return PC_EXIT_INPUT;
  }
  if (o.settings) {
    struct json_object *v = json_tokener_parse(o.settings);
    int is_obj = json_object_is_type(v, json_type_object);

    json_object_put(v);
    if (!is_obj) {
      cli_error("--settings: expected a JSON object, got '%s'", o.settings);
      return PC_EXIT_USAGE;
    }
  }
  if (o.sim_config && access(o.sim_config, R_OK) != 0) {
    cli_error("--sim-config %s: %s", o.sim_config, strerror(errno));
    return PC_EXIT_INPUT;
  }
  signal(SIGPIPE, SIG_IGN);
  check_file_row(&tb, o.path);
  check_symbols(&tb, o.path);
  check_run_child(&tb, &o, check_child_static, 0, 0, NULL);
  for (size_t i = 0; i < tb.n_tasks; i++) {
    char row[200];

    snprintf(row, sizeof(row), "behave:%s:%s",
             check_kinds[tb.tasks[i].kind].name, tb.tasks[i].name);
    check_run_child(&tb, &o, check_child_behave, tb.tasks[i].kind,
                    tb.tasks[i].index, row);
  }
  if (o.json)
    status = print_json(&tb, &o);
  else
    print_table(&tb, &o);
  if (!o.json)
    status = PC_EXIT_OK;
  if (status == PC_EXIT_OK && tb.failed)
    status = CHECK_EXIT_FAILED;
  pc_free(tb.rows);
  pc_free(tb.tasks);
  return status;
}
