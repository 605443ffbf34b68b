/*
 * tar.h - the one tar format artifacts use, written reproducibly and read
 * defensively, in memory, with libarchive.
 *
 * Writing (docs/artifacts.md, "The tar"): POSIX ustar headers only (pax
 * restricted, never needing an extension record because names are ASCII
 * and short), members sorted by byte-wise path, regular files only with
 * mode 0644, uid and gid 0 and no user or group names, every mtime the
 * same given value, 10240-byte blocks with the last one padded to full
 * size too: the same members always give the same bytes, whatever their
 * order, the clock or the locale.
 *
 * Reading: the tar format only (no other format, no compression filter),
 * from memory, nothing ever written to disk. Refused, each with its own
 * message naming the member: a path that breaks the path rule below, a
 * link (symbolic or hard), a device, FIFO, directory or any entry that is
 * not a regular file, a duplicate name (also one differing only in case),
 * a member larger than the limit (declared or delivered), more members or
 * more bytes in all than the limits, a sparse member, an archive without
 * members, and a truncated or malformed archive: one libarchive only warns
 * about, one without its end-of-archive marker (two zero blocks) or with
 * anything but zero bytes after it.
 *
 * The path rule (pc_tar_path_check): relative; segments separated by
 * single '/', each made of [A-Za-z0-9._-], none empty, "." or ".."; at
 * most 100 bytes and 8 segments.
 */
#ifndef PC_TAR_H
#define PC_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"

#define PC_TAR_PATH_MAX 100
#define PC_TAR_DEPTH_MAX 8

typedef struct pc_tar_member {
  char *path;           /* owned */
  unsigned char *data;  /* owned; NUL-terminated one past size */
  size_t size;
} pc_tar_member;

typedef struct pc_tar {
  pc_tar_member *members;  /* owned, in archive order */
  size_t n;
} pc_tar;

typedef struct pc_tar_limits {
  size_t max_members;      /* default 4096 */
  size_t max_member_size;  /* default 16 MiB */
  size_t max_total;        /* default 64 MiB, all members' data */
} pc_tar_limits;

#define PC_TAR_LIMITS_DEFAULT {4096, (size_t)16 << 20, (size_t)64 << 20}

/* PC_OK when `path` follows the path rule; else PC_E_INVALID_ARG with a
 * message quoting the path (escaped) and the reason. */
int pc_tar_path_check(const char *path, pc_error *err);

/*
 * pc_tar_write - append the tar of `n` members to `out`: sorted by path
 * (the array is not changed), each with `mtime` (seconds, >= 0 and below
 * 8^11, what a ustar header holds). Member data is borrowed (NULL is
 * allowed for size 0). PC_E_INVALID_ARG for no members, a path that
 * breaks the rule, a duplicate path (also one differing only in case,
 * which pc_tar_read would refuse) or an mtime out of range, PC_E_NOMEM
 * (also when `out` reaches its cap), PC_E_INTERNAL when libarchive fails
 * (its message is kept). On failure `out` is as it was.
 */
int pc_tar_write(const pc_tar_member *members, size_t n, int64_t mtime,
                 pc_buf *out, pc_error *err);

/*
 * pc_tar_read - parse the tar in `len` bytes at `data` (borrowed) under
 * `lim` (NULL: the defaults), copying every member. On success `out` owns
 * them (pc_tar_clear). `out` need not be initialised: what it held is
 * not freed. On failure `out` is empty and the error says which member
 * and which rule: PC_E_INVALID_ARG for a refused member, a limit or no
 * members, PC_E_PARSE for a truncated or malformed archive (also anything
 * that is not an uncompressed tar), PC_E_NOMEM.
 */
int pc_tar_read(const void *data, size_t len, const pc_tar_limits *lim,
                pc_tar *out, pc_error *err);

void pc_tar_clear(pc_tar *t);

/* The member named `path`, or NULL. Borrowed from `t`. */
const pc_tar_member *pc_tar_find(const pc_tar *t, const char *path);

#endif
