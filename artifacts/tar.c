/* tar.c - the artifact tar: written reproducibly, read defensively, both
 * in memory with libarchive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "alloc.h"
#include "tar.h"

/* The largest value of the 11 octal digits of a ustar size or mtime field:
 * past it libarchive would need a pax record, which we never write. */
#define USTAR_NUMBER_MAX 077777777777LL

/* Room for a quoted path in a message: long enough to recognise it, short
 * enough to leave the reason inside the 256-byte message. */
#define QUOTE_MAX 104

/* Writes into `dst` (of `cap` bytes, at least 8) the first `len` bytes of
 * `s` with '"', '\\' and every byte outside printable ASCII escaped, cut
 * with "..." when it does not fit. Never fails. */
static void quote(char *dst, size_t cap, const char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;

  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[4];
    size_t n = 0;

    if (c == '"' || c == '\\') {
      tmp[n++] = '\\';
      tmp[n++] = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
      tmp[n++] = (char)c;
    } else {
      tmp[n++] = '\\';
      tmp[n++] = 'x';
      tmp[n++] = hex[c >> 4];
      tmp[n++] = hex[c & 0xf];
    }
    if (o + n + 4 > cap) {  /* keep room for "..." and the NUL */
      memcpy(dst + o, "...", 3);
      o += 3;
      break;
    }
    memcpy(dst + o, tmp, n);
    o += n;
  }
  dst[o] = '\0';
}

static int path_byte_ok(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* The path rule of tar.h on the `len` bytes at `path`: NULL when it holds,
 * else a static phrase saying why not, to follow "path ". */
static const char *path_rule(const char *path, size_t len)
{
  size_t segments = 0, start = 0;

  if (len == 0)
    return "is empty";
  if (path[0] == '/')
    return "is absolute";
  if (len > PC_TAR_PATH_MAX)
    return "is longer than 100 bytes";
  for (size_t i = 0; i < len; i++)
    if (!path_byte_ok((unsigned char)path[i]) && path[i] != '/')
      return "has a byte outside [A-Za-z0-9._-] and '/'";
  for (size_t i = 0; i <= len; i++) {
    size_t n;

    if (i < len && path[i] != '/')
      continue;
    n = i - start;
    if (n == 0)
      return "has an empty segment";
    if (n == 1 && path[start] == '.')
      return "has a \".\" segment";
    if (n == 2 && path[start] == '.' && path[start + 1] == '.')
      return "has a \"..\" segment";
    segments++;
    start = i + 1;
  }
  if (segments > PC_TAR_DEPTH_MAX)
    return "has more than 8 segments";
  return NULL;
}

int pc_tar_path_check(const char *path, pc_error *err)
{
  char q[QUOTE_MAX];
  const char *why;

  if (!path)
    return pc_error_set(err, PC_E_INVALID_ARG, "path: missing");
  why = path_rule(path, strlen(path));
  if (!why)
    return PC_OK;
  quote(q, sizeof(q), path, strlen(path));
  return pc_error_set(err, PC_E_INVALID_ARG, "path \"%s\": %s", q, why);
}

/* A set of member names that finds a name equal to another byte for byte
 * or up to ASCII case: open addressing over indexes into a caller's array
 * of names, which must outlive the set. */
struct name_set {
  size_t *slot;  /* owned; index + 1, 0 for an empty slot */
  size_t cap;    /* a power of two, or 0 */
  size_t n;
};

static unsigned char fold(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t fold_hash(const char *s)
{
  uint64_t h = 1469598103934665603ULL;  /* FNV-1a */

  for (; *s; s++) {
    h ^= fold((unsigned char)*s);
    h *= 1099511628211ULL;
  }
  return (size_t)h;
}

static int fold_equal(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if (fold((unsigned char)*a) != fold((unsigned char)*b))
      return 0;
  return *a == *b;
}

/* Looks up `name` among names[] through the set: returns the index of the
 * name that collides with it, or (size_t)-1. */
static size_t name_set_find(const struct name_set *s, const char *const *names,
                            const char *name)
{
  size_t i;

  if (!s->cap)
    return (size_t)-1;
  for (i = fold_hash(name) & (s->cap - 1); s->slot[i];
       i = (i + 1) & (s->cap - 1))
    if (fold_equal(names[s->slot[i] - 1], name))
      return s->slot[i] - 1;
  return (size_t)-1;
}

/* Adds names[idx] (not already in the set). PC_OK or PC_E_NOMEM, with the
 * set unchanged on failure. */
static int name_set_add(struct name_set *s, const char *const *names,
                        size_t idx)
{
  size_t i;

  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    size_t *slot;

    if (cap > ((size_t)-1) / sizeof(*slot))
      return PC_E_NOMEM;
    slot = pc_calloc(cap, sizeof(*slot));
    if (!slot)
      return PC_E_NOMEM;
    for (size_t k = 0; k < s->cap; k++) {
      if (!s->slot[k])
        continue;
      for (i = fold_hash(names[s->slot[k] - 1]) & (cap - 1); slot[i];
           i = (i + 1) & (cap - 1))
        ;
      slot[i] = s->slot[k];
    }
    pc_free(s->slot);
    s->slot = slot;
    s->cap = cap;
  }
  for (i = fold_hash(names[idx]) & (s->cap - 1); s->slot[i];
       i = (i + 1) & (s->cap - 1))
    ;
  s->slot[i] = idx + 1;
  s->n++;
  return PC_OK;
}

static void name_set_free(struct name_set *s)
{
  pc_free(s->slot);
  s->slot = NULL;
  s->cap = 0;
  s->n = 0;
}

/* The message for a name that collides with an earlier one. */
static int duplicate_error(pc_error *err, const char *name,
                           const char *earlier)
{
  char q[QUOTE_MAX], qe[QUOTE_MAX];

  quote(q, sizeof(q), name, strlen(name));
  if (!strcmp(name, earlier))
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": duplicate "
                        "name", q);
  quote(qe, sizeof(qe), earlier, strlen(earlier));
  return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": differs only "
                      "in case from \"%s\"", q, qe);
}

