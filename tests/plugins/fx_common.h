/*
 * fx_common.h - pieces shared by the fixture plugins of tests/unit/
 * test_loader.c: a metric interface named after the fixture that scores 1
 * when the prediction JSON is non-empty.
 */
#ifndef FX_COMMON_H
#define FX_COMMON_H

#include "promptc/plugin.h"

static const pc_host_api *fx_host;

static inline int fx_init(const pc_host_api *host, void **state, pc_error *err)
{
  (void)err;
  fx_host = host;
  *state = (void *)host;
  return PC_OK;
}

static inline int fx_create(void *plugin_state, const char *config_json, size_t len,
                     void **inst, pc_error *err)
{
  (void)plugin_state;
  (void)config_json;
  (void)len;
  (void)err;
  *inst = (void *)&fx_host;
  return PC_OK;
}

static inline void fx_destroy(void *inst)
{
  (void)inst;
}

static inline int fx_score(void *inst, const char *example_json, size_t example_len,
                    const char *prediction_json, size_t prediction_len,
                    const char *trace_json, size_t trace_len,
                    const pc_metric_sink *out, pc_error *err)
{
  (void)inst;
  (void)example_json;
  (void)example_len;
  (void)prediction_json;
  (void)trace_json;
  (void)trace_len;
  (void)err;
  return out->score(out->ctx, prediction_len > 2 ? 1.0 : 0.0);
}

/* get_interface of a fixture that offers no interface at all. */
static inline const void *fx_no_interface(void *state, const char *id,
                                          uint32_t *size)
{
  (void)state;
  (void)id;
  (void)size;
  return NULL;
}

#endif
