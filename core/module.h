/*
 * module.h - module types: what each "type" of a promptc.program/1 module
 * checks when the program loads and does when it runs.
 *
 * Every module type lives in its own file (module_predict.c, module_react.c,
 * module_retrieve.c, ...) and is one static pc_module_type table, listed in
 * module_types.c. program.c reads the common members of a module ("type",
 * "signature", "config"), then hands the module to its type's load(), which
 * checks the type's own members (the spec) and makes the module's
 * predictors with pc_module_add_predictor(). Running a program calls each
 * flow step's module through pc_module_forward(), which dispatches to the
 * type's forward(); wrapper types (best_of_n, refine, parallel, ...) call
 * pc_module_forward() on the module they wrap.
 *
 * Threads: load() runs once, single-threaded; forward() may run on many
 * threads at once for the same module (one pc_run_ctx each), so it treats
 * the module, its data and its predictors as read-only.
 */
#ifndef PC_MODULE_H
#define PC_MODULE_H

#include <stddef.h>
#include <json-c/json.h>

#include "errors.h"
#include "predict.h"
#include "program.h"
#include "signature.h"

/* The load in progress: the program being built and where messages go.
 * Owned by program.c; valid only during load(). */
typedef struct pc_module_loader pc_module_loader;

typedef struct pc_module_type {
  const char *name;  /* what "type" says: "predict", "react", ... */
  /* The members a module of this type may have besides "type",
   * "signature" and "config"; NULL-terminated, or NULL for none. Any other
   * member is an error (program.c checks it before load()). */
  const char *const *members;
  /* 1: "signature" is required and parsed into m->signature before load();
   * 0: the type has no "signature" member, and load() sets m->io itself
   * (retrieve's "query -> passages"). */
  int has_signature;
  /*
   * Check the type's members of `spec` (the module's whole JSON object,
   * borrowed) and build the module: set m->io (the fields a flow step
   * binds and may read; NULL means m->signature), make the predictors with
   * pc_module_add_predictor() in a fixed order, and keep any parsed
   * settings in m->data (freed by free_data). Modules named by the spec
   * ("module": "inner") are found with pc_module_loader_find() and must
   * come earlier in the file. Errors go through pc_module_fail(), which
   * names the file and "modules.<name>.<member>".
   */
  int (*load)(pc_module_loader *ld, pc_module *m,
              const struct json_object *spec);
  /*
   * Run the module once on `inputs` (an object holding every input field
   * of m->io; borrowed) in `ctx`. On success *outputs is a new object
   * (json_object_put) holding every output field of m->io. Predictor
   * calls go through pc_predict()/pc_predict_choices() so they are
   * traced, cached and counted; sub-modules through pc_module_forward().
   * On failure *outputs is NULL and `err` names the module.
   */
  int (*forward)(pc_run_ctx *ctx, const pc_module *m,
                 const struct json_object *inputs,
                 struct json_object **outputs, pc_error *err);
  /* Release m->data; NULL when the type keeps none. */
  void (*free_data)(void *data);
} pc_module_type;

/* The type called `name`, or NULL when there is none. The tables are
 * static. */
const pc_module_type *pc_module_type_find(const char *name);

/* The known type names, comma-separated, for "expected ..." messages
 * (static). */
const char *pc_module_type_names(void);

/*
 * pc_module_add_predictor - give module `m` a predictor with path
 * "<module>" (suffix NULL) or "<module>.<suffix>" ("agent.react",
 * "agent.extract.predict") and signature `sig` (taken over, also on
 * failure). Its config is the module's. On success *out (may be NULL) is
 * the predictor, borrowed from the program. PC_E_INVALID_ARG for a path
 * that another predictor has; PC_E_NOMEM. The message is set through the
 * loader.
 */
int pc_module_add_predictor(pc_module_loader *ld, pc_module *m,
                            const char *suffix, pc_signature *sig,
                            pc_predictor **out);

/* An earlier module of the program by name, NULL when there is none (or
 * it comes later in the file). Borrowed. */
pc_module *pc_module_loader_find(pc_module_loader *ld, const char *name);

/*
 * pc_module_fail - set the load's error to "<origin>: modules.<m>.<fmt...>"
 * and return `code`. `fmt` starts with the member ("max_iters: expected an
 * integer from 1 to 100").
 */
int pc_module_fail(pc_module_loader *ld, const pc_module *m, int code,
                   const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* The fields a flow step binds and reads: m->io, else m->signature. */
const pc_signature *pc_module_io(const pc_module *m);

/*
 * pc_module_forward - run module `m` once (see pc_module_type.forward).
 * Checks cancellation first (PC_E_CANCELLED). Every call counts against
 * PC_MODULE_DEPTH_MAX nested calls (a wrapper of a wrapper ...).
 */
int pc_module_forward(pc_run_ctx *ctx, const pc_module *m,
                      const struct json_object *inputs,
                      struct json_object **outputs, pc_error *err);

#define PC_MODULE_DEPTH_MAX 16

/*
 * pc_module_plugin_check - make sure every "plugin" module of `prog` has
 * its pc.program/1 plugin loaded in `rt`, creating the instances (with
 * their settings and uses) now rather than at the first run. Errors as a
 * run would report them: PC_E_UNSUPPORTED for a plugin that is not
 * loaded ("modules.x: program plugin 'y' is not loaded (promptc plugins
 * list)"), create()'s code and message for refused settings. Meant for
 * pc_runtime_check_program().
 */
int pc_module_plugin_check(pc_runtime *rt, const pc_program *prog,
                           pc_error *err);

#endif
