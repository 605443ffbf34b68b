/* tests/unit/test_json.c: core/json_text.c and core/json_repair.c; suite
 * "json". Expected texts are what Python 3's json.dumps and repr() print. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "json_text.h"

#define SPACED PC_JSON_TEXT_SPACED
#define PRETTY PC_JSON_TEXT_PRETTY
#define ASCII PC_JSON_TEXT_ASCII
#define SORTED PC_JSON_TEXT_SORTED

/* Parse strictly (the input must be valid JSON) and write with `flags`;
 * owned result (pc_free), NULL when either step fails. */
static char *rewrite(const char *json, unsigned flags)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  char *s;

  if (pc_json_parse(json, strlen(json), PC_JSON_PARSE_STRICT, &v, &err))
    return NULL;
  s = pc_json_to_string(v, flags);
  json_object_put(v);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

static const struct {
  const char *json;
  unsigned flags;
  const char *want;
} write_cases[] = {
  /* layouts */
  {"{\"a\": 1, \"b\": [1, 2]}", 0, "{\"a\":1,\"b\":[1,2]}"},
  {"{\"a\":1,\"b\":[1,2]}", SPACED, "{\"a\": 1, \"b\": [1, 2]}"},
  {"{\"a\":1,\"b\":[1,{\"c\":null}]}", PRETTY,
   "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n"
   "  ]\n}"},
  {"{\"a\":[],\"b\":{},\"c\":[[]]}", PRETTY,
   "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    []\n  ]\n}"},
  {"[]", PRETTY, "[]"},
  {"{}", SPACED, "{}"},
  /* key order: insertion order unless sorted (byte order) */
  {"{\"b\":1,\"a\":2,\"\xc3\xa9\":3,\"B\":4}", SPACED,
   "{\"b\": 1, \"a\": 2, \"\xc3\xa9\": 3, \"B\": 4}"},
  {"{\"b\":1,\"a\":2,\"\xc3\xa9\":3,\"B\":4}", SPACED | SORTED,
   "{\"B\": 4, \"a\": 2, \"b\": 1, \"\xc3\xa9\": 3}"},
  {"{\"z\":{\"y\":1,\"x\":2}}", SORTED, "{\"z\":{\"x\":2,\"y\":1}}"},
  /* string escapes as Python writes them */
  {"\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f\"", 0,
   "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f\""},
  {"\"\\u0001\\u001f\\u0000 x\"", 0, "\"\\u0001\\u001f\\u0000 x\""},
  {"\"a/b\"", 0, "\"a/b\""},
  {"\"\\u007f\"", 0, "\"\x7f\""},
  {"\"\\u007f\"", ASCII, "\"\\u007f\""},
  /* non-ASCII kept raw, or escaped with lowercase hex and surrogates */
  {"\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"", 0,
   "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\""},
  {"\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"", ASCII,
   "\"caf\\u00e9 \\u2028 \\ud83d\\ude00\""},
  {"{\"\xc3\xa9\":\"\xe4\xb8\xad\"}", ASCII | SPACED,
   "{\"\\u00e9\": \"\\u4e2d\"}"},
  /* integers, including the uint64 json-c keeps for large ones */
  {"[0, -7, 9223372036854775807, -9223372036854775808]", SPACED,
   "[0, -7, 9223372036854775807, -9223372036854775808]"},
  {"18446744073709551615", 0, "18446744073709551615"},
  /* doubles: repr(), not json-c's copy of the original text */
  {"[1.0, 1E2, 0.10, 1e400, -0.0, 2.50]", SPACED,
   "[1.0, 100.0, 0.1, Infinity, -0.0, 2.5]"},
  {"[true, false, null]", 0, "[true,false,null]"},
};

static void test_write_matches_python_json_dumps(void)
{
  for (size_t i = 0; i < sizeof(write_cases) / sizeof(write_cases[0]); i++) {
    char *s = rewrite(write_cases[i].json, write_cases[i].flags);

    PC_ASSERT_STR_EQ(s, write_cases[i].want);
    pc_free(s);
  }
}

