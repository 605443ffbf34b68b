/*
 * program.h - programs: named modules wired into a flow, with the learnable
 * state of their predictors, read from and written to promptc.program/1
 * JSON (docs/programs.md).
 *
 * A loaded pc_program is immutable except for its predictors' state
 * (pc_program_set_state). Everything it hands out by pointer is borrowed
 * from it and lives until pc_program_free(). A program may be read from
 * several threads at once; pc_program_set_state needs exclusive access.
 */
#ifndef PC_PROGRAM_H
#define PC_PROGRAM_H

#include <stddef.h>
#include <json-c/json.h>

#include "errors.h"
#include "signature.h"

#define PC_PROGRAM_SCHEMA "promptc.program/1"

/* Module types. */
#define PC_MODULE_PREDICT 1
#define PC_MODULE_CHAIN_OF_THOUGHT 2
#define PC_MODULE_OTHER 3  /* any other type: see pc_module.vt */

/* Where a bound value comes from. */
#define PC_BIND_INPUT 1  /* "$input.<field>": a program input */
#define PC_BIND_STEP 2   /* "$<id>.<field>": an earlier step's output, a
                            loop's accumulators, a foreach item ("$item",
                            "$item.<field>") */
#define PC_BIND_CONST 3  /* any other JSON value ("$$x" is the string "$x") */

/* Flow step kinds (docs/programs.md, "Control flow"). */
#define PC_STEP_CALL 0     /* {"call": module, "inputs": {...}} */
#define PC_STEP_REPEAT 1   /* {"repeat": N, "steps": [...], ...} */
#define PC_STEP_FOREACH 2  /* {"foreach": "$ref", "as": x, "steps": [...]} */
#define PC_STEP_IF 3       /* {"if": cond, "then": [...], "else": [...]} */

/* Bounds of control flow. */
#define PC_REPEAT_MAX 100        /* "repeat": 1..100 */
#define PC_FOREACH_MAX 10000     /* largest "max_items" */
#define PC_FOREACH_DEFAULT 100   /* "max_items" when absent */
#define PC_RUN_STEPS_MAX 10000   /* steps (calls and iterations) per run */

typedef struct pc_program pc_program;
typedef struct pc_module pc_module;
struct pc_step;

/* One bound value: a module input of a flow step, or a program output. */
typedef struct pc_binding {
  char *target;   /* owned: the module input (or program output) it fills */
  int kind;       /* PC_BIND_* */
  size_t step;    /* PC_BIND_STEP: index of the source step in the flow */
  char *field;    /* owned: the input (INPUT) or output field (STEP) name;
                     NULL for CONST */
  struct json_object *value;  /* owned: the CONST value; NULL means JSON
                                 null (and is NULL for other kinds) */
  char *source;   /* owned: STEP: the id it reads ("classify", "hops",
                     "item"); NULL for other kinds */
  const struct pc_step *from;  /* borrowed: STEP: the step with that id,
                                  NULL for a foreach item */
} pc_binding;

/* A condition of "if" or "until" (docs/programs.md). */
#define PC_COND_EMPTY 1   /* {"empty": v}: absent, null, "", [] or {} */
#define PC_COND_EQUALS 2  /* {"equals": [a, b]}: equal JSON values */
#define PC_COND_NOT 3     /* {"not": c} */
#define PC_COND_ALL 4     /* {"all": [c, ...]} */
#define PC_COND_ANY 5     /* {"any": [c, ...]} */

typedef struct pc_cond {
  int op;                  /* PC_COND_* */
  pc_binding *args;        /* owned: EMPTY 1, EQUALS 2 values */
  size_t n_args;
  struct pc_cond *subs;    /* owned: NOT 1, ALL/ANY n conditions */
  size_t n_subs;
} pc_cond;

/* One LM-calling unit: the signature it is called with and its state. */
typedef struct pc_predictor {
  char *path;              /* owned: "classify" or "answer.predict" */
  pc_signature *signature; /* owned: the module's signature, extended
                              (chain_of_thought's "reasoning"), with the
                              current instructions */
  char *signature_plugin_json; /* owned: the signature's plugin JSON form
                                  (what adapters receive), kept in step
                                  with the instructions */
  size_t signature_plugin_len;
  struct json_object *demos;   /* owned: JSON array of objects, never NULL */
  struct json_object *config;  /* borrowed from the module: NULL if none */
  pc_module *module;           /* borrowed: the module that owns it */
  struct json_object *knn;     /* owned: the "knn" state (KNNFewShot's
                                  demo pool and retrieval settings), or
                                  NULL */
  struct pc_knn_pool *knn_pool;  /* owned: knn indexed, or NULL */
  char *model;             /* owned: the model id this predictor's calls
                              ask for instead of the role's (state
                              "model", e.g. a fine-tuned model), or NULL */
  char *base_instructions; /* owned: the instructions it was made with,
                              what an empty state text restores */
  int base_default;        /* 1 when those were the default sentence */
} pc_predictor;

