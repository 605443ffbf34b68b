/* file.c - whole-file reads with a size cap, and atomic replacement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"

int pc_file_read(const char *path, size_t max, char **data, size_t *len,
                 pc_error *err)
{
  int is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  char chunk[65536];
  size_t n;
  pc_buf b;
  int rc = PC_OK;

  *data = NULL;
  *len = 0;
  if (!f)
    return pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
  pc_buf_init(&b, max);
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (pc_buf_append(&b, chunk, n)) {
      rc = (b.len + n > max)
        ? pc_error_set(err, PC_E_INVALID_ARG, "%s: larger than %zu bytes",
                       path, max)
        : pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
      break;
    }
  }
  if (rc == PC_OK && ferror(f))
    rc = pc_error_set(err, PC_E_IO, "%s: read error", path);
  if (!is_stdin)
    fclose(f);
  if (rc == PC_OK && !(*data = pc_buf_take(&b, len)))
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  pc_buf_free(&b);
  return rc;
}

int pc_file_write_atomic(const char *path, const void *data, size_t len,
                         pc_error *err)
{
  pc_buf tmp;
  int fd = -1, rc = PC_OK;
  const char *p = data;

  pc_buf_init(&tmp, 0);
  if (pc_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", tmp.data, strerror(errno));
    goto out;
  }
  while (len > 0) {
    ssize_t w = write(fd, p, len);

    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = pc_error_set(err, PC_E_IO, "%s: %s", tmp.data, strerror(errno));
      goto out;
    }
    p += w;
    len -= (size_t)w;
  }
  if (fsync(fd) != 0) {
    rc = pc_error_set(err, PC_E_IO, "%s: %s", tmp.data, strerror(errno));
    goto out;
  }
  if (close(fd) != 0) {
    fd = -1;
    rc = pc_error_set(err, PC_E_IO, "%s: %s", tmp.data, strerror(errno));
    goto out;
  }
  fd = -1;
  if (rename(tmp.data, path) != 0)
    rc = pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
out:
  if (fd >= 0)
    close(fd);
  if (rc)
    unlink(tmp.data);
  pc_buf_free(&tmp);
  return rc;
}

int pc_file_mkdirs(const char *dir, unsigned mode, pc_error *err)
{
  char *copy = pc_strdup(dir), reason[128];
  struct stat st;
  int rc = PC_OK;

  if (!copy)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", dir);
  for (char *p = copy + 1; *copy; p++) {
    char saved = *p;

    if (saved != '/' && saved != '\0')
      continue;
    *p = '\0';
    if (mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST) {
      strerror_r(errno, reason, sizeof(reason));
      rc = pc_error_set(err, PC_E_IO, "cannot create directory %s: %s",
                        copy, reason);
    }
    *p = saved;
    if (rc != PC_OK || saved == '\0')
      break;
  }
  if (rc == PC_OK && (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)))
    rc = pc_error_set(err, PC_E_IO, "%s is not a directory", copy);
  pc_free(copy);
  return rc;
}

int pc_file_mkparents(const char *path, unsigned mode, pc_error *err)
{
  const char *slash = strrchr(path, '/');
  char *dir;
  int rc;

  if (!slash || slash == path)
    return PC_OK;  /* the current directory or "/" */
  if (!(dir = pc_strndup(path, (size_t)(slash - path))))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
  rc = pc_file_mkdirs(dir, mode, err);
  pc_free(dir);
  return rc;
}
