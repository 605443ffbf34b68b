/*
 * fx_chk_two_symbols.c - a metric that exports a helper besides its entry:
 * plugins check fails "symbols".
 */
#define FX_BUG_TWO_SYMBOLS
#include "fx_chk_plugin.h"

/* Leaked: exported by mistake (default visibility). */
PC_PLUGIN_EXPORT int fx_chk_leaked_helper(void);

PC_PLUGIN_EXPORT int fx_chk_leaked_helper(void)
{
  return 42;
}
