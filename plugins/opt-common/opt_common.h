/*
 * opt_common.h - what promptc's optimizer plugins share: the host tables,
 * errors, growable text, settings checking, keyed random draws, small
 * JSON helpers and the field prefixes DSPy infers.
 *
 * This code is compiled into each optimizer plugin (it is not a library of
 * its own), so it includes only <promptc/plugin.h> and libc, and its names
 * are pc__opt_* (hidden by the plugins' -fvisibility=hidden).
 */
#ifndef PC_OPT_COMMON_H
#define PC_OPT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

#if defined(__GNUC__)
#define PC__OPT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PC__OPT_PRINTF(a, b)
#endif

/* What a plugin's init keeps: the host's tables, borrowed until fini.
 * Immutable after init, so any thread may read it. */
typedef struct pc__opt_host {
  const pc_host_api *host;  /* borrowed: valid until fini */
  const pc_json_api *js;    /* borrowed: the host's "pc.json/1" table */
} pc__opt_host;

/*
 * pc__opt_init - check the host table and fetch "pc.json/1". On PC_OK
 * *state owns a new pc__opt_host (released by pc__opt_fini); on failure
 * *state is NULL and `err` names `plugin`.
 */
int pc__opt_init(const pc_host_api *host, const char *plugin, void **state,
                 pc_error *err);
void pc__opt_fini(void *state);  /* NULL is a no-op */

/* Record an error (the first one wins) and return `code`. The message is
 * made one line; `err` may be NULL. */
int pc__opt_error(pc_error *err, int code, const char *fmt, ...)
  PC__OPT_PRINTF(3, 4);

/* Allocation through the host. pc__opt_free(h, NULL) does nothing. */
void *pc__opt_alloc(const pc__opt_host *h, size_t n);
void *pc__opt_calloc(const pc__opt_host *h, size_t n, size_t size);
void pc__opt_free(const pc__opt_host *h, void *p);

/* ------------------------------------------------------------------------ */
/* Growable text on the host allocator.                                     */

/*
 * A text that grows as bytes are appended. It owns `data`, which is
 * NUL-terminated while `failed` is 0. An allocation failure sets `failed`,
 * which sticks: every later append is ignored and take returns NULL, so a
 * caller appends freely and checks once. A zeroed struct with `h` set (or
 * pc__opt_text_init) is an empty text.
 */
typedef struct pc__opt_text {
  const pc__opt_host *h;  /* borrowed: allocates and frees `data` */
  char *data;             /* owned; NULL until the first append */
  size_t len, cap;
  int failed;             /* out of memory: later appends are ignored */
} pc__opt_text;

/* Make t an empty text allocating through h (borrowed). */
void pc__opt_text_init(pc__opt_text *t, const pc__opt_host *h);
/* Append n bytes of s (s is only read). */
void pc__opt_text_add(pc__opt_text *t, const char *s, size_t n);
/* Append the C string s (s is only read). */
void pc__opt_text_str(pc__opt_text *t, const char *s);
/* Append printf-style text; a formatting error also sets `failed`. */
void pc__opt_text_fmt(pc__opt_text *t, const char *fmt, ...)
  PC__OPT_PRINTF(2, 3);
/* The text, taken over by the caller (pc__opt_free; "" when nothing was
 * appended), or NULL when an append ran out of memory. Either way t is
 * an empty text afterwards, with `failed` cleared. */
char *pc__opt_text_take(pc__opt_text *t);
/* Free the text; t is empty afterwards (failed cleared). */
void pc__opt_text_free(pc__opt_text *t);

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

#define PC__OPT_SET_INT 0    /* an integer >= min */
#define PC__OPT_SET_BOOL 1   /* true or false */
#define PC__OPT_SET_NUM 2    /* null or a number in [lo, hi] (lo excluded
                                when lo_open) */

/* One setting an optimizer accepts, with its default. */
typedef struct pc__opt_spec {
  const char *name;
  int type;          /* PC__OPT_SET_* */
  int64_t min;       /* INT: smallest value allowed */
  int64_t def_int;   /* INT and BOOL: the default */
  double lo, hi;     /* NUM: the range */
  int lo_open;       /* NUM: lo itself is not allowed */
} pc__opt_spec;

/* A setting's value. For NUM, is_null says the value is null (the
 * default of every NUM setting). */
typedef struct pc__opt_value {
  int64_t i;   /* INT, BOOL */
  double d;    /* NUM */
  int is_null; /* NUM */
} pc__opt_value;

/*
 * pc__opt_settings_parse - check `len` bytes of the settings object `json`
 * (NULL or empty: {}) against the n specs and fill vals[] (n of them,
 * caller storage) with every value, defaults included. An unknown key, a
 * value of the wrong type or out of range is PC_E_INVALID_ARG with a
 * message that starts with `who` and names the setting.
 */
int pc__opt_settings_parse(const pc__opt_host *h, const char *who,
                           const pc__opt_spec *specs, size_t n,
                           const char *json, size_t len, pc__opt_value *vals,
                           pc_error *err);

/* The settings in vals[] as one JSON object (in spec order), written to
 * `out`. */
int pc__opt_settings_write(const pc__opt_host *h, const pc__opt_spec *specs,
                           size_t n, const pc__opt_value *vals,
                           const pc_text_sink *out, pc_error *err);

/* The index of setting `name` in specs[] (an internal error if absent:
 * the caller names only settings it declared). */
size_t pc__opt_spec_index(const pc__opt_spec *specs, size_t n,
                          const char *name);

