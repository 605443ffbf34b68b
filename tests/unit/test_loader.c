/* tests/unit/test_loader.c: core/loader.c and core/host.c; suite "loader".
 * Loads the fixture plugins of tests/plugins/ (one good, the rest broken
 * on purpose) and checks each failure is a clear line naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "harness.h"
#include "host.h"
#include "loader.h"

static const char *fixture(const char *name)
{
  static char path[4096];
  const char *b = getenv("PC_TEST_BUILDDIR");

  snprintf(path, sizeof(path), "%s/tests/plugins/.libs/fx_%s.so",
           (b && *b) ? b : ".", name);
  return path;
}

/* Open a fixture expecting failure `code`; check the message names the
 * file and contains `needle`. */
static void expect_refused(const char *name, int code, const char *needle)
{
  pc_plugin *p = (pc_plugin *)&p;  /* non-NULL sentinel: must be reset */
  pc_error err = PC_ERROR_INIT;
  const char *path = fixture(name);
  int rc = pc_plugin_open(path, &p, &err);

  CU_ASSERT_EQUAL(rc, code);
  CU_ASSERT_PTR_NULL(p);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
  if (rc != code || !strstr(err.message, needle))
    fprintf(stderr, "\n  %s: rc %d, message: %s\n", name, rc, err.message);
}

static void test_good_plugin_loads_with_sha256(void)
{
  pc_plugin *p = NULL;
  pc_error err = PC_ERROR_INIT;
  char hex[PC_SHA256_HEX_LEN + 1];

  CU_ASSERT_EQUAL_FATAL(pc_plugin_open(fixture("good"), &p, &err), PC_OK);
  PC_ASSERT_STR_EQ(p->info->id, "org.promptc.test.good");
  PC_ASSERT_STR_EQ(p->info->version, "1.2.3");
  CU_ASSERT_EQUAL(pc_sha256_file(fixture("good"), hex, NULL), PC_OK);
  PC_ASSERT_STR_EQ(p->sha256, hex);
  CU_ASSERT_EQUAL(strlen(p->sha256), 64);
  CU_ASSERT_PTR_NOT_NULL(pc_plugin_interface(p, PC_IFACE_METRIC,
                                             sizeof(pc_metric_iface)));
  CU_ASSERT_PTR_NULL(pc_plugin_interface(p, PC_IFACE_ADAPTER, 16));
  pc_plugin_close(p);
}

static void test_missing_file_names_path(void)
{
  pc_plugin *p = (pc_plugin *)&p;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL(pc_plugin_open("no/such-plugin.so", &p, &err), PC_E_IO);
  CU_ASSERT_PTR_NULL(p);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such-plugin.so"));
}

static void test_missing_entry_is_refused(void)
{
  expect_refused("no_entry", PC_E_UNSUPPORTED, "no pc_plugin_entry_v1 symbol");
}

static void test_entry_returning_null_is_refused(void)
{
  expect_refused("null_descriptor", PC_E_UNSUPPORTED, "refused host ABI 1.2");
}

static void test_wrong_major_is_refused(void)
{
  expect_refused("wrong_major", PC_E_UNSUPPORTED, "wrong ABI major 2");
}

static void test_short_struct_is_refused(void)
{
  expect_refused("short_struct", PC_E_UNSUPPORTED, "descriptor too short");
}

static void test_failing_init_reports_plugin_message(void)
{
  expect_refused("failing_init", PC_E_UNSUPPORTED,
                 "init of org.promptc.test.failing-init failed: needs host "
                 "service pc.teleport/1");
}

static void test_short_interface_is_not_used(void)
{
  pc_plugin *p = NULL;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_EQUAL_FATAL(pc_plugin_open(fixture("missing_iface"), &p, &err),
                        PC_OK);
  CU_ASSERT_PTR_NULL(pc_plugin_interface(p, PC_IFACE_METRIC,
                                         sizeof(pc_metric_iface)));
  pc_plugin_close(p);
}

/* Copy the good fixture to a temporary file with mode `mode`. */
static const char *copy_with_mode(mode_t mode)
{
  size_t len = 0;
  char *data = pc_test_read_file(fixture("good"), &len);
  const char *path;

  if (!data)
    return NULL;
  path = pc_test_tmpfile(data, len, ".so");
  pc_free(data);
  if (path)
    chmod(path, mode);
  return path;
}

