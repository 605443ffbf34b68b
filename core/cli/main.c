/* main.c - the promptc command: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "pc_autoconf.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
  {"run", cmd_run, "run a program on one input and print its outputs"},
  {"eval", cmd_eval, "score a program on a dataset with a metric"},
  {"compile", cmd_compile, "optimize a program's prompts and demos"},
  {"history", cmd_history, "list runs, show one's trials and LM calls"},
  {"inspect", cmd_inspect, "print the exact messages a module would send"},
  {"keygen", cmd_keygen, "make a minisign key pair for signing artifacts"},
  {"pack", cmd_pack, "pack a compiled program into a signed artifact"},
  {"verify", cmd_verify, "check an artifact's signature and contents"},
  {"promote", cmd_promote, "move a channel to an artifact through gates"},
  {"release", cmd_release, "the release registry: channels and history"},
  {"plugins", cmd_plugins, "list loaded plugins, show one, check one"},
  {"index", cmd_index, "build and query a retrieval index (SQLite FTS5)"},
  {"sim-server", cmd_sim_server,
   "serve the sim LM over the OpenAI, Anthropic and Ollama APIs"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
  fputs("usage: promptc COMMAND [OPTIONS]\n"
        "       promptc COMMAND --help\n\n"
        "Compile and run declarative LM programs (DSPy, in C).\n\n"
        "commands:\n", f);
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fputs("\nenvironment:\n"
        "  PROMPTC_PLUGIN_PATH  colon-separated plugin directories, searched "
        "first\n\n"
        "See promptc(1).\n", f);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return PC_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return PC_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("promptc %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, PC_ABI_MAJOR,
           PC_ABI_MINOR);
    return PC_EXIT_OK;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) {
      int status = commands[i].run(argc - 1, argv + 1);

      pc_http_shutdown();
      return status;
    }
  cli_error("unknown command '%s' (see promptc --help)", argv[1]);
  return PC_EXIT_USAGE;
}
