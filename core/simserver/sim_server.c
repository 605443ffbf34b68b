/* sim_server.c - the sim-server daemon: libmicrohttpd setup, routing,
 * authentication, the request pipeline (latency, faults, the sim call,
 * the reply) and the /stats counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <microhttpd.h>

#include "alloc.h"
#include "hash.h"
#include "host.h"
#include "json_text.h"
#include "lm.h"
#include "sim_internal.h"
#include "sim_server.h"

/* The largest request body read; a longer one is answered 413. */
#define MAX_REQUEST ((size_t)32 << 20)

/* Routes. */
#define ROUTE_NONE 0
#define ROUTE_STATS 1
#define ROUTE_STATS_RESET 2
#define ROUTE_OPENAI 3
#define ROUTE_ANTHROPIC 4
#define ROUTE_OLLAMA_CHAT 5
#define ROUTE_OLLAMA_TAGS 6
#define ROUTE_OLLAMA_SHOW 7

static const char *const outcome_names[PC__SIM_N_OUTCOMES] = {
  "ok", "rate_limited", "error_500", "error_503", "stalled", "truncated",
  "malformed", "unauthorized", "context_length", "bad_request", "not_found",
};
static const char *const api_names[PC__SIM_N_APIS] = {
  "openai", "anthropic", "ollama", "other",
};

/* A sim call in progress, so that stopping can cancel it. */
struct active {
  pc_call *call;
  struct active *prev, *next;
};

struct pc_sim_server {
  struct MHD_Daemon *daemon;
  struct pc_lm *lm;                 /* borrowed */
  char *served;                     /* owned: the served model name */
  char fingerprint[2][16];          /* "fp_" + 10 hex; [1] after drift */
  char digest[2][PC_SHA256_HEX_LEN + 1];
  char *api_key;                    /* owned, wiped when freed; or NULL */
  size_t api_key_len;
  int64_t max_context;
  uint64_t drift_after;
  pc_sim_faults faults;
  pc__sim_fault_table *table;       /* owned; NULL without draws */
  int64_t started_ns;               /* wall clock */
  uint16_t port;
  atomic_uint_fast64_t answered;    /* sim answers, for drift */
  atomic_uint_fast64_t ids;         /* reply ids */

  pthread_mutex_t lock;             /* guards what follows */
  pthread_cond_t wake;              /* on CLOCK_MONOTONIC */
  int stopping;
  struct active *calls;
  uint64_t requests;
  uint64_t by_outcome[PC__SIM_N_OUTCOMES];
  uint64_t by_api[PC__SIM_N_APIS];
  uint64_t connections;
  int64_t in_flight, max_in_flight;
  char mhd_error[256];              /* MHD's last log line */
};

/* One HTTP request, from its headers to its completion. */
struct req_ctx {
  int route;
  int api;
  int counted;         /* in in_flight */
  pc_buf body;
  int too_large;
  uint64_t t0_ns;      /* monotonic */
};

/* What a response streams from: the body bytes and its event ends. */
struct feed {
  char *data;          /* owned */
  size_t len;
  size_t *ends;        /* owned; NULL for a whole body */
  size_t n_ends, seg;
  size_t stop_at;      /* len, or where a truncated body stops */
  int truncated;
};

static uint64_t mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

/* ---- the listen address --------------------------------------------- */

int pc_sim_listen_parse(const char *spec, pc_sim_listen *out, pc_error *err)
{
  char host[64];
  const char *colon, *port;
  size_t hlen;
  char *end;
  long p;

  memset(out, 0, sizeof(*out));
  if (spec[0] == '[') {
    const char *close = strchr(spec, ']');

    if (!close || close[1] != ':')
      goto bad;
    hlen = (size_t)(close - spec - 1);
    if (hlen == 0 || hlen >= sizeof(host))
      goto bad;
    memcpy(host, spec + 1, hlen);
    port = close + 2;
    out->ipv6 = 1;
  } else {
    colon = strrchr(spec, ':');
    if (!colon || memchr(spec, ':', (size_t)(colon - spec)))
      goto bad;  /* no port, or an IPv6 address without brackets */
    hlen = (size_t)(colon - spec);
    if (hlen == 0 || hlen >= sizeof(host))
      goto bad;
    memcpy(host, spec, hlen);
    port = colon + 1;
  }
  host[hlen] = '\0';
  if (*port < '0' || *port > '9')
    goto bad;
  errno = 0;
  p = strtol(port, &end, 10);
  if (*end || errno || p < 0 || p > 65535)
    goto bad;
  out->port = (uint16_t)p;
  if (!out->ipv6 && strcmp(host, "localhost") == 0)
    snprintf(host, sizeof(host), "127.0.0.1");
  snprintf(out->host, sizeof(out->host), "%s", host);
  if (out->ipv6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;

    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
      goto bad;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(out->port);
    out->addr_len = sizeof(*a);
    out->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) &&
                     a->sin6_addr.s6_addr[12] == 127);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;

    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
      goto bad;
    a->sin_family = AF_INET;
    a->sin_port = htons(out->port);
    out->addr_len = sizeof(*a);
    out->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  return PC_OK;
