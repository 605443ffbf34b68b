/* tests/unit/test_signature.c: core/signature.c; suite "signature". */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "signature.h"

/* Parse `text`, asserting success. */
static pc_signature *parse_ok(const char *text)
{
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc = pc_signature_parse(text, &sig, &err);

  CU_ASSERT_EQUAL(rc, PC_OK);
  if (rc)
    fprintf(stderr, "\n  parse(%s): %s\n", text, err.message);
  CU_ASSERT_PTR_NOT_NULL(sig);
  return sig;
}

/* Parse `text`, asserting the exact error message. */
static void parse_fails(const char *text, const char *want)
{
  pc_signature *sig = (pc_signature *)&sig;  /* must be reset to NULL */
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_signature_parse(text, &sig, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(sig);
  PC_ASSERT_STR_EQ(err.message, want);
}

/* Build from JSON text, asserting success. */
static pc_signature *json_ok(const char *json)
{
  struct json_object *v = json_tokener_parse(json);
  pc_signature *sig = NULL;
  pc_error err = PC_ERROR_INIT;
  int rc;

  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  rc = pc_signature_from_json(v, &sig, &err);
  CU_ASSERT_EQUAL(rc, PC_OK);
  if (rc)
    fprintf(stderr, "\n  from_json(%s): %s\n", json, err.message);
  json_object_put(v);
  return sig;
}

/* Build from JSON text, asserting the exact error message. */
static void json_fails(const char *json, const char *want)
{
  struct json_object *v = json_tokener_parse(json);
  pc_signature *sig = (pc_signature *)&sig;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_signature_from_json(v, &sig, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(sig);
  PC_ASSERT_STR_EQ(err.message, want);
  json_object_put(v);
}

/* The type of field i as canonical text (a static buffer). */
static const char *type_of(const pc_field *f)
{
  static char text[256];
  pc_buf b;

  pc_buf_init(&b, 0);
  if (pc_type_canonical(f->type, &b) || !b.data)
    snprintf(text, sizeof(text), "(error)");
  else
    snprintf(text, sizeof(text), "%s", b.data);
  pc_buf_free(&b);
  return text;
}

static void check_to_string(const pc_signature *sig, const char *want)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_signature_to_string(sig, &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data, want);
  pc_buf_free(&b);
}

static void test_parses_the_dspy_examples(void)
{
  pc_signature *sig = parse_ok("question -> answer");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 1);
    CU_ASSERT_EQUAL(sig->n_outputs, 1);
    PC_ASSERT_STR_EQ(sig->inputs[0].name, "question");
    PC_ASSERT_STR_EQ(sig->outputs[0].name, "answer");
    CU_ASSERT_EQUAL(sig->outputs[0].type->kind, PC_TYPE_STR);
    PC_ASSERT_STR_EQ(sig->outputs[0].desc, "");
    PC_ASSERT_STR_EQ(sig->instructions,
                     "Given the fields `question`, produce the fields "
                     "`answer`.");
    CU_ASSERT_EQUAL(sig->default_instructions, 1);
  }
  pc_signature_free(sig);
  sig = parse_ok("context: list[str], question: str -> answer: int");
  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 2);
    PC_ASSERT_STR_EQ(type_of(&sig->inputs[0]), "list[str]");
    PC_ASSERT_STR_EQ(type_of(&sig->inputs[1]), "str");
    PC_ASSERT_STR_EQ(type_of(&sig->outputs[0]), "int");
  }
  pc_signature_free(sig);
  sig = parse_ok("text -> sentiment: Literal['pos', 'neg'], "
                 "confidence: float");
  if (sig) {
    CU_ASSERT_EQUAL(sig->n_outputs, 2);
    PC_ASSERT_STR_EQ(sig->outputs[0].name, "sentiment");
    PC_ASSERT_STR_EQ(type_of(&sig->outputs[0]), "Literal['pos', 'neg']");
    PC_ASSERT_STR_EQ(sig->outputs[1].name, "confidence");
    CU_ASSERT_EQUAL(sig->outputs[1].type->kind, PC_TYPE_FLOAT);
    PC_ASSERT_STR_EQ(sig->instructions,
                     "Given the fields `text`, produce the fields "
                     "`sentiment`, `confidence`.");
  }
  pc_signature_free(sig);
}

