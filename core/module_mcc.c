/* module_mcc.c - the multi_chain_comparison module type: M reasoning
 * attempts compared into one answer, as DSPy's MultiChainComparison. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "module_wrap.h"
#include "type.h"
#include "value.h"

#define MCC_M_DEFAULT 3
#define MCC_M_MAX 10
#define MCC_TEMPERATURE 0.7  /* DSPy's default for the comparing call */

typedef struct mcc {
  int m;                          /* attempts */
  const pc_predictor *attempt;    /* borrowed: "<m>.attempt.predict" */
  const pc_predictor *compare;    /* borrowed: "<m>.predict" */
  double temperature;             /* of the comparing call */
} mcc;

static const char *const mcc_members[] = {"m", NULL};

static void free_mcc(void *data)
{
  pc_free(data);
}

/*
 * The comparing signature, as DSPy builds it: the module's inputs, then
 * reasoning_attempt_1..M (description "${reasoning attempt}", which the
 * prompt shows as it is), and the outputs with "rationale" (description
 * "${corrected reasoning}") put first. The instructions stay the
 * module's.
 */
static int compare_signature(const pc_signature *base, int m,
                             pc_signature **out)
{
  pc_signature *sig = pc_signature_copy(base);
  pc_type *str = pc_type_new_simple(PC_TYPE_STR);
  char name[32];
  int rc = PC_E_NOMEM;

  *out = NULL;
  if (!sig || !str)
    goto fail;
  for (int i = 1; i <= m; i++) {
    snprintf(name, sizeof(name), "reasoning_attempt_%d", i);
    rc = pc__wrap_append_input(sig, name, "${reasoning attempt}");
    if (rc)
      goto fail;
  }
  rc = pc_signature_prepend_output(sig, "rationale", str,
                                   "${corrected reasoning}");
  if (rc)
    goto fail;
  pc_type_free(str);
  *out = sig;
  return PC_OK;
fail:
  pc_type_free(str);
  pc_signature_free(sig);
  return rc;
}

static int load_mcc(pc_module_loader *ld, pc_module *m,
                    const struct json_object *spec)
{
  mcc *d = pc_calloc(1, sizeof(*d));
  pc_signature *att = NULL, *cmp = NULL;
  pc_type *str = pc_type_new_simple(PC_TYPE_STR);
  pc_predictor *p;
  struct json_object *t;
  int64_t n;
  int rc;

  if (!d || !str) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  rc = pc__wrap_int(ld, m, spec, "m", 2, MCC_M_MAX, MCC_M_DEFAULT, 0, &n);
  if (rc)
    goto fail;
  d->m = (int)n;
  d->temperature = MCC_TEMPERATURE;
  if (m->config && json_object_object_get_ex(m->config, "temperature", &t) &&
      (json_object_is_type(t, json_type_double) ||
       json_object_is_type(t, json_type_int)))
    d->temperature = json_object_get_double(t);
  /* The attempts: a chain_of_thought over the signature. */
  att = pc_signature_copy(m->signature);
  if (!att) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  rc = pc_signature_prepend_output(att, "reasoning", str, NULL);
  if (rc) {
    rc = pc_module_fail(ld, m, rc, rc == PC_E_NOMEM ? "type: out of memory"
                        : "signature: the attempts add the field "
                        "'reasoning', which the signature already has");
    goto fail;
  }
  rc = compare_signature(m->signature, d->m, &cmp);
  if (rc) {
    rc = pc_module_fail(ld, m, rc, rc == PC_E_NOMEM ? "type: out of memory"
                        : "signature: multi_chain_comparison adds the "
                        "fields 'rationale' and 'reasoning_attempt_1' to "
                        "'reasoning_attempt_%d', which the signature "
                        "must not have", d->m);
    goto fail;
  }
  /* Flow steps see the comparing call's outputs ("rationale" first). */
  m->io = pc_signature_copy(m->signature);
  if (!m->io || pc_signature_prepend_output(m->io, "rationale", str,
                                            "${corrected reasoning}")) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  rc = pc_module_add_predictor(ld, m, "attempt.predict", att, &p);
  att = NULL;
  if (rc)
    goto fail;
  d->attempt = p;
  rc = pc_module_add_predictor(ld, m, "predict", cmp, &p);
  cmp = NULL;
  if (rc)
    goto fail;
  d->compare = p;
  m->data = d;
  pc_type_free(str);
  return PC_OK;

fail:
  pc_type_free(str);
  pc_signature_free(att);
  pc_signature_free(cmp);
  pc_free(d);
  return rc;
}

