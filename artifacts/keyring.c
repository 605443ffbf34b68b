/* keyring.c - trusted signing keys with expiry dates and revoked key ids,
 * read from a promptc.keyring/1 JSON file. */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "keyring.h"

#define KEYRING_SCHEMA "promptc.keyring/1"
#define KEYRING_MAX ((size_t)1 << 20)  /* 1 MiB of JSON is plenty */
#define KEYS_MAX 4096
#define NEVER ((int64_t)-1)

struct key {
  pc_ms_pubkey pk;
  char *name;        /* owned; NULL for an unnamed key */
  int64_t expires;   /* first second the key is no longer good; NEVER */
};

struct pc_keyring {
  struct key *keys;  /* owned: n_keys entries */
  size_t n_keys;
  uint8_t (*revoked)[PC_MS_KEYID_BYTES];  /* owned: n_revoked ids */
  size_t n_revoked;
};

void pc_keyring_free(pc_keyring *kr)
{
  if (!kr)
    return;
  for (size_t i = 0; i < kr->n_keys; i++)
    pc_free(kr->keys[i].name);
  pc_free(kr->keys);
  pc_free(kr->revoked);
  pc_free(kr);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, computed by hand
 * so neither the locale nor the time zone (mktime, timegm) matters. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;                                  /* [0, 399] */
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  /* [0, 365] */
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : days[m - 1];
}

/* Read `n` decimal digits at `s`; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
  int v = 0;

  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/*
 * Parse "YYYY-MM-DD" (good through the end of that UTC day) or
 * "YYYY-MM-DDTHH:MM:SSZ" into the first Unix second at which the key is
 * no longer good. Returns 0, or -1 for anything else.
 */
static int parse_expiry(const char *s, int64_t *out)
{
  size_t len = strlen(s);
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t t;

  if (len != 10 && len != 20)
    return -1;
  y = digits(s, 4);
  mo = digits(s + 5, 2);
  d = digits(s + 8, 2);
  if (y < 1970 || s[4] != '-' || s[7] != '-' || mo < 1 || mo > 12 ||
      d < 1 || d > days_in_month(y, mo))
    return -1;
  t = days_from_civil(y, mo, d) * 86400;
  if (len == 10) {
    *out = t + 86400;
    return 0;
  }
  h = digits(s + 11, 2);
  mi = digits(s + 14, 2);
  sec = digits(s + 17, 2);
  if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' ||
      h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
    return -1;
  *out = t + (int64_t)h * 3600 + mi * 60 + sec;
  return 0;
}

/* The directory part of `path` with a trailing slash ("" for none). */
static int dir_of(const char *path, pc_buf *out)
{
  const char *slash = strrchr(path, '/');

  return slash ? pc_buf_append(out, path, (size_t)(slash - path) + 1)
               : PC_OK;
}

/* Does the object `o` hold only fields named in `allowed`? On a stranger
 * *bad is its name. */
static int only_fields(struct json_object *o, const char *const *allowed,
                       const char **bad)
{
  json_object_object_foreach(o, k, v) {
    size_t i;

    (void)v;
    for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
      ;
    if (!allowed[i]) {
      *bad = k;
      return 0;
    }
  }
  return 1;
}

/* An optional string field: PC_OK with *s NULL when absent. */
static int opt_string(struct json_object *o, const char *field,
                      const char *path, const char *entry,
                      const char **s, pc_error *err)
{
  struct json_object *v;

  *s = NULL;
  if (!json_object_object_get_ex(o, field, &v))
    return PC_OK;
  if (!json_object_is_type(v, json_type_string) ||
      json_object_get_string_len(v) == 0)
    return pc_error_set(err, PC_E_PARSE, "%s: %s.%s: expected a non-empty "
                        "string", path, entry, field);
  *s = json_object_get_string(v);
  if (strlen(*s) != (size_t)json_object_get_string_len(v))
    return pc_error_set(err, PC_E_PARSE, "%s: %s.%s: contains a NUL "
                        "character", path, entry, field);
  return PC_OK;
}

