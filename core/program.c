/* program.c - load, check, query and save promptc.program/1 programs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "host.h"
#include "json_text.h"
#include "lm_settings.h"
#include "knn.h"
#include "module.h"
#include "program.h"
#include "program_int.h"

static const char *const top_members[] = {
  "schema", "name", "description", "inputs", "modules", "flow", "outputs",
  "state", "compile", NULL
};
static const char *const state_members[] = {"instructions", "demos", "knn",
                                            "model", NULL};

static int refresh_plugin_json(pc_predictor *p);

/* ------------------------------------------------------------------------ */
/* Small helpers, shared with program_flow.c (program_int.h).              */

/* Record "<origin>: <message>" and return `code`. */
int pc__ld_fail(pc_module_loader *ld, int code, const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(ld->err, code, "%s: %s", ld->origin, msg);
}

int pc__ld_nomem(pc_module_loader *ld)
{
  return pc__ld_fail(ld, PC_E_NOMEM, "out of memory");
}

int pc__is_type(const struct json_object *v, enum json_type t)
{
  return v && json_object_is_type(v, t);
}

/* json-c's getter takes a non-const object but only reads it. */
const char *pc__str_of(const struct json_object *v)
{
  return json_object_get_string((struct json_object *)v);
}

/* True for an ASCII identifier: [A-Za-z_][A-Za-z0-9_]*. */
int pc__is_ident(const char *s)
{
  if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '_'))
    return 0;
  for (s++; *s; s++) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  }
  return 1;
}

/* The first member of an object, for iteration with lh_entry_next. */
struct lh_entry *pc__first_member(const struct json_object *obj)
{
  return lh_table_head(json_object_get_object(obj));
}

const char *pc__member_key(const struct lh_entry *e)
{
  return (const char *)lh_entry_k(e);
}

const struct json_object *pc__member_value(const struct lh_entry *e)
{
  return (const struct json_object *)lh_entry_v(e);
}

/* Deep copy; *dst is NULL for a NULL (JSON null) source. */
int pc__copy_json(const struct json_object *src, struct json_object **dst)
{
  *dst = NULL;
  if (!src)
    return PC_OK;
  /* json-c takes a non-const source but does not modify it. */
  if (json_object_deep_copy((struct json_object *)src, dst, NULL) != 0)
    return PC_E_NOMEM;
  return PC_OK;
}

/* Add `val` to `obj` under `key`; on failure `val` is released. A NULL
 * `val` that stands for an allocation failure must be caught before. */
int pc__put_member(struct json_object *obj, const char *key,
                   struct json_object *val)
{
  if (json_object_object_add(obj, key, val) != 0) {
    json_object_put(val);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* As put_member, but a NULL `val` means an allocation failed. */
int pc__put_new(struct json_object *obj, const char *key,
                struct json_object *val)
{
  if (!val)
    return PC_E_NOMEM;
  return pc__put_member(obj, key, val);
}

int pc__append_new(struct json_object *arr, struct json_object *val)
{
  if (!val)
    return PC_E_NOMEM;
  if (json_object_array_add(arr, val) != 0) {
    json_object_put(val);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

/* Fail on any member of `obj` not in `allowed`. `where` prefixes the
 * member's name in the path ("" at the top, "flow[0]." below). */
int pc__check_members(pc_module_loader *ld, const struct json_object *obj,
                      const char *where, const char *const *allowed,
                      const char *expected)
{
  struct lh_entry *e;

  for (e = pc__first_member(obj); e; e = lh_entry_next(e)) {
    const char *key = pc__member_key(e);
    size_t i;

    for (i = 0; allowed[i]; i++) {
      if (!strcmp(key, allowed[i]))
        break;
    }
    if (!allowed[i])
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "%s%s: unknown member (expected %s)", where, key,
                         expected);
  }
  return PC_OK;
}

static pc_predictor *find_predictor(const pc_program *prog, const char *path)
{
  size_t i;

  for (i = 0; i < prog->n_predictors; i++) {
    if (!strcmp(prog->predictors[i]->path, path))
      return prog->predictors[i];
  }
  return NULL;
}

pc_module *pc__find_module(const pc_program *prog, const char *name)
{
  size_t i;

  for (i = 0; i < prog->n_modules; i++) {
    if (prog->modules[i].name && !strcmp(prog->modules[i].name, name))
      return &prog->modules[i];
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Loading: members, modules and their predictors.                          */

/* An optional string member into *out (owned, NULL when absent). */
static int load_text(pc_module_loader *ld, const struct json_object *root,
                     const char *key, char **out)
{
  struct json_object *v;

  if (!json_object_object_get_ex(root, key, &v))
    return PC_OK;
  if (!pc__is_type(v, json_type_string))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "%s: expected a string", key);
  *out = pc_strdup(pc__str_of(v));
  return *out ? PC_OK : pc__ld_nomem(ld);
}

static int load_schema(pc_module_loader *ld, const struct json_object *root)
{
  struct json_object *v;

  if (!json_object_object_get_ex(root, "schema", &v))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "schema: missing (expected \"%s\")",
                       PC_PROGRAM_SCHEMA);
  if (!pc__is_type(v, json_type_string) ||
      strcmp(pc__str_of(v), PC_PROGRAM_SCHEMA) != 0)
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "schema: expected \"%s\"",
                       PC_PROGRAM_SCHEMA);
  return PC_OK;
}

/* Append a copy of `name` to the program's inputs. */
static int add_input(pc_module_loader *ld, const char *name)
{
  pc_program *prog = ld->prog;
  char **grown;
  char *copy = pc_strdup(name);

  if (!copy)
    return pc__ld_nomem(ld);
  grown = pc_realloc(prog->inputs, (prog->n_inputs + 1) * sizeof(*grown));
  if (!grown) {
    pc_free(copy);
    return pc__ld_nomem(ld);
  }
  prog->inputs = grown;
  prog->inputs[prog->n_inputs++] = copy;
  return PC_OK;
}

static int has_input(const pc_program *prog, const char *name)
{
  size_t i;

  for (i = 0; i < prog->n_inputs; i++) {
    if (!strcmp(prog->inputs[i], name))
      return 1;
  }
  return 0;
}

/* A use of "$input.<name>" at `path`: it must be declared when "inputs"
 * was given; otherwise the inputs are collected in order of first use. */
int pc__use_input(pc_module_loader *ld, const char *path, const char *name)
{
  if (has_input(ld->prog, name))
    return PC_OK;
  if (ld->prog->inputs_given)
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "%s: input '%s' is not declared in \"inputs\"", path,
                       name);
  return add_input(ld, name);
}

static int load_inputs(pc_module_loader *ld, const struct json_object *v)
{
  size_t i, n;
  int rc;

  if (!pc__is_type(v, json_type_array))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "inputs: expected an array of input names");
  n = json_object_array_length(v);
  for (i = 0; i < n; i++) {
    const struct json_object *item = json_object_array_get_idx(v, i);
    const char *name;

    if (!pc__is_type(item, json_type_string) ||
        !pc__is_ident(name = pc__str_of(item)))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "inputs[%zu]: expected an identifier", i);
    if (has_input(ld->prog, name))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "inputs[%zu]: duplicate input '%s'", i, name);
    rc = add_input(ld, name);
    if (rc)
      return rc;
  }
  ld->prog->inputs_given = 1;
  return PC_OK;
}

