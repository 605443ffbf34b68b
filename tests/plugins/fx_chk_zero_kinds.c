/*
 * fx_chk_zero_kinds.c - a plugin that declares no kind at all: "descriptor"
 * fails.
 */
#define FX_BUG_ZERO_KINDS
#include "fx_chk_plugin.h"
