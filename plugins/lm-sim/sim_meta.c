/* sim_meta.c - generated instructions, summaries and advice. */
#include <string.h>

#include "sim_answer.h"
#include "sim_meta.h"


static const char *const meta_words[] = {
  "instruction", "summary", "observations", "advice", "prefix", NULL,
};

/* Instruction templates: %s is the base instruction. */
static const char *const templates[] = {
  "%s",
  "%s\n\nRead every input carefully before answering.",
  "You are a careful expert. %s",
  "%s Answer precisely and in the requested format.",
  "%s\n\nCheck the answer against the inputs before giving it.",
};
#define N_TEMPLATES (sizeof(templates) / sizeof(templates[0]))

#define DEFAULT_BASE "Solve the task accurately, using every input field."

int pc__sim_is_meta(const pc__sim_request *req)
{
  for (size_t i = 0; i < req->n_outputs; i++)
    for (size_t k = 0; meta_words[k]; k++)
      if (strstr(req->outputs[i].name, meta_words[k]))
        return 1;
  return 0;
}

/* Whether any of the request's current inputs mentions the phrase. */
static int mentioned(const pc__sim_request *req, const char *phrase)
{
  for (size_t i = 0; i < req->n_inputs; i++)
    if (req->current[i].s &&
        pc__sim_icontains(req->current[i].s, req->current[i].len, phrase))
      return 1;
  return 0;
}

/* Append `lead`, the key phrases the draws choose (those not in
 * have[0..have_len) already) joined by "; ", and a full stop; nothing
 * when none is chosen. `have` may point into `out`: the text is built
 * apart and appended at the end. */
static int put_phrases(const pc__sim_host *h, const pc__sim_config *c,
                       const pc__sim_request *req, const char *field,
                       const char *sample, const char *lead,
                       const char *have, size_t have_len, pc__sim_buf *out)
{
  pc__sim_buf b;
  size_t j, n = 0;
  int rc = PC_OK;

  pc__sim_buf_init(&b, h);
  for (j = 0; !rc && j < c->n_key_phrases; j++) {
    const char *phrase = c->key_phrases[j];
    double rate = mentioned(req, phrase) ? c->meta_feedback_rate
                                         : c->meta_phrase_rate;
    uint64_t r;

    if (pc__sim_icontains(have, have_len, phrase))
      continue;
    rc = pc__sim_draw(h, c->seed, "sim-meta", field, sample,
                      req->prompt_hash, 1 + j, &r);
    if (rc || pc__sim_unit(r) >= rate)
      continue;
    rc = pc__sim_buf_puts(&b, n++ ? "; " : lead);
    rc = rc ? rc : pc__sim_buf_puts(&b, phrase);
  }
  if (!rc && n)
    rc = pc__sim_buf_puts(&b, ".");
  if (!rc && b.len)
    rc = pc__sim_buf_put(out, b.data, b.len);
  pc__sim_buf_free(&b);
  return rc;
}

/* The input holding the current instruction: a name ending in
 * "instruction", else one containing it that is not a plural; -1. */
static long base_input(const pc__sim_request *req)
{
  size_t i, n;

  for (i = 0; i < req->n_inputs; i++) {
    n = strlen(req->inputs[i].name);
    if (n >= 11 && !strcmp(req->inputs[i].name + n - 11, "instruction") &&
        req->current[i].s && req->current[i].len)
      return (long)i;
  }
  for (i = 0; i < req->n_inputs; i++) {
    n = strlen(req->inputs[i].name);
    if (strstr(req->inputs[i].name, "instruction") &&
        req->inputs[i].name[n - 1] != 's' && req->current[i].s &&
        req->current[i].len)
      return (long)i;
  }
  return -1;
}

static int instruction_text(const pc__sim_host *h, const pc__sim_config *c,
                            const pc__sim_request *req, const char *field,
                            const char *sample, pc__sim_buf *out)
{
  long bi = base_input(req);
  const char *base = bi >= 0 ? req->current[bi].s : DEFAULT_BASE;
  const char *t, *at;
  size_t mark = out->len;
  uint64_t r;
  int rc;

  rc = pc__sim_draw(h, c->seed, "sim-meta", field, sample, req->prompt_hash,
                    0, &r);
  if (rc)
    return rc;
  t = templates[r % N_TEMPLATES];
  at = strstr(t, "%s");
  rc = pc__sim_buf_put(out, t, (size_t)(at - t));
  rc = rc ? rc : pc__sim_buf_puts(out, base);
  rc = rc ? rc : pc__sim_buf_puts(out, at + 2);
  return rc ? rc : put_phrases(h, c, req, field, sample,
                               "\n\nPay attention to: ", out->data + mark,
                               out->len - mark, out);
}

static int is_task_name(const pc__sim_config *c, const char *name)
{
  return strcmp(name, "id") && strcmp(name, "slice") &&
         strcmp(name, c->hard_field);
}

static int summary_text(const pc__sim_host *h, const pc__sim_config *c,
                        const pc__sim_knowledge *kn,
                        const pc__sim_request *req, const char *field,
                        const char *sample, pc__sim_buf *out)
{
  size_t i, n = 0, shown = 0;
  int rc = PC_OK;

  for (i = 0; i < kn->n_names; i++)
    n += is_task_name(c, kn->names[i]) != 0;
  rc = pc__sim_buf_puts(out, n ? "The examples use the fields "
                               : "The examples");
  for (i = 0; !rc && i < kn->n_names; i++) {
    if (!is_task_name(c, kn->names[i]))
      continue;
    rc = pc__sim_buf_printf(out, "%s`%s`", shown == 0 ? ""
                            : shown + 1 == n ? " and " : ", ",
                            kn->names[i]);
    shown++;
  }
  rc = rc ? rc : pc__sim_buf_puts(out, ". Each example follows the same "
                                  "format and has one correct answer, and "
                                  "some need more care than others.");
  return rc ? rc : put_phrases(h, c, req, field, sample,
                               " What matters most: ", "", 0, out);
}