static int check_config(pc_module_loader *ld, const char *module,
                        const struct json_object *cfg)
{
  char where[256];

  snprintf(where, sizeof(where), "%s: modules.%s.config", ld->origin, module);
  return pc_lm_settings_check(cfg, PC_LM_SETTINGS_ADAPTER, where, ld->err);
}

/* ------------------------------------------------------------------------ */
/* The module loader (module.h).                                            */

int pc_module_fail(pc_module_loader *ld, const pc_module *m, int code,
                   const char *fmt, ...)
{
  char msg[PC_ERROR_MESSAGE_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(ld->err, code, "%s: modules.%s.%s", ld->origin,
                      m->name, msg);
}

pc_module *pc_module_loader_find(pc_module_loader *ld, const char *name)
{
  size_t i;

  for (i = 0; name && i < ld->n_loaded; i++) {
    if (!strcmp(ld->prog->modules[i].name, name))
      return &ld->prog->modules[i];
  }
  return NULL;
}

static void predictor_free(pc_predictor *p)
{
  if (!p)
    return;
  pc_free(p->path);
  pc_signature_free(p->signature);
  pc_free(p->signature_plugin_json);
  json_object_put(p->demos);
  json_object_put(p->knn);
  pc_knn_pool_free(p->knn_pool);
  pc_free(p->model);
  pc_free(p->base_instructions);
  pc_free(p);
}

/* Append `p` to an array of predictor pointers. */
static int push_predictor(pc_predictor ***arr, size_t *n, pc_predictor *p)
{
  pc_predictor **grown = pc_realloc(*arr, (*n + 1) * sizeof(*grown));

  if (!grown)
    return PC_E_NOMEM;
  *arr = grown;
  grown[(*n)++] = p;
  return PC_OK;
}

int pc_module_add_predictor(pc_module_loader *ld, pc_module *m,
                            const char *suffix, pc_signature *sig,
                            pc_predictor **out)
{
  pc_program *prog = ld->prog;
  pc_predictor *p = NULL;
  pc_buf path;
  int rc;

  if (out)
    *out = NULL;
  pc_buf_init(&path, PC_BUF_DEFAULT_MAX);
  if (pc_buf_puts(&path, m->name) ||
      (suffix && (pc_buf_putc(&path, '.') || pc_buf_puts(&path, suffix)))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (find_predictor(prog, path.data)) {
    rc = pc_module_fail(ld, m, PC_E_INVALID_ARG,
                        "type: the predictor path '%s' is already taken",
                        path.data);
    goto fail;
  }
  p = pc_calloc(1, sizeof(*p));
  if (!p || !(p->demos = json_object_new_array()) ||
      !(p->base_instructions = pc_strdup(sig->instructions)) ||
      !(p->path = pc_buf_take(&path, NULL))) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  p->base_default = sig->default_instructions;
  p->module = m;
  p->config = m->config;
  p->signature = sig;
  sig = NULL;
  if (push_predictor(&prog->predictors, &prog->n_predictors, p)) {
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (push_predictor(&m->predictors, &m->n_predictors, p)) {
    prog->n_predictors--;  /* the program does not keep it after all */
    rc = pc_module_fail(ld, m, PC_E_NOMEM, "type: out of memory");
    goto fail;
  }
  if (!m->predictor)
    m->predictor = p;
  if (out)
    *out = p;
  return PC_OK;

fail:
  pc_signature_free(sig);
  predictor_free(p);
  pc_buf_free(&path);
  return rc;
}

const pc_signature *pc_module_io(const pc_module *m)
{
  return m->io ? m->io : m->signature;
}

int pc_module_forward(pc_run_ctx *ctx, const pc_module *m,
                      const struct json_object *inputs,
                      struct json_object **outputs, pc_error *err)
{
  int rc;

  *outputs = NULL;
  if (ctx->call && ctx->call->cancelled)
    return pc_error_set(err, PC_E_CANCELLED, "%s: cancelled", m->name);
  if (ctx->depth >= PC_MODULE_DEPTH_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: modules nest more than %d calls deep", m->name,
                        PC_MODULE_DEPTH_MAX);
  if (!m->vt || !m->vt->forward)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "%s: module type '%s' cannot run", m->name,
                        m->vt ? m->vt->name : "?");
  ctx->depth++;
  rc = m->vt->forward(ctx, m, inputs, outputs, err);
  ctx->depth--;
  if (rc) {
    json_object_put(*outputs);
    *outputs = NULL;
  } else if (!*outputs) {
    rc = pc_error_set(err, PC_E_INTERNAL, "%s: produced no outputs",
                      m->name);
  }
  return rc;
}

/* Fail on a member that neither every module nor its type has; the
 * message lists the allowed ones: "type, signature, config or k". */
static int check_module_members(pc_module_loader *ld,
                                const char *name,
                                const struct json_object *v,
                                const pc_module_type *vt)
{
  const char *allowed[64];
  struct lh_entry *e;
  pc_buf expected;
  size_t i, n = 0;
  int rc = PC_OK;

  allowed[n++] = "type";
  if (vt->has_signature)
    allowed[n++] = "signature";
  allowed[n++] = "config";
  for (i = 0; vt->members && vt->members[i] && n < 63; i++)
    allowed[n++] = vt->members[i];
  allowed[n] = NULL;
  pc_buf_init(&expected, PC_BUF_DEFAULT_MAX);
  for (e = pc__first_member(v); e && !rc; e = lh_entry_next(e)) {
    const char *key = pc__member_key(e);

    for (i = 0; i < n && strcmp(key, allowed[i]); i++)
      ;
    if (i < n)
      continue;
    for (i = 0; i < n; i++)
      pc_buf_printf(&expected, "%s%s", i == 0 ? "" : i + 1 < n ? ", "
                    : " or ", allowed[i]);
    rc = pc__ld_fail(ld, PC_E_INVALID_ARG,
                     "modules.%s.%s: unknown member (expected %s)", name, key,
                     expected.data ? expected.data : "");
  }
  pc_buf_free(&expected);
  return rc;
}

static int load_module(pc_module_loader *ld, const char *name,
                       const struct json_object *v, pc_module *m)
{
  pc_error sub = PC_ERROR_INIT;
  struct json_object *t, *sig, *cfg;
  const pc_module_type *vt;
  int rc;

  if (!pc__is_ident(name))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "modules.%s: a module name must be an identifier",
                       name);
  if (!strcmp(name, "input"))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "modules.input: the name 'input' is reserved for "
                       "\"$input.<name>\" bindings");
  if (!pc__is_type(v, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules.%s: expected an object",
                       name);
  m->name = pc_strdup(name);
  if (!m->name)
    return pc__ld_nomem(ld);

  if (!json_object_object_get_ex(v, "type", &t))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.type: missing", name);
  vt = pc__is_type(t, json_type_string)
       ? pc_module_type_find(pc__str_of(t)) : NULL;
  if (!vt)
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "modules.%s.type: unknown module type '%s' (expected "
                       "%s)", name,
                       pc__is_type(t, json_type_string) ? pc__str_of(t)
                       : json_object_to_json_string((struct json_object *)t),
                       pc_module_type_names());
  m->vt = vt;
  if (!strcmp(vt->name, "predict"))
    m->type = PC_MODULE_PREDICT;
  else if (!strcmp(vt->name, "chain_of_thought"))
    m->type = PC_MODULE_CHAIN_OF_THOUGHT;
  else
    m->type = PC_MODULE_OTHER;
  rc = check_module_members(ld, name, v, vt);
  if (rc)
    return rc;

  if (vt->has_signature) {
    if (!json_object_object_get_ex(v, "signature", &sig))
      return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules.%s.signature: missing",
                         name);
    rc = pc_signature_from_json(sig, &m->signature, &sub);
    if (rc)
      return pc_error_wrap(ld->err, &sub, "%s: modules.%s.signature",
                           ld->origin, name);
    if (pc__copy_json(sig, &m->signature_json))
      return pc__ld_nomem(ld);
  }

  if (json_object_object_get_ex(v, "config", &cfg)) {
    rc = check_config(ld, name, cfg);
    if (rc)
      return rc;
    if (pc__copy_json(cfg, &m->config))
      return pc__ld_nomem(ld);
  }
  if (pc__copy_json(v, &m->spec))
    return pc__ld_nomem(ld);
  rc = vt->load(ld, m, v);
  if (!rc && !pc_module_io(m))
    rc = pc__ld_fail(ld, PC_E_INTERNAL, "modules.%s: type '%s' set no fields",
                     name, vt->name);
  return rc;
}

