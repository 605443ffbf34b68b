/*
 * fx_chk_segv.c - a metric that crashes in score: "behave:metric:*" fails,
 * the run goes on.
 */
#define FX_BUG_SEGV
#include "fx_chk_plugin.h"
