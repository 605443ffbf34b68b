/* module_refine.c - the refine module type: best_of_n's rollout loop with
 * DSPy's OfferFeedback advice passed to the next attempt as hints. */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "module_wrap.h"
#include "type.h"
#include "value.h"

/* DSPy's OfferFeedback signature (dspy/predict/refine.py), with its
 * docstring cleaned as DSPy does and its descriptions as written there
 * (the missing space in "kind ofscenario" included). */
static const char feedback_signature[] =
  "{\"instructions\": \"In the discussion, assign blame to each module that "
  "contributed to the final reward being below the threshold, if\\nany. "
  "Then, prescribe concrete advice of how the module should act on its "
  "future input when we retry the process, if\\nit were to receive the "
  "same or similar inputs. If a module is not to blame, the advice should "
  "be N/A.\\nThe module will not see its own history, so it needs to rely "
  "on entirely concrete and actionable advice from you\\nto avoid the same "
  "mistake on the same or similar inputs.\",\n"
  " \"inputs\": ["
  "{\"name\": \"program_code\", \"desc\": \"The code of the program that we "
  "are analyzing\"},"
  "{\"name\": \"modules_defn\", \"desc\": \"The definition of each module "
  "in the program, including its I/O\"},"
  "{\"name\": \"program_inputs\", \"desc\": \"The inputs to the program "
  "that we are analyzing\"},"
  "{\"name\": \"program_trajectory\", \"desc\": \"The trajectory of the "
  "program's execution, showing each module's I/O\"},"
  "{\"name\": \"program_outputs\", \"desc\": \"The outputs of the program "
  "that we are analyzing\"},"
  "{\"name\": \"reward_code\", \"desc\": \"The code of the reward function "
  "that we are analyzing\"},"
  "{\"name\": \"target_threshold\", \"type\": \"float\", \"desc\": \"The "
  "target threshold for the reward function\"},"
  "{\"name\": \"reward_value\", \"type\": \"float\", \"desc\": \"The reward "
  "value assigned to the program's outputs\"},"
  "{\"name\": \"module_names\", \"type\": \"list[str]\", \"desc\": \"The "
  "names of the modules in the program, for which we seek advice\"}],\n"
  " \"outputs\": ["
  "{\"name\": \"discussion\", \"desc\": \"Discussing blame of where each "
  "module went wrong, if it did\"},"
  "{\"name\": \"advice\", \"type\": \"dict[str, str]\", \"desc\": \"For "
  "each module, describe very concretely, in this order: the specific "
  "scenarios in which it has made mistakes in the past and what each "
  "mistake was, followed by what it should do differently in that kind "
  "ofscenario in the future. If the module is not to blame, write N/A.\"}"
  "]}";

#define REFINE_NEST_MAX 16  /* module references followed from the inner */

typedef struct refine {
  pc__bon *bon;               /* owned */
  const pc_predictor *feedback;  /* borrowed: "<m>.feedback" */
  const pc_predictor **preds; /* owned array of borrowed predictors: those
                                 of the inner module and of the modules it
                                 wraps or uses (DSPy's named_predictors) */
  size_t n_preds;
} refine;

/* The state of one forward: the advice of the last feedback call. */
typedef struct refine_run {
  const pc_module *m;
  const refine *r;
  struct json_object *hints;   /* owned, or NULL: predictor path ->
                                  advice, over the caller's hints */
} refine_run;

static const char *const refine_members[] = {"module", "n", "reward",
                                             "threshold", "fail_count",
                                             NULL};

/* ------------------------------------------------------------------------ */
/* Loading.                                                                 */

static void free_refine(void *data)
{
  refine *r = data;

  if (!r)
    return;
  pc__bon_free(r->bon);
  pc_free(r->preds);
  pc_free(r);
}

/* Append `p` to r->preds unless it is there. */
static int add_pred(refine *r, const pc_predictor *p)
{
  const pc_predictor **grown;

  for (size_t i = 0; i < r->n_preds; i++)
    if (r->preds[i] == p)
      return PC_OK;
  grown = pc_realloc(r->preds, (r->n_preds + 1) * sizeof(*grown));
  if (!grown)
    return PC_E_NOMEM;
  r->preds = grown;
  r->preds[r->n_preds++] = p;
  return PC_OK;
}

static int collect_preds(pc_module_loader *ld, refine *r,
                         const pc_module *mod, int depth);

/* Follow a module name of a spec member (a string, or strings in an
 * array). */
