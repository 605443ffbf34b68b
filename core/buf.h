/*
 * buf.h - a growable byte buffer with a size cap.
 *
 * The data is always NUL-terminated (when non-NULL) so it can be used as a C
 * string. Every buffer has a cap: an append past it fails with PC_E_NOMEM
 * instead of growing without bound (LM output, HTTP bodies, lines of a
 * file). Usage:
 *
 *   pc_buf b;
 *   pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
 *   if (pc_buf_puts(&b, "x") || pc_buf_printf(&b, "%d", 1)) goto fail;
 *   ... b.data, b.len ...
 *   pc_buf_free(&b);
 */
#ifndef PC_BUF_H
#define PC_BUF_H

#include <stddef.h>

#include "errors.h"

#define PC_BUF_DEFAULT_MAX ((size_t)64 << 20)  /* 64 MiB */

typedef struct pc_buf {
  char *data;  /* owned; NULL until the first append */
  size_t len;  /* bytes used, excluding the NUL */
  size_t cap;  /* bytes allocated */
  size_t max;  /* largest len allowed */
} pc_buf;

void pc_buf_init(pc_buf *b, size_t max);
void pc_buf_free(pc_buf *b);
void pc_buf_reset(pc_buf *b);  /* len = 0, keeps the memory */

/* Each returns PC_OK or PC_E_NOMEM (out of memory or past the cap). */
int pc_buf_append(pc_buf *b, const void *p, size_t n);
int pc_buf_puts(pc_buf *b, const char *s);
int pc_buf_putc(pc_buf *b, char c);
int pc_buf_printf(pc_buf *b, const char *fmt, ...) PC_PRINTF(2, 3);

/* Hand the data to the caller (who frees it with pc_free) and reset the
 * buffer. Returns an empty string, not NULL, for an empty buffer; NULL only
 * when out of memory. *len may be NULL. */
char *pc_buf_take(pc_buf *b, size_t *len);

#endif
