/*
 * pricing.c - the config's pricing table, applied to usage.
 */
#include <math.h>
#include <string.h>

#include "pricing.h"

static int read_price(const struct json_object *table, const char *name,
                      pc_price *out)
{
  struct json_object *p, *in, *outp;

  if (!table || !name ||
      !json_object_object_get_ex(table, name, &p) ||
      !json_object_object_get_ex(p, "input", &in) ||
      !json_object_object_get_ex(p, "output", &outp))
    return 0;
  out->known = 1;
  out->input_per_m = json_object_get_double(in);
  out->output_per_m = json_object_get_double(outp);
  return 1;
}

void pc_pricing_lookup(const pc_config *cfg, int role, pc_price *out)
{
  const struct json_object *r;
  struct json_object *v;

  memset(out, 0, sizeof(*out));
  if (!cfg || role < 0 || role >= PC_ROLE_COUNT)
    return;
  r = cfg->roles[role] ? cfg->roles[role] : cfg->roles[PC_ROLE_LM];
  if (!r)
    return;
  if (json_object_object_get_ex(r, "model", &v) &&
      json_object_is_type(v, json_type_string) &&
      read_price(cfg->pricing, json_object_get_string(v), out))
    return;
  if (json_object_object_get_ex(r, "provider", &v) &&
      json_object_is_type(v, json_type_string))
    read_price(cfg->pricing, json_object_get_string(v), out);
}

double pc_price_cost(const pc_price *p, const pc_usage *u)
{
  if (u->prompt_tokens <= 0 && u->completion_tokens <= 0)
    return 0.0;
  if (!p->known)
    return NAN;
  return (double)u->prompt_tokens * p->input_per_m / 1e6 +
         (double)u->completion_tokens * p->output_per_m / 1e6;
}
