/* sched.c - the host scheduler: a pthread worker pool that runs batches of
 * indexed tasks under one limit on how many run at once. */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <pthread.h>

#include "alloc.h"
#include "sched.h"

/*
 * How it works.
 *
 * The limit is kept as slots: a thread must hold one of the pool's
 * `threads` slots to run a task. The threads - 1 workers and every thread
 * that calls pc_sched_run from outside a task compete for them, so the
 * bound holds even when several outside threads run batches at once. A
 * thread already inside a task of this pool holds a slot; when that task
 * calls pc_sched_run (nesting), it runs the inner batch on the same slot
 * and needs no new one. Each thread remembers the pools it holds a slot
 * of in a thread-local chain of frames, one per task on its stack.
 *
 * Active batches form a list, newest first. An idle worker takes the next
 * index of the newest batch that has indices left, so nested batches
 * finish first; a caller runs only indices of its own batch and then
 * waits for those still running elsewhere. Indices are handed out under
 * the pool's lock from a per-batch counter, hence in increasing order.
 *
 * A slot is kept while its holder goes on running tasks and released when
 * it finds none to start, so a busy pool takes the lock twice per task
 * and wakes nobody.
 */

struct pc_sched_batch {
  pc_sched *s;                   /* borrowed: the pool running the batch */
  pc_sched_fn fn;
  void *ctx;                     /* borrowed: the caller's, for the run */
  size_t n;
  size_t next;                   /* next index to hand out; under s->mu */
  size_t running;                /* handed out, not finished; under s->mu */
  atomic_int stopped;            /* set by pc_sched_stop */
  struct pc_sched_batch *older;  /* active list, newest first; under s->mu */
  struct pc_sched_batch *newer;
};

struct pc_sched {
  pthread_mutex_t mu;
  pthread_cond_t work;            /* idle workers wait here */
  pthread_cond_t change;          /* callers wait here for a slot or done */
  int threads;                    /* the limit */
  int slots_used;                 /* threads holding a slot; under mu */
  int idle_workers;               /* workers waiting on `work`; under mu */
  int waiting_callers;            /* callers waiting on `change`; under mu */
  int shutdown;                   /* set by pc_sched_free; under mu */
  struct pc_sched_batch *newest;  /* active batches; under mu */
  pthread_t *workers;             /* owned: nworkers started threads */
  int nworkers;
};

/* One task running on this thread's stack, for the pool `s`. */
struct frame {
  const pc_sched *s;
  struct frame *up;
};

static _Thread_local struct frame *tls_frames;

/* Non-zero when this thread runs a task of `s`, so it holds a slot. */
static int holds_slot(const pc_sched *s)
{
  for (const struct frame *f = tls_frames; f; f = f->up)
    if (f->s == s)
      return 1;
  return 0;
}

/* Whether `b` has an index left to start. Caller holds the lock. */
static int has_work(const pc_sched_batch *b)
{
  return !atomic_load(&b->stopped) && b->next < b->n;
}

/* The newest active batch with an index left, or NULL. Lock held. */
static pc_sched_batch *pick(const pc_sched *s)
{
  for (pc_sched_batch *b = s->newest; b; b = b->older)
    if (has_work(b))
      return b;
  return NULL;
}

/* Give a slot back and wake whoever may now use it. Lock held. */
static void slot_release(pc_sched *s)
{
  s->slots_used--;
  if (s->idle_workers && pick(s))
    pthread_cond_signal(&s->work);
  if (s->waiting_callers)
    pthread_cond_broadcast(&s->change);
}

/*
 * Start the next index of `b` and run it with the lock released; the
 * calling thread holds a slot. Returns with the lock held again.
 */
static void run_one(pc_sched *s, pc_sched_batch *b)
{
  size_t i = b->next++;
  struct frame f;

  b->running++;
  pthread_mutex_unlock(&s->mu);
  f.s = s;
  f.up = tls_frames;
  tls_frames = &f;
  b->fn(b->ctx, i, b);
  tls_frames = f.up;
  pthread_mutex_lock(&s->mu);
  b->running--;
  /* The last one out tells the batch's caller, who may be waiting. */
  if (!b->running && !has_work(b) && s->waiting_callers)
    pthread_cond_broadcast(&s->change);
}