bad:
  memset(out, 0, sizeof(*out));
  return pc_error_set(err, PC_E_INVALID_ARG,
                      "--listen %.80s: expected HOST:PORT with a numeric "
                      "IPv4 address, [IPv6] or localhost, and a port from "
                      "0 to 65535", spec);
}

/* ---- stats ----------------------------------------------------------- */

static void count(pc_sim_server *s, int api, int outcome)
{
  pthread_mutex_lock(&s->lock);
  s->requests++;
  s->by_api[api]++;
  s->by_outcome[outcome]++;
  pthread_mutex_unlock(&s->lock);
}

struct json_object *pc_sim_server_stats(pc_sim_server *s)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *outcomes = pc__sim_obj(&rc);
  struct json_object *apis = pc__sim_obj(&rc);

  pthread_mutex_lock(&s->lock);
  pc__sim_put_int(o, "requests", (int64_t)s->requests, &rc);
  for (int i = 0; i < PC__SIM_N_OUTCOMES; i++)
    pc__sim_put_int(outcomes, outcome_names[i], (int64_t)s->by_outcome[i],
                    &rc);
  for (int i = 0; i < PC__SIM_N_APIS; i++)
    pc__sim_put_int(apis, api_names[i], (int64_t)s->by_api[i], &rc);
  pc__sim_put(o, "by_outcome", outcomes, &rc);
  pc__sim_put(o, "by_api", apis, &rc);
  pc__sim_put_int(o, "in_flight", s->in_flight, &rc);
  pc__sim_put_int(o, "max_in_flight", s->max_in_flight, &rc);
  pc__sim_put_int(o, "connections", (int64_t)s->connections, &rc);
  pthread_mutex_unlock(&s->lock);
  if (rc) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

uint64_t pc_sim_server_requests(pc_sim_server *s)
{
  uint64_t n;

  pthread_mutex_lock(&s->lock);
  n = s->requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static void stats_reset(pc_sim_server *s)
{
  pthread_mutex_lock(&s->lock);
  s->requests = 0;
  memset(s->by_outcome, 0, sizeof(s->by_outcome));
  memset(s->by_api, 0, sizeof(s->by_api));
  s->connections = 0;
  s->max_in_flight = s->in_flight;  /* a gauge, not a counter */
  pthread_mutex_unlock(&s->lock);
}

/* ---- sleeping and cancelling ---------------------------------------- */

/* Sleep `ms` unless the server stops first: 1 when it is stopping. */
static int nap(pc_sim_server *s, int64_t ms)
{
  struct timespec until;
  int stopped;

  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&s->lock);
  while (!s->stopping)
    if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT)
      break;
  stopped = s->stopping;
  pthread_mutex_unlock(&s->lock);
  return stopped;
}

/* Enter `a` into the calls stopping cancels: 1 when already stopping. */
static int call_enter(pc_sim_server *s, struct active *a)
{
  int stopped;

  pthread_mutex_lock(&s->lock);
  stopped = s->stopping;
  if (!stopped) {
    a->prev = NULL;
    a->next = s->calls;
    if (s->calls)
      s->calls->prev = a;
    s->calls = a;
  }
  pthread_mutex_unlock(&s->lock);
  return stopped;
}

static void call_leave(pc_sim_server *s, struct active *a)
{
  pthread_mutex_lock(&s->lock);
  if (a->prev)
    a->prev->next = a->next;
  else
    s->calls = a->next;
  if (a->next)
    a->next->prev = a->prev;
  pthread_mutex_unlock(&s->lock);
}

/* ---- responses ------------------------------------------------------- */

static ssize_t feed_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct feed *f = cls;
  size_t end = f->stop_at, n;

  if (pos >= f->stop_at)
    return f->truncated ? MHD_CONTENT_READER_END_WITH_ERROR
                        : MHD_CONTENT_READER_END_OF_STREAM;
  /* A streamed body goes out one event per chunk. */
  if (f->ends) {
    while (f->seg < f->n_ends && f->ends[f->seg] <= pos)
      f->seg++;
    if (f->seg < f->n_ends && f->ends[f->seg] < end)
      end = f->ends[f->seg];
  }
  n = end - (size_t)pos;
  if (n > max)
    n = max;
  memcpy(buf, f->data + pos, n);
  return (ssize_t)n;
}

