/*
 * retry.c - the host's retry policy for provider calls: what is retried,
 * the backoff, and a cancellable wait.
 */
#include <string.h>
#include <time.h>

#include "host.h"
#include "retry.h"

void pc_retry_policy_default(pc_retry_policy *p)
{
  p->max_retries = PC_RETRY_MAX_RETRIES;
  p->initial_backoff_ms = PC_RETRY_INITIAL_MS;
  p->max_backoff_ms = PC_RETRY_MAX_BACKOFF_MS;
  p->max_retry_after_ms = PC_RETRY_MAX_RETRY_AFTER_MS;
}

/* An integer member in [lo, hi], or an error naming it. */
static int read_int(struct json_object *v, const char *where,
                    const char *key, int64_t lo, int64_t hi, int64_t *out,
                    pc_error *err)
{
  int64_t x;

  if (!json_object_is_type(v, json_type_int))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: expected an integer "
                        "from %lld to %lld", where, key, (long long)lo,
                        (long long)hi);
  x = json_object_get_int64(v);
  if (x < lo || x > hi)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: %lld is out of range "
                        "(%lld to %lld)", where, key, (long long)x,
                        (long long)lo, (long long)hi);
  *out = x;
  return PC_OK;
}

int pc_retry_policy_read(const struct json_object *v, const char *where,
                         pc_retry_policy *out, pc_error *err)
{
  int64_t x;
  int rc;

  pc_retry_policy_default(out);
  if (!v)
    return PC_OK;
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected an object like "
                        "{\"max_retries\": 3}", where);
  json_object_object_foreach((struct json_object *)v, key, val) {
    if (!strcmp(key, "max_retries")) {
      rc = read_int(val, where, key, 0, PC_RETRY_LIMIT, &x, err);
      out->max_retries = (int)x;
    } else if (!strcmp(key, "initial_backoff_ms")) {
      rc = read_int(val, where, key, 1, 600000, &x, err);
      out->initial_backoff_ms = x;
    } else if (!strcmp(key, "max_backoff_ms")) {
      rc = read_int(val, where, key, 1, 3600000, &x, err);
      out->max_backoff_ms = x;
    } else if (!strcmp(key, "max_retry_after_ms")) {
      rc = read_int(val, where, key, 0, 86400000, &x, err);
      out->max_retry_after_ms = x;
    } else {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: unknown member "
                        "(expected max_retries, initial_backoff_ms, "
                        "max_backoff_ms, max_retry_after_ms)", where, key);
    }
    if (rc)
      return rc;
  }
  if (out->max_backoff_ms < out->initial_backoff_ms)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s.max_backoff_ms: %lld is "
                        "below initial_backoff_ms (%lld)", where,
                        (long long)out->max_backoff_ms,
                        (long long)out->initial_backoff_ms);
  return PC_OK;
}

int pc_retry_retryable(int code)
{
  return code == PC_E_RATE_LIMITED || code == PC_E_TIMEOUT ||
         code == PC_E_PROVIDER || code == PC_E_IO;
}

int64_t pc_retry_delay_ms(const pc_retry_policy *p, int attempt,
                          int64_t retry_after_ms, uint64_t random_bits)
{
  int64_t base = p->initial_backoff_ms, half;

  if (retry_after_ms >= 0) {
    int64_t spread = retry_after_ms / 10;

    if (retry_after_ms > p->max_retry_after_ms)
      return -1;
    if (spread > 1000)
      spread = 1000;
    return retry_after_ms + (int64_t)(random_bits % (uint64_t)(spread + 1));
  }
  for (int i = 1; i < attempt && base < p->max_backoff_ms; i++)
    base *= 2;
  if (base > p->max_backoff_ms)
    base = p->max_backoff_ms;
  half = base / 2;
  return half + (int64_t)(random_bits % (uint64_t)(base - half + 1));
}

#define SLICE_MS 20

int pc_retry_sleep(int64_t ms, struct pc_call *call)
{
  const pc_host_api *host = pc_host_api_get();
  uint64_t end = host->now_ns(host->ctx) + (uint64_t)ms * 1000000u;

  if (call && call->deadline_ns && end > call->deadline_ns)
    return PC_E_TIMEOUT;
  for (;;) {
    uint64_t now = host->now_ns(host->ctx), left;
    struct timespec ts;

    if (host->is_cancelled(host->ctx, call))
      return PC_E_CANCELLED;
    if (now >= end)
      return PC_OK;
    left = end - now;
    if (left > SLICE_MS * 1000000u)
      left = SLICE_MS * 1000000u;
    ts.tv_sec = (time_t)(left / 1000000000u);
    ts.tv_nsec = (long)(left % 1000000000u);
    nanosleep(&ts, NULL);
  }
}
