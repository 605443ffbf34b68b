/* program_flow.c - the flow of a promptc.program/1 program: its steps,
 * bindings, scopes and conditions, loaded and checked, freed and written
 * back. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "module.h"
#include "program.h"
#include "program_int.h"

static const char *const step_members[] = {"call", "id", "inputs", NULL};

/* Format a JSON path into array `buf`; a path too long is cut short. */
#define PATHF(buf, ...) \
  do { \
    if (snprintf(buf, sizeof(buf), __VA_ARGS__) < 0) \
      buf[0] = '\0'; \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Bindings.                                                                */

void pc__binding_clear(pc_binding *b)
{
  pc_free(b->target);
  pc_free(b->field);
  pc_free(b->source);
  json_object_put(b->value);
  memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------------ */
/* Loading: scopes of ids.                                                  */

/* Record `name` (borrowed from the program) in a scope list. */
static int scope_push(pc_module_loader *ld, struct pc__scope **list,
                      size_t *n, const char *name, const pc_step *st,
                      int is_var)
{
  struct pc__scope *grown = pc_realloc(*list, (*n + 1) * sizeof(*grown));

  if (!grown)
    return pc__ld_nomem(ld);
  *list = grown;
  grown[*n].name = name;
  grown[*n].step = st;
  grown[*n].is_var = is_var;
  (*n)++;
  return PC_OK;
}

/* The latest entry called `name` in a scope list, or NULL. */
static const struct pc__scope *scope_find(const struct pc__scope *list,
                                          size_t n, const char *name)
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
    rc = pc__ld_nomem(ld);
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
      rc = pc__ld_nomem(ld);
      goto out;
    }
    same = !strcmp(c.data, d.data);
    pc_buf_free(&c);
    pc_buf_free(&d);
    if (same)
      goto out;
  }
  rc = pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: type mismatch: %s -> %s", path,
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
  const struct pc__scope *sc;
  char *head = NULL;
  int rc = PC_OK;

  if (dot == ref || (dot && !pc__is_ident(dot + 1)) ||
      (!dot && !pc__is_ident(ref)))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: malformed reference '%s' (expected $input.<name> "
                       "or $<step>.<field>; write $$ for a literal $)", path,
                       s);
  head = dot ? pc_strndup(ref, (size_t)(dot - ref)) : pc_strdup(ref);
  if (!head || (dot && !(b->field = pc_strdup(dot + 1)))) {
    rc = pc__ld_nomem(ld);
    goto out;
  }
  if (!strcmp(head, "input") && dot) {
    b->kind = PC_BIND_INPUT;
    rc = pc__use_input(ld, path, b->field);
    goto out;
  }
  sc = scope_find(ld->vis, ld->n_vis, head);
  if (!sc) {
    const struct pc__scope *any = scope_find(ld->all, ld->n_all, head);

    if (!dot && !(any && any->is_var))
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: malformed reference '%s' (expected "
                       "$input.<name> or $<step>.<field>; write $$ for a "
                       "literal $)", path, s);
    else if (!any)
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: unknown step '%s'", path,
                       head);
    else if (any->is_var)
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: '%s' is a foreach item, defined only inside its "
                       "loop's steps", path, head);
    else if (ld->cur_id && !strcmp(ld->cur_id, head))
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: cycle: step '%s' uses its own output", path, head);
    else if (ld->cur_id)
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: cycle: step '%s' uses '%s', which runs later",
                       path, ld->cur_id, head);
    else
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: '%s' runs later, or in a branch that excludes "
                       "this one", path, head);
    goto out;
  }
  if (!dot && !sc->is_var) {
    rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                     "%s: malformed reference '%s' (expected $input.<name> or "
                     "$<step>.<field>; write $$ for a literal $)", path, s);
    goto out;
  }
  if (sc->step && !step_has_field(sc->step, b->field)) {
    if (sc->step->kind == PC_STEP_CALL)
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: step '%s' (module '%s') has no output '%s'", path,
                       head, sc->step->module->name, b->field);
    else
      rc = pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: step '%s' has no '%s'",
                       path, head, b->field);
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
    return pc__ld_nomem(ld);
  if (pc__is_type(v, json_type_string)) {
    const char *s = pc__str_of(v);
    int len = json_object_get_string_len(v);

    if (s[0] == '$' && s[1] == '$') {
      b->kind = PC_BIND_CONST;
      b->value = json_object_new_string_len(s + 1, len - 1);
      return b->value ? PC_OK : pc__ld_nomem(ld);
    }
    if (s[0] == '$')
      return parse_reference(ld, path, s, b);
  }
  b->kind = PC_BIND_CONST;
  if (pc__copy_json(v, &b->value))
    return pc__ld_nomem(ld);
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

  if (inputs && !pc__is_type(inputs, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.inputs: expected an object",
                       where);
  if (inputs)
    n = (size_t)json_object_object_length(inputs);
  st->bindings = pc_calloc(n ? n : 1, sizeof(*st->bindings));
  if (!st->bindings)
    return pc__ld_nomem(ld);
  st->n_bindings = n;
  ld->cur_id = st->id;
  for (k = 0, e = inputs ? pc__first_member(inputs) : NULL; e;
       e = lh_entry_next(e), k++) {
    const char *key = pc__member_key(e);
    const pc_field *dst = pc_signature_find(sig, key, 0);
    pc_binding *b = &st->bindings[k];

    PATHF(path, "%s.inputs.%s", where, key);
    if (!dst)
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s: '%s' is not an input of module '%s'", path, key,
                         st->module->name);
    rc = parse_binding(ld, path, key, pc__member_value(e), b);
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
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
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
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: missing", where, key);
    return PC_OK;
  }
  if (!pc__is_type(x, json_type_string) || !pc__is_ident(pc__str_of(x)))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: expected an identifier",
                       where, key);
  if (!strcmp(pc__str_of(x), "input"))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: the name 'input' is "
                       "reserved", where, key);
  *out = pc_strdup(pc__str_of(x));
  return *out ? PC_OK : pc__ld_nomem(ld);
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
    return def ? PC_OK : pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: missing",
                                     where, key);
  n = pc__is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
  if (n < (int64_t)lo || n > (int64_t)hi)
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s.%s: expected an integer from %zu to %zu", where,
                       key, lo, hi);
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
  if (!pc__is_type(obj, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s.%s: expected an object of list name -> value",
                       where, key);
  st->n_acc = (size_t)json_object_object_length(obj);
  st->acc = pc_calloc(st->n_acc ? st->n_acc : 1, sizeof(*st->acc));
  if (!st->acc) {
    st->n_acc = 0;
    return pc__ld_nomem(ld);
  }
  for (k = 0, e = pc__first_member(obj); e; e = lh_entry_next(e), k++) {
    const char *name = pc__member_key(e);

    for (i = 0; reserved[i] && strcmp(reserved[i], name); i++)
      ;
    if (!pc__is_ident(name) || reserved[i])
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s.%s.%s: expected an identifier other than "
                         "iteration, iterations, exhausted, index or count",
                         where, key, name);
    if (!(st->acc[k].target = pc_strdup(name)))
      return pc__ld_nomem(ld);
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
  const struct pc__scope *dup = scope_find(ld->all, ld->n_all, name);

  if (dup && !(is_var && dup->is_var)) {
    if (!is_var && !dup->is_var && dup->step && dup->step->kind ==
        PC_STEP_CALL && st->kind == PC_STEP_CALL)
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s.%s: duplicate step id '%s' (%s has it too; give "
                         "each call of a module its own \"id\")", where, key,
                         name, dup->where);
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s.%s: duplicate name '%s' (%s has it too)", where,
                       key, name, dup->where);
  }
  if (scope_push(ld, &ld->all, &ld->n_all, name, st, is_var))
    return PC_E_NOMEM;
  ld->all[ld->n_all - 1].where = pc_strdup(where);
  return ld->all[ld->n_all - 1].where ? PC_OK : pc__ld_nomem(ld);
}

