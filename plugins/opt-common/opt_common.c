/*
 * opt_common.c - host tables, errors, growable text, settings, keyed random
 * draws, JSON helpers and DSPy's field prefixes, shared by promptc's
 * optimizer plugins (opt_common.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "opt_common.h"

/* ------------------------------------------------------------------------ */
/* Host, errors, memory.                                                    */

int pc__opt_error(pc_error *err, int code, const char *fmt, ...)
{
  va_list ap;
  size_t n, i;

  if (!err || err->code != PC_OK)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  n = strlen(err->message);
  for (i = 0; i < n; i++)
    if ((unsigned char)err->message[i] < 0x20 || err->message[i] == 0x7f)
      err->message[i] = ' ';
  /* A UTF-8 sequence cut by the size limit is dropped. */
  if (n == sizeof(err->message) - 1) {
    i = n;
    while (i > 0 && ((unsigned char)err->message[i - 1] & 0xc0) == 0x80)
      i--;
    if (i > 0 && ((unsigned char)err->message[i - 1] & 0xc0) == 0xc0)
      err->message[i - 1] = '\0';
  }
  return code;
}

int pc__opt_init(const pc_host_api *host, const char *plugin, void **state,
                 pc_error *err)
{
  const pc_json_api *js;
  pc__opt_host *h;
  uint32_t size = 0;

  if (state)
    *state = NULL;
  if (!state || !host || host->hdr.abi_major != PC_ABI_MAJOR ||
      !PC_HAS_FIELD(host, pc_host_api, get_host_interface) ||
      !host->alloc || !host->free || !host->rng_u64 ||
      !host->get_host_interface)
    return pc__opt_error(err, PC_E_INVALID_ARG, "%s: bad host table",
                         plugin);
  js = host->get_host_interface(host->ctx, "pc.json/1", &size);
  if (!js || size < sizeof(*js) || js->hdr.abi_major != PC_ABI_MAJOR ||
      js->hdr.struct_size < sizeof(*js))
    return pc__opt_error(err, PC_E_UNSUPPORTED, "%s: the host offers no "
                         "usable pc.json/1 service", plugin);
  h = host->alloc(host->ctx, sizeof(*h));
  if (!h)
    return pc__opt_error(err, PC_E_NOMEM, "%s: out of memory", plugin);
  h->host = host;
  h->js = js;
  *state = h;
  return PC_OK;
}

void pc__opt_fini(void *state)
{
  pc__opt_host *h = state;

  if (h)
    h->host->free(h->host->ctx, h);
}

void *pc__opt_alloc(const pc__opt_host *h, size_t n)
{
  return h->host->alloc(h->host->ctx, n ? n : 1);
}

void *pc__opt_calloc(const pc__opt_host *h, size_t n, size_t size)
{
  size_t bytes;
  void *p;

  if (size && n > SIZE_MAX / size)
    return NULL;
  bytes = n * size;
  p = pc__opt_alloc(h, bytes);
  if (p)
    memset(p, 0, bytes > 0 ? bytes : 1);
  return p;
}

void pc__opt_free(const pc__opt_host *h, void *p)
{
  if (p)
    h->host->free(h->host->ctx, p);
}

/* ------------------------------------------------------------------------ */
/* Growable text.                                                           */

void pc__opt_text_init(pc__opt_text *t, const pc__opt_host *h)
{
  memset(t, 0, sizeof(*t));
  t->h = h;
}

void pc__opt_text_add(pc__opt_text *t, const char *s, size_t n)
{
  if (t->failed)
    return;
  if (n > SIZE_MAX / 2 - 1 - t->len) {
    t->failed = 1;
    return;
  }
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    char *p;

    while (cap < t->len + n + 1)
      cap *= 2;
    p = t->h->host->realloc(t->h->host->ctx, t->data, cap);
    if (!p) {
      t->failed = 1;
      return;
    }
    t->data = p;
    t->cap = cap;
  }
  if (n)
    memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
}

void pc__opt_text_str(pc__opt_text *t, const char *s)
{
  pc__opt_text_add(t, s, strlen(s));
}

void pc__opt_text_fmt(pc__opt_text *t, const char *fmt, ...)
{
  char small[256];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    t->failed = 1;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    pc__opt_text_add(t, small, (size_t)n);
  } else {
    char *big = pc__opt_alloc(t->h, (size_t)n + 1);

    if (!big) {
      t->failed = 1;
      return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    pc__opt_text_add(t, big, (size_t)n);
    pc__opt_free(t->h, big);
  }
}

