/* fx_extra_symbols.c - a working plugin built carelessly: default
 * visibility and no version script, so its helpers are exported too. The
 * one-symbol check (tests/cli/plugin_symbols_test.sh) must flag it. */

#include "fx_common.h"

int fx_leaked_helper(int x);
int fx_leaked_counter;

int fx_leaked_helper(int x)
{
  return x + fx_leaked_counter;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.extra-symbols",
  .name = "fx-extra-symbols",
  .version = "1.0.0",
  .license = "MIT",
  .kinds = PC_KIND_METRIC,
  .init = fx_init,
  .get_interface = fx_no_interface,
};

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
