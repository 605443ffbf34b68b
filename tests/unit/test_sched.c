/* tests/unit/test_sched.c: core/sched.c, the worker pool; suite "sched". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "harness.h"
#include "host.h"
#include "sched.h"

#define N_DET 1000
#define N_OUTER 100
#define N_INNER 20

static void sleep_us(long us)
{
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

  nanosleep(&ts, NULL);
}

static pc_sched *new_pool(int threads)
{
  pc_sched *s = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_sched_new(threads, &s, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(pc_sched_threads(s), threads);
  return s;
}

/* Tracks how many tasks run at once, and the most seen. */
struct gauge {
  atomic_int running;
  atomic_int max;
};

static void gauge_enter(struct gauge *g)
{
  int now = atomic_fetch_add(&g->running, 1) + 1;
  int seen = atomic_load(&g->max);

  while (now > seen && !atomic_compare_exchange_weak(&g->max, &seen, now))
    ;
}

static void gauge_leave(struct gauge *g)
{
  atomic_fetch_sub(&g->running, 1);
}

/* ---- results in order, each index once ------------------------------- */

struct det {
  uint64_t out[N_DET];
  atomic_int runs[N_DET];
};

static void det_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct det *d = ctx;
  uint64_t v = 0;

  (void)batch;
  /* A few keyed draws, so the value depends on the index alone. */
  for (uint64_t k = 0; k < 4; k++)
    v ^= pc_rng_u64(42, "sched.test", index, k) >> k;
  d->out[index] = v;
  atomic_fetch_add(&d->runs[index], 1);
}

static void det_run(int threads, struct det *d)
{
  pc_sched *s = new_pool(threads);

  memset(d, 0, sizeof(*d));
  CU_ASSERT_EQUAL(pc_sched_run(s, N_DET, det_task, d), N_DET);
  for (size_t i = 0; i < N_DET; i++)
    CU_ASSERT_EQUAL(atomic_load(&d->runs[i]), 1);
  pc_sched_free(s);
}

static void test_results_identical_at_1_4_32_threads(void)
{
  static struct det one, four, many;

  det_run(1, &one);
  det_run(4, &four);
  det_run(32, &many);
  CU_ASSERT_EQUAL(memcmp(one.out, four.out, sizeof(one.out)), 0);
  CU_ASSERT_EQUAL(memcmp(one.out, many.out, sizeof(one.out)), 0);
  /* The slots hold f(index), not whatever ran last. */
  CU_ASSERT_NOT_EQUAL(one.out[0], one.out[1]);
  CU_ASSERT_EQUAL(one.out[7], pc_rng_u64(42, "sched.test", 7, 0)
                  ^ pc_rng_u64(42, "sched.test", 7, 1) >> 1
                  ^ pc_rng_u64(42, "sched.test", 7, 2) >> 2
                  ^ pc_rng_u64(42, "sched.test", 7, 3) >> 3);
}

/* ---- the concurrency bound ------------------------------------------- */

static void sleepy_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct gauge *g = ctx;

  (void)index;
  (void)batch;
  gauge_enter(g);
  sleep_us(1000);
  gauge_leave(g);
}

static int bound_max(int threads, size_t n)
{
  pc_sched *s = new_pool(threads);
  struct gauge g;

  atomic_init(&g.running, 0);
  atomic_init(&g.max, 0);
  CU_ASSERT_EQUAL(pc_sched_run(s, n, sleepy_task, &g), n);
  CU_ASSERT_EQUAL(atomic_load(&g.running), 0);
  pc_sched_free(s);
  return atomic_load(&g.max);
}

static void test_never_more_tasks_at_once_than_threads(void)
{
  int m1 = bound_max(1, 16);
  int m4 = bound_max(4, 64);
  int m8 = bound_max(8, 64);

  CU_ASSERT_EQUAL(m1, 1);
  CU_ASSERT(m4 <= 4);
  CU_ASSERT(m4 > 1);  /* the workers do take part */
  CU_ASSERT(m8 <= 8);
}

/* ---- indices start in increasing order ------------------------------- */

struct order {
  pthread_mutex_t mu;
  size_t log[N_DET];       /* indices in the order tasks began */
  size_t nlog;
  unsigned char done[N_DET];
  int threads;
  int window_violations;   /* lower indices missing beyond the limit */
};

static void order_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct order *o = ctx;
  size_t unfinished = 0;

  (void)batch;
  pthread_mutex_lock(&o->mu);
  o->log[o->nlog++] = index;
  /* Every lower index was handed out before this one; those not finished
   * yet are still running, and at most threads - 1 others can be. */
  for (size_t j = 0; j < index; j++)
    unfinished += !o->done[j];
  if (unfinished > (size_t)o->threads - 1)
    o->window_violations++;
  pthread_mutex_unlock(&o->mu);
  sleep_us(index % 7 == 0 ? 200 : 0);
  pthread_mutex_lock(&o->mu);
  o->done[index] = 1;
  pthread_mutex_unlock(&o->mu);
}

