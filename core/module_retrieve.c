/* module_retrieve.c - the "retrieve" module: passages from a search tool. */
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "tool.h"

#define RETRIEVE_K_DEFAULT 3
#define RETRIEVE_K_MAX 100

/* What load() keeps in m->data. */
typedef struct retrieve_data {
  int k;
  char *query;  /* owned: the input field holding the query */
  char *tool;   /* owned: the tool's name in the runtime */
  char *accumulate;  /* owned: the list input whose passages come first,
                        or NULL */
} retrieve_data;

static const char *const retrieve_members[] = {"k", "query", "tool",
                                               "accumulate", NULL};

static void retrieve_free(void *data)
{
  retrieve_data *d = data;

  if (!d)
    return;
  pc_free(d->query);
  pc_free(d->tool);
  pc_free(d->accumulate);
  pc_free(d);
}

/* Non-zero when `s` is an identifier: [A-Za-z_][A-Za-z0-9_]*. */
static int is_ident(const char *s)
{
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
    return 0;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

/* The string member `name` of `spec`, `def` when absent; NULL after an
 * error (set through the loader). */
static const char *string_member(pc_module_loader *ld, pc_module *m,
                                 const struct json_object *spec,
                                 const char *name, const char *def, int *rc)
{
  struct json_object *v;

  if (!json_object_object_get_ex(spec, name, &v))
    return def;
  if (!json_object_is_type(v, json_type_string) ||
      !is_ident(json_object_get_string(v))) {
    *rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "%s: expected a name "
                         "(letters, digits and _)", name);
    return NULL;
  }
  return json_object_get_string(v);
}

static int retrieve_load(pc_module_loader *ld, pc_module *m,
                         const struct json_object *spec)
{
  retrieve_data *d = NULL;
  struct json_object *v;
  const char *query, *tool, *acc;
  pc_signature *io = NULL;
  pc_error sub = PC_ERROR_INIT;
  pc_buf text;
  int rc = PC_OK;
  int64_t k = RETRIEVE_K_DEFAULT;

  pc_buf_init(&text, 4096);
  if (json_object_object_get_ex(spec, "k", &v)) {
    if (!json_object_is_type(v, json_type_int) ||
        (k = json_object_get_int64(v)) < 1 || k > RETRIEVE_K_MAX) {
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "k: expected an integer "
                          "from 1 to %d", RETRIEVE_K_MAX);
      goto fail;
    }
  }
  query = string_member(ld, m, spec, "query", "query", &rc);
  if (!query)
    goto fail;
  tool = string_member(ld, m, spec, "tool", "search", &rc);
  if (!tool)
    goto fail;
  acc = string_member(ld, m, spec, "accumulate", "", &rc);
  if (!acc)
    goto fail;
  if (!strcmp(query, "passages")) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "query: must differ from "
                        "the output field passages");
    goto fail;
  }
  if (!strcmp(acc, "passages") || !strcmp(acc, query)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "accumulate: must differ "
                        "from query and passages");
    goto fail;
  }
  d = pc_calloc(1, sizeof(*d));
  if (!d || !(d->query = pc_strdup(query)) || !(d->tool = pc_strdup(tool)) ||
      (acc[0] && !(d->accumulate = pc_strdup(acc))) ||
      pc_buf_printf(&text, "%s%s%s%s -> passages: list[str]", query,
                    acc[0] ? ", " : "", acc,
                    acc[0] ? ": list[str]" : "") != PC_OK) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "k: out of memory");
    goto fail;
  }
  d->k = (int)k;
  rc = pc_signature_parse(text.data, &io, &sub);
  if (rc != PC_OK) {
    rc = pc_module_fail(ld, m, rc, "query: %s", sub.message);
    goto fail;
  }
  m->io = io;
  m->data = d;
  d = NULL;

fail:
  retrieve_free(d);
  pc_buf_free(&text);
  return rc;
}

/* Non-zero when the string array `arr` holds `s`. */
static int has_string(const struct json_object *arr, const char *s)
{
  size_t n = json_object_array_length(arr);

  for (size_t i = 0; i < n; i++)
    if (!strcmp(json_object_get_string(
          json_object_array_get_idx(arr, i)), s))
      return 1;
  return 0;
}

/* Append `str` to `arr` unless it is there already. */
static int add_unique(struct json_object *arr, const char *str)
{
  struct json_object *s;

  if (has_string(arr, str))
    return 0;
  s = json_object_new_string(str);
  if (!s || json_object_array_add(arr, s) != 0) {
    json_object_put(s);
    return -1;
  }
  return 0;
}

/* Append each item of `list` with add_unique(): strings as they are,
 * other values as their JSON text. */
