/* http.c - the host HTTP client: libcurl's multi interface on one loop
 * thread, with every caller blocking on its own transfer (core/http.h). */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>

#include "pc_autoconf.h"
#include "alloc.h"
#include "buf.h"
#include "errors.h"
#include "host.h"
#include "http.h"

/*
 * How it works.
 *
 * A caller builds its easy handle (options, header list with the secret
 * substituted) on its own thread, puts the transfer on the pending queue
 * and wakes the loop with curl_multi_wakeup. The loop thread is the only
 * one that touches the multi handle: it adds pending transfers, removes
 * the ones their callers abort, runs curl_multi_perform and hands each
 * finished transfer back (state T_DONE). Until then the easy handle
 * belongs to the loop; afterwards to the caller again, who frees it.
 *
 * libcurl's callbacks run on the loop thread and only append to the
 * transfer's buffers: the header lines of the current response and the
 * body bytes not yet taken. The caller waits on its transfer's condition
 * variable (50 ms at a time, so it notices a cancelled call), swaps the
 * buffers out under the lock and calls the plugin's sink on its own
 * thread, so a slow sink never holds up other transfers.
 *
 * One mutex, g.mu, guards the queues, the loop's life and every field a
 * transfer shares between its caller and the loop ("under g.mu" below).
 * It is never held while curl_multi_perform or a sink runs.
 */

#define HEAD_MAX ((size_t)256 << 10)  /* header lines of one response */
#define SECRET_MAX 4096               /* largest secret value accepted */
#define WAIT_SLICE_MS 50              /* how often a waiting caller looks */
#define POOL_MAX_CONNECTIONS 1024L    /* idle connections kept for reuse */

enum { T_NEW, T_PENDING, T_ACTIVE, T_DONE };

struct transfer {
  CURL *easy;                  /* owned: freed by transfer_free */
  struct curl_slist *headers;  /* owned: wiped, then freed */
  char errbuf[CURL_ERROR_SIZE];
  char what[200];              /* "POST http://host/path", for messages */
  int stream;                  /* PC_HTTP_STREAM: hand out body pieces */
  pthread_cond_t cond;         /* the caller waits here, with g.mu */

  /* Under g.mu. */
  int state;                   /* T_* */
  int abort_code;              /* set once by the caller to stop it */
  int abort_queued;            /* on g.aborts */
  int fail_code;               /* set by a callback: why it stopped */
  const char *fail_msg;        /* static text for fail_code */
  CURLcode result;             /* curl's verdict, once T_DONE */
  long status;                 /* status of the current response */
  int headers_ready;           /* the final response's headers are in */
  pc_buf head;                 /* its header lines, '\n'-terminated */
  pc_buf body;                 /* body bytes the caller has not taken */
  uint64_t body_total;         /* body bytes received in all */
  struct transfer *prev;       /* the pending queue */
  struct transfer *next;
  struct transfer *next_abort; /* g.aborts */

  /* The loop thread only. */
  int in_multi;
};

static struct {
  pthread_mutex_t mu;
  int running;                 /* the loop thread exists; under mu */
  int stopping;                /* pc_http_shutdown is waiting; under mu */
  pthread_t thread;
  CURLM *multi;                /* set while running */
  struct transfer *pending;    /* FIFO of T_PENDING; under mu */
  struct transfer *pending_tail;
  struct transfer *aborts;     /* transfers to remove; under mu */
  long in_multi;               /* handles in the multi; loop thread only */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
  _Atomic uint64_t requests;
  _Atomic uint64_t completed;
  _Atomic uint64_t failed;
  _Atomic uint64_t connections;
  _Atomic uint64_t max_in_flight;
} stats;

/* ---- small helpers ----------------------------------------------------- */

/* "METHOD URL" for messages, without user:password@ and without the query
 * or fragment, either of which may carry a credential. */
