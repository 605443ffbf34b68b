/* program.c - load, check, query and save promptc.program/1 programs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "json_text.h"
#include "lm_settings.h"
#include "knn.h"
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
  pc_predictor *predictors; /* owned: n_predictors, in module order */
  size_t n_predictors;
  pc_step *steps;           /* owned: n_steps, in execution order */
  size_t n_steps;
  int flow_given;           /* 1 when the file had "flow" */
  pc_binding *outputs;      /* owned: n_outputs */
  size_t n_outputs;
  int outputs_given;        /* 1 when the file had "outputs" */
  struct json_object *compile;  /* owned: the "compile" record, or NULL */
};

/* The state of one pc_program_from_json call. */
struct ld {
  const char *origin;  /* borrowed: starts every message */
  pc_program *prog;    /* borrowed: the program being built */
  pc_error *err;       /* borrowed: the caller's error */
};

static const char *const top_members[] = {
  "schema", "name", "description", "inputs", "modules", "flow", "outputs",
  "state", "compile", NULL
};
static const char *const module_members[] = {
  "type", "signature", "config", NULL
};
static const char *const step_members[] = {"call", "id", "inputs", NULL};
static const char *const state_members[] = {"instructions", "demos", "knn",
                                            "model", NULL};

static int refresh_plugin_json(pc_predictor *p);

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