static void test_either_side_may_be_empty(void)
{
  pc_signature *sig = parse_ok("-> answer");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 0);
    CU_ASSERT_EQUAL(sig->n_outputs, 1);
    PC_ASSERT_STR_EQ(sig->instructions,
                     "Given the fields , produce the fields `answer`.");
    check_to_string(sig, "-> answer");
  }
  pc_signature_free(sig);
  sig = parse_ok("  question  ->  ");
  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 1);
    CU_ASSERT_EQUAL(sig->n_outputs, 0);
    check_to_string(sig, "question ->");
  }
  pc_signature_free(sig);
  sig = parse_ok("->");
  if (sig)
    CU_ASSERT_EQUAL(sig->n_inputs + sig->n_outputs, 0);
  pc_signature_free(sig);
}

static void test_trailing_commas_are_allowed(void)
{
  pc_signature *sig = parse_ok("a, b: int, -> c,");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 2);
    CU_ASSERT_EQUAL(sig->n_outputs, 1);
    PC_ASSERT_STR_EQ(sig->inputs[1].name, "b");
    check_to_string(sig, "a, b: int -> c");
  }
  pc_signature_free(sig);
}

static void test_commas_inside_types_belong_to_the_type(void)
{
  pc_signature *sig = parse_ok("x: dict[str, list[int]], y -> "
                               "z: Optional[dict[str, Any]], w: int|None");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 2);
    CU_ASSERT_EQUAL(sig->n_outputs, 2);
    PC_ASSERT_STR_EQ(type_of(&sig->inputs[0]), "dict[str, list[int]]");
    PC_ASSERT_STR_EQ(sig->inputs[1].name, "y");
    PC_ASSERT_STR_EQ(type_of(&sig->outputs[0]), "Optional[dict[str, Any]]");
    PC_ASSERT_STR_EQ(type_of(&sig->outputs[1]), "int | None");
  }
  pc_signature_free(sig);
}

static void test_literal_values_may_hold_commas_arrows_and_quotes(void)
{
  pc_signature *sig = parse_ok(
    "q: Literal['->'] -> label: Literal['a, b', 'x->y', \"it's\", "
    "'say \"hi\"', 'br]ack[et', 'eq=ual'], n: int");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 1);
    CU_ASSERT_EQUAL(sig->n_outputs, 2);
    PC_ASSERT_STR_EQ(type_of(&sig->inputs[0]), "Literal['->']");
    PC_ASSERT_STR_EQ(type_of(&sig->outputs[0]),
                     "Literal['a, b', 'x->y', \"it's\", 'say \"hi\"', "
                     "'br]ack[et', 'eq=ual']");
    PC_ASSERT_STR_EQ(sig->outputs[1].name, "n");
  }
  pc_signature_free(sig);
}

static void test_errors_name_the_column(void)
{
  parse_fails("question -> 1answer",
              "signature \"question -> 1answer\": column 13: "
              "expected a field name");
  parse_fails("question answer",
              "signature \"question answer\": column 16: "
              "expected '->' between the inputs and the outputs");
  parse_fails("a -> b -> c",
              "signature \"a -> b -> c\": column 8: more than one '->'");
  parse_fails("class -> b",
              "signature \"class -> b\": column 1: "
              "'class' is a Python keyword, not a field name");
  parse_fails("a -> b, lambda",
              "signature \"a -> b, lambda\": column 9: "
              "'lambda' is a Python keyword, not a field name");
  parse_fails("a: integer -> b",
              "signature \"a: integer -> b\": column 4: "
              "unknown type 'integer'");
  parse_fails("a: list[str -> b",
              "signature \"a: list[str -> b\": column 8: "
              "'[' is never closed");
  parse_fails("a -> b: Literal['x]",
              "signature \"a -> b: Literal['x]\": column 17: "
              "unterminated string");
  parse_fails("a = 1 -> b",
              "signature \"a = 1 -> b\": column 3: "
              "default values are not supported");
  parse_fails("a: int = 1 -> b",
              "signature \"a: int = 1 -> b\": column 8: "
              "default values are not supported");
  parse_fails("a] -> b",
              "signature \"a] -> b\": column 2: unmatched ']'");
  parse_fails("a,, b -> c",
              "signature \"a,, b -> c\": column 3: expected a field name");
  parse_fails(", -> c",
              "signature \", -> c\": column 1: expected a field name");
  parse_fails("a b -> c",
              "signature \"a b -> c\": column 3: "
              "expected ':' or ',' after the field name 'a'");
  parse_fails("a: -> c",
              "signature \"a: -> c\": column 4: "
              "expected a type name, found the end of the type");
  parse_fails("a -> b: dict[int, str]",
              "signature \"a -> b: dict[int, str]\": column 14: "
              "unsupported type: dict keys must be str");
}

