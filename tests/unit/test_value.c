/* tests/unit/test_value.c: core/value.c; suite "value". Expected texts are
 * what DSPy 3.3.1 (format_field_value, parse_value), Python's str()/repr()
 * and pydantic's lax mode give for the same values. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"
#include "json_text.h"
#include "value.h"

/* A type from its text; NULL text means "no type". */
static pc_type *type_of(const char *text)
{
  pc_type *t = NULL;
  pc_error err = PC_ERROR_INIT;

  if (text && pc_type_parse(text, strlen(text), &t, NULL, &err) != PC_OK)
    fprintf(stderr, "\n  bad type '%s': %s\n", text, err.message);
  return t;
}

/* Render the value written as JSON text `json`; owned result. */
static char *render(const char *json, const char *type, unsigned flags)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_type *t = type_of(type);
  char *s = NULL;
  pc_buf b;

  pc_buf_init(&b, 0);
  if (pc_json_parse(json, strlen(json), 0, &v, &err) == PC_OK &&
      pc_value_render(v, t, flags, &b, &err) == PC_OK)
    s = pc_buf_take(&b, NULL);
  pc_buf_free(&b);
  json_object_put(v);
  pc_type_free(t);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */

#define L "\xc2\xab"  /* « */
#define R "\xc2\xbb"  /* » */

static const struct {
  const char *json;
  const char *type;  /* NULL: unknown */
  const char *want;
} field_cases[] = {
  /* a list in a str field: numbered «» blobs */
  {"[\"a\", \"b\"]", "str", "[1] " L "a" R "\n[2] " L "b" R},
  {"[]", "str", "N/A"},
  {"[\"only\"]", "str", L "only" R},
  {"[\"line 1\\nline 2\"]", "str",
   L L L "\n    line 1\n    line 2\n" R R R},
  {"[\"x " L "y" R "\", \"z\"]", "str",
   "[1] " L L L "\n    x " L "y" R "\n" R R R "\n[2] " L "z" R},
  {"[1, true, null, 2.0, [\"a\"]]", "str",
   "[1] " L "1" R "\n[2] " L "True" R "\n[3] " L "None" R
   "\n[4] " L "2.0" R "\n[5] " L "['a']" R},
  /* lists and dicts elsewhere: json.dumps with ", " and ": " */
  {"[\"a\", \"b\"]", "list[str]", "[\"a\", \"b\"]"},
  {"[\"a\", \"b\"]", "Optional[str]", "[\"a\", \"b\"]"},
  {"[\"a\", \"b\"]", NULL, "[\"a\", \"b\"]"},
  {"{\"a\": 1, \"b\": [true, null]}", "Any",
   "{\"a\": 1, \"b\": [true, null]}"},
  {"{\"\xc3\xa9\": \"\xe4\xb8\xad\"}", "dict[str, str]",
   "{\"\xc3\xa9\": \"\xe4\xb8\xad\"}"},
  {"[1.0, 1e20, NaN, Infinity]", "list[float]", "[1.0, 1e+20, null, null]"},
  /* scalars: Python str() */
  {"\"hello\"", "str", "hello"},
  {"\"multi\\nline \\\"q\\\"\"", "str", "multi\nline \"q\""},
  {"\"42\"", "int", "42"},
  {"null", "str", "None"},
  {"true", "bool", "True"},
  {"false", NULL, "False"},
  {"-42", "int", "-42"},
  {"3.0", "float", "3.0"},
  {"1e20", "float", "1e+20"},
  {"0.1", "float", "0.1"},
  {"1e-7", "float", "1e-07"},
  {"Infinity", "float", "inf"},
  {"NaN", "float", "nan"},
};

static void test_render_field_table(void)
{
  for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
    char *s = render(field_cases[i].json, field_cases[i].type,
                     PC_VALUE_RENDER_FIELD);

    PC_ASSERT_STR_EQ(s, field_cases[i].want);
    pc_free(s);
  }
}

