/*
 * artifact.c - open a release artifact: signature first, then the trusted
 * comment, the tar, the manifest, the members, the schema and the ABI;
 * and the checks a host makes before running one (plugins, model).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "artifact.h"
#include "file.h"
#include "hash.h"
#include "json_text.h"
#include "loader.h"
#include "minisign.h"

#define SIG_MAX ((size_t)64 << 10)

const char *pc_artifact_failure_name(int failure)
{
  switch (failure) {
  case PC_AF_OK: return "ok";
  case PC_AF_READ: return "unreadable";
  case PC_AF_NO_SIGNATURE: return "no-signature";
  case PC_AF_KEY_UNKNOWN: return "untrusted-key";
  case PC_AF_KEY_REVOKED: return "revoked-key";
  case PC_AF_KEY_EXPIRED: return "expired-key";
  case PC_AF_BAD_SIGNATURE: return "bad-signature";
  case PC_AF_BAD_COMMENT: return "bad-trusted-comment";
  case PC_AF_COMMENT_MISMATCH: return "comment-mismatch";
  case PC_AF_UNSAFE_TAR: return "unsafe-tar";
  case PC_AF_MEMBERS: return "members-mismatch";
  case PC_AF_SCHEMA: return "unsupported-schema";
  case PC_AF_PLUGINS: return "missing-plugin";
  case PC_AF_MODEL_DRIFT: return "model-drift";
  default: return "unknown";
  }
}

/* ---- names ------------------------------------------------------------- */

