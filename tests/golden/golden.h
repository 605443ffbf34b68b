/*
 * golden.h - the runner for the adapter golden files, included by
 * tests/unit/test_adapter_chat.c and tests/unit/test_adapter_json.c.
 *
 * It lives next to the files it reads (tests/golden/README.md describes
 * them). Every file of a directory is one case; a failing case prints its
 * file name, then PC_ASSERT_STR_EQ prints both texts.
 */
#ifndef PC_TEST_GOLDEN_H
#define PC_TEST_GOLDEN_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "adapter.h"
#include "alloc.h"
#include "buf.h"
#include "../unit/harness.h"
#include "json_text.h"
#include "signature.h"

#define GOLDEN_MAX_FILES 256

/* Suite setup shared by the adapter tests: load the plugins of the test
 * environment (PROMPTC_PLUGIN_PATH) into *reg and open the adapter `name`
 * into *adapter. Returns 0, or 1 after printing why (CUnit then reports
 * the suite as failed to initialise). golden_adapter_close undoes it. */
static int golden_adapter_open(const char *name, pc_registry **reg,
                               pc_adapter **adapter)
{
  pc_error err = PC_ERROR_INIT;

  *adapter = NULL;
  *reg = pc_registry_new();
  if (!*reg || pc_registry_load_default(*reg, NULL, &err) != PC_OK)
    return 1;
  for (size_t i = 0; i < (*reg)->n_failures; i++)
    fprintf(stderr, "plugin load failure: %s\n", (*reg)->failures[i].message);
  if (pc_adapter_open(*reg, name, NULL, adapter, &err) != PC_OK) {
    fprintf(stderr, "adapter %s: %s\n", name, err.message);
    return 1;
  }
  return 0;
}

static void golden_adapter_close(pc_registry *reg, pc_adapter *adapter)
{
  pc_adapter_close(adapter);
  pc_registry_free(reg);
}