static void feed_free(void *cls)
{
  struct feed *f = cls;

  pc_free(f->data);
  pc_free(f->ends);
  pc_free(f);
}

/* Extra headers of one reply. */
struct reply_headers {
  const char *id_name;      /* request id header, or NULL */
  char id[64];
  char retry_after[64];     /* or "" */
  char retry_after_ms[24];  /* or "" */
};

/* Queue `b` (taken over: emptied) with `status`; `truncate` sends the
 * status and headers but only half of the body, then closes. */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status,
                                 pc__sim_body *b, int truncate,
                                 const struct reply_headers *h)
{
  struct feed *f = pc_calloc(1, sizeof(*f));
  struct MHD_Response *resp = NULL;
  enum MHD_Result ret;
  uint64_t size;

  if (!f)
    goto fail;
  if (!(f->data = pc_buf_take(&b->text, &f->len)))
    goto fail;
  if (b->streamed) {
    f->ends = b->ends;
    f->n_ends = b->n_ends;
    b->ends = NULL;
    b->n_ends = b->cap_ends = 0;
  }
  f->stop_at = truncate ? f->len / 2 : f->len;
  f->truncated = truncate;
  size = b->streamed ? MHD_SIZE_UNKNOWN : (uint64_t)f->len;
  resp = MHD_create_response_from_callback(size, 32 * 1024, feed_read, f,
                                           feed_free);
  if (!resp)
    goto fail;
  f = NULL;  /* the response owns it now */
  if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                              b->content_type) != MHD_YES ||
      (b->streamed &&
       MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                               "no-cache") != MHD_YES) ||
      (h && h->id_name &&
       MHD_add_response_header(resp, h->id_name, h->id) != MHD_YES) ||
      (h && h->retry_after[0] &&
       MHD_add_response_header(resp, "Retry-After", h->retry_after) !=
         MHD_YES) ||
      (h && h->retry_after_ms[0] &&
       MHD_add_response_header(resp, "retry-after-ms", h->retry_after_ms) !=
         MHD_YES))
    goto fail;
  ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
fail:
  if (resp)
    MHD_destroy_response(resp);
  else if (f)
    feed_free(f);
  return MHD_NO;  /* out of memory: drop the connection */
}

/* A JSON object as the whole body. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 struct json_object *v)
{
  pc__sim_body b;
  enum MHD_Result ret = MHD_NO;

  pc__sim_body_init(&b);
  if (v && pc__sim_body_json(&b, v) == PC_OK)
    ret = send_body(c, status, &b, 0, NULL);
  pc__sim_body_free(&b);
  return ret;
}

/* ---- authentication -------------------------------------------------- */

/* Compare without stopping at the first difference. */
static int same_secret(const char *a, size_t alen, const char *b,
                       size_t blen)
{
  unsigned char diff = (unsigned char)(alen != blen);
  size_t n = alen < blen ? alen : blen;

  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

static int authorized(const pc_sim_server *s, const pc__sim_headers *h,
                      int x_api_key)
{
  const char *v;

  if (!s->api_key)
    return 1;
  v = x_api_key ? h->x_api_key : h->authorization;
  if (!v)
    return 0;
  if (!x_api_key) {
    if (strncasecmp(v, "Bearer ", 7) != 0)
      return 0;
    v += 7;
  }
  return same_secret(v, strlen(v), s->api_key, s->api_key_len);
}

static void read_headers(struct MHD_Connection *c, pc__sim_headers *h)
{
  memset(h, 0, sizeof(*h));
  h->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 "Authorization");
  h->x_api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                             "x-api-key");
  h->anthropic_version = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     "anthropic-version");
  h->rollout = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                           "X-Promptc-Rollout");
  h->choice = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                          "X-Promptc-Choice");
}

/* ---- the LM routes --------------------------------------------------- */

/* The request key the faults are drawn for: SHA-256 of method, path,
 * body, rollout and choice headers, NUL-separated. */
static void request_key(const char *method, const char *url,
                        const pc_buf *body, const pc__sim_headers *h,
                        unsigned char key[32])
{
  pc_sha256 st;
  char hex[PC_SHA256_HEX_LEN + 1];

  pc_sha256_init(&st);
  pc_sha256_update(&st, method, strlen(method) + 1);
  pc_sha256_update(&st, url, strlen(url) + 1);
  if (body->len)
    pc_sha256_update(&st, body->data, body->len);
  pc_sha256_update(&st, "", 1);
  if (h->rollout)
    pc_sha256_update(&st, h->rollout, strlen(h->rollout));
  pc_sha256_update(&st, "", 1);
  if (h->choice)
    pc_sha256_update(&st, h->choice, strlen(h->choice));
  pc_sha256_final_hex(&st, hex);
  for (size_t i = 0; i < 32; i++) {
    unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0'
                                               : hex[2 * i] - 'a' + 10);
    unsigned lo = (unsigned)(hex[2 * i + 1] <= '9'
                               ? hex[2 * i + 1] - '0'
                               : hex[2 * i + 1] - 'a' + 10);

    key[i] = (unsigned char)(hi << 4 | lo);
  }
}

