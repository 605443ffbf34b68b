/* tests/unit/test_dataset.c: core/dataset.c; suite "dataset". */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "dataset.h"
#include "harness.h"
#include "json_text.h"

/* Load tests/data/datasets/NAME; the path used is left in `path`. */
static int load_fixture(const char *name, const pc_dataset_opts *opts,
                        char *path, size_t pathsz, pc_dataset **ds,
                        pc_error *err)
{
  char rel[256];

  snprintf(rel, sizeof(rel), "data/datasets/%s", name);
  snprintf(path, pathsz, "%s", pc_test_path(rel));
  return pc_dataset_load(path, opts, ds, err);
}

/* Assert that `message` is exactly PATH followed by `rest`. */
static void assert_message(const char *message, const char *path,
                           const char *rest)
{
  pc_buf want;

  pc_buf_init(&want, 0);
  CU_ASSERT_EQUAL(pc_buf_printf(&want, "%s%s", path, rest), PC_OK);
  PC_ASSERT_STR_EQ(message, want.data);
  pc_buf_free(&want);
}

/* Assert that `message` starts with PATH followed by `rest`. */
static void assert_message_prefix(const char *message, const char *path,
                                  const char *rest)
{
  pc_buf want;

  pc_buf_init(&want, 0);
  CU_ASSERT_EQUAL(pc_buf_printf(&want, "%s%s", path, rest), PC_OK);
  CU_ASSERT_EQUAL(strncmp(message, want.data, want.len), 0);
  if (strncmp(message, want.data, want.len) != 0)
    fprintf(stderr, "\n  want prefix: %s\n  message:     %s\n", want.data,
            message);
  pc_buf_free(&want);
}

static const char *field(const pc_example *ex, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex(ex->fields, key, &v))
    return NULL;
  return json_object_get_string(v);
}

/* Hash of a fixture file loaded with default options. */
static void fixture_hash(const char *name, char hex[65])
{
  char path[4096];
  pc_dataset *ds = NULL;
  pc_error err = PC_ERROR_INIT;

  hex[0] = '\0';
  CU_ASSERT_EQUAL_FATAL(load_fixture(name, NULL, path, sizeof(path), &ds,
                                     &err), PC_OK);
  CU_ASSERT_EQUAL(pc_dataset_hash(ds, hex), PC_OK);
  pc_dataset_free(ds);
}

/* Hash of in-memory text parsed as `origin`. */
static void text_hash(const char *origin, const char *text, char hex[65])
{
  pc_dataset *ds = NULL;
  pc_error err = PC_ERROR_INIT;

  hex[0] = '\0';
  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse(origin, text, strlen(text), NULL,
                                         &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_dataset_hash(ds, hex), PC_OK);
  pc_dataset_free(ds);
}

static void test_jsonl_ids_come_from_field_or_line_number(void)
{
  static const char *const keys[] = {"question"};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char path[4096];

  CU_ASSERT_EQUAL_FATAL(load_fixture("good.jsonl", &opts, path, sizeof(path),
                                     &ds, &err), PC_OK);
  PC_ASSERT_STR_EQ(ds->path, path);
  CU_ASSERT_EQUAL(ds->n_input_keys, 1);
  PC_ASSERT_STR_EQ(ds->input_keys[0], "question");
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 4);
  CU_ASSERT_EQUAL(ds->n_skipped, 0);
  /* String id, line-number id, integer id, line-number id. */
  PC_ASSERT_STR_EQ(ds->rows[0].id, "q1");
  PC_ASSERT_STR_EQ(ds->rows[1].id, "3");
  PC_ASSERT_STR_EQ(ds->rows[2].id, "7");
  PC_ASSERT_STR_EQ(ds->rows[3].id, "6");
  CU_ASSERT_EQUAL(ds->rows[0].line, 1);
  CU_ASSERT_EQUAL(ds->rows[1].line, 3);
  CU_ASSERT_EQUAL(ds->rows[2].line, 5);
  CU_ASSERT_EQUAL(ds->rows[3].line, 6);
  PC_ASSERT_STR_EQ(ds->rows[0].slice, "arith");
  CU_ASSERT_PTR_NULL(ds->rows[1].slice);
  PC_ASSERT_STR_EQ(ds->rows[2].slice, "unicode");
  CU_ASSERT_PTR_NULL(ds->rows[3].slice);
  /* The whole object is kept, non-ASCII text as UTF-8. */
  PC_ASSERT_STR_EQ(field(&ds->rows[1], "answer"), "Paris");
  PC_ASSERT_STR_EQ(field(&ds->rows[2], "question"),
                   "H\xc3\xa9llo \xe2\x80\x94 na\xc3\xafve?");
  PC_ASSERT_STR_EQ(field(&ds->rows[3], "question"), "No newline at the end");
  pc_dataset_free(ds);
}

