/*
 * json_text.h - JSON text in and out, on top of json-c.
 *
 * Parsing is json-c's (strict) plus an optional repair pass for LM output
 * (json_repair.c). Writing is ours, because prompts and cache keys must be
 * byte-identical to Python's json.dumps: separators, indentation, float
 * repr, non-ASCII kept. The flags are the PC_JSON_TEXT_* / PC_JSON_PARSE_*
 * flags of promptc/plugin.h.
 */
#ifndef PC_JSON_TEXT_H
#define PC_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"

/*
 * pc_json_parse - parse JSON text.
 *
 * With PC_JSON_PARSE_STRICT the whole of `text` must be one JSON value
 * (surrounding whitespace allowed). With PC_JSON_PARSE_REPAIR the text is
 * repaired first as docs/values.md describes. On success *out owns a new
 * value (json_object_put). Note that JSON null parses to a NULL object:
 * success with *out == NULL means null. Errors: PC_E_PARSE with the byte
 * offset in the message.
 */
int pc_json_parse(const char *text, size_t len, unsigned flags,
                  struct json_object **out, pc_error *err);

/*
 * pc_json_repair - turn almost-JSON from an LM into valid JSON text.
 *
 * Appends valid JSON to `out`, or returns PC_E_PARSE when nothing JSON-like
 * can be recovered. See docs/values.md, "Repair".
 */
int pc_json_repair(const char *text, size_t len, pc_buf *out, pc_error *err);

/* Append the JSON text of `v` (NULL means null) to `out` in the layout the
 * flags select. Doubles are written as Python repr() writes floats
 * (shortest round-trip: 0.1, 3.0, 1e+20, NaN, Infinity). */
int pc_json_write(const struct json_object *v, unsigned flags, pc_buf *out);

/*
 * pc_json_parse_file - read `path` (at most `max` bytes, "-" for stdin)
 * and parse it strictly. On success *out owns the value (NULL for a JSON
 * null). Errors name the path: "prog.json: offset 12: ..." (PC_E_IO,
 * PC_E_INVALID_ARG for a file over `max`, PC_E_PARSE, PC_E_NOMEM).
 */
int pc_json_parse_file(const char *path, size_t max, struct json_object **out,
                       pc_error *err);

/* Convenience: the text as a new string (pc_free), NULL when OOM. */
char *pc_json_to_string(const struct json_object *v, unsigned flags);

/* Append Python's repr() of a double (the float part of pc_json_write). */
int pc_json_write_double(double d, pc_buf *out);

/* Member `key` of object `o` (NULL when `o` is NULL, not an object or has
 * no such member), borrowed from `o`. */
struct json_object *pc_json_member(const struct json_object *o,
                                   const char *key);

/* The string member `key` of `o`, or NULL when absent or not a string.
 * Borrowed from `o`. */
const char *pc_json_str(const struct json_object *o, const char *key);

/* Deepest nesting pc_json_parse accepts and pc_json_write writes (deeper
 * values: PC_E_PARSE when parsing, PC_E_INVALID_ARG when writing). */
#define PC_JSON_MAX_DEPTH 512

/* Internal write flag: non-finite doubles are written as null, as pydantic's
 * JSON mode dumps them (used by pc_value_render for dicts and lists). */
#define PC__JSON_TEXT_NONFINITE_NULL 0x100u

/* Append the decimal text of a json-c integer; values above INT64_MAX that
 * json-c holds as uint64 are written unsigned. */
int pc__json_write_int(const struct json_object *v, pc_buf *out);

/* Read a plain decimal number (digits, '.', exponent; no blanks) whatever
 * the C locale's decimal point is. PC_OK or PC_E_PARSE. */
int pc__json_parse_double(const char *s, size_t len, double *out);

/* Decode one UTF-8 sequence of at most `len` bytes: its length and *cp, or
 * 0 when the bytes are not valid UTF-8. */
size_t pc__utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif
