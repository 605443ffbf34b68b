/* gates.c - release gates: a strict reader of gates files, the check of a
 * candidate's test scores and manifest against them, and the verdict
 * table. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "gates.h"
#include "json_text.h"

#define GATES_SCHEMA "promptc.gates/1"
#define GATES_FILE_MAX ((size_t)1 << 20)   /* a gates file: 1 MiB */
#define EPSILON 1e-9            /* equal scores never fail by rounding */
#define LEAKS_NAMED 3           /* leaked test ids named in the detail */
#define MIN_TEST_SIZE_MAX 1000000000LL
#define KEY_ID_LEN 16
#define DETAIL_MAX 256

/* A per-slice minimum. */
struct slice_min {
  char *name;     /* owned */
  double min;
};

/* A required model identity for one LM role. */
struct model_req {
  char *role;     /* owned */
  char *identity; /* owned */
};

struct pc_gates {
  char *metric;                 /* owned, or NULL: the caller's default */
  int has_min_score;
  double min_score;
  struct slice_min *slice_min;  /* owned, sorted by name, "*" excluded */
  size_t n_slice_min;
  int has_star;                 /* "*" in min_slice_score */
  double star_min;
  int has_max_regression;
  double max_regression;
  int has_max_slice_regression;
  double max_slice_regression;
  char **critical;              /* owned, sorted, unique */
  size_t n_critical;
  int has_critical_regression;
  double critical_regression;   /* default 0 */
  int has_min_test_size;
  long long min_test_size;
  int disjoint;                 /* default 1 */
  char **keys;                  /* owned, upper-case hex, sorted, unique */
  size_t n_keys;
  int has_require_model;
  struct model_req *models;     /* owned, sorted by role */
  size_t n_models;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_slice_min(const void *a, const void *b)
{
  return strcmp(((const struct slice_min *)a)->name,
                ((const struct slice_min *)b)->name);
}

static int cmp_model_req(const void *a, const void *b)
{
  return strcmp(((const struct model_req *)a)->role,
                ((const struct model_req *)b)->role);
}

static int is_hex(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

static char upper(char c)
{
  return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* 1 when `s` is exactly 16 hex digits. */
static int key_id_valid(const char *s)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if (i >= KEY_ID_LEN || !is_hex(s[i]))
      return 0;
  return i == KEY_ID_LEN;
}

/* 1 when key ids `a` and `b` are the same, whatever the case. */
static int key_id_equal(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if (upper(*a) != upper(*b))
      return 0;
  return *a == *b;
}

static int is_number(const struct json_object *v)
{
  return json_object_is_type(v, json_type_double) ||
         json_object_is_type(v, json_type_int);
}

/* ---------------------------------------------------------------------- */
/* Reading a gates file                                                   */

/* What the member readers share: the gates being filled and the name of
 * the file (or object) for messages. */
struct reader {
  pc_gates *g;
  const char *what;
  pc_error *err;
};

/* Read a score or tolerance: a number in [0, 1]. */
static int read_unit(struct reader *r, const char *key,
                     const struct json_object *v, double *out)
{
  double d;

  if (!is_number(v))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected a "
                        "number in [0, 1], got %s", r->what, key,
                        json_type_to_name(json_object_get_type(v)));
  d = json_object_get_double(v);
  if (!isfinite(d) || d < 0.0 || d > 1.0)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": %g is out "
                        "of range (expected a number in [0, 1])", r->what,
                        key, d);
  *out = d;
  return PC_OK;
}

/* A non-empty string, for names in lists and maps. */
static int read_name(struct reader *r, const char *key,
                     const struct json_object *v, const char **out)
{
  const char *s;

  if (!json_object_is_type(v, json_type_string))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected a "
                        "string, got %s", r->what, key,
                        json_type_to_name(json_object_get_type(v)));
  s = json_object_get_string((struct json_object *)v);
  if (!s || !*s)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty "
                        "string", r->what, key);
  *out = s;
  return PC_OK;
}

static int nomem(struct reader *r)
{
  return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", r->what);
}

static int read_schema(struct reader *r, const char *key,
                       const struct json_object *v)
{
  const char *s;

  if (!json_object_is_type(v, json_type_string))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"schema\": expected "
                        "the string \"%s\"", r->what, GATES_SCHEMA);
  s = json_object_get_string((struct json_object *)v);
  if (strcmp(s, GATES_SCHEMA) != 0)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": \"%.64s\" "
                        "is not supported (expected \"%s\")", r->what, key, s,
                        GATES_SCHEMA);
  return PC_OK;
}

static int read_metric(struct reader *r, const char *key,
                       const struct json_object *v)
{
  const char *s;
  int rc = read_name(r, key, v, &s);

  if (rc == PC_OK && !(r->g->metric = pc_strdup(s)))
    rc = nomem(r);
  return rc;
}