static void describe(const char *method, const char *url, char *out,
                     size_t cap)
{
  const char *sep = strstr(url, "://");
  const char *host = sep ? sep + 3 : url;
  const char *host_end = host + strcspn(host, "/?#");
  const char *start = host;
  size_t keep;

  for (const char *p = host; p < host_end; p++)
    if (*p == '@')
      start = p + 1;
  keep = strcspn(start, "?#");
  snprintf(out, cap, "%s %.*s%.*s", method, (int)(host - url), url,
           (int)keep, start);
}

/* Absolute monotonic time `ms` from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(long ms)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* Why `call` must stop: PC_E_CANCELLED (the call or the whole run was
 * cancelled), PC_E_TIMEOUT (its deadline passed) or 0. */
static int stop_reason(const pc_call *call)
{
  const pc_host_api *host = pc_host_api_get();

  if (!host->is_cancelled(host->ctx, call))
    return 0;
  if (!call || call->cancelled || host->is_cancelled(host->ctx, NULL))
    return PC_E_CANCELLED;
  return PC_E_TIMEOUT;
}

static void wipe_headers(struct curl_slist *list)
{
  for (struct curl_slist *s = list; s; s = s->next)
    explicit_bzero(s->data, strlen(s->data));
}

static void buf_swap(pc_buf *a, pc_buf *b)
{
  pc_buf tmp = *a;

  *a = *b;
  *b = tmp;
}

static int has_line_break(const char *s)
{
  return strpbrk(s, "\r\n") != NULL;
}

/* ---- libcurl callbacks (loop thread) ----------------------------------- */

/* The status in "HTTP/1.1 200 OK" or "HTTP/2 200", 0 if there is none. */
static long parse_status(const char *p, size_t len)
{
  size_t i = 5;
  long status = 0;
  int digits = 0;

  while (i < len && p[i] != ' ')
    i++;
  while (i < len && p[i] == ' ')
    i++;
  for (; i < len && p[i] >= '0' && p[i] <= '9' && digits < 3; i++, digits++)
    status = status * 10 + (p[i] - '0');
  return digits == 3 ? status : 0;
}

/* Record one header line of the response. Under g.mu. Returns 0, or -1
 * with fail_code set. */
static int header_line_locked(struct transfer *t, const char *p, size_t len)
{
  while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
    len--;
  if (len == 0) {
    /* The end of a response's headers; a 1xx is followed by another. */
    if (t->status >= 200) {
      t->headers_ready = 1;
      pthread_cond_signal(&t->cond);
    }
    return 0;
  }
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    pc_buf_reset(&t->head);
    t->status = parse_status(p, len);
    return 0;
  }
  if ((p[0] == ' ' || p[0] == '\t') && t->head.len > 0) {
    /* An obsolete folded line continues the previous header's value. */
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
      p++;
      len--;
    }
    t->head.data[--t->head.len] = '\0';
    if (pc_buf_putc(&t->head, ' '))
      goto too_big;
  }
  if (pc_buf_append(&t->head, p, len) || pc_buf_putc(&t->head, '\n'))
    goto too_big;
  return 0;

too_big:
  t->fail_code = PC_E_PROVIDER;
  t->fail_msg = "the response headers are too large";
  return -1;
}

static size_t on_curl_header(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  size_t rv = len;

  pthread_mutex_lock(&g.mu);
  if (t->abort_code)
    rv = 0;
  else if (!t->headers_ready && header_line_locked(t, p, len))
    rv = 0;  /* (trailers after the final headers are dropped) */
  pthread_mutex_unlock(&g.mu);
  return rv;
}

static size_t on_curl_body(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  size_t rv = len;

  pthread_mutex_lock(&g.mu);
  if (t->abort_code) {
    rv = 0;
  } else if (t->body_total + len > PC_HTTP_MAX_BODY) {
    t->fail_code = PC_E_PROVIDER;
    t->fail_msg = "the response body is too large";
    rv = 0;
  } else if (pc_buf_append(&t->body, p, len)) {
    t->fail_code = PC_E_NOMEM;
    t->fail_msg = "out of memory for the response body";
    rv = 0;
  } else {
    t->body_total += len;
    if (t->stream)
      pthread_cond_signal(&t->cond);
  }
  pthread_mutex_unlock(&g.mu);
  return rv;
}

