/*
 * metric_passage.h - metric-basic's retrieval metrics (metric_passage.c),
 * registered in metric_basic.c's table: passage_recall and passage_hit.
 */
#ifndef PC_METRIC_PASSAGE_H
#define PC_METRIC_PASSAGE_H

#include <stddef.h>

#include "promptc/plugin.h"

/* Record an error (the first one wins) as one line and return `code`
 * (metric_basic.c; every file of the plugin uses it). */
int pc__mb_error(pc_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* A sink's non-zero return `code` as the call's error: the code itself
 * when it is a PC_E_* code, else PC_E_INTERNAL, with "metric METRIC: the
 * WHAT sink failed" (metric_basic.c). Returns the code. */
int pc__mb_sink_failed(pc_error *err, int code, const char *metric,
                       const char *what);

/* Make an instance (any = 1: passage_hit, 0: passage_recall) from the
 * settings {"field"?: "passages", "gold_field"? (or "gold"):
 * "gold_titles"}. *inst is released with pc__mb_passage_destroy. `host`
 * and `js` are borrowed and must outlive the instance. */
int pc__mb_passage_create(const pc_host_api *host, const pc_json_api *js,
                          int any, const char *config, size_t len,
                          void **inst, pc_error *err);
void pc__mb_passage_destroy(void *inst);

/* pc_metric_iface.score for both metrics. */
int pc__mb_passage_score(void *inst, const char *example_json,
                         size_t example_len, const char *prediction_json,
                         size_t prediction_len, const char *trace_json,
                         size_t trace_len, const pc_metric_sink *out,
                         pc_error *err);

#endif
