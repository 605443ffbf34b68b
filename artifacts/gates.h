/*
 * gates.h - release gates: the checks a candidate artifact must pass on
 * held-out data before a channel moves to it, and the table that shows
 * every check with its measured value, threshold and verdict.
 *
 * A gates file (docs/releases.md, "Gates"), every member optional except
 * "schema"; scores are means in [0, 1]:
 *
 *   {"schema": "promptc.gates/1",
 *    "metric": "exact_match",        what promote scores with (NAME[:FIELD];
 *                                    default: the caller's)
 *    "min_score": 0.70,              overall score on the test split
 *    "min_slice_score": {"billing": 0.6, "*": 0.3},
 *                                    per slice; "*" is every slice
 *    "max_regression": 0.02,         candidate >= current - 0.02 overall
 *    "max_slice_regression": 0.10,   the same for every slice
 *    "critical_slices": ["account"], these may not regress by more than
 *    "critical_regression": 0.0,     this (default 0), whatever the mean
 *    "min_test_size": 50,            examples scored
 *    "disjoint": true,               no test example in train or val
 *                                    (by content hash; default true)
 *    "require_key": ["11BB5D00D657B336"],  signed by one of these
 *    "require_model": {"lm": "sim-1@..."}} recorded model identities
 *
 * Regression gates compare with the channel's current artifact evaluated
 * on the same test split; when the channel is empty they pass with
 * "no current artifact". A slice named in the gates but absent from the
 * test split fails (a gate that cannot be measured never passes).
 */
#ifndef PC_GATES_H
#define PC_GATES_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"

typedef struct pc_gates pc_gates;

/* Scores of one program on the test split. */
typedef struct pc_gate_slice {
  const char *name;
  size_t n;
  double mean;
} pc_gate_slice;

typedef struct pc_gate_scores {
  size_t n;                       /* examples scored */
  double mean, ci_low, ci_high;
  const pc_gate_slice *slices;    /* borrowed */
  size_t n_slices;
} pc_gate_scores;

/* Everything the gates look at. All borrowed. */
typedef struct pc_gate_inputs {
  const pc_gate_scores *candidate;
  const pc_gate_scores *current;      /* NULL: the channel is empty */
  const char *const *test_hashes;     /* content hash of each test example */
  const char *const *test_ids;        /* its id, for messages */
  size_t n_test;
  const char *const *seen_hashes;     /* train and val content hashes from
                                         the candidate's manifest */
  size_t n_seen;
  const char *key_id;                 /* 16 hex digits, or NULL: unsigned */
  const struct json_object *models;   /* role -> identity string, or an
                                         identity record with an
                                         "identity" string, from the
                                         candidate's manifest */
} pc_gate_inputs;

/*
 * pc_gates_load - read a gates file. Unknown members, a wrong type or a
 * value out of range are refused with the file and member named. On
 * success *out owns the gates (pc_gates_free). PC_E_IO, PC_E_PARSE,
 * PC_E_INVALID_ARG, PC_E_NOMEM.
 */
int pc_gates_load(const char *path, pc_gates **out, pc_error *err);

/* The same from a parsed object (borrowed); `what` names it in messages. */
int pc_gates_from_json(const struct json_object *o, const char *what,
                       pc_gates **out, pc_error *err);

void pc_gates_free(pc_gates *g);  /* NULL is a no-op */

/* The "metric" member (borrowed from `g`), or NULL when the file has
 * none. */
const char *pc_gates_metric(const pc_gates *g);

/* The gates as canonical JSON, for the decision record. New reference. */
struct json_object *pc_gates_json(const pc_gates *g);

/*
 * pc_gates_check - evaluate every gate. *table gets a new array (owned by
 * the caller) with one row per gate, in a fixed order:
 *   {"gate": "min_score", "measured": 0.77, "threshold": 0.70,
 *    "pass": true, "detail": "..."}
 * ("measured" and "threshold" are numbers, strings or null; slice gates
 * give one row per slice, named "min_slice_score[billing]"). *passed is 1
 * when every row passes. PC_E_NOMEM only.
 */
int pc_gates_check(const pc_gates *g, const pc_gate_inputs *in,
                   struct json_object **table, int *passed, pc_error *err);

/*
 * pc_gates_table_text - append the table as aligned text for a terminal:
 * a header line, then "gate  measured  threshold  PASS|FAIL  detail" per
 * row, then "promote: yes|no (N of M gates failed)". PC_E_NOMEM.
 */
int pc_gates_table_text(const struct json_object *table, pc_buf *out);

#endif
