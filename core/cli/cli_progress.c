/* cli_progress.c - the live progress line of long commands: shown on
 * stderr when it is a terminal, never otherwise, so logs and pipes get
 * no control characters. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "eval.h"
#include "host.h"

static unsigned long long now_ns(void)
{
  const pc_host_api *h = pc_host_api_get();

  return (unsigned long long)h->now_ns(h->ctx);
}

double cli_seconds(void)
{
  return (double)now_ns() / 1e9;
}

void cli_progress_init(cli_progress *p, int want)
{
  p->enabled = want && isatty(STDERR_FILENO);
  p->shown = 0;
  p->t0_ns = now_ns();
  p->last_ns = 0;
}

void cli_progress_update(void *ctx, const struct pc_eval_progress *st)
{
  cli_progress *p = ctx;
  unsigned long long t = now_ns();
  double elapsed, eta;

  if (!p->enabled || (st->done < st->total && t - p->last_ns < 100000000ull))
    return;
  p->last_ns = t;
  elapsed = (double)(t - p->t0_ns) / 1e9;
  eta = st->done ? elapsed / (double)st->done *
                     (double)(st->total - st->done)
                 : 0;
  fprintf(stderr, "\r\033[K%zu/%zu  score %.3f  calls %llu  hits %llu  "
          "errors %zu  ETA %.0fs", st->done, st->total,
          st->done ? st->score_sum / (double)st->done : 0.0,
          (unsigned long long)st->usage.calls,
          (unsigned long long)st->usage.cache_hits, st->errors, eta);
  fflush(stderr);
  p->shown = 1;
}

void cli_progress_done(cli_progress *p)
{
  if (p->enabled && p->shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  p->shown = 0;
}