static int ld_fail(struct ld *ld, int code, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* Record "<origin>: <message>" and return `code`. */
static int ld_fail(struct ld *ld, int code, const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(ld->err, code, "%s: %s", ld->origin, msg);
}

static int ld_nomem(struct ld *ld)
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
static int check_members(struct ld *ld, const struct json_object *obj,
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
  json_object_put(b->value);
  memset(b, 0, sizeof(*b));
}

static pc_predictor *find_predictor(const pc_program *prog, const char *path)
{
  size_t i;

  for (i = 0; i < prog->n_predictors; i++) {
    if (prog->predictors[i].path && !strcmp(prog->predictors[i].path, path))
      return &prog->predictors[i];
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

/* Index of the step with this id among the first `n` steps, or n. */
static size_t find_step(const pc_program *prog, const char *id, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    if (prog->steps[i].id && !strcmp(prog->steps[i].id, id))
      return i;
  }
  return n;
}

/* ------------------------------------------------------------------------ */
/* Loading: members, modules and their predictors.                          */

/* An optional string member into *out (owned, NULL when absent). */
static int load_text(struct ld *ld, const struct json_object *root,
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

static int load_schema(struct ld *ld, const struct json_object *root)
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
static int add_input(struct ld *ld, const char *name)
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
static int use_input(struct ld *ld, const char *path, const char *name)
{
  if (has_input(ld->prog, name))
    return PC_OK;
  if (ld->prog->inputs_given)
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: input '%s' is not declared in \"inputs\"", path,
                   name);
  return add_input(ld, name);
}

static int load_inputs(struct ld *ld, const struct json_object *v)
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

static int check_config(struct ld *ld, const char *module,
                        const struct json_object *cfg)
{
  char where[256];

  snprintf(where, sizeof(where), "%s: modules.%s.config", ld->origin, module);
  return pc_lm_settings_check(cfg, PC_LM_SETTINGS_ADAPTER, where, ld->err);
}

/* The module's predictor: path and extended signature. */
static int make_predictor(struct ld *ld, pc_module *m, pc_predictor *p)
{
  pc_buf path;
  pc_type *str = NULL;
  int rc;

  pc_buf_init(&path, PC_BUF_DEFAULT_MAX);
  p->module = m;
  p->config = m->config;
  m->predictor = p;
  p->demos = json_object_new_array();
  p->signature = pc_signature_copy(m->signature);
  if (!p->demos || !p->signature ||
      pc_buf_puts(&path, m->name) ||
      (m->type == PC_MODULE_CHAIN_OF_THOUGHT &&
       pc_buf_puts(&path, ".predict"))) {
    rc = ld_nomem(ld);
    goto out;
  }
  p->path = pc_buf_take(&path, NULL);
  if (!p->path) {
    rc = ld_nomem(ld);
    goto out;
  }
  rc = PC_OK;
  if (m->type == PC_MODULE_CHAIN_OF_THOUGHT) {
    /* As DSPy's ChainOfThought: a str output "reasoning" comes first. */
    str = pc_type_new_simple(PC_TYPE_STR);
    if (!str) {
      rc = ld_nomem(ld);
      goto out;
    }
    rc = pc_signature_prepend_output(p->signature, "reasoning", str, NULL);
    if (rc == PC_E_NOMEM)
      rc = ld_nomem(ld);
    else if (rc)
      rc = ld_fail(ld, rc,
                   "modules.%s.signature: chain_of_thought adds the field "
                   "'reasoning', which the signature already has", m->name);
  }

out:
  pc_type_free(str);
  pc_buf_free(&path);
  return rc;
}

static int load_module(struct ld *ld, const char *name,
                       const struct json_object *v, pc_module *m,
                       pc_predictor *p)
{
  pc_error sub = PC_ERROR_INIT;
  char where[PC_ERROR_MESSAGE_MAX];
  struct json_object *t, *sig, *cfg;
  const char *type;
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
  snprintf(where, sizeof(where), "modules.%s.", name);
  rc = check_members(ld, v, where, module_members,
                     "type, signature or config");
  if (rc)
    return rc;
  m->name = pc_strdup(name);
  if (!m->name)
    return ld_nomem(ld);

  if (!json_object_object_get_ex(v, "type", &t))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.type: missing", name);
  type = is_type(t, json_type_string) ? str_of(t) : "";
  if (!strcmp(type, "predict"))
    m->type = PC_MODULE_PREDICT;
  else if (!strcmp(type, "chain_of_thought"))
    m->type = PC_MODULE_CHAIN_OF_THOUGHT;
  else
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "modules.%s.type: unknown module type '%s' (expected "
                   "predict or chain_of_thought)", name,
                   is_type(t, json_type_string) ? type
                   : json_object_to_json_string(t));

  if (!json_object_object_get_ex(v, "signature", &sig))
    return ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.signature: missing",
                   name);
  rc = pc_signature_from_json(sig, &m->signature, &sub);
  if (rc)
    return pc_error_wrap(ld->err, &sub, "%s: modules.%s.signature",
                         ld->origin, name);
  if (copy_json(sig, &m->signature_json))
    return ld_nomem(ld);

  if (json_object_object_get_ex(v, "config", &cfg)) {
    rc = check_config(ld, name, cfg);
    if (rc)
      return rc;
    if (copy_json(cfg, &m->config))
      return ld_nomem(ld);
  }
  return make_predictor(ld, m, p);
}

