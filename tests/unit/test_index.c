/* tests/unit/test_index.c: core/index.c, core/tool_search.c and the
 * retrieve module's load; suite "index". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "index.h"
#include "module.h"
#include "program.h"
#include "tool.h"

static const char corpus_text[] =
  "{\"id\": \"a1\", \"title\": \"Velora Dynamics\", \"text\": \"Velora "
  "Dynamics was founded by Mira Castell in 1998.\"}\n"
  "\n"
  "{\"id\": 2, \"title\": \"Mira Castell\", \"text\": \"Mira Castell was "
  "born in Tarsova, a port town in Quenland.\"}\n"
  "{\"id\": \"c3\", \"text\": \"Tarsova is a port town famous for "
  "lighthouses.\"}\n"
  "{\"id\": \"d4\", \"title\": \"Orrin Vale\", \"text\": \"Orrin Vale "
  "founded Brightmoor Labs.\", \"extra\": 1}\n";

/* Build the test corpus into a fresh index; its path (static). */
static const char *build_index(void)
{
  static char path[4096];
  const char *corpus;
  pc_error err = PC_ERROR_INIT;
  pc_index_info info;

  corpus = pc_test_tmpfile(corpus_text, sizeof(corpus_text) - 1, ".jsonl");
  snprintf(path, sizeof(path), "%s.db", corpus);
  CU_ASSERT_EQUAL_FATAL(pc_index_build(corpus, path, 0, &info, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(info.rows, 4);
  CU_ASSERT_EQUAL(strlen(info.corpus_sha256), 64);
  return path;
}

static void test_query_ranks_best_passage_first(void)
{
  const char *path = build_index();
  pc_index *ix = NULL;
  pc_index_hit *hits = NULL;
  pc_error err = PC_ERROR_INIT;
  size_t n = 0;

  CU_ASSERT_EQUAL_FATAL(pc_index_open(path, &ix, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_index_rows(ix), 4);
  CU_ASSERT_EQUAL(pc_index_query(ix, "Who founded Velora Dynamics?", 2,
                                 &hits, &n, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  PC_ASSERT_STR_EQ(hits[0].id, "a1");
  PC_ASSERT_STR_EQ(hits[0].title, "Velora Dynamics");
  CU_ASSERT(hits[0].score <= hits[1].score);
  pc_index_hits_free(hits, n);
  /* The porter stemmer matches "lighthouse" to "lighthouses"; an int id
   * comes back as text. */
  CU_ASSERT_EQUAL(pc_index_query(ix, "lighthouse", 3, &hits, &n, &err),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  PC_ASSERT_STR_EQ(hits[0].id, "c3");
  PC_ASSERT_STR_EQ(hits[0].title, "");
  pc_index_hits_free(hits, n);
  CU_ASSERT_EQUAL(pc_index_query(ix, "Mira Castell birthplace", 1, &hits,
                                 &n, &err), PC_OK);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  PC_ASSERT_STR_EQ(hits[0].id, "2");
  pc_index_hits_free(hits, n);
  pc_index_close(ix);
}

static void test_fts_query_quotes_every_word(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_index_fts_query("title:\"x\" AND (y* OR -z) ^NEAR",
                                     &b), PC_OK);
  PC_ASSERT_STR_EQ(b.data, "\"title\" OR \"x\" OR \"AND\" OR \"y\" OR "
                   "\"OR\" OR \"z\" OR \"NEAR\"");
  pc_buf_reset(&b);
  CU_ASSERT_EQUAL(pc_index_fts_query("?!  ...", &b), PC_OK);
  CU_ASSERT_EQUAL(b.len, 0);
  pc_buf_free(&b);
}

static void test_operators_and_punctuation_are_plain_words(void)
{
  static const char *const nasty[] = {
    "\"unbalanced quote", "NOT", "AND OR NOT NEAR(", "title: Velora*",
    "a)b(c{d}", "^Mira + -Castell", "'; DROP TABLE passages; --", "",
  };
  const char *path = build_index();
  pc_index *ix = NULL;
  pc_index_hit *hits = NULL;
  size_t n = 0, i;

  CU_ASSERT_EQUAL_FATAL(pc_index_open(path, &ix, NULL), PC_OK);
  for (i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(pc_index_query(ix, nasty[i], 3, &hits, &n, &err),
                    PC_OK);
    if (err.code)
      fprintf(stderr, "query '%s': %s\n", nasty[i], err.message);
    pc_index_hits_free(hits, n);
  }
  /* "title: Velora*" still finds the Velora passage. */
  CU_ASSERT_EQUAL(pc_index_query(ix, "title: Velora*", 1, &hits, &n, NULL),
                  PC_OK);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  PC_ASSERT_STR_EQ(hits[0].id, "a1");
  pc_index_hits_free(hits, n);
  CU_ASSERT_EQUAL(pc_index_query(ix, "x", 0, &hits, &n, NULL),
                  PC_E_INVALID_ARG);
  CU_ASSERT_EQUAL(pc_index_query(ix, "x", 101, &hits, &n, NULL),
                  PC_E_INVALID_ARG);
  pc_index_close(ix);
}

/* Run `corpus` through pc_index_build; return the code, message in err. */
static int build_text(const char *corpus, pc_error *err, char *out,
                      size_t outsz)
{
  const char *in = pc_test_tmpfile(corpus, strlen(corpus), ".jsonl");

  snprintf(out, outsz, "%s.db", in);
  return pc_index_build(in, out, 0, NULL, err);
}

static void test_bad_corpus_lines_name_file_and_line(void)
{
  static const struct {
    const char *corpus, *message_tail;
  } cases[] = {
    {"{\"id\": 1, \"text\": \"ok\"}\n{\"id\": 2, \"text\": \n",
     ":2: not a JSON value"},
    {"{\"id\": 1, \"text\": \"ok\"}\n\n[1]\n", ":3: expected a JSON object"},
    {"{\"id\": 1.5, \"text\": \"x\"}\n", ":1: id: expected a string or an "
     "integer"},
    {"{\"id\": 1, \"text\": \"x\"} {}\n", ":1: not a JSON value: offset "
     "23: "},
    /* Strict JSON only: no comments, single quotes or invalid UTF-8. */
    {"{\"id\": 1, \"text\": \"ok\"}\n{\"id\": 2, /* c */ \"text\": \"x\"}\n",
     ":2: not a JSON value: offset 10: "},
    {"{'id': 1, 'text': 'x'}\n", ":1: not a JSON value: offset "},
    {"{\"id\": 1, \"text\": \"bad \xff byte\"}\n",
     ":1: not a JSON value: offset 23: "},
    {"{\"id\": \"a\"}\n", ":1: text: expected a string"},
    {"{\"id\": \"a\", \"text\": \"x\", \"title\": 3}\n", ":1: title: "
     "expected a string"},
    {"{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n",
     ":2: id: 'a' appears twice"},
  };
  char out[4096];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pc_error err = PC_ERROR_INIT;

    CU_ASSERT_EQUAL(build_text(cases[i].corpus, &err, out, sizeof(out)),
                    PC_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].message_tail));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ".jsonl:"));
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);  /* nothing left behind */
  }
}

