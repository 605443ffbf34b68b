/* harness.c - runner and small file helpers shared by the unit tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#include "alloc.h"
#include "harness.h"

#define MAX_TMP 64
static char *tmp_paths[MAX_TMP];
static int n_tmp;

static void remove_tmp(void)
{
  for (int i = 0; i < n_tmp; i++) {
    unlink(tmp_paths[i]);
    free(tmp_paths[i]);
  }
  n_tmp = 0;
}

int pc_test_run(CU_SuiteInfo *suites)
{
  unsigned failed;

  atexit(remove_tmp);
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 99;
  if (CU_register_suites(suites) != CUE_SUCCESS) {
    fprintf(stderr, "harness: %s\n", CU_get_error_msg());
    CU_cleanup_registry();
    return 99;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  /* A suite whose init failed ran none of its tests: that is a failure. */
  failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
           CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}

const char *pc_test_srcdir(void)
{
  const char *d = getenv("PC_TEST_SRCDIR");

  return (d && *d) ? d : "tests";
}

const char *pc_test_path(const char *rel)
{
  static char path[4096];

  snprintf(path, sizeof(path), "%s/%s", pc_test_srcdir(), rel);
  return path;
}

char *pc_test_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *data = NULL;
  long n;

  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
      fseek(f, 0, SEEK_SET) == 0) {
    data = pc_malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
      data[n] = '\0';
      if (len)
        *len = (size_t)n;
    } else {
      pc_free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

const char *pc_test_tmpfile(const char *text, size_t len, const char *suffix)
{
  static char path[4096];
  const char *dir = getenv("TMPDIR");
  size_t slen = suffix ? strlen(suffix) : 0;
  int fd;

  if (n_tmp >= MAX_TMP)
    return NULL;
  snprintf(path, sizeof(path), "%s/pctest-XXXXXX%s",
           (dir && *dir) ? dir : "/tmp", suffix ? suffix : "");
  fd = mkstemps(path, (int)slen);
  if (fd < 0)
    return NULL;
  if (write(fd, text, len) != (ssize_t)len) {
    close(fd);
    unlink(path);
    return NULL;
  }
  close(fd);
  tmp_paths[n_tmp++] = strdup(path);
  return path;
}

static void print_escaped(const char *label, const char *s)
{
  fprintf(stderr, "  %s: \"", label);
  for (; s && *s; s++) {
    if (*s == '\n')
      fputs("\\n", stderr);
    else if (*s == '\t')
      fputs("\\t", stderr);
    else
      fputc(*s, stderr);
  }
  fputs("\"\n", stderr);
}

void pc_test_assert_str_eq(const char *actual, const char *expected,
                           const char *file, int line)
{
  int same = actual && expected && strcmp(actual, expected) == 0;

  if (!same) {
    size_t i = 0;

    while (actual && expected && actual[i] && actual[i] == expected[i])
      i++;
    fprintf(stderr, "\n%s:%d: strings differ at byte %zu\n", file, line, i);
    print_escaped("expected", expected ? expected : "(null)");
    print_escaped("actual  ", actual ? actual : "(null)");
  }
  CU_assertImplementation(same, (unsigned)line, "strings equal", file, "",
                          CU_FALSE);
}
