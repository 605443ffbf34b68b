/*
 * sim_request.h - reading a request the chat or JSON adapter formatted
 * (docs/adapters.md): which adapter wrote it, the input and output fields
 * with their DSPy type names, the instructions, the demos and the current
 * inputs.
 */
#ifndef PC_SIM_REQUEST_H
#define PC_SIM_REQUEST_H

#include "sim_common.h"

#define PC__SIM_CHAT 0
#define PC__SIM_JSON 1

/* Kinds of a DSPy type name. */
#define PC__SIM_K_STR 1
#define PC__SIM_K_INT 2
#define PC__SIM_K_FLOAT 3
#define PC__SIM_K_BOOL 4
#define PC__SIM_K_ANY 5      /* Any, and names the sim does not know */
#define PC__SIM_K_LIST 6
#define PC__SIM_K_DICT 7
#define PC__SIM_K_LITERAL 8
#define PC__SIM_K_OPTIONAL 9

/* A type name read shallowly: its kind and, for list, dict and optional,
 * the name of the item, value or inner type (borrowed from the name). */
typedef struct pc__sim_type {
  int kind;
  const char *inner;
  size_t inner_len;
} pc__sim_type;

/* Read the DSPy type name s[0..len) ("list[str]", "Union[int, NoneType]",
 * "Literal['a', 'b']", ...). Never fails: unknown names are K_ANY. */
void pc__sim_type_read(const char *s, size_t len, pc__sim_type *t);

/* The values of a Literal type name as a new JSON array in *out (owned by
 * the caller, released with json->free): strings, integers, booleans.
 * PC_E_NOMEM, or PC_E_INVALID_ARG when the name is not a Literal. */
int pc__sim_literal_values(const pc__sim_host *h, const char *s, size_t len,
                           pc_json **out);

typedef struct pc__sim_field {
  char *name;         /* owned */
  char *type;         /* owned: the DSPy type name */
  pc__sim_type t;     /* read from `type` (inner borrowed from it) */
} pc__sim_field;

/* A piece of text found in a message: a section's trimmed text, or a
 * demo's rendered output value. */
typedef struct pc__sim_text {
  char *s;            /* owned, or NULL when absent */
  size_t len;
} pc__sim_text;

typedef struct pc__sim_demo {
  int complete;            /* every field there and supplied */
  pc__sim_text *inputs;    /* owned: one per input field */
  pc__sim_text *outputs;   /* owned: one per output field (rendered) */
} pc__sim_demo;

typedef struct pc__sim_request {
  int adapter;               /* PC__SIM_CHAT or PC__SIM_JSON */
  int formatted;             /* 0: the system message is no adapter's */
  pc__sim_field *inputs;     /* owned */
  size_t n_inputs;
  pc__sim_field *outputs;    /* owned */
  size_t n_outputs;
  char *instructions;        /* owned, never NULL once read */
  size_t instructions_len;
  pc__sim_demo *demos;       /* owned: the user/assistant pairs */
  size_t n_demos;
  pc__sim_text *current;     /* owned: one per input field */
  uint64_t prompt_hash;      /* of every role and content, in order */
  uint64_t prompt_bytes;     /* sum of the contents' lengths */
} pc__sim_request;

/*
 * pc__sim_request_read - read `req` into *out (caller storage, cleared
 * first). On success release with pc__sim_request_clear. Fails with
 * PC_E_INVALID_ARG when there are no messages, the first is not a system
 * message or the last is not a user message, and PC_E_NOMEM; then *out
 * holds nothing. A system message that is not an adapter's is no error:
 * out->formatted is 0 and there are no fields.
 */
int pc__sim_request_read(const pc__sim_host *h, const pc_lm_request *req,
                         pc__sim_request *out, pc_error *err);
void pc__sim_request_clear(const pc__sim_host *h, pc__sim_request *r);

#endif