static int load_modules(pc_module_loader *ld,
                        const struct json_object *root)
{
  pc_program *prog = ld->prog;
  struct json_object *mods;
  struct lh_entry *e;
  size_t i, n;
  int rc;

  if (!json_object_object_get_ex(root, "modules", &mods))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules: missing");
  if (!pc__is_type(mods, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules: expected an object");
  n = (size_t)json_object_object_length(mods);
  if (n == 0)
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "modules: must not be empty");
  prog->modules = pc_calloc(n, sizeof(*prog->modules));
  if (!prog->modules)
    return pc__ld_nomem(ld);
  prog->n_modules = n;
  /* json-c keeps object members in insertion order, which is file order. */
  for (i = 0, e = pc__first_member(mods); e; e = lh_entry_next(e), i++) {
    rc = load_module(ld, pc__member_key(e), pc__member_value(e),
                     &prog->modules[i]);
    if (rc)
      return rc;
    ld->n_loaded = i + 1;
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading: state.                                                          */

/*
 * Give `sig`, a signature of predictor `p`, new instructions. An empty
 * text restores the instructions the predictor was made with (for
 * chain_of_thought these are the default sentence of the user's
 * signature, which does not name "reasoning", as in DSPy).
 */
static int set_instructions(const pc_predictor *p, pc_signature *sig,
                            const char *text)
{
  int rc;

  if (!*text)
    text = p->base_instructions;
  rc = pc_signature_set_instructions(sig, text);
  if (!rc)
    sig->default_instructions =
      p->base_default && !strcmp(text, p->base_instructions);
  return rc;
}

static int load_state_entry(pc_module_loader *ld, const char *key,
                            const struct json_object *v)
{
  pc_program *prog = ld->prog;
  pc_predictor *p = find_predictor(prog, key);
  const pc_module *m;
  char where[PC_ERROR_MESSAGE_MAX];
  struct json_object *ins, *demos, *knn, *copy = NULL;
  int rc;

  if (!p) {
    m = pc__find_module(prog, key);
    if (m && m->predictor)
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "state.%s: unknown predictor path (module '%s' is a "
                         "%s: its predictor is '%s')", key, key,
                         m->vt->name,
                         m->predictor->path);
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "state.%s: unknown predictor path", key);
  }
  if (!pc__is_type(v, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG, "state.%s: expected an object",
                       key);
  snprintf(where, sizeof(where), "state.%s.", key);
  rc = pc__check_members(ld, v, where, state_members,
                         "instructions, demos, knn or model");
  if (rc)
    return rc;
  if (json_object_object_get_ex(v, "instructions", &ins)) {
    if (!pc__is_type(ins, json_type_string))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "state.%s.instructions: expected a string", key);
    if (set_instructions(p, p->signature, pc__str_of(ins)))
      return pc__ld_nomem(ld);
  }
  if (json_object_object_get_ex(v, "demos", &demos)) {
    size_t i, n;

    if (!pc__is_type(demos, json_type_array))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "state.%s.demos: expected an array of objects", key);
    n = json_object_array_length(demos);
    for (i = 0; i < n; i++) {
      if (!pc__is_type(json_object_array_get_idx(demos, i), json_type_object))
        return pc__ld_fail(ld, PC_E_INVALID_ARG,
                           "state.%s.demos[%zu]: expected an object", key, i);
    }
    if (pc__copy_json(demos, &copy))
      return pc__ld_nomem(ld);
    json_object_put(p->demos);
    p->demos = copy;
  }
  if (json_object_object_get_ex(v, "model", &ins)) {
    char *model = NULL;

    if (ins && (!pc__is_type(ins, json_type_string) || !*pc__str_of(ins)))
      return pc__ld_fail(ld, PC_E_INVALID_ARG,
                         "state.%s.model: expected a model id (a non-empty "
                         "string) or null", key);
    if (ins && !(model = pc_strdup(pc__str_of(ins))))
      return pc__ld_nomem(ld);
    pc_free(p->model);
    p->model = model;
  }
  if (json_object_object_get_ex(v, "knn", &knn)) {
    pc_knn_pool *pool = NULL;
    pc_error e = PC_ERROR_INIT;

    snprintf(where, sizeof(where), "%s: state.%s.knn", ld->origin, key);
    rc = pc_knn_pool_new(knn, where, &pool, &e);
    if (rc)
      return pc_error_set(ld->err, rc, "%s", e.message);
    if (pc__copy_json(knn, &copy)) {
      pc_knn_pool_free(pool);
      return pc__ld_nomem(ld);
    }
    json_object_put(p->knn);
    pc_knn_pool_free(p->knn_pool);
    p->knn = copy;
    p->knn_pool = pool;
  }
  return PC_OK;
}