static void order_run(int threads, struct order *o)
{
  pc_sched *s = new_pool(threads);

  memset(o, 0, sizeof(*o));
  pthread_mutex_init(&o->mu, NULL);
  o->threads = threads;
  CU_ASSERT_EQUAL(pc_sched_run(s, 300, order_task, o), 300);
  pc_sched_free(s);
  pthread_mutex_destroy(&o->mu);
  CU_ASSERT_EQUAL(o->nlog, 300);
  CU_ASSERT_EQUAL(o->window_violations, 0);
}

static void test_indices_start_in_increasing_order(void)
{
  static struct order o;
  size_t i;

  /* One thread: exactly 0, 1, 2, ... on the caller. */
  order_run(1, &o);
  for (i = 0; i < o.nlog && o.log[i] == i; i++)
    ;
  CU_ASSERT_EQUAL(i, 300);
  /* More threads: a task may log itself a moment after a later one, but
   * never while more lower indices are unfinished than could be running. */
  order_run(4, &o);
  order_run(32, &o);
}

/* ---- stop ------------------------------------------------------------ */

struct stopper {
  atomic_int ran[200];
  atomic_int before_stop; /* stopped() as index 10 saw it before */
  atomic_int after_stop;  /* and after stopping (CUnit is not
                           * thread-safe: tasks record, main asserts) */
};

static void stop_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct stopper *st = ctx;

  atomic_fetch_add(&st->ran[index], 1);
  if (index == 10) {
    atomic_store(&st->before_stop, pc_sched_stopped(batch));
    pc_sched_stop(batch);
    pc_sched_stop(batch);  /* twice is harmless */
    atomic_store(&st->after_stop, pc_sched_stopped(batch));
  } else if (index > 10) {
    /* Hold this thread until the stop, so the count is exact: index 10
     * started before us and will stop the batch. */
    while (!pc_sched_stopped(batch))
      sleep_us(100);
  }
}

static void stop_run(int threads)
{
  pc_sched *s = new_pool(threads);
  struct stopper st;
  size_t got, i;

  memset(&st, 0, sizeof(st));
  got = pc_sched_run(s, 200, stop_task, &st);
  CU_ASSERT(got >= 11);
  CU_ASSERT(got <= 10 + (size_t)threads);
  CU_ASSERT_EQUAL(atomic_load(&st.before_stop), 0);
  CU_ASSERT_EQUAL(atomic_load(&st.after_stop), 1);
  for (i = 0; i < 200; i++)
    CU_ASSERT_EQUAL(atomic_load(&st.ran[i]), i < got ? 1 : 0);
  pc_sched_free(s);
}

static void test_stop_starts_no_further_index(void)
{
  stop_run(1);
  stop_run(4);
  stop_run(16);
}

/* ---- nested batches -------------------------------------------------- */

struct nest {
  pc_sched *s;
  atomic_int slots[N_OUTER * N_INNER];
  atomic_int inner_started[N_OUTER];
  struct gauge g;          /* inner tasks at once */
};

struct nest_outer {
  struct nest *n;
  size_t outer;
};

static void inner_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct nest_outer *no = ctx;

  (void)batch;
  gauge_enter(&no->n->g);
  atomic_fetch_add(&no->n->slots[no->outer * N_INNER + index], 1);
  if (index % 5 == 0)
    sleep_us(50);
  gauge_leave(&no->n->g);
}

static void outer_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct nest *n = ctx;
  struct nest_outer no = {n, index};

  (void)batch;
  atomic_store(&n->inner_started[index],
               (int)pc_sched_run(n->s, N_INNER, inner_task, &no));
}

static void nest_run(int threads)
{
  static struct nest n;

  memset(&n, 0, sizeof(n));
  n.s = new_pool(threads);
  CU_ASSERT_EQUAL(pc_sched_run(n.s, N_OUTER, outer_task, &n), N_OUTER);
  for (size_t i = 0; i < N_OUTER; i++)
    CU_ASSERT_EQUAL(atomic_load(&n.inner_started[i]), N_INNER);
  for (size_t i = 0; i < N_OUTER * N_INNER; i++)
    CU_ASSERT_EQUAL(atomic_load(&n.slots[i]), 1);
  CU_ASSERT(atomic_load(&n.g.max) <= threads);
  pc_sched_free(n.s);
}

static void test_nested_batches_fill_every_slot(void)
{
  nest_run(1);
  nest_run(2);
  nest_run(8);
}

/* ---- batches from two outside threads -------------------------------- */

struct shared_pool {
  pc_sched *s;
  pthread_barrier_t go;    /* both callers start their batch together */
  struct gauge g;          /* tasks of both batches at once */
};

