/* sim_wire_common.c - what the sim-server's wire formats share in reading
 * a chat request: the body and its model, the messages, the stream flag,
 * numbers in range, message contents and the copy of call settings
 * (sim_internal.h, "reading requests"). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "sim_internal.h"

/* ---- pieces --------------------------------------------------------- */

int pc__sim_text_content(const struct json_object *c, const char *where,
                         char **out, size_t *len, pc__sim_fail *f)
{
  pc_buf b;
  size_t n;
  int rc = PC_OK;

  *out = NULL;
  *len = 0;
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (!c) {
    rc = PC_OK;  /* null content: an empty text */
  } else if (json_object_is_type(c, json_type_string)) {
    rc = pc_buf_append(&b, json_object_get_string((struct json_object *)c),
                       (size_t)json_object_get_string_len(c));
  } else if (json_object_is_type(c, json_type_array)) {
    n = json_object_array_length(c);
    for (size_t i = 0; !rc && i < n; i++) {
      struct json_object *part = json_object_array_get_idx(c, i);
      const char *type = pc_json_str(part, "type");
      struct json_object *text = pc_json_member(part, "text");

      if (!type || strcmp(type, "text") != 0 ||
          !json_object_is_type(text, json_type_string)) {
        pc_buf_free(&b);
        return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                                "%s[%zu]: only {\"type\": \"text\", "
                                "\"text\": STRING} parts are supported",
                                where, i);
      }
      rc = pc_buf_append(&b, json_object_get_string(text),
                         (size_t)json_object_get_string_len(text));
    }
  } else {
    pc_buf_free(&b);
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "%s: expected a string or an array of text "
                            "parts", where);
  }
  if (!rc && !(*out = pc_buf_take(&b, len)))
    rc = PC_E_NOMEM;
  pc_buf_free(&b);
  if (rc)
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

int pc__sim_msgs_add(pc_messages *m, const char *role, char *content,
                     size_t len)
{
  pc_chat_message *items;
  char *r = pc_strdup(role);

  items = r ? pc_realloc(m->items, (m->n + 1) * sizeof(*items)) : NULL;
  if (!items) {
    pc_free(r);
    pc_free(content);
    return PC_E_NOMEM;
  }
  m->items = items;
  items[m->n].role = r;
  items[m->n].content = content;
  items[m->n].len = len;
  m->n++;
  return PC_OK;
}

void pc__sim_copy(struct json_object *to, const struct json_object *from,
                  const char *key, int *rc)
{
  struct json_object *v;

  if (*rc || !json_object_object_get_ex(from, key, &v))
    return;
  if (!v)
    pc__sim_put_null(to, key, rc);
  else
    pc__sim_put(to, key, json_object_get(v), rc);
}

int pc__sim_number(const struct json_object *o, const char *key,
                   double *out)
{
  struct json_object *v;

  if (!json_object_object_get_ex(o, key, &v) || !v)
    return 0;
  if (!json_object_is_type(v, json_type_int) &&
      !json_object_is_type(v, json_type_double))
    return -1;
  *out = json_object_get_double(v);
  return 1;
}

void pc__sim_copy_all(struct json_object *to, const struct json_object *from,
                      const char *const *skip, int *rc)
{
  json_object_object_foreach((struct json_object *)from, key, val) {
    size_t i;

    (void)val;
    for (i = 0; skip && skip[i] && strcmp(key, skip[i]) != 0; i++)
      ;
    if (!skip || !skip[i])
      pc__sim_copy(to, from, key, rc);
  }
}

/* ---- the parts of a chat request ------------------------------------ */

int pc__sim_read_model(pc__sim_req *req, const char *missing, int nonempty,
                       pc__sim_fail *f)
{
  if (!json_object_is_type(req->body, json_type_object))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "the request body must be a JSON object");
  req->model = pc_json_str(req->body, "model");
  if (!req->model || (nonempty && !*req->model))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s", missing);
  return PC_OK;
}

/* One message: its role as the rules map it, its content as text. */
static int read_message(pc__sim_req *req, const pc__sim_msg_rules *rules,
                        struct json_object *m, size_t i, pc__sim_fail *f)
{
  const char *role = pc_json_str(m, "role");
  struct json_object *c = pc_json_member(m, "content");
  char where[64], *text;
  size_t len;
  int rc;

  snprintf(where, sizeof(where), "%s%zu%s", rules->open, i, rules->close);
  if (rules->role)
    role = rules->role(role);
  if (!role)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s.role: %s",
                            where, rules->refused);
  if (!rules->parts && c && !json_object_is_type(c, json_type_string))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s.content: "
                            "expected a string", where);
  snprintf(where + strlen(where), sizeof(where) - strlen(where),
           ".content");
  rc = pc__sim_text_content(c, where, &text, &len, f);
  if (rc)
    return rc;
  if (pc__sim_msgs_add(&req->msgs, role, text, len))
    return pc__sim_fail_set(f, PC__SIM_FAIL_500, "out of memory");
  return PC_OK;
}

int pc__sim_read_messages(pc__sim_req *req, const pc__sim_msg_rules *rules,
                          pc__sim_fail *f)
{
  struct json_object *msgs = pc_json_member(req->body, "messages");
  size_t n;
  int rc;

  if (!json_object_is_type(msgs, json_type_array) ||
      json_object_array_length(msgs) == 0)
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST,
                            "messages: expected a non-empty array");
  n = json_object_array_length(msgs);
  for (size_t i = 0; i < n; i++) {
    rc = read_message(req, rules, json_object_array_get_idx(msgs, i), i, f);
    if (rc)
      return rc;
  }
  return PC_OK;
}

int pc__sim_read_stream(pc__sim_req *req, const char *bad, pc__sim_fail *f)
{
  struct json_object *v;

  if (!json_object_object_get_ex(req->body, "stream", &v) || !v)
    return PC_OK;
  if (!json_object_is_type(v, json_type_boolean))
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s", bad);
  req->stream = json_object_get_boolean(v);
  return PC_OK;
}

int pc__sim_read_number(const struct json_object *o, const char *key,
                        double lo, double hi, const char *not_number,
                        const char *out_of_range, pc__sim_fail *f)
{
  double num;

  switch (pc__sim_number(o, key, &num)) {
  case -1:
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s", not_number);
  case 1:
    if (num >= lo && num <= hi)
      break;
    if (out_of_range)
      return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s",
                              out_of_range);
    return pc__sim_fail_set(f, PC__SIM_FAIL_BAD_REQUEST, "%s: %g is not "
                            "from %g to %g", key, num, lo, hi);
  default:
    break;
  }
  return PC_OK;
}
