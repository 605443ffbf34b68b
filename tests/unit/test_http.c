/* tests/unit/test_http.c: core/http.c against an in-test libmicrohttpd
 * server on 127.0.0.1; suite "http". */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "host.h"
#include "http.h"

#define HOLD_N 256            /* requests that must be in flight at once */
#define HOLD_WAIT_S 10        /* the hold route lets go after this anyway */
#define STREAM_PIECES 5
#define PIECE_LEN 8           /* "piece-N\n" */
#define PLANTED "sk-test-planted-4242"

/* ---- the test server ---------------------------------------------------- */
/*
 * `server` runs one thread per connection and serves every route but
 * /hold, which `hold_server` serves from one polling thread by suspending
 * each request until HOLD_N are inside (so that 256 client threads and
 * the server together stay under valgrind's default thread limit).
 */

static struct MHD_Daemon *server;
static struct MHD_Daemon *hold_server;
static unsigned server_port;
static unsigned hold_port;
static atomic_int connections_started;  /* accepted by `server` */

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static char seen_url[256];   /* target of the last request to a fallback */
static char seen_host[256];  /* and its Host header */

static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int hold_inside;      /* requests now held */
static int hold_max;         /* most held at once */
static int hold_released;    /* every held request may answer */
static int hold_n_suspended;
static struct MHD_Connection *hold_suspended[2 * HOLD_N];

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) != 0)
    ;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *body, size_t len,
                             const char *name, const char *value)
{
  struct MHD_Response *r;
  enum MHD_Result ok;

  r = MHD_create_response_from_buffer(len, (void *)body,
                                      MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  if (name)
    MHD_add_response_header(r, name, value);
  ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result reply_with(struct MHD_Connection *c, unsigned status,
                                  struct MHD_Response *r)
{
  enum MHD_Result ok;

  if (!r)
    return MHD_NO;
  ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static long arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
  const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

  return v ? strtol(v, NULL, 10) : dflt;
}

/* Chunked: STREAM_PIECES pieces "piece-N\n" with a pause before each but
 * the first. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  uint64_t i = pos / PIECE_LEN;
  char piece[PIECE_LEN + 1];

  (void)cls;
  if (i >= STREAM_PIECES)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (max < PIECE_LEN)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if (i > 0)
    sleep_ms(100);
  snprintf(piece, sizeof(piece), "piece-%u\n", (unsigned)i);
  memcpy(buf, piece, PIECE_LEN);
  return PIECE_LEN;
}

/* Announces 100 bytes, sends 40 and closes the connection. */
static ssize_t truncated_reader(void *cls, uint64_t pos, char *buf,
                                size_t max)
{
  (void)cls;
  if (pos == 0 && max >= 40) {
    memset(buf, 't', 40);
    return 40;
  }
  sleep_ms(100);  /* let the first part reach the client */
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* One byte more than the client accepts, sized or chunked. */
static ssize_t big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  uint64_t total = (uint64_t)PC_HTTP_MAX_BODY + 1;
  size_t n = max;

  (void)cls;
  if (pos >= total)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n > total - pos)
    n = (size_t)(total - pos);
  memset(buf, 'b', n);
  return (ssize_t)n;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
                             const char *method, const pc_buf *in)
{
  char text[64];

  if (strcmp(url, "/echo") == 0) {
    struct MHD_Response *r;

    snprintf(text, sizeof(text), "%zu", in->len);
    r = MHD_create_response_from_buffer(in->len, in->data ? in->data : "",
                                        MHD_RESPMEM_MUST_COPY);
    if (r) {
      MHD_add_response_header(r, "X-Echo-Method", method);
      MHD_add_response_header(r, "X-Echo-Len", text);
    }
    return reply_with(c, 200, r);
  }
  if (strcmp(url, "/header") == 0) {
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                   "name");
    const char *v = name ? MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       name) : NULL;

    if (!v)
      return reply(c, 404, "(none)", 6, NULL, NULL);
    return reply(c, 200, v, strlen(v), NULL, NULL);
  }
  if (strncmp(url, "/status/", 8) == 0) {
    long status = strtol(url + 8, NULL, 10);
    int n = snprintf(text, sizeof(text), "status %ld", status);

    return reply(c, (unsigned)status, text, (size_t)n, "Retry-After", "7");
  }
  if (strcmp(url, "/slow") == 0) {
    sleep_ms(arg_long(c, "ms", 1000));
    return reply(c, 200, "slow", 4, NULL, NULL);
  }
  if (strcmp(url, "/stream") == 0)
    return reply_with(c, 200, MHD_create_response_from_callback(
                        MHD_SIZE_UNKNOWN, 1024, stream_reader, NULL, NULL));
  if (strcmp(url, "/truncated") == 0)
    return reply_with(c, 200, MHD_create_response_from_callback(
                        100, 1024, truncated_reader, NULL, NULL));
  if (strcmp(url, "/big") == 0)
    return reply_with(c, 200, MHD_create_response_from_callback(
                        arg_long(c, "chunked", 0) ? MHD_SIZE_UNKNOWN
                          : (uint64_t)PC_HTTP_MAX_BODY + 1,
                        64 * 1024, big_reader, NULL, NULL));

  /* Anything else (a proxied absolute URL among them): note and answer. */
  pthread_mutex_lock(&seen_mu);
  snprintf(seen_url, sizeof(seen_url), "%s", url);
  snprintf(seen_host, sizeof(seen_host), "%s",
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")
             ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")
             : "");
  pthread_mutex_unlock(&seen_mu);
  return reply(c, 200, "seen", 4, NULL, NULL);
}

