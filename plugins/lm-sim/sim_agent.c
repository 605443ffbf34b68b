/* sim_agent.c - the sim's ReAct steps, extract steps and search-query
 * generation, read from the gold tool calls and hops of knowledge rows
 * (docs/sim.md, "Agents and query generation"). */
#include <string.h>

#include "sim_agent.h"
#include "sim_answer.h"

#define MAX_CALLS 256  /* tool calls read from one trajectory */

/* Share of wrong ReAct steps that finish too early (the rest call the
 * right tool with another item's arguments). */
#define PREMATURE_FINISH_SHARE 0.5

/* One tool call read from a trajectory: spans of the trajectory text. */
typedef struct made_call {
  const char *name;
  size_t name_len;
  const char *args;
  size_t args_len;
} made_call;

static long find_field(const pc__sim_field *f, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(f[i].name, name))
      return (long)i;
  return -1;
}

int pc__sim_agent_prepare(const pc__sim_host *h, pc__sim_request *r,
                          pc__sim_agent *a, pc_error *err)
{
  long ti;

  (void)err;
  memset(a, 0, sizeof(*a));
  a->query_output = -1;
  if (!r->formatted)
    return PC_OK;
  ti = find_field(r->inputs, r->n_inputs, "trajectory");
  if (ti >= 0) {
    a->trajectory = r->current[ti].s;
    a->trajectory_len = r->current[ti].len;
    r->current[ti].s = NULL;
    r->current[ti].len = 0;
    for (size_t d = 0; d < r->n_demos; d++) {
      pc__sim_free(h, r->demos[d].inputs[ti].s);
      r->demos[d].inputs[ti].s = NULL;
      r->demos[d].inputs[ti].len = 0;
    }
  }
  if (find_field(r->outputs, r->n_outputs, "next_thought") >= 0 &&
      find_field(r->outputs, r->n_outputs, "next_tool_name") >= 0 &&
      find_field(r->outputs, r->n_outputs, "next_tool_args") >= 0) {
    a->kind = PC__SIM_AGENT_STEP;
  } else if (ti >= 0) {
    a->kind = PC__SIM_AGENT_EXTRACT;
  } else {
    a->query_output = find_field(r->outputs, r->n_outputs, "query");
    if (a->query_output < 0)
      a->query_output = find_field(r->outputs, r->n_outputs, "search_query");
    if (a->query_output >= 0)
      a->kind = PC__SIM_AGENT_QUERY;
  }
  return PC_OK;
}

void pc__sim_agent_clear(const pc__sim_host *h, pc__sim_agent *a)
{
  pc__sim_free(h, a->trajectory);
  memset(a, 0, sizeof(*a));
}

