/* program.c - load, check, query and save promptc.program/1 programs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "host.h"
#include "json_text.h"
#include "lm_settings.h"
#include "knn.h"
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

/* The state of one pc_program_from_json call (module.h's loader). */
/* A name a reference may use: a step id or a foreach item. */
struct scope {
  const char *name;      /* borrowed from the step */
  const pc_step *step;   /* borrowed: the step; NULL for an item */
  int is_var;            /* 1 for a foreach item */
  char *where;           /* owned (the "all" list only): where it is */
};

struct pc_module_loader {
  const char *origin;  /* borrowed: starts every message */
  pc_program *prog;    /* borrowed: the program being built */
  pc_error *err;       /* borrowed: the caller's error */
  size_t n_loaded;     /* modules loaded so far (pc_module_loader_find) */
  struct scope *all;   /* owned: every id of the flow (pass 1) */
  size_t n_all;
  struct scope *vis;   /* owned: the ids in scope now (pass 2) */
  size_t n_vis;
  const char *cur_id;  /* borrowed: the call step being bound, or NULL */
};

static const char *const top_members[] = {
  "schema", "name", "description", "inputs", "modules", "flow", "outputs",
  "state", "compile", NULL
};
static const char *const step_members[] = {"call", "id", "inputs", NULL};
static const char *const state_members[] = {"instructions", "demos", "knn",
                                            "model", NULL};

static int refresh_plugin_json(pc_predictor *p);

/* Format a JSON path into array `buf`; a path too long is cut short. */
#define PATHF(buf, ...) \
  do { \
    if (snprintf(buf, sizeof(buf), __VA_ARGS__) < 0) \
      buf[0] = '\0'; \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

static int ld_fail(pc_module_loader *ld, int code, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* Record "<origin>: <message>" and return `code`. */
static int ld_fail(pc_module_loader *ld, int code, const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(ld->err, code, "%s: %s", ld->origin, msg);
}

static int ld_nomem(pc_module_loader *ld)
{
  return ld_fail(ld, PC_E_NOMEM, "out of memory");
}

static int is_type(const struct json_object *v, enum json_type t)
{
  return v && json_object_is_type(v, t);
}

/* json-c's getter takes a non-const object but only reads it. */
static const char *str_of(const struct json_object *v)
{
  return json_object_get_string((struct json_object *)v);
}

/* True for an ASCII identifier: [A-Za-z_][A-Za-z0-9_]*. */
static int is_ident(const char *s)
{
  if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '_'))
    return 0;
  for (s++; *s; s++) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  }
  return 1;
}

/* The first member of an object, for iteration with lh_entry_next. */
static struct lh_entry *first_member(const struct json_object *obj)
{
  return lh_table_head(json_object_get_object(obj));
}

static const char *member_key(const struct lh_entry *e)
{
  return (const char *)lh_entry_k(e);
}

static const struct json_object *member_value(const struct lh_entry *e)
{
  return (const struct json_object *)lh_entry_v(e);
}

/* Deep copy; *dst is NULL for a NULL (JSON null) source. */
static int copy_json(const struct json_object *src, struct json_object **dst)
{
  *dst = NULL;
  if (!src)
    return PC_OK;
  /* json-c takes a non-const source but does not modify it. */
  if (json_object_deep_copy((struct json_object *)src, dst, NULL) != 0)
    return PC_E_NOMEM;
  return PC_OK;
}

/* Add `val` to `obj` under `key`; on failure `val` is released. A NULL
 * `val` that stands for an allocation failure must be caught before. */
static int put_member(struct json_object *obj, const char *key,
                      struct json_object *val)
{
  if (json_object_object_add(obj, key, val) != 0) {
    json_object_put(val);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* As put_member, but a NULL `val` means an allocation failed. */
static int put_new(struct json_object *obj, const char *key,
                   struct json_object *val)
{
  if (!val)
    return PC_E_NOMEM;
  return put_member(obj, key, val);
}

static int append_new(struct json_object *arr, struct json_object *val)
{
  if (!val)
    return PC_E_NOMEM;
  if (json_object_array_add(arr, val) != 0) {
    json_object_put(val);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Fail on any member of `obj` not in `allowed`. `where` prefixes the
 * member's name in the path ("" at the top, "flow[0]." below). */
static int check_members(pc_module_loader *ld, const struct json_object *obj,
                         const char *where, const char *const *allowed,
                         const char *expected)
{
  struct lh_entry *e;

  for (e = first_member(obj); e; e = lh_entry_next(e)) {
    const char *key = member_key(e);
    size_t i;

    for (i = 0; allowed[i]; i++) {
      if (!strcmp(key, allowed[i]))
        break;
    }
    if (!allowed[i])
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s%s: unknown member (expected %s)", where, key,
                     expected);
  }
  return PC_OK;
}

static void binding_clear(pc_binding *b)
{
  pc_free(b->target);
  pc_free(b->field);
  pc_free(b->source);
  json_object_put(b->value);
  memset(b, 0, sizeof(*b));
}

static pc_predictor *find_predictor(const pc_program *prog, const char *path)
{
  size_t i;

  for (i = 0; i < prog->n_predictors; i++) {
    if (!strcmp(prog->predictors[i]->path, path))
      return prog->predictors[i];
  }
  return NULL;
}

static pc_module *find_module(const pc_program *prog, const char *name)
{
  size_t i;

  for (i = 0; i < prog->n_modules; i++) {
    if (prog->modules[i].name && !strcmp(prog->modules[i].name, name))
      return &prog->modules[i];
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Loading: members, modules and their predictors.                          */

/* An optional string member into *out (owned, NULL when absent). */
static int load_text(pc_module_loader *ld, const struct json_object *root,
                     const char *key, char **out)
{
  struct json_object *v;

  if (!json_object_object_get_ex(root, key, &v))
    return PC_OK;
  if (!is_type(v, json_type_string))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a string", key);
  *out = pc_strdup(str_of(v));
  return *out ? PC_OK : ld_nomem(ld);
}

static int load_schema(pc_module_loader *ld, const struct json_object *root)
{
  struct json_object *v;

  if (!json_object_object_get_ex(root, "schema", &v))
    return ld_fail(ld, PC_E_INVALID_ARG, "schema: missing (expected \"%s\")",
                   PC_PROGRAM_SCHEMA);
  if (!is_type(v, json_type_string) ||
      strcmp(str_of(v), PC_PROGRAM_SCHEMA) != 0)
    return ld_fail(ld, PC_E_INVALID_ARG, "schema: expected \"%s\"",
                   PC_PROGRAM_SCHEMA);
  return PC_OK;
}

/* Append a copy of `name` to the program's inputs. */
static int add_input(pc_module_loader *ld, const char *name)
{
  pc_program *prog = ld->prog;
  char **grown;
  char *copy = pc_strdup(name);

  if (!copy)
    return ld_nomem(ld);
  grown = pc_realloc(prog->inputs, (prog->n_inputs + 1) * sizeof(*grown));
  if (!grown) {
    pc_free(copy);
    return ld_nomem(ld);
  }
  prog->inputs = grown;
  prog->inputs[prog->n_inputs++] = copy;
  return PC_OK;
}

static int has_input(const pc_program *prog, const char *name)
{
  size_t i;

  for (i = 0; i < prog->n_inputs; i++) {
    if (!strcmp(prog->inputs[i], name))
      return 1;
  }
  return 0;
}

/* A use of "$input.<name>" at `path`: it must be declared when "inputs"
 * was given; otherwise the inputs are collected in order of first use. */
static int use_input(pc_module_loader *ld, const char *path, const char *name)
{
  if (has_input(ld->prog, name))
    return PC_OK;
  if (ld->prog->inputs_given)
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: input '%s' is not declared in \"inputs\"", path,
                   name);
  return add_input(ld, name);
}

static int load_inputs(pc_module_loader *ld, const struct json_object *v)
{
  size_t i, n;
  int rc;

  if (!is_type(v, json_type_array))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "inputs: expected an array of input names");
  n = json_object_array_length(v);
  for (i = 0; i < n; i++) {
    const struct json_object *item = json_object_array_get_idx(v, i);
    const char *name;

    if (!is_type(item, json_type_string) ||
        !is_ident(name = str_of(item)))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "inputs[%zu]: expected an identifier", i);
    if (has_input(ld->prog, name))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "inputs[%zu]: duplicate input '%s'", i, name);
    rc = add_input(ld, name);
    if (rc)
      return rc;
  }
  ld->prog->inputs_given = 1;
  return PC_OK;
}

static int check_config(pc_module_loader *ld, const char *module,
                        const struct json_object *cfg)
{
  char where[256];

  snprintf(where, sizeof(where), "%s: modules.%s.config", ld->origin, module);
  return pc_lm_settings_check(cfg, PC_LM_SETTINGS_ADAPTER, where, ld->err);
}

/* ------------------------------------------------------------------------ */
/* The module loader (module.h).                                            */

int pc_module_fail(pc_module_loader *ld, const pc_module *m, int code,
                   const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(ld->err, code, "%s: modules.%s.%s", ld->origin,
                      m->name, msg);
}

const char *pc_module_loader_origin(const pc_module_loader *ld)
{
  return ld->origin;
}

pc_module *pc_module_loader_find(pc_module_loader *ld, const char *name)
{
  size_t i;

  for (i = 0; name && i < ld->n_loaded; i++) {
    if (!strcmp(ld->prog->modules[i].name, name))
      return &ld->prog->modules[i];
  }
  return NULL;
}

static void predictor_free(pc_predictor *p)
{
  if (!p)
    return;
  pc_free(p->path);
  pc_signature_free(p->signature);
  pc_free(p->signature_plugin_json);
  json_object_put(p->demos);
  json_object_put(p->knn);
  pc_knn_pool_free(p->knn_pool);
  pc_free(p->model);
  pc_free(p->base_instructions);
  pc_free(p);
}

/* Append `p` to an array of predictor pointers. */
static int push_predictor(pc_predictor ***arr, size_t *n, pc_predictor *p)
{
  pc_predictor **grown = pc_realloc(*arr, (*n + 1) * sizeof(*grown));

  if (!grown)
    return PC_E_NOMEM;
  *arr = grown;
  grown[(*n)++] = p;
  return PC_OK;
}

int pc_module_add_predictor(pc_module_loader *ld, pc_module *m,
                            const char *suffix, pc_signature *sig,
                            pc_predictor **out)
{
  pc_program *prog = ld->prog;
  pc_predictor *p = NULL;
  pc_buf path;
  int rc;

  if (out)
    *out = NULL;
  pc_buf_init(&path, PC_BUF_DEFAULT_MAX);
  if (pc_buf_puts(&path, m->name) ||
      (suffix && (pc_buf_putc(&path, '.') || pc_buf_puts(&path, suffix)))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (find_predictor(prog, path.data)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG,
                        "type: the predictor path '%s' is already taken",
                        path.data);
    goto fail;
  }
  p = pc_calloc(1, sizeof(*p));
  if (!p || !(p->demos = json_object_new_array()) ||
      !(p->base_instructions = pc_strdup(sig->instructions)) ||
      !(p->path = pc_buf_take(&path, NULL))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  p->base_default = sig->default_instructions;
  p->module = m;
  p->config = m->config;
  p->signature = sig;
  sig = NULL;
  if (push_predictor(&prog->predictors, &prog->n_predictors, p)) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (push_predictor(&m->predictors, &m->n_predictors, p)) {
    prog->n_predictors--;  /* the program does not keep it after all */
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (!m->predictor)
    m->predictor = p;
  if (out)
    *out = p;
  return PC_OK;

fail:
  pc_signature_free(sig);
  predictor_free(p);
  pc_buf_free(&path);
  return rc;
}

const pc_signature *pc_module_io(const pc_module *m)
{
  return m->io ? m->io : m->signature;
}

int pc_module_forward(pc_run_ctx *ctx, const pc_module *m,
                      const struct json_object *inputs,
                      struct json_object **outputs, pc_error *err)
{
  int rc;

  *outputs = NULL;
  if (ctx->call && ctx->call->cancelled)
    return pc_error_set(err, PC_E_CANCELLED, "%s: cancelled", m->name);
  if (ctx->depth >= PC_MODULE_DEPTH_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: modules nest more than %d calls deep", m->name,
                        PC_MODULE_DEPTH_MAX);
  if (!m->vt || !m->vt->forward)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "%s: module type '%s' cannot run", m->name,
                        m->vt ? m->vt->name : "?");
  ctx->depth++;
  rc = m->vt->forward(ctx, m, inputs, outputs, err);
  ctx->depth--;
  if (rc) {
    json_object_put(*outputs);
    *outputs = NULL;
  } else if (!*outputs) {
    rc = pc_error_set(err, PC_E_INTERNAL, "%s: produced no outputs",
                      m->name);
  }
  return rc;
}

/* Fail on a member that neither every module nor its type has; the
 * message lists the allowed ones: "type, signature, config or k". */
static int check_module_members(pc_module_loader *ld,
                                const char *name,
                                const struct json_object *v,
                                const pc_module_type *vt)
{
  const char *allowed[64];
  struct lh_entry *e;
  pc_buf expected;
  size_t i, n = 0;
  int rc = PC_OK;

  allowed[n++] = "type";
  if (vt->has_signature)
    allowed[n++] = "signature";
  allowed[n++] = "config";
  for (i = 0; vt->members && vt->members[i] && n < 63; i++)
    allowed[n++] = vt->members[i];
  allowed[n] = NULL;
  pc_buf_init(&expected, PC_BUF_DEFAULT_MAX);
  for (e = first_member(v); e && !rc; e = lh_entry_next(e)) {
    const char *key = member_key(e);

    for (i = 0; i < n && strcmp(key, allowed[i]); i++)
      ;
    if (i < n)
      continue;
    for (i = 0; i < n; i++)
      pc_buf_printf(&expected, "%s%s", i == 0 ? "" : i + 1 < n ? ", "
                    : " or ", allowed[i]);
    rc = ld_fail(ld, PC_E_INVALID_ARG,
                 "modules.%s.%s: unknown member (expected %s)", name, key,
                 expected.data ? expected.data : "");
  }
  pc_buf_free(&expected);
  return rc;
}

static int load_module(pc_module_loader *ld, const char *name,
                       const struct json_object *v, pc_module *m)
{
  pc_error sub = PC_ERROR_INIT;
  struct json_object *t, *sig, *cfg;
  const pc_module_type *vt;
  int rc;

  if (!is_ident(name))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "modules.%s: a module name must be an identifier", name);
  if (!strcmp(name, "input"))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "modules.input: the name 'input' is reserved for "
                   "\"$input.<name>\" bindings");
  if (!is_type(v, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules.%s: expected an object",
                   name);
  m->name = pc_strdup(name);
  if (!m->name)
    return ld_nomem(ld);

  if (!json_object_object_get_ex(v, "type", &t))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.type: missing", name);
  vt = is_type(t, json_type_string) ? pc_module_type_find(str_of(t)) : NULL;
  if (!vt)
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "modules.%s.type: unknown module type '%s' (expected "
                   "%s)", name,
                   is_type(t, json_type_string) ? str_of(t)
                   : json_object_to_json_string((struct json_object *)t),
                   pc_module_type_names());
  m->vt = vt;
  if (!strcmp(vt->name, "predict"))
    m->type = PC_MODULE_PREDICT;
  else if (!strcmp(vt->name, "chain_of_thought"))
    m->type = PC_MODULE_CHAIN_OF_THOUGHT;
  else
    m->type = PC_MODULE_OTHER;
  rc = check_module_members(ld, name, v, vt);
  if (rc)
    return rc;

