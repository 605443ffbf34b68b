/*
 * copro_text.h - the text rule COPRO takes from DSPy for how a proposal
 * is trimmed before it is tried (the prefix a field name implies is
 * pc__opt_field_prefix, plugins/opt-common/opt_common.h).
 *
 * A pure function over caller storage, with no host services, so the
 * unit test compiles this file on its own.
 */
#ifndef PC_COPRO_TEXT_H
#define PC_COPRO_TEXT_H

#include <stddef.h>

/*
 * Bounds of s[0..len) after Python's s.strip('"').strip(): double quotes
 * off both ends first, then whitespace as str.isspace() defines it
 * (Unicode, read as UTF-8). Sets *start and *end; *start == *end when
 * nothing is left. A byte that is not valid UTF-8 counts as text.
 */
void pc__copro_strip(const char *s, size_t len, size_t *start, size_t *end);

#endif
