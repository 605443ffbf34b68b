/*
 * sim_agent.h - the sim's answers to agents (docs/sim.md, "Agents and
 * query generation"): ReAct steps (outputs next_thought, next_tool_name,
 * next_tool_args) for knowledge rows that list their gold tool calls, the
 * ReAct extract step (an input called "trajectory"), and search-query
 * generation for rows that list their retrieval hops.
 */
#ifndef PC_SIM_AGENT_H
#define PC_SIM_AGENT_H

#include "sim_common.h"
#include "sim_knowledge.h"
#include "sim_request.h"

/* The row fields the sim reads for agents. */
#define PC__SIM_TOOL_CALLS "tool_calls"
#define PC__SIM_HOPS "hops"

#define PC__SIM_AGENT_NONE 0
#define PC__SIM_AGENT_STEP 1     /* a ReAct step */
#define PC__SIM_AGENT_EXTRACT 2  /* a request with a "trajectory" input */
#define PC__SIM_AGENT_QUERY 3    /* an output called query/search_query */
#define PC__SIM_AGENT_PASSAGES 4 /* found by one input of a row with hops */

/* What the agent parts of a request hold, taken out of it. */
typedef struct pc__sim_agent {
  int kind;                /* PC__SIM_AGENT_* */
  char *trajectory;        /* owned: the current trajectory text, or NULL */
  size_t trajectory_len;
  long query_output;       /* QUERY: the index of the query output */
} pc__sim_agent;

/*
 * pc__sim_agent_prepare - classify request `r` and take its "trajectory"
 * input out of it (the current value into a->trajectory, the demos'
 * values dropped), so that the item is found by the other inputs. `a` is
 * caller storage; release it with pc__sim_agent_clear. PC_E_NOMEM.
 */
int pc__sim_agent_prepare(const pc__sim_host *h, pc__sim_request *r,
                          pc__sim_agent *a, pc_error *err);
void pc__sim_agent_clear(const pc__sim_host *h, pc__sim_agent *a);

/*
 * pc__sim_agent_find_item - for a request whose inputs match no row as a
 * whole (a QUERY request, or a task request that also gets passages): the
 * first row (by input, in order) that one input alone matches and that
 * has "hops". *row is -1 when there is none.
 */
int pc__sim_agent_find_item(const pc__sim_host *h,
                            const pc__sim_knowledge *kn,
                            const pc__sim_request *r, long *row,
                            pc_error *err);

/*
 * pc__sim_agent_extract_p - the probability of a right value in an
 * extract step, updating *p: max_skill when the trajectory holds every
 * gold observation of the row's tool calls, else *p times the share it
 * holds. *p unchanged for a row without tool calls. A tool argument that
 * fails to render is an error (its code), *p then unchanged.
 */
int pc__sim_agent_extract_p(const pc__sim_host *h, const pc__sim_config *c,
                            const pc__sim_knowledge *kn, long item,
                            const pc__sim_agent *a, double *p, pc_error *err);

/*
 * pc__sim_agent_passages_p - the probability of a right value in a
 * PASSAGES request: max_skill when the inputs hold the passage of every
 * hop of the row ("<title> |", as a retriever renders it), else p times
 * the share they hold.
 */
double pc__sim_agent_passages_p(const pc__sim_host *h,
                                const pc__sim_config *c,
                                const pc__sim_knowledge *kn, long item,
                                const pc__sim_request *r, double p);

/*
 * pc__sim_agent_values - fill the agent outputs of a STEP or QUERY
 * request for row `item` (the next gold call, finish, or the next hop's
 * query with probability p; else a wrong call, a premature finish or a
 * wrong query). Other outputs stay NULL for the usual task values.
 */
int pc__sim_agent_values(const pc__sim_host *h, const pc__sim_config *c,
                         const pc__sim_knowledge *kn,
                         const pc__sim_request *r, const pc__sim_agent *a,
                         long item, double p, const char *sample,
                         pc_json **values, pc_error *err);

#endif