/* Pass 1 over one step at `where`: its kind, module, ids and nested
 * steps. */
static int load_step_head(pc_module_loader *ld, const char *where,
                          pc_step *st, const struct json_object *v)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *x;
  int rc;

  if (!pc__is_type(v, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected an object", where);
  if (json_object_object_get_ex(v, "call", &x)) {
    char prefix[PC_ERROR_MESSAGE_MAX];

    st->kind = PC_STEP_CALL;
    PATHF(prefix, "%s.", where);
    rc = pc__check_members(ld, v, prefix, step_members, "call, id or inputs");
    if (rc)
      return rc;
    if (!pc__is_type(x, json_type_string))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s.call: expected a module name", where);
    st->module = pc__find_module(ld->prog, pc__str_of(x));
    if (!st->module)
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.call: unknown module '%s'",
                         where, pc__str_of(x));
    rc = load_ident(ld, where, v, "id", 0, &st->id);
    if (rc)
      return rc;
    st->id_given = st->id != NULL;
    if (!st->id && !(st->id = pc_strdup(st->module->name)))
      return pc__ld_nomem(ld);
    return claim_id(ld, where, "id", st->id, st, 0);
  }
  if (pc__copy_json(v, &st->json))
    return pc__ld_nomem(ld);
  st->id_given = json_object_object_get_ex(v, "id", NULL);
  if (json_object_object_get_ex(v, "repeat", &x)) {
    st->kind = PC_STEP_REPEAT;
    PATHF(sub, "%s.", where);
    rc = pc__check_members(ld, v, sub, repeat_members,
                           "repeat, id, steps, accumulate, unique or until");
    if (!rc)
      rc = load_count(ld, where, v, "repeat", 1, PC_REPEAT_MAX, 0,
                      &st->bound);
    if (!rc && json_object_object_get_ex(v, "unique", &x)) {
      if (!pc__is_type(x, json_type_boolean))
        rc = pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.unique: expected true or "
                         "false", where);
      st->unique = json_object_get_boolean(x);
    }
    if (!rc)
      rc = load_acc_names(ld, where, st, v, "accumulate");
  } else if (json_object_object_get_ex(v, "foreach", &x)) {
    st->kind = PC_STEP_FOREACH;
    PATHF(sub, "%s.", where);
    rc = pc__check_members(ld, v, sub, foreach_members,
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
    rc = pc__check_members(ld, v, sub, if_members, "if, id, then or else");
  } else {
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a step with "
                       "\"call\", \"repeat\", \"foreach\" or \"if\"", where);
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
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.then: missing", where);
    PATHF(sub, "%s.then", where);
    rc = load_steps_head(ld, sub, x, &st->body, &st->n_body);
    if (!rc && json_object_object_get_ex(v, "else", &x)) {
      PATHF(sub, "%s.else", where);
      rc = load_steps_head(ld, sub, x, &st->alt, &st->n_alt);
    }
    return rc;
  }
  if (!json_object_object_get_ex(v, "steps", &x))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.steps: missing", where);
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

  if (!pc__is_type(arr, json_type_array))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected an array of steps",
                       where);
  n = json_object_array_length(arr);
  if (n == 0)
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: must not be empty", where);
  *out = pc_calloc(n, sizeof(**out));
  if (!*out)
    return pc__ld_nomem(ld);
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

  if (!pc__is_type(v, json_type_object) || json_object_object_length(v) != 1)
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a condition: an "
                       "object with one of empty, equals, not, all or any",
                       where);
  key = pc__member_key(pc__first_member(v));
  arg = pc__member_value(pc__first_member(v));
  for (i = 0; ops[i] && strcmp(ops[i], key); i++)
    ;
  if (!ops[i])
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.%s: unknown condition "
                       "(expected empty, equals, not, all or any)", where,
                       key);
  c->op = (int)i + 1;
  PATHF(sub, "%s.%s", where, key);
  switch (c->op) {
  case PC_COND_EMPTY:
    c->args = pc_calloc(1, sizeof(*c->args));
    if (!c->args)
      return pc__ld_nomem(ld);
    c->n_args = 1;
    return parse_binding(ld, sub, NULL, arg, &c->args[0]);
  case PC_COND_EQUALS:
    if (!pc__is_type(arg, json_type_array) ||
        json_object_array_length(arg) != 2)
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected [a, b]", sub);
    c->args = pc_calloc(2, sizeof(*c->args));
    if (!c->args)
      return pc__ld_nomem(ld);
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
      return pc__ld_nomem(ld);
    c->n_subs = 1;
    return load_cond(ld, sub, arg, &c->subs[0]);
  default:
    if (!pc__is_type(arg, json_type_array) || !json_object_array_length(arg))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s: expected a non-empty array of conditions", sub);
    n = json_object_array_length(arg);
    c->subs = pc_calloc(n, sizeof(*c->subs));
    if (!c->subs)
      return pc__ld_nomem(ld);
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
    return pc__ld_nomem(ld);
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
  struct pc__scope *saved = NULL;
  const struct pc__scope *sc;
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
      return pc__ld_nomem(ld);
    json_object_object_get_ex(v, "foreach", &x);
    PATHF(sub, "%s.foreach", where);
    if (!pc__is_type(x, json_type_string) || pc__str_of(x)[0] != '$' ||
        pc__str_of(x)[1] == '$')
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a reference to a "
                         "list (\"$input.items\")", sub);
    rc = parse_binding(ld, sub, NULL, x, st->over);
    if (rc)
      return rc;
    /* A nested foreach may not reuse an enclosing item's name: the two
     * would share one value, and the inner loop's end would remove it. */
    sc = scope_find(ld->vis, ld->n_vis, st->as);
    if (sc && sc->is_var)
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s.as: item '%s' is already "
                         "the item of an enclosing foreach; give this one "
                         "another name", where, st->as);
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
        return pc__ld_nomem(ld);
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

