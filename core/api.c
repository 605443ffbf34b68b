/* api.c - the embedding API of promptc/promptc.h: sessions, programs,
 * running, evaluating and compiling, over the core's own functions. */
#include "pc_autoconf.h"

#include <stddef.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "promptc/promptc.h"

#include "alloc.h"
#include "artifact.h"
#include "buf.h"
#include "compile.h"
#include "config.h"
#include "dataset.h"
#include "errors.h"
#include "eval.h"
#include "hash.h"
#include "host.h"
#include "json_text.h"
#include "keyring.h"
#include "loader.h"
#include "metric.h"
#include "minisign.h"
#include "optimizer.h"
#include "predict.h"
#include "program.h"
#include "run.h"
#include "runtime.h"

struct pc_session {
  char *config_path;   /* owned: as given, for messages */
  pc_config *cfg;      /* owned */
  pc_registry *reg;    /* owned; outlives rt */
  pc_runtime *rt;      /* owned */
};

struct pc_prog {
  pc_program *prog;    /* owned */
};

/* Calls may pass a NULL `err`: they then report into a local one, so the
 * core below always has somewhere to write. */
#define PC_API_ERR(err, local) \
  do { \
    if (!(err)) \
      (err) = &(local); \
  } while (0)

/* Whether a caller's struct, `struct_size` bytes long, holds `member`. */
#define PC_API_HAS(p, type, member) \
  ((p)->struct_size >= offsetof(type, member) + sizeof((p)->member))

/* A caller's struct must hold at least its struct_size member. PC_OK, or
 * PC_E_INVALID_ARG naming the struct `what`. */
static int check_struct_size(const char *what, uint32_t size, pc_error *err)
{
  if (size < sizeof(uint32_t))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: struct_size %u is too "
                        "small", what, (unsigned)size);
  return PC_OK;
}

const char *pc_version(void)
{
  return PACKAGE_VERSION;
}

void pc_set_log_handler(pc_log_handler fn, void *ctx)
{
  pc_host_set_log(fn, ctx);
}

void pc_free_text(char *text)
{
  pc_free(text);
}

/* ---- sessions ---------------------------------------------------------- */

/* `a` and `b` (either may be NULL, both borrowed) joined with ':' as a new
 * string in *out owned by the caller (pc_free; NULL when both are NULL).
 * PC_E_NOMEM. */
static int join_paths(const char *a, const char *b, char **out,
                      pc_error *err)
{
  pc_buf buf;
  int rc = PC_OK;

  *out = NULL;
  if (!a && !b)
    return PC_OK;
  pc_buf_init(&buf, 0);
  if (a && b)
    rc = pc_buf_printf(&buf, "%s:%s", a, b);
  else
    rc = pc_buf_puts(&buf, a ? a : b);
  if (rc == PC_OK && !(*out = pc_buf_take(&buf, NULL)))
    rc = PC_E_NOMEM;
  pc_buf_free(&buf);
  if (rc)
    return pc_error_set(err, PC_E_NOMEM, "plugin path: out of memory");
  return PC_OK;
}

/* Warn through the host log (stderr, or the application's handler) about
 * each plugin that did not load, as the command does. */
static void log_load_failures(const pc_registry *reg)
{
  const pc_host_api *host = pc_host_api_get();
  pc_buf line;

  pc_buf_init(&line, PC_BUF_DEFAULT_MAX);
  for (size_t i = 0; i < reg->n_failures; i++) {
    pc_buf_reset(&line);
    if (pc_buf_printf(&line, "plugin not loaded: %s",
                      reg->failures[i].message) != PC_OK)
      continue;  /* out of memory: the warning is lost, nothing else */
    host->log(host->ctx, PC_LOG_WARN, NULL, line.data, line.len);
  }
  pc_buf_free(&line);
}