static int read_min_score(struct reader *r, const char *key,
                          const struct json_object *v)
{
  r->g->has_min_score = 1;
  return read_unit(r, key, v, &r->g->min_score);
}

static int read_max_regression(struct reader *r, const char *key,
                               const struct json_object *v)
{
  r->g->has_max_regression = 1;
  return read_unit(r, key, v, &r->g->max_regression);
}

static int read_max_slice_regression(struct reader *r, const char *key,
                                     const struct json_object *v)
{
  r->g->has_max_slice_regression = 1;
  return read_unit(r, key, v, &r->g->max_slice_regression);
}

static int read_critical_regression(struct reader *r, const char *key,
                                    const struct json_object *v)
{
  r->g->has_critical_regression = 1;
  return read_unit(r, key, v, &r->g->critical_regression);
}

static int read_min_slice_score(struct reader *r, const char *key,
                                const struct json_object *v)
{
  pc_gates *g = r->g;
  size_t n;
  char path[DETAIL_MAX];
  int rc = PC_OK;

  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected an "
                        "object of slice -> minimum score", r->what, key);
  n = (size_t)json_object_object_length(v);
  if (n == 0)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty object "
                        "(leave the member out instead)", r->what, key);
  if (!(g->slice_min = pc_calloc(n, sizeof(*g->slice_min))))
    return nomem(r);
  json_object_object_foreach((struct json_object *)v, slice, min) {
    double d;

    snprintf(path, sizeof(path), "%s.%.200s", key, slice);
    if (!*slice)
      return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty "
                          "slice name", r->what, key);
    if ((rc = read_unit(r, path, min, &d)) != PC_OK)
      return rc;
    if (strcmp(slice, "*") == 0) {
      g->has_star = 1;
      g->star_min = d;
      continue;
    }
    if (!(g->slice_min[g->n_slice_min].name = pc_strdup(slice)))
      return nomem(r);
    g->slice_min[g->n_slice_min++].min = d;
  }
  if (g->n_slice_min > 1)
    qsort(g->slice_min, g->n_slice_min, sizeof(*g->slice_min),
          cmp_slice_min);
  return rc;
}

/* Read an array of non-empty unique strings into a new sorted array. */
static int read_string_list(struct reader *r, const char *key,
                            const struct json_object *v, char ***out,
                            size_t *n_out)
{
  size_t n, i;
  char **list;
  char path[DETAIL_MAX];
  int rc;

  if (!json_object_is_type(v, json_type_array))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected an "
                        "array of strings", r->what, key);
  n = json_object_array_length(v);
  if (n == 0)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty list "
                        "(leave the member out instead)", r->what, key);
  if (!(list = pc_calloc(n, sizeof(*list))))
    return nomem(r);
  *out = list;  /* freed with the gates, also after a failure */
  for (i = 0; i < n; i++) {
    const char *s;

    snprintf(path, sizeof(path), "%s[%zu]", key, i);
    rc = read_name(r, path, json_object_array_get_idx(v, i), &s);
    if (rc != PC_OK)
      return rc;
    if (!(list[i] = pc_strdup(s)))
      return nomem(r);
    *n_out = i + 1;
  }
  qsort(list, n, sizeof(*list), cmp_str);
  for (i = 1; i < n; i++)
    if (strcmp(list[i - 1], list[i]) == 0)
      return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": \"%.64s\" "
                          "is listed twice", r->what, key, list[i]);
  return PC_OK;
}

static int read_critical_slices(struct reader *r, const char *key,
                                const struct json_object *v)
{
  return read_string_list(r, key, v, &r->g->critical, &r->g->n_critical);
}

static int read_require_key(struct reader *r, const char *key,
                            const struct json_object *v)
{
  pc_gates *g = r->g;
  int rc = read_string_list(r, key, v, &g->keys, &g->n_keys);

  for (size_t i = 0; rc == PC_OK && i < g->n_keys; i++) {
    if (!key_id_valid(g->keys[i]))
      return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s[%zu]\": "
                          "\"%.64s\" is not a key id (16 hex digits)",
                          r->what, key, i, g->keys[i]);
    for (char *p = g->keys[i]; *p; p++)
      *p = upper(*p);
  }
  /* Upper-casing may have made two entries equal. */
  if (rc == PC_OK && g->n_keys > 1) {
    qsort(g->keys, g->n_keys, sizeof(*g->keys), cmp_str);
    for (size_t i = 1; i < g->n_keys; i++)
      if (strcmp(g->keys[i - 1], g->keys[i]) == 0)
        return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": %s is "
                            "listed twice", r->what, key, g->keys[i]);
  }
  return rc;
}

