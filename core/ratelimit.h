/*
 * ratelimit.h - the client-side limiter of one LM role: requests per
 * minute and tokens per minute, so a run stays under a provider's quota
 * instead of collecting 429s (docs/providers.md, "Rate limits").
 *
 * A role's config may set "rate_limit": {"requests_per_minute": 500,
 * "tokens_per_minute": 200000}; either may be left out (no limit).
 *
 * The limiter is a pair of token buckets holding one minute's allowance
 * and refilled continuously. A call reserves one request and its
 * estimated tokens at once, going into debt when the bucket is short, and
 * waits until the debt is repaid: callers are served in the order they
 * arrived and never starve. Once the call's real usage is known,
 * pc_ratelimit_settle corrects the estimate.
 *
 * Thread: every function may be called from any thread.
 */
#ifndef PC_RATELIMIT_H
#define PC_RATELIMIT_H

#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"

typedef struct pc_ratelimit pc_ratelimit;

/*
 * pc_ratelimit_read - a limiter from a role's "rate_limit" object (NULL
 * or an object without limits: *out is NULL, meaning no limiter). Each
 * member is a number > 0. PC_E_INVALID_ARG naming "<where>.<member>" for
 * an unknown member or a bad value; PC_E_NOMEM. On success *out (may be
 * NULL) is owned by the caller (pc_ratelimit_free).
 */
int pc_ratelimit_read(const struct json_object *v, const char *where,
                      pc_ratelimit **out, pc_error *err);

void pc_ratelimit_free(pc_ratelimit *rl);  /* NULL is a no-op */

/*
 * pc_ratelimit_acquire - reserve one request of `tokens` estimated tokens
 * and wait until the limits allow it. A NULL limiter never waits. *waited_ms
 * gets the time spent waiting. Returns PC_OK, or PC_E_CANCELLED /
 * PC_E_TIMEOUT when `call` was cancelled or its deadline came first (the
 * reservation is given back).
 */
struct pc_call;
int pc_ratelimit_acquire(pc_ratelimit *rl, int64_t tokens,
                         struct pc_call *call, double *waited_ms);

/* Correct a reservation of `estimated` tokens to the `actual` count. */
void pc_ratelimit_settle(pc_ratelimit *rl, int64_t estimated,
                         int64_t actual);

#endif
