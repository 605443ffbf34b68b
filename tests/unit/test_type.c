/* tests/unit/test_type.c: core/type.c, field types; suite "type". */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "type.h"

/* Parse `text`, asserting success; the tree or NULL. */
static pc_type *parse_ok(const char *text)
{
  pc_type *t = NULL;
  pc_error err = PC_ERROR_INIT;
  size_t off = 99;
  int rc = pc_type_parse(text, strlen(text), &t, &off, &err);

  CU_ASSERT_EQUAL(rc, PC_OK);
  if (rc)
    fprintf(stderr, "\n  parse(%s): %s\n", text, err.message);
  CU_ASSERT_PTR_NOT_NULL(t);
  return t;
}

/* Parse `text`, asserting failure at byte `want_off` with a message that
 * contains `want_msg`. */
static void parse_fails(const char *text, size_t want_off,
                        const char *want_msg)
{
  pc_type *t = (pc_type *)&t;  /* non-NULL sentinel: must be reset */
  pc_error err = PC_ERROR_INIT;
  size_t off = 999;

  CU_ASSERT_EQUAL(pc_type_parse(text, strlen(text), &t, &off, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_EQUAL(err.code, PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(off, want_off);
  if (off != want_off)
    fprintf(stderr, "\n  %s: offset %zu, want %zu\n", text, off, want_off);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want_msg));
  if (!strstr(err.message, want_msg))
    fprintf(stderr, "\n  %s: message \"%s\", want \"%s\"\n", text,
            err.message, want_msg);
}

enum { CANON, NAME, SCHEMA };

/* Render `text` one of three ways and compare with `want`. */
static void check_render(const char *text, int how, const char *want)
{
  pc_type *t = parse_ok(text);
  pc_buf b;
  int rc;

  if (!t)
    return;
  pc_buf_init(&b, 0);
  rc = how == CANON ? pc_type_canonical(t, &b)
     : how == NAME ? pc_type_name(t, &b) : pc_type_schema(t, &b);
  CU_ASSERT_EQUAL(rc, PC_OK);
  PC_ASSERT_STR_EQ(b.data, want);
  pc_buf_free(&b);
  pc_type_free(t);
}

static void test_simple_types_parse_to_their_kinds(void)
{
  static const struct { const char *text; int kind; } cases[] = {
    {"str", PC_TYPE_STR}, {"int", PC_TYPE_INT}, {"float", PC_TYPE_FLOAT},
    {"bool", PC_TYPE_BOOL}, {"Any", PC_TYPE_ANY}, {"  str\t", PC_TYPE_STR},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_type *t = parse_ok(cases[i].text);

    if (!t)
      continue;
    CU_ASSERT_EQUAL(t->kind, cases[i].kind);
    CU_ASSERT_PTR_NULL(t->item);
    CU_ASSERT_PTR_NULL(t->values);
    pc_type_free(t);
  }
}

static void test_containers_nest_items(void)
{
  pc_type *t = parse_ok("dict[str, List[ list[int] ]]");

  if (!t)
    return;
  CU_ASSERT_EQUAL(t->kind, PC_TYPE_DICT);
  CU_ASSERT_EQUAL(t->item->kind, PC_TYPE_LIST);
  CU_ASSERT_EQUAL(t->item->item->kind, PC_TYPE_LIST);
  CU_ASSERT_EQUAL(t->item->item->item->kind, PC_TYPE_INT);
  pc_type_free(t);
  t = parse_ok("Dict[ str ,Any ]");
  if (!t)
    return;
  CU_ASSERT_EQUAL(t->kind, PC_TYPE_DICT);
  CU_ASSERT_EQUAL(t->item->kind, PC_TYPE_ANY);
  pc_type_free(t);
}

static void test_literal_values_are_stored_as_json(void)
{
  pc_type *t = parse_ok("Literal['a', \"it's\", -3, 0, True, False]");
  struct json_object *v;

  if (!t)
    return;
  CU_ASSERT_EQUAL(t->kind, PC_TYPE_LITERAL);
  CU_ASSERT_EQUAL(json_object_array_length(t->values), 6);
  v = json_object_array_get_idx(t->values, 0);
  CU_ASSERT(json_object_is_type(v, json_type_string));
  PC_ASSERT_STR_EQ(json_object_get_string(v), "a");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 1)), "it's");
  v = json_object_array_get_idx(t->values, 2);
  CU_ASSERT(json_object_is_type(v, json_type_int));
  CU_ASSERT_EQUAL(json_object_get_int64(v), -3);
  v = json_object_array_get_idx(t->values, 4);
  CU_ASSERT(json_object_is_type(v, json_type_boolean));
  CU_ASSERT_TRUE(json_object_get_boolean(v));
  CU_ASSERT_FALSE(json_object_get_boolean(
    json_object_array_get_idx(t->values, 5)));
  pc_type_free(t);
}

