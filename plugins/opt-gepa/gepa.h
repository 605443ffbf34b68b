/*
 * gepa.h - the parts of the GEPA optimizer (docs/optimizer-gepa.md) that
 * its files share: candidates, the per-instance Pareto front, the batch
 * sampler, merge pairing, the reflective dataset and the text helpers.
 *
 * Everything here is compiled into the opt-gepa plugin and, for the pure
 * parts, into its unit test; names are pc__gepa_* (hidden by the plugin's
 * -fvisibility=hidden).
 */
#ifndef PC_OPT_GEPA_H
#define PC_OPT_GEPA_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"

#define PC__GEPA_SEED 0        /* candidate kinds */
#define PC__GEPA_REFLECTION 1
#define PC__GEPA_MERGE 2

/* The val ids a merged candidate is tried on, and the fewest val ids two
 * parents must share for a merge (GEPA's merge_val_overlap_floor). */
#define PC__GEPA_MERGE_SUBSAMPLE 5
#define PC__GEPA_MERGE_OVERLAP_FLOOR 5
/* GEPA's attempts when looking for a merge pair (outer and inner). */
#define PC__GEPA_MERGE_ATTEMPTS 10

/* One candidate program: its component texts (one instruction per
 * predictor, in program order) and what is known about it. */
typedef struct pc__gepa_cand {
  char **texts;          /* owned: n_comp texts */
  int64_t parents[2];    /* the first n_parents are set */
  int n_parents;         /* 0 (seed), 1 (reflection) or 2 (merge) */
  double *val_scores;    /* owned: one score per val example */
  double agg;            /* mean of val_scores */
  size_t rr;             /* round-robin pointer: next component */
  int64_t discovered;    /* metric calls spent when it was found */
  int kind;              /* PC__GEPA_* */
} pc__gepa_cand;

/* ------------------------------------------------------------------------ */
/* Budget (gepa_front.c).                                                   */

/*
 * The metric-call budget of an `auto` preset: MIPROv2's formula with
 * n = 6, 12 or 18 candidates (light, medium, heavy), minibatch 35 and a
 * full evaluation every 5 steps, over max(n_preds, 1) components and
 * n_val val examples (reference section 8.2).
 */
int64_t pc__gepa_auto_budget(int64_t n_candidates, int64_t n_preds,
                             int64_t n_val);

/* ------------------------------------------------------------------------ */
/* The per-instance Pareto front (gepa_front.c).                            */

typedef struct pc__gepa_front {
  const pc__opt_host *h;  /* borrowed */
  size_t n_val;
  double *best;           /* owned: best score per val id */
  int64_t **members;      /* owned: per val id, the candidates at best */
  size_t *n_members;      /* owned */
  size_t *cap_members;    /* owned */
} pc__gepa_front;

/* A front over n_val ids, empty. PC_E_NOMEM leaves f holding nothing. */
int pc__gepa_front_init(pc__gepa_front *f, const pc__opt_host *h,
                        size_t n_val);
void pc__gepa_front_free(pc__gepa_front *f);  /* zeroed f: no-op */
/*
 * Add candidate `cand` with its scores (n_val of them): on each id a
 * higher score makes it the front's only member, an equal one joins it.
 * The first candidate added starts every id's front.
 */
int pc__gepa_front_add(pc__gepa_front *f, int64_t cand,
                       const double *scores);
/* Whether candidate c sits on the front of val id v. */
int pc__gepa_front_has(const pc__gepa_front *f, size_t v, int64_t c);

/*
 * GEPA's remove_dominated_programs: the candidates on some front are
 * visited in ascending aggregate score (ties: lower index first); the
 * first one all of whose fronts hold another surviving candidate is
 * removed, and the visit restarts, until none is. alive[0..n) (caller
 * storage) gets 1 for the survivors, 0 for every other candidate.
 */
int pc__gepa_front_survivors(const pc__gepa_front *f, const double *agg,
                             size_t n, unsigned char *alive);

