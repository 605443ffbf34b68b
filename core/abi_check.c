/*
 * abi_check.c - compile-time checks that the plugin ABI's crossing
 * structs keep the layout they were released with.
 *
 * Every struct of promptc/plugin.h that crosses the plugin boundary is
 * listed here with its size and, for each member, its offset and size,
 * as _Static_asserts: a change that moves or resizes anything fails the
 * build of libpromptc itself, before any test runs. Appending a member
 * (the only change the ABI allows, docs/ABI-HISTORY.md) changes only the
 * struct's size: update that one number and add the new member's line,
 * marked with the minor it appeared in.
 *
 * The numbers are those of LP64 (x86_64, and every other 64-bit data
 * model where int64_t, double and pointers are 8-byte aligned: aarch64,
 * ppc64le, riscv64, s390x). They were generated once by a throwaway
 * program printing offsetof/sizeof, and checked by hand against the
 * declarations (pc_error: header 8, code at 8, http_status at 12,
 * retry_after_ms at 16, message at 24 for 256 bytes, 280 in all;
 * pc_compile_api: header and ctx, then eleven function pointers to
 * set_result at 96, so 104 bytes at 1.0, four 1.1 members to 136). On a
 * host where pointers are not 8 bytes (ILP32) the exact numbers are
 * skipped; the checks that hold everywhere (the header first, 8 bytes)
 * remain. The gate of tests/cli/abi_test.sh (abidiff against the
 * baselines in sdk/abi/) covers the same ground from the other side.
 *
 * The status codes and flag bits are part of the ABI as well, so their
 * values are checked too.
 */
#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