/* ---- the loop thread --------------------------------------------------- */

static void stats_max(_Atomic uint64_t *slot, uint64_t v)
{
  uint64_t cur = atomic_load(slot);

  while (v > cur && !atomic_compare_exchange_weak(slot, &cur, v))
    ;
}

/* Take `t` out of the multi and hand it back to its caller. */
static void finish(struct transfer *t, CURLcode result, int fail_code,
                   const char *fail_msg)
{
  long conns = 0;
  long code = 0;

  if (t->in_multi) {
    curl_multi_remove_handle(g.multi, t->easy);
    t->in_multi = 0;
    g.in_multi--;
  }
  if (curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK
      && conns > 0)
    atomic_fetch_add(&stats.connections, (uint64_t)conns);
  if (result == CURLE_OK)
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);

  pthread_mutex_lock(&g.mu);
  t->result = result;
  if (fail_code && !t->fail_code) {
    t->fail_code = fail_code;
    t->fail_msg = fail_msg;
  }
  if (result == CURLE_OK && !t->headers_ready) {
    t->status = code;
    t->headers_ready = 1;
  }
  if (t->abort_queued) {
    struct transfer **pp = &g.aborts;

    while (*pp != t)
      pp = &(*pp)->next_abort;
    *pp = t->next_abort;
    t->abort_queued = 0;
  }
  t->state = T_DONE;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&g.mu);
  /* The caller may free `t` from here on. */
}

static void *loop_main(void *arg)
{
  (void)arg;
  for (;;) {
    struct transfer *add, *aborts, *t, *next;
    struct CURLMsg *msg;
    int running, left, stop;

    pthread_mutex_lock(&g.mu);
    add = g.pending;
    g.pending = g.pending_tail = NULL;
    for (t = add; t; t = t->next)
      t->state = T_ACTIVE;
    aborts = g.aborts;
    g.aborts = NULL;
    for (t = aborts; t; t = t->next_abort)
      t->abort_queued = 0;
    stop = g.stopping && !add && !aborts && g.in_multi == 0;
    pthread_mutex_unlock(&g.mu);
    if (stop)
      break;

    for (t = add; t; t = next) {
      CURLMcode mc;

      next = t->next;
      t->next = t->prev = NULL;
      mc = curl_multi_add_handle(g.multi, t->easy);
      if (mc == CURLM_OK) {
        t->in_multi = 1;
        g.in_multi++;
      } else {
        finish(t, CURLE_OK, mc == CURLM_OUT_OF_MEMORY ? PC_E_NOMEM
                                                      : PC_E_INTERNAL,
               curl_multi_strerror(mc));
      }
    }
    stats_max(&stats.max_in_flight, (uint64_t)g.in_multi);
    for (t = aborts; t; t = next) {
      next = t->next_abort;
      t->next_abort = NULL;
      finish(t, CURLE_ABORTED_BY_CALLBACK, 0, NULL);
    }

    curl_multi_perform(g.multi, &running);
    while ((msg = curl_multi_info_read(g.multi, &left)) != NULL) {
      CURL *easy = msg->easy_handle;
      CURLcode result = msg->data.result;
      char *priv = NULL;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      finish((struct transfer *)priv, result, 0, NULL);
    }
    curl_multi_poll(g.multi, NULL, 0, 1000, NULL);
  }
  return NULL;
}

