/*
 * host.c - the services the host hands to plugins: the pc_host_api table
 * and, by id, "pc.json/1", "pc.values/1", "pc.secrets/1", "pc.hash/1" and
 * "pc.http/1" (core/http.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "host.h"
#include "http.h"
#include "json_text.h"
#include "type.h"
#include "value.h"

/* ---- logging, clock, cancellation ------------------------------------- */

static atomic_int cancel_all;

void pc_host_cancel_all(void)
{
  atomic_store(&cancel_all, 1);
}

/* The handler set by pc_host_set_log, read under log_lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*log_fn)(void *, int, const char *, const char *);
static void *log_ctx;

void pc_host_set_log(void (*fn)(void *ctx, int level, const char *source,
                                const char *message),
                     void *ctx)
{
  pthread_mutex_lock(&log_lock);
  log_fn = fn;
  log_ctx = fn ? ctx : NULL;
  pthread_mutex_unlock(&log_lock);
}

/* Give a handler the line as one NUL-terminated string; a line longer
 * than the buffer is cut (a log line, not data). */
static void to_handler(void (*fn)(void *, int, const char *, const char *),
                       void *ctx, int32_t level, const char *plugin_id,
                       const char *msg, size_t len)
{
  char line[2048];

  if (len >= sizeof(line))
    len = sizeof(line) - 1;
  memcpy(line, msg, len);
  line[len] = '\0';
  fn(ctx, (int)level, plugin_id, line);
}

static void host_log(void *ctx, int32_t level, const char *plugin_id,
                     const char *msg, size_t len)
{
  static const char *names[] = {"error", "warning", "info", "debug"};
  void (*fn)(void *, int, const char *, const char *);
  void *fn_ctx;

  (void)ctx;
  if (!msg) {
    msg = "";
    len = 0;
  }
  pthread_mutex_lock(&log_lock);
  fn = log_fn;
  fn_ctx = log_ctx;
  pthread_mutex_unlock(&log_lock);
  if (level < 0 || level > PC_LOG_DEBUG)
    level = PC_LOG_ERROR;
  if (fn) {
    to_handler(fn, fn_ctx, level, plugin_id, msg, len);
    return;
  }
  if (level > PC_LOG_WARN)
    return;  /* info and debug lines: none are shown on stderr */
  fprintf(stderr, "promptc: %s: %s%s%.*s\n", names[level],
          plugin_id ? plugin_id : "", plugin_id ? ": " : "", (int)len, msg);
}

static void *host_alloc(void *ctx, size_t n)
{
  (void)ctx;
  return pc_malloc(n);
}

static void *host_realloc(void *ctx, void *p, size_t n)
{
  (void)ctx;
  return pc_realloc(p, n);
}

static void host_free(void *ctx, void *p)
{
  (void)ctx;
  pc_free(p);
}