static int add_all(struct json_object *arr, const struct json_object *list)
{
  size_t n = json_object_array_length(list);

  for (size_t i = 0; i < n; i++) {
    struct json_object *item = json_object_array_get_idx(list, i);
    const char *str = json_object_is_type(item, json_type_string)
      ? json_object_get_string(item)
      : json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN);

    if (add_unique(arr, str ? str : "null"))
      return -1;
  }
  return 0;
}

/*
 * Turn the tool's observation into the "passages" list: the accumulated
 * passages of `prior` (a list or NULL) first, then the array's items:
 * strings as they are, other values as their JSON text; duplicates are
 * dropped, first occurrence kept.
 */
static int parse_passages(const pc_module *m, const retrieve_data *d,
                          const struct json_object *prior,
                          const char *obs, size_t len,
                          struct json_object **out, pc_error *err)
{
  struct json_object *v = NULL, *arr = NULL;
  pc_error perr = PC_ERROR_INIT;
  size_t n;
  int rc = PC_OK;

  *out = NULL;
  if (pc_json_parse(obs, len, PC_JSON_PARSE_STRICT, &v, &perr) ||
      !json_object_is_type(v, json_type_array)) {
    rc = pc_error_set(err, PC_E_PARSE, "module %s: tool %s: expected a "
                      "JSON array of passages", m->name, d->tool);
    goto out;
  }
  n = json_object_array_length(v);
  arr = json_object_new_array_ext((int)n);
  if (!arr) {
    rc = pc_error_set(err, PC_E_NOMEM, "module %s: out of memory", m->name);
    goto out;
  }
  if ((prior && add_all(arr, prior)) || add_all(arr, v)) {
    rc = pc_error_set(err, PC_E_NOMEM, "module %s: out of memory", m->name);
    goto out;
  }
  *out = arr;
  arr = NULL;

out:
  json_object_put(arr);
  json_object_put(v);
  return rc;
}

static int retrieve_forward(pc_run_ctx *ctx, const pc_module *m,
                            const struct json_object *inputs,
                            struct json_object **outputs, pc_error *err)
{
  const retrieve_data *d = m->data;
  struct json_object *q, *args = NULL, *res = NULL, *passages = NULL, *v;
  struct json_object *prior = NULL;
  pc_tool *tool = NULL;
  pc_error sub = PC_ERROR_INIT;
  char *obs = NULL;
  size_t len = 0;
  int rc;

  *outputs = NULL;
  if (!json_object_object_get_ex(inputs, d->query, &q) ||
      !json_object_is_type(q, json_type_string)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "module %s: input %s: "
                      "expected a string", m->name, d->query);
    goto out;
  }
  if (d->accumulate &&
      (!json_object_object_get_ex(inputs, d->accumulate, &prior) ||
       !(json_object_is_type(prior, json_type_array) ||
         json_object_is_type(prior, json_type_null)))) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "module %s: input %s: "
                      "expected a list of passages", m->name,
                      d->accumulate);
    goto out;
  }
  if (prior && !json_object_is_type(prior, json_type_array))
    prior = NULL;
  rc = pc_runtime_tool(ctx->rt, d->tool, &tool, &sub);
  if (rc != PC_OK) {
    rc = pc_error_wrap(err, &sub, "module %s", m->name);
    goto out;
  }
  args = json_object_new_object();
  if (!args ||
      !(v = json_object_new_string(json_object_get_string(q))) ||
      json_object_object_add(args, "query", v) != 0 ||
      !(v = json_object_new_int(d->k)) ||
      json_object_object_add(args, "k", v) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "module %s: out of memory", m->name);
    goto out;
  }
  rc = pc_tool_call(tool, ctx->call, args, &obs, &len, &sub);
  if (rc != PC_OK) {
    rc = pc_error_wrap(err, &sub, "module %s: tool %s", m->name, d->tool);
    goto out;
  }
  rc = parse_passages(m, d, prior, obs, len, &passages, err);
  if (rc != PC_OK)
    goto out;
  res = json_object_new_object();
  if (!res || json_object_object_add(res, "passages", passages) != 0) {
    rc = pc_error_set(err, PC_E_NOMEM, "module %s: out of memory", m->name);
    goto out;
  }
  passages = NULL;
  *outputs = res;
  res = NULL;

out:
  json_object_put(passages);
  json_object_put(res);
  json_object_put(args);
  pc_free(obs);
  return rc;
}

const pc_module_type pc__module_retrieve = {
  .name = "retrieve",
  .members = retrieve_members,
  .has_signature = 0,
  .load = retrieve_load,
  .forward = retrieve_forward,
  .free_data = retrieve_free,
};
