/*
 * pricing.h - what LM tokens cost: the config's "pricing" table (USD per
 * million input and output tokens, keyed by a role's "model" member, else
 * by its provider name) applied to usage. A role without a price has an
 * unknown cost, never a zero one.
 */
#ifndef PC_PRICING_H
#define PC_PRICING_H

#include "config.h"
#include "runtime.h"

typedef struct pc_price {
  int known;
  double input_per_m;   /* USD per 1,000,000 prompt tokens */
  double output_per_m;  /* USD per 1,000,000 completion tokens */
} pc_price;

/* The price of role `role` (PC_ROLE_*; a role that is not configured is
 * served by "lm" and priced as it). */
void pc_pricing_lookup(const pc_config *cfg, int role, pc_price *out);

/* The cost of `u` at `p`: NAN when the price is unknown and tokens were
 * paid; 0 when nothing was paid. */
double pc_price_cost(const pc_price *p, const pc_usage *u);

#endif
