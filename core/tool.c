/* tool.c - the tools of a runtime: resolving config entries, and calls
 * on a worker thread with a deadline (docs/tools.md). */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "module.h"
#include "program.h"
#include "tool.h"

#define MAX_TOOLS 64
#define OBSERVATION_MAX ((size_t)4 << 20)  /* 4 MiB of tool output */
#define WAIT_SLICE_NS 20000000u              /* 20 ms between checks */
#define RELEASE_GRACE_NS 2000000000u         /* 2 s for abandoned calls */

struct pc_tool {
  atomic_int refs;           /* the owner's, plus one per running worker */
  atomic_int orphaned;       /* the runtime let go: a worker dropping the
                                last reference never destroys the
                                instance */
  char *name;                /* owned: the name the LM sees */
  const pc_tool_iface *vt;   /* borrowed (static) */
  void *inst;                /* owned through vt->destroy */
  int serialise;             /* the plugin's instances are not thread-safe */
  pthread_mutex_t lock;      /* held around vt->call when serialise */
  int64_t timeout_ms;
  struct json_object *args;      /* owned: name -> JSON schema */
  struct json_object *required;  /* owned: array of names */
};

/* One call in flight, shared by the caller and its worker; freed by
 * whichever lets go last. */
typedef struct tool_job {
  pthread_mutex_t lock;
  pthread_cond_t done_cv;
  int refs;                  /* under lock */
  int done;                  /* under lock */
  pc_tool *tool;             /* one reference held by the job */
  struct pc_call call;       /* what the tool sees: deadline, cancel */
  char *args;                /* owned: JSON text */
  size_t args_len;
  pc_buf out;
  int rc;
  int not_run;               /* never called: deadline passed first */
  pc_error err;
} tool_job;

/* ------------------------------------------------------------------------ */
/* Reference counting.                                                      */

/* Drop a reference; the last one frees the tool. `owner` is 1 for the
 * runtime's own reference: dropping it last may always destroy the
 * instance (the plugin is still loaded), while a worker that drops the
 * last reference of an orphaned tool must not. */
static void tool_drop(pc_tool *t, int owner)
{
  if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
    return;
  if (t->inst && t->vt->destroy && (owner || !atomic_load(&t->orphaned)))
    t->vt->destroy(t->inst);
  pthread_mutex_destroy(&t->lock);
  if (t->args)
    json_object_put(t->args);
  if (t->required)
    json_object_put(t->required);
  pc_free(t->name);
  pc_free(t);
}

static void tool_unref(pc_tool *t)
{
  tool_drop(t, 0);
}

void pc_tool_unref(pc_tool *t)
{
  tool_unref(t);
}

static void job_unref(tool_job *j)
{
  int last;

  pthread_mutex_lock(&j->lock);
  last = --j->refs == 0;
  pthread_mutex_unlock(&j->lock);
  if (!last)
    return;
  tool_unref(j->tool);
  pthread_cond_destroy(&j->done_cv);
  pthread_mutex_destroy(&j->lock);
  pc_buf_free(&j->out);
  pc_free(j->args);
  pc_free(j);
}

/* ------------------------------------------------------------------------ */
/* Making a tool.                                                           */

static uint64_t now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CLOCK_REALTIME time at which the monotonic clock reaches
 * `deadline_ns` (now when it has passed): pthread_mutex_timedlock and
 * pthread_cond_timedwait take realtime. */
static struct timespec realtime_at(uint64_t deadline_ns)
{
  struct timespec ts;
  uint64_t now = now_ns(), abs;

  clock_gettime(CLOCK_REALTIME, &ts);
  abs = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
        (deadline_ns > now ? deadline_ns - now : 0);
  ts.tv_sec = (time_t)(abs / 1000000000u);
  ts.tv_nsec = (long)(abs % 1000000000u);
  return ts;
}

