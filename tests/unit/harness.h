/*
 * harness.h - shared helpers for the CUnit test programs.
 *
 * Each tests/unit/test_<component>.c is one program with one suite named
 * after the component; main() returns pc_test_run(suites).
 */
#ifndef PC_TEST_HARNESS_H
#define PC_TEST_HARNESS_H

#include <stddef.h>
#include <CUnit/CUnit.h>

/* Run every suite with the basic runner. Returns 0 when all pass, 1 when
 * any fails, 99 (automake: hard error) when the registry cannot be set up. */
int pc_test_run(CU_SuiteInfo *suites);

/* Directory of tests/ in the source tree ($PC_TEST_SRCDIR, else "tests"). */
const char *pc_test_srcdir(void);

/* Path of a file below tests/ in the source tree: a static buffer, valid
 * until the next call. */
const char *pc_test_path(const char *rel);

/* Read a whole file; owned by the caller (pc_free); NULL on failure. */
char *pc_test_read_file(const char *path, size_t *len);

/* Write `text` to a new temporary file and return its path (a static
 * buffer, valid until the next call); the harness removes the files at
 * exit. `suffix` such as ".jsonl" may be NULL. */
const char *pc_test_tmpfile(const char *text, size_t len, const char *suffix);

/* Assert two strings are equal and, when not, print both (with escapes) so
 * a failing golden test shows the difference. */
#define PC_ASSERT_STR_EQ(actual, expected) \
  pc_test_assert_str_eq((actual), (expected), __FILE__, __LINE__)
void pc_test_assert_str_eq(const char *actual, const char *expected,
                           const char *file, int line);

#endif
