/*
 * tests/unit/test_dataset_shared.c: core/dataset.c on the real datasets of
 * $PC_SHARED_DIR/data; suite "dataset_shared". Skips (exit 77) when they
 * are absent: they live beside the project, not in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "dataset.h"
#include "harness.h"

static char data_dir[4096];

/* The split files every shared dataset has. */
static const char *const splits[] = {"train", "dev", "test"};

/* Lines of a file that hold something other than spaces, tabs and CRs:
 * counted here without the loader, to compare with its row count. */
static size_t count_nonblank_lines(const char *text, size_t len)
{
  size_t n = 0;
  int content = 0;

  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\n') {
      n += content;
      content = 0;
    } else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
      content = 1;
    }
  }
  return n + content;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Ids of all splits of one dataset, to check they are unique across
 * the dataset as the shared README promises. */
struct id_list {
  char **ids;  /* borrowed from the datasets in `keep` */
  size_t n;
  pc_dataset *keep[3];
};

static void check_split(const char *name, const char *split, const char *key,
                        const char *id_prefix, struct id_list *all,
                        size_t slot)
{
  const char *const keys[] = {key};
  pc_dataset_opts opts = {keys, 1, 0, PC_DATASET_AUTO, 0};
  pc_error err = PC_ERROR_INIT;
  pc_dataset *ds = NULL, *again = NULL;
  char path[4200], h1[65], h2[65];
  size_t len = 0, lines;
  char *text, **ids;

  snprintf(path, sizeof(path), "%s/%s/%s.jsonl", data_dir, name, split);
  text = pc_test_read_file(path, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  lines = count_nonblank_lines(text, len);
  pc_free(text);

  CU_ASSERT_EQUAL(pc_dataset_load(path, &opts, &ds, &err), PC_OK);
  if (!ds) {
    fprintf(stderr, "\n  %s\n", err.message);
    return;
  }
  CU_ASSERT(lines > 0);
  CU_ASSERT_EQUAL(ds->n_rows, lines);
  CU_ASSERT_EQUAL(ds->n_skipped, 0);
  /* Ids come from the files' own "id" fields, not line numbers. */
  for (size_t i = 0; i < ds->n_rows; i++) {
    if (strncmp(ds->rows[i].id, id_prefix, strlen(id_prefix)) != 0) {
      CU_FAIL("id without the dataset's prefix");
      break;
    }
  }

  CU_ASSERT_EQUAL(pc_dataset_hash(ds, h1), PC_OK);
  CU_ASSERT_EQUAL_FATAL(pc_dataset_load(path, &opts, &again, &err), PC_OK);
  CU_ASSERT_EQUAL(pc_dataset_hash(again, h2), PC_OK);
  CU_ASSERT_EQUAL(strlen(h1), 64);
  PC_ASSERT_STR_EQ(h1, h2);
  pc_dataset_free(again);

  ids = pc_realloc(all->ids, (all->n + ds->n_rows) * sizeof(char *));
  if (!ids) {
    pc_dataset_free(ds);
    CU_FAIL_FATAL("out of memory");
  }
  all->ids = ids;
  for (size_t i = 0; i < ds->n_rows; i++)
    all->ids[all->n++] = ds->rows[i].id;
  all->keep[slot] = ds;
}

/* Load the three splits of one dataset with `key` as its input key (the
 * field its README names as the input). */
static void check_dataset(const char *name, const char *key,
                          const char *id_prefix)
{
  struct id_list all = {NULL, 0, {NULL, NULL, NULL}};
  size_t dups = 0;

  for (size_t s = 0; s < 3; s++)
    check_split(name, splits[s], key, id_prefix, &all, s);
  CU_ASSERT(all.n > 0);
  if (all.n)
    qsort(all.ids, all.n, sizeof(char *), cmp_str);
  for (size_t i = 1; i < all.n; i++)
    dups += strcmp(all.ids[i - 1], all.ids[i]) == 0;
  CU_ASSERT_EQUAL(dups, 0);
  pc_free(all.ids);
  for (size_t s = 0; s < 3; s++)
    pc_dataset_free(all.keep[s]);
}

static void test_gsm8k_loads_every_split(void)
{
  check_dataset("gsm8k", "question", "gsm8k-");
}

static void test_sst2_loads_every_split(void)
{
  check_dataset("sst2", "sentence", "sst2-");
}

static void test_banking77_loads_every_split(void)
{
  check_dataset("banking77", "text", "banking77-");
}

static void test_nq_open_loads_every_split(void)
{
  check_dataset("nq_open", "question", "nqopen-");
}

static void test_wnut17_loads_every_split(void)
{
  check_dataset("wnut17", "text", "wnut17-");
}

static CU_TestInfo dataset_shared_tests[] = {
  {"gsm8k: every split loads, ids unique, hash stable",
   test_gsm8k_loads_every_split},
  {"sst2: every split loads, ids unique, hash stable",
   test_sst2_loads_every_split},
  {"banking77: every split loads, ids unique, hash stable",
   test_banking77_loads_every_split},
  {"nq_open: every split loads, ids unique, hash stable",
   test_nq_open_loads_every_split},
  {"wnut17: every split loads, ids unique, hash stable",
   test_wnut17_loads_every_split},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"dataset_shared", NULL, NULL, NULL, NULL, dataset_shared_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  const char *shared = getenv("PC_SHARED_DIR");
  struct stat st;

  snprintf(data_dir, sizeof(data_dir), "%s/data",
           (shared && *shared) ? shared : "$PC_SHARED_DIR");
  if (!shared || !*shared || stat(data_dir, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "test_dataset_shared: skipped: %s not found (the shared "
            "datasets are not part of the project)\n", data_dir);
    return 77;
  }
  return pc_test_run(suites);
}