/* Start the loop thread (and libcurl) unless it runs. */
static int loop_start(const char *what, pc_error *err)
{
  sigset_t all, old;
  int rc = PC_OK;

  pthread_mutex_lock(&g.mu);
  if (g.running) {
    if (g.stopping)
      rc = pc_error_set(err, PC_E_CANCELLED, "%s: the HTTP client is "
                        "shutting down", what);
    goto out;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    rc = pc_error_set(err, PC_E_INTERNAL, "%s: libcurl failed to start",
                      what);
    goto out;
  }
  g.multi = curl_multi_init();
  if (!g.multi) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto fail_global;
  }
  curl_multi_setopt(g.multi, CURLMOPT_MAXCONNECTS, POOL_MAX_CONNECTIONS);
  curl_multi_setopt(g.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt(g.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  /* The loop starts with every signal blocked, so signals go to the
   * process's own threads and a write to a closed socket cannot kill. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (pthread_create(&g.thread, NULL, loop_main, NULL) != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    rc = pc_error_set(err, PC_E_INTERNAL, "%s: cannot start the HTTP "
                      "thread", what);
    goto fail_multi;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  g.running = 1;
  goto out;

fail_multi:
  curl_multi_cleanup(g.multi);
  g.multi = NULL;
fail_global:
  curl_global_cleanup();
out:
  pthread_mutex_unlock(&g.mu);
  return rc;
}

void pc_http_shutdown(void)
{
  pthread_mutex_lock(&g.mu);
  if (!g.running || g.stopping) {
    pthread_mutex_unlock(&g.mu);
    return;
  }
  g.stopping = 1;
  /* Transfers not yet started fail; those in flight run to their end. */
  while (g.pending) {
    struct transfer *t = g.pending;

    g.pending = t->next;
    t->next = t->prev = NULL;
    t->fail_code = PC_E_CANCELLED;
    t->fail_msg = "the HTTP client is shutting down";
    t->state = T_DONE;
    pthread_cond_signal(&t->cond);
  }
  g.pending_tail = NULL;
  curl_multi_wakeup(g.multi);
  pthread_mutex_unlock(&g.mu);

  pthread_join(g.thread, NULL);
  curl_multi_cleanup(g.multi);
  curl_global_cleanup();

  pthread_mutex_lock(&g.mu);
  g.multi = NULL;
  g.running = 0;
  g.stopping = 0;
  pthread_mutex_unlock(&g.mu);
  atomic_store(&stats.requests, 0);
  atomic_store(&stats.completed, 0);
  atomic_store(&stats.failed, 0);
  atomic_store(&stats.connections, 0);
  atomic_store(&stats.max_in_flight, 0);
}

void pc_http_stats_get(pc_http_stats *out)
{
  out->requests = atomic_load(&stats.requests);
  out->completed = atomic_load(&stats.completed);
  out->failed = atomic_load(&stats.failed);
  out->connections = atomic_load(&stats.connections);
  out->max_in_flight = atomic_load(&stats.max_in_flight);
}

/* ---- building a transfer (caller's thread) ----------------------------- */

/* A new "Name: value" line (or "Name;" for an empty value, which is how
 * libcurl sends an empty header), owned by the caller, who wipes it. */
static char *header_line(const char *name, const char *v1, size_t l1,
                         const char *v2, size_t l2)
{
  size_t nlen = strlen(name);
  size_t len = nlen + 2 + l1 + l2;
  char *line = pc_malloc(len + 1);

  if (!line)
    return NULL;
  memcpy(line, name, nlen);
  if (l1 + l2 == 0) {
    line[nlen] = ';';
    line[nlen + 1] = '\0';
    return line;
  }
  memcpy(line + nlen, ": ", 2);
  memcpy(line + nlen + 2, v1, l1);
  memcpy(line + nlen + 2 + l1, v2, l2);
  line[len] = '\0';
  return line;
}

/* The line for the secret header: its value is "[PREFIX ]REF" and the
 * reference is resolved by the host's "pc.secrets/1". Returns the new
 * line in *out (owned by the caller, who wipes it before freeing). */
static int secret_line(const struct transfer *t, const char *name,
                       const char *value, char **out, pc_error *err)
{
  const pc_host_api *host = pc_host_api_get();
  const pc_secrets_api *secrets;
  pc_error sub = PC_ERROR_INIT;
  const char *ref = strrchr(value, ' ');
  uint32_t size = 0;
  size_t len = 0;
  char *secret = NULL;
  int rc;

  *out = NULL;
  ref = ref ? ref + 1 : value;
  secrets = host->get_host_interface(host->ctx, "pc.secrets/1", &size);
  if (!secrets || size < offsetof(pc_secrets_api, lookup) +
                  sizeof(secrets->lookup) || !secrets->lookup)
    return pc_error_set(err, PC_E_INTERNAL, "%s: header %s: the host has "
                        "no secrets service", t->what, name);
  secret = pc_malloc(SECRET_MAX);
  if (!secret)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", t->what);
  rc = secrets->lookup(host->ctx, ref, secret, SECRET_MAX, &len, &sub);
  if (rc) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: header %s: %s", t->what,
                      name, sub.message);
    goto out;
  }
  if (memchr(secret, '\r', len) || memchr(secret, '\n', len)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: header %s: the secret "
                      "%.60s holds a line break", t->what, name, ref);
    goto out;
  }
  *out = header_line(name, value, (size_t)(ref - value), secret, len);
  if (!*out)
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", t->what);