/* For each candidate, the number of val ids on whose front it sits after
 * the dominated ones are removed (counts[0..n), caller storage); returns
 * the sum, or -1 when out of memory. */
int64_t pc__gepa_front_counts(const pc__gepa_front *f, const double *agg,
                              size_t n, int64_t *counts);

/* Pareto selection: a candidate drawn with probability proportional to
 * its count. *out is -1 when out of memory. */
void pc__gepa_select_pareto(const pc__gepa_front *f, const double *agg,
                            size_t n, pc__opt_rng *rng, int64_t *out);
/* current_best: the highest aggregate score, the first on ties. */
int64_t pc__gepa_select_best(const double *agg, size_t n);

/* ------------------------------------------------------------------------ */
/* The epoch-shuffled batch sampler (gepa_front.c).                         */

typedef struct pc__gepa_sampler {
  const pc__opt_host *h;  /* borrowed */
  uint64_t seed;
  size_t n_train;
  size_t b;               /* minibatch size */
  int64_t epoch;          /* -1 before the first */
  int64_t *order;         /* owned: this epoch's ids, padded */
  size_t n_order;
  int64_t *freq;          /* owned: times each id was placed so far */
} pc__gepa_sampler;

int pc__gepa_sampler_init(pc__gepa_sampler *s, const pc__opt_host *h,
                          uint64_t seed, size_t n_train, size_t b);
void pc__gepa_sampler_free(pc__gepa_sampler *s);
/*
 * The minibatch of iteration `it` (from 0) into out[0..b): the slice
 * [it * b mod L, + b) of the epoch's order of length L. An epoch is the
 * train ids shuffled (purpose "gepa-batch", index = epoch), padded to a
 * multiple of b with the least placed ids; a new one starts when it * b
 * passes the end of the current one.
 */
int pc__gepa_sampler_next(pc__gepa_sampler *s, int64_t it, int64_t *out);

/* ------------------------------------------------------------------------ */
/* Merge (gepa_merge.c).                                                    */

/* What merge has tried: (i, j, ancestor) triples and (i, j, sources)
 * children, so neither is tried twice. */
typedef struct pc__gepa_merge_log {
  const pc__opt_host *h;  /* borrowed */
  size_t n_comp;
  int64_t *triples;       /* owned: 3 per entry */
  size_t n_triples, cap_triples;
  int64_t *children;      /* owned: 2 + n_comp per entry */
  size_t n_children, cap_children;
} pc__gepa_merge_log;

void pc__gepa_merge_log_init(pc__gepa_merge_log *m, const pc__opt_host *h,
                             size_t n_comp);
void pc__gepa_merge_log_free(pc__gepa_merge_log *m);

/* anc[0..n) (caller storage) = 1 for every ancestor of `who` (its
 * parents, their parents, ...), else 0. */
void pc__gepa_ancestors(const pc__gepa_cand *c, size_t n, int64_t who,
                        unsigned char *anc);

/*
 * The merge child's sources: for each component k, the candidate whose
 * text the child takes (src[k]), from parents i and j and ancestor a. A
 * component equal in a and one parent takes the other parent's; one that
 * both parents changed takes the better parent's (by aggregate score; a
 * draw on ties); one both parents share takes theirs.
 */
void pc__gepa_merge_sources(const pc__gepa_cand *c, size_t n_comp,
                            int64_t i, int64_t j, int64_t a,
                            pc__opt_rng *rng, int64_t *src);

/*
 * Look for a merge among the survivors (alive[0..n)): up to 10 times,
 * look (up to 10 draws) for two survivors i < j, neither an ancestor of
 * the other, with a common ancestor a not tried with them, no better than
 * either and equal to one of them in a component where they differ (a
 * drawn with weight its aggregate score); then build the child's sources.
 * On success *found = 1, *i, *j, *a and src[0..n_comp) are set and the
 * triple and child are logged. Needs >= 2 survivors and >= 3 candidates.
 * PC_E_NOMEM when the log cannot grow.
 */