static uint64_t clock_ns(clockid_t id)
{
  struct timespec ts;

  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t host_now_ns(void *ctx)
{
  (void)ctx;
  return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t host_wall_ms(void *ctx)
{
  (void)ctx;
  return clock_ns(CLOCK_REALTIME) / 1000000u;
}

static int32_t host_is_cancelled(void *ctx, const pc_call *call)
{
  (void)ctx;
  if (atomic_load(&cancel_all))
    return 1;
  if (!call)
    return 0;
  if (call->cancelled)
    return 1;
  return call->deadline_ns && clock_ns(CLOCK_MONOTONIC) >= call->deadline_ns;
}

/* ---- seeded, stateless random numbers ---------------------------------- */
/*
 * rng(seed, purpose, index, draw) = mix(mix(mix(seed ^ fnv1a64(purpose))
 * ^ index) ^ draw), with mix the SplitMix64 step. Each input passes through
 * a full avalanche, so neighbouring indices or draws are uncorrelated, and
 * nothing depends on thread, time or call order.
 */
static uint64_t mix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

uint64_t pc_rng_u64(uint64_t seed, const char *purpose, uint64_t index,
                    uint64_t draw)
{
  uint64_t h = 0xcbf29ce484222325u;  /* FNV-1a 64 offset basis */

  for (const unsigned char *p = (const unsigned char *)(purpose ? purpose : "");
       *p; p++)
    h = (h ^ *p) * 0x100000001b3u;
  return mix64(mix64(mix64(seed ^ h) ^ index) ^ draw);
}

static uint64_t host_rng_u64(void *ctx, uint64_t seed, const char *purpose,
                             uint64_t index, uint64_t draw)
{
  (void)ctx;
  return pc_rng_u64(seed, purpose, index, draw);
}

/* ---- "pc.json/1" ------------------------------------------------------- */
/*
 * Handles are json-c objects, except JSON null: json-c represents null as a
 * NULL pointer, so plugins get the address of null_sentinel instead and
 * NULL keeps meaning "absent" (object_get of a missing key).
 */

static const char null_sentinel;
#define JSON_NULL_HANDLE ((pc_json *)(void *)&null_sentinel)
/* A json-c object as a handle; NULL (allocation failure) stays NULL. */
#define AS_HANDLE(o) ((pc_json *)(void *)(o))

static struct json_object *json_unwrap(const pc_json *v)
{
  if (!v || v == JSON_NULL_HANDLE)
    return NULL;
  return (struct json_object *)(void *)v;
}

static pc_json *json_wrap(struct json_object *o)
{
  return o ? (pc_json *)(void *)o : JSON_NULL_HANDLE;
}

static int buf_sink_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len) ? PC_E_NOMEM : PC_OK;
}

pc_text_sink pc_host_buf_sink(pc_buf *b)
{
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), b, buf_sink_write};

  return sink;
}

pc_json *pc_host_json_wrap(struct json_object *o)
{
  return json_wrap(o);
}

static int j_parse(void *ctx, const char *text, size_t len, uint32_t flags,
                   pc_json **out, pc_error *err)
{
  struct json_object *o = NULL;
  int rc;

  (void)ctx;
  *out = NULL;
  rc = pc_json_parse(text, len, flags, &o, err);
  if (rc == PC_OK)
    *out = json_wrap(o);
  return rc;
}

static int j_to_text(void *ctx, const pc_json *v, uint32_t flags, char **out,
                     size_t *len)
{
  pc_buf b;
  int rc;

  (void)ctx;
  *out = NULL;
  pc_buf_init(&b, 0);
  /* Only the public layout flags: the rest are core-internal. */
  flags &= PC_JSON_TEXT_SPACED | PC_JSON_TEXT_PRETTY | PC_JSON_TEXT_ASCII |
           PC_JSON_TEXT_SORTED;
  rc = pc_json_write(json_unwrap(v), flags, &b);
  if (rc == PC_OK) {
    *out = pc_buf_take(&b, len);
    if (!*out)
      rc = PC_E_NOMEM;
  }
  pc_buf_free(&b);
  return rc;
}

static void j_free(void *ctx, pc_json *v)
{
  (void)ctx;
  json_object_put(json_unwrap(v));
}

static pc_json *j_copy(void *ctx, const pc_json *v)
{
  struct json_object *src = json_unwrap(v), *dst = NULL;

  (void)ctx;
  if (!src)
    return v ? JSON_NULL_HANDLE : NULL;
  if (json_object_deep_copy(src, &dst, NULL) != 0)
    return NULL;
  return AS_HANDLE(dst);
}

static int32_t j_type(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  switch (o ? json_object_get_type(o) : json_type_null) {
  case json_type_boolean: return PC_JSON_BOOL;
  case json_type_int: return PC_JSON_INT;
  case json_type_double: return PC_JSON_DOUBLE;
  case json_type_string: return PC_JSON_STRING;
  case json_type_array: return PC_JSON_ARRAY;
  case json_type_object: return PC_JSON_OBJECT;
  default: return PC_JSON_NULL;
  }
}

static int32_t j_get_bool(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  return (o && json_object_is_type(o, json_type_boolean))
    ? json_object_get_boolean(o) : 0;
}