int pc_artifact_name_valid(const char *name)
{
  size_t n = name ? strlen(name) : 0;

  if (n == 0 || n > 64 || strstr(name, ".."))
    return 0;
  if (!(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
    return 0;
  for (size_t i = 1; i < n; i++) {
    unsigned char c = (unsigned char)name[i];

    if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* Digits without a leading zero (except "0"); returns the end or NULL. */
static const char *number(const char *p)
{
  const char *s = p;

  if (!isdigit((unsigned char)*p))
    return NULL;
  while (isdigit((unsigned char)*p))
    p++;
  if (p - s > 1 && *s == '0')
    return NULL;
  return p - s > 9 ? NULL : p;
}

int pc_artifact_version_valid(const char *version)
{
  const char *p = version;

  if (!p || strlen(p) > 64)
    return 0;
  for (int i = 0; i < 3; i++) {
    if (!(p = number(p)))
      return 0;
    if (i < 2 && *p++ != '.')
      return 0;
  }
  if (*p == '-') {
    if (!*++p)
      return 0;
    for (; *p; p++)
      if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
        return 0;
  }
  return *p == '\0';
}

int pc_artifact_stem(const char *name, const char *version, char *out,
                     size_t cap, pc_error *err)
{
  if (!pc_artifact_name_valid(name))
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact name '%s': use "
                        "lower-case letters, digits, '.', '_' and '-' "
                        "(at most 64, starting with a letter or digit)",
                        name ? name : "");
  if (!pc_artifact_version_valid(version))
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact version '%s': "
                        "expected MAJOR.MINOR.PATCH such as 1.2.0",
                        version ? version : "");
  if (strlen(name) + 1 + strlen(version) > PC_ARTIFACT_STEM_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact %s-%s: name and "
                        "version together are longer than %d bytes", name,
                        version, PC_ARTIFACT_STEM_MAX);
  if ((size_t)snprintf(out, cap, "%s-%s", name, version) >= cap)
    return pc_error_set(err, PC_E_INVALID_ARG, "artifact name too long");
  return PC_OK;
}

/* ---- opening ----------------------------------------------------------- */

void pc_artifact_free(pc_artifact *a)
{
  if (!a)
    return;
  pc_free(a->path);
  pc_free(a->bytes);
  pc_tar_clear(&a->tar);
  json_object_put(a->manifest);
  pc_free(a->key_name);
  pc_free(a->trusted_comment);
  pc_free(a->sig_text);
  pc_free(a->warning);
  pc_free(a);
}

/* Record which check failed and why; returns PC_E_INVALID_ARG. */
static int fail(int *failure, int code, pc_error *err, const char *fmt, ...)
  PC_PRINTF(4, 5);

static int fail(int *failure, int code, pc_error *err, const char *fmt, ...)
{
  char msg[sizeof(err->message)];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  *failure = code;
  return pc_error_set(err, PC_E_INVALID_ARG, "%s", msg);
}

/* The value of " key=" in a trusted comment, copied into out[cap]. */
static int comment_field(const char *comment, const char *key, char *out,
                         size_t cap)
{
  size_t k = strlen(key);
  const char *p = comment;

  while ((p = strstr(p, key))) {
    if ((p == comment || p[-1] == ' ') && p[k] == '=') {
      size_t n = strcspn(p + k + 1, " ");

      if (n >= cap)
        return 0;
      memcpy(out, p + k + 1, n);
      out[n] = '\0';
      return 1;
    }
    p += k;
  }
  return 0;
}

/* The comment's fields; 0 when it is not ours. */
struct comment {
  char name[80], version[80], sha256[80], manifest[80];
};

static int parse_comment(const char *c, struct comment *out)
{
  size_t t = strlen(PC_ARTIFACT_COMMENT_TAG);

  return !strncmp(c, PC_ARTIFACT_COMMENT_TAG, t) && c[t] == ' ' &&
         comment_field(c, "name", out->name, sizeof(out->name)) &&
         comment_field(c, "version", out->version, sizeof(out->version)) &&
         comment_field(c, "sha256", out->sha256, sizeof(out->sha256)) &&
         comment_field(c, "manifest_sha256", out->manifest,
                       sizeof(out->manifest));
}

static const char *base_name(const char *path)
{
  const char *s = strrchr(path, '/');

  return s ? s + 1 : path;
}

/* Keep why an artifact allowed by --allow-unsigned is not trusted. */
static int warn(pc_artifact *a, pc_error *err, const char *fmt, ...)
  PC_PRINTF(3, 4);

static int warn(pc_artifact *a, pc_error *err, const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pc_free(a->warning);
  if (!(a->warning = pc_strdup(msg)))
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  return PC_OK;
}

/* Step 1: the signature over the whole file, before any parsing. */
static int check_signature(pc_artifact *a, const pc_artifact_opts *o,
                           int *failure, pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  pc_ms_sig sig;
  pc_buf sp;
  char *text = NULL, hex[PC_MS_KEYID_HEX_LEN + 1];
  const char *sig_path;
  size_t len = 0;
  const pc_ms_pubkey *pk = NULL;
  const char *kname = NULL;
  enum pc_key_status st;
  enum pc_ms_failure why = PC_MS_OK;
  int rc;

  memset(&sig, 0, sizeof(sig));
  pc_buf_init(&sp, 8192);
  if (o->sig_path) {
    sig_path = o->sig_path;
  } else if (pc_buf_printf(&sp, "%s.minisig", a->path)) {
    return pc_error_set(err, PC_E_NOMEM, "%s: path too long", a->path);
  } else {
    sig_path = sp.data;
  }
  if (pc_file_read(sig_path, SIG_MAX, &text, &len, &e)) {
    rc = o->allow_unsigned
      ? warn(a, err, "not signed (%s)", e.message)
      : fail(failure, PC_AF_NO_SIGNATURE, err, "%s: not signed: %s",
             a->path, e.message);
    goto out;
  }
  if (pc_ms_sig_parse(text, len, sig_path, &sig, &e)) {
    rc = fail(failure, PC_AF_NO_SIGNATURE, err, "%s: bad signature file: "
              "%s", a->path, e.message);
    goto out;
  }
  pc_ms_keyid_hex(sig.keyid, hex);
  st = o->keyring ? pc_keyring_check(o->keyring, sig.keyid, o->now, &pk,
                                     &kname, NULL)
                  : PC_KEY_UNKNOWN;
  if (st == PC_KEY_REVOKED) {
    rc = fail(failure, PC_AF_KEY_REVOKED, err, "%s: signed by key %s, "
              "which is revoked", a->path, hex);
    goto out;
  }
  if (st == PC_KEY_UNKNOWN) {
    rc = o->allow_unsigned
      ? warn(a, err, "signed by key %s, which is not in the keyring; the "
             "signature was not checked", hex)
      : fail(failure, PC_AF_KEY_UNKNOWN, err, "%s: signed by key %s, "
             "which is not trusted (not in the keyring)", a->path, hex);
    goto out;
  }
  if (st == PC_KEY_EXPIRED && !o->allow_unsigned) {
    rc = fail(failure, PC_AF_KEY_EXPIRED, err, "%s: signed by key %s, "
              "which has expired", a->path, hex);
    goto out;
  }
  /* A signature that does not verify is tampering: never allowed. */
  if (pc_ms_verify(pk, &sig, a->bytes, a->len, &why, &e)) {
    if (why == PC_MS_BAD_COMMENT)
      rc = fail(failure, PC_AF_BAD_COMMENT, err, "%s: the trusted comment "
                "does not match its signature (the .minisig was altered)",
                a->path);
    else
      rc = fail(failure, PC_AF_BAD_SIGNATURE, err, "%s: the signature does "
                "not match the file (the artifact or its signature was "
                "changed)", a->path);
    goto out;
  }
  if (st == PC_KEY_EXPIRED) {
    if ((rc = warn(a, err, "signed by key %s, which has expired", hex)))
      goto out;
  } else {
    a->is_signed = 1;
  }
  memcpy(a->key_id, hex, sizeof(hex));
  if ((kname && !(a->key_name = pc_strdup(kname))) ||
      !(a->trusted_comment = pc_strdup(sig.trusted_comment))) {
    rc = pc_error_set(err, PC_E_NOMEM, "out of memory");
    goto out;
  }
  a->sig_text = text;  /* kept: what verified is what a registry stores */
  a->sig_len = len;
  text = NULL;
  rc = PC_OK;
out:
  pc_ms_sig_clear(&sig);
  pc_free(text);
  pc_buf_free(&sp);
  return rc;
}

/* Step 2: the trusted comment names this very file. */
static int check_comment(pc_artifact *a, const pc_artifact_opts *o,
                         struct comment *c, int *failure, pc_error *err)
{
  char want[200];

  if (!a->trusted_comment)
    return PC_OK;
  if (!parse_comment(a->trusted_comment, c))
    return fail(failure, PC_AF_COMMENT_MISMATCH, err,
                "%s: the signature's trusted comment is not a promptc "
                "artifact comment (%s)", a->path, PC_ARTIFACT_COMMENT_TAG
                " name=... version=... sha256=... manifest_sha256=...");
  if (strcmp(c->sha256, a->sha256))
    return fail(failure, PC_AF_COMMENT_MISMATCH, err,
                "%s: signed for another file (sha256 %s in the trusted "
                "comment)", a->path, c->sha256);
  snprintf(want, sizeof(want), "%s-%s.ppa", c->name, c->version);
  if (!o->any_file_name && strcmp(base_name(a->path), want))
    return fail(failure, PC_AF_COMMENT_MISMATCH, err,
                "%s: the signature is for %s (renamed artifact)", a->path,
                want);
  return PC_OK;
}

static int get_int(const struct json_object *o, const char *k, int64_t *out)
{
  struct json_object *v;

  if (!o || !json_object_object_get_ex(o, k, &v) ||
      !json_object_is_type(v, json_type_int))
    return 0;
  *out = json_object_get_int64(v);
  return 1;
}

/* Steps 3-5: the tar, the manifest, the members, the schema. */
static int check_contents(pc_artifact *a, const pc_artifact_opts *o,
                          const struct comment *c, int *failure,
                          pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  pc_tar_limits lim = PC_TAR_LIMITS_DEFAULT;
  const pc_tar_member *mm;
  struct json_object *files, *fw;
  char stem[160], path[PC_TAR_PATH_MAX + 1], hex[PC_SHA256_HEX_LEN + 1];
  const char *slash, *schema;
  unsigned char *seen = NULL;
  size_t stem_len, n_files;
  int rc;
  int64_t major = -1, minor = -1;

  if (o->limits.max_members)
    lim = o->limits;
  if (pc_tar_read(a->bytes, a->len, &lim, &a->tar, &e))
    return fail(failure, PC_AF_UNSAFE_TAR, err, "%s: %s", a->path,
                e.message);
  mm = &a->tar.members[0];
  slash = strchr(mm->path, '/');
  if (!slash || strcmp(slash, "/MANIFEST.json"))
    return fail(failure, PC_AF_MEMBERS, err, "%s: the first member is %s, "
                "not NAME-VERSION/MANIFEST.json", a->path, mm->path);
  if (pc_json_parse((const char *)mm->data, mm->size, 0, &a->manifest, &e) ||
      !json_object_is_type(a->manifest, json_type_object))
    return fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: %s",
                a->path, e.code ? e.message : "not a JSON object");
  schema = pc_json_str(a->manifest, "schema");
  if (!schema || strcmp(schema, PC_ARTIFACT_SCHEMA))
    return fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: schema %s "
                "is not " PC_ARTIFACT_SCHEMA, a->path,
                schema ? schema : "(none)");
  a->name = pc_json_str(a->manifest, "name");
  a->version = pc_json_str(a->manifest, "version");
  if (pc_artifact_stem(a->name, a->version, stem, sizeof(stem), &e))
    return fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: %s",
                a->path, e.message);
  stem_len = strlen(stem);
  if (!a->trusted_comment && !o->any_file_name) {
    char want[200];

    snprintf(want, sizeof(want), "%s.ppa", stem);
    if (strcmp(base_name(a->path), want))
      return fail(failure, PC_AF_COMMENT_MISMATCH, err, "%s: the artifact "
                  "inside is %s (renamed artifact)", a->path, want);
  }
  if ((size_t)(slash - mm->path) != stem_len ||
      strncmp(mm->path, stem, stem_len))
    return fail(failure, PC_AF_MEMBERS, err, "%s: members are not under "
                "%s/ (the manifest's name and version)", a->path, stem);
  if (a->trusted_comment &&
      (strcmp(c->name, a->name) || strcmp(c->version, a->version)))
    return fail(failure, PC_AF_COMMENT_MISMATCH, err, "%s: signed as %s "
                "%s, but the manifest says %s %s", a->path, c->name,
                c->version, a->name, a->version);
  pc_sha256_hex(mm->data, mm->size, hex);
  if (a->trusted_comment && strcmp(c->manifest, hex))
    return fail(failure, PC_AF_COMMENT_MISMATCH, err, "%s: MANIFEST.json "
                "is not the one that was signed", a->path);
  /* Set equality, sizes and digests: every listed file is a member with
   * that size and digest, and the counts agree (names are unique). */
  if (!json_object_object_get_ex(a->manifest, "files", &files) ||
      !json_object_is_type(files, json_type_array))
    return fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: no "
                "\"files\" array", a->path);
  n_files = json_object_array_length(files);
  if (n_files + 1 != a->tar.n)
    return fail(failure, PC_AF_MEMBERS, err, "%s: %zu members, but the "
                "manifest lists %zu files and itself", a->path, a->tar.n,
                n_files);
  /* Each member under NAME-VERSION/, each listed once: with the counts
   * equal, the two sets are then the same. */
  for (size_t i = 0; i < a->tar.n; i++)
    if (strncmp(a->tar.members[i].path, stem, stem_len) ||
        a->tar.members[i].path[stem_len] != '/')
      return fail(failure, PC_AF_MEMBERS, err, "%s: member %s is not "
                  "under %s/", a->path, a->tar.members[i].path, stem);
  if (!(seen = pc_calloc(a->tar.n, 1)))
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  seen[0] = 1;  /* the manifest */
  for (size_t i = 0; i < n_files; i++) {
    const struct json_object *f = json_object_array_get_idx(files, i);
    const char *rel = pc_json_str(f, "path"), *sum = pc_json_str(f, "sha256");
    const pc_tar_member *m = NULL;
    int64_t size;

    if (!rel || !sum || !get_int(f, "size", &size)) {
      rc = fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: "
                "files[%zu]: needs path, size and sha256", a->path, i);
      goto out;
    }
    if (strcmp(rel, "MANIFEST.json") &&
        (size_t)snprintf(path, sizeof(path), "%s/%s", stem, rel) <
          sizeof(path))
      m = pc_tar_find(&a->tar, path);
    if (!m) {
      rc = fail(failure, PC_AF_MEMBERS, err, "%s: the manifest lists %s, "
                "which is not in the archive", a->path, rel);
      goto out;
    }
    if (seen[m - a->tar.members]++) {
      rc = fail(failure, PC_AF_MEMBERS, err, "%s: the manifest lists %s "
                "twice", a->path, rel);
      goto out;
    }
    if (size < 0 || (uint64_t)size != (uint64_t)m->size) {
      rc = fail(failure, PC_AF_MEMBERS, err, "%s: %s is %zu bytes; the "
                "manifest says %lld", a->path, rel, m->size,
                (long long)size);
      goto out;
    }
    pc_sha256_hex(m->data, m->size, hex);
    if (strcmp(hex, sum)) {
      rc = fail(failure, PC_AF_MEMBERS, err, "%s: %s does not match its "
                "sha256 in the manifest", a->path, rel);
      goto out;
    }
  }
  pc_free(seen);
  seen = NULL;
  if (!json_object_object_get_ex(a->manifest, "framework", &fw) ||
      !get_int(fw, "abi_major", &major) || !get_int(fw, "abi_minor", &minor))
    return fail(failure, PC_AF_SCHEMA, err, "%s: MANIFEST.json: no "
                "framework.abi_major/abi_minor", a->path);
  if (major != PC_ABI_MAJOR || minor > PC_ABI_MINOR)
    return fail(failure, PC_AF_SCHEMA, err, "%s: made for plugin ABI "
                "%lld.%lld; this promptc has %d.%d", a->path,
                (long long)major, (long long)minor, PC_ABI_MAJOR,
                PC_ABI_MINOR);
  return PC_OK;
