/*
 * lm_common.h - what the HTTP LM provider plugins (lm-openai,
 * lm-anthropic, lm-ollama) share, compiled into each of them: the host
 * tables they need, a byte buffer, the settings every HTTP provider
 * reads, one HTTP exchange through the host's "pc.http/1" with streaming
 * split into lines, Retry-After parsing and the mapping of HTTP failures
 * to PC_E_* codes; then JSON helpers for their wire files, delivery to
 * the sink, the plugin and instance lifecycle (PC__LM_PROVIDER) and, for
 * APIs without `n`, one request per choice (pc__lm_complete_each).
 * Each plugin keeps its own wire format in its own files.
 *
 * Plugin-internal (pc__lm_ names, hidden visibility). Includes only
 * promptc/plugin.h. Nothing here prints, allocates with malloc or keeps
 * global state: memory comes from the host allocator.
 */
#ifndef PC_LM_COMMON_H
#define PC_LM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

/* Headers that let the sim-server reproduce the in-process sim exactly
 * (real servers ignore unknown headers): the call's rollout id, and for
 * providers whose API has no `n`, which choice a request is for. */
#define PC__LM_ROLLOUT_HEADER "X-Promptc-Rollout"
#define PC__LM_CHOICE_HEADER "X-Promptc-Choice"

/* The host tables a provider uses, fetched once at init. */
typedef struct pc__lm_host {
  const pc_host_api *host;
  const pc_json_api *json;
  const pc_http_api *http;
  const pc_hash_api *hash;
} pc__lm_host;

/* Fetch the tables; PC_E_UNSUPPORTED naming the missing one. `who` is the
 * plugin's short name for messages ("openai"). */
int pc__lm_host_init(const pc_host_api *host, const char *who,
                     pc__lm_host *out, pc_error *err);

/* A growable byte buffer on the host allocator; data is always
 * NUL-terminated. Functions return PC_OK or PC_E_NOMEM. */
typedef struct pc__lm_buf {
  const pc__lm_host *h;
  char *data;
  size_t len, cap;
} pc__lm_buf;

void pc__lm_buf_init(pc__lm_buf *b, const pc__lm_host *h);
int pc__lm_buf_put(pc__lm_buf *b, const char *s, size_t n);
int pc__lm_buf_puts(pc__lm_buf *b, const char *s);
void pc__lm_buf_free(pc__lm_buf *b);

/*
 * The settings every HTTP provider takes from its role config (all
 * strings owned by the struct, released by pc__lm_conf_free):
 *   base_url         string, default given by the provider; no trailing /
 *   model            string, required unless the provider says otherwise
 *   api_key          a secret reference ("env:NAME" or "file:PATH"), or
 *                    absent (local servers); a value that is not a
 *                    reference is an error that does not echo it
 *   timeout          seconds (number > 0), default 600: total per request
 *   connect_timeout  seconds (number > 0), default 10
 *   stream           bool, default false: ask for a streamed response
 *   headers          object of extra string headers (no secrets)
 *   base_dir         set by the host; accepted and ignored
 * `extra` lists the provider's own keys (NULL-terminated, may be NULL);
 * any other key is PC_E_INVALID_ARG naming it. On success *obj owns the
 * parsed config (for the provider's own keys; free with json->free).
 */
typedef struct pc__lm_conf {
  char *base_url;
  char *model;
  char *api_key_ref;   /* NULL when none */
  int64_t timeout_ms;
  int64_t connect_timeout_ms;
  int stream;
  pc_json *headers;    /* owned copy of "headers", or NULL */
} pc__lm_conf;

int pc__lm_conf_read(const pc__lm_host *h, const char *who,
                     const char *config_json, size_t len,
                     const char *default_base_url, int model_required,
                     const char *const *extra, pc__lm_conf *out,
                     pc_json **obj, pc_error *err);
void pc__lm_conf_free(const pc__lm_host *h, pc__lm_conf *c);

/* Called once per line of a streamed 2xx body (SSE or NDJSON), without
 * the line end ("\n" or "\r\n"); empty lines are delivered too (SSE
 * event boundaries). Non-zero stops the transfer with that code. */