/* Collects the request body in a pc_buf kept in *state, then routes. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
  pc_buf *in = *state;

  (void)cls;
  (void)version;
  if (!in) {
    in = pc_calloc(1, sizeof(*in));
    if (!in)
      return MHD_NO;
    pc_buf_init(in, 0);
    *state = in;
    return MHD_YES;
  }
  if (*upload_size) {
    if (pc_buf_append(in, upload, *upload_size))
      return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  return route(c, url, method, in);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
  pc_buf *in = *state;

  (void)cls;
  (void)c;
  (void)why;
  if (in) {
    pc_buf_free(in);
    pc_free(in);
    *state = NULL;
  }
}

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_state,
                          enum MHD_ConnectionNotificationCode what)
{
  (void)cls;
  (void)c;
  (void)socket_state;
  if (what == MHD_CONNECTION_NOTIFY_STARTED)
    atomic_fetch_add(&connections_started, 1);
}

/* Let every held request answer. Caller holds hold_mu. */
static void hold_release_locked(void)
{
  hold_released = 1;
  for (int i = 0; i < hold_n_suspended; i++)
    MHD_resume_connection(hold_suspended[i]);
  hold_n_suspended = 0;
  pthread_cond_broadcast(&hold_cond);
}

/* /hold: count the request in and suspend it until HOLD_N are inside. */
static enum MHD_Result on_hold(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **state)
{
  static int arrived, counted;
  int suspend = 0;

  (void)cls;
  (void)url;
  (void)method;
  (void)version;
  (void)upload;
  if (!*state) {
    *state = &arrived;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&hold_mu);
  if (*state == &arrived) {
    *state = &counted;
    hold_inside++;
    if (hold_inside > hold_max)
      hold_max = hold_inside;
    if (hold_inside >= HOLD_N)
      hold_release_locked();
    if (!hold_released && hold_n_suspended < 2 * HOLD_N) {
      hold_suspended[hold_n_suspended++] = c;
      MHD_suspend_connection(c);
      suspend = 1;
    }
  }
  if (!suspend)
    hold_inside--;
  pthread_mutex_unlock(&hold_mu);
  if (suspend)
    return MHD_YES;
  return reply(c, 200, "held", 4, NULL, NULL);
}

static struct MHD_Daemon *start_daemon(unsigned flags,
                                       MHD_AccessHandlerCallback handler,
                                       MHD_RequestCompletedCallback done,
                                       unsigned *port)
{
  struct sockaddr_in addr;
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                       MHD_OPTION_CONNECTION_LIMIT, (unsigned)(3 * HOLD_N),
                       MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                       MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                       MHD_OPTION_END);
  if (!d)
    return NULL;
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  *port = info ? info->port : 0;
  if (!*port) {
    MHD_stop_daemon(d);
    return NULL;
  }
  return d;
}

static int servers_start(void)
{
  /* Only the proxy test uses a proxy; nothing from the caller's shell. */
  unsetenv("http_proxy");
  unsetenv("https_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  server = start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                        MHD_USE_THREAD_PER_CONNECTION, on_request,
                        on_completed, &server_port);
  hold_server = start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
                             MHD_ALLOW_SUSPEND_RESUME, on_hold, NULL,
                             &hold_port);
  if (!server || !hold_server) {
    fprintf(stderr, "test_http: cannot start the test server\n");
    return 1;
  }
  return 0;
}