out:
  explicit_bzero(secret, SECRET_MAX);
  pc_free(secret);
  return rc;
}

static int add_headers(struct transfer *t, const pc_http_request *req,
                       pc_error *err)
{
  const char *secret_name = req->secret_header;
  int has_expect = 0, found_secret = 0;

  for (uint64_t i = 0; i < req->n_headers; i++) {
    const pc_http_header *h = (const pc_http_header *)(const void *)
      ((const char *)req->headers + i * req->header_size);
    struct curl_slist *grown;
    char *line = NULL;
    int rc;

    if (!h->name || !*h->name || strpbrk(h->name, ": \t\r\n") || !h->value)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: header %llu: a name "
                          "and a value are required, the name without "
                          "':', blanks or line breaks", t->what,
                          (unsigned long long)i);
    if (has_line_break(h->value))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: header %s: the value "
                          "holds a line break", t->what, h->name);
    if (strcasecmp(h->name, "Expect") == 0)
      has_expect = 1;
    if (secret_name && strcasecmp(h->name, secret_name) == 0) {
      found_secret = 1;
      rc = secret_line(t, h->name, h->value, &line, err);
      if (rc)
        return rc;
    } else {
      line = header_line(h->name, h->value, strlen(h->value), "", 0);
      if (!line)
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", t->what);
    }
    grown = curl_slist_append(t->headers, line);
    explicit_bzero(line, strlen(line));
    pc_free(line);
    if (!grown)
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", t->what);
    t->headers = grown;
  }
  if (secret_name && !found_secret)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: secret header %.60s is "
                        "not among the request's headers", t->what,
                        secret_name);
  if (!has_expect) {
    /* No "Expect: 100-continue" round trip before a large POST body. */
    struct curl_slist *grown = curl_slist_append(t->headers, "Expect:");

    if (!grown)
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", t->what);
    t->headers = grown;
  }
  return PC_OK;
}