static void test_world_and_group_writable_files_are_refused(void)
{
  pc_plugin *p = NULL;
  pc_error err = PC_ERROR_INIT;
  const char *path = copy_with_mode(0666);

  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  CU_ASSERT_EQUAL(pc_plugin_open(path, &p, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "world-writable"));
  pc_error_clear(&err);
  path = copy_with_mode(0664);
  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  CU_ASSERT_EQUAL(pc_plugin_open(path, &p, &err), PC_E_INVALID_ARG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "group-writable"));
  pc_error_clear(&err);
  path = copy_with_mode(0644);  /* the same bytes, safe mode: loads */
  CU_ASSERT_EQUAL(pc_plugin_open(path, &p, &err), PC_OK);
  pc_plugin_close(p);
}

static void test_registry_keeps_going_past_broken_plugins(void)
{
  pc_registry *reg = pc_registry_new();
  pc_error err = PC_ERROR_INIT;
  char dir[4096];
  const char *b = getenv("PC_TEST_BUILDDIR");
  pc_plugin *found = NULL;
  size_t named = 0;

  snprintf(dir, sizeof(dir), "%s/tests/plugins/.libs", (b && *b) ? b : ".");
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(pc_registry_add_dir(reg, dir, &err), PC_OK);
  /* good, lm, missing_iface and extra_symbols load; five are refused. */
  CU_ASSERT_EQUAL(reg->n_plugins, 4);
  CU_ASSERT_EQUAL(reg->n_failures, 5);
  for (size_t i = 0; i < reg->n_failures; i++)
    if (strstr(reg->failures[i].message, reg->failures[i].path))
      named++;
  CU_ASSERT_EQUAL(named, reg->n_failures);
  CU_ASSERT_PTR_NOT_NULL(pc_registry_find(reg, "org.promptc.test.good"));
  CU_ASSERT_PTR_NOT_NULL(pc_registry_find(reg, "fx-good"));
  CU_ASSERT_PTR_NULL(pc_registry_find(reg, "nope"));
  CU_ASSERT_PTR_NOT_NULL(pc_registry_find_iface(reg, PC_IFACE_METRIC,
                                                "fixture_len",
                                                sizeof(pc_metric_iface),
                                                &found));
  CU_ASSERT_PTR_EQUAL(found, pc_registry_find(reg, "fx-good"));
  CU_ASSERT_PTR_NULL(pc_registry_find_iface(reg, PC_IFACE_METRIC,
                                            "fixture_short",
                                            sizeof(pc_metric_iface), NULL));
  /* Loading the same directory again: every plugin is a duplicate. */
  CU_ASSERT_EQUAL(pc_registry_add_dir(reg, dir, &err), PC_OK);
  CU_ASSERT_EQUAL(reg->n_plugins, 4);
  CU_ASSERT_EQUAL(reg->n_failures, 14);
  named = 0;
  for (size_t i = 5; i < reg->n_failures; i++)
    if (strstr(reg->failures[i].message, "duplicate plugin id"))
      named++;
  CU_ASSERT_EQUAL(named, 4);  /* good, lm, missing_iface, extra_symbols */
  /* A directory that does not exist is not an error. */
  CU_ASSERT_EQUAL(pc_registry_add_dir(reg, "/no/such/dir", &err), PC_OK);
  pc_registry_free(reg);
}

static void test_host_rng_is_keyed_and_stateless(void)
{
  const pc_host_api *h = pc_host_api_get();
  uint64_t a = h->rng_u64(h->ctx, 7, "shuffle", 3, 0);

  CU_ASSERT_EQUAL(a, h->rng_u64(h->ctx, 7, "shuffle", 3, 0));
  CU_ASSERT_NOT_EQUAL(a, h->rng_u64(h->ctx, 8, "shuffle", 3, 0));
  CU_ASSERT_NOT_EQUAL(a, h->rng_u64(h->ctx, 7, "sample", 3, 0));
  CU_ASSERT_NOT_EQUAL(a, h->rng_u64(h->ctx, 7, "shuffle", 4, 0));
  CU_ASSERT_NOT_EQUAL(a, h->rng_u64(h->ctx, 7, "shuffle", 3, 1));
  /* A fixed value pins the algorithm: runs must agree across versions. */
  CU_ASSERT_EQUAL(pc_rng_u64(0, "", 0, 0), pc_rng_u64(0, NULL, 0, 0));
}

static void test_host_rng_bits_are_balanced(void)
{
  /* 4096 draws: each of the 64 bits is set close to half the time. */
  unsigned counts[64] = {0};

  for (uint64_t i = 0; i < 4096; i++) {
    uint64_t x = pc_rng_u64(42, "balance", i, 0);

    for (int b = 0; b < 64; b++)
      counts[b] += (unsigned)((x >> b) & 1u);
  }
  for (int b = 0; b < 64; b++)
    CU_ASSERT(counts[b] > 1848 && counts[b] < 2248);  /* +-200 of 2048 */
}

