/*
 * lm_common.h - what the HTTP LM provider plugins (lm-openai,
 * lm-anthropic, lm-ollama) share, compiled into each of them: the host
 * tables they need, a byte buffer, the settings every HTTP provider
 * reads, one HTTP exchange through the host's "pc.http/1" with streaming
 * split into lines, Retry-After parsing and the mapping of HTTP failures
 * to PC_E_* codes.
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
 * contract the providers were first written against and stays as is). */

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

#endif
