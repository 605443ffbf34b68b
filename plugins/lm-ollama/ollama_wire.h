/*
 * ollama_wire.h - the wire format of Ollama's native API: the /api/chat
 * request body, its reply and NDJSON stream, and the /api/tags model list,
 * kept apart from the HTTP exchange so each can be tested alone
 * (docs/providers-ollama.md). Replies are read into the pc__lm_result of
 * lm-common, which drives the requests (pc__lm_complete_each).
 *
 * Plugin-internal (pc__ol_ names). Memory comes from the host allocator.
 */
#ifndef PC_OLLAMA_WIRE_H
#define PC_OLLAMA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"
#include "../lm-common/lm_common.h"

#define PC__OL_WHO "ollama"

/* What the body needs besides the request and its params. */
typedef struct pc__ol_opts {
  const char *model;       /* borrowed */
  const char *keep_alive;  /* borrowed; NULL: not sent */
  int stream;              /* "stream" is always sent, true or false */
} pc__ol_opts;

/*
 * pc__ol_body - the JSON body of one POST /api/chat: "model", "messages"
 * (all of them, in order), "stream", "options" (temperature, top_p,
 * top_k, seed, stop (always an array) and num_predict from max_tokens,
 * only those `params` holds; absent when none), "format" ("json" for a
 * response_format of type json_object, the schema object for
 * json_schema) and "keep_alive". `params` (an object) is borrowed. On
 * success *out is compact JSON text allocated with the host allocator
 * (the caller frees it with host->free) and *len its length; on failure
 * *out is NULL and the code is PC_E_INVALID_ARG (a param of the wrong
 * type, named) or PC_E_NOMEM.
 */
int pc__ol_body(const pc__lm_host *h, const pc__ol_opts *o,
                const pc_lm_request *req, const pc_json *params,
                char **out, size_t *len, pc_error *err);

/*
 * pc__ol_reply_parse - read a 2xx /api/chat body into `r` (initialised by
 * the caller with pc__lm_result_init): message.content into r->text,
 * prompt_eval_count and eval_count as the prompt and completion tokens,
 * "model", and with "done": true r->done and done_reason as r->finish. A
 * body that is not a JSON object, holds {"error": ...} or has no
 * message.content string is PC_E_PROVIDER (the host retries it). `body`
 * is borrowed. A pc__lm_wire parse.
 */
int pc__ol_reply_parse(const pc__lm_host *h, const char *body, size_t len,
                       pc__lm_result *r, pc_error *err);

/*
 * An NDJSON stream being read into a pc__lm_result: one JSON object a
 * line, each with a piece of message.content; the line with "done": true
 * carries the counts and done_reason. Feed it lines with
 * pc__ol_stream_line (a pc__lm_line_fn), then call pc__ol_stream_end. The
 * functions taking `void *s` take a pc__ol_stream (they fill the stream
 * slots of a pc__lm_wire); it holds no memory of its own.
 */
typedef struct pc__ol_stream {
  pc__lm_stream base;       /* first: result, on_delta, err, rc */
  uint64_t lines;           /* lines read, for messages */
} pc__ol_stream;

void pc__ol_stream_init(void *s, const pc__lm_host *h, pc__lm_result *r,
                        pc__lm_delta_fn on_delta, void *delta_ctx,
                        pc_error *err);
/* One line without its line end; `ctx` is the pc__ol_stream. Blank lines
 * are skipped; a line that is not a JSON object, or an {"error": ...}
 * line, is PC_E_PROVIDER. */
int pc__ol_stream_line(void *ctx, const char *line, size_t len);
/* The body ended: PC_E_PROVIDER when no "done": true line came. */
int pc__ol_stream_end(void *s);

/*
 * pc__ol_tags_find - find `model` in a GET /api/tags body: an entry whose
 * "name" (or "model") is `model` itself or `model` + ":latest". On
 * success *digest is a copy of its "digest" (host allocator; NULL when
 * the entry has none). A body that is no model list is PC_E_PROVIDER; a
 * missing model is PC_E_INVALID_ARG "ollama: model "x" is not available
 * on URL (have: a, b, ...)", `url` being the base URL.
 */
int pc__ol_tags_find(const pc__lm_host *h, const char *body, size_t len,
                     const char *model, const char *url, char **digest,
                     pc_error *err);

#endif