static int load_modules(struct ld *ld, const struct json_object *root)
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
  prog->predictors = pc_calloc(n, sizeof(*prog->predictors));
  if (!prog->modules || !prog->predictors)
    return ld_nomem(ld);
  prog->n_modules = n;
  prog->n_predictors = n;
  /* json-c keeps object members in insertion order, which is file order. */
  for (i = 0, e = first_member(mods); e; e = lh_entry_next(e), i++) {
    rc = load_module(ld, member_key(e), member_value(e), &prog->modules[i],
                     &prog->predictors[i]);
    if (rc)
      return rc;
  }
  return PC_OK;
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
static int check_types(struct ld *ld, const char *path, const pc_type *t,
                       const pc_type *u)
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
 * A "$..." reference at `path`, used by step `cur` (n_steps for the
 * program's outputs, which may use every step).
 */
static int parse_reference(struct ld *ld, const char *path, const char *s,
                           size_t cur, pc_binding *b)
{
  pc_program *prog = ld->prog;
  const char *ref = s + 1;
  const char *dot = strchr(ref, '.');
  char *head = NULL;
  size_t idx;
  int rc = PC_OK;

  if (!dot || dot == ref || !is_ident(dot + 1))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "%s: malformed reference '%s' (expected $input.<name> "
                   "or $<step>.<field>; write $$ for a literal $)", path, s);
  head = pc_strndup(ref, (size_t)(dot - ref));
  b->field = pc_strdup(dot + 1);
  if (!head || !b->field) {
    rc = ld_nomem(ld);
    goto out;
  }
  if (!strcmp(head, "input")) {
    b->kind = PC_BIND_INPUT;
    rc = use_input(ld, path, b->field);
    goto out;
  }
  idx = find_step(prog, head, prog->n_steps);
  if (idx == prog->n_steps) {
    rc = ld_fail(ld, PC_E_INVALID_ARG, "%s: unknown step '%s'", path, head);
    goto out;
  }
  if (idx == cur) {
    rc = ld_fail(ld, PC_E_INVALID_ARG,
                 "%s: cycle: step '%s' uses its own output", path, head);
    goto out;
  }
  if (idx > cur) {
    rc = ld_fail(ld, PC_E_INVALID_ARG,
                 "%s: cycle: step '%s' uses '%s', which runs later", path,
                 prog->steps[cur].id, head);
    goto out;
  }
  if (!pc_signature_find(prog->steps[idx].module->predictor->signature,
                         b->field, 1)) {
    rc = ld_fail(ld, PC_E_INVALID_ARG,
                 "%s: step '%s' (module '%s') has no output '%s'", path,
                 head, prog->steps[idx].module->name, b->field);
    goto out;
  }
  b->kind = PC_BIND_STEP;
  b->step = idx;

out:
  pc_free(head);
  return rc;
}

/* One bound value `v` for `target` at `path`. */
static int parse_binding(struct ld *ld, const char *path, const char *target,
                         const struct json_object *v, size_t cur,
                         pc_binding *b)
{
  b->target = pc_strdup(target);
  if (!b->target)
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
      return parse_reference(ld, path, s, cur, b);
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

/* The "inputs" of step i: every module input bound, nothing else. */
static int load_step_bindings(struct ld *ld, size_t i,
                              const struct json_object *inputs)
{
  pc_program *prog = ld->prog;
  pc_step *st = &prog->steps[i];
  const pc_signature *sig = st->module->signature;
  char path[PC_ERROR_MESSAGE_MAX];
  struct lh_entry *e;
  size_t k, n = 0;
  int rc;

  if (inputs && !is_type(inputs, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "flow[%zu].inputs: expected an object", i);
  if (inputs)
    n = (size_t)json_object_object_length(inputs);
  st->bindings = pc_calloc(n, sizeof(*st->bindings));
  if (!st->bindings)
    return ld_nomem(ld);
  st->n_bindings = n;
  for (k = 0, e = inputs ? first_member(inputs) : NULL; e;
       e = lh_entry_next(e), k++) {
    const char *key = member_key(e);
    const pc_field *dst = pc_signature_find(sig, key, 0);
    pc_binding *b = &st->bindings[k];

    snprintf(path, sizeof(path), "flow[%zu].inputs.%s", i, key);
    if (!dst)
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: '%s' is not an input of module '%s'", path, key,
                     st->module->name);
    rc = parse_binding(ld, path, key, member_value(e), i, b);
    if (rc)
      return rc;
    if (b->kind == PC_BIND_STEP) {
      const pc_field *src = pc_signature_find(
        prog->steps[b->step].module->predictor->signature, b->field, 1);

      rc = check_types(ld, path, src->type, dst->type);
      if (rc)
        return rc;
    }
  }
  for (k = 0; k < sig->n_inputs; k++) {
    if (!find_binding(st, sig->inputs[k].name))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "flow[%zu].inputs: input '%s' of module '%s' is not "
                     "bound", i, sig->inputs[k].name, st->module->name);
  }
  return PC_OK;
}