/* ---------------------------------------------------------------------- */
/* Writing. */

struct sink {
  pc_buf *out;  /* borrowed */
  int nomem;    /* set when an append failed */
};

static la_ssize_t sink_write(struct archive *a, void *client,
                             const void *p, size_t n)
{
  struct sink *s = client;

  if (pc_buf_append(s->out, p, n)) {
    s->nomem = 1;
    archive_set_error(a, ENOMEM, "out of memory or over the buffer's cap");
    return -1;
  }
  return (la_ssize_t)n;
}

static int by_path(const void *a, const void *b)
{
  const pc_tar_member *const *x = a;
  const pc_tar_member *const *y = b;

  return strcmp((*x)->path, (*y)->path);
}

/* A libarchive failure while writing `what` (the start of the message):
 * PC_E_NOMEM when our sink ran out of room, else PC_E_INTERNAL with
 * libarchive's message. */
static int archive_fail(pc_error *err, struct archive *a,
                        const struct sink *s, const char *what)
{
  const char *why = archive_error_string(a);

  if (s->nomem || archive_errno(a) == ENOMEM)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  return pc_error_set(err, PC_E_INTERNAL, "%s: %s", what,
                      why ? why : "libarchive failed");
}

/* Checks the members before anything is written: each path follows the
 * rule, no two collide (also up to case, which pc_tar_read refuses), each
 * size fits a ustar header. `order` holds them sorted by path. */
static int write_check(const pc_tar_member *const *order, size_t n,
                       pc_error *err)
{
  const char **names = NULL;
  struct name_set set = {0};
  char q[QUOTE_MAX];
  int rc = PC_OK;

  names = pc_calloc(n, sizeof(*names));
  if (!names) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const pc_tar_member *m = order[i];
    const char *why;
    size_t earlier;

    why = path_rule(m->path, strlen(m->path));
    quote(q, sizeof(q), m->path, strlen(m->path));
    if (why) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": path %s", q,
                        why);
      goto out;
    }
    if (!m->data && m->size) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": no data", q);
      goto out;
    }
    if ((uint64_t)m->size > (uint64_t)USTAR_NUMBER_MAX) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": larger than "
                        "a ustar header can hold", q);
      goto out;
    }
    names[i] = m->path;
    earlier = name_set_find(&set, names, m->path);
    if (earlier != (size_t)-1) {
      rc = duplicate_error(err, m->path, names[earlier]);
      goto out;
    }
    if (name_set_add(&set, names, i)) {
      rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
      goto out;
    }
  }