static const struct {
  const char *json;
  const char *want;
} pystr_cases[] = {
  {"\"top level string\"", "top level string"},
  {"[\"a\", 1, true, null, 1.5]", "['a', 1, True, None, 1.5]"},
  {"{\"a\": 1, \"b\": [true, null]}", "{'a': 1, 'b': [True, None]}"},
  {"{}", "{}"},
  {"{\"k\": {\"n\": [[]]}}", "{'k': {'n': [[]]}}"},
  /* Python's choice of quotes */
  {"[\"it's\"]", "[\"it's\"]"},
  {"[\"say \\\"hi\\\"\"]", "['say \"hi\"']"},
  {"[\"both ' and \\\"\"]", "['both \\' and \"']"},
  /* escapes and what Python considers printable */
  {"[\"tab\\tnl\\n\\\\\"]", "['tab\\tnl\\n\\\\']"},
  {"[\"\\u0001\\u007f\"]", "['\\x01\\x7f']"},
  {"[\"\xc3\xa9\xf0\x9f\x98\x80\", \"\\u00a0\\u200b\\u2028\\ufeff\"]",
   "['\xc3\xa9\xf0\x9f\x98\x80', '\\xa0\\u200b\\u2028\\ufeff']"},
  {"[\"\\udb40\\udc01\"]", "['\\U000e0001']"},
  /* floats as repr() */
  {"[NaN, Infinity, -Infinity, 1e16, 2.5]", "[nan, inf, -inf, 1e+16, 2.5]"},
  {"-Infinity", "-inf"},
  {"null", "None"},
};

static void test_render_pystr_table(void)
{
  for (size_t i = 0; i < sizeof(pystr_cases) / sizeof(pystr_cases[0]); i++) {
    char *s = render(pystr_cases[i].json, "str", PC_VALUE_RENDER_PYSTR);

    PC_ASSERT_STR_EQ(s, pystr_cases[i].want);
    pc_free(s);
  }
}

static void test_render_failure_leaves_buffer_unchanged(void)
{
  struct json_object *v = json_object_new_array();
  pc_error err = PC_ERROR_INIT;
  pc_buf b;

  json_object_array_add(v, json_object_new_string("a fairly long item"));
  pc_buf_init(&b, 8);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "keep"), PC_OK);
  CU_ASSERT_EQUAL(pc_value_render(v, NULL, 0, &b, &err), PC_E_NOMEM);
  PC_ASSERT_STR_EQ(b.data, "keep");
  CU_ASSERT_EQUAL(err.code, PC_E_NOMEM);
  pc_buf_free(&b);
  json_object_put(v);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

struct parse_case {
  const char *type;
  const char *text;
  const char *want;  /* compact JSON of the result; NULL: PC_E_PARSE */
};

