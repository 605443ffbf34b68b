/*
 * fx_chk_bad_id.c - a metric whose descriptor id is not reverse-DNS:
 * "descriptor" fails.
 */
#define FX_BUG_BAD_ID
#include "fx_chk_plugin.h"
