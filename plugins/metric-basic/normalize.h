/*
 * normalize.h - DSPy's normalize_text and DPR simple tokenizer on UTF-8,
 * with Python 3's Unicode semantics, for the metric-basic plugin.
 *
 * Compiled into the plugin only: it includes promptc/plugin.h and the C
 * standard library, uses the host allocator it is given, and keeps
 * nothing between calls, so any number of threads may call it at once.
 * Invalid UTF-8 is read as one U+FFFD per bad byte.
 */
#ifndef PC_METRIC_NORMALIZE_H
#define PC_METRIC_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

/* Largest buffer or array the plugin grows, in bytes. */
#define PC__MB_MAX_BYTES ((size_t)256 * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Growable storage on the host allocator.                                   */

/* Bytes, NUL-terminated once anything was put. */
typedef struct pc__mb_buf {
  const pc_host_api *host;  /* borrowed */
  char *data;               /* owned */
  size_t len;
  size_t cap;
} pc__mb_buf;

void pc__mb_buf_init(pc__mb_buf *b, const pc_host_api *host);
void pc__mb_buf_free(pc__mb_buf *b);  /* frees data, keeps host */
/* Append; PC_E_NOMEM (buffer unchanged) when out of memory or past
 * PC__MB_MAX_BYTES. */
int pc__mb_buf_put(pc__mb_buf *b, const char *s, size_t n);
int pc__mb_buf_puts(pc__mb_buf *b, const char *s);
/* The text, "" when nothing was put. Borrowed from b. */
const char *pc__mb_buf_str(const pc__mb_buf *b);

/* Code points. */
typedef struct pc__mb_cps {
  const pc_host_api *host;  /* borrowed */
  uint32_t *v;              /* owned */
  size_t len;
  size_t cap;
} pc__mb_cps;

void pc__mb_cps_init(pc__mb_cps *a, const pc_host_api *host);
void pc__mb_cps_free(pc__mb_cps *a);
int pc__mb_cps_push(pc__mb_cps *a, uint32_t cp);

/* ------------------------------------------------------------------------ */
/* UTF-8.                                                                    */

/*
 * pc__mb_utf8_next - decode the code point at s[*pos] (pos < len) and move
 * *pos past it. A byte that does not start a valid, shortest, non-surrogate
 * sequence up to U+10FFFF gives U+FFFD and moves *pos by one.
 */
uint32_t pc__mb_utf8_next(const char *s, size_t len, size_t *pos);

/* Append the UTF-8 form of `cp` (at most U+10FFFF, no surrogate). */
int pc__mb_buf_put_cp(pc__mb_buf *b, uint32_t cp);

/* Python's str.isspace() and re's \w for one code point. */
int pc__mb_is_space(uint32_t cp);
int pc__mb_is_word(uint32_t cp);

/* ------------------------------------------------------------------------ */
/* DSPy.                                                                     */

/*
 * pc__mb_normalize - DSPy's normalize_text(s) for s[0..len): NFD,
 * str.lower(), ASCII punctuation removed, the words a/an/the replaced by a
 * space, whitespace collapsed. The result is appended to `out` as UTF-8
 * (tokens joined by single spaces, no space at either end). Returns PC_OK
 * or PC_E_NOMEM (then `out` may hold part of the text).
 */
int pc__mb_normalize(const pc_host_api *host, const char *s, size_t len,
                     pc__mb_buf *out);

/* A token list: token i is cps.v[start[i] .. start[i + 1]). */
typedef struct pc__mb_tokens {
  pc__mb_cps cps;     /* owned: every token's code points, in order */
  size_t *start;      /* owned: n + 1 offsets into cps.v */
  size_t n;
  size_t cap;
} pc__mb_tokens;

void pc__mb_tokens_init(pc__mb_tokens *t, const pc_host_api *host);
void pc__mb_tokens_free(pc__mb_tokens *t);

/*
 * pc__mb_dpr_tokens - DSPy's DPR_normalize(normalize_text(s)): normalize
 * s[0..len) as pc__mb_normalize does, NFD again, split into tokens (runs
 * of letters, numbers and marks, or any single character that is neither
 * a separator nor "other"), each token lowered on its own. `out` must be
 * initialised and empty. PC_OK or PC_E_NOMEM.
 */
int pc__mb_dpr_tokens(const pc_host_api *host, const char *s, size_t len,
                      pc__mb_tokens *out);

/* 1 when `needle` occurs in `hay` as a contiguous run of tokens (an empty
 * needle occurs everywhere, as in DSPy's has_answer), else 0. */
int pc__mb_tokens_contain(const pc__mb_tokens *hay,
                          const pc__mb_tokens *needle);

#endif
