/*
 * pack.c - build a release artifact: its members, MANIFEST.json, the
 * in-toto provenance statement, the reproducible tar and the signature.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "artifact.h"
#include "hash.h"
#include "json_text.h"
#include "pack.h"
#include "pc_autoconf.h"
#include "tar.h"

#define JSON_FLAGS (PC_JSON_TEXT_PRETTY | PC_JSON_TEXT_SORTED)
#define MAX_MEMBERS 1024

/* The members being assembled; paths relative to the top directory. */
struct members {
  pc_tar_member m[MAX_MEMBERS];
  size_t n;
};

static void members_clear(struct members *ms)
{
  for (size_t i = 0; i < ms->n; i++) {
    pc_free(ms->m[i].path);
    pc_free(ms->m[i].data);
  }
  ms->n = 0;
}

/* Add member `rel` holding `len` bytes (taken over: `data` is owned by
 * `ms` from here on, also on failure). */
static int add_member(struct members *ms, const char *rel, char *data,
                      size_t len, pc_error *err)
{
  if (ms->n == MAX_MEMBERS) {
    pc_free(data);
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "artifact: more than %d members", MAX_MEMBERS);
  }
  if (!(ms->m[ms->n].path = pc_strdup(rel))) {
    pc_free(data);
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  }
  ms->m[ms->n].data = (unsigned char *)data;
  ms->m[ms->n].size = len;
  ms->n++;
  return PC_OK;
}

/* Add `v` as canonical JSON (sorted keys, 2-space indent, newline). */
static int add_json(struct members *ms, const char *rel,
                    const struct json_object *v, unsigned flags,
                    pc_error *err)
{
  pc_buf b;
  char *data;
  size_t len;

  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (pc_json_write(v, flags, &b) || pc_buf_putc(&b, '\n')) {
    pc_buf_free(&b);
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", rel);
  }
  data = pc_buf_take(&b, &len);
  return add_member(ms, rel, data, len, err);
}

static int add_text(struct members *ms, const char *rel, const char *text,
                    pc_error *err)
{
  size_t len = strlen(text);
  char *data = pc_memdup(text, len + 1);

  if (!data)
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  return add_member(ms, rel, data, len, err);
}

static const pc_tar_member *find(const struct members *ms, const char *rel)
{
  for (size_t i = 0; i < ms->n; i++)
    if (!strcmp(ms->m[i].path, rel))
      return &ms->m[i];
  return NULL;
}

static void member_hex(const pc_tar_member *m,
                       char hex[PC_SHA256_HEX_LEN + 1])
{
  pc_sha256_hex(m->data, m->size, hex);
}

/* A deep copy of `v`, or a JSON null for NULL; *ok cleared on OOM. */
static struct json_object *copy(const struct json_object *v, int *ok)
{
  struct json_object *c = NULL;

  if (v && json_object_deep_copy((struct json_object *)v, &c, NULL)) {
    *ok = 0;
    return NULL;
  }
  return c;
}

static int put(struct json_object *o, const char *k, struct json_object *v,
               int *ok)
{
  if (json_object_object_add(o, k, v)) {
    json_object_put(v);
    *ok = 0;
  }
  return *ok;
}

static struct json_object *str_or_null(const char *s, int *ok)
{
  struct json_object *v;

  if (!s)
    return NULL;
  if (!(v = json_object_new_string(s)))
    *ok = 0;
  return v;
}