/* The schema and the required names of `vt`, checked. */
static int read_schema(const pc_tool_iface *vt, const char *who,
                       pc_tool *t, pc_error *err)
{
  const char *schema = vt->args_schema ? vt->args_schema : "{}";

  t->args = json_tokener_parse(schema);
  if (!t->args || !json_object_is_type(t->args, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: tool '%s': its "
                        "argument schema is not a JSON object", who,
                        vt->name ? vt->name : "?");
  if (vt->required_args) {
    t->required = json_tokener_parse(vt->required_args);
    if (!t->required || !json_object_is_type(t->required, json_type_array))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: tool '%s': its "
                          "required arguments are not a JSON array", who,
                          vt->name ? vt->name : "?");
  } else {
    t->required = json_object_new_array();
    if (!t->required)
      return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", who);
    json_object_object_foreach(t->args, key, val) {
      struct json_object *s = json_object_new_string(key);

      (void)val;
      if (!s || json_object_array_add(t->required, s)) {
        json_object_put(s);
        return pc_error_set(err, PC_E_NOMEM, "%s: out of memory", who);
      }
    }
  }
  return PC_OK;
}

int pc_tool_open(const pc_tool_iface *vt, void *plugin_state, int threadsafe,
                 const char *name, const struct json_object *settings,
                 int64_t timeout_ms, pc_tool **out, pc_error *err)
{
  pc_tool *t = NULL;
  const char *text = "{}";
  pc_error cerr;
  int rc = PC_OK;

  *out = NULL;
  if (!vt || !vt->call || !name)
    return pc_error_set(err, PC_E_INVALID_ARG, "tool: bad table or name");
  t = pc_calloc(1, sizeof(*t));
  if (!t || !(t->name = pc_strdup(name))) {
    pc_free(t);
    return pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
  }
  atomic_init(&t->refs, 1);
  pthread_mutex_init(&t->lock, NULL);
  t->vt = vt;
  t->serialise = !threadsafe;
  t->timeout_ms = timeout_ms > 0 ? timeout_ms : PC_TOOL_TIMEOUT_DEFAULT;
  rc = read_schema(vt, "tool", t, err);
  if (rc)
    goto fail;
  if (settings)
    text = json_object_to_json_string_ext((struct json_object *)settings,
                                          JSON_C_TO_STRING_PLAIN);
  if (!text) {
    rc = pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
    goto fail;
  }
  if (vt->create) {
    memset(&cerr, 0, sizeof(cerr));
    rc = vt->create(plugin_state, text, strlen(text), &t->inst, &cerr);
    if (rc) {
      t->inst = NULL;
      if (rc < 0 || rc >= PC_E_LAST)
        rc = PC_E_INTERNAL;
      pc_error_set(err, rc, "tool '%s': %s", name,
                   cerr.message[0] ? cerr.message : pc_strerror(rc));
      goto fail;
    }
  }
  *out = t;
  return PC_OK;

fail:
  tool_unref(t);
  return rc;
}

const char *pc_tool_name(const pc_tool *t)
{
  return t->name;
}

const char *pc_tool_description(const pc_tool *t)
{
  return t->vt->description ? t->vt->description : "";
}

const struct json_object *pc_tool_args(const pc_tool *t)
{
  return t->args;
}

int64_t pc_tool_timeout_ms(const pc_tool *t)
{
  return t->timeout_ms;
}

/* ------------------------------------------------------------------------ */
/* The tools of a runtime.                                                  */

typedef struct tool_set {
  pthread_mutex_t lock;
  pc_tool *tools[MAX_TOOLS];
  size_t n;
} tool_set;

static void *set_make(pc_runtime *rt)
{
  tool_set *s = pc_calloc(1, sizeof(*s));

  (void)rt;
  if (s)
    pthread_mutex_init(&s->lock, NULL);
  return s;
}

/*
 * Release the runtime's tools. A worker abandoned after a timeout may
 * still be inside its tool: wait for it a little (RELEASE_GRACE_NS in
 * all), then orphan the tool before dropping the runtime's reference.
 * Whoever drops the last reference frees the host's side. When that is
 * the runtime (no worker left), the instance is destroyed here; when it
 * is a worker that outlived the runtime, destroy() is never called, since
 * the plugin may have been finalised by then: the instance is leaked on
 * purpose rather than destroyed under a call or after its plugin. The
 * flag is set before the drop, so a worker that finishes between the
 * two can never see a tool that is neither orphaned nor owned.
 */
static void set_release(void *state)
{
  tool_set *s = state;
  uint64_t until = now_ns() + RELEASE_GRACE_NS;

  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++) {
    pc_tool *t = s->tools[i];

    while (atomic_load(&t->refs) > 1 && now_ns() < until) {
      struct timespec ts = {0, 5000000};  /* 5 ms */

      nanosleep(&ts, NULL);
    }
    atomic_store(&t->orphaned, 1);
    tool_drop(t, 1);
  }
  pthread_mutex_destroy(&s->lock);
  pc_free(s);
}