char *pc__opt_text_take(pc__opt_text *t)
{
  char *p = t->data;

  if (t->failed || !p) {
    pc__opt_free(t->h, p);
    p = t->failed ? NULL : pc__opt_calloc(t->h, 1, 1);
  }
  t->data = NULL;
  t->len = t->cap = 0;
  t->failed = 0;
  return p;
}

void pc__opt_text_free(pc__opt_text *t)
{
  if (t->h)
    pc__opt_free(t->h, t->data);
  t->data = NULL;
  t->len = t->cap = 0;
  t->failed = 0;
}

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

size_t pc__opt_spec_index(const pc__opt_spec *specs, size_t n,
                          const char *name)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (!strcmp(specs[i].name, name))
      return i;
  return 0;  /* never reached for a declared name */
}

/* Append ", name" for every spec to buf (cap bytes), for the message
 * that lists the known settings. */
static void known_list(const pc__opt_spec *specs, size_t n, char *buf,
                       size_t cap)
{
  size_t i, used = 0;

  buf[0] = '\0';
  for (i = 0; i < n && used < cap; i++) {
    int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                     specs[i].name);

    if (w < 0)
      break;
    used += (size_t)w;
  }
}

/* Describe what spec s accepts, for messages ("an integer >= 1"). */
static void expected_text(const pc__opt_spec *s, char *buf, size_t cap)
{
  switch (s->type) {
  case PC__OPT_SET_INT:
    snprintf(buf, cap, "an integer >= %lld", (long long)s->min);
    break;
  case PC__OPT_SET_BOOL:
    snprintf(buf, cap, "true or false");
    break;
  default:
    snprintf(buf, cap, "null or a number in %c%g, %g]",
             s->lo_open ? '(' : '[', s->lo, s->hi);
    break;
  }
}

/* Check one value against its spec and store it in *val. */
static int parse_one(const pc__opt_host *h, const char *who,
                     const pc__opt_spec *s, const pc_json *v,
                     pc__opt_value *val, pc_error *err)
{
  int32_t t = h->js->type(v);
  char want[96];
  double d;

  switch (s->type) {
  case PC__OPT_SET_INT:
    if (t == PC_JSON_INT && h->js->get_int(v) >= s->min) {
      val->i = h->js->get_int(v);
      return PC_OK;
    }
    break;
  case PC__OPT_SET_BOOL:
    if (t == PC_JSON_BOOL) {
      val->i = h->js->get_bool(v) ? 1 : 0;
      return PC_OK;
    }
    break;
  default:
    if (t == PC_JSON_NULL) {
      val->is_null = 1;
      return PC_OK;
    }
    if (t == PC_JSON_INT || t == PC_JSON_DOUBLE) {
      d = h->js->get_double(v);
      if (isfinite(d) && (s->lo_open ? d > s->lo : d >= s->lo) &&
          d <= s->hi) {
        val->is_null = 0;
        val->d = d;
        return PC_OK;
      }
    }
    break;
  }
  expected_text(s, want, sizeof(want));
  return pc__opt_error(err, PC_E_INVALID_ARG, "%s: %s: expected %s", who,
                       s->name, want);
}

int pc__opt_settings_parse(const pc__opt_host *h, const char *who,
                           const pc__opt_spec *specs, size_t n,
                           const char *json, size_t len, pc__opt_value *vals,
                           pc_error *err)
{
  pc_json *obj = NULL;
  size_t i, j, m;
  int rc = PC_OK;

  for (i = 0; i < n; i++) {
    memset(&vals[i], 0, sizeof(vals[i]));
    vals[i].i = specs[i].def_int;
    vals[i].is_null = specs[i].type == PC__OPT_SET_NUM;
  }
  if (!json || !len)
    return PC_OK;
  if (h->js->parse(h->host->ctx, json, len, PC_JSON_PARSE_STRICT, &obj,
                   NULL) != PC_OK) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, "%s: settings: not valid "
                       "JSON", who);
    goto out;
  }
  if (h->js->type(obj) != PC_JSON_OBJECT) {
    rc = pc__opt_error(err, PC_E_INVALID_ARG, "%s: settings: expected a "
                       "JSON object", who);
    goto out;
  }
  m = h->js->object_len(obj);
  for (j = 0; j < m; j++) {
    const char *key;
    const pc_json *v;

    if (h->js->object_at(obj, j, &key, &v) != 0)
      break;
    for (i = 0; i < n; i++)
      if (!strcmp(specs[i].name, key))
        break;
    if (i == n) {
      char known[200];

      known_list(specs, n, known, sizeof(known));
      rc = pc__opt_error(err, PC_E_INVALID_ARG, "%s: %s: unknown setting "
                         "(known: %s)", who, key, known);
      goto out;
    }
    rc = parse_one(h, who, &specs[i], v, &vals[i], err);
    if (rc)
      goto out;
  }