static int64_t j_get_int(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  if (o && (json_object_is_type(o, json_type_int) ||
            json_object_is_type(o, json_type_double)))
    return json_object_get_int64(o);
  return 0;
}

static double j_get_double(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  if (o && (json_object_is_type(o, json_type_int) ||
            json_object_is_type(o, json_type_double)))
    return json_object_get_double(o);
  return 0.0;
}

static const char *j_get_string(const pc_json *v, size_t *len)
{
  struct json_object *o = json_unwrap(v);

  if (!o || !json_object_is_type(o, json_type_string)) {
    if (len)
      *len = 0;
    return NULL;
  }
  if (len)
    *len = (size_t)json_object_get_string_len(o);
  return json_object_get_string(o);
}

static size_t j_array_len(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  return (o && json_object_is_type(o, json_type_array))
    ? json_object_array_length(o) : 0;
}

static const pc_json *j_array_get(const pc_json *v, size_t i)
{
  struct json_object *o = json_unwrap(v);

  if (!o || !json_object_is_type(o, json_type_array) ||
      i >= json_object_array_length(o))
    return NULL;
  return json_wrap(json_object_array_get_idx(o, i));
}

static size_t j_object_len(const pc_json *v)
{
  struct json_object *o = json_unwrap(v);

  return (o && json_object_is_type(o, json_type_object))
    ? (size_t)json_object_object_length(o) : 0;
}

static const pc_json *j_object_get(const pc_json *v, const char *key)
{
  struct json_object *o = json_unwrap(v), *m = NULL;

  if (!o || !json_object_is_type(o, json_type_object) ||
      !json_object_object_get_ex(o, key, &m))
    return NULL;
  return json_wrap(m);
}

static int j_object_at(const pc_json *v, size_t i, const char **key,
                       const pc_json **value)
{
  struct json_object *o = json_unwrap(v);
  size_t n = 0;

  if (!o || !json_object_is_type(o, json_type_object))
    return -1;
  json_object_object_foreach(o, k, m) {
    if (n++ == i) {
      *key = k;
      *value = json_wrap(m);
      return 0;
    }
  }
  return -1;
}

static pc_json *j_new_null(void *ctx)
{
  (void)ctx;
  return JSON_NULL_HANDLE;
}

static pc_json *j_new_bool(void *ctx, int32_t b)
{
  (void)ctx;
  return AS_HANDLE(json_object_new_boolean(b != 0));
}

static pc_json *j_new_int(void *ctx, int64_t i)
{
  (void)ctx;
  return AS_HANDLE(json_object_new_int64(i));
}

static pc_json *j_new_double(void *ctx, double d)
{
  (void)ctx;
  return AS_HANDLE(json_object_new_double(d));
}

static pc_json *j_new_string(void *ctx, const char *s, size_t len)
{
  (void)ctx;
  if (len > 0x7fffffff)
    return NULL;
  return AS_HANDLE(json_object_new_string_len(s, (int)len));
}

static pc_json *j_new_array(void *ctx)
{
  (void)ctx;
  return AS_HANDLE(json_object_new_array());
}

static pc_json *j_new_object(void *ctx)
{
  (void)ctx;
  return AS_HANDLE(json_object_new_object());
}

