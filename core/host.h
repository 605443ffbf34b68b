/*
 * host.h - the services table the host hands to every plugin
 * (pc_host_api and the tables behind get_host_interface: "pc.json/1",
 * "pc.values/1", "pc.secrets/1", "pc.hash/1", "pc.http/1").
 */
#ifndef PC_HOST_H
#define PC_HOST_H

#include "promptc/plugin.h"

/* One in-flight call, as plugins see it (opaque to them): a deadline and
 * a cancellation flag. Lives in the caller's storage for the call. */
struct pc_call {
  uint64_t deadline_ns;  /* monotonic; 0 = none */
  volatile int cancelled;
};

/* The process-wide host table. Static: valid for the life of the process.
 * Thread: any. */
const pc_host_api *pc_host_api_get(void);

/*
 * pc_host_set_log - send every line the host log is given (by the host
 * and by plugins, at any level) to `fn` instead of writing the error and
 * warning lines to stderr; fn NULL restores stderr. `message` is one
 * NUL-terminated line, `source` the plugin id or NULL for the host; both
 * are borrowed for the call. `ctx` is borrowed until the handler is
 * replaced and every log call that read it has returned. Process-wide.
 * Thread: any; `fn` may be called from any thread, several at once.
 */
void pc_host_set_log(void (*fn)(void *ctx, int level, const char *source,
                                const char *message),
                     void *ctx);

/*
 * pc_host_secret_lookup - resolve a secret reference: "env:NAME" (the
 * environment variable) or "file:PATH" (the file's bytes, without a
 * trailing newline). Copies it into buf (cap bytes, NUL-terminated) and
 * its length into *len. PC_E_INVALID_ARG for an unknown scheme, an unset
 * variable, an unreadable or empty file; PC_E_NOMEM when it does not fit.
 * Messages name the reference, never the secret. The caller wipes buf
 * (explicit_bzero) when done. This is "pc.secrets/1"'s lookup.
 */
int pc_host_secret_lookup(const char *ref, char *buf, size_t cap,
                          size_t *len, pc_error *err);

/* Ask every call in flight to stop (is_cancelled(ctx, NULL) becomes true). */
void pc_host_cancel_all(void);

/* A json-c object as a plugin's pc_json handle, taking it over (JSON
 * null, a NULL object, becomes the null handle). For host tables that
 * hand JSON to plugins (the compile API). */
struct json_object;
pc_json *pc_host_json_wrap(struct json_object *o);

/* A text sink that appends what a plugin writes to `b` (borrowed; it must
 * outlive the sink's use). A write that does not fit is PC_E_NOMEM. */
struct pc_buf;
pc_text_sink pc_host_buf_sink(struct pc_buf *b);

/* The stateless keyed generator behind rng_u64, for core's own use. */
uint64_t pc_rng_u64(uint64_t seed, const char *purpose, uint64_t index,
                    uint64_t draw);

#endif
