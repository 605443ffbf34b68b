/* sim_knowledge.c - loading the sim's knowledge files and indexing them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_knowledge.h"

/* Largest knowledge file read (the rows stay in memory). */
#define MAX_FILE ((size_t)1024 * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Files.                                                                   */

/* Read the whole file into *out (owned, NUL-terminated). */
static int read_file(const pc__sim_host *h, const char *path, char **out,
                     size_t *len, pc_error *err)
{
  pc__sim_buf b;
  char chunk[65536];
  FILE *f;
  size_t n;
  int rc = PC_OK;

  *out = NULL;
  *len = 0;
  f = fopen(path, "rb");
  if (!f)
    return pc__sim_error(err, PC_E_IO, PC__SIM_WHO ": knowledge file %s: "
                         "%s", path, pc__sim_errno_text(errno));
  pc__sim_buf_init(&b, h);
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (b.len + n > MAX_FILE || pc__sim_buf_put(&b, chunk, n)) {
      rc = pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": knowledge file "
                         "%s: too large or out of memory", path);
      break;
    }
  }
  if (!rc && ferror(f))
    rc = pc__sim_error(err, PC_E_IO, PC__SIM_WHO ": knowledge file %s: %s",
                       path, pc__sim_errno_text(errno));
  fclose(f);
  if (!rc && !b.data && pc__sim_buf_put(&b, "", 0))
    rc = pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": out of memory");
  if (rc) {
    pc__sim_buf_free(&b);
    return rc;
  }
  *out = b.data;
  *len = b.len;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Rows.                                                                    */

static int grow_rows(const pc__sim_host *h, pc__sim_knowledge *kn,
                     size_t *cap)
{
  size_t ncap = *cap ? *cap * 2 : 256;
  pc__sim_row *p;

  if (ncap > UINT32_MAX - 1)
    return PC_E_NOMEM;
  p = h->host->realloc(h->host->ctx, kn->rows, ncap * sizeof(*p));
  if (!p)
    return PC_E_NOMEM;
  kn->rows = p;
  *cap = ncap;
  return PC_OK;
}

static int note_names(const pc__sim_host *h, pc__sim_knowledge *kn,
                      const pc_json *obj)
{
  size_t n = h->json->object_len(obj), i, k;

  for (i = 0; i < n && kn->n_names < PC__SIM_MAX_NAMES; i++) {
    const char *key;
    const pc_json *v;

    if (h->json->object_at(obj, i, &key, &v))
      continue;
    for (k = 0; k < kn->n_names && strcmp(kn->names[k], key); k++)
      ;
    if (k < kn->n_names)
      continue;
    kn->names[kn->n_names] = pc__sim_strndup(h, key, strlen(key));
    if (!kn->names[kn->n_names])
      return PC_E_NOMEM;
    kn->n_names++;
  }
  return PC_OK;
}

/* Whether row[hard_field] reads as hard_value (a string compared as it
 * is, anything else by its Python str()). */
static int is_hard(const pc__sim_host *h, const pc_json *obj,
                   const char *field, const char *value, int *hard,
                   pc_error *err)
{
  const pc_json *v = h->json->object_get(obj, field);
  pc__sim_buf b;
  int rc;

  *hard = 0;
  if (!v)
    return PC_OK;
  pc__sim_buf_init(&b, h);
  rc = pc__sim_render(h, v, 0, &b, err);
  if (!rc)
    *hard = !strcmp(pc__sim_buf_str(&b), value);
  pc__sim_buf_free(&b);
  return rc;
}

/* The row's id: the "id" member (a non-empty string or an integer), else
 * the line number. */
static int row_id(const pc__sim_host *h, const pc_json *obj, uint32_t line,
                  const char *path, char **out, pc_error *err)
{
  const pc_json *v = h->json->object_get(obj, "id");
  char num[32];
  const char *s = num;
  size_t len;

  *out = NULL;
  if (!v) {
    len = (size_t)snprintf(num, sizeof(num), "%u", (unsigned)line);
  } else if (h->json->type(v) == PC_JSON_INT) {
    len = (size_t)snprintf(num, sizeof(num), "%lld",
                           (long long)h->json->get_int(v));
  } else if (h->json->type(v) == PC_JSON_STRING &&
             (s = h->json->get_string(v, &len)) && len > 0) {
    ;
  } else {
    return pc__sim_error(err, PC_E_PARSE, PC__SIM_WHO ": %s:%u: \"id\" "
                         "must be a non-empty string or an integer", path,
                         (unsigned)line);
  }
  *out = pc__sim_strndup(h, s, len);
  return *out ? PC_OK : pc__sim_error(err, PC_E_NOMEM,
                                      PC__SIM_WHO ": out of memory");
}