static int read_require_model(struct reader *r, const char *key,
                              const struct json_object *v)
{
  pc_gates *g = r->g;
  size_t n;
  char path[DETAIL_MAX];
  int rc;

  if (!json_object_is_type(v, json_type_object))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected an "
                        "object of LM role -> model identity", r->what, key);
  n = (size_t)json_object_object_length(v);
  if (n == 0)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty object "
                        "(leave the member out instead)", r->what, key);
  if (!(g->models = pc_calloc(n, sizeof(*g->models))))
    return nomem(r);
  g->has_require_model = 1;
  json_object_object_foreach((struct json_object *)v, role, ident) {
    struct model_req *m = &g->models[g->n_models];
    const char *s;

    snprintf(path, sizeof(path), "%s.%.200s", key, role);
    if (!*role)
      return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": empty role "
                          "name", r->what, key);
    if ((rc = read_name(r, path, ident, &s)) != PC_OK)
      return rc;
    m->role = pc_strdup(role);
    m->identity = pc_strdup(s);
    g->n_models++;
    if (!m->role || !m->identity)
      return nomem(r);
  }
  if (g->n_models > 1)
    qsort(g->models, g->n_models, sizeof(*g->models), cmp_model_req);
  return PC_OK;
}

static int read_min_test_size(struct reader *r, const char *key,
                              const struct json_object *v)
{
  long long n;

  if (!json_object_is_type(v, json_type_int))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected an "
                        "integer, got %s", r->what, key,
                        json_type_to_name(json_object_get_type(v)));
  n = (long long)json_object_get_int64(v);
  if (n < 1 || n > MIN_TEST_SIZE_MAX)
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": %lld is out "
                        "of range (expected 1 to %lld)", r->what, key, n,
                        MIN_TEST_SIZE_MAX);
  r->g->has_min_test_size = 1;
  r->g->min_test_size = n;
  return PC_OK;
}

static int read_disjoint(struct reader *r, const char *key,
                         const struct json_object *v)
{
  if (!json_object_is_type(v, json_type_boolean))
    return pc_error_set(r->err, PC_E_INVALID_ARG, "%s: \"%s\": expected true "
                        "or false, got %s", r->what, key,
                        json_type_to_name(json_object_get_type(v)));
  r->g->disjoint = json_object_get_boolean(v) ? 1 : 0;
  return PC_OK;
}

static const struct member {
  const char *name;
  int (*read)(struct reader *r, const char *key, const struct json_object *v);
} members[] = {
  {"schema", read_schema},
  {"metric", read_metric},
  {"min_score", read_min_score},
  {"min_slice_score", read_min_slice_score},
  {"max_regression", read_max_regression},
  {"max_slice_regression", read_max_slice_regression},
  {"critical_slices", read_critical_slices},
  {"critical_regression", read_critical_regression},
  {"min_test_size", read_min_test_size},
  {"disjoint", read_disjoint},
  {"require_key", read_require_key},
  {"require_model", read_require_model},
};

int pc_gates_from_json(const struct json_object *o, const char *what,
                       pc_gates **out, pc_error *err)
{
  struct reader r;
  pc_gates *g;
  int rc = PC_OK;

  *out = NULL;
  if (!what)
    what = "gates";
  if (!json_object_is_type(o, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected a JSON object",
                        what);
  if (!json_object_object_get_ex(o, "schema", NULL))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: missing \"schema\" "
                        "(\"%s\")", what, GATES_SCHEMA);
  if (!(g = pc_calloc(1, sizeof(*g))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  g->disjoint = 1;
  r.g = g;
  r.what = what;
  r.err = err;
  json_object_object_foreach((struct json_object *)o, key, v) {
    size_t i;

    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
      if (strcmp(members[i].name, key) == 0)
        break;
    if (i == sizeof(members) / sizeof(members[0])) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: unknown member "
                        "\"%.64s\"", what, key);
      goto fail;
    }
    if ((rc = members[i].read(&r, key, v)) != PC_OK)
      goto fail;
  }
  if (g->has_critical_regression && !g->n_critical) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: \"critical_regression\" "
                      "without \"critical_slices\"", what);
    goto fail;
  }
  *out = g;
  return PC_OK;

fail:
  pc_gates_free(g);
  return rc;
}

int pc_gates_load(const char *path, pc_gates **out, pc_error *err)
{
  struct json_object *o = NULL;
  int rc;

  *out = NULL;
  rc = pc_json_parse_file(path, GATES_FILE_MAX, &o, err);
  if (rc == PC_OK)
    rc = pc_gates_from_json(o, path, out, err);
  json_object_put(o);
  return rc;
}

static void free_list(char **list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    pc_free(list[i]);
  pc_free(list);
}

void pc_gates_free(pc_gates *g)
{
  if (!g)
    return;
  pc_free(g->metric);
  for (size_t i = 0; i < g->n_slice_min; i++)
    pc_free(g->slice_min[i].name);
  pc_free(g->slice_min);
  free_list(g->critical, g->n_critical);
  free_list(g->keys, g->n_keys);
  for (size_t i = 0; i < g->n_models; i++) {
    pc_free(g->models[i].role);
    pc_free(g->models[i].identity);
  }
  pc_free(g->models);
  pc_free(g);
}

