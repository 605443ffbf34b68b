/*
 * sim_answer.h - the sim's skill model and its answers: finding the item
 * a request is about, counting good demos, the probability of a right
 * value, right and wrong values of the right type, uninformed values, and
 * rendering outputs as the chat or JSON adapter expects them (or, now and
 * then, malformed).
 *
 * Output values are arrays of pc_json handles, one per output field of
 * the request, each owned (NULL while undecided); release them with
 * pc__sim_values_free.
 */
#ifndef PC_SIM_ANSWER_H
#define PC_SIM_ANSWER_H

#include "sim_common.h"
#include "sim_knowledge.h"
#include "sim_request.h"

/* What the skill formula is given (docs/sim.md, "The model"). */
typedef struct pc__sim_skill_in {
  size_t good_demos;   /* complete, right, of other items */
  double phrase_frac;  /* share of key phrases in the instructions */
  int hard;            /* the item is hard */
  int reasoning;       /* the outputs include "reasoning" or "rationale" */
} pc__sim_skill_in;

/* p(correct) = clamp(base + demo_gain * min(good, cap) + instruction_gain
 * * frac - (hard ? hard_penalty - (reasoning ? reasoning_gain : 0) : 0),
 * 0, max_skill). */
double pc__sim_skill(const pc__sim_config *c, const pc__sim_skill_in *in);

/* The share of the configured key phrases found in text[0..len) without
 * regard to case; 0 when there are none. */
double pc__sim_phrase_fraction(const pc__sim_config *c, const char *text,
                               size_t len);

/*
 * pc__sim_find_item - the knowledge row whose fields equal the texts
 * given for the request's inputs (texts[i] for input i; absent ones are
 * not compared; at least one must be there), rendered as the adapter
 * renders inputs and compared with whitespace collapsed. *row is the
 * lowest such row index, or -1. Fails only with PC_E_NOMEM.
 */
int pc__sim_find_item(const pc__sim_host *h, const pc__sim_knowledge *kn,
                      const pc__sim_request *req, const pc__sim_text *texts,
                      long *row, pc_error *err);

/*
 * pc__sim_find_item_loose - as pc__sim_find_item on the current inputs,
 * with the inputs whose name is no knowledge field set aside (a
 * comparison's attempts, a refine hint_); *row is -1 unless at least one
 * input was set aside and at least one knowledge-field input remains,
 * all of which match the row. Fails only with PC_E_NOMEM.
 */
int pc__sim_find_item_loose(const pc__sim_host *h,
                            const pc__sim_knowledge *kn,
                            const pc__sim_request *req, long *row,
                            pc_error *err);

/* Non-zero when the request has an input "hint_" whose text is neither
 * empty nor "N/A" (refine's advice). */
int pc__sim_hinted(const pc__sim_request *req);

/*
 * pc__sim_attempts_agree - *majority is non-zero when the request has
 * inputs reasoning_attempt_1..M (multi_chain_comparison) and more than
 * half of them predict the gold of row `item`'s value for the request's
 * last output (the text after "my prediction is ", whitespace collapsed,
 * any case). Fails only with PC_E_NOMEM.
 */
int pc__sim_attempts_agree(const pc__sim_host *h,
                           const pc__sim_knowledge *kn,
                           const pc__sim_request *req, long item,
                           int *majority, pc_error *err);

/*
 * pc__sim_good_demos - how many of the request's demos are good: complete,
 * not of the current `item`, and, when they are of a knowledge row, with
 * every output that row has equal to its gold (rendered, whitespace
 * collapsed, without regard to case).
 */
int pc__sim_good_demos(const pc__sim_host *h, const pc__sim_knowledge *kn,
                       const pc__sim_request *req, long item, size_t *good,
                       pc_error *err);

/*
 * pc__sim_draw - host->rng_u64(seed, "<what>:<field>:<sample>", index,
 * draw) into *out. PC_E_NOMEM when the purpose text cannot be built.
 */
int pc__sim_draw(const pc__sim_host *h, uint64_t seed, const char *what,
                 const char *field, const char *sample, uint64_t index,
                 uint64_t draw, uint64_t *out);

/*
 * pc__sim_task_values - the outputs for knowledge row `item`: each output
 * the row has is right (its gold) when its draw falls below `p`, else a
 * wrong value of the right type; "reasoning" gets a sentence naming the
 * values given; other outputs get generated or uninformed values.
 * `values` has one slot per output (filled with owned handles).
 */
int pc__sim_task_values(const pc__sim_host *h, const pc__sim_config *c,
                        const pc__sim_knowledge *kn,
                        const pc__sim_request *req, long item, double p,
                        const char *sample, pc_json **values,
                        pc_error *err);

/* Uninformed values of the right types ("I am not sure.", 0, 0.0, false,
 * the first Literal value, [], {}, null) for every output still NULL. */
int pc__sim_fill_uninformed(const pc__sim_host *h, const pc__sim_request *req,
                            pc_json **values, pc_error *err);

/* A new uninformed value for the type name s[0..len); NULL when out of
 * memory. With `non_null`, an Optional gets its inner type's value. */
pc_json *pc__sim_uninformed(const pc__sim_host *h, const char *s, size_t len,
                            int non_null);

/* Append the outputs as the request's adapter parses them: chat sections
 * and the completed marker, or one JSON object (indent 2). */
int pc__sim_render_outputs(const pc__sim_host *h, const pc__sim_request *req,
                           pc_json *const *values, pc__sim_buf *out,
                           pc_error *err);

/* Append prose that the request's adapter cannot parse (chat: no section
 * markers; json: no JSON value at all), mentioning the values. */
int pc__sim_render_malformed(const pc__sim_host *h,
                             const pc__sim_request *req,
                             pc_json *const *values, pc__sim_buf *out,
                             pc_error *err);

/* Append the value rendered for a prompt, on one line (whitespace runs
 * collapsed). */
int pc__sim_put_inline(const pc__sim_host *h, const pc_json *v, int as_str,
                       pc__sim_buf *out, pc_error *err);

void pc__sim_values_free(const pc__sim_host *h, pc_json **values, size_t n);

#endif
