/*
 * opt_labeled.c - the `labeled` optimizer plugin: DSPy's LabeledFewShot
 * (reference dspy-optimizers.md section 1), which gives every predictor
 * k labeled train examples as demos and calls no LM (docs/optimizers.md).
 */
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "../opt-common/fewshot.h"

#define WHO "labeled"

enum { S_K, S_SAMPLE, S_COUNT };

static const pc__opt_spec specs[S_COUNT] = {
  {"k", PC__OPT_SET_INT, 0, 16, 0, 0, 0},
  {"sample", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
};

/* One configured optimizer. */
typedef struct labeled {
  const pc__opt_host *h;         /* borrowed: the plugin state */
  pc__opt_value vals[S_COUNT];   /* the settings, defaults filled in */
} labeled;

static int lb_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  labeled *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, settings_json, len,
                              o->vals, err);
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static void lb_destroy(void *inst)
{
  labeled *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int lb_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  labeled *o = inst;

  return pc__opt_settings_write(o->h, specs, S_COUNT, o->vals, out, err);
}

static int lb_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  labeled *o = inst;

  (void)info_json;
  (void)len;
  return pc__opt_write_estimate(o->h, 0, 0, 0, out, err);
}

static int lb_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  labeled *o = inst;
  pc__opt_fewshot fx;
  pc_json *state = NULL;
  int64_t *order = NULL;
  int rc;

  rc = pc__opt_fewshot_open(&fx, o->h, api, WHO, err);
  if (rc)
    return rc;
  rc = pc__opt_fewshot_order(&fx, &order, err);
  if (!rc)
    rc = pc__opt_labeled_state(&fx, order, fx.n_train, o->vals[S_K].i,
                               (int)o->vals[S_SAMPLE].i, &state, err);
  if (!rc)
    rc = pc__opt_set_result(o->h, api, state, NULL, err);
  o->h->js->free(o->h->host->ctx, state);
  pc__opt_free(o->h, order);
  pc__opt_fewshot_close(&fx);
  return rc;
}

static const pc_optimizer_iface lb_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "labeled",
  .create = lb_create,
  .destroy = lb_destroy,
  .estimate = lb_estimate,
  .compile = lb_compile,
  .settings = lb_settings,
};

static int lb_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-labeled", state, err);
}

static const void *lb_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(lb_iface);
  return &lb_iface;
}

static const pc_plugin_info lb_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.labeled",
  .name = "labeled",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "LabeledFewShot: k labeled train examples as demos",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = lb_init,
  .fini = pc__opt_fini,
  .get_interface = lb_get_interface,
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
  return &lb_info;
}
