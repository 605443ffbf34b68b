/*
 * tests/unit/test_lm_common.c: plugins/lm-common/lm_common.c, the code the
 * HTTP LM providers share, against the real host tables with a scripted
 * "pc.http/1" in place of the transport; suite "lm_common".
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "host.h"
#include "lm_fake_http.h"
#include "promptc/plugin.h"
#include "../../plugins/lm-common/lm_common.h"

/* 2015-10-21 07:28:00 UTC in ms since the epoch. */
#define OCT21_MS 1445412480000ull

/* The real tables with the scripted transport of lm_fake_http.c. */
static pc__lm_host fake_tables(void)
{
  pc__lm_host h = pcfake_tables();

  h.http = &pcfake_http;
  pcfake_reset();
  return h;
}

/* ------------------------------------------------------------------------ */
/* Retry-After.                                                             */

static void test_retry_after_reads_seconds_and_fractions(void)
{
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after("120", 3, 0), 120000);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after("1.5", 3, 0), 1500);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(" 2 ", 3, 0), 2000);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after("0", 1, 0), 0);
  /* A fraction of a millisecond rounds up: never retry too early. */
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after("0.0001", 6, 0), 1);
  /* Only `len` bytes count. */
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after("75xyz", 2, 0), 75000);
}

static void test_retry_after_reads_http_dates(void)
{
  const char *imf = "Wed, 21 Oct 2015 07:28:00 GMT";
  const char *rfc850 = "Wednesday, 21-Oct-15 07:28:00 GMT";
  const char *asc = "Wed Oct 21 07:28:00 2015";

  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(imf, strlen(imf),
                                           OCT21_MS - 5000), 5000);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(rfc850, strlen(rfc850),
                                           OCT21_MS - 60000), 60000);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(asc, strlen(asc),
                                           OCT21_MS - 1), 1);
  /* In the past: retry now. */
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(imf, strlen(imf),
                                           OCT21_MS + 3600000), 0);
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(imf, strlen(imf), OCT21_MS), 0);
}

static void test_retry_after_garbage_is_minus_one(void)
{
  static const char *const bad[] = {
    "", "   ", "soon", "-5", "1.2.3", "12s", "Wed, 21 Oct 2015 07:28:00 PST",
    "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 32 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT extra",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t v = pc__lm_parse_retry_after(bad[i], strlen(bad[i]), OCT21_MS);

    if (v != -1)
      fprintf(stderr, "\"%s\" gave %lld\n", bad[i], (long long)v);
    CU_ASSERT_EQUAL(v, -1);
  }
  CU_ASSERT_EQUAL(pc__lm_parse_retry_after(NULL, 0, 0), -1);
}

/* ------------------------------------------------------------------------ */
/* Status mapping.                                                          */

/* Map `status` with body `body` and a Retry-After of 7 s. */
static int map(const pc__lm_host *h, int32_t status, const char *body,
               pc_error *err)
{
  pc__lm_reply r;
  int rc;

  pc__lm_reply_init(&r, h);
  r.status = status;
  r.retry_after_ms = 7000;
  CU_ASSERT_EQUAL(pc__lm_buf_puts(&r.body, body), PC_OK);
  rc = pc__lm_status_error(h, "openai", &r, err);
  pc__lm_reply_free(&r);
  return rc;
}

static void test_status_mapping_follows_the_table(void)
{
  static const struct {
    int32_t status;
    const char *body;
    int code;
    int retry;   /* retry_after_ms passed on */
  } rows[] = {
    {401, "{\"error\": {\"message\": \"bad key\"}}", PC_E_AUTH, 0},
    {403, "forbidden", PC_E_AUTH, 0},
    {429, "{\"error\": {\"message\": \"slow down\"}}", PC_E_RATE_LIMITED, 1},
    {408, "", PC_E_TIMEOUT, 1},
    {400, "{\"error\": {\"message\": \"bad temperature\"}}",
     PC_E_INVALID_ARG, 0},
    {404, "{\"error\": \"model not found\"}", PC_E_INVALID_ARG, 0},
    {413, "too big", PC_E_INVALID_ARG, 0},
    {422, "{\"message\": \"unprocessable\"}", PC_E_INVALID_ARG, 0},
    {500, "oops", PC_E_PROVIDER, 1},
    {502, "", PC_E_PROVIDER, 1},
    {503, "{\"error\": {\"message\": \"overloaded\"}}", PC_E_PROVIDER, 1},
    {529, "{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
          "\"message\": \"Overloaded\"}}", PC_E_PROVIDER, 1},
    {418, "teapot", PC_E_PROVIDER, 1},
  };
  pc__lm_host h = pcfake_tables();

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    int rc = map(&h, rows[i].status, rows[i].body, &err);

    if (rc != rows[i].code)
      fprintf(stderr, "HTTP %d gave %d\n", (int)rows[i].status, rc);
    CU_ASSERT_EQUAL(rc, rows[i].code);
    CU_ASSERT_EQUAL(err.code, rows[i].code);
    CU_ASSERT_EQUAL(err.http_status, rows[i].status);
    CU_ASSERT_EQUAL(err.retry_after_ms, rows[i].retry ? 7000 : -1);
  }
}