static int load_state(pc_module_loader *ld, const struct json_object *state)
{
  struct lh_entry *e;
  int rc;

  if (!pc__is_type(state, json_type_object))
    return pc__ld_fail(ld, PC_E_INVALID_ARG,
                       "state: expected an object keyed by predictor path");
  for (e = pc__first_member(state); e; e = lh_entry_next(e)) {
    rc = load_state_entry(ld, pc__member_key(e), pc__member_value(e));
    if (rc)
      return rc;
  }
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Public: load and free.                                                   */

int pc_program_from_json(const char *origin, const struct json_object *root,
                         pc_program **out, pc_error *err)
{
  pc_module_loader ld;
  pc_program *prog = NULL;
  struct json_object *v, *flow, *outputs;
  int has_flow, has_outputs;
  int rc;

  *out = NULL;
  memset(&ld, 0, sizeof(ld));
  ld.origin = origin ? origin : "<memory>";
  ld.err = err;
  if (!pc__is_type(root, json_type_object))
    return pc__ld_fail(&ld, PC_E_INVALID_ARG, "expected a JSON object");
  prog = pc_calloc(1, sizeof(*prog));
  if (!prog)
    return pc__ld_nomem(&ld);
  ld.prog = prog;
  prog->origin = pc_strdup(ld.origin);
  if (!prog->origin) {
    rc = pc__ld_nomem(&ld);
    goto fail;
  }
  rc = pc__check_members(&ld, root, "", top_members,
                         "schema, name, description, inputs, modules, flow, "
                         "outputs or state");
  if (!rc)
    rc = load_schema(&ld, root);
  if (!rc)
    rc = load_text(&ld, root, "name", &prog->name);
  if (!rc)
    rc = load_text(&ld, root, "description", &prog->description);
  if (!rc && json_object_object_get_ex(root, "inputs", &v))
    rc = load_inputs(&ld, v);
  if (!rc)
    rc = load_modules(&ld, root);
  if (rc)
    goto fail;

  has_flow = json_object_object_get_ex(root, "flow", &flow);
  has_outputs = json_object_object_get_ex(root, "outputs", &outputs);
  if (has_flow && !has_outputs)
    rc = pc__ld_fail(&ld, PC_E_INVALID_ARG,
                     "outputs: missing (required when \"flow\" is given)");
  else if (!has_flow && has_outputs)
    rc = pc__ld_fail(&ld, PC_E_INVALID_ARG,
                     "flow: missing (required when \"outputs\" is given)");
  else if (!has_flow && prog->n_modules > 1)
    rc = pc__ld_fail(&ld, PC_E_INVALID_ARG,
                     "flow: missing (required when there is more than one "
                     "module)");
  else if (has_flow)
    rc = pc__flow_load(&ld, flow);
  else
    rc = pc__flow_make_single(&ld);
  if (!rc && has_outputs)
    rc = pc__flow_load_outputs(&ld, outputs);
  if (!rc && json_object_object_get_ex(root, "state", &v))
    rc = load_state(&ld, v);
  if (!rc && json_object_object_get_ex(root, "compile", &v)) {
    if (!json_object_is_type(v, json_type_object))
      rc = pc_error_set(err, PC_E_INVALID_ARG, "%s: compile: expected an "
                        "object", ld.origin);
    else if (pc__copy_json(v, &prog->compile))
      rc = pc__ld_nomem(&ld);
  }
  for (size_t i = 0; !rc && i < prog->n_predictors; i++)
    if (refresh_plugin_json(prog->predictors[i]))
      rc = pc__ld_nomem(&ld);
  if (rc)
    goto fail;
  *out = prog;
  prog = NULL;

fail:
  for (size_t i = 0; i < ld.n_all; i++)
    pc_free(ld.all[i].where);
  pc_free(ld.all);
  pc_free(ld.vis);
  pc_program_free(prog);
  return rc;
}

int pc_program_load(const char *path, pc_program **out, pc_error *err)
{
  struct json_object *root = NULL;
  int rc;

  *out = NULL;
  rc = pc_json_parse_file(path, PC_CONFIG_MAX, &root, err);
  if (rc == PC_OK)
    rc = pc_program_from_json(path, root, out, err);
  json_object_put(root);
  return rc;
}

void pc_program_free(pc_program *prog)
{
  size_t i;

  if (!prog)
    return;
  pc__steps_free(prog->steps, prog->n_steps);
  json_object_put(prog->compile);
  for (i = 0; i < prog->n_outputs; i++)
    pc__binding_clear(&prog->outputs[i]);
  pc_free(prog->outputs);
  for (i = 0; i < prog->n_predictors; i++)
    predictor_free(prog->predictors[i]);
  pc_free(prog->predictors);
  for (i = 0; i < prog->n_modules; i++) {
    pc_module *m = &prog->modules[i];

    if (m->vt && m->vt->free_data && m->data)
      m->vt->free_data(m->data);
    pc_free(m->name);
    pc_signature_free(m->signature);
    pc_signature_free(m->io);
    json_object_put(m->signature_json);
    json_object_put(m->config);
    json_object_put(m->spec);
    pc_free(m->predictors);
  }
  pc_free(prog->modules);
  for (i = 0; i < prog->n_inputs; i++)
    pc_free(prog->inputs[i]);
  pc_free(prog->inputs);
  pc_free(prog->name);
  pc_free(prog->description);
  pc_free(prog->origin);
  pc_free(prog);
}

/* ------------------------------------------------------------------------ */
/* Public: writing.                                                         */

static int modules_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *mods = json_object_new_object();
  size_t i;

  if (pc__put_new(root, "modules", mods))
    return PC_E_NOMEM;
  /* Each module is written back as the file had it, so members of every
   * type round-trip unchanged. */
  for (i = 0; i < prog->n_modules; i++) {
    const pc_module *m = &prog->modules[i];
    struct json_object *copy;

    if (pc__copy_json(m->spec, &copy) || pc__put_new(mods, m->name, copy))
      return PC_E_NOMEM;
  }
  return PC_OK;
}

