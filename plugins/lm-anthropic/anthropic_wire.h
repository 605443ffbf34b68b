/*
 * anthropic_wire.h - the wire format of Anthropic's Messages API: the
 * request body, the reply, the server-sent event stream and the error
 * types, kept apart from the HTTP exchange so each can be tested alone
 * (docs/providers-anthropic.md). Replies are read into the pc__lm_result
 * of lm-common, which drives the requests (pc__lm_complete_each).
 *
 * Plugin-internal (pc__an_ names). Memory comes from the host allocator.
 */
#ifndef PC_ANTHROPIC_WIRE_H
#define PC_ANTHROPIC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"

#define PC__AN_WHO "anthropic"

/* What the body needs besides the request and its params. */
typedef struct pc__an_opts {
  const char *model;       /* borrowed */
  int64_t max_tokens;      /* used when params has no max_tokens */
  int stream;              /* add "stream": true */
} pc__an_opts;

/*
 * pc__an_body - the JSON body of one POST /v1/messages: "model", "system"
 * (the text of every "system" message, joined by a blank line; absent
 * when there is none), "messages" (the others in order), "max_tokens",
 * and from `params` (an object, borrowed) "temperature", "top_p",
 * "top_k" and "stop" (as "stop_sequences", always an array). Other params
 * are not sent. On success *out is compact JSON text allocated with the
 * host allocator (the caller frees it with host->free) and *len its
 * length; on failure *out is NULL and the code is PC_E_INVALID_ARG (a
 * param of the wrong type, named) or PC_E_NOMEM.
 */
int pc__an_body(const pc__lm_host *h, const pc__an_opts *o,
                const pc_lm_request *req, const pc_json *params,
                char **out, size_t *len, pc_error *err);

/*
 * pc__an_reply_parse - read a 2xx reply body into `r` (initialised by the
 * caller with pc__lm_result_init): "content" blocks of type "text" joined
 * into r->text, "usage" input_tokens and output_tokens as the prompt and
 * completion tokens, "model", "id", and "stop_reason" as r->finish. A
 * body that is not a JSON object or has no "content" array is
 * PC_E_PROVIDER (the host retries it); an error object ({"type": "error",
 * ...}) is mapped as in a stream. `body` is borrowed. A pc__lm_wire parse.
 */
int pc__an_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__lm_result *r, pc_error *err);

/*
 * pc__an_error_code - the PC_E_* code of an Anthropic error type
 * ("rate_limit_error", "overloaded_error", ...) and its message (which
 * tells a too-long prompt from other invalid requests). Unknown types
 * are PC_E_PROVIDER.
 */
int pc__an_error_code(const char *type, const char *message);

/*
 * A server-sent event stream being read into a pc__lm_result. Feed it
 * lines with pc__an_stream_line (a pc__lm_line_fn), then call
 * pc__an_stream_end. Events: message_start (model, id, input tokens),
 * content_block_start and content_block_delta with "text_delta" (text,
 * through on_delta), message_delta (stop reason, output tokens),
 * message_stop (the end), error (mapped with pc__an_error_code); ping and
 * unknown events are skipped. A server that ignored "stream" and sent a
 * plain JSON reply is read as one (its text then reaches on_delta in one
 * piece). The functions taking `void *s` take a pc__an_stream (they fill
 * the stream slots of a pc__lm_wire).
 */
typedef struct pc__an_stream {
  pc__lm_stream base;      /* first: result, on_delta, err, rc */
  pc__lm_buf event;        /* owned: the current event's name */
  pc__lm_buf data;         /* owned: the current event's data lines */
  pc__lm_buf raw;          /* owned: lines before any SSE field */
  int has_data;
  int events;              /* SSE events or data lines seen */
  int stopped;             /* message_stop was seen */
} pc__an_stream;

void pc__an_stream_init(void *s, const pc__lm_host *h, pc__lm_result *r,
                        pc__lm_delta_fn on_delta, void *delta_ctx,
                        pc_error *err);
/* One line without its line end; `ctx` is the pc__an_stream. Returns
 * PC_OK or the failure's code (set in the stream's err). */
int pc__an_stream_line(void *ctx, const char *line, size_t len);
/* The body ended: dispatch a last event left without its blank line, and
 * fail with PC_E_PROVIDER when message_stop never came (or, when there
 * were no events at all, when the body is not a whole reply either). */
int pc__an_stream_end(void *s);
void pc__an_stream_free(void *s);

#endif