/* Size of struct T in bytes. */
#define PC_ABI_SIZE(T, n) \
  _Static_assert(sizeof(T) == (n), #T " must be " #n " bytes")
/* Member f of struct T: its offset and its size in bytes. */
#define PC_ABI_FIELD(T, f, off, n) \
  _Static_assert(offsetof(T, f) == (off) && sizeof(((T *)0)->f) == (n), \
                 #T "." #f " must be at offset " #off ", " #n " bytes")
/* Every crossing struct starts with its pc_abi_header. */
#define PC_ABI_HEADER_FIRST(T) \
  _Static_assert(offsetof(T, hdr) == 0, #T " must start with its header")

/* ------------------------------------------------------------------------ */
/* Everywhere: the header, and each struct opening with it.                 */

_Static_assert(sizeof(pc_abi_header) == 8, "pc_abi_header must be 8 bytes");
_Static_assert(offsetof(pc_abi_header, struct_size) == 0 &&
               offsetof(pc_abi_header, abi_major) == 4 &&
               offsetof(pc_abi_header, abi_minor) == 6,
               "pc_abi_header must be struct_size, abi_major, abi_minor");
PC_ABI_HEADER_FIRST(pc_error);
PC_ABI_HEADER_FIRST(pc_host_api);
PC_ABI_HEADER_FIRST(pc_json_api);
PC_ABI_HEADER_FIRST(pc_values_api);
PC_ABI_HEADER_FIRST(pc_secrets_api);
PC_ABI_HEADER_FIRST(pc_hash_api);
PC_ABI_HEADER_FIRST(pc_http_header);
PC_ABI_HEADER_FIRST(pc_http_request);
PC_ABI_HEADER_FIRST(pc_http_sink);
PC_ABI_HEADER_FIRST(pc_http_api);
PC_ABI_HEADER_FIRST(pc_text_sink);
PC_ABI_HEADER_FIRST(pc_plugin_info);
PC_ABI_HEADER_FIRST(pc_message);
PC_ABI_HEADER_FIRST(pc_adapter_format_request);
PC_ABI_HEADER_FIRST(pc_message_sink);
PC_ABI_HEADER_FIRST(pc_adapter_parse_request);
PC_ABI_HEADER_FIRST(pc_adapter_iface);
PC_ABI_HEADER_FIRST(pc_lm_request);
PC_ABI_HEADER_FIRST(pc_lm_sink);
PC_ABI_HEADER_FIRST(pc_lm_provider_iface);
PC_ABI_HEADER_FIRST(pc_metric_sink);
PC_ABI_HEADER_FIRST(pc_metric_iface);
PC_ABI_HEADER_FIRST(pc_eval_request);
PC_ABI_HEADER_FIRST(pc_propose_request);
PC_ABI_HEADER_FIRST(pc_compile_api);
PC_ABI_HEADER_FIRST(pc_optimizer_iface);
PC_ABI_HEADER_FIRST(pc_tool_iface);
PC_ABI_HEADER_FIRST(pc_program_host);
PC_ABI_HEADER_FIRST(pc_program_iface);

/* ------------------------------------------------------------------------ */
/* Constants: status codes and flag bits never change value.                */

_Static_assert(PC_ABI_MAJOR == 1, "this file checks ABI major 1");
_Static_assert(PC_ABI_MINOR >= 2, "the layouts below include ABI 1.2");
_Static_assert(PC_OK == 0 && PC_E_INVALID_ARG == 1 && PC_E_UNSUPPORTED == 2 &&
               PC_E_NOMEM == 3 && PC_E_IO == 4 && PC_E_TIMEOUT == 5 &&
               PC_E_CANCELLED == 6 && PC_E_RATE_LIMITED == 7 &&
               PC_E_AUTH == 8 && PC_E_CONTEXT_LENGTH == 9 &&
               PC_E_PROVIDER == 10 && PC_E_PARSE == 11 &&
               PC_E_BUDGET == 12 && PC_E_INTERNAL == 13,
               "status codes are append-only and never renumbered");
_Static_assert(PC_E_LAST >= 14, "PC_E_LAST is one past the last code");
_Static_assert(PC_ERROR_MESSAGE_MAX == 256, "pc_error.message is 256 bytes");
_Static_assert(PC_SHA256_HEX_SIZE == 65, "hex digests are 64 digits + NUL");
_Static_assert(PC_LOG_ERROR == 0 && PC_LOG_WARN == 1 && PC_LOG_INFO == 2 &&
               PC_LOG_DEBUG == 3, "log levels keep their values");
_Static_assert(PC_JSON_NULL == 0 && PC_JSON_BOOL == 1 && PC_JSON_INT == 2 &&
               PC_JSON_DOUBLE == 3 && PC_JSON_STRING == 4 &&
               PC_JSON_ARRAY == 5 && PC_JSON_OBJECT == 6,
               "JSON types keep their values");
_Static_assert(PC_JSON_PARSE_STRICT == 0 && PC_JSON_PARSE_REPAIR == 1 &&
               PC_JSON_TEXT_COMPACT == 0 && PC_JSON_TEXT_SPACED == 1 &&
               PC_JSON_TEXT_PRETTY == 2 && PC_JSON_TEXT_ASCII == 4 &&
               PC_JSON_TEXT_SORTED == 8, "JSON flags keep their bits");
_Static_assert(PC_VALUE_RENDER_FIELD == 0 && PC_VALUE_RENDER_PYSTR == 1 &&
               PC_VALUE_FROM_TEXT == 0 && PC_VALUE_FROM_JSON == 1,
               "value flags keep their bits");
_Static_assert(PC_HTTP_STREAM == 1 && PC_LM_STREAM == 1,
               "stream flags keep their bits");
_Static_assert(PC_KIND_LM_PROVIDER == 1 && PC_KIND_ADAPTER == 2 &&
               PC_KIND_METRIC == 4 && PC_KIND_OPTIMIZER == 8,
               "plugin kinds of 1.0 keep their bits");
_Static_assert(PC_KIND_TOOL == 16 && PC_KIND_PROGRAM == 32,
               "plugin kinds of 1.2 keep their bits");
_Static_assert(PC_PLUGIN_THREADSAFE_INSTANCES == 1,
               "plugin flags keep their bits");
_Static_assert(PC_EVAL_TRACES == 1 && PC_EVAL_FEEDBACK == 2 &&
               PC_EVAL_NO_METRIC == 4 && PC_EVAL_TEACHER == 8 &&
               PC_EVAL_EXCLUDE_SELF == 16, "evaluate flags keep their bits");
_Static_assert(PC_FINETUNE_NO_DEMOS == 1,
               "finetune_record flags (1.1) keep their bits");

/* ------------------------------------------------------------------------ */
/* LP64: the size of each struct and the offset and size of each member.    */

#if UINTPTR_MAX == UINT64_MAX && SIZE_MAX == UINT64_MAX

_Static_assert(sizeof(void *) == 8 && sizeof(size_t) == 8 &&
               sizeof(void (*)(void)) == 8 && _Alignof(int64_t) == 8 &&
               _Alignof(double) == 8,
               "the numbers below are for LP64 with 8-byte int64 alignment");

/* pc_abi_header */
PC_ABI_SIZE(pc_abi_header, 8);
PC_ABI_FIELD(pc_abi_header, struct_size, 0, 4);
PC_ABI_FIELD(pc_abi_header, abi_major, 4, 2);
PC_ABI_FIELD(pc_abi_header, abi_minor, 6, 2);

/* pc_error */
PC_ABI_SIZE(pc_error, 280);
PC_ABI_FIELD(pc_error, hdr, 0, 8);
PC_ABI_FIELD(pc_error, code, 8, 4);
PC_ABI_FIELD(pc_error, http_status, 12, 4);
PC_ABI_FIELD(pc_error, retry_after_ms, 16, 8);
PC_ABI_FIELD(pc_error, message, 24, 256);

/* pc_host_api */
PC_ABI_SIZE(pc_host_api, 88);
PC_ABI_FIELD(pc_host_api, hdr, 0, 8);
PC_ABI_FIELD(pc_host_api, ctx, 8, 8);
PC_ABI_FIELD(pc_host_api, log, 16, 8);
PC_ABI_FIELD(pc_host_api, alloc, 24, 8);
PC_ABI_FIELD(pc_host_api, realloc, 32, 8);
PC_ABI_FIELD(pc_host_api, free, 40, 8);
PC_ABI_FIELD(pc_host_api, now_ns, 48, 8);
PC_ABI_FIELD(pc_host_api, wall_ms, 56, 8);
PC_ABI_FIELD(pc_host_api, rng_u64, 64, 8);
PC_ABI_FIELD(pc_host_api, is_cancelled, 72, 8);
PC_ABI_FIELD(pc_host_api, get_host_interface, 80, 8);

/* pc_json_api */
PC_ABI_SIZE(pc_json_api, 192);
PC_ABI_FIELD(pc_json_api, hdr, 0, 8);
PC_ABI_FIELD(pc_json_api, parse, 8, 8);
PC_ABI_FIELD(pc_json_api, to_text, 16, 8);
PC_ABI_FIELD(pc_json_api, free, 24, 8);
PC_ABI_FIELD(pc_json_api, copy, 32, 8);
PC_ABI_FIELD(pc_json_api, type, 40, 8);
PC_ABI_FIELD(pc_json_api, get_bool, 48, 8);
PC_ABI_FIELD(pc_json_api, get_int, 56, 8);
PC_ABI_FIELD(pc_json_api, get_double, 64, 8);
PC_ABI_FIELD(pc_json_api, get_string, 72, 8);
PC_ABI_FIELD(pc_json_api, array_len, 80, 8);
PC_ABI_FIELD(pc_json_api, array_get, 88, 8);
PC_ABI_FIELD(pc_json_api, object_len, 96, 8);
PC_ABI_FIELD(pc_json_api, object_get, 104, 8);
PC_ABI_FIELD(pc_json_api, object_at, 112, 8);
PC_ABI_FIELD(pc_json_api, new_null, 120, 8);
PC_ABI_FIELD(pc_json_api, new_bool, 128, 8);
PC_ABI_FIELD(pc_json_api, new_int, 136, 8);
PC_ABI_FIELD(pc_json_api, new_double, 144, 8);
PC_ABI_FIELD(pc_json_api, new_string, 152, 8);
PC_ABI_FIELD(pc_json_api, new_array, 160, 8);
PC_ABI_FIELD(pc_json_api, new_object, 168, 8);
PC_ABI_FIELD(pc_json_api, object_set, 176, 8);
PC_ABI_FIELD(pc_json_api, array_append, 184, 8);

/* pc_values_api */
PC_ABI_SIZE(pc_values_api, 24);
PC_ABI_FIELD(pc_values_api, hdr, 0, 8);
PC_ABI_FIELD(pc_values_api, render, 8, 8);
PC_ABI_FIELD(pc_values_api, parse, 16, 8);

/* pc_secrets_api */
PC_ABI_SIZE(pc_secrets_api, 16);
PC_ABI_FIELD(pc_secrets_api, hdr, 0, 8);
PC_ABI_FIELD(pc_secrets_api, lookup, 8, 8);

/* pc_hash_api */
PC_ABI_SIZE(pc_hash_api, 24);
PC_ABI_FIELD(pc_hash_api, hdr, 0, 8);
PC_ABI_FIELD(pc_hash_api, sha256_hex, 8, 8);
PC_ABI_FIELD(pc_hash_api, sha256_file, 16, 8);

/* pc_http_header */
PC_ABI_SIZE(pc_http_header, 24);
PC_ABI_FIELD(pc_http_header, hdr, 0, 8);
PC_ABI_FIELD(pc_http_header, name, 8, 8);
PC_ABI_FIELD(pc_http_header, value, 16, 8);

/* pc_http_request */
PC_ABI_SIZE(pc_http_request, 88);
PC_ABI_FIELD(pc_http_request, hdr, 0, 8);
PC_ABI_FIELD(pc_http_request, method, 8, 8);
PC_ABI_FIELD(pc_http_request, url, 16, 8);
PC_ABI_FIELD(pc_http_request, headers, 24, 8);
PC_ABI_FIELD(pc_http_request, n_headers, 32, 8);
PC_ABI_FIELD(pc_http_request, header_size, 40, 4);
PC_ABI_FIELD(pc_http_request, flags, 44, 4);
PC_ABI_FIELD(pc_http_request, body, 48, 8);
PC_ABI_FIELD(pc_http_request, body_len, 56, 8);
PC_ABI_FIELD(pc_http_request, connect_timeout_ms, 64, 8);
PC_ABI_FIELD(pc_http_request, total_timeout_ms, 72, 8);
PC_ABI_FIELD(pc_http_request, secret_header, 80, 8);

/* pc_http_sink */
PC_ABI_SIZE(pc_http_sink, 40);
PC_ABI_FIELD(pc_http_sink, hdr, 0, 8);
PC_ABI_FIELD(pc_http_sink, ctx, 8, 8);
PC_ABI_FIELD(pc_http_sink, on_status, 16, 8);
PC_ABI_FIELD(pc_http_sink, on_header, 24, 8);
PC_ABI_FIELD(pc_http_sink, on_data, 32, 8);

/* pc_http_api */
PC_ABI_SIZE(pc_http_api, 16);
PC_ABI_FIELD(pc_http_api, hdr, 0, 8);
PC_ABI_FIELD(pc_http_api, request, 8, 8);

/* pc_text_sink */
PC_ABI_SIZE(pc_text_sink, 24);
PC_ABI_FIELD(pc_text_sink, hdr, 0, 8);
PC_ABI_FIELD(pc_text_sink, ctx, 8, 8);
PC_ABI_FIELD(pc_text_sink, write, 16, 8);

/* pc_plugin_info */
PC_ABI_SIZE(pc_plugin_info, 96);
PC_ABI_FIELD(pc_plugin_info, hdr, 0, 8);
PC_ABI_FIELD(pc_plugin_info, id, 8, 8);
PC_ABI_FIELD(pc_plugin_info, name, 16, 8);
PC_ABI_FIELD(pc_plugin_info, version, 24, 8);
PC_ABI_FIELD(pc_plugin_info, license, 32, 8);
PC_ABI_FIELD(pc_plugin_info, summary, 40, 8);
PC_ABI_FIELD(pc_plugin_info, kinds, 48, 8);
PC_ABI_FIELD(pc_plugin_info, flags, 56, 8);
PC_ABI_FIELD(pc_plugin_info, init, 64, 8);
PC_ABI_FIELD(pc_plugin_info, fini, 72, 8);
PC_ABI_FIELD(pc_plugin_info, get_interface, 80, 8);
PC_ABI_FIELD(pc_plugin_info, get_interface_at, 88, 8);

/* pc_message */
PC_ABI_SIZE(pc_message, 32);
PC_ABI_FIELD(pc_message, hdr, 0, 8);
PC_ABI_FIELD(pc_message, role, 8, 8);
PC_ABI_FIELD(pc_message, content, 16, 8);
PC_ABI_FIELD(pc_message, content_len, 24, 8);

/* pc_adapter_format_request */
PC_ABI_SIZE(pc_adapter_format_request, 56);
PC_ABI_FIELD(pc_adapter_format_request, hdr, 0, 8);
PC_ABI_FIELD(pc_adapter_format_request, signature_json, 8, 8);
PC_ABI_FIELD(pc_adapter_format_request, signature_len, 16, 8);
PC_ABI_FIELD(pc_adapter_format_request, demos_json, 24, 8);
PC_ABI_FIELD(pc_adapter_format_request, demos_len, 32, 8);
PC_ABI_FIELD(pc_adapter_format_request, inputs_json, 40, 8);
PC_ABI_FIELD(pc_adapter_format_request, inputs_len, 48, 8);

/* pc_message_sink */
PC_ABI_SIZE(pc_message_sink, 32);
PC_ABI_FIELD(pc_message_sink, hdr, 0, 8);
PC_ABI_FIELD(pc_message_sink, ctx, 8, 8);
PC_ABI_FIELD(pc_message_sink, message, 16, 8);
PC_ABI_FIELD(pc_message_sink, params, 24, 8);

/* pc_adapter_parse_request */
PC_ABI_SIZE(pc_adapter_parse_request, 40);
PC_ABI_FIELD(pc_adapter_parse_request, hdr, 0, 8);
PC_ABI_FIELD(pc_adapter_parse_request, signature_json, 8, 8);
PC_ABI_FIELD(pc_adapter_parse_request, signature_len, 16, 8);
PC_ABI_FIELD(pc_adapter_parse_request, completion, 24, 8);
PC_ABI_FIELD(pc_adapter_parse_request, completion_len, 32, 8);

/* pc_adapter_iface */
PC_ABI_SIZE(pc_adapter_iface, 56);
PC_ABI_FIELD(pc_adapter_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_adapter_iface, name, 8, 8);
PC_ABI_FIELD(pc_adapter_iface, fallback, 16, 8);
PC_ABI_FIELD(pc_adapter_iface, create, 24, 8);
PC_ABI_FIELD(pc_adapter_iface, destroy, 32, 8);
PC_ABI_FIELD(pc_adapter_iface, format, 40, 8);
PC_ABI_FIELD(pc_adapter_iface, parse, 48, 8);

/* pc_lm_request */
PC_ABI_SIZE(pc_lm_request, 64);
PC_ABI_FIELD(pc_lm_request, hdr, 0, 8);
PC_ABI_FIELD(pc_lm_request, model, 8, 8);
PC_ABI_FIELD(pc_lm_request, messages, 16, 8);
PC_ABI_FIELD(pc_lm_request, n_messages, 24, 8);
PC_ABI_FIELD(pc_lm_request, message_size, 32, 4);
PC_ABI_FIELD(pc_lm_request, flags, 36, 4);
PC_ABI_FIELD(pc_lm_request, params_json, 40, 8);
PC_ABI_FIELD(pc_lm_request, params_len, 48, 8);
PC_ABI_FIELD(pc_lm_request, rollout_id, 56, 8);

/* pc_lm_sink */
PC_ABI_SIZE(pc_lm_sink, 48);
PC_ABI_FIELD(pc_lm_sink, hdr, 0, 8);
PC_ABI_FIELD(pc_lm_sink, ctx, 8, 8);
PC_ABI_FIELD(pc_lm_sink, text, 16, 8);
PC_ABI_FIELD(pc_lm_sink, delta, 24, 8);
PC_ABI_FIELD(pc_lm_sink, usage, 32, 8);
PC_ABI_FIELD(pc_lm_sink, meta, 40, 8);

/* pc_lm_provider_iface */
PC_ABI_SIZE(pc_lm_provider_iface, 48);
PC_ABI_FIELD(pc_lm_provider_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_lm_provider_iface, name, 8, 8);
PC_ABI_FIELD(pc_lm_provider_iface, create, 16, 8);
PC_ABI_FIELD(pc_lm_provider_iface, destroy, 24, 8);
PC_ABI_FIELD(pc_lm_provider_iface, identity, 32, 8);
PC_ABI_FIELD(pc_lm_provider_iface, complete, 40, 8);

/* pc_metric_sink */
PC_ABI_SIZE(pc_metric_sink, 40);
PC_ABI_FIELD(pc_metric_sink, hdr, 0, 8);
PC_ABI_FIELD(pc_metric_sink, ctx, 8, 8);
PC_ABI_FIELD(pc_metric_sink, score, 16, 8);
PC_ABI_FIELD(pc_metric_sink, feedback, 24, 8);
PC_ABI_FIELD(pc_metric_sink, subscore, 32, 8);

/* pc_metric_iface */
PC_ABI_SIZE(pc_metric_iface, 40);
PC_ABI_FIELD(pc_metric_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_metric_iface, name, 8, 8);
PC_ABI_FIELD(pc_metric_iface, create, 16, 8);
PC_ABI_FIELD(pc_metric_iface, destroy, 24, 8);
PC_ABI_FIELD(pc_metric_iface, score, 32, 8);

/* pc_eval_request */
PC_ABI_SIZE(pc_eval_request, 88);
PC_ABI_FIELD(pc_eval_request, hdr, 0, 8);
PC_ABI_FIELD(pc_eval_request, state_json, 8, 8);
PC_ABI_FIELD(pc_eval_request, state_len, 16, 8);
PC_ABI_FIELD(pc_eval_request, split, 24, 8);
PC_ABI_FIELD(pc_eval_request, indices, 32, 8);
PC_ABI_FIELD(pc_eval_request, n_indices, 40, 8);
PC_ABI_FIELD(pc_eval_request, flags, 48, 4);
PC_ABI_FIELD(pc_eval_request, reserved, 52, 4);
PC_ABI_FIELD(pc_eval_request, stop_after_successes, 56, 8);
PC_ABI_FIELD(pc_eval_request, success_threshold, 64, 8);
PC_ABI_FIELD(pc_eval_request, config_json, 72, 8);
PC_ABI_FIELD(pc_eval_request, config_len, 80, 8);

/* pc_propose_request */
PC_ABI_SIZE(pc_propose_request, 72);
PC_ABI_FIELD(pc_propose_request, hdr, 0, 8);
PC_ABI_FIELD(pc_propose_request, role, 8, 8);
PC_ABI_FIELD(pc_propose_request, signature, 16, 8);
PC_ABI_FIELD(pc_propose_request, inputs_json, 24, 8);
PC_ABI_FIELD(pc_propose_request, inputs_len, 32, 8);
PC_ABI_FIELD(pc_propose_request, demos_json, 40, 8);
PC_ABI_FIELD(pc_propose_request, demos_len, 48, 8);
PC_ABI_FIELD(pc_propose_request, config_json, 56, 8);
PC_ABI_FIELD(pc_propose_request, config_len, 64, 8);

/* pc_compile_api */
PC_ABI_SIZE(pc_compile_api, 136);
PC_ABI_FIELD(pc_compile_api, hdr, 0, 8);
PC_ABI_FIELD(pc_compile_api, ctx, 8, 8);
PC_ABI_FIELD(pc_compile_api, program, 16, 8);
PC_ABI_FIELD(pc_compile_api, dataset, 24, 8);
PC_ABI_FIELD(pc_compile_api, evaluate, 32, 8);
PC_ABI_FIELD(pc_compile_api, propose, 40, 8);
PC_ABI_FIELD(pc_compile_api, seed, 48, 8);
PC_ABI_FIELD(pc_compile_api, budget, 56, 8);
PC_ABI_FIELD(pc_compile_api, record_trial, 64, 8);
PC_ABI_FIELD(pc_compile_api, checkpoint_save, 72, 8);
PC_ABI_FIELD(pc_compile_api, checkpoint_load, 80, 8);
PC_ABI_FIELD(pc_compile_api, progress, 88, 8);
PC_ABI_FIELD(pc_compile_api, set_result, 96, 8);
/* Appended in 1.1: */
PC_ABI_FIELD(pc_compile_api, info, 104, 8);
PC_ABI_FIELD(pc_compile_api, finetune_record, 112, 8);
PC_ABI_FIELD(pc_compile_api, write_file, 120, 8);
PC_ABI_FIELD(pc_compile_api, run_optimizer, 128, 8);

/* pc_optimizer_iface */
PC_ABI_SIZE(pc_optimizer_iface, 56);
PC_ABI_FIELD(pc_optimizer_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_optimizer_iface, name, 8, 8);
PC_ABI_FIELD(pc_optimizer_iface, create, 16, 8);
PC_ABI_FIELD(pc_optimizer_iface, destroy, 24, 8);
PC_ABI_FIELD(pc_optimizer_iface, estimate, 32, 8);
PC_ABI_FIELD(pc_optimizer_iface, compile, 40, 8);
PC_ABI_FIELD(pc_optimizer_iface, settings, 48, 8);

/* pc_tool_iface (since 1.2) */
PC_ABI_SIZE(pc_tool_iface, 64);
PC_ABI_FIELD(pc_tool_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_tool_iface, name, 8, 8);
PC_ABI_FIELD(pc_tool_iface, description, 16, 8);
PC_ABI_FIELD(pc_tool_iface, args_schema, 24, 8);
PC_ABI_FIELD(pc_tool_iface, required_args, 32, 8);
PC_ABI_FIELD(pc_tool_iface, create, 40, 8);
PC_ABI_FIELD(pc_tool_iface, destroy, 48, 8);
PC_ABI_FIELD(pc_tool_iface, call, 56, 8);

/* pc_program_host (since 1.2) */
PC_ABI_SIZE(pc_program_host, 32);
PC_ABI_FIELD(pc_program_host, hdr, 0, 8);
PC_ABI_FIELD(pc_program_host, ctx, 8, 8);
PC_ABI_FIELD(pc_program_host, call_module, 16, 8);
PC_ABI_FIELD(pc_program_host, call_tool, 24, 8);

/* pc_program_iface (since 1.2) */
PC_ABI_SIZE(pc_program_iface, 40);
PC_ABI_FIELD(pc_program_iface, hdr, 0, 8);
PC_ABI_FIELD(pc_program_iface, name, 8, 8);
PC_ABI_FIELD(pc_program_iface, create, 16, 8);
PC_ABI_FIELD(pc_program_iface, destroy, 24, 8);
PC_ABI_FIELD(pc_program_iface, forward, 32, 8);

#endif /* LP64 */