static int servers_stop(void)
{
  pc_http_shutdown();
  if (hold_server)
    MHD_stop_daemon(hold_server);
  if (server)
    MHD_stop_daemon(server);
  hold_server = server = NULL;
  return 0;
}

/* ---- the client side ---------------------------------------------------- */

/* What a sink saw. */
struct rec {
  int32_t status;
  int n_status, n_headers, n_data;
  int bad_nul;        /* a name or value not NUL-terminated at its length */
  pc_buf body;
  pc_buf headers;     /* "name: value\n" lines */
  char order[64];     /* 'S', 'H', 'D' per callback, in order */
  size_t n_order;
  int stop_on;        /* return stop_rc from this callback ('S', 'H', 'D') */
  int stop_rc;
};

static void rec_init(struct rec *r)
{
  memset(r, 0, sizeof(*r));
  pc_buf_init(&r->body, 0);
  pc_buf_init(&r->headers, 0);
}

static void rec_free(struct rec *r)
{
  pc_buf_free(&r->body);
  pc_buf_free(&r->headers);
}

static void rec_note(struct rec *r, char what)
{
  if (r->n_order + 1 < sizeof(r->order))
    r->order[r->n_order++] = what;
}

static int rec_status(void *ctx, int32_t status)
{
  struct rec *r = ctx;

  r->status = status;
  r->n_status++;
  rec_note(r, 'S');
  return r->stop_on == 'S' ? r->stop_rc : 0;
}

static int rec_header(void *ctx, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
  struct rec *r = ctx;

  if (name[name_len] != '\0' || value[value_len] != '\0')
    r->bad_nul++;
  r->n_headers++;
  rec_note(r, 'H');
  pc_buf_append(&r->headers, name, name_len);
  pc_buf_puts(&r->headers, ": ");
  pc_buf_append(&r->headers, value, value_len);
  pc_buf_putc(&r->headers, '\n');
  return r->stop_on == 'H' ? r->stop_rc : 0;
}

static int rec_data(void *ctx, const char *data, size_t len)
{
  struct rec *r = ctx;

  r->n_data++;
  rec_note(r, 'D');
  pc_buf_append(&r->body, data, len);
  return r->stop_on == 'D' ? r->stop_rc : 0;
}

/* The value of response header `name` as the sink saw it (a static
 * buffer), or NULL. */
static const char *rec_get(const struct rec *r, const char *name)
{
  static char value[256];
  size_t nlen = strlen(name);
  const char *p = r->headers.data;

  while (p && *p) {
    const char *eol = strchr(p, '\n');

    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      snprintf(value, sizeof(value), "%.*s", (int)(eol - p - nlen - 2),
               p + nlen + 2);
      return value;
    }
    p = eol + 1;
  }
  return NULL;
}

/* One request as a test describes it. */
struct req {
  const char *method;
  const char *url;        /* absolute, or a path on `server` */
  const pc_http_header *headers;
  size_t n_headers;
  uint32_t header_size;   /* 0: sizeof(pc_http_header) */
  const char *body;
  size_t body_len;
  uint32_t flags;
  int64_t total_ms;
  const char *secret_header;
  pc_call *call;
};

static int perform(const struct req *q, struct rec *r, pc_error *err)
{
  char url[512];
  pc_http_request req = {.hdr = PC_ABI_HEADER_INIT(pc_http_request)};
  pc_http_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_http_sink),
    .ctx = r,
    .on_status = rec_status,
    .on_header = rec_header,
    .on_data = rec_data,
  };

  if (q->url && q->url[0] == '/')
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", server_port,
             q->url);
  else
    snprintf(url, sizeof(url), "%s", q->url ? q->url : "");
  req.method = q->method ? q->method : "GET";
  req.url = q->url ? url : NULL;
  req.headers = q->headers;
  req.n_headers = q->n_headers;
  req.header_size = q->header_size ? q->header_size
                                   : (uint32_t)sizeof(pc_http_header);
  req.flags = q->flags;
  req.body = q->body;
  req.body_len = q->body_len;
  req.total_timeout_ms = q->total_ms;
  req.secret_header = q->secret_header;
  return pc_http_api_table()->request(NULL, &req, &sink, q->call, err);
}

