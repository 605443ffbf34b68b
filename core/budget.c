/*
 * budget.c - caps on calls, tokens, dollars and time, counted under a
 * lock.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "budget.h"

struct pc_budget {
  pc_budget_caps caps;
  uint64_t start_ns;
  pthread_mutex_t lock;
  pc_budget_spent base;   /* replayed from earlier sessions */
  int64_t calls, tokens;  /* live */
  double cost;            /* live; NAN when unknown */
};

pc_budget *pc_budget_new(const pc_budget_caps *caps, uint64_t start_ns)
{
  pc_budget *b = pc_calloc(1, sizeof(*b));

  if (!b)
    return NULL;
  if (caps)
    b->caps = *caps;
  b->start_ns = start_ns;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

void pc_budget_free(pc_budget *b)
{
  if (!b)
    return;
  pthread_mutex_destroy(&b->lock);
  pc_free(b);
}

void pc_budget_add_base(pc_budget *b, const pc_budget_spent *more)
{
  pthread_mutex_lock(&b->lock);
  b->base.calls += more->calls;
  b->base.tokens += more->tokens;
  b->base.cost += more->cost;  /* NAN stays NAN */
  b->base.elapsed_ms += more->elapsed_ms;
  pthread_mutex_unlock(&b->lock);
}

void pc_budget_set_live(pc_budget *b, int64_t calls, int64_t tokens,
                        double cost)
{
  pthread_mutex_lock(&b->lock);
  b->calls = calls;
  b->tokens = tokens;
  b->cost = cost;
  pthread_mutex_unlock(&b->lock);
}

static void total_locked(const pc_budget *b, uint64_t now_ns,
                         pc_budget_spent *out)
{
  out->calls = b->base.calls + b->calls;
  out->tokens = b->base.tokens + b->tokens;
  out->cost = b->base.cost + b->cost;
  out->elapsed_ms = b->base.elapsed_ms +
                    (int64_t)((now_ns > b->start_ns ? now_ns - b->start_ns
                                                    : 0) / 1000000u);
}

void pc_budget_total(pc_budget *b, uint64_t now_ns, pc_budget_spent *out)
{
  pthread_mutex_lock(&b->lock);
  total_locked(b, now_ns, out);
  pthread_mutex_unlock(&b->lock);
}

/* Reached (>=) or, strictly, exceeded (>). */
static int over_i(int64_t spent, int64_t cap, int strict)
{
  return cap > 0 && (strict ? spent > cap : spent >= cap);
}

static const char *exhausted_locked(const pc_budget *b, uint64_t now_ns,
                                    int strict)
{
  pc_budget_spent s;

  total_locked(b, now_ns, &s);
  if (over_i(s.calls, b->caps.max_calls, strict))
    return "max_calls";
  if (over_i(s.tokens, b->caps.max_tokens, strict))
    return "max_tokens";
  if (b->caps.max_cost > 0 && !isnan(s.cost) &&
      (strict ? s.cost > b->caps.max_cost : s.cost >= b->caps.max_cost))
    return "max_cost";
  /* Time stops the next piece of work, never the answer to one that has
   * finished, so the strict check (after a batch) leaves it out. */
  if (!strict && over_i(s.elapsed_ms, b->caps.max_time_ms, 0))
    return "max_time";
  return NULL;
}

const char *pc_budget_exhausted(pc_budget *b, uint64_t now_ns, int strict)
{
  const char *r;

  pthread_mutex_lock(&b->lock);
  r = exhausted_locked(b, now_ns, strict);
  pthread_mutex_unlock(&b->lock);
  return r;
}

void pc_budget_describe(pc_budget *b, const char *cap, uint64_t now_ns,
                        char *buf, size_t n)
{
  pc_budget_spent s;

  pc_budget_total(b, now_ns, &s);
  if (!cap)
    snprintf(buf, n, "within budget");
  else if (!strcmp(cap, "max_calls"))
    snprintf(buf, n, "max_calls %lld reached (%lld LM calls)",
             (long long)b->caps.max_calls, (long long)s.calls);
  else if (!strcmp(cap, "max_tokens"))
    snprintf(buf, n, "max_tokens %lld reached (%lld tokens)",
             (long long)b->caps.max_tokens, (long long)s.tokens);
  else if (!strcmp(cap, "max_cost"))
    snprintf(buf, n, "max_cost $%.4f reached ($%.4f)", b->caps.max_cost,
             s.cost);
  else
    snprintf(buf, n, "max_time %.1f s reached (%.1f s)",
             (double)b->caps.max_time_ms / 1000.0,
             (double)s.elapsed_ms / 1000.0);
}

static int put(struct json_object *o, const char *k, struct json_object *v)
{
  if (!v)
    return -1;
  if (json_object_object_add(o, k, v) != 0) {
    json_object_put(v);
    return -1;
  }
  return 0;
}

struct json_object *pc_budget_to_json(pc_budget *b, uint64_t now_ns)
{
  struct json_object *o = json_object_new_object();
  pc_budget_spent s;
  const char *reason;
  int bad = !o;

  pthread_mutex_lock(&b->lock);
  total_locked(b, now_ns, &s);
  reason = exhausted_locked(b, now_ns, 0);
  pthread_mutex_unlock(&b->lock);
  if (bad)
    return NULL;
  bad |= put(o, "calls", json_object_new_int64(s.calls));
  bad |= put(o, "tokens", json_object_new_int64(s.tokens));
  if (isnan(s.cost))
    bad |= json_object_object_add(o, "cost", NULL) != 0;
  else
    bad |= put(o, "cost", json_object_new_double(s.cost));
  bad |= put(o, "elapsed_ms", json_object_new_int64(s.elapsed_ms));
  if (b->caps.max_calls > 0)
    bad |= put(o, "max_calls", json_object_new_int64(b->caps.max_calls));
  if (b->caps.max_tokens > 0)
    bad |= put(o, "max_tokens", json_object_new_int64(b->caps.max_tokens));
  if (b->caps.max_cost > 0)
    bad |= put(o, "max_cost", json_object_new_double(b->caps.max_cost));
  if (b->caps.max_time_ms > 0)
    bad |= put(o, "max_time_ms", json_object_new_int64(b->caps.max_time_ms));
  bad |= put(o, "exhausted", json_object_new_boolean(reason != NULL));
  if (reason)
    bad |= put(o, "reason", json_object_new_string(reason));
  else
    bad |= json_object_object_add(o, "reason", NULL) != 0;
  if (bad) {
    json_object_put(o);
    return NULL;
  }
  return o;
}