struct pc_module {
  char *name;              /* owned: an identifier, unique in the program */
  int type;                /* PC_MODULE_* for predict and chain_of_thought,
                              PC_MODULE_OTHER for every other type */
  pc_signature *signature; /* owned: as declared, before any extension;
                              NULL for a type without one (retrieve) */
  struct json_object *signature_json;  /* owned: as written in the file */
  struct json_object *config;  /* owned: LM call settings, NULL if none */
  pc_predictor *predictor;     /* borrowed: its first predictor, or NULL
                                  for a module without one (retrieve, a
                                  wrapper) */
  const struct pc_module_type *vt;  /* borrowed: its type (module.h) */
  void *data;              /* owned by the type (vt->free_data) */
  pc_signature *io;        /* owned: what flow steps bind and read when it
                              differs from `signature`, else NULL
                              (pc_module_io) */
  pc_predictor **predictors;  /* owned array of predictors borrowed from
                                 the program, in the order the type made
                                 them */
  size_t n_predictors;
  struct json_object *spec;   /* owned: the module's object as written,
                                 saved back verbatim */
};

/* One step of the flow, in execution order: a call, or a control
 * construct holding steps of its own. */
typedef struct pc_step {
  char *id;                /* owned: unique step id (a call's default: the
                              module name); NULL for an "if" without one */
  int id_given;            /* 1 when the file named the id */
  pc_module *module;       /* borrowed: the module it calls; NULL when not
                              a call */
  pc_binding *bindings;    /* owned: one per module input, in file order */
  size_t n_bindings;
  int kind;                /* PC_STEP_* */
  struct pc_step *body;    /* owned: repeat/foreach body, if's "then" */
  size_t n_body;
  struct pc_step *alt;     /* owned: if's "else" (may be empty) */
  size_t n_alt;
  size_t bound;            /* repeat: N; foreach: max_items */
  pc_binding *over;        /* owned: foreach: the list it walks */
  char *as;                /* owned: foreach: the item's name */
  pc_binding *acc;         /* owned: repeat "accumulate", foreach
                              "collect": target is the list's name */
  size_t n_acc;
  int unique;              /* repeat: accumulate without duplicates */
  pc_cond *cond;           /* owned: if's condition, repeat's "until"
                              (NULL: none) */
  struct json_object *json;  /* owned: a control step as written, saved
                                back verbatim; NULL for a call */
} pc_step;

/*
 * pc_program_load - read a promptc.program/1 file.
 *
 * On success returns PC_OK and stores a new program in *out, owned by the
 * caller (pc_program_free). On failure returns PC_E_IO (unreadable file),
 * PC_E_PARSE (not JSON), PC_E_INVALID_ARG (not a valid program, or larger
 * than PC_CONFIG_MAX, 16 MiB) or PC_E_NOMEM, sets *out to NULL and
 * writes one line to `err` that starts with `path` and, for a bad
 * program, the JSON path of the offending member: "prog.json:
 * flow[1].inputs.context: unknown step 'c9'".
 */
int pc_program_load(const char *path, pc_program **out, pc_error *err);

/*
 * pc_program_from_json - build a program from parsed JSON.
 *
 * `origin` (a file name, or NULL for "<memory>") starts every message.
 * `root` is borrowed: the program keeps deep copies of what it needs.
 * Results and errors as pc_program_load.
 */
int pc_program_from_json(const char *origin, const struct json_object *root,
                         pc_program **out, pc_error *err);

/* Release a program and everything it owns. NULL is a no-op. */
void pc_program_free(pc_program *prog);

/*
 * pc_program_to_json - the program as promptc.program/1 JSON.
 *
 * Members in a fixed order: schema, name, description, inputs, modules,
 * flow, outputs, state. name, description, inputs, flow and outputs appear
 * only when the file had them; each module and each control step is
 * written back as the file had it; so a file written from a loaded
 * program loads back to the same program and writes the same bytes.
 * state lists only predictors whose instructions differ from those they
 * were made with, or that have demos, knn or a model. Returns a new
 * object owned by the caller (json_object_put), NULL when out of memory.
 */
struct json_object *pc_program_to_json(const pc_program *prog);

/*
 * pc_program_save - write pc_program_to_json as pretty JSON (two-space
 * indent) and a newline to `path`, atomically: a temporary file in the
 * same directory is written, then renamed over `path`. PC_E_IO or
 * PC_E_NOMEM with a message naming `path` on failure; `path` is then left
 * as it was.
 */
int pc_program_save(const pc_program *prog, const char *path, pc_error *err);

/* The optional name and description, NULL when absent. Borrowed. */
const char *pc_program_name(const pc_program *prog);
const char *pc_program_description(const pc_program *prog);

/* Modules in file order; by index (NULL when out of range) or name (NULL
 * when unknown). Borrowed. */
size_t pc_program_n_modules(const pc_program *prog);
const pc_module *pc_program_module_at(const pc_program *prog, size_t i);
const pc_module *pc_program_module(const pc_program *prog, const char *name);

/* Predictors in module order; by index or path ("answer.predict"), NULL
 * when there is none. Borrowed. */
size_t pc_program_n_predictors(const pc_program *prog);
const pc_predictor *pc_program_predictor_at(const pc_program *prog,
                                            size_t i);
