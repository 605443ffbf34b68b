/* alloc.c - allocation wrappers with a fault-injection hook for tests. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static unsigned long fail_at;  /* 0: never fail */
static unsigned long count;

static int should_fail(void)
{
  if (!fail_at)
    return 0;
  return ++count >= fail_at;
}

void pc__alloc_fail_at(unsigned long n)
{
  fail_at = n;
  count = 0;
}

void *pc_malloc(size_t n)
{
  if (should_fail())
    return NULL;
  return malloc(n ? n : 1);
}

void *pc_calloc(size_t nmemb, size_t size)
{
  if (should_fail())
    return NULL;
  return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *pc_realloc(void *p, size_t n)
{
  if (should_fail())
    return NULL;
  return realloc(p, n ? n : 1);
}

void pc_free(void *p)
{
  free(p);
}

char *pc_strndup(const char *s, size_t n)
{
  char *d;
  size_t len = 0;

  if (!s)
    return NULL;
  while (len < n && s[len])
    len++;
  d = pc_malloc(len + 1);
  if (!d)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *pc_strdup(const char *s)
{
  return s ? pc_strndup(s, strlen(s)) : NULL;
}

void *pc_memdup(const void *p, size_t n)
{
  void *d = pc_malloc(n + 1);

  if (!d)
    return NULL;
  if (n)
    memcpy(d, p, n);
  ((char *)d)[n] = '\0';  /* harmless for binary, handy for text */
  return d;
}
