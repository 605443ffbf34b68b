/* cli_util.c - helpers shared by the subcommands: messages, config and
 * plugin loading, JSON arguments and output. */
#include <stdarg.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "file.h"
#include "json_text.h"
#include "runtime.h"

void cli_error(const char *fmt, ...)
{
  va_list ap;

  fputs("promptc: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_fail(int status, const pc_error *err, const char *what)
{
  cli_error("%s: %s", what, err->message[0] ? err->message
                                            : pc_strerror(err->code));
  return status;
}

int cli_load_config(const char *path, pc_config **out)
{
  pc_error err = PC_ERROR_INIT;

  *out = NULL;
  if (!path) {
    *out = pc_config_new_default();
    if (!*out) {
      cli_error("out of memory");
      return PC_EXIT_ENV;
    }
    return PC_EXIT_OK;
  }
  if (pc_config_load(path, out, &err))
    return cli_fail(PC_EXIT_INPUT, &err, "config");
  return PC_EXIT_OK;
}

int cli_load_registry(const pc_config *cfg, pc_registry **out)
{
  pc_error err = PC_ERROR_INIT;
  pc_registry *reg = pc_registry_new();

  *out = NULL;
  if (!reg) {
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  if (pc_registry_load_default(reg, cfg ? cfg->plugin_path : NULL, &err)) {
    pc_registry_free(reg);
    return cli_fail(PC_EXIT_ENV, &err, "plugins");
  }
  for (size_t i = 0; i < reg->n_failures; i++)
    cli_error("warning: plugin not loaded: %s", reg->failures[i].message);
  *out = reg;
  return PC_EXIT_OK;
}

int cli_json_arg(const char *arg, const char *what, struct json_object **out)
{
  pc_error err = PC_ERROR_INIT;

  *out = NULL;
  if (arg[0] == '@') {
    if (pc_json_parse_file(arg + 1, PC_CONFIG_MAX, out, &err))
      return cli_fail(err.code == PC_E_PARSE ? PC_EXIT_USAGE : PC_EXIT_INPUT,
                      &err, what);
    return PC_EXIT_OK;
  }
  if (pc_json_parse(arg, strlen(arg), PC_JSON_PARSE_STRICT, out, &err))
    return cli_fail(PC_EXIT_USAGE, &err, what);
  return PC_EXIT_OK;
}

int cli_print_json(FILE *f, const struct json_object *v)
{
  pc_buf b;
  int rc;

  pc_buf_init(&b, 0);
  rc = pc_json_write(v, PC_JSON_TEXT_PRETTY, &b);
  if (rc == PC_OK && (fwrite(b.data, 1, b.len, f) != b.len ||
                      fputc('\n', f) == EOF))
    rc = PC_E_IO;
  pc_buf_free(&b);
  if (rc)
    cli_error("cannot write output: %s", pc_strerror(rc));
  return rc ? PC_EXIT_ENV : PC_EXIT_OK;
}

int cli_write_port_file(const char *path, unsigned port)
{
  char line[16];
  pc_error err = PC_ERROR_INIT;
  int n = snprintf(line, sizeof(line), "%u\n", port);

  if (pc_file_write_atomic(path, line, (size_t)n, &err)) {
    cli_fail(PC_EXIT_ENV, &err, "--port-file");
    return -1;
  }
  return 0;
}

void cli_print_retries(const pc_usage *u)
{
  printf("retries   %llu (%llu after a 429); waited %.1f s before retries, "
         "%.1f s for rate limits\n", (unsigned long long)u->retries,
         (unsigned long long)u->rate_limited, u->retry_wait_ms / 1000.0,
         u->rate_wait_ms / 1000.0);
  if (u->drifts)
    printf("drift     %llu answers came from a changed served model (see "
           "the warnings)\n", (unsigned long long)u->drifts);
}