/* "1970-01-01T00:00:00Z" for `epoch`. */
static void iso_time(int64_t epoch, char out[32])
{
  time_t t = (time_t)epoch;
  struct tm tm;

  if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static struct json_object *digest_obj(const char *hex, int *ok)
{
  struct json_object *d = json_object_new_object();

  if (!d) {
    *ok = 0;
    return NULL;
  }
  put(d, "sha256", str_or_null(hex, ok), ok);
  return d;
}

static struct json_object *resource(const char *name, const char *uri,
                                    const char *sha256,
                                    struct json_object *annotations, int *ok)
{
  struct json_object *r = json_object_new_object();

  if (!r) {
    json_object_put(annotations);
    *ok = 0;
    return NULL;
  }
  put(r, "name", str_or_null(name, ok), ok);
  if (uri)
    put(r, "uri", str_or_null(uri, ok), ok);
  if (sha256)
    put(r, "digest", digest_obj(sha256, ok), ok);
  if (annotations)
    put(r, "annotations", annotations, ok);
  return r;
}

/* The datasets, plugins and models the compile used, as SLSA
 * resolvedDependencies. */
static struct json_object *dependencies(const pc_pack_inputs *in, int *ok)
{
  struct json_object *deps = json_object_new_array();
  static const char *const splits[] = {"train", "val", "test"};

  if (!deps) {
    *ok = 0;
    return NULL;
  }
  for (size_t i = 0; i < 3; i++) {
    struct json_object *s;
    char name[32];

    if (!in->splits || !json_object_object_get_ex(in->splits, splits[i], &s))
      continue;
    snprintf(name, sizeof(name), "dataset:%s", splits[i]);
    json_object_array_add(deps, resource(name, NULL, pc_json_str(s, "sha256"),
                                         NULL, ok));
  }
  for (size_t i = 0; in->plugins && i < json_object_array_length(in->plugins);
       i++) {
    const struct json_object *p = json_object_array_get_idx(in->plugins, i);
    struct json_object *ann = json_object_new_object();
    char name[160];

    snprintf(name, sizeof(name), "plugin:%s", pc_json_str(p, "id") ?
             pc_json_str(p, "id") : "?");
    if (ann) {
      put(ann, "version", str_or_null(pc_json_str(p, "version"), ok), ok);
      put(ann, "role", str_or_null(pc_json_str(p, "role"), ok), ok);
    } else {
      *ok = 0;
    }
    json_object_array_add(deps, resource(name, NULL, pc_json_str(p, "sha256"),
                                         ann, ok));
  }
  if (in->models) {
    json_object_object_foreach((struct json_object *)in->models, role, rec) {
      char name[64], uri[512];

      snprintf(name, sizeof(name), "model:%s", role);
      snprintf(uri, sizeof(uri), "promptc-model:%s",
               pc_json_str(rec, "identity") ? pc_json_str(rec, "identity") : "?");
      json_object_array_add(deps, resource(name, uri, NULL,
                                           copy(rec, ok), ok));
    }
  }
  return deps;
}

/* provenance.json: an in-toto Statement v1 with a SLSA Provenance v1
 * predicate (docs/artifacts.md, "provenance.json"). Times are the epoch:
 * the real run times stay in the run store. */
static struct json_object *provenance(const pc_pack_inputs *in,
                                      const char *stem,
                                      const struct members *ms, int *ok)
{
  struct json_object *st = json_object_new_object();
  struct json_object *subj, *s, *pred, *bd, *ext, *intl, *bld, *ver;
  struct json_object *meta, *byp;
  char hex[PC_SHA256_HEX_LEN + 1], when[32], name[200];
  const pc_tar_member *m;

  if (!st) {
    *ok = 0;
    return NULL;
  }
  iso_time(in->epoch, when);
  put(st, "_type", json_object_new_string("https://in-toto.io/Statement/v1"),
      ok);
  subj = json_object_new_array();
  put(st, "subject", subj, ok);
  if ((m = find(ms, "program.json")) && subj) {
    member_hex(m, hex);
    snprintf(name, sizeof(name), "%s/program.json", stem);
    s = json_object_new_object();
    if (s) {
      put(s, "name", json_object_new_string(name), ok);
      put(s, "digest", digest_obj(hex, ok), ok);
      json_object_array_add(subj, s);
    } else {
      *ok = 0;
    }
  }
  put(st, "predicateType",
      json_object_new_string("https://slsa.dev/provenance/v1"), ok);
  pred = json_object_new_object();
  bd = json_object_new_object();
  ext = json_object_new_object();
  intl = json_object_new_object();
  bld = json_object_new_object();
  ver = json_object_new_object();
  meta = json_object_new_object();
  byp = json_object_new_array();
  put(st, "predicate", pred, ok);
  if (!pred || !bd || !ext || !intl || !bld || !ver || !meta || !byp) {
    json_object_put(bd);
    json_object_put(ext);
    json_object_put(intl);
    json_object_put(bld);
    json_object_put(ver);
    json_object_put(meta);
    json_object_put(byp);
    *ok = 0;
    return st;
  }
  put(pred, "buildDefinition", bd, ok);
  put(bd, "buildType", json_object_new_string(
        "https://promptc.dev/provenance/compile/v1"), ok);
  put(bd, "externalParameters", ext, ok);
  put(ext, "optimizer", copy(in->optimizer, ok), ok);
  put(ext, "metric", copy(in->metric, ok), ok);
  put(ext, "adapter", copy(in->adapter, ok), ok);
  if (in->run) {
    struct json_object *v;

    if (json_object_object_get_ex(in->run, "hashes", &v))
      put(ext, "inputs", copy(v, ok), ok);
    if (json_object_object_get_ex(in->run, "budget", &v))
      put(ext, "budget", copy(v, ok), ok);
  }
  put(bd, "internalParameters", intl, ok);
  put(intl, "framework", json_object_new_string("promptc " PACKAGE_VERSION),
      ok);
  put(intl, "abi_major", json_object_new_int(PC_ABI_MAJOR), ok);
  put(intl, "abi_minor", json_object_new_int(PC_ABI_MINOR), ok);
  put(bd, "resolvedDependencies", dependencies(in, ok), ok);
  s = json_object_new_object();
  put(pred, "runDetails", s, ok);
  if (!s) {
    json_object_put(bld);
    json_object_put(ver);
    json_object_put(meta);
    json_object_put(byp);
    *ok = 0;
    return st;
  }
  put(s, "builder", bld, ok);
  put(bld, "id", json_object_new_string(
        "https://promptc.dev/builder/promptc-pack"), ok);
  put(bld, "version", ver, ok);
  put(ver, "promptc", json_object_new_string(PACKAGE_VERSION), ok);
  put(s, "metadata", meta, ok);
  put(meta, "invocationId", str_or_null(pc_json_str(in->run, "id"), ok), ok);
  put(meta, "startedOn", json_object_new_string(when), ok);
  put(meta, "finishedOn", json_object_new_string(when), ok);
  put(s, "byproducts", byp, ok);
  if ((m = find(ms, "eval/report.json"))) {
    member_hex(m, hex);
    json_object_array_add(byp, resource("eval/report.json", NULL, hex, NULL,
                                        ok));
  }
  return st;
}

/* files[]: every member but the manifest, sorted by path. */
static struct json_object *file_list(const struct members *ms, int *ok)
{
  struct json_object *arr = json_object_new_array();
  const pc_tar_member *order[MAX_MEMBERS];
  size_t n = 0;

  if (!arr) {
    *ok = 0;
    return NULL;
  }
  for (size_t i = 0; i < ms->n; i++) {
    size_t j = n;

    while (j > 0 && strcmp(order[j - 1]->path, ms->m[i].path) > 0) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = &ms->m[i];
    n++;
  }
  for (size_t i = 0; i < n; i++) {
    struct json_object *f = json_object_new_object();
    char hex[PC_SHA256_HEX_LEN + 1];

    if (!f) {
      *ok = 0;
      break;
    }
    member_hex(order[i], hex);
    put(f, "path", json_object_new_string(order[i]->path), ok);
    put(f, "size", json_object_new_int64((int64_t)order[i]->size), ok);
    put(f, "sha256", json_object_new_string(hex), ok);
    put(f, "mode", json_object_new_string("0644"), ok);
    json_object_array_add(arr, f);
  }
  return arr;
}

static struct json_object *manifest(const pc_pack_inputs *in,
                                    const struct members *ms, int *ok)
{
  struct json_object *m = json_object_new_object(), *fw, *req;
  char hex[PC_SHA256_HEX_LEN + 1];
  const pc_tar_member *prog = find(ms, "program.json");

  if (!m) {
    *ok = 0;
    return NULL;
  }
  fw = json_object_new_object();
  req = json_object_new_object();
  put(m, "schema", json_object_new_string(PC_ARTIFACT_SCHEMA), ok);
  put(m, "name", json_object_new_string(in->name), ok);
  put(m, "version", json_object_new_string(in->version), ok);
  put(m, "created", json_object_new_int64(in->epoch), ok);
  put(m, "framework", fw, ok);
  if (fw) {
    put(fw, "name", json_object_new_string("promptc"), ok);
    put(fw, "version", json_object_new_string(PACKAGE_VERSION), ok);
    put(fw, "abi_major", json_object_new_int(PC_ABI_MAJOR), ok);
    put(fw, "abi_minor", json_object_new_int(PC_ABI_MINOR), ok);
  }
  put(m, "entry", json_object_new_string("program.json"), ok);
  if (prog) {
    member_hex(prog, hex);
    put(m, "program_sha256", json_object_new_string(hex), ok);
  }
  put(m, "files", file_list(ms, ok), ok);
  put(m, "requires", req, ok);
  if (req)
    put(req, "plugins", copy(in->plugins, ok), ok);
  put(m, "models", copy(in->models, ok), ok);
  put(m, "adapter", copy(in->adapter, ok), ok);
  put(m, "metric", copy(in->metric, ok), ok);
  put(m, "optimizer", copy(in->optimizer, ok), ok);
  put(m, "splits", copy(in->splits, ok), ok);
  put(m, "evaluation", copy(in->evaluation, ok), ok);
  put(m, "run", copy(in->run, ok), ok);
  return m;
}

char *pc_pack_trusted_comment(const char *name, const char *version,
                              const char *sha256, const char *manifest_sha256)
{
  pc_buf b;

  pc_buf_init(&b, PC_MS_COMMENT_MAX);
  if (pc_buf_printf(&b, "%s name=%s version=%s sha256=%s manifest_sha256=%s",
                    PC_ARTIFACT_COMMENT_TAG, name, version, sha256,
                    manifest_sha256)) {
    pc_buf_free(&b);
    return NULL;
  }
  return pc_buf_take(&b, NULL);
}

static int contains(const char *hay, size_t n, const char *needle, size_t k)
{
  for (size_t i = 0; k <= n && i <= n - k; i++)
    if (hay[i] == needle[0] && !memcmp(hay + i, needle, k))
      return 1;
  return 0;
}

/* Refuse when a known secret value appears anywhere in the tar, as is or
 * as a JSON string would hold it (escaped). */
static int check_secrets(const pc_pack_inputs *in, const pc_buf *tar,
                         pc_error *err)
{
  int rc = PC_OK;

  for (size_t i = 0; i < in->n_secrets && rc == PC_OK; i++) {
    const char *s = in->secrets[i];
    size_t n = s ? strlen(s) : 0;
    struct json_object *js;
    pc_buf esc;

    if (n < 4)
      continue;
    pc_buf_init(&esc, 4 * n + 16);
    js = json_object_new_string(s);
    if (!js || pc_json_write(js, PC_JSON_TEXT_COMPACT, &esc) || esc.len < 2)
      rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
    else if (contains(tar->data, tar->len, s, n) ||
             contains(tar->data, tar->len, esc.data + 1, esc.len - 2))
      rc = pc_error_set(err, PC_E_INVALID_ARG, "artifact: refusing to pack: "
                        "a secret from the config (#%zu of its env: "
                        "references) appears in the artifact's contents",
                        i + 1);
    json_object_put(js);
    pc_buf_free(&esc);
  }
  return rc;
}

int pc_pack(const pc_pack_inputs *in, pc_buf *ppa, char **sig,
            size_t *sig_len, struct json_object **manifest_out,
            pc_error *err)
{
  struct members ms = {0};
  struct json_object *man = NULL, *prov = NULL;
  pc_tar_member *full = NULL;
  pc_buf tar;
  char stem[160], path[PC_TAR_PATH_MAX + 64];
  char hex[PC_SHA256_HEX_LEN + 1], man_hex[PC_SHA256_HEX_LEN + 1];
  char *comment = NULL;
  const pc_tar_member *mm;
  int ok = 1, rc;

  pc_buf_init(&tar, PC_ARTIFACT_MAX);
  *sig = NULL;
  *sig_len = 0;
  if (manifest_out)
    *manifest_out = NULL;
  if ((rc = pc_artifact_stem(in->name, in->version, stem, sizeof(stem), err)))
    goto out;
  if (!in->program || !in->report) {
    rc = pc_error_set(err, PC_E_INVALID_ARG,
                      "artifact: a program and a report are required");
    goto out;
  }
  if ((rc = add_json(&ms, "program.json", in->program,
                     PC_JSON_TEXT_PRETTY, err)))
    goto out;
  if (in->prompts) {
    json_object_object_foreach((struct json_object *)in->prompts, pred, v) {
      snprintf(path, sizeof(path), "prompts/%s.txt", pred);
      if (!json_object_is_type(v, json_type_string)) {
        rc = pc_error_set(err, PC_E_INVALID_ARG,
                          "artifact: prompt of %s is not text", pred);
        goto out;
      }
      if ((rc = add_text(&ms, path, json_object_get_string(v), err)))
        goto out;
    }
  }
  if ((rc = add_json(&ms, "eval/report.json", in->report, JSON_FLAGS, err)))
    goto out;
  prov = provenance(in, stem, &ms, &ok);
  if (!ok || (rc = add_json(&ms, "provenance.json", prov, JSON_FLAGS, err))) {
    rc = rc ? rc : pc_error_set(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  man = manifest(in, &ms, &ok);
  if (!ok || (rc = add_json(&ms, "MANIFEST.json", man, JSON_FLAGS, err))) {
    rc = rc ? rc : pc_error_set(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  /* The tar holds every member under the top directory NAME-VERSION/. */
  if (!(full = pc_calloc(ms.n, sizeof(*full)))) {
    rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < ms.n; i++) {
    pc_buf p;

    pc_buf_init(&p, PC_TAR_PATH_MAX * 2);
    if (pc_buf_printf(&p, "%s/%s", stem, ms.m[i].path)) {
      pc_buf_free(&p);
      rc = pc_error_set(err, PC_E_INVALID_ARG, "artifact: member %s/%s: "
                        "path too long", stem, ms.m[i].path);
      goto out;
    }
    full[i].path = pc_buf_take(&p, NULL);
    full[i].data = ms.m[i].data;
    full[i].size = ms.m[i].size;
  }
  if ((rc = pc_tar_write(full, ms.n, in->epoch, &tar, err)))
    goto out;
  if ((rc = check_secrets(in, &tar, err)))
    goto out;
  mm = find(&ms, "MANIFEST.json");
  member_hex(mm, man_hex);
  pc_sha256_hex(tar.data, tar.len, hex);
  if (in->key) {
    if (!(comment = pc_pack_trusted_comment(in->name, in->version, hex,
                                            man_hex))) {
      rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
      goto out;
    }
    if ((rc = pc_ms_sign(in->key, tar.data, tar.len, comment, NULL, sig,
                         sig_len, err)))
      goto out;
  }
  if (pc_buf_append(ppa, tar.data, tar.len)) {
    pc_free(*sig);
    *sig = NULL;
    *sig_len = 0;
    rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  if (manifest_out)
    *manifest_out = json_object_get(man);
  rc = PC_OK;
out:
  if (full)
    for (size_t i = 0; i < ms.n; i++)
      pc_free(full[i].path);
  pc_free(full);
  pc_free(comment);
  json_object_put(man);
  json_object_put(prov);
  members_clear(&ms);
  pc_buf_free(&tar);
  return rc;
}