static const struct {
  double d;
  const char *want;
} double_cases[] = {
  {0.0, "0.0"},
  {-0.0, "-0.0"},
  {3.0, "3.0"},
  {100.0, "100.0"},
  {0.1, "0.1"},
  {0.3, "0.3"},
  {2.0 / 3.0, "0.6666666666666666"},
  {1.5, "1.5"},
  {0.0001, "0.0001"},
  {0.00012, "0.00012"},
  {1e-05, "1e-05"},
  {1.5e-05, "1.5e-05"},
  {123456789012345.6, "123456789012345.6"},
  {9999999999999998.0, "9999999999999998.0"},
  {1e16, "1e+16"},
  {1e20, "1e+20"},
  {1e22, "1e+22"},
  {1.2345678901234568e+17, "1.2345678901234568e+17"},
  {-2.5e-300, "-2.5e-300"},
  {5e-324, "5e-324"},
  {1.7976931348623157e308, "1.7976931348623157e+308"},
};

static void test_write_double_is_python_repr(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  for (size_t i = 0; i < sizeof(double_cases) / sizeof(double_cases[0]);
       i++) {
    pc_buf_reset(&b);
    CU_ASSERT_EQUAL(pc_json_write_double(double_cases[i].d, &b), PC_OK);
    PC_ASSERT_STR_EQ(b.data, double_cases[i].want);
  }
  pc_buf_reset(&b);
  CU_ASSERT_EQUAL(pc_json_write_double(NAN, &b), PC_OK);
  CU_ASSERT_EQUAL(pc_buf_putc(&b, ' '), PC_OK);
  CU_ASSERT_EQUAL(pc_json_write_double(INFINITY, &b), PC_OK);
  CU_ASSERT_EQUAL(pc_buf_putc(&b, ' '), PC_OK);
  CU_ASSERT_EQUAL(pc_json_write_double(-INFINITY, &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data, "NaN Infinity -Infinity");
  pc_buf_free(&b);
}

static void test_write_built_values_and_null(void)
{
  struct json_object *o = json_object_new_object();
  char *s;

  json_object_object_add(o, "x", json_object_new_double(0.5));
  json_object_object_add(o, "n", NULL);
  json_object_object_add(o, "u", json_object_new_uint64(UINT64_MAX));
  s = pc_json_to_string(o, SPACED);
  PC_ASSERT_STR_EQ(s,
                   "{\"x\": 0.5, \"n\": null, \"u\": 18446744073709551615}");
  pc_free(s);
  s = pc_json_to_string(NULL, 0);
  PC_ASSERT_STR_EQ(s, "null");
  pc_free(s);
  json_object_put(o);
}

static void test_write_nonfinite_null_flag(void)
{
  char *s = rewrite("[NaN, Infinity, 1.5]",
                    SPACED | PC__JSON_TEXT_NONFINITE_NULL);

  PC_ASSERT_STR_EQ(s, "[null, null, 1.5]");
  pc_free(s);
}

static void test_write_failure_leaves_buffer_unchanged(void)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *json = "{\"key\": [1, 2, 3, \"a long enough string\"]}";
  pc_buf b;

  CU_ASSERT_EQUAL(pc_json_parse(json, strlen(json), 0, &v, &err), PC_OK);
  pc_buf_init(&b, 12);  /* a cap the text does not fit in */
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "keep"), PC_OK);
  CU_ASSERT_EQUAL(pc_json_write(v, SPACED, &b), PC_E_NOMEM);
  PC_ASSERT_STR_EQ(b.data, "keep");
  pc_buf_free(&b);
  pc__alloc_fail_at(1);
  CU_ASSERT_PTR_NULL(pc_json_to_string(v, 0));
  pc__alloc_fail_at(0);
  json_object_put(v);
}

/* ------------------------------------------------------------------------ */
/* Strict parsing                                                           */

static const struct {
  const char *text;
  const char *want;  /* compact JSON, or NULL for an error */
  const char *error; /* part of the message, when an error */
} parse_cases[] = {
  {"  {\"a\": [1, 2.5, \"x\"]}\n\t", "{\"a\":[1,2.5,\"x\"]}", NULL},
  {"42", "42", NULL},
  {"-1.5e3", "-1500.0", NULL},
  {"\"\xc3\xa9\"", "\"\xc3\xa9\"", NULL},
  {"true", "true", NULL},
  {"NaN", "NaN", NULL},
  {"[1] x", NULL, "offset 4"},
  {"1 2", NULL, "offset 2"},
  {"", NULL, "offset 0: unexpected end of text"},
  {"   ", NULL, "unexpected end of text"},
  {"[1, 2", NULL, "offset 5: unexpected end of text"},
  {"[1, 2,]", NULL, "offset 6"},
  {"['a']", NULL, "offset 1"},
  {"{\"a\" 1}", NULL, "offset 5"},
  {"\"\xff\"", NULL, "offset 1"},
  {"tru", NULL, "offset 3"},
};

