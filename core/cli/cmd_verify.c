/*
 * cmd_verify.c - `promptc verify`: check an artifact's signature, trusted
 * comment, tar and members, and say what it holds.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "artifact.h"
#include "cli.h"

static void verify_usage(FILE *f)
{
  fputs("usage: promptc verify NAME-VERSION.ppa [--keyring FILE | -p KEY.pub]\n"
        "                      [--signature FILE] [--allow-unsigned] "
        "[--json]\n\n"
        "Check a release artifact, in this order: the minisign signature in\n"
        "NAME-VERSION.ppa.minisig over the whole file (before the tar is\n"
        "read), by a trusted key that is neither revoked nor expired; the\n"
        "trusted comment (name, version, sha256 of the file and of its\n"
        "manifest); the tar, read in memory under limits (no links, no\n"
        "absolute or '..' paths, no duplicates); every member against\n"
        "MANIFEST.json; the schema and the plugin ABI. Each failure has its\n"
        "own exit status (docs/cli.md): 10 no signature, 11 untrusted key,\n"
        "12 revoked key, 13 expired key, 14 bad signature, 15 altered\n"
        "trusted comment, 16 comment names another artifact (renamed),\n"
        "17 unsafe tar, 18 members differ from the manifest, 19 unsupported\n"
        "schema or ABI.\n\n"
        "      --keyring FILE     trusted keys (docs/signing.md; default:\n"
        "                         $PROMPTC_KEYRING, else\n"
        "                         $XDG_CONFIG_HOME/promptc/keyring.json)\n"
        "  -p, --public-key FILE  trust just this minisign public key\n"
        "      --signature FILE   the .minisig (default: NAME.ppa.minisig)\n"
        "      --allow-unsigned   pass an unsigned artifact or an unknown "
        "key,\n"
        "                         with a warning (never a bad signature)\n"
        "      --json             print the verdict and manifest as JSON\n",
        f);
}

static void print_text(const pc_artifact *a)
{
  struct json_object *m = a->manifest, *v, *e, *t;

  printf("artifact  %s %s\n", a->name, a->version);
  printf("sha256    %s\n", a->sha256);
  if (a->is_signed)
    printf("signed    key %s%s%s%s\n", a->key_id, a->key_name ? " (" : "",
           a->key_name ? a->key_name : "", a->key_name ? ")" : "");
  else
    printf("signed    no: %s\n", a->warning ? a->warning : "unsigned");
  printf("members   %zu\n", a->tar.n);
  for (size_t i = 0; i < a->tar.n; i++)
    printf("          %-44s %8zu\n", a->tar.members[i].path,
           a->tar.members[i].size);
  if (json_object_object_get_ex(m, "optimizer", &v))
    printf("optimizer %s\n", json_object_to_json_string_ext(
                                v, JSON_C_TO_STRING_PLAIN));
  if (json_object_object_get_ex(m, "models", &v)) {
    json_object_object_foreach(v, role, rec) {
      struct json_object *id;

      printf("model     %s: %s\n", role,
             json_object_object_get_ex(rec, "identity", &id)
               ? json_object_get_string(id) : "?");
    }
  }
  if (json_object_object_get_ex(m, "evaluation", &e) &&
      json_object_object_get_ex(e, "test", &t)) {
    struct json_object *b, *c, *bs, *cs;

    if (json_object_object_get_ex(t, "baseline", &b) &&
        json_object_object_get_ex(t, "compiled", &c) &&
        json_object_object_get_ex(b, "score", &bs) &&
        json_object_object_get_ex(c, "score", &cs))
      printf("test      baseline %.4f, compiled %.4f\n",
             json_object_get_double(bs), json_object_get_double(cs));
  }
  printf("verified  OK\n");
}

static struct json_object *verdict_json(const pc_artifact *a)
{
  struct json_object *o = json_object_new_object(), *mem;

  if (!o)
    return NULL;
  json_object_object_add(o, "ok", json_object_new_boolean(1));
  json_object_object_add(o, "name", json_object_new_string(a->name));
  json_object_object_add(o, "version", json_object_new_string(a->version));
  json_object_object_add(o, "sha256", json_object_new_string(a->sha256));
  json_object_object_add(o, "signed", json_object_new_boolean(a->is_signed));
  json_object_object_add(o, "key_id", a->key_id[0]
                           ? json_object_new_string(a->key_id) : NULL);
  json_object_object_add(o, "warning", a->warning
                           ? json_object_new_string(a->warning) : NULL);
  mem = json_object_new_array();
  for (size_t i = 0; mem && i < a->tar.n; i++) {
    struct json_object *x = json_object_new_object();

    json_object_object_add(x, "path",
                           json_object_new_string(a->tar.members[i].path));
    json_object_object_add(x, "size", json_object_new_int64(
                                        (int64_t)a->tar.members[i].size));
    json_object_array_add(mem, x);
  }
  json_object_object_add(o, "members", mem);
  json_object_object_add(o, "manifest", json_object_get(a->manifest));
  return o;
}

int cmd_verify(int argc, char **argv)
{
  static const struct option opts[] = {
    {"keyring", required_argument, NULL, CLI_OPT_KEYRING},
    {"public-key", required_argument, NULL, CLI_OPT_PUBKEY},
    {"allow-unsigned", no_argument, NULL, CLI_OPT_ALLOW_UNSIGNED},
    {"signature", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  cli_artifact_opts ao;
  pc_artifact *a = NULL;
  const char *sig = NULL;
  int c, json = 0, status;

  memset(&ao, 0, sizeof(ao));
  optind = 1;
  while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
    if (cli_artifact_option(c, optarg, &ao))
      continue;
    switch (c) {
    case 's': sig = optarg; break;
    case 'j': json = 1; break;
    case 'h': verify_usage(stdout); return PC_EXIT_OK;
    default: verify_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_error(optind >= argc ? "verify: no artifact given"
                             : "verify: one artifact at a time");
    verify_usage(stderr);
    return PC_EXIT_USAGE;
  }
  status = cli_artifact_open(argv[optind], sig, &ao, 0, &a);
  if (status != PC_EXIT_OK)
    return status;
  if (json) {
    struct json_object *o = verdict_json(a);

    status = o ? cli_print_json(stdout, o) : PC_EXIT_ENV;
    json_object_put(o);
  } else {
    print_text(a);
  }
  pc_artifact_free(a);
  return status;
}
