/*
 * abi_types.c - uses every struct of promptc/plugin.h that crosses the
 * plugin boundary, so that abidw can record the plugin ABI.
 *
 * The plugin ABI is a header ABI: structs and function-pointer tables, no
 * exported functions. abidw only describes types that an exported
 * function or variable reaches, so this file defines one exported
 * function per crossing type (pc_abi_use_<type>), taking a pointer to it.
 * Built with -g into a small shared object, it is what the baselines
 * sdk/abi/promptc-plugin-1.N.abi were made from and what
 * tests/cli/abi_test.sh builds from today's header to compare against
 * them. One function per type (rather than one taking them all) lets a
 * new minor add types as new functions, which the append-only rule
 * allows, without changing an existing function.
 *
 * It compiles against any 1.x header: the types of a later minor are
 * guarded by PC_ABI_MINOR. When a minor adds a crossing type, add its
 * function here under such a guard (sdk/abi/README.md).
 */
#include "promptc/plugin.h"

#define PC_ABI_USE(T) \
  void pc_abi_use_##T(const T *p); \
  void pc_abi_use_##T(const T *p) \
  { \
    (void)p; \
  }

/* ABI 1.0: the descriptor, the entry, errors and the host services. */
PC_ABI_USE(pc_abi_header)
PC_ABI_USE(pc_error)
PC_ABI_USE(pc_host_api)
PC_ABI_USE(pc_json_api)
PC_ABI_USE(pc_values_api)
PC_ABI_USE(pc_secrets_api)
PC_ABI_USE(pc_hash_api)
PC_ABI_USE(pc_http_header)
PC_ABI_USE(pc_http_request)
PC_ABI_USE(pc_http_sink)
PC_ABI_USE(pc_http_api)
PC_ABI_USE(pc_text_sink)
PC_ABI_USE(pc_plugin_info)
PC_ABI_USE(pc_plugin_entry_fn)

/* ABI 1.0: the per-kind interfaces and what they exchange. */
PC_ABI_USE(pc_message)
PC_ABI_USE(pc_adapter_format_request)
PC_ABI_USE(pc_message_sink)
PC_ABI_USE(pc_adapter_parse_request)
PC_ABI_USE(pc_adapter_iface)
PC_ABI_USE(pc_lm_request)
PC_ABI_USE(pc_lm_sink)
PC_ABI_USE(pc_lm_provider_iface)
PC_ABI_USE(pc_metric_sink)
PC_ABI_USE(pc_metric_iface)
PC_ABI_USE(pc_eval_request)
PC_ABI_USE(pc_propose_request)
PC_ABI_USE(pc_compile_api)
PC_ABI_USE(pc_optimizer_iface)

/* ABI 1.2: tools and program modules. */
#if PC_ABI_MINOR >= 2
PC_ABI_USE(pc_tool_iface)
PC_ABI_USE(pc_program_host)
PC_ABI_USE(pc_program_iface)
#endif