static void test_jsonl_blank_lines_are_ignored_but_counted(void)
{
  const char *text = "\n   \r\n\t\n{\"q\":\"a\"}\r\n\n{\"q\":\"b\"}\n\n";
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("mem.jsonl", text, strlen(text),
                                         NULL, &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 2);
  CU_ASSERT_EQUAL(ds->n_skipped, 0);
  CU_ASSERT_EQUAL(ds->rows[0].line, 4);
  CU_ASSERT_EQUAL(ds->rows[1].line, 6);
  PC_ASSERT_STR_EQ(ds->rows[0].id, "4");
  PC_ASSERT_STR_EQ(field(&ds->rows[1], "q"), "b");
  pc_dataset_free(ds);
}

/* A subset holds copies of the picked rows in the order given (repeats
 * allowed) and refuses an index past the end. */
static void test_subset_picks_rows_in_order(void)
{
  const char *text = "{\"id\":\"a\",\"q\":\"1\",\"slice\":\"s\"}\n"
                     "{\"id\":\"b\",\"q\":\"2\"}\n{\"id\":\"c\",\"q\":\"3\"}\n";
  const size_t pick[] = {2, 0, 2}, bad[] = {1, 3};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL, *sub = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("mem.jsonl", text, strlen(text),
                                         NULL, &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_dataset_subset(ds, pick, 3, &sub, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(sub->n_rows, 3);
  PC_ASSERT_STR_EQ(sub->rows[0].id, "c");
  PC_ASSERT_STR_EQ(sub->rows[1].id, "a");
  PC_ASSERT_STR_EQ(sub->rows[1].slice, "s");
  PC_ASSERT_STR_EQ(field(&sub->rows[2], "q"), "3");
  CU_ASSERT_EQUAL(sub->rows[1].line, 1);
  PC_ASSERT_STR_EQ(sub->path, "mem.jsonl");
  pc_dataset_free(sub);
  sub = NULL;
  CU_ASSERT_EQUAL(pc_dataset_subset(ds, bad, 2, &sub, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(sub);
  PC_ASSERT_STR_EQ(err.message, "mem.jsonl: index 3 out of range (3 "
                   "examples)");
  pc_dataset_free(ds);
}

/* Each kind of malformed JSONL line, always on line 3 of the text. */
static const struct {
  const char *line;
  const char *reason;  /* exact text after "mem.jsonl:3: " */
  int prefix_only;     /* the JSON parser's own words follow */
} bad_lines[] = {
  {"[1,2]", "expected a JSON object, got an array", 0},
  {"\"text\"", "expected a JSON object, got a string", 0},
  {"null", "expected a JSON object, got null", 0},
  {"42", "expected a JSON object, got an integer", 0},
  {"{\"question\": }", "invalid JSON: ", 1},
  {"{\"question\": \"a\"} {}", "invalid JSON: ", 1},
  {"{\"question\": \"a\"", "invalid JSON: ", 1},
  {"{\"answer\": \"a\"}", "missing input key \"question\"", 0},
  {"{\"question\": \"a\", \"id\": 1.5}",
   "\"id\" must be a string or an integer, got a float", 0},
  {"{\"question\": \"a\", \"id\": [1]}",
   "\"id\" must be a string or an integer, got an array", 0},
  {"{\"question\": \"a\", \"id\": null}",
   "\"id\" must be a string or an integer, got null", 0},
  {"{\"question\": \"a\", \"id\": \"\"}",
   "\"id\" is empty or holds a NUL character", 0},
  {"{\"question\": \"a\", \"slice\": 2}",
   "\"slice\" must be a string, got an integer", 0},
  {"{\"question\": \"a\", \"slice\": null}",
   "\"slice\" must be a string, got null", 0},
  {"{\"question\": \"\xff\"}", "invalid UTF-8 at byte 14", 0},
  {"{\"question\": \"\xc0\xaf\"}", "invalid UTF-8 at byte 14", 0},
  {"{\"question\": \"\xed\xa0\x80\"}", "invalid UTF-8 at byte 14", 0},
  {"{\"question\": \"\xe2\x82\"}", "invalid UTF-8 at byte 14", 0},
};

static void test_jsonl_malformed_line_names_file_and_line(void)
{
  static const char *const keys[] = {"question"};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_JSONL, 0};

  for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    pc_dataset *ds = (pc_dataset *)&ds;  /* must be reset to NULL */
    pc_buf text;

    pc_buf_init(&text, 0);
    CU_ASSERT_EQUAL(pc_buf_printf(&text, "{\"question\":\"ok\"}\n\n%s\n"
                                  "{\"question\":\"after\"}\n",
                                  bad_lines[i].line), PC_OK);
    CU_ASSERT_EQUAL(pc_dataset_parse("mem.jsonl", text.data, text.len, &opts,
                                     &ds, &err), PC_E_PARSE);
    CU_ASSERT_PTR_NULL(ds);
    CU_ASSERT_EQUAL(err.code, PC_E_PARSE);
    if (bad_lines[i].prefix_only) {
      assert_message_prefix(err.message, "mem.jsonl:3: ",
                            bad_lines[i].reason);
    } else {
      assert_message(err.message, "mem.jsonl:3: ", bad_lines[i].reason);
    }
    pc_buf_free(&text);
  }
}

static void test_jsonl_load_reports_first_bad_line_of_file(void)
{
  static const char *const keys[] = {"question"};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = (pc_dataset *)&ds;
  char path[4096];

  CU_ASSERT_EQUAL(load_fixture("mixed_bad.jsonl", &opts, path, sizeof(path),
                               &ds, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(ds);
  assert_message(err.message, path,
                 ":2: expected a JSON object, got an array");
}

static void test_skip_mode_lists_every_malformed_line(void)
{
  static const char *const keys[] = {"question"};
  static const struct {
    size_t line;
    const char *reason;
  } want[] = {
    {2, "expected a JSON object, got an array"},
    {3, "invalid JSON: "},
    {4, "missing input key \"question\""},
    {5, "\"id\" must be a string or an integer, got a float"},
    {6, "\"slice\" must be a string, got an integer"},
    {7, "invalid UTF-8 at byte 31"},
    {8, "expected a JSON object, got a string"},
  };
  pc_dataset_opts opts = {keys, 1, 1, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char path[4096];

  CU_ASSERT_EQUAL_FATAL(load_fixture("mixed_bad.jsonl", &opts, path,
                                     sizeof(path), &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(err.code, PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 2);
  PC_ASSERT_STR_EQ(ds->rows[0].id, "ok1");
  PC_ASSERT_STR_EQ(ds->rows[1].id, "ok2");
  CU_ASSERT_EQUAL(ds->rows[1].line, 10);
  /* Nothing lost: 9 non-blank lines = 2 rows + 7 skipped. */
  CU_ASSERT_EQUAL_FATAL(ds->n_skipped, 7);
  for (size_t i = 0; i < 7; i++) {
    CU_ASSERT_EQUAL(ds->skipped[i].line, want[i].line);
    if (want[i].line == 3) {
      CU_ASSERT_EQUAL(strncmp(ds->skipped[i].reason, want[i].reason,
                              strlen(want[i].reason)), 0);
    } else {
      PC_ASSERT_STR_EQ(ds->skipped[i].reason, want[i].reason);
    }
    CU_ASSERT_PTR_NULL(strchr(ds->skipped[i].reason, '\n'));
  }
  pc_dataset_free(ds);
}

static void test_line_longer_than_max_is_malformed(void)
{
  /* 13 bytes, then a CRLF that does not count. */
  const char *text = "{\"q\":\"short\"}\r\n{\"q\":\"much too long\"}\n";
  pc_dataset_opts opts = {NULL, 0, 0, PC_DATASET_JSONL, 13};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;

  CU_ASSERT_EQUAL(pc_dataset_parse("mem", text, strlen(text), &opts, &ds,
                                   &err), PC_E_PARSE);
  PC_ASSERT_STR_EQ(err.message, "mem:2: line is longer than 13 bytes");
  pc_error_clear(&err);
  opts.skip_malformed = 1;
  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("mem", text, strlen(text), &opts,
                                         &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(ds->n_rows, 1);
  CU_ASSERT_EQUAL_FATAL(ds->n_skipped, 1);
  CU_ASSERT_EQUAL(ds->skipped[0].line, 2);
  PC_ASSERT_STR_EQ(ds->skipped[0].reason, "line is longer than 13 bytes");
  pc_dataset_free(ds);
}

static void test_duplicate_ids_name_both_lines_even_in_skip_mode(void)
{
  const char *clash = "{\"q\":\"x\"}\n{\"q\":\"y\"}\n{\"q\":\"z\",\"id\":2}\n";
  pc_dataset_opts opts = {NULL, 0, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = (pc_dataset *)&ds;
  char path[4096];

  CU_ASSERT_EQUAL(load_fixture("dup_ids.jsonl", &opts, path, sizeof(path),
                               &ds, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(ds);
  assert_message(err.message, path,
                 ":3: duplicate id \"a\" (first on line 1)");
  pc_error_clear(&err);
  opts.skip_malformed = 1;
  CU_ASSERT_EQUAL(load_fixture("dup_ids.jsonl", &opts, path, sizeof(path),
                               &ds, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(ds);
  assert_message(err.message, path,
                 ":3: duplicate id \"a\" (first on line 1)");
  /* An integer id can clash with another row's line number. */
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_dataset_parse("m.jsonl", clash, strlen(clash), NULL,
                                   &ds, &err), PC_E_PARSE);
  PC_ASSERT_STR_EQ(err.message,
                   "m.jsonl:3: duplicate id \"2\" (first on line 2)");
}

static void test_csv_quotes_commas_newlines_and_crlf(void)
{
  static const char *const keys[] = {"question", "answer"};
  pc_dataset_opts opts = {keys, 2, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char path[4096];

  CU_ASSERT_EQUAL_FATAL(load_fixture("quoted.csv", &opts, path, sizeof(path),
                                     &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 3);
  CU_ASSERT_EQUAL(ds->n_skipped, 0);
  PC_ASSERT_STR_EQ(ds->rows[0].id, "a1");
  PC_ASSERT_STR_EQ(field(&ds->rows[0], "question"), "Hello, world");
  PC_ASSERT_STR_EQ(field(&ds->rows[0], "answer"), "He said \"hi\"");
  CU_ASSERT_EQUAL(ds->rows[0].line, 2);
  PC_ASSERT_STR_EQ(field(&ds->rows[1], "question"), "line one\nline two");
  PC_ASSERT_STR_EQ(field(&ds->rows[1], "answer"), "plain");
  CU_ASSERT_EQUAL(ds->rows[1].line, 3);  /* first line of the record */
  PC_ASSERT_STR_EQ(ds->rows[2].id, "a3");
  CU_ASSERT_EQUAL(ds->rows[2].line, 6);  /* after the newline in quotes */
  PC_ASSERT_STR_EQ(field(&ds->rows[2], "question"), "");
  PC_ASSERT_STR_EQ(field(&ds->rows[2], "answer"), "");
  /* Every value is a JSON string; the header order is kept. */
  CU_ASSERT_TRUE(json_object_is_type(
    json_object_object_get(ds->rows[2].fields, "id"), json_type_string));
  CU_ASSERT_EQUAL(json_object_object_length(ds->rows[0].fields), 3);
  pc_dataset_free(ds);
}

static void test_csv_without_id_column_uses_line_numbers(void)
{
  const char *text = "q,a\nx,1\n\"two\nlines\",2\nlast,3";
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("m.csv", text, strlen(text), NULL,
                                         &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 3);
  PC_ASSERT_STR_EQ(ds->rows[0].id, "2");
  PC_ASSERT_STR_EQ(ds->rows[1].id, "3");
  PC_ASSERT_STR_EQ(ds->rows[2].id, "5");
  PC_ASSERT_STR_EQ(field(&ds->rows[2], "a"), "3");
  pc_dataset_free(ds);
}

static void test_csv_malformed_rows_name_their_line(void)
{
  static const struct {
    size_t line;
    const char *reason;
  } want[] = {
    {3, "expected 2 fields, got 1"},
    {4, "unexpected character after a closing quote"},
    {5, "quote inside an unquoted field"},
    {6, "expected 2 fields, got 3"},
    {7, "unterminated quoted field"},
  };
  pc_dataset_opts opts = {NULL, 0, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = (pc_dataset *)&ds;
  char path[4096];

  CU_ASSERT_EQUAL(load_fixture("bad_rows.csv", &opts, path, sizeof(path),
                               &ds, &err), PC_E_PARSE);
  CU_ASSERT_PTR_NULL(ds);
  assert_message(err.message, path, ":3: expected 2 fields, got 1");
  pc_error_clear(&err);
  opts.skip_malformed = 1;
  CU_ASSERT_EQUAL_FATAL(load_fixture("bad_rows.csv", &opts, path,
                                     sizeof(path), &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 1);
  PC_ASSERT_STR_EQ(field(&ds->rows[0], "question"), "q1");
  CU_ASSERT_EQUAL_FATAL(ds->n_skipped, 5);
  for (size_t i = 0; i < 5; i++) {
    CU_ASSERT_EQUAL(ds->skipped[i].line, want[i].line);
    PC_ASSERT_STR_EQ(ds->skipped[i].reason, want[i].reason);
  }
  pc_dataset_free(ds);
}

static void test_csv_header_errors_are_not_skippable(void)
{
  static const char *const keys[] = {"question"};
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    {"a,,b\n1,2,3\n", "h.csv:1: header: column 2 has no name"},
    {"\n\na,b,a\n1,2,3\n", "h.csv:3: header: column \"a\" appears twice"},
    {"a,b\n1,2\n", "h.csv:1: header: no column for input key \"question\""},
    {"\"question,b\n", "h.csv:1: header: unterminated quoted field"},
    {"question,\xff\n", "h.csv:1: header: invalid UTF-8 at byte 9"},
  };
  pc_dataset_opts opts = {keys, 1, 1, PC_DATASET_CSV, 0};

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;
    pc_dataset *ds = (pc_dataset *)&ds;

    CU_ASSERT_EQUAL(pc_dataset_parse("h.csv", cases[i].text,
                                     strlen(cases[i].text), &opts, &ds,
                                     &err), PC_E_PARSE);
    CU_ASSERT_PTR_NULL(ds);
    PC_ASSERT_STR_EQ(err.message, cases[i].message);
  }
}

static void test_missing_input_key_is_malformed(void)
{
  static const char *const keys[] = {"question", "context"};
  const char *text = "{\"question\":\"a\",\"context\":\"c\"}\n"
                     "{\"question\":\"b\"}\n";
  pc_dataset_opts opts = {keys, 2, 0, PC_DATASET_JSONL, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;

  CU_ASSERT_EQUAL(pc_dataset_parse("k", text, strlen(text), &opts, &ds,
                                   &err), PC_E_PARSE);
  PC_ASSERT_STR_EQ(err.message, "k:2: missing input key \"context\"");
  pc_error_clear(&err);
  opts.skip_malformed = 1;
  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("k", text, strlen(text), &opts,
                                         &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(ds->n_rows, 1);
  CU_ASSERT_EQUAL_FATAL(ds->n_skipped, 1);
  PC_ASSERT_STR_EQ(ds->skipped[0].reason, "missing input key \"context\"");
  pc_dataset_free(ds);
}

static void test_bom_at_start_is_skipped(void)
{
  static const char *const keys[] = {"question"};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char path[4096];

  CU_ASSERT_EQUAL_FATAL(load_fixture("bom.jsonl", &opts, path, sizeof(path),
                                     &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 1);
  CU_ASSERT_EQUAL(ds->rows[0].line, 1);
  PC_ASSERT_STR_EQ(field(&ds->rows[0], "question"), "after a BOM");
  pc_dataset_free(ds);
  CU_ASSERT_EQUAL_FATAL(load_fixture("bom.csv", &opts, path, sizeof(path),
                                     &ds, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(ds->n_rows, 1);
  PC_ASSERT_STR_EQ(field(&ds->rows[0], "question"), "after a BOM");
  PC_ASSERT_STR_EQ(ds->rows[0].id, "2");
  pc_dataset_free(ds);
}

static void test_empty_file_is_a_dataset_with_no_rows(void)
{
  static const char *const keys[] = {"question"};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char path[4096], hex[65], empty[65];
  const char *tmp;

  pc_sha256_hex("", 0, empty);
  CU_ASSERT_EQUAL_FATAL(load_fixture("empty.jsonl", &opts, path, sizeof(path),
                                     &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(ds->n_rows, 0);
  CU_ASSERT_EQUAL(ds->n_skipped, 0);
  CU_ASSERT_EQUAL(pc_dataset_hash(ds, hex), PC_OK);
  PC_ASSERT_STR_EQ(hex, empty);
  pc_dataset_free(ds);
  tmp = pc_test_tmpfile("", 0, ".csv");
  CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
  CU_ASSERT_EQUAL_FATAL(pc_dataset_load(tmp, &opts, &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(ds->n_rows, 0);
  pc_dataset_free(ds);
}

static void test_hash_ignores_key_order_and_whitespace(void)
{
  char a[65], b[65];

  fixture_hash("good.jsonl", a);
  fixture_hash("good_shuffled.jsonl", b);
  CU_ASSERT_EQUAL(strlen(a), 64);
  PC_ASSERT_STR_EQ(a, b);
}

static void test_hash_changes_with_a_value_or_the_order(void)
{
  char base[65], changed[65], swapped[65], again[65];

  text_hash("m.jsonl", "{\"q\":\"a\",\"n\":1}\n{\"q\":\"b\",\"n\":2}\n", base);
  text_hash("m.jsonl", "{\"n\":1, \"q\":\"a\"}\n\n{\"q\":\"b\",\"n\":2}",
            again);
  text_hash("m.jsonl", "{\"q\":\"a\",\"n\":1}\n{\"q\":\"b\",\"n\":3}\n",
            changed);
  text_hash("m.jsonl", "{\"q\":\"b\",\"n\":2}\n{\"q\":\"a\",\"n\":1}\n",
            swapped);
  PC_ASSERT_STR_EQ(base, again);
  CU_ASSERT_STRING_NOT_EQUAL(base, changed);
  CU_ASSERT_STRING_NOT_EQUAL(base, swapped);
}

static void test_csv_and_equivalent_jsonl_hash_the_same(void)
{
  char csv[65], jsonl[65];

  fixture_hash("quoted.csv", csv);
  fixture_hash("quoted.jsonl", jsonl);
  CU_ASSERT_EQUAL(strlen(csv), 64);
  PC_ASSERT_STR_EQ(csv, jsonl);
}

static void test_hash_is_sha256_of_canonical_lines(void)
{
  const char *text =
    "{ \"q\" : \"caf\\u00e9\", \"id\": \"x\", \"a\": [1, true] }\n"
    "{\"b\":\"tab\\there\",\"a\":null}\n";
  /* Keys sorted, compact separators, raw UTF-8, one "\n" after each. */
  const char *canonical =
    "{\"a\":[1,true],\"id\":\"x\",\"q\":\"caf\xc3\xa9\"}\n"
    "{\"a\":null,\"b\":\"tab\\there\"}\n";
  char got[65], want[65];

  text_hash("m.jsonl", text, got);
  pc_sha256_hex(canonical, strlen(canonical), want);
  PC_ASSERT_STR_EQ(got, want);
}

static void test_content_hash_ignores_id_and_slice(void)
{
  const char *text =
    "{\"id\":\"a\",\"slice\":\"s1\",\"q\":\"same\",\"n\":1}\n"
    "{\"n\":1,\"q\":\"same\"}\n"
    "{\"id\":\"c\",\"q\":\"same\",\"n\":2}\n";
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL;
  char h0[65], h1[65], h2[65], want[65];
  const char *canonical = "{\"n\":1,\"q\":\"same\"}";

  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse("m.jsonl", text, strlen(text), NULL,
                                         &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_example_content_hash(&ds->rows[0], h0), PC_OK);
  CU_ASSERT_EQUAL(pc_example_content_hash(&ds->rows[1], h1), PC_OK);
  CU_ASSERT_EQUAL(pc_example_content_hash(&ds->rows[2], h2), PC_OK);
  PC_ASSERT_STR_EQ(h0, h1);
  CU_ASSERT_STRING_NOT_EQUAL(h0, h2);
  pc_sha256_hex(canonical, strlen(canonical), want);
  PC_ASSERT_STR_EQ(h0, want);
  /* The fields themselves are untouched. */
  CU_ASSERT_EQUAL(json_object_object_length(ds->rows[0].fields), 4);
  pc_dataset_free(ds);
}

static void test_parse_keys_splits_trims_and_refuses_bad_lists(void)
{
  static const struct {
    const char *list;
    const char *message;
  } bad[] = {
    {"", "input keys: the list is empty"},
    {"  ", "input keys: the list is empty"},
    {"a,,b", "input keys \"a,,b\": name 2 is empty"},
    {"a,", "input keys \"a,\": name 2 is empty"},
    {"a, b ,a", "input keys \"a, b ,a\": \"a\" is given twice"},
  };
  pc_error err = PC_ERROR_INIT;
  char **keys = NULL;
  size_t n = 0;

  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse_keys("question, context", &keys, &n,
                                              &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  PC_ASSERT_STR_EQ(keys[0], "question");
  PC_ASSERT_STR_EQ(keys[1], "context");
  pc_dataset_keys_free(keys, n);
  CU_ASSERT_EQUAL_FATAL(pc_dataset_parse_keys("one", &keys, &n, &err), PC_OK);
  CU_ASSERT_EQUAL(n, 1);
  pc_dataset_keys_free(keys, n);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_error_clear(&err);
    keys = (char **)&keys;
    n = 9;
    CU_ASSERT_EQUAL(pc_dataset_parse_keys(bad[i].list, &keys, &n, &err),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(keys);
    CU_ASSERT_EQUAL(n, 0);
    PC_ASSERT_STR_EQ(err.message, bad[i].message);
  }
}

static void test_load_refuses_missing_file_and_unknown_format(void)
{
  static const char *const dup[] = {"q", "q"};
  const char *text = "{\"q\":\"a\"}\n";
  pc_dataset_opts opts = {NULL, 0, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = (pc_dataset *)&ds;
  const char *tmp;

  CU_ASSERT_EQUAL(pc_dataset_load("no/such/file.jsonl", NULL, &ds, &err),
                  PC_E_IO);
  CU_ASSERT_PTR_NULL(ds);
  PC_ASSERT_STR_EQ(err.message,
                   "no/such/file.jsonl: No such file or directory");
  pc_error_clear(&err);
  tmp = pc_test_tmpfile(text, strlen(text), ".txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
  CU_ASSERT_EQUAL(pc_dataset_load(tmp, &opts, &ds, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown dataset format"));
  /* Choosing the format reads the same file. */
  opts.format = PC_DATASET_JSONL;
  CU_ASSERT_EQUAL_FATAL(pc_dataset_load(tmp, &opts, &ds, &err), PC_OK);
  CU_ASSERT_EQUAL(ds->n_rows, 1);
  pc_dataset_free(ds);
  pc_error_clear(&err);
  opts.input_keys = dup;
  opts.n_input_keys = 2;
  CU_ASSERT_EQUAL(pc_dataset_parse("d.jsonl", text, strlen(text), &opts,
                                   &ds, &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "d.jsonl: input key \"q\" is given twice");
}

/* Fail each allocation in turn: every failure is PC_E_NOMEM with nothing
 * to free (valgrind checks the leaks), and a later run succeeds. */
static void check_oom(const char *origin, const char *text, int skip)
{
  static const char *const keys[] = {"q"};
  pc_dataset_opts opts = {keys, 1, skip, PC_DATASET_AUTO, 0};
  unsigned long i;

  for (i = 1; i < 10000; i++) {
    pc_error err = PC_ERROR_INIT;
    pc_dataset *ds = (pc_dataset *)&ds;
    char hex[65];
    int rc;

    pc__alloc_fail_at(i);
    rc = pc_dataset_parse(origin, text, strlen(text), &opts, &ds, &err);
    pc__alloc_fail_at(0);
    if (rc == PC_OK) {
      CU_ASSERT_EQUAL(pc_dataset_hash(ds, hex), PC_OK);
      pc_dataset_free(ds);
      break;
    }
    CU_ASSERT_EQUAL(rc, PC_E_NOMEM);
    CU_ASSERT_PTR_NULL(ds);
  }
  CU_ASSERT(i > 3);  /* the loop did hit allocations before succeeding */
  CU_ASSERT(i < 10000);
}

static void test_out_of_memory_is_reported_not_fatal(void)
{
  check_oom("m.jsonl", "{\"q\":\"a\",\"id\":\"x\"}\n[1]\n{\"q\":\"b\"}\n", 1);
  check_oom("m.csv", "id,q\nx,\"a,b\"\ny\nz,c\n", 1);
}

static CU_TestInfo dataset_tests[] = {
  {"jsonl: ids come from the id field or the line number",
   test_jsonl_ids_come_from_field_or_line_number},
  {"jsonl: blank lines are ignored but counted",
   test_jsonl_blank_lines_are_ignored_but_counted},
  {"jsonl: each malformed line names file:line",
   test_jsonl_malformed_line_names_file_and_line},
  {"jsonl: load reports the first bad line of the file",
   test_jsonl_load_reports_first_bad_line_of_file},
  {"skip mode lists every malformed line",
   test_skip_mode_lists_every_malformed_line},
  {"a line longer than max_line is malformed",
   test_line_longer_than_max_is_malformed},
  {"duplicate ids name both lines, even in skip mode",
   test_duplicate_ids_name_both_lines_even_in_skip_mode},
  {"csv: quotes, commas, newlines and CRLF",
   test_csv_quotes_commas_newlines_and_crlf},
  {"csv: without an id column, ids are line numbers",
   test_csv_without_id_column_uses_line_numbers},
  {"csv: malformed rows name their line",
   test_csv_malformed_rows_name_their_line},
  {"csv: header errors are not skippable",
   test_csv_header_errors_are_not_skippable},
  {"a missing input key is malformed", test_missing_input_key_is_malformed},
  {"a BOM at the start is skipped", test_bom_at_start_is_skipped},
  {"an empty file is a dataset with no rows",
   test_empty_file_is_a_dataset_with_no_rows},
  {"hash ignores key order and whitespace",
   test_hash_ignores_key_order_and_whitespace},
  {"hash changes with a value or the order",
   test_hash_changes_with_a_value_or_the_order},
  {"csv and equivalent jsonl hash the same",
   test_csv_and_equivalent_jsonl_hash_the_same},
  {"hash is sha256 of the canonical lines",
   test_hash_is_sha256_of_canonical_lines},
  {"content hash ignores id and slice",
   test_content_hash_ignores_id_and_slice},
  {"subset picks rows in order", test_subset_picks_rows_in_order},
  {"parse_keys splits, trims and refuses bad lists",
   test_parse_keys_splits_trims_and_refuses_bad_lists},
  {"load refuses a missing file and an unknown format",
   test_load_refuses_missing_file_and_unknown_format},
  {"out of memory is reported, not fatal",
   test_out_of_memory_is_reported_not_fatal},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"dataset", NULL, NULL, NULL, NULL, dataset_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