static int starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static uint64_t now_ns(void)
{
  const pc_host_api *host = pc_host_api_get();

  return host->now_ns(host->ctx);
}

/* ---- exchanges ---------------------------------------------------------- */

static void test_post_delivers_status_headers_and_exact_body(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "X-Test", "hello"},
  };
  size_t n = 100000;
  char *body = pc_malloc(n);
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  CU_ASSERT_FATAL(body != NULL);
  for (size_t i = 0; i < n; i++)
    body[i] = (char)(i * 7 % 256);  /* NUL bytes included */
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.method = "POST", .url = "/echo",
                                        .headers = h, .n_headers = 1,
                                        .body = body, .body_len = n},
                          &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_EQUAL(r.n_status, 1);
  CU_ASSERT_EQUAL(r.n_data, 1);
  CU_ASSERT_EQUAL(r.body.len, n);
  CU_ASSERT(r.body.len == n && memcmp(r.body.data, body, n) == 0);
  PC_ASSERT_STR_EQ(rec_get(&r, "X-Echo-Method"), "POST");
  PC_ASSERT_STR_EQ(rec_get(&r, "X-Echo-Len"), "100000");
  CU_ASSERT_EQUAL(r.bad_nul, 0);
  CU_ASSERT_EQUAL(r.order[0], 'S');
  CU_ASSERT_EQUAL(r.order[r.n_order - 1], 'D');
  CU_ASSERT_PTR_NULL(strchr(r.order + 1, 'S'));
  rec_free(&r);
  pc_free(body);
}

static void test_get_delivers_empty_body_once(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo"}, &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  PC_ASSERT_STR_EQ(rec_get(&r, "X-Echo-Method"), "GET");
  CU_ASSERT_EQUAL(r.n_data, 1);
  CU_ASSERT_EQUAL(r.body.len, 0);
  rec_free(&r);
}

static void test_request_header_reaches_server(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "X-Custom", "a value, with spaces"},
    {PC_ABI_HEADER_INIT(pc_http_header), "X-Empty", ""},
  };
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=X-Custom",
                                        .headers = h, .n_headers = 2},
                          &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  PC_ASSERT_STR_EQ(r.body.data, "a value, with spaces");
  rec_free(&r);

  /* An empty value is sent as an empty header, not dropped. */
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=X-Empty",
                                        .headers = h, .n_headers = 2},
                          &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_EQUAL(r.body.len, 0);
  rec_free(&r);
}

static void test_error_status_is_ok_with_status_and_headers(void)
{
  static const long statuses[] = {500, 429, 404};

  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    char path[32], want[32];
    struct rec r;

    snprintf(path, sizeof(path), "/status/%ld", statuses[i]);
    snprintf(want, sizeof(want), "status %ld", statuses[i]);
    rec_init(&r);
    CU_ASSERT_EQUAL(perform(&(struct req){.url = path}, &r, &err), PC_OK);
    CU_ASSERT_EQUAL(r.status, statuses[i]);
    PC_ASSERT_STR_EQ(rec_get(&r, "Retry-After"), "7");
    PC_ASSERT_STR_EQ(r.body.data, want);
    rec_free(&r);
  }
}

static void test_stream_delivers_pieces_before_the_end(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/stream",
                                        .flags = PC_HTTP_STREAM},
                          &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT(r.n_data > 1);
  PC_ASSERT_STR_EQ(r.body.data,
                   "piece-0\npiece-1\npiece-2\npiece-3\npiece-4\n");
  CU_ASSERT_EQUAL(r.order[0], 'S');
  CU_ASSERT_PTR_NULL(strchr(r.order + 1, 'S'));
  /* Every header comes before the first piece of the body. */
  CU_ASSERT_PTR_NULL(strchr(strchr(r.order, 'D'), 'H'));
  rec_free(&r);
}

static void test_without_stream_flag_body_comes_once(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/stream"}, &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.n_data, 1);
  PC_ASSERT_STR_EQ(r.body.data,
                   "piece-0\npiece-1\npiece-2\npiece-3\npiece-4\n");
  rec_free(&r);
}

/* ---- sinks that stop ---------------------------------------------------- */