struct caller {
  struct shared_pool *sp;
  uint64_t seed;
  uint64_t out[500];
  size_t started;
};

static void caller_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  struct caller *c = ctx;

  (void)batch;
  gauge_enter(&c->sp->g);
  c->out[index] = pc_rng_u64(c->seed, "sched.caller", index, 0);
  if (index % 50 == 0)
    sleep_us(200);
  gauge_leave(&c->sp->g);
}

static void *caller_main(void *arg)
{
  struct caller *c = arg;

  pthread_barrier_wait(&c->sp->go);
  c->started = pc_sched_run(c->sp->s, 500, caller_task, c);
  return NULL;
}

static void two_callers(int threads)
{
  static struct caller a, b;
  struct shared_pool sp;
  pthread_t ta, tb;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  sp.s = new_pool(threads);
  pthread_barrier_init(&sp.go, NULL, 2);
  atomic_init(&sp.g.running, 0);
  atomic_init(&sp.g.max, 0);
  a.sp = b.sp = &sp;
  a.seed = 1;
  b.seed = 2;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, caller_main, &a), 0);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, caller_main, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CU_ASSERT_EQUAL(a.started, 500);
  CU_ASSERT_EQUAL(b.started, 500);
  for (size_t i = 0; i < 500; i++) {
    CU_ASSERT_EQUAL(a.out[i], pc_rng_u64(1, "sched.caller", i, 0));
    CU_ASSERT_EQUAL(b.out[i], pc_rng_u64(2, "sched.caller", i, 0));
  }
  /* Each outside caller takes part, yet the pool's limit still holds. */
  CU_ASSERT(atomic_load(&sp.g.max) <= threads);
  pc_sched_free(sp.s);
  pthread_barrier_destroy(&sp.go);
}

static void test_concurrent_batches_from_two_threads(void)
{
  two_callers(1);
  two_callers(4);
}

/* ---- edges and errors ------------------------------------------------ */

static void never_task(void *ctx, size_t index, pc_sched_batch *batch)
{
  (void)index;
  (void)batch;
  atomic_fetch_add((atomic_int *)ctx, 1);
}

static void test_empty_batch_returns_zero(void)
{
  pc_sched *s = new_pool(3);
  atomic_int calls;

  atomic_init(&calls, 0);
  CU_ASSERT_EQUAL(pc_sched_run(s, 0, never_task, &calls), 0);
  CU_ASSERT_EQUAL(atomic_load(&calls), 0);
  CU_ASSERT_EQUAL(pc_sched_run(s, 1, never_task, &calls), 1);
  CU_ASSERT_EQUAL(atomic_load(&calls), 1);
  pc_sched_free(s);
  pc_sched_free(NULL);
}

static void test_thread_count_out_of_range_is_invalid(void)
{
  pc_sched *s = (pc_sched *)&s;  /* non-NULL sentinel: must be reset */
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_sched_new(0, &s, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "threads"));
  pc_error_clear(&err);
  s = (pc_sched *)&s;
  CU_ASSERT_EQUAL(pc_sched_new(PC_SCHED_MAX_THREADS + 1, &s, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(s);
  /* The largest pool is allowed. */
  CU_ASSERT_EQUAL(pc_sched_new(PC_SCHED_MAX_THREADS, &s, NULL), PC_OK);
  CU_ASSERT_EQUAL(pc_sched_threads(s), PC_SCHED_MAX_THREADS);
  pc_sched_free(s);
}

static void test_out_of_memory_is_reported(void)
{
  /* Allocation 1 is the pool, 2 the worker table. */
  for (unsigned long k = 1; k <= 2; k++) {
    pc_sched *s = (pc_sched *)&s;
    pc_error err = PC_ERROR_INIT;

    pc__alloc_fail_at(k);
    CU_ASSERT_EQUAL(pc_sched_new(4, &s, &err), PC_E_NOMEM);
    pc__alloc_fail_at(0);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sched"));
  }
}

static CU_TestInfo sched_tests[] = {
  {"results identical at 1, 4 and 32 threads, each index once",
   test_results_identical_at_1_4_32_threads},
  {"never more tasks at once than threads",
   test_never_more_tasks_at_once_than_threads},
  {"indices start in increasing order",
   test_indices_start_in_increasing_order},
  {"stop starts no further index", test_stop_starts_no_further_index},
  {"nested batches fill every slot at 1, 2 and 8 threads",
   test_nested_batches_fill_every_slot},
  {"concurrent batches from two threads share one pool",
   test_concurrent_batches_from_two_threads},
  {"empty batch returns 0 and runs nothing", test_empty_batch_returns_zero},
  {"thread count out of range is invalid",
   test_thread_count_out_of_range_is_invalid},
  {"out of memory is reported", test_out_of_memory_is_reported},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"sched", NULL, NULL, NULL, NULL, sched_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