static const struct parse_case text_cases[] = {
  /* str: verbatim, never stripped or decoded */
  {"str", "  hello  ", "\"  hello  \""},
  {"str", "None", "\"None\""},
  {"str", "[1, 2]", "\"[1, 2]\""},
  {"str", "h\xc3\xa9llo \xf0\x9f\x98\x80",
   "\"h\xc3\xa9llo \xf0\x9f\x98\x80\""},
  {"str", "", "\"\""},
  /* int */
  {"int", "42", "42"},
  {"int", "-7", "-7"},
  {"int", "3.0", "3"},
  {"int", "1e3", "1000"},
  {"int", "\"42\"", "42"},
  {"int", "1_000", "1000"},
  {"int", "42.00", "42"},
  {"int", "True", "1"},
  {"int", "```\n12\n```", "12"},
  {"int", "3.5", NULL},
  {"int", "abc", NULL},
  {"int", "", NULL},
  {"int", "[1]", NULL},
  {"int", "42 apples", NULL},
  {"int", "99999999999999999999.5", NULL},
  /* float */
  {"float", "0.5", "0.5"},
  {"float", "3", "3.0"},
  {"float", "\"2.5\"", "2.5"},
  {"float", "inf", "Infinity"},
  {"float", "-Infinity", "-Infinity"},
  {"float", "nan", "NaN"},
  {"float", "1_000.5", "1000.5"},
  {"float", " .5e1 ", "5.0"},
  {"float", "abc", NULL},
  {"float", "1e", NULL},
  /* bool */
  {"bool", "True", "true"},
  {"bool", "false", "false"},
  {"bool", "yes", "true"},
  {"bool", "No", "false"},
  {"bool", "ON", "true"},
  {"bool", "off", "false"},
  {"bool", "1", "true"},
  {"bool", "0", "false"},
  {"bool", "1.0", "true"},
  {"bool", "t", "true"},
  {"bool", "N", "false"},
  {"bool", "2", NULL},
  {"bool", "maybe", NULL},
  {"bool", "None", NULL},
  /* list */
  {"list[str]", "[\"a\", \"b\"]", "[\"a\",\"b\"]"},
  {"list[str]", "['a', 'b']", "[\"a\",\"b\"]"},
  {"list[str]", "```json\n[\"x\",]\n```", "[\"x\"]"},
  {"list[str]", "Tags: ['\xc3\xa9', \"\xe4\xb8\xad\"]",
   "[\"\xc3\xa9\",\"\xe4\xb8\xad\"]"},
  {"list[str]", "[1, 2]", NULL},
  {"list[str]", "a, b", NULL},
  {"list[int]", "[1, \"2\", 3.0, true]", "[1,2,3,1]"},
  {"list[int]", "[1, \"x\"]", NULL},
  {"list[list[int]]", "[[1], [2, 3], []]", "[[1],[2,3],[]]"},
  {"List[float]", "[1, 2.5]", "[1.0,2.5]"},
  /* dict */
  {"dict[str, int]", "{\"a\": 1, 'b': '2'}", "{\"a\":1,\"b\":2}"},
  {"dict[str, list[float]]", "{'x': [1, 2.5]}", "{\"x\":[1.0,2.5]}"},
  {"dict[str, Any]", "{a: None, b: [True]}", "{\"a\":null,\"b\":[true]}"},
  {"dict[str, int]", "{\"a\": \"x\"}", NULL},
  {"dict[str, int]", "[1]", NULL},
  /* optional */
  {"Optional[int]", "None", "null"},
  {"Optional[int]", "null", "null"},
  {"Optional[int]", "5", "5"},
  {"int | None", "None", "null"},
  {"Optional[int]", "x", NULL},
  {"Optional[str]", "None", "\"None\""},
  {"Optional[str]", " text ", "\" text \""},
  {"list[Optional[int]]", "[1, None]", "[1,null]"},
  /* literal */
  {"Literal['a', 'b']", "a", "\"a\""},
  {"Literal['a', 'b']", " b\n", "\"b\""},
  {"Literal['a', 'b']", "'a'", "\"a\""},
  {"Literal['a', 'b']", "\"b\"", "\"b\""},
  {"Literal['a', 'b']", "Literal['a']", "\"a\""},
  {"Literal['a', 'b']", "str[b]", "\"b\""},
  {"Literal['a', 'b']", "c", NULL},
  {"Literal['a', 'b']", "A", NULL},
  {"Literal['a', 'b']", "''a''", NULL},
  {"Literal[1, 2]", "2", "2"},
  {"Literal[1, 2]", "3", NULL},
  {"Literal[True, 'x']", "True", "true"},
  {"Literal['caf\xc3\xa9']", "'caf\xc3\xa9'", "\"caf\xc3\xa9\""},
  {"list[Literal['a', 'b']]", "['a', 'b', 'a']", "[\"a\",\"b\",\"a\"]"},
  /* any */
  {"Any", "{\"a\": 1}", "{\"a\":1}"},
  {"Any", "hello world", "\"hello world\""},
  {"Any", "42", "42"},
  {"Any", "None", "null"},
};