  if (vt->has_signature) {
    if (!json_object_object_get_ex(v, "signature", &sig))
      return ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.signature: missing",
                     name);
    rc = pc_signature_from_json(sig, &m->signature, &sub);
    if (rc)
      return pc_error_wrap(ld->err, &sub, "%s: modules.%s.signature",
                           ld->origin, name);
    if (copy_json(sig, &m->signature_json))
      return ld_nomem(ld);
  }

  if (json_object_object_get_ex(v, "config", &cfg)) {
    rc = check_config(ld, name, cfg);
    if (rc)
      return rc;
    if (copy_json(cfg, &m->config))
      return ld_nomem(ld);
  }
  if (copy_json(v, &m->spec))
    return ld_nomem(ld);
  rc = vt->load(ld, m, v);
  if (!rc && !pc_module_io(m))
    rc = ld_fail(ld, PC_E_INTERNAL, "modules.%s: type '%s' set no fields",
                 name, vt->name);
  return rc;
}

static int load_modules(pc_module_loader *ld,
                        const struct json_object *root)
{
  pc_program *prog = ld->prog;
  struct json_object *mods;
  struct lh_entry *e;
  size_t i, n;
  int rc;

  if (!json_object_object_get_ex(root, "modules", &mods))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules: missing");
  if (!is_type(mods, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules: expected an object");
  n = (size_t)json_object_object_length(mods);
  if (n == 0)
    return ld_fail(ld, PC_E_INVALID_ARG, "modules: must not be empty");
  prog->modules = pc_calloc(n, sizeof(*prog->modules));
  if (!prog->modules)
    return ld_nomem(ld);
  prog->n_modules = n;
  /* json-c keeps object members in insertion order, which is file order. */
  for (i = 0, e = first_member(mods); e; e = lh_entry_next(e), i++) {
    rc = load_module(ld, member_key(e), member_value(e), &prog->modules[i]);
    if (rc)
      return rc;
    ld->n_loaded = i + 1;
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading: scopes of ids.                                                  */

/* Record `name` (borrowed from the program) in a scope list. */
static int scope_push(pc_module_loader *ld, struct scope **list,
                      size_t *n, const char *name, const pc_step *st,
                      int is_var)
{
  struct scope *grown = pc_realloc(*list, (*n + 1) * sizeof(*grown));

  if (!grown)
    return ld_nomem(ld);
  *list = grown;
  grown[*n].name = name;
  grown[*n].step = st;
  grown[*n].is_var = is_var;
  (*n)++;
  return PC_OK;
}

/* The latest entry called `name` in a scope list, or NULL. */
static const struct scope *scope_find(const struct scope *list, size_t n,
                                      const char *name)
{
  while (n-- > 0) {
    if (!strcmp(list[n].name, name))
      return &list[n];
  }
  return NULL;
}

/* Does a step of `steps` (searched recursively) output `field`? */
static int steps_output(const pc_step *steps, size_t n, const char *field)
{
  size_t i;

  for (i = 0; i < n; i++) {
    const pc_step *st = &steps[i];

    if (st->kind == PC_STEP_CALL &&
        pc_signature_find(pc_module_io(st->module), field, 1))
      return 1;
    if (steps_output(st->body, st->n_body, field) ||
        steps_output(st->alt, st->n_alt, field))
      return 1;
  }
  return 0;
}

/* Does the value of step `st` have member `field`? */
static int step_has_field(const pc_step *st, const char *field)
{
  size_t i;

  switch (st->kind) {
  case PC_STEP_CALL:
    return pc_signature_find(pc_module_io(st->module), field, 1) != NULL;
  case PC_STEP_REPEAT:
    if (!strcmp(field, "iteration") || !strcmp(field, "iterations") ||
        !strcmp(field, "exhausted"))
      return 1;
    break;
  case PC_STEP_FOREACH:
    if (!strcmp(field, "index") || !strcmp(field, "count"))
      return 1;
    break;
  default:
    return steps_output(st->body, st->n_body, field) ||
           steps_output(st->alt, st->n_alt, field);
  }
  for (i = 0; i < st->n_acc; i++) {
    if (!strcmp(st->acc[i].target, field))
      return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading: bindings, flow and outputs.                                     */

/* The canonical text of a type, for comparison and messages. */
static int type_text(const pc_type *t, pc_buf *b)
{
  pc_buf_reset(b);
  if (pc_type_canonical(t, b) || !b->data)
    return PC_E_NOMEM;
  return PC_OK;
}

/*
 * Can an output of type `t` fill an input of type `u`? When the
 * canonical texts agree, when `u` is str (any value renders as text), when
 * `u` is Optional[T] (or T | None) for the same T, or when either side is
 * Any (untyped).
 */
static int check_types(pc_module_loader *ld, const char *path,
                       const pc_type *t, const pc_type *u)
{
  pc_buf a, b;
  int rc = PC_OK;

  pc_buf_init(&a, PC_BUF_DEFAULT_MAX);
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  if (u->kind == PC_TYPE_STR || u->kind == PC_TYPE_ANY ||
      t->kind == PC_TYPE_ANY)
    goto out;
  if (type_text(t, &a) || type_text(u, &b)) {
    rc = ld_nomem(ld);
    goto out;
  }
  if (!strcmp(a.data, b.data))
    goto out;
  if (u->kind == PC_TYPE_OPTIONAL) {
    /* Compare the inner types, so T -> Optional[T] and T | None ->
     * Optional[T] both pass. */
    pc_buf c, d;
    int same;

    pc_buf_init(&c, PC_BUF_DEFAULT_MAX);
    pc_buf_init(&d, PC_BUF_DEFAULT_MAX);
    if (type_text(t->kind == PC_TYPE_OPTIONAL ? t->item : t, &c) ||
        type_text(u->item, &d)) {
      pc_buf_free(&c);
      pc_buf_free(&d);
      rc = ld_nomem(ld);
      goto out;
    }
    same = !strcmp(c.data, d.data);
    pc_buf_free(&c);
    pc_buf_free(&d);
    if (same)
      goto out;
  }
  rc = ld_fail(ld, PC_E_INVALID_ARG, "%s: type mismatch: %s -> %s", path,
               a.data, b.data);

out:
  pc_buf_free(&a);
  pc_buf_free(&b);
  return rc;
}

/*
 * A "$..." reference at `path`: "$input.<name>", "$<id>.<field>" for an id
 * in scope, or "$<item>" for a foreach item.
 */
static int parse_reference(pc_module_loader *ld, const char *path,
                           const char *s, pc_binding *b)
{
  const char *ref = s + 1;
  const char *dot = strchr(ref, '.');
  const struct scope *sc;
  char *head = NULL;
  int rc = PC_OK;

  if (dot == ref || (dot && !is_ident(dot + 1)) || (!dot && !is_ident(ref)))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: malformed reference '%s' (expected $input.<name> "
                   "or $<step>.<field>; write $$ for a literal $)", path, s);
  head = dot ? pc_strndup(ref, (size_t)(dot - ref)) : pc_strdup(ref);
  if (!head || (dot && !(b->field = pc_strdup(dot + 1)))) {
    rc = ld_nomem(ld);
    goto out;
  }
  if (!strcmp(head, "input") && dot) {
    b->kind = PC_BIND_INPUT;
    rc = use_input(ld, path, b->field);
    goto out;
  }
  sc = scope_find(ld->vis, ld->n_vis, head);
  if (!sc) {
    const struct scope *any = scope_find(ld->all, ld->n_all, head);

    if (!dot && !(any && any->is_var))
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: malformed reference '%s' (expected $input.<name> or "
                   "$<step>.<field>; write $$ for a literal $)", path, s);
    else if (!any)
      rc = ld_fail(ld, PC_E_INVALID_ARG, "%s: unknown step '%s'", path,
                   head);
    else if (any->is_var)
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: '%s' is a foreach item, defined only inside its "
                   "loop's steps", path, head);
    else if (ld->cur_id && !strcmp(ld->cur_id, head))
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: cycle: step '%s' uses its own output", path, head);
    else if (ld->cur_id)
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: cycle: step '%s' uses '%s', which runs later", path,
                   ld->cur_id, head);
    else
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: '%s' runs later, or in a branch that excludes this "
                   "one", path, head);
    goto out;
  }
  if (!dot && !sc->is_var) {
    rc = ld_fail(ld, PC_E_INVALID_ARG,
                 "%s: malformed reference '%s' (expected $input.<name> or "
                 "$<step>.<field>; write $$ for a literal $)", path, s);
    goto out;
  }
  if (sc->step && !step_has_field(sc->step, b->field)) {
    if (sc->step->kind == PC_STEP_CALL)
      rc = ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: step '%s' (module '%s') has no output '%s'", path,
                   head, sc->step->module->name, b->field);
    else
      rc = ld_fail(ld, PC_E_INVALID_ARG, "%s: step '%s' has no '%s'", path,
                   head, b->field);
    goto out;
  }
  b->kind = PC_BIND_STEP;
  b->from = sc->step;
  b->source = head;
  head = NULL;
  b->step = (size_t)-1;
  for (size_t i = 0; b->from && i < ld->prog->n_steps; i++) {
    if (&ld->prog->steps[i] == b->from)
      b->step = i;
  }

out:
  pc_free(head);
  return rc;
}

/* One bound value `v` for `target` at `path`. */
static int parse_binding(pc_module_loader *ld, const char *path,
                         const char *target, const struct json_object *v,
                         pc_binding *b)
{
  if (target && !(b->target = pc_strdup(target)))
    return ld_nomem(ld);
  if (is_type(v, json_type_string)) {
    const char *s = str_of(v);
    int len = json_object_get_string_len(v);

    if (s[0] == '$' && s[1] == '$') {
      b->kind = PC_BIND_CONST;
      b->value = json_object_new_string_len(s + 1, len - 1);
      return b->value ? PC_OK : ld_nomem(ld);
    }
    if (s[0] == '$')
      return parse_reference(ld, path, s, b);
  }
  b->kind = PC_BIND_CONST;
  if (copy_json(v, &b->value))
    return ld_nomem(ld);
  return PC_OK;
}

static const pc_binding *find_binding(const pc_step *st, const char *target)
{
  size_t i;

  for (i = 0; i < st->n_bindings; i++) {
    if (st->bindings[i].target && !strcmp(st->bindings[i].target, target))
      return &st->bindings[i];
  }
  return NULL;
}

/* The "inputs" of call step `st` at `where`: every module input bound,
 * nothing else. */
static int load_step_bindings(pc_module_loader *ld, const char *where,
                              pc_step *st, const struct json_object *inputs)
{
  const pc_signature *sig = pc_module_io(st->module);
  char path[PC_ERROR_MESSAGE_MAX];
  struct lh_entry *e;
  size_t k, n = 0;
  int rc;

  if (inputs && !is_type(inputs, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s.inputs: expected an object",
                   where);
  if (inputs)
    n = (size_t)json_object_object_length(inputs);
  st->bindings = pc_calloc(n ? n : 1, sizeof(*st->bindings));
  if (!st->bindings)
    return ld_nomem(ld);
  st->n_bindings = n;
  ld->cur_id = st->id;
  for (k = 0, e = inputs ? first_member(inputs) : NULL; e;
       e = lh_entry_next(e), k++) {
    const char *key = member_key(e);
    const pc_field *dst = pc_signature_find(sig, key, 0);
    pc_binding *b = &st->bindings[k];

    PATHF(path, "%s.inputs.%s", where, key);
    if (!dst)
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: '%s' is not an input of module '%s'", path, key,
                     st->module->name);
    rc = parse_binding(ld, path, key, member_value(e), b);
    if (rc)
      return rc;
    if (b->kind == PC_BIND_STEP && b->from &&
        b->from->kind == PC_STEP_CALL) {
      const pc_field *src = pc_signature_find(pc_module_io(b->from->module),
                                              b->field, 1);

      rc = check_types(ld, path, src->type, dst->type);
      if (rc)
        return rc;
    }
  }
  ld->cur_id = NULL;
  for (k = 0; k < sig->n_inputs; k++) {
    if (!find_binding(st, sig->inputs[k].name))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s.inputs: input '%s' of module '%s' is not bound",
                     where, sig->inputs[k].name, st->module->name);
  }
  return PC_OK;
}

/* An identifier member `key` of step `v` at `where` into *out (owned);
 * absent is an error when `required`. */
static int load_ident(pc_module_loader *ld, const char *where,
                      const struct json_object *v, const char *key,
                      int required, char **out)
{
  struct json_object *x;

  if (!json_object_object_get_ex(v, key, &x)) {
    if (required)
      return ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: missing", where, key);
    return PC_OK;
  }
  if (!is_type(x, json_type_string) || !is_ident(str_of(x)))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: expected an identifier",
                   where, key);
  if (!strcmp(str_of(x), "input"))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: the name 'input' is "
                   "reserved", where, key);
  *out = pc_strdup(str_of(x));
  return *out ? PC_OK : ld_nomem(ld);
}

