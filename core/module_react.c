/* module_react.c - the "react" module type: DSPy's ReAct agent, a loop of
 * thought, tool call and observation ended by the "finish" tool, then an
 * extract step with chain of thought (docs/module-react.md). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "module.h"
#include "tool.h"
#include "value.h"

#define REACT_MAX_ITERS_DEFAULT 20
#define REACT_MAX_ITERS_LIMIT 100
#define REACT_MAX_TOOLS 32
#define REACT_TRIM_ATTEMPTS 3   /* calls per step when the context overflows */
#define REACT_STEP_KEYS 4       /* thought, tool_name, tool_args, observation */

static const char *const react_members[] = {"tools", "max_iters", NULL};

typedef struct react_data {
  char *tools[REACT_MAX_TOOLS];  /* owned: the names the LM may pick */
  size_t n_tools;
  int max_iters;
} react_data;

static void react_free(void *data)
{
  react_data *d = data;

  if (!d)
    return;
  for (size_t i = 0; i < d->n_tools; i++)
    pc_free(d->tools[i]);
  pc_free(d);
}

/* ------------------------------------------------------------------------ */
/* Loading.                                                                 */

static int is_identifier(const char *s)
{
  if (!*s || (*s >= '0' && *s <= '9'))
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

/* Append "`a`, `b`" for the fields `f[0..n)`. */
static int put_names(pc_buf *b, const pc_field *f, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((i && pc_buf_puts(b, ", ")) ||
        pc_buf_printf(b, "`%s`", f[i].name))
      return PC_E_NOMEM;
  return PC_OK;
}

/* Append DSPy's str(Tool): "<name>, whose description is <desc>...</desc>.
 * It takes arguments {...}." (newlines of the description part become two
 * spaces). */
static int put_tool(pc_buf *b, const char *name, const char *desc,
                    const struct json_object *args)
{
  pc_error err;

  if (pc_buf_puts(b, name))
    return PC_E_NOMEM;
  if (desc && *desc) {
    if (pc_buf_puts(b, ", whose description is <desc>"))
      return PC_E_NOMEM;
    for (const char *s = desc; *s; s++)
      if (*s == '\n' ? pc_buf_puts(b, "  ") : pc_buf_putc(b, *s))
        return PC_E_NOMEM;
    if (pc_buf_puts(b, "</desc>."))
      return PC_E_NOMEM;
  } else if (pc_buf_putc(b, '.')) {
    return PC_E_NOMEM;
  }
  memset(&err, 0, sizeof(err));
  if (pc_buf_puts(b, " It takes arguments ") ||
      pc_value_render(args, NULL, PC_VALUE_RENDER_PYSTR, b, &err) ||
      pc_buf_putc(b, '.'))
    return PC_E_NOMEM;
  return PC_OK;
}

/* The description and argument schema (new object) a "tools" entry
 * gives: a built-in tool's by name, or the object form's own. */
static int tool_entry(pc_module_loader *ld, pc_module *m, size_t i,
                      const struct json_object *e, const char **name,
                      const char **desc, struct json_object **args)
{
  const pc_tool_iface *vt = NULL;
  struct json_object *v;

  *name = NULL;
  *desc = "";
  *args = NULL;
  if (json_object_is_type(e, json_type_string)) {
    *name = json_object_get_string((struct json_object *)e);
    if (!strcmp(*name, "calculator"))
      vt = &pc__tool_calculator;
    else if (!strcmp(*name, "search"))
      vt = &pc__tool_search;
    if (vt) {
      *desc = vt->description ? vt->description : "";
      *args = json_tokener_parse(vt->args_schema ? vt->args_schema : "{}");
    } else {
      *args = json_object_new_object();
    }
  } else if (json_object_is_type(e, json_type_object)) {
    if (!json_object_object_get_ex(e, "name", &v) ||
        !json_object_is_type(v, json_type_string))
      return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu].name: "
                            "expected a string", i);
    *name = json_object_get_string(v);
    json_object_object_foreach((struct json_object *)e, key, val) {
      (void)val;
      if (strcmp(key, "name") && strcmp(key, "description") &&
          strcmp(key, "args"))
        return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu].%s: "
                              "unknown member (expected name, description "
                              "or args)", i, key);
    }
    if (json_object_object_get_ex(e, "description", &v)) {
      if (!json_object_is_type(v, json_type_string))
        return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu]."
                              "description: expected a string", i);
      *desc = json_object_get_string(v);
    }
    if (json_object_object_get_ex(e, "args", &v)) {
      if (!json_object_is_type(v, json_type_object))
        return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu].args: "
                              "expected an object (name -> JSON schema)", i);
      if (json_object_deep_copy(v, args, NULL))
        *args = NULL;
    } else {
      *args = json_object_new_object();
    }
  } else {
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu]: expected a "
                          "tool name or {\"name\", \"description\", "
                          "\"args\"}", i);
  }
  if (!is_identifier(*name) || !strcmp(*name, "finish")) {
    json_object_put(*args);
    *args = NULL;
    return pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu]: '%s' is not "
                          "a valid tool name (an identifier other than "
                          "finish)", i, *name);
  }
  if (!*args)
    return pc_module_fail(ld, m, PC_E_NOMEM, "tools: out of memory");
  return PC_OK;
}