/* ------------------------------------------------------------------------ */
/* Keyed random draws: one stream is (seed, purpose, index) and a running  */
/* draw number, as in a seeded Python Random.                               */

typedef struct pc__opt_rng {
  const pc__opt_host *h;  /* borrowed */
  uint64_t seed;
  const char *purpose;    /* borrowed: must outlive the stream */
  uint64_t index;
  uint64_t draw;          /* the next draw number */
} pc__opt_rng;

void pc__opt_rng_init(pc__opt_rng *r, const pc__opt_host *h, uint64_t seed,
                      const char *purpose, uint64_t index);
uint64_t pc__opt_rng_next(pc__opt_rng *r);
/* A uniform integer in [0, n) (n > 0), without modulo bias. */
uint64_t pc__opt_rng_below(pc__opt_rng *r, uint64_t n);
/* A uniform double in [0, 1). */
double pc__opt_rng_unit(pc__opt_rng *r);
/* Shuffle v[0..n) in place, as Python's Random.shuffle does (from the end,
 * swapping each slot with a random one at or before it). */
void pc__opt_rng_shuffle(pc__opt_rng *r, int64_t *v, size_t n);
/* Move a random sample without replacement of k of v[0..n) (k <= n), in
 * the order drawn, to v[0..k). */
void pc__opt_rng_sample(pc__opt_rng *r, int64_t *v, size_t n, size_t k);

/* ------------------------------------------------------------------------ */
/* JSON helpers over the host's pc.json/1.                                  */

/* Parse text into *out (owned). PC_E_PARSE (naming `what`) on bad text. */
int pc__opt_json_parse(const pc__opt_host *h, const char *what,
                       const char *text, size_t len, pc_json **out,
                       pc_error *err);
/* Serialise v compactly. *out is host-allocated (pc__opt_free). */
int pc__opt_json_text(const pc__opt_host *h, const pc_json *v, char **out,
                      size_t *len, pc_error *err);
/* Add a member to obj; takes `value` over, also on failure; NULL value
 * is out of memory. Returns PC_OK or PC_E_NOMEM. */
int pc__opt_json_set(const pc__opt_host *h, pc_json *obj, const char *key,
                     pc_json *value, pc_error *err);
/* Append to arr, with the same rules. */
int pc__opt_json_push(const pc__opt_host *h, pc_json *arr, pc_json *value,
                      pc_error *err);
/* obj[key] as a string (borrowed), or NULL when absent or not a string. */
const char *pc__opt_json_str(const pc__opt_host *h, const pc_json *obj,
                             const char *key);
/* Write v as compact JSON text to a sink. */
int pc__opt_json_write(const pc__opt_host *h, const pc_json *v,
                       const pc_text_sink *out, pc_error *err);

/* ------------------------------------------------------------------------ */
/* Compile-API conveniences.                                                */

/* Record `trial` (a JSON object) through api->record_trial. */
int pc__opt_record_trial(const pc__opt_host *h, const pc_compile_api *api,
                         const pc_json *trial, pc_error *err);
/*
 * pc__opt_evaluate - run `state` (serialised compactly) through
 * api->evaluate on `split` for the n examples idx[] (idx NULL: the whole
 * split; n is passed on as given), with PC_EVAL_* `flags` and `config`,
 * per-run LM overrides as JSON object text (NULL: none). On PC_OK *out
 * owns the host's answer; on failure *out is NULL.
 */
int pc__opt_evaluate(const pc__opt_host *h, const pc_compile_api *api,
                     const pc_json *state, const char *split,
                     const int64_t *idx, size_t n, uint32_t flags,
                     const char *config, pc_json **out, pc_error *err);
/* Call api->set_result with `state` and `report` (which may be NULL). */
int pc__opt_set_result(const pc__opt_host *h, const pc_compile_api *api,
                       const pc_json *state, const pc_json *report,
                       pc_error *err);
/* Send {"trial", "of", "best"} to api->progress (best < 0: null). */
void pc__opt_progress(const pc__opt_host *h, const pc_compile_api *api,
                      int64_t trial, int64_t of, double best);

/* Read an integer member of the estimate's info object (0 when absent). */
int64_t pc__opt_info_int(const pc__opt_host *h, const pc_json *info,
                         const char *key);
/* Write {"lm_calls", "metric_calls", "proposal_calls"} to `out`. */
int pc__opt_write_estimate(const pc__opt_host *h, int64_t lm_calls,
                           int64_t metric_calls, int64_t proposal_calls,
                           const pc_text_sink *out, pc_error *err);

/* ------------------------------------------------------------------------ */
/* Field prefixes.                                                          */

/* Bytes pc__opt_field_prefix needs for `name`: room for the work it does
 * in place, the colon and the NUL. */
size_t pc__opt_field_prefix_cap(const char *name);

/*
 * pc__opt_field_prefix - write the prefix DSPy infers for a field called
 * `name` (its infer_prefix() and a colon: "urgency" -> "Urgency:",
 * "camelCaseText" -> "Camel Case Text:", "text2number" -> "Text 2
 * Number:"; an empty word between underscores stays, as an extra space:
 * "a__b" -> "A  B:", "_x" -> " X:") into `out`, NUL-terminated. `out`
 * must hold pc__opt_field_prefix_cap(name) bytes; returns 0, or -1 (and
 * writes nothing) when `cap` is smaller. Letters are ASCII: other bytes
 * are kept as they are and count as neither case. Pure: no host calls.
 */
int pc__opt_field_prefix(const char *name, char *out, size_t cap);

#endif
