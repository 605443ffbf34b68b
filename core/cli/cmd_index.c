/* cmd_index.c - `promptc index`: build, query and serve passage indexes. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "alloc.h"
#include "cli.h"
#include "index.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
}

static void index_usage(FILE *f)
{
  fputs("usage: promptc index build CORPUS.jsonl -o INDEX.db [--force]\n"
        "       promptc index query INDEX.db TEXT [-k N] [--json]\n"
        "       promptc index serve INDEX.db [--port N] [--port-file FILE] "
        "[--force]\n\n"
        "build   read a JSONL corpus of {\"id\", \"title\", \"text\"} rows "
        "into an SQLite\n"
        "        FTS5 index (BM25; tokenizer " PC_INDEX_TOKENIZER "),\n"
        "        written atomically; --force replaces an existing INDEX\n"
        "query   print the k best passages (default 3) for free text, best "
        "first;\n"
        "        --json prints {\"query\", \"k\", \"passages\": [{\"rank\", "
        "\"id\", \"title\",\n"
        "        \"text\", \"score\"}]}\n"
        "serve   answer GET /search?query=TEXT&k=N with {\"topk\": [...]} "
        "(ColBERT style)\n"
        "        on 127.0.0.1 (all addresses with --force) until SIGINT or "
        "SIGTERM;\n"
        "        --port 0 (default) picks a free port, printed and written "
        "to FILE\n\n"
        "See docs/retrieval.md.\n", f);
}

/* Parse a k from 1 to PC_INDEX_K_MAX; -1 when it is not one. */
static long parse_k(const char *s)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > PC_INDEX_K_MAX)
    return -1;
  return v;
}