static void test_literal_string_escapes_are_decoded(void)
{
  pc_type *t = parse_ok("Literal['\\'', \"\\\"\", '\\\\', 'a\\nb\\tc', "
                        "'\\u00e9\\x41', 'x,]->y']");

  if (!t)
    return;
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 0)), "'");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 1)), "\"");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 2)), "\\");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 3)), "a\nb\tc");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 4)), "\xc3\xa9" "A");
  PC_ASSERT_STR_EQ(json_object_get_string(
    json_object_array_get_idx(t->values, 5)), "x,]->y");
  pc_type_free(t);
}

static void test_optional_forms_record_their_style(void)
{
  static const struct { const char *text; int style; } cases[] = {
    {"Optional[int]", PC_OPT_OPTIONAL},
    {"Union[int, None]", PC_OPT_OPTIONAL},
    {"Union[None, int]", PC_OPT_OPTIONAL},
    {"int | None", PC_OPT_PIPE},
    {"None|int", PC_OPT_PIPE},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_type *t = parse_ok(cases[i].text);

    if (!t)
      continue;
    CU_ASSERT_EQUAL(t->kind, PC_TYPE_OPTIONAL);
    CU_ASSERT_EQUAL(t->opt_style, cases[i].style);
    CU_ASSERT_EQUAL(t->item->kind, PC_TYPE_INT);
    pc_type_free(t);
  }
}

static void test_optional_of_optional_collapses(void)
{
  static const struct { const char *text; int style; } cases[] = {
    {"Optional[Optional[str]]", PC_OPT_OPTIONAL},
    {"Optional[str | None]", PC_OPT_OPTIONAL},
    {"Optional[str] | None", PC_OPT_OPTIONAL},
    {"str | None | None", PC_OPT_PIPE},
    {"Union[str | None, None]", PC_OPT_OPTIONAL},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_type *t = parse_ok(cases[i].text);

    if (!t)
      continue;
    CU_ASSERT_EQUAL(t->kind, PC_TYPE_OPTIONAL);
    CU_ASSERT_EQUAL(t->opt_style, cases[i].style);
    CU_ASSERT_EQUAL(t->item->kind, PC_TYPE_STR);
    pc_type_free(t);
  }
}

static void test_canonical_text(void)
{
  check_render("str", CANON, "str");
  check_render("List[str]", CANON, "list[str]");
  check_render("Dict[str,int]", CANON, "dict[str, int]");
  check_render("Literal[\"a\",'b']", CANON, "Literal['a', 'b']");
  check_render("Union[None, int]", CANON, "Optional[int]");
  check_render("Union[int, None]", CANON, "Optional[int]");
  check_render("None | int", CANON, "int | None");
  check_render("list[ int|None ]", CANON, "list[int | None]");
  check_render("Any", CANON, "Any");
  check_render("Literal[-1, True, 'x']", CANON, "Literal[-1, True, 'x']");
}

