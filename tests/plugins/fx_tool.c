/*
 * fx_tool.c - fixture pc.tool/1 plugin for tests/unit/test_tool.c and
 * tests/cli/react_test.sh, with three tools:
 *   fx_echo  - returns its "text" argument (settings: an optional
 *              "prefix" put before it; a "bogus" setting fails create);
 *   fx_fail  - always fails with PC_E_PROVIDER, "planted failure";
 *   fx_sleep - sleeps "ms" milliseconds (default 3000) without looking
 *              at cancellation, then returns "slept", so a timeout must
 *              cut it off and drop its late result.
 * Instances are not declared thread-safe: the host must serialise calls
 * on one instance, and fx_echo fails the call if two overlap.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promptc/plugin.h"

static const pc_host_api *fx_host;
static atomic_int echo_in_call;
static atomic_int sleep_finished;

typedef struct fx_inst {
  char prefix[64];
} fx_inst;

static int fail(pc_error *err, int code, const char *msg)
{
  err->code = code;
  snprintf(err->message, sizeof(err->message), "%s", msg);
  return code;
}

static int tool_init(const pc_host_api *host, void **state, pc_error *err)
{
  (void)err;
  fx_host = host;
  *state = (void *)host;
  return PC_OK;
}

/* The text of string member `key` in the flat JSON object `json`
 * (enough for the fixture's own simple settings and arguments). */
static int member(const char *json, const char *key, char *out, size_t cap)
{
  char pat[64];
  const char *s, *e;

  snprintf(pat, sizeof(pat), "\"%s\":", key);
  s = strstr(json, pat);
  if (!s)
    return -1;
  s += strlen(pat);
  while (*s == ' ')
    s++;
  if (*s == '"') {
    s++;
    e = strchr(s, '"');
  } else {
    e = s + strcspn(s, ",}");
  }
  if (!e || (size_t)(e - s) >= cap)
    return -1;
  memcpy(out, s, (size_t)(e - s));
  out[e - s] = '\0';
  return 0;
}

static int tool_create(void *plugin_state, const char *config_json,
                       size_t len, void **inst, pc_error *err)
{
  fx_inst *fi;

  (void)plugin_state;
  (void)len;
  /* A planted bad setting, so tests see create() fail. */
  if (strstr(config_json, "\"bogus\""))
    return fail(err, PC_E_INVALID_ARG, "unknown setting \"bogus\"");
  fi = fx_host->alloc(fx_host->ctx, sizeof(*fi));
  if (!fi)
    return fail(err, PC_E_NOMEM, "out of memory");
  memset(fi, 0, sizeof(*fi));
  if (member(config_json, "prefix", fi->prefix, sizeof(fi->prefix)))
    fi->prefix[0] = '\0';
  *inst = fi;
  return PC_OK;
}

static void tool_destroy(void *inst)
{
  fx_host->free(fx_host->ctx, inst);
}

static int echo_call(void *inst, const pc_call *call, const char *args_json,
                     size_t args_len, const pc_text_sink *out, pc_error *err)
{
  fx_inst *fi = inst;
  char text[512];
  struct timespec ts = {0, 2000000};
  int rc = PC_OK;

  (void)call;
  (void)args_len;
  if (atomic_fetch_add(&echo_in_call, 1) != 0)
    rc = fail(err, PC_E_INTERNAL, "calls overlap on one instance");
  nanosleep(&ts, NULL);
  if (!rc && member(args_json, "text", text, sizeof(text)))
    rc = fail(err, PC_E_INVALID_ARG, "expected a string \"text\"");
  if (!rc && ((fi->prefix[0] &&
               out->write(out->ctx, fi->prefix, strlen(fi->prefix))) ||
              out->write(out->ctx, text, strlen(text))))
    rc = fail(err, PC_E_NOMEM, "the sink refused the text");
  atomic_fetch_sub(&echo_in_call, 1);
  return rc;
}

static int fail_call(void *inst, const pc_call *call, const char *args_json,
                     size_t args_len, const pc_text_sink *out, pc_error *err)
{
  (void)inst;
  (void)call;
  (void)args_json;
  (void)args_len;
  (void)out;
  return fail(err, PC_E_PROVIDER, "planted failure");
}

static int sleep_call(void *inst, const pc_call *call, const char *args_json,
                      size_t args_len, const pc_text_sink *out,
                      pc_error *err)
{
  char ms_text[32];
  long ms = 3000;
  struct timespec ts;

  (void)inst;
  (void)call;
  (void)args_len;
  (void)err;
  if (!member(args_json, "ms", ms_text, sizeof(ms_text)))
    ms = strtol(ms_text, NULL, 10);
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
  atomic_fetch_add(&sleep_finished, 1);
  return out->write(out->ctx, "slept", 5) ? PC_E_NOMEM : PC_OK;
}

static const pc_tool_iface tools[] = {
  {.hdr = PC_ABI_HEADER_INIT(pc_tool_iface), .name = "fx_echo",
   .description = "Echoes its text.",
   .args_schema = "{\"text\": {\"type\": \"string\"}}",
   .required_args = NULL, .create = tool_create, .destroy = tool_destroy,
   .call = echo_call},
  {.hdr = PC_ABI_HEADER_INIT(pc_tool_iface), .name = "fx_fail",
   .description = "Always fails.",
   .args_schema = "{\"query\": {\"type\": \"string\"}}",
   .required_args = "[]", .create = tool_create, .destroy = tool_destroy,
   .call = fail_call},
  {.hdr = PC_ABI_HEADER_INIT(pc_tool_iface), .name = "fx_sleep",
   .description = "Sleeps for a while.",
   .args_schema = "{\"ms\": {\"type\": \"integer\"}, "
                  "\"query\": {\"type\": \"string\"}}",
   .required_args = "[]", .create = tool_create, .destroy = tool_destroy,
   .call = sleep_call},
};

static const void *get_interface_at(void *state, const char *id,
                                    uint32_t index, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_TOOL) != 0 ||
      index >= sizeof(tools) / sizeof(tools[0]))
    return NULL;
  *size = tools[index].hdr.struct_size;
  return &tools[index];
}

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  return get_interface_at(state, id, 0, size);
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.fx_tool",
  .name = "fx_tool",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "fixture tools: echo, a failing one and a sleeping one",
  .kinds = PC_KIND_TOOL,
  .flags = 0,
  .init = tool_init,
  .get_interface = get_interface,
  .get_interface_at = get_interface_at,
};

PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host);
PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *host)
{
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &info;
}