/* Pass 1 over one step: the module it calls and its id. */
static int load_step_head(struct ld *ld, size_t i,
                          const struct json_object *v)
{
  pc_program *prog = ld->prog;
  pc_step *st = &prog->steps[i];
  char where[64];
  struct json_object *call, *id;
  const char *text;
  size_t dup;
  int rc;

  if (!is_type(v, json_type_object))
    return ld_fail(ld, PC_E_INVALID_ARG, "flow[%zu]: expected an object", i);
  snprintf(where, sizeof(where), "flow[%zu].", i);
  rc = check_members(ld, v, where, step_members, "call, id or inputs");
  if (rc)
    return rc;
  if (!json_object_object_get_ex(v, "call", &call))
    return ld_fail(ld, PC_E_INVALID_ARG, "flow[%zu].call: missing", i);
  if (!is_type(call, json_type_string))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "flow[%zu].call: expected a module name", i);
  st->module = find_module(prog, str_of(call));
  if (!st->module)
    return ld_fail(ld, PC_E_INVALID_ARG, "flow[%zu].call: unknown module '%s'",
                   i, str_of(call));
  text = st->module->name;
  if (json_object_object_get_ex(v, "id", &id)) {
    if (!is_type(id, json_type_string) ||
        !is_ident(str_of(id)))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "flow[%zu].id: expected an identifier", i);
    text = str_of(id);
    st->id_given = 1;
  }
  if (!strcmp(text, "input"))
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "flow[%zu].id: the id 'input' is reserved", i);
  dup = find_step(prog, text, i);
  if (dup < i)
    return ld_fail(ld, PC_E_INVALID_ARG,
                   "flow[%zu].id: duplicate step id '%s' (flow[%zu] has it "
                   "too; give each call of a module its own \"id\")", i,
                   text, dup);
  st->id = pc_strdup(text);
  return st->id ? PC_OK : ld_nomem(ld);
}

static int load_flow(struct ld *ld, const struct json_object *flow)
{
  pc_program *prog = ld->prog;
  size_t i, n;
  int rc;

  if (!is_type(flow, json_type_array))
    return ld_fail(ld, PC_E_INVALID_ARG, "flow: expected an array of steps");
  n = json_object_array_length(flow);
  if (n == 0)
    return ld_fail(ld, PC_E_INVALID_ARG, "flow: must not be empty");
  prog->steps = pc_calloc(n, sizeof(*prog->steps));
  if (!prog->steps)
    return ld_nomem(ld);
  prog->n_steps = n;
  prog->flow_given = 1;
  /* Ids first, so that a reference to a later step reads as a cycle. */
  for (i = 0; i < n; i++) {
    rc = load_step_head(ld, i, json_object_array_get_idx(flow, i));
    if (rc)
      return rc;
  }
  for (i = 0; i < n; i++) {
    struct json_object *inputs = NULL;

    json_object_object_get_ex(json_object_array_get_idx(flow, i), "inputs",
                              &inputs);
    rc = load_step_bindings(ld, i, inputs);
    if (rc)
      return rc;
  }
  return PC_OK;
}