static int golden_name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of directory `rel` (below tests/), sorted; *n of them
 * in names (each pc_strdup'd; release with golden_names_free). */
static size_t golden_list(const char *rel, char **names)
{
  DIR *d = opendir(pc_test_path(rel));
  struct dirent *e;
  size_t n = 0;

  if (!d)
    return 0;
  while ((e = readdir(d)) != NULL && n < GOLDEN_MAX_FILES) {
    size_t len = strlen(e->d_name);

    if (len > 5 && !strcmp(e->d_name + len - 5, ".json"))
      names[n++] = pc_strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(*names), golden_name_cmp);
  return n;
}

static void golden_names_free(char **names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    pc_free(names[i]);
}

/* Read and parse one golden file; NULL (and a failed assertion) when it
 * cannot be read or is not a JSON object. Release with json_object_put. */
static struct json_object *golden_load(const char *rel, const char *name)
{
  char path[512];
  char *text;
  struct json_object *o;

  snprintf(path, sizeof(path), "%s/%s", rel, name);
  text = pc_test_read_file(pc_test_path(path), NULL);
  if (!text) {
    fprintf(stderr, "\ngolden %s: cannot read\n", path);
    CU_FAIL("golden file unreadable");
    return NULL;
  }
  o = json_tokener_parse(text);
  pc_free(text);
  if (!json_object_is_type(o, json_type_object)) {
    fprintf(stderr, "\ngolden %s: not a JSON object\n", path);
    CU_FAIL("golden file is not a JSON object");
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* A text member: a string, or an array of lines joined with "\n" (which
 * keeps trailing spaces visible in the files). Owned (pc_free); NULL when
 * absent or of another type. */
static char *golden_text(const struct json_object *o, const char *key,
                         size_t *len)
{
  struct json_object *v = NULL;
  pc_buf b;

  if (!json_object_object_get_ex(o, key, &v))
    return NULL;
  if (json_object_is_type(v, json_type_string)) {
    *len = (size_t)json_object_get_string_len(v);
    return pc_memdup(json_object_get_string(v), *len);
  }
  if (!json_object_is_type(v, json_type_array))
    return NULL;
  pc_buf_init(&b, 0);
  for (size_t i = 0; i < json_object_array_length(v); i++) {
    struct json_object *line = json_object_array_get_idx(v, i);

    if (i)
      pc_buf_putc(&b, '\n');
    pc_buf_append(&b, json_object_get_string(line),
                  (size_t)json_object_get_string_len(line));
  }
  return pc_buf_take(&b, len);
}

/* The case's signature, or NULL after a failed assertion. */
static pc_signature *golden_signature(const struct json_object *o,
                                      const char *name)
{
  struct json_object *v = NULL;
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;

  json_object_object_get_ex(o, "signature", &v);
  if (pc_signature_from_json(v, &sig, &err) != PC_OK) {
    fprintf(stderr, "\ngolden %s: signature: %s\n", name, err.message);
    CU_FAIL("golden signature rejected");
    return NULL;
  }
  return sig;
}

/* Run one format case; returns 1 when every message matched. */
static int golden_format_case(pc_adapter *a, const char *rel,
                              const char *name)
{
  struct json_object *o = golden_load(rel, name), *demos = NULL,
                     *inputs = NULL, *want = NULL;
  pc_signature *sig = NULL;
  pc_messages msgs = {0};
  pc_error err = PC_ERROR_INIT;
  char *params = NULL;
  size_t n_want, len = 0;
  int ok = 0;

  if (!o || !(sig = golden_signature(o, name)))
    goto out;
  json_object_object_get_ex(o, "demos", &demos);
  json_object_object_get_ex(o, "inputs", &inputs);
  json_object_object_get_ex(o, "messages", &want);
  if (pc_adapter_format(a, sig, demos, inputs, &msgs, &err) != PC_OK) {
    fprintf(stderr, "\ngolden %s: format failed: %s\n", name, err.message);
    CU_FAIL("format failed");
    goto out;
  }
  n_want = json_object_array_length(want);
  ok = msgs.n == n_want;
  if (!ok)
    fprintf(stderr, "\ngolden %s: %zu messages, expected %zu\n", name,
            msgs.n, n_want);
  CU_ASSERT_EQUAL(msgs.n, n_want);
  for (size_t i = 0; i < msgs.n && i < n_want; i++) {
    struct json_object *m = json_object_array_get_idx(want, i), *role;
    char *content = golden_text(m, "content", &len);

    json_object_object_get_ex(m, "role", &role);
    if (strcmp(msgs.items[i].role, json_object_get_string(role)) ||
        !content || len != msgs.items[i].len ||
        memcmp(msgs.items[i].content, content, len)) {
      fprintf(stderr, "\ngolden %s: message %zu differs\n", name, i + 1);
      ok = 0;
    }
    PC_ASSERT_STR_EQ(msgs.items[i].role, json_object_get_string(role));
    PC_ASSERT_STR_EQ(msgs.items[i].content, content ? content : "");
    pc_free(content);
  }
  params = golden_text(o, "params", &len);
  if (params) {
    PC_ASSERT_STR_EQ(msgs.params_json, params);
    ok = ok && msgs.params_json && !strcmp(msgs.params_json, params);
  } else {
    CU_ASSERT_PTR_NULL(msgs.params_json);
    ok = ok && !msgs.params_json;
  }

out:
  pc_free(params);
  pc_messages_clear(&msgs);
  pc_signature_free(sig);
  json_object_put(o);
  return ok;
}

/* Run one parse case; returns 1 when it came out as expected. */
static int golden_parse_case(pc_adapter *a, const char *rel,
                             const char *name)
{
  struct json_object *o = golden_load(rel, name), *want = NULL,
                     *want_err = NULL, *got = NULL;
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  char *completion = NULL, *got_text = NULL, *want_text = NULL;
  size_t len = 0;
  int rc, ok = 0;

  if (!o || !(sig = golden_signature(o, name)))
    goto out;
  completion = golden_text(o, "completion", &len);
  CU_ASSERT_PTR_NOT_NULL(completion);
  if (!completion)
    goto out;
  rc = pc_adapter_parse(a, sig, completion, len, &got, &err);
  if (json_object_object_get_ex(o, "error", &want_err)) {
    const char *sub = json_object_get_string(want_err);

    ok = rc == PC_E_PARSE && strstr(err.message, sub) != NULL;
    if (!ok)
      fprintf(stderr, "\ngolden %s: expected PC_E_PARSE with \"%s\", got "
              "%d \"%s\"\n", name, sub, rc, err.message);
    CU_ASSERT_EQUAL(rc, PC_E_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, sub));
    CU_ASSERT_PTR_NULL(got);
    goto out;
  }
  json_object_object_get_ex(o, "expected", &want);
  if (rc != PC_OK) {
    fprintf(stderr, "\ngolden %s: parse failed: %s\n", name, err.message);
    CU_FAIL("parse failed");
    goto out;
  }
  /* Both through the same writer, so 3 and 3.0 stay different. */
  got_text = pc_json_to_string(got, PC_JSON_TEXT_COMPACT);
  want_text = pc_json_to_string(want, PC_JSON_TEXT_COMPACT);
  ok = got_text && want_text && !strcmp(got_text, want_text);
  if (!ok)
    fprintf(stderr, "\ngolden %s: parsed value differs\n", name);
  PC_ASSERT_STR_EQ(got_text, want_text);

out:
  pc_free(got_text);
  pc_free(want_text);
  pc_free(completion);
  json_object_put(got);
  pc_signature_free(sig);
  json_object_put(o);
  return ok;
}

/* Run every case of directory `rel` (below tests/) with `run`; returns the
 * number of files, and counts the passing ones in *passed. */
static size_t golden_run_dir(pc_adapter *a, const char *rel,
                             int (*run)(pc_adapter *, const char *,
                                        const char *),
                             size_t *passed)
{
  char *names[GOLDEN_MAX_FILES];
  size_t n = golden_list(rel, names);

  *passed = 0;
  for (size_t i = 0; i < n; i++)
    *passed += (size_t)run(a, rel, names[i]);
  if (*passed != n)
    fprintf(stderr, "\n%s: %zu of %zu golden cases passed\n", rel, *passed,
            n);
  golden_names_free(names, n);
  return n;
}

#endif
