/* tests/unit/test_retry.c: core/retry.c and core/ratelimit.c, the host's
 * retry and rate policy for provider calls; suite "retry". */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "harness.h"
#include "host.h"
#include "ratelimit.h"
#include "retry.h"

static struct json_object *parse(const char *text)
{
  return json_tokener_parse(text);
}

static void test_policy_defaults_and_overrides(void)
{
  pc_retry_policy p;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = parse("{\"max_retries\": 7, "
                                "\"initial_backoff_ms\": 10, "
                                "\"max_backoff_ms\": 80}");

  CU_ASSERT_EQUAL(pc_retry_policy_read(NULL, "lm.retry", &p, &err), PC_OK);
  CU_ASSERT_EQUAL(p.max_retries, PC_RETRY_MAX_RETRIES);
  CU_ASSERT_EQUAL(p.initial_backoff_ms, PC_RETRY_INITIAL_MS);
  CU_ASSERT_EQUAL(pc_retry_policy_read(v, "lm.retry", &p, &err), PC_OK);
  CU_ASSERT_EQUAL(p.max_retries, 7);
  CU_ASSERT_EQUAL(p.initial_backoff_ms, 10);
  CU_ASSERT_EQUAL(p.max_backoff_ms, 80);
  json_object_put(v);
}

static void test_policy_errors_name_the_member(void)
{
  static const char *const bad[][2] = {
    {"{\"max_retries\": -1}", "lm.retry.max_retries"},
    {"{\"max_retries\": 101}", "lm.retry.max_retries"},
    {"{\"max_retries\": \"3\"}", "lm.retry.max_retries"},
    {"{\"backoff\": 3}", "lm.retry.backoff: unknown member"},
    {"{\"initial_backoff_ms\": 100, \"max_backoff_ms\": 50}",
     "lm.retry.max_backoff_ms"},
    {"[1]", "lm.retry: expected an object"},
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_retry_policy p;
    pc_error err = PC_ERROR_INIT;
    struct json_object *v = parse(bad[i][0]);

    CU_ASSERT_EQUAL(pc_retry_policy_read(v, "lm.retry", &p, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i][1]));
    json_object_put(v);
  }
}

static void test_only_transient_failures_are_retried(void)
{
  CU_ASSERT_TRUE(pc_retry_retryable(PC_E_RATE_LIMITED));
  CU_ASSERT_TRUE(pc_retry_retryable(PC_E_TIMEOUT));
  CU_ASSERT_TRUE(pc_retry_retryable(PC_E_PROVIDER));
  CU_ASSERT_TRUE(pc_retry_retryable(PC_E_IO));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_E_AUTH));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_E_INVALID_ARG));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_E_CONTEXT_LENGTH));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_E_CANCELLED));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_E_PARSE));
  CU_ASSERT_FALSE(pc_retry_retryable(PC_OK));
}

static void test_backoff_doubles_within_jitter_and_caps(void)
{
  pc_retry_policy p = {5, 100, 1000, 60000};

  for (uint64_t bits = 0; bits < 2000; bits += 37) {
    int64_t d1 = pc_retry_delay_ms(&p, 1, -1, bits);
    int64_t d3 = pc_retry_delay_ms(&p, 3, -1, bits);
    int64_t d9 = pc_retry_delay_ms(&p, 9, -1, bits);

    CU_ASSERT(d1 >= 50 && d1 <= 100);
    CU_ASSERT(d3 >= 200 && d3 <= 400);
    CU_ASSERT(d9 >= 500 && d9 <= 1000);  /* capped at max_backoff_ms */
  }
  /* The jitter really varies with the random bits. */
  CU_ASSERT_NOT_EQUAL(pc_retry_delay_ms(&p, 3, -1, 1),
                      pc_retry_delay_ms(&p, 3, -1, 2));
}

static void test_retry_after_is_honoured_with_a_little_spread(void)
{
  pc_retry_policy p = {5, 100, 1000, 60000};

  CU_ASSERT_EQUAL(pc_retry_delay_ms(&p, 1, 0, 12345), 0);
  for (uint64_t bits = 0; bits < 3000; bits += 7) {
    int64_t d = pc_retry_delay_ms(&p, 1, 250, bits);
    int64_t big = pc_retry_delay_ms(&p, 4, 50000, bits);

    CU_ASSERT(d >= 250 && d <= 275);  /* at most a tenth more */
    /* A server's wait beats the local backoff cap; the spread stops at
     * one second. */
    CU_ASSERT(big >= 50000 && big <= 51000);
  }
  CU_ASSERT_NOT_EQUAL(pc_retry_delay_ms(&p, 1, 250, 3),
                      pc_retry_delay_ms(&p, 1, 250, 4));
  /* Longer than max_retry_after_ms: no retry at all. */
  CU_ASSERT_EQUAL(pc_retry_delay_ms(&p, 1, 60001, 1), -1);
}

static void test_sleep_stops_on_cancel_and_deadline(void)
{
  struct pc_call call;
  const pc_host_api *h = pc_host_api_get();

  memset(&call, 0, sizeof(call));
  CU_ASSERT_EQUAL(pc_retry_sleep(1, &call), PC_OK);
  call.cancelled = 1;
  CU_ASSERT_EQUAL(pc_retry_sleep(60000, &call), PC_E_CANCELLED);
  call.cancelled = 0;
  call.deadline_ns = h->now_ns(h->ctx) + 1000000u;  /* 1 ms away */
  CU_ASSERT_EQUAL(pc_retry_sleep(60000, &call), PC_E_TIMEOUT);
}

