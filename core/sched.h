/*
 * sched.h - the host scheduler: one worker pool for everything parallel
 * (evaluation, bootstrapping, candidate batches), bounded by one limit.
 *
 * A pool of `threads` runs batches. pc_sched_run(s, n, fn, ctx) calls
 * fn(ctx, i) once for every i in [0, n) and returns when all have
 * finished. The calling thread takes part, so `threads` counts it: a pool
 * of 1 starts no thread and runs everything on the caller, in index
 * order; a pool of N starts N-1 workers. Indices are handed out in
 * increasing order, so when index i has started, every index below i has
 * started too. Results stay in example order because each task writes
 * only its own slot, chosen by its index.
 *
 * A task may itself call pc_sched_run (a module that maps over a list):
 * the nested batch is run by its caller, helped by idle workers, so
 * nesting never deadlocks and never exceeds the limit.
 *
 * Stopping: a task (or anyone holding the batch) may call
 * pc_sched_stop(); no index that has not started yet will start, those
 * running finish, and pc_sched_run reports how many indices started.
 * Determinism is the caller's part: tasks draw random numbers from
 * pc_rng_u64 keyed by their index, never from shared state, so a run is
 * the same at 1 thread and at 64.
 *
 * The limit covers every caller: a thread calling pc_sched_run from
 * outside a task needs one of the pool's slots too, so a second outside
 * caller may wait while the workers run its batch. A `batch` pointer is
 * valid only until its pc_sched_run returns. A task must not wait for a
 * thread it started itself that calls pc_sched_run on the same pool:
 * that thread would need a slot of its own.
 *
 * Thread: all functions may be called from any thread; pc_sched_free
 * only once no batch is running. NULL pools, functions and batches are
 * harmless: pc_sched_run returns 0, the others do nothing (or return 0).
 */
#ifndef PC_SCHED_H
#define PC_SCHED_H

#include <stddef.h>

#include "errors.h"

#define PC_SCHED_MAX_THREADS 256

typedef struct pc_sched pc_sched;
typedef struct pc_sched_batch pc_sched_batch;

/* One task: handle index `index` of the batch, recording its outcome in
 * the caller's slot for that index. `batch` may be passed to
 * pc_sched_stop. */
typedef void (*pc_sched_fn)(void *ctx, size_t index, pc_sched_batch *batch);

/*
 * pc_sched_new - a pool running at most `threads` tasks at once
 * (1..PC_SCHED_MAX_THREADS; threads - 1 workers are started at once).
 * On success *out owns the pool (pc_sched_free). PC_E_INVALID_ARG for a
 * count out of range, PC_E_NOMEM or PC_E_INTERNAL (a thread could not be
 * started) with a message; *out is then NULL.
 */
int pc_sched_new(int threads, pc_sched **out, pc_error *err);

/* Stop and join the workers and release the pool. NULL is a no-op. */
void pc_sched_free(pc_sched *s);

/* The limit the pool was made with. */
int pc_sched_threads(const pc_sched *s);

/*
 * pc_sched_run - run fn(ctx, i, batch) for i = 0 .. n-1 and wait for all.
 *
 * Returns the number of indices that started: n, or fewer when the batch
 * was stopped. `ctx` is borrowed for the call. n == 0 returns 0 at once.
 */
size_t pc_sched_run(pc_sched *s, size_t n, pc_sched_fn fn, void *ctx);

/* No further index of `batch` will start. Safe from any thread, any
 * number of times. */
void pc_sched_stop(pc_sched_batch *batch);

/* Non-zero once pc_sched_stop was called on `batch`. */
int pc_sched_stopped(const pc_sched_batch *batch);

#endif