out:
  pc_free(seen);
  return rc;
}

int pc_artifact_open(const char *path, const pc_artifact_opts *o,
                     pc_artifact **out, int *failure, pc_error *err)
{
  pc_artifact *a = pc_calloc(1, sizeof(*a));
  struct comment c;
  char *data = NULL;
  int rc;

  *out = NULL;
  *failure = PC_AF_OK;
  memset(&c, 0, sizeof(c));
  if (!a || !(a->path = pc_strdup(path))) {
    pc_free(a);
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  }
  if ((rc = pc_file_read(path, PC_ARTIFACT_MAX, &data, &a->len, err))) {
    *failure = PC_AF_READ;
    goto fail;
  }
  a->bytes = (unsigned char *)data;
  pc_sha256_hex(a->bytes, a->len, a->sha256);
  if ((rc = check_signature(a, o, failure, err)) ||
      (rc = check_comment(a, o, &c, failure, err)) ||
      (rc = check_contents(a, o, &c, failure, err)))
    goto fail;
  *out = a;
  return PC_OK;
fail:
  if (*failure == PC_AF_OK)
    *failure = PC_AF_READ;
  pc_artifact_free(a);
  return rc;
}

const pc_tar_member *pc_artifact_member(const pc_artifact *a,
                                        const char *rel)
{
  char path[PC_TAR_PATH_MAX + 1];

  if ((size_t)snprintf(path, sizeof(path), "%s-%s/%s", a->name, a->version,
                       rel) >= sizeof(path))
    return NULL;
  return pc_tar_find(&a->tar, path);
}

