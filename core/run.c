/*
 * run.c - running a program's flow: calls, bounded loops and branches,
 * over an environment of the values each id has produced.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "host.h"
#include "module.h"
#include "run.h"

/* One run of a flow. */
struct run {
  pc_run_ctx *ctx;          /* borrowed */
  struct json_object *env;  /* owned: "input" and id -> value */
  pc_error *err;            /* borrowed */
};

static int run_steps(struct run *r, const pc_step *steps, size_t n);

/* Set env[key] to `val` (taken over; NULL is JSON null). */
static int env_set(struct run *r, const char *key, struct json_object *val)
{
  if (json_object_object_add(r->env, key, val) != 0) {
    json_object_put(val);
    return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", key);
  }
  return PC_OK;
}

/* Count one step against PC_RUN_STEPS_MAX, and check cancellation. */
static int tick(struct run *r, const char *id)
{
  if (r->ctx->call && r->ctx->call->cancelled)
    return pc_error_set(r->err, PC_E_CANCELLED, "step %s: cancelled", id);
  if (++r->ctx->steps > PC_RUN_STEPS_MAX)
    return pc_error_set(r->err, PC_E_INVALID_ARG,
                        "step %s: the run went past %d steps (calls and "
                        "loop iterations)", id, PC_RUN_STEPS_MAX);
  return PC_OK;
}

static int run_call(struct run *r, const pc_step *st)
{
  char what[PC_ERROR_MESSAGE_MAX];
  struct json_object *in = NULL, *out = NULL;
  pc_error e = PC_ERROR_INIT;
  int rc;

  rc = tick(r, st->id);
  if (rc)
    return rc;
  snprintf(what, sizeof(what), "step '%s'", st->id);
  rc = pc_program_bind(pc_module_io(st->module), st->bindings,
                       st->n_bindings, r->env, what, &in, &e);
  if (rc == PC_OK)
    rc = pc_module_forward(r->ctx, st->module, in, &out, &e);
  json_object_put(in);
  if (rc) {
    /* The message already names the step or predictor. */
    pc_error_set(r->err, rc, "%s", e.message);
    r->err->http_status = e.http_status;
    r->err->retry_after_ms = e.retry_after_ms;
    return rc;
  }
  return env_set(r, st->id, out);
}

/* Does `list` hold a value equal to `v`? */
static int list_has(struct json_object *list, struct json_object *v)
{
  size_t i, n = json_object_array_length(list);

  for (i = 0; i < n; i++) {
    if (json_object_equal(json_object_array_get_idx(list, i), v))
      return 1;
  }
  return 0;
}

/* Append a copy of `v` to `list`; with `flatten`, a list's items one by
 * one; with `unique`, only values not in it yet. */
