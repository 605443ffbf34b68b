/* module_parallel.c - the parallel module type: a module mapped over a
 * list input on the host scheduler, results in list order. */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "module_wrap.h"
#include "sched.h"
#include "type.h"

#define PAR_MAX_ITEMS_DEFAULT 100
#define PAR_MAX_ITEMS_MAX 100000

typedef struct par {
  const pc_module *inner;  /* borrowed */
  char *over;              /* owned: the list input */
  char *as;                /* owned: the inner input each item fills */
  size_t max_items;
} par;

static const char *const par_members[] = {"module", "over", "as",
                                          "max_items", NULL};

static void free_par(void *data)
{
  par *p = data;

  if (!p)
    return;
  pc_free(p->over);
  pc_free(p->as);
  pc_free(p);
}

/* A string member that names a field: an identifier. */
static int name_member(pc_module_loader *ld, pc_module *m,
                       const struct json_object *spec, const char *member,
                       char **out)
{
  struct json_object *v;
  const char *s;

  *out = NULL;
  if (!json_object_object_get_ex(spec, member, &v))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "%s: missing", member);
  s = json_object_get_string(v);
  if (!json_object_is_type(v, json_type_string) || !*s ||
      strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             "0123456789_") != strlen(s) || (*s >= '0' && *s <= '9'))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "%s: expected a field name", member);
  if (!(*out = pc_strdup(s)))
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  return PC_OK;
}

/* Replace `*t` by list[*t]. */
static int listify(pc_type **t)
{
  pc_buf b;
  pc_type *l = NULL;
  pc_error e = PC_ERROR_INIT;
  size_t off = 0;
  int rc;

  pc_buf_init(&b, 0);
  rc = pc_buf_puts(&b, "list[") || pc_type_canonical(*t, &b) ||
       pc_buf_putc(&b, ']') ? PC_E_NOMEM : PC_OK;
  if (!rc)
    rc = pc_type_parse(b.data, b.len, &l, &off, &e);
  pc_buf_free(&b);
  if (rc)
    return rc;
  pc_type_free(*t);
  *t = l;
  return PC_OK;
}

/* The io: the inner io with input `as` renamed `over` and made a list,
 * and every output a list. */
static int make_io(pc_module_loader *ld, pc_module *m, const par *p)
{
  const pc_signature *in = pc_module_io(p->inner);
  pc_signature *io = pc_signature_copy(in);
  pc_field *f = NULL;
  char *name;
  int rc = PC_OK;

  if (!io)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  for (size_t i = 0; i < io->n_inputs; i++) {
    if (!strcmp(io->inputs[i].name, p->as))
      f = &io->inputs[i];
    else if (!strcmp(io->inputs[i].name, p->over))
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "over: '%s' is another "
                          "input of module '%s'", p->over, p->inner->name);
  }
  if (!rc && !f)
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "as: module '%s' has no "
                        "input '%s'", p->inner->name, p->as);
  for (size_t i = 0; !rc && i < io->n_outputs; i++)
    if (!strcmp(io->outputs[i].name, p->over))
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "over: '%s' is an "
                          "output of module '%s'", p->over, p->inner->name);
  if (!rc) {
    if (!(name = pc_strdup(p->over)) || listify(&f->type)) {
      pc_free(name);
      rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    } else {
      pc_free(f->name);
      f->name = name;
    }
  }
  for (size_t i = 0; !rc && i < io->n_outputs; i++)
    if (listify(&io->outputs[i].type))
      rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  if (rc) {
    pc_signature_free(io);
    return rc;
  }
  m->io = io;
  return PC_OK;
}

static int load_par(pc_module_loader *ld, pc_module *m,
                    const struct json_object *spec)
{
  par *p = pc_calloc(1, sizeof(*p));
  int64_t max;
  int rc;

  if (!p)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  rc = pc__wrap_inner(ld, m, spec, &p->inner);
  if (!rc)
    rc = name_member(ld, m, spec, "over", &p->over);
  if (!rc)
    rc = name_member(ld, m, spec, "as", &p->as);
  if (!rc)
    rc = pc__wrap_int(ld, m, spec, "max_items", 1, PAR_MAX_ITEMS_MAX,
                      PAR_MAX_ITEMS_DEFAULT, 0, &max);
  if (!rc) {
    p->max_items = (size_t)max;
    rc = make_io(ld, m, p);
  }
  if (rc) {
    free_par(p);
    return rc;
  }
  m->data = p;
  return PC_OK;
}

