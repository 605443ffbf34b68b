/* fx_short_struct.c - a descriptor whose struct_size is too small to hold
 * the ABI 1.0 members. */
#include "fx_common.h"

static const pc_plugin_info info = {
  .hdr = {16, PC_ABI_MAJOR, PC_ABI_MINOR},
  .id = "org.promptc.test.short",
  .name = "fx-short",
  .version = "1.0.0",
  .license = "MIT",
  .kinds = PC_KIND_METRIC,
  .init = fx_init,
  .get_interface = fx_no_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
