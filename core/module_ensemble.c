/* module_ensemble.c - the ensemble module type: several modules run on
 * the same inputs, the majority value of one output field wins. */
#include <ctype.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "module_wrap.h"
#include "value.h"

#define ENS_MAX_MODULES 32

typedef struct ens {
  const pc_module **mods;  /* owned array of borrowed modules */
  size_t n;
  char *field;             /* owned: the voted output */
} ens;

static const char *const ens_members[] = {"modules", "reduce", "field",
                                          NULL};

static void free_ens(void *data)
{
  ens *e = data;

  if (!e)
    return;
  pc_free(e->mods);
  pc_free(e->field);
  pc_free(e);
}

/* Check that module `o` can run on the ensemble's inputs and gives
 * `field`. */
static int check_member(pc_module_loader *ld, pc_module *m, const ens *e,
                        const pc_module *o, size_t idx)
{
  const pc_signature *first = pc_module_io(e->mods[0]);
  const pc_signature *io = pc_module_io(o);

  for (size_t i = 0; i < io->n_inputs; i++)
    if (!pc_signature_find(first, io->inputs[i].name, 0))
      return pc_module_fail(ld, m, PC_E_INVALID_ARG, "modules[%zu]: module "
                            "'%s' needs the input '%s', which module '%s' "
                            "(the first) does not have", idx, o->name,
                            io->inputs[i].name, e->mods[0]->name);
  if (!pc_signature_find(io, e->field, 1))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "modules[%zu]: module "
                          "'%s' has no output '%s'", idx, o->name, e->field);
  return PC_OK;
}

static int load_ens(pc_module_loader *ld, pc_module *m,
                    const struct json_object *spec)
{
  ens *e = pc_calloc(1, sizeof(*e));
  struct json_object *list, *v;
  const pc_signature *first;
  size_t n;
  int rc = PC_OK;

  if (!e)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  if (!json_object_object_get_ex(spec, "modules", &list) ||
      !json_object_is_type(list, json_type_array) ||
      (n = json_object_array_length(list)) == 0 || n > ENS_MAX_MODULES) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "modules: expected a list "
                        "of 1 to %d module names", ENS_MAX_MODULES);
    goto fail;
  }
  if (!(e->mods = pc_calloc(n, sizeof(*e->mods)))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    v = json_object_array_get_idx(list, i);
    if (!json_object_is_type(v, json_type_string)) {
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "modules[%zu]: expected "
                          "a module name", i);
      goto fail;
    }
    if (!(e->mods[i] = pc_module_loader_find(ld, json_object_get_string(v))))
    {
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "modules[%zu]: no module "
                          "'%s' is declared before this one", i,
                          json_object_get_string(v));
      goto fail;
    }
  }
  e->n = n;
  if (json_object_object_get_ex(spec, "reduce", &v) &&
      (!json_object_is_type(v, json_type_string) ||
       strcmp(json_object_get_string(v), "majority"))) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG,
                        "reduce: expected \"majority\"");
    goto fail;
  }
  first = pc_module_io(e->mods[0]);
  if (json_object_object_get_ex(spec, "field", &v)) {
    if (!json_object_is_type(v, json_type_string)) {
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "field: expected an output name");
      goto fail;
    }
    e->field = pc_strdup(json_object_get_string(v));
  } else {
    /* As DSPy's majority(): the last output field. */
    e->field = pc_strdup(first->outputs[first->n_outputs - 1].name);
  }
  if (!e->field) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  for (size_t i = 0; !rc && i < n; i++)
    rc = check_member(ld, m, e, e->mods[i], i);
  if (rc)
    goto fail;
  if (!(m->io = pc_signature_copy(first))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  m->data = e;
  return PC_OK;

fail:
  free_ens(e);
  return rc;
}

/* A character of Python's string.punctuation. */
static int is_punct(int c)
{
  return c < 128 && ispunct(c);
}

/* Is s[i..i+n) a whole word of s (len bytes)? */
static int whole_word(const char *s, size_t len, size_t i, size_t n)
{
  return (i == 0 || !isalnum((unsigned char)s[i - 1])) &&
         (i + n == len || !isalnum((unsigned char)s[i + n]));
}

/*
 * DSPy's normalize_text (ASCII part): lowercase, drop punctuation, the
 * words "a", "an" and "the" become spaces, whitespace collapsed. The
 * result is appended to `out`.
 */
