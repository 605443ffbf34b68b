/*
 * ft_record.c - the chat fine-tuning record check and the per-predictor
 * file names of the export-finetune optimizer (ft_record.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ft_record.h"

/* Write a reason to why[cap] and return -1. */
static int reject(char *why, size_t cap, const char *fmt, ...)
{
  va_list ap;

  if (why && cap) {
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* True when s[0..len) holds nothing but ASCII white space. */
static int blank(const char *s, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (!strchr(" \t\r\n\f\v", s[i]) || s[i] == '\0')
      return 0;
  return 1;
}

/* Check message i of n: its shape, and that its role is the one the
 * layout wants at that place. */
static int check_message(const pc_json_api *js, const pc_json *m, size_t i,
                         size_t n, char *why, size_t cap)
{
  const pc_json *role, *content;
  const char *r, *want;
  size_t clen = 0;

  if (js->type(m) != PC_JSON_OBJECT)
    return reject(why, cap, "message %zu: expected an object", i);
  role = js->object_get(m, "role");
  content = js->object_get(m, "content");
  if (!role || !content || js->object_len(m) != 2)
    return reject(why, cap, "message %zu: expected exactly the keys "
                  "\"role\" and \"content\"", i);
  if (js->type(role) != PC_JSON_STRING)
    return reject(why, cap, "message %zu: role: expected a string", i);
  if (js->type(content) != PC_JSON_STRING)
    return reject(why, cap, "message %zu: content: expected a string", i);
  r = js->get_string(role, NULL);
  js->get_string(content, &clen);
  if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
    return reject(why, cap, "message %zu: role '%.40s': expected system, "
                  "user or assistant", i, r);
  /* system, then user/assistant pairs: odd places are user. */
  want = i == 0 ? "system" : i % 2 ? "user" : "assistant";
  if (strcmp(r, want))
    return reject(why, cap, "message %zu: role '%s' where '%s' belongs "
                  "(system first, then user and assistant alternate)", i,
                  r, want);
  if (i + 1 == n && strcmp(r, "assistant"))
    return reject(why, cap, "message %zu: the last message must be the "
                  "assistant's", i);
  if (!strcmp(r, "assistant") &&
      blank(js->get_string(content, NULL), clen))
    return reject(why, cap, "message %zu: empty assistant content", i);
  return 0;
}

int pc__ft_record_check(const pc_json_api *js, const pc_json *rec,
                        char *why, size_t cap)
{
  const pc_json *msgs;
  size_t i, n;

  if (why && cap)
    why[0] = '\0';
  if (!rec || js->type(rec) != PC_JSON_OBJECT)
    return reject(why, cap, "expected a JSON object");
  msgs = js->object_get(rec, "messages");
  if (!msgs || js->object_len(rec) != 1)
    return reject(why, cap, "expected exactly the key \"messages\"");
  if (js->type(msgs) != PC_JSON_ARRAY)
    return reject(why, cap, "messages: expected an array");
  n = js->array_len(msgs);
  if (n < 3 || n % 2 == 0)
    return reject(why, cap, "messages: %zu messages; expected a system "
                  "message and user/assistant pairs", n);
  for (i = 0; i < n; i++)
    if (check_message(js, js->array_get(msgs, i), i, n, why, cap))
      return -1;
  return 0;
}

int pc__ft_file_name(const char *path, char *out, size_t cap)
{
  static const char pre[] = "finetune-", post[] = ".jsonl";
  size_t n = strlen(path), i;

  if (cap == 0)
    return -1;
  out[0] = '\0';
  if (n == 0 || sizeof(pre) - 1 + n + sizeof(post) > cap)
    return -1;
  memcpy(out, pre, sizeof(pre) - 1);
  for (i = 0; i < n; i++) {
    char c = path[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

    out[sizeof(pre) - 1 + i] = ok ? c : '_';
  }
  memcpy(out + sizeof(pre) - 1 + n, post, sizeof(post));
  return 0;
}