static void test_status_message_names_who_status_and_provider_text(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;

  map(&h, 429, "{\"error\": {\"message\": \"Rate limit reached\", "
      "\"type\": \"requests\"}}", &err);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 429: Rate limit reached");
  memset(&err, 0, sizeof(err));
  map(&h, 404, "{\"error\": \"model 'x' not found\"}", &err);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 404: model 'x' not found");
  memset(&err, 0, sizeof(err));
  map(&h, 500, "<html>Internal\n\tError</html>", &err);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 500: <html>Internal "
                   "Error</html>");
  memset(&err, 0, sizeof(err));
  map(&h, 502, "", &err);
  PC_ASSERT_STR_EQ(err.message, "openai: HTTP 502 (no message)");
}

static void test_context_length_detected_from_message_or_code(void)
{
  static const char *const too_long[] = {
    "{\"error\": {\"message\": \"This model's maximum context length is "
    "8192 tokens\", \"code\": \"context_length_exceeded\"}}",
    "{\"error\": {\"message\": \"x\", \"code\": \"context_length_exceeded\"}}",
    "{\"error\": {\"type\": \"invalid_request_error\", \"message\": "
    "\"prompt is too long: 210000 tokens > 200000 maximum\"}}",
    "{\"object\": \"error\", \"message\": \"Input exceeds the Maximum "
    "Context of the model\", \"code\": 400}",
    "{\"error\": \"the input exceeds the context window\"}",
  };
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;

  for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
    memset(&err, 0, sizeof(err));
    CU_ASSERT_EQUAL(map(&h, 400, too_long[i], &err), PC_E_CONTEXT_LENGTH);
    CU_ASSERT_EQUAL(err.retry_after_ms, -1);
  }
  memset(&err, 0, sizeof(err));
  CU_ASSERT_EQUAL(map(&h, 413, too_long[0], &err), PC_E_CONTEXT_LENGTH);
  /* Only for the 4xx a client can fix: a 500 about length is retried. */
  memset(&err, 0, sizeof(err));
  CU_ASSERT_EQUAL(map(&h, 500, too_long[0], &err), PC_E_PROVIDER);
}

static void test_status_error_keeps_the_first_error(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;

  pc__lm_error(&err, PC_E_IO, "earlier");
  CU_ASSERT_EQUAL(map(&h, 401, "no", &err), PC_E_AUTH);
  CU_ASSERT_EQUAL(err.code, PC_E_IO);
  PC_ASSERT_STR_EQ(err.message, "earlier");
}

/* ------------------------------------------------------------------------ */
/* Cleaning messages.                                                       */

static void test_long_provider_message_is_cut_to_160_bytes(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  char body[1200], *p;
  size_t i;

  for (i = 0; i < 400; i++)
    memcpy(body + 3 * i, "ab\n", 3);
  body[1200 - 1] = '\0';
  map(&h, 503, body, &err);
  CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
  p = err.message + strlen("openai: HTTP 503: ");
  CU_ASSERT_EQUAL(strncmp(err.message, "openai: HTTP 503: ab ab", 23), 0);
  CU_ASSERT(strlen(p) <= PC__LM_MESSAGE_MAX);
  CU_ASSERT(strlen(p) >= PC__LM_MESSAGE_MAX - 3);
  CU_ASSERT_EQUAL(strcmp(p + strlen(p) - 3, "..."), 0);
  CU_ASSERT(strlen(err.message) < PC_ERROR_MESSAGE_MAX);
}