typedef int (*pc__lm_line_fn)(void *ctx, const char *line, size_t len);

/* What one exchange returned. */
typedef struct pc__lm_reply {
  int32_t status;
  int64_t retry_after_ms;   /* from retry-after-ms or Retry-After; -1 */
  char request_id[96];      /* x-request-id or request-id; "" if none */
  pc__lm_buf body;          /* the whole body, unless streamed with 2xx */
} pc__lm_reply;

void pc__lm_reply_init(pc__lm_reply *r, const pc__lm_host *h);
void pc__lm_reply_free(pc__lm_reply *r);

/*
 * pc__lm_exchange - POST (body != NULL) or GET `conf->base_url` + `path`
 * through the host HTTP client, with the conf's timeouts and extra
 * headers, "Content-Type: application/json" when there is a body, and
 * `headers` (pairs name, value, ..., NULL; may be NULL). When
 * `auth_header` is non-NULL and the conf has an api_key, that header is
 * sent as "<auth_prefix><api_key ref>" and marked as the request's secret
 * header, so the host substitutes the key (the plugin never sees it).
 * With `on_line` non-NULL the request streams, and a 2xx body goes line
 * by line to on_line instead of into reply->body (a non-2xx body is still
 * collected, for the error message).
 *
 * Returns the host's transport code (PC_OK when a response arrived,
 * whatever its status; the reply is filled then). Messages start with
 * `who`.
 */
int pc__lm_exchange(const pc__lm_host *h, const char *who,
                    const pc__lm_conf *conf, const char *path,
                    const char *const *headers, const char *auth_header,
                    const char *auth_prefix, const char *body,
                    size_t body_len, pc__lm_line_fn on_line, void *line_ctx,
                    pc_call *call, pc__lm_reply *reply, pc_error *err);

/*
 * pc__lm_status_error - turn a non-2xx reply into a PC_E_* code and a
 * message "WHO: HTTP 429: <the provider's message>" (the message is read
 * from the JSON body's error.message, error (a string), or message; else
 * the first 160 bytes of the body, control characters replaced).
 *   401, 403                      PC_E_AUTH
 *   429                           PC_E_RATE_LIMITED (retry_after_ms set)
 *   408                           PC_E_TIMEOUT
 *   400, 404, 413, 422            PC_E_CONTEXT_LENGTH when the provider's
 *                                 message or error code says the prompt is
 *                                 too long (context_length_exceeded,
 *                                 "context length", "too long",
 *                                 "maximum context"), else
 *                                 PC_E_INVALID_ARG
 *   5xx, 529 and anything else    PC_E_PROVIDER (retry_after_ms set)
 * err->http_status is the status. Returns the code.
 */
int pc__lm_status_error(const pc__lm_host *h, const char *who,
                        const pc__lm_reply *reply, pc_error *err);

/* Retry-After as milliseconds from now: delta-seconds ("120", "1.5") or
 * an HTTP date (IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"),
 * compared with `now_wall_ms`; a date in the past is 0. -1 when the value
 * is neither. */
int64_t pc__lm_parse_retry_after(const char *value, size_t len,
                                 uint64_t now_wall_ms);