static void test_canonical_text_parses_back_to_an_equal_type(void)
{
  static const char *cases[] = {
    "str", "int", "float", "bool", "Any", "List[str]", "dict[str, Any]",
    "Dict[str, list[Optional[int]]]", "Optional[Literal['a']]",
    "int | None", "list[str | None] | None", "Union[None, float]",
    "Literal['it\\'s', \"say \\\"hi\\\"\", 'both \\' and \"', '\\\\']",
    "Literal['tab\\there', 'nl\\n', '\\x01', '\\x7f', '\\u00e9', "
    "'\\u0085', '\\u00a0']",
    "Literal[9223372036854775807, -9223372036854775808, False]",
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_type *a = parse_ok(cases[i]);
    pc_type *b = NULL;
    pc_buf canon, again;

    if (!a)
      continue;
    pc_buf_init(&canon, 0);
    pc_buf_init(&again, 0);
    CU_ASSERT_EQUAL(pc_type_canonical(a, &canon), PC_OK);
    b = parse_ok(canon.data);
    CU_ASSERT_TRUE(pc_type_equal(a, b));
    CU_ASSERT_EQUAL(pc_type_canonical(b, &again), PC_OK);
    PC_ASSERT_STR_EQ(again.data, canon.data);  /* a fixed point */
    pc_buf_free(&canon);
    pc_buf_free(&again);
    pc_type_free(a);
    pc_type_free(b);
  }
}

static void test_canonical_quotes_literals_like_python_repr(void)
{
  check_render("Literal[\"it's\"]", CANON, "Literal[\"it's\"]");
  check_render("Literal['say \"hi\"']", CANON, "Literal['say \"hi\"']");
  check_render("Literal['both \\' and \"']", CANON,
               "Literal['both \\' and \"']");
  check_render("Literal['a\\\\b']", CANON, "Literal['a\\\\b']");
  check_render("Literal['a\\nb\\tc\\rd']", CANON, "Literal['a\\nb\\tc\\rd']");
  check_render("Literal['\\x01\\x7f']", CANON, "Literal['\\x01\\x7f']");
  check_render("Literal['\\u0085|\\u00a0|\\u00e9']", CANON,
               "Literal['\\x85|\\xa0|\xc3\xa9']");
}

static void test_names_follow_dspy(void)
{
  check_render("str", NAME, "str");
  check_render("Any", NAME, "Any");
  check_render("List[str]", NAME, "list[str]");
  check_render("Dict[str, Any]", NAME, "dict[str, Any]");
  check_render("Optional[str]", NAME, "Union[str, NoneType]");
  check_render("Union[None, str]", NAME, "Union[str, NoneType]");
  check_render("str | None", NAME, "UnionType[str, NoneType]");
  check_render("list[int | None]", NAME, "list[UnionType[int, NoneType]]");
  check_render("Optional[dict[str, list[float]]]", NAME,
               "Union[dict[str, list[float]], NoneType]");
  check_render("Literal['pos', 'neg']", NAME, "Literal['pos', 'neg']");
  check_render("Literal[1, -2, True, False]", NAME,
               "Literal[1, -2, True, False]");
}

static void test_names_quote_literal_strings_as_dspy_does(void)
{
  check_render("Literal[\"it's\"]", NAME, "Literal[\"it's\"]");
  check_render("Literal['say \"hi\"']", NAME, "Literal['say \"hi\"']");
  check_render("Literal['both \\' and \"']", NAME,
               "Literal['both \\' and \"']");
  /* DSPy only picks the quotes: other characters appear as they are. */
  check_render("Literal['a\\\\b', 'x\\ny']", NAME,
               "Literal['a\\b', 'x\ny']");
}