static int normalize(const char *s, size_t len, pc_buf *out)
{
  pc_buf t;
  int rc = PC_OK, space = 0;

  pc_buf_init(&t, 0);
  for (size_t i = 0; !rc && i < len; i++) {
    unsigned char c = (unsigned char)s[i];

    if (!is_punct(c))
      rc = pc_buf_putc(&t, (char)tolower(c));
  }
  for (size_t i = 0; !rc && i < t.len; i++) {
    static const char *const articles[] = {"the", "an", "a"};
    char c = t.data[i];

    for (size_t a = 0; a < 3; a++) {
      size_t n = strlen(articles[a]);

      if (i + n <= t.len && !memcmp(t.data + i, articles[a], n) &&
          whole_word(t.data, t.len, i, n)) {
        i += n - 1;
        c = ' ';
        break;
      }
    }
    if (isspace((unsigned char)c)) {
      space = 1;
      continue;
    }
    if (space && out->len && pc_buf_putc(out, ' '))
      rc = PC_E_NOMEM;
    space = 0;
    if (!rc && pc_buf_putc(out, c))
      rc = PC_E_NOMEM;
  }
  pc_buf_free(&t);
  return rc ? PC_E_NOMEM : PC_OK;
}

/* The normalised text of output `field` of `o`, as a new string; "" for
 * a value that normalises to nothing (DSPy's None). */
static char *vote_of(const struct json_object *o, const char *field,
                     pc_error *err)
{
  pc_buf raw, n;
  char *s = NULL;

  pc_buf_init(&raw, 0);
  pc_buf_init(&n, 0);
  if (pc_value_render(pc_json_member(o, field), NULL, PC_VALUE_RENDER_PYSTR,
                      &raw, err) == PC_OK &&
      normalize(raw.data ? raw.data : "", raw.len, &n) == PC_OK)
    s = n.data ? pc_buf_take(&n, NULL) : pc_strdup("");
  pc_buf_free(&raw);
  pc_buf_free(&n);
  return s;
}

/* The inputs module `o` takes, copied from `inputs`. NULL when out of
 * memory. */
static struct json_object *inputs_for(const pc_module *o,
                                      const struct json_object *inputs)
{
  const pc_signature *io = pc_module_io(o);
  struct json_object *in = json_object_new_object();

  for (size_t i = 0; in && i < io->n_inputs; i++) {
    struct json_object *v, *c = NULL;

    if (!json_object_object_get_ex(inputs, io->inputs[i].name, &v))
      continue;
    if ((v && json_object_deep_copy(v, &c, NULL) != 0) ||
        json_object_object_add(in, io->inputs[i].name, c) != 0) {
      json_object_put(c);
      json_object_put(in);
      in = NULL;
    }
  }
  return in;
}

static int forward_ens(pc_run_ctx *ctx, const pc_module *m,
                       const struct json_object *inputs,
                       struct json_object **outputs, pc_error *err)
{
  const ens *e = m->data;
  struct json_object **outs = pc_calloc(e->n, sizeof(*outs));
  char **votes = pc_calloc(e->n, sizeof(*votes));
  size_t best = 0, best_count = 0, any_value = 0;
  int rc = PC_OK;

  *outputs = NULL;
  if (!outs || !votes) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
    goto out;
  }
  for (size_t i = 0; i < e->n; i++) {
    struct json_object *in = inputs_for(e->mods[i], inputs);

    if (!in) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
    rc = pc_module_forward(ctx, e->mods[i], in, &outs[i], err);
    json_object_put(in);
    if (rc)
      goto out;
    if (!(votes[i] = vote_of(outs[i], e->field, err))) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
    if (*votes[i])
      any_value = 1;
  }
  /* Count in module order; the first value to reach the highest count
   * wins, so ties go to the earliest module (DSPy's max over a dict in
   * insertion order). Values that normalise to nothing only count when
   * nothing else is there. */
  for (size_t i = 0; i < e->n; i++) {
    size_t count = 0, seen = 0;

    if (any_value && !*votes[i])
      continue;
    for (size_t k = 0; k < i; k++)
      seen |= !strcmp(votes[k], votes[i]);
    if (seen)
      continue;
    for (size_t k = i; k < e->n; k++)
      count += !strcmp(votes[k], votes[i]);
    if (count > best_count) {
      best_count = count;
      best = i;
    }
  }
  *outputs = outs[best];
  outs[best] = NULL;
out:
  for (size_t i = 0; i < e->n; i++) {
    if (outs)
      json_object_put(outs[i]);
    if (votes)
      pc_free(votes[i]);
  }
  pc_free(outs);
  pc_free(votes);
  return rc;
}

const pc_module_type pc__module_ensemble = {
  "ensemble", ens_members, 0, load_ens, forward_ens, free_ens
};