static void test_duplicate_names_are_listed(void)
{
  parse_fails("a, b -> a",
              "signature \"a, b -> a\": column 9: "
              "duplicate field names: a");
  parse_fails("a, b, a -> b, a",
              "signature \"a, b, a -> b, a\": column 7: "
              "duplicate field names: a, b");
}

static void test_columns_count_characters_not_bytes(void)
{
  parse_fails("a: Literal['\xc3\xa9', '\xc3\xa9'] -> b",
              "signature \"a: Literal['\xc3\xa9', '\xc3\xa9'] -> b\": "
              "column 17: duplicate Literal value '\xc3\xa9'");
}

static void test_long_signatures_are_cut_but_keep_the_column(void)
{
  char text[400];
  pc_signature *sig = (pc_signature *)&sig;
  pc_error err = PC_ERROR_INIT;

  memset(text, 'x', sizeof(text));
  memcpy(text + 300, " -> 1y", 7);
  CU_ASSERT_EQUAL(pc_signature_parse(text, &sig, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(sig);
  CU_ASSERT(strlen(err.message) < 256);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "xxx...\": column 305: "
                                             "expected a field name"));
  CU_ASSERT_EQUAL(strncmp(err.message, "signature \"xxx", 14), 0);
}

static void test_json_object_form(void)
{
  pc_signature *sig = json_ok(
    "{\"instructions\": \"\\n    Answer questions.\\n\\n    Be brief.\\n  \","
    " \"inputs\": [{\"name\": \"question\", \"desc\": \"the question\"}],"
    " \"outputs\": [{\"name\": \"answer\", \"type\": \"list[int]\","
    " \"desc\": \"${answer}\"}]}");

  if (!sig)
    return;
  PC_ASSERT_STR_EQ(sig->instructions, "Answer questions.\n\nBe brief.");
  CU_ASSERT_EQUAL(sig->default_instructions, 0);
  PC_ASSERT_STR_EQ(sig->inputs[0].desc, "the question");
  CU_ASSERT_EQUAL(sig->inputs[0].type->kind, PC_TYPE_STR);
  PC_ASSERT_STR_EQ(sig->outputs[0].desc, "");  /* placeholder = none */
  PC_ASSERT_STR_EQ(type_of(&sig->outputs[0]), "list[int]");
  pc_signature_free(sig);
}

static void test_json_string_form_and_missing_instructions(void)
{
  pc_signature *sig = json_ok("\"a, b: int -> c\"");

  if (sig) {
    CU_ASSERT_EQUAL(sig->n_inputs, 2);
    CU_ASSERT_EQUAL(sig->default_instructions, 1);
  }
  pc_signature_free(sig);
  sig = json_ok("{\"inputs\": [], \"outputs\": [{\"name\": \"c\"}]}");
  if (sig) {
    PC_ASSERT_STR_EQ(sig->instructions,
                     "Given the fields , produce the fields `c`.");
    CU_ASSERT_EQUAL(sig->default_instructions, 1);
  }
  pc_signature_free(sig);
}