static void *worker_main(void *arg)
{
  pc_sched *s = arg;
  int have_slot = 0;

  pthread_mutex_lock(&s->mu);
  for (;;) {
    pc_sched_batch *b = pick(s);

    if (b && (have_slot || s->slots_used < s->threads)) {
      if (!have_slot) {
        s->slots_used++;
        have_slot = 1;
      }
      run_one(s, b);
      continue;
    }
    if (have_slot) {
      slot_release(s);
      have_slot = 0;
    }
    if (s->shutdown)
      break;
    s->idle_workers++;
    pthread_cond_wait(&s->work, &s->mu);
    s->idle_workers--;
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* Ask the workers to leave and join the first `n` of them. */
static void join_workers(pc_sched *s, int n)
{
  pthread_mutex_lock(&s->mu);
  s->shutdown = 1;
  pthread_cond_broadcast(&s->work);
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++)
    pthread_join(s->workers[i], NULL);
}

int pc_sched_new(int threads, pc_sched **out, pc_error *err)
{
  pc_sched *s = NULL;
  sigset_t all, old;
  int rc = PC_OK;
  int sync_ready = 0;
  int started = 0;

  *out = NULL;
  if (threads < 1 || threads > PC_SCHED_MAX_THREADS)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "sched: threads must be 1 to %d, not %d",
                        PC_SCHED_MAX_THREADS, threads);
  s = pc_calloc(1, sizeof(*s));
  if (!s) {
    rc = pc_error_set(err, PC_E_NOMEM, "sched: out of memory");
    goto fail;
  }
  s->threads = threads;
  s->nworkers = threads - 1;
  if (s->nworkers) {
    s->workers = pc_calloc((size_t)s->nworkers, sizeof(*s->workers));
    if (!s->workers) {
      rc = pc_error_set(err, PC_E_NOMEM, "sched: out of memory");
      goto fail;
    }
  }
  if (pthread_mutex_init(&s->mu, NULL))
    goto sync_fail;
  if (pthread_cond_init(&s->work, NULL)) {
    pthread_mutex_destroy(&s->mu);
    goto sync_fail;
  }
  if (pthread_cond_init(&s->change, NULL)) {
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    goto sync_fail;
  }
  sync_ready = 1;

  /* Workers start with every signal blocked, so a process's handlers
   * (SIGINT to cancel a compile) run on its own threads, never on ours. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (; started < s->nworkers; started++) {
    int e = pthread_create(&s->workers[started], NULL, worker_main, s);

    if (e) {
      rc = pc_error_set(err, PC_E_INTERNAL,
                        "sched: cannot start worker thread %d of %d: %s",
                        started + 1, s->nworkers, strerror(e));
      break;
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc)
    goto fail;
  *out = s;
  return PC_OK;

sync_fail:
  rc = pc_error_set(err, PC_E_INTERNAL,
                    "sched: cannot initialise a mutex or condition");
fail:
  if (s) {
    if (sync_ready) {
      join_workers(s, started);
      pthread_cond_destroy(&s->change);
      pthread_cond_destroy(&s->work);
      pthread_mutex_destroy(&s->mu);
    }
    pc_free(s->workers);
    pc_free(s);
  }
  return rc;
}

void pc_sched_free(pc_sched *s)
{
  if (!s)
    return;
  join_workers(s, s->nworkers);
  pthread_cond_destroy(&s->change);
  pthread_cond_destroy(&s->work);
  pthread_mutex_destroy(&s->mu);
  pc_free(s->workers);
  pc_free(s);
}

int pc_sched_threads(const pc_sched *s)
{
  return s ? s->threads : 0;
}

size_t pc_sched_run(pc_sched *s, size_t n, pc_sched_fn fn, void *ctx)
{
  pc_sched_batch b;
  int nested;
  int have_slot;
  size_t started;

  if (!n || !s || !fn)
    return 0;
  memset(&b, 0, sizeof(b));
  b.s = s;
  b.fn = fn;
  b.ctx = ctx;
  b.n = n;
  atomic_init(&b.stopped, 0);
  /* A task of this pool calling us already holds a slot: use it. */
  nested = holds_slot(s);
  have_slot = nested;

  pthread_mutex_lock(&s->mu);
  b.older = s->newest;
  if (s->newest)
    s->newest->newer = &b;
  s->newest = &b;
  if (s->idle_workers && n > 1)
    pthread_cond_broadcast(&s->work);

  for (;;) {
    if (has_work(&b)) {
      if (have_slot || s->slots_used < s->threads) {
        if (!have_slot) {
          s->slots_used++;
          have_slot = 1;
        }
        run_one(s, &b);
        continue;
      }
    } else {
      /* Nothing left to start: hand the slot on, wait for the rest. */
      if (have_slot && !nested) {
        slot_release(s);
        have_slot = 0;
      }
      if (!b.running)
        break;
    }
    s->waiting_callers++;
    pthread_cond_wait(&s->change, &s->mu);
    s->waiting_callers--;
  }

  if (b.newer)
    b.newer->older = b.older;
  else
    s->newest = b.older;
  if (b.older)
    b.older->newer = b.newer;
  started = b.next;
  pthread_mutex_unlock(&s->mu);
  return started;
}

void pc_sched_stop(pc_sched_batch *batch)
{
  pc_sched *s;

  if (!batch)
    return;
  s = batch->s;
  pthread_mutex_lock(&s->mu);
  atomic_store(&batch->stopped, 1);
  /* Its caller may be waiting for a slot it no longer needs. */
  if (s->waiting_callers)
    pthread_cond_broadcast(&s->change);
  pthread_mutex_unlock(&s->mu);
}

int pc_sched_stopped(const pc_sched_batch *batch)
{
  return batch ? atomic_load(&batch->stopped) : 0;
}