const pc_predictor *pc_program_predictor(const pc_program *prog,
                                         const char *path);

/* The predictor of the first call step (in execution order, nested steps
 * included) whose module has one, else the program's first predictor:
 * what `promptc inspect` shows when no path is given. Borrowed; NULL for
 * a program without predictors (only retrieve modules). */
const pc_predictor *pc_program_default_predictor(const pc_program *prog);

/* The top-level steps of the flow in execution order (generated for the
 * single-module form); control steps hold their own (pc_step.body/alt).
 * Borrowed; NULL when out of range. */
size_t pc_program_n_steps(const pc_program *prog);
const pc_step *pc_program_step(const pc_program *prog, size_t i);

/* The program's input names (declared, else in order of first use).
 * Borrowed; NULL when out of range. */
size_t pc_program_n_inputs(const pc_program *prog);
const char *pc_program_input(const pc_program *prog, size_t i);

/* The program's outputs: target is the output name. Borrowed. */
size_t pc_program_n_outputs(const pc_program *prog);
const pc_binding *pc_program_output(const pc_program *prog, size_t i);

/*
 * pc_program_step_inputs - the input object for one call of step
 * `step_index`, a top-level call step (PC_E_INVALID_ARG for a control
 * step); pc_program_run() itself binds through pc_program_bind().
 *
 * `program_inputs` is the program's input object. `step_outputs[k]` is the
 * output object of step k for k < step_index, or NULL when step k has not
 * produced one; `step_outputs` itself may be NULL when no step has. All are
 * borrowed. On success *out is a new object (json_object_put) with one
 * member per module input, in the module signature's order, holding copies
 * of the bound values. A value that is not available (a program input that
 * is not given, a step that has not run or lacks the field) returns
 * PC_E_INVALID_ARG with a message naming the step, the input and the
 * missing source; *out is then NULL.
 */
int pc_program_step_inputs(const pc_program *prog, size_t step_index,
                           const struct json_object *program_inputs,
                           const struct json_object *const *step_outputs,
                           struct json_object **out, pc_error *err);

/*
 * pc_program_outputs - the program's output object once every step has
 * run: as pc_program_step_inputs, but for the program's outputs, with
 * `step_outputs` holding pc_program_n_steps entries. Members in the order
 * of the program's outputs. *out is new (json_object_put), NULL on error.
 */
int pc_program_outputs(const pc_program *prog,
                       const struct json_object *program_inputs,
                       const struct json_object *const *step_outputs,
                       struct json_object **out, pc_error *err);

/*
 * pc_program_bind - the object a call step's module gets: one member per
 * input of `sig` (the module's io), in its order, from the step's
 * bindings resolved in `env`. `env` (borrowed) maps "input" to the
 * program's inputs and each id that has run to its value (a call's output
 * object; a loop's {"<list>": [...], "iteration", ...}; a foreach item).
 * *out is new (json_object_put); on failure NULL, and `err` starts with
 * `what`.
 */
int pc_program_bind(const pc_signature *sig, const pc_binding *bs, size_t n,
                    const struct json_object *env, const char *what,
                    struct json_object **out, pc_error *err);

/*
 * pc_binding_value - the value binding `b` stands for in `env`: on
 * success *val is borrowed from `env` or `b` (NULL for JSON null).
 * PC_E_INVALID_ARG when it is not available (a program input not given, a
 * step that has not run or lacks the field: a branch not taken), with a
 * message starting with `what`.
 */
int pc_binding_value(const pc_binding *b, const struct json_object *env,
                     const char *what, const struct json_object **val,
                     pc_error *err);

/* pc_cond_eval - evaluate `c` in `env` into *result (0 or 1). A value that
 * is not available counts as empty (so {"empty": "$c.answer"} tests whether
 * a branch produced it). PC_E_NOMEM is the only failure. */
int pc_cond_eval(const pc_cond *c, const struct json_object *env,
                 int *result, pc_error *err);

/*
 * pc_program_set_state - replace a predictor's learnable state (what an
 * optimizer found).
 *
 * `instructions` (copied) replaces the predictor's instructions unless
 * NULL; an empty string restores the module signature's instructions (the
 * starting point before any state). `demos` (a JSON
 * array of objects, deep-copied) replaces its demos unless NULL. Returns
 * PC_OK, PC_E_INVALID_ARG for an unknown path or demos that are not an
 * array of objects, or PC_E_NOMEM; on failure the predictor is unchanged.
 */
int pc_program_set_state(pc_program *prog, const char *path,
                         const char *instructions,
                         const struct json_object *demos);

/*
 * The "compile" record: what produced the program's state (optimizer id,
 * version and settings, seed, scores), written by `promptc compile` and
 * kept verbatim through load and save. set deep-copies `record` (NULL
 * removes it); PC_E_NOMEM on failure. The getter's object is borrowed
 * (NULL when absent).
 */
int pc_program_set_compile_record(pc_program *prog,
                                  const struct json_object *record);
const struct json_object *pc_program_compile_record(const pc_program *prog);

#endif