static long clamp_ms(int64_t ms)
{
  return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

#define SET(opt, val)                              \
  do {                                             \
    if (cc == CURLE_OK)                            \
      cc = curl_easy_setopt(t->easy, opt, val);    \
  } while (0)

static int set_options(struct transfer *t, const pc_http_request *req,
                       const pc_call *call, pc_error *err)
{
  int64_t connect_ms = req->connect_timeout_ms > 0
                         ? req->connect_timeout_ms
                         : PC_HTTP_CONNECT_TIMEOUT_MS;
  int64_t total_ms = req->total_timeout_ms > 0 ? req->total_timeout_ms
                                               : PC_HTTP_TOTAL_TIMEOUT_MS;
  CURLcode cc = CURLE_OK;

  if (call && call->deadline_ns) {
    const pc_host_api *host = pc_host_api_get();
    uint64_t now = host->now_ns(host->ctx);
    int64_t left = call->deadline_ns > now
                     ? (int64_t)((call->deadline_ns - now + 999999) / 1000000)
                     : 1;

    if (left < total_ms)
      total_ms = left;
  }
  if (connect_ms > total_ms)
    connect_ms = total_ms;

  SET(CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_PRIVATE, (void *)t);
  SET(CURLOPT_ERRORBUFFER, t->errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SET(CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(connect_ms));
  SET(CURLOPT_TIMEOUT_MS, clamp_ms(total_ms));
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_USERAGENT, "promptc/" PACKAGE_VERSION);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PC_HTTP_MAX_BODY);
  SET(CURLOPT_HEADERFUNCTION, on_curl_header);
  SET(CURLOPT_HEADERDATA, (void *)t);
  SET(CURLOPT_WRITEFUNCTION, on_curl_body);
  SET(CURLOPT_WRITEDATA, (void *)t);
  SET(CURLOPT_HTTPHEADER, t->headers);
  if (strcmp(req->method, "POST") == 0) {
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
  } else {
    SET(CURLOPT_HTTPGET, 1L);
  }
  if (cc != CURLE_OK)
    return pc_error_set(err, cc == CURLE_OUT_OF_MEMORY ? PC_E_NOMEM
                                                       : PC_E_INTERNAL,
                        "%s: %s", t->what, curl_easy_strerror(cc));
  return PC_OK;
}

#undef SET

static void transfer_free(struct transfer *t)
{
  if (!t)
    return;
  wipe_headers(t->headers);
  curl_slist_free_all(t->headers);
  if (t->easy)
    curl_easy_cleanup(t->easy);
  pc_buf_free(&t->head);
  pc_buf_free(&t->body);
  pthread_cond_destroy(&t->cond);
  pc_free(t);
}

/* A transfer ready to submit, in *out (owned: transfer_free). */
static int transfer_new(const pc_http_request *req, const pc_call *call,
                        const char *what, struct transfer **out,
                        pc_error *err)
{
  struct transfer *t = pc_calloc(1, sizeof(*t));
  pthread_condattr_t attr;
  int rc;

  *out = NULL;
  if (!t)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  rc = pthread_cond_init(&t->cond, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0) {
    pc_free(t);
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  }
  snprintf(t->what, sizeof(t->what), "%s", what);
  t->stream = (req->flags & PC_HTTP_STREAM) != 0;
  t->state = T_NEW;
  pc_buf_init(&t->head, HEAD_MAX);
  pc_buf_init(&t->body, PC_HTTP_MAX_BODY);
  t->easy = curl_easy_init();
  if (!t->easy) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto fail;
  }
  rc = add_headers(t, req, err);
  if (rc)
    goto fail;
  rc = set_options(t, req, call, err);
  if (rc)
    goto fail;
  *out = t;
  return PC_OK;

fail:
  transfer_free(t);
  return rc;
}

/* ---- running a transfer (caller's thread) ------------------------------ */

static int transfer_submit(struct transfer *t, pc_error *err)
{
  int rc = PC_OK;

  pthread_mutex_lock(&g.mu);
  if (!g.running || g.stopping) {
    rc = pc_error_set(err, PC_E_CANCELLED, "%s: the HTTP client is "
                      "shutting down", t->what);
  } else {
    t->state = T_PENDING;
    t->prev = g.pending_tail;
    if (g.pending_tail)
      g.pending_tail->next = t;
    else
      g.pending = t;
    g.pending_tail = t;
    curl_multi_wakeup(g.multi);
  }
  pthread_mutex_unlock(&g.mu);
  return rc;
}

