/*
 * retry.h - the host's retry policy for LM provider calls: which failures
 * are tried again, how long to wait before each new try (jittered
 * exponential backoff, or the provider's Retry-After when it gave one),
 * and a wait that a cancellation cuts short (docs/providers.md,
 * "Retries").
 *
 * A role's config may set it: "retry": {"max_retries": 3,
 * "initial_backoff_ms": 500, "max_backoff_ms": 30000,
 * "max_retry_after_ms": 300000}. Retried:
 * PC_E_RATE_LIMITED, PC_E_TIMEOUT, PC_E_PROVIDER and PC_E_IO (a 429, a 5xx,
 * a timeout, a connection refused or reset, a body cut short or not
 * parseable). Never retried: everything else, notably PC_E_AUTH,
 * PC_E_INVALID_ARG and PC_E_CONTEXT_LENGTH, which fail at once with the
 * provider's message.
 */
#ifndef PC_RETRY_H
#define PC_RETRY_H

#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"

#define PC_RETRY_MAX_RETRIES 3        /* DSPy's num_retries */
#define PC_RETRY_INITIAL_MS 500
#define PC_RETRY_MAX_BACKOFF_MS 30000
#define PC_RETRY_MAX_RETRY_AFTER_MS 300000  /* a longer server wait fails */
#define PC_RETRY_LIMIT 100            /* the most max_retries may be */

typedef struct pc_retry_policy {
  int max_retries;             /* new tries after the first; 0 = none */
  int64_t initial_backoff_ms;  /* the wait before the first retry */
  int64_t max_backoff_ms;      /* no computed wait is longer */
  int64_t max_retry_after_ms;  /* the longest server-asked wait obeyed */
} pc_retry_policy;

/* The defaults above. */
void pc_retry_policy_default(pc_retry_policy *p);

/*
 * pc_retry_policy_read - the defaults overridden by the members of `v`
 * (a role's "retry" object; NULL = defaults). PC_E_INVALID_ARG with a
 * message "<where>.<member>: expected ..." for an unknown member or a
 * value out of range (max_retries 0-100, initial_backoff_ms 1-600000,
 * max_backoff_ms >= initial_backoff_ms and <= 3600000,
 * max_retry_after_ms 0-86400000).
 */
int pc_retry_policy_read(const struct json_object *v, const char *where,
                         pc_retry_policy *out, pc_error *err);

/* Non-zero when a failure with `code` may be tried again. */
int pc_retry_retryable(int code);

/*
 * pc_retry_delay_ms - how long to wait before retry number `attempt`
 * (1 for the first retry). When the provider asked for a wait
 * (`retry_after_ms` >= 0) that wait is honoured even beyond
 * max_backoff_ms, plus up to a tenth more (at most 1 s) so that the
 * workers a 429 hit together do not all return at the same instant; a
 * wait over max_retry_after_ms gives -1: do not retry. Otherwise the
 * "equal jitter" backoff: half of min(max, initial * 2^(attempt-1)) plus
 * a part of the other half. `random_bits` (from the seeded generator,
 * keyed by the try) choose the jitter: the timing varies, never the
 * results.
 */
int64_t pc_retry_delay_ms(const pc_retry_policy *p, int attempt,
                          int64_t retry_after_ms, uint64_t random_bits);

/*
 * pc_retry_sleep - sleep `ms` milliseconds in short slices, stopping
 * early with PC_E_CANCELLED when `call` (may be NULL) or the whole run is
 * cancelled, or with PC_E_TIMEOUT when the call's deadline would pass
 * during the wait (no point waiting for a try that cannot finish).
 * PC_OK after the full wait.
 */
struct pc_call;
int pc_retry_sleep(int64_t ms, struct pc_call *call);

#endif