/* Python's str.strip() of s[0..len) for ASCII whitespace, then its first
 * line, stripped again: `s.strip().split("\n")[0].strip()`. */
static void first_line(const char *s, size_t len, const char **out,
                       size_t *out_len)
{
  static const char ws[] = " \t\n\r\v\f";
  const char *nl;

  while (len && strchr(ws, *s)) {
    s++;
    len--;
  }
  nl = memchr(s, '\n', len);
  if (nl)
    len = (size_t)(nl - s);
  while (len && strchr(ws, s[len - 1]))
    len--;
  *out = s;
  *out_len = len;
}

/* Append the first line of Python's str() of `v` to `out`. */
static int put_first_line(const struct json_object *v, pc_buf *out,
                          pc_error *err)
{
  pc_buf t;
  const char *s;
  size_t n;
  int rc;

  pc_buf_init(&t, 0);
  rc = pc_value_render(v, NULL, PC_VALUE_RENDER_PYSTR, &t, err);
  if (!rc) {
    first_line(t.data ? t.data : "", t.len, &s, &n);
    rc = pc_buf_append(out, s, n) ? PC_E_NOMEM : PC_OK;
  }
  pc_buf_free(&t);
  return rc;
}

/*
 * One attempt as DSPy renders it: «I'm trying to <first line of the
 * rationale (or reasoning)> I'm not sure but my prediction is <first line
 * of the last output>».
 */
static int render_attempt(const struct json_object *c, const char *last,
                          struct json_object **out, pc_error *err)
{
  struct json_object *why = pc_json_member(c, "rationale");
  pc_buf b;
  int rc;

  *out = NULL;
  if (!why)
    why = pc_json_member(c, "reasoning");
  pc_buf_init(&b, 0);
  rc = pc_buf_puts(&b, "\xc2\xabI'm trying to ") ? PC_E_NOMEM : PC_OK;
  if (!rc)
    rc = put_first_line(why, &b, err);
  if (!rc && pc_buf_puts(&b, " I'm not sure but my prediction is "))
    rc = PC_E_NOMEM;
  if (!rc)
    rc = put_first_line(pc_json_member(c, last), &b, err);
  if (!rc && pc_buf_puts(&b, "\xc2\xbb"))
    rc = PC_E_NOMEM;
  if (!rc && !(*out = json_object_new_string_len(b.data, (int)b.len)))
    rc = PC_E_NOMEM;
  pc_buf_free(&b);
  if (rc == PC_E_NOMEM)
    pc_error_set(err, rc, "out of memory");
  return rc;
}

static int forward_mcc(pc_run_ctx *ctx, const pc_module *m,
                       const struct json_object *inputs,
                       struct json_object **outputs, pc_error *err)
{
  const mcc *d = m->data;
  const struct json_object *saved = ctx->overrides;
  const char *last = m->signature->outputs[m->signature->n_outputs - 1].name;
  struct json_object *in = NULL, *ov = NULL, *c = NULL, *s;
  int64_t start = pc__wrap_rollout_start(ctx);
  char name[32];
  int rc = PC_OK;

  *outputs = NULL;
  if (json_object_deep_copy((struct json_object *)inputs, &in, NULL) != 0)
    goto nomem;
  /* M attempts with rollout ids start .. start+M-1 at temperature 1.0,
   * traced in the caller's trace as DSPy's completions would be. */
  for (int i = 0; i < d->m; i++) {
    if (!(ov = pc__wrap_overrides(ctx, 1, start + i, 1.0)))
      goto nomem;
    ctx->overrides = ov;
    rc = pc_predict(ctx, d->attempt, inputs, &c, err);
    ctx->overrides = saved;
    json_object_put(ov);
    ov = NULL;
    if (rc)
      goto out;
    rc = render_attempt(c, last, &s, err);
    json_object_put(c);
    c = NULL;
    if (rc)
      goto out;
    snprintf(name, sizeof(name), "reasoning_attempt_%d", i + 1);
    if (json_object_object_add(in, name, s) != 0) {
      json_object_put(s);
      goto nomem;
    }
  }
  if (!(ov = pc__wrap_overrides(ctx, 0, 0, d->temperature)))
    goto nomem;
  ctx->overrides = ov;
  rc = pc_predict(ctx, d->compare, in, outputs, err);
  ctx->overrides = saved;
  goto out;

nomem:
  rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
out:
  ctx->overrides = saved;
  json_object_put(ov);
  json_object_put(in);
  return rc;
}

const pc_module_type pc__module_multi_chain_comparison = {
  "multi_chain_comparison", mcc_members, 1, load_mcc, forward_mcc, free_mcc
};