int pc_session_open(const char *config_path, const pc_session_opts *opts,
                    pc_session **out, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  pc_session_opts o = PC_SESSION_OPTS_INIT;
  pc_runtime_opts ro;
  pc_session *s = NULL;
  pc_error e = PC_ERROR_INIT;
  char *extra = NULL;
  int rc;

  PC_API_ERR(err, local_err);
  if (out)
    *out = NULL;
  if (!out || !config_path || !config_path[0]) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "pc_session_open: %s",
                      out ? "a config file is required (it names the LM)"
                          : "out is NULL");
    goto fail;
  }
  if (opts) {
    if ((rc = check_struct_size("pc_session_opts", opts->struct_size, err)))
      goto fail;
    if (PC_API_HAS(opts, pc_session_opts, threads))
      o.threads = opts->threads;
    if (PC_API_HAS(opts, pc_session_opts, plugin_path))
      o.plugin_path = opts->plugin_path;
    if (PC_API_HAS(opts, pc_session_opts, cache_path))
      o.cache_path = opts->cache_path;
    if (PC_API_HAS(opts, pc_session_opts, no_cache))
      o.no_cache = opts->no_cache;
    if (PC_API_HAS(opts, pc_session_opts, adapter))
      o.adapter = opts->adapter;
  }
  if (o.threads < 0 || o.threads > PC_SCHED_MAX_THREADS) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "pc_session_opts: threads: "
                      "expected 0 to %d, got %d", PC_SCHED_MAX_THREADS,
                      (int)o.threads);
    goto fail;
  }
  if (!(s = pc_calloc(1, sizeof(*s))) ||
      !(s->config_path = pc_strdup(config_path)) ||
      !(s->reg = pc_registry_new())) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", config_path);
    goto fail;
  }
  if ((rc = pc_config_load(config_path, &s->cfg, err)))
    goto fail;
  if ((rc = join_paths(o.plugin_path, s->cfg->plugin_path, &extra, err)))
    goto fail;
  if ((rc = pc_registry_load_default(s->reg, extra, &e))) {
    rc = pc_error_wrap(err, &e, "plugins");
    goto fail;
  }
  log_load_failures(s->reg);
  memset(&ro, 0, sizeof(ro));
  ro.cfg = s->cfg;
  ro.reg = s->reg;
  ro.threads = o.threads;
  ro.cache_path = o.cache_path;
  ro.no_cache = o.no_cache != 0;
  ro.adapter = o.adapter;
  if ((rc = pc_runtime_open(&ro, &s->rt, &e))) {
    /* Besides the warnings, the refusal names the first plugin that did
     * not load, since a missing provider is often one of them. */
    if (rc == PC_E_UNSUPPORTED && s->reg->n_failures)
      rc = pc_error_set(err, rc, "%s: %s (%zu plugin(s) not loaded, the "
                        "first: %s)", config_path, e.message,
                        s->reg->n_failures, s->reg->failures[0].message);
    else
      rc = pc_error_wrap(err, &e, "%s", config_path);
    goto fail;
  }
  *out = s;
  s = NULL;
fail:
  pc_free(extra);
  pc_session_close(s);
  return rc;
}

void pc_session_close(pc_session *s)
{
  if (!s)
    return;
  pc_runtime_close(s->rt);
  pc_registry_free(s->reg);
  pc_config_free(s->cfg);
  pc_free(s->config_path);
  pc_free(s);
}

/* ---- programs ---------------------------------------------------------- */

/* Wrap `prog` (taken over, freed on failure) in a new handle in *out. */
static int prog_wrap(pc_program *prog, pc_prog **out, pc_error *err)
{
  pc_prog *p = pc_calloc(1, sizeof(*p));

  if (!p) {
    pc_program_free(prog);
    return pc_error_set(err, PC_E_NOMEM, "program: out of memory");
  }
  p->prog = prog;
  *out = p;
  return PC_OK;
}

int pc_prog_load(const char *path, pc_prog **out, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  pc_program *prog = NULL;
  int rc;

  PC_API_ERR(err, local_err);
  if (out)
    *out = NULL;
  if (!out || !path)
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_load: %s is NULL",
                        out ? "path" : "out");
  if ((rc = pc_program_load(path, &prog, err)))
    return rc;
  return prog_wrap(prog, out, err);
}

/* A keyring trusting the key at `pubkey` or the keyring file `keyring`
 * (pubkey wins); *out owned by the caller. Errors name the file. */
