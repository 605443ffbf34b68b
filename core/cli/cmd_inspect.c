/*
 * cmd_inspect.c - `promptc inspect`: print, without calling any LM, the
 * exact messages one module of a program would send, or parse a completion
 * the way that module's adapter would.
 */
#include <getopt.h>
#include <string.h>
#include <json-c/json.h>

#include "adapter.h"
#include "artifact.h"
#include "alloc.h"
#include "cli.h"
#include "file.h"
#include "program.h"

#define COMPLETION_MAX ((size_t)16 << 20)

typedef struct inspect_opts {
  const char *program;
  cli_artifact_opts ao;
  const char *input_json;
  const char *module;
  const char *adapter;
  const char *parse_file;
  const char *config;
  int text;
} inspect_opts;

static void inspect_usage(FILE *f)
{
  fputs("usage: promptc inspect PROGRAM.json|--artifact NAME.ppa "
        "[--input-json JSON|@FILE]\n"
        "                       [--module NAME] [--adapter NAME] [--text]\n"
        "       promptc inspect PROGRAM.json [--module NAME] --parse FILE\n"
        "                       [--adapter NAME]\n\n"
        "Print the chat messages the module NAME (default: the first call of\n"
        "the flow) would send, as a JSON array of {\"role\", \"content\"}, or\n"
        "readably with --text. No LM is called. --input-json holds the\n"
        "program's inputs; inputs a module takes from earlier steps are read\n"
        "from it too, by the name of the output field they come from.\n\n"
        "With --parse, parse the LM completion in FILE (- for stdin) as the\n"
        "module's adapter would and print the typed output fields as JSON;\n"
        "exit 1 with the parse error when it does not parse.\n\n"
        "  --module NAME    module name or predictor path (solve.predict)\n"
        "  --adapter NAME   chat (default) or json, or any adapter plugin\n"
        "  --config FILE    run configuration (plugins.path, adapter)\n"
        "  --artifact FILE  inspect the program of a signed artifact, "
        "verified first\n"
        "                   (--keyring FILE, --public-key KEY.pub, "
        "--allow-unsigned)\n", f);
}

