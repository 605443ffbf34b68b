/*
 * fx_chk_opt_no_result.c - an optimizer that returns without set_result:
 * "behave:optimizer:*" fails.
 */
#define FX_OPTIMIZER
#include "fx_chk_plugin.h"
