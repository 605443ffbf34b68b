/* sim_common.c - host tables, errors, buffers and text helpers of lm-sim. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim_common.h"

/* ------------------------------------------------------------------------ */
/* Host tables and memory.                                                  */

/* A service table is usable when it is of major 1 and at least as large
 * as the 1.0 struct this file was compiled against. */
static const void *service(const pc_host_api *host, const char *id,
                           uint32_t need)
{
  uint32_t size = 0;
  const pc_abi_header *hdr = host->get_host_interface(host->ctx, id, &size);

  if (!hdr || size < need || hdr->struct_size < need ||
      hdr->abi_major != PC_ABI_MAJOR)
    return NULL;
  return hdr;
}

int pc__sim_host_new(const pc_host_api *host, pc__sim_host **out,
                     pc_error *err)
{
  static const struct {
    const char *id;
    uint32_t size;
  } need[] = {
    {"pc.json/1", (uint32_t)sizeof(pc_json_api)},
    {"pc.values/1", (uint32_t)sizeof(pc_values_api)},
    {"pc.hash/1", (uint32_t)sizeof(pc_hash_api)},
  };
  const void *tables[3];
  pc__sim_host *h;
  size_t i;

  *out = NULL;
  if (!host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->realloc || !host->free || !host->rng_u64 ||
      !host->is_cancelled || !host->get_host_interface)
    return pc__sim_error(err, PC_E_INVALID_ARG,
                         PC__SIM_WHO ": the host table is missing or too "
                         "short");
  for (i = 0; i < 3; i++) {
    tables[i] = service(host, need[i].id, need[i].size);
    if (!tables[i])
      return pc__sim_error(err, PC_E_UNSUPPORTED,
                           PC__SIM_WHO ": the host does not offer service "
                           "%s (major %d, %u bytes)", need[i].id,
                           PC_ABI_MAJOR, (unsigned)need[i].size);
  }
  h = host->alloc(host->ctx, sizeof(*h));
  if (!h)
    return pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": out of memory");
  h->host = host;
  h->json = tables[0];
  h->values = tables[1];
  h->hash = tables[2];
  *out = h;
  return PC_OK;
}

void pc__sim_host_free(pc__sim_host *h)
{
  if (h)
    h->host->free(h->host->ctx, h);
}

void *pc__sim_alloc(const pc__sim_host *h, size_t n)
{
  void *p;

  if (n == 0)
    return NULL;
  p = h->host->alloc(h->host->ctx, n);
  if (p)
    memset(p, 0, n);
  return p;
}

void pc__sim_free(const pc__sim_host *h, void *p)
{
  if (p)
    h->host->free(h->host->ctx, p);
}