/* Set err (code, printf-style one-line message) and return the code. */
int pc__lm_error(pc_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* The string member `key` of object `o` (borrowed), or NULL. */
const char *pc__lm_str(const pc__lm_host *h, const pc_json *o,
                       const char *key);

/* A JSON array of {"role", "content"} objects from the request's
 * messages, skipping the roles in `skip` (NULL-terminated, may be NULL:
 * Anthropic takes "system" apart). New value owned by the caller; NULL on
 * OOM. */
pc_json *pc__lm_messages_json(const pc__lm_host *h, const pc_lm_request *req,
                              const char *const *skip);

/* The request's params_json parsed (an object; "{}" when empty). Owned by
 * the caller; PC_E_INVALID_ARG when it is not an object. */
int pc__lm_params(const pc__lm_host *h, const char *who,
                  const pc_lm_request *req, pc_json **out, pc_error *err);

/* ------------------------------------------------------------------------ */
/* Added for the providers and their tests (everything above is the
 * contract the providers were first written against and stays as is;
 * what follows is what they turned out to share). */

/* The most a pc__lm_buf holds: a put that would go past it fails with
 * PC_E_NOMEM and leaves the buffer unchanged. Also the longest streamed
 * line and the largest collected body. */
#define PC__LM_BUF_MAX ((size_t)64 * 1024 * 1024)

/* Hand the text of `b` over: a NUL-terminated string from the host
 * allocator, owned by the caller (release with h->host->free), and `b` is
 * left empty. Use this rather than taking b->data: an empty buffer's data
 * is a static "" that must not be freed. NULL when out of memory (then b
 * is unchanged). */
char *pc__lm_buf_take(pc__lm_buf *b);

/* Empty `b`, keeping its memory; its text stays a NUL-terminated "". */
void pc__lm_buf_reset(pc__lm_buf *b);

/* The longest provider message kept in an error (bytes). */
#define PC__LM_MESSAGE_MAX 160

/*
 * Splitting a body into lines, as pc__lm_exchange does for a streamed 2xx
 * response: feed the body in pieces of any size; each complete line goes
 * to `fn` without its "\n" or "\r\n" (empty lines too), a line cut across
 * pieces is carried over, and finish delivers a last line that has no line
 * end. `part` is owned (free with pc__lm_lines_free); `fn` and `ctx` are
 * borrowed.
 */
typedef struct pc__lm_lines {
  pc__lm_buf part;     /* owned: the unterminated tail so far */
  pc__lm_line_fn fn;   /* borrowed */
  void *ctx;           /* borrowed */
} pc__lm_lines;

void pc__lm_lines_init(pc__lm_lines *l, const pc__lm_host *h,
                       pc__lm_line_fn fn, void *ctx);
/* PC_OK, fn's non-zero return (nothing more is delivered), PC_E_NOMEM, or
 * PC_E_PROVIDER when a line grows past PC__LM_BUF_MAX. */
int pc__lm_lines_feed(pc__lm_lines *l, const char *data, size_t len);
/* Deliver the unterminated tail, if any; returns as feed does. */
int pc__lm_lines_finish(pc__lm_lines *l);
void pc__lm_lines_free(pc__lm_lines *l);

/*
 * pc__lm_clean - copy s[0..len) into out (cap bytes, NUL-terminated) as
 * one line safe for a message: control characters become spaces, runs of
 * spaces one space, both ends trimmed, and at most `max` bytes (cut on a
 * UTF-8 character boundary, ending in "..." when cut). Returns the length
 * written. `max` is also limited by cap - 1.
 */
size_t pc__lm_clean(const char *s, size_t len, size_t max, char *out,
                    size_t cap);

/* A sink callback's non-zero return `code` as the call's result:
 * PC_E_NOMEM when the sink ran out of memory, else PC_E_CANCELLED (a sink
 * stops a call), with "WHO: the sink refused the WHAT" in err. */
int pc__lm_refused(pc_error *err, const char *who, int code,
                   const char *what);

/* Non-zero for an HTTP status in 200..299. */
#define PC__LM_2XX(status) ((status) >= 200 && (status) <= 299)

/*
 * pc__lm_fetch - pc__lm_exchange (same arguments), then a non-2xx status
 * mapped with pc__lm_status_error: PC_OK only when a 2xx response
 * arrived, whose body (unless streamed) is in reply->body.
 */
int pc__lm_fetch(const pc__lm_host *h, const char *who,
                 const pc__lm_conf *conf, const char *path,
                 const char *const *headers, const char *auth_header,
                 const char *auth_prefix, const char *body, size_t body_len,
                 pc__lm_line_fn on_line, void *line_ctx, pc_call *call,
                 pc__lm_reply *reply, pc_error *err);

/* ------------------------------------------------------------------------ */
/* What the wire files of the providers share: JSON helpers. Everything   */
/* passed in is borrowed; messages start with `who`.                        */

/* "WHO: out of memory" in err; returns PC_E_NOMEM. */
int pc__lm_nomem(pc_error *err, const char *who);

/* Non-zero when `s` (may be NULL) says the prompt is too long for the
 * model: "context_length_exceeded", "context length", "too long",
 * "maximum context", "context window", in any case. */
int pc__lm_says_too_long(const char *s);

/* Copy the string `s` (NULL counts as "") into dst (cap bytes, cap >= 1),
 * cut to fit and NUL-terminated. */
void pc__lm_copy(char *dst, size_t cap, const char *s);

/* A NUL-terminated copy of s[0..n) from the host allocator, owned by the
 * caller (release with h->host->free); NULL when out of memory. */
char *pc__lm_strndup(const pc__lm_host *h, const char *s, size_t n);

/* The compact JSON text of `v`: on success *out is a NUL-terminated text
 * from the host allocator, owned by the caller (h->host->free), and *len
 * its length; otherwise *out is NULL and the code PC_E_NOMEM "WHO: out of
 * memory". */
int pc__lm_json_text(const pc__lm_host *h, const char *who, const pc_json *v,
                     char **out, size_t *len, pc_error *err);

/* The member `key` of `o` (borrowed from it), or NULL when `o` is NULL or
 * not an object, or the member is absent or JSON null. */
const pc_json *pc__lm_member(const pc__lm_host *h, const pc_json *o,
                             const char *key);

/* Set obj[key] = value, taking `value` over (it is freed on failure); a
 * NULL value counts as out of memory. PC_OK or PC_E_NOMEM. */
int pc__lm_put(const pc__lm_host *h, pc_json *obj, const char *key,
               pc_json *value);
/* The same with a new string value, a copy of the NUL-terminated `s`. */
int pc__lm_put_str(const pc__lm_host *h, pc_json *obj, const char *key,
                   const char *s);

/* params[key], when present, copied into dst[name]: a number, or with
 * `integer` an integer. Another type is PC_E_INVALID_ARG "WHO: params.KEY
 * must be a number" ("an integer"); PC_E_NOMEM. */
int pc__lm_put_number(const pc__lm_host *h, const char *who, pc_json *dst,
                      const pc_json *params, const char *key,
                      const char *name, int integer, pc_error *err);

/* params["stop"], when present, into dst[name] as an array of strings (a
 * single string becomes an array of one). Another shape is
 * PC_E_INVALID_ARG "WHO: params.stop must be a string or an array of
 * strings"; PC_E_NOMEM. */
int pc__lm_put_stop(const pc__lm_host *h, const char *who, pc_json *dst,
                    const pc_json *params, const char *name, pc_error *err);

/* Parse `len` bytes of `text` (NULL counts as "") as a JSON object. On
 * success *out owns it (release with h->json->free). Otherwise *out is
 * NULL and the code is PC_E_NOMEM, or PC_E_PROVIDER "WHO: WHAT is not a
 * JSON object" (`what` such as "the reply"). */
int pc__lm_parse_object(const pc__lm_host *h, const char *who,
                        const char *what, const char *text, size_t len,
                        pc_json **out, pc_error *err);

/* ------------------------------------------------------------------------ */
/* Delivery to the caller's sink. A refusal is reported as pc__lm_refused  */
/* does and its code returned.                                              */

/* The whole text of choice `index`. */
int pc__lm_send_text(const pc_lm_sink *out, const char *who, uint32_t index,
                     const char *text, size_t len, pc_error *err);

/* The usage, when the sink takes it and either count is known (>= 0). */
int pc__lm_send_usage(const pc_lm_sink *out, const char *who,
                      int64_t prompt_tokens, int64_t completion_tokens,
                      pc_error *err);

/* The served model's record as meta, in this order, skipping values that
 * are NULL or empty: "model", the provider's own `key` ("system_
 * fingerprint", "digest"; NULL for none) with `value`, "request_id",
 * "finish_reason". Nothing when the sink has no meta. */
int pc__lm_send_record(const pc_lm_sink *out, const char *who,
                       const char *model, const char *key,
                       const char *value, const char *request_id,
                       const char *finish, pc_error *err);

/* ------------------------------------------------------------------------ */
/* The plugin and its instances.                                            */

/* The plugin's init: *state is a new pc__lm_host holding the host's
 * tables (host allocator), released by pc__lm_plugin_fini. PC_OK,
 * PC_E_INVALID_ARG (no usable host table), PC_E_UNSUPPORTED (a service
 * missing) or PC_E_NOMEM, with *state NULL. */
int pc__lm_plugin_init(const pc_host_api *host, const char *who,
                       void **state, pc_error *err);
/* The plugin's fini (a pc_plugin_info.fini). NULL is a no-op. */
void pc__lm_plugin_fini(void *state);
/* The plugin's get_interface: `iface` (static) for PC_IFACE_LM_PROVIDER,
 * its size in *iface_size when that is not NULL; NULL for other ids. */
const void *pc__lm_plugin_iface(const pc_lm_provider_iface *iface,
                                const char *iface_id, uint32_t *iface_size);

/* What every provider instance starts with: the first member of the
 * provider's own instance struct. Read-only once created, so any number
 * of threads may call complete() on an instance at once. */
typedef struct pc__lm_inst {
  const pc__lm_host *h;   /* borrowed: the plugin state */
  const char *who;        /* static: the plugin's short name */
  pc__lm_conf conf;       /* owned */
  char *identity;         /* owned; NULL: identity() gives conf.model */
} pc__lm_inst;

/* How a provider makes its instances (a static table of the plugin). */
typedef struct pc__lm_inst_spec {
  const char *who;                /* "anthropic" */
  size_t size;                    /* of the instance struct */
  const char *default_base_url;
  const char *const *extra;       /* own config keys; NULL-terminated */
  /* Read the provider's own keys from the parsed config into a new
   * instance (its common part already read); may be NULL. On failure
   * the instance is destroyed with `destroy`. */
  int (*own)(pc__lm_inst *inst, const pc_json *config, pc_error *err);
  /* The provider's destroy: releases its own members, then calls
   * pc__lm_inst_free. */
  void (*destroy)(void *inst);
} pc__lm_inst_spec;

/*
 * pc__lm_inst_new - a provider's create(): a zeroed instance of
 * spec->size bytes, its pc__lm_inst filled from the common keys of
 * `config_json` (pc__lm_conf_read with the spec's default base URL, the
 * model required, spec->extra allowed), then spec->own called. On success
 * *inst owns the instance (the provider's destroy releases it); on
 * failure *inst is NULL and nothing is left to free.
 */
int pc__lm_inst_new(void *plugin_state, const pc__lm_inst_spec *spec,
                    const char *config_json, size_t len, void **inst,
                    pc_error *err);
/* Release the common part of an instance and the instance itself (after
 * the provider released its own members). NULL is a no-op. */
void pc__lm_inst_free(void *inst);
/* The identity() of every provider: the instance's identity, else its
 * configured model, written to `out`. */
int pc__lm_inst_identity(void *inst, const pc_text_sink *out,
                         pc_error *err);

/*
 * PC__LM_PROVIDER - what makes a provider's .so a plugin, the same for
 * every HTTP provider: its "pc.lm_provider/1" table named WHO (create is
 * pc__lm_inst_new with SPEC, a static pc__lm_inst_spec; destroy DESTROY;
 * identity pc__lm_inst_identity; complete COMPLETE), init and fini
 * through pc__lm_plugin_init and _fini, get_interface, the descriptor (id
 * ID, name WHO, version 1.0.0, license MIT, thread-safe instances, the
 * one-line SUMMARY) and pc_plugin_entry_v1, the one exported symbol. Use
 * it once, at file scope, in the plugin's main file.
 */
#define PC__LM_PROVIDER(WHO, ID, SUMMARY, SPEC, DESTROY, COMPLETE)        \
  static int lm_create(void *plugin_state, const char *config_json,     \
                       size_t len, void **inst, pc_error *err)          \
  {                                                                     \
    return pc__lm_inst_new(plugin_state, &(SPEC), config_json, len,    \
                           inst, err);                                  \
  }                                                                     \
                                                                        \
  static const pc_lm_provider_iface lm_iface = {                        \
    .hdr = PC_ABI_HEADER_INIT(pc_lm_provider_iface),                    \
    .name = (WHO),                                                      \
    .create = lm_create,                                                \
    .destroy = (DESTROY),                                               \
    .identity = pc__lm_inst_identity,                                   \
    .complete = (COMPLETE),                                             \
  };                                                                    \
                                                                        \
  static int lm_init(const pc_host_api *host, void **state,             \
                     pc_error *err)                                     \
  {                                                                     \
    return pc__lm_plugin_init(host, (WHO), state, err);                 \
  }                                                                     \
                                                                        \
  static const void *lm_get_interface(void *state, const char *iface_id,\
                                      uint32_t *iface_size)             \
  {                                                                     \
    (void)state;                                                        \
    return pc__lm_plugin_iface(&lm_iface, iface_id, iface_size);        \
  }                                                                     \
                                                                        \
  static const pc_plugin_info lm_info = {                               \
    .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),                          \
    .id = (ID),                                                         \
    .name = (WHO),                                                      \
    .version = "1.0.0",                                                 \
    .license = "MIT",                                                   \
    .summary = (SUMMARY),                                               \
    .kinds = PC_KIND_LM_PROVIDER,                                       \
    .flags = PC_PLUGIN_THREADSAFE_INSTANCES,                            \
    .init = lm_init,                                                    \
    .fini = pc__lm_plugin_fini,                                         \
    .get_interface = lm_get_interface,                                  \
  };                                                                    \
                                                                        \
  PC_PLUGIN_EXPORT const pc_plugin_info *                               \
  pc_plugin_entry_v1(const pc_abi_header *host);                        \
                                                                        \
  /* Discovery only: no allocation, threads, I/O or global state. */   \
  PC_PLUGIN_EXPORT const pc_plugin_info *                               \
  pc_plugin_entry_v1(const pc_abi_header *host)                         \
  {                                                                     \
    if (!host || host->abi_major != PC_ABI_MAJOR)                       \
      return NULL;                                                      \
    return &lm_info;                                                    \
  }

