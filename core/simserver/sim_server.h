/*
 * sim_server.h - the sim-server: an LM role served over real HTTP
 * (libmicrohttpd) in the OpenAI, Anthropic and Ollama wire formats, with
 * fault injection, for `promptc sim-server` (docs/sim-server.md).
 *
 * The library part never prints, installs no signal handler and reads no
 * environment: the command resolves the API key and owns the process.
 */
#ifndef PC_SIM_SERVER_H
#define PC_SIM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "errors.h"

struct json_object;
struct pc_lm;

/* How a 429 says when to retry (--retry-after). */
#define PC_SIM_RETRY_SECONDS 0  /* Retry-After: N */
#define PC_SIM_RETRY_DATE 1     /* Retry-After: the HTTP date N s ahead */
#define PC_SIM_RETRY_MS 2       /* retry-after-ms: N, Retry-After: N/1000
                                   rounded up */

/* Fault injection. Fractions are from 0 to 1 and sum to at most 1. */
typedef struct pc_sim_faults {
  double fail_429, fail_500, fail_503, stall, truncate, malformed;
  uint64_t seed;               /* every draw depends on it */
  int64_t latency_ms;          /* each LM request sleeps this ... */
  int64_t latency_jitter_ms;   /* ... plus a draw from 0 to this */
  int64_t stall_ms;            /* how long a stall holds a request */
  int retry_after_form;        /* PC_SIM_RETRY_* */
  int64_t retry_after;         /* seconds, or ms for PC_SIM_RETRY_MS */
} pc_sim_faults;

/* No faults, no latency, stalls of 30 s, "Retry-After: 1". */
void pc_sim_faults_init(pc_sim_faults *f);

/* PC_E_INVALID_ARG naming the flag ("--fail-429") when a fraction is
 * outside [0, 1] or not a number, or ("--fail-*") when they sum above 1,
 * or a duration is negative. */
int pc_sim_faults_check(const pc_sim_faults *f, pc_error *err);

/* Read --retry-after: "N" (seconds), "date" or "date:N" (an HTTP date N
 * seconds ahead, default 1), "ms:N". PC_E_INVALID_ARG naming the flag. */
int pc_sim_retry_after_parse(const char *spec, pc_sim_faults *f,
                             pc_error *err);

/* Where to listen. */
typedef struct pc_sim_listen {
  char host[64];                 /* the numeric address, no brackets */
  uint16_t port;                 /* 0: any free port */
  int ipv6;
  int loopback;                  /* 127.0.0.0/8 or ::1 */
  struct sockaddr_storage addr;
  socklen_t addr_len;
} pc_sim_listen;

/*
 * pc_sim_listen_parse - read "HOST:PORT": an IPv4 address, "[IPv6]" or
 * "localhost" (127.0.0.1), and a port from 0 to 65535. Names other than
 * localhost are not resolved. PC_E_INVALID_ARG naming `spec` otherwise.
 */
int pc_sim_listen_parse(const char *spec, pc_sim_listen *out,
                        pc_error *err);

typedef struct pc_sim_server_opts {
  pc_sim_listen listen;
  struct pc_lm *lm;            /* borrowed: must outlive the server */
  const char *model_name;      /* served name; NULL: the LM identity */
  const char *api_key;         /* required key (copied), or NULL */
  size_t api_key_len;
  int64_t max_context_tokens;  /* 0: no limit */
  uint64_t drift_after;        /* 0: the fingerprint never changes */
  pc_sim_faults faults;
} pc_sim_server_opts;

typedef struct pc_sim_server pc_sim_server;

/* Connections served at once (each has its own thread). */
#define PC_SIM_MAX_CONNECTIONS 4096

/*
 * pc_sim_server_start - listen and serve until pc_sim_server_stop.
 *
 * Refuses nothing about the address (the caller decides about
 * non-loopback ones). Starts libmicrohttpd with an internal polling
 * thread and a thread per connection. `o` and its strings are copied but
 * o->lm is borrowed. On success *out owns the server; PC_E_IO when the
 * address cannot be bound (with MHD's reason), PC_E_INVALID_ARG for bad
 * options, PC_E_NOMEM. Thread: start and stop from one thread.
 */
int pc_sim_server_start(const pc_sim_server_opts *o, pc_sim_server **out,
                        pc_error *err);

/* The port it listens on (the one chosen when 0 was asked for). */
uint16_t pc_sim_server_port(const pc_sim_server *s);

/* The /stats document as a new object (json_object_put); NULL on OOM. */
struct json_object *pc_sim_server_stats(pc_sim_server *s);

/* Requests answered since the start (not counting /stats). */
uint64_t pc_sim_server_requests(pc_sim_server *s);

/*
 * pc_sim_server_stop - wake every latency sleep, stall and sim call in
 * progress, close every connection, stop the threads and free the
 * server. NULL is a no-op.
 */
void pc_sim_server_stop(pc_sim_server *s);

#endif
