/* tool_search.c - the built-in "search" tool: BM25 passages from an index. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "index.h"
#include "json_text.h"
#include "tool.h"

#define SEARCH_K_DEFAULT 3

/* One configured search tool. Read-only after create; the index
 * serialises its own queries, so calls may run at once. */
typedef struct search_tool {
  pc_index *ix;  /* owned */
  size_t k;      /* default number of passages */
} search_tool;

/* Read an integer member `name` of `obj` into *k when it is there. */
static int get_k(const struct json_object *obj, const char *name,
                 size_t *k, const char *what, pc_error *err)
{
  struct json_object *v;
  int64_t n;

  if (!json_object_object_get_ex(obj, name, &v))
    return PC_OK;
  if (!json_object_is_type(v, json_type_int))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s%s: expected an integer "
                        "from 1 to %d", what, name, PC_INDEX_K_MAX);
  n = json_object_get_int64(v);
  if (n < 1 || n > PC_INDEX_K_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s%s: expected an integer "
                        "from 1 to %d, got %lld", what, name, PC_INDEX_K_MAX,
                        (long long)n);
  *k = (size_t)n;
  return PC_OK;
}

/* Parse `text` (`len` bytes) as a JSON object into *out (json_object_put;
 * NULL on failure). */
static int parse_object(const char *text, size_t len, const char *what,
                        struct json_object **out, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;

  *out = NULL;
  if (pc_json_parse(text, len, PC_JSON_PARSE_STRICT, out, &e) ||
      !json_object_is_type(*out, json_type_object)) {
    json_object_put(*out);
    *out = NULL;
    return pc_error_set(err, PC_E_INVALID_ARG, "search: %s: expected a "
                        "JSON object", what);
  }
  return PC_OK;
}

/*
 * Settings: {"index": PATH, "k"?: N, "base_dir"?: DIR}. A relative index
 * path is taken from base_dir. *inst is owned by the caller
 * (search_destroy).
 */
static int search_create(void *plugin_state, const char *config_json,
                         size_t len, void **inst, pc_error *err)
{
  struct json_object *cfg = NULL, *index = NULL, *base = NULL;
  search_tool *t = NULL;
  pc_buf path;
  int rc;

  (void)plugin_state;
  *inst = NULL;
  pc_buf_init(&path, 8192);
  rc = parse_object(config_json, len, "settings", &cfg, err);
  if (rc != PC_OK)
    goto fail;
  json_object_object_foreach(cfg, key, val) {
    (void)val;
    if (strcmp(key, "index") && strcmp(key, "k") && strcmp(key, "base_dir")) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "search: %s: unknown "
                        "setting (expected index or k)", key);
      goto fail;
    }
  }
  if (!json_object_object_get_ex(cfg, "index", &index) ||
      !json_object_is_type(index, json_type_string) ||
      !json_object_get_string_len(index)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "search: index: expected the "
                      "path of an index file (promptc index build)");
    goto fail;
  }
  if (json_object_object_get_ex(cfg, "base_dir", &base) &&
      !json_object_is_type(base, json_type_string)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "search: base_dir: expected a "
                      "string");
    goto fail;
  }
  t = pc_calloc(1, sizeof(*t));
  if (!t) {
    rc = pc_error_set(err, PC_E_NOMEM, "search: out of memory");
    goto fail;
  }
  t->k = SEARCH_K_DEFAULT;
  rc = get_k(cfg, "k", &t->k, "search: ", err);
  if (rc != PC_OK)
    goto fail;
  if (json_object_get_string(index)[0] != '/' && base &&
      json_object_get_string_len(base))
    rc = pc_buf_printf(&path, "%s/%s", json_object_get_string(base),
                       json_object_get_string(index));
  else
    rc = pc_buf_puts(&path, json_object_get_string(index));
  if (rc != PC_OK) {
    rc = pc_error_set(err, PC_E_NOMEM, "search: index: path too long");
    goto fail;
  }
  rc = pc_index_open(path.data, &t->ix, err);
  if (rc != PC_OK)
    goto fail;
  *inst = t;
  t = NULL;

fail:
  if (t)
    pc_index_close(t->ix);
  pc_free(t);
  json_object_put(cfg);
  pc_buf_free(&path);
  return rc;
}

static void search_destroy(void *inst)
{
  search_tool *t = inst;

  if (!t)
    return;
  pc_index_close(t->ix);
  pc_free(t);
}

/* Args {"query": TEXT, "k"?: N}: write the passages as a JSON array of
 * "title | text" strings to `out`. */
static int search_call(void *inst, const pc_call *call, const char *args_json,
                       size_t args_len, const pc_text_sink *out,
                       pc_error *err)
{
  search_tool *t = inst;
  struct json_object *args = NULL, *query, *arr = NULL;
  pc_index_hit *hits = NULL;
  size_t n = 0, k = t->k, i;
  pc_buf pass;
  const char *text;
  int rc;

  (void)call;
  pc_buf_init(&pass, PC_BUF_DEFAULT_MAX);
  rc = parse_object(args_json, args_len, "arguments", &args, err);
  if (rc != PC_OK)
    goto out;
  if (!json_object_object_get_ex(args, "query", &query) ||
      !json_object_is_type(query, json_type_string)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "search: query: expected a "
                      "string");
    goto out;
  }
  rc = get_k(args, "k", &k, "search: ", err);
  if (rc != PC_OK)
    goto out;
  rc = pc_index_query(t->ix, json_object_get_string(query), k, &hits, &n,
                      err);
  if (rc != PC_OK)
    goto out;
  arr = json_object_new_array();
  if (!arr) {
    rc = pc_error_set(err, PC_E_NOMEM, "search: out of memory");
    goto out;
  }
  for (i = 0; i < n; i++) {
    struct json_object *s;

    pc_buf_reset(&pass);
    if (pc_index_passage(&hits[i], &pass) != PC_OK ||
        !(s = json_object_new_string_len(pass.data ? pass.data : "",
                                         (int)pass.len)) ||
        json_object_array_add(arr, s) != 0) {
      rc = pc_error_set(err, PC_E_NOMEM, "search: out of memory");
      goto out;
    }
  }
  text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                        JSON_C_TO_STRING_NOSLASHESCAPE);
  if (!text) {
    rc = pc_error_set(err, PC_E_NOMEM, "search: out of memory");
    goto out;
  }
  if (out->write(out->ctx, text, strlen(text)) != 0)
    rc = pc_error_set(err, PC_E_NOMEM, "search: the observation was "
                      "refused");

out:
  json_object_put(arr);
  json_object_put(args);
  pc_index_hits_free(hits, n);
  pc_buf_free(&pass);
  return rc;
}

const pc_tool_iface pc__tool_search = {
  .hdr = PC_ABI_HEADER_INIT(pc_tool_iface),
  .name = "search",
  .description = "Searches a passage index and returns the most relevant "
                 "passages, each as \"title | text\".",
  .args_schema = "{\"query\": {\"type\": \"string\"}, "
                 "\"k\": {\"type\": \"integer\"}}",
  .required_args = "[\"query\"]",
  .create = search_create,
  .destroy = search_destroy,
  .call = search_call,
};