static void test_sink_nonzero_aborts_with_its_code(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  r.stop_on = 'S';
  r.stop_rc = PC_E_AUTH;
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo"}, &r, &err),
                  PC_E_AUTH);
  CU_ASSERT_EQUAL(r.n_data, 0);
  CU_ASSERT_EQUAL(r.n_headers, 0);
  rec_free(&r);

  pc_error_clear(&err);
  rec_init(&r);
  r.stop_on = 'H';
  r.stop_rc = PC_E_PARSE;
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo"}, &r, &err),
                  PC_E_PARSE);
  CU_ASSERT_EQUAL(r.n_headers, 1);
  CU_ASSERT_EQUAL(r.n_data, 0);
  rec_free(&r);
}

static void test_stream_sink_stop_mid_body_cancels(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  /* A code outside the PC_E_* range becomes PC_E_CANCELLED. */
  rec_init(&r);
  r.stop_on = 'D';
  r.stop_rc = 777;
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/stream",
                                        .flags = PC_HTTP_STREAM},
                          &r, &err), PC_E_CANCELLED);
  CU_ASSERT_EQUAL(r.n_data, 1);
  CU_ASSERT(r.body.len < STREAM_PIECES * PIECE_LEN);
  rec_free(&r);
}

/* ---- secrets ------------------------------------------------------------ */

static void test_secret_header_is_resolved_from_env(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "Authorization",
     "Bearer env:PC_TEST_HTTP_KEY"},
  };
  pc_http_header bare[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "x-api-key",
     "env:PC_TEST_HTTP_KEY"},
  };
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  setenv("PC_TEST_HTTP_KEY", PLANTED, 1);
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=Authorization",
                                        .headers = h, .n_headers = 1,
                                        .secret_header = "authorization"},
                          &r, &err), PC_OK);
  PC_ASSERT_STR_EQ(r.body.data, "Bearer " PLANTED);
  rec_free(&r);

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=x-api-key",
                                        .headers = bare, .n_headers = 1,
                                        .secret_header = "x-api-key"},
                          &r, &err), PC_OK);
  PC_ASSERT_STR_EQ(r.body.data, PLANTED);
  rec_free(&r);
  unsetenv("PC_TEST_HTTP_KEY");
}

static void test_unset_secret_is_invalid_and_names_no_value(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "Authorization",
     "Bearer env:PC_TEST_HTTP_UNSET"},
  };
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  setenv("PC_TEST_HTTP_KEY", PLANTED, 1);
  unsetenv("PC_TEST_HTTP_UNSET");
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=Authorization",
                                        .headers = h, .n_headers = 1,
                                        .secret_header = "Authorization"},
                          &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(err.code, PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Authorization"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "PC_TEST_HTTP_UNSET"));
  CU_ASSERT_PTR_NULL(strstr(err.message, PLANTED));
  CU_ASSERT_EQUAL(r.n_status, 0);
  rec_free(&r);

  /* A secret header that is not among the headers is refused too. */
  pc_error_clear(&err);
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo", .headers = h,
                                        .n_headers = 1,
                                        .secret_header = "x-api-key"},
                          &r, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "x-api-key"));
  rec_free(&r);
  unsetenv("PC_TEST_HTTP_KEY");
}

static void test_secret_header_is_resolved_from_file(void)
{
  const pc_host_api *host = pc_host_api_get();
  const pc_secrets_api *secrets;
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "Authorization", NULL},
  };
  pc_error err = PC_ERROR_INIT;
  char value[512], probe[64];
  size_t len = 0;
  struct rec r;

  snprintf(value, sizeof(value), "Bearer file:%s",
           pc_test_tmpfile("sk-file-planted-77\n", 19, ".key"));
  secrets = host->get_host_interface(host->ctx, "pc.secrets/1", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(secrets);
  CU_ASSERT_EQUAL_FATAL(secrets->lookup(host->ctx, value + 7, probe,
                                       sizeof(probe), &len, &err), PC_OK);
  CU_ASSERT_EQUAL(len, 18);  /* the trailing newline is not part of it */
  explicit_bzero(probe, sizeof(probe));
  pc_error_clear(&err);
  h[0].value = value;
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/header?name=Authorization",
                                        .headers = h, .n_headers = 1,
                                        .secret_header = "Authorization"},
                          &r, &err), PC_OK);
  PC_ASSERT_STR_EQ(r.body.data, "Bearer sk-file-planted-77");
  rec_free(&r);
}

/* ---- failures ----------------------------------------------------------- */