/* ------------------------------------------------------------------------ */
/* complete()                                                               */

/* The most choices a call may ask of an API without `n`. */
#define PC__LM_MAX_N 128

/*
 * pc__lm_call_check - what every complete() checks first: an instance,
 * a request and a sink of at least their v1.0 size, a text() callback,
 * well-formed messages, and a rollout id (when set) fit for a header
 * value. PC_OK, or PC_E_INVALID_ARG "WHO: complete: ...".
 */
int pc__lm_call_check(const void *inst, const char *who,
                      const pc_lm_request *req, const pc_lm_sink *out,
                      pc_error *err);

/* Whether the call asks for a streamed response: the instance's "stream"
 * setting or the request's PC_LM_STREAM flag. */
int pc__lm_call_streams(const pc__lm_inst *inst, const pc_lm_request *req);

/*
 * pc__lm_call_headers - append to `out` the header pairs (name, value)
 * of request `index` of a call, then a NULL: X-Promptc-Rollout when the
 * request has a rollout id, X-Promptc-Choice: INDEX when index >= 1.
 * `out` needs room for 5 entries; `choice` (borrowed by the headers)
 * holds the index's text. Returns the entries written before the NULL.
 */
size_t pc__lm_call_headers(const pc_lm_request *req, uint32_t index,
                           const char **out, char choice[24]);