out:
  h->js->free(h->host->ctx, obj);
  return rc;
}

int pc__opt_settings_write(const pc__opt_host *h, const pc__opt_spec *specs,
                           size_t n, const pc__opt_value *vals,
                           const pc_text_sink *out, pc_error *err)
{
  void *ctx = h->host->ctx;
  pc_json *obj = h->js->new_object(ctx);
  size_t i;
  int rc = obj ? PC_OK : PC_E_NOMEM;

  for (i = 0; !rc && i < n; i++) {
    pc_json *v;

    if (specs[i].type == PC__OPT_SET_INT)
      v = h->js->new_int(ctx, vals[i].i);
    else if (specs[i].type == PC__OPT_SET_BOOL)
      v = h->js->new_bool(ctx, (int32_t)vals[i].i);
    else if (vals[i].is_null)
      v = h->js->new_null(ctx);
    else
      v = h->js->new_double(ctx, vals[i].d);
    rc = pc__opt_json_set(h, obj, specs[i].name, v, err);
  }
  if (!rc)
    rc = pc__opt_json_write(h, obj, out, err);
  else
    rc = pc__opt_error(err, rc, "settings: out of memory");
  h->js->free(ctx, obj);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Keyed random draws.                                                      */

void pc__opt_rng_init(pc__opt_rng *r, const pc__opt_host *h, uint64_t seed,
                      const char *purpose, uint64_t index)
{
  r->h = h;
  r->seed = seed;
  r->purpose = purpose;
  r->index = index;
  r->draw = 0;
}

uint64_t pc__opt_rng_next(pc__opt_rng *r)
{
  const pc_host_api *host = r->h->host;

  return host->rng_u64(host->ctx, r->seed, r->purpose, r->index, r->draw++);
}

uint64_t pc__opt_rng_below(pc__opt_rng *r, uint64_t n)
{
  /* Reject the lowest (2^64 mod n) values so every residue is equally
   * likely; the expected number of draws is below 2. */
  uint64_t floor = (0 - n) % n;
  uint64_t u;

  if (n <= 1)
    return 0;
  do
    u = pc__opt_rng_next(r);
  while (u < floor);
  return u % n;
}

double pc__opt_rng_unit(pc__opt_rng *r)
{
  return (double)(pc__opt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

void pc__opt_rng_shuffle(pc__opt_rng *r, int64_t *v, size_t n)
{
  size_t i;

  for (i = n; i > 1; i--) {
    size_t j = (size_t)pc__opt_rng_below(r, i);
    int64_t t = v[i - 1];

    v[i - 1] = v[j];
    v[j] = t;
  }
}

void pc__opt_rng_sample(pc__opt_rng *r, int64_t *v, size_t n, size_t k)
{
  size_t i;

  for (i = 0; i < k && i < n; i++) {
    size_t j = i + (size_t)pc__opt_rng_below(r, n - i);
    int64_t t = v[i];

    v[i] = v[j];
    v[j] = t;
  }
}

/* ------------------------------------------------------------------------ */
/* JSON helpers.                                                            */

int pc__opt_json_parse(const pc__opt_host *h, const char *what,
                       const char *text, size_t len, pc_json **out,
                       pc_error *err)
{
  pc_error e = PC_ERROR_INIT;

  *out = NULL;
  if (h->js->parse(h->host->ctx, text, len, PC_JSON_PARSE_STRICT, out, &e)
      != PC_OK) {
    *out = NULL;
    return pc__opt_error(err, PC_E_PARSE, "%s: %s", what, e.message);
  }
  return PC_OK;
}

int pc__opt_json_text(const pc__opt_host *h, const pc_json *v, char **out,
                      size_t *len, pc_error *err)
{
  *out = NULL;
  *len = 0;
  if (h->js->to_text(h->host->ctx, v, PC_JSON_TEXT_COMPACT, out, len)
      != PC_OK) {
    *out = NULL;
    return pc__opt_error(err, PC_E_NOMEM, "json: out of memory");
  }
  return PC_OK;
}

int pc__opt_json_set(const pc__opt_host *h, pc_json *obj, const char *key,
                     pc_json *value, pc_error *err)
{
  if (!value)
    return pc__opt_error(err, PC_E_NOMEM, "json: out of memory");
  if (h->js->object_set(h->host->ctx, obj, key, value) != PC_OK)
    return pc__opt_error(err, PC_E_NOMEM, "json: out of memory");
  return PC_OK;
}

int pc__opt_json_push(const pc__opt_host *h, pc_json *arr, pc_json *value,
                      pc_error *err)
{
  if (!value)
    return pc__opt_error(err, PC_E_NOMEM, "json: out of memory");
  if (h->js->array_append(h->host->ctx, arr, value) != PC_OK)
    return pc__opt_error(err, PC_E_NOMEM, "json: out of memory");
  return PC_OK;
}

const char *pc__opt_json_str(const pc__opt_host *h, const pc_json *obj,
                             const char *key)
{
  const pc_json *v = h->js->object_get(obj, key);

  if (!v || h->js->type(v) != PC_JSON_STRING)
    return NULL;
  return h->js->get_string(v, NULL);
}

int pc__opt_json_write(const pc__opt_host *h, const pc_json *v,
                       const pc_text_sink *out, pc_error *err)
{
  char *text = NULL;
  size_t len = 0;
  int rc = pc__opt_json_text(h, v, &text, &len, err);

  if (!rc && out->write(out->ctx, text, len) != 0)
    rc = pc__opt_error(err, PC_E_NOMEM, "json: the host refused the text");
  pc__opt_free(h, text);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Compile-API conveniences.                                                */

int pc__opt_record_trial(const pc__opt_host *h, const pc_compile_api *api,
                         const pc_json *trial, pc_error *err)
{
  char *text = NULL;
  size_t len = 0;
  int rc = pc__opt_json_text(h, trial, &text, &len, err);

  if (!rc && api->record_trial)
    rc = api->record_trial(api->ctx, text, len, err);
  pc__opt_free(h, text);
  return rc;
}

int pc__opt_evaluate(const pc__opt_host *h, const pc_compile_api *api,
                     const pc_json *state, const char *split,
                     const int64_t *idx, size_t n, uint32_t flags,
                     const char *config, pc_json **out, pc_error *err)
{
  pc_eval_request req;
  char *text = NULL;
  size_t len = 0;
  int rc;

  *out = NULL;
  rc = pc__opt_json_text(h, state, &text, &len, err);
  if (rc)
    return rc;
  memset(&req, 0, sizeof(req));
  req.hdr = (pc_abi_header)PC_ABI_HEADER_INIT(pc_eval_request);
  req.state_json = text;
  req.state_len = len;
  req.split = split;
  req.indices = idx;
  req.n_indices = n;
  req.flags = flags;
  req.config_json = config;
  req.config_len = config ? strlen(config) : 0;
  rc = api->evaluate(api->ctx, &req, out, err);
  pc__opt_free(h, text);
  if (rc && *out) {
    h->js->free(h->host->ctx, *out);
    *out = NULL;
  }
  return rc;
}

int pc__opt_set_result(const pc__opt_host *h, const pc_compile_api *api,
                       const pc_json *state, const pc_json *report,
                       pc_error *err)
{
  char *st = NULL, *rp = NULL;
  size_t st_len = 0, rp_len = 0;
  int rc = pc__opt_json_text(h, state, &st, &st_len, err);

  if (!rc && report)
    rc = pc__opt_json_text(h, report, &rp, &rp_len, err);
  if (!rc)
    rc = api->set_result(api->ctx, st, st_len, rp, rp_len, err);
  pc__opt_free(h, st);
  pc__opt_free(h, rp);
  return rc;
}

void pc__opt_progress(const pc__opt_host *h, const pc_compile_api *api,
                      int64_t trial, int64_t of, double best)
{
  char buf[128];
  int n;

  (void)h;
  if (!api->progress)
    return;
  if (best < 0)
    n = snprintf(buf, sizeof(buf), "{\"trial\": %lld, \"of\": %lld, "
                 "\"best\": null}", (long long)trial, (long long)of);
  else
    n = snprintf(buf, sizeof(buf), "{\"trial\": %lld, \"of\": %lld, "
                 "\"best\": %.2f}", (long long)trial, (long long)of, best);
  if (n > 0 && (size_t)n < sizeof(buf))
    api->progress(api->ctx, buf, (size_t)n);
}

int64_t pc__opt_info_int(const pc__opt_host *h, const pc_json *info,
                         const char *key)
{
  const pc_json *v = info ? h->js->object_get(info, key) : NULL;

  if (!v || (h->js->type(v) != PC_JSON_INT &&
             h->js->type(v) != PC_JSON_DOUBLE))
    return 0;
  return h->js->get_int(v) > 0 ? h->js->get_int(v) : 0;
}

int pc__opt_write_estimate(const pc__opt_host *h, int64_t lm_calls,
                           int64_t metric_calls, int64_t proposal_calls,
                           const pc_text_sink *out, pc_error *err)
{
  char buf[160];
  int n;

  (void)h;
  n = snprintf(buf, sizeof(buf), "{\"lm_calls\": %lld, \"metric_calls\": "
               "%lld, \"proposal_calls\": %lld}", (long long)lm_calls,
               (long long)metric_calls, (long long)proposal_calls);
  if (n < 0 || (size_t)n >= sizeof(buf) ||
      out->write(out->ctx, buf, (size_t)n) != 0)
    return pc__opt_error(err, PC_E_NOMEM, "estimate: the host refused the "
                         "text");
  return PC_OK;
}

/* ------------------------------------------------------------------------ */
/* Field prefixes (DSPy's infer_prefix)                                     */
/*
 * DSPy's infer_prefix() is four regular-expression substitutions and a
 * title-casing. Each substitution puts '_' between two characters that
 * touch, so at most one '_' lands in any gap and the text at most doubles:
 * the work is done in place in the caller's buffer. Each pass scans left
 * to right and resumes after a match, as re.sub does.
 */

static int is_upper(char c)
{
  return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
  return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
  return is_upper(c) || is_lower(c);
}

/* The patterns: whether one matches at s[i], and where it ends. The '_'
 * always goes right after s[i]. */
#define PAT_CAMEL 0   /* (.)([A-Z][a-z]+) */
#define PAT_LOWUP 1   /* ([a-z0-9])([A-Z]) */
#define PAT_ALDIG 2   /* ([a-zA-Z])(\d) */
#define PAT_DIGAL 3   /* (\d)([a-zA-Z]) */

static int match_at(int pat, const char *s, size_t n, size_t i, size_t *end)
{
  size_t k;

  if (i + 1 >= n)
    return 0;
  switch (pat) {
  case PAT_CAMEL:
    if (s[i] == '\n' || !is_upper(s[i + 1]) || i + 2 >= n ||
        !is_lower(s[i + 2]))
      return 0;
    for (k = i + 2; k < n && is_lower(s[k]); k++)
      ;
    *end = k;
    return 1;
  case PAT_LOWUP:
    *end = i + 2;
    return (is_lower(s[i]) || is_digit(s[i])) && is_upper(s[i + 1]);
  case PAT_ALDIG:
    *end = i + 2;
    return is_alpha(s[i]) && is_digit(s[i + 1]);
  default:
    *end = i + 2;
    return is_digit(s[i]) && is_alpha(s[i + 1]);
  }
}

/* One substitution over buf[0..*n), NUL-terminated, growing *n. */
static void substitute(int pat, char *buf, size_t *n)
{
  size_t i = 0, end;

  while (i < *n) {
    if (!match_at(pat, buf, *n, i, &end)) {
      i++;
      continue;
    }
    memmove(buf + i + 2, buf + i + 1, *n - (i + 1) + 1);
    buf[i + 1] = '_';
    (*n)++;
    i = end + 1;
  }
}

size_t pc__opt_field_prefix_cap(const char *name)
{
  return 2 * strlen(name) + 2;
}

int pc__opt_field_prefix(const char *name, char *out, size_t cap)
{
  size_t n = strlen(name), a = 0, b, k;

  if (cap < pc__opt_field_prefix_cap(name))
    return -1;
  memcpy(out, name, n + 1);
  substitute(PAT_CAMEL, out, &n);
  substitute(PAT_LOWUP, out, &n);
  substitute(PAT_ALDIG, out, &n);
  substitute(PAT_DIGAL, out, &n);
  /* Title-case each '_'-separated word unless it is all capitals (Python's
   * isupper(): some capital and no small letter), and join with spaces. */
  while (a <= n) {
    int has_upper = 0, has_lower = 0;

    for (b = a; b < n && out[b] != '_'; b++) {
      has_upper |= is_upper(out[b]);
      has_lower |= is_lower(out[b]);
    }
    if (!(has_upper && !has_lower)) {
      for (k = a; k < b; k++) {
        if (k == a && is_lower(out[k]))
          out[k] = (char)(out[k] - 'a' + 'A');
        else if (k > a && is_upper(out[k]))
          out[k] = (char)(out[k] - 'A' + 'a');
      }
    }
    if (b < n)
      out[b] = ' ';
    a = b + 1;
  }
  out[n] = ':';
  out[n + 1] = '\0';
  return 0;
}