/* Make the tool `name` from the config's entry `entry` (NULL: none). */
static int make_tool(pc_runtime *rt, const char *name,
                     const struct json_object *entry, pc_tool **out,
                     pc_error *err)
{
  const pc_config *cfg = pc_runtime_config(rt);
  const char *who = cfg && cfg->path ? cfg->path : "config";
  const char *type = name;
  const pc_tool_iface *vt = NULL;
  struct json_object *settings = NULL, *v;
  void *state = NULL;
  int64_t timeout = PC_TOOL_TIMEOUT_DEFAULT;
  int threadsafe = 1, rc = PC_OK;

  *out = NULL;
  if (entry && !json_object_is_type(entry, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: tools.%s: expected an "
                        "object", who, name);
  if (entry && json_object_object_get_ex(entry, "type", &v)) {
    if (!json_object_is_type(v, json_type_string))
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: tools.%s.type: "
                          "expected a string", who, name);
    type = json_object_get_string(v);
  }
  if (entry && json_object_object_get_ex(entry, "timeout_ms", &v)) {
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 1 ||
        json_object_get_int64(v) > PC_TOOL_TIMEOUT_MAX)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s: tools.%s.timeout_ms: "
                          "expected an integer from 1 to %d", who, name,
                          PC_TOOL_TIMEOUT_MAX);
    timeout = json_object_get_int64(v);
  }
  if (!strcmp(type, "calculator")) {
    vt = &pc__tool_calculator;
  } else if (!strcmp(type, "search")) {
    vt = &pc__tool_search;
  } else if (entry && pc_runtime_registry(rt)) {
    pc_plugin *plugin = NULL;

    vt = pc_registry_find_iface(pc_runtime_registry(rt), PC_IFACE_TOOL,
                                type, sizeof(pc_tool_iface), &plugin);
    if (vt && plugin) {
      state = plugin->state;
      threadsafe = !!(plugin->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
    }
  }
  if (!vt)
    /* A named type that is not loaded is a plugin problem (exit 4); a
     * tool with no entry that is not built in is a program or config
     * mistake. */
    return entry ? pc_error_set(err, PC_E_UNSUPPORTED, "%s: tools.%s.type: "
                                "no built-in tool or pc.tool/1 plugin "
                                "called '%s'", who, name, type)
                 : pc_error_set(err, PC_E_INVALID_ARG, "tool '%s': not in "
                                "the config's \"tools\" and not a built-in "
                                "tool", name);
  settings = json_object_new_object();
  if (!settings)
    return pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
  if (entry) {
    json_object_object_foreach((struct json_object *)entry, key, val) {
      if (!strcmp(key, "type") || !strcmp(key, "timeout_ms"))
        continue;
      if (json_object_object_add(settings, key, json_object_get(val))) {
        rc = pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
        goto out;
      }
    }
  }
  v = json_object_new_string(cfg && cfg->base_dir ? cfg->base_dir : ".");
  if (!v || json_object_object_add(settings, "base_dir", v)) {
    json_object_put(v);
    rc = pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
    goto out;
  }
  {
    pc_error terr;

    memset(&terr, 0, sizeof(terr));
    rc = pc_tool_open(vt, state, threadsafe, name, settings, timeout, out,
                      &terr);
    if (rc)
      pc_error_set(err, rc, "%s: tools.%s: %s", who, name, terr.message);
  }

out:
  json_object_put(settings);
  return rc;
}

int pc_runtime_tool(pc_runtime *rt, const char *name, pc_tool **out,
                    pc_error *err)
{
  const pc_config *cfg = pc_runtime_config(rt);
  struct json_object *entry = NULL;
  tool_set *s;
  int rc = PC_OK;

  *out = NULL;
  s = pc_runtime_slot(rt, PC_RT_SLOT_TOOLS, set_make, set_release);
  if (!s)
    return pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory", name);
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->tools[i]->name, name)) {
      *out = s->tools[i];
      goto out;
    }
  if (s->n == MAX_TOOLS) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "tool '%s': more than %d "
                      "tools in one runtime", name, MAX_TOOLS);
    goto out;
  }
  if (cfg && cfg->tools)
    json_object_object_get_ex(cfg->tools, name, &entry);
  rc = make_tool(rt, name, entry, out, err);
  if (!rc)
    s->tools[s->n++] = *out;

