/*
 * openai_wire.h - the OpenAI Chat Completions wire format of the lm-openai
 * plugin, apart from any HTTP so it can be tested on its own: the request
 * body, the parsing of a whole response and of a streamed (SSE) one into
 * a pc_lm_sink (docs/providers-openai.md).
 *
 * Plugin-internal (pc__oai_ names). Nothing here keeps global state.
 */
#ifndef PC_OPENAI_WIRE_H
#define PC_OPENAI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../lm-common/lm_common.h"

/* Names the plugin at the start of its messages. */
#define PC__OAI_WHO "openai"

/* The highest choice index accepted, plus one. */
#define PC__OAI_MAX_CHOICES 1024

/*
 * pc__oai_body - the JSON body of a chat completion request: "model",
 * "messages" (the request's, in order), then every member of the
 * request's params as given, then with `stream` "stream": true and
 * "stream_options": {"include_usage": true}. `model` is borrowed.
 * On success *out is a NUL-terminated text allocated with the host's
 * alloc, owned by the caller (release with h->host->free), and *len its
 * length. PC_E_INVALID_ARG when params is not an object or sets a member
 * the provider sets itself (model, messages, stream, stream_options);
 * PC_E_NOMEM. On failure *out is NULL.
 */
int pc__oai_body(const pc__lm_host *h, const char *model,
                 const pc_lm_request *req, int stream, char **out,
                 size_t *len, pc_error *err);

/*
 * pc__oai_parse - read a whole (not streamed) 2xx response body and hand
 * it to `sink`: every choice's text (index order of the response), the
 * usage, then the meta "model", "system_fingerprint" (when present),
 * "request_id" (`request_id` when not empty, else the body's "id") and
 * "finish_reason" (of choice 0). PC_E_PROVIDER when the body is not JSON,
 * has no choices, a choice is malformed or refused, or it holds an error
 * object without a status; an error object naming a status maps as
 * pc__lm_status_error does. A sink's refusal is PC_E_CANCELLED (or the
 * sink's code). Everything is borrowed.
 */
int pc__oai_parse(const pc__lm_host *h, const char *body, size_t len,
                  const char *request_id, const pc_lm_sink *sink,
                  pc_error *err);

/* One choice of a streamed response, as it accumulates. */
typedef struct pc__oai_choice {
  pc__lm_buf text;      /* owned: the content so far */
  pc__lm_buf refusal;   /* owned: a refusal so far */
  pc__lm_buf finish;    /* owned: finish_reason, "" until known */
} pc__oai_choice;

/* The state of one streamed response. Feed it the body's lines with
 * pc__oai_stream_line (a pc__lm_line_fn), then call pc__oai_stream_finish
 * once the body has ended, then pc__oai_stream_free. */
typedef struct pc__oai_stream {
  const pc__lm_host *h;      /* borrowed */
  const pc_lm_sink *sink;    /* borrowed: gets deltas as they arrive */
  pc_error *err;             /* borrowed: where a line's failure goes */
  pc__oai_choice *choices;   /* owned: n_choices entries */
  size_t n_choices;          /* one past the highest index seen */
  pc__lm_buf model;          /* owned: the served model, "" if none */
  pc__lm_buf fingerprint;    /* owned: system_fingerprint, "" if none */
  pc__lm_buf id;             /* owned: the completion id, "" if none */
  pc__lm_buf raw;            /* owned: non-SSE lines (a plain JSON reply) */
  int64_t prompt_tokens;     /* -1 until a usage chunk */
  int64_t completion_tokens;
  int data_lines;            /* how many "data:" lines came */
  int done;                  /* "data: [DONE]" came */
} pc__oai_stream;

void pc__oai_stream_init(pc__oai_stream *s, const pc__lm_host *h,
                         const pc_lm_sink *sink, pc_error *err);
void pc__oai_stream_free(pc__oai_stream *s);

/* One line of the body (without its line end); `ctx` is the stream.
 * Returns PC_OK, or a code with s->err set: PC_E_PROVIDER for a malformed
 * chunk or an error chunk without a status, the mapped code of an error
 * chunk naming one, PC_E_NOMEM, or the sink's refusal of a delta. */
int pc__oai_stream_line(void *ctx, const char *line, size_t len);

/*
 * pc__oai_stream_finish - after the body ended: PC_E_PROVIDER "stream
 * ended early" without [DONE] ("has no choices" without any choice), else
 * every choice's whole text, the usage and the meta go to the sink as
 * pc__oai_parse sends them. A body that held no SSE at all but a plain
 * JSON response (a server that ignores "stream") is parsed as one.
 * `request_id` (borrowed, may be "") wins over the chunks' id.
 */
int pc__oai_stream_finish(pc__oai_stream *s, const char *request_id);

#endif