static int state_to_json(const pc_program *prog, struct json_object *root)
{
  struct json_object *state = NULL, *entry, *copy;
  size_t i;
  int rc = PC_E_NOMEM;

  for (i = 0; i < prog->n_predictors; i++) {
    const pc_predictor *p = prog->predictors[i];
    int changed = strcmp(p->signature->instructions,
                         p->base_instructions) != 0;
    int has_demos = json_object_array_length(p->demos) > 0;

    if (!changed && !has_demos && !p->knn && !p->model)
      continue;
    if (!state && !(state = json_object_new_object()))
      goto out;
    entry = json_object_new_object();
    if (pc__put_new(state, p->path, entry))
      goto out;
    if (changed && pc__put_new(entry, "instructions",
                               json_object_new_string(
                             p->signature->instructions)))
      goto out;
    if (has_demos && (pc__copy_json(p->demos, &copy) ||
                      pc__put_new(entry, "demos", copy)))
      goto out;
    if (p->knn && (pc__copy_json(p->knn, &copy) ||
                   pc__put_new(entry, "knn", copy)))
      goto out;
    if (p->model &&
        pc__put_new(entry, "model", json_object_new_string(p->model)))
      goto out;
  }
  rc = PC_OK;
  if (state) {
    rc = pc__put_member(root, "state", state);
    state = NULL;
  }

out:
  json_object_put(state);
  return rc;
}

