/* errors.c - pc_error helpers and the names of the stable status codes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static const struct {
  const char *name;
  const char *text;
} codes[] = {
  {"PC_OK", "success"},
  {"PC_E_INVALID_ARG", "invalid argument"},
  {"PC_E_UNSUPPORTED", "not supported"},
  {"PC_E_NOMEM", "out of memory"},
  {"PC_E_IO", "input/output error"},
  {"PC_E_TIMEOUT", "timed out"},
  {"PC_E_CANCELLED", "cancelled"},
  {"PC_E_RATE_LIMITED", "rate limited"},
  {"PC_E_AUTH", "authentication failed"},
  {"PC_E_CONTEXT_LENGTH", "context length exceeded"},
  {"PC_E_PROVIDER", "provider error"},
  {"PC_E_PARSE", "parse error"},
  {"PC_E_BUDGET", "budget exhausted"},
  {"PC_E_INTERNAL", "internal error"},
};

#define N_CODES (sizeof(codes) / sizeof(codes[0]))

static void set_message(pc_error *err, const char *prefix, const char *fmt,
                        va_list ap)
{
  size_t used = 0;
  char *nl;

  if (prefix) {
    int n = snprintf(err->message, sizeof(err->message), "%s: ", prefix);
    used = (n < 0) ? 0 : (size_t)n;
    if (used >= sizeof(err->message))
      used = sizeof(err->message) - 1;
  }
  vsnprintf(err->message + used, sizeof(err->message) - used, fmt, ap);
  /* One line only: a message with a newline would break log formats. */
  while ((nl = strpbrk(err->message, "\r\n")) != NULL)
    *nl = ' ';
}

int pc_error_set(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  set_message(err, NULL, fmt, ap);
  va_end(ap);
  return code;
}

/* Append `s` to the NUL-terminated text in dst (cap bytes), truncating. */
static void append_text(char *dst, size_t cap, const char *s)
{
  size_t used = strlen(dst);

  while (*s && used + 1 < cap)
    dst[used++] = *s++;
  dst[used] = '\0';
}

int pc_error_wrap(pc_error *err, const pc_error *src, const char *fmt, ...)
{
  char prefix[PC_ERROR_MESSAGE_MAX];
  va_list ap;
  int code = src->code ? src->code : PC_E_INTERNAL;

  if (!err || err->code != PC_OK)
    return code;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  err->code = code;
  err->message[0] = '\0';
  err->http_status = src->http_status;
  err->retry_after_ms = src->retry_after_ms;
  append_text(err->message, sizeof(err->message), prefix);
  append_text(err->message, sizeof(err->message), ": ");
  append_text(err->message, sizeof(err->message),
              src->message[0] ? src->message : pc_strerror(code));
  return code;
}

void pc_error_clear(pc_error *err)
{
  pc_error init = PC_ERROR_INIT;

  if (err)
    *err = init;
}

const char *pc_strerror(int code)
{
  if (code < 0 || (size_t)code >= N_CODES)
    return "unknown error code";
  return codes[code].text;
}

const char *pc_errname(int code)
{
  if (code < 0 || (size_t)code >= N_CODES)
    return "PC_E_UNKNOWN";
  return codes[code].name;
}
