/*
 * signature.h - signatures: ordered input and output fields plus
 * instructions (docs/signatures.md; DSPy dspy/signatures/).
 */
#ifndef PC_SIGNATURE_H
#define PC_SIGNATURE_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"
#include "type.h"

typedef struct pc_field {
  char *name;     /* owned: a valid identifier */
  pc_type *type;  /* owned */
  char *desc;     /* owned: "" when none was given */
} pc_field;

typedef struct pc_signature {
  char *instructions;     /* owned: never NULL */
  int default_instructions; /* 1 when instructions were generated */
  pc_field *inputs;       /* owned: n_inputs fields */
  size_t n_inputs;
  pc_field *outputs;      /* owned: n_outputs fields */
  size_t n_outputs;
} pc_signature;

/*
 * pc_signature_parse - parse the string form "a, b: int -> c: list[str]".
 *
 * On success *out owns a new signature (pc_signature_free) whose
 * instructions are DSPy's default sentence. On failure returns
 * PC_E_INVALID_ARG, sets *out to NULL and writes a message that quotes the
 * signature and names the 1-based column of the offending character, e.g.
 * `signature "a -> 1b": column 6: expected a field name`.
 */
int pc_signature_parse(const char *text, pc_signature **out, pc_error *err);

/*
 * pc_signature_from_json - build from a JSON value: either a string (the
 * string form) or an object {"instructions", "inputs": [{"name", "type",
 * "desc"}], "outputs": [...]} where instructions, type (default "str") and
 * desc may be left out. Errors name the member ("outputs[1].type").
 */
int pc_signature_from_json(const struct json_object *v, pc_signature **out,
                           pc_error *err);

void pc_signature_free(pc_signature *sig);          /* NULL is a no-op */
pc_signature *pc_signature_copy(const pc_signature *sig);  /* NULL on OOM */

/* Replace the instructions (copied). An empty or NULL text restores the
 * default sentence. */
int pc_signature_set_instructions(pc_signature *sig, const char *text);

/* Insert an output field at position 0 (ChainOfThought's "reasoning").
 * `type` is copied; `desc` may be NULL. PC_E_INVALID_ARG on a duplicate
 * name. */
int pc_signature_prepend_output(pc_signature *sig, const char *name,
                                const pc_type *type, const char *desc);

/* The field of that name among inputs (is_output = 0) or outputs, or NULL. */
const pc_field *pc_signature_find(const pc_signature *sig, const char *name,
                                  int is_output);

/* DSPy's default instructions: "Given the fields `a`, `b`, produce the
 * fields `c`." appended to out. */
int pc_signature_default_instructions(const pc_signature *sig, pc_buf *out);

/* The string form "a, b: int -> c" (types omitted when str). */
int pc_signature_to_string(const pc_signature *sig, pc_buf *out);

/*
 * pc_signature_to_plugin_json - the JSON that crosses the plugin ABI
 * (promptc/plugin.h, "pc.adapter/1"): {"instructions", "inputs": [...],
 * "outputs": [...]} with per field "name", "type" (canonical), "type_name",
 * "kind", "desc", and for outputs "schema" (list/dict/optional/any) or
 * "values" (literal). Appended to out as compact JSON.
 */
int pc_signature_to_plugin_json(const pc_signature *sig, pc_buf *out);

/* The user-facing JSON form, as pc_signature_from_json reads it: a new
 * object (json_object_put), NULL on OOM. */
struct json_object *pc_signature_to_json(const pc_signature *sig);

#endif
