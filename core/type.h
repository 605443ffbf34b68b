/*
 * type.h - the field types of signatures.
 *
 * The types DSPy users write, as a tree: str int float bool Any,
 * list[T] (also List[T]), dict[str, T] (also Dict[str, T]),
 * Literal[v, ...] (strings in single or double quotes with backslash
 * escapes, integers, True/False), Optional[T], Union[T, None] and T | None.
 * docs/signatures.md is the user-facing description.
 */
#ifndef PC_TYPE_H
#define PC_TYPE_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"

#define PC_TYPE_STR 1
#define PC_TYPE_INT 2
#define PC_TYPE_FLOAT 3
#define PC_TYPE_BOOL 4
#define PC_TYPE_ANY 5
#define PC_TYPE_LIST 6
#define PC_TYPE_DICT 7      /* keys are always str */
#define PC_TYPE_LITERAL 8
#define PC_TYPE_OPTIONAL 9

/* How an optional was written: it changes the name DSPy shows. */
#define PC_OPT_OPTIONAL 0   /* Optional[T] or Union[T, None] -> Union[T, NoneType] */
#define PC_OPT_PIPE 1       /* T | None                      -> UnionType[T, NoneType] */

typedef struct pc_type pc_type;
struct pc_type {
  int kind;                   /* PC_TYPE_* */
  int opt_style;              /* PC_OPT_*, for PC_TYPE_OPTIONAL */
  pc_type *item;              /* owned: list element, dict value, optional inner */
  struct json_object *values; /* owned: literal values, a JSON array of
                                 strings, integers and booleans */
};

/*
 * pc_type_parse - parse a type expression.
 *
 * Parses `len` bytes of `text` (surrounding blanks allowed). On success
 * returns PC_OK and a new tree in *out (free with pc_type_free). On failure
 * returns PC_E_INVALID_ARG, sets *out to NULL, stores the byte offset of the
 * offending character in *err_off (if not NULL) and writes a message such
 * as "unknown type 'integer'" (without position: callers add it).
 */
int pc_type_parse(const char *text, size_t len, pc_type **out,
                  size_t *err_off, pc_error *err);

void pc_type_free(pc_type *t);                 /* NULL is a no-op */
pc_type *pc_type_copy(const pc_type *t);        /* owned; NULL when OOM */
pc_type *pc_type_new_simple(int kind);          /* str/int/float/bool/any */
int pc_type_equal(const pc_type *a, const pc_type *b);

/* Canonical text, parseable again: "str", "list[str]", "dict[str, int]",
 * "Literal['a', 'b']", "Optional[int]", "int | None". Appends to out. */
int pc_type_canonical(const pc_type *t, pc_buf *out);

/* The name DSPy 3.3.1 shows in prompts (get_annotation_name): "list[str]",
 * "Union[int, NoneType]", "UnionType[int, NoneType]", "Literal['a', 'b']",
 * "Any". Appends to out. */
int pc_type_name(const pc_type *t, pc_buf *out);

/* The JSON schema text DSPy shows in output notes: pydantic's schema with
 * "type" first and other keys sorted, recursively, ", " / ": " separators,
 * non-ASCII kept. Appends to out. */
int pc_type_schema(const pc_type *t, pc_buf *out);

/* "str", "int", "float", "bool", "any", "list", "dict", "literal",
 * "optional" (the `kind` member of signature JSON for plugins). */
const char *pc_type_kind_name(int kind);

#endif