static int j_object_set(void *ctx, pc_json *obj, const char *key,
                        pc_json *value)
{
  struct json_object *o = json_unwrap(obj);
  struct json_object *m = json_unwrap(value);

  (void)ctx;
  if (!o || !key || !json_object_is_type(o, json_type_object) || !value) {
    json_object_put(m);
    return PC_E_INVALID_ARG;
  }
  if (json_object_object_add(o, key, m) != 0) {
    json_object_put(m);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static int j_array_append(void *ctx, pc_json *arr, pc_json *value)
{
  struct json_object *o = json_unwrap(arr);
  struct json_object *m = json_unwrap(value);

  (void)ctx;
  if (!o || !json_object_is_type(o, json_type_array) || !value) {
    json_object_put(m);
    return PC_E_INVALID_ARG;
  }
  if (json_object_array_add(o, m) != 0) {
    json_object_put(m);
    return PC_E_NOMEM;
  }
  return PC_OK;
}

static const pc_json_api json_api = {
  .hdr = PC_ABI_HEADER_INIT(pc_json_api),
  .parse = j_parse,
  .to_text = j_to_text,
  .free = j_free,
  .copy = j_copy,
  .type = j_type,
  .get_bool = j_get_bool,
  .get_int = j_get_int,
  .get_double = j_get_double,
  .get_string = j_get_string,
  .array_len = j_array_len,
  .array_get = j_array_get,
  .object_len = j_object_len,
  .object_get = j_object_get,
  .object_at = j_object_at,
  .new_null = j_new_null,
  .new_bool = j_new_bool,
  .new_int = j_new_int,
  .new_double = j_new_double,
  .new_string = j_new_string,
  .new_array = j_new_array,
  .new_object = j_new_object,
  .object_set = j_object_set,
  .array_append = j_array_append,
};

/* ---- "pc.values/1" ----------------------------------------------------- */

static int parse_type_arg(const char *type, pc_type **out, pc_error *err)
{
  size_t off = 0;
  pc_error terr = PC_ERROR_INIT;
  int rc;

  *out = NULL;
  if (!type)
    return PC_OK;
  rc = pc_type_parse(type, strlen(type), out, &off, &terr);
  if (rc)
    return pc_error_wrap(err, &terr, "type \"%s\" (offset %zu)", type, off);
  return PC_OK;
}

static int v_render(void *ctx, const pc_json *v, const char *type,
                    uint32_t flags, char **out, size_t *len, pc_error *err)
{
  pc_type *t = NULL;
  pc_buf b;
  int rc;

  (void)ctx;
  *out = NULL;
  rc = parse_type_arg(type, &t, err);
  if (rc)
    return rc;
  pc_buf_init(&b, 0);
  rc = pc_value_render(json_unwrap(v), t, flags, &b, err);
  if (rc == PC_OK) {
    *out = pc_buf_take(&b, len);
    if (!*out)
      rc = pc_error_set(err, PC_E_NOMEM, "render: out of memory");
  }
  pc_buf_free(&b);
  pc_type_free(t);
  return rc;
}

static int v_parse(void *ctx, const char *type, const char *text, size_t len,
                   uint32_t flags, pc_json **out, pc_error *err)
{
  pc_type *t = NULL;
  struct json_object *o = NULL;
  int rc;

  (void)ctx;
  *out = NULL;
  if (!type)
    return pc_error_set(err, PC_E_INVALID_ARG, "parse: no type given");
  rc = parse_type_arg(type, &t, err);
  if (rc)
    return rc;
  rc = pc_value_parse(t, text, len, flags, &o, err);
  if (rc == PC_OK)
    *out = json_wrap(o);
  pc_type_free(t);
  return rc;
}

static const pc_values_api values_api = {
  .hdr = PC_ABI_HEADER_INIT(pc_values_api),
  .render = v_render,
  .parse = v_parse,
};

/* ---- "pc.secrets/1" ---------------------------------------------------- */

/* Read a secret file: its bytes up to a trailing newline, which editors
 * and `echo` add. The message names the path, never the contents. */
static int read_secret_file(const char *ref, const char *path, char *buf,
                            size_t cap, size_t *len, pc_error *err)
{
  FILE *f;
  size_t n;
  int extra;

  if (!*path)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "secret reference \"%.40s\": expected file:PATH",
                        ref);
  f = fopen(path, "rb");
  if (!f)
    return pc_error_set(err, PC_E_INVALID_ARG, "secret %s: %s", ref,
                        strerror(errno));
  n = cap ? fread(buf, 1, cap - 1, f) : 0;
  extra = fgetc(f) != EOF;
  fclose(f);
  if (extra || !cap) {
    explicit_bzero(buf, cap);
    return pc_error_set(err, PC_E_NOMEM, "secret %s: longer than %zu bytes",
                        ref, cap ? cap - 1 : 0);
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  buf[n] = '\0';
  if (n == 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "secret %s: the file is empty",
                        ref);
  *len = n;
  return PC_OK;
}

int pc_host_secret_lookup(const char *ref, char *buf, size_t cap,
                          size_t *len, pc_error *err)
{
  const char *val;
  size_t n;

  *len = 0;
  if (ref && strncmp(ref, "file:", 5) == 0)
    return read_secret_file(ref, ref + 5, buf, cap, len, err);
  /* Anything that is not a reference may be the secret itself: never
   * echo it. */
  if (!ref || strncmp(ref, "env:", 4) != 0)
    return pc_error_set(err, PC_E_INVALID_ARG, "a secret reference must be "
                        "env:NAME or file:PATH (the value given is not "
                        "shown)");
  if (!ref[4])
    return pc_error_set(err, PC_E_INVALID_ARG, "secret reference \"env:\": "
                        "no variable named");
  val = getenv(ref + 4);
  if (!val || !*val)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "secret %s: environment variable is not set", ref);
  n = strlen(val);
  if (n + 1 > cap)
    return pc_error_set(err, PC_E_NOMEM, "secret %s: longer than %zu bytes",
                        ref, cap ? cap - 1 : 0);
  memcpy(buf, val, n + 1);
  *len = n;
  return PC_OK;
}

static int s_lookup(void *ctx, const char *ref, char *buf, size_t cap,
                    size_t *len, pc_error *err)
{
  (void)ctx;
  return pc_host_secret_lookup(ref, buf, cap, len, err);
}

static const pc_secrets_api secrets_api = {
  .hdr = PC_ABI_HEADER_INIT(pc_secrets_api),
  .lookup = s_lookup,
};

/* ---- "pc.hash/1" ------------------------------------------------------- */

static void h_sha256_hex(void *ctx, const void *data, size_t len, char *hex)
{
  (void)ctx;
  pc_sha256_hex(data, len, hex);
}

static int h_sha256_file(void *ctx, const char *path, char *hex,
                         pc_error *err)
{
  (void)ctx;
  hex[0] = '\0';
  return pc_sha256_file(path, hex, err);
}

static const pc_hash_api hash_api = {
  .hdr = PC_ABI_HEADER_INIT(pc_hash_api),
  .sha256_hex = h_sha256_hex,
  .sha256_file = h_sha256_file,
};

/* ---- the table --------------------------------------------------------- */

static const void *host_get_interface(void *ctx, const char *id,
                                      uint32_t *size)
{
  (void)ctx;
  if (!id)
    return NULL;
  if (strcmp(id, "pc.json/1") == 0) {
    if (size)
      *size = json_api.hdr.struct_size;
    return &json_api;
  }
  if (strcmp(id, "pc.values/1") == 0) {
    if (size)
      *size = values_api.hdr.struct_size;
    return &values_api;
  }
  if (strcmp(id, "pc.secrets/1") == 0) {
    if (size)
      *size = secrets_api.hdr.struct_size;
    return &secrets_api;
  }
  if (strcmp(id, "pc.hash/1") == 0) {
    if (size)
      *size = hash_api.hdr.struct_size;
    return &hash_api;
  }
  if (strcmp(id, "pc.http/1") == 0) {
    const pc_http_api *http = pc_http_api_table();

    if (size)
      *size = http->hdr.struct_size;
    return http;
  }
  if (size)
    *size = 0;
  return NULL;
}

static const pc_host_api host_api = {
  .hdr = PC_ABI_HEADER_INIT(pc_host_api),
  .ctx = NULL,
  .log = host_log,
  .alloc = host_alloc,
  .realloc = host_realloc,
  .free = host_free,
  .now_ns = host_now_ns,
  .wall_ms = host_wall_ms,
  .rng_u64 = host_rng_u64,
  .is_cancelled = host_is_cancelled,
  .get_host_interface = host_get_interface,
};

const pc_host_api *pc_host_api_get(void)
{
  return &host_api;
}