/* Receives each streamed piece of a reply's text; non-zero stops it. */
typedef int (*pc__lm_delta_fn)(void *ctx, const char *text, size_t len);

/* One reply of an API without `n` (anthropic, ollama), whole or put
 * together from a stream. */
typedef struct pc__lm_result {
  pc__lm_buf text;            /* owned: the reply's text */
  int64_t prompt_tokens;      /* -1 when the reply did not say */
  int64_t completion_tokens;  /* -1 when the reply did not say */
  char model[256];            /* the model as served; "" if not given */
  char id[128];               /* the reply's own id; "" if none */
  char finish[64];            /* why it ended ("end_turn", "stop"); "" */
  int done;                   /* the reply said it was complete */
} pc__lm_result;

void pc__lm_result_init(pc__lm_result *r, const pc__lm_host *h);
/* Release the text; the struct can be initialised again. */
void pc__lm_result_free(pc__lm_result *r);

/* Append a piece of the reply's text to r->text and hand it to on_delta
 * (may be NULL). PC_OK, PC_E_NOMEM, or on_delta's refusal as
 * pc__lm_refused reports "streamed text". */
int pc__lm_result_text(pc__lm_result *r, const char *who, const char *text,
                       size_t len, pc__lm_delta_fn on_delta, void *delta_ctx,
                       pc_error *err);