/* Stop `t` and wait until the loop has let go of it. */
static void transfer_abort(struct transfer *t, int code)
{
  pthread_mutex_lock(&g.mu);
  if (t->state == T_PENDING) {
    if (t->prev)
      t->prev->next = t->next;
    else
      g.pending = t->next;
    if (t->next)
      t->next->prev = t->prev;
    else
      g.pending_tail = t->prev;
    t->next = t->prev = NULL;
    t->state = T_DONE;
  } else if (t->state == T_ACTIVE) {
    if (!t->abort_code) {
      t->abort_code = code;
      t->abort_queued = 1;
      t->next_abort = g.aborts;
      g.aborts = t;
      curl_multi_wakeup(g.multi);
    }
    while (t->state != T_DONE)
      pthread_cond_wait(&t->cond, &g.mu);
  }
  pthread_mutex_unlock(&g.mu);
}

/* The outcome of a finished transfer, with a message naming it. */
static int transfer_result(const struct transfer *t, pc_error *err)
{
  const char *text = t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result);
  int code;

  if (t->fail_code)
    return pc_error_set(err, t->fail_code, "%s: %s", t->what, t->fail_msg);
  switch (t->result) {
  case CURLE_OK:
    return PC_OK;
  case CURLE_OPERATION_TIMEDOUT:
    code = PC_E_TIMEOUT;
    break;
  case CURLE_OUT_OF_MEMORY:
    code = PC_E_NOMEM;
    break;
  case CURLE_FILESIZE_EXCEEDED:
    return pc_error_set(err, PC_E_PROVIDER, "%s: the response body is too "
                        "large", t->what);
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    code = PC_E_INVALID_ARG;
    break;
  default:
    code = PC_E_IO;
    break;
  }
  return pc_error_set(err, code, "%s: %s", t->what, text);
}

/* What a sink's non-zero return becomes. */
static int sink_code(int src)
{
  return src > 0 && src < PC_E_LAST ? src : PC_E_CANCELLED;
}

/* Hand the status and the header lines in `head` to the sink. The lines
 * are cut in place so that each name and value is NUL-terminated too. */
static int deliver_head(const pc_http_sink *sink, long status, pc_buf *head)
{
  char *p = head->data;
  char *end = head->data + head->len;
  int src = 0;

  if (sink->on_status)
    src = sink->on_status(sink->ctx, (int32_t)status);
  while (!src && p && p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *next, *colon;

    if (!nl)
      nl = end;
    next = nl + 1;
    colon = memchr(p, ':', (size_t)(nl - p));
    if (colon && colon > p && sink->on_header) {
      char *name_end = colon;
      char *value = colon + 1;
      char *value_end = nl;

      while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
        name_end--;
      while (value < value_end && (*value == ' ' || *value == '\t'))
        value++;
      while (value_end > value &&
             (value_end[-1] == ' ' || value_end[-1] == '\t'))
        value_end--;
      *name_end = '\0';
      *value_end = '\0';
      src = sink->on_header(sink->ctx, p, (size_t)(name_end - p), value,
                            (size_t)(value_end - value));
    }
    p = next;
  }
  return src;
}

/*
 * Wait for `t` and feed the sink until it ends. Returns PC_OK, the
 * transfer's error, a sink's code or the call's stop reason.
 */