/* One field object {"name", "type"} for signature JSON. */
static struct json_object *field_json(const char *name, const char *type)
{
  struct json_object *f = json_object_new_object();
  struct json_object *n = json_object_new_string(name);
  struct json_object *t = json_object_new_string(type);

  if (!f || !n || !t || json_object_object_add(f, "name", n)) {
    json_object_put(f);
    json_object_put(n);
    json_object_put(t);
    return NULL;
  }
  if (json_object_object_add(f, "type", t)) {
    json_object_put(f);
    json_object_put(t);
    return NULL;
  }
  return f;
}

/* Append `f` (may be NULL: out of memory) to array `a`. Non-zero on
 * failure, when `f` is released. */
static int add_field(struct json_object *a, struct json_object *f)
{
  if (!f)
    return PC_E_NOMEM;
  if (json_object_array_add(a, f)) {
    json_object_put(f);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Build the react signature's instructions (DSPy ReAct.__init__). */
static int react_instructions(pc_module_loader *ld, pc_module *m,
                              const struct json_object *tools,
                              react_data *d, pc_buf *b)
{
  const pc_signature *sig = m->signature;
  size_t n = json_object_array_length(tools), i;
  pc_buf outs;
  int rc = PC_OK;

  pc_buf_init(&outs, PC_BUF_DEFAULT_MAX);
  if (put_names(&outs, sig->outputs, sig->n_outputs))
    goto oom;
  if (sig->instructions[0] &&
      pc_buf_printf(b, "%s\n\n", sig->instructions))
    goto oom;
  if (pc_buf_puts(b, "You are an Agent. In each episode, you will be given "
                  "the fields ") ||
      put_names(b, sig->inputs, sig->n_inputs) ||
      pc_buf_puts(b, " as input. And you can see your past trajectory so "
                  "far.\nYour goal is to use one or more of the supplied "
                  "tools to collect any necessary information for "
                  "producing ") ||
      pc_buf_printf(b, "%s.\n\n", outs.data) ||
      pc_buf_puts(b, "To do this, you will interleave next_thought, "
                  "next_tool_name, and next_tool_args in each turn, and "
                  "also when finishing the task.\nAfter each tool call, you "
                  "receive a resulting observation, which gets appended to "
                  "your trajectory.\n\nWhen writing next_thought, you may "
                  "reason about the current situation and plan for future "
                  "steps.\nWhen selecting the next_tool_name and its "
                  "next_tool_args, the tool must be one of:\n\n"))
    goto oom;
  for (i = 0; i < n; i++) {
    const char *name, *desc;
    struct json_object *args;

    rc = tool_entry(ld, m, i, json_object_array_get_idx(tools, i), &name,
                    &desc, &args);
    if (rc)
      goto out;
    for (size_t k = 0; k < d->n_tools; k++)
      if (!strcmp(d->tools[k], name)) {
        json_object_put(args);
        rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools[%zu]: '%s' "
                            "is listed twice", i, name);
        goto out;
      }
    d->tools[d->n_tools] = pc_strdup(name);
    if (!d->tools[d->n_tools]) {
      json_object_put(args);
      goto oom;
    }
    d->n_tools++;
    rc = pc_buf_printf(b, "(%zu) ", i + 1) || put_tool(b, name, desc, args) ||
         pc_buf_putc(b, '\n');
    json_object_put(args);
    if (rc)
      goto oom;
  }
  {
    pc_buf_reset(&outs);
    rc = put_names(&outs, sig->outputs, sig->n_outputs) ||
         pc_buf_printf(b, "(%zu) ", n + 1) ||
         pc_buf_printf(b, "finish, whose description is <desc>Marks the "
                       "task as complete. That is, signals that all "
                       "information for producing the outputs, i.e. %s, "
                       "are now available to be extracted.</desc>.",
                       outs.data) ||
         pc_buf_puts(b, " It takes arguments ") ||
         pc_buf_puts(b, "{}.\nWhen providing `next_tool_args`, the value "
                     "inside the field must be in JSON format");
    if (rc)
      goto oom;
  }
  goto out;

oom:
  rc = pc_module_fail(ld, m, PC_E_NOMEM, "tools: out of memory");
out:
  pc_buf_free(&outs);
  return rc;
}

/* The signature's JSON with `trajectory: str` appended to its inputs and
 * its own instructions kept. */
static struct json_object *with_trajectory(const pc_signature *sig)
{
  struct json_object *j = pc_signature_to_json(sig), *inputs, *f;

  if (!j || !json_object_object_get_ex(j, "inputs", &inputs) ||
      !(f = field_json("trajectory", "str")) || add_field(inputs, f) ||
      json_object_object_add(j, "instructions",
                             json_object_new_string(sig->instructions))) {
    json_object_put(j);
    return NULL;
  }
  return j;
}

static int react_load(pc_module_loader *ld, pc_module *m,
                      const struct json_object *spec)
{
  struct json_object *tools = NULL, *v, *rj = NULL, *ej = NULL, *outs = NULL;
  pc_signature *rsig = NULL, *esig = NULL, *io = NULL;
  react_data *d;
  pc_buf instr, lit;
  pc_error perr;
  int rc = PC_OK;

  pc_buf_init(&instr, PC_BUF_DEFAULT_MAX);
  pc_buf_init(&lit, PC_BUF_DEFAULT_MAX);
  d = pc_calloc(1, sizeof(*d));
  if (!d)
    return pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
  m->data = d;
  d->max_iters = REACT_MAX_ITERS_DEFAULT;
  if (json_object_object_get_ex(spec, "max_iters", &v)) {
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 1 ||
        json_object_get_int64(v) > REACT_MAX_ITERS_LIMIT) {
      rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "max_iters: expected an "
                          "integer from 1 to %d", REACT_MAX_ITERS_LIMIT);
      goto out;
    }
    d->max_iters = (int)json_object_get_int64(v);
  }
  if (!json_object_object_get_ex(spec, "tools", &tools) ||
      !json_object_is_type(tools, json_type_array)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools: expected an array "
                        "of tool names");
    goto out;
  }
  if (json_object_array_length(tools) > REACT_MAX_TOOLS) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG, "tools: more than %d tools",
                        REACT_MAX_TOOLS);
    goto out;
  }
  rc = react_instructions(ld, m, tools, d, &instr);
  if (rc)
    goto out;

  /* react: inputs + trajectory -> next_thought, next_tool_name,
   * next_tool_args. */
  if (pc_buf_puts(&lit, "Literal["))
    goto oom;
  for (size_t i = 0; i <= d->n_tools; i++)
    if (pc_buf_printf(&lit, "%s'%s'", i ? ", " : "",
                      i < d->n_tools ? d->tools[i] : "finish"))
      goto oom;
  if (pc_buf_putc(&lit, ']'))
    goto oom;
  rj = with_trajectory(m->signature);
  outs = json_object_new_array();
  if (!rj || !outs ||
      add_field(outs, field_json("next_thought", "str")) ||
      add_field(outs, field_json("next_tool_name", lit.data)) ||
      add_field(outs, field_json("next_tool_args", "dict[str, Any]")) ||
      json_object_object_add(rj, "outputs", outs))
    goto oom;
  outs = NULL;
  if (json_object_object_add(rj, "instructions",
                             json_object_new_string(instr.data)))
    goto oom;
  memset(&perr, 0, sizeof(perr));
  rc = pc_signature_from_json(rj, &rsig, &perr);
  if (rc) {
    rc = pc_module_fail(ld, m, rc, "signature: %s", perr.message);
    goto out;
  }
  rc = pc_module_add_predictor(ld, m, "react", rsig, NULL);
  rsig = NULL;
  if (rc)
    goto out;

  /* extract: ChainOfThought(inputs + trajectory -> outputs), with the
   * user's instructions. */
  ej = with_trajectory(m->signature);
  if (!ej)
    goto oom;
  rc = pc_signature_from_json(ej, &esig, &perr);
  if (rc) {
    rc = pc_module_fail(ld, m, rc, "signature: %s", perr.message);
    goto out;
  }
  {
    pc_type *str = pc_type_new_simple(PC_TYPE_STR);

    rc = !str ? PC_E_NOMEM
              : pc_signature_prepend_output(esig, "reasoning", str, NULL);
    pc_type_free(str);
    if (rc) {
      rc = pc_module_fail(ld, m, rc, "signature: cannot add 'reasoning' "
                          "(an output of that name already exists?)");
      goto out;
    }
  }
  rc = pc_module_add_predictor(ld, m, "extract.predict", esig, NULL);
  esig = NULL;
  if (rc)
    goto out;

  /* io: the user's inputs; outputs trajectory, reasoning and the user's
   * outputs, as DSPy's Prediction(trajectory=..., **extract). */
  json_object_put(rj);
  rj = pc_signature_to_json(m->signature);
  outs = json_object_new_array();
  if (!rj || !outs)
    goto oom;
  if (add_field(outs, field_json("trajectory", "dict[str, Any]")) ||
      add_field(outs, field_json("reasoning", "str")))
    goto oom;
  {
    struct json_object *old;

    if (json_object_object_get_ex(rj, "outputs", &old))
      for (size_t i = 0; i < json_object_array_length(old); i++)
        if (json_object_array_add(outs, json_object_get(
                                    json_object_array_get_idx(old, i))))
          goto oom;
  }
  if (json_object_object_add(rj, "outputs", outs))
    goto oom;
  outs = NULL;
  rc = pc_signature_from_json(rj, &io, &perr);
  if (rc) {
    rc = pc_module_fail(ld, m, rc, "signature: %s", perr.message);
    goto out;
  }
  m->io = io;
  goto out;

