/*
 * fx_program.c - a fixture pc.program/1 plugin for tests/unit/
 * test_module_plugin.c and tests/cli/flow_test.sh. Its tables, for modules
 * with the signature `question -> answer`:
 *   two_pass  calls uses[0] with the question, then uses[1] with
 *             uses[0]'s answer followed by settings "suffix" (default
 *             "!"), and answers what uses[1] answered;
 *   failing   fails with PC_E_PROVIDER "planted failure";
 *   no_answer writes {} (the host must refuse it);
 *   calc      asks the tool "calculator" for settings "expression" and
 *             answers the observation;
 *   stranger  calls a module that is not in its "uses".
 * create() refuses settings holding "refuse". The fixture parses only the
 * compact JSON the host writes: {"question":"..."} / {"answer":"..."}.
 */
#include <stdio.h>
#include <string.h>

#include "fx_common.h"

typedef struct sink_buf {
  char text[1024];
  size_t len;
} sink_buf;

static int sink_write(void *ctx, const char *text, size_t len)
{
  sink_buf *b = ctx;

  if (b->len + len >= sizeof(b->text))
    return 1;
  memcpy(b->text + b->len, text, len);
  b->len += len;
  b->text[b->len] = '\0';
  return 0;
}

/* The raw (still escaped) string value of "key" in `json`, into `out`. */
static int get_str(const char *json, size_t len, const char *key, char *out,
                   size_t cap)
{
  char pat[64];
  const char *p, *end = json + len;
  size_t n = 0;

  snprintf(pat, sizeof(pat), "\"%s\":\"", key);
  p = strstr(json, pat);
  if (!p || p >= end)
    return 0;
  for (p += strlen(pat); p < end && *p != '"' && n + 2 < cap; p++) {
    if (*p == '\\' && p + 1 < end)
      out[n++] = *p++;
    out[n++] = *p;
  }
  out[n] = '\0';
  return p < end && *p == '"';
}

static int fail(pc_error *err, int code, const char *msg)
{
  err->code = code;
  snprintf(err->message, sizeof(err->message), "%s", msg);
  return code;
}

typedef struct prog_inst {
  char suffix[64];
  char expression[128];
  char first[64];
  char second[64];
} prog_inst;

static prog_inst instances[64];
static int n_instances;

static int prog_create(void *plugin_state, const char *settings_json,
                       size_t len, const char *uses_json, size_t uses_len,
                       void **inst, pc_error *err)
{
  prog_inst *p;
  char tmp[256];
  const char *q;

  (void)plugin_state;
  if (strstr(settings_json, "refuse"))
    return fail(err, PC_E_INVALID_ARG, "settings: refused on purpose");
  /* Fixture instances are reused round-robin; tests make only a few. */
  p = &instances[n_instances++ % 64];
  memset(p, 0, sizeof(*p));
  if (!get_str(settings_json, len, "suffix", p->suffix, sizeof(p->suffix)))
    snprintf(p->suffix, sizeof(p->suffix), "!");
  get_str(settings_json, len, "expression", p->expression,
          sizeof(p->expression));
  /* uses: ["a","b"] -> first and second names. */
  snprintf(tmp, sizeof(tmp), "%.*s", (int)uses_len, uses_json);
  q = strchr(tmp, '"');
  if (q && sscanf(q + 1, "%63[^\"]", p->first) == 1) {
    q = strchr(q + 1, '"');
    q = q ? strchr(q + 1, '"') : NULL;
    if (q)
      sscanf(q + 1, "%63[^\"]", p->second);
  }
  *inst = p;
  return PC_OK;
}