static int index_build(int argc, char **argv)
{
  static const struct option longs[] = {
    {"output", required_argument, NULL, 'o'},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *out = NULL;
  pc_index_info info;
  pc_error err = PC_ERROR_INIT;
  int c, force = 0;

  optind = 1;
  while ((c = getopt_long(argc, argv, "o:fh", longs, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'f': force = 1; break;
    case 'h': index_usage(stdout); return PC_EXIT_OK;
    default: index_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 1 || !out) {
    cli_error("index build: expected CORPUS.jsonl and -o INDEX.db");
    return PC_EXIT_USAGE;
  }
  if (pc_index_build(argv[optind], out, force, &info, &err) != PC_OK)
    return cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_INPUT
                    : err.code == PC_E_UNSUPPORTED ? PC_EXIT_ENV
                    : PC_EXIT_FAIL, &err, "index build");
  printf("index: %zu passages from %s (sha256 %s) -> %s\n", info.rows,
         argv[optind], info.corpus_sha256, out);
  return PC_EXIT_OK;
}

/* The hits as {"rank", "id", "title", "text", "score"} objects, appended
 * to a new array; NULL when out of memory. */
static struct json_object *hits_json(const pc_index_hit *hits, size_t n)
{
  struct json_object *arr = json_object_new_array();

  for (size_t i = 0; arr && i < n; i++) {
    struct json_object *o = json_object_new_object();

    if (!o || json_object_array_add(arr, o) != 0) {
      json_object_put(o);
      json_object_put(arr);
      return NULL;
    }
    json_object_object_add(o, "rank", json_object_new_int((int)i + 1));
    json_object_object_add(o, "id", json_object_new_string(hits[i].id));
    json_object_object_add(o, "title",
                           json_object_new_string(hits[i].title));
    json_object_object_add(o, "text", json_object_new_string(hits[i].text));
    json_object_object_add(o, "score", json_object_new_double(-hits[i].score));
  }
  return arr;
}

static int index_query(int argc, char **argv)
{
  static const struct option longs[] = {
    {"k", required_argument, NULL, 'k'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  pc_index *ix = NULL;
  pc_index_hit *hits = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *doc = NULL, *arr;
  size_t n = 0;
  long k = 3;
  int c, json = 0, status = PC_EXIT_OK;

  optind = 1;
  while ((c = getopt_long(argc, argv, "k:jh", longs, NULL)) != -1) {
    switch (c) {
    case 'k':
      if ((k = parse_k(optarg)) < 0) {
        cli_error("index query: -k %s: expected an integer from 1 to %d",
                  optarg, PC_INDEX_K_MAX);
        return PC_EXIT_USAGE;
      }
      break;
    case 'j': json = 1; break;
    case 'h': index_usage(stdout); return PC_EXIT_OK;
    default: index_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 2) {
    cli_error("index query: expected INDEX.db and the query text");
    return PC_EXIT_USAGE;
  }
  if (pc_index_open(argv[optind], &ix, &err) != PC_OK) {
    status = cli_fail(err.code == PC_E_UNSUPPORTED ? PC_EXIT_ENV
                      : PC_EXIT_INPUT, &err, "index query");
    goto out;
  }
  if (pc_index_query(ix, argv[optind + 1], (size_t)k, &hits, &n, &err) !=
      PC_OK) {
    status = cli_fail(PC_EXIT_FAIL, &err, "index query");
    goto out;
  }
  if (json) {
    doc = json_object_new_object();
    arr = hits_json(hits, n);
    if (!doc || !arr) {
      json_object_put(arr);
      cli_error("index query: out of memory");
      status = PC_EXIT_FAIL;
      goto out;
    }
    json_object_object_add(doc, "query",
                           json_object_new_string(argv[optind + 1]));
    json_object_object_add(doc, "k", json_object_new_int((int)k));
    json_object_object_add(doc, "passages", arr);
    cli_print_json(stdout, doc);
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    printf("%zu. [%s] %s%s%s\n", i + 1, hits[i].id, hits[i].title,
           hits[i].title[0] ? " | " : "", hits[i].text);

out:
  json_object_put(doc);
  pc_index_hits_free(hits, n);
  pc_index_close(ix);
  return status;
}

/* ------------------------------------------------------------------------ */
/* serve                                                                    */

static enum MHD_Result send_json(struct MHD_Connection *conn,
                                 unsigned status, struct json_object *doc)
{
  const char *text = doc ? json_object_to_json_string_ext(
    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
  struct MHD_Response *r;
  enum MHD_Result ret;

  if (!text) {
    text = "{\"error\": \"out of memory\"}";
    status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
  r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                      MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn,
                                  unsigned status, const char *msg)
{
  struct json_object *doc = json_object_new_object();
  enum MHD_Result ret;

  if (doc)
    json_object_object_add(doc, "error", json_object_new_string(msg));
  ret = send_json(conn, status, doc);
  json_object_put(doc);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
  pc_index *ix = cls;
  pc_index_hit *hits = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *doc = NULL, *arr;
  const char *query, *ks;
  size_t n = 0;
  long k = 3;
  enum MHD_Result ret;

  (void)version;
  (void)upload_data;
  if (!*con_cls) {  /* first call: headers only */
    *con_cls = (void *)1;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "GET"))
    return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
  if (strcmp(url, "/search") && strcmp(url, "/api/search"))
    return send_error(conn, MHD_HTTP_NOT_FOUND, "unknown path (expected "
                      "/search)");
  query = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "query");
  ks = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "k");
  if (!query)
    return send_error(conn, MHD_HTTP_BAD_REQUEST, "query: missing");
  if (ks && (k = parse_k(ks)) < 0) {
    char msg[64];

    snprintf(msg, sizeof(msg), "k: expected an integer from 1 to %d",
             PC_INDEX_K_MAX);
    return send_error(conn, MHD_HTTP_BAD_REQUEST, msg);
  }
  if (pc_index_query(ix, query, (size_t)k, &hits, &n, &err) != PC_OK)
    return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, err.message);
  doc = json_object_new_object();
  arr = hits_json(hits, n);
  if (doc && arr) {
    json_object_object_add(doc, "query", json_object_new_string(query));
    json_object_object_add(doc, "topk", arr);
  } else {
    json_object_put(arr);
  }
  ret = send_json(conn, MHD_HTTP_OK, doc && arr ? doc : NULL);
  json_object_put(doc);
  pc_index_hits_free(hits, n);
  return ret;
}

static int index_serve(int argc, char **argv)
{
  static const struct option longs[] = {
    {"port", required_argument, NULL, 'p'},
    {"port-file", required_argument, NULL, 'P'},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  struct sockaddr_in addr;
  struct sigaction sa, old_int, old_term;
  const union MHD_DaemonInfo *info;
  struct MHD_Daemon *d = NULL;
  pc_index *ix = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *port_file = NULL;
  unsigned port;
  long p = 0;
  char *end;
  int c, force = 0, status = PC_EXIT_OK, wrote = 0;

  optind = 1;
  while ((c = getopt_long(argc, argv, "p:fh", longs, NULL)) != -1) {
    switch (c) {
    case 'p':
      errno = 0;
      p = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || p < 0 || p > 65535) {
        cli_error("index serve: --port %s: expected 0 to 65535", optarg);
        return PC_EXIT_USAGE;
      }
      break;
    case 'P': port_file = optarg; break;
    case 'f': force = 1; break;
    case 'h': index_usage(stdout); return PC_EXIT_OK;
    default: index_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_error("index serve: expected INDEX.db");
    return PC_EXIT_USAGE;
  }
  if (pc_index_open(argv[optind], &ix, &err) != PC_OK)
    return cli_fail(err.code == PC_E_UNSUPPORTED ? PC_EXIT_ENV
                    : PC_EXIT_INPUT, &err, "index serve");
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)p);
  addr.sin_addr.s_addr = htonl(force ? INADDR_ANY : INADDR_LOOPBACK);
  d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                       MHD_USE_THREAD_PER_CONNECTION,
                       (uint16_t)p, NULL, NULL, on_request, ix,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                       MHD_OPTION_END);
  if (!d) {
    cli_error("index serve: cannot listen on port %ld: %s", p,
              strerror(errno));
    status = PC_EXIT_ENV;
    goto out;
  }
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  port = info ? info->port : (unsigned)p;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  printf("index: serving %s on http://%s:%u/search\n", argv[optind],
         force ? "0.0.0.0" : "127.0.0.1", port);
  fflush(stdout);
  if (port_file) {
    if (cli_write_port_file(port_file, port)) {
      status = PC_EXIT_FAIL;
      goto restore;
    }
    wrote = 1;
  }
  while (!stop_requested)
    sleep(1);  /* a signal cuts it short */

restore:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (wrote)
    remove(port_file);

out:
  if (d)
    MHD_stop_daemon(d);
  pc_index_close(ix);
  return status;
}

int cmd_index(int argc, char **argv)
{
  if (argc < 2) {
    index_usage(stderr);
    return PC_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "build"))
    return index_build(argc - 1, argv + 1);
  if (!strcmp(argv[1], "query"))
    return index_query(argc - 1, argv + 1);
  if (!strcmp(argv[1], "serve"))
    return index_serve(argc - 1, argv + 1);
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    index_usage(stdout);
    return PC_EXIT_OK;
  }
  cli_error("index: unknown subcommand '%s' (expected build, query or "
            "serve)", argv[1]);
  return PC_EXIT_USAGE;
}
