/*
 * opt_finetune.c - the `export-finetune` optimizer plugin: the data half
 * of DSPy's BootstrapFinetune (reference dspy-optimizers.md section 9.1,
 * steps 1-4). The program as given runs on the train split as teacher;
 * the steps of the runs the metric keeps become chat fine-tuning records,
 * written as JSONL files with a manifest into the compile's export
 * directory (docs/optimizer-export-finetune.md). The program itself is
 * not changed.
 */
#include <stdio.h>
#include <string.h>

#include "promptc/plugin.h"
#include "../opt-common/opt_common.h"
#include "ft_record.h"

#define WHO "export-finetune"
#define SCHEMA "promptc.finetune/1"
#define MULTITASK_FILE "finetune.jsonl"
#define NAME_MAX_LEN 200

enum {
  S_MULTITASK,
  S_EXCLUDE_DEMOS,
  S_USE_METRIC,
  S_METRIC_THRESHOLD,
  S_USE_TEACHER_LM,
  S_SHUFFLE,
  S_SEED,
  S_COUNT
};

static const pc__opt_spec specs[S_COUNT] = {
  {"multitask", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"exclude_demos", PC__OPT_SET_BOOL, 0, 0, 0, 0, 0},
  {"use_metric", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"metric_threshold", PC__OPT_SET_NUM, 0, 0, 0.0, 1.0, 0},
  {"use_teacher_lm", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"shuffle", PC__OPT_SET_BOOL, 0, 1, 0, 0, 0},
  {"seed", PC__OPT_SET_INT, 0, 0, 0, 0, 0},
};

/* One configured optimizer. */
typedef struct finetune {
  const pc__opt_host *h;        /* borrowed: the plugin state */
  pc__opt_value vals[S_COUNT];  /* settings, defaults filled in */
} finetune;

/* One JSONL line (a record, compact, without its newline). */
typedef struct line {
  char *text;  /* owned (host allocator) */
  size_t len;
} line;

/* One output file and the records it will hold. */
typedef struct dataset {
  char name[NAME_MAX_LEN];
  line *lines;     /* owned array of n (cap) lines */
  size_t n, cap;
  char sha256[PC_SHA256_HEX_SIZE];
  size_t bytes;
} dataset;

/* What one compile reads and builds; released by run_close. */
typedef struct run {
  finetune *o;
  const pc_compile_api *api;
  const pc_hash_api *hash;  /* borrowed: the host's pc.hash/1 */
  pc_json *info;            /* owned: api->info() */
  pc_json *program;         /* owned: api->program() */
  pc_json *train;           /* owned: api->dataset("train") */
  const char **paths;       /* owned array of n_pred paths (borrowed
                               strings of program) */
  size_t n_pred;
  dataset *sets;            /* owned: one (multitask) or n_pred */
  size_t n_sets;
  /* counts for the manifest */
  int64_t n_train, runs_ok, kept, failed_metric, failed_parse,
    failed_other, records;
} run;

static int ft_create(void *plugin_state, const char *settings_json,
                     size_t len, void **inst, pc_error *err)
{
  const pc__opt_host *h = plugin_state;
  finetune *o;
  int rc;

  *inst = NULL;
  o = pc__opt_calloc(h, 1, sizeof(*o));
  if (!o)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  o->h = h;
  rc = pc__opt_settings_parse(h, WHO, specs, S_COUNT, settings_json, len,
                              o->vals, err);
  if (!rc && !o->vals[S_USE_METRIC].i && !o->vals[S_METRIC_THRESHOLD].is_null)
    rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": metric_threshold: "
                       "set, but use_metric is false (without the metric "
                       "every run that does not fail is kept)");
  if (rc) {
    pc__opt_free(h, o);
    return rc;
  }
  *inst = o;
  return PC_OK;
}

static void ft_destroy(void *inst)
{
  finetune *o = inst;

  if (o)
    pc__opt_free(o->h, o);
}

static int ft_settings(void *inst, const pc_text_sink *out, pc_error *err)
{
  finetune *o = inst;

  return pc__opt_settings_write(o->h, specs, S_COUNT, o->vals, out, err);
}

/* Reference section 11: one teacher run per train example (R calls each)
 * and, with the metric, one metric call per run. */