static void test_existing_index_needs_force(void)
{
  const char *path = build_index();
  char corpus[4096];
  pc_error err = PC_ERROR_INIT;
  pc_index_info info;
  static const char one[] = "{\"id\": 9, \"text\": \"one\"}\n";
  const char *in = pc_test_tmpfile(one, strlen(one), ".jsonl");

  snprintf(corpus, sizeof(corpus), "%s", in);
  CU_ASSERT_EQUAL(pc_index_build(corpus, path, 0, NULL, &err), PC_E_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--force"));
  CU_ASSERT_EQUAL(pc_index_build(corpus, path, 1, &info, NULL), PC_OK);
  CU_ASSERT_EQUAL(info.rows, 1);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_index_build("/nonexistent/c.jsonl", path, 1, NULL,
                                 &err), PC_E_IO);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(build_text("\n  \n", &err, corpus, sizeof(corpus)),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ": no passages"));
}

static void test_open_refuses_missing_and_foreign_files(void)
{
  pc_index *ix = (pc_index *)1;
  pc_error err = PC_ERROR_INIT;
  const char *junk = pc_test_tmpfile("not sqlite at all", 17, ".db");

  CU_ASSERT_EQUAL(pc_index_open("/nonexistent/x.db", &ix, &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(ix);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.db"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(pc_index_open(junk, &ix, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(ix);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a promptc index"));
}