const char *pc_gates_metric(const pc_gates *g)
{
  return g ? g->metric : NULL;
}

/* ---------------------------------------------------------------------- */
/* The gates as JSON                                                      */

/* Add `val` (owned; NULL is out of memory) under `key`. 0 or -1. */
static int put(struct json_object *o, const char *key, struct json_object *val)
{
  if (!val || json_object_object_add(o, key, val) != 0) {
    json_object_put(val);
    return -1;
  }
  return 0;
}

/* Append `val` (owned; NULL is out of memory) to `a`. 0 or -1. */
static int push(struct json_object *a, struct json_object *val)
{
  if (!val || json_object_array_add(a, val) != 0) {
    json_object_put(val);
    return -1;
  }
  return 0;
}

static struct json_object *string_array(char *const *list, size_t n)
{
  struct json_object *a = json_object_new_array();

  for (size_t i = 0; a && i < n; i++)
    if (push(a, json_object_new_string(list[i])) != 0) {
      json_object_put(a);
      return NULL;
    }
  return a;
}

/* Members in byte order, so that the default layout is already
 * canonical. */
struct json_object *pc_gates_json(const pc_gates *g)
{
  struct json_object *o, *m;
  int bad = 0;

  if (!g || !(o = json_object_new_object()))
    return NULL;
  if (g->n_critical) {
    bad |= put(o, "critical_regression",
               json_object_new_double(g->critical_regression));
    bad |= put(o, "critical_slices", string_array(g->critical,
                                                  g->n_critical));
  }
  bad |= put(o, "disjoint", json_object_new_boolean(g->disjoint));
  if (g->has_max_regression)
    bad |= put(o, "max_regression", json_object_new_double(g->max_regression));
  if (g->has_max_slice_regression)
    bad |= put(o, "max_slice_regression",
               json_object_new_double(g->max_slice_regression));
  if (g->metric)
    bad |= put(o, "metric", json_object_new_string(g->metric));
  if (g->has_min_score)
    bad |= put(o, "min_score", json_object_new_double(g->min_score));
  if (g->n_slice_min || g->has_star) {
    m = json_object_new_object();
    /* "*" sorts before every letter and digit. */
    if (m && g->has_star)
      bad |= put(m, "*", json_object_new_double(g->star_min));
    for (size_t i = 0; m && i < g->n_slice_min; i++)
      bad |= put(m, g->slice_min[i].name,
                 json_object_new_double(g->slice_min[i].min));
    bad |= put(o, "min_slice_score", m);
  }
  if (g->has_min_test_size)
    bad |= put(o, "min_test_size", json_object_new_int64(g->min_test_size));
  if (g->n_keys)
    bad |= put(o, "require_key", string_array(g->keys, g->n_keys));
  if (g->has_require_model) {
    m = json_object_new_object();
    for (size_t i = 0; m && i < g->n_models; i++)
      bad |= put(m, g->models[i].role,
                 json_object_new_string(g->models[i].identity));
    bad |= put(o, "require_model", m);
  }
  bad |= put(o, "schema", json_object_new_string(GATES_SCHEMA));
  if (bad) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* ---------------------------------------------------------------------- */
/* Checking                                                               */

/* A measured value or threshold: null, a score, a count or a string. */
enum { V_NULL, V_SCORE, V_COUNT, V_TEXT };

typedef struct gval {
  int kind;
  double score;
  long long count;
  const char *text;
} gval;

static gval v_null(void)
{
  gval v = {V_NULL, 0.0, 0, NULL};

  return v;
}

static gval v_score(double d)
{
  gval v = {V_SCORE, d, 0, NULL};

  return v;
}

static gval v_count(long long n)
{
  gval v = {V_COUNT, 0.0, n, NULL};

  return v;
}

static gval v_text(const char *s)
{
  gval v = {V_TEXT, 0.0, 0, s};

  if (!s)
    v.kind = V_NULL;
  return v;
}

/* A gval as a new JSON value in *out (NULL for null). -1 when out of
 * memory. */
static int gval_json(gval v, struct json_object **out)
{
  switch (v.kind) {
  case V_SCORE: *out = json_object_new_double(v.score); break;
  case V_COUNT: *out = json_object_new_int64(v.count); break;
  case V_TEXT: *out = json_object_new_string(v.text); break;
  default: *out = NULL; return 0;
  }
  return *out ? 0 : -1;
}

/* Where the rows go while checking. */
struct checker {
  const pc_gates *g;
  const pc_gate_inputs *in;
  struct json_object *table;
  pc_buf name;
};

/*
 * Append a row named `gate` (with "[key]" when `key` is not NULL). The
 * detail is formatted like printf. PC_OK or PC_E_NOMEM.
 */
static int row(struct checker *c, const char *gate, const char *key,
               gval measured, gval threshold, int pass, const char *fmt, ...)
  PC_PRINTF(7, 8);

static int row(struct checker *c, const char *gate, const char *key,
               gval measured, gval threshold, int pass, const char *fmt, ...)
{
  struct json_object *r = NULL, *m = NULL, *t = NULL;
  char detail[DETAIL_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  pc_buf_reset(&c->name);
  if (pc_buf_puts(&c->name, gate) ||
      (key && pc_buf_printf(&c->name, "[%s]", key)))
    return PC_E_NOMEM;
  if (!(r = json_object_new_object()) ||
      put(r, "gate", json_object_new_string(c->name.data)) != 0)
    goto fail;
  if (gval_json(measured, &m) != 0)
    goto fail;
  if (json_object_object_add(r, "measured", m) != 0) {
    json_object_put(m);
    goto fail;
  }
  if (gval_json(threshold, &t) != 0)
    goto fail;
  if (json_object_object_add(r, "threshold", t) != 0) {
    json_object_put(t);
    goto fail;
  }
  if (put(r, "pass", json_object_new_boolean(pass ? 1 : 0)) != 0 ||
      put(r, "detail", json_object_new_string(detail)) != 0)
    goto fail;
  if (push(c->table, r) != 0)
    return PC_E_NOMEM;  /* push freed r */
  return PC_OK;

fail:
  json_object_put(r);
  return PC_E_NOMEM;
}

/* At least `min`, allowing for rounding. */
static int at_least(double measured, double min)
{
  return measured >= min - EPSILON;
}

/* The slice `name` of `s` when it has scored examples, else NULL. */
static const pc_gate_slice *find_slice(const pc_gate_scores *s,
                                       const char *name)
{
  if (!s || !s->slices)
    return NULL;
  for (size_t i = 0; i < s->n_slices; i++)
    if (s->slices[i].name && strcmp(s->slices[i].name, name) == 0)
      return s->slices[i].n > 0 ? &s->slices[i] : NULL;
  return NULL;
}

/* Add the names of the scored slices of `s` to `names` (room enough). */
static void add_slice_names(const pc_gate_scores *s, const char **names,
                            size_t *n)
{
  if (!s || !s->slices)
    return;
  for (size_t i = 0; i < s->n_slices; i++)
    if (s->slices[i].name && s->slices[i].n > 0)
      names[(*n)++] = s->slices[i].name;
}

/* Sort `names` and drop duplicates. */
static void sort_unique(const char **names, size_t *n)
{
  size_t i, j;

  if (*n < 2)
    return;
  qsort(names, *n, sizeof(*names), cmp_str);
  for (i = 1, j = 1; i < *n; i++)
    if (strcmp(names[i], names[j - 1]) != 0)
      names[j++] = names[i];
  *n = j;
}

static size_t n_slices(const pc_gate_scores *s)
{
  return s && s->slices ? s->n_slices : 0;
}

/* Distinct test examples by content hash: a split that repeats one
 * example fifty times is one example. -1 when out of memory. */
static long long distinct_tests(const pc_gate_inputs *in)
{
  const char **h;
  long long n = 0;

  if (!in->test_hashes || in->n_test == 0)
    return (long long)in->candidate->n;
  if (!(h = pc_malloc(in->n_test * sizeof(*h))))
    return -1;
  for (size_t i = 0; i < in->n_test; i++)
    h[i] = in->test_hashes[i] ? in->test_hashes[i] : "";
  qsort(h, in->n_test, sizeof(*h), cmp_str);
  for (size_t i = 0; i < in->n_test; i++)
    n += i == 0 || strcmp(h[i], h[i - 1]) != 0;
  pc_free(h);
  return n;
}

static int check_min_test_size(struct checker *c)
{
  long long scored = (long long)c->in->candidate->n;
  long long distinct = distinct_tests(c->in);
  long long n = distinct < scored ? distinct : scored;
  long long min = c->g->min_test_size;

  if (distinct < 0)
    return PC_E_NOMEM;
  return row(c, "min_test_size", NULL, v_count(n), v_count(min), n >= min,
             "%lld examples scored on the test split, %lld distinct", scored,
             distinct);
}

static int check_disjoint(struct checker *c)
{
  const pc_gate_inputs *in = c->in;
  const char **seen = NULL;
  size_t n_seen = 0, leaked = 0;
  pc_buf ids;
  int rc = PC_OK;

  if (in->n_test == 0 || !in->test_hashes)
    return row(c, "disjoint", NULL, v_null(), v_count(0), 0,
               "no content hashes of the test examples to check");
  if (in->n_seen == 0 || !in->seen_hashes)
    return row(c, "disjoint", NULL, v_null(), v_count(0), 0,
               "the candidate records no train or val example hashes; "
               "set \"disjoint\": false to skip");
  if (!(seen = pc_malloc(in->n_seen * sizeof(*seen))))
    return PC_E_NOMEM;
  for (size_t i = 0; i < in->n_seen; i++)
    if (in->seen_hashes[i])
      seen[n_seen++] = in->seen_hashes[i];
  qsort(seen, n_seen, sizeof(*seen), cmp_str);
  pc_buf_init(&ids, PC_BUF_DEFAULT_MAX);
  for (size_t i = 0; i < in->n_test; i++) {
    const char *h = in->test_hashes[i];
    const char *id = in->test_ids && in->test_ids[i] ? in->test_ids[i] : NULL;

    if (!h || !bsearch(&h, seen, n_seen, sizeof(*seen), cmp_str))
      continue;
    if (leaked < LEAKS_NAMED) {
      rc = leaked ? pc_buf_puts(&ids, ", ") : PC_OK;
      if (rc == PC_OK)
        rc = id ? pc_buf_printf(&ids, "%.60s", id)
                : pc_buf_printf(&ids, "#%zu", i + 1);
      if (rc != PC_OK)
        goto out;
    }
    leaked++;
  }
  if (leaked == 0)
    rc = row(c, "disjoint", NULL, v_count(0), v_count(0), 1,
             "none of %zu test examples is among %zu train/val examples",
             in->n_test, n_seen);
  else
    rc = row(c, "disjoint", NULL, v_count((long long)leaked), v_count(0), 0,
             "%zu of %zu test examples are in train/val: %s%s", leaked,
             in->n_test, ids.data, leaked > LEAKS_NAMED ? ", ..." : "");
out:
  pc_buf_free(&ids);
  pc_free(seen);
  return rc;
}

static int check_require_key(struct checker *c)
{
  const pc_gates *g = c->g;
  const char *key = c->in->key_id;
  pc_buf list;
  int rc = PC_OK, found = 0;

  pc_buf_init(&list, PC_BUF_DEFAULT_MAX);
  for (size_t i = 0; rc == PC_OK && i < g->n_keys; i++) {
    rc = pc_buf_printf(&list, "%s%s", i ? " " : "", g->keys[i]);
    if (key && key_id_equal(key, g->keys[i]))
      found = 1;
  }
  if (rc != PC_OK)
    goto out;
  if (!key)
    rc = row(c, "require_key", NULL, v_null(), v_text(list.data), 0,
             "the artifact is not signed");
  else if (!found)
    rc = row(c, "require_key", NULL, v_text(key), v_text(list.data), 0,
             "signed by key %.16s, which is not a required key", key);
  else
    rc = row(c, "require_key", NULL, v_text(key), v_text(list.data), 1,
             "signed by a required key");
out:
  pc_buf_free(&list);
  return rc;
}

static int check_require_model(struct checker *c)
{
  const struct json_object *models = c->in->models;
  int rc = PC_OK;

  for (size_t i = 0; rc == PC_OK && i < c->g->n_models; i++) {
    const struct model_req *m = &c->g->models[i];
    struct json_object *v = NULL;
    const char *have;

    /* An identity record holds the string under "identity". */
    if (models && json_object_object_get_ex(models, m->role, &v) &&
        json_object_is_type(v, json_type_object))
      json_object_object_get_ex(v, "identity", &v);
    if (!models || !json_object_object_get_ex(models, m->role, NULL) || !v)
      rc = row(c, "require_model", m->role, v_null(), v_text(m->identity), 0,
               "no model identity recorded for role %.64s", m->role);
    else if (!json_object_is_type(v, json_type_string))
      rc = row(c, "require_model", m->role, v_null(), v_text(m->identity), 0,
               "the identity recorded for role %.64s is not a string",
               m->role);
    else if (strcmp((have = json_object_get_string(v)), m->identity) != 0)
      rc = row(c, "require_model", m->role, v_text(have),
               v_text(m->identity), 0, "compiled for another model");
    else
      rc = row(c, "require_model", m->role, v_text(have),
               v_text(m->identity), 1, "recorded identity matches");
  }
  return rc;
}

static int check_min_score(struct checker *c)
{
  const pc_gate_scores *s = c->in->candidate;
  double min = c->g->min_score;

  if (s->n == 0)
    return row(c, "min_score", NULL, v_null(), v_score(min), 0,
               "no example scored");
  if (s->ci_high > s->ci_low)
    return row(c, "min_score", NULL, v_score(s->mean), v_score(min),
               at_least(s->mean, min), "mean of %zu examples, interval "
               "%.4f-%.4f", s->n, s->ci_low, s->ci_high);
  return row(c, "min_score", NULL, v_score(s->mean), v_score(min),
             at_least(s->mean, min), "mean of %zu examples", s->n);
}

/* The explicit minimum of slice `name`, or NULL. */
static const struct slice_min *explicit_min(const pc_gates *g,
                                            const char *name)
{
  struct slice_min key;

  key.name = (char *)name;
  return g->n_slice_min ? bsearch(&key, g->slice_min, g->n_slice_min,
                                  sizeof(key), cmp_slice_min) : NULL;
}

static int check_min_slice_score(struct checker *c)
{
  const pc_gates *g = c->g;
  const pc_gate_scores *s = c->in->candidate;
  const char **names;
  size_t n = 0;
  int rc = PC_OK;

  names = pc_malloc((g->n_slice_min + n_slices(s) + 1) * sizeof(*names));
  if (!names)
    return PC_E_NOMEM;
  for (size_t i = 0; i < g->n_slice_min; i++)
    names[n++] = g->slice_min[i].name;
  if (g->has_star)
    add_slice_names(s, names, &n);
  sort_unique(names, &n);
  if (n == 0)
    rc = row(c, "min_slice_score", "*", v_null(), v_score(g->star_min), 1,
             "no slices in the test split");
  for (size_t i = 0; rc == PC_OK && i < n; i++) {
    const struct slice_min *e = explicit_min(g, names[i]);
    const pc_gate_slice *sl = find_slice(s, names[i]);
    double min = e ? e->min : g->star_min;

    if (!sl)
      rc = row(c, "min_slice_score", names[i], v_null(), v_score(min), 0,
               "slice not in the test split");
    else
      rc = row(c, "min_slice_score", names[i], v_score(sl->mean),
               v_score(min), at_least(sl->mean, min), "%zu examples%s",
               sl->n, e ? "" : " (\"*\")");
  }
  pc_free(names);
  return rc;
}

static int check_max_regression(struct checker *c)
{
  const pc_gate_scores *cand = c->in->candidate, *cur = c->in->current;
  double tol = c->g->max_regression;

  if (!cur)
    return row(c, "max_regression", NULL, v_score(cand->mean), v_null(), 1,
               "no current artifact");
  return row(c, "max_regression", NULL, v_score(cand->mean),
             v_score(cur->mean - tol), at_least(cand->mean, cur->mean - tol),
             "current %.4f, change %+.4f, tolerance %.4f", cur->mean,
             cand->mean - cur->mean, tol);
}

static int check_max_slice_regression(struct checker *c)
{
  const pc_gate_scores *cand = c->in->candidate, *cur = c->in->current;
  double tol = c->g->max_slice_regression;
  const char **names;
  size_t n = 0;
  int rc = PC_OK;

  names = pc_malloc((n_slices(cand) + n_slices(cur) + 1) * sizeof(*names));
  if (!names)
    return PC_E_NOMEM;
  add_slice_names(cand, names, &n);
  add_slice_names(cur, names, &n);
  sort_unique(names, &n);
  if (n == 0)
    rc = row(c, "max_slice_regression", NULL, v_null(), v_null(), 1,
             "no slices in the test split");
  for (size_t i = 0; rc == PC_OK && i < n; i++) {
    const pc_gate_slice *a = find_slice(cand, names[i]);
    const pc_gate_slice *b = find_slice(cur, names[i]);

    if (!a)
      rc = row(c, "max_slice_regression", names[i], v_null(),
               b ? v_score(b->mean - tol) : v_null(), 0,
               "slice not in the candidate's scores");
    else if (!cur)
      rc = row(c, "max_slice_regression", names[i], v_score(a->mean),
               v_null(), 1, "no current artifact");
    else if (!b)
      rc = row(c, "max_slice_regression", names[i], v_score(a->mean),
               v_null(), 1, "the current artifact has no score for it");
    else
      rc = row(c, "max_slice_regression", names[i], v_score(a->mean),
               v_score(b->mean - tol), at_least(a->mean, b->mean - tol),
               "current %.4f, change %+.4f", b->mean, a->mean - b->mean);
  }
  pc_free(names);
  return rc;
}

static int check_critical(struct checker *c)
{
  const pc_gate_scores *cand = c->in->candidate, *cur = c->in->current;
  double tol = c->g->critical_regression;
  int rc = PC_OK;

  for (size_t i = 0; rc == PC_OK && i < c->g->n_critical; i++) {
    const char *name = c->g->critical[i];
    const pc_gate_slice *a = find_slice(cand, name);
    const pc_gate_slice *b = find_slice(cur, name);

    if (!a)
      rc = row(c, "critical_regression", name, v_null(),
               b ? v_score(b->mean - tol) : v_null(), 0,
               "critical slice not in the test split");
    else if (!cur)
      rc = row(c, "critical_regression", name, v_score(a->mean), v_null(), 1,
               "no current artifact");
    else if (!b)
      rc = row(c, "critical_regression", name, v_score(a->mean), v_null(), 1,
               "the current artifact has no score for it");
    else
      rc = row(c, "critical_regression", name, v_score(a->mean),
               v_score(b->mean - tol), at_least(a->mean, b->mean - tol),
               "current %.4f, change %+.4f (overall %+.4f)", b->mean,
               a->mean - b->mean, cand->mean - cur->mean);
  }
  return rc;
}

int pc_gates_check(const pc_gates *g, const pc_gate_inputs *in,
                   struct json_object **table, int *passed, pc_error *err)
{
  struct checker c;
  int rc = PC_OK;

  *table = NULL;
  *passed = 0;
  if (!g || !in || !in->candidate)
    return pc_error_set(err, PC_E_INVALID_ARG, "gates: no gates or no "
                        "candidate scores to check");
  c.g = g;
  c.in = in;
  pc_buf_init(&c.name, PC_BUF_DEFAULT_MAX);
  if (!(c.table = json_object_new_array())) {
    rc = PC_E_NOMEM;
    goto out;
  }
  if (g->has_min_test_size && (rc = check_min_test_size(&c)) != PC_OK)
    goto out;
  if (g->disjoint && (rc = check_disjoint(&c)) != PC_OK)
    goto out;
  if (g->n_keys && (rc = check_require_key(&c)) != PC_OK)
    goto out;
  if ((rc = check_require_model(&c)) != PC_OK)
    goto out;
  if (g->has_min_score && (rc = check_min_score(&c)) != PC_OK)
    goto out;
  if ((g->n_slice_min || g->has_star) &&
      (rc = check_min_slice_score(&c)) != PC_OK)
    goto out;
  if (g->has_max_regression && (rc = check_max_regression(&c)) != PC_OK)
    goto out;
  if (g->has_max_slice_regression &&
      (rc = check_max_slice_regression(&c)) != PC_OK)
    goto out;
  if ((rc = check_critical(&c)) != PC_OK)
    goto out;
  *passed = 1;
  for (size_t i = 0; i < json_object_array_length(c.table); i++) {
    struct json_object *p;

    if (json_object_object_get_ex(json_object_array_get_idx(c.table, i),
                                  "pass", &p) && !json_object_get_boolean(p))
      *passed = 0;
  }
  *table = c.table;
  c.table = NULL;
out:
  json_object_put(c.table);
  pc_buf_free(&c.name);
  if (rc != PC_OK)
    return pc_error_set(err, rc, "gates: out of memory");
  return PC_OK;
}

/* ---------------------------------------------------------------------- */
/* The table as text                                                      */

#define COLUMNS 5

/* The text of cell `col` of `r` into cell[] (a number as 0.7700). */
static const char *cell_text(const struct json_object *r, int col,
                             char *cell, size_t n)
{
  static const char *const keys[COLUMNS] = {
    "gate", "measured", "threshold", "pass", "detail"
  };
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(r, keys[col], &v) || !v)
    return col == 4 ? "" : "-";
  switch (json_object_get_type(v)) {
  case json_type_boolean:
    return json_object_get_boolean(v) ? "PASS" : "FAIL";
  case json_type_double:
    snprintf(cell, n, "%.4f", json_object_get_double(v));
    return cell;
  case json_type_int:
    snprintf(cell, n, "%lld", (long long)json_object_get_int64(v));
    return cell;
  case json_type_string:
    return json_object_get_string(v);
  default:
    return "-";
  }
}

int pc_gates_table_text(const struct json_object *table, pc_buf *out)
{
  static const char *const head[COLUMNS] = {
    "gate", "measured", "threshold", "result", "detail"
  };
  size_t width[COLUMNS], n, failed = 0;
  char cell[64];
  int rc = PC_OK;

  n = json_object_is_type(table, json_type_array)
        ? json_object_array_length(table) : 0;
  for (int k = 0; k < COLUMNS; k++)
    width[k] = strlen(head[k]);
  for (size_t i = 0; i < n; i++) {
    const struct json_object *r = json_object_array_get_idx(table, i);
    struct json_object *p;

    for (int k = 0; k < COLUMNS - 1; k++) {
      size_t len = strlen(cell_text(r, k, cell, sizeof(cell)));

      if (len > width[k])
        width[k] = len;
    }
    if (!json_object_object_get_ex(r, "pass", &p) ||
        !json_object_get_boolean(p))
      failed++;
  }
  for (size_t i = 0; rc == PC_OK && i <= n; i++) {
    const struct json_object *r = i ? json_object_array_get_idx(table, i - 1)
                                    : NULL;

    for (int k = 0; rc == PC_OK && k < COLUMNS; k++) {
      const char *t = r ? cell_text(r, k, cell, sizeof(cell)) : head[k];

      if (k == COLUMNS - 1)
        rc = pc_buf_puts(out, t);
      else
        rc = pc_buf_printf(out, "%-*s  ", (int)width[k], t);
    }
    /* No trailing blanks when the detail is empty. */
    while (rc == PC_OK && out->len > 0 && out->data[out->len - 1] == ' ')
      out->data[--out->len] = '\0';
    if (rc == PC_OK)
      rc = pc_buf_putc(out, '\n');
  }
  if (rc == PC_OK)
    rc = pc_buf_printf(out, "promote: %s (%zu of %zu gates failed)\n",
                       failed ? "no" : "yes", failed, n);
  return rc;
}
