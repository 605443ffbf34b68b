/* buf.c - growable, capped byte buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

void pc_buf_init(pc_buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max ? max : PC_BUF_DEFAULT_MAX;
}

void pc_buf_free(pc_buf *b)
{
  pc_free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void pc_buf_reset(pc_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static int reserve(pc_buf *b, size_t extra)
{
  size_t need, cap;
  char *p;

  if (extra > b->max - b->len)
    return PC_E_NOMEM;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return PC_OK;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = (cap > ((size_t)-1) / 2) ? need : cap * 2;
  p = pc_realloc(b->data, cap);
  if (!p)
    return PC_E_NOMEM;
  b->data = p;
  b->cap = cap;
  return PC_OK;
}

int pc_buf_append(pc_buf *b, const void *p, size_t n)
{
  if (reserve(b, n))
    return PC_E_NOMEM;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PC_OK;
}

int pc_buf_puts(pc_buf *b, const char *s)
{
  return pc_buf_append(b, s, strlen(s));
}

int pc_buf_putc(pc_buf *b, char c)
{
  return pc_buf_append(b, &c, 1);
}

int pc_buf_printf(pc_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return PC_E_INVALID_ARG;
  if (reserve(b, (size_t)n))
    return PC_E_NOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return PC_OK;
}

char *pc_buf_take(pc_buf *b, size_t *len)
{
  char *d = b->data;

  if (!d) {
    d = pc_strdup("");
    if (!d)
      return NULL;
  }
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return d;
}