/* A whole number member `key` in [lo, hi], `def` when absent. */
static int load_count(pc_module_loader *ld, const char *where,
                      const struct json_object *v, const char *key,
                      size_t lo, size_t hi, size_t def, size_t *out)
{
  struct json_object *x;
  int64_t n;

  *out = def;
  if (!json_object_object_get_ex(v, key, &x))
    return def ? PC_OK : ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: missing",
                                 where, key);
  n = is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
  if (n < (int64_t)lo || n > (int64_t)hi)
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s.%s: expected an integer from %zu to %zu", where, key,
                   lo, hi);
  *out = (size_t)n;
  return PC_OK;
}

/* The names of "accumulate"/"collect" (`key`); bindings come in pass 2. */
static int load_acc_names(pc_module_loader *ld, const char *where,
                          pc_step *st, const struct json_object *v,
                          const char *key)
{
  static const char *const reserved[] = {"iteration", "iterations",
                                         "exhausted", "index", "count",
                                         NULL};
  struct json_object *obj;
  struct lh_entry *e;
  size_t k, i;

  if (!json_object_object_get_ex(v, key, &obj))
    return PC_OK;
  if (!is_type(obj, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s.%s: expected an object of list name -> value",
                   where, key);
  st->n_acc = (size_t)json_object_object_length(obj);
  st->acc = pc_calloc(st->n_acc ? st->n_acc : 1, sizeof(*st->acc));
  if (!st->acc) {
    st->n_acc = 0;
    return ld_nomem(ld);
  }
  for (k = 0, e = first_member(obj); e; e = lh_entry_next(e), k++) {
    const char *name = member_key(e);

    for (i = 0; reserved[i] && strcmp(reserved[i], name); i++)
      ;
    if (!is_ident(name) || reserved[i])
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s.%s.%s: expected an identifier other than "
                     "iteration, iterations, exhausted, index or count",
                     where, key, name);
    if (!(st->acc[k].target = pc_strdup(name)))
      return ld_nomem(ld);
  }
  return PC_OK;
}