static void test_total_timeout_is_timeout(void)
{
  pc_error err = PC_ERROR_INIT;
  char prefix[64];
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/slow?ms=3000",
                                        .total_ms = 300}, &r, &err),
                  PC_E_TIMEOUT);
  snprintf(prefix, sizeof(prefix), "GET http://127.0.0.1:%u/slow: ",
           server_port);
  CU_ASSERT(starts_with(err.message, prefix));
  CU_ASSERT_PTR_NULL(strstr(err.message, "ms=3000"));  /* no query */
  rec_free(&r);
}

/* A loopback port that was free a moment ago, with no listener. */
static unsigned closed_port(void)
{
  struct sockaddr_in addr;
  socklen_t alen = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  unsigned port = 0;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static void test_refused_connection_is_io(void)
{
  pc_error err = PC_ERROR_INIT;
  char url[128];
  struct rec r;

  /* A port that was just free and has no listener; the URL's password
   * must not reach the message. */
  snprintf(url, sizeof(url), "http://user:pw-planted@127.0.0.1:%u/x",
           closed_port());
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = url}, &r, &err), PC_E_IO);
  CU_ASSERT(starts_with(err.message, "GET http://127.0.0.1:"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "pw-planted"));
  CU_ASSERT_EQUAL(r.n_status, 0);
  rec_free(&r);
}

static void test_truncated_body_is_io(void)
{
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/truncated"}, &r, &err),
                  PC_E_IO);
  CU_ASSERT_EQUAL(r.n_data, 0);
  rec_free(&r);

  pc_error_clear(&err);
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/truncated",
                                        .flags = PC_HTTP_STREAM},
                          &r, &err), PC_E_IO);
  rec_free(&r);
}

static void test_body_over_the_cap_is_provider_error(void)
{
  static const char *paths[] = {"/big", "/big?chunked=1"};

  for (size_t i = 0; i < 2; i++) {
    pc_error err = PC_ERROR_INIT;
    struct rec r;

    rec_init(&r);
    CU_ASSERT_EQUAL(perform(&(struct req){.url = paths[i]}, &r, &err),
                    PC_E_PROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "too large"));
    CU_ASSERT_EQUAL(r.n_data, 0);
    rec_free(&r);
  }
}

static void *cancel_soon(void *arg)
{
  pc_call *call = arg;

  sleep_ms(200);
  call->cancelled = 1;
  return NULL;
}

static void test_cancelled_call_is_cancelled(void)
{
  pc_call call = {0, 0};
  pc_error err = PC_ERROR_INIT;
  pthread_t th;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_FATAL(pthread_create(&th, NULL, cancel_soon, &call) == 0);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/slow?ms=3000",
                                        .call = &call}, &r, &err),
                  PC_E_CANCELLED);
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(r.n_status, 0);
  rec_free(&r);
}

static void test_call_deadline_is_timeout(void)
{
  pc_call call = {0, 0};
  pc_error err = PC_ERROR_INIT;
  struct rec r;

  rec_init(&r);
  call.deadline_ns = now_ns() + 300 * 1000000ull;
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/slow?ms=3000",
                                        .call = &call}, &r, &err),
                  PC_E_TIMEOUT);
  rec_free(&r);

  /* A deadline already past never starts the exchange. */
  pc_error_clear(&err);
  rec_init(&r);
  call.deadline_ns = now_ns() - 1;
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo", .call = &call},
                          &r, &err), PC_E_TIMEOUT);
  CU_ASSERT_EQUAL(r.n_status, 0);
  rec_free(&r);
}

static void test_malformed_requests_are_invalid(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "X-Bad", "one\r\nX-Injected: 1"},
  };
  pc_http_header named[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "Bad Name", "v"},
  };
  const struct req cases[] = {
    {.method = "PUT", .url = "/echo"},
    {.url = NULL},
    {.url = "/echo", .headers = h, .n_headers = 1, .header_size = 4},
    {.url = "/echo", .headers = h, .n_headers = 1},
    {.url = "/echo", .headers = named, .n_headers = 1},
    {.url = "file:///etc/hostname"},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    struct rec r;

    rec_init(&r);
    CU_ASSERT_EQUAL(perform(&cases[i], &r, &err), PC_E_INVALID_ARG);
    CU_ASSERT_EQUAL(r.n_status, 0);
    CU_ASSERT_EQUAL(r.n_data, 0);
    rec_free(&r);
  }
}