static void test_clean_makes_one_line_and_cuts_on_utf8_boundary(void)
{
  char out[64], in[100];
  size_t n, i;

  n = pc__lm_clean("  a\r\n\tb\x01" "c  ", 11, 40, out, sizeof(out));
  PC_ASSERT_STR_EQ(out, "a b c");
  CU_ASSERT_EQUAL(n, 5);
  /* Bytes that are not UTF-8 become '?'. */
  pc__lm_clean("x\xff" "y", 3, 40, out, sizeof(out));
  PC_ASSERT_STR_EQ(out, "x?y");
  /* 40 two-byte letters (80 bytes) into 11: 8 bytes of text and "...". */
  for (i = 0; i < 40; i++)
    memcpy(in + 2 * i, "\xc3\xa9", 2);
  n = pc__lm_clean(in, 80, 11, out, sizeof(out));
  PC_ASSERT_STR_EQ(out, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
  CU_ASSERT_EQUAL(n, 11);
  /* An odd limit never splits a letter. */
  n = pc__lm_clean(in, 80, 10, out, sizeof(out));
  PC_ASSERT_STR_EQ(out, "\xc3\xa9\xc3\xa9\xc3\xa9...");
  /* The cap limits too. */
  n = pc__lm_clean("abcdefghij", 10, 100, out, 6);
  PC_ASSERT_STR_EQ(out, "ab...");
}

/* ------------------------------------------------------------------------ */
/* Settings.                                                                */

static int conf(const pc__lm_host *h, const char *json, pc__lm_conf *c,
                pc_error *err)
{
  return pc__lm_conf_read(h, "openai", json, strlen(json),
                          "https://api.example.com/v1/", 1, NULL, c, NULL,
                          err);
}

static void test_conf_defaults(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pc__lm_conf c;

  CU_ASSERT_EQUAL_FATAL(conf(&h, "{\"model\": \"m1\", \"base_dir\": "
                             "\"/x\"}", &c, &err), PC_OK);
  PC_ASSERT_STR_EQ(c.base_url, "https://api.example.com/v1");
  PC_ASSERT_STR_EQ(c.model, "m1");
  CU_ASSERT_PTR_NULL(c.api_key_ref);
  CU_ASSERT_EQUAL(c.timeout_ms, 600000);
  CU_ASSERT_EQUAL(c.connect_timeout_ms, 10000);
  CU_ASSERT_EQUAL(c.stream, 0);
  CU_ASSERT_PTR_NULL(c.headers);
  pc__lm_conf_free(&h, &c);
}

static void test_conf_reads_every_common_key(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pc__lm_conf c;
  const char *json =
    "{\"base_url\": \"http://127.0.0.1:8000/v1/\", \"model\": \"m\", "
    "\"api_key\": \"file:/run/secrets/k\", \"timeout\": 2.5, "
    "\"connect_timeout\": 1, \"stream\": true, "
    "\"headers\": {\"OpenAI-Organization\": \"org-1\"}}";

  CU_ASSERT_EQUAL_FATAL(conf(&h, json, &c, &err), PC_OK);
  PC_ASSERT_STR_EQ(c.base_url, "http://127.0.0.1:8000/v1");
  PC_ASSERT_STR_EQ(c.api_key_ref, "file:/run/secrets/k");
  CU_ASSERT_EQUAL(c.timeout_ms, 2500);
  CU_ASSERT_EQUAL(c.connect_timeout_ms, 1000);
  CU_ASSERT_EQUAL(c.stream, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c.headers);
  PC_ASSERT_STR_EQ(pc__lm_str(&h, c.headers, "OpenAI-Organization"),
                   "org-1");
  pc__lm_conf_free(&h, &c);
}

static void test_conf_unknown_key_is_named(void)
{
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pc__lm_conf c;

  CU_ASSERT_EQUAL(conf(&h, "{\"model\": \"m\", \"temprature\": 1}", &c,
                       &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "openai: config: unknown key "
                   "\"temprature\"");
  CU_ASSERT_PTR_NULL(c.model);
}

static void test_conf_literal_api_key_is_refused_without_echo(void)
{
  static const char *const keys[] = {
    "sk-proj-PLANTEDsecret123", "env:", "file:", "ENV:X",
    "env:A sk-PLANTEDsecret123",
  };
  pc__lm_host h = pcfake_tables();
  char json[128];

  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    pc__lm_conf c;

    snprintf(json, sizeof(json), "{\"model\": \"m\", \"api_key\": \"%s\"}",
             keys[i]);
    CU_ASSERT_EQUAL(conf(&h, json, &c, &err), PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"api_key\""));
    CU_ASSERT_PTR_NULL(strstr(err.message, "PLANTED"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "ENV:X"));
    CU_ASSERT_PTR_NULL(c.api_key_ref);
  }
  {
    pc_error err = PC_ERROR_INIT;
    pc__lm_conf c;

    CU_ASSERT_EQUAL(conf(&h, "{\"model\": \"m\", \"api_key\": "
                         "\"sk-PLANTED\"}", &c, &err), PC_E_INVALID_ARG);
    PC_ASSERT_STR_EQ(err.message, "openai: config: \"api_key\" must be a "
                     "secret reference such as env:OPENAI_API_KEY (the "
                     "value given is not shown)");
  }
}