static int collect_named(pc_module_loader *ld, refine *r,
                         struct json_object *v, int depth)
{
  const pc_module *other;
  int rc = PC_OK;

  if (json_object_is_type(v, json_type_array)) {
    for (size_t i = 0; !rc && i < json_object_array_length(v); i++)
      rc = collect_named(ld, r, json_object_array_get_idx(v, i), depth);
    return rc;
  }
  if (!json_object_is_type(v, json_type_string))
    return PC_OK;
  other = pc_module_loader_find(ld, json_object_get_string(v));
  return other ? collect_preds(ld, r, other, depth + 1) : PC_OK;
}

/* The predictors of `mod`, then of the modules its spec names in
 * "module", "modules" and "uses" (the wrapper and plugin types). */
static int collect_preds(pc_module_loader *ld, refine *r,
                         const pc_module *mod, int depth)
{
  static const char *const refs[] = {"module", "modules", "uses"};
  struct json_object *v;
  int rc = PC_OK;

  if (depth > REFINE_NEST_MAX)
    return PC_OK;
  for (size_t i = 0; !rc && i < mod->n_predictors; i++)
    rc = add_pred(r, mod->predictors[i]);
  for (size_t i = 0; !rc && mod->spec && i < 3; i++)
    if (json_object_object_get_ex(mod->spec, refs[i], &v))
      rc = collect_named(ld, r, v, depth);
  return rc;
}