static void test_out_of_memory_is_nomem(void)
{
  pc_http_header h[] = {
    {PC_ABI_HEADER_INIT(pc_http_header), "Authorization",
     "Bearer env:PC_TEST_HTTP_KEY"},
  };
  char url[64];
  int nomem = 0, other = 0, reached = 0;

  /* The request goes to a closed port, so only the client allocates:
   * each failed allocation is PC_E_NOMEM, and once all succeed the
   * exchange fails as a refused connection. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", closed_port());
  setenv("PC_TEST_HTTP_KEY", PLANTED, 1);
  for (unsigned long k = 1; k <= 8; k++) {
    pc_error err = PC_ERROR_INIT;
    struct rec r;
    int rc;

    rec_init(&r);
    pc__alloc_fail_at(k);
    rc = perform(&(struct req){.url = url, .headers = h, .n_headers = 1,
                               .secret_header = "Authorization"}, &r, &err);
    pc__alloc_fail_at(0);
    if (rc == PC_E_NOMEM)
      nomem++;
    else if (rc == PC_E_IO)
      reached++;
    else
      other++;
    CU_ASSERT_PTR_NULL(strstr(err.message, PLANTED));
    rec_free(&r);
  }
  unsetenv("PC_TEST_HTTP_KEY");
  CU_ASSERT(nomem > 0);
  CU_ASSERT(reached > 0);
  CU_ASSERT_EQUAL(other, 0);
}

/* ---- many at once, reuse, proxy, restart -------------------------------- */

struct hold_job {
  pthread_t th;
  int rc;
  int32_t status;
  int body_ok;
};

static void *hold_client(void *arg)
{
  struct hold_job *job = arg;
  pc_error err = PC_ERROR_INIT;
  char url[64];
  struct rec r;

  snprintf(url, sizeof(url), "http://127.0.0.1:%u/hold", hold_port);
  rec_init(&r);
  job->rc = perform(&(struct req){.url = url}, &r, &err);
  job->status = r.status;
  job->body_ok = r.body.data && strcmp(r.body.data, "held") == 0;
  rec_free(&r);
  return NULL;
}

static void test_256_requests_in_flight_at_once(void)
{
  struct hold_job *jobs = pc_calloc(HOLD_N, sizeof(*jobs));
  pthread_attr_t attr;
  struct timespec until;
  pc_http_stats st;
  int started = 0, ok = 0;

  CU_ASSERT_FATAL(jobs != NULL);
  pthread_mutex_lock(&hold_mu);
  hold_inside = hold_max = hold_released = hold_n_suspended = 0;
  pthread_mutex_unlock(&hold_mu);

  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < HOLD_N; i++)
    if (pthread_create(&jobs[i].th, &attr, hold_client, &jobs[i]) == 0)
      started++;
  pthread_attr_destroy(&attr);
  CU_ASSERT_EQUAL(started, HOLD_N);

  /* The route lets go once all are in; after HOLD_WAIT_S regardless. */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += HOLD_WAIT_S;
  pthread_mutex_lock(&hold_mu);
  while (!hold_released &&
         pthread_cond_timedwait(&hold_cond, &hold_mu, &until) == 0)
    ;
  if (!hold_released)
    hold_release_locked();
  pthread_mutex_unlock(&hold_mu);

  for (int i = 0; i < started; i++) {
    pthread_join(jobs[i].th, NULL);
    if (jobs[i].rc == PC_OK && jobs[i].status == 200 && jobs[i].body_ok)
      ok++;
  }
  CU_ASSERT_EQUAL(hold_max, HOLD_N);
  CU_ASSERT_EQUAL(ok, HOLD_N);
  pc_http_stats_get(&st);
  CU_ASSERT(st.max_in_flight >= HOLD_N);
  pc_free(jobs);
}

static void test_sequential_requests_reuse_one_connection(void)
{
  pc_http_stats st;
  int before, ok = 0;

  pc_http_shutdown();  /* an empty pool and fresh counters */
  before = atomic_load(&connections_started);
  for (int i = 0; i < 20; i++) {
    pc_error err = PC_ERROR_INIT;
    struct rec r;

    rec_init(&r);
    if (perform(&(struct req){.url = "/status/200"}, &r, &err) == PC_OK &&
        r.status == 200)
      ok++;
    rec_free(&r);
  }
  CU_ASSERT_EQUAL(ok, 20);
  pc_http_stats_get(&st);
  CU_ASSERT_EQUAL(st.requests, 20);
  CU_ASSERT_EQUAL(st.completed, 20);
  CU_ASSERT_EQUAL(st.connections, 1);
  CU_ASSERT_EQUAL(atomic_load(&connections_started) - before, 1);
}