static void test_parse_strict_table(void)
{
  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    struct json_object *v = (struct json_object *)&v;  /* must be reset */
    pc_error err = PC_ERROR_INIT;
    const char *t = parse_cases[i].text;
    int rc = pc_json_parse(t, strlen(t), PC_JSON_PARSE_STRICT, &v, &err);

    if (parse_cases[i].want) {
      char *s;

      CU_ASSERT_EQUAL(rc, PC_OK);
      s = pc_json_to_string(v, 0);
      PC_ASSERT_STR_EQ(s, parse_cases[i].want);
      pc_free(s);
      json_object_put(v);
    } else {
      CU_ASSERT_EQUAL(rc, PC_E_PARSE);
      CU_ASSERT_PTR_NULL(v);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, parse_cases[i].error));
      if (!strstr(err.message, parse_cases[i].error))
        fprintf(stderr, "\n  '%s': message '%s'\n", t, err.message);
    }
  }
}

static void test_parse_null_is_success_with_null(void)
{
  struct json_object *v = (struct json_object *)&v;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_json_parse(" null ", 6, 0, &v, &err), PC_OK);
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT_EQUAL(err.code, PC_OK);
}

static void test_parse_reads_exactly_len_bytes(void)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  const char text[] = {'1', '2', '3', '4'};  /* no terminator at all */
  const char nul[] = "[1]\0[2]";

  CU_ASSERT_EQUAL(pc_json_parse(text, 3, 0, &v, &err), PC_OK);
  CU_ASSERT_EQUAL(json_object_get_int64(v), 123);
  json_object_put(v);
  CU_ASSERT_EQUAL(pc_json_parse(nul, sizeof(nul) - 1, 0, &v, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "offset 3"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_json_parse("[\"a\0b\"]", 7, 0, &v, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NUL"));
}

static void test_parse_caps_nesting_depth(void)
{
  size_t n = PC_JSON_MAX_DEPTH + 10;
  char *deep = pc_malloc(2 * n);
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_FATAL(deep != NULL);
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  CU_ASSERT_EQUAL(pc_json_parse(deep, 2 * n, 0, &v, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "too deep"));
  /* Just inside the cap is fine. */
  pc_error_clear(&err);
  n = PC_JSON_MAX_DEPTH - 1;
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  CU_ASSERT_EQUAL(pc_json_parse(deep, 2 * n, 0, &v, &err), PC_OK);
  json_object_put(v);
  pc_free(deep);
}

/* ------------------------------------------------------------------------ */
/* Repair                                                                   */

static const struct {
  const char *rule;
  const char *text;
  const char *want;  /* compact JSON after repair + parse; NULL: error */
} repair_cases[] = {
  {"valid JSON unchanged", "{\"a\": [1, {\"b\": null}]}",
   "{\"a\":[1,{\"b\":null}]}"},
  {"surrounding blanks", "  \n [1, 2] \n ", "[1,2]"},
  {"bare number", "42", "42"},
  {"bare negative float", "-0.5", "-0.5"},
  {"bare constant", "true", "true"},
  {"bare string", "\"hi there\"", "\"hi there\""},
  {"fenced json", "```json\n{\"a\": 1}\n```", "{\"a\":1}"},
  {"fenced without language", "```\n[1, 2]\n```", "[1,2]"},
  {"first fence wins", "Answer:\n```json\n[1]\n```\nor\n```\n[2]\n```",
   "[1]"},
  {"unclosed fence", "```json\n{\"a\": 1}", "{\"a\":1}"},
  {"fence on one line", "```{\"a\": true}```", "{\"a\":true}"},
  {"prose before and after",
   "Sure! Here is the JSON: {\"a\": 1, \"b\": \"x\"} Hope it helps.",
   "{\"a\":1,\"b\":\"x\"}"},
  {"prose with an array", "The list is [1, 2, 3].", "[1,2,3]"},
  {"text after a value", "{\"a\": 1} and {\"b\": 2}", "{\"a\":1}"},
  {"brackets in strings", "x {\"a\": \"}]\"} y", "{\"a\":\"}]\"}"},
  {"single quotes", "{'a': 'b', 'c': ['d']}", "{\"a\":\"b\",\"c\":[\"d\"]}"},
  {"double quote inside single", "['say \"hi\"']", "[\"say \\\"hi\\\"\"]"},
  {"escaped single quote", "['it\\'s']", "[\"it's\"]"},
  {"apostrophe in single quotes", "{'a': 'it's fine'}",
   "{\"a\":\"it's fine\"}"},
  {"Python constants", "[True, False, None]", "[true,false,null]"},
  {"Python constants stay in strings", "[\"True\", 'None']",
   "[\"True\",\"None\"]"},
  {"Python dict", "{'ok': True, 'n': None, 'x': 1.5}",
   "{\"ok\":true,\"n\":null,\"x\":1.5}"},
  {"trailing commas", "{\"a\": [1, 2,], \"b\": 3,}",
   "{\"a\":[1,2],\"b\":3}"},
  {"trailing comma before newline", "[\n  1,\n  2,\n]", "[1,2]"},
  {"doubled commas", "[1,, 2]", "[1,2]"},
  {"missing commas at line breaks", "[\n  \"a\"\n  \"b\"\n  3\n]",
   "[\"a\",\"b\",3]"},
  {"missing comma between members", "{\n\"a\": 1\n\"b\": {\"c\": 2}\n}",
   "{\"a\":1,\"b\":{\"c\":2}}"},
  {"missing colon", "{\"a\" 1}", "{\"a\":1}"},
  {"comma after a colon", "{\"a\": , \"b\": 1}", "{\"a\":null,\"b\":1}"},
  {"comma after a colon, then the end", "{\"a\": ,}", "{\"a\":null}"},
  {"unquoted keys", "{name: \"x\", count_2: 3}",
   "{\"name\":\"x\",\"count_2\":3}"},
  {"unclosed brackets", "{\"a\": [1, {\"b\": 2", "{\"a\":[1,{\"b\":2}]}"},
  {"unclosed string", "{\"a\": \"hello", "{\"a\":\"hello\"}"},
  {"key without value", "{\"a\": 1, \"b\":", "{\"a\":1,\"b\":null}"},
  {"mismatched closer", "{\"a\": [1, 2}", "{\"a\":[1,2]}"},
  {"line comments", "{\n  \"a\": 1, // one\n  \"b\": 2 // two\n}",
   "{\"a\":1,\"b\":2}"},
  {"block comments", "[1, /* two, */ 3]", "[1,3]"},
  {"comment markers in strings", "[\"http://x\", \"/* y */\"]",
   "[\"http://x\",\"/* y */\"]"},
  {"raw newline and tab in string", "{\"a\": \"line 1\nline\t2\"}",
   "{\"a\":\"line 1\\nline\\t2\"}"},
  {"stray backslash", "[\"C:\\dir\"]", "[\"C:\\\\dir\"]"},
  {"leading plus and dot", "[+1, .5, -.5]", "[1,0.5,-0.5]"},
  {"numeric keys", "{1: 'a'}", "{\"1\":\"a\"}"},
  {"no JSON at all", "hello world", NULL},
  {"empty text", "   ", NULL},
  {"only a comment", "[// nothing", "[]"},
  {"junk after a scalar", "42 apples", NULL},
  {"a stray closer alone", "]", NULL},
};

static void test_repair_rules_table(void)
{
  for (size_t i = 0; i < sizeof(repair_cases) / sizeof(repair_cases[0]);
       i++) {
    struct json_object *v = NULL;
    pc_error err = PC_ERROR_INIT;
    const char *t = repair_cases[i].text;
    int rc = pc_json_parse(t, strlen(t), PC_JSON_PARSE_REPAIR, &v, &err);

    if (repair_cases[i].want) {
      char *s = pc_json_to_string(v, 0);

      if (rc != PC_OK || !s || strcmp(s, repair_cases[i].want) != 0)
        fprintf(stderr, "\n  rule '%s': %s\n", repair_cases[i].rule,
                err.message);
      CU_ASSERT_EQUAL(rc, PC_OK);
      PC_ASSERT_STR_EQ(s, repair_cases[i].want);
      pc_free(s);
      json_object_put(v);
    } else {
      if (rc != PC_E_PARSE)
        fprintf(stderr, "\n  rule '%s' should fail\n", repair_cases[i].rule);
      CU_ASSERT_EQUAL(rc, PC_E_PARSE);
      CU_ASSERT_PTR_NULL(v);
    }
  }
}

static void test_repair_keeps_layout_and_inserts_in_place(void)
{
  pc_buf b;
  pc_error err = PC_ERROR_INIT;
  const char *t = "[\n  1\n  2,\n]";

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_json_repair(t, strlen(t), &b, &err), PC_OK);
  PC_ASSERT_STR_EQ(b.data, "[\n  1,\n  2\n]");
  pc_buf_free(&b);
}

static void test_repair_no_json_says_so(void)
{
  pc_buf b;
  pc_error err = PC_ERROR_INIT;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "keep"), PC_OK);
  CU_ASSERT_EQUAL(pc_json_repair("The answer is yes.", 18, &b, &err),
                  PC_E_PARSE);
  PC_ASSERT_STR_EQ(b.data, "keep");
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no JSON value"));
  pc_buf_free(&b);
}

