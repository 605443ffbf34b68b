/*
 * copro_text.h - the text rules COPRO takes from DSPy: the prefix a field
 * name implies, and how a proposal is trimmed before it is tried.
 *
 * Pure functions over caller storage, with no host services, so the unit
 * test compiles this file on its own.
 */
#ifndef PC_COPRO_TEXT_H
#define PC_COPRO_TEXT_H

#include <stddef.h>

/* Bytes pc__copro_prefix needs for `name`: room for the work it does in
 * place, the colon and the NUL. */
size_t pc__copro_prefix_cap(const char *name);

/*
 * Write the prefix DSPy infers for a field called `name` (its
 * infer_prefix() and a colon: "urgency" -> "Urgency:", "camelCaseText" ->
 * "Camel Case Text:", "text2number" -> "Text 2 Number:") into `out`,
 * NUL-terminated. `out` must hold pc__copro_prefix_cap(name) bytes;
 * returns 0, or -1 (and writes nothing) when `cap` is smaller. Letters are
 * ASCII: other bytes are kept as they are and count as neither case.
 */
int pc__copro_prefix(const char *name, char *out, size_t cap);

/*
 * Bounds of s[0..len) after Python's s.strip('"').strip(): double quotes
 * off both ends first, then whitespace as str.isspace() defines it
 * (Unicode, read as UTF-8). Sets *start and *end; *start == *end when
 * nothing is left. A byte that is not valid UTF-8 counts as text.
 */
void pc__copro_strip(const char *s, size_t len, size_t *start, size_t *end);

#endif