/* A fresh reply id: 24 hex digits. */
static void new_id(pc_sim_server *s, char out[25])
{
  char seed[64], hex[PC_SHA256_HEX_LEN + 1];
  uint64_t n = atomic_fetch_add(&s->ids, 1);

  snprintf(seed, sizeof(seed), "sim-server:%lld:%llu",
           (long long)s->started_ns, (unsigned long long)n);
  pc_sha256_hex(seed, strlen(seed), hex);
  memcpy(out, hex, 24);
  out[24] = '\0';
}

static int64_t tokens_of(size_t bytes)
{
  return (int64_t)((bytes + 3) / 4);
}

/* The call settings the sim gets: the role's params under the
 * request's, and "n". */
static struct json_object *call_params(const pc_sim_server *s,
                                       const pc__sim_req *req, int *rc)
{
  struct json_object *p = NULL;

  if (json_object_deep_copy((struct json_object *)pc_lm_params(s->lm), &p,
                            NULL) != 0 || !p) {
    *rc = PC_E_NOMEM;
    return NULL;
  }
  pc__sim_copy_all(p, req->params, NULL, rc);
  pc__sim_put_int(p, "n", (int64_t)(req->first + req->n), rc);
  if (*rc) {
    json_object_put(p);
    return NULL;
  }
  return p;
}

#define ASK_STOPPING (-1)  /* ask_sim: drop the connection, say nothing */

/*
 * Ask the sim. On PC_OK `resp` holds its response and `a` borrows from
 * it; ASK_STOPPING when the server is stopping (the connection is
 * dropped); otherwise a failure kind (> 0) in `f`.
 */
static int ask_sim(pc_sim_server *s, const pc__sim_req *req,
                   const pc__sim_headers *h, pc_lm_response *resp,
                   pc__sim_answer *a, pc__sim_fail *f)
{
  struct json_object *params;
  struct active act;
  pc_call call;
  pc_error err = PC_ERROR_INIT;
  uint64_t t0;
  size_t bytes = 0, total = req->first + req->n;
  int rc = PC_OK;

  memset(resp, 0, sizeof(*resp));
  resp->prompt_tokens = resp->completion_tokens = -1;
  params = call_params(s, req, &rc);
  if (!params)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  memset(&call, 0, sizeof(call));
  act.call = &call;
  if (call_enter(s, &act)) {
    json_object_put(params);
    return ASK_STOPPING;
  }
  t0 = mono_ns();
  rc = pc_lm_complete(s->lm, &req->msgs, params, h->rollout, &call, resp,
                      &err);
  a->eval_ns = (int64_t)(mono_ns() - t0);
  call_leave(s, &act);
  json_object_put(params);
  if (rc == PC_E_CANCELLED && call.cancelled)
    return ASK_STOPPING;
  if (rc == PC_E_INVALID_ARG)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s", err.message);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "%s", err.message);
  if (resp->n_texts < total) {
    pc_lm_response_clear(resp);
    return pc__sim_fail_set(f, PC__SIM_FAIL_500,
                            "the LM gave %zu choices of the %zu asked for",
                            resp->n_texts, total);
  }
  a->texts = resp->texts + req->first;
  a->lens = resp->lens + req->first;
  a->n = req->n;
  for (size_t i = 0; i < a->n; i++)
    bytes += a->lens[i];
  a->completion_tokens = req->first == 0 && resp->n_texts == req->n &&
                         resp->completion_tokens >= 0
                           ? resp->completion_tokens
                           : tokens_of(bytes);
  return PC_OK;
}

/* The "X-Promptc-Choice" header: 0 when absent. -1 when it is not a
 * number of choices. */
static int read_choice(const char *v, uint32_t *out)
{
  char *end;
  long n;

  *out = 0;
  if (!v)
    return 0;
  if (*v < '0' || *v > '9')
    return -1;
  n = strtol(v, &end, 10);
  if (*end || n < 0 || n >= PC__SIM_MAX_CHOICES)
    return -1;
  *out = (uint32_t)n;
  return 0;
}