static void test_repair_deep_and_large_input_is_safe(void)
{
  size_t n = 200000;
  char *text = pc_malloc(n);
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_buf b;

  CU_ASSERT_FATAL(text != NULL);
  /* Far deeper than the parser allows: closed by repair, refused by the
   * depth cap, no recursion anywhere. */
  memset(text, '[', n);
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_json_repair(text, n, &b, &err), PC_OK);
  CU_ASSERT_EQUAL(b.len, 2 * n);
  CU_ASSERT_EQUAL(b.data[2 * n - 1], ']');
  pc_buf_free(&b);
  CU_ASSERT_EQUAL(pc_json_parse(text, n, PC_JSON_PARSE_REPAIR, &v, &err),
                  PC_E_PARSE);
  CU_ASSERT_PTR_NULL(v);
  /* Many stray closers inside one open array: each is dropped. */
  text[0] = '[';
  memset(text + 1, '}', n - 1);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_json_parse(text, n, PC_JSON_PARSE_REPAIR, &v, &err),
                  PC_OK);
  CU_ASSERT_EQUAL(json_object_array_length(v), 0);
  json_object_put(v);
  pc_free(text);
}

static void test_repair_out_of_memory_is_reported(void)
{
  pc_buf b;
  pc_error err = PC_ERROR_INIT;
  const char *t = "{'a': [1, 2";

  pc_buf_init(&b, 4);  /* too small for the repaired text */
  CU_ASSERT_EQUAL(pc_json_repair(t, strlen(t), &b, &err), PC_E_NOMEM);
  CU_ASSERT_EQUAL(b.len, 0);
  pc_buf_free(&b);
}

static CU_TestInfo json_tests[] = {
  {"write: matches Python json.dumps", test_write_matches_python_json_dumps},
  {"write: doubles are Python repr", test_write_double_is_python_repr},
  {"write: built values and null", test_write_built_values_and_null},
  {"write: non-finite as null on request", test_write_nonfinite_null_flag},
  {"write: failure leaves the buffer unchanged",
   test_write_failure_leaves_buffer_unchanged},
  {"parse: strict table", test_parse_strict_table},
  {"parse: null is success with NULL", test_parse_null_is_success_with_null},
  {"parse: reads exactly len bytes", test_parse_reads_exactly_len_bytes},
  {"parse: caps nesting depth", test_parse_caps_nesting_depth},
  {"repair: every rule", test_repair_rules_table},
  {"repair: inserts in place, keeps layout",
   test_repair_keeps_layout_and_inserts_in_place},
  {"repair: no JSON says so", test_repair_no_json_says_so},
  {"repair: deep and large input is safe",
   test_repair_deep_and_large_input_is_safe},
  {"repair: out of memory is reported", test_repair_out_of_memory_is_reported},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"json", NULL, NULL, NULL, NULL, json_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