int pc_artifact_program_json(const pc_artifact *a, struct json_object **out,
                             pc_error *err)
{
  const pc_tar_member *m = pc_artifact_member(a, "program.json");
  pc_error e = PC_ERROR_INIT;

  *out = NULL;
  if (!m)
    return pc_error_set(err, PC_E_PARSE, "%s: no program.json", a->path);
  if (pc_json_parse((const char *)m->data, m->size, 0, out, &e)) {
    *out = NULL;
    return pc_error_set(err, PC_E_PARSE, "%s: program.json: %s", a->path,
                        e.message);
  }
  return PC_OK;
}

/* ---- what running needs ------------------------------------------------- */

/* Compare "MAJOR.MINOR.PATCH" versions: 1 when `have` can stand in for
 * `want` (same major, not older), else 0. */
static int version_ok(const char *have, const char *want)
{
  unsigned long h[3] = {0, 0, 0}, w[3] = {0, 0, 0};
  char *end;
  const char *p;

  p = have;
  for (int i = 0; i < 3 && p; i++) {
    h[i] = strtoul(p, &end, 10);
    p = *end == '.' ? end + 1 : NULL;
  }
  p = want;
  for (int i = 0; i < 3 && p; i++) {
    w[i] = strtoul(p, &end, 10);
    p = *end == '.' ? end + 1 : NULL;
  }
  if (h[0] != w[0])
    return 0;
  if (h[1] != w[1])
    return h[1] > w[1];
  return h[2] >= w[2];
}