int pc__gepa_merge_find(pc__gepa_merge_log *m, const pc__gepa_cand *c,
                        size_t n, const unsigned char *alive,
                        pc__opt_rng *rng, int *found, int64_t *i,
                        int64_t *j, int64_t *a, int64_t *src);

/*
 * The val ids a merged candidate is tried on: k ids of n_val, stratified
 * over the ids where parent 1 scores higher, where parent 2 does, and the
 * ties: up to ceil(k / 3) from each group in that order, the rest drawn
 * from the unused ids (with replacement only when too few are left).
 * out[0..k) is caller storage. PC_E_NOMEM when out of memory.
 */
int pc__gepa_merge_subsample(const pc__opt_host *h, const double *s1,
                             const double *s2, size_t n_val, size_t k,
                             pc__opt_rng *rng, int64_t *out);

/* ------------------------------------------------------------------------ */
/* Reflection (gepa_reflect.c).                                             */

/*
 * GEPA's extraction of a proposed text from the reflection LM's answer:
 * the text between the first and the last ``` (without a language tag on
 * the first line); without a complete pair, the answer without a leading
 * fence (and tag) or a trailing one; else the whole answer; trimmed. Sets
 * [*a, *b) within s[0..len).
 */
void pc__gepa_fence_span(const char *s, size_t len, size_t *a, size_t *b);

/*
 * The records of a reflective dataset as markdown: "# Example k", then
 * for each member "## <key>" and its value: objects as "### <key>"
 * headings (one level deeper per nesting, at most 6), arrays as "Item n"
 * headings, anything else as its text, trimmed, and a blank line.
 * Examples are separated by a blank line. *out owned (pc__opt_free).
 */
int pc__gepa_render_records(const pc__opt_host *h, const pc_json *records,
                            char **out, pc_error *err);

/*
 * The generic feedback for an example scored without metric feedback:
 * "This trajectory got a score of S. The expected output was: f: v, ...".
 * The expected fields are the example's fields named in `outputs` (an
 * array of field names), else those not in `input_keys`. *out owned.
 */
int pc__gepa_generic_feedback(const pc__opt_host *h, double score,
                              const pc_json *fields, const pc_json *outputs,
                              const pc_json *input_keys, char **out,
                              pc_error *err);

/* What the reflective dataset of one predictor is built from. */
typedef struct pc__gepa_reflect_in {
  const char *path;            /* the predictor's path */
  const pc_json *signature;    /* its signature (plugin form) */
  const pc_json *answer;       /* the parent's minibatch evaluation, with
                                  traces and feedback */
  const pc_json *examples;     /* the train split's examples */
  const pc_json *outputs;      /* the output names of every predictor */
  const pc_json *input_keys;   /* the train split's input keys */
  int add_format_failures;     /* keep parse failures as records */
  pc__opt_rng *rng;            /* picks one of several calls */
} pc__gepa_reflect_in;

/*
 * The reflective dataset of one predictor (DSPy's make_reflective_dataset
 * for one component): per example of the minibatch, one record
 * {"Inputs", "Generated Outputs", "Feedback"} from one call of the
 * predictor in its trace (a random one of several) and the example's
 * feedback (the metric's, else the generic one). Examples where the
 * predictor did not run, or the run failed, give none; a parse failure
 * of this predictor gives a format record only with add_format_failures.
 * *out owns the array (possibly empty).
 */
int pc__gepa_records(const pc__opt_host *h, const pc__gepa_reflect_in *in,
                     pc_json **out, pc_error *err);

/* Python's str() of a JSON value as DSPy shows it in records: strings as
 * they are, anything else as its JSON text. *out owned. */
int pc__gepa_value_text(const pc__opt_host *h, const pc_json *v,
                        char **out);

#endif
