/* sim_faults.c - the sim-server's fault injection: checking the flags and
 * drawing each request's fault and latency from (seed, request key, times
 * that key was seen), so that the faults one request meets never depend
 * on concurrency or arrival order. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "host.h"
#include "sim_internal.h"

#define KEY_LEN 32

/* An open-addressing table from request key to times seen. */
struct slot {
  unsigned char key[KEY_LEN];
  uint64_t seen;
  int used;
};

struct pc__sim_fault_table {
  pthread_mutex_t lock;
  struct slot *slots;  /* owned */
  size_t cap;          /* a power of two */
  size_t used;
};

void pc_sim_faults_init(pc_sim_faults *f)
{
  memset(f, 0, sizeof(*f));
  f->stall_ms = 30000;
  f->retry_after_form = PC_SIM_RETRY_SECONDS;
  f->retry_after = 1;
}

int pc__sim_faults_any(const pc_sim_faults *f)
{
  return f->fail_429 > 0 || f->fail_500 > 0 || f->fail_503 > 0 ||
         f->stall > 0 || f->truncate > 0 || f->malformed > 0;
}

static int check_fraction(double v, const char *flag, pc_error *err)
{
  if (!(v >= 0.0 && v <= 1.0))  /* also refuses NaN */
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: expected a fraction from 0 to 1, got %g", flag,
                        v);
  return PC_OK;
}

int pc_sim_faults_check(const pc_sim_faults *f, pc_error *err)
{
  double sum;

  if (check_fraction(f->fail_429, "--fail-429", err) ||
      check_fraction(f->fail_500, "--fail-500", err) ||
      check_fraction(f->fail_503, "--fail-503", err) ||
      check_fraction(f->stall, "--stall", err) ||
      check_fraction(f->truncate, "--truncate", err) ||
      check_fraction(f->malformed, "--malformed", err))
    return PC_E_INVALID_ARG;
  sum = f->fail_429 + f->fail_500 + f->fail_503 + f->stall + f->truncate +
        f->malformed;
  if (sum > 1.0 + 1e-9)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "--fail-429, --fail-500, --fail-503, --stall, "
                        "--truncate, --malformed: the fractions sum to %g, "
                        "above 1", sum);
  if (f->latency_ms < 0 || f->latency_jitter_ms < 0 || f->stall_ms < 0)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "--latency-ms, --latency-jitter-ms, --stall-ms: "
                        "durations cannot be negative");
  if (f->retry_after < 0)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "--retry-after: cannot be negative");
  return PC_OK;
}

/* A decimal integer from 0 to `max`, the whole string. */
static int read_count(const char *s, int64_t max, int64_t *out)
{
  char *end;
  long long v;

  if (!*s || *s < '0' || *s > '9')
    return -1;
  v = strtoll(s, &end, 10);
  if (*end || v < 0 || v > max)
    return -1;
  *out = v;
  return 0;
}

int pc_sim_retry_after_parse(const char *spec, pc_sim_faults *f,
                             pc_error *err)
{
  int64_t v = 1;
  int form;

  if (strncmp(spec, "ms:", 3) == 0) {
    form = PC_SIM_RETRY_MS;
    if (read_count(spec + 3, 86400000, &v))
      goto bad;
  } else if (strcmp(spec, "date") == 0) {
    form = PC_SIM_RETRY_DATE;
  } else if (strncmp(spec, "date:", 5) == 0) {
    form = PC_SIM_RETRY_DATE;
    if (read_count(spec + 5, 86400, &v))
      goto bad;
  } else {
    form = PC_SIM_RETRY_SECONDS;
    if (read_count(spec, 86400, &v))
      goto bad;
  }
  f->retry_after_form = form;
  f->retry_after = v;
  return PC_OK;
bad:
  return pc_error_set(err, PC_E_INVALID_ARG,
                      "--retry-after: expected SECONDS, date, date:SECONDS "
                      "or ms:MILLISECONDS, got '%.40s'", spec);
}

/* ---- the table of request keys -------------------------------------- */

int pc__sim_fault_table_new(pc__sim_fault_table **out)
{
  pc__sim_fault_table *t = pc_calloc(1, sizeof(*t));

  *out = NULL;
  if (!t)
    return PC_E_NOMEM;
  t->cap = 1024;
  t->slots = pc_calloc(t->cap, sizeof(*t->slots));
  if (!t->slots) {
    pc_free(t);
    return PC_E_NOMEM;
  }
  pthread_mutex_init(&t->lock, NULL);
  *out = t;
  return PC_OK;
}

