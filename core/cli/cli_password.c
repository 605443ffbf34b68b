/* cli_password.c - reading secret key passwords: from the terminal with
 * echo off, or the first line of standard input in scripts. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "cli.h"

#define PASSWORD_MAX 1023  /* as minisign: a 1024-byte buffer */

/* The signal that interrupted a terminal read, 0 for none. */
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
  caught = sig;
}

enum line_end { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_ERROR,
                LINE_INTERRUPTED };

/*
 * Read one line from `fd` a byte at a time (so nothing after it is
 * consumed and no copy stays in a stdio buffer) into `buf`, without the
 * line ending. LINE_EOF when the input ended before any byte.
 */
static enum line_end read_line(int fd, char *buf, size_t max)
{
  size_t n = 0;
  int too_long = 0;

  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);

    if (r < 0 && errno == EINTR && !caught)
      continue;
    if (r < 0)
      return caught ? LINE_INTERRUPTED : LINE_ERROR;
    if (r == 0) {
      if (n == 0 && !too_long)
        return LINE_EOF;
      break;
    }
    if (c == '\n')
      break;
    if (n < max)
      buf[n++] = c;
    else
      too_long = 1;
  }
  sodium_memzero(buf + n, max + 1 - n);
  if (n > 0 && buf[n - 1] == '\r')
    buf[--n] = '\0';
  return too_long ? LINE_TOO_LONG : LINE_OK;
}

/* Ask on the terminal `tty` with echo off. Returns the line status. */
static enum line_end ask(int tty, const char *prompt, char *buf)
{
  struct termios old, quiet;
  struct sigaction sa, old_int, old_term, old_hup;
  enum line_end st;
  int have_termios = tcgetattr(tty, &old) == 0;
  ssize_t w;

  w = write(tty, prompt, strlen(prompt));
  (void)w;
  /* Restore the echo even when interrupted: catch the usual signals
   * without SA_RESTART, so read() returns, then re-raise them. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  caught = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  if (have_termios) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  st = read_line(tty, buf, PASSWORD_MAX);
  if (have_termios)
    tcsetattr(tty, TCSANOW, &old);  /* keep what was typed ahead */
  w = write(tty, "\n", 1);
  (void)w;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  if (caught)
    raise(caught);
  return st;
}

static int line_failed(enum line_end st, const char *where)
{
  switch (st) {
  case LINE_EOF:
    cli_error("password: %s ended before a password was given", where);
    return PC_EXIT_FAIL;
  case LINE_TOO_LONG:
    cli_error("password: longer than %d bytes", PASSWORD_MAX);
    return PC_EXIT_FAIL;
  case LINE_ERROR:
    cli_error("password: reading %s: %s", where, strerror(errno));
    return PC_EXIT_ENV;
  case LINE_INTERRUPTED:
    cli_error("password: interrupted");
    return PC_EXIT_FAIL;
  case LINE_OK:
    break;
  }
  return PC_EXIT_OK;
}

int cli_read_password(const char *prompt, int confirm, char **out)
{
  char *pw = NULL, *again = NULL;
  int tty = -1, status = PC_EXIT_OK;
  enum line_end st;

  *out = NULL;
  /* sodium_malloc needs sodium_init first (it reads the page size). */
  if (sodium_init() < 0 || !(pw = sodium_malloc(PASSWORD_MAX + 1)) ||
      !(again = sodium_malloc(PASSWORD_MAX + 1))) {
    cli_error("password: out of memory");
    status = PC_EXIT_ENV;
    goto out;
  }
  if (isatty(STDIN_FILENO)) {
    if ((tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
      cli_error("password: /dev/tty: %s", strerror(errno));
      status = PC_EXIT_ENV;
      goto out;
    }
    if ((status = line_failed(ask(tty, prompt, pw), "the terminal")))
      goto out;
    if (confirm && *pw) {
      if ((status = line_failed(ask(tty, "Repeat the password: ", again),
                                "the terminal")))
        goto out;
      if (strcmp(pw, again) != 0) {
        cli_error("password: the two passwords differ");
        status = PC_EXIT_FAIL;
        goto out;
      }
    }
  } else {
    /* Scripts: the first line of stdin; with `confirm`, a second line,
     * when there is one, must repeat it (printf 'pw\npw\n' as for
     * minisign -G). */
    if ((status = line_failed(read_line(STDIN_FILENO, pw, PASSWORD_MAX),
                              "standard input")))
      goto out;
    if (confirm && *pw) {
      st = read_line(STDIN_FILENO, again, PASSWORD_MAX);
      if (st != LINE_EOF && (status = line_failed(st, "standard input")))
        goto out;
      if (st == LINE_OK && strcmp(pw, again) != 0) {
        cli_error("password: the two passwords on standard input differ");
        status = PC_EXIT_FAIL;
        goto out;
      }
    }
  }
  if (!*pw) {
    cli_error("password: empty passwords are refused");
    status = PC_EXIT_FAIL;
    goto out;
  }
  *out = pw;
  pw = NULL;
out:
  if (tty >= 0)
    close(tty);
  sodium_free(pw);     /* wipes; NULL is a no-op */
  sodium_free(again);
  return status;
}

void cli_password_free(char *pw)
{
  sodium_free(pw);  /* wipes and frees; NULL is a no-op */
}
