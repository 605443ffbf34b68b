/* fx_missing_iface.c - loads fine, but the metric interface it hands out
 * is shorter than ABI 1.0 (a struct_size of 8), so the host must not use
 * it. */
#include <string.h>

#include "fx_common.h"

static const pc_metric_iface metric = {
  .hdr = {8, PC_ABI_MAJOR, PC_ABI_MINOR},
  .name = "fixture_short",
  .create = fx_create,
  .destroy = fx_destroy,
  .score = fx_score,
};

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_METRIC) != 0)
    return NULL;
  *size = 8;
  return &metric;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.missing-iface",
  .name = "fx-missing-iface",
  .version = "1.0.0",
  .license = "MIT",
  .kinds = PC_KIND_METRIC,
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
