/*
 * fx_chk_missing_iface.c - declares an adapter it does not offer:
 * "iface:pc.adapter/1" fails.
 */
#define FX_BUG_MISSING_IFACE
#include "fx_chk_plugin.h"