static int load_steps_head(pc_module_loader *ld, const char *where,
                           const struct json_object *arr, pc_step **out,
                           size_t *n_out);

static const char *const repeat_members[] = {
  "repeat", "id", "steps", "accumulate", "unique", "until", NULL
};
static const char *const foreach_members[] = {
  "foreach", "as", "id", "max_items", "steps", "collect", NULL
};
static const char *const if_members[] = {"if", "id", "then", "else", NULL};

/* Register a step id (or foreach item name) in the flow's list. */
static int claim_id(pc_module_loader *ld, const char *where,
                    const char *key, const char *name, const pc_step *st,
                    int is_var)
{
  const struct scope *dup = scope_find(ld->all, ld->n_all, name);

  if (dup && !(is_var && dup->is_var)) {
    if (!is_var && !dup->is_var && dup->step && dup->step->kind ==
        PC_STEP_CALL && st->kind == PC_STEP_CALL)
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s.%s: duplicate step id '%s' (%s has it too; give "
                     "each call of a module its own \"id\")", where, key,
                     name, dup->where);
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s.%s: duplicate name '%s' (%s has it too)", where, key,
                   name, dup->where);
  }
  if (scope_push(ld, &ld->all, &ld->n_all, name, st, is_var))
    return PC_E_NOMEM;
  ld->all[ld->n_all - 1].where = pc_strdup(where);
  return ld->all[ld->n_all - 1].where ? PC_OK : ld_nomem(ld);
}

/* Pass 1 over one step at `where`: its kind, module, ids and nested
 * steps. */
static int load_step_head(pc_module_loader *ld, const char *where,
                          pc_step *st, const struct json_object *v)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *x;
  int rc;

  if (!is_type(v, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected an object", where);
  if (json_object_object_get_ex(v, "call", &x)) {
    char prefix[PC_ERROR_MESSAGE_MAX];

    st->kind = PC_STEP_CALL;
    PATHF(prefix, "%s.", where);
    rc = check_members(ld, v, prefix, step_members, "call, id or inputs");
    if (rc)
      return rc;
    if (!is_type(x, json_type_string))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s.call: expected a module name", where);
    st->module = find_module(ld->prog, str_of(x));
    if (!st->module)
      return ld_fail(ld, PC_E_INVALID_ARG, "%s.call: unknown module '%s'",
                     where, str_of(x));
    rc = load_ident(ld, where, v, "id", 0, &st->id);
    if (rc)
      return rc;
    st->id_given = st->id != NULL;
    if (!st->id && !(st->id = pc_strdup(st->module->name)))
      return ld_nomem(ld);
    return claim_id(ld, where, "id", st->id, st, 0);
  }
  if (copy_json(v, &st->json))
    return ld_nomem(ld);
  st->id_given = json_object_object_get_ex(v, "id", NULL);
  if (json_object_object_get_ex(v, "repeat", &x)) {
    st->kind = PC_STEP_REPEAT;
    PATHF(sub, "%s.", where);
    rc = check_members(ld, v, sub, repeat_members,
                       "repeat, id, steps, accumulate, unique or until");
    if (!rc)
      rc = load_count(ld, where, v, "repeat", 1, PC_REPEAT_MAX, 0,
                      &st->bound);
    if (!rc && json_object_object_get_ex(v, "unique", &x)) {
      if (!is_type(x, json_type_boolean))
        rc = ld_fail(ld, PC_E_INVALID_ARG, "%s.unique: expected true or "
                     "false", where);
      st->unique = json_object_get_boolean(x);
    }
    if (!rc)
      rc = load_acc_names(ld, where, st, v, "accumulate");
  } else if (json_object_object_get_ex(v, "foreach", &x)) {
    st->kind = PC_STEP_FOREACH;
    PATHF(sub, "%s.", where);
    rc = check_members(ld, v, sub, foreach_members,
                       "foreach, as, id, max_items, steps or collect");
    if (!rc)
      rc = load_count(ld, where, v, "max_items", 1, PC_FOREACH_MAX,
                      PC_FOREACH_DEFAULT, &st->bound);
    if (!rc)
      rc = load_ident(ld, where, v, "as", 1, &st->as);
    if (!rc)
      rc = load_acc_names(ld, where, st, v, "collect");
  } else if (json_object_object_get_ex(v, "if", &x)) {
    st->kind = PC_STEP_IF;
    PATHF(sub, "%s.", where);
    rc = check_members(ld, v, sub, if_members, "if, id, then or else");
  } else {
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a step with \"call\", "
                   "\"repeat\", \"foreach\" or \"if\"", where);
  }
  if (rc)
    return rc;
  rc = load_ident(ld, where, v, "id", st->kind != PC_STEP_IF, &st->id);
  if (!rc && st->id)
    rc = claim_id(ld, where, "id", st->id, st, 0);
  if (!rc && st->as)
    rc = claim_id(ld, where, "as", st->as, st, 1);
  if (rc)
    return rc;
  if (st->kind == PC_STEP_IF) {
    if (!json_object_object_get_ex(v, "then", &x))
      return ld_fail(ld, PC_E_INVALID_ARG, "%s.then: missing", where);
    PATHF(sub, "%s.then", where);
    rc = load_steps_head(ld, sub, x, &st->body, &st->n_body);
    if (!rc && json_object_object_get_ex(v, "else", &x)) {
      PATHF(sub, "%s.else", where);
      rc = load_steps_head(ld, sub, x, &st->alt, &st->n_alt);
    }
    return rc;
  }
  if (!json_object_object_get_ex(v, "steps", &x))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s.steps: missing", where);
  PATHF(sub, "%s.steps", where);
  return load_steps_head(ld, sub, x, &st->body, &st->n_body);
}

/* Pass 1 over an array of steps at `where` ("flow", "flow[2].steps"). */
static int load_steps_head(pc_module_loader *ld, const char *where,
                           const struct json_object *arr, pc_step **out,
                           size_t *n_out)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  size_t i, n;
  int rc;

  if (!is_type(arr, json_type_array))
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected an array of steps",
                   where);
  n = json_object_array_length(arr);
  if (n == 0)
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: must not be empty", where);
  *out = pc_calloc(n, sizeof(**out));
  if (!*out)
    return ld_nomem(ld);
  *n_out = n;
  for (i = 0; i < n; i++) {
    PATHF(sub, "%s[%zu]", where, i);
    rc = load_step_head(ld, sub, &(*out)[i],
                        json_object_array_get_idx(arr, i));
    if (rc)
      return rc;
  }
  return PC_OK;
}

static int load_steps_body(pc_module_loader *ld, const char *where,
                           pc_step *steps, size_t n,
                           const struct json_object *arr);