/* The Retry-After headers of a 429. */
static void retry_headers(const pc_sim_server *s, struct reply_headers *rh)
{
  const pc_sim_faults *f = &s->faults;

  switch (f->retry_after_form) {
  case PC_SIM_RETRY_DATE:
    /* Rounded up to the next second: never less than asked for. */
    pc__sim_http_date((wall_ns() + 999999999) / 1000000000 +
                        f->retry_after, rh->retry_after);
    break;
  case PC_SIM_RETRY_MS:
    snprintf(rh->retry_after_ms, sizeof(rh->retry_after_ms), "%lld",
             (long long)f->retry_after);
    snprintf(rh->retry_after, sizeof(rh->retry_after), "%lld",
             (long long)((f->retry_after + 999) / 1000));
    break;
  default:
    snprintf(rh->retry_after, sizeof(rh->retry_after), "%lld",
             (long long)f->retry_after);
    break;
  }
}

static int outcome_of_fail(int kind)
{
  switch (kind) {
  case PC__SIM_FAIL_AUTH: return PC__SIM_UNAUTHORIZED;
  case PC__SIM_FAIL_NOT_FOUND: return PC__SIM_NOT_FOUND;
  case PC__SIM_FAIL_CONTEXT: return PC__SIM_CONTEXT_LENGTH;
  case PC__SIM_FAIL_RATE: return PC__SIM_RATE_LIMITED;
  case PC__SIM_FAIL_500: return PC__SIM_ERROR_500;
  case PC__SIM_FAIL_503: return PC__SIM_ERROR_503;
  default: return PC__SIM_BAD_REQUEST;
  }
}

static enum MHD_Result lm_request(pc_sim_server *s, struct MHD_Connection *c,
                                  struct req_ctx *r, const char *method,
                                  const char *url, const pc__sim_wire *w)
{
  pc__sim_headers h;
  pc__sim_req req;
  pc__sim_fail f;
  pc__sim_body body;
  pc__sim_answer a;
  pc_lm_response resp;
  struct reply_headers rh;
  pc_error perr = PC_ERROR_INIT;
  unsigned char key[32];
  char id[25];
  int fault = PC__SIM_FAULT_NONE, outcome, drifted, rc;
  int64_t sleep_ms = 0, tokens;
  size_t bytes = 0;
  uint64_t before;
  enum MHD_Result ret = MHD_NO;

  memset(&req, 0, sizeof(req));
  memset(&f, 0, sizeof(f));
  memset(&a, 0, sizeof(a));
  memset(&resp, 0, sizeof(resp));
  memset(&rh, 0, sizeof(rh));
  pc__sim_body_init(&body);
  read_headers(c, &h);
  new_id(s, id);
  rh.id_name = w->id_header;
  snprintf(rh.id, sizeof(rh.id), "req_%s", id);

  if (!authorized(s, &h, w->key_in_x_api_key)) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_AUTH, NULL);
    goto fail;
  }
  if (r->too_large) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_TOO_LARGE, NULL);
    goto fail;
  }
  request_key(method, url, &r->body, &h, key);
  if (pc__sim_fault_draw(s->table, &s->faults, key, &fault, &sleep_ms)) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_500, "out of memory");
    goto fail;
  }
  if (sleep_ms > 0 && nap(s, sleep_ms))
    goto out;  /* stopping: drop the connection */

  if (pc_json_parse(r->body.data ? r->body.data : "", r->body.len,
                    PC_JSON_PARSE_STRICT, &req.body, &perr)) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_BAD_REQUEST, "We could not parse the "
                     "JSON body of your request: %s", perr.message);
    goto fail;
  }
  if (w->parse(&h, s->served, &req, &f))
    goto fail;
  if (read_choice(h.choice, &req.first)) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_BAD_REQUEST, "X-Promptc-Choice: "
                     "expected an integer from 0 to %d",
                     PC__SIM_MAX_CHOICES - 1);
    goto fail;
  }
  if (req.first + req.n > PC__SIM_MAX_CHOICES) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_BAD_REQUEST, "X-Promptc-Choice %u "
                     "with n %u: at most %d choices", req.first, req.n,
                     PC__SIM_MAX_CHOICES);
    goto fail;
  }
  for (size_t i = 0; i < req.msgs.n; i++)
    bytes += req.msgs.items[i].len;
  tokens = tokens_of(bytes);
  if (s->max_context > 0 && tokens > s->max_context) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_CONTEXT, NULL);
    f.limit = s->max_context;
    f.tokens = tokens;
    goto fail;
  }

  switch (fault) {
  case PC__SIM_FAULT_429:
    retry_headers(s, &rh);
    pc__sim_fail_set(&f, PC__SIM_FAIL_RATE, NULL);
    goto fail;
  case PC__SIM_FAULT_500:
    pc__sim_fail_set(&f, PC__SIM_FAIL_500, "(sim-server fault injection)");
    goto fail;
  case PC__SIM_FAULT_503:
    pc__sim_fail_set(&f, PC__SIM_FAIL_503, NULL);
    goto fail;
  case PC__SIM_FAULT_STALL:
    count(s, w->api, PC__SIM_STALLED);
    nap(s, s->faults.stall_ms);
    goto out;  /* nothing was sent: close */
  default:
    break;
  }

  rc = ask_sim(s, &req, &h, &resp, &a, &f);
  if (rc == ASK_STOPPING)
    goto out;
  if (rc)
    goto fail;
  a.prompt_tokens = resp.prompt_tokens >= 0 ? resp.prompt_tokens : tokens;
  before = atomic_fetch_add(&s->answered, 1);
  drifted = s->drift_after > 0 && before >= s->drift_after;
  a.model = s->served;
  a.fingerprint = s->fingerprint[drifted];
  a.digest = s->digest[drifted];
  a.id = id;
  a.created_ns = wall_ns();
  a.created = a.created_ns / 1000000000;
  a.total_ns = (int64_t)(mono_ns() - r->t0_ns);
  body.malformed = fault == PC__SIM_FAULT_MALFORMED;
  if (w->reply(&req, &a, &body))
    goto out;  /* out of memory: drop the connection */
  outcome = fault == PC__SIM_FAULT_TRUNCATE    ? PC__SIM_TRUNCATED
            : fault == PC__SIM_FAULT_MALFORMED ? PC__SIM_MALFORMED
                                               : PC__SIM_OK;
  count(s, w->api, outcome);
  ret = send_body(c, 200, &body, fault == PC__SIM_FAULT_TRUNCATE, &rh);
  goto out;