static int two_pass(void *inst, const pc_program_host *host,
                    const char *inputs_json, size_t len,
                    const pc_text_sink *out, pc_error *err)
{
  prog_inst *p = inst;
  sink_buf a = {{0}, 0}, b = {{0}, 0};
  pc_text_sink sa = {PC_ABI_HEADER_INIT(pc_text_sink), &a, sink_write};
  pc_text_sink sb = {PC_ABI_HEADER_INIT(pc_text_sink), &b, sink_write};
  char q[256], ans[256], in[600];
  int rc;

  if (!get_str(inputs_json, len, "question", q, sizeof(q)))
    return fail(err, PC_E_INVALID_ARG, "no question");
  snprintf(in, sizeof(in), "{\"question\":\"%s\"}", q);
  rc = host->call_module(host->ctx, p->first, in, strlen(in), &sa, err);
  if (rc)
    return rc;
  if (!get_str(a.text, a.len, "answer", ans, sizeof(ans)))
    return fail(err, PC_E_INTERNAL, "first pass: no answer");
  snprintf(in, sizeof(in), "{\"question\":\"%s%s\"}", ans, p->suffix);
  rc = host->call_module(host->ctx, p->second, in, strlen(in), &sb, err);
  if (rc)
    return rc;
  return out->write(out->ctx, b.text, b.len) ? PC_E_INTERNAL : PC_OK;
}

static int failing(void *inst, const pc_program_host *host,
                   const char *inputs_json, size_t len,
                   const pc_text_sink *out, pc_error *err)
{
  (void)inst;
  (void)host;
  (void)inputs_json;
  (void)len;
  (void)out;
  return fail(err, PC_E_PROVIDER, "planted failure");
}

static int no_answer(void *inst, const pc_program_host *host,
                     const char *inputs_json, size_t len,
                     const pc_text_sink *out, pc_error *err)
{
  (void)inst;
  (void)host;
  (void)inputs_json;
  (void)len;
  (void)err;
  return out->write(out->ctx, "{}", 2) ? PC_E_INTERNAL : PC_OK;
}

static int calc(void *inst, const pc_program_host *host,
                const char *inputs_json, size_t len,
                const pc_text_sink *out, pc_error *err)
{
  prog_inst *p = inst;
  sink_buf o = {{0}, 0};
  pc_text_sink so = {PC_ABI_HEADER_INIT(pc_text_sink), &o, sink_write};
  char args[256], res[1100];
  int rc;

  (void)inputs_json;
  (void)len;
  snprintf(args, sizeof(args), "{\"expression\":\"%s\"}", p->expression);
  rc = host->call_tool(host->ctx, "calculator", args, strlen(args), &so,
                       err);
  if (rc)
    return rc;
  snprintf(res, sizeof(res), "{\"answer\":\"%s\"}", o.text);
  return out->write(out->ctx, res, strlen(res)) ? PC_E_INTERNAL : PC_OK;
}

static int stranger(void *inst, const pc_program_host *host,
                    const char *inputs_json, size_t len,
                    const pc_text_sink *out, pc_error *err)
{
  sink_buf o = {{0}, 0};
  pc_text_sink so = {PC_ABI_HEADER_INIT(pc_text_sink), &o, sink_write};

  (void)inst;
  (void)len;
  (void)out;
  return host->call_module(host->ctx, "nobody", inputs_json,
                           strlen(inputs_json), &so, err);
}

#define PROGRAM(NAME, FN) \
  static const pc_program_iface NAME##_iface = { \
    .hdr = PC_ABI_HEADER_INIT(pc_program_iface), \
    .name = #NAME, \
    .create = prog_create, \
    .destroy = fx_destroy, \
    .forward = FN, \
  }

PROGRAM(two_pass, two_pass);
PROGRAM(failing, failing);
PROGRAM(no_answer, no_answer);
PROGRAM(calc, calc);
PROGRAM(stranger, stranger);

static const pc_program_iface *const tables[] = {
  &two_pass_iface, &failing_iface, &no_answer_iface, &calc_iface,
  &stranger_iface, NULL
};

/* One plugin offers several tables of one interface, by index. */
static const void *get_interface_at(void *state, const char *id,
                                    uint32_t index, uint32_t *size)
{
  (void)state;
  if (strcmp(id, PC_IFACE_PROGRAM) != 0 ||
      index >= sizeof(tables) / sizeof(tables[0]) - 1)
    return NULL;
  *size = tables[index]->hdr.struct_size;
  return tables[index];
}

static const void *get_interface(void *state, const char *id, uint32_t *size)
{
  return get_interface_at(state, id, 0, size);
}

static const pc_plugin_info info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.test.fx_program",
  .name = "fx_program",
  .version = "1.0.0",
  .license = "MIT",
  .summary = "fixture program plugins: two_pass, failing, no_answer, calc",
  .kinds = PC_KIND_PROGRAM,
  .flags = 0,
  .init = fx_init,
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