static const struct parse_case json_cases[] = {
  /* a str field takes Python's str() of what came back */
  {"str", "\"hi\"", "\"hi\""},
  {"str", "3.0", "\"3.0\""},
  {"str", "{\"a\": 1}", "\"{'a': 1}\""},
  {"str", "[1, \"x\"]", "\"[1, 'x']\""},
  {"str", "true", "\"True\""},
  {"str", "null", "\"None\""},
  /* a string value goes through the text rules */
  {"int", "\"42\"", "42"},
  {"list[int]", "\"[1, 2]\"", "[1,2]"},
  {"Literal['a', 'b']", "\"'a'\"", "\"a\""},
  {"Optional[str]", "\"x\"", "\"x\""},
  {"bool", "\"yes\"", "true"},
  /* other values are validated directly */
  {"int", "42", "42"},
  {"int", "3.0", "3"},
  {"float", "1", "1.0"},
  {"bool", "1", "true"},
  {"list[int]", "[1, 2]", "[1,2]"},
  {"dict[str, bool]", "{\"x\": 0}", "{\"x\":false}"},
  {"Literal[1, 2]", "2.0", "2"},
  {"Optional[str]", "null", "null"},
  {"Any", "[1, {\"a\": null}]", "[1,{\"a\":null}]"},
  {"int", "\"x\"", NULL},
  {"Literal['a', 'b']", "1", NULL},
  {"Optional[str]", "3", NULL},
  {"list[int]", "{\"a\": 1}", NULL},
  {"int", "{", NULL},
};

static void run_parse_cases(const struct parse_case *cases, size_t n,
                            unsigned flags)
{
  for (size_t i = 0; i < n; i++) {
    pc_type *t = type_of(cases[i].type);
    struct json_object *v = (struct json_object *)&v;  /* must be reset */
    pc_error err = PC_ERROR_INIT;
    int rc;

    CU_ASSERT_FATAL(t != NULL);
    rc = pc_value_parse(t, cases[i].text, strlen(cases[i].text), flags, &v,
                        &err);
    if (cases[i].want) {
      char *s = pc_json_to_string(v, 0);

      if (rc != PC_OK)
        fprintf(stderr, "\n  %s <- '%s': %s\n", cases[i].type, cases[i].text,
                err.message);
      CU_ASSERT_EQUAL(rc, PC_OK);
      PC_ASSERT_STR_EQ(s, cases[i].want);
      pc_free(s);
      json_object_put(v);
    } else {
      if (rc != PC_E_PARSE)
        fprintf(stderr, "\n  %s <- '%s' should fail\n", cases[i].type,
                cases[i].text);
      CU_ASSERT_EQUAL(rc, PC_E_PARSE);
      CU_ASSERT_PTR_NULL(v);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot parse"));
    }
    pc_type_free(t);
  }
}

static void test_parse_from_text_table(void)
{
  run_parse_cases(text_cases, sizeof(text_cases) / sizeof(text_cases[0]),
                  PC_VALUE_FROM_TEXT);
}

static void test_parse_from_json_table(void)
{
  run_parse_cases(json_cases, sizeof(json_cases) / sizeof(json_cases[0]),
                  PC_VALUE_FROM_JSON);
}

static void test_parse_int_literal_gives_int(void)
{
  pc_type *t = type_of("Literal[1, 'x']");
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_value_parse(t, "1", 1, 0, &v, &err), PC_OK);
  CU_ASSERT_TRUE(json_object_is_type(v, json_type_int));
  CU_ASSERT_EQUAL(json_object_get_int64(v), 1);
  json_object_put(v);
  pc_type_free(t);
}

static const struct {
  const char *type;
  const char *text;
  unsigned flags;
  const char *message;
} message_cases[] = {
  {"int", "abc", 0, "cannot parse 'abc' as int"},
  {"list[int]", "[1, \"x\"]", 0,
   "cannot parse '[1, \"x\"]' as list[int]: at [1]: expected int, got 'x'"},
  {"dict[str, list[bool]]", "{\"k\": [true, 7]}", 0,
   "cannot parse '{\"k\": [true, 7]}' as dict[str, list[bool]]: "
   "at ['k'][1]: expected bool, got 7"},
  {"Literal['a', 'b']", "c", 0,
   "cannot parse 'c' as Literal['a', 'b']: expected one of: a; b"},
  {"Optional[float]", "n/a", 0, "cannot parse 'n/a' as Optional[float]"},
  {"int", "{", PC_VALUE_FROM_JSON,
   "cannot parse '{' as JSON: offset 1: unexpected end of text"},
};

