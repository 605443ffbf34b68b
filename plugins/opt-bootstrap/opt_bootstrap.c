/*
 * opt_bootstrap.c - the `bootstrap` optimizer plugin: DSPy's
 * BootstrapFewShot (reference dspy-optimizers.md section 2), which keeps
 * the traces of a teacher's successful runs on train examples as demos,
 * picking exactly the demos of DSPy's sequential loop although the
 * examples run in parallel (plugins/opt-common/fewshot.c,
 * docs/optimizers.md).
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "../opt-common/fewshot.h"

#define WHO "bootstrap"

static const pc__opt_spec specs[PC__OPT_B_COUNT] = {
  PC__OPT_BOOTSTRAP_SPECS
};

/* One configured optimizer. */
typedef struct bootstrap {
  const pc__opt_host *h;                /* borrowed: the plugin state */
  pc__opt_value vals[PC__OPT_B_COUNT];  /* settings, defaults filled in */
  pc__opt_bootstrap_params params;      /* the same, as the algorithm
                                           reads them */
} bootstrap;

static int bs_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  bootstrap *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  rc = pc__opt_settings_parse(h, WHO, specs, PC__OPT_B_COUNT, settings_json,
                              len, o->vals, err);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  pc__opt_bootstrap_params_set(&o->params, o->vals, WHO);
  *inst = o;
  return PC_OK;
}

static void bs_destroy(void *inst)
{
  bootstrap *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int bs_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  bootstrap *o = inst;

  return pc__opt_settings_write(o->h, specs, PC__OPT_B_COUNT, o->vals, out,
                                err);
}

/* Reference section 11: attempts <= min(|T|, needed) * max_rounds, each
 * one teacher run (R task-LM calls) and one metric call; no proposals. */
static int bs_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  bootstrap *o = inst;
  pc_json *info = NULL;
  int64_t attempts, calls_per_run;
  int rc;

  rc = pc__opt_json_parse(o->h, WHO ": estimate", info_json, len, &info,
                          err);
  if (rc)
    return rc;
  attempts = pc__opt_bootstrap_max_attempts(
    &o->params, pc__opt_info_int(o->h, info, "train"));
  calls_per_run = pc__opt_info_int(o->h, info, "calls_per_run");
  if (calls_per_run < 1)
    calls_per_run = 1;
  o->h->js->free(o->h->host->ctx, info);
  return pc__opt_write_estimate(o->h, attempts * calls_per_run, attempts, 0,
                                out, err);
}

/* {"attempts", "successes", "errors", "requests", "bootstrapped"}:
 * what the run did (ids borrowed: copied in). NULL when out of memory. */
static pc_json *run_summary(const pc__opt_host *h,
                            const pc__opt_bootstrap_info *info)
{
  void *ctx = h->host->ctx;
  pc_json *o = h->js->new_object(ctx);

  if (!o ||
      pc__opt_json_set(h, o, "attempts", h->js->new_int(ctx, info->attempts),
                       NULL) ||
      pc__opt_json_set(h, o, "successes",
                       h->js->new_int(ctx, info->successes), NULL) ||
      pc__opt_json_set(h, o, "errors", h->js->new_int(ctx, info->errors),
                       NULL) ||
      pc__opt_json_set(h, o, "requests", h->js->new_int(ctx, info->requests),
                       NULL) ||
      pc__opt_json_set(h, o, "bootstrapped",
                       info->ids ? h->js->copy(ctx, info->ids)
                                 : h->js->new_array(ctx), NULL)) {
    h->js->free(ctx, o);
    return NULL;
  }
  return o;
}

/* Record the one trial: the run's summary plus label and state. */
static int record(const pc__opt_host *h, const pc_compile_api *api,
                  const pc__opt_bootstrap_info *info, const pc_json *state,
                  pc_error *err)
{
  void *ctx = h->host->ctx;
  pc_json *t = run_summary(h, info);
  int rc = t ? PC_OK : PC_E_NOMEM;

  if (!rc)
    rc = pc__opt_json_set(h, t, "candidate", h->js->new_int(ctx, 0), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "label",
                          h->js->new_string(ctx, "bootstrap", 9), err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "split", h->js->new_string(ctx, "train", 5),
                          err);
  if (!rc)
    rc = pc__opt_json_set(h, t, "state", h->js->copy(ctx, state), err);
  if (!rc)
    rc = pc__opt_record_trial(h, api, t, err);
  else
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  h->js->free(ctx, t);
  return rc;
}

static int bs_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  bootstrap *o = inst;
  const pc__opt_host *h = o->h;
  pc__opt_fewshot fx;
  pc__opt_bootstrap_info info;
  pc_json *state = NULL, *partial = NULL, *report = NULL;
  int64_t *order = NULL;
  int rc;

  memset(&info, 0, sizeof(info));
  rc = pc__opt_fewshot_open(&fx, h, api, WHO, err);
  if (rc)
    return rc;
  rc = pc__opt_fewshot_order(&fx, &order, err);
  if (rc)
    goto out;
  rc = pc__opt_bootstrap_run(&fx, &o->params, order, fx.n_train, &state,
                             &info, &partial, err);
  if ((rc == PC_E_BUDGET || rc == PC_E_CANCELLED) && partial) {
    /* Keep what was learnt before the cap: the successes known so far and
     * the labeled fill. `err` keeps the host's message. */
    pc_error e2 = PC_ERROR_INIT;

    report = run_summary(h, &info);
    if (report)
      pc__opt_json_set(h, report, "partial", h->js->new_bool(h->host->ctx, 1),
                       NULL);
    pc__opt_set_result(h, api, partial, report, &e2);
    goto out;
  }
  if (rc)
    goto out;
  rc = record(h, api, &info, state, err);
  if (rc)
    goto out;
  if (!(report = run_summary(h, &info))) {
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    goto out;
  }
  rc = pc__opt_set_result(h, api, state, report, err);
out:
  h->js->free(h->host->ctx, state);
  h->js->free(h->host->ctx, partial);
  h->js->free(h->host->ctx, report);
  h->js->free(h->host->ctx, info.ids);
  pc__opt_free(h, order);
  pc__opt_fewshot_close(&fx);
  return rc;
}

static const pc_optimizer_iface bs_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "bootstrap",
  .create = bs_create,
  .destroy = bs_destroy,
  .estimate = bs_estimate,
  .compile = bs_compile,
  .settings = bs_settings,
};

static int bs_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-bootstrap", state, err);
}

static const void *bs_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(bs_iface);
  return &bs_iface;
}

static const pc_plugin_info bs_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.bootstrap",
  .name = "bootstrap",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "BootstrapFewShot: a teacher's successful traces as demos",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = bs_init,
  .fini = pc__opt_fini,
  .get_interface = bs_get_interface,
  .get_interface_at = NULL,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &bs_info;
}