static void test_schemas_match_pydantic_with_sorted_keys(void)
{
  check_render("str", SCHEMA, "{\"type\": \"string\"}");
  check_render("int", SCHEMA, "{\"type\": \"integer\"}");
  check_render("float", SCHEMA, "{\"type\": \"number\"}");
  check_render("bool", SCHEMA, "{\"type\": \"boolean\"}");
  check_render("Any", SCHEMA, "{}");
  check_render("list[str]", SCHEMA,
               "{\"type\": \"array\", \"items\": {\"type\": \"string\"}}");
  check_render("Optional[str]", SCHEMA,
               "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}");
  check_render("str | None", SCHEMA,
               "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}");
  check_render("dict[str, Any]", SCHEMA,
               "{\"type\": \"object\", \"additionalProperties\": true}");
  check_render("dict[str, int]", SCHEMA,
               "{\"type\": \"object\", \"additionalProperties\": "
               "{\"type\": \"integer\"}}");
  check_render("list[Any]", SCHEMA, "{\"type\": \"array\", \"items\": {}}");
  check_render("list[dict[str, list[int]]]", SCHEMA,
               "{\"type\": \"array\", \"items\": {\"type\": \"object\", "
               "\"additionalProperties\": {\"type\": \"array\", "
               "\"items\": {\"type\": \"integer\"}}}}");
}

static void test_literal_schemas_by_value_kind(void)
{
  check_render("Literal['a', 'b']", SCHEMA,
               "{\"type\": \"string\", \"enum\": [\"a\", \"b\"]}");
  check_render("Literal['a']", SCHEMA,
               "{\"type\": \"string\", \"const\": \"a\"}");
  check_render("Literal[1, -2]", SCHEMA,
               "{\"type\": \"integer\", \"enum\": [1, -2]}");
  check_render("Literal[True, False]", SCHEMA,
               "{\"type\": \"boolean\", \"enum\": [true, false]}");
  check_render("Literal['a', 1, True]", SCHEMA,
               "{\"enum\": [\"a\", 1, true]}");
  check_render("Optional[Literal[3]]", SCHEMA,
               "{\"anyOf\": [{\"type\": \"integer\", \"const\": 3}, "
               "{\"type\": \"null\"}]}");
}

static void test_schema_strings_are_escaped_like_json_dumps(void)
{
  check_render("Literal['q\"', 'b\\\\', '\\n\\r\\t\\b\\f', '\\x01', "
               "'\\u00e9/']", SCHEMA,
               "{\"type\": \"string\", \"enum\": [\"q\\\"\", \"b\\\\\", "
               "\"\\n\\r\\t\\b\\f\", \"\\u0001\", \"\xc3\xa9/\"]}");
}

static void test_unknown_names_point_at_their_first_byte(void)
{
  parse_fails("integer", 0, "unknown type 'integer'");
  parse_fails("list[integer]", 5, "unknown type 'integer'");
  parse_fails("dict[str,  Strng]", 11, "unknown type 'Strng'");
  parse_fails("Optional[ Foo | None]", 10, "unknown type 'Foo'");
}

static void test_invalid_types_are_refused_with_offsets(void)
{
  parse_fails("", 0, "expected a type name");
  parse_fails("   ", 3, "expected a type name");
  parse_fails("list", 0, "needs arguments in brackets");
  parse_fails("Literal", 0, "Literal['a', 'b']");
  parse_fails("list[str", 8, "expected ']'");
  parse_fails("list[str]]", 9, "expected the end of the type, found ']'");
  parse_fails("str int", 4, "expected the end of the type");
  parse_fails("dict[int, str]", 5, "dict keys must be str");
  parse_fails("dict[str]", 8, "expected ','");
  parse_fails("Union[int, str]", 11, "unsupported type");
  parse_fails("Union[int]", 0, "unsupported type");
  parse_fails("int | str", 6, "unsupported type");
  parse_fails("None", 0, "unsupported type 'None'");
  parse_fails("Optional[None]", 9, "unsupported type 'None'");
  parse_fails("list['str']", 5, "expected a type name");
}