/* What the stream reader of every such API keeps: the first member of
 * its own state (pc__an_stream, pc__ol_stream). */
typedef struct pc__lm_stream {
  const pc__lm_host *h;      /* borrowed */
  pc__lm_result *r;          /* borrowed: filled as the body arrives */
  pc__lm_delta_fn on_delta;  /* may be NULL */
  void *delta_ctx;           /* borrowed */
  pc_error *err;             /* borrowed: where a failure is described */
  int rc;                    /* the first failure; later lines are refused */
} pc__lm_stream;

/* Zero a reader's whole state `s` (`size` bytes, a pc__lm_stream first)
 * and set up the common part; the reader's own members are its
 * business. */
void pc__lm_stream_init(void *s, size_t size, const pc__lm_host *h,
                        pc__lm_result *r, pc__lm_delta_fn on_delta,
                        void *delta_ctx, pc_error *err);

/*
 * The wire format of an API without `n`, as pc__lm_complete_each drives
 * it (a static table of the plugin). Stream functions take the reader's
 * state, caller's storage whose first member is a pc__lm_stream.
 */
typedef struct pc__lm_wire {
  const char *who;            /* "anthropic" */
  const char *path;           /* after base_url: "/v1/messages" */
  const char *auth_header;    /* carries the api_key reference */
  const char *auth_prefix;    /* before the reference: "Bearer " or "" */
  /* The request body for the call: on success *body is text from the
   * host allocator, owned by the caller (host->free). `params` is the
   * request's params object, `stream` whether to ask for a stream. */
  int (*body)(const pc__lm_inst *inst, const pc_lm_request *req,
              const pc_json *params, int stream, char **body, size_t *len,
              pc_error *err);
  /* A whole 2xx body into r (initialised by the caller). */
  int (*parse)(const pc__lm_host *h, const char *body, size_t len,
               pc__lm_result *r, pc_error *err);
  /* A streamed 2xx body: set up, one line (a pc__lm_line_fn), the end
   * (PC_E_PROVIDER when the stream stopped early), release (may be
   * NULL). */
  void (*stream_init)(void *s, const pc__lm_host *h, pc__lm_result *r,
                      pc__lm_delta_fn on_delta, void *delta_ctx,
                      pc_error *err);
  pc__lm_line_fn stream_line;
  int (*stream_end)(void *s);
  void (*stream_free)(void *s);
} pc__lm_wire;

/*
 * pc__lm_complete_each - complete() of an API without `n`: params.n
 * (1..PC__LM_MAX_N, default 1) requests with the same body, request i
 * carrying the `fixed` header pairs (NULL-terminated, at most one pair;
 * may be NULL) and the headers of pc__lm_call_headers. Each reply is read
 * by `wire` (streamed when pc__lm_call_streams says so, its pieces going
 * to the sink's delta for choice i) and its text given to the sink as
 * choice i; after the first, its record as pc__lm_send_record sends it
 * (request_id: the response's request id header, else the reply's id);
 * after the last, the usage summed over the replies that gave any. The
 * call stops at the first failure or cancellation. `st` is storage for
 * the wire's stream state. The call must have passed pc__lm_call_check.
 * Everything is borrowed.
 */
int pc__lm_complete_each(const pc__lm_inst *inst, const pc__lm_wire *wire,
                         const pc_lm_request *req, const pc_lm_sink *out,
                         pc_call *call, const char *const *fixed,
                         const char *meta_key, const char *meta_value,
                         void *st, pc_error *err);

#endif