static int parse_args(int argc, char **argv, inspect_opts *o)
{
  static const struct option opts[] = {
    {"input-json", required_argument, NULL, 'i'},
    {"module", required_argument, NULL, 'm'},
    {"adapter", required_argument, NULL, 'a'},
    {"parse", required_argument, NULL, 'p'},
    {"config", required_argument, NULL, 'c'},
    {"text", no_argument, NULL, 't'},
    CLI_ARTIFACT_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c;

  memset(o, 0, sizeof(*o));
  optind = 1;
  while ((c = getopt_long(argc, argv, "i:m:a:p:c:th", opts, NULL)) != -1) {
    if (c != 'p' && cli_artifact_option(c, optarg, &o->ao))
      continue;
    switch (c) {
    case 'i': o->input_json = optarg; break;
    case 'm': o->module = optarg; break;
    case 'a': o->adapter = optarg; break;
    case 'p': o->parse_file = optarg; break;
    case 'c': o->config = optarg; break;
    case 't': o->text = 1; break;
    case 'h': inspect_usage(stdout); return -1;
    default: inspect_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - (o->ao.artifact ? 0 : 1)) {
    cli_error("inspect: give exactly one PROGRAM.json or --artifact "
              "NAME.ppa (see --help)");
    return PC_EXIT_USAGE;
  }
  o->program = o->ao.artifact ? o->ao.artifact : argv[optind];
  if (o->parse_file && (o->input_json || o->text)) {
    cli_error("inspect: --parse does not take --input-json or --text");
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* The predictor named by --module: a predictor path or a module name. */
static const pc_predictor *find_predictor(const pc_program *prog,
                                          const char *name)
{
  const pc_predictor *p;
  const pc_module *m;

  if (!name)
    return pc_program_default_predictor(prog);
  p = pc_program_predictor(prog, name);
  if (p)
    return p;
  m = pc_program_module(prog, name);
  return m ? m->predictor : NULL;
}

/* Adapter choice: --adapter, the module's config, the config file, chat. */
static const char *adapter_name(const inspect_opts *o, const pc_config *cfg,
                                const pc_predictor *pred)
{
  struct json_object *a = NULL;

  if (o->adapter)
    return o->adapter;
  if (pred->config && json_object_object_get_ex(pred->config, "adapter", &a)
      && json_object_is_type(a, json_type_string))
    return json_object_get_string(a);
  if (cfg && cfg->adapter)
    return cfg->adapter;
  return PC_ADAPTER_DEFAULT;
}

/* The module's inputs: those of the first step that calls it, bound from
 * the given inputs (earlier steps' outputs are looked up by field name in
 * the same object), or the given object as is for a module outside the
 * flow. */
static int module_inputs(const pc_program *prog, const pc_predictor *pred,
                         struct json_object *given, struct json_object **out)
{
  pc_error err = PC_ERROR_INIT;
  const struct json_object **earlier = NULL;
  size_t n = pc_program_n_steps(prog), step = n;
  int rc;

  *out = NULL;
  for (size_t i = 0; i < n && step == n; i++)
    if (pc_program_step(prog, i)->module == pred->module)
      step = i;
  if (step == n) {
    *out = json_object_get(given);
    return PC_EXIT_OK;
  }
  if (step > 0) {
    earlier = pc_calloc(step, sizeof(*earlier));
    if (!earlier) {
      cli_error("inspect: out of memory");
      return PC_EXIT_ENV;
    }
    for (size_t i = 0; i < step; i++)
      earlier[i] = given;
  }
  rc = pc_program_step_inputs(prog, step, given, earlier, out, &err);
  pc_free(earlier);
  if (rc) {
    cli_error("inspect: %s (inspect calls no LM: put the inputs, and any "
              "earlier step's outputs by field name, in --input-json)",
              err.message);
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

static void print_text(const pc_messages *m)
{
  for (size_t i = 0; i < m->n; i++) {
    const char *role = m->items[i].role;

    printf("%s%c%s message:\n\n", i ? "\n\n" : "",
           role[0] >= 'a' && role[0] <= 'z' ? role[0] - 'a' + 'A' : role[0],
           role + 1);
    fwrite(m->items[i].content, 1, m->items[i].len, stdout);
    putchar('\n');
  }
}

static int show_messages(const inspect_opts *o, const pc_program *prog,
                         const pc_predictor *pred, pc_adapter *ad)
{
  struct json_object *given = NULL, *inputs = NULL, *arr = NULL;
  pc_messages msgs = {0};
  pc_error err = PC_ERROR_INIT;
  int status;

  status = o->input_json
    ? cli_json_arg(o->input_json, "--input-json", &given)
    : PC_EXIT_OK;
  if (status != PC_EXIT_OK)
    return status;
  if (!given)
    given = json_object_new_object();
  if (!json_object_is_type(given, json_type_object)) {
    cli_error("inspect: --input-json: expected a JSON object");
    json_object_put(given);
    return PC_EXIT_USAGE;
  }
  status = module_inputs(prog, pred, given, &inputs);
  if (status != PC_EXIT_OK)
    goto out;
  if (pc_adapter_format(ad, pred->signature, pred->demos, inputs, &msgs,
                        &err)) {
    status = cli_fail(PC_EXIT_FAIL, &err, "inspect");
    goto out;
  }
  if (o->text) {
    print_text(&msgs);
  } else {
    arr = pc_messages_to_json(&msgs);
    status = arr ? cli_print_json(stdout, arr) : PC_EXIT_ENV;
  }
out:
  pc_messages_clear(&msgs);
  json_object_put(arr);
  json_object_put(inputs);
  json_object_put(given);
  return status;
}

static int parse_completion(const inspect_opts *o, const pc_predictor *pred,
                            pc_adapter *ad)
{
  pc_error err = PC_ERROR_INIT;
  struct json_object *fields = NULL;
  char *text = NULL;
  size_t len = 0;
  int status;

  if (pc_file_read(o->parse_file, COMPLETION_MAX, &text, &len, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "inspect --parse");
  if (pc_adapter_parse(ad, pred->signature, text, len, &fields, &err))
    status = cli_fail(PC_EXIT_FAIL, &err, "inspect: parse error");
  else
    status = cli_print_json(stdout, fields);
  json_object_put(fields);
  pc_free(text);
  return status;
}

/* The program of a verified artifact (nothing runs, so no model check). */
static int load_artifact_program(const inspect_opts *o, pc_program **prog)
{
  pc_artifact *art = NULL;
  struct json_object *pj = NULL;
  pc_error err = PC_ERROR_INIT;
  int status = cli_artifact_open(o->ao.artifact, NULL, &o->ao, 0, &art);

  if (status != PC_EXIT_OK)
    return status;
  if (pc_artifact_program_json(art, &pj, &err) ||
      pc_program_from_json(art->path, pj, prog, &err))
    status = cli_fail(PC_AF_SCHEMA, &err, "inspect");
  json_object_put(pj);
  pc_artifact_free(art);
  return status;
}

int cmd_inspect(int argc, char **argv)
{
  inspect_opts o;
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  pc_program *prog = NULL;
  pc_adapter *ad = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_predictor *pred;
  int status = parse_args(argc, argv, &o);

  if (status != PC_EXIT_OK)
    return status < 0 ? PC_EXIT_OK : status;
  status = cli_load_config(o.config, &cfg);
  if (status != PC_EXIT_OK)
    return status;
  if (o.ao.artifact) {
    status = load_artifact_program(&o, &prog);
    if (status != PC_EXIT_OK)
      goto out;
  } else if (pc_program_load(o.program, &prog, &err)) {
    status = cli_fail(PC_EXIT_INPUT, &err, "inspect");
    goto out;
  }
  pred = find_predictor(prog, o.module);
  if (!pred) {
    cli_error("inspect: %s: no module or predictor named '%s'", o.program,
              o.module);
    status = PC_EXIT_USAGE;
    goto out;
  }
  status = cli_load_registry(cfg, &reg);
  if (status != PC_EXIT_OK)
    goto out;
  if (pc_adapter_open(reg, adapter_name(&o, cfg, pred), NULL, &ad, &err)) {
    status = cli_fail(PC_EXIT_ENV, &err, "inspect");
    goto out;
  }
  status = o.parse_file ? parse_completion(&o, pred, ad)
                        : show_messages(&o, prog, pred, ad);
out:
  pc_adapter_close(ad);
  pc_registry_free(reg);
  pc_program_free(prog);
  pc_config_free(cfg);
  return status;
}