int pc_artifact_check_plugins(const pc_artifact *a,
                              const struct pc_registry *reg, int need_metric,
                              pc_error *err)
{
  struct json_object *req, *plugins;

  if (!json_object_object_get_ex(a->manifest, "requires", &req) ||
      !json_object_object_get_ex(req, "plugins", &plugins) ||
      !json_object_is_type(plugins, json_type_array))
    return PC_OK;
  for (size_t i = 0; i < json_object_array_length(plugins); i++) {
    const struct json_object *p = json_object_array_get_idx(plugins, i);
    const char *role = pc_json_str(p, "role"), *id = pc_json_str(p, "id");
    const char *ver = pc_json_str(p, "version");
    const pc_plugin *have;

    if (!role || !id || !ver || !strcmp(role, "optimizer") ||
        !strcmp(role, "compile_lm") ||
        (!need_metric && !strcmp(role, "metric")))
      continue;
    if (!(have = pc_registry_find(reg, id)))
      return pc_error_set(err, PC_E_UNSUPPORTED, "%s: needs plugin %s %s "
                          "(%s), which is not installed", a->path, id, ver,
                          role);
    if (!version_ok(have->info->version, ver))
      return pc_error_set(err, PC_E_UNSUPPORTED, "%s: needs plugin %s %s "
                          "(%s); the installed one is %s (%s)", a->path, id,
                          ver, role, have->info->version, have->path);
  }
  return PC_OK;
}