static int trusted_keys(const char *what, const char *pubkey,
                        const char *keyring, pc_keyring **out,
                        pc_error *err)
{
  pc_ms_pubkey pk;
  int rc;

  *out = NULL;
  if (pubkey) {
    if ((rc = pc_ms_pubkey_load(pubkey, &pk, err)))
      return rc;
    return pc_keyring_single(&pk, pubkey, out, err);
  }
  if (keyring)
    return pc_keyring_load(keyring, out, err);
  return pc_error_set(err, PC_E_INVALID_ARG, "%s: no trusted key: give the "
                      "signer's public key file or a keyring file", what);
}

/* The checks a host makes before it runs an artifact's program in
 * session `s`: the adapter it was packed with, the plugins it needs and
 * the model it was compiled for (unless drift is allowed). */
static int check_artifact(pc_session *s, const pc_artifact *art,
                          const pc_program *prog, int allow_drift,
                          pc_error *err)
{
  struct json_object *models = NULL, *diffs = NULL;
  const char *want, *have;
  pc_error e = PC_ERROR_INIT;
  int rc;

  if ((rc = pc_runtime_check_program(s->rt, prog, &e))) {
    rc = pc_error_wrap(err, &e, "%s", art->path);
    goto out;
  }
  want = pc_json_str(pc_json_member(art->manifest, "adapter"), "name");
  have = pc_runtime_adapter_name(s->rt, NULL);
  if (want && strcmp(want, have)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: packed with the %s "
                      "adapter; the session selects %s", art->path, want,
                      have);
    goto out;
  }
  if ((rc = pc_artifact_check_plugins(art, s->reg, 0, &e))) {
    rc = pc_error_wrap(err, &e, "%s", art->path);
    goto out;
  }
  if (!(models = pc_runtime_models(s->rt))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", art->path);
    goto out;
  }
  if (pc_artifact_check_models(art, models, &diffs, &e) && !allow_drift) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: %s (an artifact runs "
                      "only on the model it was compiled for)", art->path,
                      e.message);
    goto out;
  }
out:
  json_object_put(diffs);
  json_object_put(models);
  return rc;
}

int pc_prog_load_artifact(pc_session *s, const char *path,
                          const char *pubkey_path,
                          const pc_artifact_load_opts *opts, pc_prog **out,
                          pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  pc_artifact_load_opts o = PC_ARTIFACT_LOAD_OPTS_INIT;
  pc_artifact_opts ao;
  pc_keyring *kr = NULL;
  pc_artifact *art = NULL;
  pc_program *prog = NULL;
  struct json_object *pj = NULL;
  int failure = PC_AF_OK, rc;

  PC_API_ERR(err, local_err);
  if (out)
    *out = NULL;
  if (!s || !path || !out) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_load_artifact: %s is "
                      "NULL", !s ? "the session" : !path ? "path" : "out");
    goto out;
  }
  if (opts) {
    if ((rc = check_struct_size("pc_artifact_load_opts", opts->struct_size,
                                err)))
      goto out;
    if (PC_API_HAS(opts, pc_artifact_load_opts, allow_model_drift))
      o.allow_model_drift = opts->allow_model_drift;
    if (PC_API_HAS(opts, pc_artifact_load_opts, sig_path))
      o.sig_path = opts->sig_path;
    if (PC_API_HAS(opts, pc_artifact_load_opts, keyring_path))
      o.keyring_path = opts->keyring_path;
  }
  if ((rc = trusted_keys(path, pubkey_path, o.keyring_path, &kr, err)))
    goto out;
  memset(&ao, 0, sizeof(ao));
  ao.keyring = kr;
  ao.sig_path = o.sig_path;
  ao.now = (int64_t)time(NULL);
  /* The signature is verified before anything reads the tar. */
  if ((rc = pc_artifact_open(path, &ao, &art, &failure, err)))
    goto out;
  if ((rc = pc_artifact_program_json(art, &pj, err)) ||
      (rc = pc_program_from_json(art->path, pj, &prog, err)) ||
      (rc = check_artifact(s, art, prog, o.allow_model_drift != 0, err)))
    goto out;
  rc = prog_wrap(prog, out, err);
  prog = NULL;
out:
  pc_program_free(prog);
  json_object_put(pj);
  pc_artifact_free(art);
  pc_keyring_free(kr);
  return rc;
}

