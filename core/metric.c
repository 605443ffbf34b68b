/*
 * metric.c - metrics from plugins: open by name, score one prediction.
 */
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_text.h"
#include "metric.h"

/* Everything up to and including score is ABI 1.0. */
#define METRIC_V1_SIZE \
  (offsetof(pc_metric_iface, score) + sizeof(void (*)(void)))

struct pc_metric {
  const pc_metric_iface *iface;  /* plugin-owned, static */
  pc_plugin *plugin;             /* borrowed */
  void *inst;
  char *label;                   /* owned */
  int serialise;
  pthread_mutex_t lock;
};

int pc_metric_open(const pc_registry *reg, const struct json_object *spec,
                   pc_metric **out, pc_error *err)
{
  struct json_object *v, *settings = NULL;
  const char *name;
  pc_metric *m;
  pc_buf b;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  if (!json_object_object_get_ex(spec, "name", &v) ||
      !json_object_is_type(v, json_type_string))
    return pc_error_set(err, PC_E_INVALID_ARG, "metric: no name given");
  name = json_object_get_string(v);
  m = pc_calloc(1, sizeof(*m));
  if (!m)
    return pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", name);
  pthread_mutex_init(&m->lock, NULL);
  pc_buf_init(&b, 0);
  m->iface = pc_registry_find_iface(reg, PC_IFACE_METRIC, name,
                                    (uint32_t)METRIC_V1_SIZE, &m->plugin);
  if (!m->iface) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "metric \"%s\": no loaded "
                      "plugin offers it (see `promptc plugins list`)", name);
    goto fail;
  }
  if (!m->iface->create || !m->iface->score) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED, "metric \"%s\" (%s): interface "
                      "lacks create or score", name, m->plugin->path);
    goto fail;
  }
  m->serialise = !(m->plugin->info->flags & PC_PLUGIN_THREADSAFE_INSTANCES);
  settings = json_object_new_object();
  if (!settings) {
    rc = pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", name);
    goto fail;
  }
  /* Copies, not references: a spec may be shared by threads that open
   * metrics at once (best_of_n's reward), and json-c's reference counts
   * are not atomic. */
  json_object_object_foreach((struct json_object *)spec, key, val) {
    struct json_object *copy = NULL;

    if (!strcmp(key, "name"))
      continue;
    if (val && json_object_deep_copy(val, &copy, NULL)) {
      rc = pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", name);
      goto fail;
    }
    json_object_object_add(settings, key, copy);
  }
  if (pc_json_write(settings, PC_JSON_TEXT_COMPACT, &b)) {
    rc = pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", name);
    goto fail;
  }
  rc = m->iface->create(m->plugin->state, b.data, b.len, &m->inst, &perr);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    m->inst = NULL;
    rc = pc_error_wrap(err, &perr, "metric \"%s\" (%s)", name,
                       m->plugin->info->id);
    goto fail;
  }
  pc_buf_reset(&b);
  if (pc_buf_puts(&b, name) ||
      (json_object_object_get_ex(spec, "field", &v) &&
       json_object_is_type(v, json_type_string) &&
       (pc_buf_putc(&b, ':') || pc_buf_puts(&b, json_object_get_string(v))))
      || !(m->label = pc_buf_take(&b, NULL))) {
    rc = pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", name);
    goto fail;
  }
  json_object_put(settings);
  pc_buf_free(&b);
  *out = m;
  return PC_OK;
fail:
  json_object_put(settings);
  pc_buf_free(&b);
  pc_metric_close(m);
  return rc;
}

void pc_metric_close(pc_metric *m)
{
  if (!m)
    return;
  if (m->inst && m->iface->destroy)
    m->iface->destroy(m->inst);
  pthread_mutex_destroy(&m->lock);
  pc_free(m->label);
  pc_free(m);
}

const char *pc_metric_label(const pc_metric *m) { return m->label; }
const char *pc_metric_plugin_id(const pc_metric *m)
{
  return m->plugin->info->id;
}

void pc_metric_result_clear(pc_metric_result *r)
{
  pc_free(r->feedback);
  json_object_put(r->subscores);
  memset(r, 0, sizeof(*r));
}

/* ---- the sink ---------------------------------------------------------- */

struct collect {
  pc_metric_result *r;
  int scored;
};

static int s_score(void *ctx, double score)
{
  struct collect *c = ctx;

  c->r->score = score;
  c->scored++;
  return PC_OK;
}

static int s_feedback(void *ctx, const char *text, size_t len)
{
  struct collect *c = ctx;
  char *copy = pc_memdup(text ? text : "", text ? len : 0);

  if (!copy)
    return PC_E_NOMEM;
  pc_free(c->r->feedback);
  c->r->feedback = copy;
  return PC_OK;
}

static int s_subscore(void *ctx, const char *name, double score)
{
  struct collect *c = ctx;

  if (!name)
    return PC_E_INVALID_ARG;
  if (!c->r->subscores && !(c->r->subscores = json_object_new_object()))
    return PC_E_NOMEM;
  return json_object_object_add(c->r->subscores, name,
                                json_object_new_double(score))
           ? PC_E_NOMEM
           : PC_OK;
}

int pc_metric_score(pc_metric *m, const struct json_object *example,
                    const struct json_object *prediction,
                    const struct json_object *trace, pc_metric_result *out,
                    pc_error *err)
{
  struct collect c = {out, 0};
  pc_metric_sink sink = {
    .hdr = PC_ABI_HEADER_INIT(pc_metric_sink),
    .ctx = &c,
    .score = s_score,
    .feedback = s_feedback,
    .subscore = s_subscore,
  };
  pc_buf ex, pred, tr;
  pc_error perr = PC_ERROR_INIT;
  int rc;

  memset(out, 0, sizeof(*out));
  pc_buf_init(&ex, 0);
  pc_buf_init(&pred, 0);
  pc_buf_init(&tr, 0);
  if (pc_json_write(example, PC_JSON_TEXT_COMPACT, &ex) ||
      pc_json_write(prediction, PC_JSON_TEXT_COMPACT, &pred) ||
      (trace && pc_json_write(trace, PC_JSON_TEXT_COMPACT, &tr))) {
    rc = pc_error_set(err, PC_E_NOMEM, "metric %s: out of memory", m->label);
    goto out;
  }
  if (m->serialise)
    pthread_mutex_lock(&m->lock);
  rc = m->iface->score(m->inst, ex.data, ex.len, pred.data, pred.len,
                       trace ? tr.data : NULL, trace ? tr.len : 0, &sink,
                       &perr);
  if (m->serialise)
    pthread_mutex_unlock(&m->lock);
  if (rc) {
    if (!perr.code)
      perr.code = rc;
    rc = pc_error_wrap(err, &perr, "metric %s", m->label);
  } else if (c.scored != 1) {
    rc = pc_error_set(err, PC_E_INTERNAL, "metric %s: gave %d scores "
                      "instead of one", m->label, c.scored);
  } else if (!(out->score >= 0.0 && out->score <= 1.0)) {
    rc = pc_error_set(err, PC_E_INTERNAL, "metric %s: score %g is outside "
                      "[0, 1]", m->label, out->score);
  }
out:
  if (rc)
    pc_metric_result_clear(out);
  pc_buf_free(&ex);
  pc_buf_free(&pred);
  pc_buf_free(&tr);
  return rc;
}