int pc__sim_agent_find_item(const pc__sim_host *h,
                            const pc__sim_knowledge *kn,
                            const pc__sim_request *r, long *row,
                            pc_error *err)
{
  pc__sim_text *one;
  int rc = PC_OK;

  *row = -1;
  one = pc__sim_alloc(h, (r->n_inputs + 1) * sizeof(*one));
  if (!one)
    return PC__SIM_OOM(err);
  for (size_t i = 0; !rc && *row < 0 && i < r->n_inputs; i++) {
    long found;

    if (!r->current[i].s)
      continue;
    memset(one, 0, r->n_inputs * sizeof(*one));
    one[i] = r->current[i];
    rc = pc__sim_find_item(h, kn, r, one, &found, err);
    if (!rc && found >= 0 &&
        h->json->object_get(kn->rows[found].obj, PC__SIM_HOPS))
      *row = found;
  }
  pc__sim_free(h, one);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading a trajectory.                                                    */

/* Whether the line s[0..len) is a "[[ ## name ## ]]" header; the name's
 * span in *name. */
static int header(const char *s, size_t len, const char **name,
                  size_t *name_len)
{
  size_t i = 6;

  if (len < 14 || memcmp(s, "[[ ## ", 6))
    return 0;
  while (i < len && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9')))
    i++;
  if (i + 6 > len || memcmp(s + i, " ## ]]", 6))
    return 0;
  *name = s + 6;
  *name_len = i - 6;
  return 1;
}

static int name_is(const char *s, size_t len, const char *prefix,
                   size_t *index)
{
  size_t n = strlen(prefix), k = 0;

  if (len <= n || memcmp(s, prefix, n))
    return 0;
  for (size_t i = n; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    k = k * 10 + (size_t)(s[i] - '0');
  }
  *index = k;
  return 1;
}

/* The tool calls of a trajectory, in step order: their count. */
static size_t read_calls(const char *t, size_t len, made_call *calls)
{
  size_t pos = 0, n = 0, idx = 0;
  const char **cur = NULL, *start = NULL;
  size_t *cur_len = NULL;

  memset(calls, 0, MAX_CALLS * sizeof(*calls));
  if (!t)
    return 0;
  for (;;) {
    size_t end = pos, name_len = 0, s, e;
    const char *name = NULL;
    int at_end = pos >= len, is_header = 0;

    if (!at_end) {
      while (end < len && t[end] != '\n')
        end++;
      is_header = header(t + pos, end - pos, &name, &name_len);
    }
    if (at_end || is_header) {
      if (cur) {
        pc__sim_trim(start, (size_t)(t + pos - start), &s, &e);
        *cur = start + s;
        *cur_len = e - s;
      }
      cur = NULL;
      if (at_end)
        break;
      if (name_is(name, name_len, "tool_name_", &idx) && idx < MAX_CALLS) {
        cur = &calls[idx].name;
        cur_len = &calls[idx].name_len;
      } else if (name_is(name, name_len, "tool_args_", &idx) &&
                 idx < MAX_CALLS) {
        cur = &calls[idx].args;
        cur_len = &calls[idx].args_len;
      }
      if (cur && idx + 1 > n)
        n = idx + 1;
      start = t + (end < len ? end + 1 : end);
    }
    pos = end < len ? end + 1 : len;
  }
  return n;
}

/* Whether made call `m` is gold call `g` ({"tool", "args"}): the same
 * tool, and every gold argument there with the same text (whitespace
 * collapsed, any case). Sets *match; a failed render is its code. */
static int call_matches(const pc__sim_host *h, const made_call *m,
                        const pc_json *g, int *match, pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *tool = js->object_get(g, "tool");
  const pc_json *args = js->object_get(g, "args");
  const char *tname;
  size_t tlen, i;
  pc_json *made = NULL;
  pc__sim_buf a, b;
  int rc = PC_OK;

  *match = 0;
  if (!m->name || !tool || js->type(tool) != PC_JSON_STRING)
    return PC_OK;
  tname = js->get_string(tool, &tlen);
  if (!pc__sim_collapsed_eq(m->name, m->name_len, tname, tlen, 0))
    return PC_OK;
  *match = 1;
  if (!args || js->type(args) != PC_JSON_OBJECT || js->object_len(args) == 0)
    return PC_OK;
  if (!m->args || js->parse(h->host->ctx, m->args, m->args_len,
                            PC_JSON_PARSE_REPAIR, &made, NULL) ||
      js->type(made) != PC_JSON_OBJECT) {
    js->free(h->host->ctx, made);
    *match = 0;
    return PC_OK;
  }
  pc__sim_buf_init(&a, h);
  pc__sim_buf_init(&b, h);
  for (i = 0; !rc && *match && i < js->object_len(args); i++) {
    const char *key;
    const pc_json *gv, *mv;

    js->object_at(args, i, &key, &gv);
    mv = js->object_get(made, key);
    a.len = b.len = 0;
    if (!mv) {
      *match = 0;
      break;
    }
    rc = pc__sim_render(h, gv, 1, &a, err);
    if (!rc)
      rc = pc__sim_render(h, mv, 1, &b, err);
    if (!rc)
      *match = pc__sim_collapsed_eq(pc__sim_buf_str(&a), a.len,
                                    pc__sim_buf_str(&b), b.len, 1);
  }
  pc__sim_buf_free(&a);
  pc__sim_buf_free(&b);
  js->free(h->host->ctx, made);
  if (rc)
    *match = 0;
  return rc;
}

/* The row's gold calls (*gold: an array, or NULL) and how many of them
 * the trajectory made in order (*done) and how many calls it made
 * (*made). A failed render is its code. */
static int progress(const pc__sim_host *h, const pc__sim_knowledge *kn,
                    long item, const pc__sim_agent *a, const pc_json **gold,
                    size_t *done, size_t *made, made_call *calls,
                    pc_error *err)
{
  const pc_json *g = h->json->object_get(kn->rows[item].obj,
                                         PC__SIM_TOOL_CALLS);
  size_t n_gold, i;
  int rc = PC_OK;

  *gold = NULL;
  *done = 0;
  *made = read_calls(a->trajectory, a->trajectory_len, calls);
  if (!g || h->json->type(g) != PC_JSON_ARRAY)
    return PC_OK;
  n_gold = h->json->array_len(g);
  for (i = 0; !rc && i < *made && *done < n_gold; i++) {
    int match = 0;

    rc = call_matches(h, &calls[i], h->json->array_get(g, *done), &match,
                      err);
    if (!rc && match)
      (*done)++;
  }
  if (!rc)
    *gold = g;
  return rc;
}

int pc__sim_agent_extract_p(const pc__sim_host *h, const pc__sim_config *c,
                            const pc__sim_knowledge *kn, long item,
                            const pc__sim_agent *a, double *p, pc_error *err)
{
  const pc_json_api *js = h->json;
  made_call calls[MAX_CALLS];
  size_t done, made, n, held = 0;
  const pc_json *gold;
  int rc = progress(h, kn, item, a, &gold, &done, &made, calls, err);

  if (rc || !gold || (n = js->array_len(gold)) == 0)
    return rc;
  for (size_t i = 0; i < n; i++) {
    const pc_json *expect = js->object_get(js->array_get(gold, i), "expect");

    if (expect && js->type(expect) == PC_JSON_STRING) {
      held += a->trajectory &&
              pc__sim_icontains(a->trajectory, a->trajectory_len,
                                js->get_string(expect, NULL));
    } else {
      held += i < done;
    }
  }
  if (held == n)
    *p = c->max_skill;
  else
    *p = *p * (double)held / (double)n;
  return PC_OK;
}

/* Whether any current input of r holds `text` (any case). */
static int inputs_hold(const pc__sim_request *r, const char *text)
{
  for (size_t i = 0; i < r->n_inputs; i++)
    if (r->current[i].s &&
        pc__sim_icontains(r->current[i].s, r->current[i].len, text))
      return 1;
  return 0;
}

double pc__sim_agent_passages_p(const pc__sim_host *h,
                                const pc__sim_config *c,
                                const pc__sim_knowledge *kn, long item,
                                const pc__sim_request *r, double p)
{
  const pc_json_api *js = h->json;
  const pc_json *hops = js->object_get(kn->rows[item].obj, PC__SIM_HOPS);
  size_t n = 0, held = 0;
  pc__sim_buf b;

  if (!hops || js->type(hops) != PC_JSON_ARRAY)
    return p;
  pc__sim_buf_init(&b, h);
  for (size_t i = 0; i < js->array_len(hops); i++) {
    const pc_json *e = js->array_get(hops, i);
    const pc_json *title = e && js->type(e) == PC_JSON_OBJECT
                             ? js->object_get(e, "title") : NULL;

    if (!title || js->type(title) != PC_JSON_STRING)
      continue;
    /* The passage itself ("title | text"), not a mere mention. */
    n++;
    b.len = 0;
    if (pc__sim_buf_printf(&b, "%s |", js->get_string(title, NULL)))
      break;
    held += inputs_hold(r, pc__sim_buf_str(&b));
  }
  pc__sim_buf_free(&b);
  if (n == 0)
    return p;
  if (held == n)
    return c->max_skill;
  return p * (double)held / (double)n;
}

/* ------------------------------------------------------------------------ */
/* Answers.                                                                 */

/* Member `key` (an array) of row `r`, its element `k` when it is an
 * object with a string member `field`; else NULL. */
static const pc_json *nth_of(const pc__sim_host *h, const pc_json *r,
                             const char *key, size_t k, const char *field)
{
  const pc_json *arr = h->json->object_get(r, key), *e;

  if (!arr || h->json->type(arr) != PC_JSON_ARRAY ||
      k >= h->json->array_len(arr))
    return NULL;
  e = h->json->array_get(arr, k);
  if (!e || h->json->type(e) != PC_JSON_OBJECT)
    return NULL;
  e = h->json->object_get(e, field);
  return e && h->json->type(e) == PC_JSON_STRING ? h->json->array_get(arr, k)
                                                 : NULL;
}

/* Another row's element k of `key` whose `field` is `same` (when not
 * NULL) and whose `differs` member renders differently from `gold`'s, the
 * scan starting at a drawn row, into *found (NULL when there is none). A
 * failed render is its code. */
static int other_row(const pc__sim_host *h, const pc__sim_knowledge *kn,
                     long item, uint64_t r, const char *key, size_t k,
                     const char *field, const char *same,
                     const char *differs, const pc_json *gold,
                     const pc_json **found, pc_error *err)
{
  pc__sim_buf a, b;
  size_t n = kn->n_rows;
  int rc;

  *found = NULL;
  if (n < 2)
    return PC_OK;
  pc__sim_buf_init(&a, h);
  pc__sim_buf_init(&b, h);
  rc = pc__sim_render(h, h->json->object_get(gold, differs), 1, &a, err);
  for (size_t s = 0; !rc && !*found && s < n; s++) {
    size_t row = (size_t)((r + s) % n);
    const pc_json *e;

    if ((long)row == item ||
        !(e = nth_of(h, kn->rows[row].obj, key, k, field)))
      continue;
    if (same && strcmp(h->json->get_string(h->json->object_get(e, field),
                                           NULL), same))
      continue;
    b.len = 0;
    if (!h->json->object_get(e, differs))
      continue;
    rc = pc__sim_render(h, h->json->object_get(e, differs), 1, &b, err);
    if (!rc && !pc__sim_collapsed_eq(pc__sim_buf_str(&a), a.len,
                                     pc__sim_buf_str(&b), b.len, 1))
      *found = e;
  }
  pc__sim_buf_free(&a);
  pc__sim_buf_free(&b);
  if (rc)
    *found = NULL;
  return rc;
}

static pc_json *str_value(const pc__sim_host *h, const char *s)
{
  return h->json->new_string(h->host->ctx, s, strlen(s));
}

/* The three outputs of a ReAct step calling `tool` with `args` (NULL:
 * {}); thought names the call. */
static int step_values(const pc__sim_host *h, const pc__sim_request *r,
                       const char *thought, const char *tool,
                       const pc_json *args, pc_json **values, pc_error *err)
{
  long it = find_field(r->outputs, r->n_outputs, "next_thought");
  long in = find_field(r->outputs, r->n_outputs, "next_tool_name");
  long ia = find_field(r->outputs, r->n_outputs, "next_tool_args");
  void *ctx = h->host->ctx;

  values[it] = str_value(h, thought);
  values[in] = str_value(h, tool);
  values[ia] = args ? h->json->copy(ctx, args) : h->json->new_object(ctx);
  if (!values[it] || !values[in] || !values[ia])
    return PC__SIM_OOM(err);
  return PC_OK;
}

static int call_step(const pc__sim_host *h, const pc__sim_request *r,
                     const pc_json *call, pc_json **values, pc_error *err)
{
  const pc_json *tool = h->json->object_get(call, "tool");
  const pc_json *args = h->json->object_get(call, "args");
  const char *name = h->json->get_string(tool, NULL);
  pc__sim_buf t;
  int rc;

  pc__sim_buf_init(&t, h);
  rc = pc__sim_buf_printf(&t, "I need more information, so I will call "
                          "%s with ", name) ? PC_E_NOMEM : PC_OK;
  if (!rc)
    rc = args ? pc__sim_render(h, args, 0, &t, err)
              : pc__sim_buf_puts(&t, "{}");
  if (!rc && pc__sim_buf_puts(&t, "."))
    rc = PC_E_NOMEM;
  if (rc == PC_E_NOMEM)
    rc = PC__SIM_OOM(err);
  if (!rc)
    rc = step_values(h, r, pc__sim_buf_str(&t), name,
                     args && h->json->type(args) == PC_JSON_OBJECT ? args
                                                                   : NULL,
                     values, err);
  pc__sim_buf_free(&t);
  return rc;
}

static int react_step(const pc__sim_host *h, const pc__sim_config *c,
                      const pc__sim_knowledge *kn, const pc__sim_request *r,
                      const pc__sim_agent *a, long item, double p,
                      const char *sample, pc_json **values, pc_error *err)
{
  made_call calls[MAX_CALLS];
  size_t done, made, n_gold;
  const pc_json *gold, *next, *wrong;
  uint64_t u, v;
  int rc = progress(h, kn, item, a, &gold, &done, &made, calls, err);

  if (rc)
    return rc;
  n_gold = gold ? h->json->array_len(gold) : 0;
  while (done < n_gold &&
         !nth_of(h, kn->rows[item].obj, PC__SIM_TOOL_CALLS, done, "tool"))
    done++;                     /* a malformed gold call is skipped */
  if (done >= n_gold)
    return step_values(h, r, "I now have the information needed to "
                       "produce the outputs.", "finish", NULL, values, err);
  next = h->json->array_get(gold, done);
  if (pc__sim_draw(h, c->seed, "sim-agent", "step", sample, (uint64_t)item,
                   made, &u) ||
      pc__sim_draw(h, c->seed, "sim-agent-wrong", "step", sample,
                   (uint64_t)item, made, &v))
    return PC__SIM_OOM(err);
  if (pc__sim_unit(u) < p)
    return call_step(h, r, next, values, err);
  if (pc__sim_unit(v) < PREMATURE_FINISH_SHARE)
    return step_values(h, r, "I think I already know enough to answer.",
                       "finish", NULL, values, err);
  rc = other_row(h, kn, item, v, PC__SIM_TOOL_CALLS, done, "tool",
                 h->json->get_string(h->json->object_get(next, "tool"),
                                     NULL), "args", next, &wrong, err);
  if (rc)
    return rc;
  if (!wrong)
    return step_values(h, r, "I think I already know enough to answer.",
                       "finish", NULL, values, err);
  return call_step(h, r, wrong, values, err);
}

static int query_step(const pc__sim_host *h, const pc__sim_config *c,
                      const pc__sim_knowledge *kn, const pc__sim_request *r,
                      const pc__sim_agent *a, long item, double p,
                      const char *sample, pc_json **values, pc_error *err)
{
  const pc_json_api *js = h->json;
  const pc_json *row = kn->rows[item].obj, *hop = NULL, *q;
  size_t n = 0, k;
  uint64_t u;

  for (k = 0; nth_of(h, row, PC__SIM_HOPS, k, "query"); k++)
    n = k + 1;
  if (n == 0)
    return PC_OK;
  for (k = 0; k < n; k++) {
    const pc_json *title;
    int seen = 0;

    hop = nth_of(h, row, PC__SIM_HOPS, k, "query");
    title = js->object_get(hop, "title");
    if (!title || js->type(title) != PC_JSON_STRING)
      break;
    seen = inputs_hold(r, js->get_string(title, NULL));
    if (!seen)
      break;
  }
  if (k == n)
    k = n - 1;
  hop = nth_of(h, row, PC__SIM_HOPS, k, "query");
  if (pc__sim_draw(h, c->seed, "sim-query", r->outputs[a->query_output].name,
                   sample, (uint64_t)item, k, &u))
    return PC__SIM_OOM(err);
  if (pc__sim_unit(u) >= p) {
    const pc_json *other = NULL;
    int rc = other_row(h, kn, item, u >> 11, PC__SIM_HOPS, k, "query", NULL,
                       "query", hop, &other, err);

    if (rc)
      return rc;
    if (other)
      hop = other;
  }
  q = js->object_get(hop, "query");
  if (hop != nth_of(h, row, PC__SIM_HOPS, k, "query") ||
      pc__sim_unit(u) < p) {
    values[a->query_output] = js->copy(h->host->ctx, q);
  } else {
    /* No other row to borrow a wrong query from. */
    pc__sim_buf b;

    pc__sim_buf_init(&b, h);
    if (pc__sim_buf_printf(&b, "background of %s", js->get_string(q, NULL)))
      values[a->query_output] = NULL;
    else
      values[a->query_output] = str_value(h, pc__sim_buf_str(&b));
    pc__sim_buf_free(&b);
  }
  return values[a->query_output] ? PC_OK : PC__SIM_OOM(err);
}

int pc__sim_agent_values(const pc__sim_host *h, const pc__sim_config *c,
                         const pc__sim_knowledge *kn,
                         const pc__sim_request *r, const pc__sim_agent *a,
                         long item, double p, const char *sample,
                         pc_json **values, pc_error *err)
{
  if (a->kind == PC__SIM_AGENT_STEP)
    return react_step(h, c, kn, r, a, item, p, sample, values, err);
  if (a->kind == PC__SIM_AGENT_QUERY)
    return query_step(h, c, kn, r, a, item, p, sample, values, err);
  return PC_OK;
}
