/* report.c - builds the report.json object of a compile and writes the
 * report files (the HTML rendering is report_html.c). */
#include <string.h>

#include "alloc.h"
#include "file.h"
#include "json_text.h"
#include "report.h"
#include "signature.h"

/* A deep copy of `v` (NULL stays NULL) in *out; -1 when out of memory. */
static int copy(const struct json_object *v, struct json_object **out)
{
  *out = NULL;
  if (!v)
    return 0;
  return json_object_deep_copy((struct json_object *)v, out, NULL) ? -1 : 0;
}

/* Add a copy of member `key` of `from` (null when absent) to `to`. */
static int put_copy(struct json_object *to, const char *key,
                    const struct json_object *from)
{
  struct json_object *v = NULL;

  if (copy(pc_json_member(from, key), &v))
    return -1;
  if (json_object_object_add(to, key, v)) {
    json_object_put(v);
    return -1;
  }
  return 0;
}

/* Add `v` (owned; NULL means null) to `to` under `key`; -1 on failure,
 * when `v` is released. `made` says whether a non-NULL `v` was expected,
 * so a failed constructor is caught. */
static int put_new(struct json_object *to, const char *key,
                   struct json_object *v, int made)
{
  if (made && !v)
    return -1;
  if (json_object_object_add(to, key, v)) {
    json_object_put(v);
    return -1;
  }
  return 0;
}

static int put_str(struct json_object *to, const char *key, const char *s)
{
  return put_new(to, key, s ? json_object_new_string(s) : NULL, s != NULL);
}

/* {"score", "n"} from the summary's member `key`. */
static int put_score(struct json_object *to, const char *key,
                     const struct json_object *summary)
{
  const struct json_object *from = pc_json_member(summary, key);
  struct json_object *o;

  if (!from)
    return put_new(to, key, NULL, 0);
  if (!(o = json_object_new_object()) || put_new(to, key, o, 1))
    return -1;
  return put_copy(o, "score", from) || put_copy(o, "n", from) ? -1 : 0;
}

static int put_optimizer(struct json_object *to,
                         const struct json_object *summary)
{
  const struct json_object *from = pc_json_member(summary, "optimizer");
  struct json_object *o;

  if (!from)
    return put_new(to, "optimizer", NULL, 0);
  if (!(o = json_object_new_object()) || put_new(to, "optimizer", o, 1))
    return -1;
  return put_copy(o, "name", from) || put_copy(o, "id", from) ||
         put_copy(o, "version", from) || put_copy(o, "settings", from)
           ? -1 : 0;
}

int pc_report_build(const pc_report_input *in, struct json_object **out,
                    pc_error *err)
{
  const struct json_object *s = in ? in->summary : NULL;
  struct json_object *r = NULL, *prog, *v;
  int rc = PC_E_NOMEM;

  *out = NULL;
  if (!s || !json_object_is_type((struct json_object *)s,
                                 json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "report: no compile summary to build it from");
  if (!(r = json_object_new_object()) ||
      put_str(r, "schema", PC_REPORT_SCHEMA) ||
      put_copy(r, "run_id", s) ||
      !(prog = json_object_new_object()) ||
      put_new(r, "program", prog, 1) ||
      put_str(prog, "name", in->program_name) ||
      put_str(prog, "path", in->program_path) ||
      put_str(prog, "sha256", in->program_sha256) ||
      put_optimizer(r, s) ||
      put_copy(r, "seed", s) ||
      put_score(r, "baseline", s) ||
      put_score(r, "compiled", s) ||
      put_copy(r, "stopped_by", s) ||
      put_copy(r, "stop_reason", s) ||
      put_copy(r, "usage", s) ||
      put_copy(r, "elapsed_ms", s))
    goto out;
  if (in->trials) {
    if (copy(in->trials, &v) || put_new(r, "trials", v, 1))
      goto out;
  } else if (put_new(r, "trials", json_object_new_array(), 1)) {
    goto out;
  }
  if (copy(in->optimizer_report, &v) ||
      put_new(r, "optimizer_report", v, in->optimizer_report != NULL) ||
      copy(in->state, &v) || put_new(r, "state", v, in->state != NULL))
    goto out;
  *out = r;
  r = NULL;
  rc = PC_OK;
out:
  json_object_put(r);
  if (rc)
    pc_error_set(err, rc, "report: out of memory");
  return rc;
}

struct json_object *pc_report_state_of(const pc_program *prog)
{
  struct json_object *o = json_object_new_object(), *entry, *demos;
  size_t n = pc_program_n_predictors(prog);

  if (!o)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    const pc_predictor *p = pc_program_predictor_at(prog, i);

    if (!(entry = json_object_new_object()) ||
        put_new(o, p->path, entry, 1) ||
        put_str(entry, "instructions", p->signature->instructions) ||
        copy(p->demos, &demos) ||
        put_new(entry, "demos", demos ? demos : json_object_new_array(),
                1)) {
      json_object_put(o);
      return NULL;
    }
  }
  return o;
}

int pc_report_write(const struct json_object *report, const char *json_path,
                    const char *html_path, pc_error *err)
{
  pc_buf text;
  int rc = PC_OK;

  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  if (json_path) {
    if (pc_json_write(report, PC_JSON_TEXT_PRETTY |
                                PC__JSON_TEXT_NONFINITE_NULL, &text) ||
        pc_buf_putc(&text, '\n')) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", json_path);
      goto out;
    }
    if ((rc = pc_file_mkparents(json_path, 0777, err)) ||
        (rc = pc_file_write_atomic(json_path, text.data, text.len, err)))
      goto out;
    pc_buf_reset(&text);
  }
  if (html_path) {
    if ((rc = pc_report_html(report, &text, err)) ||
        (rc = pc_file_mkparents(html_path, 0777, err)) ||
        (rc = pc_file_write_atomic(html_path, text.data, text.len, err)))
      goto out;
  }
out:
  pc_buf_free(&text);
  return rc;
}

/* `stem` + `suffix` as a new string, NULL when out of memory. */
static char *joined(const char *stem, size_t n, const char *suffix)
{
  size_t m = strlen(suffix);
  char *s = pc_malloc(n + m + 1);

  if (!s)
    return NULL;
  memcpy(s, stem, n);
  memcpy(s + n, suffix, m + 1);
  return s;
}

int pc_report_paths(const char *output, const char *prefix,
                    char **json_path, char **html_path)
{
  const char *stem = prefix ? prefix : output;
  size_t n = strlen(stem);

  if (!prefix && n > 5 && !strcmp(stem + n - 5, ".json"))
    n -= 5;
  *json_path = joined(stem, n, ".report.json");
  *html_path = joined(stem, n, ".report.html");
  if (!*json_path || !*html_path) {
    pc_free(*json_path);
    pc_free(*html_path);
    *json_path = *html_path = NULL;
    return PC_E_NOMEM;
  }
  return PC_OK;
}
