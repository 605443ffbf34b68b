/* fx_failing_init.c - a plugin whose init fails because a host service it
 * needs is missing (it asks for one no host offers). */
#include <stdio.h>

#include "fx_common.h"

static int init(const pc_host_api *host, void **state, pc_error *err)
{
  uint32_t size = 0;

  *state = NULL;
  if (!host->get_host_interface(host->ctx, "pc.teleport/1", &size)) {
    err->code = PC_E_UNSUPPORTED;
    snprintf(err->message, sizeof(err->message),
             "needs host service pc.teleport/1");
    return PC_E_UNSUPPORTED;
  }
  return PC_OK;
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.failing-init",
  .name = "fx-failing-init",
  .version = "1.0.0",
  .license = "MIT",
  .kinds = PC_KIND_METRIC,
  .init = init,
  .get_interface = fx_no_interface,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host);

const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