static int load_key(struct json_object *o, size_t i, const char *path,
                    struct key *k, pc_error *err)
{
  static const char *const fields[] = {"name", "public_key", "file",
                                       "expires", NULL};
  pc_error e = PC_ERROR_INIT;
  const char *name, *b64, *file, *exp, *bad = NULL;
  char entry[32];
  pc_buf where;
  int rc;

  snprintf(entry, sizeof(entry), "keys[%zu]", i);
  pc_buf_init(&where, 0);
  if (!json_object_is_type(o, json_type_object)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: %s: expected an object", path,
                      entry);
    goto out;
  }
  if (!only_fields(o, fields, &bad)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: %s: unknown field \"%s\"", path,
                      entry, bad);
    goto out;
  }
  if ((rc = opt_string(o, "name", path, entry, &name, err)) ||
      (rc = opt_string(o, "public_key", path, entry, &b64, err)) ||
      (rc = opt_string(o, "file", path, entry, &file, err)) ||
      (rc = opt_string(o, "expires", path, entry, &exp, err)))
    goto out;
  if (!b64 == !file) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: %s: expected one of "
                      "\"public_key\" or \"file\"", path, entry);
    goto out;
  }
  if (b64) {
    if (pc_buf_printf(&where, "%s: %s.public_key", path, entry)) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
      goto out;
    }
    rc = pc_ms_pubkey_parse(b64, strlen(b64), where.data, &k->pk, &e);
  } else {
    if ((file[0] != '/' && dir_of(path, &where)) ||
        pc_buf_puts(&where, file)) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
      goto out;
    }
    rc = pc_ms_pubkey_load(where.data, &k->pk, &e);
  }
  if (rc) {
    rc = b64 ? pc_error_set(err, rc, "%s", e.message)
             : pc_error_set(err, rc, "%s: %s.file: %s", path, entry,
                            e.message);
    goto out;
  }
  k->expires = NEVER;
  if (exp && parse_expiry(exp, &k->expires) != 0) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: %s.expires: not a date "
                      "(\"YYYY-MM-DD\" or \"YYYY-MM-DDTHH:MM:SSZ\"): \"%s\"",
                      path, entry, exp);
    goto out;
  }
  if (name && !(k->name = pc_strdup(name))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto out;
  }
out:
  pc_buf_free(&where);
  return rc;
}

static int load_revoked(struct json_object *arr, const char *path,
                        pc_keyring *kr, pc_error *err)
{
  size_t n = json_object_array_length(arr);

  if (n == 0)
    return PC_OK;
  if (n > KEYS_MAX)
    return pc_error_set(err, PC_E_PARSE, "%s: revoked: more than %d ids",
                        path, KEYS_MAX);
  if (!(kr->revoked = pc_calloc(n, sizeof(*kr->revoked))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < n; i++) {
    struct json_object *v = json_object_array_get_idx(arr, i);
    pc_error e = PC_ERROR_INIT;

    if (!json_object_is_type(v, json_type_string) ||
        pc_ms_keyid_parse(json_object_get_string(v), kr->revoked[i], &e))
      return pc_error_set(err, PC_E_PARSE, "%s: revoked[%zu]: expected a "
                          "key id of 16 hex digits", path, i);
    kr->n_revoked++;
  }
  return PC_OK;
}

int pc_keyring_load(const char *path, pc_keyring **out, pc_error *err)
{
  static const char *const fields[] = {"schema", "keys", "revoked", NULL};
  struct json_object *root = NULL, *v, *keys;
  pc_keyring *kr = NULL;
  const char *bad = NULL;
  size_t n;
  int rc;

  *out = NULL;
  if ((rc = pc_json_parse_file(path, KEYRING_MAX, &root, err)))
    goto fail;
  if (!json_object_is_type(root, json_type_object)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: expected a JSON object", path);
    goto fail;
  }
  if (!only_fields(root, fields, &bad)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: unknown field \"%s\"", path,
                      bad);
    goto fail;
  }
  if (!json_object_object_get_ex(root, "schema", &v) ||
      !json_object_is_type(v, json_type_string) ||
      strcmp(json_object_get_string(v), KEYRING_SCHEMA) != 0) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: schema: expected \"%s\"", path,
                      KEYRING_SCHEMA);
    goto fail;
  }
  if (!json_object_object_get_ex(root, "keys", &keys) ||
      !json_object_is_type(keys, json_type_array)) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: keys: expected an array",
                      path);
    goto fail;
  }
  if ((n = json_object_array_length(keys)) > KEYS_MAX) {
    rc = pc_error_set(err, PC_E_PARSE, "%s: keys: more than %d keys", path,
                      KEYS_MAX);
    goto fail;
  }
  if (!(kr = pc_calloc(1, sizeof(*kr))) ||
      (n > 0 && !(kr->keys = pc_calloc(n, sizeof(*kr->keys))))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    struct key *k = &kr->keys[i];

    if ((rc = load_key(json_object_array_get_idx(keys, i), i, path, k,
                       err)))
      goto fail;
    kr->n_keys++;
    for (size_t j = 0; j < i; j++) {
      char hex[PC_MS_KEYID_HEX_LEN + 1];

      if (memcmp(kr->keys[j].pk.keyid, k->pk.keyid, PC_MS_KEYID_BYTES))
        continue;
      pc_ms_keyid_hex(k->pk.keyid, hex);
      rc = pc_error_set(err, PC_E_PARSE, "%s: keys[%zu]: key id %s is "
                        "already keys[%zu]", path, i, hex, j);
      goto fail;
    }
  }
  if (json_object_object_get_ex(root, "revoked", &v)) {
    if (!json_object_is_type(v, json_type_array)) {
      rc = pc_error_set(err, PC_E_PARSE, "%s: revoked: expected an array "
                        "of key ids", path);
      goto fail;
    }
    if ((rc = load_revoked(v, path, kr, err)))
      goto fail;
  }
  json_object_put(root);
  *out = kr;
  return PC_OK;

