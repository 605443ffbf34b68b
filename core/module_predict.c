/* module_predict.c - the predict and chain_of_thought module types. */
#include <stddef.h>

#include "module.h"
#include "type.h"

/* predict: one predictor, path "<module>", with the module's signature. */
static int load_predict(pc_module_loader *ld, pc_module *m,
                        const struct json_object *spec)
{
  pc_signature *sig = pc_signature_copy(m->signature);

  (void)spec;
  if (!sig)
    return pc_module_fail(ld, m, PC_E_NOMEM, "signature: out of memory");
  return pc_module_add_predictor(ld, m, NULL, sig, NULL);
}

/*
 * chain_of_thought: one predictor, path "<module>.predict", whose
 * signature is the module's with a str output "reasoning" put first, as
 * DSPy's ChainOfThought does. Flow steps see "reasoning" too (m->io).
 */
static int load_chain_of_thought(pc_module_loader *ld, pc_module *m,
                                 const struct json_object *spec)
{
  pc_signature *sig = pc_signature_copy(m->signature);
  pc_type *str = pc_type_new_simple(PC_TYPE_STR);
  int rc;

  (void)spec;
  if (!sig || !str) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "signature: out of memory");
    goto fail;
  }
  rc = pc_signature_prepend_output(sig, "reasoning", str, NULL);
  if (rc == PC_E_NOMEM) {
    rc = pc_module_fail(ld, m, rc, "signature: out of memory");
    goto fail;
  }
  if (rc) {
    rc = pc_module_fail(ld, m, rc, "signature: chain_of_thought adds the "
                        "field 'reasoning', which the signature already "
                        "has");
    goto fail;
  }
  pc_type_free(str);
  str = NULL;
  m->io = pc_signature_copy(sig);
  if (!m->io) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "signature: out of memory");
    goto fail;
  }
  return pc_module_add_predictor(ld, m, "predict", sig, NULL);

fail:
  pc_type_free(str);
  pc_signature_free(sig);
  return rc;
}

/* Both types: one call of the module's only predictor. */
static int forward_predict(pc_run_ctx *ctx, const pc_module *m,
                           const struct json_object *inputs,
                           struct json_object **outputs, pc_error *err)
{
  return pc_predict(ctx, m->predictor, inputs, outputs, err);
}

const pc_module_type pc__module_predict = {
  "predict", NULL, 1, load_predict, forward_predict, NULL
};

const pc_module_type pc__module_chain_of_thought = {
  "chain_of_thought", NULL, 1, load_chain_of_thought, forward_predict, NULL
};
