/*
 * fx_chk_adapter_roundtrip.c - an adapter whose parse does not give back
 * what format wrote: "behave:adapter:*" fails.
 */
#define FX_ADAPTER
#include "fx_chk_plugin.h"