static void test_json_errors_name_the_member(void)
{
  json_fails("{\"inputs\": [], \"outputs\": [{\"name\": \"a\"},"
             " {\"name\": \"b\", \"type\": \"integer\"}]}",
             "outputs[1].type: unknown type 'integer' (column 1)");
  json_fails("{\"inputs\": [{\"name\": \"a\", \"type\": \"list[strr]\"}],"
             " \"outputs\": []}",
             "inputs[0].type: unknown type 'strr' (column 6)");
  json_fails("{\"inputs\": [], \"outputs\": [], \"extra\": 1}",
             "extra: unknown member (expected instructions, inputs or "
             "outputs)");
  json_fails("{\"inputs\": [{\"name\": \"a\", \"typ\": \"str\"}],"
             " \"outputs\": []}",
             "inputs[0].typ: unknown member (expected name, type or desc)");
  json_fails("{\"inputs\": {}, \"outputs\": []}",
             "inputs: expected an array of fields");
  json_fails("{\"inputs\": []}", "outputs: missing");
  json_fails("{\"inputs\": [\"a\"], \"outputs\": []}",
             "inputs[0]: expected an object with \"name\", \"type\" and "
             "\"desc\"");
  json_fails("{\"inputs\": [{\"type\": \"str\"}], \"outputs\": []}",
             "inputs[0].name: missing");
  json_fails("{\"inputs\": [{\"name\": 3}], \"outputs\": []}",
             "inputs[0].name: expected a string");
  json_fails("{\"inputs\": [{\"name\": \"a b\"}], \"outputs\": []}",
             "inputs[0].name: 'a b' is not a valid field name (letters, "
             "digits and _, not starting with a digit)");
  json_fails("{\"inputs\": [{\"name\": \"def\"}], \"outputs\": []}",
             "inputs[0].name: 'def' is a Python keyword, not a field name");
  json_fails("{\"inputs\": [{\"name\": \"a\"}],"
             " \"outputs\": [{\"name\": \"a\"}]}",
             "outputs[0].name: duplicate field name 'a'");
  json_fails("{\"inputs\": [{\"name\": \"a\", \"desc\": null}],"
             " \"outputs\": []}",
             "inputs[0].desc: expected a string");
  json_fails("{\"instructions\": 7, \"inputs\": [], \"outputs\": []}",
             "instructions: expected a string");
  json_fails("42", "signature: expected a string or an object");
  json_fails("\"a -> 1b\"",
             "signature \"a -> 1b\": column 6: expected a field name");
}

static void test_default_instructions_are_byte_exact(void)
{
  pc_signature *sig = parse_ok("a, b -> c");
  pc_buf b;

  pc_buf_init(&b, 0);
  if (sig) {
    PC_ASSERT_STR_EQ(sig->instructions,
                     "Given the fields `a`, `b`, produce the fields `c`.");
    CU_ASSERT_EQUAL(pc_buf_puts(&b, ">"), PC_OK);
    CU_ASSERT_EQUAL(pc_signature_default_instructions(sig, &b), PC_OK);
    PC_ASSERT_STR_EQ(b.data,
                     ">Given the fields `a`, `b`, produce the fields `c`.");
  }
  pc_buf_free(&b);
  pc_signature_free(sig);
}

static void test_set_instructions_cleans_and_restores_default(void)
{
  pc_signature *sig = parse_ok("a -> b");

  if (!sig)
    return;
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, "  Be kind."), PC_OK);
  PC_ASSERT_STR_EQ(sig->instructions, "Be kind.");
  CU_ASSERT_EQUAL(sig->default_instructions, 0);
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, ""), PC_OK);
  PC_ASSERT_STR_EQ(sig->instructions,
                   "Given the fields `a`, produce the fields `b`.");
  CU_ASSERT_EQUAL(sig->default_instructions, 1);
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, "x"), PC_OK);
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, NULL), PC_OK);
  CU_ASSERT_EQUAL(sig->default_instructions, 1);
  PC_ASSERT_STR_EQ(sig->instructions,
                   "Given the fields `a`, produce the fields `b`.");
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, "x"), PC_OK);
  CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, "\n\n"), PC_OK);
  CU_ASSERT_EQUAL(sig->default_instructions, 1);  /* cleans to "" */
  pc_signature_free(sig);
}

static void test_instructions_are_cleaned_like_cleandoc(void)
{
  /* Expected values are what Python 3.11's inspect.cleandoc returns. */
  static const struct { const char *in, *want; } cases[] = {
    {"Hello\n   ", "Hello\n   "},
    {"  a\n    b\n   c\n\n", "a\n b\nc"},
    {"\n\n  x\n\ty\n  ", "x\n      y"},
    {"a\tb\n\t c", "a       b\nc"},
    {"First.\n    Second.\n\n      Indented.\n    Last.",
     "First.\nSecond.\n\n  Indented.\nLast."},
    {"\xc3\xa9\tx", "\xc3\xa9       x"},
    {"\n \n\t\n", " \n        "},  /* blank, but not empty */
  };
  pc_signature *sig = parse_ok("a -> b");

  if (!sig)
    return;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    CU_ASSERT_EQUAL(pc_signature_set_instructions(sig, cases[i].in), PC_OK);
    PC_ASSERT_STR_EQ(sig->instructions, cases[i].want);
  }
  pc_signature_free(sig);
}