int pc_prog_save(const pc_prog *prog, const char *path, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;

  PC_API_ERR(err, local_err);
  if (!prog || !path)
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_save: %s is NULL",
                        prog ? "path" : "the program");
  return pc_program_save(prog->prog, path, err);
}

void pc_prog_free(pc_prog *prog)
{
  if (!prog)
    return;
  pc_program_free(prog->prog);
  pc_free(prog);
}

/* ---- running ----------------------------------------------------------- */

int pc_prog_run(pc_session *s, const pc_prog *prog, const char *inputs_json,
                char **outputs_json, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  struct json_object *inputs = NULL, *outputs = NULL;
  pc_run_ctx ctx;
  pc_error e = PC_ERROR_INIT;
  int rc;

  PC_API_ERR(err, local_err);
  if (outputs_json)
    *outputs_json = NULL;
  if (!s || !prog || !inputs_json || !outputs_json)
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_run: %s is NULL",
                        !s ? "the session" : !prog ? "the program"
                        : !inputs_json ? "inputs_json" : "outputs_json");
  if (pc_json_parse(inputs_json, strlen(inputs_json), PC_JSON_PARSE_STRICT,
                    &inputs, &e))
    return pc_error_wrap(err, &e, "inputs");
  if (!json_object_is_type(inputs, json_type_object)) {
    json_object_put(inputs);
    return pc_error_set(err, PC_E_INVALID_ARG, "inputs: expected a JSON "
                        "object of the program's inputs");
  }
  if ((rc = pc_runtime_check_program(s->rt, prog->prog, err))) {
    json_object_put(inputs);
    return rc;
  }
  pc_run_ctx_init(&ctx, s->rt);
  rc = pc_program_run(&ctx, prog->prog, inputs, &outputs, err);
  if (rc == PC_OK &&
      !(*outputs_json = pc_json_to_string(outputs, PC_JSON_TEXT_COMPACT)))
    rc = pc_error_set(err, PC_E_NOMEM, "outputs: out of memory");
  pc_run_ctx_clear(&ctx);
  json_object_put(outputs);
  json_object_put(inputs);
  return rc;
}

/* ---- evaluating -------------------------------------------------------- */

/* The dataset at `path` with the program's inputs as its input keys, so a
 * row that lacks one is an error naming file:line. `what` names the
 * dataset's role in messages. *out owned by the caller. */
static int load_dataset(const pc_program *prog, const char *path,
                        const char *what, pc_dataset **out, pc_error *err)
{
  pc_dataset_opts o;
  const char **keys = NULL;
  size_t n = pc_program_n_inputs(prog);
  int rc;

  *out = NULL;
  if (!path)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: no dataset given", what);
  if (n && !(keys = pc_calloc(n, sizeof(*keys))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < n; i++)
    keys[i] = pc_program_input(prog, i);
  memset(&o, 0, sizeof(o));
  o.input_keys = keys;
  o.n_input_keys = n;
  rc = pc_dataset_load(path, &o, out, err);
  pc_free(keys);
  if (rc == PC_OK && (*out)->n_rows == 0) {
    pc_dataset_free(*out);
    *out = NULL;
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: %s: no examples", what,
                      path);
  }
  return rc;
}

/* The metric `spec` ("NAME[:FIELD]"), else the config's. *m owned by the
 * caller. */
static int open_metric(pc_session *s, const char *spec, pc_metric **m,
                       pc_error *err)
{
  struct json_object *o = NULL;
  int rc;

  *m = NULL;
  if (spec) {
    if ((rc = pc_config_metric_spec(spec, "metric", &o, err)))
      return rc;
  } else if (s->cfg->metric) {
    o = json_object_get(s->cfg->metric);
  } else {
    return pc_error_set(err, PC_E_INVALID_ARG, "metric: none given and %s "
                        "has no \"metric\"", s->config_path);
  }
  rc = pc_metric_open(s->reg, o, m, err);
  json_object_put(o);
  return rc;
}

/* The code of an evaluation row's failure. */
static int row_code(int kind)
{
  switch (kind) {
  case PC_ERR_PARSE: return PC_E_PARSE;
  case PC_ERR_LM: return PC_E_PROVIDER;
  default: return PC_E_INVALID_ARG;
  }
}

