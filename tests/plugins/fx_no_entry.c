/* PLACEHOLDER */
#include "promptc/plugin.h"
PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *h);
const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *h)
{
  return h ? NULL : NULL;
}