static int load_outputs(struct ld *ld, const struct json_object *outputs)
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

    snprintf(path, sizeof(path), "outputs.%s", key);
    if (!is_ident(key))
      return ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: an output name must be an identifier", path);
    rc = parse_binding(ld, path, key, member_value(e), prog->n_steps,
                       &prog->outputs[k]);
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
static int make_single_flow(struct ld *ld)
{
  pc_program *prog = ld->prog;
  pc_module *m = &prog->modules[0];
  const pc_signature *sig = m->signature;
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
  snprintf(path, sizeof(path), "modules.%s.signature", m->name);
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
  prog->outputs = pc_calloc(sig->n_outputs, sizeof(*prog->outputs));
  if (!prog->outputs)
    return ld_nomem(ld);
  prog->n_outputs = sig->n_outputs;
  for (k = 0; k < sig->n_outputs; k++) {
    pc_binding *b = &prog->outputs[k];

    b->kind = PC_BIND_STEP;
    b->step = 0;
    b->target = pc_strdup(sig->outputs[k].name);
    b->field = pc_strdup(sig->outputs[k].name);
    if (!b->target || !b->field)
      return ld_nomem(ld);
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading: state.                                                          */

/*
 * Give `sig`, a predictor signature of module `m`, new instructions. An
 * empty text restores the module signature's own instructions (for
 * chain_of_thought these are the default sentence of the user's
 * signature, which does not name "reasoning", as in DSPy).
 */
static int set_instructions(const pc_module *m, pc_signature *sig,
                            const char *text)
{
  int rc;

  if (!*text)
    text = m->signature->instructions;
  rc = pc_signature_set_instructions(sig, text);
  if (!rc)
    sig->default_instructions =
      m->signature->default_instructions &&
      !strcmp(text, m->signature->instructions);
  return rc;
}

static int load_state_entry(struct ld *ld, const char *key,
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
                     pc_program_module_type_name(m->type),
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
    if (set_instructions(p->module, p->signature, str_of(ins)))
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

static int load_state(struct ld *ld, const struct json_object *state)
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
  struct ld ld;
  pc_program *prog = NULL;
  struct json_object *v, *flow, *outputs;
  int has_flow, has_outputs;
  int rc;

  *out = NULL;
  ld.origin = origin ? origin : "<memory>";
  ld.prog = NULL;
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
    if (refresh_plugin_json(&prog->predictors[i]))
      rc = ld_nomem(&ld);
  if (rc)
    goto fail;
  *out = prog;
  return PC_OK;

fail:
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

void pc_program_free(pc_program *prog)
{
  size_t i, k;

  if (!prog)
    return;
  for (i = 0; i < prog->n_steps; i++) {
    pc_step *st = &prog->steps[i];

    for (k = 0; k < st->n_bindings; k++)
      binding_clear(&st->bindings[k]);
    pc_free(st->bindings);
    pc_free(st->id);
  }
  pc_free(prog->steps);
  json_object_put(prog->compile);
  for (i = 0; i < prog->n_outputs; i++)
    binding_clear(&prog->outputs[i]);
  pc_free(prog->outputs);
  for (i = 0; i < prog->n_predictors; i++) {
    pc_predictor *p = &prog->predictors[i];

    pc_free(p->path);
    pc_signature_free(p->signature);
    pc_free(p->signature_plugin_json);
    json_object_put(p->demos);
    json_object_put(p->knn);
    pc_knn_pool_free(p->knn_pool);
    pc_free(p->model);
  }
  pc_free(prog->predictors);
  for (i = 0; i < prog->n_modules; i++) {
    pc_module *m = &prog->modules[i];

    pc_free(m->name);
    pc_signature_free(m->signature);
    json_object_put(m->signature_json);
    json_object_put(m->config);
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
  if (pc_buf_printf(&text, "$%s.%s",
                    b->kind == PC_BIND_INPUT ? "input"
                    : prog->steps[b->step].id, b->field))
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
  for (i = 0; i < prog->n_modules; i++) {
    const pc_module *m = &prog->modules[i];
    struct json_object *obj = json_object_new_object();
    struct json_object *copy;

    if (put_new(mods, m->name, obj) ||
        put_new(obj, "type", json_object_new_string(
                  pc_program_module_type_name(m->type))) ||
        copy_json(m->signature_json, &copy) ||
        put_member(obj, "signature", copy))
      return PC_E_NOMEM;
    if (m->config && (copy_json(m->config, &copy) ||
                      put_new(obj, "config", copy)))
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
    const pc_predictor *p = &prog->predictors[i];
    int changed = strcmp(p->signature->instructions,
                         p->module->signature->instructions) != 0;
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
  return i < prog->n_predictors ? &prog->predictors[i] : NULL;
}

const pc_predictor *pc_program_predictor(const pc_program *prog,
                                         const char *path)
{
  return find_predictor(prog, path);
}

const pc_predictor *pc_program_default_predictor(const pc_program *prog)
{
  return prog->n_steps ? prog->steps[0].module->predictor : NULL;
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

/* A copy of the value `b` stands for; `what` names the consumer. */
static int resolve(const pc_program *prog, const pc_binding *b,
                   const struct json_object *program_inputs,
                   const struct json_object *const *step_outputs,
                   const char *what, struct json_object **out,
                   pc_error *err)
{
  struct json_object *v = b->value;
  const char *id;

  *out = NULL;
  if (b->kind == PC_BIND_INPUT) {
    if (!is_type(program_inputs, json_type_object) ||
        !json_object_object_get_ex(program_inputs, b->field, &v))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: program input '%s' is not given", what,
                          b->field);
  } else if (b->kind == PC_BIND_STEP) {
    id = prog->steps[b->step].id;
    if (!step_outputs || !is_type(step_outputs[b->step], json_type_object))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: step '%s' has no output yet", what, id);
    if (!json_object_object_get_ex(step_outputs[b->step], b->field, &v))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: the output of step '%s' has no '%s'", what,
                          id, b->field);
  }
  if (copy_json(v, out))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  return PC_OK;
}

int pc_program_step_inputs(const pc_program *prog, size_t step_index,
                           const struct json_object *program_inputs,
                           const struct json_object *const *step_outputs,
                           struct json_object **out, pc_error *err)
{
  char what[PC_ERROR_MESSAGE_MAX];
  const pc_signature *sig;
  const pc_step *st;
  struct json_object *obj = NULL, *v;
  size_t i;
  int rc;

  *out = NULL;
  if (step_index >= prog->n_steps)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "step %zu: the flow has %zu steps", step_index,
                        prog->n_steps);
  st = &prog->steps[step_index];
  sig = st->module->signature;
  obj = json_object_new_object();
  if (!obj)
    return pc_error_set(err, PC_E_NOMEM, "step '%s': out of memory",
                        st->id);
  for (i = 0; i < sig->n_inputs; i++) {
    const char *name = sig->inputs[i].name;
    const pc_binding *b = find_binding(st, name);

    snprintf(what, sizeof(what), "step '%s': input '%s'", st->id, name);
    if (!b) {
      rc = pc_error_set(err, PC_E_INTERNAL, "%s: not bound", what);
      goto fail;
    }
    rc = resolve(prog, b, program_inputs, step_outputs, what, &v, err);
    if (rc)
      goto fail;
    if (put_member(obj, name, v)) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
      goto fail;
    }
  }
  *out = obj;
  return PC_OK;

fail:
  json_object_put(obj);
  return rc;
}

int pc_program_outputs(const pc_program *prog,
                       const struct json_object *program_inputs,
                       const struct json_object *const *step_outputs,
                       struct json_object **out, pc_error *err)
{
  char what[PC_ERROR_MESSAGE_MAX];
  struct json_object *obj, *v;
  size_t i;
  int rc;

  *out = NULL;
  obj = json_object_new_object();
  if (!obj)
    return pc_error_set(err, PC_E_NOMEM, "program outputs: out of memory");
  for (i = 0; i < prog->n_outputs; i++) {
    const pc_binding *b = &prog->outputs[i];

    snprintf(what, sizeof(what), "output '%s'", b->target);
    rc = resolve(prog, b, program_inputs, step_outputs, what, &v, err);
    if (rc)
      goto fail;
    if (put_member(obj, b->target, v)) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
      goto fail;
    }
  }
  *out = obj;
  return PC_OK;

fail:
  json_object_put(obj);
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
      !(p->signature_plugin_json = pc_buf_take(&b, &p->signature_plugin_len))) {
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
    rc = set_instructions(p->module, sig, instructions);
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