oom:
  json_object_put(outs);
  rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
out:
  json_object_put(rj);
  json_object_put(ej);
  pc_signature_free(rsig);
  pc_signature_free(esig);
  pc_buf_free(&instr);
  pc_buf_free(&lit);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Running.                                                                 */

/*
 * pc__react_format_trajectory - the trajectory as the chat adapter's user
 * message content renders it: "[[ ## key ## ]]\n<value>" per member, in
 * order, joined by blank lines, the whole stripped; each value rendered
 * for a str field (a list becomes numbered «» blobs, a dict JSON). Appends
 * to `out`. "" for an empty trajectory.
 */
int pc__react_format_trajectory(const struct json_object *traj, pc_buf *out,
                                pc_error *err);

int pc__react_format_trajectory(const struct json_object *traj, pc_buf *out,
                                pc_error *err)
{
  pc_type *str = pc_type_new_simple(PC_TYPE_STR);
  pc_buf b;
  size_t start, end;
  int rc = PC_OK, first = 1;

  if (!str)
    return pc_error_set(err, PC_E_NOMEM, "trajectory: out of memory");
  pc_buf_init(&b, PC_BUF_DEFAULT_MAX);
  json_object_object_foreach((struct json_object *)traj, key, val) {
    if ((!first && pc_buf_puts(&b, "\n\n")) ||
        pc_buf_printf(&b, "[[ ## %s ## ]]\n", key)) {
      rc = pc_error_set(err, PC_E_NOMEM, "trajectory: out of memory");
      break;
    }
    first = 0;
    rc = pc_value_render(val, str, PC_VALUE_RENDER_FIELD, &b, err);
    if (rc)
      break;
  }
  if (!rc && b.len) {
    for (start = 0; start < b.len && strchr(" \t\n\r\f\v", b.data[start]);
         start++)
      ;
    for (end = b.len; end > start && strchr(" \t\n\r\f\v", b.data[end - 1]);
         end--)
      ;
    if (pc_buf_append(out, b.data + start, end - start))
      rc = pc_error_set(err, PC_E_NOMEM, "trajectory: out of memory");
  }
  pc_buf_free(&b);
  pc_type_free(str);
  return rc;
}

