/*
 * value.h - DSPy's value semantics: rendering field values into prompts and
 * coercing LM output into typed values (dspy/adapters/utils.py). The host
 * offers these to plugins as "pc.values/1"; docs/values.md describes them.
 */
#ifndef PC_VALUE_H
#define PC_VALUE_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"
#include "type.h"

/*
 * pc_value_render - append the text of value `v` (NULL = None) to `out`.
 *
 * PC_VALUE_RENDER_FIELD: format_field_value for a field of type `type`
 * (NULL = unknown): a list in a field whose type is exactly str becomes the
 * numbered «» blob; a dict or list becomes json.dumps text (", " / ": ",
 * non-ASCII kept); anything else is Python str() ("True", "None", "3.0").
 * PC_VALUE_RENDER_PYSTR: Python str() of the value, for dicts and lists the
 * Python repr form ({'a': 1, 'b': [True, None]}).
 */
int pc_value_render(const struct json_object *v, const pc_type *type,
                    unsigned flags, pc_buf *out, pc_error *err);

/*
 * pc_value_parse - coerce LM output to `type` (DSPy parse_value).
 *
 * PC_VALUE_FROM_TEXT: `text` is the raw text of a chat section.
 * PC_VALUE_FROM_JSON: `text` is JSON text of an already typed value (JSON
 * adapter path). On success *out owns the typed value (NULL for None). On
 * failure returns PC_E_PARSE with a message naming the type and a prefix
 * of the text.
 */
int pc_value_parse(const pc_type *type, const char *text, size_t len,
                   unsigned flags, struct json_object **out, pc_error *err);

#endif