static void test_limiter_absent_without_limits(void)
{
  pc_ratelimit *rl = (pc_ratelimit *)1;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = parse("{}");
  double waited = -1;

  CU_ASSERT_EQUAL(pc_ratelimit_read(v, "lm.rate_limit", &rl, &err), PC_OK);
  CU_ASSERT_PTR_NULL(rl);
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(NULL, 100, NULL, &waited), PC_OK);
  CU_ASSERT_EQUAL(waited, 0);
  json_object_put(v);
}

static void test_limiter_errors_name_the_member(void)
{
  static const char *const bad[][2] = {
    {"{\"requests_per_minute\": 0}", "lm.rate_limit.requests_per_minute"},
    {"{\"tokens_per_minute\": \"x\"}", "lm.rate_limit.tokens_per_minute"},
    {"{\"rpm\": 10}", "lm.rate_limit.rpm: unknown member"},
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_ratelimit *rl = NULL;
    pc_error err = PC_ERROR_INIT;
    struct json_object *v = parse(bad[i][0]);

    CU_ASSERT_EQUAL(pc_ratelimit_read(v, "lm.rate_limit", &rl, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(rl);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i][1]));
    json_object_put(v);
  }
}

/* A minute's allowance goes at once; the next call owes and must wait
 * for the refill. Learned without sleeping: a deadline nearer than the
 * wait makes acquire give up at once. */
static void test_token_bucket_makes_the_overflow_wait(void)
{
  pc_ratelimit *rl = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = parse("{\"tokens_per_minute\": 60000}");
  struct pc_call call;
  double waited = -1;

  memset(&call, 0, sizeof(call));
  CU_ASSERT_EQUAL_FATAL(pc_ratelimit_read(v, "x", &rl, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 60000, NULL, &waited), PC_OK);
  CU_ASSERT_EQUAL(waited, 0);
  /* 1000 tokens a second: 30000 more owe about 30 s. */
  call.deadline_ns = pc_host_api_get()->now_ns(NULL) + 1000000000u;
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 30000, &call, &waited),
                  PC_E_TIMEOUT);
  /* It gave its reservation back: a small call now waits well under a
   * second for the little that was refilled meanwhile. */
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 10, NULL, &waited), PC_OK);
  CU_ASSERT(waited <= 10.5);
  pc_ratelimit_free(rl);
  json_object_put(v);
}

/* Settling a reservation with a smaller real usage repays the bucket. */
static void test_settle_gives_back_unused_tokens(void)
{
  pc_ratelimit *rl = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = parse("{\"tokens_per_minute\": 60000}");
  double waited = -1;

  CU_ASSERT_EQUAL_FATAL(pc_ratelimit_read(v, "x", &rl, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 60000, NULL, &waited), PC_OK);
  pc_ratelimit_settle(rl, 60000, 100);  /* only 100 were used */
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 1000, NULL, &waited), PC_OK);
  CU_ASSERT_EQUAL(waited, 0);
  pc_ratelimit_free(rl);
  json_object_put(v);
}

/* A cancelled wait gives its reservation back, so the next caller is not
 * charged for it. */
static void test_cancelled_wait_returns_the_reservation(void)
{
  pc_ratelimit *rl = NULL;
  pc_error err = PC_ERROR_INIT;
  struct json_object *v = parse("{\"requests_per_minute\": 60}");
  struct pc_call call;
  double waited = -1;

  memset(&call, 0, sizeof(call));
  CU_ASSERT_EQUAL_FATAL(pc_ratelimit_read(v, "x", &rl, &err), PC_OK);
  for (int i = 0; i < 60; i++)  /* the minute's allowance, at once */
    CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 0, NULL, &waited), PC_OK);
  CU_ASSERT_EQUAL(waited, 0);
  call.cancelled = 1;  /* each would wait a second more than the last */
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 0, &call, &waited),
                  PC_E_CANCELLED);
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 0, &call, &waited),
                  PC_E_CANCELLED);
  /* Both gave back their request: the next one owes one second, not
   * three. */
  CU_ASSERT_EQUAL(pc_ratelimit_acquire(rl, 0, NULL, &waited), PC_OK);
  CU_ASSERT(waited > 0 && waited <= 1000.5);
  pc_ratelimit_free(rl);
  json_object_put(v);
}

int main(void)
{
  static CU_TestInfo tests[] = {
    {"policy defaults and overrides", test_policy_defaults_and_overrides},
    {"policy errors name the member", test_policy_errors_name_the_member},
    {"only transient failures are retried",
     test_only_transient_failures_are_retried},
    {"backoff doubles within jitter and caps",
     test_backoff_doubles_within_jitter_and_caps},
    {"retry-after is honoured with a little spread",
     test_retry_after_is_honoured_with_a_little_spread},
    {"sleep stops on cancel and deadline",
     test_sleep_stops_on_cancel_and_deadline},
    {"limiter absent without limits", test_limiter_absent_without_limits},
    {"limiter errors name the member", test_limiter_errors_name_the_member},
    {"token bucket makes the overflow wait",
     test_token_bucket_makes_the_overflow_wait},
    {"settle gives back unused tokens", test_settle_gives_back_unused_tokens},
    {"cancelled wait returns the reservation",
     test_cancelled_wait_returns_the_reservation},
    CU_TEST_INFO_NULL,
  };
  static CU_SuiteInfo suites[] = {
    {"retry", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
  };

  return pc_test_run(suites);
}
