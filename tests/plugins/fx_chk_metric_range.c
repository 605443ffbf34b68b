/*
 * fx_chk_metric_range.c - a metric that scores 1.5: "behave:metric:*" fails.
 */
#define FX_BUG_METRIC_RANGE
#include "fx_chk_plugin.h"
