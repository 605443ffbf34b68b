/*
 * bench_eval.c - evaluation throughput with the in-process sim LM: LM
 * calls per second at 1 and 8 threads, with no cache (every call reaches
 * the provider) and with a warm in-memory cache, and the peak memory.
 * Run by `make bench`; prints figures, asserts nothing about time.
 *
 * Data: the triage example (examples/triage: 300 tickets, the program and
 * its sim config), found through PC_TEST_SRCDIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "dataset.h"
#include "eval.h"
#include "loader.h"
#include "metric.h"
#include "program.h"
#include "runtime.h"

#define ROUNDS 20

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const pc_error *err)
{
  fprintf(stderr, "bench_eval: %s: %s\n", what, err->message);
  return 1;
}

/* One configuration: ROUNDS evaluations of the whole dataset. */
static int measure(const char *label, const pc_config *cfg,
                   const pc_registry *reg, const pc_program *prog,
                   const pc_dataset *ds, pc_metric *metric, int threads,
                   int cached)
{
  pc_runtime_opts ro;
  pc_runtime *rt = NULL;
  pc_eval_opts eo;
  pc_error err = PC_ERROR_INIT;
  double t0, secs, mean = 0;
  uint64_t calls = 0;
  char cache_dir[] = "/tmp/pcbenchXXXXXX";

  memset(&ro, 0, sizeof(ro));
  ro.cfg = cfg;
  ro.reg = reg;
  ro.threads = threads;
  ro.no_cache = !cached;
  if (cached) {
    if (!mkdtemp(cache_dir)) {
      perror("bench_eval: mkdtemp");
      return 1;
    }
    ro.cache_path = cache_dir;
  }
  if (pc_runtime_open(&ro, &rt, &err))
    return die("runtime", &err);
  memset(&eo, 0, sizeof(eo));
  eo.max_errors = -1;
  if (cached) {
    /* Warm the cache first; the timed rounds are then all hits. */
    pc_eval_result *r = NULL;

    if (pc_eval_run(rt, prog, ds, metric, &eo, &r, &err))
      return die("eval", &err);
    pc_eval_result_free(r);
  }
  t0 = now_s();
  for (int i = 0; i < ROUNDS; i++) {
    pc_eval_result *r = NULL;

    if (pc_eval_run(rt, prog, ds, metric, &eo, &r, &err))
      return die("eval", &err);
    calls += r->usage.calls;
    mean = r->mean;
    pc_eval_result_free(r);
  }
  secs = now_s() - t0;
  printf("%-22s threads %2d  %6llu calls in %7.3f s  %9.0f calls/s  "
         "score %.4f\n", label, threads, (unsigned long long)calls, secs,
         (double)calls / secs, mean);
  pc_runtime_close(rt);
  if (cached) {
    char path[64];

    snprintf(path, sizeof(path), "%s/lm-cache.sqlite", cache_dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/lm-cache.sqlite-wal", cache_dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/lm-cache.sqlite-shm", cache_dir);
    remove(path);
    remove(cache_dir);
  }
  return 0;
}

int main(void)
{
  const char *src = getenv("PC_TEST_SRCDIR");
  char prog_path[4096], cfg_path[4096], data_path[4096];
  const char *keys[] = {"ticket", "policy"};
  pc_dataset_opts dopts = {keys, 2, 0, 0, 0};
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  pc_program *prog = NULL;
  pc_dataset *ds = NULL;
  pc_metric *metric = NULL;
  pc_error err = PC_ERROR_INIT;
  struct rusage ru;
  int rc = 0;

  if (!src)
    src = "tests";
  snprintf(prog_path, sizeof(prog_path), "%s/../examples/triage/program.json",
           src);
  snprintf(cfg_path, sizeof(cfg_path), "%s/../examples/triage/sim.json", src);
  snprintf(data_path, sizeof(data_path),
           "%s/../examples/triage/data/train.jsonl", src);
  if (pc_config_load(cfg_path, &cfg, &err))
    return die("config", &err);
  if (!(reg = pc_registry_new()) ||
      pc_registry_load_default(reg, cfg->plugin_path, &err))
    return die("plugins", &err);
  if (pc_program_load(prog_path, &prog, &err))
    return die("program", &err);
  if (pc_dataset_load(data_path, &dopts, &ds, &err))
    return die("data", &err);
  if (pc_metric_open(reg, cfg->metric, &metric, &err))
    return die("metric", &err);

  printf("promptc eval throughput: triage example, %zu examples x %d "
         "rounds, sim LM in process\n", ds->n_rows, ROUNDS);
  rc |= measure("no cache", cfg, reg, prog, ds, metric, 1, 0);
  rc |= measure("no cache", cfg, reg, prog, ds, metric, 8, 0);
  rc |= measure("warm cache (hits)", cfg, reg, prog, ds, metric, 1, 1);
  rc |= measure("warm cache (hits)", cfg, reg, prog, ds, metric, 8, 1);
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    printf("peak resident memory: %ld KiB\n", ru.ru_maxrss);

  pc_metric_close(metric);
  pc_dataset_free(ds);
  pc_program_free(prog);
  pc_registry_free(reg);
  pc_config_free(cfg);
  return rc;
}