static void test_invalid_literals_are_refused_with_offsets(void)
{
  parse_fails("Literal[]", 8, "expected a Literal value");
  parse_fails("Literal['a', 'a']", 13, "duplicate Literal value 'a'");
  parse_fails("Literal[1, 2, 1]", 14, "duplicate Literal value 1");
  parse_fails("Literal['abc", 8, "unterminated string");
  parse_fails("Literal['a\\q']", 10, "unknown escape '\\q'");
  parse_fails("Literal[None]", 8, "unsupported Literal value 'None'");
  parse_fails("Literal[1.5]", 8, "only strings, integers");
  parse_fails("Literal[007]", 8, "leading zeros");
  parse_fails("Literal[9223372036854775808]", 8, "out of range");
  parse_fails("Literal['a' 'b']", 12, "expected ',' or ']'");
  parse_fails("Literal['\\x4']", 9, "hexadecimal digits");
  parse_fails("Literal['\\x00']", 9, "NUL");
}

static void test_true_and_one_are_different_literal_values(void)
{
  pc_type *t = parse_ok("Literal[True, 1, '1']");

  if (t)
    CU_ASSERT_EQUAL(json_object_array_length(t->values), 3);
  pc_type_free(t);
}

static void test_nesting_is_capped_at_32_levels(void)
{
  char text[512];
  size_t n = 0;

  /* 31 lists around str: 32 levels, accepted. */
  for (int i = 0; i < 31; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "list[");
  n += (size_t)snprintf(text + n, sizeof(text) - n, "str");
  for (int i = 0; i < 31; i++)
    text[n++] = ']';
  text[n] = '\0';
  pc_type_free(parse_ok(text));
  /* One more level is refused at the innermost type. */
  n = 0;
  for (int i = 0; i < 32; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "list[");
  n += (size_t)snprintf(text + n, sizeof(text) - n, "str");
  for (int i = 0; i < 32; i++)
    text[n++] = ']';
  text[n] = '\0';
  parse_fails(text, 32 * 5, "nested deeper than 32");
}

static void test_copy_is_deep_and_equal(void)
{
  pc_type *a = parse_ok("Optional[list[Literal['x', 2]]]");
  pc_type *b = pc_type_copy(a);
  pc_type *c = parse_ok("Optional[list[Literal['x', 3]]]");
  pc_type *d = parse_ok("list[Literal['x', 2]] | None");

  CU_ASSERT_PTR_NOT_NULL(b);
  CU_ASSERT_TRUE(pc_type_equal(a, b));
  CU_ASSERT_FALSE(pc_type_equal(a, c));
  CU_ASSERT_FALSE(pc_type_equal(a, d));  /* style differs */
  if (a && b) {
    CU_ASSERT_PTR_NOT_EQUAL(a->item->item->values, b->item->item->values);
    pc_type_free(a);
    a = NULL;
    /* The copy owns its values: still readable after the original goes. */
    PC_ASSERT_STR_EQ(json_object_get_string(
      json_object_array_get_idx(b->item->item->values, 0)), "x");
  }
  CU_ASSERT_PTR_NULL(pc_type_copy(NULL));
  pc_type_free(a);
  pc_type_free(b);
  pc_type_free(c);
  pc_type_free(d);
}

static void test_new_simple_and_kind_names(void)
{
  pc_type *t = pc_type_new_simple(PC_TYPE_FLOAT);

  CU_ASSERT_PTR_NOT_NULL(t);
  if (t)
    CU_ASSERT_EQUAL(t->kind, PC_TYPE_FLOAT);
  pc_type_free(t);
  CU_ASSERT_PTR_NULL(pc_type_new_simple(PC_TYPE_LIST));
  CU_ASSERT_PTR_NULL(pc_type_new_simple(0));
  PC_ASSERT_STR_EQ(pc_type_kind_name(PC_TYPE_STR), "str");
  PC_ASSERT_STR_EQ(pc_type_kind_name(PC_TYPE_ANY), "any");
  PC_ASSERT_STR_EQ(pc_type_kind_name(PC_TYPE_LITERAL), "literal");
  PC_ASSERT_STR_EQ(pc_type_kind_name(PC_TYPE_OPTIONAL), "optional");
  PC_ASSERT_STR_EQ(pc_type_kind_name(PC_TYPE_DICT), "dict");
  pc_type_free(NULL);  /* a no-op */
}

