/*
 * ratelimit.c - per-role request and token buckets with reservations.
 */
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "host.h"
#include "ratelimit.h"
#include "retry.h"

/* One bucket: `level` units available now (negative: owed), `cap` a
 * minute's allowance, refilled at cap per minute. */
struct bucket {
  double cap;    /* 0: no limit */
  double level;
};

struct pc_ratelimit {
  pthread_mutex_t mu;
  struct bucket req, tok;
  uint64_t last_ns;  /* when the buckets were last refilled */
};

static int read_rate(struct json_object *v, const char *where,
                     const char *key, double *out, pc_error *err)
{
  if (!json_object_is_type(v, json_type_int) &&
      !json_object_is_type(v, json_type_double))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: expected a number "
                        "> 0", where, key);
  *out = json_object_get_double(v);
  if (!(*out > 0) || *out > 1e12)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: expected a number "
                        "> 0", where, key);
  return PC_OK;
}

int pc_ratelimit_read(const struct json_object *v, const char *where,
                      pc_ratelimit **out, pc_error *err)
{
  double rpm = 0, tpm = 0;
  pc_ratelimit *rl;
  int rc;

  *out = NULL;
  if (!v)
    return PC_OK;
  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected an object like "
                        "{\"requests_per_minute\": 500}", where);
  json_object_object_foreach((struct json_object *)v, key, val) {
    if (!strcmp(key, "requests_per_minute"))
      rc = read_rate(val, where, key, &rpm, err);
    else if (!strcmp(key, "tokens_per_minute"))
      rc = read_rate(val, where, key, &tpm, err);
    else
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: unknown member "
                        "(expected requests_per_minute, tokens_per_minute)",
                        where, key);
    if (rc)
      return rc;
  }
  if (rpm == 0 && tpm == 0)
    return PC_OK;
  rl = pc_calloc(1, sizeof(*rl));
  if (!rl)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", where);
  pthread_mutex_init(&rl->mu, NULL);
  rl->req.cap = rl->req.level = rpm;
  rl->tok.cap = rl->tok.level = tpm;
  rl->last_ns = pc_host_api_get()->now_ns(NULL);
  *out = rl;
  return PC_OK;
}

void pc_ratelimit_free(pc_ratelimit *rl)
{
  if (!rl)
    return;
  pthread_mutex_destroy(&rl->mu);
  pc_free(rl);
}

static void refill(struct bucket *b, double minutes)
{
  if (b->cap <= 0)
    return;
  b->level += b->cap * minutes;
  if (b->level > b->cap)
    b->level = b->cap;
}

/* Refill both buckets up to `now`. Called with the mutex held. */
static void refill_all(pc_ratelimit *rl, uint64_t now)
{
  double minutes;

  if (now <= rl->last_ns)
    return;
  minutes = (double)(now - rl->last_ns) / 60e9;
  rl->last_ns = now;
  refill(&rl->req, minutes);
  refill(&rl->tok, minutes);
}

/* Milliseconds until a bucket's debt is repaid (0 when not in debt). */
static double debt_ms(const struct bucket *b)
{
  if (b->cap <= 0 || b->level >= 0)
    return 0;
  return -b->level / b->cap * 60000.0;
}

int pc_ratelimit_acquire(pc_ratelimit *rl, int64_t tokens,
                         struct pc_call *call, double *waited_ms)
{
  const pc_host_api *host = pc_host_api_get();
  double wait, need = tokens > 0 ? (double)tokens : 0;
  int rc;

  *waited_ms = 0;
  if (!rl)
    return PC_OK;
  /* A single call larger than a minute's allowance could never be served;
   * it waits for a full bucket instead. */
  if (rl->tok.cap > 0 && need > rl->tok.cap)
    need = rl->tok.cap;
  pthread_mutex_lock(&rl->mu);
  refill_all(rl, host->now_ns(host->ctx));
  if (rl->req.cap > 0)
    rl->req.level -= 1;
  if (rl->tok.cap > 0)
    rl->tok.level -= need;
  wait = debt_ms(&rl->req);
  if (debt_ms(&rl->tok) > wait)
    wait = debt_ms(&rl->tok);
  pthread_mutex_unlock(&rl->mu);
  if (wait <= 0)
    return PC_OK;
  rc = pc_retry_sleep((int64_t)(wait + 0.999), call);
  if (rc) {
    pthread_mutex_lock(&rl->mu);
    if (rl->req.cap > 0 && (rl->req.level += 1) > rl->req.cap)
      rl->req.level = rl->req.cap;
    if (rl->tok.cap > 0 && (rl->tok.level += need) > rl->tok.cap)
      rl->tok.level = rl->tok.cap;
    pthread_mutex_unlock(&rl->mu);
    return rc;
  }
  *waited_ms = wait;
  return PC_OK;
}

void pc_ratelimit_settle(pc_ratelimit *rl, int64_t estimated, int64_t actual)
{
  if (!rl || rl->tok.cap <= 0 || actual < 0)
    return;
  if (estimated > (int64_t)rl->tok.cap)
    estimated = (int64_t)rl->tok.cap;  /* as acquire clamped it */
  pthread_mutex_lock(&rl->mu);
  rl->tok.level += (double)estimated - (double)actual;
  if (rl->tok.level > rl->tok.cap)
    rl->tok.level = rl->tok.cap;
  pthread_mutex_unlock(&rl->mu);
}