out:
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Calls.                                                                   */

/* Arguments as a JSON object with every required one. */
static int check_args(const pc_tool *t, const struct json_object *args,
                      pc_error *err)
{
  size_t n;

  if (!args || !json_object_is_type(args, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "tool '%s': arguments: "
                        "expected a JSON object", t->name);
  n = json_object_array_length(t->required);
  for (size_t i = 0; i < n; i++) {
    const char *key =
      json_object_get_string(json_object_array_get_idx(t->required, i));

    if (key && !json_object_object_get_ex(args, key, NULL))
      return pc_error_set(err, PC_E_INVALID_ARG, "tool '%s': arguments: "
                          "missing required argument '%s'", t->name, key);
  }
  return PC_OK;
}

/* Run the job's call. A tool that is not thread-safe is waited for only
 * up to the call's deadline, so calls behind a stuck one give up then
 * rather than each keeping a thread blocked until it returns. */
static void *worker(void *arg)
{
  tool_job *j = arg;
  pc_tool *t = j->tool;
  pc_text_sink sink = pc_host_buf_sink(&j->out);
  int rc, locked = 0;

  if (t->serialise) {
    struct timespec until = realtime_at(j->call.deadline_ns);

    locked = pthread_mutex_timedlock(&t->lock, &until) == 0;
  }
  if ((t->serialise && !locked) ||
      pc_host_api_get()->is_cancelled(NULL, &j->call)) {
    j->not_run = 1;
    rc = pc_error_set(&j->err, PC_E_TIMEOUT, "timed out before it ran");
  } else {
    rc = t->vt->call(t->inst, &j->call, j->args, j->args_len, &sink,
                     &j->err);
  }
  if (locked)
    pthread_mutex_unlock(&t->lock);
  if (rc < 0 || rc >= PC_E_LAST)
    rc = PC_E_INTERNAL;
  pthread_mutex_lock(&j->lock);
  j->rc = rc;
  j->done = 1;
  pthread_cond_signal(&j->done_cv);
  pthread_mutex_unlock(&j->lock);
  job_unref(j);
  return NULL;
}

/* Wait for the worker until it is done, the deadline passes or `call` is
 * cancelled. Returns PC_OK when done, else PC_E_TIMEOUT or
 * PC_E_CANCELLED. */
static int wait_job(tool_job *j, const pc_call *call)
{
  int rc = PC_OK;

  pthread_mutex_lock(&j->lock);
  while (!j->done) {
    uint64_t now = now_ns(), until = now + WAIT_SLICE_NS;
    struct timespec ts;

    if (now >= j->call.deadline_ns) {
      rc = PC_E_TIMEOUT;
      break;
    }
    if (call && (call->cancelled ||
                 pc_host_api_get()->is_cancelled(NULL, call))) {
      rc = call->deadline_ns && now >= call->deadline_ns ? PC_E_TIMEOUT
                                                           : PC_E_CANCELLED;
      break;
    }
    if (until > j->call.deadline_ns)
      until = j->call.deadline_ns;
    ts = realtime_at(until);
    pthread_cond_timedwait(&j->done_cv, &j->lock, &ts);
  }
  if (rc)
    j->call.cancelled = 1;  /* ask the abandoned tool to stop */
  pthread_mutex_unlock(&j->lock);
  return rc;
}

int pc_tool_call(pc_tool *t, const pc_call *call,
                 const struct json_object *args, char **observation,
                 size_t *len, pc_error *err)
{
  tool_job *j = NULL;
  const char *text;
  pthread_t th;
  uint64_t start = now_ns();
  int rc, own_deadline = 1;

  *observation = NULL;
  if (len)
    *len = 0;
  rc = check_args(t, args, err);
  if (rc)
    return rc;
  if (call && pc_host_api_get()->is_cancelled(NULL, call))
    return pc_error_set(err, PC_E_CANCELLED, "tool '%s': cancelled",
                        t->name);
  j = pc_calloc(1, sizeof(*j));
  text = json_object_to_json_string_ext((struct json_object *)args,
                                        JSON_C_TO_STRING_PLAIN);
  if (!j || !text || !(j->args = pc_strdup(text))) {
    pc_free(j);
    return pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory",
                        t->name);
  }
  j->args_len = strlen(j->args);
  pthread_mutex_init(&j->lock, NULL);
  pthread_cond_init(&j->done_cv, NULL);
  pc_buf_init(&j->out, OBSERVATION_MAX);
  j->refs = 2;
  j->tool = t;
  atomic_fetch_add(&t->refs, 1);
  j->call.deadline_ns = start + (uint64_t)t->timeout_ms * 1000000u;
  if (call && call->deadline_ns && call->deadline_ns < j->call.deadline_ns) {
    j->call.deadline_ns = call->deadline_ns;
    own_deadline = 0;
  }
  if (pthread_create(&th, NULL, worker, j)) {
    j->refs = 1;
    job_unref(j);
    return pc_error_set(err, PC_E_NOMEM, "tool '%s': cannot start a "
                        "thread", t->name);
  }
  rc = wait_job(j, call);
  /* A worker that finished is joined (it is about to return); one that
   * is abandoned runs on, detached, and frees what it holds itself. */
  if (rc)
    pthread_detach(th);
  else
    pthread_join(th, NULL);
  /* A call that never ran because its deadline came first (the tool was
   * busy) is a timeout like any other. */
  if (!rc && j->not_run)
    rc = PC_E_TIMEOUT;
  if (rc == PC_E_TIMEOUT && own_deadline) {
    /* The limit, not the time measured, so the message (which becomes
     * an observation in a prompt) is the same on every run. */
    pc_error_set(err, rc, "tool '%s': timed out after %lld ms", t->name,
                 (long long)t->timeout_ms);
  } else if (rc == PC_E_TIMEOUT) {
    pc_error_set(err, rc, "tool '%s': the run's deadline passed",
                 t->name);
  } else if (rc) {
    pc_error_set(err, rc, "tool '%s': cancelled", t->name);
  } else if (j->rc) {
    rc = j->rc;
    pc_error_set(err, rc, "tool '%s': %s", t->name,
                 j->err.message[0] ? j->err.message : pc_strerror(rc));
  } else {
    size_t n = 0;

    *observation = pc_buf_take(&j->out, &n);
    if (!*observation)
      *observation = pc_strdup("");
    if (!*observation)
      rc = pc_error_set(err, PC_E_NOMEM, "tool '%s': out of memory",
                        t->name);
    else if (len)
      *len = n;
  }
  job_unref(j);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Checking a program against the runtime.                                  */

/* Resolve tool `name`, which module `m` names in `member`. */
static int check_one(pc_runtime *rt, const pc_module *m, const char *member,
                     const char *name, pc_error *err)
{
  pc_tool *t = NULL;
  pc_error sub = PC_ERROR_INIT;
  int rc = pc_runtime_tool(rt, name, &t, &sub);

  if (rc)
    pc_error_wrap(err, &sub, "modules.%s.%s", m->name, member);
  return rc;
}

int pc_tool_check_program(pc_runtime *rt, const pc_program *prog,
                          pc_error *err)
{
  size_t n = pc_program_n_modules(prog);
  int rc = PC_OK;

  for (size_t i = 0; i < n && !rc; i++) {
    const pc_module *m = pc_program_module_at(prog, i);
    const char *type = m->vt ? m->vt->name : "";
    struct json_object *v = NULL;

    if (!strcmp(type, "retrieve")) {
      const char *name = "search";

      if (m->spec && json_object_object_get_ex(m->spec, "tool", &v) &&
          json_object_is_type(v, json_type_string))
        name = json_object_get_string(v);
      rc = check_one(rt, m, "tool", name, err);
    } else if (!strcmp(type, "react") && m->spec &&
               json_object_object_get_ex(m->spec, "tools", &v) &&
               json_object_is_type(v, json_type_array)) {
      size_t k = json_object_array_length(v);

      for (size_t j = 0; j < k && !rc; j++) {
        struct json_object *e = json_object_array_get_idx(v, j), *nm;
        char member[32];

        if (json_object_is_type(e, json_type_object) &&
            json_object_object_get_ex(e, "name", &nm))
          e = nm;
        if (!json_object_is_type(e, json_type_string))
          continue;  /* the load already refused it */
        snprintf(member, sizeof(member), "tools[%zu]", j);
        rc = check_one(rt, m, member, json_object_get_string(e), err);
      }
    }
  }
  return rc;
}