fail:
  count(s, w->api, outcome_of_fail(f.kind));
  pc__sim_body_free(&body);
  pc__sim_body_init(&body);
  if (w->error(&f, &body) == PC_OK)
    ret = send_body(c, pc__sim_fail_status(f.kind), &body, 0, &rh);
out:
  pc_lm_response_clear(&resp);
  pc__sim_req_clear(&req);
  pc__sim_body_free(&body);
  return ret;
}

/* ---- the other routes ------------------------------------------------ */

static enum MHD_Result ollama_info(pc_sim_server *s,
                                   struct MHD_Connection *c,
                                   struct req_ctx *r)
{
  pc__sim_headers h;
  pc__sim_fail f;
  pc__sim_body body;
  struct json_object *req = NULL, *v = NULL;
  const char *name;
  enum MHD_Result ret = MHD_NO;
  int drifted = s->drift_after > 0 &&
                atomic_load(&s->answered) >= s->drift_after;

  memset(&f, 0, sizeof(f));
  pc__sim_body_init(&body);
  read_headers(c, &h);
  if (!authorized(s, &h, 0)) {
    pc__sim_fail_set(&f, PC__SIM_FAIL_AUTH, NULL);
    goto fail;
  }
  if (r->route == ROUTE_OLLAMA_TAGS) {
    v = pc__sim_ollama_tags(s->served, s->digest[drifted], s->started_ns);
  } else {
    if (r->too_large ||
        pc_json_parse(r->body.data ? r->body.data : "", r->body.len,
                      PC_JSON_PARSE_STRICT, &req, NULL) ||
        !json_object_is_type(req, json_type_object)) {
      pc__sim_fail_set(&f, PC__SIM_FAIL_BAD_REQUEST,
                       "expected a JSON object {\"model\": NAME}");
      goto fail;
    }
    name = pc_json_str(req, "model");
    if (!name)
      name = pc_json_str(req, "name");  /* the older spelling */
    if (!name) {
      pc__sim_fail_set(&f, PC__SIM_FAIL_BAD_REQUEST, "model is required");
      goto fail;
    }
    if (!pc__sim_ollama_model_is(name, s->served)) {
      pc__sim_fail_set(&f, PC__SIM_FAIL_NOT_FOUND,
                       "model '%.120s' not found", name);
      goto fail;
    }
    v = pc__sim_ollama_show(s->served, s->digest[drifted], s->started_ns);
  }
  if (!v)
    goto out;
  count(s, PC__SIM_API_OLLAMA, PC__SIM_OK);
  ret = send_json(c, 200, v);
  goto out;
fail:
  count(s, PC__SIM_API_OLLAMA, outcome_of_fail(f.kind));
  if (pc__sim_wire_ollama.error(&f, &body) == PC_OK)
    ret = send_body(c, pc__sim_fail_status(f.kind), &body, 0, NULL);
out:
  json_object_put(v);
  json_object_put(req);
  pc__sim_body_free(&body);
  return ret;
}

