/*
 * http.h - the host HTTP client behind "pc.http/1": libcurl's multi
 * interface driven by one event-loop thread, serving every worker of the
 * scheduler at once (docs/providers.md, "Transport").
 *
 * A caller (any thread) hands over one request and blocks until it is
 * done; the loop thread runs all transfers together, so as many requests
 * are in flight as there are callers (256 and more), over one shared pool
 * of connections that are kept alive and reused. Everything a plugin's
 * sink receives is delivered on the caller's own thread, never on the
 * loop thread: the loop only buffers, so a slow sink never stalls other
 * transfers.
 *
 * Policy that belongs to the transport lives here: TLS verification is
 * always on; proxies come from the environment exactly as libcurl reads
 * them (http_proxy, https_proxy, no_proxy, all_proxy); redirects are not
 * followed; the connect and total timeouts default to
 * PC_HTTP_CONNECT_TIMEOUT_MS and PC_HTTP_TOTAL_TIMEOUT_MS and are cut
 * short by the call's deadline; a cancelled call aborts its transfer.
 * There are no retries here: the host retries whole provider calls
 * (core/retry.h), so a malformed body is retried as well as a 503.
 *
 * Secrets: a request may name one header (secret_header) whose value is
 * "[PREFIX ]REF": the part after the last space is a secret reference
 * (docs/config.md, "Secrets") that the host resolves and substitutes, so
 * the plugin never holds the key (the reference itself cannot contain a
 * space). The host's copies of the resolved value are wiped when the
 * transfer ends (libcurl's own send buffer is not ours to wipe) and it
 * never appears in a message.
 */
#ifndef PC_HTTP_H
#define PC_HTTP_H

#include <stdint.h>

#include "promptc/plugin.h"

#define PC_HTTP_CONNECT_TIMEOUT_MS 10000
#define PC_HTTP_TOTAL_TIMEOUT_MS 600000
#define PC_HTTP_MAX_BODY (64u << 20)  /* a larger response is refused */

/*
 * pc_http_perform - one HTTP exchange, the function behind
 * pc_http_api.request. `req`, `sink` and `call` (may be NULL) are
 * borrowed for the call.
 *
 * The sink gets on_status once per response, then on_header for each
 * header line of the final response, then on_data for the body (in
 * pieces as they arrive with PC_HTTP_STREAM, else once with the whole
 * body, possibly empty), all on the calling thread. A sink callback
 * returning non-zero aborts the transfer; that code is returned (a code
 * outside 1..PC_E_LAST-1 becomes PC_E_CANCELLED).
 *
 * Returns PC_OK when a whole response arrived, whatever its status (the
 * provider judges 4xx and 5xx). Otherwise, with a message naming the
 * method and URL (never a header value):
 *   PC_E_TIMEOUT       the connect or total timeout, or the call's deadline
 *   PC_E_IO            no connection (refused, unresolvable), a connection
 *                      reset, a body cut short or any other transfer error
 *   PC_E_CANCELLED     the call (or the whole run) was cancelled
 *   PC_E_PROVIDER      the body exceeded PC_HTTP_MAX_BODY
 *   PC_E_INVALID_ARG   a malformed request (no URL, unknown method, a
 *                      header struct too small) or an unresolvable secret
 *   PC_E_NOMEM, PC_E_INTERNAL (the loop thread could not start)
 */
int pc_http_perform(const pc_http_request *req, const pc_http_sink *sink,
                    pc_call *call, pc_error *err);

/* The "pc.http/1" table (static). */
const pc_http_api *pc_http_api_table(void);

/* Counters since the process started (or since pc_http_shutdown). */
typedef struct pc_http_stats {
  uint64_t requests;        /* exchanges started */
  uint64_t completed;       /* whole responses received */
  uint64_t failed;          /* ended with an error */
  uint64_t connections;     /* new connections opened (reuse is the rest) */
  uint64_t max_in_flight;   /* most transfers running at one moment */
} pc_http_stats;

void pc_http_stats_get(pc_http_stats *out);

/*
 * pc_http_shutdown - stop the loop thread (after the transfers in flight
 * end) and release libcurl. Call once at process end, when no request is
 * running; a later request starts the loop again. Safe when the loop never
 * started.
 */
void pc_http_shutdown(void);

#endif
