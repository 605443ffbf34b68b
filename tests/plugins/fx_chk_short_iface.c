/*
 * fx_chk_short_iface.c - a metric table whose header size is below ABI
 * 1.0's: "iface:pc.metric/1" fails.
 */
#define FX_BUG_SHORT_IFACE
#include "fx_chk_plugin.h"