out:
  name_set_free(&set);
  pc_free(names);
  return rc;
}

/* Writes one member's header and data. */
static int write_member(struct archive *a, const struct sink *s,
                        const pc_tar_member *m, int64_t mtime, pc_error *err)
{
  struct archive_entry *e = archive_entry_new();
  char q[QUOTE_MAX], what[QUOTE_MAX + 16];
  int rc = PC_OK;

  quote(q, sizeof(q), m->path, strlen(m->path));
  snprintf(what, sizeof(what), "member \"%s\"", q);
  if (!e) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
    goto out;
  }
  /* Only these fields: no user or group names, no atime, ctime or
   * birthtime, no extended attributes. */
  archive_entry_set_pathname(e, m->path);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)m->size);
  archive_entry_set_mtime(e, (time_t)mtime, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  if (archive_write_header(a, e) != ARCHIVE_OK) {
    rc = archive_fail(err, a, s, what);
    goto out;
  }
  if (m->size &&
      archive_write_data(a, m->data, m->size) != (la_ssize_t)m->size) {
    rc = archive_fail(err, a, s, what);
    goto out;
  }

out:
  archive_entry_free(e);
  return rc;
}

int pc_tar_write(const pc_tar_member *members, size_t n, int64_t mtime,
                 pc_buf *out, pc_error *err)
{
  const pc_tar_member **order = NULL;
  struct archive *a = NULL;
  struct sink s = {out, 0};
  size_t start = out->len;
  int rc = PC_OK;

  if (n == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "tar: no members");
    goto fail;
  }
  if (mtime < 0 || mtime > USTAR_NUMBER_MAX || (time_t)mtime != mtime) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "tar: mtime %lld is out of "
                      "range", (long long)mtime);
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    if (!members[i].path) {
      rc = pc_error_set(err, PC_E_INVALID_ARG, "tar: member %zu has no "
                        "path", i);
      goto fail;
    }
  order = pc_calloc(n, sizeof(*order));
  if (!order) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    order[i] = &members[i];
  qsort(order, n, sizeof(*order), by_path);
  if ((rc = write_check(order, n, err)))
    goto fail;

  a = archive_write_new();
  if (!a) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto fail;
  }
  /* Every block 10240 bytes, the last one padded to full size too, so the
   * length never depends on how the output is opened. */
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_add_filter_none(a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a, 0) != ARCHIVE_OK ||
      archive_write_open2(a, &s, NULL, sink_write, NULL, NULL) !=
        ARCHIVE_OK) {
    rc = archive_fail(err, a, &s, "tar: setting up the writer");
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    if ((rc = write_member(a, &s, order[i], mtime, err)))
      goto fail;
  if (archive_write_close(a) != ARCHIVE_OK) {
    rc = archive_fail(err, a, &s, "tar: closing");
    goto fail;
  }
  archive_write_free(a);
  pc_free(order);
  return PC_OK;

fail:
  if (a)
    archive_write_free(a);
  pc_free(order);
  /* Nothing of a failed archive stays in the caller's buffer. */
  out->len = start;
  if (out->data)
    out->data[start] = '\0';
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Reading. */

void pc_tar_clear(pc_tar *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++) {
    pc_free(t->members[i].path);
    pc_free(t->members[i].data);
  }
  pc_free(t->members);
  t->members = NULL;
  t->n = 0;
}

const pc_tar_member *pc_tar_find(const pc_tar *t, const char *path)
{
  if (!t || !path)
    return NULL;
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->members[i].path, path))
      return &t->members[i];
  return NULL;
}

/* State of one pc_tar_read. */
struct reader {
  struct archive *a;
  pc_tar_limits lim;
  pc_tar *t;            /* the caller's result, filled as we go */
  size_t cap;           /* entries allocated in t->members */
  const char **names;   /* owned array, borrowed strings: t's paths */
  struct name_set set;  /* over names */
  size_t total;         /* bytes of data so far */
  char q[QUOTE_MAX];    /* the current member's name, quoted */
};

/* A libarchive failure on the current member (or the archive when `q` is
 * empty): PC_E_NOMEM when libarchive ran out of memory, else PC_E_PARSE
 * with its message after `what`. */
