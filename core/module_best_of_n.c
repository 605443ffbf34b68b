/* module_best_of_n.c - the best_of_n module type, and the rollout loop and
 * small helpers that refine, multi_chain_comparison and parallel share. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "json_text.h"
#include "lm.h"
#include "metric.h"
#include "module.h"
#include "module_wrap.h"
#include "type.h"

/* ------------------------------------------------------------------------ */
/* Helpers shared by the wrapper types (module_wrap.h).                     */

/* An integer rollout id: a JSON integer, or a string holding one. */
static int rollout_of(const struct json_object *v, int64_t *out)
{
  const char *s;
  char *end;
  long long n;

  if (json_object_is_type(v, json_type_int)) {
    *out = json_object_get_int64(v);
    return 1;
  }
  if (!json_object_is_type(v, json_type_string))
    return 0;
  s = json_object_get_string((struct json_object *)v);
  errno = 0;
  n = strtoll(s, &end, 10);
  if (!*s || *end || errno)
    return 0;
  *out = n;
  return 1;
}

int64_t pc__wrap_rollout_start(pc_run_ctx *ctx)
{
  struct json_object *v;
  const struct json_object *params;
  pc_lm *lm;
  int64_t start = 0;

  /* The run's overrides first (an enclosing best_of_n's attempt), then
   * the role's settings, as DSPy reads lm.kwargs["rollout_id"]. */
  if (ctx->overrides &&
      json_object_object_get_ex(ctx->overrides, "rollout_id", &v) &&
      rollout_of(v, &start))
    return start;
  lm = pc_runtime_lm(ctx->rt, ctx->role);
  params = lm ? pc_lm_params(lm) : NULL;
  if (params && json_object_object_get_ex(params, "rollout_id", &v) &&
      rollout_of(v, &start))
    return start;
  return 0;
}

struct json_object *pc__wrap_overrides(const pc_run_ctx *ctx, int rollout,
                                       int64_t rollout_id, double temperature)
{
  struct json_object *o = NULL, *v;

  if (ctx->overrides) {
    if (json_object_deep_copy((struct json_object *)ctx->overrides, &o,
                              NULL) != 0)
      return NULL;
  } else if (!(o = json_object_new_object())) {
    return NULL;
  }
  if (rollout) {
    v = json_object_new_int64(rollout_id);
    if (!v || json_object_object_add(o, "rollout_id", v) != 0)
      goto fail;
  }
  v = json_object_new_double(temperature);
  if (!v || json_object_object_add(o, "temperature", v) != 0)
    goto fail;
  return o;
fail:
  json_object_put(v);
  json_object_put(o);
  return NULL;
}

void pc__wrap_child_begin(pc_run_ctx *child, const pc_run_ctx *ctx,
                          const struct json_object *overrides)
{
  *child = *ctx;
  child->overrides = overrides;
  child->trace = NULL;
  memset(&child->usage, 0, sizeof(child->usage));
  child->parse_failures = 0;
}

void pc__wrap_child_end(pc_run_ctx *ctx, pc_run_ctx *child,
                        struct json_object **trace)
{
  pc_usage_add(&ctx->usage, &child->usage);
  ctx->parse_failures += child->parse_failures;
  if (trace) {
    json_object_put(*trace);
    *trace = child->trace;
  } else {
    json_object_put(child->trace);
  }
  child->trace = NULL;
}

int pc__wrap_append_trace(pc_run_ctx *ctx, const struct json_object *trace)
{
  size_t cap = ctx->trace_cap ? ctx->trace_cap : PC_TRACE_CAP_DEFAULT;
  size_t n = trace ? json_object_array_length(trace) : 0;

  if (n && !ctx->trace && !(ctx->trace = json_object_new_array()))
    return PC_E_NOMEM;
  for (size_t i = 0; i < n; i++) {
    struct json_object *r = json_object_array_get_idx(trace, i), *c = NULL;

    /* A copy: json-c's reference counts are not atomic. */
    if (json_object_deep_copy(r, &c, NULL) != 0)
      return PC_E_NOMEM;
    if (json_object_array_length(ctx->trace) >= cap)
      json_object_array_del_idx(ctx->trace, 0, 1);
    if (json_object_array_add(ctx->trace, c) != 0) {
      json_object_put(c);
      return PC_E_NOMEM;
    }
  }
  return PC_OK;
}

int pc__wrap_append_input(pc_signature *sig, const char *name,
                          const char *desc)
{
  pc_field *grown;
  char *n = NULL, *d = NULL;
  pc_type *t = NULL;

  if (pc_signature_find(sig, name, 0) || pc_signature_find(sig, name, 1))
    return PC_E_INVALID_ARG;
  n = pc_strdup(name);
  d = pc_strdup(desc ? desc : "");
  t = pc_type_new_simple(PC_TYPE_STR);
  if (!n || !d || !t)
    goto fail;
  grown = pc_realloc(sig->inputs, (sig->n_inputs + 1) * sizeof(*grown));
  if (!grown)
    goto fail;
  sig->inputs = grown;
  grown[sig->n_inputs].name = n;
  grown[sig->n_inputs].type = t;
  grown[sig->n_inputs].desc = d;
  sig->n_inputs++;
  /* The instructions stay as they are, as DSPy's append keeps them. */
  return PC_OK;

fail:
  pc_free(n);
  pc_free(d);
  pc_type_free(t);
  return PC_E_NOMEM;
}