void pc__sim_fault_table_free(pc__sim_fault_table *t)
{
  if (!t)
    return;
  pthread_mutex_destroy(&t->lock);
  pc_free(t->slots);
  pc_free(t);
}

/* The slot of `key` in `slots` (cap a power of two): its own or the free
 * one where it belongs. The key is a SHA-256, so its first bytes are as
 * good a hash as any. */
static struct slot *find(struct slot *slots, size_t cap,
                         const unsigned char *key)
{
  uint64_t h;
  size_t i;

  memcpy(&h, key, sizeof(h));
  for (i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
    if (!slots[i].used || memcmp(slots[i].key, key, KEY_LEN) == 0)
      return &slots[i];
}

static int grow(pc__sim_fault_table *t)
{
  size_t cap = t->cap * 2;
  struct slot *s = pc_calloc(cap, sizeof(*s));

  if (!s)
    return PC_E_NOMEM;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].used)
      *find(s, cap, t->slots[i].key) = t->slots[i];
  pc_free(t->slots);
  t->slots = s;
  t->cap = cap;
  return PC_OK;
}

/* How many times `key` was seen before, counting this time. */
static int seen_before(pc__sim_fault_table *t, const unsigned char *key,
                       uint64_t *before)
{
  struct slot *s;
  int rc = PC_OK;

  pthread_mutex_lock(&t->lock);
  if ((t->used + 1) * 4 > t->cap * 3)
    rc = grow(t);
  if (!rc) {
    s = find(t->slots, t->cap, key);
    if (!s->used) {
      memcpy(s->key, key, KEY_LEN);
      s->used = 1;
      s->seen = 0;
      t->used++;
    }
    *before = s->seen++;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

/* A uniform number in [0, 1) from 53 bits of a draw. */
static double unit(uint64_t x)
{
  return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

int pc__sim_fault_draw(pc__sim_fault_table *t, const pc_sim_faults *f,
                       const unsigned char key[32], int *fault,
                       int64_t *sleep_ms)
{
  static const char hexd[] = "0123456789abcdef";
  char purpose[16 + 2 * KEY_LEN + 1];
  uint64_t before = 0;
  double u, edge;
  int rc;

  *fault = PC__SIM_FAULT_NONE;
  *sleep_ms = f->latency_ms;
  if (!pc__sim_faults_any(f) && f->latency_jitter_ms == 0)
    return PC_OK;  /* nothing to draw: the table is not needed */
  rc = seen_before(t, key, &before);
  if (rc)
    return rc;
  memcpy(purpose, "sim-fault:", 10);
  for (size_t i = 0; i < KEY_LEN; i++) {
    purpose[10 + 2 * i] = hexd[key[i] >> 4];
    purpose[11 + 2 * i] = hexd[key[i] & 15];
  }
  purpose[10 + 2 * KEY_LEN] = '\0';
  u = unit(pc_rng_u64(f->seed, purpose, before, 0));
  /* One draw against the cumulative fractions, in a fixed order. */
  edge = f->fail_429;
  if (u < edge) {
    *fault = PC__SIM_FAULT_429;
  } else if (u < (edge += f->fail_500)) {
    *fault = PC__SIM_FAULT_500;
  } else if (u < (edge += f->fail_503)) {
    *fault = PC__SIM_FAULT_503;
  } else if (u < (edge += f->stall)) {
    *fault = PC__SIM_FAULT_STALL;
  } else if (u < (edge += f->truncate)) {
    *fault = PC__SIM_FAULT_TRUNCATE;
  } else if (u < (edge += f->malformed)) {
    *fault = PC__SIM_FAULT_MALFORMED;
  }
  /* A fraction of exactly 1 always applies, whatever rounding did. */
  if (*fault == PC__SIM_FAULT_NONE && edge >= 1.0 - 1e-9) {
    if (f->malformed > 0) *fault = PC__SIM_FAULT_MALFORMED;
    else if (f->truncate > 0) *fault = PC__SIM_FAULT_TRUNCATE;
    else if (f->stall > 0) *fault = PC__SIM_FAULT_STALL;
    else if (f->fail_503 > 0) *fault = PC__SIM_FAULT_503;
    else if (f->fail_500 > 0) *fault = PC__SIM_FAULT_500;
    else *fault = PC__SIM_FAULT_429;
  }
  if (f->latency_jitter_ms > 0)
    *sleep_ms += (int64_t)(pc_rng_u64(f->seed, purpose, before, 1) %
                           (uint64_t)(f->latency_jitter_ms + 1));
  return PC_OK;
}
