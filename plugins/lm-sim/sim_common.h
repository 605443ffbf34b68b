/*
 * sim_common.h - what the files of the lm-sim plugin share: the host's
 * service tables, the settings of an instance, errors, a capped text
 * buffer on the host allocator and whitespace-insensitive text helpers.
 *
 * The plugin includes only promptc/plugin.h and the C library. Nothing
 * here keeps state between calls, and an instance is read-only once
 * created, which is what lets the plugin declare
 * PC_PLUGIN_THREADSAFE_INSTANCES.
 */
#ifndef PC_SIM_COMMON_H
#define PC_SIM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

#if defined(__GNUC__)
#define PC__SIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PC__SIM_PRINTF(a, b)
#endif

/* Names the plugin at the start of its messages. */
#define PC__SIM_WHO "sim"

/* Largest text the plugin builds (a prompt copy, one completion). */
#define PC__SIM_BUF_MAX ((size_t)64 * 1024 * 1024)

/* DSPy's fixed sentences, as the adapters write them. */
#define PC__SIM_INCOMPLETE_PREFIX \
  "This is an example of the task, though some input or output fields " \
  "are not supplied."
#define PC__SIM_NOT_SUPPLIED "Not supplied for this particular example."

/* ------------------------------------------------------------------------ */
/* Host tables.                                                             */

/* The plugin state: the host's tables, borrowed until fini. Immutable
 * after init, so any thread may read it. */
typedef struct pc__sim_host {
  const pc_host_api *host;
  const pc_json_api *json;
  const pc_values_api *values;
  const pc_hash_api *hash;
} pc__sim_host;

/*
 * pc__sim_host_new - check the host table and fetch "pc.json/1",
 * "pc.values/1" and "pc.hash/1". On success *out is allocated with
 * host->alloc and released with pc__sim_host_free. Fails with
 * PC_E_INVALID_ARG (no or short host table), PC_E_UNSUPPORTED (a service
 * missing or too short) or PC_E_NOMEM; then *out is NULL.
 */
int pc__sim_host_new(const pc_host_api *host, pc__sim_host **out,
                     pc_error *err);
void pc__sim_host_free(pc__sim_host *h);  /* NULL is a no-op */

/* Zeroed memory from the host allocator, NULL when out of memory (or for
 * n == 0). Released with pc__sim_free, which takes NULL. */
void *pc__sim_alloc(const pc__sim_host *h, size_t n);
void pc__sim_free(const pc__sim_host *h, void *p);

/* A NUL-terminated copy of s[0..n), owned by the caller (pc__sim_free);
 * NULL when out of memory. */
char *pc__sim_strndup(const pc__sim_host *h, const char *s, size_t n);

/*
 * pc__sim_error - record an error, keep the first one, return `code`.
 * Writes one line (line breaks become spaces, cut to fit) into
 * err->message when `err` is not NULL and holds no error yet.
 */
int pc__sim_error(pc_error *err, int code, const char *fmt, ...)
  PC__SIM_PRINTF(3, 4);

/* Record "sim: out of memory" and return PC_E_NOMEM. */
#define PC__SIM_OOM(err) \
  pc__sim_error((err), PC_E_NOMEM, PC__SIM_WHO ": out of memory")

/* A short reason for an errno value ("no such file", ...), static. */
const char *pc__sim_errno_text(int e);

/* ------------------------------------------------------------------------ */
/* Settings of one instance (docs/sim.md lists them with their defaults).   */

typedef struct pc__sim_config {
  uint64_t seed;
  double base_skill;
  double demo_gain;
  int64_t demo_cap;
  double instruction_gain;
  double hard_penalty;
  double reasoning_gain;
  double max_skill;
  double malformed_rate;
  double meta_phrase_rate;
  double meta_feedback_rate;
  double compare_gain;    /* multi_chain_comparison, majority right */
  double hint_gain;       /* a refine hint_ with advice */
  int64_t latency_ms;
  int64_t max_context_tokens; /* 0: no limit */
  char **key_phrases;     /* owned: n_key_phrases owned strings */
  size_t n_key_phrases;
  char *hard_field;       /* owned */
  char *hard_value;       /* owned */
  char *model;            /* owned, or NULL: informational */
  char *call_log;         /* owned resolved path, or NULL */
} pc__sim_config;

/* ------------------------------------------------------------------------ */
/* A growable text buffer on the host allocator, capped at PC__SIM_BUF_MAX. */

typedef struct pc__sim_buf {
  const pc__sim_host *h;  /* borrowed */
  char *data;             /* owned: NUL-terminated once anything was put */
  size_t len;
  size_t cap;
} pc__sim_buf;

void pc__sim_buf_init(pc__sim_buf *b, const pc__sim_host *h);
void pc__sim_buf_free(pc__sim_buf *b);  /* frees data, keeps h */
/* Append; PC_E_NOMEM when the allocator fails or the cap is reached, with
 * the buffer unchanged. */
int pc__sim_buf_put(pc__sim_buf *b, const char *s, size_t n);
int pc__sim_buf_puts(pc__sim_buf *b, const char *s);
int pc__sim_buf_printf(pc__sim_buf *b, const char *fmt, ...)
  PC__SIM_PRINTF(2, 3);
/* The text, "" when nothing was put. Borrowed from b. */
const char *pc__sim_buf_str(const pc__sim_buf *b);

/* ------------------------------------------------------------------------ */
/* Text.                                                                    */

/* ASCII whitespace: space, \t, \n, \v, \f, \r. */
int pc__sim_is_space(unsigned char c);

/* *start and *end (exclusive) bound s[0..len) without the whitespace at
 * both ends. */
void pc__sim_trim(const char *s, size_t len, size_t *start, size_t *end);

/* FNV-1a 64 of n bytes, continuing from h (start with PC__SIM_FNV_INIT). */
#define PC__SIM_FNV_INIT 0xcbf29ce484222325u
uint64_t pc__sim_fnv(uint64_t h, const void *p, size_t n);

/* FNV-1a 64 of s[0..len) trimmed and with every run of whitespace read as
 * one space, continuing from h: texts that differ only in spacing hash
 * alike. */
uint64_t pc__sim_fnv_collapsed(uint64_t h, const char *s, size_t len);

/* SplitMix64's finaliser: spreads the bits of a hash. */
uint64_t pc__sim_mix(uint64_t x);

/* Non-zero when a and b are equal once trimmed and with whitespace runs
 * collapsed; with `icase`, ASCII letters compare without regard to case. */
int pc__sim_collapsed_eq(const char *a, size_t alen, const char *b,
                         size_t blen, int icase);

/* Non-zero when `needle` occurs in hay[0..hlen) without regard to ASCII
 * case. An empty needle occurs everywhere. */
int pc__sim_icontains(const char *hay, size_t hlen, const char *needle);

/* A 64-bit draw as a number in [0, 1). */
double pc__sim_unit(uint64_t r);

/*
 * pc__sim_render - append the prompt text of value `v` (DSPy's
 * format_field_value through pc.values/1): with `as_str` for a field whose
 * type is exactly str (a list becomes numbered blobs), else for any other
 * type (a list or dict becomes json.dumps text). Scalars are Python str()
 * either way.
 */
int pc__sim_render(const pc__sim_host *h, const pc_json *v, int as_str,
                   pc__sim_buf *out, pc_error *err);

#endif