static void test_conf_bad_values_name_the_key(void)
{
  static const struct {
    const char *json;
    const char *key;
  } rows[] = {
    {"{\"model\": \"m\", \"timeout\": 0}", "\"timeout\""},
    {"{\"model\": \"m\", \"timeout\": -3}", "\"timeout\""},
    {"{\"model\": \"m\", \"timeout\": \"10\"}", "\"timeout\""},
    {"{\"model\": \"m\", \"timeout\": 1e9}", "\"timeout\""},
    {"{\"model\": \"m\", \"connect_timeout\": false}", "\"connect_timeout\""},
    {"{\"model\": \"m\", \"stream\": 1}", "\"stream\""},
    {"{\"model\": \"\"}", "\"model\""},
    {"{\"model\": 5}", "\"model\""},
    {"{}", "\"model\" is required"},
    {"{\"model\": \"m\", \"base_url\": \"ftp://x\"}", "\"base_url\""},
    {"{\"model\": \"m\", \"headers\": [1]}", "\"headers\""},
    {"{\"model\": \"m\", \"headers\": {\"Authorization\": \"Bearer x\"}}",
     "\"Authorization\""},
    {"{\"model\": \"m\", \"headers\": {\"X-A\": \"a\\nb\"}}", "\"X-A\""},
    {"{\"model\": \"m\", \"headers\": {\"bad name\": \"v\"}}",
     "\"bad name\""},
    {"[1]", "expected a JSON object"},
    {"{\"model\": ", "config: offset"},
  };
  pc__lm_host h = pcfake_tables();

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    pc__lm_conf c;

    CU_ASSERT_EQUAL(conf(&h, rows[i].json, &c, &err), PC_E_INVALID_ARG);
    if (!strstr(err.message, rows[i].key))
      fprintf(stderr, "%s: %s\n", rows[i].json, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, rows[i].key));
    CU_ASSERT_EQUAL(strncmp(err.message, "openai: ", 8), 0);
  }
}

