/* tests/unit/test_buf.c: core/buf.c and core/alloc.c; suite "buf". */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"

static void test_append_keeps_nul_terminated_text(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "ab"), PC_OK);
  CU_ASSERT_EQUAL(pc_buf_printf(&b, "%d-%s", 42, "x"), PC_OK);
  CU_ASSERT_EQUAL(pc_buf_putc(&b, '!'), PC_OK);
  CU_ASSERT_EQUAL(b.len, 7);
  PC_ASSERT_STR_EQ(b.data, "ab42-x!");
  pc_buf_free(&b);
}

static void test_cap_refuses_growth_past_max(void)
{
  pc_buf b;

  pc_buf_init(&b, 4);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "abcd"), PC_OK);
  CU_ASSERT_EQUAL(pc_buf_putc(&b, 'e'), PC_E_NOMEM);
  CU_ASSERT_EQUAL(b.len, 4);  /* nothing lost */
  PC_ASSERT_STR_EQ(b.data, "abcd");
  pc_buf_free(&b);
}

static void test_take_hands_over_and_resets(void)
{
  pc_buf b;
  size_t len = 99;
  char *s;

  pc_buf_init(&b, 0);
  s = pc_buf_take(&b, &len);  /* empty buffer gives "" */
  CU_ASSERT_EQUAL(len, 0);
  PC_ASSERT_STR_EQ(s, "");
  pc_free(s);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "hello"), PC_OK);
  s = pc_buf_take(&b, &len);
  CU_ASSERT_EQUAL(len, 5);
  PC_ASSERT_STR_EQ(s, "hello");
  CU_ASSERT_PTR_NULL(b.data);
  pc_free(s);
}

static void test_alloc_failure_is_reported_not_fatal(void)
{
  pc_buf b;

  pc_buf_init(&b, 0);
  pc__alloc_fail_at(1);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "x"), PC_E_NOMEM);
  CU_ASSERT_PTR_NULL(pc_strdup("y"));
  pc__alloc_fail_at(0);
  CU_ASSERT_EQUAL(pc_buf_puts(&b, "x"), PC_OK);
  pc_buf_free(&b);
}

static void test_error_first_message_wins(void)
{
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_error_set(&err, PC_E_IO, "%s: %s", "a.txt", "gone"),
                  PC_E_IO);
  CU_ASSERT_EQUAL(pc_error_set(&err, PC_E_PARSE, "later"), PC_E_PARSE);
  CU_ASSERT_EQUAL(err.code, PC_E_IO);
  PC_ASSERT_STR_EQ(err.message, "a.txt: gone");
  pc_error_clear(&err);
  pc_error_set(&err, PC_E_PARSE, "two\nlines");
  PC_ASSERT_STR_EQ(err.message, "two lines");
  PC_ASSERT_STR_EQ(pc_errname(PC_E_BUDGET), "PC_E_BUDGET");
  PC_ASSERT_STR_EQ(pc_strerror(999), "unknown error code");
}

static CU_TestInfo buf_tests[] = {
  {"append keeps NUL-terminated text", test_append_keeps_nul_terminated_text},
  {"cap refuses growth past max", test_cap_refuses_growth_past_max},
  {"take hands over and resets", test_take_hands_over_and_resets},
  {"alloc failure is reported, not fatal", test_alloc_failure_is_reported_not_fatal},
  {"error: first message wins, one line", test_error_first_message_wins},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"buf", NULL, NULL, NULL, NULL, buf_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