/* Evaluate with the config's eval settings. An evaluation stopped at
 * max_errors is an error quoting the first failure. *out owned by the
 * caller on PC_OK. */
static int evaluate(pc_session *s, const pc_program *prog,
                    const pc_dataset *ds, pc_metric *m, pc_eval_result **out,
                    pc_error *err)
{
  pc_eval_opts eo;
  pc_eval_result *r = NULL;
  int rc;

  *out = NULL;
  memset(&eo, 0, sizeof(eo));
  eo.max_errors = s->cfg->max_errors;
  eo.failure_score = s->cfg->failure_score;
  eo.role = PC_ROLE_LM;
  if ((rc = pc_eval_run(s->rt, prog, ds, m, &eo, &r, err)))
    return rc;
  if (r->aborted) {
    const pc_eval_row *first = NULL;

    for (size_t k = 0; k < r->n_done && !first; k++)
      if (r->rows[k].error)
        first = &r->rows[k];
    rc = pc_error_set(err, first ? row_code(first->error_kind)
                                 : PC_E_INTERNAL,
                      "%s: stopped at max_errors (%lld) after %zu of %zu "
                      "examples; the first error: %s", ds->path,
                      (long long)r->max_errors, r->n_done, r->n_rows,
                      first ? first->error : "?");
    pc_eval_result_free(r);
    return rc;
  }
  *out = r;
  return PC_OK;
}

/* Fill the members of `out` that its struct_size holds. */
static void fill_summary(pc_eval_summary *out, const pc_eval_result *r)
{
  if (PC_API_HAS(out, pc_eval_summary, score))
    out->score = r->mean;
  if (PC_API_HAS(out, pc_eval_summary, ci_low))
    out->ci_low = r->ci_low;
  if (PC_API_HAS(out, pc_eval_summary, ci_high))
    out->ci_high = r->ci_high;
  if (PC_API_HAS(out, pc_eval_summary, n))
    out->n = r->n_done;
  if (PC_API_HAS(out, pc_eval_summary, errors))
    out->errors = r->n_errors;
  if (PC_API_HAS(out, pc_eval_summary, lm_calls))
    out->lm_calls = r->usage.calls;
}

int pc_prog_eval(pc_session *s, const pc_prog *prog, const char *data_path,
                 const char *metric, pc_eval_summary *out, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  pc_metric *m = NULL;
  pc_eval_result *r = NULL;
  size_t size;
  int rc;

  PC_API_ERR(err, local_err);
  if (!out || out->struct_size < sizeof(uint32_t))
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_eval: %s",
                        out ? "out->struct_size is not set" : "out is NULL");
  size = out->struct_size < sizeof(*out) ? out->struct_size : sizeof(*out);
  memset((char *)out + sizeof(uint32_t), 0, size - sizeof(uint32_t));
  if (!s || !prog || !data_path)
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_eval: %s is NULL",
                        !s ? "the session" : !prog ? "the program"
                                                   : "data_path");
  if ((rc = pc_runtime_check_program(s->rt, prog->prog, err)) ||
      (rc = load_dataset(prog->prog, data_path, "data", &ds, err)) ||
      (rc = open_metric(s, metric, &m, err)) ||
      (rc = evaluate(s, prog->prog, ds, m, &r, err)))
    goto out;
  fill_summary(out, r);
out:
  pc_eval_result_free(r);
  pc_metric_close(m);
  pc_dataset_free(ds);
  return rc;
}

/* ---- compiling --------------------------------------------------------- */

/* What one compile holds while it runs. */
struct compile {
  pc_session *s;
  const pc_program *prog;        /* borrowed: the starting program */
  pc_dataset *train, *val;       /* owned; val may be train */
  pc_metric *metric;             /* owned */
  pc_optimizer *opt;             /* owned */
  struct json_object *settings;  /* owned: as given */
  struct json_object *used;      /* owned: as the optimizer uses them */
  uint64_t seed;
  char train_hex[PC_SHA256_HEX_LEN + 1], val_hex[PC_SHA256_HEX_LEN + 1];
  double base_pct, comp_pct;
  size_t base_n, comp_n;
  pc_compile_result res;
  pc_program *compiled;          /* owned until handed out */
};