char *pc__sim_strndup(const pc__sim_host *h, const char *s, size_t n)
{
  char *p = h->host->alloc(h->host->ctx, n + 1);

  if (!p)
    return NULL;
  if (n)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

int pc__sim_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;
  char *p;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  for (p = err->message; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return code;
}

const char *pc__sim_errno_text(int e)
{
  switch (e) {
  case ENOENT: return "no such file";
  case ENOTDIR: return "a parent is not a directory";
  case EACCES: return "permission denied";
  case EISDIR: return "is a directory";
  case ENOSPC: return "no space left";
  case ENOMEM: return "out of memory";
  default: return "cannot read or write";
  }
}

/* ------------------------------------------------------------------------ */
/* Buffer.                                                                  */

void pc__sim_buf_init(pc__sim_buf *b, const pc__sim_host *h)
{
  b->h = h;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void pc__sim_buf_free(pc__sim_buf *b)
{
  pc__sim_free(b->h, b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

/* Make room for n more bytes and the NUL. */
static int reserve(pc__sim_buf *b, size_t n)
{
  size_t cap;
  char *p;

  if (n > PC__SIM_BUF_MAX - b->len)
    return PC_E_NOMEM;
  if (b->len + n + 1 <= b->cap)
    return PC_OK;
  cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  if (cap > PC__SIM_BUF_MAX + 1)
    cap = PC__SIM_BUF_MAX + 1;
  p = b->h->host->realloc(b->h->host->ctx, b->data, cap);
  if (!p)
    return PC_E_NOMEM;
  b->data = p;
  b->cap = cap;
  return PC_OK;
}

int pc__sim_buf_put(pc__sim_buf *b, const char *s, size_t n)
{
  int rc = reserve(b, n);

  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PC_OK;
}

int pc__sim_buf_puts(pc__sim_buf *b, const char *s)
{
  return pc__sim_buf_put(b, s, strlen(s));
}

int pc__sim_buf_printf(pc__sim_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n, rc;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return PC_E_INTERNAL;
  rc = reserve(b, (size_t)n);
  if (rc)
    return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return PC_OK;
}

const char *pc__sim_buf_str(const pc__sim_buf *b)
{
  return b->data ? b->data : "";
}

/* ------------------------------------------------------------------------ */
/* Text.                                                                    */

int pc__sim_is_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

void pc__sim_trim(const char *s, size_t len, size_t *start, size_t *end)
{
  size_t a = 0, z = len;

  while (a < z && pc__sim_is_space((unsigned char)s[a]))
    a++;
  while (z > a && pc__sim_is_space((unsigned char)s[z - 1]))
    z--;
  *start = a;
  *end = z;
}

uint64_t pc__sim_fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;

  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3u;
  return h;
}

uint64_t pc__sim_fnv_collapsed(uint64_t h, const char *s, size_t len)
{
  size_t a, z;
  int space = 0;

  pc__sim_trim(s, len, &a, &z);
  for (; a < z; a++) {
    unsigned char c = (unsigned char)s[a];

    if (pc__sim_is_space(c)) {
      space = 1;
      continue;
    }
    if (space)
      h = (h ^ ' ') * 0x100000001b3u;
    space = 0;
    h = (h ^ c) * 0x100000001b3u;
  }
  return h;
}

uint64_t pc__sim_mix(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static unsigned char lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The next character of a collapsed text at *i (< end): a space for a run
 * of whitespace. */
static unsigned char collapsed_next(const char *s, size_t *i, size_t end)
{
  unsigned char c = (unsigned char)s[*i];

  if (!pc__sim_is_space(c)) {
    (*i)++;
    return c;
  }
  while (*i < end && pc__sim_is_space((unsigned char)s[*i]))
    (*i)++;
  return ' ';
}

int pc__sim_collapsed_eq(const char *a, size_t alen, const char *b,
                         size_t blen, int icase)
{
  size_t i, iend, j, jend;

  pc__sim_trim(a, alen, &i, &iend);
  pc__sim_trim(b, blen, &j, &jend);
  while (i < iend && j < jend) {
    unsigned char x = collapsed_next(a, &i, iend);
    unsigned char y = collapsed_next(b, &j, jend);

    if (icase) {
      x = lower(x);
      y = lower(y);
    }
    if (x != y)
      return 0;
  }
  return i == iend && j == jend;
}

int pc__sim_icontains(const char *hay, size_t hlen, const char *needle)
{
  size_t n = strlen(needle), i, k;

  if (n == 0)
    return 1;
  for (i = 0; i + n <= hlen; i++) {
    for (k = 0; k < n; k++)
      if (lower((unsigned char)hay[i + k]) != lower((unsigned char)needle[k]))
        break;
    if (k == n)
      return 1;
  }
  return 0;
}

double pc__sim_unit(uint64_t r)
{
  /* The top 53 bits, so the result is exact and below 1. */
  return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

int pc__sim_render(const pc__sim_host *h, const pc_json *v, int as_str,
                   pc__sim_buf *out, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  char *text = NULL;
  size_t len = 0;
  int rc;

  if (v && h->json->type(v) == PC_JSON_STRING) {
    const char *s = h->json->get_string(v, &len);

    rc = pc__sim_buf_put(out, s, len);
    return rc ? pc__sim_error(err, rc, PC__SIM_WHO ": out of memory") : rc;
  }
  rc = h->values->render(h->host->ctx, v, as_str ? "str" : NULL,
                         PC_VALUE_RENDER_FIELD, &text, &len, &e);
  if (rc)
    return pc__sim_error(err, rc, PC__SIM_WHO ": render: %s", e.message);
  rc = pc__sim_buf_put(out, text, len);
  h->host->free(h->host->ctx, text);
  return rc ? pc__sim_error(err, rc, PC__SIM_WHO ": out of memory") : rc;
}