static int transfer_run(struct transfer *t, const pc_http_sink *sink,
                        pc_call *call, pc_error *err)
{
  pc_buf head, body;  /* the caller's halves of the double buffers */
  int sent = 0, done = 0, rc = PC_OK;

  pc_buf_init(&head, HEAD_MAX);
  pc_buf_init(&body, PC_HTTP_MAX_BODY);
  while (!done) {
    int take_head = 0, stop = 0, src = 0;
    long status = 0;

    pthread_mutex_lock(&g.mu);
    for (;;) {
      struct timespec until;

      done = t->state == T_DONE;
      if (done || (!sent && t->headers_ready) ||
          (t->stream && sent && t->body.len > 0))
        break;
      stop = stop_reason(call);
      if (stop)
        break;
      until = deadline_in(WAIT_SLICE_MS);
      pthread_cond_timedwait(&t->cond, &g.mu, &until);
    }
    if (!stop && !sent && t->headers_ready) {
      take_head = sent = 1;
      status = t->status;
      buf_swap(&head, &t->head);
    }
    if (!stop && (t->stream || done))
      buf_swap(&body, &t->body);
    pthread_mutex_unlock(&g.mu);

    if (stop) {
      rc = pc_error_set(err, stop, "%s: %s", t->what,
                        stop == PC_E_TIMEOUT ? "the call's deadline passed"
                                             : "cancelled");
      transfer_abort(t, stop);
      break;
    }
    if (done) {
      rc = transfer_result(t, err);
      if (rc)
        break;
    }
    if (take_head)
      src = deliver_head(sink, status, &head);
    if (!src && sink->on_data && (body.len > 0 || (done && !t->stream)))
      src = sink->on_data(sink->ctx, body.data ? body.data : "", body.len);
    pc_buf_reset(&body);
    if (src) {
      rc = sink_code(src);
      pc_error_set(err, rc, "%s: the response handler stopped the "
                   "transfer", t->what);
      if (!done)
        transfer_abort(t, rc);
      break;
    }
  }
  pc_buf_free(&head);
  pc_buf_free(&body);
  return rc;
}

/* ---- the entry point --------------------------------------------------- */

static int check_request(const pc_http_request *req, const pc_http_sink *sink,
                         char *what, size_t cap, pc_error *err)
{
  snprintf(what, cap, "http request");
  if (!req || !PC_HAS_FIELD(req, pc_http_request, secret_header))
    return pc_error_set(err, PC_E_INVALID_ARG, "http request: the request "
                        "struct is missing or too small");
  if (!req->url || !*req->url)
    return pc_error_set(err, PC_E_INVALID_ARG, "http request: no URL");
  if (!req->method)
    return pc_error_set(err, PC_E_INVALID_ARG, "http request: no method");
  describe(req->method, req->url, what, cap);
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: unsupported method "
                        "(GET or POST)", what);
  if (has_line_break(req->url))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: the URL holds a line "
                        "break", what);
  if (req->n_headers > 0 &&
      (!req->headers || req->header_size < sizeof(pc_http_header)))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: header_size %u is "
                        "smaller than a pc_http_header (%zu)", what,
                        (unsigned)req->header_size, sizeof(pc_http_header));
  if (req->body_len > 0 && !req->body)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: body_len without a "
                        "body", what);
  if (!sink || !PC_HAS_FIELD(sink, pc_http_sink, on_data))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: the sink is missing or "
                        "too small", what);
  return PC_OK;
}

int pc_http_perform(const pc_http_request *req, const pc_http_sink *sink,
                    pc_call *call, pc_error *err)
{
  struct transfer *t = NULL;
  char what[200];
  int rc;

  rc = check_request(req, sink, what, sizeof(what), err);
  if (rc)
    return rc;
  rc = stop_reason(call);
  if (rc)
    return pc_error_set(err, rc, "%s: %s", what, rc == PC_E_TIMEOUT
                        ? "the call's deadline passed" : "cancelled");
  rc = loop_start(what, err);
  if (rc)
    return rc;
  rc = transfer_new(req, call, what, &t, err);
  if (rc)
    return rc;
  atomic_fetch_add(&stats.requests, 1);
  rc = transfer_submit(t, err);
  if (rc == PC_OK)
    rc = transfer_run(t, sink, call, err);
  atomic_fetch_add(rc == PC_OK ? &stats.completed : &stats.failed, 1);
  transfer_free(t);
  return rc;
}

static int api_request(void *ctx, const pc_http_request *req,
                       const pc_http_sink *sink, pc_call *call, pc_error *err)
{
  (void)ctx;
  return pc_http_perform(req, sink, call, err);
}

static const pc_http_api table = {
  .hdr = PC_ABI_HEADER_INIT(pc_http_api),
  .request = api_request,
};

const pc_http_api *pc_http_api_table(void)
{
  return &table;
}
