/*
 * file.h - reading and writing whole files.
 */
#ifndef PC_FILE_H
#define PC_FILE_H

#include <stddef.h>

#include "errors.h"

#define PC_CONFIG_MAX ((size_t)16 << 20)   /* configs, programs: 16 MiB */

/*
 * pc_file_read - read all of `path` (at most `max` bytes; "-" is standard
 * input). On success *data owns the bytes plus a terminating NUL (pc_free)
 * and *len their count. Errors: PC_E_IO naming the path and the reason,
 * PC_E_INVALID_ARG when the file is larger than `max`.
 */
int pc_file_read(const char *path, size_t max, char **data, size_t *len,
                 pc_error *err);

/*
 * pc_file_write_atomic - replace `path` with `len` bytes: write a temporary
 * file beside it, fsync, rename. Readers see the old or the new file,
 * never half of one. PC_E_IO naming the path on failure (nothing replaced).
 */
int pc_file_write_atomic(const char *path, const void *data, size_t len,
                         pc_error *err);

/*
 * pc_file_mkdirs - create directory `dir` and any missing parents, as
 * `mkdir -p` does, new ones with `mode`. PC_OK when it exists (or was
 * made) and is a directory; else PC_E_IO "cannot create directory D: why"
 * or "D is not a directory", or PC_E_NOMEM.
 */
int pc_file_mkdirs(const char *dir, unsigned mode, pc_error *err);

/* pc_file_mkparents - the same for the directories above the file `path`
 * (nothing to do for a name without '/', or one right under "/"). */
int pc_file_mkparents(const char *path, unsigned mode, pc_error *err);

#endif