static void test_parse_messages_name_type_and_text(void)
{
  for (size_t i = 0; i < sizeof(message_cases) / sizeof(message_cases[0]);
       i++) {
    pc_type *t = type_of(message_cases[i].type);
    struct json_object *v = NULL;
    pc_error err = PC_ERROR_INIT;
    const char *text = message_cases[i].text;

    CU_ASSERT_EQUAL(pc_value_parse(t, text, strlen(text),
                                   message_cases[i].flags, &v, &err),
                    PC_E_PARSE);
    PC_ASSERT_STR_EQ(err.message, message_cases[i].message);
    pc_type_free(t);
  }
}

static void test_parse_message_quotes_a_prefix(void)
{
  char text[300];
  pc_type *t = type_of("int");
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *q;

  memset(text, 'z', sizeof(text));
  CU_ASSERT_EQUAL(pc_value_parse(t, text, sizeof(text), 0, &v, &err),
                  PC_E_PARSE);
  q = strchr(err.message, '\'');
  CU_ASSERT_PTR_NOT_NULL_FATAL(q);
  CU_ASSERT_EQUAL(strspn(q + 1, "z"), 60);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "zzz...' as int"));
  pc_type_free(t);
}

static void test_parse_out_of_memory_is_clean(void)
{
  pc_type *t = type_of("dict[str, list[int]]");
  const char *text = "Result: {'a': [1, '2', 3.0], b: [4,],}";
  int rc = PC_E_NOMEM;

  CU_ASSERT_FATAL(t != NULL);
  /* Fail each allocation in turn: every failure is PC_E_NOMEM with no
   * result (valgrind checks nothing leaks), until the parse succeeds. */
  for (unsigned long n = 1; rc == PC_E_NOMEM && n < 500; n++) {
    struct json_object *v = (struct json_object *)&v;
    pc_error err = PC_ERROR_INIT;

    pc__alloc_fail_at(n);
    rc = pc_value_parse(t, text, strlen(text), 0, &v, &err);
    pc__alloc_fail_at(0);
    if (rc == PC_E_NOMEM) {
      CU_ASSERT_PTR_NULL(v);
      CU_ASSERT_EQUAL(err.code, PC_E_NOMEM);
    } else {
      char *s = pc_json_to_string(v, 0);

      PC_ASSERT_STR_EQ(s, "{\"a\":[1,2,3],\"b\":[4]}");
      pc_free(s);
      json_object_put(v);
    }
  }
  CU_ASSERT_EQUAL(rc, PC_OK);
  pc_type_free(t);
}

static void test_parse_without_type_is_invalid(void)
{
  struct json_object *v = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_value_parse(NULL, "1", 1, 0, &v, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(v);
}

static CU_TestInfo value_tests[] = {
  {"render: field values as DSPy formats them", test_render_field_table},
  {"render: Python str() and repr()", test_render_pystr_table},
  {"render: failure leaves the buffer unchanged",
   test_render_failure_leaves_buffer_unchanged},
  {"parse: text per type", test_parse_from_text_table},
  {"parse: JSON values per type", test_parse_from_json_table},
  {"parse: int literal gives an int", test_parse_int_literal_gives_int},
  {"parse: messages name type and text",
   test_parse_messages_name_type_and_text},
  {"parse: message quotes a prefix", test_parse_message_quotes_a_prefix},
  {"parse: out of memory is clean", test_parse_out_of_memory_is_clean},
  {"parse: no type is invalid", test_parse_without_type_is_invalid},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"value", NULL, NULL, NULL, NULL, value_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