/* Parse one non-blank line into a new row. */
static int add_row(const pc__sim_host *h, pc__sim_knowledge *kn,
                   size_t *cap, const char *path, uint32_t file,
                   uint32_t line, const char *s, size_t len,
                   const char *hard_field, const char *hard_value,
                   pc_error *err)
{
  pc_error e = PC_ERROR_INIT;
  pc_json *obj = NULL;
  const pc_json *slice;
  pc__sim_row *row;
  int rc;

  rc = h->json->parse(h->host->ctx, s, len, PC_JSON_PARSE_STRICT, &obj, &e);
  if (rc) {
    return pc__sim_error(err, rc == PC_E_NOMEM ? rc : PC_E_PARSE,
                         PC__SIM_WHO ": %s:%u: %s", path, (unsigned)line,
                         e.message);
  }
  if (!obj || h->json->type(obj) != PC_JSON_OBJECT) {
    rc = pc__sim_error(err, PC_E_PARSE, PC__SIM_WHO ": %s:%u: expected a "
                       "JSON object", path, (unsigned)line);
    goto fail;
  }
  slice = h->json->object_get(obj, "slice");
  if (slice && h->json->type(slice) != PC_JSON_STRING) {
    rc = pc__sim_error(err, PC_E_PARSE, PC__SIM_WHO ": %s:%u: \"slice\" "
                       "must be a string", path, (unsigned)line);
    goto fail;
  }
  if (kn->n_rows == *cap && grow_rows(h, kn, cap)) {
    rc = pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": %s: too many rows "
                       "or out of memory", path);
    goto fail;
  }
  row = &kn->rows[kn->n_rows];
  memset(row, 0, sizeof(*row));
  rc = row_id(h, obj, line, path, &row->id, err);
  if (!rc)
    rc = is_hard(h, obj, hard_field, hard_value, &row->hard, err);
  if (!rc && note_names(h, kn, obj))
    rc = pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": out of memory");
  if (rc) {
    pc__sim_free(h, row->id);
    goto fail;
  }
  row->obj = obj;
  row->line = line;
  row->file = file;
  kn->n_rows++;
  return PC_OK;

fail:
  h->json->free(h->host->ctx, obj);
  return rc;
}

typedef struct id_ref {
  uint64_t hash;
  uint32_t row;
} id_ref;

static int id_ref_cmp(const void *a, const void *b)
{
  const id_ref *x = a, *y = b;

  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row;
}

/* Ids are unique within a file: report the repeat that comes first. */
static int check_ids(const pc__sim_host *h, const pc__sim_knowledge *kn,
                     size_t from, const char *path, pc_error *err)
{
  size_t n = kn->n_rows - from, i, j;
  id_ref *refs;
  uint32_t best_first = 0, best_dup = 0;

  if (n < 2)
    return PC_OK;
  refs = pc__sim_alloc(h, n * sizeof(*refs));
  if (!refs)
    return pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": out of memory");
  for (i = 0; i < n; i++) {
    const char *id = kn->rows[from + i].id;

    refs[i].hash = pc__sim_fnv(PC__SIM_FNV_INIT, id, strlen(id));
    refs[i].row = (uint32_t)(from + i);
  }
  qsort(refs, n, sizeof(*refs), id_ref_cmp);
  for (i = 0; i < n; i++) {
    for (j = i + 1; j < n && refs[j].hash == refs[i].hash; j++) {
      const pc__sim_row *a = &kn->rows[refs[i].row];
      const pc__sim_row *b = &kn->rows[refs[j].row];

      if (strcmp(a->id, b->id))
        continue;
      if (!best_dup || b->line < kn->rows[best_dup - 1].line) {
        best_first = refs[i].row + 1;
        best_dup = refs[j].row + 1;
      }
      break;
    }
  }
  pc__sim_free(h, refs);
  if (best_dup) {
    const pc__sim_row *a = &kn->rows[best_first - 1];
    const pc__sim_row *b = &kn->rows[best_dup - 1];

    return pc__sim_error(err, PC_E_PARSE, PC__SIM_WHO ": %s:%u: duplicate "
                         "id \"%s\" (first on line %u)", path,
                         (unsigned)b->line, b->id, (unsigned)a->line);
  }
  return PC_OK;
}

