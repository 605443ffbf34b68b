/* fx_wrong_major.c - a descriptor that claims ABI major 2. */

#include "fx_common.h"

static const pc_plugin_info info = {
  .hdr = {(uint32_t)sizeof(pc_plugin_info), 2, 0},
  .id = "org.promptc.test.wrong-major",
  .name = "fx-wrong-major",
  .version = "2.0.0",
  .license = "MIT",
  .kinds = PC_KIND_METRIC,
  .init = fx_init,
  .get_interface = fx_no_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  (void)host;  /* deliberately ignores the host's major */
  return &info;
}