/* One item's run, filled by its task. */
typedef struct item {
  struct json_object *inputs;   /* owned: made before the batch */
  struct json_object *outputs;  /* owned */
  pc_run_ctx ctx;               /* the item's own context */
  int rc;
  pc_error err;
} item;

typedef struct job {
  const pc_module *inner;
  item *items;
} job;

static void item_task(void *vjob, size_t k, pc_sched_batch *batch)
{
  job *j = vjob;
  item *it = &j->items[k];

  (void)batch;
  it->rc = pc_module_forward(&it->ctx, j->inner, it->inputs, &it->outputs,
                             &it->err);
}

/* The inputs of item `k`: the module's inputs less `over`, with `as` the
 * item. */
static struct json_object *item_inputs(const par *p,
                                       const struct json_object *inputs,
                                       const struct json_object *value)
{
  struct json_object *o = json_object_new_object(), *c;

  if (!o)
    return NULL;
  json_object_object_foreach((struct json_object *)inputs, key, val) {
    if (!strcmp(key, p->over))
      continue;
    c = NULL;
    if ((val && json_object_deep_copy(val, &c, NULL) != 0) ||
        json_object_object_add(o, key, c) != 0) {
      json_object_put(c);
      json_object_put(o);
      return NULL;
    }
  }
  c = NULL;
  if ((value && json_object_deep_copy((struct json_object *)value, &c,
                                      NULL) != 0) ||
      json_object_object_add(o, p->as, c) != 0) {
    json_object_put(c);
    json_object_put(o);
    return NULL;
  }
  return o;
}

static int forward_par(pc_run_ctx *ctx, const pc_module *m,
                       const struct json_object *inputs,
                       struct json_object **outputs, pc_error *err)
{
  const par *p = m->data;
  const pc_signature *io = pc_module_io(m);
  struct json_object *list = pc_json_member(inputs, p->over), *res = NULL;
  item *items = NULL;
  job j;
  size_t n, k;
  int rc = PC_OK;

  *outputs = NULL;
  if (!json_object_is_type(list, json_type_array))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: input '%s': expected a "
                        "list", m->name, p->over);
  n = json_object_array_length(list);
  if (n > p->max_items)
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: input '%s': %zu items, "
                        "more than max_items (%zu)", m->name, p->over, n,
                        p->max_items);
  if (n && !(items = pc_calloc(n, sizeof(*items))))
    goto nomem;
  for (k = 0; k < n; k++) {
    items[k].inputs = item_inputs(p, inputs,
                                  json_object_array_get_idx(list, k));
    if (!items[k].inputs)
      goto nomem;
    pc__wrap_child_begin(&items[k].ctx, ctx, ctx->overrides);
    pc_error_clear(&items[k].err);
  }
  /* The scheduler runs a nested batch in the calling task, helped by idle
   * workers, so a parallel inside an evaluation never deadlocks. */
  j.inner = p->inner;
  j.items = items;
  if (n)
    pc_sched_run(pc_runtime_sched(ctx->rt), n, item_task, &j);
  /* Merge in list order, whatever the order the items ran in. */
  for (k = 0; k < n; k++) {
    struct json_object *trace = NULL;

    pc__wrap_child_end(ctx, &items[k].ctx, &trace);
    if (!rc && !items[k].rc && pc__wrap_append_trace(ctx, trace))
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
    json_object_put(trace);
    if (!rc && items[k].rc)
      rc = pc_error_set(err, items[k].rc, "%s: item %zu: %s", m->name, k,
                        items[k].err.message);
  }
  if (rc)
    goto out;
  if (!(res = json_object_new_object()))
    goto nomem;
  for (size_t f = 0; f < io->n_outputs; f++) {
    struct json_object *col = json_object_new_array();

    if (!col || json_object_object_add(res, io->outputs[f].name, col) != 0) {
      json_object_put(col);
      goto nomem;
    }
    for (k = 0; k < n; k++) {
      struct json_object *v = pc_json_member(items[k].outputs,
                                             io->outputs[f].name), *c = NULL;

      if ((v && json_object_deep_copy(v, &c, NULL) != 0) ||
          json_object_array_add(col, c) != 0) {
        json_object_put(c);
        goto nomem;
      }
    }
  }
  *outputs = res;
  res = NULL;
  goto out;
nomem:
  rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
out:
  for (k = 0; items && k < n; k++) {
    json_object_put(items[k].inputs);
    json_object_put(items[k].outputs);
    json_object_put(items[k].ctx.trace);
  }
  pc_free(items);
  json_object_put(res);
  return rc;
}

const pc_module_type pc__module_parallel = {
  "parallel", par_members, 0, load_par, forward_par, free_par
};