struct worker {
  pc_index *ix;
  int failures;
};

static void *query_many(void *arg)
{
  struct worker *w = arg;

  for (int i = 0; i < 200; i++) {
    pc_index_hit *hits = NULL;
    size_t n = 0;

    if (pc_index_query(w->ix, i % 2 ? "Orrin Vale Brightmoor" :
                       "Tarsova port", 2, &hits, &n, NULL) != PC_OK ||
        n == 0 || strcmp(hits[0].id, i % 2 ? "d4" : "c3"))
      w->failures++;
    pc_index_hits_free(hits, n);
  }
  return NULL;
}

static void test_concurrent_queries_agree(void)
{
  const char *path = build_index();
  pthread_t th[4];
  struct worker w[4];
  pc_index *ix = NULL;

  CU_ASSERT_EQUAL_FATAL(pc_index_open(path, &ix, NULL), PC_OK);
  for (int i = 0; i < 4; i++) {
    w[i].ix = ix;
    w[i].failures = 0;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, query_many, &w[i]),
                          0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(w[i].failures, 0);
  }
  pc_index_close(ix);
}

/* A text sink collecting into a pc_buf. */
static int sink_write(void *ctx, const char *text, size_t len)
{
  return pc_buf_append(ctx, text, len);
}

static void test_search_tool_returns_title_bar_text(void)
{
  const char *path = build_index();
  const pc_tool_iface *t = &pc__tool_search;
  char dir[4096], cfg[8192];
  const char *slash = strrchr(path, '/');
  void *inst = NULL;
  pc_error err = PC_ERROR_INIT;
  pc_buf out;
  pc_text_sink sink = {PC_ABI_HEADER_INIT(pc_text_sink), NULL, sink_write};
  static const char args[] = "{\"query\": \"Velora Mira\", \"k\": 2}";

  pc_buf_init(&out, 0);
  sink.ctx = &out;
  PC_ASSERT_STR_EQ(t->name, "search");
  snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
  snprintf(cfg, sizeof(cfg), "{\"index\": \"%s\", \"k\": 1, "
           "\"base_dir\": \"%s\"}", slash + 1, dir);
  CU_ASSERT_EQUAL_FATAL(t->create(NULL, cfg, strlen(cfg), &inst, &err),
                        PC_OK);
  CU_ASSERT_EQUAL(t->call(inst, NULL, args, strlen(args), &sink, &err),
                  PC_OK);
  PC_ASSERT_STR_EQ(out.data, "[\"Velora Dynamics | Velora Dynamics was "
                   "founded by Mira Castell in 1998.\",\"Mira Castell | "
                   "Mira Castell was born in Tarsova, a port town in "
                   "Quenland.\"]");
  pc_buf_reset(&out);
  /* The configured k (1) is the default. */
  CU_ASSERT_EQUAL(t->call(inst, NULL, "{\"query\": \"lighthouses\"}", 24,
                          &sink, &err), PC_OK);
  PC_ASSERT_STR_EQ(out.data, "[\"Tarsova is a port town famous for "
                   "lighthouses.\"]");
  pc_buf_reset(&out);
  CU_ASSERT_EQUAL(t->call(inst, NULL, "{\"query\": 3}", 12, &sink, &err),
                  PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "search: query: expected a string");
  t->destroy(inst);
  pc_buf_free(&out);

  pc_error_clear(&err);
  CU_ASSERT_EQUAL(t->create(NULL, "{\"index\": \"x.db\", \"top\": 1}", 27,
                            &inst, &err), PC_E_INVALID_ARG);
  PC_ASSERT_STR_EQ(err.message, "search: top: unknown setting (expected "
                   "index or k)");
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(t->create(NULL, "{\"k\": 2}", 8, &inst, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NULL(inst);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(t->create(NULL, "{\"index\": \"missing.db\"}", 23, &inst,
                            &err), PC_E_IO);
}

/* Load a one-module program whose module is `module` (JSON text). */
static int load_module(const char *module, pc_program **prog,
                       pc_error *err)
{
  pc_buf b;
  struct json_object *root;
  int rc;

  pc_buf_init(&b, 0);
  pc_buf_printf(&b, "{\"schema\": \"promptc.program/1\", \"modules\": "
                "{\"r\": %s}, \"flow\": [{\"call\": \"r\", \"inputs\": "
                "{\"question\": \"$input.question\"%s}}], \"outputs\": "
                "{\"passages\": \"$r.passages\"}}", module,
                strstr(module, "accumulate")
                  ? ", \"context\": \"$input.context\"" : "");
  root = json_tokener_parse(b.data);
  rc = pc_program_from_json("p.json", root, prog, err);
  json_object_put(root);
  pc_buf_free(&b);
  return rc;
}

static void test_retrieve_module_io_and_member_checks(void)
{
  pc_program *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  const pc_module *m;
  pc_buf s;

  pc_buf_init(&s, 0);
  CU_ASSERT_EQUAL(load_module("{\"type\": \"retrieve\", \"k\": 5, "
                              "\"query\": \"question\"}", &prog, &err),
                  PC_OK);
  if (err.code)
    fprintf(stderr, "%s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(prog);
  if (err.code)
    fprintf(stderr, "%s\n", err.message);
  m = pc_program_module(prog, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->n_predictors, 0);
  CU_ASSERT_PTR_NULL(m->signature);
  CU_ASSERT_EQUAL(pc_signature_to_string(pc_module_io(m), &s), PC_OK);
  PC_ASSERT_STR_EQ(s.data, "question -> passages: list[str]");
  pc_program_free(prog);
  pc_buf_reset(&s);
  CU_ASSERT_EQUAL_FATAL(load_module("{\"type\": \"retrieve\", \"query\": "
                                    "\"question\", \"accumulate\": "
                                    "\"context\"}", &prog, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_signature_to_string(
                    pc_module_io(pc_program_module(prog, "r")), &s), PC_OK);
  PC_ASSERT_STR_EQ(s.data, "question, context: list[str] -> passages: "
                   "list[str]");
  pc_program_free(prog);
  pc_buf_free(&s);

  CU_ASSERT_EQUAL(load_module("{\"type\": \"retrieve\", \"query\": "
                              "\"question\", \"accumulate\": "
                              "\"question\"}", &prog, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "modules.r.accumulate: must "
                                "differ"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(load_module("{\"type\": \"retrieve\", \"k\": 0, "
                              "\"query\": \"question\"}", &prog, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "modules.r.k: expected an "
                                "integer from 1 to 100"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(load_module("{\"type\": \"retrieve\", \"query\": "
                              "\"two words\"}", &prog, &err),
                  PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "modules.r.query: expected "
                                "a name"));
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(load_module("{\"type\": \"retrieve\", \"query\": "
                              "\"question\", \"signature\": \"a -> b\"}",
                              &prog, &err), PC_E_INVALID_ARG);
}

static CU_TestInfo index_tests[] = {
  {"query ranks the best passage first", test_query_ranks_best_passage_first},
  {"fts query quotes every word", test_fts_query_quotes_every_word},
  {"operators and punctuation are plain words",
   test_operators_and_punctuation_are_plain_words},
  {"bad corpus lines name file and line",
   test_bad_corpus_lines_name_file_and_line},
  {"an existing index needs --force", test_existing_index_needs_force},
  {"open refuses missing and foreign files",
   test_open_refuses_missing_and_foreign_files},
  {"concurrent queries agree", test_concurrent_queries_agree},
  {"search tool returns \"title | text\"",
   test_search_tool_returns_title_bar_text},
  {"retrieve module: io and member checks",
   test_retrieve_module_io_and_member_checks},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"index", NULL, NULL, NULL, NULL, index_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