static int list_add(struct json_object *list, const struct json_object *v,
                    int flatten, int unique)
{
  struct json_object *copy = NULL;
  size_t i, n;

  if (flatten && v && json_object_is_type(v, json_type_array)) {
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
      if (list_add(list, json_object_array_get_idx(v, i), 0, unique))
        return PC_E_NOMEM;
    }
    return PC_OK;
  }
  if (unique && list_has(list, (struct json_object *)v))
    return PC_OK;
  if (v && json_object_deep_copy((struct json_object *)v, &copy, NULL))
    return PC_E_NOMEM;
  if (json_object_array_add(list, copy)) {
    json_object_put(copy);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Add the values of a step's "accumulate"/"collect" bindings to the
 * lists in `state`. */
static int gather(struct run *r, const pc_step *st, struct json_object *state,
                  int flatten)
{
  char what[PC_ERROR_MESSAGE_MAX];
  const struct json_object *v;
  struct json_object *list;
  size_t k;
  int rc;

  for (k = 0; k < st->n_acc; k++) {
    snprintf(what, sizeof(what), "step '%s': %s", st->id, st->acc[k].target);
    rc = pc_binding_value(&st->acc[k], r->env, what, &v, r->err);
    if (rc)
      return rc;
    json_object_object_get_ex(state, st->acc[k].target, &list);
    if (list_add(list, v, flatten, st->unique))
      return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", what);
  }
  return PC_OK;
}

/* A new state object holding an empty list per accumulator. */
static struct json_object *new_state(const pc_step *st)
{
  struct json_object *state = json_object_new_object();
  size_t k;

  for (k = 0; state && k < st->n_acc; k++) {
    struct json_object *list = json_object_new_array();

    if (!list || json_object_object_add(state, st->acc[k].target, list)) {
      json_object_put(list);
      json_object_put(state);
      return NULL;
    }
  }
  return state;
}

/* Set a number member of the loop's state. */
static int set_int(struct run *r, struct json_object *state, const char *key,
                   int64_t n)
{
  struct json_object *v = json_object_new_int64(n);

  if (!v || json_object_object_add(state, key, v)) {
    json_object_put(v);
    return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", key);
  }
  return PC_OK;
}

/* Set a boolean member of the loop's state. */
static int set_bool(struct run *r, struct json_object *state, const char *key,
                    int b)
{
  struct json_object *v = json_object_new_boolean(b);

  if (!v || json_object_object_add(state, key, v)) {
    json_object_put(v);
    return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", key);
  }
  return PC_OK;
}

/*
 * repeat: the body up to `bound` times; env[id] is the state object
 * {"<list>": [...], "iteration": i, "iterations": done, "exhausted": b},
 * shared with the body (it reads the lists so far).
 */
static int run_repeat(struct run *r, const pc_step *st)
{
  struct json_object *state = new_state(st);
  size_t i;
  int rc, stop = 0;

  if (!state || json_object_object_add(r->env, st->id, state)) {
    json_object_put(state);
    return pc_error_set(r->err, PC_E_NOMEM, "step %s: out of memory",
                        st->id);
  }
  rc = set_int(r, state, "iterations", 0);
  if (!rc)
    rc = set_bool(r, state, "exhausted", 0);
  for (i = 0; i < st->bound && !rc && !stop; i++) {
    rc = tick(r, st->id);
    if (!rc)
      rc = set_int(r, state, "iteration", (int64_t)i);
    if (!rc)
      rc = run_steps(r, st->body, st->n_body);
    if (!rc)
      rc = gather(r, st, state, 1);
    if (!rc)
      rc = set_int(r, state, "iterations", (int64_t)i + 1);
    if (!rc && st->cond)
      rc = pc_cond_eval(st->cond, r->env, &stop, r->err);
  }
  /* Exhausted: every pass ran and "until" never held. */
  if (!rc && !stop)
    rc = set_bool(r, state, "exhausted", 1);
  return rc;
}

/*
 * foreach: the body once per item of the list; env[as] is the item and
 * env[id] the state {"<list>": [...], "index": i, "count": done}.
 */
static int run_foreach(struct run *r, const pc_step *st)
{
  char what[PC_ERROR_MESSAGE_MAX];
  const struct json_object *over;
  struct json_object *list, *state;
  size_t i, n;
  int rc;

  snprintf(what, sizeof(what), "step '%s': foreach", st->id);
  rc = pc_binding_value(st->over, r->env, what, &over, r->err);
  if (rc)
    return rc;
  if (!over || !json_object_is_type(over, json_type_array))
    return pc_error_set(r->err, PC_E_INVALID_ARG,
                        "%s: '$%s%s%s' is not a list", what,
                        st->over->kind == PC_BIND_INPUT ? "input"
                        : st->over->source, st->over->field ? "." : "",
                        st->over->field ? st->over->field : "");
  n = json_object_array_length(over);
  if (n > st->bound)
    return pc_error_set(r->err, PC_E_INVALID_ARG,
                        "%s: %zu items, more than max_items (%zu)", what, n,
                        st->bound);
  /* Hold the list: the body may replace the value it came from. */
  list = json_object_get((struct json_object *)over);
  state = new_state(st);
  if (!state || json_object_object_add(r->env, st->id, state)) {
    json_object_put(state);
    json_object_put(list);
    return pc_error_set(r->err, PC_E_NOMEM, "%s: out of memory", what);
  }
  rc = set_int(r, state, "count", 0);
  for (i = 0; i < n && !rc; i++) {
    rc = tick(r, st->id);
    if (!rc)
      rc = set_int(r, state, "index", (int64_t)i);
    if (!rc)
      rc = env_set(r, st->as,
                   json_object_get(json_object_array_get_idx(list, i)));
    if (!rc)
      rc = run_steps(r, st->body, st->n_body);
    if (!rc)
      rc = gather(r, st, state, 0);
    if (!rc)
      rc = set_int(r, state, "count", (int64_t)i + 1);
  }
  json_object_object_del(r->env, st->as);
  json_object_put(list);
  return rc;
}

/* Merge the outputs of the call steps of `steps` that ran into `into`
 * (later ones win). */
static int merge_outputs(struct run *r, const pc_step *steps, size_t n,
                         struct json_object *into)
{
  struct json_object *out, *copy;
  size_t i;

  for (i = 0; i < n; i++) {
    const pc_step *st = &steps[i];

    if (st->kind != PC_STEP_CALL) {
      if (merge_outputs(r, st->body, st->n_body, into) ||
          merge_outputs(r, st->alt, st->n_alt, into))
        return PC_E_NOMEM;
      continue;
    }
    if (!json_object_object_get_ex(r->env, st->id, &out))
      continue;
    json_object_object_foreach(out, key, val) {
      copy = NULL;
      if ((val && json_object_deep_copy(val, &copy, NULL)) ||
          json_object_object_add(into, key, copy)) {
        json_object_put(copy);
        return PC_E_NOMEM;
      }
    }
  }
  return PC_OK;
}

/* Remove the values of every id under `steps` from the environment, so a
 * branch not taken leaves nothing behind from an earlier iteration. */
static void forget(struct run *r, const pc_step *steps, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    if (steps[i].id)
      json_object_object_del(r->env, steps[i].id);
    forget(r, steps[i].body, steps[i].n_body);
    forget(r, steps[i].alt, steps[i].n_alt);
  }
}