struct json_object *pc_program_to_json(const pc_program *prog)
{
  struct json_object *root = json_object_new_object();
  struct json_object *v;
  size_t i;

  if (!root)
    return NULL;
  if (pc__put_new(root, "schema", json_object_new_string(PC_PROGRAM_SCHEMA)))
    goto fail;
  if (prog->name &&
      pc__put_new(root, "name", json_object_new_string(prog->name)))
    goto fail;
  if (prog->description &&
      pc__put_new(root, "description",
                  json_object_new_string(prog->description)))
    goto fail;
  if (prog->inputs_given) {
    v = json_object_new_array();
    if (pc__put_new(root, "inputs", v))
      goto fail;
    for (i = 0; i < prog->n_inputs; i++) {
      if (pc__append_new(v, json_object_new_string(prog->inputs[i])))
        goto fail;
    }
  }
  if (modules_to_json(prog, root))
    goto fail;
  if (prog->flow_given && pc__flow_to_json(prog, root))
    goto fail;
  if (prog->outputs_given &&
      (pc__bindings_to_json(prog, prog->outputs, prog->n_outputs, &v) ||
       pc__put_member(root, "outputs", v)))
    goto fail;
  if (state_to_json(prog, root))
    goto fail;
  if (prog->compile) {
    if (pc__copy_json(prog->compile, &v) || pc__put_member(root, "compile", v))
      goto fail;
  }
  return root;

fail:
  json_object_put(root);
  return NULL;
}

int pc_program_save(const pc_program *prog, const char *path, pc_error *err)
{
  struct json_object *root = pc_program_to_json(prog);
  pc_buf text;
  int rc;

  pc_buf_init(&text, PC_BUF_DEFAULT_MAX);
  if (!root || pc_json_write(root, PC_JSON_TEXT_PRETTY, &text) ||
      pc_buf_putc(&text, '\n')) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto out;
  }
  rc = pc_file_write_atomic(path, text.data, text.len, err);