fail:
  json_object_put(root);
  pc_keyring_free(kr);
  return rc;
}

int pc_keyring_single(const pc_ms_pubkey *pk, const char *name,
                      pc_keyring **out, pc_error *err)
{
  pc_keyring *kr;

  *out = NULL;
  if (!(kr = pc_calloc(1, sizeof(*kr))) ||
      !(kr->keys = pc_calloc(1, sizeof(*kr->keys))))
    goto nomem;
  kr->n_keys = 1;
  kr->keys[0].pk = *pk;
  kr->keys[0].expires = NEVER;
  if (name && !(kr->keys[0].name = pc_strdup(name)))
    goto nomem;
  *out = kr;
  return PC_OK;

nomem:
  pc_keyring_free(kr);
  return pc_error_set(err, PC_E_NOMEM, "keyring: out of memory");
}

enum pc_key_status pc_keyring_check(const pc_keyring *kr,
                                    const uint8_t keyid[PC_MS_KEYID_BYTES],
                                    int64_t now, const pc_ms_pubkey **pk,
                                    const char **name, int64_t *expires)
{
  const struct key *k = NULL;

  if (pk)
    *pk = NULL;
  if (name)
    *name = NULL;
  if (expires)
    *expires = NEVER;
  if (!kr)
    return PC_KEY_UNKNOWN;
  /* A revoked id is refused whatever the keys say. */
  for (size_t i = 0; i < kr->n_revoked; i++)
    if (memcmp(kr->revoked[i], keyid, PC_MS_KEYID_BYTES) == 0)
      return PC_KEY_REVOKED;
  for (size_t i = 0; i < kr->n_keys && !k; i++)
    if (memcmp(kr->keys[i].pk.keyid, keyid, PC_MS_KEYID_BYTES) == 0)
      k = &kr->keys[i];
  if (!k)
    return PC_KEY_UNKNOWN;
  if (pk)
    *pk = &k->pk;
  if (name)
    *name = k->name;
  if (expires)
    *expires = k->expires;
  return k->expires != NEVER && now >= k->expires ? PC_KEY_EXPIRED
                                                  : PC_KEY_TRUSTED;
}

const char *pc_key_status_str(enum pc_key_status st)
{
  switch (st) {
  case PC_KEY_TRUSTED: return "trusted";
  case PC_KEY_UNKNOWN: return "unknown";
  case PC_KEY_REVOKED: return "revoked";
  case PC_KEY_EXPIRED: return "expired";
  }
  return "unknown";
}
