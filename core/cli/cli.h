/*
 * cli.h - shared pieces of the promptc command: one file per subcommand
 * (cmd_<name>.c), each exporting one cmd_<name>(argc, argv) that returns
 * the process exit status.
 *
 * Exit statuses (docs/cli.md): 0 success, 1 the command ran and failed
 * (a parse error, a refused plugin), 2 usage error, 3 bad input files
 * (program, config, dataset), 4 plugin or environment problem.
 */
#ifndef PC_CLI_H
#define PC_CLI_H

#include <stdio.h>

#include "config.h"
#include "errors.h"
#include "loader.h"

#define PC_EXIT_OK 0
#define PC_EXIT_FAIL 1
#define PC_EXIT_USAGE 2
#define PC_EXIT_INPUT 3
#define PC_EXIT_ENV 4

int cmd_plugins(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

/* Print "promptc: <message>" on stderr. */
void cli_error(const char *fmt, ...) PC_PRINTF(1, 2);
/* Print "promptc: <what>: <err->message>" and return `status`. */
int cli_fail(int status, const pc_error *err, const char *what);

/* Load the config at `path` (NULL: defaults). Prints errors. Returns an
 * exit status; on PC_EXIT_OK *out owns the config. */
int cli_load_config(const char *path, pc_config **out);

/* Load plugins from the default directories plus the config's, printing a
 * warning per plugin that failed to load. Returns an exit status; on
 * PC_EXIT_OK *out owns the registry. */
int cli_load_registry(const pc_config *cfg, pc_registry **out);

/* Read a JSON argument: inline text, or "@FILE" to read it from a file. On
 * PC_EXIT_OK *out owns the value. `what` names the option in messages. */
int cli_json_arg(const char *arg, const char *what, struct json_object **out);

/* Print `v` as pretty JSON (2-space indent, non-ASCII kept) and a newline. */
int cli_print_json(FILE *f, const struct json_object *v);

#endif