out:
  json_object_put(root);
  pc_buf_free(&text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Public: queries.                                                         */

const char *pc_program_name(const pc_program *prog)
{
  return prog->name;
}

const char *pc_program_description(const pc_program *prog)
{
  return prog->description;
}

size_t pc_program_n_modules(const pc_program *prog)
{
  return prog->n_modules;
}

const pc_module *pc_program_module_at(const pc_program *prog, size_t i)
{
  return i < prog->n_modules ? &prog->modules[i] : NULL;
}

const pc_module *pc_program_module(const pc_program *prog, const char *name)
{
  return pc__find_module(prog, name);
}

size_t pc_program_n_predictors(const pc_program *prog)
{
  return prog->n_predictors;
}

const pc_predictor *pc_program_predictor_at(const pc_program *prog,
                                            size_t i)
{
  return i < prog->n_predictors ? prog->predictors[i] : NULL;
}

const pc_predictor *pc_program_predictor(const pc_program *prog,
                                         const char *path)
{
  return find_predictor(prog, path);
}

/* The first predictor of a call step in `steps`, in execution order. */
static const pc_predictor *first_called(const pc_step *steps, size_t n)
{
  const pc_predictor *p = NULL;
  size_t i;

  for (i = 0; i < n && !p; i++) {
    if (steps[i].module)
      p = steps[i].module->predictor;
    if (!p)
      p = first_called(steps[i].body, steps[i].n_body);
    if (!p)
      p = first_called(steps[i].alt, steps[i].n_alt);
  }
  return p;
}

const pc_predictor *pc_program_default_predictor(const pc_program *prog)
{
  const pc_predictor *p = first_called(prog->steps, prog->n_steps);

  if (!p && prog->n_predictors)
    p = prog->predictors[0];
  return p;
}

size_t pc_program_n_steps(const pc_program *prog)
{
  return prog->n_steps;
}

const pc_step *pc_program_step(const pc_program *prog, size_t i)
{
  return i < prog->n_steps ? &prog->steps[i] : NULL;
}

size_t pc_program_n_inputs(const pc_program *prog)
{
  return prog->n_inputs;
}

const char *pc_program_input(const pc_program *prog, size_t i)
{
  return i < prog->n_inputs ? prog->inputs[i] : NULL;
}

size_t pc_program_n_outputs(const pc_program *prog)
{
  return prog->n_outputs;
}

const pc_binding *pc_program_output(const pc_program *prog, size_t i)
{
  return i < prog->n_outputs ? &prog->outputs[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Public: running and state.                                               */

int pc_binding_value(const pc_binding *b, const struct json_object *env,
                     const char *what, const struct json_object **val,
                     pc_error *err)
{
  struct json_object *src = NULL, *v = NULL;

  *val = NULL;
  if (b->kind == PC_BIND_CONST) {
    *val = b->value;
    return PC_OK;
  }
  if (b->kind == PC_BIND_INPUT) {
    if (!json_object_object_get_ex(env, "input", &src) ||
        !pc__is_type(src, json_type_object) ||
        !json_object_object_get_ex(src, b->field, &v))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s: program input '%s' is not given", what,
                          b->field);
    *val = v;
    return PC_OK;
  }
  if (!json_object_object_get_ex(env, b->source, &src))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: step '%s' has no output yet", what, b->source);
  if (!b->field) {
    *val = src;
    return PC_OK;
  }
  if (!pc__is_type(src, json_type_object) ||
      !json_object_object_get_ex(src, b->field, &v))
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: the output of step '%s' has no '%s'", what,
                        b->source, b->field);
  *val = v;
  return PC_OK;
}

/* Add a copy of binding `b`'s value to `obj` under `name`. */
static int bind_one(const pc_binding *b, const struct json_object *env,
                    const char *what, const char *name,
                    struct json_object *obj, pc_error *err)
{
  const struct json_object *v;
  struct json_object *copy;
  int rc;

  rc = pc_binding_value(b, env, what, &v, err);
  if (rc)
    return rc;
  if (pc__copy_json(v, &copy) || pc__put_member(obj, name, copy))
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  return PC_OK;
}

int pc_program_bind(const pc_signature *sig, const pc_binding *bs, size_t n,
                    const struct json_object *env, const char *what,
                    struct json_object **out, pc_error *err)
{
  char sub[PC_ERROR_MESSAGE_MAX];
  struct json_object *obj;
  size_t i, k;
  int rc = PC_OK;

  *out = NULL;
  obj = json_object_new_object();
  if (!obj)
    return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", what);
  if (!sig) {
    for (i = 0; i < n && !rc; i++) {
      snprintf(sub, sizeof(sub), "%s '%s'", what, bs[i].target);
      rc = bind_one(&bs[i], env, sub, bs[i].target, obj, err);
    }
  }
  for (i = 0; sig && i < sig->n_inputs && !rc; i++) {
    const char *name = sig->inputs[i].name;

    snprintf(sub, sizeof(sub), "%s: input '%s'", what, name);
    for (k = 0; k < n && strcmp(bs[k].target, name); k++)
      ;
    if (k == n)
      rc = pc_error_set(err, PC_E_INTERNAL, "%s: not bound", sub);
    else
      rc = bind_one(&bs[k], env, sub, name, obj, err);
  }
  if (rc) {
    json_object_put(obj);
    return rc;
  }
  *out = obj;
  return PC_OK;
}

/* True for an absent, null, "", [] or {} value. */
static int is_empty(const struct json_object *v)
{
  if (!v)
    return 1;
  switch (json_object_get_type((struct json_object *)v)) {
  case json_type_string:
    return json_object_get_string_len(v) == 0;
  case json_type_array:
    return json_object_array_length(v) == 0;
  case json_type_object:
    return json_object_object_length(v) == 0;
  default:
    return 0;
  }
}

int pc_cond_eval(const pc_cond *c, const struct json_object *env,
                 int *result, pc_error *err)
{
  const struct json_object *a = NULL, *b = NULL;
  pc_error ignored = PC_ERROR_INIT;
  size_t i;
  int sub, rc;

  *result = 0;
  switch (c->op) {
  case PC_COND_EMPTY:
    if (pc_binding_value(&c->args[0], env, "", &a, &ignored))
      a = NULL;
    *result = is_empty(a);
    return PC_OK;
  case PC_COND_EQUALS:
    if (pc_binding_value(&c->args[0], env, "", &a, &ignored) ||
        pc_binding_value(&c->args[1], env, "", &b, &ignored)) {
      *result = 0;
      return PC_OK;
    }
    *result = json_object_equal((struct json_object *)a,
                                (struct json_object *)b) != 0;
    return PC_OK;
  case PC_COND_NOT:
    rc = pc_cond_eval(&c->subs[0], env, &sub, err);
    *result = !sub;
    return rc;
  default:
    *result = c->op == PC_COND_ALL;
    for (i = 0; i < c->n_subs; i++) {
      rc = pc_cond_eval(&c->subs[i], env, &sub, err);
      if (rc)
        return rc;
      if (c->op == PC_COND_ALL ? !sub : sub) {
        *result = sub;
        break;
      }
    }
    return PC_OK;
  }
}

/* An environment for the array form: "input" and each top-level step that
 * has an output. New (json_object_put), NULL when out of memory. */
static struct json_object *array_env(const pc_program *prog,
                                     const struct json_object *inputs,
                                     const struct json_object *const *outs,
                                     size_t n)
{
  struct json_object *env = json_object_new_object();
  size_t i;

  if (!env)
    return NULL;
  if (inputs && pc__put_member(env, "input",
                               json_object_get((struct json_object *)inputs)))
    goto fail;
  for (i = 0; outs && i < n; i++) {
    const pc_step *st = &prog->steps[i];

    if (outs[i] && st->id &&
        pc__put_member(env, st->id, json_object_get((struct json_object *)
                                                     outs[i])))
      goto fail;
  }
  return env;

fail:
  json_object_put(env);
  return NULL;
}

int pc_program_step_inputs(const pc_program *prog, size_t step_index,
                           const struct json_object *program_inputs,
                           const struct json_object *const *step_outputs,
                           struct json_object **out, pc_error *err)
{
  char what[PC_ERROR_MESSAGE_MAX];
  struct json_object *env;
  const pc_step *st;
  int rc;

  *out = NULL;
  if (step_index >= prog->n_steps)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "step %zu: the flow has %zu steps", step_index,
                        prog->n_steps);
  st = &prog->steps[step_index];
  if (st->kind != PC_STEP_CALL)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "step %zu: not a call (a control step)",
                        step_index);
  env = array_env(prog, program_inputs, step_outputs, step_index);
  if (!env)
    return pc_error_set(err, PC_E_NOMEM, "step '%s': out of memory",
                        st->id);
  snprintf(what, sizeof(what), "step '%s'", st->id);
  rc = pc_program_bind(pc_module_io(st->module), st->bindings,
                       st->n_bindings, env, what, out, err);
  json_object_put(env);
  return rc;
}