/* A condition at `where`. */
static int load_cond(pc_module_loader *ld, const char *where,
                     const struct json_object *v, pc_cond *c)
{
  static const char *const ops[] = {"empty", "equals", "not", "all", "any",
                                    NULL};
  char sub[PC_ERROR_MESSAGE_MAX];
  const struct json_object *arg;
  const char *key;
  size_t i, n;
  int rc;

  if (!is_type(v, json_type_object) || json_object_object_length(v) != 1)
    return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a condition: an "
                   "object with one of empty, equals, not, all or any",
                   where);
  key = member_key(first_member(v));
  arg = member_value(first_member(v));
  for (i = 0; ops[i] && strcmp(ops[i], key); i++)
    ;
  if (!ops[i])
    return ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: unknown condition "
                   "(expected empty, equals, not, all or any)", where, key);
  c->op = (int)i + 1;
  PATHF(sub, "%s.%s", where, key);
  switch (c->op) {
  case PC_COND_EMPTY:
    c->args = pc_calloc(1, sizeof(*c->args));
    if (!c->args)
      return ld_nomem(ld);
    c->n_args = 1;
    return parse_binding(ld, sub, NULL, arg, &c->args[0]);
  case PC_COND_EQUALS:
    if (!is_type(arg, json_type_array) ||
        json_object_array_length(arg) != 2)
      return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected [a, b]", sub);
    c->args = pc_calloc(2, sizeof(*c->args));
    if (!c->args)
      return ld_nomem(ld);
    c->n_args = 2;
    for (i = 0; i < 2; i++) {
      char item[PC_ERROR_MESSAGE_MAX];

      PATHF(item, "%s[%zu]", sub, i);
      rc = parse_binding(ld, item, NULL, json_object_array_get_idx(arg, i),
                         &c->args[i]);
      if (rc)
        return rc;
    }
    return PC_OK;
  case PC_COND_NOT:
    c->subs = pc_calloc(1, sizeof(*c->subs));
    if (!c->subs)
      return ld_nomem(ld);
    c->n_subs = 1;
    return load_cond(ld, sub, arg, &c->subs[0]);
  default:
    if (!is_type(arg, json_type_array) || !json_object_array_length(arg))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: expected a non-empty array of conditions", sub);
    n = json_object_array_length(arg);
    c->subs = pc_calloc(n, sizeof(*c->subs));
    if (!c->subs)
      return ld_nomem(ld);
    c->n_subs = n;
    for (i = 0; i < n; i++) {
      char item[PC_ERROR_MESSAGE_MAX];

      PATHF(item, "%s[%zu]", sub, i);
      rc = load_cond(ld, item, json_object_array_get_idx(arg, i),
                     &c->subs[i]);
      if (rc)
        return rc;
    }
    return PC_OK;
  }
}

/* The optional condition member `key` of `v` into *out. */
static int load_cond_member(pc_module_loader *ld, const char *where,
                            const struct json_object *v, const char *key,
                            pc_cond **out)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *x;

  if (!json_object_object_get_ex(v, key, &x))
    return PC_OK;
  *out = pc_calloc(1, sizeof(**out));
  if (!*out)
    return ld_nomem(ld);
  PATHF(sub, "%s.%s", where, key);
  return load_cond(ld, sub, x, *out);
}

/* The bindings of "accumulate"/"collect" (`key`), names from pass 1. */
static int load_acc_values(pc_module_loader *ld, const char *where,
                           pc_step *st, const struct json_object *v,
                           const char *key)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *obj;
  size_t k;
  int rc;

  if (!json_object_object_get_ex(v, key, &obj))
    return PC_OK;
  for (k = 0; k < st->n_acc; k++) {
    struct json_object *x = NULL;
    char *target = st->acc[k].target;

    json_object_object_get_ex(obj, target, &x);
    PATHF(sub, "%s.%s.%s", where, key, target);
    st->acc[k].target = NULL;
    rc = parse_binding(ld, sub, NULL, x, &st->acc[k]);
    st->acc[k].target = target;
    if (rc)
      return rc;
  }
  return PC_OK;
}

/* Pass 2 over one step: bindings and conditions, in execution order, so
 * that an id is in scope exactly where its value exists. */
static int load_step_body(pc_module_loader *ld, const char *where,
                          pc_step *st, const struct json_object *v)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *x = NULL;
  struct scope *saved = NULL;
  size_t mark, n_then;
  int rc;

  switch (st->kind) {
  case PC_STEP_CALL:
    json_object_object_get_ex(v, "inputs", &x);
    rc = load_step_bindings(ld, where, st, x);
    if (!rc)
      rc = scope_push(ld, &ld->vis, &ld->n_vis, st->id, st, 0);
    return rc;
  case PC_STEP_REPEAT:
    rc = scope_push(ld, &ld->vis, &ld->n_vis, st->id, st, 0);
    if (!rc) {
      json_object_object_get_ex(v, "steps", &x);
      PATHF(sub, "%s.steps", where);
      rc = load_steps_body(ld, sub, st->body, st->n_body, x);
    }
    if (!rc)
      rc = load_acc_values(ld, where, st, v, "accumulate");
    if (!rc)
      rc = load_cond_member(ld, where, v, "until", &st->cond);
    return rc;
  case PC_STEP_FOREACH:
    st->over = pc_calloc(1, sizeof(*st->over));
    if (!st->over)
      return ld_nomem(ld);
    json_object_object_get_ex(v, "foreach", &x);
    PATHF(sub, "%s.foreach", where);
    if (!is_type(x, json_type_string) || str_of(x)[0] != '$' ||
        str_of(x)[1] == '$')
      return ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a reference to a "
                     "list (\"$input.items\")", sub);
    rc = parse_binding(ld, sub, NULL, x, st->over);
    if (rc)
      return rc;
    mark = ld->n_vis;
    rc = scope_push(ld, &ld->vis, &ld->n_vis, st->id, st, 0);
    if (!rc)
      rc = scope_push(ld, &ld->vis, &ld->n_vis, st->as, NULL, 1);
    if (!rc) {
      json_object_object_get_ex(v, "steps", &x);
      PATHF(sub, "%s.steps", where);
      rc = load_steps_body(ld, sub, st->body, st->n_body, x);
    }
    if (!rc)
      rc = load_acc_values(ld, where, st, v, "collect");
    /* The item goes out of scope: hide its entry. */
    if (!rc)
      ld->vis[mark + 1].name = "";
    return rc;
  default:
    rc = load_cond_member(ld, where, v, "if", &st->cond);
    if (rc)
      return rc;
    mark = ld->n_vis;
    json_object_object_get_ex(v, "then", &x);
    PATHF(sub, "%s.then", where);
    rc = load_steps_body(ld, sub, st->body, st->n_body, x);
    if (rc)
      return rc;
    /* The else branch does not see the then branch's ids; after the "if"
     * both branches' ids are in scope (absent at run for the one not
     * taken). */
    n_then = ld->n_vis - mark;
    if (n_then) {
      saved = pc_memdup(ld->vis + mark, n_then * sizeof(*saved));
      if (!saved)
        return ld_nomem(ld);
    }
    ld->n_vis = mark;
    if (st->n_alt) {
      json_object_object_get_ex(v, "else", &x);
      PATHF(sub, "%s.else", where);
      rc = load_steps_body(ld, sub, st->alt, st->n_alt, x);
    }
    for (size_t i = 0; !rc && i < n_then; i++)
      rc = scope_push(ld, &ld->vis, &ld->n_vis, saved[i].name, saved[i].step,
                      saved[i].is_var);
    pc_free(saved);
    if (!rc && st->id)
      rc = scope_push(ld, &ld->vis, &ld->n_vis, st->id, st, 0);
    return rc;
  }
}

static int load_steps_body(pc_module_loader *ld, const char *where,
                           pc_step *steps, size_t n,
                           const struct json_object *arr)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  size_t i;
  int rc;

  for (i = 0; i < n; i++) {
    PATHF(sub, "%s[%zu]", where, i);
    rc = load_step_body(ld, sub, &steps[i],
                        json_object_array_get_idx(arr, i));
    if (rc)
      return rc;
  }
  return PC_OK;
}

static int load_flow(pc_module_loader *ld,
                     const struct json_object *flow)
{
  pc_program *prog = ld->prog;
  int rc;

  prog->flow_given = 1;
  /* Ids first, so that a reference to a later step reads as a cycle. */
  rc = load_steps_head(ld, "flow", flow, &prog->steps, &prog->n_steps);
  if (!rc)
    rc = load_steps_body(ld, "flow", prog->steps, prog->n_steps, flow);
  return rc;
}

