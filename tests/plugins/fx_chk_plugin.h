/*
 * fx_chk_plugin.h - one configurable fixture plugin for `promptc plugins
 * check`: each tests/plugins/fx_chk_*.c defines the one defect it carries
 * (FX_BUG_*) and, when it needs one, its kind (FX_ADAPTER, FX_OPTIMIZER;
 * a metric otherwise), then includes this file.
 */
#ifndef FX_CHK_PLUGIN_H
#define FX_CHK_PLUGIN_H

#include <string.h>

#include "promptc/plugin.h"

/* Each fixture uses only some of the pieces below. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-const-variable"

#ifndef FX_ID
#define FX_ID "org.promptc.test.chk"
#endif

static const pc_host_api *fx_host;

static int fx_fail(pc_error *err, int code, const char *msg)
{
  size_t n = strlen(msg);

  if (n >= sizeof(err->message))
    n = sizeof(err->message) - 1;
  memcpy(err->message, msg, n);
  err->message[n] = '\0';
  err->code = code;
  return code;
}

static int fx_init(const pc_host_api *host, void **state, pc_error *err)
{
  (void)err;
  fx_host = host;
  *state = NULL;
  return PC_OK;
}

/* Accept exactly "{}" and refuse anything else, as a plugin with no
 * settings does (unless a defect says otherwise). */
static int fx_create(void *plugin_state, const char *config, size_t len,
                     void **inst, pc_error *err)
{
  (void)plugin_state;
#if defined(FX_BUG_LAX_CREATE)
  (void)config;
  (void)len;
  (void)err;
#else
  if (len != 2 || memcmp(config, "{}", 2) != 0) {
#if defined(FX_BUG_EMPTY_MESSAGE)
    return fx_fail(err, PC_E_INVALID_ARG, "");
#else
    return fx_fail(err, PC_E_INVALID_ARG,
                   "fx: config: takes no settings (an empty object)");
#endif
  }
#endif
  *inst = (void *)&fx_host;
  return PC_OK;
}

static void fx_destroy(void *inst)
{
  (void)inst;
}

/* ---- metric --------------------------------------------------------- */

static int fx_score(void *inst, const char *example, size_t example_len,
                    const char *prediction, size_t prediction_len,
                    const char *trace, size_t trace_len,
                    const pc_metric_sink *out, pc_error *err)
{
  (void)inst;
  (void)example;
  (void)example_len;
  (void)prediction;
  (void)trace;
  (void)trace_len;
  (void)err;
#if defined(FX_BUG_SEGV)
  {
    volatile int *volatile nowhere = NULL;

    *nowhere = 1;
  }
#endif
#if defined(FX_BUG_HANG)
  for (;;)
    ;  /* never scores: the check's timeout must end the process */
#endif
#if defined(FX_BUG_METRIC_RANGE)
  return out->score(out->ctx, 1.5);
#else
  return out->score(out->ctx, prediction_len > 2 ? 1.0 : 0.0);
#endif
}

#if defined(FX_BUG_SHORT_IFACE)
#define FX_METRIC_SIZE 8u  /* only the header: far below ABI 1.0's table */
#else
#define FX_METRIC_SIZE ((uint32_t)sizeof(pc_metric_iface))
#endif

static const pc_metric_iface fx_metric = {
  {FX_METRIC_SIZE, PC_ABI_MAJOR, PC_ABI_MINOR}, "fx_chk_metric", fx_create,
  fx_destroy, fx_score,
};

/* ---- adapter -------------------------------------------------------- */

static int fx_format(void *inst, const pc_adapter_format_request *req,
                     const pc_message_sink *out, pc_error *err)
{
  static const char reply[] = "answer: four\ncount: 4";
  int rc;

  (void)inst;
  (void)req;
  (void)err;
  rc = out->message(out->ctx, "system", "Answer.", 7);
  if (!rc)
    rc = out->message(out->ctx, "user", "a demo", 6);
  if (!rc)
    rc = out->message(out->ctx, "assistant", reply, sizeof(reply) - 1);
  if (!rc)
    rc = out->message(out->ctx, "user", "the question", 12);
  return rc;
}

/* A parse that loses what it was given: never the demo's outputs. */
static int fx_parse(void *inst, const pc_adapter_parse_request *req,
                    const pc_text_sink *out, pc_error *err)
{
  static const char parsed[] = "{\"answer\": \"five\", \"count\": 5}";

  (void)inst;
  (void)req;
  (void)err;
  return out->write(out->ctx, parsed, sizeof(parsed) - 1);
}

static const pc_adapter_iface fx_adapter = {
  PC_ABI_HEADER_INIT(pc_adapter_iface), "fx_chk_adapter", NULL, fx_create,
  fx_destroy, fx_format, fx_parse,
};

/* ---- optimizer ------------------------------------------------------ */

static int fx_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  (void)inst;
  (void)err;
  return out->write(out->ctx, "{}", 2);
}

/* Runs one evaluation, then returns PC_OK without set_result. */
static int fx_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  pc_eval_request req;
  pc_json *res = NULL;
  const pc_json_api *js;
  uint32_t size = 0;
  int rc;

  (void)inst;
  memset(&req, 0, sizeof(req));
  req.hdr.struct_size = (uint32_t)sizeof(req);
  req.hdr.abi_major = PC_ABI_MAJOR;
  req.hdr.abi_minor = PC_ABI_MINOR;
  req.split = PC_SPLIT_TRAIN;
  rc = api->evaluate(api->ctx, &req, &res, err);
  js = fx_host->get_host_interface(fx_host->ctx, "pc.json/1", &size);
  if (js && res)
    js->free(fx_host->ctx, res);
  return rc;
}

static const pc_optimizer_iface fx_optimizer = {
  PC_ABI_HEADER_INIT(pc_optimizer_iface), "fx_chk_optimizer", fx_create,
  fx_destroy, NULL, fx_compile, fx_settings,
};

/* ---- descriptor ----------------------------------------------------- */

#if defined(FX_ADAPTER)
#define FX_KINDS PC_KIND_ADAPTER
#elif defined(FX_OPTIMIZER)
#define FX_KINDS PC_KIND_OPTIMIZER
#elif defined(FX_BUG_MISSING_IFACE)
#define FX_KINDS (PC_KIND_METRIC | PC_KIND_ADAPTER)
#elif defined(FX_BUG_ZERO_KINDS)
#define FX_KINDS 0
#else
#define FX_KINDS PC_KIND_METRIC
#endif

static const void *fx_get_interface(void *state, const char *id,
                                    uint32_t *size)
{
  (void)state;
#if defined(FX_ADAPTER)
  if (strcmp(id, PC_IFACE_ADAPTER) == 0) {
    *size = (uint32_t)sizeof(fx_adapter);
    return &fx_adapter;
  }
#elif defined(FX_OPTIMIZER)
  if (strcmp(id, PC_IFACE_OPTIMIZER) == 0) {
    *size = (uint32_t)sizeof(fx_optimizer);
    return &fx_optimizer;
  }
#else
  if (strcmp(id, PC_IFACE_METRIC) == 0) {
    *size = FX_METRIC_SIZE;
    return &fx_metric;
  }
#endif
  return NULL;
}

static const pc_plugin_info fx_info = {
  PC_ABI_HEADER_INIT(pc_plugin_info),
#if defined(FX_BUG_BAD_ID)
  "Not An Id!",
#else
  FX_ID,
#endif
  "fx_chk", "1.0.0", "MIT", "a fixture for promptc plugins check",
  FX_KINDS, 0, fx_init, NULL, fx_get_interface, NULL,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &fx_info;
}

#endif
