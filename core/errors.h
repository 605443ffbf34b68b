/*
 * errors.h - error reporting inside libpromptc.
 *
 * A pc_error (defined in promptc/plugin.h) lives in the caller's storage,
 * initialised with PC_ERROR_INIT. The first error set on it wins: later
 * calls keep the root cause and only return their code.
 */
#ifndef PC_ERRORS_H
#define PC_ERRORS_H

#include "promptc/plugin.h"

#if defined(__GNUC__)
#define PC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PC_PRINTF(a, b)
#endif

/*
 * pc_error_set - record an error and return its code.
 *
 * Writes one line (truncated to fit) into err->message if `err` is not NULL
 * and holds no error yet, and sets err->code. Returns `code` so callers can
 * write `return pc_error_set(err, PC_E_IO, "%s: %s", path, why);`.
 */
int pc_error_set(pc_error *err, int code, const char *fmt, ...) PC_PRINTF(3, 4);

/* Like pc_error_set, but prefixes `prefix: ` to a message already in `src`
 * (used to add context such as a file name to a callee's error). */
int pc_error_wrap(pc_error *err, const pc_error *src, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* Reset `err` to PC_ERROR_INIT. */
void pc_error_clear(pc_error *err);

/* Static English text for a code ("invalid argument"); never NULL. */
const char *pc_strerror(int code);

/* Static symbolic name for a code ("PC_E_INVALID_ARG"); never NULL. */
const char *pc_errname(int code);

#endif