/* The inputs of predictor `p`: the user's inputs plus the trajectory
 * text. New object. */
static struct json_object *step_inputs(const pc_module *m,
                                       const struct json_object *inputs,
                                       const char *trajectory)
{
  struct json_object *o = json_object_new_object(), *v;

  if (!o)
    return NULL;
  for (size_t i = 0; i < m->signature->n_inputs; i++) {
    const char *name = m->signature->inputs[i].name;

    if (json_object_object_get_ex(inputs, name, &v) &&
        json_object_object_add(o, name, json_object_get(v))) {
      json_object_put(o);
      return NULL;
    }
  }
  if (json_object_object_add(o, "trajectory",
                             json_object_new_string(trajectory))) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

static int traj_add(struct json_object *traj, const char *what, int idx,
                    struct json_object *v)
{
  char key[48];

  snprintf(key, sizeof(key), "%s_%d", what, idx);
  if (json_object_object_add(traj, key, v)) {
    json_object_put(v);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* An observation value: a tool's text, or the list of strings it holds
 * when the whole text is one strict JSON array of strings (a retriever's
 * passages, rendered as DSPy renders a list a Python tool returns); text
 * after the array keeps it text. Takes `text` over; NULL when out of
 * memory. */
static struct json_object *observation_value(char *text)
{
  struct json_object *v = NULL;
  pc_error jerr = PC_ERROR_INIT;
  size_t i, n;

  if (text[0] == '[') {
    if (pc_json_parse(text, strlen(text), PC_JSON_PARSE_STRICT, &v,
                      &jerr) == PC_E_NOMEM) {
      pc_free(text);
      return NULL;
    }
    if (v && json_object_is_type(v, json_type_array)) {
      n = json_object_array_length(v);
      for (i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(v, i),
                                 json_type_string))
          break;
      if (i == n) {
        pc_free(text);
        return v;
      }
    }
  }
  json_object_put(v);
  v = json_object_new_string(text);
  pc_free(text);
  return v;
}

/* The message of a tool error without tool.c's "tool 'NAME': " prefix. */
static const char *bare_message(const pc_error *e, const char *name)
{
  size_t n = strlen(name);

  if (!strncmp(e->message, "tool '", 6) &&
      !strncmp(e->message + 6, name, n) &&
      !strncmp(e->message + 6 + n, "': ", 3))
    return e->message + 9 + n;
  return e->message[0] ? e->message : pc_strerror(e->code);
}

/* Run tool `name` with `args` (the parsed next_tool_args) and make the
 * observation: its output, "Completed." for finish, or "Execution error in
 * NAME: MESSAGE". Fails only on out of memory, cancellation or a tool the
 * runtime cannot make. */
static int run_tool(pc_run_ctx *ctx, const react_data *d, const char *name,
                    const struct json_object *args, struct json_object **obs,
                    pc_error *err)
{
  pc_tool *tool = NULL;
  pc_error terr;
  char *text = NULL;
  pc_buf msg;
  size_t i;
  int rc = PC_OK, known = 0;

  *obs = NULL;
  memset(&terr, 0, sizeof(terr));
  pc_buf_init(&msg, PC_BUF_DEFAULT_MAX);
  for (i = 0; i < d->n_tools; i++)
    known |= !strcmp(d->tools[i], name);
  if (!strcmp(name, "finish")) {
    if (args && json_object_is_type(args, json_type_object) &&
        json_object_object_length(args) > 0) {
      json_object_object_foreach((struct json_object *)args, key, val) {
        (void)val;
        pc_error_set(&terr, PC_E_INVALID_ARG, "Arg %s is not in the tool's "
                     "args.", key);
        break;
      }
    } else {
      text = pc_strdup("Completed.");
      if (!text)
        rc = pc_error_set(err, PC_E_NOMEM, "react: out of memory");
    }
  } else if (!known) {
    pc_error_set(&terr, PC_E_INVALID_ARG, "no tool called '%s'", name);
  } else {
    rc = pc_runtime_tool(ctx->rt, name, &tool, err);
    if (!rc && args && json_object_is_type(args, json_type_object)) {
      json_object_object_foreach((struct json_object *)args, key, val) {
        (void)val;
        if (!json_object_object_get_ex(pc_tool_args(tool), key, NULL)) {
          pc_error_set(&terr, PC_E_INVALID_ARG, "Arg %s is not in the "
                       "tool's args.", key);
          break;
        }
      }
    }
    if (!rc && !terr.code) {
      int trc = pc_tool_call(tool, ctx->call, args, &text, NULL, &terr);

      if (trc == PC_E_CANCELLED)
        rc = pc_error_set(err, trc, "%s", terr.message);
    }
  }
  if (rc)
    goto out;
  if (text) {
    *obs = observation_value(text);
    text = NULL;
  } else {
    if (pc_buf_printf(&msg, "Execution error in %s: %s", name,
                      bare_message(&terr, name)))
      rc = pc_error_set(err, PC_E_NOMEM, "react: out of memory");
    else
      *obs = json_object_new_string(msg.data);
  }
  if (!rc && !*obs)
    rc = pc_error_set(err, PC_E_NOMEM, "react: out of memory");

out:
  pc_free(text);
  pc_buf_free(&msg);
  return rc;
}

/* Call predictor `p` on the module's `inputs` plus the trajectory `traj`
 * rendered into `text` (scratch). On success *pred is the prediction
 * (json_object_put); on failure it is NULL and `err` says why. */
static int predict_step(pc_run_ctx *ctx, const pc_module *m,
                        const pc_predictor *p,
                        const struct json_object *inputs,
                        const struct json_object *traj, pc_buf *text,
                        struct json_object **pred, pc_error *err)
{
  struct json_object *in = NULL;
  int rc;

  *pred = NULL;
  pc_buf_reset(text);
  rc = pc__react_format_trajectory(traj, text, err);
  if (rc)
    return rc;
  in = step_inputs(m, inputs, text->data ? text->data : "");
  if (!in)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
  rc = pc_predict(ctx, p, in, pred, err);
  json_object_put(in);
  return rc;
}

/* Drop the oldest step (its first REACT_STEP_KEYS keys, in insertion
 * order) from `traj`. PC_E_NOMEM leaves `traj` whole. */
static int drop_oldest_step(struct json_object *traj)
{
  char *keys[REACT_STEP_KEYS] = {NULL};
  size_t n = 0;
  int rc = PC_OK;

  json_object_object_foreach(traj, key, val) {
    (void)val;
    if (n == REACT_STEP_KEYS)
      break;
    if (!(keys[n++] = pc_strdup(key))) {
      rc = PC_E_NOMEM;
      break;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!rc)
      json_object_object_del(traj, keys[i]);
    pc_free(keys[i]);
  }
  return rc;
}

/* predict_step as DSPy's _call_with_potential_trajectory_truncation: up to
 * REACT_TRIM_ATTEMPTS calls, each context-length error dropping the oldest
 * step from `traj`, which stays trimmed for the steps after and for the
 * outputs. PC_E_CONTEXT_LENGTH when no whole step is left to drop or the
 * last attempt overflowed too. `err` (the caller's scratch error) holds
 * the last attempt's error only. */
static int predict_trimming(pc_run_ctx *ctx, const pc_module *m,
                            const pc_predictor *p,
                            const struct json_object *inputs,
                            struct json_object *traj, pc_buf *text,
                            struct json_object **pred, pc_error *err)
{
  pc_error last;
  const char *why = NULL;
  int rc = PC_OK;

  for (int attempt = 0; attempt < REACT_TRIM_ATTEMPTS; attempt++) {
    pc_error_clear(err);
    rc = predict_step(ctx, m, p, inputs, traj, text, pred, err);
    if (rc != PC_E_CONTEXT_LENGTH)
      return rc;
    if (json_object_object_length(traj) < REACT_STEP_KEYS) {
      why = "the trajectory has no step left to drop";
      break;
    }
    if (drop_oldest_step(traj)) {
      pc_error_clear(err);
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
    }
  }
  last = *err;
  pc_error_clear(err);
  if (why)
    return pc_error_wrap(err, &last, "%s", why);
  return pc_error_wrap(err, &last, "still over the context window after "
                       "dropping %d steps", REACT_TRIM_ATTEMPTS);
}

static int react_forward(pc_run_ctx *ctx, const pc_module *m,
                         const struct json_object *inputs,
                         struct json_object **outputs, pc_error *err)
{
  const react_data *d = m->data;
  const pc_predictor *react = m->predictors[0];
  const pc_predictor *extract = m->predictors[1];
  struct json_object *traj = json_object_new_object();
  struct json_object *pred = NULL, *result = NULL, *v = NULL;
  pc_buf text;
  int rc = PC_OK;

  *outputs = NULL;
  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  if (!traj)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
  for (int idx = 0; idx < d->max_iters; idx++) {
    pc_error perr;
    struct json_object *name = NULL, *args = NULL, *obs = NULL;

    memset(&perr, 0, sizeof(perr));
    rc = predict_trimming(ctx, m, react, inputs, traj, &text, &pred, &perr);
    if (rc == PC_E_PARSE || rc == PC_E_CONTEXT_LENGTH) {
      /* DSPy ends the trajectory when the agent fails to select a valid
       * tool or the context window stays exceeded after trimming; the
       * extract step runs. */
      rc = PC_OK;
      break;
    }
    if (rc) {
      pc_error_wrap(err, &perr, "%s", react->path);
      goto out;
    }
    json_object_object_get_ex(pred, "next_tool_name", &name);
    json_object_object_get_ex(pred, "next_tool_args", &args);
    json_object_object_get_ex(pred, "next_thought", &v);
    if (traj_add(traj, "thought", idx, json_object_get(v)) ||
        traj_add(traj, "tool_name", idx, json_object_get(name)) ||
        traj_add(traj, "tool_args", idx,
                 args ? json_object_get(args) : json_object_new_object())) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
    rc = run_tool(ctx, d, name ? json_object_get_string(name) : "", args,
                  &obs, err);
    if (rc)
      goto out;
    if (traj_add(traj, "observation", idx, obs)) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
    if (name && !strcmp(json_object_get_string(name), "finish"))
      break;
    json_object_put(pred);
    pred = NULL;
  }
  json_object_put(pred);
  pred = NULL;

  {
    pc_error perr;

    memset(&perr, 0, sizeof(perr));
    rc = predict_trimming(ctx, m, extract, inputs, traj, &text, &pred, &perr);
    if (rc) {
      pc_error_wrap(err, &perr, "%s", extract->path);
      goto out;
    }
  }
  result = json_object_new_object();
  if (!result || json_object_object_add(result, "trajectory", traj)) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
    goto out;
  }
  traj = NULL;
  json_object_object_foreach(pred, key, val) {
    if (json_object_object_add(result, key, json_object_get(val))) {
      rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", m->name);
      goto out;
    }
  }
  *outputs = result;
  result = NULL;

out:
  json_object_put(result);
  json_object_put(traj);
  json_object_put(pred);
  pc_buf_free(&text);
  return rc;
}

const pc_module_type pc__module_react = {
  .name = "react",
  .members = react_members,
  .has_signature = 1,
  .load = react_load,
  .forward = react_forward,
  .free_data = react_free,
};