/* Read the rows of one file. */
static int load_file(const pc__sim_host *h, pc__sim_knowledge *kn,
                     size_t *cap, const char *path, uint32_t file,
                     const char *text, size_t len, const char *hard_field,
                     const char *hard_value, pc_error *err)
{
  size_t pos = 0, from = kn->n_rows;
  uint32_t line = 0;
  int rc = PC_OK;

  if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
    pos = 3;
  while (!rc && pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len, i, e = end;

    line++;
    if (e > pos && text[e - 1] == '\r')
      e--;
    for (i = pos; i < e && (text[i] == ' ' || text[i] == '\t' ||
                            text[i] == '\r'); i++)
      ;
    if (i < e)
      rc = add_row(h, kn, cap, path, file, line, text + pos, e - pos,
                   hard_field, hard_value, err);
    pos = end + 1;
  }
  if (!rc)
    rc = check_ids(h, kn, from, path, err);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Index.                                                                   */

uint64_t pc__sim_key(const char *name, const char *s, size_t len)
{
  uint64_t k = pc__sim_fnv(PC__SIM_FNV_INIT, name, strlen(name) + 1);

  return pc__sim_mix(pc__sim_fnv_collapsed(k, s, len));
}

static int entry_cmp(const void *a, const void *b)
{
  const pc__sim_entry *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row;
}

/* The keys of one member: one per distinct rendering. */
static int member_keys(const pc__sim_host *h, const char *name,
                       const pc_json *v, pc__sim_buf *scratch,
                       uint64_t keys[2], size_t *n, pc_error *err)
{
  int32_t t = h->json->type(v);
  size_t len;
  int rc;

  *n = 0;
  if (t == PC_JSON_STRING) {
    const char *s = h->json->get_string(v, &len);

    keys[(*n)++] = pc__sim_key(name, s, len);
    return PC_OK;
  }
  scratch->len = 0;
  rc = pc__sim_render(h, v, 1, scratch, err);
  if (rc)
    return rc;
  keys[(*n)++] = pc__sim_key(name, pc__sim_buf_str(scratch), scratch->len);
  if (t != PC_JSON_ARRAY)
    return PC_OK;
  scratch->len = 0;
  rc = pc__sim_render(h, v, 0, scratch, err);
  if (rc)
    return rc;
  keys[*n] = pc__sim_key(name, pc__sim_buf_str(scratch), scratch->len);
  if (keys[*n] != keys[0])
    (*n)++;
  return PC_OK;
}

static int build_index(const pc__sim_host *h, pc__sim_knowledge *kn,
                       pc_error *err)
{
  size_t total = 0, n = 0, distinct = 0, i, r;
  pc__sim_buf scratch;
  int rc = PC_OK;

  for (r = 0; r < kn->n_rows; r++)
    total += 2 * h->json->object_len(kn->rows[r].obj);
  if (total == 0)
    return PC_OK;
  if (total > UINT32_MAX - 1 ||
      !(kn->entries = pc__sim_alloc(h, total * sizeof(*kn->entries))))
    return pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": knowledge index: "
                         "out of memory");
  pc__sim_buf_init(&scratch, h);
  for (r = 0; !rc && r < kn->n_rows; r++) {
    const pc_json *obj = kn->rows[r].obj;
    size_t m = h->json->object_len(obj), k, nk;

    for (i = 0; !rc && i < m; i++) {
      const char *name;
      const pc_json *v;
      uint64_t keys[2];

      if (h->json->object_at(obj, i, &name, &v))
        continue;
      rc = member_keys(h, name, v, &scratch, keys, &nk, err);
      for (k = 0; !rc && k < nk; k++) {
        kn->entries[n].key = keys[k];
        kn->entries[n].row = (uint32_t)r;
        n++;
      }
    }
  }
  pc__sim_buf_free(&scratch);
  if (rc)
    return rc;
  qsort(kn->entries, n, sizeof(*kn->entries), entry_cmp);
  kn->n_entries = n;
  for (i = 0; i < n; i++)
    if (i == 0 || kn->entries[i].key != kn->entries[i - 1].key)
      distinct++;
  kn->n_slots = 16;
  while (kn->n_slots < 2 * distinct)
    kn->n_slots *= 2;
  kn->slots = pc__sim_alloc(h, kn->n_slots * sizeof(*kn->slots));
  if (!kn->slots)
    return pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": knowledge index: "
                         "out of memory");
  for (i = 0; i < n;) {
    size_t j = i, s = (size_t)kn->entries[i].key & (kn->n_slots - 1);

    while (j < n && kn->entries[j].key == kn->entries[i].key)
      j++;
    while (kn->slots[s].count)
      s = (s + 1) & (kn->n_slots - 1);
    kn->slots[s].key = kn->entries[i].key;
    kn->slots[s].start = (uint32_t)i;
    kn->slots[s].count = (uint32_t)(j - i);
    i = j;
  }
  return PC_OK;
}