static int load_outputs(pc_module_loader *ld,
                        const struct json_object *outputs)
{
  pc_program *prog = ld->prog;
  char path[PC_ERROR_MESSAGE_MAX];
  struct lh_entry *e;
  size_t k, n;
  int rc;

  if (!is_type(outputs, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "outputs: expected an object");
  n = (size_t)json_object_object_length(outputs);
  if (n == 0)
    return ld_fail(ld, PC_E_INVALID_ARG, "outputs: must not be empty");
  prog->outputs = pc_calloc(n, sizeof(*prog->outputs));
  if (!prog->outputs)
    return ld_nomem(ld);
  prog->n_outputs = n;
  prog->outputs_given = 1;
  for (k = 0, e = first_member(outputs); e; e = lh_entry_next(e), k++) {
    const char *key = member_key(e);

    PATHF(path, "outputs.%s", key);
    if (!is_ident(key))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: an output name must be an identifier", path);
    rc = parse_binding(ld, path, key, member_value(e), &prog->outputs[k]);
    if (rc)
      return rc;
  }
  return PC_OK;
}

/*
 * The single-module form: one step calling the module with each input
 * bound to the program input of the same name, and the program's outputs
 * the outputs of the module's own signature (without "reasoning").
 */
static int make_single_flow(pc_module_loader *ld)
{
  pc_program *prog = ld->prog;
  pc_module *m = &prog->modules[0];
  const pc_signature *sig = pc_module_io(m);
  char path[PC_ERROR_MESSAGE_MAX];
  pc_step *st;
  size_t k;
  int rc;

  prog->steps = pc_calloc(1, sizeof(*prog->steps));
  if (!prog->steps)
    return ld_nomem(ld);
  prog->n_steps = 1;
  st = &prog->steps[0];
  st->module = m;
  st->id = pc_strdup(m->name);
  st->bindings = pc_calloc(sig->n_inputs, sizeof(*st->bindings));
  if (!st->id || !st->bindings)
    return ld_nomem(ld);
  st->n_bindings = sig->n_inputs;
  PATHF(path, "modules.%s.signature", m->name);
  for (k = 0; k < sig->n_inputs; k++) {
    pc_binding *b = &st->bindings[k];

    b->kind = PC_BIND_INPUT;
    b->target = pc_strdup(sig->inputs[k].name);
    b->field = pc_strdup(sig->inputs[k].name);
    if (!b->target || !b->field)
      return ld_nomem(ld);
    rc = use_input(ld, path, b->field);
    if (rc)
      return rc;
  }
  /* The outputs are the declared signature's (without chain_of_thought's
   * "reasoning") when the type has one. */
  if (m->signature)
    sig = m->signature;
  prog->outputs = pc_calloc(sig->n_outputs, sizeof(*prog->outputs));
  if (!prog->outputs)
    return ld_nomem(ld);
  prog->n_outputs = sig->n_outputs;
  for (k = 0; k < sig->n_outputs; k++) {
    pc_binding *b = &prog->outputs[k];

    b->kind = PC_BIND_STEP;
    b->step = 0;
    b->from = st;
    b->target = pc_strdup(sig->outputs[k].name);
    b->field = pc_strdup(sig->outputs[k].name);
    b->source = pc_strdup(st->id);
    if (!b->target || !b->field || !b->source)
      return ld_nomem(ld);
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading: state.                                                          */

/*
 * Give `sig`, a signature of predictor `p`, new instructions. An empty
 * text restores the instructions the predictor was made with (for
 * chain_of_thought these are the default sentence of the user's
 * signature, which does not name "reasoning", as in DSPy).
 */
static int set_instructions(const pc_predictor *p, pc_signature *sig,
                            const char *text)
{
  int rc;

  if (!*text)
    text = p->base_instructions;
  rc = pc_signature_set_instructions(sig, text);
  if (!rc)
    sig->default_instructions =
      p->base_default && !strcmp(text, p->base_instructions);
  return rc;
}

static int load_state_entry(pc_module_loader *ld, const char *key,
                            const struct json_object *v)
{
  pc_program *prog = ld->prog;
  pc_predictor *p = find_predictor(prog, key);
  const pc_module *m;
  char where[PC_ERROR_MESSAGE_MAX];
  struct json_object *ins, *demos, *knn, *copy = NULL;
  int rc;

  if (!p) {
    m = find_module(prog, key);
    if (m && m->predictor)
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "state.%s: unknown predictor path (module '%s' is a "
                     "%s: its predictor is '%s')", key, key,
                     m->vt->name,
                     m->predictor->path);
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "state.%s: unknown predictor path", key);
  }
  if (!is_type(v, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "state.%s: expected an object",
                   key);
  snprintf(where, sizeof(where), "state.%s.", key);
  rc = check_members(ld, v, where, state_members,
                     "instructions, demos, knn or model");
  if (rc)
    return rc;
  if (json_object_object_get_ex(v, "instructions", &ins)) {
    if (!is_type(ins, json_type_string))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "state.%s.instructions: expected a string", key);
    if (set_instructions(p, p->signature, str_of(ins)))
      return ld_nomem(ld);
  }
  if (json_object_object_get_ex(v, "demos", &demos)) {
    size_t i, n;

    if (!is_type(demos, json_type_array))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "state.%s.demos: expected an array of objects", key);
    n = json_object_array_length(demos);
    for (i = 0; i < n; i++) {
      if (!is_type(json_object_array_get_idx(demos, i), json_type_object))
        return ld_fail(ld, PC_E_INVALID_ARG,
                       "state.%s.demos[%zu]: expected an object", key, i);
    }
    if (copy_json(demos, &copy))
      return ld_nomem(ld);
    json_object_put(p->demos);
    p->demos = copy;
  }
  if (json_object_object_get_ex(v, "model", &ins)) {
    char *model = NULL;

    if (ins && (!is_type(ins, json_type_string) || !*str_of(ins)))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "state.%s.model: expected a model id (a non-empty "
                     "string) or null", key);
    if (ins && !(model = pc_strdup(str_of(ins))))
      return ld_nomem(ld);
    pc_free(p->model);
    p->model = model;
  }
  if (json_object_object_get_ex(v, "knn", &knn)) {
    pc_knn_pool *pool = NULL;
    pc_error e = PC_ERROR_INIT;

    snprintf(where, sizeof(where), "%s: state.%s.knn", ld->origin, key);
    rc = pc_knn_pool_new(knn, where, &pool, &e);
    if (rc)
      return pc_error_set(ld->err, rc, "%s", e.message);
    if (copy_json(knn, &copy)) {
      pc_knn_pool_free(pool);
      return ld_nomem(ld);
    }
    json_object_put(p->knn);
    pc_knn_pool_free(p->knn_pool);
    p->knn = copy;
    p->knn_pool = pool;
  }
  return PC_OK;
}