static int advice_text(const pc__sim_host *h, const pc__sim_config *c,
                       const pc__sim_request *req, const char *field,
                       const char *sample, pc__sim_buf *out)
{
  int rc = pc__sim_buf_puts(out, "If the module receives inputs like "
                            "these, then it should read every field "
                            "carefully and answer in the requested "
                            "format.");

  return rc ? rc : put_phrases(h, c, req, field, sample,
                               " It should also pay attention to: ", "", 0,
                               out);
}

/* Append the module names found in the input named like "module_names"
 * (JSON or Python list, or «...» blobs) to the array `names`. */
static int module_names(const pc__sim_host *h, const pc__sim_request *req,
                        pc_json *names)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_error e = PC_ERROR_INIT;
  size_t i, k;

  for (i = 0; i < req->n_inputs; i++) {
    const char *s = req->current[i].s;
    size_t len = req->current[i].len;
    pc_json *arr = NULL;

    if (!s || !strstr(req->inputs[i].name, "module_names"))
      continue;
    if (!js->parse(ctx, s, len, PC_JSON_PARSE_REPAIR, &arr, &e) && arr &&
        js->type(arr) == PC_JSON_ARRAY) {
      for (k = 0; k < js->array_len(arr); k++) {
        const pc_json *v = js->array_get(arr, k);
        size_t vl;
        const char *vs = js->get_string(v, &vl);

        if (vs && js->array_append(ctx, names, js->new_string(ctx, vs, vl)))
          return PC_E_NOMEM;
      }
    } else {
      /* Numbered blobs: [1] «a» ... */
      const char *p = s, *end = s + len;

      while ((p = strstr(p, "\xc2\xab")) && p < end) {
        const char *q = strstr(p + 2, "\xc2\xbb");

        if (!q || q > end)
          break;
        if (js->array_append(ctx, names,
                             js->new_string(ctx, p + 2, (size_t)(q - p - 2))))
          return PC_E_NOMEM;
        p = q + 2;
      }
    }
    js->free(ctx, arr);
  }
  if (js->array_len(names) == 0 &&
      js->array_append(ctx, names, js->new_string(ctx, "program", 7)))
    return PC_E_NOMEM;
  return PC_OK;
}

/* The advice object {"<module>": "<advice>"}. */
static int advice_dict(const pc__sim_host *h, const pc__sim_request *req,
                       const pc__sim_buf *text, pc_json **out)
{
  const pc_json_api *js = h->json;
  void *ctx = h->host->ctx;
  pc_json *names = js->new_array(ctx), *obj = js->new_object(ctx);
  int rc = (names && obj) ? module_names(h, req, names) : PC_E_NOMEM;

  for (size_t k = 0; !rc && k < js->array_len(names); k++)
    rc = js->object_set(ctx, obj, js->get_string(js->array_get(names, k),
                                                 NULL),
                        js->new_string(ctx, pc__sim_buf_str(text),
                                       text->len));
  js->free(ctx, names);
  if (rc) {
    js->free(ctx, obj);
    return PC_E_NOMEM;
  }
  *out = obj;
  return PC_OK;
}

int pc__sim_meta_values(const pc__sim_host *h, const pc__sim_config *c,
                        const pc__sim_knowledge *kn,
                        const pc__sim_request *req, const char *sample,
                        pc_json **values, pc_error *err)
{
  pc__sim_buf b;
  size_t i;
  int rc = PC_OK;

  pc__sim_buf_init(&b, h);
  for (i = 0; !rc && i < req->n_outputs; i++) {
    const pc__sim_field *f = &req->outputs[i];
    int kind = f->t.kind, as_text = 1;

    b.len = 0;
    if (kind != PC__SIM_K_STR && kind != PC__SIM_K_ANY &&
        kind != PC__SIM_K_OPTIONAL && kind != PC__SIM_K_DICT)
      continue;                 /* uninformed, below */
    if (strstr(f->name, "instruction")) {
      rc = instruction_text(h, c, req, f->name, sample, &b);
    } else if (strstr(f->name, "summary") ||
               strstr(f->name, "observations")) {
      rc = summary_text(h, c, kn, req, f->name, sample, &b);
    } else if (strstr(f->name, "advice")) {
      rc = advice_text(h, c, req, f->name, sample, &b);
      if (!rc && kind == PC__SIM_K_DICT) {
        rc = advice_dict(h, req, &b, &values[i]);
        as_text = 0;
      }
    } else if (strstr(f->name, "prefix")) {
      rc = pc__sim_buf_puts(&b, "Answer:");
    } else if (!strcmp(f->name, "reasoning")) {
      rc = pc__sim_buf_puts(&b, "Let's think step by step. The inputs show "
                            "what the task needs, so the new text should "
                            "build on them.");
    } else {
      rc = pc__sim_buf_puts(&b, "I considered the inputs and wrote the "
                            "requested output.");
    }
    if (kind == PC__SIM_K_DICT && as_text)
      continue;                 /* not advice: uninformed {} */
    if (!rc && as_text &&
        !(values[i] = h->json->new_string(h->host->ctx, pc__sim_buf_str(&b),
                                          b.len)))
      rc = PC_E_NOMEM;
  }
  pc__sim_buf_free(&b);
  if (rc)
    return PC__SIM_OOM(err);
  return pc__sim_fill_uninformed(h, req, values, err);
}