int pc_program_outputs(const pc_program *prog,
                       const struct json_object *program_inputs,
                       const struct json_object *const *step_outputs,
                       struct json_object **out, pc_error *err)
{
  struct json_object *env;
  int rc;

  *out = NULL;
  env = array_env(prog, program_inputs, step_outputs, prog->n_steps);
  if (!env)
    return pc_error_set(err, PC_E_NOMEM, "program outputs: out of memory");
  rc = pc_program_bind(NULL, prog->outputs, prog->n_outputs, env, "output",
                       out, err);
  json_object_put(env);
  return rc;
}

/* Cache the plugin form of a predictor's signature (what adapters get),
 * so a call does not re-serialise it. */
static int refresh_plugin_json(pc_predictor *p)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  pc_free(p->signature_plugin_json);
  p->signature_plugin_json = NULL;
  p->signature_plugin_len = 0;
  if (pc_signature_to_plugin_json(p->signature, &b) ||
      !(p->signature_plugin_json = pc_buf_take(&b,
                                               &p->signature_plugin_len))) {
    pc_buf_free(&b);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

int pc_program_set_state(pc_program *prog, const char *path,
                         const char *instructions,
                         const struct json_object *demos)
{
  pc_predictor *p = find_predictor(prog, path);
  pc_signature *sig = NULL;
  struct json_object *copy = NULL;
  size_t i, n;
  int rc;

  if (!p)
    return PC_E_INVALID_ARG;
  if (demos) {
    if (!pc__is_type(demos, json_type_array))
      return PC_E_INVALID_ARG;
    n = json_object_array_length(demos);
    for (i = 0; i < n; i++) {
      if (!pc__is_type(json_object_array_get_idx(demos, i), json_type_object))
        return PC_E_INVALID_ARG;
    }
    if (pc__copy_json(demos, &copy))
      return PC_E_NOMEM;
  }
  if (instructions) {
    /* Work on a copy so that a failure leaves the predictor as it was. */
    sig = pc_signature_copy(p->signature);
    if (!sig) {
      rc = PC_E_NOMEM;
      goto fail;
    }
    rc = set_instructions(p, sig, instructions);
    if (rc)
      goto fail;
    pc_signature_free(p->signature);
    p->signature = sig;
    sig = NULL;
    if (refresh_plugin_json(p)) {
      rc = PC_E_NOMEM;  /* the new instructions stay; the JSON is unset */
      goto fail;
    }
  }
  if (copy) {
    json_object_put(p->demos);
    p->demos = copy;
  }
  return PC_OK;

fail:
  pc_signature_free(sig);
  json_object_put(copy);
  return rc;
}

int pc_program_set_compile_record(pc_program *prog,
                                  const struct json_object *record)
{
  struct json_object *copy = NULL;

  if (record && pc__copy_json(record, &copy))
    return PC_E_NOMEM;
  json_object_put(prog->compile);
  prog->compile = copy;
  return PC_OK;
}

const struct json_object *pc_program_compile_record(const pc_program *prog)
{
  return prog->compile;
}