static int load_state(pc_module_loader *ld, const struct json_object *state)
{
  struct lh_entry *e;
  int rc;

  if (!is_type(state, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "state: expected an object keyed by predictor path");
  for (e = first_member(state); e; e = lh_entry_next(e)) {
    rc = load_state_entry(ld, member_key(e), member_value(e));
    if (rc)
      return rc;
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Public: load and free.                                                   */

int pc_program_from_json(const char *origin, const struct json_object *root,
                         pc_program **out, pc_error *err)
{
  pc_module_loader ld;
  pc_program *prog = NULL;
  struct json_object *v, *flow, *outputs;
  int has_flow, has_outputs;
  int rc;

  *out = NULL;
  memset(&ld, 0, sizeof(ld));
  ld.origin = origin ? origin : "<memory>";
  ld.err = err;
  if (!is_type(root, json_type_object))
    return ld_fail(&ld, PC_E_INVALID_ARG, "expected a JSON object");
  prog = pc_calloc(1, sizeof(*prog));
  if (!prog)
    return ld_nomem(&ld);
  ld.prog = prog;
  prog->origin = pc_strdup(ld.origin);
  if (!prog->origin) {
    rc = ld_nomem(&ld);
    goto fail;
  }
  rc = check_members(&ld, root, "", top_members,
                     "schema, name, description, inputs, modules, flow, "
                     "outputs or state");
  if (!rc)
    rc = load_schema(&ld, root);
  if (!rc)
    rc = load_text(&ld, root, "name", &prog->name);
  if (!rc)
    rc = load_text(&ld, root, "description", &prog->description);
  if (!rc && json_object_object_get_ex(root, "inputs", &v))
    rc = load_inputs(&ld, v);
  if (!rc)
    rc = load_modules(&ld, root);
  if (rc)
    goto fail;

  has_flow = json_object_object_get_ex(root, "flow", &flow);
  has_outputs = json_object_object_get_ex(root, "outputs", &outputs);
  if (has_flow && !has_outputs)
    rc = ld_fail(&ld, PC_E_INVALID_ARG,
                 "outputs: missing (required when \"flow\" is given)");
  else if (!has_flow && has_outputs)
    rc = ld_fail(&ld, PC_E_INVALID_ARG,
                 "flow: missing (required when \"outputs\" is given)");
  else if (!has_flow && prog->n_modules > 1)
    rc = ld_fail(&ld, PC_E_INVALID_ARG,
                 "flow: missing (required when there is more than one "
                 "module)");
  else if (has_flow)
    rc = load_flow(&ld, flow);
  else
    rc = make_single_flow(&ld);
  if (!rc && has_outputs)
    rc = load_outputs(&ld, outputs);
  if (!rc && json_object_object_get_ex(root, "state", &v))
    rc = load_state(&ld, v);
  if (!rc && json_object_object_get_ex(root, "compile", &v)) {
    if (!json_object_is_type(v, json_type_object))
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: compile: expected an "
                        "object", ld.origin);
    else if (copy_json(v, &prog->compile))
      rc = ld_nomem(&ld);
  }
  for (size_t i = 0; !rc && i < prog->n_predictors; i++)
    if (refresh_plugin_json(prog->predictors[i]))
      rc = ld_nomem(&ld);
  if (rc)
    goto fail;
  *out = prog;
  prog = NULL;

fail:
  for (size_t i = 0; i < ld.n_all; i++)
    pc_free(ld.all[i].where);
  pc_free(ld.all);
  pc_free(ld.vis);
  pc_program_free(prog);
  return rc;
}

int pc_program_load(const char *path, pc_program **out, pc_error *err)
{
  struct json_object *root = NULL;
  int rc;

  *out = NULL;
  rc = pc_json_parse_file(path, PC_CONFIG_MAX, &root, err);
  if (rc == PC_OK)
    rc = pc_program_from_json(path, root, out, err);
  json_object_put(root);
  return rc;
}

static void cond_clear(pc_cond *c)
{
  size_t i;

  for (i = 0; i < c->n_args; i++)
    binding_clear(&c->args[i]);
  pc_free(c->args);
  for (i = 0; i < c->n_subs; i++)
    cond_clear(&c->subs[i]);
  pc_free(c->subs);
}

static void steps_free(pc_step *steps, size_t n)
{
  size_t i, k;

  for (i = 0; steps && i < n; i++) {
    pc_step *st = &steps[i];

    for (k = 0; k < st->n_bindings; k++)
      binding_clear(&st->bindings[k]);
    pc_free(st->bindings);
    pc_free(st->id);
    steps_free(st->body, st->n_body);
    steps_free(st->alt, st->n_alt);
    if (st->over) {
      binding_clear(st->over);
      pc_free(st->over);
    }
    pc_free(st->as);
    for (k = 0; k < st->n_acc; k++)
      binding_clear(&st->acc[k]);
    pc_free(st->acc);
    if (st->cond) {
      cond_clear(st->cond);
      pc_free(st->cond);
    }
    json_object_put(st->json);
  }
  pc_free(steps);
}

void pc_program_free(pc_program *prog)
{
  size_t i;

  if (!prog)
    return;
  steps_free(prog->steps, prog->n_steps);
  json_object_put(prog->compile);
  for (i = 0; i < prog->n_outputs; i++)
    binding_clear(&prog->outputs[i]);
  pc_free(prog->outputs);
  for (i = 0; i < prog->n_predictors; i++)
    predictor_free(prog->predictors[i]);
  pc_free(prog->predictors);
  for (i = 0; i < prog->n_modules; i++) {
    pc_module *m = &prog->modules[i];

    if (m->vt && m->vt->free_data && m->data)
      m->vt->free_data(m->data);
    pc_free(m->name);
    pc_signature_free(m->signature);
    pc_signature_free(m->io);
    json_object_put(m->signature_json);
    json_object_put(m->config);
    json_object_put(m->spec);
    pc_free(m->predictors);
  }
  pc_free(prog->modules);
  for (i = 0; i < prog->n_inputs; i++)
    pc_free(prog->inputs[i]);
  pc_free(prog->inputs);
  pc_free(prog->name);
  pc_free(prog->description);
  pc_free(prog->origin);
  pc_free(prog);
}

/* ------------------------------------------------------------------------ */
/* Public: writing.                                                         */

/* The JSON form of a binding, as the file writes it. */
static int binding_to_json(const pc_program *prog, const pc_binding *b,
                           struct json_object **out)
{
  pc_buf text;
  int rc = PC_OK;

  *out = NULL;
  if (b->kind == PC_BIND_CONST) {
    if (is_type(b->value, json_type_string) &&
        str_of(b->value)[0] == '$') {
      /* A literal "$..." is written with the "$$" escape. */
      pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
      if (pc_buf_putc(&text, '$') ||
          pc_buf_append(&text, str_of(b->value),
                        (size_t)json_object_get_string_len(b->value)))
        rc = PC_E_NOMEM;
      else if (!(*out = json_object_new_string_len(text.data,
                                                  (int)text.len)))
        rc = PC_E_NOMEM;
      pc_buf_free(&text);
      return rc;
    }
    return copy_json(b->value, out);
  }
  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  (void)prog;
  if (pc_buf_printf(&text, "$%s%s%s",
                    b->kind == PC_BIND_INPUT ? "input" : b->source,
                    b->field ? "." : "", b->field ? b->field : ""))
    rc = PC_E_NOMEM;
  else if (!(*out = json_object_new_string(text.data)))
    rc = PC_E_NOMEM;
  pc_buf_free(&text);
  return rc;
}

/* An object of bindings: target -> binding. */
static int bindings_to_json(const pc_program *prog, const pc_binding *bs,
                            size_t n, struct json_object **out)
{
  struct json_object *obj = json_object_new_object();
  struct json_object *v;
  size_t i;

  *out = NULL;
  if (!obj)
    return PC_E_NOMEM;
  for (i = 0; i < n; i++) {
    if (binding_to_json(prog, &bs[i], &v) ||
        put_member(obj, bs[i].target, v)) {
      json_object_put(obj);
      return PC_E_NOMEM;
    }
  }
  *out = obj;
  return PC_OK;
}

static int modules_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *mods = json_object_new_object();
  size_t i;

  if (put_new(root, "modules", mods))
    return PC_E_NOMEM;
  /* Each module is written back as the file had it, so members of every
   * type round-trip unchanged. */
  for (i = 0; i < prog->n_modules; i++) {
    const pc_module *m = &prog->modules[i];
    struct json_object *copy;

    if (copy_json(m->spec, &copy) || put_new(mods, m->name, copy))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

static int flow_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *flow = json_object_new_array();
  struct json_object *step, *inputs;
  size_t i;

  if (put_new(root, "flow", flow))
    return PC_E_NOMEM;
  for (i = 0; i < prog->n_steps; i++) {
    const pc_step *st = &prog->steps[i];

    if (st->json) {
      /* A control step is written back as the file had it. */
      if (copy_json(st->json, &step) || append_new(flow, step))
        return PC_E_NOMEM;
      continue;
    }
    step = json_object_new_object();
    if (append_new(flow, step) ||
        put_new(step, "call", json_object_new_string(st->module->name)) ||
        (st->id_given &&
         put_new(step, "id", json_object_new_string(st->id))) ||
        bindings_to_json(prog, st->bindings, st->n_bindings, &inputs) ||
        put_member(step, "inputs", inputs))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

static int state_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *state = NULL, *entry, *copy;
  size_t i;
  int rc = PC_E_NOMEM;

  for (i = 0; i < prog->n_predictors; i++) {
    const pc_predictor *p = prog->predictors[i];
    int changed = strcmp(p->signature->instructions,
                         p->base_instructions) != 0;
    int has_demos = json_object_array_length(p->demos) > 0;

    if (!changed && !has_demos && !p->knn && !p->model)
      continue;
    if (!state && !(state = json_object_new_object()))
      goto out;
    entry = json_object_new_object();
    if (put_new(state, p->path, entry))
      goto out;
    if (changed && put_new(entry, "instructions",
                           json_object_new_string(
                             p->signature->instructions)))
      goto out;
    if (has_demos && (copy_json(p->demos, &copy) ||
                      put_new(entry, "demos", copy)))
      goto out;
    if (p->knn && (copy_json(p->knn, &copy) || put_new(entry, "knn", copy)))
      goto out;
    if (p->model && put_new(entry, "model", json_object_new_string(p->model)))
      goto out;
  }
  rc = PC_OK;
  if (state) {
    rc = put_member(root, "state", state);
    state = NULL;
  }

out:
  json_object_put(state);
  return rc;
}

struct json_object *pc_program_to_json(const pc_program *prog)
{
  struct json_object *root = json_object_new_object();
  struct json_object *v;
  size_t i;

  if (!root)
    return NULL;
  if (put_new(root, "schema", json_object_new_string(PC_PROGRAM_SCHEMA)))
    goto fail;
  if (prog->name && put_new(root, "name", json_object_new_string(prog->name)))
    goto fail;
  if (prog->description &&
      put_new(root, "description",
              json_object_new_string(prog->description)))
    goto fail;
  if (prog->inputs_given) {
    v = json_object_new_array();
    if (put_new(root, "inputs", v))
      goto fail;
    for (i = 0; i < prog->n_inputs; i++) {
      if (append_new(v, json_object_new_string(prog->inputs[i])))
        goto fail;
    }
  }
  if (modules_to_json(prog, root))
    goto fail;
  if (prog->flow_given && flow_to_json(prog, root))
    goto fail;
  if (prog->outputs_given &&
      (bindings_to_json(prog, prog->outputs, prog->n_outputs, &v) ||
       put_member(root, "outputs", v)))
    goto fail;
  if (state_to_json(prog, root))
    goto fail;
  if (prog->compile) {
    if (copy_json(prog->compile, &v) || put_member(root, "compile", v))
      goto fail;
  }
  return root;

fail:
  json_object_put(root);
  return NULL;
}

int pc_program_save(const pc_program *prog, const char *path, pc_error *err)
{
  struct json_object *root = pc_program_to_json(prog);
  pc_buf text;
  int rc;

  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  if (!root || pc_json_write(root, PC_JSON_TEXT_PRETTY, &text) ||
      pc_buf_putc(&text, '\n')) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto out;
  }
  rc = pc_file_write_atomic(path, text.data, text.len, err);

out:
  json_object_put(root);
  pc_buf_free(&text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Public: queries.                                                         */

const char *pc_program_name(const pc_program *prog)
{
  return prog->name;
}

const char *pc_program_description(const pc_program *prog)
{
  return prog->description;
}

size_t pc_program_n_modules(const pc_program *prog)
{
  return prog->n_modules;
}

const pc_module *pc_program_module_at(const pc_program *prog, size_t i)
{
  return i < prog->n_modules ? &prog->modules[i] : NULL;
}

const pc_module *pc_program_module(const pc_program *prog, const char *name)
{
  return find_module(prog, name);
}

const char *pc_program_module_type_name(int type)
{
  switch (type) {
  case PC_MODULE_PREDICT:
    return "predict";
  case PC_MODULE_CHAIN_OF_THOUGHT:
    return "chain_of_thought";
  default:
    return NULL;
  }
}

size_t pc_program_n_predictors(const pc_program *prog)
{
  return prog->n_predictors;
}

const pc_predictor *pc_program_predictor_at(const pc_program *prog,
                                            size_t i)
{
  return i < prog->n_predictors ? prog->predictors[i] : NULL;
}

const pc_predictor *pc_program_predictor(const pc_program *prog,
                                         const char *path)
{
  return find_predictor(prog, path);
}

/* The first predictor of a call step in `steps`, in execution order. */
static const pc_predictor *first_called(const pc_step *steps, size_t n)
{
  const pc_predictor *p = NULL;
  size_t i;

  for (i = 0; i < n && !p; i++) {
    if (steps[i].module)
      p = steps[i].module->predictor;
    if (!p)
      p = first_called(steps[i].body, steps[i].n_body);
    if (!p)
      p = first_called(steps[i].alt, steps[i].n_alt);
  }
  return p;
}

const pc_predictor *pc_program_default_predictor(const pc_program *prog)
{
  const pc_predictor *p = first_called(prog->steps, prog->n_steps);

  if (!p && prog->n_predictors)
    p = prog->predictors[0];
  return p;
}

size_t pc_program_n_steps(const pc_program *prog)
{
  return prog->n_steps;
}

const pc_step *pc_program_step(const pc_program *prog, size_t i)
{
  return i < prog->n_steps ? &prog->steps[i] : NULL;
}

size_t pc_program_n_inputs(const pc_program *prog)
{
  return prog->n_inputs;
}

const char *pc_program_input(const pc_program *prog, size_t i)
{
  return i < prog->n_inputs ? prog->inputs[i] : NULL;
}

size_t pc_program_n_outputs(const pc_program *prog)
{
  return prog->n_outputs;
}

const pc_binding *pc_program_output(const pc_program *prog, size_t i)
{
  return i < prog->n_outputs ? &prog->outputs[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Public: running and state.                                               */

int pc_binding_value(const pc_binding *b, const struct json_object *env,
                     const char *what, const struct json_object **val,
                     pc_error *err)
{
  struct json_object *src = NULL, *v = NULL;

  *val = NULL;
  if (b->kind == PC_BIND_CONST) {
    *val = b->value;
    return PC_OK;
  }
  if (b->kind == PC_BIND_INPUT) {
    if (!json_object_object_get_ex(env, "input", &src) ||
        !is_type(src, json_type_object) ||
        !json_object_object_get_ex(src, b->field, &v))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: program input '%s' is not given", what,
                          b->field);
    *val = v;
    return PC_OK;
  }
  if (!json_object_object_get_ex(env, b->source, &src))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: step '%s' has no output yet", what, b->source);
  if (!b->field) {
    *val = src;
    return PC_OK;
  }
  if (!is_type(src, json_type_object) ||
      !json_object_object_get_ex(src, b->field, &v))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: the output of step '%s' has no '%s'", what,
                        b->source, b->field);
  *val = v;
  return PC_OK;
}

/* Add a copy of binding `b`'s value to `obj` under `name`. */
static int bind_one(const pc_binding *b, const struct json_object *env,
                    const char *what, const char *name,
                    struct json_object *obj, pc_error *err)
{
  const struct json_object *v;
  struct json_object *copy;
  int rc;

  rc = pc_binding_value(b, env, what, &v, err);
  if (rc)
    return rc;
  if (copy_json(v, &copy) || put_member(obj, name, copy))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  return PC_OK;
}

int pc_program_bind(const pc_signature *sig, const pc_binding *bs, size_t n,
                    const struct json_object *env, const char *what,
                    struct json_object **out, pc_error *err)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *obj;
  size_t i, k;
  int rc = PC_OK;

  *out = NULL;
  obj = json_object_new_object();
  if (!obj)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  if (!sig) {
    for (i = 0; i < n && !rc; i++) {
      snprintf(sub, sizeof(sub), "%s '%s'", what, bs[i].target);
      rc = bind_one(&bs[i], env, sub, bs[i].target, obj, err);
    }
  }
  for (i = 0; sig && i < sig->n_inputs && !rc; i++) {
    const char *name = sig->inputs[i].name;

    snprintf(sub, sizeof(sub), "%s: input '%s'", what, name);
    for (k = 0; k < n && strcmp(bs[k].target, name); k++)
      ;
    if (k == n)
      rc = pc_error_set(err, PC_E_INTERNAL, "%s: not bound", sub);
    else
      rc = bind_one(&bs[k], env, sub, name, obj, err);
  }
  if (rc) {
    json_object_put(obj);
    return rc;
  }
  *out = obj;
  return PC_OK;
}

/* True for an absent, null, "", [] or {} value. */
static int is_empty(const struct json_object *v)
{
  if (!v)
    return 1;
  switch (json_object_get_type((struct json_object *)v)) {
  case json_type_string:
    return json_object_get_string_len(v) == 0;
  case json_type_array:
    return json_object_array_length(v) == 0;
  case json_type_object:
    return json_object_object_length(v) == 0;
  default:
    return 0;
  }
}

int pc_cond_eval(const pc_cond *c, const struct json_object *env,
                 int *result, pc_error *err)
{
  const struct json_object *a = NULL, *b = NULL;
  pc_error ignored = PC_ERROR_INIT;
  size_t i;
  int sub, rc;

  *result = 0;
  switch (c->op) {
  case PC_COND_EMPTY:
    if (pc_binding_value(&c->args[0], env, "", &a, &ignored))
      a = NULL;
    *result = is_empty(a);
    return PC_OK;
  case PC_COND_EQUALS:
    if (pc_binding_value(&c->args[0], env, "", &a, &ignored) ||
        pc_binding_value(&c->args[1], env, "", &b, &ignored)) {
      *result = 0;
      return PC_OK;
    }
    *result = json_object_equal((struct json_object *)a,
                                (struct json_object *)b) != 0;
    return PC_OK;
  case PC_COND_NOT:
    rc = pc_cond_eval(&c->subs[0], env, &sub, err);
    *result = !sub;
    return rc;
  default:
    *result = c->op == PC_COND_ALL;
    for (i = 0; i < c->n_subs; i++) {
      rc = pc_cond_eval(&c->subs[i], env, &sub, err);
      if (rc)
        return rc;
      if (c->op == PC_COND_ALL ? !sub : sub) {
        *result = sub;
        break;
      }
    }
    return PC_OK;
  }
}

/* An environment for the array form: "input" and each top-level step that
 * has an output. New (json_object_put), NULL when out of memory. */
static struct json_object *array_env(const pc_program *prog,
                                     const struct json_object *inputs,
                                     const struct json_object *const *outs,
                                     size_t n)
{
  struct json_object *env = json_object_new_object();
  size_t i;

  if (!env)
    return NULL;
  if (inputs && put_member(env, "input",
                           json_object_get((struct json_object *)inputs)))
    goto fail;
  for (i = 0; outs && i < n; i++) {
    const pc_step *st = &prog->steps[i];

    if (outs[i] && st->id &&
        put_member(env, st->id, json_object_get((struct json_object *)
                                                 outs[i])))
      goto fail;
  }
  return env;

fail:
  json_object_put(env);
  return NULL;
}

int pc_program_step_inputs(const pc_program *prog, size_t step_index,
                           const struct json_object *program_inputs,
                           const struct json_object *const *step_outputs,
                           struct json_object **out, pc_error *err)
{
  char what[PC_ERROR_MESSAGE_MAX];
  struct json_object *env;
  const pc_step *st;
  int rc;

  *out = NULL;
  if (step_index >= prog->n_steps)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "step %zu: the flow has %zu steps", step_index,
                        prog->n_steps);
  st = &prog->steps[step_index];
  if (st->kind != PC_STEP_CALL)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "step %zu: not a call (a control step)",
                        step_index);
  env = array_env(prog, program_inputs, step_outputs, step_index);
  if (!env)
    return pc_error_set(err, PC_E_NOMEM, "step '%s': out of memory",
                        st->id);
  snprintf(what, sizeof(what), "step '%s'", st->id);
  rc = pc_program_bind(pc_module_io(st->module), st->bindings,
                       st->n_bindings, env, what, out, err);
  json_object_put(env);
  return rc;
}

int pc_program_outputs(const pc_program *prog,
                       const struct json_object *program_inputs,
                       const struct json_object *const *step_outputs,
                       struct json_object **out, pc_error *err)
{
  struct json_object *env;
  int rc;

  *out = NULL;
  env = array_env(prog, program_inputs, step_outputs, prog->n_steps);
  if (!env)
    return pc_error_set(err, PC_E_NOMEM, "program outputs: out of memory");
  rc = pc_program_bind(NULL, prog->outputs, prog->n_outputs, env, "output",
                       out, err);
  json_object_put(env);
  return rc;
}

/* Cache the plugin form of a predictor's signature (what adapters get),
 * so a call does not re-serialise it. */
static int refresh_plugin_json(pc_predictor *p)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  pc_free(p->signature_plugin_json);
  p->signature_plugin_json = NULL;
  p->signature_plugin_len = 0;
  if (pc_signature_to_plugin_json(p->signature, &b) ||
      !(p->signature_plugin_json = pc_buf_take(&b,
                                               &p->signature_plugin_len))) {
    pc_buf_free(&b);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

int pc_program_set_state(pc_program *prog, const char *path,
                         const char *instructions,
                         const struct json_object *demos)
{
  pc_predictor *p = find_predictor(prog, path);
  pc_signature *sig = NULL;
  struct json_object *copy = NULL;
  size_t i, n;
  int rc;

  if (!p)
    return PC_E_INVALID_ARG;
  if (demos) {
    if (!is_type(demos, json_type_array))
      return PC_E_INVALID_ARG;
    n = json_object_array_length(demos);
    for (i = 0; i < n; i++) {
      if (!is_type(json_object_array_get_idx(demos, i), json_type_object))
        return PC_E_INVALID_ARG;
    }
    if (copy_json(demos, &copy))
      return PC_E_NOMEM;
  }
  if (instructions) {
    /* Work on a copy so that a failure leaves the predictor as it was. */
    sig = pc_signature_copy(p->signature);
    if (!sig) {
      rc = PC_E_NOMEM;
      goto fail;
    }
    rc = set_instructions(p, sig, instructions);
    if (rc)
      goto fail;
    pc_signature_free(p->signature);
    p->signature = sig;
    sig = NULL;
    if (refresh_plugin_json(p)) {
      rc = PC_E_NOMEM;  /* the new instructions stay; the JSON is unset */
      goto fail;
    }
  }
  if (copy) {
    json_object_put(p->demos);
    p->demos = copy;
  }
  return PC_OK;

fail:
  pc_signature_free(sig);
  json_object_put(copy);
  return rc;
}

int pc_program_set_compile_record(pc_program *prog,
                                  const struct json_object *record)
{
  struct json_object *copy = NULL;

  if (record && copy_json(record, &copy))
    return PC_E_NOMEM;
  json_object_put(prog->compile);
  prog->compile = copy;
  return PC_OK;
}

const struct json_object *pc_program_compile_record(const pc_program *prog)
{
  return prog->compile;
}