static int read_fail(struct reader *r, pc_error *err, const char *what)
{
  const char *why = archive_error_string(r->a);

  if (archive_errno(r->a) == ENOMEM)
    return pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
  if (r->q[0])
    return pc_error_set(err, PC_E_PARSE, "member \"%s\": %s: %s", r->q,
                        what, why ? why : "libarchive failed");
  return pc_error_set(err, PC_E_PARSE, "tar: %s: %s", what,
                      why ? why : "libarchive failed");
}

/* Why an entry that is not a plain regular file is refused, or NULL. */
static const char *entry_kind_refusal(struct archive_entry *e)
{
  if (archive_entry_hardlink(e))
    return "is a hard link";
  if (archive_entry_symlink(e))
    return "is a symbolic link";
  switch (archive_entry_filetype(e)) {
  case AE_IFREG:
    break;
  case AE_IFLNK:
    return "is a symbolic link";
  case AE_IFDIR:
    return "is a directory";
  case AE_IFCHR:
    return "is a character device";
  case AE_IFBLK:
    return "is a block device";
  case AE_IFIFO:
    return "is a FIFO";
  case AE_IFSOCK:
    return "is a socket";
  default:
    return "is not a regular file";
  }
  if (archive_entry_sparse_count(e) > 0)
    return "is a sparse file";
  return NULL;
}

/* Checks the header just read against every rule and limit, before any of
 * its data is read; `size` is its declared size. */
static int check_header(struct reader *r, struct archive_entry *e,
                        const char *path, size_t *size, pc_error *err)
{
  const char *why;
  la_int64_t declared;
  size_t earlier;

  if ((why = entry_kind_refusal(e)))
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": %s", r->q,
                        why);
  if ((why = path_rule(path, strlen(path))))
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": path %s",
                        r->q, why);
  earlier = name_set_find(&r->set, r->names, path);
  if (earlier != (size_t)-1)
    return duplicate_error(err, path, r->names[earlier]);
  if (!archive_entry_size_is_set(e))
    return pc_error_set(err, PC_E_PARSE, "member \"%s\": no size", r->q);
  declared = archive_entry_size(e);
  if (declared < 0 || (uint64_t)declared > (uint64_t)r->lim.max_member_size)
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": %lld bytes, "
                        "over the limit of %zu", r->q, (long long)declared,
                        r->lim.max_member_size);
  if (r->t->n >= r->lim.max_members)
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": more than "
                        "%zu members", r->q, r->lim.max_members);
  if (r->total > r->lim.max_total ||
      (size_t)declared > r->lim.max_total - r->total)
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": the members "
                        "would total more than %zu bytes", r->q,
                        r->lim.max_total);
  *size = (size_t)declared;
  return PC_OK;
}

/* Reads exactly `size` bytes of the current member into `data` (of size +
 * 1 bytes), then makes sure no more follow. */
static int read_data(struct reader *r, unsigned char *data, size_t size,
                     pc_error *err)
{
  size_t got = 0;
  unsigned char extra;
  la_ssize_t n;

  while (got < size) {
    n = archive_read_data(r->a, data + got, size - got);
    if (n < 0)
      return read_fail(r, err, "reading data");
    if (n == 0)
      return pc_error_set(err, PC_E_PARSE, "member \"%s\": truncated: %zu "
                          "of %zu bytes", r->q, got, size);
    got += (size_t)n;
  }
  n = archive_read_data(r->a, &extra, 1);
  if (n < 0)
    return read_fail(r, err, "reading data");
  if (n > 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "member \"%s\": more data "
                        "than its declared %zu bytes", r->q, size);
  data[size] = '\0';
  return PC_OK;
}

/* Reads the next member into r->t. PC_OK with *done set at the end of the
 * archive. */