size_t pc__sim_knowledge_find(const pc__sim_knowledge *kn, uint64_t key,
                              const pc__sim_entry **first)
{
  size_t s;

  *first = NULL;
  if (!kn->n_slots)
    return 0;
  for (s = (size_t)key & (kn->n_slots - 1); kn->slots[s].count;
       s = (s + 1) & (kn->n_slots - 1)) {
    if (kn->slots[s].key == key) {
      *first = &kn->entries[kn->slots[s].start];
      return kn->slots[s].count;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading.                                                                 */

int pc__sim_knowledge_load(const pc__sim_host *h, char *const *paths,
                           size_t n_paths, const char *hard_field,
                           const char *hard_value, pc__sim_knowledge *kn,
                           pc_error *err)
{
  char hex[PC_SHA256_HEX_SIZE];
  pc__sim_buf digests;
  size_t cap = 0, i;
  int rc = PC_OK;

  memset(kn, 0, sizeof(*kn));
  pc__sim_buf_init(&digests, h);
  for (i = 0; !rc && i < n_paths; i++) {
    size_t plen = strlen(paths[i]);
    char *text = NULL;
    size_t len = 0;

    if (plen >= 4 && !strcmp(paths[i] + plen - 4, ".csv")) {
      rc = pc__sim_error(err, PC_E_INVALID_ARG, PC__SIM_WHO ": knowledge "
                         "file %s: CSV is not supported, use JSONL",
                         paths[i]);
      break;
    }
    rc = read_file(h, paths[i], &text, &len, err);
    if (rc)
      break;
    h->hash->sha256_hex(h->host->ctx, text, len, hex);
    if (pc__sim_buf_put(&digests, hex, 64))
      rc = pc__sim_error(err, PC_E_NOMEM, PC__SIM_WHO ": out of memory");
    if (!rc)
      rc = load_file(h, kn, &cap, paths[i], (uint32_t)i, text, len,
                     hard_field, hard_value, err);
    pc__sim_free(h, text);
  }
  if (!rc && kn->n_rows == 0)
    rc = pc__sim_error(err, PC_E_PARSE, PC__SIM_WHO ": knowledge %s: no "
                       "rows", n_paths ? paths[0] : "(none)");
  if (!rc)
    rc = build_index(h, kn, err);
  if (!rc) {
    if (n_paths == 1)
      memcpy(kn->digest, digests.data, 64);
    else
      h->hash->sha256_hex(h->host->ctx, digests.data, digests.len,
                          kn->digest);
    kn->digest[64] = '\0';
  }
  pc__sim_buf_free(&digests);
  if (rc)
    pc__sim_knowledge_clear(h, kn);
  return rc;
}

void pc__sim_knowledge_clear(const pc__sim_host *h, pc__sim_knowledge *kn)
{
  size_t i;

  for (i = 0; i < kn->n_rows; i++) {
    h->json->free(h->host->ctx, kn->rows[i].obj);
    pc__sim_free(h, kn->rows[i].id);
  }
  for (i = 0; i < kn->n_names; i++)
    pc__sim_free(h, kn->names[i]);
  pc__sim_free(h, kn->rows);
  pc__sim_free(h, kn->entries);
  pc__sim_free(h, kn->slots);
  memset(kn, 0, sizeof(*kn));
}