static enum MHD_Result not_found(pc_sim_server *s, struct MHD_Connection *c,
                                 struct req_ctx *r, const char *method,
                                 const char *url)
{
  int rc = PC_OK;
  struct json_object *o = pc__sim_obj(&rc);
  struct json_object *e = pc__sim_obj(&rc);
  char msg[256];
  enum MHD_Result ret = MHD_NO;

  snprintf(msg, sizeof(msg), "no route for %.16s %.160s (see "
           "docs/sim-server.md)", method, url);
  pc__sim_put_str(e, "message", msg, &rc);
  pc__sim_put_str(e, "type", "invalid_request_error", &rc);
  pc__sim_put_str(e, "code", "not_found", &rc);
  pc__sim_put(o, "error", e, &rc);
  count(s, r->api, PC__SIM_NOT_FOUND);
  if (!rc)
    ret = send_json(c, 404, o);
  json_object_put(o);
  return ret;
}

/* ---- libmicrohttpd callbacks ----------------------------------------- */

static int route_of(const char *method, const char *url, int *api)
{
  int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;

  *api = PC__SIM_API_OTHER;
  if (strcmp(url, "/stats") == 0 && get)
    return ROUTE_STATS;
  if (strcmp(url, "/stats/reset") == 0 && post)
    return ROUTE_STATS_RESET;
  if (strcmp(url, "/v1/chat/completions") == 0 && post) {
    *api = PC__SIM_API_OPENAI;
    return ROUTE_OPENAI;
  }
  if (strcmp(url, "/v1/messages") == 0 && post) {
    *api = PC__SIM_API_ANTHROPIC;
    return ROUTE_ANTHROPIC;
  }
  if (strcmp(url, "/api/chat") == 0 && post) {
    *api = PC__SIM_API_OLLAMA;
    return ROUTE_OLLAMA_CHAT;
  }
  if (strcmp(url, "/api/tags") == 0 && get) {
    *api = PC__SIM_API_OLLAMA;
    return ROUTE_OLLAMA_TAGS;
  }
  if (strcmp(url, "/api/show") == 0 && post) {
    *api = PC__SIM_API_OLLAMA;
    return ROUTE_OLLAMA_SHOW;
  }
  return ROUTE_NONE;
}

/* The first call of a request (its headers): set it up. */
static enum MHD_Result begin(pc_sim_server *s, const char *url,
                             const char *method, void **con_cls)
{
  struct req_ctx *r = pc_calloc(1, sizeof(*r));

  if (!r)
    return MHD_NO;
  r->route = route_of(method, url, &r->api);
  r->t0_ns = mono_ns();
  pc_buf_init(&r->body, MAX_REQUEST);
  if (r->route != ROUTE_STATS && r->route != ROUTE_STATS_RESET) {
    pthread_mutex_lock(&s->lock);
    r->counted = 1;
    if (++s->in_flight > s->max_in_flight)
      s->max_in_flight = s->in_flight;
    pthread_mutex_unlock(&s->lock);
  }
  *con_cls = r;
  return MHD_YES;
}

/* A piece of the body: kept up to MAX_REQUEST, then only counted as too
 * large. */
static enum MHD_Result take_upload(struct req_ctx *r, const char *upload,
                                   size_t *upload_size)
{
  if (!r->too_large && pc_buf_append(&r->body, upload, *upload_size)) {
    r->too_large = 1;
    pc_buf_free(&r->body);
  }
  *upload_size = 0;
  return MHD_YES;
}

/* MHD calls this once with the headers, once per piece of the body, and
 * once more when the body is complete: then the request is answered. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload, size_t *upload_size,
                                  void **con_cls)
{
  pc_sim_server *s = cls;
  struct req_ctx *r = *con_cls;
  struct json_object *v;
  enum MHD_Result ret;

  (void)version;
  if (!r)
    return begin(s, url, method, con_cls);
  if (*upload_size)
    return take_upload(r, upload, upload_size);
  switch (r->route) {
  case ROUTE_STATS:
  case ROUTE_STATS_RESET:
    if (r->route == ROUTE_STATS_RESET)
      stats_reset(s);
    v = pc_sim_server_stats(s);
    ret = v ? send_json(c, 200, v) : MHD_NO;
    json_object_put(v);
    break;
  case ROUTE_OPENAI:
    ret = lm_request(s, c, r, method, url, &pc__sim_wire_openai);
    break;
  case ROUTE_ANTHROPIC:
    ret = lm_request(s, c, r, method, url, &pc__sim_wire_anthropic);
    break;
  case ROUTE_OLLAMA_CHAT:
    ret = lm_request(s, c, r, method, url, &pc__sim_wire_ollama);
    break;
  case ROUTE_OLLAMA_TAGS:
  case ROUTE_OLLAMA_SHOW:
    ret = ollama_info(s, c, r);
    break;
  default:
    ret = not_found(s, c, r, method, url);
    break;
  }
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  pc_sim_server *s = cls;
  struct req_ctx *r = *con_cls;

  (void)c;
  (void)toe;
  if (!r)
    return;
  if (r->counted) {
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->lock);
  }
  pc_buf_free(&r->body);
  pc_free(r);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  pc_sim_server *s = cls;

  (void)c;
  (void)socket_context;
  if (toe != MHD_CONNECTION_NOTIFY_STARTED)
    return;
  pthread_mutex_lock(&s->lock);
  s->connections++;
  pthread_mutex_unlock(&s->lock);
}

/* MHD's messages are kept (the last one), never printed: the start
 * failure quotes it. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
  pc_sim_server *s = cls;
  char line[256];
  size_t n;

  vsnprintf(line, sizeof(line), fmt, ap);
  n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  pthread_mutex_lock(&s->lock);
  memcpy(s->mhd_error, line, n + 1);
  pthread_mutex_unlock(&s->lock);
}

/* ---- start and stop -------------------------------------------------- */