/* Non-zero for errors that no further attempt can get past. */
static int fatal_code(int code)
{
  return code == PC_E_CANCELLED || code == PC_E_NOMEM ||
         code == PC_E_BUDGET || code == PC_E_INTERNAL;
}

int pc__wrap_inner(pc_module_loader *ld, pc_module *m,
                   const struct json_object *spec, const pc_module **out)
{
  struct json_object *v;
  const pc_module *inner;

  *out = NULL;
  if (!json_object_object_get_ex(spec, "module", &v))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "module: missing (the name of the module to "
                          "run)");
  if (!json_object_is_type(v, json_type_string))
    return pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "module: expected a module name");
  inner = pc_module_loader_find(ld, json_object_get_string(v));
  if (!inner)
    return pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "module: no module '%s' is declared before this "
                          "one", json_object_get_string(v));
  *out = inner;
  return PC_OK;
}

int pc__wrap_int(pc_module_loader *ld, pc_module *m,
                 const struct json_object *spec, const char *member,
                 int64_t lo, int64_t hi, int64_t dflt, int required,
                 int64_t *out)
{
  struct json_object *v;

  *out = dflt;
  if (!json_object_object_get_ex(spec, member, &v)) {
    if (required)
      return pc_module_fail(ld, m, PC_E_INVALID_ARG, "%s: missing", member);
    return PC_OK;
  }
  if (!json_object_is_type(v, json_type_int) ||
      json_object_get_int64(v) < lo || json_object_get_int64(v) > hi)
    return pc_module_fail(ld, m, PC_E_INVALID_ARG,
                          "%s: expected an integer from %lld to %lld", member,
                          (long long)lo, (long long)hi);
  *out = json_object_get_int64(v);
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* best_of_n and refine: settings and the rollout loop.                     */

struct pc__bon {
  const pc_module *inner;        /* borrowed from the program */
  int n;                         /* attempts, 1..32 */
  struct json_object *reward;    /* owned: the metric spec object */
  double threshold;
  int fail_count;                /* as given, or n */
};

void pc__bon_free(pc__bon *b)
{
  if (!b)
    return;
  json_object_put(b->reward);
  pc_free(b);
}

static const char *const bon_members[] = {"module", "n", "reward",
                                          "threshold", "fail_count", NULL};

int pc__bon_load(pc_module_loader *ld, pc_module *m,
                 const struct json_object *spec, pc__bon **out)
{
  pc__bon *b = pc_calloc(1, sizeof(*b));
  struct json_object *v;
  pc_error e = PC_ERROR_INIT;
  int64_t n, fc;
  int rc;

  *out = NULL;
  if (!b)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  rc = pc__wrap_inner(ld, m, spec, &b->inner);
  if (!rc)
    rc = pc__wrap_int(ld, m, spec, "n", 1, PC__BON_MAX, 0, 1, &n);
  if (!rc)
    rc = pc__wrap_int(ld, m, spec, "fail_count", 0, PC__BON_MAX, 0, 0, &fc);
  if (rc)
    goto fail;
  b->n = (int)n;
  /* DSPy: fail_count or N, so 0 (or no value) means N. */
  b->fail_count = fc ? (int)fc : (int)n;
  if (!json_object_object_get_ex(spec, "reward", &v)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "reward: missing (a metric "
                        "such as \"exact_match:answer\")");
    goto fail;
  }
  if (json_object_is_type(v, json_type_string)) {
    rc = pc_config_metric_spec(json_object_get_string(v), "reward",
                               &b->reward, &e);
    if (rc) {
      rc = pc_module_fail(ld, m, rc, "%s", e.message);
      goto fail;
    }
  } else if (json_object_is_type(v, json_type_object) &&
             json_object_is_type(pc_json_member(v, "name"),
                                 json_type_string)) {
    if (json_object_deep_copy(v, &b->reward, NULL) != 0) {
      rc = pc_module_fail(ld, m, PC_E_NOMEM, "reward: out of memory");
      goto fail;
    }
  } else {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "reward: expected a metric "
                        "name (\"exact_match:answer\") or an object with a "
                        "string \"name\"");
    goto fail;
  }
  if (!json_object_object_get_ex(spec, "threshold", &v)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "threshold: missing");
    goto fail;
  }
  if (!json_object_is_type(v, json_type_int) &&
      !json_object_is_type(v, json_type_double)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG,
                        "threshold: expected a number");
    goto fail;
  }
  b->threshold = json_object_get_double(v);
  m->io = pc_signature_copy(pc_module_io(b->inner));
  if (!m->io) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  *out = b;
  return PC_OK;

