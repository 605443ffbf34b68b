/*
 * fx_chk_lax_create.c - a metric whose create accepts any config:
 * "create:metric:*" fails.
 */
#define FX_BUG_LAX_CREATE
#include "fx_chk_plugin.h"
