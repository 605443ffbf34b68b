/*
 * adapter_common.h - layout code shared by the chat and JSON adapter
 * plugins: host tables, signature JSON, Python-exact text helpers and the
 * message layout DSPy 3.3.1's adapters have in common.
 *
 * This file is compiled into both plugins (it is not a library of its
 * own). It includes only promptc/plugin.h and the C standard library, and
 * its functions have hidden visibility, so each plugin still exports only
 * pc_plugin_entry_v1. Every function here is reentrant: nothing is kept
 * between calls, which is what lets the plugins declare
 * PC_PLUGIN_THREADSAFE_INSTANCES.
 */
#ifndef PC_ADAPTER_COMMON_H
#define PC_ADAPTER_COMMON_H

#include <stddef.h>

#include "promptc/plugin.h"

#if defined(__GNUC__)
#define PC__AD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PC__AD_PRINTF(a, b)
#endif

/* Largest text an adapter builds (one message, one parsed section). */
#define PC__AD_BUF_MAX ((size_t)256 * 1024 * 1024)

/* DSPy's fixed sentences. */
#define PC__AD_INCOMPLETE_PREFIX \
  "This is an example of the task, though some input or output fields " \
  "are not supplied."
#define PC__AD_NOT_SUPPLIED "Not supplied for this particular example. "
#define PC__AD_EMPTY_RESPONSE "The LM returned an empty or null response."

/* ------------------------------------------------------------------------ */
/* Host tables and errors.                                                  */

/* What a plugin keeps from init(): the host's tables, all borrowed until
 * fini. Immutable after init, so any thread may read it. */
typedef struct pc__ad_host {
  const pc_host_api *host;
  const pc_json_api *json;
  const pc_values_api *values;
  const char *who;  /* static: names the plugin in messages */
} pc__ad_host;

/*
 * pc__ad_host_new - check the host table and fetch "pc.json/1" and
 * "pc.values/1". `who` names the plugin in messages ("adapter chat").
 * On success *out is allocated with host->alloc and released with
 * pc__ad_host_free. Fails with PC_E_INVALID_ARG (no or short host table),
 * PC_E_UNSUPPORTED (a service missing, of another major or too short) or
 * PC_E_NOMEM; then *out is NULL.
 */
int pc__ad_host_new(const pc_host_api *host, const char *who,
                    pc__ad_host **out, pc_error *err);
void pc__ad_host_free(pc__ad_host *h);  /* NULL is a no-op */

/*
 * Lifecycle shared by the adapters. The plugin state is the pc__ad_host
 * made by pc__ad_host_new in init. The adapters take no settings and keep
 * nothing per instance, so an instance is the plugin state itself:
 * pc__ad_create validates the config (pc__ad_check_config) and hands the
 * state back; pc__ad_destroy has nothing to release. pc__ad_fini frees
 * the state. They fit the pc_adapter_iface and pc_plugin_info slots.
 */
int pc__ad_create(void *state, const char *config, size_t len, void **inst,
                  pc_error *err);
void pc__ad_destroy(void *inst);
void pc__ad_fini(void *state);

/*
 * pc__ad_error - record an error, keep the first one, return `code`.
 * Writes one line (newlines become spaces, truncated to fit) into
 * err->message when `err` is not NULL and holds no error yet.
 */
int pc__ad_error(pc_error *err, int code, const char *fmt, ...)
  PC__AD_PRINTF(3, 4);

/*
 * pc__ad_check_config - validate an adapter's create() configuration: NULL,
 * empty text, JSON null or an empty object are accepted; anything else is
 * PC_E_INVALID_ARG naming `who` (the adapters take no settings yet).
 */
int pc__ad_check_config(const pc__ad_host *h, const char *who,
                        const char *config, size_t len, pc_error *err);

/* ------------------------------------------------------------------------ */
/* A growable text buffer on the host allocator, capped at PC__AD_BUF_MAX.  */

typedef struct pc__ad_buf {
  const pc__ad_host *h;  /* borrowed */
  char *data;            /* owned: NUL-terminated once anything was put */
  size_t len;
  size_t cap;
} pc__ad_buf;

void pc__ad_buf_init(pc__ad_buf *b, const pc__ad_host *h);
void pc__ad_buf_free(pc__ad_buf *b);  /* frees data, keeps h */
/* Append; PC_E_NOMEM when the allocator fails or the cap is reached, with
 * the buffer unchanged. */
int pc__ad_buf_put(pc__ad_buf *b, const char *s, size_t n);
int pc__ad_buf_puts(pc__ad_buf *b, const char *s);
/* The text, "" when nothing was put. Borrowed from b. */
const char *pc__ad_buf_str(const pc__ad_buf *b);
/* Python's str.strip() applied to the bytes from `from` to the end. */
void pc__ad_buf_strip_from(pc__ad_buf *b, size_t from);

/* ------------------------------------------------------------------------ */
/* Python text semantics on UTF-8.                                          */

/* Length in bytes of the whitespace character (str.isspace) at s[0], or 0
 * when s[0] does not start one. */
size_t pc__ad_space_at(const char *s, size_t len);

/* Python's str.strip(): *start and *end (exclusive) bound the stripped
 * text inside s[0..len). */
void pc__ad_strip(const char *s, size_t len, size_t *start, size_t *end);

/*
 * pc__ad_next_line - iterate as Python's str.splitlines() does (breaks:
 * \n \r \r\n \v \f \x1c \x1d \x1e U+0085 U+2028 U+2029). Call with *pos
 * at 0; while it returns 1, the line is s[*line, *line + *line_len) and
 * *pos moves past its break. Returns 0 at the end.
 */
int pc__ad_next_line(const char *s, size_t len, size_t *pos, size_t *line,
                     size_t *line_len);