static void test_failed_render_leaves_the_buffer_unchanged(void)
{
  pc_type *t = parse_ok("dict[str, list[Literal['abcdefgh']]]");
  pc_buf b;

  pc_buf_init(&b, 12);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "keep"), PC_OK);
  if (t) {
    CU_ASSERT_EQUAL(pc_type_canonical(t, &b), PC_E_NOMEM);
    CU_ASSERT_EQUAL(pc_type_schema(t, &b), PC_E_NOMEM);
  }
  CU_ASSERT_EQUAL(b.len, 4);
  PC_ASSERT_STR_EQ(b.data, "keep");
  pc_buf_free(&b);
  pc_type_free(t);
}

static void test_parse_and_copy_survive_every_allocation_failure(void)
{
  const char *text = "Optional[dict[str, list[Literal['a\\u00e9', 1]]]]";
  int done = 0;

  for (unsigned long n = 1; n < 1000 && !done; n++) {
    pc_type *t = NULL, *c;
    pc_error err = PC_ERROR_INIT;
    int rc;

    pc__alloc_fail_at(n);
    rc = pc_type_parse(text, strlen(text), &t, NULL, &err);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || rc == PC_E_NOMEM);
    if (rc) {
      CU_ASSERT_PTR_NULL(t);
      continue;
    }
    pc__alloc_fail_at(n);
    c = pc_type_copy(t);
    pc__alloc_fail_at(0);
    if (c) {
      CU_ASSERT_TRUE(pc_type_equal(t, c));
      done = 1;
    }
    pc_type_free(c);
    pc_type_free(t);
  }
  CU_ASSERT_TRUE(done);
}

static CU_TestInfo type_tests[] = {
  {"simple types parse to their kinds",
   test_simple_types_parse_to_their_kinds},
  {"containers nest items", test_containers_nest_items},
  {"Literal values are stored as JSON",
   test_literal_values_are_stored_as_json},
  {"Literal string escapes are decoded",
   test_literal_string_escapes_are_decoded},
  {"optional forms record their style",
   test_optional_forms_record_their_style},
  {"Optional of Optional collapses", test_optional_of_optional_collapses},
  {"canonical text", test_canonical_text},
  {"canonical text parses back to an equal type",
   test_canonical_text_parses_back_to_an_equal_type},
  {"canonical quotes Literals like Python repr",
   test_canonical_quotes_literals_like_python_repr},
  {"names follow DSPy", test_names_follow_dspy},
  {"names quote Literal strings as DSPy does",
   test_names_quote_literal_strings_as_dspy_does},
  {"schemas match pydantic with sorted keys",
   test_schemas_match_pydantic_with_sorted_keys},
  {"Literal schemas by value kind", test_literal_schemas_by_value_kind},
  {"schema strings are escaped like json.dumps",
   test_schema_strings_are_escaped_like_json_dumps},
  {"unknown names point at their first byte",
   test_unknown_names_point_at_their_first_byte},
  {"invalid types are refused with offsets",
   test_invalid_types_are_refused_with_offsets},
  {"invalid Literals are refused with offsets",
   test_invalid_literals_are_refused_with_offsets},
  {"True and 1 are different Literal values",
   test_true_and_one_are_different_literal_values},
  {"nesting is capped at 32 levels", test_nesting_is_capped_at_32_levels},
  {"copy is deep and equal", test_copy_is_deep_and_equal},
  {"new_simple and kind names", test_new_simple_and_kind_names},
  {"a failed render leaves the buffer unchanged",
   test_failed_render_leaves_the_buffer_unchanged},
  {"parse and copy survive every allocation failure",
   test_parse_and_copy_survive_every_allocation_failure},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"type", NULL, NULL, NULL, NULL, type_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