static void test_conf_extra_keys_are_left_to_the_provider(void)
{
  static const char *const extra[] = {"version", NULL};
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pc__lm_conf c;
  pc_json *obj = NULL;
  const char *json = "{\"version\": \"2023-06-01\", \"max_tokens\": 5}";

  CU_ASSERT_EQUAL(pc__lm_conf_read(&h, "anthropic", json, strlen(json),
                                   "https://a.example", 0, extra, &c, &obj,
                                   &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "anthropic: config: unknown key "
                   "\"max_tokens\"");
  CU_ASSERT_PTR_NULL(obj);
  json = "{\"version\": \"2023-06-01\"}";
  CU_ASSERT_EQUAL_FATAL(pc__lm_conf_read(&h, "anthropic", json, strlen(json),
                                         "https://a.example", 0, extra, &c,
                                         &obj, &err), PC_OK);
  CU_ASSERT_PTR_NULL(c.model);   /* not required by this provider */
  PC_ASSERT_STR_EQ(pc__lm_str(&h, obj, "version"), "2023-06-01");
  h.json->free(h.host->ctx, obj);
  pc__lm_conf_free(&h, &c);
}

/* ------------------------------------------------------------------------ */
/* Buffers.                                                                 */

static void test_buf_is_always_a_string_and_capped(void)
{
  pc__lm_host h = pcfake_tables();
  pc__lm_buf b;
  char *s;

  pc__lm_buf_init(&b, &h);
  PC_ASSERT_STR_EQ(b.data, "");   /* even before anything is put */
  CU_ASSERT_EQUAL(pc__lm_buf_puts(&b, "ab"), PC_OK);
  CU_ASSERT_EQUAL(pc__lm_buf_put(&b, "cdef", 2), PC_OK);
  PC_ASSERT_STR_EQ(b.data, "abcd");
  CU_ASSERT_EQUAL(b.len, 4);
  /* Past the cap: refused, nothing lost. */
  CU_ASSERT_EQUAL(pc__lm_buf_put(&b, "x", PC__LM_BUF_MAX), PC_E_NOMEM);
  PC_ASSERT_STR_EQ(b.data, "abcd");
  s = pc__lm_buf_take(&b);
  PC_ASSERT_STR_EQ(s, "abcd");
  CU_ASSERT_EQUAL(b.len, 0);
  PC_ASSERT_STR_EQ(b.data, "");
  h.host->free(h.host->ctx, s);
  /* An empty buffer hands over a "" of its own, which may be freed. */
  s = pc__lm_buf_take(&b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  PC_ASSERT_STR_EQ(s, "");
  h.host->free(h.host->ctx, s);
  pc__lm_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Lines.                                                                   */

typedef struct lines_seen {
  char text[512];   /* every line followed by '|' */
  size_t len;
  int stop_at;      /* return 5 at this line (1-based), 0 never */
  int count;
} lines_seen;

static int on_line(void *ctx, const char *line, size_t len)
{
  lines_seen *s = ctx;

  s->count++;
  if (s->len + len + 1 < sizeof(s->text)) {
    memcpy(s->text + s->len, line, len);
    s->len += len;
    s->text[s->len++] = '|';
    s->text[s->len] = '\0';
  }
  return s->count == s->stop_at ? 5 : 0;
}

static void test_lines_split_the_same_at_any_chunk_size(void)
{
  const char *body = "data: {\"a\": 1}\r\n\r\ndata: two\n\n: c\nlast";
  const char *want = "data: {\"a\": 1}||data: two||: c|last|";
  pc__lm_host h = pcfake_tables();
  size_t n = strlen(body), size, off;

  for (size = 1; size <= n; size++) {
    lines_seen seen = {{0}, 0, 0, 0};
    pc__lm_lines l;

    pc__lm_lines_init(&l, &h, on_line, &seen);
    for (off = 0; off < n; off += size)
      CU_ASSERT_EQUAL(pc__lm_lines_feed(&l, body + off,
                                        n - off < size ? n - off : size),
                      PC_OK);
    CU_ASSERT_EQUAL(pc__lm_lines_finish(&l), PC_OK);
    PC_ASSERT_STR_EQ(seen.text, want);
    pc__lm_lines_free(&l);
  }
}

static void test_lines_stop_when_the_callback_says_so(void)
{
  pc__lm_host h = pcfake_tables();
  lines_seen seen = {{0}, 0, 2, 0};
  pc__lm_lines l;

  pc__lm_lines_init(&l, &h, on_line, &seen);
  CU_ASSERT_EQUAL(pc__lm_lines_feed(&l, "a\nb\nc\n", 6), 5);
  PC_ASSERT_STR_EQ(seen.text, "a|b|");
  pc__lm_lines_free(&l);
}

/* ------------------------------------------------------------------------ */
/* Request pieces.                                                          */

static void test_messages_keep_order_and_skip_roles(void)
{
  static const char *const skip[] = {"system", NULL};
  pc_message m[3] = {
    {PC_ABI_HEADER_INIT(pc_message), "system", "be brief", 8},
    {PC_ABI_HEADER_INIT(pc_message), "user", "hi\0there", 8},
    {PC_ABI_HEADER_INIT(pc_message), "assistant", "yo", 2},
  };
  pc_lm_request req = {.hdr = PC_ABI_HEADER_INIT(pc_lm_request)};
  pc__lm_host h = pcfake_tables();
  pc_json *arr;
  char *text = NULL;
  size_t len = 0;

  req.messages = m;
  req.n_messages = 3;
  req.message_size = sizeof(pc_message);
  arr = pc__lm_messages_json(&h, &req, skip);
  CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
  CU_ASSERT_EQUAL(h.json->to_text(h.host->ctx, arr, PC_JSON_TEXT_COMPACT,
                                  &text, &len), PC_OK);
  PC_ASSERT_STR_EQ(text, "[{\"role\":\"user\",\"content\":\"hi\\u0000there\"},"
                   "{\"role\":\"assistant\",\"content\":\"yo\"}]");
  h.host->free(h.host->ctx, text);
  h.json->free(h.host->ctx, arr);
}

static void test_params_default_to_an_empty_object(void)
{
  pc_lm_request req = {.hdr = PC_ABI_HEADER_INIT(pc_lm_request)};
  pc__lm_host h = pcfake_tables();
  pc_error err = PC_ERROR_INIT;
  pc_json *p = NULL;

  CU_ASSERT_EQUAL(pc__lm_params(&h, "t", &req, &p, &err), PC_OK);
  CU_ASSERT_EQUAL(h.json->type(p), PC_JSON_OBJECT);
  CU_ASSERT_EQUAL(h.json->object_len(p), 0);
  h.json->free(h.host->ctx, p);
  req.params_json = "[1]";
  req.params_len = 3;
  CU_ASSERT_EQUAL(pc__lm_params(&h, "t", &req, &p, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(p);
  PC_ASSERT_STR_EQ(err.message, "t: params: expected a JSON object");
}

/* ------------------------------------------------------------------------ */
/* The exchange.                                                            */

static pc__lm_conf exchange_conf(const pc__lm_host *h)
{
  pc__lm_conf c;
  pc_error err = PC_ERROR_INIT;
  const char *json = "{\"model\": \"m\", \"base_url\": "
                     "\"http://127.0.0.1:9/v1\", \"api_key\": "
                     "\"env:OPENAI_API_KEY\", \"timeout\": 30, "
                     "\"headers\": {\"X-Extra\": \"1\"}}";

  CU_ASSERT_EQUAL(pc__lm_conf_read(h, "openai", json, strlen(json), NULL, 1,
                                   NULL, &c, NULL, &err), PC_OK);
  return c;
}

static void test_exchange_sends_url_headers_and_secret_reference(void)
{
  static const char *const hdrs[] = {"X-Promptc-Rollout", "r7", NULL};
  pc__lm_host h = fake_tables();
  pc__lm_conf c = exchange_conf(&h);
  pc_error err = PC_ERROR_INIT;
  pc__lm_reply r;

  pcfake_answer(0, 200, "x-request-id:  req_123 \n", "{\"ok\":true}", 6);
  pc__lm_reply_init(&r, &h);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/chat/completions",
                                  hdrs, "Authorization", "Bearer ",
                                  "{}", 2, NULL, NULL, NULL, &r, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_method(0), "POST");
  PC_ASSERT_STR_EQ(pcfake_url(0),
                   "http://127.0.0.1:9/v1/chat/completions");
  PC_ASSERT_STR_EQ(pcfake_body(0), "{}");
  CU_ASSERT(pcfake_sent(0, "X-Extra: 1"));
  CU_ASSERT(pcfake_sent(0, "Content-Type: application/json"));
  CU_ASSERT(pcfake_sent(0, "X-Promptc-Rollout: r7"));
  CU_ASSERT(pcfake_sent(0, "Authorization: Bearer env:OPENAI_API_KEY"));
  PC_ASSERT_STR_EQ(pcfake_secret(0), "Authorization");
  CU_ASSERT_EQUAL(pcfake.seen[0].n_headers, 4);
  CU_ASSERT_EQUAL(pcfake.seen[0].flags, 0);
  CU_ASSERT_EQUAL(pcfake.seen[0].total_ms, 30000);
  CU_ASSERT_EQUAL(pcfake.seen[0].connect_ms, 10000);
  CU_ASSERT_EQUAL(r.status, 200);
  PC_ASSERT_STR_EQ(r.request_id, "req_123");
  PC_ASSERT_STR_EQ(r.body.data, "{\"ok\":true}");
  CU_ASSERT_EQUAL(r.retry_after_ms, -1);
  pc__lm_reply_free(&r);
  pc__lm_conf_free(&h, &c);
  pcfake_reset();
}

static void test_exchange_without_key_sends_no_auth_and_gets(void)
{
  pc__lm_host h = fake_tables();
  pc__lm_conf c;
  pc_error err = PC_ERROR_INIT;
  pc__lm_reply r;
  const char *json = "{\"base_url\": \"http://localhost:11434\"}";

  CU_ASSERT_EQUAL_FATAL(pc__lm_conf_read(&h, "ollama", json, strlen(json),
                                         NULL, 0, NULL, &c, NULL, &err),
                        PC_OK);
  pcfake_answer(0, 200, NULL, "", 0);
  pc__lm_reply_init(&r, &h);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "ollama", &c, "/api/tags", NULL,
                                  "Authorization", "Bearer ", NULL, 0, NULL,
                                  NULL, NULL, &r, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pcfake.n_seen, 1);
  PC_ASSERT_STR_EQ(pcfake_method(0), "GET");
  PC_ASSERT_STR_EQ(pcfake_secret(0), "");
  CU_ASSERT_EQUAL(pcfake.seen[0].n_headers, 0);
  PC_ASSERT_STR_EQ(r.body.data, "");
  pc__lm_reply_free(&r);
  pc__lm_conf_free(&h, &c);
  pcfake_reset();
}

static void test_exchange_reads_retry_headers_case_insensitively(void)
{
  pc__lm_host h = fake_tables();
  pc__lm_conf c = exchange_conf(&h);
  pc_error err = PC_ERROR_INIT;
  pc__lm_reply r;

  pc__lm_reply_init(&r, &h);
  /* Retry-After alone, in seconds. */
  pcfake_answer(0, 429, "RETRY-AFTER: 3\nRequest-Id: abc\n", "", 0);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, NULL, NULL, NULL, &r, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(r.status, 429);
  CU_ASSERT_EQUAL(r.retry_after_ms, 3000);
  PC_ASSERT_STR_EQ(r.request_id, "abc");
  /* retry-after-ms wins, before or after Retry-After; x-request-id wins
   * over request-id. */
  pcfake_reset();
  pcfake_answer(0, 503, "Retry-After: 3\nretry-after-ms: 250\n"
                "X-Request-ID: x1\nrequest-id: r1\nRetry-After: 9\n", "", 0);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, NULL, NULL, NULL, &r, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(r.retry_after_ms, 250);
  PC_ASSERT_STR_EQ(r.request_id, "x1");
  /* The mapping passes the hint on. */
  CU_ASSERT_EQUAL(pc__lm_status_error(&h, "openai", &r, &err), PC_E_PROVIDER);
  CU_ASSERT_EQUAL(err.retry_after_ms, 250);
  CU_ASSERT_EQUAL(err.http_status, 503);
  pc__lm_reply_free(&r);
  pc__lm_conf_free(&h, &c);
  pcfake_reset();
}

static void test_exchange_streams_2xx_lines_and_collects_errors(void)
{
  pc__lm_host h = fake_tables();
  pc__lm_conf c = exchange_conf(&h);
  pc_error err = PC_ERROR_INIT;
  lines_seen seen = {{0}, 0, 0, 0};
  pc__lm_reply r;

  pc__lm_reply_init(&r, &h);
  /* Pieces of 9: "\r" ends one and its "\n" starts the next. */
  pcfake_answer(0, 200, NULL, "data: ab\r\n\ndata: c\ndata: [DONE]", 9);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, on_line, &seen, NULL, &r, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(pcfake.seen[0].flags, PC_HTTP_STREAM);
  CU_ASSERT(pcfake.data_calls > 1);
  PC_ASSERT_STR_EQ(seen.text, "data: ab||data: c|data: [DONE]|");
  CU_ASSERT_EQUAL(r.body.len, 0);
  /* A failure status is collected whole, not split. */
  memset(&seen, 0, sizeof(seen));
  pcfake_reset();
  pcfake_answer(0, 500, NULL, "{\"error\":\n\"down\"}", 10);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, on_line, &seen, NULL, &r, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(seen.count, 0);
  PC_ASSERT_STR_EQ(r.body.data, "{\"error\":\n\"down\"}");
  /* A line callback's refusal stops the transfer with its code. */
  memset(&seen, 0, sizeof(seen));
  seen.stop_at = 1;
  pcfake_reset();
  pcfake_answer(0, 200, NULL, "one\ntwo\nthree\n", 8);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, on_line, &seen, NULL, &r, &err),
                  5);
  CU_ASSERT_EQUAL(pcfake.sink_rc, 5);
  PC_ASSERT_STR_EQ(seen.text, "one|");
  pc__lm_reply_free(&r);
  pc__lm_conf_free(&h, &c);
  pcfake_reset();
}

static void test_exchange_transport_failure_names_who(void)
{
  pc__lm_host h = fake_tables();
  pc__lm_conf c = exchange_conf(&h);
  pc_error err = PC_ERROR_INIT;
  pc__lm_reply r;
  pc_call call = {0, 0};

  pc__lm_reply_init(&r, &h);
  pcfake_fail(0, PC_E_IO);
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, NULL, NULL, NULL, &r, &err),
                  PC_E_IO);
  PC_ASSERT_STR_EQ(err.message, "openai: POST "
                   "http://127.0.0.1:9/v1/x: connection refused");
  /* A cancelled call sends nothing. */
  memset(&err, 0, sizeof(err));
  pcfake_reset();
  pcfake_answer(0, 200, NULL, "", 0);
  call.cancelled = 1;
  CU_ASSERT_EQUAL(pc__lm_exchange(&h, "openai", &c, "/x", NULL, NULL, NULL,
                                  "{}", 2, NULL, NULL, &call, &r, &err),
                  PC_E_CANCELLED);
  CU_ASSERT_EQUAL(pcfake.n_seen, 0);
  pc__lm_reply_free(&r);
  pc__lm_conf_free(&h, &c);
  pcfake_reset();
}