/* "fp_" + 10 hex and the whole digest of sha256(identity + suffix). */
static void derive(const char *identity, const char *suffix, char fp[16],
                   char digest[PC_SHA256_HEX_LEN + 1])
{
  pc_sha256 st;

  pc_sha256_init(&st);
  pc_sha256_update(&st, identity, strlen(identity));
  pc_sha256_update(&st, suffix, strlen(suffix));
  pc_sha256_final_hex(&st, digest);
  snprintf(fp, 16, "fp_%.10s", digest);
}

int pc_sim_server_start(const pc_sim_server_opts *o, pc_sim_server **out,
                        pc_error *err)
{
  pc_sim_server *s = NULL;
  pthread_condattr_t ca;
  const union MHD_DaemonInfo *info;
  unsigned flags;
  const char *identity;
  int rc;

  *out = NULL;
  if (!o->lm)
    return pc_error_set(err, PC_E_INVALID_ARG, "sim-server: no LM to serve");
  if (o->listen.addr_len == 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "sim-server: no address to "
                        "listen on");
  rc = pc_sim_faults_check(&o->faults, err);
  if (rc)
    return rc;
  identity = pc_lm_identity(o->lm);
  s = pc_calloc(1, sizeof(*s));
  if (!s)
    return pc_error_set(err, PC_E_NOMEM, "sim-server: out of memory");
  pthread_mutex_init(&s->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->wake, &ca);
  pthread_condattr_destroy(&ca);
  s->lm = o->lm;
  s->max_context = o->max_context_tokens;
  s->drift_after = o->drift_after;
  s->faults = o->faults;
  s->started_ns = wall_ns();
  atomic_init(&s->answered, 0);
  atomic_init(&s->ids, 0);
  s->served = pc_strdup(o->model_name && *o->model_name ? o->model_name
                                                        : identity);
  if (!s->served)
    goto nomem;
  if (o->api_key) {
    s->api_key = pc_memdup(o->api_key, o->api_key_len + 1);
    if (!s->api_key)
      goto nomem;
    s->api_key[o->api_key_len] = '\0';
    s->api_key_len = o->api_key_len;
  }
  derive(identity, "", s->fingerprint[0], s->digest[0]);
  derive(identity, "#drift", s->fingerprint[1], s->digest[1]);
  if ((pc__sim_faults_any(&s->faults) || s->faults.latency_jitter_ms > 0) &&
      pc__sim_fault_table_new(&s->table))
    goto nomem;

  flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
          MHD_USE_POLL | MHD_USE_ERROR_LOG;
  if (o->listen.ipv6)
    flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon(
    flags, o->listen.port, NULL, NULL, on_request, s,
    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&o->listen.addr,
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
    MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PC_SIM_MAX_CONNECTIONS,
    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
    MHD_OPTION_END);
  if (!s->daemon) {
    rc = pc_error_set(err, PC_E_IO, "--listen %s%s%s:%u: %s",
                      o->listen.ipv6 ? "[" : "", o->listen.host,
                      o->listen.ipv6 ? "]" : "", (unsigned)o->listen.port,
                      s->mhd_error[0] ? s->mhd_error
                                      : "cannot start the HTTP server");
    pc_sim_server_stop(s);
    return rc;
  }
  info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : o->listen.port;
  *out = s;
  return PC_OK;
nomem:
  pc_sim_server_stop(s);
  return pc_error_set(err, PC_E_NOMEM, "sim-server: out of memory");
}

uint16_t pc_sim_server_port(const pc_sim_server *s)
{
  return s->port;
}

void pc_sim_server_stop(pc_sim_server *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  for (struct active *a = s->calls; a; a = a->next)
    a->call->cancelled = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  if (s->daemon)
    MHD_stop_daemon(s->daemon);
  pc__sim_fault_table_free(s->table);
  if (s->api_key) {
    explicit_bzero(s->api_key, s->api_key_len);
    pc_free(s->api_key);
  }
  pc_free(s->served);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  pc_free(s);
}