static void test_host_services_by_id(void)
{
  const pc_host_api *h = pc_host_api_get();
  uint32_t size = 0;
  const pc_json_api *j = h->get_host_interface(h->ctx, "pc.json/1", &size);
  const pc_secrets_api *s;
  pc_json *v = NULL;
  char buf[64];
  size_t len = 0;
  pc_error err = PC_ERROR_INIT;

  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_EQUAL(size, sizeof(pc_json_api));
  CU_ASSERT_PTR_NULL(h->get_host_interface(h->ctx, "pc.nothing/1", &size));
  /* null is a real handle, distinct from "absent" */
  CU_ASSERT_EQUAL(j->parse(h->ctx, "{\"a\": null}", 11, 0, &v, &err), PC_OK);
  CU_ASSERT_PTR_NOT_NULL(j->object_get(v, "a"));
  CU_ASSERT_EQUAL(j->type(j->object_get(v, "a")), PC_JSON_NULL);
  CU_ASSERT_PTR_NULL(j->object_get(v, "b"));
  CU_ASSERT_EQUAL(j->object_set(h->ctx, v, "b", j->new_int(h->ctx, 5)),
                  PC_OK);
  CU_ASSERT_EQUAL(j->get_int(j->object_get(v, "b")), 5);
  j->free(h->ctx, v);
  s = h->get_host_interface(h->ctx, "pc.secrets/1", &size);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  setenv("PC_TEST_SECRET", "s3cr3t", 1);
  CU_ASSERT_EQUAL(s->lookup(h->ctx, "env:PC_TEST_SECRET", buf, sizeof(buf),
                            &len, &err), PC_OK);
  PC_ASSERT_STR_EQ(buf, "s3cr3t");
  CU_ASSERT_EQUAL(s->lookup(h->ctx, "file:/etc/x", buf, sizeof(buf), &len,
                            &err), PC_E_INVALID_ARG);
  pc_error_clear(&err);
  CU_ASSERT_EQUAL(s->lookup(h->ctx, "env:PC_TEST_SECRET", buf, 4, &len,
                            &err), PC_E_NOMEM);
  CU_ASSERT_PTR_NULL(strstr(err.message, "s3cr3t"));  /* never leaked */
}

static void test_cancellation_and_deadline(void)
{
  const pc_host_api *h = pc_host_api_get();
  pc_call call = {0, 0};

  CU_ASSERT_EQUAL(h->is_cancelled(h->ctx, &call), 0);
  call.deadline_ns = h->now_ns(h->ctx) - 1;
  CU_ASSERT_NOT_EQUAL(h->is_cancelled(h->ctx, &call), 0);
  call.deadline_ns = 0;
  call.cancelled = 1;
  CU_ASSERT_NOT_EQUAL(h->is_cancelled(h->ctx, &call), 0);
  /* Cancelling the whole run reaches every call, and the NULL query.
   * (Process-wide and one-way: this test runs last.) */
  call.cancelled = 0;
  CU_ASSERT_EQUAL(h->is_cancelled(h->ctx, NULL), 0);
  pc_host_cancel_all();
  CU_ASSERT_NOT_EQUAL(h->is_cancelled(h->ctx, NULL), 0);
  CU_ASSERT_NOT_EQUAL(h->is_cancelled(h->ctx, &call), 0);
}

static CU_TestInfo loader_tests[] = {
  {"good plugin loads, with its sha256", test_good_plugin_loads_with_sha256},
  {"missing file names the path", test_missing_file_names_path},
  {"missing entry symbol is refused", test_missing_entry_is_refused},
  {"entry returning NULL is refused", test_entry_returning_null_is_refused},
  {"wrong ABI major is refused", test_wrong_major_is_refused},
  {"short descriptor is refused", test_short_struct_is_refused},
  {"failing init reports the plugin's message",
   test_failing_init_reports_plugin_message},
  {"short interface table is not used", test_short_interface_is_not_used},
  {"world- and group-writable files are refused",
   test_world_and_group_writable_files_are_refused},
  {"registry keeps going past broken plugins",
   test_registry_keeps_going_past_broken_plugins},
  {"host rng is keyed and stateless", test_host_rng_is_keyed_and_stateless},
  {"host rng bits are balanced", test_host_rng_bits_are_balanced},
  {"host services by id", test_host_services_by_id},
  {"cancellation and deadline", test_cancellation_and_deadline},
  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
  {"loader", NULL, NULL, NULL, NULL, loader_tests},
  CU_SUITE_INFO_NULL,
};

int main(void)
{
  return pc_test_run(suites);
}