static int ft_estimate(void *inst, const char *info_json, size_t len,
                       const pc_text_sink *out, pc_error *err)
{
  finetune *o = inst;
  pc_json *info = NULL;
  int64_t train, calls_per_run;
  int rc;

  rc = pc__opt_json_parse(o->h, WHO ": estimate", info_json, len, &info,
                          err);
  if (rc)
    return rc;
  train = pc__opt_info_int(o->h, info, "train");
  calls_per_run = pc__opt_info_int(o->h, info, "calls_per_run");
  if (calls_per_run < 1)
    calls_per_run = 1;
  o->h->js->free(o->h->host->ctx, info);
  return pc__opt_write_estimate(o->h, train * calls_per_run,
                                o->vals[S_USE_METRIC].i ? train : 0, 0, out,
                                err);
}

/* ------------------------------------------------------------------------ */
/* Reading what the compile offers.                                         */

/* The ABI 1.1 functions this optimizer needs, or an error naming the
 * first one the host lacks. */
static int check_host(const pc_compile_api *api, pc_error *err)
{
  const char *missing = NULL;

  if (!PC_HAS_FIELD(api, pc_compile_api, info) || !api->info)
    missing = "info";
  else if (!PC_HAS_FIELD(api, pc_compile_api, finetune_record) ||
           !api->finetune_record)
    missing = "finetune_record";
  else if (!PC_HAS_FIELD(api, pc_compile_api, write_file) ||
           !api->write_file)
    missing = "write_file";
  if (missing)
    return pc__opt_error(err, PC_E_UNSUPPORTED, WHO ": this host lacks %s "
                         "(ABI 1.1)", missing);
  return PC_OK;
}

static void run_close(run *r)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  size_t i, j;

  for (i = 0; r->sets && i < r->n_sets; i++) {
    for (j = 0; j < r->sets[i].n; j++)
      pc__opt_free(h, r->sets[i].lines[j].text);
    pc__opt_free(h, r->sets[i].lines);
  }
  pc__opt_free(h, r->sets);
  pc__opt_free(h, r->paths);
  h->js->free(ctx, r->info);
  h->js->free(ctx, r->program);
  h->js->free(ctx, r->train);
  memset(r, 0, sizeof(*r));
}

/* The predictor paths of the program, in program order. */
static int read_paths(run *r, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  const pc_json *preds = h->js->object_get(r->program, "predictors");
  size_t i, n = preds ? h->js->array_len(preds) : 0;

  if (n == 0)
    return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": the program has no "
                         "predictors");
  r->paths = pc__opt_calloc(h, n, sizeof(*r->paths));
  if (!r->paths)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  for (i = 0; i < n; i++) {
    r->paths[i] = pc__opt_json_str(h, h->js->array_get(preds, i), "path");
    if (!r->paths[i])
      return pc__opt_error(err, PC_E_INTERNAL, WHO ": predictor %zu of the "
                           "program has no path", i);
  }
  r->n_pred = n;
  return PC_OK;
}

/* One dataset for all predictors (multitask), else one per predictor with
 * a file name of its own. */
static int make_sets(run *r, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  size_t i, j;

  r->n_sets = r->o->vals[S_MULTITASK].i ? 1 : r->n_pred;
  r->sets = pc__opt_calloc(h, r->n_sets, sizeof(*r->sets));
  if (!r->sets)
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (r->o->vals[S_MULTITASK].i) {
    snprintf(r->sets[0].name, sizeof(r->sets[0].name), "%s",
             MULTITASK_FILE);
    return PC_OK;
  }
  for (i = 0; i < r->n_pred; i++) {
    if (pc__ft_file_name(r->paths[i], r->sets[i].name,
                         sizeof(r->sets[i].name)))
      return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": predictor '%.60s':"
                           " the path is too long for a file name",
                           r->paths[i]);
    for (j = 0; j < i; j++)
      if (!strcmp(r->sets[i].name, r->sets[j].name))
        return pc__opt_error(err, PC_E_INVALID_ARG, WHO ": predictors "
                             "'%.60s' and '%.60s' would share the file %s; "
                             "use multitask", r->paths[j], r->paths[i],
                             r->sets[i].name);
  }
  return PC_OK;
}

