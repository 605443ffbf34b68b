/*
 * check_child.c - `promptc plugins check`: run one check in a child
 * process and turn what it writes on a pipe into rows of the table.
 *
 * A child tells the parent which check it starts and what each check
 * found, one line per event: "B\tNAME" (begins), "R\tSTATUS\tNAME\tDETAIL"
 * (a row) and "T\tKIND\tINDEX\tNAME" (a behaviour run to queue). A check
 * begun and never finished is the one a crash, an exit or a timeout
 * FAILs, and the run goes on. The parent alone prints.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "http.h"

/* The most a child may tell the parent. */
#define CHILD_OUTPUT_MAX (1u << 20)

/* ======================================================================
 * The child side: events on a pipe.
 * ====================================================================== */

static int event_fd = -1;

/* Write a whole line to the parent; a parent that went away ends us. */
static void event_write(const char *line, size_t len)
{
  while (len > 0) {
    ssize_t n = write(event_fd, line, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      _exit(3);
    line += n;
    len -= (size_t)n;
  }
}

/* Copy `s` into `out` as one field: tabs and line ends become spaces. */
static void field_copy(char *out, size_t cap, const char *s)
{
  size_t i;

  for (i = 0; s && s[i] && i + 1 < cap; i++)
    out[i] = (s[i] == '\t' || s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
  out[i] = '\0';
}

/* "B\tNAME": the child starts check NAME. */
void check_ev_begin(const char *name)
{
  char line[256], f[200];
  int n;

  field_copy(f, sizeof(f), name);
  n = snprintf(line, sizeof(line), "B\t%s\n", f);
  event_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* "R\tSTATUS\tNAME\tDETAIL": the result of check NAME. */
void check_ev_row(const char *status, const char *name, const char *fmt, ...)
{
  char detail[CHECK_DETAIL_MAX + 1], fd[CHECK_DETAIL_MAX + 1], fn[200];
  char line[700];
  va_list ap;
  int n;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  field_copy(fd, sizeof(fd), detail);
  field_copy(fn, sizeof(fn), name);
  n = snprintf(line, sizeof(line), "R\t%s\t%s\t%s\n", status, fn, fd);
  event_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* "T\tINDEX_OF_KIND\tTABLE_INDEX\tNAME": a table to run behaviour on. */
void check_ev_task(size_t kind, uint32_t index, const char *name)
{
  char line[256], f[200];
  int n;

  field_copy(f, sizeof(f), name);
  n = snprintf(line, sizeof(line), "T\t%zu\t%u\t%s\n", kind, (unsigned)index,
               f);
  event_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- small checks ---------------------------------------------------- */


/* ======================================================================
 * The parent side.
 * ====================================================================== */


/* Read a child's events to EOF or the deadline. Returns 0 at EOF, 1 on
 * timeout. */
static int read_child(int fd, pc_buf *out, int timeout_s)
{
  struct timespec t0, now;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    char chunk[4096];
    long left;
    ssize_t n;
    int r;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left = (long)timeout_s * 1000 -
           ((now.tv_sec - t0.tv_sec) * 1000 +
            (now.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0)
      return 1;
    r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r == 0)
      return 1;
    n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 0;
    if (out->len < CHILD_OUTPUT_MAX)
      pc_buf_append(out, chunk, (size_t)n);
  }
}

/* Split a line into at most `max` tab-separated fields (in place). */
static int split_tabs(char *line, char **f, int max)
{
  int n = 0;

  f[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == '\t') {
      *p = '\0';
      f[n++] = p + 1;
    }
  return n;
}

/* Turn a child's events into rows and tasks; a check begun and never
 * finished is failed with `death` (how the child ended). */
static void take_events(check_table *tb, char *text, const char *death)
{
  char pending[160] = "";
  char *line = text, *nl;

  for (; line && *line; line = nl ? nl + 1 : NULL) {
    char *f[4];
    int n;

    nl = strchr(line, '\n');
    if (!nl)
      break;  /* a line cut short by a crash */
    *nl = '\0';
    n = split_tabs(line, f, 4);
    if (n == 2 && !strcmp(f[0], "B")) {
      snprintf(pending, sizeof(pending), "%s", f[1]);
    } else if (n == 4 && !strcmp(f[0], "R")) {
      check_add_row(tb, f[1], f[2], "%s", f[3]);
      if (!strcmp(pending, f[2]))
        pending[0] = '\0';
    } else if (n == 4 && !strcmp(f[0], "T")) {
      check_add_task(tb, (size_t)strtoul(f[1], NULL, 10),
                     (uint32_t)strtoul(f[2], NULL, 10), f[3]);
    }
  }
  if (death && pending[0])
    check_add_row(tb, "FAIL", pending, "%s", death);
  else if (death)
    check_add_row(tb, "FAIL", "child", "%s after its last check", death);
}

/* Run `fn` in a child process with the events pipe; collect its rows. */
void check_run_child(check_table *tb, const check_opts *o, check_child_fn fn,
                     size_t ki, uint32_t index, const char *row_name)
{
  int fds[2], status = 0, timed_out;
  pc_buf out;
  pid_t pid;
  char death[160];

  if (pipe(fds)) {
    check_add_row(tb, "FAIL", row_name ? row_name : "child", "pipe: %s",
                  strerror(errno));
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    check_add_row(tb, "FAIL", row_name ? row_name : "child", "fork: %s",
                  strerror(errno));
    return;
  }
  if (pid == 0) {
    struct rlimit no_core = {0, 0};

    setrlimit(RLIMIT_CORE, &no_core);  /* a crash leaves no core file */
    close(fds[0]);
    event_fd = fds[1];
    dup2(STDERR_FILENO, STDOUT_FILENO);  /* the table is the parent's */
    fn(o, ki, index, row_name);
    pc_http_shutdown();  /* as main() does: the loop thread stops */
    fflush(NULL);
    _exit(0);
  }
  close(fds[1]);
  pc_buf_init(&out, CHILD_OUTPUT_MAX + 4096);
  timed_out = read_child(fds[0], &out, o->timeout_s);
  if (timed_out)
    kill(pid, SIGKILL);
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (timed_out)
    snprintf(death, sizeof(death), "timed out after %d s (killed)",
             o->timeout_s);
  else if (WIFSIGNALED(status))
    snprintf(death, sizeof(death), "crashed: signal %d (%s)",
             WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    snprintf(death, sizeof(death), "the plugin ended the process (exit "
             "%d: exit() called, or a crash a sanitizer caught)",
             WEXITSTATUS(status));
  else
    death[0] = '\0';
  take_events(tb, out.data ? out.data : (char *)"", death[0] ? death : NULL);
  pc_buf_free(&out);
}