static int load_refine(pc_module_loader *ld, pc_module *m,
                       const struct json_object *spec)
{
  refine *r = pc_calloc(1, sizeof(*r));
  struct json_object *sj = NULL;
  pc_signature *sig = NULL;
  pc_predictor *fp = NULL;
  pc_error e = PC_ERROR_INIT;
  int rc;

  if (!r)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  rc = pc__bon_load(ld, m, spec, &r->bon);
  if (rc)
    goto fail;
  if (collect_preds(ld, r, pc__bon_inner(r->bon), 0)) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (pc_json_parse(feedback_signature, sizeof(feedback_signature) - 1,
                    PC_JSON_PARSE_STRICT, &sj, &e) ||
      pc_signature_from_json(sj, &sig, &e)) {
    rc = pc_module_fail(ld, m, e.code ? e.code : PC_E_INTERNAL,
                        "type: the feedback signature: %s", e.message);
    goto fail;
  }
  rc = pc_module_add_predictor(ld, m, "feedback", sig, &fp);
  sig = NULL;
  if (rc)
    goto fail;
  r->feedback = fp;
  m->data = r;
  json_object_put(sj);
  return PC_OK;

fail:
  json_object_put(sj);
  pc_signature_free(sig);
  free_refine(r);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Attempts with a hint.                                                    */

/*
 * After feedback, an attempt runs with the advice as the context's hints
 * (predict.h): every predictor call inside the inner module, whatever its
 * type (react, chain_of_thought, a nested wrapper, a plugin module), gets
 * the input "hint_" with its advice or "N/A", as DSPy's WrapperAdapter
 * does. Hints of an enclosing refine stay for the paths this one's advice
 * does not name. The first attempt, and an attempt after advice that was
 * empty, run as the caller's context has them.
 */
static int refine_attempt(void *user, pc_run_ctx *actx,
                          const pc_module *inner,
                          const struct json_object *inputs,
                          struct json_object **out, pc_error *err)
{
  refine_run *run = user;
  const struct json_object *saved = actx->hints;
  int rc;

  if (!run->hints)
    return pc_module_forward(actx, inner, inputs, out, err);
  actx->hints = run->hints;
  rc = pc_module_forward(actx, inner, inputs, out, err);
  actx->hints = saved;
  return rc;
}

/* run->hints: the enclosing context's hints (copied) with `advice`'s
 * members over them; NULL when the advice is empty. */
static int make_hints(refine_run *run, const pc_run_ctx *ctx,
                      struct json_object *advice)
{
  struct json_object *h = NULL, *c;

  json_object_put(run->hints);
  run->hints = NULL;
  if (!json_object_is_type(advice, json_type_object) ||
      json_object_object_length(advice) == 0)
    return PC_OK;
  if (ctx->hints) {
    if (json_object_deep_copy((struct json_object *)ctx->hints, &h,
                              NULL) != 0)
      return PC_E_NOMEM;
  } else if (!(h = json_object_new_object())) {
    return PC_E_NOMEM;
  }
  json_object_object_foreach(advice, key, val) {
    c = NULL;
    if ((val && json_object_deep_copy(val, &c, NULL) != 0) ||
        json_object_object_add(h, key, c) != 0) {
      json_object_put(c);
      json_object_put(h);
      return PC_E_NOMEM;
    }
  }
  run->hints = h;
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* The feedback call.                                                       */

/* DSPy's get_field_description_string: "1. `name` (type): desc" lines,
 * the whole stripped, each line of it prefixed with "\n\t\t". */
static int describe_fields(const pc_field *f, size_t n, pc_buf *out)
{
  pc_buf list;
  int rc = PC_OK;
  size_t start;

  pc_buf_init(&list, 0);
  for (size_t i = 0; !rc && i < n; i++) {
    rc |= pc_buf_printf(&list, "%s%zu. `%s` (", i ? "\n" : "", i + 1,
                        f[i].name);
    rc |= pc_type_name(f[i].type, &list);
    rc |= pc_buf_printf(&list, "): %s", f[i].desc);
  }
  /* Strip trailing whitespace (the last line's space after the colon). */
  while (!rc && list.len && (list.data[list.len - 1] == ' ' ||
                             list.data[list.len - 1] == '\n'))
    list.data[--list.len] = '\0';
  start = 0;
  for (size_t i = 0; !rc && i <= list.len; i++) {
    if (i == list.len || list.data[i] == '\n') {
      rc |= pc_buf_puts(out, "\n\t\t");
      rc |= pc_buf_append(out, list.data + start, i - start);
      start = i + 1;
    }
  }
  pc_buf_free(&list);
  return rc ? PC_E_NOMEM : PC_OK;
}

/* Append `s` without leading and trailing newlines (Python strip("\n")). */
static int put_stripped(pc_buf *out, const char *s, size_t len)
{
  while (len && *s == '\n') {
    s++;
    len--;
  }
  while (len && s[len - 1] == '\n')
    len--;
  return pc_buf_append(out, s, len);
}

/* DSPy's inspect_modules over the predictors `preds`. */
static int modules_defn(const pc_predictor *const *preds, size_t n,
                        pc_buf *out)
{
  static const char sep[] =
    "--------------------------------------------------------------------"
    "------------";
  pc_buf part;
  int rc = pc_buf_puts(out, sep) ? PC_E_NOMEM : PC_OK;

  pc_buf_init(&part, 0);
  for (size_t i = 0; !rc && i < n; i++) {
    const pc_signature *sig = preds[i]->signature;
    const char *ins = sig->instructions, *nl;

    rc |= pc_buf_printf(out, "\nModule %s\n\tInput Fields:\n",
                        preds[i]->path);
    pc_buf_reset(&part);
    rc |= describe_fields(sig->inputs, sig->n_inputs, &part);
    rc |= put_stripped(out, part.data ? part.data : "", part.len);
    rc |= pc_buf_puts(out, "\n\tOutput Fields:\n");
    pc_buf_reset(&part);
    rc |= describe_fields(sig->outputs, sig->n_outputs, &part);
    rc |= put_stripped(out, part.data ? part.data : "", part.len);
    rc |= pc_buf_puts(out, "\n\tOriginal Instructions: ");
    pc_buf_reset(&part);
    while (*ins) {
      nl = strchr(ins, '\n');
      rc |= pc_buf_puts(&part, "\n\t\t");
      rc |= pc_buf_append(&part, ins, nl ? (size_t)(nl - ins) : strlen(ins));
      ins = nl ? nl + 1 : ins + strlen(ins);
    }
    /* Inside the element, so the newline after the colon stays. */
    while (part.len && part.data[part.len - 1] == '\n')
      part.data[--part.len] = '\0';
    rc |= pc_buf_append(out, part.data ? part.data : "", part.len);
    rc |= pc_buf_printf(out, "\n%s", sep);
  }
  pc_buf_free(&part);
  return rc ? PC_E_NOMEM : PC_OK;
}

/* Add member `key` with the text of `b` (or JSON-text of `v`, indent 2,
 * as DSPy's orjson.dumps(..., OPT_INDENT_2)). */
static int put_text(struct json_object *o, const char *key, pc_buf *b,
                    const struct json_object *v)
{
  struct json_object *s;
  pc_buf own;
  int rc = PC_OK;

  pc_buf_init(&own, 0);
  if (!b) {
    b = &own;
    rc = pc_json_write(v, PC_JSON_TEXT_PRETTY, b);
  }
  s = rc ? NULL : json_object_new_string_len(b->data ? b->data : "",
                                             (int)b->len);
  pc_buf_free(&own);
  if (!s || json_object_object_add(o, key, s) != 0) {
    json_object_put(s);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Add a deep copy of `v` (NULL: JSON null) as member `key` of `o`. */
static int add_copy(struct json_object *o, const char *key,
                    const struct json_object *v)
{
  struct json_object *c = NULL;

  if (v && json_object_deep_copy((struct json_object *)v, &c, NULL) != 0)
    return PC_E_NOMEM;
  if (json_object_object_add(o, key, c) != 0) {
    json_object_put(c);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static int refine_feedback(void *user, pc_run_ctx *ctx,
                           const struct json_object *inputs,
                           const struct json_object *trace,
                           const struct json_object *outputs, double reward,
                           pc_error *err)
{
  refine_run *run = user;
  const pc_module *inner = pc__bon_inner(run->r->bon);
  struct json_object *in = json_object_new_object(), *traj = NULL;
  struct json_object *names = NULL, *fb = NULL, *advice;
  pc_buf b;
  size_t n = trace ? json_object_array_length(trace) : 0;
  int rc = PC_E_NOMEM;

  pc_buf_init(&b, 0);
  if (!in || !(traj = json_object_new_array()) ||
      !(names = json_object_new_array()))
    goto nomem;
  for (size_t i = 0; i < n; i++) {
    struct json_object *r = json_object_array_get_idx(trace, i);
    struct json_object *step = json_object_new_object(), *c;

    if (!step || json_object_array_add(traj, step) != 0) {
      json_object_put(step);
      goto nomem;
    }
    c = json_object_new_string(pc_json_str(r, "predictor") ?
                               pc_json_str(r, "predictor") : "");
    if (!c || json_object_object_add(step, "module_name", c) != 0) {
      json_object_put(c);
      goto nomem;
    }
    if (add_copy(step, "inputs", pc_json_member(r, "inputs")) ||
        add_copy(step, "outputs", pc_json_member(r, "outputs")))
      goto nomem;
  }
  for (size_t i = 0; i < run->r->n_preds; i++) {
    struct json_object *s = json_object_new_string(run->r->preds[i]->path);

    if (!s || json_object_array_add(names, s) != 0) {
      json_object_put(s);
      goto nomem;
    }
  }
  if (put_text(in, "program_code", NULL, inner->spec))
    goto nomem;
  if (modules_defn(run->r->preds, run->r->n_preds, &b) ||
      put_text(in, "modules_defn", &b, NULL))
    goto nomem;
  if (put_text(in, "program_inputs", NULL, inputs) ||
      put_text(in, "program_trajectory", NULL, traj) ||
      put_text(in, "program_outputs", NULL, outputs) ||
      put_text(in, "reward_code", NULL, pc__bon_reward_spec(run->r->bon)))
    goto nomem;
  pc_buf_reset(&b);
  if (pc_json_write_double(pc__bon_threshold(run->r->bon), &b) ||
      put_text(in, "target_threshold", &b, NULL))
    goto nomem;
  pc_buf_reset(&b);
  if (pc_json_write_double(reward, &b) ||
      put_text(in, "reward_value", &b, NULL) ||
      put_text(in, "module_names", NULL, names))
    goto nomem;
  /* In the caller's context, as DSPy calls OfferFeedback outside the
   * attempt's trace. */
  rc = pc_predict(ctx, run->r->feedback, in, &fb, err);
  if (rc)
    goto out;
  advice = pc_json_member(fb, "advice");
  if (make_hints(run, ctx, advice))
    goto nomem;
  rc = PC_OK;
  goto out;
nomem:
  rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", run->m->name);
out:
  pc_buf_free(&b);
  json_object_put(in);
  json_object_put(traj);
  json_object_put(names);
  json_object_put(fb);
  return rc;
}

static int forward_refine(pc_run_ctx *ctx, const pc_module *m,
                          const struct json_object *inputs,
                          struct json_object **outputs, pc_error *err)
{
  const refine *r = m->data;
  refine_run run = {m, r, NULL};
  pc__bon_hooks hooks = {refine_attempt, refine_feedback, &run};
  int rc = pc__bon_run(ctx, m, r->bon, &hooks, inputs, outputs, err);

  json_object_put(run.hints);
  return rc;
}

const pc_module_type pc__module_refine = {
  "refine", refine_members, 0, load_refine, forward_refine, free_refine
};