int pc_artifact_check_models(const pc_artifact *a,
                             const struct json_object *current,
                             struct json_object **diffs, pc_error *err)
{
  struct json_object *models, *list = NULL;
  int rc = PC_OK;

  if (diffs)
    *diffs = NULL;
  if (!json_object_object_get_ex(a->manifest, "models", &models) ||
      !json_object_is_type(models, json_type_object))
    return PC_OK;
  if (diffs && !(list = json_object_new_array()))
    return pc_error_set(err, PC_E_NOMEM, "out of memory");
  /* Only the task LM runs the program; the other roles served the
   * compile (proposals, teacher, reflection) and are not needed. */
  {
    const char *want = pc_json_str(pc_json_member(models, "lm"), "identity");
    const char *have = pc_json_str(pc_json_member(current, "lm"),
                                   "identity");

    if (want && (!have || strcmp(want, have))) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: model drift: lm: "
                        "compiled for %s, configured %s", a->path, want,
                        have ? have : "(none)");
      if (list) {
        struct json_object *d = json_object_new_object();

        if (d && !json_object_array_add(list, d)) {
          json_object_object_add(d, "role", json_object_new_string("lm"));
          json_object_object_add(d, "recorded", json_object_new_string(want));
          json_object_object_add(d, "configured", have
                                   ? json_object_new_string(have) : NULL);
        } else {
          json_object_put(d);
        }
      }
    }
  }
  if (diffs)
    *diffs = list;
  else
    json_object_put(list);
  return rc;
}
