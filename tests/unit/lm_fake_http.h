/*
 * lm_fake_http.h - what the unit tests of the HTTP LM providers share
 * (test_lm_common, test_lm_openai, test_lm_anthropic, test_lm_ollama): a
 * scripted "pc.http/1" that records each request and answers from a
 * script, the real host tables with it in place of the transport, a
 * pc_lm_sink that records what it hears, and helpers that open the
 * provider compiled into the test program and run one call.
 *
 * Test-only (pcfake_ names). One test program, one thread: the script and
 * the record are process-wide.
 */
#ifndef PC_LM_FAKE_HTTP_H
#define PC_LM_FAKE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"

/* ------------------------------------------------------------------------ */
/* The scripted transport.                                                  */

/* The most requests one script answers and records. */
#define PCFAKE_MAX 8

/* One scripted answer. */
typedef struct pcfake_reply {
  int rc;                /* a transport failure; PC_OK: a response arrives */
  int32_t status;
  const char *headers;   /* borrowed: "Name: value\n" lines, or NULL */
  const char *body;      /* borrowed; NULL counts as "" */
  size_t chunk;          /* delivered in pieces of this size; 0: whole */
} pcfake_reply;

/* What one request carried. The buffers are "" (pcfake_str) when the
 * request had nothing there. */
typedef struct pcfake_seen {
  pc_buf method, url, body;
  pc_buf headers;        /* "Name: value\n" each, in the order sent */
  pc_buf secret;         /* the name of the secret header */
  size_t n_headers;
  uint32_t flags;
  int64_t connect_ms, total_ms;
} pcfake_seen;

typedef struct pcfake_state {
  pcfake_reply replies[PCFAKE_MAX];
  int n_replies;
  pcfake_seen seen[PCFAKE_MAX];  /* owned: released by pcfake_reset */
  int n_seen;                    /* requests made */
  int data_calls;                /* on_data calls over all requests */
  int sink_rc;                   /* the last non-zero the HTTP sink said */
} pcfake_state;

/* The script and the record. */
extern pcfake_state pcfake;

/* The fake "pc.http/1": with no answer scripted it fails with
 * PC_E_INTERNAL. */
extern const pc_http_api pcfake_http;

/* Forget the script and release what was recorded. */
void pcfake_reset(void);

/* Release what was recorded and keep the script: the next request gets
 * answer 0 again. */
void pcfake_rewind(void);

/* Script answer i (0 <= i < PCFAKE_MAX); requests past the last scripted
 * answer get that last one again. The strings are borrowed. */
void pcfake_answer(int i, int32_t status, const char *headers,
                   const char *body, size_t chunk);

/* Script answer i as a transport failure with code `rc` and the message
 * "METHOD URL: connection refused". */
void pcfake_fail(int i, int rc);

/* Whether request i sent exactly the header line "Name: value". */
int pcfake_sent(int i, const char *line);

/* The text of a recorded buffer: "" when it holds nothing. */
const char *pcfake_str(const pc_buf *b);

/* What request i carried, as text ("" for nothing): its method, URL,
 * body, "Name: value\n" headers and the name of its secret header. */
const char *pcfake_method(int i);
const char *pcfake_url(int i);
const char *pcfake_body(int i);
const char *pcfake_headers(int i);
const char *pcfake_secret(int i);

/* The real host table with pcfake_http as its "pc.http/1": a static
 * table, valid for the whole program. */
const pc_host_api *pcfake_host(void);

/* The real host tables as the lm-common and wire functions take them;
 * a failing fetch is a fatal CUnit assertion. */
pc__lm_host pcfake_tables(void);

/* Feed `text` to `line` (with `ctx`) as pc__lm_exchange would: through
 * pc__lm_lines, in pieces of `size` bytes, then the end of the lines.
 * Returns the first failure. */
int pcfake_feed(const pc__lm_host *h, const char *text, size_t size,
                pc__lm_line_fn line, void *ctx);

/* ------------------------------------------------------------------------ */
/* A sink that records what it hears.                                       */

/* The choices a recording sink keeps apart. */
#define PCFAKE_CHOICES 4

typedef struct pcfake_got {
  pc_buf text[PCFAKE_CHOICES];    /* owned: each choice's text() */
  pc_buf deltas[PCFAKE_CHOICES];  /* owned: each choice's deltas, joined */
  pc_buf meta;                    /* owned: "key=value\n" each, in order */
  int text_calls, delta_calls, usage_calls;
  int64_t prompt_tokens, completion_tokens;
  int refuse_text;                /* returned by text() when non-zero */
  int refuse_delta;               /* returned by delta() when non-zero */
} pcfake_got;

void pcfake_got_init(pcfake_got *g);
void pcfake_got_free(pcfake_got *g);

/* A pc_lm_sink recording into `g` (borrowed for the sink's life). Its
 * text() also asserts that the text is NUL-terminated. */
pc_lm_sink pcfake_sink(pcfake_got *g);

/* A pc_text_sink appending to `b` (borrowed). */
pc_text_sink pcfake_text_sink(pc_buf *b);

/* ------------------------------------------------------------------------ */
/* The provider compiled into the test program.                             */

typedef struct pcfake_plugin {
  const pc_plugin_info *info;
  const pc_lm_provider_iface *iface;
  void *state;                      /* owned: released by pcfake_close */
} pcfake_plugin;

/* Open the provider whose entry point is `entry` on pcfake_host() and,
 * when `wire` is not NULL, fetch the real tables into it (for the wire
 * functions). 0, or 1 when anything refuses (a CUnit suite_init
 * result). */
int pcfake_open(pcfake_plugin *p,
                const pc_plugin_info *(*entry)(const pc_abi_header *host),
                pc__lm_host *wire);
/* Close the provider and pcfake_reset() (a CUnit suite_clean). */
void pcfake_close(pcfake_plugin *p);

/* The provider's create() with `config` (its length from strlen). */
int pcfake_create(const pcfake_plugin *p, const char *config, void **inst,
                  pc_error *err);

/* Create an instance from `config`, make the call pcfake_request(model,
 * params, flags, rollout) into a recording sink on `g`, and destroy the
 * instance. Returns create's failure or complete's result. */
int pcfake_run(const pcfake_plugin *p, const char *config,
               const char *model, const char *params, uint32_t flags,
               const char *rollout, pcfake_got *g, pc_error *err);

/* Run pcfake_run(p, config, model, params, flags, rollout) over the
 * current script with the Nth allocation failing, N = 1, 2, ... until it
 * succeeds, rewinding the script each time. Asserts that every failure is
 * a clean error (a code and a message), that the call succeeds at last
 * and that it made more than ten allocations on the way (valgrind checks
 * the leaks). */
void pcfake_oom(const pcfake_plugin *p, const char *config,
                const char *model, const char *params, uint32_t flags,
                const char *rollout);

/* The conversation the anthropic and ollama tests send, two system
 * messages around a demo: system "You are terse.", user "Q1", assistant
 * "A1", system "Answer in French.", user "Q2". The request borrows static
 * messages and the strings given. */
pc_lm_request pcfake_request(const char *model, const char *params,
                             uint32_t flags, const char *rollout);

#endif
