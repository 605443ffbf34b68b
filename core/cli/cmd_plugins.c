/*
 * cmd_plugins.c - `promptc plugins list|info|check`: what plugins are
 * loaded, from where, with which version, kinds, interfaces and sha256;
 * `check` (cmd_plugins_check.c) runs the conformance table on one file.
 */
#include <getopt.h>
#include <string.h>
#include <json-c/json.h>

#include "check.h"
#include "cli.h"

/* The name `list` and `info` show for a kind of check_kinds: its own,
 * but "lm" for the LM provider, as the KINDS column has it. */
static const char *kind_label(const check_kind *k)
{
  return k->bit == PC_KIND_LM_PROVIDER ? "lm" : k->name;
}

static void plugins_usage(FILE *f)
{
  fputs("usage: promptc plugins list [--json] [--config FILE]\n"
        "       promptc plugins info ID [--json] [--config FILE]\n"
        "       promptc plugins check FILE.so [--json] [--sim-config CFG]\n"
        "                             [--settings JSON] [--timeout SECS]\n\n"
        "List the plugins found in the plugin directories ($PROMPTC_PLUGIN_PATH,\n"
        "the config's plugins.path, then the install directory), or show one\n"
        "by id or short name. Plugins that fail to load are reported on stderr.\n"
        "`check` runs the conformance checks on one plugin file (see\n"
        "`promptc plugins check --help`).\n",
        f);
}

/* "MAJOR.MINOR" of an ABI header, as a new JSON string. */
static struct json_object *abi_string(const pc_abi_header *hdr)
{
  char abi[32];

  snprintf(abi, sizeof(abi), "%u.%u", (unsigned)hdr->abi_major,
           (unsigned)hdr->abi_minor);
  return json_object_new_string(abi);
}

/* The interface tables a plugin offers: [{"id", "name", "struct_size",
 * "abi"}, ...], every table of every known interface id. */
static struct json_object *interfaces_of(const pc_plugin *p)
{
  struct json_object *arr = json_object_new_array();

  for (size_t i = 0; arr && i < CHECK_N_KINDS; i++) {
    const char *iface = check_kinds[i].iface;
    int end = 0;

    for (uint32_t k = 0; !end && k < PC_MAX_TABLES; k++) {
      const pc_iface_prefix *t;
      struct json_object *o;

      t = pc_plugin_interface_at(p, iface, k, sizeof(*t), &end);
      if (!t)
        continue;
      o = json_object_new_object();
      json_object_object_add(o, "id", json_object_new_string(iface));
      json_object_object_add(o, "name",
                             json_object_new_string(t->name ? t->name : ""));
      json_object_object_add(o, "struct_size",
                             json_object_new_int64(t->hdr.struct_size));
      json_object_object_add(o, "abi", abi_string(&t->hdr));
      json_object_array_add(arr, o);
    }
  }
  return arr;
}

static struct json_object *plugin_json(const pc_plugin *p)
{
  const pc_plugin_info *info = p->info;
  struct json_object *o = json_object_new_object();
  struct json_object *kinds = json_object_new_array();

  for (size_t i = 0; i < CHECK_N_KINDS; i++)
    if (info->kinds & check_kinds[i].bit)
      json_object_array_add(kinds, json_object_new_string(
                              kind_label(&check_kinds[i])));
  json_object_object_add(o, "id", json_object_new_string(info->id));
  json_object_object_add(o, "name", json_object_new_string(info->name));
  json_object_object_add(o, "version", json_object_new_string(info->version));
  json_object_object_add(o, "license",
                         json_object_new_string(info->license ? info->license
                                                              : ""));
  json_object_object_add(o, "summary",
                         json_object_new_string(info->summary ? info->summary
                                                              : ""));
  json_object_object_add(o, "abi", abi_string(&info->hdr));
  json_object_object_add(o, "kinds", kinds);
  json_object_object_add(o, "thread_safe_instances",
                         json_object_new_boolean(
                           (info->flags & PC_PLUGIN_THREADSAFE_INSTANCES) != 0));
  json_object_object_add(o, "interfaces", interfaces_of(p));
  json_object_object_add(o, "path", json_object_new_string(p->path));
  json_object_object_add(o, "sha256", json_object_new_string(p->sha256));
  return o;
}

/* "adapter:chat metric:f1" from the interfaces array. */
static void print_ifaces(FILE *f, struct json_object *ifaces, int width)
{
  int n = 0;

  for (size_t i = 0; i < json_object_array_length(ifaces); i++) {
    struct json_object *t = json_object_array_get_idx(ifaces, i);
    const char *id = json_object_get_string(json_object_object_get(t, "id"));
    const char *slash = strchr(id, '/');
    int idlen = slash ? (int)(slash - id) : (int)strlen(id);

    if (idlen > 3 && strncmp(id, "pc.", 3) == 0) {
      id += 3;
      idlen -= 3;
    }
    n += fprintf(f, "%s%.*s:%s", i ? "," : "", idlen, id,
                 json_object_get_string(json_object_object_get(t, "name")));
  }
  fprintf(f, "%*s", width > n ? width - n : 1, "");
}