static void test_proxy_comes_from_environment(void)
{
  pc_error err = PC_ERROR_INIT;
  char proxy[64];
  struct rec r;

  snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", server_port);
  pthread_mutex_lock(&seen_mu);
  seen_url[0] = seen_host[0] = '\0';
  pthread_mutex_unlock(&seen_mu);
  setenv("http_proxy", proxy, 1);
  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){
                            .url = "http://promptc-proxy-test.invalid/x"},
                          &r, &err), PC_OK);
  unsetenv("http_proxy");
  CU_ASSERT_EQUAL(r.status, 200);
  PC_ASSERT_STR_EQ(r.body.data, "seen");
  pthread_mutex_lock(&seen_mu);
  PC_ASSERT_STR_EQ(seen_url, "http://promptc-proxy-test.invalid/x");
  PC_ASSERT_STR_EQ(seen_host, "promptc-proxy-test.invalid");
  pthread_mutex_unlock(&seen_mu);
  rec_free(&r);
}

static void test_request_after_shutdown_restarts_loop(void)
{
  pc_error err = PC_ERROR_INIT;
  pc_http_stats st;
  struct rec r;

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo"}, &r, &err), PC_OK);
  rec_free(&r);
  pc_http_shutdown();
  pc_http_shutdown();  /* a second one has nothing to stop */
  pc_http_stats_get(&st);
  CU_ASSERT_EQUAL(st.requests, 0);

  rec_init(&r);
  CU_ASSERT_EQUAL(perform(&(struct req){.url = "/echo", .method = "POST",
                                        .body = "again", .body_len = 5},
                          &r, &err), PC_OK);
  CU_ASSERT_EQUAL(r.status, 200);
  PC_ASSERT_STR_EQ(r.body.data, "again");
  pc_http_stats_get(&st);
  CU_ASSERT_EQUAL(st.requests, 1);
  CU_ASSERT_EQUAL(st.completed, 1);
  rec_free(&r);
}

static CU_TestInfo http_tests[] = {
  {"POST delivers status, headers and the exact body",
   test_post_delivers_status_headers_and_exact_body},
  {"GET delivers an empty body once", test_get_delivers_empty_body_once},
  {"a request header reaches the server",
   test_request_header_reaches_server},
  {"an error status is PC_OK with its status and headers",
   test_error_status_is_ok_with_status_and_headers},
  {"streaming delivers pieces before the end",
   test_stream_delivers_pieces_before_the_end},
  {"without PC_HTTP_STREAM the body comes once",
   test_without_stream_flag_body_comes_once},
  {"a sink returning non-zero aborts with its code",
   test_sink_nonzero_aborts_with_its_code},
  {"a streaming sink stopping mid-body cancels",
   test_stream_sink_stop_mid_body_cancels},
  {"the secret header is resolved from the environment",
   test_secret_header_is_resolved_from_env},
  {"an unset secret is invalid and its message holds no secret",
   test_unset_secret_is_invalid_and_names_no_value},
  {"the secret header is resolved from a file",
   test_secret_header_is_resolved_from_file},
  {"the total timeout is PC_E_TIMEOUT", test_total_timeout_is_timeout},
  {"a refused connection is PC_E_IO", test_refused_connection_is_io},
  {"a truncated body is PC_E_IO", test_truncated_body_is_io},
  {"a body over the cap is PC_E_PROVIDER",
   test_body_over_the_cap_is_provider_error},
  {"a cancelled call is PC_E_CANCELLED", test_cancelled_call_is_cancelled},
  {"the call's deadline is PC_E_TIMEOUT", test_call_deadline_is_timeout},
  {"malformed requests are PC_E_INVALID_ARG",
   test_malformed_requests_are_invalid},
  {"out of memory is PC_E_NOMEM", test_out_of_memory_is_nomem},
  {"256 requests are in flight at once",
   test_256_requests_in_flight_at_once},
  {"sequential requests reuse one connection",
   test_sequential_requests_reuse_one_connection},
  {"the proxy comes from the environment",
   test_proxy_comes_from_environment},
  {"a request after shutdown restarts the loop",
   test_request_after_shutdown_restarts_loop},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"http", servers_start, servers_stop, NULL, NULL, http_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
