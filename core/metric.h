/*
 * metric.h - the host side of metrics: finding a metric by name among the
 * loaded plugins, creating it with its settings, and scoring one
 * prediction through it.
 */
#ifndef PC_METRIC_H
#define PC_METRIC_H

#include <json-c/json.h>

#include "errors.h"
#include "loader.h"

typedef struct pc_metric pc_metric;

/* What one score call returned. */
typedef struct pc_metric_result {
  double score;                   /* in [0, 1] */
  char *feedback;                 /* owned, or NULL */
  struct json_object *subscores;  /* owned object, or NULL */
} pc_metric_result;

/*
 * pc_metric_open - create the metric that `spec` names: an object
 * {"name": NAME, settings...} (config.h's form); the settings (all but
 * "name") go to the plugin's create. On success *out owns the metric
 * (pc_metric_close); it borrows `reg`. `spec` is only read (its members
 * are copied), so threads may open metrics from one spec at once.
 */
int pc_metric_open(const pc_registry *reg, const struct json_object *spec,
                   pc_metric **out, pc_error *err);

void pc_metric_close(pc_metric *m);  /* NULL is a no-op */

/* "exact_match:answer" style label for summaries (borrowed). */
const char *pc_metric_label(const pc_metric *m);
const char *pc_metric_plugin_id(const pc_metric *m);

/*
 * pc_metric_score - score `prediction` (the program's outputs) against
 * `example` (all the example's fields); `trace` may be NULL (evaluation
 * passes none, as DSPy). All borrowed. On success `out` holds the result
 * (pc_metric_result_clear). A metric that fails, gives no score or one
 * outside [0, 1] is an error naming the metric.
 */
int pc_metric_score(pc_metric *m, const struct json_object *example,
                    const struct json_object *prediction,
                    const struct json_object *trace, pc_metric_result *out,
                    pc_error *err);

void pc_metric_result_clear(pc_metric_result *r);

#endif