static void test_host_init_fetches_the_real_tables(void)
{
  pc__lm_host h;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc__lm_host_init(pc_host_api_get(), "openai", &h, &err),
                  PC_OK);
  CU_ASSERT_PTR_NOT_NULL(h.json);
  CU_ASSERT_PTR_NOT_NULL(h.http);
  CU_ASSERT_PTR_NOT_NULL(h.hash);
  CU_ASSERT_EQUAL(pc__lm_host_init(NULL, "openai", &h, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "openai: the host table is missing or too "
                   "short");
}

static CU_TestInfo lm_common_tests[] = {
  {"retry-after: seconds and fractions",
   test_retry_after_reads_seconds_and_fractions},
  {"retry-after: HTTP dates in the future and the past",
   test_retry_after_reads_http_dates},
  {"retry-after: garbage is -1", test_retry_after_garbage_is_minus_one},
  {"status: mapping follows the table",
   test_status_mapping_follows_the_table},
  {"status: message names who, status and the provider's text",
   test_status_message_names_who_status_and_provider_text},
  {"status: context length detected from message or code",
   test_context_length_detected_from_message_or_code},
  {"status: the first error is kept", test_status_error_keeps_the_first_error},
  {"status: a long provider message is cut to 160 bytes",
   test_long_provider_message_is_cut_to_160_bytes},
  {"clean: one line, cut on a UTF-8 boundary",
   test_clean_makes_one_line_and_cuts_on_utf8_boundary},
  {"conf: defaults", test_conf_defaults},
  {"conf: every common key is read", test_conf_reads_every_common_key},
  {"conf: an unknown key is named", test_conf_unknown_key_is_named},
  {"conf: a literal api_key is refused without echo",
   test_conf_literal_api_key_is_refused_without_echo},
  {"conf: bad values name the key", test_conf_bad_values_name_the_key},
  {"conf: extra keys are left to the provider",
   test_conf_extra_keys_are_left_to_the_provider},
  {"buf: always a string, capped, handed over",
   test_buf_is_always_a_string_and_capped},
  {"lines: the same lines at any chunk size",
   test_lines_split_the_same_at_any_chunk_size},
  {"lines: the callback can stop them",
   test_lines_stop_when_the_callback_says_so},
  {"messages: order kept, roles skipped",
   test_messages_keep_order_and_skip_roles},
  {"params: empty is {}, non-object refused",
   test_params_default_to_an_empty_object},
  {"exchange: URL, headers and the secret reference",
   test_exchange_sends_url_headers_and_secret_reference},
  {"exchange: no key, no body: a plain GET",
   test_exchange_without_key_sends_no_auth_and_gets},
  {"exchange: retry and request id headers, any case",
   test_exchange_reads_retry_headers_case_insensitively},
  {"exchange: 2xx streams as lines, errors are collected",
   test_exchange_streams_2xx_lines_and_collects_errors},
  {"exchange: a transport failure names the plugin",
   test_exchange_transport_failure_names_who},
  {"host: the real tables are fetched",
   test_host_init_fetches_the_real_tables},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"lm_common", NULL, NULL, NULL, NULL, lm_common_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
