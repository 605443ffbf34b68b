/*
 * sim_internal.h - what the files of the sim-server share: a parsed LM
 * request, the sim's answer, reply bodies (whole or streamed in
 * segments), the wire format tables of the three APIs and the fault draw.
 *
 * Internal to core/simserver (pc__sim_ names). Nothing here prints.
 */
#ifndef PC_SIM_INTERNAL_H
#define PC_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "adapter.h"
#include "buf.h"
#include "errors.h"
#include "sim_server.h"

/* The APIs, in the order of /stats "by_api". */
#define PC__SIM_API_OPENAI 0
#define PC__SIM_API_ANTHROPIC 1
#define PC__SIM_API_OLLAMA 2
#define PC__SIM_API_OTHER 3
#define PC__SIM_N_APIS 4

/* Request outcomes, in the order of /stats "by_outcome". */
#define PC__SIM_OK 0
#define PC__SIM_RATE_LIMITED 1
#define PC__SIM_ERROR_500 2
#define PC__SIM_ERROR_503 3
#define PC__SIM_STALLED 4
#define PC__SIM_TRUNCATED 5
#define PC__SIM_MALFORMED 6
#define PC__SIM_UNAUTHORIZED 7
#define PC__SIM_CONTEXT_LENGTH 8
#define PC__SIM_BAD_REQUEST 9
#define PC__SIM_NOT_FOUND 10
#define PC__SIM_N_OUTCOMES 11

/* The most choices one request may ask the sim for (the sim's limit). */
#define PC__SIM_MAX_CHOICES 128

/* ---- a parsed LM request -------------------------------------------- */

typedef struct pc__sim_req {
  struct json_object *body;    /* owned: the request's JSON */
  const char *model;           /* borrowed from body: the model asked for */
  pc_messages msgs;            /* owned: what the sim gets */
  struct json_object *params;  /* owned: call settings (without "n") */
  uint32_t n;                  /* choices to return, >= 1 */
  uint32_t first;              /* X-Promptc-Choice: the first choice */
  int stream;                  /* a streamed reply was asked for */
  int include_usage;           /* OpenAI stream_options.include_usage */
} pc__sim_req;

void pc__sim_req_clear(pc__sim_req *r);

/* Why a request is refused, for the wire to put in its error shape. */
#define PC__SIM_FAIL_BAD_REQUEST 1   /* 400 (message) */
#define PC__SIM_FAIL_AUTH 2          /* 401 */
#define PC__SIM_FAIL_NOT_FOUND 3     /* 404 (message) */
#define PC__SIM_FAIL_TOO_LARGE 4     /* 413 */
#define PC__SIM_FAIL_CONTEXT 5       /* 400 (limit, tokens) */
#define PC__SIM_FAIL_RATE 6          /* 429 */
#define PC__SIM_FAIL_500 7           /* 500 (message may be set) */
#define PC__SIM_FAIL_503 8           /* 503 */

typedef struct pc__sim_fail {
  int kind;                 /* PC__SIM_FAIL_* */
  char message[256];        /* for BAD_REQUEST, NOT_FOUND, 500 */
  int64_t limit;            /* CONTEXT: --max-context-tokens */
  int64_t tokens;           /* CONTEXT: the prompt's tokens */
} pc__sim_fail;