/* Read everything the compile offers before anything is spent. */
static int run_open(run *r, finetune *o, const pc_compile_api *api,
                    pc_error *err)
{
  const pc__opt_host *h = o->h;
  const pc_json *v;
  uint32_t size = 0;
  int rc;

  memset(r, 0, sizeof(*r));
  r->o = o;
  r->api = api;
  rc = check_host(api, err);
  if (rc)
    return rc;
  r->hash = h->host->get_host_interface(h->host->ctx, "pc.hash/1", &size);
  if (!r->hash || size < sizeof(*r->hash) || !r->hash->sha256_hex)
    return pc__opt_error(err, PC_E_UNSUPPORTED, WHO ": this host offers no "
                         "pc.hash/1 service");
  rc = api->info(api->ctx, &r->info, err);
  if (!rc) {
    v = h->js->object_get(r->info, "export_dir");
    if (!v || h->js->type(v) != PC_JSON_STRING)
      rc = pc__opt_error(err, PC_E_UNSUPPORTED, WHO ": this compile has no "
                         "export directory to write the data set to");
  }
  if (!rc)
    rc = api->program(api->ctx, &r->program, err);
  if (!rc)
    rc = read_paths(r, err);
  if (!rc)
    rc = make_sets(r, err);
  if (!rc)
    rc = api->dataset(api->ctx, PC_SPLIT_TRAIN, &r->train, err);
  if (!rc) {
    v = h->js->object_get(r->train, "examples");
    r->n_train = v ? (int64_t)h->js->array_len(v) : 0;
    if (r->n_train == 0)
      rc = pc__opt_error(err, PC_E_INVALID_ARG, WHO ": the train split is "
                         "empty");
  }
  if (rc)
    run_close(r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Records.                                                                 */

static int push_line(run *r, dataset *d, char *text, size_t len,
                     pc_error *err)
{
  const pc__opt_host *h = r->o->h;

  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 64;
    line *p = h->host->realloc(h->host->ctx, d->lines, cap * sizeof(*p));

    if (!p) {
      pc__opt_free(h, text);
      return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
    }
    d->lines = p;
    d->cap = cap;
  }
  d->lines[d->n].text = text;
  d->lines[d->n].len = len;
  d->n++;
  return PC_OK;
}

/* The index of `path` among the program's predictors, or -1. */
static int64_t find_path(const run *r, const char *path)
{
  size_t i;

  for (i = 0; path && i < r->n_pred; i++)
    if (!strcmp(r->paths[i], path))
      return (int64_t)i;
  return -1;
}

/* One record from one trace step of example `id`, checked, added to its
 * dataset. */
static int add_record(run *r, const char *id, const pc_json *step,
                      pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  const char *path = pc__opt_json_str(h, step, "predictor");
  const pc_json *inputs = h->js->object_get(step, "inputs");
  const pc_json *outputs = h->js->object_get(step, "outputs");
  char *in_text = NULL, *out_text = NULL, *rec_text = NULL;
  size_t in_len = 0, out_len = 0, rec_len = 0;
  pc_json *rec = NULL;
  pc_error e = PC_ERROR_INIT;
  char why[160];
  int64_t p = find_path(r, path);
  int rc;

  if (p < 0 || !inputs || !outputs)
    return pc__opt_error(err, PC_E_INTERNAL, WHO ": example %s: a trace "
                         "step of predictor '%.60s' that the program does "
                         "not have, or without inputs and outputs", id,
                         path ? path : "(none)");
  rc = pc__opt_json_text(h, inputs, &in_text, &in_len, err);
  if (!rc)
    rc = pc__opt_json_text(h, outputs, &out_text, &out_len, err);
  if (rc)
    goto out;
  rc = r->api->finetune_record(
    r->api->ctx, path, NULL, 0, in_text, in_len, out_text, out_len,
    r->o->vals[S_EXCLUDE_DEMOS].i ? PC_FINETUNE_NO_DEMOS : 0u, &rec, &e);
  if (rc) {
    rc = pc__opt_error(err, rc, WHO ": example %s, predictor %s: %s", id,
                       path, e.message);
    goto out;
  }
  /* The host made the record: one that breaks the format is its bug. */
  if (pc__ft_record_check(h->js, rec, why, sizeof(why))) {
    rc = pc__opt_error(err, PC_E_INTERNAL, WHO ": example %s, predictor "
                       "%s: the host's record is not valid chat data: %s",
                       id, path, why);
    goto out;
  }
  rc = pc__opt_json_text(h, rec, &rec_text, &rec_len, err);
  if (rc)
    goto out;
  rc = push_line(r, &r->sets[r->n_sets == 1 ? 0 : (size_t)p], rec_text,
                 rec_len, err);
  rec_text = NULL;  /* taken over, also on failure */
  if (!rc)
    r->records++;
out:
  h->js->free(ctx, rec);
  pc__opt_free(h, in_text);
  pc__opt_free(h, out_text);
  pc__opt_free(h, rec_text);
  return rc;
}

/* Whether a run that did not fail is kept: as the host's success rule
 * (compile-api.md), a score above 0 and at least the threshold. */
static int keep(const finetune *o, double score)
{
  if (!o->vals[S_USE_METRIC].i)
    return 1;
  if (!(score > 0.0))
    return 0;
  return o->vals[S_METRIC_THRESHOLD].is_null ||
         score >= o->vals[S_METRIC_THRESHOLD].d;
}

/* Count every row by its outcome and make the records of the kept ones,
 * in example order, then trace order. */
static int collect(run *r, const pc_json *answer, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  const pc_json *rows = h->js->object_get(answer, "results");
  size_t i, j, n = rows ? h->js->array_len(rows) : 0;
  int rc = PC_OK;

  r->n_train = (int64_t)n;
  for (i = 0; !rc && i < n; i++) {
    const pc_json *row = h->js->array_get(rows, i);
    const char *kind = pc__opt_json_str(h, row, "error_kind");
    const char *id = pc__opt_json_str(h, row, "id");
    const pc_json *score = h->js->object_get(row, "score");
    const pc_json *trace;

    if (pc__opt_json_str(h, row, "error") || kind) {
      if (kind && !strcmp(kind, "parse"))
        r->failed_parse++;
      else
        r->failed_other++;
      continue;
    }
    r->runs_ok++;
    if (!keep(r->o, score ? h->js->get_double(score) : 0.0)) {
      r->failed_metric++;
      continue;
    }
    r->kept++;
    trace = h->js->object_get(row, "trace");
    for (j = 0; !rc && trace && j < h->js->array_len(trace); j++)
      rc = add_record(r, id ? id : "?", h->js->array_get(trace, j), err);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Files.                                                                   */

/* The dataset's lines, shuffled when asked, as JSONL bytes in *out (owned,
 * pc__opt_free). */
static int dataset_bytes(run *r, size_t k, char **out, size_t *len,
                         pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  dataset *d = &r->sets[k];
  int64_t *order = NULL;
  size_t i, total = 0;
  char *p;

  *out = NULL;
  *len = 0;
  for (i = 0; i < d->n; i++)
    total += d->lines[i].len + 1;
  order = pc__opt_calloc(h, d->n, sizeof(*order));
  p = pc__opt_alloc(h, total + 1);
  if (!order || !p) {
    pc__opt_free(h, order);
    pc__opt_free(h, p);
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  for (i = 0; i < d->n; i++)
    order[i] = (int64_t)i;
  if (r->o->vals[S_SHUFFLE].i) {
    /* DSPy shuffles each data set with Random(0); here one keyed stream
     * per file, in file order. */
    pc__opt_rng rng;

    pc__opt_rng_init(&rng, h, r->api->seed(r->api->ctx), WHO "-shuffle",
                     (uint64_t)k);
    pc__opt_rng_shuffle(&rng, order, d->n);
  }
  total = 0;
  for (i = 0; i < d->n; i++) {
    const line *l = &d->lines[order[i]];

    memcpy(p + total, l->text, l->len);
    total += l->len;
    p[total++] = '\n';
  }
  p[total] = '\0';
  pc__opt_free(h, order);
  *out = p;
  *len = total;
  return PC_OK;
}

static int write_one(run *r, const char *name, const char *data,
                     size_t len, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  int rc = r->api->write_file(r->api->ctx, name, data, len, &e);

  if (rc)
    return pc__opt_error(err, rc, WHO ": %s: %s", name, e.message);
  return PC_OK;
}

static int write_sets(run *r, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  size_t k;
  int rc = PC_OK;

  for (k = 0; !rc && k < r->n_sets; k++) {
    char *data = NULL;
    size_t len = 0;

    rc = dataset_bytes(r, k, &data, &len, err);
    if (rc)
      break;
    r->hash->sha256_hex(h->host->ctx, data, len, r->sets[k].sha256);
    r->sets[k].bytes = len;
    rc = write_one(r, r->sets[k].name, data, len, err);
    pc__opt_free(h, data);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Manifest, trial and result.                                              */

static pc_json *str_new(const pc__opt_host *h, const char *s)
{
  return h->js->new_string(h->host->ctx, s, strlen(s));
}

/* {"provider", "identity", "role"} of the role the teacher ran on, or
 * null when info does not know it. */
static pc_json *teacher_of(const run *r)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  const pc_json *roles = h->js->object_get(r->info, "roles");
  const char *name = "lm";
  const pc_json *role = NULL;
  pc_json *t;
  const char *s;

  if (r->o->vals[S_USE_TEACHER_LM].i &&
      (role = h->js->object_get(roles, "teacher_lm")) != NULL)
    name = "teacher_lm";
  else
    role = h->js->object_get(roles, "lm");
  if (!role || h->js->type(role) != PC_JSON_OBJECT)
    return h->js->new_null(ctx);
  if (!(t = h->js->new_object(ctx)))
    return NULL;
  s = pc__opt_json_str(h, role, "provider");
  if (pc__opt_json_set(h, t, "provider",
                       s ? str_new(h, s) : h->js->new_null(ctx), NULL))
    goto fail;
  s = pc__opt_json_str(h, role, "identity");
  if (pc__opt_json_set(h, t, "identity",
                       s ? str_new(h, s) : h->js->new_null(ctx), NULL) ||
      pc__opt_json_set(h, t, "role", str_new(h, name), NULL))
    goto fail;
  return t;
fail:
  h->js->free(ctx, t);
  return NULL;
}

/* A copy of info's member at key1.key2, or null. */
static pc_json *info_copy(const run *r, const char *key1, const char *key2)
{
  const pc__opt_host *h = r->o->h;
  const pc_json *v = h->js->object_get(r->info, key1);

  if (v && key2)
    v = h->js->object_get(v, key2);
  return v ? h->js->copy(h->host->ctx, v) : h->js->new_null(h->host->ctx);
}

static pc_json *file_entry(const run *r, size_t k)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  const dataset *d = &r->sets[k];
  pc_json *e = h->js->new_object(ctx), *preds = h->js->new_array(ctx);
  size_t i;

  if (!e || !preds)
    goto fail;
  for (i = 0; i < r->n_pred; i++)
    if ((r->n_sets == 1 || i == k) &&
        pc__opt_json_push(h, preds, str_new(h, r->paths[i]), NULL))
      goto fail;
  if (pc__opt_json_set(h, e, "name", str_new(h, d->name), NULL))
    goto fail;
  if (pc__opt_json_set(h, e, "predictors", preds, NULL)) {
    preds = NULL;
    goto fail;
  }
  preds = NULL;
  if (pc__opt_json_set(h, e, "records", h->js->new_int(ctx, (int64_t)d->n),
                       NULL) ||
      pc__opt_json_set(h, e, "bytes", h->js->new_int(ctx, (int64_t)d->bytes),
                       NULL) ||
      pc__opt_json_set(h, e, "sha256", str_new(h, d->sha256), NULL))
    goto fail;
  return e;
fail:
  h->js->free(ctx, preds);
  h->js->free(ctx, e);
  return NULL;
}

/* Set `key` of obj to an integer. */
static int set_int(const pc__opt_host *h, pc_json *obj, const char *key,
                   int64_t v)
{
  return pc__opt_json_set(h, obj, key, h->js->new_int(h->host->ctx, v),
                          NULL);
}

static int set_bool(const pc__opt_host *h, pc_json *obj, const char *key,
                    int64_t v)
{
  return pc__opt_json_set(h, obj, key,
                          h->js->new_bool(h->host->ctx, (int32_t)v), NULL);
}

/* The manifest (see the docs), in *out (owned). */
static int make_manifest(const run *r, pc_json **out, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  const finetune *o = r->o;
  void *ctx = h->host->ctx;
  pc_json *m = h->js->new_object(ctx), *files = NULL, *ex = NULL,
    *filt = NULL;
  size_t k;
  int bad;

  *out = NULL;
  if (!m || pc__opt_json_set(h, m, "schema", str_new(h, SCHEMA), NULL) ||
      pc__opt_json_set(h, m, "format", str_new(h, "chat"), NULL) ||
      set_bool(h, m, "multitask", o->vals[S_MULTITASK].i) ||
      set_bool(h, m, "exclude_demos", o->vals[S_EXCLUDE_DEMOS].i))
    goto fail;
  if (!(files = h->js->new_array(ctx)))
    goto fail;
  for (k = 0; k < r->n_sets; k++)
    if (pc__opt_json_push(h, files, file_entry(r, k), NULL))
      goto fail;
  bad = pc__opt_json_set(h, m, "files", files, NULL);
  files = NULL;  /* taken over, also on failure */
  if (bad || !(ex = h->js->new_object(ctx)) ||
      set_int(h, ex, "train", r->n_train) ||
      set_int(h, ex, "runs_ok", r->runs_ok) ||
      set_int(h, ex, "kept", r->kept) ||
      set_int(h, ex, "failed_metric", r->failed_metric) ||
      set_int(h, ex, "failed_parse", r->failed_parse) ||
      set_int(h, ex, "failed_other", r->failed_other) ||
      set_int(h, ex, "records", r->records))
    goto fail;
  bad = pc__opt_json_set(h, m, "examples", ex, NULL);
  ex = NULL;
  if (bad || !(filt = h->js->new_object(ctx)) ||
      set_bool(h, filt, "use_metric", o->vals[S_USE_METRIC].i) ||
      pc__opt_json_set(h, filt, "metric_threshold",
                       o->vals[S_METRIC_THRESHOLD].is_null
                         ? h->js->new_null(ctx)
                         : h->js->new_double(ctx,
                                             o->vals[S_METRIC_THRESHOLD].d),
                       NULL))
    goto fail;
  bad = pc__opt_json_set(h, m, "filters", filt, NULL);
  filt = NULL;
  if (bad || pc__opt_json_set(h, m, "teacher", teacher_of(r), NULL) ||
      pc__opt_json_set(h, m, "adapter", info_copy(r, "adapter", NULL),
                       NULL) ||
      pc__opt_json_set(h, m, "data", info_copy(r, "splits", "train"),
                       NULL) ||
      set_int(h, m, "seed", (int64_t)r->api->seed(r->api->ctx)))
    goto fail;
  *out = m;
  return PC_OK;
fail:
  h->js->free(ctx, files);
  h->js->free(ctx, ex);
  h->js->free(ctx, filt);
  h->js->free(ctx, m);
  return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
}

static int write_manifest(run *r, const pc_json *m, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  char *text = NULL, *p;
  size_t len = 0;
  int rc;

  if (h->js->to_text(h->host->ctx, m, PC_JSON_TEXT_PRETTY, &text, &len))
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  p = h->host->realloc(h->host->ctx, text, len + 2);
  if (!p) {
    pc__opt_free(h, text);
    return pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  }
  p[len++] = '\n';
  p[len] = '\0';
  rc = write_one(r, "manifest.json", p, len, err);
  pc__opt_free(h, p);
  return rc;
}

/* DSPy's percentage of the train split that was kept. */
static double kept_percent(const run *r)
{
  double pct;

  if (r->n_train <= 0)
    return 0.0;
  pct = 100.0 * (double)r->kept / (double)r->n_train;

  return (double)(int64_t)(pct * 100.0 + 0.5) / 100.0;
}

static int record_trial(run *r, pc_error *err)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  pc_json *t = h->js->new_object(ctx);
  int rc = t ? PC_OK : pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");

  if (!rc && (set_int(h, t, "candidate", 0) ||
              pc__opt_json_set(h, t, "label", str_new(h, "teacher traces"),
                               NULL) ||
              pc__opt_json_set(h, t, "split", str_new(h, "train"), NULL) ||
              pc__opt_json_set(h, t, "score",
                               h->js->new_double(ctx, kept_percent(r)),
                               NULL) ||
              set_int(h, t, "n", r->n_train) ||
              set_int(h, t, "kept", r->kept) ||
              set_int(h, t, "exported", r->records) ||
              pc__opt_json_set(h, t, "state", h->js->new_object(ctx),
                               NULL)))
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (!rc)
    rc = pc__opt_record_trial(h, r->api, t, err);
  h->js->free(ctx, t);
  return rc;
}

/* The result when the teacher pass was cut: the program unchanged and a
 * report saying nothing was exported. Errors here are dropped: the code
 * of the cut is what the caller returns. */
static void set_cut_result(run *r, int code)
{
  const pc__opt_host *h = r->o->h;
  void *ctx = h->host->ctx;
  pc_json *state = h->js->new_object(ctx), *rep = h->js->new_object(ctx);
  pc_error e = PC_ERROR_INIT;

  if (state && rep &&
      !pc__opt_json_set(h, rep, "schema", str_new(h, SCHEMA), NULL) &&
      !set_bool(h, rep, "exported", 0) &&
      !pc__opt_json_set(h, rep, "stopped",
                        str_new(h, code == PC_E_CANCELLED ? "cancelled"
                                                          : "budget"),
                        NULL))
    pc__opt_set_result(h, r->api, state, rep, &e);
  h->js->free(ctx, state);
  h->js->free(ctx, rep);
}

static int ft_compile(void *inst, const pc_compile_api *api, pc_error *err)
{
  finetune *o = inst;
  const pc__opt_host *h = o->h;
  void *ctx = h->host->ctx;
  pc_eval_request req;
  pc_json *answer = NULL, *manifest = NULL, *state = NULL;
  run r;
  int rc;

  rc = run_open(&r, o, api, err);
  if (rc)
    return rc;
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_eval_request);
  req.split = PC_SPLIT_TRAIN;
  req.flags = PC_EVAL_TRACES;
  if (!o->vals[S_USE_METRIC].i)
    req.flags |= PC_EVAL_NO_METRIC;
  if (o->vals[S_USE_TEACHER_LM].i)
    req.flags |= PC_EVAL_TEACHER;
  rc = api->evaluate(api->ctx, &req, &answer, err);
  if (rc == PC_E_BUDGET || rc == PC_E_CANCELLED) {
    /* Nothing is exported from a cut teacher pass. */
    set_cut_result(&r, rc);
    goto out;
  }
  if (!rc)
    rc = collect(&r, answer, err);
  if (!rc)
    rc = write_sets(&r, err);
  if (!rc)
    rc = make_manifest(&r, &manifest, err);
  /* The data files first, the manifest last: a manifest means the
   * export is whole. */
  if (!rc)
    rc = write_manifest(&r, manifest, err);
  if (!rc)
    rc = record_trial(&r, err);
  if (!rc)
    pc__opt_progress(h, api, 1, 1, kept_percent(&r));
  if (!rc && !(state = h->js->new_object(ctx)))
    rc = pc__opt_error(err, PC_E_NOMEM, WHO ": out of memory");
  if (!rc)
    rc = pc__opt_set_result(h, api, state, manifest, err);
out:
  h->js->free(ctx, state);
  h->js->free(ctx, manifest);
  h->js->free(ctx, answer);
  run_close(&r);
  return rc;
}

static const pc_optimizer_iface ft_iface = {
  .hdr = PC_ABI_HEADER_INIT(pc_optimizer_iface),
  .name = "export-finetune",
  .create = ft_create,
  .destroy = ft_destroy,
  .estimate = ft_estimate,
  .compile = ft_compile,
  .settings = ft_settings,
};

static int ft_init(const pc_host_api *host, void **state, pc_error *err)
{
  return pc__opt_init(host, "opt-finetune", state, err);
}

static const void *ft_get_interface(void *state, const char *iface_id,
                                    uint32_t *iface_size)
{
  (void)state;
  if (!iface_id || strcmp(iface_id, PC_IFACE_OPTIMIZER))
    return NULL;
  if (iface_size)
    *iface_size = (uint32_t)sizeof(ft_iface);
  return &ft_iface;
}

static const pc_plugin_info ft_info = {
  .hdr = PC_ABI_HEADER_INIT(pc_plugin_info),
  .id = "org.promptc.optimizer.export-finetune",
  .name = "export-finetune",
  .version = "0.1.0",
  .license = "MIT",
  .summary = "BootstrapFinetune's data half: the teacher's kept traces as "
             "chat fine-tuning JSONL",
  .kinds = PC_KIND_OPTIMIZER,
  .flags = 0,
  .init = ft_init,
  .fini = pc__opt_fini,
  .get_interface = ft_get_interface,
  .get_interface_at = NULL,
};

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host);

PC_PLUGIN_EXPORT const pc_plugin_info *
pc_plugin_entry_v1(const pc_abi_header *host)
{
  /* Discovery only: no allocation, threads, I/O or global state here. */
  if (!host || host->abi_major != PC_ABI_MAJOR)
    return NULL;
  return &ft_info;
}
