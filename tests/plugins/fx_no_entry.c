/* fx_no_entry.c - a shared object that is not a promptc plugin: it has no
 * pc_plugin_entry_v1, only a look-alike with the wrong name. */
#include "promptc/plugin.h"

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry(const pc_abi_header *host)
{
  (void)host;
  return NULL;
}