/* The settings: `json` (an object), else the config's, else {}. */
static int compile_settings(struct compile *c, const char *json,
                            pc_error *err)
{
  const pc_config *cfg = c->s->cfg;
  pc_error e = PC_ERROR_INIT;

  if (json) {
    if (pc_json_parse(json, strlen(json), PC_JSON_PARSE_STRICT, &c->settings,
                      &e))
      return pc_error_wrap(err, &e, "settings");
    if (!json_object_is_type(c->settings, json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG, "settings: expected a "
                          "JSON object");
    return PC_OK;
  }
  if (cfg->optimizer_settings) {
    if (json_object_deep_copy(cfg->optimizer_settings, &c->settings, NULL))
      c->settings = NULL;
  } else {
    c->settings = json_object_new_object();
  }
  if (!c->settings)
    return pc_error_set(err, PC_E_NOMEM, "settings: out of memory");
  return PC_OK;
}

/* The seed: the optimizer's "seed" setting (its default when not given),
 * else the config's, else 0; as `promptc compile` without --seed. */
static uint64_t compile_seed(const struct compile *c)
{
  struct json_object *v = pc_json_member(c->used, "seed");

  if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
    return (uint64_t)json_object_get_int64(v);
  return c->s->cfg->has_seed ? c->s->cfg->seed : 0;
}

/* DSPy's percentage of `prog` on the validation set. */
static int score_val(struct compile *c, const pc_program *prog, double *pct,
                     size_t *n, pc_error *err)
{
  pc_eval_result *r = NULL;
  int rc = evaluate(c->s, prog, c->val, c->metric, &r, err);

  if (rc == PC_OK) {
    *pct = pc_eval_percent(r);
    *n = r->n_done;
  }
  pc_eval_result_free(r);
  return rc;
}

/* {"name", "id", "version", "settings"} of the optimizer, a new object
 * owned by the caller (json_object_put); NULL when out of memory. */
static struct json_object *optimizer_json(const struct compile *c)
{
  struct json_object *o = json_object_new_object(), *sets = NULL;

  if (!o || json_object_deep_copy(c->used, &sets, NULL) ||
      json_object_object_add(o, "name", json_object_new_string(
                                          pc_optimizer_name(c->opt))) ||
      json_object_object_add(o, "id", json_object_new_string(
                                        pc_optimizer_plugin_id(c->opt))) ||
      json_object_object_add(o, "version", json_object_new_string(
                               pc_optimizer_plugin_version(c->opt))) ||
      json_object_object_add(o, "settings", sets)) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* {"score": pct, "n": n}, or {"n": n, "sha256": hex} when `hex` (a
 * dataset's digest, borrowed) is given: a new object owned by the caller;
 * NULL when out of memory. */
static struct json_object *score_json(double pct, size_t n, const char *hex)
{
  struct json_object *o = json_object_new_object();

  if (!o)
    return NULL;
  if ((hex ? json_object_object_add(o, "n", json_object_new_int64(
                                              (int64_t)n)) ||
               json_object_object_add(o, "sha256",
                                      json_object_new_string(hex))
           : json_object_object_add(o, "score",
                                    json_object_new_double(pct)) ||
               json_object_object_add(o, "n", json_object_new_int64(
                                                (int64_t)n)))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* Add `v` (taken over; NULL means JSON null when `nullable`) as `key`;
 * non-zero when it could not be added. */
static int put(struct json_object *o, const char *key, struct json_object *v,
               int nullable)
{
  if (!v && !nullable)
    return 1;
  if (json_object_object_add(o, key, v)) {
    json_object_put(v);
    return 1;
  }
  return 0;
}

/* A new JSON string of `s` (copied), or NULL (JSON null) for NULL. */
static struct json_object *str_or_null(const char *s)
{
  return s ? json_object_new_string(s) : NULL;
}

/* The record the compiled program keeps of how it was made: the shape
 * `promptc compile` writes (docs/programs.md, "compile"). A new object
 * owned by the caller; NULL when out of memory. */
static struct json_object *compile_record(const struct compile *c)
{
  struct json_object *o = json_object_new_object();
  pc_runtime *rt = c->s->rt;
  int bad = !o;

  bad = bad || put(o, "optimizer", optimizer_json(c), 0) ||
        put(o, "seed", json_object_new_int64((int64_t)c->seed), 0) ||
        put(o, "metric", json_object_new_string(pc_metric_label(c->metric)),
            0) ||
        put(o, "train", score_json(0, c->train->n_rows, c->train_hex), 0) ||
        put(o, "val", score_json(0, c->val->n_rows, c->val_hex), 0) ||
        put(o, "baseline", score_json(c->base_pct, c->base_n, NULL), 0) ||
        put(o, "compiled", score_json(c->comp_pct, c->comp_n, NULL), 0) ||
        put(o, "stopped_by", str_or_null(c->res.stopped_by), 1) ||
        put(o, "adapter",
            json_object_new_string(pc_runtime_adapter_name(rt, NULL)), 0) ||
        put(o, "models", pc_runtime_models(rt), 0);
  if (bad) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* The usage of the compile for the report: a new object owned by the
 * caller; NULL when out of memory. */
static struct json_object *usage_json(const pc_compile_result *r)
{
  struct json_object *u = json_object_new_object();
  int bad = !u;

  bad = bad ||
        put(u, "task_calls", json_object_new_int64((int64_t)r->task.calls),
            0) ||
        put(u, "proposal_calls",
            json_object_new_int64((int64_t)r->proposal.calls), 0) ||
        put(u, "metric_calls",
            json_object_new_int64((int64_t)r->metric_calls), 0) ||
        put(u, "program_runs",
            json_object_new_int64((int64_t)r->program_runs), 0) ||
        put(u, "cache_hits", json_object_new_int64(
              (int64_t)(r->task.cache_hits + r->proposal.cache_hits)), 0) ||
        put(u, "prompt_tokens", json_object_new_int64(
              r->task.prompt_tokens + r->proposal.prompt_tokens), 0) ||
        put(u, "completion_tokens", json_object_new_int64(
              r->task.completion_tokens + r->proposal.completion_tokens),
            0) ||
        put(u, "requests", json_object_new_int64(r->requests), 0);
  if (bad) {
    json_object_put(u);
    return NULL;
  }
  return u;
}

/* The report of pc_prog_compile as new text owned by the caller
 * (pc_free); NULL when out of memory. */
static char *compile_report(const struct compile *c)
{
  struct json_object *o = json_object_new_object(), *rep = NULL;
  char *text = NULL;
  int bad = !o;

  if (c->res.report &&
      json_object_deep_copy(c->res.report, &rep, NULL))
    bad = 1;
  bad = bad || put(o, "optimizer", optimizer_json(c), 0) ||
        put(o, "seed", json_object_new_int64((int64_t)c->seed), 0) ||
        put(o, "baseline", score_json(c->base_pct, c->base_n, NULL), 0) ||
        put(o, "compiled", score_json(c->comp_pct, c->comp_n, NULL), 0) ||
        put(o, "trials", json_object_new_int64(c->res.trials), 0) ||
        put(o, "stopped_by", str_or_null(c->res.stopped_by), 1) ||
        put(o, "stop_reason", c->res.stopped_by
                                ? json_object_new_string(
                                    c->res.stop_message)
                                : NULL, 1) ||
        put(o, "usage", usage_json(&c->res), 0);
  if (!bad) {
    bad = put(o, "report", rep, 1);
    rep = NULL;
  }
  if (!bad)
    text = pc_json_to_string(o, PC_JSON_TEXT_COMPACT);
  json_object_put(rep);
  json_object_put(o);
  return text;
}

/* Open everything the compile needs: datasets, metric, optimizer, all
 * owned by `c` (released by pc_prog_compile, also after a failure). */
static int compile_open(struct compile *c, const char *optimizer,
                        const char *settings_json, const char *train_path,
                        const char *val_path, const char *metric,
                        pc_error *err)
{
  const char *name = optimizer ? optimizer : c->s->cfg->optimizer;
  int rc;

  if (!name)
    return pc_error_set(err, PC_E_INVALID_ARG, "optimizer: none given and "
                        "%s has no \"optimizer\"", c->s->config_path);
  if ((rc = pc_runtime_check_program(c->s->rt, c->prog, err)) ||
      (rc = load_dataset(c->prog, train_path, "train", &c->train, err)) ||
      (rc = pc_sha256_file(train_path, c->train_hex, err)))
    return rc;
  if (val_path) {
    if ((rc = load_dataset(c->prog, val_path, "val", &c->val, err)) ||
        (rc = pc_sha256_file(val_path, c->val_hex, err)))
      return rc;
  } else {
    c->val = c->train;
    memcpy(c->val_hex, c->train_hex, sizeof(c->val_hex));
  }
  if ((rc = open_metric(c->s, metric, &c->metric, err)) ||
      (rc = compile_settings(c, settings_json, err)) ||
      (rc = pc_optimizer_open(c->s->reg, name, c->settings, &c->opt, err)) ||
      (rc = pc_optimizer_settings(c->opt, &c->used, err)))
    return rc;
  c->seed = compile_seed(c);
  return PC_OK;
}

/* Baseline, search, the compiled program and its score. */
static int compile_run(struct compile *c, pc_error *err)
{
  pc_compile_opts co;
  struct json_object *record;
  int rc;

  if ((rc = pc_compile_preflight(c->opt, c->prog, c->train, c->val, err)) ||
      (rc = score_val(c, c->prog, &c->base_pct, &c->base_n, err)))
    return rc;
  memset(&co, 0, sizeof(co));
  co.rt = c->s->rt;
  co.cfg = c->s->cfg;
  co.program = c->prog;
  co.train = c->train;
  co.val = c->val;
  co.metric = c->metric;
  co.optimizer = c->opt;
  co.seed = c->seed;
  co.caps = c->s->cfg->budget;
  if ((rc = pc_compile_run(&co, &c->res, err)))
    return rc;
  if (c->res.stopped_by && !strcmp(c->res.stopped_by, "cancelled"))
    return pc_error_set(err, PC_E_CANCELLED, "compile: cancelled");
  if ((rc = pc_compile_apply_state(c->prog, c->res.state, &c->compiled,
                                   err)) ||
      (rc = score_val(c, c->compiled, &c->comp_pct, &c->comp_n, err)))
    return rc;
  if (!(record = compile_record(c)))
    return pc_error_set(err, PC_E_NOMEM, "compile: out of memory");
  rc = pc_program_set_compile_record(c->compiled, record);
  json_object_put(record);
  if (rc)
    return pc_error_set(err, PC_E_NOMEM, "compile: out of memory");
  return PC_OK;
}

int pc_prog_compile(pc_session *s, const pc_prog *prog,
                    const char *optimizer, const char *settings_json,
                    const char *train_path, const char *val_path,
                    const char *metric, pc_prog **compiled,
                    char **report_json, pc_error *err)
{
  pc_error local_err = PC_ERROR_INIT;
  struct compile c;
  char *report = NULL;
  int rc;

  PC_API_ERR(err, local_err);
  memset(&c, 0, sizeof(c));
  if (compiled)
    *compiled = NULL;
  if (report_json)
    *report_json = NULL;
  if (!s || !prog || !train_path || !compiled)
    return pc_error_set(err, PC_E_INVALID_ARG, "pc_prog_compile: %s is "
                        "NULL", !s ? "the session" : !prog ? "the program"
                        : !train_path ? "train_path" : "compiled");
  c.s = s;
  c.prog = prog->prog;
  if ((rc = compile_open(&c, optimizer, settings_json, train_path, val_path,
                         metric, err)) ||
      (rc = compile_run(&c, err)))
    goto out;
  if (report_json && !(report = compile_report(&c))) {
    rc = pc_error_set(err, PC_E_NOMEM, "compile: out of memory");
    goto out;
  }
  if ((rc = prog_wrap(c.compiled, compiled, err)))
    goto out_taken;
  if (report_json)
    *report_json = report;
  report = NULL;
out_taken:
  c.compiled = NULL;  /* handed out, or freed by prog_wrap */
out:
  pc_free(report);
  pc_program_free(c.compiled);
  pc_compile_result_clear(&c.res);
  json_object_put(c.settings);
  json_object_put(c.used);
  pc_optimizer_close(c.opt);
  pc_metric_close(c.metric);
  if (c.val != c.train)
    pc_dataset_free(c.val);
  pc_dataset_free(c.train);
  return rc;
}