static void test_plugin_json_carries_types_names_and_schemas(void)
{
  pc_signature *sig = json_ok(
    "{\"instructions\": \"Classify the text.\","
    " \"inputs\": [{\"name\": \"text\", \"desc\": \"the text\"},"
    "  {\"name\": \"hints\", \"type\": \"list[str]\"}],"
    " \"outputs\": [{\"name\": \"label\","
    "  \"type\": \"Literal['pos', 'neg']\"},"
    "  {\"name\": \"tags\", \"type\": \"Optional[list[str]]\"},"
    "  {\"name\": \"score\", \"type\": \"float\"}]}");
  pc_buf b;

  if (!sig)
    return;
  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_signature_to_plugin_json(sig, &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data,
    "{\"instructions\":\"Classify the text.\",\"inputs\":["
    "{\"name\":\"text\",\"type\":\"str\",\"type_name\":\"str\","
    "\"kind\":\"str\",\"desc\":\"the text\"},"
    "{\"name\":\"hints\",\"type\":\"list[str]\",\"type_name\":\"list[str]\","
    "\"kind\":\"list\",\"desc\":\"\"}],\"outputs\":["
    "{\"name\":\"label\",\"type\":\"Literal['pos', 'neg']\","
    "\"type_name\":\"Literal['pos', 'neg']\",\"kind\":\"literal\","
    "\"desc\":\"\",\"values\":[\"pos\",\"neg\"]},"
    "{\"name\":\"tags\",\"type\":\"Optional[list[str]]\","
    "\"type_name\":\"Union[list[str], NoneType]\",\"kind\":\"optional\","
    "\"desc\":\"\",\"schema\":"
    "\"{\\\"anyOf\\\": [{\\\"type\\\": \\\"array\\\", "
    "\\\"items\\\": {\\\"type\\\": \\\"string\\\"}}, "
    "{\\\"type\\\": \\\"null\\\"}]}\"},"
    "{\"name\":\"score\",\"type\":\"float\",\"type_name\":\"float\","
    "\"kind\":\"float\",\"desc\":\"\"}]}");
  pc_buf_free(&b);
  pc_signature_free(sig);
}

static void test_user_json_round_trips(void)
{
  pc_signature *a = parse_ok("q, ctx: list[str] -> a: int | None, "
                             "l: Literal['x', 1]");
  pc_signature *b = NULL;
  struct json_object *j;
  pc_error err = PC_ERROR_INIT;

  if (!a)
    return;
  pc_free(a->inputs[0].desc);
  a->inputs[0].desc = pc_strdup("the query");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a->inputs[0].desc);
  j = pc_signature_to_json(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  PC_ASSERT_STR_EQ(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
    "{\"instructions\":\"Given the fields `q`, `ctx`, produce the fields "
    "`a`, `l`.\",\"inputs\":[{\"name\":\"q\",\"type\":\"str\","
    "\"desc\":\"the query\"},{\"name\":\"ctx\",\"type\":\"list[str]\"}],"
    "\"outputs\":[{\"name\":\"a\",\"type\":\"int | None\"},"
    "{\"name\":\"l\",\"type\":\"Literal['x', 1]\"}]}");
  CU_ASSERT_EQUAL(pc_signature_from_json(j, &b, &err), PC_OK);
  if (b) {
    CU_ASSERT_EQUAL(b->n_inputs, 2);
    CU_ASSERT_EQUAL(b->n_outputs, 2);
    PC_ASSERT_STR_EQ(b->inputs[0].desc, "the query");
    CU_ASSERT_TRUE(pc_type_equal(a->outputs[0].type, b->outputs[0].type));
    CU_ASSERT_TRUE(pc_type_equal(a->outputs[1].type, b->outputs[1].type));
    PC_ASSERT_STR_EQ(b->instructions, a->instructions);
    CU_ASSERT_EQUAL(b->default_instructions, 1);
  }
  json_object_put(j);
  pc_signature_free(a);
  pc_signature_free(b);
}

