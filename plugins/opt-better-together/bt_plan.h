/*
 * bt_plan.h - the pure parts of the `better-together` optimizer: reading
 * the strategy string, the size of the held-out val set, strategy labels
 * and the ranking of candidates. Only libc; the unit test compiles it in.
 */
#ifndef PC_BT_PLAN_H
#define PC_BT_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* The most steps a strategy may have. */
#define PC__BT_MAX_STEPS 32

/* The separator DSPy splits a strategy on, exactly. */
#define PC__BT_SEP " -> "

/*
 * pc__bt_strategy_parse - split `text` on exactly " -> " into step
 * letters, each "p" (prompt optimizer) or "w" (weights: the fine-tuning
 * data, then the fine-tuned model). On success returns 0, letters[] (caller
 * storage, at least PC__BT_MAX_STEPS + 1 bytes) holds the letters as a
 * NUL-terminated string and *n their count. On failure returns -1 and
 * msg (caller storage, msg_len bytes) holds one line that starts with
 * "strategy: " and names the bad step and its text.
 */
int pc__bt_strategy_parse(const char *text, char *letters, size_t *n,
                          char *msg, size_t msg_len);

/*
 * pc__bt_strategy_prefix - the strategy of the first k steps of
 * letters[] ("" for k = 0, "p", "p -> w", ...) written to out (caller
 * storage, cap bytes, NUL-terminated). Returns 0, or -1 when it does not
 * fit (out then holds "").
 */
int pc__bt_strategy_prefix(const char *letters, size_t k, char *out,
                           size_t cap);

/*
 * pc__bt_val_count - how many of n_train examples DSPy holds out as val
 * when no valset is given: int(ratio x n_train), truncated as Python's
 * int() truncates the same double product. ratio lies in [0, 1).
 */
int64_t pc__bt_val_count(int64_t n_train, double ratio);

/*
 * pc__bt_evaluations - how many evaluations on val a compile makes for
 * the strategy letters[0..n): the baseline and one after each step, but
 * with export_only the sequence ends at the first w step, which itself
 * is not evaluated (the program is unchanged by it).
 */
int64_t pc__bt_evaluations(const char *letters, size_t n, int export_only);

/*
 * pc__bt_rank - order[0..n) (caller storage) gets the candidate numbers
 * 0..n-1 sorted by score, best first, the earlier candidate first among
 * equal scores (Python's stable sort with reverse=True). has[i] == 0
 * marks a candidate without a score (DSPy's None), which ranks below
 * every score.
 */
void pc__bt_rank(const double *score, const int *has, size_t n,
                 size_t *order);

#endif
