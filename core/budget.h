/*
 * budget.h - hard caps on what a compile may spend (LM calls, tokens,
 * dollars, wall time) and the running count against them.
 *
 * Calls count every LM request the compile makes, answered from the cache
 * or not, so a capped compile stops at the same point whatever the cache
 * holds. Tokens and dollars count what was paid: tokens of requests that
 * reached a provider, priced by the config's pricing table. A pc_budget
 * is used by many threads at once; every function is thread-safe.
 */
#ifndef PC_BUDGET_H
#define PC_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Caps; a cap <= 0 is not set. */
typedef struct pc_budget_caps {
  int64_t max_calls;
  int64_t max_tokens;
  double max_cost;      /* USD */
  int64_t max_time_ms;
} pc_budget_caps;

/* What has been spent. cost is NAN when some spending had no price. */
typedef struct pc_budget_spent {
  int64_t calls;
  int64_t tokens;
  double cost;
  int64_t elapsed_ms;
} pc_budget_spent;

typedef struct pc_budget pc_budget;

/* A budget with `caps` (copied; NULL: none), its clock started at
 * `start_ns` (monotonic). NULL when out of memory. Free with
 * pc_budget_free. */
pc_budget *pc_budget_new(const pc_budget_caps *caps, uint64_t start_ns);
void pc_budget_free(pc_budget *b);  /* NULL is a no-op */

/* Add spending that is not measured live: what an earlier session of a
 * resumed compile spent, replayed from the run store. */
void pc_budget_add_base(pc_budget *b, const pc_budget_spent *more);

/* Set the live spending (measured from the runtime's counters). */
void pc_budget_set_live(pc_budget *b, int64_t calls, int64_t tokens,
                        double cost);

/* Base + live, with the time elapsed at `now_ns`. */
void pc_budget_total(pc_budget *b, uint64_t now_ns, pc_budget_spent *out);

/* The name of the first cap reached at `now_ns` ("max_calls",
 * "max_tokens", "max_cost", "max_time"), or NULL while there is room.
 * With `strict`, a counted cap is reached only once it is exceeded, and
 * time is not looked at (used after a batch: spending exactly the cap is
 * allowed, and the clock stops the next request, not the answer to one
 * that has finished); without, a cap is reached at its value (used before
 * starting more work). Static string. */
const char *pc_budget_exhausted(pc_budget *b, uint64_t now_ns, int strict);

/* One line describing how cap `cap` was reached into buf: "max_calls 100
 * reached (101 LM calls)". */
void pc_budget_describe(pc_budget *b, const char *cap, uint64_t now_ns,
                        char *buf, size_t n);

/* {"calls", "tokens", "cost" (null when unknown), "elapsed_ms", "max_*"
 * (only the caps that are set), "exhausted", "reason"} as a new object,
 * NULL when out of memory. */
struct json_object *pc_budget_to_json(pc_budget *b, uint64_t now_ns);

#endif
