/* fx_good.c - a well-formed fixture plugin: one metric, "fixture_len". */
#include <string.h>

#include "fx_common.h"

static const pc_metric_iface metric = {
  .hdr = PC_ABI_HEADER_INIT(pc_metric_iface),
  .name = "fixture_len",
  .create = fx_create,
  .destroy = fx_destroy,
  .score = fx_score,
};

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_METRIC) != 0)
    return NULL;
  *size = metric.hdr.struct_size;
  return &metric;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.good",
  .name = "fx-good",
  .version = "1.2.3",
  .license = "MIT",
  .summary = "fixture: a well-formed metric plugin",
  .kinds = PC_KIND_METRIC,
  .flags = PC_PLUGIN_THREADSAFE_INSTANCES,
  .init = fx_init,
  .get_interface = get_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
