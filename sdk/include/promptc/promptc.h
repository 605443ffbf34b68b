/*
 * promptc/promptc.h - the embedding API of libpromptc, for C applications.
 *
 * This release exposes the library's version and the texts of the stable
 * status codes; loading programs, running, evaluating and compiling them
 * from C join in later releases. The status codes and the pc_error struct
 * are those of promptc/plugin.h.
 */
#ifndef PROMPTC_PROMPTC_H
#define PROMPTC_PROMPTC_H

#include "promptc/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH" (static string). Since: 0.1. */
const char *pc_version(void);

/* Static English text for a status code ("invalid argument"), never NULL.
 * Since: 0.1. */
const char *pc_strerror(int code);

/* Static symbolic name for a status code ("PC_E_INVALID_ARG"), never NULL.
 * Since: 0.1. */
const char *pc_errname(int code);

#ifdef __cplusplus
}
#endif

#endif /* PROMPTC_PROMPTC_H */