fail:
  pc__bon_free(b);
  return rc;
}

const pc_module *pc__bon_inner(const pc__bon *b)
{
  return b->inner;
}

const struct json_object *pc__bon_reward_spec(const pc__bon *b)
{
  return b->reward;
}

double pc__bon_threshold(const pc__bon *b)
{
  return b->threshold;
}

/* The default attempt: the inner module, as it is. */
static int plain_attempt(void *user, pc_run_ctx *actx, const pc_module *inner,
                         const struct json_object *inputs,
                         struct json_object **out, pc_error *err)
{
  (void)user;
  return pc_module_forward(actx, inner, inputs, out, err);
}

int pc__bon_run(pc_run_ctx *ctx, const pc_module *m, const pc__bon *b,
                const pc__bon_hooks *hooks, const struct json_object *inputs,
                struct json_object **outputs, pc_error *err)
{
  pc_metric *metric = NULL;
  struct json_object *best = NULL, *best_trace = NULL, *trace = NULL;
  struct json_object *ov = NULL, *out = NULL;
  double best_reward = 0;
  int64_t start = pc__wrap_rollout_start(ctx);
  int fail_count = b->fail_count, have_best = 0, rc;
  pc_error last = PC_ERROR_INIT;

  *outputs = NULL;
  /* Runs on several threads open the same reward spec at once: safe,
   * since pc_metric_open copies what it takes from a spec. */
  rc = pc_metric_open(pc_runtime_registry(ctx->rt), b->reward, &metric, err);
  if (rc)
    goto out;
  for (int i = 0; i < b->n; i++) {
    pc_run_ctx actx;
    pc_metric_result mr;
    pc_error e = PC_ERROR_INIT;
    double reward = 0;
    int arc;

    json_object_put(ov);
    if (!(ov = pc__wrap_overrides(ctx, 1, start + i, 1.0))) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
    /* Each attempt runs with a trace of its own; only the best one's
     * records reach the caller's trace, as in DSPy. */
    pc__wrap_child_begin(&actx, ctx, ov);
    arc = (hooks && hooks->attempt ? hooks->attempt : plain_attempt)(
      hooks ? hooks->user : NULL, &actx, b->inner, inputs, &out, &e);
    pc__wrap_child_end(ctx, &actx, &trace);
    if (!arc) {
      memset(&mr, 0, sizeof(mr));
      /* The reward sees the module's inputs as the example. */
      arc = pc_metric_score(metric, inputs, out, NULL, &mr, &e);
      reward = mr.score;
      pc_metric_result_clear(&mr);
      if (!arc && (!have_best || reward > best_reward)) {
        json_object_put(best);
        json_object_put(best_trace);
        best = json_object_get(out);
        best_trace = json_object_get(trace);
        best_reward = reward;
        have_best = 1;
      }
      if (!arc && reward >= b->threshold)
        break;
      if (!arc && i == b->n - 1)
        break;
      if (!arc && hooks && hooks->feedback)
        arc = hooks->feedback(hooks->user, ctx, inputs, trace, out, reward,
                              &e);
    }
    json_object_put(out);
    out = NULL;
    if (arc) {
      if (fatal_code(arc) || i > fail_count) {
        rc = pc_error_set(err, arc, "%s: attempt %d (rollout id %lld): %s",
                          m->name, i + 1, (long long)(start + i), e.message);
        goto out;
      }
      /* As DSPy: a failed attempt uses up one of fail_count. */
      fail_count--;
      last = e;
    }
  }
  if (!have_best) {
    rc = pc_error_set(err, last.code ? last.code : PC_E_INTERNAL,
                      "%s: all %d attempts failed; the last: %s", m->name,
                      b->n, last.message);
    goto out;
  }
  if (pc__wrap_append_trace(ctx, best_trace)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
    goto out;
  }
  *outputs = best;
  best = NULL;
  rc = PC_OK;
out:
  json_object_put(out);
  json_object_put(ov);
  json_object_put(trace);
  json_object_put(best);
  json_object_put(best_trace);
  pc_metric_close(metric);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The best_of_n type.                                                      */

static int load_best_of_n(pc_module_loader *ld, pc_module *m,
                          const struct json_object *spec)
{
  pc__bon *b;
  int rc = pc__bon_load(ld, m, spec, &b);

  if (!rc)
    m->data = b;
  return rc;
}

static int forward_best_of_n(pc_run_ctx *ctx, const pc_module *m,
                             const struct json_object *inputs,
                             struct json_object **outputs, pc_error *err)
{
  return pc__bon_run(ctx, m, m->data, NULL, inputs, outputs, err);
}

static void free_best_of_n(void *data)
{
  pc__bon_free(data);
}

const pc_module_type pc__module_best_of_n = {
  "best_of_n", bon_members, 0, load_best_of_n, forward_best_of_n,
  free_best_of_n
};