/* Fill `f` with `kind` and a printf-style message; returns `kind`. */
int pc__sim_fail_set(pc__sim_fail *f, int kind, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* The HTTP status of a failure kind. */
unsigned pc__sim_fail_status(int kind);

/* ---- the sim's answer, as the wires render it ----------------------- */

typedef struct pc__sim_answer {
  char *const *texts;         /* borrowed: the choices to return */
  const size_t *lens;
  size_t n;
  int64_t prompt_tokens;
  int64_t completion_tokens;
  const char *model;          /* served model name */
  const char *fingerprint;    /* "fp_" + 10 hex */
  const char *digest;         /* 64 hex */
  const char *id;             /* 24 hex, unique per reply */
  int64_t created;            /* unix seconds */
  int64_t created_ns;         /* unix nanoseconds */
  int64_t total_ns;           /* the request, so far */
  int64_t eval_ns;            /* the sim call */
} pc__sim_answer;

/* ---- reply bodies --------------------------------------------------- */

/*
 * A reply body: the bytes and, for a streamed reply, where each event
 * ends (each is sent as one chunk). With `malformed` set, the JSON of
 * every event written through pc__sim_body_sse / _ndjson is cut in half,
 * and pc__sim_body_json writes half of the JSON and garbage.
 */
typedef struct pc__sim_body {
  pc_buf text;
  size_t *ends;                /* owned: end offset of each event */
  size_t n_ends, cap_ends;
  int streamed;
  int malformed;
  const char *content_type;    /* static */
} pc__sim_body;

void pc__sim_body_init(pc__sim_body *b);
void pc__sim_body_free(pc__sim_body *b);

/* The whole body is `v` as compact JSON (application/json). The body
 * functions return PC_OK or PC_E_NOMEM. */
int pc__sim_body_json(pc__sim_body *b, const struct json_object *v);
/* Append one SSE event: "event: NAME\n" when `event` is not NULL, then
 * "data: JSON\n\n". */
int pc__sim_body_sse(pc__sim_body *b, const char *event,
                     const struct json_object *v);
/* Append "data: TEXT\n\n" as it is (OpenAI's [DONE]). */
int pc__sim_body_sse_raw(pc__sim_body *b, const char *text);
/* Append one NDJSON line. */
int pc__sim_body_ndjson(pc__sim_body *b, const struct json_object *v);

/* How pc__sim_body_put writes a value. */
#define PC__SIM_PUT_JSON 0     /* the whole body: pc__sim_body_json */
#define PC__SIM_PUT_SSE 1      /* one event: pc__sim_body_sse */
#define PC__SIM_PUT_NDJSON 2   /* one line: pc__sim_body_ndjson */

/*
 * pc__sim_body_put - the end of a reply value built with the helpers
 * below: when `rc` is PC_OK, `v` is written to `b` as `how` says (with
 * `event` for an SSE event; may be NULL); either way `v` is released
 * (taken over; NULL is fine). Returns rc, else the write's code.
 */
int pc__sim_body_put(pc__sim_body *b, int how, const char *event,
                     struct json_object *v, int rc);

/* The length of the next streamed piece of `s` (len bytes): at most
 * PC__SIM_PIECE bytes, never ending inside a UTF-8 sequence; the whole
 * rest when shorter; at least one character. */
#define PC__SIM_PIECE 16
size_t pc__sim_piece(const char *s, size_t len);

/*
 * JSON building helpers: each adds `key` (or appends, for _push) to `o`
 * unless *rc is already an error, and sets *rc to PC_E_NOMEM when a value
 * cannot be made. A chain of them needs one check at the end. `v` is
 * taken over (put on failure); NULL counts as out of memory, use
 * pc__sim_put_null for a JSON null.
 */
void pc__sim_put(struct json_object *o, const char *key,
                 struct json_object *v, int *rc);
void pc__sim_put_str(struct json_object *o, const char *key, const char *s,
                     int *rc);
void pc__sim_put_strn(struct json_object *o, const char *key, const char *s,
                      size_t len, int *rc);
void pc__sim_put_int(struct json_object *o, const char *key, int64_t v,
                     int *rc);
void pc__sim_put_bool(struct json_object *o, const char *key, int v,
                      int *rc);
void pc__sim_put_null(struct json_object *o, const char *key, int *rc);
void pc__sim_push(struct json_object *arr, struct json_object *v, int *rc);
/* A new object, or NULL with *rc = PC_E_NOMEM. */
struct json_object *pc__sim_obj(int *rc);
struct json_object *pc__sim_arr(int *rc);

/* RFC 3339 UTC time with nanoseconds ("2024-05-01T12:00:00.123456789Z")
 * of `ns` since the epoch, into out[64]. */
void pc__sim_rfc3339(int64_t ns, char out[64]);
/* An IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") of `secs`, into
 * out[40]. */
void pc__sim_http_date(int64_t secs, char out[64]);

/* ---- wire formats --------------------------------------------------- */

/* What a request's headers say, borrowed for the call. */
typedef struct pc__sim_headers {
  const char *authorization;
  const char *x_api_key;
  const char *anthropic_version;
  const char *rollout;         /* X-Promptc-Rollout, or NULL */
  const char *choice;          /* X-Promptc-Choice, or NULL */
} pc__sim_headers;

typedef struct pc__sim_wire {
  const char *name;            /* "openai" */
  int api;                     /* PC__SIM_API_* */
  const char *id_header;       /* the request id header */
  const char *id_prefix;       /* "chatcmpl-", "msg_", "" */
  /* Which request header carries the key and its prefix. */
  int key_in_x_api_key;        /* 1: x-api-key: KEY, 0: Bearer KEY */
  /*
   * Read the request body into `req` (which the caller cleared; the
   * caller sets req->body before and req->first after). PC_OK, or a
   * failure kind (BAD_REQUEST or NOT_FOUND) with its message in `f`.
   * `served` is the served model name (Ollama refuses other names).
   */
  int (*parse)(const pc__sim_headers *h, const char *served,
               pc__sim_req *req, pc__sim_fail *f);
  /* Render the answer: a whole JSON body or, when req->stream, the
   * events. PC_OK or PC_E_NOMEM. */
  int (*reply)(const pc__sim_req *req, const pc__sim_answer *a,
               pc__sim_body *out);
  /* Render a failure in the API's error shape. PC_OK or PC_E_NOMEM. */
  int (*error)(const pc__sim_fail *f, pc__sim_body *out);
} pc__sim_wire;

extern const pc__sim_wire pc__sim_wire_openai;
extern const pc__sim_wire pc__sim_wire_anthropic;
extern const pc__sim_wire pc__sim_wire_ollama;

/* Ollama's /api/tags and /api/show bodies. `modified_ns` is when the
 * server started. */
struct json_object *pc__sim_ollama_tags(const char *served,
                                        const char *digest,
                                        int64_t modified_ns);
struct json_object *pc__sim_ollama_show(const char *served,
                                        const char *digest,
                                        int64_t modified_ns);
/* Whether `model` names the served model for Ollama ("NAME" or
 * "NAME:latest"). */
int pc__sim_ollama_model_is(const char *model, const char *served);

/* ---- reading requests (sim_wire_common.c) ------------------------- */

/*
 * Each wire's parse reads req->body with these. They return PC_OK, or a
 * failure kind with its message in `f` (BAD_REQUEST; 500 "out of memory"
 * when memory runs out).
 */

/* The body is a JSON object with a string "model" (with `nonempty`, not
 * ""), which req->model borrows. Otherwise BAD_REQUEST "the request body
 * must be a JSON object", or `missing` about the model. */
int pc__sim_read_model(pc__sim_req *req, const char *missing, int nonempty,
                       pc__sim_fail *f);

/* How an API names and checks the elements of "messages". */
typedef struct pc__sim_msg_rules {
  const char *open;      /* element i is named OPEN i CLOSE: "messages[" */
  const char *close;     /* and "]", or "messages." and "" */
  int parts;             /* content may also be an array of text parts */
  /* The role the sim gets for an element's "role" (NULL when it has no
   * string role), NULL to refuse it; NULL here: any string role. */
  const char *(*role)(const char *role);
  const char *refused;   /* why a role is refused: "ELEMENT.role: WHY" */
} pc__sim_msg_rules;

/* The non-empty array "messages" into req->msgs, in order: each role as
 * `rules` maps it, each content a string, null ("") or, with
 * rules->parts, text parts (pc__sim_text_content); other contents are
 * "ELEMENT.content: expected a string". */
int pc__sim_read_messages(pc__sim_req *req, const pc__sim_msg_rules *rules,
                          pc__sim_fail *f);

/* A boolean "stream", when present and not null, into req->stream;
 * another type is BAD_REQUEST `bad`. */
int pc__sim_read_stream(pc__sim_req *req, const char *bad, pc__sim_fail *f);

/* A number member `key` of `o`, when present, from `lo` to `hi`: another
 * type is BAD_REQUEST `not_number`, a number out of range `out_of_range`
 * or, when that is NULL, "KEY: VALUE is not from LO to HI". */
int pc__sim_read_number(const struct json_object *o, const char *key,
                        double lo, double hi, const char *not_number,
                        const char *out_of_range, pc__sim_fail *f);

/* A message content: a string, null (""), or an array of {"type": "text",
 * "text": ...} parts, concatenated; anything else is BAD_REQUEST naming
 * `where`. On PC_OK *out owns the text (pc_free) and *len its length. */
int pc__sim_text_content(const struct json_object *c, const char *where,
                         char **out, size_t *len, pc__sim_fail *f);
/* Append one message to `m`, copying role and content. PC_OK or
 * PC_E_NOMEM. Content is taken over (freed on failure too). */
int pc__sim_msgs_add(pc_messages *m, const char *role, char *content,
                     size_t len);
/* Copy member `key` of `from` into `to` (when present; a JSON null as
 * null). Like the building helpers, nothing once *rc is set. */
void pc__sim_copy(struct json_object *to, const struct json_object *from,
                  const char *key, int *rc);
/* Copy every member of `from` into `to` as pc__sim_copy does, but those
 * named in `skip` (NULL-terminated; may be NULL). */
void pc__sim_copy_all(struct json_object *to, const struct json_object *from,
                      const char *const *skip, int *rc);
/* A JSON number member: 1 and *out when it is one, 0 when absent or null,
 * -1 when it is present and not a number. */
int pc__sim_number(const struct json_object *o, const char *key,
                   double *out);

/* ---- faults --------------------------------------------------------- */

#define PC__SIM_FAULT_NONE 0
#define PC__SIM_FAULT_429 1
#define PC__SIM_FAULT_500 2
#define PC__SIM_FAULT_503 3
#define PC__SIM_FAULT_STALL 4
#define PC__SIM_FAULT_TRUNCATE 5
#define PC__SIM_FAULT_MALFORMED 6

typedef struct pc__sim_fault_table pc__sim_fault_table;

/* A table of how often each request key was seen. *out owns it
 * (pc__sim_fault_table_free). PC_OK or PC_E_NOMEM. */
int pc__sim_fault_table_new(pc__sim_fault_table **out);
void pc__sim_fault_table_free(pc__sim_fault_table *t);  /* NULL: no-op */

/*
 * pc__sim_fault_draw - the fault and the latency of one request whose key
 * is `key` (a SHA-256, 32 bytes): counts it in `t` and draws from
 * (seed, key, times seen before). *fault gets a PC__SIM_FAULT_*, *sleep_ms
 * the latency (latency_ms + a draw from 0 to latency_jitter_ms). PC_OK,
 * or PC_E_NOMEM when the table cannot grow. Thread: any.
 */
int pc__sim_fault_draw(pc__sim_fault_table *t, const pc_sim_faults *f,
                       const unsigned char key[32], int *fault,
                       int64_t *sleep_ms);

/* Whether any fault fraction is above zero. */
int pc__sim_faults_any(const pc_sim_faults *f);

#endif