static void print_table(const pc_registry *reg, struct json_object *all)
{
  printf("%-30s %-8s %-10s %-22s %-64s %s\n", "ID", "VERSION", "KINDS",
         "INTERFACES", "SHA256", "PATH");
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    struct json_object *o = json_object_array_get_idx(all, i);
    struct json_object *kinds = json_object_object_get(o, "kinds");
    char kbuf[64] = "";

    for (size_t k = 0; k < json_object_array_length(kinds); k++) {
      size_t used = strlen(kbuf);

      snprintf(kbuf + used, sizeof(kbuf) - used, "%s%s", k ? "," : "",
               json_object_get_string(json_object_array_get_idx(kinds, k)));
    }
    printf("%-30s %-8s %-10s ",
           json_object_get_string(json_object_object_get(o, "id")),
           json_object_get_string(json_object_object_get(o, "version")),
           kbuf);
    print_ifaces(stdout, json_object_object_get(o, "interfaces"), 23);
    printf("%s %s\n",
           json_object_get_string(json_object_object_get(o, "sha256")),
           json_object_get_string(json_object_object_get(o, "path")));
  }
  if (!reg->n_plugins)
    fputs("(no plugins found: set PROMPTC_PLUGIN_PATH or plugins.path)\n",
          stdout);
}

static void print_info(struct json_object *o)
{
  static const char *keys[] = {"id", "name", "version", "license", "summary",
                               "abi", "path", "sha256"};
  struct json_object *ifaces = json_object_object_get(o, "interfaces");

  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    printf("%-12s %s\n", keys[i],
           json_object_get_string(json_object_object_get(o, keys[i])));
  printf("%-12s %s\n", "kinds",
         json_object_to_json_string_ext(json_object_object_get(o, "kinds"),
                                        JSON_C_TO_STRING_PLAIN));
  printf("%-12s %s\n", "threadsafe",
         json_object_get_boolean(json_object_object_get(
           o, "thread_safe_instances")) ? "yes (instances may be shared)"
                                        : "no (the host serialises calls)");
  for (size_t i = 0; i < json_object_array_length(ifaces); i++) {
    struct json_object *t = json_object_array_get_idx(ifaces, i);

    printf("%-12s %s \"%s\" (abi %s, %d bytes)\n", i ? "" : "interfaces",
           json_object_get_string(json_object_object_get(t, "id")),
           json_object_get_string(json_object_object_get(t, "name")),
           json_object_get_string(json_object_object_get(t, "abi")),
           json_object_get_int(json_object_object_get(t, "struct_size")));
  }
}

int cmd_plugins(int argc, char **argv)
{
  static const struct option opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *config_path = NULL, *verb, *target = NULL;
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  struct json_object *out = NULL;
  int as_json = 0, c, status;

  if (argc >= 2 && strcmp(argv[1], "check") == 0)
    return cmd_plugins_check(argc - 1, argv + 1);
  optind = 1;
  while ((c = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
    switch (c) {
    case 'j': as_json = 1; break;
    case 'c': config_path = optarg; break;
    case 'h': plugins_usage(stdout); return PC_EXIT_OK;
    default: plugins_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    plugins_usage(stderr);
    return PC_EXIT_USAGE;
  }
  verb = argv[optind++];
  if (strcmp(verb, "info") == 0) {
    if (optind >= argc) {
      cli_error("plugins info: which plugin? (give an id or a name)");
      return PC_EXIT_USAGE;
    }
    target = argv[optind++];
  } else if (strcmp(verb, "list") != 0) {
    cli_error("plugins: unknown action '%s' (list, info or check)", verb);
    return PC_EXIT_USAGE;
  }
  if (optind < argc) {
    cli_error("plugins %s: unexpected argument '%s'", verb, argv[optind]);
    return PC_EXIT_USAGE;
  }
  status = cli_load_config(config_path, &cfg);
  if (status == PC_EXIT_OK)
    status = cli_load_registry(cfg, &reg);
  if (status != PC_EXIT_OK)
    goto out;
  if (target) {
    pc_plugin *p = pc_registry_find(reg, target);

    if (!p) {
      cli_error("plugins info: no loaded plugin has id or name '%s'", target);
      status = PC_EXIT_FAIL;
      goto out;
    }
    out = plugin_json(p);
    if (as_json)
      status = cli_print_json(stdout, out);
    else
      print_info(out);
  } else {
    out = json_object_new_array();
    for (size_t i = 0; i < reg->n_plugins; i++)
      json_object_array_add(out, plugin_json(reg->plugins[i]));
    if (as_json)
      status = cli_print_json(stdout, out);
    else
      print_table(reg, out);
  }
out:
  json_object_put(out);
  pc_registry_free(reg);
  pc_config_free(cfg);
  return status;
}
