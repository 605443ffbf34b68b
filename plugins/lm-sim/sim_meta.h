/*
 * sim_meta.h - the sim's answers to meta-prompts: the requests optimizers
 * make to propose instructions, summarise data or give advice, whose
 * inputs are no knowledge item. The text is generated from a bank of
 * templates; each key phrase goes in with probability meta_phrase_rate,
 * or meta_feedback_rate when the request's inputs mention it, so feedback
 * that names what matters makes better instructions more likely.
 */
#ifndef PC_SIM_META_H
#define PC_SIM_META_H

#include "sim_common.h"
#include "sim_knowledge.h"
#include "sim_request.h"

/* Non-zero when an output name contains "instruction", "summary",
 * "observations", "advice" or "prefix". */
int pc__sim_is_meta(const pc__sim_request *req);

/*
 * pc__sim_meta_values - fill values[i] (one owned handle per output) for
 * a meta-prompt. Draws are keyed on the prompt's hash and `sample`
 * (rollout and choice). Fails only with PC_E_NOMEM.
 */
int pc__sim_meta_values(const pc__sim_host *h, const pc__sim_config *c,
                        const pc__sim_knowledge *kn,
                        const pc__sim_request *req, const char *sample,
                        pc_json **values, pc_error *err);

#endif
