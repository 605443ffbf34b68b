/*
 * program_int.h - what program.c and program_flow.c share: the program
 * and loader structures and the loader's small helpers. Internal to core/.
 */
#ifndef PC_PROGRAM_INT_H
#define PC_PROGRAM_INT_H

#include <stddef.h>
#include <json-c/json.h>

#include "errors.h"
#include "module.h"
#include "program.h"

struct pc_program {
  char *origin;             /* owned: file name or "<memory>" */
  char *name;               /* owned: NULL when absent */
  char *description;        /* owned: NULL when absent */
  char **inputs;            /* owned: n_inputs owned names */
  size_t n_inputs;
  int inputs_given;         /* 1 when the file declared "inputs" */
  pc_module *modules;       /* owned: n_modules, in file order */
  size_t n_modules;
  pc_predictor **predictors; /* owned: n_predictors owned predictors, in
                                module order (each allocated alone, so
                                pointers handed out never move) */
  size_t n_predictors;
  pc_step *steps;           /* owned: n_steps, in execution order */
  size_t n_steps;
  int flow_given;           /* 1 when the file had "flow" */
  pc_binding *outputs;      /* owned: n_outputs */
  size_t n_outputs;
  int outputs_given;        /* 1 when the file had "outputs" */
  struct json_object *compile;  /* owned: the "compile" record, or NULL */
};

/* A name a reference may use: a step id or a foreach item. */
struct pc__scope {
  const char *name;      /* borrowed from the step */
  const pc_step *step;   /* borrowed: the step; NULL for an item */
  int is_var;            /* 1 for a foreach item */
  char *where;           /* owned (the "all" list only): where it is */
};

/* The state of one pc_program_from_json call (module.h's loader). */
struct pc_module_loader {
  const char *origin;  /* borrowed: starts every message */
  pc_program *prog;    /* borrowed: the program being built */
  pc_error *err;       /* borrowed: the caller's error */
  size_t n_loaded;     /* modules loaded so far (pc_module_loader_find) */
  struct pc__scope *all;  /* owned: every id of the flow (pass 1) */
  size_t n_all;
  struct pc__scope *vis;  /* owned: the ids in scope now (pass 2) */
  size_t n_vis;
  const char *cur_id;  /* borrowed: the call step being bound, or NULL */
};

/* ---- helpers (program.c) ------------------------------------------------ */

/* Record "<origin>: <message>" in the loader's error; returns `code`. */
int pc__ld_fail(pc_module_loader *ld, int code, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* pc__ld_fail with PC_E_NOMEM and "out of memory". */
int pc__ld_nomem(pc_module_loader *ld);

/* True when `v` is non-NULL and of JSON type `t`. */
int pc__is_type(const struct json_object *v, enum json_type t);

/* The text of string `v`, borrowed from `v`. */
const char *pc__str_of(const struct json_object *v);

/* True for an ASCII identifier: [A-Za-z_][A-Za-z0-9_]*. */
int pc__is_ident(const char *s);

/* Member iteration in file order: the first member of object `obj` (then
 * lh_entry_next), and an entry's key and value, borrowed. */
struct lh_entry *pc__first_member(const struct json_object *obj);
const char *pc__member_key(const struct lh_entry *e);
const struct json_object *pc__member_value(const struct lh_entry *e);

/* Deep copy of `src` into *dst (owned; NULL for a NULL source). PC_OK or
 * PC_E_NOMEM. */
int pc__copy_json(const struct json_object *src, struct json_object **dst);

/* Add `val` (taken, released on failure) to object `obj` under `key`;
 * pc__put_new also reads a NULL `val` as a failed allocation. PC_OK or
 * PC_E_NOMEM. */
int pc__put_member(struct json_object *obj, const char *key,
                   struct json_object *val);
int pc__put_new(struct json_object *obj, const char *key,
                struct json_object *val);

/* Append `val` (taken; NULL means a failed allocation) to array `arr`.
 * PC_OK or PC_E_NOMEM. */
int pc__append_new(struct json_object *arr, struct json_object *val);

/* Fail on a member of `obj` not in the NULL-ended `allowed`; `where`
 * prefixes its name in the message, `expected` lists the allowed ones. */
int pc__check_members(pc_module_loader *ld, const struct json_object *obj,
                      const char *where, const char *const *allowed,
                      const char *expected);

/* Record a use of "$input.<name>" at `path` (declared, or collected in
 * order of first use when the file has no "inputs"). */
int pc__use_input(pc_module_loader *ld, const char *path, const char *name);

/* The module called `name`, borrowed from `prog`, or NULL. */
pc_module *pc__find_module(const pc_program *prog, const char *name);

/* ---- the flow (program_flow.c) ------------------------------------------ */

/* Load "flow" (checking every step, id, binding and condition) into the
 * program's steps; the steps belong to the program, also on failure. */
int pc__flow_load(pc_module_loader *ld, const struct json_object *flow);

/* Load "outputs" into the program's outputs (owned by the program). */
int pc__flow_load_outputs(pc_module_loader *ld,
                          const struct json_object *outputs);

/* The flow of a program without "flow": one step calling its only module,
 * its outputs the module's (owned by the program). */
int pc__flow_make_single(pc_module_loader *ld);

/* Free what binding `b` owns and zero it (not `b` itself). */
void pc__binding_clear(pc_binding *b);

/* Free `n` steps (recursively) and the array `steps`; NULL is a no-op. */
void pc__steps_free(pc_step *steps, size_t n);

/* The object target -> binding of `n` bindings, as the file writes them:
 * a new object in *out (json_object_put). PC_OK or PC_E_NOMEM. */
int pc__bindings_to_json(const pc_program *prog, const pc_binding *bs,
                         size_t n, struct json_object **out);

/* Add the program's "flow" member to `root`. PC_OK or PC_E_NOMEM. */
int pc__flow_to_json(const pc_program *prog, struct json_object *root);

#endif
