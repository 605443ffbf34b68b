/*
 * fx_chk_hang.c - a metric whose score never returns: with --timeout 1,
 * "behave:metric:*" fails as timed out (the child is killed) and the
 * table is still printed.
 */
#define FX_BUG_HANG
#include "fx_chk_plugin.h"