int pc__flow_load(pc_module_loader *ld, const struct json_object *flow)
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

int pc__flow_load_outputs(pc_module_loader *ld,
                          const struct json_object *outputs)
{
  pc_program *prog = ld->prog;
  char path[PC_ERROR_MESSAGE_MAX];
  struct lh_entry *e;
  size_t k, n;
  int rc;

  if (!pc__is_type(outputs, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "outputs: expected an object");
  n = (size_t)json_object_object_length(outputs);
  if (n == 0)
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "outputs: must not be empty");
  prog->outputs = pc_calloc(n, sizeof(*prog->outputs));
  if (!prog->outputs)
    return pc__ld_nomem(ld);
  prog->n_outputs = n;
  prog->outputs_given = 1;
  for (k = 0, e = pc__first_member(outputs); e; e = lh_entry_next(e), k++) {
    const char *key = pc__member_key(e);

    PATHF(path, "outputs.%s", key);
    if (!pc__is_ident(key))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s: an output name must be an identifier", path);
    rc = parse_binding(ld, path, key, pc__member_value(e), &prog->outputs[k]);
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
int pc__flow_make_single(pc_module_loader *ld)
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
    return pc__ld_nomem(ld);
  prog->n_steps = 1;
  st = &prog->steps[0];
  st->module = m;
  st->id = pc_strdup(m->name);
  st->bindings = pc_calloc(sig->n_inputs, sizeof(*st->bindings));
  if (!st->id || !st->bindings)
    return pc__ld_nomem(ld);
  st->n_bindings = sig->n_inputs;
  PATHF(path, "modules.%s.signature", m->name);
  for (k = 0; k < sig->n_inputs; k++) {
    pc_binding *b = &st->bindings[k];

    b->kind = PC_BIND_INPUT;
    b->target = pc_strdup(sig->inputs[k].name);
    b->field = pc_strdup(sig->inputs[k].name);
    if (!b->target || !b->field)
      return pc__ld_nomem(ld);
    rc = pc__use_input(ld, path, b->field);
    if (rc)
      return rc;
  }
  /* The outputs are the declared signature's (without chain_of_thought's
   * "reasoning") when the type has one. */
  if (m->signature)
    sig = m->signature;
  prog->outputs = pc_calloc(sig->n_outputs, sizeof(*prog->outputs));
  if (!prog->outputs)
    return pc__ld_nomem(ld);
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
      return pc__ld_nomem(ld);
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Freeing.                                                                 */

static void cond_clear(pc_cond *c)
{
  size_t i;

  for (i = 0; i < c->n_args; i++)
    pc__binding_clear(&c->args[i]);
  pc_free(c->args);
  for (i = 0; i < c->n_subs; i++)
    cond_clear(&c->subs[i]);
  pc_free(c->subs);
}

void pc__steps_free(pc_step *steps, size_t n)
{
  size_t i, k;

  for (i = 0; steps && i < n; i++) {
    pc_step *st = &steps[i];

    for (k = 0; k < st->n_bindings; k++)
      pc__binding_clear(&st->bindings[k]);
    pc_free(st->bindings);
    pc_free(st->id);
    pc__steps_free(st->body, st->n_body);
    pc__steps_free(st->alt, st->n_alt);
    if (st->over) {
      pc__binding_clear(st->over);
      pc_free(st->over);
    }
    pc_free(st->as);
    for (k = 0; k < st->n_acc; k++)
      pc__binding_clear(&st->acc[k]);
    pc_free(st->acc);
    if (st->cond) {
      cond_clear(st->cond);
      pc_free(st->cond);
    }
    json_object_put(st->json);
  }
  pc_free(steps);
}

/* ------------------------------------------------------------------------ */
/* Writing.                                                                 */

/* The JSON form of a binding, as the file writes it. */
static int binding_to_json(const pc_program *prog, const pc_binding *b,
                           struct json_object **out)
{
  pc_buf text;
  int rc = PC_OK;

  *out = NULL;
  if (b->kind == PC_BIND_CONST) {
    if (pc__is_type(b->value, json_type_string) &&
        pc__str_of(b->value)[0] == '$') {
      /* A literal "$..." is written with the "$$" escape. */
      pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
      if (pc_buf_putc(&text, '$') ||
          pc_buf_append(&text, pc__str_of(b->value),
                        (size_t)json_object_get_string_len(b->value)))
        rc = PC_E_NOMEM;
      else if (!(*out = json_object_new_string_len(text.data,
                                                  (int)text.len)))
        rc = PC_E_NOMEM;
      pc_buf_free(&text);
      return rc;
    }
    return pc__copy_json(b->value, out);
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
int pc__bindings_to_json(const pc_program *prog, const pc_binding *bs,
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
        pc__put_member(obj, bs[i].target, v)) {
      json_object_put(obj);
      return PC_E_NOMEM;
    }
  }
  *out = obj;
  return PC_OK;
}

int pc__flow_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *flow = json_object_new_array();
  struct json_object *step, *inputs;
  size_t i;

  if (pc__put_new(root, "flow", flow))
    return PC_E_NOMEM;
  for (i = 0; i < prog->n_steps; i++) {
    const pc_step *st = &prog->steps[i];

    if (st->json) {
      /* A control step is written back as the file had it. */
      if (pc__copy_json(st->json, &step) || pc__append_new(flow, step))
        return PC_E_NOMEM;
      continue;
    }
    step = json_object_new_object();
    if (pc__append_new(flow, step) ||
        pc__put_new(step, "call", json_object_new_string(st->module->name)) ||
        (st->id_given &&
         pc__put_new(step, "id", json_object_new_string(st->id))) ||
        pc__bindings_to_json(prog, st->bindings, st->n_bindings, &inputs) ||
        pc__put_member(step, "inputs", inputs))
      return PC_E_NOMEM;
  }
  return PC_OK;
}
