/*
 * tool.h - the tools of a runtime: what a ReAct agent, a retrieve module or
 * a program plugin calls by name (docs/tools.md).
 *
 * A tool is a pc.tool/1 table (sdk/include/promptc/plugin.h) with an
 * instance and settings. The config's "tools" member names them
 * ({"wiki": {"type": "search", "index": "corpus.db", "k": 3}}); "type" is a
 * built-in tool (calculator, search) or the name of a pc.tool/1 plugin and
 * defaults to the entry's name; "timeout_ms" (default 10000) bounds every
 * call. A name the config does not list resolves to the built-in tool of
 * that name with no settings (only the calculator works that way: search
 * needs an index).
 *
 * Tools are made on first use and kept until the runtime closes. Calls may
 * run on many threads at once: the host serialises calls on one instance
 * unless its plugin sets PC_PLUGIN_THREADSAFE_INSTANCES.
 */
#ifndef PC_TOOL_H
#define PC_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"
#include "runtime.h"

typedef struct pc_tool pc_tool;

/* "timeout_ms": the default and the largest allowed. */
#define PC_TOOL_TIMEOUT_DEFAULT 10000
#define PC_TOOL_TIMEOUT_MAX 600000

/* The built-in tools (tool_calculator.c, tool_search.c). */
extern const pc_tool_iface pc__tool_calculator;
extern const pc_tool_iface pc__tool_search;

/*
 * pc_runtime_tool - the tool called `name` in runtime `rt`, made on first
 * use. *out is borrowed from the runtime. PC_E_UNSUPPORTED when the
 * entry's "type" is neither built in nor a loaded pc.tool/1 plugin;
 * PC_E_INVALID_ARG for a name with no entry that is not built in, a bad
 * config entry (the message names "<config>: tools.<name>.<member>"); a
 * failed create()'s code and message; PC_E_NOMEM.
 */
int pc_runtime_tool(pc_runtime *rt, const char *name, pc_tool **out,
                    pc_error *err);

/*
 * pc_tool_open - a tool made from table `vt` outside any runtime (what
 * pc_runtime_tool does for each config entry; tests use it directly).
 * `plugin_state` goes to vt->create, `threadsafe` non-zero lets calls on
 * the instance overlap, `settings` (borrowed, may be NULL for {}) is the
 * JSON given to create(), `timeout_ms` bounds every call (0: the
 * default). On success *out holds one reference (pc_tool_unref). Errors:
 * PC_E_INVALID_ARG for a bad table, create()'s code with its message
 * after "tool '<name>': ", PC_E_NOMEM.
 */
int pc_tool_open(const pc_tool_iface *vt, void *plugin_state, int threadsafe,
                 const char *name, const struct json_object *settings,
                 int64_t timeout_ms, pc_tool **out, pc_error *err);

/* Drop a reference from pc_tool_open. The instance is destroyed once no
 * abandoned call still runs on it. NULL is a no-op. Never use on a tool
 * from pc_runtime_tool (the runtime owns those). */
void pc_tool_unref(pc_tool *t);

/* The timeout of every call, in milliseconds. */
int64_t pc_tool_timeout_ms(const pc_tool *t);

/* The name the LM sees (the config entry's name), the description and the
 * argument schema (a JSON object: name -> JSON schema), all borrowed. */
const char *pc_tool_name(const pc_tool *t);
const char *pc_tool_description(const pc_tool *t);
const struct json_object *pc_tool_args(const pc_tool *t);

/*
 * pc_tool_call - call tool `t` with `args` (a JSON object, borrowed).
 *
 * On success *observation is the tool's text (owned by the caller,
 * pc_free; NUL-terminated, length in *len when len is not NULL). On
 * failure *observation is NULL and the code says why: the tool's own code
 * and message, PC_E_INVALID_ARG for arguments that are not an object or
 * lack a required one, PC_E_TIMEOUT when the call ran past the tool's
 * timeout_ms or the deadline of `call` (may be NULL; the tool is then
 * abandoned and its late result dropped), PC_E_CANCELLED.
 */
int pc_tool_call(pc_tool *t, const pc_call *call,
                 const struct json_object *args, char **observation,
                 size_t *len, pc_error *err);

/*
 * pc_tool_check_program - resolve, in runtime `rt`, every tool that a
 * "react" module ("tools") or a "retrieve" module ("tool") of `prog`
 * names, making each now rather than at the first call: a bad config
 * entry, an unknown tool or a search index that cannot be opened is
 * reported once, before any example runs. The message starts with
 * "modules.<m>.tools[<i>]: " or "modules.<m>.tool: ", then what
 * pc_runtime_tool says. Tools a program plugin calls by name are not
 * known until it runs and are not checked. Meant for
 * pc_runtime_check_program(). Returns PC_OK or the first error's code.
 */
struct pc_program;
int pc_tool_check_program(pc_runtime *rt, const struct pc_program *prog,
                          pc_error *err);

#endif