static void test_to_string_parses_back(void)
{
  pc_signature *a = parse_ok("a,b : Dict[str,int] ->c:Literal[ \"x\" ]");
  pc_signature *b = NULL;
  pc_buf s;

  if (!a)
    return;
  pc_buf_init(&s, 0);
  CU_ASSERT_EQUAL(pc_signature_to_string(a, &s), PC_OK);
  PC_ASSERT_STR_EQ(s.data, "a, b: dict[str, int] -> c: Literal['x']");
  b = parse_ok(s.data);
  if (b) {
    CU_ASSERT_TRUE(pc_type_equal(a->inputs[1].type, b->inputs[1].type));
    CU_ASSERT_TRUE(pc_type_equal(a->outputs[0].type, b->outputs[0].type));
  }
  pc_buf_free(&s);
  pc_signature_free(a);
  pc_signature_free(b);
}

static void test_prepend_output_adds_reasoning_first(void)
{
  pc_signature *sig = parse_ok("question -> answer: int");
  pc_type *str = pc_type_new_simple(PC_TYPE_STR);

  if (!sig || !str)
    goto out;
  CU_ASSERT_EQUAL(pc_signature_prepend_output(sig, "reasoning", str,
                                              "${reasoning}"), PC_OK);
  CU_ASSERT_EQUAL(sig->n_outputs, 2);
  PC_ASSERT_STR_EQ(sig->outputs[0].name, "reasoning");
  PC_ASSERT_STR_EQ(sig->outputs[0].desc, "");
  CU_ASSERT_PTR_NOT_EQUAL(sig->outputs[0].type, str);  /* copied */
  PC_ASSERT_STR_EQ(sig->outputs[1].name, "answer");
  /* DSPy keeps the instructions written for the original fields. */
  PC_ASSERT_STR_EQ(sig->instructions,
                   "Given the fields `question`, produce the fields "
                   "`answer`.");
  check_to_string(sig, "question -> reasoning, answer: int");
  CU_ASSERT_EQUAL(pc_signature_prepend_output(sig, "reasoning", str, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_signature_prepend_output(sig, "question", str, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_signature_prepend_output(sig, "import", str, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_signature_prepend_output(sig, "9x", str, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(sig->n_outputs, 2);

out:
  pc_type_free(str);
  pc_signature_free(sig);
}

static void test_find_and_copy(void)
{
  pc_signature *sig = parse_ok("a, b: int -> c: list[str]");
  pc_signature *c = NULL;
  const pc_field *f;

  if (!sig)
    return;
  f = pc_signature_find(sig, "b", 0);
  CU_ASSERT_PTR_NOT_NULL(f);
  if (f)
    CU_ASSERT_EQUAL(f->type->kind, PC_TYPE_INT);
  CU_ASSERT_PTR_NULL(pc_signature_find(sig, "b", 1));
  CU_ASSERT_PTR_NOT_NULL(pc_signature_find(sig, "c", 1));
  CU_ASSERT_PTR_NULL(pc_signature_find(sig, "zz", 0));
  c = pc_signature_copy(sig);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  pc_signature_free(sig);  /* the copy stands alone */
  CU_ASSERT_EQUAL(c->n_inputs, 2);
  PC_ASSERT_STR_EQ(c->outputs[0].name, "c");
  PC_ASSERT_STR_EQ(type_of(&c->outputs[0]), "list[str]");
  PC_ASSERT_STR_EQ(c->instructions,
                   "Given the fields `a`, `b`, produce the fields `c`.");
  CU_ASSERT_EQUAL(c->default_instructions, 1);
  pc_signature_free(c);
  pc_signature_free(NULL);
}

/* Each constructor, with allocation n failing, for n = 1, 2, ... until it
 * succeeds: it must report PC_E_NOMEM (or succeed) and leak nothing. */
static void test_every_allocation_failure_is_reported(void)
{
  const char *text = "ctx: list[str], q -> reasoning, "
                     "a: Optional[Literal['x', 2]], b,";
  const char *json = "{\"instructions\": \"  Do it.\\n    Well.\","
                     " \"inputs\": [{\"name\": \"q\", \"desc\": \"d\"}],"
                     " \"outputs\": [{\"name\": \"a\", \"type\": "
                     "\"dict[str, int]\"}]}";
  struct json_object *jv = json_tokener_parse(json);
  int done_parse = 0, done_json = 0, done_ops = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(jv);
  for (unsigned long n = 1; n < 5000 && !(done_parse && done_json &&
                                          done_ops); n++) {
    pc_signature *s = NULL, *j = NULL, *c;
    pc_error e1 = PC_ERROR_INIT, e2 = PC_ERROR_INIT;
    pc_type *t = pc_type_new_simple(PC_TYPE_STR);
    pc_buf b;
    int rc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    pc_buf_init(&b, 0);
    pc__alloc_fail_at(n);
    rc = pc_signature_parse(text, &s, &e1);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || (rc == PC_E_NOMEM && !s));
    done_parse |= rc == PC_OK;
    pc__alloc_fail_at(n);
    rc = pc_signature_from_json(jv, &j, &e2);
    pc__alloc_fail_at(0);
    CU_ASSERT(rc == PC_OK || (rc == PC_E_NOMEM && !j));
    done_json |= rc == PC_OK;
    if (s) {
      int r1, r2, r3;

      pc__alloc_fail_at(n);
      c = pc_signature_copy(s);
      r1 = pc_signature_prepend_output(s, "why", t, NULL);
      r2 = pc_signature_set_instructions(s, "  New\n   text.");
      r3 = pc_signature_to_plugin_json(s, &b);
      pc__alloc_fail_at(0);
      CU_ASSERT(r1 == PC_OK || r1 == PC_E_NOMEM);
      CU_ASSERT(r2 == PC_OK || r2 == PC_E_NOMEM);
      CU_ASSERT(r3 == PC_OK || r3 == PC_E_NOMEM);
      CU_ASSERT_PTR_NOT_NULL(s->instructions);
      done_ops = c && !r1 && !r2 && !r3;
      if (done_ops) {
        CU_ASSERT_EQUAL(s->n_outputs, 4);
        PC_ASSERT_STR_EQ(s->instructions, "New\ntext.");
      }
      pc_signature_free(c);
    }
    pc_buf_free(&b);
    pc_type_free(t);
    pc_signature_free(s);
    pc_signature_free(j);
  }
  CU_ASSERT_TRUE(done_parse);
  CU_ASSERT_TRUE(done_json);
  CU_ASSERT_TRUE(done_ops);
  json_object_put(jv);
}

static CU_TestInfo signature_tests[] = {
  {"parses the DSPy examples", test_parses_the_dspy_examples},
  {"either side may be empty", test_either_side_may_be_empty},
  {"trailing commas are allowed", test_trailing_commas_are_allowed},
  {"commas inside types belong to the type",
   test_commas_inside_types_belong_to_the_type},
  {"Literal values may hold commas, arrows and quotes",
   test_literal_values_may_hold_commas_arrows_and_quotes},
  {"errors name the column", test_errors_name_the_column},
  {"duplicate names are listed", test_duplicate_names_are_listed},
  {"columns count characters, not bytes",
   test_columns_count_characters_not_bytes},
  {"long signatures are cut but keep the column",
   test_long_signatures_are_cut_but_keep_the_column},
  {"JSON object form", test_json_object_form},
  {"JSON string form and missing instructions",
   test_json_string_form_and_missing_instructions},
  {"JSON errors name the member", test_json_errors_name_the_member},
  {"default instructions are byte-exact",
   test_default_instructions_are_byte_exact},
  {"set_instructions cleans and restores the default",
   test_set_instructions_cleans_and_restores_default},
  {"instructions are cleaned like cleandoc",
   test_instructions_are_cleaned_like_cleandoc},
  {"plugin JSON carries types, names and schemas",
   test_plugin_json_carries_types_names_and_schemas},
  {"user JSON round-trips", test_user_json_round_trips},
  {"to_string parses back", test_to_string_parses_back},
  {"prepend_output adds reasoning first",
   test_prepend_output_adds_reasoning_first},
  {"find and copy", test_find_and_copy},
  {"every allocation failure is reported",
   test_every_allocation_failure_is_reported},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"signature", NULL, NULL, NULL, NULL, signature_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
