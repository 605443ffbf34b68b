/*
 * cli_artifact.c - what the commands that take a signed artifact share:
 * the options, the keyring, verifying and opening, and the session that
 * runs an artifact's program after checking its plugins and model.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alloc.h"
#include "json_text.h"
#include "artifact.h"
#include "buf.h"
#include "cli.h"
#include "keyring.h"
#include "minisign.h"
#include "program.h"
#include "runtime.h"

int cli_artifact_option(int c, const char *arg, cli_artifact_opts *o)
{
  switch (c) {
  case CLI_OPT_ARTIFACT: o->artifact = arg; return 1;
  case CLI_OPT_KEYRING: o->keyring = arg; return 1;
  case CLI_OPT_PUBKEY:
  case 'p': o->pubkey = arg; return 1;
  case CLI_OPT_ALLOW_UNSIGNED: o->allow_unsigned = 1; return 1;
  case CLI_OPT_ALLOW_DRIFT: o->allow_model_drift = 1; return 1;
  default: return 0;
  }
}

/* $XDG_CONFIG_HOME/promptc/keyring.json, else ~/.config/...; NULL when
 * neither variable helps. A new string (pc_free). */
static char *default_keyring(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  pc_buf b;

  pc_buf_init(&b, 4096);
  if (xdg && xdg[0] == '/')
    pc_buf_printf(&b, "%s/promptc/keyring.json", xdg);
  else if (home && home[0])
    pc_buf_printf(&b, "%s/.config/promptc/keyring.json", home);
  return pc_buf_take(&b, NULL);
}

int cli_keyring(const cli_artifact_opts *o, pc_keyring **out)
{
  pc_error err = PC_ERROR_INIT;
  const char *env = getenv("PROMPTC_KEYRING");
  char *def = NULL;
  int status = PC_EXIT_OK;

  *out = NULL;
  if (o->pubkey) {
    pc_ms_pubkey pk;

    if (pc_ms_pubkey_load(o->pubkey, &pk, &err))
      return cli_fail(PC_EXIT_INPUT, &err, "--public-key");
    if (pc_keyring_single(&pk, o->pubkey, out, &err))
      return cli_fail(PC_EXIT_ENV, &err, "--public-key");
    return PC_EXIT_OK;
  }
  if (o->keyring) {
    if (pc_keyring_load(o->keyring, out, &err))
      return cli_fail(PC_EXIT_INPUT, &err, "--keyring");
    return PC_EXIT_OK;
  }
  if (env && env[0]) {
    if (pc_keyring_load(env, out, &err))
      return cli_fail(PC_EXIT_INPUT, &err, "PROMPTC_KEYRING");
    return PC_EXIT_OK;
  }
  def = default_keyring();
  if (def && access(def, F_OK) == 0 && pc_keyring_load(def, out, &err))
    status = cli_fail(PC_EXIT_INPUT, &err, "keyring");
  pc_free(def);
  return status;
}

int cli_artifact_open(const char *path, const char *sig_path,
                      const cli_artifact_opts *o, int any_name,
                      pc_artifact **out)
{
  pc_artifact_opts ao;
  pc_keyring *kr = NULL;
  pc_error err = PC_ERROR_INIT;
  int failure = PC_AF_OK, status;

  *out = NULL;
  if ((status = cli_keyring(o, &kr)))
    return status;
  memset(&ao, 0, sizeof(ao));
  ao.keyring = kr;
  ao.allow_unsigned = o->allow_unsigned;
  ao.any_file_name = any_name;
  ao.sig_path = sig_path;
  ao.now = (int64_t)time(NULL);
  if (pc_artifact_open(path, &ao, out, &failure, &err)) {
    if (!kr && (failure == PC_AF_KEY_UNKNOWN))
      cli_error("verify: %s (no keyring: give --keyring FILE or "
                "--public-key KEY.pub)",
                err.message);
    else
      cli_error("verify: %s", err.message);
    status = err.code == PC_E_NOMEM ? PC_EXIT_ENV : failure;
  } else if ((*out)->warning) {
    cli_error("warning: %s: %s (allowed by --allow-unsigned)", path,
              (*out)->warning);
  }
  pc_keyring_free(kr);
  return status;
}

int cli_session_open_artifact(const pc_artifact *art,
                              const cli_artifact_opts *ao,
                              const cli_run_opts *o, int need_metric,
                              cli_session *s)
{
  struct json_object *pj = NULL, *models = NULL, *diffs = NULL;
  const char *want, *have;
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  int status;

  memset(s, 0, sizeof(*s));
  if (pc_artifact_program_json(art, &pj, &err) ||
      pc_program_from_json(art->path, pj, &prog, &err)) {
    json_object_put(pj);
    return cli_fail(PC_AF_SCHEMA, &err, "artifact");
  }
  json_object_put(pj);
  if ((status = cli_session_open_program(prog, art->path, o, s)))
    return status;
  /* The prompts were optimized in one adapter's format: another would
   * send different messages than the ones evaluated. */
  want = pc_json_str(pc_json_member(art->manifest, "adapter"), "name");
  have = pc_runtime_adapter_name(s->rt, NULL);
  if (want && strcmp(want, have)) {
    cli_error("artifact: %s was packed with the %s adapter; the config (or "
              "--adapter) selects %s", art->path, want, have);
    cli_session_close(s);
    return PC_AF_PLUGINS;
  }
  if (pc_artifact_check_plugins(art, s->reg, need_metric, &err)) {
    cli_session_close(s);
    return cli_fail(PC_AF_PLUGINS, &err, "artifact");
  }
  if (!(models = pc_runtime_models(s->rt))) {
    cli_session_close(s);
    cli_error("out of memory");
    return PC_EXIT_ENV;
  }
  if (pc_artifact_check_models(art, models, &diffs, &err)) {
    if (!ao->allow_model_drift) {
      cli_error("%s (an artifact runs only on the model it was compiled "
                "for; --allow-model-drift overrides)", err.message);
      status = PC_AF_MODEL_DRIFT;
      cli_session_close(s);
    } else {
      cli_error("warning: %s (allowed by --allow-model-drift)", err.message);
    }
  }
  json_object_put(diffs);
  json_object_put(models);
  return status;
}

int cli_session_open_any(const char *cmd, const char *program,
                         const cli_artifact_opts *ao, const cli_run_opts *o,
                         int need_metric, cli_session *s)
{
  pc_artifact *art = NULL;
  int status;

  memset(s, 0, sizeof(*s));
  if (!ao->artifact == !program) {
    cli_error(program ? "%s: give PROGRAM.json or --artifact, not both"
                      : "%s: no PROGRAM.json given (or --artifact FILE)",
              cmd);
    return PC_EXIT_USAGE;
  }
  if (program)
    return cli_session_open(program, o, s);
  if ((status = cli_artifact_open(ao->artifact, NULL, ao, 0, &art)))
    return status;
  status = cli_session_open_artifact(art, ao, o, need_metric, s);
  pc_artifact_free(art);
  return status;
}
