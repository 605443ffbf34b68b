/* fx_null_descriptor.c - a plugin whose entry refuses every host. */
#include "promptc/plugin.h"

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  (void)host;
  return NULL;
}