/* ------------------------------------------------------------------------ */
/* Signatures as they cross the ABI (plugin.h, "pc.adapter/1").             */

typedef struct pc__ad_field {
  const char *name;       /* borrowed from the signature's JSON */
  const char *type;       /* canonical type string, for pc.values/1 */
  const char *type_name;  /* the name DSPy shows */
  const char *kind;       /* "str", "int", ..., "literal", "optional" */
  const char *desc;       /* "" when none */
  const char *schema;     /* JSON schema text, or NULL */
  const char *constraints;     /* constraint text, or NULL */
  const pc_json *values;  /* literal values (an array), or NULL */
} pc__ad_field;

typedef struct pc__ad_sig {
  pc_json *root;              /* owned: the parsed signature JSON */
  const char *instructions;   /* borrowed from root, or from `owned` */
  size_t instructions_len;
  char *owned;                /* owned: default instructions, or NULL */
  pc__ad_field *inputs;       /* owned array */
  size_t n_inputs;
  pc__ad_field *outputs;      /* owned array */
  size_t n_outputs;
} pc__ad_sig;

/*
 * pc__ad_sig_load - parse signature JSON text into *sig (which the caller
 * provides; cleared first). On success release it with pc__ad_sig_clear.
 * On failure *sig holds nothing, and the message names the member
 * ("signature JSON: outputs[1]: missing \"name\""). Missing instructions
 * get DSPy's default sentence.
 */
int pc__ad_sig_load(const pc__ad_host *h, const char *text, size_t len,
                    pc__ad_sig *sig, pc_error *err);
void pc__ad_sig_clear(const pc__ad_host *h, pc__ad_sig *sig);

/* ------------------------------------------------------------------------ */
/* Layout shared by the adapters.                                           */

/* "Your input fields are:\n..." (DSPy format_field_description). */
int pc__ad_put_description(pc__ad_buf *b, const pc__ad_sig *sig);

/* "In adhering to this structure, your objective is: " and the dedented
 * instructions, each line indented by 8 spaces. */
int pc__ad_put_task(pc__ad_buf *b, const pc__ad_sig *sig);

/* "{name}" followed, for outputs, by "        # note: the value you
 * produce ..." (DSPy translate_field_type). */
int pc__ad_put_placeholder(pc__ad_buf *b, const pc__ad_field *f,
                           int is_output, pc_error *err);

/* " (must be formatted as a valid Python <type name>)", or nothing for
 * str fields. */
int pc__ad_put_type_hint(pc__ad_buf *b, const pc__ad_field *f);

/* "[[ ## name ## ]]\n" and the rendered value (format_field_value). */
int pc__ad_put_section(pc__ad_buf *b, const pc__ad_field *f,
                       const pc_json *value, pc_error *err);

/*
 * pc__ad_put_user_content - DSPy format_user_message_content: `prefix`
 * (may be NULL), the sections of the input fields present in `obj` (a key
 * with a null value counts as present), then `reminder` (may be NULL), all
 * joined by blank lines and stripped.
 */
int pc__ad_put_user_content(pc__ad_buf *b, const pc__ad_sig *sig,
                            const pc_json *obj, const char *prefix,
                            const char *reminder, pc_error *err);

/* Demo classes of DSPy's format_demos. */
#define PC__AD_DEMO_DROP 0
#define PC__AD_DEMO_INCOMPLETE 1
#define PC__AD_DEMO_COMPLETE 2
int pc__ad_demo_class(const pc__ad_host *h, const pc__ad_sig *sig,
                      const pc_json *demo);

/* How one adapter differs from the other, for pc__ad_format. */
typedef struct pc__ad_style {
  const char *who;  /* "adapter chat", for messages */
  /* The structure block of the system message. */
  int (*structure)(pc__ad_buf *b, const pc__ad_sig *sig, pc_error *err);
  /* The output-order reminder of the final user message. */
  int (*reminder)(pc__ad_buf *b, const pc__ad_sig *sig);
  /* A demo's assistant message; missing outputs get `missing`. */
  int (*assistant)(pc__ad_buf *b, const pc__ad_sig *sig, const pc_json *demo,
                   const char *missing, pc_error *err);
  /* Extra LM parameters to hand to the sink, or NULL. */
  const char *params;
} pc__ad_style;

/* The whole of format(): system message, demos, final user message and,
 * when the style and the sink have them, the extra parameters. */
int pc__ad_format(const pc__ad_host *h, const pc__ad_style *style,
                  const pc_adapter_format_request *req,
                  const pc_message_sink *out, pc_error *err);

/* ------------------------------------------------------------------------ */
/* Parsing.                                                                  */

/*
 * pc__ad_parse_field - coerce one output value with pc.values/1 and store
 * it in found[i] (owned; a previous value is kept: first one wins). A
 * failure is PC_E_PARSE "Failed to parse field NAME from the LM response:
 * <why>".
 */
int pc__ad_parse_field(const pc__ad_host *h, const pc__ad_sig *sig,
                       size_t i, const char *text, size_t len,
                       uint32_t flags, pc_json **found, pc_error *err);

/*
 * pc__ad_finish - fill missing Optional outputs with null, fail with
 * PC_E_PARSE "Expected to find output fields in the LM response: [a, b];
 * found: [a]" when a required one is missing, else write the object of
 * outputs in signature order to `out` as compact JSON. Frees every
 * found[i] either way.
 */
int pc__ad_finish(const pc__ad_host *h, const pc__ad_sig *sig,
                  pc_json **found, const pc_text_sink *out, pc_error *err);

/* Release found[0..n) (entries may be NULL). */
void pc__ad_found_free(const pc__ad_host *h, pc_json **found, size_t n);

#endif