static int read_member(struct reader *r, int *done, pc_error *err)
{
  struct archive_entry *e;
  const char *path;
  pc_tar_member m = {NULL, NULL, 0};
  char what[64];
  int ar, rc;

  r->q[0] = '\0';
  ar = archive_read_next_header(r->a, &e);
  if (ar == ARCHIVE_EOF) {
    *done = 1;
    return PC_OK;
  }
  path = (ar == ARCHIVE_OK || ar == ARCHIVE_WARN) ?
    archive_entry_pathname(e) : NULL;
  if (path)
    quote(r->q, sizeof(r->q), path, strlen(path));
  else if (ar == ARCHIVE_OK || ar == ARCHIVE_WARN)
    snprintf(r->q, sizeof(r->q), "#%zu", r->t->n + 1);
  /* libarchive only warns about some malformed headers (a name it cannot
   * convert, a bad pax record): for us each is fatal. */
  if (ar == ARCHIVE_WARN)
    return read_fail(r, err, "malformed header");
  if (ar != ARCHIVE_OK) {
    snprintf(what, sizeof(what), "member #%zu: reading the header",
             r->t->n + 1);
    return read_fail(r, err, what);
  }
  if (!path)
    return pc_error_set(err, PC_E_PARSE, "member \"%s\": no path", r->q);
  if ((rc = check_header(r, e, path, &m.size, err)))
    return rc;
  if (r->t->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    pc_tar_member *mv;
    const char **nv;

    if (cap > ((size_t)-1) / sizeof(*mv))
      return pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    mv = pc_realloc(r->t->members, cap * sizeof(*mv));
    if (!mv)
      return pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    r->t->members = mv;
    nv = pc_realloc(r->names, cap * sizeof(*nv));
    if (!nv)
      return pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    r->names = nv;
    r->cap = cap;
  }
  m.path = pc_strdup(path);
  m.data = pc_malloc(m.size + 1);
  if (!m.path || !m.data) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto fail;
  }
  if ((rc = read_data(r, m.data, m.size, err)))
    goto fail;
  r->names[r->t->n] = m.path;
  if (name_set_add(&r->set, r->names, r->t->n)) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto fail;
  }
  r->t->members[r->t->n++] = m;
  r->total += m.size;
  return PC_OK;

fail:
  pc_free(m.path);
  pc_free(m.data);
  return rc;
}

/* After the last member: the end-of-archive marker (two zero blocks) must
 * be there, and nothing but zero padding may follow it. */
static int check_end(struct reader *r, const unsigned char *data, size_t len,
                     pc_error *err)
{
  la_int64_t marker = archive_read_header_position(r->a);
  la_int64_t end = archive_filter_bytes(r->a, 0);

  if (marker < 0 || end < marker || end - marker != 1024)
    return pc_error_set(err, PC_E_PARSE, "tar: truncated: no "
                        "end-of-archive marker");
  if ((uint64_t)end > (uint64_t)len)
    return pc_error_set(err, PC_E_PARSE, "tar: read past the end");
  for (size_t i = (size_t)end; i < len; i++)
    if (data[i])
      return pc_error_set(err, PC_E_PARSE, "tar: data after the "
                          "end-of-archive marker, at byte %zu", i);
  return PC_OK;
}

int pc_tar_read(const void *data, size_t len, const pc_tar_limits *lim,
                pc_tar *out, pc_error *err)
{
  static const pc_tar_limits defaults = PC_TAR_LIMITS_DEFAULT;
  struct reader r;
  int done = 0, rc = PC_OK;

  out->members = NULL;
  out->n = 0;
  memset(&r, 0, sizeof(r));
  r.lim = lim ? *lim : defaults;
  r.t = out;
  if (!data && len) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "tar: no data");
    goto fail;
  }
  r.a = archive_read_new();
  if (!r.a) {
    rc = pc_error_set(err, PC_E_NOMEM, "tar: out of memory");
    goto fail;
  }
  /* The tar reader alone, and no decompression: the other formats and
   * filters are where most of libarchive's parsing bugs have been. */
  if (archive_read_support_format_tar(r.a) != ARCHIVE_OK ||
      archive_read_support_filter_none(r.a) != ARCHIVE_OK) {
    rc = read_fail(&r, err, "setting up the reader");
    goto fail;
  }
  if (archive_read_open_memory(r.a, data ? data : "", len) != ARCHIVE_OK) {
    rc = read_fail(&r, err, "not an uncompressed tar");
    goto fail;
  }
  while (!done)
    if ((rc = read_member(&r, &done, err)))
      goto fail;
  if ((rc = check_end(&r, data, len, err)))
    goto fail;
  if (out->n == 0) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "tar: no members");
    goto fail;
  }
  archive_read_free(r.a);
  name_set_free(&r.set);
  pc_free(r.names);
  return PC_OK;

fail:
  if (r.a)
    archive_read_free(r.a);
  name_set_free(&r.set);
  pc_free(r.names);
  pc_tar_clear(out);
  return rc;
}