/* if: one branch; env[id] merges the outputs of its call steps. */
static int run_if(struct run *r, const pc_step *st)
{
  struct json_object *merged;
  const pc_step *branch;
  size_t n;
  int rc, yes = 0;

  rc = tick(r, st->id ? st->id : "if");
  if (!rc)
    rc = pc_cond_eval(st->cond, r->env, &yes, r->err);
  if (rc)
    return rc;
  forget(r, st->body, st->n_body);
  forget(r, st->alt, st->n_alt);
  branch = yes ? st->body : st->alt;
  n = yes ? st->n_body : st->n_alt;
  rc = run_steps(r, branch, n);
  if (rc || !st->id)
    return rc;
  merged = json_object_new_object();
  if (!merged || merge_outputs(r, branch, n, merged)) {
    json_object_put(merged);
    return pc_error_set(r->err, PC_E_NOMEM, "step %s: out of memory",
                        st->id);
  }
  return env_set(r, st->id, merged);
}

static int run_steps(struct run *r, const pc_step *steps, size_t n)
{
  size_t i;
  int rc = PC_OK;

  for (i = 0; i < n && rc == PC_OK; i++) {
    switch (steps[i].kind) {
    case PC_STEP_CALL:
      rc = run_call(r, &steps[i]);
      break;
    case PC_STEP_REPEAT:
      rc = run_repeat(r, &steps[i]);
      break;
    case PC_STEP_FOREACH:
      rc = run_foreach(r, &steps[i]);
      break;
    default:
      rc = run_if(r, &steps[i]);
      break;
    }
  }
  return rc;
}

int pc_program_run(pc_run_ctx *ctx, const pc_program *prog,
                   const struct json_object *inputs,
                   struct json_object **outputs, pc_error *err)
{
  struct run r;
  size_t n_out = pc_program_n_outputs(prog);
  int rc;

  *outputs = NULL;
  r.ctx = ctx;
  r.err = err;
  r.env = json_object_new_object();
  if (!r.env)
    return pc_error_set(err, PC_E_NOMEM, "run: out of memory");
  ctx->steps = 0;
  rc = env_set(&r, "input", json_object_get((struct json_object *)inputs));
  if (!rc)
    rc = run_steps(&r, pc_program_step(prog, 0), pc_program_n_steps(prog));
  if (!rc)
    rc = pc_program_bind(NULL, n_out ? pc_program_output(prog, 0) : NULL,
                         n_out, r.env, "output", outputs, err);
  json_object_put(r.env);
  return rc;
}
